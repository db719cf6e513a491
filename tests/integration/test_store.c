/*
 * test_store.c - the data layer against a real mariadbd and memcached.
 *
 * Run by t_store.sh, which starts the servers and passes:
 *   STORE_TEST_CONF  the relaycfg.conf for them (schema already created)
 *   MARIADB_SOCKET   for seeding rows and reading Com_select directly
 *   MC_PORT          for looking at (and tampering with) cache entries
 *   MC_LOG           memcached -vv output: every key it was sent
 *   MC_SOCKET        a second memcached, on a unix socket
 *
 * Output is TAP without numbers ("ok - ..."); t_store.sh numbers it.  A
 * line "@@ <command>" asks t_store.sh to act on the servers (mc-stop,
 * mc-start, mc-pause, mc-resume, db-stop, db-start); it answers with a
 * line on stdin once done.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>
/* the kernel's struct tcp_info: glibc's lacks tcpi_data_segs_out */
#include <linux/tcp.h>

#include <libmemcached/memcached.h>
#include <mysql.h>

#include "app.h"
#include "cache.h"
#include "cache_int.h"	/* the cache's memcached_st and its sockets */
#include "conf.h"
#include "db.h"
#include "iserv.h"
#include "itest.h"
#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_rev.h"

#define NPROJ		500	/* projects, one key each (project 1: two) */
#define NORG		5
#define EXTRA_KEY_ID	(NPROJ + 1)

static struct conf *conf;
static struct store *st;

/* --- TAP (itest.h) --------------------------------------------------- */

static bool
is_long(long got, long want, const char *what)
{
	if (!ok(got == want, "%s", what))
		diag("got %ld, expected %ld", got, want);
	return got == want;
}

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- direct access to the servers ------------------------------------ */

static long
com_select(void)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	long v = -1;

	sql("SHOW GLOBAL STATUS LIKE 'Com_select'");
	r = mysql_store_result(my);
	if ((row = mysql_fetch_row(r)) != NULL)
		v = atol(row[1]);
	mysql_free_result(r);
	return v;
}

/*
 * mc_age - key's framed entry rewritten as one of another generation
 * (0000...), as "invalidate --all" leaves entries.  False when key held
 * no framed entry.
 */
static bool
mc_age(const char *key)
{
	size_t len;
	char *v = mc_get(key, &len);
	bool framed = v != NULL && len > 4 + CACHE_GEN_LEN &&
	    strncmp(v, "rc1 ", 4) == 0;

	if (framed) {
		memset(v + 4, '0', CACHE_GEN_LEN);
		mc_set(key, v);
	}
	free(v);
	return framed;
}

/* A value framed as the store frames it, with the live generation. */
static void
mc_set_framed(const char *key, const char *kind, const char *payload)
{
	char val[512], *gen;
	size_t len;

	gen = mc_get("relaycfg:1:gen", &len);
	snprintf(val, sizeof(val), "rc1 %.*s %s %s", (int)len,
	    gen != NULL ? gen : "", kind, payload);
	free(gen);
	mc_set(key, val);
}

/* Does memcached hold a value under key (an invalidation's tombstone,
 * which every reader takes for a miss, is none)? */
static bool
mc_has(const char *key)
{
	size_t len;
	char *v = mc_get(key, &len);
	bool has = v != NULL && !(len == sizeof(CACHE_TOMBSTONE) - 1 &&
	    memcmp(v, CACHE_TOMBSTONE, len) == 0);

	free(v);
	return has;
}

/* --- fixtures -------------------------------------------------------- */

static void
pubkey(char out[33], long i)
{
	snprintf(out, 33, "%032lx", i);
}

/*
 * NORG organizations; template 1 (org 1); NPROJ projects, project i in
 * organization (i-1)%NORG+1, those of org 1 on template 1; key i of
 * project i with public key %032x(i); key EXTRA_KEY_ID, inactive, also
 * of project 1.  Options: template {"tmpl":"t","shared":"template"},
 * even projects {"shared":"project-<i>"}, orgs {"org":<id>}.
 */
static void
seed(void)
{
	char *q = malloc(NPROJ * 200 + 256);
	size_t n;

	sql("SET FOREIGN_KEY_CHECKS = 0");
	for (int i = 1; i <= NORG; i++) {
		sql("INSERT INTO sentry_organization (id, name, slug) VALUES "
		    "(%d, 'Org %d', 'o%d')", i, i, i);
		sql("INSERT INTO sentry_organizationoptions (organization_id, "
		    "`key`, value) VALUES (%d, 'org', '%d')", i, i);
	}
	sql("INSERT INTO sentry_projecttemplate (id, name, organization_id) "
	    "VALUES (1, 'base', 1)");
	sql("INSERT INTO sentry_projecttemplateoption (project_template_id, "
	    "`key`, value) VALUES (1, 'tmpl', '\"t\"'), (1, 'shared', "
	    "'\"template\"')");
	n = (size_t)sprintf(q, "INSERT INTO sentry_project (id, slug, name, "
	    "organization_id, template_id) VALUES ");
	for (int i = 1; i <= NPROJ; i++) {
		int org = (i - 1) % NORG + 1;

		n += (size_t)sprintf(q + n, "%s(%d, 'p%d', 'Project %d', %d, %s)",
		    i > 1 ? "," : "", i, i, i, org, org == 1 ? "1" : "NULL");
	}
	sql("%s", q);
	n = (size_t)sprintf(q, "INSERT INTO sentry_projectkey (id, project_id, "
	    "public_key, secret_key) VALUES ");
	for (int i = 1; i <= NPROJ; i++) {
		char pk[33];

		pubkey(pk, i);
		n += (size_t)sprintf(q + n, "%s(%d, %d, '%s', '%032x')",
		    i > 1 ? "," : "", i, i, pk, 0x100000 + i);
	}
	sql("%s", q);
	sql("INSERT INTO sentry_projectkey (id, project_id, public_key, "
	    "secret_key, status, label) VALUES (%d, 1, '%032x', '%032x', 1, "
	    "'second')", EXTRA_KEY_ID, 0xabc, 0xabd);
	n = (size_t)sprintf(q, "INSERT INTO sentry_projectoptions (project_id, "
	    "`key`, value) VALUES ");
	for (int i = 2; i <= NPROJ; i += 2)
		n += (size_t)sprintf(q + n, "%s(%d, 'shared', '\"project-%d\"')",
		    i > 2 ? "," : "", i, i);
	sql("%s", q);
	sql("SET FOREIGN_KEY_CHECKS = 1");
	free(q);
}

/* --- helpers --------------------------------------------------------- */

struct snap {
	struct store_stats	s;
};

static struct store_stats
stats(void)
{
	struct store_stats s;

	store_get_stats(st, &s);
	return s;
}

static const struct model_projectkey *
key_by_pk(const char *pk, int *rc)
{
	const struct model_projectkey *k = NULL;
	int r = store_projectkeys_by_public_keys(st, &pk, 1, &k);

	if (rc != NULL)
		*rc = r;
	return k;
}

