/*
 * test_log.c - the lines log.c writes to stderr (captured through a pipe):
 * the access line in text and JSON, its time (UTC, to the millisecond, the
 * clock's own second), the pid a line carries, which must be the
 * writer's own also in a child forked after log_setup (log.c keeps it
 * rather than asking per line), and the syslog priority each line starts
 * with when JOURNAL_STREAM names stderr (only then).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "log.h"

static int saved_stderr = -1;
static int pipe_rd = -1;

/* Send stderr into a pipe until capture_end. */
static void
capture_begin(void)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	close(p[1]);
	pipe_rd = p[0];
}

/* Restore stderr; what was written goes to buf (NUL-terminated). */
static void
capture_end(char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	while (n + 1 < len && (r = read(pipe_rd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(pipe_rd);
}

/* The time at the start of a text line, as seconds since the epoch. */
static time_t
line_time(const char *line, int *ms)
{
	struct tm tm = { 0 };
	char z;

	assert_int_equal(sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c",
	    &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec, ms, &z), 8);
	assert_int_equal(z, 'Z');
	assert_true(*ms >= 0 && *ms <= 999);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void
test_access_text(void **state)
{
	char out[4096], want[256];
	struct timespec before, after;
	time_t t;
	int ms;

	(void)state;
	log_setup(LOG_LEVEL_INFO, false);
	capture_begin();
	clock_gettime(CLOCK_REALTIME, &before);
	log_access(200, "POST", "/api/0/relays/projectconfigs/\n\"x", 1234,
	    567);
	clock_gettime(CLOCK_REALTIME, &after);
	capture_end(out, sizeof(out));

	t = line_time(out, &ms);
	assert_true(t >= before.tv_sec && t <= after.tv_sec);
	if (t == before.tv_sec)
		assert_true(ms >= before.tv_nsec / 1000000);
	snprintf(want, sizeof(want), " relaycfg[%ld] info: access 200 POST "
	    "/api/0/relays/projectconfigs/??x 1234us 567B\n", (long)getpid());
	assert_string_equal(out + strlen("2026-01-01T00:00:00.000Z"), want);
}

/* A message carrying client bytes stays one line, without escapes. */
static void
test_text_message_clean(void **state)
{
	char out[4096], want[256];

	(void)state;
	log_setup(LOG_LEVEL_INFO, false);
	capture_begin();
	log_info("metrics refused to %s: not internal",
	    "1.2.3.4\n2026-01-01T00:00:00.000Z relaycfg[1] error: FORGED\x1b[31m\xc3\xa9");
	capture_end(out, sizeof(out));
	snprintf(want, sizeof(want), " relaycfg[%ld] info: metrics refused to "
	    "1.2.3.4?2026-01-01T00:00:00.000Z relaycfg[1] error: FORGED?[31m??"
	    ": not internal\n", (long)getpid());
	assert_string_equal(out + strlen("2026-01-01T00:00:00.000Z"), want);
}

static void
test_access_json(void **state)
{
	char out[4096], want[256];
	const char *rest;

	(void)state;
	log_setup(LOG_LEVEL_INFO, true);
	capture_begin();
	log_access(404, "GET", "/nope", 7, 0);
	capture_end(out, sizeof(out));
	log_setup(LOG_LEVEL_INFO, false);

	assert_memory_equal(out, "{\"time\":\"", 9);
	rest = strstr(out, "Z\",\"level\"");
	assert_non_null(rest);
	assert_int_equal(rest - out, 9 + 23);
	snprintf(want, sizeof(want), "Z\",\"level\":\"info\",\"pid\":%ld,"
	    "\"status\":404,\"method\":\"GET\",\"path\":\"/nope\","
	    "\"duration_us\":7,\"bytes\":0}\n", (long)getpid());
	assert_string_equal(rest, want);
}

/*
 * A JSON message line is valid JSON: the message's own quotes and
 * backslashes escaped, not lost; control and non-ASCII bytes '?' as in text
 * lines; and a message cut short at the buffer's end never ends inside an
 * escape.
 */
static void
test_json_message(void **state)
{
	char out[8192], want[256], *big;
	const char *rest, *end;
	json_object *o;

	(void)state;
	log_setup(LOG_LEVEL_INFO, true);
	capture_begin();
	log_err("unknown key \"%s\" in C:\\relaycfg.conf\n\xc3\xa9", "bogus_key");
	capture_end(out, sizeof(out));
	log_setup(LOG_LEVEL_INFO, false);
	rest = strstr(out, "\"msg\":");
	assert_non_null(rest);
	snprintf(want, sizeof(want), "\"msg\":\"unknown key \\\"bogus_key\\\" "
	    "in C:\\\\relaycfg.conf???\"}\n");
	assert_string_equal(rest, want);
	o = json_tokener_parse(out);
	assert_non_null(o);
	json_object_put(o);

	/* 3000 quotes: cut, each kept whole, the line still JSON. */
	big = malloc(3001);
	assert_non_null(big);
	memset(big, '"', 3000);
	big[3000] = '\0';
	log_setup(LOG_LEVEL_INFO, true);
	capture_begin();
	log_err("%s", big);
	capture_end(out, sizeof(out));
	log_setup(LOG_LEVEL_INFO, false);
	free(big);
	o = json_tokener_parse(out);
	assert_non_null(o);
	json_object_put(o);
	end = strstr(out, "\"}\n");
	assert_non_null(end);
	assert_true(end[-1] == '"' && end[-2] == '\\');
}

/* Lines a second apart carry their own seconds (the cached date moves). */
static void
test_time_moves(void **state)
{
	char out[4096];
	const char *second;
	time_t t1, t2;
	int ms;

	(void)state;
	log_setup(LOG_LEVEL_INFO, false);
	capture_begin();
	log_info("one");
	usleep(1100 * 1000);
	log_info("two");
	capture_end(out, sizeof(out));

	t1 = line_time(out, &ms);
	second = strchr(out, '\n');
	assert_non_null(second);
	t2 = line_time(second + 1, &ms);
	assert_true(t2 == t1 + 1 || t2 == t1 + 2);
}

/* A child forked after log_setup writes its own pid, not its parent's. */
static void
test_child_pid(void **state)
{
	char out[4096], want[64];
	pid_t kid;
	int status;

	(void)state;
	log_setup(LOG_LEVEL_INFO, false);
	capture_begin();
	log_info("parent");
	if ((kid = fork()) == 0) {
		log_info("child");
		_exit(0);
	}
	assert_true(kid > 0);
	assert_int_equal(waitpid(kid, &status, 0), kid);
	capture_end(out, sizeof(out));

	snprintf(want, sizeof(want), " relaycfg[%ld] info: parent\n",
	    (long)getpid());
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), " relaycfg[%ld] info: child\n",
	    (long)kid);
	assert_non_null(strstr(out, want));
}

/* journal_env - JOURNAL_STREAM naming stderr as it is now, its inode + off. */
static void
journal_env(unsigned off)
{
	struct stat st;
	char v[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino + off);
	assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
}

/* next_line - the line at *p (its '\n' made a NUL); *p moves past it. */
static char *
next_line(char **p)
{
	char *line = *p, *nl = strchr(line, '\n');

	assert_non_null(nl);
	*nl = '\0';
	*p = nl + 1;
	return line;
}

/* expect_text - line is prefix, a time, then " relaycfg[pid] rest". */
static void
expect_text(const char *line, const char *prefix, const char *rest)
{
	char want[256];
	size_t plen = strlen(prefix);
	int ms;

	assert_memory_equal(line, prefix, plen);
	(void)line_time(line + plen, &ms);
	snprintf(want, sizeof(want), " relaycfg[%ld] %s", (long)getpid(),
	    rest);
	assert_string_equal(line + plen + strlen("2026-01-01T00:00:00.000Z"),
	    want);
}

/* expect_json - line is prefix, then a JSON object of that level. */
static void
expect_json(const char *line, const char *prefix, const char *level)
{
	json_object *o, *l;

	assert_memory_equal(line, prefix, strlen(prefix));
	o = json_tokener_parse(line + strlen(prefix));
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "level", &l));
	assert_string_equal(json_object_get_string(l), level);
	json_object_put(o);
}

