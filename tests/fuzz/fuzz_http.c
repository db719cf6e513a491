/*
 * fuzz_http.c - the small parsers of request fields: query strings,
 * Accept-Encoding, the client address behind X-Forwarded-For (through
 * http_request_open, so repeated header lines are covered), request
 * bodies as JSON objects, and log_sanitize.
 *
 * Input lines: 1 query string, 2 parameter name, 3 Accept-Encoding,
 * 4 REMOTE_ADDR, then one X-Forwarded-For line per occurrence of the
 * header up to an empty line; the rest is a request body.  Invariants:
 *   - a decoded query value re-encodes to a query that decodes to it;
 *     a buffer one byte short is refused, never overrun;
 *   - the client address is REMOTE_ADDR when that peer is not a trusted
 *     proxy; otherwise "invalid" or the rightmost hop of all occurrences
 *     of X-Forwarded-For, joined in order, that is not a trusted proxy
 *     (a hop left of an untrusted one never counts, a header too long to
 *     walk never falls back to the proxy's own address);
 *   - a body taken as a JSON object is strict RFC 8259 in valid UTF-8
 *     (checked by fuzz_json_valid, not by json-c);
 *   - log_sanitize leaves only printable ASCII without quote or
 *     backslash.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "conf.h"
#include "fuzz.h"
#include "http.h"
#include "jsonstrict.h"
#include "log.h"

static struct conf *conf;

static void
init(void)
{
	static const char *proxies[] = { "127.0.0.1", "::1", "10.9.0.0/16",
	    "192.0.2.0/24" };
	size_t n = sizeof(proxies) / sizeof(proxies[0]);

	if (conf != NULL)
		return;
	fuzz_quiet_logs();
	FUZZ_CHECK((conf = conf_defaults()) != NULL, "OOM");
	FUZZ_CHECK((conf->trusted_proxies = calloc(n,
	    sizeof(*conf->trusted_proxies))) != NULL, "OOM");
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(conf_parse_cidr(proxies[i],
		    &conf->trusted_proxies[i]) == 0, "%s", proxies[i]);
	conf->n_trusted_proxies = n;
}

static char *
dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	FUZZ_CHECK(p != NULL, "OOM");
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void
check_query(const char *q, const char *name)
{
	char buf[256], enc[800], q2[1100];
	size_t e = 0;
	int r, r2;

	r = http_query_param(q, name, buf, sizeof(buf));
	FUZZ_CHECK(r >= -2 && r < (int)sizeof(buf), "returned %d", r);
	/* names holding % or + are asked for decoded; ours never are */
	if (r < 0 || name[0] == '\0' || strpbrk(name, "&=%+") != NULL ||
	    strlen(name) > 200)
		return;
	/* Shorter buffers: exact fit works, one less is refused. */
	{
		char *exact = malloc((size_t)r + 1);

		FUZZ_CHECK(exact != NULL, "OOM");
		FUZZ_CHECK(http_query_param(q, name, exact, (size_t)r + 1) == r &&
		    memcmp(exact, buf, (size_t)r) == 0 && exact[r] == '\0',
		    "exact-size buffer");
		if (r > 0)
			FUZZ_CHECK(http_query_param(q, name, exact,
			    (size_t)r) == -2, "short buffer accepted");
		free(exact);
	}
	for (int i = 0; i < r; i++) {
		static const char hex[] = "0123456789ABCDEF";
		unsigned char c = (unsigned char)buf[i];

		enc[e++] = '%';
		enc[e++] = hex[c >> 4];
		enc[e++] = hex[c & 15];
	}
	enc[e] = '\0';
	snprintf(q2, sizeof(q2), "%s=%s", name, enc);
	r2 = http_query_param(q2, name, buf + 0, sizeof(buf));
	FUZZ_CHECK(r2 == r, "re-encoded value decodes to %d bytes, not %d",
	    r2, r);
}

static void
check_accept(const char *ae)
{
	bool yes = http_accepts_gzip(ae);
	bool named = strcasestr(ae, "gzip") != NULL || strchr(ae, '*') != NULL;

	FUZZ_CHECK(!yes || named, "\"%s\" takes gzip", ae);
	FUZZ_CHECK(http_accepts_gzip(ae) == yes, "not deterministic");
}

static bool
trusted(const char *addr)
{
	return conf_cidr_contains(conf->trusted_proxies,
	    conf->n_trusted_proxies, addr);
}

/* Is s one or more decimal digits to its end? */
static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/*
 * The address of hop h, in place: "[v6]", "[v6]:port" and "v4:port" (one
 * colon, a dot before it) lose their brackets and port; anything else is
 * its own address.
 */
static char *
hop_address(char *h)
{
	char *c = strrchr(h, ':'), *b = strchr(h, ']');

	if (h[0] == '[' && b != NULL && (b[1] == '\0' ||
	    (b[1] == ':' && all_digits(b + 2)))) {
		*b = '\0';
		return h + 1;
	}
	if (c != NULL && c == strchr(h, ':') && all_digits(c + 1) &&
	    memchr(h, '.', (size_t)(c - h)) != NULL)
		*c = '\0';
	return h;
}

