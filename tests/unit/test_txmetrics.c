/*
 * test_txmetrics.c - transactionMetrics and metricConditionalTagging
 *
 * Golden files tests/golden/txmetrics_*.json hold only the two keys this
 * builder owns ({"transactionMetrics": ..., "metricConditionalTagging":
 * ...}), so that other sections' changes do not move them; they are
 * compared canonically and as plain text (the key order).  Regenerate with
 * RELAYCFG_GOLDEN_WRITE=1 and review the diff.
 *
 * Sentry's own snapshots are the reference where they apply
 * (getsentry/sentry tests/sentry/relay/test_config.py,
 * test_project_config_satisfaction_thresholds, whose snapshot directories
 * are <has overrides>/<has threshold>):
 *   REGION/False/True.pysnap @195c8f4205bd2c2e70514edbdd6827221e253805
 *     (2024-05-16, stored id 2660621414): threshold lcp 500, no overrides;
 *   REGION/True/True.pysnap @3f2ec3ff96209ff5c28d549cd01b2ddcc89f98f5
 *     (2023-03-20, stored id 1691756967): that threshold plus overrides
 *     foo (duration 400) and bar (lcp 600);
 *   REGION/False/False.pysnap @153bfc5844311343c7ad564b2f789d79709dd6c2
 *     (2023-03-20, stored id 2155348387), the same rules as
 *     test_project_config_with_breakdown/REGION/with_metrics.pysnap
 *     @2529e7f2e632c7a3c990afcdbfd525a06db37b7d: no rows, the default.
 * The 2023 files also carry the histogram-outlier rules that newest
 * Sentry (metric_extraction.py, stored id 1285069730) no longer appends,
 * and every stored with_metrics snapshot predates transactionMetrics
 * version 6: only the satisfaction rules are compared with them.  The
 * snapshots list targetMetrics sorted; Sentry sends
 * _SATISFACTION_TARGET_METRICS in its own order, which the golden files
 * pin.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "conf.h"
#include "log.h"
#include "model.h"
#include "projectconfig.h"
#include "sentryopts.h"
#include "pc_testlib.h"

/* The inputs of Sentry's test: threshold lcp 500; overrides foo, bar. */
static const struct model_txthreshold ovr[] = {
	/* the store hands them over ordered by name */
	{ "bar", MODEL_TXMETRIC_LCP, 600 },
	{ "foo", MODEL_TXMETRIC_DURATION, 400 },
};
static const struct model_txthresholds thr_project = {
	true, { NULL, MODEL_TXMETRIC_LCP, 500 }, 0, NULL
};
static const struct model_txthresholds thr_both = {
	true, { NULL, MODEL_TXMETRIC_LCP, 500 }, 2, ovr
};
static const struct model_txthresholds thr_overrides = {
	false, { NULL, 0, 0 }, 2, ovr
};
static const struct model_txthresholds thr_none = { false, { NULL, 0, 0 },
	0, NULL };

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

/* cfg - config[key] of content c, or NULL. */
static json_object *
cfg(json_object *c, const char *key)
{
	json_object *config, *v;

	if (!json_object_object_get_ex(c, "config", &config) ||
	    !json_object_object_get_ex(config, key, &v))
		return NULL;
	return v;
}

/* golden - the two keys of c against tests/golden/txmetrics_<name>.json. */
static void
golden(const char *name, json_object *c)
{
	static const char *const keys[] = {
		"transactionMetrics", "metricConditionalTagging",
	};

	golden_keys("txmetrics_", name, c, keys, 2);
}

/* A sorted copy of a string array, for comparing as a set. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(json_object_get_string(*(json_object *const *)a),
	    json_object_get_string(*(json_object *const *)b));
}

/*
 * same_rules - got's first rules equal Sentry's snapshot rules (as
 * JSON), targetMetrics compared as a set (the snapshot sorts lists).
 */
static void
same_rules(json_object *got, const char *snapshot)
{
	json_object *want = parse(snapshot);
	size_t n = json_object_array_length(want);

	assert_true(json_object_array_length(got) >= n);
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(got, i);
		json_object *w = json_object_array_get_idx(want, i);
		json_object *gc = json_object_new_object(), *gt, *wt, *tm;

		/* everything but targetMetrics, key order aside */
		json_object_object_foreach(g, k, v)
			if (strcmp(k, "targetMetrics") != 0)
				json_object_object_add(gc, k,
				    json_object_get(v));
		assert_true(json_object_object_get_ex(w, "targetMetrics", &wt));
		assert_true(json_object_object_get_ex(g, "targetMetrics", &gt));
		tm = json_object_get(wt);
		json_object_object_del(w, "targetMetrics");
		if (!json_object_equal(gc, w))
			fail_msg("rule %zu: %s, Sentry: %s", i,
			    json_object_to_json_string(gc),
			    json_object_to_json_string(w));
		/* the snapshot's list is sorted: sort a copy of ours */
		{
			json_object *sorted = NULL;

			assert_int_equal(json_object_deep_copy(gt, &sorted,
			    NULL), 0);
			json_object_array_sort(sorted, cmp_str);
			assert_true(json_object_equal(sorted, tm));
			json_object_put(sorted);
		}
		json_object_put(tm);
		json_object_put(gc);
	}
	json_object_put(want);
}

