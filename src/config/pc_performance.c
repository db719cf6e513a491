/*
 * pc_performance.c - breakdownsV2, sessionMetrics and performanceScore.
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
/* breakdownsV2, sessionMetrics, performanceScore.                     */

static json_object *
make_parsed(const void *text)
{
	return pc_parse_const(text);
}

/*
 * breakdown_ok - would Relay's BreakdownConfig take v?  It is an enum
 * tagged by a string "type": "spanOperations" (alias "span_operations")
 * needs "matches", a list of strings; any other type is Unsupported and
 * parses.  NULL when it would, else why not.
 */
static const char *
breakdown_ok(json_object *v)
{
	json_object *type, *matches;
	const char *t;
	size_t n;

	if (!json_object_is_type(v, json_type_object))
		return "not an object";
	if (!json_object_object_get_ex(v, "type", &type) ||
	    !json_object_is_type(type, json_type_string))
		return "type is not a string";
	t = json_object_get_string(type);
	if (strcmp(t, "spanOperations") != 0 &&
	    strcmp(t, "span_operations") != 0)
		return NULL;
	if (!json_object_object_get_ex(v, "matches", &matches) ||
	    !json_object_is_type(matches, json_type_array))
		return "matches is not a list";
	n = json_object_array_length(matches);
	for (size_t i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(matches,
		    i), json_type_string))
			return "matches holds a non-string";
	return NULL;
}

/*
 * pc_add_breakdowns - breakdownsV2: the project option sentry:breakdowns as
 * Sentry sends it, else the default.  Relay's breakdownsV2 is no error
 * boundary: one breakdown it cannot parse makes it refuse the whole
 * project, so such an entry is logged and left out.
 */
int
pc_add_breakdowns(const struct build *b, json_object *config)
{
	static json_object *breakdowns_default;
	json_object *v, *out;
	const char *why;

	v = pc_opt_typed(b, SCOPE_PROJECT, "sentry:breakdowns",
	    json_type_object);
	if (v == NULL)
		return pc_obj_add(config, "breakdownsV2", pc_shared_get(
		    &breakdowns_default, make_parsed, pc_breakdowns_default));
	if ((out = json_object_new_object()) == NULL)
		return -1;
	json_object_object_foreach(v, name, entry) {
		if ((why = breakdown_ok(entry)) != NULL) {
			pc_warn_opt(b, SCOPE_PROJECT, "sentry:breakdowns",
			    "a breakdown Relay would refuse (%s); dropped", why);
			continue;
		}
		if (pc_obj_add_dup(out, name, pc_copy(entry)) != 0) {
			json_object_put(out);
			return -1;
		}
	}
	return pc_obj_add(config, "breakdownsV2", out);
}

/*
 * sessionMetrics: _get_project_config's EXTRACT_ABNORMAL_MECHANISM_VERSION
 * (2) for organizations sample_modulo picks, else EXTRACT_METRICS_VERSION.
 */
int
pc_add_session_metrics(const struct build *b, json_object *config)
{
	json_object *s;

	if ((s = json_object_new_object()) == NULL)
		return -1;
	if (pc_obj_add(s, "version", json_object_new_int(
	    pc_sample_modulo(b, "sentry-metrics.releasehealth."
	    "abnormal-mechanism-extraction-rate", b->project->organization_id) ?
	    2 : 1)) != 0) {
		json_object_put(s);
		return -1;
	}
	return pc_obj_add(config, "sessionMetrics", s);
}

static json_object *
score_component(const struct pc_score_component *c)
{
	json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (pc_obj_add(o, "measurement",
	    json_object_new_string(c->measurement)) != 0 ||
	    pc_obj_add(o, "weight", pc_number(c->weight)) != 0 ||
	    pc_obj_add(o, "p10", pc_number(c->p10)) != 0 ||
	    pc_obj_add(o, "p50", pc_number(c->p50)) != 0 ||
	    pc_obj_add(o, "optional", json_object_new_boolean(
	        c->optional)) != 0) {
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
	if (pc_obj_add(o, "name", json_object_new_string(p->name)) != 0 ||
	    (p->version != NULL &&
	    pc_obj_add(o, "version", json_object_new_string(
	        p->version)) != 0) ||
	    pc_obj_add(o, "scoreComponents", comps = json_object_new_array())
	    != 0)
		goto fail;
	for (size_t i = 0; i < p->n_components; i++)
		if (pc_arr_add(comps, score_component(&p->components[i])) != 0)
			goto fail;
	if (pc_obj_add(o, "condition", pc_parse_const(p->condition)) != 0)
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
	return pc_shared_get(&built[i], make_score_profile,
	    &pc_score_profiles[i]);
}

int
pc_add_performance_score(const struct build *b, json_object *config)
{
	json_object *ps, *profiles;

	if ((ps = json_object_new_object()) == NULL)
		return -1;
	if (pc_obj_add(ps, "profiles", profiles = json_object_new_array()) != 0)
		goto fail;
	for (size_t i = 0; i < pc_n_score_profiles; i++) {
		const struct pc_score_profile *p = &pc_score_profiles[i];

		if (p->feature != NULL && !pc_has_feature(b, p->feature))
			continue;
		if (pc_arr_add(profiles, score_profile_shared(i)) != 0)
			goto fail;
	}
	return pc_obj_add(config, "performanceScore", ps);
fail:
	json_object_put(ps);
	return -1;
}
