/* Replies to a Bot Framework serviceUrl, with the bot's own token when configured. The token
 * (scope https://api.botframework.com/.default) comes from aos/identity.h, the one home of
 * Azure credentials: federated workload identity token file, certificate, client secret, or
 * the (user-assigned) managed identity; cached and refreshed before it expires by that module.
 * Replies that arrive while a token is being fetched wait for it in arrival order; the fetch
 * (which blocks on the token service) runs on its own short-lived thread, so no caller blocks.
 * Each POST reports its outcome to the caller (bot_outbound.c retries). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "aos/identity.h"
#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "router_internal.h"

#define BOT_SCOPE "https://api.botframework.com/.default"
#define TOKEN_CAP (16 * 1024)

typedef struct bot_post {
    struct bot_post *next;
    char *url;
    char *body;
    bot_posted_fn done;
    void *ctx;
} bot_post_t;

static void post_free(bot_post_t *p)
{
    if (p) {
        free(p->url);
        free(p->body);
        free(p);
    }
}

static void on_posted(const aos_http_response_t *resp, void *ctx)
{
    bot_post_t *p = ctx;
    char status[16];
    snprintf(status, sizeof status, "%d", resp->status);
    if (resp->result != AOS_OK || resp->status < 200 || resp->status >= 300)
        aos_log(AOS_LOG_WARN, "bot reply not delivered", "url", p->url, "status", status, "detail",
                resp->error, NULL);
    else
        aos_log(AOS_LOG_DEBUG, "bot reply delivered", "url", p->url, "status", status, NULL);
    uint64_t hint = 0;
    bool has_hint = resp->result == AOS_OK &&
                    aos_retry_parse_hint(aos_http_response_get_header(resp, "retry-after-ms"),
                                         aos_http_response_get_header(resp, "retry-after"),
                                         aos_clock_realtime_ms(), &hint);
    if (p->done)
        p->done(p->ctx, resp->result, resp->status, has_hint ? (int64_t)hint : -1);
    post_free(p);
}

/* Takes p. */
static void post_now(router_t *rt, bot_post_t *p, const char *token)
{
    const char *url = p->url, *body = p->body;
    char auth[4200];
    aos_http_header_t hdr[2] = {{"Content-Type", "application/json"}, {NULL, NULL}};
    size_t n = 1;
    if (token && strlen(token) < sizeof auth - 8) {
        snprintf(auth, sizeof auth, "Bearer %s", token);
        hdr[n++] = (aos_http_header_t){"Authorization", auth};
    }
    aos_http_client_request_t r = {.method = "POST",
                                   .url = url,
                                   .headers = hdr,
                                   .header_count = n,
                                   .body = body,
                                   .body_len = strlen(body),
                                   .timeout_ms = 15000};
    if (aos_http_client_submit(rt->http, &r, on_posted, p, NULL) != AOS_OK) {
        aos_log(AOS_LOG_WARN, "bot reply not submitted", "url", url, NULL);
        if (p->done)
            p->done(p->ctx, AOS_ERR_UNAVAILABLE, 0, -1);
        post_free(p);
    }
}

/* Post what waited for the token (tok NULL: it could not be had). */
static void flush_waiting(router_t *rt, const char *tok)
{
    pthread_mutex_lock(&rt->bot_mu);
    bot_post_t *list = rt->bot_waiting;
    rt->bot_waiting = NULL;
    rt->bot_token_fetching = false;
    pthread_mutex_unlock(&rt->bot_mu);
    while (list) { /* in arrival order */
        bot_post_t *p = list;
        list = p->next;
        p->next = NULL;
        if (tok) {
            post_now(rt, p, tok);
        } else {
            if (p->done)
                p->done(p->ctx, AOS_ERR_AUTH, 0, -1);
            post_free(p);
        }
    }
}

/* The fetch thread: one token from the identity (blocking), then the waiting replies. */
static void *fetch_main(void *arg)
{
    router_t *rt = arg;
    char *tok = malloc(TOKEN_CAP), why[400] = "";
    aos_result r =
        tok ? aos_identity_token(rt->bot_identity, tok, TOKEN_CAP, why, sizeof why) : AOS_ERR_NOMEM;
    if (r != AOS_OK)
        aos_log(AOS_LOG_WARN, "bot token not obtained; waiting replies will be retried", "result",
                aos_result_str(r), "detail", why, NULL);
    flush_waiting(rt, r == AOS_OK ? tok : NULL);
    if (tok) {
        OPENSSL_cleanse(tok, TOKEN_CAP);
        free(tok);
    }
    return NULL;
}

