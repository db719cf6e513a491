/*
 * jsonstrict.c - a validating scanner for RFC 8259 JSON with valid UTF-8.
 *
 * It builds nothing: one pass over the bytes with an explicit stack of
 * open containers, so hostile input costs O(len) time and no memory.
 */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonstrict.h"

const char jsonstrict_too_deep[] = "nesting too deep";

struct scan {
	const unsigned char	*s;
	size_t			 len;
	size_t			 i;
	const char		*why;
};

static bool
fail(struct scan *sc, const char *why)
{
	if (sc->why == NULL)
		sc->why = why;
	return false;
}

static void
skip_ws(struct scan *sc)
{
	while (sc->i < sc->len && (sc->s[sc->i] == ' ' ||
	    sc->s[sc->i] == '\t' || sc->s[sc->i] == '\n' ||
	    sc->s[sc->i] == '\r'))
		sc->i++;
}

/*
 * One UTF-8 sequence of two or more bytes at sc->i (the lead byte is
 * >= 0x80), by the table of RFC 3629 section 4: this refuses overlong
 * forms, surrogates and code points above U+10FFFF.
 */
static bool
scan_utf8(struct scan *sc)
{
	const unsigned char *p = sc->s + sc->i;
	size_t left = sc->len - sc->i, need;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 1;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 2;
		if (p[0] == 0xe0)
			lo = 0xa0;	/* overlong below U+0800 */
		else if (p[0] == 0xed)
			hi = 0x9f;	/* U+D800..U+DFFF */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 3;
		if (p[0] == 0xf0)
			lo = 0x90;	/* overlong below U+10000 */
		else if (p[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return fail(sc, "invalid UTF-8");
	if (left < need + 1 || p[1] < lo || p[1] > hi)
		return fail(sc, "invalid UTF-8");
	for (size_t k = 2; k <= need; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return fail(sc, "invalid UTF-8");
	sc->i += need + 1;
	return true;
}

/* Four hex digits at sc->i into *v. */
static bool
scan_hex4(struct scan *sc, unsigned *v)
{
	*v = 0;
	if (sc->len - sc->i < 4)
		return fail(sc, "truncated escape");
	for (int k = 0; k < 4; k++) {
		unsigned char c = sc->s[sc->i++];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return fail(sc, "invalid \\u escape");
	}
	return true;
}

/* The escape after a backslash; sc->i is on the byte after it. */
static bool
scan_escape(struct scan *sc)
{
	unsigned u, lo;

	if (sc->i >= sc->len)
		return fail(sc, "unterminated string");
	if (strchr("\"\\/bfnrt", sc->s[sc->i]) != NULL && sc->s[sc->i] != 0) {
		sc->i++;
		return true;
	}
	if (sc->s[sc->i] != 'u')
		return fail(sc, "invalid escape in string");
	sc->i++;
	if (!scan_hex4(sc, &u))
		return false;
	if (u == 0)
		return fail(sc, "\\u0000 in string");
	if (u >= 0xdc00 && u <= 0xdfff)
		return fail(sc, "unpaired surrogate escape");
	if (u < 0xd800 || u > 0xdbff)
		return true;
	/* A high surrogate must be followed by an escaped low one. */
	if (sc->len - sc->i < 2 || sc->s[sc->i] != '\\' ||
	    sc->s[sc->i + 1] != 'u')
		return fail(sc, "unpaired surrogate escape");
	sc->i += 2;
	if (!scan_hex4(sc, &lo))
		return false;
	if (lo < 0xdc00 || lo > 0xdfff)
		return fail(sc, "unpaired surrogate escape");
	return true;
}

/* A string; sc->i is on its opening quote. */
static bool
scan_string(struct scan *sc)
{
	sc->i++;
	while (sc->i < sc->len) {
		unsigned char c = sc->s[sc->i];

		if (c == '"') {
			sc->i++;
			return true;
		}
		if (c < 0x20)
			return fail(sc, "control character in string");
		if (c == '\\') {
			sc->i++;
			if (!scan_escape(sc))
				return false;
		} else if (c >= 0x80) {
			if (!scan_utf8(sc))
				return false;
		} else
			sc->i++;
	}
	return fail(sc, "unterminated string");
}

static size_t
digits(struct scan *sc)
{
	size_t start = sc->i;

	while (sc->i < sc->len && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
		sc->i++;
	return sc->i - start;
}

/*
 * Does the number s[0..n) (valid JSON) exceed a double?  Relay's parser
 * (serde_json) refuses such a number ("number out of range"), and with it
 * the whole answer that carries it.  strtod decides for any number of a
 * sane length; a longer one, by the power of ten of its first digit.
 */
static bool
number_too_large(const unsigned char *s, size_t n)
{
	char buf[1024];
	long pow10 = -1, exp = 0;
	size_t i = 0;
	bool lead = false;

	/* The common case, cheaply: an integer of 308 characters or fewer. */
	if (n <= 308 && memchr(s, '.', n) == NULL && memchr(s, 'e', n) == NULL &&
	    memchr(s, 'E', n) == NULL)
		return false;
	if (n < sizeof(buf)) {
		memcpy(buf, s, n);
		buf[n] = '\0';
		return isinf(strtod(buf, NULL));
	}
	if (s[i] == '-')
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		if ((lead = lead || s[i] != '0'))
			pow10++;
	if (i < n && s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			if (lead)
				continue;
			if (s[i] != '0')
				lead = true;
			else
				pow10--;
		}
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		bool neg = s[++i] == '-';

		if (s[i] == '+' || s[i] == '-')
			i++;
		for (; i < n && exp < 100000; i++)
			exp = exp * 10 + (s[i] - '0');
		exp = neg ? -exp : exp;
	}
	return lead && pow10 + exp > 308;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, within a double. */
static bool
scan_number(struct scan *sc)
{
	size_t start = sc->i;

	if (sc->s[sc->i] == '-')
		sc->i++;
	if (sc->i < sc->len && sc->s[sc->i] == '0')
		sc->i++;
	else if (digits(sc) == 0)
		return fail(sc, "invalid number");
	if (sc->i < sc->len && sc->s[sc->i] == '.') {
		sc->i++;
		if (digits(sc) == 0)
			return fail(sc, "invalid number");
	}
	if (sc->i < sc->len && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
		sc->i++;
		if (sc->i < sc->len && (sc->s[sc->i] == '+' ||
		    sc->s[sc->i] == '-'))
			sc->i++;
		if (digits(sc) == 0)
			return fail(sc, "invalid number");
	}
	/* "01" or "1x": the next byte must end the value. */
	if (sc->i < sc->len && ((sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9') ||
	    sc->s[sc->i] == '.' || sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E' ||
	    sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
		return fail(sc, "invalid number");
	if (number_too_large(sc->s + start, sc->i - start))
		return fail(sc, "number out of range");
	return true;
}

static bool
scan_literal(struct scan *sc, const char *word)
{
	size_t n = strlen(word);

	if (sc->len - sc->i < n || memcmp(sc->s + sc->i, word, n) != 0)
		return fail(sc, "invalid literal");
	sc->i += n;
	return true;
}

int
jsonstrict_check(const char *text, size_t len, unsigned max_depth,
    const char **why)
{
	const struct jsonstrict_limits lim = { max_depth, SIZE_MAX, SIZE_MAX };

	return jsonstrict_check_limits(text, len, &lim, why);
}

int
jsonstrict_check_limits(const char *text, size_t len,
    const struct jsonstrict_limits *lim, const char **why)
{
	struct scan sc = { (const unsigned char *)text, len, 0, NULL };
	unsigned char open[JSONSTRICT_DEPTH_MAX];	/* '{' or '[' */
	unsigned depth = 0, max_depth = lim->depth;
	size_t values = 0, containers = 0;
	bool ok = true;

	if (max_depth > JSONSTRICT_DEPTH_MAX)
		max_depth = JSONSTRICT_DEPTH_MAX;
	skip_ws(&sc);
	for (;;) {
		/* A value starts at sc.i. */
		if (sc.i >= len) {
			ok = fail(&sc, "truncated JSON");
			break;
		}
		if (++values > lim->values) {
			ok = fail(&sc, "too many values");
			break;
		}
		switch (sc.s[sc.i]) {
		case '{':
		case '[':
			if (depth == max_depth) {
				ok = fail(&sc, jsonstrict_too_deep);
				break;
			}
			if (++containers > lim->containers) {
				ok = fail(&sc, "too many arrays and objects");
				break;
			}
			open[depth++] = sc.s[sc.i++];
			skip_ws(&sc);
			if (sc.i < len && sc.s[sc.i] ==
			    (open[depth - 1] == '{' ? '}' : ']')) {
				depth--;
				sc.i++;
				break;		/* an empty container */
			}
			if (open[depth - 1] == '[')
				continue;	/* its first value */
			goto in_object;
		case '"':
			ok = scan_string(&sc);
			break;
		case 't':
			ok = scan_literal(&sc, "true");
			break;
		case 'f':
			ok = scan_literal(&sc, "false");
			break;
		case 'n':
			ok = scan_literal(&sc, "null");
			break;
		default:
			if (sc.s[sc.i] == '-' ||
			    (sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9'))
				ok = scan_number(&sc);
			else
				ok = fail(&sc, sc.s[sc.i] == '\'' ?
				    "single-quoted string" : "unexpected byte");
		}
		if (!ok)
			break;
after_value:
		/* After a value: the end, a comma or a closing bracket. */
		skip_ws(&sc);
		if (depth == 0) {
			if (sc.i != len)
				ok = fail(&sc, "trailing bytes after JSON");
			break;
		}
		if (sc.i >= len) {
			ok = fail(&sc, "truncated JSON");
			break;
		}
		if (sc.s[sc.i] == (open[depth - 1] == '{' ? '}' : ']')) {
			depth--;
			sc.i++;
			goto after_value;
		}
		if (sc.s[sc.i] != ',') {
			ok = fail(&sc, "expected ',' or a closing bracket");
			break;
		}
		sc.i++;
		skip_ws(&sc);
		if (open[depth - 1] == '[')
			continue;
in_object:
		/* In an object: "key" ws ':' ws, then the value. */
		if (sc.i >= len || sc.s[sc.i] != '"') {
			ok = fail(&sc, sc.i < len && sc.s[sc.i] == '\'' ?
			    "single-quoted string" : "expected a string key");
			break;
		}
		if (!(ok = scan_string(&sc)))
			break;
		skip_ws(&sc);
		if (sc.i >= len || sc.s[sc.i] != ':') {
			ok = fail(&sc, "expected ':'");
			break;
		}
		sc.i++;
		skip_ws(&sc);
	}
	if (!ok && why != NULL)
		*why = sc.why;
	return ok ? 0 : -1;
}

/* jsonstrict_wide_integer - see jsonstrict.h. */
bool
jsonstrict_wide_integer(const char *json, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		const char *lim;
		size_t start, j, n;

		if (in_string) {
			if (json[i] == '\\')
				i++;
			else if (json[i] == '"')
				in_string = false;
			continue;
		}
		if (json[i] == '"') {
			in_string = true;
			continue;
		}
		if (json[i] != '-' && (json[i] < '0' || json[i] > '9'))
			continue;
		start = json[i] == '-' ? i + 1 : i;
		for (j = start; j < len && json[j] >= '0' && json[j] <= '9'; j++)
			;
		n = j - start;
		lim = json[i] == '-' ? "9223372036854775808" :
		    "18446744073709551615";
		/* A fraction or an exponent makes a double, which json-c
		 * keeps as it is spelt. */
		if ((j >= len || (json[j] != '.' && json[j] != 'e' &&
		    json[j] != 'E')) && (n > strlen(lim) ||
		    (n == strlen(lim) && memcmp(json + start, lim, n) > 0)))
			return true;
		while (j < len && json[j] != '\0' &&
		    strchr("0123456789.eE+-", json[j]) != NULL)
			j++;
		i = j - 1;
	}
	return false;
}

/* jsonstrict_jsonc_too_deep - see jsonstrict.h. */
bool
jsonstrict_jsonc_too_deep(const char *json, size_t len, unsigned depth)
{
	unsigned level = 0;

	for (size_t i = 0; i < len; i++) {
		switch (json[i]) {
		case ']': case '}':
			level--;
			continue;
		case ' ': case '\t': case '\n': case '\r': case ',': case ':':
			continue;
		}
		if (level >= depth)
			return true;
		if (json[i] == '[' || json[i] == '{')
			level++;
		else if (json[i] == '"')	/* to its closing quote */
			for (i++; i < len && json[i] != '"'; i++)
				if (json[i] == '\\')
					i++;
	}
	return false;
}
