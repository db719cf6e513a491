/*
 * mirror_rows.c - one table's rows from one side, in the canonical text
 * mirror.h describes, and the checks a Sentry row passes before relaycfg
 * takes it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonstrict.h"
#include "mirror.h"
#include "valid.h"

/* mirror_rows_init - see mirror.h. */
void
mirror_rows_init(struct mirror_rows *r, const struct mirror_table *t)
{
	memset(r, 0, sizeof(*r));
	r->t = t;
}

/* row_free - a row's ncols values and the array; NULL is fine. */
static void
row_free(char **v, size_t ncols)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < ncols; i++)
		free(v[i]);
	free(v);
}

/* mirror_rows_free - see mirror.h. */
void
mirror_rows_free(struct mirror_rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		row_free(r->rows[i].v, r->t->ncols);
	free(r->rows);
	for (size_t i = 0; i < r->nkept; i++)
		free(r->kept[i]);
	free(r->kept);
	mirror_rows_init(r, r->t);
}

/* mirror_json_refusal - see mirror.h. */
const char *
mirror_json_refusal(const char *json, size_t len)
{
	static const char deep[] = "is JSON nested deeper than 32 levels, "
	    "which relaycfg does not store";
	const char *why = NULL;

	if (len >= INT32_MAX)
		return "is too long";
	if (jsonstrict_check(json, len, MIRROR_JSON_DEPTH, &why) != 0)
		return why == jsonstrict_too_deep ? deep :
		    "is not JSON (a pickled value?)";
	if (jsonstrict_jsonc_too_deep(json, len, MIRROR_JSON_DEPTH))
		return deep;
	if (jsonstrict_wide_integer(json, len))
		return "has an integer beyond 64 bits, which relaycfg would "
		    "store changed";
	return NULL;
}

/* mirror_json_canonical - see mirror.h. */
char *
mirror_json_canonical(const char *json, size_t len, bool *oom)
{
	json_tokener *tok;
	json_object *o = NULL;
	const char *text;
	char *out = NULL;

	*oom = false;
	/* json-c alone takes single quotes and raw control bytes. */
	if (mirror_json_refusal(json, len) != NULL)
		return NULL;
	if ((tok = json_tokener_new_ex(MIRROR_JSON_DEPTH)) == NULL) {
		*oom = true;
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, json, (int)len + 1);
	if (json_tokener_get_error(tok) == json_tokener_success) {
		/* The spelling relaycfgctl option set stores. */
		text = o != NULL ? json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) :
		    "null";
		if ((out = strdup(text != NULL ? text : "null")) == NULL)
			*oom = true;
	}
	json_object_put(o);
	json_tokener_free(tok);
	return out;
}

/*
 * check_value - why the Sentry value s of column c is refused, or NULL.
 */
