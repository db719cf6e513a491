/*
 * ctl_status.c - relaycfgctl status: a human view of a running server from two scrapes of its /metrics.
 *
 * The server's counters only ever grow (metrics.h), so two scrapes an
 * interval apart give rates and the interval's latency histogram; the
 * totals since the master started come from the second scrape alone.
 * Everything is read over HTTP, as Prometheus reads it, so the view works
 * from any host the vhost lets in and needs no access to the server's
 * memory.  Requests to /metrics itself (ours included) are left out of
 * the request rate and latency, so that watching an idle server shows an
 * idle server.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "ctl.h"
#include "ctl_relay.h"
#include "metrics.h"

#define DEFAULT_URL		"http://127.0.0.1/metrics"
#define DEFAULT_INTERVAL	1.0	/* s: two scrapes this far apart */
#define DEFAULT_WATCH		2.0	/* s: --watch refresh period */
#define MAX_LE			64	/* histogram bounds we follow */
#define MAX_NAMES		64	/* workers, servers, ... we list */

#define P_REQ	"relaycfg_requests_total"
#define P_LAT	"relaycfg_request_duration_seconds_bucket"
#define P_FLIGHT "relaycfg_requests_in_flight"
#define P_AUTH	"relaycfg_auth_total"
#define P_KEYS	"relaycfg_project_keys_total"
#define P_CACHE	"relaycfg_cache_requests_total"
#define P_BUILT	"relaycfg_configs_built_total"
#define P_STALE	"relaycfg_stale_configs_served_total"
#define P_MCERR	"relaycfg_memcached_errors_total"
#define P_SQLERR "relaycfg_mariadb_errors_total"
#define P_STARTS "relaycfg_worker_starts_total"
#define P_EXITS	"relaycfg_worker_exits_total"
#define P_RELOAD "relaycfg_reloads_total"
#define P_MCUP	"relaycfg_memcached_up"
#define P_DBUP	"relaycfg_mariadb_up"

static const char cmd[] = "status";

/* One sample line: pointers into the scrape's text. */
struct sample {
	const char	*name;
	const char	*labels;	/* inside the braces, "" when none */
	double		 v;
};

struct scrape {
	char		*text;		/* owned; samples point into it */
	size_t		 len;
	struct sample	*s;
	size_t		 n;
	double		 t;		/* CLOCK_MONOTONIC seconds */
};

static volatile sig_atomic_t stop;

