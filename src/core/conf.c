/*
 * conf.c - parse and validate relaycfg.conf.
 *
 * The parser is table driven: each key names its type and where its value
 * lands in struct conf.  Errors carry file:line so an operator can fix the
 * file without reading code.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "conf.h"
#include "jsonstrict.h"
#include "log.h"
#include "relayauth.h"
#include "statsd.h"
#include "valid.h"

enum conf_type {
	CT_STRING,
	CT_UINT,
	CT_INT,
	CT_SIZE,
	CT_BOOL,
	CT_OCTAL,
	CT_LOGLEVEL,
	CT_LOGFORMAT,
	CT_WORKERS,
	CT_STRLIST,		/* space-separated, repeatable */
	CT_CIDRLIST,		/* space-separated, repeatable */
	CT_STATIC_RELAY,	/* "uuid public_key internal|external" */
	CT_GLOBAL_OPTION,	/* "key json" */
	CT_SENTRY_OPTION,	/* "name json": struct sentry_settings */
	CT_FEATURE,		/* "flag on|off": struct sentry_settings */
	CT_RETENTION,		/* days: system.event-retention-days */
	CT_DB_SERVER		/* repeatable: conf_parse_db_server */
};

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	size_t		 offset;
	unsigned long	 max;		/* for numbers; 0 = ULONG_MAX */
};

#define OFF(field) offsetof(struct conf, field)

