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
 * The index macros in mirror.h name positions in these arrays.  Each
 * column: name, kind, check, NULL allowed, and whether a Sentry without
 * it is refused (mirror_col_required; keys and parents always are).
 */
#include "config.h"

#include <stddef.h>

#include "mirror.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const struct mirror_col org_cols[] = {
	{ "id",			MC_INT,  MV_ID,     false, false },
	{ "name",		MC_TEXT, MV_NONE,   false, false },
	{ "slug",		MC_TEXT, MV_NONE,   false, false },
	{ "status",		MC_INT,  MV_NONE,   false, true },
	{ "date_added",		MC_TIME, MV_NONE,   false, false },
	{ "default_role",	MC_TEXT, MV_NONE,   false, false },
	{ "flags",		MC_INT,  MV_NONE,   false, false },
	{ "is_test",		MC_BOOL, MV_NONE,   false, false },
};

static const struct mirror_col template_cols[] = {
	{ "id",			MC_INT,  MV_ID,     false, false },
	{ "name",		MC_TEXT, MV_NONE,   false, false },
	{ "organization_id",	MC_INT,  MV_ID,     false, false },
	{ "date_added",		MC_TIME, MV_NONE,   true, false },
	{ "date_updated",	MC_TIME, MV_NONE,   false, false },
};

static const struct mirror_col project_cols[] = {
	{ "id",			MC_INT,  MV_ID,     false, false },
	{ "slug",		MC_TEXT, MV_NONE,   true, false },
	{ "name",		MC_TEXT, MV_NONE,   false, false },
	{ "forced_color",	MC_TEXT, MV_NONE,   true, false },
	{ "organization_id",	MC_INT,  MV_ID,     false, false },
	{ "public",		MC_BOOL, MV_NONE,   false, false },
	{ "date_added",		MC_TIME, MV_NONE,   false, false },
	{ "status",		MC_INT,  MV_NONE,   false, true },
	{ "first_event",	MC_TIME, MV_NONE,   true, false },
	{ "flags",		MC_INT,  MV_NONE,   false, false },
	{ "platform",		MC_TEXT, MV_NONE,   true, false },
	{ "template_id",	MC_INT,  MV_ID,     true, false },
	{ "external_id",	MC_TEXT, MV_NONE,   true, false },
};

static const struct mirror_col key_cols[] = {
	{ "id",			MC_INT,  MV_ID,     false, false },
	{ "project_id",		MC_INT,  MV_ID,     false, false },
	{ "label",		MC_TEXT, MV_NONE,   true, false },
	{ "public_key",		MC_TEXT, MV_HEX32,  false, true },
	/* NULL in Sentry too (null=True): no answer shows it, and Sentry
	 * serves such a key, so relaycfg must have it. */
	{ "secret_key",		MC_TEXT, MV_HEX32,  true, false },
	{ "roles",		MC_INT,  MV_NONE,   false, false },
	{ "status",		MC_INT,  MV_NONE,   false, true },
	{ "date_added",		MC_TIME, MV_NONE,   true, false },
	{ "rate_limit_count",	MC_INT,  MV_NONE,   true, true },
	{ "rate_limit_window",	MC_INT,  MV_NONE,   true, true },
	{ "data",		MC_JSON, MV_NONE,   false, false },
	{ "use_case",		MC_TEXT, MV_NONE,   false, false },
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
	{ "project_id",		MC_INT,  MV_ID,     false, false },
	{ "key",		MC_TEXT, MV_OPTKEY, false, false },
	{ "value",		MC_JSON, MV_NONE,   true, true },
};

static const struct mirror_col org_option_cols[] = {
	{ "organization_id",	MC_INT,  MV_ID,     false, false },
	{ "key",		MC_TEXT, MV_OPTKEY, false, false },
	{ "value",		MC_JSON, MV_NONE,   false, true },
};

static const struct mirror_col template_option_cols[] = {
	{ "project_template_id", MC_INT, MV_ID,     false, false },
	{ "key",		MC_TEXT, MV_OPTKEY, false, false },
	{ "value",		MC_JSON, MV_NONE,   false, true },
};

/* relaycfg keeps its own config revisions in these (store_rev.h): both
 * sides leave them out. */
static const char *const own_project_options[] = {
	"sentry:relay-rev", "sentry:relay-rev-lastchange", NULL
};

static const struct mirror_col threshold_cols[] = {
	{ "project_id",		MC_INT,  MV_ID,     false, false },
	{ "organization_id",	MC_INT,  MV_ID,     false, false },
	{ "threshold",		MC_INT,  MV_TXTHRESHOLD, false, true },
	{ "metric",		MC_INT,  MV_TXMETRIC, false, true },
	{ "edited_by_id",	MC_INT,  MV_NONE,   true, false },
	{ "date_added",		MC_TIME, MV_NONE,   true, false },
	{ "date_updated",	MC_TIME, MV_NONE,   false, false },
};

static const struct mirror_col threshold_override_cols[] = {
	{ "project_id",		MC_INT,  MV_ID,     false, false },
	{ "transaction",	MC_TEXT, MV_TXNAME, false, false },
	{ "organization_id",	MC_INT,  MV_ID,     false, false },
	{ "threshold",		MC_INT,  MV_TXTHRESHOLD, false, true },
	{ "metric",		MC_INT,  MV_TXMETRIC, false, true },
	{ "edited_by_id",	MC_INT,  MV_NONE,   true, false },
	{ "date_added",		MC_TIME, MV_NONE,   true, false },
	{ "date_updated",	MC_TIME, MV_NONE,   false, false },
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
	{ "relay_id",		MC_TEXT, MV_UUID,   false, false },
	{ "public_key",		MC_TEXT, MV_NONE,   false, true },
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

/* mirror_col_required - see mirror.h. */
bool
mirror_col_required(const struct mirror_table *t, size_t c)
{
	const struct mirror_col *col = &t->cols[c];

	return c < t->nkey || (col->check == MV_ID && !col->null_ok) ||
	    col->required;
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
