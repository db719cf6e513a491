/*
 * store_thresholds.c - a project's transaction thresholds, Sentry's
 * ProjectTransactionThreshold and ProjectTransactionThresholdOverride:
 * read per project through the cache-aside mechanism (kind "tt"), and
 * the admin writes, each in one transaction, invalidating the project's
 * entry and its keys' computed configs.
 *
 * A project's thresholds are cached as one JSON array
 *	[[metric, threshold] | null, [[transaction, metric, threshold], ...]]
 * with the overrides in byte order of their names.  The same decoder reads
 * what memcached and what MariaDB gave, so a value is checked once, one way.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "db.h"
#include "log.h"
#include "store.h"
#include "store_int.h"
#include "valid.h"

#define TT_KIND		"tt"
#define TT_PROJECT	"sentry_projecttransactionthreshold"
#define TT_OVERRIDE	"sentry_projecttransactionthresholdoverride"

_Static_assert(MODEL_TXMETRIC_DURATION == VALID_TXMETRIC_DURATION &&
    MODEL_TXMETRIC_LCP == VALID_TXMETRIC_LCP &&
    MODEL_TXNAME_MAX == VALID_TXNAME_MAX, "model.h and valid.h agree");

/* store_valid_txmetric - Sentry's TransactionMetric values (valid.h). */
bool
store_valid_txmetric(int64_t metric)
{
	return valid_txmetric(metric);
}

/* store_valid_txthreshold - see valid.h's valid_txthreshold. */
bool
store_valid_txthreshold(int64_t threshold)
{
	return valid_txthreshold(threshold);
}

/* store_valid_txname - a transaction name: 1-200 characters of text. */
bool
store_valid_txname(const char *s)
{
	return valid_txname(s);
}

/* --- the cached form ------------------------------------------------- */

/* [metric, threshold] of valid values: true with them in *t. */
static bool
pair_ok(json_object *a, size_t off, struct model_txthreshold *t)
{
	json_object *m = json_object_array_get_idx(a, off);
	json_object *v = json_object_array_get_idx(a, off + 1);

	if (!json_object_is_type(m, json_type_int) ||
	    !json_object_is_type(v, json_type_int) ||
	    !store_valid_txmetric(json_object_get_int64(m)) ||
	    json_object_get_int64(v) < INT32_MIN ||
	    json_object_get_int64(v) > INT32_MAX)
		return false;
	t->metric = (int)json_object_get_int64(m);
	t->threshold = json_object_get_int64(v);
	return true;
}

/*
 * tt_from_json - the thresholds a cached array describes, as one
 * allocation (free() releases it), or NULL when a is not exactly such an
 * array (a miss) or on OOM (*oom set).
 */
static struct model_txthresholds *
tt_from_json(json_object *a, bool *oom)
{
	struct model_txthresholds *t = NULL;
	struct model_txthreshold *ov;
	json_object *p, *list;
	size_t n, strbytes = 0, size;
	char *sp;
	const char *prev = NULL;

	*oom = false;
	if (!json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) != 2)
		return NULL;
	p = json_object_array_get_idx(a, 0);
	list = json_object_array_get_idx(a, 1);
	if ((p != NULL && (!json_object_is_type(p, json_type_array) ||
	    json_object_array_length(p) != 2)) ||
	    !json_object_is_type(list, json_type_array))
		return NULL;
	n = json_object_array_length(list);
	if (n > SIZE_MAX / 4 / sizeof(*ov))
		return NULL;
	/* Names strictly ascending: sorted as Sentry orders them, unique. */
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i), *s;
		struct model_txthreshold chk;
		const char *name;

		if (!json_object_is_type(e, json_type_array) ||
		    json_object_array_length(e) != 3 ||
		    !json_object_is_type(s = json_object_array_get_idx(e, 0),
		    json_type_string) || !pair_ok(e, 1, &chk))
			return NULL;
		name = json_object_get_string(s);
		if ((size_t)json_object_get_string_len(s) != strlen(name) ||
		    !store_valid_txname(name) ||
		    (prev != NULL && strcmp(prev, name) >= 0))
			return NULL;
		prev = name;
		strbytes += strlen(name) + 1;
	}
	size = sizeof(*t) + n * sizeof(*ov) + strbytes;
	if ((t = calloc(1, size)) == NULL) {
		*oom = true;
		return NULL;
	}
	ov = (struct model_txthreshold *)(t + 1);
	sp = (char *)(ov + n);
	if (p != NULL) {
		if (!pair_ok(p, 0, &t->project)) {
			free(t);
			return NULL;
		}
		t->has_project = true;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i);
		const char *name = json_object_get_string(
		    json_object_array_get_idx(e, 0));
		size_t len = strlen(name) + 1;

		(void)pair_ok(e, 1, &ov[i]);
		memcpy(sp, name, len);
		ov[i].transaction = sp;
		sp += len;
	}
	t->overrides = ov;
	t->n_overrides = n;
	return t;
}

