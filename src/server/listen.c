/*
 * listen.c - get the FastCGI listening socket onto fd 0.
 *
 * Sources, in order: an explicit --listen (unix:/path or host:port), systemd
 * socket activation (LISTEN_FDS/LISTEN_PID, fd 3), or an inherited fd 0
 * (spawn-fcgi, mod_fcgid).  libfcgi expects the socket on fd 0.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "listen.h"
#include "log.h"

static int
lerr(char *err, size_t errlen, const char *what, const char *detail)
{
	snprintf(err, errlen, "%s: %s", what, detail);
	return -1;
}

/* The unix socket --listen made, so that a stop removes it (listen_remove). */
static struct {
	bool	made;
	char	path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t	dev;
	ino_t	ino;
} made_socket;

static bool
is_listening_socket(int fd)
{
	int val = 0;
	socklen_t len = sizeof(val);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) != 0)
		return false;
	return val != 0;
}

/*
 * owner_lookup - the ids of c->socket_owner ("user", "user:group" or
 * ":group"; -1 for what it leaves alone, a user alone also sets the
 * group to the user's primary one).  Returns 0, or -1 with err naming
 * --socket-owner or FILE:LINE.
 */
static int
owner_lookup(const struct conf *c, uid_t *uid, gid_t *gid, char *err,
    size_t errlen)
{
	char origin[512], buf[256], *colon;
	const char *why = NULL, *what = c->socket_owner;
	struct passwd *pw;
	struct group *gr;

	(void)conf_origin(c, CONF_SOCKET_OWNER, origin, sizeof(origin));
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (strlen(c->socket_owner) >= sizeof(buf)) {
		why = "too long";
		goto fail;
	}
	strcpy(buf, c->socket_owner);
	if ((colon = strchr(buf, ':')) != NULL)
		*colon++ = '\0';
	if (buf[0] == '\0' && (colon == NULL || *colon == '\0')) {
		snprintf(err, errlen, "%s: \"%s\": expected USER, USER:GROUP "
		    "or :GROUP", origin, c->socket_owner);
		return -1;
	}
	if (buf[0] != '\0') {
		errno = 0;
		if ((pw = getpwnam(buf)) == NULL) {
			what = buf;
			why = errno != 0 ? strerror(errno) : "unknown user";
			goto fail;
		}
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
	if (colon != NULL && *colon != '\0') {
		errno = 0;
		if ((gr = getgrnam(colon)) == NULL) {
			what = colon;
			why = errno != 0 ? strerror(errno) : "unknown group";
			goto fail;
		}
		*gid = gr->gr_gid;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s: %s", origin, what, why);
	return -1;
}

/* in_group - is gid this process's effective or a supplementary group?
 * (false when the groups cannot be read) */
static bool
in_group(gid_t gid)
{
	gid_t *groups = NULL;
	bool found = gid == getegid();
	int n;

	if (found || (n = getgroups(0, NULL)) <= 0 ||
	    (groups = calloc((size_t)n, sizeof(*groups))) == NULL)
		goto done;
	n = getgroups(n, groups);
	for (int i = 0; i < n && !found; i++)
		found = groups[i] == gid;
done:
	free(groups);
	return found;
}

#define OWNER_NEEDS_ROOT	"only root (CAP_CHOWN) may give the socket " \
	"to another user, or to a group it is not in: start as root, or " \
	"leave socket_owner unset"

/*
 * listen_unix - bind and listen on the unix socket at path, with c's mode
 * and owner.  Returns the fd, or -1 with err; a socket file this call
 * made is removed again on failure.
 */
static int
listen_unix(const struct conf *c, const char *path, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old_mask;
	uid_t uid;
	gid_t gid;
	bool bound = false;
	char origin[512];
	int fd = -1, rc, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return lerr(err, errlen, path, "socket path too long");
	strcpy(sun.sun_path, path);
	if (c->socket_owner != NULL &&
	    owner_lookup(c, &uid, &gid, err, errlen) != 0)
		return -1;

	/*
	 * Replace a stale socket left by a crash, but never a live one (that
	 * would steal another instance's traffic) or a non-socket file.
	 */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return lerr(err, errlen, path, "exists and is not a socket");
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return lerr(err, errlen, "socket", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			return lerr(err, errlen, path,
			    "already in use by a running server");
		}
		close(fd);
		if (unlink(path) != 0)
			return lerr(err, errlen, path, strerror(errno));
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return lerr(err, errlen, "socket", strerror(errno));
	/*
	 * The mode comes from the umask at bind, not from a chmod by path:
	 * the directory may belong to the unprivileged user, who could swap
	 * the name for a symlink between bind and chmod and have root
	 * change the mode of any file.  For the same reason the owner is
	 * set without following a symlink: one planted there gets the
	 * owner, never its target.
	 */
	old_mask = umask(~c->socket_mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	(void)umask(old_mask);
	if (rc != 0) {
		lerr(err, errlen, path, strerror(saved));
		goto fail;
	}
	bound = true;
	if (c->socket_owner != NULL &&
	    fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
		saved = errno;
		(void)conf_origin(c, CONF_SOCKET_OWNER, origin, sizeof(origin));
		snprintf(err, errlen, "%s: %s: chown of %s: %s%s", origin,
		    c->socket_owner, path, strerror(saved), saved == EPERM ?
		    "; " OWNER_NEEDS_ROOT : "");
		goto fail;
	}
	if (listen(fd, 1024) != 0) {
		lerr(err, errlen, path, strerror(errno));
		goto fail;
	}
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		made_socket.made = true;
		strcpy(made_socket.path, path);
		made_socket.dev = st.st_dev;
		made_socket.ino = st.st_ino;
	}
	return fd;
fail:
	close(fd);
	/* our socket, not a path left to the next start to stumble on */
	if (bound)
		(void)unlink(path);
	return -1;
}

/*
 * tcp_split - "HOST:PORT" or "[V6]:PORT" into buf (at least 256 bytes),
 * *host and *port pointing into it.  Returns 0, or -1 with err.
 */
static int
tcp_split(const char *spec, char *buf, size_t buflen, char **host,
    char **port, char *err, size_t errlen)
{
	char *colon, *h;
	size_t hl;

	if (strlen(spec) >= buflen)
		return lerr(err, errlen, spec, "address too long");
	strcpy(buf, spec);
	if ((colon = strrchr(buf, ':')) == NULL || colon == buf)
		return lerr(err, errlen, *spec != '\0' ? spec : "\"\"",
		    "expected unix:/path, HOST:PORT or [V6ADDR]:PORT");
	*colon++ = '\0';
	h = buf;
	/* "[::1]:9000" */
	if (h[0] == '[') {
		hl = strlen(h);
		if (hl < 2 || h[hl - 1] != ']')
			return lerr(err, errlen, spec, "bad IPv6 address");
		h[hl - 1] = '\0';
		h++;
	}
	*host = h;
	*port = colon;
	return 0;
}

/*
 * tcp_resolve - the addresses spec may be bound to, as listen_tcp asks
 * for them.  Returns 0 with *res (freeaddrinfo), or -1 with err.
 */
static int
tcp_resolve(const char *spec, struct addrinfo **res, char *err,
    size_t errlen)
{
	char buf[256], *host, *port;
	struct addrinfo hints;
	int rc;

	if (tcp_split(spec, buf, sizeof(buf), &host, &port, err, errlen) != 0)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, res)) != 0)
		return lerr(err, errlen, spec, gai_strerror(rc));
	return 0;
}

