/*
 * test_projectconfig.c - the project state builder against golden files.
 *
 * Each golden file under tests/golden/ holds the full rendered state of one
 * scenario (fixed lastFetch/lastChange, the real rev).  They are compared
 * twice: canonically (json_object_equal) and as text after re-serializing
 * the golden file plainly, which also pins the key order.
 *
 * To regenerate after a deliberate change, run with RELAYCFG_GOLDEN_WRITE=1
 * and review the diff of tests/golden/ before committing it.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <sodium.h>

#include "conf.h"
#include "log.h"
#include "model.h"
#include "projectconfig.h"
#include "pc_testlib.h"

/* Relay keys: two real Ed25519 keys and bad ones of each kind. */
#define RELAY_PK1	"JOaR2bHZ31zYjFojC7UhPOidzfT3qOQgT9WEBw1JAKU"
#define RELAY_PK2	"6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw"
#define RELAY_OFF_CURVE	"Qca4ZYgYNH8ixMGfQtDaIZ1NMkTSFPLbtYRvRum8RxA"

/* ------------------------------------------------------------------ */
/* Helpers (the rest are pc_testlib.c's).                              */

/* golden - build, render and check one scenario. */
static void
golden(const char *name, const char *popts, const char *oopts)
{
	json_object *c = build(popts, oopts);
	char *text = render(c);

	check_golden(name, text);
	free(text);
	json_object_put(c);
}

/* ------------------------------------------------------------------ */
/* Golden scenarios.                                                   */

static void
test_fresh_project(void **state)
{
	(void)state;
	golden("fresh_project", NULL, NULL);
}

static void
test_origins(void **state)
{
	(void)state;
	golden("origins",
	    "{\"sentry:origins\":[\"HTTPS://Example.com/\",\"example.com\","
	    "\"https://example.com\",\"\",null,\"*.Foo.org//\",\"/\"]}",
	    NULL);
}

static void
test_trusted_relays(void **state)
{
	char *log;

	(void)state;
	capture_start();
	golden("trusted_relays", NULL,
	    "{\"sentry:trusted-relays\":["
	    "{\"public_key\":\"" RELAY_PK1 "\",\"name\":\"edge\","
	    "\"description\":\"\",\"created\":\"2025-01-01T00:00:00Z\"},"
	    "{\"public_key\":\"" RELAY_OFF_CURVE "\",\"name\":\"off\"},"
	    "{\"public_key\":\"" RELAY_PK1 "=\",\"name\":\"padded\"},"
	    "{\"public_key\":\"bad\\\"key\\nwith-control\"},"
	    "{},null,{\"name\":\"no key\"},"
	    "{\"public_key\":\"" RELAY_PK2 "\",\"name\":\"second\"}]}");
	log = capture_stop();
	/* each dropped entry is logged once, its text sanitized */
	assert_non_null(strstr(log, "entry 1: \"" RELAY_OFF_CURVE "\" is not"));
	assert_non_null(strstr(log, "entry 2: "));
	assert_non_null(strstr(log, "entry 3: \"bad?key?with-control\""));
	assert_non_null(strstr(log, "entry 6 has no public_key"));
	assert_null(strstr(log, "entry 4"));	/* {} is skipped silently */
	assert_null(strstr(log, "bad\"key"));
	free(log);
}

static void
test_pii_merge(void **state)
{
	(void)state;
	golden("pii_config",
	    "{\"sentry:relay_pii_config\":\"{\\\"rules\\\":{"
	    "\\\"strip\\\":{\\\"type\\\":\\\"pattern\\\","
	    "\\\"pattern\\\":\\\"secret\\\","
	    "\\\"redaction\\\":{\\\"method\\\":\\\"replace\\\","
	    "\\\"text\\\":\\\"[x]\\\"}},"
	    "\\\"both\\\":{\\\"type\\\":\\\"multiple\\\","
	    "\\\"rules\\\":[\\\"strip\\\",\\\"@ip\\\"],"
	    "\\\"hideInner\\\":true}},"
	    "\\\"applications\\\":{\\\"$string\\\":[\\\"both\\\","
	    "\\\"@email\\\"],\\\"password\\\":[\\\"strip\\\"]}}\"}",
	    "{\"sentry:relay_pii_config\":\"{\\\"applications\\\":{"
	    "\\\"$string\\\":[\\\"@creditcard\\\",\\\"orgRule\\\"]},"
	    "\\\"rules\\\":{\\\"orgRule\\\":{\\\"type\\\":\\\"multiple\\\","
	    "\\\"rules\\\":[],\\\"rule\\\":\\\"orgRule\\\"},"
	    "\\\"aliasRule\\\":{\\\"type\\\":\\\"multiple\\\","
	    "\\\"rules\\\":[],\\\"rule\\\":\\\"orgRule\\\"}}}\"}");
}

static void
test_pii_bad_text(void **state)
{
	json_object *c, *fresh;

	(void)state;
	/* not JSON, JSON of the wrong shape, an object instead of text */
	c = build("{\"sentry:relay_pii_config\":\"{not json\"}",
	    "{\"sentry:relay_pii_config\":{\"rules\":{}}}");
	fresh = build(NULL, NULL);
	assert_true(json_object_equal(get(c, "config", "piiConfig", NULL),
	    get(fresh, "config", "piiConfig", NULL)));
	json_object_put(c);
	c = build("{\"sentry:relay_pii_config\":\"[1,2]\"}",
	    "{\"sentry:relay_pii_config\":\"{} trailing\"}");
	assert_int_equal(json_object_object_length(
	    get(c, "config", "piiConfig", NULL)), 0);
	json_object_put(c);
	/* a rule Relay could not parse goes, with the references to it */
	c = build("{\"sentry:relay_pii_config\":\"{\\\"rules\\\":{"
	    "\\\"bad\\\":\\\"oops\\\",\\\"good\\\":{"
	    "\\\"type\\\":\\\"email\\\"}},\\\"applications\\\":{"
	    "\\\"$string\\\":[\\\"bad\\\",\\\"good\\\",3]}}\"}",
	    NULL);
	assert_string_equal(json_object_to_json_string_ext(get(c, "config",
	    "piiConfig", NULL), JSON_C_TO_STRING_PLAIN),
	    "{\"rules\":{\"project:good\":{\"type\":\"email\"}},"
	    "\"applications\":{\"$string\":[\"project:good\"]}}");
	json_object_put(c);
	json_object_put(fresh);
}

