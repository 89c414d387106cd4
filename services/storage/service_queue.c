/* Azure Storage queues for applications: requests/events in (-> router /v1/events), agent
 * actions/replies out (an event relay sink). See service_queue.h and docs/storage.md. */
#include "service_queue.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/azure_storage.h"
#include "aos/http_client.h"
#include "aos/log.h"
#include "aos/metrics.h"
#include "aos/resilience.h"

struct storage_queue_bridge {
    storage_queue_bridge_config_t cfg;
    char *conn, *inbound, *poison, *router_events_url, *auth, *outbound;
    aos_azure_client_t *in_client;  /* poller thread */
    aos_azure_client_t *out_client; /* relay worker thread */
    aos_http_client_t *http;
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    bool stopping;
    aos_metric_counter_t *m_in, *m_poison, *m_retry, *m_out;
};

/* ---- message decoding (pure) ---- */

static bool is_json_object(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        s++, n--;
    if (!n || *s != '{')
        return false;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return false;
    json_object *o = json_tokener_parse_ex(tok, s, (int)n);
    bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
              json_object_is_type(o, json_type_object) && json_tokener_get_parse_end(tok) <= n;
    /* nothing but whitespace after the object */
    for (size_t i = ok ? json_tokener_get_parse_end(tok) : n; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            ok = false;
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

const char *storage_queue_message_json(const char *text, const unsigned char *data, size_t data_len,
                                       size_t *out_len)
{
    if (text && is_json_object(text, strlen(text))) {
        *out_len = strlen(text);
        return text;
    }
    if (data && data_len && is_json_object((const char *)data, data_len)) {
        *out_len = data_len;
        return (const char *)data;
    }
    *out_len = 0;
    return NULL;
}

/* ---- setup ---- */

static char *dup_nonempty(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

aos_result storage_queue_bridge_new(const storage_queue_bridge_config_t *cfg,
                                    storage_queue_bridge_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!cfg->connection_string || !*cfg->connection_string)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "the Storage queues need AZURE_STORAGE_CONNECTION_STRING");
    bool inbound = cfg->inbound_queue && *cfg->inbound_queue;
    if (inbound && (!cfg->router_url || !*cfg->router_url))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "AOS_STORAGE_QUEUE_IN needs AOS_ROUTER_URL (where its events go)");
    if (inbound &&
        (!aos_azure_container_name_valid(cfg->inbound_queue) || strlen(cfg->inbound_queue) > 56))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "AOS_STORAGE_QUEUE_IN: a queue name of 3-56 chars of a-z 0-9 -");
    if (cfg->outbound_queue && *cfg->outbound_queue &&
        !aos_azure_container_name_valid(cfg->outbound_queue))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "AOS_STORAGE_QUEUE_OUT: a queue name of 3-63 chars of a-z 0-9 -");
    storage_queue_bridge_t *b = calloc(1, sizeof *b);
    if (!b)
        return AOS_ERR_NOMEM;
    b->cfg = *cfg;
    b->cfg.poll_ms = cfg->poll_ms ? cfg->poll_ms : 1000;
    b->cfg.visibility_s = cfg->visibility_s ? cfg->visibility_s : 60;
    b->cfg.max_dequeue = cfg->max_dequeue ? cfg->max_dequeue : 20;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    b->conn = strdup(cfg->connection_string);
    b->inbound = dup_nonempty(cfg->inbound_queue);
    b->outbound = dup_nonempty(cfg->outbound_queue);
    aos_result r = b->conn ? AOS_OK : AOS_ERR_NOMEM;
    if (r == AOS_OK && b->inbound) {
        size_t n = strlen(cfg->router_url);
        while (n && cfg->router_url[n - 1] == '/')
            n--;
        if (asprintf(&b->router_events_url, "%.*s/v1/events", (int)n, cfg->router_url) < 0 ||
            asprintf(&b->poison, "%s-poison", b->inbound) < 0)
            r = AOS_ERR_NOMEM;
        if (r == AOS_OK && cfg->router_api_key && *cfg->router_api_key &&
            asprintf(&b->auth, "Bearer %s", cfg->router_api_key) < 0)
            r = AOS_ERR_NOMEM;
        aos_http_client_config_t hc = {.max_total_connections = 2,
                                       .user_agent = "aos-storage-queue/1"};
        if (r == AOS_OK)
            r = aos_http_client_new(&hc, &b->http, errbuf, errlen);
        if (r == AOS_OK)
            r = aos_azure_client_new_from_string(b->conn, &b->in_client, errbuf, errlen);
    }
    if (r == AOS_OK && b->outbound)
        r = aos_azure_client_new_from_string(b->conn, &b->out_client, errbuf, errlen);
    const char *help = "Azure Storage queue messages, by what became of them.";
    b->m_in = aos_metrics_counter(NULL, "aos_storage_queue_messages_total", help, "direction", "in",
                                  "outcome", "delivered", NULL);
    b->m_poison = aos_metrics_counter(NULL, "aos_storage_queue_messages_total", help, "direction",
                                      "in", "outcome", "poison", NULL);
    b->m_retry = aos_metrics_counter(NULL, "aos_storage_queue_messages_total", help, "direction",
                                     "in", "outcome", "retried", NULL);
    b->m_out = aos_metrics_counter(NULL, "aos_storage_queue_messages_total", help, "direction",
                                   "out", "outcome", "delivered", NULL);
    if (r != AOS_OK) {
        storage_queue_bridge_free(b);
        return r;
    }
    *out = b;
    return AOS_OK;
}

