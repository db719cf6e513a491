/*
 * pc_origins.c - who may send: allowedDomains (get_origins of
 * src/sentry/utils/http.py), trustedRelays and trustedRelaySettings.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <sodium.h>

#include "log.h"
#include "pc_build.h"
#include "pc_tables.h"
#include "projectconfig.h"
#include "relayauth.h"

/* ------------------------------------------------------------------ */
/* allowedDomains: get_origins() of src/sentry/utils/http.py.          */

/*
 * normalize_origin - lowercase (ASCII only; Python lowercases all of
 * Unicode) and strip trailing slashes.  Returns a malloc'd string or NULL.
 */
static char *
normalize_origin(const char *s, size_t len)
{
	char *o;

	while (len > 0 && s[len - 1] == '/')
		len--;
	if ((o = malloc(len + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		o[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	o[len] = '\0';
	return o;
}

static bool
array_has_string(json_object *arr, const char *s)
{
	size_t n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++)
		if (strcmp(json_object_get_string(
		    json_object_array_get_idx(arr, i)), s) == 0)
			return true;
	return false;
}

/*
 * Sentry returns a frozenset, so its order is arbitrary; here the first
 * occurrence wins, which keeps the operator's order and a stable rev.
 */
int
pc_add_allowed_domains(const struct build *b, json_object *config)
{
	static const char key[] = "sentry:origins";
	json_object *origins, *out;
	char *o = NULL;
	size_t n;
	int rv = -1;

	origins = pc_opt_typed(b, SCOPE_PROJECT, key, json_type_array);
	n = origins == NULL ? 0 : json_object_array_length(origins);
	if ((out = json_object_new_array()) == NULL)
		return -1;
	if (origins == NULL &&
	    pc_arr_add(out, json_object_new_string("*")) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(origins, i);

		if (v == NULL)
			continue;	/* None: Python's "(x or '')" drops it */
		if (!json_object_is_type(v, json_type_string) ||
		    strlen(json_object_get_string(v)) !=
		    (size_t)json_object_get_string_len(v)) {
			pc_warn_opt(b, SCOPE_PROJECT, key, "entry %zu is not a "
			    "plain string; dropped", i);
			continue;
		}
		if ((o = normalize_origin(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v))) == NULL)
			goto out;
		if (o[0] != '\0' && !array_has_string(out, o) &&
		    pc_arr_add(out, json_object_new_string(o)) != 0)
			goto out;
		free(o);
		o = NULL;
	}
	rv = pc_obj_add(config, "allowedDomains", out);
	out = NULL;
out:
	free(o);
	json_object_put(out);
	return rv;
}

/* ------------------------------------------------------------------ */
/* trustedRelays.                                                      */

/*
 * relay_key_valid - would Relay parse s as a public key?  One definition
 * for the whole program (relayauth.c); Relay refuses the whole project
 * state when one entry does not parse.
 */
static bool
relay_key_valid(const char *s, size_t len)
{
	return strlen(s) == len && relayauth_public_key_valid(s);
}

int
pc_add_trusted_relays(const struct build *b, json_object *config)
{
	static const char key[] = "sentry:trusted-relays";
	json_object *list, *out;
	size_t n;

	list = pc_opt_typed(b, SCOPE_ORG, key, json_type_array);
	n = list == NULL ? 0 : json_object_array_length(list);
	if ((out = json_object_new_array()) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(list, i), *pk;
		char clean[64];

		if (pc_falsy(r))
			continue;
		if (!json_object_is_type(r, json_type_object) ||
		    !json_object_object_get_ex(r, "public_key", &pk) ||
		    !json_object_is_type(pk, json_type_string)) {
			pc_warn_opt(b, SCOPE_ORG, key, "entry %zu has no "
			    "public_key string; dropped", i);
			continue;
		}
		if (!relay_key_valid(json_object_get_string(pk),
		    (size_t)json_object_get_string_len(pk))) {
			pc_warn_opt(b, SCOPE_ORG, key,
			    "entry %zu: \"%s\" is not "
			    "a valid Relay public key; dropped", i,
			    log_sanitize(clean, sizeof(clean),
			    json_object_get_string(pk)));
			continue;
		}
		if (pc_arr_add(out, pc_str_copy(pk)) != 0) {
			json_object_put(out);
			return -1;
		}
	}
	return pc_obj_add(config, "trustedRelays", out);
}

/* ------------------------------------------------------------------ */
/* trustedRelaySettings, features.                                     */

/*
 * Sentry sends this only with the org feature on, as the org option
 * (default "disabled").  Here an explicitly set option counts as the
 * feature being on.  Relay takes a string only: a bool fails the project.
 */
int
pc_add_trusted_relay_settings(const struct build *b, json_object *config)
{
	static const char key[] = "sentry:ingest-through-trusted-relays-only";
	json_object *v = pc_opt(b, SCOPE_ORG, key), *s;
	const char *setting = NULL;

	if (v != NULL && json_object_is_type(v, json_type_boolean))
		setting = json_object_get_boolean(v) ? "enabled" : "disabled";
	else if (v != NULL && json_object_is_type(v, json_type_string) &&
	    (strcmp(json_object_get_string(v), "enabled") == 0 ||
	    strcmp(json_object_get_string(v), "disabled") == 0))
		setting = json_object_get_string(v);
	else if (v != NULL)
		pc_warn_opt(b, SCOPE_ORG, key, "expected \"enabled\" or "
		    "\"disabled\"; using the default");
	if (setting == NULL && pc_has_feature(b,
	    SF_TRUSTED_RELAYS_ONLY))
		setting = "disabled";
	if (setting == NULL)
		return 0;
	if ((s = json_object_new_object()) == NULL)
		return -1;
	if (pc_obj_add(s, "verifySignature",
	    json_object_new_string(setting)) != 0) {
		json_object_put(s);
		return -1;
	}
	return pc_obj_add(config, "trustedRelaySettings", s);
}
