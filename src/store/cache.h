/*
 * cache.h - relaycfg's memcached layer: key namespace, value framing,
 * generation, timeouts.  Any failure is a miss; nothing here ever makes a
 * request fail.  A breaker per server (cache_breaker.c): after a failure
 * or a timeout a server is not used by this process for
 * memcached_retry_timeout seconds, then one operation probes it, so a
 * process waits for a dead or frozen server at most once per retry
 * timeout, not once per request.
 *
 * Keys:    <namespace>:<CACHE_FORMAT_VERSION>:<kind>:<id>
 *          namespace is conf cache_namespace (default "relaycfg"); kind
 *          is 1-8 of [a-z]; id is a decimal integer formatted here, 32
 *          lowercase hex, or a canonical lowercase UUID.  Any other id is
 *          replaced by "h" + 32 hex of BLAKE2b-128 (libsodium
 *          crypto_generichash) of its bytes, so client input never reaches
 *          memcached and the key always is ASCII without space or control
 *          characters, at most 64 bytes.
 *
 * Values:  "rc<CACHE_FORMAT_VERSION> <generation> <kind> <payload>"
 *          generation is 16 lowercase hex.  A value whose version,
 *          generation or kind do not match is a miss, so bytes written by
 *          another format are never read as this one.
 *
 * Servers: spread by libmemcached's weighted ketama (memcached_server
 *          host:port[:weight]); removing one moves only its keys.  No
 *          single server holds what every request needs: each server has
 *          its own copy of the generation and of the epoch under the same
 *          key names, read and written with *_by_key under a group key
 *          that maps to it (its route, cache_breaker.c).  The first
 *          multi-get of a request asks every usable server, its
 *          generation and epoch first (they ride along with the keys that
 *          live there; a server none of the request's keys live on is
 *          asked for them alone, as the single generation server was).
 *
 * Generation: <namespace>:<CACHE_FORMAT_VERSION>:gen, never expiring:
 *          11 hex digits of the milliseconds since 1970 it was made at,
 *          then 5 random ones, so that generations are totally ordered
 *          (cache_gen_cmp).  A request adopts the newest one it sees (its
 *          process's memory or any server's) and values framed with any
 *          other are misses.  cache_bump_generation() makes one newer
 *          than any it can read and writes it to every server, which
 *          invalidates every value at once ("relaycfgctl invalidate
 *          --all").  A server found without it (restart, eviction) gets
 *          it with "add"; one found with an older one (it was down,
 *          frozen or unreachable during a bump) gets it with "cas", so a
 *          newer one is never overwritten, and its old values stay misses.
 *
 * Write-backs: conditional on the key being as this request first read
 *          it (cas, or add when it was absent), and invalidations write a
 *          tombstone rather than delete, so a request that read MariaDB
 *          before a write committed cannot leave its value in memcached
 *          after the write's invalidation (cache_lease.c).
 *
 * Limits:  a bump that reached only servers that are all lost (or
 *          unreachable from a process) before anyone read it there is
 *          lost, and a process that then knows only servers that missed
 *          it serves their old values until their TTL: it takes two
 *          failures, one during the bump and one after.  A delete that
 *          could not reach its server (invalidation while the server was
 *          down or frozen) is reported (store_cache_stale), not repaired:
 *          that key may be served from that server once it is back, until
 *          its TTL or an "invalidate --all".  The epoch, likewise, is
 *          seen changed by a process that reaches at least one server
 *          the invalidation reached.
 *
 * One memcached_st per process, made by cache_new() after fork.
 */
#ifndef RELAYCFG_CACHE_H
#define RELAYCFG_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define CACHE_FORMAT_VERSION	1
#define CACHE_KEY_MAX		96	/* buffer size for any key */
#define CACHE_GEN_LEN		16
#define CACHE_KIND_MAX		8

struct cache;

struct cache_stats {
	unsigned long	gets;		/* multi-get round trips */
	unsigned long	sets;		/* values written (no reply awaited) */
	unsigned long	deletes;
	unsigned long	hits;
	unsigned long	misses;		/* keys not answered, for any reason */
	unsigned long	failures;	/* operations memcached failed */
	unsigned long	skipped;	/* operations not tried: server resting */
	unsigned long long time_us;	/* wall time in libmemcached calls */
};

