/*
 * store_rev.c - the persisted revision pair of project configs (Sentry's
 * sentry:relay-rev and sentry:relay-rev-lastchange project options): one
 * batched read, one INSERT IGNORE for projects that have none, and one
 * transaction that writes only what moved.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "store.h"
#include "store_int.h"
#include "store_rev.h"
#include "valid.h"

/* s is exactly len characters of [0-9a-f]. */
static bool
is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[len] == '\0';
}

/*
 * value_string - the JSON string stored in an option value, copied into
 * out (len + 1 bytes) when it is exactly len characters; false for
 * anything else (not JSON, not a string, another length).
 */
static bool
value_string(const char *v, size_t vlen, size_t len, char *out)
{
	json_object *o;
	bool good = false;

	if (v == NULL || (o = codec_parse(v, vlen)) == NULL)
		return false;
	if (json_object_is_type(o, json_type_string) &&
	    (size_t)json_object_get_string_len(o) == len) {
		memcpy(out, json_object_get_string(o), len);
		out[len] = '\0';
		good = strlen(out) == len;
	}
	json_object_put(o);
	return good;
}

/*
 * read_pairs - pairs[i] for ids[i] (sorted, distinct) from db, locking
 * the rows read when for_update.  A pair missing either half, or with a
 * half of another shape, is "".  A STORE_* code; pairs are "" on failure.
 */
static int
read_pairs(struct store *st, struct db *db, const int64_t *ids, size_t n,
    bool for_update, struct store_rev *pairs)
{
	struct db_sql q;
	struct db_res *r = NULL;
	int rc;

	memset(pairs, 0, n * sizeof(*pairs));
	if (n == 0)
		return STORE_OK;
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT project_id, `key`, value FROM "
	    "sentry_projectoptions WHERE `key` IN (");
	db_sql_str(&q, STORE_REV_KEY);
	db_sql_raw(&q, ",");
	db_sql_str(&q, STORE_REV_TIME_KEY);
	db_sql_raw(&q, ") AND project_id IN ");
	store_sql_ids(&q, ids, n);
	if (for_update)
		db_sql_raw(&q, " FOR UPDATE");
	if ((rc = store_sql_query(st, db, &q, &r)) != STORE_OK)
		goto out;
	while (db_res_next(r)) {
		const char *k = db_res_str(r, 1), *v = db_res_str(r, 2);
		size_t vlen = db_res_len(r, 2);
		const int64_t *hit;
		struct store_rev *p;
		int64_t owner;

		if (!db_res_int(r, 0, &owner) || k == NULL ||
		    (hit = bsearch(&owner, ids, n, sizeof(*ids),
		    store_cmp_i64)) == NULL)
			continue;
		p = &pairs[hit - ids];
		if (strcmp(k, STORE_REV_KEY) == 0) {
			if (!value_string(v, vlen, STORE_REV_LEN, p->rev) ||
			    !is_hex(p->rev, STORE_REV_LEN))
				p->rev[0] = '\0';
		} else if (strcmp(k, STORE_REV_TIME_KEY) == 0) {
			if (!value_string(v, vlen, STORE_REV_TIME_LEN,
			    p->last_change) || !valid_timestamp(p->last_change))
				p->last_change[0] = '\0';
		}
	}
	/* Half a pair says nothing about when the other half was true. */
	for (size_t i = 0; i < n; i++)
		if (pairs[i].rev[0] == '\0' || pairs[i].last_change[0] == '\0')
			memset(&pairs[i], 0, sizeof(pairs[i]));
out:
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* A sorted, distinct copy of ids (count in *m), or NULL on OOM. */
static int64_t *
sorted_ids(struct store *st, const int64_t *ids, size_t n, size_t *m)
{
	int64_t *s;

	if ((s = calloc(n + 1, sizeof(*s))) == NULL) {
		store_seterr(st, "out of memory");
		return NULL;
	}
	memcpy(s, ids, n * sizeof(*s));
	*m = store_uniq_i64(s, n);
	return s;
}

/* The pairs of project_ids as db has them: store_revs_read's work. */
static int
revs_read(struct store *st, struct db *db, const int64_t *project_ids,
    size_t n, struct store_rev *out)
{
	struct store_rev *pairs = NULL;
	int64_t *ids;
	size_t m = 0;
	int rc;

	memset(out, 0, n * sizeof(*out));
	if (n == 0)
		return STORE_OK;
	if ((ids = sorted_ids(st, project_ids, n, &m)) == NULL)
		return STORE_ERROR;
	if ((pairs = calloc(m, sizeof(*pairs))) == NULL) {
		store_seterr(st, "out of memory");
		rc = STORE_ERROR;
		goto out;
	}
	if ((rc = read_pairs(st, db, ids, m, false, pairs)) != STORE_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const int64_t *hit = bsearch(&project_ids[i], ids, m,
		    sizeof(*ids), store_cmp_i64);

		out[i] = pairs[hit - ids];
	}
out:
	free(pairs);
	free(ids);
	return rc;
}

int
store_revs_read(struct store *st, const int64_t *project_ids, size_t n,
    struct store_rev *out)
{
	return revs_read(st, store_reader(st), project_ids, n, out);
}

