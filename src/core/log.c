/*
 * log.c - warn/err-style logging to stderr, text or JSON lines; each line
 * starts with its syslog priority ("<4>") when stderr is the journal.
 */
#include "config.h"

#include <sys/stat.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	log_threshold = LOG_LEVEL_INFO;
static bool	log_as_json;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
/* syslog's err, warning, info and debug, as journald reads them */
static const char *const level_prefixes[] = { "<3>", "<4>", "<6>", "<7>" };

/* Is stderr the journal's stream?  -1: not decided yet. */
static int log_journal = -1;

/*
 * The pid every line carries, kept rather than asked for per line (getpid
 * is a system call, and a worker writes an access line per request); a
 * forked child refreshes it before it runs anything else.
 */
static pid_t log_pid;

static void
log_pid_refresh(void)
{
	log_pid = getpid();
}

static long
log_getpid(void)
{
	return (long)(log_pid != 0 ? log_pid : getpid());
}

/*
 * journal_stream - is stderr the stream systemd connected to the journal:
 * does JOURNAL_STREAM's "DEV:INODE" (systemd.exec(5)) name it?  Not when
 * a wrapper sent stderr elsewhere (a file): the variable is inherited.
 */
static bool
journal_stream(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	int end = 0;

	if (v == NULL || sscanf(v, "%ju:%ju%n", &dev, &ino, &end) != 2 ||
	    v[end] != '\0' || fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

/* log_prefix - see log.h. */
const char *
log_prefix(int level)
{
	if (log_journal < 0)
		log_journal = journal_stream();
	if (!log_journal || level < LOG_LEVEL_ERROR || level > LOG_LEVEL_DEBUG)
		return "";
	return level_prefixes[level];
}

void
log_setup(int level, bool json)
{
	log_threshold = level;
	log_as_json = json;
	log_journal = journal_stream();
	if (log_pid == 0) {
		log_pid_refresh();
		/* Not fatal: without the handler every line asks getpid. */
		if (pthread_atfork(NULL, NULL, log_pid_refresh) != 0)
			log_pid = 0;
	}
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(name, "warning") == 0)
		return LOG_LEVEL_WARN;
	return -1;
}

char *
log_sanitize(char *dst, size_t dstlen, const char *src)
{
	size_t i = 0;

	if (dstlen == 0)
		return dst;
	if (src == NULL)
		src = "-";
	for (; src[i] != '\0' && i + 1 < dstlen; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\')
		    ? '?' : (char)ch;
	}
	dst[i] = '\0';
	return dst;
}

/*
 * msg as the contents of a JSON string, into dst (dstlen > 0): '"' and
 * '\\' escaped, bytes outside printable ASCII '?' as in text lines (they
 * may not be UTF-8).  Cut short rather than split an escape.
 */
static void
log_json_contents(char *dst, size_t dstlen, const char *msg)
{
	size_t o = 0;

	for (; *msg != '\0'; msg++) {
		unsigned char ch = (unsigned char)*msg;
		int esc = ch == '"' || ch == '\\';

		if (o + 1 + (size_t)esc >= dstlen)
			break;
		if (esc)
			dst[o++] = '\\';
		dst[o++] = (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
	}
	dst[o] = '\0';
}

/*
 * The time of a line, to the millisecond, in UTC.  The date and time up to
 * the second are formatted once per second per thread (a worker logs many
 * lines a second; the guard's thread may log too, hence thread-local).
 */
static void
format_time(char *buf, size_t len)
{
	static _Thread_local time_t cached_sec = (time_t)-1;
	static _Thread_local char cached[80];	/* room for any int */
	struct timespec ts;
	struct tm tm;
	size_t n;
	long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		cached_sec = ts.tv_sec;
	}
	n = strlen(cached);
	ms = ts.tv_nsec / 1000000;
	if (n + sizeof(".mmmZ") > len) {
		if (len > 0)
			buf[0] = '\0';
		return;
	}
	memcpy(buf, cached, n);
	buf[n] = '.';
	buf[n + 1] = (char)('0' + ms / 100);
	buf[n + 2] = (char)('0' + ms / 10 % 10);
	buf[n + 3] = (char)('0' + ms % 10);
	buf[n + 4] = 'Z';
	buf[n + 5] = '\0';
}

/*
 * One write(2) per line, so that lines of concurrent workers sharing the
 * same stderr never interleave.
 */
static void __attribute__((format(printf, 2, 0)))
log_emit(int level, const char *fmt, va_list ap)
{
	char msg[2048], line[2400], now[64];
	int n;

	if (level > log_threshold)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	format_time(now, sizeof(now));
	if (log_as_json) {
		char clean[sizeof(msg)];

		log_json_contents(clean, sizeof(clean), msg);
		n = snprintf(line, sizeof(line),
		    "%s{\"time\":\"%s\",\"level\":\"%s\",\"pid\":%ld,\"msg\":\"%s\"}\n",
		    log_prefix(level), now, level_names[level], log_getpid(),
		    clean);
	} else {
		/*
		 * Messages carry what clients sent (an X-Forwarded-For hop, a
		 * relay id): a line break would forge a line, an escape
		 * sequence would reach the operator's terminal.
		 */
		for (char *c = msg; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 ||
			    (unsigned char)*c >= 0x7f)
				*c = '?';
		n = snprintf(line, sizeof(line), "%s%s relaycfg[%ld] %s: %s\n",
		    log_prefix(level), now, log_getpid(), level_names[level],
		    msg);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* Nothing sensible to do if stderr is gone. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

#define LOG_FN(name, level)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	log_emit(level, fmt, ap);			\
	va_end(ap);					\
}

LOG_FN(log_err, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_access(int status, const char *method, const char *path,
    long long duration_us, size_t bytes_out)
{
	char m[16], p[256];

	if (log_threshold < LOG_LEVEL_INFO)
		return;
	log_sanitize(m, sizeof(m), method);
	log_sanitize(p, sizeof(p), path);
	if (log_as_json) {
		char line[512], now[64];
		int n;

		format_time(now, sizeof(now));
		n = snprintf(line, sizeof(line),
		    "%s{\"time\":\"%s\",\"level\":\"info\",\"pid\":%ld,"
		    "\"status\":%d,\"method\":\"%s\",\"path\":\"%s\","
		    "\"duration_us\":%lld,\"bytes\":%zu}\n",
		    log_prefix(LOG_LEVEL_INFO), now, log_getpid(), status, m, p,
		    duration_us, bytes_out);
		if (n > 0 && (size_t)n < sizeof(line) &&
		    write(STDERR_FILENO, line, (size_t)n) < 0)
			return;
		return;
	}
	log_info("access %d %s %s %lldus %zuB", status, m, p, duration_us,
	    bytes_out);
}
