/*
 * test_ep_metrics.c - who may read GET /metrics (loopback and
 * internal_networks, client address as for relays), and the names it
 * gives memcached servers.
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
#include "conf_testlib.h"
#include "endpoints.h"
#include "http.h"

/* A client: its REMOTE_ADDR and X-Forwarded-For, the address decided. */
struct client {
	const char	*remote, *xff, *addr;
	bool		 allowed;
};

/*
 * check - under the settings text, may each of the n clients read
 * /metrics, with the address decided as expected?
 */
static void
check(const char *text, const struct client *cl, size_t n)
{
	struct conf *c = conf_from_text(text);
	struct request req;
	char addr[64];
	bool rv;

	for (size_t i = 0; i < n; i++) {
		memset(&req, 0, sizeof(req));
		req.remote_addr = (char *)cl[i].remote;
		req.forwarded_for = (char *)cl[i].xff;
		rv = ep_metrics_allowed(c, &req, addr, sizeof(addr));
		if (rv != cl[i].allowed || strcmp(addr, cl[i].addr) != 0)
			fail_msg("%s via \"%s\": %s as %s, want %s as %s",
			    cl[i].remote, cl[i].xff, rv ? "allowed" : "refused",
			    addr, cl[i].allowed ? "allowed" : "refused",
			    cl[i].addr);
	}
	conf_free(c);
}

#define BASE	"db_socket = /nonexistent.sock\ndb_name = x\n"
#define CHECK(text, cl)	check((text), (cl), sizeof(cl) / sizeof((cl)[0]))

static void
test_direct(void **state)
{
	static const struct client cl[] = {
		/* loopback, and Sentry's INTERNAL_SYSTEM_IPS by default */
		{ "127.0.0.1", "", "127.0.0.1", true },
		{ "127.3.4.5", "", "127.3.4.5", true },
		{ "::1", "", "::1", true },
		{ "::ffff:127.0.0.1", "", "::ffff:127.0.0.1", true },
		{ "10.1.2.3", "", "10.1.2.3", true },
		{ "192.168.0.9", "", "192.168.0.9", true },
		{ "203.0.113.9", "", "203.0.113.9", false },
		{ "2001:db8::1", "", "2001:db8::1", false },
		{ "", "", "", false },
		{ "garbage", "", "garbage", false },
		/* No trusted proxy: the header proves nothing, either way. */
		{ "127.0.0.1", "203.0.113.9", "127.0.0.1", true },
		{ "203.0.113.9", "127.0.0.1", "203.0.113.9", false },
	};

	(void)state;
	CHECK(BASE, cl);
}

static void
test_internal_networks(void **state)
{
	static const struct client cl[] = {
		/* the list replaces Sentry's */
		{ "10.1.2.3", "", "10.1.2.3", false },
		{ "192.168.7.7", "", "192.168.7.7", true },
		{ "fd00::5", "", "fd00::5", true },
		/* loopback is always let in */
		{ "127.0.0.1", "", "127.0.0.1", true },
		{ "::1", "", "::1", true },
	};

	(void)state;
	CHECK(BASE "internal_networks = 192.168.0.0/16, fd00::/8\n", cl);
}

static void
test_trusted_proxy(void **state)
{
	static const struct client cl[] = {
		{ "127.0.0.1", "203.0.113.7", "203.0.113.7", false },
		{ "127.0.0.1", "10.1.2.3", "10.1.2.3", true },
		/* the rightmost hop that is not a trusted proxy */
		{ "127.0.0.1", "10.1.2.3, 203.0.113.7", "203.0.113.7", false },
		{ "127.0.0.1", "203.0.113.7, 10.0.0.1", "203.0.113.7", false },
		/* every hop trusted: the leftmost, itself internal */
		{ "127.0.0.1", "10.0.0.1", "10.0.0.1", true },
		/* a header that cannot be walked is no address at all */
		{ "127.0.0.1", "10.1.2.3,,127.0.0.1", "invalid", false },
		/* an untrusted peer's header does not count */
		{ "203.0.113.7", "127.0.0.1", "203.0.113.7", false },
	};

	(void)state;
	CHECK(BASE "trusted_proxies = 127.0.0.1, 10.0.0.1\n", cl);
}

/* memcached_up's server label: the server without its weight. */
static void
test_server_name(void **state)
{
	static const struct {
		const char	*spec, *name;
	} cases[] = {
		{ "127.0.0.1:21212:2", "127.0.0.1:21212" },
		{ "127.0.0.1:21212", "127.0.0.1:21212" },
		{ "mc1", "mc1:11211" },
		{ "[::1]:11211:7", "[::1]:11211" },
		{ "[fd00::5]", "[fd00::5]:11211" },
		{ "/run/memcached/memcached.sock", "/run/memcached/memcached.sock" },
		{ "bad:port:x", "bad:port:x" },
	};
	char buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ep_metrics_server_name(cases[i].spec, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].name);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_internal_networks),
		cmocka_unit_test(test_trusted_proxy),
		cmocka_unit_test(test_server_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
