/*
 * ctl_objects.c - the object kinds of relaycfgctl (org, project, project
 * template, key, relay): one table that says what each kind has, and one
 * create, list, show, update, enable, disable and delete for all of them.
 *
 * Every write goes through the store, so that it drops exactly the cache
 * entries the server would otherwise keep serving.  "show" and "list"
 * read MariaDB; with --cached, "show" and "key list" read through
 * memcached instead, i.e. what the server sees right now.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl_admin.h"
#include "model.h"

static const char *const org_statuses[] = {
	"active", "pending_deletion", "deletion_in_progress",
	"relocation_pending_approval", NULL
};
static const char *const project_statuses[] = {
	"active", "disabled", "pending_deletion", "deletion_in_progress", NULL
};
static const char *const key_statuses[] = { "active", "inactive", NULL };

/* The object a command names: an id, or a name (public key, relay id). */
struct target {
	int64_t		 id;
	const char	*name;
	const char	*text;		/* as printed: the name, or idt */
	char		 idt[24];
	char		 key[MODEL_KEY_HEX_LEN + 1];	/* a new key's */
};

/*
 * Rows of one kind by ids (or names), each as JSON: out[i] answers
 * ids[i] (names[i]), NULL when absent.  Returns the store's rc
 * (STORE_ERROR on OOM); out is only filled on STORE_OK.
 */
typedef int lookup_fn(struct store *, const int64_t *, const char *const *,
    size_t, json_object **);

struct kind {
	const char	*noun;		/* "organization": answers, messages */
	const char	*plural;	/* the list's JSON key */
	const char	*missing;	/* a shown row is absent */
	bool		 by_id;		/* else by name */
	bool		 show;		/* has "show" */
	/* A name that update and delete accept (2 and a message if not). */
	int		(*check_name)(const struct admin *, const char *);
	const char *const *fields;	/* list columns */
	const char *const *statuses;	/* NULL: no --status, enable, disable */
	const char	*status_usage;	/* a refused --status */
	const int	*create_opts, *list_opts, *update_opts;
	int		 create_pos;	/* create's positional arguments */
	lookup_fn	*find;		/* by id or name */
	/* The rows to list into arr; 0, or the exit status after a message. */
	int		(*list)(struct admin *, const struct kind *,
			    const struct args *, json_object *arr);
	const char	*table;		/* for store_list_ids */
	lookup_fn	*rows;		/* by the ids store_list_ids gives */
	/* The store write; 0, or the exit status after a message. */
	int		(*create)(struct admin *, const struct args *,
			    struct target *);
	/* status: -1 keep (or --status), 0 enable, 1 disable. */
	int		(*update)(struct admin *, const struct args *,
			    const struct target *, int status);
	/* delete: by id or by name. */
	int		(*remove_id)(struct store *, int64_t);
	int		(*remove_name)(struct store *, const char *);
};

static const int none[] = { 0 };
static const int o_cached[] = { OPT_CACHED, 0 };

/* --- rows as JSON: the --json output and the human fields ------------ */

/* The name of a status, "unknown" past the table. */
static const char *
status_name(const char *const *names, int status)
{
	for (int i = 0; names[i] != NULL; i++)
		if (i == status)
			return names[i];
	return "unknown";
}

static json_object *
org_json(const struct model_org *o)
{
	json_object *j = json_object_new_object();

	admin_jadd(j, "id", json_object_new_int64(o->id));
	admin_jadd(j, "slug", admin_jstr(o->slug));
	admin_jadd(j, "name", admin_jstr(o->name));
	admin_jadd(j, "status", json_object_new_int(o->status));
	admin_jadd(j, "status_name",
	    admin_jstr(status_name(org_statuses, o->status)));
	return j;
}

static json_object *
project_json(const struct model_project *p)
{
	json_object *j = json_object_new_object();

	admin_jadd(j, "id", json_object_new_int64(p->id));
	admin_jadd(j, "organization_id",
	    json_object_new_int64(p->organization_id));
	admin_jadd(j, "slug", admin_jstr(p->slug));
	admin_jadd(j, "name", admin_jstr(p->name));
	admin_jadd(j, "status", json_object_new_int(p->status));
	admin_jadd(j, "status_name",
	    admin_jstr(status_name(project_statuses, p->status)));
	admin_jadd(j, "template_id", p->template_id != 0 ?
	    json_object_new_int64(p->template_id) : NULL);
	admin_jadd(j, "platform", admin_jstr(p->platform));
	return j;
}

