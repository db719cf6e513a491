/*
 * pc_features.c - feature flags: relaycfg:features of both scopes, and the
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

#include "log.h"
#include "pc_build.h"
#include "pc_tables.h"
#include "projectconfig.h"

/* feature_index - the index of name in pc_features, or -1. */
static int
feature_index(const char *name)
{
	for (size_t i = 0; i < pc_n_features; i++)
		if (strcmp(pc_features[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool
pc_has_feature(const struct build *b, const char *name)
{
	int i = feature_index(name);

	return i >= 0 && b->feature[i];
}

/*
 * pc_load_features - relaycfg:features of both scopes.  An organization flag
 * set on a project would mean something Sentry cannot express, so only the
 * org option may carry "organizations:" names.
 */
void
pc_load_features(struct build *b)
{
	static const char key[] = "relaycfg:features";
	static const enum scope scopes[] = { SCOPE_ORG, SCOPE_PROJECT };

	for (size_t s = 0; s < 2; s++) {
		enum scope scope = scopes[s];
		json_object *list = pc_opt_typed(b, scope, key,
		    json_type_array);
		size_t n = list == NULL ? 0 : json_object_array_length(list);

		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_array_get_idx(list, i);
			const char *name;
			char clean[96];
			int idx;

			if (!json_object_is_type(v, json_type_string)) {
				pc_warn_opt(b, scope, key,
				    "entry %zu is %s, not "
				    "a string; ignored", i, pc_type_name(v));
				continue;
			}
			name = json_object_get_string(v);
			if ((idx = feature_index(name)) < 0) {
				pc_warn_opt(b, scope, key, "unknown feature "
				    "\"%s\" ignored", log_sanitize(clean,
				    sizeof(clean), name));
				continue;
			}
			if (scope == SCOPE_PROJECT &&
			    strncmp(name, "organizations:", 14) == 0) {
				pc_warn_opt(b, scope, key,
				    "organization feature "
				    "\"%s\" belongs in the organization "
				    "option; ignored", name);
				continue;
			}
			b->feature[idx] = true;
		}
	}
}

/* features: the enabled exposable flags, in Sentry's order; none: absent. */
int
pc_add_features(const struct build *b, json_object *config)
{
	json_object *arr;

	if ((arr = json_object_new_array()) == NULL)
		return -1;
	for (size_t i = 0; i < pc_n_features; i++)
		if (pc_features[i].exposed && b->feature[i] &&
		    pc_arr_add(arr, json_object_new_string(pc_features[i].name))
		    != 0) {
			json_object_put(arr);
			return -1;
		}
	if (json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return 0;
	}
	return pc_obj_add(config, "features", arr);
}
