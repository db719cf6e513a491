/*
 * ep_projectconfigs.c - POST /api/0/relays/projectconfigs/?version=1|2|3.
 *
 * The order of checks is Sentry's (sentry-endpoint.md 3): authentication
 * (401), internal relay (403), version (400), global, dispatch.  What goes
 * into the answer is shaped by what Relay's parser accepts
 * (relay-client.md 4.2): every key string in configs, pending and
 * unchanged is exactly a requested key, and one bad key string would fail
 * Relay's whole batch, so keys that are not 32 plain ASCII characters are
 * never echoed (Relay reads a missing key as disabled).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/printbuf.h>

#include "auth.h"
#include "configs.h"
#include "endpoints.h"
#include "globalconfig.h"
#include "log.h"
#include "store.h"
#include "valid.h"

/* Relay sends at most cache.batch_size (500) keys; leave ample room. */
#define PC_MAX_KEYS	10000

static const char disabled_json[] = "{\"disabled\":true}";

/* Python truthiness, which is what Sentry applies to these flags. */
static bool
json_truthy(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:	return false;
	case json_type_boolean:	return json_object_get_boolean(o);
	case json_type_int:	return json_object_get_int64(o) != 0;
	case json_type_double:	return json_object_get_double(o) != 0.0;
	case json_type_string:	return json_object_get_string_len(o) > 0;
	case json_type_array:	return json_object_array_length(o) > 0;
	case json_type_object:	return json_object_object_length(o) > 0;
	}
	return false;
}

static json_object *
body_field(json_object *body, const char *name)
{
	json_object *v = NULL;

	json_object_object_get_ex(body, name, &v);
	return v;
}

/*
 * A key Relay could have sent (ProjectKey::parse: 32 ASCII bytes) and that
 * we can echo without escaping: printable, no quote or backslash.
 */
