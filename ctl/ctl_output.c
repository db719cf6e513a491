/*
 * ctl_output.c - how the admin commands answer: errors on stderr with
 * their exit status, rows as "key: value" lines, one tab-separated line
 * per row, or one JSON object on one line with --json.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include <json-c/json.h>

#include "ctl_admin.h"

#define JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

int
admin_fail(const struct admin *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "relaycfgctl: %s: ", a->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int
admin_usage_error(const struct admin *a, const char *what)
{
	fprintf(stderr, "relaycfgctl: %s: %s (see relaycfgctl --help)\n",
	    a->cmd, what);
	return 2;
}

int
admin_store_fail(const struct admin *a)
{
	return admin_fail(a, "%s", store_last_error(a->st)[0] != '\0' ?
	    store_last_error(a->st) : "failed");
}

int
admin_write_fail(const struct admin *a, int rc)
{
	if (rc == STORE_OK)
		return 0;
	if (rc == STORE_INVALID)
		return admin_usage_error(a, store_last_error(a->st));
	return admin_store_fail(a);
}

void
admin_print_json(json_object *o)
{
	if (o == NULL) {
		fputs("{}\n", stdout);
		return;
	}
	puts(json_object_to_json_string_ext(o, JSON_FLAGS));
	json_object_put(o);
}

void
admin_jadd(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

json_object *
admin_jstr(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

bool
admin_cache_note(const struct admin *a)
{
	if (!store_cache_stale(a->st))
		return true;
	fprintf(stderr, "relaycfgctl: %s: warning: memcached did not take "
	    "the invalidation; cached entries may be served until they "
	    "expire (run relaycfgctl invalidate when it is back)\n", a->cmd);
	return false;
}

int
admin_done(const struct admin *a, const char *what, const char *id_text,
    const char *verb)
{
	bool fresh = admin_cache_note(a);

	if (a->json) {
		json_object *o = json_object_new_object();

		admin_jadd(o, "ok", json_object_new_boolean(1));
		admin_jadd(o, what, admin_jstr(id_text));
		admin_jadd(o, "cache_invalidated",
		    json_object_new_boolean(fresh));
		admin_print_json(o);
	} else
		printf("%s %s %s\n", what, id_text, verb);
	return 0;
}

/*
 * Human output of one object: "key: value" lines, nested objects as
 * compact JSON, null as "-".  Strings are escaped (ctl_put_safe): names
 * mirrored from Sentry may hold anything.
 */
static void
print_fields(json_object *o)
{
	json_object_object_foreach(o, k, v) {
		printf("%s: ", k);
		if (v == NULL)
			fputs("-", stdout);
		else if (json_object_is_type(v, json_type_string))
			ctl_put_safe(stdout, json_object_get_string(v));
		else
			ctl_put_json(stdout,
			    json_object_to_json_string_ext(v, JSON_FLAGS));
		putchar('\n');
	}
}

int
admin_show(const struct admin *a, json_object *o)
{
	if (o == NULL)
		return admin_fail(a, "out of memory");
	if (a->json)
		admin_print_json(o);
	else {
		print_fields(o);
		json_object_put(o);
	}
	return 0;
}

/* Takes arr.  Fields are escaped as in print_fields. */
int
admin_show_list(const struct admin *a, const char *name, json_object *arr,
    const char *const *fields)
{
	if (arr == NULL)
		return admin_fail(a, "out of memory");
	if (a->json) {
		json_object *o = json_object_new_object();

		admin_jadd(o, name, arr);
		admin_print_json(o);
		return 0;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *row = json_object_array_get_idx(arr, i), *v;

		for (size_t f = 0; fields[f] != NULL; f++) {
			json_object_object_get_ex(row, fields[f], &v);
			/* Escaped: a tab or newline in a name would
			 * break the one row per line. */
			if (f > 0)
				putchar('\t');
			ctl_put_safe(stdout, v == NULL ? "-" :
			    json_object_get_string(v));
		}
		putchar('\n');
	}
	json_object_put(arr);
	return 0;
}
