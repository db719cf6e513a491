/*
 * store_write.c - the admin writes (organizations, projects, templates,
 * keys, options, relays): each checks its input, runs in one transaction
 * on the primary, and after the commit drops exactly the cache entries it
 * affects (store_invalidate.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "store.h"
#include "store_int.h"

#define VERSION_MAX	32

/* Start a write: forget the last write's errors. */
static int
tx_begin(struct store *st)
{
	st->cache_stale = false;
	st->err[0] = '\0';
	return store_rc_from_db(st, st->primary, db_begin(st->primary));
}

/*
 * Commit when rc is STORE_OK, roll back otherwise.  The invalidations run
 * after a commit, and also after a failed COMMIT (it may have landed); a
 * rolled back write leaves the cache alone.
 */
static int
tx_finish(struct store *st, int rc, struct inval *iv)
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
 * explained as taken (NULL: MariaDB's words), then tx_finish.
 */
static int
tx_end(struct store *st, int rc, struct inval *iv, struct db_sql *q,
    const char *taken)
{
	if (rc == STORE_CONFLICT && taken != NULL)
		store_seterr(st, "%s", taken);
	db_sql_free(q);
	return tx_finish(st, rc, iv);
}

/*
 * SELECT <cols> FROM <table> WHERE <col> = <value> FOR UPDATE, one row
 * expected: STORE_NOT_FOUND (with "no such <what>") when there is none.
 */
static int
lock_row(struct store *st, const char *cols, const char *table,
    const char *col, int64_t id, const char *str, const char *what,
    struct db_res **res)
{
	struct db_sql q;
	int rc;

	*res = NULL;
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT ");
	db_sql_raw(&q, cols);
	db_sql_raw(&q, " FROM ");
	db_sql_raw(&q, table);
	db_sql_raw(&q, " WHERE ");
	db_sql_raw(&q, col);
	db_sql_raw(&q, " = ");
	if (str != NULL)
		db_sql_token(&q, str);
	else
		db_sql_int(&q, id);
	db_sql_raw(&q, " FOR UPDATE");
	rc = store_sql_query(st, st->primary, &q, res);
	db_sql_free(&q);
	if (rc == STORE_OK && !db_res_next(*res)) {
		db_res_free(*res);
		*res = NULL;
		store_seterr(st, "no such %s", what);
		rc = STORE_NOT_FOUND;
	}
	return rc;
}

/*
 * lock_row, then read its first one or two columns as integers into *a
 * and *b (b may be NULL).  STORE_ERROR when one is not an integer.
 */
static int
lock_ids(struct store *st, const char *cols, const char *table,
    const char *col, int64_t id, const char *str, const char *what,
    int64_t *a, int64_t *b)
{
	struct db_res *r = NULL;
	int rc;

	if ((rc = lock_row(st, cols, table, col, id, str, what, &r)) ==
	    STORE_OK && (!db_res_int(r, 0, a) ||
	    (b != NULL && !db_res_int(r, 1, b)))) {
		store_seterr(st, "%s: unreadable row", table);
		rc = STORE_ERROR;
	}
	db_res_free(r);
	return rc;
}

/* The row id exists in table; locked until the transaction ends. */
static int
exists_locked(struct store *st, const char *table, int64_t id,
    const char *what)
{
	int64_t got;

	return lock_ids(st, "id", table, "id", id, NULL, what, &got, NULL);
}

/* Run a statement built as prefix + id (DELETE ... WHERE x = id). */
static int
exec_id(struct store *st, const char *prefix, int64_t id, const char *suffix)
{
	struct db_sql q;
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, prefix);
	db_sql_int(&q, id);
	if (suffix != NULL)
		db_sql_raw(&q, suffix);
	rc = store_sql_exec(st, &q, NULL, NULL);
	db_sql_free(&q);
	return rc;
}

/*
 * The SET list of an UPDATE: each column after its separator.  *first
 * starts true; the text is "SET a = x, b = y".
 */
static void
set_col(struct db_sql *q, bool *first, const char *col)
{
	db_sql_raw(q, *first ? " " : ", ");
	db_sql_raw(q, col);
	db_sql_raw(q, " = ");
	*first = false;
}

