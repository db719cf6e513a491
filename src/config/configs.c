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
 * (own_entry), rebuilt and written over.
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
 * Whatever memcached returns is untrusted input (anyone who reaches it
 * can write there, and values can be damaged): every field is checked
 * (built_at decimal, rev 32 lowercase hex, lastChange in the exact time
 * format, CRC and operator 8 lowercase hex, lengths against the value),
 * and the fragment must be what zfrag_make makes of text_len bytes with
 * that CRC (zfrag_check: the operator recomputed, the bytes inflated).
 * An entry that fails is a miss, logged, and overwritten by the rebuild.
 * Inflating every fragment of every answer would cost more than the
 * rest of a warm answer, so a process remembers the entries it has
 * checked (or written) by a keyed digest of their public key, header
 * line and fragment length (checked_*): relaycfg never writes two
 * different fragments under one header (built_at, rev, CRC, lengths),
 * so a remembered header stands for bytes already checked.  A writer
 * that forges a checked header over other bytes could as well write a
 * whole valid config; even then the answer keeps its framing (zfrag.h:
 * exactly the bytes counted are sent).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache.h"
#include "configs.h"
#include "configs_int.h"
#include "lastchange.h"
#include "log.h"
#include "metrics.h"
#include "revmemo.h"
#include "store.h"
#include "valid.h"

/* Longest header line: two times, rev, CRC, length, spaces. */
#define CACHED_HEAD_MAX	160
/* No config comes near this; a larger length is a damaged entry. */
#define CACHED_TEXT_MAX	(64u << 20)

static const char disabled_json[] = "{\"disabled\":true}";

/*
 * Entries a process remembers as checked: a power of two, in sets of two
 * (the one used last first).  A miss costs the fragment's inflate and CRC
 * (zfrag_check, ~20 us for a 10 KB config), so the memo must hold a
 * fleet's working set: 4096 slots made 100 warm keys drawn from 10,000
 * cost 2.9 ms of a worker against 0.65 ms on a small set (bench S5-S2);
 * 65536 (512 KB a process) one to a slot, 0.98 ms, the rest being keys
 * that shared a slot (14% of them, each evicting the other); two to a
 * set leaves that to keys with two others in their set (under 4%).
 */
#define CHECKED_SLOTS	65536
#define CHECKED_WAYS	2
_Static_assert(CHECKED_WAYS == 2, "checked_has and checked_put use two");
/* A public key is 32 characters (configs.h). */
#define CHECKED_KEY_MAX	32

/*
 * The next field of [*p, end), up to sep: its start in *f and length in
 * *n, and *p past the separator.  false when there is no separator or the
 * field is empty.
 */
static bool
next_field(const char **p, const char *end, char sep, const char **f,
    size_t *n)
{
	const char *e = memchr(*p, sep, (size_t)(end - *p));

	if (e == NULL || e == *p)
		return false;
	*f = *p;
	*n = (size_t)(e - *p);
	*p = e + 1;
	return true;
}

