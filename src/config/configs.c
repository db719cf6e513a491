/*
 * configs.c - computed project configs: cache, batch build, stale copies.
 *
 * Sentry answers v3 misses with "pending" and builds them in a task queue;
 * relaycfg builds them in the same request instead (design.md), with one
 * query per model for the whole batch, so "pending" only means "MariaDB is
 * away and there is no copy at all".
 *
 * A cached entry is the rendered project state, deflated once so that
 * answers can send it as it is (zfrag.h), plus what is needed to keep rev
 * and lastChange stable across rebuilds:
 *
 *	<tag><built_at unix s> <rev or -> <lastChange or -> <crc32> <op> <length>\n
 *	<raw deflate fragment of the JSON text>
 *
 * where <tag> is the settings digest it was built under and a space
 * (cache_config_tag).  The key is the same under any settings, so that
 * every invalidation reaches it; an entry with another tag is a miss
 * (the cache answers none: cache.c, unframe), rebuilt and written over,
 * and the cache answers ours without the tag.
 *
 * crc32 and op (its crc32_combine_gen operator) are 8 lowercase hex.
 * When no cached copy with the same rev is at hand (flushed, evicted,
 * memcached down, v1), lastChange comes from the project's persisted
 * revision pair instead (lastchange.h), read once per batch.
 *
 * It is fresh for ttl_config seconds and lives ttl_config_stale seconds
 * longer as a stale copy, served only when MariaDB cannot be read.
 *
 * Next to it, written with it and deleted with it, a rev entry holds
 *
 *	<tag><built_at unix s> <rev or ->
 *
 * Relay polls with the revisions it has, and most are current: those
 * keys are answered "unchanged" from the rev entries alone, in the same
 * single round trip, without moving the configs out of memcached.
 *
 * Whatever memcached returns is untrusted input: configs_cached.c reads
 * an entry back and checks it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "configs.h"
#include "configs_int.h"
#include "lastchange.h"
#include "log.h"
#include "metrics.h"
#include "revmemo.h"
#include "store.h"
#include "valid.h"

static const char disabled_json[] = "{\"disabled\":true}";


/* e takes the fragment, and the cache buffer it lives in, from v. */
static void
entry_adopt(struct configs_entry *e, enum configs_state state,
    struct cache_value *v, const struct cached *c)
{
	free(e->mem);
	e->mem = v->mem;
	v->mem = NULL;
	e->frag = c->frag;
	e->state = state;
	memcpy(e->rev, c->rev, sizeof(e->rev));
	memcpy(e->last_change, c->last_change, sizeof(e->last_change));
}

/*
 * e gets a new fragment of text.  Returns 0, or -1 on OOM with e as it
 * was.
 */
static int
entry_set_text(struct configs_entry *e, const char *text, size_t len,
    const char *rev, const char *last_change)
{
	unsigned char *mem;
	struct zfrag f;

	if (zfrag_make(text, len, &mem, &f) != 0)
		return -1;
	free(e->mem);
	e->mem = mem;
	e->frag = f;
	e->state = CONFIGS_FRESH;
	snprintf(e->rev, sizeof(e->rev), "%s", rev != NULL ? rev : "");
	snprintf(e->last_change, sizeof(e->last_change), "%s",
	    last_change != NULL ? last_change : "");
	return 0;
}

/* find_id - see configs_int.h. */
long
find_id(const int64_t *a, size_t n, int64_t v)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] == v)
			return (long)i;
	return -1;
}

/* add_id - see configs_int.h. */
void
add_id(int64_t *a, size_t *n, int64_t v)
{
	if (find_id(a, *n, v) < 0)
		a[(*n)++] = v;
}

/*
 * The rows and options a batch needs, fetched with one store call per
 * model.  rc_* keep each call's verdict: a NULL row means "absent" only
 * when its call returned STORE_OK.
 */
