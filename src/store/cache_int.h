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
#include <time.h>

#include <libmemcached/memcached.h>
#include <sodium.h>

#include "cache.h"

#define CACHE_GEN_TIME_LEN	11	/* hex digits: ms since 1970 */
#define CACHE_GEN_AHEAD_MS	(366LL * 86400 * 1000)

#define CACHE_NO_SERVER		UINT32_MAX

/* memcached reads an exptime above 30 days as a unix time, not seconds. */
#define CACHE_RELATIVE_TTL_MAX	(30U * 86400)

/*
 * cache_exptime - the exptime to send memcached for a value that should
 * live ttl seconds from now (0: until evicted): ttl itself up to
 * CACHE_RELATIVE_TTL_MAX, beyond it the unix time now + ttl (which
 * relies on this host's clock agreeing with memcached's).
 */
time_t		 cache_exptime(unsigned ttl, time_t now);

/*
 * The breaker of one server, where its copies of the generation and the
 * epoch are, and what it answered for them in this request.
 */
struct cache_server {
	char			 name[80];	/* host:port, for the log */
	bool			 open;		/* failed, not yet answered again */
	long long		 rest_until;	/* monotonic us: no use before */
	/* a group key libmemcached maps to this server (*_by_key): its
	 * generation and epoch are read and written under it; route_len
	 * 0: none found, the server keeps no copies */
	char			 route[24];
	size_t			 route_len;
	/* This request's first multi-get: answered, and the generation
	 * ("" when absent) with its cas and the framed epoch there */
	bool			 asked;
	char			 gen[CACHE_GEN_LEN + 1];
	uint64_t		 gen_cas;
	char			 epoch[64];
	size_t			 epoch_len;
	bool			 epoch_renew;	/* found without one: write one */
	/* libmemcached's socket to it, corked while a batch of writes
	 * goes out (cache_cork.c): looked for once per connection (its
	 * local port sock_port, 0 before the first), -1 if not found */
	int			 sock;
	unsigned		 sock_port;
	bool			 corked;
};

/*
 * What this request's multi-gets saw, by a keyed hash of the key: the
 * cas of the item, or 0 when the server had none (cache_lease.c).  An
 * open-addressing table: hash 0 marks an empty slot.
 */
struct cache_tokens {
	unsigned char		 key[crypto_shorthash_KEYBYTES];
	uint64_t		*hash;
	uint64_t		*cas;
	size_t			 cap;		/* a power of two, or 0 */
	size_t			 n;
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
	char			 epoch_key[CACHE_KEY_MAX];
	size_t			 epoch_key_len;
	/* "<settings digest> ": what begins every computed config and rev
	 * entry this process writes or answers (cache_config_tag) */
	char			 cfg_tag[CACHE_CONFIG_TAG_LEN + 1];

	/* The generation: newest one seen by this process, and whether this
	 * request has read (or confirmed) it. */
	char			 gen[CACHE_GEN_LEN + 1];
	bool			 gen_known;
	bool			 req_gen_ok;
	/* This request's epoch: every server's, combined (cache_gen.c) */
	char			 req_epoch[CACHE_GEN_LEN + 1];
	bool			 req_epoch_ok;
	/* A server timed out in this request: its other reads and
	 * write-backs skip memcached (cache_request_usable) */
	bool			 req_failed;
	struct cache_tokens	 tok;		/* this request's leases */
	/* Tombstones this process's reads have found (cache_tombstones) */
	unsigned long long	 tombstones;

	struct cache_stats	 st;
};

/* cache_breaker.c: routing keys to servers, and a breaker per server. */
uint32_t	 cache_server_of(const struct cache *c, const char *key,
		    size_t len);
bool		 cache_server_usable(const struct cache *c, uint32_t i,
		    long long now);
bool		 cache_request_usable(const struct cache *c, uint32_t i,
		    long long now);
void		 cache_failed(struct cache *c, uint32_t i, memcached_return_t rc,
		    const char *op);
void		 cache_worked(struct cache *c, uint32_t i);
void		 cache_failed_all(struct cache *c, const char *op);
bool		 cache_rc_ok(memcached_return_t rc);
void		 cache_routes_find(struct cache *c);

