/*
 * statsd.c - Sentry's metric names pushed to StatsD or DogStatsD over UDP, batched per request
 *
 * What goes out, and why in this form (Sentry 25.x, src/sentry/metrics/
 * statsd.py, dogstatsd.py, base.py and src/sentry/utils/metrics.py):
 *
 * - The name is SENTRY_METRICS_PREFIX ("sentry.", no dot added) followed by
 *   Sentry's key: relay_project_configs.fetching_keys.duration, ...
 * - metrics.timer() sends time.monotonic() differences, i.e. SECONDS, as a
 *   StatsD timing ("|ms" on the wire although the number is seconds).  The
 *   plain backend (python-statsd) writes "%0.6f|ms" and drops tags; the
 *   DogStatsD backend (datadogpy) writes str(value) and "|#k:v,..." with the
 *   timer's result tag first, then the backend's configured tags.
 * - metrics.incr() sends "<n>|c" (plus the configured tags for DogStatsD).
 * - SENTRY_METRICS_SAMPLE_RATE is 1.0: no "|@rate" and nothing sampled out.
 *
 * The sink only formats into a static buffer (no allocation, no syscall);
 * the socket is written after the answer is out.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "statsd.h"

#define PREFIX_MAX	64	/* statsd_prefix, bytes */
#define TAGS_MAX	512	/* statsd_tags, bytes */
#define HOST_MAX	256

/* Sentry's names for the project-config counters (post_or_schedule_by_key). */
#define SENTRY_PENDING	"relay.project_configs.post_v3.pending"
#define SENTRY_FETCHED	"relay.project_configs.post_v3.fetched"

static struct {
	int		 fd;		/* -1: off */
	bool		 dogstatsd;
	char		 prefix[PREFIX_MAX + 1];
	char		 tags_timer[TAGS_MAX + 32];	/* "result:success,..." */
	char		 tags_count[TAGS_MAX + 1];	/* "" or "k:v,..." */
	/* this request's batch */
	char		 buf[STATSD_MAX_DGRAM];
	size_t		 len;
	bool		 post_v3;	/* statsd_post_v3() called */
	uint64_t	 keys_pending;
	uint64_t	 keys_fetched;
	uint64_t	 dropped;
} sd = { .fd = -1 };

int
statsd_split_server(const char *text, char *host, size_t hostlen,
    char *port, size_t portlen)
{
	const char *h = text, *p = NULL, *colon;
	size_t hl;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		h = text + 1;
		hl = (size_t)(close - h);
		if (close[1] == ':')
			p = close + 2;
	} else if ((colon = strchr(text, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		hl = (size_t)(colon - text);
		p = colon + 1;
	} else
		hl = strlen(text);	/* a name, IPv4, or a bare IPv6 */
	if (hl == 0 || hl >= hostlen)
		return -1;
	for (size_t i = 0; i < hl; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' &&
		    h[i] != '-' && h[i] != ':' && h[i] != '_' && h[i] != '%')
			return -1;
	if (p != NULL) {
		char *end;
		long n;

		if (*p == '\0' || strlen(p) >= portlen ||
		    !isdigit((unsigned char)*p))
			return -1;
		errno = 0;
		n = strtol(p, &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 || n > 65535)
			return -1;
	} else if (strlen(STATSD_DEFAULT_PORT) >= portlen)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, p != NULL ? p : STATSD_DEFAULT_PORT);
	return 0;
}

/* wire_char - may c appear in a name or tag on the StatsD wire? */
static bool
wire_char(char c)
{
	return isgraph((unsigned char)c) && c != ':' && c != '|' &&
	    c != '#' && c != '@' && c != ',';
}

/*
 * tags_parse - the statsd_tags text ("k:v, k2:v2") into out as DogStatsD
 * writes it ("k:v,k2:v2").  Returns 0, or -1 when a tag is not key:value.
 */
static int
tags_parse(const char *text, char *out, size_t outlen)
{
	size_t o = 0;
	const char *t = text;

	if (strlen(text) > TAGS_MAX)
		return -1;
	while (*t != '\0') {
		const char *s, *e;
		bool colon = false;

		while (*t == ' ' || *t == '\t')
			t++;
		s = t;
		while (*t != '\0' && *t != ',')
			t++;
		e = t;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e == s || *s == ':')
			return -1;
		for (const char *q = s; q < e; q++) {
			if (*q == ':' && !colon && q + 1 < e)
				colon = true;
			else if (!wire_char(*q))
				return -1;
		}
		if (!colon || o + (size_t)(e - s) + 2 > outlen)
			return -1;
		if (o > 0)
			out[o++] = ',';
		memcpy(out + o, s, (size_t)(e - s));
		o += (size_t)(e - s);
		if (*t == ',' && *++t == '\0')
			return -1;	/* a trailing comma */
	}
	out[o] = '\0';
	return 0;
}

