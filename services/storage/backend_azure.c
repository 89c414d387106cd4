/* The azure backend of aos-storage on the Azure Storage REST client (aos/azure_storage.h).
 * Layout (docs/azure-storage-layout.md):
 *   aos<prefix>conversations  PK = conversation id, RK "conversation": Agent, Metadata, CreatedMs
 *   aos<prefix>messages       PK = conversation id; RK "head": Version, UpdatedMs;
 *                             RK = seq as 19 zero-padded digits: Id, Role, Content, Metadata,
 *                             Seq, CreatedMs; RK "id:<message id>": Seq (idempotency index)
 *   aos<prefix>records        PK = kind, RK = key: Data, OpId, UpdatedMs; version = ETag
 *   aos<prefix>uploads        PK = upload id, RK "upload": Container, Name, ContentType, State
 *   blobs in their container; metadata aossha256, aosupload; chunks staged as blobs
 *   "<upload id>/<index>" in container aos<prefix>-uploads until commit.
 * An append is one entity group transaction (head + message + index row): all or nothing. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend_azure_internal.h"

#define RK_CONV "conversation"
#define RK_HEAD "head"
#define APPEND_RETRIES 50

aos_result fail_az(azure_be_t *be, aos_result r, char *errbuf, size_t errlen, const char *what)
{
    aos_result m = r;
    if (r == AOS_ERR_TIMEOUT || r == AOS_ERR_RATE_LIMITED || r == AOS_ERR_IO || r == AOS_ERR_AUTH)
        m = AOS_ERR_UNAVAILABLE;
    else if (r == AOS_ERR_PROTOCOL)
        m = AOS_ERR_INTERNAL;
    return aos_fail(m, errbuf, errlen, "%s: %s", what, aos_azure_client_error(be->c));
}

static json_object *new_entity(const char *pk, const char *rk)
{
    json_object *e = json_object_new_object();
    if (e) {
        json_object_object_add(e, "PartitionKey", json_object_new_string(pk));
        json_object_object_add(e, "RowKey", json_object_new_string(rk));
    }
    return e;
}

static void seq_key(int64_t seq, char out[24])
{
    snprintf(out, 24, "%019" PRId64, seq);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* ---- conversations ---- */

static aos_result conv_from_row(json_object *row, const char *id, aos_storage_conversation_t *out)
{
    out->id = strdup(id);
    out->agent = dup_or_empty(aos_azure_entity_get_string(row, "Agent"));
    if (aos_azure_entity_get_text(row, "Metadata", &out->metadata_json) != AOS_OK)
        out->metadata_json = strdup("{}");
    aos_azure_entity_get_int64(row, "CreatedMs", &out->created_ms);
    out->updated_ms = out->created_ms;
    return out->id && out->agent && out->metadata_json ? AOS_OK : AOS_ERR_NOMEM;
}

/* The head row: version (0 when absent) and its ETag ("" when absent). */
static aos_result read_head(azure_be_t *be, const char *id, int64_t *version, int64_t *updated,
                            char *etag, size_t etaglen)
{
    json_object *row = NULL;
    aos_result r = aos_azure_entity_get(be->c, be->t_msg, id, RK_HEAD, &row, etag, etaglen);
    *version = 0;
    if (r == AOS_ERR_NOT_FOUND) {
        etag[0] = '\0';
        return AOS_OK;
    }
    if (r == AOS_OK) {
        aos_azure_entity_get_int64(row, "Version", version);
        aos_azure_entity_get_int64(row, "UpdatedMs", updated);
    }
    json_object_put(row);
    return r;
}

static aos_result conv_load(azure_be_t *be, const char *id, aos_storage_conversation_t *out,
                            char *errbuf, size_t errlen)
{
    json_object *row = NULL;
    aos_result r = aos_azure_entity_get(be->c, be->t_conv, id, RK_CONV, &row, NULL, 0);
    if (r == AOS_ERR_NOT_FOUND)
        return aos_fail(r, errbuf, errlen, "conversation %s not found", id);
    if (r != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "get conversation");
    r = conv_from_row(row, id, out);
    json_object_put(row);
    char etag[256];
    if (r == AOS_OK &&
        (r = read_head(be, id, &out->version, &out->updated_ms, etag, sizeof etag)) != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "get conversation head");
    return r;
}

