/* The turn state machine (see runner.h for the steps and docs/agent-runner.md for why).
 * Every function here runs on the loop thread; storage and bus callbacks arrive on the bus
 * thread, copy what they got into a hop and post it to the loop. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "aos/trace.h"
#include "aos/resilience.h"
#include "aos/event_publisher.h"
#include "runner_internal.h"

typedef struct hop hop_t;
typedef void (*hop_fn)(turn_t *t, hop_t *h);

struct hop {
    turn_t *t;
    hop_fn next;
    aos_result rc;
    char err[200];
    bool created;
    aos_storage_message_t msg;
    aos_storage_message_page_t page;
};

static hop_t *hop_new(turn_t *t, hop_fn next)
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
    aos_storage_message_clear(&h->msg);
    aos_storage_message_page_clear(&h->page);
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
static void hop_abandon(hop_t *h)
{
    h->t->ops_pending--;
    hop_free(h);
}

/* ---- storage callbacks (bus thread) ---- */

static void on_conversation(void *ctx, aos_result r, const aos_storage_conversation_t *c,
                            bool created, const char *errmsg)
{
    (void)c;
    hop_t *h = ctx;
    h->created = created;
    hop_post(h, r, errmsg);
}

static void on_message(void *ctx, aos_result r, const aos_storage_message_t *m, bool created,
                       const char *errmsg)
{
    hop_t *h = ctx;
    h->created = created;
    if (r == AOS_OK && m && aos_storage_message_copy(m, &h->msg) != AOS_OK)
        r = AOS_ERR_NOMEM;
    hop_post(h, r, errmsg);
}

static void on_page(void *ctx, aos_result r, const aos_storage_message_page_t *p,
                    const char *errmsg)
{
    hop_t *h = ctx;
    if (r == AOS_OK && p && p->count) {
        h->page.items = calloc(p->count, sizeof *h->page.items);
        if (!h->page.items)
            r = AOS_ERR_NOMEM;
        for (size_t i = 0; r == AOS_OK && i < p->count; i++) {
            if (aos_storage_message_copy(&p->items[i], &h->page.items[i]) != AOS_OK)
                r = AOS_ERR_NOMEM;
            h->page.count = i + 1;
        }
    }
    hop_post(h, r, errmsg);
}

/* ---- endings ---- */

static void release(turn_t *t, const char *why)
{
    aos_log(AOS_LOG_WARN, "turn released for redelivery", "agent", t->req.agent, "conversation_id",
            t->req.conversation_id, "message_id", t->req.message_id, "reason", why, NULL);
    runner_turn_end(t, TURN_END_RELEASED, NULL, NULL);
}

void turn_poison(turn_t *t, aos_result code, const char *why)
{
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
static void storage_failed(turn_t *t, const char *step, hop_t *h)
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
        release(t, why);
}

/* ---- steps ---- */

static void list_latest(turn_t *t);
static void create_conversation(turn_t *t);
static void after_list(turn_t *t, hop_t *h);
static void after_user_append(turn_t *t, hop_t *h);
static void load_knowledge(turn_t *t);
static void respond(turn_t *t, bool from_storage);

static void append_user(turn_t *t, int64_t version);

static void after_conversation(turn_t *t, hop_t *h)
{
    if (h->rc == AOS_OK && h->created) {
        /* this create made it, so it holds no messages (no earlier delivery of this turn, no
         * other turn): append at version 0 without listing again; should another turn get
         * there first, the ordering guard answers CONFLICT and the turn lists as usual */
        aos_storage_message_page_clear(&t->page);
        append_user(t, 0);
        return;
    }
    if (h->rc == AOS_OK || h->rc == AOS_ERR_CONFLICT) { /* CONFLICT: exists, other agent */
        list_latest(t);
        return;
    }
    storage_failed(t, "conversation.create", h);
}

void turn_run(turn_t *t)
{
    aos_trace_set(t->request->traceparent);
    if (runner_reply_id(t->req.message_id, 'r', t->reply_id) != AOS_OK) {
        turn_poison(t, AOS_ERR_INVALID, "message_id cannot name a reply");
        return;
    }
    /* the newest messages first: the conversation usually exists already, and a list that
     * says not_found costs no more than a create would have */
    list_latest(t);
}

