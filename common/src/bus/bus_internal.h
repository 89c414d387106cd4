/* bus_internal.h (internal to aos_bus): the state of one bus and the split of work between
 * the files of the module:
 *   bus.c       lifecycle, the I/O thread, connection, reconnect, timers, command queue
 *   bus_send.c  sender links, the outbox of unconfirmed messages, send API
 *   bus_recv.c  subscriptions, deliveries, credit, settlement and dead-lettering
 *   bus_rpc.c   request/reply over the per-instance reply queue
 *   bus_msg.c   message bytes: encoding events, delivery counts, dead-letter copies
 *   bus_probe.c queue probes (does a queue exist?)
 *
 * Threads: everything in struct aos_bus below the "I/O thread only" line is touched only by
 * the bus's I/O thread. Other threads hand work over through the command queue (mu) and wake
 * the I/O thread with pn_connection_wake (connected) or pn_proactor_interrupt (not).
 * Proton objects of the connection are only touched while handling that connection's event
 * batch (bus_pump); other batches ask for one with pn_connection_wake.
 */
#ifndef AOS_BUS_INTERNAL_H
#define AOS_BUS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/proactor.h>
#include <proton/session.h>

#include "aos/bus.h"
#include "aos/servicebus.h"
#include "bus_util.h"

#define BUS_ADDR_MAX 512
/* Reply-queue window: replies are accepted as soon as they are matched. */
#define BUS_REPLY_CREDIT 512
#define BUS_REQ_BUCKETS 1024
/* Sender links kept open; beyond this the least recently used idle one is closed. */
#define BUS_MAX_SENDERS 64
/* A link that stays attached this long worked: its refusal backoff starts over. */
#define BUS_LINK_STABLE_MS 2000

/* Application properties the bus adds (RabbitMQ profile). */
#define BUS_PROP_DELIVERY_COUNT "aos:delivery-count"
#define BUS_PROP_DL_REASON "aos:dead-letter-reason"
#define BUS_PROP_DL_DESCRIPTION "aos:dead-letter-description"
#define BUS_PROP_DL_SOURCE "aos:dead-letter-source"
/* On a dead-letter replay: the event id (= the original message-id) it replays. */
#define BUS_PROP_REPLAY_OF "aos:replay-of"

struct bus_send;
typedef void (*bus_send_done_fn)(aos_bus_t *bus, struct bus_send *s, aos_result r,
                                 const char *detail);

/* One message on its way to the broker, kept until the broker settles it. */
typedef struct bus_send {
    struct bus_send *prev, *next;
    char *address; /* in the same allocation, after the struct */
    char *bytes;
    size_t len;
    aos_bus_send_cb cb; /* user confirmation, may be NULL */
    void *ctx;
    bus_send_done_fn done; /* internal completion (dead-letter copies, requests), may be NULL */
    void *done_arg;
    pn_delivery_t *pn; /* while transferred on the current connection */
} bus_send_t;

typedef struct bus_send_list {
    bus_send_t *first, *last;
    size_t count;
} bus_send_list_t;

typedef struct bus_sender {
    struct bus_sender *next;
    char *address;
    /* Each link has a session of its own: RabbitMQ ends the whole session when an attach
     * fails (e.g. amqp:not-found), which must not take other links down with it. */
    pn_session_t *session;
    pn_link_t *link;          /* NULL while disconnected or not yet attached */
    bus_send_list_t pending;  /* not yet transferred on this connection, in order */
    bus_send_list_t inflight; /* transferred, waiting for the outcome */
    uint64_t last_used_ms;
    uint64_t retry_at_ms; /* re-attach after a transient refusal */
    uint32_t attach_failures;
} bus_sender_t;

typedef struct bus_sub {
    struct bus_sub *next;
    char *address;
    char *dead_letter_address; /* NULL when the profile dead-letters by outcome */
    uint32_t max_inflight;
    /* aos_bus_set_credit: when credit_limited, no new credit while inflight + backlog +
     * credit would pass credit_limit (max_inflight always caps) */
    bool credit_limited;
    uint32_t credit_limit;
    aos_bus_message_cb cb;
    void *ctx;
    bool is_reply;
    /* false for a dead-letter queue itself or a temporary topic queue: nowhere to put a
     * message it cannot take, so undecodable ones go to the handler as aos.bus.undecodable */
    bool can_dead_letter;
    pn_session_t *session; /* its own, see bus_sender_t */
    pn_link_t *link;
    uint32_t attach_failures; /* consecutive refusals, for the re-attach backoff */
    uint64_t opened_at_ms;    /* the broker's attach arrived (0: not open) */
    uint32_t inflight;        /* handed out (or being dead-lettered), not yet settled */
    /* received but not handed out yet: RabbitMQ 3.10 may overshoot the link credit, and the
     * handler never holds more than max_inflight */
    struct aos_bus_delivery *backlog_head, *backlog_tail;
    uint32_t backlog;
    uint64_t retry_at_ms; /* re-attach after the broker closed the link */
    /* Service Bus sessions: the link carries com.microsoft:session-filter with
     * session_filter (NULL: next available session); session_id is what the broker granted */
    bool session_mode;
    char *session_filter;
    char *session_id;
    uint64_t idle_since_ms; /* last traffic on a next-available session link */
    /* Service Bus lock renewal (bus_lock.c): links to "<address>/$management" on session,
     * created when first needed; renew_at_ms 0 while nothing is held */
    pn_link_t *mgmt_snd, *mgmt_rcv;
    char mgmt_reply[48];
    uint64_t renew_at_ms;
    bool renew_wanted; /* due, waiting for the management link's credit */
} bus_sub_t;

