/*
 * relayauth.c - Relay's signature scheme, keys and register tokens, over
 * libsodium.
 *
 * The reference is getsentry/relay relay-auth/src/lib.rs: what Relay sends
 * must verify here, and what is made here must verify in Relay and in
 * Sentry.  Where Relay leaves room (timestamp forms, relay id forms) the
 * choice is documented in relayauth.h.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "jsonstrict.h"
#include "relayauth.h"
#include "valid.h"

_Static_assert(sizeof(time_t) >= 8, "timegm needs a 64-bit time_t");

#define B64_VARIANT	sodium_base64_VARIANT_URLSAFE_NO_PADDING

/*
 * Longest texts we look at.  A signature header is 86 + 1 + ~56 bytes and
 * a token ~420; the limits only keep hostile input from costing memory.
 */
#define SIG_TEXT_MAX		8192
#define TOKEN_TEXT_MAX		4096
#define RELAY_ID_TEXT_MAX	256
#define SIG_B64_LEN		86	/* 64 bytes */
#define RAND_B64_LEN		86	/* 64 bytes */
#define MAC_BYTES		crypto_auth_hmacsha512_BYTES
#define JSON_DEPTH		16	/* headers and states are flat */

/* Encoded length of n bytes, without the NUL. */
#define B64_LEN(n)		(((n) * 4 + 2) / 3)

/* 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z. */
#define TIME_MIN		INT64_C(-62167219200)
#define TIME_END		INT64_C(253402300800)

int
relayauth_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

const char *
relayauth_status_str(enum relayauth_status s)
{
	switch (s) {
	case RELAYAUTH_OK:		return "ok";
	case RELAYAUTH_BAD_ENCODING:	return "bad encoding";
	case RELAYAUTH_BAD_SIGNATURE:	return "bad signature";
	case RELAYAUTH_EXPIRED:		return "expired";
	case RELAYAUTH_BAD_HEADER:	return "bad signature header";
	case RELAYAUTH_BAD_PAYLOAD:	return "bad payload";
	case RELAYAUTH_BAD_KEY:		return "bad key";
	case RELAYAUTH_NOMEM:		return "out of memory";
	}
	return "unknown";
}

int
relayauth_b64url_encode(char *out, size_t outlen, const void *bin,
    size_t len)
{
	size_t need;

	/* The int return bounds what we encode; nothing here is that big. */
	if (len > (size_t)INT32_MAX / 2)
		return -1;
	need = sodium_base64_ENCODED_LEN(len, B64_VARIANT);
	if (outlen < need)
		return -1;	/* sodium_bin2base64 would abort instead */
	sodium_bin2base64(out, outlen, bin, len, B64_VARIANT);
	return (int)(need - 1);
}

int
relayauth_b64url_decode(void *out, size_t outmax, const char *text,
    size_t textlen, size_t *outlen)
{
	size_t n = 0;

	*outlen = 0;
	/*
	 * libsodium 1.0.18 decodes every byte >= 0x80 as '_' (its
	 * constant-time table lookup only looks at the low bits), so a text
	 * with \xff where '_' belongs would decode, and one value would have
	 * many texts.  The alphabet is checked here first.
	 */
	for (size_t i = 0; i < textlen; i++) {
		unsigned char c = (unsigned char)text[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return -1;
	}
	/*
	 * With the NO_PADDING variant, no "ignore" set and no b64_end,
	 * libsodium then refuses '=', a length of 1 mod 4 and non-zero
	 * unused trailing bits: the same as data_encoding's BASE64URL_NOPAD
	 * with its default check_trailing_bits.  The tests pin each of these.
	 */
	if (sodium_base642bin(out, outmax, text, textlen, NULL, &n, NULL,
	    B64_VARIANT) != 0)
		return -1;
	*outlen = n;
	return 0;
}

/*
 * Remove every non-overlapping occurrence of pat from s[0..len), scanning
 * left to right once, as Python's s.replace(pat, "").  Returns the new
 * length.
 */
static size_t
remove_all(char *s, size_t len, const char *pat)
{
	size_t plen = strlen(pat), i = 0, o = 0;

	while (i < len) {
		if (len - i >= plen && memcmp(s + i, pat, plen) == 0) {
			i += plen;
			continue;
		}
		s[o++] = s[i++];
	}
	return o;
}

/* 16 bytes to the lowercase hyphenated form. */
static void
uuid_format(const unsigned char b[16], char out[RELAYAUTH_RELAY_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 0xf];
	}
	*p = '\0';
}