struct batch_rows {
	const struct model_projectkey	**keys;
	int				  rc_keys;
	int64_t				 *pids;
	size_t				  np;
	const struct model_project	**projects;
	json_object			**popts;
	int				  rc_projects, rc_popts;
	int64_t				 *oids;
	size_t				  no;
	const struct model_org		**orgs;
	json_object			**oopts;
	int				  rc_orgs, rc_oopts;
	const struct model_txthresholds	**thr;		/* by project */
	int				  rc_thr;
};

static void
batch_rows_free(struct batch_rows *b)
{
	free(b->keys);
	free(b->pids);
	free(b->projects);
	free(b->popts);
	free(b->oids);
	free(b->orgs);
	free(b->oopts);
	free(b->thr);
}

/*
 * Fetch keys, then their projects, organizations and options.  The
 * project set comes from the keys given (pk_rows NULL) or from ids
 * (v1).  Returns 0, or -1 on OOM.
 */
static int
batch_fetch(struct store *st, const char *const *public_keys, size_t m,
    const int64_t *project_ids, size_t nids, struct batch_rows *b)
{
	size_t cap = public_keys != NULL ? m : nids;
	struct timespec t0;

	memset(b, 0, sizeof(*b));
	b->rc_keys = b->rc_projects = b->rc_popts = STORE_OK;
	b->rc_orgs = b->rc_oopts = b->rc_thr = STORE_OK;
	if ((b->pids = calloc(cap + 1, sizeof(*b->pids))) == NULL ||
	    (b->projects = calloc(cap + 1, sizeof(*b->projects))) == NULL ||
	    (b->popts = calloc(cap + 1, sizeof(*b->popts))) == NULL ||
	    (b->oids = calloc(cap + 1, sizeof(*b->oids))) == NULL ||
	    (b->orgs = calloc(cap + 1, sizeof(*b->orgs))) == NULL ||
	    (b->oopts = calloc(cap + 1, sizeof(*b->oopts))) == NULL ||
	    (b->thr = calloc(cap + 1, sizeof(*b->thr))) == NULL)
		return -1;
	if (public_keys != NULL) {
		if ((b->keys = calloc(m + 1, sizeof(*b->keys))) == NULL)
			return -1;
		/* Sentry's stage timers, around the same reads as Sentry's */
		metrics_now(&t0);
		b->rc_keys = store_projectkeys_by_public_keys(st, public_keys,
		    m, b->keys);
		metrics_observe(MF_SENTRY_FETCHING_KEYS, 0,
		    metrics_seconds_since(&t0));
		for (size_t j = 0; j < m; j++)
			if (b->keys[j] != NULL &&
			    b->keys[j]->status == MODEL_STATUS_ACTIVE)
				add_id(b->pids, &b->np, b->keys[j]->project_id);
	} else {
		for (size_t j = 0; j < nids; j++)
			add_id(b->pids, &b->np, project_ids[j]);
	}
	if (b->np == 0)
		return 0;
	metrics_now(&t0);
	b->rc_projects = store_projects_by_ids(st, b->pids, b->np, b->projects);
	metrics_observe(MF_SENTRY_FETCHING_PROJECTS, 0,
	    metrics_seconds_since(&t0));
	for (size_t j = 0; j < b->np; j++)
		if (b->projects[j] != NULL)
			add_id(b->oids, &b->no, b->projects[j]->organization_id);
	b->rc_popts = store_project_options(st, b->pids, b->np, b->popts);
	b->rc_thr = store_txthresholds(st, b->pids, b->np, b->thr);
	if (b->no == 0)
		return 0;
	metrics_now(&t0);
	b->rc_orgs = store_orgs_by_ids(st, b->oids, b->no, b->orgs);
	metrics_observe(MF_SENTRY_FETCHING_ORGS, 0,
	    metrics_seconds_since(&t0));
	b->rc_oopts = store_org_options(st, b->oids, b->no, b->oopts);
	return 0;
}

/*
 * Resolve project id pid to its rows.  Returns 1 when the config can be
 * built (*p, *o, options and thresholds set), 0 when it is
 * {"disabled":true}, -1 when it is unknown because MariaDB could not be
 * read.
 */
