/* A turn's place in its conversation (docs/turn-order.md): run with the lease and context the
 * accept gave (run_leased), else claim it (turn.claim: answered already, wait for an earlier
 * turn, or run), wait polling, renew the lease while the model runs. Then turn.c takes over
 * (turn_load_knowledge). Loop thread only; see turn_steps.h. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/storage_wire.h"
#include "aos/trace.h"
#include "turn_steps.h"

static bool run_leased(turn_t *t);

/* The token that came with the turn message belongs to its first delivery only: a
 * redelivered copy may race the delivery that still runs it, so it claims without. */
static bool holds_accept_token(const turn_t *t)
{
    return t->req.lease_token > 0 && t->request->delivery_count == 0;
}

void turn_run(turn_t *t)
{
    aos_trace_set(t->request->traceparent);
    if (runner_reply_id(t->req.message_id, 'r', t->reply_id) != AOS_OK) {
        turn_poison(t, AOS_ERR_INVALID, "message_id cannot name a reply");
        return;
    }
    /* the accept gave this delivery the lease and the context: no claim, the turn's one
     * round trip is its complete (docs/turn-order.md) */
    if (run_leased(t))
        return;
    /* one round trip: answered already? else our place in the conversation's order, the
     * lease, the user message stored and the newest messages (docs/turn-order.md) */
    turn_claim(t);
}

static aos_result claim_json(turn_t *t, char **out)
{
    char *meta = NULL;
    AOS_RETURN_IF_FAILED(runner_user_metadata(&t->req, &meta));
    aos_storage_message_t m = {.conversation_id = t->req.conversation_id,
                               .id = t->req.message_id,
                               .role = t->req.kind == RUNNER_TURN_EVENT ? "event" : "user",
                               .content = t->req.text,
                               .metadata_json = meta};
    json_object *o = json_object_new_object();
    json_object *mj = NULL;
    if (t->req.lease_user) /* stored at acceptance: the same message again */
        mj = json_object_get(t->req.lease_user);
    if (!mj)
        mj = aos_storage_message_to_wire(&m);
    free(meta);
    size_t history = (size_t)t->agent->def->max_history + 8;
    if (history > AOS_STORAGE_PAGE_MAX)
        history = AOS_STORAGE_PAGE_MAX;
    aos_result r = o && mj ? AOS_OK : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add(o, "message", mj);
    else
        json_object_put(mj);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "conversation_id", t->req.conversation_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "turn_id", t->req.message_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "agent", t->req.agent);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "holder", aos_bus_instance_id(t->r->bus));
    if (r == AOS_OK)
        r = aos_json_add_int(o, "lease_ms", t->r->cfg.lease_ms);
    if (r == AOS_OK)
        r = aos_json_add_int(o, "gap_ms", t->r->cfg.busy_stale_ms);
    if (r == AOS_OK)
        r = aos_json_add_int(o, "history", (int64_t)history);
    if (r == AOS_OK && holds_accept_token(t)) /* the accept's lease is ours to take over */
        r = aos_json_add_int(o, "token", t->req.lease_token);
    if (r == AOS_OK)
        r = aos_json_to_string(o, out, NULL);
    json_object_put(o);
    return r;
}

static void after_claim(turn_t *t, hop_t *h);

void turn_claim(turn_t *t)
{
    t->redo = turn_claim;
    char *data = NULL;
    if (claim_json(t, &data) != AOS_OK) {
        turn_release(t, "out of memory");
        return;
    }
    hop_t *h = turn_hop_new(t, after_claim);
    aos_result rc =
        h ? aos_storage_call(t->r->storage, "turn.claim", data, turn_on_raw, h) : AOS_ERR_NOMEM;
    free(data);
    if (rc != AOS_OK) {
        if (h)
            turn_hop_abandon(h);
        turn_release(t, "storage request could not be sent");
    }
}

static void on_busy_timer(void *arg, bool cancelled)
{
    turn_t *t = arg;
    aos_trace_set(t->request->traceparent);
    t->ops_pending--;
    if (t->ended) {
        turn_maybe_free(t);
        return;
    }
    if (cancelled || atomic_load(&t->r->stopping)) {
        turn_release(t, "shutting down while waiting for the conversation");
        return;
    }
    turn_claim(t);
}

/* An earlier turn of the conversation (in acceptance order) has not finished: wait for it,
 * polling, holding the delivery (it costs no thread). */
