/*
 * pc_txmetrics.c - transactionMetrics and metricConditionalTagging
 *
 * Sentry (src/sentry/relay/config/__init__.py, _get_project_config) adds
 * both keys when _should_extract_transaction_metrics(project) holds: the
 * org flag organizations:transaction-metrics-extraction is on and the
 * killswitch option relay.drop-transaction-metrics does not match
 * {"project_id": project.id}.  transactionMetrics is
 * get_transaction_metrics_settings (TRANSACTION_METRICS_EXTRACTION_VERSION
 * 6, CUSTOM_MEASUREMENT_LIMIT 10); metricConditionalTagging is
 * get_metric_conditional_tagging_rules of relay/config/metric_extraction.py
 * (newest stored version: the satisfaction rules only, no histogram
 * outliers): each per-transaction override, ordered by transaction, then
 * the project's threshold or DEFAULT_THRESHOLD (duration, 300 ms) of
 * api/endpoints/project_transaction_threshold.py.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "pc_build.h"

/* get_transaction_metrics_settings' constants. */
#define TX_METRICS_VERSION		6
#define CUSTOM_MEASUREMENT_LIMIT	10

#define OPT_CUSTOM_TAGS		"sentry:transaction_metrics_custom_tags"
#define OPT_KILLSWITCH		"relay.drop-transaction-metrics"

/* DEFAULT_THRESHOLD = {"threshold": "300", "metric": "duration"}. */
static const struct model_txthreshold default_threshold = {
	NULL, MODEL_TXMETRIC_DURATION, 300
};

/* _SATISFACTION_TARGET_METRICS, in Sentry's order. */
static const char *const target_metrics[] = {
	"s:transactions/user@none",
	"d:transactions/duration@millisecond",
	"d:transactions/measurements.lcp@millisecond",
};

/* _TRANSACTION_METRICS_TO_RULE_FIELD; NULL for a metric Sentry lacks. */
static const char *
rule_field(int metric)
{
	switch (metric) {
	case MODEL_TXMETRIC_DURATION:
		return "event.duration";
	case MODEL_TXMETRIC_LCP:
		return "event.measurements.lcp.value";
	}
	return NULL;
}

/*
 * str_matches - Python's str(v) == want for a killswitch condition's
 * value: a string as it is, an int (not a bool) in decimal.  A float
 * prints as "42.0" and anything else as its repr, which never equals a
 * decimal id.
 */
static bool
str_matches(json_object *v, const char *want)
{
	char buf[32];

	switch (json_object_get_type(v)) {
	case json_type_string:
		return strcmp(json_object_get_string(v), want) == 0;
	case json_type_int:
		snprintf(buf, sizeof(buf), "%" PRId64,
		    json_object_get_int64(v));
		return strcmp(buf, want) == 0;
	default:
		return false;
	}
}

/*
 * killswitch_matches - killswitches.killswitch_matches_context(opt,
 * {"project_id": id}): normalize_value, then _value_matches.  Falsy
 * conditions are skipped; an int n is {"project_id": str(n)} (True is
 * {"project_id": "True"}, which matches nothing); a dict drops its None
 * values and is skipped when nothing is left; it matches when every field
 * it names is in the context with the same str().  A value that is not
 * a list (the conf loader type-checks it) matches nothing.
 */
static bool
killswitch_matches(const struct build *b, const char *opt,
    int64_t project_id)
{
	json_object *v = pc_sentry_option(b, opt);
	char pid[32];
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return false;
	snprintf(pid, sizeof(pid), "%" PRId64, project_id);
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(v, i);
		size_t fields = 0;
		bool all = true;

		if (json_object_is_type(c, json_type_int)) {
			if (json_object_get_int64(c) != 0 &&
			    json_object_get_int64(c) == project_id)
				return true;
			continue;
		}
		if (!json_object_is_type(c, json_type_object))
			continue;
		json_object_object_foreach(c, k, fv) {
			if (fv == NULL)
				continue;
			fields++;
			if (strcmp(k, "project_id") != 0 ||
			    !str_matches(fv, pid))
				all = false;
		}
		if (fields > 0 && all)
			return true;
	}
	return false;
}

/* _should_extract_transaction_metrics. */
static bool
should_extract(const struct build *b)
{
	return pc_has_feature(b, SF_TRANSACTION_METRICS) &&
	    !killswitch_matches(b, OPT_KILLSWITCH, b->project->id);
}

/*
 * custom_tags - project.get_option(OPT_CUSTOM_TAGS) or (): the strings of
 * a list (Relay takes strings only, so anything else is dropped).  Sentry
 * would extend the list with the characters of a string or the keys of a
 * dict; such a value is reported and sends none.
 */
static json_object *
custom_tags(const struct build *b)
{
	json_object *v = pc_opt(b, SCOPE_PROJECT, OPT_CUSTOM_TAGS);
	json_object *tags = json_object_new_array();

	if (tags == NULL || v == NULL || pc_falsy(v))
		return tags;
	if (!json_object_is_type(v, json_type_array)) {
		pc_warn_opt(b, SCOPE_PROJECT, OPT_CUSTOM_TAGS, "is a %s, not "
		    "a list; no custom tags", pc_type_name(v));
		return tags;
	}
	if (pc_append_strings(b, SCOPE_PROJECT, OPT_CUSTOM_TAGS, tags, v) !=
	    0) {
		json_object_put(tags);
		return NULL;
	}
	return tags;
}

