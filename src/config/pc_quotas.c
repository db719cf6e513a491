/*
 * pc_quotas.c - quotas: QuotaConfig.to_json of src/sentry/quotas/base.py, for
 * project/org quota options, the project's monitor check-in quota and
 * per-key rate limits.
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
/* quotas: QuotaConfig.to_json of src/sentry/quotas/base.py.           */

/* A quota as Relay reads it; NULL/absent members are left out. */
struct quota {
	const char	*id;
	const char	*scope;
	char		 scope_id[24];
	json_object	*categories;	/* borrowed array of strings or NULL */
	const char	*const *fixed_categories;	/* or these */
	size_t		 n_fixed;
	bool		 has_limit;
	int64_t		 limit;
	bool		 has_window;
	int64_t		 window;
	const char	*namespace;
	const char	*reason_code;
};

static json_object *
quota_json(const struct quota *q)
{
	json_object *o;
	bool has_categories = q->n_fixed > 0 || (q->categories != NULL &&
	    json_object_array_length(q->categories) > 0);

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if ((q->id != NULL &&
	    pc_obj_add(o, "id", json_object_new_string(q->id)) != 0) ||
	    pc_obj_add(o, "scope", json_object_new_string(q->scope)) != 0 ||
	    pc_obj_add(o, "scopeId", json_object_new_string(q->scope_id)) != 0)
		goto fail;
	/* An empty category list means "all data": left out, as Sentry. */
	if (has_categories && pc_obj_add(o, "categories", q->n_fixed > 0 ?
	    pc_string_array(q->fixed_categories, q->n_fixed) :
	    pc_copy(q->categories)) != 0)
		goto fail;
	if ((q->has_limit &&
	    pc_obj_add(o, "limit", json_object_new_int64(q->limit)) != 0) ||
	    (q->has_window &&
	    pc_obj_add(o, "window", json_object_new_int64(q->window)) != 0) ||
	    (q->namespace != NULL && pc_obj_add(o, "namespace",
	    json_object_new_string(q->namespace)) != 0) ||
	    (q->reason_code != NULL && pc_obj_add(o, "reasonCode",
	    json_object_new_string(q->reason_code)) != 0))
		goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

/*
 * quota_string - member name of q into *out: NULL when absent or null.
 * Returns false when it is there but not a non-empty string.
 */
static bool
quota_string(json_object *q, const char *name, const char **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(q, name, &v) || v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return false;
	*out = json_object_get_string(v);
	return true;
}

/*
 * quota_int - member name of q into *out, *has telling whether it is set.
 * Returns false when it is there but not an integer >= min.
 */
static bool
quota_int(json_object *q, const char *name, int64_t min, bool *has,
    int64_t *out)
{
	json_object *v;

	*has = false;
	if (!json_object_object_get_ex(q, name, &v) || v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < min)
		return false;
	*has = true;
	*out = json_object_get_int64(v);
	return true;
}

/* category_ok - a data category name: lowercase letters and '_'. */
static bool
category_ok(json_object *v)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return false;
	for (s = json_object_get_string(v); *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
			return false;
	return true;
}

/*
 * option_quota - one relaycfg:quotas entry, checked against the rules of
 * QuotaConfig (a limited quota needs a reason code; a reject-all quota,
 * limit 0, has no id or window; any other needs both).  A bad entry is
 * dropped: Relay would drop it too, and a typo must not throttle data.
 * Returns 0 (added or dropped) or -1 on OOM.
 */
static int
add_option_quota(const struct build *b, enum scope scope, json_object *arr,
    json_object *e, size_t i)
{
	static const char key[] = "relaycfg:quotas";
	static const char *const known[] = {
		"id", "scope", "scopeId", "categories", "limit", "window",
		"namespace", "reasonCode",
	};
	struct quota q;
	const char *why = NULL;
	json_object *cats = NULL;

	memset(&q, 0, sizeof(q));
	if (!json_object_is_type(e, json_type_object)) {
		pc_warn_opt(b, scope, key, "entry %zu is %s, not an object; "
		    "dropped", i, pc_type_name(e));
		return 0;
	}
	json_object_object_foreach(e, field, fv) {
		size_t k;

		(void)fv;
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcmp(field, known[k]) == 0)
				break;
		if (k == sizeof(known) / sizeof(known[0]))
			pc_warn_opt(b, scope, key, "entry %zu: unknown field "
			    "ignored", i);
	}
	if (!quota_string(e, "id", &q.id))
		why = "id is not a string";
	else if (!quota_string(e, "scope", &q.scope))
		why = "scope is not a string";
	else if (!quota_int(e, "limit", 0, &q.has_limit, &q.limit))
		why = "limit is not an integer >= 0";
	else if (!quota_int(e, "window", 1, &q.has_window, &q.window))
		why = "window is not an integer >= 1";
	else if (!quota_string(e, "reasonCode", &q.reason_code))
		why = "reasonCode is not a string";
	else if (!quota_string(e, "namespace", &q.namespace))
		why = "namespace is not a string";
	if (why == NULL && json_object_object_get_ex(e, "categories", &cats) &&
	    cats != NULL) {
		if (!json_object_is_type(cats, json_type_array))
			why = "categories is not a list";
		for (size_t c = 0; why == NULL &&
		    c < json_object_array_length(cats); c++)
			if (!category_ok(json_object_array_get_idx(cats, c)))
				why = "categories holds a bad name";
		q.categories = cats;
	}
	if (why == NULL) {
		if (q.scope == NULL)
			q.scope = scope == SCOPE_ORG ? "organization" :
			    "project";
		if (strcmp(q.scope, "organization") == 0)
			snprintf(q.scope_id, sizeof(q.scope_id), "%lld",
			    (long long)b->org->id);
		else if (strcmp(q.scope, "project") == 0)
			snprintf(q.scope_id, sizeof(q.scope_id), "%lld",
			    (long long)b->project->id);
		else
			why = "scope is neither organization nor project";
	}
	if (why == NULL && q.has_limit && q.reason_code == NULL)
		why = "a limit needs a reasonCode";
	if (why == NULL && q.has_limit && q.limit == 0 &&
	    (q.id != NULL || q.has_window))
		why = "a limit of 0 takes no id and no window";
	if (why == NULL && !(q.has_limit && q.limit == 0) &&
	    (q.id == NULL || !q.has_window))
		why = "a counted quota needs an id and a window";
	if (why != NULL) {
		pc_warn_opt(b, scope, key, "entry %zu: %s; dropped", i, why);
		return 0;
	}
	return pc_arr_add(arr, quota_json(&q));
}

