/*
 * store.h - the data layer: Sentry's rows from MariaDB behind a memcached
 * cache-aside, as Sentry's get_many_from_cache does it, plus the admin
 * writes and the cache invalidation they imply.
 *
 * One struct store per process (server worker or relaycfgctl), opened
 * after fork.  Nothing connects in store_open(): MariaDB and memcached are
 * reached on first use and re-reached after they come back.
 *
 * Reads (batch: n inputs, n outputs, out[i] answers in[i]):
 *   1. the per-request local cache (dropped by store_request_end);
 *   2. one memcached multi-get for what is left (a lookup by public_key or
 *      relay_id first reads the pointer entries, then the rows by id: a
 *      second multi-get, only for pointers that hit);
 *   3. one SQL query per model for the misses (WHERE ... IN (...));
 *   4. the rows found are written back (project and organization
 *      ttl_project/ttl_organization, 300 s; project key ttl_projectkey,
 *      1800 s; options ttl_options; relays ttl_relay) and the ids not
 *      found are cached as absent for ttl_negative (30 s; 0 disables).
 *   Why a negative cache, which Sentry lacks: Relays keep asking for the
 *   keys of deleted projects, and every such request would otherwise
 *   cost a MariaDB query.  Every write (and relaycfgctl invalidate)
 *   deletes the negative entries it affects, so a row created through
 *   relaycfgctl is seen at once; a row inserted into MariaDB directly is
 *   read after ttl_negative, or at once after relaycfgctl invalidate (a
 *   project config computed while it was absent, {"disabled":true}, is
 *   cached for ttl_config like any other: only the invalidation reaches
 *   that).
 *   The number of SQL queries and multi-gets of a call never depends on
 *   n.  store_get_stats() counts them.
 *
 * Results belong to the store and stay valid, read-only, until
 * store_request_end(), whatever is called in between (writes included).
 * A NULL out[i] means "no such row" when the call returns STORE_OK.
 *
 * Every read returns STORE_OK, STORE_UNAVAILABLE or STORE_ERROR.  On
 * STORE_UNAVAILABLE (MariaDB unreachable) or STORE_ERROR (out of memory, a
 * bad row, an SQL error) the non-NULL out[i] are still true (served from
 * cache), but a NULL one means "unknown", never "absent": callers answer
 * 503 / pending / a stale copy, never "disabled".
 */
#ifndef RELAYCFG_STORE_H
#define RELAYCFG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cache.h"
#include "conf.h"
#include "model.h"

enum store_rc {
	STORE_OK		= 0,
	STORE_NOT_FOUND		= 1,	/* writes: the row (or its parent) is absent */
	STORE_CONFLICT		= 2,	/* writes: a unique value is taken */
	STORE_INVALID		= 3,	/* writes: a value is refused (see store_last_error) */
	STORE_UNAVAILABLE	= -1,	/* MariaDB unreachable */
	STORE_ERROR		= -2	/* out of memory, SQL error, bad row */
};

struct store;

struct store_stats {
	unsigned long	sql_queries;	/* statements sent, both servers */
	unsigned long	db_reconnects;	/* lost connections recovered */
	unsigned long	db_failures;	/* calls that found MariaDB down */
	unsigned long	cache_gets;	/* memcached multi-get round trips */
	unsigned long	cache_sets;
	unsigned long	cache_deletes;
	unsigned long	cache_hits;
	unsigned long	cache_misses;
	unsigned long	cache_failures;
	unsigned long long db_time_us;
	unsigned long long cache_time_us;
};

/* The keys of one project, ordered by id. */
struct store_keylist {
	const struct model_projectkey *const *keys;
	size_t		 n;
};

/* Project templates are only read by relaycfgctl (never cached). */
struct store_template {
	int64_t		 id;
	int64_t		 organization_id;
	char		*name;
};

/*
 * store_open - a store for conf (which must outlive it).  Connects
 * nothing.  Returns NULL on OOM or a bad memcached_server entry, with the
 * reason in err.
 */
