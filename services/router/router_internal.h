/* Internal to the aos-router service (router*.c, svc_*.c). Not a public API. */
#ifndef ROUTER_INTERNAL_H
#define ROUTER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "aos/agents.h"
#include "aos/bus.h"
#include "aos/http_client.h"
#include "aos/http_server.h"
#include "aos/metrics.h"
#include "aos/storage_client.h"
#include "apikey.h"
#include "botframework.h"
#include "jwt.h"
#include "messages.h"
#include "openid.h"
#include "router.h"
#include "routing.h"
#include "skill_manifest.h"

#define ROUTER_SOURCE "/aos/router"
#define ROUTER_MAX_INSTANCES 256
#define ROUTER_HEALTH_SYNC_MS 2000

/* Last heartbeat of one runner instance for one agent. */
typedef struct router_heartbeat {
    char agent[AOS_AGENT_NAME_MAX + 1];
    char instance[129];
    char provider[32];
    int64_t inflight, capacity;
    int64_t seen_ms; /* monotonic */
    int64_t seen_unix_ms;
    int64_t sched_last_ms, sched_next_ms; /* the agent's schedule as that runner sees it */
    char breaker[16]; /* its model endpoints' worst breaker state; "" when not reported */
} router_heartbeat_t;

struct router {
    router_config_t cfg;
    aos_agents_config_t *agents;
    router_apikeys_t *keys;
    router_jwks_t *jwks;
    char **issuers;
    size_t issuer_count;
    char **allowed_callers; /* AOS_BOT_ALLOWED_CALLERS */
    size_t allowed_caller_count;
    struct router_openid *openid; /* keys from OpenID metadata (openid.h), or NULL */

    aos_bus_t *bus;
    aos_storage_client_t *storage;
    aos_http_client_t *http;
    struct aos_model *model; /* the classifier's calls (aos/model_call.h) */
    aos_http_server_t *api, *admin;
    atomic_bool started, stopping;

    pthread_mutex_t hb_mu;
    router_heartbeat_t hb[ROUTER_MAX_INSTANCES];
    size_t hb_count;
    /* health shared through storage between replicas (svc_health.c) */
    bool health_shared;       /* set before the bus starts */
    atomic_bool health_ready; /* the storage client exists */
    int64_t health_synced_ms; /* monotonic, under hb_mu */

    /* Outbound Bot Framework token (svc_bot_token.c): the identity caches and refreshes it;
     * the rest under bot_mu (the fetch thread itself: callers of bot_post only). */
    pthread_mutex_t bot_mu;
    struct aos_identity *bot_identity; /* NULL without an outbound credential */
    pthread_t bot_fetch_thread;
    bool bot_fetch_started;
    bool bot_token_fetching;
    struct bot_post *bot_waiting;  /* replies waiting for the token, in arrival order */
    struct bot_outbound *outbound; /* bot_outbound.c */

    /* per agent (index in agents->agents): its queue was seen on the broker (svc_queues.c) */
    atomic_bool *queue_seen;
    struct router_sticky *sticky; /* conversation -> agent (turn_accept.c) */

    atomic_int dl_running; /* dead-letter requests still running (svc_deadletters.c) */

    aos_metric_histogram_t *turn_seconds;
    aos_metric_counter_t *turns_ok, *turns_timeout, *turns_failed, *turns_async;
    aos_metric_counter_t *events_in, *heartbeats_in;
};

/* How a turn's result is delivered. */
typedef enum turn_mode {
    TURN_MODE_JSON = 0,   /* POST /v1/messages, sync: answer with the result */
    TURN_MODE_ASYNC,      /* POST /v1/messages with Prefer: respond-async: 202 once queued */
    TURN_MODE_BOT_INLINE, /* /api/messages expectReplies: {"activities":[reply]} */
    TURN_MODE_BOT_POST,   /* /api/messages normal: 202 now, reply POSTed to serviceUrl */
} turn_mode;