static void create_conversation(turn_t *t)
{
    t->redo = create_conversation;
    hop_t *h = hop_new(t, after_conversation);
    if (!h) {
        release(t, "out of memory");
        return;
    }
    /* idempotent: creates it on the first turn, returns it on every later one */
    aos_result rc = aos_storage_conversation_create(t->r->storage, t->req.conversation_id,
                                                    t->req.agent, NULL, on_conversation, h);
    if (rc != AOS_OK) {
        hop_abandon(h);
        release(t, "storage request could not be sent");
    }
}

static void list_latest(turn_t *t)
{
    t->redo = list_latest;
    hop_t *h = hop_new(t, after_list);
    if (!h) {
        release(t, "out of memory");
        return;
    }
    size_t limit = (size_t)t->agent->def->max_history + 8;
    if (limit > AOS_STORAGE_PAGE_MAX)
        limit = AOS_STORAGE_PAGE_MAX;
    aos_result rc = aos_storage_message_list(t->r->storage, t->req.conversation_id, NULL, limit,
                                             true, on_page, h);
    if (rc != AOS_OK) {
        hop_abandon(h);
        release(t, "storage request could not be sent");
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
        release(t, "shutting down while waiting for the conversation");
        return;
    }
    list_latest(t);
}

/* The conversation's newest message is another turn's unanswered user message: that turn is
 * running elsewhere (or died). Wait for it, polling, unless it is stale. */
static bool conversation_busy(turn_t *t, const aos_storage_message_t *newest)
{
    if (!newest || strcmp(newest->id, t->req.message_id) == 0)
        return false;
    if (strcmp(newest->role, "user") != 0 && strcmp(newest->role, "event") != 0)
        return false;
    int64_t age = aos_clock_realtime_ms() - newest->created_ms;
    if (age >= (int64_t)t->r->cfg.busy_stale_ms) {
        aos_log(AOS_LOG_WARN, "conversation has a stale unanswered message; proceeding",
                "conversation_id", t->req.conversation_id, "pending_message_id", newest->id, NULL);
        return false;
    }
    return true;
}

static void wait_for_conversation(turn_t *t)
{
    uint64_t now = runner_now_ms();
    if (!t->busy_since_ms) {
        t->busy_since_ms = now;
        aos_log(AOS_LOG_INFO, "conversation busy with another turn; waiting", "conversation_id",
                t->req.conversation_id, "message_id", t->req.message_id, "pending_message_id",
                t->page.count ? t->page.items[0].id : "", NULL);
    }
    uint64_t waited = now - t->busy_since_ms;
    uint32_t delay = waited < 1000 ? 50 : waited < 10000 ? 250 : 1000;
    t->ops_pending++;
    if (runner_loop_timer(t->r->loop, delay, on_busy_timer, t) != AOS_OK) {
        t->ops_pending--;
        release(t, "out of memory");
    }
}

/* The turn that holds the conversation may be queued right here, behind t (a redelivery
 * that arrived after a later turn of the same conversation, e.g. after another instance
 * died): run it first instead of waiting for it. */
