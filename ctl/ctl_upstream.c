/*
 * ctl_upstream.c - relaycfgctl's HTTP (libcurl): one signed POST to an
 * upstream, the way Sentry Relay's UpstreamQuery sends it, one plain GET
 * (status reads /metrics with it), and the report of an answer.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ctl_relay.h"

#define CONNECT_TIMEOUT		5L	/* s */
#define TOTAL_TIMEOUT		30L	/* s */

int
ctl_net_check(const char *cmd, const struct netopts *no)
{
	if (no->upstream == NULL || no->credentials == NULL) {
		ctl_warn(cmd, "--upstream and --credentials are required");
		return -1;
	}
	return 0;
}

/* Does the user's header line h name the header name? */
static bool
header_named(const char *h, const char *name)
{
	size_t n = strcspn(h, ":;");

	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	return n == strlen(name) && strncasecmp(h, name, n) == 0;
}

static bool
user_sets(const struct netopts *no, const char *name)
{
	for (size_t i = 0; i < no->n_headers; i++)
		if (header_named(no->headers[i], name))
			return true;
	return false;
}

/* Add "name: value" unless the user replaced it; false on OOM. */
static bool
add_header(struct curl_slist **l, const struct netopts *no,
    const char *name, const char *value)
{
	struct curl_slist *nl;
	char *line;

	if (user_sets(no, name))
		return true;
	if (asprintf(&line, "%s: %s", name, value) < 0)
		return false;
	nl = curl_slist_append(*l, line);
	free(line);
	if (nl == NULL)
		return false;
	*l = nl;
	return true;
}

/*
 * on_data - libcurl's write callback: append the n bytes at p to the
 * answer *arg, NUL-terminated; n, or 0 (which aborts the transfer) past
 * MAX_BODY (too_big set) or on OOM.  The buffer at least doubles when it
 * grows: a realloc for each of libcurl's 16 KiB pieces copied the body
 * each time where realloc copies (AddressSanitizer, some allocators), so
 * 64 MiB took minutes.
 */
static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct response *r = arg;
	size_t n = size * nmemb, cap;
	char *nb;

	if (n > MAX_BODY - r->len) {
		r->too_big = true;
		return 0;	/* aborts the transfer */
	}
	if (r->len + n + 1 > r->cap) {
		cap = r->cap < 4096 ? 4096 : r->cap;
		while (cap < r->len + n + 1)
			cap *= 2;
		if (cap > MAX_BODY + 1)
			cap = MAX_BODY + 1;
		if ((nb = realloc(r->body, cap)) == NULL)
			return 0;
		r->body = nb;
		r->cap = cap;
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/*
 * easy_new - a libcurl handle for url that collects the answer into *r
 * (at most MAX_BODY bytes) within the time limits, errors in errbuf
 * (CURL_ERROR_SIZE bytes), over protocols (a comma list).  NULL after a
 * message on stderr.
 */
static CURL *
easy_new(const char *cmd, const char *url, const char *protocols,
    char *errbuf, struct response *r)
{
	CURL *h;

	if ((h = curl_easy_init()) == NULL) {
		ctl_warn(cmd, "cannot start libcurl");
		return NULL;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, TOTAL_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
#else
	(void)protocols;
#endif
	return h;
}

/*
 * perform - run h (made by easy_new for url, collecting into *tmp) and
 * move the answer into *r: 0, or -1 after a message on stderr, *r
 * untouched.  tmp->body stays the caller's to free either way.
 */
static int
perform(const char *cmd, CURL *h, const char *url, const char *errbuf,
    struct response *tmp, struct response *r)
{
	CURLcode cc;

	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		if (tmp->too_big)
			ctl_warn(cmd, "%s: answer larger than %lu MiB", url,
			    MAX_BODY >> 20);
		else
			ctl_warn(cmd, "%s: %s", url, errbuf[0] != '\0' ?
			    errbuf : curl_easy_strerror(cc));
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &tmp->status);
	if (tmp->body == NULL && (tmp->body = strdup("")) == NULL) {
		ctl_warn(cmd, "out of memory");
		return -1;
	}
	*r = *tmp;
	tmp->body = NULL;
	return 0;
}

/*
 * file_url - for "file:PATH" with a relative PATH (no '/' after the
 * colon), "file://CWD/PATH" with the working directory percent-encoded
 * (PATH is URL text already); NULL for any other url.  *fail is set
 * after a message on stderr when it could not be made.
 */
static char *
file_url(const char *cmd, const char *url, bool *fail)
{
	static const char hex[] = "0123456789ABCDEF";
	char cwd[PATH_MAX], *u, *q;
	const char *rel;

	*fail = false;
	if (strncasecmp(url, "file:", 5) != 0 || url[5] == '/')
		return NULL;
	rel = url + 5;
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		ctl_warn(cmd, "%s: cannot resolve against the working "
		    "directory: %s", url, strerror(errno));
		*fail = true;
		return NULL;
	}
	if ((u = malloc(7 + 3 * strlen(cwd) + 1 + strlen(rel) + 1)) == NULL) {
		ctl_warn(cmd, "out of memory");
		*fail = true;
		return NULL;
	}
	q = stpcpy(u, "file://");
	for (const unsigned char *c = (const unsigned char *)cwd; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		    (*c >= '0' && *c <= '9') || strchr("/-._~", *c) != NULL)
			*q++ = (char)*c;
		else {
			*q++ = '%';
			*q++ = hex[*c >> 4];
			*q++ = hex[*c & 15];
		}
	}
	if (q[-1] != '/')
		*q++ = '/';
	strcpy(q, rel);
	return u;
}

