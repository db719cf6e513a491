/*
 * cache.c - libmemcached (1.1.4, ASCII protocol) behind a miss-on-failure
 * interface.
 *
 * A breaker per server, in front of libmemcached: after a failure or a
 * timeout on a server, this process does not touch it again for
 * memcached_retry_timeout seconds; then one operation goes through (the
 * probe), and its success closes the breaker.  libmemcached's own retry
 * window is not enough: a server that accepts connections and never
 * answers (stopped, swapping, overloaded) is reconnected at once after a
 * poll timeout, so every request paid the whole timeout again.  While a
 * server rests, reads of its keys are misses and write-backs to it are
 * skipped (both only cost a later miss); after a timeout, so are the
 * request's other reads and write-backs, on every server, so that a
 * request waits for one timeout however many servers are frozen.
 * Deletes are not: they are invalidations, and skipping one on this
 * process's word would let other processes, for which the server may
 * answer, serve what was deleted; a
 * delete is tried (at most one timeout), and when it fails the caller
 * learns it (store_cache_stale).  With several servers the multi-get
 * asks each in turn, so that a failure is known to be that server's
 * (libmemcached does not say which server of a multi-get failed): one
 * round trip per server a request's keys live on (every server in a
 * request's first multi-get, for the generation and the epoch, cache.h),
 * instead of one for all; with one server nothing changes.
 *
 * Behaviours are set once, here, because memcached_behavior_set() quits
 * every connection for some of them.  The one exception is NOREPLY, a flag
 * flipped around writes (it touches no connection): write-backs and
 * deletes are pipelined instead of costing a round trip each.
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
#include "valid.h"
#include "log.h"
#include "metrics.h"

#define CACHE_DEFAULT_NS	"relaycfg"
#define CACHE_HASH_BYTES	16
#define CACHE_FAILURE_LIMIT	1	/* failures before a server rests */

/* Add the server of a memcached_server entry, with its ketama weight. */
static int
cache_add_server(memcached_st *mc, const char *spec, char *err, size_t errlen)
{
	struct conf_mc_server ms;
	memcached_return_t rc;

	if (conf_parse_mc_server(spec, &ms) != 0) {
		snprintf(err, errlen, "memcached_server: cannot parse \"%s\"",
		    spec);
		return -1;
	}
	if (ms.port == 0)
		rc = memcached_server_add_unix_socket_with_weight(mc, ms.host,
		    ms.weight);
	else
		rc = memcached_server_add_with_weight(mc, ms.host,
		    (in_port_t)ms.port, ms.weight);
	if (rc != MEMCACHED_SUCCESS) {
		snprintf(err, errlen, "memcached_server %s: %s", spec,
		    memcached_strerror(mc, rc));
		return -1;
	}
	return 0;
}