static const char *
opt_str(json_object *dict, const char *key)
{
	json_object *v;

	if (dict == NULL || !json_object_object_get_ex(dict, key, &v) ||
	    v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static void
req_end(void)
{
	store_request_end(st);
}

/*
 * The store's write-backs are not acknowledged (NOREPLY), and memcached
 * serves connections in parallel: before touching an entry the store may
 * still be writing, wait until memcached has taken them.  It serves each
 * connection in order, so one round trip on the store's own connection
 * (a get, which flushes what is buffered first) returns only after every
 * write sent before it was applied.  A sleep was not enough on a loaded
 * machine.  Call it before taking stats: the get counts.
 */
static void
settle(void)
{
	static const char *const probe[] = { "relaycfg-test-settle" };
	struct cache_value v[1];

	if (cache_get_many(store_cache(st), probe, 1, v) != 0)
		diag("settle: the round trip failed");
	cache_values_free(v, 1);
}

/*
 * pk's row read again in a new request, once the write-backs before it
 * are in: true when it is row id and came without a query (cached).
 */
static bool
read_again_cached(const char *pk, int64_t id)
{
	struct store_stats a, b;
	const struct model_projectkey *k;

	req_end();
	settle();
	a = stats();
	k = key_by_pk(pk, NULL);
	b = stats();
	return k != NULL && k->id == id && b.sql_queries == a.sql_queries;
}

/* --- tests ----------------------------------------------------------- */

static void
test_paths(void)
{
	struct store_stats a, b;
	const struct model_projectkey *k, *k2;
	char pk1[33], pk2[33], *v;
	size_t len;
	int rc;

	pubkey(pk1, 1);
	pubkey(pk2, 2);
	diag("miss, hit, pointer paths");
	req_end();
	a = stats();
	k = key_by_pk(pk1, &rc);
	b = stats();
	ok(rc == STORE_OK && k != NULL && k->id == 1 && k->project_id == 1 &&
	    strcmp(k->public_key, pk1) == 0 && k->status == 0 &&
	    k->roles == 1 && !k->has_rate_limit && k->label == NULL,
	    "miss: the key row comes from MariaDB");
	is_long((long)(b.sql_queries - a.sql_queries), 1, "miss: one query");
	/* The pointers; no rows by id without hits; then the lease of the
	 * row found, whose key was not read before MariaDB was (rows_lease,
	 * store_read.c): it is absent, so no second query. */
	is_long((long)(b.cache_gets - a.cache_gets), 2,
	    "miss: two multi-gets (pointers, then the lease of the row found)");

	a = stats();
	k2 = key_by_pk(pk1, &rc);
	b = stats();
	ok(k2 == k, "same request: the local cache answers, same object");
	is_long((long)(b.cache_gets - a.cache_gets + b.sql_queries -
	    a.sql_queries), 0, "same request: no round trip at all");

	settle();
	v = mc_get("relaycfg:1:kp:00000000000000000000000000000001", &len);
	ok(v != NULL && len > 21 && strncmp(v, "rc1 ", 4) == 0 &&
	    strcmp(v + 21, "kp [1]") == 0,
	    "pointer entry: rc1 <generation> kp [id]");
	if (v != NULL)
		diag("pointer value: %s", v);
	free(v);
	v = mc_get("relaycfg:1:k:1", &len);
	ok(v != NULL && strstr(v, " k [1,1,\"00000000000000000000000000000001\"")
	    != NULL, "row entry under its id, compact JSON array");
	free(v);

	req_end();
	a = stats();
	k = key_by_pk(pk1, &rc);
	b = stats();
	ok(rc == STORE_OK && k != NULL && k->id == 1, "hit: the same row");
	is_long((long)(b.sql_queries - a.sql_queries), 0, "hit: no query");
	is_long((long)(b.cache_gets - a.cache_gets), 2,
	    "hit: two multi-gets (pointer, then row by id)");

	/* Pointer hit, row gone from memcached: one query, right answer. */
	req_end();
	settle();
	mc_del("relaycfg:1:k:1");
	a = stats();
	k = key_by_pk(pk1, &rc);
	b = stats();
	ok(k != NULL && k->id == 1, "pointer hit, row miss: right row");
	is_long((long)(b.sql_queries - a.sql_queries), 1,
	    "pointer hit, row miss: one query");

	/*
	 * Pointer hit, its row a copy of another generation: read by id
	 * before MariaDB was, so written over at once, with no second read
	 * (rows_lease reads again only rows it could not read before).
	 */
	req_end();
	settle();
	ok(mc_age("relaycfg:1:k:1"), "the row entry, aged by a generation");
	a = stats();
	k = key_by_pk(pk1, &rc);
	b = stats();
	ok(k != NULL && k->id == 1, "pointer hit, old row: right row");
	is_long((long)(b.sql_queries - a.sql_queries), 1,
	    "pointer hit, old row: one query");
	ok(read_again_cached(pk1, 1),
	    "... and the row was written over it: the next read makes none");

	/* A pointer to a row that carries another key is a miss. */
	req_end();
	(void)key_by_pk(pk2, NULL);
	req_end();
	settle();
	mc_set_framed("relaycfg:1:kp:00000000000000000000000000000002", "kp",
	    "[1]");
	a = stats();
	k = key_by_pk(pk2, &rc);
	b = stats();
	ok(k != NULL && k->id == 2 && strcmp(k->public_key, pk2) == 0,
	    "a stale pointer is not followed to the wrong row");
	/* Row 2 is cached (read above) but was not read by this request
	 * before MariaDB was: read again after its lease (rows_lease). */
	is_long((long)(b.sql_queries - a.sql_queries), 2,
	    "stale pointer: two queries (by key, then the cached row's again)");

	/*
	 * Pointer and row both of another generation, as "invalidate --all"
	 * leaves them: the pointer names the row, whose key is leased before
	 * MariaDB is read (lease_hinted_rows), so the row found by its
	 * public key is written over its old copy without a second read.
	 */
	req_end();
	settle();
	ok(mc_age("relaycfg:1:k:1"), "row 1's entry, aged");
	mc_set("relaycfg:1:kp:00000000000000000000000000000001",
	    "rc1 0000000000000000 kp [1]");
	a = stats();
	k = key_by_pk(pk1, &rc);
	b = stats();
	ok(k != NULL && k->id == 1, "old pointer, old row: right row");
	is_long((long)(b.sql_queries - a.sql_queries), 1,
	    "old pointer, old row: one query (the row leased before it)");
	is_long((long)(b.cache_gets - a.cache_gets), 2,
	    "old pointer, old row: two multi-gets (pointer, lease of its row)");
	ok(read_again_cached(pk1, 1),
	    "... and both were written over: the next read makes none");

	/* An old pointer naming another key's row: that row is leased for
	 * nothing, and the right one, leased late, is read again. */
	req_end();
	settle();
	ok(mc_age("relaycfg:1:k:2"), "row 2's entry, aged");
	mc_set("relaycfg:1:kp:00000000000000000000000000000002",
	    "rc1 0000000000000000 kp [1]");
	a = stats();
	k = key_by_pk(pk2, &rc);
	b = stats();
	ok(k != NULL && k->id == 2 && strcmp(k->public_key, pk2) == 0,
	    "an old pointer to another key's row: the right row");
	is_long((long)(b.sql_queries - a.sql_queries), 2,
	    "... two queries (by key, then its row again, leased late)");

	/* Bytes of another format, generation or kind are misses. */
	static const char row1[] = "[1,1,\"00000000000000000000000000000001\","
	    "\"x\",0,1,null,null,null]";
	static const struct {
		const char	*ver;
		bool		 live_gen;
		const char	*kind;
		const char	*payload;
		const char	*what;
	} bad[] = {
		{ "rc1", false, "k", row1, "another generation" },
		{ "rc0", true, "k", row1, "another format version" },
		{ "rc1", true, "p", row1, "another kind" },
		{ "rc1", true, "k", "[1,1,\"0000", "truncated JSON" },
		{ "rc1", true, "k", "[2,2,\"00000000000000000000000000000001\","
		    "\"x\",0,1,null,null,null]", "another row's id" },
		{ "rc1", true, "k", "{\"id\":1}", "another shape" },
		{ "rc1", true, "k", "[1,1,'00000000000000000000000000000001',"
		    "\"x\",0,1,null,null,null]", "single quotes (not JSON)" },
		{ "rc1", true, "k", "[1,1,\"00000000000000000000000000000001\","
		    "\"x\",0,1,null,null,null,]", "a trailing comma" },
		{ "rc1", true, "k", "[1,1,\"00000000000000000000000000000001\","
		    "\"x\",0,1,null,null,\"\xc0\x80\"]", "overlong UTF-8" },
		{ "rc1", true, "k", "[1,1,\"00000000000000000000000000000001\","
		    "\"x\",0,1,null,null,\"a\\u0000b\"]", "a NUL in a string" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char val[256], *gen = mc_get("relaycfg:1:gen", &len);

		snprintf(val, sizeof(val), "%s %s %s %s", bad[i].ver,
		    bad[i].live_gen && gen != NULL ? gen : "0000000000000000",
		    bad[i].kind, bad[i].payload);
		free(gen);
		req_end();
		settle();
		mc_set("relaycfg:1:k:1", val);
		a = stats();
		k = key_by_pk(pk1, &rc);
		b = stats();
		ok(rc == STORE_OK && k != NULL && k->id == 1 &&
		    strcmp(k->secret_key, "00000000000000000000000000100001")
		    == 0 && b.sql_queries - a.sql_queries == 1,
		    "%s: a miss, served from MariaDB", bad[i].what);
	}
	req_end();
}

static void
test_negative(void)
{
	const char *absent = "ffffffffffffffffffffffffffffffff";
	struct store_stats a, b;
	const struct model_project *p = NULL;
	const struct model_projectkey *k;
	struct store_keylist kl;
	MYSQL_RES *r;
	MYSQL_ROW row;
	int64_t next = 0, id = 0, empty_pid;
	int rc;

	diag("negative cache");
	req_end();
	a = stats();
	k = key_by_pk(absent, &rc);
	b = stats();
	ok(rc == STORE_OK && k == NULL, "absent key: NULL, STORE_OK");
	is_long((long)(b.sql_queries - a.sql_queries), 1, "absent: one query");
	req_end();
	a = stats();
	k = key_by_pk(absent, &rc);
	b = stats();
	ok(rc == STORE_OK && k == NULL, "absent again: still NULL");
	is_long((long)(b.sql_queries - a.sql_queries), 0,
	    "absent again: answered by the negative entry, no query");

	/* Inserted behind the store's back: invalidate --key shows it. */
	sql("INSERT INTO sentry_projectkey (id, project_id, public_key, "
	    "secret_key) VALUES (900, 3, '%s', 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee')",
	    absent);
	req_end();
	ok(key_by_pk(absent, NULL) == NULL,
	    "a row inserted directly hides behind the negative entry");
	req_end();
	ok(store_invalidate(st, STORE_SCOPE_KEY, 0, absent) == STORE_OK &&
	    !store_cache_stale(st), "store_invalidate(KEY)");
	k = key_by_pk(absent, NULL);
	ok(k != NULL && k->id == 900, "after invalidation the row is seen");
	req_end();
	sql("DELETE FROM sentry_projectkey WHERE id = 900");
	store_invalidate(st, STORE_SCOPE_KEY, 0, absent);
	req_end();

	/* A project id cached as absent, then created through the store. */
	sql("SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE "
	    "TABLE_SCHEMA = 'relaycfg' AND TABLE_NAME = 'sentry_project'");
	r = mysql_store_result(my);
	if ((row = mysql_fetch_row(r)) != NULL)
		next = atoll(row[0]);
	mysql_free_result(r);
	store_projects_by_ids(st, &next, 1, &p);
	ok(p == NULL, "the next project id is absent (and cached so)");
	req_end();
	rc = store_project_create(st, 2, "fresh", "Fresh", NULL, 0, &id);
	ok(rc == STORE_OK && id == next, "store_project_create takes it");
	store_projects_by_ids(st, &next, 1, &p);
	ok(p != NULL && strcmp(p->slug, "fresh") == 0,
	    "created: seen at once despite the negative entry");
	req_end();

	/* Its (empty, cached) key list, then a key created. */
	empty_pid = id;
	store_projectkeys_by_project_ids(st, &empty_pid, 1, &kl);
	ok(kl.n == 0, "a project without keys: an empty list");
	req_end();
	{
		struct model_projectkey nk;
		const struct model_projectkey *got;

		rc = store_key_create(st, empty_pid, "new", NULL, &nk);
		ok(rc == STORE_OK && strlen(nk.public_key) == 32 &&
		    store_valid_hex32(nk.public_key) &&
		    store_valid_hex32(nk.secret_key) &&
		    strcmp(nk.public_key, nk.secret_key) != 0,
		    "store_key_create: 32-hex public and secret keys");
		store_projectkeys_by_project_ids(st, &empty_pid, 1, &kl);
		ok(kl.n == 1 && kl.keys[0]->id == nk.id,
		    "the project's key list shows the new key at once");
		got = key_by_pk(nk.public_key, NULL);
		ok(got != NULL && got->id == nk.id && got->label != NULL &&
		    strcmp(got->label, "new") == 0, "and by public key");
	}
	req_end();
}

static void
test_reads(void)
{
	int64_t pids[] = { 1, 2, 6, 99999 }, oids[] = { 1, 3, 99999 };
	int64_t tid = 1;
	const struct model_project *p[4];
	const struct model_org *o[3];
	json_object *po[4], *oo[3], *to = NULL;
	struct store_keylist kl[4];
	int rc;

	diag("every read, cold then warm");
	for (int pass = 0; pass < 2; pass++) {
		const char *when = pass == 0 ? "cold" : "warm";
		struct store_stats a = stats(), b;

		req_end();
		rc = store_projects_by_ids(st, pids, 4, p);
		ok(rc == STORE_OK && p[0] != NULL && p[0]->id == 1 &&
		    p[0]->organization_id == 1 && p[0]->template_id == 1 &&
		    strcmp(p[0]->slug, "p1") == 0 &&
		    strcmp(p[0]->name, "Project 1") == 0 && p[0]->platform == NULL &&
		    p[1] != NULL && p[1]->template_id == 0 && p[3] == NULL,
		    "%s: projects by id", when);
		rc = store_orgs_by_ids(st, oids, 3, o);
		ok(rc == STORE_OK && o[0] != NULL && strcmp(o[0]->slug, "o1") == 0 &&
		    o[1] != NULL && o[1]->id == 3 && o[2] == NULL,
		    "%s: organizations by id", when);
		/* date_added (dynamic sampling's new-project boost): set now */
		ok(p[0] != NULL && o[0] != NULL &&
		    llabs(p[0]->date_added - (int64_t)time(NULL)) < 3600 &&
		    llabs(o[0]->date_added - (int64_t)time(NULL)) < 3600,
		    "%s: date_added as unix seconds", when);
		rc = store_project_options(st, pids, 4, po);
		ok(rc == STORE_OK && po[0] != NULL &&
		    strcmp(opt_str(po[0], "tmpl"), "t") == 0 &&
		    strcmp(opt_str(po[0], "shared"), "template") == 0 &&
		    opt_str(po[1], "tmpl") == NULL &&
		    strcmp(opt_str(po[1], "shared"), "project-2") == 0 &&
		    strcmp(opt_str(po[2], "tmpl"), "t") == 0 &&
		    strcmp(opt_str(po[2], "shared"), "project-6") == 0 &&
		    po[3] == NULL,
		    "%s: project options over the template's", when);
		rc = store_org_options(st, oids, 3, oo);
		ok(rc == STORE_OK && oo[0] != NULL &&
		    json_object_get_int(json_object_object_get(oo[0], "org")) == 1 &&
		    oo[2] != NULL && json_object_object_length(oo[2]) == 0,
		    "%s: organization options (empty for an unknown id)", when);
		rc = store_template_options(st, &tid, 1, &to);
		ok(rc == STORE_OK && to != NULL &&
		    json_object_object_length(to) == 2, "%s: template options",
		    when);
		rc = store_projectkeys_by_project_ids(st, pids, 4, kl);
		ok(rc == STORE_OK && kl[0].n == 2 && kl[0].keys[0]->id == 1 &&
		    kl[0].keys[1]->id == EXTRA_KEY_ID &&
		    kl[0].keys[1]->status == 1 &&
		    strcmp(kl[0].keys[1]->label, "second") == 0 &&
		    kl[1].n == 1 && kl[3].n == 0,
		    "%s: keys by project, any status", when);
		b = stats();
		if (pass == 1)
			is_long((long)(b.sql_queries - a.sql_queries), 0,
			    "warm: all of it without a query");
		else
			diag("cold: %lu queries, %lu multi-gets",
			    b.sql_queries - a.sql_queries,
			    b.cache_gets - a.cache_gets);
	}
	req_end();
}

/*
 * The reads of one project-config request for n public keys: keys, their
 * projects, organizations, options, and the projects' key lists.
 */
static int
config_request(size_t n, struct store_stats *delta, long *com)
{
	const char **pks = calloc(n, sizeof(*pks));
	char (*buf)[33] = calloc(n, sizeof(*buf));
	const struct model_projectkey **keys = calloc(n, sizeof(*keys));
	const struct model_project **projects = calloc(n, sizeof(*projects));
	const struct model_org **orgs = calloc(n, sizeof(*orgs));
	json_object **po = calloc(n, sizeof(*po)), **oo = calloc(n, sizeof(*oo));
	struct store_keylist *kl = calloc(n, sizeof(*kl));
	int64_t *pids = calloc(n, sizeof(*pids)), *oids = calloc(n, sizeof(*oids));
	struct store_stats a, b;
	long c0, c1;
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		pubkey(buf[i], (long)i + 1);
		pks[i] = buf[i];
	}
	c0 = com_select();
	a = stats();
	bad |= store_projectkeys_by_public_keys(st, pks, n, keys);
	for (size_t i = 0; i < n; i++) {
		if (keys[i] == NULL || keys[i]->id != (int64_t)i + 1)
			bad |= 1;
		pids[i] = keys[i] != NULL ? keys[i]->project_id : 0;
	}
	bad |= store_projects_by_ids(st, pids, n, projects);
	for (size_t i = 0; i < n; i++)
		oids[i] = projects[i] != NULL ? projects[i]->organization_id : 0;
	bad |= store_orgs_by_ids(st, oids, n, orgs);
	bad |= store_project_options(st, pids, n, po);
	bad |= store_org_options(st, oids, n, oo);
	bad |= store_projectkeys_by_project_ids(st, pids, n, kl);
	for (size_t i = 0; i < n; i++)
		if (orgs[i] == NULL || po[i] == NULL || oo[i] == NULL ||
		    kl[i].n == 0)
			bad |= 1;
	b = stats();
	c1 = com_select();
	delta->sql_queries = b.sql_queries - a.sql_queries;
	delta->cache_gets = b.cache_gets - a.cache_gets;
	/* Our own SHOW STATUS is not a SELECT; nothing else runs. */
	*com = c1 - c0;
	free(pks); free(buf); free(keys); free(projects); free(orgs);
	free(po); free(oo); free(kl); free(pids); free(oids);
	return bad;
}

static void
test_query_count(void)
{
	static const size_t sizes[] = { 1, 10, 100, 500 };
	unsigned long cold_q = 0, warm_q = 0, cold_g = 0, warm_g = 0;
	bool same = true;

	diag("queries per request, 1 to %d keys", NPROJ);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct store_stats cold, warm;
		long com_cold, com_warm;
		int bad;

		/* Every key cached once, then invalidate --all: cold as a
		 * running server's cache is after it. */
		req_end();
		bad = config_request(sizes[s], &cold, &com_cold);
		req_end();
		store_invalidate(st, STORE_SCOPE_ALL, 0, NULL);
		req_end();
		bad |= config_request(sizes[s], &cold, &com_cold);
		req_end();
		bad |= config_request(sizes[s], &warm, &com_warm);
		req_end();
		ok(bad == 0, "%zu keys: every answer right, cold and warm",
		    sizes[s]);
		diag("%zu keys: cold %lu queries (Com_select %ld), %lu "
		    "multi-gets; warm %lu queries, %lu multi-gets", sizes[s],
		    cold.sql_queries, com_cold, cold.cache_gets,
		    warm.sql_queries, warm.cache_gets);
		ok((long)cold.sql_queries == com_cold &&
		    (long)warm.sql_queries == com_warm,
		    "%zu keys: the store's count agrees with Com_select",
		    sizes[s]);
		if (s == 0) {
			cold_q = cold.sql_queries;
			warm_q = warm.sql_queries;
			cold_g = cold.cache_gets;
			warm_g = warm.cache_gets;
		} else if (cold.sql_queries != cold_q ||
		    warm.sql_queries != warm_q || cold.cache_gets != cold_g ||
		    warm.cache_gets != warm_g)
			same = false;
	}
	ok(same, "queries and multi-gets do not grow with the keys");
	/* keys, projects, organizations, project options, template
	 * options, organization options, key lists.  After invalidate --all
	 * the key rows' copies of the old generation are still in
	 * memcached; their old pointers name them, so they are leased
	 * before MariaDB is read (one multi-get), and not read again */
	is_long((long)cold_q, 7, "cold: one query per model");
	is_long((long)warm_q, 0, "warm: no query");
	is_long((long)cold_g, 7, "cold: seven multi-gets");
	is_long((long)warm_g, 7, "warm: seven multi-gets (pointers, then rows)");
}

/* The stored option value of project pid, "" when it has none. */
static void
option_value(int64_t pid, const char *key, char *out, size_t len)
{
	MYSQL_RES *r;
	MYSQL_ROW row;

	out[0] = '\0';
	sql("SELECT value FROM sentry_projectoptions WHERE project_id = %"
	    PRId64 " AND `key` = '%s'", pid, key);
	r = mysql_store_result(my);
	if ((row = mysql_fetch_row(r)) != NULL && row[0] != NULL)
		snprintf(out, len, "%s", row[0]);
	mysql_free_result(r);
}

/*
 * store_revs_claim, by its contract (store_rev.h): one transaction for
 * the batch (the projects locked, their pairs read, one upsert); a
 * project without a pair gets (rev, now); one whose stored rev is already
 * rev keeps its time, unless forced; a project that does not exist gets
 * now and no row; bad arguments write nothing.
 */
static void
test_revs_claim(void)
{
	static const char rev_a[] = "0123456789abcdef0123456789abcdef";
	static const char rev_b[] = "fedcba9876543210fedcba9876543210";
	static const char t0[] = "2026-01-02T03:04:05.000006Z";
	static const char now[] = "2026-12-06T07:00:00.123456Z";
	const int64_t ids[] = { 3, 4, 999999 };
	const char *revs[] = { rev_a, rev_b, rev_a };
	const int64_t twice[] = { 3, 3 };
	const char *other[] = { rev_b, rev_b };
	struct store_rev out[3];
	struct store_stats before, after;
	char v[64];
	int rc;

	sql("DELETE FROM sentry_projectoptions WHERE project_id IN (3, 4) AND "
	    "`key` IN ('" STORE_REV_KEY "', '" STORE_REV_TIME_KEY "')");
	sql("INSERT INTO sentry_projectoptions (project_id, `key`, value) "
	    "VALUES (4, '" STORE_REV_KEY "', '\"%s\"'), (4, '"
	    STORE_REV_TIME_KEY "', '\"%s\"')", rev_b, t0);
	memset(out, 0, sizeof(out));
	before = stats();
	rc = store_revs_claim(st, ids, revs, NULL, 3, now, out);
	after = stats();
	ok(rc == STORE_OK, "claim: STORE_OK");
	is_long((long)(after.sql_queries - before.sql_queries), 5,
	    "claim: begin, lock, read, one upsert, commit for three projects");
	ok(strcmp(out[0].rev, rev_a) == 0 &&
	    strcmp(out[0].last_change, now) == 0,
	    "claim: a project without a pair gets (rev, now)");
	option_value(3, STORE_REV_TIME_KEY, v, sizeof(v));
	ok(strcmp(v, "\"2026-12-06T07:00:00.123456Z\"") == 0,
	    "claim: ... written as a JSON string (%s)", v);
	ok(strcmp(out[1].last_change, t0) == 0,
	    "claim: a stored pair with this rev keeps its time");
	option_value(4, STORE_REV_TIME_KEY, v, sizeof(v));
	ok(strcmp(v, "\"2026-01-02T03:04:05.000006Z\"") == 0,
	    "claim: ... and its row (%s)", v);
	ok(strcmp(out[2].last_change, now) == 0,
	    "claim: a project that does not exist gets now");
	option_value(999999, STORE_REV_KEY, v, sizeof(v));
	ok(v[0] == '\0', "claim: ... and no row");

	/* Forced: this rev, and now, whatever time stood beside it. */
	{
		const bool force[] = { true };

		rc = store_revs_claim(st, ids + 1, revs + 1, force, 1, now,
		    out);
		option_value(4, STORE_REV_TIME_KEY, v, sizeof(v));
		ok(rc == STORE_OK && strcmp(out[0].last_change, now) == 0 &&
		    strcmp(v, "\"2026-12-06T07:00:00.123456Z\"") == 0,
		    "claim: forced, the same rev gets now written (%s)", v);
	}

	/* Refused claims would move project 3 to rev_b: they must not. */
	snprintf(out[0].rev, sizeof(out[0].rev), "untouched");
	rc = store_revs_claim(st, twice, other, NULL, 1, "yesterday", out);
	ok(rc == STORE_ERROR && strcmp(out[0].rev, "untouched") == 0,
	    "claim: a time of another shape is refused, out untouched");
	rc = store_revs_claim(st, twice, other, NULL, 2, now, out);
	ok(rc == STORE_ERROR, "claim: a project twice is refused");
	option_value(3, STORE_REV_KEY, v, sizeof(v));
	ok(strcmp(v, "\"0123456789abcdef0123456789abcdef\"") == 0,
	    "claim: ... nothing written by either");
}

/*
 * store_revs_add, by its contract (store_rev.h): projects without a pair
 * get both options in one statement and are settled; a pair of this
 * revision that stood already is read on the primary and settles its
 * project too; another revision, half a pair or a project that does not
 * exist are left to the claim, forced where the rev was added beside a
 * time that stood; out is set only for settled projects; bad arguments
 * write nothing.
 */
static void
test_revs_add(void)
{
	static const char rev_a[] = "0123456789abcdef0123456789abcdef";
	static const char rev_b[] = "fedcba9876543210fedcba9876543210";
	static const char now[] = "2026-12-06T08:00:00.000001Z";
	static const char later[] = "2026-12-06T09:00:00.000002Z";
	const int64_t ids[] = { 6, 5 }, gone[] = { 7, 999999 };
	const int64_t twice[] = { 8, 8 };
	const char *revs[] = { rev_a, rev_b }, *swapped[] = { rev_b, rev_a };
	struct store_rev out[2];
	struct store_stats before, after;
	bool settled[2], force[2];
	char v[64];
	int rc;

	sql("DELETE FROM sentry_projectoptions WHERE project_id IN "
	    "(5, 6, 7, 8) AND `key` IN ('" STORE_REV_KEY "', '"
	    STORE_REV_TIME_KEY "')");
	memset(out, 0, sizeof(out));
	before = stats();
	rc = store_revs_add(st, ids, revs, 2, now, out, settled, force);
	after = stats();
	ok(rc == STORE_OK && settled[0] && settled[1] && !force[0] &&
	    !force[1], "add: two projects without a pair, both settled");
	is_long((long)(after.sql_queries - before.sql_queries), 1,
	    "add: one statement for both projects");
	ok(strcmp(out[0].rev, rev_a) == 0 &&
	    strcmp(out[0].last_change, now) == 0 &&
	    strcmp(out[1].rev, rev_b) == 0, "add: out is (rev, now), in order");
	option_value(6, STORE_REV_KEY, v, sizeof(v));
	ok(strcmp(v, "\"0123456789abcdef0123456789abcdef\"") == 0,
	    "add: project 6's rev, a JSON string (%s)", v);
	option_value(5, STORE_REV_TIME_KEY, v, sizeof(v));
	ok(strcmp(v, "\"2026-12-06T08:00:00.000001Z\"") == 0,
	    "add: project 5's time (%s)", v);

	/* The same revisions again, as a worker that came second: read on
	 * the primary, settled with the time that stands. */
	memset(out, 0, sizeof(out));
	before = stats();
	rc = store_revs_add(st, ids, revs, 2, later, out, settled, force);
	after = stats();
	ok(rc == STORE_OK && settled[0] && settled[1] &&
	    strcmp(out[1].last_change, now) == 0,
	    "add: this revision there already: settled with its stored time");
	is_long((long)(after.sql_queries - before.sql_queries), 2,
	    "add: ... the insert and one read");
	option_value(5, STORE_REV_TIME_KEY, v, sizeof(v));
	ok(strcmp(v, "\"2026-12-06T08:00:00.000001Z\"") == 0,
	    "add: ... the stored time kept (%s)", v);

	/* Other revisions there: left to the claim, out untouched. */
	snprintf(out[0].rev, sizeof(out[0].rev), "untouched");
	rc = store_revs_add(st, ids, swapped, 2, later, out, settled, force);
	ok(rc == STORE_OK && !settled[0] && !settled[1] && !force[0] &&
	    strcmp(out[0].rev, "untouched") == 0,
	    "add: another revision there: not settled, out untouched");

	/* Half a pair, the time missing: added, left to the claim. */
	sql("DELETE FROM sentry_projectoptions WHERE project_id = 6 AND "
	    "`key` = '" STORE_REV_TIME_KEY "'");
	rc = store_revs_add(st, ids, revs, 1, later, out, settled, force);
	ok(rc == STORE_OK && !settled[0] && !force[0],
	    "add: the time missing: not settled, not forced");
	option_value(6, STORE_REV_TIME_KEY, v, sizeof(v));
	ok(strcmp(v, "\"2026-12-06T09:00:00.000002Z\"") == 0,
	    "add: ... the time written (%s)", v);
	/* The rev missing: added beside a time that is not its own. */
	sql("DELETE FROM sentry_projectoptions WHERE project_id = 6 AND "
	    "`key` = '" STORE_REV_KEY "'");
	rc = store_revs_add(st, ids, revs, 1, now, out, settled, force);
	ok(rc == STORE_OK && !settled[0] && force[0],
	    "add: the rev missing: not settled, forced (its time is not ours)");

	/* A project that does not exist: its rows are refused (the foreign
	 * key, ignored), the other project's added. */
	rc = store_revs_add(st, gone, revs, 2, now, out, settled, force);
	ok(rc == STORE_OK && settled[0] && !settled[1] && !force[1],
	    "add: a project that does not exist: not settled, no error");
	option_value(999999, STORE_REV_KEY, v, sizeof(v));
	ok(v[0] == '\0', "add: ... no row for it");
	option_value(7, STORE_REV_KEY, v, sizeof(v));
	ok(strcmp(v, "\"0123456789abcdef0123456789abcdef\"") == 0,
	    "add: ... the other project's rows added (%s)", v);

	rc = store_revs_add(st, twice, revs, 1, "yesterday", out, settled,
	    force);
	ok(rc == STORE_ERROR && !settled[0],
	    "add: a time of another shape is refused");
	rc = store_revs_add(st, twice, revs, 2, now, out, settled, force);
	ok(rc == STORE_ERROR && !settled[0] && !settled[1],
	    "add: a project twice is refused");
	option_value(8, STORE_REV_KEY, v, sizeof(v));
	ok(v[0] == '\0', "add: ... nothing written by either");
}

/*
 * config_key - where a computed config of kind cfgz/cfgr lives: one key
 * per public key whatever the settings (cache.h), spelled out here.
 */
static void
config_key(char *buf, size_t len, const char *kind, const char *pk)
{
	snprintf(buf, len, "relaycfg:1:%s:%s", kind, pk);
}

/* A fake computed config and its rev entry, to see who deletes them. */
static void
plant_config(const char *pk)
{
	char key[CACHE_KEY_MAX];

	config_key(key, sizeof(key), "cfgz", pk);
	mc_set_framed(key, "cfgz", "{\"disabled\":false}");
	config_key(key, sizeof(key), "cfgr", pk);
	mc_set_framed(key, "cfgr", "1 -");
}

/* Both gone (one left behind could answer "unchanged" wrongly). */
static bool
config_gone(const char *pk)
{
	char key[CACHE_KEY_MAX], rkey[CACHE_KEY_MAX];

	config_key(key, sizeof(key), "cfgz", pk);
	config_key(rkey, sizeof(rkey), "cfgr", pk);
	return !mc_has(key) && !mc_has(rkey);
}

/* Read it, read it again from cache (no query): it is cached. */
#define WARM(stmt) do { \
	req_end(); stmt; req_end(); \
	struct store_stats w0 = stats(); stmt; struct store_stats w1 = stats(); \
	if (w1.sql_queries != w0.sql_queries) \
		diag("not warm: %lu queries", w1.sql_queries - w0.sql_queries); \
	req_end(); \
} while (0)

