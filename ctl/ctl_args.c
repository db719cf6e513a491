/*
 * ctl_args.c - the admin commands' arguments: the options each subcommand
 * allows, its positional arguments, and the forms of ids, public keys,
 * statuses and rate limits.  A bad one is a usage error (exit 2).
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_admin.h"

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

int
admin_parse_args(struct admin *a, int argc, char **argv, const int *allowed,
    struct args *out)
{
	struct option lo[N_OPTS + 1];
	const struct admin_opt *ao;
	int ch;

	for (size_t i = 0; i < N_OPTS; i++)
		lo[i] = admin_opts[i].lo;
	memset(&lo[N_OPTS], 0, sizeof(lo[N_OPTS]));
	memset(out, 0, sizeof(*out));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		bool ok = ch == OPT_JSON;

		for (const int *p = allowed; *p != 0 && !ok; p++)
			ok = *p == ch;
		if (!ok) {
			char what[96];

			snprintf(what, sizeof(what), "unexpected option %s",
			    argv[optind - 1]);
			return admin_usage_error(a, what);
		}
		for (ao = admin_opts; ao->lo.val != ch; ao++)
			continue;
		if (ch == OPT_JSON)
			a->json = true;
		else if (ch == OPT_CACHED)
			a->cached = true;
		else if (ao->lo.has_arg == required_argument)
			*(const char **)(void *)((char *)out + ao->str) =
			    optarg;
		else
			*(bool *)(void *)((char *)out + ao->flag) = true;
	}
	out->pos = argv + optind;
	out->npos = argc - optind;
	return 0;
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
bool
admin_parse_rate_limit(const char *s, struct store_key_patch *p)
{
	char *end;
	long long c, w;

	p->set_rate_limit = true;
	if (strcmp(s, "none") == 0) {
		p->has_rate_limit = false;
		return true;
	}
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	c = strtoll(s, &end, 10);
	if (errno != 0 || *end != '/' || end[1] < '0' || end[1] > '9')
		return false;
	w = strtoll(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || c < 0 || w <= 0)
		return false;
	p->has_rate_limit = true;
	p->rate_limit_count = c;
	p->rate_limit_window = w;
	return true;
}
