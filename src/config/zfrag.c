/*
 * zfrag.c - deflated JSON fragments, joined into gzip or identity bodies.
 * The format is explained in zfrag.h.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "log.h"
#include "zfrag.h"

/*
 * Level 1: builds happen on the request path (a cold miss is built in the
 * request that asks), and on a 10 KB config zlib's default level 6 saves
 * only a tenth of the bytes (1833 against 2021) for 1.7 times the time.
 */
#define ZFRAG_LEVEL	1

static z_stream	deflater;
static bool	deflater_ready;
static z_stream	inflater;
static bool	inflater_ready;

/* The process's deflate state, made on first use. */
static z_stream *
deflater_get(void)
{
	if (!deflater_ready) {
		memset(&deflater, 0, sizeof(deflater));
		if (deflateInit2(&deflater, ZFRAG_LEVEL, Z_DEFLATED, -15, 8,
		    Z_DEFAULT_STRATEGY) != Z_OK)
			return NULL;
		deflater_ready = true;
	} else if (deflateReset(&deflater) != Z_OK)
		return NULL;
	return &deflater;
}

static z_stream *
inflater_get(void)
{
	if (!inflater_ready) {
		memset(&inflater, 0, sizeof(inflater));
		if (inflateInit2(&inflater, -15) != Z_OK)
			return NULL;
		inflater_ready = true;
	} else if (inflateReset(&inflater) != Z_OK)
		return NULL;
	return &inflater;
}

int
zfrag_make(const char *text, size_t len, unsigned char **mem,
    struct zfrag *out)
{
	z_stream *z;
	unsigned char *buf = NULL;
	size_t cap;
	int rc = -1;

	*mem = NULL;
	if (len > UINT_MAX / 2 || (z = deflater_get()) == NULL)
		return -1;
	/* deflateBound covers Z_FINISH; the sync marker is 5 bytes more. */
	cap = deflateBound(z, (uLong)len) + 16;
	if ((buf = malloc(cap)) == NULL)
		goto out;
	z->next_in = (Bytef *)(uintptr_t)text;
	z->avail_in = (uInt)len;
	z->next_out = buf;
	z->avail_out = (uInt)cap;
	/* One call: all input taken and the flush complete, or a bug. */
	if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in != 0 ||
	    z->avail_out == 0)
		goto out;
	out->data = buf;
	out->len = cap - z->avail_out;
	out->crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0),
	    (const Bytef *)text, (uInt)len);
	out->op = (uint32_t)crc32_combine_gen((z_off_t)len);
	out->text_len = len;
	*mem = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	return rc;
}

/* Deflate never expands more than this: 258 bytes from 2 bits. */
#define ZFRAG_MAX_RATIO	1032

bool
zfrag_check(const struct zfrag *f, const char **why)
{
	static const unsigned char sync_marker[4] = { 0, 0, 0xff, 0xff };
	unsigned char buf[16384];
	uLong crc = crc32(0L, Z_NULL, 0);
	size_t total = 0;
	z_stream *z;
	int zrc, last_type = 0;

	*why = "lengths";
	if (f->len < sizeof(sync_marker) || f->len > UINT_MAX ||
	    f->text_len > (size_t)UINT_MAX ||
	    f->text_len / ZFRAG_MAX_RATIO > f->len)
		return false;
	/*
	 * Recomputed, not trusted: crc32_combine_op loops forever on 0, and
	 * any other wrong value makes a gzip answer's CRC wrong.
	 */
	*why = "CRC operator";
	if (f->op != (uint32_t)crc32_combine_gen((z_off_t)f->text_len))
		return false;
	*why = "no sync flush at its end";
	if (memcmp(f->data + f->len - sizeof(sync_marker), sync_marker,
	    sizeof(sync_marker)) != 0)
		return false;
	*why = "out of memory";
	if ((z = inflater_get()) == NULL)
		return false;
	z->next_in = (Bytef *)(uintptr_t)f->data;
	z->avail_in = (uInt)f->len;
	/*
	 * Z_BLOCK returns at every block boundary; data_type after the call
	 * that took the last bytes tells where they ended (128: between
	 * blocks, none of them final, no bits left over).
	 */
	for (;;) {
		uInt in = z->avail_in;
		size_t n;

		z->next_out = buf;
		z->avail_out = sizeof(buf);
		zrc = inflate(z, Z_BLOCK);
		n = sizeof(buf) - z->avail_out;
		*why = "longer than its length";
		if (n > f->text_len - total)
			return false;
		crc = crc32(crc, buf, (uInt)n);
		total += n;
		*why = "a final block";
		if (zrc == Z_STREAM_END)
			return false;
		*why = "not deflate data";
		if (zrc != Z_OK && zrc != Z_BUF_ERROR)
			return false;
		if (n == 0 && z->avail_in == in)
			break;		/* no progress: all taken */
		last_type = z->data_type;
	}
	*why = "trailing bytes or an unfinished block";
	if (z->avail_in != 0 || last_type != 128)
		return false;
	*why = "shorter than its length";
	if (total != f->text_len)
		return false;
	*why = "CRC";
	if ((uint32_t)crc != f->crc)
		return false;
	*why = NULL;
	return true;
}

static void
body_put(struct zbody *b, const void *p, size_t len)
{
	b->out_len += len;
	if (b->put != NULL && b->failed == 0 && len > 0 &&
	    b->put(b->arg, p, len) != 0)
		b->failed = -1;
}

