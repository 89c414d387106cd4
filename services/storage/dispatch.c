/* The storage operations: validated request -> backend call -> reply JSON (see dispatch.h). */
#include "aos/base64.h"
#include "dispatch.h"
#include "dispatch_records.h"
#include "dispatch_turns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/storage_wire.h"

#define E errbuf, errlen

typedef aos_result (*exec_fn)(storage_backend_t *be, const storage_request_t *rq,
                              const storage_limits_t *lim, json_object *reply, char *errbuf,
                              size_t errlen);

/* Add a model object built by a to_json function (NULL = out of memory). */
static aos_result add_obj(json_object *reply, const char *key, json_object *v)
{
    return v ? aos_json_add(reply, key, v) : AOS_ERR_NOMEM;
}

/* aos_json_add refuses NULL values, and json_object_new_null() is NULL in json-c: */
aos_result storage_reply_null_ok(json_object *reply, const char *key, const char *s)
{
    if (s)
        return aos_json_add_string(reply, key, s);
    return json_object_object_add(reply, key, NULL) == 0 ? AOS_OK : AOS_ERR_NOMEM;
}

aos_result storage_reply_items(json_object *reply, const char *key, const void *items, size_t count,
                               storage_item_json_fn item_json, size_t budget, size_t *out_added)
{
    json_object *arr = json_object_new_array();
    aos_result r = arr ? AOS_OK : AOS_ERR_NOMEM;
    size_t used = 0, added = 0;
    for (size_t i = 0; r == AOS_OK && i < count; i++) {
        json_object *o = item_json(items, i);
        size_t n = 0; /* its bytes in the reply: the raw text (aos_json_raw) or json-c's */
        if (o && budget) {
            size_t raw = aos_json_raw_len(o);
            n = (raw ? raw : strlen(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN))) + 1;
        }
        if (o && i > 0 && budget && used + n > budget) {
            json_object_put(o);
            break;
        }
        used += n;
        if (!o || json_object_array_add(arr, o) != 0)
            r = AOS_ERR_NOMEM;
        else
            added++;
    }
    if (out_added)
        *out_added = added;
    if (r == AOS_OK)
        return aos_json_add(reply, key, arr);
    json_object_put(arr);
    return r;
}

static json_object *conversation_json(const void *items, size_t i)
{
    return aos_storage_conversation_to_json((const aos_storage_conversation_t *)items + i);
}

static json_object *message_json(const void *items, size_t i)
{
    return aos_storage_message_to_wire((const aos_storage_message_t *)items + i);
}

static json_object *blob_json(const void *items, size_t i)
{
    return aos_storage_blob_info_to_json((const aos_storage_blob_info_t *)items + i);
}

/* ---- conversations and messages ---- */

static aos_result x_conv_create(storage_backend_t *be, const storage_request_t *rq,
                                const storage_limits_t *lim, json_object *reply, char *errbuf,
                                size_t errlen)
{
    (void)lim;
    char fresh[40];
    const char *id = rq->conversation_id ? rq->conversation_id : rq->derived_id;
    if (!*id) {
        char uuid[37];
        aos_uuid4(uuid);
        snprintf(fresh, sizeof fresh, "c-%s", uuid);
        id = fresh;
    }
    aos_storage_conversation_t in = {
        .id = (char *)id, .agent = (char *)rq->agent, .metadata_json = rq->metadata_json};
    aos_storage_conversation_t out = {0};
    bool created = false;
    aos_result r = be->ops->conversation_create(be, &in, &out, &created, E);
    if (r == AOS_OK)
        r = add_obj(reply, "conversation", aos_storage_conversation_to_json(&out));
    if (r == AOS_OK)
        r = aos_json_add_bool(reply, "created", created);
    aos_storage_conversation_clear(&out);
    return r;
}

static aos_result x_conv_get(storage_backend_t *be, const storage_request_t *rq,
                             const storage_limits_t *lim, json_object *reply, char *errbuf,
                             size_t errlen)
{
    (void)lim;
    aos_storage_conversation_t out = {0};
    aos_result r = be->ops->conversation_get(be, rq->conversation_id, &out, E);
    if (r == AOS_OK)
        r = add_obj(reply, "conversation", aos_storage_conversation_to_json(&out));
    aos_storage_conversation_clear(&out);
    return r;
}

