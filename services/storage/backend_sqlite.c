/* The SQLite backend: connection, schema, statement cache, conversations and messages.
 * Blobs and records are in backend_sqlite_blob.c. Data layout: docs/storage.md.
 *
 * Durability: WAL with synchronous=FULL, so a transaction is on disk when COMMIT returns and
 * every acknowledged write survives kill -9 of the process (and power loss of the host).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

static const char *const sq_sql[SQ_STMT_COUNT] = {
    [SQ_BEGIN_READ] = "BEGIN DEFERRED",
    [SQ_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_SP_BEGIN] = "SAVEPOINT op",
    [SQ_SP_RELEASE] = "RELEASE op",
    [SQ_SP_ROLLBACK] = "ROLLBACK TO op",
    [SQ_ATOMIC_BEGIN] = "SAVEPOINT atomic",
    [SQ_ATOMIC_RELEASE] = "RELEASE atomic",
    [SQ_ATOMIC_ROLLBACK] = "ROLLBACK TO atomic",
    [SQ_CONV_INSERT] = "INSERT INTO conversations(id, agent, metadata, version, created_ms, "
                       "updated_ms) VALUES(?1, ?2, ?3, 0, ?4, ?4)",
    [SQ_CONV_GET] = "SELECT id, agent, metadata, version, created_ms, updated_ms "
                    "FROM conversations WHERE id = ?1",
    [SQ_CONV_LIST] = "SELECT id, agent, metadata, version, created_ms, updated_ms "
                     "FROM conversations WHERE (?1 IS NULL OR agent = ?1) "
                     "AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3",
    [SQ_CONV_DELETE] = "DELETE FROM conversations WHERE id = ?1",
    [SQ_CONV_BUMP] = "UPDATE conversations SET version = ?2, updated_ms = ?3 WHERE id = ?1",
    [SQ_MSG_DELETE_CONV] = "DELETE FROM messages WHERE conversation_id = ?1",
    [SQ_MSG_INSERT] = "INSERT INTO messages(conversation_id, seq, id, role, content, metadata, "
                      "created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [SQ_MSG_BY_ID] = "SELECT conversation_id, id, seq, role, content, metadata, created_ms "
                     "FROM messages WHERE conversation_id = ?1 AND id = ?2",
    [SQ_MSG_LIST_ASC] = "SELECT conversation_id, id, seq, role, content, metadata, created_ms "
                        "FROM messages WHERE conversation_id = ?1 AND seq > ?2 "
                        "ORDER BY seq LIMIT ?3",
    [SQ_MSG_LIST_DESC] = "SELECT conversation_id, id, seq, role, content, metadata, created_ms "
                         "FROM messages WHERE conversation_id = ?1 AND seq < ?2 "
                         "ORDER BY seq DESC LIMIT ?3",
    [SQ_UPLOAD_INSERT] = "INSERT INTO uploads(upload_id, container, name, content_type, "
                         "created_ms) VALUES(?1, ?2, ?3, ?4, ?5)",
    [SQ_UPLOAD_GET] = "SELECT container, name, content_type FROM uploads WHERE upload_id = ?1",
    [SQ_UPLOAD_DELETE] = "DELETE FROM uploads WHERE upload_id = ?1",
    [SQ_UPLOAD_EXPIRED] = "SELECT upload_id FROM uploads WHERE created_ms < ?1 LIMIT 16",
    [SQ_CHUNK_PUT] = "INSERT OR REPLACE INTO blob_chunks(upload_id, idx, offset, len, data) "
                     "VALUES(?1, ?2, 0, ?3, ?4)",
    [SQ_CHUNK_COUNT] = "SELECT count(*) FROM blob_chunks WHERE upload_id = ?1 AND idx < ?2",
    [SQ_CHUNK_TRIM] = "DELETE FROM blob_chunks WHERE upload_id = ?1 AND idx >= ?2",
    [SQ_CHUNK_SCAN] = "SELECT idx, data FROM blob_chunks WHERE upload_id = ?1 ORDER BY idx",
    [SQ_CHUNK_SET_OFFSET] = "UPDATE blob_chunks SET offset = ?3 WHERE upload_id = ?1 AND idx = ?2",
    [SQ_CHUNK_DROP] = "DELETE FROM blob_chunks WHERE upload_id = ?1",
    [SQ_CHUNK_RANGE] = "SELECT offset, data FROM blob_chunks WHERE upload_id = ?1 "
                       "AND offset >= (SELECT max(offset) FROM blob_chunks "
                       "WHERE upload_id = ?1 AND offset <= ?2) "
                       "AND offset < ?3 AND len > 0 ORDER BY offset",
    [SQ_BLOB_GET] = "SELECT container, name, content_type, size, sha256, etag, updated_ms, "
                    "upload_id FROM blobs WHERE container = ?1 AND name = ?2",
    [SQ_BLOB_BY_UPLOAD] = "SELECT container, name FROM blobs WHERE upload_id = ?1",
    [SQ_BLOB_UPSERT] = "INSERT INTO blobs(container, name, content_type, size, sha256, etag, "
                       "upload_id, updated_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                       "ON CONFLICT(container, name) DO UPDATE SET "
                       "content_type = excluded.content_type, size = excluded.size, "
                       "sha256 = excluded.sha256, etag = excluded.etag, "
                       "upload_id = excluded.upload_id, updated_ms = excluded.updated_ms",
    [SQ_BLOB_DELETE] = "DELETE FROM blobs WHERE container = ?1 AND name = ?2",
    [SQ_BLOB_LIST] = "SELECT container, name, content_type, size, sha256, etag, updated_ms "
                     "FROM blobs WHERE container = ?1 "
                     "AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2) "
                     "AND (?3 IS NULL OR name > ?3) ORDER BY name LIMIT ?4",
    [SQ_REC_GET] = "SELECT kind, key, data, version, updated_ms, op_id FROM records "
                   "WHERE kind = ?1 AND key = ?2",
    [SQ_REC_INSERT] = "INSERT INTO records(kind, key, data, version, op_id, updated_ms) "
                      "VALUES(?1, ?2, ?3, 1, ?4, ?5)",
    [SQ_REC_UPDATE] = "UPDATE records SET data = ?3, version = version + 1, op_id = ?4, "
                      "updated_ms = ?5 WHERE kind = ?1 AND key = ?2",
    [SQ_REC_DELETE] = "DELETE FROM records WHERE kind = ?1 AND key = ?2",
    [SQ_REC_LIST] = "SELECT kind, key, data, version, updated_ms FROM records WHERE kind = ?1 "
                    "AND (?2 IS NULL OR substr(key, 1, length(?2)) = ?2) "
                    "AND (?3 IS NULL OR key > ?3) ORDER BY key LIMIT ?4",
    [SQ_REC_HEAD] = "SELECT version, op_id FROM records WHERE kind = ?1 AND key = ?2",
};

static const char sq_schema[] =
    "CREATE TABLE IF NOT EXISTS conversations("
    " id TEXT PRIMARY KEY, agent TEXT NOT NULL, metadata TEXT NOT NULL,"
    " version INTEGER NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS conversations_by_agent ON conversations(agent, id);"
    "CREATE TABLE IF NOT EXISTS messages("
    " conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,"
    " role TEXT NOT NULL, content TEXT NOT NULL, metadata TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, PRIMARY KEY(conversation_id, seq));"
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_by_id ON messages(conversation_id, id);"
    "CREATE TABLE IF NOT EXISTS uploads("
    " upload_id TEXT PRIMARY KEY, container TEXT NOT NULL, name TEXT NOT NULL,"
    " content_type TEXT NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS blob_chunks("
    " upload_id TEXT NOT NULL, idx INTEGER NOT NULL, offset INTEGER NOT NULL,"
    " len INTEGER NOT NULL, data BLOB NOT NULL, UNIQUE(upload_id, idx));"
    "CREATE INDEX IF NOT EXISTS blob_chunks_by_offset ON blob_chunks(upload_id, offset);"
    "CREATE TABLE IF NOT EXISTS blobs("
    " container TEXT NOT NULL, name TEXT NOT NULL, content_type TEXT NOT NULL,"
    " size INTEGER NOT NULL, sha256 TEXT NOT NULL, etag TEXT NOT NULL,"
    " upload_id TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(container, name)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS blobs_by_upload ON blobs(upload_id);"
    "CREATE TABLE IF NOT EXISTS records("
    " kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, version INTEGER NOT NULL,"
    " op_id TEXT, updated_ms INTEGER NOT NULL, PRIMARY KEY(kind, key)) WITHOUT ROWID;";

aos_result sq_fail(sq_t *s, int rc, char *errbuf, size_t errlen, const char *what)
{
    const char *detail = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    aos_result r;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
    case SQLITE_PERM:
        r = AOS_ERR_UNAVAILABLE;
        break;
    case SQLITE_NOMEM:
        r = AOS_ERR_NOMEM;
        break;
    case SQLITE_TOOBIG:
        r = AOS_ERR_TOO_LARGE;
        break;
    case SQLITE_CONSTRAINT:
        r = AOS_ERR_CONFLICT;
        break;
    default:
        r = AOS_ERR_INTERNAL;
    }
    return aos_fail(r, errbuf, errlen, "sqlite %s: %s", what, detail);
}

sqlite3_stmt *sq_stmt(sq_t *s, sq_stmt_id id, int *rc)
{
    sqlite3_stmt *st = s->stmts[id];
    if (!st) {
        *rc = sqlite3_prepare_v3(s->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (*rc != SQLITE_OK)
            return NULL;
        s->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    *rc = SQLITE_OK;
    return st;
}

aos_result sq_exec(sq_t *s, sq_stmt_id id, char *errbuf, size_t errlen)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, id, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, errbuf, errlen, sq_sql[id]);
    return AOS_OK;
}

aos_result sq_begin(sq_t *s, bool write, char *errbuf, size_t errlen)
{
    if (s->in_group) { /* the batch transaction is open; this operation gets a savepoint */
        aos_result r = s->sp_whole ? AOS_OK : sq_exec(s, SQ_SP_BEGIN, errbuf, errlen);
        s->sp_open = r == AOS_OK;
        return r;
    }
    return sq_exec(s, write ? SQ_BEGIN_WRITE : SQ_BEGIN_READ, errbuf, errlen);
}

