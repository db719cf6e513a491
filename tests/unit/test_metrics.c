/*
 * test_metrics.c - config.metrics (cardinality limits)
 *
 * Golden files tests/golden/metrics_*.json hold only {"metrics": ...}, so
 * that other sections' changes do not move them; they are compared
 * canonically and as plain text (the key order).  Regenerate with
 * RELAYCFG_GOLDEN_WRITE=1 and review the diff.
 *
 * Sentry's snapshot is the reference: getsentry/sentry
 * tests/sentry/relay/snapshots/test_config/
 * test_project_config_cardinality_limits/{True,False}/REGION.pysnap
 * @3566c2e466b1c38dce28f060b9c22a8c62624a50 (True, stored id 1935823634)
 * and @f3106b255d4134d484bcfbff50d5190c29d7ff5e (False, id 1405756740),
 * both created 2025-01-21, with the inputs of
 * tests/sentry/relay/test_config.py test_project_config_cardinality_limits
 * (@cc13354d87091a7db62e635a32fd82e2b90fea94, stored id 1331131126).
 * Those snapshots predate the 2026 registry (CARDINALITY_LIMIT_USE_CASES =
 * (SESSIONS,), stored id 68778270470): their transactions, spans and custom
 * limits are what the 2025 registry added and relaycfg, following 2026,
 * does not; every other limit is compared.  The YAML sorts keys, so the
 * key order is pinned by the golden files and by get_metrics_config
 * (@760f3f125a64: id, window, limit, scope, namespace, then passive).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "conf.h"
#include "globalconfig.h"
#include "log.h"
#include "model.h"
#include "projectconfig.h"
#include "sentryopts.h"
#include "pc_testlib.h"

#define PER_ORG	\
	"sentry-metrics.cardinality-limiter.limits.sessions.per-org"
#define PASSIVE	"relay.cardinality-limiter.passive-limits-by-org"
#define LIMITS	"relay.cardinality-limiter.limits"

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

/* A fresh install's settings for every test. */
static int
setup(void **state)
{
	(void)state;
	return (conf = conf_defaults()) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	conf_free(conf);
	conf = NULL;
	return 0;
}

/* set - Sentry option name = json, as a sentry_option line would. */
static void
set(const char *name, const char *json)
{
	char why[256];

	if (sentry_settings_set_option(&conf->sentry, name, json, why,
	    sizeof(why)) != 0)
		fail_msg("%s %s: %s", name, json, why);
}

/* limits - config.metrics.cardinalityLimits of content c. */
static json_object *
limits(json_object *c)
{
	json_object *config, *m, *l;

	assert_true(json_object_object_get_ex(c, "config", &config));
	assert_true(json_object_object_get_ex(config, "metrics", &m));
	assert_int_equal(json_object_object_length(m), 1);
	assert_true(json_object_object_get_ex(m, "cardinalityLimits", &l));
	assert_true(json_object_is_type(l, json_type_array));
	return l;
}

/* ids - the ids of the limits of c, comma-joined, in a static buffer. */
static const char *
ids(json_object *c)
{
	static char buf[512];
	json_object *l = limits(c);
	size_t n = json_object_array_length(l);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		json_object *id;

		assert_true(json_object_object_get_ex(
		    json_object_array_get_idx(l, i), "id", &id));
		if (i > 0)
			strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, json_object_get_string(id),
		    sizeof(buf) - strlen(buf) - 1);
	}
	return buf;
}

/* ids_of - ids() of a build with these options, the content dropped. */
static const char *
ids_of(const char *popts, const char *oopts)
{
	json_object *c = build(popts, oopts);
	const char *rv = ids(c);

	json_object_put(c);
	return rv;
}

/* golden - {"metrics": ...} of c against tests/golden/metrics_<name>.json. */
static void
golden(const char *name, json_object *c)
{
	static const char *const keys[] = { "metrics" };

	golden_keys("metrics_", name, c, keys, 1);
}

/* ------------------------------------------------------------------ */
/* Sentry's test, its inputs and its snapshot.                         */

