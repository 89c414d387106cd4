/* The durable event outbox: bus queue fed by aos.events -> Event Grid / Kafka / extra sinks,
 * accepted only after every sink took the event (see aos/event_relay.h, docs/events.md). */
#include "aos/event_publisher.h"
#include "aos/event_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/claim_check.h"
#include "aos/http_client.h"
#include "aos/kafka.h"
#include "aos/log.h"
#include "aos/metrics.h"
#include "aos/resilience.h"
#include "events_internal.h"

enum {
    SINK_EVENTGRID = 0,
    SINK_KAFKA,
    SINK_EXTRA0,
    SINK_MAX = SINK_EXTRA0 + AOS_EVENT_RELAY_MAX_EXTRA
};

typedef struct pending {
    aos_bus_delivery_t *d;
    struct pending *next;
} pending_t;

typedef struct relay_sink {
    const char *name;
    char *types; /* NULL = the relay's filter */
    aos_metric_counter_t *m_relayed, *m_retries, *m_refused;
} relay_sink_t;

struct aos_event_relay {
    aos_bus_t *bus;
    aos_claim_store_t claims; /* valid when has_claims */
    bool has_claims;
    char *queue;
    char *types;
    uint32_t min_backoff_ms, max_backoff_ms, request_timeout_ms;

    char *eg_url, *eg_key;
    aos_http_client_t *http;
    char *kafka_topic;
    aos_kafka_producer_t *kafka;
    aos_event_relay_extra_sink_t extra[AOS_EVENT_RELAY_MAX_EXTRA];
    size_t extra_count;
    relay_sink_t sinks[SINK_MAX];
    bool active[SINK_MAX];
    aos_metric_counter_t *m_filtered;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    pending_t *head, *tail;
    bool stopping;
    int64_t deadline_ms; /* when stopping: give up the current delivery at this time */
    pthread_t thread;
    bool running;
};

/* ---- filter ---- */

bool aos_event_relay_type_matches(const char *filter, const char *type)
{
    if (!filter || !*filter || strcmp(filter, "*") == 0)
        return true;
    if (!type)
        return false;
    const char *p = filter;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - p);
        while (n && p[n - 1] == ' ')
            n--;
        if (n) {
            if (p[n - 1] == '*') {
                if (strncmp(type, p, n - 1) == 0)
                    return true;
            } else if (strlen(type) == n && strncmp(type, p, n) == 0) {
                return true;
            }
        }
        p = e;
    }
    return false;
}

/* ---- config ---- */

void aos_event_relay_config_from_common(const aos_config_common_t *c, aos_bus_t *bus,
                                        aos_event_relay_config_t *out)
{
    /* the same sinks as the in-process publisher, read the same way */
    aos_event_publisher_config_t pc;
    aos_event_publisher_config_from_common(c, bus, &pc);
    memset(out, 0, sizeof *out);
    out->bus = bus;
    out->eventgrid_endpoint = pc.eventgrid_endpoint;
    out->eventgrid_key = pc.eventgrid_key;
    out->kafka_brokers = pc.kafka_brokers;
    out->kafka_connection_string = pc.kafka_connection_string;
}

