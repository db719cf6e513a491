/*
 * worker.c - the accept loop of one worker process.
 *
 * Stop signals are blocked at all times except inside ppoll(), which
 * unblocks them atomically while waiting for a connection.  So a signal can
 * never land in the window between "check the stop flag" and "block in
 * accept()" (libfcgi's own loop has that window), and it never interrupts a
 * syscall in the middle of a request: the request in flight always
 * completes.  On a stop signal the worker drains: it keeps accepting,
 * without waiting, the connections already queued on the listening socket
 * (the web server made them and waits for an answer), answers them, and
 * leaves when the queue is empty.
 *
 * Two deadlines guard a worker, io_timeout on the FastCGI peer (its params
 * and its body each as a whole, each write of the answer) and
 * request_timeout on each request (the watchdog): guard.c keeps
 * them without a system call per request.  The worker logs each
 * connection io_timeout dropped and serves the next; the master reports a
 * worker the watchdog ended, and respawns it.
 */
#include "config.h"

#include <sys/prctl.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "clock.h"
#include "guard.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "priv.h"
#include "router.h"
#include "scoreboard.h"
#include "statsd.h"
#include "worker.h"

/* Accepts after a stop signal: the kernel's default somaxconn. */
#define WORKER_DRAIN_MAX	4096

static volatile sig_atomic_t worker_stop;
static volatile sig_atomic_t worker_reload;

/* libfcgi's stream procs, wrapped so that each wait is guarded. */
static void (*io_fill_orig)(FCGX_Stream *);
static void (*io_empty_orig)(FCGX_Stream *, int);

/* When the first read of the current request's body began (0: none yet). */
static long long body_since;

/* The request is being finished and closed: one io_timeout for it all. */
static bool closing;

/* Where SIGABRT leaves FCGX_Accept_r for (worker_accept, on_abort). */
static sigjmp_buf params_jmp;
static volatile sig_atomic_t in_params;

/*
 * Not FCGX_ShutdownPending(): libfcgi would then refuse to accept, and the
 * connections already queued could not be drained.
 */
static void
on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void
on_reload(int sig)
{
	(void)sig;
	worker_reload = 1;
}

/*
 * SIGABRT inside FCGX_Accept_r: libfcgi's Malloc asserts when it cannot
 * allocate a param, and a peer chooses the lengths (up to 2^31 each,
 * summed in an int).  Back to worker_accept, which drops that connection;
 * anywhere else, returning lets abort() go on with the default action.
 * glibc frees the assertion's message on the next one, as it expects
 * SIGABRT to be caught.
 */
static void
on_abort(int sig)
{
	(void)sig;
	if (in_params) {
		in_params = 0;
		siglongjmp(params_jmp, 1);
	}
}

/*
 * Log (once per drop) what io_timeout ended, then forget it: "... whose
 * peer <did> for N s <when>".  Returns the number of connections dropped.
 */
static unsigned
io_report_as(const char *did, const char *when)
{
	unsigned dropped = guard_io_dropped();

	for (unsigned n = dropped; n > 0; n--)
		log_warn("io_timeout: dropped a connection whose peer %s for "
		    "%u s %s", did, guard_io_seconds(), when);
	return dropped;
}

/* io_report_as for a peer that kept us waiting. */
static unsigned
io_report(const char *when)
{
	return io_report_as("sent or took nothing", when);
}

/*
 * libfcgi's stream procs, bounded by io_timeout: the body as a whole (each
 * read counted from the body's first, so a peer trickling a byte just
 * inside io_timeout cannot hold the worker until request_timeout), each
 * write of the answer on its own.
 */
static void
io_fill(FCGX_Stream *stream)
{
	if (body_since == 0)
		body_since = clock_mono_ms();
	guard_io_begin_since(body_since);
	io_fill_orig(stream);
	guard_io_end();
	io_report("while its body was read");
}

