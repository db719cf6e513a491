/*
 * master.h - prefork supervision.
 */
#ifndef RELAYCFG_MASTER_H
#define RELAYCFG_MASTER_H

#include "conf.h"

/*
 * master_run - fork conf->workers workers on the socket at fd 0 and
 * supervise them until TERM/INT; HUP re-reads the config and replaces the
 * workers.  Takes ownership of conf.  Returns the exit status.
 */
int	master_run(struct conf *conf);

#endif
