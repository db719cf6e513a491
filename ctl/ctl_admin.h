/*
 * ctl_admin.h - what the admin commands' files share: the command state,
 * the parsed arguments, the output and parsing helpers, the commands.
 *
 * ctl_admin.c dispatches; ctl_args.c parses; ctl_output.c prints; each
 * command lives in ctl_db.c, ctl_objects.c, ctl_options.c or
 * ctl_invalidate.c.  Every command takes argv from its subcommand on,
 * returns the exit status (0 done, 1 failed, 2 usage) and prints its own
 * errors.
 */
#ifndef RELAYCFG_CTL_ADMIN_H
#define RELAYCFG_CTL_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "ctl.h"
#include "store.h"

/* What every command gets. */
struct admin {
	const struct ctl_opts	*o;
	bool			 json;
	bool			 cached;	/* --cached: via memcached */
	const char		*cmd;		/* "org update", for messages */
	struct conf		*conf;
	struct store		*st;
};

/*
 * Options shared by the subcommands.  getopt_long permutes, so options
 * may come before or after the positional arguments.
 */
enum {
	OPT_JSON = 256, OPT_CACHED, OPT_NAME, OPT_SLUG, OPT_STATUS, OPT_ORG,
	OPT_PROJECT, OPT_PLATFORM, OPT_TEMPLATE, OPT_LABEL, OPT_RATE_LIMIT,
	OPT_INTERNAL, OPT_EXTERNAL, OPT_PUBLIC_KEY, OPT_KEY, OPT_RELAY, OPT_ALL,
	OPT_METRIC, OPT_THRESHOLD
};

struct args {
	const char	*name, *slug, *status, *org, *project, *platform;
	const char	*template, *label, *rate_limit, *public_key, *key;
	const char	*relay;
	const char	*metric, *threshold;
	bool		 internal, external, all;
	char		**pos;		/* positional arguments */
	int		 npos;
};

/* --- ctl_output.c ---------------------------------------------------- */

/* "relaycfgctl: <command>: <reason>" on stderr; returns 1. */
int	admin_fail(const struct admin *a, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A usage problem on stderr; returns 2. */
int	admin_usage_error(const struct admin *a, const char *what);
/* A failed store call: its reason, exit status 1. */
int	admin_store_fail(const struct admin *a);
/*
 * admin_write_fail - the exit status of a store write that returned rc:
 * 0 for STORE_OK; a value the store refused (STORE_INVALID: a form, a
 * range, nothing to change) is a usage error, 2; else 1.  After the
 * store's reason on stderr.
 */
int	admin_write_fail(const struct admin *a, int rc);
/* Print a JSON object (NULL: {}) on one line, then drop it. */
void	admin_print_json(json_object *o);
/* json-c shorthands: add v (may be NULL) to o; a string or NULL. */
void	admin_jadd(json_object *o, const char *k, json_object *v);
json_object *admin_jstr(const char *s);
/* After a write: false (and a warning) when memcached kept old entries. */
bool	admin_cache_note(const struct admin *a);
/* The answer of update/delete/enable/disable/set: "<what> <id> <verb>". */
int	admin_done(const struct admin *a, const char *what,
	    const char *id_text, const char *verb);
/* Print one row (takes o; NULL: out of memory, 1). */
int	admin_show(const struct admin *a, json_object *o);
/* Print rows, the listed fields tab-separated or {"<name>": [...]}. */
int	admin_show_list(const struct admin *a, const char *name,
	    json_object *arr, const char *const *fields);

/* --- ctl_args.c ------------------------------------------------------ */

/*
 * admin_parse_args - parse argv (argv[0] the subcommand) accepting only
 * the options in allowed (OPT_* ending in 0; --json always).  Returns 0,
 * or 2 after a usage message.
 */
int	admin_parse_args(struct admin *a, int argc, char **argv,
	    const int *allowed, struct args *out);
/*
 * admin_wants_help - does argv (argv[0] the command) ask for --help?
 * Read as admin_parse_args reads it: not after "--", nor as the value of
 * an option that takes one.
 */
bool	admin_wants_help(int argc, char **argv);
/* Between n and max positional arguments; else 2 after a message. */
int	admin_want_pos(const struct admin *a, const struct args *ar, int n,
	    int max);
/* A positive id argument; else 2 after a message. */
int	admin_want_id(const struct admin *a, const char *s, int64_t *id);
/* A public key argument: only ever 32 lowercase hex; else 2. */
int	admin_want_public_key(const struct admin *a, const char *s);
/* A relay id argument: a canonical lowercase UUID; else 2. */
int	admin_want_relay_id(const struct admin *a, const char *s);
/* A relay's public key as Relay reads one (an Ed25519 point); else 2. */
int	admin_want_relay_key(const struct admin *a, const char *s);
/* A positive decimal id; "ID" or "none" (0). */
bool	admin_parse_id(const char *s, int64_t *out);
bool	admin_parse_id_or_none(const char *s, int64_t *out);
/* A status by name or number (its index in names). */
bool	admin_parse_status(const char *const *names, const char *s,
	    int *out);
/*
 * admin_want_rate_limit - "COUNT/SECONDS" (each at most INT32_MAX, as
 * Sentry's columns) or "none" into p; else 2 after a message.
 */
int	admin_want_rate_limit(const struct admin *a, const char *s,
	    struct store_key_patch *p);

/* --- the commands ---------------------------------------------------- */

/* ctl_db.c */
int	cmd_db(struct admin *a, int argc, char **argv);
/* ctl_objects.c */
int	cmd_org(struct admin *a, int argc, char **argv);
int	cmd_project(struct admin *a, int argc, char **argv);
int	cmd_key(struct admin *a, int argc, char **argv);
int	cmd_relay(struct admin *a, int argc, char **argv);
/* ctl_options.c */
int	cmd_option(struct admin *a, int argc, char **argv);
/* ctl_thresholds.c */
int	cmd_threshold(struct admin *a, int argc, char **argv);
/* ctl_invalidate.c */
int	cmd_invalidate(struct admin *a, int argc, char **argv);
/* ctl_settings.c */
int	cmd_settings(struct admin *a, int argc, char **argv);

#endif
