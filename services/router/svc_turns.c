/* The life of one user turn: stickiness lookup -> routing (maybe the classifier) ->
 * conversation record -> aos.agent.<agent> over the bus -> the answer. Every step is a
 * callback; nothing blocks and no thread waits (see router.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/claim_check.h"
#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "router_internal.h"

turn_t *turn_new(router_t *rt, aos_http_request_t *req, turn_mode mode)
{
    turn_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->rt = rt;
    t->req = req;
    t->mode = mode;
    t->started_ms = aos_clock_monotonic_ms();
    char u[37];
    aos_uuid4(u);
    snprintf(t->message_id, sizeof t->message_id, "m-%s", u);
    return t;
}

void turn_free(turn_t *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->user);
    free(t->metadata_json);
    free(t->explicit_agent);
    free(t->idempotency_key);
    free(t->run_json);
    free(t->claim);
    router_activity_free(t->activity);
    free(t);
}

/* Per-agent outcome counts for the console's live view (GET /v1/metrics, docs/console.md);
 * a turn that failed before it had an agent counts only in aos_router_turns_total. */
static void count_agent(const turn_t *t, const char *result)
{
    if (!t->d.agent)
        return;
    aos_metric_counter_inc(aos_metrics_counter(NULL, "aos_router_agent_turns_total",
                                               "Turns by agent and outcome.", "agent",
                                               t->d.agent->name, "result", result, NULL));
}

static void turn_fail(turn_t *t, aos_result r, const char *msg)
{
    count_agent(t, r == AOS_ERR_TIMEOUT ? "timeout" : "error");
    if (t->req)
        router_respond_error(t->req, r, msg);
    else
        aos_log(AOS_LOG_WARN, "turn failed", "conversation_id", t->conversation_id, "message_id",
                t->message_id, "code", aos_result_code(r), "detail", msg, NULL);
    t->req = NULL;
    aos_metric_counter_inc(t->rt->turns_failed);
    turn_free(t);
}

static void location_header(turn_t *t)
{
    char loc[200];
    snprintf(loc, sizeof loc, "/v1/conversations/%s", t->conversation_id);
    aos_http_response_header(t->req, "Location", loc);
}

static void answer_json(turn_t *t, const router_turn_result_t *res)
{
    char *body = NULL;
    if (router_message_response_build(res, t->d.agent->name, t->d.reason, &body) != AOS_OK) {
        router_respond_error(t->req, AOS_ERR_NOMEM, "could not build the response");
        return;
    }
    aos_http_respond_json(t->req, 200, body);
    free(body);
}

static void deliver(turn_t *t, const aos_event_t *reply)
{
    char why[256] = "";
    aos_result code = aos_bus_reply_result(reply, why, sizeof why);
    if (code != AOS_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "agent %s: %s", t->d.agent->name, why);
        turn_fail(t, code, msg);
        return;
    }
    router_turn_result_t *res = NULL;
    if (!reply->data ||
        router_turn_result_parse(reply->data, reply->data_len, &res, why, sizeof why) != AOS_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "agent %s sent an unreadable turn result: %s", t->d.agent->name,
                 why);
        turn_fail(t, AOS_ERR_PROTOCOL, msg);
        return;
    }
    aos_metric_counter_inc(t->rt->turns_ok);
    count_agent(t, "ok");
    if (t->mode == TURN_MODE_JSON)
        answer_json(t, res);
    else
        svc_bot_deliver(t, res);
    t->req = NULL;
    router_turn_result_free(res);
    turn_free(t);
}

/* Bus I/O thread: a large turn result is back from its claim (docs/bus.md "Message size"). */
static void on_reply_resolved(void *ctx, aos_result r, aos_event_t *ev, const char *errmsg)
{
    turn_t *t = ctx;
    if (r == AOS_OK) {
        char claim[300];
        snprintf(claim, sizeof claim, "%s", t->claim ? t->claim : "");
        aos_storage_client_t *storage = t->rt->storage;
        deliver(t, ev);                                 /* frees t */
        aos_storage_claim_delete_async(storage, claim); /* read once: settled */
    } else {
        char msg[400];
        snprintf(msg, sizeof msg, "the agent's answer (sent by reference) could not be read: %s",
                 errmsg ? errmsg : aos_result_str(r));
        turn_fail(t, r == AOS_ERR_NOT_FOUND ? AOS_ERR_PROTOCOL : r, msg);
    }
    aos_event_free(ev);
}

