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
#include "metrics.h"
#include "statsd.h"
#include "store.h"
#include "valid.h"
#include "zfrag.h"

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

/* A string of a request's list, for dedupe_first. */
struct sref {
	const char	*s;
	size_t		 len;
	size_t		 pos;	/* index in the list */
};

static int
sref_cmp(const void *a, const void *b)
{
	const struct sref *x = a, *y = b;
	int c;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if ((c = memcmp(x->s, y->s, x->len)) != 0)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * dedupe_first - set drop[r[i].pos] for every string that repeats an
 * earlier one (by pos), so that the first occurrence is the one kept.
 * Sorting, not comparing every pair: lists reach PC_MAX_KEYS.  r is
 * reordered.
 */
static void
dedupe_first(struct sref *r, size_t n, bool *drop)
{
	qsort(r, n, sizeof(*r), sref_cmp);
	for (size_t i = 1; i < n; i++)
		if (r[i].len == r[i - 1].len &&
		    memcmp(r[i].s, r[i - 1].s, r[i].len) == 0)
			drop[r[i].pos] = true;
}

/*
 * The global config, rendered and deflated (zfrag.h) once per loaded
 * configuration; the text itself is not kept.  Keyed by the conf's
 * generation: with workers = 0 a reload frees the old conf, and two
 * reloads may give the newest one the address of a conf already
 * rendered.  NULL on OOM.
 */
static const struct zfrag *
global_frag(const struct conf *conf)
{
	static unsigned long for_conf;	/* 0: none (generations start at 1) */
	static unsigned char *mem;
	static struct zfrag frag;
	char *text;
	size_t len;
	int rc;

	if (for_conf != conf->generation || mem == NULL) {
		free(mem);
		mem = NULL;
		for_conf = 0;
		if ((text = globalconfig_render(conf, &len)) == NULL)
			return NULL;
		rc = zfrag_make(text, len, &mem, &frag);
		free(text);
		if (rc != 0)
			return NULL;
		for_conf = conf->generation;
	}
	return &frag;
}

static void
pb_str(struct printbuf *pb, const char *s)
{
	printbuf_memappend(pb, s, (int)strlen(s));
}

static void
body_str(struct zbody *b, const char *s)
{
	zbody_text(b, s, strlen(s));
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
	struct sref *refs = NULL;
	bool *drop = NULL;
	int64_t *ids = NULL;
	size_t n = 0, m, cap = 0, *lens = NULL;
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
			/*
			 * Not one json-c clamped: the answer would be keyed by
			 * an id never sent.  INT64_MIN (no project's id) may be
			 * one clamped from below, so it is refused too.  A
			 * string is exact: strtoll says ERANGE beyond the
			 * range, and INT64_MIN written out is just an id no
			 * project has.
			 */
			if (!valid_json_int64(v, &id) || id == INT64_MIN)
				goto bad_type;
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
		if ((names[n] = strdup(name)) == NULL)
			goto oom;
		ids[n++] = id;
	}
	/* Duplicates collapse to their first occurrence. */
	if ((refs = calloc(n + 1, sizeof(*refs))) == NULL ||
	    (drop = calloc(n + 1, sizeof(*drop))) == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++)
		refs[i] = (struct sref){ names[i], strlen(names[i]), i };
	dedupe_first(refs, n, drop);
	m = 0;
	for (size_t i = 0; i < n; i++) {
		if (drop[i]) {
			free(names[i]);
			names[i] = NULL;
			continue;
		}
		names[m] = names[i];
		ids[m++] = ids[i];
		if (m - 1 != i)
			names[i] = NULL;
	}
	n = m;
	metrics_observe(MF_KEYS_PER_REQUEST, 0, (double)n);
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
	/* v1 answers projects: each counts as one key's outcome */
	for (size_t i = 0; i < n; i++)
		metrics_inc(MF_KEYS, lens[i] == sizeof(disabled_json) - 1 &&
		    memcmp(json[i], disabled_json, lens[i]) == 0 ?
		    MK_DISABLED : MK_CONFIG, 0, 0);
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
	free(refs);
	free(drop);
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
	struct sref *refs;
	bool *drop;
	size_t n = 0, m, cap;

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
		kr[n].key = s;
		kr[n].len = len;
		kr[n].revision = r != NULL ? json_object_get_string(r) : NULL;
		/* Only 32 lowercase hex can exist in sentry_projectkey. */
		kr[n].lookup = valid_hex32(s);
		n++;
	}
	/* Duplicates collapse to their first occurrence (and revision). */
	if ((refs = calloc(n + 1, sizeof(*refs))) == NULL ||
	    (drop = calloc(n + 1, sizeof(*drop))) == NULL) {
		free(refs);
		free(kr);
		http_reply_error(req, 503, "Out of memory", NULL);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		refs[i] = (struct sref){ kr[i].key, 32, i };
	dedupe_first(refs, n, drop);
	m = 0;
	for (size_t i = 0; i < n; i++)
		if (!drop[i])
			kr[m++] = kr[i];
	free(refs);
	free(drop);
	*out = kr;
	return (long)m;
}