static json_object *
template_json(const struct store_template *t)
{
	json_object *j = json_object_new_object();

	admin_jadd(j, "id", json_object_new_int64(t->id));
	admin_jadd(j, "organization_id",
	    json_object_new_int64(t->organization_id));
	admin_jadd(j, "name", admin_jstr(t->name));
	return j;
}

static json_object *
key_json(const struct model_projectkey *k)
{
	json_object *j = json_object_new_object(), *rl = NULL;

	admin_jadd(j, "id", json_object_new_int64(k->id));
	admin_jadd(j, "project_id", json_object_new_int64(k->project_id));
	admin_jadd(j, "public_key", admin_jstr(k->public_key));
	admin_jadd(j, "secret_key", admin_jstr(k->secret_key));
	admin_jadd(j, "status", json_object_new_int(k->status));
	admin_jadd(j, "status_name",
	    admin_jstr(status_name(key_statuses, k->status)));
	admin_jadd(j, "roles", json_object_new_int64(k->roles));
	if (k->has_rate_limit) {
		rl = json_object_new_object();
		admin_jadd(rl, "count",
		    json_object_new_int64(k->rate_limit_count));
		admin_jadd(rl, "window",
		    json_object_new_int64(k->rate_limit_window));
	}
	admin_jadd(j, "rate_limit", rl);
	admin_jadd(j, "label", admin_jstr(k->label));
	return j;
}

static json_object *
relay_json(const struct model_relay *r)
{
	json_object *j = json_object_new_object();

	admin_jadd(j, "id", json_object_new_int64(r->id));
	admin_jadd(j, "relay_id", admin_jstr(r->relay_id));
	admin_jadd(j, "public_key", admin_jstr(r->public_key));
	admin_jadd(j, "is_internal", json_object_new_boolean(r->is_internal));
	return j;
}

/*
 * The lookup_fn of each store read.  One definition for all, since each
 * read hands out its own row type; in is "ids" or "names".
 */
#define LOOKUP(name, read, in, row, to_json)				\
static int								\
name(struct store *st, const int64_t *ids, const char *const *names,	\
    size_t n, json_object **out)					\
{									\
	const row **rows = calloc(n + 1, sizeof(*rows));		\
	int rc = STORE_ERROR;						\
									\
	(void)ids;							\
	(void)names;							\
	if (rows != NULL && (rc = read(st, in, n, rows)) == STORE_OK)	\
		for (size_t i = 0; i < n; i++)				\
			out[i] = rows[i] != NULL ? to_json(rows[i]) : NULL; \
	free(rows);							\
	return rc;							\
}
LOOKUP(org_rows, store_orgs_by_ids, ids, struct model_org, org_json)
LOOKUP(project_rows, store_projects_by_ids, ids, struct model_project,
    project_json)
LOOKUP(template_rows, store_templates_by_ids, ids, struct store_template,
    template_json)
LOOKUP(key_rows, store_projectkeys_by_public_keys, names,
    struct model_projectkey, key_json)
LOOKUP(relay_rows, store_relays_by_ids, ids, struct model_relay, relay_json)
LOOKUP(relay_rows_by_name, store_relays_by_relay_ids, names,
    struct model_relay, relay_json)
#undef LOOKUP

/* --- the kinds' own parts -------------------------------------------- */

static int
org_create(struct admin *a, const struct args *ar, struct target *t)
{
	return admin_write_fail(a, store_org_create(a->st, ar->pos[0],
	    ar->name, &t->id));
}

/* Disabling an organization is Sentry's PENDING_DELETION: its projects'
 * configs answer disabled. */
static int
org_update(struct admin *a, const struct args *ar, const struct target *t,
    int status)
{
	struct store_org_patch p = { ar->slug, ar->name, status };

	return admin_write_fail(a, store_org_update(a->st, t->id, &p));
}