static aos_result az_conversation_get(storage_backend_t *b, const char *id,
                                      aos_storage_conversation_t *out, char *errbuf, size_t errlen)
{
    return conv_load(AZ(b), id, out, errbuf, errlen);
}

static aos_result az_conversation_create(storage_backend_t *b, const aos_storage_conversation_t *in,
                                         aos_storage_conversation_t *out, bool *out_created,
                                         char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    *out_created = false;
    int64_t now = storage_now_ms();
    const char *meta = in->metadata_json ? in->metadata_json : "{}";
    json_object *e = new_entity(in->id, RK_CONV);
    json_object_object_add(e, "Agent", json_object_new_string(in->agent));
    aos_result r = aos_azure_entity_set_text(e, "Metadata", meta);
    if (r == AOS_OK)
        r = aos_azure_entity_set_int64(e, "CreatedMs", now);
    if (r == AOS_OK)
        r = aos_azure_entity_insert(be->c, be->t_conv, e, NULL, 0);
    json_object_put(e);
    if (r == AOS_OK) {
        *out_created = true;
        out->id = strdup(in->id);
        out->agent = strdup(in->agent);
        out->metadata_json = strdup(meta);
        out->created_ms = out->updated_ms = now;
        return out->id && out->agent && out->metadata_json ? AOS_OK : AOS_ERR_NOMEM;
    }
    if (r != AOS_ERR_CONFLICT)
        return fail_az(be, r, errbuf, errlen, "create conversation");
    AOS_RETURN_IF_FAILED(conv_load(be, in->id, out, errbuf, errlen));
    if (strcmp(out->agent, in->agent) != 0)
        return aos_fail(AOS_ERR_CONFLICT, errbuf, errlen,
                        "conversation %s exists with another agent", in->id);
    return AOS_OK;
}

typedef struct conv_list_ctx {
    azure_be_t *be;
    aos_storage_conversation_page_t *page;
    size_t limit;
} conv_list_ctx_t;

static aos_result conv_list_row(void *ctx, json_object *row)
{
    conv_list_ctx_t *k = ctx;
    if (k->page->count >= k->limit)
        return AOS_OK; /* the extra row only tells that there is more */
    const char *id = aos_azure_entity_get_string(row, "PartitionKey");
    aos_storage_conversation_t *c = &k->page->items[k->page->count++];
    AOS_RETURN_IF_FAILED(conv_from_row(row, id ? id : "", c));
    char etag[256];
    return read_head(k->be, c->id, &c->version, &c->updated_ms, etag, sizeof etag);
}

static aos_result az_conversation_list(storage_backend_t *b, const char *agent, const char *cursor,
                                       size_t limit, aos_storage_conversation_page_t *out,
                                       char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_odata_filter_t *f;
    AOS_RETURN_IF_FAILED(aos_odata_filter_new(&f));
    aos_odata_filter_string(f, "RowKey", AOS_ODATA_EQ, RK_CONV);
    if (agent)
        aos_odata_filter_string(f, "Agent", AOS_ODATA_EQ, agent);
    if (cursor)
        aos_odata_filter_string(f, "PartitionKey", AOS_ODATA_GT, cursor);
    out->items = calloc(limit, sizeof *out->items);
    conv_list_ctx_t k = {be, out, limit};
    bool more = false;
    aos_result r = !out->items || !aos_odata_filter_str(f)
                       ? AOS_ERR_NOMEM
                       : aos_azure_entity_query_each(be->c, be->t_conv, aos_odata_filter_str(f),
                                                     limit + 1, conv_list_row, &k, &more);
    aos_odata_filter_free(f);
    if (r != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "list conversations");
    if (more && out->count)
        out->next_cursor = strdup(out->items[out->count - 1].id);
    return AOS_OK;
}

static aos_result az_conversation_delete(storage_backend_t *b, const char *id, bool *out_existed,
                                         char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    *out_existed = false;
    json_object *row = NULL;
    aos_result r = aos_azure_entity_get(be->c, be->t_conv, id, RK_CONV, &row, NULL, 0);
    json_object_put(row);
    if (r == AOS_ERR_NOT_FOUND)
        return AOS_OK;
    if (r != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "get conversation");
    /* messages first, the conversation row last: a redelivered delete finishes the job */
    if ((r = aos_azure_table_delete_partition(be->c, be->t_msg, id)) != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "delete messages");
    r = aos_azure_entity_delete(be->c, be->t_conv, id, RK_CONV, NULL);
    if (r != AOS_OK && r != AOS_ERR_NOT_FOUND)
        return fail_az(be, r, errbuf, errlen, "delete conversation");
    *out_existed = true;
    return AOS_OK;
}

