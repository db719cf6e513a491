/*
 * test_store_fault.c - the store against a real mariadbd and memcached
 * when allocations fail, and when what it reads is damaged: MariaDB
 * option values with trailing data, memcached entries with values out of
 * range or key lists out of order.
 *
 * Run by t_store_fault.sh, which starts the servers and passes
 * STORE_TEST_CONF (schema created), MARIADB_SOCKET and MC_PORT.
 *
 * The allocation seam: this program is linked with --wrap=malloc,
 * --wrap=calloc and --wrap=realloc, so every call the library (a static
 * archive) and this file make goes through __wrap_*; the shared
 * libraries (json-c, libmemcached, MariaDB's) keep the real allocator.
 * That works under AddressSanitizer too, which owns malloc itself.  The
 * json-c calls that allocate for the library's thresholds (new integers
 * and strings, array appends) are wrapped the same way, so that a leak
 * on their failure shows in LeakSanitizer's report at exit.
 *
 * Output is TAP without numbers ("ok - ..."); t_store_fault.sh numbers
 * it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmemcached/memcached.h>
#include <mysql.h>

#include "app.h"
#include "cache.h"
#include "conf.h"
#include "iserv.h"
#include "itest.h"
#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_rev.h"

/* --- the allocation seam --------------------------------------------- */

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);
json_object *__real_json_object_new_int64(int64_t);
json_object *__real_json_object_new_string(const char *);
int	__real_json_object_array_add(json_object *, json_object *);
int	__real_json_object_array_put_idx(json_object *, size_t,
	    json_object *);
json_object *__wrap_json_object_new_int64(int64_t);
json_object *__wrap_json_object_new_string(const char *);
int	__wrap_json_object_array_add(json_object *, json_object *);
int	__wrap_json_object_array_put_idx(json_object *, size_t,
	    json_object *);

static bool fi_window;		/* counting (and failing) on */
static long fi_fail_at = -1;	/* the allocation of the window to fail */
static long fi_count;		/* allocations seen in the window */

static bool
fi_fail(void)
{
	return fi_window && fi_count++ == fi_fail_at;
}

void *
__wrap_malloc(size_t n)
{
	return fi_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t a, size_t n)
{
	return fi_fail() ? NULL : __real_calloc(a, n);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return fi_fail() ? NULL : __real_realloc(p, n);
}

json_object *
__wrap_json_object_new_int64(int64_t i)
{
	return fi_fail() ? NULL : __real_json_object_new_int64(i);
}

json_object *
__wrap_json_object_new_string(const char *str)
{
	return fi_fail() ? NULL : __real_json_object_new_string(str);
}

/* As json-c's own failure: val is not taken. */
int
__wrap_json_object_array_add(json_object *a, json_object *val)
{
	return fi_fail() ? -1 : __real_json_object_array_add(a, val);
}

int
__wrap_json_object_array_put_idx(json_object *a, size_t i, json_object *val)
{
	return fi_fail() ? -1 : __real_json_object_array_put_idx(a, i, val);
}

/* Fail allocation k of what follows (until fi_end). */
static void
fi_begin(long k)
{
	fi_count = 0;
	fi_fail_at = k;
	fi_window = true;
}

/* Whether the window failed an allocation. */
static bool
fi_end(void)
{
	bool failed = fi_fail_at >= 0 && fi_count > fi_fail_at;

	fi_window = false;
	fi_fail_at = -1;
	return failed;
}

static struct conf *conf;

/* --- direct access to the servers ------------------------------------ */

/* Does key hold a negative ("null") entry? */
static bool
mc_negative(const char *key)
{
	size_t len;
	char *v = mc_get(key, &len);
	bool neg = v != NULL && len >= 5 && memcmp(v + len - 5, " null", 5) == 0;

	free(v);
	return neg;
}

/* Wait until memcached has taken st's write-backs (see test_store.c). */
static void
settle(struct store *st)
{
	static const char *const probe[] = { "relaycfg-test-settle" };
	struct cache_value v[1];

	(void)cache_get_many(store_cache(st), probe, 1, v);
	cache_values_free(v, 1);
}

