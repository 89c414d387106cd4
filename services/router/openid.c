/* Signing keys from OpenID Connect metadata (see openid.h). */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "openid.h"

#define OPENID_MAX_URLS 8

struct router_openid {
    aos_http_client_t *http;
    char *urls[OPENID_MAX_URLS];
    size_t url_count;
    int64_t refresh_ms;
    pthread_mutex_t mu;
    router_jwks_t *jwks; /* under mu */
    int64_t loaded_ms;   /* monotonic, under mu */
    int64_t last_try_ms; /* monotonic, under mu */
    bool refreshing;     /* under mu */
    bool closing;        /* under mu */
    pthread_cond_t idle; /* signalled when a refresh ends */
};

aos_result router_openid_jwks_uri(const char *json, size_t len, char *out, size_t outlen)
{
    json_object *o = NULL;
    const char *uri = NULL;
    aos_result r = aos_json_parse_object(json, len, 1u << 20, 0, &o, NULL, 0);
    if (r == AOS_OK)
        r = aos_json_get_string(o, "jwks_uri", AOS_JSON_REQUIRED, &uri, NULL, 0);
    if (r == AOS_OK && strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0)
        r = AOS_ERR_INVALID;
    if (r == AOS_OK && strlen(uri) >= outlen)
        r = AOS_ERR_TOO_LARGE;
    if (r == AOS_OK)
        snprintf(out, outlen, "%s", uri);
    json_object_put(o);
    return r;
}

/* ---- one refresh: metadata[0] -> jwks[0] -> metadata[1] -> … ---- */

typedef struct refresh {
    router_openid_t *o;
    size_t idx;
    bool want_jwks;    /* next answer is a JWKS (else metadata) */
    json_object *keys; /* all keys collected so far */
} refresh_t;

static void step(refresh_t *rf);

static void finish(refresh_t *rf, aos_result r, const char *why)
{
    router_openid_t *o = rf->o;
    router_jwks_t *fresh = NULL;
    char err[256] = "";
    if (r == AOS_OK) {
        json_object *doc = json_object_new_object();
        char *text = NULL;
        if (doc && aos_json_add(doc, "keys", json_object_get(rf->keys)) == AOS_OK &&
            aos_json_to_string(doc, &text, NULL) == AOS_OK)
            r = router_jwks_parse(text, strlen(text), &fresh, err, sizeof err);
        else
            r = AOS_ERR_NOMEM;
        free(text);
        json_object_put(doc);
        why = err;
    }
    json_object_put(rf->keys);
    free(rf);
    pthread_mutex_lock(&o->mu);
    if (fresh) {
        router_jwks_free(o->jwks);
        o->jwks = fresh;
        o->loaded_ms = aos_clock_monotonic_ms();
    }
    o->refreshing = false;
    pthread_cond_broadcast(&o->idle);
    pthread_mutex_unlock(&o->mu);
    if (fresh) {
        char n[16];
        snprintf(n, sizeof n, "%zu", router_jwks_count(fresh));
        aos_log(AOS_LOG_INFO, "bot signing keys loaded", "keys", n, NULL);
    } else {
        aos_log(AOS_LOG_WARN, "bot signing keys not refreshed", "detail", why ? why : "", NULL);
    }
}

static void on_answer(const aos_http_response_t *resp, void *ctx)
{
    refresh_t *rf = ctx;
    if (resp->result != AOS_OK || resp->status != 200) {
        char why[200];
        snprintf(why, sizeof why, "%s: status %d %s", rf->o->urls[rf->idx], resp->status,
                 resp->error ? resp->error : "");
        finish(rf, AOS_ERR_UNAVAILABLE, why);
        return;
    }
    if (!rf->want_jwks) {
        char uri[1024];
        if (router_openid_jwks_uri(resp->body, resp->body_len, uri, sizeof uri) != AOS_OK) {
            finish(rf, AOS_ERR_PROTOCOL, "metadata without a usable jwks_uri");
            return;
        }
        rf->want_jwks = true;
        aos_http_client_request_t req = {.method = "GET", .url = uri, .timeout_ms = 10000};
        if (aos_http_client_submit(rf->o->http, &req, on_answer, rf, NULL) != AOS_OK)
            finish(rf, AOS_ERR_UNAVAILABLE, "not submitted");
        return;
    }
    json_object *doc = NULL, *keys = NULL;
    if (aos_json_parse_object(resp->body, resp->body_len, 1u << 20, 0, &doc, NULL, 0) != AOS_OK ||
        aos_json_get_array(doc, "keys", AOS_JSON_REQUIRED, &keys, NULL, 0) != AOS_OK) {
        json_object_put(doc);
        finish(rf, AOS_ERR_PROTOCOL, "JWKS without keys");
        return;
    }
    for (size_t i = 0; i < json_object_array_length(keys); i++)
        json_object_array_add(rf->keys, json_object_get(json_object_array_get_idx(keys, i)));
    json_object_put(doc);
    rf->idx++;
    rf->want_jwks = false;
    step(rf);
}

