/* The turn state machine (see runner.h for the steps and docs/agent-runner.md for why): hops,
 * endings, the model call, completing and replying; the turn's place in its conversation (the
 * accept's lease, claims, waiting, renewals) is turn_lease.c. Every function here runs on the
 * loop thread; storage and bus callbacks arrive on the bus thread, copy what they got into a
 * hop and post it to the loop. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/trace.h"
#include "aos/storage_wire.h"
#include "aos/resilience.h"
#include "aos/event_publisher.h"
#include "runner_internal.h"
#include "turn_steps.h"

hop_t *turn_hop_new(turn_t *t, hop_fn next)
{
    hop_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->t = t;
    h->next = next;
    t->ops_pending++;
    return h;
}

static void hop_free(hop_t *h)
{
    free(h->data);
    free(h);
}

static void hop_arrive(void *arg, bool cancelled)
{
    hop_t *h = arg;
    turn_t *t = h->t;
    aos_trace_set(t->request->traceparent); /* what this step logs and sends is the turn's */
    t->ops_pending--;
    if (cancelled && h->rc == AOS_OK)
        h->rc = AOS_ERR_CANCELLED;
    if (t->ended)
        turn_maybe_free(t);
    else
        h->next(t, h);
    hop_free(h);
}

static void hop_post(hop_t *h, aos_result rc, const char *errmsg)
{
    h->rc = rc;
    if (errmsg)
        snprintf(h->err, sizeof h->err, "%s", errmsg);
    if (runner_loop_post(h->t->r->loop, hop_arrive, h) != AOS_OK)
        hop_arrive(h, true); /* the loop is gone: only during a forced shutdown */
}

/* A hop whose submit failed: it will never arrive. */
void turn_hop_abandon(hop_t *h)
{
    h->t->ops_pending--;
    hop_free(h);
}

/* ---- storage callbacks (bus thread) ---- */

void turn_on_raw(void *ctx, aos_result r, const char *data_json, const char *errmsg)
{
    hop_t *h = ctx;
    if (r == AOS_OK && data_json && !(h->data = strdup(data_json)))
        r = AOS_ERR_NOMEM;
    hop_post(h, r, errmsg);
}

/* ---- endings ---- */

void turn_release(turn_t *t, const char *why)
{
    aos_log(AOS_LOG_WARN, "turn released for redelivery", "agent", t->req.agent, "conversation_id",
            t->req.conversation_id, "message_id", t->req.message_id, "reason", why, NULL);
    runner_turn_end(t, TURN_END_RELEASED, NULL, NULL);
}

static void on_failed_recorded(void *ctx, aos_result r, const char *data_json, const char *errmsg)
{
    (void)data_json;
    char *id = ctx;
    if (r != AOS_OK)
        aos_log(AOS_LOG_WARN,
                "could not mark a poison turn failed; its conversation waits the gap "
                "time",
                "message_id", id, "error", errmsg ? errmsg : aos_result_str(r), NULL);
    free(id);
}

/* Quarantine: mark the turn failed in its conversation (a marker message, the ledger), so
 * the conversation's next turn proceeds at once and in order. Best effort, fire and forget:
 * if it is lost, the gap time lets the conversation move on. */
static void record_poison(turn_t *t, const char *why)
{
    const aos_event_t *ev = t->request;
    const char *conv = t->req.conversation_id ? t->req.conversation_id : ev ? ev->group_id : NULL;
    const char *turn = t->req.message_id ? t->req.message_id : ev ? ev->id : NULL;
    char marker[129];
    if (t->failure_recorded || !conv || !turn || !aos_storage_valid_id(conv) ||
        !aos_storage_valid_id(turn) || runner_reply_id(turn, 'e', marker) != AOS_OK)
        return;
    char content[400];
    snprintf(content, sizeof content, "turn quarantined (dead-lettered as poison): %s", why);
    aos_storage_message_t m = {.conversation_id = (char *)conv,
                               .id = marker,
                               .role = "error",
                               .content = content,
                               .metadata_json = "{\"poison\":true}"};
    json_object *o = json_object_new_object(), *mj = aos_storage_message_to_wire(&m);
    char *data = NULL, *ctx = strdup(turn);
    bool ok = o && mj;
    if (!ok)
        json_object_put(mj);
    else
        ok = aos_json_add(o, "message", mj) == AOS_OK; /* takes mj */
    ok = ok && ctx && aos_json_add_string(o, "conversation_id", conv) == AOS_OK &&
         aos_json_add_string(o, "turn_id", turn) == AOS_OK &&
         aos_json_to_string(o, &data, NULL) == AOS_OK &&
         aos_storage_call(t->r->storage, "turn.fail", data, on_failed_recorded, ctx) == AOS_OK;
    if (ok)
        ctx = NULL; /* the callback frees it */
    free(ctx);
    free(data);
    json_object_put(o);
    t->failure_recorded = true;
}