/* One user turn on its way through stickiness -> routing -> conversation -> bus -> answer.
 * Owned by whichever callback currently runs it; freed by turn_free at the end. */
typedef struct turn {
    router_t *rt;
    aos_http_request_t *req; /* NULL once answered */
    turn_mode mode;
    char *text, *user, *metadata_json, *explicit_agent;
    char *idempotency_key; /* Idempotency-Key of POST /v1/messages (NULL: none) */
    char *claim;           /* the answer's claim blob while it is fetched (docs/bus.md) */
    char conversation_id[ROUTER_ID_MAX + 1];
    char message_id[64];
    bool conversation_given;
    bool conversation_exists; /* known to exist in storage (no create needed) */
    router_decision_t d;
    router_activity_t *activity; /* bot modes */
    bool caller_verified;        /* bot modes: the activity came with a verified JWT */
    int64_t started_ms;
    char *run_json; /* the accept's lease and context for the runner, or NULL */
} turn_t;

/* ---- router.c ---- */
/* AOS_DEV_MODE=1: development mode (unsigned activities, http serviceUrls). */
bool router_dev_mode(const router_t *rt);
/* Answer req with an error unless the API key is fine; returns true when authorized. */
bool router_authorize(router_t *rt, aos_http_request_t *req);
/* Respond and log in one place. */
void router_respond_error(aos_http_request_t *req, aos_result r, const char *message);
/* The bus profile AOS_BUS_PROFILE names. */
aos_bus_profile router_bus_profile(const router_t *rt);
/* Map a CloudEvent type / agent to the logical queue "aos.agent.<agent>". */
void router_agent_queue(const char *agent, char *out, size_t outlen);

/* ---- svc_turns.c ---- */
turn_t *turn_new(router_t *rt, aos_http_request_t *req, turn_mode mode);
void turn_free(turn_t *t);
/* Take over t: stickiness lookup, routing, conversation creation, dispatch, answer. */
void turn_start(turn_t *t);
/* Called with the classifier's answer (NULL on failure) to continue a pending turn. */
void turn_classified(turn_t *t, const char *answer);

/* Continue a turn after the queue check (svc_turns.c): r AOS_OK sends it, anything else
 * fails it with msg. */
void turn_queue_checked(turn_t *t, aos_result r, const char *msg);

/* ---- turn_accept.c: aos.storage.turn.accept (docs/turn-order.md) ---- */
typedef struct router_accept_in {
    const char *conversation_id, *turn_id, *idempotency_key; /* key may be NULL */
    const aos_agent_def_t *agent;
    const char *kind; /* "query" or "event": the stored message's role is user or event */
    const char *text, *user, *reason, *event_type, *metadata_json; /* NULL: absent */
} router_accept_in_t;
/* The request: the turn's place in its conversation and, with the user message as the runner
 * would store it, the lease and context when the turn is next in line. */
aos_result router_accept_json(router_t *rt, const router_accept_in_t *in, char **out_json);

typedef struct router_accepted {
    char turn_id[64];
    char conversation_id[ROUTER_ID_MAX + 1];
    char agent[AOS_AGENT_NAME_MAX + 1]; /* the conversation's, "" when not said */
    bool existing;                      /* an Idempotency-Key seen before named this turn */
    int64_t seq;
    char *run_json; /* "lease" for the turn message (router_turn_t.run_json), or NULL */
} router_accepted_t;
/* Parse the reply; AOS_ERR_PROTOCOL when it does not read. A "run" larger than run_max
 * bytes keeps its lease but loses its context (the runner claims with the token). */
aos_result router_accepted_parse(const char *data_json, size_t run_max, router_accepted_t *out);
/* How many bytes of lease and context a turn whose other data is other_bytes may carry. */
size_t router_turn_run_budget(router_t *rt, size_t other_bytes);
void router_accepted_clear(router_accepted_t *a);

/* What storage last said a conversation's agent is: the stickiness lookup without a round
 * trip. Thread-safe; a fixed number of slots, a newer conversation replaces an older one. */
