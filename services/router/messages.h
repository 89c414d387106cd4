/* services/router/messages.h: the JSON of POST /v1/messages, the turn sent to an agent
 * (docs/bus-messages.md "Turns") and the turn result coming back. Pure; thread-safe.
 *
 * Ownership: parse functions return malloc'd structs owning their strings; free with the
 * matching _free (NULL is a no-op). Builders return malloc'd JSON text.
 */
#ifndef ROUTER_MESSAGES_H
#define ROUTER_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"

#define ROUTER_ID_MAX 128

/* Conversation and message ids from outside: 1..128 of [A-Za-z0-9._:@-]. */
bool router_id_valid(const char *id);

typedef struct router_message_req {
    char *conversation_id; /* NULL: a new conversation */
    char *text;
    char *agent;         /* NULL: route */
    char *user;          /* NULL: anonymous */
    char *metadata_json; /* NULL or a JSON object's text */
} router_message_req_t;

/* Parse and validate the body of POST /v1/messages: a JSON object with "text" (required,
 * non-empty, at most max_text bytes of UTF-8) and optional "conversation_id", "agent",
 * "user" (≤ 256 bytes), "metadata" (object). Unknown fields are rejected (a typo must not be
 * silently ignored). Every error is AOS_ERR_INVALID / AOS_ERR_TOO_LARGE with a message
 * naming the field. */
aos_result router_message_req_parse(const char *body, size_t len, size_t max_text,
                                    router_message_req_t **out, char *errbuf, size_t errlen);
void router_message_req_free(router_message_req_t *req);

typedef enum router_turn_kind {
    ROUTER_TURN_QUERY = 0,
    ROUTER_TURN_EVENT,
    ROUTER_TURN_ACT,
} router_turn_kind;

const char *router_turn_kind_name(router_turn_kind k);

typedef struct router_turn {
    const char *conversation_id;
    const char *message_id;
    const char *agent;
    const char *text;
    const char *user; /* may be NULL */
    /* metadata_json, event_json, run_json: JSON text the router wrote (aos_json_to_string,
     * aos_event_to_json), embedded as it is */
    const char *metadata_json; /* may be NULL */
    router_turn_kind kind;
    const char *event_json; /* CloudEvent JSON for kind=event; may be NULL */
    const char *reason;     /* routing reason */
    /* "lease": the lease and context turn.accept gave the turn, so the runner skips its claim
     * (docs/turn-order.md); NULL: none, the runner claims */
    const char *run_json;
} router_turn_t;

/* The data of an aos.agent.turn event. */
aos_result router_turn_build(const router_turn_t *turn, char **out_json);

typedef struct router_turn_result {
    char *conversation_id;
    char *message_id;
    char *reply_message_id;
    char *agent;
    char *reply;
    char *provider;
    char *model;
    char *usage_json;        /* {"prompt_tokens":..,...}; "{}" when absent */
    char *action_json;       /* NULL when absent */
    char *adapter;           /* the LoRA adapter that answered; NULL when absent */
    int64_t adapter_version; /* its registry version; 0 when absent */
} router_turn_result_t;

/* Parse the data of an aos.agent.turn.result event. "reply" is required. */
aos_result router_turn_result_parse(const char *json, size_t len, router_turn_result_t **out,
                                    char *errbuf, size_t errlen);
void router_turn_result_free(router_turn_result_t *r);

/* The HTTP answer of POST /v1/messages:
 * {"conversation_id","message_id","agent","reply","usage","provider","model",
 *  "routing":{"reason"}}. */
aos_result router_message_response_build(const router_turn_result_t *r, const char *agent,
                                         const char *reason, char **out_json);

#endif
