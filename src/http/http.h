/*
 * http.h - one FastCGI request: its params, its body, and its answer.
 *
 * Every param the service uses is copied out of the FastCGI environment when
 * the request is opened, because libfcgi's pointers die at FCGX_Finish_r.
 */
#ifndef RELAYCFG_HTTP_H
#define RELAYCFG_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <fcgiapp.h>
#include <json-c/json.h>

struct request {
	FCGX_Request	*fcgx;

	/* copied params; never NULL ("" when absent) */
	char		*method;
	char		*uri;		/* REQUEST_URI as sent */
	char		*path;		/* REQUEST_URI up to '?', in origin form */
	char		*query;		/* QUERY_STRING, or the part after '?' */
	char		*remote_addr;
	/*
	 * Every X-Forwarded-For line in arrival order, joined with ", ".
	 * Longer than 8192 bytes: cut to 8193, i.e. "too long", never "".
	 */
	char		*forwarded_for;
	char		*content_encoding;
	char		*relay_id;	/* X-Sentry-Relay-Id */
	char		*relay_signature; /* X-Sentry-Relay-Signature */
	char		*content_length;
	char		*accept_encoding;

	/* body, NUL-terminated (the NUL is not counted) */
	char		*body;
	size_t		 body_len;

	/*
	 * More params than HTTP_PARAMS_MAX, or more than HTTP_PARAMS_BYTES_MAX
	 * of them: answered 431 (libfcgi has read and kept them all by then).
	 */
	bool		 params_too_large;

	/* answer bookkeeping */
	int		 status;	/* 0 until something is written */
	size_t		 bytes_out;
};

/*
 * http_request_open - copy the params of an accepted FastCGI request.
 * Returns 0, or -1 on OOM (req is then cleaned and unusable).
 */
int	http_request_open(struct request *req, FCGX_Request *fcgx);

/* http_request_close - free what http_request_open and read_body made. */
void	http_request_close(struct request *req);

/*
 * http_read_body - read the body, at most max bytes.
 *
 * Returns 0 when req->body holds the whole body; otherwise writes the error
 * answer itself (400 bad or short length, 413 too large) and returns -1.
 * The 413 is decided from CONTENT_LENGTH before a byte is read.  Without
 * CONTENT_LENGTH the body is FastCGI stdin to its end: 413 as soon as more
 * than max bytes arrived (the rest, up to 8 * max, is read and dropped so
 * the web server can finish sending), 400 when the stream broke.
 */
int	http_read_body(struct request *req, size_t max);

/*
 * http_query_param - the value of name in the query string, URL-decoded,
 * into buf (NUL-terminated).  Returns the length, -1 when name is absent,
 * -2 when the value does not fit or is badly encoded.  As Django's
 * QueryDict.get: names are URL-decoded like values, and the last
 * occurrence wins.
 */
int	http_query_param(const char *query, const char *name, char *buf,
	    size_t buflen);

/*
 * http_accepts_gzip - does an Accept-Encoding value (RFC 9110 12.5.3)
 * take gzip: "gzip", "x-gzip" or "*" with a q-value above 0, and gzip
 * not refused by name?  NULL or "" is no.
 */
bool	http_accepts_gzip(const char *accept_encoding);

/*
 * http_reply_head - status line and headers of an answer whose len body
 * bytes the caller then writes with http_write.  extra_headers as for
 * http_reply.  Returns 0, or -1 when the web server went away.
 */
int	http_reply_head(struct request *req, int status,
	    const char *content_type, const char *extra_headers, size_t len);

/* http_write - len more body bytes.  Returns 0, or -1 as http_reply. */
int	http_write(struct request *req, const void *buf, size_t len);

/*
 * http_reply - write status line, headers and body in one go.
 * extra_headers is NULL or CRLF-terminated lines; every answer carries
 * Cache-Control: no-store already, which they must not repeat.  Returns
 * 0, or -1 when the web server went away (nothing more can be done for
 * this request).
 */
int	http_reply(struct request *req, int status, const char *content_type,
	    const char *extra_headers, const char *body, size_t len);

/* http_reply_json - http_reply with Content-Type: application/json. */
int	http_reply_json(struct request *req, int status, const char *json,
	    size_t len);

/*
 * http_reply_object - serialize obj (plain, slashes unescaped) and answer
 * it as JSON.  obj is not consumed.  A NULL obj or a failed serialization
 * (OOM) answers 503 instead.  Returns as http_reply.
 */
int	http_reply_object(struct request *req, int status, json_object *obj,
	    const char *extra_headers);

/*
 * http_reply_error - {"detail": "<detail>"}, detail JSON-escaped.
 * extra_headers as for http_reply.
 */
int	http_reply_error(struct request *req, int status, const char *detail,
	    const char *extra_headers);

/* http_status_text - reason phrase for a status code. */
const char *http_status_text(int status);

#endif
