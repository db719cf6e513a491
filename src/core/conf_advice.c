/*
 * conf_advice.c - warnings about configurations that are valid but
 * dangerous in a common topology, or settings that do nothing: said by
 * --check-config and logged at start-up, never a reason to refuse the
 * file.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"

/*
 * The private ranges a load balancer or proxy in front of relaycfg
 * typically has its address in: RFC 1918, RFC 6598 shared space, IPv4
 * link-local, IPv6 ULA and link-local.  Keep in step with relaycfg.conf(5)
 * internal_networks.
 */
static const char *const private_ranges[] = {
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
	"169.254.0.0/16", "fc00::/7", "fe80::/10",
};
#define N_PRIVATE_RANGES \
	(sizeof(private_ranges) / sizeof(private_ranges[0]))

/* conf_cidr_overlap - see conf.h. */
bool
conf_cidr_overlap(const struct conf_cidr *a, const struct conf_cidr *b)
{
	int bits = a->prefix < b->prefix ? a->prefix : b->prefix;
	int full = bits / 8, rest = bits % 8;
	uint8_t mask;

	/* Two networks share an address when one holds the other: they
	 * agree on the shorter prefix. */
	if (memcmp(a->addr, b->addr, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a->addr[full] & mask) == (b->addr[full] & mask);
}

/* private_internal - does any address of a private range count as
 * internal under c? */
static bool
private_internal(const struct conf *c)
{
	const struct conf_cidr *nets = c->internal_networks;
	size_t n = c->n_internal_networks;
	struct conf_cidr priv;

	if (!c->internal_networks_set)
		nets = conf_default_internal_networks(&n);
	for (size_t i = 0; i < N_PRIVATE_RANGES; i++) {
		if (conf_parse_cidr(private_ranges[i], &priv) != 0)
			continue;	/* cannot happen: the table is fixed */
		for (size_t j = 0; j < n; j++)
			if (conf_cidr_overlap(&nets[j], &priv))
				return true;
	}
	return false;
}

/*
 * socket_ignored - say so when socket_mode or socket_owner is given for a
 * socket relaycfg does not make (TCP, or inherited): only listen_unix uses
 * them.  Returns whether it said anything.
 */
static bool
socket_ignored(const struct conf *c, conf_advice_fn *say, void *arg)
{
	char mode[512], owner[512], msg[1280];
	bool m, o;

	if (c->listen != NULL && strncmp(c->listen, "unix:", 5) == 0)
		return false;
	m = conf_origin(c, CONF_SOCKET_MODE, mode, sizeof(mode));
	o = conf_origin(c, CONF_SOCKET_OWNER, owner, sizeof(owner));
	if (!m && !o)
		return false;
	snprintf(msg, sizeof(msg), "%s%s%s ignored: only a unix socket that "
	    "relaycfg makes itself (listen = unix:PATH) gets a mode and an "
	    "owner, and this one is %s", m ? mode : "", m && o ? " and " : "",
	    o ? owner : "", c->listen != NULL ? "TCP" : "inherited");
	say(msg, arg);
	return true;
}

/*
 * secret_short - say so when registration_secret is shorter than 16
 * characters (never echoing it): any length works, as Sentry's tooling
 * takes any (relay-auth's test vectors use "secret"), but a short secret
 * can be guessed, and whoever knows it can mint registration tokens.
 * Returns whether it said anything.
 */
static bool
secret_short(const struct conf *c, conf_advice_fn *say, void *arg)
{
	char where[512], msg[768];

	if (c->registration_secret == NULL ||
	    strlen(c->registration_secret) >= 16)
		return false;
	(void)conf_origin(c, CONF_REGISTRATION_SECRET, where, sizeof(where));
	snprintf(msg, sizeof(msg), "%s is shorter than 16 characters: whoever "
	    "guesses it can mint registration tokens; use a long random one "
	    "(openssl rand -hex 32)", where);
	say(msg, arg);
	return true;
}

/*
 * secret_readable - the file c was read from holds a secret (a database
 * password, the registration secret) and every user of the host may read
 * it (mode o+r, as a file made under umask 022 is): any local account can
 * then write relaycfg's data or mint registration tokens.  The packages
 * and make install make it 0640.  Returns whether it said anything.
 */
static bool
secret_readable(const struct conf *c, conf_advice_fn *say, void *arg)
{
	const char *which = c->registration_secret != NULL ?
	    "registration_secret" : c->db.password != NULL ? "db_password" :
	    c->db_replica.password != NULL ? "db_replica_password" :
	    c->sentry_pg_password != NULL ? "sentry_pg_password" : NULL;
	char msg[768];

	if (c->path == NULL || which == NULL || (c->path_mode & 0004) == 0)
		return false;
	snprintf(msg, sizeof(msg), "%s holds %s and every user may read it "
	    "(mode %04o): chmod 0640 it, owned by root and relaycfg's group",
	    c->path, which, c->path_mode);
	say(msg, arg);
	return true;
}

/* conf_advise - see conf.h. */
size_t
conf_advise(const struct conf *c, conf_advice_fn *say, void *arg)
{
	const char *fcgi_addrs = getenv("FCGI_WEB_SERVER_ADDRS");
	size_t n = 0;

	/*
	 * Behind a load balancer or a proxy whose X-Forwarded-For is not
	 * believed, every relay arrives from the balancer's private address:
	 * any relay that registers is then internal and gets every project's
	 * config.  open_registration = no does not help: an internal
	 * relay may always register (ep_register.c, as Sentry).
	 */
	if (c->registration_secret != NULL && c->n_trusted_proxies == 0 &&
	    private_internal(c)) {
		say("registration enabled, private networks internal and no "
		    "trusted_proxies: behind a load balancer or proxy every "
		    "relay arrives from its private address, so any relay that "
		    "registers gets every project's config (open_registration "
		    "= no does not stop internal ones); set trusted_proxies to "
		    "the proxy's addresses, or narrow internal_networks", arg);
		n++;
	}
	/*
	 * On TCP anyone who reaches the port speaks FastCGI and so chooses
	 * REMOTE_ADDR (internal or not); libfcgi accepts only the listed
	 * web servers when FCGI_WEB_SERVER_ADDRS is set.
	 */
	/* (IPv6 with the variable set is an error: listen_check.) */
	if (c->listen != NULL && strncmp(c->listen, "unix:", 5) != 0 &&
	    (fcgi_addrs == NULL || *fcgi_addrs == '\0')) {
		say("listening on TCP without FCGI_WEB_SERVER_ADDRS: any host "
		    "that reaches the port can send FastCGI requests with a "
		    "REMOTE_ADDR of its choosing; set FCGI_WEB_SERVER_ADDRS to "
		    "the web servers' addresses, or firewall the port", arg);
		n++;
	}
	if (socket_ignored(c, say, arg))
		n++;
	if (secret_short(c, say, arg))
		n++;
	if (secret_readable(c, say, arg))
		n++;
	return n;
}

/* A conf_advise warning, to the log. */
static void
advice_log(const char *msg, void *arg)
{
	(void)arg;
	log_warn("%s", msg);
}

/* conf_advise_log - see conf.h. */
size_t
conf_advise_log(const struct conf *c)
{
	return conf_advise(c, advice_log, NULL);
}
