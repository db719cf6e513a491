/*
 * fuzz_common.c - helpers of the fuzz harnesses: failing loudly, a
 * private temp dir, a FastCGI request in memory, the answer checker and a
 * fake memcached.  See fuzz.h.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <zlib.h>

#include "fuzz.h"
#include "log.h"

/* No answer of relaycfg comes near this once inflated. */
#define FUZZ_INFLATE_MAX	(64u << 20)

void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nFUZZ INVARIANT BROKEN at %s:%d: %s\n  ", file,
	    line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

void
fuzz_quiet_logs(void)
{
	log_setup(getenv("FUZZ_LOG") != NULL ? LOG_LEVEL_DEBUG : -1, false);
}

static char tmpdir[PATH_MAX];

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* At exit: the temp dir and everything in it. */
static void
tmpdir_remove(void)
{
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
fuzz_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0] != '\0')
		return tmpdir;
	if (base == NULL || base[0] == '\0' || strlen(base) > 200)
		base = "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/relaycfg-fuzz.XXXXXX", base);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	atexit(tmpdir_remove);
	return tmpdir;
}

void
fuzz_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) ||
	    fclose(f) != 0) {
		perror(path);
		abort();
	}
}

bool
fuzz_line(struct fuzz_in *in, const char **line, size_t *len)
{
	const uint8_t *nl;

	if (in->n == 0)
		return false;
	*line = (const char *)in->p;
	if ((nl = memchr(in->p, '\n', in->n)) == NULL) {
		*len = in->n;
		in->p += in->n;
		in->n = 0;
		return true;
	}
	*len = (size_t)(nl - in->p);
	in->n -= *len + 1;
	in->p = nl + 1;
	return true;
}

/* --- FastCGI request in memory --------------------------------------- */

/* stdin: the next chunk, or EOF, or a read error where the fuzzer says. */
static void
fcgx_fill(FCGX_Stream *s)
{
	struct fuzz_fcgx *f = s->data;
	size_t n = f->body_len - f->body_pos;

	if (f->body_pos >= f->in_fail_at) {
		s->isClosed = 1;
		s->FCGI_errno = ECONNRESET;
		return;
	}
	if (n == 0) {
		/* libfcgi closes the stream at the end of FCGI_STDIN. */
		s->isClosed = 1;
		return;
	}
	if (n > f->chunk)
		n = f->chunk;
	if (f->in_fail_at != SIZE_MAX && n > f->in_fail_at - f->body_pos)
		n = f->in_fail_at - f->body_pos;
	s->rdNext = s->stopUnget = f->body + f->body_pos;
	s->stop = s->rdNext + n;
	f->body_pos += n;
}

/* stdout: the buffer goes to the web server, or the write fails. */
static void
fcgx_empty(FCGX_Stream *s, int doClose)
{
	struct fuzz_fcgx *f = s->data;
	size_t n = (size_t)(s->wrNext - f->obuf);

	(void)doClose;
	if (f->out_failed || n == 0)
		return;
	if (f->out_fail_at != SIZE_MAX && f->sent_len + n > f->out_fail_at) {
		/* As libfcgi's SetError: closed, buffer left full. */
		n = f->out_fail_at - f->sent_len;
		f->out_failed = true;
		s->isClosed = 1;
		s->FCGI_errno = EPIPE;
	}
	if (n > 0 && f->sent_len + n > f->sent_cap) {
		size_t cap = f->sent_cap * 2 + n + 4096;
		char *p = realloc(f->sent, cap);

		if (p == NULL)
			abort();
		f->sent = p;
		f->sent_cap = cap;
	}
	if (n > 0)
		memcpy(f->sent + f->sent_len, f->obuf, n);
	f->sent_len += n;
	if (!f->out_failed)
		s->wrNext = f->obuf;
}

static void
fcgx_err_empty(FCGX_Stream *s, int doClose)
{
	(void)doClose;
	s->wrNext = s->stopUnget;
}

