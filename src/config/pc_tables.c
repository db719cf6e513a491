/*
 * pc_tables.c - Sentry's constants for project and global configs.
 *
 * The values follow the newest Sentry read (getsentry/sentry, 2025 era);
 * each table names the Sentry constant it mirrors.  When Sentry changes one
 * of them, change it here and the golden files under tests/golden/.
 */
#include "config.h"

#include "pc_tables.h"
#include "sentryopts.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

/* src/sentry/projectoptions/defaults.py, epoch 1 and later. */
const char pc_breakdowns_default[] =
    "{\"span_ops\":{\"type\":\"spanOperations\","
    "\"matches\":[\"http\",\"db\",\"browser\",\"resource\",\"ui\"]}}";

/*
 * DEFAULT_GROUPING_CONFIG and its compiled enhancements: three copies
 * (unsplit, classifier and contributes rules) of base64url(zstd(msgpack(
 * [3, ["all-platforms:2023-01-11"], []]))) joined by '#', which is what
 * Sentry's EnhancementsConfig.base64_string gives for a project without
 * custom stack trace rules.
 */
const char pc_grouping_default_id[] = "newstyle:2023-01-11";
const char pc_grouping_default_enhancements[] =
    "KLUv_SAd6QAAkwORuGFsbC1wbGF0Zm9ybXM6MjAyMy0wMS0xMZA"
    "#KLUv_SAd6QAAkwORuGFsbC1wbGF0Zm9ybXM6MjAyMy0wMS0xMZA"
    "#KLUv_SAd6QAAkwORuGFsbC1wbGF0Zm9ybXM6MjAyMy0wMS0xMZA";

/* HEALTH_CHECK_GLOBS, src/sentry/constants.py. */
const char *const pc_health_check_globs[] = {
	"*healthcheck*",
	"*heartbeat*",
	"*/health{/,}",
	"*/healthy{/,}",
	"*/healthz{/,}",
	"*/health_check{/,}",
	"*/_health{/,}",
	"*/\\[_health\\]{/,}",
	"*/live{/,}",
	"*/livez{/,}",
	"*/ready{/,}",
	"*/readyz{/,}",
	"*/ping{/,}",
	"*/up{/,}",
};
const size_t pc_n_health_check_globs = N(pc_health_check_globs);

/*
 * DEFAULT_DISALLOWED_SOURCES, src/sentry/interfaces/security.py.  The
 * duplicates are Sentry's; they are kept so the list matches byte for byte.
 */
const char *const pc_csp_default_sources[] = {
	"about",
	"ms-browser-extension",
	"chrome://*",
	"chrome-extension://*",
	"chrome-extension",
	"chromeinvokeimmediate://*",
	"chromenull://*",
	"data:text/html,chromewebdata",
	"safari-extension://*",
	"safari-web-extension://*",
	"mxaddon-pkg://*",
	"jar://*",
	"webviewprogressproxy://*",
	"ms-browser-extension://*",
	"tmtbff://*",
	"mbinit://*",
	"symres://*",
	"resource://*",
	"moz-extension://*",
	"*.metrext.com",
	"static.image2play.com",
	"*.tlscdn.com",
	"73a5b0806e464be8bd4e694c744624f0.com",
	"020dfefc4ac745dab7594f2f771c1ded.com",
	"*.superfish.com",
	"addons.mozilla.org",
	"v.zilionfast.in",
	"widgets.amung.us",
	"*.superfish.com",
	"xls.searchfun.in",
	"istatic.datafastguru.info",
	"v.zilionfast.in",
	"localhost",
	"resultshub-a.akamaihd.net",
	"pulseadnetwork.com",
	"gateway.zscalertwo.net",
	"www.passpack.com",
	"middlerush-a.akamaihd.net",
	"www.websmartcenter.com",
	"a.linkluster.com",
	"saveyoutime.ru",
	"cdncache-a.akamaihd.net",
	"x.rafomedia.com",
	"savingsslider-a.akamaihd.net",
	"injections.adguard.com",
	"icontent.us",
	"amiok.org",
	"connectionstrenth.com",
	"siteheart.net",
	"netanalitics.space",
	"printapplink.com",
	"godlinkapp.com",
	"devappstor.com",
	"hoholikik.club",
	"smartlink.cool",
	"promfflinkdev.com",
};
const size_t pc_n_csp_default_sources = N(pc_csp_default_sources);

