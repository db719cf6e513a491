/*
 * mirror_spec.c - the Sentry tables and columns relaycfg mirrors.
 *
 * Column names and meanings are Sentry's (src/sentry/models/, checked
 * against tests/data/sentry-pg-schema.sql, which is taken from Sentry's
 * migrations); relaycfg's tables (the migrations in sql/) carry the
 * same columns.
 * Columns only one side has are not mirrored: Sentry's user-facing ones
 * relaycfg never reads, and relaycfg's relay bookkeeping (first_seen,
 * last_seen: Sentry rewrites them, and they feed no config).  Nor is
 * sentry_relay.is_internal, which means something else on each side (see
 * relay_cols).
 *
 * The index macros in mirror.h name positions in these arrays.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "mirror.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const struct mirror_col org_cols[] = {
	{ "id",			MC_INT,  MV_ID,     false },
	{ "name",		MC_TEXT, MV_NONE,   false },
	{ "slug",		MC_TEXT, MV_NONE,   false },
	{ "status",		MC_INT,  MV_NONE,   false },
	{ "date_added",		MC_TIME, MV_NONE,   false },
	{ "default_role",	MC_TEXT, MV_NONE,   false },
	{ "flags",		MC_INT,  MV_NONE,   false },
	{ "is_test",		MC_BOOL, MV_NONE,   false },
};

static const struct mirror_col template_cols[] = {
	{ "id",			MC_INT,  MV_ID,     false },
	{ "name",		MC_TEXT, MV_NONE,   false },
	{ "organization_id",	MC_INT,  MV_ID,     false },
	{ "date_added",		MC_TIME, MV_NONE,   true },
	{ "date_updated",	MC_TIME, MV_NONE,   false },
};

static const struct mirror_col project_cols[] = {
	{ "id",			MC_INT,  MV_ID,     false },
	{ "slug",		MC_TEXT, MV_NONE,   true },
	{ "name",		MC_TEXT, MV_NONE,   false },
	{ "forced_color",	MC_TEXT, MV_NONE,   true },
	{ "organization_id",	MC_INT,  MV_ID,     false },
	{ "public",		MC_BOOL, MV_NONE,   false },
	{ "date_added",		MC_TIME, MV_NONE,   false },
	{ "status",		MC_INT,  MV_NONE,   false },
	{ "first_event",	MC_TIME, MV_NONE,   true },
	{ "flags",		MC_INT,  MV_NONE,   false },
	{ "platform",		MC_TEXT, MV_NONE,   true },
	{ "template_id",	MC_INT,  MV_ID,     true },
	{ "external_id",	MC_TEXT, MV_NONE,   true },
};

static const struct mirror_col key_cols[] = {
	{ "id",			MC_INT,  MV_ID,     false },
	{ "project_id",		MC_INT,  MV_ID,     false },
	{ "label",		MC_TEXT, MV_NONE,   true },
	{ "public_key",		MC_TEXT, MV_HEX32,  false },
	/* NULL in Sentry too (null=True): no answer shows it, and Sentry
	 * serves such a key, so relaycfg must have it. */
	{ "secret_key",		MC_TEXT, MV_HEX32,  true },
	{ "roles",		MC_INT,  MV_NONE,   false },
	{ "status",		MC_INT,  MV_NONE,   false },
	{ "date_added",		MC_TIME, MV_NONE,   true },
	{ "rate_limit_count",	MC_INT,  MV_NONE,   true },
	{ "rate_limit_window",	MC_INT,  MV_NONE,   true },
	{ "data",		MC_JSON, MV_NONE,   false },
	{ "use_case",		MC_TEXT, MV_NONE,   false },
};

/*
 * Option values: Sentry's PickledObjectField, JSON text since Sentry
 * stopped pickling; a project option may be NULL.  Options, thresholds
 * and relays are matched by their natural key, never by id: relaycfg
 * writes rows of its own into these tables (sentry:relay-rev, relay
 * registrations), numbered by its own AUTO_INCREMENT, and no answer
 * shows their ids.
 */
static const struct mirror_col project_option_cols[] = {
	{ "project_id",		MC_INT,  MV_ID,     false },
	{ "key",		MC_TEXT, MV_OPTKEY, false },
	{ "value",		MC_JSON, MV_NONE,   true },
};

static const struct mirror_col org_option_cols[] = {
	{ "organization_id",	MC_INT,  MV_ID,     false },
	{ "key",		MC_TEXT, MV_OPTKEY, false },
	{ "value",		MC_JSON, MV_NONE,   false },
};

static const struct mirror_col template_option_cols[] = {
	{ "project_template_id", MC_INT, MV_ID,     false },
	{ "key",		MC_TEXT, MV_OPTKEY, false },
	{ "value",		MC_JSON, MV_NONE,   false },
};

/* relaycfg keeps its own config revisions in these (store_rev.h): both
 * sides leave them out. */
static const char *const own_project_options[] = {
	"sentry:relay-rev", "sentry:relay-rev-lastchange", NULL
};

static const struct mirror_col threshold_cols[] = {
	{ "project_id",		MC_INT,  MV_ID,     false },
	{ "organization_id",	MC_INT,  MV_ID,     false },
	{ "threshold",		MC_INT,  MV_TXTHRESHOLD, false },
	{ "metric",		MC_INT,  MV_TXMETRIC, false },
	{ "edited_by_id",	MC_INT,  MV_NONE,   true },
	{ "date_added",		MC_TIME, MV_NONE,   true },
	{ "date_updated",	MC_TIME, MV_NONE,   false },
};

