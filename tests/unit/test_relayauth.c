/*
 * test_relayauth.c - Relay's signature scheme, keys, relay ids and register
 * tokens (src/core/relayauth.c), against the shared vectors and edge cases, and
 * the relay-side relaycfgctl commands against a one-shot local HTTP server.
 *
 * Every entry of tests/data/relay-auth-vectors.json is checked; the file
 * is read at run time from $top_srcdir and its absence fails the run.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <sodium.h>

#include "relayauth.h"

/* AUTH-TEST-KEYS: relay-auth's own test key pair. */
#define TEST_SEED	"OvXFVm1tIUi8xDTuyHX1SSqdMc8nCt2qU9IUaH5p7oU"
#define TEST_SK64	"OvXFVm1tIUi8xDTuyHX1SSqdMc8nCt2qU9IUaH5p7oUk5pHZsdnfXNiMWiMLtSE86J3N9Peo5CBP1YQHDUkApQ"
#define TEST_PK		"JOaR2bHZ31zYjFojC7UhPOidzfT3qOQgT9WEBw1JAKU"
#define TEST_ID		"9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
#define T2025		INT64_C(1735689600)	/* 2025-01-01T00:00:00Z */

/* ------------------------------------------------------------------ */
/* helpers */

static json_object *vectors;

/* The vectors file, loaded once; a missing or broken file fails loudly. */
static json_object *
get_vectors(void)
{
	const char *top = getenv("top_srcdir");
	char path[4096];

	if (vectors != NULL)
		return vectors;
	if (top == NULL)
		fail_msg("top_srcdir is not set: run through make check or "
		    "export top_srcdir=/path/to/source");
	snprintf(path, sizeof(path), "%s/tests/data/relay-auth-vectors.json",
	    top);
	if ((vectors = json_object_from_file(path)) == NULL)
		fail_msg("cannot read %s: %s", path, json_util_get_last_err());
	return vectors;
}

static json_object *
jget(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		fail_msg("vector lacks \"%s\"", key);
	return v;
}

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	if (!json_object_is_type(v, json_type_string))
		fail_msg("vector field \"%s\" is not a string", key);
	return json_object_get_string(v);
}

static size_t
hex_decode(const char *hex, unsigned char *out, size_t outmax)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, outmax, hex, strlen(hex), NULL,
	    &n, NULL), 0);
	return n;
}

static void
load_sk(const char *text, unsigned char sk[RELAYAUTH_SECRET_KEY_BYTES])
{
	assert_int_equal(relayauth_secret_key_parse(text, sk), RELAYAUTH_OK);
}

/* Ed25519 over header || 0 || body with a header of our choosing. */
static char *
sign_raw(const unsigned char *sk, const char *hdr, size_t hlen,
    const char *body)
{
	size_t blen = strlen(body), cap = 87 + hlen * 2 + 8;
	unsigned char *msg = malloc(hlen + 1 + blen), sig[64];
	char *out = malloc(cap);

	assert_non_null(msg);
	assert_non_null(out);
	memcpy(msg, hdr, hlen);
	msg[hlen] = 0;
	memcpy(msg + hlen + 1, body, blen);
	crypto_sign_detached(sig, NULL, msg, hlen + 1 + blen, sk);
	free(msg);
	assert_int_equal(relayauth_b64url_encode(out, cap, sig, 64), 86);
	out[86] = '.';
	assert_true(relayauth_b64url_encode(out + 87, cap - 87, hdr,
	    hlen) >= 0);
	return out;
}

/* A token whose MAC is right for whatever state text we give. */
static char *
token_over(const char *secret, const char *state_b64)
{
	crypto_auth_hmacsha512_state st;
	unsigned char mac[64];
	size_t slen = strlen(state_b64);
	char *tok = malloc(slen + 1 + 87);

	assert_non_null(tok);
	crypto_auth_hmacsha512_init(&st, (const unsigned char *)secret,
	    strlen(secret));
	crypto_auth_hmacsha512_update(&st, (const unsigned char *)state_b64,
	    slen);
	crypto_auth_hmacsha512_final(&st, mac);
	memcpy(tok, state_b64, slen);
	tok[slen] = ':';
	assert_int_equal(relayauth_b64url_encode(tok + slen + 1, 87, mac, 64),
	    86);
	return tok;
}

static char *
token_over_json(const char *secret, const char *json)
{
	char b64[1024];

	assert_true(relayauth_b64url_encode(b64, sizeof(b64), json,
	    strlen(json)) >= 0);
	return token_over(secret, b64);
}

/* ------------------------------------------------------------------ */
/* the shared vectors */

static void
test_vectors_keys(void **state)
{
	json_object *keys = jget(get_vectors(), "keys");
	unsigned char sk[64], sk2[64], raw[64];
	char pk[RELAYAUTH_PUBLIC_KEY_LEN + 1];
	size_t n = json_object_array_length(keys);

	(void)state;
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		json_object *k = json_object_array_get_idx(keys, i);

		load_sk(jstr(k, "secret_key_64_b64"), sk);
		load_sk(jstr(k, "secret_key_seed_b64"), sk2);
		assert_memory_equal(sk, sk2, 64);
		relayauth_public_key_of(sk, pk);
		assert_string_equal(pk, jstr(k, "public_key_b64"));
		assert_true(relayauth_public_key_valid(pk));
		assert_int_equal(hex_decode(jstr(k, "seed_hex"), raw,
		    sizeof(raw)), 32);
		assert_memory_equal(raw, sk, 32);
		assert_int_equal(hex_decode(jstr(k, "public_key_hex"), raw,
		    sizeof(raw)), 32);
		assert_memory_equal(raw, sk + 32, 32);
		/* The 64-byte form is libsodium's layout, as the spec says. */
		assert_int_equal(relayauth_b64url_encode(pk, sizeof(pk), sk,
		    32), 43);
		assert_string_equal(pk, jstr(k, "secret_key_seed_b64"));
	}
}

/*
 * A valid vector verifies (without and with Sentry's 300 s age check as of
 * its own time), its signed bytes are what the spec says, and where the
 * header is in Relay's own form our signer reproduces it byte for byte.
 */
static void
check_valid_signature(json_object *v, const unsigned char *sk)
{
	const char *pk = jstr(v, "public_key"), *sig = jstr(v, "signature");
	const char *body = jstr(v, "body_utf8");
	const char *hdr = jstr(v, "header_json_decoded");
	struct relayauth_sig_time tm;
	unsigned char want[4096], got[4096];
	char tbuf[40], canon[80], *mine;
	size_t wlen, hlen = strlen(hdr), blen = strlen(body);
	int64_t now = 0;

	assert_int_equal(relayauth_verify(pk, sig, body, blen, 0,
	    RELAYAUTH_NO_MAX_AGE, &tm), RELAYAUTH_OK);
	if (tm.has_time)
		now = tm.sec;
	assert_int_equal(relayauth_verify(pk, sig, body, blen, now, 300, NULL),
	    RELAYAUTH_OK);
	/* Far later: expired when it has a time, never when it has none. */
	assert_int_equal(relayauth_verify(pk, sig, body, blen, now + 301, 300,
	    NULL), tm.has_time ? RELAYAUTH_EXPIRED : RELAYAUTH_OK);

	wlen = hex_decode(jstr(v, "signed_bytes_hex"), want, sizeof(want));
	assert_int_equal(wlen, hlen + 1 + blen);
	memcpy(got, hdr, hlen);
	got[hlen] = 0;
	memcpy(got + hlen + 1, body, blen);
	assert_memory_equal(got, want, wlen);
	assert_string_equal(strchr(sig, '.') + 1, jstr(v, "header_b64"));

	if (!tm.has_time)
		return;
	assert_true(relayauth_time_format(tm.sec, tm.nsec, tbuf,
	    sizeof(tbuf)) > 0);
	snprintf(canon, sizeof(canon), "{\"t\":\"%s\"}", tbuf);
	if (strcmp(canon, hdr) != 0)
		return;		/* e.g. D6's space: not what Relay writes */
	assert_int_equal(relayauth_sign(sk, body, blen, tm.sec, tm.nsec,
	    &mine), RELAYAUTH_OK);
	assert_string_equal(mine, sig);
	free(mine);
}

static void
test_vectors_signatures(void **state)
{
	json_object *sigs = jget(get_vectors(), "signatures");
	size_t n = json_object_array_length(sigs), valid = 0, invalid = 0;
	unsigned char sk[64];

	(void)state;
	load_sk(TEST_SK64, sk);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(sigs, i);
		const char *id = jstr(v, "id"), *exp = jstr(v, "expected");
		const char *body = jstr(v, "body_utf8");
		enum relayauth_status st;

		print_message("# signature vector %s (%s)\n", id, exp);
		assert_string_equal(jstr(v, "public_key"), TEST_PK);
		if (strcmp(exp, "valid") == 0) {
			check_valid_signature(v, sk);
			valid++;
		} else if (strcmp(exp, "invalid") == 0) {
			st = relayauth_verify(jstr(v, "public_key"),
			    jstr(v, "signature"), body, strlen(body), 0,
			    RELAYAUTH_NO_MAX_AGE, NULL);
			if (st == RELAYAUTH_OK)
				fail_msg("invalid vector %s verified", id);
			invalid++;
		} else
			fail_msg("vector %s: unknown expectation %s", id, exp);
	}
	/* A file emptied by accident must not pass. */
	assert_true(valid >= 6);
	assert_true(invalid >= 4);
}

/* A signed request of the vectors file: it verifies as of its own t. */
static void
check_request(json_object *req, const char *pk, int64_t max_age)
{
	json_object *h = jget(req, "headers");
	const char *sig = jstr(h, "x-sentry-relay-signature");
	const char *body = jstr(req, "body_utf8");
	char id[RELAYAUTH_RELAY_ID_LEN + 1];
	struct relayauth_sig_time tm;

	assert_string_equal(jstr(req, "method"), "POST");
	assert_string_equal(jstr(h, "content-type"), "application/json");
	assert_int_equal(relayauth_relay_id_parse(jstr(h, "x-sentry-relay-id"),
	    id), 0);
	assert_string_equal(id, jstr(h, "x-sentry-relay-id"));
	assert_int_equal(relayauth_verify(pk, sig, body, strlen(body), 0,
	    RELAYAUTH_NO_MAX_AGE, &tm), RELAYAUTH_OK);
	assert_true(tm.has_time);
	assert_int_equal(relayauth_verify(pk, sig, body, strlen(body),
	    tm.sec + max_age, max_age, NULL), RELAYAUTH_OK);
	assert_int_equal(relayauth_verify(pk, sig, body, strlen(body),
	    tm.sec + max_age + 1, max_age, NULL), RELAYAUTH_EXPIRED);
	/* A changed body never verifies. */
	assert_int_equal(relayauth_verify(pk, sig, body, strlen(body) - 1, 0,
	    RELAYAUTH_NO_MAX_AGE, NULL), RELAYAUTH_BAD_SIGNATURE);
}

