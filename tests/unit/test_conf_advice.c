/*
 * test_conf_advice.c - the warnings --check-config gives about valid but
 * dangerous settings: registration with any part of a private range
 * internal and no trusted proxy (conf_cidr_overlap), TCP without
 * FCGI_WEB_SERVER_ADDRS, socket_mode or socket_owner where they do nothing,
 * a short registration secret, secrets in a file every user may read.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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

/* advise_conf - the warnings for c (FCGI_WEB_SERVER_ADDRS as given),
 * which it frees. */
static struct said
advise_conf(struct conf *c, const char *fcgi_addrs)
{
	struct said s = { "", 0 };
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

/* advise - the warnings for text (in a file of mode 0600). */
static struct said
advise(const char *text, const char *fcgi_addrs)
{
	return advise_conf(conf_from_text(text), fcgi_addrs);
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
	/* Part of a private range is enough: docker's networks, a /24 of a
	 * home router, one balancer's /32, link-local. */
	assert_int_equal(advise(BASE SECRET
	    "internal_networks = 172.31.0.0/16\n", NULL).n, 1);
	assert_int_equal(advise(BASE SECRET
	    "internal_networks = 192.168.1.0/24\n", NULL).n, 1);
	assert_int_equal(advise(BASE SECRET
	    "internal_networks = 203.0.113.0/24 10.9.8.7/32\n", NULL).n, 1);
	assert_int_equal(advise(BASE SECRET
	    "internal_networks = 169.254.0.0/16\n", NULL).n, 1);
	assert_int_equal(advise(BASE SECRET
	    "internal_networks = fe80::/64\n", NULL).n, 1);
	assert_int_equal(advise(BASE SECRET
	    "internal_networks = 0.0.0.0/0\n", NULL).n, 1);
	/* Next to a private range, not in it. */
	assert_int_equal(advise(BASE SECRET
	    "internal_networks = 172.15.255.0/24 172.32.0.0/11\n", NULL).n, 0);
	assert_int_equal(advise(BASE SECRET
	    "internal_networks = 2001:db8::/32\n", NULL).n, 0);
}

/* overlap - conf_cidr_overlap of two networks given as text. */
static bool
overlap(const char *a, const char *b)
{
	struct conf_cidr x, y;

	assert_int_equal(conf_parse_cidr(a, &x), 0);
	assert_int_equal(conf_parse_cidr(b, &y), 0);
	/* symmetric, whichever is given first */
	assert_int_equal(conf_cidr_overlap(&x, &y), conf_cidr_overlap(&y, &x));
	return conf_cidr_overlap(&x, &y);
}

static void
test_overlap(void **state)
{
	(void)state;
	/* 172.16.0.0/12 is 172.16.0.0 - 172.31.255.255 */
	assert_true(overlap("172.31.0.0/16", "172.16.0.0/12"));
	assert_true(overlap("172.31.255.255/32", "172.16.0.0/12"));
	assert_true(overlap("172.16.0.0/32", "172.16.0.0/12"));
	assert_false(overlap("172.15.255.0/24", "172.16.0.0/12"));
	assert_false(overlap("172.15.255.255/32", "172.16.0.0/12"));
	assert_false(overlap("172.32.0.0/16", "172.16.0.0/12"));
	/* a wider network holds the range */
	assert_true(overlap("172.0.0.0/8", "172.16.0.0/12"));
	assert_true(overlap("0.0.0.0/0", "192.168.0.0/16"));
	assert_true(overlap("0.0.0.0/0", "10.0.0.0/8"));
	/* a /32 inside, a /32 outside */
	assert_true(overlap("192.168.7.9", "192.168.0.0/16"));
	assert_false(overlap("192.169.0.0", "192.168.0.0/16"));
	/* 100.64.0.0/10: 100.64 - 100.127 */
	assert_true(overlap("100.127.255.0/24", "100.64.0.0/10"));
	assert_false(overlap("100.128.0.0/9", "100.64.0.0/10"));
	/* IPv6: fc00::/7 holds fd00::/8; ::/0 holds everything, IPv4-mapped
	 * addresses too, as conf_cidr_contains sees them */
	assert_true(overlap("fd12:3456::/32", "fc00::/7"));
	assert_true(overlap("::/0", "fc00::/7"));
	assert_true(overlap("::/0", "10.0.0.0/8"));
	assert_true(overlap("::ffff:0:0/96", "192.168.0.0/16"));
	assert_false(overlap("fe00::/8", "fc00::/7"));
	assert_false(overlap("2001:db8::/32", "fc00::/7"));
	assert_false(overlap("::1", "10.0.0.0/8"));
	/* IPv4 0.0.0.0/0 is ::ffff:0:0/96, no IPv6 network */
	assert_false(overlap("0.0.0.0/0", "fc00::/7"));
	assert_true(overlap("fe80::1/128", "fe80::/10"));
	assert_false(overlap("fec0::/10", "fe80::/10"));
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
	/* IPv6 with the variable: an error (listen_check, t_lifecycle), not
	 * a warning as well. */
	assert_int_equal(advise(BASE "listen = [::1]:9000\n", "127.0.0.1").n,
	    0);
	assert_int_equal(advise(BASE "listen = 10.0.0.1:9000\n",
	    "127.0.0.1").n, 0);
	/* Both at once: two warnings. */
	assert_int_equal(advise(BASE SECRET "listen = [::1]:9000\n", NULL).n,
	    2);
}

/* socket_mode and socket_owner on a socket relaycfg does not make. */
static void
test_socket_ignored(void **state)
{
	struct conf *c;
	struct said s;

	(void)state;
	s = advise(BASE "listen = 127.0.0.1:9000\nsocket_mode = 0600\n",
	    "127.0.0.1");
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.text, ":4: socket_mode ignored: only a unix "
	    "socket that relaycfg makes itself"));
	assert_non_null(strstr(s.text, "this one is TCP"));
	s = advise(BASE "socket_owner = root\nsocket_mode = 0600\n", NULL);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.text, "socket_mode and "));
	assert_non_null(strstr(s.text, "this one is inherited"));
	/* the default mode is no setting; a unix socket takes both */
	assert_int_equal(advise(BASE "listen = 127.0.0.1:9000\n",
	    "127.0.0.1").n, 0);
	assert_int_equal(advise(BASE "listen = unix:/run/r.sock\n"
	    "socket_mode = 0600\nsocket_owner = root\n", NULL).n, 0);
	/* options are named as options */
	c = conf_from_text(BASE "listen = 127.0.0.1:9000\n");
	conf_set_overrides(&(struct conf_overrides){ NULL, "nobody", NULL,
	    0600, -1, -1 });
	assert_int_equal(conf_apply_overrides(c), 0);
	s.text[0] = '\0';
	s.n = 0;
	setenv("FCGI_WEB_SERVER_ADDRS", "127.0.0.1", 1);
	assert_int_equal(conf_advise(c, collect, &s), 1);
	assert_non_null(strstr(s.text, "--socket-mode and --socket-owner "
	    "ignored"));
	conf_set_overrides(&(struct conf_overrides){ NULL, NULL, NULL,
	    -1, -1, -1 });
	conf_free(c);
}