/*
 * A rule object Relay's RuleSpec cannot parse (unknown type, a type
 * without the fields it needs, a bad redaction) would make Relay refuse
 * the whole project: it goes, with the references to it; the rules Relay
 * takes stay, unknown redaction methods included (Relay's Other).
 */
static void
test_pii_rules_relay_refuses(void **state)
{
	json_object *c, *rules;
	char *log;
	static const char *const kept[] = {
		"project:p", "project:pg", "project:rp", "project:rp2",
		"project:m", "project:a", "project:e", "project:r1",
		"project:r2"
	};
	static const char *const dropped[] = {
		"project:bogus", "project:unknown", "project:notype",
		"project:p0", "project:pn", "project:pg2", "project:rp0",
		"project:m0", "project:m1", "project:mh", "project:a0",
		"project:r0", "project:r3", "project:r4"
	};

	(void)state;
	capture_start();
	c = build("{\"sentry:relay_pii_config\":\"{\\\"rules\\\":{"
	    "\\\"p\\\":{\\\"type\\\":\\\"pattern\\\",\\\"pattern\\\":\\\"x\\\"},"
	    "\\\"pg\\\":{\\\"type\\\":\\\"pattern\\\",\\\"pattern\\\":\\\"x\\\","
	    "\\\"replaceGroups\\\":[0,255]},"
	    "\\\"rp\\\":{\\\"type\\\":\\\"redact_pair\\\",\\\"keyPattern\\\":\\\"k\\\"},"
	    "\\\"rp2\\\":{\\\"type\\\":\\\"redactPair\\\",\\\"keyPattern\\\":\\\"k\\\"},"
	    "\\\"m\\\":{\\\"type\\\":\\\"multiple\\\",\\\"rules\\\":[\\\"p\\\"],"
	    "\\\"hideInner\\\":false},"
	    "\\\"a\\\":{\\\"type\\\":\\\"alias\\\",\\\"rule\\\":\\\"p\\\"},"
	    "\\\"e\\\":{\\\"type\\\":\\\"us_ssn\\\"},"
	    "\\\"r1\\\":{\\\"type\\\":\\\"ip\\\",\\\"redaction\\\":"
	    "{\\\"method\\\":\\\"replace\\\"}},"
	    "\\\"r2\\\":{\\\"type\\\":\\\"ip\\\",\\\"redaction\\\":"
	    "{\\\"method\\\":\\\"future\\\",\\\"text\\\":1}},"
	    "\\\"bogus\\\":{\\\"type\\\":\\\"bogus\\\"},"
	    "\\\"unknown\\\":{\\\"type\\\":\\\"unknown\\\"},"
	    "\\\"notype\\\":{\\\"pattern\\\":\\\"x\\\"},"
	    "\\\"p0\\\":{\\\"type\\\":\\\"pattern\\\"},"
	    "\\\"pn\\\":{\\\"type\\\":\\\"pattern\\\",\\\"pattern\\\":5},"
	    "\\\"pg2\\\":{\\\"type\\\":\\\"pattern\\\",\\\"pattern\\\":\\\"x\\\","
	    "\\\"replaceGroups\\\":[256]},"
	    "\\\"rp0\\\":{\\\"type\\\":\\\"redact_pair\\\"},"
	    "\\\"m0\\\":{\\\"type\\\":\\\"multiple\\\",\\\"rule\\\":\\\"p\\\"},"
	    "\\\"m1\\\":{\\\"type\\\":\\\"multiple\\\",\\\"rules\\\":[1]},"
	    "\\\"mh\\\":{\\\"type\\\":\\\"multiple\\\",\\\"rules\\\":[],"
	    "\\\"hideInner\\\":\\\"yes\\\"},"
	    "\\\"a0\\\":{\\\"type\\\":\\\"alias\\\"},"
	    "\\\"r0\\\":{\\\"type\\\":\\\"ip\\\",\\\"redaction\\\":\\\"remove\\\"},"
	    "\\\"r3\\\":{\\\"type\\\":\\\"ip\\\",\\\"redaction\\\":{}},"
	    "\\\"r4\\\":{\\\"type\\\":\\\"ip\\\",\\\"redaction\\\":"
	    "{\\\"method\\\":\\\"replace\\\",\\\"text\\\":1}}},"
	    "\\\"applications\\\":{\\\"$string\\\":[\\\"bogus\\\",\\\"p\\\"]}}\"}",
	    NULL);
	log = capture_stop();
	rules = get(c, "config", "piiConfig", "rules", NULL);
	assert_non_null(rules);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (!json_object_object_get_ex(rules, kept[i], NULL))
			fail_msg("rule %s was dropped", kept[i]);
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		if (json_object_object_get_ex(rules, dropped[i], NULL))
			fail_msg("rule %s was kept", dropped[i]);
	assert_string_equal(json_object_to_json_string_ext(get(c, "config",
	    "piiConfig", "applications", NULL), JSON_C_TO_STRING_PLAIN),
	    "{\"$string\":[\"project:p\"]}");
	assert_non_null(strstr(log, "a rule Relay would refuse (a rule type "
	    "Relay does not know); dropped"));
	json_object_put(c);
	free(log);
}

