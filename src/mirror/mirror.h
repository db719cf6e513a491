/*
 * mirror.h - the Sentry mirror without any server: which of Sentry's
 * tables and columns relaycfg copies, their rows as normalised text, and
 * the plan that makes relaycfg's rows equal to Sentry's.
 *
 * Both sides are read into the same shape (mirror_rows): one row per
 * table row, each column as text in one canonical spelling, whichever
 * server it came from:
 *   MC_INT   decimal ("-12"), as both servers print integers;
 *   MC_TEXT  the bytes as stored;
 *   MC_BOOL  "0" or "1";
 *   MC_TIME  "YYYY-MM-DD HH:MM:SS.ffffff" in UTC;
 *   MC_JSON  json-c's compact serialisation of the parsed value, the
 *            text relaycfgctl option set stores (a value that does not
 *            parse is kept as is on relaycfg's side; on Sentry's side
 *            the row is refused, see mirror_rows_add).
 * SQL NULL is a NULL pointer.  Equal rows therefore compare equal as
 * strings, and the plan holds only rows whose text differs.
 *
 * Rows are matched by their key (the first nkey columns): Sentry's id
 * for organizations, templates, projects and keys, whose ids show in
 * configs; the natural key (owner and option key, relay_id, ...) for the
 * rest, whose relaycfg ids are relaycfg's own (see mirror_spec.c).
 *
 * The code that talks to the servers lives elsewhere: ctl/ctl_sentry_pg.c
 * reads Sentry (libpq), src/store/store_mirror.c reads and writes
 * relaycfg's MariaDB.
 */
#ifndef RELAYCFG_MIRROR_H
#define RELAYCFG_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mirror_kind { MC_INT, MC_TEXT, MC_BOOL, MC_TIME, MC_JSON };

/* What a Sentry value must be before relaycfg takes it. */
enum mirror_check {
	MV_NONE,
	MV_HEX32,	/* a DSN key: 32 lowercase hex (uuid4().hex) */
	MV_UUID,	/* a relay id: canonical lowercase UUID */
	MV_OPTKEY,	/* an option key, as relaycfgctl takes them */
	MV_ID,		/* a positive integer */
	/* Transaction thresholds, as relaycfgctl threshold takes them
	 * (valid.h's valid_tx*): the server ignores any other row. */
	MV_TXMETRIC,	/* 1 (duration) or 2 (lcp) */
	MV_TXTHRESHOLD,	/* a multiple of 100 that an INT holds */
	MV_TXNAME	/* a transaction name: 1-200 characters of text */
};

struct mirror_col {
	const char		*name;	/* the same in both databases */
	enum mirror_kind	 kind;
	enum mirror_check	 check;
	bool			 null_ok;
	/* what a Sentry without it is refused for (mirror_col_required),
	 * besides keys and parents */
	bool			 required;
};

/* How a changed row reaches the cache entries it feeds. */
enum mirror_scope {
	MS_ORG,		/* the organization (col 0) and all below it */
	MS_ORG_OPTION,	/* the organization in col 0: options, keys */
	MS_TEMPLATE,	/* the template (col 0): its options' entry */
	MS_TEMPLATE_OPTION, /* the template in col 0: projects using it */
	MS_PROJECT,	/* the project (col 0), its options, keys */
	MS_PROJECT_PART,/* the project in col 0: options, thresholds */
	MS_KEY,		/* the key: its row, pointer, list and config */
	MS_RELAY	/* the relay in col 0 (relay_id) */
};

/* The tables, in parent-before-child order: inserts and updates go in
 * this order, deletes in the reverse. */
enum mirror_table_id {
	MT_ORG, MT_TEMPLATE, MT_PROJECT, MT_KEY, MT_PROJECT_OPTION,
	MT_ORG_OPTION, MT_TEMPLATE_OPTION, MT_THRESHOLD, MT_THRESHOLD_OVERRIDE,
	MT_RELAY, MT_COUNT
};

struct mirror_table {
	enum mirror_table_id	 id;
	const char		*name;	/* "sentry_project" */
	const char		*what;	/* "projects", for summaries */
	const struct mirror_col	*cols;	/* the key's columns first */
	size_t			 ncols;
	size_t			 nkey;	/* 1 or 2 (MIRROR_NKEY_MAX) */
	enum mirror_scope	 scope;
	bool			 guarded;	/* the deletion guard counts it */
	/* Values of cols[1] neither side mirrors (relaycfg's own), or NULL */
	const char *const	*skip;
};

#define MIRROR_NKEY_MAX	2
#define MIRROR_NCOLS_MAX	16

