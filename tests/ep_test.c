/*
 * ep_test.c - test-only endpoints, linked only into tests/relaycfg-test.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "endpoints.h"

/*
 * GET /api/0/relays/_test/sleep/?ms=N: answer after N ms (at most 10 s), to
 * prove a stop signal lets a request in flight finish.
 */
void
ep_test_sleep(struct request *req, struct app *app)
{
	static const char body[] = "{\"slept\":true}";
	char buf[16];
	long ms = 1000;
	struct timespec ts;

	(void)app;
	if (http_query_param(req->query, "ms", buf, sizeof(buf)) > 0)
		ms = strtol(buf, NULL, 10);
	if (ms < 0 || ms > 10000)
		ms = 1000;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
	http_reply_json(req, 200, body, sizeof(body) - 1);
}

/* POST /api/0/relays/_test/echo/: {"length": N} of the body read. */
void
ep_test_echo(struct request *req, struct app *app)
{
	char body[64];
	int n;

	(void)app;
	n = snprintf(body, sizeof(body), "{\"length\":%zu}", req->body_len);
	http_reply_json(req, 200, body, (size_t)n);
}

/*
 * GET /api/0/relays/_test/crash/: the worker dies, as a bug would kill it.
 * ?how=spin: the worker spins in a CPU loop instead, every stop signal
 * blocked, as a bug in a parser would; only the watchdog ends it.
 * ?how=spin&mask=all: the same with every signal blocked, so that only
 * the master's watchdog (SIGKILL) can end it.
 */
void
ep_test_crash(struct request *req, struct app *app)
{
	static volatile unsigned long spins;
	char how[16], mask[16];
	sigset_t set;

	(void)app;
	if (http_query_param(req->query, "how", how, sizeof(how)) > 0 &&
	    strcmp(how, "spin") == 0) {
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGHUP);
		sigaddset(&set, SIGUSR1);
		sigaddset(&set, SIGQUIT);
		if (http_query_param(req->query, "mask", mask,
		    sizeof(mask)) > 0 && strcmp(mask, "all") == 0)
			sigfillset(&set);
		sigprocmask(SIG_BLOCK, &set, NULL);
		for (;;)
			spins++;
	}
	abort();
}
