/*
 * valid.h - the strict forms of ids that may reach SQL, memcached keys or a
 * log line.  One definition each, shared by every layer.
 */
#ifndef RELAYCFG_VALID_H
#define RELAYCFG_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* valid_hex_digit - the value of one hex digit (either case), or -1. */
int	valid_hex_digit(int c);

/* valid_lower_hex - are the n bytes at s all lowercase hex digits? */
bool	valid_lower_hex(const char *s, size_t n);

/* valid_hex32 - exactly 32 lowercase hex digits (a DSN public/secret key). */
bool	valid_hex32(const char *s);

/* valid_uuid - a canonical lowercase hyphenated UUID (36 characters). */
bool	valid_uuid(const char *s);

/*
 * valid_int64 - s, all of it, as a plain decimal integer ("-12", not
 * "+12", " 12" or "12x") that fits int64_t, into *out.  false (and *out
 * untouched) otherwise, NULL included.
 */
bool	valid_int64(const char *s, int64_t *out);

struct json_object;

/*
 * valid_json_int64 - v as a JSON integer that json-c holds exactly, into
 * *out.  json-c saturates what int64_t cannot hold; above INT64_MAX its
 * uint64 tells, below INT64_MIN nothing does (a caller for whom INT64_MIN
 * cannot be meant refuses that too).  false (and *out untouched) for
 * anything else.
 */
bool	valid_json_int64(struct json_object *v, int64_t *out);

/* valid_option_key - an option key: [A-Za-z0-9_.:-], 1 to 64 characters
 * (Sentry's keys are VARCHAR(64)). */
bool	valid_option_key(const char *s);

/*
 * valid_utf8_len - the length (1-4) of the well-formed UTF-8 sequence
 * that starts at p (NUL-terminated), or 0 when none does.
 */
size_t	valid_utf8_len(const unsigned char *p);

/*
 * valid_text - well-formed UTF-8 without C0 controls or DEL, 1 to max
 * characters: the rule for names and labels (VARCHAR(max) in utf8mb4).
 */
bool	valid_text(const char *s, size_t max);

/* A transaction threshold's metric, Sentry's TransactionMetric. */
#define VALID_TXMETRIC_DURATION	1
#define VALID_TXMETRIC_LCP	2
#define VALID_TXNAME_MAX	200	/* transaction VARCHAR(200) */

/* valid_txmetric - 1 (duration) or 2 (lcp). */
bool	valid_txmetric(int64_t metric);

/*
 * valid_txthreshold - what Sentry's threshold serializer accepts
 * (IntegerField(max_value=2147483647), a multiple of 100) that the INT
 * column can hold.
 */
bool	valid_txthreshold(int64_t threshold);

/* valid_txname - a transaction name: 1-200 characters of text. */
bool	valid_txname(const char *s);

/* The length of a timestamp as Sentry's endpoint writes them. */
#define VALID_TIMESTAMP_LEN	27	/* YYYY-MM-DDTHH:MM:SS.ffffffZ */

/*
 * valid_timestamp - exactly VALID_TIMESTAMP_LEN characters of the shape
 * YYYY-MM-DDTHH:MM:SS.ffffffZ (digits where digits go; the values are not
 * range-checked: only the form may reach an answer).
 */
bool	valid_timestamp(const char *s);

#endif