aos_result sq_commit(sq_t *s, char *errbuf, size_t errlen)
{
    if (s->in_group && s->sp_whole) {
        s->sp_open = false;
        return AOS_OK;
    }
    aos_result r = sq_exec(s, s->in_group ? SQ_SP_RELEASE : SQ_COMMIT, errbuf, errlen);
    if (r != AOS_OK)
        sq_rollback(s);
    else if (s->in_group)
        s->sp_open = false; /* durable when the batch commits (sqg_* wait for that) */
    return r;
}

void sq_rollback(sq_t *s)
{
    if (s->in_group) {
        if (s->sp_open && s->sp_whole) {
            if (!sqlite3_get_autocommit(s->db))
                (void)sq_exec(s, SQ_ROLLBACK, NULL, 0);
            s->tx_undone = true;
        } else if (s->sp_open && !sqlite3_get_autocommit(s->db)) {
            (void)sq_exec(s, SQ_SP_ROLLBACK, NULL, 0);
            (void)sq_exec(s, SQ_SP_RELEASE, NULL, 0);
        }
        s->sp_open = false;
        return;
    }
    if (!sqlite3_get_autocommit(s->db))
        (void)sq_exec(s, SQ_ROLLBACK, NULL, 0);
}

int sq_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
    if (!v)
        return sqlite3_bind_null(st, idx);
    return sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT);
}