static bool run_pending_first(turn_t *t, const char *pending_id)
{
    conv_t *c = t->conv;
    if (!c || c->head != t)
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

static void redo_append_user(turn_t *t)
{
    append_user(t, t->append_version);
}

static void append_user(turn_t *t, int64_t version)
{
    t->redo = redo_append_user;
    t->append_version = version;
    char *meta = NULL;
    if (runner_user_metadata(&t->req, &meta) != AOS_OK) {
        release(t, "out of memory");
        return;
    }
    aos_storage_message_t m = {.conversation_id = t->req.conversation_id,
                               .id = t->req.message_id,
                               .role = t->req.kind == RUNNER_TURN_EVENT ? "event" : "user",
                               .content = t->req.text,
                               .metadata_json = meta};
    hop_t *h = hop_new(t, after_user_append);
    aos_result rc =
        h ? aos_storage_message_append(t->r->storage, &m, version, on_message, h) : AOS_ERR_NOMEM;
    free(meta);
    if (rc != AOS_OK) {
        if (h)
            hop_abandon(h);
        release(t, "storage request could not be sent");
    }
}

static void answer_from_storage(turn_t *t, const aos_storage_message_t *reply)
{
    t->outcome = (runner_turn_outcome_t){.reply = reply->content, .provider = "stored"};
    runner_assistant_metadata_parse(reply->metadata_json, &t->outcome, &t->outcome_owner);
    aos_log(AOS_LOG_INFO, "turn already answered; replying from storage", "agent", t->req.agent,
            "conversation_id", t->req.conversation_id, "message_id", t->req.message_id, NULL);
    respond(t, true);
}

static void after_list(turn_t *t, hop_t *h)
{
    if (h->rc == AOS_ERR_NOT_FOUND && !t->created_conversation) {
        t->created_conversation = true;
        create_conversation(t);
        return;
    }
    if (h->rc != AOS_OK) {
        storage_failed(t, "message.list", h);
        return;
    }
    aos_storage_message_page_clear(&t->page);
    t->page = h->page; /* newest first */
    memset(&h->page, 0, sizeof h->page);
    for (size_t i = 0; i < t->page.count; i++) {
        const aos_storage_message_t *m = &t->page.items[i];
        if (strcmp(m->id, t->reply_id) == 0) {
            answer_from_storage(t, m);
            return;
        }
        if (strcmp(m->id, t->req.message_id) == 0) {
            t->user_seq = m->seq; /* stored by an earlier delivery */
            load_knowledge(t);
            return;
        }
    }
    const aos_storage_message_t *newest = t->page.count ? &t->page.items[0] : NULL;
    if (conversation_busy(t, newest)) {
        if (!run_pending_first(t, newest->id))
            wait_for_conversation(t);
        return;
    }
    append_user(t, newest ? newest->seq : 0);
}

static void after_user_append(turn_t *t, hop_t *h)
{
    if (h->rc == AOS_ERR_CONFLICT) {
        /* another turn appended since we looked (ordering guard): look again */
        if (++t->relists > 20) {
            release(t, "conversation keeps changing (version conflicts)");
            return;
        }
        list_latest(t);
        return;
    }
    if (h->rc == AOS_ERR_NOT_FOUND) {
        release(t, "conversation disappeared");
        return;
    }
    if (h->rc != AOS_OK) {
        storage_failed(t, "message.append", h);
        return;
    }
    t->user_seq = h->msg.seq;
    load_knowledge(t);
}

static void on_model_done(void *ctx, runner_model_result_t *res);

static void build_and_call(turn_t *t, const runner_knowledge_doc_t *docs, size_t count)
{
    /* history: stored messages before ours, oldest first, without failure markers */
    size_t n = 0;
    runner_chat_msg_t *hist = calloc(t->page.count + 1, sizeof *hist);
    if (!hist) {
        release(t, "out of memory");
        return;
    }
    for (size_t i = t->page.count; i-- > 0;) {
        const aos_storage_message_t *m = &t->page.items[i];
        if ((t->user_seq && m->seq >= t->user_seq) || strcmp(m->role, "error") == 0)
            continue;
        hist[n++] = (runner_chat_msg_t){m->role, m->content};
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
        release(t, err);
        return;
    }
    t->ops_pending++;
    rc = runner_model_call(t->r->model, t->agent->def, &t->prompt, on_model_done, t);
    if (rc != AOS_OK) {
        t->ops_pending--;
        release(t, "model call could not start");
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
        release(t, why);
        return;
    }
    build_and_call(t, docs, count);
}

static void load_knowledge(turn_t *t)
{
    t->ops_pending++;
    if (runner_knowledge_get(t->r->knowledge, t->agent->def, on_knowledge, t) != AOS_OK) {
        t->ops_pending--;
        release(t, "domain knowledge unavailable");
    }
}

/* ---- after the model ---- */

static void after_assistant_append(turn_t *t, hop_t *h);
static void after_marker_append(turn_t *t, hop_t *h);
static void append_message(turn_t *t, const char *id, const char *role, const char *content,
                           const char *meta, hop_fn next);

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

static void send_pending_append(turn_t *t)
{
    t->redo = send_pending_append;
    aos_storage_message_t m = t->pending_msg;
    hop_t *h = hop_new(t, t->pending_next);
    aos_result rc =
        h ? aos_storage_message_append(t->r->storage, &m, -1, on_message, h) : AOS_ERR_NOMEM;
    if (rc != AOS_OK) {
        if (h)
            hop_abandon(h);
        release(t, "storage request could not be sent");
    }
}

/* Append a message the turn produced (kept in the turn, so a timed-out append can be sent
 * again byte for byte: the store then sees the same message and does not add a second). */
static void append_message(turn_t *t, const char *id, const char *role, const char *content,
                           const char *meta, hop_fn next)
{
    aos_storage_message_clear(&t->pending_msg);
    t->pending_msg.conversation_id = strdup(t->req.conversation_id);
    t->pending_msg.id = strdup(id);
    t->pending_msg.role = strdup(role);
    t->pending_msg.content = strdup(content);
    t->pending_msg.metadata_json = meta ? strdup(meta) : NULL;
    t->pending_next = next;
    if (!t->pending_msg.conversation_id || !t->pending_msg.id || !t->pending_msg.role ||
        !t->pending_msg.content || (meta && !t->pending_msg.metadata_json)) {
        release(t, "out of memory");
        return;
    }
    send_pending_append(t);
}

static void model_failed(turn_t *t, runner_model_result_t *res)
{
    char marker_id[129];
    char *meta = NULL;
    char why[400];
    snprintf(why, sizeof why, "model failed on every endpoint after %u attempt%s: %s",
             res->attempts, res->attempts == 1 ? "" : "s", res->error);
    /* a marker so the conversation does not look busy to the next turn (see docs) */
    runner_turn_outcome_t o = {.provider = aos_provider_name(res->provider),
                               .endpoint = res->endpoint,
                               .attempts = res->attempts};
    if (runner_reply_id(t->req.message_id, 'e', marker_id) != AOS_OK ||
        runner_assistant_metadata(&t->req, &o, &meta) != AOS_OK) {
        free(meta);
        turn_poison(t, AOS_ERR_UNAVAILABLE, why);
        return;
    }
    free(t->result_json);
    t->result_json = strdup(why); /* kept for the rejection after the marker is stored */
    append_message(t, marker_id, "error", why, meta, after_marker_append);
    free(meta);
}

static void after_marker_append(turn_t *t, hop_t *h)
{
    (void)h; /* the marker is a courtesy: its failure does not change the outcome */
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
        release(t, "model call cancelled (shutting down)");
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
                                         .attempts = res->attempts};
    aos_metric_counter_add(t->agent->m_tokens_prompt, t->outcome.usage.prompt_tokens);
    aos_metric_counter_add(t->agent->m_tokens_completion, t->outcome.usage.completion_tokens);
    char *meta = NULL;
    if (runner_assistant_metadata(&t->req, &t->outcome, &meta) != AOS_OK) {
        release(t, "out of memory");
        return;
    }
    append_message(t, t->reply_id, "assistant", t->completion.text, meta, after_assistant_append);
    free(meta);
}

