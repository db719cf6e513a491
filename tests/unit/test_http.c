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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