int
relayauth_relay_id_parse(const char *text, char out[RELAYAUTH_RELAY_ID_LEN + 1])
{
	char buf[RELAY_ID_TEXT_MAX];
	unsigned char b[16];
	size_t len, start, end, n;

	if (text == NULL || (len = strnlen(text, sizeof(buf))) == sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	/* uuid.UUID: hex.replace('urn:', '').replace('uuid:', '') */
	len = remove_all(buf, len, "urn:");
	len = remove_all(buf, len, "uuid:");
	/* .strip('{}') */
	for (start = 0; start < len && (buf[start] == '{' || buf[start] == '}');
	    start++)
		;
	for (end = len; end > start && (buf[end - 1] == '{' ||
	    buf[end - 1] == '}'); end--)
		;
	/* .replace('-', '') */
	n = remove_all(buf + start, end - start, "-");
	if (n != 32)
		return -1;
	for (size_t i = 0; i < 16; i++) {
		int hi = valid_hex_digit(buf[start + 2 * i]);
		int lo = valid_hex_digit(buf[start + 2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	uuid_format(b, out);
	return 0;
}

int
relayauth_relay_id_generate(char out[RELAYAUTH_RELAY_ID_LEN + 1])
{
	unsigned char b[16];

	if (sodium_init() < 0)
		return -1;
	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	uuid_format(b, out);
	return 0;
}

/* n ASCII digits at s into *v; -1 if any is not a digit. */
static int
digits(const char *s, size_t n, int *v)
{
	int x = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : mdays[m - 1];
}

int
relayauth_time_parse(const char *s, size_t len, int64_t *sec, long *nsec)
{
	int Y, M, D, h, m, sc, oh = 0, om = 0, sign = 0;
	long ns = 0;
	size_t i, nd;
	struct tm tm;

	/* "YYYY-MM-DDTHH:MM:SS" and at least the 'Z'. */
	if (s == NULL || len < 20)
		return -1;
	if (digits(s, 4, &Y) != 0 || s[4] != '-' ||
	    digits(s + 5, 2, &M) != 0 || s[7] != '-' ||
	    digits(s + 8, 2, &D) != 0 || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) != 0 || s[13] != ':' ||
	    digits(s + 14, 2, &m) != 0 || s[16] != ':' ||
	    digits(s + 17, 2, &sc) != 0)
		return -1;
	i = 19;
	if (s[i] == '.') {
		for (i++, nd = 0; i < len && s[i] >= '0' && s[i] <= '9';
		    i++, nd++) {
			if (nd == 9)
				return -1;
			ns = ns * 10 + (s[i] - '0');
		}
		if (nd == 0)
			return -1;
		for (; nd < 9; nd++)
			ns *= 10;
	}
	if (i >= len)
		return -1;
	if (s[i] == 'Z' || s[i] == 'z')
		i++;
	else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '+' ? 1 : -1;
		if (len - i < 6 || digits(s + i + 1, 2, &oh) != 0 ||
		    s[i + 3] != ':' || digits(s + i + 4, 2, &om) != 0 ||
		    oh > 23 || om > 59)
			return -1;
		i += 6;
	} else
		return -1;
	if (i != len)
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 ||
	    m > 59 || sc > 59)
		return -1;

	/* Fields are validated, so timegm cannot fail or normalise. */
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sc;
	*sec = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	*nsec = ns;
	return 0;
}

int
relayauth_time_format(int64_t sec, long nsec, char *out, size_t outlen)
{
	char buf[40], frac[12] = "";
	struct tm tm;
	time_t t;
	int n;

	if (sec < TIME_MIN || sec >= TIME_END || nsec < 0 || nsec > 999999999)
		return -1;
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	/* chrono's Debug for NaiveTime: the shortest exact of 3, 6, 9. */
	if (nsec == 0)
		;
	else if (nsec % 1000000 == 0)
		snprintf(frac, sizeof(frac), ".%03ld", nsec / 1000000);
	else if (nsec % 1000 == 0)
		snprintf(frac, sizeof(frac), ".%06ld", nsec / 1000);
	else
		snprintf(frac, sizeof(frac), ".%09ld", nsec);
	n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	memcpy(out, buf, (size_t)n + 1);
	return n;
}

/*
 * Keys that parsed recently, per process.  The point check below costs as
 * much as a fifth of a signature verification, and the same few relays
 * sign every request; only keys that passed it are remembered, so the
 * answer for any text is exactly what the full parse would give.
 */
#define KEY_MEMO_SLOTS	8

struct key_memo {
	char		text[B64_LEN(RELAYAUTH_PUBLIC_KEY_BYTES) + 1];
	unsigned char	pk[RELAYAUTH_PUBLIC_KEY_BYTES];
};

static struct key_memo	key_memo[KEY_MEMO_SLOTS];
static unsigned		key_memo_next;

static bool
key_memo_find(const char *text, size_t len,
    unsigned char pk[RELAYAUTH_PUBLIC_KEY_BYTES])
{
	if (len != B64_LEN(RELAYAUTH_PUBLIC_KEY_BYTES))
		return false;
	for (size_t i = 0; i < KEY_MEMO_SLOTS; i++)
		if (memcmp(key_memo[i].text, text, len + 1) == 0) {
			memcpy(pk, key_memo[i].pk, RELAYAUTH_PUBLIC_KEY_BYTES);
			return true;
		}
	return false;
}

static void
key_memo_add(const char *text, size_t len,
    const unsigned char pk[RELAYAUTH_PUBLIC_KEY_BYTES])
{
	struct key_memo *m = &key_memo[key_memo_next++ % KEY_MEMO_SLOTS];

	if (len != B64_LEN(RELAYAUTH_PUBLIC_KEY_BYTES))
		return;
	memcpy(m->text, text, len + 1);
	memcpy(m->pk, pk, RELAYAUTH_PUBLIC_KEY_BYTES);
}

/*
 * key_text_check - the checks every key text passes before it is decoded
 * into a buffer of bufsize bytes: present, libsodium ready, not longer
 * than such a buffer can hold (whatever its alphabet).  Returns
 * RELAYAUTH_OK with the text's length in *len, or the status to answer.
 */
static enum relayauth_status
key_text_check(const char *text, size_t bufsize, size_t *len)
{
	if (text == NULL)
		return RELAYAUTH_BAD_ENCODING;
	if (sodium_init() < 0)
		return RELAYAUTH_NOMEM;
	if ((*len = strnlen(text, B64_LEN(bufsize) + 1)) > B64_LEN(bufsize))
		return RELAYAUTH_BAD_KEY;
	return RELAYAUTH_OK;
}

enum relayauth_status
relayauth_public_key_parse(const char *text,
    unsigned char pk[RELAYAUTH_PUBLIC_KEY_BYTES])
{
	unsigned char buf[96], sum[crypto_core_ed25519_BYTES];
	enum relayauth_status st;
	size_t len, n;

	if ((st = key_text_check(text, sizeof(buf), &len)) != RELAYAUTH_OK)
		return st;
	if (key_memo_find(text, len, pk))
		return RELAYAUTH_OK;
	if (relayauth_b64url_decode(buf, sizeof(buf), text, len, &n) != 0)
		return RELAYAUTH_BAD_ENCODING;
	if (n != RELAYAUTH_PUBLIC_KEY_BYTES)
		return RELAYAUTH_BAD_KEY;
	/*
	 * Relay parses with ed25519-dalek's VerifyingKey::from_bytes, which
	 * only decompresses the point: it takes small-order points, points
	 * with a torsion component and non-canonical encodings of y.
	 * crypto_core_ed25519_is_valid_point refuses all three, i.e. about
	 * 7 in 8 of the 32-byte strings Relay takes, so a trustedRelays
	 * entry would be judged differently from Relay.  Adding the point
	 * to itself runs exactly libsodium's decompression (ge25519_frombytes
	 * plus an on-curve test that cannot fail after it) and nothing else,
	 * so it fails precisely when dalek's decompress fails.  Keys that
	 * pass but have small order still never verify a signature, because
	 * crypto_sign_verify_detached refuses them.
	 */
	if (crypto_core_ed25519_add(sum, buf, buf) != 0)
		return RELAYAUTH_BAD_KEY;
	memcpy(pk, buf, RELAYAUTH_PUBLIC_KEY_BYTES);
	key_memo_add(text, len, pk);
	return RELAYAUTH_OK;
}

bool
relayauth_public_key_valid(const char *text)
{
	unsigned char pk[RELAYAUTH_PUBLIC_KEY_BYTES];

	return relayauth_public_key_parse(text, pk) == RELAYAUTH_OK;
}

enum relayauth_status
relayauth_secret_key_parse(const char *text,
    unsigned char sk[RELAYAUTH_SECRET_KEY_BYTES])
{
	unsigned char buf[96], pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char full[crypto_sign_SECRETKEYBYTES];
	enum relayauth_status st;
	size_t len, n;

	if ((st = key_text_check(text, sizeof(buf), &len)) != RELAYAUTH_OK)
		return st;
	if (relayauth_b64url_decode(buf, sizeof(buf), text, len, &n) != 0) {
		st = RELAYAUTH_BAD_ENCODING;
		goto out;
	}
	/* Relay's SecretKey::from_str: 64 bytes is a key pair, 32 a seed. */
	if (n != crypto_sign_SECRETKEYBYTES && n != crypto_sign_SEEDBYTES) {
		st = RELAYAUTH_BAD_KEY;
		goto out;
	}
	if (crypto_sign_seed_keypair(pk, full, buf) != 0) {
		st = RELAYAUTH_NOMEM;
		goto out;
	}
	/* ed25519-dalek's from_keypair_bytes: the halves must agree. */
	if (n == crypto_sign_SECRETKEYBYTES &&
	    sodium_memcmp(pk, buf + crypto_sign_SEEDBYTES, sizeof(pk)) != 0) {
		st = RELAYAUTH_BAD_KEY;
		goto out;
	}
	memcpy(sk, full, sizeof(full));
	st = RELAYAUTH_OK;
out:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(full, sizeof(full));
	return st;
}

void
relayauth_public_key_of(const unsigned char sk[RELAYAUTH_SECRET_KEY_BYTES],
    char out[RELAYAUTH_PUBLIC_KEY_LEN + 1])
{
	relayauth_b64url_encode(out, RELAYAUTH_PUBLIC_KEY_LEN + 1,
	    sk + crypto_sign_SEEDBYTES, crypto_sign_PUBLICKEYBYTES);
}

int
relayauth_keygen(char secret[RELAYAUTH_SECRET_KEY_LEN + 1],
    char public_key[RELAYAUTH_PUBLIC_KEY_LEN + 1])
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];

	if (sodium_init() < 0 || crypto_sign_keypair(pk, sk) != 0)
		return -1;
	/* Relay's Display writes the seed only; the 86-char form is {:#}. */
	relayauth_b64url_encode(secret, RELAYAUTH_SECRET_KEY_LEN + 1, sk,
	    crypto_sign_SEEDBYTES);
	relayauth_b64url_encode(public_key, RELAYAUTH_PUBLIC_KEY_LEN + 1, pk,
	    sizeof(pk));
	sodium_memzero(sk, sizeof(sk));
	return 0;
}

