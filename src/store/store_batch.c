/*
 * store_batch.c - the cache-aside mechanism every read of the store
 * shares: the request's local cache, one memcached multi-get, one MariaDB
 * load per kind for the misses, absent rows cached briefly, and one
 * write-back batch.
 *
 * The number of multi-gets and SQL queries of a call never depends on how
 * many ids it asks for (store.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "store_int.h"

/* --- write-back batches ---------------------------------------------- */

/* Queue a copy of key/val for writing back; ttl 0 means do not cache. */
void
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
void
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
void
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

/* wb_negative - key, not found anywhere, is absent for the request and
 * (for ttl_negative) for everyone; see store_int.h. */
int
wb_negative(struct store *st, struct wb *w, const char *key)
{
	if (store_lc_find(st, key) != NULL)
		return STORE_OK;
	if (!store_lc_put(st, key, NULL, NULL)) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	wb_add(w, key, "null", 4, st->conf->ttl_negative);
	return STORE_OK;
}

/* --- one multi-get ---------------------------------------------------- */

/* keyset_init - see store_int.h. */
int
keyset_init(struct keyset *ks, size_t n)
{
	ks->n = n;
	ks->buf = malloc((n + 1) * sizeof(*ks->buf));
	ks->kp = calloc(n + 1, sizeof(*ks->kp));
	if (ks->buf == NULL || ks->kp == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		ks->kp[i] = ks->buf[i];
	return 0;
}

/* keyset_free - the keys; a zeroed keyset is fine. */
void
keyset_free(struct keyset *ks)
{
	free(ks->kp);
	free(ks->buf);
	memset(ks, 0, sizeof(*ks));
}

/* batch_cache_read - see store_int.h. */
int
batch_cache_read(struct store *st, const char *const *keys, size_t n,
    batch_decode_fn decode, batch_negative_fn negative, batch_other_fn other,
    void *ctx)
{
	struct cache_value *vals;
	int rc = STORE_OK, got;

	if (n == 0 || st->mode == READ_DB_ONLY || !cache_enabled(st->cache))
		return STORE_OK;
	if ((vals = calloc(n + 1, sizeof(*vals))) == NULL) {
		store_seterr(st, "out of memory");
		return STORE_ERROR;
	}
	/* A failure leaves every answer not given a miss. */
	if (other != NULL)
		got = cache_get_many_hints(st->cache, keys, n, vals);
	else
		got = cache_get_many(st->cache, keys, n, vals);
	for (size_t i = 0; i < n && rc == STORE_OK; i++) {
		const struct cache_value *v = &vals[i];
		const void *obj = NULL;
		json_object *a;

		if (v->data == NULL) {
			if (v->other_gen != NULL && other != NULL)
				other(ctx, i, v->other_gen, v->other_len);
			continue;
		}
		if (negative != NULL && codec_is_null(v->data, v->len) &&
		    negative(ctx, i)) {
			if (!store_lc_put(st, keys[i], NULL, NULL))
				rc = STORE_ERROR;
			continue;
		}
		a = codec_parse_cached(v->data, v->len);
		rc = decode(st, ctx, i, a, &obj);
		json_object_put(a);
		/* Not remembered, the entry would be read as absent. */
		if (rc == STORE_OK && obj != NULL &&
		    !store_lc_put(st, keys[i], obj, NULL))
			rc = STORE_ERROR;
	}
	cache_values_free(vals, n);
	free(vals);
	if (rc != STORE_OK)
		store_seterr(st, "out of memory");
	else if (got != 0 && st->mode == READ_CACHE_ONLY) {
		store_seterr(st, "memcached did not answer in full");
		rc = STORE_ERROR;
	}
	return rc;
}

/* --- get many by id -------------------------------------------------- */

/* What batch_get's keys stand for: key i is ids[i] of reqs[req[i]]. */
struct batch_ctx {
	const struct batch_req	*reqs;
	const size_t		*req;
	const int64_t		*ids;
};

/* The kind's decoder for key i. */
static int
batch_decode(struct store *st, void *ctx, size_t i, json_object *a,
    const void **obj)
{
	const struct batch_ctx *c = ctx;
	const struct batch_req *r = &c->reqs[c->req[i]];

	return r->ops->decode(st, r->arg, c->ids[i], a, obj);
}

/* Whether key i's kind caches absence. */
static bool
batch_negative(void *ctx, size_t i)
{
	const struct batch_ctx *c = ctx;

	return c->reqs[c->req[i]].ops->negative;
}

/* batch_get - see store_int.h. */
int
batch_get(struct store *st, const struct batch_req *reqs, size_t nreq,
    bool load)
{
	char key[CACHE_KEY_MAX];
	struct keyset ks = { 0 };
	struct wb w = { 0 };
	struct batch_ctx c;
	int64_t *want = NULL;
	size_t *req = NULL, total = 0, at = 0;
	int rc = STORE_ERROR, rc2;

	for (size_t r = 0; r < nreq; r++)
		total += reqs[r].n;
	if (total == 0)
		return STORE_OK;
	if ((want = malloc(total * sizeof(*want))) == NULL ||
	    (req = malloc(total * sizeof(*req))) == NULL ||
	    keyset_init(&ks, total) != 0)
		goto oom;
	/* Per kind: the ids the request has not seen, sorted, unique. */
	for (size_t r = 0; r < nreq; r++) {
		size_t k = 0;

		for (size_t i = 0; i < reqs[r].n; i++) {
			cache_key_id(st->cache, key, sizeof(key),
			    reqs[r].ops->kind, reqs[r].ids[i]);
			if (store_lc_find(st, key) == NULL)
				want[at + k++] = reqs[r].ids[i];
		}
		k = store_uniq_i64(want + at, k);
		for (size_t i = at; i < at + k; i++) {
			cache_key_id(st->cache, ks.buf[i], CACHE_KEY_MAX,
			    reqs[r].ops->kind, want[i]);
			req[i] = r;
		}
		at += k;
	}
	c = (struct batch_ctx){ reqs, req, want };
	if ((rc = batch_cache_read(st, ks.kp, at, batch_decode,
	    batch_negative, NULL, &c)) != STORE_OK)
		goto out;
	/* What memcached did not know goes to MariaDB, one query a kind;
	 * a kind that fails leaves the others' answers good. */
	for (size_t r = 0, i = 0; r < nreq; r++) {
		const struct batch_ops *ops = reqs[r].ops;
		size_t start = i, nmiss = 0;

		for (; i < at && req[i] == r; i++)
			if (store_lc_find(st, ks.buf[i]) == NULL)
				want[start + nmiss++] = want[i];
		if (nmiss == 0 || !load || st->mode == READ_CACHE_ONLY)
			continue;
		if ((rc2 = ops->load(st, reqs[r].arg, want + start, nmiss,
		    &w)) != STORE_OK) {
			rc = rc2;
			continue;
		}
		/* Asked for and not found: absent (and cached so, briefly);
		 * a found row is remembered (or load failed, above). */
		for (size_t j = start; ops->negative && j < start + nmiss;
		    j++) {
			cache_key_id(st->cache, key, sizeof(key), ops->kind,
			    want[j]);
			if ((rc2 = wb_negative(st, &w, key)) != STORE_OK) {
				rc = rc2;
				break;
			}
		}
	}
	goto out;
oom:
	store_seterr(st, "out of memory");
	rc = STORE_ERROR;
out:
	wb_flush(st, &w);
	keyset_free(&ks);
	free(want);
	free(req);
	return rc;
}