static void
test_vectors_register_flow(void **state)
{
	json_object *flows = jget(get_vectors(), "register_flows");
	size_t n = json_object_array_length(flows);
	unsigned char sk[64], zero[RELAYAUTH_RAND_BYTES] = { 0 };

	(void)state;
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(flows, i);
		json_object *c = jget(f, "1_challenge_request");
		json_object *r = jget(f, "3_response_request");
		const char *secret = jstr(f, "upstream_secret");
		const char *token = jstr(f, "2_token");
		const char *relay_id = jstr(f, "relay_id");
		const char *rpk = jstr(f, "relay_public_key");
		struct relayauth_register_state rs;
		struct relayauth_sig_time tm;
		char *mine, buf[1024], *p;
		size_t blen;

		print_message("# register flow %s\n", jstr(f, "id"));
		load_sk(jstr(f, "relay_secret_seed"), sk);
		relayauth_public_key_of(sk, buf);
		assert_string_equal(buf, rpk);

		/* 1: self-signed challenge, verified with the body's key. */
		assert_string_equal(jstr(c, "path"),
		    "/api/0/relays/register/challenge/");
		check_request(c, rpk, 60);
		assert_int_equal(relayauth_verify(rpk,
		    jstr(jget(c, "headers"), "x-sentry-relay-signature"),
		    jstr(c, "body_utf8"), strlen(jstr(c, "body_utf8")), 0,
		    RELAYAUTH_NO_MAX_AGE, &tm), RELAYAUTH_OK);
		/* Our signer makes exactly the same request signature. */
		assert_int_equal(relayauth_sign(sk, jstr(c, "body_utf8"),
		    strlen(jstr(c, "body_utf8")), tm.sec, tm.nsec, &mine),
		    RELAYAUTH_OK);
		assert_string_equal(mine,
		    jstr(jget(c, "headers"), "x-sentry-relay-signature"));
		free(mine);

		/* 2: the token; its state; our token is the same bytes. */
		assert_int_equal(relayauth_token_verify(token, secret,
		    strlen(secret), T2025, 60, &rs), RELAYAUTH_OK);
		assert_int_equal(rs.timestamp, T2025);
		assert_string_equal(rs.relay_id, relay_id);
		assert_string_equal(rs.public_key, rpk);
		p = strchr(token, ':');
		assert_int_equal(relayauth_b64url_decode(buf, sizeof(buf) - 1,
		    token, (size_t)(p - token), &blen), 0);
		buf[blen] = '\0';
		assert_string_equal(buf, jstr(f, "2_register_state_json"));
		assert_int_equal(relayauth_token_create_rand(secret,
		    strlen(secret), relay_id, rpk, T2025, zero, &mine),
		    RELAYAUTH_OK);
		assert_string_equal(mine, token);
		free(mine);
		assert_non_null(strstr(jstr(f, "2_challenge_response_body"),
		    token));

		/* 3: signed response, verified with the token's key. */
		assert_string_equal(jstr(r, "path"),
		    "/api/0/relays/register/response/");
		assert_non_null(strstr(jstr(r, "body_utf8"), token));
		check_request(r, rs.public_key, 60);

		/* Sentry's max_age=60: fine until +60 s, expired after. */
		assert_int_equal(relayauth_token_verify(token, secret,
		    strlen(secret), T2025 + 60, 60, NULL), RELAYAUTH_OK);
		assert_int_equal(relayauth_token_verify(token, secret,
		    strlen(secret), T2025 + 61, 60, &rs), RELAYAUTH_EXPIRED);
		assert_string_equal(rs.relay_id, relay_id);
		assert_non_null(strstr(jstr(f, "4_response_response_body"),
		    relay_id));
	}
}

static void
test_vectors_tokens(void **state)
{
	json_object *toks = jget(get_vectors(), "hmac_tokens");
	size_t n = json_object_array_length(toks);

	(void)state;
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(toks, i);
		const char *secret = jstr(t, "secret");
		const char *token = jstr(t, "token");
		json_object *sj = json_tokener_parse(jstr(t,
		    "state_json_decoded"));
		struct relayauth_register_state rs;
		bool mac_valid = json_object_get_boolean(jget(t, "mac_valid"));

		print_message("# token vector %s\n", jstr(t, "id"));
		assert_non_null(sj);
		assert_int_equal(relayauth_token_verify(token, secret,
		    strlen(secret), 0, RELAYAUTH_NO_MAX_AGE, &rs),
		    mac_valid ? RELAYAUTH_OK : RELAYAUTH_BAD_SIGNATURE);
		if (mac_valid) {
			assert_int_equal(rs.timestamp,
			    json_object_get_int64(jget(sj, "timestamp")));
			assert_string_equal(rs.relay_id, jstr(sj, "relay_id"));
			assert_string_equal(rs.public_key,
			    jstr(sj, "public_key"));
		}
		/* Another secret never validates it. */
		assert_int_equal(relayauth_token_verify(token, "Secret", 6, 0,
		    RELAYAUTH_NO_MAX_AGE, NULL), RELAYAUTH_BAD_SIGNATURE);
		json_object_put(sj);
	}
}

static void
test_vectors_http_examples(void **state)
{
	json_object *ex = jget(get_vectors(), "http_examples");
	const char *names[] = {
		"project_configs_request", "global_config_request"
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_object *req = jget(ex, names[i]);

		print_message("# http example %s\n", names[i]);
		assert_string_equal(jstr(req, "path"),
		    "/api/0/relays/projectconfigs/?version=3");
		check_request(req, TEST_PK, 300);
	}
	/* The response examples are for the server's tests; they parse. */
	json_object_object_foreach(ex, key, val) {
		if (strstr(key, "_request") == NULL)
			assert_true(json_object_is_type(val,
			    json_type_object));
	}
}

/* ------------------------------------------------------------------ */
/* base64url */

static void
test_b64url(void **state)
{
	static const struct {
		const char	*text;
		size_t		 len;	/* 0: strlen */
		int		 ok;
		const char	*bytes;
	} cases[] = {
		{ "", 0, 1, "" },
		{ "QQ", 0, 1, "A" },
		{ "QUE", 0, 1, "AA" },
		{ "QUFB", 0, 1, "AAA" },
		{ "-_-_", 0, 1, "\xfb\xff\xbf" },
		{ "Q", 0, 0, NULL },		/* length 1 mod 4 */
		{ "QUFBQ", 0, 0, NULL },
		{ "QR", 0, 0, NULL },		/* non-zero trailing bits */
		{ "QUF", 0, 0, NULL },
		{ "Q-_", 0, 0, NULL },
		{ "QQ==", 0, 0, NULL },		/* padding */
		{ "QQ=", 0, 0, NULL },
		{ "QUFB====", 0, 0, NULL },
		{ " QQ", 0, 0, NULL },		/* whitespace anywhere */
		{ "QQ ", 0, 0, NULL },
		{ "QQ\n", 0, 0, NULL },
		{ "Q\nQ", 0, 0, NULL },
		{ "+/+/", 0, 0, NULL },		/* standard alphabet */
		{ "QUFB.", 0, 0, NULL },	/* trailing garbage */
		{ "QUFB\0QQ", 7, 0, NULL },	/* embedded NUL */
		/* libsodium 1.0.18 alone reads bytes >= 0x80 as '_'. */
		{ "-_-\xff", 0, 0, NULL },
		{ "QUF\x80", 0, 0, NULL },
		{ "\xdf\xbfQQ", 0, 0, NULL },
	};
	unsigned char out[16];
	char enc[16];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len :
		    strlen(cases[i].text);
		int rc = relayauth_b64url_decode(out, sizeof(out),
		    cases[i].text, len, &n);

		if (cases[i].ok) {
			if (rc != 0)
				fail_msg("\"%s\" refused", cases[i].text);
			assert_int_equal(n, strlen(cases[i].bytes));
			assert_memory_equal(out, cases[i].bytes, n);
			/* Canonical: it encodes back to the same text. */
			assert_int_equal(relayauth_b64url_encode(enc,
			    sizeof(enc), out, n), (int)len);
			assert_string_equal(enc, cases[i].text);
		} else {
			if (rc != -1)
				fail_msg("\"%s\" accepted", cases[i].text);
			assert_int_equal(n, 0);
		}
	}
	/* Too much for the buffer. */
	assert_int_equal(relayauth_b64url_decode(out, 2, "QUFB", 4, &n), -1);
	assert_int_equal(relayauth_b64url_decode(out, 3, "QUFB", 4, &n), 0);
	/* Encoding: the NUL counts; too small leaves out untouched. */
	strcpy(enc, "xyz");
	assert_int_equal(relayauth_b64url_encode(enc, 4, "AAA", 3), -1);
	assert_string_equal(enc, "xyz");
	assert_int_equal(relayauth_b64url_encode(enc, 5, "AAA", 3), 4);
	assert_string_equal(enc, "QUFB");
	assert_int_equal(relayauth_b64url_encode(enc, 1, "", 0), 0);
	assert_string_equal(enc, "");
	assert_int_equal(relayauth_b64url_encode(enc, sizeof(enc), "\xfb\xff",
	    2), 3);
	assert_string_equal(enc, "-_8");
}

/* ------------------------------------------------------------------ */
/* timestamps */

static void
test_time_parse(void **state)
{
	static const struct {
		const char	*text;
		int64_t		 sec;
		long		 nsec;
	} good[] = {
		{ "2020-01-01T00:00:00Z", 1577836800, 0 },
		{ "2024-05-01T12:34:56.789Z", 1714566896, 789000000 },
		{ "2020-09-08T13:33:35.993904Z", 1599572015, 993904000 },
		{ "2025-01-02T03:04:05.123456789Z", 1735787045, 123456789 },
		{ "2025-01-02T03:04:05.000000000Z", 1735787045, 0 },
		{ "2025-01-02T03:04:05.1Z", 1735787045, 100000000 },
		{ "2025-01-02T03:04:05.12Z", 1735787045, 120000000 },
		{ "2025-01-02T03:04:05.1234Z", 1735787045, 123400000 },
		{ "2020-01-01t00:00:00z", 1577836800, 0 },
		{ "2020-01-01T01:00:00+01:00", 1577836800, 0 },
		{ "2019-12-31T23:00:00-01:00", 1577836800, 0 },
		{ "2020-01-01T05:30:00.5+05:30", 1577836800, 500000000 },
		{ "2020-01-01T00:00:00+00:00", 1577836800, 0 },
		{ "2020-01-01T00:00:00-00:00", 1577836800, 0 },
		{ "2024-02-29T00:00:00Z", 1709164800, 0 },
		{ "2000-02-29T00:00:00Z", 951782400, 0 },
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "1969-12-31T23:59:59Z", -1, 0 },
		{ "0000-01-01T00:00:00Z", INT64_C(-62167219200), 0 },
		{ "9999-12-31T23:59:59.999999999Z", INT64_C(253402300799),
		    999999999 },
	};
	static const char *const bad[] = {
		"",
		"2020-01-01T00:00:00",		/* no offset */
		"2020-01-01 00:00:00Z",		/* space for T */
		"2020-01-01T00:00:00.Z",	/* empty fraction */
		"2020-01-01T00:00:00.1234567890Z",	/* 10 digits */
		"2020-01-01T00:00:00,5Z",
		"2020-13-01T00:00:00Z",
		"2020-00-01T00:00:00Z",
		"2023-02-29T00:00:00Z",		/* not a leap year */
		"1900-02-29T00:00:00Z",
		"2020-04-31T00:00:00Z",
		"2020-01-00T00:00:00Z",
		"2020-01-32T00:00:00Z",
		"2020-01-01T24:00:00Z",
		"2020-01-01T23:60:00Z",
		"2020-01-01T23:59:60Z",		/* leap second */
		"2020-01-01T00:00:00Z ",
		" 2020-01-01T00:00:00Z",
		"2020-01-01T00:00:00ZZ",
		"2020-1-01T00:00:00Z",
		"20200101T000000Z",
		"2020-01-01T00:00Z",
		"2020-01-01T00:00:00+0100",
		"2020-01-01T00:00:00+01",
		"2020-01-01T00:00:00+24:00",
		"2020-01-01T00:00:00+01:60",
		"2020-01-01T00:00:00+01:00Z",
		"+2020-01-01T00:00:00Z",
		"2020-01-01T00:00:00UTC",
		"２020-01-01T00:00:00Z",
	};
	int64_t sec = 42;
	long nsec = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (relayauth_time_parse(good[i].text, strlen(good[i].text),
		    &sec, &nsec) != 0)
			fail_msg("\"%s\" refused", good[i].text);
		assert_int_equal(sec, good[i].sec);
		assert_int_equal(nsec, good[i].nsec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sec = 42;
		nsec = 42;
		if (relayauth_time_parse(bad[i], strlen(bad[i]), &sec,
		    &nsec) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(sec, 42);
		assert_int_equal(nsec, 42);
	}
	/* len bounds the text: a valid prefix of a longer buffer. */
	assert_int_equal(relayauth_time_parse("2020-01-01T00:00:00Zjunk", 20,
	    &sec, &nsec), 0);
	assert_int_equal(relayauth_time_parse("2020-01-01T00:00:00Z", 19,
	    &sec, &nsec), -1);
	assert_int_equal(relayauth_time_parse(NULL, 0, &sec, &nsec), -1);
}