void turn_poison(turn_t *t, aos_result code, const char *why)
{
    if (code != AOS_ERR_UNAVAILABLE)
        record_poison(t, why);
    aos_log(AOS_LOG_ERROR, "turn dead-lettered", "agent", t->agent ? t->agent->def->name : "?",
            "message_id", t->request ? t->request->id : "?", "reason", why, NULL);
    if (t->request && t->request->reply_to)
        aos_bus_reply_error(t->r->bus, t->request, code, why);
    runner_turn_end(t, TURN_END_DEAD_LETTERED,
                    code == AOS_ERR_UNAVAILABLE ? "aos:model-unavailable" : "aos:poison", why);
}

/* A storage step failed: a timeout is retried (every step is idempotent) a few times, since
 * a lost or late reply is likelier than a dead store; otherwise transient -> release, a
 * refusal of our data -> poison. */
void turn_storage_failed(turn_t *t, const char *step, hop_t *h)
{
    if (h->rc == AOS_ERR_TIMEOUT && t->redo && t->storage_retries < RUNNER_STORAGE_RETRIES) {
        t->storage_retries++;
        aos_log(AOS_LOG_WARN, "storage request timed out; retrying", "step", step,
                "conversation_id", t->req.conversation_id, "message_id", t->req.message_id, NULL);
        t->redo(t);
        return;
    }
    char why[300];
    snprintf(why, sizeof why, "storage %s: %s%s%s", step, aos_result_str(h->rc),
             h->err[0] ? ": " : "", h->err);
    if (h->rc == AOS_ERR_INVALID || h->rc == AOS_ERR_TOO_LARGE)
        turn_poison(t, h->rc, why);
    else
        turn_release(t, why);
}

/* ---- steps ---- */

static void on_model_done(void *ctx, runner_model_result_t *res);

static void build_and_call(turn_t *t, const runner_knowledge_doc_t *docs, size_t count)
{
    /* history: stored messages before ours, oldest first, without failure markers */
    size_t n = 0;
    aos_model_msg_t *hist = calloc(t->page.count + 1, sizeof *hist);
    if (!hist) {
        turn_release(t, "out of memory");
        return;
    }
    for (size_t i = t->page.count; i-- > 0;) {
        const aos_storage_message_t *m = &t->page.items[i];
        if ((t->user_seq && m->seq >= t->user_seq) || strcmp(m->role, "error") == 0)
            continue;
        hist[n++] = (aos_model_msg_t){m->role, m->content};
    }
    runner_prompt_input_t in = {.agent = t->agent->def->name,
                                .purpose = t->agent->def->purpose,
                                .knowledge = docs,
                                .knowledge_count = count,
                                .history = hist,
                                .history_count = n,
                                .max_history = t->agent->def->max_history,
                                .user_text = t->req.text,
                                .budget_chars = t->r->cfg.prompt_budget_chars};
    char err[200];
    aos_result rc = runner_prompt_build(&in, &t->prompt, err, sizeof err);
    free(hist);
    if (rc != AOS_OK) {
        turn_release(t, err);
        return;
    }
    t->ops_pending++;
    runner_adapters_pick(t->r->adapters, t->agent->def, t->req.conversation_id, &t->page,
                         &t->adapter);
    t->model_started_ms = aos_clock_monotonic_ms();
    rc = runner_model_call_adapter(t->r->model, t->agent->def, t->adapter.served, &t->prompt,
                                   on_model_done, t);
    if (rc != AOS_OK) {
        t->ops_pending--;
        turn_release(t, "model call could not start");
    }
}

static void on_knowledge(void *ctx, aos_result r, const runner_knowledge_doc_t *docs, size_t count,
                         const char *errmsg)
{
    turn_t *t = ctx;
    aos_trace_set(t->request->traceparent);
    t->ops_pending--;
    if (t->ended) {
        turn_maybe_free(t);
        return;
    }
    if (r != AOS_OK) {
        char why[300];
        snprintf(why, sizeof why, "domain knowledge: %s", errmsg ? errmsg : aos_result_str(r));
        turn_release(t, why);
        return;
    }
    build_and_call(t, docs, count);
}

