/* Typed aos.storage requests over the bus (aos/storage_client.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/claim_check.h"
#include "aos/json.h"
#include "aos/storage_wire.h"
#include "client_internal.h"

#define REPLY_MAX (8u * 1024u * 1024u)

aos_result aos_storage_client_new(const aos_storage_client_config_t *cfg,
                                  aos_storage_client_t **out_client, char *errbuf, size_t errlen)
{
    *out_client = NULL;
    if (!cfg || !cfg->bus)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "a bus is required");
    if (cfg->chunk_size > AOS_STORAGE_CHUNK_MAX)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "chunk size over %u bytes",
                        AOS_STORAGE_CHUNK_MAX);
    aos_storage_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return AOS_ERR_NOMEM;
    c->bus = cfg->bus;
    c->queue = strdup(cfg->queue ? cfg->queue : "aos.storage");
    c->source = strdup(cfg->source ? cfg->source : "/aos/storage-client");
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    c->chunk_size = cfg->chunk_size ? cfg->chunk_size : AOS_STORAGE_CHUNK_DEFAULT;
    c->claim_threshold = cfg->claim_threshold ? cfg->claim_threshold : AOS_CLAIM_THRESHOLD_DEFAULT;
    if (!c->queue || !c->source) {
        aos_storage_client_free(c);
        return AOS_ERR_NOMEM;
    }
    *out_client = c;
    return AOS_OK;
}

size_t aos_storage_client_claim_threshold(const aos_storage_client_t *c)
{
    return c ? c->claim_threshold : AOS_CLAIM_THRESHOLD_DEFAULT;
}

bool sc_op_claimable(const char *op)
{
    return op && strncmp(op, "blob.", 5) != 0;
}

void aos_storage_client_free(aos_storage_client_t *c)
{
    if (!c)
        return;
    free(c->queue);
    free(c->source);
    free(c);
}

/* Build the request event (takes data). */
static aos_result make_request(aos_storage_client_t *c, const char *op, json_object *data,
                               aos_event_t **out_ev)
{
    char type[96], *text = NULL;
    snprintf(type, sizeof type, "aos.storage.%s", op);
    /* no payload: a builder refused an argument (JSON text that is not an object) */
    aos_result r = data ? aos_json_to_string(data, &text, NULL) : AOS_ERR_INVALID;
    json_object_put(data);
    if (r == AOS_OK)
        r = aos_event_create(type, c->source, text, out_ev);
    free(text);
    return r;
}

/* Turn a reply event into its data object, or the service's error. */
static aos_result parse_reply(const aos_event_t *reply, json_object **out, char *errbuf,
                              size_t errlen)
{
    char msg[512] = "";
    *out = NULL;
    aos_result r = aos_bus_reply_result(reply, msg, sizeof msg);
    if (r != AOS_OK)
        return aos_fail(r, errbuf, errlen, "%s", msg[0] ? msg : aos_result_str(r));
    if (!reply->data || reply->data_len == 0)
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "reply without data");
    char perr[128];
    r = aos_json_parse_object(reply->data, reply->data_len, REPLY_MAX, 0, out, perr, sizeof perr);
    if (r != AOS_OK)
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "reply data: %s", perr);
    return AOS_OK;
}

aos_result sc_member(json_object *reply, const char *key, json_object **out, char *errbuf,
                     size_t errlen)
{
    if (aos_json_get_object(reply, key, AOS_JSON_REQUIRED, out, errbuf, errlen) != AOS_OK)
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "reply has no '%s' object", key);
    return AOS_OK;
}

