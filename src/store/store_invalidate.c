/*
 * store_invalidate.c - invalidation: the cache keys a scope (key,
 * project, organization, relay, all) or a write must drop, resolved in
 * the cache and in MariaDB, then deleted in one batch.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "db.h"
#include "store.h"
#include "store_int.h"

/* Collect a key to delete (a copy) into set; OOM marks iv incomplete. */
static void
inv_add(struct inval *iv, struct inval_set *set, const char *key)
{
	char *k;

	if (iv->oom || key[0] == '\0')
		return;
	if (set->n == set->cap) {
		size_t cap = set->cap != 0 ? set->cap * 2 : 16;
		char **p = realloc(set->keys, cap * sizeof(*p));

		if (p == NULL) {
			iv->oom = true;
			return;
		}
		set->keys = p;
		set->cap = cap;
	}
	if ((k = strdup(key)) == NULL) {
		iv->oom = true;
		return;
	}
	set->keys[set->n++] = k;
}

/* inv_id - collect <kind>:<id>. */
void
inv_id(struct store *st, struct inval *iv, const char *kind, int64_t id)
{
	char key[CACHE_KEY_MAX];

	cache_key_id(st->cache, key, sizeof(key), kind, id);
	inv_add(iv, &iv->rows, key);
}

/* inv_str - collect <kind>:<string> (nothing for an empty one). */
void
inv_str(struct store *st, struct inval *iv, const char *kind, const char *s)
{
	char key[CACHE_KEY_MAX];

	if (s == NULL || s[0] == '\0')
		return;
	cache_key_str(st->cache, key, sizeof(key), kind, s);
	inv_add(iv, &iv->rows, key);
}

/* inv_row - see store_int.h. */
void
inv_row(struct store *st, struct inval *iv, const struct codec_model *m,
    int64_t id, const char *s)
{
	inv_id(st, iv, m->kind, id);
	if (m->ptr_kind != NULL)
		inv_str(st, iv, m->ptr_kind, s);
}

/* A key: its row, pointer, its project's list, its computed config. */
void
inv_key(struct store *st, struct inval *iv, int64_t id, const char *pub,
    int64_t project_id)
{
	if (id != 0)
		inv_id(st, iv, "k", id);
	if (project_id != 0)
		inv_id(st, iv, "kl", project_id);
	inv_str(st, iv, "kp", pub);
	if (pub != NULL && pub[0] != '\0') {
		char key[CACHE_KEY_MAX];

		cache_key_config(st->cache, key, sizeof(key), pub);
		inv_add(iv, &iv->configs, key);
		cache_key_config_rev(st->cache, key, sizeof(key), pub);
		inv_add(iv, &iv->configs, key);
	}
}

/* A project's own entries (not its keys). */
void
inv_project(struct store *st, struct inval *iv, int64_t id)
{
	inv_id(st, iv, "p", id);
	inv_id(st, iv, "po", id);
	inv_id(st, iv, "kl", id);
	inv_id(st, iv, "tt", id);	/* transaction thresholds */
}

/* The keys of a set, freed. */
static void
set_free(struct inval_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->keys[i]);
	free(set->keys);
	memset(set, 0, sizeof(*set));
}

/* Drop the collected keys unsent. */
void
inv_free(struct inval *iv)
{
	set_free(&iv->rows);
	set_free(&iv->configs);
	iv->oom = false;
	iv->incomplete = false;
}

/* qsort order for owned strings. */
static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Delete a set's keys, each once (writes name some twice: a project's
 * list per key).  0, or -1 when memcached did not take them all.
 */
static int
set_delete(struct store *st, struct inval_set *set)
{
	size_t m = 0;

	if (set->n > 1)
		qsort(set->keys, set->n, sizeof(*set->keys), cmp_strp);
	for (size_t i = 0; i < set->n; i++) {
		if (m > 0 && strcmp(set->keys[m - 1], set->keys[i]) == 0)
			free(set->keys[i]);
		else
			set->keys[m++] = set->keys[i];
	}
	set->n = m;
	return cache_delete_many(st->cache, (const char *const *)set->keys,
	    set->n);
}

/*
 * Delete the collected keys and forget the local cache (its objects stay
 * alive for callers).  Any failure marks the store's cache as stale.
 *
 * The rows go first, and every server has applied their tombstones
 * (cache_delete_many returns after a barrier) before the configs'
 * tombstones are sent.  A config is built from rows read through the
 * cache: were its tombstone applied first, a request in between would
 * miss the config, read the rows still cached from before the write,
 * and write the config built from them back over the tombstone, with
 * the cas it read after the tombstone, which memcached accepts
 * (cache_lease.c).  That config would then be answered until its TTL.
 * In this order, a request that reads a config's tombstone reads rows
 * that are gone too, so MariaDB answers it with the write.  The second
 * set is tried even when the first failed.  Sets left incomplete (out of
 * memory, MariaDB failed while they were resolved) keep the order for
 * what they hold, and the store reports the cache stale.
 */