static void
test_datascrubbing(void **state)
{
	(void)state;
	golden("datascrubbing",
	    "{\"sentry:safe_fields\":[\"safeProject\"],"
	    "\"sentry:sensitive_fields\":[\"token\",7],"
	    "\"sentry:scrub_data\":false,"
	    "\"sentry:scrub_ip_address\":true,"
	    "\"sentry:scrub_defaults\":false}",
	    "{\"sentry:safe_fields\":[\"safeOrg\"],"
	    "\"sentry:sensitive_fields\":[\"password\"],"
	    "\"sentry:require_scrub_defaults\":false}");
}

static void
test_datascrubbing_org_requires(void **state)
{
	json_object *c, *s;

	(void)state;
	c = build("{\"sentry:scrub_data\":false,\"sentry:scrub_defaults\":false}",
	    "{\"sentry:require_scrub_data\":true,"
	    "\"sentry:require_scrub_ip_address\":1,"
	    "\"sentry:require_scrub_defaults\":true}");
	s = get(c, "config", "datascrubbingSettings", NULL);
	assert_true(json_object_get_boolean(get(s, "scrubData", NULL)));
	assert_true(json_object_get_boolean(get(s, "scrubIpAddresses", NULL)));
	assert_true(json_object_get_boolean(get(s, "scrubDefaults", NULL)));
	json_object_put(c);
}

static void
test_filters_static(void **state)
{
	(void)state;
	golden("filters_static",
	    "{\"filters:localhost\":\"1\","
	    "\"filters:browser-extensions\":true,"
	    "\"filters:legacy-browsers\":[\"ie\",\"safari\",3],"
	    "\"filters:web-crawlers\":\"1\","
	    "\"filters:filtered-transaction\":\"0\"}",
	    NULL);
}

static void
test_filters_old_epoch(void **state)
{
	(void)state;
	/* epoch 5: web crawlers on by default; legacy "1" means "default" */
	golden("filters_old_epoch",
	    "{\"sentry:option-epoch\":5,\"filters:legacy-browsers\":\"1\"}",
	    NULL);
}

static void
test_filters_custom(void **state)
{
	(void)state;
	golden("filters_custom",
	    "{\"sentry:releases\":[\"1.*\",\"beta\"],"
	    "\"sentry:error_messages\":[\"*ResizeObserver*\"],"
	    "\"sentry:blacklisted_ips\":[\"10.0.0.0/8\",\"192.168.1.1\"],"
	    "\"sentry:csp_ignored_sources_defaults\":false,"
	    "\"sentry:csp_ignored_sources\":[\"evil.example\"]}",
	    NULL);
}

static void
test_filters_generic(void **state)
{
	(void)state;
	golden("filters_generic",
	    "{\"filters:chunk-load-error\":\"0\","
	    "\"filters:react-hydration-errors\":true,"
	    "\"sentry:log_messages\":[\"*debug*\"],"
	    "\"sentry:trace_metric_names\":[\"test.*\"],"
	    "\"filters:filtered-transaction\":false,"
	    "\"sentry:csp_ignored_sources_defaults\":0}",
	    "{\"relaycfg:features\":[\"organizations:ourlogs-ingestion\","
	    "\"organizations:tracemetrics-ingestion\"]}");
}

static void
test_filters_all_off(void **state)
{
	json_object *c;

	(void)state;
	/* nothing enabled: filterSettings is left out entirely */
	c = build("{\"filters:filtered-transaction\":\"0\","
	    "\"filters:chunk-load-error\":\"0\","
	    "\"filters:react-hydration-errors\":false,"
	    "\"sentry:csp_ignored_sources_defaults\":false}", NULL);
	assert_null(get(c, "config", "filterSettings", NULL));
	assert_false(json_object_object_get_ex(get(c, "config", NULL),
	    "filterSettings", NULL));
	json_object_put(c);
}

static void
test_key_quota(void **state)
{
	struct model_projectkey limited = key1, unlimited = key1;
	const struct model_projectkey *keys[] = { &limited, &unlimited };
	json_object *c;
	char *text;

	(void)state;
	limited.has_rate_limit = true;
	limited.rate_limit_count = 600;
	limited.rate_limit_window = 60;
	unlimited.id = 102;
	strcpy(unlimited.public_key, "f0000000000000000000000000000001");
	unlimited.status = 1;
	unlimited.has_rate_limit = true;	/* count 0 means no limit */
	unlimited.rate_limit_count = 0;
	unlimited.rate_limit_window = 60;
	c = build_keys(NULL, NULL, keys, 2);
	text = render(c);
	check_golden("key_quota", text);
	free(text);
	json_object_put(c);

	/*
	 * get_key_quota: no key quota without projects:rate-limits (the
	 * monitor quota stays, the only entry left)
	 */
	c = build_keys("{\"relaycfg:features\":[\"-projects:rate-limits\"]}",
	    NULL, keys, 2);
	assert_int_equal(json_object_array_length(get(c, "config", "quotas",
	    NULL)), 1);
	json_object_put(c);
	/* the organization's switch, and the project's over it */
	c = build_keys(NULL, "{\"relaycfg:features\":[\"-projects:rate-limits\"]}",
	    keys, 2);
	assert_int_equal(json_object_array_length(get(c, "config", "quotas",
	    NULL)), 1);
	json_object_put(c);
	c = build_keys("{\"relaycfg:features\":[\"projects:rate-limits\"]}",
	    "{\"relaycfg:features\":[\"-projects:rate-limits\"]}", keys, 2);
	assert_int_equal(json_object_array_length(get(c, "config", "quotas",
	    NULL)), 2);
	json_object_put(c);
}

/*
 * RedisQuota.get_quotas (self-hosted's SENTRY_QUOTAS) always adds the
 * project's monitor check-in quota, get_project_monitor_quota of
 * src/sentry/monitors/rate_limit.py: ALLOWED_MINIMUM (50) plus
 * crons.per_monitor_rate_limit per monitor environment (relaycfg has no
 * monitors: 0), per QUOTA_WINDOW (60 s).  So a fresh project has quotas.
 * Stored copies: quotas/redis.py ids 1675265832 and 70205037867,
 * monitors/rate_limit.py @07338b5b (id 70095776362).
 */
