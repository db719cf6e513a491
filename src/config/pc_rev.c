/*
 * pc_rev.c - the revision of a project config: a Merkle-style BLAKE2b
 * digest over its value, independent of key order and of sharing.
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
/* Revision.                                                           */

/* A member of an object, as its walk takes it. */
struct member {
	const char	*key;
	json_object	*val;
};

#define MEMBERS_SMALL	32

static int
cmp_members(const void *a, const void *b)
{
	return strcmp(((const struct member *)a)->key,
	    ((const struct member *)b)->key);
}

/*
 * members_sorted - object v's members in byte order of their keys, with
 * their values (no lookup by key afterwards), in small when they fit
 * (MEMBERS_SMALL), else in a new array the caller frees.  *n gets their
 * number.  NULL on OOM.
 */
static struct member *
members_sorted(json_object *v, struct member small[MEMBERS_SMALL],
    size_t *n)
{
	struct member *m = small;
	size_t i = 0;

	*n = (size_t)json_object_object_length(v);
	if (*n > MEMBERS_SMALL && (m = calloc(*n, sizeof(*m))) == NULL)
		return NULL;
	json_object_object_foreach(v, k, val) {
		m[i].key = k;
		m[i].val = val;
		i++;
	}
	if (*n > 1)
		qsort(m, *n, sizeof(*m), cmp_members);
	return m;
}

/* Feed one tag byte and a 64-bit length, little-endian, to the hash. */
static void
hash_tag(crypto_generichash_state *h, char tag, uint64_t n)
{
	unsigned char buf[9];

	buf[0] = (unsigned char)tag;
	for (int i = 0; i < 8; i++)
		buf[1 + i] = (unsigned char)(n >> (8 * i));
	crypto_generichash_update(h, buf, sizeof(buf));
}

/*
 * hash_value - feed v to h: a scalar inline (strings length-prefixed, so
 * no escaping is needed and no two values encode alike; numbers by
 * value), an object or array as its own digest (hash_node).  Returns 0,
 * or -1 on OOM.
 */
static int
hash_value(crypto_generichash_state *h, json_object *v)
{
	unsigned char d[REV_DIGEST_BYTES];
	uint64_t bits;
	int64_t i64;
	double dbl;
	size_t len;

	switch (json_object_get_type(v)) {
	case json_type_null:
		hash_tag(h, 'n', 0);
		return 0;
	case json_type_boolean:
		hash_tag(h, 'b', json_object_get_boolean(v) ? 1 : 0);
		return 0;
	case json_type_string:
		len = (size_t)json_object_get_string_len(v);
		hash_tag(h, 's', len);
		crypto_generichash_update(h,
		    (const unsigned char *)json_object_get_string(v), len);
		return 0;
	case json_type_int:
		/* json-c keeps integers above INT64_MAX as uint64. */
		if ((i64 = json_object_get_int64(v)) == INT64_MAX)
			hash_tag(h, 'u', json_object_get_uint64(v));
		else
			hash_tag(h, 'i', (uint64_t)i64);
		return 0;
	case json_type_double:
		/* By value: "1e2" and "100.0" are the same number to Relay. */
		dbl = json_object_get_double(v);
		memcpy(&bits, &dbl, sizeof(bits));
		hash_tag(h, 'f', bits);
		return 0;
	case json_type_array:
	case json_type_object:
		break;
	}
	if (pc_hash_node(v, d) != 0)
		return -1;
	hash_tag(h, 'h', sizeof(d));
	crypto_generichash_update(h, d, sizeof(d));
	return 0;
}

/*
 * pc_hash_node - the digest of an object or array: its tag and size, then
 * its members (object keys in byte order, each key length-prefixed), each
 * fed by hash_value.  Because every container enters its parent as a
 * digest, a shared constant's memoised digest (shared_keep) is exactly
 * what walking it would give: the rev depends on the value only, not on
 * how the tree was built.  Returns 0, or -1 on OOM.
 */
