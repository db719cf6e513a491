/*
 * itest.c - TAP output and script requests for the C integration drivers
 * (itest.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "itest.h"

int itest_failures;

bool
ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok - ", cond ? "" : "not ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		itest_failures++;
	return cond;
}

void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void
harness(const char *cmd)
{
	char line[64];

	printf("@@ %s\n", cmd);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		fprintf(stderr, "no answer to \"@@ %s\" on stdin\n", cmd);
		exit(1);
	}
}