aos_result sc_call_sync(aos_storage_client_t *c, const char *op, json_object *data,
                        json_object **out_reply, char *errbuf, size_t errlen)
{
    aos_event_t *req = NULL, *reply = NULL;
    *out_reply = NULL;
    aos_result r = make_request(c, op, data, &req);
    /* large payloads by reference both ways (aos/claim_check.h) */
    aos_claim_store_t store;
    aos_storage_claim_store(c, &store);
    bool moved = false;
    char claim[300] = "";
    if (r == AOS_OK && sc_op_claimable(op) &&
        (r = aos_claim_check_offload(&store, req, c->claim_threshold, &moved, errbuf, errlen)) !=
            AOS_OK)
        return (aos_event_free(req), r);
    if (r == AOS_OK)
        r = aos_bus_request_sync(c->bus, c->queue, req, c->timeout_ms, &reply);
    if (r == AOS_OK && sc_op_claimable(op) && aos_event_get_ext(reply, AOS_CLAIM_EXT)) {
        snprintf(claim, sizeof claim, "%s", aos_event_get_ext(reply, AOS_CLAIM_EXT));
        if ((r = aos_claim_check_resolve(&store, reply, AOS_CLAIM_MAX, errbuf, errlen)) != AOS_OK) {
            aos_event_free(req);
            aos_event_free(reply);
            return r == AOS_ERR_NOT_FOUND ? aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen,
                                                     "storage %s: the reply's claim is gone", op)
                                          : r;
        }
        aos_storage_claim_delete_async(c, claim); /* read once: the requester settled it */
    }
    if (r == AOS_OK)
        r = parse_reply(reply, out_reply, errbuf, errlen);
    else
        aos_fail(r, errbuf, errlen, "storage %s: %s", op, aos_result_str(r));
    aos_event_free(req);
    aos_event_free(reply);
    return r;
}

/* ---- request payloads ---- */

static json_object *obj(void)
{
    return json_object_new_object();
}

