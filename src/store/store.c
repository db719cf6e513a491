/*
 * store.c - Sentry's get_many_from_cache over MariaDB and memcached, the
 * admin writes, and the invalidation they imply.
 *
 * Cache kinds (see cache.h for the key and value framing; payloads are
 * compact JSON, arrays for rows so that field names cost nothing):
 *   o:<id>   organization   [id, slug, name, status]
 *   p:<id>   project        [id, org_id, slug|null, name, status,
 *                            template_id, platform|null]
 *   k:<id>   project key    [id, project_id, public_key, secret_key,
 *                            status, roles, rl_count|null, rl_window|null,
 *                            label|null]
 *   kp:<public_key>  pointer [id]
 *   kl:<project_id>  the project's keys: [[key row], ...]
 *   r:<id>   relay          [id, relay_id, public_key, is_internal]
 *   rr:<relay_id>    pointer [id]
 *   po:<project_id>, oo:<org_id>, to:<template_id>: options {key: value}
 *   cfgz:<public_key> computed project config, cfgr:<public_key> its rev
 *                    (both written by configs.c)
 * A row or pointer known to be absent is cached as "null" for
 * ttl_negative.  Changing any payload layout means bumping
 * CACHE_FORMAT_VERSION.
 *
 * Memory: every object handed out is recorded in st->owned and freed by
 * store_request_end(); the local cache (a hash of cache key -> object)
 * only borrows, so forgetting entries never frees what a caller holds.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache.h"
#include "db.h"
#include "jsonstrict.h"
#include "log.h"
#include "store.h"
#include "valid.h"

#define LC_BUCKETS_MIN	64
#define RELAY_PK_COLUMN_MAX 200
#define RELAY_ID_COLUMN_MAX 64
#define VERSION_MAX	32

enum own_type { OWN_MEM, OWN_JSON };

struct owned {
	void		*p;
	enum own_type	 type;
};

/* Local cache node: key -> borrowed object, or known absent. */
struct lc_node {
	struct lc_node	*next;
	const void	*obj;
	bool		 absent;
	char		 key[];
};

enum read_mode {
	READ_NORMAL,		/* local, memcached, MariaDB, write back */
	READ_DB_ONLY,		/* local, MariaDB (the primary) */
	READ_CACHE_ONLY		/* local, memcached: what is cached, if anything */
};

struct store {
	const struct conf	*conf;
	struct db		*primary;
	struct db		*replica;	/* NULL: reads go to primary */
	struct cache		*cache;
	enum read_mode		 mode;
	bool			 bypass;
	bool			 cache_stale;
	char			 err[256];

	struct lc_node		**lc;
	size_t			 lc_cap;	/* buckets, power of 2 */
	size_t			 lc_n;

	struct owned		*owned;
	size_t			 n_owned;
	size_t			 cap_owned;
};

/* A project's keys, as cached under kl:<project_id>. */
struct keylist_obj {
	size_t				 n;
	const struct model_projectkey	*keys[];
};

static void
store_seterr(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
store_seterr(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
}

/* --- ownership and the local cache ---------------------------------- */

/* Record p as a result to free at request end; frees it on OOM. */
static bool
own(struct store *st, void *p, enum own_type type)
{
	if (p == NULL)
		return false;
	if (st->n_owned == st->cap_owned) {
		size_t cap = st->cap_owned != 0 ? st->cap_owned * 2 : 64;
		struct owned *o = realloc(st->owned, cap * sizeof(*o));

		if (o == NULL) {
			if (type == OWN_JSON)
				json_object_put(p);
			else
				free(p);
			return false;
		}
		st->owned = o;
		st->cap_owned = cap;
	}
	st->owned[st->n_owned++] = (struct owned){ p, type };
	return true;
}

/* FNV-1a: keys are short, and a request holds at most a few thousand. */
static uint64_t
lc_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The node for key, or NULL when the request has not seen it. */
static struct lc_node *
lc_find(const struct store *st, const char *key)
{
	struct lc_node *n;

	if (st->lc == NULL)
		return NULL;
	for (n = st->lc[lc_hash(key) & (st->lc_cap - 1)]; n != NULL; n = n->next)
		if (strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

/* Double the buckets; false (table unchanged) on OOM. */
static bool
lc_grow(struct store *st)
{
	size_t cap = st->lc_cap != 0 ? st->lc_cap * 2 : LC_BUCKETS_MIN;
	struct lc_node **b = calloc(cap, sizeof(*b));

	if (b == NULL)
		return false;
	for (size_t i = 0; i < st->lc_cap; i++) {
		struct lc_node *n = st->lc[i], *next;

		for (; n != NULL; n = next) {
			size_t h = lc_hash(n->key) & (cap - 1);

			next = n->next;
			n->next = b[h];
			b[h] = n;
		}
	}
	free(st->lc);
	st->lc = b;
	st->lc_cap = cap;
	return true;
}

/*
 * Remember key -> obj (absent when obj is NULL).  The first answer of a
 * request wins: a later one for the same key is ignored, so that what a
 * caller already holds stays what the request sees.  Returns the
 * remembered object, or NULL on OOM (and for absent).
 */
static const void *
lc_put(struct store *st, const char *key, const void *obj)
{
	struct lc_node *n;
	size_t klen = strlen(key), h;

	if ((n = lc_find(st, key)) != NULL)
		return n->obj;
	if ((st->lc_n + 1 > st->lc_cap * 2 || st->lc == NULL) && !lc_grow(st))
		return NULL;
	if ((n = malloc(sizeof(*n) + klen + 1)) == NULL)
		return NULL;
	memcpy(n->key, key, klen + 1);
	n->obj = obj;
	n->absent = obj == NULL;
	h = lc_hash(key) & (st->lc_cap - 1);
	n->next = st->lc[h];
	st->lc[h] = n;
	st->lc_n++;
	return obj;
}

/* Forget every entry; the objects stay alive until request end. */
static void
lc_forget_all(struct store *st)
{
	for (size_t i = 0; i < st->lc_cap; i++) {
		struct lc_node *n = st->lc[i], *next;

		for (; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
		st->lc[i] = NULL;
	}
	st->lc_n = 0;
}

void
store_request_end(struct store *st)
{
	if (st == NULL)
		return;
	lc_forget_all(st);
	for (size_t i = 0; i < st->n_owned; i++) {
		if (st->owned[i].type == OWN_JSON)
			json_object_put(st->owned[i].p);
		else
			free(st->owned[i].p);
	}
	st->n_owned = 0;
	cache_request_end(st->cache);
}

/* --- open, close ----------------------------------------------------- */

struct store *
store_open(const struct conf *conf, char *err, size_t errlen)
{
	struct store *st;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->conf = conf;
	if ((st->cache = cache_new(conf, err, errlen)) == NULL)
		goto fail;
	if ((st->primary = db_new(&conf->db, NULL, conf, "primary")) == NULL)
		goto oom;
	if ((conf->db_replica.host != NULL || conf->db_replica.socket != NULL) &&
	    (st->replica = db_new(&conf->db_replica, &conf->db, conf,
	    "replica")) == NULL)
		goto oom;
	return st;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	store_close(st);
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_request_end(st);
	free(st->lc);
	free(st->owned);
	db_free(st->primary);
	db_free(st->replica);
	cache_free(st->cache);
	free(st);
}

void
store_bypass_cache(struct store *st, bool on)
{
	st->bypass = on;
	st->mode = on ? READ_DB_ONLY : READ_NORMAL;
}

const char *
store_last_error(const struct store *st)
{
	return st->err;
}

bool
store_cache_stale(const struct store *st)
{
	return st->cache_stale;
}

struct cache *
store_cache(struct store *st)
{
	return st->cache;
}

void
store_get_stats(const struct store *st, struct store_stats *out)
{
	struct db_stats p, r = { 0 };
	struct cache_stats c;

	db_get_stats(st->primary, &p);
	if (st->replica != NULL)
		db_get_stats(st->replica, &r);
	cache_get_stats(st->cache, &c);
	memset(out, 0, sizeof(*out));
	out->sql_queries = p.queries + r.queries;
	out->db_reconnects = p.reconnects + r.reconnects;
	out->db_failures = p.failures + r.failures;
	out->db_time_us = p.time_us + r.time_us;
	out->cache_gets = c.gets;
	out->cache_sets = c.sets;
	out->cache_deletes = c.deletes;
	out->cache_hits = c.hits;
	out->cache_misses = c.misses;
	out->cache_failures = c.failures;
	out->cache_time_us = c.time_us;
}

/* --- validation ------------------------------------------------------ */

bool
store_valid_hex32(const char *s)
{
	return valid_hex32(s);
}

bool
store_valid_uuid(const char *s)
{
	return valid_uuid(s);
}

/* 1 to max characters, each a lowercase letter, a digit (an uppercase
 * letter when upper) or one of extra. */
static bool
valid_charset(const char *s, const char *extra, size_t max, bool upper)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char ch = s[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    (upper && ch >= 'A' && ch <= 'Z') || strchr(extra, ch) != NULL))
			return false;
	}
	return n >= 1 && n <= max;
}

bool
store_valid_slug(const char *s, size_t max)
{
	size_t digits = 0, n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
	/* Sentry's DEFAULT_SLUG_PATTERN: not only digits. */
	return valid_charset(s, "_-", max, false) && digits < n;
}

bool
store_valid_option_key(const char *s)
{
	return valid_charset(s, "_.:-", 64, true);
}

/*
 * Well-formed UTF-8 without control characters, 1 to max characters: the
 * rule for names and labels (VARCHAR(max) in utf8mb4).
 */
static bool
valid_text(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0;

	while (*p != '\0') {
		unsigned c = *p;
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
		    (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;

		if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7f)))
			return false;
		if (len == 2 && c < 0xc2)
			return false;
		for (size_t i = 1; i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		if (len == 3 && ((c == 0xe0 && p[1] < 0xa0) ||
		    (c == 0xed && p[1] >= 0xa0)))
			return false;
		if (len == 4 && ((c == 0xf0 && p[1] < 0x90) || c > 0xf4 ||
		    (c == 0xf4 && p[1] >= 0x90)))
			return false;
		p += len;
		chars++;
	}
	return chars >= 1 && chars <= max;
}

/* A string that could be a value of a column of at most max characters. */
static bool
could_be_column(const char *s, size_t max)
{
	return s != NULL && strlen(s) <= 4 * max && valid_text(s, max);
}

/* Relay public keys are base64 (url-safe or not), VARCHAR(200). */
static bool
valid_relay_pk(const char *s)
{
	return valid_charset(s, "_-+/=", RELAY_PK_COLUMN_MAX, true);
}

/* --- db helpers ------------------------------------------------------ */

/* A db_rc as a STORE_* code, with a message in st->err. */
static int
store_rc_from_db(struct store *st, struct db *db, enum db_rc rc)
{
	switch (rc) {
	case DB_OK:
		return STORE_OK;
	case DB_UNAVAILABLE:
		store_seterr(st, "MariaDB unreachable: %s", db_last_error(db));
		return STORE_UNAVAILABLE;
	case DB_DUPLICATE:
		store_seterr(st, "already exists (%s)", db_last_error(db));
		return STORE_CONFLICT;
	case DB_REFERENCE:
		store_seterr(st, "a referenced row is missing or still in use "
		    "(%s)", db_last_error(db));
		return STORE_NOT_FOUND;
	case DB_ERROR:
		break;
	}
	store_seterr(st, "MariaDB error: %s", db_last_error(db));
	return STORE_ERROR;
}

/* The server reads go to: the replica, unless reading the truth. */
static struct db *
store_reader(struct store *st)
{
	if (st->mode == READ_DB_ONLY || st->replica == NULL)
		return st->primary;
	return st->replica;
}

/* Run q on db; *res (NULL on error) is the caller's to free. */
static int
sql_query(struct store *st, struct db *db, const struct db_sql *q,
    struct db_res **res)
{
	*res = NULL;
	if (!db_sql_ok(q)) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	return store_rc_from_db(st, db, db_query(db, q->buf, q->len, res));
}

/* Run a change on the primary. */
static int
sql_exec(struct store *st, const struct db_sql *q, uint64_t *affected,
    int64_t *insert_id)
{
	if (!db_sql_ok(q)) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	return store_rc_from_db(st, st->primary, db_exec(st->primary, q->buf,
	    q->len, affected, insert_id));
}

/* Append "(v1,v2,...)" of n ids. */
static void
sql_id_list(struct db_sql *q, const int64_t *ids, size_t n)
{
	db_sql_raw(q, "(");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			db_sql_raw(q, ",");
		db_sql_int(q, ids[i]);
	}
	db_sql_raw(q, ")");
}

/* qsort/bsearch order for int64_t. */
static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and drop duplicates; returns the new count. */
static size_t
uniq_i64(int64_t *v, size_t n)
{
	size_t m = 0;

	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_i64);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || v[m - 1] != v[i])
			v[m++] = v[i];
	return m;
}

/* --- packing rows ---------------------------------------------------- */

/* One allocation for a struct and its strings. */
struct pack {
	char	*base;
	size_t	 off;
};

/* Bytes a string takes in a pack (none for NULL). */
static size_t
pack_len(const char *s, size_t len)
{
	return s != NULL ? len + 1 : 0;
}

/* Copy s into the pack; NULL stays NULL. */
static char *
pack_str(struct pack *pk, const char *s, size_t len)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = pk->base + pk->off;
	memcpy(p, s, len);
	p[len] = '\0';
	pk->off += len + 1;
	return p;
}