void
fuzz_fcgx_init(struct fuzz_fcgx *f, size_t obuf_size)
{
	static unsigned char errbuf[256];

	memset(f, 0, sizeof(*f));
	if (obuf_size == 0)
		obuf_size = 1;
	f->chunk = SIZE_MAX;
	f->in_fail_at = SIZE_MAX;
	f->out_fail_at = SIZE_MAX;
	f->obuf_size = obuf_size;
	if ((f->obuf = malloc(obuf_size)) == NULL ||
	    (f->body = malloc(1)) == NULL ||
	    (f->envp = calloc(1, sizeof(*f->envp))) == NULL)
		abort();
	f->capenv = 1;

	f->in.isReader = 1;
	f->in.rdNext = f->in.stop = f->in.stopUnget = f->body;
	f->in.fillBuffProc = fcgx_fill;
	f->in.data = f;

	f->out.wrNext = f->out.stopUnget = f->obuf;
	f->out.stop = f->obuf + obuf_size;
	f->out.emptyBuffProc = fcgx_empty;
	f->out.data = f;

	f->err.wrNext = f->err.stopUnget = errbuf;
	f->err.stop = errbuf + sizeof(errbuf);
	f->err.emptyBuffProc = fcgx_err_empty;
	f->err.data = f;

	f->req.role = 1;	/* FCGI_RESPONDER */
	f->req.in = &f->in;
	f->req.out = &f->out;
	f->req.err = &f->err;
	f->req.envp = f->envp;
	f->req.ipcFd = -1;
}

void
fuzz_fcgx_param(struct fuzz_fcgx *f, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	char *p;

	if (f->nenv + 2 > f->capenv) {
		size_t cap = f->capenv * 2 + 8;
		char **e = realloc(f->envp, cap * sizeof(*e));

		if (e == NULL)
			abort();
		f->envp = e;
		f->capenv = cap;
	}
	if ((p = malloc(nlen + vlen + 2)) == NULL)
		abort();
	memcpy(p, name, nlen);
	p[nlen] = '=';
	memcpy(p + nlen + 1, value, vlen);
	p[nlen + 1 + vlen] = '\0';
	f->envp[f->nenv++] = p;
	f->envp[f->nenv] = NULL;
	f->req.envp = f->envp;
}

void
fuzz_fcgx_body(struct fuzz_fcgx *f, const void *body, size_t len)
{
	unsigned char *b = malloc(len > 0 ? len : 1);

	if (b == NULL)
		abort();
	if (len > 0)
		memcpy(b, body, len);
	free(f->body);
	f->body = b;
	f->body_len = len;
	f->body_pos = 0;
	f->in.rdNext = f->in.stop = f->in.stopUnget = f->body;
}

void
fuzz_fcgx_finish(struct fuzz_fcgx *f)
{
	if (f->out.wrNext != f->obuf)
		fcgx_empty(&f->out, 1);
}

void
fuzz_fcgx_free(struct fuzz_fcgx *f)
{
	for (size_t i = 0; i < f->nenv; i++)
		free(f->envp[i]);
	free(f->envp);
	free(f->body);
	free(f->obuf);
	free(f->sent);
	memset(f, 0, sizeof(*f));
}

/* --- answer checker -------------------------------------------------- */

/* A header's value (up to CR) in head[0..len), or NULL. */
static const char *
header_find(const char *head, size_t len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = head, *end = head + len;

	while (p < end) {
		const char *eol = memchr(p, '\r', (size_t)(end - p));

		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && p[nl] == ':' &&
		    strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;

			while (v < eol && *v == ' ')
				v++;
			*vlen = (size_t)(eol - v);
			return v;
		}
		p = eol + 2;
	}
	return NULL;
}