struct store	*store_open(const struct conf *conf, char *err, size_t errlen);

/*
 * store_connect - try to connect to the primary and each replica now (a
 * worker as it starts), so that relaycfg_mariadb_up is true from the
 * start, and ask each memcached server once (cache_probe), so that
 * relaycfg_memcached_up is too.  A server that is down is logged and
 * tried again lazily, as always; this never fails.  Costs at most
 * db_connect_timeout per unreachable database server, and memcached's
 * connect or poll timeout per memcached server that does not answer.
 */
void		 store_connect(struct store *st);

/* store_close - close connections, free everything; NULL is fine. */
void		 store_close(struct store *st);

/*
 * store_request_end - free every result handed out since the last call,
 * forget the request's cache state.  After each request.
 */
void		 store_request_end(struct store *st);

/*
 * store_bypass_cache - on: reads skip memcached (and write nothing back)
 * and go to MariaDB.  For relaycfgctl's "what is in the database" views.
 */
void		 store_bypass_cache(struct store *st, bool on);

/* store_last_error - why the last call failed, fit for a log or a user. */
const char	*store_last_error(const struct store *st);

/*
 * store_cache_stale - true when the last write or store_invalidate()
 * could not reach memcached: entries it meant to delete may live until
 * their TTL.  The write itself is committed.
 */
bool		 store_cache_stale(const struct store *st);

void		 store_get_stats(const struct store *st, struct store_stats *out);

/*
 * store_cache - the store's memcached layer, for the computed project
 * configs (cache_key_config, cache_get_many, cache_set_many): the same
 * connection, generation and per-request failure state.  Owned by the
 * store; never NULL.
 */
struct cache	*store_cache(struct store *st);

/* --- reads ----------------------------------------------------------- */

/* Project keys of any status by public_key (anything: odd strings are
 * looked up safely and simply not found). */
int	store_projectkeys_by_public_keys(struct store *st,
	    const char *const *public_keys, size_t n,
	    const struct model_projectkey **out);

/* All keys of each project, any status; a project without keys (or that
 * does not exist) gets an empty list. */
int	store_projectkeys_by_project_ids(struct store *st,
	    const int64_t *project_ids, size_t n, struct store_keylist *out);

int	store_projects_by_ids(struct store *st, const int64_t *ids, size_t n,
	    const struct model_project **out);

int	store_orgs_by_ids(struct store *st, const int64_t *ids, size_t n,
	    const struct model_org **out);

int	store_relays_by_ids(struct store *st, const int64_t *ids, size_t n,
	    const struct model_relay **out);

int	store_relays_by_relay_ids(struct store *st,
	    const char *const *relay_ids, size_t n,
	    const struct model_relay **out);

/*
 * Options as one JSON object per owner: key -> parsed value (a project
 * option stored as SQL NULL reads as JSON null).  A value that is not JSON
 * (a legacy pickle) is left out, with a warning.  The objects are
 * read-only; json_object_get() one to keep it past store_request_end().
 *
 * store_project_options: the project's options over its template's
 * (Project.get_option's fallback); NULL for a project that does not
 * exist.  store_project_own_options: the project's own alone, without
 * its template's (what relaycfgctl marks inherited by).
 * store_org_options / store_template_options / store_project_own_options:
 * a (possibly empty) object for any id.
 */
int	store_project_options(struct store *st, const int64_t *project_ids,
	    size_t n, json_object **out);
int	store_project_own_options(struct store *st,
	    const int64_t *project_ids, size_t n, json_object **out);
int	store_org_options(struct store *st, const int64_t *org_ids, size_t n,
	    json_object **out);
int	store_template_options(struct store *st, const int64_t *template_ids,
	    size_t n, json_object **out);

