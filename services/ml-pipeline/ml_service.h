/* services/ml-pipeline/ml_service.h: the aos-ml-pipeline service core.
 *
 * The service consumes the "aos.ml" queue (competing consumers) and answers each request
 * (operations in docs/ml.md) on a small worker pool; bus callbacks only enqueue. Training
 * jobs are storage records (kind "job") that carry a lease {owner, expires_ms}: a scanner
 * claims queued jobs and jobs whose lease expired (their replica died) with an if_match
 * write, so exactly one replica runs a job at a time; the running replica renews the lease
 * while the job runs, and stops the job at once if it ever loses it. Each running job has a
 * thread of its own (the local trainer process or the Azure ML poller).
 *
 * Threads: new/start/stop/free from one controlling thread; _ready from any thread.
 */
#ifndef ML_SERVICE_H
#define ML_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/agents.h"
#include "aos/bus.h"
#include "ml_registry.h"
#include "ml_spec.h"

typedef struct ml_service ml_service_t;

typedef struct ml_azureml_config {
    const char *url; /* ARM base, e.g. https://management.azure.com */
    const char *subscription;
    const char *resource_group;
    const char *workspace;
    const char *api_version;     /* NULL: "2024-04-01" */
    const char *token;           /* bearer token (secret) */
    const char *compute;         /* computeId of the command job */
    const char *environment;     /* environmentId */
    const char *code;            /* codeId (the uploaded deploy/trainer); may be NULL */
    const char *data_uri_prefix; /* training data URI = prefix + container/name */
} ml_azureml_config_t;

typedef struct ml_service_config {
    aos_bus_t *bus;                    /* borrowed; started by the caller */
    const aos_agents_config_t *agents; /* borrowed; NULL: every agent is unknown */
    const char *queue;                 /* NULL: "aos.ml" */
    const char *storage_queue;         /* NULL: "aos.storage" */
    const char *instance;              /* lease owner name; NULL: the bus instance id */
    const char *workdir;               /* job directories (local backend) */
    const char *trainer_cmd;           /* local trainer command line (split on spaces) */
    const char *trainer_env;           /* more environment names for it (ml_trainer_env.h) */
    const char *default_base_model;
    ml_backend default_backend;
    int64_t job_timeout_ms;     /* 0: 2 h */
    int64_t cancel_grace_ms;    /* SIGTERM -> SIGKILL; 0: 10 s */
    int64_t lease_ms;           /* 0: 30 s */
    int64_t poll_ms;            /* job record / Azure ML poll period; 0: 1 s */
    int64_t storage_timeout_ms; /* 0: 10 s */
    unsigned workers;           /* 0: 4 */
    unsigned max_jobs;          /* concurrent jobs on this replica; 0: 2 */
    ml_azureml_config_t aml;
    int64_t canary_share;      /* default canary share of a new version (0: none) */
    ml_canary_policy_t canary; /* the canary judge (min_turns 0: 50) */
} ml_service_config_t;

aos_result ml_service_new(const ml_service_config_t *cfg, ml_service_t **out, char *errbuf,
                          size_t errlen);
aos_result ml_service_start(ml_service_t *svc, char *errbuf, size_t errlen);
bool ml_service_ready(ml_service_t *svc, char *reason, size_t reason_len);
/* Stop taking requests, stop running jobs WITHOUT finishing them (their lease runs out and
 * another replica takes them over; the trainer processes are terminated), join threads. */
void ml_service_stop(ml_service_t *svc, int grace_ms);
void ml_service_free(ml_service_t *svc);

#endif