static int
batch_resolve(const struct batch_rows *b, int64_t pid,
    const struct model_project **p, const struct model_org **o,
    json_object **popt, json_object **oopt,
    const struct model_txthresholds **thr)
{
	long pi = find_id(b->pids, b->np, pid), oi;

	if (pi < 0 || (*p = b->projects[pi]) == NULL)
		return b->rc_projects == STORE_OK ? 0 : -1;
	if ((*p)->status != MODEL_STATUS_ACTIVE)
		return 0;
	oi = find_id(b->oids, b->no, (*p)->organization_id);
	if (oi < 0 || (*o = b->orgs[oi]) == NULL)
		return b->rc_orgs == STORE_OK ? 0 : -1;
	*popt = b->popts[pi];
	*oopt = b->oopts[oi];
	*thr = b->thr[pi];
	/* A threshold set half read would tag users wrongly: unknown. */
	if ((*popt == NULL && b->rc_popts != STORE_OK) ||
	    (*oopt == NULL && b->rc_oopts != STORE_OK) ||
	    (*thr == NULL && b->rc_thr != STORE_OK))
		return -1;
	return 1;
}

/*
 * render_entry - ent gets bt rendered (render_built) and bt's content (or
 * its pending text) is released.  Returns 0, or -1 on OOM with ent as it
 * was.
 */
static int
render_entry(struct configs_entry *ent, struct built *bt,
    const struct lastchange_req *lr, const char *now)
{
	char lc[PROJECTCONFIG_TIME_LEN + 1];
	size_t len;
	char *text;
	int rc = -1;

	if ((text = render_built(bt, lr, now, &len, lc)) != NULL &&
	    entry_set_text(ent, text, len, bt->rev, lc) == 0) {
		json_object_put(bt->content);
		bt->content = NULL;
		rc = 0;
	}
	free(text);
	return rc;
}

/*
 * Build the entries todo[0..m-1] of e in one batch and write them back.
 * Entries that cannot be known stay as they are (PENDING).
 */
