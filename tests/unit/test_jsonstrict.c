/*
 * test_jsonstrict.c - the strict RFC 8259 + UTF-8 scanner, with a table
 * of texts it must take and texts it must refuse (each refused one names
 * the rule it breaks), and the request-body parser built on it.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "auth.h"
#include "jsonstrict.h"

struct row {
	const char	*text;
	size_t		 len;	/* 0: strlen(text) */
};

#define T(s)	{ s, 0 }
#define B(s)	{ s, sizeof(s) - 1 }	/* holds a NUL byte */

static const struct row valid[] = {
	T("{}"), T("[]"), T(" \t\r\n{ } \r\n"), T("0"), T("-0"), T("1.5e+10"),
	T("-12.25E-3"), T("true"), T("false"), T("null"), T("\"\""),
	T("{\"publicKeys\":[],\"global\":true,\"noCache\":false}"),
	T("{\"a\":{\"b\":[1,2,{\"c\":null}]}}"),
	T("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\""),
	T("\"\xc3\xa9\""),		/* U+00E9 */
	T("\"\xe0\xa0\x80\""),		/* U+0800, the smallest 3-byte */
	T("\"\xed\x9f\xbf\""),		/* U+D7FF, below surrogates */
	T("\"\xee\x80\x80\""),		/* U+E000, just above */
	T("\"\xef\xbf\xbf\""),		/* U+FFFF */
	T("\"\xf0\x90\x80\x80\""),	/* U+10000 */
	T("\"\xf4\x8f\xbf\xbf\""),	/* U+10FFFF, the largest */
	T("\"\x7f\""),			/* DEL is no control for JSON */
	T("[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]"),	/* 16 deep */
	T("1.7976931348623157e308"), T("-1e308"),	/* the largest doubles */
	T("1e-999"), T("0.0e999"), T("0e999999"),	/* 0, or 0 at worst */
};

static const struct row invalid[] = {
	T(""), T("   "), T("{"), T("}"), T("[1,]"), T("{\"a\":1,}"),
	T("{'publicKeys':[]}"),			/* single quotes */
	T("{\"a\":'b'}"),
	T("{\"k\":\"\xc0\x80\"}"),		/* overlong NUL */
	T("\"\xc1\xbf\""),			/* overlong 2-byte */
	T("\"\xe0\x9f\xbf\""),			/* overlong 3-byte */
	T("\"\xf0\x8f\xbf\xbf\""),		/* overlong 4-byte */
	T("\"\xed\xa0\x80\""),			/* U+D800 in UTF-8 */
	T("\"\xed\xbf\xbf\""),			/* U+DFFF in UTF-8 */
	T("\"\xf4\x90\x80\x80\""),		/* U+110000 */
	T("\"\xf5\x80\x80\x80\""), T("\"\xff\""), T("\"\x80\""),
	T("\"\xc3\""), T("\"\xe2\x82\""),	/* truncated sequences */
	T("\"\xc3\x28\""),			/* bad continuation */
	T("\xef\xbb\xbf{}"),			/* a BOM */
	T("{\"k\":\"a\nb\"}"),		/* raw newline in a string */
	T("\"\t\""), T("\"\x1f\""),
	B("{\"k\":\"a\0b\"}"), B("{}\0"),	/* raw NUL */
	T("\"\\u0000\""),			/* NUL, escaped */
	T("\"\\x41\""), T("\"\\a\""), T("\"\\u12\""), T("\"\\u12G4\""),
	T("\"\\uD800\""), T("\"\\uDC00\""), T("\"\\uD800\\u0041\""),
	T("\"\\uD800x\""),			/* unpaired surrogates */
	T("01"), T("-"), T("1."), T(".5"), T("1e"), T("+1"), T("0x10"),
	T("1.5.2"), T("NaN"), T("Infinity"), T("-Infinity"),
	T("tru"), T("True"), T("nul"), T("nulll"),
	T("{} {}"), T("{}x"), T("[1] 2"),	/* trailing bytes */
	T("{\"a\" 1}"), T("{\"a\":}"), T("{1:2}"), T("{\"a\":1 \"b\":2}"),
	T("[1 2]"), T("/* c */ {}"), T("{}//"), T("\f{}"),
	T("\"abc"), T("[\"a\""),
	T("[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]"),	/* 17 deep */
	T("1e999"), T("-1e309"), T("1.8e308"), T("{\"a\":[1e400]}"),
	T("17976931348623159e292"),		/* beyond a double */
};

static size_t
rowlen(const struct row *r)
{
	return r->len != 0 ? r->len : strlen(r->text);
}

