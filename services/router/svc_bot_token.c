/* Replies to a Bot Framework serviceUrl, with the bot's own token when configured: client
 * credentials (AOS_BOT_APP_ID / AOS_BOT_APP_PASSWORD) against Entra, scope
 * https://api.botframework.com/.default, cached until a minute before it expires. Replies
 * that arrive while the token is being fetched wait for it in arrival order (no thread
 * blocks). Each POST reports its outcome to the caller (bot_outbound.c retries). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "bot_credential.h"
#include "router_internal.h"

#define TOKEN_MARGIN_MS 60000

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
        aos_log(AOS_LOG_WARN, "bot reply not delivered", "url", p->url, "status", status,
                "detail", resp->error, NULL);
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

static char *parse_token(const aos_http_response_t *resp, int64_t *out_expires_in)
{
    char *tok = NULL;
    if (resp->result != AOS_OK || resp->status != 200 ||
        router_bot_token_parse(resp->body, resp->body_len, &tok, out_expires_in) != AOS_OK)
        return NULL;
    return tok;
}

/* HTTP client thread: the token arrived (or not); send what waited for it. */
static void on_token(const aos_http_response_t *resp, void *ctx)
{
    router_t *rt = ctx;
    int64_t expires_in = 0;
    char *tok = parse_token(resp, &expires_in);
    if (!tok) {
        char status[16];
        snprintf(status, sizeof status, "%d", resp->status);
        aos_log(AOS_LOG_WARN, "bot token not obtained; waiting replies will be retried",
                "status", status, "detail", resp->error, NULL);
    }
    pthread_mutex_lock(&rt->bot_mu);
    bot_post_t *list = rt->bot_waiting;
    rt->bot_waiting = NULL;
    rt->bot_token_fetching = false;
    if (tok) {
        free(rt->bot_token);
        rt->bot_token = strdup(tok);
        rt->bot_token_expires_ms = aos_clock_monotonic_ms() + expires_in * 1000;
    }
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
    free(tok);
}

static void fetch_token(router_t *rt)
{
    char url[600], why[300] = "";
    if (rt->cfg.bot_token_url)
        snprintf(url, sizeof url, "%s", rt->cfg.bot_token_url);
    else
        snprintf(url, sizeof url, "https://login.microsoftonline.com/%s/oauth2/v2.0/token",
                 rt->cfg.bot_tenant ? rt->cfg.bot_tenant : "botframework.com");
    bot_credential_t cred = {.client_id = rt->cfg.bot_app_id,
                             .secret = rt->cfg.bot_app_password,
                             .cert_file = rt->cfg.bot_cert_file,
                             .federated_token_file = rt->cfg.bot_federated_token_file};
    char *form = NULL;
    if (bot_credential_form(&cred, url, time(NULL), &form, why, sizeof why) != AOS_OK) {
        aos_http_response_t failed = {
            .result = AOS_ERR_INVALID, .error = why, .body = "", .body_len = 0};
        on_token(&failed, rt);
        return;
    }
    aos_http_header_t hdr[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
    aos_http_client_request_t r = {.method = "POST",
                                   .url = url,
                                   .headers = hdr,
                                   .header_count = 1,
                                   .body = form,
                                   .body_len = strlen(form),
                                   .timeout_ms = 15000};
    if (aos_http_client_submit(rt->http, &r, on_token, rt, NULL) != AOS_OK) {
        aos_http_response_t failed = {
            .result = AOS_ERR_UNAVAILABLE, .error = "not submitted", .body = "", .body_len = 0};
        on_token(&failed, rt);
    }
    OPENSSL_cleanse(form, strlen(form));
    free(form);
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
    if (!with_token || !bot_credentials_configured(rt)) {
        post_now(rt, p, NULL);
        return;
    }
    pthread_mutex_lock(&rt->bot_mu);
    /* Nobody waiting and a fresh token: go now. Otherwise queue behind the waiters, so
     * nothing overtakes what arrived first. */
    if (!rt->bot_waiting && rt->bot_token &&
        aos_clock_monotonic_ms() + TOKEN_MARGIN_MS < rt->bot_token_expires_ms) {
        char *tok = strdup(rt->bot_token);
        pthread_mutex_unlock(&rt->bot_mu);
        post_now(rt, p, tok);
        free(tok);
        return;
    }
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
    while (rt->bot_waiting) {
        bot_post_t *p = rt->bot_waiting;
        rt->bot_waiting = p->next;
        if (p->done)
            p->done(p->ctx, AOS_ERR_CANCELLED, 0, -1);
        post_free(p);
    }
    free(rt->bot_token);
    rt->bot_token = NULL;
}

bool bot_credentials_configured(const router_t *rt)
{
    return rt->cfg.bot_app_password || rt->cfg.bot_cert_file || rt->cfg.bot_federated_token_file;
}
