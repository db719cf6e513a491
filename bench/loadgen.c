/*
 * loadgen.c - relaycfg's load generator: keep-alive HTTP/1.1 connections
 * to nginx on loopback, requests signed exactly as Relay signs them.
 *
 * Every body is generated as Relay serialises it and signed with the
 * project's relayauth_sign (Relay's SecretKey::sign_with_header) at the
 * start of the scenario, so every signature is inside the 300 s window
 * for the whole scenario.  Headers are Relay's: Content-Type,
 * X-Sentry-Relay-Id, X-Sentry-Relay-Signature, Accept-Encoding: gzip.
 *
 * One thread, epoll, C connections, closed loop (a connection sends its
 * next request when the previous answer is complete).  A run is either
 * D seconds (throughput = answers completed in the window / D; latency =
 * those answers) or, with --requests, exactly N requests each using its
 * own body once (cold runs).  Every latency is kept, so percentiles are
 * exact (nearest rank).  Any non-200 answer or connection error makes the
 * run invalid: it is counted and printed, never hidden.
 *
 * With --cpu NAME=PIDS, each run also reports the CPU time those
 * processes used per answer (cpu_NAME_ms), loadgen's own, the whole
 * machine's (cpu_machine_ms: anything else running shows up there) and
 * the machine's idle share.
 *
 * Output, one line per run and a summary (median, min and max of runs):
 *	run label=S2 run=1 ... rps=... p50_ms=... p99_ms=... non200=0
 *	summary label=S2 ... rps_med=... rps_min=... rps_max=... valid=yes
 *
 * With --expect FILE (the fault tests, tests/integration/t_fault_*.sh)
 * loadgen is a checker instead: one phase of --duration seconds or
 * --requests N, every answer inflated (gzip) and compared with what the
 * data says for each requested key ("KEY live PROJECT_ID" or "KEY
 * disabled" per line of FILE), connection errors and answers later than
 * --answer-timeout counted, never fatal.  --mix-batch B makes every
 * --mix-every N-th body (default: every 2nd) B keys long; every third
 * body asks for identity.  One line:
 *	verify label=L secs=... answers=... ok=... failed=... status5xx=...
 *	    status4xx=... errors=... timeouts=... wrong=... pending=...
 *	    slow=... rps=...
 * (timeouts: the errors that were an answer not complete within
 * --answer-timeout) and the exit status is 0 only when failed=0.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <zlib.h>

#include "bench_common.h"

#define PREWARM_BATCH	500	/* Relay's cache.batch_size */
#define MAX_CONNS	1024
#define MAX_RUNS	32

struct req {
	char		*body;
	size_t		 body_len;
	size_t		 nkeys;
	size_t		*idx;		/* key indices, nkeys of them */
	char		*wire;		/* the whole HTTP request */
	size_t		 wire_len;
};

struct conn {
	int		 fd;
	bool		 busy;
	struct req	*r;
	size_t		 ri;		/* index of r in the phase */
	size_t		 sent;
	char		*buf;
	size_t		 len, cap;
	uint64_t	 t0;
	bool		 want_out;
};

struct phase;
struct answer;
typedef void (*resp_fn)(struct phase *, size_t ri, int status,
    const char *body, size_t len);
/* Verify mode: the whole answer (c->buf), its parse and its latency. */
typedef void (*answer_fn)(struct phase *, struct conn *,
    const struct answer *, uint64_t lat_ns);

struct phase {
	struct req	*reqs;
	size_t		 nreq;
	size_t		 next;
	bool		 cycle;		/* wrap around (duration runs) */
	uint64_t	 t_begin, t_end;	/* t_end 0: until reqs run out */
	bool		 record;
	bool		 keep_body;	/* dechunk answers for on_resp */
	resp_fn		 on_resp;
	void		*ctx;
	/* verify mode (--expect) */
	answer_fn	 on_answer;
	size_t		 limit;		/* requests to start, 0: no limit */
	size_t		 started;
	uint64_t	 answer_timeout;	/* ns, 0: none; then it fails */
	/* results */
	uint64_t	*lat;
	size_t		 nlat, caplat;
	uint64_t	 done_all;	/* every answer, in window or not */
	uint64_t	 wire_bytes, body_bytes, keys;
	uint64_t	 non200, errors;
	uint64_t	 timeouts;	/* errors that were --answer-timeout */
	int		 first_bad_status;
	uint64_t	 t_first, t_last;
};

struct opts {
	const char	*host;
	int		 port;
	const char	*path;
	const char	*creds;
	const char	*keys;
	const char	*label;
	size_t		 batch;
	size_t		 bodies;
	size_t		 working_set;
	uint64_t	 seed;
	bool		 fresh, global, gzip, prewarm, unchanged, check;
	int		 conns;
	double		 duration, warmup;
	int		 runs;
	double		 max_other;	/* % of the machine's CPU, else redo */
	size_t		 requests;
	const char	*before_run;
	const char	*counter_cmd;
	const char	*expect;	/* verify mode */
	size_t		 mix_batch, mix_every;
	bool		 allow_pending, timeline;
	double		 slow_ms, answer_timeout;
};

static struct conn conns[MAX_CONNS];
static int nconns;
static int epfd;
static struct sockaddr_in target;
static struct bench_creds creds;
static struct opts o;

/* ---- connections ------------------------------------------------------ */

static void
conn_open(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1;

	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		bench_die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&target, sizeof(target)) != 0)
		bench_die("connect %s:%d: %s", o.host, o.port, strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		bench_die("epoll_ctl: %s", strerror(errno));
	c->want_out = false;
	c->len = 0;
	if (c->buf == NULL) {
		c->cap = 1 << 16;
		if ((c->buf = malloc(c->cap)) == NULL)
			bench_die("out of memory");
	}
}

static void
conn_close(struct conn *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

static void
conn_want_out(struct conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0) };

	if (c->want_out == on)
		return;
	ev.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = on;
}

/* ---- HTTP/1.1 answers ------------------------------------------------- */

struct answer {
	int	 status;
	size_t	 total;		/* bytes of the whole answer */
	size_t	 hdr;		/* offset of the body */
	size_t	 payload;	/* body bytes (dechunked) */
	bool	 chunked;
	bool	 close;
};

static const char *
find_header(const char *h, size_t hlen, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i + nl + 2 < hlen; i++)
		if (h[i] == '\n' && strncasecmp(h + i + 1, name, nl) == 0 &&
		    h[i + 1 + nl] == ':') {
			const char *v = h + i + 2 + nl;
			while (*v == ' ')
				v++;
			return v;
		}
	return NULL;
}

