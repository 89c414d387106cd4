/* services/router/events_in.h: deliveries to POST /v1/events (docs/design.md §3 Environment event).
 *
 * Accepted bodies:
 *   - CloudEvents structured mode: Content-Type application/cloudevents+json (one event) or
 *     application/cloudevents-batch+json (a JSON array); with plain application/json an
 *     object carrying "specversion" is one event and an array of them a batch.
 *   - Event Grid schema: a JSON array of {"id","eventType","subject","eventTime","data",
 *     "dataVersion","topic"?}; each becomes a CloudEvent (type = eventType, source = topic or
 *     "/aos/eventgrid", subject, time = eventTime, data).
 *   - The Event Grid subscription handshake: an Event Grid array whose event is
 *     "Microsoft.EventGrid.SubscriptionValidationEvent" with data.validationCode; the caller
 *     answers {"validationResponse": code}.
 * The CloudEvents webhook handshake (HTTP OPTIONS with WebHook-Request-Origin) is answered by
 * the HTTP handler with router_webhook_origin_valid().
 *
 * Pure; thread-safe. The delivery owns its events (free with router_event_delivery_free).
 */
#ifndef ROUTER_EVENTS_IN_H
#define ROUTER_EVENTS_IN_H

#include <stdbool.h>
#include <stddef.h>

#include "aos/envelope.h"
#include "aos/result.h"

#define ROUTER_EVENTS_MAX_BATCH 1000
#define ROUTER_EVENTGRID_VALIDATION_TYPE "Microsoft.EventGrid.SubscriptionValidationEvent"

typedef enum router_event_schema {
    ROUTER_SCHEMA_CLOUDEVENTS = 0,
    ROUTER_SCHEMA_EVENTGRID,
} router_event_schema;

typedef struct router_event_delivery {
    router_event_schema schema;
    bool is_validation;    /* Event Grid subscription validation */
    char *validation_code; /* set when is_validation */
    aos_event_t **events;  /* validated CloudEvents (none for a validation) */
    size_t count;
} router_event_delivery_t;

/* Parse a delivery. content_type may be NULL (treated as application/json). Every event is
 * checked with aos_event_validate; errors name the index ("events[3]: …"). More than
 * ROUTER_EVENTS_MAX_BATCH events is AOS_ERR_TOO_LARGE. */
aos_result router_events_parse(const char *content_type, const char *body, size_t len,
                               router_event_delivery_t **out, char *errbuf, size_t errlen);
void router_event_delivery_free(router_event_delivery_t *d);

/* {"validationResponse": code}. */
aos_result router_events_validation_response(const char *code, char **out_json);

/* A WebHook-Request-Origin value we are willing to echo back: a host name (letters, digits,
 * '.', '-', ':'), 1..255 bytes. */
bool router_webhook_origin_valid(const char *origin);

#endif