/*
 * Rows as single allocations (free() releases all), NULL on OOM.  Strings
 * are copied; their lengths come with them (MariaDB and json-c know).
 */
static struct model_org *
org_new(int64_t id, const char *slug, size_t slen, const char *name,
    size_t nlen, int status)
{
	struct pack pk;
	struct model_org *o;

	pk.base = malloc(sizeof(*o) + pack_len(slug, slen) +
	    pack_len(name, nlen));
	if (pk.base == NULL)
		return NULL;
	pk.off = sizeof(*o);
	o = (struct model_org *)(void *)pk.base;
	o->id = id;
	o->slug = pack_str(&pk, slug, slen);
	o->name = pack_str(&pk, name, nlen);
	o->status = status;
	return o;
}

static struct model_project *
project_new(int64_t id, int64_t org_id, const char *slug, size_t slen,
    const char *name, size_t nlen, int status, int64_t template_id,
    const char *platform, size_t plen)
{
	struct pack pk;
	struct model_project *p;

	pk.base = malloc(sizeof(*p) + pack_len(slug, slen) +
	    pack_len(name, nlen) + pack_len(platform, plen));
	if (pk.base == NULL)
		return NULL;
	pk.off = sizeof(*p);
	p = (struct model_project *)(void *)pk.base;
	p->id = id;
	p->organization_id = org_id;
	p->slug = pack_str(&pk, slug, slen);
	p->name = pack_str(&pk, name, nlen);
	p->status = status;
	p->template_id = template_id;
	p->platform = pack_str(&pk, platform, plen);
	return p;
}

static struct model_projectkey *
key_new(const struct model_projectkey *k, const char *label, size_t llen)
{
	struct pack pk;
	struct model_projectkey *out;

	pk.base = malloc(sizeof(*out) + pack_len(label, llen));
	if (pk.base == NULL)
		return NULL;
	pk.off = sizeof(*out);
	out = (struct model_projectkey *)(void *)pk.base;
	*out = *k;
	out->label = pack_str(&pk, label, llen);
	return out;
}

static struct model_relay *
relay_new(int64_t id, const char *relay_id, const char *public_key,
    bool is_internal)
{
	struct model_relay *r;

	if (strlen(relay_id) > MODEL_RELAY_ID_LEN ||
	    strlen(public_key) > MODEL_RELAY_PK_MAX)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->id = id;
	strcpy(r->relay_id, relay_id);
	strcpy(r->public_key, public_key);
	r->is_internal = is_internal;
	return r;
}

/* --- model descriptions ---------------------------------------------- */

/*
 * What get_many needs to know about a model: its table and columns (id
 * first), its cache kinds, TTL, and conversions row/JSON <-> object.
 */
struct model_desc {
	const char	*kind;		/* by id */
	const char	*ptr_kind;	/* by string (pointer), or NULL */
	const char	*table;
	const char	*columns;
	const char	*str_column;	/* the pointer's column */
	size_t		 str_max;	/* its width in characters */
	size_t		 ttl_off;	/* offsetof(struct conf, ttl_...) */
	void		*(*from_row)(struct db_res *r);
	void		*(*from_json)(json_object *a);
	json_object	*(*to_json)(const void *obj);
	int64_t		 (*id_of)(const void *obj);
	const char	*(*str_of)(const void *obj);
};

