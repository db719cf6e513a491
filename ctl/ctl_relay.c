/*
 * ctl_relay.c - the relay side of relaycfgctl: its commands (make
 * credentials, sign bodies, talk to an upstream exactly as Sentry Relay
 * does), their dispatch and usage, and the options they share.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ctl_relay.h"

void
ctl_warn(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "relaycfgctl: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * url_has_userinfo - does url name a user or a password ("user:pw@host"),
 * read as libcurl reads --upstream (a URL without a scheme is guessed)?
 * One it cannot parse (a port past 65535, a space, a scheme it lacks)
 * has one when an '@' comes before its path, query or fragment: the
 * request would fail, and its error line repeat the URL.
 */
static bool
url_has_userinfo(const char *url)
{
	CURLU *h = curl_url();
	const char *authority, *sep;
	char *part = NULL;
	bool has = false;

	if (h != NULL && curl_url_set(h, CURLUPART_URL, url,
	    CURLU_GUESS_SCHEME) == CURLUE_OK) {
		if (curl_url_get(h, CURLUPART_USER, &part, 0) == CURLUE_OK)
			has = true;
		curl_free(part);
		part = NULL;
		if (curl_url_get(h, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK)
			has = true;
		curl_free(part);
	} else {
		sep = strstr(url, "://");
		authority = sep != NULL && sep < url + strcspn(url, "/?#") ?
		    sep + 3 : url;
		has = memchr(authority, '@', strcspn(authority, "/?#")) !=
		    NULL;
	}
	curl_url_cleanup(h);
	return has;
}

/* Common option handling; 0 handled, 1 not ours, 2 usage error. */
static int
netopt(const char *cmd, int ch, const char *arg, struct netopts *no)
{
	switch (ch) {
	case OPT_UPSTREAM:
		/* Relays authenticate by signature; a password in argv is
		 * every user's, and libcurl repeats the URL in its errors. */
		if (url_has_userinfo(arg)) {
			ctl_warn(cmd, "--upstream: no user or password in the "
			    "URL (every user can read argv; the upstream "
			    "knows a relay by its signature)");
			return 2;
		}
		no->upstream = arg;
		return 0;
	case OPT_CREDENTIALS:
		no->credentials = arg;
		return 0;
	case OPT_STATUS:
		no->status = true;
		return 0;
	case OPT_TIME:
		if (ctl_parse_time(cmd, arg, &no->time) != 0)
			return 2;
		no->have_time = true;
		return 0;
	case OPT_HEADER:
		if (strchr(arg, ':') == NULL && strchr(arg, ';') == NULL) {
			ctl_warn(cmd, "--header: expected \"Name: value\"");
			return 2;
		}
		return ctl_push(cmd, &no->headers, &no->n_headers, arg) ? 0 :
		    2;
	}
	return 1;
}

bool
ctl_push(const char *cmd, const char ***list, size_t *n, const char *s)
{
	const char **nl;

	if ((nl = realloc(*list, (*n + 1) * sizeof(*nl))) == NULL) {
		ctl_warn(cmd, "out of memory");
		return false;
	}
	nl[(*n)++] = s;
	*list = nl;
	return true;
}

int
ctl_getopt(int argc, char **argv, const struct option *longopts,
    const char *usage, ctl_own_opt *own, void *ctx, struct netopts *no)
{
	int ch, x;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		x = own != NULL ? own(ctx, argv[0], ch, optarg) : 1;
		if (x == 1 && no != NULL)
			x = netopt(argv[0], ch, optarg, no);
		if (x == 1)
			fputs(usage, stderr);
		if (x != 0)
			return 2;
	}
	return -1;
}

static const struct relay_cmd {
	const char	*name;
	int		(*fn)(int, char **, const struct ctl_opts *);
	bool		 net;		/* needs libcurl */
	const char	*synopsis;
} relay_cmds[] = {
	{ "keygen", cmd_keygen, false,
	    "keygen [--output FILE [--force]]" },
	{ "sign", cmd_sign, false,
	    "sign --credentials FILE [--time UNIXSECS] < BODY" },
	{ "register", cmd_register, true,
	    "register --upstream URL --credentials FILE [--version V]" },
	{ "fetch", cmd_fetch, true,
	    "fetch --upstream URL --credentials FILE [--version N] [--global]\n"
	    "        [--no-cache] [--full-config] [--revision KEY=REV]...\n"
	    "        [--body-file F] [--pretty | --compact | --summary] "
	    "[KEY...]" },
	{ "publickeys", cmd_publickeys, true,
	    "publickeys --upstream URL --credentials FILE RELAY_ID..." },
	{ NULL, NULL, false, NULL }
};

/*
 * ctl_relay_main - run the relay-side command argv[0]; returns its exit
 * status.  libsodium always, libcurl for the upstream commands.
 */
int
ctl_relay_main(int argc, char **argv, const struct ctl_opts *o)
{
	const struct relay_cmd *rc;
	int status;

	for (rc = relay_cmds; rc->name != NULL; rc++)
		if (strcmp(rc->name, argv[0]) == 0)
			break;
	if (rc->name == NULL) {
		fprintf(stderr, "relaycfgctl: unknown command \"%s\"\n",
		    argv[0]);
		return 2;
	}
	if (relayauth_init() != 0) {
		ctl_warn(argv[0], "libsodium cannot start");
		return 1;
	}
	if (rc->net && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ctl_warn(argv[0], "libcurl cannot start");
		return 1;
	}
	status = rc->fn(argc, argv, o);
	if (rc->net)
		curl_global_cleanup();
	return status;
}

/* ctl_relay_usage - each command's synopsis, then the options the
 * upstream commands share. */
void
ctl_relay_usage(FILE *fp)
{
	fprintf(fp, "relay commands (each takes --help):\n");
	for (const struct relay_cmd *rc = relay_cmds; rc->name != NULL; rc++)
		fprintf(fp, "  %s\n", rc->synopsis);
	fprintf(fp, "register, fetch and publickeys also take:\n"
	    "  [--header 'N: V']... [--time UNIXSECS] [--status]\n");
}
