/* The aos-storage service core: bus subscription, worker pool, health prober (service.h). */
#include "service.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/log.h"
#include "aos/resilience.h"
#include "aos/trace.h"
#include "dispatch.h"
#include "dispatch_turns.h"
#include "service_claim.h"
#include "service_events.h"

#define RELEASED_SLOT AOS_RESULT_COUNT_ /* counter column for "released" */

typedef struct job {
    aos_bus_delivery_t *d;
    struct job *next;
} job_t;

typedef struct worker {
    struct storage_service *svc;
    pthread_t thread;
    storage_backend_t *be;
    unsigned index;
} worker_t;

struct storage_service {
    storage_backend_config_t backend_cfg;
    char *sqlite_path, *azure_cs, *prefix, *queue, *source;
    aos_bus_t *bus;
    storage_limits_t limits;
    unsigned nworkers;
    int health_interval_ms;
    aos_metrics_t *metrics;
    size_t claim_threshold;
    int64_t claim_retention_ms;

    pthread_mutex_t mu;
    pthread_cond_t cv;        /* workers: a job arrived / backend back / stopping */
    pthread_cond_t health_cv; /* health prober: stopping */
    job_t *head, *tail;
    atomic_bool stopping;
    bool started;
    atomic_bool backend_ok;
    worker_t *workers;
    pthread_t health_thread;
    bool health_started;

    atomic_ullong handled, released;
    pthread_mutex_t metrics_mu;
    aos_metric_counter_t *counters[AOS_STORAGE_OP_COUNT + 1][AOS_RESULT_COUNT_ + 1];
    aos_metric_histogram_t *durations[AOS_STORAGE_OP_COUNT + 1];
    aos_metric_gauge_t *up_gauge, *inflight_gauge;
};

/* ---- metrics ---- */

static aos_metric_counter_t *counter_for(storage_service_t *svc, int op, int slot)
{
    aos_metric_counter_t *c;
    pthread_mutex_lock(&svc->metrics_mu);
    if (!(c = svc->counters[op][slot])) {
        const char *code = slot == RELEASED_SLOT ? "released" : aos_result_code((aos_result)slot);
        const char *name = op < AOS_STORAGE_OP_COUNT ? storage_op_name(op) : "unknown";
        c = aos_metrics_counter(svc->metrics, "aos_storage_requests_total",
                                "Storage requests by operation and outcome code.", "op", name,
                                "code", code, NULL);
        svc->counters[op][slot] = c;
    }
    pthread_mutex_unlock(&svc->metrics_mu);
    return c;
}