enum relayauth_status
relayauth_sign(const unsigned char sk[RELAYAUTH_SECRET_KEY_BYTES],
    const void *body, size_t body_len, int64_t sec, long nsec, char **out)
{
	char tbuf[32], hdr[64], *res = NULL;
	unsigned char sig[crypto_sign_BYTES], *msg = NULL;
	enum relayauth_status st;
	size_t hlen, reslen;
	int n;

	*out = NULL;
	if (sodium_init() < 0)
		return RELAYAUTH_NOMEM;
	if (relayauth_time_format(sec, nsec, tbuf, sizeof(tbuf)) < 0)
		return RELAYAUTH_BAD_HEADER;
	/* serde_json::to_vec(&SignatureHeader): compact, "t" only. */
	n = snprintf(hdr, sizeof(hdr), "{\"t\":\"%s\"}", tbuf);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return RELAYAUTH_BAD_HEADER;
	hlen = (size_t)n;
	if (body_len > SIZE_MAX - hlen - 1) {
		st = RELAYAUTH_NOMEM;
		goto out;
	}
	if ((msg = malloc(hlen + 1 + body_len)) == NULL) {
		st = RELAYAUTH_NOMEM;
		goto out;
	}
	memcpy(msg, hdr, hlen);
	msg[hlen] = 0;
	if (body_len > 0)
		memcpy(msg + hlen + 1, body, body_len);
	crypto_sign_detached(sig, NULL, msg, hlen + 1 + body_len, sk);

	reslen = SIG_B64_LEN + 1 + B64_LEN(hlen) + 1;
	if ((res = malloc(reslen)) == NULL) {
		st = RELAYAUTH_NOMEM;
		goto out;
	}
	relayauth_b64url_encode(res, reslen, sig, sizeof(sig));
	res[SIG_B64_LEN] = '.';
	relayauth_b64url_encode(res + SIG_B64_LEN + 1,
	    reslen - SIG_B64_LEN - 1, hdr, hlen);
	*out = res;
	res = NULL;
	st = RELAYAUTH_OK;
out:
	free(msg);
	free(res);
	return st;
}

