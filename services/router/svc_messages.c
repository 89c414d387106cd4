/* POST /v1/messages and GET /v1/conversations/{id}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/json.h"
#include "aos/log.h"
#include "router_internal.h"

static bool prefers_async(aos_http_request_t *req)
{
    const char *p = aos_http_request_header(req, "Prefer");
    return p && strcasestr(p, "respond-async") != NULL;
}

static aos_result take(char **dst, char **src)
{
    *dst = *src;
    *src = NULL;
    return AOS_OK;
}

void svc_post_message(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    if (!router_authorize(rt, req))
        return;
    size_t len = 0;
    const char *body = aos_http_request_body(req, &len);
    router_message_req_t *m = NULL;
    char why[300];
    aos_result r = router_message_req_parse(body, len, rt->agents->settings.max_text_bytes, &m, why,
                                            sizeof why);
    if (r != AOS_OK) {
        router_respond_error(req, r, why);
        return;
    }
    if (m->agent && !aos_agents_find(rt->agents, m->agent)) {
        snprintf(why, sizeof why, "unknown agent \"%s\" (GET /v1/agents lists them)", m->agent);
        router_message_req_free(m);
        router_respond_error(req, AOS_ERR_INVALID, why);
        return;
    }
    const char *idem = aos_http_request_header(req, "Idempotency-Key");
    bool idem_ok = idem && idem[0] && strlen(idem) <= 255;
    for (const char *c = idem; idem_ok && *c; c++)
        idem_ok = *c >= 0x20 && *c <= 0x7e;
    if (idem && !idem_ok) {
        router_message_req_free(m);
        router_respond_error(req, AOS_ERR_INVALID,
                             "Idempotency-Key must be 1-255 printable ASCII characters");
        return;
    }
    turn_t *t = turn_new(rt, req, prefers_async(req) ? TURN_MODE_ASYNC : TURN_MODE_JSON);
    if (t && idem && !(t->idempotency_key = strdup(idem))) {
        turn_free(t);
        t = NULL;
    }
    if (!t) {
        router_message_req_free(m);
        router_respond_error(req, AOS_ERR_NOMEM, NULL);
        return;
    }
    take(&t->text, &m->text);
    take(&t->user, &m->user);
    take(&t->metadata_json, &m->metadata_json);
    take(&t->explicit_agent, &m->agent);
    if (m->conversation_id) {
        snprintf(t->conversation_id, sizeof t->conversation_id, "%s", m->conversation_id);
        t->conversation_given = true;
    }
    router_message_req_free(m);
    turn_start(t);
}

/* ---- GET /v1/conversations/{id} ---- */

typedef struct conv_read {
    router_t *rt;
    aos_http_request_t *req;
    json_object *out;
    char id[ROUTER_ID_MAX + 1];
    char cursor[512];
    bool has_cursor, reverse;
    size_t limit;
} conv_read_t;

static void conv_read_fail(conv_read_t *c, aos_result r, const char *msg)
{
    router_respond_error(c->req, r, msg);
    json_object_put(c->out);
    free(c);
}

static json_object *message_json(const aos_storage_message_t *m)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    aos_json_add_string(o, "id", m->id);
    aos_json_add_int(o, "seq", m->seq);
    aos_json_add_string(o, "role", m->role);
    aos_json_add_string(o, "content", m->content);
    json_object *meta = NULL;
    if (m->metadata_json &&
        aos_json_parse(m->metadata_json, strlen(m->metadata_json), 0, 0, &meta, NULL, 0) == AOS_OK)
        aos_json_add(o, "metadata", meta);
    aos_json_add_int(o, "created_ms", m->created_ms);
    return o;
}

static void on_messages(void *ctx, aos_result r, const aos_storage_message_page_t *page,
                        const char *errmsg)
{
    conv_read_t *c = ctx;
    if (r != AOS_OK) {
        conv_read_fail(c, r == AOS_ERR_TIMEOUT ? AOS_ERR_UNAVAILABLE : r,
                       errmsg && errmsg[0] ? errmsg : "storage: messages not readable");
        return;
    }
    json_object *arr = json_object_new_array();
    for (size_t i = 0; arr && i < page->count; i++) {
        json_object *m = message_json(&page->items[i]);
        if (m && json_object_array_add(arr, m) != 0)
            json_object_put(m);
    }
    aos_json_add(c->out, "messages", arr);
    if (page->next_cursor && page->next_cursor[0])
        aos_json_add_string(c->out, "next_cursor", page->next_cursor);
    else
        json_object_object_add(c->out, "next_cursor", NULL);
    char *body = NULL;
    if (aos_json_to_string(c->out, &body, NULL) == AOS_OK)
        aos_http_respond_json(c->req, 200, body);
    else
        router_respond_error(c->req, AOS_ERR_NOMEM, NULL);
    free(body);
    json_object_put(c->out);
    free(c);
}

