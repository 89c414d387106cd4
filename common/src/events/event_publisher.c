/* The event publisher: bus topic, Event Grid and Kafka sinks (aos/event_publisher.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/log.h"
#include "aos/resilience.h"
#include "events_internal.h"

#define DEFAULT_TOPIC "aos.events"

/* Bus sends confirm on the bus I/O thread, possibly after the publisher is gone: the
 * counters they touch live in this refcounted block. */
struct bus_track {
    atomic_int refs;
    atomic_uint_fast64_t inflight, published, failed;
    aos_metric_counter_t *m_published, *m_failed;
};

static void bus_track_unref(struct bus_track *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1)
        free(t);
}

static void bus_done(void *ctx, aos_result result, const char *detail)
{
    struct bus_track *t = ctx;
    if (result == AOS_OK) {
        atomic_fetch_add(&t->published, 1);
        aos_metric_counter_inc(t->m_published);
    } else {
        atomic_fetch_add(&t->failed, 1);
        aos_metric_counter_inc(t->m_failed);
        aos_log(AOS_LOG_WARN, "event not accepted by the bus", "error", aos_result_str(result),
                "detail", detail ? detail : "", NULL);
    }
    atomic_fetch_sub(&t->inflight, 1);
    bus_track_unref(t);
}

void aos_event_publisher_config_from_common(const aos_config_common_t *c, aos_bus_t *bus,
                                            aos_event_publisher_config_t *out)
{
    memset(out, 0, sizeof *out);
    out->bus = bus;
    if (!c)
        return;
    if (c->eventgrid_endpoint && *c->eventgrid_endpoint) {
        out->eventgrid_endpoint = c->eventgrid_endpoint;
        out->eventgrid_key = c->eventgrid_key;
    }
    if (c->kafka_brokers && *c->kafka_brokers)
        out->kafka_brokers = c->kafka_brokers;
    if (c->kafka_connection_string && *c->kafka_connection_string)
        out->kafka_connection_string = c->kafka_connection_string;
}

static void *kafka_worker(void *arg)
{
    ev_sink_t *s = arg;
    aos_event_t *evs[32];
    size_t n;
    while ((n = ev_sink_take(s, evs, 32, 0)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (!ev_sink_alive(s)) {
                ev_sink_count_drop(s, s->m_drop_shutdown, 1);
            } else {
                char err[256] = "";
                aos_result r =
                    aos_kafka_publish(s->pub->kafka, s->pub->kafka_topic, evs[i], err, sizeof err);
                ev_sink_count(s, r == AOS_OK, 1);
                if (r != AOS_OK)
                    aos_log(AOS_LOG_ERROR, "kafka publish failed", "error", aos_result_str(r),
                            "detail", err, "id", evs[i]->id, NULL);
            }
            aos_event_free(evs[i]);
        }
    }
    return NULL;
}

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s && *s ? s : dflt);
}

static aos_result setup_eventgrid(aos_event_publisher_t *p, const aos_event_publisher_config_t *c,
                                  size_t cap, char *errbuf, size_t errlen)
{
    if (!c->eventgrid_key || !*c->eventgrid_key)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "AOS_EVENTGRID_KEY: required when AOS_EVENTGRID_ENDPOINT is set");
    if (strpbrk(c->eventgrid_key, "\r\n"))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "AOS_EVENTGRID_KEY: contains a line break");
    AOS_RETURN_IF_FAILED(ev_eventgrid_url(c->eventgrid_endpoint, &p->eg_url, errbuf, errlen));
    p->eg_key = strdup(c->eventgrid_key);
    if (!p->eg_key)
        return AOS_ERR_NOMEM;
    aos_http_client_config_t hc = {.max_host_connections = 2,
                                   .default_timeout_ms = p->request_timeout_ms,
                                   .ca_file = c->ca_file,
                                   .user_agent = "aos-events/1"};
    AOS_RETURN_IF_FAILED(aos_http_client_new(&hc, &p->http, errbuf, errlen));
    AOS_RETURN_IF_FAILED(ev_sink_new(p, "eventgrid", cap, c->metrics, &p->eg));
    return ev_sink_start(p->eg, ev_eventgrid_worker);
}

