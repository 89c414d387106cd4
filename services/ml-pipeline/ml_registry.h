/* services/ml-pipeline/ml_registry.h: an agent's adapter versions, its canary and the
 * decisions on it, as pure functions over the adapter record (docs/ml.md "Versions, canary,
 * promotion and rollback").
 *
 * The adapter record (storage kind "adapter", key = agent) carries, besides what training
 * writes: "stable_version", "canary" ({version, share, stable_version, min_turns,
 * started_ms, stats: {canary: S, stable: S}}) while one runs, "pinned", "revision" (bumped
 * by every change here, so a reader keeps the newest of two copies), "versions" (one entry
 * per registered version: {version, status: ready|failed|rolled_back, deployment,
 * artifact, job_id, metrics, registered_ms, reason?}) and "history" (newest last, at most
 * ML_REGISTRY_HISTORY_MAX entries: {ts_ms, action, version, from_version?, reason, by}).
 * S = {turns, errors, fallbacks, latency_ms_sum, feedback_count, feedback_sum}.
 *
 * Every function mutates rec in place only on success; on error rec is unchanged and
 * errbuf says why (AOS_ERR_INVALID: a request that cannot apply, AOS_ERR_NOT_FOUND: no
 * such version). Thread-safety: pure; call from any thread on a record you own.
 */
#ifndef ML_REGISTRY_H
#define ML_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "aos/result.h"

#define ML_REGISTRY_HISTORY_MAX 100
#define ML_REGISTRY_VERSIONS_MAX 50

/* The canary judge's limits (AOS_ML_CANARY_* in docs/ml.md). */
typedef struct ml_canary_policy {
    int64_t min_turns;              /* canary turns before a decision (a canary may override) */
    int64_t max_error_delta_pct;    /* canary error rate may exceed stable's by this many points */
    int64_t max_fallback_delta_pct; /* same for turns that needed a fallback endpoint */
    int64_t max_latency_pct;        /* canary mean latency at most this % of stable's */
    double max_feedback_drop;       /* canary mean feedback at most this much below stable's */
} ml_canary_policy_t;

typedef enum ml_decision {
    ML_DECISION_NONE = 0,
    ML_DECISION_PROMOTED,
    ML_DECISION_ROLLED_BACK,
} ml_decision;

/* The deployment (openai: model name; azureml: azureml-model-deployment) that serves
 * version v of adapter name: "<name>-v<v>". out holds 160 bytes. */
void ml_registry_deployment(const char *name, int64_t version, char out[160]);

/* The version number the next training of this record gets. */
int64_t ml_registry_next_version(const json_object *rec);

/* A freshly trained version v is registered (status ready). It then becomes stable at once
 * (the first version, or share == 0), or starts a canary with share % of the turns (any
 * running canary is superseded: rolled back with that reason), or - when the agent is
 * pinned - is only registered. *out_action: "promoted", "canary_started" or "registered". */
aos_result ml_registry_register(json_object *rec, int64_t version, const char *artifact,
                                const char *job_id, const json_object *metrics, int64_t share,
                                int64_t min_turns, int64_t now_ms, const char **out_action,
                                char *errbuf, size_t errlen);

/* Operator: start a canary of a registered version (not stable, not failed) with share in
 * 1..100 (a running canary is superseded). min_turns 0: the policy's. */
aos_result ml_registry_canary(json_object *rec, int64_t version, int64_t share, int64_t min_turns,
                              const char *by, int64_t now_ms, char *errbuf, size_t errlen);

/* Promote version (0: the running canary) to stable; ends any canary. A failed version (it
 * failed its canary) or an unregistered one is refused. */
aos_result ml_registry_promote(json_object *rec, int64_t version, const char *by,
                               const char *reason, int64_t now_ms, int64_t *out_version,
                               char *errbuf, size_t errlen);

/* Roll back: with a canary running, end it (the canary version becomes rolled_back, or
 * failed when by is "pipeline"); without one, make version (0: the stable version before
 * the current one) stable again. *out_version: the version that was rolled back. */
aos_result ml_registry_rollback(json_object *rec, int64_t version, const char *by,
                                const char *reason, int64_t now_ms, int64_t *out_version,
                                char *errbuf, size_t errlen);

/* Pin version (it becomes stable, any canary ends; new versions are only registered) or,
 * with version 0, unpin. */
aos_result ml_registry_pin(json_object *rec, int64_t version, const char *by, int64_t now_ms,
                           char *errbuf, size_t errlen);

/* One turn (or one feedback) reported for version. */
typedef struct ml_turn_sample {
    int64_t version;
    bool error;         /* the model failed on every endpoint */
    uint32_t fallbacks; /* endpoints given up on before the answer */
    int64_t latency_ms; /* model call time */
    bool is_feedback;   /* a feedback score, not a turn */
    double score;       /* feedback in [-1, 1] */
} ml_turn_sample_t;

/* Parse an aos.ml.record_turn body: {"agent","adapter","version","outcome":"answered"|
 * "failed","fallbacks","latency_ms","conversation_id"?,"message_id"?}. agent out: 64 bytes. */
aos_result ml_turn_sample_parse(const char *json, size_t len, char agent[64], ml_turn_sample_t *out,
                                char *errbuf, size_t errlen);

/* Whether s counts in the record's running canary (a turn or feedback of its canary or
 * stable version); when not, ml_registry_record changes nothing. */
bool ml_registry_counts(const json_object *rec, const ml_turn_sample_t *s);

/* Count s in the running canary (samples of other versions, or with no canary, change
 * nothing: *out = NONE, AOS_OK) and judge it once the canary has min_turns turns: promote
 * or roll back (recorded with the reason, *out says which). */
aos_result ml_registry_record(json_object *rec, const ml_turn_sample_t *s,
                              const ml_canary_policy_t *pol, int64_t now_ms, ml_decision *out,
                              char *reason, size_t rlen);

#endif
