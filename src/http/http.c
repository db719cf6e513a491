/*
 * http.c - params, body with limits, and JSON answers over libfcgi.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "http.h"
#include "log.h"
#include "valid.h"

/* Longest param we copy; anything longer is truncated to "" (invalid). */
#define HTTP_PARAM_MAX	8192

/*
 * The most params, and bytes of them, a request may have: above what nginx
 * (large_client_header_buffers, 4 x 8 KB) or Apache (LimitRequestFields
 * 100 x LimitRequestFieldSize 8190) can forward with their defaults, plus
 * their own params.  Only a raw FastCGI peer gets past them.
 */
#define HTTP_PARAMS_MAX		10000
#define HTTP_PARAMS_BYTES_MAX	(1024 * 1024)

/* The params a request keeps, found in one pass over the environment. */
enum param {
	P_METHOD,
	P_URI,
	P_QUERY_STRING,
	P_REMOTE_ADDR,
	P_FORWARDED_FOR,
	P_CONTENT_ENCODING,
	P_RELAY_ID,
	P_RELAY_SIGNATURE,
	P_CONTENT_LENGTH,
	P_ACCEPT_ENCODING,
	P_COUNT
};

static const struct {
	const char	*name;
	size_t		 len;
} param_names[P_COUNT] = {
	[P_METHOD] =
	    { "REQUEST_METHOD", sizeof("REQUEST_METHOD") - 1 },
	[P_URI] =
	    { "REQUEST_URI", sizeof("REQUEST_URI") - 1 },
	[P_QUERY_STRING] =
	    { "QUERY_STRING", sizeof("QUERY_STRING") - 1 },
	[P_REMOTE_ADDR] =
	    { "REMOTE_ADDR", sizeof("REMOTE_ADDR") - 1 },
	[P_FORWARDED_FOR] =
	    { "HTTP_X_FORWARDED_FOR", sizeof("HTTP_X_FORWARDED_FOR") - 1 },
	[P_CONTENT_ENCODING] =
	    { "HTTP_CONTENT_ENCODING", sizeof("HTTP_CONTENT_ENCODING") - 1 },
	[P_RELAY_ID] =
	    { "HTTP_X_SENTRY_RELAY_ID", sizeof("HTTP_X_SENTRY_RELAY_ID") - 1 },
	[P_RELAY_SIGNATURE] =
	    { "HTTP_X_SENTRY_RELAY_SIGNATURE",
	    sizeof("HTTP_X_SENTRY_RELAY_SIGNATURE") - 1 },
	[P_CONTENT_LENGTH] =
	    { "CONTENT_LENGTH", sizeof("CONTENT_LENGTH") - 1 },
	[P_ACCEPT_ENCODING] =
	    { "HTTP_ACCEPT_ENCODING", sizeof("HTTP_ACCEPT_ENCODING") - 1 },
};

/*
 * The value of the first param of each name in val[] (NULL when absent,
 * as FCGX_GetParam would find it), and in n[] how many params of each name
 * came.  One pass, where a FCGX_GetParam per name read every param ten
 * times over.  Returns whether the params stay within HTTP_PARAMS_MAX and
 * HTTP_PARAMS_BYTES_MAX (the scan stops at the first beyond).
 */
static bool
params_scan(char **envp, const char *val[P_COUNT], unsigned n[P_COUNT])
{
	size_t count = 0, bytes = 0;

	memset(val, 0, P_COUNT * sizeof(*val));
	memset(n, 0, P_COUNT * sizeof(*n));
	for (char **e = envp; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		size_t len;

		if (++count > HTTP_PARAMS_MAX ||
		    (bytes += strlen(*e)) > HTTP_PARAMS_BYTES_MAX)
			return false;
		if (eq == NULL)
			continue;
		len = (size_t)(eq - *e);
		for (int k = 0; k < P_COUNT; k++) {
			if (param_names[k].len != len ||
			    memcmp(*e, param_names[k].name, len) != 0)
				continue;
			n[k]++;
			if (val[k] == NULL)
				val[k] = eq + 1;
			break;
		}
	}
	return true;
}

