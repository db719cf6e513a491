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

	signal(SIGTERM, SIG_DFL);
	/* Die with the master, however it dies. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;
	if (FCGX_InitRequest(&req, fd, 0) != 0)
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
		else
			FCGX_PutStr(answer, (int)answer_len, req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *listen = NULL, *body_file = NULL;
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
		}
		else {
			fputs("usage: f1_responder --listen unix:PATH "
			    "[--workers N] [--poll] [--body-file F [--gzip]] "
			    "[--verify PUBLIC_KEY]\n",
			    stderr);
			return 2;
		}
	}
	if (listen == NULL || strncmp(listen, "unix:", 5) != 0 ||
	    workers < 1) {
		fputs("f1_responder: --listen unix:PATH is required\n", stderr);
		return 2;
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
