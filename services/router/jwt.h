/* services/router/jwt.h: Bot Framework / Entra JWT validation (RS256 against a JWKS document).
 *
 * A token is accepted only if: it has three base64url segments; the header says alg RS256
 * (anything else, "none" and HS256 included, is refused); its kid names an RSA key of the
 * JWKS (or the JWKS has exactly one key and the header has no kid); the signature verifies;
 * iss is one of the configured issuers; aud (string or array) contains the configured
 * audience; exp is present and now < exp + skew; nbf, if present, is <= now + skew.
 *
 * Pure over bytes plus OpenSSL; a parsed JWKS is immutable and may be used from any thread.
 */
#ifndef ROUTER_JWT_H
#define ROUTER_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aos/result.h"

#define ROUTER_JWT_MAX_LEN (16 * 1024)
#define ROUTER_JWT_DEFAULT_SKEW_S 300

typedef struct router_jwks router_jwks_t;

/* {"keys":[{"kty":"RSA","kid":"…","n":"<base64url>","e":"<base64url>", …}, …]}. Keys of other
 * types (EC, oct) are skipped; RSA keys under 2048 bits or with bad n/e are errors naming the
 * key index. At least one usable RSA key is required. */
aos_result router_jwks_parse(const char *json, size_t len, router_jwks_t **out, char *errbuf,
                             size_t errlen);
aos_result router_jwks_load(const char *path, router_jwks_t **out, char *errbuf, size_t errlen);
void router_jwks_free(router_jwks_t *jwks);
size_t router_jwks_count(const router_jwks_t *jwks);

typedef struct router_jwt_policy {
    const char *const *issuers; /* accepted iss values (exact match) */
    size_t issuer_count;
    const char *audience; /* required aud value (the bot / skill app id) */
    int skew_s;           /* clock skew tolerance; 0 = 300 s */
    /* Allowed callers: when require_caller, the token's appid (v1) / azp (v2) must be one of
     * these ("*" = any caller with an appid). An empty list then refuses every caller. */
    bool require_caller;
    const char *const *allowed_callers;
    size_t allowed_caller_count;
} router_jwt_policy_t;

typedef struct router_jwt_claims {
    char iss[256];
    char kid[128];
    char appid[128];      /* "appid" (v1) or "azp" (v2), "" if absent */
    char serviceurl[512]; /* Bot Framework "serviceurl" claim, "" if absent */
    int64_t exp, nbf, iat;
} router_jwt_claims_t;

/* Verify token (the part after "Bearer "). out may be NULL. Errors: AOS_ERR_AUTH with the
 * reason ("token expired", "issuer not accepted", "signature does not verify", …). */
aos_result router_jwt_verify(const router_jwks_t *jwks, const router_jwt_policy_t *policy,
                             const char *token, time_t now, router_jwt_claims_t *out, char *errbuf,
                             size_t errlen);

/* The "kid" of a token's header ("" when absent); AOS_ERR_AUTH when the header is unreadable.
 * Says nothing about validity: used to decide whether signing keys must be refreshed. */
aos_result router_jwt_kid(const char *token, char *out, size_t outlen);

/* True when jwks has a key for kid (kid "" = the single-key case). */
bool router_jwks_has_kid(const router_jwks_t *jwks, const char *kid);

#endif
