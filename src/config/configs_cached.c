/*
 * configs_cached.c - a computed-config entry read back from memcached:
 * parsed strictly, its fragment checked once per process.  The cache
 * answers only entries built under this process's settings, without
 * their tag (cache.h, cache_config_tag).  The entry's format is at the
 * head of configs.c.
 *
 * Whatever memcached returns is untrusted input (anyone who reaches it
 * can write there, and values can be damaged): every field is checked
 * (built_at decimal, rev 32 lowercase hex, lastChange in the exact time
 * format, CRC and operator 8 lowercase hex, lengths against the value),
 * and the fragment must be what zfrag_make makes of text_len bytes with
 * that CRC (zfrag_check: the operator recomputed, the bytes inflated).
 * An entry that fails is a miss, logged, and overwritten by the rebuild.
 * Inflating every fragment of every answer would cost more than the
 * rest of a warm answer, so a process remembers the entries it has
 * checked (or written) by a keyed digest of their public key, header
 * line and fragment length (checked_*): relaycfg never writes two
 * different fragments under one header (built_at, rev, CRC, lengths),
 * so a remembered header stands for bytes already checked.  A writer
 * that forges a checked header over other bytes could as well write a
 * whole valid config; even then the answer keeps its framing (zfrag.h:
 * exactly the bytes counted are sent).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache.h"
#include "configs_int.h"
#include "log.h"
#include "valid.h"

/* No config comes near this; a larger length is a damaged entry. */
#define CACHED_TEXT_MAX	(64u << 20)

/*
 * Entries a process remembers as checked: a power of two, in sets of two
 * (the one used last first).  A miss costs the fragment's inflate and CRC
 * (zfrag_check, ~20 us for a 10 KB config), so the memo must hold a
 * fleet's working set: 4096 slots made 100 warm keys drawn from 10,000
 * cost 2.9 ms of a worker against 0.65 ms on a small set (bench S5-S2);
 * 65536 (512 KB a process) one to a slot, 0.98 ms, the rest being keys
 * that shared a slot (14% of them, each evicting the other); two to a
 * set leaves that to keys with two others in their set (under 4%).
 */
#define CHECKED_SLOTS	65536
#define CHECKED_WAYS	2
_Static_assert(CHECKED_WAYS == 2, "checked_has and checked_put use two");
/* A public key is 32 characters (configs.h). */
#define CHECKED_KEY_MAX	32

/*
 * The next field of [*p, end), up to sep: its start in *f and length in
 * *n, and *p past the separator.  false when there is no separator or the
 * field is empty.
 */
static bool
next_field(const char **p, const char *end, char sep, const char **f,
    size_t *n)
{
	const char *e = memchr(*p, sep, (size_t)(end - *p));

	if (e == NULL || e == *p)
		return false;
	*f = *p;
	*n = (size_t)(e - *p);
	*p = e + 1;
	return true;
}

