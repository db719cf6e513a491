/*
 * ctl_sentry_pg.c - Sentry's PostgreSQL, read only, through libpq.
 *
 * Every statement is built from mirror_spec.c's names, never from
 * input.  Values come back as text and are normalised by the SELECT to
 * the canonical spelling of mirror.h (booleans "0"/"1", times in UTC
 * with microseconds), so a row compares equal to MariaDB's copy.  The
 * session is read only: relaycfg never writes to Sentry's database.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "clock.h"
#include "ctl_sentry.h"
#include "db.h"

struct sentry_pg {
	PGconn	*conn;
	long	 timeout;	/* s: statement_timeout, and the client's wait */
	bool	 lost;		/* a statement went unanswered (pg_exec) */
	bool	 stopped;	/* ... because *stop was set */
	const volatile sig_atomic_t *stop;	/* NULL: never */
};

/*
 * How much longer than statement_timeout the client waits for an answer:
 * the server ends a statement itself after statement_timeout and says so,
 * which is the better message; this is for a server or a network that
 * can say nothing (a frozen host, a partition), where libpq would wait
 * forever.
 */
#define PG_CLIENT_SLACK	10

/* A statement longer than any built here (ten tables of a dozen columns). */
#define PG_SQL_MAX	16384

/*
 * A libpq message as one line, into out: its lines ("...failed: No such
 * file or directory\n\tIs the server running...?", "ERROR: ...\nDETAIL:
 * ...") joined by "; ", the trailing newline dropped.  Under the service
 * each line of stderr is a journal entry of its own, and a second line
 * would lose the "relaycfgctl: sentry-sync:" that says whose it is.
 */
