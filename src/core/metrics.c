/*
 * metrics.c - counters and histograms in shared memory, summed and rendered for Prometheus
 *
 * The family table below is the one place that names a metric: its
 * Prometheus name and help, its labels and their values, its buckets, and
 * the Sentry name it stands for.  Cells are laid out family after family
 * in every slot; a histogram keeps its buckets (not cumulative), then its
 * count and its sum (in nanounits, so that an integer cell holds it).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <json-c/printbuf.h>

#include "metrics.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

enum family_type { FT_COUNTER, FT_GAUGE, FT_SLOT_GAUGE, FT_HISTOGRAM };

struct label {
	const char		*name;
	const char *const	*values;
	unsigned		 n;
};

struct family {
	const char		*name;
	const char		*help;
	enum family_type	 type;
	struct label		 label[3];	/* name NULL: unused */
	const double		*buckets;	/* histograms: upper bounds */
	unsigned		 nbuckets;
	const char		*sentry;	/* Sentry's metric, or NULL */
};

static const char *const endpoints[] = {
	"live", "projectconfigs", "register_challenge", "register_response",
	"publickeys", "metrics", "other",
};
static const char *const versions[] = { "none", "1", "2", "3", "other" };
static const char *const statuses[] = {
	"200", "204", "304", "400", "401", "403", "404", "405", "413", "415",
	"429", "500", "502", "503", "504", "other",
};
static const int status_codes[] = {
	200, 204, 304, 400, 401, 403, 404, 405, 413, 415, 429, 500, 502, 503,
	504,
};
static const char *const auth_outcomes[] = {
	"ok", "missing_headers", "unknown_relay", "bad_signature", "expired",
	"not_internal", "error",
};
static const char *const key_outcomes[] = {
	"config", "disabled", "pending", "unchanged",
};
static const char *const cache_kinds[] = {
	"organization", "project", "projectkey", "keylist", "options", "relay",
	"config", "thresholds", "other",
};
static const char *const cache_results[] = { "hit", "miss", "error" };
static const char *const mc_ops[] = { "get", "set", "delete", "other" };
static const char *const exit_causes[] = {
	"recycled", "crashed", "killed", "watchdog", "other",
};
/* db_new's labels: the primary, then the replicas in conf order. */
static const char *const db_servers[] = {
	"primary", "replica1", "replica2", "replica3", "replica4", "other",
};
static const char *const mc_server_index[METRICS_MAX_MC_SERVERS] = {
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
	"13", "14", "15",
};

/* Seconds: 100 us to 10 s, as Prometheus' default plus the short end. */
static const double seconds_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10,
};
static const double count_buckets[] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000,
};

#define L(n, v)		{ n, v, N(v) }
#define NOLABEL		{ NULL, NULL, 1 }
#define SECONDS		seconds_buckets, N(seconds_buckets)

