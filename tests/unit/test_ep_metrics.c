/*
 * test_ep_metrics.c - who may read GET /metrics: loopback and internal_networks, client address as for relays.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "endpoints.h"
#include "http.h"

static struct conf *
load(const char *text)
{
	char path[] = "/tmp/relaycfg-epm-XXXXXX", err[512] = "";
	struct conf *c;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	c = conf_load(path, err, sizeof(err));
	unlink(path);
	if (c == NULL)
		fail_msg("conf_load: %s", err);
	return c;
}

/* allowed - may a request from remote with this X-Forwarded-For read? */
static bool
allowed(const struct conf *c, const char *remote, const char *xff,
    const char *want_addr)
{
	struct request req;
	char addr[64];
	bool rv;

	memset(&req, 0, sizeof(req));
	req.remote_addr = (char *)remote;
	req.forwarded_for = (char *)xff;
	rv = ep_metrics_allowed(c, &req, addr, sizeof(addr));
	assert_string_equal(addr, want_addr);
	return rv;
}

static void
test_direct(void **state)
{
	struct conf *c = load("db_socket = /nonexistent.sock\ndb_name = x\n");

	(void)state;
	/* loopback, and Sentry's INTERNAL_SYSTEM_IPS by default */
	assert_true(allowed(c, "127.0.0.1", "", "127.0.0.1"));
	assert_true(allowed(c, "127.3.4.5", "", "127.3.4.5"));
	assert_true(allowed(c, "::1", "", "::1"));
	assert_true(allowed(c, "::ffff:127.0.0.1", "", "::ffff:127.0.0.1"));
	assert_true(allowed(c, "10.1.2.3", "", "10.1.2.3"));
	assert_true(allowed(c, "192.168.0.9", "", "192.168.0.9"));
	assert_false(allowed(c, "203.0.113.9", "", "203.0.113.9"));
	assert_false(allowed(c, "2001:db8::1", "", "2001:db8::1"));
	assert_false(allowed(c, "", "", ""));
	assert_false(allowed(c, "garbage", "", "garbage"));
	/* No trusted proxy: the header proves nothing, either way. */
	assert_true(allowed(c, "127.0.0.1", "203.0.113.9", "127.0.0.1"));
	assert_false(allowed(c, "203.0.113.9", "127.0.0.1", "203.0.113.9"));
	conf_free(c);
}

static void
test_internal_networks(void **state)
{
	struct conf *c = load("db_socket = /nonexistent.sock\ndb_name = x\n"
	    "internal_networks = 192.168.0.0/16, fd00::/8\n");

	(void)state;
	assert_false(allowed(c, "10.1.2.3", "", "10.1.2.3"));
	assert_true(allowed(c, "192.168.7.7", "", "192.168.7.7"));
	assert_true(allowed(c, "fd00::5", "", "fd00::5"));
	/* loopback is always let in */
	assert_true(allowed(c, "127.0.0.1", "", "127.0.0.1"));
	assert_true(allowed(c, "::1", "", "::1"));
	conf_free(c);
}

static void
test_trusted_proxy(void **state)
{
	struct conf *c = load("db_socket = /nonexistent.sock\ndb_name = x\n"
	    "trusted_proxies = 127.0.0.1, 10.0.0.1\n");

	(void)state;
	assert_false(allowed(c, "127.0.0.1", "203.0.113.7", "203.0.113.7"));
	assert_true(allowed(c, "127.0.0.1", "10.1.2.3", "10.1.2.3"));
	/* the rightmost hop that is not a trusted proxy */
	assert_false(allowed(c, "127.0.0.1", "10.1.2.3, 203.0.113.7",
	    "203.0.113.7"));
	assert_false(allowed(c, "127.0.0.1", "203.0.113.7, 10.0.0.1",
	    "203.0.113.7"));
	/* every hop trusted: the leftmost, itself internal */
	assert_true(allowed(c, "127.0.0.1", "10.0.0.1", "10.0.0.1"));
	/* a header that cannot be walked is no address at all */
	assert_false(allowed(c, "127.0.0.1", "10.1.2.3,,127.0.0.1",
	    "invalid"));
	/* an untrusted peer's header does not count */
	assert_false(allowed(c, "203.0.113.7", "127.0.0.1", "203.0.113.7"));
	conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_internal_networks),
		cmocka_unit_test(test_trusted_proxy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
