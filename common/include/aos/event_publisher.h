/* aos/event_publisher.h: fan AOS lifecycle/domain events out to the bus topic, Azure Event
 * Grid and Kafka (Event Hubs), best effort, without ever blocking the caller.
 *
 * One call, aos_event_publish(pub, ev), takes the same aos_event_t a service would hand to
 * aos_bus_publish(bus, "aos.events", ev, …) and sends a copy to every configured sink:
 *   bus         aos_bus_publish to cfg.topic (routing key = ev->type). The durable path:
 *               the bus confirms and re-sends after reconnect (aos/bus.h).
 *   eventgrid   batched POST of a JSON array of CloudEvents to the topic endpoint with
 *               "aeg-sas-key" and content-type application/cloudevents-batch+json;
 *               requests ≤ 1 MB, an event alone over 1 MB is dropped (error log + metric);
 *               429 / 408 / 5xx / transport errors retried with backoff honouring
 *               Retry-After (aos/resilience.h) behind a circuit breaker; 413 halves the batch;
 *               other 4xx (bad key, bad event) count as failed and are not retried.
 *   kafka       aos_kafka_publish to cfg.kafka_topic (binary mode, ce_* headers, key =
 *               group_id else subject), on AOS_KAFKA_BROKERS or an Event Hubs namespace
 *               (AOS_KAFKA_CONNECTION_STRING: SASL_SSL PLAIN, "$ConnectionString").
 * Event Grid and Kafka each have a bounded in-memory queue and one worker thread; when a
 * queue is full the OLDEST queued event is dropped and counted. These two sinks are
 * notifications, at-most-once, and lose what is queued if the process dies; consumers that
 * need every event read the bus topic. docs/events.md has the mapping and the guarantees.
 *
 * Metrics (cfg.metrics, NULL = default registry; it must outlive the publisher):
 *   aos_events_published_total{sink}        accepted by the sink
 *   aos_events_failed_total{sink}           refused / gave up after retries
 *   aos_events_dropped_total{sink,reason}   reason queue_full | too_large | shutdown
 *   aos_events_queued{sink}                 gauge, events waiting in the sink's queue
 * sink is "bus", "eventgrid" or "kafka".
 *
 * Threads: aos_event_publish and aos_event_publisher_stats are thread-safe and never block
 * on the network. _new and _free are called once, from one thread (not from a bus callback).
 * Ownership: the config's strings are copied; cfg.bus and cfg.metrics are borrowed and must
 * outlive the publisher (stop the bus after freeing the publisher).
 */
#ifndef AOS_EVENT_PUBLISHER_H
#define AOS_EVENT_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/bus.h"
#include "aos/config.h"
#include "aos/envelope.h"
#include "aos/metrics.h"
#include "aos/resilience.h"
#include "aos/result.h"

#define AOS_EVENTGRID_MAX_REQUEST_BYTES (1024u * 1024u)
#define AOS_EVENTGRID_MAX_EVENT_BYTES (1024u * 1024u)
#define AOS_EVENTGRID_CONTENT_TYPE "application/cloudevents-batch+json; charset=utf-8"

typedef struct aos_event_publisher aos_event_publisher_t;

typedef struct aos_event_publisher_config {
    aos_bus_t *bus;    /* borrowed; NULL = no bus sink */
    const char *topic; /* bus topic; NULL = "aos.events" */

    const char *eventgrid_endpoint; /* topic endpoint URL; NULL = no Event Grid sink */
    const char *eventgrid_key;      /* aeg-sas-key; required with an endpoint */

    const char *kafka_brokers;           /* bootstrap servers; NULL = none */
    const char *kafka_connection_string; /* Event Hubs; NULL = none */
    const char *kafka_topic;             /* NULL = "aos.events" (the event hub name) */
    uint32_t kafka_delivery_timeout_ms;  /* 0 = 10000 */

    uint32_t batch_max_events;          /* Event Grid events per request at most; 0 = 100 */
    uint32_t linger_ms;                 /* wait this long for a batch to fill; 0 = 50 */
    uint32_t max_queued_events;         /* per sink queue; 0 = 10000 */
    uint32_t flush_timeout_ms;          /* _free drains the queues for at most this; 0 = 5000 */
    uint32_t request_timeout_ms;        /* one Event Grid POST; 0 = 30000 */
    aos_retry_policy_t retry;           /* Event Grid retries; zeros = resilience defaults */
    aos_circuit_config_t circuit;       /* Event Grid breaker; zeros = resilience defaults */
    size_t eventgrid_max_request_bytes; /* 0 = AOS_EVENTGRID_MAX_REQUEST_BYTES */
    aos_metrics_t *metrics;             /* borrowed; NULL = aos_metrics_default() */
    const char *ca_file;                /* TLS CA bundle for Event Grid; NULL = system store */
} aos_event_publisher_config_t;

