/*
 * test_pc_sampling.c - config.sampling (dynamic-sampling rules)
 *
 * Golden files tests/golden/sampling_*.json hold only {"sampling": ...},
 * so that other sections' changes do not move them; they are compared
 * canonically and as plain text (the key order).  Regenerate with
 * RELAYCFG_GOLDEN_WRITE=1 and review the diff.
 *
 * The references are getsentry/sentry's own: the fresh self-hosted answer
 * {"version": 2, "rules": [<rule 1000, 1.0>]} is what
 * tests/sentry/dynamic_sampling/test_generate_rules.py
 * (test_generate_rules_return_uniform_rule_with_100_rate_and_without_env_rule,
 * @130318ab015a22ab4acad584eb1724b054c0a7ab, stored id 1387570650) expects
 * for a blended rate of 1.0; the rule shapes are those of the newest
 * stored biases: ignore_health_checks_bias.py (trace bias, stored id
 * 56243624386, factor 3 of getsentry/sentry#109552), boost_replay_id_bias.py
 * (stored id 1558603530), boost_environments_bias.py
 * @643f11c90d3c489fa0bf802d03ca0aee81764487, minimum_sample_rate_bias.py
 * (stored id 6426205093, "transaction" since getsentry/sentry#95428; id
 * 1006 as test_minimum_sample_rate_bias.py
 * @e6c59448269fff597ab48b4b76b29c0404013979 asserts), and
 * boost_low_volume_projects_bias.py
 * @c7c2d49b54a5463a44dc22cf2a4884e176429133; the order is combine.py's
 * (stored id 3904271193) and the guards base.py's (stored id 3618357139).
 * Numbers are checked as Python's repr writes them (0.5 / 3 is
 * 0.16666666666666666).
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "conf.h"
#include "log.h"
#include "model.h"
#include "projectconfig.h"
#include "sentryopts.h"
#include "pc_testlib.h"

/* Org options switching custom dynamic sampling on, with extras. */
#define CUSTOM		"\"relaycfg:features\":" \
	"[\"organizations:dynamic-sampling-custom\"]"
#define CUSTOM_MIN	"\"relaycfg:features\":" \
	"[\"organizations:dynamic-sampling-custom\"," \
	"\"organizations:dynamic-sampling-minimum-sample-rate\"]"
#define RATE(v)		"\"sentry:target_sample_rate\":" #v
#define MODE_PROJECT	"\"sentry:sampling_mode\":\"project\""
#define BIASES(list)	"\"sentry:dynamic_sampling_biases\":" list
#define BIAS(id, on)	"{\"id\":\"" id "\",\"active\":" #on "}"

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

/* sampling - config.sampling of content c, or NULL. */
static json_object *
sampling(json_object *c)
{
	json_object *config, *v;

	if (!json_object_object_get_ex(c, "config", &config) ||
	    !json_object_object_get_ex(config, "sampling", &v))
		return NULL;
	return v;
}

