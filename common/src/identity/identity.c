/* Entra tokens for Azure APIs: workload identity, client secret, certificate, managed identity;
 * cached and refreshed (aos/identity.h). The certificate's client assertion is in
 * identity_cert.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#include "aos/identity.h"
#include "aos/json.h"
#include "aos/log.h"
#include "aos/percent.h"
#include "aos/resilience.h"
#include "aos/servicebus.h"
#include "identity_internal.h"

#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_IMDS "http://169.254.169.254/metadata/identity/oauth2/token"
#define REFRESH_MARGIN_S 300
#define TOKEN_MAX (16 * 1024)
#define ASSERTION_MAX (16 * 1024)

struct aos_identity {
    aos_identity_kind kind;
    char *tenant_id, *client_id, *client_secret, *federated_token_file, *authority_host;
    char *certificate_file, *token_url;
    char *identity_endpoint, *identity_header, *imds_endpoint, *scope;
    aos_http_client_t *http;
    pthread_mutex_t mu;
    char *token;
    int64_t expires_at, refresh_at; /* Unix seconds */
};

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

aos_result aos_identity_config_from_env(const char *scope, aos_identity_config_t *out, char *errbuf,
                                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->scope = scope;
    out->tenant_id = env("AZURE_TENANT_ID");
    out->client_id = env("AZURE_CLIENT_ID");
    out->client_secret = env("AZURE_CLIENT_SECRET");
    out->federated_token_file = env("AZURE_FEDERATED_TOKEN_FILE");
    out->certificate_file = env("AZURE_CLIENT_CERTIFICATE_PATH");
    out->authority_host = env("AZURE_AUTHORITY_HOST");
    out->identity_endpoint = env("IDENTITY_ENDPOINT");
    out->identity_header = env("IDENTITY_HEADER");
    out->imds_endpoint = env("AOS_AZURE_IMDS_ENDPOINT");
    const char *mi = env("AOS_AZURE_MANAGED_IDENTITY");
    if (out->federated_token_file || out->client_secret || out->certificate_file) {
        if (!out->tenant_id || !out->client_id)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "%s is set but AZURE_TENANT_ID and AZURE_CLIENT_ID are not both set",
                            out->federated_token_file ? "AZURE_FEDERATED_TOKEN_FILE"
                            : out->client_secret      ? "AZURE_CLIENT_SECRET"
                                                      : "AZURE_CLIENT_CERTIFICATE_PATH");
        out->kind = out->federated_token_file ? AOS_IDENTITY_WORKLOAD
                    : out->client_secret      ? AOS_IDENTITY_CLIENT_SECRET
                                              : AOS_IDENTITY_CERTIFICATE;
        return AOS_OK;
    }
    if ((out->identity_endpoint && out->identity_header) || (mi && strcmp(mi, "1") == 0)) {
        out->kind = AOS_IDENTITY_MANAGED;
        return AOS_OK;
    }
    return AOS_ERR_NOT_FOUND;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void aos_identity_free(aos_identity_t *id)
{
    if (!id)
        return;
    if (id->client_secret)
        OPENSSL_cleanse(id->client_secret, strlen(id->client_secret));
    if (id->token)
        OPENSSL_cleanse(id->token, strlen(id->token));
    free(id->tenant_id);
    free(id->client_id);
    free(id->client_secret);
    free(id->federated_token_file);
    free(id->certificate_file);
    free(id->token_url);
    free(id->authority_host);
    free(id->identity_endpoint);
    free(id->identity_header);
    free(id->imds_endpoint);
    free(id->scope);
    free(id->token);
    pthread_mutex_destroy(&id->mu);
    free(id);
}

