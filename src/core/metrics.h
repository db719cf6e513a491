/*
 * metrics.h - counters and histograms shared by the prefork pool.
 *
 * One region of shared anonymous memory, made by the master before it
 * forks (metrics_create), holds one slot per worker position plus one for
 * the master.  A process writes only its own slot (metrics_attach), with
 * relaxed atomic loads and stores: no lock, no syscall, no read-modify-
 * write instruction on the hot path.  Readers (GET /metrics, the StatsD
 * flush) sum the slots.  A slot is never cleared while the master lives, so
 * a worker that replaces a dead one, or the pool after SIGHUP, keeps adding
 * to the same numbers: counters are monotonic for the life of the master.
 * Without metrics_create (relaycfgctl, unit tests, single mode before
 * create) every call is a no-op.
 *
 * Each family has up to three labels with fixed value lists (metrics.c);
 * a label index out of range counts under the list's last value ("other").
 */
#ifndef RELAYCFG_METRICS_H
#define RELAYCFG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The families.  Names, help, labels and buckets are in metrics.c. */
enum metric_family {
	/* requests (worker) */
	MF_REQUESTS,		/* counter {endpoint, version, status} */
	MF_REQUEST_SECONDS,	/* histogram {endpoint} */
	MF_RESPONSE_BYTES,	/* counter {endpoint} */
	MF_IN_FLIGHT,		/* gauge: requests being answered */
	MF_AUTH,		/* counter {outcome} */
	MF_KEYS,		/* counter {outcome}: keys answered */
	MF_KEYS_PER_REQUEST,	/* histogram: keys asked per request */
	/* Sentry's stage timers, under Sentry's names (histograms) */
	MF_SENTRY_FETCHING_KEYS,	/* relay_project_configs.fetching_keys.duration */
	MF_SENTRY_FETCHING_PROJECTS,	/* relay_project_configs.fetching_projects.duration */
	MF_SENTRY_FETCHING_ORGS,	/* relay_project_configs.fetching_orgs.duration */
	MF_SENTRY_GET_PROJECT_CONFIG,	/* relay.config.get_project_config.duration */
	/* configs */
	MF_CONFIGS_BUILT,	/* counter */
	MF_STALE_SERVED,	/* counter: stale copies answered in an outage */
	MF_CONFIGS_OTHER_SETTINGS,	/* counter: entries of other settings */
	/* cache and database */
	MF_CACHE,		/* counter {kind, result} */
	MF_MEMCACHED_OPS,	/* counter {op} libmemcached operations */
	MF_MEMCACHED_ERRORS,	/* counter */
	MF_MEMCACHED_SECONDS,	/* histogram */
	MF_SQL_STATEMENTS,	/* counter */
	MF_SQL_ERRORS,		/* counter */
	MF_SQL_SECONDS,		/* histogram */
	MF_MEMCACHED_UP,	/* gauge {server}: as this process last saw it */
	MF_MARIADB_UP,		/* gauge {server}: as this process last saw it */
	/* the pool (master slot) */
	MF_WORKER_STARTS,	/* counter */
	MF_WORKER_EXITS,	/* counter {cause} */
	MF_RELOADS,		/* counter */
	/* the StatsD push (statsd.c) */
	MF_STATSD_DROPPED,	/* counter: datagrams not sent */
	MF_N_FAMILIES
};

/* Label values, by family; the last of each list is the catch-all. */
enum metric_endpoint {
	ME_LIVE, ME_PROJECTCONFIGS, ME_REGISTER_CHALLENGE, ME_REGISTER_RESPONSE,
	ME_PUBLICKEYS, ME_METRICS, ME_OTHER, ME_N
};
enum metric_version { MV_NONE, MV_1, MV_2, MV_3, MV_OTHER, MV_N };
enum metric_auth {
	MA_OK, MA_MISSING, MA_UNKNOWN_RELAY, MA_BAD_SIGNATURE, MA_EXPIRED,
	MA_NOT_INTERNAL, MA_ERROR, MA_N
};
enum metric_key_outcome { MK_CONFIG, MK_DISABLED, MK_PENDING, MK_UNCHANGED,
	MK_N };
