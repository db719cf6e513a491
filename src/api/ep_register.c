/*
 * ep_register.c - POST /api/0/relays/register/challenge/ and
 * /register/response/: Relay's challenge-response registration, answered
 * as Sentry answers it (sentry-endpoint.md 7), with Relay's own
 * SignedRegisterState tokens.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "endpoints.h"
#include "log.h"
#include "relayauth.h"
#include "store.h"

/* The relay_id pattern of Sentry's serializers: a lowercase UUID v4. */
static bool
is_uuid4_lower(const char *s)
{
	static const char pat[] = "xxxxxxxx-xxxx-4xxx-Yxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; i < sizeof(pat) - 1; i++) {
		char c = s[i];
		switch (pat[i]) {
		case 'x':
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				return false;
			break;
		case 'Y':
			if (c != '8' && c != '9' && c != 'a' && c != 'b')
				return false;
			break;
		default:
			if (c != pat[i])
				return false;
		}
	}
	return true;
}

/*
 * A string field of Sentry's register serializers: its name, its limit
 * (0: none), whether it is the relay_id (Sentry's lowercase UUID v4
 * pattern), and the value found.
 */
struct reg_field {
	const char	*name;
	size_t		 max;
	bool		 relay_id;
	const char	*value;		/* set by reg_fields_valid: the text
					   as sent, NULL for a number */
};

/* Python's str.strip() whitespace, in ASCII. */
static bool
py_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* DRF's message for field f of body, or NULL when it is valid. */
static const char *
reg_field_error(json_object *body, struct reg_field *f)
{
	char trimmed[128];
	json_object *v = NULL;
	const char *s;
	size_t len, start = 0, chars = 0;

	if (!json_object_object_get_ex(body, f->name, &v))
		return "This field is required.";
	if (v == NULL)
		return "This field may not be null.";
	/* CharField takes a number as its text, and no other type. */
	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double))
		f->value = NULL;
	else if (json_object_is_type(v, json_type_string))
		f->value = json_object_get_string(v);
	else
		return "Not a valid string.";
	s = json_object_get_string(v);
	/* ... and validates it stripped of whitespace (trim_whitespace). */
	len = strlen(s);
	while (start < len && py_space((unsigned char)s[start]))
		start++;
	while (len > start && py_space((unsigned char)s[len - 1]))
		len--;
	if (len == start)
		return "This field may not be blank.";
	/* max_length counts characters; the body is valid UTF-8. */
	for (size_t i = start; i < len; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	if (f->max > 0 && chars > f->max)
		return f->max == 64 ?
		    "Ensure this field has no more than 64 characters." :
		    "Ensure this field is not too long.";
	if (!f->relay_id)
		return NULL;
	/* the pattern is matched on the stripped text too */
	if (len - start < sizeof(trimmed)) {
		memcpy(trimmed, s + start, len - start);
		trimmed[len - start] = '\0';
		if (is_uuid4_lower(trimmed))
			return NULL;
	}
	return "This value does not match the required pattern.";
}

/*
 * Whether Relay's serde would read field f as the serializer passed it:
 * a string, and for the relay_id a UUID (the serializer checked the text
 * stripped of whitespace; serde takes no whitespace).
 */
static bool
reg_field_parses(const struct reg_field *f)
{
	return f->value != NULL && (!f->relay_id || is_uuid4_lower(f->value));
}

/*
 * Check the fields of body as Sentry's serializer does: every field, and
 * a 400 that lists each invalid one ({"<field>":["<message>"]}, in field
 * order) when any is.  Returns true when all are valid (each ->value
 * set); false after answering.
 */
static bool
reg_fields_valid(struct request *req, json_object *body, struct reg_field *f,
    size_t n)
{
	json_object *errors = json_object_new_object();
	bool valid = true, oom = errors == NULL;

	for (size_t i = 0; i < n; i++) {
		const char *msg = reg_field_error(body, &f[i]);
		json_object *a;

		if (msg == NULL)
			continue;
		valid = false;
		if (oom || (a = json_object_new_array()) == NULL) {
			oom = true;
			continue;
		}
		if (json_object_array_add(a, json_object_new_string(msg)) != 0 ||
		    json_object_object_add(errors, f[i].name, a) != 0) {
			json_object_put(a);
			oom = true;
		}
	}
	if (!valid) {
		if (oom)
			http_reply_error(req, 503, "Out of memory", NULL);
		else
			http_reply_object(req, 400, errors, NULL);
	}
	json_object_put(errors);
	return valid;
}

/*
 * The body as Sentry's register endpoints read it: json.loads, else 400
 * "No valid json body"; JSON of another type than an object is what the
 * serializer refuses as a whole, as DRF words it.  Returns the object, or
 * NULL after answering.
 */
