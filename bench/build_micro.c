/*
 * build_micro.c - where a cold config build spends its time, without
 * servers: the steps configs.c runs per key on a cache miss, timed one by
 * one on a project shaped like bench/gen-data.sh's (every option set), in
 * µs per key (median of --runs runs).
 *
 *	options_parse  json_tokener_parse of the project's and organization's
 *	               option values (what the store does per row)
 *	content        projectconfig_content (constant subtrees shared)
 *	rev            lastchange_revs: the key's revision and the
 *	               project's, in one walk (shared constants count by
 *	               their memoised digest)
 *	render         projectconfig_render (the one serialisation)
 *	deflate        zfrag_make: the fragment that is cached and sent
 *	free           json_object_put of the content tree
 *	total          the sum: what one cold key costs in the builder
 *
 *	build_micro [--runs R] [--iterations N]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "bench_common.h"
#include "conf.h"
#include "lastchange.h"
#include "log.h"
#include "model.h"
#include "projectconfig.h"
#include "zfrag.h"

/* Project 60 of gen-data.sh: divisible by 2, 3, 4, 5, 10 (most options). */
static const char popts_text[] =
    "{\"sentry:origins\":[\"https://app60.example.com\",\"https://*.example-6.org\"],"
    "\"sentry:grouping_config\":\"newstyle:2023-01-11\","
    "\"sentry:scrub_ip_address\":true,"
    "\"sentry:sensitive_fields\":[\"password\",\"card_number\",\"session_token\"],"
    "\"filters:localhost\":\"1\","
    "\"filters:legacy-browsers\":[\"ie\",\"safari_pre_6\",\"opera_pre_15\"],"
    "\"sentry:releases\":[\"*-dev\",\"0.0.*\"],"
    "\"sentry:blacklisted_ips\":[\"10.0.0.0/8\",\"192.168.1.1\"],"
    "\"sentry:relay_pii_config\":\"{\\\"rules\\\":{\\\"strip-token\\\":{\\\"type\\\":"
    "\\\"pattern\\\",\\\"pattern\\\":\\\"tok_[a-z0-9]+\\\",\\\"redaction\\\":{\\\"method\\\":"
    "\\\"replace\\\",\\\"text\\\":\\\"[token]\\\"}}},\\\"applications\\\":{\\\"$string\\\":"
    "[\\\"strip-token\\\",\\\"@email\\\"],\\\"password\\\":[\\\"@anything\\\"]}}\"}";

static const char oopts_text[] =
    "{\"sentry:sensitive_fields\":[\"ssn\",\"iban\"],"
    "\"sentry:relay_pii_config\":\"{\\\"applications\\\":{\\\"$string\\\":"
    "[\\\"@creditcard\\\",\\\"@iban\\\"]}}\","
    "\"relaycfg:quotas\":[{\"id\":\"org-daily\",\"categories\":[\"error\","
    "\"transaction\"],\"limit\":100000,\"window\":86400,\"reasonCode\":"
    "\"org_quota\"}]}";

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

enum { T_PARSE, T_CONTENT, T_REV, T_RENDER, T_DEFLATE, T_FREE, T_TOTAL,
    T_N };
static const char *const tname[T_N] = { "options_parse_us", "content_us",
    "rev_us", "render_us", "deflate_us", "free_us", "total_us" };

int
main(int argc, char **argv)
{
	struct model_org org = { 6, "org-6", "Organization 6", 0, 0 };
	struct model_project proj = { 60, 6, "project-60", "Project 60", 0, 0,
	    "javascript", 0 };
	struct model_projectkey key = { 60, 60, "", "", 0, 1, false, 0, 0,
	    "Default" };
	const struct model_projectkey *keys[1] = { &key };
	struct conf *conf;
	int runs = 5, iters = 300;
	double t[32][T_N];
	size_t rlen = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
			iters = atoi(argv[++i]);
		else {
			fputs("usage: build_micro [--runs R] [--iterations N]\n",
			    stderr);
			return 2;
		}
	}
	if (runs < 1 || runs > 32 || iters < 1 || sodium_init() < 0 ||
	    (conf = conf_defaults()) == NULL)
		return 2;
	log_setup(LOG_LEVEL_ERROR, false);
	snprintf(key.public_key, sizeof(key.public_key), "%s",
	    "0123456789abcdef0123456789abcdef");
	snprintf(key.secret_key, sizeof(key.secret_key), "%s",
	    "fedcba9876543210fedcba9876543210");

	for (int r = 0; r < runs; r++) {
		uint64_t acc[T_N] = { 0 };

		for (int i = 0; i < iters; i++) {
			char rev[PROJECTCONFIG_REV_LEN + 1], *text;
			char prev[PROJECTCONFIG_REV_LEN + 1];
			unsigned char *zmem;
			struct zfrag frag;
			json_object *po, *oo, *c;
			uint64_t a, b;

			a = bench_now_ns();
			po = json_tokener_parse(popts_text);
			oo = json_tokener_parse(oopts_text);
			b = bench_now_ns();
			acc[T_PARSE] += b - a;
			c = projectconfig_content(&proj, &org, keys, 1, po, oo,
			    NULL, conf);
			a = bench_now_ns();
			acc[T_CONTENT] += a - b;
			if (c == NULL || lastchange_revs(c, rev, prev) != 0)
				bench_die("build failed");
			b = bench_now_ns();
			acc[T_REV] += b - a;
			text = projectconfig_render(c, rev,
			    "2025-01-01T00:00:00.000000Z",
			    "2025-01-01T00:00:00.000000Z", &rlen);
			a = bench_now_ns();
			acc[T_RENDER] += a - b;
			if (text == NULL)
				bench_die("render failed");
			b = bench_now_ns();
			if (zfrag_make(text, rlen, &zmem, &frag) != 0)
				bench_die("deflate failed");
			a = bench_now_ns();
			acc[T_DEFLATE] += a - b;
			free(zmem);
			free(text);
			json_object_put(c);
			json_object_put(po);
			json_object_put(oo);
			b = bench_now_ns();
			acc[T_FREE] += b - a;
		}
		acc[T_TOTAL] = acc[T_PARSE] + acc[T_CONTENT] + acc[T_REV] +
		    acc[T_RENDER] + acc[T_DEFLATE] + acc[T_FREE];
		for (int k = 0; k < T_N; k++)
			t[r][k] = (double)acc[k] / 1e3 / iters;
	}
	printf("summary label=BUILD runs=%d iterations=%d config_bytes=%zu",
	    runs, iters, rlen);
	for (int k = 0; k < T_N; k++) {
		double v[32];
		for (int r = 0; r < runs; r++)
			v[r] = t[r][k];
		qsort(v, (size_t)runs, sizeof(double), cmp_dbl);
		printf(" %s_med=%.1f %s_min=%.1f %s_max=%.1f", tname[k],
		    v[runs / 2], tname[k], v[0], tname[k], v[runs - 1]);
	}
	printf("\n");
	conf_free(conf);
	return 0;
}
