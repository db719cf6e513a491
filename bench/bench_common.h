/*
 * bench_common.h - shared by the benchmark programs in bench/: Relay
 * credentials, key lists, and request bodies written exactly as Relay
 * serialises them (serde_json, compact, struct field order).
 */
#ifndef RELAYCFG_BENCH_COMMON_H
#define RELAYCFG_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "relayauth.h"

struct bench_creds {
	char		 id[RELAYAUTH_RELAY_ID_LEN + 1];
	char		 public_key[RELAYAUTH_PUBLIC_KEY_LEN + 1];
	unsigned char	 sk[RELAYAUTH_SECRET_KEY_BYTES];
};

/* credentials.json as relaycfgctl keygen (and Relay) write it; exits on error. */
void	 bench_creds_load(const char *path, struct bench_creds *c);

/* One 32-character key per line; exits on error.  *n is the count. */
char	**bench_keys_load(const char *path, size_t *n);

/*
 * GetProjectStates as Relay sends it:
 *	{"publicKeys":[...],"revisions":[...],"fullConfig":false,"noCache":false}
 * keys[idx[0..n-1]]; revs NULL or parallel to keys (a NULL entry: null).
 * Returns a malloc'd string and its length.
 */
char	*bench_body_keys(char *const *keys, const size_t *idx, size_t n,
	    char *const *revs, size_t *len);

/* GetGlobalConfig as Relay sends it: {"global":true,"publicKeys":[]}. */
char	*bench_body_global(size_t *len);

/* A small deterministic PRNG (xorshift64*), so runs are reproducible. */
uint64_t bench_rand(uint64_t *state);

/* Fisher-Yates shuffle of idx[0..n-1]. */
void	 bench_shuffle(size_t *idx, size_t n, uint64_t *state);

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

void	 bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
