/*
 * ctl_sentry.h - relaycfgctl sentry-sync: Sentry's PostgreSQL, read
 * only (ctl_sentry_pg.c), and the command that mirrors it into
 * relaycfg's MariaDB (ctl_sentry.c).
 */
#ifndef RELAYCFG_CTL_SENTRY_H
#define RELAYCFG_CTL_SENTRY_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "mirror.h"

/* The channel relaycfg-notify.sql's triggers notify. */
#define SENTRY_PG_CHANNEL	"relaycfg_sentry_sync"
/* md5 in hex, and its NUL. */
#define SENTRY_PG_DIGEST_LEN	33

struct sentry_pg;

/*
 * sentry_pg_connect - connect with the libpq connection string conninfo
 * (keywords or a URI) and, when password is not NULL, that password
 * (kept out of conninfo, so it never has to be in argv).  The session is
 * read-only (default_transaction_read_only), in UTC.  Every statement
 * ends within timeout seconds on the server (statement_timeout), and the
 * client gives up waiting a little later (a frozen server or network),
 * or as soon as a signal handler has set *stop (when stop is not NULL);
 * after that every call fails until the connection is closed.  Returns
 * NULL with the reason in err.
 */
struct sentry_pg *sentry_pg_connect(const char *conninfo,
	    const char *password, long timeout,
	    const volatile sig_atomic_t *stop, char *err, size_t errlen);
void	sentry_pg_close(struct sentry_pg *pg);

/*
 * sentry_pg_lost - did a statement go unanswered past its deadline, or
 * did the connection fail (the server ended it)?  The connection is then
 * good for nothing but sentry_pg_close.
 */
bool	sentry_pg_lost(const struct sentry_pg *pg);

/*
 * sentry_pg_check_conninfo - is conninfo what libpq reads as a connection
 * string (key=value pairs, or a postgresql:// or postgres:// URI)?  Any
 * other text libpq would take as a database name, and an empty one as
 * all defaults.  0, or -1 with libpq's reason (or ours) in err.
 */
int	sentry_pg_check_conninfo(const char *conninfo, char *err,
	    size_t errlen);

/* sentry_pg_has_password - does conninfo itself carry a password? */
bool	sentry_pg_has_password(const char *conninfo);

/*
 * sentry_pg_digests - per table, the md5 of its rows as mirrored (one
 * query; "" for a table Sentry lacks).  A table whose digest did not move
 * did not change.  0, or -1 with err (the connection may be gone).
 */
int	sentry_pg_digests(struct sentry_pg *pg,
	    char out[MT_COUNT][SENTRY_PG_DIGEST_LEN], char *err, size_t errlen);

/*
 * sentry_pg_read - every mirrored table into want[] (initialised here,
 * sorted), from one REPEATABLE READ snapshot, so that rows agree with
 * each other.  A table Sentry lacks is marked unmirrored (relaycfg's
 * rows of it are left alone); one the role may not read fails.  Each
 * refused row is passed to refused(why, arg) and left out.  digests,
 * unless NULL, gets sentry_pg_digests of the same snapshot.  0, or -1
 * with err (want empty).
 */
int	sentry_pg_read(struct sentry_pg *pg, struct mirror_rows want[MT_COUNT],
	    char digests[MT_COUNT][SENTRY_PG_DIGEST_LEN],
	    void (*refused)(const char *why, void *arg), void *arg,
	    char *err, size_t errlen);

/*
 * sentry_pg_listen - LISTEN on SENTRY_PG_CHANNEL.  0, or -1 with err
 * (a hot standby refuses it: poll without).
 */
int	sentry_pg_listen(struct sentry_pg *pg, char *err, size_t errlen);

/*
 * sentry_pg_wait - wait up to ms for a notification (all pending ones
 * are consumed).  1 notified, 0 timed out or interrupted by a signal, -1
 * the connection failed.
 */
int	sentry_pg_wait(struct sentry_pg *pg, long ms);

/*
 * sentry_pg_poll - poll(2) for up to ms (-1: no limit) with SIGTERM and
 * SIGINT let in only while it waits.  sentry-sync keeps both blocked
 * everywhere else, so a stop signal that lands after its flag was
 * checked is taken by this wait, which it ends (-1, EINTR), instead of
 * being slept through.  Returns what poll(2) does.
 */
int	sentry_pg_poll(struct pollfd *fds, nfds_t nfds, long ms);

#endif
