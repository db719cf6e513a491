/*
 * store.c - a store's life: open, close, the end of a request, errors and
 * statistics, and the SQL plumbing the other store files share, which
 * includes the choice of the server a request reads (a replica only when
 * it has applied what the primary had logged).
 *
 * The store is Sentry's get_many_from_cache over MariaDB and memcached
 * (store_batch.c, store_read.c, store_options.c), the admin writes
 * (store_write.c) and the invalidation they imply (store_invalidate.c);
 * store_int.h lists the files.
 *
 * Cache kinds (see cache.h for the key and value framing; payloads are
 * compact JSON, arrays for rows so that field names cost nothing):
 *   o:<id>   organization   [id, slug, name, status]
 *   p:<id>   project        [id, org_id, slug|null, name, status,
 *                            template_id, platform|null]
 *   k:<id>   project key    [id, project_id, public_key, secret_key,
 *                            status, roles, rl_count|null, rl_window|null,
 *                            label|null]
 *   kp:<public_key>  pointer [id]
 *   kl:<project_id>  the project's keys: [[key row], ...]
 *   r:<id>   relay          [id, relay_id, public_key, is_internal]
 *   rr:<relay_id>    pointer [id]
 *   po:<project_id>, oo:<org_id>, to:<template_id>: options {key: value}
 *   cfgz:<public_key> computed project config, cfgr:<public_key> its rev
 *                    (both written by configs.c)
 * A row or pointer known to be absent is cached as "null" for
 * ttl_negative.  Changing any payload layout means bumping
 * CACHE_FORMAT_VERSION.
 *
 * Memory: every object handed out is recorded in st->owned and freed by
 * store_request_end(); the local cache (a hash of cache key -> object)
 * only borrows, so forgetting entries never frees what a caller holds.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "store_int.h"

/* store_seterr - the reason of the call's failure, for store_last_error. */
void
store_seterr(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
}

/* store_request_end - free what the request was handed; keeps the store. */
void
store_request_end(struct store *st)
{
	if (st == NULL)
		return;
	store_lc_forget_all(st);
	for (size_t i = 0; i < st->n_owned; i++) {
		if (st->owned[i].type == OWN_JSON)
			json_object_put(st->owned[i].p);
		else
			free(st->owned[i].p);
	}
	st->n_owned = 0;
	st->reader = NULL;
	cache_request_end(st->cache);
}

/* --- open, close ----------------------------------------------------- */

/* Open replica n_replicas + 1 (conf_check bounds the count); -1 on OOM. */
static int
store_add_replica(struct store *st, const struct conf_db *cd,
    const struct conf_db *creds)
{
	if (st->n_replicas == CONF_DB_REPLICAS_MAX)
		return 0;
	if ((st->replicas[st->n_replicas] = db_new(cd, creds, st->conf,
	    (unsigned)st->n_replicas + 1)) == NULL)
		return -1;
	st->n_replicas++;
	return 0;
}

/* store_open - see store.h: NULL with err on OOM or a bad server entry. */
struct store *
store_open(const struct conf *conf, char *err, size_t errlen)
{
	struct store *st;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->conf = conf;
	if ((st->cache = cache_new(conf, err, errlen)) == NULL)
		goto fail;
	if ((st->primary = db_new(&conf->db, NULL, conf, 0)) == NULL)
		goto oom;
	if ((conf->db_replica.host != NULL || conf->db_replica.socket != NULL) &&
	    store_add_replica(st, &conf->db_replica, &conf->db) != 0)
		goto oom;
	/* Listed ones use db_replica_*'s credentials, then db_*'s. */
	st->replica_creds.user = conf->db_replica.user != NULL ?
	    conf->db_replica.user : conf->db.user;
	st->replica_creds.password = conf->db_replica.password != NULL ?
	    conf->db_replica.password : conf->db.password;
	st->replica_creds.database = conf->db_replica.database != NULL ?
	    conf->db_replica.database : conf->db.database;
	for (size_t i = 0; i < conf->n_db_replicas; i++)
		if (store_add_replica(st, &conf->db_replicas[i],
		    &st->replica_creds) != 0)
			goto oom;
	/* Processes spread over the replicas; each falls back in order. */
	if (st->n_replicas > 0)
		st->first = (size_t)getpid() % st->n_replicas;
	metrics_db_servers(1 + st->n_replicas);
	return st;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	store_close(st);
	return NULL;
}

