/*
 * listen.h - put the FastCGI listening socket on fd 0.
 */
#ifndef RELAYCFG_LISTEN_H
#define RELAYCFG_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * listen_acquire - make fd 0 the listening socket, non-blocking.
 *
 * spec is "unix:/path", "HOST:PORT", "[V6]:PORT", or NULL to use systemd's
 * LISTEN_FDS or an inherited fd 0.  mode and owner apply to unix sockets.
 * Returns 0, or -1 with a reason in err.
 */
int	listen_acquire(const char *spec, unsigned mode, const char *owner,
	    char *err, size_t errlen);

#endif