aos_result aos_identity_new(const aos_identity_config_t *cfg, aos_http_client_t *http,
                            aos_identity_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!cfg || !http || cfg->kind == AOS_IDENTITY_NONE || !cfg->scope || !*cfg->scope)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "identity: no source or scope");
    if (cfg->kind != AOS_IDENTITY_MANAGED &&
        (!cfg->client_id || (!cfg->tenant_id && !cfg->token_url)))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "identity: tenant and client id needed");
    const char *missing =
        cfg->kind == AOS_IDENTITY_CLIENT_SECRET && !cfg->client_secret     ? "client secret"
        : cfg->kind == AOS_IDENTITY_WORKLOAD && !cfg->federated_token_file ? "federated token file"
        : cfg->kind == AOS_IDENTITY_CERTIFICATE && !cfg->certificate_file  ? "certificate file"
                                                                           : NULL;
    if (missing)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "identity: no %s", missing);
    aos_identity_t *id = calloc(1, sizeof *id);
    if (!id)
        return AOS_ERR_NOMEM;
    pthread_mutex_init(&id->mu, NULL);
    id->kind = cfg->kind;
    id->http = http;
    id->tenant_id = dup_or_null(cfg->tenant_id);
    id->client_id = dup_or_null(cfg->client_id);
    id->client_secret = dup_or_null(cfg->client_secret);
    id->federated_token_file = dup_or_null(cfg->federated_token_file);
    id->certificate_file = dup_or_null(cfg->certificate_file);
    id->token_url = dup_or_null(cfg->token_url);
    id->authority_host = strdup(cfg->authority_host ? cfg->authority_host : DEFAULT_AUTHORITY);
    id->identity_endpoint = dup_or_null(cfg->identity_endpoint);
    id->identity_header = dup_or_null(cfg->identity_header);
    id->imds_endpoint = strdup(cfg->imds_endpoint ? cfg->imds_endpoint : DEFAULT_IMDS);
    id->scope = strdup(cfg->scope);
    if (!id->authority_host || !id->imds_endpoint || !id->scope) {
        aos_identity_free(id);
        return AOS_ERR_NOMEM;
    }
    *out = id;
    return AOS_OK;
}

/* ---- the token answer ---- */

static bool num_or_string(const json_object *o, const char *key, int64_t *out)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return false;
    if (json_object_is_type(v, json_type_int)) {
        *out = json_object_get_int64(v);
        return true;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end = NULL;
        long long n = strtoll(s, &end, 10);
        if (end != s && !*end) {
            *out = n;
            return true;
        }
    }
    return false;
}

/* A bearer token goes into "Authorization: Bearer <token>": no controls, no spaces. */
static bool header_safe(const char *token)
{
    for (const unsigned char *p = (const unsigned char *)token; *p; p++)
        if (*p < 0x21 || *p == 0x7f)
            return false;
    return true;
}

aos_result aos_identity_token_parse(const char *body, size_t len, int64_t now_s, char **out_token,
                                    int64_t *out_expires_at, char *errbuf, size_t errlen)
{
    *out_token = NULL;
    *out_expires_at = 0;
    json_object *o = NULL;
    if (aos_json_parse_object(body, len, 64 * 1024, 0, &o, NULL, 0) != AOS_OK)
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "token service: not a JSON object");
    const char *token = NULL, *error = NULL, *desc = NULL;
    aos_json_get_string(o, "access_token", AOS_JSON_OPTIONAL, &token, NULL, 0);
    aos_json_get_string(o, "error", AOS_JSON_OPTIONAL, &error, NULL, 0);
    aos_json_get_string(o, "error_description", AOS_JSON_OPTIONAL, &desc, NULL, 0);
    aos_result r = AOS_OK;
    int64_t on = 0, in = 0;
    if (!token || !*token) {
        r = aos_fail(error ? AOS_ERR_AUTH : AOS_ERR_PROTOCOL, errbuf, errlen,
                     "token service: %.64s%s%.300s", error ? error : "no access_token",
                     desc ? ": " : "", desc ? desc : "");
    } else if (strlen(token) >= TOKEN_MAX) {
        r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "token service: token too long");
    } else if (!header_safe(token)) {
        r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen,
                     "token service: the token has characters an Authorization header cannot "
                     "carry");
    } else if (num_or_string(o, "expires_on", &on) && on > now_s) {
        *out_expires_at = on;
    } else if (num_or_string(o, "expires_in", &in) && in > 0 && in < 366LL * 86400) {
        *out_expires_at = now_s + in;
    } else {
        r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen,
                     "token service: no usable expires_in / expires_on");
    }
    if (r == AOS_OK && !(*out_token = strdup(token)))
        r = AOS_ERR_NOMEM;
    json_object_put(o);
    return r;
}

/* ---- fetching ---- */

