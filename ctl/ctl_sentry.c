/*
 * ctl_sentry.c - relaycfgctl sentry-sync: make relaycfg's MariaDB equal
 * to a running Sentry's PostgreSQL, once or continuously.
 *
 * One round:
 *   1. (--watch only) per-table digests from Sentry, one query; when none
 *      moved since the last round that compared everything, and that
 *      round is less than VERIFY_EVERY old, the round ends here: nothing
 *      is read from MariaDB and nothing is written.
 *   2. Sentry's rows from one REPEATABLE READ snapshot (ctl_sentry_pg.c);
 *      rows relaycfg cannot take (a pickled option value, a DSN key that
 *      is not 32 hex, a threshold relaycfgctl threshold would refuse, a
 *      row whose parent is missing) are reported and
 *      their relaycfg copies left as they are.
 *      A watch takes the digests again in that snapshot: those vouch
 *      for the rows read, whatever moved since step 1.
 *   3. The sync lock of relaycfg's database (GET_LOCK): two syncs never
 *      interleave, on one host or several.  A sync that committed
 *      before and did not delete all its cache entries left a row
 *      saying so: every cache entry is dropped (store_mirror_recover).
 *   4. relaycfg's rows, the plan (mirror.h), the deletion guard.
 *   5. The plan in one transaction, then exactly the cache entries of
 *      the changed rows (store_mirror.h).  --dry-run prints it instead.
 * Sentry is only read: the session is read only, and nothing here
 * issues a write to it.
 *
 * Exit status: 0 done (changes or not), 1 failed (a configuration
 * error included), 2 usage, 3 the deletion guard stopped the sync
 * (nothing written).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "app.h"
#include "conf.h"
#include "ctl.h"
#include "ctl_relay.h"
#include "ctl_sentry.h"
#include "log.h"
#include "store.h"
#include "store_mirror.h"

/* A watch compares everything at least this often (s), digests or not:
 * it repairs rows changed in relaycfg's database behind the sync. */
#define VERIFY_EVERY	3600
/* After a notification, wait this long (ms) for the rest of Sentry's
 * transaction burst (a project and its keys and options) to land. */
#define NOTIFY_SETTLE_MS 200

#define EXIT_GUARD	3

static const char cmd[] = "sentry-sync";

struct sync {
	struct conf		*conf;
	struct store		*st;
	struct sentry_pg	*pg;
	const char		*conninfo;
	bool			 json, dry_run, force;
	long			 watch;		/* s; 0: once */
	bool			 listening;
	bool			 have_digests;
	char			 digests[MT_COUNT][SENTRY_PG_DIGEST_LEN];
	double			 last_full;	/* monotonic s */
	unsigned long		 refused;	/* this round */
};

enum round_rc {
	ROUND_DONE,		/* applied, or nothing to do */
	ROUND_FAILED,
	ROUND_GUARDED,
	ROUND_BUSY		/* another sync holds the lock */
};

static volatile sig_atomic_t stop_requested;

/* on_stop - SIGTERM, SIGINT: finish the round, then exit 0; a statement
 * Sentry has not answered yet is given up (sentry_pg_connect), since
 * nothing is written before Sentry's rows are read. */
static void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A Sentry row relaycfg cannot take: said once per round, on stderr. */
static void
report_refused(const char *why, void *arg)
{
	struct sync *s = arg;

	s->refused++;
	fprintf(stderr, "relaycfgctl: %s: skipped %s; relaycfg's row is "
	    "left as it was\n", cmd, why);
}

/* now_seconds - CLOCK_MONOTONIC in seconds. */
static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Connect to Sentry when not connected (and LISTEN in a watch). */
static int
pg_ensure(struct sync *s)
{
	char err[512];

	if (s->pg != NULL)
		return 0;
	s->pg = sentry_pg_connect(s->conninfo, s->conf->sentry_pg_password,
	    (long)s->conf->sentry_pg_timeout, &stop_requested, err,
	    sizeof(err));
	if (s->pg == NULL) {
		ctl_warn(cmd, "%s", err);
		return -1;
	}
	s->listening = false;
	if (s->watch > 0) {
		if (sentry_pg_listen(s->pg, err, sizeof(err)) == 0)
			s->listening = true;
		else
			fprintf(stderr, "relaycfgctl: %s: no LISTEN (%s); "
			    "polling every %ld s\n", cmd, err, s->watch);
	}
	return 0;
}

