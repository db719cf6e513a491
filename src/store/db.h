/*
 * db.h - one MariaDB connection, made lazily, kept alive across restarts
 * of the server, and the SQL text builder that keeps client input out of
 * the SQL grammar.
 *
 * Queries use the text protocol.  Every value in a statement comes from
 * db_sql_int() (formatted here), db_sql_str() (hex-encoded, so any byte
 * string is one literal whatever sql_mode and the charset say) or
 * db_sql_token() (quoted as is only after a strict check).  Nothing else
 * is ever pasted into SQL.
 *
 * The connection is opened on first use, never in db_new(): a worker must
 * start even when MariaDB is down.  After a failed connect, db_* refuses
 * to try again for DB_RETRY_MS, so a down database costs at most one
 * connect timeout per second per process.  A read that finds the
 * connection gone (2006, 2013, or the server killing it) reconnects and
 * runs once more; a write never runs twice.
 */
#ifndef RELAYCFG_DB_H
#define RELAYCFG_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define DB_RETRY_MS	1000	/* pause between failed connects */

/* Every db_* call that talks to MariaDB returns one of these. */
enum db_rc {
	DB_OK		= 0,
	DB_UNAVAILABLE	= -1,	/* cannot connect, or the connection died */
	DB_DUPLICATE	= -2,	/* a unique key refused the row (1062) */
	DB_REFERENCE	= -3,	/* a foreign key refused the change (1451/1452) */
	DB_ERROR	= -4	/* any other server error, or out of memory */
};

struct db;
struct db_res;

/* Query counters: what the store exposes to tests and benchmarks. */
struct db_stats {
	unsigned long	queries;	/* statements sent, retries included */
	unsigned long	connects;	/* successful connects */
	unsigned long	reconnects;	/* lost connections recovered in-query */
	unsigned long	failures;	/* calls answered DB_UNAVAILABLE */
	unsigned long long time_us;	/* wall time spent in MariaDB calls */
};

/*
 * db_new - a handle for the server described by cd, with the timeouts of
 * c (seconds).  Fields of cd that are unset fall back to those of fallback
 * (the replica borrows the primary's user, password and database), which
 * may be NULL.  Nothing is connected.  server is 0 for the primary, n for
 * replica n: it names the server in logs and in relaycfg_mariadb_up
 * ("primary", "replica1", ...).  Returns NULL on OOM.  cd, fallback and c
 * must outlive the handle.
 */
struct db	*db_new(const struct conf_db *cd, const struct conf_db *fallback,
		    const struct conf *c, unsigned server);

/* db_free - close and free; NULL is fine. */
void		 db_free(struct db *db);

/*
 * db_open - connect now unless connected or inside the pause after a
 * failed connect, so relaycfg_mariadb_up tells the truth before the first
 * query.  DB_OK, DB_UNAVAILABLE (logged once; the next try is lazy, as
 * always) or DB_ERROR (OOM).
 */
enum db_rc	 db_open(struct db *db);

/* db_resting - not connected, and no connect is tried before DB_RETRY_MS
 * after the last failed one: a query now would fail at once. */
bool		 db_resting(const struct db *db);

/*
 * db_query - run one read-only statement and return its rows in *res
 * (free with db_res_free).  Connects if needed; on a lost connection,
 * reconnects and retries once.  On error *res is NULL.  A statement that
 * returns no result set yields an empty *res.
 */
enum db_rc	 db_query(struct db *db, const char *sql, size_t len,
		    struct db_res **res);

/*
 * db_exec - run one statement that changes data, never retried.  Fills
 * *affected (matched rows, CLIENT_FOUND_ROWS) and *insert_id when they
 * are not NULL.
 */
enum db_rc	 db_exec(struct db *db, const char *sql, size_t len,
		    uint64_t *affected, int64_t *insert_id);

/*
 * db_begin / db_commit / db_rollback - a transaction on this connection.
 * db_rollback is safe to call at any time and never fails visibly.
 */
enum db_rc	 db_begin(struct db *db);
enum db_rc	 db_commit(struct db *db);
void		 db_rollback(struct db *db);

/* db_label - the label given to db_new. */
const char	*db_label(const struct db *db);

/* db_last_error - the last error, sanitized for logs; "" when none. */
const char	*db_last_error(const struct db *db);

/* db_get_stats - the counters since db_new. */
void		 db_get_stats(const struct db *db, struct db_stats *out);

/* Result rows. */
size_t		 db_res_rows(const struct db_res *r);
/* db_res_next - advance to the next row; false at the end. */
bool		 db_res_next(struct db_res *r);
/* db_res_str - column col of the current row, NULL for SQL NULL. */
const char	*db_res_str(const struct db_res *r, unsigned col);
size_t		 db_res_len(const struct db_res *r, unsigned col);
/*
 * db_res_int - column col as an integer into *out.  Returns false (and 0)
 * for NULL or anything that is not a plain decimal integer.
 */
bool		 db_res_int(const struct db_res *r, unsigned col, int64_t *out);
void		 db_res_free(struct db_res *r);

/*
 * SQL text.  A struct db_sql grows as needed; after OOM every append is a
 * no-op and db_sql_ok() is false, so builders check once at the end.
 */
struct db_sql {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	bool	 oom;
};

void	db_sql_init(struct db_sql *s);
void	db_sql_free(struct db_sql *s);
/* db_sql_reset - empty the text, keeping the buffer. */
void	db_sql_reset(struct db_sql *s);
bool	db_sql_ok(const struct db_sql *s);
/* db_sql_raw - append SQL grammar: string literals of the program only. */
void	db_sql_raw(struct db_sql *s, const char *text);
void	db_sql_int(struct db_sql *s, int64_t v);
/* db_sql_str - s as _utf8mb4 X'...' (or NULL when s is NULL). */
void	db_sql_str(struct db_sql *s, const char *str);
void	db_sql_strn(struct db_sql *s, const char *str, size_t len);
/*
 * db_sql_token - a public key, secret key or relay id: quoted as is when it
 * is 1 to 64 characters of [0-9a-f-] (readable in the processlist and the
 * slow log), hex-encoded like db_sql_str otherwise.  Either way a single
 * literal, whatever the input.
 */
void	db_sql_token(struct db_sql *s, const char *str);

/*
 * Schema migrations, embedded at build time from sql/NNN_name.sql
 * (src/sql_migrations.c, generated by mk/store.am).  Sorted by version,
 * versions 1, 2, 3... without gaps.
 */
struct db_migration {
	int		 version;
	const char	*name;
	const char	*sql;	/* statements end with ';' at end of line */
};
extern const struct db_migration db_migrations[];
extern const size_t db_n_migrations;

/*
 * db_schema_version - the version recorded in relaycfg_schema_version
 * into *version: 0 when the table does not exist (an empty database).
 */
enum db_rc	 db_schema_version(struct db *db, int *version);

/*
 * db_schema_migrate - apply every embedded migration above the recorded
 * version, in order, each recorded when all its statements succeeded,
 * under a named lock so two concurrent runs serialise.  Migrations are
 * written to be re-runnable.  *from and *to receive the versions before
 * and after (when not NULL).  Returns DB_OK when already up to date.
 */
enum db_rc	 db_schema_migrate(struct db *db, int *from, int *to);

/* db_schema_latest - the highest embedded migration version. */
int		 db_schema_latest(void);

#endif