static void
test_monitor_quota(void **state)
{
	json_object *c;

	(void)state;
	c = build(NULL, NULL);
	assert_string_equal(json_object_to_json_string_ext(get(c, "config",
	    "quotas", NULL), JSON_C_TO_STRING_PLAIN),
	    "[{\"id\":\"mrl\",\"scope\":\"project\",\"scopeId\":\"42\","
	    "\"categories\":[\"monitor\"],\"limit\":50,\"window\":60,"
	    "\"reasonCode\":\"monitor_rate_limit\"}]");
	json_object_put(c);
}

static void
test_option_quotas(void **state)
{
	char *log;

	(void)state;
	capture_start();
	golden("option_quotas",
	    "{\"relaycfg:quotas\":["
	    "{\"id\":\"p\",\"categories\":[\"error\",\"transaction\"],"
	    "\"limit\":1000,\"window\":3600,\"reasonCode\":\"project_quota\"},"
	    "{\"limit\":0,\"categories\":[\"attachment\"],"
	    "\"reasonCode\":\"no_attachments\"},"
	    "{\"id\":\"x\",\"limit\":5,\"window\":60},"
	    "{\"id\":\"y\",\"scope\":\"key\",\"window\":60},"
	    "{\"id\":\"z\",\"limit\":-1,\"window\":60,\"reasonCode\":\"r\"},"
	    "\"nope\"]}",
	    "{\"relaycfg:quotas\":["
	    "{\"id\":\"o\",\"limit\":100000,\"window\":86400,"
	    "\"reasonCode\":\"org_quota\",\"namespace\":\"custom\","
	    "\"scopeId\":\"999\",\"color\":\"red\"},"
	    "{\"id\":\"u\",\"window\":60},"
	    "{\"id\":\"c\",\"limit\":1,\"window\":60,\"reasonCode\":\"r\","
	    "\"categories\":[\"Error\"]}]}");
	log = capture_stop();
	assert_non_null(strstr(log, "entry 2: a limit needs a reasonCode"));
	assert_non_null(strstr(log, "entry 3: scope is neither"));
	assert_non_null(strstr(log, "entry 4: limit is not an integer"));
	assert_non_null(strstr(log, "entry 5 is string"));
	assert_non_null(strstr(log, "categories holds a bad name"));
	assert_non_null(strstr(log, "unknown field ignored"));
	free(log);
}

static void
test_features(void **state)
{
	char *log;

	(void)state;
	capture_start();
	/*
	 * On the self-hosted defaults: the project switches a project flag
	 * on and one off, the organization switches flags of both kinds on
	 * and off, and the project's word on a project flag wins.
	 */
	golden("features",
	    "{\"relaycfg:features\":[\"projects:discard-transaction\","
	    "\"-projects:span-metrics-extraction-addons\","
	    "\"organizations:profiling\",\"projects:no-such-flag\",7,"
	    "\"projects:relay-upload-multipart\"]}",
	    "{\"relaycfg:features\":[\"-organizations:session-replay\","
	    "\"organizations:relay-generate-billing-outcome\","
	    "\"organizations:ingest-through-trusted-relays-only\","
	    "\"organizations:performance-calculate-mobile-perf-score-relay\","
	    "\"-projects:relay-upload-multipart\","
	    "\"-organizations:continuous-profiling\"]}");
	log = capture_stop();
	assert_non_null(strstr(log, "unknown feature \"projects:no-such-flag\""));
	assert_non_null(strstr(log, "organization feature "
	    "\"organizations:profiling\" belongs"));
	free(log);
}

static void
test_trusted_relay_settings(void **state)
{
	json_object *c;

	(void)state;
	golden("trusted_relay_settings", NULL,
	    "{\"sentry:ingest-through-trusted-relays-only\":\"enabled\"}");
	/* Relay takes only the string; an old boolean is converted */
	c = build(NULL, "{\"sentry:ingest-through-trusted-relays-only\":false}");
	assert_string_equal(json_object_get_string(get(c, "config",
	    "trustedRelaySettings", "verifySignature", NULL)), "disabled");
	json_object_put(c);
	c = build(NULL, "{\"sentry:ingest-through-trusted-relays-only\":\"on\"}");
	assert_null(get(c, "config", "trustedRelaySettings", NULL));
	json_object_put(c);
}

static void
test_misc_options(void **state)
{
	char *log, why[160];

	(void)state;
	/* 0 days: no limit, the key is left out */
	assert_int_equal(sentry_settings_set_option(&conf->sentry,
	    "system.event-retention-days", "0", why, sizeof(why)), 0);
	capture_start();
	golden("misc_options",
	    "{\"sentry:breakdowns\":{\"span_ops\":{\"type\":\"spanOperations\","
	    "\"matches\":[\"db\"]}},"
	    "\"sentry:grouping_config\":\"legacy:2019-03-12\","
	    "\"sentry:grouping_enhancements\":\"family:native -app\"}",
	    NULL);
	log = capture_stop();
	assert_int_equal(sentry_settings_set_option(&conf->sentry,
	    "system.event-retention-days", "90", why, sizeof(why)), 0);
	assert_non_null(strstr(log, "grouping config unknown"));
	assert_non_null(strstr(log, "custom stack trace rules"));
	free(log);
}

/*
 * sentry:breakdowns goes out as stored, but Relay's breakdownsV2 is no
 * error boundary: a breakdown its BreakdownConfig enum cannot take (not an
 * object, no string type, spanOperations without a list of strings as
 * matches) would make Relay refuse the whole project, so it is left out.
 * Unknown types parse (Relay's Unsupported), and so does the alias.
 */
