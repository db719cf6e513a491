/*
 * iserv.c - direct access to the test's MariaDB and memcached (iserv.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iserv.h"
#include "itest.h"

MYSQL *my;
memcached_st *mc;

void
my_connect(void)
{
	if (my != NULL)
		mysql_close(my);
	my = mysql_init(NULL);
	if (mysql_real_connect(my, NULL, "root", NULL, "relaycfg", 0,
	    getenv("MARIADB_SOCKET"), 0) == NULL) {
		fprintf(stderr, "mariadb: %s\n", mysql_error(my));
		exit(1);
	}
}

void
mc_connect(void)
{
	memcached_server_st *servers;

	if (mc != NULL)
		memcached_free(mc);
	mc = memcached_create(NULL);
	servers = memcached_server_list_append(NULL, "127.0.0.1",
	    (in_port_t)atoi(getenv("MC_PORT")), NULL);
	memcached_server_push(mc, servers);
	memcached_server_list_free(servers);
}

void
sql(const char *fmt, ...)
{
	char *q;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&q, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (mysql_real_query(my, q, (unsigned long)n) != 0) {
		fprintf(stderr, "%s: %s\n", q, mysql_error(my));
		exit(1);
	}
	free(q);
}

char *
mc_get(const char *key, size_t *len)
{
	uint32_t flags;
	memcached_return_t rc;
	char *v = memcached_get(mc, key, strlen(key), len, &flags, &rc);

	if (v == NULL && rc != MEMCACHED_NOTFOUND)
		diag("memcached_get %s: %s", key, memcached_strerror(mc, rc));
	return v;
}

void
mc_set(const char *key, const char *val)
{
	memcached_set(mc, key, strlen(key), val, strlen(val), 60, 0);
}

void
mc_del(const char *key)
{
	memcached_delete(mc, key, strlen(key), 0);
}
