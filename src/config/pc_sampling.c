/*
 * pc_sampling.c - config.sampling: Sentry's dynamic-sampling rules
 *
 * Sentry (src/sentry/relay/config/__init__.py get_dynamic_sampling_config)
 * sends nothing when the option dynamic-sampling.config.killswitch is on or
 * the org flag organizations:dynamic-sampling is off, and otherwise
 * {"version": 2, "rules": generate_rules(project)}.  generate_rules
 * (src/sentry/dynamic_sampling/rules/base.py) takes the project's base
 * sample rate (get_guarded_project_sample_rate), the biases the project
 * enabled (sentry:dynamic_sampling_biases over utils.py DEFAULT_BIASES) and
 * the biases of combine.py get_relay_biases, in that order, and keeps a
 * bias's rules when it is always included (boost low volume projects,
 * custom rules), when it is enabled and 0 < rate < 1, or when it is
 * enabled and always allowed (minimum sample rate).
 *
 * Biases that read what only a full Sentry has (CustomDynamicSamplingRule
 * rows, the boosted-releases, low-volume-transaction, recalibration and
 * boosted-project-rate caches) give here what Sentry gives when that data
 * is absent: no rules, and the base rate as the project's rate.  The
 * boost of projects and organizations added in the last ten minutes
 * (is_recently_added) reads their date_added.
 * docs/PROJECT-OPTIONS.md lists the sources and what is left out.
 */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "pc_build.h"
#include "pc_tables.h"

#define SF_DS_CUSTOM		"organizations:dynamic-sampling-custom"
#define SF_DS_MINIMUM_RATE \
	"organizations:dynamic-sampling-minimum-sample-rate"
#define OPT_KILLSWITCH		"dynamic-sampling.config.killswitch"
#define OPT_SAMPLING_MODE	"sentry:sampling_mode"
#define OPT_TARGET_RATE		"sentry:target_sample_rate"
#define OPT_BIASES		"sentry:dynamic_sampling_biases"

/* get_dynamic_sampling_config's format version. */
#define SAMPLING_VERSION	2

/* TARGET_SAMPLE_RATE_DEFAULT, src/sentry/constants.py. */
#define TARGET_RATE_DEFAULT	1.0

/* NEW_MODEL_THRESHOLD_IN_MINUTES, rules/base.py. */
#define NEW_MODEL_THRESHOLD_MINUTES	10

/* IGNORE_HEALTH_CHECKS_FACTOR_TRACES, rules/utils.py. */
#define HEALTH_CHECKS_FACTOR	3

/* RESERVED_IDS, rules/utils.py. */
enum {
	ID_LOW_VOLUME_PROJECTS	= 1000,
	ID_ENVIRONMENTS		= 1001,
	ID_HEALTH_CHECKS	= 1002,
	ID_REPLAY_ID		= 1005,
	ID_MINIMUM_RATE		= 1006
};

/* The user biases, as DEFAULT_BIASES lists them. */
enum bias {
	B_ENVIRONMENTS,
	B_LATEST_RELEASE,
	B_HEALTH_CHECKS,
	B_KEY_TRANSACTIONS,
	B_LOW_VOLUME_TRANSACTIONS,
	B_REPLAY_ID,
	B_RECALIBRATION,
	B_MINIMUM_RATE,
	B_N
};

static const struct {
	const char	*id;
	bool		 active;
} default_biases[B_N] = {
	{ "boostEnvironments", true },
	{ "boostLatestRelease", true },
	{ "ignoreHealthChecks", true },
	{ "boostKeyTransactions", true },
	{ "boostLowVolumeTransactions", true },
	{ "boostReplayId", true },
	{ "recalibrationRule", true },
	/* switched on per project in the UI (getsentry/sentry#95104) */
	{ "minimumSampleRate", false },
};

/* The conditions that never vary, in Sentry's key order. */
static const char cond_all[] = "{\"op\":\"and\",\"inner\":[]}";
static const char cond_all_minimum[] = "{\"inner\":[],\"op\":\"and\"}";
static const char cond_replay_id[] = "{\"op\":\"not\",\"inner\":{\"op\":\"eq\","
    "\"name\":\"trace.replay_id\",\"value\":null,"
    "\"options\":{\"ignoreCase\":true}}}";
