/*
 * cache_cork.c - a batch of write-backs sent in full TCP segments.
 *
 * libmemcached holds plain sets and deletes in its buffer until
 * memcached_flush_buffers, but sends every add and cas at once, with
 * one send() each (libmemcached 1.1 storage.cc: only SET_OP is
 * buffered).  The write-backs are adds and cas (cache_lease.c), so a
 * cold 100-key request made about 770 sends of one value each: a
 * loopback transmit each on our side, and a wake-up and a read each on
 * memcached's.  strace counted them; perf put 13 % of a cold worker's
 * CPU under sendto.
 *
 * While a batch is written, the socket of each TCP server is corked
 * (TCP_CORK, tcp(7)): the kernel appends each send to the segment it is
 * filling and transmits only full ones; uncorking sends the rest.
 * Nothing waits for an answer on a corked socket during the batch: its
 * writes are noreply.
 *
 * libmemcached does not tell its descriptor.  It is found among the
 * process's descriptors (/proc/self/fd) as the one TCP socket whose
 * local port is memcached_server_srcport() and whose peer port is the
 * server's, and found again only when that port changes (libmemcached
 * reconnected).  Where it cannot be found (a unix socket, no connection
 * yet, no /proc, two candidates) the batch goes out uncorked, as it did
 * before: slower, never wrong.
 */
#include "config.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cache_int.h"
#include "log.h"

/* The port of a socket address, 0 for anything but IPv4 and IPv6. */
static unsigned
addr_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return 0;
}

/* Is fd a TCP socket from local port lport to peer port pport? */
static bool
sock_is(int fd, unsigned lport, unsigned pport)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int type;
	socklen_t tlen = sizeof(type);

	if (getsockname(fd, (struct sockaddr *)&a, &len) != 0 ||
	    addr_port(&a) != lport)
		return false;
	len = sizeof(a);
	if (getpeername(fd, (struct sockaddr *)&a, &len) != 0 ||
	    addr_port(&a) != pport)
		return false;
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 &&
	    type == SOCK_STREAM;
}

/*
 * The one descriptor of this process that is a TCP socket from lport to
 * pport; -1 when there is none or more than one, -2 when they could not
 * be listed (no /proc, no descriptor left for the listing).
 */
static int
sock_find(unsigned lport, unsigned pport)
{
	DIR *d;
	struct dirent *e;
	int found = -1, n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -2;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end != '\0' || end == e->d_name || fd < 0 ||
		    fd == dirfd(d) || !sock_is((int)fd, lport, pport))
			continue;
		found = (int)fd;
		n++;
	}
	closedir(d);
	return n == 1 ? found : -1;
}

/* Server i's socket as libmemcached has it now, or -1. */
static int
server_sock(struct cache *c, uint32_t i)
{
	struct cache_server *s = &c->srv[i];
	const memcached_instance_st *in =
	    memcached_server_instance_by_position(c->mc, i);
	unsigned pport, lport;
	int fd;

	if (in == NULL || (pport = memcached_server_port(in)) == 0)
		return -1;			/* a unix socket */
	lport = memcached_server_srcport(in);
	if (lport == 0 || lport == 0xffff)	/* not connected */
		return -1;
	if (s->sock_port == lport) {
		/* Not found for this connection: not looked for again. */
		if (s->sock < 0)
			return -1;
		if (sock_is(s->sock, lport, pport))
			return s->sock;
	}
	fd = sock_find(lport, pport);
	s->sock = fd >= 0 ? fd : -1;
	/* A listing that failed is tried again at the next batch. */
	s->sock_port = fd == -2 ? 0 : lport;
	if (fd < 0)
		log_debug("memcached %s: its socket was not found, "
		    "write-backs go uncorked", s->name);
	return s->sock;
}

void
cache_cork(struct cache *c)
{
	static const int one = 1;

	for (uint32_t i = 0; i < c->nsrv; i++) {
		int fd = server_sock(c, i);

		c->srv[i].corked = fd >= 0 && setsockopt(fd, IPPROTO_TCP,
		    TCP_CORK, &one, sizeof(one)) == 0;
	}
}

void
cache_uncork(struct cache *c)
{
	static const int zero = 0;

	for (uint32_t i = 0; i < c->nsrv; i++) {
		if (!c->srv[i].corked)
			continue;
		/* Should it fail, the kernel sends within 200 ms anyway. */
		(void)setsockopt(c->srv[i].sock, IPPROTO_TCP, TCP_CORK, &zero,
		    sizeof(zero));
		c->srv[i].corked = false;
	}
}
