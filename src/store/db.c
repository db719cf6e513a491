/*
 * db.c - one lazily made MariaDB connection (Connector/C 3.3).
 *
 * Auto-reconnect (MYSQL_OPT_RECONNECT) stays off: it reconnects only when
 * a *write* to the socket fails, silently drops session state, and a read
 * that fails still surfaces as 2013.  Instead the lost-connection errors
 * are handled here, explicitly, once per call.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "clock.h"
#include "db.h"
#include "valid.h"
#include "log.h"
#include "metrics.h"

#define DB_IDLE_PING_MS	1000	/* ping before a write after this idle */
#define DB_LOCK_NAME	"'relaycfg.schema'"
#define DB_LOCK_WAIT_S	"30"

/* MariaDB 10.6+: the server dropped an idle client (wait_timeout). */
#ifndef ER_CLIENT_INTERACTION_TIMEOUT
#define ER_CLIENT_INTERACTION_TIMEOUT 4031
#endif

struct db {
	const struct conf_db	*cd;
	const struct conf_db	*fb;		/* fallback for unset fields */
	const struct conf	*conf;
	char			 label[24];	/* "primary", "replicaN" */
	unsigned		 mserver;	/* mariadb_up's server label */
	MYSQL			*m;		/* NULL: not connected */
	bool			 down;		/* last connect failed (logged) */
	bool			 in_txn;
	long long		 retry_at_ms;	/* no connect before this */
	long long		 last_use_ms;
	unsigned		 last_errno;
	char			 err[256];
	struct db_stats		 st;
};

struct db_res {
	MYSQL_RES	*res;		/* NULL: no result set */
	MYSQL_ROW	 row;
	unsigned long	*lens;
	size_t		 nrows;
	unsigned	 nfields;
};

/* Keep the error of the last call, sanitized: server messages quote SQL. */
static void
db_set_error(struct db *db, unsigned err, const char *msg)
{
	char clean[sizeof(db->err) - 16];

	db->last_errno = err;
	log_sanitize(clean, sizeof(clean), msg);
	snprintf(db->err, sizeof(db->err), "%u: %s", err, clean);
}

/*
 * Errors after which this connection is useless: the server went away, or
 * dropped us.  A read that meets one reconnects and runs once more.
 */
static bool
db_errno_lost(unsigned e)
{
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST ||
	    e == ER_CONNECTION_KILLED || e == ER_SERVER_SHUTDOWN ||
	    e == ER_CLIENT_INTERACTION_TIMEOUT;
}

/* Client-side errors (2000-2999) leave the protocol state unknown. */
static bool
db_errno_client(unsigned e)
{
	return e >= 2000 && e < 3000;
}

struct db *
db_new(const struct conf_db *cd, const struct conf_db *fallback,
    const struct conf *c, unsigned server)
{
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	db->cd = cd;
	db->fb = fallback;
	db->conf = c;
	if (server == 0)
		snprintf(db->label, sizeof(db->label), "primary");
	else
		snprintf(db->label, sizeof(db->label), "replica%u", server);
	/* MDB_PRIMARY is 0, MDB_REPLICA1 + n - 1 is n */
	db->mserver = server < MDB_OTHER ? server : MDB_OTHER;
	return db;
}

static void
db_disconnect(struct db *db)
{
	if (db->m != NULL) {
		mysql_close(db->m);
		db->m = NULL;
	}
	db->in_txn = false;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db);
}

/* A field of the server's settings, or the fallback's when unset. */
static const char *
db_field(const struct db *db, size_t off)
{
	const char *v = *(char *const *)(const void *)((const char *)db->cd + off);

	if (v == NULL && db->fb != NULL)
		v = *(char *const *)(const void *)((const char *)db->fb + off);
	return v;
}

/*
 * Connect unless connected.  Returns DB_OK, DB_UNAVAILABLE (refused, or
 * still inside the pause after a refusal) or DB_ERROR (out of memory).
 */
