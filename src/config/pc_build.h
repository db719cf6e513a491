/*
 * pc_build.h - what the config section builders share: one build's inputs
 * (struct build), json-c building blocks, option look-ups, and one adder
 * per family of config sections.  Internal to the project-config builder;
 * the public interface is projectconfig.h.
 *
 * Every pc_add_*(b, config) adds its keys to config in Sentry's order and
 * returns 0, or -1 on OOM (config may then hold some of its keys; the
 * caller drops the whole config).  Every adder and building block steals
 * the values handed to it, even when it fails.
 */
#ifndef RELAYCFG_PC_BUILD_H
#define RELAYCFG_PC_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "model.h"
#include "sentryopts.h"
#include "pc_tables.h"
#include "projectconfig.h"

enum scope {
	SCOPE_PROJECT,
	SCOPE_ORG
};

/* Everything one build reads, resolved once. */
struct build {
	const struct model_project	*project;
	const struct model_org		*org;
	json_object			*options[2];	/* by enum scope */
	const struct model_txthresholds	*thresholds;	/* NULL: no rows */
	const struct conf		*conf;
	int				 epoch;
	bool				 feature[SENTRYFEATURES_MAX];
};

/* A rev is the hex of a BLAKE2b digest this long (pc_hash_node). */
#define REV_DIGEST_BYTES	(PROJECTCONFIG_REV_LEN / 2)

/*
 * The memo of a shared constant (pc_shared_keep), its json-c userdata: its
 * digest, which pc_hash_node uses instead of walking the subtree, and its
 * text, which its serializer appends.
 */
struct shared_memo {
	unsigned char	digest[REV_DIGEST_BYTES];
	size_t		len;
	char		text[];
};

/* pc_json.c */
/* pc_obj_add - obj[key] = val for a literal key; -1 when val is NULL (OOM). */
int	pc_obj_add(json_object *obj, const char *key, json_object *val);

/* pc_obj_add_dup - obj[key] = val for a key that is not a literal. */
int	pc_obj_add_dup(json_object *obj, const char *key, json_object *val);

/* pc_arr_add - append val; -1 when val is NULL (OOM). */
int	pc_arr_add(json_object *arr, json_object *val);

/*
 * pc_new_array - an array with room for n; never asks json-c for room for 0,
 * which it may take for an allocation failure where calloc(0) is NULL.
 */
json_object	*pc_new_array(size_t n);

/* pc_copy - a deep copy of a non-null value, or NULL on OOM. */
json_object	*pc_copy(json_object *src);

/* pc_str_copy - a string object holding v's bytes (v is a JSON string). */
json_object	*pc_str_copy(json_object *v);

/*
 * pc_number - a double serialized as text, so 0.3 goes out as "0.3" like
 * Python writes it rather than json-c's "0.29999999999999999".
 */
json_object	*pc_number(const char *text);

/* pc_parse_const - one of our JSON constants; NULL on OOM (or a typo here). */
json_object	*pc_parse_const(const char *text);

/*
 * pc_shared_get - a new reference to *slot, made by make(arg) and
 * shared_keep on first use and kept for the life of the process.  NULL on
 * OOM (tried again next time).
 */
json_object	*pc_shared_get(json_object **slot,
	    json_object *(*make)(const void *), const void *arg);

/* pc_string_array - a new array of the n strings. */
json_object	*pc_string_array(const char *const *v, size_t n);

/*
 * pc_cond - the rule condition {"op": op, "name": name, "value": value};
 * takes value (freed on failure, NULL counts as OOM); NULL on OOM.
 */
json_object	*pc_cond(const char *op, const char *name, json_object *value);

/* pc_options.c */
/*
 * pc_warn_opt - one warning about option key of scope.  Only our own text and
 * json-c type names go into the message, never the option's value.
 */