void turn_load_knowledge(turn_t *t)
{
    t->ops_pending++;
    if (runner_knowledge_get(t->r->knowledge, t->agent->def, on_knowledge, t) != AOS_OK) {
        t->ops_pending--;
        turn_release(t, "domain knowledge unavailable");
    }
}

/* ---- after the model ---- */

static void after_assistant_complete(turn_t *t, hop_t *h);
static void after_marker_complete(turn_t *t, hop_t *h);

/* Cut text to the storage content limit without splitting a UTF-8 sequence. */
static void clamp_reply(char *text)
{
    size_t n = strlen(text);
    if (n <= AOS_STORAGE_CONTENT_MAX)
        return;
    n = AOS_STORAGE_CONTENT_MAX;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    text[n] = '\0';
}

static void send_complete(turn_t *t)
{
    t->redo = send_complete;
    t->complete_sent_ms = aos_clock_realtime_ms();
    hop_t *h = turn_hop_new(t, t->pending_next);
    aos_result rc =
        h ? aos_storage_call(t->r->storage, "turn.complete", t->complete_json, turn_on_raw, h)
          : AOS_ERR_NOMEM;
    if (rc != AOS_OK) {
        if (h)
            turn_hop_abandon(h);
        turn_release(t, "storage request could not be sent");
    }
}

/* One round trip: append the message the turn produced (answer or failure marker), record it
 * in the turn ledger, move the conversation's order on and drop the lease, fenced by the
 * lease token. The request is kept, so a timed-out one is sent again byte for byte. */
static void complete(turn_t *t, const char *id, const char *role, const char *content,
                     const char *meta, const char *outcome, hop_fn next)
{
    aos_storage_message_t m = {.conversation_id = t->req.conversation_id,
                               .id = (char *)id,
                               .role = (char *)role,
                               .content = (char *)content,
                               .metadata_json = (char *)meta};
    json_object *o = json_object_new_object(), *mj = aos_storage_message_to_wire(&m);
    aos_result r = o && mj ? aos_json_add(o, "message", mj) : AOS_ERR_NOMEM;
    if (r != AOS_OK)
        json_object_put(mj);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "conversation_id", t->req.conversation_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "turn_id", t->req.message_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "outcome", outcome);
    if (r == AOS_OK)
        r = aos_json_add_int(o, "token", t->token);
    if (r == AOS_OK)
        r = aos_json_add_int(o, "seq", t->seq);
    free(t->complete_json);
    t->complete_json = NULL;
    if (r == AOS_OK)
        r = aos_json_to_string(o, &t->complete_json, NULL);
    json_object_put(o);
    t->running = false; /* no more renewals: complete ends the lease */
    t->pending_next = next;
    if (r != AOS_OK) {
        turn_release(t, "out of memory");
        return;
    }
    send_complete(t);
}

/* The adapter that answered (or failed), and the pipeline's per-turn record of it. */
static void turn_adapter_outcome(turn_t *t, runner_turn_outcome_t *o,
                                 const runner_model_result_t *res, bool failed)
{
    o->adapter = t->adapter.name[0] ? t->adapter.name : t->agent->def->adapter;
    o->adapter_version = t->adapter.version;
    runner_adapters_report(t->r->adapters, t->agent->def->name, &t->adapter, t->req.conversation_id,
                           t->req.message_id, failed, res->fallbacks,
                           aos_clock_monotonic_ms() - t->model_started_ms);
}

static void model_failed(turn_t *t, runner_model_result_t *res)
{
    char marker_id[129];
    char *meta = NULL;
    char why[400];
    snprintf(why, sizeof why, "model failed on every endpoint after %u attempt%s: %s",
             res->attempts, res->attempts == 1 ? "" : "s", res->error);
    /* a marker: the turn failed, the conversation moves on (see docs) */
    runner_turn_outcome_t o = {.provider = aos_provider_name(res->provider),
                               .endpoint = res->endpoint,
                               .attempts = res->attempts,
                               .latency_ms = runner_now_ms() - t->started_ms,
                               .trace_id = aos_trace_current_id()};
    turn_adapter_outcome(t, &o, res, true);
    if (runner_reply_id(t->req.message_id, 'e', marker_id) != AOS_OK ||
        runner_assistant_metadata(&t->req, &o, &meta) != AOS_OK) {
        free(meta);
        turn_poison(t, AOS_ERR_UNAVAILABLE, why);
        return;
    }
    free(t->result_json);
    t->result_json = strdup(why); /* kept for the rejection after the marker is stored */
    t->failure_recorded = true;
    complete(t, marker_id, "error", why, meta, "failed", after_marker_complete);
    free(meta);
}

