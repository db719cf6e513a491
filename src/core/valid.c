/*
 * valid.c - strict id forms (see valid.h).
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "valid.h"

static bool
is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int
valid_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
valid_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(s[i]))
			return false;
	return true;
}

bool
valid_hex32(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (n == 32 || !is_lower_hex(s[n]))
			return false;
	return n == 32;
}

bool
valid_uuid(const char *s)
{
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (s[i] == '\0' || (dash ? s[i] != '-' : !is_lower_hex(s[i])))
			return false;
	}
	return s[36] == '\0';
}

bool
valid_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

bool
valid_json_int64(struct json_object *v, int64_t *out)
{
	int64_t i;

	if (!json_object_is_type(v, json_type_int))
		return false;
	i = json_object_get_int64(v);
	if (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
		return false;
	*out = i;
	return true;
}

bool
valid_option_key(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char ch = s[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("_.:-", ch) != NULL))
			return false;
	}
	return n >= 1 && n <= 64;
}

bool
valid_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";

	for (size_t i = 0; i < VALID_TIMESTAMP_LEN; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' :
		    s[i] != shape[i])
			return false;
	return s[VALID_TIMESTAMP_LEN] == '\0';
}

/* valid_utf8_len - see valid.h. */
size_t
valid_utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
	    (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;

	if (len == 0 || (len == 2 && c < 0xc2))
		return 0;
	/* A NUL ends the string and is no continuation byte. */
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (len == 3 && ((c == 0xe0 && p[1] < 0xa0) ||
	    (c == 0xed && p[1] >= 0xa0)))
		return 0;
	if (len == 4 && ((c == 0xf0 && p[1] < 0x90) || c > 0xf4 ||
	    (c == 0xf4 && p[1] >= 0x90)))
		return 0;
	return len;
}

/* valid_text - see valid.h. */
bool
valid_text(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0, len;

	while (*p != '\0') {
		if ((len = valid_utf8_len(p)) == 0 ||
		    (len == 1 && (*p < 0x20 || *p == 0x7f)))
			return false;
		p += len;
		chars++;
	}
	return chars >= 1 && chars <= max;
}

/* valid_txmetric - see valid.h. */
bool
valid_txmetric(int64_t metric)
{
	return metric == VALID_TXMETRIC_DURATION ||
	    metric == VALID_TXMETRIC_LCP;
}

/* valid_txthreshold - see valid.h. */
bool
valid_txthreshold(int64_t threshold)
{
	return threshold >= INT32_MIN && threshold <= INT32_MAX &&
	    threshold % 100 == 0;
}

/* valid_txname - see valid.h. */
bool
valid_txname(const char *s)
{
	return s != NULL && *s != '\0' &&
	    strlen(s) <= 4 * VALID_TXNAME_MAX && valid_text(s, VALID_TXNAME_MAX);
}