/* JSON array helpers: element i as int64 / string / null. */
static bool
ja_int(json_object *a, size_t i, int64_t *out)
{
	json_object *v = json_object_array_get_idx(a, i);

	if (!json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* Element i as a string (or NULL when nullable and null). */
static bool
ja_str(json_object *a, size_t i, bool nullable, const char **s, size_t *len)
{
	json_object *v = json_object_array_get_idx(a, i);

	if (v == NULL && nullable) {
		*s = NULL;
		*len = 0;
		return true;
	}
	if (!json_object_is_type(v, json_type_string))
		return false;
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	/* "\u0000" inside: the C string would say something else. */
	return memchr(*s, '\0', *len) == NULL;
}

/* An array of exactly n elements. */
static bool
ja_shape(json_object *a, size_t n)
{
	return json_object_is_type(a, json_type_array) &&
	    json_object_array_length(a) == n;
}

/* A JSON string, or null for NULL. */
static json_object *
jnew_str(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* json_object_array_add that keeps track of failures. */
static void
ja_add(json_object *a, json_object *v, bool *ok)
{
	if (json_object_array_add(a, v) != 0) {
		json_object_put(v);
		*ok = false;
	}
}

/* The array, or NULL (and freed) when an element was lost. */
static json_object *
ja_finish(json_object *a, bool ok)
{
	if (!ok) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

/* Organization. */

/*
 * Per model: from_row and from_json return a new row or NULL when the
 * input is not one (a miss, for the cache); to_json returns a new array
 * or NULL on OOM.
 */
static void *
org_from_row(struct db_res *r)
{
	int64_t id, status;

	if (!db_res_int(r, 0, &id) || !db_res_int(r, 3, &status) ||
	    db_res_str(r, 1) == NULL || db_res_str(r, 2) == NULL)
		return NULL;
	return org_new(id, db_res_str(r, 1), db_res_len(r, 1),
	    db_res_str(r, 2), db_res_len(r, 2), (int)status);
}

static void *
org_from_json(json_object *a)
{
	int64_t id, status;
	const char *slug, *name;
	size_t sl, nl;

	if (!ja_shape(a, 4) || !ja_int(a, 0, &id) ||
	    !ja_str(a, 1, false, &slug, &sl) ||
	    !ja_str(a, 2, false, &name, &nl) || !ja_int(a, 3, &status))
		return NULL;
	return org_new(id, slug, sl, name, nl, (int)status);
}

static json_object *
org_to_json(const void *obj)
{
	const struct model_org *o = obj;
	json_object *a = json_object_new_array_ext(4);
	bool ok = a != NULL;

	if (!ok)
		return NULL;
	ja_add(a, json_object_new_int64(o->id), &ok);
	ja_add(a, jnew_str(o->slug), &ok);
	ja_add(a, jnew_str(o->name), &ok);
	ja_add(a, json_object_new_int64(o->status), &ok);
	return ja_finish(a, ok);
}

static int64_t
org_id_of(const void *obj)
{
	return ((const struct model_org *)obj)->id;
}

static const struct model_desc org_desc = {
	"o", NULL, "sentry_organization", "id, slug, name, status", NULL, 0,
	offsetof(struct conf, ttl_organization),
	org_from_row, org_from_json, org_to_json, org_id_of, NULL
};

/* Project. */

static void *
project_from_row(struct db_res *r)
{
	int64_t id, org, status, tmpl = 0;

	if (!db_res_int(r, 0, &id) || !db_res_int(r, 1, &org) ||
	    db_res_str(r, 3) == NULL || !db_res_int(r, 4, &status))
		return NULL;
	if (db_res_str(r, 5) != NULL && !db_res_int(r, 5, &tmpl))
		return NULL;
	return project_new(id, org, db_res_str(r, 2), db_res_len(r, 2),
	    db_res_str(r, 3), db_res_len(r, 3), (int)status, tmpl,
	    db_res_str(r, 6), db_res_len(r, 6));
}

static void *
project_from_json(json_object *a)
{
	int64_t id, org, status, tmpl;
	const char *slug, *name, *platform;
	size_t sl, nl, pl;

	if (!ja_shape(a, 7) || !ja_int(a, 0, &id) || !ja_int(a, 1, &org) ||
	    !ja_str(a, 2, true, &slug, &sl) ||
	    !ja_str(a, 3, false, &name, &nl) || !ja_int(a, 4, &status) ||
	    !ja_int(a, 5, &tmpl) || !ja_str(a, 6, true, &platform, &pl))
		return NULL;
	return project_new(id, org, slug, sl, name, nl, (int)status, tmpl,
	    platform, pl);
}

static json_object *
project_to_json(const void *obj)
{
	const struct model_project *p = obj;
	json_object *a = json_object_new_array_ext(7);
	bool ok = a != NULL;

	if (!ok)
		return NULL;
	ja_add(a, json_object_new_int64(p->id), &ok);
	ja_add(a, json_object_new_int64(p->organization_id), &ok);
	ja_add(a, jnew_str(p->slug), &ok);
	ja_add(a, jnew_str(p->name), &ok);
	ja_add(a, json_object_new_int64(p->status), &ok);
	ja_add(a, json_object_new_int64(p->template_id), &ok);
	ja_add(a, jnew_str(p->platform), &ok);
	return ja_finish(a, ok);
}

static int64_t
project_id_of(const void *obj)
{
	return ((const struct model_project *)obj)->id;
}

static const struct model_desc project_desc = {
	"p", NULL, "sentry_project",
	"id, organization_id, slug, name, status, template_id, platform",
	NULL, 0, offsetof(struct conf, ttl_project),
	project_from_row, project_from_json, project_to_json, project_id_of,
	NULL
};

/* Project key. */

#define KEY_COLUMNS "id, project_id, public_key, secret_key, status, roles, " \
	"rate_limit_count, rate_limit_window, label"

static void *
key_from_row(struct db_res *r)
{
	struct model_projectkey k;
	int64_t status, c, w;
	const char *pub = db_res_str(r, 2), *sec = db_res_str(r, 3);

	memset(&k, 0, sizeof(k));
	if (!db_res_int(r, 0, &k.id) || !db_res_int(r, 1, &k.project_id) ||
	    !db_res_int(r, 4, &status) || !db_res_int(r, 5, &k.roles))
		return NULL;
	/* NULL or odd keys can be stored by other writers: such a row can
	 * never be asked for by key, so it is served with "" instead. */
	if (pub != NULL && strlen(pub) <= MODEL_KEY_HEX_LEN)
		strcpy(k.public_key, pub);
	if (sec != NULL && strlen(sec) <= MODEL_KEY_HEX_LEN)
		strcpy(k.secret_key, sec);
	k.status = (int)status;
	k.has_rate_limit = db_res_int(r, 6, &c) && db_res_int(r, 7, &w);
	if (k.has_rate_limit) {
		k.rate_limit_count = c;
		k.rate_limit_window = w;
	}
	return key_new(&k, db_res_str(r, 8), db_res_len(r, 8));
}

static void *
key_from_json(json_object *a)
{
	struct model_projectkey k;
	int64_t status;
	const char *pub, *sec, *label;
	size_t pl, sl, ll;
	json_object *c, *w;

	memset(&k, 0, sizeof(k));
	if (!ja_shape(a, 9) || !ja_int(a, 0, &k.id) ||
	    !ja_int(a, 1, &k.project_id) || !ja_str(a, 2, false, &pub, &pl) ||
	    !ja_str(a, 3, false, &sec, &sl) || !ja_int(a, 4, &status) ||
	    !ja_int(a, 5, &k.roles) || !ja_str(a, 8, true, &label, &ll) ||
	    pl > MODEL_KEY_HEX_LEN || sl > MODEL_KEY_HEX_LEN)
		return NULL;
	memcpy(k.public_key, pub, pl);
	memcpy(k.secret_key, sec, sl);
	k.status = (int)status;
	c = json_object_array_get_idx(a, 6);
	w = json_object_array_get_idx(a, 7);
	if (c != NULL || w != NULL) {
		if (!ja_int(a, 6, &k.rate_limit_count) ||
		    !ja_int(a, 7, &k.rate_limit_window))
			return NULL;
		k.has_rate_limit = true;
	}
	return key_new(&k, label, ll);
}

static json_object *
key_to_json(const void *obj)
{
	const struct model_projectkey *k = obj;
	json_object *a = json_object_new_array_ext(9);
	bool ok = a != NULL;

	if (!ok)
		return NULL;
	ja_add(a, json_object_new_int64(k->id), &ok);
	ja_add(a, json_object_new_int64(k->project_id), &ok);
	ja_add(a, json_object_new_string(k->public_key), &ok);
	ja_add(a, json_object_new_string(k->secret_key), &ok);
	ja_add(a, json_object_new_int64(k->status), &ok);
	ja_add(a, json_object_new_int64(k->roles), &ok);
	ja_add(a, k->has_rate_limit ?
	    json_object_new_int64(k->rate_limit_count) : NULL, &ok);
	ja_add(a, k->has_rate_limit ?
	    json_object_new_int64(k->rate_limit_window) : NULL, &ok);
	ja_add(a, jnew_str(k->label), &ok);
	return ja_finish(a, ok);
}

static int64_t
key_id_of(const void *obj)
{
	return ((const struct model_projectkey *)obj)->id;
}

static const char *
key_str_of(const void *obj)
{
	return ((const struct model_projectkey *)obj)->public_key;
}

static const struct model_desc key_desc = {
	"k", "kp", "sentry_projectkey", KEY_COLUMNS, "public_key",
	MODEL_KEY_HEX_LEN, offsetof(struct conf, ttl_projectkey),
	key_from_row, key_from_json, key_to_json, key_id_of, key_str_of
};

/* Relay. */

static void *
relay_from_row(struct db_res *r)
{
	int64_t id, internal = 0;

	if (!db_res_int(r, 0, &id) || db_res_str(r, 1) == NULL ||
	    db_res_str(r, 2) == NULL)
		return NULL;
	(void)db_res_int(r, 3, &internal);	/* NULL reads as false */
	return relay_new(id, db_res_str(r, 1), db_res_str(r, 2), internal != 0);
}

static void *
relay_from_json(json_object *a)
{
	int64_t id, internal;
	const char *rid, *pk;
	size_t rl, pl;

	if (!ja_shape(a, 4) || !ja_int(a, 0, &id) ||
	    !ja_str(a, 1, false, &rid, &rl) || !ja_str(a, 2, false, &pk, &pl) ||
	    !ja_int(a, 3, &internal))
		return NULL;
	return relay_new(id, rid, pk, internal != 0);
}

static json_object *
relay_to_json(const void *obj)
{
	const struct model_relay *r = obj;
	json_object *a = json_object_new_array_ext(4);
	bool ok = a != NULL;

	if (!ok)
		return NULL;
	ja_add(a, json_object_new_int64(r->id), &ok);
	ja_add(a, json_object_new_string(r->relay_id), &ok);
	ja_add(a, json_object_new_string(r->public_key), &ok);
	ja_add(a, json_object_new_int(r->is_internal ? 1 : 0), &ok);
	return ja_finish(a, ok);
}

static int64_t
relay_id_of(const void *obj)
{
	return ((const struct model_relay *)obj)->id;
}

static const char *
relay_str_of(const void *obj)
{
	return ((const struct model_relay *)obj)->relay_id;
}

static const struct model_desc relay_desc = {
	"r", "rr", "sentry_relay", "id, relay_id, public_key, is_internal",
	"relay_id", RELAY_ID_COLUMN_MAX, offsetof(struct conf, ttl_relay),
	relay_from_row, relay_from_json, relay_to_json, relay_id_of,
	relay_str_of
};

/* The TTL field at off of the conf. */
static unsigned
conf_ttl(const struct store *st, size_t off)
{
	return *(const unsigned *)(const void *)((const char *)st->conf + off);
}

/* --- write-back batches ---------------------------------------------- */

struct wb {
	char		**keys;
	char		**vals;
	size_t		 *lens;
	unsigned	 *ttls;
	size_t		  n, cap;
	bool		  oom;
};

/* Queue a copy of key/val for writing back; ttl 0 means do not cache. */
static void
wb_add(struct wb *w, const char *key, const char *val, size_t len,
    unsigned ttl)
{
	char *k, *v;

	if (w->oom || ttl == 0)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap != 0 ? w->cap * 2 : 16;
		char **nk = realloc(w->keys, cap * sizeof(*nk));
		char **nv = nk != NULL ? realloc(w->vals, cap * sizeof(*nv)) : NULL;
		size_t *nl = nv != NULL ? realloc(w->lens, cap * sizeof(*nl)) : NULL;
		unsigned *nt = nl != NULL ? realloc(w->ttls, cap * sizeof(*nt)) : NULL;

		if (nk != NULL)
			w->keys = nk;
		if (nv != NULL)
			w->vals = nv;
		if (nl != NULL)
			w->lens = nl;
		if (nt == NULL) {
			w->oom = true;
			return;
		}
		w->ttls = nt;
		w->cap = cap;
	}
	k = strdup(key);
	v = malloc(len + 1);
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		w->oom = true;
		return;
	}
	memcpy(v, val, len);
	v[len] = '\0';
	w->keys[w->n] = k;
	w->vals[w->n] = v;
	w->lens[w->n] = len;
	w->ttls[w->n] = ttl;
	w->n++;
}

/* Queue o's text (o stays the caller's; NULL counts as OOM). */
static void
wb_add_json(struct wb *w, const char *key, json_object *o, unsigned ttl)
{
	size_t len;
	const char *s;

	if (o == NULL) {
		w->oom = true;
		return;
	}
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL)
		w->oom = true;
	else
		wb_add(w, key, s, len, ttl);
}

/* Write the batch (never in READ_DB_ONLY mode) and free it. */
static void
wb_flush(struct store *st, struct wb *w)
{
	if (w->n > 0 && st->mode == READ_NORMAL)
		(void)cache_set_many(st->cache, (const char *const *)w->keys,
		    (const char *const *)w->vals, w->lens, w->ttls, w->n);
	for (size_t i = 0; i < w->n; i++) {
		free(w->keys[i]);
		free(w->vals[i]);
	}
	free(w->keys);
	free(w->vals);
	free(w->lens);
	free(w->ttls);
	memset(w, 0, sizeof(*w));
}

/* Parse a NUL-terminated payload of len bytes: a new object, or NULL
 * when it is not exactly one JSON value. */
static json_object *
payload_parse(const char *data, size_t len)
{
	json_tokener *tok;
	json_object *o;

	/* data[len] is the NUL; passing it ends the input ("12" is whole). */
	if (len >= INT32_MAX || data[len] != '\0' ||
	    (tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, data, (int)len + 1);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/*
 * A payload read from memcached: untrusted input, so strict RFC 8259 and
 * valid UTF-8 (what json-c writes always is), else a miss.  payload_parse
 * stays lenient for what MariaDB holds, which other writers made.
 */
static json_object *
cached_payload_parse(const char *data, size_t len)
{
	json_tokener *tok;
	json_object *o;

	/* json-c alone takes overlong UTF-8 and raw control bytes. */
	if (len >= INT32_MAX || data[len] != '\0' ||
	    jsonstrict_check(data, len, JSONSTRICT_DEPTH_MAX, NULL) != 0 ||
	    (tok = json_tokener_new()) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, data, (int)len + 1);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The negative-entry payload. */
static bool
payload_is_null(const char *data, size_t len)
{
	return len == 4 && memcmp(data, "null", 4) == 0;
}

/* --- one multi-get ---------------------------------------------------- */

/* The keys of one memcached multi-get and its answers. */
struct mget {
	char			(*keys)[CACHE_KEY_MAX];
	const char		**kp;	/* kp[i] == keys[i] */
	struct cache_value	*vals;
	size_t			 n;
};

/* mget_init - room for n keys, the caller writes keys[i].  -1 on OOM. */
static int
mget_init(struct mget *m, size_t n)
{
	m->n = n;
	m->keys = malloc((n + 1) * sizeof(*m->keys));
	m->kp = calloc(n + 1, sizeof(*m->kp));
	m->vals = calloc(n + 1, sizeof(*m->vals));
	if (m->keys == NULL || m->kp == NULL || m->vals == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		m->kp[i] = m->keys[i];
	return 0;
}

/* mget_run - the multi-get; a failure leaves every answer a miss. */
static void
mget_run(struct store *st, struct mget *m)
{
	(void)cache_get_many(st->cache, m->kp, m->n, m->vals);
}

/* mget_free - the answers and the keys; a zeroed mget is fine. */
static void
mget_free(struct mget *m)
{
	if (m->vals != NULL)
		cache_values_free(m->vals, m->n);
	free(m->vals);
	free(m->kp);
	free(m->keys);
	memset(m, 0, sizeof(*m));
}

/* --- get many by id -------------------------------------------------- */

/*
 * Look the (unique) ids up in memcached: hits go to the local cache.
 * Failures are misses.  Returns STORE_OK or STORE_ERROR (OOM).
 */
static int
fetch_cache_ids(struct store *st, const struct model_desc *d,
    const int64_t *ids, size_t n)
{
	struct mget m = { 0 };
	int rc = STORE_ERROR;

	if (n == 0 || st->mode == READ_DB_ONLY || !cache_enabled(st->cache))
		return STORE_OK;
	if (mget_init(&m, n) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		cache_key_id(st->cache, m.keys[i], CACHE_KEY_MAX, d->kind,
		    ids[i]);
	mget_run(st, &m);
	for (size_t i = 0; i < n; i++) {
		const struct cache_value *v = &m.vals[i];
		json_object *a;
		void *obj;

		if (v->data == NULL)
			continue;
		if (payload_is_null(v->data, v->len)) {
			lc_put(st, m.keys[i], NULL);
			continue;
		}
		a = cached_payload_parse(v->data, v->len);
		obj = a != NULL ? d->from_json(a) : NULL;
		json_object_put(a);
		/* Unreadable, or another row under this key: a miss. */
		if (obj == NULL || d->id_of(obj) != ids[i]) {
			free(obj);
			continue;
		}
		if (!own(st, obj, OWN_MEM))
			goto out;
		lc_put(st, m.keys[i], obj);
	}
	rc = STORE_OK;
out:
	mget_free(&m);
	if (rc != STORE_OK)
		store_seterr(st, "out of memory");
	return rc;
}

/*
 * Fetch rows by column IN (list) and remember each under its id key (and
 * its pointer key when the model has one), queueing write-backs.  Returns
 * a STORE_* code.  where is the SQL after WHERE, with the list included.
 */
static int
fetch_db_rows(struct store *st, const struct model_desc *d,
    const struct db_sql *where, struct wb *w)
{
	struct db_sql q;
	struct db_res *r = NULL;
	unsigned ttl = conf_ttl(st, d->ttl_off);
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, "SELECT ");
	db_sql_raw(&q, d->columns);
	db_sql_raw(&q, " FROM ");
	db_sql_raw(&q, d->table);
	db_sql_raw(&q, " WHERE ");
	if (db_sql_ok(where))
		db_sql_raw(&q, where->buf);
	else
		q.oom = true;
	if ((rc = sql_query(st, store_reader(st), &q, &r)) != STORE_OK)
		goto out;
	while (db_res_next(r)) {
		char key[CACHE_KEY_MAX];
		void *obj = d->from_row(r);
		const void *kept;

		if (obj == NULL) {
			log_warn("%s: skipping an unreadable row", d->table);
			continue;
		}
		if (!own(st, obj, OWN_MEM)) {
			rc = STORE_ERROR;
			goto out;
		}
		cache_key_id(st->cache, key, sizeof(key), d->kind, d->id_of(obj));
		kept = lc_put(st, key, obj);
		if (kept == obj) {
			json_object *j = d->to_json(obj);

			wb_add_json(w, key, j, ttl);
			json_object_put(j);
		}
		if (d->ptr_kind != NULL && kept != NULL && d->str_of(kept)[0] != '\0') {
			char pv[32];
			int pl;

			cache_key_str(st->cache, key, sizeof(key), d->ptr_kind,
			    d->str_of(kept));
			lc_put(st, key, kept);
			pl = snprintf(pv, sizeof(pv), "[%lld]",
			    (long long)d->id_of(kept));
			wb_add(w, key, pv, (size_t)pl, ttl);
		}
	}
out:
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/*
 * The generic get_many by id: local cache, one multi-get, one query, write
 * back.  out[i] borrows from the local cache; see store.h for the codes.
 */
static int
get_by_ids(struct store *st, const struct model_desc *d, const int64_t *ids,
    size_t n, const void **out)
{
	char key[CACHE_KEY_MAX];
	int64_t *want = NULL;
	size_t nwant = 0, m = 0;
	struct wb w = { 0 };
	struct db_sql where;
	int rc = STORE_OK;

	db_sql_init(&where);
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (n == 0)
		return STORE_OK;
	if ((want = malloc(n * sizeof(*want))) == NULL) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		cache_key_id(st->cache, key, sizeof(key), d->kind, ids[i]);
		if (lc_find(st, key) == NULL)
			want[nwant++] = ids[i];
	}
	nwant = uniq_i64(want, nwant);
	if ((rc = fetch_cache_ids(st, d, want, nwant)) != STORE_OK)
		goto fill;
	/* What memcached did not know goes to MariaDB. */
	for (size_t i = 0; i < nwant; i++) {
		cache_key_id(st->cache, key, sizeof(key), d->kind, want[i]);
		if (lc_find(st, key) == NULL)
			want[m++] = want[i];
	}
	if (m == 0 || st->mode == READ_CACHE_ONLY)
		goto fill;
	db_sql_raw(&where, "id IN ");
	sql_id_list(&where, want, m);
	if ((rc = fetch_db_rows(st, d, &where, &w)) != STORE_OK)
		goto fill;
	/* Asked for and not found: absent (and cached so, briefly). */
	for (size_t i = 0; i < m; i++) {
		cache_key_id(st->cache, key, sizeof(key), d->kind, want[i]);
		if (lc_find(st, key) == NULL) {
			lc_put(st, key, NULL);
			wb_add(&w, key, "null", 4, st->conf->ttl_negative);
		}
	}
fill:
	wb_flush(st, &w);
	for (size_t i = 0; i < n; i++) {
		struct lc_node *node;

		cache_key_id(st->cache, key, sizeof(key), d->kind, ids[i]);
		if ((node = lc_find(st, key)) != NULL)
			out[i] = node->obj;
	}
	free(want);
	db_sql_free(&where);
	return rc;
}

/* --- get many by string (pointer) ------------------------------------ */

/* qsort order for string pointers. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Pointer entries in memcached: each hit gives an id; the rows of those
 * ids are then read by id (local cache, then a second multi-get), and a
 * pointer counts only when its row carries the same string.
 */
static int
fetch_cache_ptrs(struct store *st, const struct model_desc *d,
    const char *const *strs, size_t n)
{
	struct mget m = { 0 };
	int64_t *ids = NULL;
	size_t nids = 0;
	int rc = STORE_ERROR;

	if (n == 0 || st->mode == READ_DB_ONLY || !cache_enabled(st->cache))
		return STORE_OK;
	if (mget_init(&m, n) != 0 || (ids = calloc(n, sizeof(*ids))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		cache_key_str(st->cache, m.keys[i], CACHE_KEY_MAX, d->ptr_kind,
		    strs[i]);
	mget_run(st, &m);
	for (size_t i = 0; i < n; i++) {
		const struct cache_value *v = &m.vals[i];
		json_object *a;
		int64_t id;

		if (v->data == NULL)
			continue;
		if (payload_is_null(v->data, v->len)) {
			lc_put(st, m.keys[i], NULL);
			continue;
		}
		a = cached_payload_parse(v->data, v->len);
		if (ja_shape(a, 1) && ja_int(a, 0, &id))
			ids[nids++] = id;
		json_object_put(a);
	}
	/* Resolve: rows by id, from the local cache or memcached. */
	if (nids > 0) {
		int64_t *uids = malloc(nids * sizeof(*uids));
		size_t nu = 0;
		char key[CACHE_KEY_MAX];

		if (uids == NULL)
			goto out;
		for (size_t i = 0; i < nids; i++) {
			cache_key_id(st->cache, key, sizeof(key), d->kind, ids[i]);
			if (lc_find(st, key) == NULL)
				uids[nu++] = ids[i];
		}
		nu = uniq_i64(uids, nu);
		rc = fetch_cache_ids(st, d, uids, nu);
		free(uids);
		if (rc != STORE_OK)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct cache_value *v = &m.vals[i];
		struct lc_node *node;
		json_object *a;
		int64_t id;
		char key[CACHE_KEY_MAX];

		if (v->data == NULL || payload_is_null(v->data, v->len))
			continue;
		a = cached_payload_parse(v->data, v->len);
		if (!(ja_shape(a, 1) && ja_int(a, 0, &id))) {
			json_object_put(a);
			continue;
		}
		json_object_put(a);
		cache_key_id(st->cache, key, sizeof(key), d->kind, id);
		node = lc_find(st, key);
		/* A stale pointer (the row's string changed) is a miss. */
		if (node != NULL && node->obj != NULL &&
		    strcmp(d->str_of(node->obj), strs[i]) == 0)
			lc_put(st, m.keys[i], node->obj);
	}
	rc = STORE_OK;
out:
	mget_free(&m);
	free(ids);
	if (rc != STORE_OK)
		store_seterr(st, "out of memory");
	return rc;
}

/*
 * get_by_ids for a unique string column (public_key, relay_id) through
 * pointer entries.  Strings no row could hold are absent at once, without
 * a round trip.
 */
static int
get_by_strs(struct store *st, const struct model_desc *d,
    const char *const *strs, size_t n, const void **out)
{
	char key[CACHE_KEY_MAX];
	const char **want = NULL;
	size_t nwant = 0, m = 0;
	struct wb w = { 0 };
	struct db_sql where;
	int rc = STORE_OK;

	db_sql_init(&where);
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (n == 0)
		return STORE_OK;
	if ((want = malloc(n * sizeof(*want))) == NULL) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		if (strs[i] == NULL)
			continue;
		cache_key_str(st->cache, key, sizeof(key), d->ptr_kind, strs[i]);
		if (lc_find(st, key) != NULL)
			continue;
		/* No row can hold it: absent without asking anyone. */
		if (!could_be_column(strs[i], d->str_max)) {
			lc_put(st, key, NULL);
			continue;
		}
		want[nwant++] = strs[i];
	}
	if (nwant > 1)
		qsort(want, nwant, sizeof(*want), cmp_str);
	for (size_t i = 0; i < nwant; i++)
		if (m == 0 || strcmp(want[m - 1], want[i]) != 0)
			want[m++] = want[i];
	nwant = m;
	if ((rc = fetch_cache_ptrs(st, d, want, nwant)) != STORE_OK)
		goto fill;
	m = 0;
	for (size_t i = 0; i < nwant; i++) {
		cache_key_str(st->cache, key, sizeof(key), d->ptr_kind, want[i]);
		if (lc_find(st, key) == NULL)
			want[m++] = want[i];
	}
	if (m == 0 || st->mode == READ_CACHE_ONLY)
		goto fill;
	db_sql_raw(&where, d->str_column);
	db_sql_raw(&where, " IN (");
	for (size_t i = 0; i < m; i++) {
		if (i > 0)
			db_sql_raw(&where, ",");
		db_sql_token(&where, want[i]);
	}
	db_sql_raw(&where, ")");
	if ((rc = fetch_db_rows(st, d, &where, &w)) != STORE_OK)
		goto fill;
	for (size_t i = 0; i < m; i++) {
		cache_key_str(st->cache, key, sizeof(key), d->ptr_kind, want[i]);
		if (lc_find(st, key) == NULL) {
			lc_put(st, key, NULL);
			wb_add(&w, key, "null", 4, st->conf->ttl_negative);
		}
	}
fill:
	wb_flush(st, &w);
	for (size_t i = 0; i < n; i++) {
		struct lc_node *node;

		if (strs[i] == NULL)
			continue;
		cache_key_str(st->cache, key, sizeof(key), d->ptr_kind, strs[i]);
		if ((node = lc_find(st, key)) != NULL)
			out[i] = node->obj;
	}
	free(want);
	db_sql_free(&where);
	return rc;
}

/* --- public model reads ---------------------------------------------- */

int
store_projectkeys_by_public_keys(struct store *st,
    const char *const *public_keys, size_t n,
    const struct model_projectkey **out)
{
	return get_by_strs(st, &key_desc, public_keys, n, (const void **)out);
}

int
store_projects_by_ids(struct store *st, const int64_t *ids, size_t n,
    const struct model_project **out)
{
	return get_by_ids(st, &project_desc, ids, n, (const void **)out);
}

int
store_orgs_by_ids(struct store *st, const int64_t *ids, size_t n,
    const struct model_org **out)
{
	return get_by_ids(st, &org_desc, ids, n, (const void **)out);
}

int
store_relays_by_ids(struct store *st, const int64_t *ids, size_t n,
    const struct model_relay **out)
{
	return get_by_ids(st, &relay_desc, ids, n, (const void **)out);
}

int
store_relays_by_relay_ids(struct store *st, const char *const *relay_ids,
    size_t n, const struct model_relay **out)
{
	return get_by_strs(st, &relay_desc, relay_ids, n, (const void **)out);
}

/* --- project key lists ----------------------------------------------- */

/* An empty list with room for n keys, or NULL on OOM. */
static struct keylist_obj *
keylist_new(size_t n)
{
	struct keylist_obj *kl = malloc(sizeof(*kl) + n * sizeof(kl->keys[0]));

	if (kl != NULL)
		kl->n = 0;
	return kl;
}

/* Remember a key row read as part of a list: the request's copy wins. */
static const struct model_projectkey *
keylist_keep(struct store *st, struct model_projectkey *k)
{
	char key[CACHE_KEY_MAX];

	if (!own(st, k, OWN_MEM))
		return NULL;
	cache_key_id(st->cache, key, sizeof(key), "k", k->id);
	return lc_put(st, key, k);
}

/* Key lists from memcached into the local cache; a list with one bad
 * row is a miss.  STORE_OK or STORE_ERROR (OOM). */
static int
fetch_cache_keylists(struct store *st, const int64_t *pids, size_t n)
{
	struct mget m = { 0 };
	int rc = STORE_ERROR;

	if (n == 0 || st->mode == READ_DB_ONLY || !cache_enabled(st->cache))
		return STORE_OK;
	if (mget_init(&m, n) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		cache_key_id(st->cache, m.keys[i], CACHE_KEY_MAX, "kl", pids[i]);
	mget_run(st, &m);
	for (size_t i = 0; i < n; i++) {
		json_object *a;
		struct keylist_obj *kl;
		size_t len;
		bool ok = true;

		if (m.vals[i].data == NULL)
			continue;
		a = cached_payload_parse(m.vals[i].data, m.vals[i].len);
		if (!json_object_is_type(a, json_type_array)) {
			json_object_put(a);
			continue;
		}
		len = json_object_array_length(a);
		if ((kl = keylist_new(len)) == NULL) {
			json_object_put(a);
			goto out;
		}
		for (size_t j = 0; j < len && ok; j++) {
			struct model_projectkey *k =
			    key_from_json(json_object_array_get_idx(a, j));

			/* Every row must belong here, or the entry is a miss. */
			if (k == NULL || k->project_id != pids[i]) {
				free(k);
				ok = false;
			} else if ((kl->keys[kl->n++] = keylist_keep(st, k)) == NULL)
				ok = false;
		}
		json_object_put(a);
		if (!ok) {
			free(kl);
			continue;
		}
		if (!own(st, kl, OWN_MEM))
			goto out;
		lc_put(st, m.keys[i], kl);
	}
	rc = STORE_OK;
out:
	mget_free(&m);
	if (rc != STORE_OK)
		store_seterr(st, "out of memory");
	return rc;
}

/* One query for the keys of every project in pids (sorted, unique). */
static int
fetch_db_keylists(struct store *st, const int64_t *pids, size_t n)
{
	struct db_sql q;
	struct db_res *r = NULL;
	const struct model_projectkey **rows = NULL;
	size_t nrows = 0, j = 0;
	struct wb w = { 0 };
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, "SELECT " KEY_COLUMNS " FROM sentry_projectkey "
	    "WHERE project_id IN ");
	sql_id_list(&q, pids, n);
	db_sql_raw(&q, " ORDER BY project_id, id");
	if ((rc = sql_query(st, store_reader(st), &q, &r)) != STORE_OK)
		goto out;
	if ((rows = malloc((db_res_rows(r) + 1) * sizeof(*rows))) == NULL)
		goto oom;
	while (db_res_next(r)) {
		struct model_projectkey *k = key_from_row(r);

		if (k == NULL) {
			log_warn("sentry_projectkey: skipping an unreadable row");
			continue;
		}
		if ((rows[nrows] = keylist_keep(st, k)) == NULL)
			goto oom;
		nrows++;
	}
	/* rows and pids are both ordered by project id: merge. */
	for (size_t i = 0; i < n; i++) {
		char key[CACHE_KEY_MAX];
		struct keylist_obj *kl;
		json_object *a;
		bool ok = true;
		size_t start;

		while (j < nrows && rows[j]->project_id < pids[i])
			j++;
		start = j;
		while (j < nrows && rows[j]->project_id == pids[i])
			j++;
		if ((kl = keylist_new(j - start)) == NULL)
			goto oom;
		if ((a = json_object_new_array_ext((int)(j - start))) == NULL) {
			free(kl);
			goto oom;
		}
		for (size_t x = start; x < j; x++) {
			kl->keys[kl->n++] = rows[x];
			ja_add(a, key_to_json(rows[x]), &ok);
		}
		if (!own(st, kl, OWN_MEM)) {
			json_object_put(a);
			goto oom;
		}
		cache_key_id(st->cache, key, sizeof(key), "kl", pids[i]);
		lc_put(st, key, kl);
		if (ok)
			wb_add_json(&w, key, a, st->conf->ttl_projectkey);
		json_object_put(a);
	}
	wb_flush(st, &w);
	goto out;
oom:
	store_seterr(st, "out of memory");
	rc = STORE_ERROR;
out:
	wb_flush(st, &w);
	free(rows);
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

int
store_projectkeys_by_project_ids(struct store *st, const int64_t *project_ids,
    size_t n, struct store_keylist *out)
{
	char key[CACHE_KEY_MAX];
	int64_t *want = NULL;
	size_t nwant = 0, m = 0;
	int rc = STORE_OK;

	for (size_t i = 0; i < n; i++)
		out[i] = (struct store_keylist){ NULL, 0 };
	if (n == 0)
		return STORE_OK;
	if ((want = malloc(n * sizeof(*want))) == NULL) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		cache_key_id(st->cache, key, sizeof(key), "kl", project_ids[i]);
		if (lc_find(st, key) == NULL)
			want[nwant++] = project_ids[i];
	}
	nwant = uniq_i64(want, nwant);
	if ((rc = fetch_cache_keylists(st, want, nwant)) != STORE_OK)
		goto fill;
	for (size_t i = 0; i < nwant; i++) {
		cache_key_id(st->cache, key, sizeof(key), "kl", want[i]);
		if (lc_find(st, key) == NULL)
			want[m++] = want[i];
	}
	if (m > 0 && st->mode != READ_CACHE_ONLY)
		rc = fetch_db_keylists(st, want, m);
fill:
	for (size_t i = 0; i < n; i++) {
		struct lc_node *node;
		const struct keylist_obj *kl;

		cache_key_id(st->cache, key, sizeof(key), "kl", project_ids[i]);
		if ((node = lc_find(st, key)) == NULL || node->obj == NULL)
			continue;
		kl = node->obj;
		out[i].keys = kl->keys;
		out[i].n = kl->n;
	}
	free(want);
	return rc;
}

/* --- options --------------------------------------------------------- */

struct dict_desc {
	const char	*kind;
	const char	*table;
	const char	*owner_col;
};

static const struct dict_desc po_desc = {
	"po", "sentry_projectoptions", "project_id"
};
static const struct dict_desc oo_desc = {
	"oo", "sentry_organizationoptions", "organization_id"
};
static const struct dict_desc to_desc = {
	"to", "sentry_projecttemplateoption", "project_template_id"
};

/* The owners (unique) of one kind whose dict is not yet known. */
struct dict_req {
	const struct dict_desc	*d;
	const int64_t		*ids;
	size_t			 n;
};

/* One query for the options of ids (sorted, unique); each owner gets a
 * dict, empty when it has none, written back. */
static int
fetch_db_dicts(struct store *st, const struct dict_desc *d,
    const int64_t *ids, size_t n, struct wb *w)
{
	struct db_sql q;
	struct db_res *r = NULL;
	json_object **dicts = NULL;
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, "SELECT ");
	db_sql_raw(&q, d->owner_col);
	db_sql_raw(&q, ", `key`, value FROM ");
	db_sql_raw(&q, d->table);
	db_sql_raw(&q, " WHERE ");
	db_sql_raw(&q, d->owner_col);
	db_sql_raw(&q, " IN ");
	sql_id_list(&q, ids, n);
	if ((rc = sql_query(st, store_reader(st), &q, &r)) != STORE_OK)
		goto out;
	if ((dicts = calloc(n, sizeof(*dicts))) == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++)
		if ((dicts[i] = json_object_new_object()) == NULL)
			goto oom;
	while (db_res_next(r)) {
		int64_t owner;
		const char *k = db_res_str(r, 1), *v = db_res_str(r, 2);
		const int64_t *hit;
		json_object *val = NULL;
		char clean[80];

		if (!db_res_int(r, 0, &owner) || k == NULL)
			continue;
		hit = bsearch(&owner, ids, n, sizeof(*ids), cmp_i64);
		if (hit == NULL)
			continue;
		if (v != NULL &&
		    (val = payload_parse(v, db_res_len(r, 2))) == NULL &&
		    !payload_is_null(v, db_res_len(r, 2))) {
			/* A legacy pickle, or garbage: not an option we can
			 * serve.  Leave it out rather than fail the owner. */
			log_warn("%s %s=%lld: option %s is not JSON, ignored",
			    d->table, d->owner_col, (long long)owner,
			    log_sanitize(clean, sizeof(clean), k));
			continue;
		}
		if (json_object_object_add(dicts[hit - ids], k, val) != 0) {
			json_object_put(val);
			goto oom;
		}
	}
	for (size_t i = 0; i < n; i++) {
		char key[CACHE_KEY_MAX];
		json_object *o = dicts[i];

		dicts[i] = NULL;
		if (!own(st, o, OWN_JSON))
			goto oom;
		cache_key_id(st->cache, key, sizeof(key), d->kind, ids[i]);
		lc_put(st, key, o);
		wb_add_json(w, key, o, st->conf->ttl_options);
	}
	goto out;
oom:
	store_seterr(st, "out of memory");
	rc = STORE_ERROR;
out:
	if (dicts != NULL)
		for (size_t i = 0; i < n; i++)
			json_object_put(dicts[i]);
	free(dicts);
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/*
 * Options dicts of several kinds at once: one multi-get for all, then one
 * query per kind for what memcached did not have.
 */
static int
get_dicts(struct store *st, const struct dict_req *reqs, size_t nreq)
{
	struct mget m = { 0 };
	int64_t *miss = NULL;
	size_t total = 0, at = 0;
	struct wb w = { 0 };
	int rc = STORE_ERROR, rc2;

	for (size_t r = 0; r < nreq; r++)
		total += reqs[r].n;
	if (total == 0)
		return STORE_OK;
	if (mget_init(&m, total) != 0 ||
	    (miss = malloc(total * sizeof(*miss))) == NULL)
		goto oom;
	for (size_t r = 0; r < nreq; r++)
		for (size_t i = 0; i < reqs[r].n; i++, at++)
			cache_key_id(st->cache, m.keys[at], CACHE_KEY_MAX,
			    reqs[r].d->kind, reqs[r].ids[i]);
	if (st->mode != READ_DB_ONLY && cache_enabled(st->cache))
		mget_run(st, &m);
	for (size_t i = 0; i < total; i++) {
		json_object *o;

		if (m.vals[i].data == NULL)
			continue;
		o = cached_payload_parse(m.vals[i].data, m.vals[i].len);
		if (!json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			continue;
		}
		if (!own(st, o, OWN_JSON))
			goto oom;
		lc_put(st, m.keys[i], o);
	}
	rc = STORE_OK;
	at = 0;
	for (size_t r = 0; r < nreq && st->mode != READ_CACHE_ONLY; r++) {
		size_t nmiss = 0;

		for (size_t i = 0; i < reqs[r].n; i++, at++)
			if (lc_find(st, m.keys[at]) == NULL)
				miss[nmiss++] = reqs[r].ids[i];
		if (nmiss == 0)
			continue;
		/* Go on with the other kinds: their answers are still good. */
		if ((rc2 = fetch_db_dicts(st, reqs[r].d, miss, nmiss, &w)) !=
		    STORE_OK)
			rc = rc2;
	}
	goto out;
oom:
	store_seterr(st, "out of memory");
	rc = STORE_ERROR;
out:
	wb_flush(st, &w);
	mget_free(&m);
	free(miss);
	return rc;
}

/* Plain dicts (org, template): local cache, then get_dicts. */
static int
get_plain_dicts(struct store *st, const struct dict_desc *d,
    const int64_t *ids, size_t n, json_object **out)
{
	char key[CACHE_KEY_MAX];
	int64_t *want;
	size_t nwant = 0;
	struct dict_req req;
	int rc;

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (n == 0)
		return STORE_OK;
	if ((want = malloc(n * sizeof(*want))) == NULL) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		cache_key_id(st->cache, key, sizeof(key), d->kind, ids[i]);
		if (lc_find(st, key) == NULL)
			want[nwant++] = ids[i];
	}
	req.d = d;
	req.ids = want;
	req.n = uniq_i64(want, nwant);
	rc = get_dicts(st, &req, 1);
	for (size_t i = 0; i < n; i++) {
		struct lc_node *node;

		cache_key_id(st->cache, key, sizeof(key), d->kind, ids[i]);
		if ((node = lc_find(st, key)) != NULL)
			out[i] = (json_object *)(uintptr_t)node->obj;
	}
	free(want);
	return rc;
}

int
store_org_options(struct store *st, const int64_t *org_ids, size_t n,
    json_object **out)
{
	return get_plain_dicts(st, &oo_desc, org_ids, n, out);
}

int
store_template_options(struct store *st, const int64_t *template_ids,
    size_t n, json_object **out)
{
	return get_plain_dicts(st, &to_desc, template_ids, n, out);
}

/* A dict of the request, or NULL. */
static json_object *
lc_dict(const struct store *st, const char *kind, int64_t id)
{
	char key[CACHE_KEY_MAX];
	struct lc_node *node;

	cache_key_id(st->cache, key, sizeof(key), kind, id);
	node = lc_find(st, key);
	return node != NULL ? (json_object *)(uintptr_t)node->obj : NULL;
}

/* The project's options over its template's, as a new object. */
static json_object *
merge_options(json_object *project, json_object *tmpl)
{
	json_object *m = json_object_new_object();

	if (m == NULL)
		return NULL;
	if (tmpl != NULL) {
		json_object_object_foreach(tmpl, k, v) {
			if (json_object_object_add(m, k, json_object_get(v)) != 0) {
				json_object_put(v);
				goto fail;
			}
		}
	}
	json_object_object_foreach(project, k, v) {
		if (json_object_object_add(m, k, json_object_get(v)) != 0) {
			json_object_put(v);
			goto fail;
		}
	}
	return m;
fail:
	json_object_put(m);
	return NULL;
}

int
store_project_options(struct store *st, const int64_t *project_ids, size_t n,
    json_object **out)
{
	const struct model_project **projects = NULL;
	int64_t *pids = NULL, *tids = NULL;
	size_t np = 0, nt = 0;
	struct dict_req reqs[2];
	char key[CACHE_KEY_MAX];
	int rc, rc2;

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (n == 0)
		return STORE_OK;
	projects = calloc(n, sizeof(*projects));
	pids = malloc(n * sizeof(*pids));
	tids = malloc(n * sizeof(*tids));
	if (projects == NULL || pids == NULL || tids == NULL) {
		store_seterr(st, "out of memory");
		rc = STORE_ERROR;
		goto out;
	}
	/* The template ids come with the projects (usually local hits). */
	rc = store_projects_by_ids(st, project_ids, n, projects);
	for (size_t i = 0; i < n; i++) {
		const struct model_project *p = projects[i];

		if (p == NULL || lc_dict(st, "pom", p->id) != NULL)
			continue;
		if (lc_dict(st, "po", p->id) == NULL)
			pids[np++] = p->id;
		if (p->template_id != 0 && lc_dict(st, "to", p->template_id) == NULL)
			tids[nt++] = p->template_id;
	}
	reqs[0] = (struct dict_req){ &po_desc, pids, uniq_i64(pids, np) };
	reqs[1] = (struct dict_req){ &to_desc, tids, uniq_i64(tids, nt) };
	if ((rc2 = get_dicts(st, reqs, 2)) != STORE_OK)
		rc = rc2;
	for (size_t i = 0; i < n; i++) {
		const struct model_project *p = projects[i];
		json_object *po, *to = NULL, *m;

		if (p == NULL)
			continue;
		if ((m = lc_dict(st, "pom", p->id)) != NULL) {
			out[i] = m;
			continue;
		}
		po = lc_dict(st, "po", p->id);
		if (p->template_id != 0)
			to = lc_dict(st, "to", p->template_id);
		/* Half a dict is no answer: unknown (rc says why). */
		if (po == NULL || (p->template_id != 0 && to == NULL))
			continue;
		if ((m = merge_options(po, to)) == NULL || !own(st, m, OWN_JSON)) {
			store_seterr(st, "out of memory");
			rc = STORE_ERROR;
			continue;
		}
		cache_key_id(st->cache, key, sizeof(key), "pom", p->id);
		lc_put(st, key, m);
		out[i] = m;
	}
out:
	free(projects);
	free(pids);
	free(tids);
	return rc;
}

/* --- relaycfgctl reads ----------------------------------------------- */

int
store_list_ids(struct store *st, const char *table, int64_t parent,
    const int64_t **ids, size_t *n)
{
	static const struct {
		const char	*name;
		const char	*sql;
		const char	*parent_col;
	} tables[] = {
		{ "org", "SELECT id FROM sentry_organization", NULL },
		{ "project", "SELECT id FROM sentry_project", "organization_id" },
		{ "template", "SELECT id FROM sentry_projecttemplate",
		    "organization_id" },
		{ "relay", "SELECT id FROM sentry_relay", NULL },
	};
	struct db_sql q;
	struct db_res *r = NULL;
	int64_t *v = NULL;
	size_t t, m = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		if (strcmp(tables[t].name, table) == 0)
			break;
	if (t == sizeof(tables) / sizeof(tables[0])) {
		store_seterr(st, "no table %s", table);
		return STORE_INVALID;
	}
	db_sql_init(&q);
	db_sql_raw(&q, tables[t].sql);
	if (parent != 0 && tables[t].parent_col != NULL) {
		db_sql_raw(&q, " WHERE ");
		db_sql_raw(&q, tables[t].parent_col);
		db_sql_raw(&q, " = ");
		db_sql_int(&q, parent);
	}
	db_sql_raw(&q, " ORDER BY id");
	if ((rc = sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	if ((v = malloc((db_res_rows(r) + 1) * sizeof(*v))) == NULL ||
	    !own(st, v, OWN_MEM)) {
		store_seterr(st, "out of memory");
		rc = STORE_ERROR;
		goto out;
	}
	while (db_res_next(r))
		if (db_res_int(r, 0, &v[m]))
			m++;
	*ids = v;
	*n = m;
out:
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

int
store_templates_by_ids(struct store *st, const int64_t *ids, size_t n,
    const struct store_template **out)
{
	struct db_sql q;
	struct db_res *r = NULL;
	int64_t *u = NULL;
	int rc = STORE_OK;

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (n == 0)
		return STORE_OK;
	db_sql_init(&q);
	if ((u = malloc(n * sizeof(*u))) == NULL) {
		store_seterr(st, "out of memory");
		rc = STORE_ERROR;
		goto out;
	}
	memcpy(u, ids, n * sizeof(*u));
	db_sql_raw(&q, "SELECT id, organization_id, name FROM "
	    "sentry_projecttemplate WHERE id IN ");
	sql_id_list(&q, u, uniq_i64(u, n));
	if ((rc = sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	while (db_res_next(r)) {
		struct store_template *t;
		size_t nl = db_res_len(r, 2);
		int64_t id, org;

		if (!db_res_int(r, 0, &id) || !db_res_int(r, 1, &org) ||
		    db_res_str(r, 2) == NULL)
			continue;
		if ((t = malloc(sizeof(*t) + nl + 1)) == NULL ||
		    !own(st, t, OWN_MEM)) {
			store_seterr(st, "out of memory");
			rc = STORE_ERROR;
			goto out;
		}
		t->id = id;
		t->organization_id = org;
		t->name = (char *)(t + 1);
		memcpy(t->name, db_res_str(r, 2), nl + 1);
		for (size_t i = 0; i < n; i++)
			if (ids[i] == id)
				out[i] = t;
	}
out:
	free(u);
	db_res_free(r);
	db_sql_free(&q);
	return rc;
}

/* --- invalidation ---------------------------------------------------- */

/* The cache keys one write or invalidation must delete. */
struct inval {
	char	**keys;
	size_t	  n, cap;
	bool	  oom;
};

/* Collect a key to delete (a copy); OOM marks the set incomplete. */
static void
inv_add(struct inval *iv, const char *key)
{
	char *k;

	if (iv->oom || key[0] == '\0')
		return;
	if (iv->n == iv->cap) {
		size_t cap = iv->cap != 0 ? iv->cap * 2 : 16;
		char **p = realloc(iv->keys, cap * sizeof(*p));

		if (p == NULL) {
			iv->oom = true;
			return;
		}
		iv->keys = p;
		iv->cap = cap;
	}
	if ((k = strdup(key)) == NULL) {
		iv->oom = true;
		return;
	}
	iv->keys[iv->n++] = k;
}

/* Collect <kind>:<id> / <kind>:<string>. */
static void
inv_id(struct store *st, struct inval *iv, const char *kind, int64_t id)
{
	char key[CACHE_KEY_MAX];

	cache_key_id(st->cache, key, sizeof(key), kind, id);
	inv_add(iv, key);
}

static void
inv_str(struct store *st, struct inval *iv, const char *kind, const char *s)
{
	char key[CACHE_KEY_MAX];

	if (s == NULL || s[0] == '\0')
		return;
	cache_key_str(st->cache, key, sizeof(key), kind, s);
	inv_add(iv, key);
}

/* A key: its row, pointer, its project's list, its computed config. */
static void
inv_key(struct store *st, struct inval *iv, int64_t id, const char *pub,
    int64_t project_id)
{
	if (id != 0)
		inv_id(st, iv, "k", id);
	if (project_id != 0)
		inv_id(st, iv, "kl", project_id);
	inv_str(st, iv, "kp", pub);
	if (pub != NULL && pub[0] != '\0') {
		char key[CACHE_KEY_MAX];

		cache_key_config(st->cache, key, sizeof(key), pub);
		inv_add(iv, key);
		cache_key_config_rev(st->cache, key, sizeof(key), pub);
		inv_add(iv, key);
	}
}

/* A project's own entries (not its keys). */
static void
inv_project(struct store *st, struct inval *iv, int64_t id)
{
	inv_id(st, iv, "p", id);
	inv_id(st, iv, "po", id);
	inv_id(st, iv, "kl", id);
}

/* Drop the collected keys unsent. */
static void
inv_free(struct inval *iv)
{
	for (size_t i = 0; i < iv->n; i++)
		free(iv->keys[i]);
	free(iv->keys);
	memset(iv, 0, sizeof(*iv));
}

/* qsort order for owned strings. */
static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Delete the collected keys and forget the local cache (its objects stay
 * alive for callers).  Any failure marks the store's cache as stale.
 */
static void
inv_flush(struct store *st, struct inval *iv)
{
	size_t m = 0;

	/* Writes name some keys twice (a project's list per key): once. */
	if (iv->n > 1)
		qsort(iv->keys, iv->n, sizeof(*iv->keys), cmp_strp);
	for (size_t i = 0; i < iv->n; i++) {
		if (m > 0 && strcmp(iv->keys[m - 1], iv->keys[i]) == 0)
			free(iv->keys[i]);
		else
			iv->keys[m++] = iv->keys[i];
	}
	iv->n = m;
	lc_forget_all(st);
	if (iv->oom)
		st->cache_stale = true;
	else if (cache_delete_many(st->cache, (const char *const *)iv->keys,
	    iv->n) != 0)
		st->cache_stale = true;
	inv_free(iv);
}

/*
 * Collect the keys named by q (columns: key id, public key, project id;
 * the first two may be NULL from a LEFT JOIN), on the primary.  With
 * projects, each project id is invalidated too.
 */
static int
inv_keys_query(struct store *st, struct inval *iv, const struct db_sql *q,
    bool projects)
{
	struct db_res *r = NULL;
	int rc;

	if ((rc = sql_query(st, st->primary, q, &r)) != STORE_OK)
		return rc;
	while (db_res_next(r)) {
		int64_t id = 0, pid = 0;

		(void)db_res_int(r, 0, &id);
		(void)db_res_int(r, 2, &pid);
		if (id != 0)
			inv_key(st, iv, id, db_res_str(r, 1), pid);
		if (projects && pid != 0)
			inv_project(st, iv, pid);
	}
	db_res_free(r);
	return STORE_OK;
}

/* The keys of the projects matching cond ("p.<column> = <id>"). */
static int
inv_keys_of_projects(struct store *st, struct inval *iv, const char *column,
    int64_t id, bool projects)
{
	struct db_sql q;
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, "SELECT k.id, k.public_key, p.id FROM sentry_project p "
	    "LEFT JOIN sentry_projectkey k ON k.project_id = p.id WHERE p.");
	db_sql_raw(&q, column);
	db_sql_raw(&q, " = ");
	db_sql_int(&q, id);
	rc = inv_keys_query(st, iv, &q, projects);
	db_sql_free(&q);
	return rc;
}

/* What the cache itself says about keys: rows deleted behind our back. */
static void
inv_cached_keylists(struct store *st, struct inval *iv, const int64_t *pids,
    size_t n)
{
	enum read_mode saved = st->mode;
	struct store_keylist *lists;

	if (n == 0 || (lists = calloc(n, sizeof(*lists))) == NULL)
		return;
	st->mode = READ_CACHE_ONLY;
	(void)store_projectkeys_by_project_ids(st, pids, n, lists);
	st->mode = saved;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < lists[i].n; j++)
			inv_key(st, iv, lists[i].keys[j]->id,
			    lists[i].keys[j]->public_key,
			    lists[i].keys[j]->project_id);
	free(lists);
}

/*
 * The scope resolvers: collect the keys of everything at and below the
 * scope, from the cache (what it holds, even of deleted rows) and from
 * MariaDB.  A STORE_* code; what was collected is valid either way.
 */
static int
invalidate_key(struct store *st, struct inval *iv, const char *pub)
{
	enum read_mode saved = st->mode;
	const struct model_projectkey *cached = NULL;
	struct db_sql q;
	int rc;

	inv_key(st, iv, 0, pub, 0);
	st->mode = READ_CACHE_ONLY;
	(void)store_projectkeys_by_public_keys(st, &pub, 1, &cached);
	st->mode = saved;
	if (cached != NULL)
		inv_key(st, iv, cached->id, cached->public_key,
		    cached->project_id);
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT id, public_key, project_id FROM "
	    "sentry_projectkey WHERE public_key = ");
	db_sql_token(&q, pub);
	rc = inv_keys_query(st, iv, &q, false);
	db_sql_free(&q);
	return rc;
}

static int
invalidate_project(struct store *st, struct inval *iv, int64_t id)
{
	struct db_sql q;
	int rc;

	inv_project(st, iv, id);
	inv_cached_keylists(st, iv, &id, 1);
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT id, public_key, project_id FROM "
	    "sentry_projectkey WHERE project_id = ");
	db_sql_int(&q, id);
	rc = inv_keys_query(st, iv, &q, false);
	db_sql_free(&q);
	return rc;
}

/* Ids from a one-column query, into a new array (caller frees). */
static int
query_ids(struct store *st, const struct db_sql *q, int64_t **ids, size_t *n)
{
	struct db_res *r = NULL;
	int rc;

	*ids = NULL;
	*n = 0;
	if ((rc = sql_query(st, st->primary, q, &r)) != STORE_OK)
		return rc;
	if ((*ids = malloc((db_res_rows(r) + 1) * sizeof(**ids))) == NULL) {
		db_res_free(r);
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	while (db_res_next(r))
		if (db_res_int(r, 0, &(*ids)[*n]))
			(*n)++;
	db_res_free(r);
	return STORE_OK;
}

static int
invalidate_org(struct store *st, struct inval *iv, int64_t id)
{
	struct db_sql q;
	int64_t *v = NULL;
	size_t n = 0;
	int rc;

	inv_id(st, iv, "o", id);
	inv_id(st, iv, "oo", id);
	if ((rc = inv_keys_of_projects(st, iv, "organization_id", id,
	    true)) != STORE_OK)
		return rc;
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT id FROM sentry_project WHERE organization_id = ");
	db_sql_int(&q, id);
	db_sql_raw(&q, " UNION ALL SELECT -id FROM sentry_projecttemplate "
	    "WHERE organization_id = ");
	db_sql_int(&q, id);
	/* Projects come back positive, templates negative: one query. */
	if ((rc = query_ids(st, &q, &v, &n)) == STORE_OK) {
		size_t np = 0;

		for (size_t i = 0; i < n; i++) {
			if (v[i] < 0)
				inv_id(st, iv, "to", -v[i]);
			else
				v[np++] = v[i];
		}
		inv_cached_keylists(st, iv, v, np);
	}
	free(v);
	db_sql_free(&q);
	return rc;
}

static int
invalidate_relay(struct store *st, struct inval *iv, const char *relay_id)
{
	enum read_mode saved = st->mode;
	const struct model_relay *cached = NULL;
	struct db_sql q;
	int64_t *v = NULL;
	size_t n = 0;
	int rc;

	inv_str(st, iv, "rr", relay_id);
	st->mode = READ_CACHE_ONLY;
	(void)store_relays_by_relay_ids(st, &relay_id, 1, &cached);
	st->mode = saved;
	if (cached != NULL)
		inv_id(st, iv, "r", cached->id);
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT id FROM sentry_relay WHERE relay_id = ");
	db_sql_token(&q, relay_id);
	if ((rc = query_ids(st, &q, &v, &n)) == STORE_OK)
		for (size_t i = 0; i < n; i++)
			inv_id(st, iv, "r", v[i]);
	free(v);
	db_sql_free(&q);
	return rc;
}

int
store_invalidate(struct store *st, enum store_scope scope, int64_t id,
    const char *public_key)
{
	struct inval iv = { 0 };
	int rc = STORE_OK;

	st->cache_stale = false;
	st->err[0] = '\0';
	switch (scope) {
	case STORE_SCOPE_KEY:
		if (public_key == NULL)
			goto invalid;
		rc = invalidate_key(st, &iv, public_key);
		break;
	case STORE_SCOPE_PROJECT:
		if (id <= 0)
			goto invalid;
		rc = invalidate_project(st, &iv, id);
		break;
	case STORE_SCOPE_ORG:
		if (id <= 0)
			goto invalid;
		rc = invalidate_org(st, &iv, id);
		break;
	case STORE_SCOPE_RELAY:
		if (public_key == NULL)
			goto invalid;
		rc = invalidate_relay(st, &iv, public_key);
		break;
	case STORE_SCOPE_ALL:
		lc_forget_all(st);
		if (cache_bump_generation(st->cache) != 0)
			st->cache_stale = true;
		return STORE_OK;
	default:
		goto invalid;
	}
	/* Whatever was resolved is dropped, even when MariaDB failed. */
	inv_flush(st, &iv);
	return rc;
invalid:
	store_seterr(st, "bad invalidation scope");
	return STORE_INVALID;
}

/* --- writes ---------------------------------------------------------- */

/* Start a write: forget the last write's errors. */
static int
tx_begin(struct store *st)
{
	st->cache_stale = false;
	st->err[0] = '\0';
	return store_rc_from_db(st, st->primary, db_begin(st->primary));
}

/*
 * Commit when rc is STORE_OK, roll back otherwise.  The invalidations run
 * after a commit, and also after a failed COMMIT (it may have landed); a
 * rolled back write leaves the cache alone.
 */
static int
tx_finish(struct store *st, int rc, struct inval *iv)
{
	if (rc == STORE_OK) {
		rc = store_rc_from_db(st, st->primary, db_commit(st->primary));
		if (rc == STORE_OK || rc == STORE_UNAVAILABLE) {
			inv_flush(st, iv);
			return rc;
		}
	}
	db_rollback(st->primary);
	inv_free(iv);
	return rc;
}

/*
 * SELECT <cols> FROM <table> WHERE <col> = <value> FOR UPDATE, one row
 * expected: STORE_NOT_FOUND (with "no such <what>") when there is none.
 */
static int
lock_row(struct store *st, const char *cols, const char *table,
    const char *col, int64_t id, const char *str, const char *what,
    struct db_res **res)
{
	struct db_sql q;
	int rc;

	*res = NULL;
	db_sql_init(&q);
	db_sql_raw(&q, "SELECT ");
	db_sql_raw(&q, cols);
	db_sql_raw(&q, " FROM ");
	db_sql_raw(&q, table);
	db_sql_raw(&q, " WHERE ");
	db_sql_raw(&q, col);
	db_sql_raw(&q, " = ");
	if (str != NULL)
		db_sql_token(&q, str);
	else
		db_sql_int(&q, id);
	db_sql_raw(&q, " FOR UPDATE");
	rc = sql_query(st, st->primary, &q, res);
	db_sql_free(&q);
	if (rc == STORE_OK && !db_res_next(*res)) {
		db_res_free(*res);
		*res = NULL;
		store_seterr(st, "no such %s", what);
		rc = STORE_NOT_FOUND;
	}
	return rc;
}

/*
 * lock_row, then read its first one or two columns as integers into *a
 * and *b (b may be NULL).  STORE_ERROR when one is not an integer.
 */
static int
lock_ids(struct store *st, const char *cols, const char *table,
    const char *col, int64_t id, const char *str, const char *what,
    int64_t *a, int64_t *b)
{
	struct db_res *r = NULL;
	int rc;

	if ((rc = lock_row(st, cols, table, col, id, str, what, &r)) ==
	    STORE_OK && (!db_res_int(r, 0, a) ||
	    (b != NULL && !db_res_int(r, 1, b)))) {
		store_seterr(st, "%s: unreadable row", table);
		rc = STORE_ERROR;
	}
	db_res_free(r);
	return rc;
}

/* The row id exists in table; locked until the transaction ends. */
static int
exists_locked(struct store *st, const char *table, int64_t id,
    const char *what)
{
	int64_t got;

	return lock_ids(st, "id", table, "id", id, NULL, what, &got, NULL);
}

/* Run a statement built as prefix + id (DELETE ... WHERE x = id). */
static int
exec_id(struct store *st, const char *prefix, int64_t id, const char *suffix)
{
	struct db_sql q;
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, prefix);
	db_sql_int(&q, id);
	if (suffix != NULL)
		db_sql_raw(&q, suffix);
	rc = sql_exec(st, &q, NULL, NULL);
	db_sql_free(&q);
	return rc;
}

/* ObjectStatus values 0-3. */
static bool
valid_status(int status)
{
	return status >= 0 && status <= 3;
}

/* Sentry platform names: "javascript-react", "python"... */
static bool
valid_platform(const char *s)
{
	return valid_charset(s, "_.-", 64, false);
}

/* Organizations. */

int
store_org_create(struct store *st, const char *slug, const char *name,
    int64_t *id)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int rc;

	if (name == NULL)
		name = slug;
	if (!store_valid_slug(slug, 50) || !valid_text(name, 64)) {
		store_seterr(st, "an organization slug is 1-50 of [a-z0-9_-] "
		    "(not only digits), a name 1-64 characters");
		return STORE_INVALID;
	}
	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO sentry_organization (name, slug, status) "
	    "VALUES (");
	db_sql_str(&q, name);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, slug);
	db_sql_raw(&q, ", 0)");
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = sql_exec(st, &q, NULL, id)) == STORE_OK) {
		inv_id(st, &iv, "o", *id);
		inv_id(st, &iv, "oo", *id);
	}
	if (rc == STORE_CONFLICT)
		store_seterr(st, "the organization slug is taken");
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}

int
store_org_update(struct store *st, int64_t id, const struct store_org_patch *p)
{
	struct inval iv = { 0 };
	struct db_sql q;
	const char *sep = " ";
	int rc;

	if ((p->slug != NULL && !store_valid_slug(p->slug, 50)) ||
	    (p->name != NULL && !valid_text(p->name, 64)) ||
	    (p->status != -1 && !valid_status(p->status))) {
		store_seterr(st, "bad slug, name or status");
		return STORE_INVALID;
	}
	if (p->slug == NULL && p->name == NULL && p->status == -1) {
		store_seterr(st, "nothing to change");
		return STORE_INVALID;
	}
	db_sql_init(&q);
	db_sql_raw(&q, "UPDATE sentry_organization SET");
	if (p->slug != NULL) {
		db_sql_raw(&q, " slug = ");
		db_sql_str(&q, p->slug);
		sep = ", ";
	}
	if (p->name != NULL) {
		db_sql_raw(&q, sep);
		db_sql_raw(&q, "name = ");
		db_sql_str(&q, p->name);
		sep = ", ";
	}
	if (p->status != -1) {
		db_sql_raw(&q, sep);
		db_sql_raw(&q, "status = ");
		db_sql_int(&q, p->status);
	}
	db_sql_raw(&q, " WHERE id = ");
	db_sql_int(&q, id);
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_organization", id,
	    "organization")) == STORE_OK &&
	    (rc = sql_exec(st, &q, NULL, NULL)) == STORE_OK) {
		/* Every config of the organization carries its state. */
		inv_id(st, &iv, "o", id);
		rc = inv_keys_of_projects(st, &iv, "organization_id", id, false);
	}
	if (rc == STORE_CONFLICT)
		store_seterr(st, "the organization slug is taken");
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}

