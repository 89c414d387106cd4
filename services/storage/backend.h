/* services/storage/backend.h: the internal interface every aos-storage backend implements.
 *
 * A backend is a vtable (storage_backend_ops_t) plus an instance whose first member is
 * storage_backend_t. Implementations: backend_sqlite.c (storage_sqlite_open) and
 * backend_azure.c (storage_azure_open, built when the file exists; CMake then defines
 * AOS_STORAGE_HAVE_AZURE). storage_backend_open() picks one by cfg->kind.
 *
 * Threading: an instance is used by ONE thread at a time (the service opens one instance per
 * worker thread: one SQLite connection / one curl handle each). Different instances on the
 * same store may run concurrently, in this process and in other replicas, so every operation
 * must be atomic and safe against concurrent writers (SQLite: transactions; Azure: ETags).
 *
 * Inputs are validated by the caller (aos/storage_types.h rules and limits) before they reach
 * a backend; backends may assume valid names but must still never build queries by string
 * pasting (bind parameters / escape OData literals).
 *
 * Outputs: out structs are zeroed by the caller and filled by the backend; the caller clears
 * them (aos_storage_*_clear) also after a failure (backends leave them cleared or partially
 * filled, never dangling).
 *
 * Errors (aos_result), detail in errbuf:
 *   AOS_ERR_NOT_FOUND    the named thing does not exist
 *   AOS_ERR_CONFLICT     stale version, exists already with other content, ordering guard
 *   AOS_ERR_INVALID      request the store itself refuses (e.g. checksum mismatch)
 *   AOS_ERR_TOO_LARGE    a store limit was hit
 *   AOS_ERR_UNAVAILABLE  the store cannot be reached / is locked / out of space, i.e. a
 *                        retry later may succeed: the service RELEASES the request for
 *                        redelivery and reports not-ready. Nothing may be half-written.
 *   AOS_ERR_INTERNAL     anything else (corruption, a bug): answered as an error
 * Every write is atomic: it happens completely or not at all.
 *
 * Checksums: SHA-256, lowercase hex, over the full blob content.
 */
#ifndef AOS_STORAGE_BACKEND_H
#define AOS_STORAGE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"
#include "aos/storage_types.h"

typedef struct storage_backend storage_backend_t;

typedef enum storage_backend_kind {
    AOS_STORAGE_BACKEND_SQLITE = 0,
    AOS_STORAGE_BACKEND_AZURE,
} storage_backend_kind;

typedef struct storage_backend_config {
    storage_backend_kind kind;
    /* sqlite: database file (created if missing, with its directory's permissions). */
    const char *sqlite_path;
    /* sqlite: how long a writer waits for a lock before reporting UNAVAILABLE (0: 5000). */
    int busy_timeout_ms;
    /* azure: the standard connection string (UseDevelopmentStorage=true for Azurite). */
    const char *azure_connection_string;
    /* Isolates a deployment or a test run: prefix of table names (azure), [a-z0-9]{0,16};
     * NULL or "" = none. The sqlite backend ignores it. */
    const char *name_prefix;
    /* Per-request timeout for remote backends in ms (0: 30000). */
    int timeout_ms;
} storage_backend_config_t;

