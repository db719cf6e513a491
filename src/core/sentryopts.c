/*
 * sentryopts.c - Sentry's feature flags and options with self-hosted defaults
 *
 * Following a newer Sentry means editing the two tables below (and the
 * golden files the change moves); the code that reads them does not change.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "jsonstrict.h"
#include "sentryopts.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Feature flags.  The exposable ones come first, in the order of
 * EXPOSABLE_FEATURES (src/sentry/relay/config/__init__.py, 2026: 17
 * entries, which agree with src/sentry/features/temporary.py of 2026);
 * config.features lists the enabled ones in this order.  The others are
 * the flags whose value changes other parts of the config.  "selfhosted"
 * is SENTRY_FEATURES of getsentry/self-hosted sentry/sentry.conf.example.py
 * at 89a143f (2026-08-21); a flag Sentry registers with default=True would
 * be on here too (none of these is).
 */
const struct sentryfeature sentryfeatures[] = {
	/* EXPOSABLE_FEATURES, 2026 */
	{ "organizations:continuous-profiling", true, true },
	{ "organizations:session-replay-recording-scrubbing", true, false },
	{ "organizations:session-replay", true, true },
	{ "organizations:relay-generate-billing-outcome", true, false },
	{ "projects:discard-transaction", true, false },
	{ "projects:span-metrics-extraction", true, true },
	{ "projects:span-metrics-extraction-addons", true, true },
	{ "organizations:indexed-spans-extraction", true, true },
	{ SF_OURLOGS, true, true },
	{ SF_TRACEMETRICS, true, true },
	{ "organizations:performance-issues-spans", true, false },
	{ "organizations:relay-playstation-ingestion", true, false },
	{ "projects:span-v2-attachment-processing", true, false },
	{ "projects:trace-attachment-processing", true, false },
	{ "projects:relay-minidump-uploads", true, false },
	{ "projects:relay-playstation-uploads", true, false },
	{ "projects:relay-upload-multipart", true, false },

	/* read by the config builders */
	{ SF_DYNAMIC_SAMPLING, false, true },
	{ "organizations:dynamic-sampling-custom", false, false },
	{ "organizations:dynamic-sampling-minimum-sample-rate", false, false },
	{ SF_TRANSACTION_METRICS, false, true },
	{ SF_CUSTOM_INBOUND_FILTERS, false, true },
	{ "projects:rate-limits", false, true },
	{ SF_TRUSTED_RELAYS_ONLY, false, false },
	{ SF_MOBILE_PERF_SCORE, false, false },
	{ "organizations:on-demand-metrics-extraction", false, true },
	{ "organizations:profiling", false, true },
	/* registered with default=True (features/temporary.py) */
	{ "organizations:transaction-name-normalize", false, true },
};
const size_t sentryfeatures_n = N(sentryfeatures);
_Static_assert(N(sentryfeatures) <= SENTRYFEATURES_MAX,
    "raise SENTRYFEATURES_MAX");

/*
 * Options.  Defaults are those of src/sentry/options/defaults.py (2026
 * options inventory) unless self-hosted's sentry.conf.example.py sets one
 * (system.event-retention-days = 90).  The forwarded rows are RELAY_OPTIONS
 * of src/sentry/relay/globalconfig.py (0260dc5d, plus
 * relay.endpoint-fetch-config.enabled of 2026), in that order: the global
 * config's "options" sends each one whose value is not None.
 */