char *sq_col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

size_t sq_page_limit(size_t limit)
{
    if (limit == 0)
        limit = AOS_STORAGE_PAGE_DEFAULT;
    if (limit > AOS_STORAGE_PAGE_MAX)
        limit = AOS_STORAGE_PAGE_MAX;
    return limit;
}

/* ---- lifecycle ---- */

void sq_close(sq_t *s)
{
    for (int i = 0; i < SQ_STMT_COUNT; i++) {
        sqlite3_finalize(s->stmts[i]);
        s->stmts[i] = NULL;
    }
    sqlite3_close_v2(s->db);
    s->db = NULL;
}

static void sq_free(storage_backend_t *be)
{
    sq_t *s = (sq_t *)be;
    if (!s)
        return;
    sq_close(s);
    sq_group_release(s->group);
    free(s);
}

static aos_result sq_health(storage_backend_t *be, char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    /* Taking the write lock proves the file is reachable, writable and not held by someone
     * else for longer than the busy timeout. */
    aos_result r = sq_begin(s, true, errbuf, errlen);
    if (r != AOS_OK)
        return AOS_ERR_UNAVAILABLE;
    sq_rollback(s);
    return AOS_OK;
}

/* ---- conversations ---- */

static aos_result conv_from_row(sqlite3_stmt *st, aos_storage_conversation_t *out)
{
    out->id = sq_col_dup(st, 0);
    out->agent = sq_col_dup(st, 1);
    out->metadata_json = sq_col_dup(st, 2);
    out->version = sqlite3_column_int64(st, 3);
    out->created_ms = sqlite3_column_int64(st, 4);
    out->updated_ms = sqlite3_column_int64(st, 5);
    return out->id && out->agent && out->metadata_json ? AOS_OK : AOS_ERR_NOMEM;
}

