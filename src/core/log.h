/*
 * log.h - warn/err-style logging to stderr.
 *
 * Every line carries the level and the pid.  Text that came from a client
 * must go through log_sanitize() before it reaches a format string argument.
 */
#ifndef RELAYCFG_LOG_H
#define RELAYCFG_LOG_H

#include <stddef.h>
#include <stdbool.h>

enum {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

/* log_setup - set the threshold and output format (text or one JSON object). */
void	log_setup(int level, bool json);

/*
 * log_prefix - what a line of level starts with: its syslog priority
 * ("<3>" error, "<4>" warn, "<6>" info, "<7>" debug), which journald reads
 * and strips, when stderr is the journal's stream (JOURNAL_STREAM names
 * it; decided by log_setup, or at the first call before it); else "".
 */
const char *log_prefix(int level);

/* log_level_parse - "error|warn|info|debug" to LOG_LEVEL_*, -1 if unknown. */
int	log_level_parse(const char *name);

void	log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* fatal - log at error level and exit(1).  Only for start-up paths. */
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * log_access - the one access-log line for a request (info level).
 * method and path are sanitized here.
 */
void	log_access(int status, const char *method, const char *path,
	    long long duration_us, size_t bytes_out);

/*
 * log_sanitize - copy at most dstlen-1 bytes of src into dst, replacing
 * bytes outside printable ASCII (and '"', '\\') with '?', and NUL-terminate.
 * Returns dst.  src may be NULL ("-").
 */
char	*log_sanitize(char *dst, size_t dstlen, const char *src);

#endif
