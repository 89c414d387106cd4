/* services/agent-runner/turn_msg.h: the aos.agent.turn contract as pure functions
 * (docs/bus-messages.md): parse a turn request, derive the reply message id, and build the
 * turn result, the events and the stored messages' metadata.
 *
 * Everything here is pure (no I/O, no globals) and thread-safe; the request parser takes
 * outside bytes and is fuzzed. Out structs own their strings (runner_turn_req_clear).
 */
#ifndef RUNNER_TURN_MSG_H
#define RUNNER_TURN_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/model.h"
#include "aos/result.h"

typedef enum runner_turn_kind {
    RUNNER_TURN_QUERY = 0,
    RUNNER_TURN_EVENT,
    RUNNER_TURN_ACT,
} runner_turn_kind;

/* "query", "event", "act". */
const char *runner_turn_kind_name(runner_turn_kind k);

typedef struct runner_turn_req {
    char *conversation_id;
    char *message_id;
    char *agent;
    char *text; /* the user text; for kind=event rendered from the event when absent */
    char *user; /* may be NULL */
    runner_turn_kind kind;
    char *metadata_json;  /* the request's "metadata" object, "{}" when none */
    char *event_json;     /* the CloudEvent (kind=event), NULL otherwise */
    char *event_type;     /* its "type" (kind=event) */
    char *routing_reason; /* may be NULL */
    /* "lease": what turn.accept gave the turn when it was next in line (docs/turn-order.md).
     * lease_token 0: none (or one that does not read: the runner claims as usual). */
    int64_t lease_seq, lease_token, lease_ms, lease_granted_ms;
    /* the stored user message (a JSON object) and the newest messages, newest first (a JSON
     * array), as parsed from the turn (one reference each, kept without a copy), or NULL */
    struct json_object *lease_user, *lease_messages;
} runner_turn_req_t;

#define RUNNER_TURN_MAX_BYTES (512u * 1024u)  /* largest turn request accepted */
#define RUNNER_TURN_MAX_METADATA (8u * 1024u) /* request metadata kept with the message */

/* Parse and validate a turn request's JSON data. AOS_ERR_INVALID (or TOO_LARGE) with a
 * message naming the field for anything a redelivery cannot fix: the caller dead-letters it.
 * Checks: ids are storage ids, agent a valid agent name, text valid UTF-8 and at most
 * AOS_STORAGE_CONTENT_MAX bytes, kind known, an event turn carries an event object. */
aos_result runner_turn_parse(const char *data, size_t len, runner_turn_req_t *out, char *errbuf,
                             size_t errlen);
void runner_turn_req_clear(runner_turn_req_t *req);

/* The id of the assistant message answering user message id (deterministic, so a
 * redelivered turn cannot store a second reply): "<id>:r", or "r:<sha256(id) prefix>" when
 * that would exceed AOS_STORAGE_ID_MAX. suffix 'r' = reply, 'e' = model-failure marker. */
aos_result runner_reply_id(const char *message_id, char suffix, char out[129]);

/* Metadata stored with the user message: {"kind","user","routing_reason","event_type",
 * "metadata"}. Deterministic for the same request, so the append is idempotent. */
aos_result runner_user_metadata(const runner_turn_req_t *req, char **out_json);

/* What the turn produced, as stored with the assistant message and sent in the result. */
typedef struct runner_turn_outcome {
    const char *reply;    /* assistant text */
    const char *provider; /* "offline", "openai", … */
    const char *model;    /* may be NULL */
    const char *endpoint; /* may be NULL */
    aos_model_usage_t usage;
    uint32_t attempts;
    uint64_t latency_ms;     /* from the turn's arrival to its outcome; 0: not measured */
    const char *trace_id;    /* the turn's trace id (32 hex), may be NULL */
    const char *adapter;     /* the LoRA adapter that answered; may be NULL */
    int64_t adapter_version; /* its registry version (0: not a registry version) */
} runner_turn_outcome_t;

/* {"in_reply_to","provider","model","endpoint","usage":{…},"attempts","latency_ms"?,
 * "trace_id"?} (what the console's transcript shows per turn), plus "adapter" and
 * "adapter_version" when set */
aos_result runner_assistant_metadata(const runner_turn_req_t *req, const runner_turn_outcome_t *o,
                                     char **out_json);

/* Read provider/model/usage back from a stored assistant message's metadata (for replies
 * answered from storage). Missing fields leave *o's defaults; strings point into *out_owner,
 * a json_object the caller releases with json_object_put (passed as void ** to keep json-c
 * out of this header). */
aos_result runner_assistant_metadata_parse(const char *json, runner_turn_outcome_t *o,
                                           void **out_owner);

/* The aos.agent.turn.result data (and aos.agent.reply event data), with "adapter" and
 * "adapter_version" when set. For kind=event it
 * includes "action": {"text","intent"} where intent is the reply's JSON object when the
 * reply is one ({"intent":…} or any object), else null. */
aos_result runner_turn_result_json(const runner_turn_req_t *req, const char *reply_message_id,
                                   const runner_turn_outcome_t *o, char **out_json);

/* aos.agent.action data: {"agent","conversation_id","text","intent","source_event"}. */
aos_result runner_action_json(const runner_turn_req_t *req, const runner_turn_outcome_t *o,
                              char **out_json);

/* aos.agent.heartbeat data ("ts": Unix epoch milliseconds). A scheduled agent's last and
 * next run ("schedule_last_ms", "schedule_next_ms", Unix ms) are added when > 0; "breaker"
 * (the worst circuit state of the agent's model endpoints: closed, half_open, open) when
 * breaker is not NULL. */
aos_result runner_heartbeat_json(const char *agent, const char *instance, uint32_t inflight,
                                 uint32_t capacity, const char *provider, const char *breaker,
                                 int64_t ts_ms, int64_t last_run_ms, int64_t next_run_ms,
                                 char **out_json);

#endif
