/* aos/bus.h: the AMQP 1.0 bus client (Qpid Proton proactor).
 *
 * One aos_bus_t = one AMQP connection served by one I/O thread that the bus owns.
 *   - Every function here is thread-safe unless it says otherwise: calls from other threads
 *     are queued to the I/O thread and woken with pn_connection_wake.
 *   - Callbacks (send confirmations, deliveries, replies) run ON THE I/O THREAD. They must not
 *     block; hand long work to your own worker and settle/reply from there (settling and
 *     replying are thread-safe).
 *   - *_sync functions block the caller; never call them from a bus callback.
 *
 * Names are logical (docs/design.md §2): "aos.storage", "aos.agent.ceo", "aos.events", …; the
 * broker profile maps them to addresses: rabbitmq:   queue Q -> "/amq/queue/Q" (declared by
 * deploy/rabbitmq/definitions.json or, for agent queues, by `aosctl topology apply`;
 * docs/deploy.md), reply queue -> "/queue/aos.reply.<instance>" (declared on attach, expires when
 * unused by policy), topic T, event type E -> "/exchange/T/E". servicebus: queue Q -> "Q", topic T
 * -> "T" (subject = event type), dead letters "Q/$deadletterqueue", subscriptions
 * "T/Subscriptions/S"; TLS, SASL ANONYMOUS and CBS put-token with a SAS token refreshed before
 * expiry. Session-enabled queues (config session_queue_prefixes) are received with the
 *               com.microsoft:session-filter, one session per link. Replies: one shared
 *               session-enabled queue "aos.reply"; a request carries reply-to = "aos.reply"
 *               and reply-to-group-id = the instance id, the reply's group-id (SessionId) is
 *               that id, and each instance receives only its own session of aos.reply.
 *
 * Delivery semantics: at-least-once. A received delivery is unsettled until the handler
 * calls aos_bus_accept / aos_bus_release / aos_bus_reject (exactly once). Link credit is
 * granted only up to max_inflight unsettled deliveries per subscription. A delivery whose
 * delivery_count reaches max_deliveries is rejected (dead-lettered) by the bus with reason
 * "aos:max-deliveries-exceeded" before the handler sees it. Undecodable messages are
 * rejected with reason "aos:malformed-envelope"; where there is nowhere to dead-letter them (a
 * dead-letter queue itself, a temporary topic queue) the handler gets them as an event of type
 * "aos.bus.undecodable" (data = the raw message bytes, subject = what is wrong).
 * docs/bus.md has the per-profile details (RabbitMQ dead-letters by a confirmed copy to
 * "<queue>.dlq" carrying the reason, and counts deliveries itself).
 *
 * Reconnect: after connection loss the bus reconnects with exponential backoff and full
 * jitter, re-attaches subscriptions, and re-sends messages that were not yet confirmed
 * (so a send is never silently lost; receivers dedupe by message id). Unsettled received
 * deliveries from the lost connection are void: settling them is a no-op (the broker
 * redelivers). Outstanding requests keep waiting for their reply until their timeout.
 */
#ifndef AOS_BUS_H
#define AOS_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/config.h"
#include "aos/envelope.h"
#include "aos/result.h"

typedef struct aos_bus aos_bus_t;
typedef struct aos_bus_delivery aos_bus_delivery_t;

typedef enum aos_bus_profile {
    AOS_BUS_PROFILE_AUTO = 0, /* infer from URL host: *.servicebus.windows.net -> servicebus */
    AOS_BUS_PROFILE_RABBITMQ,
    AOS_BUS_PROFILE_SERVICEBUS,
} aos_bus_profile;

/* The one reader of a profile name (AOS_BUS_PROFILE, "settings.bus_profile", aosctl):
 * "rabbitmq" or "servicebus", case-insensitive; NULL, "" and "auto" are AOS_BUS_PROFILE_AUTO.
 * Anything else is AOS_ERR_INVALID with *out = AOS_BUS_PROFILE_AUTO. Pure, thread-safe. */
aos_result aos_bus_profile_parse(const char *name, aos_bus_profile *out);

/* aos_bus_profile_parse for a name the configuration table has validated already (an unknown
 * name gives AOS_BUS_PROFILE_AUTO, which aos_bus_new then resolves). */
aos_bus_profile aos_bus_profile_of(const char *name);