static void
test_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		const char *why = NULL;

		if (jsonstrict_check(valid[i].text, rowlen(&valid[i]), 16,
		    &why) != 0)
			fail_msg("valid[%zu] refused: %s", i, why);
	}
}

static void
test_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		const char *why = NULL;

		if (jsonstrict_check(invalid[i].text, rowlen(&invalid[i]), 16,
		    &why) != -1)
			fail_msg("invalid[%zu] accepted", i);
		if (why == NULL || why[0] == '\0')
			fail_msg("invalid[%zu] has no reason", i);
	}
}

/*
 * Numbers too long for strtod's buffer are judged by the power of ten of
 * their first digit: 1 and 1100 zeros is too large, 0.(1100 zeros)1 and
 * 1100 zeros then e-800 are fine, 0.(1100 zeros)1e1500 is too large.
 */
static void
test_long_numbers(void **state)
{
	char buf[2400];
	size_t n;

	(void)state;
	/* Integers around the largest double: 308 nines fit, 2 and 308
	 * zeros does not. */
	memset(buf, '9', 308);
	assert_int_equal(jsonstrict_check(buf, 308, 16, NULL), 0);
	buf[0] = '2';
	memset(buf + 1, '0', 308);
	assert_int_equal(jsonstrict_check(buf, 309, 16, NULL), -1);
	buf[0] = '1';
	memset(buf + 1, '0', 1100);
	assert_int_equal(jsonstrict_check(buf, 1101, 16, NULL), -1);
	memcpy(buf + 1101, "e-800", 5);
	assert_int_equal(jsonstrict_check(buf, 1106, 16, NULL), 0);
	memcpy(buf, "0.", 2);
	memset(buf + 2, '0', 1100);
	buf[1102] = '1';
	assert_int_equal(jsonstrict_check(buf, 1103, 16, NULL), 0);
	n = 1103 + (size_t)snprintf(buf + 1103, 16, "e1500");
	assert_int_equal(jsonstrict_check(buf, n, 16, NULL), -1);
	n = 1103 + (size_t)snprintf(buf + 1103, 16, "e1400");
	assert_int_equal(jsonstrict_check(buf, n, 16, NULL), 0);
}

/* Every prefix of a valid text is refused except where one is whole. */
/* Integers json-c would saturate; the bounds, doubles and strings not. */
static void
test_wide_integer(void **state)
{
	static const char *wide[] = {
		"18446744073709551616", "-9223372036854775809",
		"[1,100000000000000000000]", "{\"a\":{\"b\":-99999999999999999999}}",
	};
	static const char *kept[] = {
		"18446744073709551615", "-9223372036854775808", "1e20",
		"100000000000000000000.0", "1E+30", "\"100000000000000000000\"",
		"{\"100000000000000000000\":1}", "[\"\\\"\",1]", "-0",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
		assert_true(jsonstrict_wide_integer(wide[i], strlen(wide[i])));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		assert_false(jsonstrict_wide_integer(kept[i], strlen(kept[i])));
}

/* json-c counts the value the deepest array or object holds as a level. */
static void
test_jsonc_depth(void **state)
{
	static const struct {
		const char	*text;
		bool		 deep;	/* at depth 2 */
	} cases[] = {
		{ "[[]]", false }, { "[{}]", false }, { "{\"a\":[]}", false },
		{ "[[1]]", true }, { "[{\"a\":1}]", true }, { "[[\"]]\"]]", true },
		{ "[1, [], \"[[[\"]", false }, { "{\"a\":{\"b\":1}}", true },
		{ "1", false }, { "[1]", false }, { "[\"\\\"[[\"]", false },
	};
	json_tokener *tok;
	json_object *o;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text);

		assert_int_equal(jsonstrict_check(cases[i].text, len, 2, NULL),
		    0);
		assert_int_equal(jsonstrict_jsonc_too_deep(cases[i].text, len,
		    2), cases[i].deep);
		/* and it is what json-c itself says */
		assert_non_null(tok = json_tokener_new_ex(2));
		o = json_tokener_parse_ex(tok, cases[i].text, (int)len + 1);
		assert_int_equal(json_tokener_get_error(tok) ==
		    json_tokener_error_depth, cases[i].deep);
		json_object_put(o);
		json_tokener_free(tok);
	}
}

