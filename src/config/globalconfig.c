/*
 * globalconfig.c - get_global_config of src/sentry/relay/globalconfig.py.
 *
 * Sentry also sends aiModelCosts, aiOperationTypeMap and metricExtraction;
 * those come from Sentry's own task caches and transaction-metrics options,
 * not from constants, and Relay defaults every one of them when absent.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

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
 * options - the configured global options.  conf_load has validated each
 * value already; one that still does not parse is skipped, not fatal, so a
 * bad line never takes the global config (and with it all ingestion,
 * which Relay holds back until it has one) down.
 */
static int
add_options(json_object *gc, const struct conf *conf)
{
	json_object *opts, *v;
	char clean[80];

	if ((opts = json_object_new_object()) == NULL)
		return -1;
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
