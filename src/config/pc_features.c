/*
 * pc_features.c - feature flags and Sentry options of one build, and the
 * "features" key (the enabled exposable flags, in Sentry's order).
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

#include "conf.h"
#include "log.h"
#include "pc_build.h"
#include "pc_tables.h"
#include "projectconfig.h"

bool
pc_has_feature(const struct build *b, const char *name)
{
	int i = sentryfeature_index(name);

	return i >= 0 && b->feature[i];
}

json_object *
pc_sentry_option(const struct build *b, const char *name)
{
	return conf_sentry_option(b->conf, name);
}

bool
pc_sample_modulo(const struct build *b, const char *name, int64_t value)
{
	json_object *v = pc_sentry_option(b, name);
	int64_t rest = value % 100;

	if (v == NULL || !(json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double)))
		return false;
	/* Python's % takes the sign of the divisor */
	if (rest < 0)
		rest += 100;
	return (double)rest < 100.0 * json_object_get_double(v);
}

/*
 * load_scope - apply one scope's relaycfg:features to b->feature: "flag"
 * on, "-flag" off; anything else is reported and skipped.
 */
static void
load_scope(struct build *b, enum scope scope)
{
	static const char key[] = "relaycfg:features";
	json_object *list = pc_opt_typed(b, scope, key, json_type_array);
	size_t n = list == NULL ? 0 : json_object_array_length(list);

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(list, i);
		const char *name;
		char clean[96];
		bool on = true;
		int idx;

		if (!json_object_is_type(v, json_type_string)) {
			pc_warn_opt(b, scope, key, "entry %zu is %s, not a "
			    "string; ignored", i, pc_type_name(v));
			continue;
		}
		name = json_object_get_string(v);
		if (name[0] == '-') {
			on = false;
			name++;
		}
		if ((idx = sentryfeature_index(name)) < 0) {
			pc_warn_opt(b, scope, key, "unknown feature \"%s\" "
			    "ignored", log_sanitize(clean, sizeof(clean),
			    name));
			continue;
		}
		if (scope == SCOPE_PROJECT &&
		    strncmp(name, "organizations:", 14) == 0) {
			pc_warn_opt(b, scope, key, "organization feature "
			    "\"%s\" belongs in the organization option; "
			    "ignored", name);
			continue;
		}
		b->feature[idx] = on;
	}
}

void
pc_load_features(struct build *b)
{
	for (size_t i = 0; i < sentryfeatures_n; i++)
		b->feature[i] = b->conf->sentry.feature[i];
	load_scope(b, SCOPE_ORG);
	load_scope(b, SCOPE_PROJECT);
}

/* features: the enabled exposable flags, in Sentry's order; none: absent. */
int
pc_add_features(const struct build *b, json_object *config)
{
	json_object *arr;

	if ((arr = json_object_new_array()) == NULL)
		return -1;
	for (size_t i = 0; i < sentryfeatures_n; i++)
		if (sentryfeatures[i].exposable && b->feature[i] &&
		    pc_arr_add(arr, json_object_new_string(
		    sentryfeatures[i].name)) != 0) {
			json_object_put(arr);
			return -1;
		}
	if (json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return 0;
	}
	return pc_obj_add(config, "features", arr);
}
