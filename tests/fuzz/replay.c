/*
 * replay.c - run a fuzz harness without libFuzzer: over every file of its
 * checked-in corpus and of its past crashes, as a TAP test ("make
 * check", any compiler), or over the files and directories named on the
 * command line (to reproduce one crash: "tests/fuzz/replay_http FILE").
 *
 * With no arguments the directories are
 *	$top_srcdir/tests/fuzz/corpus/<name>   and
 *	$top_srcdir/tests/fuzz/crashes/<name>
 * where <name> is FUZZ_NAME; a missing crashes directory is empty.  Each
 * input runs under an alarm (FUZZ_REPLAY_TIMEOUT seconds, default 60): a
 * hang is a failure too, and the test names the input that hung.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the harness"
#endif

static char current[PATH_MAX];

/* A hang: name the input and fail (async-signal-safe). */
static void
on_alarm(int sig)
{
	static const char a[] = "not ok - timeout (a hang) on ";

	(void)sig;
	if (write(STDOUT_FILENO, a, sizeof(a) - 1) < 0 ||
	    write(STDOUT_FILENO, current, strlen(current)) < 0 ||
	    write(STDOUT_FILENO, "\n", 1) < 0)
		_exit(1);
	_exit(1);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the regular files of dir (sorted), or path itself, to *list. */
static void
collect(const char *path, char ***list, size_t *n, size_t *cap)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;
	size_t first = *n;

	if (stat(path, &sb) != 0)
		return;
	if (!S_ISDIR(sb.st_mode)) {
		if (*n == *cap) {
			*cap = *cap * 2 + 64;
			if ((*list = realloc(*list, *cap * sizeof(**list))) ==
			    NULL)
				abort();
		}
		if (((*list)[(*n)++] = strdup(path)) == NULL)
			abort();
		return;
	}
	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char p[PATH_MAX];

		/* Dot files and READMEs are notes, not inputs. */
		if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
			collect(p, list, n, cap);
	}
	closedir(d);
	qsort(*list + first, *n - first, sizeof(**list), cmp_str);
}

/* Read a whole file; NULL on error. */
static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (f == NULL)
		return NULL;
	for (;;) {
		size_t r;

		if (*len == cap) {
			cap = cap * 2 + 4096;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		r = fread(buf + *len, 1, cap - *len, f);
		*len += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir"), *t;
	char **list = NULL, dir[PATH_MAX];
	size_t n = 0, cap = 0;
	unsigned timeout = 60;
	int failed = 0;

	if ((t = getenv("FUZZ_REPLAY_TIMEOUT")) != NULL && atoi(t) > 0)
		timeout = (unsigned)atoi(t);
	if (argc > 1)
		for (int i = 1; i < argc; i++)
			collect(argv[i], &list, &n, &cap);
	else {
		if (top == NULL)
			top = ".";
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top,
		    FUZZ_NAME);
		collect(dir, &list, &n, &cap);
		if (n == 0) {
			printf("Bail out! empty corpus %s\n", dir);
			return 1;
		}
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/crashes/%s", top,
		    FUZZ_NAME);
		collect(dir, &list, &n, &cap);
	}
	signal(SIGALRM, on_alarm);
	printf("1..%zu\n", n);
	fflush(stdout);
	for (size_t i = 0; i < n; i++) {
		unsigned char *data;
		size_t len;

		snprintf(current, sizeof(current), "%s", list[i]);
		if ((data = slurp(list[i], &len)) == NULL) {
			printf("not ok %zu - cannot read %s\n", i + 1, list[i]);
			failed++;
			free(list[i]);
			continue;
		}
		/* A crash aborts here, and the log names the input. */
		fprintf(stderr, "running %s\n", list[i]);
		alarm(timeout);
		LLVMFuzzerTestOneInput(data, len);
		alarm(0);
		printf("ok %zu - %s\n", i + 1, list[i]);
		fflush(stdout);
		free(data);
		free(list[i]);
	}
	free(list);
	return failed != 0;
}
