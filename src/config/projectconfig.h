/*
 * projectconfig.h - build the project state Relay fetches, as Sentry does.
 *
 * Pure: no I/O, no SQL, no cache.  The caller hands in rows and options and
 * gets JSON back, in three steps, so that it can cache the slow part and
 * derive a stable revision from it:
 *
 *	content = projectconfig_content(...)		   everything but the
 *							   three volatile keys
 *	projectconfig_rev(content, rev)			   digest of the content
 *	text = projectconfig_render(content, rev, ...)	   final JSON text
 *
 * Options are json-c objects mapping an option key to its already parsed
 * JSON value (see sentry-endpoint.md §5).  A value of the wrong type is
 * logged and replaced by the option's default; it never fails the build.
 * The options relaycfg itself defines are:
 *
 *	relaycfg:features  (org and project)  list of feature flag names.
 *		"organizations:*" names count from the org option only,
 *		"projects:*" names from either.
 *	relaycfg:quotas    (org and project)  list of quota objects
 *		{id, scope, categories, limit, window, reasonCode, namespace}
 *		as in Relay's quota format; scopeId is filled in.
 */
#ifndef RELAYCFG_PROJECTCONFIG_H
#define RELAYCFG_PROJECTCONFIG_H

#include "valid.h"

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "conf.h"
#include "model.h"

#define PROJECTCONFIG_REV_LEN	32	/* hex characters */
#define PROJECTCONFIG_TIME_LEN	VALID_TIMESTAMP_LEN	/* valid.h */

/*
 * projectconfig_content - the project state of project without lastFetch,
 * lastChange and rev, keys in Sentry's order; exactly {"disabled":true}
 * when the project is not active.
 *
 * project, org and conf must not be NULL.  keys lists the project keys to
 * publish, the requested one first (n_keys may be 0, giving an empty
 * publicKeys, with which Relay drops the project's events).
 * project_options and org_options may be NULL (no options); thresholds
 * (the project's transaction thresholds, store_txthresholds) may be NULL
 * (no rows: Sentry's default threshold).
 * Nothing passed in is modified or retained.  Returns a new object the
 * caller puts, or NULL on OOM.
 */
json_object	*projectconfig_content(const struct model_project *project,
		    const struct model_org *org,
		    const struct model_projectkey *const *keys, size_t n_keys,
		    json_object *project_options, json_object *org_options,
		    const struct model_txthresholds *thresholds,
		    const struct conf *conf);

/*
 * projectconfig_rev - the revision of content: 32 lowercase hex characters
 * of a BLAKE2b digest over a canonical encoding (object keys sorted,
 * strings length-prefixed, numbers by value), so equal content always
 * gives the same revision and any change of a value gives a new one.  out gets PROJECTCONFIG_REV_LEN + 1 bytes.
 * Returns 0, or -1 on OOM with out untouched.
 */
int		 projectconfig_rev(json_object *content,
		    char out[PROJECTCONFIG_REV_LEN + 1]);

/*
 * projectconfig_render - the final JSON text of a project state: content
 * with rev, lastFetch and lastChange inserted in Sentry's key order
 * (disabled, slug, lastFetch, lastChange, rev, publicKeys, config,
 * organizationId, projectId), serialized plain without escaped slashes.
 * A disabled content renders as exactly {"disabled":true}.
 *
 * content is not modified.  Returns a malloc'd NUL-terminated string the
 * caller frees, its length in *len (len may be NULL), or NULL on OOM or
 * when content is not a JSON object.
 */
char		*projectconfig_render(json_object *content, const char *rev,
		    const char *last_fetch, const char *last_change,
		    size_t *len);

/*
 * projectconfig_format_time - sec/usec since the epoch, UTC, as
 * YYYY-MM-DDTHH:MM:SS.ffffffZ (fraction and Z always present, which
 * Sentry's tests and Relay both accept).  buf gets PROJECTCONFIG_TIME_LEN
 * + 1 bytes.  Returns 0, or -1 when usec is outside 0..999999 or the year
 * outside 0..9999, with buf untouched.
 */
int		 projectconfig_format_time(int64_t sec, long usec,
		    char buf[PROJECTCONFIG_TIME_LEN + 1]);

#endif