static json_object *
reg_parse_body(struct request *req)
{
	static const char fmt[] = "{\"non_field_errors\":[\"%s\"]}";
	char reply[96];
	const char *why = NULL, *p, *what;
	json_object *body;
	int n;

	if ((body = auth_parse_object(req->body, req->body_len, &why)) != NULL)
		return body;
	if (why != auth_not_object) {
		http_reply_error(req, 400, "No valid json body", NULL);
		return NULL;
	}
	p = req->body + strspn(req->body, " \t\r\n");
	if (*p == 'n')
		what = "No data provided";
	else if (*p == '[')
		what = "Invalid data. Expected a dictionary, but got list.";
	else if (*p == '"')
		what = "Invalid data. Expected a dictionary, but got str.";
	else if (*p == 't' || *p == 'f')
		what = "Invalid data. Expected a dictionary, but got bool.";
	else if (strpbrk(p, ".eE") != NULL)
		what = "Invalid data. Expected a dictionary, but got float.";
	else
		what = "Invalid data. Expected a dictionary, but got int.";
	n = snprintf(reply, sizeof(reply), fmt, what);
	http_reply_json(req, 400, reply, (size_t)n);
	return NULL;
}

/*
 * Relay's RelayVersion::from_str: split at '.' and '-', the first three
 * parts are numbers 0..255 (u8), whatever follows a separator after the
 * third is ignored.  Stricter than Rust's u8 parser in one point: no '+'
 * sign, which no Relay writes.
 */
static bool
relay_version_valid(const char *s)
{
	for (int part = 0; part < 3; part++) {
		unsigned v = 0;
		size_t nd;

		for (nd = 0; *s >= '0' && *s <= '9'; s++, nd++)
			if ((v = v * 10 + (unsigned)(*s - '0')) > 255)
				return false;
		if (nd == 0)
			return false;
		if (part < 2 && *s != '.' && *s != '-')
			return false;
		if (part < 2)
			s++;
	}
	return *s == '\0' || *s == '.' || *s == '-';
}

/*
 * The "version" of a register request or response, as Relay's
 * RegisterRequest/RegisterResponse read it: absent is fine (*version
 * NULL), anything else must be a version string Relay could parse and
 * sentry_relayusage can hold (32 characters).  Returns 0, or -1 after
 * answering 400 with Relay's BadPayload text, as Sentry does.
 */
static int
request_version(struct request *req, json_object *body, const char **version)
{
	json_object *v;

	*version = NULL;
	if (!json_object_object_get_ex(body, "version", &v))
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) > 32 ||
	    !relay_version_valid(json_object_get_string(v))) {
		http_reply_error(req, 400, "could not deserialize payload",
		    NULL);
		return -1;
	}
	*version = json_object_get_string(v);
	return 0;
}

/*
 * Relay's UnpackError texts, which Sentry passes on as the detail.  Of a
 * request signature, every flaw is BadSignature (verify_meta says only
 * None); of a register token, text that is not base64url is BadEncoding.
 */
static const char *
unpack_error(enum relayauth_status st, bool token)
{
	switch (st) {
	case RELAYAUTH_EXPIRED:
		return "signature is too old";
	case RELAYAUTH_BAD_HEADER:
	case RELAYAUTH_BAD_PAYLOAD:
		return "could not deserialize payload";
	case RELAYAUTH_BAD_ENCODING:
		return token ? "bad key encoding" : "invalid signature on data";
	default:
		return "invalid signature on data";
	}
}

/*
 * The known public key of relay_id: static relays, then sentry_relay.
 * Returns 0 found (into pk), 1 unknown, -1 after answering 503.
 */
static int
known_public_key(struct request *req, struct app *app, const char *relay_id,
    char *pk, size_t pklen)
{
	const struct conf_static_relay *sr;
	const struct model_relay *row = NULL;
	int rc;

	if ((sr = auth_static_relay(app->conf, relay_id)) != NULL) {
		snprintf(pk, pklen, "%s", sr->public_key);
		return 0;
	}
	if (app->store == NULL) {
		http_reply_error(req, 503, "Backend unavailable", NULL);
		return -1;
	}
	rc = store_relays_by_relay_ids(app->store, &relay_id, 1, &row);
	if (row != NULL) {
		snprintf(pk, pklen, "%s", row->public_key);
		return 0;
	}
	if (rc != STORE_OK) {
		log_warn("register: relay lookup failed: %s",
		    store_last_error(app->store));
		http_reply_error(req, 503, "Backend unavailable", NULL);
		return -1;
	}
	return 1;
}

/*
 * May relay_id register while open_registration is off?  Static relays,
 * relays internal by key or address, and database relays an operator
 * marked internal (which re-register every 10 minutes from wherever they
 * are).  Returns 1 yes, 0 no, -1 after answering 503.
 */