#define LIM(id, ws, gs, l, extra) "{\"id\":\"" id "\",\"window\":" \
	"{\"windowSeconds\":" #ws ",\"granularitySeconds\":" #gs "}," \
	"\"limit\":" #l ",\"scope\":\"name\"" extra "}"

/* test_config.py: the Sentry option, the project's and the org's lists */
static const char sentry_limits[] = "["
	"{\"rollout_rate\":0,\"limit\":" LIM("test1", 7000, 700, 70, "") "},"
	"{\"rollout_rate\":1,\"limit\":"
	LIM("test2", 8000, 800, 80, ",\"report\":true") "}]";
static const char project_limits[] =
	"{\"" LIMITS "\":[{\"limit\":" LIM("test3", 9000, 900, 90, "") "}]}";
static const char org_limits[] =
	"{\"" LIMITS "\":[{\"limit\":" LIM("test4", 10000, 1000, 100, "") "}]}";

/* The snapshot's limits that relaycfg sends, YAML turned into JSON. */
static const char snapshot_true[] = "["
	"{\"id\":\"sessions\",\"limit\":20,\"namespace\":\"sessions\","
	"\"passive\":true,\"scope\":\"organization\",\"window\":"
	"{\"granularitySeconds\":200,\"windowSeconds\":2000}},"
	"{\"id\":\"test3\",\"limit\":90,\"scope\":\"name\",\"window\":"
	"{\"granularitySeconds\":900,\"windowSeconds\":9000}},"
	"{\"id\":\"test4\",\"limit\":100,\"scope\":\"name\",\"window\":"
	"{\"granularitySeconds\":1000,\"windowSeconds\":10000}},"
	"{\"id\":\"test2\",\"limit\":80,\"report\":true,\"scope\":\"name\","
	"\"window\":{\"granularitySeconds\":800,\"windowSeconds\":8000}}]";

static void
sentry_inputs(bool passive)
{
	set(PER_ORG, "[{\"window_seconds\":2000,\"granularity_seconds\":200,"
	    "\"limit\":20}]");
	if (passive)
		set(PASSIVE, "{\"7\":[\"sessions\",\"transactions\",\"spans\","
		    "\"profiles\",\"custom\"]}");
	set(LIMITS, sentry_limits);
}

/* same_as_snapshot - got equals the snapshot's list (less passive). */
static void
same_as_snapshot(json_object *got, bool passive)
{
	json_object *want = parse(snapshot_true);

	if (!passive)
		json_object_object_del(json_object_array_get_idx(want, 0),
		    "passive");
	if (!json_object_equal(got, want))
		fail_msg("got %s, Sentry's snapshot %s",
		    json_object_to_json_string(got),
		    json_object_to_json_string(want));
	json_object_put(want);
}

static void
test_sentry_snapshot(void **state)
{
	json_object *c;

	(void)state;
	sentry_inputs(true);
	c = build(project_limits, org_limits);
	same_as_snapshot(limits(c), true);
	golden("sentry_passive", c);
	json_object_put(c);
}

static void
test_sentry_snapshot_not_passive(void **state)
{
	json_object *c;

	(void)state;
	sentry_inputs(false);
	c = build(project_limits, org_limits);
	same_as_snapshot(limits(c), false);
	golden("sentry", c);
	json_object_put(c);
}

/*
 * test_config.py ..._project_options_override_other_options and
 * ..._organization_options_override_options: per-org options None, the
 * same id in every list; the first list that has it wins.
 */
static void
test_sentry_overrides(void **state)
{
	json_object *c, *want;

	(void)state;
	set(PER_ORG, "null");
	set(LIMITS, "[{\"limit\":" LIM("test1", 1000, 100, 10, "") "}]");
	c = build("{\"" LIMITS "\":[{\"limit\":{\"id\":\"test1\",\"window\":"
	    "{\"windowSeconds\":3000,\"granularitySeconds\":300},\"limit\":30,"
	    "\"scope\":\"project\"}}]}", "{\"" LIMITS "\":[{\"limit\":"
	    LIM("test1", 2000, 200, 20, "") "}]}");
	want = parse("[{\"id\":\"test1\",\"window\":{\"windowSeconds\":3000,"
	    "\"granularitySeconds\":300},\"limit\":30,\"scope\":\"project\"}]");
	assert_true(json_object_equal(limits(c), want));
	json_object_put(want);
	json_object_put(c);

	c = build(NULL, "{\"" LIMITS "\":[{\"limit\":{\"id\":\"test1\","
	    "\"window\":{\"windowSeconds\":2000,\"granularitySeconds\":200},"
	    "\"limit\":20,\"scope\":\"project\"}}]}");
	want = parse("[{\"id\":\"test1\",\"window\":{\"windowSeconds\":2000,"
	    "\"granularitySeconds\":200},\"limit\":20,\"scope\":\"project\"}]");
	assert_true(json_object_equal(limits(c), want));
	json_object_put(want);
	json_object_put(c);
}