static void
on_sigint(int sig)
{
	(void)sig;
	stop = 1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
scrape_free(struct scrape *sc)
{
	free(sc->text);
	free(sc->s);
	memset(sc, 0, sizeof(*sc));
}

/*
 * Samples kept of one scrape: relaycfg's has some 300, and a line for
 * each worker and server (at most 1024 workers).  A sample costs 24
 * bytes against its line's 4 or more: 60 MB of "a 1" lines made 870 MB.
 */
#define MAX_SAMPLES		100000

/*
 * parse - split sc->text into samples.  Comments and lines that are not
 * "name[{labels}] value [timestamp]" are skipped: the text is untrusted,
 * and a view with a series missing beats no view; so are the samples
 * past MAX_SAMPLES.  0, or -1 on OOM.
 */
static int
parse(struct scrape *sc)
{
	char *p = sc->text, *line, *end, *q;
	size_t cap = 0;
	struct sample smp, *ns;

	while (p != NULL && *p != '\0' && sc->n < MAX_SAMPLES) {
		line = p;
		if ((p = strchr(p, '\n')) != NULL)
			*p++ = '\0';
		if (*line == '#' || *line == '\0')
			continue;
		smp.name = line;
		smp.labels = "";
		q = line + strcspn(line, "{ \t");
		if (*q == '{') {
			bool inq = false;

			*q++ = '\0';
			smp.labels = q;
			/* the closing brace outside a quoted value */
			for (; *q != '\0' && (inq || *q != '}'); q++) {
				if (inq && *q == '\\' && q[1] != '\0')
					q++;
				else if (*q == '"')
					inq = !inq;
			}
			if (*q != '}')
				continue;
			*q++ = '\0';
		} else if (*q != '\0')
			*q++ = '\0';
		else
			continue;
		q += strspn(q, " \t");
		errno = 0;
		smp.v = strtod(q, &end);
		if (end == q || errno == ERANGE || (*end != '\0' &&
		    *end != ' ' && *end != '\t'))
			continue;
		if (sc->n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			if ((ns = reallocarray(sc->s, cap, sizeof(*ns))) ==
			    NULL)
				return -1;
			sc->s = ns;
		}
		sc->s[sc->n++] = smp;
	}
	return 0;
}

/* The --header lines fetch sends. */
static const char **hdrs;
static size_t n_hdrs;

/*
 * fetch - GET url into *sc (replaced only on success) and parse it.  A
 * non-200 answer is an error that shows its body: a 403 from a host that
 * is not internal says why.  0, or -1 after a message on stderr.
 */
static int
fetch(const char *url, struct scrape *sc)
{
	struct scrape tmp = { NULL, 0, NULL, 0, 0 };
	struct response r = { 0, NULL, 0, false, 0 };
	int rc = -1;

	tmp.t = now();
	if (ctl_http_get(cmd, url, hdrs, n_hdrs, &r) != 0)
		goto out;
	if (strncasecmp(url, "file:", 5) != 0 && r.status != 200) {
		ctl_warn(cmd, "%s: HTTP %ld", url, r.status);
		if (r.len > 0)
			ctl_put_body(stderr, &r);
		goto out;
	}
	tmp.text = r.body;
	tmp.len = r.len;
	r.body = NULL;
	if (parse(&tmp) != 0) {
		ctl_warn(cmd, "out of memory");
		goto out;
	}
	/* the middle of the request stands for when the counters were read */
	tmp.t = (tmp.t + now()) / 2;
	scrape_free(sc);
	*sc = tmp;
	memset(&tmp, 0, sizeof(tmp));
	rc = 0;
out:
	free(r.body);
	scrape_free(&tmp);
	return rc;
}

/*
 * read_scrape - a saved scrape (path; "-": stdin) into *sc, parsed; 0, or
 * -1 after a message.
 */
static int
read_scrape(const char *path, struct scrape *sc)
{
	if (ctl_read_file(cmd, path, MAX_BODY, &sc->text, &sc->len) != 0)
		return -1;
	if (parse(sc) != 0) {
		ctl_warn(cmd, "out of memory");
		scrape_free(sc);
		return -1;
	}
	return 0;
}

/*
 * label - the value of label key in labels into buf (unescaped, cut to
 * size); false when the label is not there.
 */
static bool
label(const char *labels, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key), o = 0;
	const char *p = labels;

	while (*p != '\0') {
		const char *k = p;
		bool match;

		p += strcspn(p, "=");
		if (*p != '=' || p[1] != '"')
			return false;
		match = (size_t)(p - k) == klen && strncmp(k, key, klen) == 0;
		for (p += 2; *p != '\0' && *p != '"'; p++) {
			char c = *p;

			if (c == '\\' && p[1] != '\0')
				c = *++p == 'n' ? '\n' : *p;
			if (match && o + 1 < size)
				buf[o++] = c;
		}
		if (match) {
			buf[o] = '\0';
			return true;
		}
		if (*p == '"')
			p++;
		p += strspn(p, ", ");
	}
	return false;
}

/* Does sample s carry label key = val?  val NULL: any value. */
static bool
has(const struct sample *s, const char *key, const char *val)
{
	char buf[128];

	if (key == NULL)
		return true;
	if (!label(s->labels, key, buf, sizeof(buf)))
		return false;
	return val == NULL || strcmp(buf, val) == 0;
}

/*
 * sum - the sum of the samples named name whose label key is val (key
 * NULL: all of them); with neg, whose label key is not val.
 */
static double
sum(const struct scrape *sc, const char *name, const char *key,
    const char *val, bool neg)
{
	double t = 0;

	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].name, name) == 0 &&
		    (key == NULL || has(&sc->s[i], key, val) != neg))
			t += sc->s[i].v;
	return t;
}

