/*
 * store_write.c - the admin writes (organizations, projects, templates,
 * keys, options, relays): each checks its input, runs in one transaction
 * on the primary, and after the commit drops exactly the cache entries it
 * affects (store_invalidate.c).
 *
 * A write is data (struct row_op: the columns it sets, the row it locks,
 * the cascade it runs, what it invalidates) run by one engine, row_apply.
 * Its statements come from column lists (store_sql.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "jsonstrict.h"
#include "store.h"
#include "store_int.h"
#include "valid.h"

#define VERSION_MAX	32

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Transactions and locks. */

/* store_tx_begin - see store_int.h. */
int
store_tx_begin(struct store *st)
{
	st->cache_stale = false;
	st->err[0] = '\0';
	return store_rc_from_db(st, st->primary, db_begin(st->primary));
}

/* store_tx_finish - see store_int.h. */
int
store_tx_finish(struct store *st, int rc, struct inval *iv)
{
	if (rc == STORE_OK) {
		rc = store_rc_from_db(st, st->primary, db_commit(st->primary));
		if (rc == STORE_OK || rc == STORE_UNAVAILABLE) {
			inv_flush(st, iv);
			return rc;
		}
	}
	db_rollback(st->primary);
	inv_free(iv);
	return rc;
}

/*
 * tx_end - the end of a write built in q: q is freed, a conflict is
 * explained as taken (NULL: MariaDB's words), then store_tx_finish.
 */
static int
tx_end(struct store *st, int rc, struct inval *iv, struct db_sql *q,
    const char *taken)
{
	if (rc == STORE_CONFLICT && taken != NULL)
		store_seterr(st, "%s", taken);
	db_sql_free(q);
	return store_tx_finish(st, rc, iv);
}

/*
 * lock_ids - SELECT cols FROM table WHERE <row> FOR UPDATE, one row
 * expected (STORE_NOT_FOUND with "no such <what>" when there is none);
 * its first one or two columns read as integers into *a and *b (b may be
 * NULL).  STORE_ERROR when one is not an integer.
 */