/* Bus I/O thread: the turn result, a timeout or a bus failure. */
static void on_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    turn_t *t = ctx;
    double seconds = (double)(aos_clock_monotonic_ms() - t->started_ms) / 1000.0;
    aos_metric_histogram_observe(t->rt->turn_seconds, seconds);
    aos_metric_histogram_observe(
        aos_metrics_histogram(NULL, "aos_router_agent_turn_duration_seconds",
                              "Time from request to turn result, by agent.", NULL, 0, "agent",
                              t->d.agent->name, NULL),
        seconds);
    if (r == AOS_OK && aos_event_get_ext(reply, AOS_CLAIM_EXT)) {
        aos_event_t *copy = NULL;
        r = aos_event_clone(reply, &copy);
        if (r == AOS_OK && !(t->claim = strdup(aos_event_get_ext(reply, AOS_CLAIM_EXT))))
            r = AOS_ERR_NOMEM;
        if (r == AOS_OK)
            r = aos_storage_claim_resolve_async(t->rt->storage, copy, AOS_CLAIM_MAX,
                                                on_reply_resolved, t);
        if (r != AOS_OK) {
            aos_event_free(copy);
            turn_fail(t, r, "the agent's answer (sent by reference) could not be read");
        }
        return;
    }
    if (r == AOS_OK) {
        deliver(t, reply);
        return;
    }
    char msg[300];
    if (r == AOS_ERR_TIMEOUT) {
        aos_metric_counter_inc(t->rt->turns_timeout);
        snprintf(msg, sizeof msg,
                 "agent %s did not answer within %u ms; the turn stays queued — poll "
                 "/v1/conversations/%s",
                 t->d.agent->name, t->rt->agents->settings.sync_timeout_ms, t->conversation_id);
        if (t->req)
            location_header(t);
    } else if (r == AOS_ERR_NOT_FOUND) { /* Service Bus: the entity does not exist */
        snprintf(msg, sizeof msg,
                 "agent %s is configured but its queue does not exist on the broker; provision "
                 "the topology for this configuration (docs/deploy.md)",
                 t->d.agent->name);
        r = AOS_ERR_UNAVAILABLE;
    } else {
        snprintf(msg, sizeof msg, "bus: %s", aos_result_str(r));
        r = AOS_ERR_UNAVAILABLE;
    }
    turn_fail(t, r, msg);
}

/* Bus I/O thread: the broker took an async turn. */
static void on_sent(void *ctx, aos_result r, const char *detail)
{
    turn_t *t = ctx;
    if (r != AOS_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "the turn could not be queued: %s", detail ? detail : "");
        turn_fail(t, AOS_ERR_UNAVAILABLE, msg);
        return;
    }
    aos_metric_counter_inc(t->rt->turns_async);
    count_agent(t, "accepted");
    json_object *o = json_object_new_object(), *routing = json_object_new_object();
    aos_json_add_string(o, "conversation_id", t->conversation_id);
    aos_json_add_string(o, "message_id", t->message_id);
    aos_json_add_string(o, "agent", t->d.agent->name);
    aos_json_add_string(o, "status", "accepted");
    aos_json_add_string(routing, "reason", t->d.reason);
    aos_json_add(o, "routing", routing);
    char *body = NULL;
    aos_json_to_string(o, &body, NULL);
    json_object_put(o);
    location_header(t);
    aos_http_respond_json(t->req, 202, body ? body : "{}");
    free(body);
    t->req = NULL;
    turn_free(t);
}

static aos_result build_event(turn_t *t, aos_event_t **out)
{
    router_turn_t tt = {.conversation_id = t->conversation_id,
                        .message_id = t->message_id,
                        .agent = t->d.agent->name,
                        .text = t->text,
                        .user = t->user,
                        .metadata_json = t->metadata_json,
                        .kind = ROUTER_TURN_QUERY,
                        .reason = t->d.reason,
                        .run_json = t->run_json};
    char *json = NULL;
    AOS_RETURN_IF_FAILED(router_turn_build(&tt, &json));
    aos_event_t *ev = NULL;
    aos_result r = aos_event_create("aos.agent.turn", ROUTER_SOURCE, json, &ev);
    free(json);
    if (r == AOS_OK)
        r = aos_event_set(&ev->id, t->message_id);
    if (r == AOS_OK)
        r = aos_event_set(&ev->group_id, t->conversation_id);
    if (r == AOS_OK)
        r = aos_event_set(&ev->subject, t->conversation_id);
    if (r != AOS_OK) {
        aos_event_free(ev);
        return r;
    }
    *out = ev;
    return AOS_OK;
}

static void send_turn(turn_t *t, aos_event_t *ev);

