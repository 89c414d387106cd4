/* services/router/botframework.h: Bot Framework activities as Copilot Studio (or any Bot
 * Framework channel / skill host) posts them to POST /api/messages. Pure; thread-safe.
 *
 * Ownership: router_activity_parse returns a malloc'd activity owning its strings and the
 * JSON text of its conversation/from/recipient objects; free with router_activity_free.
 */
#ifndef ROUTER_BOTFRAMEWORK_H
#define ROUTER_BOTFRAMEWORK_H

#include <stdbool.h>
#include <stddef.h>

#include "aos/result.h"

typedef struct router_activity {
    char *type;             /* "message", "conversationUpdate", "endOfConversation", … */
    char *id;               /* may be NULL */
    char *channel_id;       /* may be NULL */
    char *service_url;      /* may be NULL (then only expectReplies can be answered) */
    char *conversation_id;  /* required */
    char *from_id;          /* may be NULL */
    char *text;             /* message text (may be NULL for a card submit); NULL for others */
    char *name;             /* event / invoke name; NULL otherwise */
    char *value_json;       /* JSON text of "value" (card submit data, event/invoke input) */
    char *attachments_json; /* JSON text of the "attachments" array; NULL when absent */
    char *locale;           /* may be NULL */
    char *delivery_mode;    /* "normal", "expectReplies", …; NULL = normal */
    char *conversation_json, *from_json, *recipient_json; /* echoed in the reply */
} router_activity_t;

/* Parse an activity. Requires "type" and "conversation.id"; a "message" activity requires a
 * non-empty "text" (≤ max_text bytes), a "value" (an Adaptive Card submit) or attachments;
 * "event" and "invoke" activities require a "name". "serviceUrl", when present, must be an
 * http(s) URL with no query or fragment. Errors name the field. */
aos_result router_activity_parse(const char *body, size_t len, size_t max_text,
                                 router_activity_t **out, char *errbuf, size_t errlen);
void router_activity_free(router_activity_t *a);

/* What a reply needs of an activity (type, id, channelId, serviceUrl, conversation, from,
 * recipient, locale, deliveryMode, name) as JSON, to carry it over the bus to whichever
 * router delivers the reply; and back (no text/value checks). */
aos_result router_activity_context_json(const router_activity_t *a, char **out_json);
aos_result router_activity_context_parse(const char *json, size_t len, router_activity_t **out,
                                         char *errbuf, size_t errlen);

bool router_activity_is_message(const router_activity_t *a);
bool router_activity_is_type(const router_activity_t *a, const char *type);

/* What a turn gets from an activity: the text the agent reads (the message text; for a card
 * submit or event without text, "value.text" when it is a string, else the value's JSON) and
 * metadata {"bot":{"type","name"?,"value"?,"attachments"?,"channel_id"?,"locale"?}} (JSON
 * object text). Both malloc'd. AOS_ERR_INVALID when there is nothing to say;
 * AOS_ERR_TOO_LARGE over max_text bytes. */
aos_result router_activity_turn_input(const router_activity_t *a, size_t max_text, char **out_text,
                                      char **out_metadata_json, char *errbuf, size_t errlen);
bool router_activity_expect_replies(const router_activity_t *a);

/* The AOS conversation id for a Bot Framework conversation: "bf-" + 32 hex digits of
 * SHA-256(channelId "/" conversation.id), deterministic so the conversation keeps its history
 * and its agent. The message id likewise from the activity id ("bf-m-…"), so a redelivered
 * activity is the same turn; a fresh UUID when the activity has no id. */
aos_result router_activity_conversation_id(const router_activity_t *a, char out[40]);
aos_result router_activity_message_id(const router_activity_t *a, char out[48]);

/* The reply activity: type message, from = the request's recipient, recipient = its from,
 * the same conversation, replyToId = its id, the text, locale, inputHint acceptingInput.
 * agent (may be NULL) is recorded in the reply's channelData.aos.agent. */
aos_result router_activity_reply_build(const router_activity_t *in, const char *reply_id,
                                       const char *text, const char *agent, char **out_json);

/* An endOfConversation activity answering `in` (skills hand control back with it). */
aos_result router_activity_eoc_build(const router_activity_t *in, const char *id, char **out_json);
/* The same with a "value" (JSON text, may be NULL): a SkillDialog's result. */
aos_result router_activity_eoc_build_value(const router_activity_t *in, const char *id,
                                           const char *value_json, char **out_json);

/* {"type":"invokeResponse","value":{"status":status,"body":body}} (body JSON text or NULL),
 * what an SDK skill answers an invoke with under expectReplies. */
aos_result router_activity_invoke_response_build(int status, const char *body_json,
                                                 char **out_json);

/* The expectReplies answer: {"activities":[a0, a1, …]} from activity JSON texts. */
aos_result router_activity_replies_body(const char *const *activities, size_t count,
                                        char **out_json);

/* serviceUrl + "/v3/conversations/{conversation.id}/activities/{activity id}" with the ids
 * percent-encoded (no double slash when serviceUrl ends with '/'). AOS_ERR_INVALID without
 * a serviceUrl; AOS_ERR_TOO_LARGE if it does not fit outlen. */
aos_result router_activity_reply_url(const router_activity_t *in, char *out, size_t outlen);

#endif