static const struct conf_key conf_keys[] = {
	{ "listen",			CT_STRING,	OFF(listen), 0 },
	{ "socket_mode",		CT_OCTAL,	OFF(socket_mode), 0777 },
	{ "socket_owner",		CT_STRING,	OFF(socket_owner), 0 },
	{ "user",			CT_STRING,	OFF(user), 0 },
	{ "workers",			CT_WORKERS,	OFF(workers), 1024 },
	{ "max_requests",		CT_UINT,	OFF(max_requests), 0 },
	{ "shutdown_timeout",		CT_UINT,	OFF(shutdown_timeout), 3600 },
	{ "io_timeout",			CT_UINT,	OFF(io_timeout), 3600 },
	{ "request_timeout",		CT_UINT,	OFF(request_timeout), 86400 },
	{ "max_body_size",		CT_SIZE,	OFF(max_body_size), 64UL << 20 },
	{ "log_level",			CT_LOGLEVEL,	OFF(log_level), 0 },
	{ "log_format",			CT_LOGFORMAT,	OFF(log_json), 0 },
	{ "access_log",			CT_BOOL,	OFF(access_log), 0 },

	{ "db_host",			CT_STRING,	OFF(db.host), 0 },
	{ "db_port",			CT_UINT,	OFF(db.port), 65535 },
	{ "db_socket",			CT_STRING,	OFF(db.socket), 0 },
	{ "db_user",			CT_STRING,	OFF(db.user), 0 },
	{ "db_password",		CT_STRING,	OFF(db.password), 0 },
	{ "db_name",			CT_STRING,	OFF(db.database), 0 },
	{ "db_replica_host",		CT_STRING,	OFF(db_replica.host), 0 },
	{ "db_replica_port",		CT_UINT,	OFF(db_replica.port), 65535 },
	{ "db_replica_socket",		CT_STRING,	OFF(db_replica.socket), 0 },
	{ "db_replica_user",		CT_STRING,	OFF(db_replica.user), 0 },
	{ "db_replica_password",	CT_STRING,	OFF(db_replica.password), 0 },
	{ "db_replica_name",		CT_STRING,	OFF(db_replica.database), 0 },
	{ "db_replica",			CT_DB_SERVER,	OFF(db_replicas), 0 },
	{ "db_replica_wait_ms",		CT_UINT,	OFF(db_replica_wait_ms), 5000 },
	{ "db_replica_rest_ms",		CT_UINT,	OFF(db_replica_rest_ms), 600000 },
	{ "db_connect_timeout",		CT_UINT,	OFF(db_connect_timeout), 3600 },
	{ "db_read_timeout",		CT_UINT,	OFF(db_read_timeout), 3600 },
	{ "db_write_timeout",		CT_UINT,	OFF(db_write_timeout), 3600 },

	{ "memcached_server",		CT_STRLIST,	OFF(memcached_servers), 0 },
	{ "memcached_connect_timeout_ms", CT_UINT,	OFF(memcached_connect_timeout_ms), 60000 },
	{ "memcached_poll_timeout_ms",	CT_UINT,	OFF(memcached_poll_timeout_ms), 60000 },
	{ "memcached_retry_timeout",	CT_UINT,	OFF(memcached_retry_timeout), 3600 },
	{ "cache_namespace",		CT_STRING,	OFF(cache_namespace), 0 },
	{ "ttl_project",		CT_UINT,	OFF(ttl_project), 30 * 86400 },
	{ "ttl_organization",		CT_UINT,	OFF(ttl_organization), 30 * 86400 },
	{ "ttl_projectkey",		CT_UINT,	OFF(ttl_projectkey), 30 * 86400 },
	{ "ttl_options",		CT_UINT,	OFF(ttl_options), 30 * 86400 },
	{ "ttl_relay",			CT_UINT,	OFF(ttl_relay), 30 * 86400 },
	{ "ttl_negative",		CT_UINT,	OFF(ttl_negative), 3600 },
	{ "ttl_config",			CT_UINT,	OFF(ttl_config), 30 * 86400 },
	{ "ttl_config_stale",		CT_UINT,	OFF(ttl_config_stale), 30 * 86400 },

	{ "signature_max_age",		CT_UINT,	OFF(signature_max_age), 86400 },
	{ "register_max_age",		CT_UINT,	OFF(register_max_age), 86400 },
	{ "registration_secret",	CT_STRING,	OFF(registration_secret), 0 },
	{ "open_registration",		CT_BOOL,	OFF(open_registration), 0 },
	{ "static_relay",		CT_STATIC_RELAY, OFF(static_relays), 0 },
	{ "internal_public_key",	CT_STRLIST,	OFF(internal_public_keys), 0 },
	{ "internal_networks",		CT_CIDRLIST,	OFF(internal_networks), 0 },
	{ "trusted_proxies",		CT_CIDRLIST,	OFF(trusted_proxies), 0 },

	{ "event_retention",		CT_RETENTION,	OFF(sentry), 100000 },
	{ "answer_gzip",		CT_BOOL,	OFF(answer_gzip), 0 },
	{ "statsd_server",		CT_STRING,	OFF(statsd_server), 0 },
	{ "statsd_prefix",		CT_STRING,	OFF(statsd_prefix), 0 },
	{ "statsd_tags",		CT_STRING,	OFF(statsd_tags), 0 },
	{ "statsd_dogstatsd",		CT_BOOL,	OFF(statsd_dogstatsd), 0 },
	{ "global_option",		CT_GLOBAL_OPTION, OFF(global_options), 0 },
	{ "sentry_option",		CT_SENTRY_OPTION, OFF(sentry), 0 },
	{ "feature",			CT_FEATURE,	OFF(sentry), 0 },
	{ "sentry_pg",			CT_STRING,	OFF(sentry_pg), 0 },
	{ "sentry_pg_password",		CT_STRING,	OFF(sentry_pg_password), 0 },
	{ "sentry_pg_timeout",		CT_UINT,	OFF(sentry_pg_timeout), 86400 },
	{ "sentry_sync_max_delete",	CT_UINT,	OFF(sentry_sync_max_delete), 100 },
	{ "sentry_sync_delete_relays",	CT_BOOL,	OFF(sentry_sync_delete_relays), 0 },
};