/* col = 'text' (NULL: SQL NULL). */
static void
set_str(struct db_sql *q, bool *first, const char *col, const char *s)
{
	set_col(q, first, col);
	db_sql_str(q, s);
}

/* col = an integer. */
static void
set_int(struct db_sql *q, bool *first, const char *col, int64_t v)
{
	set_col(q, first, col);
	db_sql_int(q, v);
}

/* col = an id, 0 as SQL NULL (no template). */
static void
sql_id_or_null(struct db_sql *q, int64_t id)
{
	if (id != 0)
		db_sql_int(q, id);
	else
		db_sql_raw(q, "NULL");
}

/* One statement of a cascade: prefix, the id, suffix (or nothing). */
struct step {
	const char	*prefix;
	const char	*suffix;
};

#define NSTEPS(s)	(sizeof(s) / sizeof((s)[0]))

/* Run each step with id, stopping at the first failure; a STORE_* code. */
static int
exec_steps(struct store *st, const struct step *steps, size_t n, int64_t id)
{
	int rc = STORE_OK;

	for (size_t i = 0; rc == STORE_OK && i < n; i++)
		rc = exec_id(st, steps[i].prefix, id, steps[i].suffix);
	return rc;
}

/* A refused input: STORE_INVALID with why in st->err. */
static int
refuse(struct store *st, const char *why)
{
	store_seterr(st, "%s", why);
	return STORE_INVALID;
}

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
	struct inval iv = { 0 };
	struct db_sql q;
	int rc;

	if (name == NULL)
		name = slug;
	if (!store_valid_slug(slug, 50) || !store_valid_text(name, 64)) {
		return refuse(st, "an organization slug is 1-50 of [a-z0-9_-] "
		    "(not only digits), a name 1-64 characters");
	}
	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO sentry_organization (name, slug, status) "
	    "VALUES (");
	db_sql_str(&q, name);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, slug);
	db_sql_raw(&q, ", 0)");
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = store_sql_exec(st, &q, NULL, id)) == STORE_OK) {
		inv_id(st, &iv, "o", *id);
		inv_id(st, &iv, "oo", *id);
	}
	return tx_end(st, rc, &iv, &q, "the organization slug is taken");
}

/* store_org_update - see store.h. */
int
store_org_update(struct store *st, int64_t id, const struct store_org_patch *p)
{
	struct inval iv = { 0 };
	struct db_sql q;
	bool first = true;
	int rc;

	if ((p->slug != NULL && !store_valid_slug(p->slug, 50)) ||
	    (p->name != NULL && !store_valid_text(p->name, 64)) ||
	    (p->status != -1 && !valid_status(p->status))) {
		return refuse(st, "bad slug, name or status");
	}
	if (p->slug == NULL && p->name == NULL && p->status == -1)
		return refuse(st, "nothing to change");
	db_sql_init(&q);
	db_sql_raw(&q, "UPDATE sentry_organization SET");
	if (p->slug != NULL)
		set_str(&q, &first, "slug", p->slug);
	if (p->name != NULL)
		set_str(&q, &first, "name", p->name);
	if (p->status != -1)
		set_int(&q, &first, "status", p->status);
	db_sql_raw(&q, " WHERE id = ");
	db_sql_int(&q, id);
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_organization", id,
	    "organization")) == STORE_OK &&
	    (rc = store_sql_exec(st, &q, NULL, NULL)) == STORE_OK) {
		/* Every config of the organization carries its state. */
		inv_id(st, &iv, "o", id);
		rc = inv_keys_of_projects(st, &iv, "organization_id", id, false);
	}
	return tx_end(st, rc, &iv, &q, "the organization slug is taken");
}