struct cache *
cache_new(const struct conf *conf, char *err, size_t errlen)
{
	const char *ns = conf->cache_namespace != NULL ?
	    conf->cache_namespace : CACHE_DEFAULT_NS;
	struct cache *c;
	memcached_st *mc = NULL;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->conf = conf;
	cache_tokens_init(c);
	/* conf.c allows at most 32 characters of [A-Za-z0-9_.-]. */
	snprintf(c->prefix, sizeof(c->prefix), "%s:%d:", ns,
	    CACHE_FORMAT_VERSION);
	c->prefix_len = strlen(c->prefix);
	snprintf(c->gen_key, sizeof(c->gen_key), "%sgen", c->prefix);
	c->gen_key_len = strlen(c->gen_key);
	cache_key_epoch(c, c->epoch_key, sizeof(c->epoch_key));
	c->epoch_key_len = strlen(c->epoch_key);
	sentry_settings_digest(&conf->sentry, c->cfg_tag);
	strcat(c->cfg_tag, " ");
	if (conf->n_memcached_servers == 0)
		return c;

	if ((mc = memcached_create(NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/*
	 * Short timeouts: the defaults (4 s connect, 5 s poll) would stall
	 * every request behind a blackholed cache.  One failure rests the
	 * server for the retry timeout, so the next requests miss at once.
	 * No auto-eject: moving keys to other servers while one is away
	 * would leave copies there that invalidation no longer reaches.
	 * Weighted ketama: removing a server moves only its keys, and
	 * weights set the shares.  CAS: the multi-gets read the cas of the
	 * generation, so that a repair never overwrites a newer one.
	 * Buffered sets and deletes, flushed once per batch: a cold 100-key
	 * request writes ~770 values, one send() each otherwise (adds and
	 * cas are never buffered: cache_cork.c groups those).  Set for
	 * good: changing it later makes libmemcached reconnect (sending
	 * "quit"), which can lose what was just written.
	 */
	if (memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 0) != MEMCACHED_SUCCESS ||
	    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
	    conf->memcached_connect_timeout_ms) != MEMCACHED_SUCCESS ||
	    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
	    conf->memcached_poll_timeout_ms) != MEMCACHED_SUCCESS ||
	    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT,
	    conf->memcached_retry_timeout) != MEMCACHED_SUCCESS ||
	    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT,
	    CACHE_FAILURE_LIMIT) != MEMCACHED_SUCCESS ||
	    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1) != MEMCACHED_SUCCESS ||
	    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_VERIFY_KEY, 1) != MEMCACHED_SUCCESS ||
	    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1) != MEMCACHED_SUCCESS ||
	    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1) != MEMCACHED_SUCCESS ||
	    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1) != MEMCACHED_SUCCESS) {
		snprintf(err, errlen, "memcached behaviours: %s",
		    memcached_last_error_message(mc));
		goto fail;
	}
	/*
	 * A bad entry is left out, loudly, rather than stopping the worker:
	 * the cache is an optimisation, and a worker that cannot start is
	 * an outage.
	 */
	for (size_t i = 0; i < conf->n_memcached_servers; i++)
		if (cache_add_server(mc, conf->memcached_servers[i], err,
		    errlen) != 0)
			log_err("%s: left out", err);
	if ((c->nsrv = memcached_server_count(mc)) == 0) {
		memcached_free(mc);
		return c;
	}
	if ((c->srv = calloc(c->nsrv, sizeof(*c->srv))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < c->nsrv; i++) {
		const memcached_instance_st *in =
		    memcached_server_instance_by_position(mc, i);

		c->srv[i].sock = -1;
		if (memcached_server_port(in) == 0)	/* a unix socket */
			snprintf(c->srv[i].name, sizeof(c->srv[i].name), "%s",
			    memcached_server_name(in));
		else
			snprintf(c->srv[i].name, sizeof(c->srv[i].name),
			    "%s:%u", memcached_server_name(in),
			    (unsigned)memcached_server_port(in));
	}
	/* a closed breaker: the server is in use until it fails */
	for (uint32_t i = 0; i < c->nsrv; i++)
		metrics_set(MF_MEMCACHED_UP, i, 1);
	c->mc = mc;
	cache_routes_find(c);
	return c;
fail:
	if (mc != NULL)
		memcached_free(mc);
	free(c);
	return NULL;
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	if (c->mc != NULL)
		memcached_free(c->mc);
	cache_tokens_free(c);
	free(c->srv);
	free(c);
}

bool
cache_enabled(const struct cache *c)
{
	return c->mc != NULL;
}

void
cache_request_end(struct cache *c)
{
	c->req_gen_ok = false;
	c->req_epoch_ok = false;
	c->req_failed = false;
	cache_tokens_reset(c);
	for (uint32_t i = 0; i < c->nsrv; i++) {
		c->srv[i].asked = false;
		c->srv[i].gen[0] = '\0';
		c->srv[i].epoch_len = 0;
		c->srv[i].epoch_renew = false;
	}
}

/* --- keys ------------------------------------------------------------ */

static bool
cache_kind_ok(const char *kind)
{
	size_t n = 0;

	for (; kind[n] != '\0'; n++)
		if (kind[n] < 'a' || kind[n] > 'z' || n >= CACHE_KIND_MAX)
			return false;
	return n > 0;
}

/* Ids kept as they are: 32 lowercase hex, or a canonical UUID. */


int
cache_key_id(const struct cache *c, char *buf, size_t len, const char *kind,
    int64_t id)
{
	buf[0] = '\0';
	if (!cache_kind_ok(kind) || len < CACHE_KEY_MAX)
		return -1;
	snprintf(buf, len, "%s%s:%lld", c->prefix, kind, (long long)id);
	return 0;
}

/*
 * buf = prefix kind ":" tag id.  The caller has checked kind (at most
 * CACHE_KIND_MAX) and id (a hex32, a UUID or a digest's hex), so it fits
 * CACHE_KEY_MAX.  memcpy, not snprintf: a 500-key request makes a
 * thousand keys.
 */