/* Everything a v2/v3 answer is made of, decided before it is written. */
struct by_key_answer {
	const struct key_req		*kr;
	long				 n;
	const struct configs_entry	*ent;
	const size_t			*slot;
	bool				 cached_path;	/* v3: pending list */
	const struct zfrag		*global;	/* NULL: not asked */
};

/* Relay already has this revision: it goes to "unchanged". */
static bool
is_unchanged(const struct key_req *k, const struct configs_entry *e)
{
	return k->revision != NULL && e->state != CONFIGS_PENDING &&
	    e->rev[0] != '\0' && strcmp(k->revision, e->rev) == 0;
}

/*
 * count_keys - MF_KEYS for answer a, as render_by_key places each key.
 * A config without a rev is {"disabled":true} (configs.c stores none for
 * it); a key that cannot exist is answered disabled as well.
 */
static void
count_keys(const struct by_key_answer *a)
{
	for (long i = 0; i < a->n; i++) {
		const struct key_req *k = &a->kr[i];
		const struct configs_entry *e =
		    k->lookup ? &a->ent[a->slot[i]] : NULL;
		unsigned o;

		if (e == NULL)
			o = MK_DISABLED;
		else if (e->state == CONFIGS_PENDING)
			o = MK_PENDING;
		else if (is_unchanged(k, e))
			o = MK_UNCHANGED;
		else
			o = e->rev[0] == '\0' ? MK_DISABLED : MK_CONFIG;
		metrics_inc(MF_KEYS, o, 0, 0);
	}
}

/*
 * Write the answer into b.  Run once to count and once to write, so it
 * must produce the same bytes both times: it only reads a.
 */
static void
render_by_key(struct zbody *b, const struct by_key_answer *a)
{
	bool first;

	body_str(b, "{");
	if (a->global != NULL) {
		/* "global" first, as Sentry adds it before dispatching. */
		body_str(b, "\"global\":");
		zbody_frag(b, a->global);
		/* Sentry's snake_case status, and the camelCase one Relay reads. */
		body_str(b, ",\"global_status\":\"ready\","
		    "\"globalStatus\":\"ready\",");
	}
	body_str(b, "\"configs\":{");
	first = true;
	for (long i = 0; i < a->n; i++) {
		const struct key_req *k = &a->kr[i];
		const struct configs_entry *e =
		    k->lookup ? &a->ent[a->slot[i]] : NULL;

		if (e != NULL &&
		    (e->state == CONFIGS_PENDING || is_unchanged(k, e)))
			continue;
		body_str(b, first ? "\"" : ",\"");
		zbody_text(b, k->key, 32);
		body_str(b, "\":");
		if (e != NULL)
			zbody_frag(b, &e->frag);
		else
			zbody_text(b, disabled_json, sizeof(disabled_json) - 1);
		first = false;
	}
	body_str(b, "}");
	if (a->cached_path) {
		body_str(b, ",\"pending\":[");
		first = true;
		for (long i = 0; i < a->n; i++) {
			if (!a->kr[i].lookup ||
			    a->ent[a->slot[i]].state != CONFIGS_PENDING)
				continue;
			body_str(b, first ? "\"" : ",\"");
			zbody_text(b, a->kr[i].key, 32);
			body_str(b, "\"");
			first = false;
		}
		body_str(b, "]");
	}
	/* "unchanged" is relaycfg's (Sentry never sends it): v3 only
	 * (post_by_key), and only if used. */
	first = true;
	for (long i = 0; i < a->n; i++) {
		if (!a->kr[i].lookup ||
		    !is_unchanged(&a->kr[i], &a->ent[a->slot[i]]))
			continue;
		body_str(b, first ? ",\"unchanged\":[\"" : ",\"");
		zbody_text(b, a->kr[i].key, 32);
		body_str(b, "\"");
		first = false;
	}
	if (!first)
		body_str(b, "]");
	body_str(b, "}");
}