static void
test_writes(void)
{
	const struct model_org *o = NULL;
	const struct model_project *p = NULL;
	const struct model_projectkey *k = NULL;
	const struct model_relay *r = NULL;
	json_object *opts = NULL;
	struct store_keylist kl;
	char pk3[33], pk6[33], pk8[33], pk13[33];
	const char *rid = "6f1b2e3c-1234-4abc-8def-0123456789ab";
	int64_t id3 = 3, id6 = 6, id8 = 8, org3 = 3, tid = 1, rel = 0;
	int rc;

	pubkey(pk3, 3);
	pubkey(pk6, 6);
	pubkey(pk8, 8);
	pubkey(pk13, 13);
	diag("every write invalidates what it changes");

	WARM(store_orgs_by_ids(st, &org3, 1, &o));
	plant_config(pk3);
	plant_config(pk8);	/* project 8 is in organization 3 */
	rc = store_org_update(st, 3, &(struct store_org_patch){ NULL,
	    "Renamed", 1 });
	store_orgs_by_ids(st, &org3, 1, &o);
	ok(rc == STORE_OK && o != NULL && strcmp(o->name, "Renamed") == 0 &&
	    o->status == 1, "org update: read sees the new row");
	ok(config_gone(pk3) && config_gone(pk8),
	    "org update: the organization's configs are dropped");
	req_end();

	WARM(store_org_options(st, &org3, 1, &opts));
	plant_config(pk13);
	rc = store_option_set(st, STORE_OWNER_ORG, 3, "org", "{\"x\": [1, 2]}");
	store_org_options(st, &org3, 1, &opts);
	ok(rc == STORE_OK && opts != NULL &&
	    strcmp(json_object_to_json_string_ext(json_object_object_get(opts,
	    "org"), JSON_C_TO_STRING_PLAIN), "{\"x\":[1,2]}") == 0,
	    "org option set: read sees the new value");
	ok(config_gone(pk13), "org option set: configs dropped");
	req_end();
	plant_config(pk13);
	rc = store_option_set(st, STORE_OWNER_ORG, 3, "org", "{\"x\":[1,2]}");
	ok(rc == STORE_OK && !config_gone(pk13),
	    "an unchanged option invalidates nothing");
	rc = store_option_set(st, STORE_OWNER_ORG, 3, "nope", NULL);
	ok(rc == STORE_NOT_FOUND, "unset of an unset option: not found");
	rc = store_option_set(st, STORE_OWNER_ORG, 3, "bad", "{x");
	ok(rc == STORE_INVALID, "a value that is not JSON is refused");
	/* json-c alone takes these; Sentry's and Relay's parsers do not. */
	rc = store_option_set(st, STORE_OWNER_ORG, 3, "bad", "NaN");
	ok(rc == STORE_INVALID, "NaN is not JSON");
	rc = store_option_set(st, STORE_OWNER_ORG, 3, "bad", "{'a':1}");
	ok(rc == STORE_INVALID, "a single-quoted string is not JSON");
	rc = store_option_set(st, STORE_OWNER_ORG, 3, "bad", "1.");
	ok(rc == STORE_INVALID, "1. is not JSON");
	/* json-c would store 18446744073709551615 for this one */
	rc = store_option_set(st, STORE_OWNER_ORG, 3, "bad",
	    "[100000000000000000000]");
	ok(rc == STORE_INVALID, "an integer beyond 64 bits is refused");
	rc = store_option_set(st, STORE_OWNER_ORG, 3, "bad key", "1");
	ok(rc == STORE_INVALID, "a key with a space is refused");
	rc = store_option_set(st, STORE_OWNER_ORG, 424242, "x", "1");
	ok(rc == STORE_NOT_FOUND, "an option of a missing owner: not found");
	req_end();

	WARM(store_projects_by_ids(st, &id6, 1, &p));
	WARM(store_project_options(st, &id6, 1, &opts));
	plant_config(pk6);
	rc = store_project_update(st, 6, &(struct store_project_patch){
	    .slug = "p6b", .status = 1, .set_platform = true,
	    .platform = "python", .set_template = true, .template_id = 0 });
	store_projects_by_ids(st, &id6, 1, &p);
	ok(rc == STORE_OK && p != NULL && strcmp(p->slug, "p6b") == 0 &&
	    p->status == 1 && p->template_id == 0 &&
	    strcmp(p->platform, "python") == 0,
	    "project update: read sees the new row");
	store_project_options(st, &id6, 1, &opts);
	ok(opts != NULL && opt_str(opts, "tmpl") == NULL &&
	    strcmp(opt_str(opts, "shared"), "project-6") == 0,
	    "project update: the template fallback is gone");
	ok(config_gone(pk6), "project update: its keys' configs dropped");
	req_end();
	rc = store_project_update(st, 6, &(struct store_project_patch){
	    .status = -1, .set_template = true, .template_id = 1 });
	ok(rc == STORE_OK, "project update: template back");
	rc = store_project_update(st, 7, &(struct store_project_patch){
	    .status = -1, .set_template = true, .template_id = 1 });
	ok(rc == STORE_INVALID, "a template of another organization is "
	    "refused");
	req_end();

	WARM(store_project_options(st, &id6, 1, &opts));
	rc = store_option_set(st, STORE_OWNER_PROJECT, 6, "new", "\"v\"");
	store_project_options(st, &id6, 1, &opts);
	ok(rc == STORE_OK && strcmp(opt_str(opts, "new"), "v") == 0,
	    "project option set: read sees it");
	req_end();
	rc = store_option_set(st, STORE_OWNER_PROJECT, 6, "new", NULL);
	store_project_options(st, &id6, 1, &opts);
	ok(rc == STORE_OK && opt_str(opts, "new") == NULL,
	    "project option unset: read sees it gone");
	req_end();

	WARM(store_project_options(st, &id6, 1, &opts));
	plant_config(pk6);
	rc = store_option_set(st, STORE_OWNER_TEMPLATE, 1, "tmpl", "\"t2\"");
	store_project_options(st, &id6, 1, &opts);
	ok(rc == STORE_OK && strcmp(opt_str(opts, "tmpl"), "t2") == 0,
	    "template option set: the project's merged options change");
	ok(config_gone(pk6), "template option set: configs of its projects "
	    "dropped");
	req_end();

	WARM(k = key_by_pk(pk8, NULL));
	WARM(store_projectkeys_by_project_ids(st, &id8, 1, &kl));
	plant_config(pk8);
	rc = store_key_update(st, pk8, &(struct store_key_patch){
	    .set_label = true, .label = "lbl", .status = 1,
	    .set_rate_limit = true, .has_rate_limit = true,
	    .rate_limit_count = 10, .rate_limit_window = 60 });
	k = key_by_pk(pk8, NULL);
	ok(rc == STORE_OK && k != NULL && k->status == 1 &&
	    k->has_rate_limit && k->rate_limit_count == 10 &&
	    k->rate_limit_window == 60 && strcmp(k->label, "lbl") == 0,
	    "key update: read by public key sees it");
	store_projectkeys_by_project_ids(st, &id8, 1, &kl);
	ok(kl.n == 1 && kl.keys[0]->status == 1,
	    "key update: the project's key list sees it");
	ok(config_gone(pk8), "key update: its config dropped");
	req_end();
	/* Sentry's columns hold at most 2^31-1. */
	rc = store_key_update(st, pk8, &(struct store_key_patch){
	    .status = -1, .set_rate_limit = true, .has_rate_limit = true,
	    .rate_limit_count = (int64_t)INT32_MAX + 1,
	    .rate_limit_window = 60 });
	ok(rc == STORE_INVALID, "key update: a count past 2^31-1 is refused");
	rc = store_key_update(st, pk8, &(struct store_key_patch){
	    .status = -1, .set_rate_limit = true, .has_rate_limit = true,
	    .rate_limit_count = 1, .rate_limit_window = (int64_t)INT32_MAX + 1 });
	ok(rc == STORE_INVALID, "key update: a window past 2^31-1 is refused");
	req_end();
	rc = store_key_delete(st, pk8);
	k = key_by_pk(pk8, NULL);
	store_projectkeys_by_project_ids(st, &id8, 1, &kl);
	ok(rc == STORE_OK && k == NULL && kl.n == 0,
	    "key delete: gone by public key and from the list");
	req_end();
	ok(store_key_delete(st, pk8) == STORE_NOT_FOUND,
	    "deleting it twice: not found");

	/* Template delete: projects lose the fallback. */
	WARM(store_project_options(st, &id6, 1, &opts));
	WARM(store_projects_by_ids(st, &id6, 1, &p));
	rc = store_template_delete(st, 1);
	store_projects_by_ids(st, &id6, 1, &p);
	store_project_options(st, &id6, 1, &opts);
	ok(rc == STORE_OK && p != NULL && p->template_id == 0 &&
	    opt_str(opts, "tmpl") == NULL,
	    "template delete: projects and their options fall back");
	store_template_options(st, &tid, 1, &opts);
	ok(opts != NULL && json_object_object_length(opts) == 0,
	    "template delete: its options are gone");
	req_end();

	/* Project delete cascades to keys and options. */
	WARM(store_projects_by_ids(st, &id3, 1, &p));
	WARM(k = key_by_pk(pk3, NULL));
	rc = store_project_delete(st, 3);
	store_projects_by_ids(st, &id3, 1, &p);
	k = key_by_pk(pk3, NULL);
	ok(rc == STORE_OK && p == NULL && k == NULL,
	    "project delete: the project and its keys are gone");
	req_end();

	/* Organization delete cascades. */
	WARM(store_orgs_by_ids(st, &org3, 1, &o));
	WARM(store_projects_by_ids(st, &id8, 1, &p));
	rc = store_org_delete(st, 3);
	store_orgs_by_ids(st, &org3, 1, &o);
	store_projects_by_ids(st, &id8, 1, &p);
	ok(rc == STORE_OK && o == NULL && p == NULL,
	    "org delete: the organization and its projects are gone");
	req_end();

	/* Relays: admin create/update/delete, registration. */
	WARM(store_relays_by_relay_ids(st, &rid, 1, &r));
	rc = store_relay_create(st, rid, "pk0000000000000000000000000000000000000000a",
	    false, &rel);
	store_relays_by_relay_ids(st, &rid, 1, &r);
	ok(rc == STORE_OK && r != NULL && r->id == rel && !r->is_internal,
	    "relay create: seen at once (the negative entry is gone)");
	req_end();
	WARM(store_relays_by_ids(st, &rel, 1, &r));
	rc = store_relay_register(st, rid,
	    "pk0000000000000000000000000000000000000000a", true, "23.4.0");
	store_relays_by_relay_ids(st, &rid, 1, &r);
	ok(rc == STORE_OK && r != NULL && r->is_internal,
	    "relay register: is_internal updated, seen by relay_id");
	store_relays_by_ids(st, &rel, 1, &r);
	ok(r != NULL && r->is_internal, "relay register: and by id");
	req_end();
	rc = store_relay_register(st, rid,
	    "pk0000000000000000000000000000000000000000a", true, "23.4.0");
	{
		MYSQL_RES *res;
		MYSQL_ROW row;

		sql("SELECT COUNT(*), MIN(version) FROM sentry_relayusage "
		    "WHERE relay_id = '%s'", rid);
		res = mysql_store_result(my);
		row = mysql_fetch_row(res);
		ok(rc == STORE_OK && row != NULL && strcmp(row[0], "1") == 0 &&
		    strcmp(row[1], "23.4.0") == 0,
		    "relay register twice: one relayusage row (upsert)");
		mysql_free_result(res);
	}
	rc = store_relay_update(st, rid, &(struct store_relay_patch){ NULL, 0 });
	store_relays_by_relay_ids(st, &rid, 1, &r);
	ok(rc == STORE_OK && r != NULL && !r->is_internal,
	    "relay update: seen");
	req_end();
	rc = store_relay_delete(st, rid);
	store_relays_by_relay_ids(st, &rid, 1, &r);
	ok(rc == STORE_OK && r == NULL, "relay delete: gone");
	req_end();
}