static void
test_breakdowns_relay_refuses(void **state)
{
	json_object *c;
	char *log;

	(void)state;
	capture_start();
	c = build("{\"sentry:breakdowns\":{"
	    "\"a\":{\"type\":\"spanOperations\",\"matches\":[\"db\"]},"
	    "\"n\":1,"
	    "\"b\":{\"type\":\"span_operations\",\"matches\":[]},"
	    "\"nt\":{\"matches\":[\"db\"]},"
	    "\"t5\":{\"type\":5},"
	    "\"nm\":{\"type\":\"spanOperations\"},"
	    "\"ms\":{\"type\":\"spanOperations\",\"matches\":\"db\"},"
	    "\"m1\":{\"type\":\"spanOperations\",\"matches\":[\"db\",1]},"
	    "\"c\":{\"type\":\"futureKind\",\"x\":1}}}", NULL);
	log = capture_stop();
	assert_non_null(c);
	assert_string_equal(json_object_to_json_string_ext(
	    get(c, "config", "breakdownsV2", NULL), JSON_C_TO_STRING_PLAIN),
	    "{\"a\":{\"type\":\"spanOperations\",\"matches\":[\"db\"]},"
	    "\"b\":{\"type\":\"span_operations\",\"matches\":[]},"
	    "\"c\":{\"type\":\"futureKind\",\"x\":1}}");
	assert_non_null(strstr(log, "option sentry:breakdowns: a breakdown "
	    "Relay would refuse (not an object); dropped"));
	assert_non_null(strstr(log, "(matches holds a non-string)"));
	json_object_put(c);
	free(log);
}

/* generic_ids - the ids of c's generic filters, comma-separated. */
static void
generic_ids(json_object *c, char *buf, size_t len)
{
	json_object *f = get(c, "config", "filterSettings", "generic",
	    "filters", NULL);
	size_t n = f == NULL ? 0 : json_object_array_length(f);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(buf);

		snprintf(buf + used, len - used, "%s%s", i > 0 ? "," : "",
		    json_object_get_string(get(json_object_array_get_idx(f, i),
		    "id", NULL)));
	}
}

/*
 * releases and errorMessages only with projects:custom-inbound-filters; the
 * log-message and trace-metric-name generic filters need it too (Sentry
 * builds them in the same branch), beside their own ourlogs/tracemetrics
 * flag (both on in self-hosted).
 */
static void
test_custom_inbound_filters_flag(void **state)
{
	static const char opts[] =
	    "{\"sentry:releases\":[\"1.*\"],\"sentry:error_messages\":[\"x*\"],"
	    "\"sentry:log_messages\":[\"*debug*\"],"
	    "\"sentry:trace_metric_names\":[\"test.*\"],"
	    "\"relaycfg:features\":[%s]}";
	char on[512], off[512], ids[256];
	json_object *c;

	(void)state;
	snprintf(on, sizeof(on), opts, "");
	snprintf(off, sizeof(off), opts, "\"-projects:custom-inbound-filters\"");
	c = build(on, NULL);
	assert_non_null(get(c, "config", "filterSettings", "releases", NULL));
	assert_non_null(get(c, "config", "filterSettings", "errorMessages",
	    NULL));
	generic_ids(c, ids, sizeof(ids));
	assert_string_equal(ids, "log-message,trace-metric-name,"
	    "chunk-load-error,react-hydration-errors");
	json_object_put(c);
	c = build(off, NULL);
	assert_null(get(c, "config", "filterSettings", "releases", NULL));
	assert_null(get(c, "config", "filterSettings", "errorMessages", NULL));
	assert_non_null(get(c, "config", "filterSettings", "csp", NULL));
	generic_ids(c, ids, sizeof(ids));
	assert_string_equal(ids, "chunk-load-error,react-hydration-errors");
	json_object_put(c);
}

/*
 * sessionMetrics 2 for the organizations sample_modulo picks: org 7 when
 * 7 < 100 * rate in doubles, as in Python (100 * 0.07 is 7.000000000000001).
 */
static void
test_session_metrics_sampled(void **state)
{
	static const char name[] =
	    "sentry-metrics.releasehealth.abnormal-mechanism-extraction-rate";
	static const struct {
		const char	*rate;
		int		 version;
	} cases[] = {
		{ "0.0", 1 }, { "0.06", 1 }, { "0.07", 2 }, { "1", 2 },
		{ "null", 1 },
	};
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *c;

		assert_int_equal(sentry_settings_set_option(&conf->sentry, name,
		    cases[i].rate, why, sizeof(why)), 0);
		c = build(NULL, NULL);
		assert_int_equal(json_object_get_int(get(c, "config",
		    "sessionMetrics", "version", NULL)), cases[i].version);
		json_object_put(c);
	}
	assert_int_equal(sentry_settings_set_option(&conf->sentry, name, "0.0",
	    why, sizeof(why)), 0);
}

/* ------------------------------------------------------------------ */
/* Properties.                                                         */

static void
test_disabled_project(void **state)
{
	struct model_project p = project;
	json_object *c;
	char *text;
	size_t len = 0;

	(void)state;
	for (int status = 1; status <= 3; status++) {
		p.status = status;
		c = projectconfig_content(&p, &org, NULL, 0, NULL, NULL, NULL,
		    conf);
		assert_non_null(c);
		assert_string_equal(json_object_to_json_string_ext(c,
		    JSON_C_TO_STRING_PLAIN), "{\"disabled\":true}");
		text = projectconfig_render(c, "ignored", FETCH, CHANGE, &len);
		assert_string_equal(text, "{\"disabled\":true}");
		assert_int_equal(len, 17);
		free(text);
		json_object_put(c);
	}
}

/*
 * Every option set to a value of the wrong type: each falls back to its
 * default, so the config equals a fresh one, and a warning is logged.
 */
