/* The SQLite backend: chunked blobs and versioned records.
 *
 * A blob's content is the rows of blob_chunks under the upload that last committed it, each
 * row one chunk (≤ AOS_STORAGE_CHUNK_MAX) with its byte offset, so neither writing nor
 * reading ever holds more than one chunk in memory. Staged chunks of an upload in progress
 * live in the same table under their upload id; commit computes offsets and the SHA-256,
 * points the blob at the new upload and drops the previous upload's rows in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sqlite_internal.h"

#define UPLOAD_EXPIRY_MS (24LL * 3600 * 1000)

/* Step a statement that returns no rows; reset it. */
static aos_result step_done(sq_t *s, sqlite3_stmt *st, char *errbuf, size_t errlen,
                            const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? AOS_OK : sq_fail(s, rc, errbuf, errlen, what);
}

#define PREPARE_OR_FAIL(st, s, id)                                                                 \
    int rc_;                                                                                       \
    sqlite3_stmt *st = sq_stmt((s), (id), &rc_);                                                   \
    if (!st)                                                                                       \
        return sq_fail((s), rc_, errbuf, errlen, "prepare");

static aos_result drop_upload(sq_t *s, const char *upload_id, char *errbuf, size_t errlen)
{
    PREPARE_OR_FAIL(st, s, SQ_CHUNK_DROP);
    sq_bind_text(st, 1, upload_id);
    AOS_RETURN_IF_FAILED(step_done(s, st, errbuf, errlen, "chunk delete"));
    st = sq_stmt(s, SQ_UPLOAD_DELETE, &rc_);
    if (!st)
        return sq_fail(s, rc_, errbuf, errlen, "prepare");
    sq_bind_text(st, 1, upload_id);
    return step_done(s, st, errbuf, errlen, "upload delete");
}

