/*
 * pc_datascrubbing.c - piiConfig and datascrubbingSettings, as
 * src/sentry/relay/config/datascrubbing.py (_merge_pii_configs,
 * get_datascrubbing_settings) builds them.
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

/* ------------------------------------------------------------------ */
/* piiConfig: _merge_pii_configs of src/sentry/relay/datascrubbing.py. */

/* prefixed - a malloc'd prefix+name, or NULL on OOM. */
static char *
prefixed(const char *prefix, const char *name)
{
	size_t pl = strlen(prefix), nl = strlen(name);
	char *s;

	if ((s = malloc(pl + nl + 1)) == NULL)
		return NULL;
	memcpy(s, prefix, pl);
	memcpy(s + pl, name, nl + 1);
	return s;
}

/* is_custom_rule - is v a string naming one of the partial's rules? */
static bool
is_custom_rule(json_object *rules, json_object *v)
{
	return rules != NULL && json_object_is_type(v, json_type_string) &&
	    json_object_object_get_ex(rules, json_object_get_string(v), NULL);
}

/* prefixed_ref - a copy of v, prefixed when it names one of rules. */
static json_object *
prefixed_ref(json_object *rules, json_object *v, const char *prefix)
{
	json_object *rv;
	char *s;

	if (!is_custom_rule(rules, v))
		return pc_copy(v);
	if ((s = prefixed(prefix, json_object_get_string(v))) == NULL)
		return NULL;
	rv = json_object_new_string(s);
	free(s);
	return rv;
}

/*
 * prefix_rule - a copy of rule with references to the partial's own rules
 * prefixed (_prefix_rule_references_in_rule): the "rules" list of a
 * "multiple" rule, else its "rule".
 */
static json_object *
prefix_rule(json_object *rules, json_object *rule, const char *prefix)
{
	json_object *c, *type, *refs, *ref, *fresh = NULL, *rv = NULL;

	if ((c = pc_copy(rule)) == NULL)
		return NULL;
	if (!json_object_object_get_ex(c, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    strcmp(json_object_get_string(type), "multiple") != 0)
		goto done;
	if (json_object_object_get_ex(c, "rules", &refs) && !pc_falsy(refs)) {
		size_t n;

		if (!json_object_is_type(refs, json_type_array))
			goto done;
		n = json_object_array_length(refs);
		if ((fresh = pc_new_array(n)) == NULL)
			goto out;
		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_array_get_idx(refs, i);

			if (v == NULL) {
				if (json_object_array_add(fresh, NULL) != 0)
					goto out;
			} else if (pc_arr_add(fresh,
			    prefixed_ref(rules, v, prefix)) != 0)
				goto out;
		}
		/* Replacing keeps the key's place in the object. */
		if (pc_obj_add_dup(c, "rules", fresh) != 0) {
			fresh = NULL;
			goto out;
		}
		fresh = NULL;
	} else if (json_object_object_get_ex(c, "rule", &ref) &&
	    is_custom_rule(rules, ref)) {
		if (pc_obj_add_dup(c, "rule", prefixed_ref(rules, ref, prefix))
		    != 0)
			goto out;
	}
done:
	rv = c;
	c = NULL;
out:
	json_object_put(fresh);
	json_object_put(c);
	return rv;
}

/* child - obj[key] of type t, created at the end when absent. */
static json_object *
child(json_object *obj, const char *key, json_type t)
{
	json_object *c;

	if (json_object_object_get_ex(obj, key, &c) && c != NULL &&
	    json_object_is_type(c, t))
		return c;
	c = t == json_type_array ? json_object_new_array() :
	    json_object_new_object();
	if (pc_obj_add_dup(obj, key, c) != 0)
		return NULL;
	return c;
}

/* has_typed - obj[key] is absent, or present with type t. */
static bool
has_typed(json_object *obj, const char *key, json_type t)
{
	json_object *v;

	return !json_object_object_get_ex(obj, key, &v) ||
	    json_object_is_type(v, t);
}

/* string_field - obj[key] is a string. */
static bool
string_field(json_object *obj, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) &&
	    json_object_is_type(v, json_type_string);
}

/* strings_field - obj[key] is a list of strings. */
static bool
strings_field(json_object *obj, const char *key)
{
	json_object *v;
	size_t n;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return false;
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i),
		    json_type_string))
			return false;
	return true;
}

/* replace_groups_ok - replaceGroups: absent, null or a list of u8. */
static bool
replace_groups_ok(json_object *rule)
{
	json_object *v;
	size_t n;

	if (!json_object_object_get_ex(rule, "replaceGroups", &v) || v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_array))
		return false;
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(v, i);

		if (!json_object_is_type(g, json_type_int) ||
		    json_object_get_int64(g) < 0 ||
		    json_object_get_int64(g) > 255)
			return false;
	}
	return true;
}

