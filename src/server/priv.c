/*
 * priv.c - drop root in the processes that parse requests.
 *
 * The master keeps root for what needs it (the socket, reading a config
 * that holds secrets on SIGHUP); the workers, which parse every untrusted
 * byte, become the configured user right after fork (master.c).
 */
#include "config.h"

#include <sys/types.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "priv.h"

/* perr - "user: what: detail" in err; -1. */
static int
perr(char *err, size_t errlen, const char *what, const char *detail)
{
	snprintf(err, errlen, "user: %s: %s", what, detail);
	return -1;
}

/*
 * cerr - "ORIGIN: what: detail" in err, the origin naming --user or the
 * file's line (conf_origin); -1.
 */
static int
cerr(const struct conf *c, char *err, size_t errlen, const char *what,
    const char *detail)
{
	char origin[512];

	(void)conf_origin(c, CONF_USER, origin, sizeof(origin));
	snprintf(err, errlen, "%s: %s: %s", origin, what, detail);
	return -1;
}

/* priv_lookup - see priv.h. */
int
priv_lookup(struct conf *c, char *err, size_t errlen)
{
	char buf[256], *group;
	struct passwd *pw;
	struct group *gr;

	c->user_drop = false;
	if (c->user == NULL)
		return 0;
	if (strlen(c->user) >= sizeof(buf))
		return cerr(c, err, errlen, c->user, "too long");
	strcpy(buf, c->user);
	if ((group = strchr(buf, ':')) != NULL)
		*group++ = '\0';
	if (buf[0] == '\0')
		return cerr(c, err, errlen, c->user, "no user name");
	/* errno is how getpwnam tells "no such user" from a failed lookup */
	errno = 0;
	if ((pw = getpwnam(buf)) == NULL)
		return cerr(c, err, errlen, buf, errno != 0 ? strerror(errno) :
		    "unknown user");
	c->user_uid = pw->pw_uid;
	c->user_gid = pw->pw_gid;
	if (group != NULL && *group != '\0') {
		errno = 0;
		if ((gr = getgrnam(group)) == NULL)
			return cerr(c, err, errlen, group, errno != 0 ?
			    strerror(errno) : "unknown group");
		c->user_gid = gr->gr_gid;
	}
	return 0;
}

/* priv_prepare - see priv.h. */
int
priv_prepare(struct conf *c, char *err, size_t errlen)
{
	if (priv_lookup(c, err, errlen) != 0)
		return -1;
	if (c->user == NULL)
		return 0;
	/* root too: "root:group" still takes group as the only group */
	if (geteuid() == 0) {
		c->user_drop = true;
		return 0;
	}
	/* Only root can become someone else: say so instead of running as
	 * a user the administrator did not ask for. */
	if (c->user_uid != geteuid() || c->user_gid != getegid())
		return cerr(c, err, errlen, c->user,
		    "not running as root, so cannot become this user; "
		    "start as root or as this user");
	return 0;
}

/* priv_drop - see priv.h. */
int
priv_drop(const struct conf *c, char *err, size_t errlen)
{
	gid_t gid = c->user_gid;
	char what[32];

	if (!c->user_drop)
		return 0;
	snprintf(what, sizeof(what), "%lu:%lu", (unsigned long)c->user_uid,
	    (unsigned long)gid);
	/* the groups first, while still root: afterwards it cannot */
	if (setgroups(1, &gid) != 0)
		return perr(err, errlen, "setgroups", strerror(errno));
	if (setresgid(gid, gid, gid) != 0)
		return perr(err, errlen, "setresgid", strerror(errno));
	if (setresuid(c->user_uid, c->user_uid, c->user_uid) != 0)
		return perr(err, errlen, "setresuid", strerror(errno));
	/* saved ids included: a way back to root would void all of this
	 * (unless root is the user asked for) */
	if (c->user_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return perr(err, errlen, what, "root could be regained");
	return 0;
}
