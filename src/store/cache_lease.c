/*
 * cache_lease.c - write-backs that cannot undo an invalidation.
 *
 * Cache-aside has a race: a request reads MariaDB, a write commits and
 * its invalidation removes the entry, and then the request writes back
 * what it read before the commit, which then lives until its TTL.  A
 * request that stalls between its read and its write-back (a busy CPU,
 * a lock wait) is enough, and nothing on the reading side can see it.
 *
 * So a write-back is conditional on the entry being as the request first
 * saw it, as memcached's leases are built from cas:
 *   - every multi-get of a request records, per key, the cas of the item
 *     memcached returned (any item, even one that is a miss: another
 *     generation, damaged, an invalidation's tombstone), or 0 for a key
 *     the server answered without (cache_token_put);
 *   - an invalidation does not delete: it writes a tombstone (a miss for
 *     every reader) that lives longer than any request may run
 *     (cache_tombstone_ttl), so the key always changes;
 *   - a write-back of a key read with cas u is "cas u", of a key read
 *     absent (or never read) is "add": either is refused by memcached if
 *     anyone wrote the key after this request read it.
 * A request therefore reads the key of everything it may write back
 * before it reads what it builds the value from (cache_lease, below,
 * does that for keys its lookup did not read).  Then, for a write that
 * commits after that read, its tombstone lands either after the
 * write-back (and replaces it) or before it (and the write-back is
 * refused).  A row found through a pointer, whose key is only known once
 * MariaDB has answered, is leased before the read when a pointer of
 * another generation named it (lease_hinted_rows, store_read.c), else
 * after the read, and read again when its key held anything (rows_lease).
 *
 * Limits: a tombstone that is evicted, or lost in a memcached restart,
 * before a request that read the key absent writes back, lets the "add"
 * through; memcached evicts least recently used items first, and a
 * restart empties the server of the entries the write invalidated too.
 *
 * The tokens are this process's, for this request: cache_request_end
 * forgets them.  They are kept by a keyed 64-bit hash of the key (a
 * collision costs one refused write-back).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache_int.h"
#include "clock.h"

/* A table that grew past this many slots is given back after a request. */
#define TOKENS_KEEP	4096
/* The first table's slots. */
#define TOKENS_MIN	64
/* A table that this many times the entries a request used would fill is
 * given back after it (cache_tokens_reset). */
#define TOKENS_SPARSE	8
/* How long a tombstone outlives the longest request (request_timeout). */
#define TOMBSTONE_MARGIN_S	60

/* The slot of a key's hash: never 0, which marks an empty slot. */
static uint64_t
token_hash(const struct cache *c, const char *key, size_t len)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, (const unsigned char *)key, len, c->tok.key);
	memcpy(&h, out, sizeof(h));
	return h != 0 ? h : 1;
}

/* Double the table (or make its first one).  0, or -1 on OOM. */
static int
tokens_grow(struct cache_tokens *t)
{
	size_t cap = t->cap != 0 ? t->cap * 2 : TOKENS_MIN;
	uint64_t *hash, *cas;

	if ((hash = calloc(cap, sizeof(*hash))) == NULL ||
	    (cas = calloc(cap, sizeof(*cas))) == NULL) {
		free(hash);
		return -1;
	}
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (t->hash[i] == 0)
			continue;
		for (j = t->hash[i] & (cap - 1); hash[j] != 0;
		    j = (j + 1) & (cap - 1))
			;
		hash[j] = t->hash[i];
		cas[j] = t->cas[i];
	}
	free(t->hash);
	free(t->cas);
	t->hash = hash;
	t->cas = cas;
	t->cap = cap;
	return 0;
}

void
cache_tokens_init(struct cache *c)
{
	crypto_shorthash_keygen(c->tok.key);
}

/*
 * Record what this request saw of key: cas of the item, 0 for none.  On
 * OOM nothing is recorded, and a later write-back of the key is an "add"
 * (refused when the key exists: a lost write-back, never a wrong one).
 */
