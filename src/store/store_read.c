/*
 * store_read.c - the read path, Sentry's get_many_from_cache: rows by id
 * and by unique string (through pointer entries), the project key lists,
 * and relaycfgctl's straight-from-MariaDB lists.
 *
 * Every read goes through batch_get (store_batch.c); this file says, per
 * kind, how a cached entry is decoded and how MariaDB is asked.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "db.h"
#include "log.h"
#include "store.h"
#include "store_int.h"

/* --- rows ------------------------------------------------------------ */

/*
 * A cached row of model arg: it must be the row asked for, else a miss.
 * STORE_ERROR on OOM: a row not decoded for want of memory is no miss
 * (the invalidation, reading the cache only, would lose it).
 */
static int
row_decode(struct store *st, const void *arg, int64_t id, json_object *a,
    const void **obj)
{
	const struct codec_model *m = arg;
	bool oom;
	void *row = codec_from_json(m, a, &oom);

	*obj = NULL;
	if (oom)
		return STORE_ERROR;
	/* Unreadable, or another row under this key: a miss. */
	if (row == NULL || codec_id(m, row) != id) {
		free(row);
		return STORE_OK;
	}
	if (!store_own(st, row, OWN_MEM))
		return STORE_ERROR;
	*obj = row;
	return STORE_OK;
}

/* Queue the write-back of row obj of model m under key. */
static void
wb_add_row(struct wb *w, const struct codec_model *m, const char *key,
    const void *obj, unsigned ttl)
{
	json_object *j = codec_to_json(m, obj);

	wb_add_json(w, key, j, ttl);
	json_object_put(j);
}

/*
 * Fetch rows by column IN (list) and remember each under its id key (and
 * its pointer key when the model has one), queueing write-backs.  Returns
 * a STORE_* code.  where is the SQL after WHERE, with the list included.
 * With refresh, the rows are only queued for write-back, whatever the
 * request remembers already (rows_lease).
 */
static int
fetch_db_rows(struct store *st, const struct codec_model *m,
    const struct db_sql *where, struct wb *w, bool refresh)
{
	struct db_sql q;
	struct db_res *r = NULL;
	unsigned ttl = store_conf_ttl(st, m->ttl_off);
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, "SELECT ");
	db_sql_raw(&q, m->columns);
	db_sql_raw(&q, " FROM ");
	db_sql_raw(&q, m->table);
	db_sql_raw(&q, " WHERE ");
	if (db_sql_ok(where))
		db_sql_raw(&q, where->buf);
	else
		q.oom = true;
	if ((rc = store_sql_query(st, store_reader(st), &q, &r)) != STORE_OK)
		goto out;
	while (db_res_next(r)) {
		char key[CACHE_KEY_MAX];
		bool oom;
		void *obj = codec_from_row(m, r, &oom);
		const void *kept;

		if (obj == NULL && oom)
			goto oom;
		if (obj == NULL) {
			log_warn("%s: skipping an unreadable row", m->table);
			continue;
		}
		cache_key_id(st->cache, key, sizeof(key), m->kind,
		    codec_id(m, obj));
		if (refresh) {
			wb_add_row(w, m, key, obj, ttl);
			free(obj);
			continue;
		}
		/*
		 * A row found but not remembered must fail the call: the
		 * caller would take it for absent and cache that (wb_negative).
		 */
		if (!store_own(st, obj, OWN_MEM) ||
		    !store_lc_put(st, key, obj, &kept))
			goto oom;
		if (kept == obj)
			wb_add_row(w, m, key, obj, ttl);
		if (m->ptr_kind != NULL && kept != NULL &&
		    codec_str(m, kept)[0] != '\0') {
			char pv[32];
			int pl;

			cache_key_str(st->cache, key, sizeof(key), m->ptr_kind,
			    codec_str(m, kept));
			if (!store_lc_put(st, key, kept, NULL))
				goto oom;
			pl = snprintf(pv, sizeof(pv), "[%lld]",
			    (long long)codec_id(m, kept));
			wb_add(w, key, pv, (size_t)pl, ttl);
		}
	}
	goto out;
