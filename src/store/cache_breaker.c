/*
 * cache_breaker.c - which memcached server holds a key, and the breaker
 * per server that rests a failed or frozen server for
 * memcached_retry_timeout seconds (the head of cache.c says why).
 */
#include "config.h"

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