/*
 * store_list_ids - ids of every row of a table, ordered, straight from
 * MariaDB (relaycfgctl lists).  table: "org", "project", "template",
 * "relay"; parent: an organization id for "project" and "template", 0 for
 * all.  *ids is owned by the store like any result.
 */
int	store_list_ids(struct store *st, const char *table, int64_t parent,
	    const int64_t **ids, size_t *n);

/* store_templates_by_ids - templates straight from MariaDB. */
int	store_templates_by_ids(struct store *st, const int64_t *ids, size_t n,
	    const struct store_template **out);

/*
 * store_txthresholds - each project's transaction thresholds (Sentry's
 * ProjectTransactionThreshold and its overrides, the overrides in byte
 * order of their names), cached per project (kind "tt", ttl_options).  A
 * project without rows, or that does not exist, gets an empty set; a
 * NULL out[i] is "unknown" (see above).  Rows with an unknown metric are
 * logged and left out.  Writes: store_txthreshold_*.
 */
int	store_txthresholds(struct store *st, const int64_t *project_ids,
	    size_t n, const struct model_txthresholds **out);

/* --- invalidation ---------------------------------------------------- */

enum store_scope {
	STORE_SCOPE_KEY,	/* public_key */
	STORE_SCOPE_PROJECT,	/* id */
	STORE_SCOPE_ORG,	/* id */
	STORE_SCOPE_RELAY,	/* public_key holds the relay_id */
	STORE_SCOPE_ALL
};

/*
 * store_invalidate - drop every cache entry at and below a scope, for
 * writers that changed MariaDB behind relaycfg's back, and for the
 * project-config code: computed configs (cache_key_config) included.
 *   KEY:     the key's row, pointer, project key list and config; the key
 *            is resolved both in MariaDB and in the cache, so a row
 *            deleted directly is dropped too.
 *   PROJECT: the project, its options and key list, and each of its keys
 *            as above (one SQL query for the keys).
 *   ORG:     the organization, its options, its templates' options, and
 *            each of its projects as above (one SQL query for projects
 *            and keys, one for templates).
 *   RELAY:   the relay's row and pointer.
 *   ALL:     a new cache generation: every entry of every process, at
 *            once, including rows that no longer exist anywhere.
 * Returns STORE_OK (check store_cache_stale()), STORE_UNAVAILABLE when
 * MariaDB could not resolve the scope, or STORE_ERROR when resolving it
 * failed otherwise (out of memory, an SQL error): for both, nothing was
 * dropped but the entries named directly and what was resolved before
 * the failure.  STORE_INVALID for a bad scope argument (nothing dropped).
 */
int	store_invalidate(struct store *st, enum store_scope scope, int64_t id,
	    const char *public_key);

/* --- writes (primary server; each in one transaction) ---------------- */

/*
 * Every write checks its input (slugs, names, keys, JSON), commits, and
 * then drops exactly the cache entries it affects, including computed
 * configs at key, project or organization scope.  Nothing is changed when
 * it fails.  Strings are copied.
 */

/* Registration: create the relay or update its is_internal, and upsert
 * sentry_relayusage(relay_id, version) (version NULL: "0.0.1"). */
int	store_relay_register(struct store *st, const char *relay_id,
	    const char *public_key, bool is_internal, const char *version);

/* Fields a patch leaves alone: NULL strings, -1 numbers. */
struct store_org_patch {
	const char	*slug;
	const char	*name;
	int		 status;
};

int	store_org_create(struct store *st, const char *slug, const char *name,
	    int64_t *id);
int	store_org_update(struct store *st, int64_t id,
	    const struct store_org_patch *p);
/* Cascades: projects (and their keys and options), templates, options. */
int	store_org_delete(struct store *st, int64_t id);

struct store_project_patch {
	const char	*slug;
	const char	*name;
	int		 status;
	bool		 set_platform;
	const char	*platform;	/* NULL: unset */
	bool		 set_template;
	int64_t		 template_id;	/* 0: none */
};

/* A platform starting "javascript" gets Sentry's default inbound filters
 * as project options, in the same transaction. */