static enum db_rc
db_connect(struct db *db)
{
	unsigned ct = db->conf->db_connect_timeout;
	unsigned rt = db->conf->db_read_timeout;
	unsigned wt = db->conf->db_write_timeout;
	my_bool off = 0;
	const char *host, *sock, *user, *pass, *name;
	unsigned port;
	long long now = clock_mono_ms();
	MYSQL *m;

	if (db->m != NULL)
		return DB_OK;
	if (now < db->retry_at_ms) {
		db->st.failures++;
		return DB_UNAVAILABLE;
	}
	if ((m = mysql_init(NULL)) == NULL) {
		db_set_error(db, CR_OUT_OF_MEMORY, "out of memory");
		return DB_ERROR;
	}
	/*
	 * The server's own address only: mixing the primary's socket with a
	 * replica's host would connect to the wrong server.  Credentials and
	 * the database name may be borrowed.
	 */
	host = db->cd->host;
	sock = db->cd->socket;
	port = db->cd->port;
	user = db_field(db, offsetof(struct conf_db, user));
	pass = db_field(db, offsetof(struct conf_db, password));
	name = db_field(db, offsetof(struct conf_db, database));
	mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rt);
	mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &wt);
	mysql_optionsv(m, MYSQL_OPT_RECONNECT, &off);
	mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* DATETIME defaults (CURRENT_TIMESTAMP) must be UTC too. */
	mysql_optionsv(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	if (mysql_real_connect(m, host, user, pass, name, port, sock,
	    CLIENT_FOUND_ROWS) == NULL) {
		db_set_error(db, mysql_errno(m), mysql_error(m));
		mysql_close(m);
		db->retry_at_ms = clock_mono_ms() + DB_RETRY_MS;
		db->st.failures++;
		metrics_inc(MF_SQL_ERRORS, 0, 0, 0);
		metrics_set(MF_MARIADB_UP, db->mserver, 0);
		if (!db->down)
			log_warn("%s MariaDB unreachable: %s", db->label,
			    db->err);
		db->down = true;
		return DB_UNAVAILABLE;
	}
	if (db->down)
		log_info("%s MariaDB reachable again", db->label);
	db->down = false;
	metrics_set(MF_MARIADB_UP, db->mserver, 1);
	db->m = m;
	db->last_use_ms = clock_mono_ms();
	db->st.connects++;
	return DB_OK;
}

/* db_open - see db.h. */
enum db_rc
db_open(struct db *db)
{
	return db_connect(db);
}

/* db_resting - see db.h. */
bool
db_resting(const struct db *db)
{
	return db->m == NULL && clock_mono_ms() < db->retry_at_ms;
}

/*
 * Before a write on a connection that sat idle: a dead connection is found
 * by a ping (harmless to repeat) rather than by the write (which must not
 * be repeated).
 */
static enum db_rc
db_ready_for_write(struct db *db)
{
	enum db_rc rc;

	if (db->m != NULL && !db->in_txn &&
	    clock_mono_ms() - db->last_use_ms >= DB_IDLE_PING_MS &&
	    mysql_ping(db->m) != 0) {
		db_set_error(db, mysql_errno(db->m), mysql_error(db->m));
		db_disconnect(db);
	}
	rc = db_connect(db);
	return rc;
}

static enum db_rc
db_server_error(struct db *db)
{
	unsigned e = mysql_errno(db->m);

	db_set_error(db, e, mysql_error(db->m));
	metrics_inc(MF_SQL_ERRORS, 0, 0, 0);
	if (db_errno_lost(e) || db_errno_client(e)) {
		/* A transaction dies with its connection. */
		metrics_set(MF_MARIADB_UP, db->mserver, 0);
		db_disconnect(db);
		return DB_UNAVAILABLE;
	}
	if (e == ER_DUP_ENTRY)
		return DB_DUPLICATE;
	if (e == ER_ROW_IS_REFERENCED_2 || e == ER_NO_REFERENCED_ROW_2)
		return DB_REFERENCE;
	return DB_ERROR;
}

/* db_lost - count and say a connection lost in the middle of a statement. */
static void
db_lost(struct db *db)
{
	db->st.failures++;
	log_warn("%s MariaDB connection lost: %s", db->label, db->err);
}

/* db_account - the time of one statement begun at t0 (us), in the stats
 * and the metrics. */
static void
db_account(struct db *db, long long t0)
{
	long long us = clock_mono_us() - t0;

	db->st.time_us += (unsigned long long)us;
	metrics_observe(MF_SQL_SECONDS, 0, (double)us / 1e6);
}

