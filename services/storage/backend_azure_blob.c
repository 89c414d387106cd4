/* aos-storage's Azure backend, blobs: staged uploads (Put Block / Put Block List through
 * aos_azure_upload_*), ranged reads, listing and delete. Layout: docs/azure-storage-layout.md. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend_azure_internal.h"

/* ---- blobs (staged uploads: aos_azure_upload_*) ---- */

static aos_result blob_fail(azure_be_t *be, aos_result r, char *errbuf, size_t errlen,
                            const char *what)
{
    if (r == AOS_ERR_NOT_FOUND || r == AOS_ERR_INVALID || r == AOS_ERR_CONFLICT)
        return aos_fail(r, errbuf, errlen, "%s", aos_azure_client_error(be->c));
    return fail_az(be, r, errbuf, errlen, what);
}

aos_result az_blob_put_begin(storage_backend_t *b, const char *container, const char *name,
                             const char *upload_id, const char *content_type, char *errbuf,
                             size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_result r =
        aos_azure_upload_begin(be->c, &be->uploads, upload_id, container, name, content_type);
    return r == AOS_OK ? r : blob_fail(be, r, errbuf, errlen, "begin upload");
}

aos_result az_blob_put_chunk(storage_backend_t *b, const char *container, const char *name,
                             const char *upload_id, uint32_t index, const void *data, size_t len,
                             char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_result r =
        aos_azure_upload_chunk(be->c, &be->uploads, upload_id, container, name, index, data, len);
    return r == AOS_OK ? r : blob_fail(be, r, errbuf, errlen, "stage chunk");
}

static int64_t http_date_ms(const char *s)
{
    int64_t t = 0;
    return aos_azure_http_date_parse(s, &t) ? t * 1000 : 0;
}

static aos_result info_from_props(const char *container, const char *name,
                                  const aos_azure_blob_props_t *p, aos_storage_blob_info_t *out)
{
    out->container = strdup(container);
    out->name = strdup(name);
    out->content_type = strdup(p->content_type[0] ? p->content_type : "application/octet-stream");
    out->etag = strdup(p->etag);
    out->size = (uint64_t)p->content_length;
    out->updated_ms = http_date_ms(p->last_modified);
    /* Blobs written by others (portal, azcopy, SDKs) carry no aossha256; a malformed one is
     * as good as none. Their Content-MD5, when set, still lets readers verify them. */
    if (!aos_azure_blob_props_meta(p, "aossha256", out->sha256, sizeof out->sha256) ||
        !aos_storage_valid_sha256(out->sha256))
        out->sha256[0] = '\0';
    if (aos_storage_valid_md5_b64(p->content_md5))
        memcpy(out->content_md5, p->content_md5, sizeof out->content_md5);
    return out->container && out->name && out->content_type && out->etag ? AOS_OK : AOS_ERR_NOMEM;
}

aos_result az_blob_head(storage_backend_t *b, const char *container, const char *name,
                        aos_storage_blob_info_t *out, char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_azure_blob_props_t p;
    aos_result r = aos_azure_blob_properties(be->c, container, name, &p);
    if (r == AOS_ERR_NOT_FOUND)
        return aos_fail(r, errbuf, errlen, "blob %s/%s not found", container, name);
    if (r != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "blob properties");
    return info_from_props(container, name, &p, out);
}

aos_result az_blob_put_commit(storage_backend_t *b, const char *container, const char *name,
                              const char *upload_id, uint32_t chunk_count,
                              const char *expected_sha256, aos_storage_blob_info_t *out,
                              char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_result r = aos_azure_upload_commit(be->c, &be->uploads, upload_id, container, name,
                                           chunk_count, expected_sha256);
    if (r != AOS_OK)
        return blob_fail(be, r, errbuf, errlen, "commit upload");
    return az_blob_head(b, container, name, out, errbuf, errlen);
}

aos_result az_blob_put_abort(storage_backend_t *b, const char *container, const char *name,
                             const char *upload_id, char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_result r = aos_azure_upload_abort(be->c, &be->uploads, upload_id, container, name);
    return r == AOS_OK ? r : blob_fail(be, r, errbuf, errlen, "abort upload");
}

