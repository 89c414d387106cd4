/* SQLite group commit (sqlite_internal.h): one writer connection per database file per process;
 * write operations that arrive while others are in progress share ONE transaction and so one
 * fsync (synchronous=FULL), and every operation returns only after that commit succeeded.
 *
 * Protocol (all under g->mu, the connection is used by one thread at a time):
 *   pending counts threads that announced a write (incremented BEFORE taking the mutex).
 *   enter: if no batch is open, BEGIN IMMEDIATE; the operation then runs inside its own
 *          SAVEPOINT (sq_begin/sq_commit/sq_rollback of the writer sq_t), except the first
 *          of a batch, for which the transaction itself serves (a rollback ends it).
 *   leave: the thread adds itself to the batch's waiter list and decrements pending; the
 *          thread that brings pending to 0 (or fills the batch) COMMITs and hands every
 *          waiter the outcome; the others sleep until then. A thread announced in pending
 *          is about to take the mutex, so nobody waits for a commit that never comes, and a
 *          waiting thread cannot announce new work, so a batch is bounded by the callers.
 * A failed commit (or a transaction SQLite rolled back on its own, e.g. disk full) fails
 * every operation of the batch with the mapped error (AOS_ERR_UNAVAILABLE for I/O errors):
 * the service releases those requests for redelivery; nothing of the batch was stored.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

#define SQG_BATCH_MAX 64

typedef struct sqg_waiter {
    aos_result r;
    bool done;
    char detail[200];
    struct sqg_waiter *next;
} sqg_waiter_t;

struct sq_group {
    char *path;
    int refs;              /* under g_registry_mu */
    struct sq_group *next; /* registry list */
    sq_t w;                /* the writer connection (w.in_group) */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a batch committed */
    atomic_int pending;
    bool open;      /* the batch transaction is open */
    unsigned count; /* operations in the open batch */
    sqg_waiter_t *waiters;
};

static pthread_mutex_t g_registry_mu = PTHREAD_MUTEX_INITIALIZER;
static sq_group_t *g_registry;

static void group_destroy(sq_group_t *g)
{
    sq_close(&g->w);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->path);
    free(g);
}

aos_result sq_group_acquire(const storage_backend_config_t *cfg, sq_group_t **out, char *errbuf,
                            size_t errlen)
{
    *out = NULL;
    pthread_mutex_lock(&g_registry_mu);
    sq_group_t *g = g_registry;
    while (g && strcmp(g->path, cfg->sqlite_path) != 0)
        g = g->next;
    if (g) {
        g->refs++;
        pthread_mutex_unlock(&g_registry_mu);
        *out = g;
        return AOS_OK;
    }
    g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(cfg->sqlite_path))) {
        pthread_mutex_unlock(&g_registry_mu);
        free(g);
        return AOS_ERR_NOMEM;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->w.base.ops = &sq_raw_ops;
    g->w.in_group = true;
    aos_result r = sq_connect(&g->w, cfg, errbuf, errlen);
    /* Each operation runs in a SAVEPOINT, whose undo journal would be held in memory with
     * temp_store=MEMORY (a 100 MB blob commit rewrites every chunk row): spill it to a file. */
    if (r == AOS_OK &&
        sqlite3_exec(g->w.db, "PRAGMA temp_store=FILE", NULL, NULL, NULL) != SQLITE_OK)
        r = sq_fail(&g->w, sqlite3_errcode(g->w.db), errbuf, errlen, "temp_store");
    if (r != AOS_OK) {
        pthread_mutex_unlock(&g_registry_mu);
        group_destroy(g);
        return r;
    }
    g->refs = 1;
    g->next = g_registry;
    g_registry = g;
    pthread_mutex_unlock(&g_registry_mu);
    *out = g;
    return AOS_OK;
}

void sq_group_release(sq_group_t *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g_registry_mu);
    if (--g->refs > 0) {
        pthread_mutex_unlock(&g_registry_mu);
        return;
    }
    for (sq_group_t **p = &g_registry; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    pthread_mutex_unlock(&g_registry_mu);
    group_destroy(g);
}

