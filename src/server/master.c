/*
 * master.c - fork workers, respawn them with backoff, turn signals into
 * graceful stop and reload.
 *
 * A worker that served at least one request (the scoreboard says so) is
 * not crash-looping, however soon it died: an operator's or the OOM
 * killer's SIGKILL, or the watchdog, is replaced at once.  Backoff is only
 * for workers that die before answering anything.
 *
 * The master never handles a request.  All signals it cares about stay
 * blocked and are taken synchronously with sigtimedwait(), so there are no
 * handlers and no races between a signal and the bookkeeping below.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "priv.h"
#include "scoreboard.h"
#include "worker.h"

/*
 * A worker that dies sooner than this after its start, without having
 * served a request, counts as a crash.
 */
#define MASTER_STABLE_MS	10000
#define MASTER_BACKOFF_MIN_MS	100
#define MASTER_BACKOFF_MAX_MS	30000
/* The worker's own watchdog gets this long before the master's SIGKILL. */
#define MASTER_WD_GRACE_MS	2000

struct slot {
	pid_t		pid;		/* 0: not running */
	long long	started_ms;
	long long	respawn_at_ms;	/* when pid == 0 */
	unsigned	fails;		/* consecutive quick deaths */
	bool		wd_killed;	/* SIGKILLed by the master's watchdog */
	struct scoreboard_slot *board;	/* in m->sb */
};

/*
 * A worker of a generation that a reload replaced, finishing its requests.
 * The watchdog must go on watching it, so its generation's scoreboard and
 * request_timeout outlive the reload: the scoreboard is unmapped when the
 * last retiree holding it is reaped (retiree_drop).
 */
struct retiree {
	pid_t		pid;
	bool		wd_killed;	/* SIGKILLed by the master's watchdog */
	unsigned	request_timeout;	/* its generation's, in s */
	struct scoreboard *sb;		/* its generation's, shared */
	struct scoreboard_slot *board;	/* in sb */
};

struct master {
	struct conf	*conf;
	struct slot	*slots;
	int		 nslots;
	struct scoreboard *sb;		/* one slot per element of slots */
	struct retiree	*retiring;	/* old generations, finishing requests */
	int		 nretiring;
	bool		 stopping;
	bool		 killed_all;	/* stopping: stragglers SIGKILLed */
	long long	 kill_at_ms;	/* stopping: SIGKILL stragglers then */
	/*
	 * The process writing each metrics slot (0: free).  A position of
	 * its own per live child, retiring ones included, so that a slot
	 * never has two writers across a reload.
	 */
	pid_t		 mpid[METRICS_MAX_WORKERS];
};

/* A free metrics slot, or -1 (the child's counts are then dropped). */
static int
metrics_slot_free(const struct master *m)
{
	for (int i = 0; i < METRICS_MAX_WORKERS; i++)
		if (m->mpid[i] == 0)
			return i;
	return -1;
}

/*
 * Forget retiree i, and unmap its generation's scoreboard once no other
 * retiree reads it (the slots of one generation share a mapping).
 */
static void
retiree_drop(struct master *m, int i)
{
	struct scoreboard *sb = m->retiring[i].sb;

	m->retiring[i] = m->retiring[--m->nretiring];
	for (int j = 0; j < m->nretiring; j++)
		if (m->retiring[j].sb == sb)
			return;
	scoreboard_destroy(sb);
}

/*
 * Count the exit of a reaped child and give its metrics slot back (its
 * gauges, such as in-flight, end with it).  status as from waitpid;
 * retired: it belonged to a generation replaced by a reload.
 */
static void
metrics_reaped(struct master *m, pid_t pid, int status, bool wd_killed,
    bool retired)
{
	enum metric_exit cause;

	if (wd_killed || (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
	    m->killed_all))
		cause = MX_KILLED;
	else if (WIFEXITED(status) &&
	    WEXITSTATUS(status) == WORKER_EXIT_WATCHDOG)
		cause = MX_WATCHDOG;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		/* under max_requests only a slot's worker leaves by itself;
		 * retired and stopped ones are "other" (the caller says) */
		cause = MX_RECYCLED;
	else
		cause = MX_CRASHED;	/* a signal, or a failed start */
	if (cause == MX_RECYCLED && (m->stopping || retired))
		cause = MX_OTHER;
	metrics_inc(MF_WORKER_EXITS, cause, 0, 0);
	for (int i = 0; i < METRICS_MAX_WORKERS; i++)
		if (m->mpid[i] == pid) {
			m->mpid[i] = 0;
			metrics_vacate(i);
			break;
		}
}