/* Start the fetch thread (the caller set bot_token_fetching). The previous one has flushed
 * its waiters by now (bot_token_fetching was false), so joining it does not wait long. */
static void fetch_token(router_t *rt)
{
    if (rt->bot_fetch_started) {
        pthread_join(rt->bot_fetch_thread, NULL);
        rt->bot_fetch_started = false;
    }
    if (pthread_create(&rt->bot_fetch_thread, NULL, fetch_main, rt) == 0)
        rt->bot_fetch_started = true;
    else
        flush_waiting(rt, NULL);
}

aos_result bot_token_start(router_t *rt, char *errbuf, size_t errlen)
{
    if (!bot_credentials_configured(rt))
        return AOS_OK;
    const router_config_t *c = &rt->cfg;
    aos_identity_config_t ic = {.client_id = c->bot_app_id,
                                .tenant_id = c->bot_tenant ? c->bot_tenant : "botframework.com",
                                .token_url = c->bot_token_url,
                                .scope = BOT_SCOPE};
    /* precedence: federated token, certificate, secret, managed identity */
    if (c->bot_federated_token_file) {
        ic.kind = AOS_IDENTITY_WORKLOAD;
        ic.federated_token_file = c->bot_federated_token_file;
    } else if (c->bot_cert_file) {
        ic.kind = AOS_IDENTITY_CERTIFICATE;
        ic.certificate_file = c->bot_cert_file;
    } else if (c->bot_app_password) {
        ic.kind = AOS_IDENTITY_CLIENT_SECRET;
        ic.client_secret = c->bot_app_password;
    } else {
        /* a user-assigned managed identity: AOS_BOT_APP_ID is its client id */
        ic.kind = AOS_IDENTITY_MANAGED;
        const char *e = getenv("IDENTITY_ENDPOINT"), *h = getenv("IDENTITY_HEADER");
        const char *imds = getenv("AOS_AZURE_IMDS_ENDPOINT");
        ic.identity_endpoint = e && *e && h && *h ? e : NULL;
        ic.identity_header = ic.identity_endpoint ? h : NULL;
        ic.imds_endpoint = imds && *imds ? imds : NULL;
    }
    return aos_identity_new(&ic, rt->http, &rt->bot_identity, errbuf, errlen);
}

void bot_post(router_t *rt, const char *url, const char *activity_json, bool with_token,
              bot_posted_fn done, void *ctx)
{
    bot_post_t *p = calloc(1, sizeof *p);
    if (!p || !(p->url = strdup(url)) || !(p->body = strdup(activity_json))) {
        post_free(p);
        if (done)
            done(ctx, AOS_ERR_NOMEM, 0, -1);
        return;
    }
    p->done = done;
    p->ctx = ctx;
    if (!with_token || !rt->bot_identity) {
        post_now(rt, p, NULL);
        return;
    }
    pthread_mutex_lock(&rt->bot_mu);
    /* Nobody waiting and a token that needs no refresh yet: go now. Otherwise queue behind
     * the waiters, so nothing overtakes what arrived first. */
    char *tok = rt->bot_waiting ? NULL : malloc(TOKEN_CAP);
    if (tok && aos_identity_token_cached(rt->bot_identity, tok, TOKEN_CAP) == AOS_OK) {
        pthread_mutex_unlock(&rt->bot_mu);
        post_now(rt, p, tok);
        OPENSSL_cleanse(tok, TOKEN_CAP);
        free(tok);
        return;
    }
    free(tok);
    bot_post_t **tail = (bot_post_t **)&rt->bot_waiting;
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    bool start = !rt->bot_token_fetching;
    rt->bot_token_fetching = true;
    pthread_mutex_unlock(&rt->bot_mu);
    if (start)
        fetch_token(rt);
}

void bot_token_free(router_t *rt)
{
    if (rt->bot_fetch_started) {
        pthread_join(rt->bot_fetch_thread, NULL);
        rt->bot_fetch_started = false;
    }
    while (rt->bot_waiting) {
        bot_post_t *p = rt->bot_waiting;
        rt->bot_waiting = p->next;
        if (p->done)
            p->done(p->ctx, AOS_ERR_CANCELLED, 0, -1);
        post_free(p);
    }
    aos_identity_free(rt->bot_identity);
    rt->bot_identity = NULL;
}

bool bot_credentials_configured(const router_t *rt)
{
    return rt->cfg.bot_app_password || rt->cfg.bot_cert_file || rt->cfg.bot_federated_token_file ||
           (rt->cfg.bot_managed_identity && rt->cfg.bot_app_id);
}
