/*
 * f1_responder.c - F1, the transport floor: the most trivial FastCGI
 * responder libfcgi allows.  Prefork (--workers N, like relaycfg), each
 * worker blocking in FCGX_Accept_r, reading the whole body and answering
 * a fixed small JSON with the header set relaycfg sends.  It sits behind
 * the same nginx vhost as relaycfg, so the difference between the two is
 * what relaycfg itself costs.
 *
 *	f1_responder --listen unix:PATH [--workers N] [--poll]
 *	    [--body-file F [--gzip]] [--verify PUBLIC_KEY]
 *	    [--memcached HOST:PORT --memcached-value F [--gzip]]
 *	    [--memcached HOST:PORT --memcached-prefix P]
 *
 * --poll accepts the way relaycfg's worker.c does (non-blocking listening
 * socket, ppoll() then FCGX_Accept_r, so every idle worker wakes for each
 * connection): F1 with and without it measures what that design costs.
 *
 * --body-file answers F's bytes instead (with --gzip, as
 * "Content-Encoding: gzip", which nginx passes through untouched): the
 * transport floor for a big answer, e.g. a 100-key answer built from
 * precompressed per-config fragments.
 *
 * --verify makes it F12, the floor of any authenticated answer: per
 * request it also checks the relay's Ed25519 signature
 * (X-Sentry-Relay-Signature, "<sig>.<header>" in base64url) over
 * header || 0x00 || body with libsodium, as relaycfg does, against the
 * relay's public key parsed once at start; a bad signature gets a fixed
 * 401.  Nothing else: no header JSON, no age check, no key lookup.
 *
 * --memcached (with --verify) makes it F13, the floor of an authenticated
 * answer that a shared cache holds: per request, after the signature, one
 * multi-get of three keys on the memcached relaycfg uses, with relaycfg's
 * client settings (text protocol, TCP_NODELAY, CAS) - a config of F's
 * bytes and two short values, as relaycfg's warm 1-key request asks for
 * its config, the cache generation and the invalidation epoch - and the
 * config's bytes are the answer's body (with --gzip, F holds gzip and the
 * answer says so, as relaycfg's does to a Relay).  The master stores the three
 * values once at start, under keys of its own.
 *
 * --memcached-prefix (with --verify) makes it F14, the floor of a batch
 * answered from the shared cache: per request, after the signature, one
 * multi-get of the entries P<public key> for every public key in the
 * request's body (P is the prefix of relaycfg's own config entries, so
 * these are the very entries relaycfg answers a warm batch from, in the
 * memcached it uses) plus the two short values above, and their bytes,
 * one after the other, are the body, said to be gzip so that nginx passes
 * it on as it passes relaycfg's.  A key not found answers 503.  Run on the
 * small and the large data set, it measures what a warm batch costs
 * outside the application: memcached, nginx and the machine's memory.
 *
 * SIGTERM stops the master and its workers.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <libmemcached/memcached.h>
#include <sodium.h>

#include "relayauth.h"

static const char fixed_answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 42\r\n"
    "Cache-Control: no-store\r\n"
    "\r\n"
    "{\"configs\":{},\"pending\":[],\"unchanged\":[]}";
static const char *answer = fixed_answer;
static size_t answer_len = sizeof(fixed_answer) - 1;

static const char refused_answer[] =
    "Status: 401 Unauthorized\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 2\r\n"
    "\r\n"
    "{}";

/* --verify: the relay's key, parsed once. */
static bool verify;
static unsigned char relay_pk[RELAYAUTH_PUBLIC_KEY_BYTES];

/* --memcached: F13's server and the keys it reads per request. */
static const char *mc_server;
static bool mc_gzip;		/* the value is gzip (--gzip) */
static const char *const mc_keys[] = {
	"f13:config", "f13:generation", "f13:epoch"
};
static const size_t mc_key_lens[] = { 10, 14, 9 };

/* --memcached-prefix: F14's key prefix. */
static const char *mc_prefix;
#define F14_KEYS_MAX	512		/* public keys in one request */
#define F14_KEY_MAX	250		/* memcached's own limit */

/* The largest request F12 checks (S1's is a few hundred bytes). */
#define VERIFY_BODY_MAX	(1 << 20)

/*
 * signature_ok - does sig ("<sig>.<header>") sign header || 0 || body?
 * msg has room for the decoded header, the 0 and the body (len bytes).
 */