/* ENVIRONMENT_GLOBS, rules/biases/boost_environments_bias.py. */
static const char cond_environments[] = "{\"op\":\"or\",\"inner\":[{"
    "\"op\":\"glob\",\"name\":\"trace.environment\",\"value\":[\"*debug*\","
    "\"*dev*\",\"*local*\",\"*qa*\",\"*test*\"]}]}";

/*
 * py_float - v as a JSON number written as Python's repr writes it: the
 * shortest text that reads back as v, with ".0" on an integral value.
 * v is a sample rate or a share of one: finite, |v| <= 1, where Python
 * and %g agree on when to use an exponent.  NULL on OOM.
 */
static json_object *
py_float(double v)
{
	char buf[40];
	size_t n;

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	n = strlen(buf);
	if (strpbrk(buf, ".e") == NULL && n + 2 < sizeof(buf))
		memcpy(buf + n, ".0", 3);
	return pc_number(buf);
}

/*
 * rate_opt - option key of scope as a sample rate: true with *out set when
 * it is a number in [0, 1].  Unset is false without a word; anything else
 * (another type, out of range) is reported and false, so that the caller
 * falls back as for an unset option rather than send Relay a rate it
 * would have to clamp.
 */
static bool
rate_opt(const struct build *b, enum scope scope, const char *key,
    double *out)
{
	json_object *v = pc_opt(b, scope, key);
	double d;

	if (v == NULL)
		return false;
	if (!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int)) {
		pc_warn_opt(b, scope, key, "expected a number, got %s; using "
		    "the default", pc_type_name(v));
		return false;
	}
	d = json_object_get_double(v);
	if (!isfinite(d) || d < 0.0 || d > 1.0) {
		pc_warn_opt(b, scope, key, "not a sample rate in [0, 1]; "
		    "using the default");
		return false;
	}
	*out = d;
	return true;
}

/*
 * project_mode - is_project_mode_sampling (dynamic_sampling/utils.py): the
 * custom flag and the org option sentry:sampling_mode == "project"
 * (SAMPLING_MODE_DEFAULT is "organization").
 */
static bool
project_mode(const struct build *b)
{
	json_object *v;

	if (!pc_has_feature(b, SF_DS_CUSTOM))
		return false;
	v = pc_opt_typed(b, SCOPE_ORG, OPT_SAMPLING_MODE, json_type_string);
	return v != NULL && strcmp(json_object_get_string(v), "project") == 0;
}

/*
 * recently_added - is_recently_added: date_added no more than
 * NEW_MODEL_THRESHOLD_IN_MINUTES ago (or in the future).  0 is unknown,
 * which reads as old: the boost is for onboarding, not for rows whose
 * date relaycfg could not read.
 */
static bool
recently_added(int64_t date_added, time_t now)
{
	return date_added != 0 &&
	    date_added >= (int64_t)now - NEW_MODEL_THRESHOLD_MINUTES * 60;
}

/*
 * guarded_rate - get_guarded_project_sample_rate.  In project mode the
 * project's sentry:target_sample_rate as it is.  Otherwise, with the
 * custom flag, the organization's; without it, the quota backend's
 * blended rate, which self-hosted's RedisQuota does not implement (None).
 * None is TARGET_SAMPLE_RATE_DEFAULT, and 1.0 is final.  Below 1.0, a
 * project or organization added in the last ten minutes is sampled in
 * full, as Sentry boosts new ones; the config then lives ttl_config (an
 * hour by default, as Sentry's project config cache), after which the
 * rate set here applies.  Last, Sentry takes the boosted-project rate its
 * rebalancing tasks cache, falling back to this rate when there is none:
 * relaycfg has no such cache, so the rate is the fallback.
 */