oom:
	store_seterr(st, "out of memory");
	rc = STORE_ERROR;
out:
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* The rows of model arg whose ids are ids (sorted, unique). */
static int
row_load(struct store *st, const void *arg, const int64_t *ids, size_t n,
    struct wb *w)
{
	struct db_sql where;
	int rc;

	db_sql_init(&where);
	db_sql_raw(&where, "id IN ");
	store_sql_ids(&where, ids, n);
	rc = fetch_db_rows(st, arg, &where, w, false);
	db_sql_free(&where);
	return rc;
}

/* How batch_get reads the rows of model m. */
static struct batch_ops
row_ops(const struct codec_model *m)
{
	return (struct batch_ops){ m->kind, true, row_decode, row_load };
}

/* read_rows_by_ids - see store_int.h; out[i] borrows from the local
 * cache, the codes are store.h's. */
int
read_rows_by_ids(struct store *st, const struct codec_model *m,
    const int64_t *ids, size_t n, const void **out)
{
	struct batch_ops ops = row_ops(m);
	struct batch_req req = { &ops, m, ids, n };
	int rc;

	rc = batch_get(st, &req, 1, true);
	for (size_t i = 0; i < n; i++)
		out[i] = store_lc_id(st, m->kind, ids[i]);
	return rc;
}

/* --- rows by string (pointer) ---------------------------------------- */

/* qsort order for string pointers. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What the pointer entries of one read said: ids[i], when has[i]; and
 * what those of another generation said: hint[i], when hinted[i]. */
struct ptr_ctx {
	int64_t		*ids;
	bool		*has;
	int64_t		*hint;
	bool		*hinted;
};

/* A pointer entry [id]: noted, not remembered until its row is read. */
static int
ptr_decode(struct store *st, void *ctx, size_t i, json_object *a,
    const void **obj)
{
	struct ptr_ctx *c = ctx;

	(void)st;
	*obj = NULL;
	c->has[i] = codec_ptr_id(a, &c->ids[i]);
	return STORE_OK;
}

/* A pointer entry [id] of another generation: a hint, not an answer. */
static void
ptr_other(void *ctx, size_t i, const char *payload, size_t len)
{
	struct ptr_ctx *c = ctx;
	json_object *a = codec_parse_cached(payload, len);

	c->hinted[i] = codec_ptr_id(a, &c->hint[i]);
	json_object_put(a);
}

/*
 * lease_hinted_rows - the rows that the n strings still unresolved after
 * the pointer read (pkeys[i], their pointer keys) most likely live in, as
 * their pointers of another generation said, are leased now, before
 * MariaDB is read: their write-backs then go over whatever those keys
 * hold (typically their own copies of that generation, after
 * "invalidate --all"), and rows_lease has nothing to read again.  A wrong
 * hint costs only the key read: the row MariaDB answers is leased late,
 * as without a hint.
 */
