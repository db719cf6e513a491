/*
 * conf_cidr.c - networks in the configuration: CIDR text parsed into
 * 16-byte (IPv4-mapped) prefixes, address membership, and Sentry's
 * default internal networks.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* Sentry's INTERNAL_SYSTEM_IPS (src/sentry/conf/server.py). */
static const char *const sentry_internal_ips[] = {
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
	"169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/29", "192.0.2.0/24",
	"192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "224.0.0.0/4", "240.0.0.0/4",
	"255.255.255.255/32",
};
#define N_SENTRY_INTERNAL_IPS \
	(sizeof(sentry_internal_ips) / sizeof(sentry_internal_ips[0]))

int
conf_parse_cidr(const char *text, struct conf_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	struct in_addr v4;
	struct conf_cidr r;
	long prefix = -1;
	int max;

	if (strlen(text) >= sizeof(buf))
		return -1;
	strcpy(buf, text);
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash++ = '\0';
		if (*slash == '\0' || !isdigit((unsigned char)*slash))
			return -1;
		errno = 0;
		prefix = strtol(slash, &end, 10);
		if (errno != 0 || *end != '\0')
			return -1;
	}
	memset(&r, 0, sizeof(r));
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		r.addr[10] = r.addr[11] = 0xff;
		memcpy(&r.addr[12], &v4, 4);
		max = 32;
		if (prefix < 0)
			prefix = 32;
		if (prefix > max)
			return -1;
		r.prefix = (int)prefix + 96;
	} else if (inet_pton(AF_INET6, buf, r.addr) == 1) {
		max = 128;
		if (prefix < 0)
			prefix = 128;
		if (prefix > max)
			return -1;
		r.prefix = (int)prefix;
	} else
		return -1;
	*out = r;
	return 0;
}

static bool
cidr_match(const struct conf_cidr *net, const uint8_t addr[16])
{
	int full = net->prefix / 8, rest = net->prefix % 8;

	if (memcmp(net->addr, addr, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net->addr[full] & mask) == (addr[full] & mask);
}

bool
conf_cidr_contains(const struct conf_cidr *nets, size_t n, const char *addr)
{
	struct conf_cidr a;

	if (addr == NULL || strchr(addr, '/') != NULL ||
	    conf_parse_cidr(addr, &a) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (cidr_match(&nets[i], a.addr))
			return true;
	return false;
}

const struct conf_cidr *
conf_default_internal_networks(size_t *n)
{
	static struct conf_cidr nets[N_SENTRY_INTERNAL_IPS];
	static bool parsed;

	if (!parsed) {
		for (size_t i = 0; i < N_SENTRY_INTERNAL_IPS; i++)
			(void)conf_parse_cidr(sentry_internal_ips[i], &nets[i]);
		parsed = true;
	}
	*n = N_SENTRY_INTERNAL_IPS;
	return nets;
}