static int
build_batch(struct app *app, struct configs_entry *e, const size_t *todo,
    size_t m, const struct cached *old, const char *const *ckeys,
    const struct timespec *now)
{
	const struct conf *conf = app->conf;
	struct cache *c = store_cache(app->store);
	struct batch_rows b;
	char now_text[PROJECTCONFIG_TIME_LEN + 1];
	const char **pks = NULL, **wkeys = NULL;
	char **payloads = NULL, (*rkeys)[CACHE_KEY_MAX] = NULL;
	size_t *lens = NULL, nw = 0, nl = 0;
	unsigned *ttls = NULL;
	struct built *bt = NULL;
	struct lastchange_req *lr = NULL;
	int *known = NULL, rc = -1;

	memset(&b, 0, sizeof(b));
	if (projectconfig_format_time((int64_t)now->tv_sec,
	    now->tv_nsec / 1000, now_text) != 0)
		goto out;
	/* Two writes per config: the entry and its rev entry. */
	if ((pks = calloc(m, sizeof(*pks))) == NULL ||
	    (rkeys = calloc(m, sizeof(*rkeys))) == NULL ||
	    (wkeys = calloc(2 * m, sizeof(*wkeys))) == NULL ||
	    (payloads = calloc(2 * m, sizeof(*payloads))) == NULL ||
	    (lens = calloc(2 * m, sizeof(*lens))) == NULL ||
	    (ttls = calloc(2 * m, sizeof(*ttls))) == NULL ||
	    (bt = calloc(m, sizeof(*bt))) == NULL ||
	    (lr = calloc(m, sizeof(*lr))) == NULL ||
	    (known = calloc(m, sizeof(*known))) == NULL)
		goto out;
	for (size_t j = 0; j < m; j++) {
		pks[j] = e[todo[j]].key;
		cache_key_config_rev(c, rkeys[j], CACHE_KEY_MAX, pks[j]);
		wkeys[j] = rkeys[j];	/* scratch until the write-backs */
	}
	/*
	 * The write-backs below are conditional on their keys being as
	 * this request read them, before the rows (cache_lease): the
	 * config entries were read by the lookup, the rev entries of most
	 * keys were not.  A write that commits after this read invalidates
	 * them, and then no value built from older rows is stored.
	 */
	if (cache_enabled(c))
		(void)cache_lease(c, wkeys, m);
	if (batch_fetch(app->store, pks, m, NULL, 0, &b) != 0)
		goto out;

	/* Build every config first: their lastChanges take one read. */
	for (size_t j = 0; j < m; j++) {
		const struct model_projectkey *k = b.keys[j];
		const struct model_project *p = NULL;
		const struct model_org *o = NULL;
		json_object *popt = NULL, *oopt = NULL;
		const struct model_txthresholds *thr = NULL;

		if (k == NULL)
			known[j] = b.rc_keys == STORE_OK ? 0 : -1;
		else if (k->status != MODEL_STATUS_ACTIVE)
			known[j] = 0;
		else
			known[j] = batch_resolve(&b, k->project_id, &p, &o,
			    &popt, &oopt, &thr);
		if (known[j] > 0 && build_content(p, o, &k, 1, popt, oopt,
		    thr, conf, &old[todo[j]], now_text, &bt[j], lr, &nl) != 0)
			goto out;
		/* Its lastChange known already: rendered now, so that only
		 * the configs waiting for the pairs stay in memory (as their
		 * text: build_content). */
		if (known[j] > 0 && bt[j].req < 0 &&
		    render_entry(&e[todo[j]], &bt[j], lr, now_text) != 0)
			goto out;
	}
	lastchange_resolve(app->store, lr, nl, now_text);

	for (size_t j = 0; j < m; j++) {
		struct configs_entry *ent = &e[todo[j]];

		if (known[j] < 0)
			continue;	/* stale copy or pending */
		if (known[j] == 0) {
			if (entry_set_text(ent, disabled_json,
			    sizeof(disabled_json) - 1, NULL, NULL) != 0)
				goto out;
		} else if (built_waiting(&bt[j]) &&
		    render_entry(ent, &bt[j], lr, now_text) != 0)
			goto out;

		/* Write back: the tag and header line, then the fragment. */
		size_t cap = ent->frag.len + CACHE_CONFIG_TAG_LEN +
		    CACHED_HEAD_MAX + 1;
		if ((payloads[nw] = malloc(cap)) == NULL)
			goto out;
		int hl = snprintf(payloads[nw], cap, "%s%lld %s %s %08" PRIx32
		    " %08" PRIx32 " %zu\n", cache_config_tag(c),
		    (long long)now->tv_sec,
		    ent->rev[0] != '\0' ? ent->rev : "-",
		    ent->last_change[0] != '\0' ? ent->last_change : "-",
		    ent->frag.crc, ent->frag.op, ent->frag.text_len);
		memcpy(payloads[nw] + hl, ent->frag.data, ent->frag.len);
		lens[nw] = (size_t)hl + ent->frag.len;
		/* Made here: its header needs no check when read back (the
		 * header as the cache answers it, without the tag). */
		checked_put(checked_digest(ent->key,
		    payloads[nw] + CACHE_CONFIG_TAG_LEN,
		    (size_t)hl - CACHE_CONFIG_TAG_LEN, ent->frag.len));
		wkeys[nw] = ckeys[todo[j]];
		ttls[nw] = conf->ttl_config + conf->ttl_config_stale;
		nw++;

		/* And "<built_at> <rev>", which answers "unchanged". */
		if ((payloads[nw] = malloc(CACHED_HEAD_MAX)) == NULL)
			goto out;
		hl = snprintf(payloads[nw], CACHED_HEAD_MAX, "%s%lld %s",
		    cache_config_tag(c), (long long)now->tv_sec,
		    ent->rev[0] != '\0' ? ent->rev : "-");
		lens[nw] = (size_t)hl;
		wkeys[nw] = rkeys[j];
		ttls[nw] = conf->ttl_config + conf->ttl_config_stale;
		nw++;
	}
	/* Fresh 0 s and kept 0 s longer is not cached: to memcached an
	 * exptime of 0 would mean never to expire, and the copy would stand
	 * in during every MariaDB outage however old. */
	if (nw > 0 && cache_enabled(c) &&
	    conf->ttl_config + conf->ttl_config_stale > 0)
		(void)cache_set_many(c, wkeys, (const char *const *)payloads,
		    lens, ttls, nw);
	rc = 0;
out:
	for (size_t j = 0; j < nw; j++)
		free(payloads[j]);
	free(payloads);
	free(pks);
	free(rkeys);
	free(wkeys);
	free(lens);
	free(ttls);
	for (size_t j = 0; bt != NULL && j < m; j++) {
		json_object_put(bt[j].content);
		free(bt[j].text);
	}
	free(bt);
	free(lr);
	free(known);
	batch_rows_free(&b);
	return rc;
}