/*
 * Write the waiting glue as one non-final stored block: a header byte
 * (BFINAL 0, BTYPE 00, padding to the byte boundary every fragment ends
 * on), LEN and its complement, little-endian, then the bytes.
 */
static void
body_flush_glue(struct zbody *b)
{
	unsigned char hdr[5];

	if (b->npend == 0)
		return;
	/* One CRC call per block, not one per small piece of glue. */
	if (b->put != NULL)
		b->crc = (uint32_t)crc32(b->crc, b->pend, (uInt)b->npend);
	hdr[0] = 0x00;
	hdr[1] = (unsigned char)(b->npend & 0xff);
	hdr[2] = (unsigned char)(b->npend >> 8);
	hdr[3] = (unsigned char)(~b->npend & 0xff);
	hdr[4] = (unsigned char)((~b->npend >> 8) & 0xff);
	body_put(b, hdr, sizeof(hdr));
	body_put(b, b->pend, b->npend);
	b->npend = 0;
}

void
zbody_begin(struct zbody *b, bool gzip, zbody_put_fn put, void *arg)
{
	/* ID1 ID2, CM deflate, no flags, no mtime, XFL 0, OS unix. */
	static const unsigned char gzip_header[10] = {
		0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3
	};

	memset(b, 0, offsetof(struct zbody, pend));
	b->gzip = gzip;
	b->put = put;
	b->arg = arg;
	if (gzip)
		body_put(b, gzip_header, sizeof(gzip_header));
}

void
zbody_text(struct zbody *b, const char *text, size_t len)
{
	if (!b->gzip) {
		body_put(b, text, len);
		return;
	}
	b->text_len += len;
	while (len > 0) {
		size_t room = sizeof(b->pend) - b->npend;
		size_t n = len < room ? len : room;

		memcpy(b->pend + b->npend, text, n);
		b->npend += n;
		text += n;
		len -= n;
		if (b->npend == sizeof(b->pend))
			body_flush_glue(b);
	}
}

/*
 * Identity: inflate f through a bounce buffer, checking length and CRC.
 * Exactly f->text_len bytes go out whatever the bytes hold: inflation
 * stops there, and a fragment that gives less is padded with spaces, so
 * the count made first stays true (configs.c has checked every cached
 * fragment; this is the last line, not the only one).
 */
static void
body_inflate(struct zbody *b, const struct zfrag *f)
{
	unsigned char buf[16384];
	uLong crc = crc32(0L, Z_NULL, 0);
	size_t total = 0;
	z_stream *z;
	int zrc;

	if (b->put == NULL) {
		b->out_len += f->text_len;
		return;
	}
	if (b->failed != 0)
		goto pad;
	if (f->len > UINT_MAX || (z = inflater_get()) == NULL)
		goto bad;
	z->next_in = (Bytef *)(uintptr_t)f->data;
	z->avail_in = (uInt)f->len;
	for (;;) {
		size_t room = f->text_len - total, n;
		uInt in = z->avail_in;

		/*
		 * Room for at most what is left; at the end, one byte to
		 * see that nothing more comes (and to take the trailing
		 * empty block, which gives nothing).
		 */
		z->next_out = buf;
		z->avail_out = (uInt)(room == 0 ? 1 :
		    room < sizeof(buf) ? room : sizeof(buf));
		zrc = inflate(z, Z_SYNC_FLUSH);
		if (zrc != Z_OK && zrc != Z_BUF_ERROR && zrc != Z_STREAM_END)
			goto bad;
		n = (size_t)(z->next_out - buf);
		if (n > room)
			goto bad;	/* longer than it says */
		if (n == 0 && z->avail_in == in)
			break;
		crc = crc32(crc, buf, (uInt)n);
		total += n;
		body_put(b, buf, n);
		if (b->failed != 0)
			goto pad;
	}
	if (z->avail_in != 0 || total != f->text_len || crc != f->crc)
		goto bad;
	return;
bad:
	log_err("a cached config did not inflate to its length and CRC");
	b->damaged = true;
pad:
	/* Counted as text_len: the framing must hold even now. */
	while (total < f->text_len) {
		size_t n = f->text_len - total;

		if (n > sizeof(buf))
			n = sizeof(buf);
		memset(buf, ' ', n);
		body_put(b, buf, n);
		total += n;
	}
}

void
zbody_frag(struct zbody *b, const struct zfrag *f)
{
	if (!b->gzip) {
		body_inflate(b, f);
		return;
	}
	body_flush_glue(b);
	if (b->put != NULL) {
		/* 0 is never an operator, and would never return. */
		if (f->op == 0)
			b->damaged = true;
		else
			b->crc = (uint32_t)crc32_combine_op(b->crc, f->crc,
			    f->op);
	}
	b->text_len += f->text_len;
	body_put(b, f->data, f->len);
}

int
zbody_end(struct zbody *b)
{
	/* An empty final stored block: BFINAL 1, LEN 0, NLEN 0xffff. */
	static const unsigned char final_block[5] = { 1, 0, 0, 0xff, 0xff };
	unsigned char trailer[8];

	if (b->gzip) {
		body_flush_glue(b);
		body_put(b, final_block, sizeof(final_block));
		for (int i = 0; i < 4; i++) {
			trailer[i] = (unsigned char)(b->crc >> (8 * i));
			trailer[4 + i] =
			    (unsigned char)((uint64_t)b->text_len >> (8 * i));
		}
		body_put(b, trailer, sizeof(trailer));
	}
	return b->failed != 0 || b->damaged ? -1 : 0;
}
