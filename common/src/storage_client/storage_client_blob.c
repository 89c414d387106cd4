/* Streamed blob transfer: chunked uploads with a SHA-256, range-read downloads pinned to one
 * etag (aos/storage_client.h). One chunk is in memory at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/base64.h"
#include "aos/json.h"
#include "aos/storage_wire.h"
#include "client_internal.h"

static json_object *target(const char *container, const char *name)
{
    json_object *o = json_object_new_object();
    if (o && (aos_json_add_string(o, "container", container) != AOS_OK ||
              aos_json_add_string(o, "name", name) != AOS_OK)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Fill buf up to cap from the reader; *out_eof when it reported the end. */
static aos_result fill(aos_storage_read_fn read, void *ctx, unsigned char *buf, size_t cap,
                       size_t *out_len, bool *out_eof)
{
    size_t have = 0;
    *out_eof = false;
    while (have < cap) {
        size_t n = 0;
        AOS_RETURN_IF_FAILED(read(ctx, buf + have, cap - have, &n));
        if (n == 0) {
            *out_eof = true;
            break;
        }
        have += n;
    }
    *out_len = have;
    return AOS_OK;
}

static aos_result send_chunk(aos_storage_client_t *c, const char *container, const char *name,
                             const char *upload_id, uint32_t index, const unsigned char *data,
                             size_t len, char *errbuf, size_t errlen)
{
    char *b64 = NULL;
    json_object *req = target(container, name), *reply = NULL;
    aos_result r = req ? aos_base64_encode(data, len, &b64, NULL) : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_string(req, "upload_id", upload_id);
    if (r == AOS_OK)
        r = aos_json_add_int(req, "index", index);
    if (r == AOS_OK)
        r = aos_json_add_string(req, "data", b64);
    free(b64);
    if (r != AOS_OK) {
        json_object_put(req);
        return r;
    }
    r = sc_call_sync(c, "blob.put.chunk", req, &reply, errbuf, errlen);
    json_object_put(reply);
    return r;
}

static aos_result begin_upload(aos_storage_client_t *c, const char *container, const char *name,
                               const char *content_type, char *upload_id, size_t *chunk,
                               char *errbuf, size_t errlen)
{
    json_object *req = target(container, name), *reply = NULL;
    if (req && content_type && aos_json_add_string(req, "content_type", content_type) != AOS_OK)
        req = (json_object_put(req), NULL);
    aos_result r = sc_call_sync(c, "blob.put.begin", req, &reply, errbuf, errlen);
    const char *id = NULL;
    int64_t max = 0;
    if (r == AOS_OK && (aos_json_get_string(reply, "upload_id", AOS_JSON_REQUIRED, &id, errbuf,
                                            errlen) != AOS_OK ||
                        aos_json_get_int(reply, "max_chunk", AOS_JSON_REQUIRED, &max, NULL, errbuf,
                                         errlen) != AOS_OK ||
                        !aos_storage_valid_id(id) || max <= 0))
        r = AOS_ERR_PROTOCOL;
    if (r == AOS_OK) {
        snprintf(upload_id, AOS_STORAGE_ID_MAX + 1, "%s", id);
        *chunk = c->chunk_size < (size_t)max ? c->chunk_size : (size_t)max;
    }
    json_object_put(reply);
    return r;
}

static aos_result commit_upload(aos_storage_client_t *c, const char *container, const char *name,
                                const char *upload_id, uint32_t count, const char *sha,
                                aos_storage_blob_info_t *out, char *errbuf, size_t errlen)
{
    json_object *req = target(container, name), *reply = NULL, *blob = NULL;
    aos_result r = req ? AOS_OK : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_string(req, "upload_id", upload_id);
    if (r == AOS_OK)
        r = aos_json_add_int(req, "chunk_count", count);
    if (r == AOS_OK)
        r = aos_json_add_string(req, "sha256", sha);
    if (r != AOS_OK) {
        json_object_put(req);
        return r;
    }
    r = sc_call_sync(c, "blob.put.commit", req, &reply, errbuf, errlen);
    if (r == AOS_OK)
        r = sc_member(reply, "blob", &blob, errbuf, errlen);
    if (r == AOS_OK && out && aos_storage_blob_info_from_json(blob, out, errbuf, errlen) != AOS_OK)
        r = AOS_ERR_PROTOCOL;
    json_object_put(reply);
    return r;
}

static void abort_upload(aos_storage_client_t *c, const char *container, const char *name,
                         const char *upload_id)
{
    json_object *req = target(container, name), *reply = NULL;
    if (req && aos_json_add_string(req, "upload_id", upload_id) == AOS_OK) {
        (void)sc_call_sync(c, "blob.put.abort", req, &reply, NULL, 0);
        json_object_put(reply);
    } else {
        json_object_put(req);
    }
}

