/*
 * bench_common.c - see bench_common.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "bench_common.h"

void
bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static const char *
creds_field(json_object *o, const char *name, const char *path)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		bench_die("%s: no \"%s\" string", path, name);
	return json_object_get_string(v);
}

void
bench_creds_load(const char *path, struct bench_creds *c)
{
	json_object *o;
	const char *id, *sk;

	if ((o = json_object_from_file(path)) == NULL)
		bench_die("%s: cannot read credentials", path);
	id = creds_field(o, "id", path);
	sk = creds_field(o, "secret_key", path);
	if (relayauth_relay_id_parse(id, c->id) != 0)
		bench_die("%s: bad relay id", path);
	if (relayauth_secret_key_parse(sk, c->sk) != RELAYAUTH_OK)
		bench_die("%s: bad secret key", path);
	relayauth_public_key_of(c->sk, c->public_key);
	json_object_put(o);
}

char **
bench_keys_load(const char *path, size_t *n)
{
	FILE *f;
	char line[256], **keys = NULL;
	size_t cap = 0;

	*n = 0;
	if ((f = fopen(path, "r")) == NULL)
		bench_die("%s: cannot open", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\r\n");

		line[len] = '\0';
		if (len == 0)
			continue;
		if (len != 32)
			bench_die("%s: \"%s\" is not a 32-character key", path,
			    line);
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((keys = realloc(keys, cap * sizeof(*keys))) == NULL)
				bench_die("out of memory");
		}
		if ((keys[*n] = strdup(line)) == NULL)
			bench_die("out of memory");
		(*n)++;
	}
	fclose(f);
	if (*n == 0)
		bench_die("%s: no keys", path);
	return keys;
}

char *
bench_body_keys(char *const *keys, const size_t *idx, size_t n,
    char *const *revs, size_t *len)
{
	size_t cap = 96 + n * 36 + n * 8, off = 0;
	char *b;

	if (revs != NULL)
		for (size_t i = 0; i < n; i++)
			cap += revs[i] != NULL ? strlen(revs[i]) + 3 : 0;
	if ((b = malloc(cap)) == NULL)
		bench_die("out of memory");
	off += (size_t)sprintf(b + off, "{\"publicKeys\":[");
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(b + off, "%s\"%s\"", i ? "," : "",
		    keys[idx[i]]);
	off += (size_t)sprintf(b + off, "],\"revisions\":[");
	for (size_t i = 0; i < n; i++) {
		if (revs != NULL && revs[i] != NULL)
			off += (size_t)sprintf(b + off, "%s\"%s\"", i ? "," : "",
			    revs[i]);
		else
			off += (size_t)sprintf(b + off, "%snull", i ? "," : "");
	}
	off += (size_t)sprintf(b + off,
	    "],\"fullConfig\":false,\"noCache\":false}");
	*len = off;
	return b;
}

char *
bench_body_global(size_t *len)
{
	static const char g[] = "{\"global\":true,\"publicKeys\":[]}";
	char *b;

	if ((b = strdup(g)) == NULL)
		bench_die("out of memory");
	*len = sizeof(g) - 1;
	return b;
}

uint64_t
bench_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

void
bench_shuffle(size_t *idx, size_t n, uint64_t *state)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(bench_rand(state) % i), t = idx[i - 1];

		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
