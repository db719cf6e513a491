/*
 * lastchange.h - lastChange that outlives the cache: each project's
 * revision (its config without the parts that differ from key to key)
 * and the time it first took its current value, persisted per project as
 * Sentry persisted them (sentry:relay-rev, sentry:relay-rev-lastchange;
 * store_rev.h).
 *
 * Why per project and not per key: Sentry's pair was per project (set
 * by Project.update_option on every option change), and one pair per key
 * would need a table Sentry does not have.  The project revision leaves
 * out publicKeys and the key-scope quotas, so every key of a project
 * agrees on it; whatever changes it changes every key's rev as well, so
 * lastChange never moves while rev stands still.  A change that only
 * touches one key (its rate limit) gives that key a new rev and keeps
 * lastChange, as Sentry did.
 */
#ifndef RELAYCFG_LASTCHANGE_H
#define RELAYCFG_LASTCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "projectconfig.h"
#include "store.h"

/* One project whose lastChange is asked for. */
struct lastchange_req {
	int64_t	project_id;
	char	prev[PROJECTCONFIG_REV_LEN + 1];	/* in: project revision */
	char	last_change[PROJECTCONFIG_TIME_LEN + 1]; /* out */
};

/*
 * lastchange_wanted - whether content (projectconfig_content) is a config
 * that carries a lastChange: anything but {"disabled":true}.
 */
bool	lastchange_wanted(json_object *content);

/*
 * lastchange_project_rev - the project revision of content: its digest
 * (pc_hash_node) with publicKeys and every config.quotas entry of scope
 * "key" left out (and config.quotas itself when nothing else was in it).
 * Returns 0, or -1 on OOM with out untouched.
 */
int	lastchange_project_rev(json_object *content,
	    char out[PROJECTCONFIG_REV_LEN + 1]);

/*
 * lastchange_revs - projectconfig_rev (rev) and lastchange_project_rev
 * (prev) of content in one walk: every subtree both share is hashed once.
 * Returns 0, or -1 on OOM with rev and prev untouched.
 */
int	lastchange_revs(json_object *content,
	    char rev[PROJECTCONFIG_REV_LEN + 1],
	    char prev[PROJECTCONFIG_REV_LEN + 1]);

/*
 * lastchange_resolve - r[i].last_change for each request: the persisted
 * time when the persisted revision of the project is r[i].prev (one
 * SELECT for the batch, no write); otherwise the pair is claimed (one
 * transaction for the batch, store_revs_claim) and the time is now, or
 * the time of whoever claimed that revision first.  When MariaDB cannot
 * be read or written (down, read-only) the answer is now, never an
 * error: logged once until it works again, and writes rest for a minute.
 * Requests may repeat a project.  st may be NULL (now for all).
 */
void	lastchange_resolve(struct store *st, struct lastchange_req *r,
	    size_t n, const char *now);

#endif
