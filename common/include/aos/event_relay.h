/* aos/event_relay.h: the durable outbox of AOS events toward Event Grid, Kafka (Event Hubs) and
 * any extra sink (the Azure Storage queue of aos-storage): at least once, across crashes.
 *
 * Every service publishes its events to the bus topic "aos.events" and only counts them as
 * sent when the broker confirmed them (the runner settles a turn only after its reply and
 * action events are confirmed). The relay consumes a durable queue fed by that topic
 * (RabbitMQ: queue "aos.eventrelay" bound to the aos.events exchange with "#"; Service Bus:
 * subscription "aos.events/Subscriptions/eventrelay") and, for each event whose type passes
 * the filter, publishes it to every configured sink, waiting for each sink's answer. Only when
 * every sink accepted it is the delivery accepted; a process that dies in between leaves it
 * unsettled and the broker redelivers it to the next relay (another replica or the restarted
 * one): at-least-once. Consumers dedupe by the CloudEvent id, which never changes.
 *
 *   transient failure (429, 408, 5xx, transport, Kafka broker down, storage unreachable):
 *       retried with backoff (Retry-After honoured, capped at 30 s) while the process runs;
 *       the delivery is held, so later events wait behind it (per-sink order is kept);
 *   permanent refusal (Event Grid 400/401/403/413, Kafka record too large or unauthorized,
 *       an event the storage queue cannot carry): the delivery is dead-lettered with reason
 *       "aos:relay-refused" and the sink's answer (replayable with `aosctl dlq replay`);
 *   a sink that already accepted the event is not asked again for the same delivery.
 *
 * Metrics: aos_events_relayed_total{sink}, aos_events_relay_retries_total{sink},
 * aos_events_relay_refused_total{sink}, aos_events_relay_filtered_total.
 *
 * Threads: _new/_start/_free from one owning thread (not a bus callback); the relay runs one
 * worker thread; sink functions are called on it. Ownership: config strings are copied; bus
 * and the sink contexts are borrowed and must outlive the relay (free the relay before the bus).
 */
#ifndef AOS_EVENT_RELAY_H
#define AOS_EVENT_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/bus.h"
#include "aos/config.h"
#include "aos/envelope.h"
#include "aos/result.h"

typedef struct aos_event_relay aos_event_relay_t;

/* An extra sink. Publish ev and return AOS_OK when it is durably accepted; a transient error
 * (AOS_ERR_TIMEOUT, AOS_ERR_UNAVAILABLE, AOS_ERR_RATE_LIMITED, AOS_ERR_IO) is retried, any
 * other is a permanent refusal (errbuf says why). Called on the relay's worker thread. */
typedef aos_result (*aos_event_relay_sink_fn)(void *ctx, const aos_event_t *ev, char *errbuf,
                                              size_t errlen);

typedef struct aos_event_relay_extra_sink {
    const char *name;  /* metric label, e.g. "storagequeue" */
    const char *types; /* this sink's own type filter (syntax below); NULL = the relay's */
    aos_event_relay_sink_fn fn;
    void *ctx;
} aos_event_relay_extra_sink_t;

#define AOS_EVENT_RELAY_MAX_EXTRA 2

typedef struct aos_event_relay_config {
    aos_bus_t *bus;    /* borrowed, required */
    const char *queue; /* logical queue to consume; NULL = "aos.eventrelay" (Service Bus: the
                        * subscription "aos.events/Subscriptions/<queue without 'aos.'>") */
    /* Comma-separated event types to relay; an entry ending in '*' is a prefix
     * ("aos.ml.job.*"); "*" or NULL = every type. Others are accepted and counted filtered. */
    const char *types;

    const char *eventgrid_endpoint; /* NULL = no Event Grid sink */
    const char *eventgrid_key;      /* aeg-sas-key, required with the endpoint */
    const char *ca_file;            /* TLS CA for Event Grid; NULL = system store */
    uint32_t request_timeout_ms;    /* one Event Grid POST; 0 = 30000 */

    const char *kafka_brokers;           /* NULL = none */
    const char *kafka_connection_string; /* Event Hubs */
    const char *kafka_topic;             /* NULL = "aos.events" */
    uint32_t kafka_delivery_timeout_ms;  /* 0 = 10000 */

    aos_event_relay_extra_sink_t extra[AOS_EVENT_RELAY_MAX_EXTRA];
    size_t extra_count;

    uint32_t max_backoff_ms; /* 0 = 30000 */
    uint32_t min_backoff_ms; /* 0 = 200 */

    /* Events that travel on the bus by reference (aos/claim_check.h) are resolved through it
     * before they leave, so sinks get the data itself; NULL = sent as they are. Copied; its
     * functions run on the relay's worker thread only (they may block). */
    const struct aos_claim_store *claims;
} aos_event_relay_config_t;

/* Fill the Event Grid / Kafka fields from the common variables (strings borrowed from c) plus
 * AOS_EVENTS_RELAY_QUEUE / AOS_EVENTS_RELAY_TYPES read by the caller's config table. */
void aos_event_relay_config_from_common(const aos_config_common_t *c, aos_bus_t *bus,
                                        aos_event_relay_config_t *out);

/* True when cfg names at least one sink (a relay without sinks has nothing to do). */
bool aos_event_relay_has_sinks(const aos_event_relay_config_t *cfg);

/* Validate and create (no I/O yet). AOS_ERR_INVALID with errbuf naming the setting. */
aos_result aos_event_relay_new(const aos_event_relay_config_t *cfg, aos_event_relay_t **out,
                               char *errbuf, size_t errlen);
/* Subscribe and start the worker. */
aos_result aos_event_relay_start(aos_event_relay_t *relay, char *errbuf, size_t errlen);
/* Stop: the delivery being worked on is finished if its sinks answer within grace_ms, else
 * released; queued deliveries are released. Then free. NULL is a no-op. Call before
 * aos_bus_stop/aos_bus_free. */
void aos_event_relay_free(aos_event_relay_t *relay, int grace_ms);

/* Does type pass the filter (syntax above)? Pure; NULL/""/"*" filter = everything. */
bool aos_event_relay_type_matches(const char *filter, const char *type);

#endif
