/*
 * ctl_args.c - the admin commands' arguments: the options each subcommand
 * allows, its positional arguments, and the forms of ids, public keys,
 * relay ids and keys, statuses and rate limits.  A bad one is a usage error (exit 2).
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_admin.h"
#include "relayauth.h"

/* Where each option lands: a string of struct args, or a flag. */
static const struct admin_opt {
	struct option	 lo;
	size_t		 str;	/* offsetof a const char * in struct args */
	size_t		 flag;	/* offsetof a bool in struct args */
} admin_opts[] = {
#define S(n, id, f) { { n, required_argument, NULL, id }, \
	offsetof(struct args, f), 0 }
#define F(n, id, f) { { n, no_argument, NULL, id }, 0, \
	offsetof(struct args, f) }
	{ { "json", no_argument, NULL, OPT_JSON }, 0, 0 },
	{ { "cached", no_argument, NULL, OPT_CACHED }, 0, 0 },
	S("name", OPT_NAME, name),
	S("slug", OPT_SLUG, slug),
	S("status", OPT_STATUS, status),
	S("org", OPT_ORG, org),
	S("project", OPT_PROJECT, project),
	S("platform", OPT_PLATFORM, platform),
	S("template", OPT_TEMPLATE, template),
	S("label", OPT_LABEL, label),
	S("rate-limit", OPT_RATE_LIMIT, rate_limit),
	F("internal", OPT_INTERNAL, internal),
	F("external", OPT_EXTERNAL, external),
	S("public-key", OPT_PUBLIC_KEY, public_key),
	S("key", OPT_KEY, key),
	S("relay", OPT_RELAY, relay),
	F("all", OPT_ALL, all),
	S("metric", OPT_METRIC, metric),
	S("threshold", OPT_THRESHOLD, threshold),
#undef S
#undef F
};
#define N_OPTS	(sizeof(admin_opts) / sizeof(admin_opts[0]))

/*
 * admin_find_opt - the option "--name" or "--name=value" (name is what
 * follows the dashes) names, NULL for none; *value is the text after '='
 * or NULL.
 */
static const struct admin_opt *
admin_find_opt(const char *name, const char **value)
{
	const char *eq = strchr(name, '=');
	size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);

	*value = eq != NULL ? eq + 1 : NULL;
	for (size_t i = 0; i < N_OPTS; i++)
		if (strlen(admin_opts[i].lo.name) == len &&
		    memcmp(admin_opts[i].lo.name, name, len) == 0)
			return &admin_opts[i];
	return NULL;
}

/*
 * Options are long ones only, so an argument that does not begin with
 * "--" is positional even when it begins with '-': a relay's public key
 * is base64url, whose alphabet has '-', and getopt would take
 * "-Xyz..." for short options.  "--" ends the options.
 */
int
admin_parse_args(struct admin *a, int argc, char **argv, const int *allowed,
    struct args *out)
{
	char **pos = argv + 1;	/* positionals, compacted in place */
	int npos = 0;
	bool options_done = false;

	memset(out, 0, sizeof(*out));
	for (int i = 1; i < argc; i++) {
		const struct admin_opt *ao;
		const char *value;
		char what[96];
		bool ok;

		if (options_done || strncmp(argv[i], "--", 2) != 0) {
			pos[npos++] = argv[i];
			continue;
		}
		if (argv[i][2] == '\0') {
			options_done = true;
			continue;
		}
		ao = admin_find_opt(argv[i] + 2, &value);
		ok = ao != NULL && ao->lo.val == OPT_JSON;
		for (const int *p = allowed; ao != NULL && *p != 0 && !ok; p++)
			ok = *p == ao->lo.val;
		if (!ok) {
			snprintf(what, sizeof(what), "unexpected option %s",
			    argv[i]);
			return admin_usage_error(a, what);
		}
		if (ao->lo.has_arg == required_argument && value == NULL) {
			if (i + 1 >= argc) {
				snprintf(what, sizeof(what), "option --%s "
				    "needs a value", ao->lo.name);
				return admin_usage_error(a, what);
			}
			value = argv[++i];
		} else if (ao->lo.has_arg == no_argument && value != NULL) {
			snprintf(what, sizeof(what), "option --%s takes no "
			    "value", ao->lo.name);
			return admin_usage_error(a, what);
		}
		if (ao->lo.val == OPT_JSON)
			a->json = true;
		else if (ao->lo.val == OPT_CACHED)
			a->cached = true;
		else if (ao->lo.has_arg == required_argument)
			*(const char **)(void *)((char *)out + ao->str) = value;
		else
			*(bool *)(void *)((char *)out + ao->flag) = true;
	}
	out->pos = pos;
	out->npos = npos;
	return 0;
}

