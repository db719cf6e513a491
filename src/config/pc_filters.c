/*
 * pc_filters.c - filterSettings: get_filter_settings of
 * src/sentry/relay/config/__init__.py and the inbound filters of
 * src/sentry/ingest/inbound_filters.py.
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
/* filterSettings: get_filter_settings and the inbound filters.       */

/*
 * object_of - {k1: v1, k2: v2, ...} from pairs ending with a NULL key, in
 * their order (Relay's and Sentry's).  Keys are literals.  Every value is
 * stolen: NULL when one is NULL (an allocation that failed) or on OOM,
 * with everything released.
 */
static json_object * __attribute__((sentinel))
object_of(const char *key, ...)
{
	json_object *o = json_object_new_object();
	bool ok = o != NULL;
	va_list ap;

	va_start(ap, key);
	for (; key != NULL; key = va_arg(ap, const char *)) {
		json_object *v = va_arg(ap, json_object *);

		if (!ok)
			json_object_put(v);
		else if (pc_obj_add(o, key, v) != 0)
			ok = false;	/* pc_obj_add released v */
	}
	va_end(ap);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

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
	json_object *v = pc_opt(b, SCOPE_PROJECT, key);
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
	pc_warn_opt(b, SCOPE_PROJECT, key, "unexpected %s value; using the "
	    "default", pc_type_name(v));
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
	if (pc_obj_add(f, "isEnabled", json_object_new_boolean(1)) != 0)
		goto fail;
	if (legacy && list != NULL) {
		if ((opts = json_object_new_array()) == NULL)
			goto fail;
		if (pc_append_strings(b, SCOPE_PROJECT, key, opts, list) != 0) {
			json_object_put(opts);
			goto fail;
		}
		if (pc_obj_add(f, "options", opts) != 0)
			goto fail;
	} else if (legacy) {
		if (pc_obj_add(f, "options", pc_string_array(by_default,
		    1)) != 0)
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
	return object_of("patterns", pc_string_array(pc_health_check_globs,
	    pc_n_health_check_globs), "isEnabled", json_object_new_boolean(1),
	    NULL);
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

			f = pc_shared_get(&health, make_ignore_transactions,
			    NULL);
		} else
			f = enabled_filter(b, option, legacy, list);
		if (pc_obj_add(fs, static_filters[i].config_key, f) != 0)
			return -1;
	}
	return 0;
}

/*
 * option_strings - the string entries of project option key (a list)
 * appended to *arr, or to a new array when *arr is NULL (none is made for
 * a missing or empty list).  1 when *arr holds any; 0 when it ends up
 * empty (released, *arr NULL: Sentry leaves such a filter out); -1 on OOM
 * (*arr released).
 */
static int
option_strings(const struct build *b, const char *key, json_object **arr)
{
	json_object *list = pc_opt_typed(b, SCOPE_PROJECT, key,
	    json_type_array);

	if (*arr == NULL) {
		if (list == NULL || json_object_array_length(list) == 0)
			return 0;
		if ((*arr = json_object_new_array()) == NULL)
			return -1;
	}
	if (pc_append_strings(b, SCOPE_PROJECT, key, *arr, list) != 0) {
		json_object_put(*arr);
		*arr = NULL;
		return -1;
	}
	if (json_object_array_length(*arr) == 0) {
		json_object_put(*arr);
		*arr = NULL;
		return 0;
	}
	return 1;
}

/* add_pattern_filter - fs[config_key] = {field: key's strings}, if any. */
static int
add_pattern_filter(const struct build *b, json_object *fs,
    const char *config_key, const char *field, const char *key)
{
	json_object *arr = NULL;
	int rc;

	if ((rc = option_strings(b, key, &arr)) <= 0)
		return rc;
	return pc_obj_add(fs, config_key, object_of(field, arr, NULL));
}

static int
add_csp_filter(const struct build *b, json_object *fs)
{
	json_object *arr;
	int rc;

	if (pc_opt_bool(b, SCOPE_PROJECT, "sentry:csp_ignored_sources_defaults",
	    true))
		arr = pc_string_array(pc_csp_default_sources,
		    pc_n_csp_default_sources);
	else
		arr = json_object_new_array();
	if (arr == NULL)
		return -1;
	if ((rc = option_strings(b, "sentry:csp_ignored_sources", &arr)) <= 0)
		return rc;
	return pc_obj_add(fs, "csp", object_of("disallowedSources", arr, NULL));
}

/* glob - {"op":"glob","name":name,"value":values}; values is stolen. */
static json_object *
glob(const char *name, json_object *values)
{
	return object_of("op", json_object_new_string("glob"),
	    "name", json_object_new_string(name), "value", values, NULL);
}