static void
key_join(char *buf, const struct cache *c, const char *kind,
    const char *tag, const char *id)
{
	size_t kl = strlen(kind), tl = strlen(tag), il = strlen(id);
	char *p = buf;

	memcpy(p, c->prefix, c->prefix_len);
	p += c->prefix_len;
	memcpy(p, kind, kl);
	p += kl;
	*p++ = ':';
	memcpy(p, tag, tl);
	p += tl;
	memcpy(p, id, il + 1);
}

int
cache_key_str(const struct cache *c, char *buf, size_t len, const char *kind,
    const char *id)
{
	unsigned char h[CACHE_HASH_BYTES];
	char hex[2 * CACHE_HASH_BYTES + 1];

	buf[0] = '\0';
	if (!cache_kind_ok(kind) || len < CACHE_KEY_MAX || id == NULL)
		return -1;
	if (valid_hex32(id) || valid_uuid(id)) {
		key_join(buf, c, kind, "", id);
		return 0;
	}
	/* Anything else is only ever seen by memcached as a digest. */
	crypto_generichash(h, sizeof(h), (const unsigned char *)id,
	    strlen(id), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	key_join(buf, c, kind, "h", hex);
	return 0;
}

/*
 * config_key - kind ":" id, where id is a public key as it is when it has
 * a key's form and hashed ("h" hex) otherwise.  One key whatever the
 * settings: an invalidation made under any settings reaches it
 * (cache_config_tag tells whose it is).
 */
static int
config_key(const struct cache *c, char *buf, size_t len, const char *kind,
    const char *id)
{
	unsigned char h[CACHE_HASH_BYTES];
	char hex[2 * CACHE_HASH_BYTES + 1];

	buf[0] = '\0';
	if (len < CACHE_KEY_MAX || id == NULL)
		return -1;
	if (valid_hex32(id)) {
		key_join(buf, c, kind, "", id);
		return 0;
	}
	crypto_generichash(h, sizeof(h), (const unsigned char *)id,
	    strlen(id), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	key_join(buf, c, kind, "h", hex);
	return 0;
}

int
cache_key_config(const struct cache *c, char *buf, size_t len,
    const char *public_key)
{
	/* "cfgz": deflated since format "cfg" (plain JSON) was retired. */
	return config_key(c, buf, len, "cfgz", public_key);
}

int
cache_key_config_rev(const struct cache *c, char *buf, size_t len,
    const char *public_key)
{
	return config_key(c, buf, len, "cfgr", public_key);
}

const char *
cache_config_tag(const struct cache *c)
{
	return c->cfg_tag;
}


/* --- metrics -------------------------------------------------------- */

/* Cache kinds (cache_key_* callers in store/ and configs.c) by label. */
static const struct {
	const char	*kind;
	unsigned	 label;
} cache_metric_kinds[] = {
	{ "o", MCK_ORG }, { "p", MCK_PROJECT }, { "k", MCK_PROJECTKEY },
	{ "kp", MCK_PROJECTKEY }, { "kl", MCK_KEYLIST }, { "po", MCK_OPTIONS },
	{ "oo", MCK_OPTIONS }, { "to", MCK_OPTIONS }, { "pom", MCK_OPTIONS },
	{ "r", MCK_RELAY }, { "rr", MCK_RELAY }, { "cfgz", MCK_CONFIG },
	{ "cfgr", MCK_CONFIG }, { "tt", MCK_THRESHOLDS },
};

/* cache_metric_kind - the kind label of a key made by cache_key_*. */
static unsigned
cache_metric_kind(const struct cache *c, const char *key)
{
	const char *kind = key + c->prefix_len, *kend;
	size_t klen;

	if (strncmp(key, c->prefix, c->prefix_len) != 0 ||
	    (kend = strchr(kind, ':')) == NULL)
		return MCK_OTHER;
	klen = (size_t)(kend - kind);
	for (size_t i = 0; i < sizeof(cache_metric_kinds) /
	    sizeof(cache_metric_kinds[0]); i++)
		if (strlen(cache_metric_kinds[i].kind) == klen &&
		    memcmp(cache_metric_kinds[i].kind, kind, klen) == 0)
			return cache_metric_kinds[i].label;
	return MCK_OTHER;
}

/* --- get ------------------------------------------------------------- */

/* cache_slot_cmp - see cache_int.h. */
int
cache_slot_cmp(const void *a, const void *b)
{
	const struct cache_slot *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int d = memcmp(x->key, y->key, n);

	if (d != 0)
		return d;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Is kind (klen bytes) that of a computed config or its rev entry? */
static bool
config_kind(const char *kind, size_t klen)
{
	return klen == 4 && (memcmp(kind, "cfgz", 4) == 0 ||
	    memcmp(kind, "cfgr", 4) == 0);
}

/*
 * Check the framing of a raw value for key and return where the payload
 * starts, or NULL: "rc<version> <generation> <kind> <payload>", with this
 * request's generation, or when other_gen, with any other well-formed one.
 * A computed config's or rev entry's payload begins with the settings it
 * was built under (cache_config_tag): another's is not this process's
 * (NULL, a miss, and no hint either), its own is returned without it.
 */
static const char *
unframe(const struct cache *c, const char *key, const char *v, size_t vlen,
    bool other_gen)
{
	char head[16];
	const char *kind = key + c->prefix_len, *kend = strchr(kind, ':');
	size_t hlen, klen;

	if (kend == NULL)
		return NULL;
	klen = (size_t)(kend - kind);
	hlen = (size_t)snprintf(head, sizeof(head), "rc%d ",
	    CACHE_FORMAT_VERSION);
	if (vlen < hlen + CACHE_GEN_LEN + 1 + klen + 1 ||
	    memcmp(v, head, hlen) != 0)
		return NULL;
	v += hlen;
	if ((memcmp(v, c->gen, CACHE_GEN_LEN) == 0) == other_gen ||
	    !cache_gen_valid(v, CACHE_GEN_LEN) || v[CACHE_GEN_LEN] != ' ')
		return NULL;
	v += CACHE_GEN_LEN + 1;
	if (memcmp(v, kind, klen) != 0 || v[klen] != ' ')
		return NULL;
	v += klen + 1;
	if (config_kind(kind, klen)) {
		size_t left = vlen - hlen - CACHE_GEN_LEN - 1 - klen - 1;

		if (left < CACHE_CONFIG_TAG_LEN ||
		    memcmp(v, c->cfg_tag, CACHE_CONFIG_TAG_LEN) != 0) {
			(void)cache_tag_other(c->cfg_tag, v, left);
			return NULL;
		}
		v += CACHE_CONFIG_TAG_LEN;
	}
	return v;
}

const char *
cache_unframe(const struct cache *c, const char *key, const char *v,
    size_t vlen)
{
	return unframe(c, key, v, vlen, false);
}

/* cache_mget_one - see cache_int.h. */
int
cache_mget_one(struct cache *c, uint32_t i, const char *const *mkeys,
    const size_t *mlens, size_t m, struct cache_get *g)
{
	struct cache_server *sv = &c->srv[i];
	memcached_result_st res;
	memcached_return_t rc;
	struct timespec t0;
	int ret = 0;

	c->st.gets++;
	metrics_inc(MF_MEMCACHED_OPS, MMO_GET, 0, 0);
	metrics_now(&t0);
	/* Each key absent unless the server returns it (cache_lease.c);
	 * the generation and the epoch, asked first, have their own cas. */
	for (size_t k = g->want_gen && sv->route_len > 0 ? 2 : 0; k < m; k++)
		cache_token_put(c, mkeys[k], mlens[k], 0);
	/* By its route: the generation and the epoch are this server's. */
	if (sv->route_len > 0)
		rc = memcached_mget_by_key(c->mc, sv->route, sv->route_len,
		    mkeys, mlens, m);
	else
		rc = memcached_mget(c->mc, mkeys, mlens, m);
	if (rc == MEMCACHED_SOME_ERRORS)
		/* The server failed; why decides the log line. */
		rc = memcached_last_error(c->mc);
	if (rc != MEMCACHED_SUCCESS) {
		cache_failed(c, i, rc, "get");
		metrics_observe(MF_MEMCACHED_SECONDS, 0,
		    metrics_seconds_since(&t0));
		return -1;
	}
	if (memcached_result_create(c->mc, &res) == NULL)
		return -2;
	while (memcached_fetch_result(c->mc, &res, &rc) != NULL) {
		const char *k = memcached_result_key_value(&res);
		size_t klen = memcached_result_key_length(&res);
		const char *v = memcached_result_value(&res);
		size_t vlen = memcached_result_length(&res);
		struct cache_slot probe = { k, klen, 0 }, *hit;

		if (g->want_gen && klen == c->gen_key_len &&
		    memcmp(k, c->gen_key, klen) == 0) {
			if (cache_gen_valid(v, vlen)) {
				memcpy(sv->gen, v, CACHE_GEN_LEN);
				sv->gen[CACHE_GEN_LEN] = '\0';
				sv->gen_cas = memcached_result_cas(&res);
			}
			continue;
		}
		if (g->want_gen && klen == c->epoch_key_len &&
		    memcmp(k, c->epoch_key, klen) == 0) {
			if (vlen < sizeof(sv->epoch)) {
				memcpy(sv->epoch, v, vlen);
				sv->epoch_len = vlen;
			}
			continue;
		}
		hit = bsearch(&probe, g->slots, g->n, sizeof(*g->slots),
		    cache_slot_cmp);
		if (hit == NULL)
			continue;
		/* Whatever it holds: a write-back must find it unchanged. */
		cache_token_put(c, k, klen, memcached_result_cas(&res));
		if (vlen == sizeof(CACHE_TOMBSTONE) - 1 &&
		    memcmp(v, CACHE_TOMBSTONE, vlen) == 0)
			c->tombstones++;
		/* Equal keys: the value goes to the first of them. */
		while (hit > g->slots && cache_slot_cmp(hit - 1, &probe) == 0)
			hit--;
		if (g->raw[hit->idx].mem != NULL || vlen == 0)
			continue;
		/*
		 * Take libmemcached's (malloc'd, NUL-terminated) buffer
		 * rather than copy it: configs are tens of KB each.
		 */
		if ((g->raw[hit->idx].mem = memcached_result_take_value(&res)) ==
		    NULL) {
			ret = -2;
			goto out;
		}
		g->raw[hit->idx].data = g->raw[hit->idx].mem;
		g->raw[hit->idx].len = vlen;
	}
	if (!cache_rc_ok(rc)) {
		cache_failed(c, i, rc, "fetch");
		ret = -1;
	} else {
		cache_worked(c, i);
		sv->asked = g->want_gen;
	}
out:
	memcached_result_free(&res);
	metrics_observe(MF_MEMCACHED_SECONDS, 0, metrics_seconds_since(&t0));
	return ret;
}

/* cache_get_many and cache_get_many_hints: the second when other_gen. */
static int
get_many(struct cache *c, const char *const *keys, size_t n,
    struct cache_value *out, bool other_gen)
{
	const char **mkeys = NULL;
	size_t *mlens = NULL, src = 0;
	uint32_t *where = NULL;
	struct cache_get g = { 0 };
	bool errors = false, oom = true;
	uint64_t failed = 0;	/* servers < 64 that failed or rested */
	long long t0 = clock_mono_us();
	size_t m;

	if (n == 0)
		return 0;
	memset(out, 0, n * sizeof(*out));
	if (c->mc == NULL) {
		/* No cache, no look-up: not counted (METRICS.md). */
		c->st.misses += n;
		return 0;
	}
	g.n = n;
	g.want_gen = !c->req_gen_ok;
	mkeys = malloc((n + 2) * sizeof(*mkeys));
	mlens = malloc((n + 2) * sizeof(*mlens));
	where = malloc(n * sizeof(*where));
	g.slots = malloc(n * sizeof(*g.slots));
	g.raw = calloc(n, sizeof(*g.raw));
	if (mkeys == NULL || mlens == NULL || where == NULL ||
	    g.slots == NULL || g.raw == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(keys[i]);

		g.slots[i] = (struct cache_slot){ keys[i], len, i };
		/* The epoch is every server's: answered from the request's. */
		where[i] = len == c->epoch_key_len &&
		    memcmp(keys[i], c->epoch_key, len) == 0 ? CACHE_NO_SERVER :
		    cache_server_of(c, keys[i], len);
	}
	/* Sorted, so that answers (in any order) find their key quickly. */
	qsort(g.slots, n, sizeof(*g.slots), cache_slot_cmp);

	/*
	 * Server by server (one round trip when there is one server), the
	 * keys of the servers this process may use now; the others are
	 * misses, and count as a failure of this call.  The first multi-get
	 * of a request asks every server for its generation and epoch,
	 * first (the epoch vouches only for what is read after it), even a
	 * server none of the keys live on: a server that missed a bump or
	 * an invalidation is only recognised against the others.
	 */
	for (uint32_t s = 0; s < c->nsrv; s++) {
		long long now = clock_mono_us();
		bool usable = cache_request_usable(c, s, now);
		int rc;

		m = 0;
		if (g.want_gen && c->srv[s].route_len > 0) {
			mkeys[m] = c->epoch_key;
			mlens[m++] = c->epoch_key_len;
			mkeys[m] = c->gen_key;
			mlens[m++] = c->gen_key_len;
		}
		for (size_t i = 0; i < n; i++) {
			if (where[i] != s)
				continue;
			mkeys[m] = keys[i];
			mlens[m++] = strlen(keys[i]);
		}
		if (m == 0)
			continue;
		if (!usable) {
			c->st.skipped++;
			errors = true;
			failed |= s < 64 ? (uint64_t)1 << s : 0;
			continue;
		}
		if ((rc = cache_mget_one(c, s, mkeys, mlens, m, &g)) == -2)
			goto out;
		if (rc != 0) {
			errors = true;
			failed |= s < 64 ? (uint64_t)1 << s : 0;
		}
	}
	if (g.want_gen)
		cache_gen_settle(c);
	oom = false;
	if (!c->req_gen_ok)
		/* Without a generation no value can be trusted. */
		goto out;
	for (size_t s = 0; s < n; s++) {
		struct cache_slot *sl = &g.slots[s];
		struct cache_value *first;
		const char *p;
		size_t plen;
		bool hit;

		if (s == 0 || cache_slot_cmp(&g.slots[s - 1], sl) != 0) {
			/* The first of equal keys keeps the buffer. */
			src = sl->idx;
			if (g.raw[src].mem == NULL)
				continue;
			hit = (p = cache_unframe(c, sl->key, g.raw[src].mem,
			    g.raw[src].len)) != NULL;
			if (!hit && (!other_gen || (p = unframe(c, sl->key,
			    g.raw[src].mem, g.raw[src].len, true)) == NULL))
				continue;
			plen = g.raw[src].len - (size_t)(p - g.raw[src].mem);
			out[src].mem = g.raw[src].mem;
			g.raw[src].mem = NULL;
			if (hit) {
				out[src].data = p;
				out[src].len = plen;
			} else {
				/* A miss, with what it held as a hint. */
				out[src].other_gen = p;
				out[src].other_len = plen;
			}
			continue;
		}
		/* Any other gets its own copy of the payload. */
		first = &out[src];
		if (first->data == NULL)
			continue;
		if ((out[sl->idx].mem = malloc(first->len + 1)) == NULL) {
			oom = true;
			goto out;
		}
		memcpy(out[sl->idx].mem, first->data, first->len + 1);
		out[sl->idx].data = out[sl->idx].mem;
		out[sl->idx].len = first->len;
	}
	for (size_t i = 0; i < n && c->req_epoch_ok; i++) {
		if (where[i] != CACHE_NO_SERVER)
			continue;
		if ((out[i].mem = strdup(c->req_epoch)) == NULL) {
			oom = true;
			goto out;
		}
		out[i].data = out[i].mem;
		out[i].len = CACHE_GEN_LEN;
	}
out:
	if (g.raw != NULL)
		cache_values_free(g.raw, n);
	free(g.raw);
	free(g.slots);
	free(mkeys);
	free(mlens);
	/* Never half an answer after OOM. */
	if (oom)
		cache_values_free(out, n);
	for (size_t i = 0; i < n; i++) {
		unsigned result = MCR_MISS;

		if (out[i].data != NULL) {
			c->st.hits++;
			result = MCR_HIT;
		} else {
			c->st.misses++;
			/* not answered: its server failed or rests, or OOM */
			if (oom || where == NULL || (where[i] < 64 ?
			    (failed >> where[i] & 1) != 0 : errors))
				result = MCR_ERROR;
		}
		metrics_inc(MF_CACHE, cache_metric_kind(c, keys[i]), result, 0);
	}
	free(where);
	c->st.time_us += (unsigned long long)(clock_mono_us() - t0);
	return errors || oom ? -1 : 0;
}

int
cache_get_many(struct cache *c, const char *const *keys, size_t n,
    struct cache_value *out)
{
	return get_many(c, keys, n, out, false);
}

int
cache_get_many_hints(struct cache *c, const char *const *keys, size_t n,
    struct cache_value *out)
{
	return get_many(c, keys, n, out, true);
}

void
cache_values_free(struct cache_value *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].mem);
		v[i].mem = NULL;
		v[i].data = NULL;
		v[i].len = 0;
		v[i].other_gen = NULL;
		v[i].other_len = 0;
	}
}

