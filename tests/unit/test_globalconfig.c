/*
 * test_globalconfig.c - the global config, from a real configuration file.
 *
 * tests/golden/global_config.json holds the expected text for the file
 * below; RELAYCFG_GOLDEN_WRITE=1 rewrites it (review the diff).
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
#include "globalconfig.h"
#include "log.h"

static struct conf *
load(const char *text)
{
	char path[] = "/tmp/relaycfg-gc-XXXXXX", err[512] = "";
	struct conf *c;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	c = conf_load(path, err, sizeof(err));
	unlink(path);
	if (c == NULL)
		fail_msg("conf_load: %s", err);
	return c;
}

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
    "global_option = relay.cardinality-limiter.error-sample-rate 0.01\n";

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

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
	struct conf *c = load(conf_text);
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

static void
test_options(void **state)
{
	struct conf *c = load(conf_text);
	json_object *gc = globalconfig_build(c), *opts;

	(void)state;
	opts = member(gc, "options");
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
	assert_int_equal(json_object_object_length(opts), 5);
	json_object_put(gc);
	conf_free(c);
}

static void
test_no_options(void **state)
{
	struct conf *c = conf_defaults();
	json_object *gc;

	(void)state;
	assert_non_null(c);
	gc = globalconfig_build(c);
	assert_non_null(gc);
	assert_false(json_object_object_get_ex(gc, "options", NULL));
	assert_true(json_object_object_get_ex(gc, "measurements", NULL));
	json_object_put(gc);
	conf_free(c);
}

static void
test_golden_text(void **state)
{
	struct conf *c = load(conf_text);
	char path[1024], *text, *want_text;
	const char *top = getenv("top_srcdir"), *w;
	json_object *got, *want;
	size_t len = 0;

	(void)state;
	if (top == NULL)
		fail_msg("top_srcdir is not set (run through make check)");
	snprintf(path, sizeof(path), "%s/tests/golden/global_config.json",
	    top);
	text = globalconfig_render(c, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_null(strstr(text, "\\/"));
	got = json_tokener_parse(text);
	assert_non_null(got);
	w = getenv("RELAYCFG_GOLDEN_WRITE");
	if (w != NULL && strcmp(w, "1") == 0) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fprintf(f, "%s\n", json_object_to_json_string_ext(got,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
		fclose(f);
	}
	want_text = read_file(path);
	want = json_tokener_parse(want_text);
	assert_non_null(want);
	assert_true(json_object_equal(got, want));
	assert_string_equal(text, json_object_to_json_string_ext(want,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(got);
	json_object_put(want);
	free(want_text);
	free(text);
	conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_measurements),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_no_options),
		cmocka_unit_test(test_golden_text),
	};

	log_setup(LOG_LEVEL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
