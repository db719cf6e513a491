/*
 * store_int.h - what the store's files share and nothing outside them
 * sees: struct store, the per-request local cache, the SQL plumbing, the
 * table-driven row codecs, the batched cache-aside reads, invalidation.
 *
 * The files and their jobs:
 *   store.c            a store's life: open, close, errors, statistics,
 *                      the SQL helpers the other files share, the
 *                      server a request reads (primary or replica)
 *   store_local.c      the per-request local cache and the results it owns
 *   store_valid.c      id, slug, key and text validation
 *   store_codec.c      row <-> struct <-> JSON, driven by one table per model
 *   store_batch.c      the cache-aside mechanism every read shares
 *   store_read.c       Sentry's get_many_from_cache: rows, key lists,
 *                      relaycfgctl's lists
 *   store_options.c    option dicts (project over template, org, template)
 *   store_invalidate.c the cache keys a scope or a write must drop
 *   store_write.c      the admin writes, each in one transaction, as
 *                      data (a row_op per write)
 *   store_sql.c        the statement builders (stmt_*) writes and
 *                      invalidation share, and shared SET lists
 *   store_thresholds.c transaction thresholds: per-project reads, writes
 *   store_rev.c        the persisted revision pair (sentry:relay-rev)
 */
#ifndef RELAYCFG_STORE_INT_H
#define RELAYCFG_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cache.h"
#include "db.h"
#include "store.h"

#define RELAY_PK_COLUMN_MAX 200
#define RELAY_ID_COLUMN_MAX 64

enum own_type { OWN_MEM, OWN_JSON };

struct owned {
	void		*p;
	enum own_type	 type;
};

/* Local cache node: key -> borrowed object, or known absent. */
struct lc_node {
	struct lc_node	*next;
	const void	*obj;
	bool		 absent;
	char		 key[];
};

enum read_mode {
	READ_NORMAL,		/* local, memcached, MariaDB, write back */
	READ_DB_ONLY,		/* local, MariaDB (the primary) */
	READ_CACHE_ONLY		/* local, memcached: what is cached, if anything */
};

struct store {
	const struct conf	*conf;
	struct db		*primary;
	/* Read replicas in conf order; none: reads go to the primary.  A
	 * request reads the one store_reader() picked (reader) until
	 * store_request_end(); first spreads processes over them. */
	struct db		*replicas[CONF_DB_REPLICAS_MAX];
	size_t			 n_replicas;
	size_t			 first;
	long long		 rest_until[CONF_DB_REPLICAS_MAX];	/* ms */
	long long		 lag_until[CONF_DB_REPLICAS_MAX];	/* ms, lag only */
	bool			 lagging[CONF_DB_REPLICAS_MAX];	/* logged */
	struct db		*reader;
	unsigned long long	 reader_tombs;	/* cache_tombstones() then */
	struct conf_db		 replica_creds;	/* borrowed from conf */
	struct cache		*cache;
	enum read_mode		 mode;
	bool			 bypass;
	bool			 cache_stale;
	char			 err[256];

	struct lc_node		**lc;
	size_t			 lc_cap;	/* buckets, power of 2 */
	size_t			 lc_n;

	struct owned		*owned;
	size_t			 n_owned;
	size_t			 cap_owned;
};

/* A project's keys, as cached under kl:<project_id>. */
struct keylist_obj {
	size_t				 n;
	const struct model_projectkey	*keys[];
};

/* --- store.c: errors and SQL ----------------------------------------- */

