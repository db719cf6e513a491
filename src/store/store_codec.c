/*
 * store_codec.c - row <-> struct <-> JSON for the four models, driven by
 * one table per model (its columns, their types and struct offsets, its
 * cache kinds and TTL), and the parsers of cached and stored payloads.
 *
 * A row is one allocation: the struct, then the strings it points to, so
 * free() releases all.  What memcached holds is untrusted input: an entry
 * that is not exactly the model's array is a miss, never a crash.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "jsonstrict.h"
#include "model.h"
#include "store_int.h"
#include "valid.h"

/* The most columns a model has. */
#define CODEC_COLS_MAX	12

#define FIELD(t, type, member) \
	{ (type), offsetof(t, member), 0, 0, 0 }
#define CHARS(t, type, member) \
	{ (type), offsetof(t, member), sizeof(((t *)0)->member) - 1, 0, 0 }

static const struct codec_field org_fields[] = {
	FIELD(struct model_org, CODEC_I64, id),
	FIELD(struct model_org, CODEC_STR, slug),
	FIELD(struct model_org, CODEC_STR, name),
	FIELD(struct model_org, CODEC_INT, status),
	FIELD(struct model_org, CODEC_I64_OR0, date_added),
};

static const struct codec_field project_fields[] = {
	FIELD(struct model_project, CODEC_I64, id),
	FIELD(struct model_project, CODEC_I64, organization_id),
	FIELD(struct model_project, CODEC_STR_NULL, slug),
	FIELD(struct model_project, CODEC_STR, name),
	FIELD(struct model_project, CODEC_INT, status),
	FIELD(struct model_project, CODEC_I64_OR0, template_id),
	FIELD(struct model_project, CODEC_STR_NULL, platform),
	FIELD(struct model_project, CODEC_I64_OR0, date_added),
};

/* NULL or odd keys can be stored by other writers: such a row can never
 * be asked for by key, so it is served with "" instead (CODEC_CHARS_LAX). */
static const struct codec_field key_fields[] = {
	FIELD(struct model_projectkey, CODEC_I64, id),
	FIELD(struct model_projectkey, CODEC_I64, project_id),
	CHARS(struct model_projectkey, CODEC_CHARS_LAX, public_key),
	CHARS(struct model_projectkey, CODEC_CHARS_LAX, secret_key),
	FIELD(struct model_projectkey, CODEC_INT, status),
	FIELD(struct model_projectkey, CODEC_I64, roles),
	{ CODEC_LIMIT, offsetof(struct model_projectkey, rate_limit_count), 0,
	  offsetof(struct model_projectkey, rate_limit_window),
	  offsetof(struct model_projectkey, has_rate_limit) },
	FIELD(struct model_projectkey, CODEC_STR_NULL, label),
};

static const struct codec_field relay_fields[] = {
	FIELD(struct model_relay, CODEC_I64, id),
	CHARS(struct model_relay, CODEC_CHARS, relay_id),
	CHARS(struct model_relay, CODEC_CHARS, public_key),
	FIELD(struct model_relay, CODEC_BOOL, is_internal),
};

#define NFIELDS(f)	(sizeof(f) / sizeof((f)[0]))

/*
 * date_added (DATETIME(6), written in the session's time zone) as whole
 * unix seconds in that same zone; dynamic sampling's is_recently_added
 * reads it.  NULL or a date UNIX_TIMESTAMP cannot express reads as 0.
 */
#define DATE_ADDED_COLUMN	"FLOOR(UNIX_TIMESTAMP(date_added))"

const struct codec_model codec_org = {
	"o", NULL, "sentry_organization",
	"id, slug, name, status, " DATE_ADDED_COLUMN, NULL, 0,
	offsetof(struct conf, ttl_organization), sizeof(struct model_org), 0,
	org_fields, NFIELDS(org_fields)
};

const struct codec_model codec_project = {
	"p", NULL, "sentry_project",
	"id, organization_id, slug, name, status, template_id, platform, "
	DATE_ADDED_COLUMN,
	NULL, 0, offsetof(struct conf, ttl_project),
	sizeof(struct model_project), 0,
	project_fields, NFIELDS(project_fields)
};

const struct codec_model codec_key = {
	"k", "kp", "sentry_projectkey", KEY_COLUMNS, "public_key",
	MODEL_KEY_HEX_LEN, offsetof(struct conf, ttl_projectkey),
	sizeof(struct model_projectkey),
	offsetof(struct model_projectkey, public_key),
	key_fields, NFIELDS(key_fields)
};

