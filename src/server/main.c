/*
 * main.c - relaycfg: options, config, socket, then master or single mode.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "conf.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "priv.h"
#include "worker.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/relaycfg.conf"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: relaycfg [-c FILE] [--check-config] [--listen SPEC]\n"
	    "                [--socket-mode MODE] [--socket-owner USER[:GROUP]]\n"
	    "                [--user USER[:GROUP]] [--workers N]\n"
	    "                [--max-requests N]\n"
	    "\n"
	    "  -c, --config FILE      configuration file (default %s)\n"
	    "      --check-config     validate the configuration and exit\n"
	    "      --listen SPEC      unix:/path, 127.0.0.1:PORT or [::1]:PORT;\n"
	    "                         default: inherited fd 0 or LISTEN_FDS\n"
	    "      --socket-mode MODE octal mode of a unix socket (default 0660)\n"
	    "      --socket-owner U:G owner of a unix socket\n"
	    "      --user U[:G]       started as root, serve requests as U\n"
	    "      --workers N        worker processes; 0 serves from this\n"
	    "                         process (mod_fcgid); default: two per CPU\n"
	    "      --max-requests N   recycle a worker after N requests\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             print this help and exit\n",
	    DEFAULT_CONFIG);
}

static long
number_arg(const char *opt, const char *v, int base, long max)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, base);
	if (errno != 0 || *v == '\0' || *end != '\0' || x < 0 || x > max) {
		fprintf(stderr, "%srelaycfg: %s: invalid value \"%s\"\n",
		    log_prefix(LOG_LEVEL_ERROR), opt, v);
		exit(2);
	}
	return x;
}

/* warn_check - a conf_advise warning for --check-config (arg: the path). */
static void
warn_check(const char *msg, void *arg)
{
	fprintf(stderr, "%srelaycfg: %s: warning: %s\n",
	    log_prefix(LOG_LEVEL_WARN), (const char *)arg, msg);
}

/*
 * startup_check - everything start-up refuses in conf before it binds a
 * socket: the user (priv_prepare: known, and one this process can become)
 * and the socket settings (listen_check).  --check-config runs exactly
 * this, so a file it passes does not fail there.  Returns 0, or -1 with
 * err.
 */
static int
startup_check(struct conf *conf, char *err, size_t errlen)
{
	if (priv_prepare(conf, err, errlen) != 0)
		return -1;
	return listen_check(conf, err, errlen);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",		required_argument, NULL, 'c' },
		{ "check-config",	no_argument,	   NULL, 'C' },
		{ "listen",		required_argument, NULL, 'l' },
		{ "socket-mode",	required_argument, NULL, 'm' },
		{ "socket-owner",	required_argument, NULL, 'o' },
		{ "user",		required_argument, NULL, 'u' },
		{ "workers",		required_argument, NULL, 'w' },
		{ "max-requests",	required_argument, NULL, 'r' },
		{ "version",		no_argument,	   NULL, 'V' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct conf_overrides ov = { NULL, NULL, NULL, -1, -1, -1 };
	const char *path = DEFAULT_CONFIG;
	bool check_only = false;
	sigset_t held;
	struct conf *conf;
	char err[512];
	int ch;

	while ((ch = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'C': check_only = true; break;
		case 'l': ov.listen = optarg; break;
		case 'm': ov.socket_mode = number_arg("--socket-mode", optarg, 8, 0777); break;
		case 'o': ov.socket_owner = optarg; break;
		case 'u': ov.user = optarg; break;
		case 'w': ov.workers = number_arg("--workers", optarg, 10, 1024); break;
		case 'r': ov.max_requests = number_arg("--max-requests", optarg, 10, 2147483647L); break;
		case 'V': printf("relaycfg %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		/* relaycfg /etc/relaycfg.conf: say what was not understood */
		fprintf(stderr, "%srelaycfg: unexpected argument \"%s\"%s\n",
		    log_prefix(LOG_LEVEL_ERROR), argv[optind],
		    argv[optind][0] == '-' ? "" : " (a config file is given with -c)");
		usage(stderr);
		return 2;
	}

	conf_set_overrides(&ov);
	if ((conf = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%srelaycfg: %s\n", log_prefix(LOG_LEVEL_ERROR),
		    err);
		return 1;
	}
	if (conf_apply_overrides(conf) != 0)
		fatal("out of memory");
	/* As the service runs it (the same user, environment, options). */
	if (startup_check(conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "%srelaycfg: %s\n", log_prefix(LOG_LEVEL_ERROR),
		    err);
		conf_free(conf);
		return 1;
	}
	if (check_only) {
		(void)conf_advise(conf, warn_check, (void *)path);
		printf("%s: OK\n", path);
		conf_free(conf);
		return 0;
	}
	log_setup(conf->log_level, conf->log_json);
	(void)conf_advise_log(conf);

	/*
	 * Held from here on: FCGX_Init installs libfcgi's own SIGTERM and
	 * SIGUSR1 handlers, which only make every later accept fail.  A stop
	 * or reload sent before the master's sigtimedwait() or a worker's
	 * handlers stays pending for them instead (master.c, worker.c).
	 */
	worker_stop_signals(&held);
	if (sigprocmask(SIG_BLOCK, &held, NULL) != 0)
		fatal("sigprocmask: %s", strerror(errno));

	if (listen_acquire(conf, err, sizeof(err)) != 0)
		fatal("%s", err);
	/*
	 * One process serves everything: it gives root up as soon as the
	 * socket is set up, so a reload re-reads the config as that user.
	 */
	if (conf->workers == 0 && priv_drop(conf, err, sizeof(err)) != 0)
		fatal("%s", err);
	if (FCGX_Init() != 0)
		fatal("FCGX_Init failed");
	if (app_global_init() != 0)
		fatal("library initialisation failed");
	/*
	 * Before any fork: every worker inherits the one region.  Without it
	 * the service runs as before, only /metrics has nothing to show.
	 */
	if (metrics_create() != 0)
		log_warn("metrics off: mmap: %s", strerror(errno));

	if (conf->workers == 0) {
		log_info("serving from a single process");
		/* a worker slot, so that its per-process gauges are shown */
		metrics_attach(0, (long)getpid());
		int status = worker_run(&conf, true, 0, NULL);
		listen_remove();
		conf_free(conf);
		app_global_fini();
		return status;
	}
	int status = master_run(conf);
	listen_remove();
	app_global_fini();
	return status;
}
