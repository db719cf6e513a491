/*
 * relayauth.h - Sentry Relay's authentication primitives (relay-auth).
 *
 * Pure functions over libsodium: no HTTP, no SQL, no clock (every check
 * that depends on time takes "now" as unix seconds, so tests are
 * deterministic).  Keys, relay ids and tokens travel as text exactly as
 * Relay writes them; raw bytes appear only where libsodium needs them.
 *
 * Every function calls sodium_init() itself (it is idempotent), but the
 * server should still call relayauth_init() once before forking so that a
 * broken libsodium is noticed at start-up and not on the first request.
 */
#ifndef RELAYCFG_RELAYAUTH_H
#define RELAYCFG_RELAYAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAYAUTH_RELAY_ID_LEN		36	/* lowercase hyphenated UUID */
#define RELAYAUTH_PUBLIC_KEY_LEN	43	/* b64url of 32 bytes */
#define RELAYAUTH_SECRET_KEY_LEN	43	/* b64url of the 32-byte seed */
#define RELAYAUTH_SECRET_KEY_LONG_LEN	86	/* b64url of seed || public */
#define RELAYAUTH_PUBLIC_KEY_BYTES	32
#define RELAYAUTH_SECRET_KEY_BYTES	64	/* libsodium layout: seed || pk */
#define RELAYAUTH_RAND_BYTES		64	/* RegisterState nonce */

/* Pass as max_age to skip an age check (Relay's max_age = None). */
#define RELAYAUTH_NO_MAX_AGE		((int64_t)-1)

/*
 * Why a check failed.  HTTP answers all of these alike; the distinction is
 * for logs and for the register endpoints, which answer "expired" apart.
 */
enum relayauth_status {
	RELAYAUTH_OK = 0,
	RELAYAUTH_BAD_ENCODING,	/* not "b64.b64"/"b64:b64", bad b64url, bad length */
	RELAYAUTH_BAD_SIGNATURE,	/* Ed25519 or HMAC check failed */
	RELAYAUTH_EXPIRED,		/* older than max_age */
	RELAYAUTH_BAD_HEADER,		/* signed header is not {"t": RFC 3339|null} */
	RELAYAUTH_BAD_PAYLOAD,		/* token state is not a RegisterState */
	RELAYAUTH_BAD_KEY,		/* key text is not a usable key */
	RELAYAUTH_NOMEM			/* out of memory or libsodium unusable */
};

/* A RegisterState as carried inside a register token. */
struct relayauth_register_state {
	int64_t	timestamp;				/* unix seconds */
	char	relay_id[RELAYAUTH_RELAY_ID_LEN + 1];	/* normalised */
	char	public_key[RELAYAUTH_PUBLIC_KEY_LEN + 1];
};

/* The parsed "t" of a signature header. */
struct relayauth_sig_time {
	bool	has_time;	/* false: no "t" or "t": null (never expires) */
	int64_t	sec;		/* unix seconds, UTC */
	long	nsec;		/* 0..999999999 */
};

/*
 * relayauth_init - initialise libsodium.  Returns 0, or -1 when libsodium
 * cannot start (no entropy source).  Safe to call more than once.
 */
int	relayauth_init(void);

/*
 * relayauth_status_str - a short fixed English phrase for s, for logs.
 * Never NULL; the string is static.
 */
const char *relayauth_status_str(enum relayauth_status s);

/*
 * relayauth_b64url_encode - base64url without padding of bin[0..len) into
 * out, NUL-terminated.  Returns the text length, or -1 when outlen is too
 * small (out is then left untouched).  outlen must count the NUL; the text
 * of n bytes is (4n + 2) / 3 characters.
 */
int	relayauth_b64url_encode(char *out, size_t outlen, const void *bin,
	    size_t len);

/*
 * relayauth_b64url_decode - strict base64url without padding, as Relay's
 * data_encoding BASE64URL_NOPAD: only A-Z a-z 0-9 - _ (checked before
 * libsodium sees the text: it reads bytes >= 0x80 as '_'), no '=', no
 * whitespace, no trailing garbage, length not 1 mod 4, unused trailing bits
 * zero (so every byte string has exactly one accepted text).
 *
 * text is textlen bytes (need not be NUL-terminated).  Decodes into
 * out[0..outmax) and sets *outlen.  Returns 0, or -1 when the text is not
 * canonical base64url or decodes to more than outmax bytes; out and
 * *outlen are then unspecified and *outlen is 0.
 */
int	relayauth_b64url_decode(void *out, size_t outmax, const char *text,
	    size_t textlen, size_t *outlen);