const struct codec_model codec_relay = {
	"r", "rr", "sentry_relay", "id, relay_id, public_key, is_internal",
	"relay_id", RELAY_ID_COLUMN_MAX, offsetof(struct conf, ttl_relay),
	sizeof(struct model_relay), offsetof(struct model_relay, relay_id),
	relay_fields, NFIELDS(relay_fields)
};

/* One field's value between reading and writing the struct. */
struct codec_val {
	int64_t		 i, i2;
	bool		 has;
	const char	*s;	/* NULL: none */
	size_t		 len;
};

/* The columns a model's array has (CODEC_LIMIT takes two). */
static size_t
codec_ncols(const struct codec_model *m)
{
	size_t n = m->nfields;

	for (size_t f = 0; f < m->nfields; f++)
		if (m->fields[f].type == CODEC_LIMIT)
			n++;
	return n;
}

/* The member at off of obj (cmember: read-only). */
static void *
member(void *obj, size_t off)
{
	return (char *)obj + off;
}

/* The member at off of a read-only obj. */
static const void *
cmember(const void *obj, size_t off)
{
	return (const char *)obj + off;
}

/*
 * One struct from the values: a new allocation with the strings packed
 * after it, or NULL on OOM.
 */
static void *
codec_build(const struct codec_model *m, const struct codec_val *v)
{
	size_t size = m->size;
	char *base, *pack;

	for (size_t f = 0; f < m->nfields; f++)
		if ((m->fields[f].type == CODEC_STR ||
		    m->fields[f].type == CODEC_STR_NULL) && v[f].s != NULL)
			size += v[f].len + 1;
	if ((base = calloc(1, size)) == NULL)
		return NULL;
	pack = base + m->size;
	for (size_t f = 0; f < m->nfields; f++) {
		const struct codec_field *fd = &m->fields[f];
		char *p;

		switch (fd->type) {
		case CODEC_I64:
		case CODEC_I64_OR0:
			*(int64_t *)member(base, fd->off) = v[f].i;
			break;
		case CODEC_INT:
			*(int *)member(base, fd->off) = (int)v[f].i;
			break;
		case CODEC_BOOL:
			*(bool *)member(base, fd->off) = v[f].i != 0;
			break;
		case CODEC_STR:
		case CODEC_STR_NULL:
			p = NULL;
			if (v[f].s != NULL) {
				p = pack;
				memcpy(p, v[f].s, v[f].len);
				p[v[f].len] = '\0';
				pack += v[f].len + 1;
			}
			*(char **)member(base, fd->off) = p;
			break;
		case CODEC_CHARS:
		case CODEC_CHARS_LAX:
			/* calloc: the array ends with a NUL already. */
			if (v[f].s != NULL)
				memcpy(member(base, fd->off), v[f].s, v[f].len);
			break;
		case CODEC_LIMIT:
			if (v[f].has) {
				*(bool *)member(base, fd->off_has) = true;
				*(int64_t *)member(base, fd->off) = v[f].i;
				*(int64_t *)member(base, fd->off2) = v[f].i2;
			}
			break;
		}
	}
	return base;
}

/* Column col of r as field fd; false when the row is not one. */
static bool
field_from_row(const struct codec_field *fd, struct db_res *r, unsigned col,
    struct codec_val *v)
{
	const char *s;

	memset(v, 0, sizeof(*v));
	switch (fd->type) {
	case CODEC_I64:
		return db_res_int(r, col, &v->i);
	case CODEC_INT:
		/* Cast to int below: a wider value is no row we can serve. */
		return db_res_int(r, col, &v->i) && v->i >= INT_MIN &&
		    v->i <= INT_MAX;
	case CODEC_I64_OR0:
		return db_res_str(r, col) == NULL || db_res_int(r, col, &v->i);
	case CODEC_BOOL:
		/* NULL (or anything odd) reads as false. */
		(void)db_res_int(r, col, &v->i);
		return true;
	case CODEC_STR:
	case CODEC_STR_NULL:
		v->s = db_res_str(r, col);
		v->len = db_res_len(r, col);
		return v->s != NULL || fd->type == CODEC_STR_NULL;
	case CODEC_CHARS:
	case CODEC_CHARS_LAX:
		if ((s = db_res_str(r, col)) != NULL && strlen(s) <= fd->max) {
			v->s = s;
			v->len = strlen(s);
			return true;
		}
		return fd->type == CODEC_CHARS_LAX;
	case CODEC_LIMIT:
		v->has = db_res_int(r, col, &v->i) &&
		    db_res_int(r, col + 1, &v->i2);
		return true;
	}
	return false;
}