static void after_marker_complete(turn_t *t, hop_t *h)
{
    if (h->rc == AOS_ERR_TIMEOUT && t->storage_retries < RUNNER_STORAGE_RETRIES) {
        t->storage_retries++;
        send_complete(t);
        return;
    }
    turn_poison(t, AOS_ERR_UNAVAILABLE, t->result_json ? t->result_json : "model failed");
}

static void on_model_done(void *ctx, runner_model_result_t *res)
{
    turn_t *t = ctx;
    aos_trace_set(t->request->traceparent);
    t->ops_pending--;
    if (t->ended) {
        turn_maybe_free(t);
        return;
    }
    if (res->result == AOS_ERR_CANCELLED) {
        turn_release(t, "model call cancelled (shutting down)");
        return;
    }
    if (res->result != AOS_OK) {
        model_failed(t, res);
        return;
    }
    t->completion = res->completion;
    memset(&res->completion, 0, sizeof res->completion);
    clamp_reply(t->completion.text);
    t->outcome = (runner_turn_outcome_t){.reply = t->completion.text,
                                         .provider = aos_provider_name(res->provider),
                                         .model = t->completion.model,
                                         .endpoint = res->endpoint,
                                         .usage = t->completion.usage,
                                         .attempts = res->attempts,
                                         .latency_ms = runner_now_ms() - t->started_ms,
                                         .trace_id = aos_trace_current_id()};
    turn_adapter_outcome(t, &t->outcome, res, false);
    aos_metric_counter_add(t->agent->m_tokens_prompt, t->outcome.usage.prompt_tokens);
    aos_metric_counter_add(t->agent->m_tokens_completion, t->outcome.usage.completion_tokens);
    turn_store_answer(t);
}

/* turn.complete with the model's answer (t->completion / t->outcome) under the lease held. */
void turn_store_answer(turn_t *t)
{
    char *meta = NULL;
    if (runner_assistant_metadata(&t->req, &t->outcome, &meta) != AOS_OK) {
        turn_release(t, "out of memory");
        return;
    }
    complete(t, t->reply_id, "assistant", t->completion.text, meta, "answered",
             after_assistant_complete);
    free(meta);
}

/* The complete timed out because the bus was away (not connected now, or reconnected since it
 * was sent): storage could not be reached at all. The answer is paid for, so it is kept and
 * sent again, without counting against the retries, until storage takes it — the lease
 * outlives the outage on the storage side (docs/turn-order.md "Broker outages"). */
static bool complete_lost_to_outage(const turn_t *t, const hop_t *h)
{
    int64_t since = aos_bus_connected_since_ms(t->r->bus);
    return h->rc == AOS_ERR_TIMEOUT && (since == 0 || since > t->complete_sent_ms);
}

static void after_assistant_complete(turn_t *t, hop_t *h)
{
    if (complete_lost_to_outage(t, h)) {
        aos_log(AOS_LOG_WARN, "storage unreachable (bus outage); the answer is kept and sent again",
                "conversation_id", t->req.conversation_id, "message_id", t->req.message_id, NULL);
        send_complete(t);
        return;
    }
    if (h->rc == AOS_ERR_CONFLICT) {
        /* the lease went to another delivery of this turn (we were too slow), or it stored a
         * different reply first: claim again, which answers with what is stored */
        if (++t->relists > 20) {
            turn_release(t, "conversation lease keeps moving");
            return;
        }
        aos_log(AOS_LOG_WARN, "turn lost its conversation lease; claiming again", "conversation_id",
                t->req.conversation_id, "message_id", t->req.message_id, NULL);
        turn_claim(t);
        return;
    }
    if (h->rc != AOS_OK) {
        turn_storage_failed(t, "turn.complete", h);
        return;
    }
    turn_respond(t, false);
}

/* ---- replying ---- */