/* Writers that change MariaDB directly, then relaycfgctl invalidate. */
static void
test_invalidate(void)
{
	const struct model_org *o = NULL;
	const struct model_project *p = NULL;
	const struct model_projectkey *k = NULL;
	struct store_keylist kl;
	json_object *opts = NULL;
	char pk4[33], pk9[33], pk14[33];
	int64_t org4 = 4, id4 = 4, id9 = 9, id14 = 14;

	pubkey(pk4, 4);
	pubkey(pk9, 9);
	pubkey(pk14, 14);
	diag("store_invalidate after direct writes");

	WARM(store_projects_by_ids(st, &id9, 1, &p));
	WARM(store_project_options(st, &id9, 1, &opts));
	sql("UPDATE sentry_project SET name = 'direct' WHERE id = 9");
	sql("INSERT INTO sentry_projectoptions (project_id, `key`, value) "
	    "VALUES (9, 'direct', 'true')");
	store_projects_by_ids(st, &id9, 1, &p);
	ok(p != NULL && strcmp(p->name, "Project 9") == 0,
	    "a direct write is not seen while cached");
	req_end();
	plant_config(pk9);
	ok(store_invalidate(st, STORE_SCOPE_PROJECT, 9, NULL) == STORE_OK,
	    "store_invalidate(PROJECT)");
	store_projects_by_ids(st, &id9, 1, &p);
	store_project_options(st, &id9, 1, &opts);
	ok(p != NULL && strcmp(p->name, "direct") == 0 &&
	    opt_str(opts, "direct") != NULL && config_gone(pk9),
	    "project scope: row, options and configs fresh");
	req_end();

	/* A key deleted directly is dropped from its project's list too,
	 * found through the cached list. */
	WARM(store_projectkeys_by_project_ids(st, &id14, 1, &kl));
	WARM(k = key_by_pk(pk14, NULL));
	sql("DELETE FROM sentry_projectkey WHERE id = 14");
	ok(store_invalidate(st, STORE_SCOPE_KEY, 0, pk14) == STORE_OK,
	    "store_invalidate(KEY) of a row deleted directly");
	k = key_by_pk(pk14, NULL);
	store_projectkeys_by_project_ids(st, &id14, 1, &kl);
	ok(k == NULL && kl.n == 0, "key scope: gone by key and from the list");
	req_end();

	WARM(store_orgs_by_ids(st, &org4, 1, &o));
	WARM(store_projects_by_ids(st, &id4, 1, &p));
	WARM(k = key_by_pk(pk4, NULL));
	sql("UPDATE sentry_organization SET status = 1 WHERE id = 4");
	sql("UPDATE sentry_project SET status = 1 WHERE id = 4");
	sql("UPDATE sentry_projectkey SET status = 1 WHERE id = 4");
	plant_config(pk4);
	ok(store_invalidate(st, STORE_SCOPE_ORG, 4, NULL) == STORE_OK,
	    "store_invalidate(ORG)");
	store_orgs_by_ids(st, &org4, 1, &o);
	store_projects_by_ids(st, &id4, 1, &p);
	k = key_by_pk(pk4, NULL);
	ok(o != NULL && o->status == 1 && p != NULL && p->status == 1 &&
	    k != NULL && k->status == 1 && config_gone(pk4),
	    "org scope: organization, projects, keys and configs fresh");
	req_end();

	WARM(store_orgs_by_ids(st, &org4, 1, &o));
	WARM(store_projects_by_ids(st, &id4, 1, &p));
	sql("UPDATE sentry_organization SET status = 0 WHERE id = 4");
	sql("UPDATE sentry_project SET status = 0 WHERE id = 4");
	ok(store_invalidate(st, STORE_SCOPE_ALL, 0, NULL) == STORE_OK &&
	    !store_cache_stale(st), "store_invalidate(ALL)");
	store_orgs_by_ids(st, &org4, 1, &o);
	store_projects_by_ids(st, &id4, 1, &p);
	ok(o != NULL && o->status == 0 && p != NULL && p->status == 0,
	    "all: everything fresh (new generation)");
	req_end();
	ok(store_invalidate(st, STORE_SCOPE_PROJECT, 0, NULL) == STORE_INVALID,
	    "a bad scope argument is refused");
}