/* store_org_delete - see store.h. */
int
store_org_delete(struct store *st, int64_t id)
{
	static const struct step steps[] = {
		{ "DELETE FROM sentry_projectoptions WHERE project_id IN "
		  "(SELECT id FROM sentry_project WHERE organization_id = ", ")" },
		{ "DELETE FROM sentry_projectkey WHERE project_id IN "
		  "(SELECT id FROM sentry_project WHERE organization_id = ", ")" },
		{ "DELETE FROM sentry_project WHERE organization_id = ", NULL },
		{ "DELETE FROM sentry_projecttemplateoption WHERE "
		  "project_template_id IN (SELECT id FROM sentry_projecttemplate "
		  "WHERE organization_id = ", ")" },
		{ "DELETE FROM sentry_projecttemplate WHERE organization_id = ",
		  NULL },
		{ "DELETE FROM sentry_organizationoptions WHERE "
		  "organization_id = ", NULL },
		{ "DELETE FROM sentry_organization WHERE id = ", NULL },
	};
	struct inval iv = { 0 };
	int rc;

	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_organization", id,
	    "organization")) == STORE_OK)
		/* Resolve before deleting: afterwards nothing names them. */
		rc = invalidate_org(st, &iv, id);
	if (rc == STORE_OK)
		rc = exec_steps(st, steps, NSTEPS(steps), id);
	return tx_finish(st, rc, &iv);
}

/* Projects and templates. */

/* The template must exist and belong to the organization. */
static int
check_template(struct store *st, int64_t template_id, int64_t org_id)
{
	int64_t owner = 0;
	int rc;

	rc = lock_ids(st, "organization_id", "sentry_projecttemplate", "id",
	    template_id, NULL, "template", &owner, NULL);
	if (rc == STORE_OK && owner != org_id) {
		store_seterr(st, "the template belongs to another organization");
		rc = STORE_INVALID;
	}
	return rc;
}

/* store_project_create - see store.h. */
int
store_project_create(struct store *st, int64_t org_id, const char *slug,
    const char *name, const char *platform, int64_t template_id, int64_t *id)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int rc;

	if (name == NULL)
		name = slug;
	if (!store_valid_slug(slug, 100) || !store_valid_text(name, 200) ||
	    (platform != NULL && !valid_platform(platform)) || template_id < 0) {
		return refuse(st, "a project slug is 1-100 of [a-z0-9_-] (not "
		    "only digits), a name 1-200 characters, a platform 1-64 of "
		    "[a-z0-9_.-]");
	}
	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO sentry_project (slug, name, "
	    "organization_id, status, template_id, platform) VALUES (");
	db_sql_str(&q, slug);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, name);
	db_sql_raw(&q, ", ");
	db_sql_int(&q, org_id);
	db_sql_raw(&q, ", 0, ");
	sql_id_or_null(&q, template_id);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, platform);
	db_sql_raw(&q, ")");
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_organization", org_id,
	    "organization")) == STORE_OK &&
	    (template_id == 0 ||
	    (rc = check_template(st, template_id, org_id)) == STORE_OK) &&
	    (rc = store_sql_exec(st, &q, NULL, id)) == STORE_OK)
		inv_project(st, &iv, *id);
	return tx_end(st, rc, &iv, &q, "the project slug is taken in this "
	    "organization");
}

/* store_project_update - see store.h. */
int
store_project_update(struct store *st, int64_t id,
    const struct store_project_patch *p)
{
	struct inval iv = { 0 };
	struct db_sql q;
	bool first = true;
	int64_t org = 0;
	int rc;

	if ((p->slug != NULL && !store_valid_slug(p->slug, 100)) ||
	    (p->name != NULL && !store_valid_text(p->name, 200)) ||
	    (p->status != -1 && !valid_status(p->status)) ||
	    (p->set_platform && p->platform != NULL &&
	    !valid_platform(p->platform)) ||
	    (p->set_template && p->template_id < 0)) {
		return refuse(st, "bad slug, name, status, platform or "
		    "template");
	}
	if (p->slug == NULL && p->name == NULL && p->status == -1 &&
	    !p->set_platform && !p->set_template) {
		return refuse(st, "nothing to change");
	}
	db_sql_init(&q);
	db_sql_raw(&q, "UPDATE sentry_project SET");
	if (p->slug != NULL)
		set_str(&q, &first, "slug", p->slug);
	if (p->name != NULL)
		set_str(&q, &first, "name", p->name);
	if (p->status != -1)
		set_int(&q, &first, "status", p->status);
	if (p->set_platform)
		set_str(&q, &first, "platform", p->platform);
	if (p->set_template) {
		set_col(&q, &first, "template_id");
		sql_id_or_null(&q, p->template_id);
	}
	db_sql_raw(&q, " WHERE id = ");
	db_sql_int(&q, id);
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = lock_ids(st, "organization_id", "sentry_project", "id", id,
	    NULL, "project", &org, NULL)) == STORE_OK &&
	    (!p->set_template || p->template_id == 0 ||
	    (rc = check_template(st, p->template_id, org)) == STORE_OK) &&
	    (rc = store_sql_exec(st, &q, NULL, NULL)) == STORE_OK)
		rc = invalidate_project(st, &iv, id);
	return tx_end(st, rc, &iv, &q, "the project slug is taken in this "
	    "organization");
}

