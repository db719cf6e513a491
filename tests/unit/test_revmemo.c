/*
 * test_revmemo.c - the per-process memory of current revisions: it
 * answers only under the epoch and the settings it was filled under, only
 * for the exact revision, only while fresh, and stays bounded.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "revmemo.h"

#define E1	"0123456789abcdef"
#define E2	"fedcba9876543210"

static void
key_of(char out[33], unsigned i)
{
	snprintf(out, 33, "%08x%024x", i * 2654435761u, i);
}

static void
rev_of(char out[33], unsigned i, unsigned version)
{
	snprintf(out, 33, "%016x%016x", i, version);
}

static void
test_epoch(void **state)
{
	char k[33], r[33], r2[33];

	(void)state;
	key_of(k, 1);
	rev_of(r, 1, 1);
	rev_of(r2, 1, 2);
	/* No epoch yet: nothing is kept. */
	assert_false(revmemo_epoch(NULL));
	revmemo_put(k, r, 100);
	assert_false(revmemo_current(k, r, 100, 60));
	/* ... nor kept for a first epoch: it is not a confirmation. */
	assert_false(revmemo_epoch(E1));
	assert_false(revmemo_current(k, r, 100, 60));
	/* Under it, entries are kept. */
	revmemo_put(k, r, 100);
	assert_true(revmemo_current(k, r, 100, 60));
	assert_true(revmemo_epoch(E1));		/* the same epoch: confirmed */
	assert_true(revmemo_current(k, r, 159, 60));
	/* Only the exact revision, only while fresh. */
	assert_false(revmemo_current(k, r2, 120, 60));
	assert_false(revmemo_current(k, r, 160, 60));
	assert_false(revmemo_current(k, r, 99, 60));
	/* A newer revision replaces the older one. */
	revmemo_put(k, r2, 130);
	assert_false(revmemo_current(k, r, 130, 60));
	assert_true(revmemo_current(k, r2, 130, 60));
	/* Another epoch forgets everything; so does a missing one. */
	assert_false(revmemo_epoch(E2));
	assert_false(revmemo_current(k, r2, 130, 60));
	revmemo_put(k, r2, 130);
	assert_true(revmemo_current(k, r2, 130, 60));
	assert_false(revmemo_epoch(NULL));
	assert_false(revmemo_current(k, r2, 130, 60));
	assert_false(revmemo_epoch(E2));	/* came back: still forgotten */
	assert_false(revmemo_current(k, r2, 130, 60));
}

/*
 * Other settings forget everything, and the epoch with it: a single
 * process keeps its memory across a reload that changes them.
 */
static void
test_settings(void **state)
{
	char k[33], r[33], longtag[REVMEMO_SETTINGS_MAX + 2];

	(void)state;
	key_of(k, 3);
	rev_of(r, 3, 1);
	revmemo_settings("aaaa ");
	(void)revmemo_epoch(E1);
	assert_true(revmemo_epoch(E1));
	revmemo_put(k, r, 100);
	/* The same settings again: kept. */
	revmemo_settings("aaaa ");
	assert_true(revmemo_current(k, r, 100, 60));
	/* Others: forgotten, and the epoch must be read again first. */
	revmemo_settings("bbbb ");
	assert_false(revmemo_current(k, r, 100, 60));
	revmemo_put(k, r, 100);
	assert_false(revmemo_current(k, r, 100, 60));
	assert_false(revmemo_epoch(E1));
	assert_true(revmemo_epoch(E1));
	revmemo_put(k, r, 100);
	assert_true(revmemo_current(k, r, 100, 60));
	/* Back to the first: forgotten again. */
	revmemo_settings("aaaa ");
	assert_false(revmemo_current(k, r, 100, 60));
	/* A tag too long to keep forgets every time. */
	memset(longtag, 'c', sizeof(longtag) - 1);
	longtag[sizeof(longtag) - 1] = '\0';
	revmemo_settings(longtag);
	(void)revmemo_epoch(E2);
	assert_true(revmemo_epoch(E2));
	revmemo_put(k, r, 100);
	assert_true(revmemo_current(k, r, 100, 60));
	revmemo_settings(longtag);
	assert_false(revmemo_current(k, r, 100, 60));
}

/* Far more keys than slots: every answer is still right or absent. */
static void
test_bounded(void **state)
{
	enum { N = 20000 };
	char k[33], r[33], other[33];
	unsigned kept = 0;

	(void)state;
	(void)revmemo_epoch(E2);
	(void)revmemo_epoch(E1);
	for (unsigned i = 0; i < N; i++) {
		key_of(k, i);
		rev_of(r, i, 7);
		revmemo_put(k, r, 1000);
	}
	for (unsigned i = 0; i < N; i++) {
		key_of(k, i);
		rev_of(r, i, 7);
		rev_of(other, i, 8);
		assert_false(revmemo_current(k, other, 1000, 60));
		if (revmemo_current(k, r, 1000, 60))
			kept++;
	}
	/* the last ones written are there; not all of them fit */
	key_of(k, N - 1);
	rev_of(r, N - 1, 7);
	assert_true(revmemo_current(k, r, 1000, 60));
	assert_true(kept > 1000 && kept < N);
	print_message("# %u of %u kept\n", kept, N);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoch),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