/* Drop a few abandoned uploads (older than a day); runs inside a write transaction. */
static aos_result expire_uploads(sq_t *s, char *errbuf, size_t errlen)
{
    char ids[16][AOS_STORAGE_ID_MAX + 1];
    int n = 0, rc;
    PREPARE_OR_FAIL(st, s, SQ_UPLOAD_EXPIRED);
    sqlite3_bind_int64(st, 1, storage_now_ms() - UPLOAD_EXPIRY_MS);
    while (n < 16 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        snprintf(ids[n++], sizeof ids[0], "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    for (int i = 0; i < n; i++)
        AOS_RETURN_IF_FAILED(drop_upload(s, ids[i], errbuf, errlen));
    return AOS_OK;
}

/* Where an upload id stands: staged for container/name, already committed, or unknown. */
typedef enum upload_state { UPLOAD_UNKNOWN, UPLOAD_STAGED, UPLOAD_COMMITTED } upload_state;

static aos_result upload_lookup(sq_t *s, const char *container, const char *name,
                                const char *upload_id, upload_state *out, char *errbuf,
                                size_t errlen)
{
    *out = UPLOAD_UNKNOWN;
    for (int pass = 0; pass < 2; pass++) {
        PREPARE_OR_FAIL(st, s, pass == 0 ? SQ_UPLOAD_GET : SQ_BLOB_BY_UPLOAD);
        sq_bind_text(st, 1, upload_id);
        int rc = sqlite3_step(st);
        aos_result r = AOS_OK;
        if (rc == SQLITE_ROW) {
            const char *c = (const char *)sqlite3_column_text(st, 0);
            const char *n = (const char *)sqlite3_column_text(st, 1);
            if (strcmp(c, container) != 0 || strcmp(n, name) != 0)
                r = aos_fail(AOS_ERR_CONFLICT, errbuf, errlen,
                             "upload '%s' belongs to another blob", upload_id);
            else
                *out = pass == 0 ? UPLOAD_STAGED : UPLOAD_COMMITTED;
        } else if (rc != SQLITE_DONE) {
            r = sq_fail(s, rc, errbuf, errlen, "upload lookup");
        }
        sqlite3_reset(st);
        if (r != AOS_OK || *out != UPLOAD_UNKNOWN)
            return r;
    }
    return AOS_OK;
}

/* Run fn inside a write transaction: commit on AOS_OK, roll back otherwise. */
#define IN_WRITE_TX(s, expr)                                                                       \
    do {                                                                                           \
        AOS_RETURN_IF_FAILED(sq_begin((s), true, errbuf, errlen));                                 \
        aos_result tx_r_ = (expr);                                                                 \
        if (tx_r_ != AOS_OK) {                                                                     \
            sq_rollback(s);                                                                        \
            return tx_r_;                                                                          \
        }                                                                                          \
        return sq_commit((s), errbuf, errlen);                                                     \
    } while (0)

static aos_result begin_tx(sq_t *s, const char *container, const char *name, const char *upload_id,
                           const char *content_type, char *errbuf, size_t errlen)
{
    upload_state state;
    AOS_RETURN_IF_FAILED(expire_uploads(s, errbuf, errlen));
    AOS_RETURN_IF_FAILED(upload_lookup(s, container, name, upload_id, &state, errbuf, errlen));
    if (state != UPLOAD_UNKNOWN)
        return AOS_OK; /* redelivered begin */
    PREPARE_OR_FAIL(st, s, SQ_UPLOAD_INSERT);
    sq_bind_text(st, 1, upload_id);
    sq_bind_text(st, 2, container);
    sq_bind_text(st, 3, name);
    sq_bind_text(st, 4, content_type ? content_type : "application/octet-stream");
    sqlite3_bind_int64(st, 5, storage_now_ms());
    return step_done(s, st, errbuf, errlen, "upload insert");
}

aos_result sq_blob_put_begin(storage_backend_t *be, const char *container, const char *name,
                             const char *upload_id, const char *content_type, char *errbuf,
                             size_t errlen)
{
    sq_t *s = (sq_t *)be;
    IN_WRITE_TX(s, begin_tx(s, container, name, upload_id, content_type, errbuf, errlen));
}

static aos_result chunk_tx(sq_t *s, const char *container, const char *name, const char *upload_id,
                           uint32_t index, const void *data, size_t len, char *errbuf,
                           size_t errlen)
{
    upload_state state;
    AOS_RETURN_IF_FAILED(upload_lookup(s, container, name, upload_id, &state, errbuf, errlen));
    if (state == UPLOAD_COMMITTED)
        return AOS_OK; /* redelivered chunk of a finished upload */
    if (state == UPLOAD_UNKNOWN)
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "upload '%s' not found", upload_id);
    PREPARE_OR_FAIL(st, s, SQ_CHUNK_PUT);
    sq_bind_text(st, 1, upload_id);
    sqlite3_bind_int64(st, 2, index);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)len);
    sqlite3_bind_blob(st, 4, len ? data : "", (int)len, SQLITE_STATIC);
    aos_result r = step_done(s, st, errbuf, errlen, "chunk insert");
    sqlite3_clear_bindings(st); /* do not keep a pointer to the caller's buffer */
    return r;
}

aos_result sq_blob_put_chunk(storage_backend_t *be, const char *container, const char *name,
                             const char *upload_id, uint32_t index, const void *data, size_t len,
                             char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    if (len > AOS_STORAGE_CHUNK_MAX || index >= AOS_STORAGE_MAX_CHUNKS)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "chunk too large or index too high");
    IN_WRITE_TX(s, chunk_tx(s, container, name, upload_id, index, data, len, errbuf, errlen));
}

static aos_result blob_from_row(sqlite3_stmt *st, aos_storage_blob_info_t *out)
{
    out->container = sq_col_dup(st, 0);
    out->name = sq_col_dup(st, 1);
    out->content_type = sq_col_dup(st, 2);
    out->size = (uint64_t)sqlite3_column_int64(st, 3);
    const unsigned char *sha = sqlite3_column_text(st, 4);
    snprintf(out->sha256, sizeof out->sha256, "%s", sha ? (const char *)sha : "");
    out->etag = sq_col_dup(st, 5);
    out->updated_ms = sqlite3_column_int64(st, 6);
    return out->container && out->name && out->content_type && out->etag ? AOS_OK : AOS_ERR_NOMEM;
}

