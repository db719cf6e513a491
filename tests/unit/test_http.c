/*
 * test_http.c - query parsing, routing and body reading, without a server
 * (the FastCGI streams are fakes with libfcgi's public stream layout).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "endpoints.h"
#include "http.h"
#include "router.h"

/* router.c refers to the table that routes.c defines for the binaries. */
const struct route router_routes[] = {
	{ "/api/0/relays/live/", "GET", "GET, HEAD", ep_live },
	{ NULL, NULL, NULL, NULL }
};

static void
test_query_param(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(http_query_param("version=3", "version", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "3");
	/* Django's QueryDict.get: the last occurrence wins, names decoded */
	assert_int_equal(http_query_param("a=1&version=2&version=3", "version", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "3");
	assert_int_equal(http_query_param("version=3&version=", "version", buf, sizeof(buf)), 0);
	assert_int_equal(http_query_param("version=%zz&version=2", "version", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "2");
	assert_int_equal(http_query_param("version=2&version=%zz", "version", buf, sizeof(buf)), -2);
	assert_int_equal(http_query_param("vers%69on=2&x=1", "version", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "2");
	assert_int_equal(http_query_param("version=2&vers%69o=3&version%3d=4", "version", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "2");
	assert_int_equal(http_query_param("v%zzersion=3", "version", buf, sizeof(buf)), -1);
	assert_int_equal(http_query_param("versions=3", "version", buf, sizeof(buf)), -1);
	assert_int_equal(http_query_param("", "version", buf, sizeof(buf)), -1);
	assert_int_equal(http_query_param("version=", "version", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(http_query_param("version", "version", buf, sizeof(buf)), 0);
	assert_int_equal(http_query_param("version=%33", "version", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "3");
	assert_int_equal(http_query_param("version=a+b", "version", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "a b");
	assert_int_equal(http_query_param("version=%3", "version", buf, sizeof(buf)), -2);
	assert_int_equal(http_query_param("version=%zz", "version", buf, sizeof(buf)), -2);
	assert_int_equal(http_query_param("version=0123456789abcdefXYZ", "version", buf, sizeof(buf)), -2);
}

/*
 * The longest name asked for (63 characters) against names in the query
 * one and two characters longer: no match, and no write past the decoded
 * name's buffer (ASan: scripts/test's sanitizer build).
 */
static void
test_query_param_long_name(void **state)
{
	char name[64], q[256], buf[16];

	(void)state;
	memset(name, 'n', 63);
	name[63] = '\0';
	snprintf(q, sizeof(q), "%s=1", name);
	assert_int_equal(http_query_param(q, name, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "1");
	snprintf(q, sizeof(q), "%sx=2", name);
	assert_int_equal(http_query_param(q, name, buf, sizeof(buf)), -1);
	snprintf(q, sizeof(q), "%sxy=3&%s%%78=4", name, name);
	assert_int_equal(http_query_param(q, name, buf, sizeof(buf)), -1);
}

static void
test_router_find(void **state)
{
	(void)state;
	assert_non_null(router_find(router_routes, "/api/0/relays/live/"));
	assert_non_null(router_find(router_routes, "/api/0/relays/live"));
	assert_null(router_find(router_routes, "/api/0/relays/liv"));
	assert_null(router_find(router_routes, "/api/0/relays/live//"));
	assert_null(router_find(router_routes, "/"));
	assert_null(router_find(router_routes, ""));
}

/* Accept-Encoding as RFC 9110 12.5.3 has it, and as clients send it. */
static void
test_accepts_gzip(void **state)
{
	static const char *const yes[] = {
		"gzip", "GZIP", "x-gzip", "gzip, deflate, br", "deflate,gzip",
		"br;q=1.0, gzip;q=0.8", "*", "br, *;q=0.1", "gzip;q=0.001",
		" gzip ", "gzip;q=1", "gzip; q=0.5", "identity, gzip",
		"gzip;q=x",		/* a malformed q does not refuse */
	};
	static const char *const no[] = {
		"", "identity", "deflate", "br", "gzipx", "xgzip", "gzip;q=0",
		"gzip;q=0.0", "gzip; q=0.000", "gzip;Q=0", "*;q=0",
		"*, gzip;q=0",		/* refused by name despite * */
		"gzip;q=0, *",
		"deflate;q=0.5, br",
	};

	(void)state;
	assert_false(http_accepts_gzip(NULL));
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!http_accepts_gzip(yes[i]))
			fail_msg("\"%s\" should take gzip", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (http_accepts_gzip(no[i]))
			fail_msg("\"%s\" should not take gzip", no[i]);
}

static void
test_status_text(void **state)
{
	(void)state;
	assert_string_equal(http_status_text(413), "Payload Too Large");
	assert_string_equal(http_status_text(415), "Unsupported Media Type");
	assert_string_equal(http_status_text(405), "Method Not Allowed");
}

/*
 * A fake FastCGI request: stdin arrives in records of fake_chunk bytes
 * (as a web server streaming a chunked body would send them), then ends,
 * or breaks with an error; what is written lands in fake_out.
 */
static const char *fake_body;
static size_t fake_len, fake_pos, fake_chunk;
static bool fake_break;		/* the stream fails instead of ending */
static unsigned char fake_in_buf[65536];
static char fake_out[65536];
static size_t fake_out_len;
static unsigned char fake_wbuf[256];

static void
fake_fill(FCGX_Stream *st)
{
	size_t n = fake_len - fake_pos;

	if (n == 0) {
		if (fake_break)
			st->FCGI_errno = FCGX_PROTOCOL_ERROR;
		st->isClosed = 1;
		return;
	}
	if (n > fake_chunk)
		n = fake_chunk;
	memcpy(fake_in_buf, fake_body + fake_pos, n);
	fake_pos += n;
	st->rdNext = st->stopUnget = fake_in_buf;
	st->stop = fake_in_buf + n;
}

static void
fake_empty(FCGX_Stream *st, int doClose)
{
	size_t n = (size_t)(st->wrNext - fake_wbuf);

	(void)doClose;
	assert_true(fake_out_len + n < sizeof(fake_out));
	memcpy(fake_out + fake_out_len, fake_wbuf, n);
	fake_out_len += n;
	st->wrNext = fake_wbuf;
}

/* Read a body of len bytes without CONTENT_LENGTH; returns http_read_body. */
static int
read_fake(struct request *req, const char *body, size_t len, size_t chunk,
    bool broken, size_t max)
{
	static FCGX_Stream in, out;
	static FCGX_Request fcgx;
	int rc;

	fake_body = body;
	fake_len = len;
	fake_pos = 0;
	fake_chunk = chunk;
	fake_break = broken;
	fake_out_len = 0;
	memset(&in, 0, sizeof(in));
	in.isReader = 1;
	in.rdNext = in.stop = in.stopUnget = fake_in_buf;
	in.fillBuffProc = fake_fill;
	memset(&out, 0, sizeof(out));
	out.wrNext = fake_wbuf;
	out.stop = fake_wbuf + sizeof(fake_wbuf);
	out.emptyBuffProc = fake_empty;
	memset(&fcgx, 0, sizeof(fcgx));
	fcgx.in = &in;
	fcgx.out = &out;
	memset(req, 0, sizeof(*req));
	req->fcgx = &fcgx;
	req->content_length = strdup("");
	assert_non_null(req->content_length);
	rc = http_read_body(req, max);
	FCGX_FFlush(&out);
	fake_out[fake_out_len] = '\0';
	return rc;
}

static void
test_body_without_length(void **state)
{
	struct request req;
	char *body;

	(void)state;
	assert_non_null(body = malloc(10000));
	for (int i = 0; i < 10000; i++)
		body[i] = (char)('a' + i % 26);

	/* Read to the end of stdin, whatever the record sizes. */
	assert_int_equal(read_fake(&req, body, 3000, 7, false, 4096), 0);
	assert_int_equal(req.body_len, 3000);
	assert_memory_equal(req.body, body, 3000);
	assert_int_equal(req.body[3000], '\0');
	assert_int_equal(fake_out_len, 0);
	http_request_close(&req);

	/* Exactly max is fine; one byte more is 413, and the rest is read. */
	assert_int_equal(read_fake(&req, body, 4096, 1000, false, 4096), 0);
	assert_int_equal(req.body_len, 4096);
	http_request_close(&req);
	assert_int_equal(read_fake(&req, body, 4097, 1000, false, 4096), -1);
	assert_null(req.body);
	assert_non_null(strstr(fake_out, "Status: 413 "));
	assert_non_null(strstr(fake_out, "{\"detail\":\"Request body too large\"}"));
	assert_int_equal(fake_pos, 4097);
	http_request_close(&req);
	/* Drained up to 8 * max, then dropped: 20000 bytes are never read. */
	assert_non_null(body = realloc(body, 20000));
	memset(body + 10000, 'z', 10000);
	assert_int_equal(read_fake(&req, body, 20000, 100, false, 1024), -1);
	assert_non_null(strstr(fake_out, "Status: 413 "));
	assert_true(fake_pos >= 8 * 1024);
	assert_true(fake_pos < 8 * 1024 + 1024 + 100);
	http_request_close(&req);

	/* An empty body (a GET) is an empty string. */
	assert_int_equal(read_fake(&req, body, 0, 100, false, 4096), 0);
	assert_int_equal(req.body_len, 0);
	assert_string_equal(req.body, "");
	http_request_close(&req);

	/* A stream that breaks (peer gone, io_timeout) is 400, not a body. */
	assert_int_equal(read_fake(&req, body, 500, 100, true, 4096), -1);
	assert_null(req.body);
	assert_non_null(strstr(fake_out, "Status: 400 "));
	assert_non_null(strstr(fake_out, "Incomplete request body"));
	http_request_close(&req);
	free(body);
}

/*
 * http_request_open copies each param it keeps from the first of its
 * name, as FCGX_GetParam finds it: a longer name that starts the same is
 * another param, an entry without "=" is skipped, an absent or over-long
 * value is "", and the query comes from the URI before QUERY_STRING.
 */
static void
test_request_params(void **state)
{
	char big[8300] = "HTTP_X_SENTRY_RELAY_ID=";
	char *env[] = {
		"REQUEST_METHODX=GET",
		"REQUEST_METHOD=POST",
		"REQUEST_METHOD=PUT",
		"NO_EQUALS_SIGN",
		"REQUEST_URI=/api/0/relays/live/?a=1",
		"QUERY_STRING=b=2",
		"HTTP_ACCEPT_ENCODING=gzip",
		"HTTP_X_SENTRY_RELAY_SIGNATURE=",
		big,
		NULL
	};
	FCGX_Request fcgx;
	struct request req;

	(void)state;
	memset(big + strlen(big), 'a', 8200);
	big[sizeof(big) - 1] = '\0';
	memset(&fcgx, 0, sizeof(fcgx));
	fcgx.envp = env;
	assert_int_equal(http_request_open(&req, &fcgx), 0);
	assert_string_equal(req.method, "POST");
	assert_string_equal(req.uri, "/api/0/relays/live/?a=1");
	assert_string_equal(req.path, "/api/0/relays/live/");
	assert_string_equal(req.query, "a=1");
	assert_string_equal(req.accept_encoding, "gzip");
	assert_string_equal(req.relay_signature, "");
	assert_string_equal(req.relay_id, "");		/* over 8192 bytes */
	assert_string_equal(req.remote_addr, "");	/* absent */
	assert_string_equal(req.content_length, "");
	assert_string_equal(req.forwarded_for, "");
	http_request_close(&req);

	/* An absolute-form target (Apache passes it as sent) is routed on
	 * its path, as nginx passes it; other URIs stay as they are. */
	env[4] = "REQUEST_URI=HTTPS://relay.example:443/api/0/relays/live/?v=3";
	assert_int_equal(http_request_open(&req, &fcgx), 0);
	assert_string_equal(req.path, "/api/0/relays/live/");
	assert_string_equal(req.query, "v=3");
	http_request_close(&req);
	env[4] = "REQUEST_URI=http://relay.example?v=3";
	assert_int_equal(http_request_open(&req, &fcgx), 0);
	assert_string_equal(req.path, "/");
	assert_string_equal(req.query, "v=3");
	http_request_close(&req);
	env[4] = "REQUEST_URI=http://relay.example#/metrics";
	assert_int_equal(http_request_open(&req, &fcgx), 0);
	assert_string_equal(req.path, "/#/metrics");	/* no path: "/" */
	http_request_close(&req);
	env[4] = "REQUEST_URI=http:/api/0/relays/live/";
	assert_int_equal(http_request_open(&req, &fcgx), 0);
	assert_string_equal(req.path, "http:/api/0/relays/live/");
	http_request_close(&req);

	/* Without "?" in the URI, QUERY_STRING is the query. */
	env[4] = "REQUEST_URI=/api/0/relays/live/";
	assert_int_equal(http_request_open(&req, &fcgx), 0);
	assert_string_equal(req.path, "/api/0/relays/live/");
	assert_string_equal(req.query, "b=2");
	http_request_close(&req);
}

/*
 * A request header the client repeated (nginx 1.22 passes each line as a
 * param of its own) is every line joined with ", ", as nginx 1.23 and
 * Apache pass it and Sentry reads it: two relay ids are no UUID, two
 * signatures no signature.  X-Forwarded-For alone skips empty lines; a
 * join over HTTP_PARAM_MAX is "" (X-Forwarded-For: cut, still too long).
 */
static void
test_request_repeated_headers(void **state)
{
	static char big[5000];
	char *env[] = {
		"REQUEST_METHOD=POST",
		"HTTP_X_SENTRY_RELAY_ID=11111111-1111-4111-8111-111111111111",
		"HTTP_X_SENTRY_RELAY_SIGNATURE=",
		"HTTP_X_FORWARDED_FOR=",
		"HTTP_X_SENTRY_RELAY_ID=22222222-2222-4222-8222-222222222222",
		"HTTP_X_SENTRY_RELAY_SIGNATURE=sig.hdr",
		"HTTP_X_FORWARDED_FOR=10.0.0.1",
		"HTTP_CONTENT_ENCODING=identity",
		"HTTP_CONTENT_ENCODING=gzip",
		"HTTP_ACCEPT_ENCODING=identity",
		"HTTP_ACCEPT_ENCODING=gzip",
		"REQUEST_METHOD=GET",
		big,
		big,
		NULL
	};
	FCGX_Request fcgx;
	struct request req;

	(void)state;
	memset(&fcgx, 0, sizeof(fcgx));
	fcgx.envp = env;
	env[12] = env[13] = NULL;
	assert_int_equal(http_request_open(&req, &fcgx), 0);
	assert_string_equal(req.method, "POST");	/* the server's: first */
	assert_string_equal(req.relay_id,
	    "11111111-1111-4111-8111-111111111111, "
	    "22222222-2222-4222-8222-222222222222");
	assert_string_equal(req.relay_signature, ", sig.hdr");
	assert_string_equal(req.forwarded_for, "10.0.0.1");
	assert_string_equal(req.content_encoding, "identity, gzip");
	assert_string_equal(req.accept_encoding, "identity, gzip");
	assert_true(http_accepts_gzip(req.accept_encoding));
	http_request_close(&req);

	/* Two lines of 4,900 bytes: a join too long for a relay id. */
	snprintf(big, sizeof(big), "HTTP_X_SENTRY_RELAY_ID=%4900d", 1);
	env[12] = env[13] = big;
	assert_int_equal(http_request_open(&req, &fcgx), 0);
	assert_string_equal(req.relay_id, "");
	http_request_close(&req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_param),
		cmocka_unit_test(test_query_param_long_name),
		cmocka_unit_test(test_router_find),
		cmocka_unit_test(test_status_text),
		cmocka_unit_test(test_accepts_gzip),
		cmocka_unit_test(test_body_without_length),
		cmocka_unit_test(test_request_params),
		cmocka_unit_test(test_request_repeated_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
