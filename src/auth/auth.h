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
#include "relayauth.h"

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
 * object.  Decides out->internal for this request: a static relay's flag;
 * for a database relay, its sentry_relay.is_internal (set only by an
 * operator, relaycfgctl relay update --internal) or auth_is_internal.
 *
 * Returns 0 with *out filled (release with auth_relay_clear), or -1 after
 * answering: 401 with one of Sentry's four messages ("Invalid relay
 * signature" also when the signed body is valid JSON but no object, or
 * empty or blank, as in Sentry), 400 when it is not strict JSON
 * (auth_parse_object), or 503 when the
 * relay table cannot be read and the relay is not cached.
 */
int	auth_relay_request(struct request *req, struct app *app,
	    struct auth_relay *out);

/*
 * auth_verify - relayauth_verify_ns of req's signature header and body
 * with public_key, at the current time to the nanosecond.  Returns as
 * relayauth_verify_ns (RELAYAUTH_NOMEM when the clock cannot be read).
 */
enum relayauth_status auth_verify(const struct request *req,
	    const char *public_key, unsigned max_age,
	    struct relayauth_sig_time *tm);

/* auth_relay_clear - release the body; a zeroed auth_relay is fine. */
void	auth_relay_clear(struct auth_relay *a);

/*
 * auth_client_addr - the client's address: REMOTE_ADDR, or, when that peer
 * is a trusted proxy, the rightmost X-Forwarded-For entry (all its lines,
 * in order) that is not a trusted proxy itself (the leftmost entries are
 * whatever the client claims, so they never count); a hop's port
 * ("10.1.2.3:5555", "[2001:db8::1]:443") is cut off.  A header that cannot
 * be walked whole (1024 bytes or more, more than 32 hops, an empty hop, a
 * hop longer than len - 1) gives "invalid", which is in no network: never
 * REMOTE_ADDR, which is the proxy itself.  Writes into buf and returns it.
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

/*
 * auth_client_internal - is req's client (auth_client_addr, written to
 * addr[len] for the caller's log) in internal_networks (Sentry's
 * INTERNAL_SYSTEM_IPS when unset)?  An address that cannot be known is
 * never internal.
 */
bool	auth_client_internal(const struct conf *conf,
	    const struct request *req, char *addr, size_t len);

/* auth_static_relay - the config file's static relay with this id, or NULL. */
const struct conf_static_relay *auth_static_relay(const struct conf *conf,
	    const char *relay_id);

/*
 * auth_parse_object - parse body[0..len) as one JSON object: strict
 * RFC 8259 with valid UTF-8 (jsonstrict_check), nesting at most 16, at
 * most 25,000 values of which at most 1,000 arrays and objects.
 * Returns the object (caller puts it), or NULL with *why (when why is not
 * NULL) set to a short static phrase saying what is wrong: auth_not_object
 * (the pointer itself) when the text is valid JSON of another type.
 */
extern const char auth_not_object[];
json_object *auth_parse_object(const char *body, size_t len,
	    const char **why);

#endif
