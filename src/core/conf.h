/*
 * conf.h - the relaycfg configuration file.
 *
 * Format: one "key = value" per line; '#' starts a comment line; blank lines
 * are ignored; keys marked (list) may repeat and accumulate.  Values run to
 * the end of the line with surrounding blanks trimmed.  See relaycfg.conf(5).
 */
#ifndef RELAYCFG_CONF_H
#define RELAYCFG_CONF_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sentryopts.h"

#define CONF_RELAY_ID_LEN   36	/* canonical lowercase hyphenated UUID */
#define CONF_PUBKEY_LEN     43	/* base64url, no padding, of 32 bytes */

struct conf_static_relay {
	char	relay_id[CONF_RELAY_ID_LEN + 1];
	char	public_key[CONF_PUBKEY_LEN + 1];
	bool	internal;
};

/* An IPv4 or IPv6 network; IPv4 is stored as an IPv4-mapped IPv6 address. */
struct conf_cidr {
	uint8_t	addr[16];
	int	prefix;		/* 0..128, counted on the 16-byte form */
};

/*
 * One memcached_server entry: a host (name, IPv4, or IPv6 given in
 * brackets) with a port and a ketama weight, or a unix socket path.
 */
struct conf_mc_server {
	char		host[256];	/* or the socket's path */
	unsigned	port;		/* 0: a unix socket */
	unsigned	weight;		/* 1.. CONF_MC_WEIGHT_MAX; 1 by default */
};
#define CONF_MC_WEIGHT_MAX	1000

struct conf_global_option {
	char	*key;
	char	*json;		/* validated JSON text */
};

struct conf_db {
	char		*host;		/* NULL: use socket */
	unsigned	 port;
	char		*socket;
	char		*user;
	char		*password;
	char		*database;
};

/* Read replicas at most: db_replica_host/socket and db_replica entries. */
#define CONF_DB_REPLICAS_MAX	4

/*
 * The settings whose errors are found after parsing (a user name, the
 * socket, a value checked against another's): see conf_origin.
 */
enum conf_setting {
	CONF_LISTEN,
	CONF_SOCKET_MODE,
	CONF_SOCKET_OWNER,
	CONF_USER,
	CONF_IO_TIMEOUT,
	CONF_REQUEST_TIMEOUT,
	CONF_MAX_BODY_SIZE,
	CONF_DB_REPLICA_HOST,
	CONF_DB_REPLICA_SOCKET,
	CONF_DB_REPLICA,
	CONF_DB_REPLICA_WAIT_MS,
	CONF_DB_CONNECT_TIMEOUT,
	CONF_DB_READ_TIMEOUT,
	CONF_DB_WRITE_TIMEOUT,
	CONF_SIGNATURE_MAX_AGE,
	CONF_REGISTER_MAX_AGE,
	CONF_MEMCACHED_CONNECT_TIMEOUT_MS,
	CONF_MEMCACHED_POLL_TIMEOUT_MS,
	CONF_CACHE_NAMESPACE,
	CONF_STATSD_SERVER,
	CONF_STATSD_PREFIX,
	CONF_STATSD_TAGS,
	CONF_SENTRY_PG,		/* checked by relaycfgctl sentry-sync (libpq) */
	CONF_SENTRY_PG_TIMEOUT,
	CONF_REGISTRATION_SECRET,	/* a short one is warned of */
	CONF_N_SETTINGS
};

struct conf {
	char		*path;			/* file this was read from */
	unsigned	 path_mode;		/* its permission bits then */
	/* the line of path that set each conf_setting; 0: not the file */
	unsigned	 setting_line[CONF_N_SETTINGS];
	/*
	 * Distinct for every conf this process made (conf_defaults): what
	 * is derived from a conf and kept across requests is keyed by it,
	 * never by the conf's address, which a reload may hand to the next.
	 */
	unsigned long	 generation;

	/* server */
	char		*listen;		/* NULL: inherited fd 0 / LISTEN_FDS */
	unsigned	 socket_mode;		/* for unix: sockets, e.g. 0660 */
	char		*socket_owner;		/* "user[:group]" or NULL */
	char		*user;			/* workers run as "name[:group]" */
	/* Not parsed: filled in from user by priv_prepare (server/priv.c). */
	bool		 user_drop;		/* root: workers become user_uid */
	uid_t		 user_uid;
	gid_t		 user_gid;
	int		 workers;		/* -1: auto, two per CPU; 0: single process */
	unsigned long	 max_requests;		/* 0: unlimited */
	unsigned	 shutdown_timeout;	/* s before stragglers are killed */
	unsigned	 io_timeout;		/* s a worker waits on its peer */
	unsigned	 request_timeout;	/* s: watchdog, the worker exits */
	size_t		 max_body_size;		/* bytes; larger gets 413 */