static int
may_register(struct request *req, struct app *app, const char *relay_id,
    const char *public_key)
{
	const struct conf *conf = app->conf;
	const struct model_relay *row = NULL;
	char addr[64];
	int rc;

	if (conf->open_registration ||
	    auth_static_relay(conf, relay_id) != NULL ||
	    auth_is_internal(conf, public_key,
	    auth_client_addr(conf, req, addr, sizeof(addr))))
		return 1;
	/* Only a relay_id as registration writes it can have a row. */
	if (!is_uuid4_lower(relay_id))
		return 0;
	if (app->store == NULL) {
		http_reply_error(req, 503, "Backend unavailable", NULL);
		return -1;
	}
	rc = store_relays_by_relay_ids(app->store, &relay_id, 1, &row);
	if (rc != STORE_OK && row == NULL) {
		log_warn("register: relay lookup failed: %s",
		    store_last_error(app->store));
		http_reply_error(req, 503, "Backend unavailable", NULL);
		return -1;
	}
	/* The key is checked against the row later, as for every relay. */
	return row != NULL && row->is_internal ? 1 : 0;
}

/* The header relay id, normalised; "" when absent or not a UUID. */
static void
header_relay_id(const struct request *req, char out[MODEL_RELAY_ID_LEN + 1])
{
	if (relayauth_relay_id_parse(req->relay_id, out) != 0)
		out[0] = '\0';
}

static bool
registration_secret_ok(struct request *req, const struct conf *conf)
{
	if (conf->registration_secret != NULL)
		return true;
	log_err("registration_secret is not set: relays cannot register");
	http_reply_error(req, 503, "Registration is not configured", NULL);
	return false;
}

void
ep_register_challenge(struct request *req, struct app *app)
{
	const struct conf *conf = app->conf;
	char hdr_id[MODEL_RELAY_ID_LEN + 1];
	char known[MODEL_RELAY_PK_MAX + 1];
	struct reg_field fields[] = {
		{ "relay_id", 0, true, NULL },
		{ "public_key", 64, false, NULL },
	};
	const char *relay_id, *public_key, *version;
	json_object *body, *out = NULL;
	enum relayauth_status st;
	char *token = NULL;
	int rc;

	if ((body = reg_parse_body(req)) == NULL)
		return;
	if (!reg_fields_valid(req, body, fields, 2))
		goto out;
	/* A number passed the serializer, but no lookup can match it. */
	relay_id = fields[0].value;
	public_key = fields[1].value != NULL ? fields[1].value : "";
	if ((rc = may_register(req, app, relay_id, public_key)) < 0)
		goto out;
	if (rc == 0) {
		/*
		 * Sentry's detail, and "relay":"stop" (issue 4), with which
		 * Relay stops authenticating (AuthState::Denied) instead of
		 * retrying a registration that cannot succeed; once the
		 * operator lets it in, it registers on its next start.
		 */
		static const char denied[] = "{\"detail\":\"Relay is not "
		    "allowed to register\",\"relay\":\"stop\"}";
		http_reply_json(req, 403, denied, sizeof(denied) - 1);
		goto out;
	}
	if (req->relay_signature[0] == '\0') {
		http_reply_error(req, 400, "Missing relay signature", NULL);
		goto out;
	}
	/*
	 * bootstrap_unpack parses the whole request before the signature:
	 * a version or a public_key that Relay's types refuse is BadPayload.
	 */
	if (request_version(req, body, &version) != 0)
		goto out;
	if (!reg_field_parses(&fields[0]) ||
	    !relayauth_public_key_valid(public_key)) {
		http_reply_error(req, 400, "could not deserialize payload",
		    NULL);
		goto out;
	}
	/* Self-signed bootstrap: verify with the key the body carries. */
	st = auth_verify(req, public_key, conf->register_max_age, NULL);
	if (st != RELAYAUTH_OK) {
		http_reply_error(req, 400, unpack_error(st, false), NULL);
		goto out;
	}
	header_relay_id(req, hdr_id);
	if (strcmp(hdr_id, relay_id) != 0) {
		http_reply_error(req, 400,
		    "relay_id in payload did not match header", NULL);
		goto out;
	}
	if ((rc = known_public_key(req, app, relay_id, known,
	    sizeof(known))) < 0)
		goto out;
	if (rc == 0 && strcmp(known, public_key) != 0) {
		http_reply_error(req, 400,
		    "Attempted to register agent with a different public key",
		    NULL);
		goto out;
	}
	if (!registration_secret_ok(req, conf))
		goto out;
	st = relayauth_token_create(conf->registration_secret,
	    strlen(conf->registration_secret), relay_id, public_key,
	    (int64_t)time(NULL), &token);
	if (st != RELAYAUTH_OK) {
		http_reply_error(req, 503, "Could not create a challenge", NULL);
		goto out;
	}
	if ((out = json_object_new_object()) == NULL)
		goto oom;
	json_object_object_add(out, "relay_id",
	    json_object_new_string(relay_id));
	json_object_object_add(out, "token", json_object_new_string(token));
	http_reply_object(req, 200, out, NULL);
	goto out;
oom:
	http_reply_error(req, 503, "Out of memory", NULL);
out:
	free(token);
	json_object_put(out);
	json_object_put(body);
}

