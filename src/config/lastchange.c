/*
 * lastchange.c - lastChange from the persisted project revision: the
 * revision that leaves out per-key parts, one read per batch, a write only
 * when a project's revision moved, and now whenever MariaDB says nothing;
 * and configs.c's hand-off to it (configs_int.h): where a built config's
 * lastChange comes from, and its rendering once that is known.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "clock.h"
#include "configs_int.h"
#include "lastchange.h"
#include "log.h"
#include "metrics.h"
#include "pc_build.h"
#include "store_rev.h"

/* After a failed write, claims rest this long (a read-only server). */
#define CLAIM_REST_MS	60000

/* The store's sizes are the config's: one text travels between them. */
_Static_assert(STORE_REV_LEN == PROJECTCONFIG_REV_LEN, "rev length");
_Static_assert(STORE_REV_TIME_LEN == PROJECTCONFIG_TIME_LEN, "time length");

/* Whether the last failure to read, to write, was logged (cleared by
 * a success of the same kind). */
static bool		warned_read, warned_write;
/* clock_mono_ms() before which no claim is tried. */
static long long	claim_rest_until;

bool
lastchange_wanted(json_object *content)
{
	json_object *d;

	return json_object_is_type(content, json_type_object) &&
	    !(json_object_object_get_ex(content, "disabled", &d) &&
	    json_object_get_boolean(d));
}

/* Is e a quota of scope "key" (one key's rate limit)? */
static bool
is_key_quota(json_object *e)
{
	json_object *s;

	return json_object_object_get_ex(e, "scope", &s) &&
	    json_object_is_type(s, json_type_string) &&
	    strcmp(json_object_get_string(s), "key") == 0;
}

/*
 * without_key_quotas - a new array of list's entries (shared, not copied)
 * but its key quotas.  NULL on OOM.
 */
static json_object *
without_key_quotas(json_object *list)
{
	size_t n = json_object_array_length(list);
	json_object *kept;

	if ((kept = json_object_new_array_ext((int)n)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i);

		if (is_key_quota(e))
			continue;
		if (json_object_array_add(kept, json_object_get(e)) != 0) {
			json_object_put(e);
			json_object_put(kept);
			return NULL;
		}
	}
	return kept;
}

/*
 * config_pair - cfg's digest (out1) and its project digest (out2): with
 * "quotas" (an array) without key quotas, and left out when only key
 * quotas were there (a config with no quota but a key's has no "quotas",
 * and both keys of a project must agree).  0, or -1 on OOM.
 */
static int
config_pair(json_object *cfg, unsigned char out1[REV_DIGEST_BYTES],
    unsigned char out2[REV_DIGEST_BYTES])
{
	unsigned char q1[REV_DIGEST_BYTES], q2[REV_DIGEST_BYTES];
	struct pc_hash_edit e = { NULL, NULL, NULL, NULL };
	json_object *quotas, *kept = NULL;
	int rc = -1;

	if (json_object_object_get_ex(cfg, "quotas", &quotas) &&
	    json_object_is_type(quotas, json_type_array)) {
		size_t n = json_object_array_length(quotas);

		if ((kept = without_key_quotas(quotas)) == NULL ||
		    pc_hash_node(quotas, q1) != 0)
			goto out;
		/* The same entries, or some of them, walked again. */
		if (json_object_array_length(kept) == n)
			memcpy(q2, q1, sizeof(q2));
		else if (json_object_array_length(kept) > 0 &&
		    pc_hash_node(kept, q2) != 0)
			goto out;
		e = (struct pc_hash_edit){ NULL, "quotas", q1,
		    json_object_array_length(kept) > 0 ? q2 : NULL };
	}
	rc = pc_hash_object_pair(cfg, &e, out1, out2);
out:
	json_object_put(kept);
	return rc;
}

