/* Parsing and validation of aos.storage requests (see request.h). */
#include "aos/base64.h"
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/storage_wire.h"
#include "aos/utf8.h"

typedef aos_result (*parse_fn)(storage_request_t *r, const storage_limits_t *lim, char *errbuf,
                               size_t errlen);

#define E errbuf, errlen

/* ---- field helpers ---- */

typedef bool (*valid_fn)(const char *);

/* A string field checked by a validator. */
static aos_result name_field(const storage_request_t *r, const char *field, aos_json_need need,
                             valid_fn valid, const char *rule, const char **out, char *errbuf,
                             size_t errlen)
{
    AOS_RETURN_IF_FAILED(aos_json_get_string(r->root, field, need, out, E));
    if (*out && !valid(*out))
        return aos_fail(AOS_ERR_INVALID, E, "field '%s' is not a valid %s", field, rule);
    return AOS_OK;
}

static aos_result id_field(const storage_request_t *r, const char *field, aos_json_need need,
                           const char **out, char *errbuf, size_t errlen)
{
    return name_field(r, field, need, aos_storage_valid_id, "id (1-128 of A-Z a-z 0-9 . _ : -)",
                      out, E);
}

/* A JSON object field serialized compactly, at most max bytes; absent = NULL. */
static aos_result object_field(const storage_request_t *r, const char *field, aos_json_need need,
                               size_t max, char **out, char *errbuf, size_t errlen)
{
    json_object *o = NULL;
    size_t n = 0;
    AOS_RETURN_IF_FAILED(aos_json_get_object(r->root, field, need, &o, E));
    if (!o)
        return AOS_OK;
    AOS_RETURN_IF_FAILED(aos_json_to_string(o, out, &n));
    if (n > max)
        return aos_fail(AOS_ERR_TOO_LARGE, E, "field '%s' is over %zu bytes", field, max);
    return AOS_OK;
}

static aos_result int_field(const storage_request_t *r, const char *field, int64_t min, int64_t max,
                            int64_t *out, bool *present, char *errbuf, size_t errlen)
{
    bool have = false;
    AOS_RETURN_IF_FAILED(aos_json_get_int(r->root, field, AOS_JSON_OPTIONAL, out, &have, E));
    if (present)
        *present = have;
    if (have && (*out < min || *out > max))
        return aos_fail(AOS_ERR_INVALID, E, "field '%s' must be in %lld..%lld", field,
                        (long long)min, (long long)max);
    return AOS_OK;
}

static aos_result required_int(const storage_request_t *r, const char *field, int64_t min,
                               int64_t max, int64_t *out, char *errbuf, size_t errlen)
{
    bool have = false;
    AOS_RETURN_IF_FAILED(int_field(r, field, min, max, out, &have, E));
    return have ? AOS_OK : aos_fail(AOS_ERR_INVALID, E, "field '%s' is required", field);
}

static aos_result page_fields(storage_request_t *r, char *errbuf, size_t errlen)
{
    int64_t limit = AOS_STORAGE_PAGE_DEFAULT;
    AOS_RETURN_IF_FAILED(int_field(r, "limit", 1, AOS_STORAGE_PAGE_MAX, &limit, NULL, E));
    r->limit = (size_t)limit;
    return name_field(r, "cursor", AOS_JSON_OPTIONAL, aos_storage_valid_cursor, "cursor",
                      &r->cursor, E);
}

static bool valid_etag(const char *s)
{
    size_t n = strnlen(s, AOS_STORAGE_ETAG_MAX + 1);
    if (n == 0 || n > AOS_STORAGE_ETAG_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < ' ' || s[i] > '~')
            return false;
    return true;
}