/* Load a conversation inside the caller's transaction. */
static aos_result conv_load(sq_t *s, const char *id, aos_storage_conversation_t *out, char *errbuf,
                            size_t errlen)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, SQ_CONV_GET, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    sq_bind_text(st, 1, id);
    rc = sqlite3_step(st);
    aos_result r;
    if (rc == SQLITE_ROW)
        r = conv_from_row(st, out);
    else if (rc == SQLITE_DONE)
        r = aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "conversation '%s' not found", id);
    else
        r = sq_fail(s, rc, errbuf, errlen, "conversation get");
    sqlite3_reset(st);
    return r;
}

static aos_result sq_conversation_create(storage_backend_t *be,
                                         const aos_storage_conversation_t *in,
                                         aos_storage_conversation_t *out, bool *out_created,
                                         char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    *out_created = false;
    AOS_RETURN_IF_FAILED(sq_begin(s, true, errbuf, errlen));
    aos_result r = conv_load(s, in->id, out, errbuf, errlen);
    if (r == AOS_OK) {
        if (strcmp(out->agent, in->agent) != 0)
            r = aos_fail(AOS_ERR_CONFLICT, errbuf, errlen,
                         "conversation '%s' exists for agent '%s'", in->id, out->agent);
        sq_rollback(s);
        return r;
    }
    if (r != AOS_ERR_NOT_FOUND) {
        sq_rollback(s);
        return r;
    }
    int rc;
    sqlite3_stmt *st = sq_stmt(s, SQ_CONV_INSERT, &rc);
    if (st) {
        sq_bind_text(st, 1, in->id);
        sq_bind_text(st, 2, in->agent);
        sq_bind_text(st, 3, in->metadata_json ? in->metadata_json : "{}");
        sqlite3_bind_int64(st, 4, storage_now_ms());
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        r = sq_fail(s, rc, errbuf, errlen, "conversation insert");
        sq_rollback(s);
        return r;
    }
    r = conv_load(s, in->id, out, errbuf, errlen);
    if (r == AOS_OK)
        r = sq_commit(s, errbuf, errlen);
    else
        sq_rollback(s);
    *out_created = r == AOS_OK;
    return r;
}

static aos_result sq_conversation_get(storage_backend_t *be, const char *id,
                                      aos_storage_conversation_t *out, char *errbuf, size_t errlen)
{
    return conv_load((sq_t *)be, id, out, errbuf, errlen);
}

