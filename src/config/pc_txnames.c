/*
 * pc_txnames.c - txNameRules and txNameReady: the transaction-name
 * clusterer's rules and readiness, as Sentry sends them.
 *
 * Sentry (src/sentry/relay/config/__init__.py _get_project_config, right
 * after sampling) reads both from project options that its clusterer task
 * writes, not from Redis (src/sentry/ingest/transaction_clusterer/:
 * rules.py ProjectOptionRuleStore, meta.py get_clusterer_meta, the option
 * names of ClustererNamespace.TRANSACTIONS in __init__.py):
 *
 *   txNameRules   get_transaction_names_config: with the org flag
 *                 organizations:transaction-name-normalize (on by
 *                 default), one rule per [pattern, last_seen] entry of
 *                 sentry:transaction_name_cluster_rules, in the stored
 *                 order: {"pattern", "expiry": last_seen plus
 *                 TRANSACTION_NAME_RULE_TTL_SECS as ISO 8601 with "Z",
 *                 "redaction": {"method": "replace", "substitution": "*"}};
 *                 absent when there are none.
 *   txNameReady   true when sentry:transaction_name_cluster_meta's "runs"
 *                 is at least MIN_CLUSTERER_RUNS; absent otherwise.
 *
 * Sentry builds txNameRules through add_experimental_config, so an entry
 * it cannot turn into a rule (not a [string, integer] pair, a time beyond
 * a datetime) loses the whole key; so it does here, with a warning.
 * Relay's txNameRules is not an error boundary: one bad rule would make it
 * refuse the whole project config.
 */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "pc_build.h"

#define SF_TX_NAME_NORMALIZE	"organizations:transaction-name-normalize"
#define OPT_RULES		"sentry:transaction_name_cluster_rules"
#define OPT_META		"sentry:transaction_name_cluster_meta"

/* TRANSACTION_NAME_RULE_TTL_SECS, transaction_clusterer/rules.py: 90 days */
#define RULE_TTL_SECS		(90LL * 24 * 60 * 60)
/* MIN_CLUSTERER_RUNS, relay/config/__init__.py */
#define MIN_CLUSTERER_RUNS	10

/*
 * expiry - datetime.fromtimestamp(t, tz=utc).isoformat() with "+00:00" as
 * "Z", for a whole number of seconds (no fraction is written then).
 * false beyond Python's datetime (after 9999) and before the year 1000
 * (which Python would write zero-padded: no clusterer rule is that old).
 */
static bool
expiry(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt;

	/* 1000-01-01 and 9999-12-31T23:59:59, as Unix times */
	if (t < -30610224000LL || t > 253402300799LL)
		return false;
	tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL)
		return false;
	/* the fields are in range: at most 20 characters and the NUL */
	return strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0 &&
	    tm.tm_year + 1900 >= 1000;
}

/* last_seen - an entry's time as whole seconds; false if not one. */
static bool
last_seen(json_object *v, int64_t *out)
{
	double d;

	switch (json_object_get_type(v)) {
	case json_type_int:
		*out = json_object_get_int64(v);
		/* json-c saturates; a time that large fails expiry() anyway */
		return true;
	case json_type_double:
		/* 1700000000.0 is written as 1700000000 by Python too */
		d = json_object_get_double(v);
		if (!isfinite(d) || d != floor(d) || fabs(d) > 1e15)
			return false;
		*out = (int64_t)d;
		return true;
	default:
		return false;
	}
}

/* rule_json - one rule; NULL on OOM. */
static json_object *
rule_json(json_object *pattern, const char *when)
{
	json_object *r, *red;

	if ((r = json_object_new_object()) == NULL)
		return NULL;
	if (pc_obj_add(r, "pattern", pc_str_copy(pattern)) != 0 ||
	    pc_obj_add(r, "expiry", json_object_new_string(when)) != 0 ||
	    pc_obj_add(r, "redaction", red = json_object_new_object()) != 0 ||
	    pc_obj_add(red, "method", json_object_new_string("replace")) != 0 ||
	    pc_obj_add(red, "substitution", json_object_new_string("*")) != 0) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

/*
 * tx_name_rules - the rules, or NULL with *oom false when there are none
 * or the option cannot be turned into rules (logged), *oom true on OOM.
 */
static json_object *
tx_name_rules(const struct build *b, bool *oom)
{
	json_object *list, *rules;
	size_t n;

	*oom = false;
	if (!pc_has_feature(b, SF_TX_NAME_NORMALIZE))
		return NULL;
	list = pc_opt_typed(b, SCOPE_PROJECT, OPT_RULES, json_type_array);
	if (list == NULL || (n = json_object_array_length(list)) == 0)
		return NULL;
	if ((rules = json_object_new_array_ext((int)n)) == NULL) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i), *pattern;
		char when[32];
		int64_t t;

		if (!json_object_is_type(e, json_type_array) ||
		    json_object_array_length(e) != 2 ||
		    !json_object_is_type(pattern =
		    json_object_array_get_idx(e, 0), json_type_string) ||
		    !last_seen(json_object_array_get_idx(e, 1), &t) ||
		    t > INT64_MAX - RULE_TTL_SECS ||
		    !expiry(t + RULE_TTL_SECS, when, sizeof(when))) {
			pc_warn_opt(b, SCOPE_PROJECT, OPT_RULES, "entry %zu is "
			    "not a [pattern, last_seen] pair Sentry could "
			    "turn into a rule; txNameRules left out", i);
			json_object_put(rules);
			return NULL;
		}
		if (pc_arr_add(rules, rule_json(pattern, when)) != 0) {
			json_object_put(rules);
			*oom = true;
			return NULL;
		}
	}
	return rules;
}

/* tx_name_ready - the clusterer has run often enough (meta "runs"). */
static bool
tx_name_ready(const struct build *b)
{
	json_object *meta = pc_opt(b, SCOPE_PROJECT, OPT_META), *runs;

	/* Sentry: get_option(...) or the default, whose runs is 0 */
	if (meta == NULL || pc_falsy(meta))
		return false;
	if (!json_object_is_type(meta, json_type_object) ||
	    !json_object_object_get_ex(meta, "runs", &runs) ||
	    !(json_object_is_type(runs, json_type_int) ||
	    json_object_is_type(runs, json_type_double))) {
		pc_warn_opt(b, SCOPE_PROJECT, OPT_META, "expected an object "
		    "with a number \"runs\"; read as no runs");
		return false;
	}
	return json_object_get_double(runs) >= MIN_CLUSTERER_RUNS;
}

int
pc_add_tx_names(const struct build *b, json_object *config)
{
	json_object *rules;
	bool oom;

	rules = tx_name_rules(b, &oom);
	if (oom)
		return -1;
	if (rules != NULL && pc_obj_add(config, "txNameRules", rules) != 0)
		return -1;
	if (tx_name_ready(b) &&
	    pc_obj_add(config, "txNameReady", json_object_new_boolean(1)) != 0)
		return -1;
	return 0;
}
