/*
 * cache_gen.c - the cache generation (every value is framed with it, and
 * replacing it invalidates them all) and the invalidation epoch that
 * vouches for a worker's memory of revisions (cache.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libmemcached/memcached.h>
#include <sodium.h>

#include "cache_int.h"
#include "clock.h"
#include "metrics.h"

bool
cache_gen_valid(const char *v, size_t len)
{
	if (len != CACHE_GEN_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return false;
	return true;
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

/*
 * The generation key is absent although memcached answered: it was
 * evicted or its server restarted.  Re-create it with "add" so that all
 * processes agree; keep this process's last one when it had one (entries
 * on the other servers stay valid), else a random one.
 */
void
cache_gen_create(struct cache *c)
{
	char cand[CACHE_GEN_LEN + 1];
	uint32_t gs = cache_server_of(c, c->gen_key, c->gen_key_len);
	memcached_return_t rc;
	char *v;
	size_t vlen;
	uint32_t flags;

	if (c->gen_known)
		memcpy(cand, c->gen, sizeof(cand));
	else
		cache_gen_random(cand);
	metrics_inc(MF_MEMCACHED_OPS, MMO_OTHER, 0, 0);
	rc = memcached_add(c->mc, c->gen_key, c->gen_key_len, cand,
	    CACHE_GEN_LEN, 0, 0);
	if (rc == MEMCACHED_SUCCESS) {
		cache_gen_adopt(c, cand);
		return;
	}
	if (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS) {
		cache_failed(c, gs, rc, "add");
		return;
	}
	/* Someone else created it first: theirs wins. */
	metrics_inc(MF_MEMCACHED_OPS, MMO_GET, 0, 0);
	v = memcached_get(c->mc, c->gen_key, c->gen_key_len, &vlen, &flags,
	    &rc);
	if (v != NULL && cache_gen_valid(v, vlen))
		cache_gen_adopt(c, v);
	else if (!cache_rc_ok(rc))
		cache_failed(c, gs, rc, "get");
	free(v);
}

int
cache_bump_generation(struct cache *c)
{
	char gen[CACHE_GEN_LEN + 1];
	memcached_return_t rc;
	long long t0 = clock_mono_us();
	uint32_t gs;
	int ret = 0;

	if (c->mc == NULL)
		return 0;
	cache_gen_random(gen);
	c->st.sets++;
	metrics_inc(MF_MEMCACHED_OPS, MMO_SET, 0, 0);
	/*
	 * replace, else add, not set: sets are buffered (cache_new) and
	 * would return before memcached confirmed the new generation.
	 */
	rc = memcached_replace(c->mc, c->gen_key, c->gen_key_len, gen,
	    CACHE_GEN_LEN, 0, 0);
	if (rc == MEMCACHED_NOTSTORED)
		rc = memcached_add(c->mc, c->gen_key, c->gen_key_len, gen,
		    CACHE_GEN_LEN, 0, 0);
	/* Not held back by the breaker: this is an invalidation. */
	gs = cache_server_of(c, c->gen_key, c->gen_key_len);
	if (rc != MEMCACHED_SUCCESS) {
		cache_failed(c, gs, rc, "set");
		ret = -1;
	} else {
		cache_worked(c, gs);
		cache_gen_adopt(c, gen);
	}
	c->st.time_us += (unsigned long long)(clock_mono_us() - t0);
	return ret;
}

int
cache_key_epoch(const struct cache *c, char *buf, size_t len)
{
	return cache_key_id(c, buf, len, "epoch", 0);
}

int
cache_epoch_renew(struct cache *c)
{
	char key[CACHE_KEY_MAX], epoch[CACHE_GEN_LEN + 1];
	const char *keys[1] = { key }, *payloads[1] = { epoch };
	const size_t lens[1] = { CACHE_GEN_LEN };
	const unsigned ttls[1] = { 0 };

	cache_key_epoch(c, key, sizeof(key));
	cache_gen_random(epoch);
	return cache_set_many(c, keys, payloads, lens, ttls, 1);
}