static aos_result form_add(char **form, size_t *len, const char *key, const char *value)
{
    size_t vlen = strlen(value), cap = 3 * vlen + 1;
    char *enc = malloc(cap);
    if (!enc)
        return AOS_ERR_NOMEM;
    aos_result r = aos_pct_encode(value, AOS_PCT_FORM, enc, cap);
    size_t need = *len + strlen(key) + strlen(enc) + 3;
    char *f = r == AOS_OK ? realloc(*form, need) : NULL;
    if (f) {
        *len += (size_t)snprintf(f + *len, need - *len, "%s%s=%s", *len ? "&" : "", key, enc);
        *form = f;
    }
    OPENSSL_cleanse(enc, cap);
    free(enc);
    return r != AOS_OK ? r : f ? AOS_OK : AOS_ERR_NOMEM;
}

static aos_result read_assertion(const char *path, char **out, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "cannot read AZURE_FEDERATED_TOKEN_FILE %s",
                        path);
    char *buf = calloc(1, ASSERTION_MAX + 1);
    size_t n = buf ? fread(buf, 1, ASSERTION_MAX, f) : 0;
    fclose(f);
    if (!buf)
        return AOS_ERR_NOMEM;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (!n) {
        free(buf);
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "AZURE_FEDERATED_TOKEN_FILE %s is empty",
                        path);
    }
    *out = buf;
    return AOS_OK;
}

/* The resource of a ".default" scope, for managed identity ("https://x/.default" -> "https://x").
 */
static void resource_of(const char *scope, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", scope);
    size_t n = strlen(out);
    if (n > 9 && strcmp(out + n - 9, "/.default") == 0)
        out[n - 9] = '\0';
}

