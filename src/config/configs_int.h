/*
 * configs_int.h - what configs.c and lastchange.c share and nothing
 * outside them sees: a cache entry as parsed (struct cached), one config
 * between its build and its rendering (struct built), and the lastChange
 * hand-off (lastchange.c) that builds a config, decides where its
 * lastChange comes from, and renders it once the persisted pairs are read;
 * and the sets of ids both keep per batch (find_id, add_id).
 */
#ifndef RELAYCFG_CONFIGS_INT_H
#define RELAYCFG_CONFIGS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "cache.h"
#include "conf.h"
#include "lastchange.h"
#include "model.h"
#include "projectconfig.h"
#include "zfrag.h"

/* Longest header line: two times, rev, CRC, length, spaces. */
#define CACHED_HEAD_MAX	160

/* A config entry of the cache, parsed (configs_cached.c: cached_parse). */
struct cached {
	bool		 present;
	size_t		 head_len;	/* header line with its newline */
	int64_t		 built_at;
	char		 rev[PROJECTCONFIG_REV_LEN + 1];
	char		 last_change[PROJECTCONFIG_TIME_LEN + 1];
	struct zfrag	 frag;		/* into the cache value */
};

/* configs_cached.c: an entry read back from memcached. */
/*
 * cached_parse - parse one cache payload (the cache stripped its tag);
 * anything malformed is absent (out->present false).
 */
void	cached_parse(const struct cache_value *v, struct cached *out);
/*
 * cached_check - c (parsed from v for public_key) stays present only when
 * its fragment is what its header says (checked once per process).
 */
void	cached_check(const char *public_key, const struct cache_value *v,
	    struct cached *c);
/*
 * checked_digest, checked_put - remember an entry the process wrote as
 * checked, by its public key, header line and fragment length.
 */
uint64_t	checked_digest(const char *public_key, const char *head,
		    size_t head_len, size_t frag_len);
void	checked_put(uint64_t d);
/* is_fresh - was something built at built_at still fresh at now? */
bool	is_fresh(int64_t built_at, const struct timespec *now, unsigned ttl);
/* rev_entry_current - does rev entry v say rev is current (and fresh)? */
bool	rev_entry_current(const struct cache_value *v, const char *rev,
	    const struct timespec *now, unsigned ttl, int64_t *built_at);

/*
 * One config of a batch between its build and its rendering: its content
 * and rev, and where its lastChange comes from.
 */
struct built {
	json_object	*content;	/* NULL: not built, or rendered */
	char		 rev[PROJECTCONFIG_REV_LEN + 1];
	const char	*lc;		/* the cached copy's, or NULL */
	long		 req;		/* else its lastchange_req, or -1 */
	char		*text;		/* rendered, waiting for lr[req] */
	size_t		 text_len;
	size_t		 lc_at;		/* where its lastChange goes */
};

/* find_id - the index of v in a[0..n-1], or -1 (configs.c). */
long	find_id(const int64_t *a, size_t n, int64_t v);
/* add_id - append v to the set of ids a[0..*n-1] unless it is there; a
 * has room for the worst case (configs.c). */
void	add_id(int64_t *a, size_t *n, int64_t v);

/*
 * build_content - build one config into *bt (lastchange.c); one that
 * waits for lr[bt->req] is rendered at once, with now standing in for
 * its lastChange, and waits as bt->text.  Returns 0, or -1 on OOM
 * (bt->content may be set).
 */
int	build_content(const struct model_project *p,
	    const struct model_org *o,
	    const struct model_projectkey *const *keys, size_t nkeys,
	    json_object *popt, json_object *oopt,
	    const struct model_txthresholds *thr, const struct conf *conf,
	    const struct cached *old, const char *now, struct built *bt,
	    struct lastchange_req *lr, size_t *nl);
/* built_waiting - whether bt holds a config not rendered into an entry. */
bool	built_waiting(const struct built *bt);
/*
 * render_built - the text of bt (lastchange.c), malloc'd, the caller's;
 * a pending text is handed over (bt->text becomes NULL).  NULL on OOM.
 */
char	*render_built(struct built *bt, const struct lastchange_req *lr,
	    const char *now, size_t *len,
	    char last_change[PROJECTCONFIG_TIME_LEN + 1]);

#endif
