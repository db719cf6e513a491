/*
 * model.h - the rows relaycfg reads, as plain C structs.
 *
 * Table and column names follow Sentry's (sentry_organization,
 * sentry_project, sentry_projectkey, sentry_relay, ...).  Strings are owned
 * by whoever returned the struct (see store.h); numbers that are NULL in
 * MariaDB carry an explicit has_* flag.
 */
#ifndef RELAYCFG_MODEL_H
#define RELAYCFG_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define MODEL_STATUS_ACTIVE	0	/* ObjectStatus.ACTIVE, ProjectKeyStatus.ACTIVE */
#define MODEL_KEY_HEX_LEN	32	/* public_key / secret_key */
#define MODEL_RELAY_ID_LEN	36	/* canonical lowercase hyphenated UUID */
#define MODEL_RELAY_PK_MAX	200	/* sentry_relay.public_key VARCHAR(200) */

struct model_org {
	int64_t		 id;
	char		*slug;
	char		*name;
	int		 status;	/* 0 active, 1 pending deletion, ... */
	int64_t		 date_added;	/* unix seconds; 0: unknown */
};

struct model_project {
	int64_t		 id;
	int64_t		 organization_id;
	char		*slug;
	char		*name;
	int		 status;	/* 0 active, 1 disabled, 2 pending deletion */
	int64_t		 template_id;	/* 0: none */
	char		*platform;	/* NULL when unset */
	int64_t		 date_added;	/* unix seconds; 0: unknown */
};

struct model_projectkey {
	int64_t		 id;		/* numericId in configs */
	int64_t		 project_id;
	char		 public_key[MODEL_KEY_HEX_LEN + 1];
	char		 secret_key[MODEL_KEY_HEX_LEN + 1];
	int		 status;	/* 0 active, 1 inactive */
	int64_t		 roles;
	bool		 has_rate_limit;	/* both columns non-NULL */
	int64_t		 rate_limit_count;
	int64_t		 rate_limit_window;	/* seconds */
	char		*label;		/* NULL when unset */
};

struct model_relay {
	int64_t		 id;
	char		 relay_id[MODEL_RELAY_ID_LEN + 1];
	char		 public_key[MODEL_RELAY_PK_MAX + 1];
	bool		 is_internal;	/* NULL reads as false */
};

/*
 * A project's satisfaction thresholds (sentry_projecttransactionthreshold
 * and sentry_projecttransactionthresholdoverride).  metric is Sentry's
 * TransactionMetric: 1 duration, 2 lcp.
 */
#define MODEL_TXMETRIC_DURATION	1
#define MODEL_TXMETRIC_LCP	2
#define MODEL_TXNAME_MAX	200	/* transaction VARCHAR(200) */

struct model_txthreshold {
	char		*transaction;	/* overrides; NULL for the project's */
	int		 metric;
	int64_t		 threshold;	/* milliseconds, IntegerField */
};

struct model_txthresholds {
	bool				 has_project;	/* a project row exists */
	struct model_txthreshold	 project;
	size_t				 n_overrides;
	const struct model_txthreshold	*overrides;	/* by transaction */
};

#endif