/* Announce a write and take the writer; on AOS_OK the caller holds g->mu and must call
 * group_leave. On failure nothing is held and the announcement is withdrawn. */
static aos_result group_enter(sq_group_t *g, char *errbuf, size_t errlen)
{
    atomic_fetch_add(&g->pending, 1);
    pthread_mutex_lock(&g->mu);
    if (!g->open) {
        aos_result r = sq_exec(&g->w, SQ_BEGIN_WRITE, errbuf, errlen);
        if (r != AOS_OK) {
            atomic_fetch_sub(&g->pending, 1);
            pthread_mutex_unlock(&g->mu);
            return r;
        }
        g->open = true;
        g->count = 0;
    }
    g->w.sp_whole = g->count == 0;
    g->w.tx_undone = false;
    g->count++;
    return AOS_OK;
}

/* Commit the open batch and hand every waiter the outcome (g->mu held). */
static void group_commit(sq_group_t *g)
{
    char detail[200] = "";
    aos_result r = AOS_OK;
    if (sqlite3_get_autocommit(g->w.db)) { /* SQLite rolled the whole transaction back */
        r = AOS_ERR_UNAVAILABLE;
        snprintf(detail, sizeof detail, "sqlite batch transaction was rolled back");
    } else {
        r = sq_exec(&g->w, SQ_COMMIT, detail, sizeof detail);
        if (r != AOS_OK && !sqlite3_get_autocommit(g->w.db))
            (void)sq_exec(&g->w, SQ_ROLLBACK, NULL, 0);
    }
    for (sqg_waiter_t *w = g->waiters; w; w = w->next) {
        w->r = r;
        snprintf(w->detail, sizeof w->detail, "%s", detail);
        w->done = true;
    }
    g->waiters = NULL;
    g->open = false;
    g->count = 0;
    pthread_cond_broadcast(&g->cv);
}

/* After the operation (result op_r): wait for (or perform) the batch commit, release g->mu.
 * Returns op_r when the batch committed, else the commit failure. */
static aos_result group_leave(sq_group_t *g, aos_result op_r, char *errbuf, size_t errlen)
{
    sq_rollback(&g->w); /* an operation that returned early leaves no open savepoint */
    if (g->w.tx_undone) {
        /* The first operation of the batch rolled back: it alone was in the transaction
         * and it saw only committed state, so its answer stands without a commit. */
        g->open = false;
        g->count = 0;
        atomic_fetch_sub(&g->pending, 1);
        pthread_mutex_unlock(&g->mu);
        return op_r;
    }
    sqg_waiter_t me = {.r = AOS_OK};
    me.next = g->waiters;
    g->waiters = &me;
    if (atomic_fetch_sub(&g->pending, 1) == 1 || g->count >= SQG_BATCH_MAX)
        group_commit(g);
    while (!me.done)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    if (me.r != AOS_OK)
        return aos_fail(me.r, errbuf, errlen, "%s", me.detail);
    return op_r;
}

#define SQG_RUN(be, call)                                                                          \
    do {                                                                                           \
        sq_group_t *g_ = ((sq_t *)(be))->group;                                                    \
        storage_backend_t *w_ = &g_->w.base;                                                       \
        AOS_RETURN_IF_FAILED(group_enter(g_, errbuf, errlen));                                     \
        aos_result op_r_ = sq_raw_ops.call;                                                        \
        return group_leave(g_, op_r_, errbuf, errlen);                                             \
    } while (0)

aos_result sqg_conversation_create(storage_backend_t *be, const aos_storage_conversation_t *in,
                                   aos_storage_conversation_t *out, bool *out_created, char *errbuf,
                                   size_t errlen)
{
    *out_created = false;
    SQG_RUN(be, conversation_create(w_, in, out, out_created, errbuf, errlen));
}

aos_result sqg_conversation_delete(storage_backend_t *be, const char *id, bool *out_existed,
                                   char *errbuf, size_t errlen)
{
    *out_existed = false;
    SQG_RUN(be, conversation_delete(w_, id, out_existed, errbuf, errlen));
}

