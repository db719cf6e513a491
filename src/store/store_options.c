/*
 * store_options.c - option dicts as Sentry reads them: organization,
 * template, and project options over their template's, one JSON object
 * per owner, through the store's cache-aside mechanism (store_batch.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "db.h"
#include "log.h"
#include "store.h"
#include "store_int.h"

const struct dict_desc po_desc = {
	"po", "sentry_projectoptions", "project_id"
};
const struct dict_desc oo_desc = {
	"oo", "sentry_organizationoptions", "organization_id"
};
const struct dict_desc to_desc = {
	"to", "sentry_projecttemplateoption", "project_template_id"
};

/* A cached dict: any JSON object, else a miss. */
static int
dict_decode(struct store *st, const void *arg, int64_t id, json_object *a,
    const void **obj)
{
	(void)arg;
	(void)id;
	*obj = NULL;
	if (!json_object_is_type(a, json_type_object))
		return STORE_OK;
	/* The caller puts a; the store keeps its own reference. */
	if (!store_own(st, json_object_get(a), OWN_JSON))
		return STORE_ERROR;
	*obj = a;
	return STORE_OK;
}

/* One query for the options of ids (sorted, unique); each owner gets a
 * dict, empty when it has none, written back. */
static int
dict_load(struct store *st, const void *arg, const int64_t *ids, size_t n,
    struct wb *w)
{
	const struct dict_desc *d = arg;
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
	store_sql_ids(&q, ids, n);
	if ((rc = store_sql_query(st, store_reader(st), &q, &r)) != STORE_OK)
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
		hit = bsearch(&owner, ids, n, sizeof(*ids), store_cmp_i64);
		if (hit == NULL)
			continue;
		if (v != NULL &&
		    (val = codec_parse(v, db_res_len(r, 2))) == NULL &&
		    !codec_is_null(v, db_res_len(r, 2))) {
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
		if (!store_own(st, o, OWN_JSON))
			goto oom;
		cache_key_id(st->cache, key, sizeof(key), d->kind, ids[i]);
		/* Not remembered, the owner would go without options. */
		if (!store_lc_put(st, key, o, NULL))
			goto oom;
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


/* The batch_ops of an options table (its kind is the dict's). */
static struct batch_ops
dict_ops(const struct dict_desc *d)
{
	return (struct batch_ops){ d->kind, false, dict_decode, dict_load };
}

/* Plain dicts (org, template): out[i] the dict of ids[i], or NULL. */
static int
get_plain_dicts(struct store *st, const struct dict_desc *d,
    const int64_t *ids, size_t n, json_object **out)
{
	struct batch_ops ops = dict_ops(d);
	struct batch_req req = { &ops, d, ids, n };
	int rc;

	rc = batch_get(st, &req, 1, true);
	for (size_t i = 0; i < n; i++)
		out[i] = (json_object *)(uintptr_t)store_lc_id(st, d->kind,
		    ids[i]);
	return rc;
}

/* store_org_options - see store.h. */
int
store_org_options(struct store *st, const int64_t *org_ids, size_t n,
    json_object **out)
{
	return get_plain_dicts(st, &oo_desc, org_ids, n, out);
}

/* store_project_own_options - see store.h. */
int
store_project_own_options(struct store *st, const int64_t *project_ids,
    size_t n, json_object **out)
{
	return get_plain_dicts(st, &po_desc, project_ids, n, out);
}

/* store_template_options - see store.h. */
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
	return (json_object *)(uintptr_t)store_lc_id(st, kind, id);
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

/* store_project_options - see store.h. */
int
store_project_options(struct store *st, const int64_t *project_ids, size_t n,
    json_object **out)
{
	const struct model_project **projects = NULL;
	int64_t *pids = NULL, *tids = NULL;
	size_t np = 0, nt = 0;
	struct batch_ops pops = dict_ops(&po_desc), tops = dict_ops(&to_desc);
	struct batch_req reqs[2];
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
	reqs[0] = (struct batch_req){ &pops, &po_desc, pids, np };
	reqs[1] = (struct batch_req){ &tops, &to_desc, tids, nt };
	if ((rc2 = batch_get(st, reqs, 2, true)) != STORE_OK)
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
		if ((m = merge_options(po, to)) == NULL || !store_own(st, m, OWN_JSON)) {
			store_seterr(st, "out of memory");
			rc = STORE_ERROR;
			continue;
		}
		cache_key_id(st->cache, key, sizeof(key), "pom", p->id);
		/* out[i] is the answer either way; unremembered, the next
		 * call of the request merges again. */
		(void)store_lc_put(st, key, m, NULL);
		out[i] = m;
	}
out:
	free(projects);
	free(pids);
	free(tids);
	return rc;
}
