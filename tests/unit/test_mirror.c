/*
 * test_mirror.c - the Sentry mirror without a server: values come out in
 * one canonical spelling, Sentry rows that relaycfg cannot take are
 * refused (and their keys kept), rows sort by key, the plan holds exactly
 * the inserts, updates and deletes that make relaycfg's rows equal
 * Sentry's, the deletion guard trips only when it should, and orphans are
 * dropped in parent-before-child order.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mirror.h"

/* Column positions (mirror_spec.c) the tests write. */
#define ORG_NAME	1
#define PROJECT_NAME	2
#define PROJECT_COLOR	3	/* forced_color */
#define KEY_SECRET	4
#define OPTION_KEY	1
#define OPTION_VALUE	2
#define THRESHOLD_ORG	1
#define THRESHOLD_VALUE	2
#define RELAY_PUBLIC	1

#define HEX32	"0123456789abcdef0123456789abcdef"
#define UUID1	"01234567-89ab-cdef-0123-456789abcdef"
#define UUID2	"11111111-2222-4333-8444-555555555555"
#define TIME	"2024-01-02 03:04:05.000000"

/* One row's values, as many as the table has columns. */
struct rowv {
	const char	*v[MIRROR_NCOLS_MAX];
	size_t		 n;
};

/* A row every check accepts, column by column from the spec. */
static struct rowv
dflt(enum mirror_table_id id)
{
	const struct mirror_table *t = mirror_table(id);
	struct rowv r;

	memset(&r, 0, sizeof(r));
	assert_non_null(t);
	assert_true(t->ncols <= MIRROR_NCOLS_MAX);
	r.n = t->ncols;
	for (size_t c = 0; c < t->ncols; c++) {
		const struct mirror_col *col = &t->cols[c];

		switch (col->check) {
		case MV_HEX32:
			r.v[c] = HEX32;
			continue;
		case MV_UUID:
			r.v[c] = UUID1;
			continue;
		case MV_OPTKEY:
			r.v[c] = "sentry:opt";
			continue;
		case MV_ID:
			r.v[c] = "1";
			continue;
		case MV_TXMETRIC:
			r.v[c] = "1";
			continue;
		case MV_TXTHRESHOLD:
			r.v[c] = "300";
			continue;
		case MV_TXNAME:
			r.v[c] = "/checkout";
			continue;
		case MV_NONE:
			break;
		}
		switch (col->kind) {
		case MC_INT:
			r.v[c] = "0";
			break;
		case MC_TEXT:
			r.v[c] = "text";
			break;
		case MC_BOOL:
			r.v[c] = "0";
			break;
		case MC_TIME:
			r.v[c] = TIME;
			break;
		case MC_JSON:
			r.v[c] = "{}";
			break;
		}
	}
	return r;
}

/* A default row with its key set (k1 only for two-column keys). */
static struct rowv
keyed(enum mirror_table_id id, const char *k0, const char *k1)
{
	struct rowv r = dflt(id);

	r.v[0] = k0;
	if (mirror_table(id)->nkey > 1)
		r.v[1] = k1;
	return r;
}

static int
add_why(struct mirror_rows *r, bool sentry, const struct rowv *row, char *why,
    size_t whylen)
{
	assert_int_equal(row->n, r->t->ncols);
	return mirror_rows_add(r, row->v, sentry, why, whylen);
}

static int
add(struct mirror_rows *r, bool sentry, const struct rowv *row)
{
	return add_why(r, sentry, row, NULL, 0);
}

/* Add a default row with its key; it must be taken. */
static void
put(struct mirror_rows *r, bool sentry, const char *k0, const char *k1)
{
	struct rowv row = keyed(r->t->id, k0, k1);

	assert_int_equal(add(r, sentry, &row), 0);
}

static void
side_init(struct mirror_rows s[MT_COUNT])
{
	for (int t = 0; t < MT_COUNT; t++)
		mirror_rows_init(&s[t], mirror_table((enum mirror_table_id)t));
}

static void
side_sort(struct mirror_rows s[MT_COUNT])
{
	for (int t = 0; t < MT_COUNT; t++)
		assert_true(mirror_rows_sort(&s[t]));
}

static void
side_free(struct mirror_rows s[MT_COUNT])
{
	for (int t = 0; t < MT_COUNT; t++)
		mirror_rows_free(&s[t]);
}

/* exact - a key written "a b" as mirror_key_exact spells it ("a\x1fb"),
 * in a static buffer. */
static const char *
exact(const char *s)
{
	static char buf[256];
	char *sp;

	snprintf(buf, sizeof(buf), "%s", s);
	if ((sp = strchr(buf, ' ')) != NULL)
		*sp = 0x1f;
	return buf;
}

/* Is s (written "a b" for two columns) one of r's kept keys? */
static bool
is_kept(const struct mirror_rows *r, const char *s)
{
	for (size_t i = 0; i < r->nkept; i++)
		if (strcmp(r->kept[i], exact(s)) == 0)
			return true;
	return false;
}

/* 64 brackets, for nesting built with "%.Ns". */
#define OPEN64	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
#define CLOSE64	"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"

/* mirror_json_canonical's answer for a NUL-terminated s, or NULL. */
static char *
canon(const char *s)
{
	bool oom = true;
	char *out = mirror_json_canonical(s, strlen(s), &oom);

	assert_false(oom);
	return out;
}

static void
assert_canon(const char *in, const char *want)
{
	char *out = canon(in);

	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

static void
assert_not_json(const char *in)
{
	char *out = canon(in);

	if (out != NULL)
		print_message("# taken as JSON: %s -> %s\n", in, out);
	assert_null(out);
}

/* The tables and their references agree with mirror.h's index macros. */
static void
test_spec(void **state)
{
	const struct mirror_link *l;
	size_t n;

	(void)state;
	for (int i = 0; i < MT_COUNT; i++) {
		const struct mirror_table *t =
		    mirror_table((enum mirror_table_id)i);

		assert_non_null(t);
		assert_int_equal(t->id, i);
		assert_non_null(t->name);
		assert_non_null(t->what);
		assert_true(t->ncols > t->nkey);
		assert_true(t->ncols <= MIRROR_NCOLS_MAX);
		assert_true(t->nkey >= 1 && t->nkey <= MIRROR_NKEY_MAX);
	}
	assert_null(mirror_table(MT_COUNT));
	assert_string_equal(mirror_table(MT_PROJECT)->cols[MIRROR_PROJECT_ORG]
	    .name, "organization_id");
	assert_string_equal(mirror_table(MT_PROJECT)->
	    cols[MIRROR_PROJECT_TEMPLATE].name, "template_id");
	assert_string_equal(mirror_table(MT_KEY)->cols[MIRROR_KEY_PROJECT]
	    .name, "project_id");
	assert_string_equal(mirror_table(MT_KEY)->cols[MIRROR_KEY_PUBLIC]
	    .name, "public_key");
	assert_string_equal(mirror_table(MT_TEMPLATE)->
	    cols[MIRROR_TEMPLATE_ORG].name, "organization_id");
	/* The positions this file writes. */
	assert_string_equal(mirror_table(MT_ORG)->cols[ORG_NAME].name, "name");
	assert_string_equal(mirror_table(MT_PROJECT)->cols[PROJECT_COLOR].name,
	    "forced_color");
	assert_string_equal(mirror_table(MT_PROJECT_OPTION)->
	    cols[OPTION_VALUE].name, "value");
	assert_string_equal(mirror_table(MT_THRESHOLD)->cols[THRESHOLD_ORG]
	    .name, "organization_id");
	/* Parents come before children, and are keyed by one integer. */
	l = mirror_links(&n);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		const struct mirror_table *c = mirror_table(l[i].child);
		const struct mirror_table *p = mirror_table(l[i].parent);

		assert_true(l[i].parent < l[i].child);
		assert_true(l[i].col < c->ncols);
		assert_int_equal(c->cols[l[i].col].kind, MC_INT);
		assert_int_equal(p->nkey, 1);
		assert_int_equal(p->cols[0].kind, MC_INT);
		if (i > 0)
			assert_true(l[i - 1].child <= l[i].child);
	}
}

