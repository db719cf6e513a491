/*
 * gc_outliers.h - the global config's metricExtraction: Sentry's
 * global_metric_extraction_groups (the histogram-outlier tags).
 */
#ifndef RELAYCFG_GC_OUTLIERS_H
#define RELAYCFG_GC_OUTLIERS_H

#include <json-c/json.h>

/*
 * gc_metric_extraction - {"groups": {"histogram_outliers": {"isEnabled":
 * true, "tags": [...]}}} exactly as Sentry builds it.  Returns a new
 * object the caller puts, or NULL on OOM.
 */
json_object	*gc_metric_extraction(void);

/*
 * gc_float_repr - d as Python's repr() writes it (shortest text that
 * reads back as d; "16.0", "1e+16"), so that a number Sentry computes
 * goes out with Sentry's digits.  Returns 0, or -1 when len is too small
 * or d is not finite.
 */
int		 gc_float_repr(double d, char *buf, size_t len);

#endif