void	 pc_warn_opt(const struct build *b, enum scope scope, const char *key,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

const char	*pc_type_name(json_object *v);

/* pc_opt - the value of key, or NULL when unset or JSON null. */
json_object	*pc_opt(const struct build *b, enum scope scope, const char *key);

/* pc_opt_typed - key when it has type t; NULL (logged if set) otherwise. */
json_object	*pc_opt_typed(const struct build *b, enum scope scope,
	    const char *key, json_type t);

/*
 * pc_opt_bool - key as a truth value.  Booleans and numbers are read as Python
 * reads them (0 is false); anything else falls back to def.
 */
bool	pc_opt_bool(const struct build *b, enum scope scope, const char *key,
	    bool def);

/*
 * pc_append_strings - append the string entries of list (key's value) to dst.
 * Relay only takes strings in these lists, so anything else is dropped.
 */
int	pc_append_strings(const struct build *b, enum scope scope,
	    const char *key, json_object *dst, json_object *list);

/* pc_falsy - would Python's "if r" skip r? */
bool	pc_falsy(json_object *v);

/* pc_features.c */
/*
 * pc_has_feature - is Sentry flag name on for this build: relaycfg.conf's
 * "feature" lines over the self-hosted defaults, then the organization's
 * and the project's relaycfg:features.  Unknown flags are off.
 */
bool	pc_has_feature(const struct build *b, const char *name);

/*
 * pc_sentry_option - the value of Sentry option name (relaycfg.conf's
 * sentry_option, else the self-hosted default), borrowed; NULL when None.
 */
json_object	*pc_sentry_option(const struct build *b, const char *name);

/*
 * pc_sample_modulo - Sentry's sample_modulo (src/sentry/utils/options.py):
 * is value % 100 below 100 times the rate in option name?  A rate that is
 * not a number samples nothing, as Sentry's TypeError branch.
 */
bool	pc_sample_modulo(const struct build *b, const char *name,
	    int64_t value);

/*
 * pc_load_features - the flags of this build: the install's, then
 * relaycfg:features of the organization and then of the project, where
 * "flag" switches a flag on and "-flag" off.  An organization flag set on
 * a project would mean something Sentry cannot express, so only the org
 * option may carry "organizations:" names.
 */
void	pc_load_features(struct build *b);

/* features: the enabled exposable flags, in Sentry's order; none: absent. */
int	pc_add_features(const struct build *b, json_object *config);

/* pc_sampling.c */
/*
 * sampling: Sentry's dynamic-sampling rules, when the org flag
 * organizations:dynamic-sampling is on and the killswitch option
 * dynamic-sampling.config.killswitch is off.
 */
int	pc_add_sampling(const struct build *b, json_object *config);

/* pc_txnames.c */
/*
 * txNameRules and txNameReady: the transaction-name clusterer's rules
 * (project option sentry:transaction_name_cluster_rules, with the org flag
 * organizations:transaction-name-normalize) and whether it has run often
 * enough (sentry:transaction_name_cluster_meta); each absent when not.
 */
int	pc_add_tx_names(const struct build *b, json_object *config);

/* pc_origins.c */
/*
 * Sentry returns a frozenset, so its order is arbitrary; here the first
 * occurrence wins, which keeps the operator's order and a stable rev.
 */
int	pc_add_allowed_domains(const struct build *b, json_object *config);

int	pc_add_trusted_relays(const struct build *b, json_object *config);

/*
 * Sentry sends this only with the org feature on, as the org option
 * (default "disabled").  Here an explicitly set option counts as the
 * feature being on.  Relay takes a string only: a bool fails the project.
 */
int	pc_add_trusted_relay_settings(const struct build *b,
	    json_object *config);

/* pc_datascrubbing.c */
int	pc_add_pii_config(const struct build *b, json_object *config);

int	pc_add_datascrubbing(const struct build *b, json_object *config);

/* pc_performance.c */
int	pc_add_breakdowns(const struct build *b, json_object *config);

/*
 * Version 2 (abnormal mechanisms) for the organizations the option
 * sentry-metrics.releasehealth.abnormal-mechanism-extraction-rate samples
 * (sample_modulo over the organization id; default 0.0, so version 1 is what
 * a default install sends).
 */
int	pc_add_session_metrics(const struct build *b, json_object *config);

int	pc_add_performance_score(const struct build *b, json_object *config);

/* pc_metrics.c */
/*
 * metrics: {"cardinalityLimits": [...]} (always present), from the
 * cardinality-limiter Sentry options and the project, organization and
 * Sentry option relay.cardinality-limiter.limits.
 */
int	pc_add_metrics(const struct build *b, json_object *config);

/* pc_txmetrics.c */
/*
 * transactionMetrics and metricConditionalTagging, when the org flag
 * organizations:transaction-metrics-extraction is on and the killswitch
 * relay.drop-transaction-metrics does not match the project.
 */
int	pc_add_transaction_metrics(const struct build *b, json_object *config);

/* pc_filters.c */
/*
 * releases and errorMessages sit behind projects:custom-inbound-filters in
 * Sentry, a flag self-hosted installs enable; here the options alone count.
 */
int	pc_add_filter_settings(const struct build *b, json_object *config);

/* pc_grouping.c */
/*
 * Only the default grouping config is known, with its precompiled
 * enhancements.  Custom stack trace rules would have to be compiled into
 * the enhancements string with Sentry's rule parser, which relaycfg does
 * not have: they are reported and the default goes out.
 */
int	pc_add_grouping_config(const struct build *b, json_object *config);

int	pc_add_event_retention(const struct build *b, json_object *config);

/* pc_quotas.c */
int	pc_add_quotas(const struct build *b,
	    const struct model_projectkey *const *keys, size_t n_keys,
	        json_object *config);

/* pc_rev.c */
/*
 * pc_hash_node - the digest of an object or array: its tag and size, then
 * its members (object keys in byte order, each key length-prefixed), each
 * fed by hash_value.  Because every container enters its parent as a
 * digest, a shared constant's memoised digest (shared_keep) is exactly
 * what walking it would give: the rev depends on the value only, not on
 * how the tree was built.  Returns 0, or -1 on OOM.
 */
int	pc_hash_node(json_object *v, unsigned char out[REV_DIGEST_BYTES]);

/*
 * How the second digest of pc_hash_object_pair differs from the first:
 * member skip2 is left out of it; member name (when there is one) enters
 * the first as digest d1 and the second as d2, or is left out of the
 * second when d2 is NULL (name's value is not walked: its digests are
 * given).
 */
struct pc_hash_edit {
	const char		*skip2;
	const char		*name;
	const unsigned char	*d1, *d2;
};

/*
 * pc_hash_object_pair - two digests of object v in one walk: out1 what
 * pc_hash_node gives of v (v's own memo aside: never read), out2 what it
 * gives of an object holding v's members as edited by e.  Each other
 * member that is a container is walked once, for both.  Returns 0, or -1
 * on OOM or when v is not an object.
 */
int	pc_hash_object_pair(json_object *v, const struct pc_hash_edit *e,
	    unsigned char out1[REV_DIGEST_BYTES],
	    unsigned char out2[REV_DIGEST_BYTES]);

#endif
