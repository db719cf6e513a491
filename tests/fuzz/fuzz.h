/*
 * fuzz.h - what the libFuzzer harnesses under tests/fuzz share.
 *
 * Every harness defines LLVMFuzzerTestOneInput.  It is linked either with
 * libFuzzer (clang, "make fuzz") or with replay.c (any compiler, "make
 * check"), which runs it over the checked-in corpus and every past crash.
 * A broken invariant is reported by FUZZ_CHECK, which prints why and
 * aborts: libFuzzer keeps the input, the replay test fails.
 */
#ifndef RELAYCFG_FUZZ_H
#define RELAYCFG_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);	\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_fail - report a broken invariant on stderr and abort. */
void	fuzz_fail(const char *file, int line, const char *cond,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5),
	    noreturn));

/*
 * fuzz_quiet_logs - log at debug level when FUZZ_LOG is set in the
 * environment, else not at all (a request logs several lines: at 10^4
 * executions a second they would bury libFuzzer's own output).
 */
void	fuzz_quiet_logs(void);

/*
 * fuzz_tmpdir - a private directory for this process, made on first use
 * and removed with everything in it at exit.  Never NULL (aborts).
 */
const char *fuzz_tmpdir(void);

/* fuzz_write_file - write len bytes to path; aborts on failure. */
void	fuzz_write_file(const char *path, const void *data, size_t len);

/*
 * fuzz_json_valid - is text[0..len) one JSON text by RFC 8259 (with
 * surrounding whitespace), in valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF)?  Written apart from json-c so
 * that the parser under test is checked against something else.  *top
 * gets the first byte of the value ('{', '[', '"', ...) and *depth the
 * deepest nesting; deeper than 1000 is refused.
 */
bool	fuzz_json_valid(const char *text, size_t len, int *top, int *depth);

/* A cursor over the fuzzer's bytes. */
struct fuzz_in {
	const uint8_t	*p;
	size_t		 n;
};

/* fuzz_line - the next line (without '\n'); false at the end. */
bool	fuzz_line(struct fuzz_in *in, const char **line, size_t *len);

/*
 * A FastCGI request made in memory: params from the fuzzer, stdin served
 * in chunks of the fuzzer's size (and failing where it says), stdout
 * collected through a buffer of the fuzzer's size (and failing where it
 * says), driven through libfcgi's own FCGX_GetStr/FCGX_PutStr.
 */
struct fuzz_fcgx {
	FCGX_Request	 req;
	FCGX_Stream	 in, out, err;

	char		**envp;		/* NULL-terminated, owned */
	size_t		 nenv, capenv;

	unsigned char	*body;		/* owned copy of stdin */
	size_t		 body_len, body_pos;
	size_t		 chunk;		/* bytes per read, >= 1 */
	size_t		 in_fail_at;	/* SIZE_MAX: stdin never fails */

	unsigned char	*obuf;		/* libfcgi's write buffer */
	size_t		 obuf_size;
	char		*sent;		/* what reached the "web server" */
	size_t		 sent_len, sent_cap;
	size_t		 out_fail_at;	/* SIZE_MAX: writes never fail */
	bool		 out_failed;
};

/* fuzz_fcgx_init - an empty request: no params, no body, no failures. */
void	fuzz_fcgx_init(struct fuzz_fcgx *f, size_t obuf_size);

/* fuzz_fcgx_param - add "name=value" (repeats are kept, in order). */
void	fuzz_fcgx_param(struct fuzz_fcgx *f, const char *name, size_t nlen,
	    const char *value, size_t vlen);

/* fuzz_fcgx_body - set stdin (copied). */
void	fuzz_fcgx_body(struct fuzz_fcgx *f, const void *body, size_t len);

/* fuzz_fcgx_finish - flush stdout as FCGX_Finish_r would. */
void	fuzz_fcgx_finish(struct fuzz_fcgx *f);

void	fuzz_fcgx_free(struct fuzz_fcgx *f);

/* What fuzz_check_answer found. */
struct fuzz_answer {
	int		 status;
	bool		 gzip;		/* Content-Encoding: gzip */
	bool		 json;		/* Content-Type: application/json */
	const char	*body;		/* into the sent bytes */
	size_t		 body_len;
};

/*
 * fuzz_check_answer - the bytes relaycfg wrote for one request must be
 * one well-formed answer: a "Status: NNN reason" line, headers ending in
 * an empty line, a Content-Length equal to the body bytes written, never
 * a 500; an error's body is a JSON object with a string "detail"; with
 * whole_body, any JSON answer's body (inflated when gzip) is strict JSON.
 * (Without it a 2xx body is not looked into: it may carry config text
 * from the cache, which relaycfg sends as stored.)  Aborts otherwise.
 */
void	fuzz_check_answer(const char *sent, size_t len, bool whole_body,
	    struct fuzz_answer *out);

/*
 * A fake memcached on a unix socket in fuzz_tmpdir(), served by a thread:
 * the ASCII protocol's get/gets, set/add/replace/cas/append/prepend,
 * delete, touch, version, flush_all, quit.  Every key of a kind
 * ("<ns>:<ver>:<kind>:<id>") is answered with the value set for that kind
 * (framed "rc1 <gen> <kind> " unless raw), the generation key with
 * FUZZ_MC_GEN; writes are accepted and forgotten.
 */
#define FUZZ_MC_GEN	"0123456789abcdef"

/* fuzz_mc_start - start the server once; returns its socket path. */
const char *fuzz_mc_start(void);

/* fuzz_mc_reset - forget every value (and any override of the gen). */
void	fuzz_mc_reset(void);

/*
 * fuzz_mc_value - answer keys of kind with value (copied); raw: without
 * the "rc1 <gen> <kind> " framing.  kind "gen" overrides the generation
 * key's value.
 */
void	fuzz_mc_value(const char *kind, size_t klen, const void *value,
	    size_t vlen, bool raw);

#endif