/*
 * relayauth_relay_id_parse - parse a relay id the way Sentry does
 * (str(uuid.UUID(text))): every "urn:" then every "uuid:" is removed,
 * leading and trailing '{' '}' are stripped, every '-' is removed, and
 * exactly 32 hex digits must remain.  Writes the lowercase hyphenated
 * 36-character form into out.  Returns 0, or -1 (out untouched).
 *
 * Deliberately stricter than Python, whose int(x, 16) also takes
 * surrounding whitespace, '_' between digits, a "0x" prefix and a '+'
 * sign among the 32 characters: those are refused here.  Text longer than
 * 256 bytes is refused too.
 */
int	relayauth_relay_id_parse(const char *text,
	    char out[RELAYAUTH_RELAY_ID_LEN + 1]);

/*
 * relayauth_relay_id_generate - a random UUID v4, lowercase hyphenated,
 * as Relay's generate_relay_id.  Returns 0, or -1 if libsodium is
 * unusable (out untouched).
 */
int	relayauth_relay_id_generate(char out[RELAYAUTH_RELAY_ID_LEN + 1]);

/*
 * relayauth_time_parse - an RFC 3339 date-time as chrono parses the "t" of
 * a signature header: "YYYY-MM-DDTHH:MM:SS[.F]Z".  Accepted on top of what
 * Relay emits (0, 3, 6 or 9 fraction digits and 'Z'): any 1 to 9 fraction
 * digits, lowercase 't'/'z' (RFC 3339 5.6 allows them), and a numeric
 * offset "+HH:MM"/"-HH:MM", which is applied (Python tooling writes
 * "+00:00").  Refused: a space for 'T', a missing offset, more than 9
 * fraction digits, leap second 60, years outside 0000..9999, anything
 * trailing.  s is len bytes.  Returns 0 with the UTC instant in *sec and
 * *nsec, or -1 (outputs untouched).
 */
int	relayauth_time_parse(const char *s, size_t len, int64_t *sec,
	    long *nsec);

/*
 * relayauth_time_format - the "t" value Relay writes for an instant:
 * chrono's serialisation of DateTime<Utc>, i.e. "YYYY-MM-DDTHH:MM:SS"
 * plus ".fff", ".ffffff" or ".fffffffff" (the shortest of the three that
 * is exact; nothing when nsec is 0) plus "Z".  out must hold 31 bytes.
 * Returns the length, or -1 for an instant outside years 0000..9999 or an
 * nsec outside 0..999999999 (out untouched).
 */
int	relayauth_time_format(int64_t sec, long nsec, char *out,
	    size_t outlen);

/*
 * relayauth_public_key_parse - a Relay public key: strict base64url that
 * decodes to 32 bytes forming a point on the Ed25519 curve.  Writes the
 * bytes to pk.  Returns RELAYAUTH_OK, RELAYAUTH_BAD_ENCODING (not
 * base64url) or RELAYAUTH_BAD_KEY (wrong length, not a point); pk is
 * untouched on failure.
 */
enum relayauth_status relayauth_public_key_parse(const char *text,
	    unsigned char pk[RELAYAUTH_PUBLIC_KEY_BYTES]);

/*
 * relayauth_public_key_valid - would Relay's PublicKey::from_str accept
 * text?  (relayauth_public_key_parse succeeds.)  NULL is not valid.
 */
bool	relayauth_public_key_valid(const char *text);

/*
 * relayauth_secret_key_parse - a Relay secret key: 43 characters (the
 * 32-byte seed, Relay's Display form) or 86 (seed || public key, the
 * "{:#}" form and libsodium's layout; the public half must match the
 * seed).  Writes libsodium's 64-byte secret key to sk.  Returns
 * RELAYAUTH_OK, RELAYAUTH_BAD_ENCODING or RELAYAUTH_BAD_KEY; sk is
 * untouched on failure.  The caller should sodium_memzero sk when done.
 */
enum relayauth_status relayauth_secret_key_parse(const char *text,
	    unsigned char sk[RELAYAUTH_SECRET_KEY_BYTES]);

/*
 * relayauth_public_key_of - the 43-character public key text of a parsed
 * secret key, into out.  Cannot fail.
 */
void	relayauth_public_key_of(const unsigned char sk[RELAYAUTH_SECRET_KEY_BYTES],
	    char out[RELAYAUTH_PUBLIC_KEY_LEN + 1]);

/*
 * relayauth_keygen - a new key pair in Relay's text form: the secret as
 * the 43-character seed (what "relay credentials generate" writes) and
 * the public key.  Returns 0, or -1 if libsodium is unusable (outputs
 * untouched).  The caller should sodium_memzero secret when done.
 */
int	relayauth_keygen(char secret[RELAYAUTH_SECRET_KEY_LEN + 1],
	    char public_key[RELAYAUTH_PUBLIC_KEY_LEN + 1]);

/*
 * relayauth_sign - Relay's SecretKey::sign_with_header: the value of
 * X-Sentry-Relay-Signature for body, with header {"t":"<time>"} where
 * <time> is relayauth_time_format(sec, nsec).  On RELAYAUTH_OK *out is a
 * new NUL-terminated string the caller frees.  Otherwise *out is NULL:
 * RELAYAUTH_BAD_HEADER for an unformattable time, RELAYAUTH_NOMEM.
 */