static bool
signature_ok(const char *sig, const unsigned char *body, size_t len,
    unsigned char *msg, size_t msgmax)
{
	unsigned char s[crypto_sign_BYTES];
	const char *dot;
	size_t n, hlen;

	if (sig == NULL || (dot = strchr(sig, '.')) == NULL ||
	    relayauth_b64url_decode(s, sizeof(s), sig, (size_t)(dot - sig),
	    &n) != 0 || n != sizeof(s) ||
	    relayauth_b64url_decode(msg, msgmax - len - 1, dot + 1,
	    strlen(dot + 1), &hlen) != 0)
		return false;
	msg[hlen] = 0;
	memcpy(msg + hlen + 1, body, len);
	return crypto_sign_verify_detached(s, msg, hlen + 1 + len,
	    relay_pk) == 0;
}

/* The whole answer (CGI headers and body) from a file. */
static int
load_body(const char *path, bool gzip)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	int h;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 512)) == NULL)
		return -1;
	h = snprintf(buf, 512, "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n%s"
	    "Content-Length: %ld\r\nCache-Control: no-store\r\n\r\n",
	    gzip ? "Content-Encoding: gzip\r\n" : "", n);
	if (fread(buf + h, 1, (size_t)n, f) != (size_t)n)
		return -1;
	fclose(f);
	answer = buf;
	answer_len = (size_t)h + (size_t)n;
	return 0;
}

/*
 * mc_connect - a memcached handle on --memcached set up as relaycfg's
 * cache.c sets its own (the settings that change a get's cost).  NULL on
 * failure.
 */
static memcached_st *
mc_connect(void)
{
	char host[256];
	const char *colon = strrchr(mc_server, ':');
	memcached_st *mc;

	if (colon == NULL || (size_t)(colon - mc_server) >= sizeof(host))
		return NULL;
	memcpy(host, mc_server, (size_t)(colon - mc_server));
	host[colon - mc_server] = '\0';
	if ((mc = memcached_create(NULL)) == NULL)
		return NULL;
	if (memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1) !=
	    MEMCACHED_SUCCESS || memcached_behavior_set(mc,
	    MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1) != MEMCACHED_SUCCESS ||
	    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_VERIFY_KEY, 1) !=
	    MEMCACHED_SUCCESS || memcached_server_add(mc, host,
	    (in_port_t)atoi(colon + 1)) != MEMCACHED_SUCCESS) {
		memcached_free(mc);
		return NULL;
	}
	return mc;
}

/*
 * mc_store - the master stores F13's three values once (F14's two short
 * ones when value_path is NULL).  -1 on failure.
 */
static int
mc_store(const char *value_path)
{
	char buf[1 << 16];
	size_t n = 0;
	memcached_st *mc;
	int ret = -1;

	if (value_path != NULL) {
		FILE *f = fopen(value_path, "rb");

		if (f == NULL)
			return -1;
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		/* A full buffer means a larger file: refused, not cut short. */
		if (n == 0 || n == sizeof(buf))
			return -1;
	}
	if ((mc = mc_connect()) == NULL)
		return -1;
	if ((value_path == NULL || memcached_set(mc, mc_keys[0],
	    mc_key_lens[0], buf, n, 0, 0) == MEMCACHED_SUCCESS) &&
	    memcached_set(mc, mc_keys[1], mc_key_lens[1],
	    "0123456789abcdef0123456789abcdef", 32, 0, 0) == MEMCACHED_SUCCESS &&
	    memcached_set(mc, mc_keys[2], mc_key_lens[2], "1", 1, 0, 0) ==
	    MEMCACHED_SUCCESS)
		ret = 0;
	memcached_free(mc);
	return ret;
}

/*
 * mc_answer - one multi-get of F13's keys; the config's bytes are put
 * after a header into req's output.  False when the cache failed (the
 * caller answers 503, which loadgen counts).
 */
static bool
mc_answer(memcached_st *mc, FCGX_Request *req)
{
	memcached_result_st res;
	memcached_return_t rc;
	char head[256];
	bool found = false;
	int h;

	if (memcached_mget(mc, mc_keys, mc_key_lens, 3) != MEMCACHED_SUCCESS ||
	    memcached_result_create(mc, &res) == NULL)
		return false;
	while (memcached_fetch_result(mc, &res, &rc) != NULL) {
		size_t len = memcached_result_length(&res);

		if (memcached_result_key_length(&res) != mc_key_lens[0] ||
		    memcmp(memcached_result_key_value(&res), mc_keys[0],
		    mc_key_lens[0]) != 0 || found)
			continue;
		h = snprintf(head, sizeof(head), "Status: 200 OK\r\n"
		    "Content-Type: application/json\r\n%s"
		    "Content-Length: %zu\r\nCache-Control: no-store\r\n\r\n",
		    mc_gzip ? "Content-Encoding: gzip\r\n" : "", len);
		FCGX_PutStr(head, h, req->out);
		FCGX_PutStr(memcached_result_value(&res), (int)len, req->out);
		found = true;
	}
	memcached_result_free(&res);
	return found;
}