	/* logging */
	int		 log_level;		/* LOG_LEVEL_* from log.h */
	bool		 access_log;
	bool		 log_json;

	/* MariaDB */
	struct conf_db	 db;
	struct conf_db	 db_replica;		/* host/socket NULL: none */
	/* db_replica entries, after db_replica_host/socket's: only host,
	 * port and socket are set (credentials are db_replica_*'s, then
	 * db_*'s) */
	struct conf_db	 db_replicas[CONF_DB_REPLICAS_MAX];
	size_t		 n_db_replicas;
	unsigned	 db_replica_wait_ms;	/* MASTER_GTID_WAIT's timeout */
	unsigned	 db_replica_rest_ms;	/* a lagging replica is left alone */
	unsigned	 db_connect_timeout;	/* s */
	unsigned	 db_read_timeout;	/* s */
	unsigned	 db_write_timeout;	/* s */

	/* memcached */
	char		**memcached_servers;	/* (list) conf_parse_mc_server;
						   none: no cache, 0 entries */
	size_t		 n_memcached_servers;
	unsigned	 memcached_connect_timeout_ms;
	unsigned	 memcached_poll_timeout_ms;
	unsigned	 memcached_retry_timeout;	/* s */
	char		*cache_namespace;	/* prefix of every key */
	unsigned	 ttl_project;
	unsigned	 ttl_organization;
	unsigned	 ttl_projectkey;
	unsigned	 ttl_options;
	unsigned	 ttl_relay;
	unsigned	 ttl_negative;		/* absent rows; 0 disables */
	unsigned	 ttl_config;		/* computed config freshness */
	unsigned	 ttl_config_stale;	/* extra life as a stale copy */

	/* relay authentication and registration */
	unsigned	 signature_max_age;	/* s, default 300 */
	unsigned	 register_max_age;	/* s, default 60 */
	char		*registration_secret;
	bool		 open_registration;
	struct conf_static_relay *static_relays;	/* (list) */
	size_t		 n_static_relays;
	char		**internal_public_keys;	/* (list) */
	size_t		 n_internal_public_keys;
	struct conf_cidr *internal_networks;	/* (list) */
	size_t		 n_internal_networks;
	bool		 internal_networks_set;	/* false: Sentry's defaults */
	struct conf_cidr *trusted_proxies;	/* (list) */
	size_t		 n_trusted_proxies;

	/* project configs */
	bool		 answer_gzip;	/* gzip v2/v3 answers ourselves */
	struct conf_global_option *global_options;	/* (list) keys relaycfg
							   has no row for */
	size_t		 n_global_options;

	/* StatsD / DogStatsD push of Sentry's metric names (statsd.h) */
	char		*statsd_server;		/* host[:port]; NULL: off */
	char		*statsd_prefix;		/* NULL: "sentry."; "none": no prefix */
	char		*statsd_tags;		/* "k:v,k2:v2" (DogStatsD only) */
	bool		 statsd_dogstatsd;	/* DogStatsD lines, with tags */

	/* Sentry's switchboards: feature and sentry_option lines */
	struct sentry_settings sentry;
	/* relaycfgctl sentry-sync: Sentry's PostgreSQL, read only */
	char		*sentry_pg;		/* libpq connection string */
	char		*sentry_pg_password;	/* kept out of the string */
	unsigned	 sentry_pg_timeout;	/* s per statement; default 300 */
	unsigned	 sentry_sync_max_delete;	/* percent; default 50 */
	bool		 sentry_sync_delete_relays;	/* default off */
};

/*
 * conf_load - read and validate the file at path into a new conf.
 *
 * Returns the conf, or NULL with a "file:line: reason" message (at most
 * errlen bytes, NUL-terminated) in err.  Nothing is allocated on failure.
 */
struct conf	*conf_load(const char *path, char *err, size_t errlen);

/*
 * conf_defaults - a conf with every default and no file.  NULL on OOM.
 */
struct conf	*conf_defaults(void);

/*
 * conf_sentry_option - the value of Sentry option name (a sentry_option
 * line, else the self-hosted default), borrowed from c; NULL when None.
 */