static void
lease_hinted_rows(struct store *st, const struct codec_model *m,
    const struct ptr_ctx *c, const char *const *pkeys, size_t n)
{
	struct keyset rows = { 0 };
	size_t k = 0;

	if (st->mode != READ_NORMAL || keyset_init(&rows, n) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (c->hinted[i] && store_lc_find(st, pkeys[i]) == NULL)
			cache_key_id(st->cache, rows.buf[k++], CACHE_KEY_MAX,
			    m->kind, c->hint[i]);
	if (k > 0)
		(void)cache_lease(st->cache, rows.kp, k);
out:
	keyset_free(&rows);
}

/* A "null" pointer entry is an absent row. */
static bool
ptr_negative(void *ctx, size_t i)
{
	(void)ctx;
	(void)i;
	return true;
}

/*
 * Pointer entries in memcached: each hit gives an id; the rows of those
 * ids are then read by id (local cache, then a second multi-get, never
 * MariaDB), and a pointer counts only when its row carries the same
 * string.  The rows that pointers of another generation name are leased
 * (lease_hinted_rows).  STORE_OK or STORE_ERROR (OOM).
 */
static int
fetch_cache_ptrs(struct store *st, const struct codec_model *m,
    const char *const *strs, size_t n)
{
	struct keyset ks = { 0 };
	struct ptr_ctx c = { 0 };
	int64_t *ids = NULL;
	size_t nids = 0;
	int rc = STORE_ERROR;

	if (n == 0 || st->mode == READ_DB_ONLY || !cache_enabled(st->cache))
		return STORE_OK;
	if (keyset_init(&ks, n) != 0 ||
	    (c.ids = calloc(n, sizeof(*c.ids))) == NULL ||
	    (c.has = calloc(n, sizeof(*c.has))) == NULL ||
	    (c.hint = calloc(n, sizeof(*c.hint))) == NULL ||
	    (c.hinted = calloc(n, sizeof(*c.hinted))) == NULL ||
	    (ids = calloc(n, sizeof(*ids))) == NULL) {
		store_seterr(st, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		cache_key_str(st->cache, ks.buf[i], CACHE_KEY_MAX, m->ptr_kind,
		    strs[i]);
	if ((rc = batch_cache_read(st, ks.kp, n, ptr_decode, ptr_negative,
	    ptr_other, &c)) != STORE_OK)
		goto out;
	/* Resolve: rows by id, from the local cache or memcached. */
	for (size_t i = 0; i < n; i++)
		if (c.has[i])
			ids[nids++] = c.ids[i];
	if (nids > 0) {
		struct batch_ops ops = row_ops(m);
		struct batch_req req = { &ops, m, ids, nids };

		if ((rc = batch_get(st, &req, 1, false)) != STORE_OK)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const void *row;

		if (!c.has[i])
			continue;
		row = store_lc_id(st, m->kind, c.ids[i]);
		/* A stale pointer (the row's string changed) is a miss. */
		if (row != NULL && strcmp(codec_str(m, row), strs[i]) == 0 &&
		    !store_lc_put(st, ks.kp[i], row, NULL)) {
			store_seterr(st, "out of memory");
			rc = STORE_ERROR;
			goto out;
		}
	}
	lease_hinted_rows(st, m, &c, ks.kp, n);
	rc = STORE_OK;
out:
	keyset_free(&ks);
	free(c.ids);
	free(c.has);
	free(c.hint);
	free(c.hinted);
	free(ids);
	return rc;
}

/*
 * The rows just found through their strings (public_key, relay_id) were
 * not read from memcached before MariaDB was: their ids were unknown.  A
 * write-back of such a row is conditional like any other (cache_lease.c),
 * so their keys are leased now, after the read (unless a pointer of
 * another generation named them before it: lease_hinted_rows): a key
 * found absent is written with "add", which an invalidation coming after
 * the lease refuses, and one found holding anything (an invalidation's
 * tombstone, another generation's copy, another process's write-back) is
 * read from MariaDB again by id, after the lease, and written over what
 * the lease saw.  Without this the first request after an invalidation would
 * leave such rows uncached.  w's writes of the rows read again are
 * replaced; a failed second read only loses those write-backs.
 */
static void
rows_lease(struct store *st, const struct codec_model *m, struct wb *w)
{
	struct cache *c = st->cache;
	const char **late = NULL;
	int64_t *ids = NULL;
	bool *was_late = NULL, absent;
	struct db_sql where;
	char prefix[CACHE_KEY_MAX];
	size_t plen, nlate = 0, nids = 0, kept = 0;

	db_sql_init(&where);
	if (w->n == 0 || st->mode != READ_NORMAL || !cache_enabled(c))
		return;
	cache_key_id(c, prefix, sizeof(prefix), m->kind, 0);
	plen = strlen(prefix) - 1;		/* without the id "0" */
	if ((late = malloc(w->n * sizeof(*late))) == NULL ||
	    (ids = malloc(w->n * sizeof(*ids))) == NULL ||
	    (was_late = calloc(w->n, sizeof(*was_late))) == NULL)
		goto out;
	/* Rows read by id before MariaDB was (a pointer hit whose row was
	 * a miss) have their cas already. */
	for (size_t i = 0; i < w->n; i++)
		if (strncmp(w->keys[i], prefix, plen) == 0 &&
		    !cache_was_read(c, w->keys[i], &absent)) {
			late[nlate++] = w->keys[i];
			was_late[i] = true;
		}
	if (nlate == 0)
		goto out;
	(void)cache_lease(c, late, nlate);
	/* Drop the first read's write-back of every late key found holding
	 * something: it would go over it with what was read before. */
	for (size_t i = 0; i < w->n; i++) {
		if (was_late[i] && cache_was_read(c, w->keys[i], &absent) &&
		    !absent) {
			ids[nids++] = strtoll(w->keys[i] + plen, NULL, 10);
			free(w->keys[i]);
			free(w->vals[i]);
			continue;
		}
		w->keys[kept] = w->keys[i];
		w->vals[kept] = w->vals[i];
		w->lens[kept] = w->lens[i];
		w->ttls[kept] = w->ttls[i];
		kept++;
	}
	w->n = kept;
	if (nids == 0)
		goto out;
	qsort(ids, nids, sizeof(*ids), store_cmp_i64);
	db_sql_raw(&where, "id IN ");
	store_sql_ids(&where, ids, nids);
	(void)fetch_db_rows(st, m, &where, w, true);
out:
	db_sql_free(&where);
	free(late);
	free(ids);
	free(was_late);
}

/* The pointer key of s. */
static const char *
ptr_key(struct store *st, const struct codec_model *m, const char *s,
    char key[CACHE_KEY_MAX])
{
	cache_key_str(st->cache, key, CACHE_KEY_MAX, m->ptr_kind, s);
	return key;
}

/*
 * read_rows_by_strs - the rows of m by a unique string column
 * (public_key, relay_id) through pointer entries: local cache, one
 * multi-get of pointers (and one of their rows), one query, write back.
 * Strings no row could hold are absent at once, without a round trip.
 * out[i] borrows from the local cache; the codes are store.h's.
 */
static int
read_rows_by_strs(struct store *st, const struct codec_model *m,
    const char *const *strs, size_t n, const void **out)
{
	char key[CACHE_KEY_MAX];
	const char **want = NULL;
	size_t nwant = 0, k = 0;
	struct wb w = { 0 };
	struct db_sql where;
	int rc = STORE_OK;

	db_sql_init(&where);
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (n == 0)
		return STORE_OK;
	if ((want = malloc(n * sizeof(*want))) == NULL) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		if (strs[i] == NULL ||
		    store_lc_find(st, ptr_key(st, m, strs[i], key)) != NULL)
			continue;
		/* No row can hold it: absent without asking anyone. */
		if (!store_could_be_column(strs[i], m->str_max)) {
			if (!store_lc_put(st, key, NULL, NULL)) {
				store_seterr(st, "out of memory");
				rc = STORE_ERROR;
			}
			continue;
		}
		want[nwant++] = strs[i];
	}
	if (nwant > 1)
		qsort(want, nwant, sizeof(*want), cmp_str);
	for (size_t i = 0; i < nwant; i++)
		if (k == 0 || strcmp(want[k - 1], want[i]) != 0)
			want[k++] = want[i];
	nwant = k;
	if (rc != STORE_OK ||
	    (rc = fetch_cache_ptrs(st, m, want, nwant)) != STORE_OK)
		goto fill;
	k = 0;
	for (size_t i = 0; i < nwant; i++)
		if (store_lc_find(st, ptr_key(st, m, want[i], key)) == NULL)
			want[k++] = want[i];
	if (k == 0 || st->mode == READ_CACHE_ONLY)
		goto fill;
	db_sql_raw(&where, m->str_column);
	db_sql_raw(&where, " IN (");
	for (size_t i = 0; i < k; i++) {
		if (i > 0)
			db_sql_raw(&where, ",");
		db_sql_token(&where, want[i]);
	}
	db_sql_raw(&where, ")");
	if ((rc = fetch_db_rows(st, m, &where, &w, false)) != STORE_OK)
		goto fill;
	/* Asked for and not found; every row found is remembered now. */
	for (size_t i = 0; i < k && rc == STORE_OK; i++)
		rc = wb_negative(st, &w, ptr_key(st, m, want[i], key));
	rows_lease(st, m, &w);
fill:
	wb_flush(st, &w);
	for (size_t i = 0; i < n; i++) {
		struct lc_node *node;

		if (strs[i] != NULL && (node = store_lc_find(st,
		    ptr_key(st, m, strs[i], key))) != NULL)
			out[i] = node->obj;
	}
	free(want);
	db_sql_free(&where);
	return rc;
}

/* --- public model reads ---------------------------------------------- */

/* store_projectkeys_by_public_keys - see store.h. */
int
store_projectkeys_by_public_keys(struct store *st,
    const char *const *public_keys, size_t n,
    const struct model_projectkey **out)
{
	return read_rows_by_strs(st, &codec_key, public_keys, n,
	    (const void **)out);
}

/* store_projects_by_ids - see store.h. */
int
store_projects_by_ids(struct store *st, const int64_t *ids, size_t n,
    const struct model_project **out)
{
	return read_rows_by_ids(st, &codec_project, ids, n, (const void **)out);
}

/* store_orgs_by_ids - see store.h. */
int
store_orgs_by_ids(struct store *st, const int64_t *ids, size_t n,
    const struct model_org **out)
{
	return read_rows_by_ids(st, &codec_org, ids, n, (const void **)out);
}

/* store_relays_by_ids - see store.h. */
int
store_relays_by_ids(struct store *st, const int64_t *ids, size_t n,
    const struct model_relay **out)
{
	return read_rows_by_ids(st, &codec_relay, ids, n, (const void **)out);
}

/* store_relays_by_relay_ids - see store.h. */
int
store_relays_by_relay_ids(struct store *st, const char *const *relay_ids,
    size_t n, const struct model_relay **out)
{
	return read_rows_by_strs(st, &codec_relay, relay_ids, n,
	    (const void **)out);
}

/* --- project key lists ----------------------------------------------- */

/* An empty list with room for n keys, or NULL on OOM. */
static struct keylist_obj *
keylist_new(size_t n)
{
	struct keylist_obj *kl = malloc(sizeof(*kl) + n * sizeof(kl->keys[0]));

	if (kl != NULL)
		kl->n = 0;
	return kl;
}

/*
 * Remember a key row read as part of a list: the request's copy wins, and
 * is *kept (NULL when the request holds the key as absent).  STORE_ERROR
 * on OOM; k is the request's (store_own) either way.
 */
static int
keylist_keep(struct store *st, struct model_projectkey *k,
    const struct model_projectkey **kept)
{
	char key[CACHE_KEY_MAX];
	const void *obj = NULL;

	*kept = NULL;
	if (!store_own(st, k, OWN_MEM))
		return STORE_ERROR;
	cache_key_id(st->cache, key, sizeof(key), "k", k->id);
	if (!store_lc_put(st, key, k, &obj))
		return STORE_ERROR;
	*kept = obj;
	return STORE_OK;
}

/* A cached key list of project pid: a list with one bad row is a miss. */
static int
keylist_decode(struct store *st, const void *arg, int64_t pid,
    json_object *a, const void **obj)
{
	struct keylist_obj *kl;
	size_t len;
	bool ok = true;

	(void)arg;
	*obj = NULL;
	if (!json_object_is_type(a, json_type_array))
		return STORE_OK;
	len = json_object_array_length(a);
	if ((kl = keylist_new(len)) == NULL)
		return STORE_ERROR;
	for (size_t j = 0; j < len && ok; j++) {
		bool oom;
		struct model_projectkey *k = codec_from_json(&codec_key,
		    json_object_array_get_idx(a, j), &oom);

		if (oom) {
			free(kl);
			return STORE_ERROR;
		}
		/*
		 * Every row must belong here, in the order keylist_load
		 * writes (by id, each once), or the entry is damaged: a miss.
		 */
		if (k == NULL || k->project_id != pid ||
		    (kl->n > 0 && k->id <= kl->keys[kl->n - 1]->id)) {
			free(k);
			ok = false;
		} else if (keylist_keep(st, k, &kl->keys[kl->n]) != STORE_OK) {
			free(kl);
			return STORE_ERROR;
		} else if (kl->keys[kl->n++] == NULL)
			ok = false;	/* held as absent by the request */
	}
	if (!ok) {
		free(kl);
		return STORE_OK;
	}
	if (!store_own(st, kl, OWN_MEM))
		return STORE_ERROR;
	*obj = kl;
	return STORE_OK;
}

/* One query for the keys of every project in pids (sorted, unique). */
static int
keylist_load(struct store *st, const void *arg, const int64_t *pids,
    size_t n, struct wb *w)
{
	struct db_sql q;
	struct db_res *r = NULL;
	const struct model_projectkey **rows = NULL, **fresh = NULL;
	size_t nrows = 0, j = 0;
	int rc;

	(void)arg;
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT " KEY_COLUMNS " FROM sentry_projectkey "
	    "WHERE project_id IN ");
	store_sql_ids(&q, pids, n);
	db_sql_raw(&q, " ORDER BY project_id, id");
	if ((rc = store_sql_query(st, store_reader(st), &q, &r)) != STORE_OK)
		goto out;
	if ((rows = malloc((db_res_rows(r) + 1) * sizeof(*rows))) == NULL ||
	    (fresh = malloc((db_res_rows(r) + 1) * sizeof(*fresh))) == NULL)
		goto oom;
	while (db_res_next(r)) {
		bool oom;
		struct model_projectkey *k = codec_from_row(&codec_key, r,
		    &oom);

		/* A list short of a row for OOM would be cached so. */
		if (k == NULL && oom)
			goto oom;
		if (k == NULL) {
			log_warn("sentry_projectkey: skipping an unreadable row");
			continue;
		}
		/* Served: the request's copy, if it has one; written back:
		 * this row (the list's cas was read after the request's copy
		 * of the row, perhaps after a write that changed it). */
		fresh[nrows] = k;
		if (keylist_keep(st, k, &rows[nrows]) != STORE_OK)
			goto oom;
		/* The request holds this key as absent: no list to serve. */
		if (rows[nrows] == NULL) {
			store_seterr(st, "project key %lld: found after the "
			    "request saw it absent", (long long)k->id);
			rc = STORE_ERROR;
			goto out;
		}
		nrows++;
	}
	/* The rows as read and pids are both ordered by project id: merge. */
	for (size_t i = 0; i < n; i++) {
		char key[CACHE_KEY_MAX];
		struct keylist_obj *kl;
		json_object *a;
		size_t start;

		while (j < nrows && fresh[j]->project_id < pids[i])
			j++;
		start = j;
		while (j < nrows && fresh[j]->project_id == pids[i])
			j++;
		if ((kl = keylist_new(j - start)) == NULL)
			goto oom;
		for (size_t x = start; x < j; x++)
			kl->keys[kl->n++] = rows[x];
		if (!store_own(st, kl, OWN_MEM))
			goto oom;
		cache_key_id(st->cache, key, sizeof(key), "kl", pids[i]);
		if (!store_lc_put(st, key, kl, NULL))
			goto oom;
		/* Out of memory for the text: served, not written back. */
		if ((a = codec_list_to_json(&codec_key,
		    (const void *const *)(fresh + start), j - start)) != NULL)
			wb_add_json(w, key, a, st->conf->ttl_projectkey);
		json_object_put(a);
	}
	goto out;
oom:
	store_seterr(st, "out of memory");
	rc = STORE_ERROR;
out:
	free(rows);
	free(fresh);
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

static const struct batch_ops keylist_ops = { "kl", false, keylist_decode,
    keylist_load };

/* store_projectkeys_by_project_ids - see store.h. */
int
store_projectkeys_by_project_ids(struct store *st, const int64_t *project_ids,
    size_t n, struct store_keylist *out)
{
	struct batch_req req = { &keylist_ops, NULL, project_ids, n };
	int rc;

	rc = batch_get(st, &req, 1, true);
	for (size_t i = 0; i < n; i++) {
		const struct keylist_obj *kl = store_lc_id(st, "kl",
		    project_ids[i]);

		out[i] = (struct store_keylist){ NULL, 0 };
		if (kl != NULL)
			out[i] = (struct store_keylist){ kl->keys, kl->n };
	}
	return rc;
}

/* --- relaycfgctl reads ----------------------------------------------- */

/* store_list_ids - see store.h; *ids is owned by the store. */
int
store_list_ids(struct store *st, const char *table, int64_t parent,
    const int64_t **ids, size_t *n)
{
	static const struct {
		const char	*name;
		const char	*sql;
		const char	*parent_col;
	} tables[] = {
		{ "org", "SELECT id FROM sentry_organization", NULL },
		{ "project", "SELECT id FROM sentry_project", "organization_id" },
		{ "template", "SELECT id FROM sentry_projecttemplate",
		    "organization_id" },
		{ "relay", "SELECT id FROM sentry_relay", NULL },
	};
	struct db_sql q;
	struct db_res *r = NULL;
	int64_t *v = NULL;
	size_t t, m = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		if (strcmp(tables[t].name, table) == 0)
			break;
	if (t == sizeof(tables) / sizeof(tables[0])) {
		store_seterr(st, "no table %s", table);
		return STORE_INVALID;
	}
	db_sql_init(&q);
	db_sql_raw(&q, tables[t].sql);
	if (parent != 0 && tables[t].parent_col != NULL) {
		db_sql_raw(&q, " WHERE ");
		db_sql_raw(&q, tables[t].parent_col);
		db_sql_raw(&q, " = ");
		db_sql_int(&q, parent);
	}
	db_sql_raw(&q, " ORDER BY id");
	if ((rc = store_sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	if ((v = malloc((db_res_rows(r) + 1) * sizeof(*v))) == NULL ||
	    !store_own(st, v, OWN_MEM)) {
		store_seterr(st, "out of memory");
		rc = STORE_ERROR;
		goto out;
	}
	while (db_res_next(r))
		if (db_res_int(r, 0, &v[m]))
			m++;
	*ids = v;
	*n = m;
out:
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* store_templates_by_ids - see store.h; never cached. */
int
store_templates_by_ids(struct store *st, const int64_t *ids, size_t n,
    const struct store_template **out)
{
	struct db_sql q;
	struct db_res *r = NULL;
	int64_t *u = NULL;
	int rc = STORE_OK;

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (n == 0)
		return STORE_OK;
	db_sql_init(&q);
	if ((u = malloc(n * sizeof(*u))) == NULL) {
		store_seterr(st, "out of memory");
		rc = STORE_ERROR;
		goto out;
	}
	memcpy(u, ids, n * sizeof(*u));
	db_sql_raw(&q, "SELECT id, organization_id, name FROM "
	    "sentry_projecttemplate WHERE id IN ");
	store_sql_ids(&q, u, store_uniq_i64(u, n));
	if ((rc = store_sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	while (db_res_next(r)) {
		struct store_template *t;
		size_t nl = db_res_len(r, 2);
		int64_t id, org;

		if (!db_res_int(r, 0, &id) || !db_res_int(r, 1, &org) ||
		    db_res_str(r, 2) == NULL)
			continue;
		if ((t = malloc(sizeof(*t) + nl + 1)) == NULL ||
		    !store_own(st, t, OWN_MEM)) {
			store_seterr(st, "out of memory");
			rc = STORE_ERROR;
			goto out;
		}
		t->id = id;
		t->organization_id = org;
		t->name = (char *)(t + 1);
		memcpy(t->name, db_res_str(r, 2), nl + 1);
		for (size_t i = 0; i < n; i++)
			if (ids[i] == id)
				out[i] = t;
	}
out:
	free(u);
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}