static aos_metric_histogram_t *duration_for(storage_service_t *svc, int op)
{
    aos_metric_histogram_t *h;
    pthread_mutex_lock(&svc->metrics_mu);
    if (!(h = svc->durations[op])) {
        const char *name = op < AOS_STORAGE_OP_COUNT ? storage_op_name(op) : "unknown";
        h = aos_metrics_histogram(svc->metrics, "aos_storage_request_duration_seconds",
                                  "Time from taking a request to settling it.", NULL, 0, "op", name,
                                  NULL);
        svc->durations[op] = h;
    }
    pthread_mutex_unlock(&svc->metrics_mu);
    return h;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- backend state ---- */

static void set_backend_ok(storage_service_t *svc, bool ok, const char *detail)
{
    bool was = atomic_exchange(&svc->backend_ok, ok);
    aos_metric_gauge_set(svc->up_gauge, ok ? 1 : 0);
    if (was == ok)
        return;
    if (ok) {
        aos_log(AOS_LOG_INFO, "storage backend available", "backend",
                svc->backend_cfg.kind == AOS_STORAGE_BACKEND_AZURE ? "azure" : "sqlite", NULL);
        pthread_mutex_lock(&svc->mu);
        pthread_cond_broadcast(&svc->cv);
        pthread_mutex_unlock(&svc->mu);
    } else {
        aos_log(AOS_LOG_WARN, "storage backend unavailable; pausing", "detail",
                detail ? detail : "", NULL);
    }
}

static void *health_main(void *arg)
{
    storage_service_t *svc = arg;
    storage_backend_t *be = NULL;
    char err[256];
    int64_t next_sweep = 0; /* claims left behind go after the retention (service_claim.h) */
    pthread_mutex_lock(&svc->mu);
    while (!svc->stopping) {
        pthread_mutex_unlock(&svc->mu);
        err[0] = '\0';
        aos_result r = be ? AOS_OK : storage_backend_open(&svc->backend_cfg, &be, err, sizeof err);
        if (r == AOS_OK)
            r = be->ops->health(be, err, sizeof err);
        if (r == AOS_OK && storage_now_ms() >= next_sweep) {
            int64_t every = svc->claim_retention_ms / 4;
            next_sweep = storage_now_ms() + (every < 600000 ? every : 600000);
            storage_claim_sweep(be, svc->claim_retention_ms);
        }
        if (r != AOS_OK) {
            storage_backend_free(be); /* reopen next time: the store may have moved */
            be = NULL;
        }
        set_backend_ok(svc, r == AOS_OK, err);
        int wait_ms = r == AOS_OK ? svc->health_interval_ms : 250;
        struct timespec until = aos_clock_deadline(CLOCK_REALTIME, wait_ms);
        pthread_mutex_lock(&svc->mu);
        while (!svc->stopping &&
               pthread_cond_timedwait(&svc->health_cv, &svc->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&svc->mu);
    storage_backend_free(be);
    return NULL;
}

/* ---- handling one delivery ---- */

static void on_reply_sent(void *ctx, aos_result result, const char *detail)
{
    aos_bus_delivery_t *d = ctx;
    /* REJECTED: the reply queue is gone (requester left); the work is done, so accept. */
    if (result == AOS_OK || result == AOS_ERR_REJECTED) {
        aos_bus_accept(d);
        return;
    }
    aos_log(AOS_LOG_WARN, "reply not confirmed; releasing request", "result",
            aos_result_code(result), "detail", detail ? detail : "", NULL);
    aos_bus_release(d);
}

/* false: the request was released for redelivery */
static bool send_reply(storage_service_t *svc, storage_backend_t *be, aos_bus_delivery_t *d,
                       const aos_event_t *req, const storage_outcome_t *out)
{
    if (!req->reply_to) {
        aos_bus_accept(d); /* fire-and-forget request: effects are durable, nobody to tell */
        return true;
    }
    aos_event_t *reply = NULL;
    aos_result r = aos_event_create(out->reply_type, svc->source, out->data_json, &reply);
    /* a large reply (a page or turn context holding a huge message) goes by reference, the
     * blob written here directly; blob transfers themselves stay under the chunk size */
    char err[256] = "";
    bool moved = false;
    aos_claim_store_t store;
    storage_claim_store(be, &store);
    if (r == AOS_OK && strncmp(req->type, "aos.storage.blob.", 17) != 0 &&
        (r = aos_claim_check_offload(&store, reply, svc->claim_threshold, &moved, err,
                                     sizeof err)) != AOS_OK) {
        aos_log(AOS_LOG_WARN, "a large reply could not be stored by reference", "type", req->type,
                "error", err, NULL);
        aos_event_free(reply);
        if (aos_result_is_transient(r)) {
            aos_bus_release(d);
            return false;
        }
        aos_bus_reply_error(svc->bus, req, r, err);
        aos_bus_accept(d);
        return true;
    }
    if (r == AOS_OK)
        r = aos_bus_reply(svc->bus, req, reply, on_reply_sent, d);
    aos_event_free(reply);
    if (r != AOS_OK)
        aos_bus_release(d);
    return r == AOS_OK;
}

static void handle(worker_t *w, aos_bus_delivery_t *d)
{
    storage_service_t *svc = w->svc;
    const aos_event_t *req = aos_bus_delivery_event(d);
    storage_outcome_t out = {0};
    double t0 = now_s();
    char err[256] = "";
    aos_result r =
        w->be ? AOS_OK : storage_backend_open(&svc->backend_cfg, &w->be, err, sizeof err);
    aos_event_t *resolved = NULL; /* a request that arrived by reference, with its data */
    bool answered = true;
    char claim[300] = ""; /* copied: req is gone once the reply settles the delivery */
    if (aos_event_get_ext(req, AOS_CLAIM_EXT))
        snprintf(claim, sizeof claim, "%s", aos_event_get_ext(req, AOS_CLAIM_EXT));
    if (r == AOS_OK &&
        (r = storage_claim_resolve_request(w->be, req, &resolved, err, sizeof err)) != AOS_OK) {
        out.action = aos_result_is_transient(r) ? AOS_STORAGE_RELEASE : AOS_STORAGE_REPLY_ERROR;
        out.result = r;
        snprintf(out.message, sizeof out.message, "%s", err);
    } else if (r == AOS_OK) {
        storage_turns_reachable_since(aos_bus_connected_since_ms(svc->bus));
        storage_dispatch(w->be, &svc->limits, resolved ? resolved : req, &out);
    } else {
        out.action = aos_result_is_transient(r) ? AOS_STORAGE_RELEASE : AOS_STORAGE_REPLY_ERROR;
        out.result = r;
        snprintf(out.message, sizeof out.message, "%s", err);
    }
    int op = out.op_known ? (int)out.op : AOS_STORAGE_OP_COUNT;
    int slot = (int)out.result;
    switch (out.action) {
    case AOS_STORAGE_REPLY:
        if (out.op_known && out.op == AOS_STORAGE_OP_CONVERSATION_CREATE &&
            (r = storage_events_after_create(svc->bus, svc->source, out.data_json,
                                             aos_bus_delivery_count(d) > 0)) != AOS_OK) {
            /* not announced: do not answer either; the redelivery announces it */
            aos_log(AOS_LOG_WARN, "conversation.created not confirmed; releasing the request",
                    "result", aos_result_code(r), NULL);
            aos_bus_release(d);
            break;
        }
        if (aos_log_enabled(AOS_LOG_DEBUG)) /* before the reply: it may settle (free) req */
            aos_log(AOS_LOG_DEBUG, "storage request", "type", req->type, "id", req->id, NULL);
        answered = send_reply(svc, w->be, d, req, &out);
        atomic_fetch_add(&svc->handled, 1);
        break;
    case AOS_STORAGE_REPLY_ERROR:
        if (req->reply_to)
            aos_bus_reply_error(svc->bus, req, out.result, out.message);
        aos_log(AOS_LOG_DEBUG, "storage request refused", "type", req->type, "code",
                aos_result_code(out.result), "message", out.message, NULL);
        aos_bus_accept(d);
        atomic_fetch_add(&svc->handled, 1);
        break;
    case AOS_STORAGE_RELEASE:
        aos_bus_release(d);
        slot = RELEASED_SLOT;
        atomic_fetch_add(&svc->released, 1);
        storage_backend_free(w->be); /* reopen after recovery */
        w->be = NULL;
        set_backend_ok(svc, false, out.message);
        break;
    }
    /* answered: the request's claim has served (a redelivery after this is told so) */
    if (resolved && answered && out.action != AOS_STORAGE_RELEASE)
        storage_claim_forget(w->be, claim);
    aos_event_free(resolved);
    aos_metric_counter_inc(counter_for(svc, op, slot));
    aos_metric_histogram_observe(duration_for(svc, op), now_s() - t0);
    storage_outcome_clear(&out);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    storage_service_t *svc = w->svc;
    pthread_mutex_lock(&svc->mu);
    for (;;) {
        while (!svc->stopping && (!svc->head || !atomic_load(&svc->backend_ok)))
            pthread_cond_wait(&svc->cv, &svc->mu);
        if (svc->stopping)
            break;
        job_t *j = svc->head;
        svc->head = j->next;
        if (!svc->head)
            svc->tail = NULL;
        pthread_mutex_unlock(&svc->mu);
        aos_metric_gauge_inc(svc->inflight_gauge);
        aos_trace_set(aos_bus_delivery_event(j->d)->traceparent); /* the request's trace */
        handle(w, j->d);
        aos_trace_set(NULL);
        aos_metric_gauge_dec(svc->inflight_gauge);
        free(j);
        pthread_mutex_lock(&svc->mu);
    }
    pthread_mutex_unlock(&svc->mu);
    storage_backend_free(w->be);
    w->be = NULL;
    return NULL;
}

/* Bus I/O thread: enqueue only. */
static void on_message(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ev;
    storage_service_t *svc = ctx;
    job_t *j = malloc(sizeof *j);
    pthread_mutex_lock(&svc->mu);
    if (svc->stopping || !j) {
        pthread_mutex_unlock(&svc->mu);
        free(j);
        aos_bus_release(d);
        return;
    }
    j->d = d;
    j->next = NULL;
    if (svc->tail)
        svc->tail->next = j;
    else
        svc->head = j;
    svc->tail = j;
    pthread_cond_signal(&svc->cv);
    pthread_mutex_unlock(&svc->mu);
}

/* ---- lifecycle ---- */

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s ? s : dflt);
}

aos_result storage_service_new(const storage_service_config_t *cfg, storage_service_t **out_svc,
                               char *errbuf, size_t errlen)
{
    *out_svc = NULL;
    if (!cfg->bus)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "a bus is required");
    storage_service_t *svc = calloc(1, sizeof *svc);
    if (!svc)
        return AOS_ERR_NOMEM;
    svc->backend_cfg = cfg->backend;
    svc->sqlite_path = cfg->backend.sqlite_path ? strdup(cfg->backend.sqlite_path) : NULL;
    svc->azure_cs =
        cfg->backend.azure_connection_string ? strdup(cfg->backend.azure_connection_string) : NULL;
    svc->prefix = cfg->backend.name_prefix ? strdup(cfg->backend.name_prefix) : NULL;
    svc->backend_cfg.sqlite_path = svc->sqlite_path;
    svc->backend_cfg.azure_connection_string = svc->azure_cs;
    svc->backend_cfg.name_prefix = svc->prefix;
    svc->queue = dup_or(cfg->queue, "aos.storage");
    svc->source = dup_or(cfg->source, "/aos/storage");
    svc->bus = cfg->bus;
    svc->limits.max_chunk = cfg->max_chunk;
    svc->nworkers = cfg->workers ? cfg->workers : 16;
    svc->health_interval_ms = cfg->health_interval_ms > 0 ? cfg->health_interval_ms : 2000;
    svc->metrics = cfg->metrics;
    svc->claim_threshold =
        cfg->claim_threshold ? cfg->claim_threshold : AOS_CLAIM_THRESHOLD_DEFAULT;
    svc->claim_retention_ms =
        cfg->claim_retention_ms > 0 ? cfg->claim_retention_ms : 24LL * 3600 * 1000;
    pthread_mutex_init(&svc->mu, NULL);
    pthread_mutex_init(&svc->metrics_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&svc->cv, &ca);
    pthread_cond_init(&svc->health_cv, &ca);
    pthread_condattr_destroy(&ca);
    svc->workers = calloc(svc->nworkers, sizeof *svc->workers);
    svc->up_gauge = aos_metrics_gauge(svc->metrics, "aos_storage_backend_up",
                                      "1 while the storage backend answers health probes.", NULL);
    svc->inflight_gauge =
        aos_metrics_gauge(svc->metrics, "aos_storage_inflight", "Requests being worked on.", NULL);
    if (!svc->queue || !svc->source || !svc->workers ||
        (cfg->backend.sqlite_path && !svc->sqlite_path) ||
        (cfg->backend.azure_connection_string && !svc->azure_cs)) {
        storage_service_free(svc);
        return AOS_ERR_NOMEM;
    }
    *out_svc = svc;
    return AOS_OK;
}