static void
io_empty(FCGX_Stream *stream, int doClose)
{
	if (closing) {	/* inside worker_finish's span */
		io_empty_orig(stream, doClose);
		return;
	}
	guard_io_begin();
	io_empty_orig(stream, doClose);
	guard_io_end();
	io_report("while its answer was written");
}

/* Route every read and write of an accepted request through io_fill/empty. */
static void
io_wrap(FCGX_Request *fcgx)
{
	FCGX_Stream *out[2] = { fcgx->out, fcgx->err };

	if (fcgx->in != NULL && fcgx->in->fillBuffProc != io_fill) {
		io_fill_orig = fcgx->in->fillBuffProc;
		fcgx->in->fillBuffProc = io_fill;
	}
	for (int i = 0; i < 2; i++)
		if (out[i] != NULL && out[i]->emptyBuffProc != io_empty) {
			io_empty_orig = out[i]->emptyBuffProc;
			out[i]->emptyBuffProc = io_empty;
		}
}

/*
 * Accept one request without waiting for a connection (fd 0 is
 * non-blocking), its params bounded by io_timeout.  Returns as
 * FCGX_Accept_r, and -ECONNABORTED (the connection closed, logged) for a
 * request whose params did not arrive whole.
 *
 * Why the check: libfcgi's params reader stops at a read error as it stops
 * at the params' end, so a peer that sent BEGIN_REQUEST and went quiet
 * (shut down by io_timeout) or closed between two params is "accepted"
 * with what it sent; answered, it would be a phantom 404 in the access log
 * and the metrics.  The error stays on the input stream.
 */
static int
worker_accept(FCGX_Request *fcgx)
{
	unsigned timed_out;
	int rc;

	guard_io_begin();
	/* No mask saved: that would be a system call per request. */
	if (sigsetjmp(params_jmp, 0) != 0) {
		sigset_t abrt;

		/* libfcgi asserted in its params reader (on_abort): its
		 * request holds the connection and the params read so far.
		 * The handler's mask stays but for SIGABRT itself. */
		sigemptyset(&abrt);
		sigaddset(&abrt, SIGABRT);
		sigprocmask(SIG_UNBLOCK, &abrt, NULL);
		guard_io_begin();
		FCGX_Free(fcgx, 1);
		guard_io_end();
		(void)guard_io_dropped();
		log_warn("dropped a connection whose params libfcgi could not "
		    "hold (a name or value length beyond memory)");
		return -ECONNABORTED;
	}
	in_params = 1;
	rc = FCGX_Accept_r(fcgx);
	in_params = 0;
	guard_io_end();
	timed_out = io_report("before its params were complete");
	if (rc != 0)
		return rc;
	if (FCGX_GetError(fcgx->in) != 0) {
		if (timed_out == 0)
			log_warn("dropped a connection whose peer closed the "
			    "connection before its params were complete");
		FCGX_Free(fcgx, 1);
		return -ECONNABORTED;
	}
	body_since = 0;
	io_wrap(fcgx);
	return 0;
}

static long long
elapsed_us(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long long)(t1.tv_sec - t0->tv_sec) * 1000000LL +
	    (t1.tv_nsec - t0->tv_nsec) / 1000;
}

/* What the metrics need of a request, once its answer is flushed. */
struct served {
	unsigned	endpoint;	/* enum metric_endpoint */
	unsigned	version;	/* enum metric_version */
	int		status;
	size_t		bytes;
	bool		trim;		/* libfcgi held too many params */
};

/*
 * Answer one accepted request.  Whatever happens inside, the client gets an
 * answer and the worker lives on.  *done gets its metric labels.
 */