/* The memcached -vv log so far, NUL-terminated (caller frees). */
static char *
read_mc_log(size_t *lenp)
{
	char buf[65536], *log = NULL, *grown;
	size_t len = 0, got;
	FILE *fp;

	if ((fp = fopen(getenv("MC_LOG"), "r")) == NULL)
		return NULL;
	while ((got = fread(buf, 1, sizeof(buf), fp)) > 0) {
		if ((grown = realloc(log, len + got + 1)) == NULL)
			break;
		log = grown;
		memcpy(log + len, buf, got);
		len += got;
	}
	fclose(fp);
	if (log != NULL)
		log[len] = '\0';
	*lenp = len;
	return log;
}

/*
 * The memcached -vv log once needle shows in it past byte from, or as it
 * stands after 10 s (the caller's checks then fail).  memcached logs a
 * command when a worker thread takes it, and a noreply command has no
 * answer to wait for: a fixed pause was a guess that a loaded machine
 * could outrun.
 */
static char *
wait_mc_log(size_t from, const char *needle, size_t *lenp)
{
	char *log = NULL;

	for (int i = 0; i < 500; i++) {
		free(log);
		if ((log = read_mc_log(lenp)) != NULL && *lenp >= from &&
		    strstr(log + from, needle) != NULL)
			break;
		usleep(20000);
	}
	return log;
}

static bool
log_has(const char *s)
{
	size_t len;
	char *log = wait_mc_log(0, s, &len);
	bool found = log != NULL && strstr(log, s) != NULL;

	free(log);
	return found;
}

/*
 * An invalidation drops a project's rows before the configs built from
 * them, and every server has applied the rows' tombstones before the
 * configs' are sent (inv_flush, store_invalidate.c).  In memcached's own
 * log: the options' tombstone, then a read (the barrier), then the
 * config's tombstone.  The other way round, a request in between could
 * build the config from the options still cached and store it for good.
 */
static void
test_invalidate_order(void)
{
	char pk[33], cfg[CACHE_KEY_MAX], opts[CACHE_KEY_MAX];
	char want[CACHE_KEY_MAX + 8];
	const char *seg, *t_opts, *t_cfg, *barrier = NULL;
	size_t len0 = 0, len = 0;
	char *log;

	diag("invalidation order: rows, then the configs built from them");
	pubkey(pk, 9);
	config_key(cfg, sizeof(cfg), "cfgz", pk);
	snprintf(opts, sizeof(opts), "relaycfg:1:po:9");
	free(read_mc_log(&len0));
	ok(store_invalidate(st, STORE_SCOPE_PROJECT, 9, NULL) == STORE_OK &&
	    !store_cache_stale(st), "store_invalidate(PROJECT) of project 9");
	req_end();
	snprintf(want, sizeof(want), " set %s ", cfg);
	if ((log = wait_mc_log(len0, want, &len)) == NULL || len < len0) {
		ok(0, "memcached -vv log read");
		free(log);
		return;
	}
	seg = log + len0;
	snprintf(want, sizeof(want), " set %s ", opts);
	t_opts = strstr(seg, want);
	snprintf(want, sizeof(want), " set %s ", cfg);
	t_cfg = strstr(seg, want);
	if (t_opts != NULL)
		barrier = strstr(t_opts, " gets ");
	ok(t_opts != NULL && t_cfg != NULL,
	    "the options' and the config's tombstones reached memcached");
	ok(t_opts != NULL && t_cfg != NULL && t_opts < t_cfg &&
	    barrier != NULL && barrier < t_cfg, "the options' first, then a "
	    "read of the server, then the config's");
	free(log);
}

/*
 * A project's key list read after its invalidation's tombstone is written
 * back from the rows MariaDB just gave, even when the request holds an
 * older copy of a key row (read before the write): the list's write-back
 * goes over the tombstone with the cas read there, and stands.
 */