const struct sentryopt sentryopts[] = {
	/* RELAY_OPTIONS */
	{ "profiling.profile_metrics.unsampled_profiles.platforms",
	    SOPT_LIST, "[]", true },
	{ "profiling.profile_metrics.unsampled_profiles.sample_rate",
	    SOPT_FLOAT, "0.0", true },
	{ "profiling.profile_metrics.unsampled_profiles.enabled",
	    SOPT_BOOL, "false", true },
	{ "relay.span-usage-metric", SOPT_BOOL, "false", true },
	{ "relay.cardinality-limiter.mode", SOPT_STRING, "\"enabled\"", true },
	{ "relay.cardinality-limiter.error-sample-rate",
	    SOPT_FLOAT, "0.01", true },
	{ "relay.metric-bucket-set-encodings", SOPT_DICT, "{}", true },
	{ "relay.metric-bucket-distribution-encodings", SOPT_DICT, "{}", true },
	{ "relay.span-normalization.allowed_hosts", SOPT_LIST, "[]", true },
	{ "relay.drop-transaction-attachments", SOPT_BOOL, "false", true },
	{ "replay.relay-snuba-publishing-disabled.sample-rate",
	    SOPT_FLOAT, "0.0", true },
	{ "relay.sessions-eap.rollout-rate", SOPT_FLOAT, "0.0", true },
	{ "relay.endpoint-fetch-config.enabled", SOPT_BOOL, "true", true },

	/* read by the project config builders */
	{ "system.event-retention-days", SOPT_INT, "90", false },
	{ "dynamic-sampling.config.killswitch", SOPT_BOOL, "false", false },
	{ "relay.drop-transaction-metrics", SOPT_LIST, "[]", false },
	{ "relay.cardinality-limiter.passive-limits-by-org",
	    SOPT_DICT, "{}", false },
	{ "relay.cardinality-limiter.limits", SOPT_LIST, "[]", false },
	{ "sentry-metrics.cardinality-limiter.limits.sessions.per-org",
	    SOPT_LIST, "[{\"window_seconds\":3600,\"granularity_seconds\":600,"
	    "\"limit\":10000}]", false },
	{ "sentry-metrics.releasehealth.abnormal-mechanism-extraction-rate",
	    SOPT_FLOAT, "0.0", false },
};
const size_t sentryopts_n = N(sentryopts);
_Static_assert(N(sentryopts) <= SENTRYOPTS_MAX, "raise SENTRYOPTS_MAX");