static void
worker_handle(FCGX_Request *fcgx, struct app *app,
    struct scoreboard_slot *slot, struct served *done)
{
	static const char oom[] =
	    "Status: 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\n\r\n"
	    "{\"detail\":\"Out of memory\"}";
	struct request req;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	*done = (struct served){ ME_OTHER, MV_NONE, 503, 0, false };
	if (http_request_open(&req, fcgx) != 0) {
		FCGX_PutStr(oom, sizeof(oom) - 1, fcgx->out);
		return;
	}
	router_metric_labels(req.path, req.query, &done->endpoint,
	    &done->version);
	scoreboard_begin(slot, req.method, req.path);
	if (req.params_too_large) {
		http_reply_error(&req, 431, "Request header fields too large",
		    NULL);
		done->trim = true;
	} else
		router_dispatch(&req, app);
	if (req.status == 0)
		http_reply_error(&req, 503, "No answer was produced", NULL);
	scoreboard_answered(slot);
	if (app->conf->access_log)
		log_access(req.status, req.method, req.path,
		    elapsed_us(&t0), req.bytes_out);
	done->status = req.status;
	done->bytes = req.bytes_out;
	http_request_close(&req);
	app_request_end(app);
}

void
worker_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
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
	sa.sa_handler = on_abort;
	if (sigaction(SIGABRT, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = SIG_DFL;
	if (sigaction(SIGCHLD, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -1;

	worker_stop_signals(&block);
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
 * user_unchanged - warn when a reload of a single process changes `user`:
 * the process took its user once, at start (main.c), and neither becomes
 * another nor takes root back; a restart applies it.  Returns nothing.
 */
static void
user_unchanged(const struct conf *old, const struct conf *fresh)
{
	const char *was = old->user, *now = fresh->user;

	if (was == NULL ? now == NULL : now != NULL && strcmp(was, now) == 0)
		return;
	log_warn("%s: user changed from %s%s%s to %s%s%s, not applied: a "
	    "single process (workers = 0) takes its user at start only; it "
	    "keeps running as uid %lu until restarted", fresh->path,
	    was ? "\"" : "", was ? was : "unset", was ? "\"" : "",
	    now ? "\"" : "", now ? now : "unset", now ? "\"" : "",
	    (unsigned long)geteuid());
}

/*
 * Single-process mode only: swap in a re-read config between requests.  A
 * bad file, or an unknown user (as the master refuses it), is logged and
 * the old config stays.  A changed user is not applied (user_unchanged).
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
	/* names only: this process has dropped root, or never had it */
	if (priv_lookup(fresh, err, sizeof(err)) != 0) {
		log_err("reload refused, keeping the running config: %s", err);
		conf_free(fresh);
		return;
	}
	user_unchanged(*confp, fresh);
	if (fresh->workers > 0)
		log_warn("%s: workers = %d, not applied: a single process "
		    "takes a restart to become a master with workers",
		    fresh->path, fresh->workers);
	else if (fresh->workers < 0)
		log_warn("%s: workers = auto, not applied: a single process "
		    "takes a restart to become a master with workers",
		    fresh->path);
	app_worker_fini(app);
	conf_free(*confp);
	*confp = fresh;
	log_setup(fresh->log_level, fresh->log_json);
	guard_configure(fresh, fresh->log_json);
	if (app_worker_init(app, fresh) != 0)
		fatal("out of memory after reload");
	(void)statsd_open(fresh);	/* failure logged; the push stays off */
	metrics_inc(MF_RELOADS, 0, 0, 0);	/* as master_reload counts one */
	log_info("configuration reloaded from %s", fresh->path);
	(void)conf_advise_log(fresh);
}

/*
 * Finish a request: flush the answer's rest with its END_REQUEST and close
 * the connection, all within one io_timeout.  libfcgi's close shuts the
 * connection down and reads until the peer closes it, giving up only after
 * 2 s of silence: a peer that kept sending after its answer held the
 * worker until request_timeout.
 */
static void
worker_finish(FCGX_Request *fcgx)
{
	closing = true;
	guard_io_begin();
	FCGX_Finish_r(fcgx);
	/*
	 * One request per connection, even when the web server sets
	 * FCGI_KEEP_CONN (nginx fastcgi_keep_conn, Apache enablereuse) and
	 * FCGX_Finish_r therefore left it open: a kept connection would pin
	 * this worker, whose next FCGX_Accept_r reads it instead of
	 * accepting.  Closing costs nothing the web server relies on; what
	 * nginx gains from keep_conn is that it waits for END_REQUEST, so an
	 * answer cut short by a dying worker reaches the client as a reset
	 * connection, not as a response that never completes.  A no-op when
	 * FCGX_Finish_r closed it already.
	 */
	FCGX_Free(fcgx, 1);
	guard_io_end();
	closing = false;
	(void)io_report_as("kept sending", "after its answer, or did not "
	    "take its end");
}

/*
 * Serve one accepted request under the watchdog, then finish it (the
 * answer is flushed with its END_REQUEST, the connection closed).
 */
static void
worker_serve(FCGX_Request *fcgx, struct app *app,
    struct scoreboard_slot *slot)
{
	struct served done;
	struct timespec t0;

	metrics_now(&t0);
	metrics_set(MF_IN_FLIGHT, 0, 1);
	guard_request_begin();
	worker_handle(fcgx, app, slot, &done);
	worker_finish(fcgx);
	/* glibc keeps what libfcgi freed: hand a params flood's back. */
	if (done.trim)
		(void)malloc_trim(0);
	guard_request_end();
	scoreboard_end(slot);
	/* after FCGX_Finish_r: the time includes the answer's last byte */
	metrics_observe(MF_REQUEST_SECONDS, done.endpoint,
	    metrics_seconds_since(&t0));
	metrics_inc(MF_REQUESTS, done.endpoint, done.version,
	    metrics_status_label(done.status));
	metrics_add(MF_RESPONSE_BYTES, done.endpoint, 0, 0, done.bytes);
	metrics_set(MF_IN_FLIGHT, 0, 0);
	/* the request's StatsD batch, now that the answer is out */
	statsd_flush();
}

int
worker_run(struct conf **confp, bool single, pid_t master,
    struct scoreboard_slot *slot)
{
	FCGX_Request fcgx;
	struct app app;
	sigset_t waitmask;
	unsigned long served = 0, drained = 0;
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
	if (guard_start(*confp, (*confp)->log_json, &fcgx) != 0) {
		log_err("timeout guard: %s", strerror(errno));
		app_worker_fini(&app);
		return 1;
	}
	/* the StatsD socket, once per worker; failure is logged, not fatal */
	(void)statsd_open(*confp);
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
		rc = worker_accept(&fcgx);
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
		worker_serve(&fcgx, &app, slot);
		served++;
		if ((*confp)->max_requests != 0 &&
		    served >= (*confp)->max_requests) {
			/* a worker's end is the master's business; a single
			 * process's end is the whole server's: say so */
			if (single) {
				log_info("served %lu requests (max_requests), "
				    "exiting: a single process (workers = 0) "
				    "ends here, for its supervisor to start "
				    "another", served);
				/* its socket goes with it: answer what the
				 * web server queued there first, as a stop */
				worker_stop = 1;
			} else
				log_debug("served %lu requests, recycling",
				    served);
			break;
		}
	}
	/*
	 * Stopping: the web server already made the connections queued on
	 * the socket and waits for their answers.  Take them without waiting
	 * until the queue is empty.  The queue is FIFO and holds at most the
	 * backlog, so WORKER_DRAIN_MAX accepts reach every connection queued
	 * before the signal even under a steady stream of new ones.
	 */
	while (worker_stop && drained < WORKER_DRAIN_MAX) {
		rc = worker_accept(&fcgx);
		if (rc == -ECONNABORTED || rc == -EINTR)
			continue;
		if (rc < 0)
			break;
		worker_serve(&fcgx, &app, slot);
		drained++;
	}
	if (drained > 0)
		log_debug("stopping: answered %lu queued connections", drained);
	/* From here on nothing is accepted: let the kernel know now. */
	if (worker_stop)
		listen_release();
	guard_stop();
	statsd_close();
	FCGX_Free(&fcgx, 1);
	app_worker_fini(&app);
	return 0;
}
