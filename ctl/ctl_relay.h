/*
 * ctl_relay.h - what the relay-side commands' files share: credentials,
 * the options of every upstream command, one signed POST and its answer
 * (and the plain GET status reads /metrics with).
 *
 * ctl_relay.c dispatches and parses the options; ctl_creds.c reads
 * credentials and signs; ctl_upstream.c talks to the upstream; the
 * commands live in ctl_keys.c (keygen, sign) and ctl_fetch.c (register,
 * fetch, publickeys).  Each command returns the exit status: 0 done,
 * 1 failed (reason on stderr), 2 usage.
 */
#ifndef RELAYCFG_CTL_RELAY_H
#define RELAYCFG_CTL_RELAY_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl.h"
#include "relayauth.h"

#define MAX_BODY		(64UL << 20)	/* request body or answer */

struct creds {
	unsigned char	sk[RELAYAUTH_SECRET_KEY_BYTES];
	char		public_key[RELAYAUTH_PUBLIC_KEY_LEN + 1];
	char		relay_id[RELAYAUTH_RELAY_ID_LEN + 1];
};

/* Options every upstream command shares. */
struct netopts {
	const char	*upstream;
	const char	*credentials;
	bool		 status;	/* --status: print it, exit 0 */
	bool		 have_time;	/* --time */
	int64_t		 time;
	const char	**headers;	/* --header, in order (caller frees) */
	size_t		 n_headers;
};

struct response {
	long	 status;
	char	*body;
	size_t	 len;
	bool	 too_big;	/* the answer went past MAX_BODY */
	size_t	 cap;		/* bytes allocated at body (on_data) */
};

/* Long options of struct netopts and of the commands. */
enum {
	OPT_UPSTREAM = 256,
	OPT_CREDENTIALS,
	OPT_STATUS,
	OPT_TIME,
	OPT_HEADER,
	OPT_VERSION,
	OPT_GLOBAL,
	OPT_NO_CACHE,
	OPT_FULL_CONFIG,
	OPT_REVISION,
	OPT_BODY_FILE,
	OPT_OUTPUT,
	OPT_FORCE,
	OPT_PRETTY,
	OPT_COMPACT,
	OPT_SUMMARY
};

#define NET_LONGOPTS \
	{ "upstream",	 required_argument, NULL, OPT_UPSTREAM }, \
	{ "credentials", required_argument, NULL, OPT_CREDENTIALS }, \
	{ "status",	 no_argument,	    NULL, OPT_STATUS }, \
	{ "time",	 required_argument, NULL, OPT_TIME }, \
	{ "header",	 required_argument, NULL, OPT_HEADER }, \
	{ "help",	 no_argument,	    NULL, 'h' }

#define NET_USAGE \
	"  --upstream URL        upstream origin (a trailing '/' is fine)\n" \
	"  --credentials FILE    Relay credentials.json (see keygen)\n" \
	"  --header 'N: V'       send header N (repeatable); replaces the\n" \
	"                        header of that name relaycfgctl would send,\n" \
	"                        'N:' alone sends none\n" \
	"  --time UNIXSECS       sign as of this time (default: now)\n" \
	"  --status              print the HTTP status as the first line and\n" \
	"                        exit 0 whenever an answer arrived\n"

/* --- ctl_relay.c ----------------------------------------------------- */

