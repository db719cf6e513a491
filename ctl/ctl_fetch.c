/*
 * ctl_fetch.c - relaycfgctl register, fetch and publickeys: the requests
 * Sentry Relay sends its upstream, with the bodies it sends, so that the
 * server can be tested and operated without a Relay binary.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "ctl_relay.h"
#include "jsonstrict.h"

/*
 * Relay sends RelayVersion::current(), a CalVer X.Y.Z; Sentry only checks
 * it against a minimum, so a recent one stands in for "a current Relay".
 */
#define DEFAULT_RELAY_VERSION	"25.11.0"
#define DEFAULT_CONFIG_VERSION	"3"

/*
 * json_text - compact JSON as serde_json writes it (no spaces, '/' not
 * escaped).  The string belongs to obj.
 */
static const char *
json_text(json_object *obj, size_t *len)
{
	const char *s = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);

	return s;
}

/*
 * jadd - add v to object obj under key, or append it to array obj when key
 * is NULL.  Takes v in every case (puts it on failure).  False on OOM,
 * including a NULL v from a failed json_object_new_*().
 */
static bool
jadd(json_object *obj, const char *key, json_object *v)
{
	int rc;

	if (v == NULL)
		return false;
	rc = key == NULL ? json_object_array_add(obj, v) :
	    json_object_object_add(obj, key, v);
	if (rc != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/*
 * The options of register and fetch beyond the shared ones; register's
 * long options name only --version.  revs is the caller's to free.
 */
struct reqopts {
	const char	*version;	/* --version */
	bool		 global;	/* --global */
	bool		 no_cache;	/* --no-cache */
	bool		 full;		/* --full-config */
	const char	*body_file;	/* --body-file */
	const char	**revs;		/* --revision KEY=REV, in order */
	size_t		 n_revs;
	enum fetch_output output;	/* --pretty, --compact, --summary */
};

/* register's and fetch's own options (a ctl_own_opt); at most one of
 * --pretty, --compact, --summary. */
static int
req_opt(void *ctx, const char *cmd, int ch, const char *arg)
{
	struct reqopts *ro = ctx;
	enum fetch_output out;

	switch (ch) {
	case OPT_VERSION: ro->version = arg; return 0;
	case OPT_GLOBAL: ro->global = true; return 0;
	case OPT_NO_CACHE: ro->no_cache = true; return 0;
	case OPT_FULL_CONFIG: ro->full = true; return 0;
	case OPT_BODY_FILE: ro->body_file = arg; return 0;
	case OPT_PRETTY:
	case OPT_COMPACT:
	case OPT_SUMMARY:
		out = ch == OPT_PRETTY ? FETCH_OUTPUT_PRETTY :
		    ch == OPT_COMPACT ? FETCH_OUTPUT_COMPACT :
		    FETCH_OUTPUT_SUMMARY;
		if (ro->output != FETCH_OUTPUT_AUTO && ro->output != out) {
			ctl_warn(cmd, "--pretty, --compact and --summary do "
			    "not mix: give one");
			return 2;
		}
		ro->output = out;
		return 0;
	case OPT_REVISION:
		if (strchr(arg, '=') == NULL) {
			ctl_warn(cmd, "--revision: expected KEY=REV");
			return 2;
		}
		return ctl_push(cmd, &ro->revs, &ro->n_revs, arg) ? 0 : 2;
	}
	return 1;
}

/* ---- register ---- */

/* A challenge answer is {"relay_id","token"}; room to spare. */
static const struct jsonstrict_limits challenge_limits = { 8, 100, 10 };

static const char register_usage[] =
    "usage: relaycfgctl register --upstream URL --credentials FILE\n"
    "           [--version V] [--header 'N: V']... [--time UNIXSECS] [--status]\n"
    "\n"
    "Register as Relay does: POST /api/0/relays/register/challenge/ with\n"
    "{relay_id, public_key, version}, then /register/response/ with the\n"
    "challenge's relay_id and token; print the final answer.\n"
    "\n"
    "  --version V           Relay version to announce (default "
    DEFAULT_RELAY_VERSION ")\n"
    NET_USAGE;

int
cmd_register(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		NET_LONGOPTS,
		{ "version",	required_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct netopts no = { 0 };
	struct creds c;
	struct response r1 = { 0, NULL, 0, false, 0 }, r2 = { 0, NULL, 0, false, 0 };
	json_object *req = NULL, *ans = NULL, *rid, *tok;
	struct reqopts ro = { DEFAULT_RELAY_VERSION, false, false, false,
	    NULL, NULL, 0, FETCH_OUTPUT_AUTO };
	const char *body;
	size_t len;
	int rc;

	(void)o;
	if ((rc = ctl_getopt(argc, argv, longopts, register_usage, req_opt,
	    &ro, &no)) >= 0)
		goto out_nocreds;
	rc = 1;
	if (optind != argc || ctl_net_check(argv[0], &no) != 0) {
		fputs(register_usage, stderr);
		rc = 2;
		goto out_nocreds;
	}
	if (ctl_creds_load(argv[0], no.credentials, &c) != 0)
		goto out_nocreds;

	/* RegisterRequest, fields in Relay's order. */
	if ((req = json_object_new_object()) == NULL ||
	    !jadd(req, "relay_id", json_object_new_string(c.relay_id)) ||
	    !jadd(req, "public_key", json_object_new_string(c.public_key)) ||
	    !jadd(req, "version", json_object_new_string(ro.version)) ||
	    (body = json_text(req, &len)) == NULL) {
		ctl_warn(argv[0], "out of memory");
		goto out;
	}
	if (ctl_http_post(argv[0], &no, &c, "/api/0/relays/register/challenge/",
	    body, len, &r1) != 0)
		goto out;
	if (!ctl_is_2xx(&r1)) {
		rc = ctl_finish(&no, &r1);
		goto out;
	}
	/*
	 * RegisterChallenge: relay_id and token, both required.  Checked
	 * strictly and small first: json-c would build an object of up to
	 * 780 bytes for each value of whatever came.
	 */
	if (jsonstrict_check_limits(r1.body, r1.len, &challenge_limits,
	    NULL) != 0 || (ans = json_tokener_parse(r1.body)) == NULL ||
	    !json_object_object_get_ex(ans, "relay_id", &rid) ||
	    !json_object_is_type(rid, json_type_string) ||
	    !json_object_object_get_ex(ans, "token", &tok) ||
	    !json_object_is_type(tok, json_type_string)) {
		ctl_warn(argv[0], "challenge answer lacks relay_id or token:");
		ctl_put_body(stderr, &r1);
		goto out;
	}
	/* RegisterResponse echoes the upstream's relay_id, not ours. */
	json_object_put(req);
	if ((req = json_object_new_object()) == NULL ||
	    !jadd(req, "relay_id", json_object_new_string(
	    json_object_get_string(rid))) ||
	    !jadd(req, "token", json_object_new_string(
	    json_object_get_string(tok))) ||
	    !jadd(req, "version", json_object_new_string(ro.version)) ||
	    (body = json_text(req, &len)) == NULL) {
		ctl_warn(argv[0], "out of memory");
		goto out;
	}
	if (ctl_http_post(argv[0], &no, &c, "/api/0/relays/register/response/",
	    body, len, &r2) != 0)
		goto out;
	rc = ctl_finish(&no, &r2);
out:
	sodium_memzero(&c, sizeof(c));
out_nocreds:
	json_object_put(req);
	json_object_put(ans);
	free(r1.body);
	free(r2.body);
	free(no.headers);
	free(ro.revs);
	return rc;
}

/* ---- fetch ---- */

static const char fetch_usage[] =
    "usage: relaycfgctl fetch --upstream URL --credentials FILE [--version N]\n"
    "           [--global] [--no-cache] [--full-config] [--revision KEY=REV]...\n"
    "           [--body-file F] [--header 'N: V']... [--time UNIXSECS]\n"
    "           [--status] [--pretty | --compact | --summary] [KEY...]\n"
    "\n"
    "POST /api/0/relays/projectconfigs/?version=N (default 3) with the body\n"
    "Relay sends: {\"publicKeys\",\"revisions\",\"fullConfig\",\"noCache\"}\n"
    "(+ \"global\":true), {\"global\":true,\"publicKeys\":[]} for --global\n"
    "without keys, {\"projects\":[ids]} for version 1.  Print the answer:\n"
    "indented on a terminal, compact (as it came) otherwise.\n"
    "\n"
    "  --version N           protocol version, sent as given (default 3)\n"
    "  --global              ask for the global config too\n"
    "  --no-cache            \"noCache\":true\n"
    "  --full-config         \"fullConfig\":true\n"
    "  --revision KEY=REV    the cached revision of KEY, one of the keys\n"
    "                        (else null)\n"
    "  --body-file F         send F's bytes (\"-\": stdin) instead, signed\n"
    "  --pretty              print the answer indented, also into a pipe\n"
    "  --compact             print the answer as it came, also on a terminal\n"
    "  --summary             a line per key answered or asked for: KEY\n"
    "                        STATUS PROJECT/SLUG REV FEATURES (what Relay\n"
    "                        gets for it); with --global, a last line says\n"
    "                        whether the global config came; with --json\n"
    "                        (before fetch), one JSON object instead\n"
    "                        (one of --pretty, --compact, --summary)\n"
    NET_USAGE;

/* Is s a plain non-negative decimal that fits an int64? */
static bool
is_number(const char *s, int64_t *v)
{
	char *end;
	long long x;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0)
		return false;
	*v = x;
	return true;
}

/* The last --revision for key, or NULL. */
static const char *
revision_of(const char *const *revs, size_t n, const char *key)
{
	const char *found = NULL;
	size_t klen = strlen(key);

	for (size_t i = 0; i < n; i++)
		if (strncmp(revs[i], key, klen) == 0 && revs[i][klen] == '=')
			found = revs[i] + klen + 1;
	return found;
}

/*
 * revisions_unasked - does a --revision go nowhere: with --body-file or
 * --version 1 (no revisions are sent), or naming a key not among keys?
 * Says which (cmd's warning) and returns true; false when all are used.
 */
static bool
revisions_unasked(const char *cmd, const struct reqopts *ro, char **keys,
    size_t n_keys)
{
	for (size_t i = 0; i < ro->n_revs; i++) {
		size_t klen = strcspn(ro->revs[i], "=");
		bool asked = false;

		if (ro->body_file != NULL || strcmp(ro->version, "1") == 0) {
			ctl_warn(cmd, ro->body_file != NULL ? "--revision "
			    "does not mix with --body-file (the body is sent "
			    "as it is)" : "--revision: version 1 sends no "
			    "revisions");
			return true;
		}
		for (size_t k = 0; k < n_keys && !asked; k++)
			asked = strlen(keys[k]) == klen &&
			    strncmp(keys[k], ro->revs[i], klen) == 0;
		if (!asked) {
			ctl_warn(cmd, "--revision %.*s=...: %.*s is not "
			    "among the keys asked for", (int)klen, ro->revs[i],
			    (int)klen, ro->revs[i]);
			return true;
		}
	}
	return false;
}

/*
 * fetch_body - the GetProjectStates (or v1, or GetGlobalConfig) body.
 * Returns a new object, or NULL on OOM.
 */
static json_object *
fetch_body(const struct reqopts *ro, char **keys, size_t n_keys)
{
	json_object *b, *a = NULL, *r = NULL;
	const char *rev;
	int64_t id;

	if ((b = json_object_new_object()) == NULL)
		return NULL;
	if (ro->global && n_keys == 0) {
		/* GetGlobalConfig, exactly. */
		if (!jadd(b, "global", json_object_new_boolean(1)) ||
		    !jadd(b, "publicKeys", json_object_new_array()))
			goto fail;
		return b;
	}
	if ((a = json_object_new_array()) == NULL)
		goto fail;
	if (strcmp(ro->version, "1") == 0) {
		/* Legacy: project ids, numbers when they look like one. */
		for (size_t i = 0; i < n_keys; i++)
			if (!jadd(a, NULL, is_number(keys[i], &id) ?
			    json_object_new_int64(id) :
			    json_object_new_string(keys[i])))
				goto fail;
		if (!jadd(b, "projects", a))
			goto fail_noa;
	} else {
		if ((r = json_object_new_array()) == NULL)
			goto fail;
		for (size_t i = 0; i < n_keys; i++) {
			rev = revision_of(ro->revs, ro->n_revs, keys[i]);
			if (!jadd(a, NULL, json_object_new_string(keys[i])))
				goto fail;
			/* json-c takes NULL as JSON null. */
			if (rev == NULL) {
				if (json_object_array_add(r, NULL) != 0)
					goto fail;
			} else if (!jadd(r, NULL, json_object_new_string(rev)))
				goto fail;
		}
		if (!jadd(b, "publicKeys", a)) {
			a = NULL;
			goto fail;
		}
		a = NULL;
		if (!jadd(b, "revisions", r)) {
			r = NULL;
			goto fail;
		}
		r = NULL;
		if (!jadd(b, "fullConfig", json_object_new_boolean(ro->full)) ||
		    !jadd(b, "noCache", json_object_new_boolean(ro->no_cache)))
			goto fail;
	}
	if (ro->global && !jadd(b, "global", json_object_new_boolean(1)))
		goto fail;
	return b;
fail_noa:
	a = NULL;
fail:
	json_object_put(a);
	json_object_put(r);
	json_object_put(b);
	return NULL;
}

int
cmd_fetch(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		NET_LONGOPTS,
		{ "version",	 required_argument, NULL, OPT_VERSION },
		{ "global",	 no_argument,	    NULL, OPT_GLOBAL },
		{ "no-cache",	 no_argument,	    NULL, OPT_NO_CACHE },
		{ "full-config", no_argument,	    NULL, OPT_FULL_CONFIG },
		{ "revision",	 required_argument, NULL, OPT_REVISION },
		{ "body-file",	 required_argument, NULL, OPT_BODY_FILE },
		{ "pretty",	 no_argument,	    NULL, OPT_PRETTY },
		{ "compact",	 no_argument,	    NULL, OPT_COMPACT },
		{ "summary",	 no_argument,	    NULL, OPT_SUMMARY },
		{ NULL, 0, NULL, 0 }
	};
	struct netopts no = { 0 };
	struct creds c;
	struct response r = { 0, NULL, 0, false, 0 };
	struct reqopts ro = { DEFAULT_CONFIG_VERSION, false, false, false,
	    NULL, NULL, 0, FETCH_OUTPUT_AUTO };
	struct fetch_asked asked;
	json_object *jb = NULL;
	const char *body;
	char *raw = NULL, *path = NULL, *qv = NULL;
	bool loaded = false;
	size_t len;
	int rc;

	if ((rc = ctl_getopt(argc, argv, longopts, fetch_usage, req_opt, &ro,
	    &no)) >= 0)
		goto out;
	rc = 2;
	if (ctl_net_check(argv[0], &no) != 0 ||
	    (ro.body_file == NULL && !ro.global && optind == argc)) {
		if (ro.body_file == NULL && !ro.global && optind == argc)
			ctl_warn(argv[0], "no KEY given");
		fputs(fetch_usage, stderr);
		goto out;
	}
	if (revisions_unasked(argv[0], &ro, argv + optind,
	    (size_t)(argc - optind))) {
		fputs(fetch_usage, stderr);
		goto out;
	}
	rc = 1;
	if (ctl_creds_load(argv[0], no.credentials, &c) != 0)
		goto out;
	loaded = true;
	if (ro.body_file != NULL) {
		if (ctl_read_file(argv[0], ro.body_file, MAX_BODY, &raw,
		    &len) != 0)
			goto out;
		body = raw;
	} else {
		if ((jb = fetch_body(&ro, argv + optind,
		    (size_t)(argc - optind))) == NULL ||
		    (body = json_text(jb, &len)) == NULL) {
			ctl_warn(argv[0], "out of memory");
			goto out;
		}
	}
	if ((qv = curl_easy_escape(NULL, ro.version, 0)) == NULL ||
	    asprintf(&path, "/api/0/relays/projectconfigs/?version=%s",
	    qv) < 0) {
		path = NULL;
		ctl_warn(argv[0], "out of memory");
		goto out;
	}
	if (ctl_http_post(argv[0], &no, &c, path, body, len, &r) != 0)
		goto out;
	asked.keys = ro.body_file == NULL ? argv + optind : NULL;
	asked.n_keys = ro.body_file == NULL ? (size_t)(argc - optind) : 0;
	asked.by_id = strcmp(ro.version, "1") == 0;
	asked.global = ro.global;
	asked.json = o->json;
	rc = ctl_fetch_print(&no, &r, ro.output, &asked);
out:
	if (loaded)
		sodium_memzero(&c, sizeof(c));
	json_object_put(jb);
	curl_free(qv);
	free(path);
	free(raw);
	free(ro.revs);
	free(r.body);
	free(no.headers);
	return rc;
}

/* ---- publickeys ---- */

static const char publickeys_usage[] =
    "usage: relaycfgctl publickeys --upstream URL --credentials FILE\n"
    "           [--header 'N: V']... [--time UNIXSECS] [--status] RELAY_ID...\n"
    "\n"
    "POST /api/0/relays/publickeys/ with {\"relay_ids\":[...]}; print the\n"
    "answer.\n"
    "\n"
    NET_USAGE;

int
cmd_publickeys(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		NET_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct netopts no = { 0 };
	struct creds c;
	struct response r = { 0, NULL, 0, false, 0 };
	json_object *jb = NULL, *ids = NULL;
	const char *body;
	bool loaded = false;
	size_t len;
	int rc, x;

	(void)o;
	if ((rc = ctl_getopt(argc, argv, longopts, publickeys_usage, NULL,
	    NULL, &no)) >= 0)
		goto out;
	rc = 2;
	if (ctl_net_check(argv[0], &no) != 0 || optind == argc) {
		fputs(publickeys_usage, stderr);
		goto out;
	}
	rc = 1;
	if (ctl_creds_load(argv[0], no.credentials, &c) != 0)
		goto out;
	loaded = true;
	/* Ids go out as given, so a test can send a malformed one. */
	if ((jb = json_object_new_object()) == NULL ||
	    (ids = json_object_new_array()) == NULL)
		goto oom;
	for (int i = optind; i < argc; i++)
		if (!jadd(ids, NULL, json_object_new_string(argv[i])))
			goto oom;
	x = json_object_object_add(jb, "relay_ids", ids);
	ids = NULL;
	if (x != 0 || (body = json_text(jb, &len)) == NULL)
		goto oom;
	if (ctl_http_post(argv[0], &no, &c, "/api/0/relays/publickeys/", body,
	    len, &r) != 0)
		goto out;
	rc = ctl_finish(&no, &r);
	goto out;
oom:
	ctl_warn(argv[0], "out of memory");
out:
	if (loaded)
		sodium_memzero(&c, sizeof(c));
	json_object_put(ids);
	json_object_put(jb);
	free(r.body);
	free(no.headers);
	return rc;
}
