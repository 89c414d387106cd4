/* POST /v1/events (CloudEvents / Event Grid deliveries -> event turns) and the CloudEvents
 * webhook handshake (OPTIONS). */
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/claim_check.h"
#include "aos/json.h"
#include "aos/log.h"
#include "events_in.h"
#include "router_internal.h"

#define EVENT_TEXT_DATA_MAX 8192

/* One HTTP delivery (or one message of the ingress queue, svc_ingress.c) fanned out into
 * turns; answered (settled) when the last send is confirmed. */
typedef struct delivery {
    router_t *rt;
    aos_http_request_t *req;
    aos_bus_delivery_t *bus_delivery;         /* instead of req: accepted, or released on failure */
    const char *reply_to, *reply_to_group_id; /* the ingress message's, or NULL */
    atomic_int pending;
    atomic_int failed;
    json_object *summary; /* {"accepted":n,"turns":m,"events":[…]} */
} delivery_t;

typedef struct fanout {
    delivery_t *d;
    aos_event_t *turn; /* ready to send once accepted */
    const aos_agent_def_t *def;
    char agent[AOS_AGENT_NAME_MAX + 1];
    char conversation_id[ROUTER_ID_MAX + 1];
    char *text, *event_json, *event_type; /* kept to store the event's message at acceptance */
    char message_id[48], reason[300];
} fanout_t;

static void fanout_free(fanout_t *f)
{
    aos_event_free(f->turn);
    free(f->text);
    free(f->event_json);
    free(f->event_type);
    free(f);
}

static void delivery_finish(delivery_t *d)
{
    if (d->bus_delivery) {
        if (atomic_load(&d->failed) > 0)
            aos_bus_release(d->bus_delivery); /* redelivered: the turn ids are the same */
        else
            aos_bus_accept(d->bus_delivery);
        json_object_put(d->summary);
        free(d);
        return;
    }
    if (atomic_load(&d->failed) > 0) {
        router_respond_error(d->req, AOS_ERR_UNAVAILABLE,
                             "some event turns could not be queued; retry the delivery");
    } else {
        char *body = NULL;
        aos_json_to_string(d->summary, &body, NULL);
        aos_http_respond_json(d->req, 200, body ? body : "{}");
        free(body);
    }
    json_object_put(d->summary);
    free(d);
}

static void fanout_done(fanout_t *f, bool ok)
{
    delivery_t *d = f->d;
    if (!ok)
        atomic_fetch_add(&d->failed, 1);
    fanout_free(f);
    if (atomic_fetch_sub(&d->pending, 1) == 1)
        delivery_finish(d);
}

static void on_turn_sent(void *ctx, aos_result r, const char *detail)
{
    fanout_t *f = ctx;
    if (r != AOS_OK)
        aos_log(AOS_LOG_WARN, "event turn not queued", "agent", f->agent, "detail",
                detail ? detail : aos_result_str(r), NULL);
    fanout_done(f, r == AOS_OK);
}

/* Bus I/O thread (or the caller's, under the threshold): the turn is ready to go. */
static void on_event_turn_ready(void *ctx, aos_result r, aos_event_t *ev, const char *errmsg)
{
    fanout_t *f = ctx;
    f->turn = ev;
    if (r != AOS_OK) {
        aos_log(AOS_LOG_WARN, "event turn not stored by reference", "agent", f->agent, "detail",
                errmsg ? errmsg : aos_result_str(r), NULL);
        fanout_done(f, false);
        return;
    }
    char queue[128];
    router_agent_queue(f->agent, queue, sizeof queue);
    if (aos_bus_send(f->d->rt->bus, queue, f->turn, on_turn_sent, f) != AOS_OK)
        fanout_done(f, false);
}

/* After the queue check (svc_queues.c): a turn for a missing queue fails the delivery, so
 * the sender retries it instead of the broker dropping it. */
