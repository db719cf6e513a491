/*
 * ctl_relay.c - the relay side of relaycfgctl: make credentials, sign
 * bodies, and talk to an upstream exactly as Sentry Relay does (register,
 * fetch project configs, look up relay public keys), so that the server can
 * be tested and operated without a Relay binary.
 *
 * The secret key is read from a Relay credentials file and never printed,
 * except by keygen, whose whole point is to write it.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "ctl.h"
#include "relayauth.h"

/*
 * Relay sends RelayVersion::current(), a CalVer X.Y.Z; Sentry only checks
 * it against a minimum, so a recent one stands in for "a current Relay".
 */
#define DEFAULT_RELAY_VERSION	"25.11.0"
#define DEFAULT_CONFIG_VERSION	"3"

#define CONNECT_TIMEOUT		5L	/* s */
#define TOTAL_TIMEOUT		30L	/* s */
#define MAX_BODY		(64UL << 20)	/* request body or answer */
#define MAX_CREDENTIALS		(64UL << 10)

struct creds {
	unsigned char	sk[RELAYAUTH_SECRET_KEY_BYTES];
	char		public_key[RELAYAUTH_PUBLIC_KEY_LEN + 1];
	char		relay_id[RELAYAUTH_RELAY_ID_LEN + 1];
};

/* Options every upstream command shares. */
struct netopts {
	const char	*upstream;
	const char	*credentials;
	bool		 status;	/* --status: print it, exit 0 */
	bool		 have_time;	/* --time */
	int64_t		 time;
	const char	**headers;	/* --header, in order */
	size_t		 n_headers;
};

struct response {
	long	 status;
	char	*body;
	size_t	 len;
};

/* Long options of struct netopts; the command adds its own. */
enum {
	OPT_UPSTREAM = 256,
	OPT_CREDENTIALS,
	OPT_STATUS,
	OPT_TIME,
	OPT_HEADER,
	OPT_VERSION,
	OPT_GLOBAL,
	OPT_NO_CACHE,
	OPT_FULL_CONFIG,
	OPT_REVISION,
	OPT_BODY_FILE,
	OPT_OUTPUT,
	OPT_FORCE
};

#define NET_LONGOPTS \
	{ "upstream",	 required_argument, NULL, OPT_UPSTREAM }, \
	{ "credentials", required_argument, NULL, OPT_CREDENTIALS }, \
	{ "status",	 no_argument,	    NULL, OPT_STATUS }, \
	{ "time",	 required_argument, NULL, OPT_TIME }, \
	{ "header",	 required_argument, NULL, OPT_HEADER }, \
	{ "help",	 no_argument,	    NULL, 'h' }

#define NET_USAGE \
	"  --upstream URL        upstream origin (a trailing '/' is fine)\n" \
	"  --credentials FILE    Relay credentials.json (see keygen)\n" \
	"  --header 'N: V'       send header N (repeatable); replaces the\n" \
	"                        header of that name relaycfgctl would send,\n" \
	"                        'N:' alone sends none\n" \
	"  --time UNIXSECS       sign as of this time (default: now)\n" \
	"  --status              print the HTTP status as the first line and\n" \
	"                        exit 0 whenever an answer arrived\n"

