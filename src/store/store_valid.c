/*
 * store_valid.c - what the store accepts as an id, a slug, an option key,
 * a name or label, a relay key: checked before any SQL is built.
 */
#include "config.h"

#include <string.h>

#include "store.h"
#include "store_int.h"
#include "valid.h"

/* store_valid_hex32 - 32 lowercase hex digits. */
bool
store_valid_hex32(const char *s)
{
	return valid_hex32(s);
}

/* store_valid_uuid - a canonical lowercase UUID. */
bool
store_valid_uuid(const char *s)
{
	return valid_uuid(s);
}

/* 1 to max characters, each a lowercase letter, a digit (an uppercase
 * letter when upper) or one of extra. */
bool
store_valid_charset(const char *s, const char *extra, size_t max, bool upper)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char ch = s[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    (upper && ch >= 'A' && ch <= 'Z') || strchr(extra, ch) != NULL))
			return false;
	}
	return n >= 1 && n <= max;
}

/* store_valid_slug - [a-z0-9_-], 1 to max, not all digits. */
bool
store_valid_slug(const char *s, size_t max)
{
	size_t digits = 0, n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
	/* Sentry's DEFAULT_SLUG_PATTERN: not only digits. */
	return store_valid_charset(s, "_-", max, false) && digits < n;
}

/*
 * Well-formed UTF-8 without control characters, 1 to max characters: the
 * rule for names and labels (VARCHAR(max) in utf8mb4).
 */
bool
store_valid_text(const char *s, size_t max)
{
	return valid_text(s, max);
}

/* A string that could be a value of a column of at most max characters. */
bool
store_could_be_column(const char *s, size_t max)
{
	return s != NULL && strlen(s) <= 4 * max && store_valid_text(s, max);
}

/* Relay public keys are base64 (url-safe or not), VARCHAR(200). */
bool
store_valid_relay_pk(const char *s)
{
	return store_valid_charset(s, "_-+/=", RELAY_PK_COLUMN_MAX, true);
}
