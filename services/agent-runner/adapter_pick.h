/* services/agent-runner/adapter_pick.h: which adapter version answers a turn, as pure
 * functions (docs/agent-runner.md "Adapter versions and canary").
 *
 * The ML pipeline's adapter record (docs/ml.md) names a stable version and, while a canary
 * runs, a canary version with a share of new conversations. A conversation keeps the
 * version recorded on its latest answer while that version is still served (stable or
 * canary); otherwise a deterministic bucket of its id decides, so every runner replica, and
 * a replica after a restart, sends the same conversation to the same version.
 *
 * Thread-safety: pure, any thread. The record parser takes outside bytes and is fuzzed
 * (tests/runner/fuzz_adapter_record.c).
 */
#ifndef RUNNER_ADAPTER_PICK_H
#define RUNNER_ADAPTER_PICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"
#include "aos/storage_types.h"

#define RUNNER_ADAPTER_NAME_MAX 129
#define RUNNER_ADAPTER_SERVED_MAX 160

/* What the runner needs of an adapter record. */
typedef struct runner_adapter_state {
    char name[RUNNER_ADAPTER_NAME_MAX];
    int64_t revision;       /* newer records have larger revisions (0: a record without) */
    bool serving;           /* a version is ready to serve */
    int64_t stable_version; /* 0 with serving: a record from before versions (serve name) */
    char stable_served[RUNNER_ADAPTER_SERVED_MAX]; /* model / deployment of the stable one */
    int64_t canary_version;                        /* 0: no canary */
    char canary_served[RUNNER_ADAPTER_SERVED_MAX];
    uint32_t canary_share; /* percent of new conversations, 0..100 */
} runner_adapter_state_t;

/* Parse an adapter record's JSON (the storage record data, or an aos.ml.adapter.* event's
 * data). AOS_ERR_INVALID with detail on anything unusable (missing name, bad share, …). */
aos_result runner_adapter_state_parse(const char *json, size_t len, runner_adapter_state_t *out,
                                      char *errbuf, size_t errlen);

/* The version a turn is sent to. */
typedef struct runner_adapter_choice {
    char name[RUNNER_ADAPTER_NAME_MAX];     /* "" : no registry adapter (the configured one) */
    char served[RUNNER_ADAPTER_SERVED_MAX]; /* model / deployment name; "" : the configured */
    int64_t version;                        /* 0: not a registry version */
    bool canary;
} runner_adapter_choice_t;

/* 0..9999 from FNV-1a 32 (with murmur3's finalizer) of "<conversation_id>#<canary_version>":
 * a new conversation takes the canary when bucket < share * 100. Each canary draws its own
 * conversations. */
uint32_t runner_adapter_bucket(const char *conversation_id, int64_t canary_version);

/* The adapter version recorded on the newest message of page (newest first) whose metadata
 * names adapter name; 0 when none. */
int64_t runner_adapter_history_version(const aos_storage_message_page_t *page, const char *name);

/* Decide for conversation_id given the version its history recorded (0: none). st NULL or
 * not serving: an empty choice (the configured adapter answers). */
void runner_adapter_decide(const runner_adapter_state_t *st, const char *conversation_id,
                           int64_t history_version, runner_adapter_choice_t *out);

#endif
