/*
 * test_conf_advice.c - the warnings --check-config gives about valid but
 * dangerous settings: registration with private networks internal
 * and no trusted proxy, TCP without FCGI_WEB_SERVER_ADDRS.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf.h"
#include "conf_testlib.h"

#define BASE	"db_socket = /run/mysqld/mysqld.sock\ndb_name = sentry\n"
#define SECRET	"registration_secret = 0123456789abcdef0123\n"

/* The warnings of one conf, joined by '|'. */
struct said {
	char	text[2048];
	size_t	n;
};

static void
collect(const char *msg, void *arg)
{
	struct said *s = arg;
	size_t len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "%s%s",
	    len > 0 ? "|" : "", msg);
	s->n++;
}

/* advise - the warnings for text (FCGI_WEB_SERVER_ADDRS as given). */
static struct said
advise(const char *text, const char *fcgi_addrs)
{
	struct said s = { "", 0 };
	struct conf *c = conf_from_text(text);
	size_t n;

	if (fcgi_addrs != NULL)
		setenv("FCGI_WEB_SERVER_ADDRS", fcgi_addrs, 1);
	else
		unsetenv("FCGI_WEB_SERVER_ADDRS");
	n = conf_advise(c, collect, &s);
	assert_int_equal(n, s.n);
	conf_free(c);
	return s;
}

static void
test_registration(void **state)
{
	struct said s;

	(void)state;
	/* Sentry's defaults hold 10/8, 172.16/12, 192.168/16. */
	s = advise(BASE SECRET, NULL);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.text, "registration enabled, private "
	    "networks internal and no trusted_proxies"));
	/* Each way out silences it. */
	assert_int_equal(advise(BASE SECRET "trusted_proxies = 10.1.2.3/32\n",
	    NULL).n, 0);
	/* Closing registration is no way out: internal relays register. */
	assert_int_equal(advise(BASE SECRET "open_registration = no\n",
	    NULL).n, 1);
	assert_int_equal(advise(BASE SECRET
	    "internal_networks = 127.0.0.0/8 203.0.113.0/24\n", NULL).n, 0);
	/* No secret: nobody registers (503), nothing to warn of. */
	assert_int_equal(advise(BASE, NULL).n, 0);
	/* Any private range counts, IPv6 ULA too. */
	assert_int_equal(advise(BASE SECRET "internal_networks = fc00::/7\n",
	    NULL).n, 1);
	assert_int_equal(advise(BASE SECRET
	    "internal_networks = 100.64.0.0/10\n", NULL).n, 1);
}

static void
test_tcp(void **state)
{
	struct said s;

	(void)state;
	s = advise(BASE "listen = 127.0.0.1:9000\n", NULL);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.text, "without FCGI_WEB_SERVER_ADDRS"));
	assert_int_equal(advise(BASE "listen = 127.0.0.1:9000\n", "").n, 1);
	assert_int_equal(advise(BASE "listen = 127.0.0.1:9000\n",
	    "127.0.0.1").n, 0);
	assert_int_equal(advise(BASE "listen = unix:/run/relaycfg.sock\n",
	    NULL).n, 0);
	assert_int_equal(advise(BASE, NULL).n, 0);
	/* IPv6 with the variable: libfcgi would not check the peers. */
	s = advise(BASE "listen = [::1]:9000\n", "127.0.0.1");
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.text, "refuses to start"));
	assert_int_equal(advise(BASE "listen = 10.0.0.1:9000\n",
	    "127.0.0.1").n, 0);
	/* Both at once: two warnings. */
	assert_int_equal(advise(BASE SECRET "listen = [::1]:9000\n", NULL).n,
	    2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registration),
		cmocka_unit_test(test_tcp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
