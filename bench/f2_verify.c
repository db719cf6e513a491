/*
 * f2_verify.c - F2, the crypto floor: what checking one Relay signature
 * costs, in microseconds per operation.
 *
 * The body is a typical request: GetProjectStates with --batch keys (100
 * by default) as Relay serialises it, signed with relayauth_sign.  Two
 * figures, each the median (and min, max) of --runs runs:
 *	ed25519_us  libsodium's crypto_sign_verify_detached over
 *	            header || 0x00 || body: the floor proper;
 *	verify_us   relayauth_verify, what relaycfg runs per request
 *	            (base64url decoding, the Ed25519 check, the header's
 *	            JSON and its age);
 *	keyparse_us relayauth_public_key_parse alone (base64url and the
 *	            curve-point check), which relayauth_verify repeats for
 *	            every request.
 *
 *	f2_verify --credentials FILE [--keys FILE] [--batch N] [--runs R]
 *	          [--seconds S]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "bench_common.h"

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char *credp = NULL, *keysp = NULL;
	size_t batch = 100, nkeys = 0, blen, *idx;
	int runs = 3;
	double secs = 0.3, ed[32], rv[32], kp[32];
	struct bench_creds c;
	char **keys, *body, *sig, *dot;
	unsigned char sigbin[64], *msg, pk[32];
	size_t hlen, siglen, mlen;
	struct timespec ts;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			goto usage;
		if (strcmp(argv[i], "--credentials") == 0)
			credp = argv[++i];
		else if (strcmp(argv[i], "--keys") == 0)
			keysp = argv[++i];
		else if (strcmp(argv[i], "--batch") == 0)
			batch = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--runs") == 0)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seconds") == 0)
			secs = atof(argv[++i]);
		else
			goto usage;
	}
	if (credp == NULL || runs < 1 || runs > 32 || batch < 1)
		goto usage;
	if (relayauth_init() != 0)
		bench_die("libsodium does not start");
	bench_creds_load(credp, &c);
	if (keysp != NULL)
		keys = bench_keys_load(keysp, &nkeys);
	else {
		/* Keys shaped like Sentry's (uuid4().hex). */
		nkeys = batch;
		if ((keys = calloc(nkeys, sizeof(*keys))) == NULL)
			bench_die("out of memory");
		for (size_t i = 0; i < nkeys; i++) {
			unsigned char r[16];
			keys[i] = malloc(33);
			randombytes_buf(r, sizeof(r));
			sodium_bin2hex(keys[i], 33, r, sizeof(r));
		}
	}
	if (batch > nkeys)
		batch = nkeys;
	if ((idx = calloc(batch, sizeof(*idx))) == NULL)
		bench_die("out of memory");
	for (size_t i = 0; i < batch; i++)
		idx[i] = i;
	body = bench_body_keys(keys, idx, batch, NULL, &blen);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (relayauth_sign(c.sk, body, blen, (int64_t)ts.tv_sec, ts.tv_nsec,
	    &sig) != RELAYAUTH_OK)
		bench_die("relayauth_sign failed");

	/* The raw Ed25519 message: header bytes || 0x00 || body. */
	if ((dot = strchr(sig, '.')) == NULL ||
	    relayauth_b64url_decode(sigbin, sizeof(sigbin), sig,
	    (size_t)(dot - sig), &siglen) != 0 || siglen != 64)
		bench_die("unexpected signature format");
	hlen = strlen(dot + 1);
	if ((msg = malloc(hlen + 1 + blen)) == NULL)
		bench_die("out of memory");
	if (relayauth_b64url_decode(msg, hlen, dot + 1, hlen, &hlen) != 0)
		bench_die("unexpected signature header");
	msg[hlen] = 0;
	memcpy(msg + hlen + 1, body, blen);
	mlen = hlen + 1 + blen;
	if (relayauth_public_key_parse(c.public_key, pk) != RELAYAUTH_OK)
		bench_die("bad public key");

	for (int r = 0; r < runs; r++) {
		uint64_t t0, t1, n = 0, end;

		end = bench_now_ns() + (uint64_t)(secs * 1e9);
		t0 = bench_now_ns();
		do {
			for (int k = 0; k < 64; k++)
				if (crypto_sign_verify_detached(sigbin, msg,
				    mlen, pk) != 0)
					bench_die("verify failed");
			n += 64;
		} while ((t1 = bench_now_ns()) < end);
		ed[r] = (double)(t1 - t0) / 1e3 / (double)n;

		n = 0;
		end = bench_now_ns() + (uint64_t)(secs * 1e9);
		t0 = bench_now_ns();
		do {
			for (int k = 0; k < 64; k++)
				if (relayauth_verify(c.public_key, sig, body,
				    blen, (int64_t)time(NULL), 300, NULL) !=
				    RELAYAUTH_OK)
					bench_die("relayauth_verify failed");
			n += 64;
		} while ((t1 = bench_now_ns()) < end);
		rv[r] = (double)(t1 - t0) / 1e3 / (double)n;

		n = 0;
		end = bench_now_ns() + (uint64_t)(secs * 1e9);
		t0 = bench_now_ns();
		do {
			for (int k = 0; k < 64; k++)
				if (relayauth_public_key_parse(c.public_key, pk)
				    != RELAYAUTH_OK)
					bench_die("key parse failed");
			n += 64;
		} while ((t1 = bench_now_ns()) < end);
		kp[r] = (double)(t1 - t0) / 1e3 / (double)n;
	}
	qsort(ed, (size_t)runs, sizeof(double), cmp_dbl);
	qsort(rv, (size_t)runs, sizeof(double), cmp_dbl);
	qsort(kp, (size_t)runs, sizeof(double), cmp_dbl);
	printf("summary label=F2 runs=%d batch=%zu body_bytes=%zu "
	    "ed25519_us_med=%.2f ed25519_us_min=%.2f ed25519_us_max=%.2f "
	    "verify_us_med=%.2f verify_us_min=%.2f verify_us_max=%.2f "
	    "keyparse_us_med=%.2f keyparse_us_min=%.2f keyparse_us_max=%.2f\n",
	    runs, batch, blen, ed[runs / 2], ed[0], ed[runs - 1],
	    rv[runs / 2], rv[0], rv[runs - 1], kp[runs / 2], kp[0],
	    kp[runs - 1]);
	return 0;
usage:
	fputs("usage: f2_verify --credentials FILE [--keys FILE] [--batch N] "
	    "[--runs R] [--seconds S]\n", stderr);
	return 2;
}