/* What a bus with neither a URL nor a connection string dials (the local RabbitMQ). */
#define AOS_BUS_URL_DEFAULT "amqp://guest:guest@127.0.0.1:5672"

typedef struct aos_bus_config {
    /* amqp://user:pass@host:port or amqps://…. NULL or "": the connection string's Endpoint
     * when connection_string is set, else AOS_BUS_URL_DEFAULT. An explicit URL wins over the
     * Endpoint (a test peer, an emulator); the connection string still gives the SAS key and
     * the token audience. */
    const char *url;
    aos_bus_profile profile;
    /* Service Bus: Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…] */
    const char *connection_string;
    /* Unique per process; names the reply queue. NULL: "<hostname>-<pid>-<random>". */
    const char *instance_id;
    /* Reconnect backoff bounds (defaults 100 ms, 10 s). */
    uint32_t reconnect_min_ms;
    uint32_t reconnect_max_ms;
    /* Dead-letter after this many deliveries (0: default 5). */
    uint32_t max_deliveries;
    /* TLS: verify the peer (default true for amqps); CA file NULL = system store. */
    bool tls_skip_verify;
    const char *tls_ca_file;
    /* Service Bus sessions (servicebus profile only; ignored for rabbitmq). Queues whose name
     * starts with one of these comma-separated prefixes are session-enabled: a subscription
     * attaches with the com.microsoft:session-filter (next available session), holds that
     * session while deliveries are in flight and moves to the next session after
     * session_idle_ms without traffic. NULL: the environment variable AOS_BUS_SESSION_QUEUES,
     * else "aos.agent."; "": none. */
    const char *session_queue_prefixes;
    /* Session links per subscription (0: max_inflight, at most 32; never more than
     * max_inflight); each link holds one session and at most max_inflight / links unsettled
     * deliveries, so with the default every conversation has at most one turn in flight. */
    uint32_t session_receivers;
    /* Idle time after which a session link lets its session go (0: 5000 ms). */
    uint32_t session_idle_ms;
    /* servicebus: while a handler holds deliveries (or a session link holds a session) the
     * bus renews their locks on the entity's $management node (com.microsoft:renew-lock,
     * com.microsoft:renew-session-lock) every lock_renew_ms (0: 20000; must be well under
     * the entity's LockDuration, 1 min in deploy/azure). */
    uint32_t lock_renew_ms;
} aos_bus_config_t;

/* The bus a service's common configuration names (AOS_BUS_URL, AOS_BUS_PROFILE,
 * AOS_SERVICEBUS_CONNECTION_STRING) with instance_id (NULL: AOS_INSTANCE_ID). Strings borrowed
 * from c and instance_id, which must outlive the aos_bus_new call; the rest default. */
void aos_bus_config_from_common(const aos_config_common_t *c, const char *instance_id,
                                aos_bus_config_t *out);

/* Create a bus (no I/O yet). cfg strings are copied. */
aos_result aos_bus_new(const aos_bus_config_t *cfg, aos_bus_t **out_bus, char *errbuf,
                       size_t errlen);

/* Start the I/O thread and begin connecting (returns at once; use aos_bus_wait_connected). */
aos_result aos_bus_start(aos_bus_t *bus);

/* Block until connected (and, for servicebus, authorized) or timeout. */
aos_result aos_bus_wait_connected(aos_bus_t *bus, int timeout_ms);

/* True while the connection is open and usable (for /readyz). */
bool aos_bus_is_connected(const aos_bus_t *bus);

/* Wall-clock ms (CLOCK_REALTIME) at which the current connection became usable; 0 while not
 * connected. A value later than when a request was sent says the connection was lost in
 * between (its timeout is the outage's, not the peer's). Any thread. */
int64_t aos_bus_connected_since_ms(const aos_bus_t *bus);

/* Graceful stop: stop granting credit, wait up to grace_ms for in-flight sends to be
 * confirmed and deliveries to be settled, release the rest, close, join the thread.
 * Unconfirmed sends get AOS_ERR_CLOSED, outstanding requests AOS_ERR_CLOSED. Deliveries still
 * held may be settled afterwards (a no-op that frees them) until aos_bus_free.
 * AOS_ERR_INVALID when called on the bus's own thread (from a callback). */
aos_result aos_bus_stop(aos_bus_t *bus, int grace_ms);

