/* aos/storage_client.h: typed calls to aos-storage over the bus (request/reply on the
 * "aos.storage" queue; operations and payloads in docs/storage.md).
 *
 * Ownership and threads:
 *   - The client borrows an aos_bus_t (started by the caller) that must outlive it. One client
 *     may be used from any number of threads at once.
 *   - Async calls return at once; the callback runs exactly once ON THE BUS I/O THREAD (so it
 *     must not block and must not call *_sync functions). Everything passed to a callback is
 *     borrowed and valid only during the call; copy what you keep (aos_storage_*_copy).
 *     If an async call returns an error, the callback is not called.
 *   - *_sync calls block the calling thread; never call them from a bus callback. Their out_
 *     structs must be zeroed by the caller and are cleared by the caller
 *     (aos_storage_*_clear) also after a failure.
 *
 * Errors: the service's error code (aos_result_from_code of the aos.error reply: not_found,
 * conflict, invalid_argument, too_large, unsupported, …) with its message in errbuf /
 * errmsg; AOS_ERR_TIMEOUT when no reply came in time (the service may be down or the request
 * waiting for redelivery); AOS_ERR_PROTOCOL for a reply that does not parse.
 *
 * Idempotency: message append is idempotent by message id; a retried record put must use
 * if_match so it cannot overwrite a newer version.
 */
#ifndef AOS_STORAGE_CLIENT_H
#define AOS_STORAGE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/bus.h"
#include "aos/result.h"
#include "aos/storage_types.h"

typedef struct aos_storage_client aos_storage_client_t;

typedef struct aos_storage_client_config {
    aos_bus_t *bus;     /* borrowed, required */
    const char *queue;  /* NULL: "aos.storage" */
    const char *source; /* CloudEvents source of requests; NULL: "/aos/storage-client" */
    int timeout_ms;     /* per request; 0: 30000 */
    size_t chunk_size;  /* blob transfer chunk; 0: AOS_STORAGE_CHUNK_DEFAULT */
    /* Request data over this travels by reference (aos/claim_check.h), replies that arrive by
     * reference are resolved before the callback; 0: AOS_CLAIM_THRESHOLD_DEFAULT. */
    size_t claim_threshold;
} aos_storage_client_config_t;

aos_result aos_storage_client_new(const aos_storage_client_config_t *cfg,
                                  aos_storage_client_t **out_client, char *errbuf, size_t errlen);
/* The claim threshold the client was made with (for the caller's own sends); NULL: the
 * default. */
size_t aos_storage_client_claim_threshold(const aos_storage_client_t *c);
/* Outstanding async calls still complete (with AOS_ERR_CLOSED at the latest when the bus
 * stops); their callbacks must not touch the freed client. NULL is a no-op. */
void aos_storage_client_free(aos_storage_client_t *c);

/* ---- async ---- */

typedef void (*aos_storage_conversation_cb)(void *ctx, aos_result r,
                                            const aos_storage_conversation_t *conversation,
                                            bool created, const char *errmsg);
typedef void (*aos_storage_message_cb)(void *ctx, aos_result r,
                                       const aos_storage_message_t *message, bool created,
                                       const char *errmsg);
typedef void (*aos_storage_message_page_cb)(void *ctx, aos_result r,
                                            const aos_storage_message_page_t *page,
                                            const char *errmsg);
typedef void (*aos_storage_record_cb)(void *ctx, aos_result r, const aos_storage_record_t *record,
                                      const char *errmsg);
/* Raw reply: data_json is the reply's data (NULL on error). */
typedef void (*aos_storage_raw_cb)(void *ctx, aos_result r, const char *data_json,
                                   const char *errmsg);

/* Create a conversation (idempotent for the same id and agent). id NULL: the service picks
 * one; metadata_json NULL: {}. `created` tells whether this call created it. */
aos_result aos_storage_conversation_create(aos_storage_client_t *c, const char *id,
                                           const char *agent, const char *metadata_json,
                                           aos_storage_conversation_cb cb, void *ctx);
aos_result aos_storage_conversation_get(aos_storage_client_t *c, const char *id,
                                        aos_storage_conversation_cb cb, void *ctx);
/* Append msg (conversation_id, id, role, content, metadata_json may be NULL). seq and
 * created_ms are assigned by the service. expected_version >= 0 refuses the append with
 * conflict unless the conversation has exactly that many messages; -1: no check. */
aos_result aos_storage_message_append(aos_storage_client_t *c, const aos_storage_message_t *msg,
                                      int64_t expected_version, aos_storage_message_cb cb,
                                      void *ctx);
/* One page of messages in order (reverse: newest first); cursor NULL = start. */
aos_result aos_storage_message_list(aos_storage_client_t *c, const char *conversation_id,
                                    const char *cursor, size_t limit, bool reverse,
                                    aos_storage_message_page_cb cb, void *ctx);
aos_result aos_storage_record_get(aos_storage_client_t *c, const char *kind, const char *key,
                                  aos_storage_record_cb cb, void *ctx);
/* if_match: NULL create only, "*" unconditional, else the version it must replace. */
aos_result aos_storage_record_put(aos_storage_client_t *c, const char *kind, const char *key,
                                  const char *data_json, const char *if_match,
                                  aos_storage_record_cb cb, void *ctx);
