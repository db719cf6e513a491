/*
 * ctl_options.c - relaycfgctl option set | unset | get: the options of a
 * project, an organization or a template, read as the server sees them.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl_admin.h"
#include "jsonstrict.h"
#include "model.h"
#include "store_rev.h"
#include "valid.h"

/*
 * owner_exists - does the org or template id exist?  (Their options
 * read as an empty object for any id, so get asks first.)  0 yes; else
 * the exit status after a message: 1 "no such ..." or the store's error.
 */
static int
owner_exists(struct admin *a, enum store_owner owner, int64_t id)
{
	const struct model_org *org = NULL;
	const struct store_template *tmpl = NULL;

	if (owner == STORE_OWNER_ORG) {
		if (store_orgs_by_ids(a->st, &id, 1, &org) != STORE_OK)
			return admin_store_fail(a);
		return org != NULL ? 0 : admin_fail(a, "no such organization");
	}
	if (store_templates_by_ids(a->st, &id, 1, &tmpl) != STORE_OK)
		return admin_store_fail(a);
	return tmpl != NULL ? 0 : admin_fail(a, "no such template");
}

/*
 * check_write - may KEY be set to JSON (NULL: unset) by hand?  The key's
 * form; not one of the pair the server keeps lastChange in (written by
 * hand, lastChange would move or jump while rev stands still); and the
 * value strict RFC 8259 JSON as request bodies are (json-c alone takes
 * NaN, Infinity, 1. and single quotes, which Sentry's and Relay's
 * parsers refuse), nested no deeper than the server's json-c reads it.
 * 0, or 2 after a message.
 */
static int
check_write(const struct admin *a, const char *key, const char *json)
{
	const char *why = NULL;
	char msg[128];
	size_t len;
	bool valid;

	if (!valid_option_key(key))
		return admin_usage_error(a, "an option key is 1-64 of "
		    "[A-Za-z0-9_.:-]");
	if (strcmp(key, STORE_REV_KEY) == 0 ||
	    strcmp(key, STORE_REV_TIME_KEY) == 0) {
		snprintf(msg, sizeof(msg), "%s is relaycfg's own bookkeeping "
		    "of lastChange, not set by hand", key);
		return admin_usage_error(a, msg);
	}
	if (json == NULL)
		return 0;
	len = strlen(json);
	valid = jsonstrict_check(json, len, JSON_TOKENER_DEFAULT_DEPTH,
	    &why) == 0;
	/* Too deep as the server's json-c reads it, in sentry-sync's words
	 * for the same value. */
	if ((!valid && why == jsonstrict_too_deep) || (valid &&
	    jsonstrict_jsonc_too_deep(json, len, JSON_TOKENER_DEFAULT_DEPTH)))
		return admin_usage_error(a, "the value is JSON nested deeper "
		    "than 32 levels, which relaycfg does not store");
	if (!valid) {
		snprintf(msg, sizeof(msg), "the value is not JSON (%s)", why);
		return admin_usage_error(a, msg);
	}
	if (jsonstrict_wide_integer(json, len))
		return admin_usage_error(a, "the value has an integer below "
		    "-2^63 or above 2^64-1, which relaycfg would store changed");
	return 0;
}

/*
 * inherited_from - the template whose value of key a project shows
 * (it has none of its own), else 0.  Reads as the store is set (MariaDB
 * or through memcached); 0 as well when a read fails.
 */
static int64_t
inherited_from(struct admin *a, int64_t project_id, const char *key)
{
	const struct model_project *p = NULL;
	json_object *own = NULL, *tmpl = NULL;

	if (store_projects_by_ids(a->st, &project_id, 1, &p) != STORE_OK ||
	    p == NULL || p->template_id == 0 ||
	    store_project_own_options(a->st, &project_id, 1, &own) !=
	    STORE_OK || own == NULL ||
	    json_object_object_get_ex(own, key, NULL) ||
	    store_template_options(a->st, &p->template_id, 1, &tmpl) !=
	    STORE_OK || tmpl == NULL ||
	    !json_object_object_get_ex(tmpl, key, NULL))
		return 0;
	return p->template_id;
}

/*
 * option_write - set (json) or unset (NULL) key of owner id.  An unset
 * of a project option it only inherits says where the value comes from.
 */
