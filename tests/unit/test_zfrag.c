/*
 * test_zfrag.c - precompressed fragments joined into gzip and identity
 * bodies: what a client inflates is exactly the text, counting gives the
 * length that writing then produces, and damage is reported, not hidden.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "zfrag.h"

struct sink {
	unsigned char	*buf;
	size_t		 len, cap;
	size_t		 fail_after;	/* 0: never fail */
};

static int
sink_put(void *arg, const void *p, size_t n)
{
	struct sink *s = arg;

	if (s->fail_after != 0 && s->len + n > s->fail_after)
		return -1;
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->buf = realloc(s->buf, s->cap);
		assert_non_null(s->buf);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* Inflate a whole gzip body with zlib's gzip decoder (16 + 15). */
static char *
gunzip(const unsigned char *gz, size_t len, size_t *out_len)
{
	z_stream z;
	size_t cap = 1 << 20;
	char *out = malloc(cap);
	int rc;

	assert_non_null(out);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 16 + 15), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)gz;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	rc = inflate(&z, Z_FINISH);
	assert_int_equal(rc, Z_STREAM_END);	/* trailer CRC and size checked */
	assert_int_equal(z.avail_in, 0);	/* one member, nothing after */
	*out_len = cap - z.avail_out;
	inflateEnd(&z);
	return out;
}

/* A config-like text of about n bytes. */
static char *
sample_text(size_t n, unsigned seed)
{
	char *t = malloc(n + 1);
	size_t o = 0;

	assert_non_null(t);
	while (o < n) {
		int k = snprintf(t + o, n + 1 - o,
		    "{\"slug\":\"project-%u\",\"threshold\":%u,\"on\":true},",
		    seed, (unsigned)(o * 2654435761u) % 1000);
		o += (size_t)k;
		seed = seed * 1103515245u + 12345u;
	}
	t[n] = '\0';
	return t;
}

struct piece {
	bool		 frag;
	const char	*text;
	size_t		 len;
	struct zfrag	 f;
	unsigned char	*mem;
};

/* Run the pieces through a body; returns what was produced. */
static size_t
run_body(struct piece *p, size_t n, bool gzip, struct sink *s, int *rc)
{
	struct zbody b;

	zbody_begin(&b, gzip, s != NULL ? sink_put : NULL, s);
	for (size_t i = 0; i < n; i++) {
		if (p[i].frag)
			zbody_frag(&b, &p[i].f);
		else
			zbody_text(&b, p[i].text, p[i].len);
	}
	*rc = zbody_end(&b);
	return b.out_len;
}

static void
check_pieces(struct piece *p, size_t n)
{
	struct sink gz = { 0 }, id = { 0 };
	size_t want_len = 0, counted, got_len;
	char *want, *got;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (p[i].frag)
			assert_int_equal(zfrag_make(p[i].text, p[i].len,
			    &p[i].mem, &p[i].f), 0);
		want_len += p[i].len;
	}
	want = malloc(want_len + 1);
	assert_non_null(want);
	want_len = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(want + want_len, p[i].text, p[i].len);
		want_len += p[i].len;
	}

	/* gzip: counted == written, and it inflates to the text. */
	counted = run_body(p, n, true, NULL, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(run_body(p, n, true, &gz, &rc), counted);
	assert_int_equal(rc, 0);
	assert_int_equal(gz.len, counted);
	got = gunzip(gz.buf, gz.len, &got_len);
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	free(got);

	/* identity: the text itself, counted exactly. */
	counted = run_body(p, n, false, NULL, &rc);
	assert_int_equal(counted, want_len);
	assert_int_equal(run_body(p, n, false, &id, &rc), want_len);
	assert_int_equal(rc, 0);
	assert_int_equal(id.len, want_len);
	assert_memory_equal(id.buf, want, want_len);

	for (size_t i = 0; i < n; i++)
		free(p[i].mem);
	free(gz.buf);
	free(id.buf);
	free(want);
}

static void
test_join(void **state)
{
	char *a = sample_text(10000, 1), *b = sample_text(3000, 2);
	char *c = sample_text(70000, 3), *glue = sample_text(100000, 4);
	struct piece p[] = {
		{ false, "{\"configs\":{", 12, { 0 }, NULL },
		{ false, "\"k1\":", 5, { 0 }, NULL },
		{ true, a, 10000, { 0 }, NULL },
		{ false, ",\"k2\":", 6, { 0 }, NULL },
		{ true, b, 3000, { 0 }, NULL },
		{ true, "", 0, { 0 }, NULL },		/* an empty fragment */
		{ true, a, 10000, { 0 }, NULL },	/* the same one again */
		{ false, glue, 100000, { 0 }, NULL },	/* > 65535 of glue */
		{ true, c, 70000, { 0 }, NULL },
		{ false, "}}", 2, { 0 }, NULL },
	};

	(void)state;
	check_pieces(p, sizeof(p) / sizeof(p[0]));
	free(a);
	free(b);
	free(c);
	free(glue);
}

