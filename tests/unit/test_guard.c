/*
 * test_guard.c - a worker's deadlines (src/server/guard.c), on a real
 * socket and real processes: a wait longer than io_timeout gets its
 * connection shut down and counted, a wait that ended in time does not;
 * a request longer than request_timeout ends the process with
 * WORKER_EXIT_WATCHDOG and its line, one that ended in time does not.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "guard.h"
#include "worker.h"

static struct conf conf;
static FCGX_Request fcgx;
static int sv[2] = { -1, -1 };

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* io_timeout 1 s, request_timeout 2 s, no connection yet. */
static void
guarded_init(void)
{
	memset(&conf, 0, sizeof(conf));
	conf.io_timeout = 1;
	conf.request_timeout = 2;
	memset(&fcgx, 0, sizeof(fcgx));
	fcgx.ipcFd = -1;
}

static int
setup(void **state)
{
	(void)state;
	guarded_init();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	fcgx.ipcFd = sv[0];
	return guard_start(&conf, false, &fcgx);
}

static int
teardown(void **state)
{
	(void)state;
	guard_stop();
	close(sv[0]);
	close(sv[1]);
	return 0;
}

/* A peer that sends nothing: its connection is shut down after io_timeout. */
static void
test_io_timeout_drops(void **state)
{
	struct pollfd pfd = { .fd = sv[0], .events = POLLIN };
	long long t0 = clock_mono_ms(), took;
	char c;
	int rc;

	(void)state;
	guard_io_begin();
	/* poll is not restarted after the handler: wait again until the
	 * shut-down socket reads as ended, 5 s at most */
	do
		rc = poll(&pfd, 1, 5000);
	while (rc < 0 && errno == EINTR && clock_mono_ms() - t0 < 5000);
	guard_io_end();
	took = clock_mono_ms() - t0;
	assert_int_equal(rc, 1);
	assert_int_equal(read(sv[0], &c, 1), 0);	/* shut down: EOF */
	assert_true(took >= 990);
	assert_true(took < 3000);
	assert_int_equal(guard_io_dropped(), 1);
	assert_int_equal(guard_io_dropped(), 0);	/* reported once */
	assert_int_equal(guard_io_seconds(), 1);
}

/* Waits that end in time leave the connection alone, however many. */
static void
test_io_in_time(void **state)
{
	int fd[2];
	char c = 'x';

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
	fcgx.ipcFd = fd[0];
	for (int i = 0; i < 6; i++) {
		guard_io_begin();
		assert_int_equal(write(fd[1], &c, 1), 1);
		assert_int_equal(read(fd[0], &c, 1), 1);
		guard_io_end();
		sleep_ms(300);	/* 1.8 s in all: past io_timeout */
	}
	assert_int_equal(guard_io_dropped(), 0);
	assert_int_equal(write(fd[0], &c, 1), 1);	/* still open */
	assert_int_equal(read(fd[1], &c, 1), 1);
	fcgx.ipcFd = sv[0];
	close(fd[0]);
	close(fd[1]);
}

/*
 * Run body in a child whose stderr is a pipe; return its wait status and
 * what it wrote.
 */
static int
run_child(void (*body)(void), char *out, size_t outlen)
{
	int p[2], status;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		body();
		_exit(0);
	}
	close(p[1]);
	while (got + 1 < outlen &&
	    (n = read(p[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/*
 * A child starts its own guard (threads do not survive fork); the parent
 * runs none while it forks, so no lock is copied held.
 */
static void
spin_request(void)
{
	long long t0 = clock_mono_ms();
	volatile unsigned long spins = 0;

	guarded_init();
	if (guard_start(&conf, false, &fcgx) != 0)
		_exit(10);
	guard_request_begin();
	while (clock_mono_ms() - t0 < 10000)
		spins++;
	_exit(11);
}

static void
short_request(void)
{
	guarded_init();
	if (guard_start(&conf, false, &fcgx) != 0)
		_exit(10);
	guard_request_begin();
	sleep_ms(200);
	guard_request_end();
	sleep_ms(2800);	/* past request_timeout, idle */
	guard_stop();
}

static void
test_watchdog_ends_a_long_request(void **state)
{
	char out[512];
	long long t0 = clock_mono_ms();
	int status;

	(void)state;
	status = run_child(spin_request, out, sizeof(out));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), WORKER_EXIT_WATCHDOG);
	assert_non_null(strstr(out, "error: watchdog: a request ran longer "
	    "than request_timeout (2 s), the worker exits\n"));
	assert_true(clock_mono_ms() - t0 >= 1990);
}

static void
test_watchdog_spares_an_ended_request(void **state)
{
	char out[512];
	int status;

	(void)state;
	status = run_child(short_request, out, sizeof(out));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_io_timeout_drops,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_in_time,
		    setup, teardown),
		cmocka_unit_test(test_watchdog_ends_a_long_request),
		cmocka_unit_test(test_watchdog_spares_an_ended_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
