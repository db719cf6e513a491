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

static struct model_org org = { .id = 7, .slug = "foo", .name = "Foo",
	.status = 0 };
static struct model_project project = { .id = 42, .organization_id = 7,
	.slug = "bar", .name = "Bar", .status = 0 };
static struct model_projectkey key1 = { .id = 101, .project_id = 42,
	.public_key = "e12d836b15bb49d7bbf99e64295d995b",
	.secret_key = "0123456789abcdef0123456789abcdef", .status = 0,
	.roles = 1 };
static struct conf *conf;

#define PER_ORG	\
	"sentry-metrics.cardinality-limiter.limits.sessions.per-org"
#define PASSIVE	"relay.cardinality-limiter.passive-limits-by-org"
#define LIMITS	"relay.cardinality-limiter.limits"

/* ------------------------------------------------------------------ */
/* Allocation failures (as in test_projectconfig.c).                   */

/*
 * On glibc, and unless AddressSanitizer owns malloc, this program replaces
 * malloc so that the OOM test can fail the n-th allocation of a build and
 * count the blocks still live afterwards.  Outside the test's window the
 * replacement only forwards to glibc.
 */
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define FAULT_INJECTION 1

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static bool fi_window;		/* counting and failing on */
static long fi_fail_at = -1;	/* index of the allocation to fail */
static long fi_count;		/* allocations seen in the window */
static long fi_live;		/* blocks allocated minus blocks freed */
static bool fi_paused;		/* inside json-c's tokener */

static bool
fi_fail(void)
{
	return fi_window && !fi_paused && fi_count++ == fi_fail_at;
}

/* json-c 0.16's tokener crashes by itself on OOM: no failure inside it. */
json_object *
json_tokener_parse(const char *str)
{
	static json_object *(*real)(const char *);
	json_object *rv;
	bool was = fi_paused;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "json_tokener_parse");
	fi_paused = true;
	rv = real(str);
	fi_paused = was;
	return rv;
}

void *
malloc(size_t n)
{
	void *p;

	if (fi_fail())
		return NULL;
	if ((p = __libc_malloc(n)) != NULL && fi_window)
		fi_live++;
	return p;
}

void *
calloc(size_t a, size_t n)
{
	void *p;

	if (fi_fail())
		return NULL;
	if ((p = __libc_calloc(a, n)) != NULL && fi_window)
		fi_live++;
	return p;
}

void *
realloc(void *old, size_t n)
{
	if (old == NULL)
		return malloc(n);
	if (fi_fail())
		return NULL;
	return __libc_realloc(old, n);
}

void
free(void *p)
{
	if (p != NULL && fi_window)
		fi_live--;
	__libc_free(p);
}
#endif

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

static json_object *
parse(const char *text)
{
	json_object *o;

	if (text == NULL)
		return NULL;
	o = json_tokener_parse(text);
	if (o == NULL)
		fail_msg("not JSON: %s", text);
	return o;
}

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

/* build - the content for options given as JSON text (NULL: none). */
static json_object *
build(const char *popts, const char *oopts)
{
	const struct model_projectkey *keys[] = { &key1 };
	json_object *p = parse(popts), *o = parse(oopts), *c;

	c = projectconfig_content(&project, &org, keys, 1, p, o, NULL, conf);
	assert_non_null(c);
	json_object_put(p);
	json_object_put(o);
	return c;
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

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* golden - {"metrics": ...} of c against tests/golden/metrics_<name>.json. */
static void
golden(const char *name, json_object *c)
{
	const char *top = getenv("top_srcdir");
	const char *w = getenv("RELAYCFG_GOLDEN_WRITE");
	json_object *got = json_object_new_object(), *want, *config, *m;
	char path[1024], *want_text;

	if (top == NULL)
		fail_msg("top_srcdir is not set (run through make check)");
	snprintf(path, sizeof(path), "%s/tests/golden/metrics_%s.json", top,
	    name);
	assert_true(json_object_object_get_ex(c, "config", &config));
	assert_true(json_object_object_get_ex(config, "metrics", &m));
	json_object_object_add(got, "metrics", json_object_get(m));
	if (w != NULL && strcmp(w, "1") == 0) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fprintf(f, "%s\n", json_object_to_json_string_ext(got,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
		fclose(f);
	}
	want_text = read_file(path);
	want = parse(want_text);
	if (!json_object_equal(got, want))
		fail_msg("%s differs from the golden file:\n%s", name,
		    json_object_to_json_string(got));
	assert_string_equal(json_object_to_json_string_ext(got,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    json_object_to_json_string_ext(want,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(got);
	json_object_put(want);
	free(want_text);
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
/*
 * fail_each - call make() with each of its allocations failing in turn:
 * it returns NULL or a whole object, and frees everything it made.
 * Returns the number of allocation points.
 */
static long
fail_each(json_object *(*make)(void *), void *arg, json_object *whole)
{
	long fail_at, points = 0, failures = 0;

	for (fail_at = 0;; fail_at++) {
		json_object *o;
		bool ok;

		fi_count = fi_live = 0;
		fi_fail_at = fail_at;
		fi_window = true;
		o = make(arg);
		ok = o != NULL;
		if (ok && !json_object_equal(o, whole))
			fail_msg("failing allocation %ld gave a partial object",
			    fail_at);
		json_object_put(o);
		fi_window = false;
		points++;
		if (fi_live != 0)
			fail_msg("failing allocation %ld leaves %ld blocks",
			    fail_at, fi_live);
		if (!ok)
			failures++;
		if (fi_count <= fail_at) {
			assert_true(ok);	/* nothing failed: must work */
			break;
		}
	}
	fi_fail_at = -1;
	assert_true(failures > 0);
	return points;
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