/*
 * cache_tag_other (cache_tag.c) - a computed config or rev entry's tag
 * (len bytes left in the value) that is not ours (this process's
 * cache_config_tag): when it is a well-formed one (another release's or
 * relaycfg.conf's settings), count it and warn, at most once a minute,
 * and return true; false for a damaged one, which is left to the
 * caller's miss alone.
 */
bool		 cache_tag_other(const char *ours, const char *tag, size_t len);

/* cache.c */
const char	*cache_unframe(const struct cache *c, const char *key,
		    const char *v, size_t vlen);

/* A key of a multi-get, and where its answer goes. */
struct cache_slot {
	const char	*key;
	size_t		 len;
	size_t		 idx;
};

/* cache_slot_cmp - byte order of keys (with lengths), for qsort and
 * bsearch over struct cache_slot. */
int		 cache_slot_cmp(const void *a, const void *b);

/* What one multi-get fills in. */
struct cache_get {
	struct cache_slot	*slots;		/* sorted, n of them */
	size_t			 n;
	struct cache_value	*raw;		/* by caller index */
	bool			 want_gen;
};

/*
 * cache_mget_one - one multi-get of m keys, all on server i: the answers
 * go to g->raw, the server's generation and epoch (when asked) to its
 * struct cache_server.  Returns 0 when the server answered, -1 when it
 * failed (its breaker opens; what came before the failure is kept), -2 on
 * OOM.
 */
int		 cache_mget_one(struct cache *c, uint32_t i,
		    const char *const *mkeys, const size_t *mlens, size_t m,
		    struct cache_get *g);

/* cache_lease.c: conditional write-backs (its head says why). */
void		 cache_tokens_init(struct cache *c);
/*
 * cache_token_put - record that this request saw key with cas (0: the
 * server answered without it).  On OOM nothing is recorded.
 */
void		 cache_token_put(struct cache *c, const char *key, size_t len,
		    uint64_t cas);
/* cache_token_get - true and *cas when this request saw key, else false. */
bool		 cache_token_get(const struct cache *c, const char *key,
		    size_t len, uint64_t *cas);
void		 cache_tokens_reset(struct cache *c);
void		 cache_tokens_free(struct cache *c);
/* cache_tombstone_ttl - seconds an invalidation's tombstone lives. */
unsigned	 cache_tombstone_ttl(const struct cache *c);

/*
 * cache_cork.c: cache_cork holds what is sent to each TCP server until
 * a segment is full, for a batch of noreply writes; cache_uncork sends
 * the rest.  Every cache_cork needs its cache_uncork before anything
 * waits for an answer.  A server whose socket is not found is left as
 * it is (every send transmitted at once).
 */
void		 cache_cork(struct cache *c);
void		 cache_uncork(struct cache *c);

/* cache_gen.c: the generation and the invalidation epoch. */
bool		 cache_gen_valid(const char *v, size_t len);
void		 cache_gen_adopt(struct cache *c, const char *v);
void		 cache_gen_random(char out[CACHE_GEN_LEN + 1]);
/*
 * cache_gen_time - the milliseconds since 1970 in which generation g was
 * made (its first CACHE_GEN_TIME_LEN hex digits).
 */
long long	 cache_gen_time(const char *g);
/*
 * cache_gen_cmp - < 0, 0, > 0 as generation a is older than, the same
 * as, newer than b: by time, then by the random digits.  A time more
 * than CACHE_GEN_AHEAD_MS after now_ms (16 random digits written by an
 * older relaycfg) is older than any other.
 */
int		 cache_gen_cmp(const char *a, const char *b, long long now_ms);
/*
 * cache_gen_make - a new generation, newer than after (NULL: none):
 * made at now_ms, or 1 ms after after's time when that is later (a
 * clock behind another host's), followed by random digits.
 */
void		 cache_gen_make(char out[CACHE_GEN_LEN + 1], const char *after,
		    long long now_ms);
/*
 * cache_gen_settle - after the first multi-get of a request: adopt the
 * newest generation seen (this process's or any server's), repair the
 * servers that answered without it, and combine their epochs.
 */
void		 cache_gen_settle(struct cache *c);

#endif