/* ------------------------------------------------------------------ */
/* relaycfg's own cases.                                               */

/* A fresh project under self-hosted defaults: selfhosted-fidelity b.2. */
static void
test_default(void **state)
{
	json_object *c = build(NULL, NULL);

	(void)state;
	golden("default", c);
	assert_string_equal(ids(c), "sessions");
	json_object_put(c);
}

/* No limit at all still sends the key, as Sentry does. */
static void
test_empty(void **state)
{
	json_object *c;

	(void)state;
	set(PER_ORG, "null");
	c = build(NULL, NULL);
	golden("empty", c);
	assert_int_equal(json_object_array_length(limits(c)), 0);
	json_object_put(c);
}

/* metrics sits between breakdownsV2 and transactionMetrics. */
static void
test_key_order(void **state)
{
	json_object *c = build(NULL, NULL), *config;
	const char *want[] = { "breakdownsV2", "metrics",
	    "transactionMetrics" };
	size_t at = 0;

	(void)state;
	assert_true(json_object_object_get_ex(c, "config", &config));
	json_object_object_foreach(config, k, v) {
		(void)v;
		if (at < 3 && strcmp(k, want[at]) == 0)
			at++;
		else if (at > 0 && at < 3)
			fail_msg("%s between %s and %s", k, want[at - 1],
			    want[at]);
	}
	assert_int_equal(at, 3);
	json_object_put(c);
}

/* The per-org option: exactly one well-formed quota, or no limit. */
static void
test_per_org(void **state)
{
	static const char *const none[] = {
		"[]",
		"[{\"window_seconds\":3600,\"granularity_seconds\":600,"
		"\"limit\":1},{\"window_seconds\":3600,"
		"\"granularity_seconds\":600,\"limit\":2}]",
		"[{\"window_seconds\":3600,\"limit\":1}]",
		"[{\"window_seconds\":3600,\"granularity_seconds\":0,"
		"\"limit\":1}]",
		"[{\"window_seconds\":3600,\"granularity_seconds\":600,"
		"\"limit\":-1}]",
		"[{\"window_seconds\":3600,\"granularity_seconds\":600,"
		"\"limit\":4294967296}]",
		"[{\"window_seconds\":\"3600\",\"granularity_seconds\":600,"
		"\"limit\":1}]",
		"[{\"window_seconds\":null,\"granularity_seconds\":600,"
		"\"limit\":1}]",
		"[{\"window_seconds\":3600,\"granularity_seconds\":600.5,"
		"\"limit\":1}]",
		"[7]",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		set(PER_ORG, none[i]);
		if (strcmp(ids_of(NULL, NULL), "") != 0)
			fail_msg("%s gave a sessions limit", none[i]);
	}
	set(PER_ORG, "[{\"window_seconds\":3600,\"granularity_seconds\":3600,"
	    "\"limit\":4294967295,\"extra\":1}]");
	assert_string_equal(ids_of(NULL, NULL), "sessions");
}