/* --- set, delete ----------------------------------------------------- */

/* cache_exptime - see cache_int.h. */
time_t
cache_exptime(unsigned ttl, time_t now)
{
	return ttl > CACHE_RELATIVE_TTL_MAX ? now + (time_t)ttl : (time_t)ttl;
}

int
cache_set_many(struct cache *c, const char *const *keys,
    const char *const *payloads, const size_t *lens, const unsigned *ttls,
    size_t n)
{
	char *buf = NULL;
	size_t cap = 0;
	long long t0 = clock_mono_us();
	memcached_return_t rc;
	uint64_t cas;
	time_t now = time(NULL), exptime;
	bool *wrote = NULL, skipped = false;
	int ret = -1;

	if (c->mc == NULL)
		return 0;
	if (n == 0)
		return 0;
	if (!c->req_gen_ok) {
		c->st.skipped++;
		return -1;
	}
	if ((wrote = calloc(c->nsrv, sizeof(*wrote))) == NULL)
		return -1;
	memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
	if (n > 1)	/* one value is one send() anyway */
		cache_cork(c);
	for (size_t i = 0; i < n; i++) {
		const char *key = keys[i];
		const char *kind = key + c->prefix_len, *kend = strchr(kind, ':');
		size_t klen = kend != NULL ? (size_t)(kend - kind) : 0;
		size_t need = 32 + CACHE_GEN_LEN + klen + lens[i];
		size_t keylen = strlen(key);
		uint32_t sv = cache_server_of(c, key, keylen);
		int hlen;

		if (strncmp(key, c->prefix, c->prefix_len) != 0 || klen == 0)
			goto out;
		/* A resting server's values wait for a later miss. */
		if (!cache_request_usable(c, sv, t0)) {
			c->st.skipped++;
			skipped = true;
			continue;
		}
		if (need > cap) {
			char *p = realloc(buf, need);

			if (p == NULL)
				goto out;
			buf = p;
			cap = need;
		}
		hlen = snprintf(buf, cap, "rc%d %s %.*s ", CACHE_FORMAT_VERSION,
		    c->gen, (int)klen, kind);
		memcpy(buf + hlen, payloads[i], lens[i]);
		c->st.sets++;
		metrics_inc(MF_MEMCACHED_OPS, MMO_SET, 0, 0);
		exptime = cache_exptime(ttls[i], now);
		/* Only over what this request read (cache_lease.c): memcached
		 * refuses it when anyone wrote the key since. */
		if (cache_token_get(c, key, keylen, &cas) && cas != 0)
			rc = memcached_cas(c->mc, key, keylen, buf,
			    (size_t)hlen + lens[i], exptime, 0, cas);
		else
			rc = memcached_add(c->mc, key, keylen, buf,
			    (size_t)hlen + lens[i], exptime, 0);
		if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_BUFFERED) {
			cache_failed(c, sv, rc, "set");
			skipped = true;
			continue;
		}
		wrote[sv] = true;
	}
	if ((rc = memcached_flush_buffers(c->mc)) != MEMCACHED_SUCCESS) {
		/* Which server refused is not told: all that were written. */
		for (uint32_t sv = 0; sv < c->nsrv; sv++)
			if (wrote[sv])
				cache_failed(c, sv, rc, "set");
		goto out;
	}
	ret = skipped ? -1 : 0;
