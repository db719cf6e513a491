/*
 * test_reader.c - a request whose replica was chosen before a write that
 * returned while the request ran.
 *
 * Run by t_replica.sh, which passes:
 *   RELAYCFG_CONF   the primary and replica 1 (caught up, SQL running)
 *   PROJ            a project with the sentry:origins option
 *   NEW_ORIGINS     the value the write sets ("@@ write")
 * Output is TAP without numbers ("ok - ..."); a line "@@ <command>" asks
 * t_replica.sh to act (stop-sql: replica 1 stops applying; write: the
 * option is set to NEW_ORIGINS with relaycfgctl; start-sql), and it
 * answers with a line on stdin once done.
 *
 * The request's first MariaDB read chooses the replica (store_reader).
 * Then the replica stops applying, and the write commits and tombstones
 * the project's options.  The same request then reads those options: it
 * finds the tombstone, so whatever it reads is written back over it with
 * the cas it read (cache_lease.c).  Read from the replica chosen before,
 * that would be the old value, for good; it must come from a server that
 * has applied the write.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "conf.h"
#include "itest.h"
#include "log.h"
#include "store.h"
#include "store_int.h"

/* The project's sentry:origins as this request reads them, as JSON text
 * ("" when unknown); points into the store's objects. */
static const char *
origins(struct store *st, int64_t proj)
{
	json_object *opts = NULL, *v;

	if (store_project_options(st, &proj, 1, &opts) != STORE_OK ||
	    opts == NULL ||
	    !json_object_object_get_ex(opts, "sentry:origins", &v))
		return "";
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

int
main(void)
{
	const char *want = getenv("NEW_ORIGINS");
	int64_t proj = strtoll(getenv("PROJ"), NULL, 10), absent = 987654321;
	const struct model_project *p = NULL;
	struct conf *conf;
	struct store *st;
	char err[512];
	const char *got;

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_setup(LOG_LEVEL_WARN, false);
	if ((conf = conf_load(getenv("RELAYCFG_CONF"), err, sizeof(err))) ==
	    NULL || app_global_init() != 0 ||
	    (st = store_open(conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "test_reader: %s\n", err);
		return 1;
	}

	/* A read no cache answers: the request chooses its reader. */
	(void)store_projects_by_ids(st, &absent, 1, &p);
	ok(st->reader != NULL && st->reader != st->primary,
	    "the request's first read chose the replica (caught up)");
	harness("stop-sql");
	harness("write");
	got = origins(st, proj);
	ok(strcmp(got, want) == 0, "read after the write's tombstone, in the "
	    "same request: %s (the replica still has the old value)", got);
	store_request_end(st);
	/* What it wrote back, from memcached alone. */
	st->mode = READ_CACHE_ONLY;
	got = origins(st, proj);
	ok(strcmp(got, want) == 0, "memcached holds what it wrote back: %s",
	    got);
	st->mode = READ_NORMAL;
	store_request_end(st);
	harness("start-sql");

	store_close(st);
	conf_free(conf);
	app_global_fini();
	return itest_failures == 0 ? 0 : 1;
}