aos_result storage_service_start(storage_service_t *svc, char *errbuf, size_t errlen)
{
    if (svc->started)
        return AOS_OK;
    svc->started = true;
    if (pthread_create(&svc->health_thread, NULL, health_main, svc) != 0)
        return aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "cannot start the health thread");
    svc->health_started = true;
    for (unsigned i = 0; i < svc->nworkers; i++) {
        svc->workers[i] = (worker_t){.svc = svc, .index = i};
        if (pthread_create(&svc->workers[i].thread, NULL, worker_main, &svc->workers[i]) != 0) {
            svc->workers[i].svc = NULL;
            return aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "cannot start worker %u", i);
        }
    }
    return aos_bus_subscribe(svc->bus, svc->queue, svc->nworkers, on_message, svc);
}

bool storage_service_ready(storage_service_t *svc, char *reason, size_t reason_len)
{
    const char *why = NULL;
    if (svc->stopping)
        why = "stopping";
    else if (!aos_bus_is_connected(svc->bus))
        why = "bus not connected";
    else if (!atomic_load(&svc->backend_ok))
        why = "storage backend unavailable";
    if (why && reason && reason_len)
        snprintf(reason, reason_len, "%s", why);
    return why == NULL;
}

void storage_service_stop(storage_service_t *svc, int grace_ms)
{
    (void)grace_ms; /* a running request is bounded by the backend's own timeouts */
    pthread_mutex_lock(&svc->mu);
    if (svc->stopping) {
        pthread_mutex_unlock(&svc->mu);
        return;
    }
    svc->stopping = true;
    pthread_cond_broadcast(&svc->cv);
    pthread_cond_broadcast(&svc->health_cv);
    pthread_mutex_unlock(&svc->mu);
    for (unsigned i = 0; i < svc->nworkers; i++)
        if (svc->workers && svc->workers[i].svc)
            pthread_join(svc->workers[i].thread, NULL);
    if (svc->health_started)
        pthread_join(svc->health_thread, NULL);
    svc->health_started = false;
    pthread_mutex_lock(&svc->mu);
    job_t *j = svc->head;
    svc->head = svc->tail = NULL;
    pthread_mutex_unlock(&svc->mu);
    while (j) { /* not started: back to the broker for another replica */
        job_t *next = j->next;
        aos_bus_release(j->d);
        free(j);
        j = next;
    }
}

void storage_service_free(storage_service_t *svc)
{
    if (!svc)
        return;
    storage_service_stop(svc, 0);
    pthread_mutex_destroy(&svc->mu);
    pthread_mutex_destroy(&svc->metrics_mu);
    pthread_cond_destroy(&svc->cv);
    pthread_cond_destroy(&svc->health_cv);
    free(svc->workers);
    free(svc->sqlite_path);
    free(svc->azure_cs);
    free(svc->prefix);
    free(svc->queue);
    free(svc->source);
    free(svc);
}

void storage_service_stats(storage_service_t *svc, storage_service_stats_t *out)
{
    out->handled = atomic_load(&svc->handled);
    out->released = atomic_load(&svc->released);
}
