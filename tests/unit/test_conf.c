/*
 * test_conf.c - the configuration parser and CIDR matching.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "conf.h"
#include "conf_testlib.h"
#include "log.h"
#include "valid.h"

static void
test_full_file(void **state)
{
	char err[512] = "";
	struct conf *c = conf_try_text(
	    "# comment\n"
	    "\n"
	    "db_socket = /run/mysqld/mysqld.sock\n"
	    "db_name = sentry\n"
	    "db_password = s3cret with spaces\n"
	    "workers = 3\n"
	    "max_requests = 1000\n"
	    "max_body_size = 2097152\n"
	    "log_level = debug\n"
	    "log_format = json\n"
	    "access_log = no\n"
	    "memcached_server = 127.0.0.1:11211 10.0.0.2:11211\n"
	    "memcached_server = /run/memcached.sock\n"
	    "static_relay = 88888888-4444-4444-8444-CCCCCCCCCCCC "
	    "AS4rYWZ-m6o5a2u7jVD1EGPk5ZSLyELNOiCSNTPzvLU internal\n"
	    "internal_networks = 10.0.0.0/8, fd00::/8\n"
	    "trusted_proxies = 127.0.0.1\n"
	    "global_option = relay.endpoint-fetch-config.enabled false\n"
	    "global_option = relay.some-future-option {\"a\": 1}\n"
	    "sentry_option = relay.cardinality-limiter.error-sample-rate 1\n"
	    "sentry_option = relay.span-usage-metric null\n"
	    "feature = organizations:session-replay off\n"
	    "feature = organizations:dynamic-sampling-custom on\n"
	    "feature = organizations:some-flag-relaycfg-ignores on\n"
	    "event_retention = 30\n"
	    "registration_secret = 0123456789abcdef0123\n",
	    err, sizeof(err));

	(void)state;
	assert_non_null(c);
	assert_string_equal(c->db.socket, "/run/mysqld/mysqld.sock");
	assert_string_equal(c->db.password, "s3cret with spaces");
	assert_int_equal(c->workers, 3);
	assert_int_equal(c->max_requests, 1000);
	assert_int_equal(c->max_body_size, 2097152);
	assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
	assert_true(c->log_json);
	assert_false(c->access_log);
	assert_int_equal(c->n_memcached_servers, 3);
	assert_string_equal(c->memcached_servers[2], "/run/memcached.sock");
	assert_int_equal(c->n_static_relays, 1);
	assert_string_equal(c->static_relays[0].relay_id,
	    "88888888-4444-4444-8444-cccccccccccc");
	assert_true(c->static_relays[0].internal);
	assert_int_equal(c->n_internal_networks, 2);
	assert_true(c->internal_networks_set);
	assert_int_equal(c->n_trusted_proxies, 1);
	/* a global_option relaycfg has a row for is that Sentry option */
	assert_true(json_object_is_type(conf_sentry_option(c,
	    "relay.endpoint-fetch-config.enabled"), json_type_boolean));
	assert_false(json_object_get_boolean(conf_sentry_option(c,
	    "relay.endpoint-fetch-config.enabled")));
	/* any other is forwarded as given */
	assert_int_equal(c->n_global_options, 1);
	assert_string_equal(c->global_options[0].key,
	    "relay.some-future-option");
	assert_string_equal(c->global_options[0].json, "{\"a\": 1}");
	/* a float option takes an integer, as Python would */
	assert_int_equal(json_object_get_int(conf_sentry_option(c,
	    "relay.cardinality-limiter.error-sample-rate")), 1);
	/* null is None */
	assert_null(conf_sentry_option(c, "relay.span-usage-metric"));
	assert_int_equal(json_object_get_int(conf_sentry_option(c,
	    "system.event-retention-days")), 30);
	assert_false(sentry_settings_feature(&c->sentry,
	    "organizations:session-replay"));
	assert_true(sentry_settings_feature(&c->sentry,
	    "organizations:dynamic-sampling-custom"));
	/* self-hosted defaults survive */
	assert_true(sentry_settings_feature(&c->sentry,
	    "organizations:dynamic-sampling"));
	assert_false(sentry_settings_feature(&c->sentry,
	    "organizations:some-flag-relaycfg-ignores"));
	assert_string_equal(json_object_get_string(conf_sentry_option(c,
	    "relay.cardinality-limiter.mode")), "enabled");
	/* defaults survive */
	assert_int_equal(c->signature_max_age, 300);
	assert_int_equal(c->ttl_projectkey, 1800);
	conf_free(c);
}