/* A short registration_secret works and is warned of, never shown. */
static void
test_secret_short(void **state)
{
	struct said s;

	(void)state;
	s = advise(BASE "registration_secret = secret\n"
	    "internal_networks = 127.0.0.0/8\n", NULL);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.text, ":3: registration_secret is shorter "
	    "than 16 characters"));
	assert_null(strstr(s.text, "= secret"));
	assert_int_equal(advise(BASE "registration_secret = 0123456789abcdef\n"
	    "internal_networks = 127.0.0.0/8\n", NULL).n, 0);
}

/* advise_mode - the warnings for text in a file of that mode. */
static struct said
advise_mode(const char *text, mode_t mode, char *path, size_t pathlen)
{
	char err[512] = "";
	struct conf *c;
	int fd;

	snprintf(path, pathlen, "/tmp/relaycfg-advice-XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	c = conf_load(path, err, sizeof(err));
	unlink(path);
	if (c == NULL)
		fail_msg("conf_load: %s", err);
	return advise_conf(c, NULL);
}

/* A secret in a file every user may read is warned of, never shown. */
static void
test_secret_readable(void **state)
{
	char path[64], want[256];
	struct said s;

	(void)state;
	s = advise_mode(BASE SECRET "internal_networks = 127.0.0.0/8\n",
	    0644, path, sizeof(path));
	assert_int_equal(s.n, 1);
	snprintf(want, sizeof(want), "%s holds registration_secret and every "
	    "user may read it (mode 0644): chmod 0640 it", path);
	assert_non_null(strstr(s.text, want));
	assert_null(strstr(s.text, "0123456789abcdef0123"));
	s = advise_mode(BASE "db_password = hunter2-hunter2\n", 0604, path,
	    sizeof(path));
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.text, "holds db_password and every user may "
	    "read it (mode 0604)"));
	assert_null(strstr(s.text, "hunter2"));
	assert_int_equal(advise_mode(BASE "sentry_pg_password = pw\n", 0644,
	    path, sizeof(path)).n, 1);
	/* Group-readable (the packages' 0640), or no secret: nothing. */
	assert_int_equal(advise_mode(BASE SECRET
	    "internal_networks = 127.0.0.1/32\n", 0640, path,
	    sizeof(path)).n, 0);
	assert_int_equal(advise_mode(BASE, 0644, path, sizeof(path)).n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registration),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_socket_ignored),
		cmocka_unit_test(test_secret_short),
		cmocka_unit_test(test_secret_readable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