/* Inflate a whole gzip member; aborts unless it is exactly one. */
static char *
gunzip_all(const char *in, size_t len, size_t *outlen)
{
	z_stream zs;
	size_t cap = 4096;
	char *out = malloc(cap);
	int zr;

	FUZZ_CHECK(out != NULL, "out of memory");
	memset(&zs, 0, sizeof(zs));
	FUZZ_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "inflateInit2");
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	*outlen = 0;
	for (;;) {
		if (*outlen == cap) {
			FUZZ_CHECK(cap < FUZZ_INFLATE_MAX,
			    "gzip answer inflates beyond %u bytes",
			    FUZZ_INFLATE_MAX);
			cap *= 2;
			FUZZ_CHECK((out = realloc(out, cap)) != NULL, "OOM");
		}
		zs.next_out = (unsigned char *)out + *outlen;
		zs.avail_out = (uInt)(cap - *outlen);
		zr = inflate(&zs, Z_NO_FLUSH);
		*outlen = cap - zs.avail_out;
		if (zr == Z_STREAM_END)
			break;
		FUZZ_CHECK(zr == Z_OK || (zr == Z_BUF_ERROR &&
		    zs.avail_out == 0),
		    "gzip answer does not inflate: zlib %d (%s) after %zu "
		    "bytes", zr, zs.msg != NULL ? zs.msg : "-", *outlen);
	}
	FUZZ_CHECK(zs.avail_in == 0, "%u bytes after the gzip member",
	    zs.avail_in);
	inflateEnd(&zs);
	return out;
}

