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
#include "log.h"
#include "relayauth.h"
#include "store.h"

/* Relay bodies are flat; anything deeper than this is not from a Relay. */
#define AUTH_JSON_DEPTH	16

static int
reply_401(struct request *req, const char *detail)
{
	http_reply_error(req, 401, detail, AUTH_WWW_AUTHENTICATE);
	return -1;
}

json_object *
auth_parse_object(const char *body, size_t len)
{
	json_tokener *tok;
	json_object *obj;

	if (len > (size_t)0x7ffffffe || memchr(body, '\0', len) != NULL)
		return NULL;
	if ((tok = json_tokener_new_ex(AUTH_JSON_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	/* len + 1 takes the NUL too, so trailing garbage is an error. */
	obj = json_tokener_parse_ex(tok, body, (int)len + 1);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(obj, json_type_object)) {
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

const char *
auth_client_addr(const struct conf *conf, const struct request *req,
    char *buf, size_t len)
{
	char copy[1024], *hops[32], *save = NULL, *tok;
	int n = 0;

	snprintf(buf, len, "%s", req->remote_addr);
	if (req->forwarded_for[0] == '\0' ||
	    !is_trusted_proxy(conf, req->remote_addr))
		return buf;
	/* A header we cannot walk whole proves nothing about the client. */
	if (strlen(req->forwarded_for) >= sizeof(copy))
		goto invalid;
	strcpy(copy, req->forwarded_for);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *e;

		while (isspace((unsigned char)*tok))
			tok++;
		e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*tok == '\0' || n == (int)(sizeof(hops) / sizeof(hops[0])))
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

bool
auth_is_internal(const struct conf *conf, const char *public_key,
    const char *client_addr)
{
	const struct conf_cidr *nets;
	size_t n;

	for (size_t i = 0; i < conf->n_internal_public_keys; i++)
		if (strcmp(conf->internal_public_keys[i], public_key) == 0)
			return true;
	if (conf->internal_networks_set) {
		nets = conf->internal_networks;
		n = conf->n_internal_networks;
	} else
		nets = conf_default_internal_networks(&n);
	return conf_cidr_contains(nets, n, client_addr);
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

int
auth_relay_request(struct request *req, struct app *app,
    struct auth_relay *out)
{
	struct relayauth_sig_time tm;
	enum relayauth_status st;
	char addr[64];
	int rc;

	memset(out, 0, sizeof(*out));
	if (relayauth_relay_id_parse(req->relay_id, out->relay_id) != 0)
		return reply_401(req, "Invalid relay ID");
	if (req->relay_signature[0] == '\0')
		return reply_401(req, "Missing relay signature");
	if ((rc = auth_lookup(req, app, out)) < 0)
		return -1;
	if (rc > 0)
		return reply_401(req, "Unknown relay");

	st = relayauth_verify(out->public_key, req->relay_signature,
	    req->body, req->body_len, (int64_t)time(NULL),
	    (int64_t)app->conf->signature_max_age, &tm);
	if (st != RELAYAUTH_OK) {
		log_info("relay %s: signature refused: %s", out->relay_id,
		    relayauth_status_str(st));
		return reply_401(req, "Invalid relay signature");
	}
	if ((out->body = auth_parse_object(req->body, req->body_len)) == NULL) {
		log_info("relay %s: body is not a JSON object", out->relay_id);
		return reply_401(req, "Invalid relay signature");
	}
	if (!out->is_static)
		out->internal = auth_is_internal(app->conf, out->public_key,
		    auth_client_addr(app->conf, req, addr, sizeof(addr)));
	return 0;
}

void
auth_relay_clear(struct auth_relay *a)
{
	json_object_put(a->body);
	a->body = NULL;
}
