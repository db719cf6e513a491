/*
 * auth.h - Sentry's RelayAuthentication for relay-signed endpoints, and the
 * per-request "is this relay internal" decision.
 */
#ifndef RELAYCFG_AUTH_H
#define RELAYCFG_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "app.h"
#include "http.h"
#include "model.h"

/* The WWW-Authenticate header every 401 carries (DRF's BasicAuthentication). */
#define AUTH_WWW_AUTHENTICATE	"WWW-Authenticate: Basic realm=\"api\"\r\n"

struct auth_relay {
	char		 relay_id[MODEL_RELAY_ID_LEN + 1];
	char		 public_key[MODEL_RELAY_PK_MAX + 1];
	bool		 is_static;	/* from the config file */
	bool		 internal;	/* decided for this request */
	json_object	*body;		/* the verified body, a JSON object */
};

/*
 * auth_relay_request - authenticate a relay-signed request, in Sentry's
 * order: relay id header, signature header, relay lookup (static relays,
 * then sentry_relay through the store), signature and age, body is a JSON
 * object.  Decides out->internal for this request.
 *
 * Returns 0 with *out filled (release with auth_relay_clear), or -1 after
 * answering: 401 with one of Sentry's four messages, or 503 when the relay
 * table cannot be read and the relay is not cached.
 */
int	auth_relay_request(struct request *req, struct app *app,
	    struct auth_relay *out);

/* auth_relay_clear - release the body; a zeroed auth_relay is fine. */
void	auth_relay_clear(struct auth_relay *a);

/*
 * auth_client_addr - the client's address: REMOTE_ADDR, or, when that peer
 * is a trusted proxy, the rightmost X-Forwarded-For entry that is not a
 * trusted proxy itself (the leftmost entries are whatever the client
 * claims, so they never count).  Writes into buf and returns it.
 */
const char *auth_client_addr(const struct conf *conf,
	    const struct request *req, char *buf, size_t len);

/*
 * auth_is_internal - a non-static relay is internal when its public key is
 * in internal_public_key or the client address is in internal_networks
 * (Sentry's INTERNAL_SYSTEM_IPS by default).
 */
bool	auth_is_internal(const struct conf *conf, const char *public_key,
	    const char *client_addr);

/* auth_static_relay - the config file's static relay with this id, or NULL. */
const struct conf_static_relay *auth_static_relay(const struct conf *conf,
	    const char *relay_id);

/*
 * auth_parse_object - parse body as one JSON object (strict, UTF-8
 * checked, nesting bounded).  Returns the object (caller puts it) or NULL
 * for anything else.
 */
json_object *auth_parse_object(const char *body, size_t len);

#endif