static const struct mirror_col threshold_override_cols[] = {
	{ "project_id",		MC_INT,  MV_ID,     false },
	{ "transaction",	MC_TEXT, MV_TXNAME, false },
	{ "organization_id",	MC_INT,  MV_ID,     false },
	{ "threshold",		MC_INT,  MV_TXTHRESHOLD, false },
	{ "metric",		MC_INT,  MV_TXMETRIC, false },
	{ "edited_by_id",	MC_INT,  MV_NONE,   true },
	{ "date_added",		MC_TIME, MV_NONE,   true },
	{ "date_updated",	MC_TIME, MV_NONE,   false },
};

/*
 * Not is_internal: the two columns share a name, not a meaning.  Sentry
 * stores there whether the relay registered from a private address (its
 * register_response), a fact of one request; relaycfg reads its column as
 * an operator's mark, internal from any address (auth.c, migration 002).
 * Copied, every relay that ever registered with Sentry from a private
 * network would get configs from anywhere, and each sync would undo
 * "relaycfgctl relay update --internal".  A relay the sync creates is
 * left unmarked (the column's default); a mark stays the operator's.
 */
static const struct mirror_col relay_cols[] = {
	{ "relay_id",		MC_TEXT, MV_UUID,   false },
	{ "public_key",		MC_TEXT, MV_NONE,   false },
};

#define T(id, name, what, cols, nkey, scope, guarded, skip) \
	[id] = { id, name, what, cols, NELEMS(cols), nkey, scope, guarded, \
	    skip }

static const struct mirror_table tables[MT_COUNT] = {
	T(MT_ORG, "sentry_organization", "organizations", org_cols, 1,
	    MS_ORG, true, NULL),
	T(MT_TEMPLATE, "sentry_projecttemplate", "templates", template_cols,
	    1, MS_TEMPLATE, false, NULL),
	T(MT_PROJECT, "sentry_project", "projects", project_cols, 1,
	    MS_PROJECT, true, NULL),
	T(MT_KEY, "sentry_projectkey", "keys", key_cols, 1, MS_KEY, true,
	    NULL),
	T(MT_PROJECT_OPTION, "sentry_projectoptions", "project options",
	    project_option_cols, 2, MS_PROJECT_PART, false,
	    own_project_options),
	T(MT_ORG_OPTION, "sentry_organizationoptions", "organization options",
	    org_option_cols, 2, MS_ORG_OPTION, false, NULL),
	T(MT_TEMPLATE_OPTION, "sentry_projecttemplateoption",
	    "template options", template_option_cols, 2, MS_TEMPLATE_OPTION,
	    false, NULL),
	T(MT_THRESHOLD, "sentry_projecttransactionthreshold", "thresholds",
	    threshold_cols, 1, MS_PROJECT_PART, false, NULL),
	T(MT_THRESHOLD_OVERRIDE, "sentry_projecttransactionthresholdoverride",
	    "threshold overrides", threshold_override_cols, 2, MS_PROJECT_PART,
	    false, NULL),
	T(MT_RELAY, "sentry_relay", "relays", relay_cols, 1, MS_RELAY, false,
	    NULL),
};

/* mirror_table - see mirror.h. */
const struct mirror_table *
mirror_table(enum mirror_table_id id)
{
	return (unsigned)id < MT_COUNT ? &tables[id] : NULL;
}

/* The columns besides keys and parents a Sentry may not lack (see
 * mirror_col_required). */
static const struct {
	enum mirror_table_id	 table;
	const char		*col;
} required_cols[] = {
	{ MT_ORG, "status" },
	{ MT_PROJECT, "status" },
	{ MT_KEY, "public_key" },
	{ MT_KEY, "status" },
	{ MT_KEY, "rate_limit_count" },
	{ MT_KEY, "rate_limit_window" },
	{ MT_PROJECT_OPTION, "value" },
	{ MT_ORG_OPTION, "value" },
	{ MT_TEMPLATE_OPTION, "value" },
	{ MT_THRESHOLD, "threshold" },
	{ MT_THRESHOLD, "metric" },
	{ MT_THRESHOLD_OVERRIDE, "threshold" },
	{ MT_THRESHOLD_OVERRIDE, "metric" },
	{ MT_RELAY, "public_key" },
};

/* mirror_col_required - see mirror.h. */
bool
mirror_col_required(const struct mirror_table *t, size_t c)
{
	const struct mirror_col *col = &t->cols[c];

	if (c < t->nkey || (col->check == MV_ID && !col->null_ok))
		return true;
	for (size_t i = 0; i < NELEMS(required_cols); i++)
		if (required_cols[i].table == t->id &&
		    strcmp(required_cols[i].col, col->name) == 0)
			return true;
	return false;
}

/* relaycfg's foreign keys, in table order (a dropped parent is known
 * before its children are checked). */
static const struct mirror_link links[] = {
	{ MT_TEMPLATE, MIRROR_TEMPLATE_ORG, MT_ORG },
	{ MT_PROJECT, MIRROR_PROJECT_ORG, MT_ORG },
	{ MT_PROJECT, MIRROR_PROJECT_TEMPLATE, MT_TEMPLATE },
	{ MT_KEY, MIRROR_KEY_PROJECT, MT_PROJECT },
	{ MT_PROJECT_OPTION, 0, MT_PROJECT },
	{ MT_ORG_OPTION, 0, MT_ORG },
	{ MT_TEMPLATE_OPTION, 0, MT_TEMPLATE },
	{ MT_THRESHOLD, 0, MT_PROJECT },
	{ MT_THRESHOLD, 1, MT_ORG },
	{ MT_THRESHOLD_OVERRIDE, 0, MT_PROJECT },
	{ MT_THRESHOLD_OVERRIDE, 2, MT_ORG },
};

/* mirror_links - see mirror.h. */
const struct mirror_link *
mirror_links(size_t *n)
{
	*n = NELEMS(links);
	return links;
}
