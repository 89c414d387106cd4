/* Private to the SQLite backend (backend_sqlite*.c).
 *
 * One instance = one sqlite3 connection (opened NOMUTEX: used by one thread at a time), with
 * its prepared statements cached by id, used for reads. Writes go through the group writer
 * (backend_sqlite_group.c): one connection per database file per process, shared by every
 * instance on that file. Concurrent write operations are batched into ONE BEGIN IMMEDIATE
 * transaction (one fsync), each operation in its own SAVEPOINT so a failing one undoes only
 * itself; every operation returns only after the batch has committed. A writer in another
 * process still waits (busy_timeout) instead of failing halfway.
 */
#ifndef AOS_STORAGE_SQLITE_INTERNAL_H
#define AOS_STORAGE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "backend.h"

typedef enum sq_stmt_id {
    SQ_BEGIN_READ,
    SQ_BEGIN_WRITE,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_SP_BEGIN,
    SQ_SP_RELEASE,
    SQ_SP_ROLLBACK,
    SQ_ATOMIC_BEGIN, /* around a composite operation (sqg_run_atomic) */
    SQ_ATOMIC_RELEASE,
    SQ_ATOMIC_ROLLBACK,
    SQ_CONV_INSERT,
    SQ_CONV_GET,
    SQ_CONV_LIST,
    SQ_CONV_DELETE,
    SQ_CONV_BUMP,
    SQ_MSG_DELETE_CONV,
    SQ_MSG_INSERT,
    SQ_MSG_BY_ID,
    SQ_MSG_LIST_ASC,
    SQ_MSG_LIST_DESC,
    SQ_UPLOAD_INSERT,
    SQ_UPLOAD_GET,
    SQ_UPLOAD_DELETE,
    SQ_UPLOAD_EXPIRED,
    SQ_CHUNK_PUT,
    SQ_CHUNK_COUNT,
    SQ_CHUNK_TRIM,
    SQ_CHUNK_SCAN,
    SQ_CHUNK_SET_OFFSET,
    SQ_CHUNK_DROP,
    SQ_CHUNK_RANGE,
    SQ_BLOB_GET,
    SQ_BLOB_BY_UPLOAD,
    SQ_BLOB_UPSERT,
    SQ_BLOB_DELETE,
    SQ_BLOB_LIST,
    SQ_REC_GET,
    SQ_REC_INSERT,
    SQ_REC_UPDATE,
    SQ_REC_DELETE,
    SQ_REC_LIST,
    SQ_REC_HEAD,
    SQ_STMT_COUNT
} sq_stmt_id;

typedef struct sq_group sq_group_t;

typedef struct sq {
    storage_backend_t base;
    sqlite3 *db;
    sqlite3_stmt *stmts[SQ_STMT_COUNT];
    /* A reader instance: the group writer of its file (reference held). */
    sq_group_t *group;
    /* The group's writer connection: sq_begin(write)/sq_commit/sq_rollback work on a
     * SAVEPOINT inside the open batch transaction; sp_open while one is open. */
    bool in_group;
    bool sp_open;
    /* The operation is the first of its batch: the transaction itself is its savepoint (no
     * SAVEPOINT statement); rolling it back ends the transaction and sets tx_undone. */
    bool sp_whole;
    bool tx_undone;
} sq_t;

/* Open s->db on cfg->sqlite_path with pragmas and schema; on failure s->db may still need
 * closing (sq_close). */
aos_result sq_connect(sq_t *s, const storage_backend_config_t *cfg, char *errbuf, size_t errlen);
/* Finalize the statements and close the connection (s itself is not freed). */
void sq_close(sq_t *s);

/* The reference-counted group writer of cfg->sqlite_path (opened on first use). */
aos_result sq_group_acquire(const storage_backend_config_t *cfg, sq_group_t **out, char *errbuf,
                            size_t errlen);
void sq_group_release(sq_group_t *g);

/* Raw operations (run on whichever connection they are given) and the group-committed
 * write operations the public vtable uses (backend_sqlite_group.c). */
extern const storage_backend_ops_t sq_raw_ops;
aos_result sqg_conversation_create(storage_backend_t *be, const aos_storage_conversation_t *in,
                                   aos_storage_conversation_t *out, bool *out_created, char *errbuf,
                                   size_t errlen);
aos_result sqg_conversation_delete(storage_backend_t *be, const char *id, bool *out_existed,
                                   char *errbuf, size_t errlen);
aos_result sqg_message_append(storage_backend_t *be, const aos_storage_message_t *in,
                              int64_t expected_version, aos_storage_message_t *out,
                              bool *out_created, char *errbuf, size_t errlen);
aos_result sqg_blob_put_begin(storage_backend_t *be, const char *container, const char *name,
                              const char *upload_id, const char *content_type, char *errbuf,
                              size_t errlen);