typedef enum bus_outcome {
    BUS_OUTCOME_NONE = 0,
    BUS_OUTCOME_ACCEPT,
    BUS_OUTCOME_RELEASE,
    BUS_OUTCOME_REJECT,
    BUS_OUTCOME_RELEASE_UNCOUNTED, /* given back, not a failed attempt (shutdown) */
} bus_outcome;

/* What the bus reads from a message besides the event. Strings are malloc'd or NULL. */
typedef struct bus_msg_info {
    /* the broker's delivery count; for RabbitMQ combined with BUS_PROP_DELIVERY_COUNT and
     * the first-acquirer flag */
    uint32_t count;
    char *dl_reason;      /* aos:dead-letter-reason or Service Bus DeadLetterReason */
    char *dl_description; /* aos:dead-letter-description or DeadLetterErrorDescription */
    char *dl_source;      /* aos:dead-letter-source */
    bool expired;         /* absolute-expiry-time (or creation-time + ttl) has passed */
} bus_msg_info_t;

struct aos_bus_delivery {
    aos_bus_t *bus;
    bus_sub_t *sub;
    pn_delivery_t *pn;
    uint64_t epoch; /* connection generation; a delivery of a lost connection is void */
    aos_event_t *ev;
    char *raw; /* the message bytes (copies for dead letters / counted redelivery) */
    size_t raw_len;
    uint32_t count;
    bus_msg_info_t info;
    /* settlement request, filled by the caller's thread */
    bus_outcome outcome;
    char *reason;
    char *description;
    struct aos_bus_delivery *next_settle;
    struct aos_bus_delivery *next_backlog;
};

typedef struct bus_request {
    struct bus_request *next;
    char *correlation_id;
    uint64_t deadline_ms;
    aos_bus_reply_cb cb;
    void *ctx;
} bus_request_t;

typedef enum bus_cmd_kind {
    BUS_CMD_SEND,
    BUS_CMD_SUBSCRIBE,
    BUS_CMD_SETTLE,
    BUS_CMD_REQUEST,
    BUS_CMD_STOP,
    BUS_CMD_PROBE,
    BUS_CMD_CREDIT, /* aos_bus_set_credit: address + limit */
} bus_cmd_kind;

typedef struct bus_probe bus_probe_t;

typedef struct bus_cmd {
    struct bus_cmd *next;
    bus_cmd_kind kind;
    bus_send_t *send;
    bus_sub_t *sub;
    aos_bus_delivery_t *delivery;
    bus_request_t *request;
    bus_probe_t *probe;
    int grace_ms;
    char *address;  /* BUS_CMD_CREDIT */
    uint32_t limit; /* BUS_CMD_CREDIT */
} bus_cmd_t;

struct aos_bus {
    /* immutable after aos_bus_new */
    aos_bus_profile profile;
    aos_bus_url_t url;
    char *instance_id;
    char reply_address[BUS_ADDR_MAX];
    uint32_t reconnect_min_ms, reconnect_max_ms, max_deliveries;
    char *session_prefixes; /* servicebus: comma-separated session-enabled queue prefixes */
    uint32_t session_receivers, session_idle_ms;
    uint32_t lock_renew_ms; /* servicebus: renew held locks this often */
    bool tls_skip_verify;
    char *tls_ca_file;
    aos_cbs_t *cbs; /* servicebus: put-token before links attach */
    pn_proactor_t *proactor;
    pthread_t thread;

    /* shared with callers, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bus_cmd_t *cmd_head, *cmd_tail;
    pn_connection_t *live_conn; /* for waking; cleared before the connection goes away */
    bool started, stop_requested, thread_done;
    atomic_bool ready;
    _Atomic int64_t ready_since_ms; /* wall clock ms the current connection became ready */
    atomic_bool paused;             /* aos_bus_pause: grant no more credit */