/* An epoch value: CACHE_GEN_LEN (= REVMEMO_EPOCH_LEN) lowercase hex. */
static bool
epoch_value(const struct cache_value *v)
{
	return v->data != NULL && v->len == REVMEMO_EPOCH_LEN &&
	    strspn(v->data, "0123456789abcdef") == REVMEMO_EPOCH_LEN;
}

/* How configs_by_keys looks a key up. */
enum lookup {
	BY_CONFIG,	/* its config entry */
	BY_REV,		/* its rev entry: it came with a revision */
	BY_MEMO		/* revmemo says its revision is current */
};

/*
 * The cache reads of configs_by_keys, in one multi-get: the epoch first
 * (revmemo.h), then the rev entry of each key that comes with a revision
 * (use_cache only) unless revmemo already knows it is current, and the
 * config entry of every other key.  A key whose revision is current is
 * done (FRESH, rev set, no fragment); the config entries of the others
 * with a revision, and of memo answers the epoch did not confirm, are
 * read in a second multi-get.  vals[i] ends up holding key i's config
 * entry, or nothing.  ckeys/rkeys are scratch for n keys; ckeys gets the
 * config keys.  A cache failure is a miss.  Returns 0, or -1 on OOM.
 */
static int
cache_lookup(struct cache *c, struct configs_entry *e, size_t n,
    bool use_cache, const struct timespec *now, unsigned ttl,
    char (*ckeys)[CACHE_KEY_MAX], char (*rkeys)[CACHE_KEY_MAX],
    struct cache_value *vals)
{
	char ekey[CACHE_KEY_MAX];
	const char **gk = NULL;
	struct cache_value *gv = NULL;
	enum lookup *how = NULL;
	size_t *at = NULL, *again = NULL, m = 1, na = 0;
	bool answered, memo_ok;
	int rc = -1;

