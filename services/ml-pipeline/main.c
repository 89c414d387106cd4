/* aos-ml-pipeline: configuration, bus, service core, admin server, signals. */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/agents.h"
#include "aos/bus.h"
#include "aos/config.h"
#include "aos/service.h"
#include "aos/http_server.h"
#include "aos/log.h"
#include "ml_service.h"

typedef struct ml_config {
    aos_config_common_t common;
    char *queue, *storage_queue, *workdir, *trainer_cmd, *trainer_env, *backend, *base_model;
    int64_t job_timeout_ms, cancel_grace_ms, lease_ms, poll_ms, workers, max_jobs;
    int64_t shutdown_grace_ms;
    int64_t canary_share, canary_min_turns, canary_error_delta, canary_fallback_delta,
        canary_latency_pct;
    char *aml_url, *aml_sub, *aml_rg, *aml_ws, *aml_api, *aml_token, *aml_compute, *aml_env,
        *aml_code, *aml_data_prefix;
} ml_config_t;

#define F(env, key, type, def, lo, hi, secret, allowed, desc, member)                              \
    {                                                                                              \
        env, key, type, def, lo, hi, false, secret, allowed, desc, offsetof(ml_config_t, member)   \
    }
static const aos_config_field_t TABLE[] = {
    AOS_CONFIG_COMMON_FIELDS(ml_config_t, common),
    F("AOS_ML_QUEUE", "ml_queue", AOS_CONFIG_STRING, "aos.ml", 1, 200, false, NULL,
      "Queue aos-ml-pipeline consumes (another name only to isolate tests)", queue),
    F("AOS_STORAGE_QUEUE", "storage_queue", AOS_CONFIG_STRING, "aos.storage", 1, 200, false, NULL,
      "Queue of aos-storage", storage_queue),
    F("AOS_ML_WORKDIR", "ml_workdir", AOS_CONFIG_STRING, "/tmp/aos-ml", 1, 1000, false, NULL,
      "Directory of the local backend's job directories", workdir),
    F("AOS_ML_TRAINER_CMD", "ml_trainer_cmd", AOS_CONFIG_STRING, NULL, 0, 4096, false, NULL,
      "Local trainer command (split on spaces; `--config <job.json>` is appended)", trainer_cmd),
    F("AOS_ML_TRAINER_ENV", "ml_trainer_env", AOS_CONFIG_STRING, NULL, 0, 4096, false, NULL,
      "More environment variables the trainer gets besides its allowlist (comma-separated, "
      "`PREFIX*` allowed), e.g. `HF_TOKEN`; nothing else of the service's environment is passed",
      trainer_env),
    F("AOS_ML_BACKEND", "ml_backend", AOS_CONFIG_ENUM, "local", 0, 0, false, "local|azureml",
      "Backend of jobs that do not name one", backend),
    F("AOS_ML_BASE_MODEL", "ml_base_model", AOS_CONFIG_STRING, "meta-llama/Llama-3.1-8B-Instruct",
      1, 256, false, NULL, "Base model of jobs that do not name one", base_model),
    F("AOS_ML_JOB_TIMEOUT", "ml_job_timeout", AOS_CONFIG_DURATION_MS, "2h", 1000, 604800000, false,
      NULL, "Default job timeout (local trainer)", job_timeout_ms),
    F("AOS_ML_CANCEL_GRACE", "ml_cancel_grace", AOS_CONFIG_DURATION_MS, "10s", 10, 600000, false,
      NULL, "SIGTERM to SIGKILL delay when a trainer is stopped", cancel_grace_ms),
    F("AOS_ML_LEASE", "ml_lease", AOS_CONFIG_DURATION_MS, "30s", 300, 3600000, false, NULL,
      "Job lease; a job whose replica is silent this long is taken over", lease_ms),
    F("AOS_ML_POLL", "ml_poll", AOS_CONFIG_DURATION_MS, "1s", 50, 600000, false, NULL,
      "Period of job record updates and Azure ML status polls", poll_ms),
    F("AOS_ML_WORKERS", "ml_workers", AOS_CONFIG_INT, "4", 1, 64, false, NULL,
      "Request worker threads", workers),
    F("AOS_ML_MAX_JOBS", "ml_max_jobs", AOS_CONFIG_INT, "2", 1, 64, false, NULL,
      "Jobs this replica runs at once", max_jobs),
    F("AOS_ML_CANARY_SHARE", "ml_canary_share", AOS_CONFIG_INT, "0", 0, 100, false, NULL,
      "Percent of new conversations a newly registered adapter version answers as a canary "
      "(0: it becomes stable at once; a training request's `canary.share` wins)",
      canary_share),
    F("AOS_ML_CANARY_MIN_TURNS", "ml_canary_min_turns", AOS_CONFIG_INT, "50", 1, 1000000, false,
      NULL, "Canary turns counted before the pipeline promotes or rolls back by itself",
      canary_min_turns),
    F("AOS_ML_CANARY_MAX_ERROR_DELTA", "ml_canary_max_error_delta", AOS_CONFIG_INT, "5", 0, 100,
      false, NULL,
      "Percentage points by which the canary's failed-turn rate may exceed the stable "
      "version's before it is rolled back",
      canary_error_delta),
    F("AOS_ML_CANARY_MAX_FALLBACK_DELTA", "ml_canary_max_fallback_delta", AOS_CONFIG_INT, "10", 0,
      100, false, NULL,
      "Percentage points by which the canary's rate of turns that needed a fallback endpoint "
      "may exceed the stable version's",
      canary_fallback_delta),
    F("AOS_ML_CANARY_MAX_LATENCY", "ml_canary_max_latency", AOS_CONFIG_INT, "150", 100, 10000,
      false, NULL,
      "Canary mean model latency allowed, in percent of the stable version's (differences "
      "under 100 ms never count)",
      canary_latency_pct),
    F("AOS_SHUTDOWN_GRACE", "shutdown_grace", AOS_CONFIG_DURATION_MS, "10s", 0, 600000, false, NULL,
      "Time to finish in-flight work after SIGTERM", shutdown_grace_ms),
    F("AOS_AZUREML_URL", "azureml_url", AOS_CONFIG_URL, "https://management.azure.com", 0, 0, false,
      "http|https", "Azure Resource Manager base URL", aml_url),
    F("AOS_AZUREML_SUBSCRIPTION", "azureml_subscription", AOS_CONFIG_STRING, NULL, 0, 128, false,
      NULL, "Subscription id of the Azure ML workspace", aml_sub),
    F("AOS_AZUREML_RESOURCE_GROUP", "azureml_resource_group", AOS_CONFIG_STRING, NULL, 0, 128,
      false, NULL, "Resource group of the workspace", aml_rg),
    F("AOS_AZUREML_WORKSPACE", "azureml_workspace", AOS_CONFIG_STRING, NULL, 0, 128, false, NULL,
      "Azure ML workspace name", aml_ws),
    F("AOS_AZUREML_API_VERSION", "azureml_api_version", AOS_CONFIG_STRING, "2024-04-01", 1, 32,
      false, NULL, "ARM api-version of the Azure ML calls", aml_api),
    F("AOS_AZUREML_TOKEN", NULL, AOS_CONFIG_STRING, NULL, 0, 0, true, NULL,
      "Bearer token for ARM (Entra, scope https://management.azure.com/.default)", aml_token),
    F("AOS_AZUREML_COMPUTE", "azureml_compute", AOS_CONFIG_STRING, NULL, 0, 1024, false, NULL,
      "computeId of the training command job", aml_compute),
    F("AOS_AZUREML_ENVIRONMENT", "azureml_environment", AOS_CONFIG_STRING, NULL, 0, 1024, false,
      NULL, "environmentId of the training command job", aml_env),
    F("AOS_AZUREML_CODE", "azureml_code", AOS_CONFIG_STRING, NULL, 0, 1024, false, NULL,
      "codeId of the uploaded deploy/trainer directory", aml_code),
    F("AOS_AZUREML_DATA_URI_PREFIX", "azureml_data_uri_prefix", AOS_CONFIG_STRING,
      "azureml://datastores/aos/paths/", 0, 1024, false, NULL,
      "Prefix of the training data URI (a datastore on the storage account of aos-storage)",
      aml_data_prefix),
};
#undef F
#define TABLE_N (sizeof TABLE / sizeof TABLE[0])