/* Strict JSON (RFC 8259, UTF-8 checked), the whole text; NULL if not. */
static json_object *
json_strict(const char *text, size_t len)
{
	json_tokener *tok = json_tokener_new_ex(64);
	json_object *o;

	FUZZ_CHECK(tok != NULL, "OOM");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (o != NULL && json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

void
fuzz_check_answer(const char *sent, size_t len, bool whole_body,
    struct fuzz_answer *out)
{
	const char *eoh, *v, *head;
	size_t hlen, vlen, text_len = 0;
	unsigned long long clen;
	char num[24], *end, *text = NULL;
	json_object *o;
	int status;

	memset(out, 0, sizeof(*out));
	FUZZ_CHECK(len > 8 && memcmp(sent, "Status: ", 8) == 0,
	    "answer does not start with a Status line (%zu bytes: %.*s)",
	    len, (int)(len < 80 ? len : 80), sent);
	status = (int)strtol(sent + 8, &end, 10);
	FUZZ_CHECK(end == sent + 11 && *end == ' ' && status >= 100 &&
	    status <= 599, "bad status line: %.*s", 40, sent);
	FUZZ_CHECK(status != 500, "status 500 (an internal error)");
	eoh = NULL;
	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(sent + i, "\r\n\r\n", 4) == 0) {
			eoh = sent + i;
			break;
		}
	FUZZ_CHECK(eoh != NULL, "no end of headers in %zu bytes", len);
	head = memchr(sent, '\n', (size_t)(eoh - sent) + 2) + 1;
	hlen = (size_t)(eoh + 2 - head);
	for (size_t i = 0; i < hlen; i++)
		FUZZ_CHECK(head[i] != '\0' && (head[i] != '\n' ||
		    (i > 0 && head[i - 1] == '\r')) && (head[i] != '\r' ||
		    (i + 1 < hlen && head[i + 1] == '\n')),
		    "a bare CR, LF or NUL in the headers");
	v = header_find(head, hlen, "Content-Length", &vlen);
	FUZZ_CHECK(v != NULL && vlen > 0 && vlen < sizeof(num),
	    "no Content-Length");
	memcpy(num, v, vlen);
	num[vlen] = '\0';
	clen = strtoull(num, &end, 10);
	FUZZ_CHECK(*end == '\0' && num[0] >= '0' && num[0] <= '9',
	    "bad Content-Length \"%s\"", num);
	out->status = status;
	out->body = eoh + 4;
	out->body_len = len - (size_t)(out->body - sent);
	FUZZ_CHECK(clen == out->body_len,
	    "Content-Length %llu but %zu body bytes written (status %d)",
	    clen, out->body_len, status);
	v = header_find(head, hlen, "Content-Encoding", &vlen);
	out->gzip = v != NULL && vlen == 4 && strncasecmp(v, "gzip", 4) == 0;
	FUZZ_CHECK(v == NULL || out->gzip, "Content-Encoding %.*s",
	    (int)vlen, v);
	v = header_find(head, hlen, "Content-Type", &vlen);
	FUZZ_CHECK(v != NULL, "no Content-Type");
	out->json = vlen >= 16 && strncasecmp(v, "application/json", 16) == 0;
	FUZZ_CHECK(status < 400 || out->json, "error %d is not JSON", status);
	if (status == 401)
		FUZZ_CHECK(header_find(head, hlen, "WWW-Authenticate",
		    &vlen) != NULL, "401 without WWW-Authenticate");
	if (status == 405)
		FUZZ_CHECK(header_find(head, hlen, "Allow", &vlen) != NULL,
		    "405 without Allow");
	if (!out->json || (status < 300 && !whole_body))
		return;
	if (out->gzip)
		text = gunzip_all(out->body, out->body_len, &text_len);
	o = json_strict(text != NULL ? text : out->body,
	    text != NULL ? text_len : out->body_len);
	FUZZ_CHECK(o != NULL, "status %d: the body is not strict JSON: %.*s",
	    status, (int)(out->body_len < 200 ? out->body_len : 200),
	    out->body);
	if (status >= 400) {
		json_object *d;

		/*
		 * Where Sentry answers a bare string ("Unsupported
		 * version ...", the 403 to a relay that is not internal) or
		 * a serializer's {"field": [...]}, relaycfg answers the
		 * same; the router's, the body reader's and
		 * authentication's errors are {"detail": "..."}.
		 */
		bool own = status == 401 || status == 404 || status == 405 ||
		    status == 411 || status == 413 || status == 415;

		FUZZ_CHECK((json_object_is_type(o, json_type_object) &&
		    json_object_object_get_ex(o, "detail", &d) &&
		    json_object_is_type(d, json_type_string)) || (!own &&
		    (json_object_is_type(o, json_type_string) ||
		    (json_object_is_type(o, json_type_object) &&
		    json_object_object_length(o) > 0))),
		    "error %d without a string \"detail\": %.*s", status,
		    (int)(out->body_len < 200 ? out->body_len : 200),
		    out->body);
	}
	json_object_put(o);
	free(text);
}

/* --- fake memcached ------------------------------------------------- */

#define MC_MAX_VALUES	32

struct mc_value {
	char		 kind[16];
	bool		 raw;
	unsigned char	*v;
	size_t		 n;
};

static struct {
	pthread_mutex_t	 mu;
	char		 path[PATH_MAX];
	bool		 started;
	struct mc_value	 vals[MC_MAX_VALUES];
	size_t		 nvals;
	unsigned char	*gen;		/* override, or NULL */
	size_t		 gen_len;
} mc = { .mu = PTHREAD_MUTEX_INITIALIZER };

void
fuzz_mc_reset(void)
{
	pthread_mutex_lock(&mc.mu);
	for (size_t i = 0; i < mc.nvals; i++)
		free(mc.vals[i].v);
	mc.nvals = 0;
	free(mc.gen);
	mc.gen = NULL;
	mc.gen_len = 0;
	pthread_mutex_unlock(&mc.mu);
}

void
fuzz_mc_value(const char *kind, size_t klen, const void *value,
    size_t vlen, bool raw)
{
	unsigned char *copy;

	if (klen == 0 || klen >= sizeof(mc.vals[0].kind))
		return;
	if ((copy = malloc(vlen + 1)) == NULL)
		abort();
	memcpy(copy, value, vlen);
	pthread_mutex_lock(&mc.mu);
	if (klen == 3 && memcmp(kind, "gen", 3) == 0) {
		free(mc.gen);
		mc.gen = copy;
		mc.gen_len = vlen;
	} else if (mc.nvals < MC_MAX_VALUES) {
		struct mc_value *m = &mc.vals[mc.nvals++];

		memcpy(m->kind, kind, klen);
		m->kind[klen] = '\0';
		m->raw = raw;
		m->v = copy;
		m->n = vlen;
	} else
		free(copy);
	pthread_mutex_unlock(&mc.mu);
}

/* Write all of buf; false when the client went away. */
static bool
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

/* Answer one key of a get: VALUE line, data, CRLF; nothing on a miss. */
static bool
mc_get_one(int fd, const char *key, size_t klen)
{
	const char *k1, *k2, *kind;
	size_t kindlen, vlen = 0;
	char hdr[512];
	unsigned char *v = NULL;
	bool ok = true;
	int n;

	/* <ns>:<version>:<kind>[:<id>] */
	if ((k1 = memchr(key, ':', klen)) == NULL ||
	    (k2 = memchr(k1 + 1, ':', klen - (size_t)(k1 + 1 - key))) == NULL)
		return true;
	kind = k2 + 1;
	kindlen = klen - (size_t)(kind - key);
	if ((k1 = memchr(kind, ':', kindlen)) != NULL)
		kindlen = (size_t)(k1 - kind);
	pthread_mutex_lock(&mc.mu);
	if (kindlen == 3 && memcmp(kind, "gen", 3) == 0 && k1 == NULL) {
		const void *g = mc.gen != NULL ? (const void *)mc.gen :
		    (const void *)FUZZ_MC_GEN;

		vlen = mc.gen != NULL ? mc.gen_len : strlen(FUZZ_MC_GEN);
		if ((v = malloc(vlen + 1)) != NULL)
			memcpy(v, g, vlen);
	} else {
		for (size_t i = 0; i < mc.nvals; i++) {
			struct mc_value *m = &mc.vals[i];
			size_t fl;

			if (strlen(m->kind) != kindlen ||
			    memcmp(m->kind, kind, kindlen) != 0)
				continue;
			fl = m->raw ? 0 : 4 + strlen(FUZZ_MC_GEN) + 1 +
			    kindlen + 1;
			vlen = fl + m->n;
			if ((v = malloc(vlen + 1)) == NULL)
				break;
			if (!m->raw)
				snprintf((char *)v, fl + 1, "rc1 %s %.*s ",
				    FUZZ_MC_GEN, (int)kindlen, kind);
			memcpy(v + fl, m->v, m->n);
			break;
		}
	}
	pthread_mutex_unlock(&mc.mu);
	if (v == NULL)
		return true;
	n = snprintf(hdr, sizeof(hdr), "VALUE %.*s 0 %zu\r\n", (int)klen, key,
	    vlen);
	if (n < 0 || (size_t)n >= sizeof(hdr) || !send_all(fd, hdr, (size_t)n) ||
	    !send_all(fd, v, vlen) || !send_all(fd, "\r\n", 2))
		ok = false;
	free(v);
	return ok;
}

/* Split a command line into at most max words. */
static size_t
mc_words(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " ", &save); t != NULL && n < max;
	    t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	return n;
}