static void
one_line(const char *m, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	while (*m != '\0' && o + 1 < outlen) {
		if (*m != '\n' && *m != '\r') {
			out[o++] = *m++;
			continue;
		}
		while (*m == '\n' || *m == '\r' || *m == '\t' || *m == ' ')
			m++;
		if (*m != '\0' && o + 3 < outlen) {
			memcpy(out + o, "; ", 2);
			o += 2;
		}
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* libpq's message (or why no answer came) as one line, into err. */
static void
pg_error(const struct sentry_pg *pg, const char *what, char *err,
    size_t errlen)
{
	char m[1024];

	if (pg->stopped)
		snprintf(m, sizeof(m), "stopped by a signal while waiting for "
		    "the answer; connection dropped");
	else if (pg->lost)
		snprintf(m, sizeof(m), "no answer within %ld s (the server "
		    "or the network is frozen?); connection dropped",
		    pg->timeout + PG_CLIENT_SLACK);
	else
		one_line(pg->conn != NULL ? PQerrorMessage(pg->conn) :
		    "out of memory", m, sizeof(m));
	snprintf(err, errlen, "PostgreSQL: %s: %s", what, m);
}

/*
 * Wait until libpq has read input or deadline (clock_mono_ms) passes.
 * Returns 0, or -1: the connection failed (libpq says why), the deadline
 * passed (pg->lost set), or a signal set *pg->stop (pg->lost and
 * pg->stopped set): SIGTERM need not wait for a slow statement.
 */
static int
pg_wait_input(struct sentry_pg *pg, long long deadline)
{
	struct pollfd pfd;
	long long left;
	int r;

	pfd.fd = PQsocket(pg->conn);
	pfd.events = POLLIN;
	if (pfd.fd < 0)
		return -1;
	do {
		if (pg->stop != NULL && *pg->stop) {
			pg->lost = pg->stopped = true;
			return -1;
		}
		if ((left = deadline - clock_mono_ms()) <= 0) {
			pg->lost = true;
			return -1;
		}
		r = sentry_pg_poll(&pfd, 1, (long)left);
	} while (r == 0 || (r < 0 && errno == EINTR));
	if (r < 0)
		return -1;
	return PQconsumeInput(pg->conn) != 0 ? 0 : -1;
}

/*
 * pg_exec - PQexec with a deadline of statement_timeout + PG_CLIENT_SLACK
 * seconds for the whole statement.  Returns what PQexec would (the last
 * result, or the first error result, such as the FATAL of a server that
 * ends the connection; the caller PQclears it), or NULL when it could not
 * be sent or no answer came in time.  After a missed
 * deadline pg->lost is set and every later call returns NULL at once:
 * what libpq holds of the connection then is unknown, so the only way
 * on is a new connection (the caller closes this one).  Statements here
 * are shorter than any socket buffer, so sending them never waits.
 */
static PGresult *
pg_exec(struct sentry_pg *pg, const char *sql)
{
	PGresult *res, *kept = NULL;
	long long deadline = clock_mono_ms() +
	    (pg->timeout + PG_CLIENT_SLACK) * 1000LL;

	if (pg->lost || PQsendQuery(pg->conn, sql) == 0)
		return NULL;
	for (;;) {
		while (PQisBusy(pg->conn) && !pg->lost)
			if (pg_wait_input(pg, deadline) != 0)
				break;
		/* A connection that failed still hands out its error result
		 * (the server's FATAL), at once; any other failure would let
		 * PQgetResult wait. */
		if (pg->lost || (PQisBusy(pg->conn) &&
		    PQstatus(pg->conn) != CONNECTION_BAD)) {
			PQclear(kept);
			return NULL;
		}
		if ((res = PQgetResult(pg->conn)) == NULL)
			break;
		if (kept != NULL && PQresultStatus(kept) == PGRES_FATAL_ERROR) {
			PQclear(res);
			continue;
		}
		PQclear(kept);
		kept = res;
	}
	return kept;
}

/*
 * libpq's notices, and an error the server sends between statements (a
 * shutdown's "FATAL: terminating connection"): one line on stderr like
 * relaycfgctl's own, not libpq's bare lines.
 */
static void
pg_notice(void *arg, const char *message)
{
	char m[1024];

	(void)arg;
	one_line(message, m, sizeof(m));
	fprintf(stderr, "relaycfgctl: sentry-sync: PostgreSQL: %s\n", m);
}

/* Run a statement that returns no rows; 0 or -1 with err. */
static int
pg_command(struct sentry_pg *pg, const char *sql, char *err, size_t errlen)
{
	PGresult *res = pg_exec(pg, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_error(pg, sql, err, errlen);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/* sentry_pg_check_conninfo - see ctl_sentry.h. */
int
sentry_pg_check_conninfo(const char *conninfo, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	char *msg = NULL;

	if ((opts = PQconninfoParse(conninfo, &msg)) == NULL) {
		one_line(msg != NULL ? msg : "out of memory", err, errlen);
		PQfreemem(msg);
		return -1;
	}
	PQconninfoFree(opts);
	/* Parsed: text without '=' that is no URI is blank (all defaults);
	 * the connect would use it as dbname, not as conninfo. */
	if (strchr(conninfo, '=') == NULL &&
	    strncmp(conninfo, "postgresql://", 13) != 0 &&
	    strncmp(conninfo, "postgres://", 11) != 0) {
		snprintf(err, errlen, "names no database: give key=value "
		    "pairs (host=... dbname=... user=...) or a postgresql:// "
		    "URI");
		return -1;
	}
	return 0;
}

/* sentry_pg_has_password - see ctl_sentry.h. */
bool
sentry_pg_has_password(const char *conninfo)
{
	PQconninfoOption *opts, *o;
	bool has = false;

	/* Unparseable: the connect will say why; nothing to hide. */
	if ((opts = PQconninfoParse(conninfo, NULL)) == NULL)
		return false;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    o->val[0] != '\0')
			has = true;
	PQconninfoFree(opts);
	return has;
}

/* The connect_timeout of conn in ms (libpq's floor of 2 s), 0 for none. */
static long long
pg_connect_timeout_ms(PGconn *conn)
{
	PQconninfoOption *opts, *o;
	long long ms = 0;

	if ((opts = PQconninfo(conn)) == NULL)
		return 0;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 &&
		    o->val != NULL && atoi(o->val) > 0)
			ms = (atoi(o->val) < 2 ? 2 : atoi(o->val)) * 1000LL;
	PQconninfoFree(opts);
	return ms;
}

/* Whether conn is trying another host than host:port (NULL: none yet). */
static bool
pg_host_moved(PGconn *conn, const char *host, const char *port)
{
	const char *h = PQhost(conn), *p = PQport(conn);

	return host == NULL || strcmp(host, h != NULL ? h : "") != 0 ||
	    strcmp(port, p != NULL ? p : "") != 0;
}

/*
 * PQconnectPoll until the connection is made or fails, giving each host
 * of conninfo's list connect_timeout, as libpq's blocking connect does
 * (it enforces the timeout only there); a signal setting *pg->stop gives
 * up as pg_wait_input does.  0, or -1 (pg->lost set when the time ran out
 * on a host or a signal came).
 */
static int
pg_connect_wait(struct sentry_pg *pg)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	long long timeout = pg_connect_timeout_ms(pg->conn), deadline = 0;
	char host[256] = "", port[32] = "";
	bool started = false;
	struct pollfd pfd;
	long left;
	int r;

	if (PQstatus(pg->conn) == CONNECTION_BAD)
		return -1;
	for (;;) {
		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED)
			return -1;
		/* A host that refused or failed fast is passed over by
		 * libpq itself: the next one gets its own timeout. */
		if (timeout > 0 && pg_host_moved(pg->conn, started ? host :
		    NULL, port)) {
			const char *h = PQhost(pg->conn), *p = PQport(pg->conn);

			snprintf(host, sizeof(host), "%s", h != NULL ? h : "");
			snprintf(port, sizeof(port), "%s", p != NULL ? p : "");
			started = true;
			deadline = clock_mono_ms() + timeout;
		}
		if ((pfd.fd = PQsocket(pg->conn)) < 0)
			return -1;
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		do {
			if (pg->stop != NULL && *pg->stop) {
				pg->lost = pg->stopped = true;
				return -1;
			}
			left = deadline == 0 ? 1000 :
			    (long)(deadline - clock_mono_ms());
			if (left <= 0) {
				pg->lost = true;
				return -1;
			}
			r = sentry_pg_poll(&pfd, 1, left > 1000 ? 1000 : left);
		} while (r == 0 || (r < 0 && errno == EINTR));
		if (r < 0)
			return -1;
		st = PQconnectPoll(pg->conn);
	}
}