static void
test_json_canonical(void **state)
{
	bool oom = true;
	char *out;

	(void)state;
	assert_canon("{\"a\": 1, \"b\": [1, 2]}", "{\"a\":1,\"b\":[1,2]}");
	assert_canon(" {\n\t\"a\" : { \"b\" : [ ] } }\r\n", "{\"a\":{\"b\":[]}}");
	assert_canon("\"a/b\"", "\"a/b\"");
	assert_canon("\"a\\/b\"", "\"a/b\"");
	assert_canon("null", "null");
	assert_canon("  true ", "true");
	assert_canon("false", "false");
	assert_canon("[]", "[]");
	assert_canon("{}", "{}");
	assert_canon("-12", "-12");
	assert_canon("1.50", "1.50");	/* doubles keep their spelling */
	assert_canon("\"\\u00e9\"", "\"\xc3\xa9\"");
	assert_canon("\"\xc3\xa9\"", "\"\xc3\xa9\"");
	assert_canon("\"a\\nb\"", "\"a\\nb\"");
	assert_canon("[\"x\", {\"k\": null}]", "[\"x\",{\"k\":null}]");

	/* Not JSON: what older Sentry rows hold, and what json-c alone
	 * would take. */
	assert_not_json("gAJdcQBYAQAAACpxAWEu");	/* a base64 pickle */
	assert_not_json("{'a':1}");
	assert_not_json("'a'");
	assert_not_json("1 2");
	assert_not_json("{\"a\":1} x");
	assert_not_json("\"a\tb\"");		/* raw control characters */
	assert_not_json("\"a\nb\"");
	assert_not_json("\"a\x01\"");
	assert_not_json("\"\xff\"");		/* invalid UTF-8 */
	assert_not_json("\"\xc3\"");		/* truncated */
	assert_not_json("\"\xc0\x80\"");	/* overlong */
	assert_not_json("");
	assert_not_json("   ");
	assert_not_json("{\"a\":1,}");
	assert_not_json("[1,]");
	assert_not_json("NaN");
	assert_not_json("01");
	assert_not_json("\"\\u0000\"");
	assert_not_json("\"\\ud800\"");		/* unpaired surrogate */
	assert_not_json("True");
	assert_not_json("{\"a\"}");

	/* Integers json-c would turn into INT64_MIN or UINT64_MAX are not
	 * taken; the bounds themselves, doubles and strings are. */
	assert_canon("18446744073709551615", "18446744073709551615");
	assert_canon("[-9223372036854775808]", "[-9223372036854775808]");
	assert_canon("100000000000000000000.0", "100000000000000000000.0");
	assert_canon("1e20", "1e20");
	assert_canon("\"100000000000000000000\"", "\"100000000000000000000\"");
	assert_canon("{\"a\\\"1\": 100000000000000000000.5}",
	    "{\"a\\\"1\":100000000000000000000.5}");
	assert_null(canon("18446744073709551616"));
	assert_null(canon("[-9223372036854775809]"));
	assert_null(canon("{\"a\": [1, 100000000000000000000]}"));
	assert_string_equal(mirror_json_refusal(
	    "{\"a\": 100000000000000000000}", 28), "has an integer beyond 64 "
	    "bits, which relaycfg would store changed");
	assert_null(mirror_json_refusal("[18446744073709551615, -1]", 26));
	assert_string_equal(mirror_json_refusal("gAKILg==", 8),
	    "is not JSON (a pickled value?)");

	/* Stored as deep as option set and the server's json-c take (32);
	 * deeper is said as such, not as "not JSON" (json-c refused 33-64
	 * deep and the sync called that a pickle); beyond 64 it is unread. */
	{
		char deep[200];
		size_t d;

		for (d = 0; d < 32; d++)
			deep[d] = '[';
		for (; d < 64; d++)
			deep[d] = ']';
		deep[d] = '\0';
		assert_canon(deep, deep);
		assert_null(mirror_json_refusal(deep, d));
		memmove(deep + 1, deep, d + 1);
		deep[0] = '[';
		deep[d + 1] = ']';
		deep[d + 2] = '\0';
		assert_null(canon(deep));
		assert_string_equal(mirror_json_refusal(deep, d + 2), "is JSON "
		    "nested deeper than 32 levels, which relaycfg does not "
		    "store");
		/* json-c counts what the 32nd array or object holds as a
		 * 33rd level: refused as such, not with no reason at all. */
		snprintf(deep, sizeof(deep), "%.32s1%.32s", OPEN64, CLOSE64);
		assert_null(canon(deep));
		assert_non_null(mirror_json_refusal(deep, strlen(deep)));
		assert_string_equal(mirror_json_refusal(deep, strlen(deep)),
		    "is JSON nested deeper than 32 levels, which relaycfg "
		    "does not store");
		snprintf(deep, sizeof(deep), "%.31s{\"a\":1}%.31s", OPEN64,
		    CLOSE64);
		assert_null(canon(deep));
		assert_non_null(mirror_json_refusal(deep, strlen(deep)));
		snprintf(deep, sizeof(deep), "%.31s{\"a\":{}}%.31s", OPEN64,
		    CLOSE64);
		assert_null(canon(deep));
		assert_non_null(mirror_json_refusal(deep, strlen(deep)));
		snprintf(deep, sizeof(deep), "%.31s{\"a\":1}%.30s", OPEN64,
		    CLOSE64);
		memmove(deep, deep + 1, strlen(deep));	/* 30 arrays: fine */
		assert_canon(deep, deep);
		assert_null(mirror_json_refusal(deep, strlen(deep)));
		snprintf(deep, sizeof(deep), "%.31s\"[x\"%.31s", OPEN64,
		    CLOSE64);
		assert_canon(deep, deep);
		assert_null(mirror_json_refusal(deep, strlen(deep)));
		/* Deeper than jsonstrict reads at all: the same words. */
		for (d = 0; d < 65; d++)
			deep[d] = '[';
		for (; d < 130; d++)
			deep[d] = ']';
		deep[d] = '\0';
		assert_string_equal(mirror_json_refusal(deep, d), "is JSON "
		    "nested deeper than 32 levels, which relaycfg does not "
		    "store");

	}

	/* Only len bytes are read: an embedded NUL ends nothing early. */
	out = mirror_json_canonical("[1]\0[2]", 7, &oom);
	assert_false(oom);
	assert_null(out);
}

static void
test_key_text(void **state)
{
	const struct mirror_table *org = mirror_table(MT_ORG);
	const struct mirror_table *opt = mirror_table(MT_PROJECT_OPTION);
	const struct mirror_table *rel = mirror_table(MT_RELAY);
	const struct mirror_table *thr = mirror_table(MT_THRESHOLD_OVERRIDE);
	char buf[200], small[4], longv[401], big[MIRROR_KEY_TEXT_LEN], *key;

	(void)state;
	assert_string_equal(mirror_key_text(org, (const char *const[]){ "42" },
	    buf, sizeof(buf)), "42");
	assert_ptr_equal(mirror_key_text(org, (const char *const[]){ "42" },
	    buf, sizeof(buf)), buf);
	assert_string_equal(mirror_key_text(opt, (const char *const[]){ "7",
	    "sentry:scrub-data", "true" }, buf, sizeof(buf)),
	    "7 sentry:scrub-data");
	assert_string_equal(mirror_key_text(rel, (const char *const[]){ UUID1,
	    "pk", NULL }, buf, sizeof(buf)), UUID1);
	/* Controls, DEL, C1, backslash and bytes that are not UTF-8 are
	 * escaped; valid UTF-8 stays as it is. */
	assert_string_equal(mirror_key_text(opt, (const char *const[]){ "7",
	    "k\x01\x7f\xc3\xa9\n!", NULL }, buf, sizeof(buf)),
	    "7 k\\x01\\x7f\xc3\xa9\\x0a!");
	assert_string_equal(mirror_key_text(org, (const char *const[]){
	    "\x1b[31m" }, buf, sizeof(buf)), "\\x1b[31m");
	assert_string_equal(mirror_key_text(thr, (const char *const[]){ "100",
	    "/\xf0\x9f\x98\x80 \xc2\x9b\xc2\xa0\\\xff\xc3" }, buf,
	    sizeof(buf)), "100 /\xf0\x9f\x98\x80 \\xc2\\x9b\xc2\xa0\\x5c"
	    "\\xff\\xc3");
	/* SQL NULL in a key */
	assert_string_equal(mirror_key_text(opt, (const char *const[]){ NULL,
	    NULL }, buf, sizeof(buf)), "NULL NULL");
	/* Whole when it fits: 200 two-byte characters. */
	for (size_t i = 0; i < 200; i++)
		memcpy(longv + 2 * i, "\xc3\xa9", 2);
	longv[400] = '\0';
	mirror_key_text(thr, (const char *const[]){ "3", longv }, big,
	    sizeof(big));
	assert_int_equal(strlen(big), 2 + 400);
	assert_string_equal(big + 2, longv);
	/* Cut at a character, and said with an ellipsis. */
	mirror_key_text(thr, (const char *const[]){ "3", longv }, buf, 12);
	assert_string_equal(buf, "3 \xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6");
	mirror_key_text(thr, (const char *const[]){ "3", longv }, buf, 13);
	assert_string_equal(buf, "3 \xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6");
	mirror_key_text(thr, (const char *const[]){ "3", longv }, buf, 14);
	assert_string_equal(buf, "3 \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80"
	    "\xa6");
	/* For --json: as it is, but never bytes that are not UTF-8. */
	key = mirror_key_string(thr, (const char *const[]){ "100",
	    "/\x01\xf0\x9f\x98\x80\xff" });
	assert_non_null(key);
	assert_string_equal(key, "100 /\x01\xf0\x9f\x98\x80\xef\xbf\xbd");
	free(key);
	key = mirror_key_string(opt, (const char *const[]){ NULL, "k" });
	assert_non_null(key);
	assert_string_equal(key, "NULL k");
	free(key);
	/* A small buffer is filled and terminated, never overrun. */
	memset(small, '#', sizeof(small));
	mirror_key_text(org, (const char *const[]){ "123456" }, small,
	    sizeof(small));
	assert_string_equal(small, "\xe2\x80\xa6");
	mirror_key_text(org, (const char *const[]){ "123" }, small,
	    sizeof(small));
	assert_string_equal(small, "123");
	mirror_key_text(org, (const char *const[]){ "123456" }, small, 3);
	assert_string_equal(small, "12");
	mirror_key_text(org, (const char *const[]){ "1" }, small, 1);
	assert_string_equal(small, "");
	small[0] = '#';
	mirror_key_text(org, (const char *const[]){ "1" }, small, 0);
	assert_int_equal(small[0], '#');
}