out:
	cache_uncork(c);
	memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_NOREPLY, 0);
	free(wrote);
	free(buf);
	c->st.time_us += (unsigned long long)(clock_mono_us() - t0);
	metrics_observe(MF_MEMCACHED_SECONDS, 0,
	    (double)(clock_mono_us() - t0) / 1e6);
	return ret;
}

/*
 * Queue the delete of key (no reply, buffered): its tombstone, a miss for
 * every reader that changes the key's cas, so that no write-back of what
 * was read before survives it (cache_lease.c).  0, or -1 on failure.
 */
static int
cache_delete_one(struct cache *c, const char *key)
{
	static const char tomb[] = CACHE_TOMBSTONE;
	size_t len = strlen(key);
	memcached_return_t rc;

	c->st.deletes++;
	metrics_inc(MF_MEMCACHED_OPS, MMO_DELETE, 0, 0);
	rc = memcached_set(c->mc, key, len, tomb, sizeof(tomb) - 1,
	    (time_t)cache_tombstone_ttl(c), 0);
	if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_BUFFERED) {
		cache_failed(c, cache_server_of(c, key, len), rc, "delete");
		return -1;
	}
	return 0;
}

/*
 * A barrier: memcached answers a command on a connection only after the
 * ones before it, so when every server has answered a small read (its
 * generation), nobody can read what was deleted before.  Server by
 * server, so that a failure rests that server only.  0, or -1 when a
 * server failed.
 */