enum relayauth_status relayauth_sign(const unsigned char sk[RELAYAUTH_SECRET_KEY_BYTES],
	    const void *body, size_t body_len, int64_t sec, long nsec,
	    char **out);

/*
 * relayauth_verify - Relay's PublicKey::verify_meta plus the age check of
 * verify_timestamp, as Sentry runs it on every relay-signed request.
 *
 * signature is "b64url(sig).b64url(header)", split at the first '.'; the
 * Ed25519 message is the decoded header bytes verbatim || 0x00 || body.
 * Only after a good signature is the header parsed: strict JSON
 * (jsonstrict_check), an object whose "t", when present and not null, is
 * an RFC 3339 string, and given once (serde refuses a field given twice).  Expired when t < now - max_age, where now is whole
 * seconds here (relayauth_verify_ns takes the nanoseconds too); no "t"
 * never expires; a future "t" is fine; max_age RELAYAUTH_NO_MAX_AGE skips
 * the check.
 *
 * public_key is the 43-character text.  Returns RELAYAUTH_OK,
 * RELAYAUTH_BAD_KEY, RELAYAUTH_BAD_ENCODING, RELAYAUTH_BAD_SIGNATURE,
 * RELAYAUTH_BAD_HEADER, RELAYAUTH_EXPIRED or RELAYAUTH_NOMEM, checked in
 * that order.  tm may be NULL; it is filled on RELAYAUTH_OK and on
 * RELAYAUTH_EXPIRED (for the log) and untouched otherwise.
 */
enum relayauth_status relayauth_verify(const char *public_key,
	    const char *signature, const void *body, size_t body_len,
	    int64_t now, int64_t max_age, struct relayauth_sig_time *tm);

/*
 * relayauth_verify_ns - relayauth_verify with now given to the nanosecond
 * (now_nsec 0..999999999), as Relay and Sentry compare: a signature
 * 300.4 s old is expired under max_age 300 even though whole seconds
 * would say 300.  The server passes clock_gettime(CLOCK_REALTIME).
 */
enum relayauth_status relayauth_verify_ns(const char *public_key,
	    const char *signature, const void *body, size_t body_len,
	    int64_t now, long now_nsec, int64_t max_age,
	    struct relayauth_sig_time *tm);

/*
 * relayauth_token_create - Relay's SignedRegisterState::sign: the register
 * challenge token
 *	b64url(state) ":" b64url(HMAC-SHA512(secret, b64url(state)))
 * with state {"timestamp":now,"relay_id":…,"public_key":…,"rand":…} and
 * rand = b64url of 64 random bytes.  secret may have any length but 0
 * (an empty secret would let anyone mint tokens: RELAYAUTH_BAD_KEY).
 * relay_id must be in canonical form (else RELAYAUTH_BAD_PAYLOAD) and
 * public_key a valid key (else RELAYAUTH_BAD_KEY).  On RELAYAUTH_OK
 * *token is a new string the caller frees; otherwise it is NULL.
 */
enum relayauth_status relayauth_token_create(const void *secret,
	    size_t secret_len, const char *relay_id, const char *public_key,
	    int64_t now, char **token);

/*
 * relayauth_token_create_rand - relayauth_token_create with the nonce
 * given, for reproducible tests.  Never use a fixed nonce in production.
 */
enum relayauth_status relayauth_token_create_rand(const void *secret,
	    size_t secret_len, const char *relay_id, const char *public_key,
	    int64_t now, const unsigned char rand[RELAYAUTH_RAND_BYTES],
	    char **token);

/*
 * relayauth_token_verify - Relay's SignedRegisterState::unpack: split at
 * the first ':' (none: an empty MAC, RELAYAUTH_BAD_SIGNATURE), decode the
 * MAC (RELAYAUTH_BAD_ENCODING), check it over the first part's text in
 * constant time, then decode and parse the state, then the age: expired when
 * timestamp + max_age < now (RELAYAUTH_NO_MAX_AGE skips it).  Returns
 * RELAYAUTH_OK, RELAYAUTH_BAD_KEY (empty secret), RELAYAUTH_BAD_ENCODING,
 * RELAYAUTH_BAD_SIGNATURE, RELAYAUTH_BAD_PAYLOAD (state not
 * {"timestamp":int,"relay_id":uuid,"public_key":key,"rand":string}),
 * RELAYAUTH_EXPIRED or RELAYAUTH_NOMEM.
 * state is filled on RELAYAUTH_OK and RELAYAUTH_EXPIRED, untouched
 * otherwise; its relay_id is normalised.
 */
enum relayauth_status relayauth_token_verify(const char *token,
	    const void *secret, size_t secret_len, int64_t now, int64_t max_age,
	    struct relayauth_register_state *state);

#endif