static void
expect_error(const char *text, const char *needle)
{
	char err[512] = "";
	struct conf *c = conf_try_text(text, err, sizeof(err));

	assert_null(c);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void
test_errors_name_line(void **state)
{
	(void)state;
	expect_error("db_name = x\ndb_host = h\nbogus = 1\n",
	    ":3: unknown key \"bogus\"");
	expect_error("db_name = x\ndb_host = h\nworkers = many\n",
	    ":3: workers: expected a number");
	expect_error("db_name = x\ndb_host = h\nno equals sign\n",
	    ":3: expected \"key = value\"");
	expect_error("db_name = x\ndb_host = h\nworkers =\n",
	    ":3: workers: empty value");
	expect_error("db_host = h\ndb_name = x\nstatic_relay = nope key\n",
	    ":3: static_relay: \"nope\" is not a hyphenated UUID");
	expect_error("db_host = h\ndb_name = x\ninternal_networks = 10.0.0.0/33\n",
	    ":3: internal_networks: \"10.0.0.0/33\"");
	expect_error("db_host = h\ndb_name = x\nglobal_option = a {nope\n",
	    ":3: global_option a: value is not JSON");
	/* json-c would send 18446744073709551615 */
	expect_error("db_host = h\ndb_name = x\n"
	    "global_option = a [100000000000000000000]\n",
	    ":3: global_option a: value has an integer below -2^63");
	expect_error("db_host = h\ndb_name = x\n"
	    "sentry_option = system.event-retention-days "
	    "100000000000000000000\n",
	    ":3: sentry_option system.event-retention-days: value has an "
	    "integer below -2^63");
	expect_error("db_host = h\ndb_name = x\n"
	    "sentry_option = relay.span-usage-metric 1\n",
	    ":3: sentry_option relay.span-usage-metric: value must be a "
	    "boolean or null");
	expect_error("db_host = h\ndb_name = x\n"
	    "sentry_option = no.such.option 1\n",
	    ":3: sentry_option no.such.option: unknown Sentry option");
	expect_error("db_host = h\ndb_name = x\n"
	    "sentry_option = system.event-retention-days\n",
	    ":3: sentry_option: expected \"NAME JSON-VALUE\"");
	expect_error("db_host = h\ndb_name = x\n"
	    "global_option = relay.span-usage-metric \"yes\"\n",
	    ":3: global_option relay.span-usage-metric: value must be a "
	    "boolean");
	expect_error("db_host = h\ndb_name = x\n"
	    "feature = organizations:session-replay maybe\n",
	    ":3: feature organizations:session-replay: expected on or off");
	expect_error("db_host = h\ndb_name = x\nfeature = session-replay on\n",
	    ":3: feature: expected \"organizations:NAME on|off\"");
	expect_error("db_host = h\ndb_name = x\nevent_retention = -1\n",
	    ":3: event_retention: expected a number");
	expect_error("db_host = h\ndb_name = x\naccess_log = maybe\n",
	    ":3: access_log: expected yes or no");
	expect_error("db_name = x\n", "db_host or db_socket must be set");
}

/* The digest configs are cached under moves with every flag and option. */
static void
test_settings_digest(void **state)
{
	struct sentry_settings s;
	char d0[SENTRY_SETTINGS_DIGEST_LEN + 1], d1[sizeof(d0)], d2[sizeof(d0)];
	char d3[sizeof(d0)], why[160];

	(void)state;
	assert_int_equal(sentry_settings_init(&s), 0);
	sentry_settings_digest(&s, d0);
	assert_int_equal(strlen(d0), SENTRY_SETTINGS_DIGEST_LEN);
	sentry_settings_digest(&s, d1);
	assert_string_equal(d0, d1);		/* stable */
	sentry_settings_digest_for(&s, PACKAGE_VERSION, d1);
	assert_string_equal(d0, d1);		/* this release's */
	sentry_settings_digest_for(&s, "0.0.0-older", d1);
	assert_string_not_equal(d0, d1);	/* another release's */
	s.feature[sentryfeature_index("organizations:session-replay")] = false;
	sentry_settings_digest(&s, d1);
	assert_string_not_equal(d0, d1);
	assert_int_equal(sentry_settings_set_option(&s,
	    "system.event-retention-days", "30", why, sizeof(why)), 0);
	sentry_settings_digest(&s, d2);
	assert_string_not_equal(d1, d2);
	assert_int_equal(sentry_settings_set_option(&s,
	    "system.event-retention-days", "null", why, sizeof(why)), 0);
	sentry_settings_digest(&s, d3);
	assert_string_not_equal(d2, d3);
	/* a failed set changes nothing */
	assert_int_equal(sentry_settings_set_option(&s,
	    "system.event-retention-days", "\"x\"", why, sizeof(why)), -1);
	sentry_settings_digest(&s, d2);
	assert_string_equal(d2, d3);
	sentry_settings_free(&s);
}

/* io_timeout and the watchdog's request_timeout: defaults and limits. */
static void
test_timeouts(void **state)
{
	char err[512] = "";
	struct conf *c;

	(void)state;
	c = conf_try_text("db_host = h\ndb_name = x\n", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->io_timeout, 30);
	assert_int_equal(c->request_timeout, 120);
	conf_free(c);
	c = conf_try_text("db_host = h\ndb_name = x\nio_timeout = 2\n"
	    "db_connect_timeout = 1\ndb_read_timeout = 1\n"
	    "db_write_timeout = 1\nrequest_timeout = 4\n", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->io_timeout, 2);
	assert_int_equal(c->request_timeout, 4);
	conf_free(c);
	expect_error("db_host = h\ndb_name = x\nio_timeout = 0\n",
	    "io_timeout must be at least 1");
	expect_error("db_host = h\ndb_name = x\nio_timeout = 3601\n",
	    ":3: io_timeout");
	expect_error("db_host = h\ndb_name = x\nrequest_timeout = 30\n",
	    "request_timeout must be greater than io_timeout");
	/* 2 + 5 + 5 s of one MariaDB query's timeouts: 12 is not enough. */
	expect_error("db_host = h\ndb_name = x\nio_timeout = 1\n"
	    "request_timeout = 12\n", "request_timeout must be greater");
	expect_error("db_host = h\ndb_name = x\nrequest_timeout = 0\n",
	    "request_timeout must be greater");
}

/* Read replicas: db_replica_* as the first, db_replica entries after. */
static void
test_replicas(void **state)
{
	char err[512] = "";
	struct conf *c;
	struct conf_db d = { 0 };

	(void)state;
	c = conf_try_text("db_host = h\ndb_name = x\n", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->n_db_replicas, 0);
	assert_int_equal(c->db_replica_wait_ms, 0);
	assert_int_equal(c->db_replica_rest_ms, 1000);
	conf_free(c);

	c = conf_try_text("db_host = h\ndb_name = x\ndb_replica_host = r1\n"
	    "db_replica = r2 r3:3307\n"
	    "db_replica = [::1]:3308\n"
	    "db_replica_wait_ms = 50\ndb_replica_rest_ms = 250\n",
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->db_replica.host, "r1");
	assert_int_equal(c->n_db_replicas, 3);
	assert_string_equal(c->db_replicas[0].host, "r2");
	assert_int_equal(c->db_replicas[0].port, 3306);
	assert_null(c->db_replicas[0].socket);
	assert_string_equal(c->db_replicas[1].host, "r3");
	assert_int_equal(c->db_replicas[1].port, 3307);
	assert_string_equal(c->db_replicas[2].host, "::1");
	assert_int_equal(c->db_replicas[2].port, 3308);
	assert_int_equal(c->db_replica_wait_ms, 50);
	assert_int_equal(c->db_replica_rest_ms, 250);
	/* credentials are never taken from an entry */
	assert_null(c->db_replicas[0].user);
	conf_free(c);
	c = conf_try_text("db_socket = /p\ndb_name = x\n"
	    "db_replica = unix:/run/r1.sock, r2\n", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->n_db_replicas, 2);
	assert_string_equal(c->db_replicas[0].socket, "/run/r1.sock");
	assert_null(c->db_replicas[0].host);
	assert_string_equal(c->db_replicas[1].host, "r2");
	conf_free(c);
	/* the same host on other ports is other servers */
	c = conf_try_text("db_host = h\ndb_name = x\n"
	    "db_replica = r1 r1:3307\n", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->n_db_replicas, 2);
	conf_free(c);

	/* one over the maximum, counting db_replica_host */
	expect_error("db_host = h\ndb_name = x\ndb_replica = a b c d e\n",
	    ":3: db_replica: at most 4 replicas");
	expect_error("db_host = h\ndb_name = x\ndb_replica_socket = /s\n"
	    "db_replica = a b c d\n", "at most 4 replicas");
	expect_error("db_host = h\ndb_name = x\ndb_replica = h:0\n",
	    ":3: db_replica: cannot parse \"h:0\"");
	/* one server twice: two metrics series, tried twice in turn */
	expect_error("db_host = h\ndb_name = x\ndb_replica = r1 r2\n"
	    "db_replica = r1:3306\n",
	    ":4: db_replica: \"r1:3306\" is listed already");
	expect_error("db_host = h\ndb_name = x\n"
	    "db_replica = unix:/s unix:/s\n",
	    ":3: db_replica: \"unix:/s\" is listed already");
	expect_error("db_host = h\ndb_name = x\ndb_replica = h:65536\n",
	    "cannot parse \"h:65536\"");
	expect_error("db_host = h\ndb_name = x\ndb_replica = unix:rel\n",
	    "cannot parse \"unix:rel\"");
	expect_error("db_host = h\ndb_name = x\ndb_replica = [::1\n",
	    "cannot parse");
	expect_error("db_host = h\ndb_name = x\ndb_replica = :3306\n",
	    "cannot parse");
	expect_error("db_host = h\ndb_name = x\ndb_replica_wait_ms = 5001\n",
	    ":3: db_replica_wait_ms");
	expect_error("db_host = h\ndb_name = x\ndb_read_timeout = 1\n"
	    "db_replica_wait_ms = 1000\n",
	    "db_replica_wait_ms must be less than db_read_timeout");

	/* the parser alone: a socket replaces a host, -1 leaves out alone */
	assert_int_equal(conf_parse_db_server("db.example:13306", &d), 0);
	assert_string_equal(d.host, "db.example");
	assert_int_equal(d.port, 13306);
	assert_int_equal(conf_parse_db_server("unix:/x.sock", &d), 0);
	assert_null(d.host);
	assert_string_equal(d.socket, "/x.sock");
	assert_int_equal(d.port, 0);
	assert_int_equal(conf_parse_db_server("h:x", &d), -1);
	assert_string_equal(d.socket, "/x.sock");
	free(d.socket);
}

/*
 * The refusals checked once the whole file is read name the line of the
 * setting at fault, as a parse error does (relaycfg(8): FILE:LINE:
 * reason); a value refused for another's sake names its own line, or
 * the other's when only that one was given.
 */
static void
test_check_lines(void **state)
{
	(void)state;
	expect_error("db_host = h\ndb_name = x\ndb_replica_wait_ms = 5000\n",
	    ":3: db_replica_wait_ms must be less than db_read_timeout");
	/* relaycfg.conf(5): 4999 with the default db_read_timeout, 5000
	 * with 6 s */
	conf_free(conf_from_text("db_host = h\ndb_name = x\n"
	    "db_replica_wait_ms = 4999\n"));
	conf_free(conf_from_text("db_host = h\ndb_name = x\n"
	    "db_read_timeout = 6\ndb_replica_wait_ms = 5000\n"));
	/* 0 is no timeout at all to MariaDB's client: a frozen server would
	 * hold a worker until the watchdog.  db_read_timeout's 0 says so
	 * itself, not as db_replica_wait_ms' error. */
	expect_error("db_host = h\ndb_name = x\ndb_read_timeout = 0\n",
	    ":3: db_read_timeout must be at least 1");
	expect_error("db_host = h\ndb_name = x\ndb_connect_timeout = 0\n",
	    ":3: db_connect_timeout must be at least 1");
	expect_error("db_host = h\ndb_name = x\ndb_write_timeout = 0\n",
	    ":3: db_write_timeout must be at least 1");
	expect_error("db_host = h\ndb_name = x\nstatsd_prefix = a b\n",
	    ":3: statsd_prefix may not hold blanks");
	expect_error("db_host = h\ndb_name = x\nstatsd_prefix = "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    ":3: statsd_prefix must be at most 64 characters");
	expect_error("db_host = h\ndb_name = x\nstatsd_server = h:0\n",
	    ":3: statsd_server must be");
	expect_error("db_host = h\ndb_name = x\nstatsd_tags = a b\n",
	    ":3: statsd_tags must be");
	expect_error("db_host = h\ndb_name = x\n"
	    "cache_namespace = 0123456789012345678901234567890123\n",
	    ":3: cache_namespace must be 1 to 32 characters");
	expect_error("db_host = h\ndb_name = x\ncache_namespace = a:b\n",
	    ":3: cache_namespace may hold only");
	expect_error("db_host = h\ndb_name = x\nmax_body_size = 1023\n",
	    ":3: max_body_size must be at least 1024");
	expect_error("db_host = h\ndb_name = x\nio_timeout = 0\n",
	    ":3: io_timeout must be at least 1");
	expect_error("db_host = h\ndb_name = x\n"
	    "memcached_poll_timeout_ms = 0\n",
	    ":3: memcached_poll_timeout_ms must be at least 1");
	expect_error("db_host = h\ndb_name = x\n"
	    "memcached_connect_timeout_ms = 0\n",
	    ":3: memcached_connect_timeout_ms must be at least 1");
	expect_error("db_host = h\ndb_name = x\nsignature_max_age = 0\n",
	    ":3: signature_max_age must be at least 1");
	expect_error("db_host = h\ndb_name = x\nregister_max_age = 0\n",
	    ":3: register_max_age must be at least 1");
	expect_error("db_host = h\ndb_name = x\nrequest_timeout = 30\n",
	    ":3: request_timeout must be greater");
	expect_error("db_host = h\ndb_name = x\nio_timeout = 200\n",
	    ":3: request_timeout must be greater");
	expect_error("db_host = h\ndb_name = x\ndb_replica_socket = /s\n"
	    "db_replica = a b\ndb_replica = c d\n",
	    ":5: at most 4 replicas");
}

/* memcached_server = none: no cache, as without the key; not with servers. */
static void
test_memcached_none(void **state)
{
	struct conf *c;

	(void)state;
	c = conf_from_text("db_host = h\ndb_name = x\nmemcached_server = none\n");
	assert_int_equal(c->n_memcached_servers, 0);
	conf_free(c);
	expect_error("db_host = h\ndb_name = x\n"
	    "memcached_server = none 127.0.0.1\n",
	    ":3: memcached_server: \"none\" (no cache) may not be listed "
	    "with servers");
	expect_error("db_host = h\ndb_name = x\n"
	    "memcached_server = 127.0.0.1\nmemcached_server = none\n",
	    ":4: memcached_server: \"none\"");
	expect_error("db_host = h\ndb_name = x\nmemcached_server = none\n"
	    "memcached_server = /run/memcached.sock\n",
	    ":4: memcached_server: \"none\"");
	/* One server twice (whatever the weight): refused where repeated. */
	expect_error("db_host = h\ndb_name = x\n"
	    "memcached_server = 10.0.0.1:11211 10.0.0.2\n"
	    "memcached_server = 10.0.0.1:11211:2\n",
	    ":4: memcached_server: \"10.0.0.1:11211:2\" is listed already");
	expect_error("db_host = h\ndb_name = x\n"
	    "memcached_server = 10.0.0.2 10.0.0.2:11211\n",
	    ":3: memcached_server: \"10.0.0.2:11211\" is listed already");
	expect_error("db_host = h\ndb_name = x\n"
	    "memcached_server = /run/mc.sock /run/mc.sock\n",
	    ":3: memcached_server: \"/run/mc.sock\" is listed already");
	c = conf_from_text("db_host = h\ndb_name = x\n"
	    "memcached_server = 10.0.0.1:11211 10.0.0.1:11212 [::1]:11211\n");
	assert_int_equal(c->n_memcached_servers, 3);
	conf_free(c);
}

static void
test_missing_file(void **state)
{
	char err[256];

	(void)state;
	assert_null(conf_load("/nonexistent/relaycfg.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/relaycfg.conf: No such file"));
}

/*
 * A FIFO or a directory at the path is refused at once: the open of a
 * FIFO without a writer used to block (a master reloading on SIGHUP with
 * it), and one with a writer would be read as a stream.
 */
static void
test_not_regular(void **state)
{
	char dir[] = "/tmp/relaycfg-conf.XXXXXX", fifo[64], err[256];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(10);	/* a blocked open fails the test, not hangs it */
	assert_null(conf_load(fifo, err, sizeof(err)));
	alarm(0);
	assert_non_null(strstr(err, "fifo: not a regular file"));
	assert_null(conf_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, ": not a regular file"));
	unlink(fifo);
	rmdir(dir);
}