static aos_result x_conv_list(storage_backend_t *be, const storage_request_t *rq,
                              const storage_limits_t *lim, json_object *reply, char *errbuf,
                              size_t errlen)
{
    (void)lim;
    aos_storage_conversation_page_t page = {0};
    aos_result r = be->ops->conversation_list(be, rq->agent, rq->cursor, rq->limit, &page, E);
    if (r == AOS_OK)
        r = storage_reply_items(reply, "conversations", page.items, page.count, conversation_json,
                                0, NULL);
    if (r == AOS_OK)
        r = storage_reply_null_ok(reply, "next_cursor", page.next_cursor);
    aos_storage_conversation_page_clear(&page);
    return r;
}

static aos_result x_conv_delete(storage_backend_t *be, const storage_request_t *rq,
                                const storage_limits_t *lim, json_object *reply, char *errbuf,
                                size_t errlen)
{
    (void)lim;
    bool existed = false;
    aos_result r = be->ops->conversation_delete(be, rq->conversation_id, &existed, E);
    if (r == AOS_OK)
        r = aos_json_add_string(reply, "conversation_id", rq->conversation_id);
    if (r == AOS_OK)
        r = aos_json_add_bool(reply, "deleted", existed);
    return r;
}

static aos_result x_msg_append(storage_backend_t *be, const storage_request_t *rq,
                               const storage_limits_t *lim, json_object *reply, char *errbuf,
                               size_t errlen)
{
    (void)lim;
    aos_storage_message_t in = {.conversation_id = (char *)rq->conversation_id,
                                .id = (char *)rq->message_id,
                                .role = (char *)rq->role,
                                .content = (char *)rq->content,
                                .metadata_json = rq->metadata_json};
    aos_storage_message_t out = {0};
    bool created = false;
    aos_result r = be->ops->message_append(be, &in, rq->expected_version, &out, &created, E);
    if (r == AOS_OK)
        r = add_obj(reply, "message", aos_storage_message_to_wire(&out));
    if (r == AOS_OK)
        r = aos_json_add_bool(reply, "created", created);
    aos_storage_message_clear(&out);
    return r;
}

static aos_result x_msg_list(storage_backend_t *be, const storage_request_t *rq,
                             const storage_limits_t *lim, json_object *reply, char *errbuf,
                             size_t errlen)
{
    (void)lim;
    aos_storage_message_page_t page = {0};
    aos_result r = be->ops->message_list(be, rq->conversation_id, rq->cursor, rq->limit,
                                         rq->reverse, &page, E);
    size_t added = 0;
    if (r == AOS_OK)
        r = storage_reply_items(reply, "messages", page.items, page.count, message_json,
                                AOS_STORAGE_REPLY_BUDGET, &added);
    char cut[32] = ""; /* the page stopped at the reply budget: continue after this seq */
    if (r == AOS_OK && added > 0 && added < page.count)
        snprintf(cut, sizeof cut, "%lld", (long long)page.items[added - 1].seq);
    if (r == AOS_OK)
        r = storage_reply_null_ok(reply, "next_cursor", cut[0] ? cut : page.next_cursor);
    aos_storage_message_page_clear(&page);
    return r;
}

/* ---- blobs ---- */

static aos_result x_blob_begin(storage_backend_t *be, const storage_request_t *rq,
                               const storage_limits_t *lim, json_object *reply, char *errbuf,
                               size_t errlen)
{
    char fresh[40];
    const char *id = rq->upload_id ? rq->upload_id : rq->derived_id;
    if (!*id) {
        char uuid[37];
        aos_uuid4(uuid);
        snprintf(fresh, sizeof fresh, "u-%s", uuid);
        id = fresh;
    }
    aos_result r = be->ops->blob_put_begin(be, rq->container, rq->name, id, rq->content_type, E);
    if (r == AOS_OK)
        r = aos_json_add_string(reply, "upload_id", id);
    if (r == AOS_OK)
        r = aos_json_add_int(reply, "max_chunk", (int64_t)storage_limits_chunk(lim));
    return r;
}

static aos_result x_blob_chunk(storage_backend_t *be, const storage_request_t *rq,
                               const storage_limits_t *lim, json_object *reply, char *errbuf,
                               size_t errlen)
{
    (void)lim;
    aos_result r = be->ops->blob_put_chunk(be, rq->container, rq->name, rq->upload_id, rq->index,
                                           rq->chunk, rq->chunk_len, E);
    if (r == AOS_OK)
        r = aos_json_add_string(reply, "upload_id", rq->upload_id);
    if (r == AOS_OK)
        r = aos_json_add_int(reply, "index", rq->index);
    if (r == AOS_OK)
        r = aos_json_add_int(reply, "size", (int64_t)rq->chunk_len);
    return r;
}