/* The projects of ids (sorted) that exist, locked: exists[i]. */
static int
lock_projects(struct store *st, const int64_t *ids, size_t n, bool *exists)
{
	struct db_sql q;
	struct db_res *r = NULL;
	int rc;

	memset(exists, 0, n * sizeof(*exists));
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT id FROM sentry_project WHERE id IN ");
	store_sql_ids(&q, ids, n);
	db_sql_raw(&q, " FOR UPDATE");
	if ((rc = store_sql_query(st, st->primary, &q, &r)) == STORE_OK)
		while (db_res_next(r)) {
			const int64_t *hit;
			int64_t id;

			if (db_res_int(r, 0, &id) && (hit = bsearch(&id, ids,
			    n, sizeof(*ids), store_cmp_i64)) != NULL)
				exists[hit - ids] = true;
		}
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* Append one "(project_id, key, JSON string)" row of the upsert. */
static void
upsert_row(struct db_sql *q, bool first, int64_t id, const char *key,
    const char *text)
{
	char json[STORE_REV_LEN + STORE_REV_TIME_LEN + 3];

	/* Hex and digits only (checked): quoted, nothing to escape. */
	snprintf(json, sizeof(json), "\"%s\"", text);
	db_sql_raw(q, first ? "(" : ",(");
	db_sql_int(q, id);
	db_sql_raw(q, ",");
	db_sql_str(q, key);
	db_sql_raw(q, ",");
	db_sql_str(q, json);
	db_sql_raw(q, ")");
}

/*
 * pair_args_ok - now is a lastChange time and every revs[i] a revision;
 * else false, with the store's error set.
 */
static bool
pair_args_ok(struct store *st, const char *const *revs, size_t n,
    const char *now)
{
	if (now == NULL || !valid_timestamp(now)) {
		store_seterr(st, "not a lastChange time");
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (revs[i] == NULL || !is_hex(revs[i], STORE_REV_LEN)) {
			store_seterr(st, "not a revision");
			return false;
		}
	return true;
}

/* A project and where it stands in the caller's arrays. */
struct rev_slot {
	int64_t	id;
	size_t	idx;
};

/* qsort order of struct rev_slot: by project id. */
static int
cmp_slot(const void *a, const void *b)
{
	const struct rev_slot *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* What store_revs_add added of a project's pair (bits). */
#define ADDED_REV	1	/* sentry:relay-rev */
#define ADDED_TIME	2	/* sentry:relay-rev-lastchange */

/*
 * add_rows - the INSERT IGNORE of store_revs_add; added[i] (zeroed
 * first) the rows it added of project_ids[i], as RETURNING names them.
 * A STORE_* code.
 */
static int
add_rows(struct store *st, const int64_t *project_ids,
    const char *const *revs, size_t n, const char *now, unsigned char *added)
{
	struct rev_slot *order = NULL;
	struct db_res *r = NULL;
	struct db_sql q;
	int rc = STORE_ERROR;

	memset(added, 0, n * sizeof(*added));
	db_sql_init(&q);
	if ((order = calloc(n, sizeof(*order))) == NULL) {
		store_seterr(st, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = (struct rev_slot){ project_ids[i], i };
	qsort(order, n, sizeof(*order), cmp_slot);
	for (size_t k = 1; k < n; k++)
		if (order[k].id == order[k - 1].id) {
			store_seterr(st, "a project is added twice");
			goto out;
		}
	/*
	 * Rows in id order, the rev before its time, as every writer takes
	 * them: a second writer of a project waits on the first's rows and
	 * then finds them (ignored).  IGNORE also turns a project deleted
	 * meanwhile (the foreign key) into rows not added.  RETURNING names
	 * the rows that were added, and only those.
	 */
	db_sql_raw(&q, "INSERT IGNORE INTO sentry_projectoptions (project_id, "
	    "`key`, value) VALUES ");
	for (size_t k = 0; k < n; k++) {
		upsert_row(&q, k == 0, order[k].id, STORE_REV_KEY,
		    revs[order[k].idx]);
		upsert_row(&q, false, order[k].id, STORE_REV_TIME_KEY, now);
	}
	db_sql_raw(&q, " RETURNING project_id, `key`");
	if ((rc = store_sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	while (db_res_next(r)) {
		struct rev_slot probe = { 0, 0 }, *hit;
		const char *k = db_res_str(r, 1);

		if (!db_res_int(r, 0, &probe.id) || k == NULL ||
		    (hit = bsearch(&probe, order, n, sizeof(*order),
		    cmp_slot)) == NULL)
			continue;
		if (strcmp(k, STORE_REV_KEY) == 0)
			added[hit->idx] |= ADDED_REV;
		else if (strcmp(k, STORE_REV_TIME_KEY) == 0)
			added[hit->idx] |= ADDED_TIME;
	}
out:
	db_res_free(r);
	db_sql_free(&q);
	free(order);
	return rc;
}

int
store_revs_add(struct store *st, const int64_t *project_ids,
    const char *const *revs, size_t n, const char *now,
    struct store_rev *out, bool *settled, bool *force)
{
	struct store_rev *stood = NULL;
	unsigned char *added = NULL;
	int64_t *none = NULL;
	size_t m = 0;
	int rc = STORE_ERROR;

	memset(settled, 0, n * sizeof(*settled));
	memset(force, 0, n * sizeof(*force));
	if (n == 0)
		return STORE_OK;
	if (!pair_args_ok(st, revs, n, now))
		return STORE_ERROR;
	if ((added = calloc(n, sizeof(*added))) == NULL ||
	    (none = calloc(n, sizeof(*none))) == NULL ||
	    (stood = calloc(n, sizeof(*stood))) == NULL) {
		store_seterr(st, "out of memory");
		goto out;
	}
	if ((rc = add_rows(st, project_ids, revs, n, now, added)) != STORE_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (added[i] == (ADDED_REV | ADDED_TIME)) {
			snprintf(out[i].rev, sizeof(out[i].rev), "%s", revs[i]);
			snprintf(out[i].last_change,
			    sizeof(out[i].last_change), "%s", now);
			settled[i] = true;
		} else if (added[i] == 0)
			none[m++] = project_ids[i];
		else
			/* Half added.  The rev beside a time that stood there
			 * is not that time's: the claim must write now.  A
			 * time beside a rev that stood is now already. */
			force[i] = added[i] == ADDED_REV;
	}
	/* Nothing added: a pair stood already, most likely this very
	 * revision, added a moment ago by another worker.  Read on the
	 * primary, such a pair is the answer. */
	if (m == 0 || revs_read(st, st->primary, none, m, stood) != STORE_OK)
		goto out;
	for (size_t i = 0, j = 0; i < n; i++) {
		if (added[i] != 0)
			continue;
		if (strcmp(stood[j].rev, revs[i]) == 0) {
			out[i] = stood[j];
			settled[i] = true;
		}
		j++;
	}
out:
	free(added);
	free(none);
	free(stood);
	return rc;
}

int
store_revs_claim(struct store *st, const int64_t *project_ids,
    const char *const *revs, const bool *force, size_t n, const char *now,
    struct store_rev *out)
{
	struct store_rev *pairs = NULL;
	struct db_sql q;
	int64_t *ids = NULL;
	bool *exists = NULL, began = false, any = false;
	size_t m = 0;
	int rc = STORE_ERROR;

	db_sql_init(&q);
	if (n == 0)
		return STORE_OK;
	if (!pair_args_ok(st, revs, n, now))
		goto out;
	if ((ids = sorted_ids(st, project_ids, n, &m)) == NULL)
		goto out;
	if (m != n) {
		store_seterr(st, "a project is claimed twice");
		goto out;
	}
	if ((pairs = calloc(n, sizeof(*pairs))) == NULL ||
	    (exists = calloc(n, sizeof(*exists))) == NULL) {
		store_seterr(st, "out of memory");
		goto out;
	}
	if ((rc = store_rc_from_db(st, st->primary,
	    db_begin(st->primary))) != STORE_OK)
		goto out;
	began = true;
	/* The project rows first: what every claim of a project waits on,
	 * taken in id order, so two claims never deadlock on gaps. */
	if ((rc = lock_projects(st, ids, n, exists)) != STORE_OK ||
	    (rc = read_pairs(st, st->primary, ids, n, true, pairs)) !=
	    STORE_OK)
		goto out;
	db_sql_raw(&q, "INSERT INTO sentry_projectoptions (project_id, `key`, "
	    "value) VALUES ");
	for (size_t i = 0; i < n; i++) {
		const int64_t *hit = bsearch(&project_ids[i], ids, n,
		    sizeof(*ids), store_cmp_i64);
		size_t k = (size_t)(hit - ids);

		if (!exists[k] || (strcmp(pairs[k].rev, revs[i]) == 0 &&
		    (force == NULL || !force[i])))
			continue;
		upsert_row(&q, !any, project_ids[i], STORE_REV_KEY, revs[i]);
		upsert_row(&q, false, project_ids[i], STORE_REV_TIME_KEY, now);
		any = true;
	}
	db_sql_raw(&q, " ON DUPLICATE KEY UPDATE value = VALUES(value)");
	if (any && (rc = store_sql_exec(st, &q, NULL, NULL)) != STORE_OK)
		goto out;
	if ((rc = store_rc_from_db(st, st->primary,
	    db_commit(st->primary))) != STORE_OK)
		goto out;
	began = false;
	for (size_t i = 0; i < n; i++) {
		const int64_t *hit = bsearch(&project_ids[i], ids, n,
		    sizeof(*ids), store_cmp_i64);
		size_t k = (size_t)(hit - ids);

		snprintf(out[i].rev, sizeof(out[i].rev), "%s", revs[i]);
		snprintf(out[i].last_change, sizeof(out[i].last_change), "%s",
		    exists[k] && strcmp(pairs[k].rev, revs[i]) == 0 &&
		    (force == NULL || !force[i]) ? pairs[k].last_change : now);
	}
out:
	if (began)
		db_rollback(st->primary);
	db_sql_free(&q);
	free(pairs);
	free(exists);
	free(ids);
	return rc;
}