/*
 * One answer of cache_get_many: the payload, or data NULL for a miss.
 * data is NUL-terminated and points into mem, which the caller owns (and
 * may keep: cache_values_free only frees what is still there).  From
 * cache_get_many_hints, a miss whose entry is framed with another
 * generation has that payload in other_gen (into mem, other_len bytes):
 * what the key held before the last "invalidate --all", a hint of where
 * to look, never an answer.
 */
struct cache_value {
	const char	*data;
	size_t		 len;
	char		*mem;
	const char	*other_gen;
	size_t		 other_len;
};

/*
 * cache_new - a cache for conf's memcached_server list, namespace and
 * timeouts.  No connection is made.  Zero servers gives a disabled cache
 * (every get a miss, every write a no-op success); an unparsable entry is
 * logged and left out.  Returns NULL on OOM, with the reason in err.
 * conf must outlive the cache.
 */
struct cache	*cache_new(const struct conf *conf, char *err, size_t errlen);

/* cache_free - close and free; NULL is fine. */
void		 cache_free(struct cache *c);

bool		 cache_enabled(const struct cache *c);
/*
 * cache_probe - read this process's generation from each server once (a
 * worker's start), so that relaycfg_memcached_up says what this process
 * saw rather than that it has not tried yet, and a server that does not
 * answer rests before the first request, which would otherwise pay for
 * finding out.
 */
void		 cache_probe(struct cache *c);

/*
 * cache_request_end - forget the per-request state: the generation read
 * in this request.  Call after each request (and the CLI after each
 * command).  The breakers outlive requests.
 */
void		 cache_request_end(struct cache *c);

/*
 * Keys.  Each writes a NUL-terminated key of at most CACHE_KEY_MAX bytes
 * into buf (len >= CACHE_KEY_MAX) and returns 0, or -1 when kind is not
 * 1-8 of [a-z] (a programming error; buf is then "").
 */
int		 cache_key_id(const struct cache *c, char *buf, size_t len,
		    const char *kind, int64_t id);
/* cache_key_str - id kept when hex32 or a canonical UUID, hashed else. */
int		 cache_key_str(const struct cache *c, char *buf, size_t len,
		    const char *kind, const char *id);
/*
 * cache_key_config - the key of the computed project config of a public
 * key: <namespace>:<version>:cfgz:<public_key or its hash>.  The key is
 * the same under any settings, so that an invalidation made under one
 * (relaycfgctl with the file as edited, a host of a pool whose file
 * differs) reaches the entry read under any other; the entry itself
 * begins with the settings it was built under (cache_config_tag).  The
 * config builder and store_invalidate() both use this.
 */
int		 cache_key_config(const struct cache *c, char *buf, size_t len,
		    const char *public_key);
/*
 * cache_key_config_rev - the key of the small companion of that entry,
 * holding only when it was built and its rev (kind "cfgr"), so that a
 * Relay that has the current revision is answered without the config.
 */
int		 cache_key_config_rev(const struct cache *c, char *buf,
		    size_t len, const char *public_key);

/*
 * cache_config_tag - "<settings digest> " (CACHE_CONFIG_TAG_LEN
 * characters), the digest being that of relaycfg's version and
 * relaycfg.conf's Sentry flags and options (sentry_settings_digest).
 * Every config and rev entry begins with the tag of the settings it was
 * built under (its writer puts it there); cache_get_many answers one
 * with another tag as a miss (counted as one), never as a stale copy,
 * and ours without the tag, and the rebuild writes over it: configs
 * built under other settings or by another release are never answered.
 */
#define CACHE_CONFIG_TAG_LEN	(SENTRY_SETTINGS_DIGEST_LEN + 1)
const char	*cache_config_tag(const struct cache *c);

/*
 * cache_key_epoch - the key of the invalidation epoch, CACHE_GEN_LEN
 * random hex digits in a framed value, on every server.  cache_delete_many
 * deletes every copy after the keys it was given; whoever then finds a
 * copy missing writes new digits there (cache_epoch_renew), so a value
 * never comes back.  cache_get_many answers this key with the request's
 * epoch: every server's copy, read in the request's first multi-get,
 * combined (CACHE_GEN_LEN hex), or a miss when a server answered without
 * one or none answered.  A process that read the same epoch before and
 * now knows that nothing was deleted in between (revmemo.h).
 */
int		 cache_key_epoch(const struct cache *c, char *buf, size_t len);

/*
 * cache_epoch_renew - write a new random epoch on each server found
 * without one in this request (cache_get_many does so already; this is
 * a no-op unless that write failed).  As cache_set_many: skipped without
 * a generation or while its server rests.
 */