static void on_queue_checked(void *ctx, aos_result r, const char *msg)
{
    fanout_t *f = ctx;
    if (r != AOS_OK) {
        aos_log(AOS_LOG_WARN, "event turn not queued", "agent", f->agent, "detail", msg, NULL);
        fanout_done(f, false);
        return;
    }
    router_t *rt = f->d->rt;
    char queue[128];
    router_agent_queue(f->agent, queue, sizeof queue);
    if (f->d->reply_to) { /* an ingress message asked for the results itself */
        aos_event_set(&f->turn->reply_to, f->d->reply_to);
        if (f->d->reply_to_group_id)
            aos_event_set(&f->turn->reply_to_group_id, f->d->reply_to_group_id);
    } else {
        aos_event_set(&f->turn->reply_to, aos_bus_reply_address(rt->bus));
    }
    /* a large event travels by reference (docs/bus.md "Message size") */
    aos_event_t *ev = f->turn;
    f->turn = NULL;
    if (aos_storage_claim_offload_async(rt->storage, ev,
                                        aos_storage_client_claim_threshold(rt->storage),
                                        on_event_turn_ready, f) != AOS_OK) {
        f->turn = ev;
        fanout_done(f, false);
    }
}

static void send_turn(fanout_t *f)
{
    router_queue_ensure(f->d->rt, f->agent, on_queue_checked, f);
}

/* The turn message, with the lease and context the accept gave (run_json may be NULL). */
static aos_result fanout_build(fanout_t *f, const char *run_json)
{
    router_turn_t t = {.conversation_id = f->conversation_id,
                       .message_id = f->message_id,
                       .agent = f->agent,
                       .text = f->text,
                       .kind = ROUTER_TURN_EVENT,
                       .event_json = f->event_json,
                       .reason = f->reason,
                       .run_json = run_json};
    char *json = NULL;
    aos_result r = router_turn_build(&t, &json);
    aos_event_free(f->turn);
    f->turn = NULL;
    if (r == AOS_OK)
        r = aos_event_create("aos.agent.turn", ROUTER_SOURCE, json, &f->turn);
    if (r == AOS_OK)
        r = aos_event_set(&f->turn->id, f->message_id);
    if (r == AOS_OK)
        r = aos_event_set(&f->turn->group_id, f->conversation_id);
    if (r == AOS_OK)
        r = aos_event_set(&f->turn->subject, f->conversation_id);
    free(json);
    return r;
}

/* Bus I/O thread: the event turn has its place in the agent's events conversation (created
 * when needed) and, when next in line, its lease and context (docs/turn-order.md). */
static void on_events_accepted(void *ctx, aos_result r, const char *data_json, const char *errmsg)
{
    fanout_t *f = ctx;
    router_accepted_t a;
    size_t other = strlen(f->text) + strlen(f->event_json);
    if (r == AOS_OK)
        r = router_accepted_parse(data_json, router_turn_run_budget(f->d->rt, other), &a);
    if (r == AOS_OK) {
        r = fanout_build(f, a.run_json);
        router_accepted_clear(&a);
    }
    if (r == AOS_OK) {
        send_turn(f);
        return;
    }
    aos_log(AOS_LOG_WARN, "event turn not accepted", "agent", f->agent, "detail",
            errmsg && *errmsg ? errmsg : aos_result_str(r), NULL);
    fanout_done(f, false);
}

static aos_result fanout_accept(router_t *rt, fanout_t *f)
{
    router_accept_in_t in = {.conversation_id = f->conversation_id,
                             .turn_id = f->message_id,
                             .agent = f->def,
                             .kind = router_turn_kind_name(ROUTER_TURN_EVENT),
                             .text = f->text,
                             .reason = f->reason,
                             .event_type = f->event_type};
    char *data = NULL;
    aos_result r = router_accept_json(rt, &in, &data);
    if (r == AOS_OK)
        r = aos_storage_call(rt->storage, "turn.accept", data, on_events_accepted, f);
    free(data);
    return r;
}