static void on_conversation(void *ctx, aos_result r, const aos_storage_conversation_t *conv,
                            bool created, const char *errmsg)
{
    (void)created;
    conv_read_t *c = ctx;
    if (r != AOS_OK) {
        char msg[300];
        if (r == AOS_ERR_NOT_FOUND)
            snprintf(msg, sizeof msg, "no conversation \"%s\"", c->id);
        else
            snprintf(msg, sizeof msg, "storage: %s",
                     errmsg && errmsg[0] ? errmsg : aos_result_str(r));
        conv_read_fail(c, r == AOS_ERR_TIMEOUT ? AOS_ERR_UNAVAILABLE : r, msg);
        return;
    }
    json_object *co = json_object_new_object();
    aos_json_add_string(co, "id", conv->id);
    aos_json_add_string(co, "agent", conv->agent);
    json_object *meta = NULL;
    if (conv->metadata_json && aos_json_parse(conv->metadata_json, strlen(conv->metadata_json), 0,
                                              0, &meta, NULL, 0) == AOS_OK)
        aos_json_add(co, "metadata", meta);
    aos_json_add_int(co, "version", conv->version);
    aos_json_add_int(co, "created_ms", conv->created_ms);
    aos_json_add_int(co, "updated_ms", conv->updated_ms);
    aos_json_add(c->out, "conversation", co);
    if (aos_storage_message_list(c->rt->storage, c->id, c->has_cursor ? c->cursor : NULL, c->limit,
                                 c->reverse, on_messages, c) != AOS_OK)
        conv_read_fail(c, AOS_ERR_UNAVAILABLE, "storage unavailable");
}

static bool parse_paging(aos_http_request_t *req, conv_read_t *c)
{
    const char *limit = aos_http_request_query(req, "limit");
    const char *cursor = aos_http_request_query(req, "cursor");
    const char *order = aos_http_request_query(req, "order");
    c->limit = 50;
    if (limit) {
        char *end = NULL;
        long v = strtol(limit, &end, 10);
        if (!limit[0] || *end || v < 1 || v > 200) {
            router_respond_error(req, AOS_ERR_INVALID, "query 'limit' must be 1-200");
            return false;
        }
        c->limit = (size_t)v;
    }
    if (cursor) {
        if (!cursor[0] || strlen(cursor) >= sizeof c->cursor) {
            router_respond_error(req, AOS_ERR_INVALID, "query 'cursor' is malformed");
            return false;
        }
        snprintf(c->cursor, sizeof c->cursor, "%s", cursor);
        c->has_cursor = true;
    }
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        router_respond_error(req, AOS_ERR_INVALID, "query 'order' must be asc or desc");
        return false;
    }
    c->reverse = order && strcmp(order, "desc") == 0;
    return true;
}

void svc_get_conversation(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    if (!router_authorize(rt, req))
        return;
    const char *id = aos_http_request_param(req, "id");
    if (!router_id_valid(id)) {
        router_respond_error(req, AOS_ERR_INVALID,
                             "conversation id must be 1-128 characters of A-Z a-z 0-9 . _ : @ -");
        return;
    }
    conv_read_t *c = calloc(1, sizeof *c);
    if (!c || !(c->out = json_object_new_object())) {
        free(c);
        router_respond_error(req, AOS_ERR_NOMEM, NULL);
        return;
    }
    c->rt = rt;
    c->req = req;
    snprintf(c->id, sizeof c->id, "%s", id);
    if (!parse_paging(req, c)) {
        json_object_put(c->out);
        free(c);
        return;
    }
    if (aos_storage_conversation_get(rt->storage, c->id, on_conversation, c) != AOS_OK)
        conv_read_fail(c, AOS_ERR_UNAVAILABLE, "storage unavailable");
}
