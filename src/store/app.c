/*
 * app.c - per-worker state: the store (MariaDB + memcached).
 */
#include "config.h"

#include <string.h>

#include <mysql.h>
#include <sodium.h>

#include "app.h"
#include "log.h"
#include "store.h"

/*
 * Connector/C's global state must be set up before any thread or fork;
 * libsodium picks its implementations and opens its randomness source.
 */
int
app_global_init(void)
{
	if (sodium_init() < 0)
		return -1;
	if (mysql_library_init(0, NULL, NULL) != 0)
		return -1;
	return 0;
}

void
app_global_fini(void)
{
	mysql_library_end();
}

/*
 * The store tries MariaDB once now, so relaycfg_mariadb_up is true from
 * the start, and otherwise connects lazily: a worker must start (and
 * answer /live) while MariaDB or memcached are down.
 */
int
app_worker_init(struct app *app, const struct conf *conf)
{
	char err[256];
	struct store *st;

	if ((st = store_open(conf, err, sizeof(err))) == NULL) {
		log_err("store: %s", err);
		return -1;
	}
	memset(app, 0, sizeof(*app));
	app->conf = conf;
	app->store = st;
	store_connect(st);
	return 0;
}

void
app_worker_fini(struct app *app)
{
	store_close(app->store);
	memset(app, 0, sizeof(*app));
}

void
app_request_end(struct app *app)
{
	store_request_end(app->store);
}
