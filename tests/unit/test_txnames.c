/*
 * test_txnames.c - txNameRules and txNameReady
 *
 * Sentry reads both from project options its transaction-name clusterer
 * writes (src/sentry/ingest/transaction_clusterer/rules.py
 * ProjectOptionRuleStore @5a3c8a82, stored id 1775837614; meta.py
 * get_clusterer_meta, stored id 13089740430) and builds them in
 * src/sentry/relay/config/__init__.py (get_transaction_names_config,
 * _get_tx_name_rule, MIN_CLUSTERER_RUNS; stored id 1344373578).
 *
 * The rules are those of Sentry's own
 * test_transaction_clusterer_generates_rules
 * (tests/sentry/ingest/test_transaction_clusterer.py, stored id
 * 3557444202): the rules RULES below, last seen at 0 and 1.  That test
 * predates the newest _get_tx_name_rule, which no longer sends "scope" and
 * writes the expiry with "Z" instead of "+00:00"; the expected rules
 * below are the newest shape.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "pc_testlib.h"

#define RULES	"\"sentry:transaction_name_cluster_rules\":" \
		"[[\"/rule/*/0/**\",0],[\"/rule/*/1/**\",1]]"

static const char *
plain(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

static bool
has(json_object *c, const char *key)
{
	return json_object_object_get_ex(get(c, "config", NULL), key, NULL);
}

/* A fresh project: the clusterer has not run, no rules, not ready. */
static void
test_fresh(void **state)
{
	json_object *c;

	(void)state;
	c = build(NULL, NULL);
	assert_false(has(c, "txNameRules"));
	assert_false(has(c, "txNameReady"));
	json_object_put(c);
}

static void
test_rules(void **state)
{
	json_object *c, *k;
	char order[512] = "";

	(void)state;
	c = build("{" RULES "}", NULL);
	assert_string_equal(plain(get(c, "config", "txNameRules", NULL)),
	    "[{\"pattern\":\"/rule/*/0/**\",\"expiry\":\"1970-04-01T00:00:00Z\","
	    "\"redaction\":{\"method\":\"replace\",\"substitution\":\"*\"}},"
	    "{\"pattern\":\"/rule/*/1/**\",\"expiry\":\"1970-04-01T00:00:01Z\","
	    "\"redaction\":{\"method\":\"replace\",\"substitution\":\"*\"}}]");
	assert_false(has(c, "txNameReady"));
	/* right after sampling, as _get_project_config adds it */
	k = get(c, "config", NULL);
	json_object_object_foreach(k, name, v) {
		(void)v;
		if (strcmp(name, "sampling") == 0 ||
		    strcmp(name, "txNameRules") == 0 ||
		    strcmp(name, "breakdownsV2") == 0) {
			strcat(order, name);
			strcat(order, ",");
		}
	}
	assert_string_equal(order, "sampling,txNameRules,breakdownsV2,");
	json_object_put(c);

	/* a realistic last_seen; a whole float is the same time */
	c = build("{\"sentry:transaction_name_cluster_rules\":"
	    "[[\"/api/*/users/**\",1700000000.0]]}", NULL);
	assert_string_equal(plain(get(json_object_array_get_idx(get(c,
	    "config", "txNameRules", NULL), 0), "expiry", NULL)),
	    "\"2024-02-12T22:13:20Z\"");
	json_object_put(c);

	/* none stored: no key */
	c = build("{\"sentry:transaction_name_cluster_rules\":[]}", NULL);
	assert_false(has(c, "txNameRules"));
	json_object_put(c);
}

/* organizations:transaction-name-normalize (on by default) gates them. */
static void
test_flag(void **state)
{
	json_object *c;

	(void)state;
	c = build("{" RULES "}", "{\"relaycfg:features\":"
	    "[\"-organizations:transaction-name-normalize\"]}");
	assert_false(has(c, "txNameRules"));
	json_object_put(c);
}

/* txNameReady: at least MIN_CLUSTERER_RUNS (10) runs; no flag needed. */
static void
test_ready(void **state)
{
	json_object *c;

	(void)state;
	c = build("{\"sentry:transaction_name_cluster_meta\":"
	    "{\"runs\":9,\"first_run\":1,\"last_run\":2}}", NULL);
	assert_false(has(c, "txNameReady"));
	json_object_put(c);
	c = build("{\"sentry:transaction_name_cluster_meta\":"
	    "{\"runs\":10,\"first_run\":1,\"last_run\":2}," RULES "}",
	    "{\"relaycfg:features\":"
	    "[\"-organizations:transaction-name-normalize\"]}");
	assert_string_equal(plain(get(c, "config", "txNameReady", NULL)),
	    "true");
	assert_false(has(c, "txNameRules"));
	json_object_put(c);
	c = build("{\"sentry:transaction_name_cluster_meta\":"
	    "{\"runs\":999}," RULES "}", NULL);
	assert_true(has(c, "txNameRules"));
	assert_string_equal(plain(get(c, "config", "txNameReady", NULL)),
	    "true");
	json_object_put(c);
}

/*
 * An entry Sentry could not turn into a rule loses the whole key (as
 * add_experimental_config does), logged; the rest of the config stays.
 */
static void
test_bad_entries(void **state)
{
	static const char *const bad[] = {
		"[[\"/a/*/**\",1],[\"/b/*/**\"]]",
		"[[\"/a/*/**\",\"1\"]]",
		"[[\"/a/*/**\",1.5]]",
		"[[7,1]]",
		"[\"/a/*/**\"]",
		"[[\"/a/*/**\",1,2]]",
		"[[\"/a/*/**\",253402300799]]",
	};
	char opts[256], *log;
	json_object *c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(opts, sizeof(opts),
		    "{\"sentry:transaction_name_cluster_rules\":%s}", bad[i]);
		capture_start();
		c = build(opts, NULL);
		log = capture_stop();
		if (has(c, "txNameRules"))
			fail_msg("%s: txNameRules sent", bad[i]);
		assert_non_null(strstr(log, "txNameRules left out"));
		assert_true(has(c, "sampling"));
		free(log);
		json_object_put(c);
	}
	/* not a list at all: the default, no rules */
	capture_start();
	c = build("{\"sentry:transaction_name_cluster_rules\":{\"a\":1},"
	    "\"sentry:transaction_name_cluster_meta\":[10]}", NULL);
	log = capture_stop();
	assert_false(has(c, "txNameRules"));
	assert_false(has(c, "txNameReady"));
	assert_non_null(strstr(log, "sentry:transaction_name_cluster_meta"));
	free(log);
	json_object_put(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_flag),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_bad_entries),
	};

	return cmocka_run_group_tests(tests, conf_setup, conf_teardown);
}
