/*
 * mirror_plan.c - the changes that make relaycfg's rows equal Sentry's:
 * a merge of two key-sorted row sets, then the deletion guard and the
 * summary line.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror.h"

/* same_value - two values, either of which may be SQL NULL. */
static bool
same_value(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* a (Sentry's) and b (relaycfg's) agree on every column Sentry has. */
static bool
same_row(const struct mirror_rows *want, const struct mirror_row *a,
    const struct mirror_row *b)
{
	for (size_t i = 0; i < want->t->ncols; i++)
		if (!want->absent[i] && !same_value(a->v[i], b->v[i]))
			return false;
	return true;
}

/* Is the key of row among the Sentry rows refused (kept as they are)? */
static bool
is_kept(const struct mirror_rows *want, const struct mirror_row *row)
{
	char *key;
	bool kept = false;

	if (want->nkept == 0)
		return false;
	/* OOM: kept, the safe answer (nothing is deleted). */
	if ((key = mirror_key_exact(want->t, (const char *const *)row->v)) ==
	    NULL)
		return true;
	for (size_t i = 0; i < want->nkept && !kept; i++)
		kept = strcmp(want->kept[i], key) == 0;
	free(key);
	return kept;
}

/* add_change - append one change to tp (capacity *cap); -1 on OOM. */
static int
add_change(struct mirror_tplan *tp, size_t *cap, enum mirror_op op,
    const struct mirror_row *want, const struct mirror_row *have)
{
	if (tp->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct mirror_change *nc = realloc(tp->ch, ncap * sizeof(*nc));

		if (nc == NULL)
			return -1;
		tp->ch = nc;
		*cap = ncap;
	}
	tp->ch[tp->n].op = op;
	tp->ch[tp->n].want = want;
	tp->ch[tp->n].have = have;
	tp->n++;
	tp->count[op]++;
	return 0;
}

/* One table: walk both sorted sets side by side. */
static int
plan_table(struct mirror_tplan *tp, const struct mirror_rows *want,
    const struct mirror_rows *have, bool keep_deletes)
{
	const struct mirror_table *t = want->t;
	size_t i = 0, j = 0, cap = 0;
	int rc = 0;

	tp->nhave = have->n;
	if (want->unmirrored)
		return 0;
	while (rc == 0 && (i < want->n || j < have->n)) {
		int c;

		if (i == want->n)
			c = 1;
		else if (j == have->n)
			c = -1;
		else
			c = mirror_row_cmp(t, &want->rows[i], &have->rows[j]);
		if (c < 0) {
			rc = add_change(tp, &cap, MO_INSERT, &want->rows[i], NULL);
			i++;
		} else if (c > 0) {
			if (!keep_deletes && !is_kept(want, &have->rows[j]))
				rc = add_change(tp, &cap, MO_DELETE, NULL,
				    &have->rows[j]);
			j++;
		} else {
			if (!same_row(want, &want->rows[i], &have->rows[j]))
				rc = add_change(tp, &cap, MO_UPDATE,
				    &want->rows[i], &have->rows[j]);
			i++;
			j++;
		}
	}
	return rc;
}

/* mirror_plan_build - see mirror.h. */
int
mirror_plan_build(struct mirror_plan *plan, const struct mirror_rows *want,
    const struct mirror_rows *have, bool keep_relays)
{
	memset(plan, 0, sizeof(*plan));
	plan->keep_relays = keep_relays;
	for (int t = 0; t < MT_COUNT; t++) {
		bool keep = keep_relays && t == MT_RELAY;

		if (plan_table(&plan->t[t], &want[t], &have[t], keep) != 0) {
			mirror_plan_free(plan);
			return -1;
		}
	}
	return 0;
}

/* mirror_plan_free - see mirror.h. */
void
mirror_plan_free(struct mirror_plan *plan)
{
	for (int t = 0; t < MT_COUNT; t++)
		free(plan->t[t].ch);
	memset(plan, 0, sizeof(*plan));
}

/* mirror_plan_empty - see mirror.h. */
bool
mirror_plan_empty(const struct mirror_plan *plan)
{
	for (int t = 0; t < MT_COUNT; t++)
		if (plan->t[t].n > 0)
			return false;
	return true;
}

/* mirror_plan_guard - see mirror.h. */
int
mirror_plan_guard(const struct mirror_plan *plan, unsigned max_percent,
    size_t *deleted, size_t *had)
{
	int worst = -1;
	double worst_share = 0;

	*deleted = 0;
	*had = 0;
	for (int t = 0; t < MT_COUNT; t++) {
		const struct mirror_tplan *tp = &plan->t[t];
		double share;

		if (!mirror_table(t)->guarded || tp->nhave == 0)
			continue;
		share = 100.0 * (double)tp->count[MO_DELETE] /
		    (double)tp->nhave;
		if (share > (double)max_percent && share > worst_share) {
			worst = t;
			worst_share = share;
			*deleted = tp->count[MO_DELETE];
			*had = tp->nhave;
		}
	}
	return worst;
}

/* mirror_plan_summary - see mirror.h. */
void
mirror_plan_summary(const struct mirror_plan *plan, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (int t = 0; t < MT_COUNT && off < len; t++) {
		const struct mirror_tplan *tp = &plan->t[t];
		int w;

		if (tp->n == 0)
			continue;
		w = snprintf(buf + off, len - off, "%s%s +%zu ~%zu -%zu",
		    off > 0 ? ", " : "", mirror_table(t)->what,
		    tp->count[MO_INSERT], tp->count[MO_UPDATE],
		    tp->count[MO_DELETE]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (off == 0)
		snprintf(buf, len, "no changes");
}
