/*
 * worker.h - the accept loop.
 */
#ifndef RELAYCFG_WORKER_H
#define RELAYCFG_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conf.h"

struct scoreboard_slot;

/* Exit status of a worker whose request outlived request_timeout. */
#define WORKER_EXIT_WATCHDOG	3

/*
 * worker_run - serve requests from the listening socket on fd 0 until a
 * stop signal (TERM, INT, USR1; HUP too under a master) or max_requests.
 *
 * single: no master (--workers 0); HUP then re-reads the config in place,
 * which is why the conf is passed by reference.  master: the parent pid,
 * ignored when single.  slot: this worker's scoreboard slot, written for
 * the master; NULL when single.  After a stop signal the connections
 * already queued are answered first.  Returns the process exit status; a
 * request over request_timeout ends the process with WORKER_EXIT_WATCHDOG.
 */
/*
 * worker_stop_signals - set becomes the signals that stop or reload a
 * relaycfg process (TERM, INT, HUP, USR1): held from start-up until the
 * master's sigtimedwait() or a worker's own handlers take them.
 */
void	worker_stop_signals(sigset_t *set);

int	worker_run(struct conf **confp, bool single, pid_t master,
	    struct scoreboard_slot *slot);

#endif