typedef struct router_sticky router_sticky_t;
router_sticky_t *router_sticky_new(void);
void router_sticky_free(router_sticky_t *s);
bool router_sticky_get(router_sticky_t *s, const char *conv, char *out_agent, size_t len);
void router_sticky_put(router_sticky_t *s, const char *conv, const char *agent);

/* ---- svc_queues.c ---- */
/* r AOS_OK: go ahead and send; otherwise msg says why not (the queue does not exist). */
typedef void (*router_queue_cb)(void *ctx, aos_result r, const char *msg);
/* Call cb once (at once, or from the bus I/O thread) when aos.agent.<agent> is known to exist
 * or could not be checked (AOS_OK), or with AOS_ERR_UNAVAILABLE when it does not exist. */
void router_queue_ensure(router_t *rt, const char *agent, router_queue_cb cb, void *ctx);
/* Make sure aos.agent.<t's agent> exists before the turn goes there (RabbitMQ drops what is
 * sent to a missing queue): probes the queue until it was once seen, then calls
 * turn_queue_checked(t, …) — at once, or from the bus I/O thread. */
void router_queue_check(turn_t *t);
/* At start-up: probe every agent's queue, log the missing ones (an operator sees them before
 * the first turn) and remember the present ones. */
void router_queues_check_all(router_t *rt);

/* ---- svc_messages.c ---- */
void svc_post_message(aos_http_request_t *req, void *ctx);
void svc_get_conversation(aos_http_request_t *req, void *ctx);

/* ---- svc_agents.c ---- */
aos_result svc_heartbeats_subscribe(router_t *rt, char *errbuf, size_t errlen);
/* svc_ingress.c: consume AOS_ROUTER_INGRESS_QUEUE (CloudEvents from applications). */
aos_result svc_ingress_subscribe(router_t *rt, char *errbuf, size_t errlen);
struct router_event_delivery;
/* svc_events.c: fan a bus delivery's events out into event turns like POST /v1/events; bd is
 * accepted once every turn is queued, released when one is not. in is read during the call. */
void router_events_fan_out_bus(router_t *rt, aos_bus_delivery_t *bd,
                               const struct router_event_delivery *in);
void svc_get_agents(aos_http_request_t *req, void *ctx);
void svc_post_act(aos_http_request_t *req, void *ctx);

/* ---- svc_conversations.c: GET /v1/conversations (the console's list and search) ---- */
void svc_list_conversations(aos_http_request_t *req, void *ctx);

/* ---- svc_deadletters.c: the agents' dead letters (list, replay, delete) ---- */
void svc_list_dead_letter_queues(aos_http_request_t *req, void *ctx);
void svc_list_dead_letters(aos_http_request_t *req, void *ctx);
void svc_replay_dead_letter(aos_http_request_t *req, void *ctx);
void svc_delete_dead_letter(aos_http_request_t *req, void *ctx);
/* Wait up to timeout_ms for the running dead-letter requests (router_stop, before the HTTP
 * server and the bus go). */
void svc_dead_letters_drain(router_t *rt, int timeout_ms);

/* ---- svc_console.c: the operator console's assets under /console and GET /v1/metrics ---- */
aos_result svc_console_routes(aos_http_server_t *s, router_t *rt);

/* ---- svc_ml.c: the ML pipeline routes under /v1/ml (docs/ml.md) ---- */
aos_result svc_ml_routes(aos_http_server_t *s, router_t *rt);

/* ---- svc_events.c ---- */
void svc_post_events(aos_http_request_t *req, void *ctx);
void svc_options_events(aos_http_request_t *req, void *ctx);

/* ---- svc_bot.c ---- */
void svc_post_activity(aos_http_request_t *req, void *ctx);
/* GET /api/skill/manifest.json (skill_manifest.h). */
void svc_get_skill_manifest(aos_http_request_t *req, void *ctx);
/* Deliver a turn's reply in a bot mode (inline answer or POST to serviceUrl). */
void svc_bot_deliver(turn_t *t, const router_turn_result_t *res);