static void
warnx_cmd(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
warnx_cmd(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "relaycfgctl: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * read_stream - all of fp into a new NUL-terminated buffer (the NUL is
 * not counted).  Returns 0, or -1 on a read error, OOM or more than max
 * bytes (*buf then NULL).
 */
static int
read_stream(FILE *fp, size_t max, char **buf, size_t *len)
{
	char *b = NULL, *nb;
	size_t cap = 0, n = 0, got;

	*buf = NULL;
	*len = 0;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap == 0 ? 8192 : cap * 2;
			if ((nb = realloc(b, cap + 1)) == NULL)
				goto fail;
			b = nb;
		}
		got = fread(b + n, 1, cap - n, fp);
		n += got;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
		if (got == 0) {
			if (ferror(fp))
				goto fail;
			break;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
fail:
	free(b);
	return -1;
}

/* read_file - read_stream of path ("-": stdin); errors reported here. */
static int
read_file(const char *cmd, const char *path, size_t max, char **buf,
    size_t *len)
{
	FILE *fp;
	int rc;

	if (strcmp(path, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(path, "rb")) == NULL) {
		warnx_cmd(cmd, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((rc = read_stream(fp, max, buf, len)) != 0)
		warnx_cmd(cmd, "%s: %s", path, strerror(errno));
	if (fp != stdin)
		fclose(fp);
	return rc;
}

/*
 * creds_load - read a Relay credentials.json ({"secret_key","public_key",
 * "id"}, all three required as in Relay's Credentials).  The public key
 * must be the secret key's; the id is normalised.  Returns 0, or -1 with
 * the reason on stderr (never the secret) and c untouched.
 */
static int
creds_load(const char *cmd, const char *path, struct creds *c)
{
	struct creds tmp;
	json_object *obj = NULL, *sk, *pk, *id;
	enum relayauth_status st;
	char *text = NULL;
	size_t len;
	int rc = -1;

	if (read_file(cmd, path, MAX_CREDENTIALS, &text, &len) != 0)
		goto out;
	if ((obj = json_tokener_parse(text)) == NULL ||
	    !json_object_is_type(obj, json_type_object)) {
		warnx_cmd(cmd, "%s: not a JSON object", path);
		goto out;
	}
	if (!json_object_object_get_ex(obj, "secret_key", &sk) ||
	    !json_object_is_type(sk, json_type_string) ||
	    !json_object_object_get_ex(obj, "public_key", &pk) ||
	    !json_object_is_type(pk, json_type_string) ||
	    !json_object_object_get_ex(obj, "id", &id) ||
	    !json_object_is_type(id, json_type_string)) {
		warnx_cmd(cmd, "%s: needs string fields secret_key, "
		    "public_key and id", path);
		goto out;
	}
	if ((st = relayauth_secret_key_parse(json_object_get_string(sk),
	    tmp.sk)) != RELAYAUTH_OK) {
		warnx_cmd(cmd, "%s: secret_key: %s", path,
		    relayauth_status_str(st));
		goto out;
	}
	relayauth_public_key_of(tmp.sk, tmp.public_key);
	if (strcmp(tmp.public_key, json_object_get_string(pk)) != 0) {
		warnx_cmd(cmd, "%s: public_key is not the secret_key's", path);
		goto out;
	}
	if (relayauth_relay_id_parse(json_object_get_string(id),
	    tmp.relay_id) != 0) {
		warnx_cmd(cmd, "%s: id is not a UUID", path);
		goto out;
	}
	*c = tmp;
	rc = 0;
out:
	sodium_memzero(&tmp, sizeof(tmp));
	if (text != NULL)
		sodium_memzero(text, len);
	free(text);
	json_object_put(obj);
	return rc;
}

/* parse_time - a --time value: whole unix seconds. */
static int
parse_time(const char *cmd, const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0) {
		warnx_cmd(cmd, "--time: \"%s\" is not unix seconds", s);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * sign_body - the signature header value for body, as of --time or now.
 * Returns a new string, or NULL with the reason on stderr.
 */
static char *
sign_body(const char *cmd, const struct creds *c, bool have_time,
    int64_t when, const char *body, size_t len)
{
	struct timespec ts;
	enum relayauth_status st;
	char *sig;
	long nsec = 0;

	if (!have_time) {
		clock_gettime(CLOCK_REALTIME, &ts);
		when = ts.tv_sec;
		nsec = ts.tv_nsec;
	}
	if ((st = relayauth_sign(c->sk, body, len, when, nsec, &sig)) !=
	    RELAYAUTH_OK) {
		warnx_cmd(cmd, "cannot sign: %s", relayauth_status_str(st));
		return NULL;
	}
	return sig;
}

/* Common option handling; 0 handled, 1 not ours, 2 usage error. */
static int
netopt(const char *cmd, int ch, const char *arg, struct netopts *no)
{
	const char **nh;

	switch (ch) {
	case OPT_UPSTREAM:
		no->upstream = arg;
		return 0;
	case OPT_CREDENTIALS:
		no->credentials = arg;
		return 0;
	case OPT_STATUS:
		no->status = true;
		return 0;
	case OPT_TIME:
		if (parse_time(cmd, arg, &no->time) != 0)
			return 2;
		no->have_time = true;
		return 0;
	case OPT_HEADER:
		if (strchr(arg, ':') == NULL && strchr(arg, ';') == NULL) {
			warnx_cmd(cmd, "--header: expected \"Name: value\"");
			return 2;
		}
		if ((nh = realloc(no->headers, (no->n_headers + 1) *
		    sizeof(*nh))) == NULL) {
			warnx_cmd(cmd, "out of memory");
			return 2;
		}
		nh[no->n_headers++] = arg;
		no->headers = nh;
		return 0;
	}
	return 1;
}

static int
netopts_check(const char *cmd, const struct netopts *no)
{
	if (no->upstream == NULL || no->credentials == NULL) {
		warnx_cmd(cmd, "--upstream and --credentials are required");
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

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct response *r = arg;
	size_t n = size * nmemb;
	char *nb;

	if (n > MAX_BODY - r->len)
		return 0;	/* aborts the transfer */
	if ((nb = realloc(r->body, r->len + n + 1)) == NULL)
		return 0;
	memcpy(nb + r->len, p, n);
	r->len += n;
	nb[r->len] = '\0';
	r->body = nb;
	return n;
}

/*
 * http_post - POST body to upstream + path (path starts with '/', may
 * carry a query) the way Relay's UpstreamQuery does: Content-Type
 * application/json, X-Sentry-Relay-Id, X-Sentry-Relay-Signature over the
 * exact body, Accept-Encoding gzip.  Returns 0 with the answer in *r
 * (caller frees r->body), or -1 with the reason on stderr when no answer
 * arrived.
 */
static int
http_post(const char *cmd, const struct netopts *no, const struct creds *c,
    const char *path, const char *body, size_t len, struct response *r)
{
	char errbuf[CURL_ERROR_SIZE] = "", *url = NULL, *sig = NULL;
	struct curl_slist *hdrs = NULL, *nl;
	struct response tmp = { 0, NULL, 0 };
	CURL *h = NULL;
	CURLcode cc;
	size_t ulen;
	int rc = -1;

	/* Relay's upstream is an origin; tolerate "http://host/" too. */
	ulen = strlen(no->upstream);
	while (ulen > 0 && no->upstream[ulen - 1] == '/')
		ulen--;
	if (asprintf(&url, "%.*s%s", (int)ulen, no->upstream, path) < 0) {
		url = NULL;
		warnx_cmd(cmd, "out of memory");
		goto out;
	}
	if ((sig = sign_body(cmd, c, no->have_time, no->time, body,
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
		warnx_cmd(cmd, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < no->n_headers; i++) {
		if ((nl = curl_slist_append(hdrs, no->headers[i])) == NULL) {
			warnx_cmd(cmd, "out of memory");
			goto out;
		}
		hdrs = nl;
	}
	if ((h = curl_easy_init()) == NULL) {
		warnx_cmd(cmd, "cannot start libcurl");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, TOTAL_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &tmp);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		warnx_cmd(cmd, "%s: %s", url,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &tmp.status);
	if (tmp.body == NULL && (tmp.body = strdup("")) == NULL) {
		warnx_cmd(cmd, "out of memory");
		goto out;
	}
	*r = tmp;
	tmp.body = NULL;
	rc = 0;
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(tmp.body);
	free(sig);
	free(url);
	return rc;
}

static bool
is_2xx(const struct response *r)
{
	return r->status >= 200 && r->status < 300;
}

static void
put_body(FILE *fp, const struct response *r)
{
	fwrite(r->body, 1, r->len, fp);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		fputc('\n', fp);
}

/*
 * finish - report an answer: with --status the status line then the body
 * on stdout (exit 0); else 2xx prints the body (exit 0) and anything else
 * "HTTP <status>" and the body on stderr (exit 1).
 */
static int
finish(const struct netopts *no, const struct response *r)
{
	if (no->status) {
		printf("%ld\n", r->status);
		put_body(stdout, r);
		return 0;
	}
	if (is_2xx(r)) {
		put_body(stdout, r);
		return 0;
	}
	fprintf(stderr, "HTTP %ld\n", r->status);
	put_body(stderr, r);
	return 1;
}

/*
 * json_text - compact JSON as serde_json writes it (no spaces, '/' not
 * escaped).  The string belongs to obj.
 */
static const char *
json_text(json_object *obj, size_t *len)
{
	const char *s = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);

	return s;
}

/*
 * jadd - add v to object obj under key, or append it to array obj when key
 * is NULL.  Takes v in every case (puts it on failure).  False on OOM,
 * including a NULL v from a failed json_object_new_*().
 */
static bool
jadd(json_object *obj, const char *key, json_object *v)
{
	int rc;

	if (v == NULL)
		return false;
	rc = key == NULL ? json_object_array_add(obj, v) :
	    json_object_object_add(obj, key, v);
	if (rc != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static int
flush_stdout(const char *cmd)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnx_cmd(cmd, "stdout: %s", strerror(errno));
		return 1;
	}
	return 0;
}

/* ---- keygen ---- */

/*
 * write_private - write data to path with mode 0600.  Without force the
 * file must not exist (O_EXCL); with force it is replaced atomically via a
 * temporary file and rename.  On failure nothing is left behind.
 */
static int
write_private(const char *cmd, const char *path, const char *data,
    size_t len, bool force)
{
	char *tmp = NULL;
	const char *target = path;
	size_t off = 0;
	ssize_t w;
	int fd = -1, rc = -1;

	if (force) {
		if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
			tmp = NULL;
			warnx_cmd(cmd, "out of memory");
			goto out;
		}
		fd = mkstemp(tmp);	/* 0600, O_EXCL */
		target = tmp;
	} else
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	if (fd < 0) {
		warnx_cmd(cmd, "%s: %s%s", force ? tmp : path, strerror(errno),
		    errno == EEXIST ? " (use --force to replace it)" : "");
		free(tmp);
		return -1;
	}
	/* The umask may only have narrowed 0600; make it exact. */
	if (fchmod(fd, 0600) != 0)
		goto fail;
	while (off < len) {
		if ((w = write(fd, data + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (force && rename(tmp, path) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	warnx_cmd(cmd, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(target);
out:
	free(tmp);
	return rc;
}

static const char keygen_usage[] =
    "usage: relaycfgctl keygen [--output FILE [--force]]\n"
    "\n"
    "Make new Relay credentials {\"secret_key\",\"public_key\",\"id\"} as\n"
    "\"relay credentials generate\" does, on stdout or into FILE (mode 0600,\n"
    "which must not exist unless --force).\n";

static int
cmd_keygen(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "output",	required_argument, NULL, OPT_OUTPUT },
		{ "force",	no_argument,	   NULL, OPT_FORCE },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char secret[RELAYAUTH_SECRET_KEY_LEN + 1];
	char pk[RELAYAUTH_PUBLIC_KEY_LEN + 1];
	char id[RELAYAUTH_RELAY_ID_LEN + 1];
	char text[256];
	const char *output = NULL;
	bool force = false;
	int ch, n, rc = 1;

	(void)o;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_OUTPUT: output = optarg; break;
		case OPT_FORCE: force = true; break;
		case 'h': fputs(keygen_usage, stdout); return 0;
		default: fputs(keygen_usage, stderr); return 2;
		}
	}
	if (optind != argc || (force && output == NULL)) {
		fputs(keygen_usage, stderr);
		return 2;
	}
	if (relayauth_keygen(secret, pk) != 0 ||
	    relayauth_relay_id_generate(id) != 0) {
		warnx_cmd(argv[0], "libsodium cannot make keys");
		goto out;
	}
	/* serde_json::to_string_pretty(&Credentials), field order kept. */
	n = snprintf(text, sizeof(text), "{\n  \"secret_key\": \"%s\",\n"
	    "  \"public_key\": \"%s\",\n  \"id\": \"%s\"\n}\n", secret, pk, id);
	if (n < 0 || (size_t)n >= sizeof(text))
		goto out;
	if (output != NULL) {
		if (write_private(argv[0], output, text, (size_t)n, force) != 0)
			goto out;
		rc = 0;
	} else {
		fputs(text, stdout);
		rc = flush_stdout(argv[0]);
	}
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(text, sizeof(text));
	return rc;
}

/* ---- sign ---- */

static const char sign_usage[] =
    "usage: relaycfgctl sign --credentials FILE [--time UNIXSECS]\n"
    "\n"
    "Print the X-Sentry-Relay-Signature value for the body on stdin, as of\n"
    "--time (whole seconds) or now.\n";

static int
cmd_sign(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
		{ "time",	 required_argument, NULL, OPT_TIME },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct creds c;
	const char *credentials = NULL;
	char *body = NULL, *sig = NULL;
	bool have_time = false;
	int64_t when = 0;
	size_t len;
	int ch, rc = 1;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_CREDENTIALS: credentials = optarg; break;
		case OPT_TIME:
			if (parse_time(argv[0], optarg, &when) != 0)
				return 2;
			have_time = true;
			break;
		case 'h': fputs(sign_usage, stdout); return 0;
		default: fputs(sign_usage, stderr); return 2;
		}
	}
	if (optind != argc || credentials == NULL) {
		fputs(sign_usage, stderr);
		return 2;
	}
	if (creds_load(argv[0], credentials, &c) != 0)
		return 1;
	if (read_file(argv[0], "-", MAX_BODY, &body, &len) != 0)
		goto out;
	if ((sig = sign_body(argv[0], &c, have_time, when, body, len)) == NULL)
		goto out;
	if (o->json)
		printf("{\"signature\":\"%s\"}\n", sig);
	else
		printf("%s\n", sig);
	rc = flush_stdout(argv[0]);
out:
	sodium_memzero(&c, sizeof(c));
	free(body);
	free(sig);
	return rc;
}

/* ---- register ---- */

static const char register_usage[] =
    "usage: relaycfgctl register --upstream URL --credentials FILE\n"
    "           [--version V] [--header 'N: V']... [--time UNIXSECS] [--status]\n"
    "\n"
    "Register as Relay does: POST /api/0/relays/register/challenge/ with\n"
    "{relay_id, public_key, version}, then /register/response/ with the\n"
    "challenge's relay_id and token; print the final answer.\n"
    "\n"
    "  --version V           Relay version to announce (default "
    DEFAULT_RELAY_VERSION ")\n"
    NET_USAGE;

static int
cmd_register(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		NET_LONGOPTS,
		{ "version",	required_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct netopts no = { 0 };
	struct creds c;
	struct response r1 = { 0, NULL, 0 }, r2 = { 0, NULL, 0 };
	json_object *req = NULL, *ans = NULL, *rid, *tok;
	const char *version = DEFAULT_RELAY_VERSION, *body;
	size_t len;
	int ch, rc = 1, x;

	(void)o;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == OPT_VERSION)
			version = optarg;
		else if (ch == 'h') {
			fputs(register_usage, stdout);
			rc = 0;
			goto out_nocreds;
		} else if ((x = netopt(argv[0], ch, optarg, &no)) != 0) {
			if (x == 1)
				fputs(register_usage, stderr);
			rc = 2;
			goto out_nocreds;
		}
	}
	if (optind != argc || netopts_check(argv[0], &no) != 0) {
		fputs(register_usage, stderr);
		rc = 2;
		goto out_nocreds;
	}
	if (creds_load(argv[0], no.credentials, &c) != 0)
		goto out_nocreds;

	/* RegisterRequest, fields in Relay's order. */
	if ((req = json_object_new_object()) == NULL ||
	    !jadd(req, "relay_id", json_object_new_string(c.relay_id)) ||
	    !jadd(req, "public_key", json_object_new_string(c.public_key)) ||
	    !jadd(req, "version", json_object_new_string(version)) ||
	    (body = json_text(req, &len)) == NULL) {
		warnx_cmd(argv[0], "out of memory");
		goto out;
	}
	if (http_post(argv[0], &no, &c, "/api/0/relays/register/challenge/",
	    body, len, &r1) != 0)
		goto out;
	if (!is_2xx(&r1)) {
		rc = finish(&no, &r1);
		goto out;
	}
	/* RegisterChallenge: relay_id and token, both required. */
	if ((ans = json_tokener_parse(r1.body)) == NULL ||
	    !json_object_object_get_ex(ans, "relay_id", &rid) ||
	    !json_object_is_type(rid, json_type_string) ||
	    !json_object_object_get_ex(ans, "token", &tok) ||
	    !json_object_is_type(tok, json_type_string)) {
		warnx_cmd(argv[0], "challenge answer lacks relay_id or token:");
		put_body(stderr, &r1);
		goto out;
	}
	/* RegisterResponse echoes the upstream's relay_id, not ours. */
	json_object_put(req);
	if ((req = json_object_new_object()) == NULL ||
	    !jadd(req, "relay_id", json_object_new_string(
	    json_object_get_string(rid))) ||
	    !jadd(req, "token", json_object_new_string(
	    json_object_get_string(tok))) ||
	    !jadd(req, "version", json_object_new_string(version)) ||
	    (body = json_text(req, &len)) == NULL) {
		warnx_cmd(argv[0], "out of memory");
		goto out;
	}
	if (http_post(argv[0], &no, &c, "/api/0/relays/register/response/",
	    body, len, &r2) != 0)
		goto out;
	rc = finish(&no, &r2);
out:
	sodium_memzero(&c, sizeof(c));
out_nocreds:
	json_object_put(req);
	json_object_put(ans);
	free(r1.body);
	free(r2.body);
	free(no.headers);
	return rc;
}

/* ---- fetch ---- */

static const char fetch_usage[] =
    "usage: relaycfgctl fetch --upstream URL --credentials FILE [--version N]\n"
    "           [--global] [--no-cache] [--full-config] [--revision KEY=REV]...\n"
    "           [--body-file F] [--header 'N: V']... [--time UNIXSECS]\n"
    "           [--status] [KEY...]\n"
    "\n"
    "POST /api/0/relays/projectconfigs/?version=N (default 3) with the body\n"
    "Relay sends: {\"publicKeys\",\"revisions\",\"fullConfig\",\"noCache\"}\n"
    "(+ \"global\":true), {\"global\":true,\"publicKeys\":[]} for --global\n"
    "without keys, {\"projects\":[ids]} for version 1.  Print the answer.\n"
    "\n"
    "  --version N           protocol version, sent as given (default 3)\n"
    "  --global              ask for the global config too\n"
    "  --no-cache            \"noCache\":true\n"
    "  --full-config         \"fullConfig\":true\n"
    "  --revision KEY=REV    the cached revision of KEY (else null)\n"
    "  --body-file F         send F's bytes (\"-\": stdin) instead, signed\n"
    NET_USAGE;

/* Is s a plain non-negative decimal that fits an int64? */
static bool
is_number(const char *s, int64_t *v)
{
	char *end;
	long long x;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0)
		return false;
	*v = x;
	return true;
}

/* The last --revision for key, or NULL. */
static const char *
revision_of(char **revs, size_t n, const char *key)
{
	const char *found = NULL;
	size_t klen = strlen(key);

	for (size_t i = 0; i < n; i++)
		if (strncmp(revs[i], key, klen) == 0 && revs[i][klen] == '=')
			found = revs[i] + klen + 1;
	return found;
}

/*
 * fetch_body - the GetProjectStates (or v1, or GetGlobalConfig) body.
 * Returns a new object, or NULL on OOM.
 */
static json_object *
fetch_body(const char *version, bool global, bool no_cache, bool full,
    char **keys, size_t n_keys, char **revs, size_t n_revs)
{
	json_object *b, *a = NULL, *r = NULL;
	const char *rev;
	int64_t id;

	if ((b = json_object_new_object()) == NULL)
		return NULL;
	if (global && n_keys == 0) {
		/* GetGlobalConfig, exactly. */
		if (!jadd(b, "global", json_object_new_boolean(1)) ||
		    !jadd(b, "publicKeys", json_object_new_array()))
			goto fail;
		return b;
	}
	if ((a = json_object_new_array()) == NULL)
		goto fail;
	if (strcmp(version, "1") == 0) {
		/* Legacy: project ids, numbers when they look like one. */
		for (size_t i = 0; i < n_keys; i++)
			if (!jadd(a, NULL, is_number(keys[i], &id) ?
			    json_object_new_int64(id) :
			    json_object_new_string(keys[i])))
				goto fail;
		if (!jadd(b, "projects", a))
			goto fail_noa;
	} else {
		if ((r = json_object_new_array()) == NULL)
			goto fail;
		for (size_t i = 0; i < n_keys; i++) {
			rev = revision_of(revs, n_revs, keys[i]);
			if (!jadd(a, NULL, json_object_new_string(keys[i])))
				goto fail;
			/* json-c takes NULL as JSON null. */
			if (rev == NULL) {
				if (json_object_array_add(r, NULL) != 0)
					goto fail;
			} else if (!jadd(r, NULL, json_object_new_string(rev)))
				goto fail;
		}
		if (!jadd(b, "publicKeys", a)) {
			a = NULL;
			goto fail;
		}
		a = NULL;
		if (!jadd(b, "revisions", r)) {
			r = NULL;
			goto fail;
		}
		r = NULL;
		if (!jadd(b, "fullConfig", json_object_new_boolean(full)) ||
		    !jadd(b, "noCache", json_object_new_boolean(no_cache)))
			goto fail;
	}
	if (global && !jadd(b, "global", json_object_new_boolean(1)))
		goto fail;
	return b;
fail_noa:
	a = NULL;
fail:
	json_object_put(a);
	json_object_put(r);
	json_object_put(b);
	return NULL;
}

static int
cmd_fetch(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		NET_LONGOPTS,
		{ "version",	 required_argument, NULL, OPT_VERSION },
		{ "global",	 no_argument,	    NULL, OPT_GLOBAL },
		{ "no-cache",	 no_argument,	    NULL, OPT_NO_CACHE },
		{ "full-config", no_argument,	    NULL, OPT_FULL_CONFIG },
		{ "revision",	 required_argument, NULL, OPT_REVISION },
		{ "body-file",	 required_argument, NULL, OPT_BODY_FILE },
		{ NULL, 0, NULL, 0 }
	};
	struct netopts no = { 0 };
	struct creds c;
	struct response r = { 0, NULL, 0 };
	json_object *jb = NULL;
	const char *version = DEFAULT_CONFIG_VERSION, *body_file = NULL;
	const char *body;
	char **revs = NULL, **nr, *raw = NULL, *path = NULL, *qv = NULL;
	bool global = false, no_cache = false, full = false, loaded = false;
	size_t n_revs = 0, len;
	int ch, rc = 2, x;

	(void)o;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_VERSION: version = optarg; break;
		case OPT_GLOBAL: global = true; break;
		case OPT_NO_CACHE: no_cache = true; break;
		case OPT_FULL_CONFIG: full = true; break;
		case OPT_BODY_FILE: body_file = optarg; break;
		case OPT_REVISION:
			if (strchr(optarg, '=') == NULL) {
				warnx_cmd(argv[0], "--revision: expected "
				    "KEY=REV");
				goto out;
			}
			if ((nr = realloc(revs, (n_revs + 1) *
			    sizeof(*nr))) == NULL) {
				warnx_cmd(argv[0], "out of memory");
				goto out;
			}
			revs = nr;
			revs[n_revs++] = optarg;
			break;
		case 'h':
			fputs(fetch_usage, stdout);
			rc = 0;
			goto out;
		default:
			if ((x = netopt(argv[0], ch, optarg, &no)) == 0)
				break;
			if (x == 1)
				fputs(fetch_usage, stderr);
			goto out;
		}
	}
	if (netopts_check(argv[0], &no) != 0 ||
	    (body_file == NULL && !global && optind == argc)) {
		if (body_file == NULL && !global && optind == argc)
			warnx_cmd(argv[0], "no KEY given");
		fputs(fetch_usage, stderr);
		goto out;
	}
	rc = 1;
	if (creds_load(argv[0], no.credentials, &c) != 0)
		goto out;
	loaded = true;
	if (body_file != NULL) {
		if (read_file(argv[0], body_file, MAX_BODY, &raw, &len) != 0)
			goto out;
		body = raw;
	} else {
		if ((jb = fetch_body(version, global, no_cache, full,
		    argv + optind, (size_t)(argc - optind), revs,
		    n_revs)) == NULL ||
		    (body = json_text(jb, &len)) == NULL) {
			warnx_cmd(argv[0], "out of memory");
			goto out;
		}
	}
	if ((qv = curl_easy_escape(NULL, version, 0)) == NULL ||
	    asprintf(&path, "/api/0/relays/projectconfigs/?version=%s",
	    qv) < 0) {
		path = NULL;
		warnx_cmd(argv[0], "out of memory");
		goto out;
	}
	if (http_post(argv[0], &no, &c, path, body, len, &r) != 0)
		goto out;
	rc = finish(&no, &r);
out:
	if (loaded)
		sodium_memzero(&c, sizeof(c));
	json_object_put(jb);
	curl_free(qv);
	free(path);
	free(raw);
	free(revs);
	free(r.body);
	free(no.headers);
	return rc;
}

/* ---- publickeys ---- */

static const char publickeys_usage[] =
    "usage: relaycfgctl publickeys --upstream URL --credentials FILE\n"
    "           [--header 'N: V']... [--time UNIXSECS] [--status] RELAY_ID...\n"
    "\n"
    "POST /api/0/relays/publickeys/ with {\"relay_ids\":[...]}; print the\n"
    "answer.\n"
    "\n"
    NET_USAGE;

static int
cmd_publickeys(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		NET_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct netopts no = { 0 };
	struct creds c;
	struct response r = { 0, NULL, 0 };
	json_object *jb = NULL, *ids = NULL;
	const char *body;
	bool loaded = false;
	size_t len;
	int ch, rc = 2, x;

	(void)o;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(publickeys_usage, stdout);
			rc = 0;
			goto out;
		}
		if ((x = netopt(argv[0], ch, optarg, &no)) != 0) {
			if (x == 1)
				fputs(publickeys_usage, stderr);
			goto out;
		}
	}
	if (netopts_check(argv[0], &no) != 0 || optind == argc) {
		fputs(publickeys_usage, stderr);
		goto out;
	}
	rc = 1;
	if (creds_load(argv[0], no.credentials, &c) != 0)
		goto out;
	loaded = true;
	/* Ids go out as given, so a test can send a malformed one. */
	if ((jb = json_object_new_object()) == NULL ||
	    (ids = json_object_new_array()) == NULL)
		goto oom;
	for (int i = optind; i < argc; i++)
		if (!jadd(ids, NULL, json_object_new_string(argv[i])))
			goto oom;
	x = json_object_object_add(jb, "relay_ids", ids);
	ids = NULL;
	if (x != 0 || (body = json_text(jb, &len)) == NULL)
		goto oom;
	if (http_post(argv[0], &no, &c, "/api/0/relays/publickeys/", body,
	    len, &r) != 0)
		goto out;
	rc = finish(&no, &r);
	goto out;
oom:
	warnx_cmd(argv[0], "out of memory");
out:
	if (loaded)
		sodium_memzero(&c, sizeof(c));
	json_object_put(ids);
	json_object_put(jb);
	free(r.body);
	free(no.headers);
	return rc;
}