static int
lock_ids(struct store *st, const char *cols, const char *table,
    const struct sql_col *row, const char *what, int64_t *a, int64_t *b)
{
	struct db_sql q;
	struct db_res *r = NULL;
	int rc;

	db_sql_init(&q);
	stmt_select(&q, cols, table, row, 1);
	db_sql_raw(&q, " FOR UPDATE");
	if ((rc = store_sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	if (!db_res_next(r)) {
		store_seterr(st, "no such %s", what);
		rc = STORE_NOT_FOUND;
	} else if (!db_res_int(r, 0, a) ||
	    (b != NULL && !db_res_int(r, 1, b))) {
		store_seterr(st, "%s: unreadable row", table);
		rc = STORE_ERROR;
	}
out:
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* The row id exists in table; locked until the transaction ends. */
static int
exists_locked(struct store *st, const char *table, int64_t id,
    const char *what)
{
	int64_t got;

	return lock_ids(st, "id", table, &SQL_INT("id", id), what, &got, NULL);
}

/* Writes as data. */

/* One statement of a cascade: prefix, the row's id (or its string when
 * by_str), suffix (or nothing). */
struct step {
	const char	*prefix;
	const char	*suffix;
	bool		 by_str;
};

enum row_verb {
	ROW_CREATE,	/* INSERT cols, after locking the parent (if any) */
	ROW_UPDATE,	/* lock the row, then SET cols on it */
	ROW_DELETE	/* lock the row, invalidate, then run the steps */
};

/* The cache entries a write drops (see row_inval). */
enum row_inval {
	INV_ORG_NEW,		/* the row and its options */
	INV_ORG,		/* the row and its projects' configs */
	INV_ORG_ALL,		/* invalidate_org */
	INV_PROJECT_NEW,	/* inv_project */
	INV_PROJECT,		/* invalidate_project */
	INV_TEMPLATE_NEW,	/* its options */
	INV_TEMPLATE,		/* its options, its projects and their keys */
	INV_KEY,		/* inv_key */
	INV_RELAY		/* the row and its pointer */
};

/*
 * The tables the writes name rows of: the codec's model gives the table
 * and the string column (templates have none); locking a row reads
 * lock_cols (one or two integer columns, its id first).
 */
struct row_model {
	const struct codec_model *codec;
	const char		*table;		/* without a codec model */
	const char		*what;		/* "no such <what>" */
	const char		*lock_cols;
	const char		*taken;		/* a duplicate, or NULL */
};

static const struct row_model org_rows = {
	&codec_org, NULL, "organization", "id",
	"the organization slug is taken"
};
static const struct row_model project_rows = {
	&codec_project, NULL, "project", "id",
	"the project slug is taken in this organization"
};
static const struct row_model template_rows = {
	NULL, "sentry_projecttemplate", "template", "id",
	"the template name is taken in this organization"
};
static const struct row_model key_rows = {
	&codec_key, NULL, "key", "id, project_id", NULL
};
static const struct row_model relay_rows = {
	&codec_relay, NULL, "relay", "id", "the relay exists"
};

/* The table of m. */
static const char *
rows_table(const struct row_model *m)
{
	return m->codec != NULL ? m->codec->table : m->table;
}

/* The template must exist and belong to the organization. */
static int
check_template(struct store *st, int64_t template_id, int64_t org_id)
{
	int64_t owner = 0;
	int rc;

	rc = lock_ids(st, "organization_id", rows_table(&template_rows),
	    &SQL_INT("id", template_id), template_rows.what, &owner, NULL);
	if (rc == STORE_OK && owner != org_id) {
		store_seterr(st, "the template belongs to another organization");
		rc = STORE_INVALID;
	}
	return rc;
}

/*
 * row_op - one admin write on a row of m.  The row (UPDATE, DELETE) is
 * named by its id, or by str when str is not NULL (a key's or a relay's
 * string, which a CREATE sets for its invalidation); locking it reads
 * lock_cols (NULL: m's) into locked[].  A template_id other than 0 must
 * be the organization's: CREATE's parent, or the locked[0] of an UPDATE
 * that locks organization_id.
 */
struct row_op {
	enum row_verb		 verb;
	const struct row_model	*m;
	const struct sql_col	*cols;		/* CREATE's row, UPDATE's SET */
	size_t			 ncols;
	int64_t			 id;
	const char		*str;
	const char		*lock_cols;
	const struct row_model	*parent;	/* CREATE: exists, or NULL */
	int64_t			 parent_id;
	int64_t			 template_id;
	const struct step	*steps;		/* DELETE: the cascade;
						 * CREATE: rows of its own */
	size_t			 nsteps;
	enum row_inval		 inval;
	int64_t			*new_id;	/* CREATE: the new row's id */
	int64_t			 locked[2];	/* UPDATE, DELETE: lock_cols */
};

/* The row's id: the new row's, the one it is named by, or the locked one
 * (named by its string, a row locks its id first). */
static int64_t
row_id(const struct row_op *op)
{
	if (op->verb == ROW_CREATE)
		return *op->new_id;
	return op->str == NULL ? op->id : op->locked[0];
}

/* row_inval - collect the cache keys op changes; a STORE_* code. */
static int
row_inval(struct store *st, struct inval *iv, const struct row_op *op)
{
	int64_t id = row_id(op);

	switch (op->inval) {
	case INV_ORG_NEW:
		inv_row(st, iv, &codec_org, id, NULL);
		inv_id(st, iv, oo_desc.kind, id);
		break;
	case INV_ORG:
		/* Every config of the organization carries its state. */
		inv_row(st, iv, &codec_org, id, NULL);
		return inv_keys_of_projects(st, iv, "organization_id", id,
		    false);
	case INV_ORG_ALL:
		return invalidate_org(st, iv, id);
	case INV_PROJECT_NEW:
		inv_project(st, iv, id);
		break;
	case INV_PROJECT:
		return invalidate_project(st, iv, id);
	case INV_TEMPLATE_NEW:
		inv_id(st, iv, to_desc.kind, id);
		break;
	case INV_TEMPLATE:
		/* Its projects lose their fallback: rows and configs change. */
		inv_id(st, iv, to_desc.kind, id);
		return inv_keys_of_projects(st, iv, "template_id", id, true);
	case INV_KEY:
		/* A negative pointer may be cached for a new key. */
		inv_key(st, iv, id, op->str, op->verb == ROW_CREATE ?
		    op->parent_id : op->locked[1]);
		break;
	case INV_RELAY:
		inv_row(st, iv, &codec_relay, id, op->str);
		break;
	}
	return STORE_OK;
}

/* The row an UPDATE or DELETE names: by its string, or by its id. */
static struct sql_col
row_named(const struct row_op *op)
{
	return op->str != NULL ? SQL_TOKEN(op->m->codec->str_column, op->str) :
	    SQL_INT("id", op->id);
}

/* Lock what the write needs: a CREATE's parent, else the row itself. */
static int
row_lock(struct store *st, struct row_op *op)
{
	const char *cols = op->lock_cols != NULL ? op->lock_cols :
	    op->m->lock_cols;
	struct sql_col row;

	if (op->verb == ROW_CREATE)
		return op->parent == NULL ? STORE_OK : exists_locked(st,
		    rows_table(op->parent), op->parent_id, op->parent->what);
	row = row_named(op);
	return lock_ids(st, cols, rows_table(op->m), &row, op->m->what,
	    &op->locked[0], strchr(cols, ',') != NULL ? &op->locked[1] : NULL);
}

/* Run op's steps with the row, stopping at the first failure. */
static int
row_steps(struct store *st, const struct row_op *op)
{
	struct db_sql q;
	int rc = STORE_OK;

	db_sql_init(&q);
	for (size_t i = 0; rc == STORE_OK && i < op->nsteps; i++) {
		db_sql_reset(&q);
		db_sql_raw(&q, op->steps[i].prefix);
		if (op->steps[i].by_str)
			db_sql_token(&q, op->str);
		else
			db_sql_int(&q, row_id(op));
		if (op->steps[i].suffix != NULL)
			db_sql_raw(&q, op->steps[i].suffix);
		rc = store_sql_exec(st, &q, NULL, NULL);
	}
	db_sql_free(&q);
	return rc;
}

/* A refused input: STORE_INVALID with why in st->err. */
static int
refuse(struct store *st, const char *why)
{
	store_seterr(st, "%s", why);
	return STORE_INVALID;
}

/*
 * row_apply - run op in one transaction: lock, check the template, write
 * (a CREATE's steps after its row; a DELETE resolves its invalidations
 * first: afterwards nothing names them), invalidate after the commit.  An UPDATE without columns is
 * refused.  A STORE_* code.
 */
static int
row_apply(struct store *st, struct row_op *op)
{
	struct inval iv = { 0 };
	struct db_sql q;
	struct sql_col row;
	int rc;

	if (op->verb == ROW_UPDATE && op->ncols == 0)
		return refuse(st, "nothing to change");
	db_sql_init(&q);
	if (op->verb == ROW_CREATE)
		stmt_insert(&q, rows_table(op->m), op->cols, op->ncols);
	else if (op->verb == ROW_UPDATE) {
		row = row_named(op);
		stmt_update(&q, rows_table(op->m), op->cols, op->ncols, &row,
		    1);
	}
	if ((rc = store_tx_begin(st)) != STORE_OK ||
	    (rc = row_lock(st, op)) != STORE_OK ||
	    (op->template_id != 0 && (rc = check_template(st,
	    op->template_id, op->verb == ROW_CREATE ? op->parent_id :
	    op->locked[0])) != STORE_OK))
		goto out;
	if (op->verb == ROW_DELETE) {
		if ((rc = row_inval(st, &iv, op)) == STORE_OK)
			rc = row_steps(st, op);
	} else if ((rc = store_sql_exec(st, &q, NULL,
	    op->verb == ROW_CREATE ? op->new_id : NULL)) == STORE_OK &&
	    (rc = row_steps(st, op)) == STORE_OK)
		rc = row_inval(st, &iv, op);
out:
	return tx_end(st, rc, &iv, &q, op->verb == ROW_DELETE ? NULL :
	    op->m->taken);
}

/* The most columns an UPDATE sets. */
#define SET_COLS_MAX	8

/* Input checks. */

/* ObjectStatus values 0-3. */
static bool
valid_status(int status)
{
	return status >= 0 && status <= 3;
}

/* Sentry platform names: "javascript-react", "python"... */
static bool
valid_platform(const char *s)
{
	return store_valid_charset(s, "_.-", 64, false);
}

/* Organizations. */

/* store_org_create - see store.h. */
int
store_org_create(struct store *st, const char *slug, const char *name,
    int64_t *id)
{
	struct sql_col cols[3];
	struct row_op op = { .verb = ROW_CREATE, .m = &org_rows, .cols = cols,
	    .ncols = NELEMS(cols), .inval = INV_ORG_NEW, .new_id = id };

	if (name == NULL)
		name = slug;
	if (!store_valid_slug(slug, 50) || !store_valid_text(name, 64)) {
		return refuse(st, "an organization slug is 1-50 of [a-z0-9_-] "
		    "(not only digits), a name 1-64 characters");
	}
	cols[0] = SQL_STR("name", name);
	cols[1] = SQL_STR("slug", slug);
	cols[2] = SQL_RAW("status", "0");
	return row_apply(st, &op);
}

/* store_org_update - see store.h. */
int
store_org_update(struct store *st, int64_t id, const struct store_org_patch *p)
{
	struct sql_col cols[SET_COLS_MAX];
	struct row_op op = { .verb = ROW_UPDATE, .m = &org_rows, .cols = cols,
	    .id = id, .inval = INV_ORG };

	if ((p->slug != NULL && !store_valid_slug(p->slug, 50)) ||
	    (p->name != NULL && !store_valid_text(p->name, 64)) ||
	    (p->status != -1 && !valid_status(p->status))) {
		return refuse(st, "bad slug, name or status");
	}
	op.ncols = set_named(cols, p->slug, p->name, p->status);
	return row_apply(st, &op);
}

/* store_org_delete - see store.h. */
int
store_org_delete(struct store *st, int64_t id)
{
	/*
	 * Joins, not "WHERE project_id IN (SELECT ...)": MariaDB runs a
	 * single-table DELETE's subquery for every row of a full scan,
	 * which also locks every row of the table until the commit.
	 */
	static const struct step steps[] = {
		{ "DELETE o FROM sentry_projectoptions o JOIN sentry_project p "
		  "ON p.id = o.project_id WHERE p.organization_id = ", NULL,
		  false },
		{ "DELETE k FROM sentry_projectkey k JOIN sentry_project p "
		  "ON p.id = k.project_id WHERE p.organization_id = ", NULL,
		  false },
		{ "DELETE FROM sentry_project WHERE organization_id = ", NULL,
		  false },
		{ "DELETE o FROM sentry_projecttemplateoption o JOIN "
		  "sentry_projecttemplate t ON t.id = o.project_template_id "
		  "WHERE t.organization_id = ", NULL, false },
		{ "DELETE FROM sentry_projecttemplate WHERE organization_id = ",
		  NULL, false },
		{ "DELETE FROM sentry_organizationoptions WHERE "
		  "organization_id = ", NULL, false },
		{ "DELETE FROM sentry_organization WHERE id = ", NULL, false },
	};
	struct row_op op = { .verb = ROW_DELETE, .m = &org_rows, .id = id,
	    .steps = steps, .nsteps = NELEMS(steps), .inval = INV_ORG_ALL };

	return row_apply(st, &op);
}

/* Projects and templates. */

/*
 * The inbound filters Sentry turns on for a new JavaScript project:
 * set_default_inbound_filters of src/sentry/api/helpers/
 * default_inbound_filters.py, called by apply_default_project_settings
 * (team_projects.py, TeamProjectsEndpoint.post: the UI's and the API's
 * project creation) for every project whose platform starts "javascript".
 * Sentry stores them as project options through set_filter_state ("1",
 * and the legacy-browsers subfilters as a set, written as a list), so
 * they stay when the platform changes later.  Steps of the project's own
 * INSERT, in its transaction: a failed one leaves no project behind.
 */
#define JS_FILTER(key, json) { "INSERT INTO sentry_projectoptions " \
	"(project_id, `key`, value) VALUES (", ", '" key "', '" json "')", \
	false }
static const struct step js_default_filters[] = {
	JS_FILTER("filters:browser-extensions", "\"1\""),
	JS_FILTER("filters:legacy-browsers", "[\"ie\",\"firefox\",\"chrome\","
	    "\"safari\",\"opera\",\"opera_mini\",\"android\",\"edge\"]"),
	JS_FILTER("filters:web-crawlers", "\"1\""),
	JS_FILTER("filters:filtered-transaction", "\"1\""),
};
#undef JS_FILTER

/* store_project_create - see store.h. */
int
store_project_create(struct store *st, int64_t org_id, const char *slug,
    const char *name, const char *platform, int64_t template_id, int64_t *id)
{
	struct sql_col cols[6];
	struct row_op op = { .verb = ROW_CREATE, .m = &project_rows,
	    .cols = cols, .ncols = NELEMS(cols), .parent = &org_rows,
	    .parent_id = org_id, .template_id = template_id,
	    .inval = INV_PROJECT_NEW, .new_id = id };

	if (platform != NULL && strncmp(platform, "javascript", 10) == 0) {
		op.steps = js_default_filters;
		op.nsteps = NELEMS(js_default_filters);
	}

	if (name == NULL)
		name = slug;
	if (!store_valid_slug(slug, 100) || !store_valid_text(name, 200) ||
	    (platform != NULL && !valid_platform(platform)) || template_id < 0) {
		return refuse(st, "a project slug is 1-100 of [a-z0-9_-] (not "
		    "only digits), a name 1-200 characters, a platform 1-64 of "
		    "[a-z0-9_.-]");
	}
	cols[0] = SQL_STR("slug", slug);
	cols[1] = SQL_STR("name", name);
	cols[2] = SQL_INT("organization_id", org_id);
	cols[3] = SQL_RAW("status", "0");
	cols[4] = SQL_ID("template_id", template_id);
	cols[5] = SQL_STR("platform", platform);
	return row_apply(st, &op);
}

/* store_project_update - see store.h. */
int
store_project_update(struct store *st, int64_t id,
    const struct store_project_patch *p)
{
	struct sql_col cols[SET_COLS_MAX];
	struct row_op op = { .verb = ROW_UPDATE, .m = &project_rows,
	    .cols = cols, .id = id, .lock_cols = "organization_id",
	    .template_id = p->set_template ? p->template_id : 0,
	    .inval = INV_PROJECT };

	if ((p->slug != NULL && !store_valid_slug(p->slug, 100)) ||
	    (p->name != NULL && !store_valid_text(p->name, 200)) ||
	    (p->status != -1 && !valid_status(p->status)) ||
	    (p->set_platform && p->platform != NULL &&
	    !valid_platform(p->platform)) ||
	    (p->set_template && p->template_id < 0)) {
		return refuse(st, "bad slug, name, status, platform or "
		    "template");
	}
	op.ncols = set_named(cols, p->slug, p->name, p->status);
	if (p->set_platform)
		cols[op.ncols++] = SQL_STR("platform", p->platform);
	if (p->set_template)
		cols[op.ncols++] = SQL_ID("template_id", p->template_id);
	return row_apply(st, &op);
}

/* store_project_delete - see store.h. */
int
store_project_delete(struct store *st, int64_t id)
{
	static const struct step steps[] = {
		{ "DELETE FROM sentry_projectoptions WHERE project_id = ", NULL,
		  false },
		{ "DELETE FROM sentry_projectkey WHERE project_id = ", NULL,
		  false },
		{ "DELETE FROM sentry_project WHERE id = ", NULL, false },
	};
	struct row_op op = { .verb = ROW_DELETE, .m = &project_rows, .id = id,
	    .steps = steps, .nsteps = NELEMS(steps), .inval = INV_PROJECT };

	return row_apply(st, &op);
}

/* store_template_create - see store.h. */
int
store_template_create(struct store *st, int64_t org_id, const char *name,
    int64_t *id)
{
	struct sql_col cols[2];
	struct row_op op = { .verb = ROW_CREATE, .m = &template_rows,
	    .cols = cols, .ncols = NELEMS(cols), .parent = &org_rows,
	    .parent_id = org_id, .inval = INV_TEMPLATE_NEW, .new_id = id };

	if (name == NULL || !store_valid_text(name, 200))
		return refuse(st, "a template name is 1-200 characters");
	cols[0] = SQL_STR("name", name);
	cols[1] = SQL_INT("organization_id", org_id);
	return row_apply(st, &op);
}

/* store_template_delete - see store.h. */
int
store_template_delete(struct store *st, int64_t id)
{
	static const struct step steps[] = {
		{ "DELETE FROM sentry_projecttemplateoption WHERE "
		  "project_template_id = ", NULL, false },
		{ "UPDATE sentry_project SET template_id = NULL "
		  "WHERE template_id = ", NULL, false },
		{ "DELETE FROM sentry_projecttemplate WHERE id = ", NULL, false },
	};
	struct row_op op = { .verb = ROW_DELETE, .m = &template_rows,
	    .id = id, .steps = steps, .nsteps = NELEMS(steps),
	    .inval = INV_TEMPLATE };

	return row_apply(st, &op);
}

/* Project keys. */

/* Labels, statuses and rate limits a key may take (Sentry's count and
 * window columns are PositiveIntegerFields: at most 2^31-1). */
static bool
valid_key_patch(const struct store_key_patch *p)
{
	if (p == NULL)
		return true;
	if (p->set_label && p->label != NULL && !store_valid_text(p->label, 64))
		return false;
	if (p->status != -1 && p->status != 0 && p->status != 1)
		return false;
	if (p->set_rate_limit && p->has_rate_limit &&
	    (p->rate_limit_count < 0 || p->rate_limit_count > INT32_MAX ||
	    p->rate_limit_window <= 0 || p->rate_limit_window > INT32_MAX))
		return false;
	return true;
}

/* 16 random bytes as 32 lowercase hex (Sentry: uuid4().hex). */
static void
random_hex32(char out[MODEL_KEY_HEX_LEN + 1])
{
	unsigned char r[MODEL_KEY_HEX_LEN / 2];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(out, MODEL_KEY_HEX_LEN + 1, r, sizeof(r));
}

/* store_key_create - see store.h. */
int
store_key_create(struct store *st, int64_t project_id, const char *label,
    const struct store_key_patch *limits, struct model_projectkey *out)
{
	struct sql_col cols[8];
	struct row_op op = { .verb = ROW_CREATE, .m = &key_rows, .cols = cols,
	    .ncols = NELEMS(cols), .str = out->public_key,
	    .parent = &project_rows, .parent_id = project_id,
	    .inval = INV_KEY, .new_id = &out->id };
	bool rl = limits != NULL && limits->set_rate_limit &&
	    limits->has_rate_limit;

	memset(out, 0, sizeof(*out));
	if ((label != NULL && !store_valid_text(label, 64)) ||
	    !valid_key_patch(limits)) {
		return refuse(st, "a label is 1-64 characters; a rate limit is "
		    "COUNT >= 0 per WINDOW > 0 seconds, each at most "
		    "2147483647");
	}
	random_hex32(out->public_key);
	random_hex32(out->secret_key);
	out->project_id = project_id;
	out->roles = 1;
	out->has_rate_limit = rl;
	if (rl) {
		out->rate_limit_count = limits->rate_limit_count;
		out->rate_limit_window = limits->rate_limit_window;
	}
	cols[0] = SQL_INT("project_id", project_id);
	cols[1] = SQL_STR("label", label);
	cols[2] = SQL_TOKEN("public_key", out->public_key);
	cols[3] = SQL_TOKEN("secret_key", out->secret_key);
	cols[4] = SQL_RAW("roles", "1");
	cols[5] = SQL_RAW("status", "0");
	cols[6] = limit_col("rate_limit_count", rl, out->rate_limit_count);
	cols[7] = limit_col("rate_limit_window", rl, out->rate_limit_window);
	return row_apply(st, &op);
}

/* store_key_update - see store.h. */
int
store_key_update(struct store *st, const char *public_key,
    const struct store_key_patch *p)
{
	struct sql_col cols[SET_COLS_MAX];
	struct row_op op = { .verb = ROW_UPDATE, .m = &key_rows, .cols = cols,
	    .str = public_key, .inval = INV_KEY };

	if (!valid_key_patch(p)) {
		return refuse(st, "a label is 1-64 characters, a status 0 or 1, "
		    "a rate limit COUNT >= 0 per WINDOW > 0 seconds, each at "
		    "most 2147483647");
	}
	if (p->set_label)
		cols[op.ncols++] = SQL_STR("label", p->label);
	if (p->status != -1)
		cols[op.ncols++] = SQL_INT("status", p->status);
	if (p->set_rate_limit) {
		cols[op.ncols++] = limit_col("rate_limit_count",
		    p->has_rate_limit, p->rate_limit_count);
		cols[op.ncols++] = limit_col("rate_limit_window",
		    p->has_rate_limit, p->rate_limit_window);
	}
	return row_apply(st, &op);
}

/* store_key_delete - see store.h. */
int
store_key_delete(struct store *st, const char *public_key)
{
	static const struct step steps[] = {
		{ "DELETE FROM sentry_projectkey WHERE id = ", NULL, false },
	};
	struct row_op op = { .verb = ROW_DELETE, .m = &key_rows,
	    .str = public_key, .steps = steps, .nsteps = NELEMS(steps),
	    .inval = INV_KEY };

	return row_apply(st, &op);
}

/* Options. */

/*
 * parse_value - json (NULL: an unset), strict RFC 8259 JSON
 * (jsonstrict_check) with no integer json-c would change
 * (jsonstrict_wide_integer), nested no deeper than json-c reads it (32
 * levels, the value the deepest array or object holds counted as one),
 * parsed into *val and its compact text *text (owned by *val; "null" for
 * JSON null).  STORE_OK, STORE_INVALID (not JSON, or too deep: st->err
 * says which) or STORE_ERROR (OOM), with st->err.
 */
static int
parse_value(struct store *st, const char *json, json_object **val,
    const char **text)
{
	static const char too_deep[] = "the value is JSON nested deeper than "
	    "32 levels, which relaycfg does not store";
	json_tokener *tok;
	const char *why = NULL;
	size_t len;

	*val = NULL;
	*text = NULL;
	if (json == NULL)
		return STORE_OK;
	if ((tok = json_tokener_new()) == NULL) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	len = strlen(json);
	/* json-c alone takes NaN, Infinity, 1. and single quotes. */
	if (jsonstrict_check(json, len, JSON_TOKENER_DEFAULT_DEPTH,
	    &why) != 0) {
		json_tokener_free(tok);
		store_seterr(st, "%s", why == jsonstrict_too_deep ?
		    too_deep : "the value is not JSON");
		return STORE_INVALID;
	}
	if (jsonstrict_wide_integer(json, len)) {
		json_tokener_free(tok);
		store_seterr(st, "the value has an integer beyond 64 bits, "
		    "which would be stored changed");
		return STORE_INVALID;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	if (len < INT32_MAX)
		*val = json_tokener_parse_ex(tok, json, (int)len + 1);
	if (len >= INT32_MAX ||
	    json_tokener_get_error(tok) != json_tokener_success) {
		/* Valid to jsonstrict: json-c counts one level more. */
		store_seterr(st, "%s", len < INT32_MAX &&
		    json_tokener_get_error(tok) == json_tokener_error_depth ?
		    too_deep : "the value is not JSON");
		json_tokener_free(tok);
		json_object_put(*val);
		*val = NULL;
		return STORE_INVALID;
	}
	json_tokener_free(tok);
	*text = *val != NULL ? json_object_to_json_string_ext(*val,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "null";
	return STORE_OK;
}

/* store_option_set - see store.h. */
int
store_option_set(struct store *st, enum store_owner owner, int64_t owner_id,
    const char *key, const char *json)
{
	static const struct {
		const struct dict_desc	*d;
		const char		*owner_table;
		const char		*what;
		const char		*projects_by;	/* its projects' */
	} owners[] = {
		[STORE_OWNER_PROJECT] = { &po_desc, "sentry_project", "project",
		    "id" },
		[STORE_OWNER_ORG] = { &oo_desc, "sentry_organization",
		    "organization", "organization_id" },
		[STORE_OWNER_TEMPLATE] = { &to_desc, "sentry_projecttemplate",
		    "template", "template_id" },
	};
	struct inval iv = { 0 };
	struct db_sql q;
	struct db_res *r = NULL;
	struct sql_col row[3];
	json_object *val = NULL;
	const char *text = NULL, *table;
	bool exists = false;
	int rc;

	if ((unsigned)owner > STORE_OWNER_TEMPLATE || key == NULL ||
	    !valid_option_key(key)) {
		return refuse(st, "an option key is 1-64 of [A-Za-z0-9_.:-]");
	}
	if ((rc = parse_value(st, json, &val, &text)) != STORE_OK)
		return rc;
	table = owners[owner].d->table;
	row[0] = SQL_INT(owners[owner].d->owner_col, owner_id);
	row[1] = SQL_STR("`key`", key);
	row[2] = SQL_STR("value", text);
	db_sql_init(&q);
	if ((rc = store_tx_begin(st)) != STORE_OK)
		goto out;
	/* Locking the owner serialises writers of its options. */
	if ((rc = exists_locked(st, owners[owner].owner_table, owner_id,
	    owners[owner].what)) != STORE_OK)
		goto out;
	stmt_select(&q, "value", table, row, 2);
	db_sql_raw(&q, " FOR UPDATE");
	if ((rc = store_sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	exists = db_res_next(r);
	if (json == NULL && !exists) {
		store_seterr(st, "the option is not set");
		rc = STORE_NOT_FOUND;
		goto out;
	}
	/* Unchanged: nothing to write, nothing to invalidate. */
	if (json != NULL && exists && db_res_str(r, 0) != NULL &&
	    strcmp(db_res_str(r, 0), text) == 0)
		goto out;
	db_sql_reset(&q);
	if (json == NULL)
		stmt_delete(&q, table, row, 2);
	else if (exists)
		stmt_update(&q, table, &row[2], 1, row, 2);
	else
		stmt_insert(&q, table, row, 3);
	if ((rc = store_sql_exec(st, &q, NULL, NULL)) != STORE_OK)
		goto out;
	inv_id(st, &iv, owners[owner].d->kind, owner_id);
	rc = inv_keys_of_projects(st, &iv, owners[owner].projects_by, owner_id,
	    false);
out:
	db_res_free(r);
	db_sql_free(&q);
	json_object_put(val);
	return store_tx_finish(st, rc, &iv);
}

/* Relays. */

/* A relay's row as create and register insert it. */
static void
relay_row(struct sql_col cols[3], const char *relay_id,
    const char *public_key, bool is_internal)
{
	cols[0] = SQL_TOKEN("relay_id", relay_id);
	cols[1] = SQL_STR("public_key", public_key);
	cols[2] = SQL_RAW("is_internal", is_internal ? "1" : "0");
}

/* store_relay_create - see store.h. */
int
store_relay_create(struct store *st, const char *relay_id,
    const char *public_key, bool is_internal, int64_t *id)
{
	struct sql_col cols[3];
	struct row_op op = { .verb = ROW_CREATE, .m = &relay_rows,
	    .cols = cols, .ncols = NELEMS(cols), .str = relay_id,
	    .inval = INV_RELAY, .new_id = id };

	if (!store_valid_uuid(relay_id) || !store_valid_relay_pk(public_key)) {
		return refuse(st, "a relay id is a lowercase UUID, a public key "
		    "1-200 base64 characters");
	}
	relay_row(cols, relay_id, public_key, is_internal);
	return row_apply(st, &op);
}

/* store_relay_update - see store.h. */
int
store_relay_update(struct store *st, const char *relay_id,
    const struct store_relay_patch *p)
{
	struct sql_col cols[SET_COLS_MAX];
	struct row_op op = { .verb = ROW_UPDATE, .m = &relay_rows,
	    .cols = cols, .str = relay_id, .inval = INV_RELAY };

	if ((p->public_key != NULL && !store_valid_relay_pk(p->public_key)) ||
	    p->is_internal < -1 || p->is_internal > 1) {
		return refuse(st, "a public key is 1-200 base64 characters");
	}
	if (p->public_key != NULL)
		cols[op.ncols++] = SQL_STR("public_key", p->public_key);
	if (p->is_internal != -1)
		cols[op.ncols++] = SQL_INT("is_internal", p->is_internal);
	return row_apply(st, &op);
}

/* store_relay_delete - see store.h. */
int
store_relay_delete(struct store *st, const char *relay_id)
{
	static const struct step steps[] = {
		{ "DELETE FROM sentry_relayusage WHERE relay_id = ", NULL, true },
		{ "DELETE FROM sentry_relay WHERE id = ", NULL, false },
	};
	struct row_op op = { .verb = ROW_DELETE, .m = &relay_rows,
	    .str = relay_id, .steps = steps, .nsteps = NELEMS(steps),
	    .inval = INV_RELAY };

	return row_apply(st, &op);
}

/* store_relay_register - see store.h. */
int
store_relay_register(struct store *st, const char *relay_id,
    const char *public_key, bool is_internal, const char *version)
{
	struct inval iv = { 0 };
	struct db_sql q;
	struct sql_col cols[5];
	int64_t id = 0;
	int rc;

	if (version == NULL)
		version = "0.0.1";
	if (!store_valid_uuid(relay_id) || !store_valid_relay_pk(public_key) ||
	    strlen(version) > VERSION_MAX || !store_valid_text(version, VERSION_MAX)) {
		return refuse(st, "bad relay id, public key or version");
	}
	db_sql_init(&q);
	/* LAST_INSERT_ID(id): the row's id whether created or updated. */
	relay_row(cols, relay_id, public_key, is_internal);
	stmt_insert(&q, codec_relay.table, cols, 3);
	db_sql_raw(&q, " ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id), "
	    "is_internal = VALUES(is_internal)");
	if ((rc = store_tx_begin(st)) != STORE_OK ||
	    (rc = store_sql_exec(st, &q, NULL, &id)) != STORE_OK)
		goto out;
	db_sql_reset(&q);
	cols[0] = SQL_TOKEN("relay_id", relay_id);
	cols[1] = SQL_STR("version", version);
	cols[2] = SQL_RAW("first_seen", "UTC_TIMESTAMP(6)");
	cols[3] = SQL_RAW("last_seen", "UTC_TIMESTAMP(6)");
	cols[4] = SQL_STR("public_key", public_key);
	stmt_insert(&q, "sentry_relayusage", cols, 5);
	db_sql_raw(&q, " ON DUPLICATE KEY UPDATE last_seen = "
	    "VALUES(last_seen), public_key = VALUES(public_key)");
	if ((rc = store_sql_exec(st, &q, NULL, NULL)) != STORE_OK)
		goto out;
	inv_row(st, &iv, &codec_relay, id, relay_id);
out:
	return tx_end(st, rc, &iv, &q, NULL);
}
