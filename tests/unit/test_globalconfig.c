/*
 * test_globalconfig.c - the global config, from a real configuration file.
 *
 * tests/golden/global_config.json holds the expected text for the file
 * below; RELAYCFG_GOLDEN_WRITE=1 rewrites it (review the diff).
 *
 * Sentry's references: get_global_config and RELAY_OPTIONS of
 * src/sentry/relay/globalconfig.py @0260dc5d83362c (stored id 8628805263)
 * plus relay.endpoint-fetch-config.enabled (2026); the option defaults of
 * the 2026 options inventory (stored id 55079385160); metricExtraction
 * from src/sentry/relay/config/metric_extraction.py @ef9d0f9ca038 (stored
 * id 1285069730), whose numbers were checked against Python's own repr()
 * of the same arithmetic when the golden file was written.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "conf.h"
#include "conf_testlib.h"
#include "gc_outliers.h"
#include "globalconfig.h"
#include "log.h"
#include "pc_testlib.h"

static const char conf_text[] =
    "db_socket = /run/mysqld/mysqld.sock\n"
    "db_name = sentry\n"
    "global_option = relay.endpoint-fetch-config.enabled true\n"
    "global_option = relay.span-usage-metric false\n"
    "global_option = relay.span-normalization.allowed_hosts "
    "[\"api.example/v1\", \"x\"]\n"
    "global_option = relay.cardinality-limiter.mode \"enabled\"\n"
    "global_option = relay.drop-transaction-attachments null\n"
    "global_option = relay.span-usage-metric true\n"
    "global_option = relay.cardinality-limiter.error-sample-rate 0.01\n"
    "global_option = relay.not-in-the-table {\"a\": [1]}\n"
    "sentry_option = relay.sessions-eap.rollout-rate 0.25\n"
    "global_option = relay.dropped-extra 1\n"
    "global_option = relay.dropped-extra null\n";

static json_object *
member(json_object *o, const char *k)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, k, &v));
	return v;
}

static void
test_measurements(void **state)
{
	struct conf *c = conf_from_text(conf_text);
	json_object *gc = globalconfig_build(c), *m, *list;

	(void)state;
	assert_non_null(gc);
	m = member(gc, "measurements");
	list = member(m, "builtinMeasurements");
	assert_int_equal(json_object_array_length(list), 21);
	for (size_t i = 0; i < 21; i++) {
		json_object *e = json_object_array_get_idx(list, i);
		const char *unit = json_object_get_string(member(e, "unit"));

		assert_int_equal(json_object_object_length(e), 2);
		assert_true(json_object_get_string_len(member(e, "name")) > 0);
		assert_true(strcmp(unit, "millisecond") == 0 ||
		    strcmp(unit, "none") == 0 || strcmp(unit, "ratio") == 0);
	}
	assert_string_equal(json_object_get_string(member(
	    json_object_array_get_idx(list, 0), "name")), "app_start_cold");
	assert_string_equal(json_object_get_string(member(
	    json_object_array_get_idx(list, 20), "name")),
	    "time_to_initial_display");
	assert_int_equal(json_object_get_int(member(m,
	    "maxCustomMeasurements")), 10);
	json_object_put(gc);
	conf_free(c);
}

/* keys - the keys of o, comma-joined, in a static buffer. */
static const char *
keys(json_object *o)
{
	static char buf[2048];

	buf[0] = '\0';
	json_object_object_foreach(o, k, v) {
		(void)v;
		if (buf[0] != '\0')
			strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, k, sizeof(buf) - strlen(buf) - 1);
	}
	return buf;
}