/* 1: complete (a filled), 0: need more, -1: not HTTP we understand. */
static int
answer_parse(const char *b, size_t len, struct answer *a)
{
	const char *end, *v;

	memset(a, 0, sizeof(*a));
	if ((end = memmem(b, len, "\r\n\r\n", 4)) == NULL)
		return len > 65536 ? -1 : 0;
	a->hdr = (size_t)(end - b) + 4;
	if (len < 12 || memcmp(b, "HTTP/1.", 7) != 0)
		return -1;
	a->status = atoi(b + 9);
	if ((v = find_header(b, a->hdr, "connection")) != NULL &&
	    strncasecmp(v, "close", 5) == 0)
		a->close = true;
	if ((v = find_header(b, a->hdr, "transfer-encoding")) != NULL &&
	    strncasecmp(v, "chunked", 7) == 0) {
		size_t p = a->hdr;

		a->chunked = true;
		for (;;) {
			const char *nl = memmem(b + p, len - p, "\r\n", 2);
			char *e;
			unsigned long sz;

			if (nl == NULL)
				return 0;
			sz = strtoul(b + p, &e, 16);
			if (e == b + p)
				return -1;
			p = (size_t)(nl - b) + 2;
			if (sz == 0) {
				if (len < p + 2)
					return 0;
				a->total = p + 2;
				return 1;
			}
			if (len < p + sz + 2)
				return 0;
			a->payload += sz;
			p += sz + 2;
		}
	}
	if ((v = find_header(b, a->hdr, "content-length")) != NULL) {
		a->payload = strtoul(v, NULL, 10);
		if (len < a->hdr + a->payload)
			return 0;
		a->total = a->hdr + a->payload;
		return 1;
	}
	/* No length: the body ends when the connection does. */
	return -1;
}

/* The payload of a complete answer, dechunked, malloc'd. */
static char *
answer_body(const char *b, const struct answer *a)
{
	char *out = malloc(a->payload + 1);
	size_t o_ = 0, p = a->hdr;

	if (out == NULL)
		bench_die("out of memory");
	if (!a->chunked)
		memcpy(out, b + a->hdr, a->payload), o_ = a->payload;
	else
		for (;;) {
			unsigned long sz = strtoul(b + p, NULL, 16);
			p = (size_t)((const char *)memmem(b + p, a->total - p,
			    "\r\n", 2) - b) + 2;
			if (sz == 0)
				break;
			memcpy(out + o_, b + p, sz);
			o_ += sz;
			p += sz + 2;
		}
	out[o_] = '\0';
	return out;
}

/* ---- the event loop --------------------------------------------------- */

static void
record(struct phase *ph, uint64_t ns)
{
	if (ph->nlat == ph->caplat) {
		ph->caplat = ph->caplat ? ph->caplat * 2 : 65536;
		if ((ph->lat = realloc(ph->lat, ph->caplat * sizeof(*ph->lat)))
		    == NULL)
			bench_die("out of memory");
	}
	ph->lat[ph->nlat++] = ns;
}

static bool
conn_send(struct conn *c)
{
	while (c->sent < c->r->wire_len) {
		ssize_t n = write(c->fd, c->r->wire + c->sent,
		    c->r->wire_len - c->sent);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_want_out(c, true);
				return true;
			}
			return false;
		}
		c->sent += (size_t)n;
	}
	conn_want_out(c, false);
	return true;
}

/* Start the phase's next request on c, if there is one. */
static bool
conn_start(struct phase *ph, struct conn *c, uint64_t now)
{
	if (ph->t_end != 0 && now >= ph->t_end)
		return false;
	if (ph->limit != 0 && ph->started >= ph->limit)
		return false;
	if (ph->next >= ph->nreq) {
		if (!ph->cycle || ph->nreq == 0)
			return false;
		ph->next = 0;
	}
	c->ri = ph->next++;
	ph->started++;
	c->r = &ph->reqs[c->ri];
	c->sent = 0;
	c->len = 0;
	c->busy = true;
	c->t0 = now;
	if (ph->t_first == 0)
		ph->t_first = now;
	if (!conn_send(c)) {
		/* A kept connection the server closed meanwhile: retry once. */
		conn_close(c);
		conn_open(c);
		c->sent = 0;
		if (!conn_send(c))
			bench_die("cannot send: %s", strerror(errno));
	}
	return true;
}

static void
conn_failed(struct phase *ph, struct conn *c, const char *why)
{
	if (ph->errors < 5)
		fprintf(stderr, "loadgen: %s: connection error: %s\n",
		    o.label, why);
	ph->errors++;
	c->busy = false;
	conn_close(c);
	conn_open(c);
	/* A checker goes on: the next answers are what it is counting. */
	if (ph->on_answer != NULL)
		conn_start(ph, c, bench_now_ns());
}

static void
conn_readable(struct phase *ph, struct conn *c)
{
	for (;;) {
		struct answer a;
		ssize_t n;
		int rc;

		if (c->cap - c->len < 16384) {
			c->cap *= 2;
			if ((c->buf = realloc(c->buf, c->cap)) == NULL)
				bench_die("out of memory");
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (c->busy)
				conn_failed(ph, c, n == 0 ? "closed by peer" :
				    strerror(errno));
			else {
				conn_close(c);
				conn_open(c);
			}
			return;
		}
		c->len += (size_t)n;
		if (!c->busy)
			continue;	/* unsolicited bytes: ignore */
		if ((rc = answer_parse(c->buf, c->len, &a)) == 0)
			continue;
		if (rc < 0) {
			conn_failed(ph, c, "unparsable answer");
			return;
		}
		uint64_t now = bench_now_ns();
		c->busy = false;
		ph->done_all++;
		ph->t_last = now;
		bool in_window = ph->t_end == 0 || now <= ph->t_end;
		if (ph->record && in_window) {
			record(ph, now - c->t0);
			ph->wire_bytes += a.total;
			ph->body_bytes += a.payload;
			ph->keys += c->r->nkeys;
		}
		if (a.status != 200) {
			if (ph->non200 < 3) {
				char *body = answer_body(c->buf, &a);
				fprintf(stderr, "loadgen: %s: HTTP %d: %.300s\n",
				    o.label, a.status, body);
				free(body);
			}
			if (ph->first_bad_status == 0)
				ph->first_bad_status = a.status;
			ph->non200++;
		}
		if (ph->on_answer != NULL)
			ph->on_answer(ph, c, &a, now - c->t0);
		if (ph->on_resp != NULL) {
			char *body = ph->keep_body ? answer_body(c->buf, &a) :
			    NULL;
			ph->on_resp(ph, c->ri, a.status, body,
			    body ? strlen(body) : 0);
			free(body);
		}
		if (a.close || c->len != a.total) {
			conn_close(c);
			conn_open(c);
		}
		c->len = 0;
		conn_start(ph, c, now);
		return;
	}
}

static void
phase_run(struct phase *ph)
{
	struct epoll_event evs[MAX_CONNS];
	uint64_t now = bench_now_ns();
	int busy;

	for (int i = 0; i < nconns; i++)
		conn_start(ph, &conns[i], now);
	for (;;) {
		int timeout = 1000, n;

		busy = 0;
		for (int i = 0; i < nconns; i++)
			busy += conns[i].busy;
		now = bench_now_ns();
		if (busy == 0)
			break;
		if (ph->t_end != 0 && now < ph->t_end)
			timeout = (int)((ph->t_end - now) / 1000000) + 1;
		if (ph->answer_timeout != 0 && timeout > 100)
			timeout = 100;
		n = epoll_wait(epfd, evs, MAX_CONNS, timeout);
		if (n < 0 && errno != EINTR)
			bench_die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if ((evs[i].events & EPOLLOUT) && c->busy &&
			    !conn_send(c)) {
				conn_failed(ph, c, strerror(errno));
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				conn_readable(ph, c);
		}
		if (ph->answer_timeout != 0) {
			now = bench_now_ns();
			for (int i = 0; i < nconns; i++)
				if (conns[i].busy &&
				    now - conns[i].t0 > ph->answer_timeout) {
					char why[128];

					snprintf(why, sizeof(why), "no answer "
					    "in time (sent %zu of %zu bytes, "
					    "got %zu)", conns[i].sent,
					    conns[i].r->wire_len, conns[i].len);
					ph->timeouts++;
					conn_failed(ph, &conns[i], why);
				}
		}
		/* Stalled for 30 s past the end: give up on those. */
		if (ph->t_end != 0 && now > ph->t_end + 30000000000ULL) {
			for (int i = 0; i < nconns; i++)
				if (conns[i].busy)
					conn_failed(ph, &conns[i], "timeout");
			break;
		}
	}
}