bool storage_queue_bridge_has_outbound(const storage_queue_bridge_t *b)
{
    return b && b->outbound;
}

/* ---- inbound ---- */

static void wait_ms(storage_queue_bridge_t *b, uint32_t ms)
{
    struct timespec ts = aos_clock_deadline(CLOCK_MONOTONIC, ms);
    pthread_mutex_lock(&b->mu);
    while (!b->stopping && pthread_cond_timedwait(&b->cv, &b->mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&b->mu);
}

static bool stopping(storage_queue_bridge_t *b)
{
    pthread_mutex_lock(&b->mu);
    bool s = b->stopping;
    pthread_mutex_unlock(&b->mu);
    return s;
}

/* Move a message aside: its text (as it came) to <queue>-poison, then delete it. */
static void to_poison(storage_queue_bridge_t *b, const aos_azure_queue_msg_t *m, const char *why)
{
    aos_log(AOS_LOG_WARN, "storage queue: message moved to the poison queue", "queue", b->inbound,
            "message_id", m->message_id, "reason", why, NULL);
    aos_result r = aos_azure_queue_put_text(b->in_client, b->poison, m->text ? m->text : "", 0, -1);
    if (r != AOS_OK) {
        aos_log(AOS_LOG_ERROR, "storage queue: cannot write the poison queue", "queue", b->poison,
                "detail", aos_azure_client_error(b->in_client), NULL);
        return; /* keep the message: it reappears and is tried again */
    }
    aos_azure_queue_delete_message(b->in_client, b->inbound, m->message_id, m->pop_receipt);
    aos_metric_counter_inc(b->m_poison);
}

static void handle(storage_queue_bridge_t *b, const aos_azure_queue_msg_t *m)
{
    if (m->dequeue_count > (int64_t)b->cfg.max_dequeue) {
        to_poison(b, m, "dequeued too many times");
        return;
    }
    size_t len = 0;
    const char *json = storage_queue_message_json(m->text, m->data, m->data_len, &len);
    if (!json) {
        to_poison(b, m, "not a CloudEvent in JSON (raw or base64)");
        return;
    }
    aos_http_header_t h[3] = {{"Content-Type", "application/cloudevents+json; charset=utf-8"},
                              {"Accept", "application/json"}};
    size_t nh = 2;
    if (b->auth)
        h[nh++] = (aos_http_header_t){"Authorization", b->auth};
    aos_http_client_request_t req = {.method = "POST",
                                     .url = b->router_events_url,
                                     .headers = h,
                                     .header_count = nh,
                                     .body = json,
                                     .body_len = len,
                                     .timeout_ms = 60000};
    aos_http_response_t *resp = NULL;
    char err[256] = "";
    aos_result r = aos_http_client_do(b->http, &req, &resp, err, sizeof err);
    int status = r == AOS_OK && resp && resp->result == AOS_OK ? resp->status : 0;
    if (status >= 200 && status < 300) {
        /* the router answered after the broker accepted every turn: now it may go */
        aos_azure_queue_delete_message(b->in_client, b->inbound, m->message_id, m->pop_receipt);
        aos_metric_counter_inc(b->m_in);
    } else if (status == 400 || status == 413 || status == 415 || status == 422) {
        /* the event itself is refused; 401/403/404 are the deployment's problem (key, URL)
         * and leave the message where it is */
        char why[300];
        snprintf(why, sizeof why, "router answered %d: %.200s", status,
                 resp && resp->body ? resp->body : "");
        to_poison(b, m, why);
    } else {
        char st[16];
        snprintf(st, sizeof st, "%d", status);
        aos_log(AOS_LOG_WARN, "storage queue: router did not take the event; it will reappear",
                "message_id", m->message_id, "status", st, "detail",
                err[0] ? err : (resp && resp->error ? resp->error : ""), NULL);
        aos_metric_counter_inc(b->m_retry);
    }
    aos_http_response_free(resp);
}

static void *poller(void *arg)
{
    storage_queue_bridge_t *b = arg;
    uint32_t backoff = b->cfg.poll_ms;
    while (!stopping(b)) {
        aos_azure_queue_msgs_t *msgs = NULL;
        aos_result r =
            aos_azure_queue_get(b->in_client, b->inbound, 16, (int)b->cfg.visibility_s, &msgs);
        if (r == AOS_ERR_NOT_FOUND)
            r = aos_azure_queue_create(b->in_client, b->inbound);
        if (r != AOS_OK) {
            aos_log(AOS_LOG_WARN, "storage queue: polling failed", "queue", b->inbound, "detail",
                    aos_azure_client_error(b->in_client), NULL);
            wait_ms(b, backoff);
            backoff = backoff < 30000 ? backoff * 2 : 30000;
            continue;
        }
        backoff = b->cfg.poll_ms;
        for (size_t i = 0; msgs && i < msgs->count && !stopping(b); i++)
            handle(b, &msgs->items[i]);
        bool idle = !msgs || msgs->count == 0;
        aos_azure_queue_msgs_free(msgs);
        if (idle)
            wait_ms(b, b->cfg.poll_ms);
    }
    return NULL;
}

aos_result storage_queue_bridge_start(storage_queue_bridge_t *b, char *errbuf, size_t errlen)
{
    /* create the queues up front (an existing queue is fine) so applications can use them */
    if (b->outbound) {
        aos_result r = aos_azure_queue_create(b->out_client, b->outbound);
        if (r != AOS_OK && r != AOS_ERR_CONFLICT)
            aos_log(AOS_LOG_WARN, "storage queue: cannot create the outbound queue yet", "queue",
                    b->outbound, "detail", aos_azure_client_error(b->out_client), NULL);
    }
    if (!b->inbound)
        return AOS_OK;
    aos_result r = aos_azure_queue_create(b->in_client, b->inbound);
    if (r == AOS_OK || r == AOS_ERR_CONFLICT)
        aos_azure_queue_create(b->in_client, b->poison);
    if (pthread_create(&b->thread, NULL, poller, b) != 0)
        return aos_fail(AOS_ERR_IO, errbuf, errlen, "storage queue: cannot start the poller");
    b->running = true;
    aos_log(AOS_LOG_INFO, "storage queue: taking events", "queue", b->inbound, "router",
            b->router_events_url, NULL);
    return AOS_OK;
}

void storage_queue_bridge_free(storage_queue_bridge_t *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (b->running)
        pthread_join(b->thread, NULL);
    aos_http_client_free(b->http);
    aos_azure_client_free(b->in_client);
    aos_azure_client_free(b->out_client);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b->conn);
    free(b->inbound);
    free(b->poison);
    free(b->outbound);
    free(b->router_events_url);
    free(b->auth);
    free(b);
}

/* ---- outbound (relay sink) ---- */

aos_result storage_queue_sink(void *ctx, const aos_event_t *ev, char *errbuf, size_t errlen)
{
    storage_queue_bridge_t *b = ctx;
    char *json = NULL;
    if (aos_event_to_json(ev, &json) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "event cannot be serialized");
    aos_result r = b->cfg.outbound_raw
                       ? aos_azure_queue_put_text(b->out_client, b->outbound, json, 0, -1)
                       : aos_azure_queue_put(b->out_client, b->outbound, json, strlen(json), 0, -1);
    if (r == AOS_ERR_NOT_FOUND && aos_azure_queue_create(b->out_client, b->outbound) == AOS_OK)
        r = b->cfg.outbound_raw
                ? aos_azure_queue_put_text(b->out_client, b->outbound, json, 0, -1)
                : aos_azure_queue_put(b->out_client, b->outbound, json, strlen(json), 0, -1);
    free(json);
    if (r != AOS_OK)
        return aos_fail(r, errbuf, errlen, "storage queue %s: %s", b->outbound,
                        aos_azure_client_error(b->out_client));
    aos_metric_counter_inc(b->m_out);
    return AOS_OK;
}