/*
 * project_create - the project row and what Sentry's project creation
 * stores with it (the default inbound filters of a JavaScript project,
 * store_project_create), in one transaction.
 */
static int
project_create(struct admin *a, const struct args *ar, struct target *t)
{
	int64_t org = 0, tmpl = 0;

	if (ar->org == NULL || !admin_parse_id(ar->org, &org))
		return admin_usage_error(a, "--org ID is required");
	if (ar->template != NULL && !admin_parse_id(ar->template, &tmpl))
		return admin_usage_error(a, "--template takes an id");
	return admin_write_fail(a, store_project_create(a->st, org,
	    ar->pos[0], ar->name, ar->platform, tmpl, &t->id));
}

static int
project_update(struct admin *a, const struct args *ar,
    const struct target *t, int status)
{
	struct store_project_patch p;

	memset(&p, 0, sizeof(p));
	p.slug = ar->slug;
	p.name = ar->name;
	p.status = status;
	if (ar->platform != NULL) {
		p.set_platform = true;
		p.platform = strcmp(ar->platform, "none") == 0 ? NULL :
		    ar->platform;
	}
	if (ar->template != NULL) {
		p.set_template = true;
		if (!admin_parse_id_or_none(ar->template, &p.template_id))
			return admin_usage_error(a, "--template takes an id "
			    "or none");
	}
	return admin_write_fail(a, store_project_update(a->st, t->id, &p));
}

static int
template_create(struct admin *a, const struct args *ar, struct target *t)
{
	int64_t org = 0;

	if (ar->org == NULL || !admin_parse_id(ar->org, &org))
		return admin_usage_error(a, "--org ID is required");
	return admin_write_fail(a, store_template_create(a->st, org,
	    ar->pos[0], &t->id));
}

static int
key_create(struct admin *a, const struct args *ar, struct target *t)
{
	struct store_key_patch p;
	struct model_projectkey k;
	int64_t pid = 0;
	int rc;

	memset(&p, 0, sizeof(p));
	p.status = -1;
	if (ar->project == NULL || !admin_parse_id(ar->project, &pid))
		return admin_usage_error(a, "--project ID is required");
	if (ar->rate_limit != NULL &&
	    (rc = admin_want_rate_limit(a, ar->rate_limit, &p)) != 0)
		return rc;
	if ((rc = admin_write_fail(a, store_key_create(a->st, pid, ar->label,
	    &p, &k))) != 0)
		return rc;
	memcpy(t->key, k.public_key, sizeof(t->key));
	t->name = t->key;
	return 0;
}

/* The keys of one project (--project, required). */
static int
key_list(struct admin *a, const struct kind *k, const struct args *ar,
    json_object *arr)
{
	struct store_keylist kl = { NULL, 0 };
	int64_t pid = 0;

	(void)k;
	if (ar->project == NULL || !admin_parse_id(ar->project, &pid))
		return admin_usage_error(a, "--project ID is required");
	store_bypass_cache(a->st, !a->cached);
	if (store_projectkeys_by_project_ids(a->st, &pid, 1, &kl) != STORE_OK)
		return admin_store_fail(a);
	for (size_t i = 0; i < kl.n; i++)
		json_object_array_add(arr, key_json(kl.keys[i]));
	return 0;
}

static int
key_update(struct admin *a, const struct args *ar, const struct target *t,
    int status)
{
	struct store_key_patch p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.status = status;
	if (ar->label != NULL) {
		p.set_label = true;
		p.label = strcmp(ar->label, "none") == 0 ? NULL : ar->label;
	}
	if (ar->rate_limit != NULL &&
	    (rc = admin_want_rate_limit(a, ar->rate_limit, &p)) != 0)
		return rc;
	return admin_write_fail(a, store_key_update(a->st, t->name, &p));
}

/* A relay id and a key Relay can sign with (else it gets 401 for ever). */
static int
relay_create(struct admin *a, const struct args *ar, struct target *t)
{
	int rc;

	if ((rc = admin_want_relay_id(a, ar->pos[0])) != 0 ||
	    (rc = admin_want_relay_key(a, ar->pos[1])) != 0)
		return rc;
	t->name = ar->pos[0];
	return admin_write_fail(a, store_relay_create(a->st, ar->pos[0],
	    ar->pos[1], ar->internal, &t->id));
}