static int
body_put_http(void *arg, const void *buf, size_t len)
{
	return http_write(arg, buf, len);
}

/*
 * Answer a: counted first for Content-Length, then written straight to
 * the web server, gzip when the client takes it and answer_gzip is on
 * (so the web server passes it on instead of compressing the whole
 * answer again).
 */
static void
reply_by_key(struct request *req, const struct conf *conf,
    const struct by_key_answer *a)
{
	static const char vary[] = "Vary: Accept-Encoding\r\n";
	static const char vary_gzip[] =
	    "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n";
	bool gzip = conf->answer_gzip &&
	    http_accepts_gzip(req->accept_encoding);
	struct zbody b;

	zbody_begin(&b, gzip, NULL, NULL);
	render_by_key(&b, a);
	(void)zbody_end(&b);
	if (http_reply_head(req, 200, "application/json",
	    gzip ? vary_gzip : vary, b.out_len) != 0)
		return;
	zbody_begin(&b, gzip, body_put_http, req);
	render_by_key(&b, a);
	/* Either way exactly b.out_len bytes were produced (zfrag.h). */
	if (zbody_end(&b) != 0)
		log_warn("projectconfigs: the client went away or a config "
		    "was damaged (%zu bytes written)", req->bytes_out);
}

static void
post_by_key(struct request *req, struct app *app, json_object *body,
    int version, bool cached_path, bool want_global,
    const struct timespec *now)
{
	struct by_key_answer a;
	struct key_req *kr = NULL;
	struct configs_entry *ent = NULL;
	size_t *slot = NULL, m = 0;
	long n;

	if ((n = parse_keys(req, body, &kr)) < 0)
		return;
	metrics_observe(MF_KEYS_PER_REQUEST, 0, (double)n);
	/*
	 * Sentry ignores revisions and never answers "unchanged" (relay
	 * issue #4078); relaycfg's "unchanged" is a v3 extension, so a v2
	 * answer carries every config in full, as Sentry's does.
	 */
	if (version == 2)
		for (long i = 0; i < n; i++)
			kr[i].revision = NULL;
	if ((ent = calloc((size_t)n + 1, sizeof(*ent))) == NULL ||
	    (slot = calloc((size_t)n + 1, sizeof(*slot))) == NULL)
		goto oom;
	/* Only keys that can exist reach the store and the cache. */
	for (long i = 0; i < n; i++) {
		if (kr[i].lookup) {
			ent[m].key = kr[i].key;
			ent[m].revision = kr[i].revision;
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
	a = (struct by_key_answer){ kr, n, ent, slot, cached_path, NULL };
	if (want_global && (a.global = global_frag(app->conf)) == NULL)
		goto oom;
	reply_by_key(req, app->conf, &a);
	count_keys(&a);
	if (cached_path)	/* Sentry's _post_or_schedule_by_key */
		statsd_post_v3();
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
		metrics_inc(MF_AUTH, MA_NOT_INTERNAL, 0, 0);
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
