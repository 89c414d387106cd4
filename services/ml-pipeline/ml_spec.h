/* services/ml-pipeline/ml_spec.h: the pure parts of aos-ml-pipeline (no I/O): request
 * parsing, LoRA and hyperparameter validation, training-data validation, trainer progress
 * lines and Azure ML job states. Everything here is fuzzed (tests/ml/fuzz_ml_spec.c).
 *
 * Ownership: json_object outputs carry one reference for the caller (json_object_put);
 * ml_train_req_t owns what it points to (ml_train_req_clear).
 * Thread-safety: all functions are pure and may be called from any thread.
 */
#ifndef ML_SPEC_H
#define ML_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "aos/result.h"

#define ML_TASK_TYPES "CAUSAL_LM|SEQ_CLS|SEQ_2_SEQ_LM|TOKEN_CLS|QUESTION_ANS|FEATURE_EXTRACTION"
#define ML_MAX_DATA_BYTES (256u * 1024u * 1024u)
#define ML_MAX_LINE_BYTES (1024u * 1024u)

/* LoRA config with defaults filled in: r 16, lora_alpha 32, lora_dropout 0.05,
 * target_modules ["q_proj","v_proj"], task_type CAUSAL_LM, bias "none". Rules: r integer
 * 1..1024, lora_alpha > 0 (≤ 65536), lora_dropout in [0,1), target_modules a non-empty
 * array (≤ 64) of non-empty strings, task_type one of ML_TASK_TYPES, bias none|all|lora_only;
 * unknown keys are errors. in may be NULL (all defaults). */
aos_result ml_lora_normalize(const json_object *in, json_object **out, char *errbuf, size_t errlen);

/* Hyperparameters with defaults: epochs 1 (1..1000), learning_rate 0.0002 (0 < lr ≤ 1),
 * batch_size 4 (1..4096), max_seq_length 2048 (16..131072). Unknown keys are errors. */
aos_result ml_hparams_normalize(const json_object *in, json_object **out, char *errbuf,
                                size_t errlen);

/* Validate JSONL training data: one JSON object per line, either
 * {"messages":[{"role":"system"|"user"|"assistant","content":"…"},…]} with at least one
 * assistant message, or {"prompt":"…","completion":"…"}. Empty lines are skipped; at least
 * one example is required. The first bad line is reported as "line N: why". */
aos_result ml_data_validate(const char *buf, size_t len, size_t *out_examples, char *errbuf,
                            size_t errlen);

typedef enum ml_backend {
    ML_BACKEND_LOCAL = 0,
    ML_BACKEND_AZUREML,
} ml_backend;

const char *ml_backend_name(ml_backend b);
aos_result ml_backend_parse(const char *s, ml_backend *out);

/* A train_adapter / run_pipeline request (docs/ml.md). */
typedef struct ml_train_req {
    char *agent;
    char *adapter_name;   /* NULL: filled by the service (the agent's adapter, else the agent) */
    char *base_model;     /* NULL: the service default */
    json_object *lora;    /* normalized */
    json_object *hparams; /* normalized */
    char *data_container; /* training data blob; both NULL when data_jsonl is given */
    char *data_name;
    char *data_jsonl; /* inline JSONL (run_pipeline uploads it first) */
    bool has_backend;
    ml_backend backend;
    int64_t timeout_ms; /* 0: service default */
    char *job_id;       /* optional client-chosen id (idempotency key) */
    /* the Azure ML workspace the caller names (the seed's run_azure_ml_pipeline); NULL when
     * not named. The service refuses one that is not the workspace it is configured for. */
    char *ws_subscription, *ws_resource_group, *ws_name;
    /* "canary": the share (0..100) of new conversations the version answers once registered
     * (-1: the service default) and the canary turns before the pipeline decides (0: the
     * service default). */
    int64_t canary_share, canary_min_turns;
} ml_train_req_t;

/* Parse and validate a request body. pipeline allows inline "data_jsonl". */
aos_result ml_train_req_parse(const char *json, size_t len, bool pipeline, ml_train_req_t *out,
                              char *errbuf, size_t errlen);
void ml_train_req_clear(ml_train_req_t *r);

/* ---- trainer progress protocol (docs/ml-trainer-protocol.md) ---- */

typedef enum ml_progress_kind {
    ML_PROGRESS_LOG = 0, /* not a protocol line: kept as a log line */
    ML_PROGRESS_STARTED,
    ML_PROGRESS_STEP,
    ML_PROGRESS_METRIC,
    ML_PROGRESS_DONE,
    ML_PROGRESS_ERROR,
} ml_progress_kind;

typedef struct ml_progress {
    ml_progress_kind kind;
    int64_t step, total_steps;
    double epoch, loss;
    bool has_loss;
    char name[64]; /* metric name */
    double value;
    char text[512];       /* error message / artifact path / log line (truncated) */
    json_object *metrics; /* done: metrics object (owned; put in ml_progress_clear) or NULL */
} ml_progress_t;

/* Parse one stdout line (without the newline). Never fails: anything that is not a valid
 * protocol object is ML_PROGRESS_LOG. */
void ml_progress_parse(const char *line, size_t len, ml_progress_t *out);
void ml_progress_clear(ml_progress_t *p);

/* ---- Azure ML job states ---- */

typedef enum ml_aml_state {
    ML_AML_PENDING = 0, /* NotStarted, Starting, Provisioning, Preparing, Queued, Paused,
                           NotResponding, CancelRequested, Unknown and unrecognized text */
    ML_AML_RUNNING,     /* Running, Finalizing */
    ML_AML_COMPLETED,
    ML_AML_FAILED,
    ML_AML_CANCELED,
} ml_aml_state;

ml_aml_state ml_aml_state_parse(const char *status);
bool ml_aml_state_final(ml_aml_state s);

/* A job id for a request: the client's job_id when valid (and starting with a letter or
 * digit), else "job-" + the request's
 * event id with characters outside [A-Za-z0-9._:-] dropped. out must hold 129 bytes. */
aos_result ml_job_id(const char *client_id, const char *event_id, char out[129]);

#endif