static void
test_keylist_after_tombstone(void)
{
	struct conf *c2;
	struct store *s2;
	struct store_keylist kl;
	const struct model_projectkey *k;
	char pk[33], err[256];
	int64_t id = 37;

	diag("a key list written back after its tombstone");
	pubkey(pk, 37);
	req_end();
	k = key_by_pk(pk, NULL);		/* the request's copy: active */
	ok(k != NULL && k->status == 0, "key 37 read: active");
	/* Another process writes and invalidates meanwhile. */
	c2 = conf_load(getenv("STORE_TEST_CONF"), err, sizeof(err));
	s2 = c2 != NULL ? store_open(c2, err, sizeof(err)) : NULL;
	if (s2 == NULL) {
		ok(0, "a second store: %s", err);
		conf_free(c2);
		return;
	}
	sql("UPDATE sentry_projectkey SET status = 1 WHERE id = 37");
	ok(store_invalidate(s2, STORE_SCOPE_KEY, 0, pk) == STORE_OK &&
	    !store_cache_stale(s2), "the write's invalidation (another store)");
	store_close(s2);
	conf_free(c2);
	/* The same request reads the list: the tombstone, then MariaDB. */
	(void)store_projectkeys_by_project_ids(st, &id, 1, &kl);
	req_end();
	st->mode = READ_CACHE_ONLY;
	(void)store_projectkeys_by_project_ids(st, &id, 1, &kl);
	ok(kl.n == 1 && kl.keys[0]->status == 1, "memcached's list has the "
	    "row as written (status %d), not the request's older copy",
	    kl.n == 1 ? kl.keys[0]->status : -1);
	st->mode = READ_NORMAL;
	req_end();
	sql("UPDATE sentry_projectkey SET status = 0 WHERE id = 37");
	(void)store_invalidate(st, STORE_SCOPE_KEY, 0, pk);
	req_end();
}

/* Strings that must never reach memcached as they are. */
static void
test_unsafe_keys(void)
{
	static const char *const evil[] = {
		"abc def",
		"abc\001def",
		"x\r\nset evil 0 0 1\r\nX",
		"0123456789ABCDEF0123456789ABCDEF",
		"\xff\xfe",
		"",
	};
	const size_t n = sizeof(evil) / sizeof(evil[0]);
	const struct model_projectkey *k[sizeof(evil) / sizeof(evil[0])];
	const struct model_relay *r[sizeof(evil) / sizeof(evil[0])];
	char hashed[CACHE_KEY_MAX], *log = NULL;
	struct cache *c;
	size_t len = 0;
	char err[128];
	int rc;

	diag("memcached-unsafe input");
	req_end();
	rc = store_projectkeys_by_public_keys(st, (const char *const *)evil, n, k);
	ok(rc == STORE_OK, "odd public keys: answered");
	ok(k[0] == NULL && k[1] == NULL && k[2] == NULL && k[3] == NULL &&
	    k[4] == NULL && k[5] == NULL, "odd public keys: none found");
	rc = store_relays_by_relay_ids(st, (const char *const *)evil, n, r);
	ok(rc == STORE_OK && r[0] == NULL, "odd relay ids: answered, none");
	req_end();
	ok(store_invalidate(st, STORE_SCOPE_KEY, 0, evil[0]) == STORE_OK &&
	    store_invalidate(st, STORE_SCOPE_KEY, 0, evil[2]) == STORE_OK,
	    "invalidating odd keys works");
	req_end();
	if ((c = cache_new(conf, err, sizeof(err))) == NULL) {
		ok(0, "a cache to name the keys: %s", err);
		return;
	}
	cache_key_config(c, hashed, sizeof(hashed), "abc def");
	log = wait_mc_log(0, hashed, &len);
	ok(log != NULL && len > 0, "memcached -vv log read (%zu bytes)", len);
	if (log == NULL) {
		cache_free(c);
		return;
	}
	ok(strstr(log, "abc def") == NULL && strstr(log, "abc\001") == NULL &&
	    strstr(log, "evil") == NULL && strstr(log, "\xff\xfe") == NULL &&
	    strstr(log, "0123456789ABCDEF") == NULL,
	    "no odd string reached memcached");
	cache_key_str(c, hashed, sizeof(hashed), "kp", "abc def");
	ok(strstr(log, hashed) != NULL && strlen(hashed) == 47,
	    "it went as a digest: %s", hashed);
	cache_key_str(c, hashed, sizeof(hashed), "kp",
	    "0123456789ABCDEF0123456789ABCDEF");
	ok(strstr(log, hashed) != NULL, "upper-case hex too: %s", hashed);
	cache_key_config(c, hashed, sizeof(hashed), "abc def");
	ok(strstr(log, hashed) != NULL, "invalidation deleted the digest "
	    "config key");
	cache_free(c);
	free(log);
}

/* --- write-backs that an invalidation wins (cache_lease.c) ------------ */

/*
 * One request of cache c reading key: its payload (the caller frees it),
 * or NULL for a miss.  The request is left open: the caller may write
 * back before ending it with lease_end.
 */
static char *
lease_get(struct cache *c, const char *key)
{
	struct cache_value v[1];
	char *out = NULL;

	(void)cache_get_many(c, &key, 1, v);
	if (v[0].data != NULL)
		out = strndup(v[0].data, v[0].len);
	cache_values_free(v, 1);
	return out;
}

static void
lease_set(struct cache *c, const char *key, const char *payload)
{
	size_t len = strlen(payload);
	unsigned ttl = 60;

	(void)cache_set_many(c, &key, &payload, &len, &ttl, 1);
}

/*
 * End c's request once memcached has applied its writes: they are not
 * acknowledged, and memcached serves connections in parallel, so another
 * cache could read before them.  A round trip on c's connection comes
 * back only after them.
 */
static void
lease_end(struct cache *c)
{
	char key[CACHE_KEY_MAX];

	cache_key_id(c, key, sizeof(key), "lease", 999);
	free(lease_get(c, key));
	cache_request_end(c);
}

/* What a later request of c reads under key, compared with want (NULL:
 * a miss). */
static bool
lease_reads(struct cache *c, const char *key, const char *want)
{
	char *got = lease_get(c, key);
	bool same = want == NULL ? got == NULL :
	    got != NULL && strcmp(got, want) == 0;

	if (!same) {
		size_t len;
		char *raw = mc_get(key, &len);

		diag("%s: read %s, expected %s (memcached holds %s)", key,
		    got ? got : "a miss", want ? want : "a miss",
		    raw != NULL ? raw : "nothing");
		free(raw);
	}
	free(got);
	lease_end(c);
	return same;
}

/* Is key's raw value an invalidation's tombstone (after c's writes)? */
static bool
lease_tombstone(struct cache *c, const char *key)
{
	size_t len;
	char *v;
	bool tomb;

	free(lease_get(c, key));	/* c's writes are applied after this */
	lease_end(c);
	v = mc_get(key, &len);
	tomb = v != NULL && len == sizeof(CACHE_TOMBSTONE) - 1 &&
	    memcmp(v, CACHE_TOMBSTONE, len) == 0;
	free(v);
	return tomb;
}

/*
 * A write-back living longer than 30 days (ttl_config + ttl_config_stale
 * may reach 60): memcached reads such an exptime as a unix time, so sent
 * as seconds it expired at once.
 */
static void
test_write_back_long_ttl(void)
{
	static const unsigned ttls[] = { 30U * 86400, 30U * 86400 + 1,
	    3600U + 30U * 86400, 60U * 86400 };
	struct cache *a;
	char err[256], key[CACHE_KEY_MAX];
	const char *k = key, *payload = "long";
	size_t len = strlen(payload);

	diag("write-backs with ttls over 30 days");
	if ((a = cache_new(conf, err, sizeof(err))) == NULL) {
		ok(0, "cache: %s", err);
		return;
	}
	for (size_t i = 0; i < sizeof(ttls) / sizeof(ttls[0]); i++) {
		cache_key_id(a, key, sizeof(key), "lease", 950 + (int64_t)i);
		mc_del(key);
		free(lease_get(a, k));
		(void)cache_set_many(a, &k, &payload, &len, &ttls[i], 1);
		lease_end(a);
		ok(lease_reads(a, k, "long"), "ttl %u s: stored and read back",
		    ttls[i]);
		mc_del(key);
	}
	ok(cache_exptime(0, 1000) == 0 && cache_exptime(60, 1000) == 60 &&
	    cache_exptime(30U * 86400, 1000) == 30 * 86400 &&
	    cache_exptime(30U * 86400 + 1, 1000) == 1000 + 30 * 86400 + 1,
	    "cache_exptime: seconds up to 30 days, a unix time beyond");
	cache_free(a);
}

/* tag_put - write payload under key in a request of c of its own. */
static void
tag_put(struct cache *c, const char *key, const char *payload)
{
	mc_del(key);
	free(lease_get(c, key));
	lease_set(c, key, payload);
	lease_end(c);
}

/*
 * Computed configs and rev entries begin with the settings they were
 * built under (cache_config_tag): the cache answers ours without the tag,
 * and another's, or one without a tag, as a miss, counted as one; other
 * kinds are answered as they are.
 */
static void
test_config_tag(void)
{
	struct cache *a;
	struct cache_stats s0, s1;
	char err[256], key[CACHE_KEY_MAX], rkey[CACHE_KEY_MAX];
	char okey[CACHE_KEY_MAX], mine[128], other[128];
	char *got;

	diag("computed configs carry their settings");
	if ((a = cache_new(conf, err, sizeof(err))) == NULL) {
		ok(0, "cache: %s", err);
		return;
	}
	cache_key_config(a, key, sizeof(key), "0123456789abcdef0123456789abcdef");
	cache_key_config_rev(a, rkey, sizeof(rkey),
	    "0123456789abcdef0123456789abcdef");
	cache_key_id(a, okey, sizeof(okey), "lease", 960);
	snprintf(mine, sizeof(mine), "%sbody", cache_config_tag(a));
	snprintf(other, sizeof(other), "%sbody", cache_config_tag(a));
	other[0] = other[0] == '0' ? '1' : '0';
	tag_put(a, key, mine);
	ok(lease_reads(a, key, "body"), "our config: answered without the tag");
	tag_put(a, rkey, mine);
	ok(lease_reads(a, rkey, "body"), "our rev entry: the same");
	tag_put(a, key, other);
	cache_get_stats(a, &s0);
	got = lease_get(a, key);
	cache_get_stats(a, &s1);
	lease_end(a);
	ok(got == NULL && s1.misses == s0.misses + 1 && s1.hits == s0.hits,
	    "another settings' config: a miss, counted as one");
	free(got);
	tag_put(a, rkey, other);
	ok(lease_reads(a, rkey, NULL), "another settings' rev entry: a miss");
	tag_put(a, key, "body");
	ok(lease_reads(a, key, NULL), "a config without a tag: a miss");
	tag_put(a, okey, other);
	ok(lease_reads(a, okey, other), "another kind: answered as it is");
	mc_del(key);
	mc_del(rkey);
	mc_del(okey);
	cache_free(a);
}

/*
 * Two processes, a and b, on the same memcached: a reads a key, b (a
 * write's invalidation) replaces it, then a writes back what it read
 * before.  The write-back must not survive the invalidation.
 */
