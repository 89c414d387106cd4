/* The SQLite backend: adapter and job records with optimistic concurrency.
 *
 * A record's version is a counter (1 on create, +1 per write) rendered as decimal text; the
 * op_id of the write that produced it is kept so a redelivered write is recognised.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

static aos_result rec_from_row(sqlite3_stmt *st, aos_storage_record_t *out)
{
    char ver[32];
    out->kind = sq_col_dup(st, 0);
    out->key = sq_col_dup(st, 1);
    out->data_json = sq_col_dup(st, 2);
    snprintf(ver, sizeof ver, "%lld", (long long)sqlite3_column_int64(st, 3));
    out->version = strdup(ver);
    out->updated_ms = sqlite3_column_int64(st, 4);
    return out->kind && out->key && out->data_json && out->version ? AOS_OK : AOS_ERR_NOMEM;
}

/* Load (kind, key); *out_op_id (may be NULL) receives the stored op id (malloc'd or NULL). */
static aos_result rec_load(sq_t *s, const char *kind, const char *key, aos_storage_record_t *out,
                           char **out_op_id, char *errbuf, size_t errlen)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, SQ_REC_GET, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    sq_bind_text(st, 1, kind);
    sq_bind_text(st, 2, key);
    rc = sqlite3_step(st);
    aos_result r;
    if (rc == SQLITE_ROW) {
        r = rec_from_row(st, out);
        if (r == AOS_OK && out_op_id)
            *out_op_id = sq_col_dup(st, 5);
    } else if (rc == SQLITE_DONE) {
        r = aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "%s '%s' not found", kind, key);
    } else {
        r = sq_fail(s, rc, errbuf, errlen, "record get");
    }
    sqlite3_reset(st);
    return r;
}

aos_result sq_record_get(storage_backend_t *be, const char *kind, const char *key,
                         aos_storage_record_t *out, char *errbuf, size_t errlen)
{
    return rec_load((sq_t *)be, kind, key, out, NULL, errbuf, errlen);
}

static aos_result rec_write(sq_t *s, bool insert, const char *kind, const char *key,
                            const char *data_json, const char *op_id, int64_t now_ms, char *errbuf,
                            size_t errlen)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, insert ? SQ_REC_INSERT : SQ_REC_UPDATE, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    sq_bind_text(st, 1, kind);
    sq_bind_text(st, 2, key);
    sq_bind_text(st, 3, data_json);
    sq_bind_text(st, 4, op_id);
    sqlite3_bind_int64(st, 5, now_ms);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? AOS_OK : sq_fail(s, rc, errbuf, errlen, "record write");
}

/* The version and op id of (kind, key), without its data: what a put decides on.
 * *out_found false when absent; *out_op_id malloc'd or NULL. */
static aos_result rec_head(sq_t *s, const char *kind, const char *key, bool *out_found,
                           int64_t *out_version, char **out_op_id, char *errbuf, size_t errlen)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, SQ_REC_HEAD, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    sq_bind_text(st, 1, kind);
    sq_bind_text(st, 2, key);
    rc = sqlite3_step(st);
    aos_result r = AOS_OK;
    *out_found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        *out_version = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL && !(*out_op_id = sq_col_dup(st, 1)))
            r = AOS_ERR_NOMEM;
    } else if (rc != SQLITE_DONE) {
        r = sq_fail(s, rc, errbuf, errlen, "record get");
    }
    sqlite3_reset(st);
    return r;
}

/* Decide what a put does given the current version (cur_version NULL when absent). */
static aos_result put_decide(const char *kind, const char *key, const char *cur_version,
                             const char *cur_op, const char *if_match, const char *op_id,
                             bool *out_replay, char *errbuf, size_t errlen)
{
    *out_replay = false;
    if (cur_version && op_id && cur_op && strcmp(op_id, cur_op) == 0) {
        *out_replay = true; /* this very write already happened */
        return AOS_OK;
    }
    if (!if_match)
        return cur_version
                   ? aos_fail(AOS_ERR_CONFLICT, errbuf, errlen, "%s '%s' already exists", kind, key)
                   : AOS_OK;
    if (strcmp(if_match, "*") == 0)
        return AOS_OK;
    if (!cur_version)
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "record not found");
    if (strcmp(if_match, cur_version) != 0)
        return aos_fail(AOS_ERR_CONFLICT, errbuf, errlen, "%s '%s' is at version %s, not %s", kind,
                        key, cur_version, if_match);
    return AOS_OK;
}

/* Decided on the version alone, and *out filled from what was written (the transaction is
 * ours: the row is what we wrote, its version the one read + 1): no copy of the stored data
 * is read before or after the write. A replay reads the stored record. */