/* store_project_delete - see store.h. */
int
store_project_delete(struct store *st, int64_t id)
{
	static const struct step steps[] = {
		{ "DELETE FROM sentry_projectoptions WHERE project_id = ", NULL },
		{ "DELETE FROM sentry_projectkey WHERE project_id = ", NULL },
		{ "DELETE FROM sentry_project WHERE id = ", NULL },
	};
	struct inval iv = { 0 };
	int rc;

	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_project", id, "project")) ==
	    STORE_OK &&
	    (rc = invalidate_project(st, &iv, id)) == STORE_OK)
		rc = exec_steps(st, steps, NSTEPS(steps), id);
	return tx_finish(st, rc, &iv);
}

/* store_template_create - see store.h. */
int
store_template_create(struct store *st, int64_t org_id, const char *name,
    int64_t *id)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int rc;

	if (name == NULL || !store_valid_text(name, 200))
		return refuse(st, "a template name is 1-200 characters");
	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO sentry_projecttemplate (name, "
	    "organization_id) VALUES (");
	db_sql_str(&q, name);
	db_sql_raw(&q, ", ");
	db_sql_int(&q, org_id);
	db_sql_raw(&q, ")");
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_organization", org_id,
	    "organization")) == STORE_OK &&
	    (rc = store_sql_exec(st, &q, NULL, id)) == STORE_OK)
		inv_id(st, &iv, "to", *id);
	return tx_end(st, rc, &iv, &q, "the template name is taken in this "
	    "organization");
}

/* store_template_delete - see store.h. */
int
store_template_delete(struct store *st, int64_t id)
{
	static const struct step steps[] = {
		{ "DELETE FROM sentry_projecttemplateoption WHERE "
		  "project_template_id = ", NULL },
		{ "UPDATE sentry_project SET template_id = NULL "
		  "WHERE template_id = ", NULL },
		{ "DELETE FROM sentry_projecttemplate WHERE id = ", NULL },
	};
	struct inval iv = { 0 };
	int rc;

	/* Its projects lose their fallback: their rows and configs change. */
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_projecttemplate", id,
	    "template")) == STORE_OK &&
	    (rc = inv_keys_of_projects(st, &iv, "template_id", id, true)) ==
	    STORE_OK &&
	    (rc = exec_steps(st, steps, NSTEPS(steps), id)) == STORE_OK)
		inv_id(st, &iv, "to", id);
	return tx_finish(st, rc, &iv);
}

/* Project keys. */

/* Labels, statuses and rate limits a key may take. */
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
	    (p->rate_limit_count < 0 || p->rate_limit_count > UINT32_MAX ||
	    p->rate_limit_window <= 0 || p->rate_limit_window > UINT32_MAX))
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
	struct inval iv = { 0 };
	struct db_sql q;
	bool rl = limits != NULL && limits->set_rate_limit &&
	    limits->has_rate_limit;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((label != NULL && !store_valid_text(label, 64)) || !valid_key_patch(limits)) {
		return refuse(st, "a label is 1-64 characters; a rate limit is "
		    "COUNT >= 0 per WINDOW > 0 seconds");
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
	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO sentry_projectkey (project_id, label, "
	    "public_key, secret_key, roles, status, rate_limit_count, "
	    "rate_limit_window) VALUES (");
	db_sql_int(&q, project_id);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, label);
	db_sql_raw(&q, ", ");
	db_sql_token(&q, out->public_key);
	db_sql_raw(&q, ", ");
	db_sql_token(&q, out->secret_key);
	db_sql_raw(&q, ", 1, 0, ");
	if (rl) {
		db_sql_int(&q, out->rate_limit_count);
		db_sql_raw(&q, ", ");
		db_sql_int(&q, out->rate_limit_window);
	} else
		db_sql_raw(&q, "NULL, NULL");
	db_sql_raw(&q, ")");
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_project", project_id,
	    "project")) == STORE_OK &&
	    (rc = store_sql_exec(st, &q, NULL, &out->id)) == STORE_OK)
		/* A negative pointer may be cached for the new key. */
		inv_key(st, &iv, out->id, out->public_key, project_id);
	return tx_end(st, rc, &iv, &q, NULL);
}