static bool
is_echoable_key(const char *s, size_t len)
{
	if (len != 32)
		return false;
	for (size_t i = 0; i < 32; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

/* The global config text, rendered once per loaded configuration. */
static const char *
global_json(const struct conf *conf, size_t *len)
{
	static const struct conf *for_conf;
	static char *text;
	static size_t text_len;

	if (for_conf != conf || text == NULL) {
		free(text);
		text = globalconfig_render(conf, &text_len);
		for_conf = text != NULL ? conf : NULL;
	}
	*len = text_len;
	return text;
}

static void
pb_str(struct printbuf *pb, const char *s)
{
	printbuf_memappend(pb, s, (int)strlen(s));
}

/* "global" first, as Sentry adds it before dispatching. */
static int
pb_global(struct printbuf *pb, const struct conf *conf)
{
	const char *g;
	size_t glen;

	if ((g = global_json(conf, &glen)) == NULL)
		return -1;
	pb_str(pb, "\"global\":");
	printbuf_memappend(pb, g, (int)glen);
	/* Sentry's snake_case status, and the camelCase one Relay reads. */
	pb_str(pb, ",\"global_status\":\"ready\",\"globalStatus\":\"ready\",");
	return 0;
}

static void
reply_printbuf(struct request *req, struct printbuf *pb)
{
	http_reply_json(req, 200, pb->buf, (size_t)printbuf_length(pb));
}

/* ---- v1: by project id ------------------------------------------------ */

static void
post_by_project(struct request *req, struct app *app, json_object *body,
    const struct timespec *now)
{
	json_object *list = body_field(body, "projects");
	char **names = NULL, **json = NULL;
	int64_t *ids = NULL;
	size_t n = 0, cap, *lens = NULL;
	struct printbuf *pb = NULL;
	bool unavailable;

	if (list != NULL && !json_object_is_type(list, json_type_array))
		goto bad_type;
	cap = list != NULL ? json_object_array_length(list) : 0;
	if (cap > PC_MAX_KEYS) {
		http_reply_error(req, 400, "Too many projects in one request",
		    NULL);
		return;
	}
	if ((names = calloc(cap + 1, sizeof(*names))) == NULL ||
	    (ids = calloc(cap + 1, sizeof(*ids))) == NULL ||
	    (json = calloc(cap + 1, sizeof(*json))) == NULL ||
	    (lens = calloc(cap + 1, sizeof(*lens))) == NULL)
		goto oom;
	for (size_t i = 0; i < cap; i++) {
		json_object *v = json_object_array_get_idx(list, i);
		char name[32], *end;
		int64_t id;

		if (json_object_is_type(v, json_type_int)) {
			id = json_object_get_int64(v);
			snprintf(name, sizeof(name), "%" PRId64, id);
		} else if (json_object_is_type(v, json_type_string)) {
			const char *s = json_object_get_string(v);
			if (s[0] == '\0' || strlen(s) >= sizeof(name) ||
			    !(isdigit((unsigned char)s[0]) || s[0] == '-'))
				goto bad_type;
			errno = 0;
			id = strtoll(s, &end, 10);
			if (errno != 0 || *end != '\0')
				goto bad_type;
			snprintf(name, sizeof(name), "%s", s);
		} else
			goto bad_type;
		/* Duplicates collapse. */
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			if (strcmp(names[j], name) == 0)
				dup = true;
		if (dup)
			continue;
		if ((names[n] = strdup(name)) == NULL)
			goto oom;
		ids[n++] = id;
	}
	if (configs_by_projects(app, ids, n, now, json, lens,
	    &unavailable) != 0)
		goto oom;
	if (unavailable) {
		http_reply_error(req, 503, "Backend unavailable", NULL);
		goto out;
	}
	if ((pb = printbuf_new()) == NULL)
		goto oom;
	pb_str(pb, "{\"configs\":{");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			pb_str(pb, ",");
		sprintbuf(pb, "\"%s\":", names[i]);
		printbuf_memappend(pb, json[i], (int)lens[i]);
	}
	pb_str(pb, "}}");
	reply_printbuf(req, pb);
	goto out;
bad_type:
	http_reply_error(req, 400, "projects must be a list of project ids",
	    NULL);
	goto out;
oom:
	http_reply_error(req, 503, "Out of memory", NULL);
out:
	for (size_t i = 0; i < cap && names != NULL; i++) {
		free(names[i]);
		if (json != NULL)
			free(json[i]);
	}
	free(names);
	free(json);
	free(ids);
	free(lens);
	if (pb != NULL)
		printbuf_free(pb);
}

/* ---- v2 / v3: by public key ------------------------------------------- */

struct key_req {
	const char	*key;
	size_t		 len;
	const char	*revision;	/* NULL: none or null */
	bool		 lookup;	/* hex32: ask the store */
};

/*
 * Parse publicKeys (and revisions, when parallel to it) into distinct
 * keys, keeping the first occurrence.  Returns the count, or -1 after
 * answering 400/503.
 */
static long
parse_keys(struct request *req, json_object *body, struct key_req **out)
{
	json_object *keys = body_field(body, "publicKeys");
	json_object *revs = body_field(body, "revisions");
	struct key_req *kr;
	size_t n = 0, cap;

	*out = NULL;
	if (keys != NULL && !json_object_is_type(keys, json_type_array)) {
		http_reply_error(req, 400,
		    "publicKeys must be a list of strings", NULL);
		return -1;
	}
	if (revs != NULL && !json_object_is_type(revs, json_type_array)) {
		http_reply_error(req, 400,
		    "revisions must be a list of strings or nulls", NULL);
		return -1;
	}
	cap = keys != NULL ? json_object_array_length(keys) : 0;
	if (cap > PC_MAX_KEYS) {
		http_reply_error(req, 400, "Too many keys in one request", NULL);
		return -1;
	}
	/* A revisions list that is not parallel to publicKeys is ignored. */
	if (revs != NULL && json_object_array_length(revs) != cap)
		revs = NULL;
	if ((kr = calloc(cap + 1, sizeof(*kr))) == NULL) {
		http_reply_error(req, 503, "Out of memory", NULL);
		return -1;
	}
	for (size_t i = 0; i < cap; i++) {
		json_object *k = json_object_array_get_idx(keys, i);
		json_object *r = revs != NULL ?
		    json_object_array_get_idx(revs, i) : NULL;
		const char *s;
		size_t len;
		bool dup = false;

		if (!json_object_is_type(k, json_type_string)) {
			http_reply_error(req, 400,
			    "publicKeys must be a list of strings", NULL);
			free(kr);
			return -1;
		}
		if (r != NULL && !json_object_is_type(r, json_type_string)) {
			http_reply_error(req, 400,
			    "revisions must be a list of strings or nulls",
			    NULL);
			free(kr);
			return -1;
		}
		s = json_object_get_string(k);
		len = (size_t)json_object_get_string_len(k);
		if (!is_echoable_key(s, len))
			continue;
		for (size_t j = 0; j < n && !dup; j++)
			dup = memcmp(kr[j].key, s, 32) == 0;
		if (dup)
			continue;
		kr[n].key = s;
		kr[n].len = len;
		kr[n].revision = r != NULL ? json_object_get_string(r) : NULL;
		/* Only 32 lowercase hex can exist in sentry_projectkey. */
		kr[n].lookup = valid_hex32(s);
		n++;
	}
	*out = kr;
	return (long)n;
}

static void
post_by_key(struct request *req, struct app *app, json_object *body,
    int version, bool cached_path, bool want_global,
    const struct timespec *now)
{
	struct key_req *kr = NULL;
	struct configs_entry *ent = NULL;
	struct printbuf *pb = NULL;
	size_t *slot = NULL, m = 0;
	long n;
	bool first;

	if ((n = parse_keys(req, body, &kr)) < 0)
		return;
	if ((ent = calloc((size_t)n + 1, sizeof(*ent))) == NULL ||
	    (slot = calloc((size_t)n + 1, sizeof(*slot))) == NULL)
		goto oom;
	/* Only keys that can exist reach the store and the cache. */
	for (long i = 0; i < n; i++) {
		if (kr[i].lookup) {
			ent[m].key = kr[i].key;
			slot[i] = m++;
		}
	}
	if (configs_by_keys(app, ent, m, cached_path, now) != 0)
		goto oom;
	/* Without a pending list (v2, noCache) an unknown key fails all. */
	if (!cached_path)
		for (size_t j = 0; j < m; j++)
			if (ent[j].state == CONFIGS_PENDING) {
				http_reply_error(req, 503,
				    "Backend unavailable", NULL);
				goto out;
			}
	if ((pb = printbuf_new()) == NULL)
		goto oom;
	pb_str(pb, "{");
	if (want_global && pb_global(pb, app->conf) != 0)
		goto oom;
	pb_str(pb, "\"configs\":{");
	first = true;
	for (long i = 0; i < n; i++) {
		const char *json = disabled_json;
		size_t len = sizeof(disabled_json) - 1;

		if (kr[i].lookup) {
			struct configs_entry *e = &ent[slot[i]];
			if (e->state == CONFIGS_PENDING)
				continue;
			/* Relay already has this revision: say so instead. */
			if (kr[i].revision != NULL && e->rev[0] != '\0' &&
			    strcmp(kr[i].revision, e->rev) == 0)
				continue;
			json = e->json;
			len = e->len;
		}
		sprintbuf(pb, "%s\"%.32s\":", first ? "" : ",", kr[i].key);
		printbuf_memappend(pb, json, (int)len);
		first = false;
	}
	pb_str(pb, "}");
	if (cached_path) {
		pb_str(pb, ",\"pending\":[");
		first = true;
		for (long i = 0; i < n; i++)
			if (kr[i].lookup &&
			    ent[slot[i]].state == CONFIGS_PENDING) {
				sprintbuf(pb, "%s\"%.32s\"", first ? "" : ",",
				    kr[i].key);
				first = false;
			}
		pb_str(pb, "]");
	}
	/* "unchanged" is relaycfg's (Sentry never sends it): only if used. */
	first = true;
	for (long i = 0; i < n; i++) {
		struct configs_entry *e = &ent[slot[i]];
		if (!kr[i].lookup || e->state == CONFIGS_PENDING ||
		    kr[i].revision == NULL || e->rev[0] == '\0' ||
		    strcmp(kr[i].revision, e->rev) != 0)
			continue;
		sprintbuf(pb, "%s\"%.32s\"", first ? ",\"unchanged\":[" : ",",
		    kr[i].key);
		first = false;
	}
	if (!first)
		pb_str(pb, "]");
	pb_str(pb, "}");
	reply_printbuf(req, pb);
	log_debug("projectconfigs v%d: %ld keys", version, n);
	goto out;
oom:
	http_reply_error(req, 503, "Out of memory", NULL);
out:
	if (ent != NULL)
		configs_entries_free(ent, m);
	free(ent);
	free(slot);
	free(kr);
	if (pb != NULL)
		printbuf_free(pb);
}

void
ep_projectconfigs(struct request *req, struct app *app)
{
	static const char forbidden[] =
	    "\"Relay unauthorized for config information\"";
	static const char bad_version[] =
	    "\"Unsupported version, we only support versions 1 to 3.\"";
	struct auth_relay relay;
	struct timespec now;
	char vbuf[8];
	int version, vlen;

	if (auth_relay_request(req, app, &relay) != 0)
		return;
	if (!relay.internal) {
		http_reply_json(req, 403, forbidden, sizeof(forbidden) - 1);
		goto out;
	}
	vlen = http_query_param(req->query, "version", vbuf, sizeof(vbuf));
	if (vlen <= 0 && vlen != -2)
		version = 1;		/* missing or empty: "1" */
	else if (vlen == 1 && vbuf[0] >= '1' && vbuf[0] <= '3')
		version = vbuf[0] - '0';
	else {
		http_reply_json(req, 400, bad_version, sizeof(bad_version) - 1);
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (version == 1) {
		post_by_project(req, app, relay.body, &now);
		goto out;
	}
	bool want_global = version == 3 &&
	    json_truthy(body_field(relay.body, "global"));
	bool no_cache = json_truthy(body_field(relay.body, "noCache"));
	post_by_key(req, app, relay.body, version, version == 3 && !no_cache,
	    want_global, &now);
out:
	auth_relay_clear(&relay);
}
