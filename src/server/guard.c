/*
 * guard.c - a worker's io_timeout and request watchdog (see guard.h).
 *
 * The marks are milliseconds of CLOCK_MONOTONIC, 0 meaning "not waiting"
 * or "no request".  They are C11 atomics because two threads read them;
 * relaxed order is enough, since the handlers decide on a fresh reading of
 * the clock and the mark in the serving thread itself, where the handler
 * runs.
 */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "guard.h"
#include "log.h"
#include "worker.h"

#define GUARD_SIG_IO		SIGALRM
#define GUARD_SIG_WATCHDOG	SIGVTALRM
#define GUARD_TICK_MIN_MS	100
#define GUARD_TICK_MAX_MS	1000

static atomic_llong io_since;		/* the wait on the peer began */
static atomic_llong req_since;		/* the request was accepted */
static atomic_llong io_limit_ms;
static atomic_llong req_limit_ms;
static atomic_llong tick_ms;
static atomic_uint io_seconds;
static volatile sig_atomic_t io_drops;	/* since guard_io_dropped() */

static FCGX_Request *guard_fcgx;	/* whose connection to shut down */
static pthread_t serving_thread;
static pthread_t guard_thread;
static bool guard_running;

/* The thread's sleep, cut short by guard_stop (not pthread_cancel, whose
 * unwinding ASan misreads). */
static pthread_mutex_t quit_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t quit_cond;
static bool quit;

/* Watchdog: the line its handler writes, built before it can fire. */
static char wd_line[256];
static size_t wd_len;

/* Whether a mark is older than its limit at now. */
static bool
guard_expired(long long since, long long limit, long long now)
{
	return since != 0 && now - since >= limit;
}

/*
 * SIGALRM, from the guard's thread: the peer kept us waiting io_timeout.
 * Shut its connection down so that the blocked (or next) read or write
 * fails, and start the clock again for the connection libfcgi may accept
 * next inside the same FCGX_Accept_r.  The descriptor is FCGX_Request's
 * ipcFd, which fcgiapp.h marks private: it is the only handle on a
 * connection that FCGX_Accept_r is still reading.
 */
static void
on_io_timeout(int sig)
{
	int saved = errno;
	long long now = clock_mono_ms();
	int fd;

	(void)sig;
	if (guard_expired(atomic_load_explicit(&io_since, memory_order_relaxed),
	    atomic_load_explicit(&io_limit_ms, memory_order_relaxed), now) &&
	    guard_fcgx != NULL &&
	    (fd = *(volatile int *)&guard_fcgx->ipcFd) >= 0) {
		shutdown(fd, SHUT_RDWR);
		io_drops++;
		atomic_store_explicit(&io_since, now, memory_order_relaxed);
	}
	errno = saved;
}

/* SIGVTALRM, from the guard's thread: a request outlived request_timeout. */
static void
on_watchdog(int sig)
{
	ssize_t n;

	(void)sig;
	if (!guard_expired(atomic_load_explicit(&req_since,
	    memory_order_relaxed), atomic_load_explicit(&req_limit_ms,
	    memory_order_relaxed), clock_mono_ms()))
		return;
	n = write(STDERR_FILENO, wd_line, wd_len);
	(void)n;
	_exit(WORKER_EXIT_WATCHDOG);
}

/*
 * The guard's thread: every signal blocked (inherited), it sleeps a tick
 * and signals the serving thread when a mark is past its limit, until
 * guard_stop sets quit.
 */
static void *
guard_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&quit_lock);
	while (!quit) {
		long long tick = atomic_load(&tick_ms), now;
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += tick / 1000;
		until.tv_nsec += (tick % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&quit_cond, &quit_lock, &until);
		if (quit)
			break;
		now = clock_mono_ms();
		if (guard_expired(atomic_load(&io_since),
		    atomic_load(&io_limit_ms), now))
			pthread_kill(serving_thread, GUARD_SIG_IO);
		if (guard_expired(atomic_load(&req_since),
		    atomic_load(&req_limit_ms), now))
			pthread_kill(serving_thread, GUARD_SIG_WATCHDOG);
	}
	pthread_mutex_unlock(&quit_lock);
	return NULL;
}