static aos_result put_tx(sq_t *s, const char *kind, const char *key, const char *data_json,
                         const char *if_match, const char *op_id, aos_storage_record_t *out,
                         char *errbuf, size_t errlen)
{
    bool exists = false, replay = false;
    int64_t version = 0;
    char *cur_op = NULL, vtext[32];
    aos_result r = rec_head(s, kind, key, &exists, &version, &cur_op, errbuf, errlen);
    snprintf(vtext, sizeof vtext, "%lld", (long long)version);
    if (r == AOS_OK)
        r = put_decide(kind, key, exists ? vtext : NULL, cur_op, if_match, op_id, &replay, errbuf,
                       errlen);
    free(cur_op);
    if (r != AOS_OK)
        return r;
    if (replay)
        return rec_load(s, kind, key, out, NULL, errbuf, errlen);
    int64_t now = storage_now_ms();
    r = rec_write(s, !exists, kind, key, data_json, op_id, now, errbuf, errlen);
    if (r != AOS_OK)
        return r;
    snprintf(vtext, sizeof vtext, "%lld", (long long)(exists ? version + 1 : 1));
    out->kind = strdup(kind);
    out->key = strdup(key);
    out->data_json = data_json ? strdup(data_json) : NULL;
    out->version = strdup(vtext);
    out->updated_ms = now;
    return out->kind && out->key && out->data_json && out->version ? AOS_OK : AOS_ERR_NOMEM;
}

aos_result sq_record_put(storage_backend_t *be, const char *kind, const char *key,
                         const char *data_json, const char *if_match, const char *op_id,
                         aos_storage_record_t *out, char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    AOS_RETURN_IF_FAILED(sq_begin(s, true, errbuf, errlen));
    aos_result r = put_tx(s, kind, key, data_json, if_match, op_id, out, errbuf, errlen);
    if (r != AOS_OK) {
        sq_rollback(s);
        return r;
    }
    return sq_commit(s, errbuf, errlen);
}

aos_result sq_record_list(storage_backend_t *be, const char *kind, const char *prefix,
                          const char *cursor, size_t limit, aos_storage_record_page_t *out,
                          char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    limit = sq_page_limit(limit);
    int rc;
    sqlite3_stmt *st = sq_stmt(s, SQ_REC_LIST, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    if (!(out->items = calloc(limit, sizeof *out->items)))
        return AOS_ERR_NOMEM;
    sq_bind_text(st, 1, kind);
    sq_bind_text(st, 2, prefix);
    sq_bind_text(st, 3, cursor);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)limit + 1);
    aos_result r = AOS_OK;
    while (r == AOS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->count == limit) {
            out->next_cursor = aos_storage_strdup(out->items[limit - 1].key);
            r = out->next_cursor ? AOS_OK : AOS_ERR_NOMEM;
            break;
        }
        r = rec_from_row(st, &out->items[out->count++]);
    }
    if (r == AOS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sq_fail(s, rc, errbuf, errlen, "record list");
    sqlite3_reset(st);
    return r;
}

static aos_result delete_tx(sq_t *s, const char *kind, const char *key, const char *if_match,
                            bool *out_existed, char *errbuf, size_t errlen)
{
    aos_storage_record_t cur = {0};
    aos_result r = rec_load(s, kind, key, &cur, NULL, errbuf, errlen);
    if (r == AOS_ERR_NOT_FOUND)
        return AOS_OK;
    if (r == AOS_OK && if_match && strcmp(if_match, "*") != 0 && strcmp(if_match, cur.version) != 0)
        r = aos_fail(AOS_ERR_CONFLICT, errbuf, errlen, "%s '%s' is at version %s, not %s", kind,
                     key, cur.version, if_match);
    aos_storage_record_clear(&cur);
    AOS_RETURN_IF_FAILED(r);
    int rc;
    sqlite3_stmt *st = sq_stmt(s, SQ_REC_DELETE, &rc);
    if (!st)
        return sq_fail(s, rc, errbuf, errlen, "prepare");
    sq_bind_text(st, 1, kind);
    sq_bind_text(st, 2, key);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, errbuf, errlen, "record delete");
    *out_existed = true;
    return AOS_OK;
}

aos_result sq_record_delete(storage_backend_t *be, const char *kind, const char *key,
                            const char *if_match, bool *out_existed, char *errbuf, size_t errlen)
{
    sq_t *s = (sq_t *)be;
    *out_existed = false;
    AOS_RETURN_IF_FAILED(sq_begin(s, true, errbuf, errlen));
    aos_result r = delete_tx(s, kind, key, if_match, out_existed, errbuf, errlen);
    if (r != AOS_OK) {
        sq_rollback(s);
        *out_existed = false;
        return r;
    }
    r = sq_commit(s, errbuf, errlen);
    if (r != AOS_OK)
        *out_existed = false;
    return r;
}
