/* The state behind the turn operations: see turn_state.h; the record layouts are in
 * dispatch_turns.c. */
#include "turn_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/storage_wire.h"

#define E errbuf, errlen

/* ---- parsing ---- */

static aos_result bad(char *errbuf, size_t errlen, const char *what)
{
    return aos_fail(AOS_ERR_INVALID, E, "%s", what);
}

aos_result turn_request_parse(const char *op, const char *data, size_t len, turn_rq_t *rq,
                              char *errbuf, size_t errlen)
{
    aos_result r = aos_json_parse_object(data ? data : "{}", data ? len : 2,
                                         AOS_STORAGE_CONTENT_MAX * 2 + 65536, 0, &rq->root, E);
    if (r != AOS_OK)
        return r;
    json_object *o = rq->root, *m = NULL;
    bool claim = strcmp(op, "claim") == 0,
         complete = strcmp(op, "complete") == 0 || strcmp(op, "fail") == 0;
    const aos_json_need REQ = AOS_JSON_REQUIRED, OPT = AOS_JSON_OPTIONAL;
    if ((r = aos_json_get_string(o, "conversation_id", REQ, &rq->conversation_id, E)) ||
        (r = aos_json_get_string(o, "turn_id", strcmp(op, "renew") ? REQ : OPT, &rq->turn_id, E)) ||
        (r = aos_json_get_string(o, "agent", OPT, &rq->agent, E)) ||
        (r = aos_json_get_string(o, "holder", claim ? REQ : OPT, &rq->holder, E)) ||
        (r = aos_json_get_string(o, "idempotency_key", OPT, &rq->idempotency_key, E)) ||
        (r = aos_json_get_string(o, "outcome", strcmp(op, "complete") ? OPT : REQ, &rq->outcome,
                                 E)) ||
        (r = aos_json_get_int(o, "lease_ms", OPT, &rq->lease_ms, NULL, E)) ||
        (r = aos_json_get_int(o, "gap_ms", OPT, &rq->gap_ms, NULL, E)) ||
        (r = aos_json_get_int(o, "history", OPT, &rq->history, NULL, E)) ||
        (r = aos_json_get_int(o, "token",
                              !strcmp(op, "complete") || !strcmp(op, "renew") ? REQ : OPT,
                              &rq->token, NULL, E)) ||
        (r = aos_json_get_int(o, "seq", !strcmp(op, "complete") ? REQ : OPT, &rq->seq, NULL, E)) ||
        (r = aos_json_get_object(o, "message", claim || complete ? REQ : OPT, &m, E)))
        return r;
    if (!aos_storage_valid_id(rq->conversation_id) ||
        (rq->turn_id && !aos_storage_valid_id(rq->turn_id)))
        return bad(E, "conversation_id and turn_id must be storage ids");
    if (rq->agent && !aos_storage_valid_agent(rq->agent))
        return bad(E, "agent is not a valid agent name");
    if ((rq->holder && strlen(rq->holder) > 200) ||
        (rq->idempotency_key && (!*rq->idempotency_key || strlen(rq->idempotency_key) > 255)))
        return bad(E, "holder or idempotency_key too long or empty");
    if (rq->outcome && strcmp(rq->outcome, "answered") != 0 && strcmp(rq->outcome, "failed") != 0)
        return bad(E, "outcome must be answered or failed");
    if (rq->lease_ms <= 0)
        rq->lease_ms = 15000;
    if (rq->gap_ms <= 0)
        rq->gap_ms = 120000;
    if (rq->lease_ms > 3600000 || rq->gap_ms > 7 * 86400000LL)
        return bad(E, "lease_ms or gap_ms out of range");
    if (rq->history <= 0 || rq->history > AOS_STORAGE_PAGE_MAX)
        rq->history = AOS_STORAGE_PAGE_MAX;
    if (m) {
        json_object_object_add(m, "conversation_id", json_object_new_string(rq->conversation_id));
        r = aos_storage_message_from_json(m, &rq->msg, E);
        if (r != AOS_OK)
            return r == AOS_ERR_NOMEM ? r : AOS_ERR_INVALID;
        rq->has_msg = true;
        if (!aos_storage_valid_id(rq->msg.id) || !aos_storage_valid_role(rq->msg.role) ||
            strlen(rq->msg.content) > AOS_STORAGE_CONTENT_MAX ||
            (rq->msg.metadata_json && strlen(rq->msg.metadata_json) > AOS_STORAGE_METADATA_MAX))
            return bad(E, "message: bad id or role, or content / metadata too large");
        if ((claim || !strcmp(op, "accept")) && strcmp(rq->msg.id, rq->turn_id) != 0)
            return bad(E, "claim, accept: message.message_id must be the turn_id");
    }
    if ((claim || complete) && !aos_storage_valid_id(rq->turn_id ? rq->turn_id : ""))
        return bad(E, "turn_id required");
    return AOS_OK;
}

/* ---- records as JSON ---- */

aos_result turn_rec_load(storage_backend_t *be, const char *kind, const char *key,
                         json_object **out, char **out_version, char *errbuf, size_t errlen)
{
    aos_storage_record_t rec = {0};
    *out = NULL;
    aos_result r = be->ops->record_get(be, kind, key, &rec, E);
    if (r == AOS_OK) {
        r = aos_json_parse_object(rec.data_json, strlen(rec.data_json), 0, 0, out, E);
        if (r == AOS_OK && out_version) {
            *out_version = rec.version;
            rec.version = NULL;
        }
    }
    aos_storage_record_clear(&rec);
    return r;
}

