/*
 * store_rev.h - the persisted revision of each project's config, as
 * Sentry kept it in the project options sentry:relay-rev (a JSON string,
 * 32 hex) and sentry:relay-rev-lastchange (a JSON string, a time), read
 * and written straight in MariaDB, outside the options cache.
 *
 * These two options feed no config (the builder never reads them), so
 * writing them invalidates nothing: a write cannot start a rebuild, and a
 * rebuild only writes when the revision really moved.
 */
#ifndef RELAYCFG_STORE_REV_H
#define RELAYCFG_STORE_REV_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "valid.h"

#define STORE_REV_LEN		32	/* lowercase hex characters */
#define STORE_REV_TIME_LEN	VALID_TIMESTAMP_LEN	/* valid.h */

#define STORE_REV_KEY		"sentry:relay-rev"
#define STORE_REV_TIME_KEY	"sentry:relay-rev-lastchange"

struct store_rev {
	char	rev[STORE_REV_LEN + 1];		   /* "" when none or unusable */
	char	last_change[STORE_REV_TIME_LEN + 1]; /* "" likewise */
};

/*
 * store_revs_read - out[i]: the persisted pair of project_ids[i], both ""
 * unless both options hold values of the shapes above (anything else, a
 * uuid hex written by Sentry with a time in another format included, is
 * "none": the next write replaces it).  One SELECT on the reader, never
 * cached.  STORE_OK, STORE_UNAVAILABLE or STORE_ERROR (out all "").
 */
int	store_revs_read(struct store *st, const int64_t *project_ids,
	    size_t n, struct store_rev *out);

/*
 * store_revs_add - the first claim of projects that have no persisted
 * pair (store_revs_read said none): both options of each, (revs[i], now),
 * in one INSERT IGNORE ... RETURNING on the primary, outside any
 * transaction.  settled[i] is true when out[i] is the pair that now
 * stands for project i: both rows added (out[i] is (revs[i], now)), or
 * none added and the pair on the primary carries revs[i] (another
 * worker's, read in one more statement).  Every other project is for
 * store_revs_claim to settle (a pair of another revision, half a pair, a
 * project deleted meanwhile), with force[i] when its rev was just added
 * beside a time that is not its own.  out[i] is untouched where not
 * settled.  project_ids must be distinct.  Invalidates nothing.
 * STORE_OK, or STORE_UNAVAILABLE / STORE_ERROR (read-only server, lost
 * connection, bad arguments) with nothing settled or forced.
 */
int	store_revs_add(struct store *st, const int64_t *project_ids,
	    const char *const *revs, size_t n, const char *now,
	    struct store_rev *out, bool *settled, bool *force);

/*
 * store_revs_claim - for each i, in one transaction on the primary: the
 * projects are locked (so concurrent claims of one project serialise),
 * their pairs re-read, and every project whose persisted rev is not
 * revs[i] gets (revs[i], now) written (INSERT ... ON DUPLICATE KEY
 * UPDATE, both options in one statement), and so does every project with
 * force[i] (force may be NULL: none).  out[i].last_change is then the
 * persisted time when the rev was already revs[i] (another writer was
 * first) and not forced, else now; a project that no longer exists gets
 * now and no row.  project_ids must be distinct; now is a
 * STORE_REV_TIME_LEN time.
 * Invalidates nothing.  STORE_OK, or STORE_UNAVAILABLE / STORE_ERROR
 * (read-only server, lost connection...) with nothing written and out
 * untouched.
 */
int	store_revs_claim(struct store *st, const int64_t *project_ids,
	    const char *const *revs, const bool *force, size_t n,
	    const char *now, struct store_rev *out);

#endif