/* ---- messages ---- */

static aos_result msg_from_row(json_object *row, const char *conv, aos_storage_message_t *out)
{
    out->conversation_id = strdup(conv);
    out->id = dup_or_empty(aos_azure_entity_get_string(row, "Id"));
    out->role = dup_or_empty(aos_azure_entity_get_string(row, "Role"));
    if (aos_azure_entity_get_text(row, "Content", &out->content) != AOS_OK)
        return AOS_ERR_INTERNAL;
    if (aos_azure_entity_get_text(row, "Metadata", &out->metadata_json) != AOS_OK)
        out->metadata_json = strdup("{}");
    aos_azure_entity_get_int64(row, "Seq", &out->seq);
    aos_azure_entity_get_int64(row, "CreatedMs", &out->created_ms);
    return out->conversation_id && out->id && out->role && out->metadata_json ? AOS_OK
                                                                              : AOS_ERR_NOMEM;
}

/* Already stored under this message id? AOS_OK + *found with the stored record. */
static aos_result find_by_id(azure_be_t *be, const aos_storage_message_t *in, bool *found,
                             aos_storage_message_t *out)
{
    char rk[AOS_STORAGE_ID_MAX + 8], sk[24];
    snprintf(rk, sizeof rk, "id:%s", in->id);
    json_object *idx = NULL, *row = NULL;
    int64_t seq = 0;
    *found = false;
    aos_result r = aos_azure_entity_get(be->c, be->t_msg, in->conversation_id, rk, &idx, NULL, 0);
    if (r == AOS_ERR_NOT_FOUND)
        return AOS_OK;
    if (r == AOS_OK && !aos_azure_entity_get_int64(idx, "Seq", &seq))
        r = AOS_ERR_PROTOCOL;
    json_object_put(idx);
    AOS_RETURN_IF_FAILED(r);
    seq_key(seq, sk);
    AOS_RETURN_IF_FAILED(
        aos_azure_entity_get(be->c, be->t_msg, in->conversation_id, sk, &row, NULL, 0));
    r = msg_from_row(row, in->conversation_id, out);
    json_object_put(row);
    *found = r == AOS_OK;
    return r;
}

/* One atomic transaction: head (insert or If-Match replace), message row, id index row. */
static aos_result append_batch(azure_be_t *be, const aos_storage_message_t *in, int64_t seq,
                               const char *head_etag, int64_t now)
{
    char sk[24], ik[AOS_STORAGE_ID_MAX + 8];
    seq_key(seq, sk);
    snprintf(ik, sizeof ik, "id:%s", in->id);
    json_object *head = new_entity(in->conversation_id, RK_HEAD);
    json_object *msg = new_entity(in->conversation_id, sk);
    json_object *idx = new_entity(in->conversation_id, ik);
    aos_result r = head && msg && idx ? AOS_OK : AOS_ERR_NOMEM;
    if (r == AOS_OK) {
        aos_azure_entity_set_int64(head, "Version", seq);
        aos_azure_entity_set_int64(head, "UpdatedMs", now);
        json_object_object_add(msg, "Id", json_object_new_string(in->id));
        json_object_object_add(msg, "Role", json_object_new_string(in->role));
        aos_azure_entity_set_int64(msg, "Seq", seq);
        aos_azure_entity_set_int64(msg, "CreatedMs", now);
        aos_azure_entity_set_int64(idx, "Seq", seq);
        r = aos_azure_entity_set_text(msg, "Content", in->content);
        if (r == AOS_OK)
            r = aos_azure_entity_set_text(msg, "Metadata",
                                          in->metadata_json ? in->metadata_json : "{}");
    }
    if (r == AOS_OK) {
        aos_azure_batch_op_t ops[3] = {
            {head_etag[0] ? AOS_AZURE_BATCH_REPLACE : AOS_AZURE_BATCH_INSERT, head,
             head_etag[0] ? head_etag : NULL},
            {AOS_AZURE_BATCH_INSERT, msg, NULL},
            {AOS_AZURE_BATCH_INSERT, idx, NULL}};
        r = aos_azure_table_batch(be->c, be->t_msg, ops, 3);
    }
    json_object_put(head);
    json_object_put(msg);
    json_object_put(idx);
    return r;
}

