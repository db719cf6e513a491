/*
 * ctl_fetchout.c - how "relaycfgctl fetch" prints an answer: compact as
 * it came (pipes, scripts), indented (a terminal, --pretty), or one line
 * per key with what Relay gets for it (--summary).  The answer comes from
 * the network: nothing in it reaches the terminal unescaped.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl_relay.h"
#include "jsonstrict.h"
#include "valid.h"

/* field - the string form of o's member key (a string or a number), or
 * "-" when absent or of another type.  Belongs to o. */
static const char *
field(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return "-";
	if (json_object_is_type(v, json_type_string) ||
	    json_object_is_type(v, json_type_int))
		return json_object_get_string(v);
	return "-";
}

/* put_features - config.features of a project state, comma-separated. */
static void
put_features(FILE *fp, json_object *state)
{
	json_object *config, *features, *f;
	size_t n = 0;

	if (json_object_object_get_ex(state, "config", &config) &&
	    json_object_object_get_ex(config, "features", &features) &&
	    json_object_is_type(features, json_type_array))
		n = json_object_array_length(features);
	if (n == 0) {
		fputs("-", fp);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		f = json_object_array_get_idx(features, i);
		if (i > 0)
			fputc(',', fp);
		ctl_put_safe(fp, json_object_is_type(f, json_type_string) ?
		    json_object_get_string(f) : "?");
	}
}

/* put_row - one line of the summary; state NULL: "-" columns. */
static void
put_row(FILE *fp, const char *key, const char *status, json_object *state)
{
	ctl_put_safe(fp, key);
	/* public keys are 32 characters: one column for the usual case */
	fprintf(fp, "%*s  %-9s  ", strlen(key) < 32 ? (int)(32 - strlen(key)) :
	    0, "", status);
	if (state == NULL) {
		fputs("-  -  -\n", fp);
		return;
	}
	ctl_put_safe(fp, field(state, "projectId"));
	fputc('/', fp);
	ctl_put_safe(fp, field(state, "slug"));
	fputs("  ", fp);
	ctl_put_safe(fp, field(state, "rev"));
	fputs("  ", fp);
	put_features(fp, state);
	fputc('\n', fp);
}

/* member - a copy (new reference) of state's member key, or JSON null. */
static json_object *
member(json_object *state, const char *key)
{
	json_object *v;

	if (state == NULL || !json_object_object_get_ex(state, key, &v))
		return NULL;
	return json_object_get(v);
}

/*
 * add_row - one key of the summary: a line on stdout, or (rows not NULL)
 * {"key","status","project_id","slug","rev","features"} appended to rows.
 * False on OOM.
 */
static bool
add_row(json_object *rows, const char *key, const char *status,
    json_object *state)
{
	json_object *o, *cfg;

	if (rows == NULL) {
		put_row(stdout, key, status, state);
		return true;
	}
	if ((o = json_object_new_object()) == NULL)
		return false;
	json_object_object_add(o, "key", json_object_new_string(key));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "project_id", member(state, "projectId"));
	json_object_object_add(o, "slug", member(state, "slug"));
	json_object_object_add(o, "rev", member(state, "rev"));
	json_object_object_add(o, "features", state != NULL &&
	    json_object_object_get_ex(state, "config", &cfg) ?
	    member(cfg, "features") : NULL);
	if (json_object_array_add(rows, o) != 0) {
		json_object_put(o);
		return false;
	}
	return true;
}

/* answered - does ans name key, in configs, pending or unchanged? */
static bool
answered(json_object *ans, const char *key)
{
	static const char *const lists[] = { "pending", "unchanged" };
	json_object *v, *k;

	if (json_object_object_get_ex(ans, "configs", &v) &&
	    json_object_is_type(v, json_type_object) &&
	    json_object_object_get_ex(v, key, NULL))
		return true;
	for (size_t l = 0; l < 2; l++) {
		if (!json_object_object_get_ex(ans, lists[l], &v) ||
		    !json_object_is_type(v, json_type_array))
			continue;
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			k = json_object_array_get_idx(v, i);
			if (json_object_is_type(k, json_type_string) &&
			    strcmp(json_object_get_string(k), key) == 0)
				return true;
		}
	}
	return false;
}

/* add_list - a row per key of ans's array member name ("pending", ...). */
static bool
add_list(json_object *rows, json_object *ans, const char *name)
{
	json_object *a, *k;

	if (!json_object_object_get_ex(ans, name, &a) ||
	    !json_object_is_type(a, json_type_array))
		return true;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		k = json_object_array_get_idx(a, i);
		if (!add_row(rows, json_object_is_type(k, json_type_string) ?
		    json_object_get_string(k) : "?", name, NULL))
			return false;
	}
	return true;
}

/*
 * add_asked - a row for each key asked for that the answer does not name
 * (each once): "invalid" when it is no public key (not 32 lowercase hex
 * digits; the upstream ignores it), else "missing".
 */
static bool
add_asked(json_object *rows, json_object *ans, const struct fetch_asked *q)
{
	for (size_t i = 0; i < q->n_keys; i++) {
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(q->keys[i], q->keys[j]) == 0;
		if (seen || answered(ans, q->keys[i]))
			continue;
		if (!add_row(rows, q->keys[i], !q->by_id &&
		    !valid_hex32(q->keys[i]) ? "invalid" : "missing", NULL))
			return false;
	}
	return true;
}

