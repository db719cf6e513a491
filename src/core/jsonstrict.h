/*
 * jsonstrict.h - is this byte string one strict RFC 8259 JSON text?
 *
 * json-c, even with JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8,
 * takes single-quoted strings, raw control characters inside strings and
 * overlong UTF-8 such as C0 80; Relay's serde_json and Sentry's parser
 * refuse all of them.  Every JSON request body and every signed JSON
 * header or token state goes through jsonstrict_check first, and only
 * then to json-c, so what relaycfg accepts is what Sentry accepts.
 */
#ifndef RELAYCFG_JSONSTRICT_H
#define RELAYCFG_JSONSTRICT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The *why of a text nested deeper than asked: callers that say so in
 * their own words compare the pointer, not the phrase.
 */
extern const char jsonstrict_too_deep[];

/* Deepest nesting jsonstrict_check can be asked to allow. */
#define JSONSTRICT_DEPTH_MAX	64

/*
 * jsonstrict_check - is s[0..len) exactly one JSON value (RFC 8259),
 * with optional whitespace (space, tab, LF, CR) around it and nothing
 * else?  Refused, on top of the grammar: invalid UTF-8 anywhere (overlong
 * forms, UTF-16 surrogates D800-DFFF encoded in UTF-8, anything above
 * U+10FFFF, stray continuation bytes, truncated sequences), raw bytes
 * below 0x20 inside strings, escapes other than the RFC's eight and
 * \uXXXX, \u escapes of unpaired surrogates (serde_json refuses them),
 * \u0000 (a C string would end there, so two different texts would
 * read the same), and nesting deeper than max_depth (arrays and objects;
 * at most JSONSTRICT_DEPTH_MAX).
 *
 * s need not be NUL-terminated.  Returns 0 when valid, or -1 with *why
 * (when why is not NULL) set to a short static English phrase for the
 * detail of a 400 answer or a log line.
 */
int	jsonstrict_check(const char *s, size_t len, unsigned max_depth,
	    const char **why);

/*
 * What a JSON text may hold beyond the grammar: its nesting (as
 * jsonstrict_check's max_depth), its values of every type (each scalar,
 * array and object, the outermost included; an object's keys are not
 * counted apart from their values) and, among them, its arrays and
 * objects.  json-c builds an object for each value, and an empty object
 * costs it some 780 bytes: a 1 MiB body of {} made 260 MB.
 */
struct jsonstrict_limits {
	unsigned	depth;
	size_t		values;
	size_t		containers;
};

/*
 * jsonstrict_check_limits - jsonstrict_check, within lim: beyond
 * lim->values values "too many values", beyond lim->containers arrays and
 * objects "too many arrays and objects".  The scan stops at the first
 * value beyond a limit, so the cost stays O(len) whatever the text.
 */
int	jsonstrict_check_limits(const char *s, size_t len,
	    const struct jsonstrict_limits *lim, const char **why);

/*
 * jsonstrict_wide_integer - does json (len bytes that jsonstrict_check
 * accepts) hold an integer json-c cannot keep: below INT64_MIN or above
 * UINT64_MAX, with no fraction or exponent?  json-c parses such a number
 * as the nearest of the two without a word (100000000000000000000 would
 * be stored as 18446744073709551615), where Python, which writes Sentry's
 * option values, keeps any integer.  Values relaycfg stores are refused
 * when it says yes.
 */
bool	jsonstrict_wide_integer(const char *json, size_t len);

/*
 * jsonstrict_jsonc_too_deep - does json (len bytes that jsonstrict_check
 * took at depth) hold a value inside arrays and objects nested depth
 * deep?  jsonstrict counts arrays and objects only; json-c, asked for
 * depth (json_tokener_new_ex), counts the value the deepest of them holds
 * as one level more and refuses the text, so a store that parses with
 * json-c must refuse it too, and can say why.
 */
bool	jsonstrict_jsonc_too_deep(const char *json, size_t len,
	    unsigned depth);

#endif
