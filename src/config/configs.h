/*
 * configs.h - project configs for a batch of public keys or project ids:
 * the computed-config cache in memcached, misses built inline in one batch
 * (one query per model), and stale copies served while MariaDB is away.
 */
#ifndef RELAYCFG_CONFIGS_H
#define RELAYCFG_CONFIGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "app.h"
#include "projectconfig.h"
#include "zfrag.h"

enum configs_state {
	CONFIGS_PENDING = 0,	/* unknown: MariaDB unreachable, no copy */
	CONFIGS_FRESH,		/* frag holds the current config */
	CONFIGS_STALE		/* frag holds an expired copy (MariaDB away) */
};

struct configs_entry {
	const char		*key;	/* public key (valid hex32), not owned */
	const char		*revision; /* in: the client's rev, or NULL */
	enum configs_state	 state;
	struct zfrag		 frag;	/* rendered project state, deflated */
	void			*mem;	/* owns frag.data */
	char			 rev[PROJECTCONFIG_REV_LEN + 1]; /* "" if none */
	char			 last_change[PROJECTCONFIG_TIME_LEN + 1]; /* "" if none */
};

/*
 * configs_by_keys - fill e[0..n-1] for their keys (distinct, each 32
 * lowercase hex).  use_cache: a fresh cached copy is served as stored (v3);
 * otherwise every config is rebuilt (v2, noCache).  Either way what is
 * built is written back to the cache, and an expired or unreadable copy
 * stands in when MariaDB cannot be read.  now: the request time.  A
 * cached entry that fails any check (configs.c) is a miss: every frag
 * handed out is exactly what zfrag_make made of its text_len bytes.
 *
 * With use_cache, an entry whose revision is the fresh cached rev is only
 * looked up in the small rev entry: it comes back FRESH with rev set and
 * an empty frag (its key goes to "unchanged"; the config is not read).
 *
 * Returns 0 (each entry FRESH, STALE or PENDING), or -1 on OOM with every
 * entry PENDING.  Free with configs_entries_free.
 */
int	configs_by_keys(struct app *app, struct configs_entry *e, size_t n,
	    bool use_cache, const struct timespec *now);

/*
 * configs_by_projects - the v1 answer: for each project id the config
 * listing all of its keys (any status), or {"disabled":true}.  Not cached
 * (Sentry keys its cache by public key; project ids do not belong there).
 * json[i] is malloc'd text, or NULL with *unavailable set when MariaDB
 * could not be read.  Returns 0, or -1 on OOM.
 */
int	configs_by_projects(struct app *app, const int64_t *ids, size_t n,
	    const struct timespec *now, char **json, size_t *lens,
	    bool *unavailable);

void	configs_entries_free(struct configs_entry *e, size_t n);

#endif
