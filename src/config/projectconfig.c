/*
 * projectconfig.c - the project state, key for key as Sentry builds it
 * (src/sentry/relay/config/__init__.py _get_project_config and the helpers
 * it calls), assembled here from one builder per family of sections
 * (pc_*.c, see pc_build.h) in Sentry's key order; also the rendering of
 * the final text.  Where Sentry would crash on a malformed option, or Relay
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

#include "log.h"
#include "pc_build.h"
#include "pc_tables.h"
#include "projectconfig.h"

/* load_epoch - sentry:option-epoch; a project without one is a new one. */
static int
load_epoch(const struct build *b)
{
	static const char key[] = "sentry:option-epoch";
	json_object *v = pc_opt_typed(b, SCOPE_PROJECT, key, json_type_int);
	int64_t e;

	if (v == NULL)
		return PC_LATEST_EPOCH;
	e = json_object_get_int64(v);
	if (e < 1 || e > INT_MAX) {
		pc_warn_opt(b, SCOPE_PROJECT, key, "out of range; using the "
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

	if ((arr = pc_new_array(n)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if ((k = json_object_new_object()) == NULL ||
		    pc_obj_add(k, "publicKey",
		    json_object_new_string(keys[i]->public_key)) != 0 ||
		    pc_obj_add(k, "numericId",
		    json_object_new_int64(keys[i]->id)) != 0 ||
		    pc_obj_add(k, "isEnabled", json_object_new_boolean(
		    keys[i]->status == MODEL_STATUS_ACTIVE)) != 0)
			goto out;
		if (pc_arr_add(arr, k) != 0) {
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
/* The project state.                                                  */

static json_object *
disabled_state(void)
{
	json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (pc_obj_add(o, "disabled", json_object_new_boolean(1)) != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *
projectconfig_content(const struct model_project *project,
    const struct model_org *org, const struct model_projectkey *const *keys,
    size_t n_keys, json_object *project_options, json_object *org_options,
    const struct model_txthresholds *thresholds, const struct conf *conf)
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
	b.thresholds = thresholds;
	b.conf = conf;
	b.epoch = load_epoch(&b);
	pc_load_features(&b);

	if ((root = json_object_new_object()) == NULL ||
	    (config = json_object_new_object()) == NULL)
		goto out;
	if (pc_obj_add(root, "disabled", json_object_new_boolean(0)) != 0 ||
	    (project->slug != NULL && pc_obj_add(root, "slug",
	    json_object_new_string(project->slug)) != 0) ||
	    pc_obj_add(root, "publicKeys", public_keys(keys, n_keys)) != 0)
		goto out;

	/* config keys in the order _get_project_config adds them */
	if (pc_add_allowed_domains(&b, config) != 0 ||
	    pc_add_trusted_relays(&b, config) != 0 ||
	    pc_add_pii_config(&b, config) != 0 ||
	    pc_add_datascrubbing(&b, config) != 0 ||
	    pc_add_trusted_relay_settings(&b, config) != 0 ||
	    pc_add_features(&b, config) != 0 ||
	    pc_add_sampling(&b, config) != 0 ||
	    pc_add_tx_names(&b, config) != 0 ||
	    pc_add_breakdowns(&b, config) != 0 ||
	    pc_add_metrics(&b, config) != 0 ||
	    pc_add_transaction_metrics(&b, config) != 0 ||
	    pc_add_session_metrics(&b, config) != 0 ||
	    pc_add_performance_score(&b, config) != 0 ||
	    pc_add_filter_settings(&b, config) != 0 ||
	    pc_add_grouping_config(&b, config) != 0 ||
	    pc_add_event_retention(&b, config) != 0 ||
	    pc_add_quotas(&b, keys, n_keys, config) != 0)
		goto out;

	if (pc_obj_add(root, "config", config) != 0) {
		config = NULL;
		goto out;
	}
	config = NULL;
	if (pc_obj_add(root, "organizationId",
	    json_object_new_int64(project->organization_id)) != 0 ||
	    pc_obj_add(root, "projectId", json_object_new_int64(
	        project->id)) != 0)
		goto out;
	rv = root;
	root = NULL;
out:
	json_object_put(config);
	json_object_put(root);
	return rv;
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
	if (pc_obj_add(out, "lastFetch", json_object_new_string(
	    last_fetch)) != 0 ||
	    pc_obj_add(out, "lastChange",
	    json_object_new_string(last_change)) != 0 ||
	    pc_obj_add(out, "rev", json_object_new_string(rev)) != 0)
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