/*
 * put_summary - what Relay gets for each key of a projectconfigs answer:
 * KEY STATUS PROJECT/SLUG REV FEATURES for every key answered or asked
 * for, then, when the global config was asked for (or came), whether it
 * came; with q->json one JSON object instead.  False (nothing printed)
 * when ans is not such an answer; OOM is said on stderr.
 */
static bool
put_summary(json_object *ans, const struct fetch_asked *q)
{
	json_object *configs, *global, *out = NULL, *rows = NULL, *d;
	bool has_configs, has_global, ok = false, off;

	has_configs = json_object_object_get_ex(ans, "configs", &configs) &&
	    json_object_is_type(configs, json_type_object);
	has_global = json_object_object_get_ex(ans, "global", &global);
	if (!has_configs && !has_global)
		return false;
	if (q->json) {
		if ((out = json_object_new_object()) == NULL ||
		    (rows = json_object_new_array()) == NULL)
			goto out;
		if (json_object_object_add(out, "keys", rows) != 0) {
			json_object_put(rows);
			goto out;
		}
	}
	if (!q->json)
		printf("%-32s  %-9s  %s  %s  %s\n", "KEY", "STATUS",
		    "PROJECT/SLUG", "REV", "FEATURES");
	if (has_configs) {
		json_object_object_foreach(configs, key, state) {
			if (!json_object_is_type(state, json_type_object)) {
				if (!add_row(rows, key, "disabled", NULL))
					goto out;
				continue;
			}
			off = !json_object_object_get_ex(state, "disabled", &d) ||
			    json_object_get_boolean(d);
			if (!add_row(rows, key, off ? "disabled" : "enabled",
			    off ? NULL : state))
				goto out;
		}
	}
	if (!add_list(rows, ans, "pending") ||
	    !add_list(rows, ans, "unchanged") || !add_asked(rows, ans, q))
		goto out;
	has_global = has_global && json_object_is_type(global,
	    json_type_object);
	if (q->json) {
		if ((q->global || has_global) && json_object_object_add(out,
		    "global_sections", has_global ? json_object_new_int(
		    json_object_object_length(global)) : NULL) != 0)
			goto out;
		/* the answer's text: its C1 controls escaped on a terminal */
		ctl_put_json(stdout, json_object_to_json_string_ext(out,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		putchar('\n');
	} else if (has_global)
		printf("global config: %d sections\n",
		    json_object_object_length(global));
	else if (q->global)
		puts("global config: not in the answer");
	ok = true;
out:
	if (!ok)
		ctl_warn("fetch", "out of memory");
	json_object_put(out);
	return true;
}

/*
 * What an answer may hold to be laid out (ctl_fetch_print): json-c's
 * depth, and values and arrays and objects for some 1,400 full configs
 * (a fresh project's has 737 and 210), at most about 450 MB in json-c.
 */
static const struct jsonstrict_limits answer_limits = {
	32, 2000000, 300000
};

/* ctl_fetch_print - see ctl_relay.h. */
int
ctl_fetch_print(const struct netopts *no, const struct response *r,
    enum fetch_output mode, const struct fetch_asked *q)
{
	json_tokener *tok = NULL;
	json_object *ans = NULL;
	const char *text, *why;
	int rc;

	if (mode == FETCH_OUTPUT_AUTO)
		mode = isatty(STDOUT_FILENO) ? FETCH_OUTPUT_PRETTY :
		    FETCH_OUTPUT_COMPACT;
	/* Errors keep their usual form (stderr, exit 1) unless --status. */
	if (mode == FETCH_OUTPUT_COMPACT || (!no->status && !ctl_is_2xx(r)))
		return ctl_finish(no, r);
	/*
	 * json-c builds an object of up to 780 bytes for each value: a 3 MiB
	 * answer of {} made 830 MB.  Only a strict document within
	 * answer_limits is laid out; any other is printed as it came.
	 */
	if (jsonstrict_check_limits(r->body, r->len, &answer_limits,
	    &why) != 0) {
		if (strncmp(why, "too many", 8) == 0)
			ctl_warn("fetch", "the answer is too large to lay out "
			    "(%s): printed as it came", why);
		rc = ctl_finish(no, r);
		goto out;
	}
	if ((tok = json_tokener_new()) != NULL)
		ans = json_tokener_parse_ex(tok, r->body, (int)r->len);
	if (ans == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != r->len) {
		/* Not one JSON document: as it came. */
		rc = ctl_finish(no, r);
		goto out;
	}
	if (no->status)
		printf("%ld\n", r->status);
	if (mode != FETCH_OUTPUT_SUMMARY || !put_summary(ans, q)) {
		/* json-c escapes C0 in strings, not C1 nor bytes not UTF-8 */
		text = json_object_to_json_string_ext(ans,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		    JSON_C_TO_STRING_NOSLASHESCAPE);
		ctl_put_json(stdout, text);
		putchar('\n');
	}
	rc = 0;
out:
	json_object_put(ans);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}
