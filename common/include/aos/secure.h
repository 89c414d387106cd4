/* aos/secure.h: secure by default (docs/design.md §4, docs/security.md).
 *
 * A service with no credentials configured refuses to start unless development mode is on
 * (AOS_DEV_MODE=1, aos_config_common_t.dev_mode). What "credentials" means per service:
 *   every service   the bus: AOS_SERVICEBUS_CONNECTION_STRING, or an AOS_BUS_URL that names a
 *                   user and password other than RabbitMQ's built-in guest account (the default);
 *   aos-router      also API keys for the public HTTP API (services/router/apikey.h).
 * The admin port (/healthz, /readyz, /metrics) carries no secrets and stays open for probes
 * and scrapers; restrict it with a NetworkPolicy (docs/security.md).
 *
 * Pure functions over the loaded configuration; callable from any thread.
 */
#ifndef AOS_SECURE_H
#define AOS_SECURE_H

#include <stdbool.h>
#include <stddef.h>

#include "aos/config.h"
#include "aos/result.h"

/* The text every refusal ends with. */
#define AOS_SECURE_DEV_HINT "for local development only, set AOS_DEV_MODE=1"

/* True when the bus connection carries configured credentials (see above). */
bool aos_secure_bus_has_credentials(const aos_config_common_t *c);

/* AOS_OK in development mode or with bus credentials; otherwise AOS_ERR_AUTH with a message
 * saying what to set. */
aos_result aos_secure_check_bus(const aos_config_common_t *c, char *errbuf, size_t errlen);

/* In development mode, log once at warn level that service runs with credential checks off
 * (what: the open surfaces, e.g. "the HTTP API accepts requests without an API key"). No-op
 * otherwise. */
void aos_secure_log_dev_mode(const aos_config_common_t *c, const char *what);

#endif
