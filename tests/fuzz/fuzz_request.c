/*
 * fuzz_request.c - whole requests through http_request_open and the
 * router, as a worker answers them, with a FastCGI request made in
 * memory (fuzz.h): fuzzer params (repeats included), body, stdin in
 * chunks or failing, stdout through a small buffer or failing.
 *
 * Built twice.  fuzz_request: no backend is reachable (a MariaDB socket
 * that does not exist, no memcached), so requests run through parsing,
 * authentication and routing into the documented error answers.
 * fuzz_cache (FUZZ_CACHE): the same with a fake memcached that answers
 * every key with values from the input, so every value relaycfg reads
 * back from memcached (generation, epoch, computed configs and their rev
 * entries, store rows and pointers, options) is fuzzer bytes.
 *
 * Input: header lines up to an empty line, then the body.
 *   NAME=VALUE        a FastCGI param (in order; repeats kept)
 *   # ...             a comment
 *   @autolen          CONTENT_LENGTH = the body's length
 *   @sign / @sign2    sign the body as the internal / the other static
 *                     relay (adds X-Sentry-Relay-Id and -Signature)
 *   @sigms N          ... with a signature N ms old (may be negative)
 *   @flip N           then flip a bit of body byte N (mod length)
 *   @chunk N          stdin arrives N bytes at a time
 *   @infail N         stdin fails after N bytes
 *   @outbuf N         libfcgi's write buffer holds N bytes
 *   @outfail N        writes fail after N bytes
 *   @mc KIND LEN      (fuzz_cache) the next LEN bytes answer every key
 *   @mcraw KIND LEN   of KIND, framed by the harness / as they are;
 *                     "@NOW" in them becomes the current unix time; @mc
 *                     puts the settings tag (cache_config_tag) before a
 *                     cfgz or cfgr value, as relaycfg writes them
 * Invariants: the answer is well-formed (fuzz_check_answer: status line,
 * Content-Length equal to the bytes written, "detail" on errors, never
 * 500; strict JSON bodies, except config text that fuzz_cache put in the
 * cache, which is sent as stored), something is always answered, a tampered or
 * expired signed body is never answered 2xx, and a 200 to a relay POST
 * means its body was a strict RFC 8259 object.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "app.h"
#include "cache.h"
#include "conf.h"
#include "fuzz.h"
#include "http.h"
#include "relayauth.h"
#include "router.h"

#define RELAY1_ID	"9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
#define RELAY1_SK	"OvXFVm1tIUi8xDTuyHX1SSqdMc8nCt2qU9IUaH5p7oU"
#define RELAY1_PK	"JOaR2bHZ31zYjFojC7UhPOidzfT3qOQgT9WEBw1JAKU"
#define RELAY2_ID	"0b7e4a52-93c1-4d0e-bc27-5f8a61d9e3a4"

static struct app app;
static struct conf *conf;
static unsigned char sk1[RELAYAUTH_SECRET_KEY_BYTES];
static unsigned char sk2[RELAYAUTH_SECRET_KEY_BYTES];

static void
init(void)
{
	char path[PATH_MAX], pk2[RELAYAUTH_PUBLIC_KEY_LEN + 1], err[512];
	unsigned char seed[32], pk[32];
	FILE *f;

	if (conf != NULL)
		return;
	fuzz_quiet_logs();
	FUZZ_CHECK(app_global_init() == 0, "app_global_init");
	FUZZ_CHECK(relayauth_secret_key_parse(RELAY1_SK, sk1) == RELAYAUTH_OK,
	    "key 1");
	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk2, seed);
	relayauth_public_key_of(sk2, pk2);

	snprintf(path, sizeof(path), "%s/relaycfg.conf", fuzz_tmpdir());
	FUZZ_CHECK((f = fopen(path, "w")) != NULL, "%s", path);
	fprintf(f,
	    "db_socket = %s/no-mysqld.sock\n"
	    "db_user = relaycfg\n"
	    "db_name = relaycfg\n"
	    "registration_secret = fuzz-registration-secret-0123456789\n"
	    "static_relay = " RELAY1_ID " " RELAY1_PK " internal\n"
	    "static_relay = " RELAY2_ID " %s\n"
	    "trusted_proxies = 127.0.0.1\n"
	    "max_body_size = 65536\n"
	    "global_option = relay.endpoint-fetch-config.enabled true\n",
	    fuzz_tmpdir(), pk2);
#ifdef FUZZ_CACHE
	fprintf(f,
	    "memcached_server = %s\n"
	    "memcached_poll_timeout_ms = 10000\n"
	    "memcached_connect_timeout_ms = 10000\n",
	    fuzz_mc_start());
#endif
	FUZZ_CHECK(fclose(f) == 0, "%s", path);
	FUZZ_CHECK((conf = conf_load(path, err, sizeof(err))) != NULL, "%s",
	    err);
	FUZZ_CHECK(app_worker_init(&app, conf) == 0, "app_worker_init");
}

struct opts {
	bool	 autolen, sign, sign2, flip;
	long	 sigms;
	size_t	 flip_at;
};

/* A decimal number from an option line; def when there is none. */
static long
opt_num(const char *s, size_t len, long def)
{
	char buf[24];
	char *end;
	long v;

	if (len == 0 || len >= sizeof(buf))
		return def;
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = strtol(buf, &end, 10);
	return end == buf ? def : v;
}

