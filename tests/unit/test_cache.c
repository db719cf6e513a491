/*
 * test_cache.c - the memcached layer without a server: memcached_server
 * entries (weights), the order of generations (time first, so that a
 * node that missed a bump is recognised as older), and ketama: removing
 * a node moves only its own keys, weights set the shares, and every node
 * has a route key for its copies of the generation and the epoch.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache_int.h"
#include "conf.h"

#define NKEYS	20000
#define DAY_MS	(86400LL * 1000)

static void
test_parse(void **state)
{
	static const struct {
		const char	*text, *host;
		unsigned	 port, weight;
	} good[] = {
		{ "10.0.0.1:11311", "10.0.0.1", 11311, 1 },
		{ "mc1.example:11211:3", "mc1.example", 11211, 3 },
		{ "mc1", "mc1", 11211, 1 },
		{ "[::1]:11212:1000", "::1", 11212, 1000 },
		{ "[fe80::2]", "fe80::2", 11211, 1 },
		{ "/run/mc.sock", "/run/mc.sock", 0, 1 },
	};
	/* the first used to be read as host "h:1:2", port 3 */
	static const char *const bad[] = { "h:1:2:3", "h:0", "h:65536",
	    "h:1:0", "h:1:1001", "h:", "h:1:", ":11211", "::1", "[::1",
	    "[::1]x", "[]:1", "h:-1", "h:1:+2", "h:1x", "h: 1", "h:11211:w" };
	struct conf_mc_server s;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(conf_parse_mc_server(good[i].text, &s), 0);
		assert_string_equal(s.host, good[i].host);
		assert_int_equal(s.port, good[i].port);
		assert_int_equal(s.weight, good[i].weight);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (conf_parse_mc_server(bad[i], &s) == 0)
			fail_msg("\"%s\" was accepted", bad[i]);
}

static void
test_gen_order(void **state)
{
	const long long now = 1764921600000LL;	/* 2025-12-05 */
	char a[CACHE_GEN_LEN + 1], b[CACHE_GEN_LEN + 1], c[CACHE_GEN_LEN + 1];

	(void)state;
	cache_gen_make(a, NULL, now);
	assert_true(cache_gen_valid(a, strlen(a)));
	assert_int_equal(cache_gen_time(a), now);
	assert_int_equal(cache_gen_cmp(a, a, now), 0);

	/* Later is newer; so is a bump made on a host whose clock is
	 * behind: it is made 1 ms after the newest it has seen. */
	cache_gen_make(b, a, now + 1);
	assert_true(cache_gen_cmp(b, a, now) > 0 && cache_gen_cmp(a, b, now) < 0);
	cache_gen_make(c, b, now - 5000);
	assert_true(cache_gen_cmp(c, b, now) > 0);
	assert_int_equal(cache_gen_time(c), now + 2);
	/* Two bumps in the same millisecond still differ (random tail)
	 * and are ordered one way or the other. */
	cache_gen_make(b, NULL, now);
	cache_gen_make(c, NULL, now);
	assert_true(cache_gen_cmp(b, c, now) == -cache_gen_cmp(c, b, now));

	/* 16 random digits written by an older relaycfg: a time far ahead
	 * counts as older than any real one, so a bump always wins and the
	 * old generation is repaired; one in the past is simply old. */
	assert_true(cache_gen_cmp("f3a9000000000000", a, now) < 0);
	assert_true(cache_gen_cmp(a, "f3a9000000000000", now) > 0);
	assert_true(cache_gen_cmp("0000000000012345", a, now) < 0);
	cache_gen_make(b, "f3a9000000000000", now);
	assert_int_equal(cache_gen_time(b), now);
	/* a host whose clock is a day ahead is still believed */
	cache_gen_make(b, NULL, now + DAY_MS);
	assert_true(cache_gen_cmp(b, a, now) > 0);
	cache_gen_make(c, b, now);
	assert_true(cache_gen_cmp(c, b, now) > 0);
}

/* A cache over the given memcached_server entries (no connection). */
static struct cache *
cache_of(struct conf **cf, const char *const *servers, size_t n)
{
	char err[256];
	struct cache *c;

	*cf = conf_defaults();
	assert_non_null(*cf);
	(*cf)->memcached_servers = calloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		(*cf)->memcached_servers[i] = strdup(servers[i]);
	(*cf)->n_memcached_servers = n;
	c = cache_new(*cf, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->nsrv, n);
	return c;
}

static const char *
holder(const struct cache *c, unsigned k)
{
	char key[CACHE_KEY_MAX];

	cache_key_id(c, key, sizeof(key), "p", (int64_t)k);
	return c->srv[cache_server_of(c, key, strlen(key))].name;
}

static void
test_ketama(void **state)
{
	const char *three[] = { "127.0.0.1:21001", "127.0.0.1:21002",
	    "127.0.0.1:21003" };
	const char *two[] = { "127.0.0.1:21001", "127.0.0.1:21003" };
	const char *weighted[] = { "127.0.0.1:21001:3", "127.0.0.1:21002" };
	struct conf *cf3, *cf2, *cfw;
	struct cache *c3 = cache_of(&cf3, three, 3);
	struct cache *c2 = cache_of(&cf2, two, 2);
	struct cache *cw = cache_of(&cfw, weighted, 2);
	unsigned lost = 0, moved = 0, heavy = 0, share[3] = { 0 };

	(void)state;
	for (unsigned k = 0; k < NKEYS; k++) {
		const char *was = holder(c3, k), *now = holder(c2, k);

		for (unsigned i = 0; i < 3; i++)
			if (strcmp(was, three[i]) == 0)
				share[i]++;
		if (strcmp(was, three[1]) == 0)
			lost++;
		else if (strcmp(was, now) != 0)
			moved++;
		if (strcmp(holder(cw, k), "127.0.0.1:21001") == 0)
			heavy++;
	}
	print_message("# shares of 3 nodes: %u %u %u; weight 3:1 -> %u of %u\n",
	    share[0], share[1], share[2], heavy, NKEYS);
	/* Removing the second node moves its keys only. */
	assert_int_equal(moved, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_true(share[i] > NKEYS / 5 && share[i] < NKEYS / 2);
	/* Weight 3 against 1: about three quarters of the keys. */
	assert_true(heavy > NKEYS * 65 / 100 && heavy < NKEYS * 85 / 100);

	/* Every node has a route: a group key libmemcached maps to it. */
	for (uint32_t i = 0; i < c3->nsrv; i++) {
		assert_true(c3->srv[i].route_len > 0);
		assert_int_equal(cache_server_of(c3, c3->srv[i].route,
		    c3->srv[i].route_len), i);
	}
	assert_true(lost > 0);
	cache_free(c3);
	cache_free(c2);
	cache_free(cw);
	conf_free(cf3);
	conf_free(cf2);
	conf_free(cfw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_gen_order),
		cmocka_unit_test(test_ketama),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