/* A copy of v, "" for NULL or longer than HTTP_PARAM_MAX; NULL on OOM. */
static char *
param_copy(const char *v)
{
	if (v == NULL || strlen(v) > HTTP_PARAM_MAX)
		v = "";
	return strdup(v);
}

/*
 * Append s[0..n) to out[0..len), which holds HTTP_PARAM_MAX + 2 bytes,
 * keeping at most HTTP_PARAM_MAX + 1 of them.  Returns the new length.
 */
static size_t
join_append(char *out, size_t len, const char *s, size_t n)
{
	if (n > HTTP_PARAM_MAX + 1 - len)
		n = HTTP_PARAM_MAX + 1 - len;
	memcpy(out + len, s, n);
	return len + n;
}

/*
 * header_join - every param of request header k in arrival order, joined
 * with ", " as one header line would be (RFC 9110 5.3), which is how
 * nginx 1.23 and later and Apache pass a header the client repeated, and
 * what Sentry's WSGI server hands Django.  nginx 1.22 passes repeated
 * header lines as separate params, and FCGX_GetParam returns only the
 * first, which the client chose: a second X-Sentry-Relay-Id then went
 * unseen, where every other server refuses the pair as no UUID.
 * params_scan found the first of the n lines, first (NULL for none): one
 * line is its own join, copied without a pass over the params or a join
 * buffer.  X-Forwarded-For skips empty lines (they add no hop), and a
 * join longer than HTTP_PARAM_MAX is cut to HTTP_PARAM_MAX + 1 bytes so
 * that its length still says "too long" (never "absent"); any other
 * header longer than HTTP_PARAM_MAX is "", as param_copy makes it.
 * Returns a new string, or NULL on OOM.
 */
static char *
header_join(FCGX_Request *fcgx, enum param k, const char *first, unsigned n)
{
	const char *name = param_names[k].name;
	size_t nlen = param_names[k].len, len = 0;
	bool xff = k == P_FORWARDED_FOR;
	unsigned lines = 0;
	char *out, **e;

	if (n <= 1)
		return xff ? strndup(first != NULL ? first : "",
		    HTTP_PARAM_MAX + 1) : param_copy(first);
	if ((out = malloc(HTTP_PARAM_MAX + 2)) == NULL)
		return NULL;
	for (e = fcgx->envp; e != NULL && *e != NULL && len <= HTTP_PARAM_MAX;
	    e++) {
		const char *v;

		if (strncmp(*e, name, nlen) != 0 || (*e)[nlen] != '=')
			continue;
		if (*(v = *e + nlen + 1) == '\0' && xff)
			continue;	/* an empty line adds no hop */
		if (lines++ > 0)
			len = join_append(out, len, ", ", 2);
		len = join_append(out, len, v, strlen(v));
	}
	out[len > HTTP_PARAM_MAX && !xff ? 0 : len] = '\0';
	return out;
}

/*
 * uri_origin_form - rewrite, in place, a REQUEST_URI in absolute form
 * ("http://host:port/path?query", RFC 9112 section 3.2.2, which a server
 * must accept) to its origin form ("/path?query"); an absolute form
 * without a path becomes "/" and what follows its authority.  nginx
 * passes the origin form whatever the client sent; Apache passes the
 * target as sent, so without this Relay's paths were a 404 there.  Only http and https (any case) are
 * taken: Apache refuses other schemes itself.  Any other URI is left as it
 * is.  Returns nothing.
 */