static bool same_message(const aos_storage_message_t *a, const aos_storage_message_t *b)
{
    const char *ma = a->metadata_json ? a->metadata_json : "{}";
    const char *mb = b->metadata_json ? b->metadata_json : "{}";
    return !strcmp(a->role, b->role) && !strcmp(a->content, b->content) && !strcmp(ma, mb);
}

static aos_result az_message_append(storage_backend_t *b, const aos_storage_message_t *in,
                                    int64_t expected_version, aos_storage_message_t *out,
                                    bool *out_created, char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    *out_created = false;
    json_object *row = NULL;
    aos_result r =
        aos_azure_entity_get(be->c, be->t_conv, in->conversation_id, RK_CONV, &row, NULL, 0);
    json_object_put(row);
    if (r == AOS_ERR_NOT_FOUND)
        return aos_fail(r, errbuf, errlen, "conversation %s not found", in->conversation_id);
    if (r != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "get conversation");
    for (int attempt = 0; attempt < APPEND_RETRIES; attempt++) {
        bool found = false;
        if ((r = find_by_id(be, in, &found, out)) != AOS_OK)
            return fail_az(be, r, errbuf, errlen, "look up message id");
        if (found)
            return same_message(in, out) ? AOS_OK
                                         : aos_fail(AOS_ERR_CONFLICT, errbuf, errlen,
                                                    "message %s exists with other content", in->id);
        int64_t version = 0, updated = 0;
        char etag[256];
        if ((r = read_head(be, in->conversation_id, &version, &updated, etag, sizeof etag)))
            return fail_az(be, r, errbuf, errlen, "read conversation version");
        if (expected_version >= 0 && version != expected_version)
            return aos_fail(AOS_ERR_CONFLICT, errbuf, errlen,
                            "conversation is at version %" PRId64 ", not %" PRId64, version,
                            expected_version);
        int64_t now = storage_now_ms();
        r = append_batch(be, in, version + 1, etag, now);
        if (r == AOS_OK) {
            *out_created = true;
            aos_storage_message_t rec = {.conversation_id = in->conversation_id,
                                         .id = in->id,
                                         .seq = version + 1,
                                         .role = in->role,
                                         .content = in->content,
                                         .metadata_json =
                                             in->metadata_json ? in->metadata_json : "{}",
                                         .created_ms = now};
            return aos_storage_message_copy(&rec, out);
        }
        if (r != AOS_ERR_CONFLICT) /* a concurrent writer won the race: look again */
            return fail_az(be, r, errbuf, errlen, "append message");
        aos_storage_message_clear(out);
    }
    return aos_fail(AOS_ERR_UNAVAILABLE, errbuf, errlen, "append: too much contention");
}

typedef struct msg_list_ctx {
    aos_storage_message_page_t *page;
    const char *conv;
    size_t cap;
} msg_list_ctx_t;

static aos_result msg_list_row(void *ctx, json_object *row)
{
    msg_list_ctx_t *k = ctx;
    if (k->page->count >= k->cap)
        return AOS_OK;
    return msg_from_row(row, k->conv, &k->page->items[k->page->count++]);
}

