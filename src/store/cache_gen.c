/*
 * cache_gen.c - the cache generation (every value is framed with it, and
 * replacing it invalidates them all) and the invalidation epoch that
 * vouches for a worker's memory of revisions (cache.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmemcached/memcached.h>
#include <sodium.h>

#include "cache_int.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "valid.h"

bool
cache_gen_valid(const char *v, size_t len)
{
	return len == CACHE_GEN_LEN && valid_lower_hex(v, len);
}

void
cache_gen_adopt(struct cache *c, const char *v)
{
	memcpy(c->gen, v, CACHE_GEN_LEN);
	c->gen[CACHE_GEN_LEN] = '\0';
	c->gen_known = true;
	c->req_gen_ok = true;
}

void
cache_gen_random(char out[CACHE_GEN_LEN + 1])
{
	unsigned char r[CACHE_GEN_LEN / 2];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(out, CACHE_GEN_LEN + 1, r, sizeof(r));
}

/* Wall-clock milliseconds: generations are compared across hosts. */
static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
cache_gen_time(const char *g)
{
	long long t = 0;

	for (int i = 0; i < CACHE_GEN_TIME_LEN; i++)
		t = t * 16 + (g[i] <= '9' ? g[i] - '0' : g[i] - 'a' + 10);
	return t;
}

int
cache_gen_cmp(const char *a, const char *b, long long now_ms)
{
	bool ahead_a = cache_gen_time(a) > now_ms + CACHE_GEN_AHEAD_MS;
	bool ahead_b = cache_gen_time(b) > now_ms + CACHE_GEN_AHEAD_MS;
	int d;

	if (ahead_a != ahead_b)
		return ahead_a ? -1 : 1;
	/* Lowercase hex of a fixed width: byte order is numeric order. */
	d = memcmp(a, b, CACHE_GEN_LEN);
	return d < 0 ? -1 : d > 0;
}

void
cache_gen_make(char out[CACHE_GEN_LEN + 1], const char *after,
    long long now_ms)
{
	char r[CACHE_GEN_LEN + 1];
	long long t = now_ms;

	if (after != NULL && cache_gen_time(after) >= t &&
	    cache_gen_time(after) <= now_ms + CACHE_GEN_AHEAD_MS)
		t = cache_gen_time(after) + 1;
	cache_gen_random(r);
	snprintf(out, CACHE_GEN_LEN + 1, "%0*llx%s", CACHE_GEN_TIME_LEN,
	    (unsigned long long)t, r + CACHE_GEN_TIME_LEN);
}

/*
 * Bring every server that answered this request to generation g: "add"
 * where it had none (evicted, restarted, new), "cas" where it had an
 * older one (it missed a bump while down or frozen), so that a bump made
 * meanwhile, newer still, is never overwritten.  A server that refuses
 * keeps its older generation, and its values stay misses.  Returns how
 * many servers hold g now.
 */
static unsigned
gen_repair(struct cache *c, const char *g)
{
	unsigned holding = 0;

	for (uint32_t i = 0; i < c->nsrv; i++) {
		struct cache_server *sv = &c->srv[i];
		memcached_return_t rc;

		if (!sv->asked || sv->route_len == 0)
			continue;
		if (strcmp(sv->gen, g) == 0) {
			holding++;
			continue;
		}
		metrics_inc(MF_MEMCACHED_OPS, MMO_OTHER, 0, 0);
		if (sv->gen[0] == '\0')
			rc = memcached_add_by_key(c->mc, sv->route,
			    sv->route_len, c->gen_key, c->gen_key_len, g,
			    CACHE_GEN_LEN, 0, 0);
		else
			rc = memcached_cas_by_key(c->mc, sv->route,
			    sv->route_len, c->gen_key, c->gen_key_len, g,
			    CACHE_GEN_LEN, 0, 0, sv->gen_cas);
		if (rc == MEMCACHED_SUCCESS) {
			if (sv->gen[0] != '\0')
				log_info("memcached %s: generation %s older "
				    "than %s (it missed an invalidation): "
				    "repaired", sv->name, sv->gen, g);
			memcpy(sv->gen, g, CACHE_GEN_LEN + 1);
			holding++;
		} else if (!cache_rc_ok(rc) && rc != MEMCACHED_DATA_EXISTS)
			cache_failed(c, i, rc, "add");
	}
	return holding;
}