/* Any operation by name ("conversation.list", "blob.head", …) with a JSON object payload. */
aos_result aos_storage_call(aos_storage_client_t *c, const char *op, const char *data_json,
                            aos_storage_raw_cb cb, void *ctx);

/* ---- sync ---- */

aos_result aos_storage_conversation_create_sync(aos_storage_client_t *c, const char *id,
                                                const char *agent, const char *metadata_json,
                                                aos_storage_conversation_t *out, bool *out_created,
                                                char *errbuf, size_t errlen);
aos_result aos_storage_conversation_get_sync(aos_storage_client_t *c, const char *id,
                                             aos_storage_conversation_t *out, char *errbuf,
                                             size_t errlen);
aos_result aos_storage_conversation_list_sync(aos_storage_client_t *c, const char *agent,
                                              const char *cursor, size_t limit,
                                              aos_storage_conversation_page_t *out, char *errbuf,
                                              size_t errlen);
aos_result aos_storage_conversation_delete_sync(aos_storage_client_t *c, const char *id,
                                                bool *out_existed, char *errbuf, size_t errlen);
aos_result aos_storage_message_append_sync(aos_storage_client_t *c,
                                           const aos_storage_message_t *msg,
                                           int64_t expected_version, aos_storage_message_t *out,
                                           bool *out_created, char *errbuf, size_t errlen);
aos_result aos_storage_message_list_sync(aos_storage_client_t *c, const char *conversation_id,
                                         const char *cursor, size_t limit, bool reverse,
                                         aos_storage_message_page_t *out, char *errbuf,
                                         size_t errlen);
aos_result aos_storage_record_get_sync(aos_storage_client_t *c, const char *kind, const char *key,
                                       aos_storage_record_t *out, char *errbuf, size_t errlen);
aos_result aos_storage_record_put_sync(aos_storage_client_t *c, const char *kind, const char *key,
                                       const char *data_json, const char *if_match,
                                       aos_storage_record_t *out, char *errbuf, size_t errlen);
aos_result aos_storage_record_list_sync(aos_storage_client_t *c, const char *kind,
                                        const char *prefix, const char *cursor, size_t limit,
                                        aos_storage_record_page_t *out, char *errbuf,
                                        size_t errlen);
aos_result aos_storage_record_delete_sync(aos_storage_client_t *c, const char *kind,
                                          const char *key, const char *if_match, bool *out_existed,
                                          char *errbuf, size_t errlen);
/* Raw: *out_data_json (malloc'd) is the reply data. */
aos_result aos_storage_call_sync(aos_storage_client_t *c, const char *op, const char *data_json,
                                 char **out_data_json, char *errbuf, size_t errlen);

/* ---- blobs, streamed in chunks (sync) ---- */

/* Fill buf with up to cap bytes; *out_len 0 = end of data. Non-OK aborts the upload. */
typedef aos_result (*aos_storage_read_fn)(void *ctx, void *buf, size_t cap, size_t *out_len);
/* Consume len bytes of content (in order). Non-OK aborts the download. */
typedef aos_result (*aos_storage_write_fn)(void *ctx, const void *buf, size_t len);

/* Upload from a reader, one chunk in memory at a time; sends the SHA-256 so the service
 * verifies the content. The blob appears atomically at commit. */
aos_result aos_storage_blob_put_sync(aos_storage_client_t *c, const char *container,
                                     const char *name, const char *content_type,
                                     aos_storage_read_fn read, void *read_ctx,
                                     aos_storage_blob_info_t *out_info, char *errbuf,
                                     size_t errlen);
aos_result aos_storage_blob_put_buffer_sync(aos_storage_client_t *c, const char *container,
                                            const char *name, const char *content_type,
                                            const void *data, size_t len,
                                            aos_storage_blob_info_t *out_info, char *errbuf,
                                            size_t errlen);
/* Download to a writer by range reads pinned to one etag (a concurrent replacement fails the
 * download with conflict); the SHA-256 is verified at the end (AOS_ERR_PROTOCOL on a
 * mismatch). */
aos_result aos_storage_blob_get_sync(aos_storage_client_t *c, const char *container,
                                     const char *name, aos_storage_write_fn write, void *write_ctx,
                                     aos_storage_blob_info_t *out_info, char *errbuf,
                                     size_t errlen);
/* Download into a malloc'd buffer; AOS_ERR_TOO_LARGE when the blob is over max_len. */
aos_result aos_storage_blob_get_buffer_sync(aos_storage_client_t *c, const char *container,
                                            const char *name, size_t max_len, void **out_data,
                                            size_t *out_len, aos_storage_blob_info_t *out_info,
                                            char *errbuf, size_t errlen);
aos_result aos_storage_blob_head_sync(aos_storage_client_t *c, const char *container,
                                      const char *name, aos_storage_blob_info_t *out, char *errbuf,
                                      size_t errlen);
aos_result aos_storage_blob_list_sync(aos_storage_client_t *c, const char *container,
                                      const char *prefix, const char *cursor, size_t limit,
                                      aos_storage_blob_page_t *out, char *errbuf, size_t errlen);
aos_result aos_storage_blob_delete_sync(aos_storage_client_t *c, const char *container,
                                        const char *name, bool *out_existed, char *errbuf,
                                        size_t errlen);

#endif