/* codec_from_row - see store_int.h. */
void *
codec_from_row(const struct codec_model *m, struct db_res *r, bool *oom)
{
	struct codec_val v[CODEC_COLS_MAX];
	unsigned col = 0;
	void *row;

	*oom = false;
	for (size_t f = 0; f < m->nfields; f++) {
		if (!field_from_row(&m->fields[f], r, col, &v[f]))
			return NULL;
		col += m->fields[f].type == CODEC_LIMIT ? 2 : 1;
	}
	/* The row is one: only the allocation can fail now. */
	if ((row = codec_build(m, v)) == NULL)
		*oom = true;
	return row;
}

/* Element i as int64; false for anything else, an integer json-c
 * clamped included (valid_json_int64). */
static bool
ja_int(json_object *a, size_t i, int64_t *out)
{
	return valid_json_int64(json_object_array_get_idx(a, i), out);
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

/* Element col of a as field fd; false when the entry is not one. */
static bool
field_from_json(const struct codec_field *fd, json_object *a, size_t col,
    struct codec_val *v)
{
	memset(v, 0, sizeof(*v));
	switch (fd->type) {
	case CODEC_I64:
	case CODEC_I64_OR0:
		return ja_int(a, col, &v->i);
	/*
	 * What codec_to_json writes, and nothing else: a wider value would
	 * be truncated by the cast (status 4294967296 read as 0, active).
	 */
	case CODEC_INT:
		return ja_int(a, col, &v->i) && v->i >= INT_MIN &&
		    v->i <= INT_MAX;
	case CODEC_BOOL:
		return ja_int(a, col, &v->i) && (v->i == 0 || v->i == 1);
	case CODEC_STR:
	case CODEC_STR_NULL:
		return ja_str(a, col, fd->type == CODEC_STR_NULL, &v->s,
		    &v->len);
	case CODEC_CHARS:
	case CODEC_CHARS_LAX:
		return ja_str(a, col, false, &v->s, &v->len) &&
		    v->len <= fd->max;
	case CODEC_LIMIT:
		if (json_object_array_get_idx(a, col) == NULL &&
		    json_object_array_get_idx(a, col + 1) == NULL)
			return true;
		v->has = true;
		return ja_int(a, col, &v->i) && ja_int(a, col + 1, &v->i2);
	}
	return false;
}

/* codec_from_json - see store_int.h. */
void *
codec_from_json(const struct codec_model *m, json_object *a, bool *oom)
{
	struct codec_val v[CODEC_COLS_MAX];
	size_t col = 0;
	void *row;

	*oom = false;
	if (!json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) != codec_ncols(m))
		return NULL;
	for (size_t f = 0; f < m->nfields; f++) {
		if (!field_from_json(&m->fields[f], a, col, &v[f]))
			return NULL;
		col += m->fields[f].type == CODEC_LIMIT ? 2 : 1;
	}
	if ((row = codec_build(m, v)) == NULL)
		*oom = true;
	return row;
}

/* json_object_array_add that keeps track of failures (v is taken). */
static void
ja_add(json_object *a, json_object *v, bool *ok)
{
	if (json_object_array_add(a, v) != 0) {
		json_object_put(v);
		*ok = false;
	}
}

