/* GET /v1/conversations: the operator console's conversation list (docs/http-api.md). Storage
 * lists conversations by id (aos.storage.conversation.list, optionally one agent's); the
 * router walks its pages and keeps those whose id contains q and that were active in
 * [since, until], until it has limit of them or has looked at CONV_SCAN_MAX conversations —
 * then next_cursor says where to go on. Every step is a storage callback; nothing blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/storage_wire.h"
#include "console_query.h"
#include "router_internal.h"

#define CONV_SCAN_MAX 5000 /* conversations looked at per request */
#define CONV_PAGE 200      /* storage page size while scanning */

typedef struct conv_list {
    router_t *rt;
    aos_http_request_t *req;
    router_conv_filter_t f;
    json_object *items;
    size_t scanned;
} conv_list_t;

static void conv_list_free(conv_list_t *c)
{
    json_object_put(c->items);
    free(c);
}

static void conv_list_answer(conv_list_t *c, const char *next_cursor)
{
    json_object *o = json_object_new_object();
    aos_json_add(o, "conversations", json_object_get(c->items));
    if (next_cursor)
        aos_json_add_string(o, "next_cursor", next_cursor);
    else
        json_object_object_add(o, "next_cursor", NULL);
    aos_json_add_int(o, "scanned", (int64_t)c->scanned);
    char *body = NULL;
    if (aos_json_to_string(o, &body, NULL) == AOS_OK)
        aos_http_respond_json(c->req, 200, body);
    else
        router_respond_error(c->req, AOS_ERR_NOMEM, NULL);
    free(body);
    json_object_put(o);
    conv_list_free(c);
}

static void conv_list_fail(conv_list_t *c, aos_result r, const char *msg)
{
    router_respond_error(c->req, r, msg);
    conv_list_free(c);
}

static json_object *conv_out(const aos_storage_conversation_t *conv)
{
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
    return co;
}

static void conv_list_next(conv_list_t *c, const char *cursor);

/* Bus I/O thread: one storage page. */
static void on_page(void *ctx, aos_result r, const char *data_json, const char *errmsg)
{
    conv_list_t *c = ctx;
    json_object *o = NULL, *arr = NULL;
    const char *next = NULL;
    if (r == AOS_OK &&
        (aos_json_parse_object(data_json ? data_json : "", data_json ? strlen(data_json) : 0, 0, 0,
                               &o, NULL, 0) != AOS_OK ||
         aos_json_get_array(o, "conversations", AOS_JSON_REQUIRED, &arr, NULL, 0) != AOS_OK ||
         aos_json_get_string(o, "next_cursor", AOS_JSON_OPTIONAL, &next, NULL, 0) != AOS_OK))
        r = AOS_ERR_PROTOCOL;
    if (r != AOS_OK) {
        json_object_put(o);
        char msg[300];
        snprintf(msg, sizeof msg, "storage: %s", errmsg && errmsg[0] ? errmsg : aos_result_str(r));
        conv_list_fail(c, r == AOS_ERR_PROTOCOL ? r : AOS_ERR_UNAVAILABLE, msg);
        return;
    }
    size_t n = json_object_array_length(arr);
    char last[AOS_STORAGE_ID_MAX + 1] = "";
    for (size_t i = 0; i < n; i++) {
        aos_storage_conversation_t conv = {0};
        if (aos_storage_conversation_from_json(json_object_array_get_idx(arr, i), &conv, NULL, 0) !=
            AOS_OK) {
            aos_storage_conversation_clear(&conv);
            continue;
        }
        c->scanned++;
        snprintf(last, sizeof last, "%s", conv.id);
        if (router_conv_filter_match(&c->f, conv.id, conv.created_ms, conv.updated_ms))
            json_object_array_add(c->items, conv_out(&conv));
        aos_storage_conversation_clear(&conv);
        if (json_object_array_length(c->items) >= c->f.limit || c->scanned >= CONV_SCAN_MAX) {
            /* stopped inside the page: go on after the last one looked at (unless it was
             * the very last conversation) */
            bool end = i + 1 == n && !next;
            char cursor[AOS_STORAGE_ID_MAX + 1];
            snprintf(cursor, sizeof cursor, "%s", last);
            json_object_put(o);
            conv_list_answer(c, end ? NULL : cursor);
            return;
        }
    }
    char cursor[AOS_STORAGE_CURSOR_MAX + 1] = "";
    if (next)
        snprintf(cursor, sizeof cursor, "%s", next);
    json_object_put(o);
    if (!cursor[0] || n == 0) {
        conv_list_answer(c, NULL);
        return;
    }
    conv_list_next(c, cursor);
}

static void conv_list_next(conv_list_t *c, const char *cursor)
{
    json_object *q = json_object_new_object();
    if (c->f.agent[0])
        aos_json_add_string(q, "agent", c->f.agent);
    if (cursor && cursor[0])
        aos_json_add_string(q, "cursor", cursor);
    aos_json_add_int(q, "limit", CONV_PAGE);
    char *data = NULL;
    aos_result r = aos_json_to_string(q, &data, NULL);
    json_object_put(q);
    if (r == AOS_OK)
        r = aos_storage_call(c->rt->storage, "conversation.list", data, on_page, c);
    free(data);
    if (r != AOS_OK)
        conv_list_fail(c, AOS_ERR_UNAVAILABLE, "storage unavailable");
}

void svc_list_conversations(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    if (!router_authorize(rt, req))
        return;
    router_conv_query_t in = {
        aos_http_request_query(req, "agent"),  aos_http_request_query(req, "q"),
        aos_http_request_query(req, "since"),  aos_http_request_query(req, "until"),
        aos_http_request_query(req, "cursor"), aos_http_request_query(req, "limit")};
    conv_list_t *c = calloc(1, sizeof *c);
    char why[200] = "";
    if (!c || !(c->items = json_object_new_array())) {
        free(c);
        router_respond_error(req, AOS_ERR_NOMEM, NULL);
        return;
    }
    c->rt = rt;
    c->req = req;
    /* an agent no longer configured may still own conversations: any valid name filters */
    aos_result r = router_conv_filter_parse(&in, &c->f, why, sizeof why);
    if (r != AOS_OK) {
        conv_list_fail(c, r, why);
        return;
    }
    conv_list_next(c, c->f.cursor);
}