typedef enum aos_event_sink {
    AOS_EVENT_SINK_BUS = 0,
    AOS_EVENT_SINK_EVENTGRID,
    AOS_EVENT_SINK_KAFKA,
    AOS_EVENT_SINK_COUNT_
} aos_event_sink;

typedef struct aos_event_sink_stats {
    uint64_t published;
    uint64_t failed;
    uint64_t dropped; /* all reasons */
    uint64_t queued;  /* now */
} aos_event_sink_stats_t;

/* Fill out with the sinks c configures (strings borrowed from c, which must outlive the
 * _new call): Event Grid when AOS_EVENTGRID_ENDPOINT is set, Kafka when AOS_KAFKA_BROKERS or
 * AOS_KAFKA_CONNECTION_STRING is set, and bus (may be NULL). Everything else default. */
void aos_event_publisher_config_from_common(const aos_config_common_t *c, aos_bus_t *bus,
                                            aos_event_publisher_config_t *out);

/* Create the publisher and start a worker per external sink. AOS_ERR_INVALID (errbuf says
 * which setting) for an endpoint without key, a bad URL scheme, bad Kafka settings. A
 * publisher without any sink is valid and publishes nowhere. */
aos_result aos_event_publisher_new(const aos_event_publisher_config_t *cfg,
                                   aos_event_publisher_t **out_pub, char *errbuf, size_t errlen);

/* Flush: wait up to flush_timeout_ms for the queues to drain and bus sends to be confirmed;
 * what is left is dropped (reason shutdown). Then stop the workers and free. NULL is a
 * no-op. */
void aos_event_publisher_free(aos_event_publisher_t *pub);

/* Validate ev (aos_event_validate; AOS_ERR_INVALID and nothing is sent) and hand a copy to
 * every sink. Never waits on the network. AOS_OK even when an external queue had to drop its
 * oldest event; the bus sink's enqueue error (e.g. AOS_ERR_CLOSED) is returned otherwise.
 * AOS_ERR_CLOSED once _free has begun. */
aos_result aos_event_publish(aos_event_publisher_t *pub, const aos_event_t *ev);

/* Counters of one sink (zeros for a sink that is not configured). */
void aos_event_publisher_stats(aos_event_publisher_t *pub, aos_event_sink sink,
                               aos_event_sink_stats_t *out_stats);

/* ---- Event Grid batching (pure; exposed for tests) ---- */

/* Plan one request from serialized CloudEvents sizes[0..count): the body is
 * "[" e0 "," e1 … "]". Returns how many leading items fit within max_request_bytes and
 * max_items (at least 1 when count > 0 even if the first alone is too large: the caller
 * drops such items with aos_eventgrid_event_fits first). */
size_t aos_eventgrid_plan_batch(const size_t *sizes, size_t count, size_t max_items,
                                size_t max_request_bytes);

/* True when one serialized event of len bytes may be sent at all (≤ 1 MB alone in a batch). */
bool aos_eventgrid_event_fits(size_t len, size_t max_request_bytes);

/* Join items[0..count) (lengths lens) into "[a,b,…]". *out_body is malloc'd, NUL-terminated. */
aos_result aos_eventgrid_join_batch(char *const *items, const size_t *lens, size_t count,
                                    char **out_body, size_t *out_len);

#endif