static void
uri_origin_form(char *uri)
{
	size_t skip;
	char *p;

	if (strncasecmp(uri, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(uri, "https://", 8) == 0)
		skip = 8;
	else
		return;
	/* the authority ends at "/", "?" or "#" (RFC 3986 3.2) */
	p = uri + skip + strcspn(uri + skip, "/?#");
	if (*p == '/')
		memmove(uri, p, strlen(p) + 1);
	else {
		/* "http://" is longer than the "/" put in its place */
		uri[0] = '/';
		memmove(uri + 1, p, strlen(p) + 1);
	}
}

int
http_request_open(struct request *req, FCGX_Request *fcgx)
{
	const char *val[P_COUNT];
	unsigned n[P_COUNT];
	char *q;

	memset(req, 0, sizeof(*req));
	req->fcgx = fcgx;
	req->params_too_large = !params_scan(fcgx->envp, val, n);
	/* The web server's own params: the first.  Request headers: all. */
	req->method = param_copy(val[P_METHOD]);
	req->uri = param_copy(val[P_URI]);
	req->remote_addr = param_copy(val[P_REMOTE_ADDR]);
	req->content_length = param_copy(val[P_CONTENT_LENGTH]);
	req->forwarded_for = header_join(fcgx, P_FORWARDED_FOR,
	    val[P_FORWARDED_FOR], n[P_FORWARDED_FOR]);
	req->content_encoding = header_join(fcgx, P_CONTENT_ENCODING,
	    val[P_CONTENT_ENCODING], n[P_CONTENT_ENCODING]);
	req->relay_id = header_join(fcgx, P_RELAY_ID, val[P_RELAY_ID],
	    n[P_RELAY_ID]);
	req->relay_signature = header_join(fcgx, P_RELAY_SIGNATURE,
	    val[P_RELAY_SIGNATURE], n[P_RELAY_SIGNATURE]);
	req->accept_encoding = header_join(fcgx, P_ACCEPT_ENCODING,
	    val[P_ACCEPT_ENCODING], n[P_ACCEPT_ENCODING]);
	if (req->forwarded_for == NULL || req->method == NULL ||
	    req->uri == NULL || req->remote_addr == NULL ||
	    req->content_encoding == NULL || req->relay_id == NULL ||
	    req->relay_signature == NULL || req->content_length == NULL ||
	    req->accept_encoding == NULL ||
	    (req->path = strdup(req->uri)) == NULL)
		goto fail;
	/*
	 * Route on REQUEST_URI, never SCRIPT_NAME: shared hosting rewrites
	 * the latter to the wrapper script.  The query comes from the URI too,
	 * unless the server only gave QUERY_STRING.
	 */
	uri_origin_form(req->path);
	if ((q = strchr(req->path, '?')) != NULL) {
		*q++ = '\0';
		req->query = strdup(q);
	} else
		req->query = param_copy(val[P_QUERY_STRING]);
	if (req->query == NULL)
		goto fail;
	return 0;
fail:
	http_request_close(req);
	return -1;
}

void
http_request_close(struct request *req)
{
	free(req->method);
	free(req->uri);
	free(req->path);
	free(req->query);
	free(req->remote_addr);
	free(req->forwarded_for);
	free(req->content_encoding);
	free(req->relay_id);
	free(req->relay_signature);
	free(req->content_length);
	free(req->accept_encoding);
	free(req->body);
	memset(req, 0, sizeof(*req));
}

/* Bytes of an over-long body read and thrown away before dropping it. */
#define HTTP_DRAIN_MAX(max)	((max) * 8)

/*
 * A body without CONTENT_LENGTH (Apache mod_proxy_fcgi streams a chunked
 * body that way): read FastCGI stdin to its end, which the empty STDIN
 * record marks.  Beyond max bytes: 413, flushed at once, then the rest is
 * read and thrown away (up to HTTP_DRAIN_MAX) so that the web server, still
 * writing, is not reset.  Returns as http_read_body.
 */
static int
read_to_end(struct request *req, size_t max)
{
	FCGX_Stream *in = req->fcgx->in;
	size_t got = 0, cap = max + 1 < 8192 ? max + 1 : 8192;
	char *buf, *nbuf, sink[8192];
	int n;

	if ((buf = malloc(cap + 1)) == NULL)
		goto oom;
	for (;;) {
		if (got == cap) {
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if ((nbuf = realloc(buf, cap + 1)) == NULL)
				goto oom;
			buf = nbuf;
		}
		n = FCGX_GetStr(buf + got, (int)(cap - got), in);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got > max)
			break;
	}
	if (got > max) {
		free(buf);
		http_reply_error(req, 413, "Request body too large", NULL);
		FCGX_FFlush(req->fcgx->out);
		while (got < HTTP_DRAIN_MAX(max) &&
		    (n = FCGX_GetStr(sink, sizeof(sink), in)) > 0)
			got += (size_t)n;
		return -1;
	}
	if (FCGX_GetError(in) != 0) {
		free(buf);
		http_reply_error(req, 400, "Incomplete request body", NULL);
		return -1;
	}
	buf[got] = '\0';
	req->body = buf;
	req->body_len = got;
	return 0;
oom:
	free(buf);
	http_reply_error(req, 503, "Out of memory", NULL);
	return -1;
}

