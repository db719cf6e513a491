/*
 * router.h - REQUEST_URI path + method to an endpoint.
 */
#ifndef RELAYCFG_ROUTER_H
#define RELAYCFG_ROUTER_H

#include <stdbool.h>

#include "app.h"
#include "http.h"

/* An endpoint answers the request itself; it never fails the worker. */
typedef void (*endpoint_fn)(struct request *req, struct app *app);

struct route {
	const char	*path;		/* exact, with trailing slash */
	const char	*method;	/* "GET" or "POST" */
	const char	*allow;		/* Allow header value for 405 */
	endpoint_fn	 fn;
};

/* routes.c: the table, terminated by a NULL path. */
extern const struct route router_routes[];

/*
 * router_find - the route for path, or NULL.  A missing trailing slash is
 * tolerated ("/api/0/relays/live" finds "/api/0/relays/live/").
 */
const struct route *router_find(const struct route *table, const char *path);

/*
 * router_dispatch - answer req: 404 for an unknown path, 405 (with Allow)
 * for a wrong method, 415 for a non-identity Content-Encoding, 413/400 for
 * a body over the limit or short; otherwise the endpoint runs with the
 * body read.
 */
void	router_dispatch(struct request *req, struct app *app);

/*
 * router_metric_labels - the endpoint label (enum metric_endpoint) of a
 * request path, by the route router_find gives it, and its version label
 * (enum metric_version): projectconfigs' ?version= as the endpoint reads
 * it (missing or empty: 1), "none" for the other endpoints.  Never
 * allocates.
 */
void	router_metric_labels(const char *path, const char *query,
	    unsigned *endpoint, unsigned *version);

#endif