aos_result sqg_blob_put_chunk(storage_backend_t *be, const char *container, const char *name,
                              const char *upload_id, uint32_t index, const void *data, size_t len,
                              char *errbuf, size_t errlen);
aos_result sqg_blob_put_commit(storage_backend_t *be, const char *container, const char *name,
                               const char *upload_id, uint32_t chunk_count,
                               const char *expected_sha256, aos_storage_blob_info_t *out,
                               char *errbuf, size_t errlen);
aos_result sqg_blob_put_abort(storage_backend_t *be, const char *container, const char *name,
                              const char *upload_id, char *errbuf, size_t errlen);
aos_result sqg_blob_delete(storage_backend_t *be, const char *container, const char *name,
                           bool *out_existed, char *errbuf, size_t errlen);
aos_result sqg_record_put(storage_backend_t *be, const char *kind, const char *key,
                          const char *data_json, const char *if_match, const char *op_id,
                          aos_storage_record_t *out, char *errbuf, size_t errlen);
aos_result sqg_record_delete(storage_backend_t *be, const char *kind, const char *key,
                             const char *if_match, bool *out_existed, char *errbuf, size_t errlen);
aos_result sqg_run_atomic(storage_backend_t *be, aos_result (*fn)(storage_backend_t *be, void *ctx),
                          void *ctx, char *errbuf, size_t errlen);

/* The cached statement, reset and unbound; NULL with errbuf filled on failure (*rc set). */
sqlite3_stmt *sq_stmt(sq_t *s, sq_stmt_id id, int *rc);

/* Translate an SQLite result into aos_result with detail "<what>: <sqlite message>". */
aos_result sq_fail(sq_t *s, int rc, char *errbuf, size_t errlen, const char *what);

/* Run a statement that returns no rows (BEGIN/COMMIT/…). */
aos_result sq_exec(sq_t *s, sq_stmt_id id, char *errbuf, size_t errlen);

/* Begin a read (deferred) or write (immediate) transaction / end it. */
aos_result sq_begin(sq_t *s, bool write, char *errbuf, size_t errlen);
aos_result sq_commit(sq_t *s, char *errbuf, size_t errlen);
void sq_rollback(sq_t *s);

/* Bind helpers (text is SQLITE_TRANSIENT-copied; NULL binds SQL NULL). */
int sq_bind_text(sqlite3_stmt *st, int idx, const char *v);

/* malloc'd copy of a text column (NULL for SQL NULL or out of memory). */
char *sq_col_dup(sqlite3_stmt *st, int col);

/* Shared page helpers: limit+1 rows are fetched to learn whether another page exists. */
size_t sq_page_limit(size_t limit);

/* Blobs and records (backend_sqlite_blob.c), same contracts as backend.h. */
aos_result sq_blob_put_begin(storage_backend_t *be, const char *container, const char *name,
                             const char *upload_id, const char *content_type, char *errbuf,
                             size_t errlen);
aos_result sq_blob_put_chunk(storage_backend_t *be, const char *container, const char *name,
                             const char *upload_id, uint32_t index, const void *data, size_t len,
                             char *errbuf, size_t errlen);
aos_result sq_blob_put_commit(storage_backend_t *be, const char *container, const char *name,
                              const char *upload_id, uint32_t chunk_count,
                              const char *expected_sha256, aos_storage_blob_info_t *out,
                              char *errbuf, size_t errlen);
aos_result sq_blob_put_abort(storage_backend_t *be, const char *container, const char *name,
                             const char *upload_id, char *errbuf, size_t errlen);
aos_result sq_blob_head(storage_backend_t *be, const char *container, const char *name,
                        aos_storage_blob_info_t *out, char *errbuf, size_t errlen);
aos_result sq_blob_read(storage_backend_t *be, const char *container, const char *name,
                        uint64_t offset, size_t len, const char *if_etag, void *buf,
                        size_t *out_len, char *errbuf, size_t errlen);
aos_result sq_blob_list(storage_backend_t *be, const char *container, const char *prefix,
                        const char *cursor, size_t limit, aos_storage_blob_page_t *out,
                        char *errbuf, size_t errlen);
aos_result sq_blob_delete(storage_backend_t *be, const char *container, const char *name,
                          bool *out_existed, char *errbuf, size_t errlen);
aos_result sq_record_get(storage_backend_t *be, const char *kind, const char *key,
                         aos_storage_record_t *out, char *errbuf, size_t errlen);
aos_result sq_record_put(storage_backend_t *be, const char *kind, const char *key,
                         const char *data_json, const char *if_match, const char *op_id,
                         aos_storage_record_t *out, char *errbuf, size_t errlen);
aos_result sq_record_list(storage_backend_t *be, const char *kind, const char *prefix,
                          const char *cursor, size_t limit, aos_storage_record_page_t *out,
                          char *errbuf, size_t errlen);
aos_result sq_record_delete(storage_backend_t *be, const char *kind, const char *key,
                            const char *if_match, bool *out_existed, char *errbuf, size_t errlen);

#endif