/*
 * This request's epoch: every server's copy (framed with the
 * generation), combined in server order, "-" standing for a server not
 * asked (resting), so that an invalidation that reached any server
 * changes it.  None (a miss) when no server answered, or when one
 * answered without a valid copy; such a copy is written anew at once
 * (cache_epoch_renew), so an epoch never comes back.
 */
static void
epoch_settle(struct cache *c)
{
	crypto_generichash_state st;
	unsigned char h[CACHE_GEN_LEN / 2];
	bool whole = true, any = false;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	for (uint32_t i = 0; i < c->nsrv; i++) {
		struct cache_server *sv = &c->srv[i];
		const char *p = NULL;

		if (!sv->asked || sv->route_len == 0) {
			crypto_generichash_update(&st,
			    (const unsigned char *)"-", 1);
			continue;
		}
		any = true;
		if (sv->epoch_len > 0)
			p = cache_unframe(c, c->epoch_key, sv->epoch,
			    sv->epoch_len);
		if (p == NULL || sv->epoch_len - (size_t)(p - sv->epoch) !=
		    CACHE_GEN_LEN || !cache_gen_valid(p, CACHE_GEN_LEN)) {
			whole = false;
			sv->epoch_renew = true;
			continue;
		}
		crypto_generichash_update(&st, (const unsigned char *)p,
		    CACHE_GEN_LEN);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	c->req_epoch_ok = any && whole;
	if (c->req_epoch_ok)
		sodium_bin2hex(c->req_epoch, sizeof(c->req_epoch), h,
		    sizeof(h));
	if (!whole)
		(void)cache_epoch_renew(c);
}

void
cache_gen_settle(struct cache *c)
{
	char newest[CACHE_GEN_LEN + 1];
	long long now = wall_ms();
	bool have = c->gen_known, asked = false, made = false;

	if (have)
		memcpy(newest, c->gen, sizeof(newest));
	for (uint32_t i = 0; i < c->nsrv; i++) {
		const struct cache_server *sv = &c->srv[i];

		if (!sv->asked)
			continue;
		asked = true;
		if (sv->gen[0] != '\0' &&
		    (!have || cache_gen_cmp(sv->gen, newest, now) > 0)) {
			memcpy(newest, sv->gen, sizeof(newest));
			have = true;
		}
	}
	if (!have) {
		if (!asked)
			return;		/* nothing known: no value is trusted */
		/* A new cache, or all its servers restarted. */
		cache_gen_make(newest, NULL, now);
		made = true;
	}
	/* Made here and taken by no server: another process's won. */
	if (gen_repair(c, newest) == 0 && made)
		return;
	cache_gen_adopt(c, newest);
	epoch_settle(c);
}

int
cache_bump_generation(struct cache *c)
{
	char gen[CACHE_GEN_LEN + 1], newest[CACHE_GEN_LEN + 1];
	long long t0 = clock_mono_us(), now = wall_ms();
	bool have = c->gen_known;
	unsigned took = 0;

	if (c->mc == NULL)
		return 0;
	if (have)
		memcpy(newest, c->gen, sizeof(newest));
	/* The newest anywhere: this one must be newer, whatever this
	 * host's clock says. */
	for (uint32_t i = 0; i < c->nsrv; i++) {
		struct cache_server *sv = &c->srv[i];
		memcached_return_t rc;
		size_t vlen;
		uint32_t flags;
		char *v;

		if (sv->route_len == 0 ||
		    !cache_server_usable(c, i, clock_mono_us()))
			continue;
		metrics_inc(MF_MEMCACHED_OPS, MMO_GET, 0, 0);
		v = memcached_get_by_key(c->mc, sv->route, sv->route_len,
		    c->gen_key, c->gen_key_len, &vlen, &flags, &rc);
		if (v != NULL && cache_gen_valid(v, vlen) &&
		    (!have || cache_gen_cmp(v, newest, now) > 0)) {
			memcpy(newest, v, CACHE_GEN_LEN);
			newest[CACHE_GEN_LEN] = '\0';
			have = true;
		} else if (v == NULL && !cache_rc_ok(rc))
			cache_failed(c, i, rc, "get");
		free(v);
	}
	cache_gen_make(gen, have ? newest : NULL, now);
	/*
	 * On every server, not held back by the breakers: this is an
	 * invalidation.  replace, else add, not set: sets are buffered
	 * (cache_new) and would return before memcached confirmed it.
	 */
	for (uint32_t i = 0; i < c->nsrv; i++) {
		struct cache_server *sv = &c->srv[i];
		memcached_return_t rc;

		if (sv->route_len == 0)
			continue;
		c->st.sets++;
		metrics_inc(MF_MEMCACHED_OPS, MMO_SET, 0, 0);
		rc = memcached_replace_by_key(c->mc, sv->route, sv->route_len,
		    c->gen_key, c->gen_key_len, gen, CACHE_GEN_LEN, 0, 0);
		if (rc == MEMCACHED_NOTSTORED)
			rc = memcached_add_by_key(c->mc, sv->route,
			    sv->route_len, c->gen_key, c->gen_key_len, gen,
			    CACHE_GEN_LEN, 0, 0);
		if (rc != MEMCACHED_SUCCESS) {
			cache_failed(c, i, rc, "set");
			continue;
		}
		cache_worked(c, i);
		took++;
	}
	if (took > 0)
		cache_gen_adopt(c, gen);
	if (took > 0 && took < c->nsrv)
		log_warn("memcached: generation %s taken by %u of %u servers; "
		    "the others are older, their values misses, and repaired "
		    "when read", gen, took, c->nsrv);
	c->st.time_us += (unsigned long long)(clock_mono_us() - t0);
	return took > 0 ? 0 : -1;
}

int
cache_key_epoch(const struct cache *c, char *buf, size_t len)
{
	return cache_key_id(c, buf, len, "epoch", 0);
}

int
cache_epoch_renew(struct cache *c)
{
	char buf[64], epoch[CACHE_GEN_LEN + 1];
	memcached_return_t rc;
	int ret = 0, len;

	if (c->mc == NULL)
		return 0;
	if (!c->req_gen_ok) {
		c->st.skipped++;
		return -1;
	}
	memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
	for (uint32_t i = 0; i < c->nsrv; i++) {
		struct cache_server *sv = &c->srv[i];

		if (!sv->epoch_renew)
			continue;
		sv->epoch_renew = false;
		if (sv->route_len == 0 ||
		    !cache_request_usable(c, i, clock_mono_us())) {
			c->st.skipped++;
			ret = -1;
			continue;
		}
		cache_gen_random(epoch);
		len = snprintf(buf, sizeof(buf), "rc%d %s epoch %s",
		    CACHE_FORMAT_VERSION, c->gen, epoch);
		c->st.sets++;
		metrics_inc(MF_MEMCACHED_OPS, MMO_SET, 0, 0);
		rc = memcached_set_by_key(c->mc, sv->route, sv->route_len,
		    c->epoch_key, c->epoch_key_len, buf, (size_t)len, 0, 0);
		if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_BUFFERED) {
			cache_failed(c, i, rc, "set");
			ret = -1;
		}
	}
	if (memcached_flush_buffers(c->mc) != MEMCACHED_SUCCESS)
		ret = -1;
	memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_NOREPLY, 0);
	return ret;
}
