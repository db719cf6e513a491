/*
 * cache_int.h - what the files of the memcached layer share: the cache
 * and its per-server breakers (struct cache), and the functions one file
 * of cache*.c calls in another.  Not for use outside src/store/cache*.c:
 * cache.h is the API.
 */
#ifndef RELAYCFG_CACHE_INT_H
#define RELAYCFG_CACHE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmemcached/memcached.h>

#include "cache.h"

/* The breaker of one server. */
struct cache_server {
	char			 name[80];	/* host:port, for the log */
	bool			 open;		/* failed, not yet answered again */
	long long		 rest_until;	/* monotonic us: no use before */
};

struct cache {
	const struct conf	*conf;
	memcached_st		*mc;		/* NULL: no servers, disabled */
	struct cache_server	*srv;		/* one per server, by position */
	uint32_t		 nsrv;
	char			 prefix[48];	/* "<ns>:<version>:" */
	size_t			 prefix_len;
	char			 gen_key[64];
	size_t			 gen_key_len;
	/* "<settings digest>.": computed configs live under the settings
	 * (feature and sentry_option lines) they were built with */
	char			 cfg_tag[SENTRY_SETTINGS_DIGEST_LEN + 2];
	char			 cfg_tag_hashed[SENTRY_SETTINGS_DIGEST_LEN + 3];

	/* The generation: last one seen by this process, and whether this
	 * request has read (or confirmed) it. */
	char			 gen[CACHE_GEN_LEN + 1];
	bool			 gen_known;
	bool			 req_gen_ok;

	struct cache_stats	 st;
};

/* cache_breaker.c: routing keys to servers, and a breaker per server. */
uint32_t	 cache_server_of(const struct cache *c, const char *key,
		    size_t len);
bool		 cache_server_usable(const struct cache *c, uint32_t i,
		    long long now);
void		 cache_failed(struct cache *c, uint32_t i, memcached_return_t rc,
		    const char *op);
void		 cache_worked(struct cache *c, uint32_t i);
void		 cache_failed_all(struct cache *c, const char *op);
bool		 cache_rc_ok(memcached_return_t rc);

/* cache_gen.c: the generation and the invalidation epoch. */
bool		 cache_gen_valid(const char *v, size_t len);
void		 cache_gen_adopt(struct cache *c, const char *v);
void		 cache_gen_random(char out[CACHE_GEN_LEN + 1]);
void		 cache_gen_create(struct cache *c);

#endif
