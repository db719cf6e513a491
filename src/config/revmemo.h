/*
 * revmemo.h - per-process memory of which config revisions are current.
 *
 * Relay polls with the revisions it has, and almost all of them are
 * current.  Looking each one up in memcached (configs.c's rev entries)
 * was the largest cost of such a poll, so a worker remembers the revs it
 * has read, together with the cache's invalidation epoch (cache.h,
 * cache_key_epoch) read in the same multi-get, before them.  Every
 * invalidation deletes the epoch after the entries, and a missing epoch
 * is re-created with new random digits, so an epoch never comes back:
 * while the epoch read now is the one the memory was filled under,
 * nothing it holds has been invalidated since.  Entries also expire with
 * ttl_config, like the cache entries they were read from.
 *
 * One table per process (workers serve one request at a time), bounded:
 * a full neighbourhood replaces an entry, so memory is fixed.
 */
#ifndef RELAYCFG_REVMEMO_H
#define RELAYCFG_REVMEMO_H

#include <stdbool.h>
#include <stdint.h>

#define REVMEMO_EPOCH_LEN	16	/* hex digits */

/* The longest settings tag revmemo_settings keeps. */
#define REVMEMO_SETTINGS_MAX	64

/*
 * revmemo_settings - the settings configs are built under now (their
 * cache tag, cache_config_tag).  Other settings than the last ones given
 * forget everything, as another epoch does: a single process (workers =
 * 0) keeps its memory across a reload, and a revision that was current
 * under the old settings says nothing about the new ones.  A tag longer
 * than REVMEMO_SETTINGS_MAX forgets every time.
 */
void	revmemo_settings(const char *tag);

/*
 * revmemo_epoch - the epoch just read from memcached, or NULL when it
 * was missing or unreadable.  A different epoch (or none) forgets
 * everything.  Returns whether entries may be used and added: the epoch
 * is the one they were filled under.
 */
bool	revmemo_epoch(const char *epoch);

/*
 * revmemo_current - is rev (32 characters) the remembered current
 * revision of public_key (32 characters), built less than ttl seconds
 * before now?  Only meaningful while the epoch is confirmed.
 */
bool	revmemo_current(const char *public_key, const char *rev, int64_t now,
	    unsigned ttl);

/*
 * revmemo_put - remember that rev was current for public_key, built at
 * built_at.  Ignored while no epoch is known.
 */
void	revmemo_put(const char *public_key, const char *rev, int64_t built_at);

#endif