static aos_result x_blob_commit(storage_backend_t *be, const storage_request_t *rq,
                                const storage_limits_t *lim, json_object *reply, char *errbuf,
                                size_t errlen)
{
    (void)lim;
    aos_storage_blob_info_t info = {0};
    aos_result r = be->ops->blob_put_commit(be, rq->container, rq->name, rq->upload_id,
                                            rq->chunk_count, rq->sha256, &info, E);
    if (r == AOS_OK)
        r = add_obj(reply, "blob", aos_storage_blob_info_to_json(&info));
    aos_storage_blob_info_clear(&info);
    return r;
}

static aos_result x_blob_abort(storage_backend_t *be, const storage_request_t *rq,
                               const storage_limits_t *lim, json_object *reply, char *errbuf,
                               size_t errlen)
{
    (void)lim;
    aos_result r = be->ops->blob_put_abort(be, rq->container, rq->name, rq->upload_id, E);
    if (r == AOS_OK)
        r = aos_json_add_string(reply, "upload_id", rq->upload_id);
    if (r == AOS_OK)
        r = aos_json_add_bool(reply, "aborted", true);
    return r;
}

static aos_result x_blob_head(storage_backend_t *be, const storage_request_t *rq,
                              const storage_limits_t *lim, json_object *reply, char *errbuf,
                              size_t errlen)
{
    (void)lim;
    aos_storage_blob_info_t info = {0};
    aos_result r = be->ops->blob_head(be, rq->container, rq->name, &info, E);
    if (r == AOS_OK)
        r = add_obj(reply, "blob", aos_storage_blob_info_to_json(&info));
    aos_storage_blob_info_clear(&info);
    return r;
}

/* Head + one range read pinned to the head's etag (or the caller's). */
static aos_result blob_get_once(storage_backend_t *be, const storage_request_t *rq,
                                aos_storage_blob_info_t *info, unsigned char *buf, size_t *got,
                                char *errbuf, size_t errlen)
{
    AOS_RETURN_IF_FAILED(be->ops->blob_head(be, rq->container, rq->name, info, E));
    if (rq->etag && strcmp(rq->etag, info->etag) != 0)
        return aos_fail(AOS_ERR_CONFLICT, E, "blob changed: etag is %s", info->etag);
    return be->ops->blob_read(be, rq->container, rq->name, rq->offset, rq->length, info->etag, buf,
                              got, E);
}

static aos_result x_blob_get(storage_backend_t *be, const storage_request_t *rq,
                             const storage_limits_t *lim, json_object *reply, char *errbuf,
                             size_t errlen)
{
    (void)lim;
    aos_storage_blob_info_t info = {0};
    size_t got = 0;
    char *b64 = NULL;
    unsigned char *buf = malloc(rq->length ? rq->length : 1);
    if (!buf)
        return AOS_ERR_NOMEM;
    aos_result r = blob_get_once(be, rq, &info, buf, &got, E);
    if (r == AOS_ERR_CONFLICT && !rq->etag) { /* replaced between head and read: once more */
        aos_storage_blob_info_clear(&info);
        r = blob_get_once(be, rq, &info, buf, &got, E);
    }
    if (r == AOS_OK)
        r = aos_base64_encode(buf, got, &b64, NULL);
    free(buf);
    if (r == AOS_OK)
        r = add_obj(reply, "blob", aos_storage_blob_info_to_json(&info));
    if (r == AOS_OK)
        r = aos_json_add_int(reply, "offset", (int64_t)rq->offset);
    if (r == AOS_OK)
        r = aos_json_add_int(reply, "length", (int64_t)got);
    if (r == AOS_OK)
        r = aos_json_add_string(reply, "data", b64);
    if (r == AOS_OK)
        r = aos_json_add_bool(reply, "eof", rq->offset + got >= info.size);
    free(b64);
    aos_storage_blob_info_clear(&info);
    return r;
}

static aos_result x_blob_list(storage_backend_t *be, const storage_request_t *rq,
                              const storage_limits_t *lim, json_object *reply, char *errbuf,
                              size_t errlen)
{
    (void)lim;
    aos_storage_blob_page_t page = {0};
    aos_result r =
        be->ops->blob_list(be, rq->container, rq->prefix, rq->cursor, rq->limit, &page, E);
    if (r == AOS_OK)
        r = storage_reply_items(reply, "blobs", page.items, page.count, blob_json, 0, NULL);
    if (r == AOS_OK)
        r = storage_reply_null_ok(reply, "next_cursor", page.next_cursor);
    aos_storage_blob_page_clear(&page);
    return r;
}

