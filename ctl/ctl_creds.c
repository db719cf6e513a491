/*
 * ctl_creds.c - Relay credentials for the relay-side commands: files read
 * whole, a credentials.json read and checked, a body signed as of a time.
 *
 * The secret key is read from a Relay credentials file and never printed;
 * what held it is wiped.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "ctl_relay.h"

#define MAX_CREDENTIALS		(64UL << 10)

/*
 * read_stream - all of fp into a new NUL-terminated buffer (the NUL is
 * not counted).  Returns 0, or -1 on a read error, OOM or more than max
 * bytes (*buf then NULL).
 */
static int
read_stream(FILE *fp, size_t max, char **buf, size_t *len)
{
	char *b = NULL, *nb;
	size_t cap = 0, n = 0, got;

	*buf = NULL;
	*len = 0;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap == 0 ? 8192 : cap * 2;
			if ((nb = realloc(b, cap + 1)) == NULL)
				goto fail;
			b = nb;
		}
		got = fread(b + n, 1, cap - n, fp);
		n += got;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
		if (got == 0) {
			if (ferror(fp))
				goto fail;
			break;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
fail:
	free(b);
	return -1;
}

/* read_file - read_stream of path ("-": stdin); errors reported here. */
int
ctl_read_file(const char *cmd, const char *path, size_t max, char **buf,
    size_t *len)
{
	FILE *fp;
	int rc;

	if (strcmp(path, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(path, "rb")) == NULL) {
		ctl_warn(cmd, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((rc = read_stream(fp, max, buf, len)) != 0)
		ctl_warn(cmd, "%s: %s", path, strerror(errno));
	if (fp != stdin)
		fclose(fp);
	return rc;
}

/*
 * ctl_creds_load - read a Relay credentials.json ({"secret_key","public_key",
 * "id"}, all three required as in Relay's Credentials).  The public key
 * must be the secret key's; the id is normalised.  Returns 0, or -1 with
 * the reason on stderr (never the secret) and c untouched.
 */
int
ctl_creds_load(const char *cmd, const char *path, struct creds *c)
{
	struct creds tmp;
	json_object *obj = NULL, *sk, *pk, *id;
	enum relayauth_status st;
	char *text = NULL;
	size_t len;
	int rc = -1;

	if (ctl_read_file(cmd, path, MAX_CREDENTIALS, &text, &len) != 0)
		goto out;
	if ((obj = json_tokener_parse(text)) == NULL ||
	    !json_object_is_type(obj, json_type_object)) {
		ctl_warn(cmd, "%s: not a JSON object", path);
		goto out;
	}
	if (!json_object_object_get_ex(obj, "secret_key", &sk) ||
	    !json_object_is_type(sk, json_type_string) ||
	    !json_object_object_get_ex(obj, "public_key", &pk) ||
	    !json_object_is_type(pk, json_type_string) ||
	    !json_object_object_get_ex(obj, "id", &id) ||
	    !json_object_is_type(id, json_type_string)) {
		ctl_warn(cmd, "%s: needs string fields secret_key, "
		    "public_key and id", path);
		goto out;
	}
	if ((st = relayauth_secret_key_parse(json_object_get_string(sk),
	    tmp.sk)) != RELAYAUTH_OK) {
		ctl_warn(cmd, "%s: secret_key: %s", path,
		    relayauth_status_str(st));
		goto out;
	}
	relayauth_public_key_of(tmp.sk, tmp.public_key);
	if (strcmp(tmp.public_key, json_object_get_string(pk)) != 0) {
		ctl_warn(cmd, "%s: public_key is not the secret_key's", path);
		goto out;
	}
	if (relayauth_relay_id_parse(json_object_get_string(id),
	    tmp.relay_id) != 0) {
		ctl_warn(cmd, "%s: id is not a UUID", path);
		goto out;
	}
	*c = tmp;
	rc = 0;
out:
	sodium_memzero(&tmp, sizeof(tmp));
	if (text != NULL)
		sodium_memzero(text, len);
	free(text);
	json_object_put(obj);
	return rc;
}

/* ctl_parse_time - a --time value: whole unix seconds. */
int
ctl_parse_time(const char *cmd, const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0) {
		ctl_warn(cmd, "--time: \"%s\" is not unix seconds", s);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * ctl_sign_body - the signature header value for body, as of --time or now.
 * Returns a new string, or NULL with the reason on stderr.
 */
char *
ctl_sign_body(const char *cmd, const struct creds *c, bool have_time,
    int64_t when, const char *body, size_t len)
{
	struct timespec ts;
	enum relayauth_status st;
	char *sig;
	long nsec = 0;

	if (!have_time) {
		clock_gettime(CLOCK_REALTIME, &ts);
		when = ts.tv_sec;
		nsec = ts.tv_nsec;
	}
	if ((st = relayauth_sign(c->sk, body, len, when, nsec, &sig)) !=
	    RELAYAUTH_OK) {
		ctl_warn(cmd, "cannot sign: %s", relayauth_status_str(st));
		return NULL;
	}
	return sig;
}
