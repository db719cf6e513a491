/*
 * pc_tables.h - constant data of the project and global configs.
 *
 * Every table mirrors a constant of Sentry's (the source is named at each
 * table in pc_tables.c) so that a config built here reads like one built by
 * Sentry.  Nothing here allocates; the builders turn the tables into JSON.
 */
#ifndef RELAYCFG_PC_TABLES_H
#define RELAYCFG_PC_TABLES_H

#include <stdbool.h>
#include <stddef.h>

/* sentry:option-epoch of a project created by the newest Sentry. */
#define PC_LATEST_EPOCH			15

/* Custom measurements Relay keeps per transaction (global config). */
#define PC_MAX_CUSTOM_MEASUREMENTS	10

/* sentry:breakdowns default for every epoch, JSON text. */
extern const char pc_breakdowns_default[];

/* groupingConfig of the default grouping strategy. */
extern const char pc_grouping_default_id[];
extern const char pc_grouping_default_enhancements[];

/* filterSettings.ignoreTransactions.patterns (HEALTH_CHECK_GLOBS). */
extern const char *const pc_health_check_globs[];
extern const size_t pc_n_health_check_globs;

/* filterSettings.csp.disallowedSources defaults (duplicates included). */
extern const char *const pc_csp_default_sources[];
extern const size_t pc_n_csp_default_sources;

/* One (exception type, exception value) glob pair; either may be NULL. */
struct pc_error_pattern {
	const char	*ty;
	const char	*value;
};

/* A generic inbound filter Sentry ships, switched by option filters:<id>. */
struct pc_generic_filter {
	const char			*id;
	const struct pc_error_pattern	*patterns;
	size_t				 n_patterns;
};
extern const struct pc_generic_filter pc_generic_filters[];
extern const size_t pc_n_generic_filters;

/*
 * Performance score profiles.  Numbers are kept as text so that they are
 * serialized exactly as Sentry writes them ("0.3", "900.0").
 */
struct pc_score_component {
	const char	*measurement;
	const char	*weight;
	const char	*p10;
	const char	*p50;
	bool		 optional;
};

struct pc_score_profile {
	const char			*name;
	const char			*version;	/* NULL: no version key */
	const struct pc_score_component	*components;
	size_t				 n_components;
	const char			*condition;	/* JSON text */
	const char			*feature;	/* NULL: always */
};
extern const struct pc_score_profile pc_score_profiles[];
extern const size_t pc_n_score_profiles;

/* Builtin measurements of the global config. */
struct pc_measurement {
	const char	*name;
	const char	*unit;
};
extern const struct pc_measurement pc_builtin_measurements[];
extern const size_t pc_n_builtin_measurements;

/* global config spanOpDefaults, JSON text. */
extern const char pc_span_op_defaults[];

#endif
