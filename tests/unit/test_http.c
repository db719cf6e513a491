/*
 * test_http.c - query parsing and routing, without a server.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "endpoints.h"
#include "http.h"
#include "router.h"

/* router.c refers to the table that routes.c defines for the binaries. */
const struct route router_routes[] = {
	{ "/api/0/relays/live/", "GET", "GET, HEAD", ep_live },
	{ NULL, NULL, NULL, NULL }
};

static void
test_query_param(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(http_query_param("version=3", "version", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "3");
	assert_int_equal(http_query_param("a=1&version=2&version=3", "version", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "2");
	assert_int_equal(http_query_param("versions=3", "version", buf, sizeof(buf)), -1);
	assert_int_equal(http_query_param("", "version", buf, sizeof(buf)), -1);
	assert_int_equal(http_query_param("version=", "version", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(http_query_param("version", "version", buf, sizeof(buf)), 0);
	assert_int_equal(http_query_param("version=%33", "version", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "3");
	assert_int_equal(http_query_param("version=a+b", "version", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "a b");
	assert_int_equal(http_query_param("version=%3", "version", buf, sizeof(buf)), -2);
	assert_int_equal(http_query_param("version=%zz", "version", buf, sizeof(buf)), -2);
	assert_int_equal(http_query_param("version=0123456789abcdefXYZ", "version", buf, sizeof(buf)), -2);
}

static void
test_router_find(void **state)
{
	(void)state;
	assert_non_null(router_find(router_routes, "/api/0/relays/live/"));
	assert_non_null(router_find(router_routes, "/api/0/relays/live"));
	assert_null(router_find(router_routes, "/api/0/relays/liv"));
	assert_null(router_find(router_routes, "/api/0/relays/live//"));
	assert_null(router_find(router_routes, "/"));
	assert_null(router_find(router_routes, ""));
}

/* Accept-Encoding as RFC 9110 12.5.3 has it, and as clients send it. */
static void
test_accepts_gzip(void **state)
{
	static const char *const yes[] = {
		"gzip", "GZIP", "x-gzip", "gzip, deflate, br", "deflate,gzip",
		"br;q=1.0, gzip;q=0.8", "*", "br, *;q=0.1", "gzip;q=0.001",
		" gzip ", "gzip;q=1", "gzip; q=0.5", "identity, gzip",
		"gzip;q=x",		/* a malformed q does not refuse */
	};
	static const char *const no[] = {
		"", "identity", "deflate", "br", "gzipx", "xgzip", "gzip;q=0",
		"gzip;q=0.0", "gzip; q=0.000", "gzip;Q=0", "*;q=0",
		"*, gzip;q=0",		/* refused by name despite * */
		"gzip;q=0, *",
		"deflate;q=0.5, br",
	};

	(void)state;
	assert_false(http_accepts_gzip(NULL));
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!http_accepts_gzip(yes[i]))
			fail_msg("\"%s\" should take gzip", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (http_accepts_gzip(no[i]))
			fail_msg("\"%s\" should not take gzip", no[i]);
}

static void
test_status_text(void **state)
{
	(void)state;
	assert_string_equal(http_status_text(413), "Payload Too Large");
	assert_string_equal(http_status_text(415), "Unsupported Media Type");
	assert_string_equal(http_status_text(405), "Method Not Allowed");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_param),
		cmocka_unit_test(test_router_find),
		cmocka_unit_test(test_status_text),
		cmocka_unit_test(test_accepts_gzip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
