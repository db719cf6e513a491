/*
 * test_metrics_core.c - the shared metrics region: no-op before create,
 * counters, gauges and histograms summed over slots written by forked
 * children, vacated slots, and the Prometheus text they render to.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"

/* The rendered text of the region now; the caller frees it. */
static char *
render(const char *const *servers, size_t n)
{
	struct metrics_snapshot *s = metrics_snapshot_new();
	char *text;
	size_t len = 0;

	assert_non_null(s);
	text = metrics_render_prometheus(s, servers, n, &len);
	metrics_snapshot_free(s);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/* Does text hold line as a whole line? */
static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void
expect_line(const char *text, const char *line)
{
	if (!has_line(text, line)) {
		fprintf(stderr, "missing line: %s\n", line);
		fail();
	}
}

/*
 * Runs first, before metrics_create: everything is a no-op, nothing is
 * read (relaycfgctl and the other unit tests run this way).
 */
static void
test_off_before_create(void **state)
{
	(void)state;
	assert_false(metrics_enabled());
	metrics_inc(MF_REQUESTS, 0, 0, 0);
	metrics_observe(MF_REQUEST_SECONDS, 0, 0.5);
	metrics_set(MF_IN_FLIGHT, 0, 1);
	metrics_attach(0, 1);
	metrics_vacate(0);
	assert_null(metrics_snapshot_new());
	assert_null(metrics_render_prometheus(NULL, NULL, 0, NULL));
}

static void
test_create_and_counters(void **state)
{
	char *t;

	(void)state;
	assert_int_equal(metrics_create(), 0);
	assert_true(metrics_enabled());
	assert_int_equal(metrics_create(), 0);	/* once only */
	t = render(NULL, 0);
	/* every family has its HELP and TYPE, zero series included */
	expect_line(t, "# HELP relaycfg_configs_built_total Project configs "
	    "built (cache misses and changes).");
	expect_line(t, "# TYPE relaycfg_configs_built_total counter");
	expect_line(t, "# TYPE relaycfg_requests_in_flight gauge");
	expect_line(t, "# TYPE relaycfg_request_duration_seconds histogram");
	expect_line(t, "relaycfg_configs_built_total 0");
	/* multi-label counters show only the series that moved */
	assert_null(strstr(t, "relaycfg_requests_total{"));
	free(t);

	metrics_inc(MF_CONFIGS_BUILT, 0, 0, 0);
	metrics_add(MF_CONFIGS_BUILT, 0, 0, 0, 41);
	metrics_inc(MF_REQUESTS, ME_PROJECTCONFIGS, MV_3,
	    metrics_status_label(200));
	metrics_inc(MF_REQUESTS, ME_PROJECTCONFIGS, MV_3,
	    metrics_status_label(200));
	metrics_inc(MF_REQUESTS, ME_LIVE, MV_NONE, metrics_status_label(401));
	metrics_inc(MF_AUTH, MA_BAD_SIGNATURE, 0, 0);
	t = render(NULL, 0);
	expect_line(t, "relaycfg_configs_built_total 42");
	expect_line(t, "relaycfg_requests_total{endpoint=\"projectconfigs\","
	    "version=\"3\",status=\"200\"} 2");
	expect_line(t, "relaycfg_requests_total{endpoint=\"live\","
	    "version=\"none\",status=\"401\"} 1");
	/* single-label counters show every value */
	expect_line(t, "relaycfg_auth_total{outcome=\"bad_signature\"} 1");
	expect_line(t, "relaycfg_auth_total{outcome=\"ok\"} 0");
	free(t);
}

/* Out-of-range label indexes count under the list's last value. */
static void
test_catch_all_label(void **state)
{
	char *t;

	(void)state;
	metrics_inc(MF_CACHE, 999, MCR_HIT, 0);
	metrics_inc(MF_CACHE, MCK_OTHER, 77, 0);
	metrics_inc(MF_REQUESTS, 12345, 99, metrics_status_label(418));
	t = render(NULL, 0);
	expect_line(t, "relaycfg_cache_requests_total{kind=\"other\","
	    "result=\"hit\"} 1");
	expect_line(t, "relaycfg_cache_requests_total{kind=\"other\","
	    "result=\"error\"} 1");
	expect_line(t, "relaycfg_requests_total{endpoint=\"other\","
	    "version=\"other\",status=\"other\"} 1");
	assert_string_equal(metrics_label_value(MF_REQUESTS, 2,
	    metrics_status_label(418)), "other");
	assert_string_equal(metrics_label_value(MF_REQUESTS, 2,
	    metrics_status_label(503)), "503");
	assert_null(metrics_label_value(MF_REQUESTS, 2, 1000));
	assert_null(metrics_label_value(MF_CONFIGS_BUILT, 0, 0));
	assert_string_equal(metrics_family_name(MF_WORKER_EXITS),
	    "relaycfg_worker_exits_total");
	free(t);
}

/*
 * Buckets are cumulative, +Inf is the count, _sum is in seconds.  0.001
 * lands in le="0.001" (upper bounds are inclusive).
 */
static void
test_histogram(void **state)
{
	char *t;

	(void)state;
	metrics_observe(MF_MEMCACHED_SECONDS, 0, 0.001);
	metrics_observe(MF_MEMCACHED_SECONDS, 0, 0.003);
	metrics_observe(MF_MEMCACHED_SECONDS, 0, 20);
	metrics_observe(MF_MEMCACHED_SECONDS, 0, -1);	/* clamped to 0 */
	metrics_observe(MF_KEYS_PER_REQUEST, 0, 7);
	metrics_observe(MF_REQUEST_SECONDS, ME_PUBLICKEYS, 0.2);
	/* not a histogram: ignored */
	metrics_observe(MF_CONFIGS_BUILT, 0, 1);
	t = render(NULL, 0);
	expect_line(t, "relaycfg_memcached_duration_seconds_bucket"
	    "{le=\"0.0001\"} 1");
	expect_line(t, "relaycfg_memcached_duration_seconds_bucket"
	    "{le=\"0.00025\"} 1");
	expect_line(t, "relaycfg_memcached_duration_seconds_bucket"
	    "{le=\"0.001\"} 2");
	expect_line(t, "relaycfg_memcached_duration_seconds_bucket"
	    "{le=\"0.0025\"} 2");
	expect_line(t, "relaycfg_memcached_duration_seconds_bucket"
	    "{le=\"0.005\"} 3");
	expect_line(t, "relaycfg_memcached_duration_seconds_bucket"
	    "{le=\"10\"} 3");
	expect_line(t, "relaycfg_memcached_duration_seconds_bucket"
	    "{le=\"+Inf\"} 4");
	/* numbers in their shortest form that reads back exactly */
	expect_line(t, "relaycfg_memcached_duration_seconds_sum 20.004");
	expect_line(t, "relaycfg_memcached_duration_seconds_count 4");
	expect_line(t, "relaycfg_keys_per_request_bucket{le=\"5\"} 0");
	expect_line(t, "relaycfg_keys_per_request_bucket{le=\"10\"} 1");
	expect_line(t, "relaycfg_request_duration_seconds_bucket"
	    "{endpoint=\"publickeys\",le=\"0.25\"} 1");
	expect_line(t, "relaycfg_request_duration_seconds_sum"
	    "{endpoint=\"publickeys\"} 0.2");
	expect_line(t, "relaycfg_request_duration_seconds_count"
	    "{endpoint=\"publickeys\"} 1");
	expect_line(t, "relaycfg_configs_built_total 42");
	free(t);
}

/* The value of a series of the rendered text (0 when absent). */
static double
series_value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; (p = strstr(p, series)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return 0;
}

/*
 * keys_per_request's sum counts keys: 2e10 keys (a day at 200,000 keys/s,
 * the bench's warm rate) must not wrap its 64-bit cell, as a sum kept in
 * billionths did after 1.8e10; a counter must never go back.
 */
static void
test_count_sum_capacity(void **state)
{
	char *t;
	double before, after;

	(void)state;
	t = render(NULL, 0);
	before = series_value(t, "relaycfg_keys_per_request_sum");
	free(t);
	for (int i = 0; i < 200000; i++)
		metrics_observe(MF_KEYS_PER_REQUEST, 0, 100000);
	t = render(NULL, 0);
	after = series_value(t, "relaycfg_keys_per_request_sum");
	free(t);
	assert_true(after - before == 2e10);
}

/*
 * Children each write their own slot, the parent (the master slot) sums
 * them; a vacated slot keeps its counters but loses its gauges and its
 * per-process lines; a child without a position writes nowhere read.
 */
static void
test_forked_slots(void **state)
{
	static const char *const servers[] = { "mc\"1\\a\nb", "mc2" };
	pid_t pids[3];
	int status;
	char *t, line[256];

	(void)state;
	for (int i = 0; i < 3; i++) {
		if ((pids[i] = fork()) == 0) {
			/* slots 3 and 5; the third has no position */
			metrics_attach(i == 2 ? -1 : 3 + 2 * i, (long)getpid());
			for (int k = 0; k < 1000; k++)
				metrics_inc(MF_SQL_STATEMENTS, 0, 0, 0);
			metrics_observe(MF_SQL_SECONDS, 0, 0.5);
			metrics_set(MF_IN_FLIGHT, 0, 1);
			metrics_set(MF_MARIADB_UP, 0, 1);
			metrics_set(MF_MEMCACHED_UP, 1, 1);
			_exit(0);
		}
		assert_true(pids[i] > 0);
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	metrics_inc(MF_WORKER_STARTS, 0, 0, 0);	/* the master's own slot */
	t = render(servers, 2);
	expect_line(t, "relaycfg_mariadb_statements_total 2000");
	expect_line(t, "relaycfg_mariadb_duration_seconds_count 2");
	expect_line(t, "relaycfg_mariadb_duration_seconds_sum 1");
	expect_line(t, "relaycfg_requests_in_flight 2");
	expect_line(t, "relaycfg_worker_starts_total 1");
	snprintf(line, sizeof(line), "relaycfg_mariadb_up{worker=\"%ld\","
	    "server=\"primary\"} 1",
	    (long)pids[0]);
	expect_line(t, line);
	/* per-process lines name the server, escaped */
	snprintf(line, sizeof(line), "relaycfg_memcached_up{worker=\"%ld\","
	    "server=\"mc\\\"1\\\\a\\nb\"} 0", (long)pids[1]);
	expect_line(t, line);
	snprintf(line, sizeof(line), "relaycfg_memcached_up{worker=\"%ld\","
	    "server=\"mc2\"} 1", (long)pids[1]);
	expect_line(t, line);
	snprintf(line, sizeof(line), "worker=\"%ld\"", (long)pids[2]);
	assert_null(strstr(t, line));
	free(t);

	metrics_vacate(3);
	t = render(servers, 2);
	expect_line(t, "relaycfg_mariadb_statements_total 2000");
	expect_line(t, "relaycfg_requests_in_flight 1");
	snprintf(line, sizeof(line), "worker=\"%ld\"", (long)pids[0]);
	assert_null(strstr(t, line));
	snprintf(line, sizeof(line), "relaycfg_mariadb_up{worker=\"%ld\","
	    "server=\"primary\"} 1",
	    (long)pids[1]);
	expect_line(t, line);
	free(t);

	/* a new process in the vacated slot adds to what is there */
	if ((pids[0] = fork()) == 0) {
		metrics_attach(3, (long)getpid());
		metrics_add(MF_SQL_STATEMENTS, 0, 0, 0, 5);
		_exit(0);
	}
	assert_int_equal(waitpid(pids[0], &status, 0), pids[0]);
	t = render(servers, 2);
	expect_line(t, "relaycfg_mariadb_statements_total 2005");
	snprintf(line, sizeof(line), "relaycfg_mariadb_up{worker=\"%ld\","
	    "server=\"primary\"} 0",
	    (long)pids[0]);
	expect_line(t, line);
	free(t);
}

/*
 * A scrape taken while a worker observes: the +Inf bucket and _count are
 * the same number in every rendering (Prometheus' rule), though the
 * worker bumps its bucket and its count one after the other.
 */
static void
test_histogram_count_is_inf(void **state)
{
	static const char inf[] =
	    "relaycfg_memcached_duration_seconds_bucket{le=\"+Inf\"}";
	static const char count[] = "relaycfg_memcached_duration_seconds_count";
	int fds[2], status, unequal = 0;
	pid_t pid;
	char *t, go;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		metrics_attach(7, (long)getpid());
		close(fds[0]);
		assert_int_equal(write(fds[1], "g", 1), 1);
		/* killed below; 10 s at most should the parent fail first */
		for (time_t end = time(NULL) + 10; time(NULL) < end;)
			for (int k = 0; k < 100000; k++)
				metrics_observe(MF_MEMCACHED_SECONDS, 0,
				    0.001);
		_exit(0);
	}
	assert_true(pid > 0);
	close(fds[1]);
	assert_int_equal(read(fds[0], &go, 1), 1);
	close(fds[0]);
	for (int i = 0; i < 2000; i++) {
		t = render(NULL, 0);
		if (series_value(t, inf) != series_value(t, count))
			unequal++;
		free(t);
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	metrics_vacate(7);
	assert_int_equal(unequal, 0);
}

/* A sink sees counts and observations, with Sentry's name when it has one. */
static unsigned sink_calls;
static double sink_last;
static const char *sink_name;

static void
sink(enum metric_family f, const char *sentry_name, unsigned a,
    double value, bool is_histogram)
{
	(void)f;
	(void)a;
	(void)is_histogram;
	sink_calls++;
	sink_last = value;
	sink_name = sentry_name;
}

static void
test_sink(void **state)
{
	(void)state;
	metrics_set_sink(sink);
	metrics_observe(MF_SENTRY_FETCHING_KEYS, 0, 0.25);
	assert_int_equal(sink_calls, 1);
	assert_true(sink_last == 0.25);
	assert_string_equal(sink_name,
	    "relay_project_configs.fetching_keys.duration");
	metrics_add(MF_CONFIGS_BUILT, 0, 0, 0, 3);
	assert_int_equal(sink_calls, 2);
	assert_true(sink_last == 3);
	assert_null(sink_name);
	metrics_set_sink(NULL);
	metrics_inc(MF_CONFIGS_BUILT, 0, 0, 0);
	assert_int_equal(sink_calls, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_before_create),
		cmocka_unit_test(test_create_and_counters),
		cmocka_unit_test(test_catch_all_label),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_count_sum_capacity),
		cmocka_unit_test(test_forked_slots),
		cmocka_unit_test(test_histogram_count_is_inf),
		cmocka_unit_test(test_sink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
