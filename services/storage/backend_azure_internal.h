/* services/storage/backend_azure_internal.h: what backend_azure.c (conversations, messages,
 * records, the instance) and backend_azure_blob.c (staged blob uploads) share. */
#ifndef AOS_STORAGE_BACKEND_AZURE_INTERNAL_H
#define AOS_STORAGE_BACKEND_AZURE_INTERNAL_H

#include "aos/azure_storage.h"
#include "backend.h"

typedef struct azure_be {
    storage_backend_t base;
    aos_azure_client_t *c;
    char t_conv[80], t_msg[80], t_rec[80], t_up[80], staging[80];
    aos_azure_upload_store_t uploads; /* points at t_up and staging */
} azure_be_t;

#define AZ(be) ((azure_be_t *)(be))

/* Translate a client failure for the service: transient ones become UNAVAILABLE. */
aos_result fail_az(azure_be_t *be, aos_result r, char *errbuf, size_t errlen, const char *what);

/* Blob operations (backend_azure_blob.c), in the backend's ops table. */
aos_result az_blob_put_begin(storage_backend_t *b, const char *container, const char *name,
                             const char *upload_id, const char *content_type, char *errbuf,
                             size_t errlen);
aos_result az_blob_put_chunk(storage_backend_t *b, const char *container, const char *name,
                             const char *upload_id, uint32_t index, const void *data, size_t len,
                             char *errbuf, size_t errlen);
aos_result az_blob_head(storage_backend_t *b, const char *container, const char *name,
                        aos_storage_blob_info_t *out, char *errbuf, size_t errlen);
aos_result az_blob_put_commit(storage_backend_t *b, const char *container, const char *name,
                              const char *upload_id, uint32_t chunk_count,
                              const char *expected_sha256, aos_storage_blob_info_t *out,
                              char *errbuf, size_t errlen);
aos_result az_blob_put_abort(storage_backend_t *b, const char *container, const char *name,
                             const char *upload_id, char *errbuf, size_t errlen);
aos_result az_blob_read(storage_backend_t *b, const char *container, const char *name,
                        uint64_t offset, size_t len, const char *if_etag, void *buf,
                        size_t *out_len, char *errbuf, size_t errlen);
aos_result az_blob_list(storage_backend_t *b, const char *container, const char *prefix,
                        const char *cursor, size_t limit, aos_storage_blob_page_t *out,
                        char *errbuf, size_t errlen);
aos_result az_blob_delete(storage_backend_t *b, const char *container, const char *name,
                          bool *out_existed, char *errbuf, size_t errlen);

#endif
