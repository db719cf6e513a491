/*
 * globalconfig.h - the global config Relay fetches with {"global": true}
 * (sentry-endpoint.md §3.4, relay-client.md §5).
 *
 * It depends on the configuration file only, so the endpoint can render it
 * once per loaded conf and send the text verbatim with every answer.
 */
#ifndef RELAYCFG_GLOBALCONFIG_H
#define RELAYCFG_GLOBALCONFIG_H

#include <stddef.h>

#include <json-c/json.h>

#include "conf.h"

/*
 * globalconfig_build - the global config as a json-c object: measurements
 * (Sentry's builtin measurements, maxCustomMeasurements 10),
 * metricExtraction (Sentry's histogram-outlier group), spanOpDefaults, and
 * options: the forwarded Sentry options of the sentryopts table that are
 * not null (defaults or relaycfg.conf), then conf's global_option lines for
 * other keys (parsed JSON values, null ones left out; a later line for the
 * same key wins).  Returns a new object the caller puts, or NULL on OOM.
 */
json_object	*globalconfig_build(const struct conf *conf);

/*
 * globalconfig_render - globalconfig_build as JSON text (plain, slashes
 * not escaped).  Returns a malloc'd NUL-terminated string the caller
 * frees, its length in *len (len may be NULL), or NULL on OOM.
 */
char		*globalconfig_render(const struct conf *conf, size_t *len);

#endif
