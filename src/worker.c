/*
 * worker.c - the accept loop of one worker process.
 *
 * Stop signals are blocked at all times except inside ppoll(), which
 * unblocks them atomically while waiting for a connection.  So a signal can
 * never land in the window between "check the stop flag" and "block in
 * accept()" (libfcgi's own loop has that window), and it never interrupts a
 * syscall in the middle of a request: the request in flight always
 * completes, and an idle worker leaves at once.
 */
#include "config.h"

#include <sys/prctl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "worker.h"

static volatile sig_atomic_t worker_stop;
static volatile sig_atomic_t worker_reload;

static void
on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
	FCGX_ShutdownPending();
}

static void
on_reload(int sig)
{
	(void)sig;
	worker_reload = 1;
}

static long long
elapsed_us(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long long)(t1.tv_sec - t0->tv_sec) * 1000000LL +
	    (t1.tv_nsec - t0->tv_nsec) / 1000;
}

/*
 * Answer one accepted request.  Whatever happens inside, the client gets an
 * answer and the worker lives on.
 */
static void
worker_handle(FCGX_Request *fcgx, struct app *app)
{
	static const char oom[] =
	    "Status: 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\n\r\n"
	    "{\"detail\":\"Out of memory\"}";
	struct request req;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (http_request_open(&req, fcgx) != 0) {
		FCGX_PutStr(oom, sizeof(oom) - 1, fcgx->out);
		return;
	}
	router_dispatch(&req, app);
	if (req.status == 0)
		http_reply_error(&req, 503, "No answer was produced", NULL);
	if (app->conf->access_log)
		log_access(req.status, req.method, req.path,
		    elapsed_us(&t0), req.bytes_out);
	http_request_close(&req);
	app_request_end(app);
}

static int
signals_setup(bool single, sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGUSR1, &sa, NULL) != 0)
		return -1;
	/* Under a master, HUP means "you are being replaced": stop. */
	sa.sa_handler = single ? on_reload : on_stop;
	if (sigaction(SIGHUP, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = SIG_DFL;
	if (sigaction(SIGCHLD, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -1;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &block, waitmask) != 0)
		return -1;
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGUSR1);
	sigdelset(waitmask, SIGHUP);
	sigdelset(waitmask, SIGCHLD);
	return 0;
}

/*
 * Single-process mode only: swap in a re-read config between requests.  A
 * bad file is logged and the old config stays.
 */
static void
worker_reload_conf(struct conf **confp, struct app *app)
{
	char err[512];
	struct conf *fresh;

	worker_reload = 0;
	if ((fresh = conf_load((*confp)->path, err, sizeof(err))) == NULL) {
		log_err("reload refused, keeping the running config: %s", err);
		return;
	}
	if (conf_apply_overrides(fresh) != 0) {
		log_err("reload refused: out of memory");
		conf_free(fresh);
		return;
	}
	app_worker_fini(app);
	conf_free(*confp);
	*confp = fresh;
	log_setup(fresh->log_level, fresh->log_json);
	if (app_worker_init(app, fresh) != 0)
		fatal("out of memory after reload");
	log_info("configuration reloaded from %s", fresh->path);
}

int
worker_run(struct conf **confp, bool single, pid_t master)
{
	FCGX_Request fcgx;
	struct app app;
	sigset_t waitmask;
	unsigned long served = 0;
	int rc;

	worker_stop = 0;
	worker_reload = 0;
	if (signals_setup(single, &waitmask) != 0) {
		log_err("signal setup: %s", strerror(errno));
		return 1;
	}
	/* Die with the master, and notice if it is already gone. */
	if (!single) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != master)
			return 0;
	}
	if (app_worker_init(&app, *confp) != 0) {
		log_err("worker init: out of memory");
		return 1;
	}
	if (FCGX_InitRequest(&fcgx, 0, 0) != 0) {
		log_err("FCGX_InitRequest failed");
		app_worker_fini(&app);
		return 1;
	}
	log_debug("worker ready");

	while (!worker_stop) {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };

		if (worker_reload)
			worker_reload_conf(confp, &app);
		if (ppoll(&pfd, 1, NULL, &waitmask) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (worker_stop)
			break;
		rc = FCGX_Accept_r(&fcgx);
		if (rc < 0) {
			/* Another worker took it, or the peer gave up. */
			if (rc == -EAGAIN || rc == -EWOULDBLOCK ||
			    rc == -EINTR || rc == -ECONNABORTED)
				continue;
			log_err("accept: %s", strerror(-rc));
			/* Persistent accept errors (EMFILE) must not spin. */
			usleep(100000);
			continue;
		}
		worker_handle(&fcgx, &app);
		FCGX_Finish_r(&fcgx);
		served++;
		if ((*confp)->max_requests != 0 &&
		    served >= (*confp)->max_requests) {
			log_debug("served %lu requests, recycling", served);
			break;
		}
	}
	FCGX_Free(&fcgx, 1);
	app_worker_fini(&app);
	return 0;
}