static void
test_write_back_leases(void)
{
	struct cache *a, *b;
	char err[256], key[7][CACHE_KEY_MAX];
	const char *k;

	diag("write-backs an invalidation wins");
	a = cache_new(conf, err, sizeof(err));
	b = cache_new(conf, err, sizeof(err));
	if (a == NULL || b == NULL) {
		ok(0, "two caches: %s", err);
		cache_free(a);
		cache_free(b);
		return;
	}
	for (int i = 0; i < 7; i++) {
		cache_key_id(a, key[i], CACHE_KEY_MAX, "lease", 900 + i);
		mc_del(key[i]);
	}

	k = key[0];
	free(lease_get(a, k));
	lease_set(a, k, "v1");
	lease_end(a);
	ok(lease_reads(a, k, "v1"), "read absent, nothing in between: stored");

	k = key[1];
	free(lease_get(a, k));			/* absent */
	ok(cache_delete_many(b, &k, 1) == 0, "b invalidates the key");
	lease_end(b);
	lease_set(a, k, "old");
	lease_end(a);
	ok(lease_tombstone(a, k), "read absent, invalidated in between: "
	    "the write-back refused, the tombstone stays");
	ok(lease_reads(b, k, NULL), "... a miss for every reader");

	k = key[0];
	free(lease_get(a, k));			/* "v1" */
	ok(cache_delete_many(b, &k, 1) == 0, "b invalidates a cached key");
	lease_end(b);
	lease_set(a, k, "old");
	lease_end(a);
	ok(lease_tombstone(a, k), "read a value, invalidated in between: "
	    "the write-back refused");

	free(lease_get(a, k));			/* the tombstone: a miss */
	lease_set(a, k, "v2");
	lease_end(a);
	ok(lease_reads(b, k, "v2"), "read the tombstone, nothing in between: "
	    "replaced (a key is cached again after its invalidation)");

	free(lease_get(a, k));			/* "v2" */
	free(lease_get(b, k));
	lease_set(b, k, "v3");
	lease_end(b);
	lease_set(a, k, "old");
	lease_end(a);
	ok(lease_reads(b, k, "v3"), "read a value, another write-back in "
	    "between: the later reader's value stays");

	k = key[2];
	free(lease_get(a, key[6]));		/* the request's generation */
	ok(cache_lease(a, &k, 1) == 0, "cache_lease on a key not read");
	ok(cache_delete_many(b, &k, 1) == 0, "b invalidates it");
	lease_end(b);
	lease_set(a, k, "old");
	lease_end(a);
	ok(lease_tombstone(a, k), "leased, invalidated in between: refused");
	free(lease_get(a, key[6]));
	ok(cache_lease(a, &k, 1) == 0, "leased again (the tombstone)");
	lease_set(a, k, "v1");
	lease_end(a);
	ok(lease_reads(b, k, "v1"), "leased, nothing in between: stored");

	k = key[3];
	free(lease_get(a, key[6]));
	lease_set(a, k, "v1");			/* never read: "add" */
	lease_end(a);
	ok(lease_reads(b, k, "v1"), "never read, absent: stored");
	free(lease_get(a, key[6]));
	lease_set(a, k, "v2");
	lease_end(a);
	ok(lease_reads(b, k, "v1"), "never read, a value there: kept "
	    "(what the request did not see, it does not overwrite)");

	/*
	 * The lease table after a 300-key request (1,024 slots): the next
	 * request, which uses a few of them, gives it back at its end
	 * (cache_tokens_reset), and the ones after grow a small one.  A
	 * write-back must lease in both: refused over an invalidation in
	 * the first, stored with the cas it read in a later one.
	 */
	k = key[4];
	lease_set(b, k, "v1");
	lease_end(b);
	{
		static char many[300][CACHE_KEY_MAX];
		const char *mk[300];
		struct cache_value mv[300];

		for (int i = 0; i < 300; i++) {
			cache_key_id(a, many[i], CACHE_KEY_MAX, "lease",
			    2000 + i);
			mk[i] = many[i];
		}
		(void)cache_get_many(a, mk, 300, mv);
		cache_values_free(mv, 300);
		lease_end(a);
	}
	free(lease_get(a, k));			/* "v1" */
	ok(cache_delete_many(b, &k, 1) == 0, "b invalidates a key that cache a "
	    "read after a 300-key request");
	lease_end(b);
	lease_set(a, k, "old");
	lease_end(a);
	ok(lease_tombstone(a, k), "after a 300-key request: the write-back "
	    "of a value read before an invalidation is refused");
	free(lease_get(a, k));			/* the tombstone */
	lease_set(a, k, "v2");
	lease_end(a);
	ok(lease_reads(b, k, "v2"), "... and one read after it is stored");

	for (int i = 0; i < 7; i++)
		mc_del(key[i]);
	cache_free(a);
	cache_free(b);
}

/*
 * What the kernel counts for this process's TCP sockets to memcached
 * (MC_PORT, on 127.0.0.1: loopback's 64 KB segments): the segments sent
 * with data (pure ACKs left out), and the bytes written but not sent.
 */
static void
mc_tcp_info(unsigned long long *segs_out, unsigned long long *notsent)
{
	unsigned port = (unsigned)atoi(getenv("MC_PORT"));
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	*segs_out = *notsent = 0;
	while (d != NULL && (e = readdir(d)) != NULL) {
		struct sockaddr_in a;
		struct tcp_info ti;
		socklen_t alen = sizeof(a), tlen = sizeof(ti);
		int fd = atoi(e->d_name);

		if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
		    getpeername(fd, (struct sockaddr *)&a, &alen) != 0 ||
		    a.sin_family != AF_INET || ntohs(a.sin_port) != port ||
		    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) != 0)
			continue;
		*segs_out += ti.tcpi_data_segs_out;
		*notsent += ti.tcpi_notsent_bytes;
	}
	if (d != NULL)
		closedir(d);
}

/* One batch of write-backs through a cache: what happened to it. */
struct wb_batch {
	int		 rc;		/* cache_set_many's */
	int		 arrived;	/* values read back whole */
	unsigned long long segs;	/* TCP segments with data (MC_PORT) */
	unsigned long long notsent;	/* bytes held back after the batch */
};

/*
 * Write WB_N values (never read in this request: adds) under kind "segs"
 * and ids from base on through c, in one batch, then read them back.
 * Segments are counted on the TCP connections to MC_PORT; for a cache
 * on another server they stay 0.  before, unless NULL, is called once
 * the request has read (and libmemcached is connected), before the batch.
 */
#define WB_N	200	/* ~35 KB: inside the first receive window */
static struct wb_batch
write_back_batch(struct cache *c, int base, void (*before)(struct cache *))
{
	static char keys[WB_N][CACHE_KEY_MAX], vals[WB_N][112];
	const char *kp[WB_N], *vp[WB_N];
	size_t lens[WB_N];
	unsigned ttls[WB_N];
	struct cache_value got[WB_N];
	unsigned long long segs0;
	struct wb_batch b = { 0 };

	for (int i = 0; i < WB_N; i++) {
		cache_key_id(c, keys[i], CACHE_KEY_MAX, "segs", base + i);
		mc_del(keys[i]);
		snprintf(vals[i], sizeof(vals[i]), "%0100d", base + i);
		kp[i] = keys[i];
		vp[i] = vals[i];
		lens[i] = strlen(vals[i]);
		ttls[i] = 60;
	}
	free(lease_get(c, kp[0]));	/* the request's generation */
	if (before != NULL)
		before(c);
	mc_tcp_info(&segs0, &b.notsent);
	b.rc = cache_set_many(c, kp, vp, lens, ttls, WB_N);
	mc_tcp_info(&b.segs, &b.notsent);
	b.segs -= segs0;
	lease_end(c);
	(void)cache_get_many(c, kp, WB_N, got);
	for (int i = 0; i < WB_N; i++)
		b.arrived += got[i].data != NULL && got[i].len == lens[i] &&
		    memcmp(got[i].data, vals[i], lens[i]) == 0;
	cache_values_free(got, WB_N);
	cache_request_end(c);
	for (int i = 0; i < WB_N; i++)
		mc_del(keys[i]);
	return b;
}

/* A second descriptor of the cache's socket to MC_PORT, made by dup_socket. */
static int twin = -1;

/* twin = a dup of libmemcached's socket to the first server (by ports). */
static void
dup_socket(struct cache *c)
{
	const memcached_instance_st *in =
	    memcached_server_instance_by_position(c->mc, 0);
	unsigned lport = in != NULL ? memcached_server_srcport(in) : 0;
	unsigned pport = (unsigned)atoi(getenv("MC_PORT"));
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	twin = -1;
	while (d != NULL && (e = readdir(d)) != NULL && twin < 0) {
		struct sockaddr_in a;
		socklen_t alen = sizeof(a);
		int fd = atoi(e->d_name);

		if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
		    getsockname(fd, (struct sockaddr *)&a, &alen) != 0 ||
		    a.sin_family != AF_INET || ntohs(a.sin_port) != lport)
			continue;
		alen = sizeof(a);
		if (getpeername(fd, (struct sockaddr *)&a, &alen) == 0 &&
		    ntohs(a.sin_port) == pport)
			twin = dup(fd);
	}
	if (d != NULL)
		closedir(d);
}

/* Is TCP_CORK set on fd? */
static bool
tcp_corked(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, &len) == 0 && v != 0;
}

/*
 * A batch of write-backs leaves in a few full TCP segments, not one per
 * value: libmemcached sends each add and cas on its own (cache_cork.c).
 * Every value arrives, and nothing is held back once the batch returns.
 * Then what the cork must survive: libmemcached reconnecting (its old
 * descriptor number now another socket to the same server), and a
 * socket it cannot tell from another (a dup of it): the batch goes out
 * uncorked, whole.
 */
static void
test_write_back_segments(void)
{
	struct wb_batch b;
	struct cache *c;
	char err[256];
	int old, decoy;
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct tcp_info ti;
	socklen_t tlen = sizeof(ti);

	diag("write-backs in full segments");
	if ((c = cache_new(conf, err, sizeof(err))) == NULL) {
		ok(0, "a cache: %s", err);
		return;
	}
	b = write_back_batch(c, 1000, NULL);
	ok(b.rc == 0 && b.segs <= 3, "%d write-backs (never read: adds) "
	    "left in %llu TCP segments", WB_N, b.segs);
	ok(b.notsent == 0, "none of their bytes is held back after the batch "
	    "(%llu)", b.notsent);
	ok(b.arrived == WB_N, "... and all of them are in memcached (%d of %d)",
	    b.arrived, WB_N);

	/*
	 * libmemcached reconnects; a socket to the same server from another
	 * port takes the old descriptor's number.  The kept descriptor is
	 * not trusted: the new connection is found, the decoy left alone.
	 */
	old = c->srv[0].sock;
	ok(old >= 0 && !tcp_corked(old), "the connection's socket was found, "
	    "and is uncorked after the batch");
	memcached_quit(c->mc);
	to.sin_port = htons((in_port_t)atoi(getenv("MC_PORT")));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	decoy = socket(AF_INET, SOCK_STREAM, 0);
	if (decoy >= 0 && old >= 0 && decoy != old) {
		(void)dup2(decoy, old);
		close(decoy);
		decoy = old;
	}
	if (decoy < 0 || connect(decoy, (struct sockaddr *)&to,
	    sizeof(to)) != 0) {
		ok(0, "a decoy socket to memcached: %s", strerror(errno));
		if (decoy >= 0)
			close(decoy);
		cache_free(c);
		return;
	}
	b = write_back_batch(c, 2000, NULL);
	ok(b.rc == 0 && b.arrived == WB_N && b.segs <= 3,
	    "after a reconnect: %d of %d values, in %llu segments", b.arrived,
	    WB_N, b.segs);
	ok(c->srv[0].sock >= 0 && c->srv[0].sock != decoy &&
	    getsockopt(decoy, IPPROTO_TCP, TCP_INFO, &ti, &tlen) == 0 &&
	    ti.tcpi_data_segs_out == 0 && !tcp_corked(decoy),
	    "... the new socket was found; the one with the old descriptor "
	    "number (another port) was neither corked nor written");
	close(decoy);

	/*
	 * A new connection with two descriptors of its socket when the
	 * batch looks for it: which is libmemcached's?
	 */
	memcached_quit(c->mc);
	b = write_back_batch(c, 3000, dup_socket);
	ok(twin >= 0 && c->srv[0].sock < 0 && !tcp_corked(twin),
	    "a socket that cannot be told apart is not corked");
	/*
	 * Uncorked, the kernel may still hold the tail for a moment
	 * (autocorking, tcp(7)) as it did before cache_cork.c: the
	 * values arrive, nothing more is promised.
	 */
	ok(b.rc == 0 && b.arrived == WB_N,
	    "... and the batch goes out whole (%d of %d values)", b.arrived,
	    WB_N);
	close(twin);
	b = write_back_batch(c, 4000, NULL);
	ok(b.rc == 0 && b.arrived == WB_N && c->srv[0].sock < 0,
	    "the next batch on that connection too, uncorked (%d of %d)",
	    b.arrived, WB_N);
	cache_free(c);
}

/*
 * memcached on a unix socket (MC_SOCKET): nothing to cork, the batch is
 * written as it always was.
 */