/*
 * stderr the journal's stream (JOURNAL_STREAM is its dev:ino): every line,
 * text or JSON, starts with its syslog priority for journald, the rest
 * as ever.
 */
static void
test_journal_priority(void **state)
{
	char out[8192], *p = out;

	(void)state;
	capture_begin();
	journal_env(0);
	log_setup(LOG_LEVEL_DEBUG, false);
	log_err("e");
	log_warn("w");
	log_info("i");
	log_debug("d");
	log_access(200, "GET", "/x", 1, 2);
	assert_string_equal(log_prefix(LOG_LEVEL_WARN), "<4>");
	log_setup(LOG_LEVEL_DEBUG, true);
	log_warn("jw");
	log_access(200, "GET", "/x", 1, 2);
	capture_end(out, sizeof(out));
	assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
	log_setup(LOG_LEVEL_INFO, false);

	expect_text(next_line(&p), "<3>", "error: e");
	expect_text(next_line(&p), "<4>", "warn: w");
	expect_text(next_line(&p), "<6>", "info: i");
	expect_text(next_line(&p), "<7>", "debug: d");
	expect_text(next_line(&p), "<6>", "info: access 200 GET /x 1us 2B");
	expect_json(next_line(&p), "<4>", "warn");
	expect_json(next_line(&p), "<6>", "info");
	assert_string_equal(p, "");
}

/*
 * JOURNAL_STREAM inherited, but stderr is something else (a wrapper sent
 * it to a file), or the value is not DEV:INODE: no prefix.
 */
static void
test_journal_other_stream(void **state)
{
	static const char *const bad[] = { "", "12", "1:2:3", "a:b", "1:2x" };
	char out[4096];

	(void)state;
	capture_begin();
	journal_env(1);
	log_setup(LOG_LEVEL_INFO, false);
	log_warn("w");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(setenv("JOURNAL_STREAM", bad[i], 1), 0);
		log_setup(LOG_LEVEL_INFO, false);
		assert_string_equal(log_prefix(LOG_LEVEL_WARN), "");
	}
	capture_end(out, sizeof(out));
	assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
	expect_text(out, "", "warn: w\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access_text),
		cmocka_unit_test(test_text_message_clean),
		cmocka_unit_test(test_access_json),
		cmocka_unit_test(test_json_message),
		cmocka_unit_test(test_time_moves),
		cmocka_unit_test(test_child_pid),
		cmocka_unit_test(test_journal_priority),
		cmocka_unit_test(test_journal_other_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