/*
 * delta - how much a counter grew from a to b.  A smaller value means the
 * master restarted between the scrapes: everything since is new.
 */
static double
delta(double a, double b)
{
	return b >= a ? b - a : b;
}

/* A cumulative histogram summed over series: bounds ascending. */
struct hist {
	double	le[MAX_LE];
	double	c[MAX_LE];
	size_t	n;
};

/*
 * hist_of - the request latency histogram of sc, every endpoint but
 * /metrics itself, summed by bound.
 */
static void
hist_of(const struct scrape *sc, struct hist *h)
{
	char buf[64], *end;

	h->n = 0;
	for (size_t i = 0; i < sc->n; i++) {
		const struct sample *s = &sc->s[i];
		double le;
		size_t j;

		if (strcmp(s->name, P_LAT) != 0 || has(s, "endpoint",
		    "metrics") || !label(s->labels, "le", buf, sizeof(buf)))
			continue;
		le = strcmp(buf, "+Inf") == 0 ? INFINITY : strtod(buf, &end);
		if (isnan(le))
			continue;
		for (j = 0; j < h->n && h->le[j] < le; j++)
			;
		if (j < h->n && h->le[j] == le) {
			h->c[j] += s->v;
			continue;
		}
		if (h->n == MAX_LE)
			continue;
		memmove(&h->le[j + 1], &h->le[j], (h->n - j) * sizeof(double));
		memmove(&h->c[j + 1], &h->c[j], (h->n - j) * sizeof(double));
		h->le[j] = le;
		h->c[j] = s->v;
		h->n++;
	}
}

/*
 * quantile - the q-quantile of cumulative histogram h the way
 * Prometheus' histogram_quantile estimates it: linear within the bucket
 * (the first bucket from 0); in the +Inf bucket, the highest finite
 * bound.  NAN when h holds no observation.
 */
static double
quantile(const struct hist *h, double q)
{
	double total, rank, lo = 0, prev = 0;

	if (h->n == 0 || (total = h->c[h->n - 1]) <= 0)
		return NAN;
	rank = q * total;
	for (size_t i = 0; i < h->n; i++) {
		if (h->c[i] >= rank && h->c[i] > prev) {
			if (isinf(h->le[i]))
				return lo;
			return lo + (h->le[i] - lo) * (rank - prev) /
			    (h->c[i] - prev);
		}
		if (!isinf(h->le[i]))
			lo = h->le[i];
		prev = h->c[i];
	}
	return lo;
}

/* The numbers the view shows; NAN: not known in this interval. */
struct view {
	double	dt;
	double	req_rate, req_total, err_rate, err_total, in_flight;
	double	p50, p99, p50_all, p99_all;
	double	hit_ratio, hit_ratio_all, cache_errors, cache_errors_total;
	double	build_rate, builds_total, stale_total;
	double	key_rate[MK_N];
	double	auth_fail_rate, auth_fail_total;
	double	auth[MA_N];		/* totals by outcome */
	double	mc_errors_total, sql_errors_total;
	double	starts, exits[MX_N], exits_total, reloads;
	size_t	workers;
	size_t	db_up;
	size_t	n_mc;
	char	mc_name[MAX_NAMES][128];
	size_t	mc_up[MAX_NAMES], mc_seen[MAX_NAMES];
};

