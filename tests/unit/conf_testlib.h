/*
 * conf_testlib.h - unit tests' configs from text: the real parser on a
 * temp file, so that a test states its settings as an operator writes them.
 */
#ifndef CONF_TESTLIB_H
#define CONF_TESTLIB_H

#include <stddef.h>

#include "conf.h"

/*
 * conf_try_text - text parsed by conf_load from a temp file (removed
 * again).  The conf (caller frees with conf_free), or NULL with the
 * reason in err.
 */
struct conf	*conf_try_text(const char *text, char *err, size_t errlen);

/* conf_from_text - conf_try_text that fails the running test on error. */
struct conf	*conf_from_text(const char *text);

#endif
