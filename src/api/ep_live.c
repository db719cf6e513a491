/*
 * ep_live.c - GET /api/0/relays/live/: the health check, no auth.
 */
#include "config.h"

#include "endpoints.h"

void
ep_live(struct request *req, struct app *app)
{
	static const char body[] = "{\"is_healthy\":true}";

	(void)app;
	http_reply_json(req, 200, body, sizeof(body) - 1);
}