/*
 * ctl_http_get - GET url (http, https, or file: for a saved copy, whose
 * status is 0; file:PATH relative to the working directory) with the same
 * limits as ctl_http_post, with the n_headers lines of headers ("N: V";
 * "N:" alone drops a header curl sends).  Returns 0 with the answer in
 * *r, whatever its status (caller frees r->body), or -1 with the reason
 * on stderr when no answer arrived.
 */
int
ctl_http_get(const char *cmd, const char *url, const char **headers,
    size_t n_headers, struct response *r)
{
	char errbuf[CURL_ERROR_SIZE] = "", *furl;
	struct curl_slist *hdrs = NULL, *nl;
	struct response tmp = { 0, NULL, 0, false, 0 };
	CURL *h = NULL;
	bool fail;
	int rc = -1;

	if ((furl = file_url(cmd, url, &fail)) == NULL && fail)
		goto out;
	if ((h = easy_new(cmd, furl != NULL ? furl : url, "http,https,file",
	    errbuf, &tmp)) == NULL)
		goto out;
	for (size_t i = 0; i < n_headers; i++) {
		if ((nl = curl_slist_append(hdrs, headers[i])) == NULL) {
			ctl_warn(cmd, "out of memory");
			goto out;
		}
		hdrs = nl;
	}
	if (hdrs != NULL)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	rc = perform(cmd, h, url, errbuf, &tmp, r);
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(furl);
	free(tmp.body);
	return rc;
}

/*
 * ctl_http_post - POST body to upstream + path (path starts with '/', may
 * carry a query) the way Relay's UpstreamQuery does: Content-Type
 * application/json, X-Sentry-Relay-Id, X-Sentry-Relay-Signature over the
 * exact body, Accept-Encoding gzip.  Returns 0 with the answer in *r
 * (caller frees r->body), or -1 with the reason on stderr when no answer
 * arrived.
 */
