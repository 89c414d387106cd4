/* Request/reply: requests wait in a table keyed by correlation id for a message on this
 * instance's reply queue, or for their deadline (swept from the proactor timeout). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/trace.h"
#include "bus_internal.h"
#include "bus_waiter.h"

#define SYNC_GUARD_MS 2000

static size_t bucket_of(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUS_REQ_BUCKETS;
}

static void request_free(bus_request_t *r)
{
    if (!r)
        return;
    free(r->correlation_id);
    free(r);
}

void bus_requests_add(aos_bus_t *bus, bus_request_t *r)
{
    size_t b = bucket_of(r->correlation_id);
    r->next = bus->requests[b];
    bus->requests[b] = r;
    if (!bus->request_count || r->deadline_ms < bus->next_request_deadline_ms)
        bus->next_request_deadline_ms = r->deadline_ms;
    bus->request_count++;
}

static bus_request_t *request_take(aos_bus_t *bus, const char *correlation_id)
{
    size_t b = bucket_of(correlation_id);
    for (bus_request_t **pp = &bus->requests[b]; *pp; pp = &(*pp)->next) {
        bus_request_t *r = *pp;
        if (strcmp(r->correlation_id, correlation_id) == 0) {
            *pp = r->next;
            bus->request_count--;
            return r;
        }
    }
    return NULL;
}

void bus_requests_on_reply(aos_bus_t *bus, const aos_event_t *reply)
{
    bus_request_t *r = reply->correlation_id ? request_take(bus, reply->correlation_id) : NULL;
    if (!r) {
        aos_log(AOS_LOG_DEBUG, "bus dropped a reply nobody waits for (late or duplicate)",
                "correlation_id", reply->correlation_id ? reply->correlation_id : "", NULL);
        return;
    }
    aos_trace_set(reply->traceparent);
    r->cb(r->ctx, AOS_OK, reply);
    aos_trace_set(NULL);
    request_free(r);
}

void bus_requests_sweep(aos_bus_t *bus, uint64_t now_ms)
{
    if (!bus->request_count || now_ms < bus->next_request_deadline_ms)
        return;
    uint64_t next = UINT64_MAX;
    for (size_t b = 0; b < BUS_REQ_BUCKETS; b++) {
        bus_request_t **pp = &bus->requests[b];
        while (*pp) {
            bus_request_t *r = *pp;
            if (r->deadline_ms <= now_ms) {
                *pp = r->next;
                bus->request_count--;
                r->cb(r->ctx, AOS_ERR_TIMEOUT, NULL);
                request_free(r);
                continue;
            }
            if (r->deadline_ms < next)
                next = r->deadline_ms;
            pp = &r->next;
        }
    }
    bus->next_request_deadline_ms = next;
}

void bus_requests_fail_all(aos_bus_t *bus, aos_result result)
{
    for (size_t b = 0; b < BUS_REQ_BUCKETS; b++) {
        while (bus->requests[b]) {
            bus_request_t *r = bus->requests[b];
            bus->requests[b] = r->next;
            bus->request_count--;
            r->cb(r->ctx, result, NULL);
            request_free(r);
        }
    }
}

/* The request message itself could not be delivered: answer the caller now. */
static void request_send_done(aos_bus_t *bus, bus_send_t *s, aos_result r, const char *detail)
{
    char *corr = s->done_arg;
    s->done_arg = NULL;
    if (r != AOS_OK) {
        bus_request_t *rq = request_take(bus, corr);
        if (rq) {
            aos_log(AOS_LOG_WARN, "bus request not delivered", "address", s->address, "detail",
                    detail ? detail : "", NULL);
            rq->cb(rq->ctx, r, NULL);
            request_free(rq);
        }
    }
    free(corr);
}

