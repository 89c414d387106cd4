/* Domain knowledge cache with one loader thread (see knowledge.h). */
#include "knowledge.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/metrics.h"
#include "aos/utf8.h"

typedef struct waiter {
    runner_knowledge_fn fn;
    void *ctx;
    struct waiter *next;
} waiter_t;

typedef struct entry {
    const aos_agent_def_t *agent;
    bool loading;
    bool loaded;
    uint64_t loaded_ms;
    runner_knowledge_doc_t *docs; /* owned names and contents */
    size_t count;
    waiter_t *waiters;
    struct entry *next;
} entry_t;

/* One load, handed to the loader thread and back to the loop. */
typedef struct job {
    runner_knowledge_t *k;
    entry_t *entry;
    aos_result result;
    char err[200];
    runner_knowledge_doc_t *docs;
    size_t count;
    struct job *next;
} job_t;

struct runner_knowledge {
    runner_loop_t *loop;
    aos_storage_client_t *storage;
    uint32_t ttl_ms;
    size_t max_doc_bytes;
    entry_t *entries; /* loop thread */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *queue; /* guarded by mu */
    bool stopping;
};

static void docs_free(runner_knowledge_doc_t *docs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)docs[i].name);
        free((char *)docs[i].content);
    }
    free(docs);
}

/* Storage or the bus being briefly away: the turn is released and retried later. Anything else
 * is about the document itself and will not get better by retrying. */
static bool knowledge_transient(aos_result rc)
{
    return rc == AOS_ERR_TIMEOUT || rc == AOS_ERR_UNAVAILABLE || rc == AOS_ERR_RATE_LIMITED ||
           rc == AOS_ERR_NOMEM || rc == AOS_ERR_CANCELLED || rc == AOS_ERR_CLOSED;
}

static void load_job(runner_knowledge_t *k, job_t *j)
{
    const aos_agent_def_t *a = j->entry->agent;
    j->docs = calloc(a->domain_knowledge_count, sizeof *j->docs);
    if (!j->docs) {
        j->result = AOS_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < a->domain_knowledge_count; i++) {
        const aos_blob_ref_t *ref = &a->domain_knowledge[i];
        void *data = NULL;
        size_t len = 0;
        aos_storage_blob_info_t info = {0};
        char err[160] = "";
        aos_result rc =
            aos_storage_blob_get_buffer_sync(k->storage, ref->container, ref->name,
                                             k->max_doc_bytes, &data, &len, &info, err, sizeof err);
        aos_storage_blob_info_clear(&info);
        if (rc == AOS_OK && (!aos_utf8_valid(data, len) || memchr(data, 0, len)))
            rc = AOS_ERR_UNSUPPORTED; /* a binary document (a PDF from the portal, say) */
        if (rc != AOS_OK && !knowledge_transient(rc)) {
            /* A document that cannot be read degrades this turn, never the agent: the turn goes
             * on without it (docs/storage.md, "Blobs written by others"). */
            aos_log(AOS_LOG_WARN, "domain knowledge skipped", "agent", a->name, "container",
                    ref->container, "blob", ref->name, "reason", aos_result_str(rc), "detail", err,
                    NULL);
            aos_metric_counter_inc(aos_metrics_counter(
                NULL, "aos_runner_knowledge_skipped_total",
                "Domain knowledge documents left out of a turn because they could not be read.",
                "agent", a->name, "reason", aos_result_code(rc), NULL));
            free(data);
            continue;
        }
        if (rc != AOS_OK) {
            snprintf(j->err, sizeof j->err, "loading %s/%s: %s", ref->container, ref->name, err);
            j->result = rc;
            free(data);
            return;
        }
        char *text = malloc(len + 1);
        char *name = NULL;
        if (text) {
            memcpy(text, data, len);
            text[len] = '\0';
            if (asprintf(&name, "%s/%s", ref->container, ref->name) < 0)
                name = NULL;
        }
        free(data);
        if (!text || !name) {
            free(text);
            j->result = AOS_ERR_NOMEM;
            return;
        }
        j->docs[j->count].name = name;
        j->docs[j->count].content = text;
        j->count++;
    }
}

static void finish_on_loop(void *arg, bool cancelled);

