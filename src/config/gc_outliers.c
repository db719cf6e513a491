/*
 * gc_outliers.c - the histogram-outlier tags of Sentry's global config
 *
 * get_global_config sends "metricExtraction":
 * global_metric_extraction_groups(), one group "histogram_outliers" whose
 * tags are computed at import from a constant table of percentiles
 * (src/sentry/relay/config/metric_extraction.py
 * @ef9d0f9ca0380d33891a648792ed827a93283114, stored id 1285069730:
 * _HISTOGRAM_OUTLIERS_QUERY_RESULTS and _produce_histogram_outliers).  The
 * table is copied here, its p25 and p75 texts exactly (the other three
 * quantiles are not used), and the tags are computed the same way: for
 * each row and measurement with data, an "outlier" tag when the value is
 * >= p75 + 3 * |p75 - p25| (Tukey's fence), grouped by target metric in
 * first-seen order, then the catch-all "inlier" and "outlier" rules.
 * Python reads the texts with float() and does the arithmetic in doubles,
 * as strtod and the code below do, and writes the result with repr().
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "gc_outliers.h"
#include "pc_build.h"

enum { DURATION, LCP, FCP, N_MEASUREMENTS };

/* One row: the p25 and p75 texts per measurement; NULL where no data. */
struct outlier_row {
	const char	*platform;
	const char	*op;
	const char	*pct[N_MEASUREMENTS][2];
};

/* _HISTOGRAM_OUTLIERS_QUERY_RESULTS, in its order. */
static const struct outlier_row rows[] = {
	{ "javascript", "pageload", {
	    { "1539", "5185" },
	    { "730.3001880645752", "2533.2000255584717" },
	    { "578.29999923706055", "1908.10000000149" } } },
	{ "javascript", "navigation", { { "372", "1287" } } },
	{ "python", "http.server", { { "3", "98" } } },
	{ "node", "http.server", { { "2", "128" } } },
	{ "php", "http.server", { { "35", "249" } } },
	{ "javascript", "ui.load", { { "1419", "50909" } } },
	{ "python", "celery.task", { { "32", "403" } } },
	{ "ruby", "rails.request", { { "7", "107" } } },
	{ "python", "queue.task.celery", { { "29", "681" } } },
	{ "node", "function.nextjs", { { "1", "127" } } },
	{ "cocoa", "ui.load", { { "135", "698" } } },
	{ "csharp", "http.server", { { "1", "82" } } },
	{ "ruby", "http.server", { { "7", "92" } } },
	{ "java", "ui.load", { { "145", "831" } } },
	{ "java", "http.server", { { "2", "63" } } },
	{ "node", "awslambda.handler", { { "19", "451" } } },
	{ "python", "serverless.function", { { "29", "120" } } },
	{ "node", "function.aws.lambda", { { "61", "454" } } },
	{ "javascript", "default", { { "0", "804" } } },
	{ "python", "function.aws", { { "0", "366" } } },
	{ "ruby", "active_job", { { "31", "288" } } },
	{ "other", "navigation", { { "1102", "3003" } } },
	{ "ruby", "queue.active_job", { { "25", "1216" } } },
	{ "ruby", "sidekiq", { { "14", "246" } } },
	{ "other", "pageload", {
	    { "3000", "3000" },
	    { "4589.8220456729478", "4589.8220456729478" },
	    { "3384.3555060724457", "3384.3555060724457" } } },
	{ "php", "console.command", { { "61", "417" } } },
	{ "other", "middleware.nextjs", { { "0", "0" } } },
	{ "ruby", "queue.sidekiq", { { "18", "579" } } },
	{ "node", "transaction", { { "5", "87" } } },
	{ "cocoa", "ui.action", { { "244", "2783" } } },
	{ "node", "default", { { "2", "423" } } },
	{ "cocoa", "ui.action.click", { { "223", "3797" } } },
	{ "python", "asgi.server", { { "158", "1291" } } },
	{ "go", "http.server", { { "0", "4" } } },
	{ "php", "sentry.test", { { "0", "1" } } },
	{ "ruby", "websocket.server", { { "0", "4" } } },
	{ "java", "ui.action.click", { { "343", "3560" } } },
	{ "other", "http.server", { { "0", "57" } } },
	{ "node", "test", { { "12", "1080" } } },
	{ "node", "gql", { { "16", "135" } } },
	{ "python", "default", { { "5", "67" } } },
	{ "ruby", "rails.action_cable", { { "0", "5" } } },
	{ "php", "queue.process", { { "26", "232" } } },
	{ "python", "websocket.server", { { "1", "6226" } } },
	{ "python", "rq.task", { { "175", "490" } } },
	{ "python", "task", { { "9", "336" } } },
	{ "java", "ui.action.swipe", { { "966", "5429" } } },
	{ "python", "queue.task.rq", { { "113", "913" } } },
	{ "java", "navigation", { { "327", "2657" } } },
	{ "java", "ui.action.scroll", { { "400", "2158" } } },
};

