/*
 * pc_options.c - reading project and organization options for a build: typed
 * look-ups with defaults, one warning per bad value, never the value
 * itself in a log line.
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
/* Options.                                                            */

static const char *const scope_names[] = { "project", "organization" };

/*
 * pc_warn_opt - one warning about option key of scope.  Only our own text and
 * json-c type names go into the message, never the option's value.
 */
void __attribute__((format(printf, 4, 5)))
pc_warn_opt(const struct build *b, enum scope scope, const char *key,
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

const char *
pc_type_name(json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

/* pc_opt - the value of key, or NULL when unset or JSON null. */
json_object *
pc_opt(const struct build *b, enum scope scope, const char *key)
{
	json_object *opts = b->options[scope], *v = NULL;

	if (opts == NULL || !json_object_is_type(opts, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(opts, key, &v))
		return NULL;
	return v;
}

/* pc_opt_typed - key when it has type t; NULL (logged if set) otherwise. */
json_object *
pc_opt_typed(const struct build *b, enum scope scope, const char *key,
    json_type t)
{
	json_object *v = pc_opt(b, scope, key);

	if (v == NULL || json_object_is_type(v, t))
		return v;
	pc_warn_opt(b, scope, key, "expected %s, got %s; using the default",
	    json_type_to_name(t), pc_type_name(v));
	return NULL;
}

/*
 * pc_opt_bool - key as a truth value.  Booleans and numbers are read as Python
 * reads them (0 is false); anything else falls back to def.
 */
bool
pc_opt_bool(const struct build *b, enum scope scope, const char *key, bool def)
{
	json_object *v = pc_opt(b, scope, key);

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
		pc_warn_opt(b, scope, key, "expected a boolean, got %s; using "
		    "the default", pc_type_name(v));
		return def;
	}
}

/*
 * pc_append_strings - append the string entries of list (key's value) to dst.
 * Relay only takes strings in these lists, so anything else is dropped.
 */
int
pc_append_strings(const struct build *b, enum scope scope, const char *key,
    json_object *dst, json_object *list)
{
	size_t n = list == NULL ? 0 : json_object_array_length(list);

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(list, i);

		if (!json_object_is_type(v, json_type_string)) {
			pc_warn_opt(b, scope, key, "entry %zu is %s, not a "
			    "string; dropped", i, pc_type_name(v));
			continue;
		}
		if (pc_arr_add(dst, pc_str_copy(v)) != 0)
			return -1;
	}
	return 0;
}
/* pc_falsy - would Python's "if r" skip r? */
bool
pc_falsy(json_object *v)
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
