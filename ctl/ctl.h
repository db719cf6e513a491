/*
 * ctl.h - relaycfgctl: the admin commands and the relay-side commands.
 *
 * relaycfgctl.c parses the global options and hands the rest of argv (the
 * command name first) to the area that owns the command.
 */
#ifndef RELAYCFG_CTL_H
#define RELAYCFG_CTL_H

#include <stdbool.h>
#include <stdio.h>

struct ctl_opts {
	const char	*config_path;	/* -c FILE */
	bool		 json;		/* --json: machine output */
};

/*
 * Each returns the exit status: 0 success, 1 failure (message on stderr),
 * 2 usage error.  argv[0] is the command name.
 */

/* db, org, project, key, option, relay, invalidate (ctl_admin.c) */
int	ctl_admin_main(int argc, char **argv, const struct ctl_opts *o);
/* keygen, sign, register, fetch, publickeys (ctl_relay.c) */
int	ctl_relay_main(int argc, char **argv, const struct ctl_opts *o);

/* sentry-sync: mirror a Sentry's PostgreSQL (ctl_sentry.c) */
int	ctl_sentry_main(int argc, char **argv, const struct ctl_opts *o);

/* status: two scrapes of the server's /metrics, shown (ctl_status.c) */
int	ctl_status_main(int argc, char **argv, const struct ctl_opts *o);

/*
 * ctl_put_safe - s on fp with the control characters (C0, DEL, C1) and
 * the bytes that are not UTF-8 as \xNN: for text
 * that came from elsewhere (an upstream's answer, names mirrored from
 * Sentry), which must neither break the output's lines nor drive the
 * terminal.  (relaycfgctl.c)
 */
void	ctl_put_safe(FILE *fp, const char *s);

/*
 * ctl_put_escaped - the n bytes at s (s[n] readable) on fp as
 * ctl_put_safe writes them, but for the control characters in keep
 * ("\n\t": the lines of a document on a terminal).  Control characters
 * are C0, DEL and C1; a byte that is not UTF-8 is escaped too.
 * (relaycfgctl.c)
 */
void	ctl_put_escaped(FILE *fp, const char *s, size_t n, const char *keep);

/*
 * ctl_put_json - JSON text s (json-c's, whose strings hold no raw C0
 * control) on fp: as it is into a pipe or a file, for scripts; on a
 * terminal with its C1 controls and bytes that are not UTF-8 as \xNN
 * (ctl_put_escaped, newlines kept).  (relaycfgctl.c)
 */
void	ctl_put_json(FILE *fp, const char *s);

/* ctl_admin_usage / ctl_relay_usage - print the area's usage lines. */
void	ctl_admin_usage(FILE *fp);
void	ctl_relay_usage(FILE *fp);

#endif