/* ratio - a / b, NAN when b is 0. */
static double
ratio(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

/*
 * backends - workers and backend state from the per-process gauges of
 * sc: one mariadb_up line per live worker, one memcached_up line per
 * worker and server.
 */
static void
backends(const struct scrape *sc, struct view *v)
{
	char w[MAX_NAMES][128], buf[128];
	size_t nw = 0;

	for (size_t i = 0; i < sc->n; i++) {
		const struct sample *s = &sc->s[i];
		size_t j;

		if (strcmp(s->name, P_DBUP) == 0) {
			/* the primary's line: replicas have server="replicaN" */
			if (label(s->labels, "server", buf, sizeof(buf)) &&
			    strcmp(buf, "primary") != 0)
				continue;
			if (!label(s->labels, "worker", buf, sizeof(w[0])))
				continue;
			for (j = 0; j < nw && strcmp(w[j], buf) != 0; j++)
				;
			if (j == nw && nw < MAX_NAMES)
				snprintf(w[nw++], sizeof(w[0]), "%s", buf);
			if (s->v > 0)
				v->db_up++;
			continue;
		}
		if (strcmp(s->name, P_MCUP) != 0 ||
		    !label(s->labels, "server", buf, sizeof(buf)))
			continue;
		for (j = 0; j < v->n_mc && strcmp(v->mc_name[j], buf) != 0;
		    j++)
			;
		if (j == v->n_mc) {
			if (v->n_mc == MAX_NAMES)
				continue;
			snprintf(v->mc_name[v->n_mc++], sizeof(v->mc_name[0]),
			    "%s", buf);
		}
		v->mc_seen[j]++;
		if (s->v > 0)
			v->mc_up[j]++;
	}
	v->workers = nw;
}

/* compute - the view of the interval from scrape a to scrape b. */
static void
compute(const struct scrape *a, const struct scrape *b, struct view *v)
{
	struct hist ha, hb, hd;
	double hit, miss, hit_a, miss_a;
	const char *s;

	memset(v, 0, sizeof(*v));
	v->dt = b->t - a->t;
	if (v->dt <= 0)
		v->dt = NAN;

	v->req_total = sum(b, P_REQ, "endpoint", "metrics", true);
	v->req_rate = delta(sum(a, P_REQ, "endpoint", "metrics", true),
	    v->req_total) / v->dt;
	v->err_total = 0;
	for (unsigned i = 0; (s = metrics_label_value(MF_REQUESTS, 2, i)) !=
	    NULL; i++)
		if (s[0] == '5')
			v->err_total += sum(b, P_REQ, "status", s, false);
	{
		double ea = 0;

		for (unsigned i = 0; (s = metrics_label_value(MF_REQUESTS, 2,
		    i)) != NULL; i++)
			if (s[0] == '5')
				ea += sum(a, P_REQ, "status", s, false);
		v->err_rate = delta(ea, v->err_total) / v->dt;
	}
	v->in_flight = sum(b, P_FLIGHT, NULL, NULL, false);

	hist_of(a, &ha);
	hist_of(b, &hb);
	v->p50_all = quantile(&hb, 0.50);
	v->p99_all = quantile(&hb, 0.99);
	/* the interval's histogram: b minus a, bound by bound */
	hd = hb;
	for (size_t i = 0; i < hd.n; i++)
		for (size_t j = 0; j < ha.n; j++)
			if (ha.le[j] == hd.le[i])
				hd.c[i] = delta(ha.c[j], hd.c[i]);
	v->p50 = quantile(&hd, 0.50);
	v->p99 = quantile(&hd, 0.99);

	hit = sum(b, P_CACHE, "result", "hit", false);
	miss = sum(b, P_CACHE, "result", "miss", false);
	hit_a = sum(a, P_CACHE, "result", "hit", false);
	miss_a = sum(a, P_CACHE, "result", "miss", false);
	v->hit_ratio_all = ratio(hit, hit + miss);
	v->hit_ratio = ratio(delta(hit_a, hit), delta(hit_a, hit) +
	    delta(miss_a, miss));
	v->cache_errors_total = sum(b, P_CACHE, "result", "error", false);
	v->cache_errors = delta(sum(a, P_CACHE, "result", "error", false),
	    v->cache_errors_total) / v->dt;

	v->builds_total = sum(b, P_BUILT, NULL, NULL, false);
	v->build_rate = delta(sum(a, P_BUILT, NULL, NULL, false),
	    v->builds_total) / v->dt;
	v->stale_total = sum(b, P_STALE, NULL, NULL, false);
	for (unsigned i = 0; i < MK_N; i++) {
		s = metrics_label_value(MF_KEYS, 0, i);
		v->key_rate[i] = s == NULL ? 0 : delta(sum(a, P_KEYS,
		    "outcome", s, false), sum(b, P_KEYS, "outcome", s,
		    false)) / v->dt;
	}

	v->auth_fail_total = sum(b, P_AUTH, "outcome", "ok", true);
	v->auth_fail_rate = delta(sum(a, P_AUTH, "outcome", "ok", true),
	    v->auth_fail_total) / v->dt;
	for (unsigned i = 0; i < MA_N; i++)
		if ((s = metrics_label_value(MF_AUTH, 0, i)) != NULL)
			v->auth[i] = sum(b, P_AUTH, "outcome", s, false);
	v->mc_errors_total = sum(b, P_MCERR, NULL, NULL, false);
	v->sql_errors_total = sum(b, P_SQLERR, NULL, NULL, false);

	v->starts = sum(b, P_STARTS, NULL, NULL, false);
	for (unsigned i = 0; i < MX_N; i++)
		if ((s = metrics_label_value(MF_WORKER_EXITS, 0, i)) != NULL) {
			v->exits[i] = sum(b, P_EXITS, "cause", s, false);
			v->exits_total += v->exits[i];
		}
	v->reloads = sum(b, P_RELOAD, NULL, NULL, false);
	backends(b, v);
}

/* ---- output ---- */

/* A duration for people: us below 1 ms, ms below 1 s, else s. */
static void
put_secs(FILE *fp, double s)
{
	if (isnan(s))
		fputs("-", fp);
	else if (s < 0.001)
		fprintf(fp, "%.0f us", s * 1e6);
	else if (s < 1)
		fprintf(fp, "%.1f ms", s * 1e3);
	else
		fprintf(fp, "%.2f s", s);
}

static void
put_pct(FILE *fp, double r)
{
	if (isnan(r))
		fputs("-", fp);
	else
		fprintf(fp, "%.1f%%", r * 100);
}

static void
put_human(FILE *fp, const char *url, const struct view *v)
{
	bool first = true;

	fprintf(fp, "relaycfg status  %s  (over %.1f s)\n", url, v->dt);
	fprintf(fp, "requests   %.1f/s  (5xx %.1f/s)  in flight %.0f  "
	    "total %.0f  (5xx %.0f)\n", v->req_rate, v->err_rate, v->in_flight,
	    v->req_total, v->err_total);
	fputs("latency    p50 ", fp);
	put_secs(fp, v->p50);
	fputs("  p99 ", fp);
	put_secs(fp, v->p99);
	fputs("  (since start: p50 ", fp);
	put_secs(fp, v->p50_all);
	fputs(", p99 ", fp);
	put_secs(fp, v->p99_all);
	fputs(")\n", fp);
	fputs("keys      ", fp);
	for (unsigned i = 0; i < MK_N; i++)
		fprintf(fp, " %s %.1f/s", metrics_label_value(MF_KEYS, 0, i),
		    v->key_rate[i]);
	fputs("\ncache      hit ratio ", fp);
	put_pct(fp, v->hit_ratio);
	fputs("  (since start ", fp);
	put_pct(fp, v->hit_ratio_all);
	fprintf(fp, ")  errors %.1f/s (total %.0f)\n", v->cache_errors,
	    v->cache_errors_total);
	fprintf(fp, "builds     %.1f/s  total %.0f  stale served %.0f\n",
	    v->build_rate, v->builds_total, v->stale_total);
	fprintf(fp, "auth       failures %.1f/s  total %.0f", v->auth_fail_rate,
	    v->auth_fail_total);
	for (unsigned i = 1; i < MA_N; i++)	/* 0 is "ok" */
		if (v->auth[i] > 0) {
			fprintf(fp, "%s%s %.0f", first ? " (" : ", ",
			    metrics_label_value(MF_AUTH, 0, i), v->auth[i]);
			first = false;
		}
	fputs(first ? "\n" : ")\n", fp);
	fprintf(fp, "workers    %zu running  started %.0f  exited %.0f",
	    v->workers, v->starts, v->exits_total);
	first = true;
	for (unsigned i = 0; i < MX_N; i++)
		if (v->exits[i] > 0) {
			fprintf(fp, "%s%s %.0f", first ? " (" : ", ",
			    metrics_label_value(MF_WORKER_EXITS, 0, i),
			    v->exits[i]);
			first = false;
		}
	fprintf(fp, "%s  reloads %.0f\n", first ? "" : ")", v->reloads);
	fprintf(fp, "mariadb    %s  (up in %zu of %zu workers)  errors %.0f\n",
	    v->workers == 0 ? "unknown" : v->db_up == v->workers ? "up" :
	    v->db_up == 0 ? "DOWN" : "partly down", v->db_up, v->workers,
	    v->sql_errors_total);
	for (size_t j = 0; j < v->n_mc; j++) {
		/* the name comes from the scrape: escaped */
		fputs("memcached  ", fp);
		ctl_put_safe(fp, v->mc_name[j]);
		fprintf(fp, " %s  (up in %zu of %zu workers)\n",
		    v->mc_up[j] == v->mc_seen[j] ? "up" :
		    v->mc_up[j] == 0 ? "DOWN" : "partly down", v->mc_up[j],
		    v->mc_seen[j]);
	}
	if (v->n_mc > 0 || v->mc_errors_total > 0)
		fprintf(fp, "memcached  errors %.0f\n", v->mc_errors_total);
}

/* Doubles hold every integer up to this exactly. */
#define JNUM_EXACT	9007199254740992.0	/* 2^53 */

/*
 * jnum - a number, or null when not known: an integral value within
 * +-2^53 (a counter, a gauge, a zero rate) as a JSON integer, anything
 * else (a rate, a duration, a ratio) with its fraction, in the fewest
 * digits that read back as the same double (0.9, not 0.90000000000000002).
 */
static json_object *
jnum(double d)
{
	char buf[40];
	size_t n;

	if (isnan(d) || isinf(d))
		return NULL;
	if (d == trunc(d) && fabs(d) <= JNUM_EXACT)
		return json_object_new_int64((int64_t)d);
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* %g drops ".0": past 2^53 say it is no exact integer. */
	if (strpbrk(buf, ".e") == NULL && (n = strlen(buf)) + 3 <= sizeof(buf))
		memcpy(buf + n, ".0", 3);
	return json_object_new_double_s(d, buf);
}

/*
 * jset - obj[key] = val (NULL stands for JSON null).  False on OOM; val
 * is taken in every case.
 */
static bool
jset(json_object *obj, const char *key, json_object *val)
{
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return false;
	}
	return true;
}