static int
cache_barrier(struct cache *c)
{
	int ret = 0;

	for (uint32_t i = 0; i < c->nsrv; i++) {
		const struct cache_server *sv = &c->srv[i];
		memcached_return_t rc;
		size_t vlen;
		uint32_t flags;

		if (sv->route_len == 0)
			continue;
		metrics_inc(MF_MEMCACHED_OPS, MMO_OTHER, 0, 0);
		free(memcached_get_by_key(c->mc, sv->route, sv->route_len,
		    c->gen_key, c->gen_key_len, &vlen, &flags, &rc));
		if (!cache_rc_ok(rc)) {
			cache_failed(c, i, rc, "delete");
			ret = -1;
		}
	}
	return ret;
}

/*
 * The epoch of every server, after a barrier: a process that finds any
 * copy changed is sure that every delete before it was applied.  0, or
 * -1 when a copy could not be deleted.
 */
static int
cache_delete_epochs(struct cache *c)
{
	int ret = cache_barrier(c);

	memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
	for (uint32_t i = 0; i < c->nsrv; i++) {
		const struct cache_server *sv = &c->srv[i];
		memcached_return_t rc;

		if (sv->route_len == 0)
			continue;
		c->st.deletes++;
		metrics_inc(MF_MEMCACHED_OPS, MMO_DELETE, 0, 0);
		rc = memcached_delete_by_key(c->mc, sv->route, sv->route_len,
		    c->epoch_key, c->epoch_key_len, 0);
		if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTFOUND &&
		    rc != MEMCACHED_DELETED && rc != MEMCACHED_BUFFERED) {
			cache_failed(c, i, rc, "delete");
			ret = -1;
		}
	}
	if (memcached_flush_buffers(c->mc) != MEMCACHED_SUCCESS) {
		cache_failed_all(c, "delete");
		ret = -1;
	}
	memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_NOREPLY, 0);
	return ret;
}