static void
test_cidr(void **state)
{
	struct conf_cidr nets[3];
	size_t n;
	const struct conf_cidr *def;

	(void)state;
	assert_int_equal(conf_parse_cidr("10.1.0.0/16", &nets[0]), 0);
	assert_int_equal(conf_parse_cidr("2001:db8::/32", &nets[1]), 0);
	assert_int_equal(conf_parse_cidr("192.0.2.7", &nets[2]), 0);
	assert_true(conf_cidr_contains(nets, 3, "10.1.255.3"));
	assert_false(conf_cidr_contains(nets, 3, "10.2.0.1"));
	assert_true(conf_cidr_contains(nets, 3, "2001:db8:ffff::1"));
	assert_false(conf_cidr_contains(nets, 3, "2001:db9::1"));
	assert_true(conf_cidr_contains(nets, 3, "192.0.2.7"));
	assert_false(conf_cidr_contains(nets, 3, "192.0.2.8"));
	/* IPv4-mapped IPv6 peers match IPv4 networks */
	assert_true(conf_cidr_contains(nets, 3, "::ffff:10.1.2.3"));
	assert_false(conf_cidr_contains(nets, 3, "not-an-ip"));
	assert_false(conf_cidr_contains(nets, 3, ""));
	assert_false(conf_cidr_contains(nets, 3, NULL));
	assert_int_equal(conf_parse_cidr("1.2.3.4/", &nets[0]), -1);
	assert_int_equal(conf_parse_cidr("1.2.3.4/-1", &nets[0]), -1);
	assert_int_equal(conf_parse_cidr("::/129", &nets[0]), -1);
	/* a non-octet-aligned prefix */
	assert_int_equal(conf_parse_cidr("100.64.0.0/10", &nets[0]), 0);
	assert_true(conf_cidr_contains(nets, 1, "100.127.255.255"));
	assert_false(conf_cidr_contains(nets, 1, "100.128.0.0"));

	def = conf_default_internal_networks(&n);
	assert_int_equal(n, 15);
	assert_true(conf_cidr_contains(def, n, "127.0.0.1"));
	assert_true(conf_cidr_contains(def, n, "172.31.255.255"));
	assert_false(conf_cidr_contains(def, n, "172.32.0.0"));
	assert_true(conf_cidr_contains(def, n, "255.255.255.255"));
	assert_false(conf_cidr_contains(def, n, "8.8.8.8"));
	assert_false(conf_cidr_contains(def, n, "::1"));
}