aos_result aos_storage_blob_put_sync(aos_storage_client_t *c, const char *container,
                                     const char *name, const char *content_type,
                                     aos_storage_read_fn read, void *read_ctx,
                                     aos_storage_blob_info_t *out_info, char *errbuf, size_t errlen)
{
    char upload_id[AOS_STORAGE_ID_MAX + 1], sha[65];
    size_t chunk = 0;
    AOS_RETURN_IF_FAILED(
        begin_upload(c, container, name, content_type, upload_id, &chunk, errbuf, errlen));
    unsigned char *buf = malloc(chunk);
    aos_storage_sha256_t h = {0};
    aos_result r = buf ? aos_storage_sha256_init(&h) : AOS_ERR_NOMEM;
    uint32_t index = 0;
    bool eof = false;
    while (r == AOS_OK && !eof) {
        size_t n = 0;
        r = fill(read, read_ctx, buf, chunk, &n, &eof);
        if (r != AOS_OK || (n == 0 && index > 0))
            break;
        if (index >= AOS_STORAGE_MAX_CHUNKS) {
            r = aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "blob over %d chunks",
                         AOS_STORAGE_MAX_CHUNKS);
            break;
        }
        r = aos_storage_sha256_update(&h, buf, n);
        if (r == AOS_OK)
            r = send_chunk(c, container, name, upload_id, index++, buf, n, errbuf, errlen);
    }
    free(buf);
    if (r == AOS_OK)
        r = aos_storage_sha256_final(&h, sha);
    aos_storage_sha256_free(&h);
    if (r == AOS_OK)
        r = commit_upload(c, container, name, upload_id, index, sha, out_info, errbuf, errlen);
    if (r != AOS_OK)
        abort_upload(c, container, name, upload_id);
    return r;
}

typedef struct mem_reader {
    const unsigned char *data;
    size_t len, pos;
} mem_reader_t;

static aos_result mem_read(void *ctx, void *buf, size_t cap, size_t *out_len)
{
    mem_reader_t *m = ctx;
    size_t n = m->len - m->pos < cap ? m->len - m->pos : cap;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    *out_len = n;
    return AOS_OK;
}

aos_result aos_storage_blob_put_buffer_sync(aos_storage_client_t *c, const char *container,
                                            const char *name, const char *content_type,
                                            const void *data, size_t len,
                                            aos_storage_blob_info_t *out_info, char *errbuf,
                                            size_t errlen)
{
    mem_reader_t m = {.data = data, .len = len};
    return aos_storage_blob_put_sync(c, container, name, content_type, mem_read, &m, out_info,
                                     errbuf, errlen);
}

aos_result aos_storage_blob_head_sync(aos_storage_client_t *c, const char *container,
                                      const char *name, aos_storage_blob_info_t *out, char *errbuf,
                                      size_t errlen)
{
    json_object *reply = NULL, *blob = NULL;
    aos_result r = sc_call_sync(c, "blob.head", target(container, name), &reply, errbuf, errlen);
    if (r == AOS_OK)
        r = sc_member(reply, "blob", &blob, errbuf, errlen);
    if (r == AOS_OK && aos_storage_blob_info_from_json(blob, out, errbuf, errlen) != AOS_OK)
        r = AOS_ERR_PROTOCOL;
    json_object_put(reply);
    return r;
}

/* One range read; decodes into buf (cap bytes). */
static aos_result read_range(aos_storage_client_t *c, const char *container, const char *name,
                             uint64_t offset, size_t len, const char *etag,
                             aos_storage_blob_info_t *info, unsigned char *buf, size_t cap,
                             size_t *out_n, bool *out_eof, char *errbuf, size_t errlen)
{
    json_object *req = target(container, name), *reply = NULL, *blob = NULL;
    aos_result r = req ? AOS_OK : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_int(req, "offset", (int64_t)offset);
    if (r == AOS_OK)
        r = aos_json_add_int(req, "length", (int64_t)len);
    if (r == AOS_OK && etag)
        r = aos_json_add_string(req, "etag", etag);
    if (r != AOS_OK) {
        json_object_put(req);
        return r;
    }
    r = sc_call_sync(c, "blob.get", req, &reply, errbuf, errlen);
    const char *data = NULL;
    if (r == AOS_OK)
        r = sc_member(reply, "blob", &blob, errbuf, errlen);
    if (r == AOS_OK &&
        (aos_json_get_string(reply, "data", AOS_JSON_REQUIRED, &data, errbuf, errlen) != AOS_OK ||
         aos_json_get_bool(reply, "eof", AOS_JSON_REQUIRED, out_eof, NULL, errbuf, errlen) !=
             AOS_OK ||
         aos_base64_decode_into(data, strlen(data), buf, cap, out_n) != AOS_OK))
        r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "malformed blob.get reply");
    if (r == AOS_OK && info &&
        aos_storage_blob_info_from_json(blob, info, errbuf, errlen) != AOS_OK)
        r = AOS_ERR_PROTOCOL;
    json_object_put(reply);
    return r;
}