static void
test_time_format(void **state)
{
	static const struct {
		int64_t		 sec;
		long		 nsec;
		const char	*text;
	} cases[] = {
		{ 1577836800, 0, "2020-01-01T00:00:00Z" },
		{ 1714566896, 789000000, "2024-05-01T12:34:56.789Z" },
		{ 1599572015, 993904000, "2020-09-08T13:33:35.993904Z" },
		{ 1735787045, 123456789, "2025-01-02T03:04:05.123456789Z" },
		{ 1735689600, 250000000, "2025-01-01T00:00:00.250Z" },
		{ 1735689600, 1, "2025-01-01T00:00:00.000000001Z" },
		{ 1735689600, 1000, "2025-01-01T00:00:00.000001Z" },
		{ 1735689600, 100000000, "2025-01-01T00:00:00.100Z" },
		{ 0, 0, "1970-01-01T00:00:00Z" },
		{ -1, 0, "1969-12-31T23:59:59Z" },
		{ INT64_C(-62167219200), 0, "0000-01-01T00:00:00Z" },
		{ INT64_C(253402300799), 999999999,
		    "9999-12-31T23:59:59.999999999Z" },
	};
	char buf[31];
	int64_t sec;
	long nsec;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(relayauth_time_format(cases[i].sec,
		    cases[i].nsec, buf, sizeof(buf)),
		    (int)strlen(cases[i].text));
		assert_string_equal(buf, cases[i].text);
		/* and back */
		assert_int_equal(relayauth_time_parse(buf, strlen(buf), &sec,
		    &nsec), 0);
		assert_int_equal(sec, cases[i].sec);
		assert_int_equal(nsec, cases[i].nsec);
	}
	strcpy(buf, "untouched");
	assert_int_equal(relayauth_time_format(INT64_C(253402300800), 0, buf,
	    sizeof(buf)), -1);
	assert_int_equal(relayauth_time_format(INT64_C(-62167219201), 0, buf,
	    sizeof(buf)), -1);
	assert_int_equal(relayauth_time_format(0, -1, buf, sizeof(buf)), -1);
	assert_int_equal(relayauth_time_format(0, 1000000000, buf,
	    sizeof(buf)), -1);
	assert_int_equal(relayauth_time_format(0, 1, buf, 30), -1);
	assert_string_equal(buf, "untouched");
}

/* ------------------------------------------------------------------ */
/* signatures */

static void
test_sign_verify(void **state)
{
	char secret[RELAYAUTH_SECRET_KEY_LEN + 1];
	char pk[RELAYAUTH_PUBLIC_KEY_LEN + 1], pk2[RELAYAUTH_PUBLIC_KEY_LEN + 1];
	unsigned char sk[64];
	struct relayauth_sig_time tm;
	const char *body = "{\"publicKeys\":[],\"fullConfig\":false}";
	char *sig, *sig2, *bad;
	const int64_t now = 1735787045;

	(void)state;
	assert_int_equal(relayauth_keygen(secret, pk), 0);
	assert_int_equal(strlen(secret), 43);
	load_sk(secret, sk);
	relayauth_public_key_of(sk, pk2);
	assert_string_equal(pk, pk2);

	assert_int_equal(relayauth_sign(sk, body, strlen(body), now, 123456789,
	    &sig), RELAYAUTH_OK);
	assert_int_equal(strlen(sig), 86 + 1 + 51);
	assert_int_equal(relayauth_verify(pk, sig, body, strlen(body), now,
	    300, &tm), RELAYAUTH_OK);
	assert_true(tm.has_time);
	assert_int_equal(tm.sec, now);
	assert_int_equal(tm.nsec, 123456789);

	/* The body changed after signing, one byte or the length. */
	assert_int_equal(relayauth_verify(pk, sig,
	    "{\"publicKeys\":[],\"fullConfig\":fals3}", strlen(body), now,
	    300, NULL), RELAYAUTH_BAD_SIGNATURE);
	assert_int_equal(relayauth_verify(pk, sig, body, strlen(body) - 1, now,
	    300, NULL), RELAYAUTH_BAD_SIGNATURE);
	assert_int_equal(relayauth_verify(pk, sig, "", 0, now, 300, NULL),
	    RELAYAUTH_BAD_SIGNATURE);
	/* Another key. */
	assert_int_equal(relayauth_verify(TEST_PK, sig, body, strlen(body),
	    now, 300, NULL), RELAYAUTH_BAD_SIGNATURE);
	/* A bad key is reported as such, before anything else. */
	assert_int_equal(relayauth_verify("nope", sig, body, strlen(body), now,
	    300, NULL), RELAYAUTH_BAD_KEY);
	assert_int_equal(relayauth_verify(NULL, sig, body, strlen(body), now,
	    300, NULL), RELAYAUTH_BAD_KEY);

	/* A body with NUL bytes is signed and verified as bytes. */
	assert_int_equal(relayauth_sign(sk, "a\0b", 3, now, 0, &sig2),
	    RELAYAUTH_OK);
	assert_int_equal(relayauth_verify(pk, sig2, "a\0b", 3, now, 300, NULL),
	    RELAYAUTH_OK);
	assert_int_equal(relayauth_verify(pk, sig2, "a\0c", 3, now, 300, NULL),
	    RELAYAUTH_BAD_SIGNATURE);
	free(sig2);

	/* The header must be the signed one: swap in another header. */
	assert_int_equal(relayauth_sign(sk, body, strlen(body), now + 1, 0,
	    &sig2), RELAYAUTH_OK);
	bad = strdup(sig);
	assert_non_null(bad);
	strcpy(bad + 87, sig2 + 87);
	assert_int_equal(relayauth_verify(pk, bad, body, strlen(body), now,
	    300, NULL), RELAYAUTH_BAD_SIGNATURE);
	free(bad);
	free(sig2);

	/* An unformattable time is refused, *out stays NULL. */
	sig2 = (char *)"x";
	assert_int_equal(relayauth_sign(sk, body, strlen(body),
	    INT64_C(253402300800), 0, &sig2), RELAYAUTH_BAD_HEADER);
	assert_null(sig2);
	free(sig);
}

static void
test_verify_malformed(void **state)
{
	static const struct {
		const char		*hdr;
		size_t			 len;	/* 0: strlen */
		enum relayauth_status	 want;
		bool			 has_time;
	} hdrs[] = {
		{ "{\"t\":\"2025-01-02T03:04:05Z\"}", 0, RELAYAUTH_OK, true },
		{ "{\"t\":null}", 0, RELAYAUTH_OK, false },
		{ "{}", 0, RELAYAUTH_OK, false },
		{ " {\"t\" : \"2025-01-02T03:04:05Z\" , \"x\":[1,{}]} \n", 0,
		    RELAYAUTH_OK, true },
		{ "{\"t\":\"2025-01-02T04:04:05.5+01:00\"}", 0, RELAYAUTH_OK,
		    true },
		{ "{\"x\":\"it's\",\"t\":\"2025-01-02T03:04:05Z\"}", 0,
		    RELAYAUTH_OK, true },
		{ "{\"t\":123}", 0, RELAYAUTH_BAD_HEADER, false },
		{ "{\"t\":true}", 0, RELAYAUTH_BAD_HEADER, false },
		{ "{\"t\":\"2025-01-02T03:04:05\"}", 0, RELAYAUTH_BAD_HEADER,
		    false },
		{ "{\"t\":\"yesterday\"}", 0, RELAYAUTH_BAD_HEADER, false },
		{ "{'t':'2025-01-02T03:04:05Z'}", 0, RELAYAUTH_BAD_HEADER,
		    false },
		{ "{\"x\":NaN}", 0, RELAYAUTH_BAD_HEADER, false },
		{ "{\"x\":1,}", 0, RELAYAUTH_BAD_HEADER, false },
		{ "{} x", 0, RELAYAUTH_BAD_HEADER, false },
		{ "{}{}", 0, RELAYAUTH_BAD_HEADER, false },
		{ "{/*c*/}", 0, RELAYAUTH_BAD_HEADER, false },
		{ "[]", 0, RELAYAUTH_BAD_HEADER, false },
		{ "\"t\"", 0, RELAYAUTH_BAD_HEADER, false },
		{ "null", 0, RELAYAUTH_BAD_HEADER, false },
		{ "", 0, RELAYAUTH_BAD_HEADER, false },
		{ "{}\0", 3, RELAYAUTH_BAD_HEADER, false },
		{ "{\"x\":\"\xff\"}", 0, RELAYAUTH_BAD_HEADER, false },
		{ "not json", 0, RELAYAUTH_BAD_HEADER, false },
		/* serde refuses a known field twice; json-c keeps the last */
		{ "{\"t\":\"2020-01-02T03:04:05Z\",\"t\":\"2025-01-02T03:04:05Z\"}",
		    0, RELAYAUTH_BAD_HEADER, false },
		{ "{\"t\":null,\"\\u0074\":\"2025-01-02T03:04:05Z\"}", 0,
		    RELAYAUTH_BAD_HEADER, false },
		/* ... but not unknown ones, nor "t" below the top or as a value */
		{ "{\"x\":1,\"x\":2,\"t\":\"2025-01-02T03:04:05Z\"}", 0,
		    RELAYAUTH_OK, true },
		{ "{\"y\":{\"t\":1,\"t\":[\"t\"]},\"t\":\"2025-01-02T03:04:05Z\"}", 0,
		    RELAYAUTH_OK, true },
		{ "{\"x\":\"t\",\"y\":[\"t\",\"t\"],\"z\":\"\\\"t\",\"t\":\"2025-01-02T03:04:05Z\"}",
		    0, RELAYAUTH_OK, true },
	};
	unsigned char sk[64];
	struct relayauth_sig_time tm;
	const char *body = "Hello World!";
	char *sig, *bad;

	(void)state;
	load_sk(TEST_SEED, sk);
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		size_t len = hdrs[i].len ? hdrs[i].len : strlen(hdrs[i].hdr);
		enum relayauth_status st;

		sig = sign_raw(sk, hdrs[i].hdr, len, body);
		memset(&tm, 0x5a, sizeof(tm));
		st = relayauth_verify(TEST_PK, sig, body, strlen(body),
		    1735787045, 300, &tm);
		if (st != hdrs[i].want)
			fail_msg("header %zu \"%s\": %s, want %s", i,
			    hdrs[i].hdr, relayauth_status_str(st),
			    relayauth_status_str(hdrs[i].want));
		if (st == RELAYAUTH_OK)
			assert_int_equal(tm.has_time, hdrs[i].has_time);
		free(sig);
	}

	/* Encoding of the whole value. */
	sig = sign_raw(sk, "{}", 2, body);
	assert_int_equal(relayauth_verify(TEST_PK, sig, body, strlen(body), 0,
	    300, NULL), RELAYAUTH_OK);
	bad = malloc(strlen(sig) + 8);
	assert_non_null(bad);
	/* no dot: the 2018 header-less scheme */
	memcpy(bad, sig, 86);
	bad[86] = '\0';
	assert_int_equal(relayauth_verify(TEST_PK, bad, body, strlen(body), 0,
	    300, NULL), RELAYAUTH_BAD_ENCODING);
	/* a second dot, inside the header part */
	sprintf(bad, "%s.e30", sig);
	assert_int_equal(relayauth_verify(TEST_PK, bad, body, strlen(body), 0,
	    300, NULL), RELAYAUTH_BAD_ENCODING);
	/* 63-byte signature */
	sprintf(bad, "%.84s%s", sig, sig + 86);
	assert_int_equal(relayauth_verify(TEST_PK, bad, body, strlen(body), 0,
	    300, NULL), RELAYAUTH_BAD_ENCODING);
	/* padding on the header part */
	sprintf(bad, "%s=", sig);
	assert_int_equal(relayauth_verify(TEST_PK, bad, body, strlen(body), 0,
	    300, NULL), RELAYAUTH_BAD_ENCODING);
	/* empty header part: decodes to nothing, signature cannot match */
	sprintf(bad, "%.87s", sig);
	assert_int_equal(relayauth_verify(TEST_PK, bad, body, strlen(body), 0,
	    300, NULL), RELAYAUTH_BAD_SIGNATURE);
	/* a flipped signature byte */
	strcpy(bad, sig);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	assert_int_equal(relayauth_verify(TEST_PK, bad, body, strlen(body), 0,
	    300, NULL), RELAYAUTH_BAD_SIGNATURE);
	free(bad);
	free(sig);
	assert_int_equal(relayauth_verify(TEST_PK, "", body, strlen(body), 0,
	    300, NULL), RELAYAUTH_BAD_ENCODING);
	assert_int_equal(relayauth_verify(TEST_PK, ".", body, strlen(body), 0,
	    300, NULL), RELAYAUTH_BAD_ENCODING);
	assert_int_equal(relayauth_verify(TEST_PK, NULL, body, strlen(body), 0,
	    300, NULL), RELAYAUTH_BAD_ENCODING);
	/* An absurdly long header is refused without decoding it. */
	bad = malloc(20000);
	assert_non_null(bad);
	memset(bad, 'A', 19999);
	bad[86] = '.';
	bad[19999] = '\0';
	assert_int_equal(relayauth_verify(TEST_PK, bad, body, strlen(body), 0,
	    300, NULL), RELAYAUTH_BAD_ENCODING);
	free(bad);
}

