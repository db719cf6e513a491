/*
 * store_rev.c - the persisted revision pair of project configs (Sentry's
 * sentry:relay-rev and sentry:relay-rev-lastchange project options): one
 * batched read, and one statement that writes only what moved.
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
 * pairs_from_rows - pairs[i] for ids[i] (sorted, distinct) from the rows
 * of r (project_id, key, value); rows of other projects or keys are
 * ignored.  A pair missing either half, or with a half of another shape,
 * is "": a row that does not read is simply no half.
 */
static void
pairs_from_rows(struct db_res *r, const int64_t *ids, size_t n,
    struct store_rev *pairs)
{
	memset(pairs, 0, n * sizeof(*pairs));
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
}

/*
 * read_pairs - pairs[i] for ids[i] (sorted, distinct) from db, as
 * pairs_from_rows reads them.  A STORE_* code; pairs are "" on failure.
 */
static int
read_pairs(struct store *st, struct db *db, const int64_t *ids, size_t n,
    struct store_rev *pairs)
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
	if ((rc = store_sql_query(st, db, &q, &r)) == STORE_OK)
		pairs_from_rows(r, ids, n, pairs);
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

int
store_revs_read(struct store *st, const int64_t *project_ids, size_t n,
    struct store_rev *out)
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
	if ((rc = read_pairs(st, store_reader(st), ids, m, pairs)) !=
	    STORE_OK)
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

/*
 * The shape valid_timestamp accepts, as the JSON string stored: a time
 * of any other shape is "none" here as it is in read_pairs.
 */
#define TIME_VALUE_REGEXP \
	"'^\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z\"$'"

/*
 * claim_sql - the one statement of a claim.  For each (id, rev) whose
 * project exists, two rows are upserted: the rev, and the time, which is
 * the stored time when the stored rev already is rev (byte for byte)
 * and the time has its shape, else now.  RETURNING hands back both rows
 * as they stand after the statement.  The SELECT reads the table it
 * writes, so InnoDB locks the rows (and gaps) it reads: a concurrent
 * claim of the same project waits for this one and then reads what it
 * wrote, or the two deadlock and one is rolled back whole.  The derived
 * table keeps ON DUPLICATE KEY from being parsed as a join condition.
 */
static void
claim_sql(struct db_sql *q, const int64_t *ids, const char *const *revs,
    size_t n, const char *now)
{
	char json[STORE_REV_LEN + STORE_REV_TIME_LEN + 3];

	db_sql_raw(q, "INSERT INTO sentry_projectoptions (project_id, `key`, "
	    "value) SELECT * FROM (SELECT c.id, k.`key`, CASE WHEN k.`key` = ");
	db_sql_str(q, STORE_REV_KEY);
	db_sql_raw(q, " THEN c.value WHEN r.value = BINARY c.value AND "
	    "BINARY t.value REGEXP " TIME_VALUE_REGEXP " THEN t.value ELSE ");
	/* Hex and digits only (checked): quoted, nothing to escape. */
	snprintf(json, sizeof(json), "\"%s\"", now);
	db_sql_str(q, json);
	db_sql_raw(q, " END FROM (");
	for (size_t i = 0; i < n; i++) {
		snprintf(json, sizeof(json), "\"%s\"", revs[i]);
		db_sql_raw(q, i == 0 ? "SELECT " : " UNION ALL SELECT ");
		db_sql_int(q, ids[i]);
		db_sql_raw(q, i == 0 ? " AS id, " : ", ");
		db_sql_str(q, json);
		if (i == 0)
			db_sql_raw(q, " AS value");
	}
	db_sql_raw(q, ") AS c JOIN sentry_project p ON p.id = c.id "
	    "CROSS JOIN (SELECT ");
	db_sql_str(q, STORE_REV_KEY);
	db_sql_raw(q, " AS `key` UNION ALL SELECT ");
	db_sql_str(q, STORE_REV_TIME_KEY);
	db_sql_raw(q, ") AS k LEFT JOIN sentry_projectoptions r ON "
	    "r.project_id = c.id AND r.`key` = ");
	db_sql_str(q, STORE_REV_KEY);
	db_sql_raw(q, " LEFT JOIN sentry_projectoptions t ON "
	    "t.project_id = c.id AND t.`key` = ");
	db_sql_str(q, STORE_REV_TIME_KEY);
	db_sql_raw(q, ") AS claim ON DUPLICATE KEY UPDATE value = VALUES(value) "
	    "RETURNING project_id, `key`, value");
}

int
store_revs_claim(struct store *st, const int64_t *project_ids,
    const char *const *revs, size_t n, const char *now,
    struct store_rev *out)
{
	struct store_rev *pairs = NULL;
	struct db_sql q;
	struct db_res *r = NULL;
	int64_t *ids = NULL;
	size_t m = 0;
	int rc = STORE_ERROR;

	db_sql_init(&q);
	if (n == 0)
		return STORE_OK;
	if (now == NULL || !valid_timestamp(now)) {
		store_seterr(st, "not a lastChange time");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (revs[i] == NULL || !is_hex(revs[i], STORE_REV_LEN)) {
			store_seterr(st, "not a revision");
			goto out;
		}
	if ((ids = sorted_ids(st, project_ids, n, &m)) == NULL)
		goto out;
	if (m != n) {
		store_seterr(st, "a project is claimed twice");
		goto out;
	}
	if ((pairs = calloc(n, sizeof(*pairs))) == NULL) {
		store_seterr(st, "out of memory");
		goto out;
	}
	claim_sql(&q, project_ids, revs, n, now);
	/* A query, for its RETURNING rows.  db_query sends it once more on
	 * a connection lost under it; the claim is idempotent: a second
	 * run finds the pair the first wrote, and keeps its time. */
	if ((rc = store_sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	pairs_from_rows(r, ids, n, pairs);
	/*
	 * The statement has committed.  A project with no rows no longer
	 * exists (now, as before); one whose rows do not read back as the
	 * pair asked for (a writer in between cannot produce that, the
	 * rows are locked) gets now too rather than an unchecked value.
	 */
	for (size_t i = 0; i < n; i++) {
		const int64_t *hit = bsearch(&project_ids[i], ids, n,
		    sizeof(*ids), store_cmp_i64);
		const struct store_rev *p = &pairs[hit - ids];

		/* pairs_from_rows leaves no half pair: rev set, time set. */
		snprintf(out[i].rev, sizeof(out[i].rev), "%s", revs[i]);
		snprintf(out[i].last_change, sizeof(out[i].last_change), "%s",
		    strcmp(p->rev, revs[i]) == 0 ? p->last_change : now);
	}
out:
	db_res_free(r);
	db_sql_free(&q);
	free(pairs);
	free(ids);
	return rc;
}
