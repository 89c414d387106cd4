/* services/ml-pipeline/ml_internal.h: shared between the service's source files (not an API).
 *
 * Record access (ml_store.c) is read-modify-write with if_match and retries on conflict; a
 * job's running replica changes its job record only through ml_job_touch, which refuses to
 * write once the lease belongs to someone else.
 */
#ifndef ML_INTERNAL_H
#define ML_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "aos/http_client.h"
#include "aos/storage_client.h"
#include "ml_service.h"

#define ML_MAX_JOBS_CAP 64

typedef struct ml_delivery {
    aos_bus_delivery_t *d;
    struct ml_delivery *next;
} ml_delivery_t;

typedef struct ml_job {
    struct ml_service *svc;
    char id[129];
    pthread_t thread;
    atomic_bool cancel; /* cancel_job on this replica */
    atomic_bool done;
    bool used;
} ml_job_t;

struct ml_service {
    ml_service_config_t cfg; /* strings copied below */
    char *queue, *storage_queue, *instance, *workdir, *trainer_cmd, *base_model;
    char *trainer_env; /* AOS_ML_TRAINER_ENV: more names the trainer child gets */
    aos_storage_client_t *sc;
    aos_http_client_t *http;
    struct aos_identity *arm_identity; /* Entra tokens for ARM (aos/identity.h); NULL: none */

    pthread_mutex_t mu;
    pthread_cond_t cv;      /* workers: a delivery arrived / stopping */
    pthread_cond_t scan_cv; /* scanner: scan now / stopping */
    ml_delivery_t *head, *tail;
    atomic_bool stopping;
    bool started;
    pthread_t *workers;
    unsigned nworkers;
    pthread_t scanner;
    bool scanner_started;
    bool scan_now;
    ml_job_t jobs[ML_MAX_JOBS_CAP];
    /* infer: model calls (aos/model_call.h), sync on the worker threads; thread-safe */
    struct aos_model *model;
};

typedef struct ml_service ml_service_t;

/* ---- records (ml_store.c) ---- */

typedef aos_result (*ml_mutate_fn)(json_object *data, void *ctx, char *errbuf, size_t errlen);

/* Get a record's data; *out is the caller's (json_object_put), *out_version malloc'd (may be
 * NULL). */
aos_result ml_record_get(ml_service_t *svc, const char *kind, const char *key, json_object **out,
                         char **out_version, char *errbuf, size_t errlen);
/* Create only (if_match NULL). AOS_ERR_CONFLICT when it exists. */
aos_result ml_record_create(ml_service_t *svc, const char *kind, const char *key,
                            const json_object *data, char *errbuf, size_t errlen);
/* Read, mutate, write with if_match; retried on conflict and transient errors. A non-OK
 * result of fn stops without writing. create_empty: a missing record starts as {}.
 * *out (may be NULL) gets the data as written. */
aos_result ml_record_update(ml_service_t *svc, const char *kind, const char *key, bool create_empty,
                            ml_mutate_fn fn, void *ctx, json_object **out, char *errbuf,
                            size_t errlen);
/* All records of a kind (paged through); *out is a JSON array of the data objects. */
aos_result ml_record_list(ml_service_t *svc, const char *kind, json_object **out, char *errbuf,
                          size_t errlen);
/* Publish aos.ml.<what>.<state> with data on aos.events (fire and forget). */
void ml_publish(ml_service_t *svc, const char *what, const char *state, const json_object *data);

const char *ml_jstr(const json_object *o, const char *key);
int64_t ml_jint(const json_object *o, const char *key, int64_t def);
int64_t ml_now_ms(void);
bool ml_state_final(const char *state);

/* ---- jobs (ml_job.c) ---- */

typedef enum ml_outcome {
    ML_OUT_SUCCEEDED = 0,
    ML_OUT_FAILED,
    ML_OUT_CANCELLED,
    ML_OUT_LOST, /* the lease went elsewhere or the service is stopping: write nothing */
} ml_outcome;

/* Patch applied by ml_job_touch. NULL / false members change nothing. */
typedef struct ml_job_patch {
    const char *state;      /* new job state */
    const char *reason;     /* failure / cancel reason */
    const char *step;       /* a step name ... */
    const char *step_state; /* ... and its new state */
    const json_object *set; /* members copied into the record (progress, metrics, azureml) */
    bool release;           /* give the lease up (expires now) */
} ml_job_patch_t;

/* Write patch + renew the lease. AOS_ERR_CONFLICT: the lease is someone else's now (stop
 * the job, write nothing). *out_cancel (may be NULL) = cancel_requested in the record. */
aos_result ml_job_touch(ml_job_t *j, const ml_job_patch_t *patch, bool *out_cancel,
                        json_object **out_data, char *errbuf, size_t errlen);
void *ml_job_main(void *arg);
/* Set one step's state in the job record. */
aos_result ml_job_step(ml_job_t *j, const char *name, const char *state);
/* Download and validate the training data into the job directory (*path). */
ml_outcome ml_job_fetch_data(ml_job_t *j, const json_object *data, char *path, size_t plen,
                             char *reason, size_t rlen);

/* Claim a job for this replica (scanner); AOS_OK when this replica now owns it. */
aos_result ml_job_claim(ml_service_t *svc, const char *job_id, char *errbuf, size_t errlen);

/* ---- backends ---- */

/* Run the local trainer for the job whose record is data. On success *out_artifact (malloc'd)
 * and *out_metrics (owned) are set. */
ml_outcome ml_local_run(ml_job_t *j, const json_object *data, const char *data_path,
                        char **out_artifact, json_object **out_metrics, char *reason, size_t rlen);
/* Submit (or resume) the Azure ML command job and wait for its end. */
ml_outcome ml_aml_run(ml_job_t *j, const json_object *data, char **out_artifact,
                      json_object **out_metrics, char *reason, size_t rlen);
/* Register the model version (PUT .../models/{name}/versions/{version}). */
aos_result ml_aml_register(ml_service_t *svc, const char *name, int64_t version,
                           const char *artifact, const char *job_id, char *errbuf, size_t errlen);

/* ---- operations (ml_ops.c, ml_infer.c) ---- */

/* Answer one request: *out_reply_json (malloc'd) for a result, or an error code + message. */
aos_result ml_ops_handle(ml_service_t *svc, const aos_event_t *req, char **out_type,
                         char **out_reply_json, char *errbuf, size_t errlen);
/* The registry's serving ops (ml_adapter_ops.c): promote, rollback, pin, unpin, canary,
 * record_turn, feedback. AOS_ERR_UNSUPPORTED (no detail) for any other op. */
aos_result ml_adapter_op(ml_service_t *svc, const char *op, const aos_event_t *req,
                         const json_object *q, json_object **out, char *errbuf, size_t errlen);
aos_result ml_infer(ml_service_t *svc, const json_object *req, json_object **out, char *errbuf,
                    size_t errlen);
/* Sleep up to ms, returning early when the service stops. */
void ml_sleep(ml_service_t *svc, int64_t ms);
/* ml_sleep as an aos_http_sleep_fn (aos/http_retry.h): false when stopping. */
bool ml_sleep_fn(void *svc, uint64_t ms);

#endif