/* put_json - the view as one JSON object on one line; -1 on OOM. */
static int
put_json(FILE *fp, const char *url, const struct view *v)
{
	json_object *o, *k = NULL, *au = NULL, *ex = NULL, *mc = NULL, *e;
	bool ok;
	int rc = -1;

	if ((o = json_object_new_object()) == NULL ||
	    (k = json_object_new_object()) == NULL ||
	    (au = json_object_new_object()) == NULL ||
	    (ex = json_object_new_object()) == NULL ||
	    (mc = json_object_new_array()) == NULL)
		goto out;
	ok = jset(o, "url", json_object_new_string(url)) &&
	    jset(o, "interval_seconds", jnum(v->dt)) &&
	    jset(o, "requests_per_second", jnum(v->req_rate)) &&
	    jset(o, "requests_total", jnum(v->req_total)) &&
	    jset(o, "errors_5xx_per_second", jnum(v->err_rate)) &&
	    jset(o, "errors_5xx_total", jnum(v->err_total)) &&
	    jset(o, "in_flight", jnum(v->in_flight)) &&
	    jset(o, "latency_p50_seconds", jnum(v->p50)) &&
	    jset(o, "latency_p99_seconds", jnum(v->p99)) &&
	    jset(o, "latency_p50_seconds_since_start", jnum(v->p50_all)) &&
	    jset(o, "latency_p99_seconds_since_start", jnum(v->p99_all)) &&
	    jset(o, "cache_hit_ratio", jnum(v->hit_ratio)) &&
	    jset(o, "cache_hit_ratio_since_start", jnum(v->hit_ratio_all)) &&
	    jset(o, "cache_errors_per_second", jnum(v->cache_errors)) &&
	    jset(o, "cache_errors_total", jnum(v->cache_errors_total)) &&
	    jset(o, "builds_per_second", jnum(v->build_rate)) &&
	    jset(o, "builds_total", jnum(v->builds_total)) &&
	    jset(o, "stale_served_total", jnum(v->stale_total)) &&
	    jset(o, "auth_failures_per_second", jnum(v->auth_fail_rate)) &&
	    jset(o, "auth_failures_total", jnum(v->auth_fail_total)) &&
	    jset(o, "memcached_errors_total", jnum(v->mc_errors_total)) &&
	    jset(o, "mariadb_errors_total", jnum(v->sql_errors_total)) &&
	    jset(o, "workers", json_object_new_int64((int64_t)v->workers)) &&
	    jset(o, "worker_starts_total", jnum(v->starts)) &&
	    jset(o, "worker_exits_total", jnum(v->exits_total)) &&
	    jset(o, "reloads_total", jnum(v->reloads)) &&
	    jset(o, "mariadb_up_workers",
	    json_object_new_int64((int64_t)v->db_up));
	for (unsigned i = 0; ok && i < MK_N; i++)
		ok = jset(k, metrics_label_value(MF_KEYS, 0, i),
		    jnum(v->key_rate[i]));
	for (unsigned i = 1; ok && i < MA_N; i++)
		ok = jset(au, metrics_label_value(MF_AUTH, 0, i),
		    jnum(v->auth[i]));
	for (unsigned i = 0; ok && i < MX_N; i++)
		ok = jset(ex, metrics_label_value(MF_WORKER_EXITS, 0, i),
		    jnum(v->exits[i]));
	for (size_t j = 0; ok && j < v->n_mc; j++) {
		if ((e = json_object_new_object()) == NULL ||
		    json_object_array_add(mc, e) != 0) {
			json_object_put(e);
			ok = false;
			break;
		}
		ok = jset(e, "server", json_object_new_string(v->mc_name[j])) &&
		    jset(e, "up_workers", json_object_new_int64(
		    (int64_t)v->mc_up[j])) &&
		    jset(e, "workers", json_object_new_int64(
		    (int64_t)v->mc_seen[j]));
	}
	/* o takes each sub-object, so out puts them only until then */
	if (!ok || !jset(o, "keys_per_second", k))
		goto out;
	k = NULL;
	if (!jset(o, "auth_failures_by_outcome", au))
		goto out;
	au = NULL;
	if (!jset(o, "worker_exits_by_cause", ex))
		goto out;
	ex = NULL;
	if (!jset(o, "memcached", mc))
		goto out;
	mc = NULL;
	/* server names from the scrape: C1 escaped on a terminal */
	ctl_put_json(fp, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fputc('\n', fp);
	rc = 0;
out:
	json_object_put(k);
	json_object_put(au);
	json_object_put(ex);
	json_object_put(mc);
	json_object_put(o);
	if (rc != 0)
		ctl_warn(cmd, "out of memory");
	return rc;
}

/* ---- the command ---- */

static const char status_usage[] =
    "usage: relaycfgctl status [--url URL] [--header 'N: V']...\n"
    "           [--interval SECONDS] [--json] [--watch [SECONDS]]\n"
    "           [--previous FILE]\n"
    "\n"
    "Read the server's /metrics twice, an interval apart, and show rates,\n"
    "latency percentiles, the cache hit ratio, builds, auth failures, the\n"
    "workers and the backends' state.\n"
    "\n"
    "  --url URL             the metrics URL (default " DEFAULT_URL "),\n"
    "                        or file:PATH for a saved scrape\n"
    "  --header 'N: V'       send header N (repeatable), e.g.\n"
    "                        'Host: sentry.example.org' to reach a\n"
    "                        name-based vhost through 127.0.0.1\n"
    "  --interval SECONDS    time between the two scrapes (default 1)\n"
    "  --json                one JSON object per view\n"
    "  --watch [SECONDS]     refresh every SECONDS (default 2) like top,\n"
    "                        until interrupted\n"
    "  --previous FILE       use a saved scrape as the first one, taken\n"
    "                        --interval seconds before the URL is read\n";

/* secs - a positive number of seconds (up to a day); false if not. */
static bool
secs(const char *s, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !(d > 0) || d > 86400)
		return false;
	*out = d;
	return true;
}