int
cache_delete_many(struct cache *c, const char *const *keys, size_t n)
{
	long long t0 = clock_mono_us();
	int ret = 0;

	if (c->mc == NULL || n == 0)
		return 0;
	/*
	 * Not held back by the breakers (see the head of this file): a
	 * delete skipped on this process's word could leave entries that
	 * other processes still read.  Tried, it costs at most a timeout,
	 * and a failure is reported.  One server failing does not stop
	 * the others' deletes.
	 */
	memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
	for (size_t i = 0; i < n; i++)
		if (cache_delete_one(c, keys[i]) != 0)
			ret = -1;
	if (memcached_flush_buffers(c->mc) != MEMCACHED_SUCCESS) {
		cache_failed_all(c, "delete");
		ret = -1;
	}
	memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_NOREPLY, 0);
	/* Then the epochs, after the entries (cache.h, cache_key_epoch). */
	if (cache_delete_epochs(c) != 0)
		ret = -1;
	/* So a read right after relaycfgctl returns is fresh. */
	if (cache_barrier(c) != 0)
		ret = -1;
	c->st.time_us += (unsigned long long)(clock_mono_us() - t0);
	metrics_observe(MF_MEMCACHED_SECONDS, 0,
	    (double)(clock_mono_us() - t0) / 1e6);
	return ret;
}

unsigned long long
cache_tombstones(const struct cache *c)
{
	return c->tombstones;
}

void
cache_get_stats(const struct cache *c, struct cache_stats *out)
{
	*out = c->st;
}