/* Stop (with a short grace) and free. NULL is a no-op. Settle every delivery you still hold
 * before: a delivery must not be touched after its bus is freed. */
void aos_bus_free(aos_bus_t *bus);

/* This instance's reply address (what goes into reply-to; servicebus: "aos.reply", the
 * session being the instance id). Valid for the bus lifetime. */
const char *aos_bus_reply_address(const aos_bus_t *bus);
const char *aos_bus_instance_id(const aos_bus_t *bus);

/* Map a logical queue name to its address for this bus's profile. */
aos_result aos_bus_queue_address(const aos_bus_t *bus, const char *queue, char *out, size_t outlen);

/* ---- sending ---- */

/* Called once per send on the I/O thread: AOS_OK when the broker accepted the message,
 * AOS_ERR_REJECTED (detail = broker condition) or AOS_ERR_TIMEOUT / AOS_ERR_CLOSED. */
typedef void (*aos_bus_send_cb)(void *ctx, aos_result result, const char *detail);

/* Send ev to a logical queue. The event is copied. cb may be NULL (fire and forget, still
 * confirmed internally and re-sent after reconnect). */
aos_result aos_bus_send(aos_bus_t *bus, const char *queue, const aos_event_t *ev,
                        aos_bus_send_cb cb, void *ctx);

/* Send to an explicit address (e.g. a request's reply-to), no profile mapping. */
aos_result aos_bus_send_to_address(aos_bus_t *bus, const char *address, const aos_event_t *ev,
                                   aos_bus_send_cb cb, void *ctx);

/* Block until the broker accepted the message, or timeout. */
aos_result aos_bus_send_sync(aos_bus_t *bus, const char *queue, const aos_event_t *ev,
                             int timeout_ms, char *errbuf, size_t errlen);

/* Re-send a dead letter ev to a logical queue and block until the broker accepted it. The
 * message gets a NEW AMQP message-id (so broker duplicate detection, which is keyed on it,
 * does not silently drop the replay) and the application property "aos:replay-of" = ev->id;
 * the event itself, cloudEvents:id included (what consumers dedupe on), is unchanged.
 * Not from a bus callback. */
aos_result aos_bus_replay_sync(aos_bus_t *bus, const char *queue, const aos_event_t *ev,
                               int timeout_ms, char *errbuf, size_t errlen);

/* Publish to a topic (logical, e.g. "aos.events"); the routing key / subject is ev->type. */
aos_result aos_bus_publish(aos_bus_t *bus, const char *topic, const aos_event_t *ev,
                           aos_bus_send_cb cb, void *ctx);

/* ---- receiving ---- */

/* A delivery: ev is owned by the delivery and valid until it is settled. */
typedef void (*aos_bus_message_cb)(void *ctx, aos_bus_delivery_t *delivery, const aos_event_t *ev);

/* Consume a logical queue (competing consumers), holding at most max_inflight unsettled
 * deliveries. Re-attached after reconnect. Call before or after start. */
aos_result aos_bus_subscribe(aos_bus_t *bus, const char *queue, uint32_t max_inflight,
                             aos_bus_message_cb cb, void *ctx);

/* Consume an explicit address (e.g. ".../$deadletterqueue" or a dead-letter queue). */
aos_result aos_bus_subscribe_address(aos_bus_t *bus, const char *address, uint32_t max_inflight,
                                     aos_bus_message_cb cb, void *ctx);

/* Settle exactly once; each frees the delivery. Thread-safe. */
void aos_bus_accept(aos_bus_delivery_t *d);
/* Give it back for redelivery (counts as a failed delivery attempt). */
void aos_bus_release(aos_bus_delivery_t *d);
/* Give it back without counting a failed attempt (a consumer shutting down): RabbitMQ, a
 * copy with the same delivery count; Service Bus, `modified` with delivery-failed=false. */
void aos_bus_release_uncounted(aos_bus_delivery_t *d);
/* Stop granting link credit on every subscription (a draining consumer): what the broker
 * still sends on credit already granted arrives as usual (release it uncounted). */
void aos_bus_pause(aos_bus_t *bus);
/* Lower (or raise again) the link credit of a logical queue's subscriptions: no new credit is
 * granted while the deliveries held, received and credited would pass limit (0: none at all;
 * UINT32_MAX: back to the subscription's max_inflight, which always caps). So a consumer
 * whose downstream has no headroom leaves the backlog in the queue, where the broker (and
 * KEDA) see it. Credit already granted is not withdrawn: what it brings arrives as usual.
 * Thread-safe; applied on the I/O thread. AOS_ERR_INVALID for a bad queue name. */
