/* aos/envelope.h: the AOS bus envelope, a CloudEvent 1.0.
 *
 * One event model, three encodings (docs/design.md §2):
 *   - AMQP 1.0 binary mode: attributes as application-properties "cloudEvents:<attr>",
 *     content-type application/json, the JSON data in one data section; routing in the
 *     AMQP properties (message-id = id, correlation-id, reply-to, group-id) and ttl in the
 *     header; W3C traceparent as application-property "traceparent".
 *   - CloudEvents JSON (structured mode, single and batch), as Event Grid speaks it.
 *   - Kafka headers ce_* (see aos/kafka.h when present).
 *
 * AMQP details: the message is durable; the AMQP subject is set to the event type (RabbitMQ
 * uses it as routing key on an exchange address without one; Service Bus filters see it as
 * Label) and callers may overwrite it after aos_envelope_to_message. Attributes are sent as
 * strings. Decoding also accepts, for interoperability: an amqp-value string or binary body,
 * the "cloudEvents_" prefix, cloudEvents:time as an AMQP timestamp, and boolean/integer
 * extension values (rendered canonically); message-id/correlation-id of type uuid or ulong are
 * rendered as text. Data larger than 64 MiB or nested deeper than 64 levels is not valid JSON
 * data here.
 *
 * JSON details: traceparent travels as the distributed-tracing extension member; JSON data
 * is embedded as a value, text/<subtype> data as a string, anything else as data_base64.
 * JSON null data reads back as no data. A batch may be empty. Extension members with integer
 * or boolean values are kept as their canonical strings.
 *
 * Ownership: an aos_event_t owns every string it points to; aos_event_free() frees them.
 * Setters copy their arguments. Thread-safety: an event is not shared between threads
 * while it is being mutated; encode/decode functions are pure and thread-safe.
 */
#ifndef AOS_ENVELOPE_H
#define AOS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"

struct pn_message_t; /* Proton; see <proton/message.h> */

#define AOS_EVENT_MAX_EXTENSIONS 16

typedef struct aos_event_ext {
    char *name;  /* lower-case alphanumeric, ≤ 20 chars, per CloudEvents */
    char *value; /* string value */
} aos_event_ext_t;

typedef struct aos_event {
    /* CloudEvents context attributes. id, type and source are required. */
    char *id;
    char *type;
    char *source;
    char *subject;         /* optional */
    char *time;            /* optional, RFC 3339 */
    char *datacontenttype; /* defaults to "application/json" */
    char *dataschema;      /* optional */

    /* Data: raw bytes; for application/json these are JSON text (any JSON value). */
    char *data;
    size_t data_len;

    /* AMQP routing (not CloudEvents attributes). */
    char *correlation_id;
    char *reply_to;
    char *group_id; /* conversation id; Service Bus SessionId */
    uint32_t ttl_ms;
    char *traceparent;
    /* AMQP reply-to-group-id: the session the reply goes to (Service Bus: the requester's
     * instance id on the shared session-enabled queue aos.reply). Optional. */
    char *reply_to_group_id;

    /* Filled on receive: how many times the broker delivered it before (0 = first). */
    uint32_t delivery_count;

    /* Other CloudEvents extension attributes (string-valued). */
    aos_event_ext_t ext[AOS_EVENT_MAX_EXTENSIONS];
    size_t ext_count;
} aos_event_t;

/* Allocate an empty event. */
aos_result aos_event_new(aos_event_t **out_event);

/* Allocate an event with a fresh UUIDv4 id, the current time, datacontenttype
 * application/json, and a copy of data (may be NULL for no data). */
aos_result aos_event_create(const char *type, const char *source, const char *data_json,
                            aos_event_t **out_event);

/* Deep copy. */
aos_result aos_event_clone(const aos_event_t *ev, aos_event_t **out_copy);

/* Free the event and everything it owns. NULL is a no-op. */
void aos_event_free(aos_event_t *ev);

/* Replace a string field with a copy of value (NULL clears it). Example:
 *   aos_event_set(&ev->correlation_id, req->id); */
aos_result aos_event_set(char **field, const char *value);
aos_result aos_event_set_data(aos_event_t *ev, const char *data, size_t len);
aos_result aos_event_set_ext(aos_event_t *ev, const char *name, const char *value);
const char *aos_event_get_ext(const aos_event_t *ev, const char *name);

/* Check required attributes, attribute-name rules, time format, and that JSON data is
 * valid JSON. */
aos_result aos_event_validate(const aos_event_t *ev, char *errbuf, size_t errlen);

/* Fill a UUIDv4 string (37 bytes incl. NUL) from a CSPRNG. */
void aos_uuid4(char out[37]);

/* ---- AMQP binary mode ---- */

/* Write ev into msg (cleared first). */
aos_result aos_envelope_to_message(const aos_event_t *ev, struct pn_message_t *msg, char *errbuf,
                                   size_t errlen);

/* Read an event from msg, strictly: missing/ill-typed CloudEvents attributes are an
 * error naming the attribute. Reads msg's encoding with aos_envelope_decode. */
aos_result aos_envelope_from_message(struct pn_message_t *msg, aos_event_t **out_event,
                                     char *errbuf, size_t errlen);

/* The same from a message checked by aos_amqp_message_parse (aos/amqp.h), for callers that
 * read more of it (the bus: delivery count, expiry, its own application-properties). */
struct aos_amqp_message;
aos_result aos_envelope_from_amqp(const struct aos_amqp_message *m, aos_event_t **out_event,
                                  char *errbuf, size_t errlen);

/* Encode to / decode from raw AMQP message bytes (what travels in a transfer).
 * aos_envelope_decode (aos_amqp_message_parse + aos_envelope_from_amqp, no pn_message_t) is
 * the fuzz target for outside bytes: malformed bytes are AOS_ERR_INVALID with the offset and
 * the reason. *out_buf is malloc'd. */
aos_result aos_envelope_encode(const aos_event_t *ev, char **out_buf, size_t *out_len);
aos_result aos_envelope_decode(const char *buf, size_t len, aos_event_t **out_event, char *errbuf,
                               size_t errlen);

/* ---- CloudEvents JSON (structured mode) ---- */

/* Serialize as CloudEvents JSON; JSON data is embedded as a JSON value ("data"), other
 * content as "data_base64". *out_json is malloc'd and NUL-terminated. */
aos_result aos_event_to_json(const aos_event_t *ev, char **out_json);
aos_result aos_event_from_json(const char *json, size_t len, aos_event_t **out_event, char *errbuf,
                               size_t errlen);

/* Batch: a JSON array of CloudEvents. *out_events is a malloc'd array of *out_count events;
 * free with aos_event_array_free. */
aos_result aos_event_batch_to_json(aos_event_t *const *events, size_t count, char **out_json);
aos_result aos_event_batch_from_json(const char *json, size_t len, aos_event_t ***out_events,
                                     size_t *out_count, char *errbuf, size_t errlen);
void aos_event_array_free(aos_event_t **events, size_t count);

#endif
