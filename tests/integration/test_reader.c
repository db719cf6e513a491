/*
 * test_reader.c - a request whose replica was chosen before a write that
 * returned while the request ran.
 *
 * Run by t_replica.sh as "test_reader SCENARIO", which passes:
 *   RELAYCFG_CONF   the primary and its replicas (caught up, SQL running)
 *   PROJ            a project with the sentry:origins option
 *   NEW_ORIGINS     the value the write sets ("@@ write")
 * Output is TAP without numbers ("ok - ..."); a line "@@ <command>" asks
 * t_replica.sh to act, and it answers with a line on stdin once done:
 *   stop-sql, start-sql   replica 1 stops or starts applying
 *   write [REPLICA]       the option is set to NEW_ORIGINS with
 *                         relaycfgctl (then REPLICA, a label such as
 *                         "replica2", has applied it)
 *   lag REPLICA           REPLICA stops applying, and a write it lacks
 *                         is made on the primary
 *   kill-primary, restart-primary (which also lets every replica apply
 *                         again and catch up)
 *   kill REPLICA          REPLICA's server is killed (t_replica.sh starts
 *                         it again afterwards)
 *
 * Scenario "chosen-before-write":
 *
 * The request's first MariaDB read chooses the replica (store_reader).
 * Then the replica stops applying, and the write commits and tombstones
 * the project's options.  The same request then reads those options: it
 * finds the tombstone, so whatever it reads is written back over it with
 * the cas it read (cache_lease.c).  Read from the replica chosen before,
 * that would be the old value, for good; it must come from a server that
 * has applied the write.
 *
 * Scenario "primary-down" (two replicas): the request chose replica B
 * because A, the first it tries, lagged.  A write tombstones the options
 * and B applies it; A's rest ends, and the primary goes away.  Reading
 * the options (the tombstone) makes the request choose again, and with no
 * position to check, the first replica not resting would be read
 * unchecked: A, without the write, whose old value would be written back
 * for good.  The request must keep B, which it checked.
 *
 * Scenario "checked-down" (two replicas): as "primary-down", but B, the
 * replica the request checked, is killed with the primary, while A still
 * rests.  Reading the options, B fails under the query, and with the
 * primary down the only other server is A, which lagged: reading it
 * would write its old value back over the tombstone.  The read must fail
 * instead (the answer is then stale or pending), and nothing be cached.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "app.h"
#include "conf.h"
#include "db.h"
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

/*
 * A read no cache answers: the request chooses its reader.  Each scenario
 * reads its own absent project: the one before cached its miss.
 */
static void
first_read(struct store *st, int64_t absent)
{
	const struct model_project *p = NULL;

	(void)store_projects_by_ids(st, &absent, 1, &p);
}

/*
 * End the request, then check from memcached alone (a request of its
 * own) that it holds what the request wrote back.
 */
static void
end_and_check_cached(struct store *st, int64_t proj, const char *want)
{
	const char *got;

	store_request_end(st);
	st->mode = READ_CACHE_ONLY;
	got = origins(st, proj);
	ok(strcmp(got, want) == 0, "memcached holds what it wrote back: %s",
	    got);
	st->mode = READ_NORMAL;
	store_request_end(st);
}

/* A request whose replica was chosen before the write (see above). */
static void
chosen_before_write(struct store *st, int64_t proj, const char *want)
{
	const char *got;

	first_read(st, 987654321);
	ok(st->reader != NULL && st->reader != st->primary,
	    "the request's first read chose the replica (caught up)");
	harness("stop-sql");
	harness("write");
	got = origins(st, proj);
	ok(strcmp(got, want) == 0, "read after the write's tombstone, in the "
	    "same request: %s (the replica still has the old value)", got);
	end_and_check_cached(st, proj, want);
	harness("start-sql");
}

/* Ask the script for order with a replica's label as its argument. */
static void
harness_on(const char *order, struct db *db)
{
	char line[64];

	snprintf(line, sizeof(line), "%s %s", order, db_label(db));
	harness(line);
}

/*
 * What "primary-down" and "checked-down" start with: with two replicas,
 * the first this process tries (*lag) lags, so the request's first read
 * (of the absent project absent) chooses the other (*other), which then
 * applies a write to the options.  False when there are not two.
 */
static bool
chose_the_other(struct store *st, int64_t absent, struct db **lag,
    struct db **other)
{
	if (st->n_replicas != 2)
		return ok(0, "two replicas configured (%zu)", st->n_replicas);
	*lag = st->replicas[st->first];
	*other = st->replicas[(st->first + 1) % st->n_replicas];
	harness_on("lag", *lag);
	first_read(st, absent);
	ok(st->reader == *other, "the first read chose %s (%s lags): %s",
	    db_label(*other), db_label(*lag),
	    st->reader != NULL ? db_label(st->reader) : "none");
	harness_on("write", *other);
	return true;
}

/* The second choice with the primary down (see above). */
static void
primary_down(struct store *st, const struct conf *conf, int64_t proj,
    const char *want)
{
	struct db *lag, *other;
	const char *got;

	if (!chose_the_other(st, 987654322, &lag, &other))
		return;
	/* The lagging replica's rest ends: it is eligible again. */
	usleep((conf->db_replica_rest_ms + 300) * 1000);
	harness("kill-primary");
	got = origins(st, proj);
	ok(strcmp(got, want) == 0, "primary down, read after the write's "
	    "tombstone: %s, read from %s (checked: %s; lagging: %s)", got,
	    st->reader != NULL ? db_label(st->reader) : "none",
	    db_label(other), db_label(lag));
	end_and_check_cached(st, proj, want);
	harness("restart-primary");
}

/* The checked replica and the primary down together (see above). */
static void
checked_down(struct store *st, int64_t proj)
{
	struct db *lag, *other;
	const char *got;

	if (!chose_the_other(st, 987654323, &lag, &other))
		return;
	harness("kill-primary");
	harness_on("kill", other);
	got = origins(st, proj);
	ok(strcmp(got, "") == 0 && st->reader != lag, "%s and the primary "
	    "down: the read fails rather than read %s, which lags (read: "
	    "\"%s\")", db_label(other), db_label(lag), got);
	end_and_check_cached(st, proj, "");
	harness("restart-primary");
}

int
main(int argc, char **argv)
{
	const char *want = getenv("NEW_ORIGINS");
	int64_t proj = strtoll(getenv("PROJ"), NULL, 10);
	struct conf *conf;
	struct store *st;
	char err[512];

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_setup(LOG_LEVEL_WARN, false);
	if (argc != 2) {
		fprintf(stderr, "usage: test_reader chosen-before-write | "
		    "primary-down | checked-down\n");
		return 2;
	}
	if ((conf = conf_load(getenv("RELAYCFG_CONF"), err, sizeof(err))) ==
	    NULL || app_global_init() != 0 ||
	    (st = store_open(conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "test_reader: %s\n", err);
		return 1;
	}
	if (strcmp(argv[1], "primary-down") == 0)
		primary_down(st, conf, proj, want);
	else if (strcmp(argv[1], "checked-down") == 0)
		checked_down(st, proj);
	else if (strcmp(argv[1], "chosen-before-write") == 0)
		chosen_before_write(st, proj, want);
	else
		ok(0, "a scenario named %s", argv[1]);

	store_close(st);
	conf_free(conf);
	app_global_fini();
	return itest_failures == 0 ? 0 : 1;
}