/* Prefixes may reach names other tools wrote (aos_storage_valid_blob_name_read). */
static bool valid_blob_prefix_read(const char *s)
{
    size_t n = strnlen(s, AOS_STORAGE_BLOB_NAME_MAX + 1);
    if (n == 0 || n > AOS_STORAGE_BLOB_NAME_MAX || !aos_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\')
            return false;
    return true;
}

/* Writes use AOS's own name rule; reads (head, get, delete) also reach names written by
 * other tools (docs/storage.md, "Blobs written by others"). */
static aos_result blob_target_as(storage_request_t *r, bool write, char *errbuf, size_t errlen)
{
    AOS_RETURN_IF_FAILED(name_field(r, "container", AOS_JSON_REQUIRED, aos_storage_valid_container,
                                    "container name (3-63 of a-z 0-9 -, no leading, trailing "
                                    "or double -)",
                                    &r->container, E));
    if (!write)
        return name_field(r, "name", AOS_JSON_REQUIRED, aos_storage_valid_blob_name_read,
                          "blob name (1-1024 bytes of UTF-8 without control characters or "
                          "\\, no empty, . or .. segment)",
                          &r->name, E);
    return name_field(r, "name", AOS_JSON_REQUIRED, aos_storage_valid_blob_name,
                      "blob name (1-1024 of A-Z a-z 0-9 . _ - /, no empty, . or .. segment)",
                      &r->name, E);
}

static aos_result blob_target(storage_request_t *r, char *errbuf, size_t errlen)
{
    return blob_target_as(r, true, E);
}

static aos_result kind_key(storage_request_t *r, bool need_key, char *errbuf, size_t errlen)
{
    AOS_RETURN_IF_FAILED(name_field(r, "kind", AOS_JSON_REQUIRED, aos_storage_valid_kind,
                                    "record kind (adapter or job)", &r->kind, E));
    if (!need_key)
        return AOS_OK;
    return id_field(r, "key", AOS_JSON_REQUIRED, &r->key, E);
}

/* Derive "<prefix><event id>" when the event id makes a valid id. */
static void derive_id(storage_request_t *r, const char *prefix, const char *event_id)
{
    r->derived_id[0] = '\0';
    if (!event_id)
        return;
    char buf[AOS_STORAGE_ID_MAX + 8];
    snprintf(buf, sizeof buf, "%s%s", prefix, event_id);
    size_t n = strlen(buf);
    if (n < sizeof r->derived_id && aos_storage_valid_id(buf))
        memcpy(r->derived_id, buf, n + 1);
}

/* ---- per-operation parsers ---- */

static aos_result p_conv_create(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                                size_t errlen)
{
    (void)l;
    AOS_RETURN_IF_FAILED(id_field(r, "conversation_id", AOS_JSON_OPTIONAL, &r->conversation_id, E));
    AOS_RETURN_IF_FAILED(name_field(r, "agent", AOS_JSON_REQUIRED, aos_storage_valid_agent,
                                    "agent name (1-64 of A-Z a-z 0-9 . _ -)", &r->agent, E));
    return object_field(r, "metadata", AOS_JSON_OPTIONAL, AOS_STORAGE_METADATA_MAX,
                        &r->metadata_json, E);
}

static aos_result p_conv_id(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                            size_t errlen)
{
    (void)l;
    return id_field(r, "conversation_id", AOS_JSON_REQUIRED, &r->conversation_id, E);
}

static aos_result p_conv_list(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                              size_t errlen)
{
    (void)l;
    AOS_RETURN_IF_FAILED(name_field(r, "agent", AOS_JSON_OPTIONAL, aos_storage_valid_agent,
                                    "agent name", &r->agent, E));
    return page_fields(r, E);
}

static aos_result p_msg_append(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                               size_t errlen)
{
    (void)l;
    AOS_RETURN_IF_FAILED(p_conv_id(r, l, E));
    AOS_RETURN_IF_FAILED(id_field(r, "message_id", AOS_JSON_REQUIRED, &r->message_id, E));
    AOS_RETURN_IF_FAILED(name_field(r, "role", AOS_JSON_REQUIRED, aos_storage_valid_role,
                                    "role (1-32 of a-z _)", &r->role, E));
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(r->root, "content", AOS_JSON_REQUIRED, &r->content, E));
    if (strlen(r->content) > AOS_STORAGE_CONTENT_MAX)
        return aos_fail(AOS_ERR_TOO_LARGE, E, "field 'content' is over %u bytes",
                        AOS_STORAGE_CONTENT_MAX);
    AOS_RETURN_IF_FAILED(object_field(r, "metadata", AOS_JSON_OPTIONAL, AOS_STORAGE_METADATA_MAX,
                                      &r->metadata_json, E));
    r->expected_version = -1;
    return int_field(r, "expected_version", 0, INT64_MAX - 1, &r->expected_version, NULL, E);
}