/* store_close - everything, connections included; NULL is fine. */
void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_request_end(st);
	free(st->lc);
	free(st->owned);
	db_free(st->primary);
	for (size_t i = 0; i < st->n_replicas; i++)
		db_free(st->replicas[i]);
	cache_free(st->cache);
	free(st);
}

/* store_connect - see store.h. */
void
store_connect(struct store *st)
{
	(void)db_open(st->primary);
	for (size_t i = 0; i < st->n_replicas; i++)
		(void)db_open(st->replicas[i]);
	cache_probe(st->cache);
}

/* store_bypass_cache - reads go to the primary only (relaycfgctl). */
void
store_bypass_cache(struct store *st, bool on)
{
	st->bypass = on;
	st->mode = on ? READ_DB_ONLY : READ_NORMAL;
}

/* store_last_error - owned by the store, valid until the next call. */
const char *
store_last_error(const struct store *st)
{
	return st->err;
}

/* store_cache_stale - the last write or invalidation missed memcached. */
bool
store_cache_stale(const struct store *st)
{
	return st->cache_stale;
}

/* store_cache - the store's memcached layer, owned by the store. */
struct cache *
store_cache(struct store *st)
{
	return st->cache;
}

/* store_get_stats - every server's counters summed, and the cache's. */
void
store_get_stats(const struct store *st, struct store_stats *out)
{
	struct db_stats d;
	struct cache_stats c;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i <= st->n_replicas; i++) {
		db_get_stats(i == 0 ? st->primary : st->replicas[i - 1], &d);
		out->sql_queries += d.queries;
		out->db_reconnects += d.reconnects;
		out->db_failures += d.failures;
		out->db_time_us += d.time_us;
	}
	cache_get_stats(st->cache, &c);
	out->cache_gets = c.gets;
	out->cache_sets = c.sets;
	out->cache_deletes = c.deletes;
	out->cache_hits = c.hits;
	out->cache_misses = c.misses;
	out->cache_failures = c.failures;
	out->cache_time_us = c.time_us;
}


/* --- db helpers ------------------------------------------------------ */

/* A db_rc as a STORE_* code, with a message in st->err. */
int
store_rc_from_db(struct store *st, struct db *db, enum db_rc rc)
{
	switch (rc) {
	case DB_OK:
		return STORE_OK;
	case DB_UNAVAILABLE:
		store_seterr(st, "MariaDB unreachable: %s", db_last_error(db));
		return STORE_UNAVAILABLE;
	case DB_DUPLICATE:
		store_seterr(st, "already exists (%s)", db_last_error(db));
		return STORE_CONFLICT;
	case DB_REFERENCE:
		store_seterr(st, "a referenced row is missing or still in use "
		    "(%s)", db_last_error(db));
		return STORE_NOT_FOUND;
	case DB_ERROR:
		break;
	}
	store_seterr(st, "MariaDB error: %s", db_last_error(db));
	return STORE_ERROR;
}

/* --- which server reads ---------------------------------------------- */

/* A GTID position: "domain-server-seq" lists, comma separated. */
#define GTID_POS_MAX	1024

/*
 * The primary's @@gtid_binlog_pos into pos: DB_OK ("" when it has no
 * binary log), DB_UNAVAILABLE when it cannot be reached, DB_ERROR when
 * the answer is not a position.
 */
static enum db_rc
primary_position(struct store *st, char *pos, size_t len)
{
	static const char q[] = "SELECT @@gtid_binlog_pos";
	struct db_res *r = NULL;
	const char *v;
	enum db_rc rc;

	pos[0] = '\0';
	if ((rc = db_query(st->primary, q, sizeof(q) - 1, &r)) != DB_OK)
		goto out;
	rc = DB_ERROR;
	if (!db_res_next(r) || (v = db_res_str(r, 0)) == NULL ||
	    db_res_len(r, 0) >= len ||
	    strspn(v, "0123456789-,") != db_res_len(r, 0))
		goto out;
	memcpy(pos, v, db_res_len(r, 0) + 1);
	rc = DB_OK;
out:
	db_res_free(r);
	return rc;
}