static void after_send(turn_t *t, hop_t *h)
{
    if (h->rc != AOS_OK)
        t->send_failed = true;
    if (--t->sends_pending > 0)
        return;
    if (t->claim_send_failed) { /* the answer is stored; a redelivery would fail alike */
        if (t->request->reply_to)
            aos_bus_reply_error(t->r->bus, t->request, AOS_ERR_UNAVAILABLE,
                                "the answer could not be stored by reference (docs/bus.md)");
        runner_turn_end(t, TURN_END_DEAD_LETTERED, "aos:claim-check",
                        "the answer could not be stored by reference");
        return;
    }
    if (t->send_failed) {
        turn_release(t, "reply or event not confirmed by the broker");
        return;
    }
    runner_claim_settled(t);
    runner_turn_end(t, t->from_storage ? TURN_END_FROM_STORAGE : TURN_END_ANSWERED, NULL, NULL);
}

static void on_sent(void *ctx, aos_result result, const char *detail)
{
    hop_post(ctx, result, detail);
}

static aos_event_t *make_event(turn_t *t, const char *type, const char *id, const char *data)
{
    aos_event_t *ev = NULL;
    if (aos_event_create(type, t->r->source, data, &ev) != AOS_OK)
        return NULL;
    if ((id && aos_event_set(&ev->id, id) != AOS_OK) ||
        aos_event_set(&ev->group_id, t->req.conversation_id) != AOS_OK ||
        aos_event_set(&ev->subject, t->req.agent) != AOS_OK) {
        aos_event_free(ev);
        return NULL;
    }
    return ev;
}

/* Queue one send (reply or publish); false when it could not be queued. */
static bool send_one(turn_t *t, const char *type, const char *id, const char *data, bool reply)
{
    aos_event_t *ev = make_event(t, type, id, data);
    hop_t *h = ev ? turn_hop_new(t, after_send) : NULL;
    aos_result rc = AOS_ERR_NOMEM;
    if (h) {
        t->sends_pending++;
        rc = runner_claim_send(t, ev, reply, on_sent, h); /* takes ev; large by reference */
        ev = NULL;
        if (rc != AOS_OK) {
            t->sends_pending--;
            turn_hop_abandon(h);
        }
    }
    aos_event_free(ev);
    return rc == AOS_OK;
}

void turn_respond(turn_t *t, bool from_storage)
{
    t->from_storage = from_storage;
    /* one line per turn, with its trace_id, before the reply can reach anyone */
    char ms[24];
    snprintf(ms, sizeof ms, "%llu", (unsigned long long)(runner_now_ms() - t->started_ms));
    aos_log(AOS_LOG_INFO, "turn answered", "agent", t->req.agent, "conversation_id",
            t->req.conversation_id, "message_id", t->req.message_id, "from_storage",
            from_storage ? "true" : "false", "duration_ms", ms, NULL);
    free(t->result_json);
    t->result_json = NULL;
    char *action = NULL;
    if (runner_turn_result_json(&t->req, t->reply_id, &t->outcome, &t->result_json) != AOS_OK ||
        (t->req.kind == RUNNER_TURN_EVENT &&
         runner_action_json(&t->req, &t->outcome, &action) != AOS_OK)) {
        free(action);
        turn_release(t, "out of memory");
        return;
    }
    char event_id[160];
    bool ok = true;
    t->sends_pending++; /* hold: the turn must not end while sends are being queued */
    if (t->request->reply_to)
        ok = send_one(t, "aos.agent.turn.result", NULL, t->result_json, true);
    snprintf(event_id, sizeof event_id, "%s:reply", t->reply_id);
    ok = ok && send_one(t, "aos.agent.reply", event_id, t->result_json, false);
    if (ok && action) {
        snprintf(event_id, sizeof event_id, "%s:action", t->reply_id);
        ok = send_one(t, "aos.agent.action", event_id, action, false);
    }
    free(action);
    if (!ok)
        t->send_failed = true;
    hop_t done = {.t = t, .rc = AOS_OK};
    after_send(t, &done); /* drop the hold */
}

void turn_maybe_free(turn_t *t)
{
    if (!t->ended || t->ops_pending > 0)
        return;
    runner_turn_req_clear(&t->req);
    aos_event_free(t->request);
    aos_storage_message_page_clear(&t->page);
    runner_prompt_clear(&t->prompt);
    aos_model_completion_clear(&t->completion);
    free(t->complete_json);
    free(t->claim);
    if (t->outcome_owner)
        json_object_put(t->outcome_owner);
    free(t->result_json);
    free(t);
}