/*
 * get_monitor_quota of RedisQuota (self-hosted's SENTRY_QUOTAS), which
 * adds it for every project: get_project_monitor_quota of
 * src/sentry/monitors/rate_limit.py gives ALLOWED_MINIMUM check-ins plus
 * crons.per_monitor_rate_limit per monitor environment of the project, per
 * QUOTA_WINDOW seconds.  relaycfg has no monitors (Sentry's crons), so the
 * limit is the minimum, as in a project without monitors.
 */
#define MONITOR_QUOTA_MINIMUM	50	/* ALLOWED_MINIMUM */
#define MONITOR_QUOTA_WINDOW	60	/* QUOTA_WINDOW */

static int
add_monitor_quota(const struct build *b, json_object *arr)
{
	static const char *const categories[] = { "monitor" };
	struct quota q;

	memset(&q, 0, sizeof(q));
	q.id = "mrl";
	q.scope = "project";
	snprintf(q.scope_id, sizeof(q.scope_id), "%lld",
	    (long long)b->project->id);
	q.fixed_categories = categories;
	q.n_fixed = 1;
	q.has_limit = true;
	q.limit = MONITOR_QUOTA_MINIMUM;
	q.has_window = true;
	q.window = MONITOR_QUOTA_WINDOW;
	q.reason_code = "monitor_rate_limit";
	return pc_arr_add(arr, quota_json(&q));
}

/*
 * RedisQuota's key quota: error events only (DataCategory.error_categories),
 * and only for projects with projects:rate-limits (get_key_quota).
 */
static int
add_key_quota(const struct build *b, json_object *arr,
    const struct model_projectkey *k)
{
	static const char *const categories[] = {
		"default", "error", "security",
	};
	struct quota q;

	/* Sentry counts 0 as "no limit" for both columns. */
	if (!pc_has_feature(b, "projects:rate-limits") ||
	    !k->has_rate_limit || k->rate_limit_count <= 0 ||
	    k->rate_limit_window <= 0)
		return 0;
	memset(&q, 0, sizeof(q));
	q.id = "k";
	q.scope = "key";
	snprintf(q.scope_id, sizeof(q.scope_id), "%lld", (long long)k->id);
	q.fixed_categories = categories;
	q.n_fixed = sizeof(categories) / sizeof(categories[0]);
	q.has_limit = true;
	q.limit = k->rate_limit_count;
	q.has_window = true;
	q.window = k->rate_limit_window;
	q.reason_code = "key_quota";
	return pc_arr_add(arr, quota_json(&q));
}

int
pc_add_quotas(const struct build *b, const struct model_projectkey *const *keys,
    size_t n_keys, json_object *config)
{
	static const enum scope scopes[] = { SCOPE_ORG, SCOPE_PROJECT };
	json_object *arr;

	if ((arr = json_object_new_array()) == NULL)
		return -1;
	for (size_t s = 0; s < 2; s++) {
		json_object *list = pc_opt_typed(b, scopes[s],
		    "relaycfg:quotas",
		    json_type_array);
		size_t n = list == NULL ? 0 : json_object_array_length(list);

		for (size_t i = 0; i < n; i++)
			if (add_option_quota(b, scopes[s], arr,
			    json_object_array_get_idx(list, i), i) != 0)
				goto fail;
	}
	/* RedisQuota.get_quotas: (abuse quotas,) the monitor quota, keys */
	if (add_monitor_quota(b, arr) != 0)
		goto fail;
	for (size_t i = 0; i < n_keys; i++)
		if (add_key_quota(b, arr, keys[i]) != 0)
			goto fail;
	if (json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return 0;
	}
	return pc_obj_add(config, "quotas", arr);
fail:
	json_object_put(arr);
	return -1;
}
