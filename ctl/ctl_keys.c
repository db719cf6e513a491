/*
 * ctl_keys.c - relaycfgctl keygen and sign: new Relay credentials, written
 * privately, and the signature header of a body.
 *
 * The secret key is never printed, except by keygen, whose whole point is
 * to write it.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl_relay.h"

static int
flush_stdout(const char *cmd)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_warn(cmd, "stdout: %s", strerror(errno));
		return 1;
	}
	return 0;
}

/*
 * write_private - write data to path with mode 0600.  Without force the
 * file must not exist (O_EXCL); with force it is replaced atomically via a
 * temporary file and rename.  On failure nothing is left behind.
 */
static int
write_private(const char *cmd, const char *path, const char *data,
    size_t len, bool force)
{
	char *tmp = NULL;
	const char *target = path;
	size_t off = 0;
	ssize_t w;
	int fd = -1, rc = -1;

	if (force) {
		if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
			tmp = NULL;
			ctl_warn(cmd, "out of memory");
			goto out;
		}
		fd = mkstemp(tmp);	/* 0600, O_EXCL */
		target = tmp;
	} else
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	if (fd < 0) {
		ctl_warn(cmd, "%s: %s%s", force ? tmp : path, strerror(errno),
		    errno == EEXIST ? " (use --force to replace it)" : "");
		free(tmp);
		return -1;
	}
	/* The umask may only have narrowed 0600; make it exact. */
	if (fchmod(fd, 0600) != 0)
		goto fail;
	while (off < len) {
		if ((w = write(fd, data + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (force && rename(tmp, path) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	ctl_warn(cmd, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(target);
out:
	free(tmp);
	return rc;
}

static const char keygen_usage[] =
    "usage: relaycfgctl keygen [--output FILE [--force]]\n"
    "\n"
    "Make new Relay credentials {\"secret_key\",\"public_key\",\"id\"} as\n"
    "\"relay credentials generate\" does, on stdout or into FILE (mode 0600,\n"
    "which must not exist unless --force).\n";

struct keygen_opts {
	const char	*output;	/* --output FILE */
	bool		 force;		/* --force */
};

/* keygen's own options (a ctl_own_opt). */
static int
keygen_opt(void *ctx, const char *cmd, int ch, const char *arg)
{
	struct keygen_opts *ko = ctx;

	(void)cmd;
	if (ch == OPT_OUTPUT)
		ko->output = arg;
	else if (ch == OPT_FORCE)
		ko->force = true;
	else
		return 1;
	return 0;
}

int
cmd_keygen(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "output",	required_argument, NULL, OPT_OUTPUT },
		{ "force",	no_argument,	   NULL, OPT_FORCE },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct keygen_opts ko = { NULL, false };
	char secret[RELAYAUTH_SECRET_KEY_LEN + 1];
	char pk[RELAYAUTH_PUBLIC_KEY_LEN + 1];
	char id[RELAYAUTH_RELAY_ID_LEN + 1];
	char text[256];
	int n, rc;

	(void)o;
	if ((rc = ctl_getopt(argc, argv, longopts, keygen_usage, keygen_opt,
	    &ko, NULL)) >= 0)
		return rc;
	if (optind != argc || (ko.force && ko.output == NULL)) {
		fputs(keygen_usage, stderr);
		return 2;
	}
	rc = 1;
	if (relayauth_keygen(secret, pk) != 0 ||
	    relayauth_relay_id_generate(id) != 0) {
		ctl_warn(argv[0], "libsodium cannot make keys");
		goto out;
	}
	/* serde_json::to_string_pretty(&Credentials), field order kept. */
	n = snprintf(text, sizeof(text), "{\n  \"secret_key\": \"%s\",\n"
	    "  \"public_key\": \"%s\",\n  \"id\": \"%s\"\n}\n", secret, pk, id);
	if (n < 0 || (size_t)n >= sizeof(text))
		goto out;
	if (ko.output != NULL) {
		if (write_private(argv[0], ko.output, text, (size_t)n,
		    ko.force) != 0)
			goto out;
		rc = 0;
	} else {
		fputs(text, stdout);
		rc = flush_stdout(argv[0]);
	}
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(text, sizeof(text));
	return rc;
}

/* ---- sign ---- */

static const char sign_usage[] =
    "usage: relaycfgctl sign --credentials FILE [--time UNIXSECS]\n"
    "\n"
    "Print the X-Sentry-Relay-Signature value for the body on stdin, as of\n"
    "--time (whole seconds) or now.\n";

int
cmd_sign(int argc, char **argv, const struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
		{ "time",	 required_argument, NULL, OPT_TIME },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct netopts no = { 0 };
	struct creds c;
	char *body = NULL, *sig = NULL;
	size_t len;
	int rc;

	/* --credentials and --time as the upstream commands take them. */
	if ((rc = ctl_getopt(argc, argv, longopts, sign_usage, NULL, NULL,
	    &no)) >= 0)
		goto out_nocreds;
	if (optind != argc || no.credentials == NULL) {
		fputs(sign_usage, stderr);
		rc = 2;
		goto out_nocreds;
	}
	rc = 1;
	if (ctl_creds_load(argv[0], no.credentials, &c) != 0)
		goto out_nocreds;
	if (ctl_read_file(argv[0], "-", MAX_BODY, &body, &len) != 0)
		goto out;
	if ((sig = ctl_sign_body(argv[0], &c, no.have_time, no.time, body,
	    len)) == NULL)
		goto out;
	if (o->json)
		printf("{\"signature\":\"%s\"}\n", sig);
	else
		printf("%s\n", sig);
	rc = flush_stdout(argv[0]);
out:
	sodium_memzero(&c, sizeof(c));
out_nocreds:
	free(body);
	free(sig);
	free(no.headers);
	return rc;
}
