/*
 * pc_metrics.c - config.metrics: the cardinality limits of Sentry's
 * get_metrics_config (src/sentry/relay/config/__init__.py @760f3f125a64).
 *
 * Sentry builds the list from three sources, in this order: one limit per
 * use case of CARDINALITY_LIMIT_USE_CASES from the Sentry options
 * sentry-metrics.cardinality-limiter.limits.<ns>.per-org (passive when the
 * org is listed in relay.cardinality-limiter.passive-limits-by-org), then
 * the entries of the project option, the organization option and the
 * Sentry option relay.cardinality-limiter.limits, each subject to its
 * rollout rate and project list, a later limit with an id already taken
 * being skipped.  The key is always present, {"cardinalityLimits": []} at
 * least.
 *
 * Where Sentry would raise on a malformed value (and so drop the whole
 * key), or pass on a limit that Relay cannot parse (Relay's "metrics" is
 * an ErrorBoundary: one bad limit loses them all), the one bad entry is
 * logged and left out instead; the rest still goes out.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "pc_build.h"
#include "projectconfig.h"

#define LIMITS_KEY	"relay.cardinality-limiter.limits"
#define PASSIVE_KEY	"relay.cardinality-limiter.passive-limits-by-org"

/*
 * CARDINALITY_LIMIT_USE_CASES of src/sentry/sentry_metrics/
 * use_case_id_registry.py, in its order: (SESSIONS,) in 2026 (stored id
 * 68778270470); 2025 had TRANSACTIONS, SESSIONS, SPANS, CUSTOM.  Each
 * needs its per-org option row in sentryopts.c.
 */
static const char *const use_cases[] = { "sessions" };