void
inv_flush(struct store *st, struct inval *iv)
{
	int rows, configs;

	store_lc_forget_all(st);
	rows = set_delete(st, &iv->rows);
	configs = set_delete(st, &iv->configs);
	if (iv->oom || iv->incomplete || rows != 0 || configs != 0)
		st->cache_stale = true;
	inv_free(iv);
}

/*
 * Collect the keys SELECT cols FROM from WHERE <where> names (columns: key
 * id, public key, project id; the first two may be NULL from a LEFT JOIN),
 * on the primary.  With projects, each project id is invalidated too.
 */
static int
inv_keys_select(struct store *st, struct inval *iv, const char *cols,
    const char *from, const struct sql_col *where, bool projects)
{
	struct db_sql q;
	struct db_res *r = NULL;
	int rc;

	db_sql_init(&q);
	stmt_select(&q, cols, from, where, 1);
	if ((rc = store_sql_query(st, st->primary, &q, &r)) == STORE_OK) {
		while (db_res_next(r)) {
			int64_t id = 0, pid = 0;

			(void)db_res_int(r, 0, &id);
			(void)db_res_int(r, 2, &pid);
			if (id != 0)
				inv_key(st, iv, id, db_res_str(r, 1), pid);
			if (projects && pid != 0)
				inv_project(st, iv, pid);
		}
	}
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* The keys of the projects whose column is id ("p.<column> = <id>"). */
int
inv_keys_of_projects(struct store *st, struct inval *iv, const char *column,
    int64_t id, bool projects)
{
	char col[64];

	snprintf(col, sizeof(col), "p.%s", column);
	return inv_keys_select(st, iv, "k.id, k.public_key, p.id",
	    "sentry_project p LEFT JOIN sentry_projectkey k "
	    "ON k.project_id = p.id", &SQL_INT(col, id), projects);
}

/*
 * What the cache itself says about keys: rows deleted behind our back.
 * A list that cannot be read (memcached failing, out of memory) leaves
 * the invalidation incomplete, and the store reports the cache stale:
 * such a key's config may still be cached.
 */
static void
inv_cached_keylists(struct store *st, struct inval *iv, const int64_t *pids,
    size_t n)
{
	enum read_mode saved = st->mode;
	struct store_keylist *lists;

	if (n == 0)
		return;
	if ((lists = calloc(n, sizeof(*lists))) == NULL) {
		iv->oom = true;
		return;
	}
	st->mode = READ_CACHE_ONLY;
	if (store_projectkeys_by_project_ids(st, pids, n, lists) != STORE_OK)
		iv->incomplete = true;
	st->mode = saved;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < lists[i].n; j++)
			inv_key(st, iv, lists[i].keys[j]->id,
			    lists[i].keys[j]->public_key,
			    lists[i].keys[j]->project_id);
	free(lists);
}

/* The keys whose column col is id (or str, when not NULL), on the
 * primary.  A STORE_* code. */
static int
inv_keys_where(struct store *st, struct inval *iv, const char *col,
    int64_t id, const char *str)
{
	struct sql_col where = SQL_NAMED(col, id, str);

	return inv_keys_select(st, iv, "id, public_key, project_id",
	    codec_key.table, &where, false);
}

/*
 * The scope resolvers: collect the keys of everything at and below the
 * scope, from the cache (what it holds, even of deleted rows) and from
 * MariaDB.  A STORE_* code; what was collected is valid either way.  A
 * cached read that fails leaves iv incomplete (the cache reported stale).
 */
static int
invalidate_key(struct store *st, struct inval *iv, const char *pub)
{
	enum read_mode saved = st->mode;
	const struct model_projectkey *cached = NULL;

	inv_key(st, iv, 0, pub, 0);
	st->mode = READ_CACHE_ONLY;
	if (store_projectkeys_by_public_keys(st, &pub, 1, &cached) !=
	    STORE_OK)
		iv->incomplete = true;
	st->mode = saved;
	if (cached != NULL)
		inv_key(st, iv, cached->id, cached->public_key,
		    cached->project_id);
	return inv_keys_where(st, iv, "public_key", 0, pub);
}