static void
test_expiry_boundary(void **state)
{
	static const struct {
		int64_t			 age;	/* now - t, seconds */
		long			 nsec;
		int64_t			 max_age;
		enum relayauth_status	 want;
	} cases[] = {
		{ 0, 0, 300, RELAYAUTH_OK },
		{ 299, 0, 300, RELAYAUTH_OK },
		{ 300, 0, 300, RELAYAUTH_OK },		/* t == now - max_age */
		{ 301, 0, 300, RELAYAUTH_EXPIRED },
		{ 301, 999999999, 300, RELAYAUTH_EXPIRED },	/* 300.000000001 s */
		{ 300, 1, 300, RELAYAUTH_OK },
		{ -3600, 0, 300, RELAYAUTH_OK },	/* future: no skew check */
		{ 86400 * 365, 0, RELAYAUTH_NO_MAX_AGE, RELAYAUTH_OK },
		{ 0, 0, 0, RELAYAUTH_OK },
		{ 1, 0, 0, RELAYAUTH_EXPIRED },
		{ 59, 0, 60, RELAYAUTH_OK },
		{ 61, 0, 60, RELAYAUTH_EXPIRED },
	};
	const int64_t now = 1735787045;
	unsigned char sk[64];
	struct relayauth_sig_time tm;
	const char *body = "{}";
	char *sig;

	(void)state;
	load_sk(TEST_SEED, sk);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(relayauth_sign(sk, body, 2, now - cases[i].age,
		    cases[i].nsec, &sig), RELAYAUTH_OK);
		memset(&tm, 0, sizeof(tm));
		if (relayauth_verify(TEST_PK, sig, body, 2, now,
		    cases[i].max_age, &tm) != cases[i].want)
			fail_msg("age %lld.%09ld max_age %lld: want %s",
			    (long long)cases[i].age, cases[i].nsec,
			    (long long)cases[i].max_age,
			    relayauth_status_str(cases[i].want));
		/* Both outcomes report the time, for the log. */
		assert_true(tm.has_time);
		assert_int_equal(tm.sec, now - cases[i].age);
		free(sig);
	}
	/* No "t": never expires, whatever the age limit. */
	sig = sign_raw(sk, "{}", 2, body);
	assert_int_equal(relayauth_verify(TEST_PK, sig, body, 2, INT64_MAX, 0,
	    &tm), RELAYAUTH_OK);
	assert_false(tm.has_time);
	free(sig);
	/* now - max_age must not overflow. */
	assert_int_equal(relayauth_sign(sk, body, 2, 0, 0, &sig), RELAYAUTH_OK);
	assert_int_equal(relayauth_verify(TEST_PK, sig, body, 2, INT64_MIN,
	    300, NULL), RELAYAUTH_OK);
	assert_int_equal(relayauth_verify(TEST_PK, sig, body, 2, INT64_MAX,
	    INT64_MAX, NULL), RELAYAUTH_OK);
	free(sig);
}

/*
 * Relay and Sentry compare the header's t with now to the nanosecond
 * (chrono): a signature 300.4 s old is expired, although whole seconds
 * would call it 300 (issue 11, 8).
 */
static void
test_expiry_subsecond(void **state)
{
	static const struct {
		long			 t_nsec;	/* t = now - 300 s + this */
		enum relayauth_status	 want;
	} cases[] = {
		{ 400000000, RELAYAUTH_EXPIRED },	/* 300.4 s old */
		{ 799999999, RELAYAUTH_EXPIRED },	/* 300.000000001 s */
		{ 800000000, RELAYAUTH_OK },		/* exactly 300 s */
		{ 900000000, RELAYAUTH_OK },		/* 299.9 s */
		{ 0, RELAYAUTH_EXPIRED },		/* 300.8 s */
	};
	const int64_t now = 1735787045;
	const long now_nsec = 800000000;
	unsigned char sk[64];
	const char *body = "{}";
	char *sig;

	(void)state;
	load_sk(TEST_SEED, sk);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(relayauth_sign(sk, body, 2, now - 300,
		    cases[i].t_nsec, &sig), RELAYAUTH_OK);
		if (relayauth_verify_ns(TEST_PK, sig, body, 2, now, now_nsec,
		    300, NULL) != cases[i].want)
			fail_msg("t = now - 300 s + %ld ns, now .%09ld: want %s",
			    cases[i].t_nsec, now_nsec,
			    relayauth_status_str(cases[i].want));
		free(sig);
	}
	/* A whole-second now is the same as now_nsec 0. */
	assert_int_equal(relayauth_sign(sk, body, 2, now - 300, 1, &sig),
	    RELAYAUTH_OK);
	assert_int_equal(relayauth_verify(TEST_PK, sig, body, 2, now, 300,
	    NULL), RELAYAUTH_OK);
	assert_int_equal(relayauth_verify_ns(TEST_PK, sig, body, 2, now, 2,
	    300, NULL), RELAYAUTH_EXPIRED);
	free(sig);
}

/*
 * Swap the first '_' in s[0..n) for c.  Returns false when there is none.
 */
static bool
swap_underscore(char *s, size_t n, char c)
{
	char *u = memchr(s, '_', n);

	if (u == NULL)
		return false;
	*u = c;
	return true;
}

/*
 * One canonical text per key, signature and token: a byte >= 0x80 where
 * '_' belongs is refused everywhere (issue 11, 7).
 */
static void
test_b64url_high_bytes(void **state)
{
	static const char highs[] = { '\x80', '\xbf', '\xdf', '\xff' };
	unsigned char sk[64], pk[RELAYAUTH_PUBLIC_KEY_BYTES];
	char secret[RELAYAUTH_SECRET_KEY_LEN + 1];
	char pub[RELAYAUTH_PUBLIC_KEY_LEN + 1], bad[RELAYAUTH_PUBLIC_KEY_LEN + 1];
	const char *body = "{\"publicKeys\":[]}";
	char *sig = NULL, *tok = NULL, *colon;
	long nsec;
	int tries;

	(void)state;
	load_sk(TEST_SEED, sk);
	/* A signature with a '_' among its 86 signature characters. */
	for (nsec = 0; ; nsec++) {
		assert_true(nsec < 1000);
		assert_int_equal(relayauth_sign(sk, body, strlen(body),
		    1735787045, nsec, &sig), RELAYAUTH_OK);
		if (memchr(sig, '_', 86) != NULL)
			break;
		free(sig);
	}
	assert_int_equal(relayauth_verify(TEST_PK, sig, body, strlen(body), 0,
	    RELAYAUTH_NO_MAX_AGE, NULL), RELAYAUTH_OK);
	for (size_t i = 0; i < sizeof(highs); i++) {
		char *copy = strdup(sig);

		assert_non_null(copy);
		assert_true(swap_underscore(copy, 86, highs[i]));
		assert_int_equal(relayauth_verify(TEST_PK, copy, body,
		    strlen(body), 0, RELAYAUTH_NO_MAX_AGE, NULL),
		    RELAYAUTH_BAD_ENCODING);
		free(copy);
	}
	free(sig);

	/* A public key with a '_'. */
	for (tries = 0; ; tries++) {
		assert_true(tries < 1000);
		assert_int_equal(relayauth_keygen(secret, pub), 0);
		if (strchr(pub, '_') != NULL)
			break;
	}
	assert_int_equal(relayauth_public_key_parse(pub, pk), RELAYAUTH_OK);
	for (size_t i = 0; i < sizeof(highs); i++) {
		strcpy(bad, pub);
		assert_true(swap_underscore(bad, strlen(bad), highs[i]));
		assert_int_not_equal(relayauth_public_key_parse(bad, pk),
		    RELAYAUTH_OK);
		assert_false(relayauth_public_key_valid(bad));
	}
	/* Its secret key, too, when it has a '_'. */
	if (strchr(secret, '_') != NULL) {
		unsigned char sk2[64];

		strcpy(bad, secret);
		assert_true(swap_underscore(bad, strlen(bad), '\xff'));
		assert_int_not_equal(relayauth_secret_key_parse(bad, sk2),
		    RELAYAUTH_OK);
	}

	/* A register token whose MAC has a '_'. */
	for (tries = 0; ; tries++) {
		assert_true(tries < 1000);
		assert_int_equal(relayauth_token_create("secret", 6,
		    "6b7d15b8-cee2-4354-9fee-dae7ef43e434", TEST_PK, 1000,
		    &tok), RELAYAUTH_OK);
		colon = strchr(tok, ':');
		if (strchr(colon, '_') != NULL)
			break;
		free(tok);
	}
	assert_int_equal(relayauth_token_verify(tok, "secret", 6, 1000,
	    RELAYAUTH_NO_MAX_AGE, NULL), RELAYAUTH_OK);
	assert_true(swap_underscore(colon, strlen(colon), '\xff'));
	assert_int_equal(relayauth_token_verify(tok, "secret", 6, 1000,
	    RELAYAUTH_NO_MAX_AGE, NULL), RELAYAUTH_BAD_ENCODING);
	free(tok);
}

