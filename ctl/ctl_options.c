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
 * parsers refuse).  0, or 2 after a message.
 */
static int
check_write(const struct admin *a, const char *key, const char *json)
{
	const char *why = NULL;
	char msg[128];

	if (!valid_option_key(key))
		return admin_usage_error(a, "an option key is 1-64 of "
		    "[A-Za-z0-9_.:-]");
	if (strcmp(key, STORE_REV_KEY) == 0 ||
	    strcmp(key, STORE_REV_TIME_KEY) == 0) {
		snprintf(msg, sizeof(msg), "%s is relaycfg's own bookkeeping "
		    "of lastChange, not set by hand", key);
		return admin_usage_error(a, msg);
	}
	if (json != NULL && jsonstrict_check(json, strlen(json),
	    JSON_TOKENER_DEFAULT_DEPTH, &why) != 0) {
		snprintf(msg, sizeof(msg), "the value is not JSON (%s)", why);
		return admin_usage_error(a, msg);
	}
	return 0;
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
	enum store_owner owner;
	struct args ar;
	int64_t id = 0;
	json_object *dict = NULL;
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
	owner = (enum store_owner)i;
	if ((rc = admin_want_id(a, ar.pos[1], &id)) != 0)
		return rc;
	if (!get) {
		char what[128];

		if ((rc = check_write(a, ar.pos[2], set ? ar.pos[3] :
		    NULL)) != 0)
			return rc;
		if ((rc = store_option_set(a->st, owner, id, ar.pos[2],
		    set ? ar.pos[3] : NULL)) != STORE_OK)
			return admin_store_fail(a);
		snprintf(what, sizeof(what), "%s %" PRId64 " %s", owners[i], id,
		    ar.pos[2]);
		return admin_done(a, "option", what, set ? "set" : "unset");
	}
	/* As the server sees them: a project's include its template's. */
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
	case STORE_OWNER_TEMPLATE:
		if ((rc = owner_exists(a, owner, id)) != 0)
			return rc;
		rc = store_template_options(a->st, &id, 1, &dict);
		break;
	}
	if (rc != STORE_OK)
		return admin_store_fail(a);
	if (dict == NULL)
		return admin_fail(a, "no such project");
	if (ar.npos == 3) {
		json_object *v;

		if (!json_object_object_get_ex(dict, ar.pos[2], &v))
			return admin_fail(a, "the option is not set");
		puts(v == NULL ? "null" : json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		return 0;
	}
	if (a->json) {
		puts(json_object_to_json_string_ext(dict,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		return 0;
	}
	/* Keys escaped: a mirrored key is Sentry's text (values are JSON). */
	json_object_object_foreach(dict, k, v) {
		ctl_put_safe(stdout, k);
		printf(": %s\n", v == NULL ? "null" :
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	return 0;
}