/*
 * Entry i of the comma-separated list l into out ("" past its end, and
 * the one entry of a list of one, as libpq applies a single port to
 * every host).
 */
static void
pg_list_entry(const char *l, size_t i, char *out, size_t outlen)
{
	size_t n = 0, len;
	const char *e;

	out[0] = '\0';
	if (l == NULL)
		return;
	if (strchr(l, ',') == NULL)
		i = 0;
	for (; n < i && (l = strchr(l, ',')) != NULL; n++)
		l++;
	if (l == NULL)
		return;
	len = (e = strchr(l, ',')) != NULL ? (size_t)(e - l) : strlen(l);
	snprintf(out, outlen, "%.*s", (int)len, l);
}

/*
 * The entries of list l after the first skip ones, as a new string (a
 * list of one, one port for every host, is kept whole), or NULL for no
 * list, an empty rest, or OOM (*oom set).
 */
static char *
pg_list_rest(const char *l, size_t skip, bool *oom)
{
	char *r;

	if (l == NULL || l[0] == '\0')
		return NULL;
	if (strchr(l, ',') != NULL)
		for (size_t n = 0; n < skip && l != NULL; n++)
			if ((l = strchr(l, ',')) != NULL)
				l++;
	if (l == NULL || l[0] == '\0')
		return NULL;
	if ((r = strdup(l)) == NULL)
		*oom = true;
	return r;
}