bool aos_event_relay_has_sinks(const aos_event_relay_config_t *cfg)
{
    return cfg && (cfg->eventgrid_endpoint || cfg->kafka_brokers || cfg->kafka_connection_string ||
                   cfg->extra_count > 0);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void sink_metrics(relay_sink_t *s, const char *name)
{
    s->name = name;
    s->m_relayed = aos_metrics_counter(NULL, "aos_events_relayed_total",
                                       "Events the relay handed to a sink and the sink accepted.",
                                       "sink", name, NULL);
    s->m_retries = aos_metrics_counter(NULL, "aos_events_relay_retries_total",
                                       "Relay attempts that failed transiently and were retried.",
                                       "sink", name, NULL);
    s->m_refused =
        aos_metrics_counter(NULL, "aos_events_relay_refused_total",
                            "Events a sink refused for good (dead-lettered).", "sink", name, NULL);
}

aos_result aos_event_relay_new(const aos_event_relay_config_t *cfg, aos_event_relay_t **out,
                               char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!cfg || !cfg->bus)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "event relay: a bus is required");
    if (cfg->eventgrid_endpoint && (!cfg->eventgrid_key || !*cfg->eventgrid_key))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "AOS_EVENTGRID_KEY is required with AOS_EVENTGRID_ENDPOINT");
    if (cfg->extra_count > AOS_EVENT_RELAY_MAX_EXTRA)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "event relay: too many extra sinks");
    aos_event_relay_t *r = calloc(1, sizeof *r);
    if (!r)
        return AOS_ERR_NOMEM;
    r->bus = cfg->bus;
    r->queue = strdup(cfg->queue && *cfg->queue ? cfg->queue : "aos.eventrelay");
    r->types = dup_or_null(cfg->types && *cfg->types ? cfg->types : "*");
    r->min_backoff_ms = cfg->min_backoff_ms ? cfg->min_backoff_ms : 200;
    if (cfg->claims) {
        r->claims = *cfg->claims;
        r->has_claims = true;
    }
    r->max_backoff_ms = cfg->max_backoff_ms ? cfg->max_backoff_ms : 30000;
    r->request_timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : 30000;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    r->m_filtered =
        aos_metrics_counter(NULL, "aos_events_relay_filtered_total",
                            "Events the relay passed over (type not in its filter).", NULL);
    aos_result rc = r->queue && r->types ? AOS_OK : AOS_ERR_NOMEM;
    if (rc == AOS_OK && cfg->eventgrid_endpoint) {
        rc = ev_eventgrid_url(cfg->eventgrid_endpoint, &r->eg_url, errbuf, errlen);
        if (rc == AOS_OK && !(r->eg_key = strdup(cfg->eventgrid_key)))
            rc = AOS_ERR_NOMEM;
        aos_http_client_config_t hc = {
            .max_total_connections = 2, .user_agent = "aos-event-relay/1", .ca_file = cfg->ca_file};
        if (rc == AOS_OK)
            rc = aos_http_client_new(&hc, &r->http, errbuf, errlen);
        if (rc == AOS_OK) {
            r->active[SINK_EVENTGRID] = true;
            sink_metrics(&r->sinks[SINK_EVENTGRID], "eventgrid");
        }
    }
    if (rc == AOS_OK && (cfg->kafka_brokers || cfg->kafka_connection_string)) {
        char boot[512] = "";
        const char *brokers = cfg->kafka_brokers;
        if (!brokers) {
            rc = aos_kafka_eventhubs_bootstrap(cfg->kafka_connection_string, boot, sizeof boot);
            brokers = boot;
            if (rc != AOS_OK)
                aos_fail(rc, errbuf, errlen, "AOS_KAFKA_CONNECTION_STRING has no usable Endpoint");
        }
        aos_kafka_producer_config_t kc = {
            .brokers = brokers,
            .client_id = "aos-event-relay",
            .delivery_timeout_ms =
                cfg->kafka_delivery_timeout_ms ? cfg->kafka_delivery_timeout_ms : 10000,
            .eventhubs_connection_string = cfg->kafka_connection_string};
        if (rc == AOS_OK)
            rc = aos_kafka_producer_new(&kc, &r->kafka, errbuf, errlen);
        if (rc == AOS_OK &&
            !(r->kafka_topic = strdup(cfg->kafka_topic ? cfg->kafka_topic : "aos.events")))
            rc = AOS_ERR_NOMEM;
        if (rc == AOS_OK) {
            r->active[SINK_KAFKA] = true;
            sink_metrics(&r->sinks[SINK_KAFKA], "kafka");
        }
    }
    for (size_t i = 0; rc == AOS_OK && i < cfg->extra_count; i++) {
        r->extra[i] = cfg->extra[i];
        r->active[SINK_EXTRA0 + i] = true;
        sink_metrics(&r->sinks[SINK_EXTRA0 + i], cfg->extra[i].name ? cfg->extra[i].name : "extra");
        if (cfg->extra[i].types && !(r->sinks[SINK_EXTRA0 + i].types = strdup(cfg->extra[i].types)))
            rc = AOS_ERR_NOMEM;
    }
    r->extra_count = cfg->extra_count;
    if (rc != AOS_OK) {
        aos_event_relay_free(r, 0);
        return rc;
    }
    *out = r;
    return AOS_OK;
}

