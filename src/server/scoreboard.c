/*
 * scoreboard.c - per-worker request state shared with the master.
 */
#include "config.h"

#include <sys/mman.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "scoreboard.h"

struct scoreboard {
	size_t			 size;	/* bytes mapped, header included */
	int			 n;
	struct scoreboard_slot	 slots[];
};

long long
scoreboard_now_ms(void)
{
	return clock_mono_ms();
}

struct scoreboard *
scoreboard_create(int n)
{
	struct scoreboard *sb;
	size_t size;

	if (n < 1)
		n = 1;
	size = sizeof(*sb) + (size_t)n * sizeof(sb->slots[0]);
	sb = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sb == MAP_FAILED)
		return NULL;
	/* Fresh anonymous pages are zero: every slot is idle, served 0. */
	sb->size = size;
	sb->n = n;
	for (int i = 0; i < n; i++)
		scoreboard_reset(&sb->slots[i]);
	return sb;
}

void
scoreboard_destroy(struct scoreboard *sb)
{
	if (sb != NULL)
		munmap(sb, sb->size);
}

struct scoreboard_slot *
scoreboard_slot(struct scoreboard *sb, int i)
{
	return &sb->slots[i];
}

void
scoreboard_reset(struct scoreboard_slot *s)
{
	atomic_store(&s->served, 0);
	atomic_store(&s->busy_since_ms, 0);
	s->label[0] = '\0';
}

/* Printable ASCII only: the label ends up in a log line. */
static size_t
label_append(char *dst, size_t o, const char *src)
{
	for (; *src != '\0' && o + 1 < SCOREBOARD_LABEL_MAX; src++)
		dst[o++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	dst[o] = '\0';
	return o;
}

void
scoreboard_begin(struct scoreboard_slot *s, const char *method,
    const char *path)
{
	size_t o;

	if (s == NULL)
		return;
	o = label_append(s->label, 0, method);
	o = label_append(s->label, o, " ");
	label_append(s->label, o, path);
	atomic_store(&s->busy_since_ms, scoreboard_now_ms());
}

void
scoreboard_answered(struct scoreboard_slot *s)
{
	if (s != NULL)
		atomic_fetch_add(&s->served, 1);
}

void
scoreboard_end(struct scoreboard_slot *s)
{
	if (s != NULL)
		atomic_store(&s->busy_since_ms, 0);
}