static void
test_options(void **state)
{
	struct conf *c = conf_from_text(conf_text);
	json_object *gc = globalconfig_build(c), *opts;

	(void)state;
	assert_string_equal(keys(gc), "measurements,aiModelMetadata,"
	    "metricExtraction,spanOpDefaults,options");
	/* offline, ai_model_metadata_config() is None: the key, null */
	assert_null(member(gc, "aiModelMetadata"));
	opts = member(gc, "options");
	/* RELAY_OPTIONS order, whatever the file's; then the extra keys */
	assert_string_equal(keys(opts),
	    "profiling.profile_metrics.unsampled_profiles.platforms,"
	    "profiling.profile_metrics.unsampled_profiles.sample_rate,"
	    "profiling.profile_metrics.unsampled_profiles.enabled,"
	    "relay.span-usage-metric,"
	    "relay.cardinality-limiter.mode,"
	    "relay.cardinality-limiter.error-sample-rate,"
	    "relay.metric-bucket-set-encodings,"
	    "relay.metric-bucket-distribution-encodings,"
	    "relay.span-normalization.allowed_hosts,"
	    "replay.relay-snuba-publishing-disabled.sample-rate,"
	    "relay.sessions-eap.rollout-rate,"
	    "relay.endpoint-fetch-config.enabled,"
	    "relay.not-in-the-table");
	assert_string_equal(json_object_to_json_string_ext(member(opts,
	    "relay.sessions-eap.rollout-rate"), JSON_C_TO_STRING_PLAIN),
	    "0.25");
	assert_string_equal(json_object_to_json_string_ext(member(opts,
	    "relay.not-in-the-table"), JSON_C_TO_STRING_PLAIN), "{\"a\":[1]}");
	/* Relay treats a missing endpoint-fetch-config option as false */
	assert_true(json_object_is_type(member(opts,
	    "relay.endpoint-fetch-config.enabled"), json_type_boolean));
	assert_true(json_object_get_boolean(member(opts,
	    "relay.endpoint-fetch-config.enabled")));
	/* the later line wins, at the place of the first */
	assert_true(json_object_get_boolean(member(opts,
	    "relay.span-usage-metric")));
	/* null values are left out, as Sentry leaves out None */
	assert_false(json_object_object_get_ex(opts,
	    "relay.drop-transaction-attachments", NULL));
	assert_false(json_object_object_get_ex(opts, "relay.dropped-extra",
	    NULL));
	json_object_put(gc);
	conf_free(c);
}

/*
 * A fresh install: every RELAY_OPTIONS option at Sentry's default,
 * falsy ones included (Sentry skips None only): selfhosted-fidelity b.5.
 */
static void
test_default_options(void **state)
{
	struct conf *c = conf_defaults();
	json_object *gc;

	(void)state;
	assert_non_null(c);
	gc = globalconfig_build(c);
	assert_non_null(gc);
	assert_string_equal(json_object_to_json_string_ext(member(gc,
	    "options"), JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE),
	    "{\"profiling.profile_metrics.unsampled_profiles.platforms\":[],"
	    "\"profiling.profile_metrics.unsampled_profiles.sample_rate\":0.0,"
	    "\"profiling.profile_metrics.unsampled_profiles.enabled\":false,"
	    "\"relay.span-usage-metric\":false,"
	    "\"relay.cardinality-limiter.mode\":\"enabled\","
	    "\"relay.cardinality-limiter.error-sample-rate\":0.01,"
	    "\"relay.metric-bucket-set-encodings\":{},"
	    "\"relay.metric-bucket-distribution-encodings\":{},"
	    "\"relay.span-normalization.allowed_hosts\":[],"
	    "\"relay.drop-transaction-attachments\":false,"
	    "\"replay.relay-snuba-publishing-disabled.sample-rate\":0.0,"
	    "\"relay.sessions-eap.rollout-rate\":0.0,"
	    "\"relay.endpoint-fetch-config.enabled\":true}");
	json_object_put(gc);
	conf_free(c);
}