static aos_result setup_kafka(aos_event_publisher_t *p, const aos_event_publisher_config_t *c,
                              size_t cap, char *errbuf, size_t errlen)
{
    p->kafka_topic = dup_or(c->kafka_topic, DEFAULT_TOPIC);
    if (!p->kafka_topic)
        return AOS_ERR_NOMEM;
    aos_kafka_producer_config_t kc = {
        .brokers = c->kafka_brokers,
        .client_id = "aos-events",
        .delivery_timeout_ms = c->kafka_delivery_timeout_ms ? c->kafka_delivery_timeout_ms : 10000,
        .eventhubs_connection_string = c->kafka_connection_string};
    AOS_RETURN_IF_FAILED(aos_kafka_producer_new(&kc, &p->kafka, errbuf, errlen));
    AOS_RETURN_IF_FAILED(ev_sink_new(p, "kafka", cap, c->metrics, &p->kf));
    return ev_sink_start(p->kf, kafka_worker);
}

static aos_result setup_bus(aos_event_publisher_t *p, const aos_event_publisher_config_t *c)
{
    p->bus = c->bus;
    struct bus_track *t = calloc(1, sizeof *t);
    if (!t)
        return AOS_ERR_NOMEM;
    atomic_init(&t->refs, 1);
    t->m_published = aos_metrics_counter(c->metrics, "aos_events_published_total",
                                         "Events accepted by a sink.", "sink", "bus", NULL);
    t->m_failed = aos_metrics_counter(c->metrics, "aos_events_failed_total",
                                      "Events a sink refused or gave up on after retries.", "sink",
                                      "bus", NULL);
    p->bus_track = t;
    return AOS_OK;
}

aos_result aos_event_publisher_new(const aos_event_publisher_config_t *c,
                                   aos_event_publisher_t **out_pub, char *errbuf, size_t errlen)
{
    if (!c || !out_pub)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "event publisher: no config");
    aos_event_publisher_t *p = calloc(1, sizeof *p);
    if (!p)
        return AOS_ERR_NOMEM;
    pthread_rwlock_init(&p->close_lock, NULL);
    p->batch_max = c->batch_max_events ? c->batch_max_events : 100;
    p->linger_ms = c->linger_ms ? c->linger_ms : 50;
    p->flush_ms = c->flush_timeout_ms ? c->flush_timeout_ms : 5000;
    p->request_timeout_ms = c->request_timeout_ms ? c->request_timeout_ms : 30000;
    p->max_request_bytes = c->eventgrid_max_request_bytes ? c->eventgrid_max_request_bytes
                                                          : AOS_EVENTGRID_MAX_REQUEST_BYTES;
    p->retry = c->retry;
    aos_circuit_init(&p->circuit, &c->circuit);
    size_t cap = c->max_queued_events ? c->max_queued_events : 10000;
    p->topic = dup_or(c->topic, DEFAULT_TOPIC);
    aos_result r = p->topic ? AOS_OK : AOS_ERR_NOMEM;
    if (r == AOS_OK && c->bus)
        r = setup_bus(p, c);
    if (r == AOS_OK && c->eventgrid_endpoint && *c->eventgrid_endpoint)
        r = setup_eventgrid(p, c, cap, errbuf, errlen);
    bool kafka = (c->kafka_brokers && *c->kafka_brokers) ||
                 (c->kafka_connection_string && *c->kafka_connection_string);
    if (r == AOS_OK && kafka)
        r = setup_kafka(p, c, cap, errbuf, errlen);
    if (r != AOS_OK) {
        p->flush_ms = 0;
        aos_event_publisher_free(p);
        return r;
    }
    aos_log(AOS_LOG_INFO, "event publisher ready", "topic", p->topic, "bus", p->bus ? "on" : "off",
            "eventgrid", p->eg ? "on" : "off", "kafka", p->kf ? "on" : "off", NULL);
    *out_pub = p;
    return AOS_OK;
}