/* get_transaction_metrics_settings. */
static json_object *
transaction_metrics(const struct build *b)
{
	json_object *o, *cm = NULL;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (pc_obj_add(o, "version",
	    json_object_new_int(TX_METRICS_VERSION)) != 0 ||
	    pc_obj_add(o, "extractCustomTags", custom_tags(b)) != 0 ||
	    (cm = json_object_new_object()) == NULL ||
	    pc_obj_add(cm, "limit",
	    json_object_new_int(CUSTOM_MEASUREMENT_LIMIT)) != 0)
		goto fail;
	if (pc_obj_add(o, "customMeasurements", cm) != 0) {
		cm = NULL;
		goto fail;
	}
	cm = NULL;
	if (pc_obj_add(o, "acceptTransactionNames",
	    json_object_new_string("clientBased")) != 0)
		goto fail;
	return o;
fail:
	json_object_put(cm);
	json_object_put(o);
	return NULL;
}

/*
 * One MetricConditionalTaggingRule: {"condition": {"op": "and", "inner":
 * [gt?, extra?]}, "targetMetrics", "targetTag", "tagValue"}.  gt_name NULL:
 * no comparison (the satisfied rule).
 */
static json_object *
rule(const char *gt_name, int64_t gt_value, const char *transaction,
    const char *tag_value)
{
	json_object *r = NULL, *c = NULL, *inner = NULL, *rv = NULL;

	if ((r = json_object_new_object()) == NULL ||
	    (c = json_object_new_object()) == NULL ||
	    (inner = pc_new_array(2)) == NULL)
		goto out;
	if (gt_name != NULL && pc_arr_add(inner, pc_cond("gt", gt_name,
	    json_object_new_int64(gt_value))) != 0)
		goto out;
	if (transaction != NULL && pc_arr_add(inner, pc_cond("eq",
	    "event.transaction", json_object_new_string(transaction))) != 0)
		goto out;
	if (pc_obj_add(c, "op", json_object_new_string("and")) != 0)
		goto out;
	if (pc_obj_add(c, "inner", inner) != 0) {
		inner = NULL;
		goto out;
	}
	inner = NULL;
	if (pc_obj_add(r, "condition", c) != 0) {
		c = NULL;
		goto out;
	}
	c = NULL;
	if (pc_obj_add(r, "targetMetrics", pc_string_array(target_metrics,
	    sizeof(target_metrics) / sizeof(target_metrics[0]))) != 0 ||
	    pc_obj_add(r, "targetTag",
	    json_object_new_string("satisfaction")) != 0 ||
	    pc_obj_add(r, "tagValue", json_object_new_string(tag_value)) != 0)
		goto out;
	rv = r;
	r = NULL;
out:
	json_object_put(inner);
	json_object_put(c);
	json_object_put(r);
	return rv;
}

/*
 * _threshold_to_rules - frustrated (above 4 x threshold), tolerated
 * (above threshold), satisfied, appended to rules; the frustration
 * threshold is four times the threshold (Apdex).  Returns -1 on OOM.
 */
static int
threshold_to_rules(const struct model_txthreshold *t, json_object *rules)
{
	const char *field = rule_field(t->metric);

	/* The store lets no other metric through; Sentry would crash. */
	if (field == NULL)
		return 0;
	if (pc_arr_add(rules, rule(field, t->threshold * 4, t->transaction,
	    "frustrated")) != 0 ||
	    pc_arr_add(rules, rule(field, t->threshold, t->transaction,
	    "tolerated")) != 0 ||
	    pc_arr_add(rules, rule(NULL, 0, t->transaction,
	    "satisfied")) != 0)
		return -1;
	return 0;
}

/* The rules of a project without rows, made once per process. */
static json_object *
make_default_rules(const void *arg)
{
	json_object *rules = pc_new_array(3);

	(void)arg;
	if (rules != NULL && threshold_to_rules(&default_threshold,
	    rules) != 0) {
		json_object_put(rules);
		return NULL;
	}
	return rules;
}

/*
 * get_metric_conditional_tagging_rules - the overrides first (rules are
 * applied top-down; the store hands them over ordered by transaction),
 * then the project's threshold, else the default.
 */
static json_object *
conditional_tagging(const struct build *b)
{
	static json_object *shared_default;
	const struct model_txthresholds *t = b->thresholds;
	json_object *rules;

	if (t == NULL || (!t->has_project && t->n_overrides == 0))
		return pc_shared_get(&shared_default, make_default_rules,
		    NULL);
	if ((rules = pc_new_array(3 * (t->n_overrides + 1))) == NULL)
		return NULL;
	for (size_t i = 0; i < t->n_overrides; i++)
		if (threshold_to_rules(&t->overrides[i], rules) != 0)
			goto fail;
	if (threshold_to_rules(t->has_project ? &t->project :
	    &default_threshold, rules) != 0)
		goto fail;
	return rules;
fail:
	json_object_put(rules);
	return NULL;
}

int
pc_add_transaction_metrics(const struct build *b, json_object *config)
{
	if (!should_extract(b))
		return 0;
	if (pc_obj_add(config, "transactionMetrics",
	    transaction_metrics(b)) != 0 ||
	    pc_obj_add(config, "metricConditionalTagging",
	    conditional_tagging(b)) != 0)
		return -1;
	return 0;
}