/* _HISTOGRAM_OUTLIERS_TARGET_METRICS and _SOURCE_FIELDS. */
static const char *const target[N_MEASUREMENTS] = {
	"d:transactions/duration@millisecond",
	"d:transactions/measurements.lcp@millisecond",
	"d:transactions/measurements.fcp@millisecond",
};
static const char *const source[N_MEASUREMENTS] = {
	"event.duration",
	"event.measurements.lcp.value",
	"event.measurements.fcp.value",
};

int
gc_float_repr(double d, char *buf, size_t len)
{
	char e[40], digits[20], out[48];
	size_t nd = 0, o = 0;
	int exp, decpt;

	if (!isfinite(d))
		return -1;
	if (signbit(d)) {
		out[o++] = '-';
		d = -d;
	}
	/* the fewest significant digits that read back as d */
	for (int p = 1; p <= 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	for (const char *s = e; *s != 'e'; s++)
		if (*s >= '0' && *s <= '9')
			digits[nd++] = *s;
	exp = atoi(strchr(e, 'e') + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	decpt = d == 0 ? 1 : exp + 1;
	/* repr's "short" style: fixed notation from 1e-4 up to 1e16 */
	if (decpt > -4 && decpt <= 16) {
		if (decpt <= 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (int i = 0; i < -decpt; i++)
				out[o++] = '0';
			memcpy(out + o, digits, nd);
			o += nd;
		} else if ((size_t)decpt >= nd) {
			memcpy(out + o, digits, nd);
			o += nd;
			for (size_t i = nd; i < (size_t)decpt; i++)
				out[o++] = '0';
			out[o++] = '.';
			out[o++] = '0';
		} else {
			memcpy(out + o, digits, (size_t)decpt);
			o += (size_t)decpt;
			out[o++] = '.';
			memcpy(out + o, digits + decpt, nd - (size_t)decpt);
			o += nd - (size_t)decpt;
		}
	} else {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "e%c%02d",
		    decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
	}
	if (o + 1 > len)
		return -1;
	memcpy(buf, out, o);
	buf[o] = '\0';
	return 0;
}

/* A tag {"condition": {"op": "and", "inner": inner}, "key", "value"}. */
static json_object *
tag(json_object *inner, const char *value)
{
	json_object *t = NULL, *c;

	if ((c = json_object_new_object()) == NULL ||
	    pc_obj_add(c, "op", json_object_new_string("and")) != 0) {
		json_object_put(c);
		json_object_put(inner);
		return NULL;
	}
	if (pc_obj_add(c, "inner", inner) != 0 ||
	    (t = json_object_new_object()) == NULL) {
		json_object_put(c);
		return NULL;
	}
	if (pc_obj_add(t, "condition", c) != 0 ||
	    pc_obj_add(t, "key", json_object_new_string(
	    "histogram_outlier")) != 0 ||
	    pc_obj_add(t, "value", json_object_new_string(value)) != 0) {
		json_object_put(t);
		return NULL;
	}
	return t;
}

/* The outlier tag of one row and measurement: value >= fence. */
static json_object *
outlier_tag(const struct outlier_row *r, int m, double fence)
{
	char text[48];
	json_object *inner;

	if (gc_float_repr(fence, text, sizeof(text)) != 0 ||
	    (inner = pc_new_array(3)) == NULL)
		return NULL;
	if (pc_arr_add(inner, pc_cond("eq", "event.contexts.trace.op",
	    json_object_new_string(r->op))) != 0 ||
	    pc_arr_add(inner, pc_cond("eq", "event.platform",
	    json_object_new_string(r->platform))) != 0 ||
	    pc_arr_add(inner, pc_cond("gte", source[m],
	    json_object_new_double_s(fence, text))) != 0) {
		json_object_put(inner);
		return NULL;
	}
	return tag(inner, "outlier");
}

/* A rule {"metrics": [the three targets], "tags": [t]}. */
static json_object *
all_metrics_rule(json_object *t)
{
	json_object *r, *tags;

	if ((tags = pc_new_array(1)) == NULL) {
		json_object_put(t);
		return NULL;
	}
	if (pc_arr_add(tags, t) != 0 ||
	    (r = json_object_new_object()) == NULL) {
		json_object_put(tags);
		return NULL;
	}
	if (pc_obj_add(r, "metrics", pc_string_array(target,
	    N_MEASUREMENTS)) != 0) {
		json_object_put(r);
		json_object_put(tags);
		return NULL;
	}
	if (pc_obj_add(r, "tags", tags) != 0) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

/*
 * outlier_rules - _produce_histogram_outliers: one rule per target metric
 * (in the order a metric first has data), then inlier and outlier.
 */
static json_object *
outlier_rules(void)
{
	json_object *by_metric[N_MEASUREMENTS] = { NULL, NULL, NULL };
	int order[N_MEASUREMENTS], n_order = 0;
	json_object *rules = NULL, *rv = NULL, *inner;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (int m = 0; m < N_MEASUREMENTS; m++) {
			double p25, p75;
			/*
			 * volatile: the product is rounded on its own, as in
			 * Python, never fused into the sum (an FMA would
			 * round once and could change the last digit).
			 */
			volatile double spread;

			if (rows[i].pct[m][0] == NULL)
				continue;	/* no data: (0, 0) */
			p25 = strtod(rows[i].pct[m][0], NULL);
			p75 = strtod(rows[i].pct[m][1], NULL);
			if (p25 == 0 && p75 == 0)
				continue;
			/* p75 + 3 * abs(p75 - p25) */
			spread = 3 * (p75 >= p25 ? p75 - p25 : p25 - p75);
			if (by_metric[m] == NULL) {
				if ((by_metric[m] = json_object_new_array()) ==
				    NULL)
					goto out;
				order[n_order++] = m;
			}
			if (pc_arr_add(by_metric[m], outlier_tag(&rows[i], m,
			    p75 + spread)) != 0)
				goto out;
		}
	if ((rules = pc_new_array((size_t)n_order + 2)) == NULL)
		goto out;
	for (int k = 0; k < n_order; k++) {
		int m = order[k];
		json_object *r = json_object_new_object(), *tags;

		if (pc_arr_add(rules, r) != 0 ||
		    pc_obj_add(r, "metrics", pc_string_array(&target[m],
		    1)) != 0)
			goto out;
		tags = by_metric[m];
		by_metric[m] = NULL;
		if (pc_obj_add(r, "tags", tags) != 0)
			goto out;
	}
	if ((inner = pc_new_array(1)) == NULL ||
	    pc_arr_add(inner, pc_cond("gte", "event.duration",
	    json_object_new_int(0))) != 0) {
		json_object_put(inner);
		goto out;
	}
	if (pc_arr_add(rules, all_metrics_rule(tag(inner, "inlier"))) != 0 ||
	    pc_arr_add(rules, all_metrics_rule(tag(json_object_new_array(),
	    "outlier"))) != 0)
		goto out;
	rv = rules;
	rules = NULL;
out:
	for (int m = 0; m < N_MEASUREMENTS; m++)
		json_object_put(by_metric[m]);
	json_object_put(rules);
	return rv;
}

json_object *
gc_metric_extraction(void)
{
	json_object *me = NULL, *groups, *group, *rv = NULL;

	if ((me = json_object_new_object()) == NULL ||
	    (groups = json_object_new_object()) == NULL)
		goto out;
	if (pc_obj_add(me, "groups", groups) != 0 ||
	    (group = json_object_new_object()) == NULL)
		goto out;
	if (pc_obj_add(groups, "histogram_outliers", group) != 0 ||
	    pc_obj_add(group, "isEnabled", json_object_new_boolean(1)) != 0 ||
	    pc_obj_add(group, "tags", outlier_rules()) != 0)
		goto out;
	rv = me;
	me = NULL;
out:
	json_object_put(me);
	return rv;
}