enum db_rc
db_query(struct db *db, const char *sql, size_t len, struct db_res **res)
{
	struct db_res *r = NULL;
	long long t0 = clock_mono_us();
	enum db_rc rc = DB_ERROR;

	*res = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		/* Only a connection that was already open may be retried. */
		bool was_open = db->m != NULL, in_txn;
		unsigned e;

		if ((rc = db_connect(db)) != DB_OK)
			goto out;
		db->st.queries++;
		metrics_inc(MF_SQL_STATEMENTS, 0, 0, 0);
		db->last_use_ms = clock_mono_ms();
		if (mysql_real_query(db->m, sql, len) == 0) {
			MYSQL_RES *mr = mysql_store_result(db->m);

			if (mr != NULL || mysql_field_count(db->m) == 0) {
				if ((r = calloc(1, sizeof(*r))) == NULL) {
					mysql_free_result(mr);
					db_set_error(db, CR_OUT_OF_MEMORY,
					    "out of memory");
					rc = DB_ERROR;
					goto out;
				}
				r->res = mr;
				r->nrows = mr != NULL ?
				    (size_t)mysql_num_rows(mr) : 0;
				r->nfields = mr != NULL ?
				    mysql_num_fields(mr) : 0;
				rc = DB_OK;
				goto out;
			}
		}
		e = mysql_errno(db->m);
		in_txn = db->in_txn;
		if ((rc = db_server_error(db)) != DB_UNAVAILABLE)
			goto out;
		if (!(db_errno_lost(e) && was_open && !in_txn &&
		    attempt == 0)) {
			db_lost(db);
			goto out;
		}
		/* The server restarted under us: once more, from scratch. */
		log_info("%s MariaDB connection lost (%s), reconnecting",
		    db->label, db->err);
		db->st.reconnects++;
		db->retry_at_ms = 0;
	}
out:
	db_account(db, t0);
	*res = r;
	return rc;
}

enum db_rc
db_exec(struct db *db, const char *sql, size_t len, uint64_t *affected,
    int64_t *insert_id)
{
	long long t0 = clock_mono_us();
	enum db_rc rc;

	if ((rc = db_ready_for_write(db)) != DB_OK)
		goto out;
	db->st.queries++;
	metrics_inc(MF_SQL_STATEMENTS, 0, 0, 0);
	db->last_use_ms = clock_mono_ms();
	if (mysql_real_query(db->m, sql, len) != 0) {
		if ((rc = db_server_error(db)) == DB_UNAVAILABLE)
			db_lost(db);
		goto out;
	}
	/* A statement may still return rows (SELECT GET_LOCK...). */
	{
		MYSQL_RES *mr = mysql_store_result(db->m);

		if (mr != NULL)
			mysql_free_result(mr);
		else if (mysql_field_count(db->m) != 0) {
			rc = db_server_error(db);
			goto out;
		}
	}
	if (affected != NULL)
		*affected = (uint64_t)mysql_affected_rows(db->m);
	if (insert_id != NULL)
		*insert_id = (int64_t)mysql_insert_id(db->m);
	rc = DB_OK;
out:
	db_account(db, t0);
	return rc;
}

enum db_rc
db_begin(struct db *db)
{
	enum db_rc rc;

	rc = db_exec(db, "START TRANSACTION", 17, NULL, NULL);
	if (rc == DB_OK)
		db->in_txn = true;
	return rc;
}

enum db_rc
db_commit(struct db *db)
{
	enum db_rc rc;

	if (!db->in_txn || db->m == NULL)
		return DB_UNAVAILABLE;
	rc = db_exec(db, "COMMIT", 6, NULL, NULL);
	db->in_txn = false;
	return rc;
}

void
db_rollback(struct db *db)
{
	if (db->in_txn && db->m != NULL) {
		db->st.queries++;
		metrics_inc(MF_SQL_STATEMENTS, 0, 0, 0);
		if (mysql_real_query(db->m, "ROLLBACK", 8) != 0)
			db_disconnect(db);
	}
	db->in_txn = false;
}

const char *
db_label(const struct db *db)
{
	return db->label;
}

const char *
db_last_error(const struct db *db)
{
	return db->err;
}

void
db_get_stats(const struct db *db, struct db_stats *out)
{
	*out = db->st;
}

size_t
db_res_rows(const struct db_res *r)
{
	return r->nrows;
}

bool
db_res_next(struct db_res *r)
{
	if (r->res == NULL)
		return false;
	if ((r->row = mysql_fetch_row(r->res)) == NULL)
		return false;
	r->lens = mysql_fetch_lengths(r->res);
	return true;
}