int
store_org_delete(struct store *st, int64_t id)
{
	static const char *const steps[][2] = {
		{ "DELETE FROM sentry_projectoptions WHERE project_id IN "
		  "(SELECT id FROM sentry_project WHERE organization_id = ", ")" },
		{ "DELETE FROM sentry_projectkey WHERE project_id IN "
		  "(SELECT id FROM sentry_project WHERE organization_id = ", ")" },
		{ "DELETE FROM sentry_project WHERE organization_id = ", NULL },
		{ "DELETE FROM sentry_projecttemplateoption WHERE "
		  "project_template_id IN (SELECT id FROM sentry_projecttemplate "
		  "WHERE organization_id = ", ")" },
		{ "DELETE FROM sentry_projecttemplate WHERE organization_id = ",
		  NULL },
		{ "DELETE FROM sentry_organizationoptions WHERE "
		  "organization_id = ", NULL },
		{ "DELETE FROM sentry_organization WHERE id = ", NULL },
	};
	struct inval iv = { 0 };
	int rc;

	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_organization", id,
	    "organization")) == STORE_OK)
		/* Resolve before deleting: afterwards nothing names them. */
		rc = invalidate_org(st, &iv, id);
	for (size_t i = 0; rc == STORE_OK && i < sizeof(steps) / sizeof(steps[0]); i++)
		rc = exec_id(st, steps[i][0], id, steps[i][1]);
	return tx_finish(st, rc, &iv);
}