/* The blob's info and (if out_upload) the upload holding its chunks. */
static aos_result blob_get(sq_t *s, const char *container, const char *name,
                           aos_storage_blob_info_t *out, char **out_upload, char *errbuf,
                           size_t errlen)
{
    PREPARE_OR_FAIL(st, s, SQ_BLOB_GET);
    sq_bind_text(st, 1, container);
    sq_bind_text(st, 2, name);
    int rc = sqlite3_step(st);
    aos_result r;
    if (rc == SQLITE_ROW) {
        r = blob_from_row(st, out);
        if (r == AOS_OK && out_upload && !(*out_upload = sq_col_dup(st, 7)))
            r = AOS_ERR_NOMEM;
    } else if (rc == SQLITE_DONE) {
        r = aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "blob '%s/%s' not found", container, name);
    } else {
        r = sq_fail(s, rc, errbuf, errlen, "blob get");
    }
    sqlite3_reset(st);
    return r;
}

/* Hash the staged chunks in order and record each chunk's offset; *out_size = total. */
static aos_result hash_chunks(sq_t *s, const char *upload_id, uint32_t count, char sha_hex[65],
                              uint64_t *out_size, char *errbuf, size_t errlen)
{
    uint32_t *lens = calloc(count ? count : 1, sizeof *lens);
    if (!lens)
        return AOS_ERR_NOMEM;
    aos_storage_sha256_t h = {0};
    aos_result r = aos_storage_sha256_init(&h);
    int rc;
    sqlite3_stmt *st = r == AOS_OK ? sq_stmt(s, SQ_CHUNK_SCAN, &rc) : NULL;
    if (r == AOS_OK && !st)
        r = sq_fail(s, rc, errbuf, errlen, "prepare");
    if (r == AOS_OK) {
        sq_bind_text(st, 1, upload_id);
        uint32_t i = 0;
        while (r == AOS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW && i < count) {
            int n = sqlite3_column_bytes(st, 1);
            r = aos_storage_sha256_update(&h, sqlite3_column_blob(st, 1), (size_t)n);
            lens[i++] = (uint32_t)n;
        }
        if (r == AOS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
            r = sq_fail(s, rc, errbuf, errlen, "chunk scan");
        sqlite3_reset(st);
    }
    uint64_t off = 0;
    for (uint32_t i = 0; r == AOS_OK && i < count; i++) {
        st = sq_stmt(s, SQ_CHUNK_SET_OFFSET, &rc);
        if (!st) {
            r = sq_fail(s, rc, errbuf, errlen, "prepare");
            break;
        }
        sq_bind_text(st, 1, upload_id);
        sqlite3_bind_int64(st, 2, i);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)off);
        r = step_done(s, st, errbuf, errlen, "chunk offset");
        off += lens[i];
    }
    free(lens);
    if (r == AOS_OK)
        r = aos_storage_sha256_final(&h, sha_hex);
    aos_storage_sha256_free(&h);
    *out_size = off;
    return r;
}

static aos_result count_chunks(sq_t *s, const char *upload_id, uint32_t count, char *errbuf,
                               size_t errlen)
{
    PREPARE_OR_FAIL(st, s, SQ_CHUNK_COUNT);
    sq_bind_text(st, 1, upload_id);
    sqlite3_bind_int64(st, 2, count);
    int rc = sqlite3_step(st);
    sqlite3_int64 have = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (have < 0)
        return sq_fail(s, rc, errbuf, errlen, "chunk count");
    if (have != count)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "upload '%s' has %lld of %u chunks",
                        upload_id, (long long)have, count);
    st = sq_stmt(s, SQ_CHUNK_TRIM, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    sq_bind_text(st, 1, upload_id);
    sqlite3_bind_int64(st, 2, count);
    return step_done(s, st, errbuf, errlen, "chunk trim");
}

static void random_etag(char out[35])
{
    unsigned char b[16] = {0};
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        int64_t now = storage_now_ms();
        memcpy(b, &now, sizeof now);
    }
    static const char hex[] = "0123456789abcdef";
    out[0] = '"';
    for (int i = 0; i < 16; i++) {
        out[1 + 2 * i] = hex[b[i] >> 4];
        out[2 + 2 * i] = hex[b[i] & 15];
    }
    out[33] = '"';
    out[34] = '\0';
}