static aos_result p_msg_list(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                             size_t errlen)
{
    const char *order = NULL;
    AOS_RETURN_IF_FAILED(p_conv_id(r, l, E));
    AOS_RETURN_IF_FAILED(page_fields(r, E));
    AOS_RETURN_IF_FAILED(aos_json_get_string(r->root, "order", AOS_JSON_OPTIONAL, &order, E));
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
        return aos_fail(AOS_ERR_INVALID, E, "field 'order' must be \"asc\" or \"desc\"");
    r->reverse = order && strcmp(order, "desc") == 0;
    return AOS_OK;
}

static aos_result p_blob_begin(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                               size_t errlen)
{
    (void)l;
    AOS_RETURN_IF_FAILED(blob_target(r, E));
    AOS_RETURN_IF_FAILED(name_field(r, "content_type", AOS_JSON_OPTIONAL,
                                    aos_storage_valid_content_type, "content type",
                                    &r->content_type, E));
    return id_field(r, "upload_id", AOS_JSON_OPTIONAL, &r->upload_id, E);
}

static aos_result p_blob_upload(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                                size_t errlen)
{
    (void)l;
    AOS_RETURN_IF_FAILED(blob_target(r, E));
    return id_field(r, "upload_id", AOS_JSON_REQUIRED, &r->upload_id, E);
}

static aos_result p_blob_chunk(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                               size_t errlen)
{
    int64_t index = 0;
    const char *b64 = NULL;
    AOS_RETURN_IF_FAILED(p_blob_upload(r, l, E));
    AOS_RETURN_IF_FAILED(required_int(r, "index", 0, AOS_STORAGE_MAX_CHUNKS - 1, &index, E));
    r->index = (uint32_t)index;
    AOS_RETURN_IF_FAILED(aos_json_get_string(r->root, "data", AOS_JSON_REQUIRED, &b64, E));
    size_t max = storage_limits_chunk(l);
    size_t n = strlen(b64);
    if (n > aos_base64_encoded_len(max))
        return aos_fail(AOS_ERR_TOO_LARGE, E, "chunk is over the %zu byte limit", max);
    if (!(r->chunk = malloc(max ? max : 1)))
        return AOS_ERR_NOMEM;
    aos_result res = aos_base64_decode_into(b64, n, r->chunk, max, &r->chunk_len);
    if (res == AOS_ERR_TOO_LARGE)
        return aos_fail(res, E, "chunk is over the %zu byte limit", max);
    if (res != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, E, "field 'data' is not valid base64");
    if (r->chunk_len == 0 && r->index != 0)
        return aos_fail(AOS_ERR_INVALID, E, "only chunk 0 of an empty blob may be empty");
    return AOS_OK;
}

static aos_result p_blob_commit(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                                size_t errlen)
{
    int64_t count = 0;
    AOS_RETURN_IF_FAILED(p_blob_upload(r, l, E));
    AOS_RETURN_IF_FAILED(required_int(r, "chunk_count", 1, AOS_STORAGE_MAX_CHUNKS, &count, E));
    r->chunk_count = (uint32_t)count;
    return name_field(r, "sha256", AOS_JSON_OPTIONAL, aos_storage_valid_sha256,
                      "sha256 (64 lowercase hex digits)", &r->sha256, E);
}

static aos_result p_blob_name(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                              size_t errlen)
{
    (void)l;
    return blob_target_as(r, false, E);
}

static aos_result p_blob_get(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                             size_t errlen)
{
    int64_t max = (int64_t)storage_limits_chunk(l), offset = 0, length = max;
    AOS_RETURN_IF_FAILED(blob_target_as(r, false, E));
    AOS_RETURN_IF_FAILED(int_field(r, "offset", 0, INT64_MAX, &offset, NULL, E));
    AOS_RETURN_IF_FAILED(int_field(r, "length", 0, INT64_MAX, &length, NULL, E));
    if (length > max)
        length = max; /* capped: the reply tells how much came back */
    r->offset = (uint64_t)offset;
    r->length = (size_t)length;
    return name_field(r, "etag", AOS_JSON_OPTIONAL, valid_etag, "etag", &r->etag, E);
}