static struct store *
open_store(void)
{
	char err[256];
	struct store *st = store_open(conf, err, sizeof(err));

	if (st == NULL) {
		fprintf(stderr, "test_store_fault: %s\n", err);
		exit(1);
	}
	return st;
}

/*
 * Org 1; project 1 (option "x": "y", a threshold, keys 1 and 2);
 * project 2 with odd option values; project 3 with a rev pair; project 4
 * with status 1.
 */
#define PK1	"00000000000000000000000000000001"
#define REV	"0123456789abcdef0123456789abcdef"
#define WHEN	"2024-01-02T03:04:05.000000Z"

static void
seed(void)
{
	sql("SET FOREIGN_KEY_CHECKS = 0");
	sql("INSERT INTO sentry_organization (id, name, slug) VALUES "
	    "(1, 'Org 1', 'o1')");
	sql("INSERT INTO sentry_project (id, slug, name, organization_id, "
	    "status) VALUES (1, 'p1', 'Project 1', 1, 0), "
	    "(2, 'p2', 'Project 2', 1, 0), (3, 'p3', 'Project 3', 1, 0), "
	    "(4, 'p4', 'Project 4', 1, 1)");
	sql("INSERT INTO sentry_projectkey (id, project_id, public_key, "
	    "secret_key) VALUES (1, 1, '" PK1 "', '%032x'), "
	    "(2, 1, '%032x', '%032x')", 0x101, 0x2, 0x102);
	sql("INSERT INTO sentry_projectoptions (project_id, `key`, value) "
	    "VALUES (1, 'x', '\"y\"'), "
	    "(2, 'junk', '\"abc\" trailing garbage'), "
	    "(2, 'two', '[1] [2]'), (2, 'num', '12x'), "
	    "(2, 'blank', '\"ok\" \n'), "
	    "(3, '" STORE_REV_KEY "', '\"" REV "\"'), "
	    "(3, '" STORE_REV_TIME_KEY "', '\"" WHEN "\"')");
	sql("INSERT INTO sentry_projecttransactionthreshold (project_id, "
	    "organization_id, threshold, metric) VALUES (1, 1, 300, 1)");
	sql("SET FOREIGN_KEY_CHECKS = 1");
}

/* --- allocation failures ---------------------------------------------- */

/* One read under test: its memcached keys, and how it is judged. */
struct oom_case {
	const char	*what;
	const char	*keys[4];	/* dropped before each run */
	/* The read; true when it answered in full. */
	int		(*read)(struct store *st, bool *full);
};

static int
read_project(struct store *st, bool *full)
{
	int64_t id = 1;
	const struct model_project *p = NULL;
	int rc = store_projects_by_ids(st, &id, 1, &p);

	*full = p != NULL && p->id == 1;
	return rc;
}

static int
read_key(struct store *st, bool *full)
{
	const char *pk = PK1;
	const struct model_projectkey *k = NULL;
	int rc = store_projectkeys_by_public_keys(st, &pk, 1, &k);

	*full = k != NULL && k->id == 1;
	return rc;
}

static int
read_options(struct store *st, bool *full)
{
	int64_t id = 1;
	json_object *o = NULL, *v;
	int rc = store_project_options(st, &id, 1, &o);

	*full = o != NULL && json_object_object_get_ex(o, "x", &v) &&
	    strcmp(json_object_get_string(v), "y") == 0;
	return rc;
}

static int
read_thresholds(struct store *st, bool *full)
{
	int64_t id = 1;
	const struct model_txthresholds *t = NULL;
	int rc = store_txthresholds(st, &id, 1, &t);

	*full = t != NULL && t->has_project && t->project.threshold == 300;
	return rc;
}