static const char *
check_value(const struct mirror_col *c, const char *s)
{
	int64_t n = 0;

	if (s == NULL)
		return c->null_ok || c->kind == MC_JSON ? NULL : "is NULL";
	if (c->kind == MC_INT && !valid_int64(s, &n))
		return "is not an integer";
	if (c->kind == MC_BOOL && strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
		return "is not a boolean";
	switch (c->check) {
	case MV_HEX32:
		return valid_hex32(s) ? NULL : "is not 32 lowercase hex digits";
	case MV_UUID:
		return valid_uuid(s) ? NULL : "is not a lowercase UUID";
	case MV_OPTKEY:
		return valid_option_key(s) ? NULL :
		    "is not 1-64 of [A-Za-z0-9_.:-]";
	case MV_ID:
		return n > 0 ? NULL : "is not a positive id";
	case MV_TXMETRIC:
		return valid_txmetric(n) ? NULL :
		    "is not 1 (duration) or 2 (lcp)";
	case MV_TXTHRESHOLD:
		return valid_txthreshold(n) ? NULL :
		    "is not a multiple of 100 that relaycfg takes";
	case MV_TXNAME:
		return valid_txname(s) ? NULL :
		    "is not 1-200 characters of text";
	case MV_NONE:
		break;
	}
	return NULL;
}

/* One output: the bytes the whole text needs, those written so far. */
struct text_out {
	char	*buf;
	size_t	 len, max, o, need;
	bool	 full;
};

/* out_put - n bytes of one character (or escape), whole or not at all. */
static void
out_put(struct text_out *out, const char *unit, size_t n)
{
	out->need += n;
	if (!out->full && out->o + n <= out->max && out->o + n < out->len) {
		memcpy(out->buf + out->o, unit, n);
		out->o += n;
	} else
		out->full = true;
}

/*
 * key_text_put - the key as mirror_key_text shows it into buf, at most
 * max bytes and whole characters (escapes) of it, NUL-terminated when len
 * > 0.  Returns the bytes the whole key needs, as snprintf does.
 */
static size_t
key_text_put(const struct mirror_table *t, const char *const *v, char *buf,
    size_t len, size_t max)
{
	struct text_out out = { buf, len, max, 0, 0, false };

	for (size_t c = 0; c < t->nkey; c++) {
		const unsigned char *s = (const unsigned char *)
		    (v[c] != NULL ? v[c] : "NULL");

		if (c > 0)
			out_put(&out, " ", 1);
		while (*s != '\0') {
			size_t n = valid_utf8_len(s);
			char esc[5];

			/* C1 controls are 0xc2 0x80-0x9f. */
			if (n > 0 && s[0] >= 0x20 && s[0] != 0x7f &&
			    s[0] != '\\' && !(s[0] == 0xc2 && s[1] < 0xa0)) {
				out_put(&out, (const char *)s, n);
				s += n;
				continue;
			}
			for (size_t k = 0; k < (n > 0 ? n : 1); k++) {
				snprintf(esc, sizeof(esc), "\\x%02x", *s++);
				out_put(&out, esc, 4);
			}
		}
	}
	if (len > 0)
		buf[out.o] = '\0';
	return out.need;
}

/* mirror_key_text - see mirror.h. */
char *
mirror_key_text(const struct mirror_table *t, const char *const *v,
    char *buf, size_t len)
{
	static const char ellipsis[] = "\xe2\x80\xa6";
	size_t o;

	if (key_text_put(t, v, buf, len, SIZE_MAX) < len || len < 4)
		return buf;
	/* Cut: room for the ellipsis and the NUL. */
	key_text_put(t, v, buf, len, len - sizeof(ellipsis));
	o = strlen(buf);
	memcpy(buf + o, ellipsis, sizeof(ellipsis));
	return buf;
}

/* mirror_key_string - see mirror.h. */
char *
mirror_key_string(const struct mirror_table *t, const char *const *v)
{
	size_t len = 1, o = 0;
	char *k;

	/* Each byte at most 3 (U+FFFD), a separator each column. */
	for (size_t c = 0; c < t->nkey; c++)
		len += 3 * strlen(v[c] != NULL ? v[c] : "NULL") + 1;
	if ((k = malloc(len)) == NULL)
		return NULL;
	for (size_t c = 0; c < t->nkey; c++) {
		const unsigned char *s = (const unsigned char *)
		    (v[c] != NULL ? v[c] : "NULL");

		if (c > 0)
			k[o++] = ' ';
		while (*s != '\0') {
			size_t n = valid_utf8_len(s);

			if (n == 0) {
				memcpy(k + o, "\xef\xbf\xbd", 3);
				o += 3;
				s++;
				continue;
			}
			memcpy(k + o, s, n);
			o += n;
			s += n;
		}
	}
	k[o] = '\0';
	return k;
}

/* mirror_key_exact - see mirror.h. */
char *
mirror_key_exact(const struct mirror_table *t, const char *const *v)
{
	size_t len = 0, off = 0;
	char *k;

	for (size_t c = 0; c < t->nkey; c++)
		len += (v[c] != NULL ? strlen(v[c]) : 0) + 1;
	if ((k = malloc(len + 1)) == NULL)
		return NULL;
	for (size_t c = 0; c < t->nkey; c++) {
		size_t n = v[c] != NULL ? strlen(v[c]) : 0;

		if (c > 0)
			k[off++] = 0x1f;
		memcpy(k + off, v[c] != NULL ? v[c] : "", n);
		off += n;
	}
	k[off] = '\0';
	return k;
}

/* keep_key - remember a refused row's exact key; -1 on OOM (r as it was). */
static int
keep_key(struct mirror_rows *r, const char *const *vals)
{
	char **nk, *k;

	if (r->nkept == r->capkept) {
		size_t cap = r->capkept ? r->capkept * 2 : 8;

		if ((nk = realloc(r->kept, cap * sizeof(*nk))) == NULL)
			return -1;
		r->kept = nk;
		r->capkept = cap;
	}
	if ((k = mirror_key_exact(r->t, vals)) == NULL)
		return -1;
	r->kept[r->nkept++] = k;
	return 0;
}

/* is_skipped - is cols[1] one of the table's own values, mirrored by
 * neither side? */
static bool
is_skipped(const struct mirror_table *t, const char *const *vals)
{
	if (t->skip == NULL || t->ncols < 2 || vals[1] == NULL)
		return false;
	for (const char *const *s = t->skip; *s != NULL; s++)
		if (strcmp(*s, vals[1]) == 0)
			return true;
	return false;
}

/* mirror_rows_add - see mirror.h. */
int
mirror_rows_add(struct mirror_rows *r, const char *const *vals, bool sentry,
    char *why, size_t whylen)
{
	const struct mirror_table *t = r->t;
	struct mirror_row row = { NULL, { 0, 0 } };
	char shown[MIRROR_KEY_TEXT_LEN];
	bool oom = false;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (is_skipped(t, vals))
		return 0;
	if (sentry) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *bad;

			/* A column this Sentry lacks is not Sentry's to check. */
			if (r->absent[i] ||
			    (bad = check_value(&t->cols[i], vals[i])) == NULL)
				continue;
			if (why != NULL)
				snprintf(why, whylen, "%s (%s): %s %s", t->name,
				    mirror_key_text(t, vals, shown,
				    sizeof(shown)), t->cols[i].name, bad);
			/* A refused key still protects relaycfg's row. */
			return keep_key(r, vals) == 0 ? 1 : -1;
		}
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct mirror_row *nr = realloc(r->rows, cap * sizeof(*nr));

		if (nr == NULL)
			return -1;
		r->rows = nr;
		r->cap = cap;
	}
	if ((row.v = calloc(t->ncols, sizeof(*row.v))) == NULL)
		return -1;
	for (size_t i = 0; i < t->ncols && !oom; i++) {
		const char *s = vals[i];

		if (s == NULL && sentry && t->cols[i].kind == MC_JSON &&
		    !t->cols[i].null_ok && !r->absent[i])
			s = "null";
		if (s == NULL)
			continue;
		if (t->cols[i].kind == MC_JSON) {
			row.v[i] = mirror_json_canonical(s, strlen(s), &oom);
			if (row.v[i] != NULL || oom)
				continue;
			if (sentry) {
				/* Old rows hold base64 pickles. */
				row_free(row.v, t->ncols);
				if (why != NULL)
					snprintf(why, whylen, "%s (%s): %s %s",
					    t->name, mirror_key_text(t, vals,
					    shown, sizeof(shown)),
					    t->cols[i].name,
					    mirror_json_refusal(s, strlen(s)));
				return keep_key(r, vals) == 0 ? 1 : -1;
			}
		}
		if ((row.v[i] = strdup(s)) == NULL)
			oom = true;
	}
	if (oom) {
		row_free(row.v, t->ncols);
		return -1;
	}
	for (size_t c = 0; c < t->nkey; c++)
		if (t->cols[c].kind == MC_INT && !valid_int64(row.v[c], &row.k[c]))
			row.k[c] = 0;
	r->rows[r->n++] = row;
	return 0;
}