static json_object *
glob1(const char *name, const char *value)
{
	return glob(name, pc_string_array(&value, 1));
}

/* op_inner - {"op":op,["name":name,]"inner":inner}; inner is stolen. */
static json_object *
op_inner(const char *op, const char *name, json_object *inner)
{
	if (name == NULL)
		return object_of("op", json_object_new_string(op),
		    "inner", inner, NULL);
	return object_of("op", json_object_new_string(op),
	    "name", json_object_new_string(name), "inner", inner, NULL);
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
			    pc_arr_add(pair, glob1("ty", p[i].ty)) != 0 ||
			    pc_arr_add(pair, glob1("value", p[i].value)) != 0)
				goto fail;
			c = op_inner("and", NULL, pair);
			pair = NULL;
		} else if (p[i].ty != NULL)
			c = glob1("ty", p[i].ty);
		else
			c = glob1("value", p[i].value);
		if (pc_arr_add(conds, c) != 0)
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
	return object_of("id", json_object_new_string(id),
	    "isEnabled", json_object_new_boolean(1), "condition", cond, NULL);
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
	return pc_shared_get(&built[i], make_generic_filter,
	    &pc_generic_filters[i]);
}

/* generic_on - filters:<id> of a generic filter: "1" or true enables. */
static bool
generic_on(const struct build *b, const char *id)
{
	char key[64];
	json_object *v;

	snprintf(key, sizeof(key), "filters:%s", id);
	if ((v = pc_opt(b, SCOPE_PROJECT, key)) == NULL)
		return true;	/* default "1" */
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	if (json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), "1") == 0;
	pc_warn_opt(b, SCOPE_PROJECT, key, "unexpected %s value; using the "
	    "default", pc_type_name(v));
	return true;
}

/* add_glob_option_filter - a generic filter globbing field with key's list. */
static int
add_glob_option_filter(const struct build *b, json_object *filters,
    const char *id, const char *field, const char *key)
{
	json_object *arr = NULL;
	int rc;

	if ((rc = option_strings(b, key, &arr)) <= 0)
		return rc;
	return pc_arr_add(filters, generic_filter(id, glob(field, arr)));
}

static int
add_generic_filters(const struct build *b, json_object *fs)
{
	json_object *g, *filters;

	if ((g = json_object_new_object()) == NULL)
		return -1;
	if (pc_obj_add(g, "version", json_object_new_int(1)) != 0 ||
	    pc_obj_add(g, "filters", filters = json_object_new_array()) != 0)
		goto fail;
	/*
	 * Log and metric name filters come first, as in Sentry, which builds
	 * them inside get_filter_settings' projects:custom-inbound-filters
	 * branch: each needs that flag as well as its own.
	 */
	if (pc_has_feature(b, SF_CUSTOM_INBOUND_FILTERS) &&
	    pc_has_feature(b, SF_OURLOGS) &&
	    add_glob_option_filter(b, filters, "log-message", "log.body",
	    "sentry:log_messages") != 0)
		goto fail;
	if (pc_has_feature(b, SF_CUSTOM_INBOUND_FILTERS) &&
	    pc_has_feature(b, SF_TRACEMETRICS) &&
	    add_glob_option_filter(b, filters, "trace-metric-name",
	    "trace_metric.name", "sentry:trace_metric_names") != 0)
		goto fail;
	for (size_t i = 0; i < pc_n_generic_filters; i++) {
		const struct pc_generic_filter *gf = &pc_generic_filters[i];

		if (generic_on(b, gf->id) &&
		    pc_arr_add(filters, generic_filter_shared(i)) != 0)
			goto fail;
	}
	if (json_object_array_length(filters) == 0) {
		json_object_put(g);
		return 0;
	}
	return pc_obj_add(fs, "generic", g);
fail:
	json_object_put(g);
	return -1;
}

/*
 * releases and errorMessages sit behind projects:custom-inbound-filters in
 * Sentry, a flag self-hosted installs enable; here the options alone count.
 */
int
pc_add_filter_settings(const struct build *b, json_object *config)
{
	json_object *fs;

	if ((fs = json_object_new_object()) == NULL)
		return -1;
	/* releases and errorMessages: projects:custom-inbound-filters only */
	if (add_static_filters(b, fs) != 0 ||
	    (pc_has_feature(b, SF_CUSTOM_INBOUND_FILTERS) &&
	    (add_pattern_filter(b, fs, "releases", "releases",
	    "sentry:releases") != 0 ||
	    add_pattern_filter(b, fs, "errorMessages", "patterns",
	    "sentry:error_messages") != 0)) ||
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
	return pc_obj_add(config, "filterSettings", fs);
}
