/*
 * scoreboard.h - what the master knows about its workers' requests.
 *
 * One slot per worker in memory shared between the master and the workers
 * it forks (MAP_SHARED | MAP_ANONYMOUS, made before the fork).  A worker
 * writes only its own slot; the master reads it to tell a worker that has
 * served from one that dies before serving anything (the crash-loop rule)
 * and to find a request that outlives request_timeout (the watchdog).
 * The counters are C11 atomics, lock-free, so a reader never sees a torn
 * value; the request label is read only while its writer cannot run.
 */
#ifndef RELAYCFG_SCOREBOARD_H
#define RELAYCFG_SCOREBOARD_H

#include <stdatomic.h>
#include <stddef.h>

#define SCOREBOARD_LABEL_MAX	128

struct scoreboard_slot {
	atomic_ulong	served;		/* requests answered */
	atomic_llong	busy_since_ms;	/* CLOCK_MONOTONIC ms, 0: idle */
	char		label[SCOREBOARD_LABEL_MAX];	/* "METHOD /path" */
};

struct scoreboard;

/*
 * scoreboard_create - n zeroed slots in shared anonymous memory.
 * Returns the scoreboard, or NULL (errno set) when mmap fails.
 */
struct scoreboard	*scoreboard_create(int n);

/*
 * scoreboard_destroy - unmap the master's view.  Workers forked earlier
 * keep their own mapping until they exit.  NULL is fine.
 */
void			 scoreboard_destroy(struct scoreboard *sb);

/* scoreboard_slot - slot i (0 <= i < n), owned by the scoreboard. */
struct scoreboard_slot	*scoreboard_slot(struct scoreboard *sb, int i);

/* scoreboard_reset - zero a slot before a new worker is forked into it. */
void			 scoreboard_reset(struct scoreboard_slot *s);

/*
 * scoreboard_begin - the worker starts a request: note the time and a
 * sanitized "method path" label (truncated).  s may be NULL (no master).
 */
void			 scoreboard_begin(struct scoreboard_slot *s,
			    const char *method, const char *path);

/*
 * scoreboard_answered - the answer is written (before the access-log line,
 * so that a logged request is always counted): served++.
 */
void			 scoreboard_answered(struct scoreboard_slot *s);

/* scoreboard_end - the connection is finished: idle again. */
void			 scoreboard_end(struct scoreboard_slot *s);

/* scoreboard_now_ms - the clock busy_since_ms is read against. */
long long		 scoreboard_now_ms(void);

#endif