static void
test_prefixes(void **state)
{
	static const char text[] =
	    "{\"publicKeys\":[\"a\\u00e9\xc3\xa9\"],\"n\":-1.5e3,\"t\":true}";

	(void)state;
	for (size_t n = 0; n < sizeof(text) - 1; n++)
		assert_int_equal(jsonstrict_check(text, n, 16, NULL), -1);
	assert_int_equal(jsonstrict_check(text, sizeof(text) - 1, 16, NULL),
	    0);
	/* Not NUL-terminated: the scanner never reads past len. */
	{
		char *copy = malloc(sizeof(text) - 1);

		assert_non_null(copy);
		memcpy(copy, text, sizeof(text) - 1);
		assert_int_equal(jsonstrict_check(copy, sizeof(text) - 1, 16,
		    NULL), 0);
		assert_int_equal(jsonstrict_check(copy, 5, 16, NULL), -1);
		free(copy);
	}
}

static void
test_depth(void **state)
{
	char deep[2 * JSONSTRICT_DEPTH_MAX + 3];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < JSONSTRICT_DEPTH_MAX; i++)
		deep[n++] = '[';
	for (int i = 0; i < JSONSTRICT_DEPTH_MAX; i++)
		deep[n++] = ']';
	assert_int_equal(jsonstrict_check(deep, n, JSONSTRICT_DEPTH_MAX,
	    NULL), 0);
	assert_int_equal(jsonstrict_check(deep, n, JSONSTRICT_DEPTH_MAX - 1,
	    NULL), -1);
	/* A larger limit is clamped, never a stack overrun. */
	memmove(deep + 1, deep, n);
	deep[0] = '[';
	deep[n + 1] = ']';
	assert_int_equal(jsonstrict_check(deep, n + 2, 1000, NULL), -1);
}

/* auth_parse_object: the scanner first, then json-c, then "an object". */
static void
test_parse_object(void **state)
{
	const char *why;
	json_object *o;

	(void)state;
	o = auth_parse_object("{\"publicKeys\":[\"k\"]} ", 21, &why);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	json_object_put(o);
	/* The three bodies of issue 11, item 6. */
	why = NULL;
	assert_null(auth_parse_object("{'publicKeys':[]}", 17, &why));
	assert_string_equal(why, "single-quoted string");
	assert_null(auth_parse_object("{\"publicKeys\":[\"\xc0\x80\"]}", 21,
	    &why));
	assert_string_equal(why, "invalid UTF-8");
	assert_null(auth_parse_object("{\"publicKeys\":[\"a\nb\"]}", 22,
	    &why));
	assert_string_equal(why, "control character in string");
	assert_null(auth_parse_object("[1,2,3]", 7, &why));
	assert_string_equal(why, "not a JSON object");
	assert_null(auth_parse_object(" 42", 3, &why));
	assert_string_equal(why, "not a JSON object");
	assert_null(auth_parse_object("", 0, &why));
	assert_null(auth_parse_object("{\"a\":1}", 6, NULL));
}

/*
 * {"a":[item,item,...]} with n items: two values and two arrays and
 * objects of its own.  Caller frees.
 */
static char *
body_of(const char *item, size_t n, size_t *len)
{
	size_t ilen = strlen(item), o = 0;
	char *b = malloc(n * (ilen + 1) + 16);

	assert_non_null(b);
	memcpy(b, "{\"a\":[", 6);
	o = 6;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			b[o++] = ',';
		memcpy(b + o, item, ilen);
		o += ilen;
	}
	memcpy(b + o, "]}", 2);
	*len = o + 2;
	return b;
}

/*
 * auth_parse_object's limits: 25,000 values, 1,000 arrays and objects (a
 * 1 MiB body of {} made json-c take 260 MB).  Each is taken at its limit
 * and refused one beyond, with the reason.
 */
static void
test_parse_object_limits(void **state)
{
	static const struct {
		const char	*item;
		size_t		 most;	/* items in a body at the limit */
		const char	*why;
	} rows[] = {
		{ "0", 25000 - 2, "too many values" },
		{ "\"k\"", 25000 - 2, "too many values" },
		{ "{}", 1000 - 2, "too many arrays and objects" },
		{ "[]", 1000 - 2, "too many arrays and objects" },
		{ "{\"b\":[]}", (1000 - 2) / 2, "too many arrays and objects" },
	};
	const char *why;
	json_object *o;
	char *b;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		b = body_of(rows[i].item, rows[i].most, &len);
		why = NULL;
		o = auth_parse_object(b, len, &why);
		if (o == NULL)
			fail_msg("%zu x %s refused: %s", rows[i].most,
			    rows[i].item, why);
		json_object_put(o);
		free(b);
		b = body_of(rows[i].item, rows[i].most + 1, &len);
		why = NULL;
		assert_null(auth_parse_object(b, len, &why));
		assert_non_null(why);
		assert_string_equal(why, rows[i].why);
		free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_long_numbers),
		cmocka_unit_test(test_wide_integer),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_jsonc_depth),
		cmocka_unit_test(test_parse_object),
		cmocka_unit_test(test_parse_object_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