/*
 * Has replica db applied pos (waiting db_replica_wait_ms at most)?
 * MASTER_GTID_WAIT answers 0 when it has, -1 on timeout, NULL on an
 * error: 1, 0 (lagging, or an odd answer) or -1 (unreachable).
 */
static int
replica_has(struct store *st, struct db *db, const char *pos)
{
	unsigned ms = st->conf->db_replica_wait_ms;
	struct db_res *r = NULL;
	struct db_sql q;
	int64_t v = -1;
	char wait[24];
	int ret = -1;

	db_sql_init(&q);
	snprintf(wait, sizeof(wait), "%u.%03u", ms / 1000, ms % 1000);
	db_sql_raw(&q, "SELECT MASTER_GTID_WAIT(");
	db_sql_str(&q, pos);
	db_sql_raw(&q, ", ");
	db_sql_raw(&q, wait);
	db_sql_raw(&q, ")");
	if (!db_sql_ok(&q))
		goto out;
	if (db_query(db, q.buf, q.len, &r) == DB_OK)
		ret = db_res_next(r) && db_res_int(r, 0, &v) && v == 0;
out:
	db_res_free(r);
	db_sql_free(&q);
	return ret;
}

/*
 * A replica that could not be reached is left alone for REPLICA_DOWN_FACTOR
 * times what the failed attempt cost, at most REPLICA_DOWN_REST_MAX_MS.  A
 * refused connection costs a few ms, so a replica that was only restarted
 * is tried again after DB_RETRY_MS (db.c) as before; a host that drops
 * packets, or a frozen server, costs db_connect_timeout (and the
 * db_read_timeout of a query already sent), and was otherwise tried again
 * by the next request after DB_RETRY_MS: most requests that missed the
 * cache waited for it.  Now a worker spends at most about 1/21 of its time
 * on a replica that does not answer; the primary serves meanwhile.
 */
#define REPLICA_DOWN_FACTOR		20
#define REPLICA_DOWN_REST_MAX_MS	60000LL

static void
replica_unreachable(struct store *st, const struct db *db, long long began)
{
	long long now = clock_mono_ms();
	long long rest = (now - began) * REPLICA_DOWN_FACTOR;

	if (rest > REPLICA_DOWN_REST_MAX_MS)
		rest = REPLICA_DOWN_REST_MAX_MS;
	for (size_t i = 0; i < st->n_replicas; i++)
		if (st->replicas[i] == db && st->rest_until[i] < now + rest)
			st->rest_until[i] = now + rest;
}

/*
 * Choose this request's reader (see store_int.h).  The primary's position
 * is read after every write that returned before this request, so a
 * replica that has applied it holds all of them.  Without a position to
 * check (the primary down) a replica is read unchecked: no write can
 * return then; *unchecked says so.  Then only a replica found lagging
 * waits out its rest (lag_until): one rested for not answering
 * (replica_unreachable, up to a minute) is tried again, at most once per
 * DB_RETRY_MS (db_resting), since the primary cannot serve instead; a
 * replica frozen for a moment left every cold key pending for the whole
 * of a primary restart that followed within that minute.
 */
static struct db *
pick_reader(struct store *st, bool *unchecked)
{
	static bool warned;
	char pos[GTID_POS_MAX];
	long long now = clock_mono_ms();
	enum db_rc prc = primary_position(st, pos, sizeof(pos));

	*unchecked = prc == DB_UNAVAILABLE;

	if (prc == DB_OK && pos[0] == '\0') {
		if (!warned)
			log_warn("the primary has no binary log (log_bin off): "
			    "replicas cannot prove they are current, reads "
			    "go to the primary");
		warned = true;
		return st->primary;
	}
	if (prc == DB_ERROR)
		return st->primary;
	for (size_t k = 0; k < st->n_replicas; k++) {
		size_t i = (st->first + k) % st->n_replicas;
		struct db *db = st->replicas[i];
		long long began;
		int has;

		if (db_resting(db) || now < (prc == DB_UNAVAILABLE ?
		    st->lag_until[i] : st->rest_until[i]))
			continue;
		if (prc == DB_UNAVAILABLE)
			return db;
		began = clock_mono_ms();
		if ((has = replica_has(st, db, pos)) == -1)
			replica_unreachable(st, db, began);
		if (has == 1) {
			if (st->lagging[i])
				log_info("%s has caught up with the primary",
				    db_label(db));
			st->lagging[i] = false;
			return db;
		}
		if (has == 0) {
			/* Lagging: the next one, and no check for a while. */
			st->rest_until[i] = now + st->conf->db_replica_rest_ms;
			st->lag_until[i] = st->rest_until[i];
			if (!st->lagging[i])
				log_info("%s has not applied the primary's "
				    "%s: reading elsewhere", db_label(db), pos);
			st->lagging[i] = true;
		}
	}
	return st->primary;
}