/* store_key_update - see store.h. */
int
store_key_update(struct store *st, const char *public_key,
    const struct store_key_patch *p)
{
	struct inval iv = { 0 };
	struct db_sql q;
	bool first = true;
	int64_t id = 0, pid = 0;
	int rc;

	if (!valid_key_patch(p)) {
		return refuse(st, "a label is 1-64 characters, a status 0 or 1, "
		    "a rate limit COUNT >= 0 per WINDOW > 0 seconds");
	}
	if (!p->set_label && p->status == -1 && !p->set_rate_limit)
		return refuse(st, "nothing to change");
	db_sql_init(&q);
	db_sql_raw(&q, "UPDATE sentry_projectkey SET");
	if (p->set_label)
		set_str(&q, &first, "label", p->label);
	if (p->status != -1)
		set_int(&q, &first, "status", p->status);
	if (p->set_rate_limit && p->has_rate_limit) {
		set_int(&q, &first, "rate_limit_count", p->rate_limit_count);
		set_int(&q, &first, "rate_limit_window", p->rate_limit_window);
	} else if (p->set_rate_limit) {
		set_str(&q, &first, "rate_limit_count", NULL);
		set_str(&q, &first, "rate_limit_window", NULL);
	}
	db_sql_raw(&q, " WHERE public_key = ");
	db_sql_token(&q, public_key);
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = lock_ids(st, "id, project_id", "sentry_projectkey",
	    "public_key", 0, public_key, "key", &id, &pid)) == STORE_OK &&
	    (rc = store_sql_exec(st, &q, NULL, NULL)) == STORE_OK)
		inv_key(st, &iv, id, public_key, pid);
	return tx_end(st, rc, &iv, &q, NULL);
}

/* store_key_delete - see store.h. */
int
store_key_delete(struct store *st, const char *public_key)
{
	struct inval iv = { 0 };
	int64_t id = 0, pid = 0;
	int rc;

	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = lock_ids(st, "id, project_id", "sentry_projectkey",
	    "public_key", 0, public_key, "key", &id, &pid)) == STORE_OK &&
	    (rc = exec_id(st, "DELETE FROM sentry_projectkey WHERE id = ", id,
	    NULL)) == STORE_OK)
		inv_key(st, &iv, id, public_key, pid);
	return tx_finish(st, rc, &iv);
}

/* Options. */

