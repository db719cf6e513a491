/*
 * statsd.h - Sentry's metrics pushed to StatsD or DogStatsD over UDP.
 *
 * Optional (statsd_server in relaycfg.conf).  Each worker opens one
 * non-blocking, connected UDP socket when it starts and registers itself as
 * the metrics sink (metrics_set_sink).  While a request runs, the
 * observations that have a Sentry name are formatted into a buffer the way
 * Sentry's own backends (sentry.metrics.statsd / .dogstatsd) send them; the
 * worker flushes the buffer once, after the answer is out.  A datagram the
 * kernel will not take at once is dropped and counted
 * (relaycfg_statsd_dropped_total): the push never blocks or fails a request.
 */
#ifndef RELAYCFG_STATSD_H
#define RELAYCFG_STATSD_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* Sentry's default SENTRY_METRICS_PREFIX (src/sentry/conf/server.py). */
#define STATSD_DEFAULT_PREFIX	"sentry."
/* Sentry self-hosted's port when SENTRY_STATSD_ADDR names none. */
#define STATSD_DEFAULT_PORT	"8125"
/* One datagram's payload at most: DogStatsD's UDP default. */
#define STATSD_MAX_DGRAM	1432

/*
 * statsd_conf_check - is the statsd_* part of c valid?  Returns NULL, or a
 * static message naming the key at fault, which is then in *which (for
 * the line to blame; which may be NULL).  conf_load calls it.
 */
const char	*statsd_conf_check(const struct conf *c,
		    enum conf_setting *which);

/*
 * statsd_split_server - "host", "host:port", "[v6]" or "[v6]:port" into
 * host (hostlen bytes) and port (portlen bytes, STATSD_DEFAULT_PORT when
 * absent).  Returns 0, or -1 when the text is not of that form.
 */
int	statsd_split_server(const char *text, char *host, size_t hostlen,
	    char *port, size_t portlen);

/*
 * statsd_open - (re)start the push for this process from c: close what was
 * open, then, when c names a statsd_server, resolve it, open the socket
 * and register the sink.  Returns 0 (also when off), or -1 when the server
 * cannot be resolved or the socket made; the push then stays off and the
 * reason is logged.  Call at worker start and after a reload; not on the
 * request path (the name is resolved here).
 */
int	statsd_open(const struct conf *c);

/*
 * statsd_flush - send what this request batched (at most a few datagrams)
 * and start the next batch.  Never blocks; a refused datagram is counted.
 */
void	statsd_flush(void);

/*
 * statsd_post_v3 - this request is one Sentry answers in its
 * _post_or_schedule_by_key (version 3 without noCache): its flush sends
 * relay.project_configs.post_v3.pending and .fetched with the keys it
 * counted.  Sentry sends them for those requests only, never for v1, v2
 * or noCache ones, which it answers in _post_by_project / _post_by_key.
 */
void	statsd_post_v3(void);

/* statsd_close - unregister the sink and close the socket. */
void	statsd_close(void);

/* statsd_dropped - datagrams this process dropped since statsd_open. */
uint64_t	statsd_dropped(void);

/*
 * statsd_format_pyfloat - v as Python's str(float) writes it (the shortest
 * text that reads back as v: "0.0123", "1.0", "1.5e-05"), as DogStatsD's
 * client puts a timing on the wire.  Returns the length, or -1 when it
 * does not fit in len bytes.
 */
int	statsd_format_pyfloat(double v, char *buf, size_t len);

#endif