int
ctl_http_post(const char *cmd, const struct netopts *no, const struct creds *c,
    const char *path, const char *body, size_t len, struct response *r)
{
	char errbuf[CURL_ERROR_SIZE] = "", *url = NULL, *sig = NULL;
	struct curl_slist *hdrs = NULL, *nl;
	struct response tmp = { 0, NULL, 0, false, 0 };
	CURL *h = NULL;
	size_t ulen;
	int rc = -1;

	/* Relay's upstream is an origin; tolerate "http://host/" too. */
	ulen = strlen(no->upstream);
	while (ulen > 0 && no->upstream[ulen - 1] == '/')
		ulen--;
	if (asprintf(&url, "%.*s%s", (int)ulen, no->upstream, path) < 0) {
		url = NULL;
		ctl_warn(cmd, "out of memory");
		goto out;
	}
	if ((sig = ctl_sign_body(cmd, c, no->have_time, no->time, body,
	    len)) == NULL)
		goto out;
	/*
	 * "Expect:" keeps curl from waiting for 100-continue on big bodies,
	 * which Relay's client never asks for.
	 */
	if (!add_header(&hdrs, no, "Content-Type", "application/json") ||
	    !add_header(&hdrs, no, "X-Sentry-Relay-Id", c->relay_id) ||
	    !add_header(&hdrs, no, "X-Sentry-Relay-Signature", sig) ||
	    !add_header(&hdrs, no, "Expect", "")) {
		ctl_warn(cmd, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < no->n_headers; i++) {
		if ((nl = curl_slist_append(hdrs, no->headers[i])) == NULL) {
			ctl_warn(cmd, "out of memory");
			goto out;
		}
		hdrs = nl;
	}
	if ((h = easy_new(cmd, url, "http,https", errbuf, &tmp)) == NULL)
		goto out;
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	rc = perform(cmd, h, url, errbuf, &tmp, r);
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(tmp.body);
	free(sig);
	free(url);
	return rc;
}

bool
ctl_is_2xx(const struct response *r)
{
	return r->status >= 200 && r->status < 300;
}

/* How much of an answer's body an error on stderr shows. */
#define ERR_BODY_MAX		4096

/*
 * ctl_put_body - the body of r on fp, newline-terminated.  Into a pipe or
 * a file the bytes as they came (scripts parse them).  On a terminal, and
 * always on stderr, a control character (ESC, CR, NUL, DEL, C1, ...) and
 * a byte that is not UTF-8 are written as \xNN (ctl_put_escaped), so
 * that an answer cannot drive the terminal; on stderr
 * a newline and a tab too (an error is one line, no line of it forged),
 * and at most ERR_BODY_MAX bytes, then how many there were.
 */
void
ctl_put_body(FILE *fp, const struct response *r)
{
	bool err = fp == stderr, tty = isatty(fileno(fp)) == 1, cut = false;
	size_t n = r->len;

	if (!err && !tty) {
		fwrite(r->body, 1, r->len, fp);
		if (r->len == 0 || r->body[r->len - 1] != '\n')
			fputc('\n', fp);
		return;
	}
	/* the final newline first: 4096 bytes and a newline are all shown */
	if (err && n > 0 && r->body[n - 1] == '\n')
		n--;
	if (err && n > ERR_BODY_MAX) {
		n = ERR_BODY_MAX;
		cut = true;
	}
	ctl_put_escaped(fp, r->body, n, err ? "" : "\n\t");
	if (cut)
		fprintf(fp, "... (%zu bytes)", r->len);
	if (err || n == 0 || r->body[n - 1] != '\n')
		fputc('\n', fp);
}

/*
 * ctl_finish - report an answer: with --status the status line then the body
 * on stdout (exit 0); else 2xx prints the body (exit 0) and anything else
 * "HTTP <status>" and the body on stderr (exit 1).
 */
int
ctl_finish(const struct netopts *no, const struct response *r)
{
	if (no->status) {
		printf("%ld\n", r->status);
		ctl_put_body(stdout, r);
		return 0;
	}
	if (ctl_is_2xx(r)) {
		ctl_put_body(stdout, r);
		return 0;
	}
	fprintf(stderr, "HTTP %ld\n", r->status);
	ctl_put_body(stderr, r);
	return 1;
}
