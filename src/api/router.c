/*
 * router.c - dispatch on the path of REQUEST_URI and the method.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "metrics.h"
#include "router.h"

/* Route paths to their endpoint label; any other route is "other". */
static const struct {
	const char	*path;
	unsigned	 label;
} metric_routes[] = {
	{ "/api/0/relays/live/", ME_LIVE },
	{ "/api/0/relays/projectconfigs/", ME_PROJECTCONFIGS },
	{ "/api/0/relays/register/challenge/", ME_REGISTER_CHALLENGE },
	{ "/api/0/relays/register/response/", ME_REGISTER_RESPONSE },
	{ "/api/0/relays/publickeys/", ME_PUBLICKEYS },
	{ "/metrics", ME_METRICS },
};

const struct route *
router_find(const struct route *table, const char *path)
{
	size_t plen = strlen(path);

	for (const struct route *r = table; r->path != NULL; r++) {
		size_t rlen = strlen(r->path);

		if (strcmp(r->path, path) == 0)
			return r;
		if (plen + 1 == rlen && r->path[rlen - 1] == '/' &&
		    strncmp(r->path, path, plen) == 0)
			return r;
	}
	return NULL;
}

static bool
method_allowed(const struct route *r, const char *method)
{
	if (strcmp(r->method, method) == 0)
		return true;
	/* HEAD is GET without a body; the web server drops the body. */
	return strcmp(r->method, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

void
router_dispatch(struct request *req, struct app *app)
{
	const struct route *r;
	char allow[64];

	if ((r = router_find(router_routes, req->path)) == NULL) {
		http_reply_error(req, 404, "Not found", NULL);
		return;
	}
	if (!method_allowed(r, req->method)) {
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", r->allow);
		http_reply_error(req, 405, "Method not allowed", allow);
		return;
	}
	/*
	 * Relay signs and sends bodies uncompressed; a compressed body could
	 * not be verified against its signature anyway.
	 */
	if (req->content_encoding[0] != '\0' &&
	    strcasecmp(req->content_encoding, "identity") != 0) {
		http_reply_error(req, 415, "Unsupported Content-Encoding",
		    NULL);
		return;
	}
	if (http_read_body(req, app->conf->max_body_size) != 0)
		return;
	r->fn(req, app);
}

void
router_metric_labels(const char *path, const char *query, unsigned *endpoint,
    unsigned *version)
{
	const struct route *r = router_find(router_routes, path);
	char v[8];
	int n;

	*endpoint = ME_OTHER;
	*version = MV_NONE;
	for (size_t i = 0; r != NULL &&
	    i < sizeof(metric_routes) / sizeof(metric_routes[0]); i++)
		if (strcmp(r->path, metric_routes[i].path) == 0)
			*endpoint = metric_routes[i].label;
	if (*endpoint != ME_PROJECTCONFIGS)
		return;
	/* as ep_projectconfigs reads it: missing or empty is version 1 */
	n = http_query_param(query, "version", v, sizeof(v));
	if (n <= 0 && n != -2)
		*version = MV_1;
	else if (n == 1 && v[0] >= '1' && v[0] <= '3')
		*version = MV_1 + (unsigned)(v[0] - '1');
	else
		*version = MV_OTHER;
}