/* A JSON string, or null for NULL. */
static json_object *
jnew_str(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* codec_to_json - see store_int.h. */
json_object *
codec_to_json(const struct codec_model *m, const void *obj)
{
	json_object *a = json_object_new_array_ext((int)codec_ncols(m));
	bool ok = a != NULL;

	if (!ok)
		return NULL;
	for (size_t f = 0; f < m->nfields; f++) {
		const struct codec_field *fd = &m->fields[f];
		const void *p = cmember(obj, fd->off);
		bool has;

		switch (fd->type) {
		case CODEC_I64:
		case CODEC_I64_OR0:
			ja_add(a, json_object_new_int64(*(const int64_t *)p),
			    &ok);
			break;
		case CODEC_INT:
			ja_add(a, json_object_new_int64(*(const int *)p), &ok);
			break;
		case CODEC_BOOL:
			ja_add(a, json_object_new_int(*(const bool *)p ? 1 : 0),
			    &ok);
			break;
		case CODEC_STR:
		case CODEC_STR_NULL:
			ja_add(a, jnew_str(*(char *const *)p), &ok);
			break;
		case CODEC_CHARS:
		case CODEC_CHARS_LAX:
			ja_add(a, json_object_new_string(p), &ok);
			break;
		case CODEC_LIMIT:
			has = *(const bool *)cmember(obj, fd->off_has);
			ja_add(a, has ? json_object_new_int64(
			    *(const int64_t *)p) : NULL, &ok);
			ja_add(a, has ? json_object_new_int64(
			    *(const int64_t *)cmember(obj, fd->off2)) : NULL,
			    &ok);
			break;
		}
	}
	if (!ok) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

/* codec_list_to_json - see store_int.h. */
json_object *
codec_list_to_json(const struct codec_model *m, const void *const *objs,
    size_t n)
{
	json_object *a = json_object_new_array_ext((int)n);
	bool ok = a != NULL;

	for (size_t i = 0; i < n && ok; i++) {
		json_object *row = codec_to_json(m, objs[i]);

		if (row == NULL)
			ok = false;
		else
			ja_add(a, row, &ok);
	}
	if (!ok) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

/* codec_id - the row's id (its first field). */
int64_t
codec_id(const struct codec_model *m, const void *obj)
{
	return *(const int64_t *)cmember(obj, m->fields[0].off);
}

/* codec_str - the row's pointer string (models with ptr_kind). */
const char *
codec_str(const struct codec_model *m, const void *obj)
{
	return cmember(obj, m->str_off);
}

/* codec_ptr_id - see store_int.h. */
bool
codec_ptr_id(json_object *a, int64_t *id)
{
	return json_object_is_type(a, json_type_array) &&
	    json_object_array_length(a) == 1 && ja_int(a, 0, id);
}

/*
 * Values up to this size are parsed with the process's kept tokener
 * (parse): a string in one cannot grow its buffer past about twice this.
 */
#define PARSE_KEEP_MAX	(64u << 10)

/*
 * One JSON value of len bytes at data (NUL-terminated): a new object, or
 * NULL.  strict: RFC 8259 and valid UTF-8 only, for untrusted input.
 *
 * A cold 100-key request parses about a thousand option values and rows;
 * a tokener made for each (a calloc of its stack, a printbuf) was half of
 * this function's time, so one is kept per process and reset before each
 * value, until a value fails.  A larger value gets a tokener of its own,
 * freed after it.
 */
static json_object *
parse(const char *data, size_t len, bool strict)
{
	static json_tokener *kept;
	json_tokener *tok;
	json_object *o;

	/* json-c alone takes overlong UTF-8 and raw control bytes. */
	if (len >= INT32_MAX || data[len] != '\0' || (strict &&
	    jsonstrict_check(data, len, JSONSTRICT_DEPTH_MAX, NULL) != 0))
		return NULL;
	if (len > PARSE_KEEP_MAX)
		tok = json_tokener_new();
	else {
		if (kept == NULL)
			kept = json_tokener_new();
		else
			json_tokener_reset(kept);
		tok = kept;
	}
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, strict ? JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8 : 0);
	/* data[len] is the NUL; passing it ends the input ("12" is whole). */
	o = json_tokener_parse_ex(tok, data, (int)len + 1);
	/*
	 * The tokener stops after the first value (and the blanks after
	 * it): it ends at the NUL only when nothing else follows.  Without
	 * JSON_TOKENER_STRICT json-c itself would read "\"abc\" junk" as
	 * "abc" and "[1] [2]" as [1].
	 */
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		o = NULL;
		/*
		 * Not kept after a failure: json_tokener_reset (json-c 0.16)
		 * leaves a pending high surrogate in place, which would be
		 * prefixed to the next value's first \u escape.
		 */
		if (tok == kept)
			kept = NULL;
	}
	if (tok != kept)
		json_tokener_free(tok);
	return o;
}

/* codec_parse - lenient, for what MariaDB holds (other writers made it). */
json_object *
codec_parse(const char *data, size_t len)
{
	return parse(data, len, false);
}

/*
 * codec_parse_cached - a payload read from memcached: untrusted input, so
 * strict RFC 8259 and valid UTF-8 (what json-c writes always is), else a
 * miss (NULL).
 */
json_object *
codec_parse_cached(const char *data, size_t len)
{
	return parse(data, len, true);
}

/* codec_is_null - the negative-entry payload. */
bool
codec_is_null(const char *data, size_t len)
{
	return len == 4 && memcmp(data, "null", 4) == 0;
}