/* ---- receiving (bus I/O thread: never blocks) ---- */

static void on_delivery(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ev;
    aos_event_relay_t *r = ctx;
    pending_t *p = malloc(sizeof *p);
    if (!p) {
        aos_bus_release(d);
        return;
    }
    p->d = d;
    p->next = NULL;
    pthread_mutex_lock(&r->mu);
    if (r->stopping) {
        pthread_mutex_unlock(&r->mu);
        free(p);
        aos_bus_release(d);
        return;
    }
    if (r->tail)
        r->tail->next = p;
    else
        r->head = p;
    r->tail = p;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---- sinks (worker thread) ---- */

typedef enum { SENT, RETRY, REFUSED } outcome_t;

static bool transient(aos_result rc)
{
    return rc == AOS_ERR_TIMEOUT || rc == AOS_ERR_UNAVAILABLE || rc == AOS_ERR_RATE_LIMITED ||
           rc == AOS_ERR_IO || rc == AOS_ERR_NOMEM || rc == AOS_ERR_CANCELLED ||
           rc == AOS_ERR_CLOSED;
}

static outcome_t post_eventgrid(aos_event_relay_t *r, const aos_event_t *ev, uint64_t *hint_ms,
                                char *why, size_t whylen)
{
    char *one = NULL;
    if (aos_event_to_json(ev, &one) != AOS_OK) {
        snprintf(why, whylen, "the event cannot be serialized");
        return REFUSED;
    }
    size_t n = strlen(one);
    char *body = malloc(n + 3);
    if (!body) {
        free(one);
        return RETRY;
    }
    body[0] = '[';
    memcpy(body + 1, one, n);
    body[n + 1] = ']';
    body[n + 2] = '\0';
    free(one);
    const aos_http_header_t h[] = {{"aeg-sas-key", r->eg_key},
                                   {"Content-Type", AOS_EVENTGRID_CONTENT_TYPE}};
    aos_http_client_request_t req = {.method = "POST",
                                     .url = r->eg_url,
                                     .headers = h,
                                     .header_count = 2,
                                     .body = body,
                                     .body_len = n + 2,
                                     .timeout_ms = r->request_timeout_ms};
    aos_http_response_t *resp = NULL;
    char err[256] = "";
    aos_result rc = aos_http_client_do(r->http, &req, &resp, err, sizeof err);
    free(body);
    outcome_t o;
    if (rc != AOS_OK || !resp || resp->result != AOS_OK) {
        snprintf(why, whylen, "event grid: %s", err[0] ? err : resp ? resp->error : "no answer");
        o = RETRY;
    } else if (resp->status >= 200 && resp->status < 300) {
        o = SENT;
    } else {
        snprintf(why, whylen, "event grid answered %d: %.200s", resp->status,
                 resp->body ? resp->body : "");
        o = aos_retry_http_status_retryable(resp->status) ? RETRY : REFUSED;
        if (o == RETRY) {
            aos_retry_policy_t pol = {.max_attempts = 1000,
                                      .base_delay_ms = 1,
                                      .max_delay_ms = 1,
                                      .max_server_delay_ms = 60000};
            *hint_ms = aos_retry_next_delay_ms(&pol, 1,
                                               aos_http_response_get_header(resp, "retry-after-ms"),
                                               aos_http_response_get_header(resp, "retry-after"),
                                               aos_clock_realtime_ms(), NULL, NULL);
        }
    }
    aos_http_response_free(resp);
    return o;
}

static outcome_t send_to(aos_event_relay_t *r, int sink, const aos_event_t *ev, uint64_t *hint_ms,
                         char *why, size_t whylen)
{
    if (sink == SINK_EVENTGRID)
        return post_eventgrid(r, ev, hint_ms, why, whylen);
    aos_result rc;
    if (sink == SINK_KAFKA) {
        rc = aos_kafka_publish(r->kafka, r->kafka_topic, ev, why, whylen);
    } else {
        const aos_event_relay_extra_sink_t *x = &r->extra[sink - SINK_EXTRA0];
        rc = x->fn(x->ctx, ev, why, whylen);
    }
    return rc == AOS_OK ? SENT : transient(rc) ? RETRY : REFUSED;
}

/* Sleep up to ms unless stopping past the deadline; false = give up now. */
static bool relay_sleep(aos_event_relay_t *r, uint64_t ms)
{
    struct timespec ts = aos_clock_deadline(CLOCK_MONOTONIC, ms);
    pthread_mutex_lock(&r->mu);
    while (!r->stopping && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
        ;
    bool go_on = !r->stopping || aos_clock_monotonic_ms() < r->deadline_ms;
    pthread_mutex_unlock(&r->mu);
    return go_on;
}

static void relay_event(aos_event_relay_t *r, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    bool want[SINK_MAX] = {0}, any = false;
    for (int s = 0; s < SINK_MAX; s++) {
        const char *filter = r->sinks[s].types ? r->sinks[s].types : r->types;
        want[s] = r->active[s] && aos_event_relay_type_matches(filter, ev->type);
        any = any || want[s];
    }
    if (!any) {
        aos_metric_counter_inc(r->m_filtered);
        aos_bus_accept(d);
        return;
    }
    uint32_t attempt = 0;
    for (;;) {
        bool all = true;
        uint64_t hint = 0;
        for (int s = 0; s < SINK_MAX; s++) {
            if (!want[s])
                continue;
            char why[400] = "";
            outcome_t o = send_to(r, s, ev, &hint, why, sizeof why);
            if (o == SENT) {
                want[s] = false; /* not asked again for this delivery */
                aos_metric_counter_inc(r->sinks[s].m_relayed);
                continue;
            }
            if (o == REFUSED) {
                aos_metric_counter_inc(r->sinks[s].m_refused);
                aos_log(AOS_LOG_ERROR, "event relay: sink refused an event", "sink",
                        r->sinks[s].name, "event_id", ev->id, "type", ev->type, "detail", why,
                        NULL);
                char desc[480];
                snprintf(desc, sizeof desc, "%s: %s", r->sinks[s].name, why);
                aos_bus_reject(d, "aos:relay-refused", desc);
                return;
            }
            aos_metric_counter_inc(r->sinks[s].m_retries);
            aos_log(attempt < 3 ? AOS_LOG_WARN : AOS_LOG_DEBUG,
                    "event relay: sink failed, retrying", "sink", r->sinks[s].name, "event_id",
                    ev->id, "detail", why, NULL);
            all = false;
        }
        if (all) {
            aos_bus_accept(d);
            return;
        }
        uint64_t backoff = (uint64_t)r->min_backoff_ms << (attempt < 16 ? attempt : 16);
        if (backoff > r->max_backoff_ms)
            backoff = r->max_backoff_ms;
        if (hint > backoff)
            backoff = hint > 60000 ? 60000 : hint;
        attempt++;
        if (!relay_sleep(r, backoff)) {
            aos_bus_release(d); /* shutting down: the next relay takes it */
            return;
        }
    }
}

/* An event that came by reference leaves with its data (docs/bus.md "Message size"). */
static void relay_one(aos_event_relay_t *r, aos_bus_delivery_t *d)
{
    const aos_event_t *ev = aos_bus_delivery_event(d);
    aos_event_t *resolved = NULL;
    if (r->has_claims && aos_event_get_ext(ev, AOS_CLAIM_EXT)) {
        char err[300] = "";
        aos_result rc = aos_event_clone(ev, &resolved);
        if (rc == AOS_OK)
            rc = aos_claim_check_resolve(&r->claims, resolved, AOS_CLAIM_MAX, err, sizeof err);
        if (rc != AOS_OK) {
            aos_event_free(resolved);
            aos_log(AOS_LOG_WARN, "event relay: an event by reference could not be read",
                    "event_id", ev->id, "detail", err[0] ? err : aos_result_str(rc), NULL);
            if (transient(rc) && relay_sleep(r, r->min_backoff_ms)) {
                aos_bus_release(d);
            } else if (transient(rc)) {
                aos_bus_release(d);
            } else {
                aos_bus_reject(d, "aos:relay-refused", err[0] ? err : "claim unreadable");
            }
            return;
        }
        ev = resolved;
    }
    relay_event(r, d, ev);
    aos_event_free(resolved);
}

static void *worker(void *arg)
{
    aos_event_relay_t *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->head && !r->stopping)
            pthread_cond_wait(&r->cv, &r->mu);
        pending_t *p = r->stopping ? NULL : r->head;
        if (p) {
            r->head = p->next;
            if (!r->head)
                r->tail = NULL;
        }
        pthread_mutex_unlock(&r->mu);
        if (!p)
            return NULL;
        relay_one(r, p->d);
        free(p);
    }
}