/* The content must match the blob's size and whichever checksum it has: our SHA-256, else the
 * Content-MD5 a blob written by another tool may carry; a blob with neither (e.g. staged in
 * blocks by an SDK) is checked by size and read under its etag (docs/storage.md). */
static aos_result verify_content(const aos_storage_blob_info_t *info, uint64_t size,
                                 const char *sha, const char *md5, char *errbuf, size_t errlen)
{
    if (size != info->size)
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen,
                        "downloaded %llu bytes of a %llu-byte blob", (unsigned long long)size,
                        (unsigned long long)info->size);
    if (info->sha256[0] ? strcmp(sha, info->sha256) != 0
                        : info->content_md5[0] && strcmp(md5, info->content_md5) != 0)
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "downloaded content fails its checksum");
    return AOS_OK;
}

aos_result aos_storage_blob_get_sync(aos_storage_client_t *c, const char *container,
                                     const char *name, aos_storage_write_fn write, void *write_ctx,
                                     aos_storage_blob_info_t *out_info, char *errbuf, size_t errlen)
{
    aos_storage_blob_info_t info = {0};
    size_t chunk = c->chunk_size;
    unsigned char *buf = malloc(chunk);
    aos_storage_sha256_t h = {0};
    aos_storage_md5_t m5 = {0};
    aos_result r = buf ? aos_storage_sha256_init(&h) : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_storage_md5_init(&m5);
    uint64_t offset = 0;
    bool eof = false;
    while (r == AOS_OK && !eof) {
        size_t n = 0;
        r = read_range(c, container, name, offset, chunk, info.etag, offset ? NULL : &info, buf,
                       chunk, &n, &eof, errbuf, errlen);
        if (r == AOS_OK && n == 0 && !eof)
            r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "empty range before the end");
        if (r == AOS_OK)
            r = aos_storage_sha256_update(&h, buf, n);
        if (r == AOS_OK)
            r = aos_storage_md5_update(&m5, buf, n);
        if (r == AOS_OK && n)
            r = write(write_ctx, buf, n);
        offset += n;
    }
    free(buf);
    char sha[65], md5[25];
    if (r == AOS_OK)
        r = aos_storage_sha256_final(&h, sha);
    if (r == AOS_OK)
        r = aos_storage_md5_final_b64(&m5, md5);
    aos_storage_sha256_free(&h);
    aos_storage_md5_free(&m5);
    if (r == AOS_OK)
        r = verify_content(&info, offset, sha, md5, errbuf, errlen);
    if (r == AOS_OK && out_info)
        *out_info = info;
    else
        aos_storage_blob_info_clear(&info);
    return r;
}

typedef struct mem_writer {
    unsigned char *data;
    size_t len, cap, max;
} mem_writer_t;

static aos_result mem_write(void *ctx, const void *buf, size_t len)
{
    mem_writer_t *m = ctx;
    if (len > m->max - m->len)
        return AOS_ERR_TOO_LARGE;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 65536;
        while (cap < m->len + len)
            cap *= 2;
        unsigned char *p = realloc(m->data, cap);
        if (!p)
            return AOS_ERR_NOMEM;
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return AOS_OK;
}

aos_result aos_storage_blob_get_buffer_sync(aos_storage_client_t *c, const char *container,
                                            const char *name, size_t max_len, void **out_data,
                                            size_t *out_len, aos_storage_blob_info_t *out_info,
                                            char *errbuf, size_t errlen)
{
    mem_writer_t m = {.max = max_len};
    *out_data = NULL;
    *out_len = 0;
    aos_result r =
        aos_storage_blob_get_sync(c, container, name, mem_write, &m, out_info, errbuf, errlen);
    if (r == AOS_ERR_TOO_LARGE)
        aos_fail(r, errbuf, errlen, "blob is over %zu bytes", max_len);
    if (r != AOS_OK) {
        free(m.data);
        return r;
    }
    if (!m.data && !(m.data = malloc(1)))
        return AOS_ERR_NOMEM;
    *out_data = m.data;
    *out_len = m.len;
    return AOS_OK;
}