/* t < now - max_age, without overflow; a negative max_age never expires. */
static bool
too_old(int64_t t, int64_t now, int64_t max_age)
{
	if (max_age < 0 || now < INT64_MIN + max_age)
		return false;
	return t < now - max_age;
}

/*
 * The same to the nanosecond, as chrono compares the signature header's
 * "t" with Utc::now() - max_age: t.t_nsec < now.now_nsec - max_age.
 */
static bool
too_old_ns(int64_t t, long t_nsec, int64_t now, long now_nsec,
    int64_t max_age)
{
	if (max_age < 0 || now < INT64_MIN + max_age)
		return false;
	return t < now - max_age || (t == now - max_age && t_nsec < now_nsec);
}

/*
 * Parse JSON text s[0..len) strictly (serde_json is: no comments, no
 * single quotes, valid UTF-8, only whitespace after the value).  Returns
 * the value (caller puts it), or NULL with *nomem telling why.
 */
static json_object *
json_parse_strict(const char *s, size_t len, bool *nomem)
{
	json_tokener *tok;
	json_object *obj = NULL;
	size_t end;

	*nomem = false;
	/* json-c's STRICT mode still takes single quotes, C0 80, ... */
	if (len > INT32_MAX || jsonstrict_check(s, len, JSON_DEPTH,
	    NULL) != 0)
		return NULL;
	if ((tok = json_tokener_new_ex(JSON_DEPTH)) == NULL) {
		*nomem = true;
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, s, (int)len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success)
		goto fail;
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (s[end] != ' ' && s[end] != '\t' && s[end] != '\n' &&
		    s[end] != '\r')
			goto fail;
	json_tokener_free(tok);
	return obj;
fail:
	json_object_put(obj);
	json_tokener_free(tok);
	return NULL;
}

