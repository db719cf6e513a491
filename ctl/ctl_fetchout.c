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

/* put_row - one line of the summary. */
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

/* put_list - a row per key of ans's array member name ("pending", ...). */
static size_t
put_list(FILE *fp, json_object *ans, const char *name)
{
	json_object *a, *k;
	size_t n = 0;

	if (!json_object_object_get_ex(ans, name, &a) ||
	    !json_object_is_type(a, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		k = json_object_array_get_idx(a, i);
		put_row(fp, json_object_is_type(k, json_type_string) ?
		    json_object_get_string(k) : "?", name, NULL);
		n++;
	}
	return n;
}

/*
 * put_summary - what Relay gets for each key of a projectconfigs answer:
 * KEY STATUS PROJECT/SLUG REV FEATURES, then whether a global config came.
 * False (nothing printed) when ans is not such an answer.
 */
static bool
put_summary(FILE *fp, json_object *ans)
{
	json_object *configs, *global;
	bool has_configs;

	has_configs = json_object_object_get_ex(ans, "configs", &configs) &&
	    json_object_is_type(configs, json_type_object);
	if (!has_configs && !json_object_object_get_ex(ans, "global", &global))
		return false;
	fprintf(fp, "%-32s  %-9s  %s  %s  %s\n", "KEY", "STATUS",
	    "PROJECT/SLUG", "REV", "FEATURES");
	if (has_configs) {
		json_object_object_foreach(configs, key, state) {
			json_object *d;
			bool off;

			if (!json_object_is_type(state, json_type_object)) {
				put_row(fp, key, "disabled", NULL);
				continue;
			}
			off = !json_object_object_get_ex(state, "disabled", &d) ||
			    json_object_get_boolean(d);
			put_row(fp, key, off ? "disabled" : "enabled",
			    off ? NULL : state);
		}
	}
	put_list(fp, ans, "pending");
	put_list(fp, ans, "unchanged");
	if (json_object_object_get_ex(ans, "global", &global) &&
	    json_object_is_type(global, json_type_object))
		fprintf(fp, "global config: %d sections\n",
		    json_object_object_length(global));
	return true;
}

/* ctl_fetch_print - see ctl_relay.h. */
int
ctl_fetch_print(const struct netopts *no, const struct response *r,
    enum fetch_output mode)
{
	json_tokener *tok = NULL;
	json_object *ans = NULL;
	int rc;

	if (mode == FETCH_OUTPUT_AUTO)
		mode = isatty(STDOUT_FILENO) ? FETCH_OUTPUT_PRETTY :
		    FETCH_OUTPUT_COMPACT;
	/* Errors keep their usual form (stderr, exit 1) unless --status. */
	if (mode == FETCH_OUTPUT_COMPACT || (!no->status && !ctl_is_2xx(r)))
		return ctl_finish(no, r);
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
	if (mode != FETCH_OUTPUT_SUMMARY || !put_summary(stdout, ans))
		printf("%s\n", json_object_to_json_string_ext(ans,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	rc = 0;
out:
	json_object_put(ans);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}