/* n decimal digits, at most max. */
static bool
parse_dec(const char *s, size_t n, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long v = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Exactly 8 lowercase hex digits. */
static bool
parse_hex32(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	if (n != 8)
		return false;
	for (size_t i = 0; i < 8; i++) {
		int d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
		    s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;

		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return true;
}

/* "-" (none, out gets "") or exactly len characters into out. */
static bool
parse_opt(const char *s, size_t n, size_t len, char *out)
{
	if (n == 1 && s[0] == '-') {
		out[0] = '\0';
		return true;
	}
	if (n != len)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/*
 * Parse one cache payload; anything malformed is simply absent.  By hand:
 * this runs for every key of every warm request, and sscanf was a tenth
 * of a 100-key answer's CPU.  The fragment after the header line is never
 * scanned.
 */
static void
cached_parse(const struct cache_value *v, struct cached *out)
{
	unsigned long long built, text_len;
	const char *p, *end, *f;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (v->data == NULL)
		return;
	p = v->data;
	if ((end = memchr(p, '\n', v->len < CACHED_HEAD_MAX ? v->len :
	    CACHED_HEAD_MAX)) == NULL || (size_t)(end - p) + 1 >= v->len)
		return;
	if (!next_field(&p, end, ' ', &f, &n) ||
	    !parse_dec(f, n, INT64_MAX, &built) ||
	    !next_field(&p, end, ' ', &f, &n) ||
	    !parse_opt(f, n, PROJECTCONFIG_REV_LEN, out->rev) ||
	    !next_field(&p, end, ' ', &f, &n) ||
	    !parse_opt(f, n, PROJECTCONFIG_TIME_LEN, out->last_change) ||
	    !next_field(&p, end, ' ', &f, &n) ||
	    !parse_hex32(f, n, &out->frag.crc) ||
	    !next_field(&p, end, ' ', &f, &n) ||
	    !parse_hex32(f, n, &out->frag.op) ||
	    !parse_dec(p, (size_t)(end - p), CACHED_TEXT_MAX, &text_len) ||
	    (out->rev[0] != '\0' && !valid_hex32(out->rev)) ||
	    (out->last_change[0] != '\0' && !valid_timestamp(out->last_change))) {
		memset(out, 0, sizeof(*out));
		return;
	}
	out->head_len = (size_t)(end - v->data) + 1;
	out->built_at = (int64_t)built;
	out->frag.data = (const unsigned char *)end + 1;
	out->frag.len = v->len - (size_t)(end - v->data) - 1;
	out->frag.text_len = (size_t)text_len;
	out->present = true;
}

/* The checked entries of this process, by digest (0: empty slot). */
static uint64_t		checked_slots[CHECKED_SLOTS];
static unsigned char	checked_key[crypto_shorthash_KEYBYTES];
static bool		checked_key_made;

/*
 * The digest that stands for an entry: SipHash-2-4, keyed per process
 * so that nobody outside can aim two entries at one value, over the
 * public key, the header line and the fragment's length.  Never 0.
 */
static uint64_t
checked_digest(const char *public_key, const char *head, size_t head_len,
    size_t frag_len)
{
	unsigned char buf[CHECKED_KEY_MAX + 1 + CACHED_HEAD_MAX + 8];
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t d, fl = (uint64_t)frag_len;
	size_t kl = strlen(public_key), n = 0;

	if (!checked_key_made) {
		crypto_shorthash_keygen(checked_key);
		checked_key_made = true;
	}
	/* Both bounded already (cached_parse, configs.h): never cut. */
	if (kl > CHECKED_KEY_MAX)
		kl = CHECKED_KEY_MAX;
	if (head_len > CACHED_HEAD_MAX)
		head_len = CACHED_HEAD_MAX;
	memcpy(buf, public_key, kl);
	n = kl;
	buf[n++] = '\0';
	memcpy(buf + n, head, head_len);
	n += head_len;
	memcpy(buf + n, &fl, sizeof(fl));
	n += sizeof(fl);
	crypto_shorthash(h, buf, n, checked_key);
	memcpy(&d, h, sizeof(d));
	return d != 0 ? d : 1;
}

/* The set of d: CHECKED_WAYS slots, the one used last first. */
static uint64_t *
checked_set(uint64_t d)
{
	return &checked_slots[(d & (CHECKED_SLOTS / CHECKED_WAYS - 1)) *
	    CHECKED_WAYS];
}

static bool
checked_has(uint64_t d)
{
	uint64_t *set = checked_set(d);

	if (set[0] == d)
		return true;
	if (set[1] != d)
		return false;
	set[1] = set[0];
	set[0] = d;
	return true;
}

static void
checked_put(uint64_t d)
{
	uint64_t *set = checked_set(d);

	if (set[0] != d) {
		set[1] = set[0];
		set[0] = d;
	}
}

/*
 * cached_check - c (parsed from v for public_key) is usable only when
 * its fragment is what its header says; a failure is logged (the key is
 * 32 hex, the reason a fixed string: no cached bytes reach the log) and
 * c becomes absent.
 */
static void
cached_check(const char *public_key, const struct cache_value *v,
    struct cached *c)
{
	const char *why;
	uint64_t d;

	if (!c->present)
		return;
	d = checked_digest(public_key, v->data, c->head_len, c->frag.len);
	if (checked_has(d))
		return;
	if (!zfrag_check(&c->frag, &why)) {
		log_warn("cached config of %s is damaged (%s): rebuilt",
		    public_key, why);
		memset(c, 0, sizeof(*c));
		return;
	}
	checked_put(d);
}

/*
 * own_entry - v as an entry of this process's settings: its tag
 * (cache_config_tag) stripped, or a miss when it was built under other
 * settings (another relaycfg.conf, another release), which is never
 * answered nor kept as a stale copy.  v keeps its buffer either way.
 */
static void
own_entry(const struct cache *c, struct cache_value *v)
{
	const char *tag = cache_config_tag(c);

	if (v->data == NULL)
		return;
	if (v->len < CACHE_CONFIG_TAG_LEN ||
	    memcmp(v->data, tag, CACHE_CONFIG_TAG_LEN) != 0) {
		v->data = NULL;
		v->len = 0;
		return;
	}
	v->data += CACHE_CONFIG_TAG_LEN;
	v->len -= CACHE_CONFIG_TAG_LEN;
}

/* Was something built at built_at still fresh at now? */
static bool
is_fresh(int64_t built_at, const struct timespec *now, unsigned ttl)
{
	return (int64_t)now->tv_sec >= built_at &&
	    (int64_t)now->tv_sec - built_at < (int64_t)ttl;
}

/* Does rev entry v say rev is the current (fresh) revision? */
static bool
rev_entry_current(const struct cache_value *v, const char *rev,
    const struct timespec *now, unsigned ttl, int64_t *built_at)
{
	const char *sp;
	char *end;
	long long built;

	/* By hand: this runs for every key of Relay's steady-state polls. */
	if (v->data == NULL || v->len < PROJECTCONFIG_REV_LEN + 2 ||
	    (sp = v->data + v->len - PROJECTCONFIG_REV_LEN - 1)[0] != ' ' ||
	    memcmp(sp + 1, rev, PROJECTCONFIG_REV_LEN) != 0 ||
	    !isdigit((unsigned char)v->data[0]))
		return false;
	errno = 0;
	built = strtoll(v->data, &end, 10);
	*built_at = built;
	return errno == 0 && end == sp && is_fresh(built, now, ttl);
}

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
		 * header as own_entry leaves it, without the tag). */
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
	if (nw > 0 && cache_enabled(c))
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
			own_entry(c, &vals[i]);
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
			own_entry(c, v);
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
			own_entry(c, &vals[again[j]]);
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
