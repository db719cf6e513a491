/*
 * pc_json.c - json-c building blocks for the config sections, and the shared
 * constant subtrees (built once per process, with a memoised digest and
 * text).
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <sodium.h>

#include "log.h"
#include "pc_build.h"
#include "pc_tables.h"
#include "projectconfig.h"

/* ------------------------------------------------------------------ */
/* json-c building blocks: each steals val, even when it fails.        */

/* pc_obj_add - obj[key] = val for a literal key; -1 when val is NULL (OOM). */
int
pc_obj_add(json_object *obj, const char *key, json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_object_add_ex(obj, key, val,
	    JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/* pc_obj_add_dup - obj[key] = val for a key that is not a literal. */
int
pc_obj_add_dup(json_object *obj, const char *key, json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/* pc_arr_add - append val; -1 when val is NULL (OOM). */
int
pc_arr_add(json_object *arr, json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_array_add(arr, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/*
 * pc_new_array - an array with room for n; never asks json-c for room for 0,
 * which it may take for an allocation failure where calloc(0) is NULL.
 */
json_object *
pc_new_array(size_t n)
{
	return json_object_new_array_ext(n > 0 && n < INT_MAX ? (int)n : 1);
}

/* pc_copy - a deep copy of a non-null value, or NULL on OOM. */
json_object *
pc_copy(json_object *src)
{
	json_object *dst = NULL;

	if (json_object_deep_copy(src, &dst, NULL) != 0)
		return NULL;
	return dst;
}

/* pc_str_copy - a string object holding v's bytes (v is a JSON string). */
json_object *
pc_str_copy(json_object *v)
{
	return json_object_new_string_len(json_object_get_string(v),
	    json_object_get_string_len(v));
}

/*
 * pc_number - a double serialized as text, so 0.3 goes out as "0.3" like
 * Python writes it rather than json-c's "0.29999999999999999".
 */
json_object *
pc_number(const char *text)
{
	return json_object_new_double_s(strtod(text, NULL), text);
}

/* pc_parse_const - one of our JSON constants; NULL on OOM (or a typo here). */
json_object *
pc_parse_const(const char *text)
{
	return json_tokener_parse(text);
}

/*
 * Shared constants.  The subtrees that never vary (performanceScore
 * profiles, the generic filters, the default breakdowns, ...) are built
 * once per process and shared, by reference, by every config built after.
 * Nothing ever modifies a built tree.  Each carries a memo as its json-c
 * userdata: its canonical digest, which projectconfig_rev hashes instead
 * of walking the subtree, and its text, which a serializer appends
 * instead of writing the subtree again.  Together these were two thirds
 * of a cold build.  Only shared constants have userdata on an object or
 * an array: json-c itself sets it only on doubles (json_object_new_double_s).
 */
static int
shared_memo_serialize(json_object *o, struct printbuf *pb, int level,
    int flags)
{
	const struct shared_memo *m = json_object_get_userdata(o);

	(void)level;
	(void)flags;
	return printbuf_memappend(pb, m->text, (int)m->len) < 0 ? -1 : 0;
}

static void
shared_memo_free(json_object *o, void *userdata)
{
	(void)o;
	free(userdata);
}

/*
 * shared_keep - make o, a new constant subtree, shareable: attach its
 * memo.  Returns o, or NULL on OOM (or o NULL) with o put.
 */
static json_object *
shared_keep(json_object *o)
{
	struct shared_memo *m = NULL;
	const char *text;
	size_t len;

	if (o == NULL || sodium_init() < 0)
		goto fail;
	text = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL || len > INT_MAX ||
	    (m = malloc(sizeof(*m) + len + 1)) == NULL)
		goto fail;
	memcpy(m->text, text, len + 1);
	m->len = len;
	if (pc_hash_node(o, m->digest) != 0)
		goto fail;
	json_object_set_serializer(o, shared_memo_serialize, m,
	    shared_memo_free);
	return o;
fail:
	free(m);
	json_object_put(o);
	return NULL;
}

/*
 * pc_shared_get - a new reference to *slot, made by make(arg) and
 * shared_keep on first use and kept for the life of the process.  NULL on
 * OOM (tried again next time).
 */
json_object *
pc_shared_get(json_object **slot, json_object *(*make)(const void *),
    const void *arg)
{
	if (*slot == NULL)
		*slot = shared_keep(make(arg));
	return json_object_get(*slot);
}

/* pc_string_array - a new array of the n strings. */
json_object *
pc_string_array(const char *const *v, size_t n)
{
	json_object *arr, *rv = NULL;

	if ((arr = pc_new_array(n)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (pc_arr_add(arr, json_object_new_string(v[i])) != 0)
			goto out;
	rv = arr;
	arr = NULL;
out:
	json_object_put(arr);
	return rv;
}

json_object *
pc_cond(const char *op, const char *name, json_object *value)
{
	json_object *c;

	if ((c = json_object_new_object()) == NULL ||
	    pc_obj_add(c, "op", json_object_new_string(op)) != 0 ||
	    pc_obj_add(c, "name", json_object_new_string(name)) != 0) {
		json_object_put(c);
		json_object_put(value);
		return NULL;
	}
	/* pc_obj_add took value or, value being NULL, there is none to free */
	if (pc_obj_add(c, "value", value) != 0) {
		json_object_put(c);
		return NULL;
	}
	return c;
}