/* Deterministic per (agent, event source, event id): a redelivered event is the same turn. */
static void event_message_id(const char *agent, const aos_event_t *ev, char out[48])
{
    unsigned char d[32];
    unsigned int n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    memset(d, 0, sizeof d);
    if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
        const char *parts[] = {agent, ev->source ? ev->source : "", ev->id ? ev->id : ""};
        for (int i = 0; i < 3; i++) {
            EVP_DigestUpdate(md, parts[i], strlen(parts[i]));
            EVP_DigestUpdate(md, "\n", 1);
        }
        EVP_DigestFinal_ex(md, d, &n);
    }
    EVP_MD_CTX_free(md);
    memcpy(out, "ev-", 3);
    for (int i = 0; i < 16; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", d[i]);
}

static char *event_text(const aos_event_t *ev)
{
    size_t dl = ev->data ? ev->data_len : 0;
    if (dl > EVENT_TEXT_DATA_MAX)
        dl = EVENT_TEXT_DATA_MAX;
    size_t cap =
        256 + strlen(ev->type) + strlen(ev->source) + (ev->subject ? strlen(ev->subject) : 0) + dl;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    int n = snprintf(s, cap, "Environment event %s from %s%s%s.", ev->type, ev->source,
                     ev->subject ? " about " : "", ev->subject ? ev->subject : "");
    if (dl > 0 && n > 0 && (size_t)n < cap)
        snprintf(s + n, cap - (size_t)n, "\nData: %.*s", (int)dl, ev->data);
    return s;
}

static fanout_t *make_fanout(delivery_t *d, const aos_agent_def_t *a, const aos_event_t *ev,
                             const char *event_json)
{
    fanout_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->d = d;
    f->def = a;
    snprintf(f->agent, sizeof f->agent, "%s", a->name);
    snprintf(f->conversation_id, sizeof f->conversation_id, "events-%s", a->name);
    event_message_id(a->name, ev, f->message_id);
    snprintf(f->reason, sizeof f->reason, "event:%.200s", ev->type);
    f->text = event_text(ev);
    f->event_json = strdup(event_json);
    f->event_type = strdup(ev->type);
    if (!f->text || !f->event_json || !f->event_type || fanout_build(f, NULL) != AOS_OK) {
        fanout_free(f);
        return NULL;
    }
    return f;
}

/* Build every turn first (so nothing is sent when building fails), then start them. */
static size_t plan(delivery_t *d, const router_event_delivery_t *in, fanout_t ***out)
{
    router_t *rt = d->rt;
    size_t n = 0, cap = 8;
    fanout_t **list = malloc(cap * sizeof *list);
    json_object *events = json_object_new_array();
    for (size_t i = 0; list && i < in->count; i++) {
        const aos_event_t *ev = in->events[i];
        char *ej = NULL;
        aos_event_to_json(ev, &ej);
        json_object *e = json_object_new_object(), *agents = json_object_new_array();
        aos_json_add_string(e, "id", ev->id);
        aos_json_add_string(e, "type", ev->type);
        for (size_t k = 0; ej && k < rt->agents->agent_count; k++) {
            const aos_agent_def_t *a = &rt->agents->agents[k];
            if (!aos_agent_subscribed(a, ev->type))
                continue;
            if (n == cap) {
                fanout_t **bigger = realloc(list, cap * 2 * sizeof *list);
                if (!bigger) {
                    atomic_fetch_add(&d->failed, 1);
                    break;
                }
                list = bigger;
                cap *= 2;
            }
            fanout_t *f = make_fanout(d, a, ev, ej);
            if (!f)
                atomic_fetch_add(&d->failed, 1);
            else
                list[n++] = f;
            json_object_array_add(agents, json_object_new_string(a->name));
        }
        aos_json_add(e, "agents", agents);
        json_object_array_add(events, e);
        free(ej);
    }
    aos_json_add_int(d->summary, "accepted", (int64_t)in->count);
    aos_json_add_int(d->summary, "turns", (int64_t)n);
    aos_json_add(d->summary, "events", events);
    *out = list;
    return n;
}