/* Projects and templates. */

/* The template must exist and belong to the organization. */
static int
check_template(struct store *st, int64_t template_id, int64_t org_id)
{
	int64_t owner = 0;
	int rc;

	rc = lock_ids(st, "organization_id", "sentry_projecttemplate", "id",
	    template_id, NULL, "template", &owner, NULL);
	if (rc == STORE_OK && owner != org_id) {
		store_seterr(st, "the template belongs to another organization");
		rc = STORE_INVALID;
	}
	return rc;
}

int
store_project_create(struct store *st, int64_t org_id, const char *slug,
    const char *name, const char *platform, int64_t template_id, int64_t *id)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int rc;

	if (name == NULL)
		name = slug;
	if (!store_valid_slug(slug, 100) || !valid_text(name, 200) ||
	    (platform != NULL && !valid_platform(platform)) || template_id < 0) {
		store_seterr(st, "a project slug is 1-100 of [a-z0-9_-] (not "
		    "only digits), a name 1-200 characters, a platform 1-64 of "
		    "[a-z0-9_.-]");
		return STORE_INVALID;
	}
	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO sentry_project (slug, name, "
	    "organization_id, status, template_id, platform) VALUES (");
	db_sql_str(&q, slug);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, name);
	db_sql_raw(&q, ", ");
	db_sql_int(&q, org_id);
	db_sql_raw(&q, ", 0, ");
	if (template_id != 0)
		db_sql_int(&q, template_id);
	else
		db_sql_raw(&q, "NULL");
	db_sql_raw(&q, ", ");
	db_sql_str(&q, platform);
	db_sql_raw(&q, ")");
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_organization", org_id,
	    "organization")) == STORE_OK &&
	    (template_id == 0 ||
	    (rc = check_template(st, template_id, org_id)) == STORE_OK) &&
	    (rc = sql_exec(st, &q, NULL, id)) == STORE_OK)
		inv_project(st, &iv, *id);
	if (rc == STORE_CONFLICT)
		store_seterr(st, "the project slug is taken in this "
		    "organization");
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}