static aos_result sq_conversation_list(storage_backend_t *be, const char *agent, const char *cursor,
                                       size_t limit, aos_storage_conversation_page_t *out,
                                       char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    limit = sq_page_limit(limit);
    int rc;
    sqlite3_stmt *st = sq_stmt(s, SQ_CONV_LIST, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    out->items = calloc(limit + 1, sizeof *out->items);
    if (!out->items)
        return AOS_ERR_NOMEM;
    sq_bind_text(st, 1, agent);
    sq_bind_text(st, 2, cursor);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit + 1);
    aos_result r = AOS_OK;
    while (r == AOS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->count == limit) {
            out->next_cursor = aos_storage_strdup(out->items[limit - 1].id);
            r = out->next_cursor ? AOS_OK : AOS_ERR_NOMEM;
            break;
        }
        r = conv_from_row(st, &out->items[out->count++]);
    }
    if (r == AOS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sq_fail(s, rc, errbuf, errlen, "conversation list");
    sqlite3_reset(st);
    return r;
}

static aos_result delete_by_id(sq_t *s, sq_stmt_id id, const char *key, int *changes, char *errbuf,
                               size_t errlen)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, id, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    sq_bind_text(st, 1, key);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, errbuf, errlen, "delete");
    if (changes)
        *changes = sqlite3_changes(s->db);
    return AOS_OK;
}

static aos_result sq_conversation_delete(storage_backend_t *be, const char *id, bool *out_existed,
                                         char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    int changes = 0;
    *out_existed = false;
    AOS_RETURN_IF_FAILED(sq_begin(s, true, errbuf, errlen));
    aos_result r = delete_by_id(s, SQ_MSG_DELETE_CONV, id, NULL, errbuf, errlen);
    if (r == AOS_OK)
        r = delete_by_id(s, SQ_CONV_DELETE, id, &changes, errbuf, errlen);
    if (r != AOS_OK) {
        sq_rollback(s);
        return r;
    }
    r = sq_commit(s, errbuf, errlen);
    *out_existed = r == AOS_OK && changes > 0;
    return r;
}

/* ---- messages ---- */

static aos_result msg_from_row(sqlite3_stmt *st, aos_storage_message_t *out)
{
    out->conversation_id = sq_col_dup(st, 0);
    out->id = sq_col_dup(st, 1);
    out->seq = sqlite3_column_int64(st, 2);
    out->role = sq_col_dup(st, 3);
    out->content = sq_col_dup(st, 4);
    out->metadata_json = sq_col_dup(st, 5);
    out->created_ms = sqlite3_column_int64(st, 6);
    return out->conversation_id && out->id && out->role && out->content && out->metadata_json
               ? AOS_OK
               : AOS_ERR_NOMEM;
}

/* The stored message with this id, AOS_ERR_NOT_FOUND if none. */
static aos_result msg_by_id(sq_t *s, const char *conv, const char *id, aos_storage_message_t *out,
                            char *errbuf, size_t errlen)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, SQ_MSG_BY_ID, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    sq_bind_text(st, 1, conv);
    sq_bind_text(st, 2, id);
    rc = sqlite3_step(st);
    aos_result r;
    if (rc == SQLITE_ROW)
        r = msg_from_row(st, out);
    else if (rc == SQLITE_DONE)
        r = AOS_ERR_NOT_FOUND;
    else
        r = sq_fail(s, rc, errbuf, errlen, "message get");
    sqlite3_reset(st);
    return r;
}

static bool msg_same(const aos_storage_message_t *a, const aos_storage_message_t *b)
{
    const char *ma = a->metadata_json ? a->metadata_json : "{}";
    const char *mb = b->metadata_json ? b->metadata_json : "{}";
    return strcmp(a->role, b->role) == 0 && strcmp(a->content, b->content) == 0 &&
           strcmp(ma, mb) == 0;
}

static aos_result msg_insert(sq_t *s, const aos_storage_message_t *in, int64_t seq, int64_t now,
                             char *errbuf, size_t errlen)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, SQ_MSG_INSERT, &rc);
    if (st) {
        sq_bind_text(st, 1, in->conversation_id);
        sqlite3_bind_int64(st, 2, seq);
        sq_bind_text(st, 3, in->id);
        sq_bind_text(st, 4, in->role);
        sq_bind_text(st, 5, in->content);
        sq_bind_text(st, 6, in->metadata_json ? in->metadata_json : "{}");
        sqlite3_bind_int64(st, 7, now);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, errbuf, errlen, "message insert");
    st = sq_stmt(s, SQ_CONV_BUMP, &rc);
    if (st) {
        sq_bind_text(st, 1, in->conversation_id);
        sqlite3_bind_int64(st, 2, seq);
        sqlite3_bind_int64(st, 3, now);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    return rc == SQLITE_DONE ? AOS_OK : sq_fail(s, rc, errbuf, errlen, "conversation update");
}