/*
 * body_keys - F14's keys for the public keys of a request body
 * ({"publicKeys":["...",...],...}, NUL-terminated): the two short keys,
 * then mc_prefix and each public key (in store), at most F14_KEYS_MAX.
 * Returns the count, short keys included.
 */
static size_t
body_keys(const char *body, char (*store)[F14_KEY_MAX + 1],
    const char **keys, size_t *lens)
{
	const char *p = strstr(body, "\"publicKeys\"");
	size_t n = 2, plen = strlen(mc_prefix);

	keys[0] = mc_keys[1];
	lens[0] = mc_key_lens[1];
	keys[1] = mc_keys[2];
	lens[1] = mc_key_lens[2];
	if (p == NULL || (p = strchr(p, '[')) == NULL)
		return n;
	while (n < F14_KEYS_MAX + 2 && (p = strpbrk(p + 1, "\"]")) != NULL &&
	    *p == '"') {
		const char *end = strchr(p + 1, '"');
		size_t klen;

		if (end == NULL)
			break;
		klen = (size_t)(end - p - 1);
		if (plen + klen <= F14_KEY_MAX) {
			memcpy(store[n], mc_prefix, plen);
			memcpy(store[n] + plen, p + 1, klen);
			store[n][plen + klen] = '\0';
			keys[n] = store[n];
			lens[n++] = plen + klen;
		}
		p = end;
	}
	return n;
}

/*
 * mc_answer_batch - F14: one multi-get of a batch's config entries (and
 * the two short keys); their bytes, one after the other, are the body.
 * False when the cache failed or lacked an entry (503).
 */
static bool
mc_answer_batch(memcached_st *mc, FCGX_Request *req, const char *body)
{
	static char store[F14_KEYS_MAX + 2][F14_KEY_MAX + 1];
	static const char *keys[F14_KEYS_MAX + 2];
	static size_t lens[F14_KEYS_MAX + 2];
	static char *out;
	static size_t cap;
	memcached_result_st res;
	memcached_return_t rc;
	size_t n = body_keys(body, store, keys, lens), len = 0, found = 0;
	size_t plen = strlen(mc_prefix);
	char head[256];
	int h;

	if (n <= 2 || memcached_mget(mc, keys, lens, n) != MEMCACHED_SUCCESS ||
	    memcached_result_create(mc, &res) == NULL)
		return false;
	while (memcached_fetch_result(mc, &res, &rc) != NULL) {
		size_t vlen = memcached_result_length(&res);

		if (memcached_result_key_length(&res) <= plen)
			continue;	/* a short key */
		if (len + vlen > cap) {
			size_t ncap = (len + vlen) * 2;
			char *p = realloc(out, ncap);

			if (p == NULL)
				continue;	/* drained all the same */
			out = p;
			cap = ncap;
		}
		memcpy(out + len, memcached_result_value(&res), vlen);
		len += vlen;
		found++;
	}
	memcached_result_free(&res);
	if (found != n - 2)
		return false;
	h = snprintf(head, sizeof(head), "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n\r\n", len);
	FCGX_PutStr(head, h, req->out);
	FCGX_PutStr(out, (int)len, req->out);
	return true;
}

