/* The aos-ml-pipeline service core: bus consumer, worker pool, job scanner (ml_service.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/identity.h"
#include "aos/json.h"
#include "aos/log.h"
#include "aos/model_call.h"
#include "aos/resilience.h"
#include "aos/trace.h"
#include "ml_internal.h"

static void on_message(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ev;
    ml_service_t *svc = ctx;
    ml_delivery_t *item = calloc(1, sizeof *item);
    if (!item || atomic_load(&svc->stopping)) {
        free(item);
        aos_bus_release(d);
        return;
    }
    item->d = d;
    pthread_mutex_lock(&svc->mu);
    if (svc->tail)
        svc->tail->next = item;
    else
        svc->head = item;
    svc->tail = item;
    pthread_cond_broadcast(&svc->cv);
    pthread_mutex_unlock(&svc->mu);
}

static void handle(ml_service_t *svc, aos_bus_delivery_t *d)
{
    const aos_event_t *req = aos_bus_delivery_event(d);
    char err[1024] = "", *type = NULL, *body = NULL;
    aos_result r = ml_ops_handle(svc, req, &type, &body, err, sizeof err);
    bool is_infer = req->type && strcmp(req->type, "aos.ml.infer") == 0;
    if (r != AOS_OK && aos_result_is_transient(r) && !is_infer && !atomic_load(&svc->stopping) &&
        aos_bus_delivery_count(d) + 1 < 5) {
        aos_log(AOS_LOG_WARN, "request released for redelivery", "type", req->type, "result",
                aos_result_code(r), "detail", err, NULL);
        aos_bus_release(d);
        return;
    }
    if (req->reply_to) {
        if (r == AOS_OK) {
            aos_event_t *reply = NULL;
            if (aos_event_create(type, "/aos/ml-pipeline", body, &reply) == AOS_OK)
                aos_bus_reply(svc->cfg.bus, req, reply, NULL, NULL);
            aos_event_free(reply);
        } else {
            aos_bus_reply_error(svc->cfg.bus, req, r, err[0] ? err : aos_result_str(r));
        }
    }
    if (r != AOS_OK)
        aos_log(AOS_LOG_INFO, "request failed", "type", req->type, "result", aos_result_code(r),
                "detail", err, NULL);
    free(type);
    free(body);
    aos_bus_accept(d);
}

static void *worker_main(void *arg)
{
    ml_service_t *svc = arg;
    for (;;) {
        pthread_mutex_lock(&svc->mu);
        while (!svc->head && !atomic_load(&svc->stopping))
            pthread_cond_wait(&svc->cv, &svc->mu);
        ml_delivery_t *item = svc->head;
        if (item) {
            svc->head = item->next;
            if (!svc->head)
                svc->tail = NULL;
        }
        pthread_mutex_unlock(&svc->mu);
        if (!item)
            return NULL;
        if (atomic_load(&svc->stopping))
            aos_bus_release(item->d);
        else {
            aos_trace_set(aos_bus_delivery_event(item->d)->traceparent);
            handle(svc, item->d);
            aos_trace_set(NULL);
        }
        free(item);
    }
}

/* ---- the scanner: claims queued jobs and jobs whose lease ran out ---- */

static void reap(ml_service_t *svc, unsigned *free_slots)
{
    *free_slots = 0;
    for (unsigned i = 0; i < svc->cfg.max_jobs; i++) {
        ml_job_t *j = &svc->jobs[i];
        if (j->used && atomic_load(&j->done)) {
            pthread_join(j->thread, NULL);
            j->used = false;
        }
        if (!j->used)
            (*free_slots)++;
    }
}

static bool running_here(ml_service_t *svc, const char *id)
{
    for (unsigned i = 0; i < svc->cfg.max_jobs; i++)
        if (svc->jobs[i].used && strcmp(svc->jobs[i].id, id) == 0)
            return true;
    return false;
}

static void start_job(ml_service_t *svc, const char *id)
{
    for (unsigned i = 0; i < svc->cfg.max_jobs; i++) {
        ml_job_t *j = &svc->jobs[i];
        if (j->used)
            continue;
        memset(j, 0, sizeof *j);
        j->svc = svc;
        snprintf(j->id, sizeof j->id, "%s", id);
        j->used = true;
        if (pthread_create(&j->thread, NULL, ml_job_main, j) != 0)
            j->used = false;
        else
            aos_log(AOS_LOG_INFO, "job claimed", "job", id, "instance", svc->instance, NULL);
        return;
    }
}

