/*
 * master.c - fork workers, respawn them with backoff, turn signals into
 * graceful stop and reload.
 *
 * The master never handles a request.  All signals it cares about stay
 * blocked and are taken synchronously with sigtimedwait(), so there are no
 * handlers and no races between a signal and the bookkeeping below.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "worker.h"

/* A worker that dies sooner than this after its start counts as a crash. */
#define MASTER_STABLE_MS	10000
#define MASTER_BACKOFF_MIN_MS	100
#define MASTER_BACKOFF_MAX_MS	30000

struct slot {
	pid_t		pid;		/* 0: not running */
	long long	started_ms;
	long long	respawn_at_ms;	/* when pid == 0 */
	unsigned	fails;		/* consecutive quick deaths */
};

struct master {
	struct conf	*conf;
	struct slot	*slots;
	int		 nslots;
	pid_t		*retiring;	/* old generation, finishing requests */
	int		 nretiring;
	bool		 stopping;
	long long	 kill_at_ms;	/* stopping: SIGKILL stragglers then */
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
workers_wanted(const struct conf *conf)
{
	long n;

	if (conf->workers > 0)
		return conf->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/*
 * Fork one worker into slot s.  A failed fork is retried later, never in a
 * loop here.
 */
static void
master_spawn(struct master *m, struct slot *s)
{
	sigset_t none;
	pid_t pid, parent = getpid();

	if ((pid = fork()) < 0) {
		log_err("fork: %s", strerror(errno));
		s->respawn_at_ms = now_ms() + MASTER_BACKOFF_MAX_MS / 10;
		return;
	}
	if (pid == 0) {
		int status;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		free(m->slots);
		free(m->retiring);
		status = worker_run(&m->conf, false, parent);
		conf_free(m->conf);
		_exit(status);
	}
	s->pid = pid;
	s->started_ms = now_ms();
	log_debug("worker %ld started", (long)pid);
}

static void
master_signal_all(struct master *m, int sig)
{
	for (int i = 0; i < m->nslots; i++)
		if (m->slots[i].pid > 0)
			kill(m->slots[i].pid, sig);
	for (int i = 0; i < m->nretiring; i++)
		kill(m->retiring[i], sig);
}

static int
master_children(const struct master *m)
{
	int n = m->nretiring;

	for (int i = 0; i < m->nslots; i++)
		if (m->slots[i].pid > 0)
			n++;
	return n;
}

/* Note the death of pid; schedule its respawn unless we are stopping. */
static void
master_reaped(struct master *m, pid_t pid, int status)
{
	for (int i = 0; i < m->nretiring; i++) {
		if (m->retiring[i] == pid) {
			m->retiring[i] = m->retiring[--m->nretiring];
			return;
		}
	}
	for (int i = 0; i < m->nslots; i++) {
		struct slot *s = &m->slots[i];
		long long now = now_ms(), lived;

		if (s->pid != pid)
			continue;
		s->pid = 0;
		lived = now - s->started_ms;
		if (m->stopping)
			return;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			/* Recycled after max_requests: replace at once. */
			s->fails = 0;
			s->respawn_at_ms = now;
			return;
		}
		if (WIFSIGNALED(status))
			log_err("worker %ld killed by signal %d", (long)pid,
			    WTERMSIG(status));
		else
			log_err("worker %ld exited with status %d", (long)pid,
			    WEXITSTATUS(status));
		if (lived >= MASTER_STABLE_MS)
			s->fails = 0;
		/*
		 * The first death of a stable worker is replaced at once; a
		 * crash loop backs off exponentially, so it can never turn
		 * into a fork bomb.
		 */
		long long delay = 0;
		if (s->fails > 0) {
			delay = MASTER_BACKOFF_MIN_MS;
			for (unsigned f = 1; f < s->fails &&
			    delay < MASTER_BACKOFF_MAX_MS; f++)
				delay *= 2;
			if (delay > MASTER_BACKOFF_MAX_MS)
				delay = MASTER_BACKOFF_MAX_MS;
			log_warn("worker crashed %u times in a row, respawning "
			    "in %lld ms", s->fails + 1, delay);
		}
		s->fails++;
		s->respawn_at_ms = now + delay;
		return;
	}
}

/*
 * SIGHUP: read the config again; on success start a new generation of
 * workers and let the old one finish its requests and leave.  The listening
 * socket is shared, so no connection is refused in between.
 */
static void
master_reload(struct master *m)
{
	char err[512];
	struct conf *fresh;
	struct slot *slots;
	pid_t *retiring;
	int n;

	if ((fresh = conf_load(m->conf->path, err, sizeof(err))) == NULL) {
		log_err("reload refused, keeping the running config: %s", err);
		return;
	}
	if (conf_apply_overrides(fresh) != 0)
		goto oom;
	n = workers_wanted(fresh);
	if ((slots = calloc((size_t)n, sizeof(*slots))) == NULL)
		goto oom;
	retiring = realloc(m->retiring,
	    (size_t)(m->nretiring + m->nslots) * sizeof(pid_t) + 1);
	if (retiring == NULL) {
		free(slots);
		goto oom;
	}
	m->retiring = retiring;
	for (int i = 0; i < m->nslots; i++)
		if (m->slots[i].pid > 0)
			m->retiring[m->nretiring++] = m->slots[i].pid;
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
	conf_free(m->conf);
	m->conf = fresh;
	log_setup(fresh->log_level, fresh->log_json);
	for (int i = 0; i < m->nslots; i++)
		master_spawn(m, &m->slots[i]);
	for (int i = 0; i < m->nretiring; i++)
		kill(m->retiring[i], SIGTERM);
	log_info("configuration reloaded from %s, %d workers", fresh->path,
	    n);
	return;
oom:
	log_err("reload refused: out of memory");
	conf_free(fresh);
}

int
master_run(struct conf *conf)
{
	struct master m = { .conf = conf };
	sigset_t set;
	siginfo_t info;
	int sig, status;
	pid_t pid;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		fatal("sigprocmask: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);

	m.nslots = workers_wanted(conf);
	if ((m.slots = calloc((size_t)m.nslots, sizeof(*m.slots))) == NULL)
		fatal("out of memory");
	for (int i = 0; i < m.nslots; i++)
		master_spawn(&m, &m.slots[i]);
	log_info("master ready, %d workers", m.nslots);

	for (;;) {
		long long now = now_ms(), next = now + 60000;
		struct timespec ts;

		if (m.stopping && master_children(&m) == 0)
			break;
		/* Respawns that are due; find the next wake-up. */
		for (int i = 0; i < m.nslots && !m.stopping; i++) {
			struct slot *s = &m.slots[i];
			if (s->pid != 0)
				continue;
			if (s->respawn_at_ms <= now)
				master_spawn(&m, s);
			if (s->pid == 0 && s->respawn_at_ms < next)
				next = s->respawn_at_ms;
		}
		if (m.stopping) {
			if (now >= m.kill_at_ms) {
				log_warn("shutdown timeout: killing %d "
				    "workers", master_children(&m));
				master_signal_all(&m, SIGKILL);
				m.kill_at_ms = now + 60000;
			}
			if (m.kill_at_ms < next)
				next = m.kill_at_ms;
		}
		if (next < now)
			next = now;
		ts.tv_sec = (next - now) / 1000;
		ts.tv_nsec = ((next - now) % 1000) * 1000000;
		sig = sigtimedwait(&set, &info, &ts);
		if (sig < 0)
			continue;	/* EAGAIN: a timer is due; EINTR */
		switch (sig) {
		case SIGCHLD:
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
				master_reaped(&m, pid, status);
			break;
		case SIGTERM:
		case SIGINT:
		case SIGUSR1:
			if (!m.stopping) {
				log_info("stopping: %d workers finish their "
				    "requests", master_children(&m));
				m.stopping = true;
				m.kill_at_ms = now_ms() +
				    (long long)m.conf->shutdown_timeout * 1000;
				master_signal_all(&m, SIGTERM);
			}
			break;
		case SIGHUP:
			if (!m.stopping)
				master_reload(&m);
			break;
		}
	}
	log_info("stopped");
	free(m.slots);
	free(m.retiring);
	conf_free(m.conf);
	return 0;
}
