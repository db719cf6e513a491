/*
 * clock.h - the monotonic clock, in the units relaycfg counts in.
 *
 * One definition for the master's timers, the scoreboard, the watchdog and
 * the time counters of the database and cache clients.
 */
#ifndef RELAYCFG_CLOCK_H
#define RELAYCFG_CLOCK_H

/*
 * clock_mono_ms - CLOCK_MONOTONIC in milliseconds.  Async-signal-safe
 * (clock_gettime is): guard.c's handlers read it.
 */
long long	clock_mono_ms(void);

/* clock_mono_us - CLOCK_MONOTONIC in microseconds. */
long long	clock_mono_us(void);

#endif
