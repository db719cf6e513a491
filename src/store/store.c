/*
 * store.c - a store's life: open, close, the end of a request, errors and
 * statistics, and the SQL plumbing the other store files share.
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

#include "cache.h"
#include "db.h"
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
	cache_request_end(st->cache);
}

/* --- open, close ----------------------------------------------------- */

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
	if ((st->primary = db_new(&conf->db, NULL, conf, "primary")) == NULL)
		goto oom;
	if ((conf->db_replica.host != NULL || conf->db_replica.socket != NULL) &&
	    (st->replica = db_new(&conf->db_replica, &conf->db, conf,
	    "replica")) == NULL)
		goto oom;
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
	db_free(st->replica);
	cache_free(st->cache);
	free(st);
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

/* store_get_stats - both servers' counters summed, and the cache's. */
void
store_get_stats(const struct store *st, struct store_stats *out)
{
	struct db_stats p, r = { 0 };
	struct cache_stats c;

	db_get_stats(st->primary, &p);
	if (st->replica != NULL)
		db_get_stats(st->replica, &r);
	cache_get_stats(st->cache, &c);
	memset(out, 0, sizeof(*out));
	out->sql_queries = p.queries + r.queries;
	out->db_reconnects = p.reconnects + r.reconnects;
	out->db_failures = p.failures + r.failures;
	out->db_time_us = p.time_us + r.time_us;
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

/* The server reads go to: the replica, unless reading the truth. */
struct db *
store_reader(struct store *st)
{
	if (st->mode == READ_DB_ONLY || st->replica == NULL)
		return st->primary;
	return st->replica;
}

/* Run q on db; *res (NULL on error) is the caller's to free. */
int
store_sql_query(struct store *st, struct db *db, const struct db_sql *q,
    struct db_res **res)
{
	*res = NULL;
	if (!db_sql_ok(q)) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	return store_rc_from_db(st, db, db_query(db, q->buf, q->len, res));
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
