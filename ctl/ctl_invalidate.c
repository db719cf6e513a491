/*
 * ctl_invalidate.c - relaycfgctl invalidate: drop the cache entries of an
 * organization, a project, a key or a relay, or all of them at once.
 */
#include "config.h"

#include <stdio.h>

#include <json-c/json.h>

#include "ctl_admin.h"
#include "log.h"

/*
 * cmd_invalidate - exactly one of --org, --project, --key, --relay, --all;
 * a key of 32 lowercase hex, a relay id a UUID (usage errors else).  One
 * that names nothing is no error: its negative entries go too.  Fails
 * (1) when memcached did not take it, or took only the entries named
 * directly.
 */
int
cmd_invalidate(struct admin *a, int argc, char **argv)
{
	static const int allowed[] = { OPT_ORG, OPT_PROJECT, OPT_KEY, OPT_RELAY,
	    OPT_ALL, 0 };
	enum store_scope scope = STORE_SCOPE_ALL;
	const char *what = "all", *text = "", *str = NULL;
	struct args ar;
	int64_t id = 0;
	int rc, n;

	if ((rc = admin_parse_args(a, argc, argv, allowed, &ar)) != 0 ||
	    (rc = admin_want_pos(a, &ar, 0, 0)) != 0)
		return rc;
	n = (ar.org != NULL) + (ar.project != NULL) + (ar.key != NULL) +
	    (ar.relay != NULL) + ar.all;
	if (n != 1)
		return admin_usage_error(a, "one of --org, --project, --key, "
		    "--relay or --all");
	if (ar.org != NULL || ar.project != NULL) {
		text = ar.org != NULL ? ar.org : ar.project;
		if ((rc = admin_want_id(a, text, &id)) != 0)
			return rc;
		scope = ar.org != NULL ? STORE_SCOPE_ORG : STORE_SCOPE_PROJECT;
		what = ar.org != NULL ? "organization" : "project";
	} else if (ar.key != NULL) {
		/* The server looks up no other key, so caches no other. */
		if ((rc = admin_want_public_key(a, ar.key)) != 0)
			return rc;
		scope = STORE_SCOPE_KEY;
		what = "key";
		text = str = ar.key;
	} else if (ar.relay != NULL) {
		if ((rc = admin_want_relay_id(a, ar.relay)) != 0)
			return rc;
		scope = STORE_SCOPE_RELAY;
		what = "relay";
		text = str = ar.relay;
	}
	rc = store_invalidate(a->st, scope, id, str);
	if (rc == STORE_INVALID)
		return admin_store_fail(a);
	if (store_cache_stale(a->st))
		return admin_fail(a, "memcached did not take the invalidation");
	if (rc != STORE_OK)
		/* Only what the arguments name was dropped. */
		return admin_fail(a, "%s; only the entries named directly were "
		    "dropped", store_last_error(a->st));
	if (a->json) {
		json_object *o = json_object_new_object();

		admin_jadd(o, "ok", json_object_new_boolean(1));
		admin_jadd(o, "scope", admin_jstr(what));
		if (scope != STORE_SCOPE_ALL)
			admin_jadd(o, "id", admin_jstr(text));
		admin_jadd(o, "cache_invalidated", json_object_new_boolean(1));
		admin_print_json(o);
	} else if (scope == STORE_SCOPE_ALL)
		puts("invalidated every cache entry (new generation)");
	else {
		char clean[80];

		printf("invalidated %s %s\n", what,
		    log_sanitize(clean, sizeof(clean), text));
	}
	return 0;
}
