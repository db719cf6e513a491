/*
 * priv.h - run the workers as an unprivileged user (the `user` setting).
 */
#ifndef RELAYCFG_PRIV_H
#define RELAYCFG_PRIV_H

#include <stddef.h>

struct conf;

/*
 * priv_lookup - resolve c->user ("name[:group]") into c->user_uid and
 * c->user_gid (the user's primary group when none is named).  Nothing set:
 * nothing to do.  Returns 0, or -1 with a reason in err (unknown user or
 * group) that names where the setting came from: "--user: ..." or
 * "FILE:LINE: user: ...".  Changes no credentials.
 */
int	priv_lookup(struct conf *c, char *err, size_t errlen);

/*
 * priv_prepare - priv_lookup, then decide whether the process must drop:
 * c->user_drop is set when running as root (root as the user still takes
 * the group as its only group).
 * Not root: an error unless the setting names the current user (and group),
 * since only root can become someone else.  Returns 0 or -1 with err.
 */
int	priv_prepare(struct conf *c, char *err, size_t errlen);

/*
 * priv_drop - if c->user_drop, become c->user_uid/c->user_gid for good:
 * the group as the only supplementary group, then the gid, then the uid,
 * and check that root cannot be regained.  Returns 0, or -1 with err; on
 * failure the caller must not serve anything.
 */
int	priv_drop(const struct conf *c, char *err, size_t errlen);

#endif