int
store_project_update(struct store *st, int64_t id,
    const struct store_project_patch *p)
{
	struct inval iv = { 0 };
	struct db_sql q;
	const char *sep = " ";
	int64_t org = 0;
	int rc;

	if ((p->slug != NULL && !store_valid_slug(p->slug, 100)) ||
	    (p->name != NULL && !valid_text(p->name, 200)) ||
	    (p->status != -1 && !valid_status(p->status)) ||
	    (p->set_platform && p->platform != NULL &&
	    !valid_platform(p->platform)) ||
	    (p->set_template && p->template_id < 0)) {
		store_seterr(st, "bad slug, name, status, platform or template");
		return STORE_INVALID;
	}
	if (p->slug == NULL && p->name == NULL && p->status == -1 &&
	    !p->set_platform && !p->set_template) {
		store_seterr(st, "nothing to change");
		return STORE_INVALID;
	}
	db_sql_init(&q);
	db_sql_raw(&q, "UPDATE sentry_project SET");
	if (p->slug != NULL) {
		db_sql_raw(&q, " slug = ");
		db_sql_str(&q, p->slug);
		sep = ", ";
	}
	if (p->name != NULL) {
		db_sql_raw(&q, sep);
		db_sql_raw(&q, "name = ");
		db_sql_str(&q, p->name);
		sep = ", ";
	}
	if (p->status != -1) {
		db_sql_raw(&q, sep);
		db_sql_raw(&q, "status = ");
		db_sql_int(&q, p->status);
		sep = ", ";
	}
	if (p->set_platform) {
		db_sql_raw(&q, sep);
		db_sql_raw(&q, "platform = ");
		db_sql_str(&q, p->platform);
		sep = ", ";
	}
	if (p->set_template) {
		db_sql_raw(&q, sep);
		db_sql_raw(&q, "template_id = ");
		if (p->template_id != 0)
			db_sql_int(&q, p->template_id);
		else
			db_sql_raw(&q, "NULL");
	}
	db_sql_raw(&q, " WHERE id = ");
	db_sql_int(&q, id);
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = lock_ids(st, "organization_id", "sentry_project", "id", id,
	    NULL, "project", &org, NULL)) == STORE_OK &&
	    (!p->set_template || p->template_id == 0 ||
	    (rc = check_template(st, p->template_id, org)) == STORE_OK) &&
	    (rc = sql_exec(st, &q, NULL, NULL)) == STORE_OK)
		rc = invalidate_project(st, &iv, id);
	if (rc == STORE_CONFLICT)
		store_seterr(st, "the project slug is taken in this "
		    "organization");
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}