int
sentryopt_index(const char *name)
{
	for (size_t i = 0; i < sentryopts_n; i++)
		if (strcmp(sentryopts[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
sentryfeature_index(const char *name)
{
	for (size_t i = 0; i < sentryfeatures_n; i++)
		if (strcmp(sentryfeatures[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool
sentryfeature_name_valid(const char *name)
{
	const char *p;

	if (strncmp(name, "organizations:", 14) == 0)
		p = name + 14;
	else if (strncmp(name, "projects:", 9) == 0)
		p = name + 9;
	else
		return false;
	if (*p == '\0' || strlen(p) > 128)
		return false;
	for (; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_'))
			return false;
	return true;
}

/*
 * parse_value - the JSON text as a value of type t: strict JSON first (as
 * every text relaycfg reads), then json-c.  *out is NULL for JSON null.
 * Returns 0, or -1 with a reason in why.
 */
static int
parse_value(enum sentryopt_type t, const char *json, json_object **out,
    char *why, size_t whylen)
{
	static const char *const names[] = {
		"a boolean", "an integer", "a number", "a string", "a list",
		"a dict",
	};
	json_object *v;
	const char *reason;
	bool ok;

	*out = NULL;
	if (jsonstrict_check(json, strlen(json), 16, &reason) != 0) {
		snprintf(why, whylen, "value is not JSON (%s)", reason);
		return -1;
	}
	if (jsonstrict_wide_integer(json, strlen(json))) {
		snprintf(why, whylen, "value has an integer below -2^63 or "
		    "above 2^64-1, which would be sent changed");
		return -1;
	}
	if ((v = json_tokener_parse(json)) == NULL) {
		if (strcmp(json, "null") == 0)
			return 0;
		snprintf(why, whylen, "value is not JSON");
		return -1;
	}
	switch (t) {
	case SOPT_BOOL:
		ok = json_object_is_type(v, json_type_boolean);
		break;
	case SOPT_INT:
		ok = json_object_is_type(v, json_type_int);
		break;
	case SOPT_FLOAT:
		ok = json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double);
		break;
	case SOPT_STRING:
		ok = json_object_is_type(v, json_type_string);
		break;
	case SOPT_LIST:
		ok = json_object_is_type(v, json_type_array);
		break;
	case SOPT_DICT:
	default:
		ok = json_object_is_type(v, json_type_object);
		break;
	}
	if (!ok) {
		json_object_put(v);
		snprintf(why, whylen, "value must be %s or null", names[t]);
		return -1;
	}
	*out = v;
	return 0;
}

int
sentry_settings_init(struct sentry_settings *s)
{
	char why[128];

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sentryopts_n; i++)
		if (parse_value(sentryopts[i].type, sentryopts[i].default_json,
		    &s->option[i], why, sizeof(why)) != 0) {
			/* a bad default is a typo here, or OOM */
			sentry_settings_free(s);
			return -1;
		}
	for (size_t i = 0; i < sentryfeatures_n; i++)
		s->feature[i] = sentryfeatures[i].selfhosted;
	return 0;
}

void
sentry_settings_free(struct sentry_settings *s)
{
	for (size_t i = 0; i < SENTRYOPTS_MAX; i++) {
		json_object_put(s->option[i]);
		s->option[i] = NULL;
	}
}

int
sentry_settings_set_option(struct sentry_settings *s, const char *name,
    const char *json, char *why, size_t whylen)
{
	json_object *v;
	int i;

	if ((i = sentryopt_index(name)) < 0) {
		snprintf(why, whylen, "unknown Sentry option (relaycfg reads "
		    "no such option; see relaycfg.conf(5))");
		return -1;
	}
	if (parse_value(sentryopts[i].type, json, &v, why, whylen) != 0)
		return -1;
	json_object_put(s->option[i]);
	s->option[i] = v;
	return 0;
}

json_object *
sentry_settings_option(const struct sentry_settings *s, const char *name)
{
	int i = sentryopt_index(name);

	return i < 0 ? NULL : s->option[i];
}

void
sentry_settings_digest(const struct sentry_settings *s,
    char out[SENTRY_SETTINGS_DIGEST_LEN + 1])
{
	sentry_settings_digest_for(s, PACKAGE_VERSION, out);
}

void
sentry_settings_digest_for(const struct sentry_settings *s,
    const char *version, char out[SENTRY_SETTINGS_DIGEST_LEN + 1])
{
	crypto_generichash_state st;
	unsigned char h[SENTRY_SETTINGS_DIGEST_LEN / 2];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)version,
	    strlen(version) + 1);
	for (size_t i = 0; i < sentryopts_n; i++) {
		/* name, then the value's text (or nothing for None), NUL-ended */
		const char *v = s->option[i] == NULL ? "" :
		    json_object_to_json_string_ext(s->option[i],
		    JSON_C_TO_STRING_PLAIN);

		crypto_generichash_update(&st, (const unsigned char *)
		    sentryopts[i].name, strlen(sentryopts[i].name) + 1);
		crypto_generichash_update(&st, (const unsigned char *)
		    (v != NULL ? v : "?"), strlen(v != NULL ? v : "?") + 1);
	}
	for (size_t i = 0; i < sentryfeatures_n; i++) {
		unsigned char on = s->feature[i] ? 1 : 0;

		crypto_generichash_update(&st, (const unsigned char *)
		    sentryfeatures[i].name, strlen(sentryfeatures[i].name) + 1);
		crypto_generichash_update(&st, &on, 1);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, SENTRY_SETTINGS_DIGEST_LEN + 1, h, sizeof(h));
}

bool
sentry_settings_feature(const struct sentry_settings *s, const char *name)
{
	int i = sentryfeature_index(name);

	return i >= 0 && s->feature[i];
}