static bool claimable(const json_object *job, int64_t now)
{
    const char *state = ml_jstr(job, "state");
    if (!state || ml_state_final(state))
        return false;
    json_object *lease = NULL;
    json_object_object_get_ex(job, "lease", &lease);
    const char *owner = ml_jstr(lease, "owner");
    return !owner || !owner[0] || ml_jint(lease, "expires_ms", 0) <= now;
}

static void scan(ml_service_t *svc)
{
    unsigned free_slots;
    reap(svc, &free_slots);
    if (free_slots == 0 || !aos_bus_is_connected(svc->cfg.bus))
        return;
    json_object *all = NULL;
    char err[256] = "";
    if (ml_record_list(svc, "job", &all, err, sizeof err) != AOS_OK)
        return;
    int64_t now = ml_now_ms();
    for (size_t i = 0; i < json_object_array_length(all) && free_slots > 0; i++) {
        json_object *job = json_object_array_get_idx(all, i);
        const char *id = ml_jstr(job, "job_id");
        if (!id || !claimable(job, now) || running_here(svc, id) || atomic_load(&svc->stopping))
            continue;
        if (ml_job_claim(svc, id, err, sizeof err) == AOS_OK) {
            start_job(svc, id);
            free_slots--;
        }
    }
    json_object_put(all);
}

static void *scanner_main(void *arg)
{
    ml_service_t *svc = arg;
    int64_t period = svc->cfg.lease_ms / 3;
    if (period < 200)
        period = 200;
    if (period > 5000)
        period = 5000;
    while (!atomic_load(&svc->stopping)) {
        scan(svc);
        pthread_mutex_lock(&svc->mu);
        if (!svc->scan_now && !atomic_load(&svc->stopping)) {
            struct timespec ts = aos_clock_deadline(CLOCK_REALTIME, period);
            pthread_cond_timedwait(&svc->scan_cv, &svc->mu, &ts);
        }
        svc->scan_now = false;
        pthread_mutex_unlock(&svc->mu);
    }
    return NULL;
}

/* ---- life cycle ---- */

static char *dup_or(const char *s, const char *def)
{
    return strdup(s ? s : def);
}

aos_result ml_service_new(const ml_service_config_t *cfg, ml_service_t **out, char *errbuf,
                          size_t errlen)
{
    if (!cfg || !cfg->bus)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "a bus is required");
    ml_service_t *svc = calloc(1, sizeof *svc);
    if (!svc)
        return AOS_ERR_NOMEM;
    svc->cfg = *cfg;
    ml_service_config_t *c = &svc->cfg;
    c->job_timeout_ms = c->job_timeout_ms > 0 ? c->job_timeout_ms : 2 * 3600 * 1000;
    c->cancel_grace_ms = c->cancel_grace_ms > 0 ? c->cancel_grace_ms : 10000;
    c->lease_ms = c->lease_ms > 0 ? c->lease_ms : 30000;
    c->poll_ms = c->poll_ms > 0 ? c->poll_ms : 1000;
    c->storage_timeout_ms = c->storage_timeout_ms > 0 ? c->storage_timeout_ms : 10000;
    c->workers = c->workers ? c->workers : 4;
    c->max_jobs = c->max_jobs ? (c->max_jobs > ML_MAX_JOBS_CAP ? ML_MAX_JOBS_CAP : c->max_jobs) : 2;
    svc->queue = dup_or(cfg->queue, "aos.ml");
    svc->storage_queue = dup_or(cfg->storage_queue, "aos.storage");
    svc->instance = dup_or(cfg->instance, aos_bus_instance_id(cfg->bus));
    svc->workdir = dup_or(cfg->workdir, "/tmp/aos-ml");
    svc->trainer_cmd = cfg->trainer_cmd ? strdup(cfg->trainer_cmd) : NULL;
    svc->trainer_env = cfg->trainer_env ? strdup(cfg->trainer_env) : NULL;
    svc->base_model = dup_or(cfg->default_base_model, "meta-llama/Llama-3.1-8B-Instruct");
    pthread_mutex_init(&svc->mu, NULL);
    pthread_cond_init(&svc->cv, NULL);
    pthread_cond_init(&svc->scan_cv, NULL);
    aos_storage_client_config_t sc = {.bus = cfg->bus,
                                      .queue = svc->storage_queue,
                                      .source = "/aos/ml-pipeline",
                                      .timeout_ms = (int)c->storage_timeout_ms};
    aos_result r = aos_storage_client_new(&sc, &svc->sc, errbuf, errlen);
    if (r == AOS_OK)
        r = aos_http_client_new(NULL, &svc->http, errbuf, errlen);
    if (r == AOS_OK)
        r = aos_model_new(&(aos_model_config_t){.sleep = ml_sleep_fn, .sleep_ctx = svc}, svc->http,
                          NULL, &svc->model);
    /* Azure ML: Entra tokens acquired and refreshed when a source is configured (workload
     * identity, client secret, managed identity); a static AOS_AZUREML_TOKEN still wins */
    aos_identity_config_t idc;
    if (r == AOS_OK && !cfg->aml.token) {
        aos_result ir = aos_identity_config_from_env("https://management.azure.com/.default", &idc,
                                                     errbuf, errlen);
        if (ir == AOS_OK)
            r = aos_identity_new(&idc, svc->http, &svc->arm_identity, errbuf, errlen);
        else if (ir != AOS_ERR_NOT_FOUND)
            r = ir;
    }
    if (r != AOS_OK || !svc->queue || !svc->storage_queue || !svc->instance || !svc->workdir ||
        !svc->base_model) {
        ml_service_free(svc);
        return r != AOS_OK ? r : AOS_ERR_NOMEM;
    }
    *out = svc;
    return AOS_OK;
}

