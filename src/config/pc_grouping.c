/*
 * pc_grouping.c - groupingConfig and eventRetention.
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
/* groupingConfig, eventRetention.                                     */

/*
 * Only the default grouping config is known, with its precompiled
 * enhancements.  Custom stack trace rules would have to be compiled into
 * the enhancements string with Sentry's rule parser, which relaycfg does
 * not have: they are reported and the default goes out.
 */
int
pc_add_grouping_config(const struct build *b, json_object *config)
{
	static const char idkey[] = "sentry:grouping_config";
	static const char *const rule_keys[] = {
		"sentry:grouping_enhancements",
		"sentry:derived_grouping_enhancements",
	};
	json_object *v, *g;

	v = pc_opt_typed(b, SCOPE_PROJECT, idkey, json_type_string);
	if (v != NULL && strcmp(json_object_get_string(v),
	    pc_grouping_default_id) != 0)
		pc_warn_opt(b, SCOPE_PROJECT, idkey,
		    "grouping config unknown to "
		    "relaycfg; sending %s", pc_grouping_default_id);
	for (size_t i = 0; i < 2; i++) {
		v = pc_opt(b, SCOPE_PROJECT, rule_keys[i]);
		if (v != NULL && !pc_falsy(v))
			pc_warn_opt(b, SCOPE_PROJECT, rule_keys[i],
			    "custom stack "
			    "trace rules are not compiled by relaycfg; "
			    "sending the default enhancements");
	}
	if ((g = json_object_new_object()) == NULL)
		return -1;
	if (pc_obj_add(g, "id", json_object_new_string(pc_grouping_default_id))
	    != 0 || pc_obj_add(g, "enhancements",
	    json_object_new_string(pc_grouping_default_enhancements)) != 0) {
		json_object_put(g);
		return -1;
	}
	return pc_obj_add(config, "groupingConfig", g);
}

/*
 * eventRetention - quotas.backend.get_event_retention: the option
 * system.event-retention-days, where 0 (or None) means no limit and the
 * key is left out.  Relay reads it as an unsigned 16-bit number of days, so
 * a value outside 1..65535 would fail the whole project there: it is
 * reported and left out instead.
 */
int
pc_add_event_retention(const struct build *b, json_object *config)
{
	static const char name[] = "system.event-retention-days";
	json_object *v = pc_sentry_option(b, name);
	int64_t days;

	if (v == NULL || (days = json_object_get_int64(v)) == 0)
		return 0;
	if (days < 0 || days > 65535) {
		log_warn("sentry_option %s: %lld days is out of range for "
		    "Relay; eventRetention left out", name, (long long)days);
		return 0;
	}
	return pc_obj_add(config, "eventRetention",
	    json_object_new_int64(days));
}