static int
option_write(struct admin *a, enum store_owner owner, const char *noun,
    int64_t id, const char *key, const char *json)
{
	char what[160], err[256];
	int64_t tmpl;
	int rc;

	if ((rc = check_write(a, key, json)) != 0)
		return rc;
	rc = store_option_set(a->st, owner, id, key, json);
	if (rc == STORE_NOT_FOUND && json == NULL &&
	    owner == STORE_OWNER_PROJECT) {
		/* Kept: the reads below may leave an error of their own. */
		snprintf(err, sizeof(err), "%s", store_last_error(a->st));
		store_bypass_cache(a->st, true);
		if ((tmpl = inherited_from(a, id, key)) != 0)
			return admin_fail(a, "project %" PRId64 " has no %s of "
			    "its own; its value comes from template %" PRId64
			    " (option set|unset template %" PRId64 " %s)", id,
			    key, tmpl, tmpl, key);
		return admin_fail(a, "%s", err);
	}
	if (rc != STORE_OK)
		return admin_store_fail(a);
	snprintf(what, sizeof(what), "%s %" PRId64 " %s", noun, id, key);
	return admin_done(a, "option", what, json != NULL ? "set" : "unset");
}

/* print_value - v as compact JSON (escaped on a terminal: ctl_put_json),
 * then " (template N)" when tmpl. */
static void
print_value(json_object *v, int64_t tmpl)
{
	ctl_put_json(stdout, v == NULL ? "null" :
	    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	if (tmpl != 0)
		printf(" (template %" PRId64 ")", tmpl);
	putchar('\n');
}

/*
 * option_get - print the options of owner id, or the one named key (its
 * bare JSON value, also with --json).  A project's include its
 * template's, as the server sees them; the text output marks those
 * "(template N)".
 */
static int
option_get(struct admin *a, enum store_owner owner, int64_t id,
    const char *key)
{
	json_object *dict = NULL, *v;
	bool marks = owner == STORE_OWNER_PROJECT && !a->json;
	int rc;

	store_bypass_cache(a->st, !a->cached);
	switch (owner) {
	case STORE_OWNER_PROJECT:
		rc = store_project_options(a->st, &id, 1, &dict);
		break;
	case STORE_OWNER_ORG:
		if ((rc = owner_exists(a, owner, id)) != 0)
			return rc;
		rc = store_org_options(a->st, &id, 1, &dict);
		break;
	default:
		if ((rc = owner_exists(a, owner, id)) != 0)
			return rc;
		rc = store_template_options(a->st, &id, 1, &dict);
		break;
	}
	if (rc != STORE_OK)
		return admin_store_fail(a);
	if (dict == NULL)
		return admin_fail(a, "no such project");
	/* Held: the reads of inherited_from may replace the store's copy. */
	json_object_get(dict);
	if (key != NULL) {
		if (!json_object_object_get_ex(dict, key, &v))
			rc = admin_fail(a, "the option is not set");
		else
			print_value(v, marks ? inherited_from(a, id, key) : 0);
	} else if (a->json)
		puts(json_object_to_json_string_ext(dict,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	else {
		/* Keys escaped: a mirrored key is Sentry's text. */
		json_object_object_foreach(dict, k, val) {
			ctl_put_safe(stdout, k);
			fputs(": ", stdout);
			print_value(val, marks ? inherited_from(a, id, k) : 0);
		}
	}
	json_object_put(dict);
	return rc;
}

/*
 * cmd_option - set or unset one option (through the store, which drops
 * the cache entries it affects), or print one or all of an owner's.
 */
int
cmd_option(struct admin *a, int argc, char **argv)
{
	static const int o_get[] = { OPT_CACHED, 0 };
	static const int none[] = { 0 };
	static const char *const owners[] = { "project", "org", "template",
	    NULL };
	const char *sub = argv[0];
	struct args ar;
	int64_t id = 0;
	bool get = strcmp(sub, "get") == 0;
	bool set = strcmp(sub, "set") == 0;
	int rc, i;

	if (!get && !set && strcmp(sub, "unset") != 0)
		return admin_usage_error(a, "option set|unset|get");
	if ((rc = admin_parse_args(a, argc, argv, get ? o_get : none,
	    &ar)) != 0 || (rc = admin_want_pos(a, &ar, get ? 2 : set ? 4 : 3,
	    get ? 3 : set ? 4 : 3)) != 0)
		return rc;
	for (i = 0; owners[i] != NULL; i++)
		if (strcmp(ar.pos[0], owners[i]) == 0)
			break;
	if (owners[i] == NULL)
		return admin_usage_error(a, "options belong to a project, an "
		    "org or a template");
	if ((rc = admin_want_id(a, ar.pos[1], &id)) != 0)
		return rc;
	if (get)
		return option_get(a, (enum store_owner)i, id,
		    ar.npos == 3 ? ar.pos[2] : NULL);
	return option_write(a, (enum store_owner)i, owners[i], id, ar.pos[2],
	    set ? ar.pos[3] : NULL);
}
