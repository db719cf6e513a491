/*
 * ep_metrics.c - GET /metrics: the pool's counters in Prometheus' text format, for internal clients only.
 *
 * The numbers say how busy the service is, which relays fail to sign and
 * whether the backends are down: worth little to an outsider, but not
 * theirs to read.  The shipped vhosts already limit the location to
 * loopback and private networks; this check holds when a vhost forgets.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "endpoints.h"
#include "log.h"
#include "metrics.h"

/* Prometheus' text exposition format, as its client libraries send it. */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/*
 * loopback - 127.0.0.0/8 and ::1 (::ffff:127.x.y.z is the former to
 * conf_cidr_contains), parsed once.
 */
static const struct conf_cidr *
loopback(size_t *n)
{
	static const char *const text[] = { "127.0.0.0/8", "::1/128" };
	static struct conf_cidr nets[2];
	static bool parsed;

	if (!parsed) {
		for (size_t i = 0; i < 2; i++)
			(void)conf_parse_cidr(text[i], &nets[i]);
		parsed = true;
	}
	*n = 2;
	return nets;
}

/*
 * ep_metrics_allowed - may this request read /metrics?  Its client address
 * is decided as for a relay's internal flag (auth_client_internal:
 * REMOTE_ADDR, or behind a trusted proxy the rightmost X-Forwarded-For hop
 * that is not one); it must be in internal_networks (Sentry's
 * INTERNAL_SYSTEM_IPS when unset) or loopback, which a host's own scraper
 * uses whatever internal_networks says.  The address is written to addr
 * for the log.
 */
bool
ep_metrics_allowed(const struct conf *conf, const struct request *req,
    char *addr, size_t len)
{
	const struct conf_cidr *nets;
	size_t n;

	if (auth_client_internal(conf, req, addr, len))
		return true;
	nets = loopback(&n);
	return conf_cidr_contains(nets, n, addr);
}

/* A server label: a host (255 bytes at most), brackets, ':' and a port. */
#define MC_NAME_MAX	(sizeof(((struct conf_mc_server *)0)->host) + 8)

/* ep_metrics_server_name - see endpoints.h. */
void
ep_metrics_server_name(const char *spec, char *buf, size_t len)
{
	struct conf_mc_server ms;

	if (conf_parse_mc_server(spec, &ms) != 0)
		snprintf(buf, len, "%s", spec);
	else if (ms.port == 0)
		snprintf(buf, len, "%s", ms.host);
	else
		snprintf(buf, len, strchr(ms.host, ':') != NULL ?
		    "[%s]:%u" : "%s:%u", ms.host, ms.port);
}

/*
 * ep_metrics - the sum of every slot (workers alive and gone, and the
 * master's) rendered now; the per-process gauges name the memcached
 * servers of this worker's configuration (ep_metrics_server_name).  403 (JSON) to a client that is
 * not internal, 503 when the counters are off or memory is short.
 */
void
ep_metrics(struct request *req, struct app *app)
{
	const struct conf *conf = app->conf;
	struct metrics_snapshot *snap = NULL;
	char addr[64], *text = NULL;
	char names[METRICS_MAX_MC_SERVERS][MC_NAME_MAX];
	const char *mc[METRICS_MAX_MC_SERVERS];
	size_t len = 0, n_mc;

	if (!ep_metrics_allowed(conf, req, addr, sizeof(addr))) {
		log_info("metrics refused to %s: not internal", addr);
		http_reply_error(req, 403,
		    "Metrics are served to loopback and internal networks only",
		    NULL);
		goto out;
	}
	if (!metrics_enabled()) {
		http_reply_error(req, 503, "Metrics are not collected", NULL);
		goto out;
	}
	n_mc = conf->n_memcached_servers < METRICS_MAX_MC_SERVERS ?
	    conf->n_memcached_servers : METRICS_MAX_MC_SERVERS;
	for (size_t i = 0; i < n_mc; i++) {
		ep_metrics_server_name(conf->memcached_servers[i], names[i],
		    sizeof(names[i]));
		mc[i] = names[i];
	}
	if ((snap = metrics_snapshot_new()) == NULL ||
	    (text = metrics_render_prometheus(snap, mc, n_mc, &len)) == NULL) {
		http_reply_error(req, 503, "Out of memory", NULL);
		goto out;
	}
	/*
	 * A scrape is a moment: no proxy may answer the next from a copy
	 * (Cache-Control: no-store, which http_reply_head gives every
	 * answer).
	 */
	http_reply(req, 200, METRICS_CONTENT_TYPE, NULL, text, len);
out:
	free(text);
	metrics_snapshot_free(snap);
}