static const char unavailable_answer[] =
    "Status: 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 2\r\n"
    "\r\n"
    "{}";

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int
worker(int fd, bool use_poll)
{
	FCGX_Request req;
	static unsigned char buf[VERIFY_BODY_MAX], msg[VERIFY_BODY_MAX + 4096];
	memcached_st *mc = NULL;

	signal(SIGTERM, SIG_DFL);
	/* Die with the master, however it dies. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;
	if (FCGX_InitRequest(&req, fd, 0) != 0 ||
	    (mc_server != NULL && (mc = mc_connect()) == NULL))
		return 1;
	for (;;) {
		if (use_poll) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			int rc;

			if (ppoll(&pfd, 1, NULL, NULL) < 0 && errno != EINTR)
				return 1;
			if ((rc = FCGX_Accept_r(&req)) < 0) {
				if (rc == -EAGAIN || rc == -EWOULDBLOCK ||
				    rc == -EINTR || rc == -ECONNABORTED)
					continue;
				return 1;
			}
		} else if (FCGX_Accept_r(&req) < 0)
			break;
		size_t len = 0;
		int n;

		while ((n = FCGX_GetStr((char *)buf + len,
		    (int)(sizeof(buf) - len), req.in)) > 0)
			len += (size_t)n;
		if (verify && !signature_ok(FCGX_GetParam(
		    "HTTP_X_SENTRY_RELAY_SIGNATURE", req.envp), buf, len, msg,
		    sizeof(msg)))
			FCGX_PutStr(refused_answer,
			    (int)sizeof(refused_answer) - 1, req.out);
		else if (mc != NULL) {
			buf[len < sizeof(buf) ? len : sizeof(buf) - 1] = '\0';
			if (!(mc_prefix != NULL ?
			    mc_answer_batch(mc, &req, (const char *)buf) :
			    mc_answer(mc, &req)))
				FCGX_PutStr(unavailable_answer,
				    (int)sizeof(unavailable_answer) - 1,
				    req.out);
		} else
			FCGX_PutStr(answer, (int)answer_len, req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *listen = NULL, *body_file = NULL, *mc_value = NULL;
	int workers = 2, fd;
	bool use_poll = false, gzip = false;
	pid_t *kids;
	struct sigaction sa;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
			workers = atoi(argv[++i]);
		else if (strcmp(argv[i], "--poll") == 0)
			use_poll = true;
		else if (strcmp(argv[i], "--body-file") == 0 && i + 1 < argc)
			body_file = argv[++i];
		else if (strcmp(argv[i], "--gzip") == 0)
			gzip = true;
		else if (strcmp(argv[i], "--verify") == 0 && i + 1 < argc) {
			if (relayauth_init() != 0 || relayauth_public_key_parse(
			    argv[++i], relay_pk) != RELAYAUTH_OK) {
				fputs("f1_responder: --verify takes a relay's "
				    "public key\n", stderr);
				return 2;
			}
			verify = true;
		} else if (strcmp(argv[i], "--memcached") == 0 && i + 1 < argc)
			mc_server = argv[++i];
		else if (strcmp(argv[i], "--memcached-value") == 0 &&
		    i + 1 < argc)
			mc_value = argv[++i];
		else if (strcmp(argv[i], "--memcached-prefix") == 0 &&
		    i + 1 < argc)
			mc_prefix = argv[++i];
		else {
			fputs("usage: f1_responder --listen unix:PATH "
			    "[--workers N] [--poll] [--body-file F [--gzip]] "
			    "[--verify PUBLIC_KEY] [--memcached HOST:PORT "
			    "--memcached-value F | --memcached-prefix P]\n",
			    stderr);
			return 2;
		}
	}
	if (listen == NULL || strncmp(listen, "unix:", 5) != 0 ||
	    workers < 1) {
		fputs("f1_responder: --listen unix:PATH is required\n", stderr);
		return 2;
	}
	if ((mc_server == NULL) != (mc_value == NULL && mc_prefix == NULL) ||
	    (mc_value != NULL && mc_prefix != NULL) ||
	    (mc_prefix != NULL && strlen(mc_prefix) > F14_KEY_MAX - 32)) {
		fputs("f1_responder: --memcached goes with --memcached-value "
		    "or --memcached-prefix (at most 218 bytes)\n", stderr);
		return 2;
	}
	mc_gzip = gzip;
	if (mc_server != NULL && mc_store(mc_value) != 0) {
		fprintf(stderr, "f1_responder: cannot store %s in memcached "
		    "at %s\n", mc_value != NULL ? mc_value : "F14's values",
		    mc_server);
		return 1;
	}
	if (body_file != NULL && load_body(body_file, gzip) != 0) {
		fprintf(stderr, "f1_responder: cannot read %s\n", body_file);
		return 1;
	}
	if (FCGX_Init() != 0)
		return 1;
	unlink(listen + 5);
	if ((fd = FCGX_OpenSocket(listen + 5, 1024)) < 0) {
		fprintf(stderr, "f1_responder: cannot listen on %s\n", listen);
		return 1;
	}
	chmod(listen + 5, 0666);
	if (use_poll)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if ((kids = calloc((size_t)workers, sizeof(*kids))) == NULL)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int i = 0; i < workers; i++) {
		if ((kids[i] = fork()) == 0)
			return worker(fd, use_poll);
		if (kids[i] < 0) {
			perror("fork");
			return 1;
		}
	}
	while (!stop) {
		pid_t p = wait(NULL);
		if (p < 0 && errno == ECHILD)
			break;
	}
	for (int i = 0; i < workers; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	unlink(listen + 5);
	return 0;
}