static void step(refresh_t *rf)
{
    if (rf->idx == rf->o->url_count) {
        finish(rf, AOS_OK, NULL);
        return;
    }
    aos_http_client_request_t req = {
        .method = "GET", .url = rf->o->urls[rf->idx], .timeout_ms = 10000};
    if (aos_http_client_submit(rf->o->http, &req, on_answer, rf, NULL) != AOS_OK)
        finish(rf, AOS_ERR_UNAVAILABLE, "not submitted");
}

/* Start a refresh unless one runs or one started less than min_gap_ms ago. */
static void kick(router_openid_t *o, int64_t min_gap_ms)
{
    pthread_mutex_lock(&o->mu);
    int64_t now = aos_clock_monotonic_ms();
    bool go = !o->refreshing && !o->closing &&
              (o->last_try_ms == 0 || now - o->last_try_ms >= min_gap_ms);
    if (go) {
        o->refreshing = true;
        o->last_try_ms = now;
    }
    pthread_mutex_unlock(&o->mu);
    if (!go)
        return;
    refresh_t *rf = calloc(1, sizeof *rf);
    if (!rf || !(rf->keys = json_object_new_array())) {
        free(rf);
        pthread_mutex_lock(&o->mu);
        o->refreshing = false;
        pthread_cond_broadcast(&o->idle);
        pthread_mutex_unlock(&o->mu);
        return;
    }
    rf->o = o;
    step(rf);
}

aos_result router_openid_new(aos_http_client_t *http, const char *urls, int64_t refresh_ms,
                             router_openid_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    router_openid_t *o = calloc(1, sizeof *o);
    char *copy = urls ? strdup(urls) : NULL;
    if (!o || !copy) {
        free(o);
        free(copy);
        return AOS_ERR_NOMEM;
    }
    o->http = http;
    o->refresh_ms = refresh_ms > 0 ? refresh_ms : 24LL * 3600 * 1000;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->idle, NULL);
    char *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (o->url_count == OPENID_MAX_URLS ||
            (strncmp(t, "https://", 8) != 0 && strncmp(t, "http://", 7) != 0)) {
            free(copy);
            router_openid_free(o);
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "AOS_BOT_OPENID_METADATA: at most %d http(s) URLs", OPENID_MAX_URLS);
        }
        o->urls[o->url_count++] = strdup(t);
    }
    free(copy);
    if (o->url_count == 0) {
        router_openid_free(o);
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "AOS_BOT_OPENID_METADATA is empty");
    }
    *out = o;
    return AOS_OK;
}

aos_result router_openid_load(router_openid_t *o, char *errbuf, size_t errlen)
{
    kick(o, 0);
    pthread_mutex_lock(&o->mu);
    while (o->refreshing)
        pthread_cond_wait(&o->idle, &o->mu);
    bool ok = o->jwks != NULL;
    pthread_mutex_unlock(&o->mu);
    return ok ? AOS_OK
              : aos_fail(AOS_ERR_UNAVAILABLE, errbuf, errlen,
                         "no signing keys from %s (see the log)", o->urls[0]);
}

aos_result router_openid_verify(router_openid_t *o, const router_jwt_policy_t *policy,
                                const char *token, time_t now, router_jwt_claims_t *out,
                                char *errbuf, size_t errlen)
{
    char kid[128];
    if (router_jwt_kid(token, kid, sizeof kid) != AOS_OK)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token header is not readable");
    pthread_mutex_lock(&o->mu);
    bool stale = o->jwks && aos_clock_monotonic_ms() - o->loaded_ms > o->refresh_ms;
    bool known = router_jwks_has_kid(o->jwks, kid);
    aos_result r = AOS_ERR_UNAVAILABLE;
    if (known)
        r = router_jwt_verify(o->jwks, policy, token, now, out, errbuf, errlen);
    pthread_mutex_unlock(&o->mu);
    if (stale)
        kick(o, OPENID_MIN_REFRESH_MS);
    if (known)
        return r;
    pthread_mutex_lock(&o->mu);
    int64_t since = aos_clock_monotonic_ms() - o->last_try_ms;
    bool settled = !o->refreshing && o->jwks;
    pthread_mutex_unlock(&o->mu);
    if (since < OPENID_MIN_REFRESH_MS && settled)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token signed by an unknown key");
    kick(o, OPENID_MIN_REFRESH_MS);
    return aos_fail(AOS_ERR_UNAVAILABLE, errbuf, errlen,
                    "token signed by a key not known yet; signing keys are being refreshed");
}

void router_openid_free(router_openid_t *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->closing = true;
    while (o->refreshing)
        pthread_cond_wait(&o->idle, &o->mu);
    pthread_mutex_unlock(&o->mu);
    for (size_t i = 0; i < o->url_count; i++)
        free(o->urls[i]);
    router_jwks_free(o->jwks);
    pthread_cond_destroy(&o->idle);
    pthread_mutex_destroy(&o->mu);
    free(o);
}