/* Column indexes the invalidation reads (mirror_spec.c's order). */
#define MIRROR_PROJECT_ORG	4	/* sentry_project.organization_id */
#define MIRROR_PROJECT_TEMPLATE	11	/* sentry_project.template_id */
#define MIRROR_KEY_PROJECT	1	/* sentry_projectkey.project_id */
#define MIRROR_KEY_PUBLIC	3	/* sentry_projectkey.public_key */
#define MIRROR_TEMPLATE_ORG	2	/* sentry_projecttemplate.organization_id */

/* mirror_table - the table with that id; never NULL for id < MT_COUNT. */
const struct mirror_table *mirror_table(enum mirror_table_id id);

/*
 * mirror_col_required - may a Sentry lack column c of t?  false for the
 * columns Sentry's schema has moved (a template reference, a project's
 * external id, a key's use case: not compared, never written).  true for
 * those without which a row means something else: its key, a parent it
 * must have, and what an answer shows from it (the status of an
 * organization, project or key, a key's public key and rate limit, an
 * option's value, a threshold and its metric, a relay's public key).
 * Read without them, a key disabled in Sentry would be created live.
 */
bool mirror_col_required(const struct mirror_table *t, size_t c);

/* A reference from a child's column to its parent's id (relaycfg's
 * foreign keys), listed parents first. */
struct mirror_link {
	enum mirror_table_id	 child;
	size_t			 col;
	enum mirror_table_id	 parent;
};

/* mirror_links - the references, *n of them. */
const struct mirror_link *mirror_links(size_t *n);

struct mirror_row {
	char		**v;		/* ncols values; NULL is SQL NULL */
	int64_t		  k[MIRROR_NKEY_MAX];	/* integer key columns */
};

/* The rows of one table from one side, sorted by key by mirror_rows_sort. */
struct mirror_rows {
	const struct mirror_table *t;
	struct mirror_row	*rows;
	size_t			 n, cap;
	/* Keys (mirror_key_exact) of Sentry rows refused by mirror_rows_add
	 * or mirror_drop_orphans: relaycfg's row with that key (if any) is
	 * left exactly as it is. */
	char			**kept;
	size_t			 nkept, capkept;
	/* Sentry's side: columns this Sentry lacks (an older or newer
	 * schema).  They read as NULL, are not compared, and are never
	 * written: relaycfg's value stays. */
	bool			 absent[MIRROR_NCOLS_MAX];
	/* Sentry's side: this Sentry has no such table: nothing of it is
	 * compared, written or deleted.  Not for templates, which
	 * mirror_no_templates turns into none. */
	bool			 unmirrored;
};

void	mirror_rows_init(struct mirror_rows *r, const struct mirror_table *t);
void	mirror_rows_free(struct mirror_rows *r);

/*
 * mirror_rows_add - append one row given as ncols values (text or NULL),
 * copied.  sentry: the values come from Sentry and are checked (column
 * checks, NULLs, integers, JSON); a row that fails is not added, its key
 * is remembered as kept, and why goes into why (at most whylen bytes):
 * the return is then 1.  From relaycfg's side values are only normalised
 * (JSON re-serialised when it parses).  A Sentry JSON value that is SQL
 * NULL in a column that does not take NULL reads as JSON null (Sentry's
 * jsonb option columns allow NULL; relaycfg's hold "null").  A row
 * whose cols[1] is in the
 * table's skip list is left out silently.  Returns 0 when added (or
 * skipped), 1 when refused, -1 on OOM (r unchanged).
 */
int	mirror_rows_add(struct mirror_rows *r, const char *const *vals,
	    bool sentry, char *why, size_t whylen);

/*
 * mirror_drop_orphans - each Sentry row whose parent row is not among
 * want[]'s (a threshold of a deleted project: Sentry has no foreign key
 * there; a child of a refused row) would make relaycfg's foreign keys
 * refuse the whole sync.  A reference that may be NULL (a project's
 * template) is set to NULL, as MariaDB's ON DELETE SET NULL would; any
 * other such row is dropped and kept, as refused rows are.  Each is
 * passed to dropped(why, arg).  A reference to an unmirrored table is
 * not checked.  0, or -1 on OOM.
 */
int	mirror_drop_orphans(struct mirror_rows want[MT_COUNT],
	    void (*dropped)(const char *why, void *arg), void *arg);

/*
 * mirror_no_templates - a Sentry without sentry_projecttemplate (Sentry
 * removed project templates in 2026) applies no template: when want's
 * template table is unmirrored, it becomes an empty, mirrored one, and so
 * do the template options, and every project's template_id is NULL (and
 * compared).  The plan then deletes relaycfg's templates and their
 * options and clears projects' template_id.  Left as they were, projects
 * would go on inheriting options Sentry no longer applies, and the
 * templates' foreign key would fail every sync that deletes their
 * organization.  Call it on Sentry's rows before mirror_drop_orphans.
 */
void	mirror_no_templates(struct mirror_rows want[MT_COUNT]);

/* mirror_rows_sort - sort by key; false when two rows share a key. */
bool	mirror_rows_sort(struct mirror_rows *r);