static void
test_wrong_types_fall_back(void **state)
{
	json_object *c, *fresh;
	char *log;

	(void)state;
	capture_start();
	c = build("{\"sentry:origins\":\"*\","
	    "\"sentry:relay_pii_config\":42,"
	    "\"sentry:safe_fields\":\"a\","
	    "\"sentry:sensitive_fields\":{},"
	    "\"sentry:scrub_data\":\"yes\","
	    "\"sentry:scrub_ip_address\":[],"
	    "\"sentry:scrub_defaults\":\"no\","
	    "\"relaycfg:features\":\"organizations:profiling\","
	    "\"sentry:breakdowns\":[1],"
	    "\"sentry:option-epoch\":\"15\","
	    "\"filters:localhost\":5,"
	    "\"filters:legacy-browsers\":\"ie\","
	    "\"filters:web-crawlers\":{},"
	    "\"filters:browser-extensions\":[\"x\"],"
	    "\"filters:filtered-transaction\":2.5,"
	    "\"filters:chunk-load-error\":7,"
	    "\"sentry:releases\":\"1.0\","
	    "\"sentry:error_messages\":{\"a\":1},"
	    "\"sentry:blacklisted_ips\":\"10.0.0.1\","
	    "\"sentry:csp_ignored_sources_defaults\":\"false\","
	    "\"sentry:csp_ignored_sources\":\"x\","
	    "\"sentry:grouping_config\":3,"
	    "\"relaycfg:quotas\":{\"id\":\"q\"}}",
	    "{\"sentry:trusted-relays\":\"" RELAY_PK1 "\","
	    "\"sentry:relay_pii_config\":[],"
	    "\"sentry:safe_fields\":1,"
	    "\"sentry:require_scrub_data\":\"true\","
	    "\"sentry:require_scrub_ip_address\":{},"
	    "\"sentry:require_scrub_defaults\":[true],"
	    "\"sentry:ingest-through-trusted-relays-only\":1,"
	    "\"relaycfg:features\":{},"
	    "\"relaycfg:quotas\":true}");
	log = capture_stop();
	fresh = build(NULL, NULL);
	if (!json_object_equal(c, fresh))
		fail_msg("wrong-typed options changed the config:\n%s",
		    json_object_to_json_string(c));
	assert_non_null(strstr(log, "option sentry:origins: expected array, "
	    "got string; using the default"));
	assert_non_null(strstr(log, "organization 7: option "
	    "sentry:trusted-relays"));
	assert_non_null(strstr(log, "project 42: option filters:localhost"));
	/* values never reach the log */
	assert_null(strstr(log, RELAY_PK1));
	assert_null(strstr(log, "10.0.0.1"));
	json_object_put(c);
	json_object_put(fresh);
	free(log);
}

static void
test_no_options_objects(void **state)
{
	json_object *a, *b, *c, *junk = parse("[1,2,3]");

	(void)state;
	a = build(NULL, NULL);
	b = build("{}", "{}");
	c = projectconfig_content(&project, &org,
	    (const struct model_projectkey *const[]){ &key1 }, 1, junk, junk,
	    NULL, conf);
	assert_non_null(c);
	assert_true(json_object_equal(a, b));
	assert_true(json_object_equal(a, c));
	json_object_put(a);
	json_object_put(b);
	json_object_put(c);
	json_object_put(junk);
}

static void
test_public_keys(void **state)
{
	struct model_projectkey inactive = key1;
	const struct model_projectkey *keys[] = { &key1, &inactive };
	json_object *c, *pk;

	(void)state;
	inactive.id = 9007199254740993LL;	/* beyond a double's precision */
	inactive.status = 1;
	c = build_keys(NULL, NULL, keys, 2);
	pk = get(c, "publicKeys", NULL);
	assert_int_equal(json_object_array_length(pk), 2);
	assert_true(json_object_get_boolean(get(json_object_array_get_idx(pk,
	    0), "isEnabled", NULL)));
	assert_false(json_object_get_boolean(get(json_object_array_get_idx(pk,
	    1), "isEnabled", NULL)));
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(
	    pk, 1), "numericId", NULL)), 9007199254740993LL);
	json_object_put(c);
	c = build_keys(NULL, NULL, NULL, 0);
	assert_int_equal(json_object_array_length(get(c, "publicKeys", NULL)),
	    0);
	json_object_put(c);
}

/* walk - fail on any object key holding '_' or '-', except user maps. */
static void
walk_keys(json_object *o, const char *path)
{
	char sub[512];

	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			walk_keys(json_object_array_get_idx(o, i), path);
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k, v) {
		snprintf(sub, sizeof(sub), "%s.%s", path, k);
		if (strcmp(k, "breakdownsV2") == 0)
			continue;	/* Sentry's own exception */
		if (strpbrk(k, "_-") != NULL)
			fail_msg("snake/kebab key at %s", sub);
		walk_keys(v, sub);
	}
}

static void
test_no_snake_or_kebab_keys(void **state)
{
	static const char *const names[] = {
		"fresh_project", "origins", "trusted_relays", "pii_config",
		"datascrubbing", "filters_static", "filters_old_epoch",
		"filters_custom", "filters_generic", "key_quota",
		"option_quotas", "features", "trusted_relay_settings",
		"misc_options",
	};
	char path[1024], *text;
	json_object *o;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		golden_path(path, sizeof(path), names[i]);
		text = read_file(path);
		o = parse(text);
		walk_keys(o, names[i]);
		json_object_put(o);
		free(text);
	}
}