aos_result aos_event_relay_start(aos_event_relay_t *r, char *errbuf, size_t errlen)
{
    if (!r)
        return AOS_ERR_INVALID;
    if (pthread_create(&r->thread, NULL, worker, r) != 0)
        return aos_fail(AOS_ERR_IO, errbuf, errlen, "event relay: cannot start its thread");
    r->running = true;
    aos_result rc;
    char addr[256];
    if (aos_bus_queue_address(r->bus, r->queue, addr, sizeof addr) == AOS_OK &&
        strcmp(addr, r->queue) == 0) {
        /* servicebus: a subscription of the aos.events topic named after the queue */
        const char *sub = strncmp(r->queue, "aos.", 4) == 0 ? r->queue + 4 : r->queue;
        snprintf(addr, sizeof addr, "aos.events/Subscriptions/%s", sub);
        rc = aos_bus_subscribe_address(r->bus, addr, 1, on_delivery, r);
    } else {
        rc = aos_bus_subscribe(r->bus, r->queue, 1, on_delivery, r);
    }
    if (rc != AOS_OK)
        return aos_fail(rc, errbuf, errlen, "event relay: subscribing %s: %s", r->queue,
                        aos_result_str(rc));
    aos_log(AOS_LOG_INFO, "event relay started", "queue", r->queue, "types", r->types, "eventgrid",
            r->active[SINK_EVENTGRID] ? "yes" : "no", "kafka", r->active[SINK_KAFKA] ? "yes" : "no",
            NULL);
    return AOS_OK;
}

void aos_event_relay_free(aos_event_relay_t *r, int grace_ms)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    r->deadline_ms = aos_clock_monotonic_ms() + (grace_ms > 0 ? grace_ms : 0);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->running)
        pthread_join(r->thread, NULL);
    for (pending_t *p = r->head, *n; p; p = n) {
        n = p->next;
        aos_bus_release(p->d);
        free(p);
    }
    aos_http_client_free(r->http);
    aos_kafka_producer_free(r->kafka);
    for (int s = 0; s < SINK_MAX; s++)
        free(r->sinks[s].types);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->queue);
    free(r->types);
    free(r->eg_url);
    free(r->eg_key);
    free(r->kafka_topic);
    free(r);
}