/* statsd_conf_check - see statsd.h. */
const char *
statsd_conf_check(const struct conf *c, enum conf_setting *which)
{
	char host[HOST_MAX], port[8], tags[TAGS_MAX + 1];
	enum conf_setting dummy;
	const char *why = NULL;

	if (which == NULL)
		which = &dummy;
	if (c->statsd_server != NULL && statsd_split_server(c->statsd_server,
	    host, sizeof(host), port, sizeof(port)) != 0) {
		*which = CONF_STATSD_SERVER;
		return "statsd_server must be host, host:port or [ipv6]:port "
		    "(port 1 to 65535)";
	}
	if (c->statsd_prefix != NULL && strcmp(c->statsd_prefix, "none") != 0) {
		*which = CONF_STATSD_PREFIX;
		if (strlen(c->statsd_prefix) > PREFIX_MAX)
			return "statsd_prefix must be at most 64 characters";
		for (const char *q = c->statsd_prefix; *q != '\0'; q++)
			if (!wire_char(*q))
				return "statsd_prefix may not hold blanks, "
				    "':', '|', '#', '@' or ','";
	}
	if (c->statsd_tags != NULL &&
	    tags_parse(c->statsd_tags, tags, sizeof(tags)) != 0) {
		*which = CONF_STATSD_TAGS;
		why = "statsd_tags must be key:value pairs separated by "
		    "commas (at most 512 characters; no blanks, '|', '#' or "
		    "'@' inside a tag)";
	}
	return why;
}

int
statsd_format_pyfloat(double v, char *buf, size_t len)
{
	char e[40], digits[20];
	size_t nd = 0, o = 0;
	int prec, exp, n;
	const char *p;

	if (isnan(v) || isinf(v))
		return snprintf(buf, len, "%s", isnan(v) ? "nan" : v > 0 ?
		    "inf" : "-inf") < (int)len ? (int)strlen(buf) : -1;
	if (v == 0)
		return snprintf(buf, len, "%s", signbit(v) ? "-0.0" : "0.0") <
		    (int)len ? (int)strlen(buf) : -1;
	/* the fewest digits that read back as v: Python's repr */
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, v);
		if (strtod(e, NULL) == v)
			break;
	}
	if (len < 32)		/* 17 digits, sign, point, zeros, exponent */
		return -1;
	p = e;
	if (*p == '-')
		buf[o++] = *p++;
	for (; *p != 'e'; p++)
		if (isdigit((unsigned char)*p))
			digits[nd++] = *p;
	exp = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (exp >= -4 && exp < 16) {
		/* fixed notation, always with a fraction ("100.0") */
		if (exp < 0) {
			o += (size_t)snprintf(buf + o, len - o, "0.");
			for (int z = exp + 1; z < 0; z++)
				buf[o++] = '0';
			memcpy(buf + o, digits, nd);
			o += nd;
		} else {
			for (int i = 0; i <= exp; i++)
				buf[o++] = (size_t)i < nd ? digits[i] : '0';
			buf[o++] = '.';
			if ((size_t)exp + 1 < nd) {
				memcpy(buf + o, digits + exp + 1,
				    nd - (size_t)exp - 1);
				o += nd - (size_t)exp - 1;
			} else
				buf[o++] = '0';
		}
		buf[o] = '\0';
		return (int)o;
	}
	/* scientific: "1.5e-05", "1e+16" */
	buf[o++] = digits[0];
	if (nd > 1) {
		buf[o++] = '.';
		memcpy(buf + o, digits + 1, nd - 1);
		o += nd - 1;
	}
	n = snprintf(buf + o, len - o, "e%c%02d", exp < 0 ? '-' : '+',
	    exp < 0 ? -exp : exp);
	return (int)o + n;
}

/* send_batch - the buffer as one datagram, or counted as dropped. */
static void
send_batch(void)
{
	ssize_t n;

	if (sd.len == 0)
		return;
	n = send(sd.fd, sd.buf, sd.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 || (size_t)n != sd.len) {
		/* full socket buffer, or the collector refused the last one */
		sd.dropped++;
		metrics_inc(MF_STATSD_DROPPED, 0, 0, 0);
	}
	sd.len = 0;
}

/* append - one line to the batch, newline-separated as DogStatsD batches. */
static void
append(const char *line, int n)
{
	if (n <= 0 || (size_t)n > sizeof(sd.buf)) {
		sd.dropped++;
		metrics_inc(MF_STATSD_DROPPED, 0, 0, 0);
		return;
	}
	if (sd.len > 0 && sd.len + 1 + (size_t)n > sizeof(sd.buf))
		send_batch();	/* only a very long request gets here */
	if (sd.len > 0)
		sd.buf[sd.len++] = '\n';
	memcpy(sd.buf + sd.len, line, (size_t)n);
	sd.len += (size_t)n;
}

/* timing - Sentry's metrics.timing(name, seconds) through its backend. */
static void
timing(const char *name, double seconds)
{
	char line[STATSD_MAX_DGRAM + 1], num[40];
	int n;

	if (sd.dogstatsd) {
		if (statsd_format_pyfloat(seconds, num, sizeof(num)) < 0)
			return;
		n = snprintf(line, sizeof(line), "%s%s:%s|ms|#%s", sd.prefix,
		    name, num, sd.tags_timer);
	} else
		n = snprintf(line, sizeof(line), "%s%s:%0.6f|ms", sd.prefix,
		    name, seconds);
	append(line, n < (int)sizeof(line) ? n : -1);
}

