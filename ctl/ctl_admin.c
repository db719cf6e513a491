/*
 * ctl_admin.c - relaycfgctl's admin commands: schema, organizations,
 * projects and templates, keys, options, relays, cache invalidation.
 *
 * Every command reads the same config file as the server, talks to the
 * primary MariaDB, and goes through the store, so that each write drops
 * exactly the cache entries the server would otherwise keep serving.
 * "show", "list" and "option get" read MariaDB; with --cached they read
 * through memcached instead, i.e. what the server sees right now.
 *
 * Output: "key: value" lines (or one line per row) by default; with
 * --json, one JSON object on one line.  Exit status: 0 done, 1 failed
 * (reason on stderr), 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "cache.h"
#include "conf.h"
#include "ctl.h"
#include "db.h"
#include "log.h"
#include "model.h"
#include "store.h"

/* What every command gets. */
struct admin {
	const struct ctl_opts	*o;
	bool			 json;
	bool			 cached;	/* --cached: through memcached */
	const char		*cmd;		/* "org update", for messages */
	struct conf		*conf;
	struct store		*st;
};

static const char *const org_statuses[] = {
	"active", "pending_deletion", "deletion_in_progress",
	"relocation_pending_approval", NULL
};
static const char *const project_statuses[] = {
	"active", "disabled", "pending_deletion", "deletion_in_progress", NULL
};
static const char *const key_statuses[] = { "active", "inactive", NULL };

void
ctl_admin_usage(FILE *fp)
{
	fputs("Admin commands (MariaDB and memcached from the config file):\n"
	    "  db init | migrate | status\n"
	    "  org create SLUG [--name NAME]\n"
	    "  org list\n"
	    "  org show ID [--cached]\n"
	    "  org update ID [--slug SLUG] [--name NAME] [--status STATUS]\n"
	    "  org enable | disable | delete ID\n"
	    "  project create --org ID SLUG [--name NAME] [--platform P] [--template ID]\n"
	    "  project list [--org ID]\n"
	    "  project show ID [--cached]\n"
	    "  project update ID [--slug S] [--name N] [--status STATUS]\n"
	    "                    [--platform P|none] [--template ID|none]\n"
	    "  project enable | disable | delete ID\n"
	    "  project template create --org ID NAME\n"
	    "  project template list [--org ID]\n"
	    "  project template delete ID\n"
	    "  key create --project ID [--label L] [--rate-limit COUNT/SECONDS]\n"
	    "  key list --project ID [--cached]\n"
	    "  key show PUBLIC_KEY [--cached]\n"
	    "  key update PUBLIC_KEY [--label L|none] [--status active|inactive]\n"
	    "                        [--rate-limit COUNT/SECONDS|none]\n"
	    "  key enable | disable | delete PUBLIC_KEY\n"
	    "  option set project|org|template ID KEY JSON\n"
	    "  option unset project|org|template ID KEY\n"
	    "  option get project|org|template ID [KEY] [--cached]\n"
	    "  relay create RELAY_ID PUBLIC_KEY [--internal]\n"
	    "  relay list\n"
	    "  relay show RELAY_ID [--cached]\n"
	    "  relay update RELAY_ID [--public-key KEY] [--internal|--external]\n"
	    "  relay delete RELAY_ID\n"
	    "  invalidate --org ID | --project ID | --key PUBLIC_KEY |\n"
	    "             --relay RELAY_ID | --all\n"
	    "\n", fp);
}

/* --- output ---------------------------------------------------------- */