int
http_read_body(struct request *req, size_t max)
{
	unsigned long long want = 0;
	size_t got = 0;
	char *end;
	int n;

	if (req->content_length[0] == '\0')
		return read_to_end(req, max);
	if (!isdigit((unsigned char)req->content_length[0]))
		goto bad_length;
	errno = 0;
	want = strtoull(req->content_length, &end, 10);
	if (errno != 0 || *end != '\0') {
		if (errno == ERANGE)
			goto too_large;
		goto bad_length;
	}
	if (want > max)
		goto too_large;
	if ((req->body = malloc((size_t)want + 1)) == NULL) {
		http_reply_error(req, 503, "Out of memory", NULL);
		return -1;
	}
	while (got < want) {
		n = FCGX_GetStr(req->body + got, (int)(want - got),
		    req->fcgx->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	req->body[got] = '\0';
	req->body_len = got;
	if (got < want) {
		http_reply_error(req, 400, "Incomplete request body", NULL);
		return -1;
	}
	return 0;
bad_length:
	http_reply_error(req, 400, "Invalid Content-Length", NULL);
	return -1;
too_large:
	http_reply_error(req, 413, "Request body too large", NULL);
	return -1;
}

/*
 * query_decode - URL-decode [s, end) ('+' is a space) into buf,
 * NUL-terminated.  Returns the length, or -2 when it does not fit in
 * buflen or a '%' is not followed by two hex digits.
 */
static int
query_decode(const char *s, const char *end, char *buf, size_t buflen)
{
	size_t o = 0;

	for (; s < end; s++) {
		int c = (unsigned char)*s;

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int hi, lo;

			if (end - s < 3 || (hi = valid_hex_digit(s[1])) < 0 ||
			    (lo = valid_hex_digit(s[2])) < 0)
				return -2;
			c = hi * 16 + lo;
			s += 2;
		}
		if (o + 1 >= buflen)
			return -2;
		buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return (int)o;
}

int
http_query_param(const char *query, const char *name, char *buf,
    size_t buflen)
{
	size_t nlen = strlen(name);
	const char *p = query, *last = NULL, *last_end = NULL;
	/* Names of up to 63 characters: the decoded key gets nlen + 2
	 * bytes, one more character (a longer key is no match) and the NUL. */
	char key[63 + 2];

	if (nlen + 2 > sizeof(key))
		return -1;
	/* Django's QueryDict.get: names decoded as values are, last one wins. */
	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&');
		const char *end = amp != NULL ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *kend = eq != NULL ? eq : end;

		if (query_decode(p, kend, key, nlen + 2) == (int)nlen &&
		    memcmp(key, name, nlen) == 0) {
			last = eq != NULL ? eq + 1 : end;
			last_end = end;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	if (last == NULL)
		return -1;
	return query_decode(last, last_end, buf, buflen);
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default:  return "Unknown";
	}
}

/* Skip optional whitespace (OWS). */
static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * Is the q parameter among an Accept-Encoding element's parameters
 * [p, end) zero ("0", "0.", up to "0.000")?  A malformed q counts as
 * acceptable, as most servers read it.
 */
static bool
params_q_zero(const char *p, const char *end)
{
	while ((p = memchr(p, ';', (size_t)(end - p))) != NULL) {
		const char *v;

		p = skip_ows(p + 1);
		if ((*p != 'q' && *p != 'Q') || p + 1 >= end)
			continue;
		v = skip_ows(p + 1);
		if (v >= end || *v != '=')
			continue;
		v = skip_ows(v + 1);
		if (v >= end || *v++ != '0')
			return false;
		if (v < end && *v == '.') {
			v++;
			for (int i = 0; i < 3 && v < end && *v == '0'; i++)
				v++;
		}
		v = skip_ows(v);
		return v >= end || *v == ';';
	}
	return false;
}

bool
http_accepts_gzip(const char *accept_encoding)
{
	const char *p = accept_encoding;
	bool gzip = false, gzip_named = false, star = false;

	if (p == NULL)
		return false;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		const char *name, *nend;
		size_t nlen;

		if (end == NULL)
			end = p + strlen(p);
		name = skip_ows(p);
		for (nend = name; nend < end && *nend != ';' && *nend != ' ' &&
		    *nend != '\t'; nend++)
			;
		nlen = (size_t)(nend - name);
		bool zero = params_q_zero(nend, end);
		if ((nlen == 4 && strncasecmp(name, "gzip", 4) == 0) ||
		    (nlen == 6 && strncasecmp(name, "x-gzip", 6) == 0)) {
			gzip_named = true;
			gzip = gzip || !zero;
		} else if (nlen == 1 && name[0] == '*')
			star = !zero;
		p = *end != '\0' ? end + 1 : end;
	}
	return gzip_named ? gzip : star;
}

int
http_reply_head(struct request *req, int status, const char *content_type,
    const char *extra_headers, size_t len)
{
	char head[1024];
	int n;

	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%s\r\n",
	    status, http_status_text(status), content_type, len,
	    extra_headers != NULL ? extra_headers : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	req->status = status;
	if (FCGX_PutStr(head, n, req->fcgx->out) != n)
		return -1;
	return 0;
}

int
http_write(struct request *req, const void *buf, size_t len)
{
	/* FCGX_PutStr takes an int; answers are far below 2 GiB anyway. */
	while (len > 0) {
		int n = len > INT_MAX ? INT_MAX : (int)len;

		if (FCGX_PutStr(buf, n, req->fcgx->out) != n)
			return -1;
		req->bytes_out += (size_t)n;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

int
http_reply(struct request *req, int status, const char *content_type,
    const char *extra_headers, const char *body, size_t len)
{
	if (http_reply_head(req, status, content_type, extra_headers,
	    len) != 0)
		return -1;
	return http_write(req, body, len);
}

int
http_reply_json(struct request *req, int status, const char *json,
    size_t len)
{
	return http_reply(req, status, "application/json", NULL, json, len);
}

int
http_reply_object(struct request *req, int status, json_object *obj,
    const char *extra_headers)
{
	const char *text = NULL;
	size_t len = 0;

	if (obj != NULL)
		text = json_object_to_json_string_length(obj,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &len);
	if (text == NULL)
		/* Out of memory: a fixed, still valid, answer. */
		return http_reply(req, 503, "application/json", NULL,
		    "{\"detail\":\"Out of memory\"}", 26);
	return http_reply(req, status, "application/json", extra_headers,
	    text, len);
}

int
http_reply_error(struct request *req, int status, const char *detail,
    const char *extra_headers)
{
	json_object *o;
	int rc;

	if ((o = json_object_new_object()) != NULL)
		json_object_object_add(o, "detail",
		    json_object_new_string(detail));
	rc = http_reply_object(req, status, o, extra_headers);
	json_object_put(o);
	return rc;
}
