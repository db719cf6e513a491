/*
 * fuzz_relayauth.c - Relay's signature scheme on hostile bytes: base64url,
 * relay ids, the "t" of signature headers, keys, signature headers with
 * their bodies, and register tokens.
 *
 * Input: the first line is the text under test (a signature header, a
 * token, a key, a time, an id, base64url), the rest a body.  Every parser
 * sees the line; verify sees line and body.  Invariants:
 *   - base64url: a decoded text re-encodes to itself (one canonical text
 *     per byte string, so a signature cannot be varied), and any bytes
 *     encode to a text that decodes back to them;
 *   - relay ids and times: what parses formats to a canonical form that
 *     parses to the same value;
 *   - keys: a parsed public key is the canonical encoding of its bytes;
 *   - verify: a header that verifies the body stops verifying when any
 *     one byte of the body changes; the body signed with the test key
 *     verifies, and fails after a one-byte change of body or signature
 *     (a '_' written as a byte >= 0x80 included), and is expired when
 *     older than max_age by a fraction of a second;
 *   - tokens: a verified token's state is canonical, and a token made
 *     from it verifies.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz.h"
#include "relayauth.h"

/* relay-auth's test key pair (tests/data/relay-auth-vectors.json). */
#define TEST_SK	"OvXFVm1tIUi8xDTuyHX1SSqdMc8nCt2qU9IUaH5p7oU"
#define TEST_PK	"JOaR2bHZ31zYjFojC7UhPOidzfT3qOQgT9WEBw1JAKU"
#define TEST_SECRET	"secret"
/* A fixed "now" (2025-06-01), so a run never depends on the clock. */
#define NOW	((int64_t)1748736000)

static unsigned char sk[RELAYAUTH_SECRET_KEY_BYTES];

static void
init(void)
{
	static bool done;

	if (done)
		return;
	FUZZ_CHECK(relayauth_init() == 0, "libsodium");
	FUZZ_CHECK(relayauth_secret_key_parse(TEST_SK, sk) == RELAYAUTH_OK,
	    "test key");
	done = true;
}

static void
check_b64(const char *text, size_t len, const uint8_t *raw, size_t rawlen)
{
	unsigned char bin[1024];
	char back[2048];
	size_t blen;
	int n;

	if (len <= 1300 && relayauth_b64url_decode(bin, sizeof(bin), text,
	    len, &blen) == 0) {
		n = relayauth_b64url_encode(back, sizeof(back), bin, blen);
		FUZZ_CHECK(n >= 0 && (size_t)n == len &&
		    memcmp(back, text, len) == 0,
		    "base64url text \"%.*s\" decodes but is not canonical "
		    "(re-encodes to \"%s\")", (int)len, text, back);
		for (size_t i = 0; i < len; i++)
			FUZZ_CHECK((text[i] >= 'A' && text[i] <= 'Z') ||
			    (text[i] >= 'a' && text[i] <= 'z') ||
			    (text[i] >= '0' && text[i] <= '9') ||
			    text[i] == '-' || text[i] == '_',
			    "byte 0x%02x accepted in base64url",
			    (unsigned char)text[i]);
	}
	if (rawlen > sizeof(bin))
		rawlen = sizeof(bin);
	n = relayauth_b64url_encode(back, sizeof(back), raw, rawlen);
	FUZZ_CHECK(n >= 0 && (size_t)n == (4 * rawlen + 2) / 3,
	    "encode length %d for %zu bytes", n, rawlen);
	FUZZ_CHECK(relayauth_b64url_decode(bin, sizeof(bin), back, (size_t)n,
	    &blen) == 0 && blen == rawlen && memcmp(bin, raw, rawlen) == 0,
	    "encode/decode round trip of %zu bytes", rawlen);
	/* Too small an output is refused, never overrun. */
	if (n > 0)
		FUZZ_CHECK(relayauth_b64url_encode(back, (size_t)n, raw,
		    rawlen) == -1, "encode into a short buffer");
}