/* Passive: the org's entry names the id (Python's "in"). */
static void
test_passive(void **state)
{
	static const struct {
		const char	*json;
		bool		 passive;
	} v[] = {
		{ "{\"7\":[\"sessions\"]}", true },
		{ "{\"7\":[\"transactions\"]}", false },
		{ "{\"8\":[\"sessions\"]}", false },
		{ "{\"7\":[]}", false },
		{ "{\"7\":\"sessions,spans\"}", true },	/* substring */
		{ "{\"7\":{\"sessions\":1}}", true },	/* a dict's keys */
		{ "{\"7\":7}", false },			/* reported */
		{ "{\"7\":null}", false },
		{ "{}", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_object *c, *p;
		bool got;

		set(PASSIVE, v[i].json);
		c = build(NULL, NULL);
		got = json_object_object_get_ex(json_object_array_get_idx(
		    limits(c), 0), "passive", &p);
		if (got != v[i].passive)
			fail_msg("%s: passive %d", v[i].json, got);
		if (got)
			assert_true(json_object_get_boolean(p));
		json_object_put(c);
	}
}

/* Rollout: (org id % 100000) / 100000 >= rollout_rate skips a limit. */
static void
test_rollout(void **state)
{
	(void)state;
	set(PER_ORG, "null");
	/* org 7: 0.00007 */
	assert_string_equal(ids_of("{\"" LIMITS "\":["
	    "{\"rollout_rate\":0.00007,\"limit\":" LIM("a", 60, 60, 1, "") "},"
	    "{\"rollout_rate\":0.00008,\"limit\":" LIM("b", 60, 60, 1, "") "},"
	    "{\"rollout_rate\":0,\"limit\":" LIM("c", 60, 60, 1, "") "},"
	    "{\"rollout_rate\":true,\"limit\":" LIM("d", 60, 60, 1, "") "},"
	    "{\"rollout_rate\":\"1\",\"limit\":" LIM("e", 60, 60, 1, "") "},"
	    "{\"rollout_rate\":null,\"limit\":" LIM("f", 60, 60, 1, "") "},"
	    "{\"limit\":" LIM("g", 60, 60, 1, "") "}]}", NULL), "b,d,g");
	/* org 100007 is 7 again; org 99999 is 0.99999 */
	org.id = project.organization_id = 99999;
	assert_string_equal(ids_of(NULL, "{\"" LIMITS "\":["
	    "{\"rollout_rate\":0.99999,\"limit\":" LIM("a", 60, 60, 1, "") "},"
	    "{\"rollout_rate\":1,\"limit\":" LIM("b", 60, 60, 1, "") "}]}"),
	    "b");
	org.id = project.organization_id = 7;
}

/* projects: a list the project is in (by value), or absent/null. */
static void
test_projects(void **state)
{
	(void)state;
	set(PER_ORG, "null");
	set(LIMITS, "[{\"projects\":[1,42],\"limit\":" LIM("a", 60, 60, 1, "")
	    "},{\"projects\":[43],\"limit\":" LIM("b", 60, 60, 1, "") "},"
	    "{\"projects\":[42.0],\"limit\":" LIM("c", 60, 60, 1, "") "},"
	    "{\"projects\":[\"42\"],\"limit\":" LIM("d", 60, 60, 1, "") "},"
	    "{\"projects\":null,\"limit\":" LIM("e", 60, 60, 1, "") "},"
	    "{\"projects\":42,\"limit\":" LIM("f", 60, 60, 1, "") "},"
	    "{\"projects\":[],\"limit\":" LIM("g", 60, 60, 1, "") "}]");
	assert_string_equal(ids_of(NULL, NULL), "a,c,e");
}

/*
 * Entries Sentry skips (no limit, no id), entries Relay would refuse
 * (left out, logged) and duplicates; the good ones around them stay.
 */
static void
test_bad_entries(void **state)
{
	(void)state;
	set(PER_ORG, "null");
	assert_string_equal(ids_of("{\"" LIMITS "\":["
	    "7,"
	    "{},"
	    "{\"limit\":{\"window\":{}}},"
	    "{\"limit\":null},"
	    "{\"limit\":\"x\"},"
	    "{\"limit\":" LIM("ok1", 60, 60, 1, "") "},"
	    "{\"limit\":{\"id\":5,\"window\":{\"windowSeconds\":1,"
	    "\"granularitySeconds\":1},\"limit\":1,\"scope\":\"name\"}},"
	    "{\"limit\":" LIM("g0", 60, 0, 1, "") "},"
	    "{\"limit\":" LIM("neg", 60, 60, -1, "") "},"
	    "{\"limit\":" LIM("big", 60, 60, 4294967296, "") "},"
	    "{\"limit\":" LIM("pas", 60, 60, 1, ",\"passive\":\"yes\"") "},"
	    "{\"limit\":" LIM("rep", 60, 60, 1, ",\"report\":null") "},"
	    "{\"limit\":" LIM("ns", 60, 60, 1, ",\"namespace\":5") "},"
	    "{\"limit\":{\"id\":\"sc\",\"window\":{\"windowSeconds\":1,"
	    "\"granularitySeconds\":1},\"limit\":1,\"scope\":1}},"
	    "{\"limit\":{\"id\":\"nowin\",\"limit\":1,\"scope\":\"name\"}},"
	    "{\"limit\":" LIM("ok1", 99, 99, 9, "") "},"
	    "{\"limit\":" LIM("ok2", 60, 60, 4294967295,
	    ",\"namespace\":null,\"passive\":true,\"unknown\":[1]") "}"
	    "]}", "{\"" LIMITS "\":\"not a list\"}"), "ok1,ok2");
}

/* Option limits go out as given: key order, extra keys, the first ok1. */
static void
test_passed_as_given(void **state)
{
	json_object *c;

	(void)state;
	set(LIMITS, "[{\"limit\":{\"scope\":\"project\",\"limit\":5,"
	    "\"window\":{\"granularitySeconds\":10,\"windowSeconds\":60},"
	    "\"namespace\":\"custom\",\"id\":\"mine\",\"x\":{\"y\":1}}}]");
	c = build(NULL, NULL);
	golden("as_given", c);
	json_object_put(c);
}

#ifdef FAULT_INJECTION
/* One make() under fi_fail_each, and the whole object it must give. */
struct whole_run {
	json_object	*(*make)(void *);
	void		*arg;
	json_object	*whole;
};

/* An attempt for fi_fail_each: NULL or the whole object, never a part. */
static bool
whole_or_nothing(void *p)
{
	struct whole_run *w = p;
	json_object *o = w->make(w->arg);
	bool ok = o != NULL;

	if (ok && !json_object_equal(o, w->whole))
		fail_msg("failing allocation %ld gave a partial object",
		    fi_fail_at);
	json_object_put(o);
	return ok;
}

/*
 * fail_each - call make() with each of its allocations failing in turn:
 * it returns NULL or a whole object, and frees everything it made.
 * Returns the number of allocation points.
 */
static long
fail_each(json_object *(*make)(void *), void *arg, json_object *whole)
{
	struct whole_run w = { make, arg, whole };

	return fi_fail_each(whole_or_nothing, &w);
}

static json_object *
make_content(void *arg)
{
	json_object **opts = arg;
	const struct model_projectkey *keys[] = { &key1 };

	return projectconfig_content(&project, &org, keys, 1, opts[0],
	    opts[1], NULL, conf);
}

static json_object *
make_global(void *arg)
{
	(void)arg;
	return globalconfig_build(conf);
}

/* Every limit source and the global config survive OOM anywhere. */
static void
test_allocation_failures(void **state)
{
	json_object *opts[2], *whole;
	long points;

	(void)state;
	sentry_inputs(true);
	opts[0] = parse(project_limits);
	opts[1] = parse(org_limits);
	log_setup(LOG_LEVEL_ERROR, false);
	/* one build outside the window: the shared constants it keeps */
	whole = make_content(opts);
	points = fail_each(make_content, opts, whole);
	json_object_put(whole);
	print_message("# project config: %ld allocation points\n", points);
	whole = make_global(NULL);
	points = fail_each(make_global, NULL, whole);
	json_object_put(whole);
	print_message("# global config: %ld allocation points\n", points);
	assert_true(points > 1000);
	log_setup(LOG_LEVEL_ERROR, false);
	json_object_put(opts[0]);
	json_object_put(opts[1]);
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sentry_snapshot, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_sentry_snapshot_not_passive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sentry_overrides, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_per_org, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_projects, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_entries, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_passed_as_given, setup,
		    teardown),
#ifdef FAULT_INJECTION
		cmocka_unit_test_setup_teardown(test_allocation_failures, setup,
		    teardown),
#endif
	};

	log_setup(LOG_LEVEL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