/* listen_tcp - bind and listen on spec's first address that takes it:
 * the fd, or -1 with err. */
static int
listen_tcp(const char *spec, char *err, size_t errlen)
{
	struct addrinfo *res = NULL, *ai;
	int fd = -1, one = 1;

	if (tcp_resolve(spec, &res, err, errlen) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1024) == 0)
			break;
		lerr(err, errlen, spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

#define V6_UNGUARDED	"libfcgi checks it for IPv4 peers only, and the " \
	"listening socket is IPv6: listen on an IPv4 address, or firewall " \
	"the port and unset it"

/* Is FCGI_WEB_SERVER_ADDRS set (libfcgi reads it at FCGX_Init)? */
static bool
peers_guard_wanted(void)
{
	const char *addrs = getenv("FCGI_WEB_SERVER_ADDRS");

	return addrs != NULL && *addrs != '\0';
}

/*
 * peers_guard - refuse what FCGI_WEB_SERVER_ADDRS cannot guard.  libfcgi
 * checks the peer of each connection against it for IPv4 sockets only
 * (os_unix.c: any other family is let in), so on an IPv6 socket, dual
 * stack included, anyone who reaches the port would still choose
 * REMOTE_ADDR.  A TCP socket inherited without the variable gets the
 * warning conf_advise gives --listen.  Returns 0, or -1 with err.
 */
static int
peers_guard(bool inherited, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	bool listed = peers_guard_wanted();

	if (getsockname(0, (struct sockaddr *)&ss, &len) != 0)
		return lerr(err, errlen, "getsockname", strerror(errno));
	if (ss.ss_family == AF_INET6 && listed)
		return lerr(err, errlen, "FCGI_WEB_SERVER_ADDRS",
		    V6_UNGUARDED);
	if (inherited && !listed &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
		log_warn("the inherited listening socket is TCP and "
		    "FCGI_WEB_SERVER_ADDRS is not set: any host that reaches "
		    "the port can send FastCGI requests with a REMOTE_ADDR of "
		    "its choosing; set it to the web servers' addresses, or "
		    "firewall the port");
	return 0;
}

/* listen_check - see listen.h. */
int
listen_check(const struct conf *c, char *err, size_t errlen)
{
	char origin[512], why[512];
	struct addrinfo *res = NULL;
	const char *path;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int rc = -1;

	/* a value, even one this socket ignores, is a user that exists */
	if (c->socket_owner != NULL &&
	    owner_lookup(c, &uid, &gid, err, errlen) != 0)
		return -1;
	if (c->listen == NULL)
		return 0;
	(void)conf_origin(c, CONF_LISTEN, origin, sizeof(origin));
	if (strncmp(c->listen, "unix:", 5) == 0) {
		path = c->listen + 5;
		if (*path == '\0')
			snprintf(err, errlen, "%s: %s: expected a path after "
			    "unix:", origin, c->listen);
		else if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			snprintf(err, errlen, "%s: %s: socket path too long",
			    origin, path);
		else if (c->socket_owner != NULL && geteuid() != 0 &&
		    ((uid != (uid_t)-1 && uid != geteuid()) ||
		    (gid != (gid_t)-1 && !in_group(gid)))) {
			(void)conf_origin(c, CONF_SOCKET_OWNER, origin,
			    sizeof(origin));
			snprintf(err, errlen, "%s: %s: " OWNER_NEEDS_ROOT,
			    origin, c->socket_owner);
		} else
			rc = 0;
		return rc;
	}
	if (tcp_resolve(c->listen, &res, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", origin, why);
		return -1;
	}
	/* listen_tcp binds the first address that takes it */
	if (res->ai_family == AF_INET6 && peers_guard_wanted())
		snprintf(err, errlen, "%s: %s: FCGI_WEB_SERVER_ADDRS: "
		    V6_UNGUARDED, origin, c->listen);
	else
		rc = 0;
	freeaddrinfo(res);
	return rc;
}

/* listen_acquire - see listen.h. */
int
listen_acquire(const struct conf *c, char *err, size_t errlen)
{
	const char *spec = c->listen, *fds, *pid;
	int fd;

	if (spec != NULL) {
		if (strncmp(spec, "unix:", 5) == 0)
			fd = listen_unix(c, spec + 5, err, errlen);
		else
			fd = listen_tcp(spec, err, errlen);
		if (fd < 0)
			return -1;
	} else if ((fds = getenv("LISTEN_FDS")) != NULL &&
	    (pid = getenv("LISTEN_PID")) != NULL &&
	    strtol(pid, NULL, 10) == (long)getpid()) {
		if (strcmp(fds, "1") != 0)
			return lerr(err, errlen, "LISTEN_FDS",
			    "expected exactly one socket");
		fd = 3;
		if (!is_listening_socket(fd))
			return lerr(err, errlen, "LISTEN_FDS",
			    "fd 3 is not a listening socket");
	} else if (is_listening_socket(0)) {
		fd = 0;
	} else
		return lerr(err, errlen, "no listening socket",
		    "use --listen, or start under spawn-fcgi, mod_fcgid or "
		    "systemd socket activation");

	/* Workers must not see these; socket activation is ours alone. */
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");

	if (fd != 0) {
		if (dup2(fd, 0) < 0)
			return lerr(err, errlen, "dup2", strerror(errno));
		close(fd);
	}
	if (peers_guard(spec == NULL, err, errlen) != 0)
		return -1;
	/*
	 * Non-blocking, so a worker woken by poll() whose connection another
	 * worker took gets -EAGAIN from FCGX_Accept_r instead of blocking in
	 * accept() where a stop signal could be lost (web-and-libs.md 1.3).
	 */
	int fl = fcntl(0, F_GETFL);
	if (fl < 0 || fcntl(0, F_SETFL, fl | O_NONBLOCK) < 0)
		return lerr(err, errlen, "fcntl", strerror(errno));
	return 0;
}

void
listen_release(void)
{
	int fd;

	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		close(0);
		return;
	}
	if (fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
}

void
listen_remove(void)
{
	struct stat st;

	/* Only our own: a successor's socket at the same path is its. */
	if (made_socket.made && lstat(made_socket.path, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == made_socket.dev &&
	    st.st_ino == made_socket.ino)
		(void)unlink(made_socket.path);
	made_socket.made = false;
}