const char *
db_res_str(const struct db_res *r, unsigned col)
{
	if (r->row == NULL || col >= r->nfields)
		return NULL;
	return r->row[col];
}

size_t
db_res_len(const struct db_res *r, unsigned col)
{
	if (r->row == NULL || col >= r->nfields || r->row[col] == NULL)
		return 0;
	return r->lens[col];
}

bool
db_res_int(const struct db_res *r, unsigned col, int64_t *out)
{
	*out = 0;
	return valid_int64(db_res_str(r, col), out);
}

void
db_res_free(struct db_res *r)
{
	if (r == NULL)
		return;
	if (r->res != NULL)
		mysql_free_result(r->res);
	free(r);
}

/* --- SQL text -------------------------------------------------------- */

void
db_sql_init(struct db_sql *s)
{
	memset(s, 0, sizeof(*s));
}

void
db_sql_free(struct db_sql *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

void
db_sql_reset(struct db_sql *s)
{
	s->len = 0;
	if (s->buf != NULL)
		s->buf[0] = '\0';
}

bool
db_sql_ok(const struct db_sql *s)
{
	return !s->oom && s->buf != NULL;
}

static bool
db_sql_grow(struct db_sql *s, size_t more)
{
	size_t cap;
	char *p;

	if (s->oom)
		return false;
	if (s->len + more + 1 <= s->cap)
		return true;
	cap = s->cap != 0 ? s->cap : 256;
	while (cap < s->len + more + 1)
		cap *= 2;
	if ((p = realloc(s->buf, cap)) == NULL) {
		s->oom = true;
		return false;
	}
	s->buf = p;
	s->cap = cap;
	return true;
}

static void
db_sql_mem(struct db_sql *s, const char *p, size_t n)
{
	if (!db_sql_grow(s, n))
		return;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

void
db_sql_raw(struct db_sql *s, const char *text)
{
	db_sql_mem(s, text, strlen(text));
}

void
db_sql_int(struct db_sql *s, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);

	db_sql_mem(s, buf, (size_t)n);
}

void
db_sql_strn(struct db_sql *s, const char *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *p;

	if (str == NULL) {
		db_sql_raw(s, "NULL");
		return;
	}
	if (len == 0) {
		db_sql_raw(s, "''");
		return;
	}
	/* _utf8mb4 X'...': a character string, compared with the column's
	 * collation, and no byte of it is ever grammar.  The prefix, two
	 * digits a byte and the closing quote (grow adds the NUL). */
	if (!db_sql_grow(s, 11 + 2 * len + 1))
		return;
	p = s->buf + s->len;
	memcpy(p, "_utf8mb4 X'", 11);
	p += 11;
	for (size_t i = 0; i < len; i++) {
		*p++ = hex[(unsigned char)str[i] >> 4];
		*p++ = hex[(unsigned char)str[i] & 15];
	}
	*p++ = '\'';
	*p = '\0';
	s->len = (size_t)(p - s->buf);
}

void
db_sql_str(struct db_sql *s, const char *str)
{
	db_sql_strn(s, str, str != NULL ? strlen(str) : 0);
}

void
db_sql_token(struct db_sql *s, const char *str)
{
	size_t n = 0;

	if (str == NULL) {
		db_sql_raw(s, "NULL");
		return;
	}
	for (; str[n] != '\0' && n <= 64; n++)
		if (!((str[n] >= '0' && str[n] <= '9') ||
		    (str[n] >= 'a' && str[n] <= 'f') || str[n] == '-'))
			break;
	if (n == 0 || n > 64 || str[n] != '\0') {
		db_sql_str(s, str);
		return;
	}
	db_sql_mem(s, "'", 1);
	db_sql_mem(s, str, n);
	db_sql_mem(s, "'", 1);
}

/* --- schema ---------------------------------------------------------- */

int
db_schema_latest(void)
{
	return db_n_migrations > 0 ?
	    db_migrations[db_n_migrations - 1].version : 0;
}

enum db_rc
db_schema_version(struct db *db, int *version)
{
	static const char q[] =
	    "SELECT COALESCE(MAX(version), 0) FROM relaycfg_schema_version";
	struct db_res *r = NULL;
	int64_t v = 0;
	enum db_rc rc;

	*version = 0;
	rc = db_query(db, q, sizeof(q) - 1, &r);
	if (rc != DB_OK) {
		/* No bookkeeping table: nothing was ever installed. */
		if (rc == DB_ERROR && db->last_errno == ER_NO_SUCH_TABLE)
			rc = DB_OK;
		goto out;
	}
	if (!db_res_next(r) || !db_res_int(r, 0, &v) || v < 0 || v > 1000000) {
		db_set_error(db, 0, "unreadable relaycfg_schema_version");
		rc = DB_ERROR;
		goto out;
	}
	*version = (int)v;
out:
	db_res_free(r);
	return rc;
}

/*
 * Run the statements of one migration.  A statement ends at a line whose
 * last non-blank character is ';'; lines starting with "--" are comments
 * and never end a statement.
 */
static enum db_rc
db_run_script(struct db *db, const struct db_migration *mg)
{
	struct db_sql stmt;
	const char *p = mg->sql;
	enum db_rc rc = DB_OK;

	db_sql_init(&stmt);
	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		const char *end = eol != NULL ? eol : p + strlen(p);
		const char *a = p, *b = end;

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t' ||
		    b[-1] == '\r'))
			b--;
		if (!(b - a >= 2 && a[0] == '-' && a[1] == '-') && b > a) {
			bool last = b[-1] == ';';

			db_sql_mem(&stmt, p, (size_t)((last ? b - 1 : end) - p));
			db_sql_mem(&stmt, "\n", 1);
			if (last) {
				if (!db_sql_ok(&stmt)) {
					rc = DB_ERROR;
					goto out;
				}
				rc = db_exec(db, stmt.buf, stmt.len, NULL, NULL);
				if (rc != DB_OK) {
					log_err("migration %s failed: %s",
					    mg->name, db->err);
					goto out;
				}
				db_sql_reset(&stmt);
			}
		}
		p = eol != NULL ? eol + 1 : end;
	}
	/* Text after the last ';' would be silently lost: refuse it. */
	for (size_t i = 0; i < stmt.len; i++)
		if (stmt.buf[i] != '\n' && stmt.buf[i] != ' ' &&
		    stmt.buf[i] != '\t') {
			db_set_error(db, 0, "statement without ';' at the end");
			rc = DB_ERROR;
			goto out;
		}