/*
 * pii_rule_why - NULL when Relay's RuleSpec (relay-pii config.rs, an enum
 * tagged by "type" with the redaction beside it) takes rule, else why not.
 * Relay's piiConfig is no error boundary, so one rule it cannot parse
 * makes it refuse the whole project.  Sentry checks a PII config with
 * Relay's own parser before it stores one (validate_pii_config), so such
 * a rule can only come from an option set here.
 */
static const char *
pii_rule_why(json_object *rule)
{
	static const char *const plain[] = {
		"anything", "imei", "mac", "uuid", "email", "ip", "creditcard",
		"iban", "userpath", "pemkey", "url_auth", "us_ssn", "bearer",
		"password"
	};
	json_object *redaction, *type;
	const char *t;

	if (!json_object_is_type(rule, json_type_object))
		return "not an object";
	if (json_object_object_get_ex(rule, "redaction", &redaction) &&
	    (!json_object_is_type(redaction, json_type_object) ||
	    !string_field(redaction, "method") ||
	    (strcmp(json_object_get_string(json_object_object_get(redaction,
	    "method")), "replace") == 0 &&
	    !has_typed(redaction, "text", json_type_string))))
		return "a redaction Relay cannot read";
	if (!json_object_object_get_ex(rule, "type", &type) ||
	    !json_object_is_type(type, json_type_string))
		return "type is not a string";
	t = json_object_get_string(type);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (strcmp(t, plain[i]) == 0)
			return NULL;
	if (strcmp(t, "pattern") == 0)
		return string_field(rule, "pattern") &&
		    replace_groups_ok(rule) ? NULL :
		    "a pattern rule needs a string pattern, and "
		    "replaceGroups a list of 0-255";
	if (strcmp(t, "redact_pair") == 0 || strcmp(t, "redactPair") == 0)
		return string_field(rule, "keyPattern") ? NULL :
		    "a redact_pair rule needs a string keyPattern";
	if (strcmp(t, "multiple") == 0)
		return strings_field(rule, "rules") &&
		    has_typed(rule, "hideInner", json_type_boolean) ? NULL :
		    "a multiple rule needs rules, a list of strings, and "
		    "no hideInner but a boolean";
	if (strcmp(t, "alias") == 0)
		return string_field(rule, "rule") &&
		    has_typed(rule, "hideInner", json_type_boolean) ? NULL :
		    "an alias rule needs a string rule, and no hideInner but "
		    "a boolean";
	return "a rule type Relay does not know";
}

/* rule_kept - is rules[name] a rule that pii_merge keeps? */
static bool
rule_kept(json_object *rules, const char *name)
{
	json_object *r = NULL;

	return json_object_object_get_ex(rules, name, &r) &&
	    pii_rule_why(r) == NULL;
}

/* pii_merge - merge one partial config into merged, names prefixed. */
static int
pii_merge(const struct build *b, enum scope scope, json_object *merged,
    json_object *partial, const char *prefix)
{
	static const char key[] = "sentry:relay_pii_config";
	json_object *rules = NULL, *apps = NULL, *dst;
	const char *why;
	char *name;

	if (json_object_object_get_ex(partial, "rules", &rules) &&
	    !json_object_is_type(rules, json_type_object)) {
		if (!pc_falsy(rules))
			pc_warn_opt(b, scope, key,
			    "rules is %s, not an object; "
			    "ignored", pc_type_name(rules));
		rules = NULL;
	}
	if (json_object_object_get_ex(partial, "applications", &apps) &&
	    !json_object_is_type(apps, json_type_object)) {
		if (!pc_falsy(apps))
			pc_warn_opt(b, scope, key, "applications is %s, not an "
			    "object; ignored", pc_type_name(apps));
		apps = NULL;
	}
	if (rules != NULL) {
		json_object_object_foreach(rules, rname, rule) {
			/* Relay refuses the whole config over a bad rule. */
			if ((why = pii_rule_why(rule)) != NULL) {
				pc_warn_opt(b, scope, key, "a rule Relay would "
				    "refuse (%s); dropped", why);
				continue;
			}
			if ((dst = child(merged, "rules", json_type_object))
			    == NULL || (name = prefixed(prefix, rname)) == NULL)
				return -1;
			if (pc_obj_add_dup(dst, name,
			    prefix_rule(rules, rule, prefix)) != 0) {
				free(name);
				return -1;
			}
			free(name);
		}
	}
	if (apps == NULL)
		return 0;
	json_object_object_foreach(apps, selector, list) {
		size_t n;

		if (!json_object_is_type(list, json_type_array)) {
			pc_warn_opt(b, scope, key,
			    "applications of a selector is "
			    "%s, not a list; ignored", pc_type_name(list));
			continue;
		}
		if ((dst = child(merged, "applications", json_type_object))
		    == NULL || (dst = child(dst, selector, json_type_array))
		    == NULL)
			return -1;
		n = json_object_array_length(list);
		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_array_get_idx(list, i);

			if (!json_object_is_type(v, json_type_string)) {
				pc_warn_opt(b, scope, key, "application is %s, "
				    "not a string; dropped", pc_type_name(v));
				continue;
			}
			if (is_custom_rule(rules, v) &&
			    !rule_kept(rules, json_object_get_string(v))) {
				pc_warn_opt(b, scope, key,
				    "application names a "
				    "dropped rule; dropped");
				continue;
			}
			if (pc_arr_add(dst, prefixed_ref(rules, v,
			    prefix)) != 0)
				return -1;
		}
	}
	return 0;
}