static bool parse_seq_cursor(const char *cursor, int64_t *out)
{
    char *end;
    long long v = strtoll(cursor, &end, 10);
    if (end == cursor || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static aos_result az_message_list(storage_backend_t *b, const char *conversation_id,
                                  const char *cursor, size_t limit, bool reverse,
                                  aos_storage_message_page_t *out, char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_storage_conversation_t conv = {0};
    AOS_RETURN_IF_FAILED(conv_load(be, conversation_id, &conv, errbuf, errlen));
    int64_t v = conv.version, c = 0, lo, hi;
    aos_storage_conversation_clear(&conv);
    if (cursor && !parse_seq_cursor(cursor, &c))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad message cursor");
    if (!reverse) {
        lo = cursor ? c + 1 : 1;
        hi = lo + (int64_t)limit - 1 < v ? lo + (int64_t)limit - 1 : v;
    } else {
        hi = cursor ? c - 1 : v;
        lo = hi - (int64_t)limit + 1 > 1 ? hi - (int64_t)limit + 1 : 1;
    }
    if (lo > hi || hi < 1)
        return AOS_OK;
    char klo[24], khi[24];
    seq_key(lo, klo);
    seq_key(hi, khi);
    aos_odata_filter_t *f;
    AOS_RETURN_IF_FAILED(aos_odata_filter_new(&f));
    aos_odata_filter_string(f, "PartitionKey", AOS_ODATA_EQ, conversation_id);
    aos_odata_filter_string(f, "RowKey", AOS_ODATA_GE, klo);
    aos_odata_filter_string(f, "RowKey", AOS_ODATA_LE, khi);
    size_t n = (size_t)(hi - lo + 1);
    out->items = calloc(n, sizeof *out->items);
    msg_list_ctx_t k = {out, conversation_id, n};
    bool more;
    aos_result r = !out->items || !aos_odata_filter_str(f)
                       ? AOS_ERR_NOMEM
                       : aos_azure_entity_query_each(be->c, be->t_msg, aos_odata_filter_str(f), n,
                                                     msg_list_row, &k, &more);
    aos_odata_filter_free(f);
    if (r != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "list messages");
    if (reverse)
        for (size_t i = 0; i < out->count / 2; i++) {
            aos_storage_message_t t = out->items[i];
            out->items[i] = out->items[out->count - 1 - i];
            out->items[out->count - 1 - i] = t;
        }
    char next[24];
    if (reverse ? lo > 1 : hi < v) {
        snprintf(next, sizeof next, "%" PRId64, reverse ? lo : hi);
        out->next_cursor = strdup(next);
    }
    return AOS_OK;
}

/* ---- records ---- */

static aos_result record_from_row(json_object *row, const char *kind, const char *key,
                                  const char *etag, aos_storage_record_t *out)
{
    out->kind = strdup(kind);
    out->key = strdup(key);
    out->version = strdup(etag);
    aos_azure_entity_get_int64(row, "UpdatedMs", &out->updated_ms);
    if (aos_azure_entity_get_text(row, "Data", &out->data_json) != AOS_OK)
        return AOS_ERR_INTERNAL;
    return out->kind && out->key && out->version ? AOS_OK : AOS_ERR_NOMEM;
}

static aos_result record_load(azure_be_t *be, const char *kind, const char *key,
                              aos_storage_record_t *out, char **out_op_id)
{
    json_object *row = NULL;
    char etag[256];
    AOS_RETURN_IF_FAILED(
        aos_azure_entity_get(be->c, be->t_rec, kind, key, &row, etag, sizeof etag));
    aos_result r = record_from_row(row, kind, key, etag, out);
    if (out_op_id) {
        const char *op = aos_azure_entity_get_string(row, "OpId");
        *out_op_id = op ? strdup(op) : NULL;
    }
    json_object_put(row);
    return r;
}

static aos_result az_record_get(storage_backend_t *b, const char *kind, const char *key,
                                aos_storage_record_t *out, char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_result r = record_load(be, kind, key, out, NULL);
    if (r == AOS_ERR_NOT_FOUND)
        return aos_fail(r, errbuf, errlen, "%s %s not found", kind, key);
    return r == AOS_OK ? r : fail_az(be, r, errbuf, errlen, "get record");
}

/* After a refused write: the redelivery of the write that made the current version is a
 * success; anything else is the conflict (or absence) it looks like. */
static aos_result record_refused(azure_be_t *be, const char *kind, const char *key,
                                 const char *op_id, aos_storage_record_t *out, char *errbuf,
                                 size_t errlen)
{
    char *stored_op = NULL;
    aos_result r = record_load(be, kind, key, out, &stored_op);
    bool same_op = r == AOS_OK && op_id && stored_op && !strcmp(op_id, stored_op);
    free(stored_op);
    if (same_op)
        return AOS_OK;
    aos_storage_record_clear(out);
    if (r == AOS_ERR_NOT_FOUND)
        return aos_fail(r, errbuf, errlen, "%s %s not found", kind, key);
    if (r != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "get record");
    return aos_fail(AOS_ERR_CONFLICT, errbuf, errlen, "%s %s: version mismatch", kind, key);
}

static aos_result az_record_put(storage_backend_t *b, const char *kind, const char *key,
                                const char *data_json, const char *if_match, const char *op_id,
                                aos_storage_record_t *out, char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    int64_t now = storage_now_ms();
    json_object *e = new_entity(kind, key);
    aos_result r = aos_azure_entity_set_text(e, "Data", data_json);
    if (op_id)
        json_object_object_add(e, "OpId", json_object_new_string(op_id));
    aos_azure_entity_set_int64(e, "UpdatedMs", now);
    char etag[256] = "";
    if (r == AOS_OK) {
        if (!if_match)
            r = aos_azure_entity_insert(be->c, be->t_rec, e, etag, sizeof etag);
        else
            r = aos_azure_entity_put(be->c, be->t_rec, e, AOS_AZURE_REPLACE,
                                     strcmp(if_match, "*") ? if_match : NULL, etag, sizeof etag);
    }
    if (r == AOS_OK) {
        aos_storage_record_t rec = {.kind = (char *)kind,
                                    .key = (char *)key,
                                    .data_json = (char *)data_json,
                                    .version = etag,
                                    .updated_ms = now};
        r = aos_storage_record_copy(&rec, out);
    } else if (r == AOS_ERR_CONFLICT || r == AOS_ERR_NOT_FOUND ||
               (r == AOS_ERR_INVALID && if_match)) { /* a malformed ETag is a stale one */
        r = record_refused(be, kind, key, op_id, out, errbuf, errlen);
    } else {
        r = fail_az(be, r, errbuf, errlen, "put record");
    }
    json_object_put(e);
    return r;
}

typedef struct rec_list_ctx {
    aos_storage_record_page_t *page;
    const char *kind;
    size_t limit;
} rec_list_ctx_t;

static aos_result rec_list_row(void *ctx, json_object *row)
{
    rec_list_ctx_t *k = ctx;
    if (k->page->count >= k->limit)
        return AOS_OK;
    const char *key = aos_azure_entity_get_string(row, "RowKey");
    const char *etag = aos_azure_entity_get_string(row, "odata.etag");
    return record_from_row(row, k->kind, key ? key : "", etag ? etag : "",
                           &k->page->items[k->page->count++]);
}

static aos_result az_record_list(storage_backend_t *b, const char *kind, const char *prefix,
                                 const char *cursor, size_t limit, aos_storage_record_page_t *out,
                                 char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_odata_filter_t *f;
    AOS_RETURN_IF_FAILED(aos_odata_filter_new(&f));
    aos_odata_filter_string(f, "PartitionKey", AOS_ODATA_EQ, kind);
    if (prefix && *prefix) {
        /* keys are [A-Za-z0-9._:-]: every key with the prefix sorts below prefix + "~" */
        char hi[AOS_STORAGE_ID_MAX + 2];
        snprintf(hi, sizeof hi, "%s~", prefix);
        aos_odata_filter_string(f, "RowKey", AOS_ODATA_GE, prefix);
        aos_odata_filter_string(f, "RowKey", AOS_ODATA_LT, hi);
    }
    if (cursor)
        aos_odata_filter_string(f, "RowKey", AOS_ODATA_GT, cursor);
    out->items = calloc(limit, sizeof *out->items);
    rec_list_ctx_t k = {out, kind, limit};
    bool more = false;
    aos_result r = !out->items || !aos_odata_filter_str(f)
                       ? AOS_ERR_NOMEM
                       : aos_azure_entity_query_each(be->c, be->t_rec, aos_odata_filter_str(f),
                                                     limit + 1, rec_list_row, &k, &more);
    aos_odata_filter_free(f);
    if (r != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "list records");
    if (more && out->count)
        out->next_cursor = strdup(out->items[out->count - 1].key);
    return AOS_OK;
}

static aos_result az_record_delete(storage_backend_t *b, const char *kind, const char *key,
                                   const char *if_match, bool *out_existed, char *errbuf,
                                   size_t errlen)
{
    azure_be_t *be = AZ(b);
    *out_existed = false;
    bool any = !if_match || !strcmp(if_match, "*");
    aos_result r = aos_azure_entity_delete(be->c, be->t_rec, kind, key, any ? NULL : if_match);
    if (r == AOS_OK) {
        *out_existed = true;
        return AOS_OK;
    }
    if (r == AOS_ERR_NOT_FOUND)
        return AOS_OK;
    if (r == AOS_ERR_CONFLICT || (r == AOS_ERR_INVALID && !any))
        return aos_fail(AOS_ERR_CONFLICT, errbuf, errlen, "%s %s: version mismatch", kind, key);
    return fail_az(be, r, errbuf, errlen, "delete record");
}

/* ---- instance ---- */

static aos_result az_health(storage_backend_t *b, char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    json_object *arr = NULL;
    aos_result r = aos_azure_entity_query(be->c, be->t_conv, NULL, 1, NULL, &arr);
    json_object_put(arr);
    return r == AOS_OK ? r
                       : aos_fail(AOS_ERR_UNAVAILABLE, errbuf, errlen, "azure storage: %s",
                                  aos_azure_client_error(be->c));
}

static void az_free(storage_backend_t *b)
{
    azure_be_t *be = AZ(b);
    if (!be)
        return;
    aos_azure_client_free(be->c);
    free(be);
}

static const storage_backend_ops_t azure_ops = {
    .name = "azure",
    .free = az_free,
    .health = az_health,
    .conversation_create = az_conversation_create,
    .conversation_get = az_conversation_get,
    .conversation_list = az_conversation_list,
    .conversation_delete = az_conversation_delete,
    .message_append = az_message_append,
    .message_list = az_message_list,
    .blob_put_begin = az_blob_put_begin,
    .blob_put_chunk = az_blob_put_chunk,
    .blob_put_commit = az_blob_put_commit,
    .blob_put_abort = az_blob_put_abort,
    .blob_head = az_blob_head,
    .blob_read = az_blob_read,
    .blob_list = az_blob_list,
    .blob_delete = az_blob_delete,
    .record_get = az_record_get,
    .record_put = az_record_put,
    .record_list = az_record_list,
    .record_delete = az_record_delete,
};

static bool prefix_valid(const char *p)
{
    if (strlen(p) > 16)
        return false;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

/* Tables and the staging container exist (idempotent). */
static aos_result ensure_layout(azure_be_t *be, char *errbuf, size_t errlen)
{
    const char *tables[] = {be->t_conv, be->t_msg, be->t_rec, be->t_up};
    for (size_t i = 0; i < 4; i++) {
        aos_result r = aos_azure_table_create(be->c, tables[i]);
        if (r != AOS_OK)
            return fail_az(be, r, errbuf, errlen, "create table");
    }
    aos_result r = aos_azure_container_create(be->c, be->staging);
    return r == AOS_OK ? r : fail_az(be, r, errbuf, errlen, "create staging container");
}

aos_result storage_azure_open(const storage_backend_config_t *cfg, storage_backend_t **out_be,
                              char *errbuf, size_t errlen)
{
    *out_be = NULL;
    const char *prefix = cfg->name_prefix ? cfg->name_prefix : "";
    if (!prefix_valid(prefix))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "name prefix must be [a-z0-9]{0,16}");
    if (!cfg->azure_connection_string || !*cfg->azure_connection_string)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "AZURE_STORAGE_CONNECTION_STRING is not set");
    azure_be_t *be = calloc(1, sizeof *be);
    if (!be)
        return AOS_ERR_NOMEM;
    be->base.ops = &azure_ops;
    aos_result r =
        aos_azure_client_new_from_string(cfg->azure_connection_string, &be->c, errbuf, errlen);
    if (r != AOS_OK) {
        free(be);
        return r;
    }
    aos_azure_client_set_timeout_ms(be->c, cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000);
    snprintf(be->t_conv, sizeof be->t_conv, "aos%sconversations", prefix);
    snprintf(be->t_msg, sizeof be->t_msg, "aos%smessages", prefix);
    snprintf(be->t_rec, sizeof be->t_rec, "aos%srecords", prefix);
    snprintf(be->t_up, sizeof be->t_up, "aos%suploads", prefix);
    snprintf(be->staging, sizeof be->staging, "aos%s-uploads", prefix);
    be->uploads = (aos_azure_upload_store_t){be->t_up, be->staging};
    if ((r = ensure_layout(be, errbuf, errlen)) != AOS_OK) {
        az_free(&be->base);
        return r;
    }
    *out_be = &be->base;
    return AOS_OK;
}