aos_result aos_bus_request(aos_bus_t *bus, const char *queue, const aos_event_t *req,
                           int timeout_ms, aos_bus_reply_cb cb, void *ctx)
{
    char addr[BUS_ADDR_MAX];
    if (!bus || !req || !req->id || !*req->id || !cb || timeout_ms <= 0 ||
        aos_bus_map_queue(bus->profile, queue, addr, sizeof addr) != AOS_OK)
        return AOS_ERR_INVALID;
    /* the request as sent: the caller's event with this instance's reply address (a view
     * of it, encoded at once; nothing of it is freed) */
    aos_event_t view = *req;
    view.reply_to = bus->reply_address;
    /* servicebus: the reply goes to this instance's session of the shared aos.reply */
    view.reply_to_group_id = bus->profile == AOS_BUS_PROFILE_SERVICEBUS ? bus->instance_id : NULL;
    char *bytes = NULL;
    size_t len = 0;
    char err[256];
    aos_result r = bus_msg_encode(&view, NULL, 0, &bytes, &len, err, sizeof err);
    if (r != AOS_OK)
        return r;
    bus_request_t *rq = malloc(sizeof *rq); /* not calloc: see bus_cmd_new */
    if (rq)
        *rq = (bus_request_t){0};
    bus_send_t *s = bus_send_new(addr, bytes, len, NULL, NULL);
    bus_cmd_t *c = bus_cmd_new(BUS_CMD_REQUEST);
    char *corr = strdup(req->id);
    if (!rq || !s || !c || !corr || !(rq->correlation_id = strdup(req->id))) {
        request_free(rq);
        if (s)
            bus_send_free(s);
        else
            free(bytes);
        free(c);
        free(corr);
        return AOS_ERR_NOMEM;
    }
    rq->deadline_ms = bus_now_ms() + (uint64_t)timeout_ms;
    rq->cb = cb;
    rq->ctx = ctx;
    s->done = request_send_done;
    s->done_arg = corr;
    c->request = rq;
    c->send = s;
    r = bus_cmd_push(bus, c);
    if (r != AOS_OK) {
        request_free(rq);
        free(corr);
        bus_send_free(s);
        free(c);
    }
    return r;
}

static void sync_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    bus_waiter_complete(ctx, r, NULL, reply);
}

aos_result aos_bus_request_sync(aos_bus_t *bus, const char *queue, const aos_event_t *req,
                                int timeout_ms, aos_event_t **out_reply)
{
    if (!out_reply)
        return AOS_ERR_INVALID;
    *out_reply = NULL;
    if (bus && bus_on_io_thread(bus))
        return AOS_ERR_INVALID;
    bus_waiter_t *w = bus_waiter_new();
    if (!w)
        return AOS_ERR_NOMEM;
    aos_result r = aos_bus_request(bus, queue, req, timeout_ms, sync_reply, w);
    if (r != AOS_OK) {
        bus_waiter_release(w);
        bus_waiter_release(w);
        return r;
    }
    /* the bus answers with AOS_ERR_TIMEOUT at the deadline; the guard only covers a stall */
    r = bus_waiter_wait(w, timeout_ms + SYNC_GUARD_MS, out_reply, NULL, 0);
    bus_waiter_release(w);
    return r;
}

/* A reply on its way: if it is over the reply link's max-message-size the requester gets an
 * aos.error too_large reply at once instead of waiting for its timeout (docs/bus.md "Message
 * size"). */
typedef struct reply_ctx {
    aos_bus_t *bus;
    char *id, *reply_to, *group; /* in the same allocation, after the struct */
    aos_bus_send_cb cb;
    void *ctx;
} reply_ctx_t;

static void reply_ctx_free(reply_ctx_t *rc)
{
    free(rc);
}

/* One allocation for the context and the request's id, reply-to and group. */
static reply_ctx_t *reply_ctx_new(aos_bus_t *bus, const aos_event_t *request, aos_bus_send_cb cb,
                                  void *ctx)
{
    size_t ni = strlen(request->id) + 1, nr = strlen(request->reply_to) + 1,
           ng = request->reply_to_group_id ? strlen(request->reply_to_group_id) + 1 : 0;
    reply_ctx_t *rc = malloc(sizeof *rc + ni + nr + ng);
    if (!rc)
        return NULL;
    char *p = (char *)(rc + 1);
    *rc = (reply_ctx_t){.bus = bus, .cb = cb, .ctx = ctx, .id = p, .reply_to = p + ni};
    memcpy(rc->id, request->id, ni);
    memcpy(rc->reply_to, request->reply_to, nr);
    if (ng) {
        rc->group = p + ni + nr;
        memcpy(rc->group, request->reply_to_group_id, ng);
    }
    return rc;
}

