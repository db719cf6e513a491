/*
 * store_local.c - the per-request local cache (cache key -> object, or
 * known absent) and the results the store owns until store_request_end.
 *
 * The local cache only borrows: forgetting entries (invalidation) never
 * frees what a caller holds; st->owned frees it at request end.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "store_int.h"

#define LC_BUCKETS_MIN	64

/* Record p as a result to free at request end; frees it on OOM. */
bool
store_own(struct store *st, void *p, enum own_type type)
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
struct lc_node *
store_lc_find(const struct store *st, const char *key)
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
 * caller already holds stays what the request sees.  Returns true with
 * *kept (when kept is not NULL) the remembered object (NULL: absent), or
 * false on OOM with nothing remembered and *kept untouched: OOM must not
 * read as "absent", which callers would cache for everyone.
 */
bool
store_lc_put(struct store *st, const char *key, const void *obj,
    const void **kept)
{
	struct lc_node *n;
	size_t klen = strlen(key), h;

	if ((n = store_lc_find(st, key)) != NULL) {
		if (kept != NULL)
			*kept = n->obj;
		return true;
	}
	if ((st->lc_n + 1 > st->lc_cap * 2 || st->lc == NULL) && !lc_grow(st))
		return false;
	if ((n = malloc(sizeof(*n) + klen + 1)) == NULL)
		return false;
	memcpy(n->key, key, klen + 1);
	n->obj = obj;
	n->absent = obj == NULL;
	h = lc_hash(key) & (st->lc_cap - 1);
	n->next = st->lc[h];
	st->lc[h] = n;
	st->lc_n++;
	if (kept != NULL)
		*kept = obj;
	return true;
}

/*
 * Forget every entry; the objects stay alive until request end.  The walk
 * stops at the last entry: most requests (warm answers) put none, and the
 * table keeps the size of the largest request the worker served.
 */
void
store_lc_forget_all(struct store *st)
{
	size_t left = st->lc_n;

	for (size_t i = 0; i < st->lc_cap && left > 0; i++) {
		struct lc_node *n = st->lc[i], *next;

		for (; n != NULL; n = next) {
			next = n->next;
			free(n);
			left--;
		}
		st->lc[i] = NULL;
	}
	st->lc_n = 0;
}
/* store_lc_id - the object kind:id of the request, NULL when absent or
 * not seen. */
const void *
store_lc_id(const struct store *st, const char *kind, int64_t id)
{
	char key[CACHE_KEY_MAX];
	struct lc_node *node;

	cache_key_id(st->cache, key, sizeof(key), kind, id);
	node = store_lc_find(st, key);
	return node != NULL ? node->obj : NULL;
}