aos_result ml_service_start(ml_service_t *svc, char *errbuf, size_t errlen)
{
    svc->workers = calloc(svc->cfg.workers, sizeof *svc->workers);
    if (!svc->workers)
        return AOS_ERR_NOMEM;
    for (unsigned i = 0; i < svc->cfg.workers; i++) {
        if (pthread_create(&svc->workers[i], NULL, worker_main, svc) != 0)
            break;
        svc->nworkers++;
    }
    if (pthread_create(&svc->scanner, NULL, scanner_main, svc) == 0)
        svc->scanner_started = true;
    svc->started = true;
    if (svc->nworkers == 0 || !svc->scanner_started)
        return aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "cannot start threads");
    return aos_bus_subscribe(svc->cfg.bus, svc->queue, svc->cfg.workers, on_message, svc);
}

bool ml_service_ready(ml_service_t *svc, char *reason, size_t reason_len)
{
    if (atomic_load(&svc->stopping)) {
        snprintf(reason, reason_len, "stopping");
        return false;
    }
    if (!aos_bus_is_connected(svc->cfg.bus)) {
        snprintf(reason, reason_len, "bus not connected");
        return false;
    }
    return true;
}

void ml_service_stop(ml_service_t *svc, int grace_ms)
{
    (void)grace_ms;
    if (!svc || !svc->started)
        return;
    pthread_mutex_lock(&svc->mu);
    atomic_store(&svc->stopping, true);
    pthread_cond_broadcast(&svc->cv);
    pthread_cond_broadcast(&svc->scan_cv);
    pthread_mutex_unlock(&svc->mu);
    for (unsigned i = 0; i < svc->nworkers; i++)
        pthread_join(svc->workers[i], NULL);
    svc->nworkers = 0;
    if (svc->scanner_started)
        pthread_join(svc->scanner, NULL);
    svc->scanner_started = false;
    for (unsigned i = 0; i < svc->cfg.max_jobs; i++)
        if (svc->jobs[i].used) {
            pthread_join(svc->jobs[i].thread, NULL);
            svc->jobs[i].used = false;
        }
    svc->started = false;
}

void ml_service_free(ml_service_t *svc)
{
    if (!svc)
        return;
    ml_service_stop(svc, 0);
    for (ml_delivery_t *d = svc->head, *n; d; d = n) {
        n = d->next;
        aos_bus_release(d->d);
        free(d);
    }
    aos_identity_free(svc->arm_identity);
    aos_http_client_free(svc->http);
    aos_storage_client_free(svc->sc);
    aos_model_free(svc->model);
    free(svc->workers);
    free(svc->queue);
    free(svc->storage_queue);
    free(svc->instance);
    free(svc->workdir);
    free(svc->trainer_cmd);
    free(svc->trainer_env);
    free(svc->base_model);
    pthread_mutex_destroy(&svc->mu);
    pthread_cond_destroy(&svc->cv);
    pthread_cond_destroy(&svc->scan_cv);
    free(svc);
}