static const struct family families[MF_N_FAMILIES] = {
	[MF_REQUESTS] = { "relaycfg_requests_total",
	    "Requests answered, by endpoint, protocol version and status.",
	    FT_COUNTER, { L("endpoint", endpoints), L("version", versions),
	    L("status", statuses) }, NULL, 0, NULL },
	[MF_REQUEST_SECONDS] = { "relaycfg_request_duration_seconds",
	    "Time from the request's params to its last answer byte.",
	    FT_HISTOGRAM, { L("endpoint", endpoints), NOLABEL, NOLABEL },
	    SECONDS, NULL },
	[MF_RESPONSE_BYTES] = { "relaycfg_response_bytes_total",
	    "Answer bytes written (body, as sent).", FT_COUNTER,
	    { L("endpoint", endpoints), NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_IN_FLIGHT] = { "relaycfg_requests_in_flight",
	    "Requests being answered now.", FT_GAUGE,
	    { NOLABEL, NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_AUTH] = { "relaycfg_auth_total",
	    "Relay authentications, by outcome.", FT_COUNTER,
	    { L("outcome", auth_outcomes), NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_KEYS] = { "relaycfg_project_keys_total",
	    "Public keys answered, by outcome.", FT_COUNTER,
	    { L("outcome", key_outcomes), NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_KEYS_PER_REQUEST] = { "relaycfg_keys_per_request",
	    "Public keys asked for per project-config request.", FT_HISTOGRAM,
	    { NOLABEL, NOLABEL, NOLABEL }, count_buckets, N(count_buckets),
	    NULL },
	[MF_SENTRY_FETCHING_KEYS] = {
	    "relaycfg_relay_project_configs_fetching_keys_duration_seconds",
	    "Sentry's relay_project_configs.fetching_keys.duration: reading "
	    "the requested keys.", FT_HISTOGRAM, { NOLABEL, NOLABEL, NOLABEL },
	    SECONDS, "relay_project_configs.fetching_keys.duration" },
	[MF_SENTRY_FETCHING_PROJECTS] = {
	    "relaycfg_relay_project_configs_fetching_projects_duration_seconds",
	    "Sentry's relay_project_configs.fetching_projects.duration: "
	    "reading their projects.", FT_HISTOGRAM,
	    { NOLABEL, NOLABEL, NOLABEL }, SECONDS,
	    "relay_project_configs.fetching_projects.duration" },
	[MF_SENTRY_FETCHING_ORGS] = {
	    "relaycfg_relay_project_configs_fetching_orgs_duration_seconds",
	    "Sentry's relay_project_configs.fetching_orgs.duration: reading "
	    "their organizations.", FT_HISTOGRAM, { NOLABEL, NOLABEL, NOLABEL },
	    SECONDS, "relay_project_configs.fetching_orgs.duration" },
	[MF_SENTRY_GET_PROJECT_CONFIG] = {
	    "relaycfg_relay_config_get_project_config_duration_seconds",
	    "Sentry's relay.config.get_project_config.duration: building one "
	    "project config.", FT_HISTOGRAM, { NOLABEL, NOLABEL, NOLABEL },
	    SECONDS, "relay.config.get_project_config.duration" },
	[MF_CONFIGS_BUILT] = { "relaycfg_configs_built_total",
	    "Project configs built (cache misses and changes).", FT_COUNTER,
	    { NOLABEL, NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_STALE_SERVED] = { "relaycfg_stale_configs_served_total",
	    "Stale config copies answered while MariaDB was unreachable.",
	    FT_COUNTER, { NOLABEL, NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_CONFIGS_OTHER_SETTINGS] = {
	    "relaycfg_configs_other_settings_total",
	    "Cached configs found built under other Sentry settings or by "
	    "another release (hosts sharing memcached that differ).",
	    FT_COUNTER, { NOLABEL, NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_CACHE] = { "relaycfg_cache_requests_total",
	    "Cache look-ups, by kind of entry and result.", FT_COUNTER,
	    { L("kind", cache_kinds), L("result", cache_results), NOLABEL },
	    NULL, 0, NULL },
	[MF_MEMCACHED_OPS] = { "relaycfg_memcached_operations_total",
	    "libmemcached operations issued, by kind: a multi-get to one "
	    "server is one, each buffered set or delete one (several share "
	    "a round trip).", FT_COUNTER,
	    { L("op", mc_ops), NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_MEMCACHED_ERRORS] = { "relaycfg_memcached_errors_total",
	    "memcached server failures (each opens or keeps that server's "
	    "breaker).", FT_COUNTER,
	    { NOLABEL, NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_MEMCACHED_SECONDS] = { "relaycfg_memcached_duration_seconds",
	    "Time of one memcached call: a multi-get to one server, or a "
	    "whole set or delete pipeline.", FT_HISTOGRAM,
	    { NOLABEL, NOLABEL, NOLABEL }, SECONDS, NULL },
	[MF_SQL_STATEMENTS] = { "relaycfg_mariadb_statements_total",
	    "SQL statements sent to MariaDB.", FT_COUNTER,
	    { NOLABEL, NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_SQL_ERRORS] = { "relaycfg_mariadb_errors_total",
	    "Failed SQL statements and connections.", FT_COUNTER,
	    { NOLABEL, NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_SQL_SECONDS] = { "relaycfg_mariadb_duration_seconds",
	    "Time of one SQL statement, results read.", FT_HISTOGRAM,
	    { NOLABEL, NOLABEL, NOLABEL }, SECONDS, NULL },
	[MF_MEMCACHED_UP] = { "relaycfg_memcached_up",
	    "1 when this process last reached the memcached server, 0 when "
	    "it is resting it after a failure.", FT_SLOT_GAUGE,
	    { L("server", mc_server_index), NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_MARIADB_UP] = { "relaycfg_mariadb_up",
	    "1 when this process last reached the MariaDB server (it tries "
	    "each when it starts), 0 when it could not.", FT_SLOT_GAUGE,
	    { L("server", db_servers), NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_WORKER_STARTS] = { "relaycfg_worker_starts_total",
	    "Workers forked.", FT_COUNTER, { NOLABEL, NOLABEL, NOLABEL },
	    NULL, 0, NULL },
	[MF_WORKER_EXITS] = { "relaycfg_worker_exits_total",
	    "Workers gone, by cause.", FT_COUNTER,
	    { L("cause", exit_causes), NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_RELOADS] = { "relaycfg_reloads_total",
	    "Configuration reloads (SIGHUP).", FT_COUNTER,
	    { NOLABEL, NOLABEL, NOLABEL }, NULL, 0, NULL },
	[MF_STATSD_DROPPED] = { "relaycfg_statsd_dropped_total",
	    "StatsD datagrams dropped because the send would block or "
	    "failed.", FT_COUNTER, { NOLABEL, NOLABEL, NOLABEL }, NULL, 0,
	    NULL },
};

/*
 * Units of a histogram's sum cell: nanoseconds for seconds (2^64 ns is
 * 584 years of time observed), ones for counts (keys_per_request: in
 * billionths its cell wrapped after 1.8e10 keys, a day at 200,000 keys/s).
 */
#define SUM_SCALE	1e9

static double
sum_scale(const struct family *d)
{
	return d->buckets == count_buckets ? 1 : SUM_SCALE;
}

struct slot {
	_Atomic long	 pid;		/* 0: never used */
	_Atomic uint64_t cell[];
};

static struct {
	unsigned char	*base;		/* NULL: off */
	size_t		 slot_size;
	size_t		 ncells;
	unsigned	 offset[MF_N_FAMILIES];
	struct slot	*mine;
	metrics_sink_fn	 sink;
	size_t		 n_db;		/* mariadb_up lines per process */
} m = { .n_db = 1 };

/* cells - how many cells family f takes in a slot. */
static size_t
cells(const struct family *f)
{
	size_t n = (size_t)f->label[0].n * f->label[1].n * f->label[2].n;

	if (f->type == FT_HISTOGRAM)
		n *= f->nbuckets + 3;	/* buckets, +Inf, count, sum */
	return n;
}

static struct slot *
slot_at(size_t i)
{
	return (struct slot *)(void *)(m.base + i * m.slot_size);
}

int
metrics_create(void)
{
	size_t n = 0, total;
	void *p;

	if (m.base != NULL)
		return 0;
	for (size_t f = 0; f < MF_N_FAMILIES; f++) {
		m.offset[f] = (unsigned)n;
		n += cells(&families[f]);
	}
	m.ncells = n;
	/* whole cache lines, so that no two writers share one */
	m.slot_size = (sizeof(struct slot) + n * sizeof(uint64_t) + 63) &
	    ~(size_t)63;
	/* + a discard slot, never read, for a process without a position */
	total = m.slot_size * (METRICS_MAX_WORKERS + 2);
	p = mmap(NULL, total, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	m.base = p;
	m.mine = slot_at(METRICS_MAX_WORKERS);	/* the master's */
	return 0;
}

void
metrics_attach(int i, long pid)
{
	if (m.base == NULL)
		return;
	if (i < 0 || i >= METRICS_MAX_WORKERS) {
		/* never the master's slot: it has one writer */
		m.mine = slot_at(METRICS_MAX_WORKERS + 1);
		return;
	}
	m.mine = slot_at((size_t)i);
	atomic_store_explicit(&m.mine->pid, pid, memory_order_relaxed);
}

void
metrics_vacate(int i)
{
	struct slot *sl;

	if (m.base == NULL || i < 0 || i >= METRICS_MAX_WORKERS)
		return;
	sl = slot_at((size_t)i);
	/* its gauges end with it; its counters stay in the sums */
	for (size_t f = 0; f < MF_N_FAMILIES; f++) {
		const struct family *d = &families[f];

		if (d->type != FT_GAUGE && d->type != FT_SLOT_GAUGE)
			continue;
		for (size_t c = 0; c < cells(d); c++)
			atomic_store_explicit(&sl->cell[m.offset[f] + c], 0,
			    memory_order_relaxed);
	}
	if (atomic_load_explicit(&sl->pid, memory_order_relaxed) != 0)
		atomic_store_explicit(&sl->pid, -1, memory_order_relaxed);
}

/* metrics_db_servers - see metrics.h. */
void
metrics_db_servers(size_t n)
{
	m.n_db = n < 1 ? 1 : n > MDB_OTHER ? MDB_OTHER : n;
}

bool
metrics_enabled(void)
{
	return m.base != NULL;
}

void
metrics_set_sink(metrics_sink_fn fn)
{
	m.sink = fn;
}

/* clamp - a label index, the catch-all (last value) when out of range. */
static unsigned
clamp(const struct label *l, unsigned i)
{
	return i < l->n ? i : l->n - 1;
}

/* bump - the single writer's cell += n, without a locked instruction. */
static void
bump(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

void
metrics_add(enum metric_family f, unsigned a, unsigned b, unsigned c,
    uint64_t n)
{
	const struct family *d;
	size_t i;

	if ((unsigned)f >= MF_N_FAMILIES)
		return;
	d = &families[f];
	if (m.sink != NULL && d->type == FT_COUNTER)
		m.sink(f, d->sentry, a, (double)n, false);
	if (m.base == NULL || d->type != FT_COUNTER)
		return;
	i = ((size_t)clamp(&d->label[0], a) * d->label[1].n +
	    clamp(&d->label[1], b)) * d->label[2].n + clamp(&d->label[2], c);
	bump(&m.mine->cell[m.offset[f] + i], n);
}

void
metrics_inc(enum metric_family f, unsigned a, unsigned b, unsigned c)
{
	metrics_add(f, a, b, c, 1);
}

void
metrics_observe(enum metric_family f, unsigned a, double value)
{
	const struct family *d;
	_Atomic uint64_t *h;
	unsigned k;

	if ((unsigned)f >= MF_N_FAMILIES)
		return;
	d = &families[f];
	if (d->type != FT_HISTOGRAM)
		return;
	if (m.sink != NULL)
		m.sink(f, d->sentry, a, value, true);
	if (m.base == NULL)
		return;
	if (!(value >= 0))	/* also NaN */
		value = 0;
	h = &m.mine->cell[m.offset[f] +
	    (size_t)clamp(&d->label[0], a) * (d->nbuckets + 3)];
	for (k = 0; k < d->nbuckets && value > d->buckets[k]; k++)
		;
	bump(&h[k], 1);			/* k == nbuckets: +Inf */
	bump(&h[d->nbuckets + 1], 1);
	bump(&h[d->nbuckets + 2], (uint64_t)(value * sum_scale(d) + 0.5));
}

void
metrics_set(enum metric_family f, unsigned a, int64_t v)
{
	const struct family *d;

	if (m.base == NULL || (unsigned)f >= MF_N_FAMILIES)
		return;
	d = &families[f];
	if (d->type != FT_GAUGE && d->type != FT_SLOT_GAUGE)
		return;
	atomic_store_explicit(&m.mine->cell[m.offset[f] +
	    clamp(&d->label[0], a)], (uint64_t)v, memory_order_relaxed);
}

unsigned
metrics_status_label(int status)
{
	for (unsigned i = 0; i < N(status_codes); i++)
		if (status_codes[i] == status)
			return i;
	return N(statuses) - 1;
}

const char *
metrics_family_name(enum metric_family f)
{
	return (unsigned)f < MF_N_FAMILIES ? families[f].name : NULL;
}

const char *
metrics_label_value(enum metric_family f, unsigned l, unsigned i)
{
	if ((unsigned)f >= MF_N_FAMILIES || l > 2 ||
	    families[f].label[l].name == NULL || i >= families[f].label[l].n)
		return NULL;
	return families[f].label[l].values[i];
}

void
metrics_now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

double
metrics_seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* ------------------------------------------------------------------ */
/* Reading.                                                            */

struct metrics_snapshot {
	size_t		 nslots;	/* used worker slots copied below */
	long		*pid;		/* by used slot */
	uint64_t	*slot_cells;	/* nslots x ncells (slot gauges) */
	uint64_t	 sum[];		/* ncells, over every slot */
};

struct metrics_snapshot *
metrics_snapshot_new(void)
{
	struct metrics_snapshot *s;
	size_t used = 0;

	if (m.base == NULL)
		return NULL;
	if ((s = calloc(1, sizeof(*s) + m.ncells * sizeof(uint64_t))) == NULL)
		return NULL;
	for (size_t i = 0; i < METRICS_MAX_WORKERS; i++)
		if (atomic_load_explicit(&slot_at(i)->pid,
		    memory_order_relaxed) > 0)
			used++;
	if (used > 0 && ((s->pid = calloc(used, sizeof(long))) == NULL ||
	    (s->slot_cells = calloc(used * m.ncells, sizeof(uint64_t))) ==
	    NULL)) {
		metrics_snapshot_free(s);
		return NULL;
	}
	for (size_t i = 0; i <= METRICS_MAX_WORKERS; i++) {
		struct slot *sl = slot_at(i);
		long pid = atomic_load_explicit(&sl->pid, memory_order_relaxed);
		uint64_t *copy = NULL;

		if (i < METRICS_MAX_WORKERS && pid == 0)
			continue;
		/* pid -1: vacated, counted but no per-process lines */
		if (i < METRICS_MAX_WORKERS && pid > 0 && s->nslots < used) {
			s->pid[s->nslots] = pid;
			copy = &s->slot_cells[s->nslots * m.ncells];
			s->nslots++;
		}
		for (size_t c = 0; c < m.ncells; c++) {
			uint64_t v = atomic_load_explicit(&sl->cell[c],
			    memory_order_relaxed);

			s->sum[c] += v;
			if (copy != NULL)
				copy[c] = v;
		}
	}
	return s;
}

void
metrics_snapshot_free(struct metrics_snapshot *s)
{
	if (s == NULL)
		return;
	free(s->pid);
	free(s->slot_cells);
	free(s);
}

/* The text being rendered; failed once any append ran out of memory. */
struct out {
	struct printbuf	*pb;
	bool		 failed;
};

static void
out_mem(struct out *o, const char *p, int n)
{
	if (printbuf_memappend(o->pb, p, n) < 0)
		o->failed = true;
}

static void __attribute__((format(printf, 2, 3)))
out_fmt(struct out *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* every format here is short: a name, a number, a label */
	if (n < 0 || (size_t)n >= sizeof(buf))
		o->failed = true;
	else
		out_mem(o, buf, n);
}

/* labels - `{a="x",b="y"` of the used labels of d at (i0, i1, i2). */
static void
labels(struct out *o, const struct family *d, const unsigned idx[3])
{
	bool open = false;

	for (unsigned l = 0; l < 3; l++) {
		if (d->label[l].name == NULL)
			continue;
		out_fmt(o, "%s%s=\"%s\"", open ? "," : "{", d->label[l].name,
		    d->label[l].values[idx[l]]);
		open = true;
	}
	if (open)
		out_mem(o, "}", 1);
}

/* escaped - a label value with \\, " and newlines escaped. */
static void
escaped(struct out *o, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			out_mem(o, "\\", 1);
		if (*v == '\n')
			out_mem(o, "\\n", 2);
		else
			out_mem(o, v, 1);
	}
}

/*
 * number - a double as Prometheus reads it, in the shortest of %.15g,
 * %.16g and %.17g that reads back as v: le="0.0025", not
 * le="0.0025000000000000001" (Prometheus' own clients print the
 * shortest form, and dashboards match le by its text).
 */
static void
number(struct out *o, double v)
{
	char buf[40];

	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (prec == 17 || strtod(buf, NULL) == v)
			break;
	}
	out_mem(o, buf, (int)strlen(buf));
}

static void
render_family(struct out *o, const struct metrics_snapshot *s,
    enum metric_family f, const char *const *mc_servers, size_t n_mc)
{
	const struct family *d = &families[f];
	const uint64_t *c = &s->sum[m.offset[f]];
	static const char *const types[] = {
		"counter", "gauge", "gauge", "histogram",
	};
	unsigned idx[3];

	/* Per-process gauges name configured servers only. */
	if (f == MF_MARIADB_UP) {
		mc_servers = db_servers;
		n_mc = m.n_db;
	}

	out_fmt(o, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help,
	    d->name, types[d->type]);
	if (d->type == FT_SLOT_GAUGE) {
		/* one line per process and value: {worker="pid",...} */
		for (size_t w = 0; w < s->nslots; w++)
			for (unsigned a = 0; a < d->label[0].n; a++) {
				const uint64_t *sc = &s->slot_cells[w *
				    m.ncells + m.offset[f]];

				if (d->label[0].name != NULL && a >= n_mc)
					break;
				out_fmt(o, "%s{worker=\"%ld\"", d->name,
				    s->pid[w]);
				if (d->label[0].name != NULL) {
					out_mem(o, ",server=\"", 9);
					escaped(o, mc_servers[a]);
					out_mem(o, "\"", 1);
				}
				out_fmt(o, "} %lld\n", (long long)sc[a]);
			}
		return;
	}
	for (idx[0] = 0; idx[0] < d->label[0].n; idx[0]++)
	for (idx[1] = 0; idx[1] < d->label[1].n; idx[1]++)
	for (idx[2] = 0; idx[2] < d->label[2].n; idx[2]++) {
		size_t i = ((size_t)idx[0] * d->label[1].n + idx[1]) *
		    d->label[2].n + idx[2];

		if (d->type != FT_HISTOGRAM) {
			/* multi-label counters: only the series that moved */
			if (d->label[1].name != NULL && c[i] == 0)
				continue;
			out_mem(o, d->name, (int)strlen(d->name));
			labels(o, d, idx);
			out_fmt(o, " %llu\n", (unsigned long long)(d->type ==
			    FT_GAUGE ? (uint64_t)(int64_t)c[i] : c[i]));
			continue;
		}
		{
			const uint64_t *h = &c[i * (d->nbuckets + 3)];
			uint64_t cum = 0;

			for (unsigned k = 0; k <= d->nbuckets; k++) {
				cum += h[k];
				out_fmt(o, "%s_bucket{", d->name);
				if (d->label[0].name != NULL)
					out_fmt(o, "%s=\"%s\",",
					    d->label[0].name,
					    d->label[0].values[idx[0]]);
				out_mem(o, "le=\"", 4);
				if (k < d->nbuckets)
					number(o, d->buckets[k]);
				else
					out_mem(o, "+Inf", 4);
				out_fmt(o, "\"} %llu\n",
				    (unsigned long long)cum);
			}
			out_fmt(o, "%s_sum", d->name);
			labels(o, d, idx);
			out_mem(o, " ", 1);
			number(o, (double)h[d->nbuckets + 2] / sum_scale(d));
			/*
			 * _count is the +Inf bucket, not the count cell: a
			 * worker bumps its bucket and its count one after the
			 * other, and a scrape between the two would break
			 * Prometheus' rule that they are equal.
			 */
			out_fmt(o, "\n%s_count", d->name);
			labels(o, d, idx);
			out_fmt(o, " %llu\n", (unsigned long long)cum);
		}
	}
}

char *
metrics_render_prometheus(const struct metrics_snapshot *s,
    const char *const *mc_servers, size_t n_mc_servers, size_t *len)
{
	struct out out = { NULL, false };
	struct out *o = &out;
	char *rv = NULL;

	if (s == NULL || (out.pb = printbuf_new()) == NULL)
		return NULL;
	for (size_t f = 0; f < MF_N_FAMILIES; f++)
		render_family(o, s, (enum metric_family)f, mc_servers,
		    n_mc_servers < METRICS_MAX_MC_SERVERS ? n_mc_servers :
		    METRICS_MAX_MC_SERVERS);
	if (!out.failed && printbuf_length(out.pb) > 0 &&
	    (rv = malloc((size_t)printbuf_length(out.pb) + 1)) != NULL) {
		memcpy(rv, out.pb->buf, (size_t)printbuf_length(out.pb) + 1);
		if (len != NULL)
			*len = (size_t)printbuf_length(out.pb);
	}
	printbuf_free(out.pb);
	return rv;
}
