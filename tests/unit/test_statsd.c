/*
 * test_statsd.c - the StatsD push: Sentry's lines on a real UDP socket.
 *
 * The expected lines follow getsentry/sentry's backends as stored:
 * src/sentry/metrics/statsd.py (commit 32553fa3765215a678db823e46d4654019dc694b,
 * python-statsd "%0.6f|ms" / "%s|c", tags dropped), dogstatsd.py (commit
 * 6869364e19aac66fcbbbc33cef3c9e2da212faa0, tags "k:v" after the timer's
 * result tag, datadogpy "name:value|type|#tags"), utils/metrics.py (commit
 * 6a81ba2feece7cc23a7d71f1a14ab3e91fcda4c8: timer() sends seconds with
 * result:success) and conf/server.py (SENTRY_METRICS_PREFIX = "sentry.").
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "statsd.h"

/* A UDP listener on 127.0.0.1; *port gets its port. */
static int
listener(unsigned *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* One datagram into buf (NUL-terminated); -1 when none came in 1 s. */
static ssize_t
receive(int fd, char *buf, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recv(fd, buf, len - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	return n;
}

/* A conf pushing to 127.0.0.1:port with the given settings. */
static struct conf *
statsd_conf(unsigned port, const char *prefix, const char *tags, bool dog)
{
	struct conf *c = conf_defaults();
	char server[32];

	assert_non_null(c);
	snprintf(server, sizeof(server), "127.0.0.1:%u", port);
	c->statsd_server = strdup(server);
	c->statsd_prefix = prefix != NULL ? strdup(prefix) : NULL;
	c->statsd_tags = tags != NULL ? strdup(tags) : NULL;
	c->statsd_dogstatsd = dog;
	assert_int_equal(statsd_open(c), 0);
	return c;
}

/* What one project-config request reports, in the order it reports it. */
static void
one_request(void)
{
	metrics_inc(MF_AUTH, MA_OK, 0, 0);		/* not a Sentry metric */
	metrics_observe(MF_SENTRY_FETCHING_KEYS, 0, 0.0015);
	metrics_observe(MF_SENTRY_FETCHING_PROJECTS, 0, 0.00025);
	metrics_observe(MF_SENTRY_FETCHING_ORGS, 0, 0.000125);
	metrics_observe(MF_SENTRY_GET_PROJECT_CONFIG, 0, 0.0123);
	metrics_add(MF_KEYS, MK_CONFIG, 0, 0, 2);
	metrics_inc(MF_KEYS, MK_DISABLED, 0, 0);
	metrics_inc(MF_KEYS, MK_PENDING, 0, 0);
	metrics_observe(MF_REQUEST_SECONDS, ME_PROJECTCONFIGS, 0.02);
	statsd_post_v3();	/* a v3 request, as Sentry's post_or_schedule */
}

static void
test_plain_statsd(void **state)
{
	char buf[2048];
	unsigned port;
	int fd = listener(&port);
	struct conf *c = statsd_conf(port, NULL, "env:prod", false);

	(void)state;
	one_request();
	/* nothing leaves before the request's end */
	assert_int_equal(receive(fd, buf, sizeof(buf), 50), -1);
	statsd_flush();
	assert_true(receive(fd, buf, sizeof(buf), 1000) > 0);
	/* python-statsd: seconds as "%0.6f|ms", no tags */
	assert_string_equal(buf,
	    "sentry.relay_project_configs.fetching_keys.duration:0.001500|ms\n"
	    "sentry.relay_project_configs.fetching_projects.duration:"
	    "0.000250|ms\n"
	    "sentry.relay_project_configs.fetching_orgs.duration:0.000125|ms\n"
	    "sentry.relay.config.get_project_config.duration:0.012300|ms\n"
	    "sentry.relay.project_configs.post_v3.pending:1|c\n"
	    "sentry.relay.project_configs.post_v3.fetched:3|c");
	/* the batch was emptied: an idle flush sends nothing */
	statsd_flush();
	assert_int_equal(receive(fd, buf, sizeof(buf), 50), -1);
	assert_int_equal(statsd_dropped(), 0);
	statsd_close();
	conf_free(c);
	close(fd);
}

static void
test_dogstatsd(void **state)
{
	char buf[2048];
	unsigned port;
	int fd = listener(&port);
	struct conf *c = statsd_conf(port, "relaycfg.", "env:prod, region:eu",
	    true);

	(void)state;
	one_request();
	statsd_flush();
	assert_true(receive(fd, buf, sizeof(buf), 1000) > 0);
	/* datadogpy: str(float) and |#result:success then the backend tags */
	assert_string_equal(buf,
	    "relaycfg.relay_project_configs.fetching_keys.duration:0.0015|ms"
	    "|#result:success,env:prod,region:eu\n"
	    "relaycfg.relay_project_configs.fetching_projects.duration:"
	    "0.00025|ms|#result:success,env:prod,region:eu\n"
	    "relaycfg.relay_project_configs.fetching_orgs.duration:0.000125|ms"
	    "|#result:success,env:prod,region:eu\n"
	    "relaycfg.relay.config.get_project_config.duration:0.0123|ms"
	    "|#result:success,env:prod,region:eu\n"
	    "relaycfg.relay.project_configs.post_v3.pending:1|c"
	    "|#env:prod,region:eu\n"
	    "relaycfg.relay.project_configs.post_v3.fetched:3|c"
	    "|#env:prod,region:eu");
	statsd_close();
	conf_free(c);

	/* no prefix, no tags; a configured result tag takes the timer's */
	c = statsd_conf(port, "none", "team:a,result:ok", true);
	metrics_observe(MF_SENTRY_FETCHING_ORGS, 0, 2.0);
	statsd_flush();
	assert_true(receive(fd, buf, sizeof(buf), 1000) > 0);
	assert_string_equal(buf, "relay_project_configs.fetching_orgs.duration:"
	    "2.0|ms|#result:ok,team:a");
	statsd_close();
	conf_free(c);
	c = statsd_conf(port, "none", NULL, true);
	metrics_inc(MF_KEYS, MK_UNCHANGED, 0, 0);
	statsd_post_v3();
	statsd_flush();
	assert_true(receive(fd, buf, sizeof(buf), 1000) > 0);
	assert_string_equal(buf, "relay.project_configs.post_v3.pending:0|c\n"
	    "relay.project_configs.post_v3.fetched:1|c");
	statsd_close();
	conf_free(c);
	close(fd);
}

/*
 * Keys of a request Sentry does not answer in _post_or_schedule_by_key
 * (v1, v2, noCache: statsd_post_v3 not called) send no post_v3 counts,
 * and do not carry over into the next request's.
 */
static void
test_post_v3_only(void **state)
{
	char buf[2048];
	unsigned port;
	int fd = listener(&port);
	struct conf *c = statsd_conf(port, NULL, NULL, false);

	(void)state;
	metrics_observe(MF_SENTRY_FETCHING_ORGS, 0, 0.5);
	metrics_add(MF_KEYS, MK_CONFIG, 0, 0, 2);
	statsd_flush();
	assert_true(receive(fd, buf, sizeof(buf), 1000) > 0);
	assert_string_equal(buf,
	    "sentry.relay_project_configs.fetching_orgs.duration:0.500000|ms");
	metrics_inc(MF_KEYS, MK_PENDING, 0, 0);
	statsd_post_v3();
	statsd_flush();
	assert_true(receive(fd, buf, sizeof(buf), 1000) > 0);
	assert_string_equal(buf,
	    "sentry.relay.project_configs.post_v3.pending:1|c\n"
	    "sentry.relay.project_configs.post_v3.fetched:0|c");
	statsd_close();
	conf_free(c);
	close(fd);
}

/* A long request goes out in several datagrams, none over the limit. */
static void
test_batches(void **state)
{
	char buf[4096];
	unsigned port, lines = 0;
	int fd = listener(&port);
	struct conf *c = statsd_conf(port, NULL, NULL, false);
	ssize_t n;

	(void)state;
	for (int i = 0; i < 100; i++)
		metrics_observe(MF_SENTRY_GET_PROJECT_CONFIG, 0, 0.001);
	statsd_flush();
	while ((n = receive(fd, buf, sizeof(buf), 200)) > 0) {
		assert_true(n <= STATSD_MAX_DGRAM);
		lines++;
		for (char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
			lines++;
		assert_non_null(strstr(buf, "sentry.relay.config."
		    "get_project_config.duration:0.001000|ms"));
	}
	assert_int_equal(lines, 100);
	statsd_close();
	conf_free(c);
	close(fd);
}

/* No collector: the datagrams are counted as dropped, nothing fails. */
static void
test_dropped(void **state)
{
	unsigned port;
	int fd = listener(&port);
	struct conf *c;

	(void)state;
	close(fd);			/* the port now refuses */
	c = statsd_conf(port, NULL, NULL, false);
	for (int i = 0; i < 5; i++) {
		metrics_observe(MF_SENTRY_FETCHING_KEYS, 0, 0.001);
		statsd_flush();
		usleep(10000);		/* the ICMP error comes back */
	}
	/* a connected socket reports the ICMP error on the next send */
	assert_true(statsd_dropped() >= 2);
	statsd_close();
	/* closed: the sink is gone, an observation is not batched */
	metrics_observe(MF_SENTRY_FETCHING_KEYS, 0, 0.001);
	statsd_flush();
	conf_free(c);
}

static void
test_server_forms(void **state)
{
	char host[256], port[8];

	(void)state;
	assert_int_equal(statsd_split_server("statsd.local", host,
	    sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "statsd.local");
	assert_string_equal(port, "8125");
	assert_int_equal(statsd_split_server("10.0.0.1:9125", host,
	    sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "10.0.0.1");
	assert_string_equal(port, "9125");
	assert_int_equal(statsd_split_server("[::1]:8126", host,
	    sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "8126");
	assert_int_equal(statsd_split_server("fd00::5", host,
	    sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "fd00::5");
	assert_string_equal(port, "8125");
	assert_int_equal(statsd_split_server("host:0", host, sizeof(host),
	    port, sizeof(port)), -1);
	assert_int_equal(statsd_split_server("host:65536", host,
	    sizeof(host), port, sizeof(port)), -1);
	assert_int_equal(statsd_split_server("host:", host, sizeof(host),
	    port, sizeof(port)), -1);
	assert_int_equal(statsd_split_server(":8125", host, sizeof(host),
	    port, sizeof(port)), -1);
	assert_int_equal(statsd_split_server("[::1", host, sizeof(host),
	    port, sizeof(port)), -1);
	assert_int_equal(statsd_split_server("a b:1", host, sizeof(host),
	    port, sizeof(port)), -1);
}

/* conf_load takes the keys and refuses malformed ones with a reason. */
static void
test_conf_keys(void **state)
{
	static const struct { const char *lines; const char *err; } cases[] = {
		{ "statsd_server = 127.0.0.1:8125\nstatsd_prefix = none\n"
		  "statsd_tags = env:prod, dc:a\nstatsd_dogstatsd = yes\n",
		  NULL },
		{ "statsd_server = host:99999\n", "statsd_server" },
		{ "statsd_prefix = a|b\n", "statsd_prefix" },
		{ "statsd_tags = env\n", "statsd_tags" },
		{ "statsd_tags = env:prod,\n", "statsd_tags" },
		{ "statsd_tags = a:b|c\n", "statsd_tags" },
	};
	char path[] = "/tmp/relaycfg-statsd-XXXXXX", err[512], text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *c;
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		snprintf(text, sizeof(text), "db_host = localhost\n"
		    "db_name = sentry\n%s", cases[i].lines);
		assert_int_equal(write(fd, text, strlen(text)),
		    (ssize_t)strlen(text));
		close(fd);
		c = conf_load(path, err, sizeof(err));
		unlink(path);
		strcpy(path, "/tmp/relaycfg-statsd-XXXXXX");
		if (cases[i].err == NULL) {
			assert_non_null(c);
			assert_string_equal(c->statsd_server,
			    "127.0.0.1:8125");
			assert_string_equal(c->statsd_prefix, "none");
			assert_true(c->statsd_dogstatsd);
			conf_free(c);
		} else {
			assert_null(c);
			assert_non_null(strstr(err, cases[i].err));
		}
	}
}

static void
test_pyfloat(void **state)
{
	static const struct { double v; const char *s; } cases[] = {
		{ 0.0015, "0.0015" }, { 1.0, "1.0" }, { 100.0, "100.0" },
		{ 0.0001, "0.0001" }, { 1.5e-05, "1.5e-05" }, { 1e-05, "1e-05" },
		{ 0.1 + 0.2, "0.30000000000000004" }, { 123456.789,
		"123456.789" }, { 1e16, "1e+16" }, { 1234567890123456.0,
		"1234567890123456.0" }, { 0.0, "0.0" }, { 2.5e-07, "2.5e-07" },
	};
	char buf[40];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(statsd_format_pyfloat(cases[i].v, buf,
		    sizeof(buf)), (int)strlen(cases[i].s));
		assert_string_equal(buf, cases[i].s);
	}
	assert_int_equal(statsd_format_pyfloat(1.0, buf, 4), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_statsd),
		cmocka_unit_test(test_dogstatsd),
		cmocka_unit_test(test_post_v3_only),
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_server_forms),
		cmocka_unit_test(test_conf_keys),
		cmocka_unit_test(test_pyfloat),
	};

	log_setup(LOG_LEVEL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