/*
 * Workers started by "auto", per CPU the master may run on (cpus_usable).
 * A worker waits, with its CPU idle, on each memcached and MariaDB round
 * trip and on libfcgi's close (it reads until the web server hangs up):
 * with one worker per CPU, 15-20 % of the machine stayed idle under warm
 * load, and two per CPU answered 15-25 % more (bench/analysis.md,
 * "Workers per CPU").  Cold builds, which keep their CPU busy, answer as
 * many either way.
 */
#define WORKERS_PER_CPU	2

/*
 * The CPUs this process may run on: its affinity mask, which a cpuset
 * (a container, systemd's AllowedCPUs=, taskset) narrows, as nproc(1)
 * counts them; the CPUs online if the mask cannot be read.  At least 1.
 */
static long
cpus_usable(void)
{
	cpu_set_t set;
	long n;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    (n = CPU_COUNT(&set)) > 0)
		return n;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

/* The workers to run: the configured number, or two per usable CPU (at
 * most METRICS_MAX_WORKERS, the most there are slots for). */
static int
workers_wanted(const struct conf *conf)
{
	long n;

	if (conf->workers > 0)
		return conf->workers;
	n = cpus_usable();
	if (n > METRICS_MAX_WORKERS / WORKERS_PER_CPU)
		return METRICS_MAX_WORKERS;
	return (int)n * WORKERS_PER_CPU;
}

/*
 * Fork one worker into slot s.  A failed fork is retried later, never in a
 * loop here.
 */
static void
master_spawn(struct master *m, struct slot *s)
{
	struct scoreboard_slot *board = s->board;
	sigset_t held;
	pid_t pid, parent = getpid();
	int mi = metrics_slot_free(m);

	scoreboard_reset(board);
	s->wd_killed = false;
	if ((pid = fork()) < 0) {
		log_err("fork: %s", strerror(errno));
		s->respawn_at_ms = clock_mono_ms() + MASTER_BACKOFF_MAX_MS / 10;
		return;
	}
	if (pid == 0) {
		char err[256];
		int status;

		metrics_attach(mi, (long)getpid());
		/*
		 * SIGCHLD back, the stop and reload signals still held: the
		 * handlers inherited are libfcgi's (main.c) until worker_run
		 * installs its own, and a signal meanwhile must wait for them.
		 */
		worker_stop_signals(&held);
		sigprocmask(SIG_SETMASK, &held, NULL);
		free(m->slots);
		/* the old generations' slots are none of this worker's */
		while (m->nretiring > 0)
			retiree_drop(m, 0);
		free(m->retiring);
		/*
		 * Before any request is read: an error here is a crashed
		 * start, which the respawn backoff paces.
		 */
		if (priv_drop(m->conf, err, sizeof(err)) != 0) {
			log_err("worker %ld: %s", (long)getpid(), err);
			_exit(1);
		}
		status = worker_run(&m->conf, false, parent, board);
		conf_free(m->conf);
		_exit(status);
	}
	s->pid = pid;
	s->started_ms = clock_mono_ms();
	if (mi >= 0)
		m->mpid[mi] = pid;
	metrics_inc(MF_WORKER_STARTS, 0, 0, 0);
	log_debug("worker %ld started", (long)pid);
}