/* Bus I/O thread (or the caller's, for a turn under the threshold): the turn is ready to go,
 * its text stored as a claim when large (docs/bus.md "Message size"). */
static void on_turn_offloaded(void *ctx, aos_result r, aos_event_t *ev, const char *errmsg)
{
    turn_t *t = ctx;
    if (r != AOS_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "the message could not be stored for the agent: %s",
                 errmsg ? errmsg : aos_result_str(r));
        aos_event_free(ev);
        turn_fail(t, aos_result_is_transient(r) ? AOS_ERR_UNAVAILABLE : r, msg);
        return;
    }
    send_turn(t, ev);
}

void turn_queue_checked(turn_t *t, aos_result checked, const char *why)
{
    if (checked != AOS_OK) {
        turn_fail(t, checked, why);
        return;
    }
    aos_event_t *ev = NULL;
    if (build_event(t, &ev) != AOS_OK) {
        turn_fail(t, AOS_ERR_NOMEM, "could not build the turn");
        return;
    }
    if (aos_storage_claim_offload_async(t->rt->storage, ev,
                                        aos_storage_client_claim_threshold(t->rt->storage),
                                        on_turn_offloaded, t) != AOS_OK) {
        aos_event_free(ev);
        turn_fail(t, AOS_ERR_UNAVAILABLE, "the message could not be stored for the agent");
    }
}

/* Takes ev. */
static void send_turn(turn_t *t, aos_event_t *ev)
{
    router_t *rt = t->rt;
    char queue[128];
    router_agent_queue(t->d.agent->name, queue, sizeof queue);
    char rule[32];
    snprintf(rule, sizeof rule, "%.*s", (int)strcspn(t->d.reason, ":"), t->d.reason);
    aos_metric_counter_inc(aos_metrics_counter(NULL, "aos_router_routed_total",
                                               "Turns routed, by agent and deciding rule.", "agent",
                                               t->d.agent->name, "rule", rule, NULL));
    aos_log(AOS_LOG_INFO, "routed", "conversation_id", t->conversation_id, "message_id",
            t->message_id, "agent", t->d.agent->name, "reason", t->d.reason, NULL);
    if (t->mode == TURN_MODE_BOT_POST) { /* durable, ordered replies (bot_outbound.c) */
        bot_outbound_dispatch(t, queue, ev);
        return;
    }
    aos_result r;
    if (t->mode == TURN_MODE_ASYNC) {
        /* A reply-to lets the runner answer as usual; the unmatched reply is dropped. */
        aos_event_set(&ev->reply_to, aos_bus_reply_address(rt->bus));
        r = aos_bus_send(rt->bus, queue, ev, on_sent, t);
    } else {
        r = aos_bus_request(rt->bus, queue, ev, (int)rt->agents->settings.sync_timeout_ms, on_reply,
                            t);
    }
    aos_event_free(ev);
    if (r != AOS_OK)
        turn_fail(t, AOS_ERR_UNAVAILABLE, "bus unavailable: the turn was not sent");
}

static void dispatch(turn_t *t)
{
    router_queue_check(t);
}

static void on_conv_created(void *ctx, aos_result r, const aos_storage_conversation_t *conv,
                            bool created, const char *errmsg)
{
    (void)conv;
    (void)created;
    turn_t *t = ctx;
    /* conflict: the conversation exists with another agent (explicit agent on an existing
     * conversation, or a race): the turn goes ahead. */
    if (r == AOS_OK || r == AOS_ERR_CONFLICT) {
        dispatch(t);
        return;
    }
    char msg[300];
    snprintf(msg, sizeof msg, "storage: conversation not created: %s",
             errmsg && errmsg[0] ? errmsg : aos_result_str(r));
    turn_fail(t, AOS_ERR_UNAVAILABLE, msg);
}

static void create_conversation(turn_t *t)
{
    if (t->conversation_exists) {
        dispatch(t);
        return;
    }
    if (aos_storage_conversation_create(t->rt->storage, t->conversation_id, t->d.agent->name, NULL,
                                        on_conv_created, t) != AOS_OK)
        turn_fail(t, AOS_ERR_UNAVAILABLE, "storage unavailable");
}

/* Bus I/O thread: the turn has its place in the conversation's order (and the conversation
 * exists); with an Idempotency-Key seen before, the turn is the one that key first named.
 * When the turn was next in line it also holds the lease, and its context travels with it. */
