/*
 * cache_breaker.c - which memcached server holds a key (and which group
 * key reaches each server), and the breaker per server that rests a
 * failed or frozen server for memcached_retry_timeout seconds (the head
 * of cache.c says why).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmemcached/memcached.h>

#include "cache_int.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"

/* The position of the server that holds key (as libmemcached picks it). */
uint32_t
cache_server_of(const struct cache *c, const char *key, size_t len)
{
	uint32_t i;

	if (c->nsrv <= 1)
		return 0;
	i = memcached_generate_hash(c->mc, key, len);
	return i < c->nsrv ? i : 0;
}

/* May this process use server i now (closed, or due for its probe)? */
bool
cache_server_usable(const struct cache *c, uint32_t i, long long now)
{
	return !c->srv[i].open || now >= c->srv[i].rest_until;
}

/*
 * May this request's reads and write-backs use server i now?  Not once
 * a server has timed out in this request: with several servers frozen, a
 * request asking each in turn would wait one poll timeout per server;
 * so the rest of the request is served from MariaDB, and it waits for
 * one failure at most.  Invalidations (deletes, a generation bump) are
 * not held back by this: they use cache_server_usable or nothing.
 */
bool
cache_request_usable(const struct cache *c, uint32_t i, long long now)
{
	return !c->req_failed && cache_server_usable(c, i, now);
}

/*
 * Server i failed (rc, in operation op): it rests for the retry timeout.
 * The first failure is a warning; a failed probe is only information,
 * once per retry timeout, so that a long outage does not flood the log.
 */
void
cache_failed(struct cache *c, uint32_t i, memcached_return_t rc,
    const char *op)
{
	struct cache_server *sv = &c->srv[i];
	unsigned rest = c->conf->memcached_retry_timeout;

	c->st.failures++;
	/*
	 * A timeout cost this request a poll timeout, which the rest of it
	 * must not pay again at the next frozen server; a refused connection
	 * (a dead server) cost nothing, and the others' hits are kept.
	 */
	if (rc == MEMCACHED_TIMEOUT)
		c->req_failed = true;
	metrics_inc(MF_MEMCACHED_ERRORS, 0, 0, 0);
	metrics_set(MF_MEMCACHED_UP, i, 0);
	if (!sv->open)
		log_warn("memcached %s: %s failed (%s); not used for %u s, "
		    "serving from MariaDB", sv->name, op,
		    memcached_strerror(c->mc, rc), rest);
	else
		log_info("memcached %s: still failing (%s); not used for "
		    "%u s more", sv->name, memcached_strerror(c->mc, rc),
		    rest);
	sv->open = true;
	sv->rest_until = clock_mono_us() + (long long)rest * 1000000;
}

/* Server i answered: its breaker closes (logged when it was open). */
void
cache_worked(struct cache *c, uint32_t i)
{
	if (c->srv[i].open)
		log_info("memcached %s answers again", c->srv[i].name);
	c->srv[i].open = false;
	metrics_set(MF_MEMCACHED_UP, i, 1);
}

/* cache_probe - see cache.h. */
void
cache_probe(struct cache *c)
{
	for (uint32_t i = 0; c->mc != NULL && i < c->nsrv; i++) {
		struct cache_server *sv = &c->srv[i];
		memcached_return_t rc;
		uint32_t flags;
		size_t len;
		char *v;

		if (sv->route_len == 0)
			continue;	/* no key reaches it alone */
		c->st.gets++;
		metrics_inc(MF_MEMCACHED_OPS, MMO_OTHER, 0, 0);
		v = memcached_get_by_key(c->mc, sv->route, sv->route_len,
		    c->gen_key, c->gen_key_len, &len, &flags, &rc);
		free(v);
		if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND)
			cache_worked(c, i);
		else
			cache_failed(c, i, rc, "probe");
	}
	/* Each server was probed on its own; no request has begun. */
	c->req_failed = false;
}

bool
cache_rc_ok(memcached_return_t rc)
{
	return rc == MEMCACHED_SUCCESS || rc == MEMCACHED_END ||
	    rc == MEMCACHED_NOTFOUND || rc == MEMCACHED_STORED ||
	    rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DELETED ||
	    rc == MEMCACHED_BUFFERED;
}

/* A failure no single server is named for: every server's. */
void
cache_failed_all(struct cache *c, const char *op)
{
	memcached_return_t rc = memcached_last_error(c->mc);

	for (uint32_t i = 0; i < c->nsrv; i++)
		cache_failed(c, i, rc, op);
}

/*
 * For each server, a group key that libmemcached maps to it ("route:N",
 * never stored): each server keeps its own copy of the generation and
 * of the epoch, read and written with *_by_key under its route, so that
 * no single server holds what every request needs.  A server of tiny
 * weight may need many candidates; one left without a route after
 * CACHE_ROUTE_TRIES keeps no copies (logged).
 */
#define CACHE_ROUTE_TRIES	100000

void
cache_routes_find(struct cache *c)
{
	uint32_t left = c->nsrv;

	for (unsigned long n = 0; left > 0 && n < CACHE_ROUTE_TRIES; n++) {
		char k[sizeof(c->srv[0].route)];
		int len = snprintf(k, sizeof(k), "route:%lu", n);
		uint32_t i = cache_server_of(c, k, (size_t)len);

		if (c->srv[i].route_len != 0)
			continue;
		memcpy(c->srv[i].route, k, (size_t)len + 1);
		c->srv[i].route_len = (size_t)len;
		left--;
	}
	for (uint32_t i = 0; i < c->nsrv; i++)
		if (c->srv[i].route_len == 0)
			log_err("memcached %s: no key maps to it (weight too "
			    "small?); it keeps no copy of the generation",
			    c->srv[i].name);
}