bool
admin_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const struct admin_opt *ao;
		const char *value;

		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0)
			return true;
		if (strncmp(argv[i], "--", 2) != 0 ||
		    (ao = admin_find_opt(argv[i] + 2, &value)) == NULL)
			continue;
		/* "--name VALUE": VALUE is no option, even "--help". */
		if (ao->lo.has_arg == required_argument && value == NULL)
			i++;
	}
	return false;
}

int
admin_want_pos(const struct admin *a, const struct args *ar, int n, int max)
{
	if (ar->npos < n)
		return admin_usage_error(a, "missing argument");
	if (ar->npos > max)
		return admin_usage_error(a, "too many arguments");
	return 0;
}

int
admin_want_id(const struct admin *a, const char *s, int64_t *id)
{
	if (!admin_parse_id(s, id))
		return admin_usage_error(a, "an id is a positive integer");
	return 0;
}

int
admin_want_public_key(const struct admin *a, const char *s)
{
	if (!store_valid_hex32(s))
		return admin_usage_error(a, "a public key is 32 lowercase hex "
		    "digits");
	return 0;
}

int
admin_want_relay_id(const struct admin *a, const char *s)
{
	if (!store_valid_uuid(s))
		return admin_usage_error(a, "a relay id is a lowercase UUID");
	return 0;
}

int
admin_want_relay_key(const struct admin *a, const char *s)
{
	if (!relayauth_public_key_valid(s))
		return admin_usage_error(a, "not a relay public key (43 "
		    "base64url characters of an Ed25519 key, as relaycfgctl "
		    "keygen makes)");
	return 0;
}

bool
admin_parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return false;
	*out = v;
	return true;
}

bool
admin_parse_id_or_none(const char *s, int64_t *out)
{
	if (strcmp(s, "none") == 0) {
		*out = 0;
		return true;
	}
	return admin_parse_id(s, out);
}

bool
admin_parse_status(const char *const *names, const char *s, int *out)
{
	for (int i = 0; names[i] != NULL; i++) {
		char num[12];

		snprintf(num, sizeof(num), "%d", i);
		if (strcmp(s, names[i]) == 0 || strcmp(s, num) == 0) {
			*out = i;
			return true;
		}
	}
	return false;
}

/* Sets p->set_rate_limit even when s is refused (the caller stops). */
int
admin_want_rate_limit(const struct admin *a, const char *s,
    struct store_key_patch *p)
{
	char *end;
	long long c, w;
	bool big;

	p->set_rate_limit = true;
	if (strcmp(s, "none") == 0) {
		p->has_rate_limit = false;
		return 0;
	}
	if (*s < '0' || *s > '9')
		goto usage;
	errno = 0;
	c = strtoll(s, &end, 10);
	big = errno != 0;
	if (*end != '/' || end[1] < '0' || end[1] > '9')
		goto usage;
	errno = 0;
	w = strtoll(end + 1, &end, 10);
	big = big || errno != 0;
	if (*end != '\0')
		goto usage;
	if (big || c > INT32_MAX || w > INT32_MAX)
		return admin_usage_error(a, "--rate-limit: COUNT and SECONDS "
		    "are at most 2147483647");
	if (w <= 0)
		goto usage;
	p->has_rate_limit = true;
	p->rate_limit_count = c;
	p->rate_limit_window = w;
	return 0;
usage:
	return admin_usage_error(a, "--rate-limit is COUNT/SECONDS or none");
}