static void fan_out(router_t *rt, aos_http_request_t *req, aos_bus_delivery_t *bd,
                    const router_event_delivery_t *in)
{
    delivery_t *d = calloc(1, sizeof *d);
    if (!d || !(d->summary = json_object_new_object())) {
        free(d);
        if (bd)
            aos_bus_release(bd);
        else
            router_respond_error(req, AOS_ERR_NOMEM, NULL);
        return;
    }
    d->rt = rt;
    d->req = req;
    d->bus_delivery = bd;
    if (bd) { /* borrowed from the delivery's event, valid until it is settled (by d) */
        const aos_event_t *ev = aos_bus_delivery_event(bd);
        d->reply_to = ev->reply_to && *ev->reply_to ? ev->reply_to : NULL;
        d->reply_to_group_id =
            ev->reply_to_group_id && *ev->reply_to_group_id ? ev->reply_to_group_id : NULL;
    }
    aos_metric_counter_add(rt->events_in, in->count);
    fanout_t **list = NULL;
    size_t n = plan(d, in, &list);
    /* +1 holds the delivery open until every fan-out has been started. */
    atomic_store(&d->pending, (int)n + 1);
    for (size_t i = 0; i < n; i++) {
        fanout_t *f = list[i];
        if (fanout_accept(rt, f) != AOS_OK)
            fanout_done(f, false);
    }
    free(list);
    if (atomic_fetch_sub(&d->pending, 1) == 1)
        delivery_finish(d);
}

void svc_post_events(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    if (!router_authorize(rt, req))
        return;
    size_t len = 0;
    const char *body = aos_http_request_body(req, &len);
    router_event_delivery_t *in = NULL;
    char why[300];
    aos_result r = router_events_parse(aos_http_request_header(req, "Content-Type"), body, len, &in,
                                       why, sizeof why);
    if (r == AOS_ERR_UNSUPPORTED) {
        aos_http_respond_error_status(req, 415, "unsupported", why);
        return;
    }
    if (r != AOS_OK) {
        router_respond_error(req, r, why);
        return;
    }
    if (in->is_validation) {
        char *resp = NULL;
        aos_log(AOS_LOG_INFO, "Event Grid subscription validated", NULL);
        if (router_events_validation_response(in->validation_code, &resp) == AOS_OK)
            aos_http_respond_json(req, 200, resp);
        else
            router_respond_error(req, AOS_ERR_NOMEM, NULL);
        free(resp);
    } else {
        fan_out(rt, req, NULL, in);
    }
    router_event_delivery_free(in);
}

void router_events_fan_out_bus(router_t *rt, aos_bus_delivery_t *bd,
                               const router_event_delivery_t *in)
{
    fan_out(rt, NULL, bd, in);
}

void svc_options_events(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    if (!router_authorize(rt, req))
        return;
    const char *origin = aos_http_request_header(req, "WebHook-Request-Origin");
    if (!origin) {
        aos_http_response_header(req, "Allow", "POST, OPTIONS");
        aos_http_respond(req, 200, NULL, NULL, 0);
        return;
    }
    if (!router_webhook_origin_valid(origin)) {
        router_respond_error(req, AOS_ERR_INVALID, "WebHook-Request-Origin is not a host name");
        return;
    }
    aos_http_response_header(req, "WebHook-Allowed-Origin", origin);
    aos_http_response_header(req, "WebHook-Allowed-Rate", "*");
    aos_http_response_header(req, "Allow", "POST, OPTIONS");
    aos_log(AOS_LOG_INFO, "CloudEvents webhook validated", "origin", origin, NULL);
    aos_http_respond(req, 200, NULL, NULL, 0);
}