static void *loader_main(void *arg)
{
    runner_knowledge_t *k = arg;
    for (;;) {
        pthread_mutex_lock(&k->mu);
        while (!k->queue && !k->stopping)
            pthread_cond_wait(&k->cv, &k->mu);
        job_t *j = k->queue;
        if (j)
            k->queue = j->next;
        pthread_mutex_unlock(&k->mu);
        if (!j)
            return NULL;
        load_job(k, j);
        if (runner_loop_post(k->loop, finish_on_loop, j) != AOS_OK)
            finish_on_loop(j, true);
    }
}

static void notify(entry_t *e, aos_result rc, const char *err)
{
    waiter_t *w = e->waiters;
    e->waiters = NULL;
    while (w) {
        waiter_t *next = w->next;
        w->fn(w->ctx, rc, e->docs, rc == AOS_OK ? e->count : 0, err);
        free(w);
        w = next;
    }
}

static void finish_on_loop(void *arg, bool cancelled)
{
    job_t *j = arg;
    entry_t *e = j->entry;
    e->loading = false;
    if (cancelled && j->result == AOS_OK)
        j->result = AOS_ERR_CANCELLED;
    if (j->result == AOS_OK) {
        docs_free(e->docs, e->count);
        e->docs = j->docs;
        e->count = j->count;
        e->loaded = true;
        e->loaded_ms = runner_now_ms();
        j->docs = NULL; /* moved into the entry */
        j->count = 0;
    }
    notify(e, j->result, j->err[0] ? j->err : aos_result_str(j->result));
    docs_free(j->docs, j->count);
    free(j);
}

aos_result runner_knowledge_new(runner_loop_t *loop, aos_storage_client_t *storage, uint32_t ttl_ms,
                                size_t max_doc_bytes, runner_knowledge_t **out)
{
    if (!loop || !out)
        return AOS_ERR_INVALID;
    runner_knowledge_t *k = calloc(1, sizeof *k);
    if (!k)
        return AOS_ERR_NOMEM;
    k->loop = loop;
    k->storage = storage;
    k->ttl_ms = ttl_ms ? ttl_ms : 300000;
    k->max_doc_bytes = max_doc_bytes ? max_doc_bytes : 64 * 1024;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if (pthread_create(&k->thread, NULL, loader_main, k) != 0) {
        pthread_mutex_destroy(&k->mu);
        pthread_cond_destroy(&k->cv);
        free(k);
        return AOS_ERR_IO;
    }
    k->thread_started = true;
    *out = k;
    return AOS_OK;
}

void runner_knowledge_free(runner_knowledge_t *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    k->stopping = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    if (k->thread_started)
        pthread_join(k->thread, NULL);
    for (job_t *j = k->queue, *next; j; j = next) {
        next = j->next;
        finish_on_loop(j, true);
    }
    for (entry_t *e = k->entries, *next; e; e = next) {
        next = e->next;
        notify(e, AOS_ERR_CANCELLED, "shutting down");
        docs_free(e->docs, e->count);
        free(e);
    }
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
}

static entry_t *entry_for(runner_knowledge_t *k, const aos_agent_def_t *agent)
{
    for (entry_t *e = k->entries; e; e = e->next)
        if (e->agent == agent)
            return e;
    entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->agent = agent;
    e->next = k->entries;
    k->entries = e;
    return e;
}

aos_result runner_knowledge_get(runner_knowledge_t *k, const aos_agent_def_t *agent,
                                runner_knowledge_fn fn, void *ctx)
{
    if (!k || !agent || !fn)
        return AOS_ERR_INVALID;
    if (agent->domain_knowledge_count == 0) {
        fn(ctx, AOS_OK, NULL, 0, NULL);
        return AOS_OK;
    }
    if (!k->storage)
        return AOS_ERR_UNAVAILABLE;
    entry_t *e = entry_for(k, agent);
    if (!e)
        return AOS_ERR_NOMEM;
    if (e->loaded && runner_now_ms() - e->loaded_ms < k->ttl_ms) {
        fn(ctx, AOS_OK, e->docs, e->count, NULL);
        return AOS_OK;
    }
    waiter_t *w = malloc(sizeof *w);
    if (!w)
        return AOS_ERR_NOMEM;
    *w = (waiter_t){fn, ctx, e->waiters};
    e->waiters = w;
    if (e->loading)
        return AOS_OK;
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        e->waiters = w->next;
        free(w);
        return AOS_ERR_NOMEM;
    }
    j->k = k;
    j->entry = e;
    e->loading = true;
    pthread_mutex_lock(&k->mu);
    j->next = k->queue;
    k->queue = j;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    return AOS_OK;
}
