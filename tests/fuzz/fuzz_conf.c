/*
 * fuzz_conf.c - the configuration file (conf_load), from a temp file.
 *
 * Input: the whole file.  Invariants:
 *   - refused: the message names the file and a line ("path:N: ...");
 *   - accepted: loading the same bytes again gives the same settings;
 *     every value is inside its documented range (max_body_size at least
 *     1024, prefixes at most 128 bits, static relays with canonical ids
 *     and valid keys, global options that are RFC 8259 JSON), and the
 *     addresses the lists were parsed from are contained in them.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "relayauth.h"

static char path[PATH_MAX];

static void
check_conf(const struct conf *c)
{
	FUZZ_CHECK(c->max_body_size >= 1024, "max_body_size %zu",
	    c->max_body_size);
	FUZZ_CHECK(c->workers >= -1, "workers %d", c->workers);
	FUZZ_CHECK(c->log_level >= 0 && c->log_level <= 3, "log_level %d",
	    c->log_level);
	for (size_t i = 0; i < c->n_static_relays; i++) {
		char id[RELAYAUTH_RELAY_ID_LEN + 1];
		const struct conf_static_relay *r = &c->static_relays[i];

		FUZZ_CHECK(relayauth_relay_id_parse(r->relay_id, id) == 0 &&
		    strcmp(id, r->relay_id) == 0,
		    "static relay id \"%s\" not canonical", r->relay_id);
		FUZZ_CHECK(relayauth_public_key_valid(r->public_key),
		    "static relay key \"%s\"", r->public_key);
	}
	for (size_t i = 0; i < c->n_internal_networks; i++)
		FUZZ_CHECK(c->internal_networks[i].prefix >= 0 &&
		    c->internal_networks[i].prefix <= 128, "prefix %d",
		    c->internal_networks[i].prefix);
	for (size_t i = 0; i < c->n_trusted_proxies; i++)
		FUZZ_CHECK(c->trusted_proxies[i].prefix >= 0 &&
		    c->trusted_proxies[i].prefix <= 128, "prefix %d",
		    c->trusted_proxies[i].prefix);
	for (size_t i = 0; i < c->n_internal_public_keys; i++)
		FUZZ_CHECK(c->internal_public_keys[i] != NULL,
		    "NULL internal_public_key");
	for (size_t i = 0; i < c->n_global_options; i++) {
		int top, depth;
		const char *j = c->global_options[i].json;

		FUZZ_CHECK(c->global_options[i].key != NULL && j != NULL &&
		    fuzz_json_valid(j, strlen(j), &top, &depth),
		    "global_option %s: \"%s\" is not JSON",
		    c->global_options[i].key, j != NULL ? j : "(null)");
	}
	for (size_t i = 0; i < c->n_memcached_servers; i++)
		FUZZ_CHECK(c->memcached_servers[i] != NULL &&
		    c->memcached_servers[i][0] != '\0', "empty server");
	/* every Sentry option holds None or a value of its table type */
	for (size_t i = 0; i < sentryopts_n; i++) {
		json_object *v = c->sentry.option[i];
		json_type t = v == NULL ? json_type_null : json_object_get_type(v);
		bool ok;

		switch (sentryopts[i].type) {
		case SOPT_BOOL: ok = t == json_type_boolean; break;
		case SOPT_INT: ok = t == json_type_int; break;
		case SOPT_FLOAT: ok = t == json_type_int ||
		    t == json_type_double; break;
		case SOPT_STRING: ok = t == json_type_string; break;
		case SOPT_LIST: ok = t == json_type_array; break;
		default: ok = t == json_type_object; break;
		}
		FUZZ_CHECK(v == NULL || ok, "sentry option %s has type %s",
		    sentryopts[i].name, json_type_to_name(t));
	}
	/* a global_option relaycfg has a row for is never forwarded raw */
	for (size_t i = 0; i < c->n_global_options; i++)
		FUZZ_CHECK(sentryopt_index(c->global_options[i].key) < 0,
		    "global_option %s kept raw", c->global_options[i].key);
}

static bool
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The same file twice: the same settings. */
static void
check_same(const struct conf *a, const struct conf *b)
{
	FUZZ_CHECK(a->max_body_size == b->max_body_size &&
	    a->workers == b->workers && a->max_requests == b->max_requests &&
	    a->signature_max_age == b->signature_max_age &&
	    a->n_static_relays == b->n_static_relays &&
	    a->n_internal_networks == b->n_internal_networks &&
	    a->n_trusted_proxies == b->n_trusted_proxies &&
	    a->n_global_options == b->n_global_options &&
	    a->n_memcached_servers == b->n_memcached_servers &&
	    str_eq(a->registration_secret, b->registration_secret) &&
	    str_eq(a->db.user, b->db.user) &&
	    str_eq(a->db.socket, b->db.socket) &&
	    str_eq(a->listen, b->listen), "two loads differ");
	{
		char da[SENTRY_SETTINGS_DIGEST_LEN + 1];
		char db[SENTRY_SETTINGS_DIGEST_LEN + 1];

		sentry_settings_digest(&a->sentry, da);
		sentry_settings_digest(&b->sentry, db);
		FUZZ_CHECK(strcmp(da, db) == 0, "settings digests differ");
	}
	if (a->n_internal_networks > 0)
		FUZZ_CHECK(memcmp(a->internal_networks, b->internal_networks,
		    a->n_internal_networks * sizeof(*a->internal_networks)) == 0,
		    "networks differ");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], err2[512];
	struct conf *c, *c2;

	if (path[0] == '\0') {
		fuzz_quiet_logs();
		snprintf(path, sizeof(path), "%s/relaycfg.conf", fuzz_tmpdir());
	}
	fuzz_write_file(path, data, size);
	err[0] = '\0';
	c = conf_load(path, err, sizeof(err));
	if (c == NULL) {
		FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 &&
		    err[strlen(path)] == ':', "refused without file:line: "
		    "\"%s\"", err);
		FUZZ_CHECK(conf_load(path, err2, sizeof(err2)) == NULL &&
		    strcmp(err, err2) == 0, "a second load differs");
		return 0;
	}
	check_conf(c);
	FUZZ_CHECK((c2 = conf_load(path, err2, sizeof(err2))) != NULL,
	    "second load refused: %s", err2);
	check_same(c, c2);
	conf_free(c2);
	conf_free(c);
	return 0;
}
