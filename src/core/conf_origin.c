/*
 * conf_origin.c - the command-line overrides, and where the settings
 * whose errors show only after parsing (a user name, the socket) came
 * from: an error names the option, or the file's line, as a parse error
 * does.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* Each conf_setting's key and option (NULL: none), in enum order. */
static const struct {
	const char	*key;
	const char	*option;
} settings[CONF_N_SETTINGS] = {
	[CONF_LISTEN] =		{ "listen", "--listen" },
	[CONF_SOCKET_MODE] =	{ "socket_mode", "--socket-mode" },
	[CONF_SOCKET_OWNER] =	{ "socket_owner", "--socket-owner" },
	[CONF_USER] =		{ "user", "--user" },
	[CONF_IO_TIMEOUT] =	{ "io_timeout", NULL },
	[CONF_REQUEST_TIMEOUT] = { "request_timeout", NULL },
	[CONF_MAX_BODY_SIZE] =	{ "max_body_size", NULL },
	[CONF_DB_REPLICA_HOST] = { "db_replica_host", NULL },
	[CONF_DB_REPLICA_SOCKET] = { "db_replica_socket", NULL },
	[CONF_DB_REPLICA] =	{ "db_replica", NULL },
	[CONF_DB_REPLICA_WAIT_MS] = { "db_replica_wait_ms", NULL },
	[CONF_DB_CONNECT_TIMEOUT] = { "db_connect_timeout", NULL },
	[CONF_DB_READ_TIMEOUT] = { "db_read_timeout", NULL },
	[CONF_DB_WRITE_TIMEOUT] = { "db_write_timeout", NULL },
	[CONF_SIGNATURE_MAX_AGE] = { "signature_max_age", NULL },
	[CONF_REGISTER_MAX_AGE] = { "register_max_age", NULL },
	[CONF_MEMCACHED_CONNECT_TIMEOUT_MS] =
	    { "memcached_connect_timeout_ms", NULL },
	[CONF_MEMCACHED_POLL_TIMEOUT_MS] = { "memcached_poll_timeout_ms", NULL },
	[CONF_CACHE_NAMESPACE] = { "cache_namespace", NULL },
	[CONF_STATSD_SERVER] =	{ "statsd_server", NULL },
	[CONF_STATSD_PREFIX] =	{ "statsd_prefix", NULL },
	[CONF_STATSD_TAGS] =	{ "statsd_tags", NULL },
	[CONF_SENTRY_PG] =	{ "sentry_pg", NULL },
	[CONF_SENTRY_PG_TIMEOUT] = { "sentry_pg_timeout", NULL },
	[CONF_REGISTRATION_SECRET] = { "registration_secret", NULL },
};

static struct conf_overrides overrides = { NULL, NULL, NULL, -1, -1, -1 };

/* conf_set_overrides - see conf.h. */
void
conf_set_overrides(const struct conf_overrides *o)
{
	overrides = *o;
}

/* override_string - replace *dst by a copy of val, unless val is NULL;
 * -1 on OOM (*dst unchanged). */
static int
override_string(char **dst, const char *val)
{
	char *dup;

	if (val == NULL)
		return 0;
	if ((dup = strdup(val)) == NULL)
		return -1;
	free(*dst);
	*dst = dup;
	return 0;
}

/* conf_apply_overrides - see conf.h. */
int
conf_apply_overrides(struct conf *c)
{
	if (override_string(&c->listen, overrides.listen) != 0 ||
	    override_string(&c->socket_owner, overrides.socket_owner) != 0 ||
	    override_string(&c->user, overrides.user) != 0)
		return -1;
	if (overrides.socket_mode >= 0)
		c->socket_mode = (unsigned)overrides.socket_mode;
	if (overrides.workers >= 0)
		c->workers = (int)overrides.workers;
	if (overrides.max_requests >= 0)
		c->max_requests = (unsigned long)overrides.max_requests;
	return 0;
}

/* conf_note_line - see conf.h. */
void
conf_note_line(struct conf *c, const char *key, unsigned line)
{
	for (int s = 0; s < CONF_N_SETTINGS; s++)
		if (strcmp(settings[s].key, key) == 0)
			c->setting_line[s] = line;
}

/* conf_setting_line - see conf.h. */
unsigned
conf_setting_line(const struct conf *c, enum conf_setting s)
{
	return c->path != NULL ? c->setting_line[s] : 0;
}

/* overridden - did the command line give setting s? */
static bool
overridden(enum conf_setting s)
{
	switch (s) {
	case CONF_LISTEN:	return overrides.listen != NULL;
	case CONF_SOCKET_MODE:	return overrides.socket_mode >= 0;
	case CONF_SOCKET_OWNER:	return overrides.socket_owner != NULL;
	case CONF_USER:		return overrides.user != NULL;
	default:		return false;
	}
}

/* conf_origin - see conf.h. */
bool
conf_origin(const struct conf *c, enum conf_setting s, char *buf,
    size_t len)
{
	if (overridden(s)) {
		snprintf(buf, len, "%s", settings[s].option);
		return true;
	}
	if (conf_setting_line(c, s) > 0) {
		snprintf(buf, len, "%s:%u: %s", c->path, c->setting_line[s],
		    settings[s].key);
		return true;
	}
	snprintf(buf, len, "%s", settings[s].key);
	return false;
}
