/*
 * fuzz_zfrag.c - precompressed fragments and the bodies joined from them,
 * with fragments made here from fuzzer text and with fragments that are
 * fuzzer bytes (as a damaged cache entry would give them).
 *
 * Input: byte 0 picks the mode and byte 1 where a put starts failing.
 *   even: the rest is text, split in two at byte 2: two fragments with
 *         glue text between and around them.  The identity body is the
 *         text exactly, the gzip body inflates to it (CRC and length
 *         checked by zlib), and each is as long as counted beforehand.
 *   odd:  bytes 2..13 are a fragment's CRC, operator and text length
 *         (little-endian, the length capped at 64 KiB), the rest its
 *         deflate data.  Whatever they are: the body ends, writing never
 *         produces more bytes than counted beforehand (the Content-Length
 *         already sent), and a body that ends without error has exactly
 *         that many.
 * In both modes a put that fails makes zbody_end fail.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fuzz.h"
#include "zfrag.h"

struct sink {
	unsigned char	*buf;
	size_t		 len, cap;
	size_t		 fail_at;	/* SIZE_MAX: never */
};

static int
sink_put(void *arg, const void *p, size_t n)
{
	struct sink *s = arg;

	if (s->fail_at != SIZE_MAX && s->len + n > s->fail_at)
		return -1;
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		FUZZ_CHECK((s->buf = realloc(s->buf, s->cap)) != NULL, "OOM");
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* The body of n pieces: glue, frag, glue, frag, ..., glue. */
static int
run_body(bool gzip, struct sink *s, const struct zfrag *f, size_t nf,
    const char *glue, size_t *out_len)
{
	/* Static: a fresh 8 KB allocation per body slows ASan tenfold. */
	static struct zbody body;
	struct zbody *b = &body;
	int rc;

	memset(b, 0xa5, sizeof(*b));
	zbody_begin(b, gzip, s != NULL ? sink_put : NULL, s);
	zbody_text(b, "{\"configs\":{", 12);
	for (size_t i = 0; i < nf; i++) {
		zbody_text(b, glue, strlen(glue));
		zbody_frag(b, &f[i]);
	}
	zbody_text(b, "}}", 2);
	rc = zbody_end(b);
	*out_len = b->out_len;
	return rc;
}

static unsigned char *
gunzip(const unsigned char *in, size_t len, size_t *outlen)
{
	z_stream zs;
	size_t cap = len * 4 + 1024;
	unsigned char *out = malloc(cap);
	int zr;

	FUZZ_CHECK(out != NULL, "OOM");
	memset(&zs, 0, sizeof(zs));
	FUZZ_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "zlib");
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	for (;;) {
		zs.next_out = out + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		zr = inflate(&zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			break;
		FUZZ_CHECK(zr == Z_OK || zr == Z_BUF_ERROR,
		    "gzip body does not inflate: %d (%s)", zr,
		    zs.msg != NULL ? zs.msg : "-");
		FUZZ_CHECK(zs.avail_out == 0, "gzip body truncated");
		cap *= 2;
		FUZZ_CHECK((out = realloc(out, cap)) != NULL, "OOM");
	}
	FUZZ_CHECK(zs.avail_in == 0, "bytes after the gzip member");
	*outlen = zs.total_out;
	inflateEnd(&zs);
	return out;
}

static void
made_fragments(const uint8_t *text, size_t len, size_t split, size_t fail_at)
{
	unsigned char *mem[2] = { NULL, NULL };
	struct zfrag f[2];
	size_t cnt, wrote, ulen, pos[2] = { 0, split }, n[2] = { split,
	    len - split };
	struct sink s = { NULL, 0, 0, SIZE_MAX };
	unsigned char *plain;
	const char *glue = "\"k\":";

	for (int i = 0; i < 2; i++)
		FUZZ_CHECK(zfrag_make((const char *)text + pos[i], n[i], &mem[i],
		    &f[i]) == 0, "zfrag_make");
	for (int g = 0; g < 2; g++) {
		s.len = 0;
		s.fail_at = SIZE_MAX;
		FUZZ_CHECK(run_body(g, NULL, f, 2, glue, &cnt) == 0, "count");
		FUZZ_CHECK(run_body(g, &s, f, 2, glue, &wrote) == 0,
		    "a body of good fragments failed");
		FUZZ_CHECK(wrote == cnt && s.len == cnt,
		    "counted %zu, wrote %zu (%zu put)", cnt, wrote, s.len);
		plain = g ? gunzip(s.buf, s.len, &ulen) : NULL;
		{
			const unsigned char *t = plain != NULL ? plain : s.buf;
			size_t tl = plain != NULL ? ulen : s.len;
			size_t gl = strlen(glue);

			FUZZ_CHECK(tl == 12 + 2 * gl + len + 2 &&
			    memcmp(t + 12, glue, gl) == 0 &&
			    memcmp(t + 12 + gl, text, split) == 0 &&
			    memcmp(t + 12 + 2 * gl + split, text + split,
			    len - split) == 0, "%s body is not the text",
			    g ? "gzip" : "identity");
		}
		free(plain);
		/* A failing put fails the body. */
		if (fail_at < cnt) {
			s.len = 0;
			s.fail_at = fail_at;
			FUZZ_CHECK(run_body(g, &s, f, 2, glue, &wrote) != 0,
			    "a failed put went unnoticed");
		}
	}
	free(s.buf);
	free(mem[0]);
	free(mem[1]);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
damaged_fragment(const uint8_t *p, size_t len, size_t fail_at)
{
	struct zfrag f;
	struct sink s = { NULL, 0, 0, SIZE_MAX };
	unsigned char *data;
	size_t cnt, wrote;
	int rc;

	if (len < 12)
		return;
	f.crc = le32(p);
	f.op = le32(p + 4);
	f.text_len = le32(p + 8) & 0xffff;
	/* Own copy, so that ASan sees any read past the end. */
	FUZZ_CHECK((data = malloc(len - 12 + 1)) != NULL, "OOM");
	memcpy(data, p + 12, len - 12);
	f.data = data;
	f.len = len - 12;
	for (int g = 0; g < 2; g++) {
		s.len = 0;
		s.fail_at = SIZE_MAX;
		FUZZ_CHECK(run_body(g, NULL, &f, 1, "", &cnt) == 0,
		    "counting failed");
		rc = run_body(g, &s, &f, 1, "", &wrote);
		FUZZ_CHECK(s.len <= cnt, "%s body: %zu bytes written, %zu "
		    "announced", g ? "gzip" : "identity", s.len, cnt);
		FUZZ_CHECK(rc != 0 || (s.len == cnt && wrote == cnt),
		    "%s body ended well with %zu bytes, %zu announced",
		    g ? "gzip" : "identity", s.len, cnt);
		if (fail_at < cnt) {
			s.len = 0;
			s.fail_at = fail_at;
			FUZZ_CHECK(run_body(g, &s, &f, 1, "", &wrote) != 0,
			    "a failed put went unnoticed");
		}
	}
	free(s.buf);
	free(data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t fail_at;

	if (size < 3)
		return 0;
	fail_at = (size_t)data[1] * 7;
	if (data[0] & 1)
		damaged_fragment(data + 2, size - 2, fail_at);
	else
		made_fragments(data + 3, size - 3,
		    size > 3 ? data[2] % (size - 3 + 1) : 0, fail_at);
	return 0;
}