/* Only glue, only fragments, and nothing at all are bodies too. */
static void
test_edges(void **state)
{
	char *a = sample_text(5000, 9);
	struct piece only_text[] = { { false, "{}", 2, { 0 }, NULL } };
	struct piece only_frags[] = {
		{ true, a, 5000, { 0 }, NULL }, { true, a, 17, { 0 }, NULL },
	};

	(void)state;
	check_pieces(only_text, 1);
	check_pieces(only_frags, 2);
	check_pieces(NULL, 0);
	free(a);
}

/* Compression is worth it on config-like text. */
static void
test_ratio(void **state)
{
	char *a = sample_text(10000, 5);
	unsigned char *mem;
	struct zfrag f;

	(void)state;
	assert_int_equal(zfrag_make(a, 10000, &mem, &f), 0);
	assert_ptr_equal(f.data, mem);
	assert_int_equal(f.text_len, 10000);
	assert_int_equal(f.crc, (uint32_t)crc32(0, (const Bytef *)a, 10000));
	assert_int_equal(f.op, (uint32_t)crc32_combine_gen(10000));
	assert_true(f.len < 10000 / 3);
	/* the sync marker ends it, so the next block starts on a byte */
	assert_memory_equal(f.data + f.len - 4, "\x00\x00\xff\xff", 4);
	free(mem);
	free(a);
}

/* A damaged fragment fails an identity body; a failed put fails any. */
static void
test_failures(void **state)
{
	char *a = sample_text(20000, 7);
	struct sink s = { 0 };
	struct piece p[] = {
		{ false, "[", 1, { 0 }, NULL },
		{ true, a, 20000, { 0 }, NULL },
		{ false, "]", 1, { 0 }, NULL },
	};
	unsigned char *copy;
	int rc;

	(void)state;
	assert_int_equal(zfrag_make(a, 20000, &p[1].mem, &p[1].f), 0);

	/* wrong CRC */
	p[1].f.crc ^= 1;
	run_body(p, 3, false, &s, &rc);
	assert_int_equal(rc, -1);
	p[1].f.crc ^= 1;

	/* wrong length */
	s.len = 0;
	p[1].f.text_len--;
	run_body(p, 3, false, &s, &rc);
	assert_int_equal(rc, -1);
	p[1].f.text_len++;

	/* truncated bytes */
	size_t whole = p[1].f.len;
	s.len = 0;
	p[1].f.len = whole / 2;
	run_body(p, 3, false, &s, &rc);
	assert_int_equal(rc, -1);
	p[1].f.len = whole;

	/* garbage bytes */
	copy = malloc(p[1].f.len);
	assert_non_null(copy);
	memset(copy, 0xff, p[1].f.len);
	{
		struct zfrag bad = p[1].f;
		struct zbody b;

		bad.data = copy;
		s.len = 0;
		zbody_begin(&b, false, sink_put, &s);
		zbody_frag(&b, &bad);
		assert_int_equal(zbody_end(&b), -1);
	}
	free(copy);

	/* and the intact one still works afterwards (state reset) */
	s.len = 0;
	assert_int_equal(run_body(p, 3, false, &s, &rc), 20002);
	assert_int_equal(rc, 0);

	/* the writer goes away, in gzip and identity */
	for (int gz = 0; gz < 2; gz++) {
		s.len = 0;
		s.fail_after = 100;
		run_body(p, 3, gz == 1, &s, &rc);
		assert_int_equal(rc, -1);
		s.fail_after = 0;
	}
	free(s.buf);
	free(p[1].mem);
	free(a);
}

/*
 * zfrag_check takes what zfrag_make makes and nothing else: every field
 * and every kind of damage a cache entry can carry.
 */
