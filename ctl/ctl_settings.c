/*
 * ctl_settings.c - relaycfgctl settings: the Sentry flags and options in effect
 *
 * What relaycfg.conf's feature and sentry_option lines, over the
 * self-hosted defaults, make of the install: an operator's answer to "is
 * dynamic sampling on here?", and the digest the computed configs are
 * cached under (cache.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "conf.h"
#include "ctl_admin.h"
#include "sentryopts.h"

/* value_text - an option's value as JSON text; "null" for None. */
static const char *
value_text(json_object *v)
{
	return v == NULL ? "null" :
	    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

/*
 * settings_json - {"digest", "features": [{name, on, exposable,
 * selfhosted}], "options": [{name, value, default, forwarded}]}; NULL on
 * OOM.
 */
static json_object *
settings_json(const struct sentry_settings *s)
{
	char digest[SENTRY_SETTINGS_DIGEST_LEN + 1];
	json_object *o, *fl, *ol, *row;

	sentry_settings_digest(s, digest);
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	fl = json_object_new_array();
	ol = json_object_new_array();
	admin_jadd(o, "digest", admin_jstr(digest));
	admin_jadd(o, "features", fl);
	admin_jadd(o, "options", ol);
	if (fl == NULL || ol == NULL)
		goto fail;
	for (size_t i = 0; i < sentryfeatures_n; i++) {
		if ((row = json_object_new_object()) == NULL ||
		    json_object_array_add(fl, row) != 0) {
			json_object_put(row);
			goto fail;
		}
		admin_jadd(row, "name", admin_jstr(sentryfeatures[i].name));
		admin_jadd(row, "on", json_object_new_boolean(s->feature[i]));
		admin_jadd(row, "exposable",
		    json_object_new_boolean(sentryfeatures[i].exposable));
		admin_jadd(row, "selfhosted",
		    json_object_new_boolean(sentryfeatures[i].selfhosted));
	}
	for (size_t i = 0; i < sentryopts_n; i++) {
		if ((row = json_object_new_object()) == NULL ||
		    json_object_array_add(ol, row) != 0) {
			json_object_put(row);
			goto fail;
		}
		admin_jadd(row, "name", admin_jstr(sentryopts[i].name));
		admin_jadd(row, "value", s->option[i] == NULL ? NULL :
		    json_object_get(s->option[i]));
		admin_jadd(row, "default",
		    json_tokener_parse(sentryopts[i].default_json));
		admin_jadd(row, "forwarded",
		    json_object_new_boolean(sentryopts[i].forwarded));
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

/*
 * cmd_settings - print the settings: with --json one object, else
 * "digest D", then "feature NAME on|off" and "option NAME JSON" lines, a
 * changed value marked "(default: ...)".
 */
int
cmd_settings(struct admin *a, int argc, char **argv)
{
	static const int allowed[] = { 0 };
	const struct sentry_settings *s = &a->conf->sentry;
	char digest[SENTRY_SETTINGS_DIGEST_LEN + 1];
	struct args ar;
	int rc;

	if ((rc = admin_parse_args(a, argc, argv, allowed, &ar)) != 0 ||
	    (rc = admin_want_pos(a, &ar, 0, 0)) != 0)
		return rc;
	if (a->json) {
		json_object *o = settings_json(s);

		if (o == NULL)
			return admin_fail(a, "out of memory");
		admin_print_json(o);
		return 0;
	}
	sentry_settings_digest(s, digest);
	printf("digest %s\n", digest);
	for (size_t i = 0; i < sentryfeatures_n; i++)
		printf("feature %s %s%s\n", sentryfeatures[i].name,
		    s->feature[i] ? "on" : "off",
		    s->feature[i] != sentryfeatures[i].selfhosted ?
		    " (changed)" : "");
	for (size_t i = 0; i < sentryopts_n; i++) {
		char value[512];

		/* copied: json-c reuses one buffer per object */
		snprintf(value, sizeof(value), "%s", value_text(s->option[i]));
		if (strcmp(value, sentryopts[i].default_json) == 0)
			printf("option %s %s\n", sentryopts[i].name, value);
		else
			printf("option %s %s (default: %s)\n",
			    sentryopts[i].name, value,
			    sentryopts[i].default_json);
	}
	return 0;
}