/* if_match NULL: create only. */
aos_result turn_rec_store(storage_backend_t *be, const char *kind, const char *key, json_object *o,
                          const char *if_match, char *errbuf, size_t errlen)
{
    char *text = NULL;
    aos_result r = aos_json_to_string(o, &text, NULL);
    aos_storage_record_t rec = {0};
    if (r == AOS_OK)
        r = be->ops->record_put(be, kind, key, text, if_match, NULL, &rec, E);
    aos_storage_record_clear(&rec);
    free(text);
    return r;
}

void turn_ledger_key(const turn_rq_t *rq, char *out, size_t len)
{
    snprintf(out, len, "%s|%s", rq->conversation_id, rq->turn_id);
}

/* The pending entry of a turn in the conversation state, by turn id; its order or 0. */
int64_t turn_pend_find(json_object *st, const char *turn)
{
    json_object *pend;
    if (!json_object_object_get_ex(st, "pend", &pend))
        return 0;
    json_object_object_foreach(pend, k, v)
    {
        const char *t = jstr(v, "t");
        if (t && strcmp(t, turn) == 0)
            return strtoll(k, NULL, 10);
    }
    return 0;
}

json_object *turn_pend_get(json_object *st, int64_t seq)
{
    json_object *pend, *v;
    char k[24];
    snprintf(k, sizeof k, "%lld", (long long)seq);
    return json_object_object_get_ex(st, "pend", &pend) && json_object_object_get_ex(pend, k, &v)
               ? v
               : NULL;
}

void turn_pend_set(json_object *st, int64_t seq, const char *turn, int64_t at)
{
    json_object *pend;
    if (!json_object_object_get_ex(st, "pend", &pend)) {
        pend = json_object_new_object();
        json_object_object_add(st, "pend", pend);
    }
    char k[24];
    snprintf(k, sizeof k, "%lld", (long long)seq);
    json_object *e = json_object_new_object();
    json_object_object_add(e, "t", json_object_new_string(turn));
    jset_int(e, "at", at);
    json_object_object_add(pend, k, e);
}

void turn_pend_del(json_object *st, int64_t seq)
{
    json_object *pend;
    char k[24];
    snprintf(k, sizeof k, "%lld", (long long)seq);
    if (json_object_object_get_ex(st, "pend", &pend))
        json_object_object_del(pend, k);
}

/* The conversation's order has finished seq: the turn now next in line gets its gap time
 * from here, not from its acceptance (turns that waited behind a lost one are not skipped
 * with it; docs/turn-order.md "Gaps"). */
void turn_order_done(json_object *st, int64_t seq, int64_t now)
{
    if (jint(st, "done") < seq)
        jset_int(st, "done", seq);
    json_object *next = turn_pend_get(st, jint(st, "done") + 1);
    if (next)
        jset_int(next, "at", now);
}

/* The conversation state, created (with the conversation) when absent. */
aos_result turn_state_load(storage_backend_t *be, const turn_rq_t *rq, json_object **st,
                           char **version, char *errbuf, size_t errlen)
{
    for (int i = 0; i < TURN_CAS_TRIES; i++) {
        aos_result r = turn_rec_load(be, "turnconv", rq->conversation_id, st, version, E);
        if (r != AOS_ERR_NOT_FOUND)
            return r;
        if (rq->agent) {
            aos_storage_conversation_t in = {.id = (char *)rq->conversation_id,
                                             .agent = (char *)rq->agent};
            aos_storage_conversation_t out = {0};
            bool created = false;
            r = be->ops->conversation_create(be, &in, &out, &created, E);
            aos_storage_conversation_clear(&out);
            if (r != AOS_OK && r != AOS_ERR_CONFLICT) /* CONFLICT: exists, other agent */
                return r;
        }
        json_object *fresh = json_object_new_object();
        if (!fresh)
            return AOS_ERR_NOMEM;
        jset_int(fresh, "next", 0);
        jset_int(fresh, "done", 0);
        jset_int(fresh, "tok", 0);
        json_object_object_add(fresh, "pend", json_object_new_object());
        r = turn_rec_store(be, "turnconv", rq->conversation_id, fresh, NULL, E);
        json_object_put(fresh);
        if (r != AOS_OK && r != AOS_ERR_CONFLICT)
            return r;
    }
    return aos_fail(AOS_ERR_UNAVAILABLE, E, "conversation state keeps changing");
}

aos_result turn_state_store(storage_backend_t *be, const turn_rq_t *rq, json_object *st,
                            const char *version, char *errbuf, size_t errlen)
{
    return turn_rec_store(be, "turnconv", rq->conversation_id, st, version, E);
}

/* The stored message with this seq (reply read back at any age). */
aos_result turn_message_at(storage_backend_t *be, const char *conv, int64_t seq,
                           const char *want_id, json_object **out, char *errbuf, size_t errlen)
{
    char cursor[24];
    snprintf(cursor, sizeof cursor, "%lld", (long long)(seq > 0 ? seq - 1 : 0));
    aos_storage_message_page_t page = {0};
    aos_result r = be->ops->message_list(be, conv, seq > 1 ? cursor : NULL, 1, false, &page, E);
    if (r == AOS_OK && (page.count != 1 || strcmp(page.items[0].id, want_id) != 0))
        r = aos_fail(AOS_ERR_INTERNAL, E, "ledger names reply %s at #%lld, which is not there",
                     want_id, (long long)seq);
    if (r == AOS_OK && !(*out = aos_storage_message_to_wire(&page.items[0])))
        r = AOS_ERR_NOMEM;
    aos_storage_message_page_clear(&page);
    return r;
}