static void
test_valid_ids(void **state)
{
	(void)state;
	assert_true(valid_hex32("0123456789abcdef0123456789abcdef"));
	assert_false(valid_hex32("0123456789ABCDEF0123456789abcdef"));
	assert_false(valid_hex32("0123456789abcdef0123456789abcde"));
	assert_false(valid_hex32("0123456789abcdef0123456789abcdef0"));
	assert_false(valid_hex32("0123456789abcdef 123456789abcdef"));
	assert_false(valid_hex32(""));
	/* n bytes, not a string: what follows them is not looked at */
	assert_true(valid_lower_hex("09af Z", 4));
	assert_false(valid_lower_hex("09aF", 4));
	assert_false(valid_lower_hex("09ag", 4));
	assert_true(valid_lower_hex("", 0));
	assert_true(valid_uuid("88888888-4444-4444-8444-cccccccccccc"));
	assert_false(valid_uuid("88888888-4444-4444-8444-CCCCCCCCCCCC"));
	assert_false(valid_uuid("888888884444444484444cccccccccccc"));
	assert_false(valid_uuid("88888888-4444-4444-8444-cccccccccccc0"));
	assert_false(valid_uuid("88888888-4444-4444-8444-ccccccccccc"));
	assert_false(valid_uuid("88888888_4444-4444-8444-cccccccccccc"));
}