/*
 * Signed headers and token states are strict JSON too: what json-c alone
 * would take (issue 11, 6) does not verify.
 */
static void
test_strict_json_header(void **state)
{
	static const char *const headers[] = {
		"{'t':null}",
		"{\"t\":null,\"x\":\"\xc0\x80\"}",
		"{\"t\":null,\"x\":\"a\nb\"}",
		"{\"t\":null} x",
	};
	unsigned char sk[64];
	const char *body = "{}";
	char *sig;

	(void)state;
	load_sk(TEST_SEED, sk);
	sig = sign_raw(sk, "{\"t\":null}", 10, body);
	assert_int_equal(relayauth_verify(TEST_PK, sig, body, 2, 0,
	    RELAYAUTH_NO_MAX_AGE, NULL), RELAYAUTH_OK);
	free(sig);
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		sig = sign_raw(sk, headers[i], strlen(headers[i]), body);
		if (relayauth_verify(TEST_PK, sig, body, 2, 0,
		    RELAYAUTH_NO_MAX_AGE, NULL) != RELAYAUTH_BAD_HEADER)
			fail_msg("header %zu verified", i);
		free(sig);
	}
}

/* ------------------------------------------------------------------ */
/* relay ids */

static void
test_relay_id(void **state)
{
	static const char *const good[] = {
		"9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
		"9E8F1C2A-5B6D-4E7F-8A9B-0C1D2E3F4A5B",
		"9e8f1c2a5b6d4e7f8a9b0c1d2e3f4a5b",
		"{9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b}",
		"{{9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b}}",
		"}9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b{",
		"urn:uuid:9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
		"uuid:9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
		"urn:9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
		"{urn:uuid:9E8F1C2A5B6D4E7F8A9B0C1D2E3F4A5B}",
		/* replace() removes everywhere, hyphens anywhere */
		"9e8f1c2a-5b6d4e7f-8a9b-0c1d-2e3f4a5b",
		"9e-8f-1c-2a-5b-6d-4e-7f-8a-9b-0c-1d-2e-3f-4a-5b",
		"-9e8f1c2a5b6d4e7f8a9b0c1d2e3f4a5b-",
		"9e8f1c2aurn:5b6d4e7f8a9b0c1d2e3f4a5b",
		/* one pass each, in order: "urn:" goes, then "uuid:" */
		"uuurn:id:9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
		"urn:urn:uuid:9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
		"{-9e8f1c2a5b6d4e7f8a9b0c1d2e3f4a5b-}",
	};
	static const char *const bad[] = {
		"",
		"9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5",		/* 31 */
		"9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b0",	/* 33 */
		"9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5g",
		"{9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b}x",	/* strip ends only */
		"9e8f{1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
		"URN:UUID:9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",	/* case */
		"uuid-9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
		/* Python's int() would take these; refused on purpose */
		" 9e8f1c2a5b6d4e7f8a9b0c1d2e3f4a5",
		"9e8f1c2a5b6d4e7f8a9b0c1d2e3f4a5 ",
		"0x8f1c2a5b6d4e7f8a9b0c1d2e3f4a5b",
		"+e8f1c2a5b6d4e7f8a9b0c1d2e3f4a5b",
		"9e8f1c2a_b6d4e7f8a9b0c1d2e3f4a5b",
		"9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b\n",
		"not a uuid",
	};
	char out[RELAYAUTH_RELAY_ID_LEN + 1], longbuf[400];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(out, 0, sizeof(out));
		if (relayauth_relay_id_parse(good[i], out) != 0)
			fail_msg("\"%s\" refused", good[i]);
		assert_string_equal(out,
		    "9e8f1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(out, "untouched");
		if (relayauth_relay_id_parse(bad[i], out) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_string_equal(out, "untouched");
	}
	assert_int_equal(relayauth_relay_id_parse(NULL, out), -1);
	/* Any UUID, not only v4: Sentry's header parsing takes them all. */
	assert_int_equal(relayauth_relay_id_parse(
	    "00000000-0000-0000-0000-000000000000", out), 0);
	assert_string_equal(out, "00000000-0000-0000-0000-000000000000");
	/* Over 256 bytes is refused even when Python would strip it. */
	memset(longbuf, '{', sizeof(longbuf));
	memcpy(longbuf + 300, "9e8f1c2a5b6d4e7f8a9b0c1d2e3f4a5b", 32);
	longbuf[332] = '\0';
	assert_int_equal(relayauth_relay_id_parse(longbuf, out), -1);
	assert_int_equal(relayauth_relay_id_parse(longbuf + 100, out), 0);
}

static void
test_relay_id_generate(void **state)
{
	char a[RELAYAUTH_RELAY_ID_LEN + 1], b[RELAYAUTH_RELAY_ID_LEN + 1];
	char n[RELAYAUTH_RELAY_ID_LEN + 1];

	(void)state;
	assert_int_equal(relayauth_relay_id_generate(a), 0);
	assert_int_equal(relayauth_relay_id_generate(b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(relayauth_relay_id_parse(a, n), 0);
	assert_string_equal(a, n);		/* canonical already */
	assert_int_equal(a[14], '4');		/* version 4 */
	assert_non_null(strchr("89ab", a[19]));	/* RFC 4122 variant */
}

/* ------------------------------------------------------------------ */
/* keys */

static void
test_keys(void **state)
{
	unsigned char sk[64], pkb[32], mixed[32], order2[32], tmp[32];
	char txt[256];
	char secret[RELAYAUTH_SECRET_KEY_LEN + 1];
	char pk[RELAYAUTH_PUBLIC_KEY_LEN + 1], pk2[RELAYAUTH_PUBLIC_KEY_LEN + 1];

	(void)state;
	/* Relay's test_keys error cases. */
	assert_int_equal(relayauth_secret_key_parse("bad data", sk),
	    RELAYAUTH_BAD_ENCODING);
	assert_int_equal(relayauth_secret_key_parse("OvXF", sk),
	    RELAYAUTH_BAD_KEY);
	assert_int_equal(relayauth_secret_key_parse(NULL, sk),
	    RELAYAUTH_BAD_ENCODING);
	assert_int_equal(relayauth_secret_key_parse(TEST_SEED "=", sk),
	    RELAYAUTH_BAD_ENCODING);
	/* 86 characters whose public half is another key's. */
	load_sk(TEST_SEED, sk);
	memcpy(txt, TEST_SK64, 87);
	txt[60] = txt[60] == 'A' ? 'B' : 'A';
	assert_int_equal(relayauth_secret_key_parse(txt, sk),
	    RELAYAUTH_BAD_KEY);
	/* and sk was left alone */
	relayauth_public_key_of(sk, pk);
	assert_string_equal(pk, TEST_PK);

	/* Public keys. */
	assert_true(relayauth_public_key_valid(TEST_PK));
	assert_false(relayauth_public_key_valid(NULL));
	assert_false(relayauth_public_key_valid(""));
	assert_false(relayauth_public_key_valid(TEST_SEED "A"));
	assert_false(relayauth_public_key_valid("JOaR2bHZ31zYjFojC7UhPOidzfT3qOQgT9WEBw1JAK"));
	assert_false(relayauth_public_key_valid(TEST_PK "="));
	assert_false(relayauth_public_key_valid(" " TEST_PK));
	assert_false(relayauth_public_key_valid(TEST_SK64));
	assert_int_equal(relayauth_public_key_parse("not base64!", pkb),
	    RELAYAUTH_BAD_ENCODING);
	assert_int_equal(relayauth_public_key_parse("QUFB", pkb),
	    RELAYAUTH_BAD_KEY);
	/* 'V' leaves non-zero trailing bits: another text, same bytes */
	assert_int_equal(relayauth_public_key_parse(
	    "JOaR2bHZ31zYjFojC7UhPOidzfT3qOQgT9WEBw1JAKV", pkb),
	    RELAYAUTH_BAD_ENCODING);
	memset(txt, 'A', 200);
	txt[200] = '\0';
	assert_int_equal(relayauth_public_key_parse(txt, pkb),
	    RELAYAUTH_BAD_KEY);

	/*
	 * Decompress-only, like ed25519-dalek's VerifyingKey::from_bytes:
	 * small-order and mixed-order points are keys to Relay (though no
	 * signature ever verifies for a small-order one), a y with no x is
	 * not.
	 */
	memset(tmp, 0, 32);
	tmp[0] = 1;				/* the identity */
	relayauth_b64url_encode(txt, sizeof(txt), tmp, 32);
	assert_true(relayauth_public_key_valid(txt));
	assert_int_equal(crypto_core_ed25519_is_valid_point(tmp), 0);
	memset(order2, 0xff, 32);
	order2[0] = 0xec;
	order2[31] = 0x7f;			/* y = -1: order 2 */
	relayauth_b64url_encode(txt, sizeof(txt), order2, 32);
	assert_true(relayauth_public_key_valid(txt));
	assert_int_equal(relayauth_public_key_parse(TEST_PK, pkb), RELAYAUTH_OK);
	assert_int_equal(crypto_core_ed25519_add(mixed, pkb, order2), 0);
	assert_int_equal(crypto_core_ed25519_is_valid_point(mixed), 0);
	relayauth_b64url_encode(txt, sizeof(txt), mixed, 32);
	assert_true(relayauth_public_key_valid(txt));
	memset(tmp, 0, 32);
	tmp[0] = 2;				/* y = 2: not on the curve */
	relayauth_b64url_encode(txt, sizeof(txt), tmp, 32);
	assert_int_equal(relayauth_public_key_parse(txt, pkb),
	    RELAYAUTH_BAD_KEY);
	/* non-canonical y = p + 1 decodes as y = 1, as in dalek */
	memset(tmp, 0xff, 32);
	tmp[0] = 0xee;
	tmp[31] = 0x7f;
	relayauth_b64url_encode(txt, sizeof(txt), tmp, 32);
	assert_true(relayauth_public_key_valid(txt));

	/* keygen: Relay's 43-character seed and a matching public key. */
	assert_int_equal(relayauth_keygen(secret, pk), 0);
	assert_int_equal(strlen(secret), RELAYAUTH_SECRET_KEY_LEN);
	assert_int_equal(strlen(pk), RELAYAUTH_PUBLIC_KEY_LEN);
	assert_true(relayauth_public_key_valid(pk));
	load_sk(secret, sk);
	relayauth_public_key_of(sk, pk2);
	assert_string_equal(pk, pk2);
	assert_int_equal(relayauth_keygen(secret, pk2), 0);
	assert_string_not_equal(pk, pk2);
}

/*
 * relayauth_public_key_parse remembers keys that parsed: the answers must
 * stay those of the full parse, for remembered keys, for keys pushed out
 * of the memo, and for texts one character away from a remembered key.
 */
static void
test_public_key_memo(void **state)
{
	char secret[RELAYAUTH_SECRET_KEY_LEN + 1];
	char keys[20][RELAYAUTH_PUBLIC_KEY_LEN + 1], txt[64];
	unsigned char pk[RELAYAUTH_PUBLIC_KEY_BYTES], want[20][32], tmp[32];

	(void)state;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(relayauth_keygen(secret, keys[i]), 0);
		assert_int_equal(relayauth_b64url_decode(want[i], sizeof(want[i]),
		    keys[i], strlen(keys[i]), &(size_t){ 0 }), 0);
	}
	/* Twice round, more keys than the memo holds: always the bytes. */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 20; i++) {
			memset(pk, 0, sizeof(pk));
			assert_int_equal(relayauth_public_key_parse(keys[i], pk),
			    RELAYAUTH_OK);
			assert_memory_equal(pk, want[i], 32);
			/* and again at once, from the memo */
			memset(pk, 0, sizeof(pk));
			assert_int_equal(relayauth_public_key_parse(keys[i], pk),
			    RELAYAUTH_OK);
			assert_memory_equal(pk, want[i], 32);
		}
	/* A remembered key with one more character, or one less. */
	snprintf(txt, sizeof(txt), "%sA", keys[19]);
	assert_int_equal(relayauth_public_key_parse(txt, pk),
	    RELAYAUTH_BAD_KEY);
	snprintf(txt, sizeof(txt), "%.42s", keys[19]);
	assert_int_not_equal(relayauth_public_key_parse(txt, pk), RELAYAUTH_OK);
	/* A text that is not a point is refused however often it comes. */
	memset(tmp, 0, 32);
	tmp[0] = 2;
	relayauth_b64url_encode(txt, sizeof(txt), tmp, 32);
	for (int i = 0; i < 3; i++)
		assert_int_equal(relayauth_public_key_parse(txt, pk),
		    RELAYAUTH_BAD_KEY);
	/* The failures left pk alone. */
	assert_memory_equal(pk, want[19], 32);
}

/* ------------------------------------------------------------------ */
/* register tokens */

static void
test_token(void **state)
{
	static const char secret[] = "a long upstream secret, longer than "
	    "the 128-byte SHA-512 block so that HMAC hashes the key first: "
	    "0123456789abcdef0123456789abcdef0123456789abcdef";
	struct relayauth_register_state rs;
	char pk[RELAYAUTH_PUBLIC_KEY_LEN + 1], sk[RELAYAUTH_SECRET_KEY_LEN + 1];
	char *t1, *t2, *bad, *c;
	const int64_t now = 1735689600;

	(void)state;
	assert_true(sizeof(secret) > 129);
	assert_int_equal(relayauth_keygen(sk, pk), 0);
	assert_int_equal(relayauth_token_create(secret, sizeof(secret) - 1,
	    TEST_ID, pk, now, &t1), RELAYAUTH_OK);
	assert_int_equal(relayauth_token_create(secret, sizeof(secret) - 1,
	    TEST_ID, pk, now, &t2), RELAYAUTH_OK);
	assert_string_not_equal(t1, t2);	/* fresh rand each time */

	/* round trip */
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(relayauth_token_verify(t1, secret, sizeof(secret) - 1,
	    now + 60, 60, &rs), RELAYAUTH_OK);
	assert_int_equal(rs.timestamp, now);
	assert_string_equal(rs.relay_id, TEST_ID);
	assert_string_equal(rs.public_key, pk);
	/* expiry: timestamp + max_age < now */
	assert_int_equal(relayauth_token_verify(t1, secret, sizeof(secret) - 1,
	    now + 61, 60, &rs), RELAYAUTH_EXPIRED);
	assert_int_equal(relayauth_token_verify(t1, secret, sizeof(secret) - 1,
	    now + 86400, RELAYAUTH_NO_MAX_AGE, NULL), RELAYAUTH_OK);
	assert_int_equal(relayauth_token_verify(t1, secret, sizeof(secret) - 1,
	    now - 1000, 60, NULL), RELAYAUTH_OK);
	/* secrets */
	assert_int_equal(relayauth_token_verify(t1, secret, sizeof(secret) - 2,
	    now, 60, NULL), RELAYAUTH_BAD_SIGNATURE);
	assert_int_equal(relayauth_token_verify(t1, "secret", 6, now, 60,
	    NULL), RELAYAUTH_BAD_SIGNATURE);
	assert_int_equal(relayauth_token_verify(t1, "", 0, now, 60, NULL),
	    RELAYAUTH_BAD_KEY);

	/* tampering */
	bad = strdup(t1);
	assert_non_null(bad);
	bad[5] = bad[5] == 'A' ? 'B' : 'A';		/* state text */
	strcpy(&rs.relay_id[0], "untouched");
	assert_int_equal(relayauth_token_verify(bad, secret, sizeof(secret) - 1,
	    now, 60, &rs), RELAYAUTH_BAD_SIGNATURE);
	assert_string_equal(rs.relay_id, "untouched");
	strcpy(bad, t1);
	c = strchr(bad, ':');
	c[1] = c[1] == 'A' ? 'B' : 'A';			/* MAC */
	assert_int_equal(relayauth_token_verify(bad, secret, sizeof(secret) - 1,
	    now, 60, NULL), RELAYAUTH_BAD_SIGNATURE);
	strcpy(bad, t1);
	bad[strlen(bad) - 2] = '\0';			/* 63-byte MAC */
	assert_int_equal(relayauth_token_verify(bad, secret, sizeof(secret) - 1,
	    now, 60, NULL), RELAYAUTH_BAD_SIGNATURE);
	strcpy(bad, t1);
	bad[strlen(bad) - 1] = '\0';			/* not base64url */
	assert_int_equal(relayauth_token_verify(bad, secret, sizeof(secret) - 1,
	    now, 60, NULL), RELAYAUTH_BAD_ENCODING);
	strcpy(bad, t1);
	*strchr(bad, ':') = '.';	/* no ':': an empty MAC, as split() */
	assert_int_equal(relayauth_token_verify(bad, secret, sizeof(secret) - 1,
	    now, 60, NULL), RELAYAUTH_BAD_SIGNATURE);
	free(bad);
	assert_int_equal(relayauth_token_verify(NULL, secret, 3, now, 60, NULL),
	    RELAYAUTH_BAD_ENCODING);
	assert_int_equal(relayauth_token_verify("123", secret, 3, now, 60,
	    NULL), RELAYAUTH_BAD_SIGNATURE);	/* mini_sentry's token */
	free(t1);
	free(t2);

	/* creation refuses what it could not make right */
	t1 = (char *)"x";
	assert_int_equal(relayauth_token_create("s", 1,
	    "9E8F1C2A-5B6D-4E7F-8A9B-0C1D2E3F4A5B", pk, now, &t1),
	    RELAYAUTH_BAD_PAYLOAD);
	assert_null(t1);
	assert_int_equal(relayauth_token_create("s", 1, "nope", pk, now, &t1),
	    RELAYAUTH_BAD_PAYLOAD);
	assert_int_equal(relayauth_token_create("s", 1, TEST_ID, "nope", now,
	    &t1), RELAYAUTH_BAD_KEY);
	assert_int_equal(relayauth_token_create("s", 0, TEST_ID, pk, now, &t1),
	    RELAYAUTH_BAD_KEY);
	assert_null(t1);
}

/* MAC-valid tokens around states Relay's RegisterState would refuse. */
static void
test_token_payload(void **state)
{
	static const struct {
		const char		*json;
		enum relayauth_status	 want;
	} cases[] = {
		{ "{\"timestamp\":1735689600,\"relay_id\":\"" TEST_ID "\","
		    "\"public_key\":\"" TEST_PK "\",\"rand\":\"x\"}",
		    RELAYAUTH_OK },
		/* other forms of the id, extra fields, other order */
		{ "{\"rand\":\"\",\"extra\":[1],\"public_key\":\"" TEST_PK "\","
		    "\"relay_id\":\"{9E8F1C2A5B6D4E7F8A9B0C1D2E3F4A5B}\","
		    "\"timestamp\":1735689600}", RELAYAUTH_OK },
		{ "{\"timestamp\":1735689600,\"relay_id\":\"" TEST_ID "\","
		    "\"public_key\":\"" TEST_PK "\"}", RELAYAUTH_BAD_PAYLOAD },
		{ "{\"timestamp\":\"1735689600\",\"relay_id\":\"" TEST_ID "\","
		    "\"public_key\":\"" TEST_PK "\",\"rand\":\"x\"}",
		    RELAYAUTH_BAD_PAYLOAD },
		{ "{\"timestamp\":1735689600.5,\"relay_id\":\"" TEST_ID "\","
		    "\"public_key\":\"" TEST_PK "\",\"rand\":\"x\"}",
		    RELAYAUTH_BAD_PAYLOAD },
		{ "{\"timestamp\":1735689600,\"relay_id\":\"nope\","
		    "\"public_key\":\"" TEST_PK "\",\"rand\":\"x\"}",
		    RELAYAUTH_BAD_PAYLOAD },
		{ "{\"timestamp\":1735689600,\"relay_id\":\"" TEST_ID "\","
		    "\"public_key\":\"AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		    "\"rand\":\"x\"}", RELAYAUTH_BAD_PAYLOAD },
		{ "{\"timestamp\":1735689600,\"relay_id\":\"" TEST_ID "\","
		    "\"public_key\":\"" TEST_PK "\",\"rand\":null}",
		    RELAYAUTH_BAD_PAYLOAD },
		{ "[1735689600]", RELAYAUTH_BAD_PAYLOAD },
		{ "not json", RELAYAUTH_BAD_PAYLOAD },
		{ "", RELAYAUTH_BAD_PAYLOAD },
	};
	struct relayauth_register_state rs;
	char *tok;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum relayauth_status st;

		tok = token_over_json("secret", cases[i].json);
		st = relayauth_token_verify(tok, "secret", 6, 1735689600, 60,
		    &rs);
		if (st != cases[i].want)
			fail_msg("state %zu: %s, want %s", i,
			    relayauth_status_str(st),
			    relayauth_status_str(cases[i].want));
		if (st == RELAYAUTH_OK) {
			assert_string_equal(rs.relay_id, TEST_ID);
			assert_string_equal(rs.public_key, TEST_PK);
		}
		free(tok);
	}
	/* A good MAC over text that is not base64url. */
	tok = token_over("secret", "e30=");
	assert_int_equal(relayauth_token_verify(tok, "secret", 6, 0, 60, NULL),
	    RELAYAUTH_BAD_ENCODING);
	free(tok);
}

