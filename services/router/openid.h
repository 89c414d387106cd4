/* services/router/openid.h: Bot Framework / Entra signing keys from OpenID Connect metadata
 * (docs/copilot-studio.md "Authentication").
 *
 * For each configured metadata URL (e.g.
 * https://login.botframework.com/v1/.well-known/openidconfiguration and
 * https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration) the
 * document's "jwks_uri" is fetched and the keys of all of them form one key set. The set is
 * loaded at start, refreshed in the background every refresh_ms, and refreshed at once (at
 * most every OPENID_MIN_REFRESH_MS) when a token names a kid it does not have: keys rotate.
 *
 * Threads: router_openid_verify may be called from any thread (the key set is swapped under
 * a mutex); refreshes run on the HTTP client's thread and never block the caller.
 */
#ifndef ROUTER_OPENID_H
#define ROUTER_OPENID_H

#include <stddef.h>
#include <stdint.h>

#include "aos/http_client.h"
#include "jwt.h"

#define OPENID_MIN_REFRESH_MS 30000

typedef struct router_openid router_openid_t;

/* urls: comma-separated metadata URLs (copied). http borrowed, must outlive the object. */
aos_result router_openid_new(aos_http_client_t *http, const char *urls, int64_t refresh_ms,
                             router_openid_t **out, char *errbuf, size_t errlen);
void router_openid_free(router_openid_t *o);

/* Load the keys now (blocking; call from the controlling thread at start). */
aos_result router_openid_load(router_openid_t *o, char *errbuf, size_t errlen);

/* Parse a metadata document's jwks_uri (exposed for tests and fuzzing). */
aos_result router_openid_jwks_uri(const char *json, size_t len, char *out, size_t outlen);

/* Verify a token against the current keys (router_jwt_verify). A kid that is not known yet
 * starts a refresh and answers AOS_ERR_UNAVAILABLE ("signing keys are being refreshed"), so
 * the caller can ask the client to retry; with no keys loaded at all, AOS_ERR_UNAVAILABLE. */
aos_result router_openid_verify(router_openid_t *o, const router_jwt_policy_t *policy,
                                const char *token, time_t now, router_jwt_claims_t *out,
                                char *errbuf, size_t errlen);

#endif