/* Add k=v when v is set; a failed add poisons the object (returns NULL). */
static json_object *with_str(json_object *o, const char *k, const char *v)
{
    if (o && v && aos_json_add_string(o, k, v) != AOS_OK) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *with_int(json_object *o, const char *k, int64_t v)
{
    if (o && aos_json_add_int(o, k, v) != AOS_OK) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Embed JSON object text (NULL: nothing); invalid text poisons the object. */
static json_object *with_json(json_object *o, const char *k, const char *text)
{
    if (!o || !text)
        return o;
    json_object *v = NULL;
    if (aos_json_parse_object(text, strlen(text), AOS_STORAGE_RECORD_DATA_MAX * 2, 0, &v, NULL,
                              0) != AOS_OK ||
        aos_json_add(o, k, v) != AOS_OK) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *conv_create_req(const char *id, const char *agent, const char *meta)
{
    return with_json(with_str(with_str(obj(), "conversation_id", id), "agent", agent), "metadata",
                     meta);
}

static json_object *append_req(const aos_storage_message_t *m, int64_t expected)
{
    json_object *o = with_str(obj(), "conversation_id", m->conversation_id);
    o = with_str(with_str(with_str(o, "message_id", m->id), "role", m->role), "content",
                 m->content);
    o = with_json(o, "metadata", m->metadata_json);
    return expected >= 0 ? with_int(o, "expected_version", expected) : o;
}

static json_object *list_req(json_object *o, const char *cursor, size_t limit)
{
    o = with_str(o, "cursor", cursor);
    return limit ? with_int(o, "limit", (int64_t)limit) : o;
}

static json_object *msg_list_req(const char *conv, const char *cursor, size_t limit, bool rev)
{
    return with_str(list_req(with_str(obj(), "conversation_id", conv), cursor, limit), "order",
                    rev ? "desc" : "asc");
}

static json_object *rec_req(const char *kind, const char *key)
{
    return with_str(with_str(obj(), "kind", kind), "key", key);
}

static json_object *rec_put_req(const char *kind, const char *key, const char *data,
                                const char *if_match)
{
    if (!data)
        return NULL;
    return with_str(with_json(rec_req(kind, key), "data", data), "if_match", if_match);
}

/* ---- decoding replies into typed results ---- */

typedef enum sc_kind { SC_CONV, SC_MSG, SC_PAGE, SC_REC, SC_RAW, SC_JSON } sc_kind;

typedef struct sc_call {
    sc_kind kind;
    void *cb;
    void *ctx;
    aos_storage_client_t *c;
    char *claim; /* the reply's claim blob, deleted once it is read */
} sc_call_t;

static aos_result decode_page(json_object *reply, aos_storage_message_page_t *page, char *errbuf,
                              size_t errlen)
{
    json_object *arr = NULL;
    const char *next = NULL;
    aos_result r = aos_json_get_array(reply, "messages", AOS_JSON_REQUIRED, &arr, errbuf, errlen);
    if (r == AOS_OK)
        r = aos_json_get_string(reply, "next_cursor", AOS_JSON_OPTIONAL, &next, errbuf, errlen);
    if (r != AOS_OK)
        return AOS_ERR_PROTOCOL;
    size_t n = json_object_array_length(arr);
    page->items = calloc(n ? n : 1, sizeof *page->items);
    if (!page->items || (next && !(page->next_cursor = strdup(next))))
        return AOS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++, page->count++)
        if (aos_storage_message_from_json(json_object_array_get_idx(arr, i), &page->items[i],
                                          errbuf, errlen) != AOS_OK)
            return AOS_ERR_PROTOCOL;
    return AOS_OK;
}

static void deliver(sc_call_t *call, aos_result r, json_object *reply, const char *msg)
{
    char err[256] = "";
    bool created = false;
    json_object *member = NULL;
    if (r == AOS_OK && reply) {
        json_object *cv = NULL;
        if (json_object_object_get_ex(reply, "created", &cv))
            created = json_object_get_boolean(cv);
    }
    switch (call->kind) {
    case SC_CONV: {
        aos_storage_conversation_t c = {0};
        if (r == AOS_OK &&
            (r = sc_member(reply, "conversation", &member, err, sizeof err)) == AOS_OK)
            r = aos_storage_conversation_from_json(member, &c, err, sizeof err);
        ((aos_storage_conversation_cb)call->cb)(call->ctx, r, r == AOS_OK ? &c : NULL, created,
                                                r == AOS_OK ? NULL : (msg ? msg : err));
        aos_storage_conversation_clear(&c);
        break;
    }
    case SC_MSG: {
        aos_storage_message_t m = {0};
        if (r == AOS_OK && (r = sc_member(reply, "message", &member, err, sizeof err)) == AOS_OK)
            r = aos_storage_message_from_json(member, &m, err, sizeof err);
        ((aos_storage_message_cb)call->cb)(call->ctx, r, r == AOS_OK ? &m : NULL, created,
                                           r == AOS_OK ? NULL : (msg ? msg : err));
        aos_storage_message_clear(&m);
        break;
    }
    case SC_PAGE: {
        aos_storage_message_page_t p = {0};
        if (r == AOS_OK)
            r = decode_page(reply, &p, err, sizeof err);
        ((aos_storage_message_page_cb)call->cb)(call->ctx, r, r == AOS_OK ? &p : NULL,
                                                r == AOS_OK ? NULL : (msg ? msg : err));
        aos_storage_message_page_clear(&p);
        break;
    }
    case SC_REC: {
        aos_storage_record_t rec = {0};
        if (r == AOS_OK && (r = sc_member(reply, "record", &member, err, sizeof err)) == AOS_OK)
            r = aos_storage_record_from_json(member, &rec, err, sizeof err);
        ((aos_storage_record_cb)call->cb)(call->ctx, r, r == AOS_OK ? &rec : NULL,
                                          r == AOS_OK ? NULL : (msg ? msg : err));
        aos_storage_record_clear(&rec);
        break;
    }
    case SC_JSON:
        ((sc_json_cb)call->cb)(call->ctx, r, r == AOS_OK ? reply : NULL, msg);
        break;
    case SC_RAW: {
        char *text = NULL;
        if (r == AOS_OK)
            r = aos_json_to_string(reply, &text, NULL);
        ((aos_storage_raw_cb)call->cb)(call->ctx, r, text, r == AOS_OK ? NULL : msg);
        free(text);
        break;
    }
    }
}

static void call_free(sc_call_t *call)
{
    free(call->claim);
    free(call);
}

static void finish_reply(sc_call_t *call, aos_result result, const aos_event_t *reply)
{
    json_object *data = NULL;
    char msg[512] = "";
    if (result == AOS_OK)
        result = parse_reply(reply, &data, msg, sizeof msg);
    else
        snprintf(msg, sizeof msg, "storage request failed: %s", aos_result_str(result));
    deliver(call, result, data, msg[0] ? msg : NULL);
    json_object_put(data);
}

/* Bus I/O thread: the reply's data is back from its claim. */
static void on_reply_resolved(void *ctx, aos_result r, aos_event_t *ev, const char *errmsg)
{
    sc_call_t *call = ctx;
    if (r == AOS_OK) {
        finish_reply(call, AOS_OK, ev);
        aos_storage_claim_delete_async(call->c, call->claim); /* read once: settled */
    } else {
        char msg[400];
        snprintf(msg, sizeof msg, "storage reply by reference: %s", errmsg ? errmsg : "");
        deliver(call, r == AOS_ERR_NOT_FOUND ? AOS_ERR_PROTOCOL : r, NULL, msg);
    }
    aos_event_free(ev);
    call_free(call);
}

/* Bus I/O thread. */
static void on_reply(void *ctx, aos_result result, const aos_event_t *reply)
{
    sc_call_t *call = ctx;
    const char *claim =
        result == AOS_OK && call->kind != SC_JSON ? aos_event_get_ext(reply, AOS_CLAIM_EXT) : NULL;
    if (claim) { /* a large reply travels by reference (aos/claim_check.h) */
        aos_event_t *copy = NULL;
        aos_result r =
            (call->claim = strdup(claim)) ? aos_event_clone(reply, &copy) : AOS_ERR_NOMEM;
        if (r == AOS_OK)
            r = aos_storage_claim_resolve_async(call->c, copy, AOS_CLAIM_MAX, on_reply_resolved,
                                                call);
        if (r == AOS_OK)
            return;
        aos_event_free(copy);
        deliver(call, r, NULL, "storage reply by reference: could not fetch it");
        call_free(call);
        return;
    }
    finish_reply(call, result, reply);
    call_free(call);
}

/* Bus I/O thread (or the caller's, when nothing had to move): the request is ready to go. */
static void on_request_offloaded(void *ctx, aos_result r, aos_event_t *req, const char *errmsg)
{
    sc_call_t *call = ctx;
    char msg[400] = "";
    if (r == AOS_OK)
        r = aos_bus_request(call->c->bus, call->c->queue, req, call->c->timeout_ms, on_reply, call);
    else
        snprintf(msg, sizeof msg, "storage request by reference: %s", errmsg ? errmsg : "");
    aos_event_free(req);
    if (r == AOS_OK)
        return;
    deliver(call, r, NULL, msg[0] ? msg : "storage request could not be sent");
    call_free(call);
}

static aos_result call_async(aos_storage_client_t *c, const char *op, json_object *data,
                             sc_kind kind, void *cb, void *ctx)
{
    if (!cb) {
        json_object_put(data);
        return AOS_ERR_INVALID;
    }
    aos_event_t *req = NULL;
    aos_result r = make_request(c, op, data, &req);
    sc_call_t *call = r == AOS_OK ? calloc(1, sizeof *call) : NULL;
    if (r == AOS_OK && !call)
        r = AOS_ERR_NOMEM;
    if (r == AOS_OK) {
        *call = (sc_call_t){.kind = kind, .cb = cb, .ctx = ctx, .c = c};
        if (kind != SC_JSON && sc_op_claimable(op) && req->data_len > c->claim_threshold) {
            /* large: the data goes to a blob first, the request carries the reference */
            r = aos_storage_claim_offload_async(c, req, c->claim_threshold, on_request_offloaded,
                                                call);
            if (r == AOS_OK)
                return AOS_OK; /* req is the chain's now */
        } else {
            r = aos_bus_request(c->bus, c->queue, req, c->timeout_ms, on_reply, call);
        }
        if (r != AOS_OK)
            call_free(call);
    }
    aos_event_free(req);
    return r;
}

aos_result sc_call_json(aos_storage_client_t *c, const char *op, json_object *data, sc_json_cb cb,
                        void *ctx)
{
    return call_async(c, op, data, SC_JSON, (void *)cb, ctx);
}

aos_result aos_storage_conversation_create(aos_storage_client_t *c, const char *id,
                                           const char *agent, const char *metadata_json,
                                           aos_storage_conversation_cb cb, void *ctx)
{
    return call_async(c, "conversation.create", conv_create_req(id, agent, metadata_json), SC_CONV,
                      (void *)cb, ctx);
}

aos_result aos_storage_conversation_get(aos_storage_client_t *c, const char *id,
                                        aos_storage_conversation_cb cb, void *ctx)
{
    return call_async(c, "conversation.get", with_str(obj(), "conversation_id", id), SC_CONV,
                      (void *)cb, ctx);
}

aos_result aos_storage_message_append(aos_storage_client_t *c, const aos_storage_message_t *msg,
                                      int64_t expected_version, aos_storage_message_cb cb,
                                      void *ctx)
{
    return call_async(c, "message.append", append_req(msg, expected_version), SC_MSG, (void *)cb,
                      ctx);
}

aos_result aos_storage_message_list(aos_storage_client_t *c, const char *conversation_id,
                                    const char *cursor, size_t limit, bool reverse,
                                    aos_storage_message_page_cb cb, void *ctx)
{
    return call_async(c, "message.list", msg_list_req(conversation_id, cursor, limit, reverse),
                      SC_PAGE, (void *)cb, ctx);
}

aos_result aos_storage_record_get(aos_storage_client_t *c, const char *kind, const char *key,
                                  aos_storage_record_cb cb, void *ctx)
{
    return call_async(c, "record.get", rec_req(kind, key), SC_REC, (void *)cb, ctx);
}

aos_result aos_storage_record_put(aos_storage_client_t *c, const char *kind, const char *key,
                                  const char *data_json, const char *if_match,
                                  aos_storage_record_cb cb, void *ctx)
{
    return call_async(c, "record.put", rec_put_req(kind, key, data_json, if_match), SC_REC,
                      (void *)cb, ctx);
}

aos_result aos_storage_call(aos_storage_client_t *c, const char *op, const char *data_json,
                            aos_storage_raw_cb cb, void *ctx)
{
    json_object *o = NULL;
    if (aos_json_parse_object(data_json ? data_json : "{}", data_json ? strlen(data_json) : 2, 0, 0,
                              &o, NULL, 0) != AOS_OK)
        return AOS_ERR_INVALID;
    return call_async(c, op, o, SC_RAW, (void *)cb, ctx);
}

/* ---- sync ---- */

/* Call op and decode reply member `key` with fn into out. */
#define SYNC_MEMBER(op, req, key, from_json, out)                                                  \
    do {                                                                                           \
        json_object *reply_ = NULL, *m_ = NULL;                                                    \
        aos_result r_ = sc_call_sync(c, (op), (req), &reply_, errbuf, errlen);                     \
        if (r_ == AOS_OK)                                                                          \
            r_ = sc_member(reply_, (key), &m_, errbuf, errlen);                                    \
        if (r_ == AOS_OK && from_json(m_, (out), errbuf, errlen) != AOS_OK)                        \
            r_ = AOS_ERR_PROTOCOL;                                                                 \
        if (r_ == AOS_OK && out_created) {                                                         \
            json_object *cv_ = NULL;                                                               \
            *out_created = json_object_object_get_ex(reply_, "created", &cv_) &&                   \
                           json_object_get_boolean(cv_);                                           \
        }                                                                                          \
        json_object_put(reply_);                                                                   \
        return r_;                                                                                 \
    } while (0)

aos_result aos_storage_conversation_create_sync(aos_storage_client_t *c, const char *id,
                                                const char *agent, const char *metadata_json,
                                                aos_storage_conversation_t *out, bool *out_created,
                                                char *errbuf, size_t errlen)
{
    SYNC_MEMBER("conversation.create", conv_create_req(id, agent, metadata_json), "conversation",
                aos_storage_conversation_from_json, out);
}

aos_result aos_storage_conversation_get_sync(aos_storage_client_t *c, const char *id,
                                             aos_storage_conversation_t *out, char *errbuf,
                                             size_t errlen)
{
    bool *out_created = NULL;
    SYNC_MEMBER("conversation.get", with_str(obj(), "conversation_id", id), "conversation",
                aos_storage_conversation_from_json, out);
}

aos_result aos_storage_message_append_sync(aos_storage_client_t *c,
                                           const aos_storage_message_t *msg,
                                           int64_t expected_version, aos_storage_message_t *out,
                                           bool *out_created, char *errbuf, size_t errlen)
{
    SYNC_MEMBER("message.append", append_req(msg, expected_version), "message",
                aos_storage_message_from_json, out);
}

aos_result aos_storage_record_get_sync(aos_storage_client_t *c, const char *kind, const char *key,
                                       aos_storage_record_t *out, char *errbuf, size_t errlen)
{
    bool *out_created = NULL;
    SYNC_MEMBER("record.get", rec_req(kind, key), "record", aos_storage_record_from_json, out);
}

aos_result aos_storage_record_put_sync(aos_storage_client_t *c, const char *kind, const char *key,
                                       const char *data_json, const char *if_match,
                                       aos_storage_record_t *out, char *errbuf, size_t errlen)
{
    bool *out_created = NULL;
    SYNC_MEMBER("record.put", rec_put_req(kind, key, data_json, if_match), "record",
                aos_storage_record_from_json, out);
}

aos_result aos_storage_message_list_sync(aos_storage_client_t *c, const char *conversation_id,
                                         const char *cursor, size_t limit, bool reverse,
                                         aos_storage_message_page_t *out, char *errbuf,
                                         size_t errlen)
{
    json_object *reply = NULL;
    aos_result r =
        sc_call_sync(c, "message.list", msg_list_req(conversation_id, cursor, limit, reverse),
                     &reply, errbuf, errlen);
    if (r == AOS_OK)
        r = decode_page(reply, out, errbuf, errlen);
    json_object_put(reply);
    return r;
}

/* Decode reply[key] (an array) with fn into a freshly allocated items array. */
typedef aos_result (*item_from_json)(const json_object *o, void *out, char *errbuf, size_t errlen);

static aos_result decode_list(json_object *reply, const char *key, size_t item_size,
                              item_from_json fn, void **out_items, size_t *out_count,
                              char **out_next, char *errbuf, size_t errlen)
{
    json_object *arr = NULL;
    const char *next = NULL;
    if (aos_json_get_array(reply, key, AOS_JSON_REQUIRED, &arr, errbuf, errlen) != AOS_OK ||
        aos_json_get_string(reply, "next_cursor", AOS_JSON_OPTIONAL, &next, errbuf, errlen) !=
            AOS_OK)
        return AOS_ERR_PROTOCOL;
    size_t n = json_object_array_length(arr);
    char *items = calloc(n ? n : 1, item_size);
    *out_items = items;
    if (!items || (next && !(*out_next = strdup(next))))
        return AOS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++, (*out_count)++)
        if (fn(json_object_array_get_idx(arr, i), items + i * item_size, errbuf, errlen) != AOS_OK)
            return AOS_ERR_PROTOCOL;
    return AOS_OK;
}

aos_result aos_storage_conversation_list_sync(aos_storage_client_t *c, const char *agent,
                                              const char *cursor, size_t limit,
                                              aos_storage_conversation_page_t *out, char *errbuf,
                                              size_t errlen)
{
    json_object *reply = NULL;
    aos_result r = sc_call_sync(c, "conversation.list",
                                list_req(with_str(obj(), "agent", agent), cursor, limit), &reply,
                                errbuf, errlen);
    if (r == AOS_OK)
        r = decode_list(reply, "conversations", sizeof *out->items,
                        (item_from_json)aos_storage_conversation_from_json, (void **)&out->items,
                        &out->count, &out->next_cursor, errbuf, errlen);
    json_object_put(reply);
    return r;
}

aos_result aos_storage_record_list_sync(aos_storage_client_t *c, const char *kind,
                                        const char *prefix, const char *cursor, size_t limit,
                                        aos_storage_record_page_t *out, char *errbuf, size_t errlen)
{
    json_object *reply = NULL;
    json_object *req =
        list_req(with_str(with_str(obj(), "kind", kind), "prefix", prefix), cursor, limit);
    aos_result r = sc_call_sync(c, "record.list", req, &reply, errbuf, errlen);
    if (r == AOS_OK)
        r = decode_list(reply, "records", sizeof *out->items,
                        (item_from_json)aos_storage_record_from_json, (void **)&out->items,
                        &out->count, &out->next_cursor, errbuf, errlen);
    json_object_put(reply);
    return r;
}

aos_result aos_storage_blob_list_sync(aos_storage_client_t *c, const char *container,
                                      const char *prefix, const char *cursor, size_t limit,
                                      aos_storage_blob_page_t *out, char *errbuf, size_t errlen)
{
    json_object *reply = NULL;
    json_object *req = list_req(with_str(with_str(obj(), "container", container), "prefix", prefix),
                                cursor, limit);
    aos_result r = sc_call_sync(c, "blob.list", req, &reply, errbuf, errlen);
    if (r == AOS_OK)
        r = decode_list(reply, "blobs", sizeof *out->items,
                        (item_from_json)aos_storage_blob_info_from_json, (void **)&out->items,
                        &out->count, &out->next_cursor, errbuf, errlen);
    json_object_put(reply);
    return r;
}

/* Call a delete-style op and read its "deleted" flag. */
static aos_result deleted_sync(aos_storage_client_t *c, const char *op, json_object *req,
                               bool *out_existed, char *errbuf, size_t errlen)
{
    json_object *reply = NULL;
    bool existed = false;
    aos_result r = sc_call_sync(c, op, req, &reply, errbuf, errlen);
    if (r == AOS_OK && aos_json_get_bool(reply, "deleted", AOS_JSON_REQUIRED, &existed, NULL,
                                         errbuf, errlen) != AOS_OK)
        r = AOS_ERR_PROTOCOL;
    if (out_existed)
        *out_existed = existed;
    json_object_put(reply);
    return r;
}

aos_result aos_storage_conversation_delete_sync(aos_storage_client_t *c, const char *id,
                                                bool *out_existed, char *errbuf, size_t errlen)
{
    return deleted_sync(c, "conversation.delete", with_str(obj(), "conversation_id", id),
                        out_existed, errbuf, errlen);
}

aos_result aos_storage_record_delete_sync(aos_storage_client_t *c, const char *kind,
                                          const char *key, const char *if_match, bool *out_existed,
                                          char *errbuf, size_t errlen)
{
    return deleted_sync(c, "record.delete", with_str(rec_req(kind, key), "if_match", if_match),
                        out_existed, errbuf, errlen);
}

aos_result aos_storage_blob_delete_sync(aos_storage_client_t *c, const char *container,
                                        const char *name, bool *out_existed, char *errbuf,
                                        size_t errlen)
{
    return deleted_sync(c, "blob.delete",
                        with_str(with_str(obj(), "container", container), "name", name),
                        out_existed, errbuf, errlen);
}

aos_result aos_storage_call_sync(aos_storage_client_t *c, const char *op, const char *data_json,
                                 char **out_data_json, char *errbuf, size_t errlen)
{
    json_object *o = NULL, *reply = NULL;
    *out_data_json = NULL;
    if (aos_json_parse_object(data_json ? data_json : "{}", data_json ? strlen(data_json) : 2, 0, 0,
                              &o, errbuf, errlen) != AOS_OK)
        return AOS_ERR_INVALID;
    aos_result r = sc_call_sync(c, op, o, &reply, errbuf, errlen);
    if (r == AOS_OK)
        r = aos_json_to_string(reply, out_data_json, NULL);
    json_object_put(reply);
    return r;
}
