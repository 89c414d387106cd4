/* The claim check at aos-storage, on its own backend (service_claim.h). */
#include "service_claim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "aos/storage_wire.h"

static aos_result be_put(void *ctx, const char *name, const void *data, size_t len, char *errbuf,
                         size_t errlen)
{
    storage_backend_t *be = ctx;
    char uuid[37], upload[64];
    aos_uuid4(uuid);
    snprintf(upload, sizeof upload, "claim-%s", uuid);
    aos_result r = be->ops->blob_put_begin(be, AOS_CLAIM_CONTAINER, name, upload,
                                           "application/octet-stream", errbuf, errlen);
    uint32_t index = 0;
    for (size_t off = 0; r == AOS_OK && (off < len || index == 0); index++) {
        size_t n = len - off < AOS_STORAGE_CHUNK_MAX ? len - off : AOS_STORAGE_CHUNK_MAX;
        r = be->ops->blob_put_chunk(be, AOS_CLAIM_CONTAINER, name, upload, index,
                                    (const char *)data + off, n, errbuf, errlen);
        off += n;
    }
    aos_storage_blob_info_t info = {0};
    if (r == AOS_OK)
        r = be->ops->blob_put_commit(be, AOS_CLAIM_CONTAINER, name, upload, index, NULL, &info,
                                     errbuf, errlen);
    else
        (void)be->ops->blob_put_abort(be, AOS_CLAIM_CONTAINER, name, upload, NULL, 0);
    aos_storage_blob_info_clear(&info);
    return r;
}

static aos_result be_get(void *ctx, const char *name, size_t max_len, void **out, size_t *out_len,
                         char *errbuf, size_t errlen)
{
    storage_backend_t *be = ctx;
    aos_storage_blob_info_t info = {0};
    *out = NULL;
    *out_len = 0;
    aos_result r = be->ops->blob_head(be, AOS_CLAIM_CONTAINER, name, &info, errbuf, errlen);
    if (r == AOS_OK && info.size > max_len)
        r = aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "claim %s is over %zu bytes", name,
                     max_len);
    char *buf = r == AOS_OK ? malloc(info.size ? info.size : 1) : NULL;
    if (r == AOS_OK && !buf)
        r = AOS_ERR_NOMEM;
    size_t have = 0;
    while (r == AOS_OK && have < info.size) {
        size_t n = 0, want = info.size - have;
        if (want > AOS_STORAGE_CHUNK_MAX)
            want = AOS_STORAGE_CHUNK_MAX;
        r = be->ops->blob_read(be, AOS_CLAIM_CONTAINER, name, have, want, info.etag, buf + have, &n,
                               errbuf, errlen);
        if (r == AOS_OK && n == 0)
            r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "claim %s ends early", name);
        have += n;
    }
    aos_storage_blob_info_clear(&info);
    if (r != AOS_OK) {
        free(buf);
        return r;
    }
    *out = buf;
    *out_len = have;
    return AOS_OK;
}

void storage_claim_store(storage_backend_t *be, aos_claim_store_t *out_store)
{
    *out_store = (aos_claim_store_t){.put = be_put, .get = be_get, .ctx = be};
}

aos_result storage_claim_resolve_request(storage_backend_t *be, const aos_event_t *req,
                                         aos_event_t **out_resolved, char *errbuf, size_t errlen)
{
    *out_resolved = NULL;
    if (!aos_event_get_ext(req, AOS_CLAIM_EXT))
        return AOS_OK;
    aos_event_t *copy = NULL;
    AOS_RETURN_IF_FAILED(aos_event_clone(req, &copy));
    aos_claim_store_t store;
    storage_claim_store(be, &store);
    aos_result r = aos_claim_check_resolve(&store, copy, AOS_CLAIM_MAX, errbuf, errlen);
    if (r == AOS_ERR_NOT_FOUND || r == AOS_ERR_TOO_LARGE)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                     "the request's data by reference (%s/%s) is gone or too large; send it again",
                     AOS_CLAIM_CONTAINER, aos_event_get_ext(req, AOS_CLAIM_EXT));
    if (r != AOS_OK) {
        aos_event_free(copy);
        return r;
    }
    *out_resolved = copy;
    return AOS_OK;
}

void storage_claim_forget(storage_backend_t *be, const char *name)
{
    bool existed = false;
    char err[200] = "";
    if (be && name &&
        be->ops->blob_delete(be, AOS_CLAIM_CONTAINER, name, &existed, err, sizeof err) != AOS_OK)
        aos_log(AOS_LOG_WARN, "a used claim could not be deleted (the sweep will)", "blob", name,
                "error", err, NULL);
}

size_t storage_claim_sweep(storage_backend_t *be, int64_t retention_ms)
{
    int64_t cutoff = storage_now_ms() - retention_ms;
    size_t deleted = 0;
    char *cursor = NULL;
    for (int pages = 0; pages < 100; pages++) {
        aos_storage_blob_page_t page = {0};
        char err[200] = "";
        aos_result r = be->ops->blob_list(be, AOS_CLAIM_CONTAINER, "bus/", cursor, 500, &page, err,
                                          sizeof err);
        free(cursor);
        cursor = NULL;
        if (r != AOS_OK) {
            if (r != AOS_ERR_NOT_FOUND)
                aos_log(AOS_LOG_WARN, "claim sweep: listing failed", "error", err, NULL);
            break;
        }
        for (size_t i = 0; i < page.count; i++) {
            bool existed = false;
            if (page.items[i].updated_ms < cutoff &&
                be->ops->blob_delete(be, AOS_CLAIM_CONTAINER, page.items[i].name, &existed, NULL,
                                     0) == AOS_OK &&
                existed)
                deleted++;
        }
        cursor = page.next_cursor ? strdup(page.next_cursor) : NULL;
        aos_storage_blob_page_clear(&page);
        if (!cursor)
            break;
    }
    free(cursor);
    if (deleted) {
        char n[24];
        snprintf(n, sizeof n, "%zu", deleted);
        aos_log(AOS_LOG_INFO, "claim sweep: expired claims deleted", "count", n, NULL);
    }
    return deleted;
}