int
store_project_delete(struct store *st, int64_t id)
{
	struct inval iv = { 0 };
	int rc;

	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_project", id, "project")) ==
	    STORE_OK &&
	    (rc = invalidate_project(st, &iv, id)) == STORE_OK &&
	    (rc = exec_id(st, "DELETE FROM sentry_projectoptions WHERE "
	    "project_id = ", id, NULL)) == STORE_OK &&
	    (rc = exec_id(st, "DELETE FROM sentry_projectkey WHERE "
	    "project_id = ", id, NULL)) == STORE_OK)
		rc = exec_id(st, "DELETE FROM sentry_project WHERE id = ", id,
		    NULL);
	return tx_finish(st, rc, &iv);
}

int
store_template_create(struct store *st, int64_t org_id, const char *name,
    int64_t *id)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int rc;

	if (name == NULL || !valid_text(name, 200)) {
		store_seterr(st, "a template name is 1-200 characters");
		return STORE_INVALID;
	}
	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO sentry_projecttemplate (name, "
	    "organization_id) VALUES (");
	db_sql_str(&q, name);
	db_sql_raw(&q, ", ");
	db_sql_int(&q, org_id);
	db_sql_raw(&q, ")");
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_organization", org_id,
	    "organization")) == STORE_OK &&
	    (rc = sql_exec(st, &q, NULL, id)) == STORE_OK)
		inv_id(st, &iv, "to", *id);
	if (rc == STORE_CONFLICT)
		store_seterr(st, "the template name is taken in this "
		    "organization");
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}

int
store_template_delete(struct store *st, int64_t id)
{
	struct inval iv = { 0 };
	int rc;

	/* Its projects lose their fallback: their rows and configs change. */
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_projecttemplate", id,
	    "template")) == STORE_OK &&
	    (rc = inv_keys_of_projects(st, &iv, "template_id", id, true)) ==
	    STORE_OK &&
	    (rc = exec_id(st, "DELETE FROM sentry_projecttemplateoption WHERE "
	    "project_template_id = ", id, NULL)) == STORE_OK &&
	    (rc = exec_id(st, "UPDATE sentry_project SET template_id = NULL "
	    "WHERE template_id = ", id, NULL)) == STORE_OK &&
	    (rc = exec_id(st, "DELETE FROM sentry_projecttemplate WHERE id = ",
	    id, NULL)) == STORE_OK)
		inv_id(st, &iv, "to", id);
	return tx_finish(st, rc, &iv);
}

/* Project keys. */

/* Labels, statuses and rate limits a key may take. */
static bool
valid_key_patch(const struct store_key_patch *p)
{
	if (p == NULL)
		return true;
	if (p->set_label && p->label != NULL && !valid_text(p->label, 64))
		return false;
	if (p->status != -1 && p->status != 0 && p->status != 1)
		return false;
	if (p->set_rate_limit && p->has_rate_limit &&
	    (p->rate_limit_count < 0 || p->rate_limit_count > UINT32_MAX ||
	    p->rate_limit_window <= 0 || p->rate_limit_window > UINT32_MAX))
		return false;
	return true;
}

/* 16 random bytes as 32 lowercase hex (Sentry: uuid4().hex). */
static void
random_hex32(char out[MODEL_KEY_HEX_LEN + 1])
{
	unsigned char r[MODEL_KEY_HEX_LEN / 2];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(out, MODEL_KEY_HEX_LEN + 1, r, sizeof(r));
}

int
store_key_create(struct store *st, int64_t project_id, const char *label,
    const struct store_key_patch *limits, struct model_projectkey *out)
{
	struct inval iv = { 0 };
	struct db_sql q;
	bool rl = limits != NULL && limits->set_rate_limit &&
	    limits->has_rate_limit;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((label != NULL && !valid_text(label, 64)) || !valid_key_patch(limits)) {
		store_seterr(st, "a label is 1-64 characters; a rate limit is "
		    "COUNT >= 0 per WINDOW > 0 seconds");
		return STORE_INVALID;
	}
	random_hex32(out->public_key);
	random_hex32(out->secret_key);
	out->project_id = project_id;
	out->roles = 1;
	out->has_rate_limit = rl;
	if (rl) {
		out->rate_limit_count = limits->rate_limit_count;
		out->rate_limit_window = limits->rate_limit_window;
	}
	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO sentry_projectkey (project_id, label, "
	    "public_key, secret_key, roles, status, rate_limit_count, "
	    "rate_limit_window) VALUES (");
	db_sql_int(&q, project_id);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, label);
	db_sql_raw(&q, ", ");
	db_sql_token(&q, out->public_key);
	db_sql_raw(&q, ", ");
	db_sql_token(&q, out->secret_key);
	db_sql_raw(&q, ", 1, 0, ");
	if (rl) {
		db_sql_int(&q, out->rate_limit_count);
		db_sql_raw(&q, ", ");
		db_sql_int(&q, out->rate_limit_window);
	} else
		db_sql_raw(&q, "NULL, NULL");
	db_sql_raw(&q, ")");
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = exists_locked(st, "sentry_project", project_id,
	    "project")) == STORE_OK &&
	    (rc = sql_exec(st, &q, NULL, &out->id)) == STORE_OK)
		/* A negative pointer may be cached for the new key. */
		inv_key(st, &iv, out->id, out->public_key, project_id);
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}