static int
read_keylist(struct store *st, bool *full)
{
	int64_t id = 1;
	struct store_keylist kl = { 0 };
	int rc = store_projectkeys_by_project_ids(st, &id, 1, &kl);

	*full = kl.n == 2 && kl.keys[0]->id == 1 && kl.keys[1]->id == 2;
	return rc;
}

/*
 * Fill st's local cache up to the size at which its next entry grows the
 * table (lc_grow), with absent projects: the read under test then
 * remembers its first row while the table grows.
 */
static void
fill_local_cache(struct store *st)
{
	size_t n = st->lc_cap * 2 - st->lc_n;
	int64_t *ids = calloc(n, sizeof(*ids));
	const struct model_project **out = calloc(n, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		ids[i] = 100000 + (int64_t)i;
	(void)store_projects_by_ids(st, ids, n, out);
	free(ids);
	free(out);
}

/*
 * Fail each allocation of c's read in turn, each run in a new store whose
 * local cache is about to grow: a read that says STORE_OK must have
 * answered in full, none may leave a negative entry, and a read after it
 * (no failure) answers in full.
 */
static void
oom_each(const struct oom_case *c)
{
	long k, runs = 0, failed = 0, bad_ok = 0, bad_neg = 0, bad_next = 0;

	for (k = 0;; k++) {
		struct store *st = open_store();
		bool full, hit;
		int rc;

		/* Connected and warm: the failures hit the read only. */
		(void)read_project(st, &full);
		store_request_end(st);
		for (size_t i = 0; i < 4 && c->keys[i] != NULL; i++)
			mc_del(c->keys[i]);
		fill_local_cache(st);
		fi_begin(k);
		rc = c->read(st, &full);
		hit = fi_end();
		runs++;
		if (hit)
			failed++;
		if (rc == STORE_OK && !full) {
			bad_ok++;
			diag("%s: failing allocation %ld: STORE_OK without "
			    "the answer", c->what, k);
		}
		settle(st);
		for (size_t i = 0; i < 4 && c->keys[i] != NULL; i++)
			if (mc_negative(c->keys[i])) {
				bad_neg++;
				diag("%s: failing allocation %ld: %s cached "
				    "as absent", c->what, k, c->keys[i]);
			}
		store_request_end(st);
		if (c->read(st, &full) != STORE_OK || !full) {
			bad_next++;
			diag("%s: failing allocation %ld: the next read "
			    "did not find it", c->what, k);
		}
		store_close(st);
		if (!hit)
			break;		/* this run failed nothing */
	}
	ok(failed > 0 && bad_ok == 0, "%s: STORE_OK only with the whole "
	    "answer, whichever allocation fails (%ld runs)", c->what, runs);
	ok(bad_neg == 0, "%s: no failure leaves a negative entry", c->what);
	ok(bad_next == 0, "%s: the next read finds it", c->what);
}

static void
test_oom(void)
{
	static const struct oom_case cases[] = {
		{ "project by id", { "relaycfg:1:p:1" }, read_project },
		{ "key by public key", { "relaycfg:1:kp:" PK1,
		    "relaycfg:1:k:1" }, read_key },
		{ "project options", { "relaycfg:1:po:1", "relaycfg:1:pom:1" },
		    read_options },
		{ "thresholds", { "relaycfg:1:tt:1" }, read_thresholds },
		{ "key list", { "relaycfg:1:kl:1" }, read_keylist },
	};

	diag("allocation failures");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		oom_each(&cases[i]);
}

/*
 * An invalidation under allocation failures.  Key 9 of project 1 is
 * deleted behind the store's back: only project 1's cached key list still
 * names it, so only that list leads a project invalidation to its
 * config.  Whichever allocation fails, that config is dropped or the
 * store reports the cache stale; it is never left cached silently.
 */
#define PK9	"00000000000000000000000000000009"
#define CFG9	"a config built before key 9 was deleted"

static void
test_invalidate_oom(void)
{
	struct store *st = open_store();
	int64_t pid = 1;
	struct store_keylist kl = { 0 };
	char cfg[CACHE_KEY_MAX], *list;
	size_t len;
	long k, runs = 0, failed = 0, silent = 0;

	diag("an invalidation under allocation failures");
	sql("INSERT INTO sentry_projectkey (id, project_id, public_key, "
	    "secret_key) VALUES (9, 1, '" PK9 "', '%032x')", 0x109);
	mc_del("relaycfg:1:kl:1");
	(void)store_projectkeys_by_project_ids(st, &pid, 1, &kl);
	settle(st);
	store_request_end(st);
	sql("DELETE FROM sentry_projectkey WHERE id = 9");
	list = mc_get("relaycfg:1:kl:1", &len);
	ok(kl.n == 3 && list != NULL && strstr(list, PK9) != NULL,
	    "project 1's cached key list names key 9");
	cache_key_config(store_cache(st), cfg, sizeof(cfg), PK9);
	for (k = 0; list != NULL; k++) {
		char *v;
		bool hit, dropped;

		mc_set("relaycfg:1:kl:1", list);
		mc_set(cfg, CFG9);
		fi_begin(k);
		(void)store_invalidate(st, STORE_SCOPE_PROJECT, 1, NULL);
		hit = fi_end();
		settle(st);
		v = mc_get(cfg, &len);
		dropped = v == NULL || strcmp(v, CFG9) != 0;
		free(v);
		runs++;
		if (hit)
			failed++;
		if (!dropped && !store_cache_stale(st)) {
			silent++;
			diag("failing allocation %ld: key 9's config kept, "
			    "the cache not reported stale", k);
		}
		store_request_end(st);
		if (!hit)
			break;		/* this run failed nothing */
	}
	ok(failed > 0 && silent == 0, "a deleted key's config is dropped "
	    "or the cache reported stale, whichever allocation fails "
	    "(%ld runs)", runs);
	free(list);
	mc_del("relaycfg:1:kl:1");
	store_close(st);
}

/* --- values with trailing data ----------------------------------------- */

static void
test_trailing(void)
{
	struct store *st = open_store();
	int64_t id = 2, id3 = 3;
	json_object *o = NULL, *v;
	struct store_rev rev;
	static const char *const bad[] = { "\"abc\" x", "[1] [2]", "12x",
	    "{} {}", "null x" };

	diag("values with trailing data");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *p = codec_parse(bad[i], strlen(bad[i]));

		ok(p == NULL, "codec_parse refuses '%s'", bad[i]);
		json_object_put(p);
	}
	v = codec_parse("\"ok\" \n\t", 7);
	ok(v != NULL && strcmp(json_object_get_string(v), "ok") == 0,
	    "codec_parse takes blanks after the value");
	json_object_put(v);
	store_bypass_cache(st, true);
	ok(store_project_options(st, &id, 1, &o) == STORE_OK && o != NULL,
	    "options with odd values are read");
	ok(!json_object_object_get_ex(o, "junk", NULL) &&
	    !json_object_object_get_ex(o, "two", NULL) &&
	    !json_object_object_get_ex(o, "num", NULL),
	    "values followed by junk are left out");
	ok(json_object_object_get_ex(o, "blank", &v) &&
	    strcmp(json_object_get_string(v), "ok") == 0,
	    "a value followed by blanks is read");
	store_request_end(st);
	ok(store_revs_read(st, &id3, 1, &rev) == STORE_OK &&
	    strcmp(rev.rev, REV) == 0, "a stored rev is read");
	sql("UPDATE sentry_projectoptions SET value = '\"" REV "\" junk' "
	    "WHERE project_id = 3 AND `key` = '" STORE_REV_KEY "'");
	ok(store_revs_read(st, &id3, 1, &rev) == STORE_OK &&
	    rev.rev[0] == '\0', "a stored rev followed by junk is none");
	store_close(st);
}