void	store_seterr(struct store *st, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A db_rc as a STORE_* code, with a message in st->err. */
int	store_rc_from_db(struct store *st, struct db *db, enum db_rc rc);
/*
 * The server this request's reads go to: the primary when reading the
 * truth (READ_DB_ONLY) or without replicas; else the first healthy
 * replica that has applied the primary's current binlog position, or the
 * primary (store.c, docs/ARCHITECTURE.md "Replicas: what a read may
 * see").  Chosen once per request, and again when the request has found
 * an invalidation's tombstone since (store.c); never NULL.
 */
struct db *store_reader(struct store *st);
/* Run q on db; *res (NULL on error) is the caller's to free.  A replica
 * that fails under the query is replaced by the primary, or, when that is
 * down too, by another replica not found lagging (else it fails). */
int	store_sql_query(struct store *st, struct db *db, const struct db_sql *q,
	    struct db_res **res);
/* Run a change on the primary. */
int	store_sql_exec(struct store *st, const struct db_sql *q,
	    uint64_t *affected, int64_t *insert_id);
/* Append "(v1,v2,...)" of n ids. */
void	store_sql_ids(struct db_sql *q, const int64_t *ids, size_t n);
/* qsort/bsearch order for int64_t; sort and drop duplicates (new count). */
int	store_cmp_i64(const void *a, const void *b);
size_t	store_uniq_i64(int64_t *v, size_t n);
/* The TTL field at off of the conf. */
unsigned store_conf_ttl(const struct store *st, size_t off);

/* --- store_local.c: the local cache ---------------------------------- */

/* Record p as a result to free at request end; frees it on OOM. */
bool	store_own(struct store *st, void *p, enum own_type type);
/* The node for key, or NULL when the request has not seen it. */
struct lc_node *store_lc_find(const struct store *st, const char *key);
/* Remember key -> obj (NULL: absent); the first answer wins and is
 * *kept (kept may be NULL).  false on OOM: nothing remembered. */
bool	store_lc_put(struct store *st, const char *key, const void *obj,
	    const void **kept);
/* The object kind:id of the request (NULL: absent or not seen). */
const void *store_lc_id(const struct store *st, const char *kind, int64_t id);
/* Forget every entry; the objects stay alive until request end. */
void	store_lc_forget_all(struct store *st);

/* --- store_valid.c --------------------------------------------------- */

bool	store_valid_charset(const char *s, const char *extra, size_t max,
	    bool upper);
bool	store_valid_text(const char *s, size_t max);
bool	store_could_be_column(const char *s, size_t max);
bool	store_valid_relay_pk(const char *s);

/* --- store_codec.c: the models --------------------------------------- */

/* How one field of a model's struct is read and written. */
enum codec_type {
	CODEC_I64,	/* int64_t, an integer */
	CODEC_INT,	/* int, an integer */
	CODEC_I64_OR0,	/* int64_t, SQL NULL reads as 0 */
	CODEC_BOOL,	/* bool; SQL NULL reads as false; cached as 0 or 1 */
	CODEC_STR,	/* char *, text */
	CODEC_STR_NULL,	/* char *, text or NULL */
	CODEC_CHARS,	/* char[max + 1], text of at most max characters */
	CODEC_CHARS_LAX,	/* the same, but an odd SQL value reads as "" */
	CODEC_LIMIT	/* two columns, both integers or both absent */
};

struct codec_field {
	enum codec_type	 type;
	size_t		 off;		/* CODEC_LIMIT: the count */
	size_t		 max;		/* CODEC_CHARS*: its length - 1 */
	size_t		 off2;		/* CODEC_LIMIT: the window */
	size_t		 off_has;	/* CODEC_LIMIT: the flag */
};

/*
 * A model: its table and columns (id first, in the order of the fields),
 * its cache kinds and TTL, and its struct.  Cached as a JSON array of the
 * columns.
 */
struct codec_model {
	const char		*kind;		/* by id */
	const char		*ptr_kind;	/* by string, or NULL */
	const char		*table;
	const char		*columns;
	const char		*str_column;	/* the pointer's column */
	size_t			 str_max;	/* its width in characters */
	size_t			 ttl_off;	/* conf ttl_* offset */
	size_t			 size;		/* sizeof the struct */
	size_t			 str_off;	/* the pointer's CHARS field */
	const struct codec_field *fields;	/* fields[0]: the int64 id */
	size_t			 nfields;
};

extern const struct codec_model codec_org, codec_project, codec_key,
    codec_relay;

#define KEY_COLUMNS "id, project_id, public_key, secret_key, status, roles, " \
	"rate_limit_count, rate_limit_window, label"

/* A new row (one allocation, free() releases it), or NULL when r or a is
 * not one (a miss, for the cache) or on OOM; codec_from_row says which
 * in *oom, as a row skipped for OOM must not read as absent. */
void	*codec_from_row(const struct codec_model *m, struct db_res *r,
	    bool *oom);
/* Likewise from a cached entry's array a, *oom saying which. */
void	*codec_from_json(const struct codec_model *m, json_object *a,
	    bool *oom);
/* A new array, NULL on OOM; a list of n rows likewise. */
json_object *codec_to_json(const struct codec_model *m, const void *obj);
json_object *codec_list_to_json(const struct codec_model *m,
	    const void *const *objs, size_t n);
int64_t	 codec_id(const struct codec_model *m, const void *obj);
const char *codec_str(const struct codec_model *m, const void *obj);
/* A pointer entry [id]: true with *id, false when a is not one. */
bool	 codec_ptr_id(json_object *a, int64_t *id);

/* A NUL-terminated payload of len bytes: a new object, or NULL when it is
 * not exactly one JSON value; cached: strict RFC 8259 and UTF-8. */
json_object *codec_parse(const char *data, size_t len);
json_object *codec_parse_cached(const char *data, size_t len);
/* The negative-entry payload. */
bool	 codec_is_null(const char *data, size_t len);

/* --- store_batch.c: the cache-aside mechanism ------------------------ */

/* A write-back batch: copies of keys and values, sent at once. */
struct wb {
	char		**keys;
	char		**vals;
	size_t		 *lens;
	unsigned	 *ttls;
	size_t		  n, cap;
	bool		  oom;
};

void	wb_add(struct wb *w, const char *key, const char *val, size_t len,
	    unsigned ttl);
void	wb_add_json(struct wb *w, const char *key, json_object *o,
	    unsigned ttl);
void	wb_flush(struct store *st, struct wb *w);
/* Not found by anyone: absent, and cached so for ttl_negative.  A key
 * the request has seen is left alone.  STORE_OK, or STORE_ERROR on OOM
 * (nothing remembered, nothing queued). */
int	wb_negative(struct store *st, struct wb *w, const char *key);

/* Room for n cache keys: buf[i] is written by the caller, kp[i] points
 * to it.  -1 on OOM; keyset_free takes a zeroed or failed one. */
struct keyset {
	char		(*buf)[CACHE_KEY_MAX];
	const char	**kp;
	size_t		 n;
};

int	keyset_init(struct keyset *ks, size_t n);
void	keyset_free(struct keyset *ks);

/*
 * A cached payload (parsed strictly; NULL when it is not JSON) read for
 * entry i: *obj the object to remember (owned by the store), or NULL for
 * a miss.  STORE_OK, or STORE_ERROR on OOM (the read stops).
 */
typedef int (*batch_decode_fn)(struct store *st, void *ctx, size_t i,
    json_object *a, const void **obj);
/* Whether a "null" entry i means absent (else it is decoded). */
typedef bool (*batch_negative_fn)(void *ctx, size_t i);
/* Entry i, a miss, held this payload of another generation (a hint). */
typedef void (*batch_other_fn)(void *ctx, size_t i, const char *payload,
    size_t len);

/*
 * batch_cache_read - one multi-get of keys[0..n) (none in READ_DB_ONLY or
 * without memcached): hits into the local cache.  Failures are misses;
 * a miss of another generation goes to other, when not NULL.  STORE_OK
 * or STORE_ERROR (OOM, with st->err; in READ_CACHE_ONLY also a multi-get
 * that failed, as no MariaDB read stands in for what it did not say).
 */
int	batch_cache_read(struct store *st, const char *const *keys, size_t n,
	    batch_decode_fn decode, batch_negative_fn negative,
	    batch_other_fn other, void *ctx);

/* How one kind keyed by id is read: from memcached, from MariaDB. */
struct batch_ops {
	const char	*kind;
	bool		 negative;	/* cache what MariaDB lacks as absent */
	/* A cached entry for id: see batch_decode_fn. */
	int		(*decode)(struct store *st, const void *arg, int64_t id,
			    json_object *a, const void **obj);
	/* The ids (sorted, unique) from MariaDB into the local cache,
	 * queueing write-backs; a STORE_* code. */
	int		(*load)(struct store *st, const void *arg,
			    const int64_t *ids, size_t n, struct wb *w);
};

struct batch_req {
	const struct batch_ops	*ops;
	const void		*arg;	/* the model or options table */
	const int64_t		*ids;	/* may repeat, may be known */
	size_t			 n;
};

/*
 * batch_get - Sentry's get_many_from_cache for ids of several kinds: what
 * the request has not seen goes to one multi-get for all, then (when
 * load, and not in READ_CACHE_ONLY) one load per kind for what memcached
 * did not have, absent ones cached so, then one write-back.  Afterwards
 * each id is in the local cache, unless the return (the last failure, a
 * STORE_* code) says why not.
 */
int	batch_get(struct store *st, const struct batch_req *reqs, size_t nreq,
	    bool load);

/* --- store_read.c ---------------------------------------------------- */

/* out[i]: the row of m with ids[i], through batch_get. */
int	read_rows_by_ids(struct store *st, const struct codec_model *m,
	    const int64_t *ids, size_t n, const void **out);

/* --- store_sql.c: statements from column lists ----------------------- */

/* How a value is written into a statement. */
enum sql_val {
	SQLV_INT,	/* i */
	SQLV_ID,	/* i, 0 as SQL NULL (no template) */
	SQLV_STR,	/* s as a text literal, NULL as SQL NULL */
	SQLV_TOKEN,	/* s, a public key or relay id (db_sql_token) */
	SQLV_RAW	/* s, SQL of the program: "0", "UTC_TIMESTAMP(6)" */
};

/* One column and its value: an INSERT's, a SET's, a WHERE's "col = v". */
struct sql_col {
	const char	*col;
	enum sql_val	 type;
	int64_t		 i;
	const char	*s;
};

#define SQL_INT(c, v)	((struct sql_col){ (c), SQLV_INT, (v), NULL })
#define SQL_ID(c, v)	((struct sql_col){ (c), SQLV_ID, (v), NULL })
#define SQL_STR(c, v)	((struct sql_col){ (c), SQLV_STR, 0, (v) })
#define SQL_TOKEN(c, v)	((struct sql_col){ (c), SQLV_TOKEN, 0, (v) })
#define SQL_RAW(c, v)	((struct sql_col){ (c), SQLV_RAW, 0, (v) })
/* A row named by its column c: = id, or = s when s is not NULL. */
#define SQL_NAMED(c, id, s) \
	((s) != NULL ? SQL_TOKEN((c), (s)) : SQL_INT((c), (id)))

/* Append to q: INSERT INTO table (c1, c2) VALUES (v1, v2). */
void	stmt_insert(struct db_sql *q, const char *table,
	    const struct sql_col *cols, size_t n);
/* UPDATE table SET c = v, ... WHERE w = x AND ... (nwhere >= 1). */
void	stmt_update(struct db_sql *q, const char *table,
	    const struct sql_col *set, size_t nset,
	    const struct sql_col *where, size_t nwhere);
/* SELECT cols FROM from WHERE w = x AND ... (nwhere >= 1). */
void	stmt_select(struct db_sql *q, const char *cols, const char *from,
	    const struct sql_col *where, size_t nwhere);
/* DELETE FROM table WHERE w = x AND ... (nwhere >= 1). */
void	stmt_delete(struct db_sql *q, const char *table,
	    const struct sql_col *where, size_t nwhere);
/* The SET list of slug, name, status (each left out when NULL, NULL, -1),
 * as organizations and projects share it, into cols (room for 3); its
 * length. */
size_t	set_named(struct sql_col *cols, const char *slug, const char *name,
	    int status);
/* A rate limit's column: v, or SQL NULL without a limit (has false). */
struct sql_col limit_col(const char *col, bool has, int64_t v);

/* --- store_invalidate.c ---------------------------------------------- */

/* A set of cache keys (owned strings). */
struct inval_set {
	char	**keys;
	size_t	  n, cap;
};

/*
 * The cache keys one write or invalidation must delete, in two sets:
 * the entries read from MariaDB (rows, options, lists, pointers) and the
 * computed configs built from them (and their rev entries).  inv_flush
 * drops the first set before the second (see there).
 */
struct inval {
	struct inval_set rows;
	struct inval_set configs;
	bool		 oom;		/* a key could not be kept: stop */
	bool		 incomplete;	/* a cached read failed: go on */
};

void	inv_id(struct store *st, struct inval *iv, const char *kind,
	    int64_t id);
void	inv_str(struct store *st, struct inval *iv, const char *kind,
	    const char *s);
void	inv_key(struct store *st, struct inval *iv, int64_t id,
	    const char *pub, int64_t project_id);
void	inv_project(struct store *st, struct inval *iv, int64_t id);
/* A row of m: <kind>:<id>, and <ptr_kind>:<s> when m has pointers and s
 * is not NULL or empty. */
void	inv_row(struct store *st, struct inval *iv, const struct codec_model *m,
	    int64_t id, const char *s);
void	inv_free(struct inval *iv);
void	inv_flush(struct store *st, struct inval *iv);
int	inv_keys_of_projects(struct store *st, struct inval *iv,
	    const char *column, int64_t id, bool projects);
int	invalidate_project(struct store *st, struct inval *iv, int64_t id);
int	invalidate_org(struct store *st, struct inval *iv, int64_t id);

/* --- store_write.c: transactions ------------------------------------ */

/* Start a write on the primary: forget the last write's errors. */
int	store_tx_begin(struct store *st);
/*
 * Commit when rc is STORE_OK, roll back otherwise.  iv's invalidations run
 * after a commit, and also after a failed COMMIT (it may have landed); a
 * rolled back write leaves the cache alone.  The final STORE_* code.
 */
int	store_tx_finish(struct store *st, int rc, struct inval *iv);

/* --- store_options.c ------------------------------------------------- */

/* An options table: the cache kind, the table, the owner's column. */
struct dict_desc {
	const char	*kind;
	const char	*table;
	const char	*owner_col;
};

extern const struct dict_desc po_desc, oo_desc, to_desc;

#endif