/*
 * store_reader - see store_int.h.
 *
 * A replica chosen before the request found a tombstone is chosen again,
 * with a new position.  The write behind the tombstone had returned
 * before it was written, but perhaps after the position was taken, and
 * whatever is read now for that key is written back over the tombstone
 * with the cas read with it, which memcached accepts (cache_lease.c): it
 * must come from a server that has applied the write.  The count is taken
 * before the position, so a tombstone found in between counts as after.
 * Should the primary not answer for the new position, the replica already
 * checked stays rather than one read unchecked.
 */
struct db *
store_reader(struct store *st)
{
	struct db *prev = st->reader;
	bool unchecked;

	if (st->mode == READ_DB_ONLY || st->n_replicas == 0)
		return st->primary;
	if (prev != NULL && (prev == st->primary ||
	    cache_tombstones(st->cache) == st->reader_tombs))
		return prev;
	st->reader_tombs = cache_tombstones(st->cache);
	st->reader = pick_reader(st, &unchecked);
	if (prev != NULL && unchecked)
		st->reader = prev;
	return st->reader;
}

/* Run q on db; *res (NULL on error) is the caller's to free. */
int
store_sql_query(struct store *st, struct db *db, const struct db_sql *q,
    struct db_res **res)
{
	long long began = clock_mono_ms();
	enum db_rc rc;

	*res = NULL;
	if (!db_sql_ok(q)) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	rc = db_query(db, q->buf, q->len, res);
	if (rc != DB_UNAVAILABLE || db == st->primary)
		return store_rc_from_db(st, db, rc);
	replica_unreachable(st, db, began);
	/*
	 * The replica went away under the request: the primary has the
	 * truth; with the primary down too, another replica unchecked, but
	 * never one pick_reader found lagging: what it lacks would be read,
	 * and written back over the tombstones of the writes it lacks.
	 */
	for (size_t k = 0; k <= st->n_replicas && rc == DB_UNAVAILABLE; k++) {
		struct db *alt = k == 0 ? st->primary : st->replicas[k - 1];

		if (alt == db || (k > 0 && (db_resting(alt) ||
		    st->lagging[k - 1] ||
		    clock_mono_ms() < st->rest_until[k - 1])))
			continue;
		db = alt;
		began = clock_mono_ms();
		if ((rc = db_query(db, q->buf, q->len, res)) == DB_UNAVAILABLE &&
		    k > 0)
			replica_unreachable(st, db, began);
	}
	if (rc == DB_OK) {
		st->reader = db;
		st->reader_tombs = cache_tombstones(st->cache);
	}
	return store_rc_from_db(st, db, rc);
}

/* Run a change on the primary. */
int
store_sql_exec(struct store *st, const struct db_sql *q, uint64_t *affected,
    int64_t *insert_id)
{
	if (!db_sql_ok(q)) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	return store_rc_from_db(st, st->primary, db_exec(st->primary, q->buf,
	    q->len, affected, insert_id));
}

/* Append "(v1,v2,...)" of n ids. */
void
store_sql_ids(struct db_sql *q, const int64_t *ids, size_t n)
{
	db_sql_raw(q, "(");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			db_sql_raw(q, ",");
		db_sql_int(q, ids[i]);
	}
	db_sql_raw(q, ")");
}

/* qsort/bsearch order for int64_t. */
int
store_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and drop duplicates; returns the new count. */
size_t
store_uniq_i64(int64_t *v, size_t n)
{
	size_t m = 0;

	if (n > 1)
		qsort(v, n, sizeof(*v), store_cmp_i64);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || v[m - 1] != v[i])
			v[m++] = v[i];
	return m;
}

/* The TTL field at off of the conf. */
unsigned
store_conf_ttl(const struct store *st, size_t off)
{
	return *(const unsigned *)(const void *)((const char *)st->conf + off);
}
