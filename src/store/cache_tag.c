/*
 * cache_tag.c - computed configs found built under other settings.
 *
 * Every computed config and rev entry begins with the digest of the
 * settings it was built under (cache.h, cache_config_tag).  Another
 * digest there was left by this host before a reload that changed its
 * Sentry settings or before an upgrade (rebuilt once), or is another
 * relaycfg's sharing the memcached servers that runs another release or
 * reads a relaycfg.conf whose Sentry settings differ: then each rebuilds
 * the other's entries (docs/SCALING.md), expected for the minutes of a
 * rolling upgrade and costly as a standing state.  So it is counted
 * (relaycfg_configs_other_settings_total) and said in the log, at most
 * once a minute a process.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>

#include "cache_int.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "valid.h"

/* At most one warning a process in this many ms. */
#define OTHER_SETTINGS_LOG_MS	60000LL

/* cache_tag_other - see cache_int.h. */
bool
cache_tag_other(const char *ours, const char *tag, size_t len)
{
	static long long last_logged;
	static bool logged;
	long long now;

	/* a digest (lowercase hex) and its space, or a damaged entry */
	if (len < CACHE_CONFIG_TAG_LEN ||
	    tag[SENTRY_SETTINGS_DIGEST_LEN] != ' ' ||
	    !valid_lower_hex(tag, SENTRY_SETTINGS_DIGEST_LEN))
		return false;
	metrics_inc(MF_CONFIGS_OTHER_SETTINGS, 0, 0, 0);
	now = clock_mono_ms();
	if (!logged || now - last_logged >= OTHER_SETTINGS_LOG_MS) {
		logged = true;
		last_logged = now;
		log_warn("cached configs built under other settings (digest %.*s, "
		    "ours %.*s): left from before a reload or an upgrade, or "
		    "another relaycfg sharing memcached runs another release or "
		    "other Sentry settings in its relaycfg.conf, and each "
		    "rebuilds the other's configs (docs/SCALING.md); said at "
		    "most once a minute", SENTRY_SETTINGS_DIGEST_LEN, tag,
		    SENTRY_SETTINGS_DIGEST_LEN, ours);
	}
	return true;
}