/* Python's repr() of a float, which Sentry's JSON writes. */
static void
test_float_repr(void **state)
{
	static const struct {
		double		 d;
		const char	*want;
	} v[] = {
		{ 0.0, "0.0" }, { -0.0, "-0.0" }, { 16.0, "16.0" },
		{ 0.1, "0.1" }, { 0.3, "0.3" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 16123.0, "16123.0" }, { 123.456, "123.456" },
		{ 0.0001, "0.0001" }, { 0.00001, "1e-05" },
		{ 1.5e-5, "1.5e-05" }, { 1e16, "1e+16" },
		{ 9999999999999998.0, "9999999999999998.0" },
		{ 1.2345e20, "1.2345e+20" }, { -2.5, "-2.5" },
		{ 7942.8000576496124, "7942.800057649612" },
		{ 1e-300, "1e-300" }, { 1.7976931348623157e308,
		    "1.7976931348623157e+308" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(gc_float_repr(v[i].d, buf, sizeof(buf)), 0);
		assert_string_equal(buf, v[i].want);
	}
	assert_int_equal(gc_float_repr(16123.0, buf, 7), -1);
	assert_int_equal(gc_float_repr(16123.0, buf, 8), 0);
}

/*
 * metricExtraction: one histogram_outliers group, enabled; a rule per
 * target metric, then inlier and outlier; 53 outlier tags from the 50
 * rows (the rows without data have none).
 */
static void
test_metric_extraction(void **state)
{
	struct conf *c = conf_defaults();
	json_object *gc = globalconfig_build(c), *g, *tags, *t;
	size_t n = 0;

	(void)state;
	g = member(member(member(gc, "metricExtraction"), "groups"),
	    "histogram_outliers");
	assert_string_equal(keys(g), "isEnabled,tags");
	assert_true(json_object_get_boolean(member(g, "isEnabled")));
	tags = member(g, "tags");
	assert_int_equal(json_object_array_length(tags), 5);
	for (size_t i = 0; i < 3; i++)
		n += json_object_array_length(member(
		    json_object_array_get_idx(tags, i), "tags"));
	assert_int_equal(n, 53);
	/* javascript pageload: 5185 + 3 * |5185 - 1539| */
	t = json_object_array_get_idx(member(json_object_array_get_idx(tags,
	    0), "tags"), 0);
	assert_string_equal(json_object_to_json_string_ext(t,
	    JSON_C_TO_STRING_PLAIN),
	    "{\"condition\":{\"op\":\"and\",\"inner\":["
	    "{\"op\":\"eq\",\"name\":\"event.contexts.trace.op\","
	    "\"value\":\"pageload\"},"
	    "{\"op\":\"eq\",\"name\":\"event.platform\","
	    "\"value\":\"javascript\"},"
	    "{\"op\":\"gte\",\"name\":\"event.duration\","
	    "\"value\":16123.0}]},"
	    "\"key\":\"histogram_outlier\",\"value\":\"outlier\"}");
	assert_string_equal(json_object_to_json_string_ext(
	    json_object_array_get_idx(tags, 3), JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE),
	    "{\"metrics\":[\"d:transactions/duration@millisecond\","
	    "\"d:transactions/measurements.lcp@millisecond\","
	    "\"d:transactions/measurements.fcp@millisecond\"],\"tags\":["
	    "{\"condition\":{\"op\":\"and\",\"inner\":[{\"op\":\"gte\","
	    "\"name\":\"event.duration\",\"value\":0}]},"
	    "\"key\":\"histogram_outlier\",\"value\":\"inlier\"}]}");
	json_object_put(gc);
	conf_free(c);
}

static void
test_golden_text(void **state)
{
	struct conf *c = conf_from_text(conf_text);
	json_object *got;
	char *text;
	size_t len = 0;

	(void)state;
	text = globalconfig_render(c, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_null(strstr(text, "\\/"));
	got = parse(text);
	golden_check("", "global_config", got, text);
	json_object_put(got);
	free(text);
	conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_measurements),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_default_options),
		cmocka_unit_test(test_float_repr),
		cmocka_unit_test(test_metric_extraction),
		cmocka_unit_test(test_golden_text),
	};

	log_setup(LOG_LEVEL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