    /* ---- I/O thread only ---- */
    pn_connection_t *conn;
    bool conn_inited; /* PN_CONNECTION_INIT seen for conn: links may be created */
    uint64_t epoch;
    bool opened;              /* remote open seen on this connection */
    bool links_attached;      /* servicebus: after CBS authorized */
    uint32_t attempt;         /* reconnect attempts since the last good connection */
    uint64_t reconnect_at_ms; /* 0: none scheduled */
    uint64_t link_seq, tag_seq;
    bus_sender_t *senders;
    size_t sender_count;
    bus_sub_t *subs;
    aos_bus_delivery_t *settle_head, *settle_tail;
    bus_probe_t *probes;
    bus_request_t *requests[BUS_REQ_BUCKETS];
    size_t request_count;
    uint64_t next_request_deadline_ms;
    uint64_t timeout_set_for_ms;
    bool pump_wanted;
    bool stopping, closing, finished;
    uint64_t stop_deadline_ms;
};

/* bus.c */
uint64_t bus_now_ms(void);
uint64_t bus_random(void);
bool bus_on_io_thread(const aos_bus_t *bus);
/* Queue a command (any thread); AOS_ERR_CLOSED once stopping. */
aos_result bus_cmd_push(aos_bus_t *bus, bus_cmd_t *cmd);
bus_cmd_t *bus_cmd_new(bus_cmd_kind kind);
bool bus_connection_usable(const aos_bus_t *bus);

/* bus_send.c */
bus_send_t *bus_send_new(const char *address, char *bytes, size_t len, aos_bus_send_cb cb,
                         void *ctx);
void bus_send_free(bus_send_t *s);
/* Put s on its address's queue (I/O thread). */
void bus_outbox_add(aos_bus_t *bus, bus_send_t *s);
/* Attach links and transfer what has credit (I/O thread, connection batch). */
void bus_senders_pump(aos_bus_t *bus);
void bus_sender_on_flow(aos_bus_t *bus, pn_link_t *link);
void bus_sender_on_delivery(aos_bus_t *bus, pn_delivery_t *d);
void bus_sender_on_link_closed(aos_bus_t *bus, pn_link_t *link);
/* The broker ended session s; true if it was a sender's. */
bool bus_sender_on_session_closed(aos_bus_t *bus, pn_session_t *s);
/* Connection lost: forget links, queue in-flight messages again in order. */
void bus_senders_disconnected(aos_bus_t *bus);
/* Fail everything still queued with result (stop). */
void bus_senders_fail_all(aos_bus_t *bus, aos_result r, const char *detail);
size_t bus_outbox_count(const aos_bus_t *bus);
void bus_senders_free(aos_bus_t *bus);
/* Earliest sender re-attach time (0: none). */
uint64_t bus_senders_next_retry(const aos_bus_t *bus);
aos_result bus_send_encoded(aos_bus_t *bus, const char *address, const aos_event_t *ev,
                            const char *subject, aos_bus_send_cb cb, void *ctx);
/* Queue already encoded message bytes (takes ownership of bytes, also on failure). */
aos_result bus_send_bytes(aos_bus_t *bus, const char *address, char *bytes, size_t len,
                          aos_bus_send_cb cb, void *ctx);

/* bus_recv.c */
void bus_subs_pump(aos_bus_t *bus);
/* Apply aos_bus_set_credit to the subscriptions of address (I/O thread). */
void bus_subs_set_credit(aos_bus_t *bus, const char *address, uint32_t limit);
void bus_recv_on_delivery(aos_bus_t *bus, pn_delivery_t *d);
void bus_recv_on_link_closed(aos_bus_t *bus, pn_link_t *link);
void bus_recv_on_link_opened(aos_bus_t *bus, pn_link_t *link);
bool bus_recv_on_session_closed(aos_bus_t *bus, pn_session_t *s);
void bus_recv_settle(aos_bus_t *bus, aos_bus_delivery_t *d);
void bus_subs_disconnected(aos_bus_t *bus);
/* Stop: release everything still unsettled on the live connection. */
void bus_subs_release_all(aos_bus_t *bus);
uint32_t bus_subs_inflight(const aos_bus_t *bus);
void bus_subs_free(aos_bus_t *bus);
void bus_delivery_free(aos_bus_delivery_t *d);
uint64_t bus_subs_next_retry(const aos_bus_t *bus);

/* bus_session.c: Service Bus message sessions */
#define BUS_SESSION_FILTER "com.microsoft:session-filter"
#define BUS_SESSION_FILTER_CODE 0x00000137000000CULL
/* session_receivers 0: one link per unit of max_inflight, at most this many */
#define BUS_SESSION_LINKS_AUTO_MAX 32u
/* Is queue (logical name) session-enabled for this bus? */
bool bus_session_queue(const aos_bus_t *bus, const char *queue);
/* Put the session filter on a receiver's source before it is opened. */
void bus_session_set_filter(pn_link_t *link, const char *session_id);
/* The session id in a source filter (the broker's attach); malloc'd or NULL. */
char *bus_session_from_source(pn_terminus_t *source);
/* Let a next-available session go when it is idle; true when sub's link was closed. */
bool bus_session_idle_check(aos_bus_t *bus, bus_sub_t *sub, uint64_t now);
/* A refusal that only means "no session for you now" (retry soon, not an error). */
bool bus_session_benign_condition(const char *name);

