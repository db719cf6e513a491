/*
 * routes.c - the route table.  Compiled twice: once for relaycfg and once,
 * with RELAYCFG_TEST_HOOKS, for the test-only binary tests/relaycfg-test.
 */
#include "config.h"

#include <stddef.h>

#include "endpoints.h"
#include "router.h"

const struct route router_routes[] = {
	{ "/api/0/relays/live/", "GET", "GET, HEAD", ep_live },
	{ "/api/0/relays/projectconfigs/", "POST", "POST", ep_projectconfigs },
	{ "/api/0/relays/register/challenge/", "POST", "POST", ep_register_challenge },
	{ "/api/0/relays/register/response/", "POST", "POST", ep_register_response },
	{ "/api/0/relays/publickeys/", "POST", "POST", ep_publickeys },
	{ "/metrics", "GET", "GET, HEAD", ep_metrics },
#ifdef RELAYCFG_TEST_HOOKS
	{ "/api/0/relays/_test/sleep/", "GET", "GET", ep_test_sleep },
	{ "/api/0/relays/_test/echo/", "POST", "POST", ep_test_echo },
	{ "/api/0/relays/_test/crash/", "GET", "GET", ep_test_crash },
#endif
	{ NULL, NULL, NULL, NULL }
};
