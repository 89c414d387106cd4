/* aos/kafka.h: CloudEvents over Kafka (librdkafka), binary content mode.
 *
 * Mapping (CloudEvents Kafka protocol binding 1.0, binary mode):
 *   headers   ce_specversion "1.0", ce_id, ce_type, ce_source, ce_time, ce_subject,
 *             ce_dataschema, ce_<extension>; "content-type" = datacontenttype;
 *             "traceparent" (W3C trace context)
 *   key       group_id when set, else subject, else none (so one conversation stays on one
 *             partition, in order)
 *   value     the event data
 * AMQP-only routing (correlation-id, reply-to, ttl) does not travel over Kafka.
 *
 * On decode a record whose content-type is application/cloudevents+json is read as a
 * structured-mode CloudEvent instead. The key becomes group_id unless it equals the subject.
 *
 * Thread-safety: an aos_kafka_producer_t may be used by any number of threads at once
 * (aos_kafka_publish blocks the calling thread until its own delivery report arrives).
 * aos_envelope_from_kafka is pure.
 */
#ifndef AOS_KAFKA_H
#define AOS_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "aos/envelope.h"
#include "aos/result.h"

typedef struct aos_kafka_producer aos_kafka_producer_t;

typedef struct aos_kafka_producer_config {
    const char *brokers;          /* bootstrap.servers, e.g. AOS_KAFKA_BROKERS; required */
    const char *client_id;        /* NULL = "aos" */
    uint32_t delivery_timeout_ms; /* message.timeout.ms; 0 = 30000 */
    /* Extra librdkafka properties as name, value pairs ending in NULL (security.protocol,
     * sasl.mechanism, sasl.username, …; Event Hubs needs SASL_SSL + PLAIN). May be NULL.
     * Values are never logged. */
    const char *const *properties;
    /* Azure Event Hubs namespace connection string (AOS_KAFKA_CONNECTION_STRING): selects
     * SASL_SSL with PLAIN, user "$ConnectionString", the string itself as password. */
    const char *eventhubs_connection_string;
} aos_kafka_producer_config_t;

/* The Kafka bootstrap server of an Event Hubs namespace connection string
 * ("Endpoint=sb://ns.servicebus.windows.net/;…" -> "ns.servicebus.windows.net:9093").
 * AOS_ERR_INVALID (without echoing the secret string) when it has no usable Endpoint. */
aos_result aos_kafka_eventhubs_bootstrap(const char *connection_string, char *out, size_t outlen);

/* Create an idempotent producer (acks=all, enable.idempotence=true). */
aos_result aos_kafka_producer_new(const aos_kafka_producer_config_t *cfg,
                                  aos_kafka_producer_t **out_producer, char *errbuf, size_t errlen);

/* Flush outstanding messages (up to the delivery timeout), then free. NULL is a no-op. */
void aos_kafka_producer_free(aos_kafka_producer_t *p);

/* Publish ev to topic and wait for the broker's delivery report. The event is validated
 * first (AOS_ERR_INVALID). Broker/transport errors are translated: timeouts ->
 * AOS_ERR_TIMEOUT, brokers down/leader moves -> AOS_ERR_UNAVAILABLE, record too large ->
 * AOS_ERR_TOO_LARGE, authorization -> AOS_ERR_FORBIDDEN / AOS_ERR_AUTH, unknown topic ->
 * AOS_ERR_NOT_FOUND; errbuf carries librdkafka's text. */
aos_result aos_kafka_publish(aos_kafka_producer_t *p, const char *topic, const aos_event_t *ev,
                             char *errbuf, size_t errlen);

/* ---- decoding (pure) ---- */

typedef struct aos_kafka_header {
    const char *name;  /* NUL-terminated */
    const void *value; /* may be NULL (null header value) */
    size_t value_len;
} aos_kafka_header_t;

/* Decode one record strictly: ce_specversion must be "1.0", id/type/source present, header
 * values valid UTF-8 without NUL, no attribute twice, JSON data must parse. */
aos_result aos_envelope_from_kafka(const aos_kafka_header_t *headers, size_t header_count,
                                   const void *value, size_t value_len, const void *key,
                                   size_t key_len, aos_event_t **out_event, char *errbuf,
                                   size_t errlen);

/* Build the binary-mode headers for ev (what aos_kafka_publish sends). *out_headers is one
 * malloc'd block (names and values inside it); free it with free(). The key is returned as a
 * borrowed pointer into ev (NULL when none). */
aos_result aos_envelope_to_kafka(const aos_event_t *ev, aos_kafka_header_t **out_headers,
                                 size_t *out_count, const char **out_key, char *errbuf,
                                 size_t errlen);

#endif