json_object	*conf_sentry_option(const struct conf *c, const char *name);

/* conf_free - release a conf and everything it owns; NULL is fine. */
void		 conf_free(struct conf *c);

/*
 * conf_parse_cidr - parse "a.b.c.d/n", "x::y/n" or a bare address into out.
 * Returns 0, or -1 when the text is not a valid network.
 */
int		 conf_parse_cidr(const char *text, struct conf_cidr *out);

/*
 * conf_parse_mc_server - parse a memcached_server entry: "host",
 * "host:port", "host:port:weight", "[v6]", "[v6]:port",
 * "[v6]:port:weight" or "/path" (port 11211 and weight 1 when left
 * out; a socket takes no weight).  Returns 0, or -1 when text is none of
 * these (out is then undefined).
 */
int		 conf_parse_mc_server(const char *text,
		    struct conf_mc_server *out);

/*
 * conf_parse_db_server - parse a db_replica entry: "host", "host:port",
 * "[v6]", "[v6]:port" (port 3306 when left out) or "unix:/path" into
 * out's host, port and socket (new strings; other fields untouched).
 * Returns 0, or -1 when text is none of these or on OOM (out is then
 * unchanged).
 */
int		 conf_parse_db_server(const char *text, struct conf_db *out);

/*
 * conf_cidr_contains - does the textual address addr (IPv4, IPv6 or
 * IPv4-mapped IPv6) fall inside any of the n networks?  An unparsable
 * address is in none.
 */
bool		 conf_cidr_contains(const struct conf_cidr *nets, size_t n,
		    const char *addr);

/*
 * Command-line settings win over the file, and keep winning after a reload.
 * Unset fields: NULL pointers and negative numbers.
 */
struct conf_overrides {
	const char	*listen;
	const char	*socket_owner;
	const char	*user;
	long		 socket_mode;
	long		 workers;
	long		 max_requests;
};

/* conf_set_overrides - remember o (copied) for every later conf. */
void		 conf_set_overrides(const struct conf_overrides *o);

/* conf_apply_overrides - apply the remembered overrides; -1 on OOM. */
int		 conf_apply_overrides(struct conf *c);

/*
 * conf_note_line - remember that line of c's file set key, when key is
 * one of the conf_settings (conf_load calls it for every key).
 */
void		 conf_note_line(struct conf *c, const char *key, unsigned line);

/*
 * conf_setting_line - the line of c's file that last set s; 0 when the
 * file did not (the default, or the command line's).
 */
unsigned	 conf_setting_line(const struct conf *c, enum conf_setting s);

/*
 * conf_origin - where setting s of c came from, for a message that blames
 * it: the option ("--user") when the command line gave it, else the file's
 * line and the key ("FILE:LINE: user"), else the key alone ("user").
 * Returns whether it was given at all (false: the default).
 */
bool		 conf_origin(const struct conf *c, enum conf_setting s,
		    char *buf, size_t len);

/* conf_default_internal_networks - Sentry's INTERNAL_SYSTEM_IPS, parsed. */
const struct conf_cidr *conf_default_internal_networks(size_t *n);

/* --- conf_advice.c --- */

/*
 * conf_cidr_overlap - do networks a and b share an address (one holds the
 * other)?  An IPv4 network and an IPv6 one overlap only when the IPv6
 * one holds IPv4-mapped addresses (::/0, ::ffff:0:0/96).
 */
bool		 conf_cidr_overlap(const struct conf_cidr *a,
		    const struct conf_cidr *b);

/* One warning, a sentence without a trailing period. */
typedef void	 conf_advice_fn(const char *msg, void *arg);

/*
 * conf_advise - call say(msg, arg) for each setting of c that is valid but
 * dangerous in a common topology (registration behind a proxy, TCP
 * without FCGI_WEB_SERVER_ADDRS), weak (a registration_secret under 16
 * characters; a file holding a password or the registration secret that
 * every user may read) or has no effect (socket_mode or
 * socket_owner given for a TCP or inherited socket).  Returns how many; c
 * is not changed.
 */
size_t		 conf_advise(const struct conf *c, conf_advice_fn *say,
		    void *arg);
/*
 * conf_advise_log - conf_advise with each warning logged (log_warn): at
 * start and after every reload, so a reload that makes a setting
 * dangerous says so as a start would.
 */
size_t		 conf_advise_log(const struct conf *c);

#endif
