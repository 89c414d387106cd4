/* services/storage/service_queue.h: the Azure Storage queue integration of aos-storage
 * (docs/storage.md, "Azure Storage queues for applications").
 *
 * Inbound: a thread polls the configured request queue (Get Messages with a visibility
 * timeout), reads each message as one CloudEvent in JSON (raw text, or base64 of it: both
 * accepted) and POSTs it to the router's /v1/events, which makes it a turn for every
 * subscribed agent exactly as an HTTP delivery would (deduplicated by event id). The message
 * is deleted only after the router answered 2xx, i.e. after the broker accepted every turn;
 * a router that is down or answers 5xx, 429, 401/403 leaves it to reappear after the
 * visibility timeout. A message the router refuses as invalid (400, 413, 415, 422), that is
 * no CloudEvent, or that was dequeued more than max_dequeue times is moved to "<queue>-poison"
 * (the Azure Functions convention) and deleted.
 *
 * Outbound: storage_queue_sink() is an aos/event_relay.h extra sink that puts each relayed
 * event (default types aos.agent.action, aos.agent.reply) on the configured response queue
 * as CloudEvent JSON, base64-encoded (default) or raw.
 *
 * Threads: _new/_start/_free from the owning thread; the poller runs on its own thread; the
 * sink is called on the relay's worker thread (it has its own Azure client).
 */
#ifndef STORAGE_SERVICE_QUEUE_H
#define STORAGE_SERVICE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/envelope.h"
#include "aos/result.h"

typedef struct storage_queue_bridge storage_queue_bridge_t;

typedef struct storage_queue_bridge_config {
    const char *connection_string; /* AZURE_STORAGE_CONNECTION_STRING, required */
    const char *inbound_queue;     /* NULL/"" = no inbound */
    const char *router_url;        /* base URL of the router; required with inbound */
    const char *router_api_key;    /* Bearer key for /v1/events; NULL = none (dev mode) */
    uint32_t poll_ms;              /* wait after an empty poll; 0 = 1000 */
    uint32_t visibility_s;         /* hide a message this long while it is handled; 0 = 60 */
    uint32_t max_dequeue;          /* poison after this many dequeues; 0 = 20 */
    const char *outbound_queue;    /* NULL/"" = no outbound */
    bool outbound_raw;             /* raw text instead of base64 */
} storage_queue_bridge_config_t;

aos_result storage_queue_bridge_new(const storage_queue_bridge_config_t *cfg,
                                    storage_queue_bridge_t **out, char *errbuf, size_t errlen);
/* Create the queues (idempotent) and start the inbound poller when configured. */
aos_result storage_queue_bridge_start(storage_queue_bridge_t *b, char *errbuf, size_t errlen);
/* Stop the poller (a message in flight is finished or left to reappear), then free. */
void storage_queue_bridge_free(storage_queue_bridge_t *b);

bool storage_queue_bridge_has_outbound(const storage_queue_bridge_t *b);
/* aos_event_relay_sink_fn: ctx is the bridge. */
aos_result storage_queue_sink(void *ctx, const aos_event_t *ev, char *errbuf, size_t errlen);

/* The CloudEvent JSON a queue message carries: text itself when it is a JSON object, else its
 * base64 decoding (data) when that is one. Returns a pointer into text or data (borrowed), or
 * NULL when neither is a JSON object. Pure. */
const char *storage_queue_message_json(const char *text, const unsigned char *data, size_t data_len,
                                       size_t *out_len);

#endif