typedef struct read_buf {
    unsigned char *buf;
    size_t len, cap;
} read_buf_t;

static aos_result read_sink(void *ctx, const void *data, size_t len)
{
    read_buf_t *k = ctx;
    if (k->len + len > k->cap)
        return AOS_ERR_PROTOCOL; /* the service sent more than the range asked for */
    memcpy(k->buf + k->len, data, len);
    k->len += len;
    return AOS_OK;
}

aos_result az_blob_read(storage_backend_t *b, const char *container, const char *name,
                        uint64_t offset, size_t len, const char *if_etag, void *buf,
                        size_t *out_len, char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    *out_len = 0;
    read_buf_t k = {buf, 0, len};
    aos_result r =
        len == 0 ? aos_azure_blob_properties(be->c, container, name, &(aos_azure_blob_props_t){0})
                 : aos_azure_blob_get(be->c, container, name, (int64_t)offset, (int64_t)len,
                                      if_etag, read_sink, &k, NULL);
    if (r == AOS_ERR_INVALID && aos_azure_client_status(be->c) == 416)
        return AOS_OK; /* at or past the end */
    if (r == AOS_ERR_NOT_FOUND)
        return aos_fail(r, errbuf, errlen, "blob %s/%s not found", container, name);
    if (r == AOS_ERR_CONFLICT)
        return aos_fail(r, errbuf, errlen, "blob %s/%s changed", container, name);
    if (r != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "read blob");
    *out_len = k.len;
    return AOS_OK;
}

aos_result az_blob_list(storage_backend_t *b, const char *container, const char *prefix,
                        const char *cursor, size_t limit, aos_storage_blob_page_t *out,
                        char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_azure_blob_list_t *list = NULL;
    aos_result r = aos_azure_blob_list(be->c, container, prefix, cursor,
                                       (int)(limit < 5000 ? limit : 5000), true, &list);
    if (r == AOS_ERR_NOT_FOUND)
        return AOS_OK; /* no such container: nothing in it */
    if (r != AOS_OK)
        return fail_az(be, r, errbuf, errlen, "list blobs");
    out->items = calloc(list->count ? list->count : 1, sizeof *out->items);
    r = out->items ? AOS_OK : AOS_ERR_NOMEM;
    for (size_t i = 0; i < list->count && r == AOS_OK; i++) {
        const aos_azure_blob_item_t *it = &list->items[i];
        aos_storage_blob_info_t *o = &out->items[out->count++];
        o->container = strdup(container);
        o->name = strdup(it->name);
        o->content_type = strdup(it->content_type ? it->content_type : "application/octet-stream");
        o->etag = strdup(it->etag ? it->etag : "");
        o->size = (uint64_t)it->content_length;
        o->updated_ms = http_date_ms(it->last_modified);
        for (size_t m = 0; m < it->meta_count; m++)
            if (!strcmp(it->meta_names[m], "aossha256") &&
                aos_storage_valid_sha256(it->meta_values[m]))
                snprintf(o->sha256, sizeof o->sha256, "%s", it->meta_values[m]);
        if (it->content_md5 && aos_storage_valid_md5_b64(it->content_md5))
            memcpy(o->content_md5, it->content_md5, sizeof o->content_md5);
        if (!o->container || !o->name || !o->content_type || !o->etag)
            r = AOS_ERR_NOMEM;
    }
    if (r == AOS_OK && list->next_marker && !(out->next_cursor = strdup(list->next_marker)))
        r = AOS_ERR_NOMEM;
    aos_azure_blob_list_free(list);
    return r;
}

aos_result az_blob_delete(storage_backend_t *b, const char *container, const char *name,
                          bool *out_existed, char *errbuf, size_t errlen)
{
    azure_be_t *be = AZ(b);
    aos_result r = aos_azure_blob_delete(be->c, container, name);
    *out_existed = r == AOS_OK;
    if (r == AOS_ERR_NOT_FOUND)
        return AOS_OK;
    return r == AOS_OK ? r : fail_az(be, r, errbuf, errlen, "delete blob");
}