/* ---- requests --------------------------------------------------------- */

static void
req_wire(struct req *r, bool gzip, int64_t sec, long nsec)
{
	char *sig;
	enum relayauth_status st;
	size_t cap;

	if ((st = relayauth_sign(creds.sk, r->body, r->body_len, sec, nsec,
	    &sig)) != RELAYAUTH_OK)
		bench_die("relayauth_sign: %s", relayauth_status_str(st));
	free(r->wire);
	cap = r->body_len + strlen(sig) + strlen(o.path) + 512;
	if ((r->wire = malloc(cap)) == NULL)
		bench_die("out of memory");
	/* Header names as hyper writes them (lowercase on HTTP/1.1). */
	r->wire_len = (size_t)snprintf(r->wire, cap,
	    "POST %s HTTP/1.1\r\n"
	    "host: %s:%d\r\n"
	    "content-type: application/json\r\n"
	    "x-sentry-relay-id: %s\r\n"
	    "x-sentry-relay-signature: %s\r\n"
	    "%s"
	    "content-length: %zu\r\n"
	    "\r\n",
	    o.path, o.host, o.port, creds.id, sig,
	    gzip ? "accept-encoding: gzip\r\n" : "", r->body_len);
	memcpy(r->wire + r->wire_len, r->body, r->body_len);
	r->wire_len += r->body_len;
	free(sig);
}

static void
sign_all(struct req *reqs, size_t n, bool gzip)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	for (size_t i = 0; i < n; i++)
		req_wire(&reqs[i], gzip, (int64_t)ts.tv_sec, ts.tv_nsec);
}

static void
req_set_body(struct req *r, char **keys, const size_t *idx, size_t n,
    char **revs_by_key)
{
	char **revs = NULL;

	if (revs_by_key != NULL) {
		if ((revs = calloc(n + 1, sizeof(*revs))) == NULL)
			bench_die("out of memory");
		for (size_t i = 0; i < n; i++)
			revs[i] = revs_by_key[idx[i]];
	}
	free(r->body);
	r->body = bench_body_keys(keys, idx, n, revs, &r->body_len);
	r->nkeys = n;
	free(revs);
}

/* ---- checks ----------------------------------------------------------- */

struct check {
	size_t	 answers, configs, disabled, pending, unchanged, bad;
	size_t	 globals;
	uint64_t bytes;
	char	**keys;
	char	**revs;		/* by key index: filled from answers */
};

static void
check_answer(struct phase *ph, size_t ri, int status, const char *body,
    size_t len)
{
	struct check *ck = ph->ctx;
	struct req *r = &ph->reqs[ri];
	json_object *root, *configs = NULL, *v;

	ck->answers++;
	ck->bytes += len;
	if (status != 200 || body == NULL ||
	    (root = json_tokener_parse(body)) == NULL) {
		ck->bad++;
		return;
	}
	if (json_object_object_get_ex(root, "global", &v) &&
	    json_object_is_type(v, json_type_object))
		ck->globals++;
	if (json_object_object_get_ex(root, "pending", &v))
		ck->pending += json_object_array_length(v);
	if (json_object_object_get_ex(root, "unchanged", &v))
		ck->unchanged += json_object_array_length(v);
	json_object_object_get_ex(root, "configs", &configs);
	for (size_t i = 0; i < r->nkeys && configs != NULL; i++) {
		json_object *cfg, *d, *rev;
		const char *k = ck->keys[r->idx[i]];

		if (!json_object_object_get_ex(configs, k, &cfg))
			continue;
		ck->configs++;
		if (json_object_object_get_ex(cfg, "disabled", &d) &&
		    json_object_get_boolean(d))
			ck->disabled++;
		if (ck->revs != NULL &&
		    json_object_object_get_ex(cfg, "rev", &rev) &&
		    json_object_is_type(rev, json_type_string)) {
			free(ck->revs[r->idx[i]]);
			ck->revs[r->idx[i]] =
			    strdup(json_object_get_string(rev));
		}
	}
	json_object_put(root);
}

/* ---- verify mode (--expect): every answer checked ---------------------- */

enum expect_state { EXPECT_LIVE, EXPECT_DISABLED };

struct verify {
	char		**keys;
	enum expect_state *state;	/* by key index */
	long		*project;	/* by key index, live keys */
	bool		 allow_pending;
	uint64_t	 slow_ns;
	uint64_t	 answers, ok, status5xx, status4xx, wrong, pending, slow;
	/* per TICK_MS of the phase: ok answers and failures */
	uint32_t	 tick_ok[1200], tick_bad[1200];
	uint64_t	 t0;
};
#define TICK_MS	250

/*
 * FILE: "KEY live PROJECT_ID" or "KEY disabled" per line.  Fills the key
 * list (as bench_keys_load) and the verify expectations; exits on error.
 */
static char **
expect_load(const char *path, size_t *n, struct verify *v)
{
	FILE *f;
	char line[256], key[64], what[16];
	char **keys = NULL;
	size_t cap = 0;
	long proj;
	int nf;

	*n = 0;
	if ((f = fopen(path, "r")) == NULL)
		bench_die("%s: cannot open", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		proj = 0;
		if ((nf = sscanf(line, "%63s %15s %ld", key, what, &proj)) < 1)
			continue;
		if (strlen(key) != 32 || nf < 2 ||
		    (strcmp(what, "live") == 0 ? nf != 3 || proj <= 0 :
		    strcmp(what, "disabled") != 0))
			bench_die("%s: \"%.80s\": want KEY live PROJECT_ID or "
			    "KEY disabled", path, line);
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((keys = realloc(keys, cap * sizeof(*keys))) == NULL ||
			    (v->state = realloc(v->state,
			    cap * sizeof(*v->state))) == NULL ||
			    (v->project = realloc(v->project,
			    cap * sizeof(*v->project))) == NULL)
				bench_die("out of memory");
		}
		if ((keys[*n] = strdup(key)) == NULL)
			bench_die("out of memory");
		v->state[*n] = what[0] == 'l' ? EXPECT_LIVE : EXPECT_DISABLED;
		v->project[*n] = proj;
		(*n)++;
	}
	fclose(f);
	if (*n == 0)
		bench_die("%s: no keys", path);
	v->keys = keys;
	return keys;
}