enum metric_cache_kind {
	MCK_ORG, MCK_PROJECT, MCK_PROJECTKEY, MCK_KEYLIST, MCK_OPTIONS,
	MCK_RELAY, MCK_CONFIG, MCK_THRESHOLDS, MCK_OTHER, MCK_N
};
enum metric_cache_result { MCR_HIT, MCR_MISS, MCR_ERROR, MCR_N };
enum metric_mc_op { MMO_GET, MMO_SET, MMO_DELETE, MMO_OTHER, MMO_N };
/* relaycfg_mariadb_up's server: MDB_REPLICA1 + i for replica i + 1. */
enum metric_db_server { MDB_PRIMARY, MDB_REPLICA1, MDB_OTHER = 5, MDB_N };
enum metric_exit { MX_RECYCLED, MX_CRASHED, MX_KILLED, MX_WATCHDOG,
	MX_OTHER, MX_N };

#define METRICS_MAX_WORKERS	1024	/* worker slots; the master has one more */
#define METRICS_MAX_MC_SERVERS	16	/* memcached_up entries per slot */

/*
 * metrics_create - the shared region, zeroed, for up to METRICS_MAX_WORKERS
 * workers and the master; the calling process (the master) is attached to
 * the master slot.  Returns 0, or -1 (errno set) when mmap fails; metrics
 * then stay off and every call is a no-op.  Call once, before forking.
 */
int	metrics_create(void);

/* metrics_attach - this process writes slot i from now on (a worker after
 * fork; i < METRICS_MAX_WORKERS).  pid is recorded for the per-worker
 * gauges.  i out of range: what it writes is dropped (a slot never read).
 * No-op without a region. */
void	metrics_attach(int i, long pid);

/*
 * metrics_vacate - the process writing slot i is gone (the master, after
 * reaping it): its gauges are zeroed and it has no per-process lines any
 * more; its counters stay in the sums.  The next metrics_attach(i) reuses
 * the slot.  No-op without a region.
 */
void	metrics_vacate(int i);

/*
 * metrics_db_servers - this process has n MariaDB servers (the primary
 * and n - 1 replicas): relaycfg_mariadb_up shows that many lines per
 * process (1 by default; at most MDB_OTHER).
 */
void	metrics_db_servers(size_t n);

/* metrics_enabled - is there a region? */
bool	metrics_enabled(void);

/* metrics_add - family f (a counter) at labels (a, b, c) += n. */
void	metrics_add(enum metric_family f, unsigned a, unsigned b, unsigned c,
	    uint64_t n);

/* metrics_inc - += 1 at labels (a, b, c). */
void	metrics_inc(enum metric_family f, unsigned a, unsigned b, unsigned c);

/*
 * metrics_observe - histogram f at label a: one observation of value (in
 * the family's unit: seconds for _seconds families).
 */
void	metrics_observe(enum metric_family f, unsigned a, double value);

/* metrics_set - gauge f at label a = v (this process's own value). */
void	metrics_set(enum metric_family f, unsigned a, int64_t v);

/* metrics_status_label - the status label index of an HTTP status. */
unsigned	metrics_status_label(int status);

/*
 * A sink sees every observation and count as it is made (the StatsD
 * client batches them per request).  sentry_name is Sentry's name of the
 * family (relay_project_configs.fetching_keys.duration, ...) or NULL.
 * The sink must not block; NULL removes it.
 */
typedef void (*metrics_sink_fn)(enum metric_family f, const char *sentry_name,
    unsigned a, double value, bool is_histogram);
void	metrics_set_sink(metrics_sink_fn fn);

/* metrics_family_name - the Prometheus name of f ("relaycfg_..."). */
const char	*metrics_family_name(enum metric_family f);

/* metrics_label_value - the text of value index i of label l of f, or NULL. */
const char	*metrics_label_value(enum metric_family f, unsigned l,
		    unsigned i);

/* metrics_seconds_since - seconds from *start (CLOCK_MONOTONIC) to now. */
struct timespec;
double	metrics_seconds_since(const struct timespec *start);

/* metrics_now - CLOCK_MONOTONIC now into *t (vDSO: no syscall). */
void	metrics_now(struct timespec *t);

/*
 * Reading.  A snapshot is the sum over all slots (gauges: the sum, except
 * the per-process ones, read with metrics_slot_gauge).  The buffer is the
 * caller's.
 */
struct metrics_snapshot;

/* metrics_snapshot_new - sum the slots now; NULL on OOM or without metrics. */
struct metrics_snapshot	*metrics_snapshot_new(void);
void	 metrics_snapshot_free(struct metrics_snapshot *s);

/*
 * metrics_render_prometheus - the text exposition format (version 0.0.4)
 * of snapshot s into a new string (*len set); mc_servers names the
 * memcached servers for the per-process gauges.  NULL on OOM.
 */
char	*metrics_render_prometheus(const struct metrics_snapshot *s,
	    const char *const *mc_servers, size_t n_mc_servers, size_t *len);

#endif