/* _chunk_load_error_filter, src/sentry/ingest/inbound_filters.py. */
static const struct pc_error_pattern chunk_load_error[] = {
	/* Webpack */
	{ "ChunkLoadError", "Loading chunk *" },
	{ "*Uncaught *", "ChunkLoadError: Loading chunk *" },
	/* Turbopack */
	{ "ChunkLoadError", "Failed to load chunk *" },
	{ "*Uncaught *", "ChunkLoadError: Failed to load chunk *" },
	/* Promise rejections */
	{ "Error", "Uncaught (in promise): ChunkLoadError*" },
};

/* _hydration_error_filter: React errors 418, 419, 421, 422, 423 and 425. */
static const struct pc_error_pattern react_hydration_errors[] = {
	{ NULL, "*https://reactjs.org/docs/error-decoder.html?invariant="
	    "{418,419,421,422,423,425}*" },
	{ NULL, "*https://react.dev/errors/{418,419,421,422,423,425}*" },
};

/* ACTIVE_GENERIC_FILTERS, in Sentry's order. */
const struct pc_generic_filter pc_generic_filters[] = {
	{ "chunk-load-error", chunk_load_error, N(chunk_load_error) },
	{ "react-hydration-errors", react_hydration_errors,
	    N(react_hydration_errors) },
};
const size_t pc_n_generic_filters = N(pc_generic_filters);

/*
 * Performance score profiles, src/sentry/relay/config/__init__.py
 * (_get_{desktop_browser,mobile_browser,mobile,default_browser}_
 * performance_profiles), concatenated in that order.
 */
#define BROWSER_IS(name) \
	"{\"op\":\"eq\",\"name\":\"event.contexts.browser.name\"," \
	"\"value\":\"" name "\"}"

static const struct pc_score_component desktop[] = {
	{ "fcp", "0.15", "900.0", "1600.0", true },
	{ "lcp", "0.3", "1200.0", "2400.0", true },
	{ "cls", "0.15", "0.1", "0.25", true },
	{ "ttfb", "0.1", "200.0", "400.0", true },
};

/* Firefox reports no CLS. */
static const struct pc_score_component desktop_firefox[] = {
	{ "fcp", "0.15", "900.0", "1600.0", true },
	{ "lcp", "0.3", "1200.0", "2400.0", true },
	{ "cls", "0.0", "0.1", "0.25", false },
	{ "ttfb", "0.1", "200.0", "400.0", true },
};

/* Safari reports neither LCP nor CLS. */
static const struct pc_score_component desktop_safari[] = {
	{ "fcp", "0.15", "900.0", "1600.0", true },
	{ "lcp", "0.0", "1200.0", "2400.0", false },
	{ "cls", "0.0", "0.1", "0.25", false },
	{ "ttfb", "0.1", "200.0", "400.0", true },
};

static const struct pc_score_component mobile[] = {
	{ "fcp", "0.15", "1800.0", "3000.0", true },
	{ "lcp", "0.3", "2500.0", "4000.0", true },
	{ "cls", "0.15", "0.1", "0.25", true },
	{ "ttfb", "0.1", "800.0", "1800.0", true },
};

static const struct pc_score_component mobile_firefox[] = {
	{ "fcp", "0.15", "1800.0", "3000.0", true },
	{ "lcp", "0.3", "2500.0", "4000.0", true },
	{ "cls", "0.0", "0.1", "0.25", false },
	{ "ttfb", "0.1", "800.0", "1800.0", true },
};

static const struct pc_score_component mobile_safari[] = {
	{ "fcp", "0.15", "1800.0", "3000.0", true },
	{ "lcp", "0.0", "2500.0", "4000.0", false },
	{ "cls", "0.0", "0.1", "0.25", false },
	{ "ttfb", "0.1", "800.0", "1800.0", true },
};

static const struct pc_score_component inp[] = {
	{ "inp", "1.0", "200.0", "500.0", false },
};

static const struct pc_score_component mobile_app[] = {
	{ "time_to_initial_display", "0.25", "1800.0", "3000.0", true },
	{ "time_to_full_display", "0.25", "2500.0", "4000.0", true },
	{ "app_start_warm", "0.25", "200.0", "500.0", true },
	{ "app_start_cold", "0.25", "200.0", "500.0", true },
};

#define PROFILE(name, comps, cond) \
	{ name, NULL, comps, N(comps), cond, NULL }