static bool
opt_is(const char *line, size_t len, const char *name, const char **arg,
    size_t *alen)
{
	size_t n = strlen(name);

	if (len < n || memcmp(line, name, n) != 0 ||
	    (len > n && line[n] != ' '))
		return false;
	*arg = len > n ? line + n + 1 : line + n;
	*alen = len > n ? len - n - 1 : 0;
	return true;
}

#ifdef FUZZ_CACHE
/* "@mc KIND LEN": take LEN bytes after the line as the value. */
static void
mc_option(struct fuzz_in *in, const char *arg, size_t alen, bool raw)
{
	const char *sp = memchr(arg, ' ', alen);
	size_t klen, vlen;
	char now[24], *v;
	const uint8_t *p;
	size_t o = 0, nlen;

	if (sp == NULL)
		return;
	klen = (size_t)(sp - arg);
	vlen = (size_t)opt_num(sp + 1, alen - klen - 1, 0);
	if (vlen > in->n)
		vlen = in->n;
	p = in->p;
	in->p += vlen;
	in->n -= vlen;
	if (in->n > 0 && in->p[0] == '\n') {
		in->p++;
		in->n--;
	}
	nlen = (size_t)snprintf(now, sizeof(now), "%lld",
	    (long long)time(NULL));
	FUZZ_CHECK((v = malloc(vlen * 4 + CACHE_CONFIG_TAG_LEN + 1)) != NULL,
	    "OOM");
	if (!raw && klen == 4 && (memcmp(arg, "cfgz", 4) == 0 ||
	    memcmp(arg, "cfgr", 4) == 0)) {
		sentry_settings_digest(&conf->sentry, v);
		v[SENTRY_SETTINGS_DIGEST_LEN] = ' ';
		o = CACHE_CONFIG_TAG_LEN;
	}
	for (size_t i = 0; i < vlen; i++) {
		if (i + 4 <= vlen && memcmp(p + i, "@NOW", 4) == 0) {
			memcpy(v + o, now, nlen);
			o += nlen;
			i += 3;
		} else
			v[o++] = (char)p[i];
	}
	fuzz_mc_value(arg, klen, v, o, raw);
	free(v);
}
#endif

/* Read the header lines into params and options; returns the body. */
static void
parse_input(struct fuzz_in *in, struct fuzz_fcgx *fx, struct opts *o)
{
	const char *line, *arg, *eq;
	size_t len, alen;

	while (fuzz_line(in, &line, &len) && len > 0) {
		if (line[0] == '#')
			continue;
		if (line[0] != '@') {
			if ((eq = memchr(line, '=', len)) != NULL)
				fuzz_fcgx_param(fx, line, (size_t)(eq - line),
				    eq + 1, len - (size_t)(eq - line) - 1);
			continue;
		}
		if (opt_is(line, len, "@autolen", &arg, &alen))
			o->autolen = true;
		else if (opt_is(line, len, "@sign", &arg, &alen))
			o->sign = true;
		else if (opt_is(line, len, "@sign2", &arg, &alen))
			o->sign2 = true;
		else if (opt_is(line, len, "@sigms", &arg, &alen))
			o->sigms = opt_num(arg, alen, 0);
		else if (opt_is(line, len, "@flip", &arg, &alen)) {
			o->flip = true;
			o->flip_at = (size_t)opt_num(arg, alen, 0);
		} else if (opt_is(line, len, "@chunk", &arg, &alen))
			fx->chunk = (size_t)opt_num(arg, alen, 1) % 65536 + 1;
		else if (opt_is(line, len, "@infail", &arg, &alen))
			fx->in_fail_at = (size_t)opt_num(arg, alen, 0) % 1000000;
		else if (opt_is(line, len, "@outfail", &arg, &alen))
			fx->out_fail_at = (size_t)opt_num(arg, alen, 0) % 1000000;
#ifdef FUZZ_CACHE
		else if (opt_is(line, len, "@mc", &arg, &alen))
			mc_option(in, arg, alen, false);
		else if (opt_is(line, len, "@mcraw", &arg, &alen))
			mc_option(in, arg, alen, true);
#endif
	}
}