/*
 * After conn timed out on a host: the host, hostaddr and port lists of
 * the hosts after it, as new strings into rest[0..2] (NULL for none), as
 * libpq's blocking connect goes on to the next host after each
 * connect_timeout.  false when it was the last (or on OOM), with rest[]
 * all NULL.
 */
static bool
pg_next_hosts(PGconn *conn, char *rest[3])
{
	static const char *const names[3] = { "host", "hostaddr", "port" };
	const char *cur = PQhost(conn), *cur_port = PQport(conn);
	char *lists[3] = { NULL, NULL, NULL }, h[256], p[32];
	PQconninfoOption *opts, *o;
	size_t n = 1, i;
	bool found = false, oom = false;

	rest[0] = rest[1] = rest[2] = NULL;
	if (cur == NULL || (opts = PQconninfo(conn)) == NULL)
		return false;
	for (o = opts; o->keyword != NULL; o++)
		for (i = 0; i < 3; i++)
			if (strcmp(o->keyword, names[i]) == 0 && o->val != NULL &&
			    (lists[i] = strdup(o->val)) == NULL)
				oom = true;
	PQconninfoFree(opts);
	for (const char *c = lists[0] != NULL && lists[0][0] != '\0' ?
	    lists[0] : lists[1] != NULL ? lists[1] : ""; *c != '\0'; c++)
		n += *c == ',';
	for (i = 0; i < n && !found && !oom; i++) {
		pg_list_entry(lists[0], i, h, sizeof(h));
		if (h[0] == '\0')
			pg_list_entry(lists[1], i, h, sizeof(h));
		pg_list_entry(lists[2], i, p, sizeof(p));
		found = strcmp(h, cur) == 0 && (p[0] == '\0' ||
		    cur_port == NULL || strcmp(p, cur_port) == 0);
	}
	/* i is now one past the host that timed out. */
	found = found && i < n;
	for (size_t k = 0; k < 3; k++) {
		if (found)
			rest[k] = pg_list_rest(lists[k], i, &oom);
		free(lists[k]);
	}
	if (oom) {
		for (size_t k = 0; k < 3; k++) {
			free(rest[k]);
			rest[k] = NULL;
		}
		found = false;
	}
	return found;
}

/*
 * pg_start_rest - start a connection with old's settings on the hosts of
 * rest[] (pg_next_hosts), the configured password (NULL: none) winning.
 * Built from old's own settings, not conninfo again, because libpq
 * ignores an empty keyword value: an empty rest (an empty last entry,
 * libpq's default) could not replace conninfo's whole list, which then
 * stood again.  Returns the PGconn (PQconnectStartParams'), NULL on OOM.
 */
static PGconn *
pg_start_rest(PGconn *old, char *const rest[3], const char *password)
{
	static const char *const listed[4] = { "host", "hostaddr", "port",
	    "password" };
	PQconninfoOption *opts, *o;
	const char **keys = NULL, **vals = NULL;
	PGconn *conn = NULL;
	size_t n = 0, k;

	if ((opts = PQconninfo(old)) == NULL)
		return NULL;
	for (o = opts; o->keyword != NULL; o++)
		n++;
	if ((keys = calloc(n + 5, sizeof(*keys))) == NULL ||
	    (vals = calloc(n + 5, sizeof(*vals))) == NULL)
		goto out;
	n = 0;
	for (o = opts; o->keyword != NULL; o++) {
		for (k = 0; k < 4 && strcmp(o->keyword, listed[k]) != 0; k++)
			;
		if (k < 3 || o->val == NULL || o->val[0] == '\0')
			continue;	/* host lists: rest[]'s alone */
		keys[n] = o->keyword;
		vals[n++] = o->val;
	}
	for (k = 0; k < 3; k++)
		if (rest[k] != NULL) {
			keys[n] = listed[k];
			vals[n++] = rest[k];
		}
	if (password != NULL) {
		keys[n] = "password";
		vals[n++] = password;
	}
	conn = PQconnectStartParams(keys, vals, 0);
out:
	free(keys);
	free(vals);
	PQconninfoFree(opts);
	return conn;
}