static void
test_write_back_unix(void)
{
	struct conf *c2;
	struct cache *c;
	struct wb_batch b;
	char err[256];

	diag("write-backs to memcached on a unix socket");
	c2 = conf_load(getenv("STORE_TEST_CONF"), err, sizeof(err));
	if (c2 == NULL) {
		ok(0, "the configuration: %s", err);
		return;
	}
	for (size_t i = 0; i < c2->n_memcached_servers; i++)
		free(c2->memcached_servers[i]);
	c2->memcached_servers[0] = strdup(getenv("MC_SOCKET"));
	c2->n_memcached_servers = 1;
	if ((c = cache_new(c2, err, sizeof(err))) == NULL || c->nsrv != 1) {
		ok(0, "a cache on %s: %s", getenv("MC_SOCKET"),
		    c == NULL ? err : "no server");
		cache_free(c);
		conf_free(c2);
		return;
	}
	b = write_back_batch(c, 5000, NULL);
	ok(b.rc == 0 && b.arrived == WB_N, "%d of %d values written in one "
	    "batch arrive", b.arrived, WB_N);
	ok(!c->srv[0].corked && c->srv[0].sock < 0,
	    "no socket was looked for or corked");
	cache_free(c);
	conf_free(c2);
}

/* Is o the string "é" (U+00E9), and only that? */
static bool
is_e_acute(json_object *o)
{
	return o != NULL && json_object_get_string_len(o) == 2 &&
	    memcmp(json_object_get_string(o), "\xc3\xa9", 2) == 0;
}

/*
 * A value that fails to parse leaves nothing behind for the next one
 * (store_codec.c keeps a tokener per process; json-c's reset keeps a
 * pending high surrogate).
 */
static void
test_parse_after_failure(void)
{
	static const char *const bad[] = {
		"\"\\ud800\\uZZZZ\"",	/* a broken pair */
		"\"\\ud83d\\ude",		/* cut in the middle of one */
	};

	diag("a value parsed after one that failed");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o = codec_parse(bad[i], strlen(bad[i])), *e, *c;

		ok(o == NULL, "%s is refused", bad[i]);
		json_object_put(o);
		e = codec_parse("\"\\u00e9\"", 8);
		json_object_put(codec_parse(bad[i], strlen(bad[i])));
		c = codec_parse_cached("\"\\u00e9\"", 8);
		ok(is_e_acute(e) && is_e_acute(c), "after it, \"\\u00e9\" is "
		    "e-acute and nothing else (lenient and strict)");
		json_object_put(e);
		json_object_put(c);
	}
}

/* Requests while memcached is away: right answers, bounded waits. */
static void
requests_without_memcached(const char *what)
{
	unsigned poll_ms = conf->memcached_poll_timeout_ms;
	long long worst = 0;
	bool right = true;

	for (int i = 0; i < 12; i++) {
		struct store_stats a = stats(), b, d;
		long com;
		long long t0 = now_us(), spent;

		req_end();
		/* Cached and uncached keys alike (1..40 were warmed). */
		right &= config_request((size_t)(20 + i * 5), &d, &com) == 0;
		b = stats();
		spent = now_us() - t0 - (long long)(b.db_time_us - a.db_time_us);
		if (spent > worst)
			worst = spent;
	}
	req_end();
	ok(right, "memcached %s: every answer right, from MariaDB", what);
	ok(worst <= (long long)poll_ms * 1000 + 60000,
	    "memcached %s: no request waits more than the poll timeout "
	    "(worst %lld ms beyond MariaDB time, poll %u ms)", what,
	    worst / 1000, poll_ms);
}

/* After the retry timeout, a request writes back and the next hits. */
static void
caching_resumes(const char *after)
{
	struct store_stats d1, d2;
	long com;
	int rc;

	sleep(conf->memcached_retry_timeout + 1);
	req_end();
	rc = config_request(10, &d1, &com);
	req_end();
	rc |= config_request(10, &d2, &com);
	req_end();
	ok(rc == 0 && d2.sql_queries == 0, "after %s: caching resumes "
	    "(second request: %lu queries)", after, d2.sql_queries);
}

static void
test_memcached_down(void)
{
	struct store_stats d;
	long com;

	diag("memcached down, slow, back");
	req_end();
	config_request(40, &d, &com);
	req_end();

	harness("mc-stop");
	requests_without_memcached("stopped");
	harness("mc-start");
	mc_connect();
	caching_resumes("a memcached restart");
	ok(mc_has("relaycfg:1:gen"), "the generation key was re-created");

	/* Accepts connections, never answers: each request may wait once. */
	harness("mc-pause");
	requests_without_memcached("paused");
	harness("mc-resume");
	mc_connect();
	caching_resumes("a memcached pause");
}

/*
 * A frozen memcached accepts connections and never answers, so
 * libmemcached reconnects at once after each poll timeout: without the
 * breaker every request waited the whole timeout.  With it, this
 * process waits once, then once per retry timeout (the probe), and
 * every answer still comes, from MariaDB.
 */
static void
test_memcached_frozen(void)
{
	const unsigned poll_ms = conf->memcached_poll_timeout_ms;
	const unsigned retry = conf->memcached_retry_timeout;
	const long long span = 2500000LL * retry;
	struct store_stats a, b, d;
	long long t0, t;
	bool right = true;
	int waits = 0, rounds = 0;
	long com;

	diag("memcached frozen: a breaker per server");
	req_end();
	config_request(10, &d, &com);
	req_end();
	harness("mc-pause");
	t0 = now_us();
	while ((t = now_us()) - t0 < span) {
		a = stats();
		right &= config_request(10, &d, &com) == 0;
		req_end();
		b = stats();
		if (b.cache_time_us - a.cache_time_us >= poll_ms * 500ULL)
			waits++;
		rounds++;
		usleep(20000);
	}
	ok(right, "memcached frozen: every answer right, from MariaDB "
	    "(%d requests)", rounds);
	/* At 0, then a probe per retry timeout after each wait. */
	ok(waits >= 2 && (long long)waits <= span / (1000000LL * retry) + 1,
	    "memcached frozen %.1f s: %d of %d requests waited for it "
	    "(retry timeout %u s)", (double)span / 1e6, waits, rounds, retry);
	harness("mc-resume");
	mc_connect();
	caching_resumes("a frozen memcached");
}

/* A value memcached refuses (over its 1 MB item limit). */
static void
test_big_value(void)
{
	size_t big = 1200 * 1000;
	char *json = malloc(big + 3);
	json_object *opts = NULL;
	int64_t id = 2;
	const struct model_projectkey *k;
	char pk1[33];
	int rc;

	diag("a value memcached will not store");
	pubkey(pk1, 1);
	json[0] = '"';
	memset(json + 1, 'x', big);
	json[big + 1] = '"';
	json[big + 2] = '\0';
	rc = store_option_set(st, STORE_OWNER_PROJECT, 2, "huge", json);
	ok(rc == STORE_OK, "a 1.2 MB option is stored in MariaDB");
	for (int i = 0; i < 2; i++) {
		req_end();
		rc = store_project_options(st, &id, 1, &opts);
		ok(rc == STORE_OK && opt_str(opts, "huge") != NULL &&
		    strlen(opt_str(opts, "huge")) == big,
		    "read %d: served whole (memcached refused it)", i + 1);
	}
	req_end();
	ok(log_has("SERVER_ERROR object too large"),
	    "memcached did refuse it (its log says so)");
	WARM(k = key_by_pk(pk1, NULL));
	ok(k != NULL, "the memcached connection is still in step after the "
	    "refusal");
	store_option_set(st, STORE_OWNER_PROJECT, 2, "huge", NULL);
	req_end();
	free(json);
}

/* MariaDB restarted, and down. */
static void
test_mariadb_restart(void)
{
	struct store_stats a, b;
	const struct model_projectkey *k;
	const struct model_project *p = NULL;
	int64_t id20 = 20, id21 = 21;
	char pk15[33], pk16[33], pk17[33];
	long long t0;
	int rc;

	pubkey(pk15, 15);
	pubkey(pk16, 16);
	pubkey(pk17, 17);
	diag("MariaDB restart and outage");
	req_end();
	k = key_by_pk(pk15, &rc);
	ok(rc == STORE_OK && k != NULL, "before: a read");
	req_end();
	harness("db-stop");
	harness("db-start");
	a = stats();
	k = key_by_pk(pk16, &rc);
	b = stats();
	ok(rc == STORE_OK && k != NULL && k->id == 16,
	    "after a restart: the next read just works");
	ok(b.db_reconnects > a.db_reconnects,
	    "the lost connection was reconnected and the read retried once");
	req_end();
	my_connect();

	harness("db-stop");
	k = key_by_pk(pk15, &rc);
	ok(rc == STORE_OK && k != NULL, "MariaDB down: a cached row is "
	    "still served");
	req_end();
	t0 = now_us();
	k = key_by_pk(pk17, &rc);
	ok(rc == STORE_UNAVAILABLE && k == NULL,
	    "MariaDB down: an uncached row is UNAVAILABLE, not absent");
	ok(strstr(store_last_error(st), "unreachable") != NULL,
	    "the error says so: %s", store_last_error(st));
	req_end();
	rc = store_projects_by_ids(st, &id20, 1, &p);
	ok(rc == STORE_UNAVAILABLE && p == NULL && now_us() - t0 < 500000,
	    "and again, without waiting (no reconnect storm)");
	req_end();
	rc = store_org_update(st, 1, &(struct store_org_patch){ NULL, "x", -1 });
	ok(rc == STORE_UNAVAILABLE, "a write while down: UNAVAILABLE");
	req_end();
	harness("db-start");
	my_connect();
	usleep((DB_RETRY_MS + 100) * 1000);
	rc = store_projects_by_ids(st, &id21, 1, &p);
	ok(rc == STORE_OK && p != NULL && p->id == 21,
	    "MariaDB back: the same store reads again (no worker restart)");
	req_end();
}

/* With a replica, reads go there and writes to the primary. */
static void
test_replica(void)
{
	struct conf *c2;
	struct store *s2;
	char err[256];
	const struct model_project *p = NULL;
	int64_t id = 30, oid = 0;
	int rc;

	diag("read replica");
	c2 = conf_load(getenv("STORE_TEST_CONF"), err, sizeof(err));
	c2->db_replica.socket = strdup("/nonexistent/replica.sock");
	s2 = store_open(c2, err, sizeof(err));
	store_bypass_cache(s2, false);
	rc = store_projects_by_ids(s2, &id, 1, &p);
	ok(rc == STORE_UNAVAILABLE || rc == STORE_OK,
	    "a read is answered (by the cache or the replica)");
	store_request_end(s2);
	{
		int64_t fresh = 424200;

		rc = store_projects_by_ids(s2, &fresh, 1, &p);
		ok(rc == STORE_OK && p == NULL,
		    "an uncached read skips the unreachable replica: the "
		    "primary answers (no such project)");
	}
	store_request_end(s2);
	rc = store_org_create(s2, "via-primary", NULL, &oid);
	ok(rc == STORE_OK && oid > 0, "writes go to the primary");
	store_close(s2);
	conf_free(c2);
}

int
main(void)
{
	char err[512];

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_setup(LOG_LEVEL_WARN, false);
	if ((conf = conf_load(getenv("STORE_TEST_CONF"), err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "test_store: %s\n", err);
		return 1;
	}
	if (app_global_init() != 0)
		return 1;
	my_connect();
	mc_connect();
	seed();
	if ((st = store_open(conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "test_store: %s\n", err);
		return 1;
	}

	/* Reads on the pristine fixtures first; writes change them. */
	test_paths();
	test_reads();
	test_query_count();
	test_revs_claim();
	test_revs_add();
	test_memcached_down();
	test_memcached_frozen();
	test_big_value();
	test_negative();
	test_writes();
	test_invalidate();
	test_invalidate_order();
	test_keylist_after_tombstone();
	test_unsafe_keys();
	test_write_back_leases();
	test_write_back_long_ttl();
	test_config_tag();
	test_write_back_segments();
	test_write_back_unix();
	test_parse_after_failure();
	test_mariadb_restart();
	test_replica();

	store_close(st);
	memcached_free(mc);
	mysql_close(my);
	conf_free(conf);
	app_global_fini();
	return itest_failures == 0 ? 0 : 1;
}