static aos_result commit_staged(sq_t *s, const char *container, const char *name,
                                const char *upload_id, uint32_t count, const char *expected,
                                char *errbuf, size_t errlen)
{
    char sha[65], etag[35];
    uint64_t size = 0;
    char *ctype = NULL, *old_upload = NULL;
    AOS_RETURN_IF_FAILED(count_chunks(s, upload_id, count, errbuf, errlen));
    AOS_RETURN_IF_FAILED(hash_chunks(s, upload_id, count, sha, &size, errbuf, errlen));
    if (expected && strcmp(expected, sha) != 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "checksum mismatch: content has sha256 %s",
                        sha);
    PREPARE_OR_FAIL(st, s, SQ_UPLOAD_GET);
    sq_bind_text(st, 1, upload_id);
    if (sqlite3_step(st) == SQLITE_ROW)
        ctype = sq_col_dup(st, 2);
    sqlite3_reset(st);
    aos_storage_blob_info_t old = {0};
    aos_result r = blob_get(s, container, name, &old, &old_upload, errbuf, errlen);
    aos_storage_blob_info_clear(&old);
    if (r == AOS_OK)
        r = drop_upload(s, old_upload, errbuf, errlen);
    else if (r == AOS_ERR_NOT_FOUND)
        r = AOS_OK;
    free(old_upload);
    if (r == AOS_OK && !(st = sq_stmt(s, SQ_BLOB_UPSERT, &rc_)))
        r = sq_fail(s, rc_, errbuf, errlen, "prepare");
    if (r == AOS_OK) {
        random_etag(etag);
        sq_bind_text(st, 1, container);
        sq_bind_text(st, 2, name);
        sq_bind_text(st, 3, ctype ? ctype : "application/octet-stream");
        sqlite3_bind_int64(st, 4, (sqlite3_int64)size);
        sq_bind_text(st, 5, sha);
        sq_bind_text(st, 6, etag);
        sq_bind_text(st, 7, upload_id);
        sqlite3_bind_int64(st, 8, storage_now_ms());
        r = step_done(s, st, errbuf, errlen, "blob upsert");
    }
    free(ctype);
    if (r == AOS_OK && !(st = sq_stmt(s, SQ_UPLOAD_DELETE, &rc_)))
        r = sq_fail(s, rc_, errbuf, errlen, "prepare");
    if (r == AOS_OK) {
        sq_bind_text(st, 1, upload_id);
        r = step_done(s, st, errbuf, errlen, "upload delete");
    }
    return r;
}

static aos_result commit_tx(sq_t *s, const char *container, const char *name, const char *upload_id,
                            uint32_t count, const char *expected, aos_storage_blob_info_t *out,
                            char *errbuf, size_t errlen)
{
    upload_state state;
    if (count == 0 || count > AOS_STORAGE_MAX_CHUNKS)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "chunk count must be 1..%d",
                        AOS_STORAGE_MAX_CHUNKS);
    AOS_RETURN_IF_FAILED(upload_lookup(s, container, name, upload_id, &state, errbuf, errlen));
    if (state == UPLOAD_UNKNOWN)
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "upload '%s' not found", upload_id);
    if (state == UPLOAD_STAGED)
        AOS_RETURN_IF_FAILED(
            commit_staged(s, container, name, upload_id, count, expected, errbuf, errlen));
    AOS_RETURN_IF_FAILED(blob_get(s, container, name, out, NULL, errbuf, errlen));
    if (expected && strcmp(expected, out->sha256) != 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "checksum mismatch");
    return AOS_OK;
}

aos_result sq_blob_put_commit(storage_backend_t *be, const char *container, const char *name,
                              const char *upload_id, uint32_t chunk_count,
                              const char *expected_sha256, aos_storage_blob_info_t *out,
                              char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    IN_WRITE_TX(s, commit_tx(s, container, name, upload_id, chunk_count, expected_sha256, out,
                             errbuf, errlen));
}

static aos_result abort_tx(sq_t *s, const char *container, const char *name, const char *upload_id,
                           char *errbuf, size_t errlen)
{
    upload_state state;
    AOS_RETURN_IF_FAILED(upload_lookup(s, container, name, upload_id, &state, errbuf, errlen));
    return state == UPLOAD_STAGED ? drop_upload(s, upload_id, errbuf, errlen) : AOS_OK;
}

aos_result sq_blob_put_abort(storage_backend_t *be, const char *container, const char *name,
                             const char *upload_id, char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    IN_WRITE_TX(s, abort_tx(s, container, name, upload_id, errbuf, errlen));
}

aos_result sq_blob_head(storage_backend_t *be, const char *container, const char *name,
                        aos_storage_blob_info_t *out, char *errbuf, size_t errlen)
{
    return blob_get((sq_t *)be, container, name, out, NULL, errbuf, errlen);
}