/*
 * Whether the JSON object text h[0..len), valid JSON already, has the
 * top-level key "t" more than once: serde's derived Deserialize refuses a
 * known field given twice, where json-c keeps the last.
 */
static bool
header_t_twice(const char *h, size_t len)
{
	int depth = 0, seen = 0;
	bool key = false;

	for (size_t i = 0; i < len; i++) {
		size_t start;

		switch (h[i]) {
		case '"':
			for (start = ++i; i < len && h[i] != '"'; )
				i += h[i] == '\\' ? 2 : 1;
			if (depth == 1 && key && ((i - start == 1 &&
			    h[start] == 't') || (i - start == 6 &&
			    memcmp(h + start, "\\u0074", 6) == 0)) &&
			    ++seen > 1)
				return true;
			key = false;
			break;
		case '{':
			key = ++depth == 1;
			break;
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			depth--;
			break;
		case ',':
			key = depth == 1;
			break;
		default:
			break;
		}
	}
	return false;
}

/* The signature header: a JSON object, "t" absent, null or RFC 3339. */
static enum relayauth_status
header_parse(const char *h, size_t len, struct relayauth_sig_time *tm)
{
	json_object *obj, *t;
	enum relayauth_status st;
	bool nomem;

	if ((obj = json_parse_strict(h, len, &nomem)) == NULL)
		return nomem ? RELAYAUTH_NOMEM : RELAYAUTH_BAD_HEADER;
	/*
	 * serde would also read a struct from a JSON array; no signer writes
	 * one, so an object is required.  Unknown fields are ignored, as
	 * SignatureHeader does not deny them.
	 */
	if (!json_object_is_type(obj, json_type_object) ||
	    header_t_twice(h, len)) {
		st = RELAYAUTH_BAD_HEADER;
		goto out;
	}
	memset(tm, 0, sizeof(*tm));
	if (json_object_object_get_ex(obj, "t", &t) && t != NULL) {
		if (!json_object_is_type(t, json_type_string) ||
		    relayauth_time_parse(json_object_get_string(t),
		    (size_t)json_object_get_string_len(t), &tm->sec,
		    &tm->nsec) != 0) {
			st = RELAYAUTH_BAD_HEADER;
			goto out;
		}
		tm->has_time = true;
	}
	st = RELAYAUTH_OK;
out:
	json_object_put(obj);
	return st;
}