/* n decimal digits, at most max. */
static bool
parse_dec(const char *s, size_t n, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long v = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Exactly 8 lowercase hex digits. */
static bool
parse_hex32(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	if (n != 8)
		return false;
	for (size_t i = 0; i < 8; i++) {
		int d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
		    s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;

		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return true;
}

/* "-" (none, out gets "") or exactly len characters into out. */
static bool
parse_opt(const char *s, size_t n, size_t len, char *out)
{
	if (n == 1 && s[0] == '-') {
		out[0] = '\0';
		return true;
	}
	if (n != len)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/*
 * Parse one cache payload; anything malformed is simply absent.  By hand:
 * this runs for every key of every warm request, and sscanf was a tenth
 * of a 100-key answer's CPU.  The fragment after the header line is never
 * scanned.
 */
void
cached_parse(const struct cache_value *v, struct cached *out)
{
	unsigned long long built, text_len;
	const char *p, *end, *f;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (v->data == NULL)
		return;
	p = v->data;
	if ((end = memchr(p, '\n', v->len < CACHED_HEAD_MAX ? v->len :
	    CACHED_HEAD_MAX)) == NULL || (size_t)(end - p) + 1 >= v->len)
		return;
	if (!next_field(&p, end, ' ', &f, &n) ||
	    !parse_dec(f, n, INT64_MAX, &built) ||
	    !next_field(&p, end, ' ', &f, &n) ||
	    !parse_opt(f, n, PROJECTCONFIG_REV_LEN, out->rev) ||
	    !next_field(&p, end, ' ', &f, &n) ||
	    !parse_opt(f, n, PROJECTCONFIG_TIME_LEN, out->last_change) ||
	    !next_field(&p, end, ' ', &f, &n) ||
	    !parse_hex32(f, n, &out->frag.crc) ||
	    !next_field(&p, end, ' ', &f, &n) ||
	    !parse_hex32(f, n, &out->frag.op) ||
	    !parse_dec(p, (size_t)(end - p), CACHED_TEXT_MAX, &text_len) ||
	    (out->rev[0] != '\0' && !valid_hex32(out->rev)) ||
	    (out->last_change[0] != '\0' && !valid_timestamp(out->last_change))) {
		memset(out, 0, sizeof(*out));
		return;
	}
	out->head_len = (size_t)(end - v->data) + 1;
	out->built_at = (int64_t)built;
	out->frag.data = (const unsigned char *)end + 1;
	out->frag.len = v->len - (size_t)(end - v->data) - 1;
	out->frag.text_len = (size_t)text_len;
	out->present = true;
}

/* The checked entries of this process, by digest (0: empty slot). */
static uint64_t		checked_slots[CHECKED_SLOTS];
static unsigned char	checked_key[crypto_shorthash_KEYBYTES];
static bool		checked_key_made;

/*
 * The digest that stands for an entry: SipHash-2-4, keyed per process
 * so that nobody outside can aim two entries at one value, over the
 * public key, the header line and the fragment's length.  Never 0.
 */
uint64_t
checked_digest(const char *public_key, const char *head, size_t head_len,
    size_t frag_len)
{
	unsigned char buf[CHECKED_KEY_MAX + 1 + CACHED_HEAD_MAX + 8];
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t d, fl = (uint64_t)frag_len;
	size_t kl = strlen(public_key), n = 0;

	if (!checked_key_made) {
		crypto_shorthash_keygen(checked_key);
		checked_key_made = true;
	}
	/* Both bounded already (cached_parse, configs.h): never cut. */
	if (kl > CHECKED_KEY_MAX)
		kl = CHECKED_KEY_MAX;
	if (head_len > CACHED_HEAD_MAX)
		head_len = CACHED_HEAD_MAX;
	memcpy(buf, public_key, kl);
	n = kl;
	buf[n++] = '\0';
	memcpy(buf + n, head, head_len);
	n += head_len;
	memcpy(buf + n, &fl, sizeof(fl));
	n += sizeof(fl);
	crypto_shorthash(h, buf, n, checked_key);
	memcpy(&d, h, sizeof(d));
	return d != 0 ? d : 1;
}

/* The set of d: CHECKED_WAYS slots, the one used last first. */
static uint64_t *
checked_set(uint64_t d)
{
	return &checked_slots[(d & (CHECKED_SLOTS / CHECKED_WAYS - 1)) *
	    CHECKED_WAYS];
}

static bool
checked_has(uint64_t d)
{
	uint64_t *set = checked_set(d);

	if (set[0] == d)
		return true;
	if (set[1] != d)
		return false;
	set[1] = set[0];
	set[0] = d;
	return true;
}

void
checked_put(uint64_t d)
{
	uint64_t *set = checked_set(d);

	if (set[0] != d) {
		set[1] = set[0];
		set[0] = d;
	}
}

/*
 * cached_check - c (parsed from v for public_key) is usable only when
 * its fragment is what its header says; a failure is logged (the key is
 * 32 hex, the reason a fixed string: no cached bytes reach the log) and
 * c becomes absent.
 */
void
cached_check(const char *public_key, const struct cache_value *v,
    struct cached *c)
{
	const char *why;
	uint64_t d;

	if (!c->present)
		return;
	d = checked_digest(public_key, v->data, c->head_len, c->frag.len);
	if (checked_has(d))
		return;
	if (!zfrag_check(&c->frag, &why)) {
		log_warn("cached config of %s is damaged (%s): rebuilt",
		    public_key, why);
		memset(c, 0, sizeof(*c));
		return;
	}
	checked_put(d);
}

/* Was something built at built_at still fresh at now? */
bool
is_fresh(int64_t built_at, const struct timespec *now, unsigned ttl)
{
	return (int64_t)now->tv_sec >= built_at &&
	    (int64_t)now->tv_sec - built_at < (int64_t)ttl;
}

/* Does rev entry v say rev is the current (fresh) revision? */
bool
rev_entry_current(const struct cache_value *v, const char *rev,
    const struct timespec *now, unsigned ttl, int64_t *built_at)
{
	const char *sp;
	char *end;
	long long built;

	/* By hand: this runs for every key of Relay's steady-state polls. */
	if (v->data == NULL || v->len < PROJECTCONFIG_REV_LEN + 2 ||
	    (sp = v->data + v->len - PROJECTCONFIG_REV_LEN - 1)[0] != ' ' ||
	    memcmp(sp + 1, rev, PROJECTCONFIG_REV_LEN) != 0 ||
	    !isdigit((unsigned char)v->data[0]))
		return false;
	errno = 0;
	built = strtoll(v->data, &end, 10);
	*built_at = built;
	return errno == 0 && end == sp && is_fresh(built, now, ttl);
}