/* ---- svc_bot_token.c ---- */
/* Outcome of one POST: result AOS_OK with the HTTP status, or a transport error (status 0);
 * retry_after_ms >= 0 when the answer carried Retry-After. Runs on the HTTP client thread
 * (or the caller's, on a local failure); must not block. */
typedef void (*bot_posted_fn)(void *ctx, aos_result result, int status, int64_t retry_after_ms);
/* POST activity_json to url; with_token: with the bot's Bot Framework token (fetched by the
 * configured credential and cached until shortly before it expires). POSTs waiting for the
 * token leave in the order they came. done may be NULL. */
void bot_post(router_t *rt, const char *url, const char *activity_json, bool with_token,
              bot_posted_fn done, void *ctx);
/* True when an outbound credential (secret, certificate, federated token, or the managed
 * identity with AOS_BOT_APP_ID) is configured. */
bool bot_credentials_configured(const router_t *rt);

/* The reply activities for a turn result: the message, then (for events, or with
 * AOS_BOT_END_OF_CONVERSATION) an endOfConversation; out[0..*out_count) malloc'd. */
aos_result bot_reply_activities(router_t *rt, const router_activity_t *in, const char *agent,
                                const char *conversation_id, const router_turn_result_t *res,
                                char *out[2], size_t *out_count);

/* ---- bot_outbound.c: durable, ordered delivery of normal-mode replies ---- */
#define BOT_OUTBOUND_QUEUE "aos.bot.outbound"
/* Consume BOT_OUTBOUND_QUEUE and start the delivery thread (before the bus starts). */
aos_result bot_outbound_start(router_t *rt, char *errbuf, size_t errlen);
/* Stop the delivery thread (before the bus stops). */
void bot_outbound_stop(router_t *rt);
/* Release held deliveries and free (after the HTTP client is freed, before the bus). */
void bot_outbound_free(router_t *rt);
/* Take over t (TURN_MODE_BOT_POST) and ev (its aos.agent.turn for queue): send the reply
 * context to BOT_OUTBOUND_QUEUE, then the turn with reply-to BOT_OUTBOUND_QUEUE; answer 202
 * once both are with the broker, 503 otherwise. */
void bot_outbound_dispatch(turn_t *t, const char *queue, aos_event_t *ev);
/* The bot's identity from the configuration (nothing without an outbound credential); after
 * the HTTP client exists. */
aos_result bot_token_start(router_t *rt, char *errbuf, size_t errlen);
/* Wait for a token fetch in progress, cancel the replies waiting for it, free the identity
 * (before the HTTP client is freed). */
void bot_token_free(router_t *rt);

/* ---- classifier.c ---- */
/* Ask the configured classifier which agent fits t->text; calls turn_classified(t, …) once,
 * from the HTTP client thread (or at once on a local failure). */
void classifier_ask(turn_t *t);
/* The same for any text: cb(ctx, the model's answer or NULL on failure) once, from the HTTP
 * client thread (or at once when there is no classifier or on a local failure). model is
 * the router's (rt->model, no executor: steps run on the HTTP client thread). */
typedef void (*router_classified_fn)(void *ctx, const char *answer);
struct aos_model;
void router_classify(struct aos_model *model, const aos_agents_config_t *cfg, const char *text,
                     router_classified_fn cb, void *ctx);

/* svc_health.c: agent health shared between router replicas through storage. */
bool router_health_shared_wanted(const char *setting, bool rabbitmq);
/* After a heartbeat was recorded locally (bus thread): write it for the other replicas. */
void router_health_share(router_t *rt, const router_heartbeat_t *h);
/* Merge what other replicas recorded (HTTP thread; blocks on storage at most every
 * ROUTER_HEALTH_SYNC_MS, one caller at a time). */
void router_health_sync(router_t *rt);

#endif