/* Why a limit would fail Relay's parser; NULL when it would parse. */
static const char *
limit_problem(json_object *lim)
{
	json_object *v, *w;

	/*
	 * relay-cardinality CardinalityLimit: id String, passive and report
	 * bool (default false), window SlidingWindow {windowSeconds,
	 * granularitySeconds: u64}, limit u32, scope a string (unknown ones
	 * parse as Unknown), namespace optional, any string.  Relay divides
	 * by granularitySeconds, so 0 is refused as well.
	 */
	if (!json_object_is_type(lim, json_type_object))
		return "the limit is not an object";
	if (!json_object_object_get_ex(lim, "id", &v) ||
	    !json_object_is_type(v, json_type_string))
		return "id is not a string";
	if (json_object_object_get_ex(lim, "passive", &v) &&
	    !json_object_is_type(v, json_type_boolean))
		return "passive is not a boolean";
	if (json_object_object_get_ex(lim, "report", &v) &&
	    !json_object_is_type(v, json_type_boolean))
		return "report is not a boolean";
	if (!json_object_object_get_ex(lim, "window", &w) ||
	    !json_object_is_type(w, json_type_object))
		return "window is not an object";
	if (!json_object_object_get_ex(w, "windowSeconds", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return "window.windowSeconds is not a count of seconds";
	if (!json_object_object_get_ex(w, "granularitySeconds", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 1)
		return "window.granularitySeconds is not a positive integer";
	if (!json_object_object_get_ex(lim, "limit", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0 ||
	    json_object_get_int64(v) > (int64_t)UINT32_MAX)
		return "limit is not an integer from 0 to 4294967295";
	if (!json_object_object_get_ex(lim, "scope", &v) ||
	    !json_object_is_type(v, json_type_string))
		return "scope is not a string";
	if (json_object_object_get_ex(lim, "namespace", &v) && v != NULL &&
	    !json_object_is_type(v, json_type_string))
		return "namespace is not a string";
	return NULL;
}

/*
 * has_id - is a limit with this id in limits already?  Every limit in
 * there passed limit_problem, so each has a string id.
 */
static bool
has_id(json_object *limits, const char *id)
{
	size_t n = json_object_array_length(limits);

	for (size_t i = 0; i < n; i++) {
		json_object *v;

		if (json_object_object_get_ex(json_object_array_get_idx(limits,
		    i), "id", &v) && strcmp(json_object_get_string(v), id) == 0)
			return true;
	}
	return false;
}

/*
 * passive_for - Python's "id in passive_limits", where passive_limits is
 * the option's entry for the organization (a list of ids; a string or a
 * dict answer "in" as Python does).  Anything else would raise in Sentry:
 * reported, nothing passive.
 */
static bool
passive_for(const struct build *b, json_object *entry, const char *id)
{
	size_t n;

	if (entry == NULL)
		return false;
	switch (json_object_get_type(entry)) {
	case json_type_array:
		n = json_object_array_length(entry);
		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_array_get_idx(entry, i);

			if (json_object_is_type(v, json_type_string) &&
			    strcmp(json_object_get_string(v), id) == 0)
				return true;
		}
		return false;
	case json_type_string:
		return strstr(json_object_get_string(entry), id) != NULL;
	case json_type_object:
		return json_object_object_get_ex(entry, id, NULL);
	default:
		log_warn("sentry option %s: the entry of organization %lld "
		    "is %s, not a list; no limit is passive", PASSIVE_KEY,
		    (long long)b->project->organization_id,
		    pc_type_name(entry));
		return false;
	}
}

/*
 * add_use_case - the limit of one use case from its per-org option, when
 * the option holds exactly one quota {window_seconds, granularity_seconds,
 * limit}.  Returns 0, or -1 on OOM.
 */
static int
add_use_case(const struct build *b, json_object *limits, const char *ns,
    json_object *passive)
{
	char name[128];
	json_object *opt, *quota, *ws, *gs, *lv;
	json_object *lim = NULL, *win = NULL;
	const char *why;
	int rv = -1;

	snprintf(name, sizeof(name),
	    "sentry-metrics.cardinality-limiter.limits.%s.per-org", ns);
	opt = pc_sentry_option(b, name);
	/* None, empty or more than one quota: Sentry supports exactly one */
	if (opt == NULL || !json_object_is_type(opt, json_type_array) ||
	    json_object_array_length(opt) != 1)
		return 0;
	quota = json_object_array_get_idx(opt, 0);
	if (!json_object_is_type(quota, json_type_object) ||
	    !json_object_object_get_ex(quota, "window_seconds", &ws) ||
	    !json_object_object_get_ex(quota, "granularity_seconds", &gs) ||
	    !json_object_object_get_ex(quota, "limit", &lv)) {
		log_warn("sentry option %s: the quota is not an object with "
		    "window_seconds, granularity_seconds and limit; no %s "
		    "limit", name, ns);
		return 0;
	}
	if (ws == NULL || gs == NULL || lv == NULL) {
		/* JSON null: no number Relay could take */
		log_warn("sentry option %s: a quota value is null; no %s "
		    "limit", name, ns);
		return 0;
	}
	if ((lim = json_object_new_object()) == NULL ||
	    (win = json_object_new_object()) == NULL ||
	    pc_obj_add(lim, "id", json_object_new_string(ns)) != 0 ||
	    pc_obj_add(win, "windowSeconds", pc_copy(ws)) != 0 ||
	    pc_obj_add(win, "granularitySeconds", pc_copy(gs)) != 0)
		goto out;
	if (pc_obj_add(lim, "window", win) != 0) {
		win = NULL;
		goto out;
	}
	win = NULL;
	if (pc_obj_add(lim, "limit", pc_copy(lv)) != 0 ||
	    pc_obj_add(lim, "scope", json_object_new_string(
	    "organization")) != 0 ||
	    pc_obj_add(lim, "namespace", json_object_new_string(ns)) != 0)
		goto out;
	/* Sentry adds passive last, after namespace */
	if (passive_for(b, passive, ns) &&
	    pc_obj_add(lim, "passive", json_object_new_boolean(1)) != 0)
		goto out;
	if ((why = limit_problem(lim)) != NULL) {
		log_warn("sentry option %s: %s; no %s limit", name, why, ns);
		rv = 0;
		goto out;
	}
	rv = pc_arr_add(limits, lim);
	lim = NULL;
out:
	json_object_put(win);
	json_object_put(lim);
	return rv;
}

/*
 * in_projects - Python's "project.id in projects" for a list: numbers
 * (and booleans, which Python counts as 0 and 1) compare by value.
 */
static bool
in_projects(const struct build *b, json_object *projects)
{
	size_t n = json_object_array_length(projects);
	int64_t id = b->project->id;

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(projects, i);

		switch (json_object_get_type(v)) {
		case json_type_int:
			if (json_object_get_int64(v) == id)
				return true;
			break;
		case json_type_double:
			if (json_object_get_double(v) == (double)id)
				return true;
			break;
		case json_type_boolean:
			if ((json_object_get_boolean(v) ? 1 : 0) == id)
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

/* One source's complaint about entry i: a project/org option or Sentry's. */
static void
warn_entry(const struct build *b, int scope, size_t i, const char *why)
{
	if (scope < 0)
		log_warn("sentry option %s: entry %zu: %s; left out",
		    LIMITS_KEY, i, why);
	else
		pc_warn_opt(b, (enum scope)scope, LIMITS_KEY,
		    "entry %zu: %s; left out", i, why);
}

/*
 * add_option_limits - the entries of one relay.cardinality-limiter.limits
 * list (scope -1: the Sentry option).  Returns 0, or -1 on OOM.
 */
static int
add_option_limits(const struct build *b, json_object *limits,
    json_object *list, int scope)
{
	double org_rate = (double)(b->project->organization_id % 100000) /
	    100000.0;
	size_t n;

	if (list == NULL)
		return 0;
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		json_object *clo = json_object_array_get_idx(list, i);
		json_object *rate, *projects, *lim, *id;
		const char *why;

		if (!json_object_is_type(clo, json_type_object)) {
			warn_entry(b, scope, i, "not an object");
			continue;
		}
		/* rollout: (org id % 100000) / 100000 >= rate skips it */
		if (json_object_object_get_ex(clo, "rollout_rate", &rate)) {
			if (!json_object_is_type(rate, json_type_int) &&
			    !json_object_is_type(rate, json_type_double) &&
			    !json_object_is_type(rate, json_type_boolean)) {
				warn_entry(b, scope, i,
				    "rollout_rate is not a number");
				continue;
			}
			if (org_rate >= json_object_get_double(rate))
				continue;
		}
		if (json_object_object_get_ex(clo, "projects", &projects) &&
		    projects != NULL) {
			if (!json_object_is_type(projects, json_type_array)) {
				warn_entry(b, scope, i,
				    "projects is not a list");
				continue;
			}
			if (!in_projects(b, projects))
				continue;
		}
		/* no limit, or a limit without an id: Sentry's KeyError */
		if (!json_object_object_get_ex(clo, "limit", &lim) ||
		    (json_object_is_type(lim, json_type_object) &&
		    !json_object_object_get_ex(lim, "id", NULL)))
			continue;
		if ((why = limit_problem(lim)) != NULL) {
			warn_entry(b, scope, i, why);
			continue;
		}
		json_object_object_get_ex(lim, "id", &id);
		if (has_id(limits, json_object_get_string(id)))
			continue;
		/* passed on as given: Relay ignores what it does not know */
		if (pc_arr_add(limits, pc_copy(lim)) != 0)
			return -1;
	}
	return 0;
}

int
pc_add_metrics(const struct build *b, json_object *config)
{
	char org[32];
	json_object *metrics = NULL, *limits, *passive = NULL, *byorg;
	int rv = -1;

	if ((limits = json_object_new_array()) == NULL)
		return -1;
	snprintf(org, sizeof(org), "%" PRId64,
	    (int64_t)b->project->organization_id);
	if ((byorg = pc_sentry_option(b, PASSIVE_KEY)) != NULL &&
	    json_object_is_type(byorg, json_type_object))
		json_object_object_get_ex(byorg, org, &passive);
	for (size_t i = 0; i < sizeof(use_cases) / sizeof(use_cases[0]); i++)
		if (add_use_case(b, limits, use_cases[i], passive) != 0)
			goto out;
	if (add_option_limits(b, limits, pc_opt_typed(b, SCOPE_PROJECT,
	    LIMITS_KEY, json_type_array), SCOPE_PROJECT) != 0 ||
	    add_option_limits(b, limits, pc_opt_typed(b, SCOPE_ORG,
	    LIMITS_KEY, json_type_array), SCOPE_ORG) != 0 ||
	    add_option_limits(b, limits, pc_sentry_option(b, LIMITS_KEY),
	    -1) != 0)
		goto out;
	if ((metrics = json_object_new_object()) == NULL)
		goto out;
	if (pc_obj_add(metrics, "cardinalityLimits", limits) != 0) {
		limits = NULL;
		goto out;
	}
	limits = NULL;
	rv = pc_obj_add(config, "metrics", metrics);
	metrics = NULL;
out:
	json_object_put(limits);
	json_object_put(metrics);
	return rv;
}