/* text - config.sampling of c as plain JSON text (static storage of c). */
static const char *
text(json_object *c)
{
	json_object *s = sampling(c);

	assert_non_null(s);
	return json_object_to_json_string_ext(s,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* ids - the rule ids of c's sampling, as "1002,1005,1000". */
static void
ids(json_object *c, char *buf, size_t len)
{
	json_object *rules;
	size_t n, at = 0;

	buf[0] = '\0';
	assert_true(json_object_object_get_ex(sampling(c), "rules", &rules));
	n = json_object_array_length(rules);
	for (size_t i = 0; i < n; i++) {
		json_object *id;

		assert_true(json_object_object_get_ex(
		    json_object_array_get_idx(rules, i), "id", &id));
		at += (size_t)snprintf(buf + at, len - at, "%s%d",
		    i > 0 ? "," : "", json_object_get_int(id));
		assert_true(at < len);
	}
}

/* assert_ids - popts/oopts give exactly the rule ids want. */
static void
assert_ids(const char *popts, const char *oopts, const char *want)
{
	json_object *c = build(popts, oopts);
	char got[128];

	ids(c, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("project %s, org %s: rules %s, want %s",
		    popts ? popts : "-", oopts ? oopts : "-", got, want);
	json_object_put(c);
}

/* value - samplingValue.value of rule i, as its JSON text. */
static const char *
value(json_object *c, size_t i)
{
	json_object *rules, *sv, *v;

	assert_true(json_object_object_get_ex(sampling(c), "rules", &rules));
	assert_true(i < json_object_array_length(rules));
	assert_true(json_object_object_get_ex(
	    json_object_array_get_idx(rules, i), "samplingValue", &sv));
	assert_true(json_object_object_get_ex(sv, "value", &v));
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/* golden - c's sampling against tests/golden/sampling_<name>.json. */
static void
golden(const char *name, json_object *c)
{
	static const char *const keys[] = { "sampling" };

	golden_keys("sampling_", name, c, keys, 1);
}

/* set_option - Sentry option name = json in relaycfg.conf terms. */
static void
set_option(const char *name, const char *json)
{
	char why[256];

	if (sentry_settings_set_option(&conf->sentry, name, json, why,
	    sizeof(why)) != 0)
		fail_msg("%s = %s: %s", name, json, why);
}

/* ------------------------------------------------------------------ */
/* Tests.                                                              */

/* A fresh project under self-hosted defaults: selfhosted-fidelity b.1. */
static void
test_default(void **state)
{
	json_object *c = build(NULL, NULL);

	(void)state;
	golden("default", c);
	/* byte for byte what self-hosted Sentry sends */
	assert_string_equal(text(c), "{\"version\":2,\"rules\":[{"
	    "\"samplingValue\":{\"type\":\"sampleRate\",\"value\":1.0},"
	    "\"type\":\"trace\",\"condition\":{\"op\":\"and\",\"inner\":[]},"
	    "\"id\":1000}]}");
	json_object_put(c);
	/* the biases need a rate below 1.0, which only the custom flag gives */
	assert_ids(NULL, "{" RATE(0.5) "}", "1000");
	assert_ids("{" RATE(0.5) "}", "{" MODE_PROJECT "}", "1000");
}

/* Custom dynamic sampling, organization mode, rate 0.5: every bias. */
static void
test_custom_rate_biases(void **state)
{
	json_object *c = build(NULL, "{" CUSTOM "," RATE(0.5) "}");

	(void)state;
	golden("custom_rate_biases", c);
	/* health checks, replay id, environments, low volume projects */
	assert_ids(NULL, "{" CUSTOM "," RATE(0.5) "}", "1002,1005,1001,1000");
	assert_string_equal(value(c, 0), "0.16666666666666666");
	assert_string_equal(value(c, 1), "1.0");
	assert_string_equal(value(c, 2), "1.0");
	assert_string_equal(value(c, 3), "0.5");
	json_object_put(c);

	/* Python's repr, exponent included */
	c = build(NULL, "{" CUSTOM "," RATE(0.1) "}");
	assert_string_equal(value(c, 0), "0.03333333333333333");
	assert_string_equal(value(c, 3), "0.1");
	json_object_put(c);
	c = build(NULL, "{" CUSTOM "," RATE(3e-05) "}");
	assert_string_equal(value(c, 0), "1e-05");
	assert_string_equal(value(c, 3), "3e-05");
	json_object_put(c);
	/* an integer rate is a float in Python */
	c = build(NULL, "{" CUSTOM "," RATE(0) "}");
	assert_string_equal(value(c, 0), "0.0");
	json_object_put(c);
}

/* Project mode: the project's rate; sentry:dynamic_sampling_biases. */
static void
test_project_mode_biases(void **state)
{
	static const char popts[] = "{" RATE(0.25) "," BIASES("["
	    BIAS("boostEnvironments", false) ","
	    BIAS("ignoreHealthChecks", true) ","
	    BIAS("boostReplayId", 0) ","
	    BIAS("unknownBias", true) ","
	    BIAS("ignoreHealthChecks", false) ","	/* the last one wins */
	    BIAS("ignoreHealthChecks", 1) "]") "}";
	json_object *c = build(popts, "{" CUSTOM "," MODE_PROJECT ","
	    RATE(0.9) "}");

	(void)state;
	golden("biases_off", c);
	assert_ids(popts, "{" CUSTOM "," MODE_PROJECT "," RATE(0.9) "}",
	    "1002,1000");
	assert_string_equal(value(c, 0), "0.08333333333333333");
	assert_string_equal(value(c, 1), "0.25");
	json_object_put(c);
	/* every bias off: the always-included rule only */
	assert_ids("{" RATE(0.25) "," BIASES("[" BIAS("boostEnvironments",
	    false) "," BIAS("ignoreHealthChecks", false) ","
	    BIAS("boostReplayId", false) "]") "}",
	    "{" CUSTOM "," MODE_PROJECT "}", "1000");
	/* no project rate in project mode: 1.0, not the org's */
	c = build(NULL, "{" CUSTOM "," MODE_PROJECT "," RATE(0.9) "}");
	assert_ids(NULL, "{" CUSTOM "," MODE_PROJECT "," RATE(0.9) "}",
	    "1000");
	assert_string_equal(value(c, 0), "1.0");
	json_object_put(c);
	/* organization mode ignores the project's rate */
	c = build("{" RATE(0.25) "}", "{" CUSTOM "," RATE(0.9) "}");
	assert_string_equal(value(c, 3), "0.9");
	json_object_put(c);
}

/* The guard: a base rate of 1.0 (or 0.0) gives the always-included only. */
static void
test_rate_one_guard(void **state)
{
	static const char all_on[] = "{" BIASES("["
	    BIAS("boostEnvironments", true) ","
	    BIAS("ignoreHealthChecks", true) ","
	    BIAS("boostReplayId", true) ","
	    BIAS("boostLatestRelease", true) ","
	    BIAS("recalibrationRule", true) ","
	    BIAS("boostLowVolumeTransactions", true) "]") "}";

	(void)state;
	assert_ids(all_on, "{" CUSTOM "," RATE(1.0) "}", "1000");
	assert_ids(all_on, "{" CUSTOM "," RATE(1) "}", "1000");
	assert_ids(all_on, "{" CUSTOM "," RATE(0.0) "}", "1000");
	assert_ids(all_on, "{" CUSTOM "}", "1000");
	assert_ids("{" RATE(1.0) "," BIASES("[" BIAS("ignoreHealthChecks",
	    true) "]") "}", "{" CUSTOM "," MODE_PROJECT "}", "1000");
	/* just below: the biases come back */
	assert_ids(all_on, "{" CUSTOM "," RATE(0.99) "}",
	    "1002,1005,1001,1000");
}

/*
 * is_recently_added: a project or organization added in the last ten
 * minutes is sampled in full below 1.0 (not in project mode).
 */
static void
test_recently_added(void **state)
{
	static const char oopts[] = "{" CUSTOM "," RATE(0.5) "}";
	const time_t now = time(NULL);
	json_object *c;

	(void)state;
	project.date_added = (int64_t)now - 60;
	c = build(NULL, oopts);
	assert_ids(NULL, oopts, "1000");
	assert_string_equal(value(c, 0), "1.0");
	json_object_put(c);
	project.date_added = (int64_t)now + 60;		/* clocks differ */
	assert_ids(NULL, oopts, "1000");
	project.date_added = (int64_t)now - 11 * 60;
	assert_ids(NULL, oopts, "1002,1005,1001,1000");

	org.date_added = (int64_t)now - 5 * 60;
	assert_ids(NULL, oopts, "1000");
	/* project mode returns the project's rate before the boost */
	assert_ids("{" RATE(0.5) "}", "{" CUSTOM "," MODE_PROJECT "}",
	    "1002,1005,1001,1000");
	org.date_added = (int64_t)now - 3600;
	assert_ids(NULL, oopts, "1002,1005,1001,1000");
	project.date_added = 0;
	org.date_added = 0;
}

/* minimumSampleRate: its org flag and its bias, any base rate. */
static void
test_minimum_rate(void **state)
{
	static const char on[] = "{" BIASES("[" BIAS("minimumSampleRate",
	    true) "]") "}";
	json_object *c = build(on, "{" CUSTOM_MIN "," RATE(0.5) "}");

	(void)state;
	golden("minimum_rate", c);
	assert_ids(on, "{" CUSTOM_MIN "," RATE(0.5) "}",
	    "1002,1005,1001,1006,1000");
	assert_string_equal(value(c, 3), "0.5");
	json_object_put(c);
	/* always allowed: also at 1.0 */
	assert_ids(on, "{" CUSTOM_MIN "," RATE(1.0) "}", "1006,1000");
	/* the flag alone does not switch the bias on (default inactive) */
	assert_ids(NULL, "{" CUSTOM_MIN "," RATE(0.5) "}",
	    "1002,1005,1001,1000");
	/* the bias without the flag is no rule */
	assert_ids(on, "{" CUSTOM "," RATE(0.5) "}", "1002,1005,1001,1000");
}

/* organizations:dynamic-sampling off, or the killswitch: no key. */
static void
test_flag_off_killswitch(void **state)
{
	json_object *c;

	(void)state;
	c = build(NULL, "{\"relaycfg:features\":"
	    "[\"-organizations:dynamic-sampling\"]}");
	assert_null(sampling(c));
	json_object_put(c);

	set_option("dynamic-sampling.config.killswitch", "true");
	c = build(NULL, "{" CUSTOM "," RATE(0.5) "}");
	assert_null(sampling(c));
	json_object_put(c);
	/* None is falsy: the key is back */
	set_option("dynamic-sampling.config.killswitch", "null");
	c = build(NULL, NULL);
	assert_non_null(sampling(c));
	json_object_put(c);
	set_option("dynamic-sampling.config.killswitch", "false");

	/* the install's flag off, the org switches it back on */
	conf->sentry.feature[sentryfeature_index(
	    "organizations:dynamic-sampling")] = false;
	c = build(NULL, NULL);
	assert_null(sampling(c));
	json_object_put(c);
	c = build(NULL, "{\"relaycfg:features\":"
	    "[\"organizations:dynamic-sampling\"]}");
	assert_non_null(sampling(c));
	json_object_put(c);
	conf->sentry.feature[sentryfeature_index(
	    "organizations:dynamic-sampling")] = true;
}

/* Untrusted option values: reported, treated as unset, never a crash. */
static void
test_bad_inputs(void **state)
{
	static const char *const bad_rates[] = {
		"\"0.5\"", "1.5", "-0.1", "true", "[0.5]", "{}", "null",
		"1e999",
	};
	static const char *const bad_biases[] = {
		"\"boostEnvironments\"", "{\"id\":\"boostEnvironments\"}", "7",
		"[1, null, \"x\", [], {\"id\": 3, \"active\": false},"
		" {\"active\": false}, {\"id\": \"boostEnvironments\"}]",
	};
	char o[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_rates) / sizeof(bad_rates[0]);
	    i++) {
		json_object *c;

		snprintf(o, sizeof(o), "{" CUSTOM ",\"sentry:target_sample_rate"
		    "\":%s}", bad_rates[i]);
		c = build(NULL, o);
		if (strcmp(text(c), "{\"version\":2,\"rules\":[{\"samplingValue"
		    "\":{\"type\":\"sampleRate\",\"value\":1.0},\"type\":"
		    "\"trace\",\"condition\":{\"op\":\"and\",\"inner\":[]},"
		    "\"id\":1000}]}") != 0)
			fail_msg("rate %s: %s", bad_rates[i], text(c));
		json_object_put(c);
	}
	/* a bad sampling mode is the default mode */
	assert_ids("{" RATE(0.25) "}", "{" CUSTOM ",\"sentry:sampling_mode\":"
	    "7," RATE(0.5) "}", "1002,1005,1001,1000");
	/* bad biases: the defaults (all three on at 0.5) */
	for (size_t i = 0; i < sizeof(bad_biases) / sizeof(bad_biases[0]);
	    i++) {
		char p[256];

		snprintf(p, sizeof(p), "{\"sentry:dynamic_sampling_biases\":"
		    "%s}", bad_biases[i]);
		assert_ids(p, "{" CUSTOM "," RATE(0.5) "}",
		    "1002,1005,1001,1000");
	}
}

/* sampling sits right after features, before breakdownsV2. */
static void
test_key_order(void **state)
{
	json_object *c = build(NULL, NULL), *config;
	const char *prev = NULL;
	bool seen = false;

	(void)state;
	assert_true(json_object_object_get_ex(c, "config", &config));
	json_object_object_foreach(config, k, v) {
		(void)v;
		if (strcmp(k, "sampling") == 0) {
			assert_non_null(prev);
			assert_string_equal(prev, "features");
			seen = true;
		} else if (strcmp(k, "breakdownsV2") == 0)
			assert_true(seen);
		prev = k;
	}
	assert_true(seen);
	json_object_put(c);
}

/* The rev depends on the value only: a parsed copy has the same one. */
static void
test_rev_round_trip(void **state)
{
	static const char *const orgs[] = {
		NULL, "{" CUSTOM "," RATE(0.5) "}",
		"{" CUSTOM "," RATE(3e-05) "}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(orgs) / sizeof(orgs[0]); i++)
		assert_rev_survives_build(NULL, orgs[i], NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_custom_rate_biases),
		cmocka_unit_test(test_project_mode_biases),
		cmocka_unit_test(test_rate_one_guard),
		cmocka_unit_test(test_recently_added),
		cmocka_unit_test(test_minimum_rate),
		cmocka_unit_test(test_flag_off_killswitch),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_rev_round_trip),
	};

	log_setup(LOG_LEVEL_ERROR, false);
	return cmocka_run_group_tests(tests, conf_setup, conf_teardown);
}