static aos_result p_blob_list(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                              size_t errlen)
{
    (void)l;
    AOS_RETURN_IF_FAILED(name_field(r, "container", AOS_JSON_REQUIRED, aos_storage_valid_container,
                                    "container name", &r->container, E));
    AOS_RETURN_IF_FAILED(name_field(r, "prefix", AOS_JSON_OPTIONAL, valid_blob_prefix_read,
                                    "blob name prefix", &r->prefix, E));
    return page_fields(r, E);
}

static aos_result p_rec_key(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                            size_t errlen)
{
    (void)l;
    return kind_key(r, true, E);
}

static aos_result p_rec_put(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                            size_t errlen)
{
    (void)l;
    AOS_RETURN_IF_FAILED(kind_key(r, true, E));
    AOS_RETURN_IF_FAILED(
        object_field(r, "data", AOS_JSON_REQUIRED, AOS_STORAGE_RECORD_DATA_MAX, &r->data_json, E));
    return name_field(r, "if_match", AOS_JSON_OPTIONAL, valid_etag, "version", &r->if_match, E);
}

static aos_result p_rec_delete(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                               size_t errlen)
{
    (void)l;
    AOS_RETURN_IF_FAILED(kind_key(r, true, E));
    return name_field(r, "if_match", AOS_JSON_OPTIONAL, valid_etag, "version", &r->if_match, E);
}

static aos_result p_rec_list(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                             size_t errlen)
{
    (void)l;
    AOS_RETURN_IF_FAILED(kind_key(r, false, E));
    AOS_RETURN_IF_FAILED(id_field(r, "prefix", AOS_JSON_OPTIONAL, &r->prefix, E));
    return page_fields(r, E);
}

/* Turn operations are dispatched by dispatch_turns.c, never parsed here. */
static aos_result p_turn(storage_request_t *r, const storage_limits_t *l, char *errbuf,
                         size_t errlen)
{
    (void)l;
    return aos_fail(AOS_ERR_UNSUPPORTED, E, "%s is a turn operation", r->op_name);
}

static const struct op_entry {
    const char *name;
    parse_fn parse;
    bool writes;
} OPS[AOS_STORAGE_OP_COUNT] = {
    [AOS_STORAGE_OP_CONVERSATION_CREATE] = {"conversation.create", p_conv_create, true},
    [AOS_STORAGE_OP_CONVERSATION_GET] = {"conversation.get", p_conv_id, false},
    [AOS_STORAGE_OP_CONVERSATION_LIST] = {"conversation.list", p_conv_list, false},
    [AOS_STORAGE_OP_CONVERSATION_DELETE] = {"conversation.delete", p_conv_id, true},
    [AOS_STORAGE_OP_MESSAGE_APPEND] = {"message.append", p_msg_append, true},
    [AOS_STORAGE_OP_MESSAGE_LIST] = {"message.list", p_msg_list, false},
    [AOS_STORAGE_OP_BLOB_PUT_BEGIN] = {"blob.put.begin", p_blob_begin, true},
    [AOS_STORAGE_OP_BLOB_PUT_CHUNK] = {"blob.put.chunk", p_blob_chunk, true},
    [AOS_STORAGE_OP_BLOB_PUT_COMMIT] = {"blob.put.commit", p_blob_commit, true},
    [AOS_STORAGE_OP_BLOB_PUT_ABORT] = {"blob.put.abort", p_blob_upload, true},
    [AOS_STORAGE_OP_BLOB_HEAD] = {"blob.head", p_blob_name, false},
    [AOS_STORAGE_OP_BLOB_GET] = {"blob.get", p_blob_get, false},
    [AOS_STORAGE_OP_BLOB_LIST] = {"blob.list", p_blob_list, false},
    [AOS_STORAGE_OP_BLOB_DELETE] = {"blob.delete", p_blob_name, true},
    [AOS_STORAGE_OP_RECORD_GET] = {"record.get", p_rec_key, false},
    [AOS_STORAGE_OP_RECORD_PUT] = {"record.put", p_rec_put, true},
    [AOS_STORAGE_OP_RECORD_LIST] = {"record.list", p_rec_list, false},
    [AOS_STORAGE_OP_RECORD_DELETE] = {"record.delete", p_rec_delete, true},
    [AOS_STORAGE_OP_TURN_ACCEPT] = {"turn.accept", p_turn, true},
    [AOS_STORAGE_OP_TURN_CLAIM] = {"turn.claim", p_turn, true},
    [AOS_STORAGE_OP_TURN_RENEW] = {"turn.renew", p_turn, true},
    [AOS_STORAGE_OP_TURN_COMPLETE] = {"turn.complete", p_turn, true},
    [AOS_STORAGE_OP_TURN_FAIL] = {"turn.fail", p_turn, true},
};