/* nap - sleep d seconds or until SIGINT. */
static void
nap(double d)
{
	struct timespec ts, rem;

	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	while (!stop && nanosleep(&ts, &rem) != 0 && errno == EINTR)
		ts = rem;
}

/* show - one view, in the chosen form; -1 on OOM. */
static int
show(const char *url, const struct scrape *a, const struct scrape *b,
    bool json, bool clear)
{
	struct view v;

	compute(a, b, &v);
	if (json)
		return put_json(stdout, url, &v);
	if (clear)
		fputs("\033[H\033[2J", stdout);	/* home, clear: as top does */
	put_human(stdout, url, &v);
	return 0;
}

/*
 * ctl_status_main - relaycfgctl status; its exit status: 0 shown (or
 * --watch ended by SIGINT), 1 a scrape failed, 2 usage.
 */
int
ctl_status_main(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "url",	required_argument, NULL, 'u' },
		{ "header",	required_argument, NULL, 'H' },
		{ "interval",	required_argument, NULL, 'i' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "watch",	optional_argument, NULL, 'w' },
		{ "previous",	required_argument, NULL, 'p' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct scrape a = { NULL, 0, NULL, 0, 0 }, b = a;
	struct sigaction sa;
	const char *url = DEFAULT_URL, *previous = NULL;
	double interval = DEFAULT_INTERVAL, every = 0;
	bool json = o->json, watch = false, curl_up = false;
	int ch, rc = 2;

	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'H':
			if (strchr(optarg, ':') == NULL &&
			    strchr(optarg, ';') == NULL) {
				ctl_warn(cmd, "--header: expected \"Name: "
				    "value\"");
				goto out;
			}
			if (!ctl_push(cmd, &hdrs, &n_hdrs, optarg))
				goto out;
			break;
		case 'j': json = true; break;
		case 'p': previous = optarg; break;
		case 'i':
			if (!secs(optarg, &interval)) {
				ctl_warn(cmd, "--interval: not a number of "
				    "seconds: %s", optarg);
				goto out;
			}
			break;
		case 'w':
			watch = true;
			every = DEFAULT_WATCH;
			/* "--watch 5" as well as "--watch=5" */
			if (optarg == NULL && optind < argc &&
			    secs(argv[optind], &every))
				optind++;
			else if (optarg != NULL && !secs(optarg, &every)) {
				ctl_warn(cmd, "--watch: not a number of "
				    "seconds: %s", optarg);
				goto out;
			}
			break;
		case 'h':
			fputs(status_usage, stdout);
			rc = 0;
			goto out;
		default:
			fputs(status_usage, stderr);
			goto out;
		}
	}
	if (optind != argc) {
		fputs(status_usage, stderr);
		goto out;
	}
	rc = 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ctl_warn(cmd, "libcurl cannot start");
		goto out;
	}
	curl_up = true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: SIGINT cuts the sleep short */
	if (watch && (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0))
		goto out;

	if (previous != NULL) {
		if (read_scrape(previous, &a) != 0)
			goto out;
		a.t = NAN;	/* interval before the first fetch, below */
	} else {
		if (fetch(url, &a) != 0)
			goto out;
		nap(watch ? every : interval);
		if (stop) {
			rc = 0;
			goto out;
		}
	}
	for (;;) {
		if (fetch(url, &b) != 0)
			goto out;
		if (isnan(a.t))
			a.t = b.t - interval;
		if (show(url, &a, &b, json, watch) != 0)
			goto out;
		fflush(stdout);
		if (!watch)
			break;
		scrape_free(&a);
		a = b;
		memset(&b, 0, sizeof(b));
		nap(every);
		if (stop)
			break;
	}
	rc = 0;
out:
	scrape_free(&a);
	scrape_free(&b);
	if (curl_up)
		curl_global_cleanup();
	free(hdrs);
	hdrs = NULL;
	n_hdrs = 0;
	return rc;
}