static void after_assistant_append(turn_t *t, hop_t *h)
{
    if (h->rc == AOS_ERR_CONFLICT) {
        /* a reply with our id and other content is stored: another delivery of this turn
         * won the race; answer with what is stored */
        list_latest(t);
        return;
    }
    if (h->rc != AOS_OK) {
        storage_failed(t, "message.append (reply)", h);
        return;
    }
    respond(t, false);
}

/* ---- replying ---- */

static void after_send(turn_t *t, hop_t *h)
{
    if (h->rc != AOS_OK)
        t->send_failed = true;
    if (--t->sends_pending > 0)
        return;
    if (t->send_failed) {
        release(t, "reply or event not confirmed by the broker");
        return;
    }
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
    hop_t *h = ev ? hop_new(t, after_send) : NULL;
    aos_result rc = AOS_ERR_NOMEM;
    if (h) {
        t->sends_pending++;
        rc = reply ? aos_bus_reply(t->r->bus, t->request, ev, on_sent, h)
                   : aos_bus_publish(t->r->bus, "aos.events", ev, on_sent, h);
        if (rc != AOS_OK) {
            t->sends_pending--;
            hop_abandon(h);
        } else if (!reply && t->r->cfg.external_events) {
            /* best effort, never blocks: Event Grid / Kafka (aos/event_publisher.h) */
            aos_event_publish(t->r->cfg.external_events, ev);
        }
    }
    aos_event_free(ev);
    return rc == AOS_OK;
}

static void respond(turn_t *t, bool from_storage)
{
    t->from_storage = from_storage;
    free(t->result_json);
    t->result_json = NULL;
    char *action = NULL;
    if (runner_turn_result_json(&t->req, t->reply_id, &t->outcome, &t->result_json) != AOS_OK ||
        (t->req.kind == RUNNER_TURN_EVENT &&
         runner_action_json(&t->req, &t->outcome, &action) != AOS_OK)) {
        free(action);
        release(t, "out of memory");
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
    runner_completion_clear(&t->completion);
    aos_storage_message_clear(&t->pending_msg);
    if (t->outcome_owner)
        json_object_put(t->outcome_owner);
    free(t->result_json);
    free(t);
}