/* Sentry's snapshot rules (YAML turned to JSON, outliers left out). */
#define TM	"[\"d:transactions/duration@millisecond\"," \
	"\"d:transactions/measurements.lcp@millisecond\"," \
	"\"s:transactions/user@none\"]"
#define RULE(inner, value) "{\"condition\":{\"op\":\"and\",\"inner\":[" \
	inner "]},\"targetMetrics\":" TM ",\"targetTag\":\"satisfaction\"," \
	"\"tagValue\":\"" value "\"}"
#define GT(name, v) \
	"{\"op\":\"gt\",\"name\":\"" name "\",\"value\":" #v "}"
#define EQ(t) \
	"{\"op\":\"eq\",\"name\":\"event.transaction\",\"value\":\"" \
	t "\"}"
#define DUR	"event.duration"
#define LCP	"event.measurements.lcp.value"

static const char snap_default[] = "["
	RULE(GT(DUR, 1200), "frustrated") ","
	RULE(GT(DUR, 300), "tolerated") ","
	RULE("", "satisfied") "]";
static const char snap_threshold[] = "["
	RULE(GT(LCP, 2000), "frustrated") ","
	RULE(GT(LCP, 500), "tolerated") ","
	RULE("", "satisfied") "]";
static const char snap_both[] = "["
	RULE(GT(LCP, 2400) "," EQ("bar"), "frustrated") ","
	RULE(GT(LCP, 600) "," EQ("bar"), "tolerated") ","
	RULE(EQ("bar"), "satisfied") ","
	RULE(GT(DUR, 1600) "," EQ("foo"), "frustrated") ","
	RULE(GT(DUR, 400) "," EQ("foo"), "tolerated") ","
	RULE(EQ("foo"), "satisfied") ","
	RULE(GT(LCP, 2000), "frustrated") ","
	RULE(GT(LCP, 500), "tolerated") ","
	RULE("", "satisfied") "]";

/* ------------------------------------------------------------------ */
/* Tests.                                                              */

/* A fresh project under self-hosted defaults: selfhosted-fidelity b.3/4. */
static void
test_default(void **state)
{
	json_object *c = build_thr(NULL, NULL, NULL), *d;

	(void)state;
	golden("default", c);
	same_rules(cfg(c, "metricConditionalTagging"), snap_default);
	assert_int_equal(json_object_array_length(
	    cfg(c, "metricConditionalTagging")), 3);
	/* no rows at all is the same as NULL */
	d = build_thr(NULL, NULL, &thr_none);
	assert_true(json_object_equal(c, d));
	json_object_put(d);
	json_object_put(c);
}

/* Sentry's inputs, Sentry's answers. */
static void
test_sentry_snapshots(void **state)
{
	static const struct {
		const struct model_txthresholds *thr;
		const char	*golden;
		const char	*snap;		/* Sentry's rules; NULL: none */
		size_t		 n_rules;
	} cases[] = {
		{ &thr_project, "threshold", snap_threshold, 3 },
		{ &thr_both, "threshold_overrides", snap_both, 9 },
		/* overrides over the default threshold (snapshot True/False) */
		{ &thr_overrides, "overrides", NULL, 9 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *c = build_thr(NULL, NULL, cases[i].thr);

		golden(cases[i].golden, c);
		if (cases[i].snap != NULL)
			same_rules(cfg(c, "metricConditionalTagging"),
			    cases[i].snap);
		assert_int_equal(json_object_array_length(
		    cfg(c, "metricConditionalTagging")), cases[i].n_rules);
		json_object_put(c);
	}
}

/*
 * Sentry's order: breakdownsV2, metrics, then the two keys side by side,
 * then (metricExtraction and) sessionMetrics.
 */
static void
test_key_order(void **state)
{
	json_object *c = build_thr(NULL, NULL, NULL), *config;
	const char *want[] = { "breakdownsV2", "transactionMetrics",
	    "metricConditionalTagging", "sessionMetrics" };
	const char *prev = NULL;
	size_t at = 0;

	(void)state;
	assert_true(json_object_object_get_ex(c, "config", &config));
	json_object_object_foreach(config, k, v) {
		(void)v;
		if (prev != NULL && strcmp(prev, "transactionMetrics") == 0)
			assert_string_equal(k, "metricConditionalTagging");
		if (at < 4 && strcmp(k, want[at]) == 0)
			at++;
		prev = k;
	}
	assert_int_equal(at, 4);
	json_object_put(c);
}

/* sentry:transaction_metrics_custom_tags: strings only, lists only. */
static void
test_custom_tags(void **state)
{
	static const char *const bad[] = {
		"{\"sentry:transaction_metrics_custom_tags\":\"abc\"}",
		"{\"sentry:transaction_metrics_custom_tags\":{\"a\":1}}",
		"{\"sentry:transaction_metrics_custom_tags\":7}",
		"{\"sentry:transaction_metrics_custom_tags\":null}",
		"{\"sentry:transaction_metrics_custom_tags\":\"\"}",
		"{\"sentry:transaction_metrics_custom_tags\":[]}",
	};
	json_object *c;

	(void)state;
	c = build_thr("{\"sentry:transaction_metrics_custom_tags\":"
	    "[\"browser.name\",1,\"os\",null,\"browser.name\"]}", NULL, NULL);
	golden("custom_tags", c);
	json_object_put(c);
	/* not a list: reported, none sent; falsy: none */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *t;

		c = build_thr(bad[i], NULL, NULL);
		t = json_object_object_get(cfg(c, "transactionMetrics"),
		    "extractCustomTags");
		assert_true(json_object_is_type(t, json_type_array));
		assert_int_equal(json_object_array_length(t), 0);
		json_object_put(c);
	}
}