static void
test_rev(void **state)
{
	/* one option change per line, each must move the rev */
	static const char *const variants[][2] = {
		{ "{\"sentry:origins\":[\"a.example\"]}", NULL },
		{ NULL, "{\"sentry:trusted-relays\":[{\"public_key\":\""
		    RELAY_PK1 "\"}]}" },
		{ "{\"sentry:relay_pii_config\":\"{\\\"applications\\\":"
		    "{\\\"$string\\\":[\\\"@ip\\\"]}}\"}", NULL },
		{ "{\"sentry:scrub_ip_address\":true}", NULL },
		{ NULL, "{\"sentry:safe_fields\":[\"x\"]}" },
		{ "{\"filters:localhost\":\"1\"}", NULL },
		{ "{\"filters:chunk-load-error\":\"0\"}", NULL },
		{ "{\"sentry:breakdowns\":{}}", NULL },
		{ NULL, "{\"relaycfg:features\":[\"-organizations:session-replay\"]}" },
		{ "{\"relaycfg:features\":[\"projects:discard-transaction\"]}",
		    NULL },
		{ "{\"relaycfg:quotas\":[{\"limit\":0,"
		    "\"reasonCode\":\"stop\"}]}", NULL },
		{ "{\"sentry:option-epoch\":1}", NULL },
	};
	char base[PROJECTCONFIG_REV_LEN + 1], again[PROJECTCONFIG_REV_LEN + 1];
	char other[PROJECTCONFIG_REV_LEN + 1];
	json_object *a, *b, *reordered;
	regex_t re;

	(void)state;
	a = build(NULL, NULL);
	b = build(NULL, NULL);
	assert_int_equal(projectconfig_rev(a, base), 0);
	assert_int_equal(projectconfig_rev(b, again), 0);
	assert_string_equal(base, again);
	assert_int_equal(regcomp(&re, "^[0-9a-f]{32}$", REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, base, 0, NULL, 0), 0);
	regfree(&re);
	json_object_put(b);

	/* key order alone does not move the rev */
	reordered = parse(json_object_to_json_string(a));
	json_object_object_del(reordered, "slug");
	json_object_object_add(reordered, "slug",
	    json_object_new_string("bar"));
	assert_int_equal(projectconfig_rev(reordered, other), 0);
	assert_string_equal(base, other);
	json_object_put(reordered);

	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		b = build(variants[i][0], variants[i][1]);
		assert_int_equal(projectconfig_rev(b, other), 0);
		if (strcmp(base, other) == 0)
			fail_msg("variant %zu did not change the rev", i);
		json_object_put(b);
	}

	/* and the project's own fields */
	{
		struct model_project p = project;

		p.slug = "renamed";
		b = projectconfig_content(&p, &org,
		    (const struct model_projectkey *const[]){ &key1 }, 1, NULL,
		    NULL, NULL, conf);
		assert_int_equal(projectconfig_rev(b, other), 0);
		assert_string_not_equal(base, other);
		json_object_put(b);
	}
	json_object_put(a);
}

/*
 * The caller caches the content as text and renders it later: a parsed
 * copy must give the same rev and the same text, numbers included.
 */
static void
test_cache_round_trip(void **state)
{
	json_object *c = build("{\"sentry:relay_pii_config\":\"{\\\"rules\\\":"
	    "{\\\"r\\\":{\\\"type\\\":\\\"pattern\\\","
	    "\\\"pattern\\\":\\\"x\\\",\\\"w\\\":1e2}}}\"}",
	    NULL), *back;
	char *a, *b;

	(void)state;
	back = parse(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
	a = render(c);
	b = render(back);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "\"weight\":0.3,"));
	assert_non_null(strstr(a, "\"w\":1e2"));
	free(a);
	free(b);
	json_object_put(back);
	json_object_put(c);
	/* not an object: nothing to render */
	back = parse("[1]");
	assert_null(projectconfig_render(back, "r", FETCH, CHANGE, NULL));
	json_object_put(back);
}

static void
test_format_time(void **state)
{
	char buf[PROJECTCONFIG_TIME_LEN + 1];
	regex_t re;

	(void)state;
	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
	    "[0-9]{2}:[0-9]{2}\\.[0-9]+Z$", REG_EXTENDED), 0);
	assert_int_equal(projectconfig_format_time(0, 0, buf), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
	assert_int_equal(regexec(&re, buf, 0, NULL, 0), 0);
	assert_int_equal(projectconfig_format_time(1735787045, 678901, buf), 0);
	assert_string_equal(buf, FETCH);
	assert_int_equal(regexec(&re, buf, 0, NULL, 0), 0);
	assert_int_equal(projectconfig_format_time(253402300799LL, 999999,
	    buf), 0);
	assert_string_equal(buf, "9999-12-31T23:59:59.999999Z");
	strcpy(buf, "untouched");
	assert_int_equal(projectconfig_format_time(0, 1000000, buf), -1);
	assert_int_equal(projectconfig_format_time(0, -1, buf), -1);
	assert_int_equal(projectconfig_format_time(253402300800LL, 0, buf), -1);
	assert_string_equal(buf, "untouched");
	assert_int_equal(regexec(&re, FETCH, 0, NULL, 0), 0);
	assert_int_equal(regexec(&re, CHANGE, 0, NULL, 0), 0);
	regfree(&re);
}

static void
test_render_order_and_extra_keys(void **state)
{
	json_object *c = parse("{\"projectId\":1,\"extra\":[1],"
	    "\"config\":{},\"disabled\":false,\"organizationId\":2,"
	    "\"publicKeys\":[],\"slug\":\"s\"}");
	char *text;

	(void)state;
	text = projectconfig_render(c, "r", "f", "l", NULL);
	assert_string_equal(text, "{\"disabled\":false,\"slug\":\"s\","
	    "\"lastFetch\":\"f\",\"lastChange\":\"l\",\"rev\":\"r\","
	    "\"publicKeys\":[],\"config\":{},\"organizationId\":2,"
	    "\"projectId\":1,\"extra\":[1]}");
	free(text);
	/* rendering shares, never changes, the content */
	assert_string_equal(json_object_to_json_string_ext(c,
	    JSON_C_TO_STRING_PLAIN), "{\"projectId\":1,\"extra\":[1],"
	    "\"config\":{},\"disabled\":false,\"organizationId\":2,"
	    "\"publicKeys\":[],\"slug\":\"s\"}");
	json_object_put(c);
}

static void
test_slashes_not_escaped(void **state)
{
	json_object *c = build("{\"sentry:origins\":[\"https://a.example/x\"]}",
	    NULL);
	char *text = render(c);

	(void)state;
	assert_non_null(strstr(text, "\"https://a.example/x\""));
	assert_null(strstr(text, "\\/"));
	free(text);
	json_object_put(c);
}