/*
 * parse_text - the JSON text held by the string v, parsed strictly into
 * *out (NULL for a JSON null).  Returns 0, 1 when the text is not JSON, or
 * -1 on OOM.
 */
static int
parse_text(json_object *v, json_object **out)
{
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	json_tokener *tok;
	int rv = 1;

	*out = NULL;
	if (len >= INT_MAX || strlen(s) != len)
		return 1;
	if ((tok = json_tokener_new()) == NULL)
		return -1;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	/* The NUL is part of the input, so trailing garbage is an error. */
	*out = json_tokener_parse_ex(tok, s, (int)len + 1);
	if (json_tokener_get_error(tok) == json_tokener_success)
		rv = 0;
	else {
		json_object_put(*out);
		*out = NULL;
	}
	json_tokener_free(tok);
	return rv;
}

int
pc_add_pii_config(const struct build *b, json_object *config)
{
	static const char key[] = "sentry:relay_pii_config";
	static const struct {
		enum scope	 scope;
		const char	*prefix;
	} order[] = {
		/* Organization rules apply first, as in Sentry. */
		{ SCOPE_ORG, "organization:" },
		{ SCOPE_PROJECT, "project:" },
	};
	json_object *merged, *partial = NULL;
	int rv = -1;

	if ((merged = json_object_new_object()) == NULL)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		json_object *v = pc_opt_typed(b, order[i].scope, key,
		    json_type_string);
		int bad;

		if (v == NULL || json_object_get_string_len(v) == 0)
			continue;
		if ((bad = parse_text(v, &partial)) < 0)
			goto out;
		if (bad)	/* Sentry ignores it too (safe_execute) */
			pc_warn_opt(b, order[i].scope, key, "not valid JSON; "
			    "ignored");
		if (partial != NULL && !json_object_is_type(partial,
		    json_type_object)) {
			if (!pc_falsy(partial))
				pc_warn_opt(b, order[i].scope, key, "holds %s, "
				    "not an object; ignored",
				    pc_type_name(partial));
		} else if (partial != NULL && pii_merge(b, order[i].scope,
		    merged, partial, order[i].prefix) != 0)
			goto out;
		json_object_put(partial);
		partial = NULL;
	}
	rv = pc_obj_add(config, "piiConfig", merged);
	merged = NULL;
out:
	json_object_put(partial);
	json_object_put(merged);
	return rv;
}

/* ------------------------------------------------------------------ */
/* datascrubbingSettings: get_datascrubbing_settings.                  */

/* concat_lists - org's then the project's string list under key. */
static json_object *
concat_lists(const struct build *b, const char *key)
{
	json_object *out;

	if ((out = json_object_new_array()) == NULL)
		return NULL;
	if (pc_append_strings(b, SCOPE_ORG, key, out,
	    pc_opt_typed(b, SCOPE_ORG, key, json_type_array)) != 0 ||
	    pc_append_strings(b, SCOPE_PROJECT, key, out,
	    pc_opt_typed(b, SCOPE_PROJECT, key, json_type_array)) != 0) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

int
pc_add_datascrubbing(const struct build *b, json_object *config)
{
	json_object *s;

	if ((s = json_object_new_object()) == NULL)
		return -1;
	if (pc_obj_add(s, "excludeFields",
	    concat_lists(b, "sentry:safe_fields")) != 0)
		goto fail;
	/* Both flags are left out, not false, when off. */
	if ((pc_opt_bool(b, SCOPE_ORG, "sentry:require_scrub_data", false) ||
	    pc_opt_bool(b, SCOPE_PROJECT, "sentry:scrub_data", true)) &&
	    pc_obj_add(s, "scrubData", json_object_new_boolean(1)) != 0)
		goto fail;
	if ((pc_opt_bool(b, SCOPE_ORG, "sentry:require_scrub_ip_address",
	    false) || pc_opt_bool(b, SCOPE_PROJECT, "sentry:scrub_ip_address",
	    false)) &&
	    pc_obj_add(s, "scrubIpAddresses", json_object_new_boolean(1)) != 0)
		goto fail;
	if (pc_obj_add(s, "sensitiveFields",
	    concat_lists(b, "sentry:sensitive_fields")) != 0 ||
	    pc_obj_add(s, "scrubDefaults", json_object_new_boolean(
	    pc_opt_bool(b, SCOPE_ORG, "sentry:require_scrub_defaults", false) ||
	    pc_opt_bool(b, SCOPE_PROJECT, "sentry:scrub_defaults", true))) != 0)
		goto fail;
	return pc_obj_add(config, "datascrubbingSettings", s);
fail:
	json_object_put(s);
	return -1;
}