typedef struct app {
    ml_config_t cfg;
    aos_agents_config_t *agents;
    aos_bus_t *bus;
    ml_service_t *svc;
    aos_http_server_t *admin;
} app_t;

static bool ready_cb(void *ctx, char *reason, size_t reason_len)
{
    return ml_service_ready(ctx, reason, reason_len);
}

static int start(app_t *a)
{
    char err[1024] = "";
    const ml_config_t *c = &a->cfg;
    aos_result r = AOS_OK;
    if (c->common.config_path &&
        (r = aos_agents_config_load(c->common.config_path, &a->agents, err, sizeof err)) != AOS_OK)
        return aos_service_fail("cannot load the agents config", r, err);
    aos_bus_config_t bc;
    aos_bus_config_from_common(&c->common, NULL, &bc);
    r = aos_bus_new(&bc, &a->bus, err, sizeof err);
    if (r == AOS_OK)
        r = aos_bus_start(a->bus);
    if (r != AOS_OK)
        return aos_service_fail("cannot start the bus", r, err);
    ml_service_config_t sc = {.bus = a->bus,
                              .agents = a->agents,
                              .queue = c->queue,
                              .storage_queue = c->storage_queue,
                              .workdir = c->workdir,
                              .trainer_cmd = c->trainer_cmd,
                              .trainer_env = c->trainer_env,
                              .default_base_model = c->base_model,
                              .job_timeout_ms = c->job_timeout_ms,
                              .cancel_grace_ms = c->cancel_grace_ms,
                              .lease_ms = c->lease_ms,
                              .poll_ms = c->poll_ms,
                              .workers = (unsigned)c->workers,
                              .max_jobs = (unsigned)c->max_jobs,
                              .canary_share = c->canary_share,
                              .canary = {.min_turns = c->canary_min_turns,
                                         .max_error_delta_pct = c->canary_error_delta,
                                         .max_fallback_delta_pct = c->canary_fallback_delta,
                                         .max_latency_pct = c->canary_latency_pct,
                                         .max_feedback_drop = 0.25},
                              .aml = {.url = c->aml_url,
                                      .subscription = c->aml_sub,
                                      .resource_group = c->aml_rg,
                                      .workspace = c->aml_ws,
                                      .api_version = c->aml_api,
                                      .token = c->aml_token,
                                      .compute = c->aml_compute,
                                      .environment = c->aml_env,
                                      .code = c->aml_code,
                                      .data_uri_prefix = c->aml_data_prefix}};
    ml_backend_parse(c->backend, &sc.default_backend);
    r = ml_service_new(&sc, &a->svc, err, sizeof err);
    if (r == AOS_OK)
        r = ml_service_start(a->svc, err, sizeof err);
    if (r != AOS_OK)
        return aos_service_fail("cannot start the ml service", r, err);
    r = aos_http_admin_start(c->common.admin_addr, ready_cb, a->svc, &a->admin, err, sizeof err);
    if (r != AOS_OK)
        return aos_service_fail("cannot start the admin server", r, err);
    char port[16];
    snprintf(port, sizeof port, "%u", aos_http_server_port(a->admin));
    aos_log(AOS_LOG_INFO, "aos-ml-pipeline started", "backend", c->backend, "admin_port", port,
            "instance", aos_bus_instance_id(a->bus), NULL);
    return 0;
}

static void shutdown_all(app_t *a)
{
    int grace = (int)a->cfg.shutdown_grace_ms;
    if (a->admin)
        aos_http_server_stop(a->admin, 0);
    ml_service_stop(a->svc, grace); /* running jobs are handed over (lease released) */
    if (a->bus)
        aos_bus_stop(a->bus, grace);
    aos_http_server_free(a->admin);
    ml_service_free(a->svc);
    aos_bus_free(a->bus);
    aos_agents_config_free(a->agents);
}

int main(int argc, char **argv)
{
    app_t a;
    memset(&a, 0, sizeof a);
    int init =
        aos_service_init("aos-ml-pipeline", argc, argv, TABLE, TABLE_N, &a.cfg, &a.cfg.common);
    if (init >= 0)
        return init;
    sigset_t set;
    aos_service_block_signals(&set); /* before start(): every thread inherits the mask */
    int rc = start(&a);
    if (rc == 0)
        aos_service_wait_signal(&set);
    shutdown_all(&a);
    aos_config_free(TABLE, TABLE_N, &a.cfg);
    aos_log(AOS_LOG_INFO, "aos-ml-pipeline stopped", NULL);
    return rc;
}