static void wait_for_conversation(turn_t *t, const char *pending_id)
{
    uint64_t now = runner_now_ms();
    runner_turn_park(t, true); /* holds its delivery, not the runner's capacity */
    if (!t->busy_since_ms) {
        t->busy_since_ms = now;
        aos_log(AOS_LOG_INFO, "an earlier turn of the conversation runs first; waiting",
                "conversation_id", t->req.conversation_id, "message_id", t->req.message_id,
                "pending_message_id", pending_id ? pending_id : "", NULL);
    }
    uint64_t waited = now - t->busy_since_ms;
    uint32_t delay = waited < 1000 ? 50 : waited < 10000 ? 250 : 1000;
    t->ops_pending++;
    if (runner_loop_timer(t->r->loop, delay, on_busy_timer, t) != AOS_OK) {
        t->ops_pending--;
        turn_release(t, "out of memory");
    }
}

/* The turn the conversation waits for may be queued right here, behind t (a redelivery
 * that arrived after a later turn of the same conversation): run it first instead. */
static bool run_pending_first(turn_t *t, const char *pending_id)
{
    conv_t *c = t->conv;
    if (!c || c->head != t || !pending_id)
        return false;
    turn_t *prev = t;
    for (turn_t *p = t->next_in_conv; p; prev = p, p = p->next_in_conv) {
        if (strcmp(p->req.message_id, pending_id) != 0)
            continue;
        prev->next_in_conv = p->next_in_conv;
        if (c->tail == p)
            c->tail = prev;
        p->next_in_conv = t;
        c->head = p;
        aos_log(AOS_LOG_INFO, "running the conversation's pending turn first", "conversation_id",
                t->req.conversation_id, "message_id", p->req.message_id, NULL);
        turn_run(p);
        return true;
    }
    return false;
}

static void answer_from_storage(turn_t *t, const aos_storage_message_t *reply)
{
    t->outcome = (runner_turn_outcome_t){.reply = reply->content, .provider = "stored"};
    runner_assistant_metadata_parse(reply->metadata_json, &t->outcome, &t->outcome_owner);
    aos_log(AOS_LOG_INFO, "turn already answered; replying from storage", "agent", t->req.agent,
            "conversation_id", t->req.conversation_id, "message_id", t->req.message_id, NULL);
    turn_respond(t, true);
}

/* Messages of a JSON array into t->page (newest first, as the claim lists them). */
static aos_result take_page(turn_t *t, json_object *arr)
{
    aos_storage_message_page_clear(&t->page);
    size_t n = arr ? json_object_array_length(arr) : 0;
    if (!n)
        return AOS_OK;
    t->page.items = calloc(n, sizeof *t->page.items);
    if (!t->page.items)
        return AOS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        char err[100];
        if (aos_storage_message_from_json(json_object_array_get_idx(arr, i), &t->page.items[i], err,
                                          sizeof err) != AOS_OK)
            return AOS_ERR_PROTOCOL;
        t->page.count = i + 1;
    }
    return AOS_OK;
}

static void renew_tick(void *arg, bool cancelled);

static void schedule_renew_in(turn_t *t, uint32_t delay_ms)
{
    t->ops_pending++;
    if (runner_loop_timer(t->r->loop, delay_ms, renew_tick, t) != AOS_OK)
        t->ops_pending--;
}

static void schedule_renew(turn_t *t)
{
    schedule_renew_in(t, t->r->cfg.lease_ms / 3);
}

static void after_renew(turn_t *t, hop_t *h)
{
    if (h->rc == AOS_ERR_CONFLICT && t->running) {
        t->lease_lost = true;
        aos_log(AOS_LOG_WARN, "conversation lease lost while the turn runs", "conversation_id",
                t->req.conversation_id, "message_id", t->req.message_id, NULL);
    }
}

static void renew_tick(void *arg, bool cancelled)
{
    turn_t *t = arg;
    t->ops_pending--;
    if (t->ended) {
        turn_maybe_free(t);
        return;
    }
    if (cancelled || !t->running)
        return;
    char data[400];
    snprintf(data, sizeof data, "{\"conversation_id\":\"%s\",\"token\":%lld,\"lease_ms\":%u}",
             t->req.conversation_id, (long long)t->token, t->r->cfg.lease_ms);
    hop_t *h = turn_hop_new(t, after_renew);
    if (h && aos_storage_call(t->r->storage, "turn.renew", data, turn_on_raw, h) != AOS_OK)
        turn_hop_abandon(h);
    schedule_renew(t);
}

/* The lease is ours (t->seq, t->token) for at least lease_left_ms more: the context into
 * t->page, renewals (the first within a third of what is left), then the model. */
