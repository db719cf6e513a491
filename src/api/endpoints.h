/*
 * endpoints.h - one function per endpoint, one file each (ep_*.c).
 */
#ifndef RELAYCFG_ENDPOINTS_H
#define RELAYCFG_ENDPOINTS_H

#include "app.h"
#include "http.h"

void	ep_live(struct request *req, struct app *app);
void	ep_register_challenge(struct request *req, struct app *app);
void	ep_register_response(struct request *req, struct app *app);
void	ep_publickeys(struct request *req, struct app *app);
void	ep_projectconfigs(struct request *req, struct app *app);
void	ep_metrics(struct request *req, struct app *app);

/*
 * ep_metrics_allowed - may req read /metrics: its client address (as
 * auth_client_addr decides it, written to addr) is loopback or in
 * internal_networks.
 */
bool	ep_metrics_allowed(const struct conf *conf, const struct request *req,
	    char *addr, size_t len);

/*
 * ep_metrics_server_name - the server label /metrics gives memcached_server
 * entry spec, into buf: host:port, [v6]:port or the socket's path, never
 * the weight (a changed weight goes on in the same series).  An entry that
 * does not parse (conf_load refuses those) is named as written.
 */
void	ep_metrics_server_name(const char *spec, char *buf, size_t len);

#ifdef RELAYCFG_TEST_HOOKS
void	ep_test_sleep(struct request *req, struct app *app);
void	ep_test_echo(struct request *req, struct app *app);
void	ep_test_crash(struct request *req, struct app *app);
#endif

#endif