static int
relay_update(struct admin *a, const struct args *ar, const struct target *t,
    int status)
{
	struct store_relay_patch p;

	(void)status;
	if (ar->internal && ar->external)
		return admin_usage_error(a, "--internal or --external, not "
		    "both");
	if (ar->public_key != NULL && admin_want_relay_key(a,
	    ar->public_key) != 0)
		return 2;
	p.public_key = ar->public_key;
	p.is_internal = ar->internal ? 1 : ar->external ? 0 : -1;
	return admin_write_fail(a, store_relay_update(a->st, t->name, &p));
}

/* Every row of k's table (--org: of one organization), from MariaDB. */
static int
list_table(struct admin *a, const struct kind *k, const struct args *ar,
    json_object *arr)
{
	const int64_t *ids;
	json_object **rows;
	int64_t parent = 0;
	size_t n;
	int rc;

	if (ar->org != NULL && !admin_parse_id(ar->org, &parent))
		return admin_usage_error(a, "--org takes an id");
	store_bypass_cache(a->st, true);
	if (store_list_ids(a->st, k->table, parent, &ids, &n) != STORE_OK)
		return admin_store_fail(a);
	if ((rows = calloc(n + 1, sizeof(*rows))) == NULL)
		return admin_fail(a, "out of memory");
	if ((rc = k->rows(a->st, ids, NULL, n, rows)) == STORE_OK)
		for (size_t i = 0; i < n; i++)
			if (rows[i] != NULL)
				json_object_array_add(arr, rows[i]);
	free(rows);
	return rc == STORE_OK ? 0 : admin_store_fail(a);
}

/* --- the table ------------------------------------------------------- */

static const int org_create_opts[] = { OPT_NAME, 0 };
static const int org_update_opts[] = { OPT_NAME, OPT_SLUG, OPT_STATUS, 0 };
static const char *const org_fields[] = { "id", "slug", "status_name",
    "name", NULL };

static const int project_create_opts[] = { OPT_ORG, OPT_NAME, OPT_PLATFORM,
    OPT_TEMPLATE, 0 };
static const int o_org[] = { OPT_ORG, 0 };
static const int project_update_opts[] = { OPT_NAME, OPT_SLUG, OPT_STATUS,
    OPT_PLATFORM, OPT_TEMPLATE, 0 };
static const char *const project_fields[] = { "id", "organization_id",
    "slug", "status_name", "template_id", "platform", "name", NULL };

static const char *const template_fields[] = { "id", "organization_id",
    "name", NULL };

static const int key_create_opts[] = { OPT_PROJECT, OPT_LABEL,
    OPT_RATE_LIMIT, 0 };
static const int key_list_opts[] = { OPT_PROJECT, OPT_CACHED, 0 };
static const int key_update_opts[] = { OPT_LABEL, OPT_STATUS,
    OPT_RATE_LIMIT, 0 };
static const char *const key_fields[] = { "id", "project_id", "public_key",
    "status_name", "label", NULL };

static const int relay_create_opts[] = { OPT_INTERNAL, 0 };
static const int relay_update_opts[] = { OPT_PUBLIC_KEY, OPT_INTERNAL,
    OPT_EXTERNAL, 0 };
static const char *const relay_fields[] = { "id", "relay_id", "is_internal",
    "public_key", NULL };

static const struct kind kind_org = {
	.noun = "organization", .plural = "organizations",
	.missing = "no such organization", .by_id = true, .show = true,
	.fields = org_fields, .statuses = org_statuses,
	.status_usage = "a status is active, pending_deletion, "
	    "deletion_in_progress, relocation_pending_approval or 0-3",
	.create_opts = org_create_opts, .create_pos = 1,
	.list_opts = none, .update_opts = org_update_opts,
	.find = org_rows, .list = list_table, .table = "org",
	.rows = org_rows, .create = org_create, .update = org_update,
	.remove_id = store_org_delete,
};