/*
 * Serve one connection until it closes.  buf holds what was read and not
 * yet handled; a storage command waits for its data block.
 */
static void
mc_serve(int fd)
{
	size_t cap = 65536, have = 0;
	char *buf = malloc(cap);

	if (buf == NULL)
		return;
	for (;;) {
		char *eol, *w[8];
		size_t llen, nw, need = 0;
		bool noreply;
		ssize_t r;

		eol = have > 0 ? memchr(buf, '\n', have) : NULL;
		if (eol == NULL) {
			if (have == cap) {
				char *p = realloc(buf, cap * 2);

				if (p == NULL)
					break;
				buf = p;
				cap *= 2;
			}
			r = recv(fd, buf + have, cap - have, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			have += (size_t)r;
			continue;
		}
		llen = (size_t)(eol - buf) + 1;
		{
			char *line = malloc(llen);

			if (line == NULL)
				break;
			memcpy(line, buf, llen - 1);
			line[llen - 1] = '\0';
			if (llen >= 2 && line[llen - 2] == '\r')
				line[llen - 2] = '\0';
			if (strncmp(line, "get ", 4) == 0 ||
			    strncmp(line, "gets ", 5) == 0) {
				char *save = NULL, *k;
				bool ok = true;

				strtok_r(line, " ", &save);
				while (ok && (k = strtok_r(NULL, " ", &save)) != NULL)
					ok = mc_get_one(fd, k, strlen(k));
				free(line);
				if (!ok || !send_all(fd, "END\r\n", 5))
					break;
				memmove(buf, buf + llen, have - llen);
				have -= llen;
				continue;
			}
			nw = mc_words(line, w, 8);
			noreply = nw > 0 && strcmp(w[nw - 1], "noreply") == 0;
			if (nw >= 5 && (strcmp(w[0], "set") == 0 ||
			    strcmp(w[0], "add") == 0 ||
			    strcmp(w[0], "replace") == 0 ||
			    strcmp(w[0], "append") == 0 ||
			    strcmp(w[0], "prepend") == 0 ||
			    strcmp(w[0], "cas") == 0))
				need = strtoul(w[4], NULL, 10) + 2;
			/* Wait for the whole data block. */
			if (need > 0 && have - llen < need) {
				free(line);
				if (llen + need > cap) {
					char *p = realloc(buf, llen + need);

					if (p == NULL)
						break;
					buf = p;
					cap = llen + need;
				}
				r = recv(fd, buf + have, cap - have, 0);
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0)
					break;
				have += (size_t)r;
				continue;
			}
			if (nw == 0)
				r = send_all(fd, "ERROR\r\n", 7);
			else if (need > 0)
				r = noreply || send_all(fd, "STORED\r\n", 8);
			else if (strcmp(w[0], "delete") == 0)
				r = noreply || send_all(fd, "DELETED\r\n", 9);
			else if (strcmp(w[0], "touch") == 0)
				r = noreply || send_all(fd, "TOUCHED\r\n", 9);
			else if (strcmp(w[0], "incr") == 0 ||
			    strcmp(w[0], "decr") == 0)
				r = noreply || send_all(fd, "NOT_FOUND\r\n", 11);
			else if (strcmp(w[0], "version") == 0)
				r = send_all(fd, "VERSION 1.6.18\r\n", 16);
			else if (strcmp(w[0], "flush_all") == 0 ||
			    strcmp(w[0], "verbosity") == 0)
				r = noreply || send_all(fd, "OK\r\n", 4);
			else if (strcmp(w[0], "quit") == 0)
				r = 0;
			else
				r = send_all(fd, "ERROR\r\n", 7);
			free(line);
			if (!r)
				break;
			memmove(buf, buf + llen + need, have - llen - need);
			have -= llen + need;
		}
	}
	free(buf);
}