const char *storage_op_name(storage_op op)
{
    return op < AOS_STORAGE_OP_COUNT ? OPS[op].name : "unknown";
}

bool storage_op_writes(storage_op op)
{
    return op < AOS_STORAGE_OP_COUNT && OPS[op].writes;
}

size_t storage_limits_chunk(const storage_limits_t *l)
{
    size_t c = l && l->max_chunk ? l->max_chunk : AOS_STORAGE_CHUNK_DEFAULT;
    return c > AOS_STORAGE_CHUNK_MAX ? AOS_STORAGE_CHUNK_MAX : c;
}

size_t storage_request_max_bytes(const storage_limits_t *l)
{
    size_t floor = AOS_STORAGE_CONTENT_MAX * 6 + AOS_STORAGE_METADATA_MAX + 4096;
    size_t chunk = aos_base64_encoded_len(storage_limits_chunk(l)) + 16384;
    return chunk > floor ? chunk : floor;
}

aos_result storage_request_parse(const char *type, const char *data, size_t len,
                                 const char *event_id, const storage_limits_t *limits,
                                 storage_request_t *out, char *errbuf, size_t errlen)
{
    size_t plen = strlen(AOS_STORAGE_TYPE_PREFIX);
    if (!type || strncmp(type, AOS_STORAGE_TYPE_PREFIX, plen) != 0)
        return aos_fail(AOS_ERR_UNSUPPORTED, E, "event type '%.64s' is not a storage operation",
                        type ? type : "");
    int op = -1;
    for (int i = 0; i < AOS_STORAGE_OP_COUNT; i++)
        if (strcmp(type + plen, OPS[i].name) == 0)
            op = i;
    if (op < 0)
        return aos_fail(AOS_ERR_UNSUPPORTED, E, "unknown storage operation '%.64s'", type);
    out->op = (storage_op)op;
    out->op_name = OPS[op].name;
    if (!data || len == 0) {
        data = "{}";
        len = 2;
    }
    size_t max = storage_request_max_bytes(limits);
    if (len > max)
        return aos_fail(AOS_ERR_TOO_LARGE, E, "request data is %zu bytes, over %zu", len, max);
    char perr[160];
    aos_result r = aos_json_parse_object(data, len, max, 0, &out->root, perr, sizeof perr);
    if (r != AOS_OK)
        return aos_fail(r, E, "request data: %s", perr);
    if (out->op == AOS_STORAGE_OP_CONVERSATION_CREATE)
        derive_id(out, "c-", event_id);
    else if (out->op == AOS_STORAGE_OP_BLOB_PUT_BEGIN)
        derive_id(out, "u-", event_id);
    else if (out->op == AOS_STORAGE_OP_RECORD_PUT)
        derive_id(out, "", event_id); /* the op id of the write */
    return OPS[op].parse(out, limits, E);
}

void storage_request_clear(storage_request_t *req)
{
    if (!req)
        return;
    json_object_put(req->root);
    free(req->metadata_json);
    free(req->data_json);
    free(req->chunk);
    memset(req, 0, sizeof *req);
}
