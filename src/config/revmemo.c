/*
 * revmemo.c - per-process memory of current config revisions, valid under
 * one cache epoch (revmemo.h).
 */
#include "config.h"

#include <string.h>

#include "revmemo.h"

#define KEY_LEN		32
#define REV_LEN		32
#define SLOTS		4096	/* a power of two: 320 KB */
#define PROBES		8

struct slot {
	bool	used;
	char	key[KEY_LEN];
	char	rev[REV_LEN];
	int64_t	built_at;
};

static struct slot	table[SLOTS];
static char		epoch_now[REVMEMO_EPOCH_LEN + 1];
static bool		epoch_known;
static char		settings_now[REVMEMO_SETTINGS_MAX + 1];

static void
forget(void)
{
	memset(table, 0, sizeof(table));
}

void
revmemo_settings(const char *tag)
{
	size_t len = strlen(tag);

	if (len <= REVMEMO_SETTINGS_MAX && strcmp(tag, settings_now) == 0)
		return;
	forget();
	epoch_known = false;
	if (len <= REVMEMO_SETTINGS_MAX)
		memcpy(settings_now, tag, len + 1);
	else
		settings_now[0] = '\0';
}

bool
revmemo_epoch(const char *epoch)
{
	if (epoch != NULL && epoch_known &&
	    memcmp(epoch, epoch_now, REVMEMO_EPOCH_LEN) == 0)
		return true;
	forget();
	epoch_known = epoch != NULL;
	if (epoch_known)
		memcpy(epoch_now, epoch, REVMEMO_EPOCH_LEN);
	return false;
}

/* Where key belongs: its first 8 characters, hashed (FNV-1a). */
static size_t
home(const char *key)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < 8; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h & (SLOTS - 1);
}

static struct slot *
find(const char *key)
{
	size_t at = home(key);

	for (size_t i = 0; i < PROBES; i++) {
		struct slot *s = &table[(at + i) & (SLOTS - 1)];

		if (s->used && memcmp(s->key, key, KEY_LEN) == 0)
			return s;
	}
	return NULL;
}

bool
revmemo_current(const char *public_key, const char *rev, int64_t now,
    unsigned ttl)
{
	const struct slot *s;

	if (!epoch_known || (s = find(public_key)) == NULL)
		return false;
	return memcmp(s->rev, rev, REV_LEN) == 0 && now >= s->built_at &&
	    now - s->built_at < (int64_t)ttl;
}

void
revmemo_put(const char *public_key, const char *rev, int64_t built_at)
{
	size_t at = home(public_key);
	struct slot *s = find(public_key);

	if (!epoch_known)
		return;
	/* Its own slot, else a free one nearby, else its home slot. */
	for (size_t i = 0; s == NULL && i < PROBES; i++)
		if (!table[(at + i) & (SLOTS - 1)].used)
			s = &table[(at + i) & (SLOTS - 1)];
	if (s == NULL)
		s = &table[at];
	s->used = true;
	memcpy(s->key, public_key, KEY_LEN);
	memcpy(s->rev, rev, REV_LEN);
	s->built_at = built_at;
}
