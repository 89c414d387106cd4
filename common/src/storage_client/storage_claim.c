/* The claim-check store (aos/claim_check.h) on blob storage through aos-storage. */
#include "aos/claim_check.h"
#include "aos/storage_client.h"

static aos_result claim_put(void *ctx, const char *name, const void *data, size_t len, char *errbuf,
                            size_t errlen)
{
    return aos_storage_blob_put_buffer_sync(ctx, AOS_CLAIM_CONTAINER, name,
                                            "application/octet-stream", data, len, NULL, errbuf,
                                            errlen);
}

static aos_result claim_get(void *ctx, const char *name, size_t max_len, void **out,
                            size_t *out_len, char *errbuf, size_t errlen)
{
    return aos_storage_blob_get_buffer_sync(ctx, AOS_CLAIM_CONTAINER, name, max_len, out, out_len,
                                            NULL, errbuf, errlen);
}

void aos_storage_claim_store(struct aos_storage_client *c, aos_claim_store_t *out_store)
{
    out_store->put = claim_put;
    out_store->get = claim_get;
    out_store->ctx = c;
}