static void on_accepted(void *ctx, aos_result r, const char *data_json, const char *errmsg)
{
    turn_t *t = ctx;
    if (r == AOS_ERR_UNSUPPORTED && !t->idempotency_key) { /* a storage without the ledger */
        create_conversation(t);
        return;
    }
    router_accepted_t a;
    size_t other = (t->text ? strlen(t->text) : 0) + (t->user ? strlen(t->user) : 0) +
                   (t->metadata_json ? strlen(t->metadata_json) : 0);
    if (r == AOS_OK)
        r = router_accepted_parse(data_json, router_turn_run_budget(t->rt, other), &a);
    if (r != AOS_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "storage: the turn was not accepted: %s",
                 errmsg && errmsg[0] ? errmsg : aos_result_str(r));
        turn_fail(t, AOS_ERR_UNAVAILABLE, msg);
        return;
    }
    router_sticky_put(t->rt->sticky, a.conversation_id, a.agent);
    if (a.existing) {
        /* a retried request: the same turn again (the ledger answers it once) */
        snprintf(t->message_id, sizeof t->message_id, "%s", a.turn_id);
        snprintf(t->conversation_id, sizeof t->conversation_id, "%s", a.conversation_id);
        aos_log(AOS_LOG_INFO, "idempotency key seen before; same turn", "conversation_id",
                a.conversation_id, "message_id", a.turn_id, NULL);
    }
    free(t->run_json);
    t->run_json = a.run_json; /* taken */
    a.run_json = NULL;
    router_accepted_clear(&a);
    dispatch(t);
}

/* One storage round trip before the turn is sent: aos.storage.turn.accept creates the
 * conversation when needed, gives the turn the next place in the conversation's order, which
 * runners follow, and, when the turn is next in line, its lease, its user message stored and
 * its context (docs/turn-order.md). */
static void ensure_conversation(turn_t *t)
{
    router_accept_in_t in = {.conversation_id = t->conversation_id,
                             .turn_id = t->message_id,
                             .idempotency_key = t->idempotency_key,
                             .agent = t->d.agent,
                             .kind = router_turn_kind_name(ROUTER_TURN_QUERY),
                             .text = t->text,
                             .user = t->user,
                             .reason = t->d.reason,
                             .metadata_json = t->metadata_json};
    char *data = NULL;
    aos_result r = router_accept_json(t->rt, &in, &data);
    if (r == AOS_OK)
        r = aos_storage_call(t->rt->storage, "turn.accept", data, on_accepted, t);
    free(data);
    if (r != AOS_OK)
        turn_fail(t, AOS_ERR_UNAVAILABLE, "storage unavailable");
}

void turn_classified(turn_t *t, const char *answer)
{
    router_route_classified(t->rt->agents, answer, &t->d);
    ensure_conversation(t);
}

static void route(turn_t *t, const char *sticky)
{
    char why[200];
    aos_result r =
        router_route(t->rt->agents, t->explicit_agent, sticky, t->text, &t->d, why, sizeof why);
    if (r != AOS_OK) {
        turn_fail(t, r == AOS_ERR_NOT_FOUND ? AOS_ERR_INVALID : r, why);
        return;
    }
    if (t->d.needs_classifier)
        classifier_ask(t);
    else
        ensure_conversation(t);
}

static void on_conv_get(void *ctx, aos_result r, const aos_storage_conversation_t *conv,
                        bool created, const char *errmsg)
{
    (void)created;
    turn_t *t = ctx;
    if (r == AOS_OK) {
        t->conversation_exists = true;
        router_sticky_put(t->rt->sticky, t->conversation_id, conv ? conv->agent : NULL);
        route(t, conv ? conv->agent : NULL);
    } else if (r == AOS_ERR_NOT_FOUND) {
        route(t, NULL);
    } else {
        char msg[300];
        snprintf(msg, sizeof msg, "storage: %s", errmsg && errmsg[0] ? errmsg : aos_result_str(r));
        turn_fail(t, AOS_ERR_UNAVAILABLE, msg);
    }
}

void turn_start(turn_t *t)
{
    if (!t->conversation_given) {
        char u[37];
        aos_uuid4(u);
        snprintf(t->conversation_id, sizeof t->conversation_id, "c-%s", u);
        route(t, NULL);
        return;
    }
    char agent[AOS_AGENT_NAME_MAX + 1];
    if (router_sticky_get(t->rt->sticky, t->conversation_id, agent, sizeof agent)) {
        /* known from an earlier turn through this router: no round trip for stickiness */
        t->conversation_exists = true;
        route(t, agent);
        return;
    }
    if (aos_storage_conversation_get(t->rt->storage, t->conversation_id, on_conv_get, t) != AOS_OK)
        turn_fail(t, AOS_ERR_UNAVAILABLE, "storage unavailable");
}