int		 cache_epoch_renew(struct cache *c);

/*
 * cache_get_many - one multi-get for n keys (at most one round trip per
 * server).  out[i] is filled for each hit whose framing and generation
 * check out; every other out[i] has data NULL.  Duplicate keys are fine.
 * Keys of a resting server are misses without a round trip.  Returns 0
 * when every server asked answered (hits or not), -1 when one failed or
 * was resting, or on OOM; the out array is valid either way.  Free the
 * payloads with cache_values_free.
 */
int		 cache_get_many(struct cache *c, const char *const *keys,
		    size_t n, struct cache_value *out);

/*
 * cache_get_many_hints - cache_get_many, and each miss framed with
 * another generation keeps that payload in other_gen (struct
 * cache_value).  For small entries only (pointers): those payloads are
 * held until the caller frees them.
 */
int		 cache_get_many_hints(struct cache *c, const char *const *keys,
		    size_t n, struct cache_value *out);

/* cache_values_free - free the payloads of n values and zero them. */
void		 cache_values_free(struct cache_value *v, size_t n);

/*
 * cache_set_many - write n payloads, framed with this request's
 * generation, ttls in seconds (0: never expire; more than 30 days is
 * fine, cache_exptime), without waiting for replies.  Each is a
 * write-back that memcached refuses when the key changed since this
 * request read it ("cas"), or exists when the request read it absent or
 * never read it ("add"): an invalidation in between
 * wins (cache_lease).  Skipped (returns -1) when no generation is known
 * in this request; values for a resting server are skipped.  Returns 0
 * when every value was handed to memcached (stored or refused), -1
 * otherwise.
 */
int		 cache_set_many(struct cache *c, const char *const *keys,
		    const char *const *payloads, const size_t *lens,
		    const unsigned *ttls, size_t n);

/*
 * cache_lease - read, for each of n keys that this request has not read
 * yet, what memcached holds now (only its cas: no value is returned), so
 * that a later cache_set_many of the key is refused if an invalidation
 * comes in between.  Call it before reading what the values are built
 * from.  Keys of a resting server are skipped.  Returns 0, or -1 when a
 * server failed or rested (its keys' write-backs are then "add"s) or on
 * OOM.
 */
int		 cache_lease(struct cache *c, const char *const *keys,
		    size_t n);

/*
 * cache_was_read - true when this request read key from memcached (a
 * multi-get or cache_lease), with *absent telling whether memcached had
 * nothing under it; false when it did not.
 */
bool		 cache_was_read(const struct cache *c, const char *key,
		    bool *absent);

/*
 * The value an invalidation leaves under a key instead of deleting it: a
 * miss for every reader (it is no framed value), which changes the key's
 * cas and lives cache_tombstone_ttl (request_timeout + 60 s), longer
 * than any request that read the key before may take to write it back.
 */
#define CACHE_TOMBSTONE		"rc-invalidated"

/*
 * cache_tombstones - how many invalidation tombstones this process's
 * reads (cache_get_many, cache_lease) have found so far; it only grows.
 * The write behind a tombstone had returned before the tombstone was
 * written, so whoever reads MariaDB for a key after finding one must read
 * a server that has applied that write (store.c, store_reader).
 */
unsigned long long cache_tombstones(const struct cache *c);

/*
 * cache_delete_many - delete n keys (each replaced by CACHE_TOMBSTONE),
 * each on the server that holds it, pipelined; after a barrier (a read
 * from each server: every delete applied) every server's copy of the
 * epoch (cache_key_epoch); then
 * another barrier, so that when it returns 0 every delete has been
 * applied; a server that fails one rests alone.  Tried even on a
 * resting server (a skipped invalidation is stale data elsewhere); a
 * server that fails does not stop the others' deletes.  Returns -1 when
 * a delete could not be sent or a barrier failed: some entries may then
 * live until their TTL.
 */
int		 cache_delete_many(struct cache *c, const char *const *keys,
		    size_t n);

/*
 * cache_bump_generation - a new generation, newer than any this process
 * can read, on every server: every value written so far becomes a miss
 * for every process, at once.  Returns 0 when at least one server
 * confirmed it (the others, older, are repaired when read; logged), -1
 * when none did.
 */
int		 cache_bump_generation(struct cache *c);

/* cache_get_stats - counters since cache_new. */
void		 cache_get_stats(const struct cache *c, struct cache_stats *out);

#endif
