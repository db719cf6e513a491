/*
 * pc_testlib.c - shared fixtures and helpers of the config unit tests.
 *
 * One home for what test_projectconfig.c, test_globalconfig.c,
 * test_metrics.c, test_pc_sampling.c and test_txmetrics.c all need: the
 * fixture and its settings, building and rendering, the golden-file
 * check (and its RELAYCFG_GOLDEN_WRITE=1 rewrite), the malloc fault
 * injection with its fail-each-allocation loop and the stderr capture.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "conf.h"
#include "model.h"
#include "projectconfig.h"
#include "pc_testlib.h"

struct model_org org = { .id = 7, .slug = "foo", .name = "Foo",
	.status = 0 };
struct model_project project = { .id = 42, .organization_id = 7,
	.slug = "bar", .name = "Bar", .status = 0 };
struct model_projectkey key1 = { .id = 101, .project_id = 42,
	.public_key = "e12d836b15bb49d7bbf99e64295d995b",
	.secret_key = "0123456789abcdef0123456789abcdef", .status = 0,
	.roles = 1 };
struct conf *conf;

/* ------------------------------------------------------------------ */
/* Allocation failures.                                                */

#ifdef FAULT_INJECTION
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

bool fi_window;
long fi_fail_at = -1;
long fi_count;
long fi_live;

static bool fi_paused;		/* inside json-c's tokener */

static bool
fi_fail(void)
{
	return fi_window && !fi_paused && fi_count++ == fi_fail_at;
}

/*
 * json-c 0.16's tokener crashes by itself when an allocation fails in the
 * middle of an object (strlen(NULL) on the key it could not copy), so no
 * failure is injected while it runs; everything around it is covered.
 */
json_object *
json_tokener_parse_ex(json_tokener *tok, const char *str, int len)
{
	static json_object *(*real)(json_tokener *, const char *, int);
	json_object *rv;
	bool was = fi_paused;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "json_tokener_parse_ex");
	fi_paused = true;
	rv = real(tok, str, len);
	fi_paused = was;
	return rv;
}

json_object *
json_tokener_parse(const char *str)
{
	static json_object *(*real)(const char *);
	json_object *rv;
	bool was = fi_paused;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "json_tokener_parse");
	fi_paused = true;
	rv = real(str);
	fi_paused = was;
	return rv;
}

void *
malloc(size_t n)
{
	void *p;

	if (fi_fail())
		return NULL;
	if ((p = __libc_malloc(n)) != NULL && fi_window)
		fi_live++;
	return p;
}

void *
calloc(size_t a, size_t n)
{
	void *p;

	if (fi_fail())
		return NULL;
	if ((p = __libc_calloc(a, n)) != NULL && fi_window)
		fi_live++;
	return p;
}

void *
realloc(void *old, size_t n)
{
	if (old == NULL)
		return malloc(n);
	if (fi_fail())
		return NULL;
	return __libc_realloc(old, n);
}

void
free(void *p)
{
	if (p != NULL && fi_window)
		fi_live--;
	__libc_free(p);
}

long
fi_fail_each(bool (*attempt)(void *), void *arg)
{
	long fail_at, failures = 0;
	bool ok;

	for (fail_at = 0;; fail_at++) {
		fi_count = fi_live = 0;
		fi_fail_at = fail_at;
		fi_window = true;
		ok = attempt(arg);
		fi_window = false;
		if (fi_live != 0)
			fail_msg("failing allocation %ld leaves %ld blocks",
			    fail_at, fi_live);
		if (!ok)
			failures++;
		if (fi_count <= fail_at) {
			assert_true(ok);	/* nothing failed: must work */
			break;
		}
	}
	fi_fail_at = -1;
	assert_true(failures > 0);
	return fail_at + 1;
}
#endif

int
conf_setup(void **state)
{
	(void)state;
	return (conf = conf_defaults()) == NULL ? -1 : 0;
}