/* invalidate_project - the project, its options, list and keys. */
int
invalidate_project(struct store *st, struct inval *iv, int64_t id)
{
	inv_project(st, iv, id);
	inv_cached_keylists(st, iv, &id, 1);
	return inv_keys_where(st, iv, "project_id", id, NULL);
}

/* Ids from a one-column query, into a new array (caller frees). */
static int
query_ids(struct store *st, const struct db_sql *q, int64_t **ids, size_t *n)
{
	struct db_res *r = NULL;
	int rc;

	*ids = NULL;
	*n = 0;
	if ((rc = store_sql_query(st, st->primary, q, &r)) != STORE_OK)
		return rc;
	if ((*ids = malloc((db_res_rows(r) + 1) * sizeof(**ids))) == NULL) {
		db_res_free(r);
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	while (db_res_next(r))
		if (db_res_int(r, 0, &(*ids)[*n]))
			(*n)++;
	db_res_free(r);
	return STORE_OK;
}

/* invalidate_org - the organization, its options, its templates' options
 * and its projects as invalidate_project. */
int
invalidate_org(struct store *st, struct inval *iv, int64_t id)
{
	struct db_sql q;
	int64_t *v = NULL;
	size_t n = 0;
	int rc;

	inv_id(st, iv, "o", id);
	inv_id(st, iv, "oo", id);
	if ((rc = inv_keys_of_projects(st, iv, "organization_id", id,
	    true)) != STORE_OK)
		return rc;
	db_sql_init(&q);
	stmt_select(&q, "id", codec_project.table,
	    &SQL_INT("organization_id", id), 1);
	db_sql_raw(&q, " UNION ALL ");
	stmt_select(&q, "-id", "sentry_projecttemplate",
	    &SQL_INT("organization_id", id), 1);
	/* Projects come back positive, templates negative: one query. */
	if ((rc = query_ids(st, &q, &v, &n)) == STORE_OK) {
		size_t np = 0;

		for (size_t i = 0; i < n; i++) {
			if (v[i] < 0)
				inv_id(st, iv, "to", -v[i]);
			else
				v[np++] = v[i];
		}
		inv_cached_keylists(st, iv, v, np);
	}
	free(v);
	db_sql_free(&q);
	return rc;
}

/* invalidate_relay - the relay's row and pointer. */
static int
invalidate_relay(struct store *st, struct inval *iv, const char *relay_id)
{
	enum read_mode saved = st->mode;
	const struct model_relay *cached = NULL;
	struct db_sql q;
	int64_t *v = NULL;
	size_t n = 0;
	int rc;

	inv_str(st, iv, "rr", relay_id);
	st->mode = READ_CACHE_ONLY;
	if (store_relays_by_relay_ids(st, &relay_id, 1, &cached) != STORE_OK)
		iv->incomplete = true;
	st->mode = saved;
	if (cached != NULL)
		inv_id(st, iv, "r", cached->id);
	db_sql_init(&q);
	stmt_select(&q, "id", codec_relay.table,
	    &SQL_TOKEN(codec_relay.str_column, relay_id), 1);
	if ((rc = query_ids(st, &q, &v, &n)) == STORE_OK)
		for (size_t i = 0; i < n; i++)
			inv_id(st, iv, "r", v[i]);
	free(v);
	db_sql_free(&q);
	return rc;
}

/* store_invalidate - see store.h. */
int
store_invalidate(struct store *st, enum store_scope scope, int64_t id,
    const char *public_key)
{
	struct inval iv = { 0 };
	int rc = STORE_OK;

	st->cache_stale = false;
	st->err[0] = '\0';
	switch (scope) {
	case STORE_SCOPE_KEY:
		if (public_key == NULL)
			goto invalid;
		rc = invalidate_key(st, &iv, public_key);
		break;
	case STORE_SCOPE_PROJECT:
		if (id <= 0)
			goto invalid;
		rc = invalidate_project(st, &iv, id);
		break;
	case STORE_SCOPE_ORG:
		if (id <= 0)
			goto invalid;
		rc = invalidate_org(st, &iv, id);
		break;
	case STORE_SCOPE_RELAY:
		if (public_key == NULL)
			goto invalid;
		rc = invalidate_relay(st, &iv, public_key);
		break;
	case STORE_SCOPE_ALL:
		store_lc_forget_all(st);
		if (cache_bump_generation(st->cache) != 0)
			st->cache_stale = true;
		return STORE_OK;
	default:
		goto invalid;
	}
	/* Whatever was resolved is dropped, even when MariaDB failed. */
	inv_flush(st, &iv);
	return rc;
invalid:
	store_seterr(st, "bad invalidation scope");
	return STORE_INVALID;
}