/* Sign body[0..len) now - ms as relay 1 or 2; adds the two params. */
static void
sign(struct fuzz_fcgx *fx, bool second, long ms, const char *body,
    size_t len)
{
	struct timespec now;
	long long t;
	char *sig = NULL;
	const char *id = second ? RELAY2_ID : RELAY1_ID;

	clock_gettime(CLOCK_REALTIME, &now);
	t = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - ms;
	/* Relay's header cannot state a time before 1970: sign at 1970, far
	 * expired, which is what such an @sigms means to test. */
	if (t < 0)
		t = 0;
	FUZZ_CHECK(relayauth_sign(second ? sk2 : sk1, body, len,
	    (int64_t)(t / 1000), (long)(t % 1000) * 1000000L, &sig) ==
	    RELAYAUTH_OK, "sign");
	fuzz_fcgx_param(fx, "HTTP_X_SENTRY_RELAY_ID", 22, id, strlen(id));
	fuzz_fcgx_param(fx, "HTTP_X_SENTRY_RELAY_SIGNATURE", 29, sig,
	    strlen(sig));
	free(sig);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_fcgx fx;
	struct opts o;
	struct request req;
	struct fuzz_answer a;
	char *body, num[24];
	const char *method, *uri;

	init();
	memset(&o, 0, sizeof(o));
#ifdef FUZZ_CACHE
	fuzz_mc_reset();
#endif
	fuzz_fcgx_init(&fx, size > 0 ? (size_t)data[0] % 64 * 64 + 1 : 4096);
	parse_input(&in, &fx, &o);
	FUZZ_CHECK((body = malloc(in.n + 1)) != NULL, "OOM");
	memcpy(body, in.p, in.n);
	if (o.autolen) {
		snprintf(num, sizeof(num), "%zu", in.n);
		fuzz_fcgx_param(&fx, "CONTENT_LENGTH", 14, num, strlen(num));
	}
	if (o.sign || o.sign2)
		sign(&fx, !o.sign, o.sigms, body, in.n);
	if (o.flip && in.n > 0)
		body[o.flip_at % in.n] ^= 0x01;
	fuzz_fcgx_body(&fx, body, in.n);

	/* As worker_handle. */
	FUZZ_CHECK(http_request_open(&req, &fx.req) == 0, "OOM");
	router_dispatch(&req, &app);
	FUZZ_CHECK(req.status != 0 || fx.out_failed,
	    "no answer was produced for %s %s", req.method, req.uri);
	method = FCGX_GetParam("REQUEST_METHOD", fx.req.envp);
	uri = FCGX_GetParam("REQUEST_URI", fx.req.envp);
	http_request_close(&req);
	app_request_end(&app);
	fuzz_fcgx_finish(&fx);

	/* FUZZ_SHOW=1: what was answered, for whoever reads a crash. */
	if (getenv("FUZZ_SHOW") != NULL)
		fprintf(stderr, "--- answer (%zu bytes%s):\n%.*s\n---\n",
		    fx.sent_len, fx.out_failed ? ", write failed" : "",
		    (int)(fx.sent_len < 600 ? fx.sent_len : 600), fx.sent);
	if (!fx.out_failed) {
#ifdef FUZZ_CACHE
		fuzz_check_answer(fx.sent, fx.sent_len, false, &a);
#else
		fuzz_check_answer(fx.sent, fx.sent_len, true, &a);
#endif
		bool relay_post = method != NULL && uri != NULL &&
		    strcmp(method, "POST") == 0 &&
		    strncmp(uri, "/api/0/relays/", 14) == 0;

		if (relay_post && (o.sign || o.sign2) &&
		    ((o.flip && in.n > 0) || o.sigms > 300000))
			FUZZ_CHECK(a.status < 200 || a.status > 299,
			    "a %s signed body answered %d",
			    o.flip ? "tampered" : "expired", a.status);
		if (a.status == 200 && relay_post) {
			int top, depth;

			FUZZ_CHECK(fuzz_json_valid(body, in.n, &top, &depth) &&
			    top == '{', "200 to %s with a body that is not a "
			    "strict JSON object: %.*s", uri,
			    (int)(in.n < 200 ? in.n : 200), body);
		}
	}
	free(body);
	fuzz_fcgx_free(&fx);
	return 0;
}
