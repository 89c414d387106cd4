/* services/router/apikey.h: API-key authentication (Authorization: Bearer <key>, docs/design.md
 * §4).
 *
 * Keys come from a file (one per line; blank lines and lines starting with '#' ignored;
 * AOS_API_KEYS_FILE) and/or a comma-separated list (AOS_API_KEYS). Only SHA-256 digests of
 * the keys are kept; a presented key is hashed and compared against every stored digest in
 * constant time, so neither timing nor an early exit tells which byte or key differed.
 * Keys are never logged.
 *
 * Immutable after load: router_apikeys_check may be called from any thread.
 */
#ifndef ROUTER_APIKEY_H
#define ROUTER_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "aos/config.h"
#include "aos/result.h"

#define ROUTER_APIKEY_MIN_LEN 16
#define ROUTER_APIKEY_MAX_LEN 512

typedef struct router_apikeys router_apikeys_t;

/* Parse keys from text (file content) and a comma-separated list; either may be NULL.
 * A key shorter than 16 or longer than 512 bytes, or with spaces/control characters, is an
 * error naming its line or list position (not the key). Zero keys parses (auth disabled), but the
 * router only starts so in development mode (router_credentials_check). */
aos_result router_apikeys_parse(const char *file_text, size_t file_len, const char *list,
                                router_apikeys_t **out, char *errbuf, size_t errlen);

/* As parse, reading file_path (may be NULL). */
aos_result router_apikeys_load(const char *file_path, const char *list, router_apikeys_t **out,
                               char *errbuf, size_t errlen);

void router_apikeys_free(router_apikeys_t *keys);

size_t router_apikeys_count(const router_apikeys_t *keys);

/* Check an Authorization header value: AOS_OK when auth is disabled (no keys) or the bearer
 * token is one of the keys; AOS_ERR_AUTH (with a reason, never the key) otherwise. */
aos_result router_apikeys_check(const router_apikeys_t *keys, const char *authorization,
                                char *errbuf, size_t errlen);

/* Secure by default (docs/design.md §4, docs/security.md): unless common->dev_mode, the router
 * refuses to start without API keys (the /v1 API would be open to anyone who reaches it) or without
 * bus credentials (aos/secure.h). AOS_ERR_AUTH with every problem, one per line, each saying
 * what to set. In development mode it logs what is open and returns AOS_OK. */
aos_result router_credentials_check(const aos_config_common_t *common, const router_apikeys_t *keys,
                                    char *errbuf, size_t errlen);

#endif