/* ------------------------------------------------------------------ */
/* relaycfgctl's relay commands */

static char tmpdir[64];

static const char *
ctl_path(void)
{
	static char path[4096];
	const char *top = getenv("top_builddir");

	if (top == NULL)
		fail_msg("top_builddir is not set: run through make check");
	snprintf(path, sizeof(path), "%s/ctl/relaycfgctl", top);
	if (access(path, X_OK) != 0)
		fail_msg("%s: %s", path, strerror(errno));
	return path;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static void
spit(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

/*
 * Run "relaycfgctl ARGS" (ARGS already shell-quoted) with stdin from
 * tmpdir/in when it exists; stdout and stderr land in tmpdir/out, err.
 */
static int
run_ctl(const char *fmt, ...)
{
	char args[4096], cmd[16384], in[128];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(in, sizeof(in), "%s/in", tmpdir);
	snprintf(cmd, sizeof(cmd), "'%s' %s <%s >%s/out 2>%s/err", ctl_path(),
	    args, access(in, R_OK) == 0 ? in : "/dev/null", tmpdir, tmpdir);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char *
ctl_out(const char *which)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, which);
	return slurp(path, NULL);
}

static int
cli_setup(void **state)
{
	char creds[512], path[128];

	(void)state;
	strcpy(tmpdir, "/tmp/relaycfg-auth-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(creds, sizeof(creds), "{\"secret_key\":\"%s\","
	    "\"public_key\":\"%s\",\"id\":\"%s\"}\n", TEST_SEED, TEST_PK,
	    TEST_ID);
	snprintf(path, sizeof(path), "%s/creds.json", tmpdir);
	spit(path, creds);
	return 0;
}

static int
cli_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
rm_in(void)
{
	char in[128];

	snprintf(in, sizeof(in), "%s/in", tmpdir);
	unlink(in);
}

static void
check_credentials_json(const char *text)
{
	json_object *o = json_tokener_parse(text), *v;
	unsigned char sk[64];
	char pk[RELAYAUTH_PUBLIC_KEY_LEN + 1], id[RELAYAUTH_RELAY_ID_LEN + 1];

	assert_non_null(o);
	assert_int_equal(json_object_object_length(o), 3);
	assert_true(json_object_object_get_ex(o, "secret_key", &v));
	assert_int_equal(json_object_get_string_len(v), 43);
	load_sk(json_object_get_string(v), sk);
	relayauth_public_key_of(sk, pk);
	assert_string_equal(jstr(o, "public_key"), pk);
	assert_int_equal(relayauth_relay_id_parse(jstr(o, "id"), id), 0);
	assert_string_equal(jstr(o, "id"), id);
	assert_int_equal(id[14], '4');
	/* Relay's field order. */
	assert_true(strstr(text, "secret_key") < strstr(text, "public_key"));
	assert_true(strstr(text, "public_key") < strstr(text, "\"id\""));
	json_object_put(o);
}

static void
test_cli_keygen(void **state)
{
	char path[128], cmd[256], *a, *b, *out;
	struct stat sb;

	(void)state;
	rm_in();
	assert_int_equal(run_ctl("keygen"), 0);
	out = ctl_out("out");
	check_credentials_json(out);
	free(out);

	snprintf(path, sizeof(path), "%s/new.json", tmpdir);
	assert_int_equal(run_ctl("keygen --output '%s'", path), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	a = slurp(path, NULL);
	check_credentials_json(a);
	out = ctl_out("out");
	assert_string_equal(out, "");			/* secret not echoed */
	free(out);
	/* an existing file is kept unless --force */
	assert_int_equal(run_ctl("keygen --output '%s'", path), 1);
	out = ctl_out("err");
	assert_non_null(strstr(out, "--force"));
	free(out);
	b = slurp(path, NULL);
	assert_string_equal(a, b);
	free(b);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(run_ctl("keygen --force --output '%s'", path), 0);
	b = slurp(path, NULL);
	check_credentials_json(b);
	assert_string_not_equal(a, b);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	free(a);
	free(b);
	/* a failed replace leaves no temporary file behind */
	snprintf(path, sizeof(path), "%s/adir", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(run_ctl("keygen --force --output '%s'", path), 1);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' | grep -v "
	    "-x -e in -e out -e err -e creds.json -e new.json -e adir)\"",
	    tmpdir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(run_ctl("keygen --output /dev/null/x"), 1);
	/* usage */
	assert_int_equal(run_ctl("keygen --bogus"), 2);
	assert_int_equal(run_ctl("keygen --force"), 2);
	assert_int_equal(run_ctl("keygen --help"), 0);
	out = ctl_out("out");
	assert_non_null(strstr(out, "usage: relaycfgctl keygen"));
	free(out);
}

static void
test_cli_sign(void **state)
{
	char in[128], *out;
	json_object *v = NULL, *sigs;

	(void)state;
	snprintf(in, sizeof(in), "%s/in", tmpdir);
	/* D1, byte for byte */
	spit(in, "Hello World!");
	assert_int_equal(run_ctl("sign --credentials %s/creds.json "
	    "--time 1577836800", tmpdir), 0);
	out = ctl_out("out");
	sigs = jget(get_vectors(), "signatures");
	for (size_t i = 0; i < json_object_array_length(sigs); i++)
		if (strcmp(jstr(json_object_array_get_idx(sigs, i), "id"),
		    "D1") == 0)
			v = json_object_array_get_idx(sigs, i);
	assert_non_null(v);
	assert_int_equal(out[strlen(out) - 1], '\n');
	out[strlen(out) - 1] = '\0';
	assert_string_equal(out, jstr(v, "signature"));
	free(out);

	/* now, with the 86-character secret form */
	spit(in, "{\"secret_key\":\"" TEST_SK64 "\",\"public_key\":\"" TEST_PK
	    "\",\"id\":\"" TEST_ID "\"}");
	{
		char c2[128];

		snprintf(c2, sizeof(c2), "%s/creds64.json", tmpdir);
		rename(in, c2);
	}
	spit(in, "{\"publicKeys\":[]}");
	assert_int_equal(run_ctl("sign --credentials %s/creds64.json",
	    tmpdir), 0);
	out = ctl_out("out");
	out[strcspn(out, "\n")] = '\0';
	assert_int_equal(relayauth_verify(TEST_PK, out, "{\"publicKeys\":[]}",
	    17, (int64_t)time(NULL), 300, NULL), RELAYAUTH_OK);
	free(out);

	/* bad credentials: a mismatched public key, never the secret */
	spit(in, "{\"secret_key\":\"" TEST_SEED "\",\"public_key\":"
	    "\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"id\":\"" TEST_ID
	    "\"}");
	{
		char c3[128];

		snprintf(c3, sizeof(c3), "%s/bad.json", tmpdir);
		rename(in, c3);
	}
	assert_int_equal(run_ctl("sign --credentials %s/bad.json", tmpdir), 1);
	out = ctl_out("err");
	assert_non_null(strstr(out, "public_key"));
	assert_null(strstr(out, TEST_SEED));
	free(out);
	assert_int_equal(run_ctl("sign --credentials %s/missing.json", tmpdir),
	    1);
	assert_int_equal(run_ctl("sign"), 2);
	assert_int_equal(run_ctl("sign --credentials x --time soon"), 2);
	rm_in();
}

/* ---- a one-shot HTTP server: n requests, canned answers ---- */

struct canned {
	int		 status;
	const char	*body;
};

struct captured {
	char	*head;		/* request line and headers */
	char	*body;
	size_t	 body_len;
};

struct server {
	int	port;
	pid_t	pid;
	int	n;
};

static void
serve_one(int lfd, const struct canned *a, const char *capfile)
{
	char buf[1 << 16], resp[1 << 12];
	size_t len = 0, need = 0;
	char *end = NULL, *cl;
	int fd;
	FILE *fp;

	if ((fd = accept(lfd, NULL, NULL)) < 0)
		_exit(3);
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (r <= 0)
			_exit(4);
		len += (size_t)r;
		buf[len] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			need = (size_t)(end + 4 - buf);
			if ((cl = strcasestr(buf, "\r\ncontent-length:")) !=
			    NULL && cl < end)
				need += strtoul(cl + 17, NULL, 10);
		}
		if (end != NULL && len >= need)
			break;
	}
	if ((fp = fopen(capfile, "wb")) == NULL)
		_exit(5);
	fwrite(buf, 1, len, fp);
	fclose(fp);
	snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", a->status, strlen(a->body),
	    a->body);
	if (write(fd, resp, strlen(resp)) < 0)
		_exit(6);
	close(fd);
}

static void
server_start(struct server *s, const struct canned *answers, int n)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	char cap[128];
	int lfd, one = 1;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	s->port = ntohs(sin.sin_port);
	s->n = n;
	fflush(NULL);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		alarm(60);	/* never outlive a broken test */
		for (int i = 0; i < n; i++) {
			snprintf(cap, sizeof(cap), "%s/req%d", tmpdir, i);
			serve_one(lfd, &answers[i], cap);
		}
		_exit(0);
	}
	close(lfd);
}