/* bus_lock.c: Service Bus message and session lock renewal on "<entity>/$management" */
#define BUS_MGMT_LINK_PREFIX "aos-mgmt-"
/* Events of the management links; true when e was one of theirs (the caller ignores it). */
bool bus_lock_handle(aos_bus_t *bus, pn_event_t *e);
/* Renew what sub holds when due (I/O thread, connection batch). */
void bus_lock_pump(aos_bus_t *bus, bus_sub_t *sub, uint64_t now);
/* The statusCode (or status-code) of a management answer's bytes, -1 when absent or
 * undecodable; desc gets statusDescription. Pure (fuzzed: tests/bus/fuzz_bus_lock_answer.c). */
int bus_lock_parse_answer(const char *bytes, size_t len, char *desc, size_t desclen);
/* sub's session is going away: forget its management links. */
void bus_lock_forget(bus_sub_t *sub);
/* bus_probe.c: the probe's links have no Proton context; the on_* functions return true
 * when the link or session was a probe's (and answer it) */
void bus_probe_free(bus_probe_t *p);
void bus_probes_add(aos_bus_t *bus, bus_probe_t *p);
void bus_probes_pump(aos_bus_t *bus);
uint64_t bus_probes_next_deadline(const aos_bus_t *bus); /* 0: none */
bool bus_probe_on_link_opened(aos_bus_t *bus, pn_link_t *link);
bool bus_probe_on_link_closed(aos_bus_t *bus, pn_link_t *link);
bool bus_probe_on_session_closed(aos_bus_t *bus, pn_session_t *s);
void bus_probes_disconnected(aos_bus_t *bus);
void bus_probes_fail_all(aos_bus_t *bus, aos_result r, const char *detail);

/* bus_rpc.c */
void bus_requests_add(aos_bus_t *bus, bus_request_t *r);
/* A message from the reply queue; consumes nothing, the caller settles. */
void bus_requests_on_reply(aos_bus_t *bus, const aos_event_t *reply);
void bus_requests_sweep(aos_bus_t *bus, uint64_t now_ms);
void bus_requests_fail_all(aos_bus_t *bus, aos_result r);

/* bus_msg.c */
/* Encode ev as a durable AMQP message; subject (may be NULL) sets the AMQP subject;
 * delivery_count > 0 adds BUS_PROP_DELIVERY_COUNT. *out is malloc'd. */
aos_result bus_msg_encode(const aos_event_t *ev, const char *subject, uint32_t delivery_count,
                          char **out, size_t *out_len, char *errbuf, size_t errlen);

/* bus_msg_write.c: the bytes of ev as bus_msg_encode with delivery_count 0 makes them, written
 * directly (creation-time = now_ms). *out is malloc'd. */
aos_result bus_msg_write(const aos_event_t *ev, const char *subject, int64_t now_ms, char **out,
                         size_t *out_len, char *errbuf, size_t errlen);
/* The same message built with pn_message_t (the reference test_bus_util compares with). */
aos_result bus_msg_encode_pn_(const aos_event_t *ev, const char *subject, int64_t now_ms,
                              char **out, size_t *out_len, char *errbuf, size_t errlen);

/* Decode delivery bytes. info is filled even when the event is invalid; *out_ev is NULL
 * (AOS_ERR_PROTOCOL or AOS_ERR_INVALID with detail) when the bytes are no valid envelope.
 * Release info with bus_msg_info_clear. */
aos_result bus_msg_decode(aos_bus_profile p, const char *bytes, size_t len, aos_event_t **out_ev,
                          bus_msg_info_t *info, char *errbuf, size_t errlen);
void bus_msg_info_clear(bus_msg_info_t *info);
/* Encode ev for a dead-letter replay: AMQP message-id = message_id (new), BUS_PROP_REPLAY_OF =
 * ev->id; the event (cloudEvents:id included) is unchanged. */
aos_result bus_msg_encode_replay(const aos_event_t *ev, const char *message_id, char **out,
                                 size_t *out_len, char *errbuf, size_t errlen);
/* A copy of the delivery's message for re-publication on RabbitMQ: with dead-letter reason
 * properties when reason != NULL, else with BUS_PROP_DELIVERY_COUNT = count. Undecodable
 * bytes travel as a binary body. *out is malloc'd. */
aos_result bus_msg_copy(const char *bytes, size_t len, const char *source, uint32_t count,
                        const char *reason, const char *description, char **out, size_t *out_len);

#endif