int
pc_hash_node(json_object *v, unsigned char out[REV_DIGEST_BYTES])
{
	const struct shared_memo *memo = json_object_get_userdata(v);
	struct member small[MEMBERS_SMALL], *m;
	crypto_generichash_state h;
	size_t n, i, len;
	int ret = -1;

	if (memo != NULL) {
		memcpy(out, memo->digest, REV_DIGEST_BYTES);
		return 0;
	}
	if (crypto_generichash_init(&h, NULL, 0, REV_DIGEST_BYTES) != 0)
		return -1;
	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		hash_tag(&h, 'a', n);
		for (i = 0; i < n; i++)
			if (hash_value(&h, json_object_array_get_idx(v,
			    i)) != 0)
				return -1;
		return crypto_generichash_final(&h, out, REV_DIGEST_BYTES);
	}
	if ((m = members_sorted(v, small, &n)) == NULL)
		return -1;
	hash_tag(&h, 'o', n);
	for (i = 0; i < n; i++) {
		len = strlen(m[i].key);
		hash_tag(&h, 'k', len);
		crypto_generichash_update(&h, (const unsigned char *)m[i].key,
		    len);
		if (hash_value(&h, m[i].val) != 0)
			goto out;
	}
	ret = crypto_generichash_final(&h, out, REV_DIGEST_BYTES);
out:
	if (m != small)
		free(m);
	return ret;
}

/* Feed a container's digest d to h, as hash_value does. */
static void
hash_digest(crypto_generichash_state *h, const unsigned char *d)
{
	hash_tag(h, 'h', REV_DIGEST_BYTES);
	crypto_generichash_update(h, d, REV_DIGEST_BYTES);
}

/* pc_hash_object_pair - see pc_build.h. */
int
pc_hash_object_pair(json_object *v, const struct pc_hash_edit *e,
    unsigned char out1[REV_DIGEST_BYTES], unsigned char out2[REV_DIGEST_BYTES])
{
	struct member small[MEMBERS_SMALL], *m;
	crypto_generichash_state h1, h2;
	unsigned char d[REV_DIGEST_BYTES];
	size_t n, n2, i, len;
	int ret = -1;

	if (!json_object_is_type(v, json_type_object) ||
	    crypto_generichash_init(&h1, NULL, 0, REV_DIGEST_BYTES) != 0 ||
	    crypto_generichash_init(&h2, NULL, 0, REV_DIGEST_BYTES) != 0)
		return -1;
	if ((m = members_sorted(v, small, &n)) == NULL)
		return -1;
	n2 = n;
	for (i = 0; i < n; i++)
		if ((e->skip2 != NULL && strcmp(m[i].key, e->skip2) == 0) ||
		    (e->name != NULL && strcmp(m[i].key, e->name) == 0 &&
		    e->d2 == NULL))
			n2--;
	hash_tag(&h1, 'o', n);
	hash_tag(&h2, 'o', n2);
	for (i = 0; i < n; i++) {
		json_object *child = m[i].val;
		bool skip = e->skip2 != NULL && strcmp(m[i].key, e->skip2) == 0;
		bool swap = e->name != NULL && strcmp(m[i].key, e->name) == 0;
		bool in2 = !skip && !(swap && e->d2 == NULL);

		len = strlen(m[i].key);
		hash_tag(&h1, 'k', len);
		crypto_generichash_update(&h1, (const unsigned char *)m[i].key,
		    len);
		if (in2) {
			hash_tag(&h2, 'k', len);
			crypto_generichash_update(&h2,
			    (const unsigned char *)m[i].key, len);
		}
		if (swap) {
			hash_digest(&h1, e->d1);
			if (in2)
				hash_digest(&h2, e->d2);
		} else if (json_object_is_type(child, json_type_object) ||
		    json_object_is_type(child, json_type_array)) {
			/* Walked once, entered into both. */
			if (pc_hash_node(child, d) != 0)
				goto out;
			hash_digest(&h1, d);
			if (in2)
				hash_digest(&h2, d);
		} else if (hash_value(&h1, child) != 0 ||
		    (in2 && hash_value(&h2, child) != 0))
			goto out;
	}
	if (crypto_generichash_final(&h1, out1, REV_DIGEST_BYTES) == 0 &&
	    crypto_generichash_final(&h2, out2, REV_DIGEST_BYTES) == 0)
		ret = 0;
out:
	if (m != small)
		free(m);
	return ret;
}

int
projectconfig_rev(json_object *content, char out[PROJECTCONFIG_REV_LEN + 1])
{
	unsigned char digest[REV_DIGEST_BYTES];

	if (sodium_init() < 0 ||
	    !json_object_is_type(content, json_type_object) ||
	    pc_hash_node(content, digest) != 0)
		return -1;
	sodium_bin2hex(out, PROJECTCONFIG_REV_LEN + 1, digest, sizeof(digest));
	return 0;
}
