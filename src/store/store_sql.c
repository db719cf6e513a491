/*
 * store_sql.c - SQL text from column lists (struct sql_col, store_int.h):
 * the INSERT, UPDATE, SELECT and DELETE builders (stmt_*) that the admin
 * writes (store_write.c) and invalidation's queries (store_invalidate.c)
 * share, and the SET lists several writes share.  Each value is appended
 * as its type says (sql_value).
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "store_int.h"

/* Append c's value as its type says. */
static void
sql_value(struct db_sql *q, const struct sql_col *c)
{
	switch (c->type) {
	case SQLV_INT:
		db_sql_int(q, c->i);
		break;
	case SQLV_ID:
		if (c->i != 0)
			db_sql_int(q, c->i);
		else
			db_sql_raw(q, "NULL");
		break;
	case SQLV_STR:
		db_sql_str(q, c->s);
		break;
	case SQLV_TOKEN:
		db_sql_token(q, c->s);
		break;
	case SQLV_RAW:
		db_sql_raw(q, c->s);
		break;
	}
}

/* Append "c1 = v1<sep>c2 = v2..." (a SET list, a WHERE's conditions). */
static void
sql_pairs(struct db_sql *q, const struct sql_col *c, size_t n,
    const char *sep)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			db_sql_raw(q, sep);
		db_sql_raw(q, c[i].col);
		db_sql_raw(q, " = ");
		sql_value(q, &c[i]);
	}
}

/* Append " WHERE w = x AND ...". */
static void
sql_where(struct db_sql *q, const struct sql_col *where, size_t n)
{
	db_sql_raw(q, " WHERE ");
	sql_pairs(q, where, n, " AND ");
}

/* stmt_insert - INSERT INTO table (c1, c2) VALUES (v1, v2). */
void
stmt_insert(struct db_sql *q, const char *table, const struct sql_col *cols,
    size_t n)
{
	db_sql_raw(q, "INSERT INTO ");
	db_sql_raw(q, table);
	db_sql_raw(q, " (");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			db_sql_raw(q, ", ");
		db_sql_raw(q, cols[i].col);
	}
	db_sql_raw(q, ") VALUES (");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			db_sql_raw(q, ", ");
		sql_value(q, &cols[i]);
	}
	db_sql_raw(q, ")");
}

/* stmt_update - UPDATE table SET c = v, ... WHERE w = x AND ... */
void
stmt_update(struct db_sql *q, const char *table, const struct sql_col *set,
    size_t nset, const struct sql_col *where, size_t nwhere)
{
	db_sql_raw(q, "UPDATE ");
	db_sql_raw(q, table);
	db_sql_raw(q, " SET ");
	sql_pairs(q, set, nset, ", ");
	sql_where(q, where, nwhere);
}

/* stmt_select - SELECT cols FROM from WHERE w = x AND ... */
void
stmt_select(struct db_sql *q, const char *cols, const char *from,
    const struct sql_col *where, size_t nwhere)
{
	db_sql_raw(q, "SELECT ");
	db_sql_raw(q, cols);
	db_sql_raw(q, " FROM ");
	db_sql_raw(q, from);
	sql_where(q, where, nwhere);
}

/* stmt_delete - DELETE FROM table WHERE w = x AND ... */
void
stmt_delete(struct db_sql *q, const char *table, const struct sql_col *where,
    size_t nwhere)
{
	db_sql_raw(q, "DELETE FROM ");
	db_sql_raw(q, table);
	sql_where(q, where, nwhere);
}

/* SET lists. */

/* The SET list of what organizations and projects share; its length. */
size_t
set_named(struct sql_col *cols, const char *slug, const char *name,
    int status)
{
	size_t n = 0;

	if (slug != NULL)
		cols[n++] = SQL_STR("slug", slug);
	if (name != NULL)
		cols[n++] = SQL_STR("name", name);
	if (status != -1)
		cols[n++] = SQL_INT("status", status);
	return n;
}

/* A rate limit's column: v, or SQL NULL without a limit. */
struct sql_col
limit_col(const char *col, bool has, int64_t v)
{
	return has ? SQL_INT(col, v) : SQL_STR(col, NULL);
}