int	store_project_create(struct store *st, int64_t org_id,
	    const char *slug, const char *name, const char *platform,
	    int64_t template_id, int64_t *id);
int	store_project_update(struct store *st, int64_t id,
	    const struct store_project_patch *p);
/* Cascades: keys and options. */
int	store_project_delete(struct store *st, int64_t id);

int	store_template_create(struct store *st, int64_t org_id,
	    const char *name, int64_t *id);
/* Cascades: its options; projects using it fall back to no template. */
int	store_template_delete(struct store *st, int64_t id);

struct store_key_patch {
	bool		 set_label;
	const char	*label;		/* NULL: unset */
	int		 status;
	bool		 set_rate_limit;
	bool		 has_rate_limit;
	int64_t		 rate_limit_count;
	int64_t		 rate_limit_window;
};

/*
 * store_key_create - a key with fresh public and secret keys (32 lowercase
 * hex of 16 random bytes each, like Sentry's uuid4().hex), status active,
 * roles 1.  The new row's id and keys are copied into *out (label NULL).
 */
int	store_key_create(struct store *st, int64_t project_id,
	    const char *label, const struct store_key_patch *limits,
	    struct model_projectkey *out);
int	store_key_update(struct store *st, const char *public_key,
	    const struct store_key_patch *p);
int	store_key_delete(struct store *st, const char *public_key);

enum store_owner {
	STORE_OWNER_PROJECT,
	STORE_OWNER_ORG,
	STORE_OWNER_TEMPLATE
};

/*
 * store_option_set - set key to the JSON text json (stored re-serialised,
 * compact), or unset it when json is NULL.  Nothing is invalidated when
 * the value did not change.  STORE_NOT_FOUND: no such owner, or (unset) no
 * such option.  STORE_INVALID: bad key or JSON.
 */
int	store_option_set(struct store *st, enum store_owner owner,
	    int64_t owner_id, const char *key, const char *json);

struct store_relay_patch {
	const char	*public_key;
	int		 is_internal;	/* -1 keep, 0, 1 */
};

int	store_relay_create(struct store *st, const char *relay_id,
	    const char *public_key, bool is_internal, int64_t *id);
int	store_relay_update(struct store *st, const char *relay_id,
	    const struct store_relay_patch *p);
/* Also deletes its sentry_relayusage rows. */
int	store_relay_delete(struct store *st, const char *relay_id);

/*
 * Transaction thresholds (store_thresholds.c), as Sentry's endpoint takes
 * them: metric MODEL_TXMETRIC_*, a threshold that is a multiple of 100
 * within the INT column, a transaction name of 1-200 characters.  Sets
 * create or replace the row; removes answer STORE_NOT_FOUND when there
 * is none.  Each drops the project's cached thresholds and its keys'
 * computed configs.  STORE_NOT_FOUND also for a project that does not
 * exist; STORE_INVALID for a refused value.
 */
int	store_txthreshold_set(struct store *st, int64_t project_id, int metric,
	    int64_t threshold);
int	store_txthreshold_remove(struct store *st, int64_t project_id);
int	store_txthreshold_override_set(struct store *st, int64_t project_id,
	    const char *transaction, int metric, int64_t threshold);
int	store_txthreshold_override_remove(struct store *st,
	    int64_t project_id, const char *transaction);

/* --- validation shared with callers ---------------------------------- */

bool	store_valid_hex32(const char *s);	/* 32 lowercase hex */
bool	store_valid_uuid(const char *s);	/* canonical lowercase */
/* [a-z0-9_-], 1 to max (organization 50, project 100), not all digits */
bool	store_valid_slug(const char *s, size_t max);
bool	store_valid_txmetric(int64_t metric);	/* 1 duration, 2 lcp */
bool	store_valid_txthreshold(int64_t threshold);
bool	store_valid_txname(const char *s);	/* 1-200 characters of text */

#endif