/* A whole gzip member, nothing after it; malloc'd and NUL-terminated. */
static char *
gunzip_all(const char *in, size_t inlen, size_t *outlen)
{
	z_stream zs;
	size_t cap = inlen * 8 + 1024;
	char *out = malloc(cap);
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (out == NULL || inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(out);
		return NULL;
	}
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (uInt)inlen;
	do {
		if (zs.total_out + 1 >= cap) {
			char *n = realloc(out, cap *= 2);
			if (n == NULL)
				break;
			out = n;
		}
		zs.next_out = (unsigned char *)out + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out - 1);
		rc = inflate(&zs, Z_NO_FLUSH);
	} while (rc == Z_OK);
	if (rc != Z_STREAM_END || zs.avail_in != 0) {
		inflateEnd(&zs);
		free(out);
		return NULL;
	}
	*outlen = zs.total_out;
	out[*outlen] = '\0';
	inflateEnd(&zs);
	return out;
}

/*
 * A strict JSON scanner (RFC 8259) that allocates nothing, so that the
 * checker keeps up with relaycfg even under ASan: it validates the whole
 * answer and keeps, for each member of "configs", its key, its "disabled"
 * flag, its "projectId", whether "config" is an object and how many
 * members it has; and the strings of "pending" and the length of
 * "unchanged".
 */
#define SCAN_MAX	1024

struct scan_cfg {
	const char	*key;
	size_t		 klen;
	int		 disabled;	/* -1 absent, 0, 1 */
	long long	 project;	/* -1 absent */
	bool		 has_config;
	size_t		 members;
};

struct scan {
	const char	*end;
	struct scan_cfg	 cfg[SCAN_MAX];
	size_t		 ncfg;
	const char	*pend[SCAN_MAX];
	size_t		 pendlen[SCAN_MAX], npend;
	size_t		 nunchanged;
	bool		 has_configs, overflow;
};

static const char *scan_value(struct scan *, const char *, int);

static const char *
scan_ws(struct scan *s, const char *p)
{
	while (p < s->end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	return p;
}

/* A string at p (at '"'); *str and *len: its raw content. */
static const char *
scan_string(struct scan *s, const char *p, const char **str, size_t *len)
{
	if (p >= s->end || *p != '"')
		return NULL;
	*str = ++p;
	while (p < s->end && *p != '"') {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			if (++p >= s->end)
				return NULL;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (p + i >= s->end ||
					    !strchr("0123456789abcdefABCDEF",
					    p[i]) || p[i] == '\0')
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || *p == '\0')
				return NULL;
		}
		p++;
	}
	if (p >= s->end)
		return NULL;
	*len = (size_t)(p - *str);
	return p + 1;
}

static const char *
scan_number(struct scan *s, const char *p, long long *out)
{
	const char *b = p;
	bool frac = false;

	if (p < s->end && *p == '-')
		p++;
	if (p >= s->end || *p < '0' || *p > '9')
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	if (p < s->end && *p == '.') {
		frac = true;
		if (++p >= s->end || *p < '0' || *p > '9')
			return NULL;
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		frac = true;
		if (++p < s->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= s->end || *p < '0' || *p > '9')
			return NULL;
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (out != NULL)
		*out = frac || p - b > 18 ? -2 : strtoll(b, NULL, 10);
	return p;
}

static const char *
scan_literal(struct scan *s, const char *p, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - p) < n || memcmp(p, lit, n) != 0)
		return NULL;
	return p + n;
}

/*
 * An object at p.  level 0: the answer; 1: "configs"; 2: one config
 * (c: its record); anything else: skipped.
 */
static const char *
scan_object(struct scan *s, const char *p, int level, struct scan_cfg *c)
{
	const char *k;
	size_t klen;
	bool first = true;

	p = scan_ws(s, p + 1);
	if (p < s->end && *p == '}')
		return p + 1;
	for (;;) {
		struct scan_cfg *sub = NULL;

		if (!first && (p = scan_ws(s, p)) == NULL)
			return NULL;
		first = false;
		if ((p = scan_string(s, p, &k, &klen)) == NULL)
			return NULL;
		p = scan_ws(s, p);
		if (p >= s->end || *p != ':')
			return NULL;
		p = scan_ws(s, p + 1);
		if (p >= s->end)
			return NULL;
		if (level == 0 && klen == 7 && memcmp(k, "configs", 7) == 0 &&
		    *p == '{') {
			s->has_configs = true;
			p = scan_object(s, p, 1, NULL);
		} else if (level == 0 && klen == 7 &&
		    memcmp(k, "pending", 7) == 0 && *p == '[') {
			p = scan_value(s, p, 10);	/* pending array */
		} else if (level == 0 && klen == 9 &&
		    memcmp(k, "unchanged", 9) == 0 && *p == '[') {
			p = scan_value(s, p, 11);	/* unchanged array */
		} else if (level == 1) {
			if (s->ncfg == SCAN_MAX) {
				s->overflow = true;
				return NULL;
			}
			sub = &s->cfg[s->ncfg++];
			sub->key = k;
			sub->klen = klen;
			sub->disabled = -1;
			sub->project = -1;
			sub->has_config = false;
			sub->members = 0;
			p = *p == '{' ? scan_object(s, p, 2, sub) : NULL;
		} else if (level == 2) {
			c->members++;
			if (klen == 8 && memcmp(k, "disabled", 8) == 0) {
				const char *q;

				if ((q = scan_literal(s, p, "true")) != NULL)
					c->disabled = 1;
				else if ((q = scan_literal(s, p, "false")) != NULL)
					c->disabled = 0;
				p = q;
			} else if (klen == 9 && memcmp(k, "projectId", 9) == 0)
				p = scan_number(s, p, &c->project);
			else {
				if (klen == 6 && memcmp(k, "config", 6) == 0 &&
				    *p == '{')
					c->has_config = true;
				p = scan_value(s, p, 3);
			}
		} else
			p = scan_value(s, p, 3);
		if (p == NULL)
			return NULL;
		p = scan_ws(s, p);
		if (p >= s->end)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = scan_ws(s, p + 1);
	}
}

/* Any value at p; level 10: the pending array, 11: unchanged. */
static const char *
scan_value(struct scan *s, const char *p, int level)
{
	const char *str;
	size_t len;

	if (p >= s->end)
		return NULL;
	switch (*p) {
	case '{':
		return scan_object(s, p, level >= 10 ? 3 : level, NULL);
	case '[':
		p = scan_ws(s, p + 1);
		if (p < s->end && *p == ']')
			return p + 1;
		for (;;) {
			if (level == 10) {
				if (p >= s->end || *p != '"')
					return NULL;
				if ((p = scan_string(s, p, &str, &len)) == NULL)
					return NULL;
				if (s->npend == SCAN_MAX) {
					s->overflow = true;
					return NULL;
				}
				s->pend[s->npend] = str;
				s->pendlen[s->npend++] = len;
			} else {
				if (level == 11)
					s->nunchanged++;
				if ((p = scan_value(s, p, 3)) == NULL)
					return NULL;
			}
			p = scan_ws(s, p);
			if (p >= s->end)
				return NULL;
			if (*p == ']')
				return p + 1;
			if (*p != ',')
				return NULL;
			p = scan_ws(s, p + 1);
		}
	case '"':
		return scan_string(s, p, &str, &len);
	case 't':
		return scan_literal(s, p, "true");
	case 'f':
		return scan_literal(s, p, "false");
	case 'n':
		return scan_literal(s, p, "null");
	default:
		return scan_number(s, p, NULL);
	}
}