/* mirror_row_cmp - the order of mirror_rows_sort: < 0, 0, > 0. */
int	mirror_row_cmp(const struct mirror_table *t, const struct mirror_row *a,
	    const struct mirror_row *b);

/* Deepest JSON relaycfg stores (json-c's default, as option set). */
#define MIRROR_JSON_DEPTH	32

/*
 * mirror_json_canonical - json (len bytes, NUL-terminated) parsed
 * strictly and re-serialised compactly, in a new string; NULL when
 * mirror_json_refusal has a reason, or on OOM (*oom is set).
 */
char	*mirror_json_canonical(const char *json, size_t len, bool *oom);

/*
 * mirror_json_refusal - why json (len bytes) cannot be stored, as the
 * end of a sentence about the column ("is not JSON ..."), a static
 * string: not JSON at all (a pickle an old Sentry wrote), nested deeper
 * than MIRROR_JSON_DEPTH as json-c counts (arrays and objects, and a
 * level more for what the deepest of them holds), or holding an integer
 * below INT64_MIN or above UINT64_MAX (no fraction, no exponent), which
 * json-c would turn into the nearest of the two without a word.  NULL
 * when it can be.
 */
const char *mirror_json_refusal(const char *json, size_t len);

/* One change: a row to insert (want), update (have -> want), delete (have). */
enum mirror_op { MO_INSERT, MO_UPDATE, MO_DELETE };

struct mirror_change {
	enum mirror_op			 op;
	const struct mirror_row		*want;	/* NULL for deletes */
	const struct mirror_row		*have;	/* NULL for inserts */
};

struct mirror_tplan {
	struct mirror_change	*ch;
	size_t			 n;
	size_t			 count[3];	/* by mirror_op */
	size_t			 nhave;		/* rows relaycfg had */
};

struct mirror_plan {
	struct mirror_tplan	 t[MT_COUNT];
	bool			 keep_relays;	/* relays are never deleted */
};

/*
 * mirror_plan_build - the changes that make have[] equal want[] (both
 * sorted), leaving the kept keys of want[] alone, and unmirrored tables
 * entirely (an empty table that is not unmirrored deletes all of
 * have's); with keep_relays, relaycfg's relays that Sentry lacks stay.
 * The plan points into the rows, which must outlive it.  Returns 0, or
 * -1 on OOM (plan empty).
 */
int	mirror_plan_build(struct mirror_plan *plan,
	    const struct mirror_rows *want, const struct mirror_rows *have,
	    bool keep_relays);
void	mirror_plan_free(struct mirror_plan *plan);

/* mirror_plan_empty - true when there is nothing to write. */
bool	mirror_plan_empty(const struct mirror_plan *plan);

/*
 * mirror_plan_guard - the guarded table with the largest share of its
 * rows to delete, when that share exceeds max_percent (0-100): its id,
 * else -1.  *deleted and *had describe that table.
 */
int	mirror_plan_guard(const struct mirror_plan *plan, unsigned max_percent,
	    size_t *deleted, size_t *had);

/*
 * mirror_plan_summary - "organizations +1 ~0 -0, projects ..." into buf
 * (only the tables with changes; "no changes" when none).
 */
void	mirror_plan_summary(const struct mirror_plan *plan, char *buf,
	    size_t len);

/*
 * mirror_key_exact - the key of a row given as values, byte for byte
 * (columns joined by 0x1f), in a new string; NULL on OOM.
 */
char	*mirror_key_exact(const struct mirror_table *t, const char *const *v);

/*
 * A key as text (mirror_key_text) fits in this many bytes, escaped, when
 * its columns are as long as relaycfg's (a 200-character transaction);
 * a message that shows one fits in MIRROR_WHY_LEN.
 */
#define MIRROR_KEY_TEXT_LEN	4096
#define MIRROR_WHY_LEN		(MIRROR_KEY_TEXT_LEN + 512)

/*
 * mirror_key_text - the key of a row given as values (the id; "7 sentry:
 * scrub-data" for two columns) into buf, for lines a person reads: valid
 * UTF-8 as it is, each other byte, control character (C0, DEL, C1) and
 * backslash as \xhh, so that two keys that differ look different.  A
 * key longer than len allows is cut at a character and ends in "\u2026"
 * (an ellipsis; len of 4 or more).  Returns buf.
 */
char	*mirror_key_text(const struct mirror_table *t, const char *const *v,
	    char *buf, size_t len);

/*
 * mirror_key_string - the key of a row given as values, columns joined
 * by ' ' and SQL NULL as "NULL", uncut and unescaped, for --json (json-c
 * escapes what JSON needs): a byte that is not valid UTF-8 (never from
 * PostgreSQL) becomes U+FFFD.  A new string, NULL on OOM.
 */
char	*mirror_key_string(const struct mirror_table *t,
	    const char *const *v);

#endif