/* sentry_pg_connect - see ctl_sentry.h. */
struct sentry_pg *
sentry_pg_connect(const char *conninfo, const char *password, long timeout,
    const volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	char set_timeout[64], *rest[3];
	/* Later keywords override earlier ones: conninfo may set its own
	 * timeout and name; the configured password always wins. */
	const char *keys[] = { "connect_timeout", "application_name",
	    "dbname", "client_encoding", "password", NULL };
	const char *vals[] = { "10", "relaycfg-sentry-sync", conninfo,
	    "UTF8", password, NULL };
	struct sentry_pg *pg;
	PGconn *next;

	if ((pg = calloc(1, sizeof(*pg))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pg->timeout = timeout;
	pg->stop = stop;
	if (password == NULL)
		keys[4] = NULL;
	/* Started, not completed: the notice processor must be in place
	 * before the server can say anything (a FATAL right after the
	 * startup would otherwise go to stderr bare, from libpq). */
	pg->conn = PQconnectStartParams(keys, vals, 1);
	for (;;) {
		if (pg->conn != NULL)
			(void)PQsetNoticeProcessor(pg->conn, pg_notice, NULL);
		if (pg->conn != NULL && pg_connect_wait(pg) == 0 &&
		    PQstatus(pg->conn) == CONNECTION_OK)
			break;
		if (pg->conn == NULL || pg->stopped || !pg->lost ||
		    !pg_next_hosts(pg->conn, rest)) {
			if (pg->conn != NULL && !pg->stopped && pg->lost)
				snprintf(err, errlen, "PostgreSQL: connect: no "
				    "answer within connect_timeout; connection "
				    "dropped");
			else
				pg_error(pg, "connect", err, errlen);
			goto fail;
		}
		next = pg_start_rest(pg->conn, rest, password);
		for (size_t k = 0; k < 3; k++)
			free(rest[k]);
		PQfinish(pg->conn);
		pg->conn = next;
		pg->lost = false;
	}
	/* Set with the connection (PQsetClientEncoding would be a statement
	 * without pg_exec's deadline), after conninfo so that it wins. */
	if (strcmp(pg_encoding_to_char(PQclientEncoding(pg->conn)),
	    "UTF8") != 0) {
		snprintf(err, errlen, "PostgreSQL: the connection's "
		    "client_encoding is not UTF8");
		goto fail;
	}
	if (pg_command(pg, "SET default_transaction_read_only = on", err,
	    errlen) != 0 ||
	    pg_command(pg, "SET TimeZone = 'UTC'", err, errlen) != 0 ||
	    (snprintf(set_timeout, sizeof(set_timeout),
	    "SET statement_timeout = '%lds'", timeout),
	    pg_command(pg, set_timeout, err, errlen) != 0))
		goto fail;
	return pg;
fail:
	sentry_pg_close(pg);
	return NULL;
}

/* sentry_pg_close - see ctl_sentry.h; NULL is fine. */
void
sentry_pg_close(struct sentry_pg *pg)
{
	if (pg == NULL)
		return;
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	free(pg);
}

/* sentry_pg_lost - see ctl_sentry.h. */
bool
sentry_pg_lost(const struct sentry_pg *pg)
{
	return pg->lost || PQstatus(pg->conn) == CONNECTION_BAD;
}

/* Append to buf (PG_SQL_MAX); false when it would not fit. */
static bool
append(char *buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 > PG_SQL_MAX)
		return false;
	memcpy(buf + *len, s, n + 1);
	*len += n;
	return true;
}

/* One column as the canonical text mirror.h describes (NULL when this
 * Sentry lacks it). */
static bool
append_column(char *buf, size_t *len, const struct mirror_col *c,
    bool absent)
{
	char col[96];

	if (absent)
		return append(buf, len, "NULL::text");
	snprintf(col, sizeof(col), "\"%s\"", c->name);
	switch (c->kind) {
	case MC_BOOL:
		return append(buf, len, "CASE WHEN ") &&
		    append(buf, len, col) && append(buf, len, " THEN '1' ") &&
		    append(buf, len, "WHEN NOT ") && append(buf, len, col) &&
		    append(buf, len, " THEN '0' END");
	case MC_TIME:
		/* The session is in UTC (sentry_pg_connect). */
		return append(buf, len, "to_char(") && append(buf, len, col) &&
		    append(buf, len, ", 'YYYY-MM-DD HH24:MI:SS.US')");
	case MC_INT:
	case MC_TEXT:
	case MC_JSON:
		break;
	}
	/* jsonb prints itself as JSON text too. */
	return append(buf, len, col) && append(buf, len, "::text");
}

/* Which tables and columns this Sentry has. */
struct pg_schema {
	bool	present[MT_COUNT];
	bool	absent[MT_COUNT][MIRROR_NCOLS_MAX];
};

/*
 * schema_read - which mirrored tables and columns exist (Sentry's schema
 * moves: project templates come and go), from pg_catalog, which lists
 * them whatever the role may read.  A table this Sentry lacks is not
 * mirrored (but see mirror_no_templates); a missing column is unknown,
 * unless mirror_col_required says the rows mean nothing without it
 * (a key's status: a key disabled in Sentry would be created live),
 * which fails the sync.  So does a table that exists but that the role
 * cannot read: read as empty, it would empty relaycfg's copy.  0 or -1
 * with err.
 */
static int
schema_read(struct sentry_pg *pg, struct pg_schema *sc, char *err,
    size_t errlen)
{
	PGresult *res;
	int rc = -1;

	res = pg_exec(pg, "SELECT c.relname::text, a.attname::text, "
	    "has_table_privilege(c.oid, 'SELECT') FROM pg_catalog.pg_class c "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
	    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v') "
	    "AND a.attnum > 0 AND NOT a.attisdropped "
	    "AND c.relname LIKE 'sentry\\_%'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_error(pg, "reading the schema", err, errlen);
		goto out;
	}
	for (int t = 0; t < MT_COUNT; t++) {
		const struct mirror_table *mt = mirror_table(t);

		sc->present[t] = false;
		for (size_t c = 0; c < mt->ncols; c++)
			sc->absent[t][c] = true;
		for (int i = 0; i < PQntuples(res); i++) {
			if (strcmp(PQgetvalue(res, i, 0), mt->name) != 0)
				continue;
			if (strcmp(PQgetvalue(res, i, 2), "t") != 0) {
				snprintf(err, errlen, "PostgreSQL: this role "
				    "may not read %s (GRANT SELECT ON %s TO "
				    "it); nothing was changed", mt->name,
				    mt->name);
				goto out;
			}
			sc->present[t] = true;
			for (size_t c = 0; c < mt->ncols; c++)
				if (strcmp(PQgetvalue(res, i, 1),
				    mt->cols[c].name) == 0)
					sc->absent[t][c] = false;
		}
		/* Read without it, rows would mean something else. */
		for (size_t c = 0; c < mt->ncols && sc->present[t]; c++)
			if (sc->absent[t][c] && mirror_col_required(mt, c)) {
				snprintf(err, errlen, "PostgreSQL: %s has no "
				    "column %s, which relaycfg cannot do "
				    "without: a Sentry schema it does not know; "
				    "nothing was changed", mt->name,
				    mt->cols[c].name);
				goto out;
			}
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* "SELECT <canonical columns> FROM <table>" into sql. */
static bool
build_select(char *sql, size_t *len, const struct mirror_table *t,
    const bool *absent)
{
	bool fits = append(sql, len, "SELECT ");

	for (size_t c = 0; c < t->ncols && fits; c++)
		fits = (c == 0 || append(sql, len, ", ")) &&
		    append_column(sql, len, &t->cols[c], absent[c]);
	return fits && append(sql, len, " FROM public.") &&
	    append(sql, len, t->name);
}

/* sentry_pg_digests - see ctl_sentry.h. */
int
sentry_pg_digests(struct sentry_pg *pg,
    char out[MT_COUNT][SENTRY_PG_DIGEST_LEN], char *err, size_t errlen)
{
	struct pg_schema sc;
	char sql[PG_SQL_MAX];
	size_t len = 0;
	PGresult *res;
	bool fits;

	if (schema_read(pg, &sc, err, errlen) != 0)
		return -1;
	/* SELECT (SELECT md5(string_agg(row, E'\n' ORDER BY row)) FROM
	 * (SELECT concat_ws(',', quote_nullable(c1), ...) AS row FROM t)),
	 * ... : a digest of the rows as the sync would read them. */
	fits = append(sql, &len, "SELECT ");
	for (int t = 0; t < MT_COUNT && fits; t++) {
		const struct mirror_table *mt = mirror_table(t);

		fits = t == 0 || append(sql, &len, ", ");
		if (!sc.present[t]) {
			fits = fits && append(sql, &len, "''");
			continue;
		}
		fits = fits && append(sql, &len, "(SELECT coalesce(md5("
		    "string_agg(r, E'\\n' ORDER BY r COLLATE \"C\")), '') "
		    "FROM (SELECT concat_ws(','");
		for (size_t c = 0; c < mt->ncols && fits; c++)
			fits = append(sql, &len, ", quote_nullable(") &&
			    append_column(sql, &len, &mt->cols[c],
			    sc.absent[t][c]) &&
			    append(sql, &len, ")");
		fits = fits && append(sql, &len, ") AS r FROM public.") &&
		    append(sql, &len, mt->name) && append(sql, &len, ") s)");
	}
	if (!fits) {
		snprintf(err, errlen, "digest statement too long");
		return -1;
	}
	res = pg_exec(pg, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_error(pg, "digests", err, errlen);
		PQclear(res);
		return -1;
	}
	for (int t = 0; t < MT_COUNT; t++)
		snprintf(out[t], SENTRY_PG_DIGEST_LEN, "%s",
		    PQgetvalue(res, 0, t));
	PQclear(res);
	return 0;
}

/* One table's rows into want (initialised by the caller). */
static int
read_table(struct sentry_pg *pg, struct mirror_rows *want,
    void (*refused)(const char *, void *), void *arg, char *err,
    size_t errlen)
{
	const struct mirror_table *t = want->t;
	const char **vals = NULL;
	char sql[PG_SQL_MAX], why[MIRROR_WHY_LEN];
	size_t len = 0;
	PGresult *res;
	int rc = -1;

	if (!build_select(sql, &len, t, want->absent)) {
		snprintf(err, errlen, "%s: statement too long", t->name);
		return -1;
	}
	res = pg_exec(pg, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_error(pg, t->name, err, errlen);
		goto out;
	}
	if ((vals = calloc(t->ncols, sizeof(*vals))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		int added;

		for (size_t c = 0; c < t->ncols; c++)
			vals[c] = PQgetisnull(res, i, (int)c) ? NULL :
			    PQgetvalue(res, i, (int)c);
		added = mirror_rows_add(want, vals, true, why, sizeof(why));
		if (added < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		if (added == 1)
			refused(why, arg);
	}
	if (!mirror_rows_sort(want)) {
		snprintf(err, errlen, "%s: two rows share a key", t->name);
		goto out;
	}
	rc = 0;
out:
	free(vals);
	PQclear(res);
	return rc;
}

/* sentry_pg_read - see ctl_sentry.h. */
int
sentry_pg_read(struct sentry_pg *pg, struct mirror_rows want[MT_COUNT],
    char digests[MT_COUNT][SENTRY_PG_DIGEST_LEN],
    void (*refused)(const char *, void *), void *arg, char *err,
    size_t errlen)
{
	struct pg_schema sc;
	int rc = -1;

	for (int t = 0; t < MT_COUNT; t++)
		mirror_rows_init(&want[t], mirror_table(t));
	/* One snapshot: a key never refers to a project the read missed. */
	if (pg_command(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    err, errlen) != 0)
		return -1;
	/* The digests of exactly these rows (the snapshot is taken by this
	 * first statement): taken before, a change landing in between, and
	 * undone before the next round, would vouch for rows never read. */
	if (digests != NULL &&
	    sentry_pg_digests(pg, digests, err, errlen) != 0)
		goto out;
	if (schema_read(pg, &sc, err, errlen) != 0)
		goto out;
	/* Templates come and go; these three are Sentry. */
	for (int t = 0; t < MT_COUNT; t++)
		if ((t == MT_ORG || t == MT_PROJECT || t == MT_KEY) &&
		    !sc.present[t]) {
			snprintf(err, errlen, "PostgreSQL: no %s table (or none "
			    "this role may see): is this Sentry's database?",
			    mirror_table(t)->name);
			goto out;
		}
	for (int t = 0; t < MT_COUNT; t++) {
		memcpy(want[t].absent, sc.absent[t], sizeof(want[t].absent));
		want[t].unmirrored = !sc.present[t];
		if (sc.present[t] && read_table(pg, &want[t], refused, arg,
		    err, errlen) != 0)
			goto out;
	}
	/* No template table: none of relaycfg's templates applies. */
	mirror_no_templates(want);
	rc = mirror_drop_orphans(want, refused, arg);
	if (rc != 0)
		snprintf(err, errlen, "out of memory");
out:
	/* Read only: COMMIT and ROLLBACK are the same; ROLLBACK never fails
	 * (a lost connection is closed by the caller, the rest with it). */
	PQclear(pg_exec(pg, "ROLLBACK"));
	if (rc != 0)
		for (int t = 0; t < MT_COUNT; t++)
			mirror_rows_free(&want[t]);
	return rc;
}

/* sentry_pg_listen - see ctl_sentry.h. */
int
sentry_pg_listen(struct sentry_pg *pg, char *err, size_t errlen)
{
	return pg_command(pg, "LISTEN " SENTRY_PG_CHANNEL, err, errlen);
}

/* Consume input; true when a notification is queued (all are freed). */
static bool
drain_notifies(struct sentry_pg *pg)
{
	PGnotify *n;
	bool any = false;

	while ((n = PQnotifies(pg->conn)) != NULL) {
		any = true;
		PQfreemem(n);
	}
	return any;
}

/* sentry_pg_poll - see ctl_sentry.h. */
int
sentry_pg_poll(struct pollfd *fds, nfds_t nfds, long ms)
{
	struct timespec ts;
	sigset_t during;

	if (sigprocmask(SIG_SETMASK, NULL, &during) != 0)
		return -1;
	(void)sigdelset(&during, SIGTERM);
	(void)sigdelset(&during, SIGINT);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (ms % 1000) * 1000000L;
	return ppoll(fds, nfds, ms < 0 ? NULL : &ts, &during);
}

/* sentry_pg_wait - see ctl_sentry.h. */
int
sentry_pg_wait(struct sentry_pg *pg, long ms)
{
	struct pollfd pfd;
	int r;

	if (pg->lost || PQstatus(pg->conn) != CONNECTION_OK)
		return -1;
	if (PQconsumeInput(pg->conn) == 0)
		return -1;
	if (drain_notifies(pg))
		return 1;
	pfd.fd = PQsocket(pg->conn);
	pfd.events = POLLIN;
	if (pfd.fd < 0)
		return -1;
	r = sentry_pg_poll(&pfd, 1, ms);
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	if (r == 0)
		return 0;
	if (PQconsumeInput(pg->conn) == 0)
		return -1;
	return drain_notifies(pg) ? 1 : 0;
}