const struct pc_score_profile pc_score_profiles[] = {
	PROFILE("Chrome", desktop, BROWSER_IS("Chrome")),
	PROFILE("Firefox", desktop_firefox, BROWSER_IS("Firefox")),
	PROFILE("Safari", desktop_safari, BROWSER_IS("Safari")),
	PROFILE("Edge", desktop, BROWSER_IS("Edge")),
	PROFILE("Opera", desktop, BROWSER_IS("Opera")),
	PROFILE("Chrome INP", inp, "{\"op\":\"or\",\"inner\":["
	    BROWSER_IS("Chrome") "," BROWSER_IS("Google Chrome") "]}"),
	PROFILE("Edge INP", inp, BROWSER_IS("Edge")),
	PROFILE("Opera INP", inp, BROWSER_IS("Opera")),

	PROFILE("Chrome Mobile", mobile, BROWSER_IS("Chrome Mobile")),
	PROFILE("Firefox Mobile", mobile_firefox,
	    BROWSER_IS("Firefox Mobile")),
	PROFILE("Safari Mobile", mobile_safari, BROWSER_IS("Mobile Safari")),
	PROFILE("Edge Mobile", mobile, BROWSER_IS("Edge Mobile")),
	PROFILE("Opera Mobile", mobile, BROWSER_IS("Opera Mobile")),
	PROFILE("Chrome Mobile INP", inp, "{\"op\":\"or\",\"inner\":["
	    BROWSER_IS("Chrome Mobile") "]}"),
	PROFILE("Edge Mobile INP", inp, BROWSER_IS("Edge Mobile")),
	PROFILE("Opera Mobile INP", inp, BROWSER_IS("Opera Mobile")),

	{ "Mobile", "mobile.alpha", mobile_app, N(mobile_app),
	    "{\"op\":\"and\",\"inner\":["
	    "{\"op\":\"or\",\"inner\":["
	    "{\"op\":\"eq\",\"name\":\"event.sdk.name\","
	    "\"value\":\"sentry.cocoa\"},"
	    "{\"op\":\"eq\",\"name\":\"event.sdk.name\","
	    "\"value\":\"sentry.java.android\"}]},"
	    "{\"op\":\"eq\",\"name\":\"event.contexts.trace.op\","
	    "\"value\":\"ui.load\"}]}",
	    SF_MOBILE_PERF_SCORE },

	PROFILE("Default", desktop, "{\"op\":\"and\",\"inner\":[]}"),
	PROFILE("Default INP", inp, "{\"op\":\"and\",\"inner\":[]}"),
};
const size_t pc_n_score_profiles = N(pc_score_profiles);

/*
 * BUILTIN_MEASUREMENTS, src/sentry/relay/config/measurements.py (the list
 * Sentry's global config tests assert: 21 entries).
 */
const struct pc_measurement pc_builtin_measurements[] = {
	{ "app_start_cold", "millisecond" },
	{ "app_start_warm", "millisecond" },
	{ "cls", "none" },
	{ "fcp", "millisecond" },
	{ "fid", "millisecond" },
	{ "fp", "millisecond" },
	{ "frames_frozen_rate", "ratio" },
	{ "frames_frozen", "none" },
	{ "frames_slow_rate", "ratio" },
	{ "frames_slow", "none" },
	{ "frames_total", "none" },
	{ "inp", "millisecond" },
	{ "lcp", "millisecond" },
	{ "stall_count", "none" },
	{ "stall_longest_time", "millisecond" },
	{ "stall_percentage", "ratio" },
	{ "stall_total_time", "millisecond" },
	{ "ttfb.requesttime", "millisecond" },
	{ "ttfb", "millisecond" },
	{ "time_to_full_display", "millisecond" },
	{ "time_to_initial_display", "millisecond" },
};
const size_t pc_n_builtin_measurements = N(pc_builtin_measurements);

/*
 * span_op_defaults, src/sentry/relay/globalconfig.py: a span whose
 * data["messaging.system"] is set gets op "message".  The dot inside the
 * attribute name is escaped because Relay splits field paths on dots.
 */
const char pc_span_op_defaults[] =
    "{\"rules\":[{\"condition\":{\"op\":\"not\",\"inner\":"
    "{\"op\":\"eq\",\"name\":\"span.data.messaging\\\\.system\","
    "\"value\":null}},\"value\":\"message\"}]}";
