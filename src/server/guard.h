/*
 * guard.h - a worker's two deadlines, without a system call per request.
 *
 * - io_timeout bounds every wait on the FastCGI peer: the params (inside
 *   FCGX_Accept_r) and the body, each as a whole, and each write of the
 *   answer.
 *   libfcgi has no timeout of its own and blocks in read(2)/write(2); on
 *   expiry the connection is shut down (shutdown(2)), so the blocked call
 *   returns at once and a call not yet made fails at once.
 * - request_timeout is the watchdog, from acceptance to the last byte: on
 *   expiry one prebuilt line is written and the process _exit()s with
 *   WORKER_EXIT_WATCHDOG, whatever the code in flight does.
 *
 * The serving thread only notes when a wait or a request begins and ends:
 * a vDSO clock read and a relaxed atomic store, where arming a POSIX timer
 * cost two timer_settime(2) calls per wait (8-10 per request, 8% of a warm
 * worker's CPU).  A thread of the guard's own, with every signal blocked,
 * looks every tick (a tenth of the shorter timeout, 100 ms to 1 s) and,
 * when a deadline has passed, signals the serving thread (pthread_kill):
 * SIGALRM for io_timeout, SIGVTALRM for the watchdog, neither of them ever
 * blocked there.  The handlers look at the clock and the marks again, so a
 * signal that arrives after the wait ended does nothing.  A deadline fires
 * between its timeout and its timeout plus one tick.
 */
#ifndef RELAYCFG_GUARD_H
#define RELAYCFG_GUARD_H

#include <stdbool.h>

#include <fcgiapp.h>

#include "conf.h"

/*
 * guard_start - install the handlers, take the timeouts from conf and start
 * the guard's thread; fcgx is the request whose connection io_timeout shuts
 * down (its ipcFd is read in the handler).  Call from the serving thread.
 * Returns 0, or -1 (errno set) with nothing installed or started.
 */
int	guard_start(const struct conf *conf, bool json, FCGX_Request *fcgx);

/* guard_configure - new timeouts and watchdog line (a reload). */
void	guard_configure(const struct conf *conf, bool json);

/* guard_stop - stop and join the thread.  Safe when not started. */
void	guard_stop(void);

/* guard_io_begin / guard_io_end - a wait on the peer starts / is over. */
void	guard_io_begin(void);
void	guard_io_end(void);

/*
 * guard_io_begin_since - a wait on the peer starts, its io_timeout counted
 * from since_ms (clock_mono_ms), not from now: a phase of several waits
 * (the body) bounded as a whole.
 */
void	guard_io_begin_since(long long since_ms);

/* guard_request_begin / guard_request_end - the watchdog's span. */
void	guard_request_begin(void);
void	guard_request_end(void);

/*
 * guard_io_dropped - connections io_timeout shut down since the last call
 * (0 mostly); the caller logs them.
 */
unsigned guard_io_dropped(void);

/* guard_io_seconds - io_timeout, for the log line. */
unsigned guard_io_seconds(void);

#endif