static double
guarded_rate(const struct build *b)
{
	double rate = TARGET_RATE_DEFAULT;
	time_t now;

	if (project_mode(b)) {
		(void)rate_opt(b, SCOPE_PROJECT, OPT_TARGET_RATE, &rate);
		return rate;
	}
	if (pc_has_feature(b, SF_DS_CUSTOM))
		(void)rate_opt(b, SCOPE_ORG, OPT_TARGET_RATE, &rate);
	if (rate == 1.0)
		return rate;
	now = time(NULL);
	if (recently_added(b->project->date_added, now) ||
	    recently_added(b->org->date_added, now))
		return 1.0;
	return rate;
}

/* truthy - Python's bool(v) for a JSON value (pc_falsy misses numbers). */
static bool
truthy(json_object *v)
{
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int64(v) != 0;
	if (json_object_is_type(v, json_type_double))
		return json_object_get_double(v) != 0.0;
	return !pc_falsy(v);
}

/*
 * enabled_biases - get_enabled_user_biases: DEFAULT_BIASES, each replaced
 * by the project's entry of the same id (the last one wins), on when its
 * "active" is truthy.  Entries of ids Sentry does not know are ignored as
 * Sentry ignores them.  A malformed entry, which would make Sentry's
 * generate_rules fail and send no rules at all, is reported and skipped.
 */
static void
enabled_biases(const struct build *b, bool on[B_N])
{
	json_object *list = pc_opt(b, SCOPE_PROJECT, OPT_BIASES);
	size_t n;

	for (size_t i = 0; i < B_N; i++)
		on[i] = default_biases[i].active;
	if (list == NULL)
		return;
	if (!json_object_is_type(list, json_type_array)) {
		pc_warn_opt(b, SCOPE_PROJECT, OPT_BIASES, "expected a list, "
		    "got %s; using the default biases", pc_type_name(list));
		return;
	}
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i), *id, *act;
		size_t j;

		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "id", &id) ||
		    !json_object_is_type(id, json_type_string)) {
			pc_warn_opt(b, SCOPE_PROJECT, OPT_BIASES, "entry %zu "
			    "is not {\"id\": string, \"active\": bool}; "
			    "ignored", i);
			continue;
		}
		for (j = 0; j < B_N; j++)
			if (strcmp(json_object_get_string(id),
			    default_biases[j].id) == 0)
				break;
		if (j == B_N)
			continue;
		if (!json_object_object_get_ex(e, "active", &act)) {
			pc_warn_opt(b, SCOPE_PROJECT, OPT_BIASES, "entry %zu "
			    "has no \"active\"; ignored", i);
			continue;
		}
		on[j] = truthy(act);
	}
}

/*
 * add_rule - append {"samplingValue": {"type": vtype, "value": value},
 * "type": type, "condition": cond, "id": id}, the key order of every
 * bias.  Steals cond.
 */
static int
add_rule(json_object *rules, const char *vtype, double value,
    const char *type, json_object *cond, int id)
{
	json_object *r = NULL, *sv = NULL;
	int rv = -1;

	if (cond == NULL || (r = json_object_new_object()) == NULL ||
	    (sv = json_object_new_object()) == NULL)
		goto out;
	if (pc_obj_add(sv, "type", json_object_new_string(vtype)) != 0 ||
	    pc_obj_add(sv, "value", py_float(value)) != 0)
		goto out;
	rv = pc_obj_add(r, "samplingValue", sv);
	sv = NULL;
	if (rv != 0)
		goto out;
	rv = -1;
	if (pc_obj_add(r, "type", json_object_new_string(type)) != 0)
		goto out;
	rv = pc_obj_add(r, "condition", cond);
	cond = NULL;
	if (rv != 0)
		goto out;
	rv = -1;
	if (pc_obj_add(r, "id", json_object_new_int(id)) != 0)
		goto out;
	rv = pc_arr_add(rules, r);
	r = NULL;
out:
	json_object_put(cond);
	json_object_put(sv);
	json_object_put(r);
	return rv;
}

/*
 * health_checks_cond - IgnoreHealthChecksTraceBias's condition: the root
 * transaction matches one of HEALTH_CHECK_GLOBS.  NULL on OOM.
 */