void
cache_token_put(struct cache *c, const char *key, size_t len, uint64_t cas)
{
	struct cache_tokens *t = &c->tok;
	uint64_t h = token_hash(c, key, len);
	size_t j;

	if ((t->n + 1) * 2 > t->cap && tokens_grow(t) != 0)
		return;
	for (j = h & (t->cap - 1); t->hash[j] != 0 && t->hash[j] != h;
	    j = (j + 1) & (t->cap - 1))
		;
	if (t->hash[j] == 0) {
		t->hash[j] = h;
		t->n++;
	}
	t->cas[j] = cas;
}

/* What this request saw of key: true and *cas (0: absent), or false. */
bool
cache_token_get(const struct cache *c, const char *key, size_t len,
    uint64_t *cas)
{
	const struct cache_tokens *t = &c->tok;
	uint64_t h;

	if (t->n == 0)
		return false;
	h = token_hash(c, key, len);
	for (size_t j = h & (t->cap - 1); t->hash[j] != 0;
	    j = (j + 1) & (t->cap - 1))
		if (t->hash[j] == h) {
			*cas = t->cas[j];
			return true;
		}
	return false;
}

int
cache_lease(struct cache *c, const char *const *keys, size_t n)
{
	const char **mkeys = NULL;
	size_t *mlens = NULL;
	struct cache_get g = { 0 };
	long long t0 = clock_mono_us();
	uint64_t cas;
	int ret = -1;

	if (c->mc == NULL || n == 0)
		return 0;
	if ((mkeys = malloc(n * sizeof(*mkeys))) == NULL ||
	    (mlens = malloc(n * sizeof(*mlens))) == NULL ||
	    (g.slots = malloc(n * sizeof(*g.slots))) == NULL ||
	    (g.raw = calloc(n, sizeof(*g.raw))) == NULL)
		goto out;
	ret = 0;
	/* Server by server, as cache_get_many: the tokens are what
	 * cache_mget_one records; the values are not wanted. */
	for (uint32_t s = 0; s < c->nsrv; s++) {
		size_t m = 0;

		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(keys[i]);

			if (cache_server_of(c, keys[i], len) != s ||
			    cache_token_get(c, keys[i], len, &cas))
				continue;
			g.slots[m] = (struct cache_slot){ keys[i], len, m };
			mkeys[m] = keys[i];
			mlens[m++] = len;
		}
		if (m == 0)
			continue;
		/* A resting server's write-backs are skipped anyway. */
		if (!cache_request_usable(c, s, clock_mono_us())) {
			c->st.skipped++;
			ret = -1;
			continue;
		}
		qsort(g.slots, m, sizeof(*g.slots), cache_slot_cmp);
		g.n = m;
		if (cache_mget_one(c, s, mkeys, mlens, m, &g) != 0)
			ret = -1;
		cache_values_free(g.raw, m);
	}
out:
	free(g.raw);
	free(g.slots);
	free(mkeys);
	free(mlens);
	c->st.time_us += (unsigned long long)(clock_mono_us() - t0);
	return ret;
}

bool
cache_was_read(const struct cache *c, const char *key, bool *absent)
{
	uint64_t cas = 0;
	bool read = cache_token_get(c, key, strlen(key), &cas);

	*absent = read && cas == 0;
	return read;
}

void
cache_tokens_reset(struct cache *c)
{
	struct cache_tokens *t = &c->tok;

	/*
	 * Clearing costs the whole table, whatever the request used: after
	 * one 100-key request, every warm 1-key request cleared 32 KB, a
	 * tenth of the instructions relaycfg spends on such an answer besides
	 * the signature (callgrind, bench/analysis.md).  A table much larger
	 * than the request needed is given back instead; the next request
	 * grows one to its own size.
	 */
	if (t->cap > TOKENS_KEEP ||
	    (t->cap > TOKENS_MIN && t->n * TOKENS_SPARSE < t->cap)) {
		cache_tokens_free(c);
		return;
	}
	if (t->n > 0) {
		memset(t->hash, 0, t->cap * sizeof(*t->hash));
		t->n = 0;
	}
}

void
cache_tokens_free(struct cache *c)
{
	free(c->tok.hash);
	free(c->tok.cas);
	c->tok.hash = NULL;
	c->tok.cas = NULL;
	c->tok.cap = 0;
	c->tok.n = 0;
}

unsigned
cache_tombstone_ttl(const struct cache *c)
{
	return c->conf->request_timeout + TOMBSTONE_MARGIN_S;
}