/* The reason a 200 answer is wrong for request r, or NULL if it is right. */
static const char *
verify_body(struct verify *v, const struct req *r, const char *body,
    size_t len, uint64_t *pending)
{
	static struct scan s;
	const char *p;
	size_t nconf = 0, npend = 0;

	memset(&s, 0, offsetof(struct scan, cfg));
	s.ncfg = s.npend = s.nunchanged = 0;
	s.has_configs = s.overflow = false;
	s.end = body + len;
	p = scan_ws(&s, body);
	if (p >= s.end || *p != '{' ||
	    (p = scan_object(&s, p, 0, NULL)) == NULL ||
	    scan_ws(&s, p) != s.end)
		return s.overflow ? "too many configs" : "not one JSON document";
	if (!s.has_configs)
		return "no configs object";
	if (s.nunchanged != 0)
		return "unchanged without revisions";
	for (size_t i = 0; i < r->nkeys; i++) {
		size_t k = r->idx[i];
		const char *key = v->keys[k];
		struct scan_cfg *c = NULL;
		bool in_pend = false;

		for (size_t j = 0; j < s.npend; j++)
			if (s.pendlen[j] == 32 && memcmp(s.pend[j], key, 32) == 0)
				in_pend = true;
		for (size_t j = 0; j < s.ncfg; j++)
			if (s.cfg[j].klen == 32 &&
			    memcmp(s.cfg[j].key, key, 32) == 0)
				c = &s.cfg[j];
		if (c == NULL) {
			if (!in_pend)
				return "a key is neither in configs nor pending";
			if (!v->allow_pending)
				return "a key is pending";
			npend++;
			continue;
		}
		if (in_pend)
			return "a key is in configs and pending";
		nconf++;
		if (c->disabled < 0)
			return "a config has no disabled flag";
		if (v->state[k] == EXPECT_DISABLED) {
			if (c->disabled != 1 || c->members != 1)
				return "a disabled key is not {\"disabled\":true}";
			continue;
		}
		if (c->disabled)
			return "a live key is disabled";
		if (c->project != v->project[k])
			return "a live key has the wrong projectId";
		if (!c->has_config)
			return "a live key has no config object";
	}
	if (s.ncfg != nconf)
		return "configs has keys that were not asked for (or twice)";
	if (s.npend != npend)
		return "pending has keys that were not asked for";
	*pending += npend;
	return NULL;
}

static void
verify_answer(struct phase *ph, struct conn *c, const struct answer *a,
    uint64_t lat_ns)
{
	struct verify *v = ph->ctx;
	const struct req *r = c->r;
	const char *why = NULL, *enc;
	char *body, *plain = NULL;
	size_t len, tick;

	v->answers++;
	if (v->slow_ns != 0 && lat_ns > v->slow_ns)
		v->slow++;
	if (a->status >= 500)
		v->status5xx++;
	else if (a->status >= 400)
		v->status4xx++;
	if (a->status != 200) {
		why = "status";
		goto out;
	}
	body = answer_body(c->buf, a);
	len = a->payload;
	enc = find_header(c->buf, a->hdr, "content-encoding");
	if (enc != NULL && strncasecmp(enc, "gzip", 4) == 0) {
		plain = gunzip_all(body, len, &len);
		free(body);
		if (plain == NULL)
			why = "gzip body does not inflate to its end";
	} else
		plain = body;
	if (why == NULL)
		why = verify_body(v, r, plain, len, &v->pending);
	if (why != NULL && strcmp(why, "status") != 0) {
		if (v->wrong < 5)
			fprintf(stderr, "loadgen: %s: wrong answer (%s): "
			    "%.300s\n", o.label, why, plain ? plain : "");
		v->wrong++;
	}
	free(plain);
out:
	tick = (size_t)((bench_now_ns() - v->t0) / (TICK_MS * 1000000ULL));
	if (tick >= sizeof(v->tick_ok) / sizeof(v->tick_ok[0]))
		tick = sizeof(v->tick_ok) / sizeof(v->tick_ok[0]) - 1;
	if (why == NULL) {
		v->ok++;
		v->tick_ok[tick]++;
	} else
		v->tick_bad[tick]++;
}

/*
 * The checker's one phase: print the verify line (and the timeline with
 * --timeline); 0 when every request got a right answer.
 */
static int
verify_run(struct req *reqs, struct verify *v)
{
	struct phase ph = { 0 };
	uint64_t t_end, failed;
	double secs;
	size_t last = 0;

	struct timespec ts;

	/* Relay asks for gzip; every third body does not, for the other path. */
	clock_gettime(CLOCK_REALTIME, &ts);
	for (size_t i = 0; i < o.bodies; i++)
		req_wire(&reqs[i], o.gzip && i % 3 != 2, (int64_t)ts.tv_sec,
		    ts.tv_nsec);
	v->allow_pending = o.allow_pending;
	v->slow_ns = (uint64_t)(o.slow_ms * 1e6);
	ph.reqs = reqs;
	ph.nreq = o.bodies;
	ph.cycle = true;
	ph.ctx = v;
	ph.on_answer = verify_answer;
	ph.answer_timeout = (uint64_t)(o.answer_timeout * 1e9);
	v->t0 = ph.t_begin = bench_now_ns();
	if (o.requests != 0)
		ph.limit = o.requests;
	else
		ph.t_end = ph.t_begin + (uint64_t)(o.duration * 1e9);
	phase_run(&ph);
	t_end = bench_now_ns();
	secs = (double)(t_end - ph.t_begin) / 1e9;
	failed = (v->answers - v->ok) + ph.errors;
	printf("verify label=%s secs=%.2f requests=%zu answers=%" PRIu64
	    " ok=%" PRIu64 " failed=%" PRIu64 " status5xx=%" PRIu64
	    " status4xx=%" PRIu64 " errors=%" PRIu64 " timeouts=%" PRIu64
	    " wrong=%" PRIu64 " pending=%" PRIu64 " slow=%" PRIu64
	    " rps=%.1f\n", o.label, secs,
	    ph.started, v->answers, v->ok, failed, v->status5xx, v->status4xx,
	    ph.errors, ph.timeouts, v->wrong, v->pending, v->slow,
	    secs > 0 ? (double)v->ok / secs : 0.0);
	if (o.timeline) {
		for (size_t i = 0; i < sizeof(v->tick_ok) / sizeof(v->tick_ok[0]);
		    i++)
			if (v->tick_ok[i] || v->tick_bad[i])
				last = i;
		printf("timeline label=%s tick_ms=%d ok/bad=", o.label, TICK_MS);
		for (size_t i = 0; i <= last; i++)
			printf("%s%" PRIu32 "/%" PRIu32, i ? "," : "",
			    v->tick_ok[i], v->tick_bad[i]);
		printf("\n");
	}
	fflush(stdout);
	return failed == 0 && ph.started > 0 ? 0 : 1;
}