static json_object *
health_checks_cond(void)
{
	json_object *cond = NULL, *inner = NULL, *glob = NULL, *rv = NULL;

	if ((cond = json_object_new_object()) == NULL ||
	    (glob = json_object_new_object()) == NULL ||
	    pc_obj_add(glob, "op", json_object_new_string("glob")) != 0 ||
	    pc_obj_add(glob, "name",
	    json_object_new_string("trace.transaction")) != 0 ||
	    pc_obj_add(glob, "value", pc_string_array(pc_health_check_globs,
	    pc_n_health_check_globs)) != 0 ||
	    (inner = pc_new_array(1)) == NULL)
		goto out;
	if (pc_arr_add(inner, glob) != 0) {
		glob = NULL;
		goto out;
	}
	glob = NULL;
	if (pc_obj_add(cond, "op", json_object_new_string("or")) != 0)
		goto out;
	if (pc_obj_add(cond, "inner", inner) != 0) {
		inner = NULL;
		goto out;
	}
	inner = NULL;
	rv = cond;
	cond = NULL;
out:
	json_object_put(glob);
	json_object_put(inner);
	json_object_put(cond);
	return rv;
}

/*
 * add_rules - _get_rules_of_enabled_biases over get_relay_biases' order:
 * custom rules, ignore health checks (the trace bias, the only one since
 * getsentry/sentry#115471), boost replay id, boost environments,
 * recalibration, latest releases, low volume transactions, minimum sample
 * rate (behind its org flag), boost low volume projects.
 */
static int
add_rules(const struct build *b, json_object *rules, double rate)
{
	bool on[B_N];
	bool dynamic = rate > 0.0 && rate < 1.0;

	enabled_biases(b, on);
	/* CustomRuleBias: no CustomDynamicSamplingRule rows here */
	if (dynamic && on[B_HEALTH_CHECKS] &&
	    add_rule(rules, "sampleRate", rate / HEALTH_CHECKS_FACTOR, "trace",
	    health_checks_cond(), ID_HEALTH_CHECKS) != 0)
		return -1;
	if (dynamic && on[B_REPLAY_ID] &&
	    add_rule(rules, "sampleRate", 1.0, "trace",
	    pc_parse_const(cond_replay_id), ID_REPLAY_ID) != 0)
		return -1;
	if (dynamic && on[B_ENVIRONMENTS] &&
	    add_rule(rules, "sampleRate", 1.0, "trace",
	    pc_parse_const(cond_environments), ID_ENVIRONMENTS) != 0)
		return -1;
	/*
	 * RecalibrationBias (factor 1.0 without a cached factor),
	 * BoostLatestReleasesBias (no boosted releases cached) and
	 * BoostLowVolumeTransactionsBias (no transaction rates cached) give
	 * no rules without the data of Sentry's rebalancing tasks.
	 */
	if (on[B_MINIMUM_RATE] && pc_has_feature(b, SF_DS_MINIMUM_RATE) &&
	    add_rule(rules, "minimumSampleRate", rate, "transaction",
	    pc_parse_const(cond_all_minimum), ID_MINIMUM_RATE) != 0)
		return -1;
	return add_rule(rules, "sampleRate", rate, "trace",
	    pc_parse_const(cond_all), ID_LOW_VOLUME_PROJECTS);
}

int
pc_add_sampling(const struct build *b, json_object *config)
{
	json_object *sampling = NULL, *rules = NULL;
	int rv = -1;

	if (truthy(pc_sentry_option(b, OPT_KILLSWITCH)) ||
	    !pc_has_feature(b, SF_DYNAMIC_SAMPLING))
		return 0;
	if ((sampling = json_object_new_object()) == NULL ||
	    (rules = pc_new_array(4)) == NULL ||
	    pc_obj_add(sampling, "version",
	    json_object_new_int(SAMPLING_VERSION)) != 0 ||
	    add_rules(b, rules, guarded_rate(b)) != 0)
		goto out;
	rv = pc_obj_add(sampling, "rules", rules);
	rules = NULL;
	if (rv != 0)
		goto out;
	rv = pc_obj_add(config, "sampling", sampling);
	sampling = NULL;
out:
	json_object_put(rules);
	json_object_put(sampling);
	return rv;
}
