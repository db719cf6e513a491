/*
 * projectconfig.c - the project state, key for key as Sentry builds it
 * (src/sentry/relay/config/__init__.py _get_project_config and the helpers
 * it calls).  Where Sentry would crash on a malformed option, or Relay
 * would reject the whole project because of one bad value, the bad part is
 * logged and left out instead; the rest of the config still goes out.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <sodium.h>

#include "log.h"
#include "pc_tables.h"
#include "projectconfig.h"
#include "relayauth.h"

enum scope {
	SCOPE_PROJECT,
	SCOPE_ORG
};

/* Everything one build reads, resolved once. */
struct build {
	const struct model_project	*project;
	const struct model_org		*org;
	json_object			*options[2];	/* by enum scope */
	const struct conf		*conf;
	int				 epoch;
	bool				 feature[PC_MAX_FEATURES];
};

/* ------------------------------------------------------------------ */
/* json-c building blocks: each steals val, even when it fails.        */

/* obj_add - obj[key] = val for a literal key; -1 when val is NULL (OOM). */
static int
obj_add(json_object *obj, const char *key, json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_object_add_ex(obj, key, val,
	    JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/* obj_add_dup - obj[key] = val for a key that is not a literal. */
static int
obj_add_dup(json_object *obj, const char *key, json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/* arr_add - append val; -1 when val is NULL (OOM). */
static int
arr_add(json_object *arr, json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_array_add(arr, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/*
 * new_array - an array with room for n; never asks json-c for room for 0,
 * which it may take for an allocation failure where calloc(0) is NULL.
 */
static json_object *
new_array(size_t n)
{
	return json_object_new_array_ext(n > 0 && n < INT_MAX ? (int)n : 1);
}

/* copy - a deep copy of a non-null value, or NULL on OOM. */
static json_object *
copy(json_object *src)
{
	json_object *dst = NULL;

	if (json_object_deep_copy(src, &dst, NULL) != 0)
		return NULL;
	return dst;
}

/* str_copy - a string object holding v's bytes (v is a JSON string). */
static json_object *
str_copy(json_object *v)
{
	return json_object_new_string_len(json_object_get_string(v),
	    json_object_get_string_len(v));
}

/*
 * number - a double serialized as text, so 0.3 goes out as "0.3" like
 * Python writes it rather than json-c's "0.29999999999999999".
 */
static json_object *
number(const char *text)
{
	return json_object_new_double_s(strtod(text, NULL), text);
}

/* parse_const - one of our JSON constants; NULL on OOM (or a typo here). */
static json_object *
parse_const(const char *text)
{
	return json_tokener_parse(text);
}

/*
 * Shared constants.  The subtrees that never vary (performanceScore
 * profiles, the generic filters, the default breakdowns, ...) are built
 * once per process and shared, by reference, by every config built after.
 * Nothing ever modifies a built tree.  Each carries a memo as its json-c
 * userdata: its canonical digest, which projectconfig_rev hashes instead
 * of walking the subtree, and its text, which a serializer appends
 * instead of writing the subtree again.  Together these were two thirds
 * of a cold build.  Only shared constants have userdata on an object or
 * an array: json-c itself sets it only on doubles (json_object_new_double_s).
 */
/* A rev is the hex of a BLAKE2b digest this long (hash_node). */
#define REV_DIGEST_BYTES	(PROJECTCONFIG_REV_LEN / 2)

struct shared_memo {
	unsigned char	digest[REV_DIGEST_BYTES];
	size_t		len;
	char		text[];
};

static int	hash_node(json_object *, unsigned char[REV_DIGEST_BYTES]);

static int
shared_memo_serialize(json_object *o, struct printbuf *pb, int level,
    int flags)
{
	const struct shared_memo *m = json_object_get_userdata(o);

	(void)level;
	(void)flags;
	return printbuf_memappend(pb, m->text, (int)m->len) < 0 ? -1 : 0;
}

static void
shared_memo_free(json_object *o, void *userdata)
{
	(void)o;
	free(userdata);
}

/*
 * shared_keep - make o, a new constant subtree, shareable: attach its
 * memo.  Returns o, or NULL on OOM (or o NULL) with o put.
 */
static json_object *
shared_keep(json_object *o)
{
	struct shared_memo *m = NULL;
	const char *text;
	size_t len;

	if (o == NULL || sodium_init() < 0)
		goto fail;
	text = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL || len > INT_MAX ||
	    (m = malloc(sizeof(*m) + len + 1)) == NULL)
		goto fail;
	memcpy(m->text, text, len + 1);
	m->len = len;
	if (hash_node(o, m->digest) != 0)
		goto fail;
	json_object_set_serializer(o, shared_memo_serialize, m,
	    shared_memo_free);
	return o;
fail:
	free(m);
	json_object_put(o);
	return NULL;
}

/*
 * shared_get - a new reference to *slot, made by make(arg) and
 * shared_keep on first use and kept for the life of the process.  NULL on
 * OOM (tried again next time).
 */
static json_object *
shared_get(json_object **slot, json_object *(*make)(const void *),
    const void *arg)
{
	if (*slot == NULL)
		*slot = shared_keep(make(arg));
	return json_object_get(*slot);
}

/* string_array - a new array of the n strings. */
static json_object *
string_array(const char *const *v, size_t n)
{
	json_object *arr, *rv = NULL;

	if ((arr = new_array(n)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (arr_add(arr, json_object_new_string(v[i])) != 0)
			goto out;
	rv = arr;
	arr = NULL;
out:
	json_object_put(arr);
	return rv;
}

/* ------------------------------------------------------------------ */
/* Options.                                                            */

static const char *const scope_names[] = { "project", "organization" };

/*
 * warn_opt - one warning about option key of scope.  Only our own text and
 * json-c type names go into the message, never the option's value.
 */
static void __attribute__((format(printf, 4, 5)))
warn_opt(const struct build *b, enum scope scope, const char *key,
    const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%s %lld: option %s: %s", scope_names[scope],
	    (long long)(scope == SCOPE_ORG ? b->org->id : b->project->id),
	    key, msg);
}

static const char *
type_name(json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

/* opt - the value of key, or NULL when unset or JSON null. */
static json_object *
opt(const struct build *b, enum scope scope, const char *key)
{
	json_object *opts = b->options[scope], *v = NULL;

	if (opts == NULL || !json_object_is_type(opts, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(opts, key, &v))
		return NULL;
	return v;
}

/* opt_typed - key when it has type t; NULL (logged if set) otherwise. */
static json_object *
opt_typed(const struct build *b, enum scope scope, const char *key,
    json_type t)
{
	json_object *v = opt(b, scope, key);

	if (v == NULL || json_object_is_type(v, t))
		return v;
	warn_opt(b, scope, key, "expected %s, got %s; using the default",
	    json_type_to_name(t), type_name(v));
	return NULL;
}

/*
 * opt_bool - key as a truth value.  Booleans and numbers are read as Python
 * reads them (0 is false); anything else falls back to def.
 */
static bool
opt_bool(const struct build *b, enum scope scope, const char *key, bool def)
{
	json_object *v = opt(b, scope, key);

	if (v == NULL)
		return def;
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) != 0;
	case json_type_double:
		return json_object_get_double(v) != 0.0;
	default:
		warn_opt(b, scope, key, "expected a boolean, got %s; using "
		    "the default", type_name(v));
		return def;
	}
}

/*
 * append_strings - append the string entries of list (key's value) to dst.
 * Relay only takes strings in these lists, so anything else is dropped.
 */
static int
append_strings(const struct build *b, enum scope scope, const char *key,
    json_object *dst, json_object *list)
{
	size_t n = list == NULL ? 0 : json_object_array_length(list);

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(list, i);

		if (!json_object_is_type(v, json_type_string)) {
			warn_opt(b, scope, key, "entry %zu is %s, not a "
			    "string; dropped", i, type_name(v));
			continue;
		}
		if (arr_add(dst, str_copy(v)) != 0)
			return -1;
	}
	return 0;
}

/* feature_index - the index of name in pc_features, or -1. */
static int
feature_index(const char *name)
{
	for (size_t i = 0; i < pc_n_features; i++)
		if (strcmp(pc_features[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool
has_feature(const struct build *b, const char *name)
{
	int i = feature_index(name);

	return i >= 0 && b->feature[i];
}

/*
 * load_features - relaycfg:features of both scopes.  An organization flag
 * set on a project would mean something Sentry cannot express, so only the
 * org option may carry "organizations:" names.
 */
static void
load_features(struct build *b)
{
	static const char key[] = "relaycfg:features";
	static const enum scope scopes[] = { SCOPE_ORG, SCOPE_PROJECT };

	for (size_t s = 0; s < 2; s++) {
		enum scope scope = scopes[s];
		json_object *list = opt_typed(b, scope, key, json_type_array);
		size_t n = list == NULL ? 0 : json_object_array_length(list);

		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_array_get_idx(list, i);
			const char *name;
			char clean[96];
			int idx;

			if (!json_object_is_type(v, json_type_string)) {
				warn_opt(b, scope, key, "entry %zu is %s, not "
				    "a string; ignored", i, type_name(v));
				continue;
			}
			name = json_object_get_string(v);
			if ((idx = feature_index(name)) < 0) {
				warn_opt(b, scope, key, "unknown feature "
				    "\"%s\" ignored", log_sanitize(clean,
				    sizeof(clean), name));
				continue;
			}
			if (scope == SCOPE_PROJECT &&
			    strncmp(name, "organizations:", 14) == 0) {
				warn_opt(b, scope, key, "organization feature "
				    "\"%s\" belongs in the organization "
				    "option; ignored", name);
				continue;
			}
			b->feature[idx] = true;
		}
	}
}

/* load_epoch - sentry:option-epoch; a project without one is a new one. */
static int
load_epoch(const struct build *b)
{
	static const char key[] = "sentry:option-epoch";
	json_object *v = opt_typed(b, SCOPE_PROJECT, key, json_type_int);
	int64_t e;

	if (v == NULL)
		return PC_LATEST_EPOCH;
	e = json_object_get_int64(v);
	if (e < 1 || e > INT_MAX) {
		warn_opt(b, SCOPE_PROJECT, key, "out of range; using the "
		    "latest epoch");
		return PC_LATEST_EPOCH;
	}
	return (int)e;
}

/* ------------------------------------------------------------------ */
/* publicKeys.                                                         */

static json_object *
public_keys(const struct model_projectkey *const *keys, size_t n)
{
	json_object *arr, *k = NULL, *rv = NULL;

	if ((arr = new_array(n)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if ((k = json_object_new_object()) == NULL ||
		    obj_add(k, "publicKey",
		    json_object_new_string(keys[i]->public_key)) != 0 ||
		    obj_add(k, "numericId",
		    json_object_new_int64(keys[i]->id)) != 0 ||
		    obj_add(k, "isEnabled", json_object_new_boolean(
		    keys[i]->status == MODEL_STATUS_ACTIVE)) != 0)
			goto out;
		if (arr_add(arr, k) != 0) {
			k = NULL;
			goto out;
		}
		k = NULL;
	}
	rv = arr;
	arr = NULL;
out:
	json_object_put(k);
	json_object_put(arr);
	return rv;
}

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
static int
add_allowed_domains(const struct build *b, json_object *config)
{
	static const char key[] = "sentry:origins";
	json_object *origins, *out;
	char *o = NULL;
	size_t n;
	int rv = -1;

	origins = opt_typed(b, SCOPE_PROJECT, key, json_type_array);
	n = origins == NULL ? 0 : json_object_array_length(origins);
	if ((out = json_object_new_array()) == NULL)
		return -1;
	if (origins == NULL &&
	    arr_add(out, json_object_new_string("*")) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(origins, i);

		if (v == NULL)
			continue;	/* None: Python's "(x or '')" drops it */
		if (!json_object_is_type(v, json_type_string) ||
		    strlen(json_object_get_string(v)) !=
		    (size_t)json_object_get_string_len(v)) {
			warn_opt(b, SCOPE_PROJECT, key, "entry %zu is not a "
			    "plain string; dropped", i);
			continue;
		}
		if ((o = normalize_origin(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v))) == NULL)
			goto out;
		if (o[0] != '\0' && !array_has_string(out, o) &&
		    arr_add(out, json_object_new_string(o)) != 0)
			goto out;
		free(o);
		o = NULL;
	}
	rv = obj_add(config, "allowedDomains", out);
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

/* falsy - would Python's "if r" skip r? */
static bool
falsy(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return true;
	case json_type_object:
		return json_object_object_length(v) == 0;
	case json_type_array:
		return json_object_array_length(v) == 0;
	case json_type_string:
		return json_object_get_string_len(v) == 0;
	case json_type_boolean:
		return !json_object_get_boolean(v);
	default:
		return false;
	}
}

static int
add_trusted_relays(const struct build *b, json_object *config)
{
	static const char key[] = "sentry:trusted-relays";
	json_object *list, *out;
	size_t n;

	list = opt_typed(b, SCOPE_ORG, key, json_type_array);
	n = list == NULL ? 0 : json_object_array_length(list);
	if ((out = json_object_new_array()) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(list, i), *pk;
		char clean[64];

		if (falsy(r))
			continue;
		if (!json_object_is_type(r, json_type_object) ||
		    !json_object_object_get_ex(r, "public_key", &pk) ||
		    !json_object_is_type(pk, json_type_string)) {
			warn_opt(b, SCOPE_ORG, key, "entry %zu has no "
			    "public_key string; dropped", i);
			continue;
		}
		if (!relay_key_valid(json_object_get_string(pk),
		    (size_t)json_object_get_string_len(pk))) {
			warn_opt(b, SCOPE_ORG, key, "entry %zu: \"%s\" is not "
			    "a valid Relay public key; dropped", i,
			    log_sanitize(clean, sizeof(clean),
			    json_object_get_string(pk)));
			continue;
		}
		if (arr_add(out, str_copy(pk)) != 0) {
			json_object_put(out);
			return -1;
		}
	}
	return obj_add(config, "trustedRelays", out);
}

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
		return copy(v);
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

	if ((c = copy(rule)) == NULL)
		return NULL;
	if (!json_object_object_get_ex(c, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    strcmp(json_object_get_string(type), "multiple") != 0)
		goto done;
	if (json_object_object_get_ex(c, "rules", &refs) && !falsy(refs)) {
		size_t n;

		if (!json_object_is_type(refs, json_type_array))
			goto done;
		n = json_object_array_length(refs);
		if ((fresh = new_array(n)) == NULL)
			goto out;
		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_array_get_idx(refs, i);

			if (v == NULL) {
				if (json_object_array_add(fresh, NULL) != 0)
					goto out;
			} else if (arr_add(fresh,
			    prefixed_ref(rules, v, prefix)) != 0)
				goto out;
		}
		/* Replacing keeps the key's place in the object. */
		if (obj_add_dup(c, "rules", fresh) != 0) {
			fresh = NULL;
			goto out;
		}
		fresh = NULL;
	} else if (json_object_object_get_ex(c, "rule", &ref) &&
	    is_custom_rule(rules, ref)) {
		if (obj_add_dup(c, "rule", prefixed_ref(rules, ref, prefix))
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
	if (obj_add_dup(obj, key, c) != 0)
		return NULL;
	return c;
}

/* rule_kept - is rules[name] a rule that pii_merge keeps (an object)? */
static bool
rule_kept(json_object *rules, const char *name)
{
	json_object *r = NULL;

	return json_object_object_get_ex(rules, name, &r) &&
	    json_object_is_type(r, json_type_object);
}

/* pii_merge - merge one partial config into merged, names prefixed. */
static int
pii_merge(const struct build *b, enum scope scope, json_object *merged,
    json_object *partial, const char *prefix)
{
	static const char key[] = "sentry:relay_pii_config";
	json_object *rules = NULL, *apps = NULL, *dst;
	char *name;

	if (json_object_object_get_ex(partial, "rules", &rules) &&
	    !json_object_is_type(rules, json_type_object)) {
		if (!falsy(rules))
			warn_opt(b, scope, key, "rules is %s, not an object; "
			    "ignored", type_name(rules));
		rules = NULL;
	}
	if (json_object_object_get_ex(partial, "applications", &apps) &&
	    !json_object_is_type(apps, json_type_object)) {
		if (!falsy(apps))
			warn_opt(b, scope, key, "applications is %s, not an "
			    "object; ignored", type_name(apps));
		apps = NULL;
	}
	if (rules != NULL) {
		json_object_object_foreach(rules, rname, rule) {
			/* Relay refuses the whole config over a bad rule. */
			if (!json_object_is_type(rule, json_type_object)) {
				warn_opt(b, scope, key, "rule is %s, not an "
				    "object; dropped", type_name(rule));
				continue;
			}
			if ((dst = child(merged, "rules", json_type_object))
			    == NULL || (name = prefixed(prefix, rname)) == NULL)
				return -1;
			if (obj_add_dup(dst, name,
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
			warn_opt(b, scope, key, "applications of a selector is "
			    "%s, not a list; ignored", type_name(list));
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
				warn_opt(b, scope, key, "application is %s, "
				    "not a string; dropped", type_name(v));
				continue;
			}
			if (is_custom_rule(rules, v) &&
			    !rule_kept(rules, json_object_get_string(v))) {
				warn_opt(b, scope, key, "application names a "
				    "dropped rule; dropped");
				continue;
			}
			if (arr_add(dst, prefixed_ref(rules, v, prefix)) != 0)
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

static int
add_pii_config(const struct build *b, json_object *config)
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
		json_object *v = opt_typed(b, order[i].scope, key,
		    json_type_string);
		int bad;

		if (v == NULL || json_object_get_string_len(v) == 0)
			continue;
		if ((bad = parse_text(v, &partial)) < 0)
			goto out;
		if (bad)	/* Sentry ignores it too (safe_execute) */
			warn_opt(b, order[i].scope, key, "not valid JSON; "
			    "ignored");
		if (partial != NULL && !json_object_is_type(partial,
		    json_type_object)) {
			if (!falsy(partial))
				warn_opt(b, order[i].scope, key, "holds %s, "
				    "not an object; ignored",
				    type_name(partial));
		} else if (partial != NULL && pii_merge(b, order[i].scope,
		    merged, partial, order[i].prefix) != 0)
			goto out;
		json_object_put(partial);
		partial = NULL;
	}
	rv = obj_add(config, "piiConfig", merged);
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
	if (append_strings(b, SCOPE_ORG, key, out,
	    opt_typed(b, SCOPE_ORG, key, json_type_array)) != 0 ||
	    append_strings(b, SCOPE_PROJECT, key, out,
	    opt_typed(b, SCOPE_PROJECT, key, json_type_array)) != 0) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

static int
add_datascrubbing(const struct build *b, json_object *config)
{
	json_object *s;

	if ((s = json_object_new_object()) == NULL)
		return -1;
	if (obj_add(s, "excludeFields",
	    concat_lists(b, "sentry:safe_fields")) != 0)
		goto fail;
	/* Both flags are left out, not false, when off. */
	if ((opt_bool(b, SCOPE_ORG, "sentry:require_scrub_data", false) ||
	    opt_bool(b, SCOPE_PROJECT, "sentry:scrub_data", true)) &&
	    obj_add(s, "scrubData", json_object_new_boolean(1)) != 0)
		goto fail;
	if ((opt_bool(b, SCOPE_ORG, "sentry:require_scrub_ip_address",
	    false) || opt_bool(b, SCOPE_PROJECT, "sentry:scrub_ip_address",
	    false)) &&
	    obj_add(s, "scrubIpAddresses", json_object_new_boolean(1)) != 0)
		goto fail;
	if (obj_add(s, "sensitiveFields",
	    concat_lists(b, "sentry:sensitive_fields")) != 0 ||
	    obj_add(s, "scrubDefaults", json_object_new_boolean(
	    opt_bool(b, SCOPE_ORG, "sentry:require_scrub_defaults", false) ||
	    opt_bool(b, SCOPE_PROJECT, "sentry:scrub_defaults", true))) != 0)
		goto fail;
	return obj_add(config, "datascrubbingSettings", s);
fail:
	json_object_put(s);
	return -1;
}

/* ------------------------------------------------------------------ */
/* trustedRelaySettings, features.                                     */

/*
 * Sentry sends this only with the org feature on, as the org option
 * (default "disabled").  Here an explicitly set option counts as the
 * feature being on.  Relay takes a string only: a bool fails the project.
 */
static int
add_trusted_relay_settings(const struct build *b, json_object *config)
{
	static const char key[] = "sentry:ingest-through-trusted-relays-only";
	json_object *v = opt(b, SCOPE_ORG, key), *s;
	const char *setting = NULL;

	if (v != NULL && json_object_is_type(v, json_type_boolean))
		setting = json_object_get_boolean(v) ? "enabled" : "disabled";
	else if (v != NULL && json_object_is_type(v, json_type_string) &&
	    (strcmp(json_object_get_string(v), "enabled") == 0 ||
	    strcmp(json_object_get_string(v), "disabled") == 0))
		setting = json_object_get_string(v);
	else if (v != NULL)
		warn_opt(b, SCOPE_ORG, key, "expected \"enabled\" or "
		    "\"disabled\"; using the default");
	if (setting == NULL && has_feature(b, PC_FEATURE_TRUSTED_RELAYS_ONLY))
		setting = "disabled";
	if (setting == NULL)
		return 0;
	if ((s = json_object_new_object()) == NULL)
		return -1;
	if (obj_add(s, "verifySignature",
	    json_object_new_string(setting)) != 0) {
		json_object_put(s);
		return -1;
	}
	return obj_add(config, "trustedRelaySettings", s);
}

/* features: the enabled exposable flags, in Sentry's order; none: absent. */
static int
add_features(const struct build *b, json_object *config)
{
	json_object *arr;

	if ((arr = json_object_new_array()) == NULL)
		return -1;
	for (size_t i = 0; i < pc_n_features; i++)
		if (pc_features[i].exposed && b->feature[i] &&
		    arr_add(arr, json_object_new_string(pc_features[i].name))
		    != 0) {
			json_object_put(arr);
			return -1;
		}
	if (json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return 0;
	}
	return obj_add(config, "features", arr);
}

/* ------------------------------------------------------------------ */
/* breakdownsV2, sessionMetrics, performanceScore.                     */

static json_object *
make_parsed(const void *text)
{
	return parse_const(text);
}

static int
add_breakdowns(const struct build *b, json_object *config)
{
	static json_object *breakdowns_default;
	json_object *v;

	v = opt_typed(b, SCOPE_PROJECT, "sentry:breakdowns", json_type_object);
	return obj_add(config, "breakdownsV2", v != NULL ? copy(v) :
	    shared_get(&breakdowns_default, make_parsed,
	    pc_breakdowns_default));
}

/*
 * Version 2 (abnormal mechanisms) depends on a sampled Sentry option that
 * defaults to off; version 1 is what a default install sends.
 */
static int
add_session_metrics(json_object *config)
{
	json_object *s;

	if ((s = json_object_new_object()) == NULL)
		return -1;
	if (obj_add(s, "version", json_object_new_int(1)) != 0) {
		json_object_put(s);
		return -1;
	}
	return obj_add(config, "sessionMetrics", s);
}

static json_object *
score_component(const struct pc_score_component *c)
{
	json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (obj_add(o, "measurement",
	    json_object_new_string(c->measurement)) != 0 ||
	    obj_add(o, "weight", number(c->weight)) != 0 ||
	    obj_add(o, "p10", number(c->p10)) != 0 ||
	    obj_add(o, "p50", number(c->p50)) != 0 ||
	    obj_add(o, "optional", json_object_new_boolean(c->optional)) != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *
score_profile(const struct pc_score_profile *p)
{
	json_object *o, *comps;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (obj_add(o, "name", json_object_new_string(p->name)) != 0 ||
	    (p->version != NULL &&
	    obj_add(o, "version", json_object_new_string(p->version)) != 0) ||
	    obj_add(o, "scoreComponents", comps = json_object_new_array())
	    != 0)
		goto fail;
	for (size_t i = 0; i < p->n_components; i++)
		if (arr_add(comps, score_component(&p->components[i])) != 0)
			goto fail;
	if (obj_add(o, "condition", parse_const(p->condition)) != 0)
		goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static json_object *
make_score_profile(const void *p)
{
	return score_profile(p);
}

/* Profile i, a shared constant.  A new reference, or NULL on OOM. */
static json_object *
score_profile_shared(size_t i)
{
	static json_object *built[64];

	if (i >= sizeof(built) / sizeof(built[0]))
		return score_profile(&pc_score_profiles[i]);
	return shared_get(&built[i], make_score_profile, &pc_score_profiles[i]);
}

static int
add_performance_score(const struct build *b, json_object *config)
{
	json_object *ps, *profiles;

	if ((ps = json_object_new_object()) == NULL)
		return -1;
	if (obj_add(ps, "profiles", profiles = json_object_new_array()) != 0)
		goto fail;
	for (size_t i = 0; i < pc_n_score_profiles; i++) {
		const struct pc_score_profile *p = &pc_score_profiles[i];

		if (p->feature != NULL && !has_feature(b, p->feature))
			continue;
		if (arr_add(profiles, score_profile_shared(i)) != 0)
			goto fail;
	}
	return obj_add(config, "performanceScore", ps);
fail:
	json_object_put(ps);
	return -1;
}

/* ------------------------------------------------------------------ */
/* filterSettings: get_filter_settings and the inbound filters.       */

enum filter_state {
	FILTER_OFF,
	FILTER_ON,
	FILTER_LIST	/* legacy browsers: a list of browser groups */
};

/*
 * filter_state - a static filter option, "0"/"1" as Sentry stores them.
 * Sentry enables on anything but "0"; for the legacy-browsers filter a
 * string other than "0"/"1" would be split into characters, so it falls
 * back to the default instead.  Booleans are read as what they say.
 */
static enum filter_state
filter_state(const struct build *b, const char *key, bool def, bool legacy,
    json_object **list)
{
	json_object *v = opt(b, SCOPE_PROJECT, key);
	const char *s;

	*list = NULL;
	if (v == NULL)
		return def ? FILTER_ON : FILTER_OFF;
	switch (json_object_get_type(v)) {
	case json_type_string:
		s = json_object_get_string(v);
		if (strcmp(s, "0") == 0)
			return FILTER_OFF;
		if (strcmp(s, "1") == 0 || !legacy)
			return FILTER_ON;
		break;
	case json_type_boolean:
		return json_object_get_boolean(v) ? FILTER_ON : FILTER_OFF;
	case json_type_array:
		if (legacy) {
			*list = v;
			return FILTER_LIST;
		}
		break;
	default:
		break;
	}
	warn_opt(b, SCOPE_PROJECT, key, "unexpected %s value; using the "
	    "default", type_name(v));
	return def ? FILTER_ON : FILTER_OFF;
}

/*
 * enabled_filter - {"isEnabled":true}; the legacy-browsers filter adds its
 * browser groups: the stored list, or ["default"] for a plain "1".
 */
static json_object *
enabled_filter(const struct build *b, const char *key, bool legacy,
    json_object *list)
{
	static const char *const by_default[] = { "default" };
	json_object *f, *opts;

	if ((f = json_object_new_object()) == NULL)
		return NULL;
	if (obj_add(f, "isEnabled", json_object_new_boolean(1)) != 0)
		goto fail;
	if (legacy && list != NULL) {
		if ((opts = json_object_new_array()) == NULL)
			goto fail;
		if (append_strings(b, SCOPE_PROJECT, key, opts, list) != 0) {
			json_object_put(opts);
			goto fail;
		}
		if (obj_add(f, "options", opts) != 0)
			goto fail;
	} else if (legacy) {
		if (obj_add(f, "options", string_array(by_default, 1)) != 0)
			goto fail;
	}
	return f;
fail:
	json_object_put(f);
	return NULL;
}

/* ignore_transactions - the health-check filter, patterns first as Sentry. */
static json_object *
ignore_transactions(void)
{
	json_object *f;

	if ((f = json_object_new_object()) == NULL)
		return NULL;
	if (obj_add(f, "patterns", string_array(pc_health_check_globs,
	    pc_n_health_check_globs)) != 0 ||
	    obj_add(f, "isEnabled", json_object_new_boolean(1)) != 0) {
		json_object_put(f);
		return NULL;
	}
	return f;
}

static json_object *
make_ignore_transactions(const void *unused)
{
	(void)unused;
	return ignore_transactions();
}

/* The static filters, in Sentry's order (get_all_filter_specs). */
static const struct {
	const char	*config_key;
	const char	*option;
	bool		 legacy;	/* takes a list of browser groups */
	bool		 health;	/* the health-check transactions */
	bool		 def;		/* default, epoch 6 and later */
	bool		 def_before_6;	/* web crawlers were on until then */
} static_filters[] = {
	{ "localhost", "filters:localhost", false, false, false, false },
	{ "browserExtensions", "filters:browser-extensions", false, false,
	    false, false },
	{ "legacyBrowsers", "filters:legacy-browsers", true, false, false,
	    false },
	{ "webCrawlers", "filters:web-crawlers", false, false, false, true },
	{ "ignoreTransactions", "filters:filtered-transaction", false, true,
	    true, true },
};

static int
add_static_filters(const struct build *b, json_object *fs)
{
	for (size_t i = 0; i < sizeof(static_filters) /
	    sizeof(static_filters[0]); i++) {
		const char *option = static_filters[i].option;
		bool legacy = static_filters[i].legacy;
		json_object *list, *f;

		if (filter_state(b, option, b->epoch < 6 ?
		    static_filters[i].def_before_6 : static_filters[i].def,
		    legacy, &list) == FILTER_OFF)
			continue;	/* newest Sentry sends enabled ones only */
		if (static_filters[i].health) {
			static json_object *health;

			f = shared_get(&health, make_ignore_transactions, NULL);
		} else
			f = enabled_filter(b, option, legacy, list);
		if (obj_add(fs, static_filters[i].config_key, f) != 0)
			return -1;
	}
	return 0;
}

/* add_pattern_filter - fs[config_key] = {field: key's strings}, if any. */
static int
add_pattern_filter(const struct build *b, json_object *fs,
    const char *config_key, const char *field, const char *key)
{
	json_object *list, *arr, *f;

	list = opt_typed(b, SCOPE_PROJECT, key, json_type_array);
	if (list == NULL || json_object_array_length(list) == 0)
		return 0;
	if ((arr = json_object_new_array()) == NULL)
		return -1;
	if (append_strings(b, SCOPE_PROJECT, key, arr, list) != 0) {
		json_object_put(arr);
		return -1;
	}
	if (json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return 0;
	}
	if ((f = json_object_new_object()) == NULL) {
		json_object_put(arr);
		return -1;
	}
	if (obj_add(f, field, arr) != 0) {
		json_object_put(f);
		return -1;
	}
	return obj_add(fs, config_key, f);
}

static int
add_csp_filter(const struct build *b, json_object *fs)
{
	static const char key[] = "sentry:csp_ignored_sources";
	json_object *arr, *f;

	if (opt_bool(b, SCOPE_PROJECT, "sentry:csp_ignored_sources_defaults",
	    true))
		arr = string_array(pc_csp_default_sources,
		    pc_n_csp_default_sources);
	else
		arr = json_object_new_array();
	if (arr == NULL)
		return -1;
	if (append_strings(b, SCOPE_PROJECT, key, arr,
	    opt_typed(b, SCOPE_PROJECT, key, json_type_array)) != 0)
		goto fail;
	if (json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return 0;
	}
	if ((f = json_object_new_object()) == NULL)
		goto fail;
	if (obj_add(f, "disallowedSources", arr) != 0) {
		json_object_put(f);
		return -1;
	}
	return obj_add(fs, "csp", f);
fail:
	json_object_put(arr);
	return -1;
}

/* glob - {"op":"glob","name":name,"value":values}; values is stolen. */
static json_object *
glob(const char *name, json_object *values)
{
	json_object *c;

	if (values == NULL || (c = json_object_new_object()) == NULL) {
		json_object_put(values);
		return NULL;
	}
	if (obj_add(c, "op", json_object_new_string("glob")) != 0 ||
	    obj_add(c, "name", json_object_new_string(name)) != 0) {
		json_object_put(values);
		json_object_put(c);
		return NULL;
	}
	if (obj_add(c, "value", values) != 0) {
		json_object_put(c);
		return NULL;
	}
	return c;
}

static json_object *
glob1(const char *name, const char *value)
{
	return glob(name, string_array(&value, 1));
}

/* op_inner - {"op":op,["name":name,]"inner":inner}; inner is stolen. */
static json_object *
op_inner(const char *op, const char *name, json_object *inner)
{
	json_object *c;

	if (inner == NULL || (c = json_object_new_object()) == NULL) {
		json_object_put(inner);
		return NULL;
	}
	if (obj_add(c, "op", json_object_new_string(op)) != 0 ||
	    (name != NULL &&
	    obj_add(c, "name", json_object_new_string(name)) != 0)) {
		json_object_put(inner);
		json_object_put(c);
		return NULL;
	}
	if (obj_add(c, "inner", inner) != 0) {
		json_object_put(c);
		return NULL;
	}
	return c;
}

/*
 * error_condition - _error_message_condition: any exception whose type
 * and/or value match one of the glob pairs.
 */
static json_object *
error_condition(const struct pc_error_pattern *p, size_t n)
{
	json_object *conds, *pair = NULL;

	if ((conds = json_object_new_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		json_object *c;

		if (p[i].ty != NULL && p[i].value != NULL) {
			if ((pair = json_object_new_array()) == NULL ||
			    arr_add(pair, glob1("ty", p[i].ty)) != 0 ||
			    arr_add(pair, glob1("value", p[i].value)) != 0)
				goto fail;
			c = op_inner("and", NULL, pair);
			pair = NULL;
		} else if (p[i].ty != NULL)
			c = glob1("ty", p[i].ty);
		else
			c = glob1("value", p[i].value);
		if (arr_add(conds, c) != 0)
			goto fail;
	}
	return op_inner("any", "event.exception.values",
	    op_inner("or", NULL, conds));
fail:
	json_object_put(pair);
	json_object_put(conds);
	return NULL;
}

/* generic_filter - {"id":id,"isEnabled":true,"condition":cond}. */
static json_object *
generic_filter(const char *id, json_object *cond)
{
	json_object *f;

	if (cond == NULL || (f = json_object_new_object()) == NULL) {
		json_object_put(cond);
		return NULL;
	}
	if (obj_add(f, "id", json_object_new_string(id)) != 0 ||
	    obj_add(f, "isEnabled", json_object_new_boolean(1)) != 0) {
		json_object_put(cond);
		json_object_put(f);
		return NULL;
	}
	if (obj_add(f, "condition", cond) != 0) {
		json_object_put(f);
		return NULL;
	}
	return f;
}

static json_object *
make_generic_filter(const void *arg)
{
	const struct pc_generic_filter *gf = arg;

	return generic_filter(gf->id,
	    error_condition(gf->patterns, gf->n_patterns));
}

/* The filter of pc_generic_filters[i], a shared constant, or NULL. */
static json_object *
generic_filter_shared(size_t i)
{
	static json_object *built[32];

	if (i >= sizeof(built) / sizeof(built[0]))
		return make_generic_filter(&pc_generic_filters[i]);
	return shared_get(&built[i], make_generic_filter,
	    &pc_generic_filters[i]);
}

/* generic_on - filters:<id> of a generic filter: "1" or true enables. */
static bool
generic_on(const struct build *b, const char *id)
{
	char key[64];
	json_object *v;

	snprintf(key, sizeof(key), "filters:%s", id);
	if ((v = opt(b, SCOPE_PROJECT, key)) == NULL)
		return true;	/* default "1" */
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	if (json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), "1") == 0;
	warn_opt(b, SCOPE_PROJECT, key, "unexpected %s value; using the "
	    "default", type_name(v));
	return true;
}

/* add_glob_option_filter - a generic filter globbing field with key's list. */
static int
add_glob_option_filter(const struct build *b, json_object *filters,
    const char *id, const char *field, const char *key)
{
	json_object *list, *arr;

	list = opt_typed(b, SCOPE_PROJECT, key, json_type_array);
	if (list == NULL || json_object_array_length(list) == 0)
		return 0;
	if ((arr = json_object_new_array()) == NULL)
		return -1;
	if (append_strings(b, SCOPE_PROJECT, key, arr, list) != 0) {
		json_object_put(arr);
		return -1;
	}
	if (json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return 0;
	}
	return arr_add(filters, generic_filter(id, glob(field, arr)));
}

static int
add_generic_filters(const struct build *b, json_object *fs)
{
	json_object *g, *filters;

	if ((g = json_object_new_object()) == NULL)
		return -1;
	if (obj_add(g, "version", json_object_new_int(1)) != 0 ||
	    obj_add(g, "filters", filters = json_object_new_array()) != 0)
		goto fail;
	/* Log and metric name filters come first, as in Sentry. */
	if (has_feature(b, PC_FEATURE_OURLOGS) &&
	    add_glob_option_filter(b, filters, "log-message", "log.body",
	    "sentry:log_messages") != 0)
		goto fail;
	if (has_feature(b, PC_FEATURE_TRACEMETRICS) &&
	    add_glob_option_filter(b, filters, "trace-metric-name",
	    "trace_metric.name", "sentry:trace_metric_names") != 0)
		goto fail;
	for (size_t i = 0; i < pc_n_generic_filters; i++) {
		const struct pc_generic_filter *gf = &pc_generic_filters[i];

		if (generic_on(b, gf->id) &&
		    arr_add(filters, generic_filter_shared(i)) != 0)
			goto fail;
	}
	if (json_object_array_length(filters) == 0) {
		json_object_put(g);
		return 0;
	}
	return obj_add(fs, "generic", g);
fail:
	json_object_put(g);
	return -1;
}

/*
 * releases and errorMessages sit behind projects:custom-inbound-filters in
 * Sentry, a flag self-hosted installs enable; here the options alone count.
 */
static int
add_filter_settings(const struct build *b, json_object *config)
{
	json_object *fs;

	if ((fs = json_object_new_object()) == NULL)
		return -1;
	if (add_static_filters(b, fs) != 0 ||
	    add_pattern_filter(b, fs, "releases", "releases",
	    "sentry:releases") != 0 ||
	    add_pattern_filter(b, fs, "errorMessages", "patterns",
	    "sentry:error_messages") != 0 ||
	    add_pattern_filter(b, fs, "clientIps", "blacklistedIps",
	    "sentry:blacklisted_ips") != 0 ||
	    add_csp_filter(b, fs) != 0 ||
	    add_generic_filters(b, fs) != 0) {
		json_object_put(fs);
		return -1;
	}
	if (json_object_object_length(fs) == 0) {
		json_object_put(fs);
		return 0;
	}
	return obj_add(config, "filterSettings", fs);
}

/* ------------------------------------------------------------------ */
/* groupingConfig, eventRetention.                                     */

/*
 * Only the default grouping config is known, with its precompiled
 * enhancements.  Custom stack trace rules would have to be compiled into
 * the enhancements string with Sentry's rule parser, which relaycfg does
 * not have: they are reported and the default goes out.
 */
static int
add_grouping_config(const struct build *b, json_object *config)
{
	static const char idkey[] = "sentry:grouping_config";
	static const char *const rule_keys[] = {
		"sentry:grouping_enhancements",
		"sentry:derived_grouping_enhancements",
	};
	json_object *v, *g;

	v = opt_typed(b, SCOPE_PROJECT, idkey, json_type_string);
	if (v != NULL && strcmp(json_object_get_string(v),
	    pc_grouping_default_id) != 0)
		warn_opt(b, SCOPE_PROJECT, idkey, "grouping config unknown to "
		    "relaycfg; sending %s", pc_grouping_default_id);
	for (size_t i = 0; i < 2; i++) {
		v = opt(b, SCOPE_PROJECT, rule_keys[i]);
		if (v != NULL && !falsy(v))
			warn_opt(b, SCOPE_PROJECT, rule_keys[i], "custom stack "
			    "trace rules are not compiled by relaycfg; "
			    "sending the default enhancements");
	}
	if ((g = json_object_new_object()) == NULL)
		return -1;
	if (obj_add(g, "id", json_object_new_string(pc_grouping_default_id))
	    != 0 || obj_add(g, "enhancements",
	    json_object_new_string(pc_grouping_default_enhancements)) != 0) {
		json_object_put(g);
		return -1;
	}
	return obj_add(config, "groupingConfig", g);
}

static int
add_event_retention(const struct build *b, json_object *config)
{
	if (b->conf->event_retention == 0)
		return 0;	/* Sentry: "0 means no limit", key absent */
	return obj_add(config, "eventRetention",
	    json_object_new_int64(b->conf->event_retention));
}

/* ------------------------------------------------------------------ */
/* quotas: QuotaConfig.to_json of src/sentry/quotas/base.py.           */

/* A quota as Relay reads it; NULL/absent members are left out. */
struct quota {
	const char	*id;
	const char	*scope;
	char		 scope_id[24];
	json_object	*categories;	/* borrowed array of strings or NULL */
	const char	*const *fixed_categories;	/* or these */
	size_t		 n_fixed;
	bool		 has_limit;
	int64_t		 limit;
	bool		 has_window;
	int64_t		 window;
	const char	*namespace;
	const char	*reason_code;
};

static json_object *
quota_json(const struct quota *q)
{
	json_object *o;
	bool has_categories = q->n_fixed > 0 || (q->categories != NULL &&
	    json_object_array_length(q->categories) > 0);

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if ((q->id != NULL &&
	    obj_add(o, "id", json_object_new_string(q->id)) != 0) ||
	    obj_add(o, "scope", json_object_new_string(q->scope)) != 0 ||
	    obj_add(o, "scopeId", json_object_new_string(q->scope_id)) != 0)
		goto fail;
	/* An empty category list means "all data": left out, as Sentry. */
	if (has_categories && obj_add(o, "categories", q->n_fixed > 0 ?
	    string_array(q->fixed_categories, q->n_fixed) :
	    copy(q->categories)) != 0)
		goto fail;
	if ((q->has_limit &&
	    obj_add(o, "limit", json_object_new_int64(q->limit)) != 0) ||
	    (q->has_window &&
	    obj_add(o, "window", json_object_new_int64(q->window)) != 0) ||
	    (q->namespace != NULL && obj_add(o, "namespace",
	    json_object_new_string(q->namespace)) != 0) ||
	    (q->reason_code != NULL && obj_add(o, "reasonCode",
	    json_object_new_string(q->reason_code)) != 0))
		goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

/*
 * quota_string - member name of q into *out: NULL when absent or null.
 * Returns false when it is there but not a non-empty string.
 */
static bool
quota_string(json_object *q, const char *name, const char **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(q, name, &v) || v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return false;
	*out = json_object_get_string(v);
	return true;
}

/*
 * quota_int - member name of q into *out, *has telling whether it is set.
 * Returns false when it is there but not an integer >= min.
 */
static bool
quota_int(json_object *q, const char *name, int64_t min, bool *has,
    int64_t *out)
{
	json_object *v;

	*has = false;
	if (!json_object_object_get_ex(q, name, &v) || v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < min)
		return false;
	*has = true;
	*out = json_object_get_int64(v);
	return true;
}

/* category_ok - a data category name: lowercase letters and '_'. */
static bool
category_ok(json_object *v)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return false;
	for (s = json_object_get_string(v); *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
			return false;
	return true;
}

/*
 * option_quota - one relaycfg:quotas entry, checked against the rules of
 * QuotaConfig (a limited quota needs a reason code; a reject-all quota,
 * limit 0, has no id or window; any other needs both).  A bad entry is
 * dropped: Relay would drop it too, and a typo must not throttle data.
 * Returns 0 (added or dropped) or -1 on OOM.
 */
static int
add_option_quota(const struct build *b, enum scope scope, json_object *arr,
    json_object *e, size_t i)
{
	static const char key[] = "relaycfg:quotas";
	static const char *const known[] = {
		"id", "scope", "scopeId", "categories", "limit", "window",
		"namespace", "reasonCode",
	};
	struct quota q;
	const char *why = NULL;
	json_object *cats = NULL;

	memset(&q, 0, sizeof(q));
	if (!json_object_is_type(e, json_type_object)) {
		warn_opt(b, scope, key, "entry %zu is %s, not an object; "
		    "dropped", i, type_name(e));
		return 0;
	}
	json_object_object_foreach(e, field, fv) {
		size_t k;

		(void)fv;
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcmp(field, known[k]) == 0)
				break;
		if (k == sizeof(known) / sizeof(known[0]))
			warn_opt(b, scope, key, "entry %zu: unknown field "
			    "ignored", i);
	}
	if (!quota_string(e, "id", &q.id))
		why = "id is not a string";
	else if (!quota_string(e, "scope", &q.scope))
		why = "scope is not a string";
	else if (!quota_int(e, "limit", 0, &q.has_limit, &q.limit))
		why = "limit is not an integer >= 0";
	else if (!quota_int(e, "window", 1, &q.has_window, &q.window))
		why = "window is not an integer >= 1";
	else if (!quota_string(e, "reasonCode", &q.reason_code))
		why = "reasonCode is not a string";
	else if (!quota_string(e, "namespace", &q.namespace))
		why = "namespace is not a string";
	if (why == NULL && json_object_object_get_ex(e, "categories", &cats) &&
	    cats != NULL) {
		if (!json_object_is_type(cats, json_type_array))
			why = "categories is not a list";
		for (size_t c = 0; why == NULL &&
		    c < json_object_array_length(cats); c++)
			if (!category_ok(json_object_array_get_idx(cats, c)))
				why = "categories holds a bad name";
		q.categories = cats;
	}
	if (why == NULL) {
		if (q.scope == NULL)
			q.scope = scope == SCOPE_ORG ? "organization" :
			    "project";
		if (strcmp(q.scope, "organization") == 0)
			snprintf(q.scope_id, sizeof(q.scope_id), "%lld",
			    (long long)b->org->id);
		else if (strcmp(q.scope, "project") == 0)
			snprintf(q.scope_id, sizeof(q.scope_id), "%lld",
			    (long long)b->project->id);
		else
			why = "scope is neither organization nor project";
	}
	if (why == NULL && q.has_limit && q.reason_code == NULL)
		why = "a limit needs a reasonCode";
	if (why == NULL && q.has_limit && q.limit == 0 &&
	    (q.id != NULL || q.has_window))
		why = "a limit of 0 takes no id and no window";
	if (why == NULL && !(q.has_limit && q.limit == 0) &&
	    (q.id == NULL || !q.has_window))
		why = "a counted quota needs an id and a window";
	if (why != NULL) {
		warn_opt(b, scope, key, "entry %zu: %s; dropped", i, why);
		return 0;
	}
	return arr_add(arr, quota_json(&q));
}

/* RedisQuota's key quota: error events only (DataCategory.error_categories). */
static int
add_key_quota(json_object *arr, const struct model_projectkey *k)
{
	static const char *const categories[] = {
		"default", "error", "security",
	};
	struct quota q;

	/* Sentry counts 0 as "no limit" for both columns. */
	if (!k->has_rate_limit || k->rate_limit_count <= 0 ||
	    k->rate_limit_window <= 0)
		return 0;
	memset(&q, 0, sizeof(q));
	q.id = "k";
	q.scope = "key";
	snprintf(q.scope_id, sizeof(q.scope_id), "%lld", (long long)k->id);
	q.fixed_categories = categories;
	q.n_fixed = sizeof(categories) / sizeof(categories[0]);
	q.has_limit = true;
	q.limit = k->rate_limit_count;
	q.has_window = true;
	q.window = k->rate_limit_window;
	q.reason_code = "key_quota";
	return arr_add(arr, quota_json(&q));
}

static int
add_quotas(const struct build *b, const struct model_projectkey *const *keys,
    size_t n_keys, json_object *config)
{
	static const enum scope scopes[] = { SCOPE_ORG, SCOPE_PROJECT };
	json_object *arr;

	if ((arr = json_object_new_array()) == NULL)
		return -1;
	for (size_t s = 0; s < 2; s++) {
		json_object *list = opt_typed(b, scopes[s], "relaycfg:quotas",
		    json_type_array);
		size_t n = list == NULL ? 0 : json_object_array_length(list);

		for (size_t i = 0; i < n; i++)
			if (add_option_quota(b, scopes[s], arr,
			    json_object_array_get_idx(list, i), i) != 0)
				goto fail;
	}
	for (size_t i = 0; i < n_keys; i++)
		if (add_key_quota(arr, keys[i]) != 0)
			goto fail;
	if (json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return 0;
	}
	return obj_add(config, "quotas", arr);
fail:
	json_object_put(arr);
	return -1;
}

/* ------------------------------------------------------------------ */
/* The project state.                                                  */

static json_object *
disabled_state(void)
{
	json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (obj_add(o, "disabled", json_object_new_boolean(1)) != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *
projectconfig_content(const struct model_project *project,
    const struct model_org *org, const struct model_projectkey *const *keys,
    size_t n_keys, json_object *project_options, json_object *org_options,
    const struct conf *conf)
{
	struct build b;
	json_object *root = NULL, *config = NULL, *rv = NULL;

	if (project->status != MODEL_STATUS_ACTIVE)
		return disabled_state();

	memset(&b, 0, sizeof(b));
	b.project = project;
	b.org = org;
	b.options[SCOPE_PROJECT] = project_options;
	b.options[SCOPE_ORG] = org_options;
	b.conf = conf;
	b.epoch = load_epoch(&b);
	load_features(&b);

	if ((root = json_object_new_object()) == NULL ||
	    (config = json_object_new_object()) == NULL)
		goto out;
	if (obj_add(root, "disabled", json_object_new_boolean(0)) != 0 ||
	    (project->slug != NULL && obj_add(root, "slug",
	    json_object_new_string(project->slug)) != 0) ||
	    obj_add(root, "publicKeys", public_keys(keys, n_keys)) != 0)
		goto out;

	/* config keys in the order _get_project_config adds them */
	if (add_allowed_domains(&b, config) != 0 ||
	    add_trusted_relays(&b, config) != 0 ||
	    add_pii_config(&b, config) != 0 ||
	    add_datascrubbing(&b, config) != 0 ||
	    add_trusted_relay_settings(&b, config) != 0 ||
	    add_features(&b, config) != 0 ||
	    add_breakdowns(&b, config) != 0 ||
	    add_session_metrics(config) != 0 ||
	    add_performance_score(&b, config) != 0 ||
	    add_filter_settings(&b, config) != 0 ||
	    add_grouping_config(&b, config) != 0 ||
	    add_event_retention(&b, config) != 0 ||
	    add_quotas(&b, keys, n_keys, config) != 0)
		goto out;

	if (obj_add(root, "config", config) != 0) {
		config = NULL;
		goto out;
	}
	config = NULL;
	if (obj_add(root, "organizationId",
	    json_object_new_int64(project->organization_id)) != 0 ||
	    obj_add(root, "projectId", json_object_new_int64(project->id)) != 0)
		goto out;
	rv = root;
	root = NULL;
out:
	json_object_put(config);
	json_object_put(root);
	return rv;
}

/* ------------------------------------------------------------------ */
/* Revision.                                                           */

static int
cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Feed one tag byte and a 64-bit length, little-endian, to the hash. */
static void
hash_tag(crypto_generichash_state *h, char tag, uint64_t n)
{
	unsigned char buf[9];

	buf[0] = (unsigned char)tag;
	for (int i = 0; i < 8; i++)
		buf[1 + i] = (unsigned char)(n >> (8 * i));
	crypto_generichash_update(h, buf, sizeof(buf));
}

/*
 * hash_value - feed v to h: a scalar inline (strings length-prefixed, so
 * no escaping is needed and no two values encode alike; numbers by
 * value), an object or array as its own digest (hash_node).  Returns 0,
 * or -1 on OOM.
 */
static int
hash_value(crypto_generichash_state *h, json_object *v)
{
	unsigned char d[REV_DIGEST_BYTES];
	uint64_t bits;
	int64_t i64;
	double dbl;
	size_t len;

	switch (json_object_get_type(v)) {
	case json_type_null:
		hash_tag(h, 'n', 0);
		return 0;
	case json_type_boolean:
		hash_tag(h, 'b', json_object_get_boolean(v) ? 1 : 0);
		return 0;
	case json_type_string:
		len = (size_t)json_object_get_string_len(v);
		hash_tag(h, 's', len);
		crypto_generichash_update(h,
		    (const unsigned char *)json_object_get_string(v), len);
		return 0;
	case json_type_int:
		/* json-c keeps integers above INT64_MAX as uint64. */
		if ((i64 = json_object_get_int64(v)) == INT64_MAX)
			hash_tag(h, 'u', json_object_get_uint64(v));
		else
			hash_tag(h, 'i', (uint64_t)i64);
		return 0;
	case json_type_double:
		/* By value: "1e2" and "100.0" are the same number to Relay. */
		dbl = json_object_get_double(v);
		memcpy(&bits, &dbl, sizeof(bits));
		hash_tag(h, 'f', bits);
		return 0;
	case json_type_array:
	case json_type_object:
		break;
	}
	if (hash_node(v, d) != 0)
		return -1;
	hash_tag(h, 'h', sizeof(d));
	crypto_generichash_update(h, d, sizeof(d));
	return 0;
}

/*
 * hash_node - the digest of an object or array: its tag and size, then
 * its members (object keys in byte order, each key length-prefixed), each
 * fed by hash_value.  Because every container enters its parent as a
 * digest, a shared constant's memoised digest (shared_keep) is exactly
 * what walking it would give: the rev depends on the value only, not on
 * how the tree was built.  Returns 0, or -1 on OOM.
 */
static int
hash_node(json_object *v, unsigned char out[REV_DIGEST_BYTES])
{
	const struct shared_memo *memo = json_object_get_userdata(v);
	const char *small[32], **names = small;
	crypto_generichash_state h;
	size_t n, i, len;
	int ret = -1;

	if (memo != NULL) {
		memcpy(out, memo->digest, REV_DIGEST_BYTES);
		return 0;
	}
	if (crypto_generichash_init(&h, NULL, 0, REV_DIGEST_BYTES) != 0)
		return -1;
	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		hash_tag(&h, 'a', n);
		for (i = 0; i < n; i++)
			if (hash_value(&h, json_object_array_get_idx(v, i)) != 0)
				return -1;
		return crypto_generichash_final(&h, out, REV_DIGEST_BYTES);
	}
	n = (size_t)json_object_object_length(v);
	if (n > sizeof(small) / sizeof(small[0]) &&
	    (names = calloc(n, sizeof(*names))) == NULL)
		return -1;
	i = 0;
	json_object_object_foreach(v, k, unused) {
		(void)unused;
		names[i++] = k;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_keys);
	hash_tag(&h, 'o', n);
	for (i = 0; i < n; i++) {
		json_object *child = NULL;

		len = strlen(names[i]);
		hash_tag(&h, 'k', len);
		crypto_generichash_update(&h, (const unsigned char *)names[i],
		    len);
		json_object_object_get_ex(v, names[i], &child);
		if (hash_value(&h, child) != 0)
			goto out;
	}
	ret = crypto_generichash_final(&h, out, REV_DIGEST_BYTES);
out:
	if (names != small)
		free(names);
	return ret;
}

int
projectconfig_rev(json_object *content, char out[PROJECTCONFIG_REV_LEN + 1])
{
	unsigned char digest[REV_DIGEST_BYTES];

	if (sodium_init() < 0 ||
	    !json_object_is_type(content, json_type_object) ||
	    hash_node(content, digest) != 0)
		return -1;
	sodium_bin2hex(out, PROJECTCONFIG_REV_LEN + 1, digest, sizeof(digest));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Rendering.                                                          */

static bool
is_disabled(json_object *content)
{
	json_object *d;

	return json_object_object_get_ex(content, "disabled", &d) &&
	    json_object_is_type(d, json_type_boolean) &&
	    json_object_get_boolean(d);
}

/* take - out[key] = content[key] (shared) when content has it. */
static int
take(json_object *out, json_object *content, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(content, key, &v))
		return 0;
	if (json_object_object_add_ex(out, key, json_object_get(v),
	    JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

char *
projectconfig_render(json_object *content, const char *rev,
    const char *last_fetch, const char *last_change, size_t *len)
{
	static const char disabled[] = "{\"disabled\":true}";
	static const char *const head[] = { "disabled", "slug" };
	static const char *const tail[] = {
		"publicKeys", "config", "organizationId", "projectId",
	};
	json_object *out = NULL;
	const char *text;
	char *rv = NULL;
	size_t n;

	if (!json_object_is_type(content, json_type_object))
		return NULL;
	if (is_disabled(content)) {
		if ((rv = strdup(disabled)) != NULL && len != NULL)
			*len = sizeof(disabled) - 1;
		return rv;
	}
	if ((out = json_object_new_object()) == NULL)
		goto out;
	for (size_t i = 0; i < 2; i++)
		if (take(out, content, head[i]) != 0)
			goto out;
	if (obj_add(out, "lastFetch", json_object_new_string(last_fetch)) != 0 ||
	    obj_add(out, "lastChange",
	    json_object_new_string(last_change)) != 0 ||
	    obj_add(out, "rev", json_object_new_string(rev)) != 0)
		goto out;
	for (size_t i = 0; i < 4; i++)
		if (take(out, content, tail[i]) != 0)
			goto out;
	/*
	 * Anything else a newer content carries goes last, not lost.  out
	 * dies before content, so it borrows content's key strings.
	 */
	json_object_object_foreach(content, k, v) {
		if (!json_object_object_get_ex(out, k, NULL) &&
		    json_object_object_add_ex(out, k, json_object_get(v),
		    JSON_C_OBJECT_ADD_KEY_IS_NEW |
		    JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
			json_object_put(v);
			goto out;
		}
	}
	text = json_object_to_json_string_length(out,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (text == NULL || (rv = malloc(n + 1)) == NULL)
		goto out;
	memcpy(rv, text, n + 1);
	if (len != NULL)
		*len = n;
out:
	json_object_put(out);
	return rv;
}

/* ------------------------------------------------------------------ */
/* Time.                                                               */

int
projectconfig_format_time(int64_t sec, long usec,
    char buf[PROJECTCONFIG_TIME_LEN + 1])
{
	char tmp[64];
	struct tm tm;
	time_t t = (time_t)sec;

	if (usec < 0 || usec > 999999 || (int64_t)t != sec ||
	    gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, usec) != PROJECTCONFIG_TIME_LEN)
		return -1;
	memcpy(buf, tmp, PROJECTCONFIG_TIME_LEN + 1);
	return 0;
}