static void *
mc_thread(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		mc_serve(fd);
		close(fd);
	}
}

const char *
fuzz_mc_start(void)
{
	struct sockaddr_un sun;
	pthread_t t;
	int lfd;

	if (mc.started)
		return mc.path;
	snprintf(mc.path, sizeof(mc.path), "%s/mc.sock", fuzz_tmpdir());
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(mc.path) >= sizeof(sun.sun_path))
		abort();
	strcpy(sun.sun_path, mc.path);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(lfd, 16) != 0) {
		perror("fake memcached");
		abort();
	}
	if (pthread_create(&t, NULL, mc_thread, (void *)(intptr_t)lfd) != 0)
		abort();
	pthread_detach(t);
	mc.started = true;
	return mc.path;
}

/* --- an RFC 8259 checker, independent of json-c ---------------------- */

struct jv {
	const unsigned char	*p, *end;
	int			 depth, max;
};

static void
jv_ws(struct jv *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool
jv_range(struct jv *j, size_t i, unsigned lo, unsigned hi)
{
	return j->p + i < j->end && j->p[i] >= lo && j->p[i] <= hi;
}

/* One UTF-8 sequence of a non-ASCII character (RFC 3629 table). */
static bool
jv_utf8(struct jv *j)
{
	unsigned c = *j->p;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = jv_range(j, 1, 0x80, 0xbf) ? 2 : 0;
	else if (c == 0xe0)
		n = jv_range(j, 1, 0xa0, 0xbf) && jv_range(j, 2, 0x80, 0xbf) ? 3 : 0;
	else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
		n = jv_range(j, 1, 0x80, 0xbf) && jv_range(j, 2, 0x80, 0xbf) ? 3 : 0;
	else if (c == 0xed)
		n = jv_range(j, 1, 0x80, 0x9f) && jv_range(j, 2, 0x80, 0xbf) ? 3 : 0;
	else if (c == 0xf0)
		n = jv_range(j, 1, 0x90, 0xbf) && jv_range(j, 2, 0x80, 0xbf) &&
		    jv_range(j, 3, 0x80, 0xbf) ? 4 : 0;
	else if (c >= 0xf1 && c <= 0xf3)
		n = jv_range(j, 1, 0x80, 0xbf) && jv_range(j, 2, 0x80, 0xbf) &&
		    jv_range(j, 3, 0x80, 0xbf) ? 4 : 0;
	else if (c == 0xf4)
		n = jv_range(j, 1, 0x80, 0x8f) && jv_range(j, 2, 0x80, 0xbf) &&
		    jv_range(j, 3, 0x80, 0xbf) ? 4 : 0;
	else
		n = 0;
	j->p += n;
	return n > 0;
}

static bool
jv_string(struct jv *j)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end) {
		unsigned c = *j->p;

		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->p + 1 >= j->end)
				return false;
			c = j->p[1];
			if (c == 'u') {
				for (int i = 2; i < 6; i++)
					if (j->p + i >= j->end ||
					    !((j->p[i] >= '0' && j->p[i] <= '9') ||
					    (j->p[i] >= 'a' && j->p[i] <= 'f') ||
					    (j->p[i] >= 'A' && j->p[i] <= 'F')))
						return false;
				j->p += 6;
			} else if (strchr("\"\\/bfnrt", (int)c) != NULL && c != 0)
				j->p += 2;
			else
				return false;
		} else if (c < 0x80)
			j->p++;
		else if (!jv_utf8(j))
			return false;
	}
	return false;
}