/* ---- dispatch ---- */

static const struct relay_cmd {
	const char	*name;
	int		(*fn)(int, char **, const struct ctl_opts *);
	bool		 net;		/* needs libcurl */
	const char	*synopsis;
} relay_cmds[] = {
	{ "keygen", cmd_keygen, false,
	    "keygen [--output FILE [--force]]" },
	{ "sign", cmd_sign, false,
	    "sign --credentials FILE [--time UNIXSECS] < BODY" },
	{ "register", cmd_register, true,
	    "register --upstream URL --credentials FILE [--version V]" },
	{ "fetch", cmd_fetch, true,
	    "fetch --upstream URL --credentials FILE [--global] KEY..." },
	{ "publickeys", cmd_publickeys, true,
	    "publickeys --upstream URL --credentials FILE RELAY_ID..." },
	{ NULL, NULL, false, NULL }
};

int
ctl_relay_main(int argc, char **argv, const struct ctl_opts *o)
{
	const struct relay_cmd *rc;
	int status;

	for (rc = relay_cmds; rc->name != NULL; rc++)
		if (strcmp(rc->name, argv[0]) == 0)
			break;
	if (rc->name == NULL) {
		fprintf(stderr, "relaycfgctl: unknown command \"%s\"\n",
		    argv[0]);
		return 2;
	}
	if (relayauth_init() != 0) {
		warnx_cmd(argv[0], "libsodium cannot start");
		return 1;
	}
	if (rc->net && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		warnx_cmd(argv[0], "libcurl cannot start");
		return 1;
	}
	status = rc->fn(argc, argv, o);
	if (rc->net)
		curl_global_cleanup();
	return status;
}

void
ctl_relay_usage(FILE *fp)
{
	fprintf(fp, "relay commands (each takes --help):\n");
	for (const struct relay_cmd *rc = relay_cmds; rc->name != NULL; rc++)
		fprintf(fp, "  %s\n", rc->synopsis);
}