#ifdef FAULT_INJECTION
/* What every build of test_allocation_failures builds from. */
struct build_args {
	const struct model_projectkey *const *keys;
	json_object	*p, *o;
};

/* An attempt for fi_fail_each: build, rev and render, freeing all. */
static bool
build_render(void *arg)
{
	struct build_args *a = arg;
	char rev[PROJECTCONFIG_REV_LEN + 1], *text = NULL;
	json_object *c;
	bool ok;

	c = projectconfig_content(&project, &org, a->keys, 1, a->p, a->o,
	    NULL, conf);
	ok = c != NULL && projectconfig_rev(c, rev) == 0 &&
	    (text = projectconfig_render(c, rev, FETCH, CHANGE, NULL)) != NULL;
	free(text);
	json_object_put(c);
	return ok;
}

/*
 * Fail each allocation of a build in turn: every call must then report
 * failure (NULL or -1) and leave no block behind, or succeed as if nothing
 * happened when the failed allocation was one it could do without.  (Only
 * where malloc can be replaced; an AddressSanitizer build checks leaks of
 * the other tests instead.)
 */
static void
test_allocation_failures(void **state)
{
	const struct model_projectkey *keys[] = { &key1 };
	struct model_projectkey limited = key1;
	struct build_args a = { keys, NULL, NULL };
	json_object *c;
	long builds;

	(void)state;
	limited.has_rate_limit = true;
	limited.rate_limit_count = 5;
	limited.rate_limit_window = 60;
	keys[0] = &limited;
	a.p = parse("{\"sentry:origins\":[\"A.example/\",\"b.example\"],"
	    "\"sentry:relay_pii_config\":\"{\\\"rules\\\":{\\\"r\\\":"
	    "{\\\"type\\\":\\\"multiple\\\",\\\"rules\\\":"
	    "[\\\"r\\\",\\\"@ip\\\"]}},\\\"applications\\\":"
	    "{\\\"$string\\\":[\\\"r\\\"]}}\","
	    "\"sentry:safe_fields\":[\"a\"],\"filters:legacy-browsers\":"
	    "[\"ie\"],\"filters:localhost\":\"1\","
	    "\"sentry:releases\":[\"1\"],\"sentry:log_messages\":[\"x\"],"
	    "\"sentry:csp_ignored_sources\":[\"c\"],"
	    "\"sentry:dynamic_sampling_biases\":[{\"id\":"
	    "\"minimumSampleRate\",\"active\":true}],"
	    "\"relaycfg:quotas\":[{\"id\":\"p\",\"categories\":[\"error\"],"
	    "\"limit\":1,\"window\":60,\"reasonCode\":\"r\"}]}");
	a.o = parse("{\"sentry:trusted-relays\":[{\"public_key\":\""
	    RELAY_PK1 "\"}],\"sentry:target_sample_rate\":0.5,"
	    "\"relaycfg:features\":["
	    "\"organizations:dynamic-sampling-custom\","
	    "\"organizations:dynamic-sampling-minimum-sample-rate\","
	    "\"organizations:ourlogs-ingestion\","
	    "\"organizations:performance-calculate-mobile-perf-score-relay\","
	    "\"organizations:ingest-through-trusted-relays-only\"],"
	    "\"sentry:relay_pii_config\":\"{\\\"rules\\\":{\\\"o\\\":"
	    "{\\\"type\\\":\\\"email\\\"}}}\"}");
	log_setup(LOG_LEVEL_ERROR, false);
	/*
	 * One build outside the window: the constant subtrees it makes live
	 * for the whole process (shared by every build), they are not a
	 * build's own blocks.
	 */
	c = projectconfig_content(&project, &org, keys, 1, a.p, a.o, NULL,
	    conf);
	assert_non_null(c);
	json_object_put(c);
	builds = fi_fail_each(build_render, &a);
	log_setup(LOG_LEVEL_WARN, false);
	/* the build allocates a lot; each failure point was visited */
	print_message("# %ld allocation points\n", builds);
	assert_true(builds > 200);
	json_object_put(a.p);
	json_object_put(a.o);
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_project),
		cmocka_unit_test(test_origins),
		cmocka_unit_test(test_trusted_relays),
		cmocka_unit_test(test_pii_merge),
		cmocka_unit_test(test_pii_bad_text),
		cmocka_unit_test(test_pii_rules_relay_refuses),
		cmocka_unit_test(test_datascrubbing),
		cmocka_unit_test(test_datascrubbing_org_requires),
		cmocka_unit_test(test_filters_static),
		cmocka_unit_test(test_filters_old_epoch),
		cmocka_unit_test(test_filters_custom),
		cmocka_unit_test(test_filters_generic),
		cmocka_unit_test(test_filters_all_off),
		cmocka_unit_test(test_key_quota),
		cmocka_unit_test(test_monitor_quota),
		cmocka_unit_test(test_option_quotas),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_trusted_relay_settings),
		cmocka_unit_test(test_misc_options),
		cmocka_unit_test(test_breakdowns_relay_refuses),
		cmocka_unit_test(test_session_metrics_sampled),
		cmocka_unit_test(test_custom_inbound_filters_flag),
		cmocka_unit_test(test_disabled_project),
		cmocka_unit_test(test_wrong_types_fall_back),
		cmocka_unit_test(test_no_options_objects),
		cmocka_unit_test(test_public_keys),
		cmocka_unit_test(test_no_snake_or_kebab_keys),
		cmocka_unit_test(test_rev),
		cmocka_unit_test(test_cache_round_trip),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_render_order_and_extra_keys),
		cmocka_unit_test(test_slashes_not_escaped),
#ifdef FAULT_INJECTION
		cmocka_unit_test(test_allocation_failures),
#endif
	};

	if (sodium_init() < 0)
		return 1;
	log_setup(LOG_LEVEL_WARN, false);
	return cmocka_run_group_tests(tests, conf_setup, conf_teardown);
}
