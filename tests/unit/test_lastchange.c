/*
 * test_lastchange.c - the project revision behind the persisted
 * lastChange: blind to what differs from key to key (publicKeys, key
 * quotas), moved by anything else, independent of key order; and the
 * answers without a store.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "lastchange.h"

/* A config of project 2 as key KEY with key quota LIMIT. */
#define CONTENT(key, id, limit, plimit, origin)				\
	"{\"disabled\":false,\"slug\":\"web\",\"publicKeys\":[{"	\
	"\"publicKey\":\"" key "\",\"numericId\":" id ","		\
	"\"isEnabled\":true}],\"config\":{\"allowedDomains\":[\""	\
	origin "\"],\"quotas\":[{\"id\":\"k\",\"scope\":\"key\","	\
	"\"scopeId\":\"" id "\",\"limit\":" limit ",\"window\":60},"	\
	"{\"id\":\"p\",\"scope\":\"project\",\"scopeId\":\"2\","	\
	"\"limit\":" plimit ",\"window\":60}]},\"organizationId\":1,"	\
	"\"projectId\":2}"

/* The project revision of JSON text s. */
static void
prev_of(const char *s, char out[PROJECTCONFIG_REV_LEN + 1])
{
	json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	assert_int_equal(lastchange_project_rev(o, out), 0);
	json_object_put(o);
}

/* The key's rev (projectconfig_rev) of JSON text s. */
static void
rev_of(const char *s, char out[PROJECTCONFIG_REV_LEN + 1])
{
	json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	assert_int_equal(projectconfig_rev(o, out), 0);
	json_object_put(o);
}

static void
test_keys_agree(void **state)
{
	char p1[33], p2[33], r1[33], r2[33];

	(void)state;
	prev_of(CONTENT("aaaa", "1", "10", "5", "*"), p1);
	prev_of(CONTENT("bbbb", "3", "20", "5", "*"), p2);
	rev_of(CONTENT("aaaa", "1", "10", "5", "*"), r1);
	rev_of(CONTENT("bbbb", "3", "20", "5", "*"), r2);
	assert_string_equal(p1, p2);	/* one project revision */
	assert_string_not_equal(r1, r2);	/* two key revisions */
	assert_string_not_equal(p1, r1);
	assert_int_equal(strlen(p1), 32);
}

/*
 * A key with a rate limit and one without, in a project without quotas of
 * its own: "quotas" holds only the key quota, or is not there at all.
 * One project revision (else lastChange moved at every build that
 * alternated between them).
 */
static void
test_key_quota_alone(void **state)
{
	char p1[33], p2[33], p3[33];

	(void)state;
	prev_of("{\"disabled\":false,\"slug\":\"web\",\"config\":{"
	    "\"allowedDomains\":[\"*\"],\"quotas\":[{\"id\":\"k\","
	    "\"scope\":\"key\",\"scopeId\":\"3\",\"limit\":10,"
	    "\"window\":60}]},\"projectId\":2}", p1);
	prev_of("{\"disabled\":false,\"slug\":\"web\",\"config\":{"
	    "\"allowedDomains\":[\"*\"]},\"projectId\":2}", p2);
	assert_string_equal(p1, p2);
	/* A project quota alone still counts. */
	prev_of("{\"disabled\":false,\"slug\":\"web\",\"config\":{"
	    "\"allowedDomains\":[\"*\"],\"quotas\":[{\"id\":\"p\","
	    "\"scope\":\"project\",\"scopeId\":\"2\",\"limit\":10,"
	    "\"window\":60}]},\"projectId\":2}", p3);
	assert_string_not_equal(p2, p3);
}

/* The text of tests/golden/<name>.json, parsed. */
static json_object *
golden_json(const char *name)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	json_object *o;

	assert_non_null(top);
	snprintf(path, sizeof(path), "%s/tests/golden/%s.json", top, name);
	o = json_object_from_file(path);
	assert_non_null(o);
	return o;
}

/*
 * The digests persisted pairs depend on, pinned: whatever computes them,
 * a stored project revision must stay the same bytes (or every project
 * would get a new lastChange).  Values as computed on 2026-12-06, and
 * for the goldens again on 2026-12-07, when their content changed (React
 * error 421 joined the hydration filter, then the monitor quota joined
 * quotas): a content change moves them, the algorithm must not.
 */
