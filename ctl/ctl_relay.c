/*
 * ctl_relay.c - placeholder until the relay commands land.
 */
#include "config.h"

#include <stdio.h>

#include "ctl.h"

int
ctl_relay_main(int argc, char **argv, const struct ctl_opts *o)
{
	(void)argc;
	(void)o;
	fprintf(stderr, "relaycfgctl: %s: not built yet\n", argv[0]);
	return 1;
}

void
ctl_relay_usage(FILE *fp)
{
	(void)fp;
}