static aos_result start_running(turn_t *t, json_object *user, json_object *arr,
                                int64_t lease_left_ms)
{
    AOS_RETURN_IF_FAILED(take_page(t, arr));
    runner_turn_park(t, false);
    json_object *useq = NULL;
    if (json_object_object_get_ex(user, "seq", &useq))
        t->user_seq = json_object_get_int64(useq);
    t->lease_lost = false;
    if (t->completion.text) {
        /* this turn's answer is in hand: its complete lost the lease (to a stale claim of the
         * same turn, e.g. one re-sent after a reconnect); store it under the new lease rather
         * than pay the model again */
        turn_store_answer(t);
        return AOS_OK;
    }
    t->running = true;
    int64_t left = lease_left_ms < (int64_t)t->r->cfg.lease_ms ? lease_left_ms : t->r->cfg.lease_ms;
    schedule_renew_in(t, (uint32_t)(left > 3 ? left / 3 : 1));
    turn_load_knowledge(t);
    return AOS_OK;
}

static void after_claim(turn_t *t, hop_t *h)
{
    if (h->rc != AOS_OK) {
        turn_storage_failed(t, "turn.claim", h);
        return;
    }
    json_object *o = NULL, *v = NULL;
    const char *status = NULL;
    if (aos_json_parse_object(h->data ? h->data : "", h->data ? strlen(h->data) : 0, 0, 0, &o, NULL,
                              0) != AOS_OK ||
        aos_json_get_string(o, "status", AOS_JSON_REQUIRED, &status, NULL, 0) != AOS_OK) {
        json_object_put(o);
        turn_release(t, "storage turn.claim: unreadable reply");
        return;
    }
    aos_result r = AOS_OK;
    if (strcmp(status, "answered") == 0) {
        /* the reply of an earlier delivery, at any age (the ledger) */
        r = aos_json_get_object(o, "reply", AOS_JSON_REQUIRED, &v, NULL, 0);
        json_object *arr = json_object_new_array();
        if (r == AOS_OK && arr && json_object_array_add(arr, json_object_get(v)) == 0)
            r = take_page(t, arr);
        json_object_put(arr);
        json_object_put(o);
        if (r != AOS_OK || t->page.count != 1) {
            turn_release(t, "storage turn.claim: unreadable reply");
            return;
        }
        answer_from_storage(t, &t->page.items[0]);
        return;
    }
    if (strcmp(status, "wait") == 0) {
        const char *pending = NULL;
        if (aos_json_get_object(o, "waiting_for", AOS_JSON_OPTIONAL, &v, NULL, 0) == AOS_OK && v)
            aos_json_get_string(v, "turn_id", AOS_JSON_OPTIONAL, &pending, NULL, 0);
        if (!run_pending_first(t, pending))
            wait_for_conversation(t, pending);
        json_object_put(o);
        return;
    }
    json_object *arr = NULL, *user = NULL;
    aos_json_get_int(o, "seq", AOS_JSON_REQUIRED, &t->seq, NULL, NULL, 0);
    r = aos_json_get_int(o, "token", AOS_JSON_REQUIRED, &t->token, NULL, NULL, 0);
    if (r == AOS_OK)
        r = aos_json_get_object(o, "user", AOS_JSON_REQUIRED, &user, NULL, 0);
    if (r == AOS_OK)
        r = aos_json_get_array(o, "messages", AOS_JSON_OPTIONAL, &arr, NULL, 0);
    if (r == AOS_OK)
        r = start_running(t, user, arr, t->r->cfg.lease_ms);
    json_object_put(o);
    if (r != AOS_OK)
        turn_release(t, "storage turn.claim: unreadable reply");
}

/* The lease and context of the turn message, when this delivery may use them: its first
 * delivery, with more than half of the lease left (clocks of storage and runner agree to
 * well under that). Otherwise the claim decides (and takes the lease over by its token). */
static bool run_leased(turn_t *t)
{
    const runner_turn_req_t *q = &t->req;
    int64_t left = q->lease_granted_ms + q->lease_ms - aos_clock_realtime_ms();
    if (!holds_accept_token(t) || !q->lease_user || !q->lease_messages || left < q->lease_ms / 2)
        return false;
    t->redo = turn_claim;
    t->seq = q->lease_seq;
    t->token = q->lease_token;
    /* the parsed context goes once t->page holds it: a thousand turns in flight would
     * otherwise hold a thousand parsed contexts. A later claim (after a refused complete)
     * sends the user message as the turn has it; storage takes it as the copy stored at
     * acceptance (same role and text). */
    json_object *user = t->req.lease_user, *msgs = t->req.lease_messages;
    t->req.lease_user = t->req.lease_messages = NULL;
    bool ok = start_running(t, user, msgs, left) == AOS_OK;
    json_object_put(msgs);
    if (ok) {
        json_object_put(user);
    } else {
        t->req.lease_user = user;
        t->seq = t->token = 0;
        aos_storage_message_page_clear(&t->page);
    }
    return ok;
}