static const struct kind kind_project = {
	.noun = "project", .plural = "projects",
	.missing = "no such project", .by_id = true, .show = true,
	.fields = project_fields, .statuses = project_statuses,
	.status_usage = "a status is active, disabled, pending_deletion, "
	    "deletion_in_progress or 0-3",
	.create_opts = project_create_opts, .create_pos = 1,
	.list_opts = o_org, .update_opts = project_update_opts,
	.find = project_rows, .list = list_table, .table = "project",
	.rows = project_rows, .create = project_create,
	.update = project_update, .remove_id = store_project_delete,
};

/* Only create, list and delete; templates are never cached. */
static const struct kind kind_template = {
	.noun = "template", .plural = "templates",
	.missing = "the new template vanished", .by_id = true,
	.fields = template_fields,
	.create_opts = o_org, .create_pos = 1, .list_opts = o_org,
	.find = template_rows, .list = list_table, .table = "template",
	.rows = template_rows, .create = template_create,
	.remove_id = store_template_delete,
};

/* "show" takes any string: it is also how to check what the server
 * answers for odd input (it is simply not found). */
static const struct kind kind_key = {
	.noun = "key", .plural = "keys", .missing = "no such key",
	.show = true, .check_name = admin_want_public_key,
	.fields = key_fields, .statuses = key_statuses,
	.status_usage = "a key status is active or inactive",
	.create_opts = key_create_opts, .create_pos = 0,
	.list_opts = key_list_opts, .update_opts = key_update_opts,
	.find = key_rows, .list = key_list, .create = key_create,
	.update = key_update, .remove_name = store_key_delete,
};

static const struct kind kind_relay = {
	.noun = "relay", .plural = "relays", .missing = "no such relay",
	.show = true, .check_name = admin_want_relay_id,
	.fields = relay_fields, .create_opts = relay_create_opts, .create_pos = 2,
	.list_opts = none, .update_opts = relay_update_opts,
	.find = relay_rows_by_name, .list = list_table, .table = "relay",
	.rows = relay_rows, .create = relay_create, .update = relay_update,
	.remove_name = store_relay_delete,
};

/* --- one of each command for every kind ------------------------------ */

/* Print t's row through the store (DB or cache as set); 1 when absent. */
static int
obj_print(struct admin *a, const struct kind *k, const struct target *t)
{
	json_object *row = NULL;

	if (k->find(a->st, &t->id, &t->name, 1, &row) != STORE_OK)
		return admin_store_fail(a);
	if (row == NULL)
		return admin_fail(a, "%s", k->missing);
	return admin_show(a, row);
}

/*
 * The one positional argument as k's target; writes check a name's form
 * (check_name), reads take any string.  0, or 2 after a message.
 */
static int
obj_target(struct admin *a, const struct kind *k, const struct args *ar,
    bool write, struct target *t)
{
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = admin_want_pos(a, ar, 1, 1)) != 0)
		return rc;
	if (k->by_id) {
		if ((rc = admin_want_id(a, ar->pos[0], &t->id)) != 0)
			return rc;
		snprintf(t->idt, sizeof(t->idt), "%" PRId64, t->id);
		t->text = t->idt;
		return 0;
	}
	if (write && k->check_name != NULL &&
	    (rc = k->check_name(a, ar->pos[0])) != 0)
		return rc;
	t->name = t->text = ar->pos[0];
	return 0;
}

/* create: the write, then the new row as MariaDB has it. */
static int
obj_create(struct admin *a, const struct kind *k, int argc, char **argv)
{
	struct target t;
	struct args ar;
	int rc;

	memset(&t, 0, sizeof(t));
	if ((rc = admin_parse_args(a, argc, argv, k->create_opts, &ar)) != 0 ||
	    (rc = admin_want_pos(a, &ar, k->create_pos, k->create_pos)) != 0 ||
	    (rc = k->create(a, &ar, &t)) != 0)
		return rc;
	admin_cache_note(a);
	store_bypass_cache(a->st, true);
	return obj_print(a, k, &t);
}

