/*
 * iserv.h - direct access to the MariaDB and memcached a C integration
 * driver runs against (test_store, test_store_fault), beside the code
 * under test: to seed rows, plant or inspect cache entries.  The servers
 * are the ones tests/lib/harness.sh started: MARIADB_SOCKET (user root,
 * database relaycfg) and 127.0.0.1:MC_PORT.
 */
#ifndef RELAYCFG_ISERV_H
#define RELAYCFG_ISERV_H

#include <stddef.h>

#include <libmemcached/memcached.h>
#include <mysql.h>

/* The connections; NULL until my_connect / mc_connect. */
extern MYSQL *my;
extern memcached_st *mc;

/* (Re)connect to MariaDB; exits on failure. */
void	my_connect(void);
/* A fresh memcached client: libmemcached rests a server that failed. */
void	mc_connect(void);
/* Run a statement built like printf; exits on failure. */
void	sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* key's raw value (the caller frees it), or NULL; an error other than a
 * miss is told with diag. */
char	*mc_get(const char *key, size_t *len);
/* Set key to val for 60 s, or delete it, without reply checks. */
void	mc_set(const char *key, const char *val);
void	mc_del(const char *key);

#endif