int
store_key_update(struct store *st, const char *public_key,
    const struct store_key_patch *p)
{
	struct inval iv = { 0 };
	struct db_sql q;
	const char *sep = " ";
	int64_t id = 0, pid = 0;
	int rc;

	if (!valid_key_patch(p)) {
		store_seterr(st, "a label is 1-64 characters, a status 0 or 1, "
		    "a rate limit COUNT >= 0 per WINDOW > 0 seconds");
		return STORE_INVALID;
	}
	if (!p->set_label && p->status == -1 && !p->set_rate_limit) {
		store_seterr(st, "nothing to change");
		return STORE_INVALID;
	}
	db_sql_init(&q);
	db_sql_raw(&q, "UPDATE sentry_projectkey SET");
	if (p->set_label) {
		db_sql_raw(&q, " label = ");
		db_sql_str(&q, p->label);
		sep = ", ";
	}
	if (p->status != -1) {
		db_sql_raw(&q, sep);
		db_sql_raw(&q, "status = ");
		db_sql_int(&q, p->status);
		sep = ", ";
	}
	if (p->set_rate_limit) {
		db_sql_raw(&q, sep);
		if (p->has_rate_limit) {
			db_sql_raw(&q, "rate_limit_count = ");
			db_sql_int(&q, p->rate_limit_count);
			db_sql_raw(&q, ", rate_limit_window = ");
			db_sql_int(&q, p->rate_limit_window);
		} else
			db_sql_raw(&q, "rate_limit_count = NULL, "
			    "rate_limit_window = NULL");
	}
	db_sql_raw(&q, " WHERE public_key = ");
	db_sql_token(&q, public_key);
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = lock_ids(st, "id, project_id", "sentry_projectkey",
	    "public_key", 0, public_key, "key", &id, &pid)) == STORE_OK &&
	    (rc = sql_exec(st, &q, NULL, NULL)) == STORE_OK)
		inv_key(st, &iv, id, public_key, pid);
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}

int
store_key_delete(struct store *st, const char *public_key)
{
	struct inval iv = { 0 };
	int64_t id = 0, pid = 0;
	int rc;

	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = lock_ids(st, "id, project_id", "sentry_projectkey",
	    "public_key", 0, public_key, "key", &id, &pid)) == STORE_OK &&
	    (rc = exec_id(st, "DELETE FROM sentry_projectkey WHERE id = ", id,
	    NULL)) == STORE_OK)
		inv_key(st, &iv, id, public_key, pid);
	return tx_finish(st, rc, &iv);
}

/* Options. */

int
store_option_set(struct store *st, enum store_owner owner, int64_t owner_id,
    const char *key, const char *json)
{
	static const struct {
		const struct dict_desc	*d;
		const char		*owner_table;
		const char		*what;
	} owners[] = {
		[STORE_OWNER_PROJECT] = { &po_desc, "sentry_project", "project" },
		[STORE_OWNER_ORG] = { &oo_desc, "sentry_organization",
		    "organization" },
		[STORE_OWNER_TEMPLATE] = { &to_desc, "sentry_projecttemplate",
		    "template" },
	};
	struct inval iv = { 0 };
	struct db_sql q;
	struct db_res *r = NULL;
	json_object *val = NULL;
	const char *text = NULL, *d_owner;
	bool exists = false;
	int rc;

	if ((unsigned)owner > STORE_OWNER_TEMPLATE || key == NULL ||
	    !store_valid_option_key(key)) {
		store_seterr(st, "an option key is 1-64 of [A-Za-z0-9_.:-]");
		return STORE_INVALID;
	}
	if (json != NULL) {
		json_tokener *tok = json_tokener_new();
		size_t len = strlen(json);

		if (tok == NULL) {
			store_seterr(st, "out of memory");
			return STORE_ERROR;
		}
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
		    JSON_TOKENER_VALIDATE_UTF8);
		if (len < INT32_MAX)
			val = json_tokener_parse_ex(tok, json, (int)len + 1);
		if (len >= INT32_MAX ||
		    json_tokener_get_error(tok) != json_tokener_success) {
			json_tokener_free(tok);
			json_object_put(val);
			store_seterr(st, "the value is not JSON");
			return STORE_INVALID;
		}
		json_tokener_free(tok);
		text = val != NULL ? json_object_to_json_string_ext(val,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) :
		    "null";
	}
	d_owner = owners[owner].d->owner_col;
	db_sql_init(&q);
	if ((rc = tx_begin(st)) != STORE_OK)
		goto out;
	/* Locking the owner serialises writers of its options. */
	if ((rc = exists_locked(st, owners[owner].owner_table, owner_id,
	    owners[owner].what)) != STORE_OK)
		goto out;
	db_sql_raw(&q, "SELECT value FROM ");
	db_sql_raw(&q, owners[owner].d->table);
	db_sql_raw(&q, " WHERE ");
	db_sql_raw(&q, d_owner);
	db_sql_raw(&q, " = ");
	db_sql_int(&q, owner_id);
	db_sql_raw(&q, " AND `key` = ");
	db_sql_str(&q, key);
	db_sql_raw(&q, " FOR UPDATE");
	if ((rc = sql_query(st, st->primary, &q, &r)) != STORE_OK)
		goto out;
	exists = db_res_next(r);
	if (json == NULL && !exists) {
		store_seterr(st, "the option is not set");
		rc = STORE_NOT_FOUND;
		goto out;
	}
	/* Unchanged: nothing to write, nothing to invalidate. */
	if (json != NULL && exists && db_res_str(r, 0) != NULL &&
	    strcmp(db_res_str(r, 0), text) == 0)
		goto out;
	db_sql_reset(&q);
	if (json == NULL) {
		db_sql_raw(&q, "DELETE FROM ");
		db_sql_raw(&q, owners[owner].d->table);
	} else if (exists) {
		db_sql_raw(&q, "UPDATE ");
		db_sql_raw(&q, owners[owner].d->table);
		db_sql_raw(&q, " SET value = ");
		db_sql_str(&q, text);
	} else {
		db_sql_raw(&q, "INSERT INTO ");
		db_sql_raw(&q, owners[owner].d->table);
		db_sql_raw(&q, " (");
		db_sql_raw(&q, d_owner);
		db_sql_raw(&q, ", `key`, value) VALUES (");
		db_sql_int(&q, owner_id);
		db_sql_raw(&q, ", ");
		db_sql_str(&q, key);
		db_sql_raw(&q, ", ");
		db_sql_str(&q, text);
		db_sql_raw(&q, ")");
	}
	if (json == NULL || exists) {
		db_sql_raw(&q, " WHERE ");
		db_sql_raw(&q, d_owner);
		db_sql_raw(&q, " = ");
		db_sql_int(&q, owner_id);
		db_sql_raw(&q, " AND `key` = ");
		db_sql_str(&q, key);
	}
	if ((rc = sql_exec(st, &q, NULL, NULL)) != STORE_OK)
		goto out;
	inv_id(st, &iv, owners[owner].d->kind, owner_id);
	switch (owner) {
	case STORE_OWNER_PROJECT:
		rc = inv_keys_of_projects(st, &iv, "id", owner_id, false);
		break;
	case STORE_OWNER_ORG:
		rc = inv_keys_of_projects(st, &iv, "organization_id", owner_id,
		    false);
		break;
	case STORE_OWNER_TEMPLATE:
		rc = inv_keys_of_projects(st, &iv, "template_id", owner_id,
		    false);
		break;
	}
out:
	db_res_free(r);
	db_sql_free(&q);
	json_object_put(val);
	return tx_finish(st, rc, &iv);
}

/* Relays. */

int
store_relay_create(struct store *st, const char *relay_id,
    const char *public_key, bool is_internal, int64_t *id)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int rc;

	if (!store_valid_uuid(relay_id) || !valid_relay_pk(public_key)) {
		store_seterr(st, "a relay id is a lowercase UUID, a public key "
		    "1-200 base64 characters");
		return STORE_INVALID;
	}
	db_sql_init(&q);
	db_sql_raw(&q, "INSERT INTO sentry_relay (relay_id, public_key, "
	    "is_internal) VALUES (");
	db_sql_token(&q, relay_id);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, public_key);
	db_sql_raw(&q, is_internal ? ", 1)" : ", 0)");
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = sql_exec(st, &q, NULL, id)) == STORE_OK) {
		inv_id(st, &iv, "r", *id);
		inv_str(st, &iv, "rr", relay_id);
	}
	if (rc == STORE_CONFLICT)
		store_seterr(st, "the relay exists");
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}

int
store_relay_update(struct store *st, const char *relay_id,
    const struct store_relay_patch *p)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int64_t id = 0;
	int rc;

	if ((p->public_key != NULL && !valid_relay_pk(p->public_key)) ||
	    p->is_internal < -1 || p->is_internal > 1) {
		store_seterr(st, "a public key is 1-200 base64 characters");
		return STORE_INVALID;
	}
	if (p->public_key == NULL && p->is_internal == -1) {
		store_seterr(st, "nothing to change");
		return STORE_INVALID;
	}
	db_sql_init(&q);
	db_sql_raw(&q, "UPDATE sentry_relay SET ");
	if (p->public_key != NULL) {
		db_sql_raw(&q, "public_key = ");
		db_sql_str(&q, p->public_key);
	}
	if (p->is_internal != -1) {
		db_sql_raw(&q, p->public_key != NULL ? ", " : "");
		db_sql_raw(&q, p->is_internal ? "is_internal = 1" :
		    "is_internal = 0");
	}
	db_sql_raw(&q, " WHERE relay_id = ");
	db_sql_token(&q, relay_id);
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = lock_ids(st, "id", "sentry_relay", "relay_id", 0, relay_id,
	    "relay", &id, NULL)) == STORE_OK &&
	    (rc = sql_exec(st, &q, NULL, NULL)) == STORE_OK) {
		inv_id(st, &iv, "r", id);
		inv_str(st, &iv, "rr", relay_id);
	}
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}

int
store_relay_delete(struct store *st, const char *relay_id)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int64_t id = 0;
	int rc;

	db_sql_init(&q);
	db_sql_raw(&q, "DELETE FROM sentry_relayusage WHERE relay_id = ");
	db_sql_token(&q, relay_id);
	if ((rc = tx_begin(st)) == STORE_OK &&
	    (rc = lock_ids(st, "id", "sentry_relay", "relay_id", 0, relay_id,
	    "relay", &id, NULL)) == STORE_OK &&
	    (rc = sql_exec(st, &q, NULL, NULL)) == STORE_OK &&
	    (rc = exec_id(st, "DELETE FROM sentry_relay WHERE id = ", id,
	    NULL)) == STORE_OK) {
		inv_id(st, &iv, "r", id);
		inv_str(st, &iv, "rr", relay_id);
	}
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}

int
store_relay_register(struct store *st, const char *relay_id,
    const char *public_key, bool is_internal, const char *version)
{
	struct inval iv = { 0 };
	struct db_sql q;
	int64_t id = 0;
	int rc;

	if (version == NULL)
		version = "0.0.1";
	if (!store_valid_uuid(relay_id) || !valid_relay_pk(public_key) ||
	    strlen(version) > VERSION_MAX || !valid_text(version, VERSION_MAX)) {
		store_seterr(st, "bad relay id, public key or version");
		return STORE_INVALID;
	}
	db_sql_init(&q);
	/* LAST_INSERT_ID(id): the row's id whether created or updated. */
	db_sql_raw(&q, "INSERT INTO sentry_relay (relay_id, public_key, "
	    "is_internal) VALUES (");
	db_sql_token(&q, relay_id);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, public_key);
	db_sql_raw(&q, is_internal ? ", 1)" : ", 0)");
	db_sql_raw(&q, " ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id), "
	    "is_internal = VALUES(is_internal)");
	if ((rc = tx_begin(st)) != STORE_OK ||
	    (rc = sql_exec(st, &q, NULL, &id)) != STORE_OK)
		goto out;
	db_sql_reset(&q);
	db_sql_raw(&q, "INSERT INTO sentry_relayusage (relay_id, version, "
	    "first_seen, last_seen, public_key) VALUES (");
	db_sql_token(&q, relay_id);
	db_sql_raw(&q, ", ");
	db_sql_str(&q, version);
	db_sql_raw(&q, ", UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), ");
	db_sql_str(&q, public_key);
	db_sql_raw(&q, ") ON DUPLICATE KEY UPDATE last_seen = "
	    "VALUES(last_seen), public_key = VALUES(public_key)");
	if ((rc = sql_exec(st, &q, NULL, NULL)) != STORE_OK)
		goto out;
	inv_id(st, &iv, "r", id);
	inv_str(st, &iv, "rr", relay_id);
out:
	db_sql_free(&q);
	return tx_finish(st, rc, &iv);
}
