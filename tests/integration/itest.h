/*
 * itest.h - what the C drivers of the integration tests share (test_store,
 * test_reader): TAP lines without numbers, which their shell script
 * renumbers, and "@@ <command>" requests the script carries out
 * (harness_drive in tests/lib/harness.sh).
 */
#ifndef RELAYCFG_ITEST_H
#define RELAYCFG_ITEST_H

#include <stdbool.h>

/* How many ok() were false so far. */
extern int itest_failures;

/* "ok - ..." or "not ok - ..."; returns cond. */
bool	ok(bool cond, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* "# ..." */
void	diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ask the script to do cmd, and wait until it has; exits if it cannot. */
void	harness(const char *cmd);

#endif
