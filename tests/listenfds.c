/*
 * listenfds - start a command the way systemd socket activation does, for
 * tests on machines without systemd (CI containers).
 *
 *   listenfds [-m MODE] [-n NAME] [-P PID] unix:/path|HOST:PORT -- CMD [ARG...]
 *
 * Binds and listens on the socket, puts it on fd 3 (SD_LISTEN_FDS_START),
 * sets LISTEN_FDS=1, LISTEN_PID to its own pid (which CMD keeps: this is an
 * exec, not a fork) and LISTEN_FDNAMES=NAME, and execs CMD.  -m sets the
 * mode of a unix socket (SocketMode=, default 0666 as in systemd); -P puts
 * another pid in LISTEN_PID, to test that CMD ignores sockets meant for
 * someone else.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netdb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "listenfds: %s: %s\n", what, detail);
	exit(111);
}

static int
bind_unix(const char *path, mode_t mode)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		die(path, "path too long");
	strcpy(sun.sun_path, path);
	(void)unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		die("socket", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		die(path, strerror(errno));
	if (chmod(path, mode) != 0)
		die(path, strerror(errno));
	return fd;
}

static int
bind_tcp(const char *spec)
{
	struct addrinfo hints, *res, *ai;
	char host[256], *port;
	int fd = -1, one = 1, rc;

	if (strlen(spec) >= sizeof(host))
		die(spec, "too long");
	strcpy(host, spec);
	if ((port = strrchr(host, ':')) == NULL)
		die(spec, "expected unix:/path or HOST:PORT");
	*port++ = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		die(spec, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) < 0)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		die(spec, strerror(errno));
	return fd;
}

static void
usage(void)
{
	fprintf(stderr, "usage: listenfds [-m MODE] [-n NAME] [-P PID] "
	    "unix:/path|HOST:PORT -- COMMAND [ARG...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *name = "relaycfg.socket";
	mode_t mode = 0666;
	long pid = -1;
	char buf[32];
	int ch, fd;

	while ((ch = getopt(argc, argv, "+m:n:P:")) != -1) {
		switch (ch) {
		case 'm': mode = (mode_t)strtol(optarg, NULL, 8); break;
		case 'n': name = optarg; break;
		case 'P': pid = strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	if (strncmp(argv[0], "unix:", 5) == 0)
		fd = bind_unix(argv[0] + 5, mode);
	else
		fd = bind_tcp(argv[0]);
	if (listen(fd, 1024) != 0)
		die("listen", strerror(errno));
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			die("dup2", strerror(errno));
		close(fd);
	}
	snprintf(buf, sizeof(buf), "%ld", pid >= 0 ? pid : (long)getpid());
	if (setenv("LISTEN_FDS", "1", 1) != 0 ||
	    setenv("LISTEN_PID", buf, 1) != 0 ||
	    setenv("LISTEN_FDNAMES", name, 1) != 0)
		die("setenv", strerror(errno));
	argv++;		/* skip the socket */
	if (strcmp(argv[0], "--") == 0)
		argv++;
	if (argv[0] == NULL)
		usage();
	execvp(argv[0], argv);
	die(argv[0], strerror(errno));
	return 111;
}