/* --- damaged memcached entries ----------------------------------------- */

/*
 * key's entry, as the store framed it, with from (in the payload)
 * replaced by to.  False when key held no entry with from.
 */
static bool
mc_tamper(const char *key, const char *from, const char *to)
{
	size_t len;
	char *v = mc_get(key, &len), *at, out[2048];
	bool done = false;

	if (v != NULL && (at = strstr(v, from)) != NULL &&
	    len + strlen(to) < sizeof(out)) {
		snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - v), v, to,
		    at + strlen(from));
		mc_set(key, out);
		done = true;
	} else
		diag("%s: %s", key, v != NULL ? v : "(none)");
	free(v);
	return done;
}

static void
test_damaged(void)
{
	struct store *st = open_store();
	int64_t id = 4, pid = 1;
	const struct model_project *p = NULL;
	struct store_keylist kl = { 0 };
	struct store_stats a, b;
	size_t len;
	char *v, *rows, dup[2048];

	diag("damaged memcached entries");
	mc_del("relaycfg:1:p:4");
	(void)store_projects_by_ids(st, &id, 1, &p);
	settle(st);
	store_request_end(st);
	ok(mc_tamper("relaycfg:1:p:4", "\"Project 4\",1,",
	    "\"Project 4\",4294967296,"), "project 4 cached with status 2^32");
	store_get_stats(st, &a);
	ok(store_projects_by_ids(st, &id, 1, &p) == STORE_OK && p != NULL &&
	    p->status == 1, "status 2^32 is no status: read again (1)");
	store_get_stats(st, &b);
	ok(b.sql_queries > a.sql_queries, "from MariaDB");
	store_request_end(st);

	/* Key list [k1,k2] made [k1,k1,k2], then [k2,k1]. */
	mc_del("relaycfg:1:kl:1");
	(void)store_projectkeys_by_project_ids(st, &pid, 1, &kl);
	settle(st);
	store_request_end(st);
	v = mc_get("relaycfg:1:kl:1", &len);
	rows = v != NULL ? strstr(v, " [[") : NULL;
	if (ok(rows != NULL, "project 1's key list is cached")) {
		char *second = strstr(rows, "],[");
		size_t head = (size_t)(rows + 2 - v);

		/* "<frame> [" k1 "," k1 "," k2 "]" */
		snprintf(dup, sizeof(dup), "%.*s%.*s,%s", (int)head, v,
		    (int)(second + 1 - (rows + 2)), rows + 2, rows + 2);
		mc_set("relaycfg:1:kl:1", dup);
		kl = (struct store_keylist){ 0 };
		ok(store_projectkeys_by_project_ids(st, &pid, 1, &kl) ==
		    STORE_OK && kl.n == 2 && kl.keys[0]->id == 1 &&
		    kl.keys[1]->id == 2, "a key list repeating a key is "
		    "damaged: read again");
		store_request_end(st);
		snprintf(dup, sizeof(dup), "%.*s%.*s,%.*s]", (int)head, v,
		    (int)(strlen(second + 2) - 1), second + 2,
		    (int)(second + 1 - (rows + 2)), rows + 2);
		mc_set("relaycfg:1:kl:1", dup);
		kl = (struct store_keylist){ 0 };
		ok(store_projectkeys_by_project_ids(st, &pid, 1, &kl) ==
		    STORE_OK && kl.n == 2 && kl.keys[0]->id == 1 &&
		    kl.keys[1]->id == 2, "a key list out of id order is "
		    "damaged: read again");
		store_request_end(st);
	}
	free(v);
	store_close(st);
}

int
main(void)
{
	char err[512];

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_setup(LOG_LEVEL_ERROR, false);
	if ((conf = conf_load(getenv("STORE_TEST_CONF"), err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "test_store_fault: %s\n", err);
		return 1;
	}
	if (app_global_init() != 0)
		return 1;
	my_connect();
	mc_connect();
	seed();

	test_oom();
	test_invalidate_oom();
	test_trailing();
	test_damaged();

	memcached_free(mc);
	mysql_close(my);
	conf_free(conf);
	app_global_fini();
	return itest_failures == 0 ? 0 : 1;
}
