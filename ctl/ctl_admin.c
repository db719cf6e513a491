/*
 * ctl_admin.c - placeholder until the admin commands land.
 */
#include "config.h"

#include <stdio.h>

#include "ctl.h"

int
ctl_admin_main(int argc, char **argv, const struct ctl_opts *o)
{
	(void)argc;
	(void)o;
	fprintf(stderr, "relaycfgctl: %s: not built yet\n", argv[0]);
	return 1;
}

void
ctl_admin_usage(FILE *fp)
{
	(void)fp;
}
