/* services/agent-runner/model.h: calling an agent's model, asynchronously and resiliently.
 *
 * runner_model_call() runs one completion against an agent's endpoint chain without a
 * thread of its own: requests go out on the shared async HTTP client, and every step after
 * that (parse, retry timer, fallback) runs on the runner loop. Per endpoint:
 *   - a timeout per attempt (endpoint timeout_ms);
 *   - retries (endpoint max_retries) on 408/429/5xx and transport errors, with exponential
 *     backoff and full jitter, or after what retry-after-ms / retry-after asked for (capped
 *     by max_backoff_ms) (aos/resilience.h);
 *   - a circuit breaker (one per endpoint URL, shared by all agents using it): after
 *     breaker_failures consecutive failed calls it opens for breaker_open_ms and the chain
 *     skips that endpoint without calling it; one probe call is let through afterwards;
 *   - a 200 whose body cannot be parsed, and 4xx other than 408/429, are not retried on the
 *     same endpoint: the chain falls back to the next one.
 * An agent without endpoints (or whose chain is only "offline") gets the offline provider.
 *
 * Threads: runner_model_new/free from the owning thread; runner_model_call and the done
 * callback ON THE LOOP THREAD only.
 */
#ifndef RUNNER_MODEL_H
#define RUNNER_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "aos/agents.h"
#include "aos/http_client.h"
#include "aos/result.h"
#include "loop.h"
#include "prompt.h"
#include "provider.h"

typedef struct runner_model runner_model_t;

typedef struct runner_model_config {
    uint32_t breaker_failures; /* consecutive failures that open a breaker (0: 5) */
    uint32_t breaker_open_ms;  /* how long it stays open (0: 30000) */
    uint32_t base_backoff_ms;  /* first retry delay bound (0: 200) */
    uint32_t max_backoff_ms;   /* cap of one retry delay, retry hints included (0: 20000) */
    bool stream;               /* ask HTTP providers for SSE streams */
    /* Per-turn deadline: bounds the whole call (every attempt, retry wait and fallback); an
     * attempt's timeout is cut to what is left, and no retry starts that could not finish
     * in time. Past it the call fails with AOS_ERR_TIMEOUT. 0: none. */
    uint32_t deadline_ms;
} runner_model_config_t;

typedef struct runner_model_result {
    aos_result result;              /* AOS_OK or why the last endpoint failed */
    runner_completion_t completion; /* valid when result is AOS_OK; the callee owns it */
    aos_provider provider;          /* provider that answered (or failed last) */
    const char *endpoint;           /* its name (borrowed from the agent config) */
    uint32_t attempts;              /* HTTP attempts over the whole chain */
    uint32_t fallbacks;             /* endpoints given up on */
    char error[256];                /* detail when result != AOS_OK */
} runner_model_result_t;

/* Called once on the loop thread. res is borrowed for the call; move completion out of it
 * (and zero it) to keep it. */
typedef void (*runner_model_done_fn)(void *ctx, runner_model_result_t *res);

/* http is borrowed (shared with nothing else that blocks its thread). */
aos_result runner_model_new(const runner_model_config_t *cfg, runner_loop_t *loop,
                            aos_http_client_t *http, runner_model_t **out_model);

/* Cancels nothing: call after the HTTP client was freed (which completes every request)
 * and the loop was stopped. NULL is a no-op. */
void runner_model_free(runner_model_t *m);

/* Start a completion for agent with prompt (both borrowed until done runs). done may run
 * before this returns (offline provider, or nothing to call). */
aos_result runner_model_call(runner_model_t *m, const aos_agent_def_t *agent,
                             const runner_prompt_t *prompt, runner_model_done_fn done, void *ctx);

/* The same with a per-call adapter (openai: the model name; azureml: the
 * azureml-model-deployment) instead of the agent's configured one: the registry version
 * chosen for the turn (adapter_route.h). adapter NULL or "": the agent's; borrowed until
 * done runs. */
aos_result runner_model_call_adapter(runner_model_t *m, const aos_agent_def_t *agent,
                                     const char *adapter, const runner_prompt_t *prompt,
                                     runner_model_done_fn done, void *ctx);

/* Calls currently waiting on an HTTP response or a retry timer. Loop thread. */
uint32_t runner_model_inflight(const runner_model_t *m);

/* Name of the provider an agent's chain starts with ("offline" when it has none). */
const char *runner_model_primary_provider(const aos_agent_def_t *agent);

/* The worst circuit-breaker state among agent's model endpoints ("closed", "half_open",
 * "open"; static strings), NULL when it has none but the offline provider. Loop thread. */
const char *runner_model_breaker_state(runner_model_t *m, const aos_agent_def_t *agent);

#endif