static void
master_signal_all(struct master *m, int sig)
{
	for (int i = 0; i < m->nslots; i++)
		if (m->slots[i].pid > 0)
			kill(m->slots[i].pid, sig);
	for (int i = 0; i < m->nretiring; i++)
		kill(m->retiring[i].pid, sig);
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

/*
 * Log why worker pid, which did not exit 0, died: the watchdog (its own,
 * status 3, or the master's SIGKILL, wd_killed) with the request its board
 * still holds, a signal, or an exit status.  request_timeout: the one the
 * worker ran under, in s.
 */
static void
master_log_death(pid_t pid, int status, bool wd_killed,
    const struct scoreboard_slot *board, unsigned request_timeout)
{
	if (wd_killed ||
	    (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_WATCHDOG))
		log_err("worker %ld stopped by the watchdog: \"%s\" ran "
		    "longer than request_timeout (%u s)", (long)pid,
		    board->label, request_timeout);
	else if (WIFSIGNALED(status))
		log_err("worker %ld killed by signal %d", (long)pid,
		    WTERMSIG(status));
	else
		log_err("worker %ld exited with status %d", (long)pid,
		    WEXITSTATUS(status));
}

/* Note the death of pid; schedule its respawn unless we are stopping. */
static void
master_reaped(struct master *m, pid_t pid, int status)
{
	for (int i = 0; i < m->nretiring; i++) {
		struct retiree *r = &m->retiring[i];

		if (r->pid != pid)
			continue;
		metrics_reaped(m, pid, status, r->wd_killed, true);
		/*
		 * Exit 0 is a graceful retirement: its requests answered, the
		 * queue drained.  Anything else is told as for a current
		 * worker, before retiree_drop may unmap the board.
		 */
		if (!m->stopping &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			master_log_death(pid, status, r->wd_killed, r->board,
			    r->request_timeout);
		retiree_drop(m, i);
		return;
	}
	for (int i = 0; i < m->nslots; i++) {
		struct slot *s = &m->slots[i];
		long long now = clock_mono_ms(), lived;
		unsigned long served;

		if (s->pid != pid)
			continue;
		s->pid = 0;
		metrics_reaped(m, pid, status, s->wd_killed, false);
		lived = now - s->started_ms;
		if (m->stopping)
			return;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			/* Recycled after max_requests: replace at once. */
			s->fails = 0;
			s->respawn_at_ms = now;
			return;
		}
		served = atomic_load(&s->board->served);
		master_log_death(pid, status, s->wd_killed, s->board,
		    m->conf->request_timeout);
		/*
		 * A worker that answered requests, or lived long, was not
		 * crash-looping (SIGKILL from outside, OOM killer, watchdog):
		 * replace it at once, so the pool is never left empty.  Only
		 * a worker that dies before answering anything counts as a
		 * crash, and a crash loop backs off exponentially, so it can
		 * never turn into a fork bomb.
		 */
		if (served > 0 || lived >= MASTER_STABLE_MS)
			s->fails = 0;
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
 * SIGKILL worker pid if the request its board shows has run longer than
 * request_timeout (s) + MASTER_WD_GRACE_MS at now, and note it in
 * *wd_killed (once: it stays busy until it is reaped).
 */
static void
master_watch(pid_t pid, const struct scoreboard_slot *board,
    unsigned request_timeout, bool *wd_killed, long long now)
{
	long long limit = (long long)request_timeout * 1000 +
	    MASTER_WD_GRACE_MS;
	long long since = atomic_load(&board->busy_since_ms);

	if (since == 0 || *wd_killed || now - since <= limit)
		return;
	log_err("worker %ld still busy %lld ms after request_timeout, "
	    "killing it", (long)pid, now - since - limit + MASTER_WD_GRACE_MS);
	*wd_killed = true;
	kill(pid, SIGKILL);
}

/*
 * The watchdog's second line: a worker's own guard ends a request over
 * request_timeout, unless the worker blocked even that signal or hangs in
 * a way no handler can reach.  A worker still busy MASTER_WD_GRACE_MS
 * later is SIGKILLed, a retiring one too (by its own generation's
 * request_timeout, the one its guard enforces): finishing its requests
 * must not mean having no deadline.  Returns whether any worker is
 * running (so the caller looks again within a second).
 */
static bool
master_watchdog(struct master *m, long long now)
{
	bool running = m->nretiring > 0;

	for (int i = 0; i < m->nslots; i++) {
		struct slot *s = &m->slots[i];

		if (s->pid <= 0)
			continue;
		running = true;
		master_watch(s->pid, s->board, m->conf->request_timeout,
		    &s->wd_killed, now);
	}
	for (int i = 0; i < m->nretiring; i++) {
		struct retiree *r = &m->retiring[i];

		master_watch(r->pid, r->board, r->request_timeout,
		    &r->wd_killed, now);
	}
	return running;
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
	struct scoreboard *sb;
	struct slot *slots;
	struct retiree *retiring;
	bool kept = false, to_root;
	int n;

	if ((fresh = conf_load(m->conf->path, err, sizeof(err))) == NULL) {
		log_err("reload refused, keeping the running config: %s", err);
		return;
	}
	if (conf_apply_overrides(fresh) != 0)
		goto oom;
	if (priv_prepare(fresh, err, sizeof(err)) != 0) {
		log_err("reload refused, keeping the running config: %s", err);
		conf_free(fresh);
		return;
	}
	/*
	 * The workers dropped root, and the new ones will not: no user, or
	 * user names root (priv_prepare sets user_drop for root too, which
	 * then only takes the group as the only one).
	 */
	to_root = m->conf->user_drop && m->conf->user_uid != 0 &&
	    (!fresh->user_drop || fresh->user_uid == 0);
	/* The mirror of worker.c's reload: a master stays a master. */
	if (fresh->workers == 0) {
		log_warn("%s: workers = 0, not applied: a master takes a "
		    "restart to become a single process; keeping %d workers",
		    fresh->path, m->nslots);
		fresh->workers = m->conf->workers;
	}
	n = workers_wanted(fresh);
	if ((slots = calloc((size_t)n, sizeof(*slots))) == NULL)
		goto oom;
	if ((sb = scoreboard_create(n)) == NULL) {
		free(slots);
		goto oom;
	}
	/* + 1: never a request for 0 bytes, whose NULL is no failure */
	retiring = realloc(m->retiring,
	    (size_t)(m->nretiring + m->nslots + 1) * sizeof(*retiring));
	if (retiring == NULL) {
		scoreboard_destroy(sb);
		free(slots);
		goto oom;
	}
	for (int i = 0; i < n; i++)
		slots[i].board = scoreboard_slot(sb, i);
	m->retiring = retiring;
	for (int i = 0; i < m->nslots; i++) {
		struct slot *s = &m->slots[i];

		if (s->pid <= 0)
			continue;
		m->retiring[m->nretiring++] = (struct retiree){
			.pid = s->pid,
			.wd_killed = s->wd_killed,
			.request_timeout = m->conf->request_timeout,
			.sb = m->sb,
			.board = s->board,
		};
		kept = true;
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
	/* The retirees now own the old scoreboard, if there are any. */
	if (!kept)
		scoreboard_destroy(m->sb);
	m->sb = sb;
	conf_free(m->conf);
	m->conf = fresh;
	log_setup(fresh->log_level, fresh->log_json);
	for (int i = 0; i < m->nslots; i++)
		master_spawn(m, &m->slots[i]);
	for (int i = 0; i < m->nretiring; i++)
		kill(m->retiring[i].pid, SIGTERM);
	metrics_inc(MF_RELOADS, 0, 0, 0);
	log_info("configuration reloaded from %s, %d workers", fresh->path,
	    n);
	(void)conf_advise_log(fresh);
	if (to_root)
		log_warn("%s: user %s: the new workers run as root, as the "
		    "master does", fresh->path, fresh->user == NULL ?
		    "removed" : "names root now");
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

	worker_stop_signals(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		fatal("sigprocmask: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);

	m.nslots = workers_wanted(conf);
	if ((m.slots = calloc((size_t)m.nslots, sizeof(*m.slots))) == NULL)
		fatal("out of memory");
	if ((m.sb = scoreboard_create(m.nslots)) == NULL)
		fatal("scoreboard: %s", strerror(errno));
	for (int i = 0; i < m.nslots; i++)
		m.slots[i].board = scoreboard_slot(m.sb, i);
	for (int i = 0; i < m.nslots; i++)
		master_spawn(&m, &m.slots[i]);
	log_info("master ready, %d workers", m.nslots);

	for (;;) {
		long long now = clock_mono_ms(), next = now + 60000;
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
		if (master_watchdog(&m, now) && now + 1000 < next)
			next = now + 1000;
		if (m.stopping) {
			if (now >= m.kill_at_ms) {
				log_warn("shutdown timeout: killing %d "
				    "workers", master_children(&m));
				m.killed_all = true;
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
				m.kill_at_ms = clock_mono_ms() +
				    (long long)m.conf->shutdown_timeout * 1000;
				master_signal_all(&m, SIGTERM);
				/*
				 * The master never accepts: once the last
				 * worker has drained the queue and let go,
				 * the socket must be closed, not kept open
				 * by us collecting connections to reset.
				 */
				listen_release();
			}
			break;
		case SIGHUP:
			if (!m.stopping)
				master_reload(&m);
			break;
		}
	}
	log_info("stopped");
	scoreboard_destroy(m.sb);
	free(m.slots);
	free(m.retiring);
	conf_free(m.conf);
	return 0;
}