/* store_option_set - see store.h. */
int
store_option_set(struct store *st, enum store_owner owner, int64_t owner_id,
    const char *key, const char *json)
{
	static const struct {
		const struct dict_desc	*d;
		const char		*owner_table;
		const char		*what;
	} owners[] = {
		[STORE_OWNER_PROJECT] = { &po_desc, "sentry_project", "project" },
		[STORE_OWNER_ORG] = { &oo_desc, "sentry_organization",
		    "organization" },
		[STORE_OWNER_TEMPLATE] = { &to_desc, "sentry_projecttemplate",
		    "template" },
	};
	struct inval iv = { 0 };
	struct db_sql q;
	struct db_res *r = NULL;
	json_object *val = NULL;
	const char *text = NULL, *d_owner;
	bool exists = false;
	int rc;

	if ((unsigned)owner > STORE_OWNER_TEMPLATE || key == NULL ||
	    !store_valid_option_key(key)) {
		return refuse(st, "an option key is 1-64 of [A-Za-z0-9_.:-]");
	}
	if (json != NULL) {
		json_tokener *tok = json_tokener_new();
		size_t len = strlen(json);

		if (tok == NULL) {
			store_seterr(st, "out of memory");
			return STORE_ERROR;
		}
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
		    JSON_TOKENER_VALIDATE_UTF8);
		if (len < INT32_MAX)
			val = json_tokener_parse_ex(tok, json, (int)len + 1);
		if (len >= INT32_MAX ||
		    json_tokener_get_error(tok) != json_tokener_success) {
			json_tokener_free(tok);
			json_object_put(val);
			store_seterr(st, "the value is not JSON");
			return STORE_INVALID;
		}
		json_tokener_free(tok);
		text = val != NULL ? json_object_to_json_string_ext(val,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) :
		    "null";
	}
	d_owner = owners[owner].d->owner_col;
	db_sql_init(&q);
	if ((rc = tx_begin(st)) != STORE_OK)
		goto out;
	/* Locking the owner serialises writers of its options. */
	if ((rc = exists_locked(st, owners[owner].owner_table, owner_id,
	    owners[owner].what)) != STORE_OK)
		goto out;
	db_sql_raw(&q, "SELECT value FROM ");
	db_sql_raw(&q, owners[owner].d->table);
	db_sql_raw(&q, " WHERE ");
	db_sql_raw(&q, d_owner);
	db_sql_raw(&q, " = ");
	db_sql_int(&q, owner_id);
	db_sql_raw(&q, " AND `key` = ");
	db_sql_str(&q, key);
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
	if (json == NULL) {
		db_sql_raw(&q, "DELETE FROM ");
		db_sql_raw(&q, owners[owner].d->table);
	} else if (exists) {
		db_sql_raw(&q, "UPDATE ");
		db_sql_raw(&q, owners[owner].d->table);
		db_sql_raw(&q, " SET value = ");
		db_sql_str(&q, text);
	} else {
		db_sql_raw(&q, "INSERT INTO ");
		db_sql_raw(&q, owners[owner].d->table);
		db_sql_raw(&q, " (");
		db_sql_raw(&q, d_owner);
		db_sql_raw(&q, ", `key`, value) VALUES (");
		db_sql_int(&q, owner_id);
		db_sql_raw(&q, ", ");
		db_sql_str(&q, key);
		db_sql_raw(&q, ", ");
		db_sql_str(&q, text);
		db_sql_raw(&q, ")");
	}
	if (json == NULL || exists) {
		db_sql_raw(&q, " WHERE ");
		db_sql_raw(&q, d_owner);
		db_sql_raw(&q, " = ");
		db_sql_int(&q, owner_id);
		db_sql_raw(&q, " AND `key` = ");
		db_sql_str(&q, key);
	}
	if ((rc = store_sql_exec(st, &q, NULL, NULL)) != STORE_OK)
		goto out;
	inv_id(st, &iv, owners[owner].d->kind, owner_id);
	switch (owner) {
	case STORE_OWNER_PROJECT:
		rc = inv_keys_of_projects(st, &iv, "id", owner_id, false);
		break;
	case STORE_OWNER_ORG:
		rc = inv_keys_of_projects(st, &iv, "organization_id", owner_id,
		    false);
		break;
	case STORE_OWNER_TEMPLATE:
		rc = inv_keys_of_projects(st, &iv, "template_id", owner_id,
		    false);
		break;
	}
out:
	db_res_free(r);
	db_sql_free(&q);
	json_object_put(val);
	return tx_finish(st, rc, &iv);
}

/* Relays. */

/* store_relay_create - see store.h. */
int
store_relay_create(struct store *st, const char *relay_id,
    const char *public_key, bool is_internal, int64_t *id)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int rc;

	if (!store_valid_uuid(relay_id) || !store_valid_relay_pk(public_key)) {
		return refuse(st, "a relay id is a lowercase UUID, a public key "
		    "1-200 base64 characters");
	}
	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO sentry_relay (relay_id, public_key, "
	    "is_internal) VALUES (");
	db_sql_token(&q, relay_id);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, public_key);
	db_sql_raw(&q, is_internal ? ", 1)" : ", 0)");
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = store_sql_exec(st, &q, NULL, id)) == STORE_OK) {
		inv_id(st, &iv, "r", *id);
		inv_str(st, &iv, "rr", relay_id);
	}
	return tx_end(st, rc, &iv, &q, "the relay exists");
}