void
ep_register_response(struct request *req, struct app *app)
{
	const struct conf *conf = app->conf;
	char hdr_id[MODEL_RELAY_ID_LEN + 1], reply[128];
	struct relayauth_register_state state;
	struct reg_field fields[] = {
		{ "relay_id", 0, true, NULL },
		{ "token", 0, false, NULL },
	};
	const char *relay_id, *token, *version;
	enum relayauth_status st;
	json_object *body;
	int n, rc;

	if ((body = reg_parse_body(req)) == NULL)
		return;
	if (!reg_fields_valid(req, body, fields, 2))
		goto out;
	relay_id = fields[0].value;
	token = fields[1].value;
	if (req->relay_signature[0] == '\0') {
		http_reply_error(req, 400, "Missing relay signature", NULL);
		goto out;
	}
	if (!registration_secret_ok(req, conf))
		goto out;
	/* RegisterResponse::unpack parses the body before the token. */
	if (request_version(req, body, &version) != 0)
		goto out;
	if (!reg_field_parses(&fields[0]) || !reg_field_parses(&fields[1])) {
		http_reply_error(req, 400, "could not deserialize payload",
		    NULL);
		goto out;
	}
	st = relayauth_token_verify(token, conf->registration_secret,
	    strlen(conf->registration_secret), (int64_t)time(NULL),
	    (int64_t)conf->register_max_age, &state);
	if (st == RELAYAUTH_EXPIRED) {
		http_reply_error(req, 401, "Challenge expired",
		    AUTH_WWW_AUTHENTICATE);
		goto out;
	}
	if (st != RELAYAUTH_OK) {
		http_reply_error(req, 400, unpack_error(st, true), NULL);
		goto out;
	}
	/*
	 * The body must be signed by the key the challenge was issued to.
	 * A signature header too old is SignatureExpired in relay-auth, as
	 * for the token, and Sentry answers both 401.
	 */
	st = auth_verify(req, state.public_key, conf->register_max_age, NULL);
	if (st == RELAYAUTH_EXPIRED) {
		http_reply_error(req, 401, "Challenge expired",
		    AUTH_WWW_AUTHENTICATE);
		goto out;
	}
	if (st != RELAYAUTH_OK) {
		http_reply_error(req, 400, unpack_error(st, false), NULL);
		goto out;
	}
	header_relay_id(req, hdr_id);
	if (strcmp(state.relay_id, relay_id) != 0 ||
	    strcmp(hdr_id, relay_id) != 0) {
		http_reply_error(req, 400,
		    "relay_id in payload did not match header", NULL);
		goto out;
	}
	if (auth_static_relay(conf, relay_id) == NULL) {
		const struct model_relay *row = NULL;
		bool internal;

		if (app->store == NULL) {
			http_reply_error(req, 503, "Backend unavailable", NULL);
			goto out;
		}
		/*
		 * sentry_relay.is_internal is the operator's mark (relaycfgctl
		 * relay update --internal), read on every request; registering
		 * keeps it, or starts a new relay unmarked.  Whether this
		 * request comes from an internal address is decided per
		 * request and never stored: a relay that once registered from
		 * inside would otherwise stay internal from anywhere.
		 */
		rc = store_relays_by_relay_ids(app->store, &relay_id, 1, &row);
		if (rc != STORE_OK && row == NULL) {
			log_warn("register %s: %s", relay_id,
			    store_last_error(app->store));
			http_reply_error(req, 503, "Backend unavailable", NULL);
			goto out;
		}
		internal = row != NULL && row->is_internal;
		rc = store_relay_register(app->store, relay_id,
		    state.public_key, internal, version);
		if (rc == STORE_UNAVAILABLE || rc == STORE_ERROR) {
			log_warn("register %s: %s", relay_id,
			    store_last_error(app->store));
			http_reply_error(req, 503, "Backend unavailable", NULL);
			goto out;
		}
		if (rc != STORE_OK) {
			http_reply_error(req, 400,
			    store_last_error(app->store), NULL);
			goto out;
		}
		log_info("relay %s registered (%s)", relay_id,
		    internal ? "marked internal" : "not marked internal");
	}
	n = snprintf(reply, sizeof(reply), "{\"relay_id\":\"%s\"}", relay_id);
	http_reply_json(req, 200, reply, (size_t)n);
out:
	json_object_put(body);
}
