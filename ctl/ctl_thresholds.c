/*
 * ctl_thresholds.c - relaycfgctl threshold set | list | remove and
 * threshold override set | remove: a project's transaction thresholds,
 * Sentry's ProjectTransactionThreshold and its per-transaction overrides
 * (metricConditionalTagging's satisfaction rules).
 *
 * Values are taken as Sentry's threshold endpoint takes them
 * (api/endpoints/project_transaction_threshold.py): metric "duration" or
 * "lcp", a threshold in milliseconds that is a multiple of 100, at most
 * 2147483647.  "threshold set" on a project without a threshold of its
 * own starts from Sentry's DEFAULT_THRESHOLD (duration, 300) for what is
 * not given; otherwise what is not given stays.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl_admin.h"

/* TRANSACTION_METRICS: the names, by TransactionMetric value. */
static const char *
metric_name(int metric)
{
	return metric == MODEL_TXMETRIC_LCP ? "lcp" : "duration";
}

/* --metric: duration or lcp; else 2 after a message. */
static int
want_metric(const struct admin *a, const char *s, int *out)
{
	if (strcmp(s, "duration") == 0)
		*out = MODEL_TXMETRIC_DURATION;
	else if (strcmp(s, "lcp") == 0)
		*out = MODEL_TXMETRIC_LCP;
	else
		return admin_usage_error(a, "the metric is duration or lcp");
	return 0;
}

/*
 * --threshold: a decimal integer (the store checks Sentry's bounds and
 * says why: a usage error too, admin_write_fail); else 2 after a
 * message.
 */
static int
want_threshold(const struct admin *a, const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 ||
	    !(*s == '-' || (*s >= '0' && *s <= '9')))
		return admin_usage_error(a, "the threshold is an integer "
		    "(milliseconds)");
	*out = v;
	return 0;
}

/* The thresholds of project id straight from MariaDB (or the cache). */
static int
read_thresholds(struct admin *a, int64_t id,
    const struct model_txthresholds **t)
{
	const struct model_project *p = NULL;

	store_bypass_cache(a->st, !a->cached);
	if (store_projects_by_ids(a->st, &id, 1, &p) != STORE_OK ||
	    store_txthresholds(a->st, &id, 1, t) != STORE_OK || *t == NULL)
		return admin_store_fail(a);
	if (p == NULL)
		return admin_fail(a, "no such project");
	return 0;
}

/* One row of the list. */
static json_object *
row(const char *scope, const struct model_txthreshold *t)
{
	json_object *o = json_object_new_object();

	admin_jadd(o, "scope", json_object_new_string(scope));
	admin_jadd(o, "transaction", admin_jstr(t->transaction));
	admin_jadd(o, "metric", json_object_new_string(metric_name(
	    t->metric)));
	admin_jadd(o, "threshold", json_object_new_int64(t->threshold));
	return o;
}

/*
 * list - the rules' sources in the order Sentry applies them: each
 * override, then the project's threshold or the default.
 */
static int
list(struct admin *a, int64_t id)
{
	static const char *const fields[] = { "scope", "transaction",
	    "metric", "threshold", NULL };
	static const struct model_txthreshold def = {
		NULL, MODEL_TXMETRIC_DURATION, 300
	};
	const struct model_txthresholds *t = NULL;
	json_object *arr;
	int rc;

	if ((rc = read_thresholds(a, id, &t)) != 0)
		return rc;
	if ((arr = json_object_new_array()) == NULL)
		return admin_fail(a, "out of memory");
	for (size_t i = 0; i < t->n_overrides; i++)
		json_object_array_add(arr, row("override", &t->overrides[i]));
	json_object_array_add(arr, t->has_project ? row("project",
	    &t->project) : row("default", &def));
	return admin_show_list(a, "thresholds", arr, fields);
}