static void wait_bus_confirms(aos_event_publisher_t *p)
{
    if (!p->bus_track)
        return;
    int64_t deadline = aos_clock_monotonic_ms() + p->flush_ms;
    while (atomic_load(&p->bus_track->inflight) > 0 && aos_clock_monotonic_ms() < deadline) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void aos_event_publisher_free(aos_event_publisher_t *p)
{
    if (!p)
        return;
    pthread_rwlock_wrlock(&p->close_lock);
    p->closing = true;
    pthread_rwlock_unlock(&p->close_lock);
    ev_sink_stop(p->eg, p->flush_ms);
    ev_sink_stop(p->kf, p->flush_ms);
    wait_bus_confirms(p);
    ev_sink_free(p->eg);
    ev_sink_free(p->kf);
    aos_http_client_free(p->http);
    aos_kafka_producer_free(p->kafka);
    bus_track_unref(p->bus_track);
    aos_circuit_destroy(&p->circuit);
    pthread_rwlock_destroy(&p->close_lock);
    free(p->topic);
    free(p->eg_url);
    free(p->eg_key);
    free(p->kafka_topic);
    free(p);
}

static void push_copy(ev_sink_t *s, const aos_event_t *ev)
{
    aos_event_t *copy = NULL;
    if (aos_event_clone(ev, &copy) != AOS_OK) {
        ev_sink_count(s, false, 1);
        return;
    }
    ev_sink_push(s, copy);
}

static aos_result publish_bus(aos_event_publisher_t *p, const aos_event_t *ev)
{
    struct bus_track *t = p->bus_track;
    atomic_fetch_add(&t->refs, 1);
    atomic_fetch_add(&t->inflight, 1);
    aos_result r = aos_bus_publish(p->bus, p->topic, ev, bus_done, t);
    if (r != AOS_OK) {
        atomic_fetch_sub(&t->inflight, 1);
        atomic_fetch_add(&t->failed, 1);
        aos_metric_counter_inc(t->m_failed);
        bus_track_unref(t);
    }
    return r;
}

aos_result aos_event_publish(aos_event_publisher_t *p, const aos_event_t *ev)
{
    if (!p || !ev)
        return AOS_ERR_INVALID;
    char err[256];
    if (aos_event_validate(ev, err, sizeof err) != AOS_OK) {
        aos_log(AOS_LOG_WARN, "invalid event not published", "error", err, NULL);
        return AOS_ERR_INVALID;
    }
    pthread_rwlock_rdlock(&p->close_lock);
    if (p->closing) {
        pthread_rwlock_unlock(&p->close_lock);
        return AOS_ERR_CLOSED;
    }
    aos_result r = p->bus ? publish_bus(p, ev) : AOS_OK;
    if (p->eg)
        push_copy(p->eg, ev);
    if (p->kf)
        push_copy(p->kf, ev);
    pthread_rwlock_unlock(&p->close_lock);
    return r;
}

void aos_event_publisher_stats(aos_event_publisher_t *p, aos_event_sink sink,
                               aos_event_sink_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    if (sink == AOS_EVENT_SINK_EVENTGRID) {
        ev_sink_stats(p->eg, out);
    } else if (sink == AOS_EVENT_SINK_KAFKA) {
        ev_sink_stats(p->kf, out);
    } else if (sink == AOS_EVENT_SINK_BUS && p->bus_track) {
        out->published = atomic_load(&p->bus_track->published);
        out->failed = atomic_load(&p->bus_track->failed);
        out->queued = atomic_load(&p->bus_track->inflight);
    }
}
