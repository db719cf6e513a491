/*
 * app.c - per-worker state.
 */
#include "config.h"

#include <string.h>

#include "app.h"

int
app_global_init(void)
{
	return 0;
}

void
app_global_fini(void)
{
}

int
app_worker_init(struct app *app, const struct conf *conf)
{
	memset(app, 0, sizeof(*app));
	app->conf = conf;
	return 0;
}

void
app_worker_fini(struct app *app)
{
	memset(app, 0, sizeof(*app));
}

void
app_request_end(struct app *app)
{
	(void)app;
}