enum relayauth_status
relayauth_verify(const char *public_key, const char *signature,
    const void *body, size_t body_len, int64_t now, int64_t max_age,
    struct relayauth_sig_time *tm)
{
	return relayauth_verify_ns(public_key, signature, body, body_len, now,
	    0, max_age, tm);
}

enum relayauth_status
relayauth_verify_ns(const char *public_key, const char *signature,
    const void *body, size_t body_len, int64_t now, long now_nsec,
    int64_t max_age, struct relayauth_sig_time *tm)
{
	unsigned char pk[RELAYAUTH_PUBLIC_KEY_BYTES], sig[crypto_sign_BYTES];
	unsigned char *msg = NULL;
	struct relayauth_sig_time ht;
	enum relayauth_status st;
	const char *dot, *htext;
	size_t slen, htlen, hmax, hlen, n;

	if ((st = relayauth_public_key_parse(public_key, pk)) != RELAYAUTH_OK)
		return st == RELAYAUTH_NOMEM ? st : RELAYAUTH_BAD_KEY;
	if (signature == NULL ||
	    (slen = strnlen(signature, SIG_TEXT_MAX + 1)) > SIG_TEXT_MAX)
		return RELAYAUTH_BAD_ENCODING;
	/* verify_meta: splitn(2, '.'); a missing header part is invalid. */
	if ((dot = memchr(signature, '.', slen)) == NULL)
		return RELAYAUTH_BAD_ENCODING;
	if (relayauth_b64url_decode(sig, sizeof(sig), signature,
	    (size_t)(dot - signature), &n) != 0 || n != sizeof(sig))
		return RELAYAUTH_BAD_ENCODING;
	htext = dot + 1;
	htlen = slen - (size_t)(htext - signature);

	/* The message is header || 0x00 || body; decode in place. */
	hmax = htlen / 4 * 3 + 2;
	if (body_len > SIZE_MAX - hmax - 1)
		return RELAYAUTH_NOMEM;
	if ((msg = malloc(hmax + 1 + body_len)) == NULL)
		return RELAYAUTH_NOMEM;
	if (relayauth_b64url_decode(msg, hmax, htext, htlen, &hlen) != 0) {
		st = RELAYAUTH_BAD_ENCODING;
		goto out;
	}
	msg[hlen] = 0;
	if (body_len > 0)
		memcpy(msg + hlen + 1, body, body_len);
	if (crypto_sign_verify_detached(sig, msg, hlen + 1 + body_len,
	    pk) != 0) {
		st = RELAYAUTH_BAD_SIGNATURE;
		goto out;
	}
	/* Only signed bytes are parsed, and never re-serialised. */
	if ((st = header_parse((const char *)msg, hlen, &ht)) != RELAYAUTH_OK)
		goto out;
	st = ht.has_time && too_old_ns(ht.sec, ht.nsec, now, now_nsec,
	    max_age) ? RELAYAUTH_EXPIRED : RELAYAUTH_OK;
	if (tm != NULL)
		*tm = ht;
out:
	free(msg);
	return st;
}