	if ((gk = calloc(n + 1, sizeof(*gk))) == NULL ||
	    (gv = calloc(n + 1, sizeof(*gv))) == NULL ||
	    (how = calloc(n, sizeof(*how))) == NULL ||
	    (at = calloc(n, sizeof(*at))) == NULL ||
	    (again = calloc(n, sizeof(*again))) == NULL)
		goto out;
	/* What is remembered holds under the settings it was learnt under. */
	revmemo_settings(cache_config_tag(c));
	/* The epoch goes first: it vouches only for what is read after it. */
	cache_key_epoch(c, ekey, sizeof(ekey));
	gk[0] = ekey;
	for (size_t i = 0; i < n; i++) {
		cache_key_config(c, ckeys[i], CACHE_KEY_MAX, e[i].key);
		how[i] = BY_CONFIG;
		/* Only a hex rev can be current: no other reaches a rev
		 * entry, so what matches one is hex as well. */
		if (use_cache && e[i].revision != NULL &&
		    valid_hex32(e[i].revision)) {
			how[i] = revmemo_current(e[i].key, e[i].revision,
			    (int64_t)now->tv_sec, ttl) ? BY_MEMO : BY_REV;
			if (how[i] == BY_REV)
				cache_key_config_rev(c, rkeys[i],
				    CACHE_KEY_MAX, e[i].key);
		}
		if (how[i] == BY_MEMO)
			continue;
		at[i] = m;
		gk[m++] = how[i] == BY_REV ? rkeys[i] : ckeys[i];
	}
	answered = cache_get_many(c, gk, m, gv) == 0;
	memo_ok = revmemo_epoch(epoch_value(&gv[0]) ? gv[0].data : NULL);
	if (answered && !epoch_value(&gv[0]))
		/* Evicted, restarted or invalidated: a new epoch for all. */
		(void)cache_epoch_renew(c);
	for (size_t i = 0; i < n; i++) {
		struct cache_value *v = &gv[at[i]];
		int64_t built;

		switch (how[i]) {
		case BY_CONFIG:
			vals[i] = *v;
			memset(v, 0, sizeof(*v));
			break;
		case BY_MEMO:
			if (!memo_ok) {
				again[na++] = i;
				break;
			}
			e[i].state = CONFIGS_FRESH;
			memcpy(e[i].rev, e[i].revision, sizeof(e[i].rev));
			break;
		case BY_REV:
			if (!rev_entry_current(v, e[i].revision, now, ttl,
			    &built)) {
				again[na++] = i;
				break;
			}
			e[i].state = CONFIGS_FRESH;
			memcpy(e[i].rev, e[i].revision, sizeof(e[i].rev));
			revmemo_put(e[i].key, e[i].revision, built);
			break;
		}
	}
	if (na > 0) {
		/* gk is free again: the keys of the second multi-get. */
		cache_values_free(gv, m);
		for (size_t j = 0; j < na; j++)
			gk[j] = ckeys[again[j]];
		(void)cache_get_many(c, gk, na, gv);
		for (size_t j = 0; j < na; j++) {
			vals[again[j]] = gv[j];
			memset(&gv[j], 0, sizeof(gv[j]));
		}
	}
	rc = 0;
out:
	if (gv != NULL)
		cache_values_free(gv, m > na ? m : na);
	free(gv);
	free(gk);
	free(how);
	free(at);
	free(again);
	return rc;
}