static aos_result fetch(aos_identity_t *id, char **out_token, int64_t *out_expires_at, char *errbuf,
                        size_t errlen)
{
    char url[2048], *form = NULL;
    size_t flen = 0;
    aos_result r = AOS_OK;
    aos_http_header_t h[2];
    size_t nh = 0;
    const char *method = "POST";
    if (id->kind == AOS_IDENTITY_MANAGED) {
        char resource[512], *enc = malloc(3 * 512 + 1), *cid = NULL;
        if (!enc)
            return AOS_ERR_NOMEM;
        resource_of(id->scope, resource, sizeof resource);
        (void)aos_pct_encode(resource, AOS_PCT_FORM, enc, 3 * 512 + 1); /* fits */
        if (id->client_id && (cid = malloc(3 * strlen(id->client_id) + 1)))
            (void)aos_pct_encode(id->client_id, AOS_PCT_FORM, cid, 3 * strlen(id->client_id) + 1);
        bool app_service = id->identity_endpoint && id->identity_header;
        snprintf(url, sizeof url, "%s?api-version=%s&resource=%s%s%s",
                 app_service ? id->identity_endpoint : id->imds_endpoint,
                 app_service ? "2019-08-01" : "2018-02-01", enc, cid ? "&client_id=" : "",
                 cid ? cid : "");
        free(enc);
        free(cid);
        method = "GET";
        h[nh++] = app_service ? (aos_http_header_t){"X-IDENTITY-HEADER", id->identity_header}
                              : (aos_http_header_t){"Metadata", "true"};
    } else {
        if (id->token_url)
            snprintf(url, sizeof url, "%s", id->token_url);
        else
            snprintf(url, sizeof url, "%s/%s/oauth2/v2.0/token", id->authority_host, id->tenant_id);
        r = form_add(&form, &flen, "grant_type", "client_credentials");
        if (r == AOS_OK)
            r = form_add(&form, &flen, "client_id", id->client_id);
        if (r == AOS_OK)
            r = form_add(&form, &flen, "scope", id->scope);
        if (r == AOS_OK &&
            (id->kind == AOS_IDENTITY_WORKLOAD || id->kind == AOS_IDENTITY_CERTIFICATE)) {
            char *assertion = NULL;
            r = id->kind == AOS_IDENTITY_WORKLOAD
                    ? read_assertion(id->federated_token_file, &assertion, errbuf, errlen)
                    : aos_identity_cert_assertion(id->certificate_file, id->client_id, url,
                                                  aos_clock_realtime_ms() / 1000, &assertion,
                                                  errbuf, errlen);
            if (r == AOS_OK)
                r = form_add(&form, &flen, "client_assertion_type",
                             "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
            if (r == AOS_OK)
                r = form_add(&form, &flen, "client_assertion", assertion);
            if (assertion) {
                OPENSSL_cleanse(assertion, strlen(assertion));
                free(assertion);
            }
        } else if (r == AOS_OK) {
            r = form_add(&form, &flen, "client_secret", id->client_secret);
        }
        h[nh++] = (aos_http_header_t){"Content-Type", "application/x-www-form-urlencoded"};
    }
    if (r != AOS_OK) {
        free(form);
        return r;
    }
    aos_http_client_request_t req = {.method = method,
                                     .url = url,
                                     .headers = h,
                                     .header_count = nh,
                                     .body = form,
                                     .body_len = flen,
                                     .timeout_ms = 15000,
                                     .max_response_bytes = 64 * 1024};
    aos_http_response_t *resp = NULL;
    char terr[256] = "";
    r = aos_http_client_do(id->http, &req, &resp, terr, sizeof terr);
    if (form) {
        OPENSSL_cleanse(form, flen);
        free(form);
    }
    if (r != AOS_OK) {
        aos_fail(r, errbuf, errlen, "token service %s: %s", url, terr);
    } else {
        r = aos_identity_token_parse(resp->body, resp->body_len, aos_clock_realtime_ms() / 1000,
                                     out_token, out_expires_at, errbuf, errlen);
        if (r == AOS_OK && (resp->status < 200 || resp->status >= 300)) {
            free(*out_token);
            *out_token = NULL;
            r = aos_fail(aos_result_from_http_status(resp->status), errbuf, errlen,
                         "token service answered HTTP %d", resp->status);
        } else if (r != AOS_OK && resp->status >= 500) {
            r = aos_result_from_http_status(resp->status); /* transient: retried by callers */
        }
    }
    aos_http_response_free(resp);
    return r;
}

static aos_result copy_token(const aos_identity_t *id, char *out, size_t outlen)
{
    size_t n = strlen(id->token);
    if (n >= outlen)
        return AOS_ERR_TOO_LARGE;
    memcpy(out, id->token, n + 1);
    return AOS_OK;
}

aos_result aos_identity_token_cached(aos_identity_t *id, char *out, size_t outlen)
{
    if (!id || !out || !outlen)
        return AOS_ERR_INVALID;
    pthread_mutex_lock(&id->mu);
    aos_result r = id->token && aos_clock_realtime_ms() / 1000 < id->refresh_at
                       ? copy_token(id, out, outlen)
                       : AOS_ERR_NOT_FOUND;
    pthread_mutex_unlock(&id->mu);
    return r;
}

aos_result aos_identity_token(aos_identity_t *id, char *out, size_t outlen, char *errbuf,
                              size_t errlen)
{
    if (!id || !out || !outlen)
        return AOS_ERR_INVALID;
    pthread_mutex_lock(&id->mu);
    int64_t now = aos_clock_realtime_ms() / 1000;
    aos_result r = AOS_OK;
    if (!id->token || now >= id->refresh_at) {
        char *tok = NULL;
        int64_t exp = 0;
        r = fetch(id, &tok, &exp, errbuf, errlen);
        if (r == AOS_OK) {
            if (id->token) {
                OPENSSL_cleanse(id->token, strlen(id->token));
                free(id->token);
            }
            id->token = tok;
            id->expires_at = exp;
            int64_t life = exp - now;
            /* 5 minutes before expiry; at half its life when it lives less than 10 minutes */
            id->refresh_at = life > 2 * REFRESH_MARGIN_S ? exp - REFRESH_MARGIN_S : now + life / 2;
            char in[32];
            snprintf(in, sizeof in, "%lld", (long long)life);
            aos_log(AOS_LOG_INFO, "Entra token acquired", "scope", id->scope, "expires_in_s", in,
                    NULL);
        } else if (id->token && now < id->expires_at - 30) {
            /* the service is down but the token still works: use it, try again next time */
            aos_log(AOS_LOG_WARN, "Entra token refresh failed; the current token is still valid",
                    "detail", errbuf ? errbuf : "", NULL);
            r = AOS_OK;
        }
    }
    if (r == AOS_OK)
        r = copy_token(id, out, outlen);
    pthread_mutex_unlock(&id->mu);
    return r;
}
