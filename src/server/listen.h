/*
 * listen.h - put the FastCGI listening socket on fd 0.
 */
#ifndef RELAYCFG_LISTEN_H
#define RELAYCFG_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

struct conf;

/*
 * listen_check - what listen_acquire would refuse in c's socket settings,
 * found without binding anything (--check-config runs it, and start-up
 * before listen_acquire): a listen that is no unix:/path, HOST:PORT or
 * [V6]:PORT or does not resolve; one whose first address is IPv6 while
 * FCGI_WEB_SERVER_ADDRS is set; a socket_owner that is not USER, USER:GROUP
 * or :GROUP or names an unknown one (whatever the socket); on a unix
 * socket, a socket_owner that only root could give it when not root.
 * Returns 0, or -1 with err naming the option or FILE:LINE (conf_origin).
 */
int	listen_check(const struct conf *c, char *err, size_t errlen);

/*
 * listen_acquire - make fd 0 the listening socket, non-blocking.
 *
 * c->listen is "unix:/path", "HOST:PORT", "[V6]:PORT", or NULL to use
 * systemd's LISTEN_FDS or an inherited fd 0; c->socket_mode and
 * c->socket_owner apply to a unix socket, which is removed again when
 * setting them up fails.  Call listen_check first.  Returns 0, or -1 with
 * a reason in err.
 */
int	listen_acquire(const struct conf *c, char *err, size_t errlen);

/*
 * listen_release - drop this process's reference to the listening socket
 * (fd 0 becomes /dev/null, so the number is never reused by accident).
 * When the last process sharing it lets go, the kernel stops queueing
 * connections for it; each process that will accept no more should do so
 * at once, so no connection queues where nobody will answer it.
 */
void	listen_release(void);

/*
 * listen_remove - after a graceful stop, remove the unix socket that
 * listen_acquire made for --listen unix:PATH, if PATH is still that socket
 * (not one a later instance made).  Inherited and systemd sockets, and
 * TCP, are left alone.  Errors are ignored: a socket left behind is
 * replaced at the next start.
 */
void	listen_remove(void);

#endif