static aos_result x_blob_delete(storage_backend_t *be, const storage_request_t *rq,
                                const storage_limits_t *lim, json_object *reply, char *errbuf,
                                size_t errlen)
{
    (void)lim;
    bool existed = false;
    aos_result r = be->ops->blob_delete(be, rq->container, rq->name, &existed, E);
    if (r == AOS_OK)
        r = aos_json_add_bool(reply, "deleted", existed);
    return r;
}

static const exec_fn EXEC[AOS_STORAGE_OP_COUNT] = {
    [AOS_STORAGE_OP_CONVERSATION_CREATE] = x_conv_create,
    [AOS_STORAGE_OP_CONVERSATION_GET] = x_conv_get,
    [AOS_STORAGE_OP_CONVERSATION_LIST] = x_conv_list,
    [AOS_STORAGE_OP_CONVERSATION_DELETE] = x_conv_delete,
    [AOS_STORAGE_OP_MESSAGE_APPEND] = x_msg_append,
    [AOS_STORAGE_OP_MESSAGE_LIST] = x_msg_list,
    [AOS_STORAGE_OP_BLOB_PUT_BEGIN] = x_blob_begin,
    [AOS_STORAGE_OP_BLOB_PUT_CHUNK] = x_blob_chunk,
    [AOS_STORAGE_OP_BLOB_PUT_COMMIT] = x_blob_commit,
    [AOS_STORAGE_OP_BLOB_PUT_ABORT] = x_blob_abort,
    [AOS_STORAGE_OP_BLOB_HEAD] = x_blob_head,
    [AOS_STORAGE_OP_BLOB_GET] = x_blob_get,
    [AOS_STORAGE_OP_BLOB_LIST] = x_blob_list,
    [AOS_STORAGE_OP_BLOB_DELETE] = x_blob_delete,
    [AOS_STORAGE_OP_RECORD_GET] = storage_x_record_get,
    [AOS_STORAGE_OP_RECORD_PUT] = storage_x_record_put,
    [AOS_STORAGE_OP_RECORD_LIST] = storage_x_record_list,
    [AOS_STORAGE_OP_RECORD_DELETE] = storage_x_record_delete,
};

static void set_error(storage_outcome_t *out, aos_result r, const char *msg)
{
    out->result = r;
    out->action = aos_result_is_transient(r) ? AOS_STORAGE_RELEASE : AOS_STORAGE_REPLY_ERROR;
    if (!msg || !*msg)
        msg = aos_result_str(r);
    snprintf(out->message, sizeof out->message, "%s", msg);
}

void storage_dispatch_raw(storage_backend_t *be, const storage_limits_t *limits, const char *type,
                          const char *event_id, const char *data, size_t len,
                          storage_outcome_t *out)
{
    if (storage_turn_op(type)) { /* turn ledger, order, lease: dispatch_turns.h */
        storage_turn_dispatch(be, type, data, len, out);
        return;
    }
    storage_request_t rq = {0};
    char err[512] = "";
    aos_result r = storage_request_parse(type, data, len, event_id, limits, &rq, err, sizeof err);
    if (rq.op_name) {
        out->op = rq.op;
        out->op_known = true;
    }
    if (r != AOS_OK) {
        /* a request the caller must change: never transient, never released */
        set_error(out, aos_result_is_transient(r) ? AOS_ERR_INVALID : r, err);
        storage_request_clear(&rq);
        return;
    }
    json_object *reply = json_object_new_object();
    r = reply ? EXEC[rq.op](be, &rq, limits, reply, err, sizeof err) : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_to_string(reply, &out->data_json, NULL);
    json_object_put(reply);
    storage_request_clear(&rq);
    if (r != AOS_OK) {
        set_error(out, r, err);
        return;
    }
    out->action = AOS_STORAGE_REPLY;
    out->result = AOS_OK;
    snprintf(out->reply_type, sizeof out->reply_type, "%s.result", type);
}

void storage_dispatch(storage_backend_t *be, const storage_limits_t *limits, const aos_event_t *req,
                      storage_outcome_t *out)
{
    if (req->datacontenttype && strncmp(req->datacontenttype, "application/json", 16) != 0) {
        set_error(out, AOS_ERR_INVALID, "request data must be application/json");
        return;
    }
    storage_dispatch_raw(be, limits, req->type, req->id, req->data, req->data_len, out);
}

void storage_outcome_clear(storage_outcome_t *out)
{
    if (!out)
        return;
    free(out->data_json);
    memset(out, 0, sizeof *out);
}