aos_result sqg_message_append(storage_backend_t *be, const aos_storage_message_t *in,
                              int64_t expected_version, aos_storage_message_t *out,
                              bool *out_created, char *errbuf, size_t errlen)
{
    *out_created = false;
    SQG_RUN(be, message_append(w_, in, expected_version, out, out_created, errbuf, errlen));
}

aos_result sqg_blob_put_begin(storage_backend_t *be, const char *container, const char *name,
                              const char *upload_id, const char *content_type, char *errbuf,
                              size_t errlen)
{
    SQG_RUN(be, blob_put_begin(w_, container, name, upload_id, content_type, errbuf, errlen));
}

aos_result sqg_blob_put_chunk(storage_backend_t *be, const char *container, const char *name,
                              const char *upload_id, uint32_t index, const void *data, size_t len,
                              char *errbuf, size_t errlen)
{
    SQG_RUN(be, blob_put_chunk(w_, container, name, upload_id, index, data, len, errbuf, errlen));
}

aos_result sqg_blob_put_commit(storage_backend_t *be, const char *container, const char *name,
                               const char *upload_id, uint32_t chunk_count,
                               const char *expected_sha256, aos_storage_blob_info_t *out,
                               char *errbuf, size_t errlen)
{
    SQG_RUN(be, blob_put_commit(w_, container, name, upload_id, chunk_count, expected_sha256, out,
                                errbuf, errlen));
}

aos_result sqg_blob_put_abort(storage_backend_t *be, const char *container, const char *name,
                              const char *upload_id, char *errbuf, size_t errlen)
{
    SQG_RUN(be, blob_put_abort(w_, container, name, upload_id, errbuf, errlen));
}

aos_result sqg_blob_delete(storage_backend_t *be, const char *container, const char *name,
                           bool *out_existed, char *errbuf, size_t errlen)
{
    *out_existed = false;
    SQG_RUN(be, blob_delete(w_, container, name, out_existed, errbuf, errlen));
}

aos_result sqg_record_put(storage_backend_t *be, const char *kind, const char *key,
                          const char *data_json, const char *if_match, const char *op_id,
                          aos_storage_record_t *out, char *errbuf, size_t errlen)
{
    SQG_RUN(be, record_put(w_, kind, key, data_json, if_match, op_id, out, errbuf, errlen));
}

aos_result sqg_record_delete(storage_backend_t *be, const char *kind, const char *key,
                             const char *if_match, bool *out_existed, char *errbuf, size_t errlen)
{
    *out_existed = false;
    SQG_RUN(be, record_delete(w_, kind, key, if_match, out_existed, errbuf, errlen));
}

/* A composite operation (the turn operations) as one member of the batch, inside its own
 * SAVEPOINT: every step it takes runs on the writer connection in a nested one (never as the
 * batch's first, whose rollback would end the transaction), so its reads see its writes, a
 * failure undoes all of them, and the batch commits them with one fsync. */
aos_result sqg_run_atomic(storage_backend_t *be, aos_result (*fn)(storage_backend_t *be, void *ctx),
                          void *ctx, char *errbuf, size_t errlen)
{
    sq_group_t *g = ((sq_t *)be)->group;
    AOS_RETURN_IF_FAILED(group_enter(g, errbuf, errlen));
    g->w.sp_whole = false;
    aos_result r = sq_exec(&g->w, SQ_ATOMIC_BEGIN, errbuf, errlen);
    if (r == AOS_OK) {
        r = fn(&g->w.base, ctx);
        if (r != AOS_OK && !sqlite3_get_autocommit(g->w.db))
            (void)sq_exec(&g->w, SQ_ATOMIC_ROLLBACK, NULL, 0);
        if (!sqlite3_get_autocommit(g->w.db)) {
            aos_result rr = sq_exec(&g->w, SQ_ATOMIC_RELEASE, errbuf, errlen);
            r = r == AOS_OK ? rr : r;
        }
    }
    return group_leave(g, r, errbuf, errlen);
}
