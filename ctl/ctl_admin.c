/*
 * ctl_admin.c - relaycfgctl's admin commands: their usage, and the
 * dispatch that loads the config file and opens the store for them.
 *
 * Every command reads the same config file as the server, talks to the
 * primary MariaDB, and goes through the store (ctl_objects.c,
 * ctl_options.c, ctl_invalidate.c; ctl_db.c for the schema).
 *
 * Output: "key: value" lines (or one line per row) by default; with
 * --json, one JSON object on one line (option get of one key: its bare
 * value).  Exit status: 0 done, 1 failed (reason on stderr), 2 usage.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "conf.h"
#include "ctl_admin.h"
#include "log.h"

/*
 * One synopsis per entry, led by its command word (admin_usage_of picks
 * a command's by it); a continuation line carries its own indent.
 */
static const char *const admin_synopses[] = {
	"db init | migrate | status\n",
	"org create SLUG [--name NAME]\n",
	"org list\n",
	"org show ID [--cached]\n",
	"org update ID [--slug SLUG] [--name NAME] [--status STATUS]\n",
	"org enable | disable | delete ID\n",
	"project create --org ID SLUG [--name NAME] [--platform P] [--template ID]\n",
	"project list [--org ID]\n",
	"project show ID [--cached]\n",
	"project update ID [--slug S] [--name N] [--status STATUS]\n"
	"                    [--platform P|none] [--template ID|none]\n",
	"project enable | disable | delete ID\n",
	"project template create --org ID NAME\n",
	"project template list [--org ID]\n",
	"project template delete ID\n",
	"key create --project ID [--label L] [--rate-limit COUNT/SECONDS]\n",
	"key list --project ID [--cached]\n",
	"key show PUBLIC_KEY [--cached]\n",
	"key update PUBLIC_KEY [--label L|none] [--status active|inactive]\n"
	"                        [--rate-limit COUNT/SECONDS|none]\n",
	"key enable | disable | delete PUBLIC_KEY\n",
	"option set project|org|template ID KEY JSON\n",
	"option unset project|org|template ID KEY\n",
	"option get project|org|template ID [KEY] [--cached]\n",
	"threshold set PROJECT_ID [--metric duration|lcp] [--threshold MS]\n",
	"threshold list PROJECT_ID [--cached]\n",
	"threshold remove PROJECT_ID\n",
	"threshold override set PROJECT_ID TRANSACTION --metric duration|lcp\n"
	"                         --threshold MS\n",
	"threshold override remove PROJECT_ID TRANSACTION\n",
	"relay create RELAY_ID PUBLIC_KEY [--internal]\n",
	"relay list\n",
	"relay show RELAY_ID [--cached]\n",
	"relay update RELAY_ID [--public-key KEY] [--internal|--external]\n",
	"relay delete RELAY_ID\n",
	"invalidate --org ID | --project ID | --key PUBLIC_KEY |\n"
	"             --relay RELAY_ID | --all\n",
	"settings\n",
};
#define N_SYNOPSES	(sizeof(admin_synopses) / sizeof(admin_synopses[0]))

void
ctl_admin_usage(FILE *fp)
{
	fputs("Admin commands (MariaDB and memcached from the config file; "
	    "each takes --help):\n", fp);
	for (size_t i = 0; i < N_SYNOPSES; i++)
		fprintf(fp, "  %s", admin_synopses[i]);
	fputc('\n', fp);
}

/*
 * admin_usage_of - "relaycfgctl CMD --help": the synopses of command cmd
 * (all its subcommands') on fp.
 */
static void
admin_usage_of(FILE *fp, const char *cmd)
{
	size_t len = strlen(cmd);

	fprintf(fp, "usage: relaycfgctl [-c FILE] [--json] %s ...\n", cmd);
	for (size_t i = 0; i < N_SYNOPSES; i++)
		if (strncmp(admin_synopses[i], cmd, len) == 0 &&
		    (admin_synopses[i][len] == ' ' ||
		    admin_synopses[i][len] == '\n'))
			fprintf(fp, "  %s", admin_synopses[i]);
	fputs("See relaycfgctl(1).\n", fp);
}

/*
 * ctl_admin_main - run the admin command argv[0] (and its subcommand
 * argv[1]); returns its exit status.
 */
int
ctl_admin_main(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct {
		const char	*name;
		int		(*fn)(struct admin *, int, char **);
		bool		 needs_sub;
	} cmds[] = {
		{ "db", cmd_db, true },
		{ "org", cmd_org, true },
		{ "project", cmd_project, true },
		{ "key", cmd_key, true },
		{ "option", cmd_option, true },
		{ "threshold", cmd_threshold, true },
		{ "relay", cmd_relay, true },
		{ "invalidate", cmd_invalidate, false },
		{ "settings", cmd_settings, false },
	};
	struct admin a;
	char err[512], cmd[64];
	size_t i;
	int rc = 1;

	memset(&a, 0, sizeof(a));
	a.o = o;
	a.json = o->json;
	a.cmd = argv[0];
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, argv[0]) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		return admin_usage_error(&a, "unknown command");
	/* Before the config file: help needs no database, nor a valid
	 * rest of the line. */
	if (admin_wants_help(argc, argv)) {
		admin_usage_of(stdout, argv[0]);
		return 0;
	}
	if (cmds[i].needs_sub && argc < 2)
		return admin_usage_error(&a, "missing subcommand");
	if (cmds[i].needs_sub) {
		snprintf(cmd, sizeof(cmd), "%s %s", argv[0], argv[1]);
		a.cmd = cmd;
	}
	/* The store logs for servers; here the command says what failed. */
	log_setup(LOG_LEVEL_ERROR, false);
	if ((a.conf = conf_load(o->config_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "relaycfgctl: %s\n", err);
		return 1;
	}
	if (app_global_init() != 0) {
		admin_fail(&a, "library initialisation failed");
		goto out;
	}
	if ((a.st = store_open(a.conf, err, sizeof(err))) == NULL) {
		admin_fail(&a, "%s", err);
		goto fini;
	}
	if (cmds[i].needs_sub)
		rc = cmds[i].fn(&a, argc - 1, argv + 1);
	else
		rc = cmds[i].fn(&a, argc, argv);
	store_close(a.st);
fini:
	app_global_fini();
out:
	conf_free(a.conf);
	return rc;
}