/* HMAC-SHA512 with a key of any length (Relay: Hmac::new_from_slice). */
static void
token_mac(const void *secret, size_t secret_len, const char *text,
    size_t len, unsigned char mac[MAC_BYTES])
{
	crypto_auth_hmacsha512_state hst;

	crypto_auth_hmacsha512_init(&hst, secret, secret_len);
	crypto_auth_hmacsha512_update(&hst, (const unsigned char *)text, len);
	crypto_auth_hmacsha512_final(&hst, mac);
	sodium_memzero(&hst, sizeof(hst));
}

enum relayauth_status
relayauth_token_create_rand(const void *secret, size_t secret_len,
    const char *relay_id, const char *public_key, int64_t now,
    const unsigned char rand[RELAYAUTH_RAND_BYTES], char **token)
{
	char id[RELAYAUTH_RELAY_ID_LEN + 1], rb64[RAND_B64_LEN + 1];
	char state[320], *res;
	unsigned char mac[MAC_BYTES];
	size_t slen, blen, reslen;
	int n;

	*token = NULL;
	if (sodium_init() < 0)
		return RELAYAUTH_NOMEM;
	/* An empty secret would let anyone mint tokens. */
	if (secret == NULL || secret_len == 0)
		return RELAYAUTH_BAD_KEY;
	if (relay_id == NULL || relayauth_relay_id_parse(relay_id, id) != 0 ||
	    strcmp(id, relay_id) != 0)
		return RELAYAUTH_BAD_PAYLOAD;
	if (!relayauth_public_key_valid(public_key))
		return RELAYAUTH_BAD_KEY;
	relayauth_b64url_encode(rb64, sizeof(rb64), rand, RELAYAUTH_RAND_BYTES);
	/* serde_json of RegisterState, fields in declaration order. */
	n = snprintf(state, sizeof(state), "{\"timestamp\":%lld,"
	    "\"relay_id\":\"%s\",\"public_key\":\"%s\",\"rand\":\"%s\"}",
	    (long long)now, id, public_key, rb64);
	if (n < 0 || (size_t)n >= sizeof(state))
		return RELAYAUTH_BAD_PAYLOAD;
	slen = (size_t)n;
	blen = B64_LEN(slen);
	reslen = blen + 1 + B64_LEN(MAC_BYTES) + 1;
	if ((res = malloc(reslen)) == NULL)
		return RELAYAUTH_NOMEM;
	relayauth_b64url_encode(res, reslen, state, slen);
	/* The MAC covers the base64 text, not the JSON. */
	token_mac(secret, secret_len, res, blen, mac);
	res[blen] = ':';
	relayauth_b64url_encode(res + blen + 1, reslen - blen - 1, mac,
	    sizeof(mac));
	*token = res;
	return RELAYAUTH_OK;
}

enum relayauth_status
relayauth_token_create(const void *secret, size_t secret_len,
    const char *relay_id, const char *public_key, int64_t now, char **token)
{
	unsigned char rand[RELAYAUTH_RAND_BYTES];

	*token = NULL;
	if (sodium_init() < 0)
		return RELAYAUTH_NOMEM;
	randombytes_buf(rand, sizeof(rand));
	return relayauth_token_create_rand(secret, secret_len, relay_id,
	    public_key, now, rand, token);
}