/* incr - Sentry's metrics.incr(name, amount) through its backend. */
static void
incr(const char *name, uint64_t amount)
{
	char line[STATSD_MAX_DGRAM + 1];
	int n;

	n = snprintf(line, sizeof(line), "%s%s:%llu|c%s%s", sd.prefix, name,
	    (unsigned long long)amount,
	    sd.dogstatsd && sd.tags_count[0] != '\0' ? "|#" : "",
	    sd.dogstatsd ? sd.tags_count : "");
	append(line, n < (int)sizeof(line) ? n : -1);
}

/*
 * sink - every count and observation; only those Sentry sends itself are
 * kept.  Keys are summed over the request: Sentry sends one incr of the
 * pending and one of the fetched keys per request, and only for the
 * requests statsd_post_v3() names.
 */
static void
sink(enum metric_family f, const char *sentry_name, unsigned a, double value,
    bool is_histogram)
{
	if (sd.fd < 0)
		return;
	if (f == MF_KEYS && !is_histogram) {
		if (a == MK_PENDING)
			sd.keys_pending += (uint64_t)value;
		else	/* a config, disabled or unchanged: found, answered */
			sd.keys_fetched += (uint64_t)value;
		return;
	}
	if (sentry_name != NULL && is_histogram)
		timing(sentry_name, value);
}

void
statsd_post_v3(void)
{
	if (sd.fd >= 0)
		sd.post_v3 = true;
}

void
statsd_flush(void)
{
	if (sd.fd < 0)
		return;
	if (sd.post_v3) {
		incr(SENTRY_PENDING, sd.keys_pending);
		incr(SENTRY_FETCHED, sd.keys_fetched);
	}
	send_batch();
	sd.post_v3 = false;
	sd.keys_pending = sd.keys_fetched = 0;
}

void
statsd_close(void)
{
	metrics_set_sink(NULL);
	if (sd.fd >= 0)
		close(sd.fd);
	sd.fd = -1;
	sd.len = 0;
	sd.post_v3 = false;
	sd.keys_pending = sd.keys_fetched = 0;
}

uint64_t
statsd_dropped(void)
{
	return sd.dropped;
}

/*
 * tags_for_timer - a timer's tags: "result:success", or the configured
 * result tag in its place (Sentry's backend updates the timer's tags with
 * its own, and a dict keeps the first position), then the other tags.
 */
static void
tags_for_timer(const char *tags, char *out, size_t outlen)
{
	const char *t, *result = NULL;
	size_t n, o;

	for (t = tags; *t != '\0'; t += n + (t[n] == ',')) {
		n = strcspn(t, ",");
		if (strncmp(t, "result:", 7) == 0)
			result = t;
	}
	if (result != NULL)
		o = (size_t)snprintf(out, outlen, "%.*s",
		    (int)strcspn(result, ","), result);
	else
		o = (size_t)snprintf(out, outlen, "result:success");
	for (t = tags; *t != '\0' && o < outlen; t += n + (t[n] == ',')) {
		n = strcspn(t, ",");
		if (t != result)
			o += (size_t)snprintf(out + o, outlen - o, ",%.*s",
			    (int)n, t);
	}
}

int
statsd_open(const struct conf *c)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[HOST_MAX], port[8], tags[TAGS_MAX + 1];
	int fd = -1, rc = -1, gai;

	statsd_close();
	sd.dropped = 0;
	if (c->statsd_server == NULL)
		return 0;
	if (statsd_conf_check(c, NULL) != NULL ||
	    statsd_split_server(c->statsd_server, host, sizeof(host), port,
	    sizeof(port)) != 0 || (c->statsd_tags != NULL &&
	    tags_parse(c->statsd_tags, tags, sizeof(tags)) != 0)) {
		log_warn("statsd: invalid settings, push off");
		goto out;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warn("statsd: cannot resolve %s: %s; push off",
		    c->statsd_server, gai_strerror(gai));
		goto out;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		log_warn("statsd: no socket to %s: %s; push off",
		    c->statsd_server, strerror(errno));
		goto out;
	}
	if (c->statsd_prefix == NULL)
		strcpy(sd.prefix, STATSD_DEFAULT_PREFIX);
	else if (strcmp(c->statsd_prefix, "none") == 0)
		sd.prefix[0] = '\0';
	else
		snprintf(sd.prefix, sizeof(sd.prefix), "%s", c->statsd_prefix);
	if (c->statsd_tags == NULL)
		tags[0] = '\0';
	strcpy(sd.tags_count, tags);
	tags_for_timer(tags, sd.tags_timer, sizeof(sd.tags_timer));
	sd.dogstatsd = c->statsd_dogstatsd;
	sd.fd = fd;
	fd = -1;
	metrics_set_sink(sink);
	rc = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	if (fd >= 0)
		close(fd);
	return rc;
}