/* ---- statistics ------------------------------------------------------- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct_ms(const uint64_t *sorted, size_t n, double q)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)sorted[rank - 1] / 1e6;
}

static double
counter_read(void)
{
	FILE *p;
	double v = -1;

	if (o.counter_cmd == NULL)
		return -1;
	if ((p = popen(o.counter_cmd, "r")) == NULL)
		return -1;
	if (fscanf(p, "%lf", &v) != 1)
		v = -1;
	pclose(p);
	return v;
}

enum { M_RPS, M_KEYS, M_P50, M_P90, M_P99, M_P999, M_MAX, M_MEAN, M_WIRE,
    M_BODY, M_SQL, M_IDLE, M_MACHINE, M_LOADGEN, M_FIXED };
#define MAX_GROUPS	8
#define M_MAXN		(M_FIXED + MAX_GROUPS)
#define MAX_REDO	3	/* discarded runs per scenario, at most */
static const char *mname[M_MAXN] = { "rps", "keys_s", "p50_ms",
    "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms", "wire_bytes",
    "body_bytes", "sql_per_req", "idle_pct", "cpu_machine_ms",
    "cpu_loadgen_ms" };

/*
 * CPU accounting: --cpu NAME=PID[+PID...] groups; per run, the CPU time
 * (user + system, all threads) each group spent, per answer.
 */
struct cpu_group {
	char	 name[32];
	int	 pids[16];
	int	 npids;
};
static struct cpu_group groups[MAX_GROUPS];
static int ngroups;

static void
cpu_group_add(const char *spec)
{
	struct cpu_group *g;
	const char *eq = strchr(spec, '=');
	char *p, *end;

	if (eq == NULL || ngroups == MAX_GROUPS ||
	    (size_t)(eq - spec) >= sizeof(g->name) - 12)
		bench_die("--cpu NAME=PID[+PID...]: %s", spec);
	g = &groups[ngroups];
	snprintf(g->name, sizeof(g->name), "cpu_%.*s_ms", (int)(eq - spec),
	    spec);
	p = (char *)eq + 1;
	while (*p != '\0' && g->npids < 16) {
		g->pids[g->npids++] = (int)strtol(p, &end, 10);
		if (end == p)
			bench_die("--cpu: bad pid list in %s", spec);
		p = *end == '+' ? end + 1 : end;
	}
	mname[M_FIXED + ngroups] = g->name;
	ngroups++;
}

/* utime + stime of a process (all threads), in ms; 0 if it is gone. */
static double
proc_cpu_ms(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL ||
	    (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		ut = st = 0;
	fclose(f);
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static void
cpu_snapshot(double *v)
{
	for (int i = 0; i < ngroups; i++) {
		v[i] = 0;
		for (int j = 0; j < groups[i].npids; j++)
			v[i] += proc_cpu_ms(groups[i].pids[j]);
	}
}

static double
self_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Idle and total jiffies of the machine. */
static void
machine_idle(double *idle, double *total)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	*idle = *total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		*idle = (double)(v[3] + v[4]);
		for (int i = 0; i < 8; i++)
			*total += (double)v[i];
	}
	fclose(f);
}

/* ---- main ------------------------------------------------------------- */