int
lastchange_revs(json_object *content, char rev[PROJECTCONFIG_REV_LEN + 1],
    char prev[PROJECTCONFIG_REV_LEN + 1])
{
	unsigned char c1[REV_DIGEST_BYTES], c2[REV_DIGEST_BYTES];
	unsigned char k[REV_DIGEST_BYTES], p[REV_DIGEST_BYTES];
	struct pc_hash_edit e = { "publicKeys", NULL, NULL, NULL };
	json_object *cfg;

	if (sodium_init() < 0 || !json_object_is_type(content, json_type_object))
		return -1;
	/* The config is walked once for both digests, then its two digests
	 * enter the two top-level ones. */
	if (json_object_object_get_ex(content, "config", &cfg) &&
	    json_object_is_type(cfg, json_type_object)) {
		if (config_pair(cfg, c1, c2) != 0)
			return -1;
		e = (struct pc_hash_edit){ "publicKeys", "config", c1, c2 };
	}
	if (pc_hash_object_pair(content, &e, k, p) != 0)
		return -1;
	sodium_bin2hex(rev, PROJECTCONFIG_REV_LEN + 1, k, sizeof(k));
	sodium_bin2hex(prev, PROJECTCONFIG_REV_LEN + 1, p, sizeof(p));
	return 0;
}

int
lastchange_project_rev(json_object *content,
    char out[PROJECTCONFIG_REV_LEN + 1])
{
	char rev[PROJECTCONFIG_REV_LEN + 1], prev[PROJECTCONFIG_REV_LEN + 1];

	if (lastchange_revs(content, rev, prev) != 0)
		return -1;
	memcpy(out, prev, sizeof(prev));
	return 0;
}

/* A failure to read or write the pair: logged once until a success. */
static void
failed(struct store *st, const char *what, bool *warned)
{
	char clean[200];

	if (*warned)
		return;
	*warned = true;
	log_warn("lastChange: cannot %s sentry:relay-rev (%s); answering "
	    "the current time until MariaDB answers", what,
	    log_sanitize(clean, sizeof(clean), store_last_error(st)));
}

/*
 * claim - persist (revs[i], now) for the n projects of ids whose stored
 * revision is not revs[i], the first nfresh of them having no pair at all;
 * got[i] is then the pair that stands.  The projects without a pair are
 * added in one statement (store_revs_add), the usual first build; what
 * that does not settle, and the revisions that moved, go to the
 * transaction (store_revs_claim), once more on failure: a lost race ends
 * in a deadlock error, and the retry reads the winner's pair.  STORE_OK,
 * or the store's code of the last failure.
 */
static int
claim(struct store *st, const int64_t *ids, const char *const *revs,
    size_t n, size_t nfresh, const char *now, struct store_rev *got)
{
	const char **rrevs = NULL;
	int64_t *rids = NULL;
	bool *settled = NULL, *force = NULL, *rforce = NULL;
	size_t *at = NULL, m = 0;
	struct store_rev *rgot = NULL;
	int rc = STORE_ERROR;

	if ((settled = calloc(n, sizeof(*settled))) == NULL ||
	    (force = calloc(n, sizeof(*force))) == NULL ||
	    (rids = calloc(n, sizeof(*rids))) == NULL ||
	    (rrevs = calloc(n, sizeof(*rrevs))) == NULL ||
	    (rforce = calloc(n, sizeof(*rforce))) == NULL ||
	    (at = calloc(n, sizeof(*at))) == NULL ||
	    (rgot = calloc(n, sizeof(*rgot))) == NULL)
		goto out;
	if (nfresh > 0)
		(void)store_revs_add(st, ids, revs, nfresh, now, got, settled,
		    force);
	for (size_t i = 0; i < n; i++) {
		if (settled[i])
			continue;
		rids[m] = ids[i];
		rrevs[m] = revs[i];
		rforce[m] = force[i];
		at[m++] = i;
	}
	rc = STORE_OK;
	if (m == 0)
		goto out;
	if ((rc = store_revs_claim(st, rids, rrevs, rforce, m, now, rgot)) !=
	    STORE_OK)
		rc = store_revs_claim(st, rids, rrevs, rforce, m, now, rgot);
	if (rc == STORE_OK)
		for (size_t j = 0; j < m; j++)
			got[at[j]] = rgot[j];
out:
	free(settled);
	free(force);
	free(rids);
	free(rrevs);
	free(rforce);
	free(at);
	free(rgot);
	return rc;
}