/* What json-c holds exactly, and not what it clamped. */
static void
test_valid_json_int64(void **state)
{
	static const struct {
		const char	*text;
		bool		 ok;
		int64_t		 value;
	} cases[] = {
		{ "12", true, 12 },
		{ "-5", true, -5 },
		{ "9223372036854775807", true, INT64_MAX },
		{ "-9223372036854775808", true, INT64_MIN },
		{ "9223372036854775808", false, 0 },
		{ "99999999999999999999999", false, 0 },
		{ "12.0", false, 0 },
		{ "\"12\"", false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *o = json_tokener_parse(cases[i].text);
		int64_t v = 77;

		assert_non_null(o);
		assert_int_equal(valid_json_int64(o, &v), cases[i].ok);
		assert_true(v == (cases[i].ok ? cases[i].value : 77));
		json_object_put(o);
	}
}

/*
 * conf_origin: the settings checked after parsing (user, the socket) name
 * the file's line, or the option that overrides it.
 */
static void
test_origin(void **state)
{
	struct conf_overrides none = { NULL, NULL, NULL, -1, -1, -1 };
	struct conf_overrides ov = none;
	char buf[512], want[600];
	struct conf *c;

	(void)state;
	c = conf_from_text("db_socket = /run/mysqld/mysqld.sock\n"
	    "db_name = sentry\n"
	    "user = nobody\n"
	    "socket_owner = www-data\n");
	assert_true(conf_origin(c, CONF_USER, buf, sizeof(buf)));
	snprintf(want, sizeof(want), "%s:3: user", c->path);
	assert_string_equal(buf, want);
	assert_true(conf_origin(c, CONF_SOCKET_OWNER, buf, sizeof(buf)));
	snprintf(want, sizeof(want), "%s:4: socket_owner", c->path);
	assert_string_equal(buf, want);
	/* not given: the default, named by its key */
	assert_false(conf_origin(c, CONF_SOCKET_MODE, buf, sizeof(buf)));
	assert_string_equal(buf, "socket_mode");
	assert_false(conf_origin(c, CONF_LISTEN, buf, sizeof(buf)));
	/* the command line wins, and is blamed */
	ov.user = "daemon";
	ov.socket_mode = 0600;
	conf_set_overrides(&ov);
	assert_int_equal(conf_apply_overrides(c), 0);
	assert_true(conf_origin(c, CONF_USER, buf, sizeof(buf)));
	assert_string_equal(buf, "--user");
	assert_true(conf_origin(c, CONF_SOCKET_MODE, buf, sizeof(buf)));
	assert_string_equal(buf, "--socket-mode");
	assert_true(conf_origin(c, CONF_SOCKET_OWNER, buf, sizeof(buf)));
	snprintf(want, sizeof(want), "%s:4: socket_owner", c->path);
	assert_string_equal(buf, want);
	conf_set_overrides(&none);
	conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_errors_name_line),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_not_regular),
		cmocka_unit_test(test_check_lines),
		cmocka_unit_test(test_memcached_none),
		cmocka_unit_test(test_replicas),
		cmocka_unit_test(test_settings_digest),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_valid_ids),
		cmocka_unit_test(test_valid_json_int64),
	};
	log_setup(LOG_LEVEL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
