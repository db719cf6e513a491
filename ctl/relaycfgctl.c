/*
 * relaycfgctl.c - admin and relay-side command line for relaycfg.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "valid.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static const char *const admin_commands[] = {
	"db", "org", "project", "key", "option", "relay", "invalidate", "settings",
	"threshold", NULL
};
static const char *const relay_commands[] = {
	"keygen", "sign", "register", "fetch", "publickeys", NULL
};

/*
 * ctl_put_escaped - see ctl.h.  A byte below 0x20 (but those in keep),
 * DEL, a C1 control (U+0080 to U+009F, which a terminal may take for
 * ESC's two-byte forms: U+009B is CSI) and a byte that starts no
 * well-formed UTF-8 sequence within the n are written as \xNN; a tab or
 * a newline would break a one-row-per-line output, ESC would reach the
 * terminal as a command.
 */
void
ctl_put_escaped(FILE *fp, const char *s, size_t n, const char *keep)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len;
	bool c1;

	while (i < n) {
		len = p[i] == '\0' ? 1 : valid_utf8_len(p + i);
		if (len > n - i)
			len = 0;	/* cut short at n: not UTF-8 */
		c1 = len == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0;
		if (c1 || len == 0 || p[i] == 0x7f || (p[i] < 0x20 &&
		    (p[i] == '\0' || strchr(keep, p[i]) == NULL))) {
			len = c1 ? 2 : 1;
			for (size_t k = 0; k < len; k++)
				fprintf(fp, "\\x%02x", p[i + k]);
		} else
			fwrite(p + i, 1, len, fp);
		i += len;
	}
}

/* ctl_put_safe - see ctl.h. */
void
ctl_put_safe(FILE *fp, const char *s)
{
	ctl_put_escaped(fp, s, strlen(s), "");
}

/* ctl_put_json - see ctl.h. */
void
ctl_put_json(FILE *fp, const char *s)
{
	if (isatty(fileno(fp)) == 1)
		ctl_put_escaped(fp, s, strlen(s), "\n");
	else
		fputs(s, fp);
}

static bool
in_list(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: relaycfgctl [-c FILE] [--json] COMMAND [ARGS...]\n"
	    "       relaycfgctl -V | --version\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default %s/relaycfg.conf)\n"
	    "      --json          machine-readable output\n"
	    "  -V, --version       print the version\n"
	    "\n", SYSCONFDIR);
	ctl_admin_usage(fp);
	ctl_relay_usage(fp);
	fprintf(fp, "\n"
	    "server view (takes --help):\n"
	    "  status [--url URL] [--header 'N: V']... [--interval SECONDS]\n"
	    "         [--json] [--watch [SECONDS]] [--previous FILE]\n"
	    "\n"
	    "Sentry mirror (Sentry's PostgreSQL into relaycfg's MariaDB; takes "
	    "--help):\n"
	    "  sentry-sync [--pg CONNINFO] [--dry-run] [--force] "
	    "[--watch SECONDS]\n"
	    "              [--json]\n");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument, NULL, 'c' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "version",	no_argument,	   NULL, 'V' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl_opts o = { SYSCONFDIR "/relaycfg.conf", false };
	int ch;

	/* '+': stop at the command; its own options follow it. */
	while ((ch = getopt_long(argc, argv, "+c:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.config_path = optarg; break;
		case 'j': o.json = true; break;
		case 'V': printf("relaycfgctl %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	/* getopt_long in the commands starts afresh. */
	optind = 0;
	if (in_list(admin_commands, argv[0]))
		return ctl_admin_main(argc, argv, &o);
	if (in_list(relay_commands, argv[0]))
		return ctl_relay_main(argc, argv, &o);
	if (strcmp(argv[0], "status") == 0)
		return ctl_status_main(argc, argv, &o);
	if (strcmp(argv[0], "sentry-sync") == 0)
		return ctl_sentry_main(argc, argv, &o);
	fprintf(stderr, "relaycfgctl: unknown command \"%s\"\n", argv[0]);
	usage(stderr);
	return 2;
}