static void
test_check(void **state)
{
	char *a = sample_text(20000, 11), *b = sample_text(300, 12);
	unsigned char *mem, *mem2, *copy, *both;
	struct zfrag f, g, bad;
	const char *why;

	(void)state;
	assert_int_equal(zfrag_make(a, 20000, &mem, &f), 0);
	assert_int_equal(zfrag_make(b, 300, &mem2, &g), 0);
	assert_true(zfrag_check(&f, &why));
	assert_true(zfrag_check(&g, &why));

	/* The operator: zero (zlib's endless loop), off by one bit. */
	bad = f;
	bad.op = 0;
	assert_false(zfrag_check(&bad, &why));
	assert_string_equal(why, "CRC operator");
	bad.op = f.op ^ 1;
	assert_false(zfrag_check(&bad, &why));
	/* Another length's operator with that length: right op, wrong text. */
	bad = f;
	bad.text_len = 20001;
	bad.op = (uint32_t)crc32_combine_gen(20001);
	assert_false(zfrag_check(&bad, &why));
	assert_string_equal(why, "shorter than its length");
	bad.text_len = 19999;
	bad.op = (uint32_t)crc32_combine_gen(19999);
	assert_false(zfrag_check(&bad, &why));
	assert_string_equal(why, "longer than its length");
	/* A length no deflate stream of that size can reach. */
	bad = f;
	bad.text_len = (size_t)f.len * 2000;
	bad.op = (uint32_t)crc32_combine_gen((z_off_t)bad.text_len);
	assert_false(zfrag_check(&bad, &why));
	assert_string_equal(why, "lengths");
	/* The CRC. */
	bad = f;
	bad.crc ^= 0x80;
	assert_false(zfrag_check(&bad, &why));
	assert_string_equal(why, "CRC");
	/* Truncated, and too short for anything. */
	bad = f;
	bad.len = f.len / 2;
	assert_false(zfrag_check(&bad, &why));
	bad.len = 3;
	assert_false(zfrag_check(&bad, &why));
	/* Garbage that ends like a fragment. */
	copy = malloc(f.len);
	assert_non_null(copy);
	memset(copy, 0xfe, f.len);
	memcpy(copy + f.len - 4, "\x00\x00\xff\xff", 4);
	bad = f;
	bad.data = copy;
	assert_false(zfrag_check(&bad, &why));
	/* A final block (Z_FINISH) where a sync flush belongs. */
	{
		unsigned char fin[1024];
		uLongf fl = sizeof(fin);
		z_stream z;

		memset(&z, 0, sizeof(z));
		assert_int_equal(deflateInit2(&z, 1, Z_DEFLATED, -15, 8,
		    Z_DEFAULT_STRATEGY), Z_OK);
		z.next_in = (Bytef *)b;
		z.avail_in = 300;
		z.next_out = fin;
		z.avail_out = sizeof(fin);
		assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		fl = sizeof(fin) - z.avail_out;
		deflateEnd(&z);
		bad = g;
		bad.data = fin;
		bad.len = fl;
		assert_false(zfrag_check(&bad, &why));
	}
	/* Two fragments back to back: right CRC of neither, extra bytes. */
	both = malloc(f.len + g.len);
	assert_non_null(both);
	memcpy(both, g.data, g.len);
	memcpy(both + g.len, f.data, f.len);
	bad = g;
	bad.data = both;
	bad.len = g.len + f.len;
	assert_false(zfrag_check(&bad, &why));
	/* A fragment that refers back before its own start: the second
	 * half of one stream whose first half is the same text. */
	{
		unsigned char st[4096];
		size_t cut;
		z_stream z;

		memset(&z, 0, sizeof(z));
		assert_int_equal(deflateInit2(&z, 1, Z_DEFLATED, -15, 8,
		    Z_DEFAULT_STRATEGY), Z_OK);
		z.next_out = st;
		z.avail_out = sizeof(st);
		z.next_in = (Bytef *)b;
		z.avail_in = 300;
		assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
		cut = sizeof(st) - z.avail_out;
		z.next_in = (Bytef *)b;
		z.avail_in = 300;
		assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
		bad = g;
		bad.data = st + cut;
		bad.len = sizeof(st) - z.avail_out - cut;
		deflateEnd(&z);
		assert_true(bad.len < 100);	/* it did refer back */
		assert_false(zfrag_check(&bad, &why));
		assert_string_equal(why, "not deflate data");
	}
	/* and the empty fragment is one too */
	{
		unsigned char *m0;
		struct zfrag z0;

		assert_int_equal(zfrag_make("", 0, &m0, &z0), 0);
		assert_true(zfrag_check(&z0, &why));
		free(m0);
	}
	free(both);
	free(copy);
	free(mem);
	free(mem2);
	free(a);
	free(b);
}

/*
 * A body never holds more or fewer bytes than it counted, whatever a
 * fragment holds: identity stops at text_len and pads a short one, gzip
 * refuses an impossible operator (and does not loop on it).
 */
static void
test_framing(void **state)
{
	char *a = sample_text(20000, 13);
	struct sink s = { 0 };
	struct piece p[] = {
		{ false, "[", 1, { 0 }, NULL },
		{ true, a, 20000, { 0 }, NULL },
		{ false, "]", 1, { 0 }, NULL },
	};
	size_t counted;
	int rc;

	(void)state;
	assert_int_equal(zfrag_make(a, 20000, &p[1].mem, &p[1].f), 0);
	for (int d = -1; d <= 1; d += 2) {
		/* The header says 100 bytes less, or more, than it holds. */
		p[1].f.text_len = (size_t)(20000 - d * 100);
		for (int gz = 0; gz < 2; gz++) {
			counted = run_body(p, 3, gz == 1, NULL, &rc);
			s.len = 0;
			assert_int_equal(run_body(p, 3, gz == 1, &s, &rc),
			    counted);
			assert_int_equal(s.len, counted);
			if (gz == 0) {
				assert_int_equal(rc, -1);
				assert_int_equal(counted, p[1].f.text_len + 2);
				/* and the glue after it is still there */
				assert_int_equal(s.buf[s.len - 1], ']');
			}
		}
	}
	p[1].f.text_len = 20000;
	p[1].f.op = 0;
	counted = run_body(p, 3, true, NULL, &rc);
	s.len = 0;
	assert_int_equal(run_body(p, 3, true, &s, &rc), counted);
	assert_int_equal(rc, -1);
	assert_int_equal(s.len, counted);
	free(s.buf);
	free(p[1].mem);
	free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_ratio),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_framing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
