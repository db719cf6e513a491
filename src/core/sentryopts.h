/*
 * sentryopts.h - the Sentry feature flags and options relaycfg reads, as data.
 *
 * Sentry decides much of a project config from two global switchboards:
 * feature flags (SENTRY_FEATURES, flagpole) and options (sentry.options).
 * relaycfg has the same two, set in relaycfg.conf ("feature" and
 * "sentry_option" lines), with the defaults of a fresh self-hosted install
 * (getsentry/self-hosted sentry/sentry.conf.example.py).  The tables in
 * sentryopts.c name every flag and option relaycfg acts on and the Sentry
 * version each row follows, so that following a newer Sentry is a table edit.
 */
#ifndef RELAYCFG_SENTRYOPTS_H
#define RELAYCFG_SENTRYOPTS_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* What a Sentry option's value must look like (as Sentry registers it). */
enum sentryopt_type {
	SOPT_BOOL,
	SOPT_INT,
	SOPT_FLOAT,		/* an integer is a float too, as in Python */
	SOPT_STRING,
	SOPT_LIST,
	SOPT_DICT
};

struct sentryopt {
	const char		*name;
	enum sentryopt_type	 type;
	const char		*default_json;	/* self-hosted default; "null": None */
	bool			 forwarded;	/* on RELAY_OPTIONS: global config */
};

struct sentryfeature {
	const char	*name;		/* "organizations:..." or "projects:..." */
	bool		 exposable;	/* in EXPOSABLE_FEATURES, in its order */
	bool		 selfhosted;	/* on in a fresh self-hosted install */
};

#define SENTRYOPTS_MAX		64	/* room in struct sentry_settings */
#define SENTRYFEATURES_MAX	64

extern const struct sentryopt sentryopts[];
extern const size_t sentryopts_n;
extern const struct sentryfeature sentryfeatures[];
extern const size_t sentryfeatures_n;

/* Names the builders test for, spelled once. */
#define SF_DYNAMIC_SAMPLING	"organizations:dynamic-sampling"
#define SF_TRANSACTION_METRICS	"organizations:transaction-metrics-extraction"
#define SF_CUSTOM_INBOUND_FILTERS "projects:custom-inbound-filters"
#define SF_TRUSTED_RELAYS_ONLY	"organizations:ingest-through-trusted-relays-only"
#define SF_MOBILE_PERF_SCORE \
	"organizations:performance-calculate-mobile-perf-score-relay"
#define SF_OURLOGS		"organizations:ourlogs-ingestion"
#define SF_TRACEMETRICS		"organizations:tracemetrics-ingestion"

/* One install's flags and options: the defaults, then relaycfg.conf. */
struct sentry_settings {
	json_object	*option[SENTRYOPTS_MAX];	/* NULL: None */
	bool		 feature[SENTRYFEATURES_MAX];
};

/* sentryopt_index - the row of option name, or -1 when relaycfg has none. */
int	sentryopt_index(const char *name);

/* sentryfeature_index - the row of flag name, or -1. */
int	sentryfeature_index(const char *name);

/*
 * sentryfeature_name_valid - is name shaped like a Sentry flag
 * ("organizations:" or "projects:" and then [a-z0-9-.]+)?
 */
bool	sentryfeature_name_valid(const char *name);

/*
 * sentry_settings_init - every option at its default and every flag as a
 * fresh self-hosted install has it.  Returns 0, or -1 on OOM with nothing
 * left to free.
 */
int	sentry_settings_init(struct sentry_settings *s);

/* sentry_settings_free - release the option values; s may be zeroed. */
void	sentry_settings_free(struct sentry_settings *s);

/*
 * sentry_settings_set_option - option name = the JSON text json, checked
 * (strict JSON, then the option's type; null means None).  Returns 0; or
 * -1 with a reason in why (unknown option, not JSON, wrong type, OOM), s
 * unchanged.
 */
int	sentry_settings_set_option(struct sentry_settings *s, const char *name,
	    const char *json, char *why, size_t whylen);

/*
 * sentry_settings_option - the value of option name, borrowed from s;
 * NULL when it is None or relaycfg has no such option.
 */
json_object	*sentry_settings_option(const struct sentry_settings *s,
		    const char *name);

/*
 * sentry_settings_digest - SENTRY_SETTINGS_DIGEST_LEN hex characters that
 * change whenever relaycfg's version, a flag or an option value of s
 * does: the computed configs are cached under it, so that an edited
 * relaycfg.conf is never answered with configs built under the old
 * settings, nor a new release with configs an older one built (a release
 * may change what a config holds without a migration to drop the cache).
 * sentry_settings_digest_for is the same for a given version string.
 */
#define SENTRY_SETTINGS_DIGEST_LEN	12
void	sentry_settings_digest(const struct sentry_settings *s,
	    char out[SENTRY_SETTINGS_DIGEST_LEN + 1]);
void	sentry_settings_digest_for(const struct sentry_settings *s,
	    const char *version, char out[SENTRY_SETTINGS_DIGEST_LEN + 1]);

/* sentry_settings_feature - is flag name on in s?  Unknown flags are off. */
bool	sentry_settings_feature(const struct sentry_settings *s,
	    const char *name);

#endif