/* Fill st from the decoded RegisterState JSON; BAD_PAYLOAD if it is not. */
static enum relayauth_status
state_parse(const char *json, size_t len, struct relayauth_register_state *st)
{
	json_object *obj, *ts, *id, *pk, *rnd;
	enum relayauth_status res = RELAYAUTH_BAD_PAYLOAD;
	struct relayauth_register_state tmp;
	bool nomem;

	if ((obj = json_parse_strict(json, len, &nomem)) == NULL)
		return nomem ? RELAYAUTH_NOMEM : RELAYAUTH_BAD_PAYLOAD;
	/* All four fields are required by RegisterState; others ignored. */
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "timestamp", &ts) ||
	    !json_object_is_type(ts, json_type_int) ||
	    !json_object_object_get_ex(obj, "relay_id", &id) ||
	    !json_object_is_type(id, json_type_string) ||
	    !json_object_object_get_ex(obj, "public_key", &pk) ||
	    !json_object_is_type(pk, json_type_string) ||
	    !json_object_object_get_ex(obj, "rand", &rnd) ||
	    !json_object_is_type(rnd, json_type_string))
		goto out;
	memset(&tmp, 0, sizeof(tmp));
	tmp.timestamp = json_object_get_int64(ts);
	if (relayauth_relay_id_parse(json_object_get_string(id),
	    tmp.relay_id) != 0)
		goto out;
	if (json_object_get_string_len(pk) != RELAYAUTH_PUBLIC_KEY_LEN ||
	    !relayauth_public_key_valid(json_object_get_string(pk)))
		goto out;
	memcpy(tmp.public_key, json_object_get_string(pk),
	    RELAYAUTH_PUBLIC_KEY_LEN + 1);
	*st = tmp;
	res = RELAYAUTH_OK;
out:
	json_object_put(obj);
	return res;
}

enum relayauth_status
relayauth_token_verify(const char *token, const void *secret,
    size_t secret_len, int64_t now, int64_t max_age,
    struct relayauth_register_state *state)
{
	unsigned char mac[MAC_BYTES], *given = NULL;
	char *json = NULL;
	struct relayauth_register_state tmp;
	enum relayauth_status st;
	const char *colon, *mtext;
	size_t len, slen, mlen, n;

	if (sodium_init() < 0)
		return RELAYAUTH_NOMEM;
	if (secret == NULL || secret_len == 0)
		return RELAYAUTH_BAD_KEY;
	if (token == NULL ||
	    (len = strnlen(token, TOKEN_TEXT_MAX + 1)) > TOKEN_TEXT_MAX)
		return RELAYAUTH_BAD_ENCODING;
	/* split(): no ':' leaves an empty MAC, which cannot match. */
	if ((colon = memchr(token, ':', len)) == NULL)
		return RELAYAUTH_BAD_SIGNATURE;
	slen = (size_t)(colon - token);
	mtext = colon + 1;
	mlen = len - slen - 1;

	/*
	 * unpack's order: decode the MAC (BadEncoding), check it over the
	 * base64 text (BadSignature: a wrong length too), then decode and
	 * parse the state.
	 */
	if ((given = malloc(mlen / 4 * 3 + 2)) == NULL)
		return RELAYAUTH_NOMEM;
	if (relayauth_b64url_decode(given, mlen / 4 * 3 + 2, mtext, mlen,
	    &n) != 0) {
		st = RELAYAUTH_BAD_ENCODING;
		goto out;
	}
	token_mac(secret, secret_len, token, slen, mac);
	if (n != MAC_BYTES || crypto_verify_64(mac, given) != 0) {
		st = RELAYAUTH_BAD_SIGNATURE;
		goto out;
	}
	if ((json = malloc(slen / 4 * 3 + 2)) == NULL) {
		st = RELAYAUTH_NOMEM;
		goto out;
	}
	if (relayauth_b64url_decode(json, slen / 4 * 3 + 2, token, slen,
	    &n) != 0) {
		st = RELAYAUTH_BAD_ENCODING;
		goto out;
	}
	if ((st = state_parse(json, n, &tmp)) != RELAYAUTH_OK)
		goto out;
	st = too_old(tmp.timestamp, now, max_age) ? RELAYAUTH_EXPIRED :
	    RELAYAUTH_OK;
	if (state != NULL)
		*state = tmp;
out:
	free(given);
	free(json);
	return st;
}