aos_result aos_bus_set_credit(aos_bus_t *bus, const char *queue, uint32_t limit);
/* Dead-letter with a reason (AMQP error condition, e.g. "aos:poison") and description. */
void aos_bus_reject(aos_bus_delivery_t *d, const char *reason, const char *description);

const aos_event_t *aos_bus_delivery_event(const aos_bus_delivery_t *d);

/* How many times the broker delivered this message before (as ev->delivery_count). */
uint32_t aos_bus_delivery_count(const aos_bus_delivery_t *d);

/* For a message read from a dead-letter queue: why it was dead-lettered. RabbitMQ profile:
 * the application-properties the bus wrote (aos:dead-letter-reason, -description, -source =
 * the address it was consumed from); Service Bus: DeadLetterReason and
 * DeadLetterErrorDescription. NULL when absent (e.g. the broker's own delivery-limit
 * backstop on RabbitMQ records no reason the AMQP 1.0 plugin shows). Valid until settled. */
const char *aos_bus_delivery_dead_letter_reason(const aos_bus_delivery_t *d);
const char *aos_bus_delivery_dead_letter_description(const aos_bus_delivery_t *d);
const char *aos_bus_delivery_dead_letter_source(const aos_bus_delivery_t *d);

/* ---- probing ---- */

/* Called once on the I/O thread: AOS_OK (the queue exists), AOS_ERR_NOT_FOUND (it does not),
 * or another error (AOS_ERR_TIMEOUT, AOS_ERR_CLOSED, AOS_ERR_FORBIDDEN, AOS_ERR_REJECTED) with
 * the broker's condition in detail (borrowed, valid during the call; NULL on AOS_OK). */
typedef void (*aos_bus_probe_cb)(void *ctx, aos_result result, const char *detail);

/* Does the logical queue exist on the broker? RabbitMQ accepts and silently drops a message
 * for a missing /amq/queue/Q, so a sender cannot tell; the probe attaches a receiver that is
 * never given credit (nothing is delivered to it) and detaches once the broker answered.
 * Waits for a connection within timeout_ms. Service Bus refuses senders to missing entities
 * by itself: there cb gets AOS_OK without I/O. */
aos_result aos_bus_probe_queue(aos_bus_t *bus, const char *queue, int timeout_ms,
                               aos_bus_probe_cb cb, void *ctx);

/* ---- request / reply ---- */

/* Called once on the I/O thread with AOS_OK and the reply (borrowed, valid during the call),
 * or an error (AOS_ERR_TIMEOUT, AOS_ERR_CLOSED, AOS_ERR_REJECTED) and reply NULL. */
typedef void (*aos_bus_reply_cb)(void *ctx, aos_result result, const aos_event_t *reply);

/* Send req to a queue with reply-to = this instance's reply address; the reply is matched by
 * correlation-id = req->id. req is copied. */
aos_result aos_bus_request(aos_bus_t *bus, const char *queue, const aos_event_t *req,
                           int timeout_ms, aos_bus_reply_cb cb, void *ctx);

/* Blocking request; *out_reply is the caller's to free. */
aos_result aos_bus_request_sync(aos_bus_t *bus, const char *queue, const aos_event_t *req,
                                int timeout_ms, aos_event_t **out_reply);

/* Answer a request: sends reply to request->reply_to with correlation-id = request->id and,
 * when the request has a reply-to-group-id, group-id = that (Service Bus reply session)
 * (reply is not modified; it is copied). AOS_ERR_INVALID when the request has no reply-to. */
aos_result aos_bus_reply(aos_bus_t *bus, const aos_event_t *request, const aos_event_t *reply,
                         aos_bus_send_cb cb, void *ctx);

/* Reply with an error event: type "aos.error", data {"error":{"code":..,"message":..}}. */
aos_result aos_bus_reply_error(aos_bus_t *bus, const aos_event_t *request, aos_result code,
                               const char *message);

/* If ev is an "aos.error" reply, return its code (and copy the message); else AOS_OK. */
aos_result aos_bus_reply_result(const aos_event_t *ev, char *msgbuf, size_t msglen);

#endif