static void
usage(void)
{
	fputs(
"usage: loadgen --port P --credentials FILE (--keys FILE --batch B | --global)\n"
"               [--host 127.0.0.1] [--path P] [--label L] [--connections C]\n"
"               [--duration S] [--warmup S] [--runs R] [--bodies N]\n"
"               [--working-set W] [--seed S] [--fresh --requests N]\n"
"               [--prewarm] [--unchanged] [--check] [--no-gzip]\n"
"               [--before-run CMD] [--counter-cmd CMD] [--max-other PCT]\n"
"               [--cpu NAME=PID[+PID...]]...\n"
"       loadgen --port P --credentials FILE --expect FILE [--batch B]\n"
"               [--mix-batch B2 [--mix-every N]] [--allow-pending]\n"
"               [--slow-ms MS]\n"
"               [--answer-timeout S] [--timeline] [--duration S | --requests N]\n"
"               [--connections C] [--bodies N] [--seed S] [--label L]\n", stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", 1, NULL, 'H' }, { "port", 1, NULL, 'p' },
		{ "path", 1, NULL, 'P' }, { "credentials", 1, NULL, 'C' },
		{ "keys", 1, NULL, 'k' }, { "batch", 1, NULL, 'b' },
		{ "bodies", 1, NULL, 'N' }, { "working-set", 1, NULL, 'W' },
		{ "seed", 1, NULL, 's' }, { "fresh", 0, NULL, 'f' },
		{ "global", 0, NULL, 'g' }, { "no-gzip", 0, NULL, 'z' },
		{ "prewarm", 0, NULL, 'w' }, { "unchanged", 0, NULL, 'u' },
		{ "check", 0, NULL, 'K' }, { "connections", 1, NULL, 'c' },
		{ "duration", 1, NULL, 'd' }, { "warmup", 1, NULL, 'a' },
		{ "runs", 1, NULL, 'r' }, { "requests", 1, NULL, 'n' },
		{ "max-other", 1, NULL, 'O' },
		{ "before-run", 1, NULL, 'B' }, { "counter-cmd", 1, NULL, 'Q' },
		{ "label", 1, NULL, 'L' }, { "cpu", 1, NULL, 'U' },
		{ "expect", 1, NULL, 'E' }, { "mix-batch", 1, NULL, 'M' },
		{ "allow-pending", 0, NULL, 'A' }, { "slow-ms", 1, NULL, 'S' },
		{ "answer-timeout", 1, NULL, 'T' }, { "timeline", 0, NULL, 'I' },
		{ "mix-every", 1, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	double metrics[MAX_RUNS][M_MAXN];
	int nm;
	char **keys = NULL;
	size_t nkeys = 0, *order = NULL, ws = 0;
	struct req *reqs;
	struct check ck = { 0 }, pw = { 0 };
	static struct verify vf;
	double cal = 0;
	int ch, valid = 1;

	o.host = "127.0.0.1";
	o.path = "/api/0/relays/projectconfigs/?version=3";
	o.label = "run";
	o.batch = 1;
	o.bodies = 64;
	o.seed = 42;
	o.gzip = true;
	o.conns = 8;
	o.duration = 3;
	o.warmup = 1;
	o.runs = 3;
	o.max_other = 100;	/* off unless asked */
	o.mix_every = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'H': o.host = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'P': o.path = optarg; break;
		case 'C': o.creds = optarg; break;
		case 'k': o.keys = optarg; break;
		case 'b': o.batch = strtoul(optarg, NULL, 10); break;
		case 'N': o.bodies = strtoul(optarg, NULL, 10); break;
		case 'W': o.working_set = strtoul(optarg, NULL, 10); break;
		case 's': o.seed = strtoull(optarg, NULL, 10) | 1; break;
		case 'f': o.fresh = true; break;
		case 'g': o.global = true; break;
		case 'z': o.gzip = false; break;
		case 'w': o.prewarm = true; break;
		case 'u': o.unchanged = o.prewarm = true; break;
		case 'K': o.check = true; break;
		case 'c': o.conns = atoi(optarg); break;
		case 'd': o.duration = atof(optarg); break;
		case 'a': o.warmup = atof(optarg); break;
		case 'r': o.runs = atoi(optarg); break;
		case 'O': o.max_other = atof(optarg); break;
		case 'n': o.requests = strtoul(optarg, NULL, 10); break;
		case 'B': o.before_run = optarg; break;
		case 'Q': o.counter_cmd = optarg; break;
		case 'L': o.label = optarg; break;
		case 'U': cpu_group_add(optarg); break;
		case 'E': o.expect = optarg; break;
		case 'M': o.mix_batch = strtoul(optarg, NULL, 10); break;
		case 'V': o.mix_every = strtoul(optarg, NULL, 10); break;
		case 'A': o.allow_pending = true; break;
		case 'S': o.slow_ms = atof(optarg); break;
		case 'T': o.answer_timeout = atof(optarg); break;
		case 'I': o.timeline = true; break;
		default: usage();
		}
	}
	if ((o.expect != NULL && (o.global || o.fresh || o.keys != NULL)) ||
	    (o.mix_batch != 0 && o.fresh) || o.mix_every < 1)
		usage();
	if (o.expect != NULL && o.answer_timeout <= 0)
		o.answer_timeout = 10;
	/*
	 * The checker inflates and parses answers of up to a MB each: keep
	 * those buffers in the heap instead of an mmap and a page fault per
	 * page for every answer.
	 */
	if (o.expect != NULL) {
		mallopt(M_MMAP_THRESHOLD, 64 << 20);
		mallopt(M_TRIM_THRESHOLD, 256 << 20);
	}
	if (o.port <= 0 || o.creds == NULL ||
	    (o.keys == NULL && !o.global && o.expect == NULL) ||
	    o.conns < 1 || o.conns > MAX_CONNS || o.runs < 1 ||
	    o.runs > MAX_RUNS || o.batch < 1 || (o.fresh && o.requests == 0))
		usage();
	nm = M_FIXED + ngroups;
	if (relayauth_init() != 0)
		bench_die("libsodium does not start");
	bench_creds_load(o.creds, &creds);
	memset(&target, 0, sizeof(target));
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)o.port);
	if (inet_pton(AF_INET, o.host, &target.sin_addr) != 1)
		bench_die("%s: not an IPv4 address (load goes to loopback)",
		    o.host);
	if ((epfd = epoll_create1(0)) < 0)
		bench_die("epoll_create1: %s", strerror(errno));
	nconns = o.conns;
	for (int i = 0; i < nconns; i++)
		conn_open(&conns[i]);

	/* ---- bodies ---- */
	if (o.fresh)
		o.bodies = o.requests;
	if ((reqs = calloc(o.bodies + 1, sizeof(*reqs))) == NULL)
		bench_die("out of memory");
	if (o.global) {
		for (size_t i = 0; i < o.bodies; i++) {
			reqs[i].body = bench_body_global(&reqs[i].body_len);
			reqs[i].nkeys = 0;
		}
	} else {
		uint64_t rs = o.seed;

		keys = o.expect != NULL ? expect_load(o.expect, &nkeys, &vf) :
		    bench_keys_load(o.keys, &nkeys);
		if ((order = malloc(nkeys * sizeof(*order))) == NULL)
			bench_die("out of memory");
		for (size_t i = 0; i < nkeys; i++)
			order[i] = i;
		bench_shuffle(order, nkeys, &rs);
		ws = o.working_set && o.working_set < nkeys ? o.working_set :
		    nkeys;
		if (o.fresh && o.requests * o.batch > nkeys)
			bench_die("--fresh: %zu requests of %zu keys need %zu "
			    "keys, the key file has %zu", o.requests, o.batch,
			    o.requests * o.batch, nkeys);
		if (!o.fresh && (o.batch > ws || o.mix_batch > ws))
			bench_die("batch %zu > working set %zu", o.batch, ws);
		for (size_t i = 0; i < o.bodies; i++) {
			struct req *r = &reqs[i];
			/* --mix-batch: every mix_every-th body has that many keys */
			size_t nb = o.mix_batch != 0 &&
			    i % o.mix_every == o.mix_every - 1 ?
			    o.mix_batch : o.batch;

			if ((r->idx = malloc(nb * sizeof(*r->idx))) == NULL)
				bench_die("out of memory");
			if (o.fresh)
				memcpy(r->idx, order + i * o.batch,
				    o.batch * sizeof(*r->idx));
			else {
				/* nb distinct keys of the working set */
				for (size_t j = 0; j < nb; j++) {
					size_t k = j + (size_t)(bench_rand(&rs)
					    % (ws - j)), t = order[k];
					order[k] = order[j];
					order[j] = t;
					r->idx[j] = t;
				}
			}
			req_set_body(r, keys, r->idx, nb, NULL);
		}
	}
	ck.keys = pw.keys = keys;
	if (o.expect != NULL) {
		int rc = verify_run(reqs, &vf);

		free(order);
		for (size_t i = 0; i < o.bodies; i++) {
			free(reqs[i].body);
			free(reqs[i].wire);
			free(reqs[i].idx);
		}
		free(reqs);
		for (size_t i = 0; i < nkeys; i++)
			free(keys[i]);
		free(keys);
		free(vf.state);
		free(vf.project);
		return rc;
	}

	/* ---- prewarm: the working set, Relay-sized batches ---- */
	if (o.prewarm && !o.global && !o.fresh) {
		size_t nw = (ws + PREWARM_BATCH - 1) / PREWARM_BATCH;
		struct req *w = calloc(nw + 1, sizeof(*w));
		struct phase ph = { 0 };
		size_t *all = malloc(ws * sizeof(*all));
		uint64_t t = bench_now_ns();

		if (w == NULL || all == NULL)
			bench_die("out of memory");
		/* the working set is order[0..ws) (as permuted above) */
		memcpy(all, order, ws * sizeof(*all));
		if (o.unchanged &&
		    (pw.revs = calloc(nkeys, sizeof(*pw.revs))) == NULL)
			bench_die("out of memory");
		for (size_t i = 0; i < nw; i++) {
			size_t n = i + 1 < nw ? PREWARM_BATCH :
			    ws - i * PREWARM_BATCH;
			w[i].idx = all + i * PREWARM_BATCH;
			req_set_body(&w[i], keys, w[i].idx, n, NULL);
		}
		sign_all(w, nw, false);
		ph.reqs = w;
		ph.nreq = nw;
		ph.keep_body = o.unchanged;
		ph.on_resp = o.unchanged ? check_answer : NULL;
		ph.ctx = &pw;
		phase_run(&ph);
		fprintf(stderr, "loadgen: %s: prewarmed %zu keys in %zu "
		    "requests, %.1f s\n", o.label, ws, nw,
		    (double)(bench_now_ns() - t) / 1e9);
		if (ph.non200 || ph.errors)
			bench_die("%s: prewarm failed: %" PRIu64 " non-200, %"
			    PRIu64 " errors", o.label, ph.non200, ph.errors);
		if (o.unchanged) {
			size_t missing = 0;
			for (size_t i = 0; i < ws; i++)
				missing += pw.revs[order[i]] == NULL;
			if (missing)
				bench_die("%s: %zu keys of the working set "
				    "have no rev", o.label, missing);
			for (size_t i = 0; i < o.bodies; i++)
				req_set_body(&reqs[i], keys, reqs[i].idx,
				    reqs[i].nkeys, pw.revs);
		}
		for (size_t i = 0; i < nw; i++) {
			free(w[i].body);
			free(w[i].wire);
		}
		free(w);
		free(all);
	}

	/* ---- check: parse identity answers of the first bodies ---- */
	if (o.check && !o.fresh) {
		struct phase ph = { 0 };
		size_t n = o.bodies < 16 ? o.bodies : 16;

		sign_all(reqs, n, false);
		ph.reqs = reqs;
		ph.nreq = n;
		ph.keep_body = true;
		ph.on_resp = check_answer;
		ph.ctx = &ck;
		phase_run(&ph);
		size_t want = 0;
		for (size_t i = 0; i < n; i++)
			want += reqs[i].nkeys;
		bool ok = ck.bad == 0 && ck.pending == 0 &&
		    (o.global ? ck.globals == n :
		    o.unchanged ? ck.unchanged == want && ck.configs == 0 :
		    ck.configs == want && ck.disabled == 0);
		printf("check label=%s answers=%zu keys=%zu configs=%zu "
		    "disabled=%zu pending=%zu unchanged=%zu globals=%zu "
		    "bad=%zu plain_bytes=%.0f ok=%s\n", o.label, ck.answers,
		    want, ck.configs, ck.disabled, ck.pending, ck.unchanged,
		    ck.globals, ck.bad, ck.answers ?
		    (double)ck.bytes / (double)ck.answers : 0.0,
		    ok ? "yes" : "no");
		fflush(stdout);
		if (!ok)
			valid = 0;
	}

	/* ---- the scenario: sign everything now, then warm up and run ---- */
	sign_all(reqs, o.bodies, o.gzip);
	if (!o.fresh && o.warmup > 0) {
		struct phase ph = { 0 };
		uint64_t now = bench_now_ns();

		ph.reqs = reqs;
		ph.nreq = o.bodies;
		ph.cycle = true;
		ph.t_begin = now;
		ph.t_end = now + (uint64_t)(o.warmup * 1e9);
		phase_run(&ph);
		if (ph.non200 || ph.errors)
			valid = 0;
		free(ph.lat);
	}
	if (o.counter_cmd != NULL) {
		double a = counter_read(), b = counter_read();
		cal = a >= 0 && b >= 0 ? b - a : 0;
	}
	/*
	 * A run during which processes that are not ours took more than
	 * max_other % of the machine's CPU measured the neighbours, not
	 * relaycfg: it is discarded (and said so) and run again, at most
	 * MAX_REDO times per scenario.
	 */
	int redo_left = MAX_REDO;
	for (int run = 0; run < o.runs; run++) {
		struct phase ph = { 0 };
		double before, after, secs, c0[MAX_GROUPS], c1[MAX_GROUPS];
		double self0, self1, idle0, idle1, tot0, tot1;
		uint64_t now;

		if (o.before_run != NULL && system(o.before_run) != 0)
			bench_die("%s: --before-run failed", o.label);
		before = counter_read();
		cpu_snapshot(c0);
		self0 = self_cpu_ms();
		machine_idle(&idle0, &tot0);
		now = bench_now_ns();
		ph.reqs = reqs;
		ph.nreq = o.bodies;
		ph.record = true;
		ph.t_begin = now;
		if (!o.fresh) {
			ph.cycle = true;
			ph.t_end = now + (uint64_t)(o.duration * 1e9);
		}
		phase_run(&ph);
		machine_idle(&idle1, &tot1);
		self1 = self_cpu_ms();
		cpu_snapshot(c1);
		after = counter_read();
		secs = o.fresh ? (double)(ph.t_last - ph.t_begin) / 1e9 :
		    o.duration;
		qsort(ph.lat, ph.nlat, sizeof(*ph.lat), cmp_u64);
		double *m = metrics[run], sum = 0;
		for (size_t i = 0; i < ph.nlat; i++)
			sum += (double)ph.lat[i];
		m[M_RPS] = (double)ph.nlat / secs;
		m[M_KEYS] = (double)ph.keys / secs;
		m[M_P50] = pct_ms(ph.lat, ph.nlat, 0.50);
		m[M_P90] = pct_ms(ph.lat, ph.nlat, 0.90);
		m[M_P99] = pct_ms(ph.lat, ph.nlat, 0.99);
		m[M_P999] = pct_ms(ph.lat, ph.nlat, 0.999);
		m[M_MAX] = ph.nlat ? (double)ph.lat[ph.nlat - 1] / 1e6 : 0;
		m[M_MEAN] = ph.nlat ? sum / (double)ph.nlat / 1e6 : 0;
		m[M_WIRE] = ph.nlat ? (double)ph.wire_bytes / (double)ph.nlat : 0;
		m[M_BODY] = ph.nlat ? (double)ph.body_bytes / (double)ph.nlat : 0;
		m[M_SQL] = before >= 0 && after >= 0 && ph.done_all ?
		    (after - before - cal) / (double)ph.done_all : -1;
		m[M_IDLE] = tot1 > tot0 ? 100.0 * (idle1 - idle0) / (tot1 - tot0) : 0;
		double per = ph.done_all ? 1.0 / (double)ph.done_all : 0;
		/* every process's CPU time, ours and anyone else's */
		m[M_MACHINE] = ((tot1 - tot0) - (idle1 - idle0)) * 1000.0 /
		    (double)sysconf(_SC_CLK_TCK) * per;
		m[M_LOADGEN] = (self1 - self0) * per;
		for (int g = 0; g < ngroups; g++)
			m[M_FIXED + g] = (c1[g] - c0[g]) * per;
		double ours = m[M_LOADGEN];
		for (int g = 0; g < ngroups; g++)
			ours += m[M_FIXED + g];
		double other_pct = m[M_MACHINE] > 0 ?
		    100.0 * (m[M_MACHINE] - ours) / m[M_MACHINE] : 0;
		/* Cold runs are short: their tick-based CPU is too coarse. */
		if (!o.fresh && other_pct > o.max_other && redo_left > 0) {
			redo_left--;
			printf("discarded label=%s run=%d other_pct=%.1f\n",
			    o.label, run + 1, other_pct);
			fflush(stdout);
			free(ph.lat);
			run--;
			continue;
		}
		if (ph.non200 || ph.errors || ph.nlat == 0)
			valid = 0;
		printf("run label=%s run=%d conns=%d batch=%zu secs=%.2f "
		    "answers=%zu", o.label, run + 1, o.conns,
		    o.global ? (size_t)0 : o.batch, secs, ph.nlat);
		for (int k = 0; k < nm; k++)
			printf(" %s=%.3f", mname[k], m[k]);
		printf(" non200=%" PRIu64 " errors=%" PRIu64 " status=%d\n",
		    ph.non200, ph.errors, ph.first_bad_status);
		fflush(stdout);
		free(ph.lat);
	}
	printf("summary label=%s runs=%d conns=%d batch=%zu", o.label, o.runs,
	    o.conns, o.global ? (size_t)0 : o.batch);
	for (int k = 0; k < nm; k++) {
		double v[MAX_RUNS];
		for (int r = 0; r < o.runs; r++)
			v[r] = metrics[r][k];
		qsort(v, (size_t)o.runs, sizeof(v[0]), cmp_dbl);
		printf(" %s_med=%.3f %s_min=%.3f %s_max=%.3f", mname[k],
		    o.runs % 2 ? v[o.runs / 2] :
		    (v[o.runs / 2 - 1] + v[o.runs / 2]) / 2, mname[k], v[0],
		    mname[k], v[o.runs - 1]);
	}
	printf(" valid=%s\n", valid ? "yes" : "no");
	return valid ? 0 : 1;
}
