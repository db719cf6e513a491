/*
 * test_auth.c - the client address behind trusted proxies: every
 * X-Forwarded-For param collected by http_request_open in arrival order,
 * walked from the right by auth_client_addr, and "too long" or malformed
 * never falling back to REMOTE_ADDR.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth.h"
#include "conf.h"
#include "http.h"

#define MAXENV	8

/*
 * The client address relaycfg decides for a request with these params
 * (NULL-terminated "NAME=value" strings), from a peer trusted as a proxy
 * when trusted is set; 127.0.0.1 is the trusted proxy, 10.0.0.0/8 the
 * internal network.  Also returns the joined X-Forwarded-For length.
 */
static const char *
client_addr(char *buf, size_t len, bool trusted, size_t *xff_len,
    const char *first, ...)
{
	struct conf_cidr proxy, nets;
	struct conf conf;
	struct request req;
	FCGX_Request fcgx;
	char *env[MAXENV + 1];
	const char *p;
	va_list ap;
	int n = 0;

	assert_int_equal(conf_parse_cidr("127.0.0.1", &proxy), 0);
	assert_int_equal(conf_parse_cidr("10.0.0.0/8", &nets), 0);
	memset(&conf, 0, sizeof(conf));
	conf.trusted_proxies = &proxy;
	conf.n_trusted_proxies = 1;
	conf.internal_networks = &nets;
	conf.n_internal_networks = 1;
	conf.internal_networks_set = true;

	env[n++] = trusted ? "REMOTE_ADDR=127.0.0.1" : "REMOTE_ADDR=192.0.2.9";
	va_start(ap, first);
	for (p = first; p != NULL; p = va_arg(ap, const char *)) {
		assert_true(n < MAXENV);
		env[n++] = (char *)p;
	}
	va_end(ap);
	env[n] = NULL;
	memset(&fcgx, 0, sizeof(fcgx));
	fcgx.envp = env;

	assert_int_equal(http_request_open(&req, &fcgx), 0);
	if (xff_len != NULL)
		*xff_len = strlen(req.forwarded_for);
	auth_client_addr(&conf, &req, buf, len);
	/* What the request path then decides, for the callers' checks. */
	if (strcmp(buf, "invalid") == 0)
		assert_false(auth_is_internal(&conf, "pk", buf));
	http_request_close(&req);
	return buf;
}

/* A "NAME=value" param whose value is n bytes of "203.0.113.5, " hops. */
static char *
long_param(size_t n)
{
	static const char name[] = "HTTP_X_FORWARDED_FOR=";
	static const char hop[] = "203.0.113.5, ";
	char *s = malloc(sizeof(name) + n);

	assert_non_null(s);
	memcpy(s, name, sizeof(name) - 1);
	for (size_t i = 0; i < n; i++)
		s[sizeof(name) - 1 + i] = hop[i % (sizeof(hop) - 1)];
	/* End on a whole address so only the length is wrong. */
	memcpy(s + sizeof(name) - 1 + n - 8, "10.1.2.3", 8);
	s[sizeof(name) - 1 + n] = '\0';
	return s;
}

static void
test_one_line(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL, NULL),
	    "127.0.0.1");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3, 203.0.113.5", NULL),
	    "203.0.113.5");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=203.0.113.5,10.1.2.3", NULL), "10.1.2.3");
	/* Our own proxies are skipped from the right. */
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=203.0.113.5, 127.0.0.1 ,127.0.0.1", NULL),
	    "203.0.113.5");
	/* From an untrusted peer the header never counts. */
	assert_string_equal(client_addr(buf, sizeof(buf), false, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3", NULL), "192.0.2.9");
}

/* nginx < 1.23 passes each header line as its own param (issue 11, 1). */
static void
test_repeated_lines(void **state)
{
	char buf[64];
	size_t n;

	(void)state;
	assert_string_equal(client_addr(buf, sizeof(buf), true, &n,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3",
	    "HTTP_X_FORWARDED_FOR=203.0.113.5", NULL), "203.0.113.5");
	assert_int_equal(n, strlen("10.1.2.3, 203.0.113.5"));
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=203.0.113.5",
	    "HTTP_X_FORWARDED_FOR=10.1.2.3", NULL), "10.1.2.3");
	/* Other params between them do not matter; empty lines add nothing. */
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3", "HTTP_X_FORWARDED_FORX=1.1.1.1",
	    "HTTP_X_FORWARDED_FOR=", "HTTP_HOST=x",
	    "HTTP_X_FORWARDED_FOR=203.0.113.5, 127.0.0.1", NULL),
	    "203.0.113.5");
}

/*
 * A hop with a port (Azure Application Gateway appends "address:port";
 * Sentry's middleware strips an IPv4 hop's port) is its address, for the
 * client as for a trusted proxy's hop.
 */
static void
test_hop_ports(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3:5555", NULL), "10.1.2.3");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=203.0.113.5:1, 10.1.2.3:5555, "
	    "127.0.0.1:4444", NULL), "10.1.2.3");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3, 203.0.113.5:80", NULL),
	    "203.0.113.5");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=[2001:db8::1]:443", NULL), "2001:db8::1");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=[2001:db8::1]", NULL), "2001:db8::1");
	/* A bare IPv6 address keeps its last group; no port, no cut. */
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=2001:db8::1", NULL), "2001:db8::1");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=::ffff:10.1.2.3", NULL), "::ffff:10.1.2.3");
	/* What is not "address:digits" stays whole (and is no address). */
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3:", NULL), "10.1.2.3:");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3:http", NULL), "10.1.2.3:http");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=[2001:db8::1]x", NULL), "[2001:db8::1]x");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=[]", NULL), "invalid");
}

/* Too long or malformed is "invalid" (not internal), never REMOTE_ADDR. */
static void
test_invalid(void **state)
{
	char buf[64], hops[512] = "";
	char *big, *half1, *half2;
	size_t n;

	(void)state;
	big = long_param(9000);
	assert_string_equal(client_addr(buf, sizeof(buf), true, &n, big, NULL),
	    "invalid");
	assert_int_equal(n, 8193);
	half1 = long_param(5000);
	half2 = long_param(5000);
	assert_string_equal(client_addr(buf, sizeof(buf), true, &n, half1,
	    half2, NULL), "invalid");
	assert_int_equal(n, 8193);
	/* Longer than the walk's copy, shorter than the param limit. */
	free(half2);
	half2 = long_param(1500);
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL, half2,
	    NULL), "invalid");

	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3,,203.0.113.5", NULL), "invalid");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3, ", NULL), "invalid");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL,
	    "HTTP_X_FORWARDED_FOR=,10.1.2.3", NULL), "invalid");
	/* A hop the address buffer would cut is not an address. */
	assert_string_equal(client_addr(buf, 9, true, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.34", NULL), "invalid");
	assert_string_equal(client_addr(buf, 9, true, NULL,
	    "HTTP_X_FORWARDED_FOR=10.1.2.3", NULL), "10.1.2.3");

	/* 32 hops are walked, 33 are not. */
	strcpy(hops, "HTTP_X_FORWARDED_FOR=10.0.0.1");
	for (int i = 1; i < 32; i++)
		strcat(hops, ",10.0.0.1");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL, hops,
	    NULL), "10.0.0.1");
	strcat(hops, ",10.0.0.1");
	assert_string_equal(client_addr(buf, sizeof(buf), true, NULL, hops,
	    NULL), "invalid");
	free(big);
	free(half1);
	free(half2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_repeated_lines),
		cmocka_unit_test(test_hop_ports),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
