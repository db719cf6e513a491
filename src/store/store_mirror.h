/*
 * store_mirror.h - relaycfg's side of the Sentry mirror: its rows read
 * in mirror.h's canonical text, a plan applied in one transaction, and
 * exactly the cache entries the plan's rows feed dropped after it.
 */
#ifndef RELAYCFG_STORE_MIRROR_H
#define RELAYCFG_STORE_MIRROR_H

#include <stdbool.h>

#include "mirror.h"
#include "store.h"

/*
 * store_mirror_read - every row of table t from the primary (never the
 * cache, never a replica) into out, initialised here and sorted.
 * STORE_OK, STORE_UNAVAILABLE, or STORE_ERROR (OOM, SQL error, two rows
 * with one key); out is empty unless STORE_OK.
 */
int	store_mirror_read(struct store *st, enum mirror_table_id t,
	    struct mirror_rows *out);

/*
 * store_mirror_lock - take the sync lock of this database (MariaDB's
 * GET_LOCK, named after the database, so two syncs on any hosts exclude
 * each other) without waiting: *got says whether it is ours.  Held by
 * the primary connection until store_mirror_unlock() or its end.
 */
int	store_mirror_lock(struct store *st, bool *got);
void	store_mirror_unlock(struct store *st);

/*
 * store_mirror_recover - under the sync lock, before a plan is read: when
 * a sync committed before and may not have deleted all its cache entries
 * (it was killed between its COMMIT and its cache deletes, or memcached
 * failed them; relaycfg_sentry_sync_pending holds a row), every cache
 * entry is dropped (a new generation), since which entries that sync
 * changed is no longer known and relaycfg's rows already equal Sentry's.
 * *dropped says whether it did; the row goes once memcached took the new
 * generation (store_cache_stale() false), and stays for the next sync
 * otherwise.  STORE_OK, or MariaDB's failure.
 */
int	store_mirror_recover(struct store *st, bool *dropped);

/*
 * store_mirror_apply - apply plan (built from want and have, which it
 * points into) in one transaction on the primary, while the sync lock
 * is still this connection's: unique values given up first, then
 * updates and inserts parents first, then deletes children first;
 * relaycfg's own rows under a deleted project (its sentry:relay-rev
 * options) or relay (its usage rows) go with it.  An UPDATE that does not
 * match its row fails the whole transaction.
 * After the commit, the cache entries of every changed row, before and
 * after, are deleted, computed from the rows themselves; nothing else.
 * The transaction also leaves the row of store_mirror_recover(), deleted
 * once those cache deletes all went out.
 * *writes counts the statements that changed data.  STORE_OK (check
 * store_cache_stale()), or the failure with nothing changed.
 */
int	store_mirror_apply(struct store *st, const struct mirror_plan *plan,
	    const struct mirror_rows *want, const struct mirror_rows *have,
	    unsigned long *writes);

#endif