void
lastchange_resolve(struct store *st, struct lastchange_req *r, size_t n,
    const char *now)
{
	struct store_rev *have = NULL, *got = NULL;
	const char **crevs = NULL;
	int64_t *ids = NULL, *cids = NULL;
	size_t m = 0, nc = 0, nfresh = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		snprintf(r[i].last_change, sizeof(r[i].last_change), "%s",
		    now);
	if (st == NULL || n == 0)
		return;
	if ((ids = calloc(n, sizeof(*ids))) == NULL ||
	    (have = calloc(n, sizeof(*have))) == NULL ||
	    (cids = calloc(n, sizeof(*cids))) == NULL ||
	    (crevs = calloc(n, sizeof(*crevs))) == NULL ||
	    (got = calloc(n, sizeof(*got))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		add_id(ids, &m, r[i].project_id);
	if ((rc = store_revs_read(st, ids, m, have)) != STORE_OK) {
		failed(st, "read", &warned_read);
		goto out;
	}
	warned_read = false;
	/* Projects whose revision moved; the first request decides.  Those
	 * without a pair come first (claim). */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			long k = find_id(ids, m, r[i].project_id);

			if ((have[k].rev[0] == '\0') != (pass == 0) ||
			    strcmp(have[k].rev, r[i].prev) == 0 ||
			    find_id(cids, nc, r[i].project_id) >= 0)
				continue;
			if (pass == 0)
				nfresh++;
			cids[nc] = r[i].project_id;
			crevs[nc++] = r[i].prev;
		}
	if (nc > 0 && clock_mono_ms() >= claim_rest_until) {
		if (claim(st, cids, crevs, nc, nfresh, now, got) != STORE_OK) {
			failed(st, "write", &warned_write);
			claim_rest_until = clock_mono_ms() + CLAIM_REST_MS;
		} else {
			warned_write = false;
			for (size_t j = 0; j < nc; j++)
				have[find_id(ids, m, cids[j])] = got[j];
		}
	}
	for (size_t i = 0; i < n; i++) {
		long k = find_id(ids, m, r[i].project_id);

		if (strcmp(have[k].rev, r[i].prev) == 0 &&
		    have[k].last_change[0] != '\0')
			snprintf(r[i].last_change, sizeof(r[i].last_change),
			    "%s", have[k].last_change);
	}
out:
	free(ids);
	free(have);
	free(cids);
	free(crevs);
	free(got);
}

/* The hand-off from configs.c: building, then rendering, one config. */

/*
 * render_pending - render bt, which waits for lr[bt->req], now and release
 * its content.  Returns 0, or -1 on OOM with bt as it was.  A batch of
 * cold configs waits for one read of the persisted pairs
 * (lastchange_resolve) before any of them can be rendered.  Kept as json-c
 * trees, 500 of them held a worker's heap at over 20 MB; rendered now,
 * with now standing in for the lastChange, each waits as its text
 * (about a quarter of that), and the answer is written over the stand-in.  Both are VALID_TIMESTAMP_LEN
 * characters that JSON does not escape (valid_timestamp, store_rev.c),
 * and the place is found, not guessed: the first ,"lastChange":" of the
 * text, which only the key itself can be, since a '"' inside a JSON
 * string is always escaped and the keys before it (disabled, slug,
 * lastFetch) are projectconfig_render's own.  A text that does not read
 * as expected keeps its tree and is rendered later, as before.
 */
static int
render_pending(struct built *bt, const char *now)
{
	static const char marker[] = ",\"lastChange\":\"";
	const size_t tl = PROJECTCONFIG_TIME_LEN;
	const char *at;
	size_t len;
	char *text;

	if (strlen(now) != tl ||
	    (text = projectconfig_render(bt->content, bt->rev, now, now,
	    &len)) == NULL)
		return -1;
	at = strstr(text, marker);
	if (at == NULL || (size_t)(at - text) + sizeof(marker) - 1 + tl >=
	    len || memcmp(at + sizeof(marker) - 1, now, tl) != 0 ||
	    at[sizeof(marker) - 1 + tl] != '"') {
		free(text);
		return 0;
	}
	bt->text = text;
	bt->text_len = len;
	bt->lc_at = (size_t)(at - text) + sizeof(marker) - 1;
	json_object_put(bt->content);
	bt->content = NULL;
	return 0;
}

/*
 * build_content - build one config into *bt, and decide where its
 * lastChange comes from: the cached copy's (old) when the rev did not
 * change, which costs nothing; else the project's persisted pair, asked
 * for in lr[*nl] (lastchange.h), so that a flushed or absent memcached
 * does not move it; such a config waits as its text (render_pending).
 * Returns 0, or -1 on OOM (bt->content may be set).
 */
int
build_content(const struct model_project *p, const struct model_org *o,
    const struct model_projectkey *const *keys, size_t nkeys,
    json_object *popt, json_object *oopt,
    const struct model_txthresholds *thr, const struct conf *conf,
    const struct cached *old, const char *now, struct built *bt,
    struct lastchange_req *lr, size_t *nl)
{
	char prev[PROJECTCONFIG_REV_LEN + 1];
	struct timespec t0;

	bt->lc = NULL;
	bt->req = -1;
	/* Sentry's get_project_config timer: the build of one config */
	metrics_now(&t0);
	bt->content = projectconfig_content(p, o, keys, nkeys, popt, oopt, thr,
	    conf);
	metrics_observe(MF_SENTRY_GET_PROJECT_CONFIG, 0,
	    metrics_seconds_since(&t0));
	if (bt->content == NULL ||
	    lastchange_revs(bt->content, bt->rev, prev) != 0)
		return -1;
	metrics_inc(MF_CONFIGS_BUILT, 0, 0, 0);
	if (!lastchange_wanted(bt->content))
		return 0;
	if (old != NULL && old->present && strcmp(old->rev, bt->rev) == 0 &&
	    old->last_change[0] != '\0') {
		bt->lc = old->last_change;
		return 0;
	}
	memcpy(lr[*nl].prev, prev, sizeof(prev));
	lr[*nl].project_id = p->id;
	bt->req = (long)(*nl)++;
	return render_pending(bt, now);
}

bool
built_waiting(const struct built *bt)
{
	return bt->content != NULL || bt->text != NULL;
}

/*
 * render_built - the text of bt once lastchange_resolve answered lr:
 * malloc'd, length in *len and its lastChange in last_change; NULL on OOM.
 */
char *
render_built(struct built *bt, const struct lastchange_req *lr,
    const char *now, size_t *len,
    char last_change[PROJECTCONFIG_TIME_LEN + 1])
{
	const char *lc = bt->lc != NULL ? bt->lc :
	    bt->req >= 0 ? lr[bt->req].last_change : now;
	char *text;

	if (bt->text != NULL && strlen(lc) == PROJECTCONFIG_TIME_LEN) {
		text = bt->text;
		memcpy(text + bt->lc_at, lc, PROJECTCONFIG_TIME_LEN);
		*len = bt->text_len;
		bt->text = NULL;
	} else if (bt->content == NULL)
		return NULL;	/* a pending text and a malformed lc */
	else
		text = projectconfig_render(bt->content, bt->rev, now, lc,
		    len);
	if (text != NULL)
		snprintf(last_change, PROJECTCONFIG_TIME_LEN + 1, "%s", lc);
	return text;
}
