/*
 * ep_publickeys.c - POST /api/0/relays/publickeys/: the public keys of
 * other relays, for any authenticated relay that accepts downstream relays.
 *
 *   {"relay_ids": [...]} -> {"public_keys": {id: key|null},
 *                            "relays": {id: {"publicKey","internal"}|null}}
 *
 * As Sentry's RelayPublicKeysEndpoint (src/sentry/api/endpoints/relay/
 * public_keys.py): no internal check, and "internal" is only true when
 * both the relay asked about and the calling relay are internal, so an
 * external relay learns keys but not which relays are trusted.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "endpoints.h"
#include "log.h"
#include "store.h"

/*
 * A Relay asks for the keys of the downstream relays it has seen, a few
 * at a time; this bounds what one body can cost, as projectconfigs'
 * PC_MAX_KEYS does.
 */
#define PK_MAX_RELAY_IDS	10000

void
ep_publickeys(struct request *req, struct app *app)
{
	struct auth_relay relay;
	json_object *ids, *keys = NULL, *relays = NULL, *out = NULL;
	const struct model_relay **rows = NULL, **qrows = NULL;
	const char **idv = NULL, **qv = NULL;
	size_t n = 0, nq = 0;
	int rc;

	if (auth_relay_request(req, app, &relay) != 0)
		return;
	if (json_object_object_get_ex(relay.body, "relay_ids", &ids) &&
	    ids != NULL) {
		if (!json_object_is_type(ids, json_type_array)) {
			http_reply_error(req, 400,
			    "relay_ids must be a list of relay ids", NULL);
			goto out;
		}
		n = json_object_array_length(ids);
	}
	if (n > PK_MAX_RELAY_IDS) {
		http_reply_error(req, 400, "Too many relay ids in one request",
		    NULL);
		goto out;
	}
	if ((idv = calloc(n + 1, sizeof(*idv))) == NULL ||
	    (qv = calloc(n + 1, sizeof(*qv))) == NULL ||
	    (qrows = calloc(n + 1, sizeof(*qrows))) == NULL ||
	    (rows = calloc(n + 1, sizeof(*rows))) == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(ids, i);
		if (!json_object_is_type(v, json_type_string)) {
			http_reply_error(req, 400,
			    "relay_ids must be a list of relay ids", NULL);
			goto out;
		}
		idv[i] = json_object_get_string(v);
		/*
		 * Only canonical relay ids can be in sentry_relay (register
		 * and relaycfgctl write no others): anything else is
		 * answered null without reaching the store or SQL.
		 */
		if (auth_static_relay(app->conf, idv[i]) == NULL &&
		    store_valid_uuid(idv[i]))
			qv[nq++] = idv[i];
	}
	/* Static relays are answered from the config file, the rest in one
	 * batch from the store. */
	rc = STORE_UNAVAILABLE;
	if (nq == 0)
		rc = STORE_OK;
	else if (app->store != NULL)
		rc = store_relays_by_relay_ids(app->store, qv, nq, qrows);
	for (size_t i = 0, j = 0; i < n && j < nq; i++)
		if (idv[i] == qv[j])
			rows[i] = qrows[j++];
	if (rc != STORE_OK) {
		for (size_t i = 0; i < n; i++)
			if (rows[i] == NULL && store_valid_uuid(idv[i]) &&
			    auth_static_relay(app->conf, idv[i]) == NULL) {
				log_warn("publickeys: relay lookup failed");
				http_reply_error(req, 503,
				    "Backend unavailable", NULL);
				goto out;
			}
	}
	if ((out = json_object_new_object()) == NULL ||
	    (keys = json_object_new_object()) == NULL ||
	    (relays = json_object_new_object()) == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		const struct conf_static_relay *sr =
		    auth_static_relay(app->conf, idv[i]);
		const char *pk = NULL;
		bool internal = false;
		json_object *info;

		if (sr != NULL) {
			pk = sr->public_key;
			internal = sr->internal;
		} else if (rows[i] != NULL) {
			pk = rows[i]->public_key;
			internal = rows[i]->is_internal;
		}
		if (pk == NULL) {
			json_object_object_add(keys, idv[i], NULL);
			json_object_object_add(relays, idv[i], NULL);
			continue;
		}
		if ((info = json_object_new_object()) == NULL)
			goto oom;
		json_object_object_add(info, "publicKey",
		    json_object_new_string(pk));
		/* Only an internal caller learns who else is internal. */
		json_object_object_add(info, "internal",
		    json_object_new_boolean(internal && relay.internal));
		json_object_object_add(relays, idv[i], info);
		json_object_object_add(keys, idv[i], json_object_new_string(pk));
	}
	json_object_object_add(out, "public_keys", keys);
	json_object_object_add(out, "relays", relays);
	keys = relays = NULL;
	http_reply_object(req, 200, out, NULL);
	goto out;
oom:
	http_reply_error(req, 503, "Out of memory", NULL);
out:
	json_object_put(keys);
	json_object_put(relays);
	json_object_put(out);
	free(idv);
	free(qv);
	free(qrows);
	free(rows);
	auth_relay_clear(&relay);
}
