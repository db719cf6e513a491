/*
 * udplisten.c - a UDP collector for the StatsD test: every datagram to a file.
 *
 * usage: udplisten PORTFILE OUTFILE [SECONDS]
 *
 * Binds 127.0.0.1 on a free port, writes the port to PORTFILE (renamed into
 * place, so a reader never sees half of it), then appends each datagram to
 * OUTFILE as a line "#dgram N" followed by its payload and a newline.  Exits
 * after SECONDS (default 300) so that a test that dies leaves nothing behind,
 * or at SIGTERM.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	char buf[65536], tmp[4096];
	unsigned long n = 0;
	FILE *out = NULL, *pf = NULL;
	time_t end;
	int fd = -1, rc = 1;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: udplisten PORTFILE OUTFILE [SECONDS]\n");
		return 2;
	}
	end = time(NULL) + (argc == 4 ? atol(argv[3]) : 300);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		goto out;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
		goto out;
	if ((out = fopen(argv[2], "a")) == NULL)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	if ((pf = fopen(tmp, "w")) == NULL)
		goto out;
	fprintf(pf, "%u\n", (unsigned)ntohs(sin.sin_port));
	if (fclose(pf) != 0 || rename(tmp, argv[1]) != 0) {
		pf = NULL;
		goto out;
	}
	pf = NULL;
	while (!stop && time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t len;

		if (poll(&p, 1, 200) <= 0)
			continue;
		if ((len = recv(fd, buf, sizeof(buf), 0)) < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		/* flushed per datagram: the test reads the file meanwhile */
		fprintf(out, "#dgram %lu\n%.*s\n", ++n, (int)len, buf);
		fflush(out);
	}
	rc = 0;
out:
	if (rc != 0)
		perror("udplisten");
	if (out != NULL)
		fclose(out);
	if (fd >= 0)
		close(fd);
	return rc;
}
