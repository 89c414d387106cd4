/* aos/identity.h: Microsoft Entra tokens for Azure APIs, acquired and refreshed — never a
 * static token (docs/design.md §5).
 *
 * Sources, the first configured wins (the environment variables are those of Azure's own
 * SDKs' DefaultAzureCredential, so an AKS / Container Apps deployment needs nothing new):
 *   1. workload identity (AKS): AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_FEDERATED_TOKEN_FILE
 *      — the file's token (re-read each time: the kubelet rotates it) is the client assertion
 *      of a client-credentials grant;
 *   2. client secret: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET;
 *   2b. certificate: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_CERTIFICATE_PATH (PEM with
 *      the certificate and its RSA private key) — the client assertion is an RFC 7523 JWT
 *      signed RS256 with the key (x5t / x5t#S256 of the certificate), aud = the token URL;
 *   3. managed identity: IDENTITY_ENDPOINT + IDENTITY_HEADER (App Service, Container Apps), or
 *      the instance metadata service (IMDS) when AOS_AZURE_MANAGED_IDENTITY=1 (optionally
 *      AZURE_CLIENT_ID for a user-assigned identity).
 * AZURE_AUTHORITY_HOST (default https://login.microsoftonline.com) and AOS_AZURE_IMDS_ENDPOINT
 * (default http://169.254.169.254/metadata/identity/oauth2/token) point elsewhere (sovereign
 * clouds, tests).
 *
 * A token is cached and refreshed before it expires: at 5 minutes before expiry, or at half
 * its lifetime for short-lived tokens. Thread-safe; aos_identity_token blocks (it may call the
 * token endpoint): call it from worker threads, never from an event loop.
 */
#ifndef AOS_IDENTITY_H
#define AOS_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/http_client.h"
#include "aos/result.h"

typedef enum aos_identity_kind {
    AOS_IDENTITY_NONE = 0,
    AOS_IDENTITY_WORKLOAD, /* federated token file */
    AOS_IDENTITY_CLIENT_SECRET,
    AOS_IDENTITY_MANAGED,     /* IDENTITY_ENDPOINT or IMDS */
    AOS_IDENTITY_CERTIFICATE, /* PEM certificate + key: RFC 7523 client assertion */
} aos_identity_kind;

typedef struct aos_identity_config {
    aos_identity_kind kind;
    const char *tenant_id, *client_id, *client_secret, *federated_token_file;
    const char *certificate_file;  /* AOS_IDENTITY_CERTIFICATE: PEM certificate + private key */
    const char *authority_host;    /* NULL: https://login.microsoftonline.com */
    const char *token_url;         /* the whole token endpoint URL, instead of
                                      {authority_host}/{tenant_id}/oauth2/v2.0/token (tests,
                                      proxies); the tenant is then optional */
    const char *identity_endpoint; /* managed: App Service / Container Apps endpoint, or NULL */
    const char *identity_header;
    const char *imds_endpoint; /* managed without identity_endpoint; NULL: the IMDS */
    const char *scope;         /* e.g. "https://management.azure.com/.default" */
} aos_identity_config_t;

/* Fill cfg from the environment (strings borrowed from it) for scope (borrowed).
 * AOS_ERR_NOT_FOUND when no source is configured; AOS_ERR_INVALID with errbuf for a half
 * configuration (e.g. AZURE_CLIENT_ID without a tenant). */
aos_result aos_identity_config_from_env(const char *scope, aos_identity_config_t *out_cfg,
                                        char *errbuf, size_t errlen);

typedef struct aos_identity aos_identity_t;

/* cfg's strings are copied; http is borrowed and must outlive the identity. */
aos_result aos_identity_new(const aos_identity_config_t *cfg, aos_http_client_t *http,
                            aos_identity_t **out, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));
void aos_identity_free(aos_identity_t *id);

/* A bearer token (NUL-terminated in out) valid for a while yet: the cached one, or a new one
 * from the source. AOS_ERR_TOO_LARGE if outlen is too small; the token service's refusal
 * (AOS_ERR_AUTH / _FORBIDDEN / _INVALID) or a transport error otherwise, errbuf
 * saying which. Secrets never reach errbuf or the logs. */
aos_result aos_identity_token(aos_identity_t *id, char *out, size_t outlen, char *errbuf,
                              size_t errlen);

/* Non-blocking: the cached token when it needs no refresh yet (AOS_OK, copied to out), else
 * AOS_ERR_NOT_FOUND (call aos_identity_token from a worker thread), AOS_ERR_TOO_LARGE if
 * outlen is too small. For event-loop callers that must not wait for the token service. */
aos_result aos_identity_token_cached(aos_identity_t *id, char *out, size_t outlen);

/* Pure: a token service's JSON answer (Entra v2.0 token endpoint: "access_token",
 * "expires_in" seconds; managed identity: "access_token", "expires_on" Unix seconds or
 * "expires_in", numbers or strings). *out_token malloc'd; *out_expires_at Unix seconds. An
 * error answer ("error", "error_description") gives AOS_ERR_AUTH with its text; a token with
 * characters that cannot go in an Authorization header (controls, spaces) AOS_ERR_PROTOCOL. */
aos_result aos_identity_token_parse(const char *body, size_t len, int64_t now_s, char **out_token,
                                    int64_t *out_expires_at, char *errbuf, size_t errlen);

#endif
