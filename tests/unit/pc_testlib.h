/*
 * pc_testlib.h - shared fixtures and helpers of the config unit tests.
 *
 * Linked into test_projectconfig, test_globalconfig, test_metrics,
 * test_pc_sampling and test_txmetrics (mk/config.am).  Include it after
 * <cmocka.h> and <json-c/json.h>.
 */
#ifndef PC_TESTLIB_H
#define PC_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "conf.h"
#include "model.h"

#define FETCH	"2025-01-02T03:04:05.678901Z"
#define CHANGE	"2025-01-02T03:04:05.000000Z"

/* The one organization, project and key every scenario builds for. */
extern struct model_org org;
extern struct model_project project;
extern struct model_projectkey key1;
/* The settings builds use; each program makes (and frees) them itself. */
extern struct conf *conf;

/*
 * On glibc, and unless AddressSanitizer owns malloc, the library replaces
 * malloc so that an OOM test can fail the n-th allocation inside a window
 * and count the blocks still live afterwards.  Outside the window the
 * replacement only forwards to glibc.
 */
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define FAULT_INJECTION 1

extern bool fi_window;		/* counting and failing on */
extern long fi_fail_at;		/* index of the allocation to fail (-1) */
extern long fi_count;		/* allocations seen in the window */
extern long fi_live;		/* blocks allocated minus blocks freed */

/*
 * fi_fail_each - run attempt(arg) once for each of its allocations, the
 * n-th run failing the n-th (fi_fail_at says which), until a run meets
 * no failure; that one must succeed.  attempt returns whether it got its
 * whole result, and frees everything it made either way: a run that
 * leaves a block fails the test, and so does a loop in which no run
 * failed.  Returns the number of allocation points (runs).
 */
long		 fi_fail_each(bool (*)(void *), void *);
#endif

/*
 * conf_setup, conf_teardown - cmocka group fixtures: conf is
 * conf_defaults() for the group's tests, freed after them.
 */
int		 conf_setup(void **);
int		 conf_teardown(void **);

/* parse - text as JSON (NULL: NULL); not JSON fails the test. */
json_object	*parse(const char *);

/*
 * build_full - projectconfig_content for the project with these keys,
 * options given as JSON text (NULL: none) and thresholds thr (may be
 * NULL); a NULL content fails the test.  build_keys passes no
 * thresholds, build_thr only key1, build neither.
 */
json_object	*build_full(const char *, const char *,
		    const struct model_projectkey *const *, size_t,
		    const struct model_txthresholds *);
json_object	*build_keys(const char *, const char *,
		    const struct model_projectkey *const *, size_t);
json_object	*build_thr(const char *, const char *,
		    const struct model_txthresholds *);
json_object	*build(const char *, const char *);

/* render - content as the rendered state (FETCH, CHANGE, its real rev). */
char		*render(json_object *);

/*
 * assert_rev_survives_build - build_thr(popts, oopts, thr) keeps its rev
 * once written as text and read back (the rev depends on the value
 * only); the build is freed.
 */
void		 assert_rev_survives_build(const char *, const char *,
		    const struct model_txthresholds *);

/* read_file - the whole file at path, NUL-terminated (free it). */
char		*read_file(const char *);

/* golden_path - the path of tests/golden/<name>.json into buf[len]. */
void		 golden_path(char *, size_t, const char *);

/*
 * golden_check - got against tests/golden/<prefix><name>.json: with
 * RELAYCFG_GOLDEN_WRITE=1 the file is (re)written first, pretty-printed,
 * from got.  Then compared canonically (json_object_equal) and as text:
 * text (got as plain JSON when NULL) must equal the golden file
 * re-serialized plainly, which pins the key order.
 */
void		 golden_check(const char *, const char *, json_object *,
		    const char *);

/* check_golden - a rendered state against tests/golden/<name>.json. */
void		 check_golden(const char *, const char *);

/*
 * golden_keys - {key: config[key], ...} of content c for the n keys (each
 * must be there) against tests/golden/<prefix><name>.json.
 */
void		 golden_keys(const char *, const char *, json_object *,
		    const char *const *, size_t);

/* get - content at a path of object keys, e.g. get(c, "config", "x", NULL). */
json_object	*get(json_object *, ...);

/* capture_start, capture_stop - what is logged to stderr in between. */
void		 capture_start(void);
char		*capture_stop(void);

#endif
