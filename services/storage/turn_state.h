/* services/storage/turn_state.h: the state behind the turn operations (dispatch_turns.c):
 * the request as parsed, the records as JSON, the conversation's order ("turnconv": pending
 * turns, done, the lease) and the turn ledger keys. Record layouts: dispatch_turns.c.
 * Thread-safety: as storage_dispatch (the backend instance must be this thread's). */
#ifndef AOS_STORAGE_TURN_STATE_H
#define AOS_STORAGE_TURN_STATE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "aos/storage_types.h"
#include "backend.h"

#define TURN_CAS_TRIES 16 /* compare-and-swap attempts on a changing record */

/* One turn operation's request (turn_request_parse); strings point into root. */
typedef struct turn_rq {
    json_object *root;
    const char *conversation_id, *turn_id, *agent, *holder, *idempotency_key, *outcome;
    int64_t lease_ms, gap_ms, history, token, seq;
    aos_storage_message_t msg; /* claim: the user message; complete: the answer */
    bool has_msg;
} turn_rq_t;

/* Parse and check the request of operation op ("accept", "claim", ...): AOS_ERR_INVALID with
 * the reason in errbuf for bad input. The caller puts rq->root and clears rq->msg. */
aos_result turn_request_parse(const char *op, const char *data, size_t len, turn_rq_t *rq,
                              char *errbuf, size_t errlen);

/* A member of a JSON object: 0 / NULL when absent. */
static inline int64_t jint(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static inline const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static inline void jset_int(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

/* A record of kind/key as a JSON object (its version too when out_version is not NULL). */
aos_result turn_rec_load(storage_backend_t *be, const char *kind, const char *key,
                         json_object **out, char **out_version, char *errbuf, size_t errlen);
/* Write o as the record; if_match NULL: create only. */
aos_result turn_rec_store(storage_backend_t *be, const char *kind, const char *key, json_object *o,
                          const char *if_match, char *errbuf, size_t errlen);
/* "<conversation>|<turn>": the turn's ledger record key. */
void turn_ledger_key(const turn_rq_t *rq, char *out, size_t len);

/* The conversation's pending turns (order -> {turn, last activity}). */
int64_t turn_pend_find(json_object *st, const char *turn); /* its order, or 0 */
json_object *turn_pend_get(json_object *st, int64_t seq);
void turn_pend_set(json_object *st, int64_t seq, const char *turn, int64_t at);
void turn_pend_del(json_object *st, int64_t seq);
/* The order has finished seq: the turn next in line starts its gap time at now. */
void turn_order_done(json_object *st, int64_t seq, int64_t now);

/* The conversation state ("turnconv"), created (with the conversation) when absent. */
aos_result turn_state_load(storage_backend_t *be, const turn_rq_t *rq, json_object **st,
                           char **version, char *errbuf, size_t errlen);
aos_result turn_state_store(storage_backend_t *be, const turn_rq_t *rq, json_object *st,
                            const char *version, char *errbuf, size_t errlen);
/* The stored message with this seq, which must be want_id (a reply read back at any age). */
aos_result turn_message_at(storage_backend_t *be, const char *conv, int64_t seq,
                           const char *want_id, json_object **out, char *errbuf, size_t errlen);

#endif