/* Reap the server; it must have served all its requests. */
static void
server_stop(struct server *s, bool must_finish)
{
	int st = 0;

	for (int i = 0; i < 50; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid)
			goto reaped;
		usleep(100000);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	if (must_finish)
		fail_msg("test server did not see all %d requests", s->n);
	return;
reaped:
	if (must_finish && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		fail_msg("test server failed (status %d)", st);
}

static void
captured_load(int i, struct captured *c)
{
	char path[128], *raw, *sep;
	size_t len;

	snprintf(path, sizeof(path), "%s/req%d", tmpdir, i);
	raw = slurp(path, &len);
	sep = strstr(raw, "\r\n\r\n");
	assert_non_null(sep);
	*sep = '\0';
	c->head = raw;
	c->body = sep + 4;
	c->body_len = len - (size_t)(c->body - raw);
	unlink(path);
}

/* The value of header name in c (first one), or NULL; points into head. */
static char *
captured_header(const struct captured *c, const char *name, char *buf,
    size_t buflen)
{
	char pat[128], *p, *e;

	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	if ((p = strcasestr(c->head, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	e = strstr(p, "\r\n");
	snprintf(buf, buflen, "%.*s", (int)(e != NULL ? e - p : (long)strlen(p)),
	    p);
	return buf;
}

/*
 * A request relaycfgctl sent: as Relay sends it, signed by the test keys;
 * fresh when signed just now (no --time).
 */
static void
check_sent(const struct captured *c, const char *request_line,
    const char *body, bool fresh)
{
	char v[1024];

	if (strncmp(c->head, request_line, strlen(request_line)) != 0)
		fail_msg("request \"%.80s\", want \"%s\"", c->head,
		    request_line);
	if (body != NULL) {
		if (c->body_len != strlen(body) ||
		    memcmp(c->body, body, c->body_len) != 0)
			fail_msg("body \"%.*s\", want \"%s\"",
			    (int)c->body_len, c->body, body);
	}
	assert_non_null(captured_header(c, "content-type", v, sizeof(v)));
	assert_string_equal(v, "application/json");
	assert_non_null(captured_header(c, "x-sentry-relay-id", v, sizeof(v)));
	assert_string_equal(v, TEST_ID);
	assert_non_null(captured_header(c, "accept-encoding", v, sizeof(v)));
	assert_non_null(strstr(v, "gzip"));
	assert_null(captured_header(c, "transfer-encoding", v, sizeof(v)));
	assert_null(captured_header(c, "expect", v, sizeof(v)));
	assert_non_null(captured_header(c, "x-sentry-relay-signature", v,
	    sizeof(v)));
	assert_int_equal(relayauth_verify(TEST_PK, v, c->body, c->body_len,
	    (int64_t)time(NULL), fresh ? 300 : RELAYAUTH_NO_MAX_AGE, NULL),
	    RELAYAUTH_OK);
}

static void
test_cli_fetch(void **state)
{
	static const char d3[] = "{\"publicKeys\":"
	    "[\"a94ae32be2584e0bbd7a4cbb95971fee\"],\"revisions\":[null],"
	    "\"fullConfig\":false,\"noCache\":false}";
	static const struct canned ok[] = {
		{ 200, "{\"configs\":{},\"pending\":[]}" },
	};
	static const struct canned denied[] = {
		{ 401, "{\"detail\":\"Invalid relay signature\"}" },
	};
	struct server s;
	struct captured c;
	char *out, v[256], bodyf[128];

	(void)state;
	rm_in();
	/* D3's body exactly, signed as of --time: reproduces D3's header */
	server_start(&s, ok, 1);
	assert_int_equal(run_ctl("fetch --upstream http://127.0.0.1:%d/ "
	    "--credentials %s/creds.json --time 1735787045 "
	    "a94ae32be2584e0bbd7a4cbb95971fee", s.port, tmpdir), 0);
	server_stop(&s, true);
	captured_load(0, &c);
	check_sent(&c, "POST /api/0/relays/projectconfigs/?version=3 HTTP/1.1",
	    d3, false);
	captured_header(&c, "x-sentry-relay-signature", v, sizeof(v));
	assert_string_equal(strchr(v, '.') + 1,
	    "eyJ0IjoiMjAyNS0wMS0wMlQwMzowNDowNVoifQ");
	free(c.head);
	out = ctl_out("out");
	assert_string_equal(out, "{\"configs\":{},\"pending\":[]}\n");
	free(out);

	/* global only: GetGlobalConfig's body; no trailing slash is fine */
	server_start(&s, ok, 1);
	assert_int_equal(run_ctl("fetch --upstream http://127.0.0.1:%d "
	    "--credentials %s/creds.json --global", s.port, tmpdir), 0);
	server_stop(&s, true);
	captured_load(0, &c);
	check_sent(&c, "POST /api/0/relays/projectconfigs/?version=3 ",
	    "{\"global\":true,\"publicKeys\":[]}", true);
	free(c.head);

	/* everything at once */
	server_start(&s, ok, 1);
	assert_int_equal(run_ctl("fetch --upstream http://127.0.0.1:%d/ "
	    "--credentials %s/creds.json --global --no-cache --full-config "
	    "--revision k2=r2 --revision k1=old --revision k1=r1 "
	    "--header 'X-Forwarded-For: 10.1.2.3' --version 2 k1 k2 k3",
	    s.port, tmpdir), 0);
	server_stop(&s, true);
	captured_load(0, &c);
	check_sent(&c, "POST /api/0/relays/projectconfigs/?version=2 ",
	    "{\"publicKeys\":[\"k1\",\"k2\",\"k3\"],"
	    "\"revisions\":[\"r1\",\"r2\",null],\"fullConfig\":true,"
	    "\"noCache\":true,\"global\":true}", true);
	assert_non_null(captured_header(&c, "x-forwarded-for", v, sizeof(v)));
	assert_string_equal(v, "10.1.2.3");
	free(c.head);

	/* version 1: project ids */
	server_start(&s, ok, 1);
	assert_int_equal(run_ctl("fetch --upstream http://127.0.0.1:%d/ "
	    "--credentials %s/creds.json --version 1 42 7 x", s.port, tmpdir),
	    0);
	server_stop(&s, true);
	captured_load(0, &c);
	check_sent(&c, "POST /api/0/relays/projectconfigs/?version=1 ",
	    "{\"projects\":[42,7,\"x\"]}", true);
	free(c.head);

	/* an error status: exit 1 with it on stderr, or --status */
	server_start(&s, denied, 1);
	assert_int_equal(run_ctl("fetch --upstream http://127.0.0.1:%d/ "
	    "--credentials %s/creds.json k1", s.port, tmpdir), 1);
	server_stop(&s, true);
	captured_load(0, &c);
	free(c.head);
	out = ctl_out("err");
	assert_string_equal(out,
	    "HTTP 401\n{\"detail\":\"Invalid relay signature\"}\n");
	free(out);
	out = ctl_out("out");
	assert_string_equal(out, "");
	free(out);
	server_start(&s, denied, 1);
	assert_int_equal(run_ctl("fetch --status --upstream http://127.0.0.1:%d/"
	    " --credentials %s/creds.json k1", s.port, tmpdir), 0);
	server_stop(&s, true);
	captured_load(0, &c);
	free(c.head);
	out = ctl_out("out");
	assert_string_equal(out,
	    "401\n{\"detail\":\"Invalid relay signature\"}\n");
	free(out);

	/* a raw body, still signed; a header replaced and one removed */
	snprintf(bodyf, sizeof(bodyf), "%s/body", tmpdir);
	spit(bodyf, "{not json");
	server_start(&s, ok, 1);
	assert_int_equal(run_ctl("fetch --upstream http://127.0.0.1:%d/ "
	    "--credentials %s/creds.json --body-file %s "
	    "--header 'X-Sentry-Relay-Id: 11111111-2222-4333-8444-555555555555' "
	    "--header 'Content-Type:'", s.port, tmpdir, bodyf), 0);
	server_stop(&s, true);
	captured_load(0, &c);
	assert_int_equal(c.body_len, 9);
	assert_memory_equal(c.body, "{not json", 9);
	assert_non_null(captured_header(&c, "x-sentry-relay-signature", v,
	    sizeof(v)));
	assert_int_equal(relayauth_verify(TEST_PK, v, c.body, c.body_len,
	    (int64_t)time(NULL), 300, NULL), RELAYAUTH_OK);
	assert_non_null(captured_header(&c, "x-sentry-relay-id", v, sizeof(v)));
	assert_string_equal(v, "11111111-2222-4333-8444-555555555555");
	assert_null(strcasestr(c.head, "\r\nx-sentry-relay-id: " TEST_ID));
	assert_null(captured_header(&c, "content-type", v, sizeof(v)));
	free(c.head);
	server_start(&s, ok, 1);
	assert_int_equal(run_ctl("fetch --upstream http://127.0.0.1:%d/ "
	    "--credentials %s/creds.json --header 'X-Sentry-Relay-Signature:' "
	    "k1", s.port, tmpdir), 0);
	server_stop(&s, true);
	captured_load(0, &c);
	assert_null(captured_header(&c, "x-sentry-relay-signature", v,
	    sizeof(v)));
	free(c.head);

	/* no answer: exit 1, no usage */
	assert_int_equal(run_ctl("fetch --upstream http://127.0.0.1:1/ "
	    "--credentials %s/creds.json k1", tmpdir), 1);
	/* usage errors */
	assert_int_equal(run_ctl("fetch --credentials %s/creds.json k1",
	    tmpdir), 2);
	assert_int_equal(run_ctl("fetch --upstream http://x/ "
	    "--credentials %s/creds.json", tmpdir), 2);
	assert_int_equal(run_ctl("fetch --upstream http://x/ --credentials "
	    "%s/creds.json --revision nokey k1", tmpdir), 2);
	/* a revision that would go nowhere is a usage error, said */
	assert_int_equal(run_ctl("fetch --upstream http://x/ --credentials "
	    "%s/creds.json --revision k9=r k1 k2", tmpdir), 2);
	out = ctl_out("err");
	assert_non_null(strstr(out, "--revision k9=...: k9 is not among the "
	    "keys asked for"));
	free(out);
	assert_int_equal(run_ctl("fetch --upstream http://x/ --credentials "
	    "%s/creds.json --version 1 --revision k1=r k1", tmpdir), 2);
	assert_int_equal(run_ctl("fetch --upstream http://x/ --credentials "
	    "%s/creds.json --body-file %s/creds.json --revision k1=r",
	    tmpdir, tmpdir), 2);
	assert_int_equal(run_ctl("fetch --help"), 0);
}

static void
test_cli_register(void **state)
{
	static const struct canned ok[] = {
		/* the upstream may hand back another id; Relay echoes it */
		{ 200, "{\"relay_id\":\"11111111-2222-4333-8444-555555555555\","
		    "\"token\":\"tok:123\",\"extra\":1}" },
		{ 200, "{\"relay_id\":\"11111111-2222-4333-8444-555555555555\"}" },
	};
	static const struct canned refused[] = {
		{ 403, "{\"detail\":\"relay not allowed\",\"relay\":\"stop\"}" },
	};
	static const struct canned no_token[] = {
		{ 200, "{\"relay_id\":\"" TEST_ID "\"}" },
	};
	struct server s;
	struct captured c;
	char *out;

	(void)state;
	rm_in();
	server_start(&s, ok, 2);
	assert_int_equal(run_ctl("register --upstream http://127.0.0.1:%d/ "
	    "--credentials %s/creds.json --version 25.11.0", s.port, tmpdir),
	    0);
	server_stop(&s, true);
	captured_load(0, &c);
	check_sent(&c, "POST /api/0/relays/register/challenge/ HTTP/1.1",
	    "{\"relay_id\":\"" TEST_ID "\",\"public_key\":\"" TEST_PK "\","
	    "\"version\":\"25.11.0\"}", true);
	free(c.head);
	captured_load(1, &c);
	check_sent(&c, "POST /api/0/relays/register/response/ HTTP/1.1",
	    "{\"relay_id\":\"11111111-2222-4333-8444-555555555555\","
	    "\"token\":\"tok:123\",\"version\":\"25.11.0\"}", true);
	free(c.head);
	out = ctl_out("out");
	assert_string_equal(out,
	    "{\"relay_id\":\"11111111-2222-4333-8444-555555555555\"}\n");
	free(out);

	/* denied at the challenge: no second request */
	server_start(&s, refused, 1);
	assert_int_equal(run_ctl("register --upstream http://127.0.0.1:%d "
	    "--credentials %s/creds.json", s.port, tmpdir), 1);
	server_stop(&s, true);
	captured_load(0, &c);
	assert_non_null(strstr(c.body, "\"version\":\"25.11.0\""));
	free(c.head);
	out = ctl_out("err");
	assert_non_null(strstr(out, "HTTP 403\n"));
	assert_non_null(strstr(out, "\"relay\":\"stop\""));
	free(out);

	/* a challenge answer without a token */
	server_start(&s, no_token, 1);
	assert_int_equal(run_ctl("register --upstream http://127.0.0.1:%d "
	    "--credentials %s/creds.json", s.port, tmpdir), 1);
	server_stop(&s, true);
	captured_load(0, &c);
	free(c.head);
	assert_int_equal(run_ctl("register --upstream http://x/"), 2);
}

static void
test_cli_publickeys(void **state)
{
	static const struct canned ok[] = {
		{ 200, "{\"relays\":{},\"public_keys\":{}}" },
	};
	struct server s;
	struct captured c;

	(void)state;
	rm_in();
	server_start(&s, ok, 1);
	assert_int_equal(run_ctl("publickeys --upstream http://127.0.0.1:%d/ "
	    "--credentials %s/creds.json " TEST_ID " not-a-uuid", s.port,
	    tmpdir), 0);
	server_stop(&s, true);
	captured_load(0, &c);
	check_sent(&c, "POST /api/0/relays/publickeys/ HTTP/1.1",
	    "{\"relay_ids\":[\"" TEST_ID "\",\"not-a-uuid\"]}", true);
	free(c.head);
	assert_int_equal(run_ctl("publickeys --upstream http://x/ "
	    "--credentials %s/creds.json", tmpdir), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_keys),
		cmocka_unit_test(test_vectors_signatures),
		cmocka_unit_test(test_vectors_register_flow),
		cmocka_unit_test(test_vectors_tokens),
		cmocka_unit_test(test_vectors_http_examples),
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_verify_malformed),
		cmocka_unit_test(test_expiry_boundary),
		cmocka_unit_test(test_expiry_subsecond),
		cmocka_unit_test(test_b64url_high_bytes),
		cmocka_unit_test(test_strict_json_header),
		cmocka_unit_test(test_relay_id),
		cmocka_unit_test(test_relay_id_generate),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_token_payload),
		cmocka_unit_test(test_public_key_memo),
		cmocka_unit_test_setup_teardown(test_cli_keygen, cli_setup,
		    cli_teardown),
		cmocka_unit_test_setup_teardown(test_cli_sign, cli_setup,
		    cli_teardown),
		cmocka_unit_test_setup_teardown(test_cli_fetch, cli_setup,
		    cli_teardown),
		cmocka_unit_test_setup_teardown(test_cli_register, cli_setup,
		    cli_teardown),
		cmocka_unit_test_setup_teardown(test_cli_publickeys, cli_setup,
		    cli_teardown),
	};
	int rc;

	if (relayauth_init() != 0) {
		fprintf(stderr, "libsodium cannot start\n");
		return 1;
	}
	/* One group: TAP allows one plan per stream. */
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	json_object_put(vectors);
	return rc;
}