/* Is got an acceptable client address for remote and the joined XFF? */
static void
check_client(const char *remote, const char *joined, const char *got)
{
	char *copy, *hops[4096], *save = NULL, *t;
	size_t n = 0;
	bool ok = false;

	if (!trusted(remote)) {
		FUZZ_CHECK(strcmp(got, remote) == 0,
		    "untrusted peer %s, yet client %s", remote, got);
		return;
	}
	if (joined[0] == '\0') {
		FUZZ_CHECK(strcmp(got, remote) == 0, "no XFF, client %s", got);
		return;
	}
	if (strcmp(got, "invalid") == 0)
		return;
	copy = dupn(joined, strlen(joined));
	for (t = strtok_r(copy, ",", &save); t != NULL && n < 4096;
	    t = strtok_r(NULL, ",", &save)) {
		char *e;

		while (isspace((unsigned char)*t))
			t++;
		e = t + strlen(t);
		while (e > t && isspace((unsigned char)e[-1]))
			*--e = '\0';
		hops[n++] = hop_address(t);
	}
	/* got must be hop k, with only trusted proxies right of it. */
	for (size_t k = n; k-- > 0;) {
		if (strcmp(hops[k], got) == 0 && (k == 0 || !trusted(got))) {
			ok = true;
			break;
		}
		if (!trusted(hops[k]))
			break;
	}
	FUZZ_CHECK(ok, "peer %s (trusted), X-Forwarded-For \"%.200s\" "
	    "(%zu bytes): client %s is not the rightmost untrusted hop",
	    remote, joined, strlen(joined), got);
	free(copy);
}

static void
check_body(const char *body, size_t len)
{
	const char *why = NULL;
	json_object *o = auth_parse_object(body, len, &why);
	int top = 0, depth = 0, js;
	bool valid = fuzz_json_valid(body, len, &top, &depth);

	if (o != NULL)
		FUZZ_CHECK(valid && top == '{' &&
		    memchr(body, '\0', len) == NULL,
		    "accepted as a JSON object but not RFC 8259 / UTF-8: "
		    "%.*s", (int)(len < 200 ? len : 200), body);
	else
		FUZZ_CHECK(why != NULL && why[0] != '\0', "refused, no reason");
	json_object_put(o);

	/*
	 * jsonstrict against the independent checker: what it takes is
	 * RFC 8259; what the RFC takes it takes too, except for its own
	 * documented refusals (\u escapes of NUL or unpaired surrogates,
	 * deeper nesting, numbers beyond a double, which Relay refuses).
	 */
	why = NULL;
	js = jsonstrict_check(body, len, 16, &why);
	if (js == 0)
		FUZZ_CHECK(valid && depth <= 16, "jsonstrict takes a text "
		    "that is not RFC 8259 (or too deep): %.*s",
		    (int)(len < 200 ? len : 200), body);
	else if (valid && depth <= 16 && memmem(body, len, "\\u", 2) == NULL &&
	    (why == NULL || strcmp(why, "number out of range") != 0))
		FUZZ_CHECK(js == 0, "jsonstrict refuses RFC 8259 text (%s): "
		    "%.*s", why != NULL ? why : "-",
		    (int)(len < 200 ? len : 200), body);
}

static void
check_sanitize(const char *s)
{
	char out[64];
	size_t n = strlen(s) < sizeof(out) - 1 ? strlen(s) : sizeof(out) - 1;

	log_sanitize(out, sizeof(out), s);
	FUZZ_CHECK(strlen(out) == n, "sanitized length");
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(out[i] >= 0x20 && out[i] <= 0x7e && out[i] != '"' &&
		    out[i] != '\\', "byte 0x%02x left in a log line",
		    (unsigned char)out[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	const char *l[4] = { "", "version", "", "127.0.0.1" };
	size_t ll[4] = { 0, 7, 0, 9 };
	char *f[4], *joined, *body, addr[64];
	size_t jlen = 0;
	struct fuzz_fcgx fx;
	struct request req;
	const char *line;
	size_t len;

	init();
	for (int i = 0; i < 4; i++)
		if (fuzz_line(&in, &line, &len)) {
			l[i] = line;
			ll[i] = len;
		}
	for (int i = 0; i < 4; i++)
		f[i] = dupn(l[i], ll[i]);
	check_query(f[0], f[1]);
	check_accept(f[2]);
	check_sanitize(f[0]);

	fuzz_fcgx_init(&fx, 64);
	fuzz_fcgx_param(&fx, "REMOTE_ADDR", 11, l[3], ll[3]);
	fuzz_fcgx_param(&fx, "REQUEST_METHOD", 14, "GET", 3);
	joined = dupn("", 0);
	while (fuzz_line(&in, &line, &len) && len > 0) {
		fuzz_fcgx_param(&fx, "HTTP_X_FORWARDED_FOR", 20, line, len);
		FUZZ_CHECK((joined = realloc(joined, jlen + len + 2)) != NULL,
		    "OOM");
		if (jlen > 0)
			joined[jlen++] = ',';
		memcpy(joined + jlen, line, len);
		jlen += len;
		joined[jlen] = '\0';
	}
	if (http_request_open(&req, &fx.req) == 0) {
		auth_client_addr(conf, &req, addr, sizeof(addr));
		/*
		 * A NUL ends a param.  REMOTE_ADDR comes from the web server
		 * and is cut to the buffer, so only shorter ones are checked.
		 */
		if (ll[3] < sizeof(addr) && memchr(l[3], '\0', ll[3]) == NULL &&
		    memchr(joined, '\0', jlen) == NULL)
			check_client(f[3], joined, addr);
		http_request_close(&req);
	}
	fuzz_fcgx_free(&fx);

	body = dupn((const char *)in.p, in.n);
	check_body(body, in.n);

	free(body);
	free(joined);
	for (int i = 0; i < 4; i++)
		free(f[i]);
	return 0;
}
