/*
 * f1_responder.c - F1, the transport floor: the most trivial FastCGI
 * responder libfcgi allows.  Prefork (--workers N, like relaycfg), each
 * worker blocking in FCGX_Accept_r, reading the whole body and answering
 * a fixed small JSON with the header set relaycfg sends.  It sits behind
 * the same nginx vhost as relaycfg, so the difference between the two is
 * what relaycfg itself costs.
 *
 *	f1_responder --listen unix:PATH [--workers N]
 *
 * SIGTERM stops the master and its workers.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

static const char answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 42\r\n"
    "Cache-Control: no-store\r\n"
    "\r\n"
    "{\"configs\":{},\"pending\":[],\"unchanged\":[]}";

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int
worker(int fd)
{
	FCGX_Request req;
	char buf[65536];

	signal(SIGTERM, SIG_DFL);
	if (FCGX_InitRequest(&req, fd, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		while (FCGX_GetStr(buf, sizeof(buf), req.in) > 0)
			;
		FCGX_PutStr(answer, sizeof(answer) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *listen = NULL;
	int workers = 2, fd;
	pid_t *kids;
	struct sigaction sa;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
			workers = atoi(argv[++i]);
		else {
			fputs("usage: f1_responder --listen unix:PATH "
			    "[--workers N]\n", stderr);
			return 2;
		}
	}
	if (listen == NULL || strncmp(listen, "unix:", 5) != 0 ||
	    workers < 1) {
		fputs("f1_responder: --listen unix:PATH is required\n", stderr);
		return 2;
	}
	if (FCGX_Init() != 0)
		return 1;
	unlink(listen + 5);
	if ((fd = FCGX_OpenSocket(listen + 5, 1024)) < 0) {
		fprintf(stderr, "f1_responder: cannot listen on %s\n", listen);
		return 1;
	}
	chmod(listen + 5, 0666);
	if ((kids = calloc((size_t)workers, sizeof(*kids))) == NULL)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int i = 0; i < workers; i++) {
		if ((kids[i] = fork()) == 0)
			return worker(fd);
		if (kids[i] < 0) {
			perror("fork");
			return 1;
		}
	}
	while (!stop) {
		pid_t p = wait(NULL);
		if (p < 0 && errno == ECHILD)
			break;
	}
	for (int i = 0; i < workers; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	unlink(listen + 5);
	return 0;
}