static void
check_relay_id(const char *s)
{
	char id[RELAYAUTH_RELAY_ID_LEN + 1], again[RELAYAUTH_RELAY_ID_LEN + 1];

	if (relayauth_relay_id_parse(s, id) != 0)
		return;
	FUZZ_CHECK(strlen(id) == RELAYAUTH_RELAY_ID_LEN, "id length");
	for (size_t i = 0; i < RELAYAUTH_RELAY_ID_LEN; i++)
		FUZZ_CHECK((i == 8 || i == 13 || i == 18 || i == 23) ?
		    id[i] == '-' : ((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')),
		    "relay id \"%s\" is not canonical", id);
	FUZZ_CHECK(relayauth_relay_id_parse(id, again) == 0 &&
	    strcmp(id, again) == 0, "canonical id does not parse to itself");
}

static void
check_time(const char *s, size_t len)
{
	int64_t sec, sec2;
	long nsec, nsec2;
	char out[64];
	int n;

	if (relayauth_time_parse(s, len, &sec, &nsec) != 0)
		return;
	FUZZ_CHECK(nsec >= 0 && nsec <= 999999999, "nsec %ld", nsec);
	n = relayauth_time_format(sec, nsec, out, sizeof(out));
	/* An offset can move a valid local time outside 0000..9999. */
	if (n < 0)
		return;
	FUZZ_CHECK(relayauth_time_parse(out, (size_t)n, &sec2, &nsec2) == 0 &&
	    sec2 == sec && nsec2 == nsec,
	    "\"%.*s\" formats as \"%s\", which does not parse back",
	    (int)len, s, out);
}

static void
check_keys(const char *s)
{
	unsigned char pk[RELAYAUTH_PUBLIC_KEY_BYTES], k[RELAYAUTH_SECRET_KEY_BYTES];
	char text[RELAYAUTH_PUBLIC_KEY_LEN + 1];

	if (relayauth_public_key_parse(s, pk) == RELAYAUTH_OK) {
		FUZZ_CHECK(relayauth_b64url_encode(text, sizeof(text), pk,
		    sizeof(pk)) == RELAYAUTH_PUBLIC_KEY_LEN &&
		    strcmp(text, s) == 0, "public key \"%s\" not canonical",
		    s);
		FUZZ_CHECK(relayauth_public_key_valid(s), "valid disagrees");
	} else
		FUZZ_CHECK(!relayauth_public_key_valid(s), "valid disagrees");
	if (relayauth_secret_key_parse(s, k) == RELAYAUTH_OK) {
		relayauth_public_key_of(k, text);
		FUZZ_CHECK(relayauth_public_key_valid(text),
		    "public half of a secret key is not a key");
		sodium_memzero(k, sizeof(k));
	}
}

/* Flip one bit of buf[pos] and expect verify to fail. */
static void
expect_tampered_fails(const char *sig, const unsigned char *body,
    size_t len, size_t pos, const char *what)
{
	unsigned char *copy = malloc(len > 0 ? len : 1);
	enum relayauth_status st;

	FUZZ_CHECK(copy != NULL, "OOM");
	memcpy(copy, body, len);
	copy[pos] ^= 0x01;
	st = relayauth_verify(TEST_PK, sig, copy, len, NOW,
	    RELAYAUTH_NO_MAX_AGE, NULL);
	FUZZ_CHECK(st == RELAYAUTH_BAD_SIGNATURE,
	    "%s changed at byte %zu still verifies (%s)", what, pos,
	    relayauth_status_str(st));
	free(copy);
}

static void
check_verify(const char *sig, const uint8_t *body, size_t len)
{
	struct relayauth_sig_time tm;
	enum relayauth_status st;
	char *mine = NULL;

	st = relayauth_verify(TEST_PK, sig, body, len, NOW, 300, &tm);
	if (st == RELAYAUTH_OK || st == RELAYAUTH_EXPIRED) {
		if (st == RELAYAUTH_OK && tm.has_time)
			FUZZ_CHECK(tm.sec >= NOW - 300,
			    "a signature from %lld accepted at %lld",
			    (long long)tm.sec, (long long)NOW);
		if (len > 0)
			expect_tampered_fails(sig, body, len,
			    (size_t)sig[0] % len, "body");
	}
	/* The body signed here must verify, and only as signed. */
	FUZZ_CHECK(relayauth_sign(sk, body, len, NOW - (len % 400), 0,
	    &mine) == RELAYAUTH_OK, "sign");
	st = relayauth_verify(TEST_PK, mine, body, len, NOW, 300, &tm);
	FUZZ_CHECK(st == ((len % 400) > 300 ? RELAYAUTH_EXPIRED :
	    RELAYAUTH_OK), "own signature: %s", relayauth_status_str(st));
	if (len > 0)
		expect_tampered_fails(mine, body, len, len / 2, "signed body");
	free(mine);
	mine = NULL;
	/*
	 * 300.4 s old (now at .9, signed at .5): expired, though whole
	 * seconds would say 300.
	 */
	FUZZ_CHECK(relayauth_sign(sk, body, len, NOW - 300, 500000000L,
	    &mine) == RELAYAUTH_OK, "sign");
	st = relayauth_verify_ns(TEST_PK, mine, body, len, NOW, 900000000L,
	    300, &tm);
	FUZZ_CHECK(st == RELAYAUTH_EXPIRED, "a signature 300.4 s old: %s",
	    relayauth_status_str(st));
	/* Every '_' of it as a byte >= 0x80 (libsodium reads that as '_'). */
	for (char *u = strchr(mine, '_'); u != NULL; u = strchr(u + 1, '_')) {
		*u = (char)(0x80 | (len & 0x7f));
		st = relayauth_verify_ns(TEST_PK, mine, body, len, NOW, 0,
		    RELAYAUTH_NO_MAX_AGE, NULL);
		FUZZ_CHECK(st != RELAYAUTH_OK, "'_' at %td as 0x%02x verifies",
		    u - mine, (unsigned char)*u);
		*u = '_';
	}
	{
		size_t slen = strlen(mine), pos = len % slen;
		char *bad = strdup(mine);

		FUZZ_CHECK(bad != NULL, "OOM");
		/*
		 * Any other character there; for '_' a byte >= 0x80, which
		 * a lax base64 decoder maps to '_' (libsodium 1.0.18 does).
		 */
		bad[pos] = bad[pos] == '_' ? (char)0xff :
		    bad[pos] == 'A' ? 'B' : 'A';
		st = relayauth_verify(TEST_PK, bad, body, len, NOW,
		    RELAYAUTH_NO_MAX_AGE, NULL);
		FUZZ_CHECK(st != RELAYAUTH_OK,
		    "signature changed at %zu (\"%s\") still verifies", pos,
		    bad);
		free(bad);
	}
	free(mine);
}

static void
check_token(const char *tok)
{
	struct relayauth_register_state s;
	enum relayauth_status st;
	char *again = NULL;

	st = relayauth_token_verify(tok, TEST_SECRET, strlen(TEST_SECRET), NOW,
	    RELAYAUTH_NO_MAX_AGE, &s);
	if (st != RELAYAUTH_OK)
		return;
	check_relay_id(s.relay_id);
	FUZZ_CHECK(relayauth_public_key_valid(s.public_key),
	    "token with key \"%s\"", s.public_key);
	FUZZ_CHECK(relayauth_token_create(TEST_SECRET, strlen(TEST_SECRET),
	    s.relay_id, s.public_key, s.timestamp, &again) == RELAYAUTH_OK,
	    "token from a verified state");
	FUZZ_CHECK(relayauth_token_verify(again, TEST_SECRET,
	    strlen(TEST_SECRET), s.timestamp, 60, &s) == RELAYAUTH_OK,
	    "a fresh token does not verify");
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	const char *line;
	size_t len;
	char *text;

	init();
	if (!fuzz_line(&in, &line, &len))
		line = "", len = 0;
	if ((text = malloc(len + 1)) == NULL)
		return 0;
	memcpy(text, line, len);
	text[len] = '\0';

	check_b64(line, len, data, size);
	check_time(line, len);
	/* The C-string parsers see the text up to a NUL, as from a param. */
	check_relay_id(text);
	check_keys(text);
	check_verify(text, in.p, in.n);
	check_token(text);
	free(text);
	return 0;
}