/* threshold set: what is not given keeps its value, or Sentry's default. */
static int
set(struct admin *a, int64_t id, const struct args *ar)
{
	const struct model_txthresholds *t = NULL;
	int metric = MODEL_TXMETRIC_DURATION, rc;
	int64_t threshold = 300;
	char what[32];

	if (ar->metric == NULL && ar->threshold == NULL)
		return admin_usage_error(a, "give --metric, --threshold or "
		    "both");
	if ((ar->metric != NULL &&
	    (rc = want_metric(a, ar->metric, &metric)) != 0) ||
	    (ar->threshold != NULL &&
	    (rc = want_threshold(a, ar->threshold, &threshold)) != 0))
		return rc;
	if (ar->metric == NULL || ar->threshold == NULL) {
		bool was_cached = a->cached;

		a->cached = false;
		rc = read_thresholds(a, id, &t);
		a->cached = was_cached;
		if (rc != 0)
			return rc;
		if (t->has_project && ar->metric == NULL)
			metric = t->project.metric;
		if (t->has_project && ar->threshold == NULL)
			threshold = t->project.threshold;
	}
	if ((rc = admin_write_fail(a, store_txthreshold_set(a->st, id, metric,
	    threshold))) != 0)
		return rc;
	snprintf(what, sizeof(what), "%" PRId64, id);
	return admin_done(a, "threshold", what, "set");
}

/* threshold override set | remove PROJECT TRANSACTION */
static int
override(struct admin *a, int argc, char **argv)
{
	static const int o_set[] = { OPT_METRIC, OPT_THRESHOLD, 0 };
	static const int none[] = { 0 };
	struct args ar;
	bool is_set;
	int metric = 0, rc;
	int64_t id, threshold = 0;
	char what[64];

	if (argc < 2)
		return admin_usage_error(a, "threshold override set|remove");
	is_set = strcmp(argv[1], "set") == 0;
	if (!is_set && strcmp(argv[1], "remove") != 0)
		return admin_usage_error(a, "threshold override set|remove");
	if ((rc = admin_parse_args(a, argc - 1, argv + 1, is_set ? o_set :
	    none, &ar)) != 0 || (rc = admin_want_pos(a, &ar, 2, 2)) != 0 ||
	    (rc = admin_want_id(a, ar.pos[0], &id)) != 0)
		return rc;
	if (!store_valid_txname(ar.pos[1]))
		return admin_usage_error(a, "a transaction name is 1-200 "
		    "characters of text");
	if (is_set) {
		if (ar.metric == NULL || ar.threshold == NULL)
			return admin_usage_error(a, "give --metric and "
			    "--threshold");
		if ((rc = want_metric(a, ar.metric, &metric)) != 0 ||
		    (rc = want_threshold(a, ar.threshold, &threshold)) != 0)
			return rc;
		rc = store_txthreshold_override_set(a->st, id, ar.pos[1],
		    metric, threshold);
	} else
		rc = store_txthreshold_override_remove(a->st, id, ar.pos[1]);
	if ((rc = admin_write_fail(a, rc)) != 0)
		return rc;
	snprintf(what, sizeof(what), "%" PRId64, id);
	return admin_done(a, "override", what, is_set ? "set" : "removed");
}

/*
 * cmd_threshold - argv[0] the subcommand: set, list, remove, override.
 * Exit status as every admin command: 0 done, 1 refused or failed (the
 * reason on stderr), 2 usage.
 */
int
cmd_threshold(struct admin *a, int argc, char **argv)
{
	static const int o_set[] = { OPT_METRIC, OPT_THRESHOLD, 0 };
	static const int o_list[] = { OPT_CACHED, 0 };
	static const int none[] = { 0 };
	const char *sub = argv[0];
	struct args ar;
	int64_t id;
	char what[32];
	int rc;

	if (strcmp(sub, "override") == 0) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "threshold override %s",
		    argc > 1 ? argv[1] : "");
		a->cmd = cmd;
		rc = override(a, argc, argv);
		a->cmd = "threshold";
		return rc;
	}
	if (strcmp(sub, "set") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "remove") != 0)
		return admin_usage_error(a, "threshold set|list|remove|"
		    "override");
	if ((rc = admin_parse_args(a, argc, argv, strcmp(sub, "set") == 0 ?
	    o_set : strcmp(sub, "list") == 0 ? o_list : none, &ar)) != 0 ||
	    (rc = admin_want_pos(a, &ar, 1, 1)) != 0 ||
	    (rc = admin_want_id(a, ar.pos[0], &id)) != 0)
		return rc;
	if (strcmp(sub, "list") == 0)
		return list(a, id);
	if (strcmp(sub, "set") == 0)
		return set(a, id, &ar);
	if (store_txthreshold_remove(a->st, id) != STORE_OK)
		return admin_store_fail(a);
	snprintf(what, sizeof(what), "%" PRId64, id);
	return admin_done(a, "threshold", what, "removed");
}
