/*
 * store_mirror.c - relaycfg's side of the Sentry mirror (store_mirror.h):
 * read a table in canonical text, take the sync lock, apply a plan in
 * one transaction and drop the cache entries of exactly what changed.
 *
 * A plan is applied in three passes, so that no intermediate state
 * breaks a unique key or a foreign key:
 *   1. park: rows about to be deleted, or to take another unique value
 *      (a slug renamed and reused, two slugs swapped), give theirs up
 *      first (NULL, or "~<id>" where NULL is not allowed: Sentry's slugs
 *      and names never hold '~');
 *   2. updates and inserts, parents first (a project moved to a new
 *      organization finds it; a key moved leaves its old project);
 *   3. deletes, children first (what stays was re-pointed in 2).
 * Every UPDATE must match its one row; anything else means relaycfg's
 * rows changed under the sync, and the transaction is rolled back.
 *
 * Invalidation is computed from the rows, not by asking MariaDB: the
 * plan holds every changed row before and after, and the two snapshots
 * say which keys belong to which project and which projects to which
 * organization or template.  The entries dropped are the ones the
 * admin writes drop for the same change (store_write.c):
 *   organization:          o, the keys of its projects
 *   organization option:   oo, the keys of its projects
 *   template:              to; deleted, also its projects (SET NULL)
 *   template option:       to, the keys of the projects using it
 *   project:               p, po, kl, tt, its keys
 *   project option:        po, its keys
 *   threshold (override):  tt, its keys
 *   key:                   k, kp, kl, the config, old and new
 *   relay:                 store_invalidate(STORE_SCOPE_RELAY), before
 *                          the change (its cached row is found by
 *                          relaycfg's id) and after
 * where "its keys" means each key's row, pointer, list and computed
 * config.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "store_mirror.h"

/* Rows per multi-row INSERT / ids per DELETE ... IN: statements stay far
 * below max_allowed_packet (16 MB by default) for any option value. */
#define MIRROR_CHUNK	200

/* `name`, as both quoting rules and reserved words ("key") need. */
static void
sql_name(struct db_sql *q, const char *name)
{
	db_sql_raw(q, "`");
	db_sql_raw(q, name);
	db_sql_raw(q, "`");
}

/* One value of column c as an SQL literal. */
static void
sql_value(struct db_sql *q, const struct mirror_col *c, const char *v)
{
	if (v == NULL)
		db_sql_raw(q, "NULL");
	else if (c->kind == MC_BOOL)
		db_sql_raw(q, strcmp(v, "1") == 0 ? "1" : "0");
	else if (c->kind == MC_INT)
		db_sql_int(q, strtoll(v, NULL, 10));
	else
		db_sql_str(q, v);
}

/* "WHERE k1 = x AND k2 = y" for row's key. */
static void
sql_where_key(struct db_sql *q, const struct mirror_table *t,
    const struct mirror_row *row)
{
	db_sql_raw(q, " WHERE ");
	for (size_t c = 0; c < t->nkey; c++) {
		if (c > 0)
			db_sql_raw(q, " AND ");
		sql_name(q, t->cols[c].name);
		db_sql_raw(q, " = ");
		sql_value(q, &t->cols[c], row->v[c]);
	}
}

/* store_mirror_read - see store_mirror.h. */
int
store_mirror_read(struct store *st, enum mirror_table_id tid,
    struct mirror_rows *out)
{
	const struct mirror_table *t = mirror_table(tid);
	const char **vals = NULL;
	struct db_sql q;
	struct db_res *r = NULL;
	int rc;