static aos_result sq_message_append(storage_backend_t *be, const aos_storage_message_t *in,
                                    int64_t expected_version, aos_storage_message_t *out,
                                    bool *out_created, char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    aos_storage_conversation_t conv = {0};
    *out_created = false;
    AOS_RETURN_IF_FAILED(sq_begin(s, true, errbuf, errlen));
    aos_result r = conv_load(s, in->conversation_id, &conv, errbuf, errlen);
    if (r == AOS_OK) {
        r = msg_by_id(s, in->conversation_id, in->id, out, errbuf, errlen);
        if (r == AOS_OK) {
            if (!msg_same(in, out))
                r = aos_fail(AOS_ERR_CONFLICT, errbuf, errlen,
                             "message '%s' exists with other content", in->id);
            goto done;
        }
        if (r != AOS_ERR_NOT_FOUND)
            goto done;
        if (expected_version >= 0 && expected_version != conv.version) {
            r = aos_fail(AOS_ERR_CONFLICT, errbuf, errlen,
                         "conversation '%s' is at version %lld, expected %lld", in->conversation_id,
                         (long long)conv.version, (long long)expected_version);
            goto done;
        }
        r = msg_insert(s, in, conv.version + 1, storage_now_ms(), errbuf, errlen);
        if (r == AOS_OK)
            r = msg_by_id(s, in->conversation_id, in->id, out, errbuf, errlen);
        if (r == AOS_OK) {
            aos_storage_conversation_clear(&conv);
            r = sq_commit(s, errbuf, errlen);
            *out_created = r == AOS_OK;
            return r;
        }
    }
done:
    aos_storage_conversation_clear(&conv);
    sq_rollback(s);
    return r;
}

static aos_result sq_message_list(storage_backend_t *be, const char *conversation_id,
                                  const char *cursor, size_t limit, bool reverse,
                                  aos_storage_message_page_t *out, char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    int64_t after = reverse ? INT64_MAX : 0;
    if (cursor) {
        char *end = NULL;
        long long v = strtoll(cursor, &end, 10);
        if (!end || *end || v < 0)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad cursor");
        after = v;
    }
    limit = sq_page_limit(limit);
    aos_storage_conversation_t conv = {0};
    AOS_RETURN_IF_FAILED(sq_begin(s, false, errbuf, errlen));
    aos_result r = conv_load(s, conversation_id, &conv, errbuf, errlen);
    aos_storage_conversation_clear(&conv);
    int rc = SQLITE_OK;
    sqlite3_stmt *st = NULL;
    if (r == AOS_OK && !(st = sq_stmt(s, reverse ? SQ_MSG_LIST_DESC : SQ_MSG_LIST_ASC, &rc)))
        r = sq_fail(s, rc, errbuf, errlen, "prepare");
    if (r == AOS_OK && !(out->items = calloc(limit, sizeof *out->items)))
        r = AOS_ERR_NOMEM;
    if (r == AOS_OK) {
        sq_bind_text(st, 1, conversation_id);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)limit + 1);
        while (r == AOS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (out->count == limit) {
                char buf[32];
                snprintf(buf, sizeof buf, "%lld", (long long)out->items[limit - 1].seq);
                out->next_cursor = strdup(buf);
                r = out->next_cursor ? AOS_OK : AOS_ERR_NOMEM;
                break;
            }
            r = msg_from_row(st, &out->items[out->count++]);
        }
        if (r == AOS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
            r = sq_fail(s, rc, errbuf, errlen, "message list");
        sqlite3_reset(st);
    }
    sq_rollback(s);
    return r;
}

/* ---- open ---- */

static const storage_backend_ops_t sq_ops;