/* "relaycfgctl: <cmd>: <message>" on stderr. */
void	ctl_warn(const char *cmd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * ctl_push - append s to the array *list of *n strings (grown; the
 * caller frees it).  False after a message on OOM, the list unchanged.
 */
bool	ctl_push(const char *cmd, const char ***list, size_t *n,
	    const char *s);

/*
 * A command's own long option ch: 0 taken, 1 not its own, 2 a usage
 * error (said on stderr).
 */
typedef int ctl_own_opt(void *ctx, const char *cmd, int ch, const char *arg);

/*
 * ctl_getopt - parse argv (argv[0] the command) with longopts: the
 * command's own options through own (may be NULL), the shared ones into
 * no (NULL: none).  --help prints usage on stdout.  Returns -1 when the
 * caller goes on (optind at the first operand), else the exit status:
 * 0 after --help, 2 after a usage error (usage on stderr for an unknown
 * option).
 * no->headers is the caller's to free in every case.
 */
int	ctl_getopt(int argc, char **argv, const struct option *longopts,
	    const char *usage, ctl_own_opt *own, void *ctx,
	    struct netopts *no);

/* --- ctl_creds.c ----------------------------------------------------- */

/* All of path ("-": stdin), at most max bytes, NUL-terminated; 0 or -1
 * (reason on stderr, *buf NULL).  The caller frees *buf. */
int	ctl_read_file(const char *cmd, const char *path, size_t max,
	    char **buf, size_t *len);
/* A Relay credentials.json into c; 0, or -1 (reason on stderr, never the
 * secret) with c untouched.  The caller wipes c. */
int	ctl_creds_load(const char *cmd, const char *path, struct creds *c);
/* A --time value: whole unix seconds; 0 or -1 (reason on stderr). */
int	ctl_parse_time(const char *cmd, const char *s, int64_t *out);
/* The signature header value for body as of when (or now); a new
 * string, or NULL (reason on stderr). */
char	*ctl_sign_body(const char *cmd, const struct creds *c,
	    bool have_time, int64_t when, const char *body, size_t len);

/* --- ctl_upstream.c -------------------------------------------------- */

/* --upstream and --credentials given; else -1 (reason on stderr). */
int	ctl_net_check(const char *cmd, const struct netopts *no);
/* POST body to no->upstream + path as Relay does; 0 with the answer in
 * *r (caller frees r->body), or -1 (reason on stderr). */
int	ctl_http_post(const char *cmd, const struct netopts *no,
	    const struct creds *c, const char *path, const char *body,
	    size_t len, struct response *r);
/* GET url (http, https, file:, file:RELATIVE against the working
 * directory) with the "N: V" lines of headers, no signature; 0 with the
 * answer in *r whatever its status (caller frees r->body; file: has
 * status 0), or -1 (reason on stderr). */
int	ctl_http_get(const char *cmd, const char *url, const char **headers,
	    size_t n_headers, struct response *r);
bool	ctl_is_2xx(const struct response *r);
/* The body on fp, newline-terminated: as it came into a pipe or a file;
 * control characters as \xNN on a terminal, and on stderr (newlines
 * too; at most 4 KiB shown). */
void	ctl_put_body(FILE *fp, const struct response *r);
/* Report an answer; the command's exit status. */
int	ctl_finish(const struct netopts *no, const struct response *r);

/* --- ctl_fetchout.c -------------------------------------------------- */

enum fetch_output {
	FETCH_OUTPUT_AUTO,	/* pretty on a terminal, else compact */
	FETCH_OUTPUT_COMPACT,	/* the bytes as they came */
	FETCH_OUTPUT_PRETTY,	/* indented JSON */
	FETCH_OUTPUT_SUMMARY	/* a line per key: status, project, rev, features */
};

/* What a fetch asked for, for its summary. */
struct fetch_asked {
	char		**keys;		/* the KEY arguments (none: body file) */
	size_t		 n_keys;
	bool		 by_id;		/* --version 1: project ids */
	bool		 global;	/* --global */
	bool		 json;		/* --json: the summary as one object */
};

/*
 * ctl_fetch_print - report a projectconfigs answer in mode, as ctl_finish
 * does (same exit status, --status line, errors on stderr in their usual
 * form); an answer that is not one JSON document is printed as it came.
 * q is what was asked (the summary has a row for each key of it).
 */
int	ctl_fetch_print(const struct netopts *no, const struct response *r,
	    enum fetch_output mode, const struct fetch_asked *q);

/* --- the commands ---------------------------------------------------- */

/* ctl_keys.c */
int	cmd_keygen(int argc, char **argv, const struct ctl_opts *o);
int	cmd_sign(int argc, char **argv, const struct ctl_opts *o);
/* ctl_fetch.c */
int	cmd_register(int argc, char **argv, const struct ctl_opts *o);
int	cmd_fetch(int argc, char **argv, const struct ctl_opts *o);
int	cmd_publickeys(int argc, char **argv, const struct ctl_opts *o);

#endif
