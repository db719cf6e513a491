/*
 * zfrag.h - JSON text kept deflated, and answers assembled from it.
 *
 * Relay asks for gzip (Accept-Encoding: gzip) and most of a project-config
 * answer is configs that change once in minutes.  Compressing each config
 * once, when it is built, and joining the pieces on every request costs
 * almost nothing, where gzipping the whole answer in the web server costs
 * more than everything else together (docs/BENCHMARKS.md).
 *
 * A fragment is a raw deflate stream (RFC 1951) that ends on a byte
 * boundary after a sync flush, without a final block, and whose matches
 * never reach before its own start.  Any sequence of such fragments, with
 * stored blocks between them for the text that glues them together, and
 * one final block, is one valid deflate stream; a gzip header and a
 * trailer with the CRC-32 (combined from the fragments' own) and length
 * make it a gzip body (RFC 1952) that any client inflates in one go.
 * Each fragment also carries its crc32_combine_gen operator, made once,
 * so that appending its CRC costs one multiplication, not a
 * crc32_combine (0.65 against 0.07 us: 100 of them per 100-key answer).
 *
 * Clients that do not take gzip get the same body inflated on the fly.
 *
 * The deflate and inflate states are made once per process and reused:
 * one worker serves one request at a time.
 */
#ifndef RELAYCFG_ZFRAG_H
#define RELAYCFG_ZFRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A fragment; the bytes belong to whoever holds them. */
struct zfrag {
	const unsigned char	*data;		/* raw deflate, sync-flushed */
	size_t			 len;
	uint32_t		 crc;		/* CRC-32 of the text */
	uint32_t		 op;		/* crc32_combine_gen(text_len) */
	size_t			 text_len;
};

/*
 * zfrag_make - deflate len bytes of text into a new fragment.  *mem gets
 * the malloc'd bytes (the caller frees them; out->data points there).
 * Returns 0, or -1 on OOM with *mem NULL and out untouched.
 */
int	zfrag_make(const char *text, size_t len, unsigned char **mem,
	    struct zfrag *out);

/*
 * zfrag_check - is f exactly what zfrag_make makes for some text: op is
 * crc32_combine_gen(text_len), its bytes inflate from an empty window to
 * text_len bytes with CRC crc, through non-final blocks only, and end on
 * a byte boundary with nothing after.  Anything read from the cache goes
 * through this before it is answered (configs.c): a zero op made zlib's
 * CRC combination loop forever, and a fragment longer or shorter than its
 * text_len would break the Content-Length already counted.  Inflation
 * stops as soon as it passes text_len, so a lying fragment costs at most
 * text_len bytes of work.  Returns true, or false with a short reason
 * (a static string, never the bytes) in *why.
 */
bool	zfrag_check(const struct zfrag *f, const char **why);

/*
 * Where a body goes: put(arg, bytes, n) returns 0, or -1 when the bytes
 * could not be written (the client went away).
 */
typedef int (*zbody_put_fn)(void *arg, const void *buf, size_t len);

/*
 * A body being written: gzip (a gzip stream) or identity (the text).
 * With put NULL nothing is written and only out_len is counted, so the
 * same sequence of calls run twice gives Content-Length first and the
 * bytes second.  Callers only read out_len; the rest is private.
 */
struct zbody {
	bool		 gzip;
	zbody_put_fn	 put;		/* NULL: count only */
	void		*arg;
	int		 failed;	/* 0, or -1 after a failed put */
	bool		 damaged;	/* a fragment was not what it said */
	size_t		 out_len;	/* bytes produced so far */
	uint32_t	 crc;		/* of the text so far (gzip) */
	size_t		 text_len;
	size_t		 npend;		/* glue text not yet in a block */
	unsigned char	 pend[8192];	/* < 65535, a stored block's limit */
};

/* zbody_begin - start a body (writes the gzip header). */
void	zbody_begin(struct zbody *b, bool gzip, zbody_put_fn put, void *arg);

/* zbody_text - append plain text (a stored block in gzip). */
void	zbody_text(struct zbody *b, const char *text, size_t len);

/* zbody_frag - append a fragment's text (its bytes as they are in gzip). */
void	zbody_frag(struct zbody *b, const struct zfrag *f);

/*
 * zbody_end - finish the body (final block and trailer in gzip).  Returns
 * 0 when every byte went out, -1 when a put failed or a fragment was not
 * what it claimed (identity: it did not inflate to its length and CRC;
 * gzip: its CRC operator is impossible).  Either way exactly out_len
 * bytes, the count given first, were produced: identity inflation stops
 * at a fragment's text_len and a short one is padded with spaces, so the
 * web server's framing holds even then.  Counting never fails.
 */
int	zbody_end(struct zbody *b);

#endif