/* pg_drop - forget Sentry's connection (reconnect next round) and the
 * digests that vouched for it. */
static void
pg_drop(struct sync *s)
{
	sentry_pg_close(s->pg);
	s->pg = NULL;
	s->have_digests = false;
}

/* The changed column names of an update, "a,b", into buf. */
static void
changed_columns(const struct mirror_table *t, const struct mirror_rows *want,
    const struct mirror_change *ch, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t c = t->nkey; c < t->ncols && off < len; c++) {
		const char *a = ch->want->v[c], *b = ch->have->v[c];
		int w;

		if (want->absent[c] || (a == NULL && b == NULL) ||
		    (a != NULL && b != NULL && strcmp(a, b) == 0))
			continue;
		w = snprintf(buf + off, len - off, "%s%s", off > 0 ? "," : "",
		    t->cols[c].name);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/*
 * One change as a JSON object: op, table, key and the changed columns
 * (cols, comma-separated; consumed).  NULL on OOM, nothing left over.
 */
static json_object *
change_json(const char *op, const char *table, const char *key, char *cols)
{
	json_object *one = json_object_new_object();
	json_object *jcols = json_object_new_array();
	char *col, *save;
	bool ok = one != NULL && jcols != NULL;

	for (col = strtok_r(cols, ",", &save); ok && col != NULL;
	    col = strtok_r(NULL, ",", &save))
		ok = json_object_array_add(jcols,
		    json_object_new_string(col)) == 0;
	ok = ok && json_object_object_add(one, "op",
	    json_object_new_string(op)) == 0 &&
	    json_object_object_add(one, "table",
	    json_object_new_string(table)) == 0 &&
	    json_object_object_add(one, "key",
	    json_object_new_string(key)) == 0;
	if (ok && json_object_object_add(one, "columns", jcols) == 0)
		return one;
	json_object_put(jcols);
	json_object_put(one);
	return NULL;
}

/*
 * --dry-run: each change, one line on stdout, or (json) one object of
 * the array put in *changes (NULL without json): stdout then holds only
 * the summary's object, with the array in it, for scripts.  0, or -1 on
 * OOM with *changes NULL.
 */
static int
print_plan(const struct sync *s, const struct mirror_plan *plan,
    const struct mirror_rows *want, json_object **changes)
{
	static const char *const verbs[] = { "create", "update", "delete" };
	json_object *arr = NULL;

	*changes = NULL;
	if (s->json && (arr = json_object_new_array()) == NULL)
		return -1;
	for (int t = 0; t < MT_COUNT; t++) {
		const struct mirror_table *mt = mirror_table(t);

		for (size_t i = 0; i < plan->t[t].n; i++) {
			const struct mirror_change *ch = &plan->t[t].ch[i];
			const struct mirror_row *row = ch->want != NULL ?
			    ch->want : ch->have;
			char key[MIRROR_KEY_TEXT_LEN], cols[512] = "", *jkey;
			json_object *one = NULL;

			if (ch->op == MO_UPDATE)
				changed_columns(mt, &want[t], ch, cols,
				    sizeof(cols));
			if (!s->json) {
				/* Escaped for the terminal, uncut. */
				mirror_key_text(mt, (const char *const *)row->v,
				    key, sizeof(key));
				printf("%s %s %s%s%s\n", verbs[ch->op],
				    mt->name, key, cols[0] != '\0' ? ": " : "",
				    cols);
				continue;
			}
			/* The key as it is: json-c escapes what it must. */
			jkey = mirror_key_string(mt,
			    (const char *const *)row->v);
			if (jkey == NULL || (one = change_json(verbs[ch->op],
			    mt->name, jkey, cols)) == NULL ||
			    json_object_array_add(arr, one) != 0) {
				free(jkey);
				json_object_put(one);
				json_object_put(arr);
				return -1;
			}
			free(jkey);
		}
	}
	*changes = arr;
	return 0;
}

/* What the deletion guard refused: the table, its deletes and rows. */
struct guarded {
	const char	*table;
	size_t		 deleted, had;
	unsigned	 max_percent;
};

/*
 * Add v to o under key (v is taken either way); on any failure, now or
 * before (o NULL, *ok false), *ok turns false and v is dropped.
 */
static void
jadd(json_object *o, const char *key, json_object *v, bool *ok)
{
	if (!*ok || o == NULL || v == NULL ||
	    json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		*ok = false;
	}
}

/* The counts of one table's changes, or NULL on OOM. */
static json_object *
table_counts(const struct mirror_tplan *tp)
{
	json_object *one = json_object_new_object();
	bool ok = true;

	jadd(one, "created",
	    json_object_new_int64((int64_t)tp->count[MO_INSERT]), &ok);
	jadd(one, "updated",
	    json_object_new_int64((int64_t)tp->count[MO_UPDATE]), &ok);
	jadd(one, "deleted",
	    json_object_new_int64((int64_t)tp->count[MO_DELETE]), &ok);
	if (ok)
		return one;
	json_object_put(one);
	return NULL;
}

/* What the deletion guard refused, as JSON, or NULL on OOM. */
static json_object *
guard_json(const struct guarded *guard)
{
	json_object *gj = json_object_new_object();
	bool ok = true;

	jadd(gj, "table", json_object_new_string(guard->table), &ok);
	jadd(gj, "deletes", json_object_new_int64((int64_t)guard->deleted),
	    &ok);
	jadd(gj, "rows", json_object_new_int64((int64_t)guard->had), &ok);
	jadd(gj, "max_delete_percent",
	    json_object_new_int64((int64_t)guard->max_percent), &ok);
	if (ok)
		return gj;
	json_object_put(gj);
	return NULL;
}

/*
 * The summary: one line, or one JSON object, with "changes" (taken; a
 * dry run's, from print_plan) when not NULL and "deletion_guard" when
 * the guard stopped the sync (guard not NULL).  0, or -1 after saying
 * "out of memory" (JSON: nothing printed).
 */
static int
print_summary(const struct sync *s, const struct mirror_plan *plan,
    json_object *changes, const struct guarded *guard, unsigned long writes,
    unsigned long deletes, double secs)
{
	char line[2048];

	if (s->json) {
		json_object *o = json_object_new_object();
		json_object *tables = json_object_new_object();
		bool ok = tables != NULL;

		for (int t = 0; t < MT_COUNT && ok; t++)
			jadd(tables, mirror_table(t)->name,
			    table_counts(&plan->t[t]), &ok);
		jadd(o, "dry_run", json_object_new_boolean(s->dry_run), &ok);
		jadd(o, "changed",
		    json_object_new_boolean(!mirror_plan_empty(plan)), &ok);
		if (ok && o != NULL &&
		    json_object_object_add(o, "tables", tables) == 0)
			tables = NULL;
		else
			ok = false;
		jadd(o, "skipped", json_object_new_int64((int64_t)s->refused),
		    &ok);
		jadd(o, "sql_writes", json_object_new_int64((int64_t)writes),
		    &ok);
		jadd(o, "cache_deletes",
		    json_object_new_int64((int64_t)deletes), &ok);
		jadd(o, "seconds", json_object_new_double(secs), &ok);
		if (guard != NULL)
			jadd(o, "deletion_guard", guard_json(guard), &ok);
		if (changes != NULL)
			jadd(o, "changes", changes, &ok);
		if (ok)
			puts(json_object_to_json_string_ext(o,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(tables);
		json_object_put(o);
		if (!ok) {
			ctl_warn(cmd, "%s", "out of memory");
			return -1;
		}
	} else {
		mirror_plan_summary(plan, line, sizeof(line));
		printf("%s%s: %s; %lu SQL writes, %lu cache deletes, %lu rows "
		    "skipped, %.3f s%s\n", cmd, s->dry_run ? " (dry run)" : "",
		    line, writes, deletes, s->refused, secs, guard != NULL ?
		    "; stopped by the deletion guard" : "");
	}
	fflush(stdout);
	return 0;
}

/* Step 1: have the digests moved?  false also when they cannot be read
 * (the full read will say why, unless the connection is lost: then err
 * says why); *ok says whether now holds them. */
static bool
digests_unchanged(struct sync *s, char now[MT_COUNT][SENTRY_PG_DIGEST_LEN],
    bool *ok, char *err, size_t errlen)
{
	*ok = sentry_pg_digests(s->pg, now, err, errlen) == 0;
	if (!*ok)
		return false;
	if (!s->have_digests || now_seconds() - s->last_full >= VERIFY_EVERY)
		return false;
	return memcmp(now, s->digests, sizeof(s->digests)) == 0;
}

/*
 * Under the lock: a sync before this one committed and may not have
 * deleted all its cache entries (killed in between, memcached away):
 * its changes are in relaycfg's rows, so this plan cannot name them;
 * every cache entry is dropped instead, said on stderr.  0, or -1 said.
 */
static int
recover(struct sync *s)
{
	bool dropped;

	if (store_mirror_recover(s->st, &dropped) != STORE_OK) {
		ctl_warn(cmd, "MariaDB: %s", store_last_error(s->st));
		return -1;
	}
	if (dropped)
		fprintf(stderr, "relaycfgctl: %s: a sync before this one "
		    "committed but did not delete all its cache entries "
		    "(stopped, or memcached away): %s\n", cmd,
		    store_cache_stale(s->st) ? "memcached could not be "
		    "reached to drop them; the next sync tries again" :
		    "every cache entry was dropped");
	return 0;
}

/* Steps 3-5 with want read: lock, plan, guard, apply or print. */
static enum round_rc
round_apply(struct sync *s, struct mirror_rows *want, double t0)
{
	struct mirror_rows have[MT_COUNT];
	struct mirror_plan plan;
	struct store_stats before, after;
	struct guarded guard;
	json_object *changes = NULL;
	unsigned long writes = 0;
	enum round_rc rc = ROUND_FAILED;
	size_t deleted, had;
	bool got = false;
	int t, g;

	memset(&plan, 0, sizeof(plan));
	for (t = 0; t < MT_COUNT; t++)
		mirror_rows_init(&have[t], mirror_table(t));
	if (store_mirror_lock(s->st, &got) != STORE_OK) {
		ctl_warn(cmd, "MariaDB: %s", store_last_error(s->st));
		goto out;
	}
	if (!got) {
		ctl_warn(cmd, "%s", "another sentry-sync holds this database's "
		    "lock; try again later");
		rc = ROUND_BUSY;
		goto out;
	}
	if (!s->dry_run && recover(s) != 0)
		goto out;
	for (t = 0; t < MT_COUNT; t++)
		if (store_mirror_read(s->st, t, &have[t]) != STORE_OK) {
			ctl_warn(cmd, "MariaDB: %s", store_last_error(s->st));
			goto out;
		}
	if (mirror_plan_build(&plan, want, have,
	    !s->conf->sentry_sync_delete_relays) != 0) {
		ctl_warn(cmd, "%s", "out of memory");
		goto out;
	}
	g = mirror_plan_guard(&plan, s->conf->sentry_sync_max_delete,
	    &deleted, &had);
	if (g >= 0 && !s->force) {
		fprintf(stderr, "relaycfgctl: %s: refusing to delete %zu of "
		    "%zu %s (more than sentry_sync_max_delete = %u%%): is "
		    "this the right Sentry database?  Nothing was written; "
		    "--dry-run shows the changes, --force applies them\n",
		    cmd, deleted, had, mirror_table(g)->what,
		    s->conf->sentry_sync_max_delete);
		rc = ROUND_GUARDED;
		/* A dry run shows the changes refused and the summary; --json
		 * prints its one object either way (stdout stays one
		 * document), with the refusal in it. */
		guard.table = mirror_table(g)->name;
		guard.deleted = deleted;
		guard.had = had;
		guard.max_percent = s->conf->sentry_sync_max_delete;
		if (s->dry_run && print_plan(s, &plan, want, &changes) != 0) {
			ctl_warn(cmd, "%s", "out of memory");
			rc = ROUND_FAILED;
			goto out;
		}
		if ((s->dry_run || s->json) && print_summary(s, &plan,
		    changes, &guard, 0, 0, now_seconds() - t0) != 0)
			rc = ROUND_FAILED;
		goto out;
	}
	if (s->dry_run) {
		if (print_plan(s, &plan, want, &changes) != 0) {
			ctl_warn(cmd, "%s", "out of memory");
			goto out;
		}
		if (print_summary(s, &plan, changes, NULL, 0, 0,
		    now_seconds() - t0) == 0)
			rc = ROUND_DONE;
		goto out;
	}
	store_get_stats(s->st, &before);
	if ((g = store_mirror_apply(s->st, &plan, want, have, &writes)) !=
	    STORE_OK) {
		/* A COMMIT that got no answer may have landed. */
		ctl_warn(cmd, "MariaDB: %s; %s", store_last_error(s->st),
		    g == STORE_UNAVAILABLE ? "the changes may or may not be "
		    "in; the next sync compares again" : "nothing was changed");
		goto out;
	}
	store_get_stats(s->st, &after);
	if (store_cache_stale(s->st))
		fprintf(stderr, "relaycfgctl: %s: warning: memcached could not "
		    "be reached: the next sync drops every cache entry\n",
		    cmd);
	/* Applied: a summary that could not be printed fails the round
	 * (a script reading --json gets no object), said as such. */
	if (print_summary(s, &plan, NULL, NULL, writes, after.cache_deletes -
	    before.cache_deletes, now_seconds() - t0) == 0)
		rc = ROUND_DONE;
	else
		ctl_warn(cmd, "%s", "the changes were applied");
out:
	if (got)
		store_mirror_unlock(s->st);
	mirror_plan_free(&plan);
	for (t = 0; t < MT_COUNT; t++)
		mirror_rows_free(&have[t]);
	store_request_end(s->st);
	return rc;
}

/* One round (see the top of the file). */
static enum round_rc
sync_round(struct sync *s)
{
	struct mirror_rows want[MT_COUNT];
	char digests[MT_COUNT][SENTRY_PG_DIGEST_LEN], err[512];
	double t0 = now_seconds();
	enum round_rc rc;
	bool digests_ok = false;

	if (pg_ensure(s) != 0)
		return ROUND_FAILED;
	if (s->watch > 0 && digests_unchanged(s, digests, &digests_ok, err,
	    sizeof(err)))
		return ROUND_DONE;
	if (s->watch > 0 && !digests_ok && sentry_pg_lost(s->pg)) {
		/* Unanswered, or ended by the server: the full read could
		 * not even be sent, and its error would hide this one. */
		ctl_warn(cmd, "%s", err);
		pg_drop(s);
		return ROUND_FAILED;
	}
	s->refused = 0;
	/* A watch keeps the digests of the rows it read, not of the rows
	 * before: Sentry may have moved in between. */
	if (sentry_pg_read(s->pg, want, s->watch > 0 ? digests : NULL,
	    report_refused, s, err, sizeof(err)) != 0) {
		ctl_warn(cmd, "%s", err);
		pg_drop(s);
		return ROUND_FAILED;
	}
	digests_ok = s->watch > 0;
	rc = round_apply(s, want, t0);
	for (int t = 0; t < MT_COUNT; t++)
		mirror_rows_free(&want[t]);
	/* Only a round that compared everything vouches for the digests,
	 * and only when its cache deletes went out: the next round must
	 * reach store_mirror_recover otherwise. */
	s->have_digests = rc == ROUND_DONE && digests_ok &&
	    !store_cache_stale(s->st);
	if (s->have_digests) {
		memcpy(s->digests, digests, sizeof(s->digests));
		s->last_full = now_seconds();
	}
	return rc;
}

/* Between rounds: the interval, cut short by a notification. */
static void
watch_wait(struct sync *s)
{
	double end = now_seconds() + (double)s->watch;

	while (!stop_requested) {
		double left = end - now_seconds();

		if (left <= 0)
			return;
		if (s->pg != NULL && s->listening) {
			int r = sentry_pg_wait(s->pg, (long)(left * 1000));

			if (r == 1) {
				/* Let the rest of the burst land, then go
				 * (its notifications are read with it). */
				struct timespec settle = { 0,
				    NOTIFY_SETTLE_MS * 1000000L };

				(void)nanosleep(&settle, NULL);
				if (sentry_pg_wait(s->pg, 0) < 0)
					pg_drop(s);
				return;
			}
			if (r < 0)
				pg_drop(s);
			continue;
		}
		/* a stop signal ends this sleep (see sentry_pg_poll) */
		(void)sentry_pg_poll(NULL, 0, left > 1 ? 1000 :
		    (long)(left * 1000) + 1);
	}
}

/* usage - the command's synopsis and options, as relaycfgctl(1). */
static void
usage(FILE *fp)
{
	fputs("usage: relaycfgctl [-c FILE] [--json] sentry-sync "
	    "[--pg CONNINFO] [--dry-run]\n"
	    "           [--force] [--watch SECONDS] [--json]\n"
	    "\n"
	    "Make relaycfg's MariaDB equal to a Sentry's PostgreSQL (only read):\n"
	    "organizations, templates, projects, keys, options, thresholds,\n"
	    "relays; then delete exactly the changed rows' cache entries.\n"
	    "\n"
	    "  --pg CONNINFO         Sentry's database, a libpq connection string\n"
	    "                        (default: sentry_pg of the config file); no\n"
	    "                        password in it: sentry_pg_password or\n"
	    "                        ~/.pgpass\n"
	    "  --dry-run             print each change and the summary; write\n"
	    "                        nothing\n"
	    "  --force               apply deletions past the deletion guard\n"
	    "                        (sentry_sync_max_delete)\n"
	    "  --watch SECONDS       repeat every SECONDS until SIGTERM or SIGINT\n"
	    "  --json                the summary as one JSON object (also before\n"
	    "                        the command)\n"
	    "\n"
	    "Exit status: 0 done, 1 failed, 2 usage, 3 stopped by the deletion\n"
	    "guard (nothing written).\n", fp);
}

/* ctl_sentry_main - see ctl.h. */
int
ctl_sentry_main(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "pg",		required_argument, NULL, 'p' },
		{ "watch",	required_argument, NULL, 'w' },
		{ "dry-run",	no_argument,	   NULL, 'n' },
		{ "force",	no_argument,	   NULL, 'f' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct sync s;
	struct sigaction sa;
	sigset_t stopsigs, oldmask;
	char err[512], *end;
	const char *pg_arg = NULL;
	enum round_rc rc;
	int ch, status = 1;

	memset(&s, 0, sizeof(s));
	s.json = o->json;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': pg_arg = optarg; break;
		case 'n': s.dry_run = true; break;
		case 'f': s.force = true; break;
		case 'j': s.json = true; break;
		case 'h': usage(stdout); return 0;
		case 'w':
			errno = 0;
			s.watch = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || s.watch < 1 ||
			    s.watch > 86400) {
				ctl_warn(cmd, "%s", "--watch takes 1 to 86400 "
				    "seconds");
				return 2;
			}
			break;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* libpq would take any other text as a database name. */
	if (pg_arg != NULL &&
	    sentry_pg_check_conninfo(pg_arg, err, sizeof(err)) != 0) {
		ctl_warn(cmd, "--pg is not a libpq connection string: %s", err);
		return 2;
	}
	if (pg_arg != NULL && sentry_pg_has_password(pg_arg)) {
		ctl_warn(cmd, "%s", "--pg must not carry a password (every user "
		    "sees argv): put it in sentry_pg_password in the config "
		    "file, or in ~/.pgpass");
		return 2;
	}
	if (s.watch > 0 && s.dry_run) {
		ctl_warn(cmd, "%s", "--dry-run and --watch do not mix");
		return 2;
	}
	/*
	 * From here on a stop signal is only noted, never fatal, and it is
	 * taken only while sentry-sync waits (sentry_pg_poll): one that comes
	 * while it works is held until the next wait, which it ends, so it
	 * cannot slip in between a check of the flag and a long wait.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGINT);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigprocmask(SIG_BLOCK, &stopsigs, &oldmask);
	log_setup(LOG_LEVEL_ERROR, false);
	if ((s.conf = conf_load(o->config_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "relaycfgctl: %s\n", err);
		goto out;
	}
	s.conninfo = pg_arg != NULL ? pg_arg : s.conf->sentry_pg;
	if (s.conninfo == NULL) {
		/* A value missing from the config file: a failure (1),
		 * as a config file that does not load, not a usage error. */
		ctl_warn(cmd, "no Sentry database: give --pg CONNINFO or set "
		    "sentry_pg in %s", o->config_path);
		goto out;
	}
	if (pg_arg == NULL &&
	    sentry_pg_check_conninfo(s.conninfo, err, sizeof(err)) != 0) {
		char where[1024];

		/* A configuration error (1), where the file says it. */
		conf_origin(s.conf, CONF_SENTRY_PG, where, sizeof(where));
		fprintf(stderr, "relaycfgctl: %s: is not a libpq connection "
		    "string: %s\n", where, err);
		goto out;
	}
	if (app_global_init() != 0) {
		ctl_warn(cmd, "%s", "library initialisation failed");
		goto out;
	}
	if ((s.st = store_open(s.conf, err, sizeof(err))) == NULL) {
		ctl_warn(cmd, "%s", err);
		goto fini;
	}
	for (;;) {
		rc = sync_round(&s);
		if (s.watch == 0) {
			status = rc == ROUND_DONE ? 0 :
			    rc == ROUND_GUARDED ? EXIT_GUARD : 1;
			break;
		}
		watch_wait(&s);
		if (stop_requested) {
			status = 0;
			break;
		}
	}
	sentry_pg_close(s.pg);
	store_close(s.st);
fini:
	app_global_fini();
out:
	conf_free(s.conf);
	/* a signal held back is taken here by on_stop: noted, harmless */
	(void)sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return status;
}
