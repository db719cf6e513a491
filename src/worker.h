/*
 * worker.h - the accept loop.
 */
#ifndef RELAYCFG_WORKER_H
#define RELAYCFG_WORKER_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf.h"

/*
 * worker_run - serve requests from the listening socket on fd 0 until a
 * stop signal (TERM, INT, USR1; HUP too under a master) or max_requests.
 *
 * single: no master (--workers 0); HUP then re-reads the config in place,
 * which is why the conf is passed by reference.  master: the parent pid,
 * ignored when single.  Returns the process exit status.
 */
int	worker_run(struct conf **confp, bool single, pid_t master);

#endif