/* guard_configure - see guard.h. */
void
guard_configure(const struct conf *conf, bool json)
{
	long long shorter, tick;
	int n;

	atomic_store(&io_limit_ms, (long long)conf->io_timeout * 1000);
	atomic_store(&req_limit_ms, (long long)conf->request_timeout * 1000);
	atomic_store(&io_seconds, conf->io_timeout);
	shorter = (long long)(conf->io_timeout < conf->request_timeout ?
	    conf->io_timeout : conf->request_timeout) * 1000;
	tick = shorter / 10;
	if (tick < GUARD_TICK_MIN_MS)
		tick = GUARD_TICK_MIN_MS;
	if (tick > GUARD_TICK_MAX_MS)
		tick = GUARD_TICK_MAX_MS;
	atomic_store(&tick_ms, tick);

	if (json)
		n = snprintf(wd_line, sizeof(wd_line),
		    "%s{\"level\":\"error\",\"pid\":%ld,\"msg\":\"watchdog: "
		    "a request ran longer than request_timeout (%u s), the "
		    "worker exits\"}\n", log_prefix(LOG_LEVEL_ERROR),
		    (long)getpid(), conf->request_timeout);
	else
		n = snprintf(wd_line, sizeof(wd_line),
		    "%srelaycfg[%ld] error: watchdog: a request ran longer "
		    "than request_timeout (%u s), the worker exits\n",
		    log_prefix(LOG_LEVEL_ERROR), (long)getpid(),
		    conf->request_timeout);
	wd_len = n > 0 && (size_t)n < sizeof(wd_line) ? (size_t)n : 0;
}

/* guard_start - see guard.h. */
int
guard_start(const struct conf *conf, bool json, FCGX_Request *fcgx)
{
	struct sigaction sa, old_io, old_wd;
	pthread_condattr_t ca;
	sigset_t all, old_mask;
	int rc;

	atomic_store(&io_since, 0);
	atomic_store(&req_since, 0);
	io_drops = 0;
	guard_fcgx = fcgx;
	serving_thread = pthread_self();
	guard_configure(conf, json);
	quit = false;
	if ((rc = pthread_condattr_init(&ca)) != 0 ||
	    (rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
	    (rc = pthread_cond_init(&quit_cond, &ca)) != 0) {
		errno = rc;
		return -1;
	}
	pthread_condattr_destroy(&ca);

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* Restarted syscalls see the shut-down socket and fail anyway. */
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_io_timeout;
	if (sigaction(GUARD_SIG_IO, &sa, &old_io) != 0)
		goto fail;
	sa.sa_handler = on_watchdog;
	if (sigaction(GUARD_SIG_WATCHDOG, &sa, &old_wd) != 0) {
		sigaction(GUARD_SIG_IO, &old_io, NULL);
		goto fail;
	}
	/* The thread inherits a full mask: no signal is ever its to take. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old_mask);
	rc = pthread_create(&guard_thread, NULL, guard_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	if (rc != 0) {
		sigaction(GUARD_SIG_WATCHDOG, &old_wd, NULL);
		sigaction(GUARD_SIG_IO, &old_io, NULL);
		errno = rc;
		goto fail;
	}
	guard_running = true;
	return 0;
fail:
	rc = errno;
	pthread_cond_destroy(&quit_cond);
	errno = rc;
	return -1;
}

/* guard_stop - see guard.h. */
void
guard_stop(void)
{
	if (!guard_running)
		return;
	pthread_mutex_lock(&quit_lock);
	quit = true;
	pthread_cond_signal(&quit_cond);
	pthread_mutex_unlock(&quit_lock);
	pthread_join(guard_thread, NULL);
	pthread_cond_destroy(&quit_cond);
	guard_running = false;
	atomic_store(&io_since, 0);
	atomic_store(&req_since, 0);
	guard_fcgx = NULL;
}

void
guard_io_begin(void)
{
	atomic_store_explicit(&io_since, clock_mono_ms(), memory_order_relaxed);
}

void
guard_io_begin_since(long long since_ms)
{
	atomic_store_explicit(&io_since, since_ms, memory_order_relaxed);
}

void
guard_io_end(void)
{
	atomic_store_explicit(&io_since, 0, memory_order_relaxed);
}

void
guard_request_begin(void)
{
	atomic_store_explicit(&req_since, clock_mono_ms(), memory_order_relaxed);
}

void
guard_request_end(void)
{
	atomic_store_explicit(&req_since, 0, memory_order_relaxed);
}

/* guard_io_dropped - see guard.h. */
unsigned
guard_io_dropped(void)
{
	unsigned n = 0;

	/* Counted down one by one as the handler counts up (both in this
	 * thread): a drop counted meanwhile is reported, now or next time. */
	while (io_drops > 0) {
		io_drops--;
		n++;
	}
	return n;
}

/* guard_io_seconds - see guard.h. */
unsigned
guard_io_seconds(void)
{
	return atomic_load(&io_seconds);
}