static bool
jv_digits(struct jv *j)
{
	const unsigned char *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static bool
jv_number(struct jv *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (j->p >= j->end || *j->p < '1' || *j->p > '9' || !jv_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!jv_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!jv_digits(j))
			return false;
	}
	return true;
}

static bool
jv_lit(struct jv *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool jv_value(struct jv *j);

/* The members or elements of an object or array, after its bracket. */
static bool
jv_container(struct jv *j, bool object)
{
	unsigned char close = object ? '}' : ']';
	bool ok = false;

	if (++j->depth > j->max)
		j->max = j->depth;
	if (j->depth > 1000)
		return false;
	j->p++;
	jv_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		ok = true;
		goto out;
	}
	for (;;) {
		if (object) {
			jv_ws(j);
			if (!jv_string(j))
				goto out;
			jv_ws(j);
			if (j->p >= j->end || *j->p != ':')
				goto out;
			j->p++;
		}
		if (!jv_value(j))
			goto out;
		jv_ws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			ok = true;
			goto out;
		}
		if (j->p >= j->end || *j->p != ',')
			goto out;
		j->p++;
	}
out:
	j->depth--;
	return ok;
}

static bool
jv_value(struct jv *j)
{
	jv_ws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{':
		return jv_container(j, true);
	case '[':
		return jv_container(j, false);
	case '"':
		return jv_string(j);
	case 't':
		return jv_lit(j, "true");
	case 'f':
		return jv_lit(j, "false");
	case 'n':
		return jv_lit(j, "null");
	default:
		return jv_number(j);
	}
}

bool
fuzz_json_valid(const char *text, size_t len, int *top, int *depth)
{
	struct jv j = { (const unsigned char *)text,
	    (const unsigned char *)text + len, 0, 0 };

	jv_ws(&j);
	*top = j.p < j.end ? *j.p : 0;
	if (!jv_value(&j))
		return false;
	jv_ws(&j);
	*depth = j.max;
	return j.p == j.end;
}