/* organizations:transaction-metrics-extraction off: neither key. */
static void
test_flag_off(void **state)
{
	json_object *c;

	(void)state;
	c = build_thr(NULL, "{\"relaycfg:features\":"
	    "[\"-organizations:transaction-metrics-extraction\"]}", &thr_both);
	assert_null(cfg(c, "transactionMetrics"));
	assert_null(cfg(c, "metricConditionalTagging"));
	json_object_put(c);
}

/* set the killswitch option to json and say whether the keys went out */
static bool
with_killswitch(const char *json)
{
	char why[256];
	json_object *c;
	bool present;

	if (sentry_settings_set_option(&conf->sentry,
	    "relay.drop-transaction-metrics", json, why, sizeof(why)) != 0)
		fail_msg("%s: %s", json, why);
	c = build_thr(NULL, NULL, NULL);
	present = cfg(c, "transactionMetrics") != NULL;
	assert_true(present == (cfg(c, "metricConditionalTagging") != NULL));
	json_object_put(c);
	assert_int_equal(sentry_settings_set_option(&conf->sentry,
	    "relay.drop-transaction-metrics", "[]", why, sizeof(why)), 0);
	return present;
}

/* killswitches.py _value_matches with context {"project_id": 42}. */
static void
test_killswitch(void **state)
{
	static const char *const drop[] = {
		"[{\"project_id\": 42}]",
		/* as "sentry killswitches push" stores it */
		"[{\"project_id\": \"42\"}]",
		"[42]",		/* the legacy form */
		"[{\"project_id\": 1}, {\"project_id\": 42}]",
		/* None values are dropped */
		"[{\"project_id\": 42, \"platform\": null}]",
		"[0, {}, null, \"\", {\"project_id\": 42}]",
	};
	static const char *const keep[] = {
		"[]",
		"[{\"project_id\": 43}]",
		"[{\"project_id\": 42, \"event_type\": \"transaction\"}]",
		"[{\"organization_id\": 7}]",
		"[{\"project_id\": 42.0}]",	/* str(42.0) == "42.0" */
		"[{\"project_id\": \" 42\"}]",
		"[true]",			/* {"project_id": "True"} */
		"[\"42\"]",			/* neither int nor dict */
		"[[42]]",
		"[{}]",
		/* empty once None is dropped */
		"[{\"project_id\": null}]",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (with_killswitch(drop[i]))
			fail_msg("%s did not match project 42", drop[i]);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (!with_killswitch(keep[i]))
			fail_msg("%s matched project 42", keep[i]);
}

/* The shared default never changes under a build that adds to config. */
static void
test_default_shared(void **state)
{
	json_object *a = build_thr(NULL, NULL, NULL), *b = build_thr(NULL, NULL,
	    &thr_both), *c = build_thr(NULL, NULL, NULL);

	(void)state;
	assert_true(json_object_equal(a, c));
	assert_false(json_object_equal(a, b));
	json_object_put(a);
	json_object_put(b);
	json_object_put(c);
}

/* The rev depends on the value only: a parsed copy has the same one. */
static void
test_rev_round_trip(void **state)
{
	(void)state;
	assert_rev_survives_build(NULL, NULL, NULL);
	assert_rev_survives_build(NULL, NULL, &thr_both);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_sentry_snapshots),
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_custom_tags),
		cmocka_unit_test(test_flag_off),
		cmocka_unit_test(test_killswitch),
		cmocka_unit_test(test_default_shared),
		cmocka_unit_test(test_rev_round_trip),
	};

	log_setup(LOG_LEVEL_ERROR, false);
	return cmocka_run_group_tests(tests, conf_setup, conf_teardown);
}