struct conf *
conf_defaults(void)
{
	static unsigned long generations;
	struct conf *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->generation = ++generations;
	c->socket_mode = 0660;
	c->workers = -1;
	c->shutdown_timeout = 30;
	c->io_timeout = 30;
	c->request_timeout = 120;
	c->max_body_size = 1 << 20;
	c->log_level = LOG_LEVEL_INFO;
	c->access_log = true;
	c->db_connect_timeout = 2;
	c->db_read_timeout = 5;
	c->db_write_timeout = 5;
	c->db_replica_rest_ms = 1000;
	c->memcached_connect_timeout_ms = 100;
	c->memcached_poll_timeout_ms = 200;
	c->memcached_retry_timeout = 2;
	c->ttl_project = 300;
	c->ttl_organization = 300;
	c->ttl_projectkey = 1800;
	c->ttl_options = 300;
	c->ttl_relay = 300;
	c->ttl_negative = 30;
	c->ttl_config = 3600;
	c->ttl_config_stale = 86400;
	c->signature_max_age = 300;
	c->register_max_age = 60;
	c->open_registration = true;
	c->answer_gzip = true;
	c->sentry_sync_max_delete = 50;
	c->sentry_pg_timeout = 300;
	if (sentry_settings_init(&c->sentry) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

static void
strlist_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
db_free(struct conf_db *d)
{
	free(d->host);
	free(d->socket);
	free(d->user);
	if (d->password != NULL)
		explicit_bzero(d->password, strlen(d->password));
	free(d->password);
	free(d->database);
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->listen);
	free(c->socket_owner);
	free(c->user);
	db_free(&c->db);
	db_free(&c->db_replica);
	for (size_t i = 0; i < c->n_db_replicas; i++)
		db_free(&c->db_replicas[i]);
	strlist_free(c->memcached_servers, c->n_memcached_servers);
	free(c->cache_namespace);
	if (c->registration_secret != NULL)
		explicit_bzero(c->registration_secret,
		    strlen(c->registration_secret));
	free(c->registration_secret);
	free(c->static_relays);
	strlist_free(c->internal_public_keys, c->n_internal_public_keys);
	free(c->internal_networks);
	free(c->trusted_proxies);
	for (size_t i = 0; i < c->n_global_options; i++) {
		free(c->global_options[i].key);
		free(c->global_options[i].json);
	}
	free(c->global_options);
	sentry_settings_free(&c->sentry);
	free(c->statsd_server);
	free(c->statsd_prefix);
	free(c->statsd_tags);
	free(c->sentry_pg);
	if (c->sentry_pg_password != NULL)
		explicit_bzero(c->sentry_pg_password,
		    strlen(c->sentry_pg_password));
	free(c->sentry_pg_password);
	free(c);
}

/* ---- parsing ----------------------------------------------------------- */

struct parse_ctx {
	const char	*path;
	unsigned	 line;
	char		*err;
	size_t		 errlen;
	bool		 mc_none;	/* memcached_server = none seen */
};

static int
perr(struct parse_ctx *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
perr(struct parse_ctx *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		snprintf(p->err, p->errlen, "%s:%u: %s", p->path, p->line, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->path, msg);
	return -1;
}

static int
parse_ulong(const char *v, int base, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long x;

	if (*v == '\0' || *v == '-' || *v == '+' || isspace((unsigned char)*v))
		return -1;
	errno = 0;
	x = strtoul(v, &end, base);
	if (errno != 0 || *end != '\0' || (max != 0 && x > max))
		return -1;
	*out = x;
	return 0;
}

/* "port" or "port:weight" (after host's ':') into out. */
static int
mc_port_weight(const char *rest, struct conf_mc_server *out)
{
	char num[8];
	const char *colon = strchr(rest, ':');
	size_t len = colon != NULL ? (size_t)(colon - rest) : strlen(rest);
	unsigned long x;

	if (len >= sizeof(num))
		return -1;
	memcpy(num, rest, len);
	num[len] = '\0';
	if (parse_ulong(num, 10, 65535, &x) != 0 || x == 0)
		return -1;
	out->port = (unsigned)x;
	if (colon == NULL)
		return 0;
	if (parse_ulong(colon + 1, 10, CONF_MC_WEIGHT_MAX, &x) != 0 || x == 0)
		return -1;
	out->weight = (unsigned)x;
	return 0;
}

/*
 * host_split - the host of "host[:...]" or "[v6][:...]": where it starts
 * and its length (1 to max - 1) in *host and *len, and what follows it
 * ("" or ":...") in *rest.  Returns 0, or -1 when there is no such host.
 */
static int
host_split(const char *text, size_t max, const char **host, size_t *len,
    const char **rest)
{
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		*host = text + 1;
		*len = (size_t)(close - text - 1);
		*rest = close + 1;
	} else {
		*host = text;
		*len = strcspn(text, ":");
		*rest = text + *len;
	}
	return *len == 0 || *len >= max ? -1 : 0;
}

int
conf_parse_mc_server(const char *text, struct conf_mc_server *out)
{
	const char *host, *rest;
	size_t hlen;

	out->port = 0;
	out->weight = 1;
	if (text[0] == '/') {
		if (strlen(text) >= sizeof(out->host))
			return -1;
		strcpy(out->host, text);
		return 0;
	}
	if (host_split(text, sizeof(out->host), &host, &hlen, &rest) != 0)
		return -1;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = 11211;
	return *rest == '\0' ? 0 : mc_port_weight(rest + 1, out);
}

int
conf_parse_db_server(const char *text, struct conf_db *out)
{
	char *host = NULL, *sock = NULL;
	const char *h, *rest;
	unsigned long port = 3306;
	size_t hlen;

	if (strncmp(text, "unix:", 5) == 0) {
		if (text[5] != '/' || (sock = strdup(text + 5)) == NULL)
			return -1;
		port = 0;
		goto done;
	}
	if (host_split(text, 256, &h, &hlen, &rest) != 0 || (*rest == ':' &&
	    (parse_ulong(rest + 1, 10, 65535, &port) != 0 || port == 0)))
		return -1;
	if ((host = strndup(h, hlen)) == NULL)
		return -1;
done:
	free(out->host);
	free(out->socket);
	out->host = host;
	out->socket = sock;
	out->port = (unsigned)port;
	return 0;
}

/* Is ms's server (whatever its weight) in c's memcached_server list? */
static bool
mc_server_listed(const struct conf *c, const struct conf_mc_server *ms)
{
	struct conf_mc_server o;

	for (size_t i = 0; i < c->n_memcached_servers; i++)
		if (conf_parse_mc_server(c->memcached_servers[i], &o) == 0 &&
		    o.port == ms->port && strcmp(o.host, ms->host) == 0)
			return true;
	return false;
}

/* Is r (just parsed, not yet counted) among c's db_replica servers? */
static bool
db_replica_listed(const struct conf *c, const struct conf_db *r)
{
	for (size_t i = 0; i < c->n_db_replicas; i++) {
		const struct conf_db *o = &c->db_replicas[i];

		if (r->socket != NULL ? o->socket != NULL &&
		    strcmp(o->socket, r->socket) == 0 :
		    o->host != NULL && r->host != NULL &&
		    strcmp(o->host, r->host) == 0 && o->port == r->port)
			return true;
	}
	return false;
}

/* Grow a list stored at base (element size sz) by one; returns the slot. */
static void *
list_push(void **base, size_t *n, size_t sz)
{
	char *p;

	if ((p = realloc(*base, (*n + 1) * sz)) == NULL)
		return NULL;
	*base = p;
	memset(p + *n * sz, 0, sz);
	return p + (*n)++ * sz;
}


static int
apply_value(struct parse_ctx *p, struct conf *c, const struct conf_key *k,
    char *v)
{
	char *field = (char *)c + k->offset;
	unsigned long x;

	switch (k->type) {
	case CT_STRING: {
		char **dst = (char **)(void *)field, *dup;
		if ((dup = strdup(v)) == NULL)
			return perr(p, "out of memory");
		free(*dst);
		*dst = dup;
		return 0;
	}
	case CT_UINT:
	case CT_SIZE:
	case CT_OCTAL:
		if (parse_ulong(v, k->type == CT_OCTAL ? 8 : 10,
		    k->max, &x) != 0)
			return perr(p, "%s: expected a%s number%s, got \"%s\"",
			    k->name, k->type == CT_OCTAL ? "n octal" : "",
			    k->max ? " in range" : "", v);
		if (k->type == CT_SIZE)
			*(size_t *)(void *)field = x;
		else if (k->offset == OFF(max_requests))
			*(unsigned long *)(void *)field = x;
		else
			*(unsigned *)(void *)field = (unsigned)x;
		return 0;
	case CT_INT:
	case CT_WORKERS:
		if (k->type == CT_WORKERS && strcasecmp(v, "auto") == 0) {
			*(int *)(void *)field = -1;
			return 0;
		}
		if (parse_ulong(v, 10, k->max, &x) != 0)
			return perr(p, "%s: expected a number from 0 to %lu "
			    "or \"auto\", got \"%s\"", k->name, k->max, v);
		*(int *)(void *)field = (int)x;
		return 0;
	case CT_BOOL: {
		bool *dst = (bool *)(void *)field;
		if (!strcasecmp(v, "yes") || !strcasecmp(v, "on") ||
		    !strcasecmp(v, "true") || !strcmp(v, "1"))
			*dst = true;
		else if (!strcasecmp(v, "no") || !strcasecmp(v, "off") ||
		    !strcasecmp(v, "false") || !strcmp(v, "0"))
			*dst = false;
		else
			return perr(p, "%s: expected yes or no, got \"%s\"",
			    k->name, v);
		return 0;
	}
	case CT_LOGLEVEL: {
		int lvl = log_level_parse(v);
		if (lvl < 0)
			return perr(p, "log_level: expected error, warn, info "
			    "or debug, got \"%s\"", v);
		c->log_level = lvl;
		return 0;
	}
	case CT_LOGFORMAT:
		if (strcmp(v, "text") == 0)
			c->log_json = false;
		else if (strcmp(v, "json") == 0)
			c->log_json = true;
		else
			return perr(p, "log_format: expected text or json, "
			    "got \"%s\"", v);
		return 0;
	case CT_STRLIST:
	case CT_CIDRLIST: {
		char *save = NULL, *tok;
		for (tok = strtok_r(v, " \t,", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t,", &save)) {
			if (k->type == CT_CIDRLIST) {
				struct conf_cidr net, **list;
				size_t *n;
				if (conf_parse_cidr(tok, &net) != 0)
					return perr(p, "%s: \"%s\" is not an "
					    "IPv4 or IPv6 network", k->name,
					    tok);
				if (k->offset == OFF(internal_networks)) {
					list = &c->internal_networks;
					n = &c->n_internal_networks;
					c->internal_networks_set = true;
				} else {
					list = &c->trusted_proxies;
					n = &c->n_trusted_proxies;
				}
				struct conf_cidr *slot = list_push(
				    (void **)list, n, sizeof(net));
				if (slot == NULL)
					return perr(p, "out of memory");
				*slot = net;
			} else {
				char ***list;
				size_t *n;
				struct conf_mc_server ms;
				if (k->offset == OFF(memcached_servers)) {
					bool none = strcmp(tok, "none") == 0;

					/* no cache, as without the key */
					p->mc_none |= none;
					if (p->mc_none && (!none ||
					    c->n_memcached_servers > 0))
						return perr(p, "%s: \"none\" "
						    "(no cache) may not be "
						    "listed with servers",
						    k->name);
					if (none)
						continue;
					if (conf_parse_mc_server(tok, &ms) != 0)
						return perr(p, "%s: cannot parse "
						    "\"%s\" (host:port[:weight], "
						    "[v6]:port[:weight] or /path)",
						    k->name, tok);
					if (mc_server_listed(c, &ms))
						return perr(p, "%s: \"%s\" is "
						    "listed already", k->name,
						    tok);
					list = &c->memcached_servers;
					n = &c->n_memcached_servers;
				} else {
					if (!relayauth_public_key_valid(tok))
						return perr(p, "%s: \"%s\" is "
						    "not a relay public key",
						    k->name, tok);
					list = &c->internal_public_keys;
					n = &c->n_internal_public_keys;
				}
				char **slot = list_push((void **)list, n,
				    sizeof(char *));
				if (slot == NULL || (*slot = strdup(tok)) == NULL)
					return perr(p, "out of memory");
			}
		}
		return 0;
	}
	case CT_STATIC_RELAY: {
		char *save = NULL, *id, *pk, *flag, *extra;
		struct conf_static_relay *r;
		bool internal;

		id = strtok_r(v, " \t", &save);
		pk = strtok_r(NULL, " \t", &save);
		flag = strtok_r(NULL, " \t", &save);
		extra = strtok_r(NULL, " \t", &save);
		if (id == NULL || pk == NULL || extra != NULL)
			return perr(p, "static_relay: expected \"RELAY_ID "
			    "PUBLIC_KEY [internal|external]\"");
		for (char *q = id; *q != '\0'; q++)
			*q = (char)tolower((unsigned char)*q);
		if (!valid_uuid(id))
			return perr(p, "static_relay: \"%s\" is not a "
			    "hyphenated UUID", id);
		if (!relayauth_public_key_valid(pk))
			return perr(p, "static_relay: \"%s\" is not a relay "
			    "public key (43 base64url characters of an "
			    "Ed25519 point)", pk);
		if (flag == NULL || strcmp(flag, "external") == 0)
			internal = false;
		else if (strcmp(flag, "internal") == 0)
			internal = true;
		else
			return perr(p, "static_relay: expected internal or "
			    "external, got \"%s\"", flag);
		for (size_t i = 0; i < c->n_static_relays; i++)
			if (strcmp(c->static_relays[i].relay_id, id) == 0)
				return perr(p, "static_relay: %s is listed "
				    "twice", id);
		r = list_push((void **)&c->static_relays, &c->n_static_relays,
		    sizeof(*r));
		if (r == NULL)
			return perr(p, "out of memory");
		memcpy(r->relay_id, id, CONF_RELAY_ID_LEN + 1);
		memcpy(r->public_key, pk, CONF_PUBKEY_LEN + 1);
		r->internal = internal;
		return 0;
	}
	case CT_DB_SERVER: {
		char *save = NULL, *tok;

		for (tok = strtok_r(v, " \t,", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t,", &save)) {
			if (c->n_db_replicas == CONF_DB_REPLICAS_MAX)
				return perr(p, "%s: at most %d replicas",
				    k->name, CONF_DB_REPLICAS_MAX);
			struct conf_db *r = &c->db_replicas[c->n_db_replicas];

			if (conf_parse_db_server(tok, r) != 0)
				return perr(p, "%s: cannot parse \"%s\" "
				    "(host[:port], [v6][:port] or unix:/path)",
				    k->name, tok);
			/* Twice would be two metrics series of one server. */
			if (db_replica_listed(c, r)) {
				free(r->host);
				free(r->socket);
				r->host = r->socket = NULL;
				return perr(p, "%s: \"%s\" is listed already",
				    k->name, tok);
			}
			c->n_db_replicas++;
		}
		return 0;
	}
	case CT_RETENTION: {
		char num[32];
		char why[160];

		/* the older spelling of sentry_option system.event-... */
		if (parse_ulong(v, 10, k->max, &x) != 0)
			return perr(p, "%s: expected a number in range, got "
			    "\"%s\"", k->name, v);
		snprintf(num, sizeof(num), "%lu", x);
		if (sentry_settings_set_option(&c->sentry,
		    "system.event-retention-days", num, why, sizeof(why)) != 0)
			return perr(p, "%s: %s", k->name, why);
		return 0;
	}
	case CT_FEATURE: {
		char *name = v, *state = v;
		int i;

		while (*state != '\0' && !isspace((unsigned char)*state))
			state++;
		if (*state != '\0')
			*state++ = '\0';
		while (isspace((unsigned char)*state))
			state++;
		if (!sentryfeature_name_valid(name))
			return perr(p, "feature: expected \"organizations:NAME "
			    "on|off\" or \"projects:NAME on|off\"");
		if (strcmp(state, "on") != 0 && strcmp(state, "off") != 0)
			return perr(p, "feature %s: expected on or off, got "
			    "\"%s\"", name, state);
		/* flags relaycfg does not read change nothing; accepted so
		 * that Sentry's SENTRY_FEATURES can be carried over whole */
		if ((i = sentryfeature_index(name)) >= 0)
			c->sentry.feature[i] = strcmp(state, "on") == 0;
		return 0;
	}
	case CT_SENTRY_OPTION: {
		char *name = v, *json = v;
		char why[160];

		while (*json != '\0' && !isspace((unsigned char)*json))
			json++;
		if (*json == '\0')
			return perr(p, "sentry_option: expected \"NAME "
			    "JSON-VALUE\"");
		*json++ = '\0';
		while (isspace((unsigned char)*json))
			json++;
		if (sentry_settings_set_option(&c->sentry, name, json, why,
		    sizeof(why)) != 0)
			return perr(p, "sentry_option %s: %s", name, why);
		return 0;
	}
	case CT_GLOBAL_OPTION: {
		char *key = v, *json = v;
		struct conf_global_option *o;
		json_object *parsed;
		json_tokener *tok;
		const char *why;

		while (*json != '\0' && !isspace((unsigned char)*json))
			json++;
		if (*json == '\0')
			return perr(p, "global_option: expected \"KEY "
			    "JSON-VALUE\"");
		*json++ = '\0';
		while (isspace((unsigned char)*json))
			json++;
		if (sentryopt_index(key) >= 0) {
			/* an option relaycfg knows: one value, type-checked */
			char reason[160];

			if (sentry_settings_set_option(&c->sentry, key, json,
			    reason, sizeof(reason)) != 0)
				return perr(p, "global_option %s: %s", key,
				    reason);
			return 0;
		}
		/* Strict as every other JSON text relaycfg reads. */
		if (jsonstrict_check(json, strlen(json), 16, &why) != 0)
			return perr(p, "global_option %s: value is not JSON "
			    "(%s)", key, why);
		if (jsonstrict_wide_integer(json, strlen(json)))
			return perr(p, "global_option %s: value has an integer "
			    "below -2^63 or above 2^64-1, which would be sent "
			    "changed", key);
		if ((tok = json_tokener_new_ex(16)) == NULL)
			return perr(p, "out of memory");
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
		    JSON_TOKENER_VALIDATE_UTF8);
		parsed = json_tokener_parse_ex(tok, json, (int)strlen(json) + 1);
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		json_tokener_free(tok);
		if (jerr != json_tokener_success) {
			json_object_put(parsed);
			return perr(p, "global_option %s: value is not JSON "
			    "(%s)", key, json_tokener_error_desc(jerr));
		}
		json_object_put(parsed);
		o = list_push((void **)&c->global_options,
		    &c->n_global_options, sizeof(*o));
		if (o == NULL)
			return perr(p, "out of memory");
		if ((o->key = strdup(key)) == NULL ||
		    (o->json = strdup(json)) == NULL)
			return perr(p, "out of memory");
		return 0;
	}
	}
	return perr(p, "internal error: bad key type");
}

json_object *
conf_sentry_option(const struct conf *c, const char *name)
{
	return sentry_settings_option(&c->sentry, name);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * check_at - point p at the line of the first setting of the list (ended
 * by CONF_N_SETTINGS) that c's file gave, for the refusal that follows;
 * none given: no line.
 */
static void
check_at(struct parse_ctx *p, const struct conf *c,
    const enum conf_setting *s)
{
	for (p->line = 0; *s != CONF_N_SETTINGS && p->line == 0; s++)
		p->line = conf_setting_line(c, *s);
}

#define AT(p, c, ...) \
	check_at((p), (c), (const enum conf_setting[]){ __VA_ARGS__, \
	    CONF_N_SETTINGS })

/*
 * conf_check - the checks of c that take more than one line's value, or
 * a value's absence.  A refusal carries the line of the setting at fault
 * (the first named when several are), or no line when none was given.
 * Returns 0, or -1 with the message in p.
 */
static int
conf_check(struct parse_ctx *p, const struct conf *c)
{
	enum conf_setting which;
	const char *why;

	p->line = 0;
	if (c->db.host == NULL && c->db.socket == NULL)
		return perr(p, "db_host or db_socket must be set");
	if (c->db.database == NULL)
		return perr(p, "db_name must be set");
	if ((c->db_replica.host != NULL || c->db_replica.socket != NULL) &&
	    c->n_db_replicas == CONF_DB_REPLICAS_MAX) {
		AT(p, c, CONF_DB_REPLICA, CONF_DB_REPLICA_HOST,
		    CONF_DB_REPLICA_SOCKET);
		return perr(p, "at most %d replicas (db_replica_host or "
		    "db_replica_socket counts as one)", CONF_DB_REPLICAS_MAX);
	}
	/*
	 * 0 would time every memcached call out (a cache never used), every
	 * peer out, or every signature (every relay locked out) or
	 * registration challenge (none could register); to
	 * PostgreSQL it would mean no statement timeout at all, and to
	 * MariaDB's client none on a connect, read or write, which the
	 * watchdog below counts on (checked first: db_read_timeout's 0 is its
	 * own error, not db_replica_wait_ms').
	 */
	const struct { unsigned v; enum conf_setting s; const char *name; }
	    nonzero[] = {
		{ c->memcached_connect_timeout_ms,
		    CONF_MEMCACHED_CONNECT_TIMEOUT_MS,
		    "memcached_connect_timeout_ms" },
		{ c->memcached_poll_timeout_ms, CONF_MEMCACHED_POLL_TIMEOUT_MS,
		    "memcached_poll_timeout_ms" },
		{ c->io_timeout, CONF_IO_TIMEOUT, "io_timeout" },
		{ c->signature_max_age, CONF_SIGNATURE_MAX_AGE,
		    "signature_max_age" },
		{ c->register_max_age, CONF_REGISTER_MAX_AGE,
		    "register_max_age" },
		{ c->sentry_pg_timeout, CONF_SENTRY_PG_TIMEOUT,
		    "sentry_pg_timeout" },
		{ c->db_connect_timeout, CONF_DB_CONNECT_TIMEOUT,
		    "db_connect_timeout" },
		{ c->db_read_timeout, CONF_DB_READ_TIMEOUT, "db_read_timeout" },
		{ c->db_write_timeout, CONF_DB_WRITE_TIMEOUT,
		    "db_write_timeout" },
	};
	for (size_t i = 0; i < sizeof(nonzero) / sizeof(nonzero[0]); i++)
		if (nonzero[i].v == 0) {
			AT(p, c, nonzero[i].s);
			return perr(p, "%s must be at least 1", nonzero[i].name);
		}
	/* MASTER_GTID_WAIT must answer before the client gives up on it. */
	if (c->db_replica_wait_ms >= c->db_read_timeout * 1000U) {
		AT(p, c, CONF_DB_REPLICA_WAIT_MS, CONF_DB_READ_TIMEOUT);
		return perr(p, "db_replica_wait_ms must be less than "
		    "db_read_timeout");
	}
	if (c->cache_namespace != NULL) {
		size_t len = strlen(c->cache_namespace);

		AT(p, c, CONF_CACHE_NAMESPACE);
		if (len == 0 || len > 32)
			return perr(p, "cache_namespace must be 1 to 32 "
			    "characters");
		for (const char *q = c->cache_namespace; *q; q++)
			if (!isalnum((unsigned char)*q) && *q != '_' &&
			    *q != '-' && *q != '.')
				return perr(p, "cache_namespace may hold only "
				    "letters, digits, '_', '-' and '.'");
	}
	if (c->max_body_size < 1024) {
		AT(p, c, CONF_MAX_BODY_SIZE);
		return perr(p, "max_body_size must be at least 1024");
	}
	if ((why = statsd_conf_check(c, &which)) != NULL) {
		AT(p, c, which);
		return perr(p, "%s", why);
	}
	/*
	 * The watchdog must never fire on a request that is merely waiting
	 * out the peer or one MariaDB query's timeouts.
	 */
	if (c->request_timeout <= c->io_timeout ||
	    c->request_timeout <= c->db_connect_timeout +
	    c->db_read_timeout + c->db_write_timeout) {
		AT(p, c, CONF_REQUEST_TIMEOUT, CONF_IO_TIMEOUT,
		    CONF_DB_CONNECT_TIMEOUT, CONF_DB_READ_TIMEOUT,
		    CONF_DB_WRITE_TIMEOUT);
		return perr(p, "request_timeout must be greater than "
		    "io_timeout and than db_connect_timeout + "
		    "db_read_timeout + db_write_timeout");
	}
	return 0;
}

/*
 * conf_load - see conf.h.  Only a regular file is read: a FIFO would
 * block the open (or, opened without blocking, read as an empty file of
 * defaults) and with it a master reloading on SIGHUP; a directory reads
 * as an error anyway.
 */
struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct parse_ctx p = { path, 0, err, errlen, false };
	struct conf *c = NULL;
	struct stat st;
	FILE *fp = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) <
	    0 || fstat(fd, &st) != 0) {
		perr(&p, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		perr(&p, "not a regular file");
		goto fail;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		perr(&p, "%s", strerror(errno));
		goto fail;
	}
	if ((c = conf_defaults()) == NULL || (c->path = strdup(path)) == NULL) {
		perr(&p, "out of memory");
		goto fail;
	}
	c->path_mode = (unsigned)(st.st_mode & 07777);
	while ((len = getline(&line, &cap, fp)) >= 0) {
		const struct conf_key *k = NULL;
		char *s, *eq, *key, *val;

		p.line++;
		if ((size_t)len != strlen(line)) {
			perr(&p, "NUL byte in line");
			goto fail;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			perr(&p, "expected \"key = value\"");
			goto fail;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
			if (strcmp(conf_keys[i].name, key) == 0)
				k = &conf_keys[i];
		if (k == NULL) {
			perr(&p, "unknown key \"%.64s\"", key);
			goto fail;
		}
		if (*val == '\0') {
			perr(&p, "%s: empty value", key);
			goto fail;
		}
		if (apply_value(&p, c, k, val) != 0)
			goto fail;
		conf_note_line(c, key, p.line);
	}
	if (ferror(fp)) {
		perr(&p, "read error: %s", strerror(errno));
		goto fail;
	}
	if (conf_check(&p, c) != 0)
		goto fail;
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	fclose(fp);
	return c;
fail:
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	if (fp != NULL)
		fclose(fp);
	else if (fd >= 0)
		close(fd);
	conf_free(c);
	return NULL;
}