	mirror_rows_init(out, t);
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT ");
	for (size_t c = 0; c < t->ncols; c++) {
		if (c > 0)
			db_sql_raw(&q, ", ");
		if (t->cols[c].kind == MC_TIME) {
			/* DATETIME(6) holds UTC: no zone to convert. */
			db_sql_raw(&q, "DATE_FORMAT(");
			sql_name(&q, t->cols[c].name);
			db_sql_raw(&q, ", '%Y-%m-%d %H:%i:%s.%f')");
		} else {
			sql_name(&q, t->cols[c].name);
		}
	}
	db_sql_raw(&q, " FROM ");
	db_sql_raw(&q, t->name);
	if ((rc = store_sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	if ((vals = calloc(t->ncols, sizeof(*vals))) == NULL)
		goto oom;
	while (db_res_next(r)) {
		for (size_t c = 0; c < t->ncols; c++)
			vals[c] = db_res_str(r, (unsigned)c);
		if (mirror_rows_add(out, vals, false, NULL, 0) < 0)
			goto oom;
	}
	if (!mirror_rows_sort(out)) {
		store_seterr(st, "%s holds two rows with one key", t->name);
		rc = STORE_ERROR;
	}
	goto out;
oom:
	store_seterr(st, "out of memory");
	rc = STORE_ERROR;
out:
	if (rc != STORE_OK)
		mirror_rows_free(out);
	free(vals);
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* The lock's name: per database, so that two relaycfg databases on one
 * server never wait for each other. */
#define LOCK_NAME "CONCAT(DATABASE(), ':relaycfg-sentry-sync')"

/* store_mirror_lock - see store_mirror.h. */
int
store_mirror_lock(struct store *st, bool *got)
{
	struct db_sql q;
	struct db_res *r = NULL;
	int64_t v = 0;
	int rc;

	*got = false;
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT GET_LOCK(" LOCK_NAME ", 0)");
	if ((rc = store_sql_query(st, st->primary, &q, &r)) == STORE_OK) {
		if (db_res_next(r) && db_res_int(r, 0, &v))
			*got = v == 1;
		else {
			/* NULL: MariaDB could not take it (not "busy"). */
			store_seterr(st, "GET_LOCK failed");
			rc = STORE_ERROR;
		}
	}
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* store_mirror_unlock - see store_mirror.h. */
void
store_mirror_unlock(struct store *st)
{
	struct db_sql q;
	struct db_res *r = NULL;

	db_sql_init(&q);
	db_sql_raw(&q, "SELECT RELEASE_LOCK(" LOCK_NAME ")");
	(void)store_sql_query(st, st->primary, &q, &r);
	db_res_free(r);
	db_sql_free(&q);
}

/* --- applying -------------------------------------------------------- */

/*
 * exec_counted - run the change in q, count it, reset q.  With expect >= 0
 * the statement must match exactly that many rows (STORE_ERROR
 * otherwise: relaycfg's rows moved under the sync).
 */
static int
exec_counted(struct store *st, struct db_sql *q, unsigned long *writes,
    long long expect)
{
	uint64_t affected = 0;
	int rc = store_sql_exec(st, q, &affected, NULL);

	if (rc == STORE_OK) {
		(*writes)++;
		if (expect >= 0 && affected != (uint64_t)expect) {
			store_seterr(st, "a row changed in relaycfg's database "
			    "during the sync (%llu rows where %lld were "
			    "expected); try again", (unsigned long long)affected,
			    expect);
			rc = STORE_ERROR;
		}
	}
	db_sql_reset(q);
	return rc;
}

/*
 * The rows relaycfg keeps of its own under a row about to be deleted:
 * its sentry:relay-rev options under a project, its registrations
 * (sentry_relayusage) under a relay.  Run and counted.
 */
static int
delete_own_children(struct store *st, const struct mirror_table *t,
    const struct mirror_row *h, unsigned long *writes)
{
	struct db_sql q;
	int rc = STORE_OK;

	db_sql_init(&q);
	if (t->id == MT_PROJECT) {
		db_sql_raw(&q, "DELETE FROM sentry_projectoptions "
		    "WHERE project_id = ");
		db_sql_int(&q, h->k[0]);
		rc = exec_counted(st, &q, writes, -1);
	} else if (t->id == MT_RELAY) {
		db_sql_raw(&q, "DELETE FROM sentry_relayusage WHERE relay_id = ");
		db_sql_str(&q, h->v[0]);
		rc = exec_counted(st, &q, writes, -1);
	}
	db_sql_free(&q);
	return rc;
}

/* apply_deletes - one table's deletes: by integer key in chunks, else
 * one by one by natural key. */
static int
apply_deletes(struct store *st, const struct mirror_table *t,
    const struct mirror_tplan *tp, unsigned long *writes)
{
	struct db_sql q;
	size_t inchunk = 0;
	int rc = STORE_OK;
	bool by_ids = t->nkey == 1 && t->cols[0].kind == MC_INT;

	db_sql_init(&q);
	for (size_t i = 0; i < tp->n && rc == STORE_OK; i++) {
		const struct mirror_row *h = tp->ch[i].have;

		if (tp->ch[i].op != MO_DELETE)
			continue;
		if ((rc = delete_own_children(st, t, h, writes)) != STORE_OK)
			break;
		if (!by_ids) {
			db_sql_raw(&q, "DELETE FROM ");
			db_sql_raw(&q, t->name);
			sql_where_key(&q, t, h);
			rc = exec_counted(st, &q, writes, -1);
			continue;
		}
		if (inchunk == 0) {
			db_sql_raw(&q, "DELETE FROM ");
			db_sql_raw(&q, t->name);
			db_sql_raw(&q, " WHERE ");
			sql_name(&q, t->cols[0].name);
			db_sql_raw(&q, " IN (");
		} else {
			db_sql_raw(&q, ",");
		}
		db_sql_int(&q, h->k[0]);
		if (++inchunk == MIRROR_CHUNK) {
			db_sql_raw(&q, ")");
			rc = exec_counted(st, &q, writes, -1);
			inchunk = 0;
		}
	}
	if (rc == STORE_OK && inchunk > 0) {
		db_sql_raw(&q, ")");
		rc = exec_counted(st, &q, writes, -1);
	}
	db_sql_free(&q);
	return rc;
}

/* The unique columns a row gives up before the others take them. */
struct park_col {
	enum mirror_table_id	 table;
	const char		*col;
	const char		*value;	/* SQL: NULL, or an expression of id */
};

static const struct park_col park_cols[] = {
	{ MT_ORG, "slug", "CONCAT('~', id)" },
	{ MT_TEMPLATE, "name", "CONCAT('~', id)" },
	{ MT_PROJECT, "slug", "NULL" },
	{ MT_PROJECT, "external_id", "NULL" },
	{ MT_KEY, "public_key", "NULL" },
	{ MT_KEY, "secret_key", "NULL" },
};

/* is_parked - is column c of t one that pass 1 may have parked? */
static bool
is_parked(const struct mirror_table *t, size_t c)
{
	for (size_t i = 0; i < sizeof(park_cols) / sizeof(park_cols[0]); i++)
		if (park_cols[i].table == t->id &&
		    strcmp(park_cols[i].col, t->cols[c].name) == 0)
			return true;
	return false;
}

/* moves_unique - does ch give up a unique value (a delete, or an update
 * of a parked column)? */
static bool
moves_unique(const struct mirror_table *t, const struct mirror_change *ch)
{
	if (ch->op == MO_DELETE)
		return true;
	if (ch->op != MO_UPDATE)
		return false;
	for (size_t c = t->nkey; c < t->ncols; c++) {
		const char *a = ch->want->v[c], *b = ch->have->v[c];

		if (is_parked(t, c) && !((a == NULL && b == NULL) ||
		    (a != NULL && b != NULL && strcmp(a, b) == 0)))
			return true;
	}
	return false;
}

/*
 * apply_park - pass 1 for one table: every row that gives up a unique
 * value sets all its parked columns to their park values, in chunks.
 */
static int
apply_park(struct store *st, const struct mirror_table *t,
    const struct mirror_tplan *tp, unsigned long *writes)
{
	struct db_sql q;
	size_t inchunk = 0;
	int rc = STORE_OK;
	bool any = false;

	for (size_t i = 0; i < sizeof(park_cols) / sizeof(park_cols[0]); i++)
		any = any || park_cols[i].table == t->id;
	if (!any)
		return STORE_OK;
	db_sql_init(&q);
	for (size_t i = 0; i < tp->n && rc == STORE_OK; i++) {
		if (!moves_unique(t, &tp->ch[i]))
			continue;
		if (inchunk == 0) {
			bool first = true;

			db_sql_raw(&q, "UPDATE ");
			db_sql_raw(&q, t->name);
			db_sql_raw(&q, " SET ");
			for (size_t c = 0; c < sizeof(park_cols) /
			    sizeof(park_cols[0]); c++) {
				if (park_cols[c].table != t->id)
					continue;
				if (!first)
					db_sql_raw(&q, ", ");
				first = false;
				sql_name(&q, park_cols[c].col);
				db_sql_raw(&q, " = ");
				db_sql_raw(&q, park_cols[c].value);
			}
			db_sql_raw(&q, " WHERE id IN (");
		} else {
			db_sql_raw(&q, ",");
		}
		db_sql_int(&q, tp->ch[i].have->k[0]);
		if (++inchunk == MIRROR_CHUNK) {
			db_sql_raw(&q, ")");
			rc = exec_counted(st, &q, writes, (long long)inchunk);
			inchunk = 0;
		}
	}
	if (rc == STORE_OK && inchunk > 0) {
		db_sql_raw(&q, ")");
		rc = exec_counted(st, &q, writes, (long long)inchunk);
	}
	db_sql_free(&q);
	return rc;
}

/*
 * Updates (changed columns only), then multi-row inserts, of one table;
 * columns Sentry lacks (absent) are never written.
 */
static int
apply_upserts(struct store *st, const struct mirror_table *t,
    const struct mirror_tplan *tp, const bool *absent, unsigned long *writes)
{
	struct db_sql q;
	size_t inchunk = 0;
	int rc = STORE_OK;

	db_sql_init(&q);
	for (size_t i = 0; i < tp->n && rc == STORE_OK; i++) {
		const struct mirror_change *ch = &tp->ch[i];
		bool first = true;

		if (ch->op != MO_UPDATE)
			continue;
		db_sql_raw(&q, "UPDATE ");
		db_sql_raw(&q, t->name);
		db_sql_raw(&q, " SET ");
		/* A park (pass 1) may have changed a column that the plan
		 * leaves as it was: every unique column is set again. */
		for (size_t c = t->nkey; c < t->ncols; c++) {
			const char *a = ch->want->v[c], *b = ch->have->v[c];

			if (absent[c] || (!is_parked(t, c) &&
			    ((a == NULL && b == NULL) ||
			    (a != NULL && b != NULL && strcmp(a, b) == 0))))
				continue;
			if (!first)
				db_sql_raw(&q, ", ");
			first = false;
			sql_name(&q, t->cols[c].name);
			db_sql_raw(&q, " = ");
			sql_value(&q, &t->cols[c], a);
		}
		sql_where_key(&q, t, ch->have);
		if (first)		/* nothing to set (cannot happen) */
			db_sql_reset(&q);
		else
			rc = exec_counted(st, &q, writes, 1);
	}
	for (size_t i = 0; i < tp->n && rc == STORE_OK; i++) {
		const struct mirror_row *w = tp->ch[i].want;

		if (tp->ch[i].op != MO_INSERT)
			continue;
		if (inchunk == 0) {
			db_sql_raw(&q, "INSERT INTO ");
			db_sql_raw(&q, t->name);
			db_sql_raw(&q, " (");
			for (size_t c = 0, n = 0; c < t->ncols; c++) {
				if (absent[c])
					continue;
				if (n++ > 0)
					db_sql_raw(&q, ", ");
				sql_name(&q, t->cols[c].name);
			}
			db_sql_raw(&q, ") VALUES ");
		} else {
			db_sql_raw(&q, ", ");
		}
		db_sql_raw(&q, "(");
		for (size_t c = 0, n = 0; c < t->ncols; c++) {
			if (absent[c])
				continue;
			if (n++ > 0)
				db_sql_raw(&q, ", ");
			sql_value(&q, &t->cols[c], w->v[c]);
		}
		db_sql_raw(&q, ")");
		if (++inchunk == MIRROR_CHUNK) {
			rc = exec_counted(st, &q, writes, -1);
			inchunk = 0;
		}
	}
	if (rc == STORE_OK && inchunk > 0)
		rc = exec_counted(st, &q, writes, -1);
	db_sql_free(&q);
	return rc;
}

/* --- invalidation ---------------------------------------------------- */

/* (owner id, row) pairs sorted by owner: keys by project, projects by
 * organization and by template, over both snapshots. */
struct owner_ref {
	int64_t			 owner;
	const struct mirror_row	*row;
};

struct owner_index {
	struct owner_ref	*v;
	size_t			 n;
};

static int
cmp_owner(const void *a, const void *b)
{
	const struct owner_ref *x = a, *y = b;

	return (x->owner > y->owner) - (x->owner < y->owner);
}

/* Index rows of a (want) and b (have) by the integer in column col. */
static int
index_build(struct owner_index *ix, const struct mirror_rows *a,
    const struct mirror_rows *b, size_t col)
{
	const struct mirror_rows *sets[2] = { a, b };

	ix->n = 0;
	if ((ix->v = malloc((a->n + b->n + 1) * sizeof(*ix->v))) == NULL)
		return -1;
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < sets[s]->n; i++) {
			const char *v = sets[s]->rows[i].v[col];

			if (v == NULL)
				continue;
			ix->v[ix->n].owner = strtoll(v, NULL, 10);
			ix->v[ix->n].row = &sets[s]->rows[i];
			ix->n++;
		}
	qsort(ix->v, ix->n, sizeof(*ix->v), cmp_owner);
	return 0;
}

/* The first entry of owner in ix (ix->n when none). */
static size_t
index_first(const struct owner_index *ix, int64_t owner)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->v[mid].owner < owner)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct inval_ctx {
	struct store		*st;
	struct inval		*iv;
	struct owner_index	 keys_by_project;
	struct owner_index	 projects_by_org;
	struct owner_index	 projects_by_template;
};

/* Each key of project pid: its row, pointer, list and config. */
static void
inv_keys_of(struct inval_ctx *x, int64_t pid)
{
	const struct owner_index *ix = &x->keys_by_project;

	for (size_t i = index_first(ix, pid); i < ix->n &&
	    ix->v[i].owner == pid; i++)
		inv_key(x->st, x->iv, ix->v[i].row->k[0],
		    ix->v[i].row->v[MIRROR_KEY_PUBLIC], pid);
}

/* The projects in ix under owner: with whole, each as a project (its own
 * entries and keys), else only their keys. */
static void
inv_projects_of(struct inval_ctx *x, const struct owner_index *ix,
    int64_t owner, bool whole)
{
	for (size_t i = index_first(ix, owner); i < ix->n &&
	    ix->v[i].owner == owner; i++) {
		int64_t pid = ix->v[i].row->k[0];

		if (whole)
			inv_project(x->st, x->iv, pid);
		inv_keys_of(x, pid);
	}
}

/* inv_row_of - the entries one changed row (either version) feeds. */
static void
inv_row_of(struct inval_ctx *x, const struct mirror_table *t,
    const struct mirror_row *row, enum mirror_op op)
{
	int64_t id = row->k[0];

	switch (t->scope) {
	case MS_ORG:
		inv_id(x->st, x->iv, "o", id);
		inv_projects_of(x, &x->projects_by_org, id, false);
		break;
	case MS_ORG_OPTION:
		inv_id(x->st, x->iv, "oo", id);
		inv_projects_of(x, &x->projects_by_org, id, false);
		break;
	case MS_TEMPLATE:
		inv_id(x->st, x->iv, "to", id);
		/* Its projects lose it (ON DELETE SET NULL). */
		if (op == MO_DELETE)
			inv_projects_of(x, &x->projects_by_template, id, true);
		break;
	case MS_TEMPLATE_OPTION:
		inv_id(x->st, x->iv, "to", id);
		inv_projects_of(x, &x->projects_by_template, id, false);
		break;
	case MS_PROJECT:
		inv_project(x->st, x->iv, id);
		inv_keys_of(x, id);
		break;
	case MS_PROJECT_PART:
		inv_id(x->st, x->iv, t->id == MT_PROJECT_OPTION ? "po" : "tt",
		    id);
		inv_keys_of(x, id);
		break;
	case MS_KEY:
		inv_key(x->st, x->iv, id, row->v[MIRROR_KEY_PUBLIC],
		    row->v[MIRROR_KEY_PROJECT] != NULL ?
		    strtoll(row->v[MIRROR_KEY_PROJECT], NULL, 10) : 0);
		break;
	case MS_RELAY:
		break;		/* after the commit: see store_mirror_apply */
	}
}

static void
inval_ctx_free(struct inval_ctx *x)
{
	free(x->keys_by_project.v);
	free(x->projects_by_org.v);
	free(x->projects_by_template.v);
}

/* Collect the entries of every change of plan into iv; -1 on OOM. */
static int
collect_invalidation(struct store *st, struct inval *iv,
    const struct mirror_plan *plan, const struct mirror_rows *want,
    const struct mirror_rows *have)
{
	struct inval_ctx x = { .st = st, .iv = iv };
	int rc = -1;

	if (index_build(&x.keys_by_project, &want[MT_KEY], &have[MT_KEY],
	    MIRROR_KEY_PROJECT) != 0 ||
	    index_build(&x.projects_by_org, &want[MT_PROJECT],
	    &have[MT_PROJECT], MIRROR_PROJECT_ORG) != 0 ||
	    index_build(&x.projects_by_template, &want[MT_PROJECT],
	    &have[MT_PROJECT], MIRROR_PROJECT_TEMPLATE) != 0)
		goto out;
	for (int t = 0; t < MT_COUNT; t++)
		for (size_t i = 0; i < plan->t[t].n; i++) {
			const struct mirror_change *ch = &plan->t[t].ch[i];

			if (ch->have != NULL)
				inv_row_of(&x, mirror_table(t), ch->have,
				    ch->op);
			if (ch->want != NULL)
				inv_row_of(&x, mirror_table(t), ch->want,
				    ch->op);
		}
	rc = iv->oom ? -1 : 0;
out:
	inval_ctx_free(&x);
	return rc;
}

/*
 * lock_still_ours - is the sync lock still held by this connection?  A
 * reconnect between store_mirror_lock() and now would have dropped it
 * (GET_LOCK belongs to the session) and let another sync in.
 */
static int
lock_still_ours(struct store *st)
{
	struct db_sql q;
	struct db_res *r = NULL;
	int64_t v = 0;
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, "SELECT IS_USED_LOCK(" LOCK_NAME ") <=> CONNECTION_ID()");
	if ((rc = store_sql_query(st, st->primary, &q, &r)) == STORE_OK &&
	    !(db_res_next(r) && db_res_int(r, 0, &v) && v == 1)) {
		store_seterr(st, "the sync lock was lost (the connection to "
		    "MariaDB was renewed); try again");
		rc = STORE_ERROR;
	}
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* --- a sync committed, its cache deletes not yet done --------------- */

/* pending_set - in the transaction: the row saying its cache deletes are
 * still to come (sql/005_sentry_sync_pending.sql).  Not counted. */
static int
pending_set(struct store *st)
{
	struct db_sql q;
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO relaycfg_sentry_sync_pending (id, since) "
	    "VALUES (1, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE id = id");
	rc = store_sql_exec(st, &q, NULL, NULL);
	db_sql_free(&q);
	return rc;
}

/* pending_clear - the cache deletes all went out: the row goes.  A
 * failure leaves it, and the next sync drops the whole cache once. */
static void
pending_clear(struct store *st)
{
	struct db_sql q;

	db_sql_init(&q);
	db_sql_raw(&q, "DELETE FROM relaycfg_sentry_sync_pending");
	(void)store_sql_exec(st, &q, NULL, NULL);
	db_sql_free(&q);
}

/* store_mirror_recover - see store_mirror.h. */
int
store_mirror_recover(struct store *st, bool *dropped)
{
	struct db_sql q;
	struct db_res *r = NULL;
	int64_t n = 0;
	int rc;

	*dropped = false;
	st->cache_stale = false;
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT COUNT(*) FROM relaycfg_sentry_sync_pending");
	if ((rc = store_sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	if (!db_res_next(r) || !db_res_int(r, 0, &n)) {
		store_seterr(st, "relaycfg_sentry_sync_pending: unreadable");
		rc = STORE_ERROR;
		goto out;
	}
	if (n == 0)
		goto out;
	(void)store_invalidate(st, STORE_SCOPE_ALL, 0, NULL);
	*dropped = true;
	if (!st->cache_stale)
		pending_clear(st);
out:
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* invalidate_relays - each changed relay's cached row and pointer. */
static bool
invalidate_relays(struct store *st, const struct mirror_tplan *relays)
{
	bool stale = false;

	for (size_t i = 0; i < relays->n; i++) {
		const struct mirror_change *ch = &relays->ch[i];
		const struct mirror_row *row = ch->want != NULL ? ch->want :
		    ch->have;

		(void)store_invalidate(st, STORE_SCOPE_RELAY, 0, row->v[0]);
		stale = stale || st->cache_stale;
	}
	return stale;
}

/* store_mirror_apply - see store_mirror.h. */
int
store_mirror_apply(struct store *st, const struct mirror_plan *plan,
    const struct mirror_rows *want, const struct mirror_rows *have,
    unsigned long *writes)
{
	const struct mirror_tplan *relays = &plan->t[MT_RELAY];
	struct inval iv = { 0 };
	bool stale;
	int t, rc;

	*writes = 0;
	if (mirror_plan_empty(plan))
		return STORE_OK;
	/* A relay's cached row is found through its id, which a delete
	 * takes away: resolve it now, and again after the commit. */
	stale = invalidate_relays(st, relays);
	if ((rc = store_tx_begin(st)) != STORE_OK)
		return rc;
	if (collect_invalidation(st, &iv, plan, want, have) != 0) {
		store_seterr(st, "out of memory");
		rc = STORE_ERROR;
	}
	for (t = 0; t < MT_COUNT && rc == STORE_OK; t++)
		rc = apply_park(st, mirror_table(t), &plan->t[t], writes);
	for (t = 0; t < MT_COUNT && rc == STORE_OK; t++)
		rc = apply_upserts(st, mirror_table(t), &plan->t[t],
		    want[t].absent, writes);
	for (t = MT_COUNT - 1; t >= 0 && rc == STORE_OK; t--)
		rc = apply_deletes(st, mirror_table(t), &plan->t[t], writes);
	/* Committed with the changes: a sync stopped before its cache
	 * deletes leaves it to the next (store_mirror_recover). */
	if (rc == STORE_OK)
		rc = pending_set(st);
	if (rc == STORE_OK)
		rc = lock_still_ours(st);
	if ((rc = store_tx_finish(st, rc, &iv)) != STORE_OK)
		return rc;
	stale = stale || st->cache_stale;
	stale = invalidate_relays(st, relays) || stale;
	st->cache_stale = stale;
	if (!stale)
		pending_clear(st);
	return STORE_OK;
}