/* A cached entry: the thresholds it describes, else a miss. */
static int
tt_decode(struct store *st, const void *arg, int64_t id, json_object *a,
    const void **obj)
{
	struct model_txthresholds *t;
	bool oom;

	(void)arg;
	(void)id;
	*obj = NULL;
	if ((t = tt_from_json(a, &oom)) == NULL)
		return oom ? STORE_ERROR : STORE_OK;
	if (!store_own(st, t, OWN_MEM))
		return STORE_ERROR;
	*obj = t;
	return STORE_OK;
}

/* qsort order of override entries [name, metric, threshold]. */
static int
cmp_entry(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a;
	json_object *y = *(json_object *const *)b;

	return strcmp(json_object_get_string(json_object_array_get_idx(x, 0)),
	    json_object_get_string(json_object_array_get_idx(y, 0)));
}

/*
 * Append v, a new object, to a: false on OOM, v freed either way.  v is
 * NULL when its constructor ran out of memory (json_object_array_add
 * would append it as a JSON null), and json_object_array_add takes v
 * only when it succeeds.
 */
static bool
arr_add(json_object *a, json_object *v)
{
	if (v == NULL)
		return false;
	if (json_object_array_add(a, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* [metric, threshold] as a new array, or NULL on OOM. */
static json_object *
new_pair(int64_t metric, int64_t threshold)
{
	json_object *p = json_object_new_array_ext(2);

	if (p == NULL || !arr_add(p, json_object_new_int64(metric)) ||
	    !arr_add(p, json_object_new_int64(threshold))) {
		json_object_put(p);
		return NULL;
	}
	return p;
}

/*
 * One row of either table into the arrays of its project: a row Sentry
 * itself would crash on (an unknown metric) or that no Relay could match
 * is logged and left out; the rest of the project still goes out.
 * Returns -1 on OOM.
 */
static int
tt_row(struct db_res *r, const int64_t *ids, size_t n, json_object **arr)
{
	int64_t pid, metric, threshold;
	const char *name = db_res_str(r, 1);
	const int64_t *hit;
	json_object *e, *slot;

	if (!db_res_int(r, 0, &pid) ||
	    (hit = bsearch(&pid, ids, n, sizeof(*ids), store_cmp_i64)) == NULL)
		return 0;
	if (!db_res_int(r, 2, &metric) || !db_res_int(r, 3, &threshold) ||
	    !store_valid_txmetric(metric) || threshold < INT32_MIN ||
	    threshold > INT32_MAX || (name != NULL &&
	    (db_res_len(r, 1) != strlen(name) || !store_valid_txname(name)))) {
		log_warn("project %lld: a transaction threshold%s row has an "
		    "unknown metric or a bad name, ignored", (long long)pid,
		    name != NULL ? " override" : "");
		return 0;
	}
	slot = arr[hit - ids];
	if (name == NULL) {
		if ((e = new_pair(metric, threshold)) == NULL)
			return -1;
		/* The unique key allows one; a second would be a bug.
		 * json_object_array_put_idx takes e only on success. */
		if (json_object_array_put_idx(slot, 0, e) != 0) {
			json_object_put(e);
			return -1;
		}
		return 0;
	}
	if ((e = json_object_new_array_ext(3)) == NULL)
		return -1;
	if (!arr_add(e, json_object_new_string(name)) ||
	    !arr_add(e, json_object_new_int64(metric)) ||
	    !arr_add(e, json_object_new_int64(threshold))) {
		json_object_put(e);
		return -1;
	}
	/* arr_add frees e on failure. */
	return arr_add(json_object_array_get_idx(slot, 1), e) ? 0 : -1;
}

/*
 * One query for the thresholds of ids (sorted, unique): each project gets
 * its array, written back and decoded like a cached one.
 */
static int
tt_load(struct store *st, const void *arg, const int64_t *ids, size_t n,
    struct wb *w)
{
	struct db_sql q;
	struct db_res *r = NULL;
	json_object **arr = NULL;
	int rc;

	(void)arg;
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT project_id, NULL, metric, threshold FROM "
	    TT_PROJECT " WHERE project_id IN ");
	store_sql_ids(&q, ids, n);
	db_sql_raw(&q, " UNION ALL SELECT project_id, `transaction`, metric, "
	    "threshold FROM " TT_OVERRIDE " WHERE project_id IN ");
	store_sql_ids(&q, ids, n);
	if ((rc = store_sql_query(st, store_reader(st), &q, &r)) != STORE_OK)
		goto out;
	if ((arr = calloc(n, sizeof(*arr))) == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		json_object *l = json_object_new_array();

		if ((arr[i] = json_object_new_array_ext(2)) == NULL ||
		    l == NULL || json_object_array_add(arr[i], NULL) != 0 ||
		    json_object_array_add(arr[i], l) != 0) {
			json_object_put(l);
			goto oom;
		}
	}
	while (db_res_next(r))
		if (tt_row(r, ids, n, arr) != 0)
			goto oom;
	for (size_t i = 0; i < n; i++) {
		char key[CACHE_KEY_MAX];
		json_object *l = json_object_array_get_idx(arr[i], 1);
		struct model_txthresholds *t;
		bool oom;

		/* Byte order: utf8mb4_bin's, and a stable rev. */
		json_object_array_sort(l, cmp_entry);
		if ((t = tt_from_json(arr[i], &oom)) == NULL) {
			if (oom)
				goto oom;
			/* Two rows of one name differing only where the
			 * column's collation cannot see: not servable. */
			store_seterr(st, "project %lld: duplicate transaction "
			    "threshold overrides", (long long)ids[i]);
			rc = STORE_ERROR;
			continue;
		}
		if (!store_own(st, t, OWN_MEM))
			goto oom;
		cache_key_id(st->cache, key, sizeof(key), TT_KIND, ids[i]);
		/* Not remembered, the project would go without thresholds. */
		if (!store_lc_put(st, key, t, NULL))
			goto oom;
		wb_add_json(w, key, arr[i], st->conf->ttl_options);
	}
	goto out;
oom:
	store_seterr(st, "out of memory");
	rc = STORE_ERROR;
out:
	if (arr != NULL)
		for (size_t i = 0; i < n; i++)
			json_object_put(arr[i]);
	free(arr);
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

static const struct batch_ops tt_ops = {
	TT_KIND, false, tt_decode, tt_load
};

/* store_txthresholds - see store.h. */
int
store_txthresholds(struct store *st, const int64_t *project_ids, size_t n,
    const struct model_txthresholds **out)
{
	struct batch_req req = { &tt_ops, NULL, project_ids, n };
	int rc;

	rc = batch_get(st, &req, 1, true);
	for (size_t i = 0; i < n; i++)
		out[i] = store_lc_id(st, TT_KIND, project_ids[i]);
	return rc;
}

/* --- writes ---------------------------------------------------------- */

/* Start a write: forget the last write's errors. */
static int
tt_begin(struct store *st)
{
	st->cache_stale = false;
	st->err[0] = '\0';
	return store_rc_from_db(st, st->primary, db_begin(st->primary));
}

/*
 * Commit when rc is STORE_OK, else roll back; after a commit (or a COMMIT
 * whose fate is unknown) drop the project's entry and its keys' configs.
 */
static int
tt_finish(struct store *st, int rc, int64_t project_id)
{
	struct inval iv = { 0 };

	if (rc == STORE_OK) {
		rc = store_rc_from_db(st, st->primary, db_commit(st->primary));
		if (rc == STORE_OK || rc == STORE_UNAVAILABLE) {
			int rc2;

			inv_id(st, &iv, TT_KIND, project_id);
			rc2 = inv_keys_of_projects(st, &iv, "id", project_id,
			    false);
			inv_flush(st, &iv);
			if (rc2 != STORE_OK)
				st->cache_stale = true;
			return rc;
		}
	}
	db_rollback(st->primary);
	return rc;
}

/*
 * Lock the project (writers of its thresholds queue behind each other)
 * and read its organization, which the rows carry as Sentry's do.
 */
static int
lock_project(struct store *st, int64_t project_id, int64_t *org_id)
{
	struct db_sql q;
	struct db_res *r = NULL;
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, "SELECT organization_id FROM sentry_project "
	    "WHERE id = ");
	db_sql_int(&q, project_id);
	db_sql_raw(&q, " FOR UPDATE");
	if ((rc = store_sql_query(st, st->primary, &q, &r)) == STORE_OK) {
		if (!db_res_next(r)) {
			store_seterr(st, "no such project");
			rc = STORE_NOT_FOUND;
		} else if (!db_res_int(r, 0, org_id)) {
			store_seterr(st, "sentry_project: unreadable row");
			rc = STORE_ERROR;
		}
	}
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* The input checks every set shares. */
static int
check_values(struct store *st, int metric, int64_t threshold)
{
	if (!store_valid_txmetric(metric)) {
		store_seterr(st, "the metric is duration or lcp");
		return STORE_INVALID;
	}
	if (!store_valid_txthreshold(threshold)) {
		store_seterr(st, "the threshold is a multiple of 100 from "
		    "%lld to %lld", (long long)INT32_MIN / 100 * 100,
		    (long long)INT32_MAX / 100 * 100);
		return STORE_INVALID;
	}
	return STORE_OK;
}

/*
 * check_txname - STORE_OK for NULL (the project's own row) or a valid
 * transaction name; else STORE_INVALID with the reason set.
 */
static int
check_txname(struct store *st, const char *transaction)
{
	if (transaction != NULL && !store_valid_txname(transaction)) {
		store_seterr(st, "a transaction name is 1-%d characters of "
		    "text", MODEL_TXNAME_MAX);
		return STORE_INVALID;
	}
	return STORE_OK;
}

/*
 * tt_lock - tt_begin, then lock_project (org_id set): what every write
 * does before its statement.  Whatever it returns, the caller ends with
 * tt_finish, as after tt_begin.
 */
static int
tt_lock(struct store *st, int64_t project_id, int64_t *org_id)
{
	int rc;

	if ((rc = tt_begin(st)) != STORE_OK)
		return rc;
	return lock_project(st, project_id, org_id);
}

/*
 * The upsert of one row: transaction NULL for the project's threshold.
 * Sentry's columns: date_added on creation, date_updated on every save.
 */
static int
tt_upsert(struct store *st, int64_t project_id, const char *transaction,
    int metric, int64_t threshold)
{
	struct db_sql q;
	int64_t org_id = 0;
	int rc;

	if ((rc = check_values(st, metric, threshold)) != STORE_OK)
		return rc;
	if ((rc = check_txname(st, transaction)) != STORE_OK)
		return rc;
	db_sql_init(&q);
	if ((rc = tt_lock(st, project_id, &org_id)) != STORE_OK)
		goto out;
	db_sql_raw(&q, "INSERT INTO ");
	db_sql_raw(&q, transaction != NULL ? TT_OVERRIDE " (`transaction`, " :
	    TT_PROJECT " (");
	db_sql_raw(&q, "project_id, organization_id, threshold, metric, "
	    "date_added, date_updated) VALUES (");
	if (transaction != NULL) {
		db_sql_str(&q, transaction);
		db_sql_raw(&q, ", ");
	}
	db_sql_int(&q, project_id);
	db_sql_raw(&q, ", ");
	db_sql_int(&q, org_id);
	db_sql_raw(&q, ", ");
	db_sql_int(&q, threshold);
	db_sql_raw(&q, ", ");
	db_sql_int(&q, metric);
	db_sql_raw(&q, ", UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)) ON DUPLICATE KEY "
	    "UPDATE threshold = VALUES(threshold), metric = VALUES(metric), "
	    "organization_id = VALUES(organization_id), "
	    "date_updated = VALUES(date_updated)");
	rc = store_sql_exec(st, &q, NULL, NULL);
out:
	db_sql_free(&q);
	return tt_finish(st, rc, project_id);
}

/* tt_delete - the row of project_id (and transaction, for an override). */
static int
tt_delete(struct store *st, int64_t project_id, const char *transaction)
{
	struct db_sql q;
	uint64_t affected = 0;
	int64_t org_id;
	int rc;

	if ((rc = check_txname(st, transaction)) != STORE_OK)
		return rc;
	db_sql_init(&q);
	if ((rc = tt_lock(st, project_id, &org_id)) != STORE_OK)
		goto out;
	db_sql_raw(&q, "DELETE FROM ");
	db_sql_raw(&q, transaction != NULL ? TT_OVERRIDE : TT_PROJECT);
	db_sql_raw(&q, " WHERE project_id = ");
	db_sql_int(&q, project_id);
	if (transaction != NULL) {
		db_sql_raw(&q, " AND `transaction` = ");
		db_sql_str(&q, transaction);
	}
	if ((rc = store_sql_exec(st, &q, &affected, NULL)) == STORE_OK &&
	    affected == 0) {
		store_seterr(st, transaction != NULL ? "no such override" :
		    "the project has no threshold of its own");
		rc = STORE_NOT_FOUND;
	}
out:
	db_sql_free(&q);
	return tt_finish(st, rc, project_id);
}

/* store_txthreshold_set - see store.h. */
int
store_txthreshold_set(struct store *st, int64_t project_id, int metric,
    int64_t threshold)
{
	return tt_upsert(st, project_id, NULL, metric, threshold);
}

/* store_txthreshold_remove - see store.h. */
int
store_txthreshold_remove(struct store *st, int64_t project_id)
{
	return tt_delete(st, project_id, NULL);
}

/* store_txthreshold_override_set - see store.h. */
int
store_txthreshold_override_set(struct store *st, int64_t project_id,
    const char *transaction, int metric, int64_t threshold)
{
	if (transaction == NULL) {
		store_seterr(st, "a transaction name is needed");
		return STORE_INVALID;
	}
	return tt_upsert(st, project_id, transaction, metric, threshold);
}

/* store_txthreshold_override_remove - see store.h. */
int
store_txthreshold_override_remove(struct store *st, int64_t project_id,
    const char *transaction)
{
	if (transaction == NULL) {
		store_seterr(st, "a transaction name is needed");
		return STORE_INVALID;
	}
	return tt_delete(st, project_id, transaction);
}