static void reply_sent(void *ctx, aos_result r, const char *detail)
{
    reply_ctx_t *rc = ctx;
    if (r == AOS_ERR_TOO_LARGE) {
        aos_event_t req = {.id = rc->id, .reply_to = rc->reply_to, .reply_to_group_id = rc->group};
        char msg[300];
        snprintf(msg, sizeof msg, "the reply is too large for the bus: %s", detail ? detail : "");
        aos_bus_reply_error(rc->bus, &req, AOS_ERR_TOO_LARGE, msg);
    }
    if (rc->cb)
        rc->cb(rc->ctx, r, detail);
    reply_ctx_free(rc);
}

aos_result aos_bus_reply(aos_bus_t *bus, const aos_event_t *request, const aos_event_t *reply,
                         aos_bus_send_cb cb, void *ctx)
{
    if (!bus || !request || !reply || !request->id)
        return AOS_ERR_INVALID;
    if (!request->reply_to || !*request->reply_to)
        return AOS_ERR_INVALID;
    /* the reply as sent: the caller's event answering request (a view of it, encoded at
     * once; nothing of it is freed) */
    aos_event_t view = *reply;
    view.correlation_id = request->id;
    if (request->reply_to_group_id && *request->reply_to_group_id)
        view.group_id = request->reply_to_group_id;
    /* an error reply is small: no second error for it */
    bool is_error = reply->type && strcmp(reply->type, "aos.error") == 0;
    if (is_error)
        return aos_bus_send_to_address(bus, request->reply_to, &view, cb, ctx);
    reply_ctx_t *rc = reply_ctx_new(bus, request, cb, ctx);
    if (!rc)
        return AOS_ERR_NOMEM;
    aos_result r = aos_bus_send_to_address(bus, request->reply_to, &view, reply_sent, rc);
    if (r != AOS_OK) /* not queued: the callback never runs */
        reply_ctx_free(rc);
    return r;
}

aos_result aos_bus_reply_error(aos_bus_t *bus, const aos_event_t *request, aos_result code,
                               const char *message)
{
    if (!bus || !request)
        return AOS_ERR_INVALID;
    json_object *root = json_object_new_object();
    json_object *err = json_object_new_object();
    if (!root || !err) {
        json_object_put(root);
        json_object_put(err);
        return AOS_ERR_NOMEM;
    }
    aos_json_add_string(err, "code", aos_result_code(code));
    aos_json_add_string(err, "message", message ? message : aos_result_str(code));
    aos_json_add(root, "error", err);
    char source[256];
    snprintf(source, sizeof source, "/aos/%s", bus->instance_id);
    aos_event_t *ev = NULL;
    char *text = NULL;
    aos_result r = aos_json_to_string(root, &text, NULL); /* fails if an add failed */
    json_object_put(root);
    if (r == AOS_OK)
        r = aos_event_create("aos.error", source, text, &ev);
    free(text);
    if (r == AOS_OK)
        r = aos_bus_reply(bus, request, ev, NULL, NULL);
    aos_event_free(ev);
    return r;
}

aos_result aos_bus_reply_result(const aos_event_t *ev, char *msgbuf, size_t msglen)
{
    if (msgbuf && msglen)
        msgbuf[0] = '\0';
    if (!ev || !ev->type || strcmp(ev->type, "aos.error") != 0)
        return AOS_OK;
    json_object *root = NULL;
    char err[128];
    if (!ev->data ||
        aos_json_parse_object(ev->data, ev->data_len, 0, 0, &root, err, sizeof err) != AOS_OK) {
        if (msgbuf && msglen)
            snprintf(msgbuf, msglen, "malformed error reply");
        return AOS_ERR_PROTOCOL;
    }
    json_object *e = NULL;
    const char *code = NULL, *message = NULL;
    if (json_object_object_get_ex(root, "error", &e) && json_object_is_type(e, json_type_object)) {
        aos_json_get_string(e, "code", AOS_JSON_OPTIONAL, &code, err, sizeof err);
        aos_json_get_string(e, "message", AOS_JSON_OPTIONAL, &message, err, sizeof err);
    }
    aos_result r = code ? aos_result_from_code(code) : AOS_ERR_PROTOCOL;
    if (r == AOS_OK)
        r = AOS_ERR_INTERNAL; /* an error reply never means success */
    if (msgbuf && msglen)
        snprintf(msgbuf, msglen, "%s", message ? message : "error reply without a message");
    json_object_put(root);
    return r;
}
