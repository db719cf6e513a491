/*
 * globalconfig.c - get_global_config of src/sentry/relay/globalconfig.py.
 *
 * Keys in Sentry's order (@0260dc5d83362c): measurements, aiModelCosts
 * (2026: aiModelMetadata), metricExtraction, spanOpDefaults, filters,
 * options.  The AI model metadata comes from a cache that a periodic task
 * fills from the network (ai_model_metadata_config()); on an offline
 * install it is None, and Sentry still sets the key, so the answer
 * carries "aiModelMetadata": null, as relaycfg's does.  filters goes out
 * only when there are global generic filters: none.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "gc_outliers.h"
#include "globalconfig.h"
#include "log.h"
#include "pc_build.h"
#include "pc_tables.h"

static json_object *
measurements(void)
{
	json_object *m, *list, *e;

	if ((m = json_object_new_object()) == NULL)
		return NULL;
	list = json_object_new_array_ext((int)pc_n_builtin_measurements);
	if (pc_obj_add(m, "builtinMeasurements", list) != 0)
		goto fail;
	for (size_t i = 0; i < pc_n_builtin_measurements; i++) {
		if ((e = json_object_new_object()) == NULL)
			goto fail;
		if (pc_obj_add(e, "name", json_object_new_string(
		    pc_builtin_measurements[i].name)) != 0 ||
		    pc_obj_add(e, "unit", json_object_new_string(
		    pc_builtin_measurements[i].unit)) != 0 ||
		    json_object_array_add(list, e) != 0) {
			json_object_put(e);
			goto fail;
		}
	}
	if (pc_obj_add(m, "maxCustomMeasurements",
	    json_object_new_int(PC_MAX_CUSTOM_MEASUREMENTS)) != 0)
		goto fail;
	return m;
fail:
	json_object_put(m);
	return NULL;
}

/*
 * options - Sentry's loop over RELAY_OPTIONS: every forwarded option of
 * the sentryopts table whose value is not None (so false, 0.0, [] and {}
 * do go out), in the table's order, each the self-hosted default unless
 * relaycfg.conf sets it; then the global_option lines for keys relaycfg
 * has no row for, in file order.  conf_load has validated each value
 * already; one that still does not parse is skipped, not fatal, so a bad
 * line never takes the global config (and with it all ingestion, which
 * Relay holds back until it has one) down.
 */
static int
add_options(json_object *gc, const struct conf *conf)
{
	json_object *opts, *v;
	char clean[80];

	if ((opts = json_object_new_object()) == NULL)
		return -1;
	for (size_t i = 0; i < sentryopts_n; i++) {
		if (!sentryopts[i].forwarded ||
		    (v = conf_sentry_option(conf, sentryopts[i].name)) == NULL)
			continue;
		/* a new reference: conf keeps its own */
		if (json_object_object_add_ex(opts, sentryopts[i].name,
		    json_object_get(v), JSON_C_OBJECT_ADD_KEY_IS_NEW |
		    JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
			json_object_put(v);
			json_object_put(opts);
			return -1;
		}
	}
	for (size_t i = 0; i < conf->n_global_options; i++) {
		const struct conf_global_option *o = &conf->global_options[i];

		if ((v = json_tokener_parse(o->json)) == NULL) {
			/* JSON null (Sentry skips None) or unparsable */
			if (strcmp(o->json, "null") != 0)
				log_warn("global_option %s: value is not JSON; "
				    "left out", log_sanitize(clean,
				    sizeof(clean), o->key));
			/* a later null still overrides an earlier value */
			json_object_object_del(opts, o->key);
			continue;
		}
		if (json_object_object_add(opts, o->key, v) != 0) {
			json_object_put(v);
			json_object_put(opts);
			return -1;
		}
	}
	if (json_object_object_length(opts) == 0) {
		json_object_put(opts);
		return 0;
	}
	return pc_obj_add(gc, "options", opts);
}

json_object *
globalconfig_build(const struct conf *conf)
{
	json_object *gc;

	if ((gc = json_object_new_object()) == NULL)
		return NULL;
	if (pc_obj_add(gc, "measurements", measurements()) != 0 ||
	    /* JSON null: json-c's NULL, added as is */
	    json_object_object_add_ex(gc, "aiModelMetadata", NULL,
	    JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT) != 0 ||
	    pc_obj_add(gc, "metricExtraction", gc_metric_extraction()) != 0 ||
	    pc_obj_add(gc, "spanOpDefaults",
	    json_tokener_parse(pc_span_op_defaults)) != 0 ||
	    add_options(gc, conf) != 0) {
		json_object_put(gc);
		return NULL;
	}
	return gc;
}

char *
globalconfig_render(const struct conf *conf, size_t *len)
{
	json_object *gc;
	const char *text;
	char *rv = NULL;
	size_t n;

	if ((gc = globalconfig_build(conf)) == NULL)
		return NULL;
	text = json_object_to_json_string_length(gc,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (text != NULL && (rv = malloc(n + 1)) != NULL) {
		memcpy(rv, text, n + 1);
		if (len != NULL)
			*len = n;
	}
	json_object_put(gc);
	return rv;
}