static aos_result sq_setup(sq_t *s, int busy_ms, char *errbuf, size_t errlen)
{
    sqlite3_busy_timeout(s->db, busy_ms);
    sqlite3_extended_result_codes(s->db, 1);
    const char *pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          "PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;";
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, pragmas, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, sq_schema, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        aos_result r = sq_fail(s, rc, errbuf, errlen, "schema");
        sqlite3_free(msg);
        return r;
    }
    return AOS_OK;
}

/* Process-wide, before the first connection (docs/storage.md "Memory"): a connection
 * preallocated and touched 20 cache pages (SQLITE_DEFAULT_PCACHE_INITSZ, ~88 KiB) and a
 * 100-slot lookaside (120 KiB) at open, for each of the up to storage_workers + 2 connections.
 * Cache pages now come one by one as they are used (once each; the cache keeps them), and the
 * lookaside keeps 32 slots: prepared statements are cached, so the bursts of small allocations
 * of parsing SQL happen once per connection. */
static void sq_configure(void)
{
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
    sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 1200, 32);
}

aos_result sq_connect(sq_t *s, const storage_backend_config_t *cfg, char *errbuf, size_t errlen)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, sq_configure); /* refused (ignored) once SQLite is initialized */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(cfg->sqlite_path, &s->db, flags, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, errbuf, errlen, "open");
    return sq_setup(s, cfg->busy_timeout_ms > 0 ? cfg->busy_timeout_ms : 5000, errbuf, errlen);
}

aos_result storage_sqlite_open(const storage_backend_config_t *cfg, storage_backend_t **out_be,
                               char *errbuf, size_t errlen)
{
    *out_be = NULL;
    if (!cfg->sqlite_path || !*cfg->sqlite_path)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "sqlite path is not set");
    sq_t *s = calloc(1, sizeof *s);
    if (!s)
        return AOS_ERR_NOMEM;
    s->base.ops = &sq_ops;
    aos_result r = sq_connect(s, cfg, errbuf, errlen);
    if (r == AOS_OK)
        r = sq_group_acquire(cfg, &s->group, errbuf, errlen);
    if (r != AOS_OK) {
        sq_free(&s->base);
        return r;
    }
    *out_be = &s->base;
    return AOS_OK;
}

/* The operations on whichever connection they are given (the group writer runs the write
 * operations through these). */
const storage_backend_ops_t sq_raw_ops = {
    .name = "sqlite",
    .free = sq_free,
    .health = sq_health,
    .conversation_create = sq_conversation_create,
    .conversation_get = sq_conversation_get,
    .conversation_list = sq_conversation_list,
    .conversation_delete = sq_conversation_delete,
    .message_append = sq_message_append,
    .message_list = sq_message_list,
    .blob_put_begin = sq_blob_put_begin,
    .blob_put_chunk = sq_blob_put_chunk,
    .blob_put_commit = sq_blob_put_commit,
    .blob_put_abort = sq_blob_put_abort,
    .blob_head = sq_blob_head,
    .blob_read = sq_blob_read,
    .blob_list = sq_blob_list,
    .blob_delete = sq_blob_delete,
    .record_get = sq_record_get,
    .record_put = sq_record_put,
    .record_list = sq_record_list,
    .record_delete = sq_record_delete,
};

static const storage_backend_ops_t sq_ops = {
    .name = "sqlite",
    .free = sq_free,
    .health = sq_health,
    .conversation_create = sqg_conversation_create,
    .conversation_get = sq_conversation_get,
    .conversation_list = sq_conversation_list,
    .conversation_delete = sqg_conversation_delete,
    .message_append = sqg_message_append,
    .message_list = sq_message_list,
    .blob_put_begin = sqg_blob_put_begin,
    .blob_put_chunk = sqg_blob_put_chunk,
    .blob_put_commit = sqg_blob_put_commit,
    .blob_put_abort = sqg_blob_put_abort,
    .blob_head = sq_blob_head,
    .blob_read = sq_blob_read,
    .blob_list = sq_blob_list,
    .blob_delete = sqg_blob_delete,
    .record_get = sq_record_get,
    .record_put = sqg_record_put,
    .record_list = sq_record_list,
    .record_delete = sqg_record_delete,
    .run_atomic = sqg_run_atomic,
};
