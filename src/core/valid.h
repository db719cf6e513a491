/*
 * valid.h - the strict forms of ids that may reach SQL, memcached keys or a
 * log line.  One definition each, shared by every layer.
 */
#ifndef RELAYCFG_VALID_H
#define RELAYCFG_VALID_H

#include <stdbool.h>
#include <stdint.h>

/* valid_hex_digit - the value of one hex digit (either case), or -1. */
int	valid_hex_digit(int c);

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

/* The length of a timestamp as Sentry's endpoint writes them. */
#define VALID_TIMESTAMP_LEN	27	/* YYYY-MM-DDTHH:MM:SS.ffffffZ */

/*
 * valid_timestamp - exactly VALID_TIMESTAMP_LEN characters of the shape
 * YYYY-MM-DDTHH:MM:SS.ffffffZ (digits where digits go; the values are not
 * range-checked: only the form may reach an answer).
 */
bool	valid_timestamp(const char *s);

#endif