/* store_relay_update - see store.h. */
int
store_relay_update(struct store *st, const char *relay_id,
    const struct store_relay_patch *p)
{
	struct inval iv = { 0 };
	struct db_sql q;
	bool first = true;
	int64_t id = 0;
	int rc;

	if ((p->public_key != NULL && !store_valid_relay_pk(p->public_key)) ||
	    p->is_internal < -1 || p->is_internal > 1) {
		return refuse(st, "a public key is 1-200 base64 characters");
	}
	if (p->public_key == NULL && p->is_internal == -1)
		return refuse(st, "nothing to change");
	db_sql_init(&q);
	db_sql_raw(&q, "UPDATE sentry_relay SET");
	if (p->public_key != NULL)
		set_str(&q, &first, "public_key", p->public_key);
	if (p->is_internal != -1)
		set_int(&q, &first, "is_internal", p->is_internal);
	db_sql_raw(&q, " WHERE relay_id = ");
	db_sql_token(&q, relay_id);
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = lock_ids(st, "id", "sentry_relay", "relay_id", 0, relay_id,
	    "relay", &id, NULL)) == STORE_OK &&
	    (rc = store_sql_exec(st, &q, NULL, NULL)) == STORE_OK) {
		inv_id(st, &iv, "r", id);
		inv_str(st, &iv, "rr", relay_id);
	}
	return tx_end(st, rc, &iv, &q, NULL);
}

/* store_relay_delete - see store.h. */
int
store_relay_delete(struct store *st, const char *relay_id)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int64_t id = 0;
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, "DELETE FROM sentry_relayusage WHERE relay_id = ");
	db_sql_token(&q, relay_id);
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = lock_ids(st, "id", "sentry_relay", "relay_id", 0, relay_id,
	    "relay", &id, NULL)) == STORE_OK &&
	    (rc = store_sql_exec(st, &q, NULL, NULL)) == STORE_OK &&
	    (rc = exec_id(st, "DELETE FROM sentry_relay WHERE id = ", id,
	    NULL)) == STORE_OK) {
		inv_id(st, &iv, "r", id);
		inv_str(st, &iv, "rr", relay_id);
	}
	return tx_end(st, rc, &iv, &q, NULL);
}

/* store_relay_register - see store.h. */
int
store_relay_register(struct store *st, const char *relay_id,
    const char *public_key, bool is_internal, const char *version)
{
	struct inval iv = { 0 };
	struct db_sql q;
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
	db_sql_raw(&q, "INSERT INTO sentry_relay (relay_id, public_key, "
	    "is_internal) VALUES (");
	db_sql_token(&q, relay_id);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, public_key);
	db_sql_raw(&q, is_internal ? ", 1)" : ", 0)");
	db_sql_raw(&q, " ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id), "
	    "is_internal = VALUES(is_internal)");
	if ((rc = tx_begin(st)) != STORE_OK ||
	    (rc = store_sql_exec(st, &q, NULL, &id)) != STORE_OK)
		goto out;
	db_sql_reset(&q);
	db_sql_raw(&q, "INSERT INTO sentry_relayusage (relay_id, version, "
	    "first_seen, last_seen, public_key) VALUES (");
	db_sql_token(&q, relay_id);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, version);
	db_sql_raw(&q, ", UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), ");
	db_sql_str(&q, public_key);
	db_sql_raw(&q, ") ON DUPLICATE KEY UPDATE last_seen = "
	    "VALUES(last_seen), public_key = VALUES(public_key)");
	if ((rc = store_sql_exec(st, &q, NULL, NULL)) != STORE_OK)
		goto out;
	inv_id(st, &iv, "r", id);
	inv_str(st, &iv, "rr", relay_id);
out:
	return tx_end(st, rc, &iv, &q, NULL);
}