static aos_result read_range(sq_t *s, const char *upload_id, uint64_t offset, size_t len,
                             unsigned char *buf, size_t *out_len, char *errbuf, size_t errlen)
{
    PREPARE_OR_FAIL(st, s, SQ_CHUNK_RANGE);
    sq_bind_text(st, 1, upload_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)offset);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(offset + len));
    int rc;
    size_t got = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t coff = (uint64_t)sqlite3_column_int64(st, 0);
        const unsigned char *data = sqlite3_column_blob(st, 1);
        uint64_t clen = (uint64_t)sqlite3_column_bytes(st, 1);
        uint64_t from = offset > coff ? offset - coff : 0;
        if (from >= clen)
            continue;
        uint64_t n = clen - from;
        if (n > len - got)
            n = len - got;
        memcpy(buf + got, data + from, n);
        got += n;
        if (got == len)
            break;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(s, rc, errbuf, errlen, "chunk read");
    *out_len = got;
    return AOS_OK;
}

aos_result sq_blob_read(storage_backend_t *be, const char *container, const char *name,
                        uint64_t offset, size_t len, const char *if_etag, void *buf,
                        size_t *out_len, char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    aos_storage_blob_info_t info = {0};
    char *upload = NULL;
    *out_len = 0;
    if (len > AOS_STORAGE_CHUNK_MAX)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "read length over the chunk limit");
    AOS_RETURN_IF_FAILED(sq_begin(s, false, errbuf, errlen));
    aos_result r = blob_get(s, container, name, &info, &upload, errbuf, errlen);
    if (r == AOS_OK && if_etag && strcmp(if_etag, info.etag) != 0)
        r = aos_fail(AOS_ERR_CONFLICT, errbuf, errlen, "blob changed (etag %s)", info.etag);
    if (r == AOS_OK && offset < info.size && len > 0) {
        if (len > info.size - offset)
            len = (size_t)(info.size - offset);
        r = read_range(s, upload, offset, len, buf, out_len, errbuf, errlen);
    }
    aos_storage_blob_info_clear(&info);
    free(upload);
    sq_rollback(s);
    return r;
}

aos_result sq_blob_list(storage_backend_t *be, const char *container, const char *prefix,
                        const char *cursor, size_t limit, aos_storage_blob_page_t *out,
                        char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    limit = sq_page_limit(limit);
    PREPARE_OR_FAIL(st, s, SQ_BLOB_LIST);
    if (!(out->items = calloc(limit, sizeof *out->items)))
        return AOS_ERR_NOMEM;
    sq_bind_text(st, 1, container);
    sq_bind_text(st, 2, prefix);
    sq_bind_text(st, 3, cursor);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)limit + 1);
    aos_result r = AOS_OK;
    int rc;
    while (r == AOS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->count == limit) {
            out->next_cursor = aos_storage_strdup(out->items[limit - 1].name);
            r = out->next_cursor ? AOS_OK : AOS_ERR_NOMEM;
            break;
        }
        r = blob_from_row(st, &out->items[out->count++]);
    }
    if (r == AOS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sq_fail(s, rc, errbuf, errlen, "blob list");
    sqlite3_reset(st);
    return r;
}

static aos_result delete_tx(sq_t *s, const char *container, const char *name, bool *out_existed,
                            char *errbuf, size_t errlen)
{
    aos_storage_blob_info_t info = {0};
    char *upload = NULL;
    aos_result r = blob_get(s, container, name, &info, &upload, errbuf, errlen);
    aos_storage_blob_info_clear(&info);
    if (r == AOS_ERR_NOT_FOUND)
        return AOS_OK;
    if (r == AOS_OK)
        r = drop_upload(s, upload, errbuf, errlen);
    free(upload);
    AOS_RETURN_IF_FAILED(r);
    PREPARE_OR_FAIL(st, s, SQ_BLOB_DELETE);
    sq_bind_text(st, 1, container);
    sq_bind_text(st, 2, name);
    r = step_done(s, st, errbuf, errlen, "blob delete");
    *out_existed = r == AOS_OK;
    return r;
}

aos_result sq_blob_delete(storage_backend_t *be, const char *container, const char *name,
                          bool *out_existed, char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    *out_existed = false;
    IN_WRITE_TX(s, delete_tx(s, container, name, out_existed, errbuf, errlen));
}