/* "relaycfgctl: <command>: <reason>" on stderr; returns 1. */
static int
fail(const struct admin *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(const struct admin *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "relaycfgctl: %s: ", a->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* A usage problem on stderr; returns 2. */
static int
usage_error(const struct admin *a, const char *what)
{
	fprintf(stderr, "relaycfgctl: %s: %s (see relaycfgctl --help)\n",
	    a->cmd, what);
	return 2;
}

/* A failed store call: its reason, exit status 1. */
static int
store_fail(const struct admin *a, int rc)
{
	(void)rc;
	return fail(a, "%s", store_last_error(a->st)[0] != '\0' ?
	    store_last_error(a->st) : "failed");
}

/* Print a JSON object on one line, then drop it. */
static void
print_json(json_object *o)
{
	if (o == NULL) {
		fputs("{}\n", stdout);
		return;
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* json-c shorthands (NULL strings become null). */
static void
jadd(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static json_object *
jstr(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* After a write: the cache may keep old entries when memcached failed. */
static bool
cache_note(const struct admin *a)
{
	if (!store_cache_stale(a->st))
		return true;
	fprintf(stderr, "relaycfgctl: %s: warning: memcached did not take "
	    "the invalidation; cached entries may be served until they "
	    "expire (run relaycfgctl invalidate when it is back)\n", a->cmd);
	return false;
}

/* The common answer of update/delete/enable/disable. */
static int
done(const struct admin *a, const char *what, const char *id_text,
    const char *verb)
{
	bool fresh = cache_note(a);

	if (a->json) {
		json_object *o = json_object_new_object();

		jadd(o, "ok", json_object_new_boolean(1));
		jadd(o, what, jstr(id_text));
		jadd(o, "cache_invalidated", json_object_new_boolean(fresh));
		print_json(o);
	} else
		printf("%s %s %s\n", what, id_text, verb);
	return 0;
}

/* The name of a status, "unknown" past the table. */
static const char *
status_name(const char *const *names, int status)
{
	for (int i = 0; names[i] != NULL; i++)
		if (i == status)
			return names[i];
	return "unknown";
}

/* Rows as JSON objects: the --json output and the human fields. */
static json_object *
org_json(const struct model_org *o)
{
	json_object *j = json_object_new_object();

	jadd(j, "id", json_object_new_int64(o->id));
	jadd(j, "slug", jstr(o->slug));
	jadd(j, "name", jstr(o->name));
	jadd(j, "status", json_object_new_int(o->status));
	jadd(j, "status_name", jstr(status_name(org_statuses, o->status)));
	return j;
}

static json_object *
project_json(const struct model_project *p)
{
	json_object *j = json_object_new_object();

	jadd(j, "id", json_object_new_int64(p->id));
	jadd(j, "organization_id", json_object_new_int64(p->organization_id));
	jadd(j, "slug", jstr(p->slug));
	jadd(j, "name", jstr(p->name));
	jadd(j, "status", json_object_new_int(p->status));
	jadd(j, "status_name", jstr(status_name(project_statuses, p->status)));
	jadd(j, "template_id", p->template_id != 0 ?
	    json_object_new_int64(p->template_id) : NULL);
	jadd(j, "platform", jstr(p->platform));
	return j;
}

static json_object *
key_json(const struct model_projectkey *k)
{
	json_object *j = json_object_new_object(), *rl = NULL;

	jadd(j, "id", json_object_new_int64(k->id));
	jadd(j, "project_id", json_object_new_int64(k->project_id));
	jadd(j, "public_key", jstr(k->public_key));
	jadd(j, "secret_key", jstr(k->secret_key));
	jadd(j, "status", json_object_new_int(k->status));
	jadd(j, "status_name", jstr(status_name(key_statuses, k->status)));
	jadd(j, "roles", json_object_new_int64(k->roles));
	if (k->has_rate_limit) {
		rl = json_object_new_object();
		jadd(rl, "count", json_object_new_int64(k->rate_limit_count));
		jadd(rl, "window", json_object_new_int64(k->rate_limit_window));
	}
	jadd(j, "rate_limit", rl);
	jadd(j, "label", jstr(k->label));
	return j;
}

static json_object *
relay_json(const struct model_relay *r)
{
	json_object *j = json_object_new_object();

	jadd(j, "id", json_object_new_int64(r->id));
	jadd(j, "relay_id", jstr(r->relay_id));
	jadd(j, "public_key", jstr(r->public_key));
	jadd(j, "is_internal", json_object_new_boolean(r->is_internal));
	return j;
}

static json_object *
template_json(const struct store_template *t)
{
	json_object *j = json_object_new_object();

	jadd(j, "id", json_object_new_int64(t->id));
	jadd(j, "organization_id", json_object_new_int64(t->organization_id));
	jadd(j, "name", jstr(t->name));
	return j;
}

/*
 * Human output of one object: "key: value" lines, nested objects as
 * compact JSON, null as "-".
 */
static void
print_fields(json_object *o)
{
	json_object_object_foreach(o, k, v) {
		if (v == NULL)
			printf("%s: -\n", k);
		else if (json_object_is_type(v, json_type_string))
			printf("%s: %s\n", k, json_object_get_string(v));
		else
			printf("%s: %s\n", k, json_object_to_json_string_ext(v,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
	}
}

/* Print one row: fields (human) or the object (json). */
static int
show(const struct admin *a, json_object *o)
{
	if (o == NULL)
		return fail(a, "out of memory");
	if (a->json)
		print_json(o);
	else {
		print_fields(o);
		json_object_put(o);
	}
	return 0;
}

/*
 * Print rows: one line each, the listed fields tab-separated (human), or
 * {"<name>": [...]} (json).  Takes the array.
 */
static int
show_list(const struct admin *a, const char *name, json_object *arr,
    const char *const *fields)
{
	if (arr == NULL)
		return fail(a, "out of memory");
	if (a->json) {
		json_object *o = json_object_new_object();

		jadd(o, name, arr);
		print_json(o);
		return 0;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *row = json_object_array_get_idx(arr, i), *v;

		for (size_t f = 0; fields[f] != NULL; f++) {
			json_object_object_get_ex(row, fields[f], &v);
			printf("%s%s", f > 0 ? "\t" : "", v == NULL ? "-" :
			    json_object_get_string(v));
		}
		putchar('\n');
	}
	json_object_put(arr);
	return 0;
}

/* --- parsing --------------------------------------------------------- */

/* A positive decimal id. */
static bool
parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return false;
	*out = v;
	return true;
}

/* A status by name or number. */
static bool
parse_status(const char *const *names, const char *s, int *out)
{
	for (int i = 0; names[i] != NULL; i++) {
		char num[12];

		snprintf(num, sizeof(num), "%d", i);
		if (strcmp(s, names[i]) == 0 || strcmp(s, num) == 0) {
			*out = i;
			return true;
		}
	}
	return false;
}

/* "COUNT/SECONDS" or "none". */
static bool
parse_rate_limit(const char *s, struct store_key_patch *p)
{
	char *end;
	long long c, w;

	p->set_rate_limit = true;
	if (strcmp(s, "none") == 0) {
		p->has_rate_limit = false;
		return true;
	}
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	c = strtoll(s, &end, 10);
	if (errno != 0 || *end != '/' || end[1] < '0' || end[1] > '9')
		return false;
	w = strtoll(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || c < 0 || w <= 0)
		return false;
	p->has_rate_limit = true;
	p->rate_limit_count = c;
	p->rate_limit_window = w;
	return true;
}

/*
 * Options shared by the subcommands.  getopt_long permutes, so options
 * may come before or after the positional arguments.
 */
enum {
	OPT_JSON = 256, OPT_CACHED, OPT_NAME, OPT_SLUG, OPT_STATUS, OPT_ORG,
	OPT_PROJECT, OPT_PLATFORM, OPT_TEMPLATE, OPT_LABEL, OPT_RATE_LIMIT,
	OPT_INTERNAL, OPT_EXTERNAL, OPT_PUBLIC_KEY, OPT_KEY, OPT_RELAY, OPT_ALL
};

struct args {
	const char	*name, *slug, *status, *org, *project, *platform;
	const char	*template, *label, *rate_limit, *public_key, *key;
	const char	*relay;
	bool		 internal, external, all;
	char		**pos;		/* positional arguments */
	int		 npos;
};

/*
 * Parse argv (argv[0] is the subcommand) accepting only the options in
 * allowed (a list of OPT_* ending in 0; --json always).  Returns 0, or 2
 * after a usage message.
 */
static int
parse_args(struct admin *a, int argc, char **argv, const int *allowed,
    struct args *out)
{
	static const struct option all[] = {
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "cached",	no_argument,		NULL, OPT_CACHED },
		{ "name",	required_argument,	NULL, OPT_NAME },
		{ "slug",	required_argument,	NULL, OPT_SLUG },
		{ "status",	required_argument,	NULL, OPT_STATUS },
		{ "org",	required_argument,	NULL, OPT_ORG },
		{ "project",	required_argument,	NULL, OPT_PROJECT },
		{ "platform",	required_argument,	NULL, OPT_PLATFORM },
		{ "template",	required_argument,	NULL, OPT_TEMPLATE },
		{ "label",	required_argument,	NULL, OPT_LABEL },
		{ "rate-limit",	required_argument,	NULL, OPT_RATE_LIMIT },
		{ "internal",	no_argument,		NULL, OPT_INTERNAL },
		{ "external",	no_argument,		NULL, OPT_EXTERNAL },
		{ "public-key",	required_argument,	NULL, OPT_PUBLIC_KEY },
		{ "key",	required_argument,	NULL, OPT_KEY },
		{ "relay",	required_argument,	NULL, OPT_RELAY },
		{ "all",	no_argument,		NULL, OPT_ALL },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(out, 0, sizeof(*out));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", all, NULL)) != -1) {
		bool ok = ch == OPT_JSON;

		for (const int *p = allowed; *p != 0 && !ok; p++)
			ok = *p == ch;
		if (!ok) {
			char what[96];

			snprintf(what, sizeof(what), "unexpected option %s",
			    argv[optind - 1]);
			return usage_error(a, what);
		}
		switch (ch) {
		case OPT_JSON: a->json = true; break;
		case OPT_CACHED: a->cached = true; break;
		case OPT_NAME: out->name = optarg; break;
		case OPT_SLUG: out->slug = optarg; break;
		case OPT_STATUS: out->status = optarg; break;
		case OPT_ORG: out->org = optarg; break;
		case OPT_PROJECT: out->project = optarg; break;
		case OPT_PLATFORM: out->platform = optarg; break;
		case OPT_TEMPLATE: out->template = optarg; break;
		case OPT_LABEL: out->label = optarg; break;
		case OPT_RATE_LIMIT: out->rate_limit = optarg; break;
		case OPT_INTERNAL: out->internal = true; break;
		case OPT_EXTERNAL: out->external = true; break;
		case OPT_PUBLIC_KEY: out->public_key = optarg; break;
		case OPT_KEY: out->key = optarg; break;
		case OPT_RELAY: out->relay = optarg; break;
		case OPT_ALL: out->all = true; break;
		}
	}
	out->pos = argv + optind;
	out->npos = argc - optind;
	return 0;
}

/* Exactly n positional arguments (or between n and max). */
static int
want_pos(const struct admin *a, const struct args *ar, int n, int max)
{
	if (ar->npos < n)
		return usage_error(a, "missing argument");
	if (ar->npos > max)
		return usage_error(a, "too many arguments");
	return 0;
}

/* A positive id argument, or a usage error (2). */
static int
want_id(const struct admin *a, const char *s, int64_t *id)
{
	if (!parse_id(s, id))
		return usage_error(a, "an id is a positive integer");
	return 0;
}

/* --- db -------------------------------------------------------------- */

/*
 * The commands.  Each takes argv from its subcommand on, returns the exit
 * status, and prints its own errors.
 *
 * db: schema work on a bare primary connection (no store needed).
 */
static int
cmd_db(struct admin *a, int argc, char **argv)
{
	static const int none[] = { 0 };
	struct db *db = NULL;
	struct args ar;
	int version = 0, from = 0, to = 0, latest = db_schema_latest(), rc;
	const char *sub = argv[0];
	enum db_rc drc;

	if ((rc = parse_args(a, argc, argv, none, &ar)) != 0 ||
	    (rc = want_pos(a, &ar, 0, 0)) != 0)
		return rc;
	/* Schema work needs no cache: a bare primary connection. */
	if ((db = db_new(&a->conf->db, NULL, a->conf, "primary")) == NULL)
		return fail(a, "out of memory");
	if ((drc = db_schema_version(db, &version)) != DB_OK) {
		rc = fail(a, "%s", db_last_error(db));
		goto out;
	}
	if (version > latest) {
		rc = fail(a, "the schema is at version %d, newer than this "
		    "relaycfgctl knows (%d)", version, latest);
		goto out;
	}
	if (strcmp(sub, "status") == 0) {
		if (a->json) {
			json_object *o = json_object_new_object();
			json_object *p = json_object_new_array();

			for (size_t i = 0; i < db_n_migrations; i++)
				if (db_migrations[i].version > version)
					json_object_array_add(p,
					    json_object_new_string(
					    db_migrations[i].name));
			jadd(o, "version", json_object_new_int(version));
			jadd(o, "latest", json_object_new_int(latest));
			jadd(o, "pending", p);
			print_json(o);
		} else if (version == 0)
			printf("schema version 0 (latest %d): not initialised; "
			    "run relaycfgctl db init\n", latest);
		else if (version < latest)
			printf("schema version %d (latest %d): %d migration(s) "
			    "pending; run relaycfgctl db migrate\n", version,
			    latest, latest - version);
		else
			printf("schema version %d (latest %d): up to date\n",
			    version, latest);
		rc = 0;
		goto out;
	}
	if (strcmp(sub, "init") == 0 && version != 0 && version < latest) {
		rc = fail(a, "the schema is at version %d: run relaycfgctl db "
		    "migrate", version);
		goto out;
	}
	if (strcmp(sub, "migrate") == 0 && version == 0) {
		rc = fail(a, "no schema: run relaycfgctl db init");
		goto out;
	}
	if ((drc = db_schema_migrate(db, &from, &to)) != DB_OK) {
		rc = fail(a, "%s (the schema is at version %d)",
		    db_last_error(db), to);
		goto out;
	}
	/*
	 * A migration changes rows behind the cache's back: drop it all, so
	 * that no server reads a row as it was before.  The schema stays
	 * migrated either way; a cache that did not take it is said.
	 */
	if (from != 0 && from != to &&
	    (store_invalidate(a->st, STORE_SCOPE_ALL, 0, NULL) != STORE_OK ||
	    store_cache_stale(a->st)))
		fprintf(stderr, "relaycfgctl: warning: memcached did not take "
		    "the invalidation after the migration; run relaycfgctl "
		    "invalidate --all once it is back\n");
	if (a->json) {
		json_object *o = json_object_new_object();

		jadd(o, "from", json_object_new_int(from));
		jadd(o, "version", json_object_new_int(to));
		print_json(o);
	} else if (from == to)
		printf("schema already at version %d\n", to);
	else
		printf("schema %s from version %d to %d\n",
		    from == 0 ? "created" : "migrated", from, to);
	rc = 0;
out:
	db_free(db);
	return rc;
}

/* --- org ------------------------------------------------------------- */

/* Show one row through the store (DB or cache as set); 1 when absent. */
static int
org_show(struct admin *a, int64_t id)
{
	const struct model_org *o = NULL;
	int rc = store_orgs_by_ids(a->st, &id, 1, &o);

	if (rc != STORE_OK)
		return store_fail(a, rc);
	if (o == NULL)
		return fail(a, "no such organization");
	return show(a, org_json(o));
}

static int
cmd_org(struct admin *a, int argc, char **argv)
{
	static const int o_create[] = { OPT_NAME, 0 };
	static const int o_show[] = { OPT_CACHED, 0 };
	static const int o_update[] = { OPT_NAME, OPT_SLUG, OPT_STATUS, 0 };
	static const int none[] = { 0 };
	static const char *const fields[] = { "id", "slug", "status_name",
	    "name", NULL };
	const char *sub = argv[0];
	struct args ar;
	char idt[24];
	int64_t id = 0;
	int rc;

	if (strcmp(sub, "create") == 0) {
		if ((rc = parse_args(a, argc, argv, o_create, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0)
			return rc;
		if ((rc = store_org_create(a->st, ar.pos[0], ar.name, &id)) !=
		    STORE_OK)
			return store_fail(a, rc);
		cache_note(a);
		store_bypass_cache(a->st, true);
		return org_show(a, id);
	}
	if (strcmp(sub, "list") == 0) {
		const int64_t *ids;
		const struct model_org **orgs;
		size_t n;
		json_object *arr;

		if ((rc = parse_args(a, argc, argv, none, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 0, 0)) != 0)
			return rc;
		store_bypass_cache(a->st, true);
		if ((rc = store_list_ids(a->st, "org", 0, &ids, &n)) != STORE_OK)
			return store_fail(a, rc);
		if ((orgs = calloc(n + 1, sizeof(*orgs))) == NULL)
			return fail(a, "out of memory");
		rc = store_orgs_by_ids(a->st, ids, n, orgs);
		arr = json_object_new_array();
		for (size_t i = 0; rc == STORE_OK && i < n; i++)
			if (orgs[i] != NULL)
				json_object_array_add(arr, org_json(orgs[i]));
		free(orgs);
		if (rc != STORE_OK) {
			json_object_put(arr);
			return store_fail(a, rc);
		}
		return show_list(a, "organizations", arr, fields);
	}
	if (strcmp(sub, "show") == 0) {
		if ((rc = parse_args(a, argc, argv, o_show, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0 ||
		    (rc = want_id(a, ar.pos[0], &id)) != 0)
			return rc;
		store_bypass_cache(a->st, !a->cached);
		return org_show(a, id);
	}
	if (strcmp(sub, "update") == 0 || strcmp(sub, "enable") == 0 ||
	    strcmp(sub, "disable") == 0) {
		struct store_org_patch p = { NULL, NULL, -1 };

		if ((rc = parse_args(a, argc, argv, sub[0] == 'u' ? o_update :
		    none, &ar)) != 0 || (rc = want_pos(a, &ar, 1, 1)) != 0 ||
		    (rc = want_id(a, ar.pos[0], &id)) != 0)
			return rc;
		p.slug = ar.slug;
		p.name = ar.name;
		if (ar.status != NULL &&
		    !parse_status(org_statuses, ar.status, &p.status))
			return usage_error(a, "a status is active, "
			    "pending_deletion, deletion_in_progress, "
			    "relocation_pending_approval or 0-3");
		/* Disabling an organization is Sentry's PENDING_DELETION:
		 * its projects' configs answer disabled. */
		if (sub[0] == 'e')
			p.status = 0;
		else if (sub[0] == 'd')
			p.status = 1;
		if ((rc = store_org_update(a->st, id, &p)) != STORE_OK)
			return store_fail(a, rc);
		snprintf(idt, sizeof(idt), "%" PRId64, id);
		return done(a, "organization", idt, sub[0] == 'u' ? "updated" :
		    sub[0] == 'e' ? "enabled" : "disabled");
	}
	if (strcmp(sub, "delete") == 0) {
		if ((rc = parse_args(a, argc, argv, none, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0 ||
		    (rc = want_id(a, ar.pos[0], &id)) != 0)
			return rc;
		if ((rc = store_org_delete(a->st, id)) != STORE_OK)
			return store_fail(a, rc);
		snprintf(idt, sizeof(idt), "%" PRId64, id);
		return done(a, "organization", idt, "deleted");
	}
	return usage_error(a, "unknown subcommand");
}

/* --- project and template -------------------------------------------- */

static int
project_show(struct admin *a, int64_t id)
{
	const struct model_project *p = NULL;
	int rc = store_projects_by_ids(a->st, &id, 1, &p);

	if (rc != STORE_OK)
		return store_fail(a, rc);
	if (p == NULL)
		return fail(a, "no such project");
	return show(a, project_json(p));
}

/* "ID" or "none" (0). */
static bool
parse_id_or_none(const char *s, int64_t *out)
{
	if (strcmp(s, "none") == 0) {
		*out = 0;
		return true;
	}
	return parse_id(s, out);
}

static int
cmd_template(struct admin *a, int argc, char **argv)
{
	static const int o_org[] = { OPT_ORG, 0 };
	static const int none[] = { 0 };
	static const char *const fields[] = { "id", "organization_id", "name",
	    NULL };
	const char *sub = argv[0];
	struct args ar;
	int64_t id = 0, org = 0;
	char idt[24];
	int rc;

	if (strcmp(sub, "create") == 0) {
		const struct store_template *t = NULL;

		if ((rc = parse_args(a, argc, argv, o_org, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0)
			return rc;
		if (ar.org == NULL || !parse_id(ar.org, &org))
			return usage_error(a, "--org ID is required");
		if ((rc = store_template_create(a->st, org, ar.pos[0], &id)) !=
		    STORE_OK)
			return store_fail(a, rc);
		cache_note(a);
		if ((rc = store_templates_by_ids(a->st, &id, 1, &t)) != STORE_OK)
			return store_fail(a, rc);
		if (t == NULL)
			return fail(a, "the new template vanished");
		return show(a, template_json(t));
	}
	if (strcmp(sub, "list") == 0) {
		const int64_t *ids;
		const struct store_template **ts;
		size_t n;
		json_object *arr;

		if ((rc = parse_args(a, argc, argv, o_org, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 0, 0)) != 0)
			return rc;
		if (ar.org != NULL && !parse_id(ar.org, &org))
			return usage_error(a, "--org takes an id");
		if ((rc = store_list_ids(a->st, "template", org, &ids, &n)) !=
		    STORE_OK)
			return store_fail(a, rc);
		if ((ts = calloc(n + 1, sizeof(*ts))) == NULL)
			return fail(a, "out of memory");
		rc = store_templates_by_ids(a->st, ids, n, ts);
		arr = json_object_new_array();
		for (size_t i = 0; rc == STORE_OK && i < n; i++)
			if (ts[i] != NULL)
				json_object_array_add(arr, template_json(ts[i]));
		free(ts);
		if (rc != STORE_OK) {
			json_object_put(arr);
			return store_fail(a, rc);
		}
		return show_list(a, "templates", arr, fields);
	}
	if (strcmp(sub, "delete") == 0) {
		if ((rc = parse_args(a, argc, argv, none, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0 ||
		    (rc = want_id(a, ar.pos[0], &id)) != 0)
			return rc;
		if ((rc = store_template_delete(a->st, id)) != STORE_OK)
			return store_fail(a, rc);
		snprintf(idt, sizeof(idt), "%" PRId64, id);
		return done(a, "template", idt, "deleted");
	}
	return usage_error(a, "unknown subcommand");
}

static int
cmd_project(struct admin *a, int argc, char **argv)
{
	static const int o_create[] = { OPT_ORG, OPT_NAME, OPT_PLATFORM,
	    OPT_TEMPLATE, 0 };
	static const int o_list[] = { OPT_ORG, 0 };
	static const int o_show[] = { OPT_CACHED, 0 };
	static const int o_update[] = { OPT_NAME, OPT_SLUG, OPT_STATUS,
	    OPT_PLATFORM, OPT_TEMPLATE, 0 };
	static const int none[] = { 0 };
	static const char *const fields[] = { "id", "organization_id", "slug",
	    "status_name", "template_id", "platform", "name", NULL };
	const char *sub = argv[0];
	struct args ar;
	int64_t id = 0, org = 0, tmpl = 0;
	char idt[24];
	int rc;

	if (strcmp(sub, "template") == 0) {
		if (argc < 2)
			return usage_error(a, "project template create|list|"
			    "delete");
		a->cmd = "project template";
		return cmd_template(a, argc - 1, argv + 1);
	}
	if (strcmp(sub, "create") == 0) {
		if ((rc = parse_args(a, argc, argv, o_create, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0)
			return rc;
		if (ar.org == NULL || !parse_id(ar.org, &org))
			return usage_error(a, "--org ID is required");
		if (ar.template != NULL && !parse_id(ar.template, &tmpl))
			return usage_error(a, "--template takes an id");
		if ((rc = store_project_create(a->st, org, ar.pos[0], ar.name,
		    ar.platform, tmpl, &id)) != STORE_OK)
			return store_fail(a, rc);
		cache_note(a);
		store_bypass_cache(a->st, true);
		return project_show(a, id);
	}
	if (strcmp(sub, "list") == 0) {
		const int64_t *ids;
		const struct model_project **ps;
		size_t n;
		json_object *arr;

		if ((rc = parse_args(a, argc, argv, o_list, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 0, 0)) != 0)
			return rc;
		if (ar.org != NULL && !parse_id(ar.org, &org))
			return usage_error(a, "--org takes an id");
		store_bypass_cache(a->st, true);
		if ((rc = store_list_ids(a->st, "project", org, &ids, &n)) !=
		    STORE_OK)
			return store_fail(a, rc);
		if ((ps = calloc(n + 1, sizeof(*ps))) == NULL)
			return fail(a, "out of memory");
		rc = store_projects_by_ids(a->st, ids, n, ps);
		arr = json_object_new_array();
		for (size_t i = 0; rc == STORE_OK && i < n; i++)
			if (ps[i] != NULL)
				json_object_array_add(arr, project_json(ps[i]));
		free(ps);
		if (rc != STORE_OK) {
			json_object_put(arr);
			return store_fail(a, rc);
		}
		return show_list(a, "projects", arr, fields);
	}
	if (strcmp(sub, "show") == 0) {
		if ((rc = parse_args(a, argc, argv, o_show, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0 ||
		    (rc = want_id(a, ar.pos[0], &id)) != 0)
			return rc;
		store_bypass_cache(a->st, !a->cached);
		return project_show(a, id);
	}
	if (strcmp(sub, "update") == 0 || strcmp(sub, "enable") == 0 ||
	    strcmp(sub, "disable") == 0) {
		struct store_project_patch p;

		memset(&p, 0, sizeof(p));
		p.status = -1;
		if ((rc = parse_args(a, argc, argv, sub[0] == 'u' ? o_update :
		    none, &ar)) != 0 || (rc = want_pos(a, &ar, 1, 1)) != 0 ||
		    (rc = want_id(a, ar.pos[0], &id)) != 0)
			return rc;
		p.slug = ar.slug;
		p.name = ar.name;
		if (ar.status != NULL &&
		    !parse_status(project_statuses, ar.status, &p.status))
			return usage_error(a, "a status is active, disabled, "
			    "pending_deletion, deletion_in_progress or 0-3");
		if (ar.platform != NULL) {
			p.set_platform = true;
			p.platform = strcmp(ar.platform, "none") == 0 ? NULL :
			    ar.platform;
		}
		if (ar.template != NULL) {
			p.set_template = true;
			if (!parse_id_or_none(ar.template, &p.template_id))
				return usage_error(a, "--template takes an id "
				    "or none");
		}
		if (sub[0] == 'e')
			p.status = 0;
		else if (sub[0] == 'd')
			p.status = 1;
		if ((rc = store_project_update(a->st, id, &p)) != STORE_OK)
			return store_fail(a, rc);
		snprintf(idt, sizeof(idt), "%" PRId64, id);
		return done(a, "project", idt, sub[0] == 'u' ? "updated" :
		    sub[0] == 'e' ? "enabled" : "disabled");
	}
	if (strcmp(sub, "delete") == 0) {
		if ((rc = parse_args(a, argc, argv, none, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0 ||
		    (rc = want_id(a, ar.pos[0], &id)) != 0)
			return rc;
		if ((rc = store_project_delete(a->st, id)) != STORE_OK)
			return store_fail(a, rc);
		snprintf(idt, sizeof(idt), "%" PRId64, id);
		return done(a, "project", idt, "deleted");
	}
	return usage_error(a, "unknown subcommand");
}

/* --- key ------------------------------------------------------------- */

static int
key_show(struct admin *a, const char *public_key)
{
	const struct model_projectkey *k = NULL;
	int rc = store_projectkeys_by_public_keys(a->st, &public_key, 1, &k);

	if (rc != STORE_OK)
		return store_fail(a, rc);
	if (k == NULL)
		return fail(a, "no such key");
	return show(a, key_json(k));
}

/* A public key given on the command line: only ever 32 lowercase hex. */
static int
want_public_key(const struct admin *a, const char *s)
{
	if (!store_valid_hex32(s))
		return usage_error(a, "a public key is 32 lowercase hex digits");
	return 0;
}

static int
cmd_key(struct admin *a, int argc, char **argv)
{
	static const int o_create[] = { OPT_PROJECT, OPT_LABEL, OPT_RATE_LIMIT,
	    0 };
	static const int o_list[] = { OPT_PROJECT, OPT_CACHED, 0 };
	static const int o_show[] = { OPT_CACHED, 0 };
	static const int o_update[] = { OPT_LABEL, OPT_STATUS, OPT_RATE_LIMIT,
	    0 };
	static const int none[] = { 0 };
	static const char *const fields[] = { "id", "project_id", "public_key",
	    "status_name", "label", NULL };
	const char *sub = argv[0];
	struct store_key_patch p;
	struct args ar;
	int64_t pid = 0;
	int rc;

	memset(&p, 0, sizeof(p));
	p.status = -1;
	if (strcmp(sub, "create") == 0) {
		struct model_projectkey k;

		if ((rc = parse_args(a, argc, argv, o_create, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 0, 0)) != 0)
			return rc;
		if (ar.project == NULL || !parse_id(ar.project, &pid))
			return usage_error(a, "--project ID is required");
		if (ar.rate_limit != NULL && !parse_rate_limit(ar.rate_limit, &p))
			return usage_error(a, "--rate-limit is COUNT/SECONDS "
			    "or none");
		if ((rc = store_key_create(a->st, pid, ar.label, &p, &k)) !=
		    STORE_OK)
			return store_fail(a, rc);
		cache_note(a);
		store_bypass_cache(a->st, true);
		return key_show(a, k.public_key);
	}
	if (strcmp(sub, "list") == 0) {
		struct store_keylist kl = { NULL, 0 };
		json_object *arr;

		if ((rc = parse_args(a, argc, argv, o_list, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 0, 0)) != 0)
			return rc;
		if (ar.project == NULL || !parse_id(ar.project, &pid))
			return usage_error(a, "--project ID is required");
		store_bypass_cache(a->st, !a->cached);
		if ((rc = store_projectkeys_by_project_ids(a->st, &pid, 1,
		    &kl)) != STORE_OK)
			return store_fail(a, rc);
		arr = json_object_new_array();
		for (size_t i = 0; i < kl.n; i++)
			json_object_array_add(arr, key_json(kl.keys[i]));
		return show_list(a, "keys", arr, fields);
	}
	if (strcmp(sub, "show") == 0) {
		if ((rc = parse_args(a, argc, argv, o_show, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0)
			return rc;
		/* Any string: show is also how to check what the server
		 * answers for odd input (it is simply not found). */
		store_bypass_cache(a->st, !a->cached);
		return key_show(a, ar.pos[0]);
	}
	if (strcmp(sub, "update") == 0 || strcmp(sub, "enable") == 0 ||
	    strcmp(sub, "disable") == 0) {
		if ((rc = parse_args(a, argc, argv, sub[0] == 'u' ? o_update :
		    none, &ar)) != 0 || (rc = want_pos(a, &ar, 1, 1)) != 0 ||
		    (rc = want_public_key(a, ar.pos[0])) != 0)
			return rc;
		if (ar.label != NULL) {
			p.set_label = true;
			p.label = strcmp(ar.label, "none") == 0 ? NULL :
			    ar.label;
		}
		if (ar.status != NULL &&
		    !parse_status(key_statuses, ar.status, &p.status))
			return usage_error(a, "a key status is active or "
			    "inactive");
		if (ar.rate_limit != NULL && !parse_rate_limit(ar.rate_limit, &p))
			return usage_error(a, "--rate-limit is COUNT/SECONDS "
			    "or none");
		if (sub[0] == 'e')
			p.status = 0;
		else if (sub[0] == 'd')
			p.status = 1;
		if ((rc = store_key_update(a->st, ar.pos[0], &p)) != STORE_OK)
			return store_fail(a, rc);
		return done(a, "key", ar.pos[0], sub[0] == 'u' ? "updated" :
		    sub[0] == 'e' ? "enabled" : "disabled");
	}
	if (strcmp(sub, "delete") == 0) {
		if ((rc = parse_args(a, argc, argv, none, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0 ||
		    (rc = want_public_key(a, ar.pos[0])) != 0)
			return rc;
		if ((rc = store_key_delete(a->st, ar.pos[0])) != STORE_OK)
			return store_fail(a, rc);
		return done(a, "key", ar.pos[0], "deleted");
	}
	return usage_error(a, "unknown subcommand");
}

/* --- option ---------------------------------------------------------- */

static int
cmd_option(struct admin *a, int argc, char **argv)
{
	static const int o_get[] = { OPT_CACHED, 0 };
	static const int none[] = { 0 };
	static const char *const owners[] = { "project", "org", "template",
	    NULL };
	const char *sub = argv[0];
	enum store_owner owner;
	struct args ar;
	int64_t id = 0;
	json_object *dict = NULL;
	bool get = strcmp(sub, "get") == 0;
	bool set = strcmp(sub, "set") == 0;
	int rc, i;

	if (!get && !set && strcmp(sub, "unset") != 0)
		return usage_error(a, "option set|unset|get");
	if ((rc = parse_args(a, argc, argv, get ? o_get : none, &ar)) != 0 ||
	    (rc = want_pos(a, &ar, get ? 2 : set ? 4 : 3,
	    get ? 3 : set ? 4 : 3)) != 0)
		return rc;
	for (i = 0; owners[i] != NULL; i++)
		if (strcmp(ar.pos[0], owners[i]) == 0)
			break;
	if (owners[i] == NULL)
		return usage_error(a, "options belong to a project, an org or "
		    "a template");
	owner = (enum store_owner)i;
	if ((rc = want_id(a, ar.pos[1], &id)) != 0)
		return rc;
	if (!get) {
		char what[128];

		if ((rc = store_option_set(a->st, owner, id, ar.pos[2],
		    set ? ar.pos[3] : NULL)) != STORE_OK)
			return store_fail(a, rc);
		snprintf(what, sizeof(what), "%s %" PRId64 " %s", owners[i], id,
		    ar.pos[2]);
		return done(a, "option", what, set ? "set" : "unset");
	}
	/* As the server sees them: a project's include its template's. */
	store_bypass_cache(a->st, !a->cached);
	switch (owner) {
	case STORE_OWNER_PROJECT:
		rc = store_project_options(a->st, &id, 1, &dict);
		break;
	case STORE_OWNER_ORG:
		rc = store_org_options(a->st, &id, 1, &dict);
		break;
	case STORE_OWNER_TEMPLATE:
		rc = store_template_options(a->st, &id, 1, &dict);
		break;
	}
	if (rc != STORE_OK)
		return store_fail(a, rc);
	if (dict == NULL)
		return fail(a, "no such project");
	if (ar.npos == 3) {
		json_object *v;

		if (!json_object_object_get_ex(dict, ar.pos[2], &v))
			return fail(a, "the option is not set");
		puts(v == NULL ? "null" : json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		return 0;
	}
	if (a->json) {
		puts(json_object_to_json_string_ext(dict, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
		return 0;
	}
	json_object_object_foreach(dict, k, v)
		printf("%s: %s\n", k, v == NULL ? "null" :
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

/* --- relay ----------------------------------------------------------- */

static int
relay_show(struct admin *a, const char *relay_id)
{
	const struct model_relay *r = NULL;
	int rc = store_relays_by_relay_ids(a->st, &relay_id, 1, &r);

	if (rc != STORE_OK)
		return store_fail(a, rc);
	if (r == NULL)
		return fail(a, "no such relay");
	return show(a, relay_json(r));
}

static int
cmd_relay(struct admin *a, int argc, char **argv)
{
	static const int o_create[] = { OPT_INTERNAL, 0 };
	static const int o_show[] = { OPT_CACHED, 0 };
	static const int o_update[] = { OPT_PUBLIC_KEY, OPT_INTERNAL,
	    OPT_EXTERNAL, 0 };
	static const int none[] = { 0 };
	static const char *const fields[] = { "id", "relay_id", "is_internal",
	    "public_key", NULL };
	const char *sub = argv[0];
	struct args ar;
	int64_t id = 0;
	int rc;

	if (strcmp(sub, "create") == 0) {
		if ((rc = parse_args(a, argc, argv, o_create, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 2, 2)) != 0)
			return rc;
		if ((rc = store_relay_create(a->st, ar.pos[0], ar.pos[1],
		    ar.internal, &id)) != STORE_OK)
			return store_fail(a, rc);
		cache_note(a);
		store_bypass_cache(a->st, true);
		return relay_show(a, ar.pos[0]);
	}
	if (strcmp(sub, "list") == 0) {
		const int64_t *ids;
		const struct model_relay **rs;
		size_t n;
		json_object *arr;

		if ((rc = parse_args(a, argc, argv, none, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 0, 0)) != 0)
			return rc;
		store_bypass_cache(a->st, true);
		if ((rc = store_list_ids(a->st, "relay", 0, &ids, &n)) != STORE_OK)
			return store_fail(a, rc);
		if ((rs = calloc(n + 1, sizeof(*rs))) == NULL)
			return fail(a, "out of memory");
		rc = store_relays_by_ids(a->st, ids, n, rs);
		arr = json_object_new_array();
		for (size_t i = 0; rc == STORE_OK && i < n; i++)
			if (rs[i] != NULL)
				json_object_array_add(arr, relay_json(rs[i]));
		free(rs);
		if (rc != STORE_OK) {
			json_object_put(arr);
			return store_fail(a, rc);
		}
		return show_list(a, "relays", arr, fields);
	}
	if (strcmp(sub, "show") == 0) {
		if ((rc = parse_args(a, argc, argv, o_show, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0)
			return rc;
		store_bypass_cache(a->st, !a->cached);
		return relay_show(a, ar.pos[0]);
	}
	if (strcmp(sub, "update") == 0) {
		struct store_relay_patch p = { NULL, -1 };

		if ((rc = parse_args(a, argc, argv, o_update, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0)
			return rc;
		if (ar.internal && ar.external)
			return usage_error(a, "--internal or --external, not "
			    "both");
		p.public_key = ar.public_key;
		p.is_internal = ar.internal ? 1 : ar.external ? 0 : -1;
		if ((rc = store_relay_update(a->st, ar.pos[0], &p)) != STORE_OK)
			return store_fail(a, rc);
		return done(a, "relay", ar.pos[0], "updated");
	}
	if (strcmp(sub, "delete") == 0) {
		if ((rc = parse_args(a, argc, argv, none, &ar)) != 0 ||
		    (rc = want_pos(a, &ar, 1, 1)) != 0)
			return rc;
		if ((rc = store_relay_delete(a->st, ar.pos[0])) != STORE_OK)
			return store_fail(a, rc);
		return done(a, "relay", ar.pos[0], "deleted");
	}
	return usage_error(a, "unknown subcommand");
}

/* --- invalidate ------------------------------------------------------ */

static int
cmd_invalidate(struct admin *a, int argc, char **argv)
{
	static const int allowed[] = { OPT_ORG, OPT_PROJECT, OPT_KEY, OPT_RELAY,
	    OPT_ALL, 0 };
	enum store_scope scope = STORE_SCOPE_ALL;
	const char *what = "all", *text = "", *str = NULL;
	struct args ar;
	int64_t id = 0;
	int rc, n;

	if ((rc = parse_args(a, argc, argv, allowed, &ar)) != 0 ||
	    (rc = want_pos(a, &ar, 0, 0)) != 0)
		return rc;
	n = (ar.org != NULL) + (ar.project != NULL) + (ar.key != NULL) +
	    (ar.relay != NULL) + ar.all;
	if (n != 1)
		return usage_error(a, "one of --org, --project, --key, --relay "
		    "or --all");
	if (ar.org != NULL || ar.project != NULL) {
		text = ar.org != NULL ? ar.org : ar.project;
		if ((rc = want_id(a, text, &id)) != 0)
			return rc;
		scope = ar.org != NULL ? STORE_SCOPE_ORG : STORE_SCOPE_PROJECT;
		what = ar.org != NULL ? "organization" : "project";
	} else if (ar.key != NULL) {
		/* Any string: the one a direct writer stored, odd or not. */
		scope = STORE_SCOPE_KEY;
		what = "key";
		text = str = ar.key;
	} else if (ar.relay != NULL) {
		scope = STORE_SCOPE_RELAY;
		what = "relay";
		text = str = ar.relay;
	}
	rc = store_invalidate(a->st, scope, id, str);
	if (rc == STORE_INVALID)
		return store_fail(a, rc);
	if (store_cache_stale(a->st))
		return fail(a, "memcached did not take the invalidation");
	if (rc != STORE_OK)
		/* Only what the arguments name was dropped. */
		return fail(a, "%s; only the entries named directly were "
		    "dropped", store_last_error(a->st));
	if (a->json) {
		json_object *o = json_object_new_object();

		jadd(o, "ok", json_object_new_boolean(1));
		jadd(o, "scope", jstr(what));
		if (scope != STORE_SCOPE_ALL)
			jadd(o, "id", jstr(text));
		jadd(o, "cache_invalidated", json_object_new_boolean(1));
		print_json(o);
	} else if (scope == STORE_SCOPE_ALL)
		puts("invalidated every cache entry (new generation)");
	else {
		char clean[80];

		printf("invalidated %s %s\n", what,
		    log_sanitize(clean, sizeof(clean), text));
	}
	return 0;
}

/* --- entry ----------------------------------------------------------- */

int
ctl_admin_main(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct {
		const char	*name;
		int		(*fn)(struct admin *, int, char **);
		bool		 needs_sub;
	} cmds[] = {
		{ "db", cmd_db, true },
		{ "org", cmd_org, true },
		{ "project", cmd_project, true },
		{ "key", cmd_key, true },
		{ "option", cmd_option, true },
		{ "relay", cmd_relay, true },
		{ "invalidate", cmd_invalidate, false },
	};
	struct admin a;
	char err[512], cmd[64];
	size_t i;
	int rc = 1;

	memset(&a, 0, sizeof(a));
	a.o = o;
	a.json = o->json;
	a.cmd = argv[0];
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, argv[0]) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		return usage_error(&a, "unknown command");
	if (cmds[i].needs_sub && argc < 2)
		return usage_error(&a, "missing subcommand");
	if (cmds[i].needs_sub) {
		snprintf(cmd, sizeof(cmd), "%s %s", argv[0], argv[1]);
		a.cmd = cmd;
	}
	/* The store logs for servers; here the command says what failed. */
	log_setup(LOG_LEVEL_ERROR, false);
	if ((a.conf = conf_load(o->config_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "relaycfgctl: %s\n", err);
		return 1;
	}
	if (app_global_init() != 0) {
		fail(&a, "library initialisation failed");
		goto out;
	}
	if ((a.st = store_open(a.conf, err, sizeof(err))) == NULL) {
		fail(&a, "%s", err);
		goto fini;
	}
	if (cmds[i].needs_sub)
		rc = cmds[i].fn(&a, argc - 1, argv + 1);
	else
		rc = cmds[i].fn(&a, argc, argv);
	store_close(a.st);
fini:
	app_global_fini();
out:
	conf_free(a.conf);
	return rc;
}