/* Is id among rows' keys (sorted, one integer column)? */
static bool
has_id(const struct mirror_rows *rows, int64_t id)
{
	size_t lo = 0, hi = rows->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows->rows[mid].k[0] == id)
			return true;
		if (rows->rows[mid].k[0] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* mirror_drop_orphans - see mirror.h. */
int
mirror_drop_orphans(struct mirror_rows want[MT_COUNT],
    void (*dropped)(const char *why, void *arg), void *arg)
{
	const struct mirror_link *links;
	size_t nlinks;

	links = mirror_links(&nlinks);
	for (size_t l = 0; l < nlinks; l++) {
		struct mirror_rows *child = &want[links[l].child];
		const struct mirror_rows *parent = &want[links[l].parent];
		const struct mirror_table *t = child->t;
		size_t col = links[l].col, m = 0;

		if (parent->unmirrored)
			continue;
		for (size_t i = 0; i < child->n; i++) {
			struct mirror_row *row = &child->rows[i];
			const char *v = row->v[col];
			char shown[MIRROR_KEY_TEXT_LEN], why[MIRROR_WHY_LEN];

			if (v == NULL || child->absent[col] ||
			    has_id(parent, strtoll(v, NULL, 10))) {
				child->rows[m++] = *row;
				continue;
			}
			mirror_key_text(t, (const char *const *)row->v, shown,
			    sizeof(shown));
			if (t->cols[col].null_ok) {
				snprintf(why, sizeof(why), "%s (%s): %s %s is "
				    "not a row of %s: taken as NULL", t->name,
				    shown, t->cols[col].name, v,
				    parent->t->name);
				free(row->v[col]);
				row->v[col] = NULL;
				dropped(why, arg);
				child->rows[m++] = *row;
				continue;
			}
			snprintf(why, sizeof(why), "%s (%s): %s %s is not a "
			    "row relaycfg takes from %s", t->name, shown,
			    t->cols[col].name, v, parent->t->name);
			if (keep_key(child, (const char *const *)row->v) != 0) {
				/* Keep the rest consistent: undo nothing. */
				for (; i < child->n; i++)
					child->rows[m++] = child->rows[i];
				child->n = m;
				return -1;
			}
			dropped(why, arg);
			row_free(row->v, t->ncols);
		}
		child->n = m;
	}
	return 0;
}

/* mirror_no_templates - see mirror.h. */
void
mirror_no_templates(struct mirror_rows want[MT_COUNT])
{
	struct mirror_rows *projects = &want[MT_PROJECT];

	if (!want[MT_TEMPLATE].unmirrored)
		return;
	/* Free and re-initialised: no rows, nothing kept, nothing absent or
	 * unmirrored.  A Sentry that still has template options without
	 * templates has options that apply to nothing. */
	mirror_rows_free(&want[MT_TEMPLATE]);
	mirror_rows_free(&want[MT_TEMPLATE_OPTION]);
	/* Also when the column outlives the table: it names nothing. */
	for (size_t i = 0; i < projects->n; i++) {
		free(projects->rows[i].v[MIRROR_PROJECT_TEMPLATE]);
		projects->rows[i].v[MIRROR_PROJECT_TEMPLATE] = NULL;
	}
	projects->absent[MIRROR_PROJECT_TEMPLATE] = false;
}

/* mirror_row_cmp - see mirror.h. */
int
mirror_row_cmp(const struct mirror_table *t, const struct mirror_row *a,
    const struct mirror_row *b)
{
	for (size_t c = 0; c < t->nkey; c++) {
		int d;

		if (t->cols[c].kind == MC_INT)
			d = (a->k[c] > b->k[c]) - (a->k[c] < b->k[c]);
		else
			d = strcmp(a->v[c] != NULL ? a->v[c] : "",
			    b->v[c] != NULL ? b->v[c] : "");
		if (d != 0)
			return d;
	}
	return 0;
}

/* cmp_rows - qsort_r's form of mirror_row_cmp; arg is the table. */
static int
cmp_rows(const void *a, const void *b, void *arg)
{
	return mirror_row_cmp(arg, a, b);
}

/* mirror_rows_sort - see mirror.h. */
bool
mirror_rows_sort(struct mirror_rows *r)
{
	if (r->n > 1)
		qsort_r(r->rows, r->n, sizeof(*r->rows), cmp_rows,
		    (void *)r->t);
	for (size_t i = 1; i < r->n; i++)
		if (mirror_row_cmp(r->t, &r->rows[i - 1], &r->rows[i]) == 0)
			return false;
	return true;
}