/* A valid Sentry row is taken, values in canonical text, key parsed. */
static void
test_add_valid(void **state)
{
	struct mirror_rows r;
	struct rowv row;
	char why[256];

	(void)state;
	mirror_rows_init(&r, mirror_table(MT_KEY));
	assert_ptr_equal(r.t, mirror_table(MT_KEY));
	assert_int_equal(r.n, 0);
	row = keyed(MT_KEY, "7", NULL);
	row.v[MIRROR_KEY_PROJECT] = "3";
	row.v[2] = NULL;		/* label takes NULL */
	row.v[10] = "{\"dynamicSdkLoaderOptions\": {\"hasDebug\": true}}";
	strcpy(why, "stale");
	row.v[KEY_SECRET] = NULL;	/* Sentry's secret_key is null=True */
	assert_int_equal(add_why(&r, true, &row, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(r.n, 1);
	assert_int_equal(r.nkept, 0);
	assert_int_equal(r.rows[0].k[0], 7);
	assert_string_equal(r.rows[0].v[0], "7");
	assert_string_equal(r.rows[0].v[MIRROR_KEY_PROJECT], "3");
	assert_null(r.rows[0].v[2]);
	assert_null(r.rows[0].v[KEY_SECRET]);
	assert_string_equal(r.rows[0].v[MIRROR_KEY_PUBLIC], HEX32);
	assert_string_equal(r.rows[0].v[10],
	    "{\"dynamicSdkLoaderOptions\":{\"hasDebug\":true}}");
	/* values are copies */
	assert_true(r.rows[0].v[0] != row.v[0]);
	mirror_rows_free(&r);
	assert_int_equal(r.n, 0);
	assert_null(r.rows);
	assert_ptr_equal(r.t, mirror_table(MT_KEY));

	/* Two-column keys: both parsed where integer. */
	mirror_rows_init(&r, mirror_table(MT_THRESHOLD_OVERRIDE));
	row = keyed(MT_THRESHOLD_OVERRIDE, "12", "/api/0/");
	assert_int_equal(add(&r, true, &row), 0);
	assert_int_equal(r.rows[0].k[0], 12);
	assert_string_equal(r.rows[0].v[1], "/api/0/");
	mirror_rows_free(&r);

	/* Many rows: the array grows. */
	mirror_rows_init(&r, mirror_table(MT_ORG));
	for (int i = 1; i <= 300; i++) {
		char id[16];

		snprintf(id, sizeof(id), "%d", i);
		put(&r, true, id, NULL);
	}
	assert_int_equal(r.n, 300);
	assert_int_equal(r.rows[299].k[0], 300);
	assert_true(mirror_rows_sort(&r));
	mirror_rows_free(&r);
}

/* A refused row: 1, why names table, key and column, key kept. */
static void
refuse(enum mirror_table_id id, const struct rowv *row, const char *want_why,
    const char *want_key)
{
	struct mirror_rows r;
	char why[512], shown[200], *key;

	mirror_rows_init(&r, mirror_table(id));
	assert_int_equal(add_why(&r, true, row, why, sizeof(why)), 1);
	if (strcmp(why, want_why) != 0)
		print_message("# why: %s\n", why);
	assert_string_equal(why, want_why);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.nkept, 1);
	/* kept: the exact key; shown in messages as want_key */
	key = mirror_key_exact(r.t, row->v);
	assert_non_null(key);
	assert_string_equal(r.kept[0], key);
	free(key);
	assert_string_equal(mirror_key_text(r.t, row->v, shown, sizeof(shown)),
	    want_key);
	/* Without a why buffer it is refused all the same. */
	assert_int_equal(add(&r, true, row), 1);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.nkept, 2);
	mirror_rows_free(&r);
	assert_int_equal(r.nkept, 0);
	assert_null(r.kept);
}

static void
test_add_refused(void **state)
{
	struct rowv row;
	struct mirror_rows r;
	char why[24];

	(void)state;
	row = keyed(MT_KEY, "7", NULL);
	row.v[MIRROR_KEY_PUBLIC] = "0123456789ABCDEF0123456789ABCDEF";
	refuse(MT_KEY, &row, "sentry_projectkey (7): public_key is not 32 "
	    "lowercase hex digits", "7");
	row.v[MIRROR_KEY_PUBLIC] = NULL;
	refuse(MT_KEY, &row, "sentry_projectkey (7): public_key is NULL", "7");
	row.v[MIRROR_KEY_PUBLIC] = HEX32 "0";
	refuse(MT_KEY, &row, "sentry_projectkey (7): public_key is not 32 "
	    "lowercase hex digits", "7");
	row = keyed(MT_KEY, "8", NULL);
	row.v[KEY_SECRET] = "0123";
	refuse(MT_KEY, &row, "sentry_projectkey (8): secret_key is not 32 "
	    "lowercase hex digits", "8");
	/* data is JSON and not null_ok: a pickle is refused */
	row = keyed(MT_KEY, "9", NULL);
	row.v[10] = "gAJ9cQAu";
	refuse(MT_KEY, &row, "sentry_projectkey (9): data is not JSON (a "
	    "pickled value?)", "9");
	row.v[10] = "{\"n\": 100000000000000000000}";
	refuse(MT_KEY, &row, "sentry_projectkey (9): data has an integer "
	    "beyond 64 bits, which relaycfg would store changed", "9");

	row = keyed(MT_PROJECT_OPTION, "5", "sentry:foo");
	row.v[OPTION_VALUE] = "gAJdcQBYAQAAACpxAWEu";
	refuse(MT_PROJECT_OPTION, &row, "sentry_projectoptions (5 sentry:foo): "
	    "value is not JSON (a pickled value?)", "5 sentry:foo");
	row.v[OPTION_VALUE] = "{'a': 1}";
	refuse(MT_PROJECT_OPTION, &row, "sentry_projectoptions (5 sentry:foo): "
	    "value is not JSON (a pickled value?)", "5 sentry:foo");
	row = keyed(MT_ORG_OPTION, "3", "sentry:bar");
	row.v[OPTION_VALUE] = "1 2";
	refuse(MT_ORG_OPTION, &row, "sentry_organizationoptions (3 "
	    "sentry:bar): value is not JSON (a pickled value?)",
	    "3 sentry:bar");
	row = keyed(MT_TEMPLATE_OPTION, "4", "sentry:baz");
	row.v[OPTION_VALUE] = "\"\xff\"";
	refuse(MT_TEMPLATE_OPTION, &row, "sentry_projecttemplateoption (4 "
	    "sentry:baz): value is not JSON (a pickled value?)",
	    "4 sentry:baz");

	/* 32 arrays around a number: too deep for json-c, said as such */
	{
		char deep[80];

		snprintf(deep, sizeof(deep), "%.32s1%.32s", OPEN64, CLOSE64);
		row.v[OPTION_VALUE] = deep;
		refuse(MT_TEMPLATE_OPTION, &row, "sentry_projecttemplateoption "
		    "(4 sentry:baz): value is JSON nested deeper than 32 "
		    "levels, which relaycfg does not store", "4 sentry:baz");
	}

	row = keyed(MT_PROJECT_OPTION, "5", "bad key");
	refuse(MT_PROJECT_OPTION, &row, "sentry_projectoptions (5 bad key): "
	    "key is not 1-64 of [A-Za-z0-9_.:-]", "5 bad key");
	row = keyed(MT_PROJECT_OPTION, "5", "");
	refuse(MT_PROJECT_OPTION, &row, "sentry_projectoptions (5 ): "
	    "key is not 1-64 of [A-Za-z0-9_.:-]", "5 ");
	row = keyed(MT_ORG_OPTION, "5", "k\x01");
	refuse(MT_ORG_OPTION, &row, "sentry_organizationoptions (5 k\\x01): "
	    "key is not 1-64 of [A-Za-z0-9_.:-]", "5 k\\x01");

	/* ids: integers, positive */
	row = keyed(MT_ORG, "abc", NULL);
	refuse(MT_ORG, &row, "sentry_organization (abc): id is not an integer",
	    "abc");
	row = keyed(MT_ORG, "12x", NULL);
	refuse(MT_ORG, &row, "sentry_organization (12x): id is not an "
	    "integer", "12x");
	row = keyed(MT_ORG, " 12", NULL);
	refuse(MT_ORG, &row, "sentry_organization ( 12): id is not an "
	    "integer", " 12");
	row = keyed(MT_ORG, "", NULL);
	refuse(MT_ORG, &row, "sentry_organization (): id is not an integer",
	    "");
	row = keyed(MT_ORG, "99999999999999999999", NULL);
	refuse(MT_ORG, &row, "sentry_organization (99999999999999999999): id "
	    "is not an integer", "99999999999999999999");
	row = keyed(MT_ORG, "0", NULL);
	refuse(MT_ORG, &row, "sentry_organization (0): id is not a positive "
	    "id", "0");
	row = keyed(MT_ORG, "-4", NULL);
	refuse(MT_ORG, &row, "sentry_organization (-4): id is not a positive "
	    "id", "-4");
	row = keyed(MT_ORG, NULL, NULL);
	refuse(MT_ORG, &row, "sentry_organization (NULL): id is NULL", "NULL");
	row = keyed(MT_PROJECT_OPTION, "x", "sentry:foo");
	refuse(MT_PROJECT_OPTION, &row, "sentry_projectoptions (x sentry:foo): "
	    "project_id is not an integer", "x sentry:foo");
	/* non-key columns are checked too: the key is still the key */
	row = keyed(MT_PROJECT, "10", NULL);
	row.v[MIRROR_PROJECT_ORG] = "one";
	refuse(MT_PROJECT, &row, "sentry_project (10): organization_id is not "
	    "an integer", "10");
	row = keyed(MT_PROJECT, "10", NULL);
	row.v[MIRROR_PROJECT_TEMPLATE] = "0";
	refuse(MT_PROJECT, &row, "sentry_project (10): template_id is not a "
	    "positive id", "10");
	row = keyed(MT_PROJECT, "10", NULL);
	row.v[PROJECT_NAME] = NULL;
	refuse(MT_PROJECT, &row, "sentry_project (10): name is NULL", "10");
	row = keyed(MT_PROJECT, "10", NULL);
	row.v[5] = "t";			/* public: a boolean */
	refuse(MT_PROJECT, &row, "sentry_project (10): public is not a "
	    "boolean", "10");
	row = keyed(MT_THRESHOLD, "10", NULL);
	row.v[THRESHOLD_VALUE] = "1.5";
	refuse(MT_THRESHOLD, &row, "sentry_projecttransactionthreshold (10): "
	    "threshold is not an integer", "10");

	/* relay ids: canonical lowercase UUIDs */
	row = keyed(MT_RELAY, "01234567-89AB-CDEF-0123-456789ABCDEF", NULL);
	refuse(MT_RELAY, &row, "sentry_relay (01234567-89AB-CDEF-0123-"
	    "456789ABCDEF): relay_id is not a lowercase UUID",
	    "01234567-89AB-CDEF-0123-456789ABCDEF");
	row = keyed(MT_RELAY, "0123456789abcdef0123456789abcdef", NULL);
	refuse(MT_RELAY, &row, "sentry_relay (0123456789abcdef0123456789abcdef"
	    "): relay_id is not a lowercase UUID",
	    "0123456789abcdef0123456789abcdef");
	row = keyed(MT_RELAY, "{" UUID1 "}", NULL);
	refuse(MT_RELAY, &row, "sentry_relay ({" UUID1 "}): relay_id is not a "
	    "lowercase UUID", "{" UUID1 "}");
	row = keyed(MT_RELAY, UUID1, NULL);
	row.v[RELAY_PUBLIC] = NULL;
	refuse(MT_RELAY, &row, "sentry_relay (" UUID1 "): public_key is NULL",
	    UUID1);

	/* The first bad column is the one named. */
	row = keyed(MT_KEY, "7", NULL);
	row.v[MIRROR_KEY_PROJECT] = "-1";
	row.v[MIRROR_KEY_PUBLIC] = "X";
	refuse(MT_KEY, &row, "sentry_projectkey (7): project_id is not a "
	    "positive id", "7");

	/* A short why buffer is truncated, not overrun; kept keys gather. */
	mirror_rows_init(&r, mirror_table(MT_KEY));
	row = keyed(MT_KEY, "7", NULL);
	row.v[MIRROR_KEY_PUBLIC] = NULL;
	memset(why, '#', sizeof(why));
	assert_int_equal(add_why(&r, true, &row, why, 8), 1);
	assert_string_equal(why, "sentry_");
	assert_int_equal(why[8], '#');
	for (int i = 0; i < 20; i++) {
		char id[16];

		snprintf(id, sizeof(id), "%d", 100 + i);
		row.v[0] = id;
		assert_int_equal(add(&r, true, &row), 1);
	}
	put(&r, true, "8", NULL);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.nkept, 21);
	assert_true(is_kept(&r, "7"));
	assert_true(is_kept(&r, "119"));
	assert_false(is_kept(&r, "8"));
	mirror_rows_free(&r);
}

