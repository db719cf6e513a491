/*
 * auth.c - relay authentication for relay-signed endpoints.
 *
 * Follows Sentry's RelayAuthentication step by step, so that a Relay sees
 * the same 401 messages it would get from Sentry (sentry-endpoint.md 2).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "jsonstrict.h"
#include "log.h"
#include "metrics.h"
#include "relayauth.h"
#include "store.h"

/* Relay bodies are flat; anything deeper than this is not from a Relay. */
#define AUTH_JSON_DEPTH	16

/*
 * The most values a body may hold: a projectconfigs body at its caps
 * (10,000 publicKeys and as many revisions) has 20,003 or so, and gets
 * its own 400 for too many keys.  Relay sends three arrays and objects at
 * most; json-c spends some 780 bytes on each empty object, so a 1 MiB body
 * of them (register takes it before any signature) made a worker 260 MB,
 * which glibc kept.
 */
#define AUTH_JSON_VALUES	25000
#define AUTH_JSON_CONTAINERS	1000

/* auth_parse_object's why for valid JSON of another type. */
const char auth_not_object[] = "not a JSON object";

static int
reply_401(struct request *req, const char *detail)
{
	http_reply_error(req, 401, detail, AUTH_WWW_AUTHENTICATE);
	return -1;
}

json_object *
auth_parse_object(const char *body, size_t len, const char **why)
{
	static const struct jsonstrict_limits lim = {
		AUTH_JSON_DEPTH, AUTH_JSON_VALUES, AUTH_JSON_CONTAINERS
	};
	json_tokener *tok;
	json_object *obj;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (len > (size_t)0x7ffffffe) {
		*why = "body too large";
		return NULL;
	}
	/* json-c alone takes single quotes, C0 80, raw control bytes... */
	if (jsonstrict_check_limits(body, len, &lim, why) != 0)
		return NULL;
	/* Valid JSON, so the first byte that is not whitespace says it. */
	if (body[strspn(body, " \t\r\n")] != '{') {
		*why = auth_not_object;
		return NULL;
	}
	if ((tok = json_tokener_new_ex(AUTH_JSON_DEPTH)) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	/* An object ends at its '}', so json-c needs no terminator. */
	obj = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(obj, json_type_object)) {
		/* The scanner passed it: only memory can have been short. */
		*why = "could not parse JSON";
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

const struct conf_static_relay *
auth_static_relay(const struct conf *conf, const char *relay_id)
{
	for (size_t i = 0; i < conf->n_static_relays; i++)
		if (strcmp(conf->static_relays[i].relay_id, relay_id) == 0)
			return &conf->static_relays[i];
	return NULL;
}

static bool
is_trusted_proxy(const struct conf *conf, const char *addr)
{
	return conf->n_trusted_proxies > 0 &&
	    conf_cidr_contains(conf->trusted_proxies, conf->n_trusted_proxies,
	    addr);
}

/*
 * hop_strip_port - cut the port off a hop of X-Forwarded-For in place:
 * "10.1.2.3:5555" becomes "10.1.2.3", "[2001:db8::1]:443" and
 * "[2001:db8::1]" become "2001:db8::1".  Some balancers (Azure
 * Application Gateway) append "address:port", and Sentry's
 * SetRemoteAddrFromForwardedFor strips the port of an IPv4 hop; kept, the
 * hop was no address, so a trusted proxy's hop ended the walk and every
 * relay behind such a balancer was external.  A bare IPv6 address (two
 * colons or more, no brackets) is left as it is.  Returns nothing.
 */
static void
hop_strip_port(char *hop)
{
	char *colon = strchr(hop, ':'), *end = strchr(hop, ']');

	/* Anything else that begins with "[" is no address either way; it
	 * is read as below, as the fuzz model (fuzz_http.c) reads it. */
	if (hop[0] == '[' && end != NULL && (end[1] == '\0' ||
	    (end[1] == ':' && end[2] != '\0' &&
	    strspn(end + 2, "0123456789") == strlen(end + 2)))) {
		*end = '\0';
		memmove(hop, hop + 1, strlen(hop + 1) + 1);
		return;
	}
	if (colon == NULL || strchr(colon + 1, ':') != NULL ||
	    memchr(hop, '.', (size_t)(colon - hop)) == NULL ||
	    colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return;
	*colon = '\0';
}

const char *
auth_client_addr(const struct conf *conf, const struct request *req,
    char *buf, size_t len)
{
	char copy[1024], *hops[32], *p, *next, *tok, *e;
	int n = 0;

	snprintf(buf, len, "%s", req->remote_addr);
	if (req->forwarded_for[0] == '\0' ||
	    !is_trusted_proxy(conf, req->remote_addr))
		return buf;
	/*
	 * A header we cannot walk whole proves nothing about the client: it
	 * makes the address invalid, never absent (absent would fall back
	 * to REMOTE_ADDR, the proxy itself, often internal).
	 */
	if (strlen(req->forwarded_for) >= sizeof(copy))
		goto invalid;
	strcpy(copy, req->forwarded_for);
	for (p = copy; p != NULL; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		for (tok = p; isspace((unsigned char)*tok); tok++)
			;
		e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		hop_strip_port(tok);
		e = tok + strlen(tok);
		/* An empty hop or one that buf would cut is not an address. */
		if (*tok == '\0' || (size_t)(e - tok) >= len ||
		    n == (int)(sizeof(hops) / sizeof(hops[0])))
			goto invalid;
		hops[n++] = tok;
	}
	/* Each proxy appended its peer: the first untrusted hop from the
	 * right is the client as far as our proxies can vouch. */
	for (int i = n - 1; i >= 0; i--) {
		snprintf(buf, len, "%s", hops[i]);
		if (!is_trusted_proxy(conf, hops[i]))
			break;
	}
	return buf;
invalid:
	snprintf(buf, len, "invalid");
	return buf;
}

/* Is addr in internal_networks, or in Sentry's default when unset? */
static bool
in_internal_networks(const struct conf *conf, const char *addr)
{
	const struct conf_cidr *nets;
	size_t n;

	if (conf->internal_networks_set) {
		nets = conf->internal_networks;
		n = conf->n_internal_networks;
	} else
		nets = conf_default_internal_networks(&n);
	return conf_cidr_contains(nets, n, addr);
}

bool
auth_is_internal(const struct conf *conf, const char *public_key,
    const char *client_addr)
{
	for (size_t i = 0; i < conf->n_internal_public_keys; i++)
		if (strcmp(conf->internal_public_keys[i], public_key) == 0)
			return true;
	return in_internal_networks(conf, client_addr);
}

bool
auth_client_internal(const struct conf *conf, const struct request *req,
    char *addr, size_t len)
{
	return in_internal_networks(conf, auth_client_addr(conf, req, addr,
	    len));
}

/*
 * Find the relay: the config file first (no database access at all, as
 * Sentry's relay.static_auth), then sentry_relay through the store.
 * Returns 0 found, 1 unknown, -1 after answering 503.
 */
static int
auth_lookup(struct request *req, struct app *app, struct auth_relay *out)
{
	const struct conf_static_relay *sr;
	const struct model_relay *row = NULL;
	const char *ids[1] = { out->relay_id };
	int rc;

	if ((sr = auth_static_relay(app->conf, out->relay_id)) != NULL) {
		snprintf(out->public_key, sizeof(out->public_key), "%s",
		    sr->public_key);
		out->is_static = true;
		out->internal = sr->internal;
		return 0;
	}
	if (app->store == NULL) {
		http_reply_error(req, 503, "Backend unavailable", NULL);
		return -1;
	}
	rc = store_relays_by_relay_ids(app->store, ids, 1, &row);
	if (row != NULL) {
		snprintf(out->public_key, sizeof(out->public_key), "%s",
		    row->public_key);
		/* Marked by an operator: relaycfgctl relay update. */
		out->internal = row->is_internal;
		return 0;
	}
	if (rc != STORE_OK) {
		log_warn("relay lookup failed: %s",
		    store_last_error(app->store));
		http_reply_error(req, 503, "Backend unavailable", NULL);
		return -1;
	}
	return 1;
}

enum relayauth_status
auth_verify(const struct request *req, const char *public_key,
    unsigned max_age, struct relayauth_sig_time *tm)
{
	struct timespec now;

	/* To the nanosecond: 300.4 s is older than 300 s (issue 11, 8). */
	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return RELAYAUTH_NOMEM;
	return relayauth_verify_ns(public_key, req->relay_signature, req->body,
	    req->body_len, (int64_t)now.tv_sec, now.tv_nsec, (int64_t)max_age,
	    tm);
}

int
auth_relay_request(struct request *req, struct app *app,
    struct auth_relay *out)
{
	struct relayauth_sig_time tm;
	enum relayauth_status st;
	const char *why = NULL;
	char addr[64], detail[96];
	int rc;

	memset(out, 0, sizeof(*out));
	if (relayauth_relay_id_parse(req->relay_id, out->relay_id) != 0) {
		metrics_inc(MF_AUTH, MA_MISSING, 0, 0);
		return reply_401(req, "Invalid relay ID");
	}
	if (req->relay_signature[0] == '\0') {
		metrics_inc(MF_AUTH, MA_MISSING, 0, 0);
		return reply_401(req, "Missing relay signature");
	}
	if ((rc = auth_lookup(req, app, out)) < 0) {
		metrics_inc(MF_AUTH, MA_ERROR, 0, 0);
		return -1;
	}
	if (rc > 0) {
		metrics_inc(MF_AUTH, MA_UNKNOWN_RELAY, 0, 0);
		return reply_401(req, "Unknown relay");
	}

	st = auth_verify(req, out->public_key, app->conf->signature_max_age,
	    &tm);
	if (st != RELAYAUTH_OK) {
		log_info("relay %s: signature refused: %s", out->relay_id,
		    relayauth_status_str(st));
		metrics_inc(MF_AUTH, st == RELAYAUTH_EXPIRED ? MA_EXPIRED :
		    st == RELAYAUTH_NOMEM ? MA_ERROR : MA_BAD_SIGNATURE, 0, 0);
		return reply_401(req, "Invalid relay signature");
	}
	/*
	 * A body that is not a JSON object (JSON of another type, or empty
	 * or blank) fails authentication as in Sentry, whose unpack refuses
	 * it: 401.  A malformed JSON text is 400 with the reason (strict
	 * RFC 8259, issue 11), because re-authenticating cannot help.
	 */
	if ((out->body = auth_parse_object(req->body, req->body_len,
	    &why)) == NULL && (why == auth_not_object ||
	    strspn(req->body, " \t\r\n") == req->body_len)) {
		log_info("relay %s: body refused: %s", out->relay_id,
		    req->body_len == 0 ? "empty" : why);
		metrics_inc(MF_AUTH, MA_BAD_SIGNATURE, 0, 0);
		return reply_401(req, "Invalid relay signature");
	}
	if (out->body == NULL) {
		log_info("relay %s: body refused: %s", out->relay_id, why);
		snprintf(detail, sizeof(detail), "Invalid JSON body: %s", why);
		http_reply_error(req, 400, detail, NULL);
		/* the signature was good: the relay is who it says */
		metrics_inc(MF_AUTH, MA_OK, 0, 0);
		return -1;
	}
	/* A relay marked internal stays so; others are decided now. */
	if (!out->is_static && !out->internal)
		out->internal = auth_is_internal(app->conf, out->public_key,
		    auth_client_addr(app->conf, req, addr, sizeof(addr)));
	metrics_inc(MF_AUTH, MA_OK, 0, 0);
	return 0;
}

void
auth_relay_clear(struct auth_relay *a)
{
	json_object_put(a->body);
	a->body = NULL;
}