int
configs_by_keys(struct app *app, struct configs_entry *e, size_t n,
    bool use_cache, const struct timespec *now)
{
	struct cache *c = app->store != NULL ? store_cache(app->store) : NULL;
	const unsigned ttl = app->conf->ttl_config;
	char (*ckeys)[CACHE_KEY_MAX] = NULL, (*rkeys)[CACHE_KEY_MAX] = NULL;
	const char **ckp = NULL;
	struct cache_value *vals = NULL;
	struct cached *old = NULL;
	size_t *todo = NULL, m = 0;
	int rc = -1;

	for (size_t i = 0; i < n; i++) {
		e[i].state = CONFIGS_PENDING;
		e[i].mem = NULL;
		memset(&e[i].frag, 0, sizeof(e[i].frag));
		e[i].rev[0] = '\0';
		e[i].last_change[0] = '\0';
	}
	if (n == 0)
		return 0;
	if ((ckeys = calloc(n, sizeof(*ckeys))) == NULL ||
	    (rkeys = calloc(n, sizeof(*rkeys))) == NULL ||
	    (ckp = calloc(n, sizeof(*ckp))) == NULL ||
	    (vals = calloc(n, sizeof(*vals))) == NULL ||
	    (old = calloc(n, sizeof(*old))) == NULL ||
	    (todo = calloc(n, sizeof(*todo))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		ckp[i] = ckeys[i];
	if (c != NULL && cache_enabled(c) &&
	    cache_lookup(c, e, n, use_cache, now, ttl, ckeys, rkeys,
	    vals) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (e[i].state == CONFIGS_FRESH)
			continue;	/* unchanged, known from its rev */
		cached_parse(&vals[i], &old[i]);
		cached_check(e[i].key, &vals[i], &old[i]);
		if (use_cache && old[i].present &&
		    is_fresh(old[i].built_at, now, ttl))
			entry_adopt(&e[i], CONFIGS_FRESH, &vals[i], &old[i]);
		else
			todo[m++] = i;
	}
	if (m > 0 && app->store != NULL &&
	    build_batch(app, e, todo, m, old, ckp, now) != 0)
		goto out;
	/* What could not be built: an expired copy beats "pending". */
	for (size_t j = 0; j < m; j++) {
		size_t i = todo[j];
		if (e[i].state == CONFIGS_PENDING && old[i].present) {
			entry_adopt(&e[i], CONFIGS_STALE, &vals[i], &old[i]);
			metrics_inc(MF_STALE_SERVED, 0, 0, 0);
		}
	}
	rc = 0;
out:
	if (rc != 0)
		configs_entries_free(e, n);
	if (vals != NULL)
		cache_values_free(vals, n);
	free(vals);
	free(ckeys);
	free(rkeys);
	free(ckp);
	free(old);
	free(todo);
	return rc;
}

int
configs_by_projects(struct app *app, const int64_t *ids, size_t n,
    const struct timespec *now, char **json, size_t *lens,
    bool *unavailable)
{
	char now_text[PROJECTCONFIG_TIME_LEN + 1];
	struct store_keylist *kl = NULL;
	struct batch_rows b;
	struct built *bt = NULL;
	struct lastchange_req *lr = NULL;
	size_t nl = 0;
	int rc = -1, rc_kl = STORE_OK;

	*unavailable = false;
	memset(&b, 0, sizeof(b));
	for (size_t i = 0; i < n; i++)
		json[i] = NULL;
	if (app->store == NULL) {
		*unavailable = true;
		return 0;
	}
	if (projectconfig_format_time((int64_t)now->tv_sec,
	    now->tv_nsec / 1000, now_text) != 0 ||
	    batch_fetch(app->store, NULL, 0, ids, n, &b) != 0 ||
	    (kl = calloc(b.np + 1, sizeof(*kl))) == NULL ||
	    (bt = calloc(n + 1, sizeof(*bt))) == NULL ||
	    (lr = calloc(n + 1, sizeof(*lr))) == NULL)
		goto out;
	if (b.np > 0)
		rc_kl = store_projectkeys_by_project_ids(app->store, b.pids,
		    b.np, kl);
	for (size_t i = 0; i < n; i++) {
		const struct model_project *p = NULL;
		const struct model_org *o = NULL;
		json_object *popt = NULL, *oopt = NULL;
		const struct model_txthresholds *thr = NULL;
		int known = batch_resolve(&b, ids[i], &p, &o, &popt, &oopt,
		    &thr);
		long pi = find_id(b.pids, b.np, ids[i]);

		if (known > 0 && rc_kl != STORE_OK)
			known = -1;
		if (known < 0) {
			*unavailable = true;
			continue;
		}
		if (known == 0) {
			if ((json[i] = strdup(disabled_json)) == NULL)
				goto out;
			lens[i] = sizeof(disabled_json) - 1;
			continue;
		}
		/* Not cached: lastChange always from the persisted pair. */
		if (build_content(p, o, kl[pi].keys, kl[pi].n, popt, oopt,
		    thr, app->conf, NULL, now_text, &bt[i], lr, &nl) != 0)
			goto out;
	}
	lastchange_resolve(app->store, lr, nl, now_text);
	for (size_t i = 0; i < n; i++) {
		char lc[PROJECTCONFIG_TIME_LEN + 1];

		if (built_waiting(&bt[i]) && (json[i] = render_built(&bt[i],
		    lr, now_text, &lens[i], lc)) == NULL)
			goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		for (size_t i = 0; i < n; i++) {
			free(json[i]);
			json[i] = NULL;
		}
	for (size_t i = 0; bt != NULL && i < n; i++) {
		json_object_put(bt[i].content);
		free(bt[i].text);
	}
	free(bt);
	free(lr);
	free(kl);
	batch_rows_free(&b);
	return rc;
}

void
configs_entries_free(struct configs_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].mem);
		e[i].mem = NULL;
		memset(&e[i].frag, 0, sizeof(e[i].frag));
		e[i].state = CONFIGS_PENDING;
	}
}