typedef struct storage_backend_ops {
    const char *name; /* "sqlite", "azure" */

    /* Close connections and free the instance. */
    void (*free)(storage_backend_t *be);

    /* Cheap liveness probe of the store: AOS_OK or AOS_ERR_UNAVAILABLE. */
    aos_result (*health)(storage_backend_t *be, char *errbuf, size_t errlen);

    /* ---- conversations ---- */

    /* Create conversation in->id for in->agent with in->metadata_json (NULL = "{}").
     * Idempotent: if it exists with the same agent, AOS_OK with the stored one and
     * *out_created false; with another agent AOS_ERR_CONFLICT. */
    aos_result (*conversation_create)(storage_backend_t *be, const aos_storage_conversation_t *in,
                                      aos_storage_conversation_t *out, bool *out_created,
                                      char *errbuf, size_t errlen);
    aos_result (*conversation_get)(storage_backend_t *be, const char *id,
                                   aos_storage_conversation_t *out, char *errbuf, size_t errlen);
    /* Conversations ordered by id; agent NULL = all agents. cursor NULL = first page.
     * limit is 1..AOS_STORAGE_PAGE_MAX. Cursors are opaque strings of the backend. */
    aos_result (*conversation_list)(storage_backend_t *be, const char *agent, const char *cursor,
                                    size_t limit, aos_storage_conversation_page_t *out,
                                    char *errbuf, size_t errlen);
    /* Delete the conversation and all its messages. Idempotent: absent is AOS_OK with
     * *out_existed false. */
    aos_result (*conversation_delete)(storage_backend_t *be, const char *id, bool *out_existed,
                                      char *errbuf, size_t errlen);

    /* ---- messages ---- */

    /* Append in (conversation_id, id, role, content, metadata_json NULL = "{}").
     *   conversation absent                  -> AOS_ERR_NOT_FOUND
     *   message id already in conversation:
     *     same role, content and metadata    -> AOS_OK, *out = stored record,
     *                                           *out_created false (no second copy)
     *     anything different                 -> AOS_ERR_CONFLICT
     *   expected_version >= 0 and the conversation's version differs
     *                                        -> AOS_ERR_CONFLICT (ordering guard; checked
     *                                           after the idempotency check)
     *   otherwise stored with seq = version + 1, conversation version incremented, both
     *   in one atomic step; *out = stored record, *out_created true. */
    aos_result (*message_append)(storage_backend_t *be, const aos_storage_message_t *in,
                                 int64_t expected_version, aos_storage_message_t *out,
                                 bool *out_created, char *errbuf, size_t errlen);
    /* Messages of a conversation in seq order (ascending; descending when reverse), at most
     * limit, after cursor (NULL = from the start / from the end when reverse).
     * Conversation absent -> AOS_ERR_NOT_FOUND. */
    aos_result (*message_list)(storage_backend_t *be, const char *conversation_id,
                               const char *cursor, size_t limit, bool reverse,
                               aos_storage_message_page_t *out, char *errbuf, size_t errlen);

    /* ---- blobs (uploaded in chunks; never whole in memory) ---- */

    /* Start (or, same upload_id again, re-start idempotently) an upload of container/name.
     * upload_id is chosen by the caller (valid id). The container is created implicitly. */
    aos_result (*blob_put_begin)(storage_backend_t *be, const char *container, const char *name,
                                 const char *upload_id, const char *content_type, char *errbuf,
                                 size_t errlen);
    /* Stage chunk number index (0-based, < AOS_STORAGE_MAX_CHUNKS) of an upload; len ≤
     * AOS_STORAGE_CHUNK_MAX (0 allowed only for index 0 of an empty blob). Staging the
     * same index again replaces it (redelivery). Unknown upload -> AOS_ERR_NOT_FOUND.
     * Azure: one Put Block, block id derived from (upload_id, index), fixed width. */
    aos_result (*blob_put_chunk)(storage_backend_t *be, const char *container, const char *name,
                                 const char *upload_id, uint32_t index, const void *data,
                                 size_t len, char *errbuf, size_t errlen);
    /* Make chunks 0..chunk_count-1 the content of the blob, atomically replacing any
     * previous content. A missing chunk -> AOS_ERR_INVALID. expected_sha256 (may be NULL):
     * when given and the content's SHA-256 differs -> AOS_ERR_INVALID, nothing changes.
     * Committing an upload_id that was already committed to this blob returns AOS_OK with
     * the current info (redelivery). Azure: Put Block List; stores content type and sha256.
     * *out = the blob's info. */
    aos_result (*blob_put_commit)(storage_backend_t *be, const char *container, const char *name,
                                  const char *upload_id, uint32_t chunk_count,
                                  const char *expected_sha256, aos_storage_blob_info_t *out,
                                  char *errbuf, size_t errlen);
    /* Drop a staged upload. Unknown upload is AOS_OK. */
    aos_result (*blob_put_abort)(storage_backend_t *be, const char *container, const char *name,
                                 const char *upload_id, char *errbuf, size_t errlen);
    aos_result (*blob_head)(storage_backend_t *be, const char *container, const char *name,
                            aos_storage_blob_info_t *out, char *errbuf, size_t errlen);
    /* Read up to len (≤ AOS_STORAGE_CHUNK_MAX) bytes at offset into buf; *out_len is what
     * was read (0 at or past the end). if_etag (may be NULL): when the blob's etag differs
     * -> AOS_ERR_CONFLICT (it changed between two range reads). */
    aos_result (*blob_read)(storage_backend_t *be, const char *container, const char *name,
                            uint64_t offset, size_t len, const char *if_etag, void *buf,
                            size_t *out_len, char *errbuf, size_t errlen);
    /* Blobs of a container ordered by name, names starting with prefix (NULL = all). */
    aos_result (*blob_list)(storage_backend_t *be, const char *container, const char *prefix,
                            const char *cursor, size_t limit, aos_storage_blob_page_t *out,
                            char *errbuf, size_t errlen);
    /* Idempotent: absent is AOS_OK with *out_existed false. */
    aos_result (*blob_delete)(storage_backend_t *be, const char *container, const char *name,
                              bool *out_existed, char *errbuf, size_t errlen);

    /* ---- records (kind "adapter" | "job"), optimistic concurrency ---- */

    aos_result (*record_get)(storage_backend_t *be, const char *kind, const char *key,
                             aos_storage_record_t *out, char *errbuf, size_t errlen);
    /* Write data_json under (kind, key):
     *   if_match NULL: create only; exists -> AOS_ERR_CONFLICT
     *   if_match "*":  unconditional (create or replace)
     *   otherwise:     replace only if the current version equals if_match; absent ->
     *                  AOS_ERR_NOT_FOUND, other version -> AOS_ERR_CONFLICT
     * op_id (the request's event id, may be NULL) is stored with the record: a conflicting
     * write whose op_id equals the stored one is the redelivery of the write that made the
     * current version and returns AOS_OK with the current record.
     * *out = the stored record with its new version. */
    aos_result (*record_put)(storage_backend_t *be, const char *kind, const char *key,
                             const char *data_json, const char *if_match, const char *op_id,
                             aos_storage_record_t *out, char *errbuf, size_t errlen);
    /* Records of a kind ordered by key, keys starting with prefix (NULL = all). */
    aos_result (*record_list)(storage_backend_t *be, const char *kind, const char *prefix,
                              const char *cursor, size_t limit, aos_storage_record_page_t *out,
                              char *errbuf, size_t errlen);
    /* if_match NULL or "*": unconditional; else the version must match (CONFLICT).
     * Absent is AOS_OK with *out_existed false (also with if_match set). */
    aos_result (*record_delete)(storage_backend_t *be, const char *kind, const char *key,
                                const char *if_match, bool *out_existed, char *errbuf,
                                size_t errlen);

    /* ---- composite operations ---- */

    /* Optional (NULL: the caller runs fn(be, ctx) itself). Run fn, which uses only the
     * operations of the instance it is given (valid during the call), as ONE transaction:
     * its writes become durable together (one commit, one fsync, shared with concurrent
     * writers by the group commit) before run_atomic returns fn's result; its reads see its
     * own writes and no concurrent writer runs meanwhile. The turn operations use it
     * (docs/turn-order.md). A commit failure is returned instead of fn's result. */
    aos_result (*run_atomic)(storage_backend_t *be,
                             aos_result (*fn)(storage_backend_t *be, void *ctx), void *ctx,
                             char *errbuf, size_t errlen);
} storage_backend_ops_t;

/* Every backend instance starts with this. */
struct storage_backend {
    const storage_backend_ops_t *ops;
};

/* Open a backend instance per cfg->kind. AOS_ERR_UNSUPPORTED when that backend is not built,
 * AOS_ERR_UNAVAILABLE when the store cannot be reached (retry later), AOS_ERR_INVALID for a
 * bad configuration. */
aos_result storage_backend_open(const storage_backend_config_t *cfg, storage_backend_t **out_be,
                                char *errbuf, size_t errlen);

/* Close and free. NULL is a no-op. */
void storage_backend_free(storage_backend_t *be);

/* "sqlite" | "azure" -> kind; AOS_ERR_INVALID otherwise. */
aos_result storage_backend_kind_parse(const char *s, storage_backend_kind *out_kind);

/* The concrete openers. */
aos_result storage_sqlite_open(const storage_backend_config_t *cfg, storage_backend_t **out_be,
                               char *errbuf, size_t errlen);
aos_result storage_azure_open(const storage_backend_config_t *cfg, storage_backend_t **out_be,
                              char *errbuf, size_t errlen);

/* Shared helpers for backends. */

/* Current time in Unix epoch milliseconds. */
int64_t storage_now_ms(void);

#endif
