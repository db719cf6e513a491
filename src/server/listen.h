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

/*
 * listen_release - drop this process's reference to the listening socket
 * (fd 0 becomes /dev/null, so the number is never reused by accident).
 * When the last process sharing it lets go, the kernel stops queueing
 * connections for it; each process that will accept no more should do so
 * at once, so no connection queues where nobody will answer it.
 */
void	listen_release(void);

#endif