int
conf_teardown(void **state)
{
	(void)state;
	conf_free(conf);
	conf = NULL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Building and rendering.                                             */

json_object *
parse(const char *text)
{
	json_object *o;

	if (text == NULL)
		return NULL;
	if ((o = json_tokener_parse(text)) == NULL)
		fail_msg("not JSON: %s", text);
	return o;
}

json_object *
build_full(const char *popts, const char *oopts,
    const struct model_projectkey *const *keys, size_t n,
    const struct model_txthresholds *thr)
{
	json_object *p = parse(popts), *o = parse(oopts), *c;

	c = projectconfig_content(&project, &org, keys, n, p, o, thr, conf);
	assert_non_null(c);
	json_object_put(p);
	json_object_put(o);
	return c;
}

json_object *
build_keys(const char *popts, const char *oopts,
    const struct model_projectkey *const *keys, size_t n)
{
	return build_full(popts, oopts, keys, n, NULL);
}

json_object *
build_thr(const char *popts, const char *oopts,
    const struct model_txthresholds *thr)
{
	const struct model_projectkey *keys[] = { &key1 };

	return build_full(popts, oopts, keys, 1, thr);
}

json_object *
build(const char *popts, const char *oopts)
{
	return build_thr(popts, oopts, NULL);
}

char *
render(json_object *content)
{
	char rev[PROJECTCONFIG_REV_LEN + 1], *text;
	size_t len = 0;

	assert_int_equal(projectconfig_rev(content, rev), 0);
	text = projectconfig_render(content, rev, FETCH, CHANGE, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

void
assert_rev_survives_build(const char *popts, const char *oopts,
    const struct model_txthresholds *thr)
{
	char a[PROJECTCONFIG_REV_LEN + 1], b[PROJECTCONFIG_REV_LEN + 1];
	json_object *c = build_thr(popts, oopts, thr), *back;

	back = parse(json_object_to_json_string_ext(c,
	    JSON_C_TO_STRING_PLAIN));
	assert_int_equal(projectconfig_rev(c, a), 0);
	assert_int_equal(projectconfig_rev(back, b), 0);
	assert_string_equal(a, b);
	json_object_put(back);
	json_object_put(c);
}

/* ------------------------------------------------------------------ */
/* Golden files.                                                       */

char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

void
golden_path(char *buf, size_t len, const char *name)
{
	const char *top = getenv("top_srcdir");

	if (top == NULL)
		fail_msg("top_srcdir is not set (run through make check)");
	snprintf(buf, len, "%s/tests/golden/%s.json", top, name);
}

void
golden_check(const char *prefix, const char *name, json_object *got,
    const char *text)
{
	const char *w = getenv("RELAYCFG_GOLDEN_WRITE");
	char stem[256], path[1024], *want_text;
	json_object *want;

	snprintf(stem, sizeof(stem), "%s%s", prefix, name);
	golden_path(path, sizeof(path), stem);
	if (w != NULL && strcmp(w, "1") == 0) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fprintf(f, "%s\n", json_object_to_json_string_ext(got,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
		fclose(f);
	}
	want_text = read_file(path);
	want = parse(want_text);
	if (!json_object_equal(got, want))
		fail_msg("%s differs from the golden file:\n%s", name,
		    text != NULL ? text : json_object_to_json_string(got));
	/* same text once both are plain: the key order matches too */
	if (text == NULL)
		text = json_object_to_json_string_ext(got,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	assert_string_equal(text, json_object_to_json_string_ext(want,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(want);
	free(want_text);
}

void
check_golden(const char *name, const char *text)
{
	json_object *got = parse(text);

	golden_check("", name, got, text);
	json_object_put(got);
}

void
golden_keys(const char *prefix, const char *name, json_object *c,
    const char *const *keys, size_t n)
{
	json_object *got = json_object_new_object();

	assert_non_null(got);
	for (size_t i = 0; i < n; i++) {
		json_object *v = get(c, "config", keys[i], NULL);

		assert_non_null(v);
		json_object_object_add(got, keys[i], json_object_get(v));
	}
	golden_check(prefix, name, got, NULL);
	json_object_put(got);
}

/* ------------------------------------------------------------------ */
/* Looking inside.                                                     */

json_object *
get(json_object *o, ...)
{
	va_list ap;
	const char *k;

	va_start(ap, o);
	while (o != NULL && (k = va_arg(ap, const char *)) != NULL)
		if (!json_object_object_get_ex(o, k, &o))
			o = NULL;
	va_end(ap);
	return o;
}

/* stderr capture, to see what the builder logs */
static int saved_stderr = -1;
static char capture_path[] = "/tmp/relaycfg-pc-log-XXXXXX";

void
capture_start(void)
{
	int fd;

	strcpy(capture_path, "/tmp/relaycfg-pc-log-XXXXXX");
	fd = mkstemp(capture_path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

char *
capture_stop(void)
{
	char *text;

	fflush(stderr);
	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	saved_stderr = -1;
	text = read_file(capture_path);
	unlink(capture_path);
	return text;
}
