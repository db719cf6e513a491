/*
 * app.h - what a worker holds for its whole life: the configuration and
 * its own connections (opened after fork, never shared with the master).
 */
#ifndef RELAYCFG_APP_H
#define RELAYCFG_APP_H

#include "conf.h"

struct store;

struct app {
	const struct conf	*conf;
	struct store		*store;	/* MariaDB + memcached, per worker */
};

/*
 * app_global_init - process-wide library set-up, once, before any fork.
 * Returns 0, or -1 when a library refuses to start.
 */
int	app_global_init(void);

/* app_global_fini - undo app_global_init at exit. */
void	app_global_fini(void);

/*
 * app_worker_init - set up a worker's app after fork.  Connections that
 * cannot be made now are retried lazily by the store, so this fails only
 * on OOM: returns 0, or -1 with app untouched.
 */
int	app_worker_init(struct app *app, const struct conf *conf);

/* app_worker_fini - close what app_worker_init opened. */
void	app_worker_fini(struct app *app);

/*
 * app_request_end - drop per-request state (the store's local cache) after
 * each request, whatever the answer was.
 */
void	app_request_end(struct app *app);

#endif
