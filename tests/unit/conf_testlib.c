/*
 * conf_testlib.c - unit tests' configs from text (see conf_testlib.h).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf_testlib.h"

struct conf *
conf_try_text(const char *text, char *err, size_t errlen)
{
	char path[] = "/tmp/relaycfg-conf-XXXXXX";
	struct conf *c;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	c = conf_load(path, err, errlen);
	unlink(path);
	return c;
}

struct conf *
conf_from_text(const char *text)
{
	char err[512] = "";
	struct conf *c = conf_try_text(text, err, sizeof(err));

	if (c == NULL)
		fail_msg("conf_load: %s", err);
	return c;
}