static int
obj_list(struct admin *a, const struct kind *k, int argc, char **argv)
{
	struct args ar;
	json_object *arr;
	int rc;

	if ((rc = admin_parse_args(a, argc, argv, k->list_opts, &ar)) != 0 ||
	    (rc = admin_want_pos(a, &ar, 0, 0)) != 0)
		return rc;
	if ((arr = json_object_new_array()) == NULL)
		return admin_fail(a, "out of memory");
	if ((rc = k->list(a, k, &ar, arr)) != 0) {
		json_object_put(arr);
		return rc;
	}
	return admin_show_list(a, k->plural, arr, k->fields);
}

static int
obj_show(struct admin *a, const struct kind *k, int argc, char **argv)
{
	struct target t;
	struct args ar;
	int rc;

	if ((rc = admin_parse_args(a, argc, argv, o_cached, &ar)) != 0 ||
	    (rc = obj_target(a, k, &ar, false, &t)) != 0)
		return rc;
	store_bypass_cache(a->st, !a->cached);
	return obj_print(a, k, &t);
}

/* update, enable (status 0), disable (status 1). */
static int
obj_update(struct admin *a, const struct kind *k, int argc, char **argv)
{
	const char *sub = argv[0];
	struct target t;
	struct args ar;
	int rc, status = -1;

	if ((rc = admin_parse_args(a, argc, argv, sub[0] == 'u' ?
	    k->update_opts : none, &ar)) != 0 ||
	    (rc = obj_target(a, k, &ar, true, &t)) != 0)
		return rc;
	if (ar.status != NULL &&
	    !admin_parse_status(k->statuses, ar.status, &status))
		return admin_usage_error(a, k->status_usage);
	if (sub[0] == 'e')
		status = 0;
	else if (sub[0] == 'd')
		status = 1;
	if ((rc = k->update(a, &ar, &t, status)) != 0)
		return rc;
	return admin_done(a, k->noun, t.text,
	    sub[0] == 'u' ? "updated" : sub[0] == 'e' ? "enabled" :
	    "disabled");
}

static int
obj_delete(struct admin *a, const struct kind *k, int argc, char **argv)
{
	struct target t;
	struct args ar;
	int rc;

	if ((rc = admin_parse_args(a, argc, argv, none, &ar)) != 0 ||
	    (rc = obj_target(a, k, &ar, true, &t)) != 0)
		return rc;
	if ((k->by_id ? k->remove_id(a->st, t.id) :
	    k->remove_name(a->st, t.name)) != STORE_OK)
		return admin_store_fail(a);
	return admin_done(a, k->noun, t.text, "deleted");
}

/* The subcommand argv[0] of kind k. */
static int
obj_main(struct admin *a, const struct kind *k, int argc, char **argv)
{
	const char *sub = argv[0];

	if (strcmp(sub, "create") == 0)
		return obj_create(a, k, argc, argv);
	if (strcmp(sub, "list") == 0)
		return obj_list(a, k, argc, argv);
	if (strcmp(sub, "show") == 0 && k->show)
		return obj_show(a, k, argc, argv);
	if ((strcmp(sub, "update") == 0 && k->update != NULL) ||
	    ((strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0) &&
	    k->statuses != NULL))
		return obj_update(a, k, argc, argv);
	if (strcmp(sub, "delete") == 0)
		return obj_delete(a, k, argc, argv);
	return admin_usage_error(a, "unknown subcommand");
}

int
cmd_org(struct admin *a, int argc, char **argv)
{
	return obj_main(a, &kind_org, argc, argv);
}

/* project SUB, or project template SUB. */
int
cmd_project(struct admin *a, int argc, char **argv)
{
	if (strcmp(argv[0], "template") != 0)
		return obj_main(a, &kind_project, argc, argv);
	if (argc < 2)
		return admin_usage_error(a, "project template create|list|"
		    "delete");
	a->cmd = "project template";
	return obj_main(a, &kind_template, argc - 1, argv + 1);
}

int
cmd_key(struct admin *a, int argc, char **argv)
{
	return obj_main(a, &kind_key, argc, argv);
}

int
cmd_relay(struct admin *a, int argc, char **argv)
{
	return obj_main(a, &kind_relay, argc, argv);
}