/* SQL NULL in JSON columns, and relaycfg's own option rows. */
static void
test_add_null_and_skip(void **state)
{
	struct mirror_rows r;
	struct rowv row;
	char why[256];

	(void)state;
	/* An org option's value does not take NULL: it reads as JSON null. */
	mirror_rows_init(&r, mirror_table(MT_ORG_OPTION));
	row = keyed(MT_ORG_OPTION, "3", "sentry:x");
	row.v[OPTION_VALUE] = NULL;
	assert_int_equal(add_why(&r, true, &row, why, sizeof(why)), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.nkept, 0);
	assert_non_null(r.rows[0].v[OPTION_VALUE]);
	assert_string_equal(r.rows[0].v[OPTION_VALUE], "null");
	/* ... not when that column is absent from this Sentry */
	r.absent[OPTION_VALUE] = true;
	row.v[OPTION_KEY] = "sentry:y";
	assert_int_equal(add(&r, true, &row), 0);
	assert_null(r.rows[1].v[OPTION_VALUE]);
	/* ... nor on relaycfg's side */
	r.absent[OPTION_VALUE] = false;
	row.v[OPTION_KEY] = "sentry:z";
	assert_int_equal(add(&r, false, &row), 0);
	assert_null(r.rows[2].v[OPTION_VALUE]);
	mirror_rows_free(&r);
	/* The same for the template options and key data. */
	mirror_rows_init(&r, mirror_table(MT_TEMPLATE_OPTION));
	row = keyed(MT_TEMPLATE_OPTION, "3", "sentry:x");
	row.v[OPTION_VALUE] = NULL;
	assert_int_equal(add(&r, true, &row), 0);
	assert_string_equal(r.rows[0].v[OPTION_VALUE], "null");
	mirror_rows_free(&r);

	/* A project option's value takes NULL: it stays NULL. */
	mirror_rows_init(&r, mirror_table(MT_PROJECT_OPTION));
	row = keyed(MT_PROJECT_OPTION, "5", "sentry:x");
	row.v[OPTION_VALUE] = NULL;
	assert_int_equal(add(&r, true, &row), 0);
	assert_int_equal(r.n, 1);
	assert_null(r.rows[0].v[OPTION_VALUE]);
	/* JSON null as text is JSON null */
	row.v[OPTION_KEY] = "sentry:y";
	row.v[OPTION_VALUE] = " null ";
	assert_int_equal(add(&r, true, &row), 0);
	assert_string_equal(r.rows[1].v[OPTION_VALUE], "null");

	/* relaycfg's own revision rows: left out silently, either side. */
	row = keyed(MT_PROJECT_OPTION, "5", "sentry:relay-rev");
	strcpy(why, "stale");
	assert_int_equal(add_why(&r, true, &row, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	row.v[OPTION_KEY] = "sentry:relay-rev-lastchange";
	assert_int_equal(add(&r, true, &row), 0);
	assert_int_equal(add(&r, false, &row), 0);
	/* ... even with a value that would be refused */
	row.v[OPTION_VALUE] = "gAJdcQBYAQAAACpxAWEu";
	assert_int_equal(add(&r, true, &row), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.nkept, 0);
	/* near misses are ordinary options */
	row.v[OPTION_KEY] = "sentry:relay-rev2";
	row.v[OPTION_VALUE] = "1";
	assert_int_equal(add(&r, true, &row), 0);
	row.v[OPTION_KEY] = "sentry:relay";
	assert_int_equal(add(&r, true, &row), 0);
	assert_int_equal(r.n, 4);
	mirror_rows_free(&r);
	/* Only project options have own rows. */
	mirror_rows_init(&r, mirror_table(MT_ORG_OPTION));
	row = keyed(MT_ORG_OPTION, "5", "sentry:relay-rev");
	assert_int_equal(add(&r, true, &row), 0);
	assert_int_equal(r.n, 1);
	mirror_rows_free(&r);
}

/* relaycfg's side: values are normalised, never refused. */
static void
test_add_relaycfg_side(void **state)
{
	struct mirror_rows r;
	struct rowv row;
	char why[256];

	(void)state;
	mirror_rows_init(&r, mirror_table(MT_PROJECT_OPTION));
	row = keyed(MT_PROJECT_OPTION, "5", "sentry:a");
	row.v[OPTION_VALUE] = "{\"a\": 1, \"b\": [1, 2]}";
	assert_int_equal(add_why(&r, false, &row, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_string_equal(r.rows[0].v[OPTION_VALUE], "{\"a\":1,\"b\":[1,2]}");
	row.v[OPTION_KEY] = "sentry:b";
	row.v[OPTION_VALUE] = "gAJdcQBYAQAAACpxAWEu";
	assert_int_equal(add(&r, false, &row), 0);
	assert_string_equal(r.rows[1].v[OPTION_VALUE], "gAJdcQBYAQAAACpxAWEu");
	row.v[OPTION_KEY] = "sentry:c";
	row.v[OPTION_VALUE] = "{'a': 1}";
	assert_int_equal(add(&r, false, &row), 0);
	assert_string_equal(r.rows[2].v[OPTION_VALUE], "{'a': 1}");
	/* no checks: a key with a space, a non-integer id */
	row.v[OPTION_KEY] = "bad key";
	row.v[OPTION_VALUE] = "\"a/b\"";
	assert_int_equal(add(&r, false, &row), 0);
	assert_string_equal(r.rows[3].v[OPTION_VALUE], "\"a/b\"");
	row.v[0] = "x";
	assert_int_equal(add(&r, false, &row), 0);
	assert_int_equal(r.rows[4].k[0], 0);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.nkept, 0);
	mirror_rows_free(&r);

	mirror_rows_init(&r, mirror_table(MT_KEY));
	row = keyed(MT_KEY, "7", NULL);
	row.v[MIRROR_KEY_PUBLIC] = "0123456789ABCDEF0123456789ABCDEF";
	row.v[KEY_SECRET] = NULL;
	assert_int_equal(add(&r, false, &row), 0);
	assert_string_equal(r.rows[0].v[MIRROR_KEY_PUBLIC],
	    "0123456789ABCDEF0123456789ABCDEF");
	assert_null(r.rows[0].v[KEY_SECRET]);
	mirror_rows_free(&r);

	/* Sentry's and relaycfg's spellings of one value meet. */
	mirror_rows_init(&r, mirror_table(MT_ORG_OPTION));
	row = keyed(MT_ORG_OPTION, "1", "sentry:x");
	row.v[OPTION_VALUE] = "[ 1,\n 2 ]";
	assert_int_equal(add(&r, true, &row), 0);
	row.v[OPTION_KEY] = "sentry:y";
	row.v[OPTION_VALUE] = "[1,2]";
	assert_int_equal(add(&r, false, &row), 0);
	assert_string_equal(r.rows[0].v[OPTION_VALUE], r.rows[1].v[OPTION_VALUE]);
	mirror_rows_free(&r);
}

static void
assert_keys(const struct mirror_rows *r, const char *const *want, size_t n)
{
	assert_int_equal(r->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(r->rows[i].v[0], want[i]);
}

static void
test_sort(void **state)
{
	static const char *const ids[] = { "10", "9", "100", "2", "1", "11" };
	static const char *const sorted[] = { "1", "2", "9", "10", "11", "100" };
	struct mirror_rows r;

	(void)state;
	/* integers in numeric order, not as text */
	mirror_rows_init(&r, mirror_table(MT_ORG));
	assert_true(mirror_rows_sort(&r));		/* empty */
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		put(&r, true, ids[i], NULL);
	assert_true(mirror_rows_sort(&r));
	assert_keys(&r, sorted, 6);
	assert_int_equal(r.rows[3].k[0], 10);
	assert_true(mirror_row_cmp(r.t, &r.rows[2], &r.rows[3]) < 0);
	assert_true(mirror_row_cmp(r.t, &r.rows[3], &r.rows[2]) > 0);
	assert_int_equal(mirror_row_cmp(r.t, &r.rows[3], &r.rows[3]), 0);
	/* sorting again changes nothing */
	assert_true(mirror_rows_sort(&r));
	assert_keys(&r, sorted, 6);
	/* a duplicate */
	put(&r, true, "9", NULL);
	assert_false(mirror_rows_sort(&r));
	mirror_rows_free(&r);

	/* relaycfg's side may hold negatives and big ids */
	mirror_rows_init(&r, mirror_table(MT_ORG));
	put(&r, false, "9223372036854775807", NULL);
	put(&r, false, "-5", NULL);
	put(&r, false, "3", NULL);
	assert_true(mirror_rows_sort(&r));
	assert_keys(&r, (const char *const[]){ "-5", "3",
	    "9223372036854775807" }, 3);
	mirror_rows_free(&r);

	/* a single row is sorted */
	mirror_rows_init(&r, mirror_table(MT_ORG));
	put(&r, true, "3", NULL);
	assert_true(mirror_rows_sort(&r));
	mirror_rows_free(&r);

	/* two columns: project_id numerically, then the key as bytes */
	mirror_rows_init(&r, mirror_table(MT_PROJECT_OPTION));
	put(&r, true, "2", "sentry:b");
	put(&r, true, "10", "sentry:a");
	put(&r, true, "2", "sentry:a");
	put(&r, true, "1", "sentry:z");
	put(&r, true, "2", "sentry:B");
	assert_true(mirror_rows_sort(&r));
	assert_int_equal(r.n, 5);
	assert_int_equal(r.rows[0].k[0], 1);
	assert_string_equal(r.rows[0].v[1], "sentry:z");
	assert_int_equal(r.rows[1].k[0], 2);
	assert_string_equal(r.rows[1].v[1], "sentry:B");
	assert_int_equal(r.rows[2].k[0], 2);
	assert_string_equal(r.rows[2].v[1], "sentry:a");
	assert_int_equal(r.rows[3].k[0], 2);
	assert_string_equal(r.rows[3].v[1], "sentry:b");
	assert_int_equal(r.rows[4].k[0], 10);
	assert_string_equal(r.rows[4].v[1], "sentry:a");
	/* the same option key of another project is no duplicate; the same
	 * pair is */
	put(&r, true, "10", "sentry:b");
	assert_true(mirror_rows_sort(&r));
	put(&r, true, "2", "sentry:a");
	assert_false(mirror_rows_sort(&r));
	mirror_rows_free(&r);

	/* a text key (relay ids) sorts as bytes */
	mirror_rows_init(&r, mirror_table(MT_RELAY));
	put(&r, true, UUID2, NULL);
	put(&r, true, UUID1, NULL);
	assert_true(mirror_rows_sort(&r));
	assert_keys(&r, (const char *const[]){ UUID1, UUID2 }, 2);
	put(&r, true, UUID2, NULL);
	assert_false(mirror_rows_sort(&r));
	mirror_rows_free(&r);

	/* threshold overrides: project_id, then transaction */
	mirror_rows_init(&r, mirror_table(MT_THRESHOLD_OVERRIDE));
	put(&r, true, "20", "/b");
	put(&r, true, "3", "/z");
	put(&r, true, "20", "/a");
	assert_true(mirror_rows_sort(&r));
	assert_int_equal(r.rows[0].k[0], 3);
	assert_string_equal(r.rows[1].v[1], "/a");
	assert_string_equal(r.rows[2].v[1], "/b");
	mirror_rows_free(&r);
}

/* The change at position i of table t. */
static void
assert_change(const struct mirror_plan *p, enum mirror_table_id t, size_t i,
    enum mirror_op op, const char *k0, const char *k1)
{
	const struct mirror_change *c;
	const struct mirror_row *row;

	assert_true(i < p->t[t].n);
	c = &p->t[t].ch[i];
	assert_int_equal(c->op, op);
	switch (op) {
	case MO_INSERT:
		assert_non_null(c->want);
		assert_null(c->have);
		break;
	case MO_UPDATE:
		assert_non_null(c->want);
		assert_non_null(c->have);
		break;
	case MO_DELETE:
		assert_null(c->want);
		assert_non_null(c->have);
		break;
	}
	row = c->want != NULL ? c->want : c->have;
	assert_string_equal(row->v[0], k0);
	if (k1 != NULL)
		assert_string_equal(row->v[1], k1);
	if (c->want != NULL && c->have != NULL)
		assert_int_equal(mirror_row_cmp(mirror_table(t), c->want,
		    c->have), 0);
}

static void
assert_counts(const struct mirror_plan *p, enum mirror_table_id t, size_t ins,
    size_t upd, size_t del, size_t nhave)
{
	assert_int_equal(p->t[t].count[MO_INSERT], ins);
	assert_int_equal(p->t[t].count[MO_UPDATE], upd);
	assert_int_equal(p->t[t].count[MO_DELETE], del);
	assert_int_equal(p->t[t].n, ins + upd + del);
	assert_int_equal(p->t[t].nhave, nhave);
}

static void
test_plan_build(void **state)
{
	struct mirror_rows want[MT_COUNT], have[MT_COUNT];
	struct mirror_plan plan;
	struct rowv row;

	(void)state;
	side_init(want);
	side_init(have);

	/* Nothing on either side: nothing to do. */
	assert_int_equal(mirror_plan_build(&plan, want, have, true), 0);
	assert_true(mirror_plan_empty(&plan));
	assert_true(plan.keep_relays);
	for (int t = 0; t < MT_COUNT; t++)
		assert_counts(&plan, (enum mirror_table_id)t, 0, 0, 0, 0);
	mirror_plan_free(&plan);

	/* organizations: 1 new, 2 same, 3 renamed, 4 gone, 10 after 9 */
	put(&want[MT_ORG], true, "1", NULL);
	put(&want[MT_ORG], true, "2", NULL);
	row = keyed(MT_ORG, "3", NULL);
	row.v[ORG_NAME] = "new name";
	assert_int_equal(add(&want[MT_ORG], true, &row), 0);
	put(&want[MT_ORG], true, "10", NULL);
	put(&have[MT_ORG], false, "2", NULL);
	put(&have[MT_ORG], false, "3", NULL);
	put(&have[MT_ORG], false, "4", NULL);
	put(&have[MT_ORG], false, "9", NULL);
	put(&have[MT_ORG], false, "10", NULL);

	/* project options: a two-column key; a JSON value spelled
	 * differently on each side is no change */
	row = keyed(MT_PROJECT_OPTION, "1", "sentry:a");
	row.v[OPTION_VALUE] = "{\"x\": [1, 2]}";
	assert_int_equal(add(&want[MT_PROJECT_OPTION], true, &row), 0);
	row.v[OPTION_VALUE] = "{\"x\":[1,2]}";
	assert_int_equal(add(&have[MT_PROJECT_OPTION], false, &row), 0);
	row = keyed(MT_PROJECT_OPTION, "1", "sentry:b");
	row.v[OPTION_VALUE] = "2";
	assert_int_equal(add(&want[MT_PROJECT_OPTION], true, &row), 0);
	row.v[OPTION_VALUE] = "3";
	assert_int_equal(add(&have[MT_PROJECT_OPTION], false, &row), 0);
	/* NULL against "null" differs */
	row = keyed(MT_PROJECT_OPTION, "1", "sentry:c");
	row.v[OPTION_VALUE] = NULL;
	assert_int_equal(add(&want[MT_PROJECT_OPTION], true, &row), 0);
	row.v[OPTION_VALUE] = "null";
	assert_int_equal(add(&have[MT_PROJECT_OPTION], false, &row), 0);
	put(&want[MT_PROJECT_OPTION], true, "2", "sentry:b");
	put(&have[MT_PROJECT_OPTION], false, "2", "sentry:a");
	put(&have[MT_PROJECT_OPTION], false, "10", "sentry:a");
	/* relaycfg's own rows are on neither side */
	put(&have[MT_PROJECT_OPTION], false, "2", "sentry:relay-rev");

	/* projects: a column this Sentry lacks is not compared */
	want[MT_PROJECT].absent[PROJECT_COLOR] = true;
	row = keyed(MT_PROJECT, "20", NULL);
	row.v[PROJECT_COLOR] = NULL;
	assert_int_equal(add(&want[MT_PROJECT], true, &row), 0);
	row.v[PROJECT_COLOR] = "#ffffff";
	assert_int_equal(add(&have[MT_PROJECT], false, &row), 0);
	/* ... while another column still is */
	row = keyed(MT_PROJECT, "21", NULL);
	row.v[PROJECT_COLOR] = NULL;
	row.v[PROJECT_NAME] = "renamed";
	assert_int_equal(add(&want[MT_PROJECT], true, &row), 0);
	row.v[PROJECT_COLOR] = "#000000";
	row.v[PROJECT_NAME] = "old";
	assert_int_equal(add(&have[MT_PROJECT], false, &row), 0);
	/* a NULL-able column that both sides have: NULL vs text differs */
	row = keyed(MT_PROJECT, "22", NULL);
	row.v[10] = NULL;			/* platform */
	assert_int_equal(add(&want[MT_PROJECT], true, &row), 0);
	row.v[10] = "python";
	assert_int_equal(add(&have[MT_PROJECT], false, &row), 0);

	/* keys: 7 refused on Sentry's side stays, 8 is deleted */
	row = keyed(MT_KEY, "7", NULL);
	row.v[MIRROR_KEY_PUBLIC] = "NOT-HEX";
	assert_int_equal(add(&want[MT_KEY], true, &row), 1);
	put(&have[MT_KEY], false, "7", NULL);
	put(&have[MT_KEY], false, "8", NULL);
	put(&want[MT_KEY], true, "9", NULL);

	/* option refused for a pickle: relaycfg's row stays as it is */
	row = keyed(MT_ORG_OPTION, "1", "sentry:pickled");
	row.v[OPTION_VALUE] = "gAJdcQBYAQAAACpxAWEu";
	assert_int_equal(add(&want[MT_ORG_OPTION], true, &row), 1);
	row.v[OPTION_VALUE] = "\"old\"";
	assert_int_equal(add(&have[MT_ORG_OPTION], false, &row), 0);
	put(&have[MT_ORG_OPTION], false, "1", "sentry:other");

	/* relays only relaycfg knows (registrations), and one in both */
	put(&have[MT_RELAY], false, UUID1, NULL);
	put(&have[MT_RELAY], false, UUID2, NULL);
	put(&want[MT_RELAY], true, UUID2, NULL);

	side_sort(want);
	side_sort(have);
	assert_int_equal(have[MT_PROJECT_OPTION].n, 5);

	assert_int_equal(mirror_plan_build(&plan, want, have, true), 0);
	assert_false(mirror_plan_empty(&plan));

	assert_counts(&plan, MT_ORG, 1, 1, 2, 5);
	assert_change(&plan, MT_ORG, 0, MO_INSERT, "1", NULL);
	assert_change(&plan, MT_ORG, 1, MO_UPDATE, "3", NULL);
	assert_string_equal(plan.t[MT_ORG].ch[1].want->v[ORG_NAME], "new name");
	assert_string_equal(plan.t[MT_ORG].ch[1].have->v[ORG_NAME], "text");
	assert_ptr_equal(plan.t[MT_ORG].ch[1].want, &want[MT_ORG].rows[2]);
	assert_ptr_equal(plan.t[MT_ORG].ch[1].have, &have[MT_ORG].rows[1]);
	assert_change(&plan, MT_ORG, 2, MO_DELETE, "4", NULL);
	assert_change(&plan, MT_ORG, 3, MO_DELETE, "9", NULL);

	assert_counts(&plan, MT_PROJECT_OPTION, 1, 2, 2, 5);
	assert_change(&plan, MT_PROJECT_OPTION, 0, MO_UPDATE, "1", "sentry:b");
	assert_string_equal(plan.t[MT_PROJECT_OPTION].ch[0].want->
	    v[OPTION_VALUE], "2");
	assert_string_equal(plan.t[MT_PROJECT_OPTION].ch[0].have->
	    v[OPTION_VALUE], "3");
	assert_change(&plan, MT_PROJECT_OPTION, 1, MO_UPDATE, "1", "sentry:c");
	assert_null(plan.t[MT_PROJECT_OPTION].ch[1].want->v[OPTION_VALUE]);
	assert_change(&plan, MT_PROJECT_OPTION, 2, MO_DELETE, "2", "sentry:a");
	assert_change(&plan, MT_PROJECT_OPTION, 3, MO_INSERT, "2", "sentry:b");
	assert_change(&plan, MT_PROJECT_OPTION, 4, MO_DELETE, "10", "sentry:a");

	assert_counts(&plan, MT_PROJECT, 0, 2, 0, 3);
	assert_change(&plan, MT_PROJECT, 0, MO_UPDATE, "21", NULL);
	assert_change(&plan, MT_PROJECT, 1, MO_UPDATE, "22", NULL);

	assert_counts(&plan, MT_KEY, 1, 0, 1, 2);
	assert_change(&plan, MT_KEY, 0, MO_DELETE, "8", NULL);
	assert_change(&plan, MT_KEY, 1, MO_INSERT, "9", NULL);

	assert_counts(&plan, MT_ORG_OPTION, 0, 0, 1, 2);
	assert_change(&plan, MT_ORG_OPTION, 0, MO_DELETE, "1", "sentry:other");

	/* keep_relays: UUID1 stays */
	assert_counts(&plan, MT_RELAY, 0, 0, 0, 2);
	for (int t = 0; t < MT_COUNT; t++)
		if (t != MT_ORG && t != MT_PROJECT_OPTION && t != MT_PROJECT &&
		    t != MT_KEY && t != MT_ORG_OPTION)
			assert_counts(&plan, (enum mirror_table_id)t, 0, 0, 0,
			    have[t].n);
	mirror_plan_free(&plan);
	assert_true(mirror_plan_empty(&plan));

	/* without keep_relays it goes */
	assert_int_equal(mirror_plan_build(&plan, want, have, false), 0);
	assert_false(plan.keep_relays);
	assert_counts(&plan, MT_RELAY, 0, 0, 1, 2);
	assert_change(&plan, MT_RELAY, 0, MO_DELETE, UUID1, NULL);
	assert_counts(&plan, MT_ORG, 1, 1, 2, 5);
	mirror_plan_free(&plan);

	/* Sentry's relay changed: an update either way */
	mirror_rows_free(&want[MT_RELAY]);
	row = keyed(MT_RELAY, UUID2, NULL);
	row.v[RELAY_PUBLIC] = "other";
	assert_int_equal(add(&want[MT_RELAY], true, &row), 0);
	assert_int_equal(mirror_plan_build(&plan, want, have, true), 0);
	assert_counts(&plan, MT_RELAY, 0, 1, 0, 2);
	assert_change(&plan, MT_RELAY, 0, MO_UPDATE, UUID2, NULL);
	mirror_plan_free(&plan);

	/* The plan applied in thought: equal sides give nothing to do. */
	for (int t = 0; t < MT_COUNT; t++) {
		mirror_rows_free(&have[t]);
		for (size_t i = 0; i < want[t].n; i++)
			assert_int_equal(mirror_rows_add(&have[t],
			    (const char *const *)want[t].rows[i].v, false, NULL,
			    0), 0);
		assert_true(mirror_rows_sort(&have[t]));
	}
	/* ... a difference only in an absent column included */
	free(have[MT_PROJECT].rows[0].v[PROJECT_COLOR]);
	have[MT_PROJECT].rows[0].v[PROJECT_COLOR] = strdup("#123456");
	assert_non_null(have[MT_PROJECT].rows[0].v[PROJECT_COLOR]);
	assert_int_equal(mirror_plan_build(&plan, want, have, false), 0);
	assert_true(mirror_plan_empty(&plan));
	assert_counts(&plan, MT_ORG, 0, 0, 0, 4);
	mirror_plan_free(&plan);

	side_free(want);
	side_free(have);
}

/* have[t] holds ids 1..nhave, want[t] 1..nwant (one-column tables) or
 * (1, "sentry:<i>") for options. */
static void
fill(struct mirror_rows *want, struct mirror_rows *have, size_t nwant,
    size_t nhave)
{
	for (size_t i = 1; i <= nhave; i++) {
		char id[16], k[32];

		snprintf(id, sizeof(id), "%zu", i);
		snprintf(k, sizeof(k), "sentry:k%zu", i);
		if (have->t->nkey > 1)
			put(have, false, "1", k);
		else
			put(have, false, id, NULL);
		if (i <= nwant) {
			if (want->t->nkey > 1)
				put(want, true, "1", k);
			else
				put(want, true, id, NULL);
		}
	}
	assert_true(mirror_rows_sort(want));
	assert_true(mirror_rows_sort(have));
}

static int
guard(struct mirror_rows *want, struct mirror_rows *have, unsigned max,
    size_t *deleted, size_t *had)
{
	struct mirror_plan plan;
	int rc;

	assert_int_equal(mirror_plan_build(&plan, want, have, false), 0);
	rc = mirror_plan_guard(&plan, max, deleted, had);
	mirror_plan_free(&plan);
	return rc;
}

static void
test_plan_guard(void **state)
{
	struct mirror_rows want[MT_COUNT], have[MT_COUNT];
	size_t deleted = 99, had = 99;

	(void)state;
	/* Nothing anywhere: nothing trips, even at 0 %. */
	side_init(want);
	side_init(have);
	assert_int_equal(guard(want, have, 0, &deleted, &had), -1);
	assert_int_equal(deleted, 0);
	assert_int_equal(had, 0);

	/* 3 of 4 projects deleted: 75 % > 50 % */
	fill(&want[MT_PROJECT], &have[MT_PROJECT], 1, 4);
	assert_int_equal(guard(want, have, 50, &deleted, &had), MT_PROJECT);
	assert_int_equal(deleted, 3);
	assert_int_equal(had, 4);
	assert_int_equal(guard(want, have, 74, &deleted, &had), MT_PROJECT);
	assert_int_equal(guard(want, have, 75, &deleted, &had), -1);
	assert_int_equal(deleted, 0);
	assert_int_equal(had, 0);
	assert_int_equal(guard(want, have, 100, &deleted, &had), -1);
	side_free(want);
	side_free(have);

	/* 2 of 4: exactly 50 % does not exceed 50 % */
	side_init(want);
	side_init(have);
	fill(&want[MT_PROJECT], &have[MT_PROJECT], 2, 4);
	assert_int_equal(guard(want, have, 50, &deleted, &had), -1);
	assert_int_equal(guard(want, have, 49, &deleted, &had), MT_PROJECT);
	assert_int_equal(deleted, 2);
	assert_int_equal(had, 4);
	side_free(want);
	side_free(have);

	/* All of them gone, 100 % guarded by anything below 100. */
	side_init(want);
	side_init(have);
	fill(&want[MT_KEY], &have[MT_KEY], 0, 3);
	assert_int_equal(guard(want, have, 99, &deleted, &had), MT_KEY);
	assert_int_equal(deleted, 3);
	assert_int_equal(had, 3);
	/* the largest share wins: 3/3 keys over 3/4 projects */
	fill(&want[MT_PROJECT], &have[MT_PROJECT], 1, 4);
	assert_int_equal(guard(want, have, 10, &deleted, &had), MT_KEY);
	assert_int_equal(deleted, 3);
	assert_int_equal(had, 3);
	/* organizations are guarded too */
	fill(&want[MT_ORG], &have[MT_ORG], 0, 1);
	assert_int_equal(guard(want, have, 10, &deleted, &had), MT_ORG);
	assert_int_equal(deleted, 1);
	assert_int_equal(had, 1);
	side_free(want);
	side_free(have);

	/* Unguarded tables never trip: options, templates, thresholds,
	 * relays. */
	side_init(want);
	side_init(have);
	fill(&want[MT_PROJECT_OPTION], &have[MT_PROJECT_OPTION], 0, 4);
	fill(&want[MT_ORG_OPTION], &have[MT_ORG_OPTION], 0, 4);
	fill(&want[MT_TEMPLATE_OPTION], &have[MT_TEMPLATE_OPTION], 0, 4);
	fill(&want[MT_TEMPLATE], &have[MT_TEMPLATE], 0, 4);
	fill(&want[MT_THRESHOLD], &have[MT_THRESHOLD], 0, 4);
	fill(&want[MT_THRESHOLD_OVERRIDE], &have[MT_THRESHOLD_OVERRIDE], 0, 4);
	assert_int_equal(guard(want, have, 0, &deleted, &had), -1);
	assert_int_equal(deleted, 0);
	assert_int_equal(had, 0);
	/* An empty have table never trips (inserts only). */
	fill(&want[MT_PROJECT], &have[MT_PROJECT], 0, 0);
	put(&want[MT_PROJECT], true, "1", NULL);
	put(&want[MT_ORG], true, "1", NULL);
	assert_int_equal(guard(want, have, 0, &deleted, &had), -1);
	/* Updates and inserts are not deletions. */
	fill(&want[MT_KEY], &have[MT_KEY], 2, 2);
	put(&want[MT_KEY], true, "3", NULL);
	assert_int_equal(guard(want, have, 0, &deleted, &had), -1);
	side_free(want);
	side_free(have);
}

static void
test_plan_summary(void **state)
{
	struct mirror_rows want[MT_COUNT], have[MT_COUNT];
	struct mirror_plan plan;
	struct rowv row;
	char buf[256], small[12];

	(void)state;
	side_init(want);
	side_init(have);
	assert_int_equal(mirror_plan_build(&plan, want, have, true), 0);
	strcpy(buf, "stale");
	mirror_plan_summary(&plan, buf, sizeof(buf));
	assert_string_equal(buf, "no changes");
	mirror_plan_free(&plan);

	/* projects +1 ~0 -2 alone */
	put(&want[MT_PROJECT], true, "1", NULL);
	put(&have[MT_PROJECT], false, "2", NULL);
	put(&have[MT_PROJECT], false, "3", NULL);
	side_sort(want);
	side_sort(have);
	assert_int_equal(mirror_plan_build(&plan, want, have, true), 0);
	mirror_plan_summary(&plan, buf, sizeof(buf));
	assert_string_equal(buf, "projects +1 ~0 -2");
	mirror_plan_free(&plan);

	/* several tables, in table order, joined by ", " */
	row = keyed(MT_ORG, "5", NULL);
	row.v[ORG_NAME] = "renamed";
	assert_int_equal(add(&want[MT_ORG], true, &row), 0);
	put(&have[MT_ORG], false, "5", NULL);
	put(&have[MT_RELAY], false, UUID1, NULL);
	put(&want[MT_PROJECT_OPTION], true, "1", "sentry:a");
	put(&want[MT_PROJECT_OPTION], true, "1", "sentry:b");
	side_sort(want);
	side_sort(have);
	assert_int_equal(mirror_plan_build(&plan, want, have, false), 0);
	mirror_plan_summary(&plan, buf, sizeof(buf));
	assert_string_equal(buf, "organizations +0 ~1 -0, projects +1 ~0 -2, "
	    "project options +2 ~0 -0, relays +0 ~0 -1");
	/* a short buffer: cut, terminated, not overrun */
	memset(small, '#', sizeof(small));
	mirror_plan_summary(&plan, small, 10);
	assert_int_equal(strlen(small), 9);
	assert_memory_equal(small, "organizat", 9);
	assert_int_equal(small[10], '#');
	mirror_plan_free(&plan);
	/* kept relays: no relay change to show */
	assert_int_equal(mirror_plan_build(&plan, want, have, true), 0);
	mirror_plan_summary(&plan, buf, sizeof(buf));
	assert_string_equal(buf, "organizations +0 ~1 -0, projects +1 ~0 -2, "
	    "project options +2 ~0 -0");
	mirror_plan_free(&plan);

	side_free(want);
	side_free(have);
}

struct drops {
	char	msg[16][256];
	size_t	n;
};

static void
on_drop(const char *why, void *arg)
{
	struct drops *d = arg;

	assert_non_null(why);
	assert_true(d->n < 16);
	snprintf(d->msg[d->n++], sizeof(d->msg[0]), "%s", why);
}

static bool
dropped_msg(const struct drops *d, const char *s)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->msg[i], s) == 0)
			return true;
	return false;
}

static void
add_project(struct mirror_rows *r, const char *id, const char *org,
    const char *tpl)
{
	struct rowv row = keyed(MT_PROJECT, id, NULL);

	row.v[MIRROR_PROJECT_ORG] = org;
	row.v[MIRROR_PROJECT_TEMPLATE] = tpl;
	assert_int_equal(add(r, true, &row), 0);
}

static void
add_child(struct mirror_rows *r, const char *k0, const char *k1, size_t col,
    const char *parent)
{
	struct rowv row = keyed(r->t->id, k0, k1);

	row.v[col] = parent;
	assert_int_equal(add(r, true, &row), 0);
}

static void
test_drop_orphans(void **state)
{
	struct mirror_rows want[MT_COUNT], have[MT_COUNT];
	struct mirror_plan plan;
	struct drops d;

	(void)state;
	memset(&d, 0, sizeof(d));
	side_init(want);
	side_init(have);

	/* Nothing: nothing dropped. */
	assert_int_equal(mirror_drop_orphans(want, on_drop, &d), 0);
	assert_int_equal(d.n, 0);

	put(&want[MT_ORG], true, "1", NULL);
	put(&want[MT_ORG], true, "3", NULL);
	add_child(&want[MT_TEMPLATE], "20", NULL, MIRROR_TEMPLATE_ORG, "1");
	add_child(&want[MT_TEMPLATE], "21", NULL, MIRROR_TEMPLATE_ORG, "2");
	add_project(&want[MT_PROJECT], "10", "1", NULL);	/* no template */
	add_project(&want[MT_PROJECT], "11", "2", NULL);	/* org missing */
	add_project(&want[MT_PROJECT], "12", "1", "20");
	add_project(&want[MT_PROJECT], "13", "1", "21");	/* template dropped */
	add_project(&want[MT_PROJECT], "14", "3", "99");	/* template gone */
	add_child(&want[MT_KEY], "100", NULL, MIRROR_KEY_PROJECT, "10");
	add_child(&want[MT_KEY], "101", NULL, MIRROR_KEY_PROJECT, "11");
	add_child(&want[MT_KEY], "102", NULL, MIRROR_KEY_PROJECT, "13");
	add_child(&want[MT_KEY], "103", NULL, MIRROR_KEY_PROJECT, "12");
	put(&want[MT_PROJECT_OPTION], true, "11", "sentry:a");
	put(&want[MT_PROJECT_OPTION], true, "12", "sentry:a");
	put(&want[MT_ORG_OPTION], true, "2", "sentry:a");
	put(&want[MT_ORG_OPTION], true, "3", "sentry:a");
	put(&want[MT_TEMPLATE_OPTION], true, "21", "sentry:a");
	put(&want[MT_TEMPLATE_OPTION], true, "20", "sentry:a");
	/* thresholds: 10 stays; 99's project was deleted; 12's org is not
	 * the project's but is missing */
	add_child(&want[MT_THRESHOLD], "10", NULL, THRESHOLD_ORG, "1");
	add_child(&want[MT_THRESHOLD], "99", NULL, THRESHOLD_ORG, "1");
	add_child(&want[MT_THRESHOLD], "12", NULL, THRESHOLD_ORG, "7");
	add_child(&want[MT_THRESHOLD_OVERRIDE], "10", "/a", 2, "1");
	add_child(&want[MT_THRESHOLD_OVERRIDE], "98", "/a", 2, "1");
	put(&want[MT_RELAY], true, UUID1, NULL);
	side_sort(want);

	assert_int_equal(mirror_drop_orphans(want, on_drop, &d), 0);

	assert_int_equal(want[MT_ORG].n, 2);
	assert_int_equal(want[MT_ORG].nkept, 0);
	assert_keys(&want[MT_TEMPLATE], (const char *const[]){ "20" }, 1);
	assert_true(is_kept(&want[MT_TEMPLATE], "21"));
	/* a missing template is a NULL template, as ON DELETE SET NULL */
	assert_keys(&want[MT_PROJECT], (const char *const[]){ "10", "12", "13",
	    "14" }, 4);
	assert_null(want[MT_PROJECT].rows[2].v[MIRROR_PROJECT_TEMPLATE]);
	assert_null(want[MT_PROJECT].rows[3].v[MIRROR_PROJECT_TEMPLATE]);
	assert_string_equal(want[MT_PROJECT].rows[1].v[MIRROR_PROJECT_TEMPLATE],
	    "20");
	assert_int_equal(want[MT_PROJECT].nkept, 1);
	assert_true(is_kept(&want[MT_PROJECT], "11"));
	/* the cascade: keys of dropped projects go too */
	assert_keys(&want[MT_KEY], (const char *const[]){ "100", "102", "103" },
	    3);
	assert_int_equal(want[MT_KEY].nkept, 1);
	assert_true(is_kept(&want[MT_KEY], "101"));
	assert_int_equal(want[MT_PROJECT_OPTION].n, 1);
	assert_string_equal(want[MT_PROJECT_OPTION].rows[0].v[0], "12");
	assert_true(is_kept(&want[MT_PROJECT_OPTION], "11 sentry:a"));
	assert_keys(&want[MT_ORG_OPTION], (const char *const[]){ "3" }, 1);
	assert_true(is_kept(&want[MT_ORG_OPTION], "2 sentry:a"));
	assert_keys(&want[MT_TEMPLATE_OPTION], (const char *const[]){ "20" },
	    1);
	assert_true(is_kept(&want[MT_TEMPLATE_OPTION], "21 sentry:a"));
	assert_keys(&want[MT_THRESHOLD], (const char *const[]){ "10" }, 1);
	assert_int_equal(want[MT_THRESHOLD].nkept, 2);
	assert_true(is_kept(&want[MT_THRESHOLD], "99"));
	assert_true(is_kept(&want[MT_THRESHOLD], "12"));
	assert_int_equal(want[MT_THRESHOLD_OVERRIDE].n, 1);
	assert_string_equal(want[MT_THRESHOLD_OVERRIDE].rows[0].v[0], "10");
	assert_true(is_kept(&want[MT_THRESHOLD_OVERRIDE], "98 /a"));
	assert_int_equal(want[MT_RELAY].n, 1);

	/* every drop was reported, once */
	assert_int_equal(d.n, 11);
	assert_true(dropped_msg(&d, "sentry_projecttransactionthreshold (99): "
	    "project_id 99 is not a row relaycfg takes from sentry_project"));
	assert_true(dropped_msg(&d, "sentry_projecttransactionthreshold (12): "
	    "organization_id 7 is not a row relaycfg takes from "
	    "sentry_organization"));
	assert_true(dropped_msg(&d, "sentry_project (11): organization_id 2 is "
	    "not a row relaycfg takes from sentry_organization"));
	assert_true(dropped_msg(&d, "sentry_project (13): template_id 21 is not "
	    "a row of sentry_projecttemplate: taken as NULL"));
	assert_true(dropped_msg(&d, "sentry_project (14): template_id 99 is not "
	    "a row of sentry_projecttemplate: taken as NULL"));
	assert_true(dropped_msg(&d, "sentry_projectkey (101): project_id 11 is "
	    "not a row relaycfg takes from sentry_project"));
	assert_true(dropped_msg(&d, "sentry_projectoptions (11 sentry:a): "
	    "project_id 11 is not a row relaycfg takes from sentry_project"));
	assert_true(dropped_msg(&d, "sentry_projecttransactionthresholdoverride "
	    "(98 /a): project_id 98 is not a row relaycfg takes from "
	    "sentry_project"));

	/* Running it again finds nothing more. */
	memset(&d, 0, sizeof(d));
	assert_int_equal(mirror_drop_orphans(want, on_drop, &d), 0);
	assert_int_equal(d.n, 0);

	/* The dropped rows' keys protect relaycfg's rows in the plan. */
	put(&have[MT_THRESHOLD], false, "99", NULL);
	put(&have[MT_THRESHOLD], false, "50", NULL);
	put(&have[MT_KEY], false, "101", NULL);
	side_sort(have);
	assert_int_equal(mirror_plan_build(&plan, want, have, true), 0);
	assert_counts(&plan, MT_THRESHOLD, 1, 0, 1, 2);
	assert_change(&plan, MT_THRESHOLD, 0, MO_INSERT, "10", NULL);
	assert_change(&plan, MT_THRESHOLD, 1, MO_DELETE, "50", NULL);
	assert_counts(&plan, MT_KEY, 3, 0, 0, 1);
	mirror_plan_free(&plan);

	side_free(want);
	side_free(have);

	/* A column this Sentry lacks is no reference to check. */
	memset(&d, 0, sizeof(d));
	side_init(want);
	want[MT_THRESHOLD].absent[THRESHOLD_ORG] = true;
	{
		/* added unchecked: see test_absent_not_null */
		struct rowv row = keyed(MT_THRESHOLD, "5", NULL);

		row.v[THRESHOLD_ORG] = NULL;
		assert_int_equal(add(&want[MT_THRESHOLD], false, &row), 0);
	}
	add_project(&want[MT_PROJECT], "5", "1", NULL);
	put(&want[MT_ORG], true, "1", NULL);
	side_sort(want);
	assert_int_equal(mirror_drop_orphans(want, on_drop, &d), 0);
	for (size_t i = 0; i < d.n; i++)
		print_message("# dropped: %s\n", d.msg[i]);
	assert_int_equal(d.n, 0);
	assert_int_equal(want[MT_THRESHOLD].n, 1);
	side_free(want);
}

/*
 * A column this Sentry lacks reads as NULL (ctl_sentry_pg.c selects
 * NULL::text for it), "is not compared, and is never written" (mirror.h):
 * a NOT NULL column such as sentry_projectkey.use_case, which older
 * Sentry versions do not have, must not refuse every row.
 */
static void
test_absent_not_null(void **state)
{
	struct mirror_rows r;
	struct rowv row;
	char why[256];
	int rc;

	(void)state;
	mirror_rows_init(&r, mirror_table(MT_KEY));
	r.absent[11] = true;			/* use_case */
	row = keyed(MT_KEY, "7", NULL);
	row.v[11] = NULL;
	rc = add_why(&r, true, &row, why, sizeof(why));
	assert_string_equal(why, "");
	assert_int_equal(rc, 0);
	assert_int_equal(r.n, 1);
	assert_null(r.rows[0].v[11]);
	assert_int_equal(r.nkept, 0);
	mirror_rows_free(&r);
}

/*
 * A Sentry without project templates: relaycfg's templates, their options
 * and projects' template_id are planned away; a Sentry with them is
 * untouched.
 */
static void
test_no_templates(void **state)
{
	struct mirror_rows want[MT_COUNT], have[MT_COUNT];
	struct mirror_plan plan;

	(void)state;
	side_init(want);
	side_init(have);
	/* Sentry has templates (none): nothing changes. */
	add_project(&want[MT_PROJECT], "10", "1", "20");
	mirror_no_templates(want);
	assert_string_equal(want[MT_PROJECT].rows[0].v[MIRROR_PROJECT_TEMPLATE],
	    "20");
	assert_false(want[MT_TEMPLATE].unmirrored);
	side_free(want);

	/* Sentry has none: the tables as read, the column still there. */
	side_init(want);
	want[MT_TEMPLATE].unmirrored = true;
	want[MT_TEMPLATE].absent[0] = true;
	want[MT_TEMPLATE_OPTION].unmirrored = true;
	add_project(&want[MT_PROJECT], "10", "1", "20");
	add_project(&want[MT_PROJECT], "11", "1", NULL);
	want[MT_PROJECT].absent[MIRROR_PROJECT_TEMPLATE] = true;
	put(&have[MT_TEMPLATE], false, "20", NULL);
	put(&have[MT_TEMPLATE_OPTION], false, "20", "sentry:a");
	add_project(&have[MT_PROJECT], "10", "1", "20");
	add_project(&have[MT_PROJECT], "11", "1", NULL);
	mirror_no_templates(want);
	assert_false(want[MT_TEMPLATE].unmirrored);
	assert_false(want[MT_TEMPLATE].absent[0]);
	assert_false(want[MT_TEMPLATE_OPTION].unmirrored);
	assert_false(want[MT_PROJECT].absent[MIRROR_PROJECT_TEMPLATE]);
	assert_null(want[MT_PROJECT].rows[0].v[MIRROR_PROJECT_TEMPLATE]);
	side_sort(want);
	side_sort(have);
	assert_int_equal(mirror_plan_build(&plan, want, have, true), 0);
	assert_counts(&plan, MT_TEMPLATE, 0, 0, 1, 1);
	assert_counts(&plan, MT_TEMPLATE_OPTION, 0, 0, 1, 1);
	assert_counts(&plan, MT_PROJECT, 0, 1, 0, 2);
	assert_int_equal(plan.t[MT_PROJECT].ch[0].have->k[0], 10);
	mirror_plan_free(&plan);
	side_free(want);
	side_free(have);
}

/* mirror_key_exact: byte for byte, so keys that display alike differ. */
static void
test_key_exact(void **state)
{
	const struct mirror_table *t = mirror_table(MT_THRESHOLD_OVERRIDE);
	const char *a[] = { "7", "/caf\xc3\xa9" }, *b[] = { "7", "/caf\xc3\xb1" };
	const char *n[] = { "7", NULL };
	char sa[64], sb[64], *ka, *kb, *kn;

	(void)state;
	/* Shown as they are, they look different too. */
	assert_string_not_equal(mirror_key_text(t, a, sa, sizeof(sa)),
	    mirror_key_text(t, b, sb, sizeof(sb)));
	ka = mirror_key_exact(t, a);
	kb = mirror_key_exact(t, b);
	kn = mirror_key_exact(t, n);
	assert_string_equal(ka, "7\x1f/caf\xc3\xa9");
	assert_string_not_equal(ka, kb);
	assert_string_equal(kn, "7\x1f");
	free(ka);
	free(kb);
	free(kn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec),
		cmocka_unit_test(test_json_canonical),
		cmocka_unit_test(test_key_text),
		cmocka_unit_test(test_key_exact),
		cmocka_unit_test(test_add_valid),
		cmocka_unit_test(test_add_refused),
		cmocka_unit_test(test_add_null_and_skip),
		cmocka_unit_test(test_add_relaycfg_side),
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_plan_build),
		cmocka_unit_test(test_plan_guard),
		cmocka_unit_test(test_plan_summary),
		cmocka_unit_test(test_drop_orphans),
		cmocka_unit_test(test_absent_not_null),
		cmocka_unit_test(test_no_templates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