static void
test_digests_pinned(void **state)
{
	static const struct {
		const char	*file;
		const char	*rev;
		const char	*prev;
	} pins[] = {
		/* a key quota beside the monitor quota: the key's left out */
		{ "key_quota", "c0f975b05f0022ec124790b573934931",
		    "ae3ff969ea9fdd15d68210103aa616d3" },
		{ "fresh_project", "70245d74a1176e812127b409eac72f1c",
		    "873a06c5efd25e9f8324c92b7d799f3b" },
		{ "datascrubbing", "fd4e1fccecd74dde27bfcbe8cea7790a",
		    "009ce28e7f4fa7ac01c376b69b77a23b" },
		{ "filters_custom", "add08eae049d852c5e1d34a02636694d",
		    "c9e837f7d9bd8b5706de9bd550bc64af" },
		{ "features", "a1cb966020af5b699a4230a6aae0de09",
		    "df22c45e1c615d301be05cdcf85e5f70" },
		/* a key quota beside a project quota: the list kept */
		{ NULL, "fb407c6313f1c38facd6dd09a5123cab",
		    "2277175b533ec38d59aa99d1922d126f" },
	};
	char rev[33], prev[33];

	(void)state;
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		json_object *o = pins[i].file != NULL ?
		    golden_json(pins[i].file) :
		    json_tokener_parse(CONTENT("aaaa", "1", "10", "5", "*"));

		assert_non_null(o);
		assert_int_equal(projectconfig_rev(o, rev), 0);
		assert_int_equal(lastchange_project_rev(o, prev), 0);
		assert_string_equal(rev, pins[i].rev);
		assert_string_equal(prev, pins[i].prev);
		/* Both in one walk, as a build does. */
		memset(rev, 0, sizeof(rev));
		memset(prev, 0, sizeof(prev));
		assert_int_equal(lastchange_revs(o, rev, prev), 0);
		assert_string_equal(rev, pins[i].rev);
		assert_string_equal(prev, pins[i].prev);
		json_object_put(o);
	}
}

static void
test_moves_with_project(void **state)
{
	char p1[33], p2[33], p3[33];

	(void)state;
	prev_of(CONTENT("aaaa", "1", "10", "5", "*"), p1);
	prev_of(CONTENT("aaaa", "1", "10", "6", "*"), p2);
	prev_of(CONTENT("aaaa", "1", "10", "5", "https://example.com"), p3);
	assert_string_not_equal(p1, p2);	/* a project quota */
	assert_string_not_equal(p1, p3);	/* an option */
	assert_string_not_equal(p2, p3);
}

static void
test_order_and_input(void **state)
{
	char p1[33], p2[33];
	json_object *o = json_tokener_parse(
	    CONTENT("aaaa", "1", "10", "5", "*"));
	const char *before;

	(void)state;
	/* The same members in another order. */
	prev_of(CONTENT("aaaa", "1", "10", "5", "*"), p1);
	prev_of("{\"projectId\":2,\"organizationId\":1,\"config\":{\"quotas\":"
	    "[{\"window\":60,\"limit\":5,\"scopeId\":\"2\",\"scope\":"
	    "\"project\",\"id\":\"p\"}],\"allowedDomains\":[\"*\"]},"
	    "\"slug\":\"web\",\"disabled\":false}", p2);
	assert_string_equal(p1, p2);
	/* The content itself is left as it was. */
	before = strdup(json_object_to_json_string(o));
	assert_int_equal(lastchange_project_rev(o, p2), 0);
	assert_string_equal(before, json_object_to_json_string(o));
	free((void *)before);
	json_object_put(o);
	/* Not an object: refused. */
	o = json_object_new_array();
	assert_int_equal(lastchange_project_rev(o, p2), -1);
	json_object_put(o);
}

static void
test_wanted_and_no_store(void **state)
{
	static const char now[] = "2026-01-02T03:04:05.000006Z";
	struct lastchange_req r[2];
	json_object *d = json_tokener_parse("{\"disabled\":true}");
	json_object *e = json_tokener_parse(
	    CONTENT("aaaa", "1", "10", "5", "*"));

	(void)state;
	assert_false(lastchange_wanted(d));
	assert_true(lastchange_wanted(e));
	json_object_put(d);
	json_object_put(e);
	memset(r, 0, sizeof(r));
	r[0].project_id = 2;
	r[1].project_id = 2;
	lastchange_resolve(NULL, r, 2, now);
	assert_string_equal(r[0].last_change, now);
	assert_string_equal(r[1].last_change, now);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_agree),
		cmocka_unit_test(test_key_quota_alone),
		cmocka_unit_test(test_digests_pinned),
		cmocka_unit_test(test_moves_with_project),
		cmocka_unit_test(test_order_and_input),
		cmocka_unit_test(test_wanted_and_no_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