out:
	db_sql_free(&stmt);
	return rc;
}

enum db_rc
db_schema_migrate(struct db *db, int *from, int *to)
{
	static const char lock[] =
	    "SELECT GET_LOCK(" DB_LOCK_NAME ", " DB_LOCK_WAIT_S ")";
	static const char unlock[] = "SELECT RELEASE_LOCK(" DB_LOCK_NAME ")";
	struct db_res *r = NULL;
	int64_t got = 0;
	int version = 0, start = 0, got_version;
	bool locked = false;
	enum db_rc rc;

	/* Serialise concurrent db init/migrate runs. */
	if ((rc = db_query(db, lock, sizeof(lock) - 1, &r)) != DB_OK)
		goto out;
	if (!db_res_next(r) || !db_res_int(r, 0, &got) || got != 1) {
		db_set_error(db, 0, "another migration holds the schema lock");
		rc = DB_ERROR;
		goto out;
	}
	locked = true;
	if ((rc = db_schema_version(db, &version)) != DB_OK)
		goto out;
	start = version;
	for (size_t i = 0; i < db_n_migrations; i++) {
		const struct db_migration *mg = &db_migrations[i];

		if (mg->version <= version)
			continue;
		log_info("applying migration %s", mg->name);
		if ((rc = db_run_script(db, mg)) != DB_OK)
			goto out;
		/* Each file records its version last (sql/001_initial.sql):
		 * read it back, so that one that does not is caught here. */
		if ((rc = db_schema_version(db, &got_version)) != DB_OK)
			goto out;
		if (got_version < mg->version) {
			db_set_error(db, 0, "migration did not record its "
			    "version");
			log_err("migration %s did not record version %d in "
			    "relaycfg_schema_version", mg->name, mg->version);
			rc = DB_ERROR;
			goto out;
		}
		version = mg->version;
	}
out:
	if (locked) {
		struct db_res *u = NULL;

		/* A lost connection released the lock already. */
		if (db_query(db, unlock, sizeof(unlock) - 1, &u) == DB_OK)
			db_res_free(u);
	}
	db_res_free(r);
	if (from != NULL)
		*from = start;
	if (to != NULL)
		*to = version;
	return rc;
}
