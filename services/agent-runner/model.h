/* services/agent-runner/model.h: an agent's model call, on the runner loop.
 *
 * The calls themselves (URL rules, timeouts, retries with retry hints, the per-turn deadline,
 * breakers, fallback, metrics) are common's model module (aos/model_call.h); this adapter
 * turns an agent definition and its prompt into an aos_model_request_t and runs every step
 * of the call on the runner loop (runner_loop_post / runner_loop_timer as the executor).
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
#include "aos/model_call.h"
#include "aos/result.h"
#include "loop.h"
#include "prompt.h"

typedef struct runner_model runner_model_t;

/* deadline_ms is the per-turn deadline: it bounds the whole call (every attempt, retry wait
 * and fallback). */
typedef aos_model_config_t runner_model_config_t;
typedef aos_model_result_t runner_model_result_t;

/* Called once on the loop thread. res is borrowed for the call; move completion out of it
 * (and zero it) to keep it. */
typedef void (*runner_model_done_fn)(void *ctx, runner_model_result_t *res);

/* http is borrowed (shared with nothing else that blocks its thread). */
aos_result runner_model_new(const runner_model_config_t *cfg, runner_loop_t *loop,
                            aos_http_client_t *http, runner_model_t **out_model);

/* Cancels nothing: call after the HTTP client was freed (which completes every request)
 * and the loop was stopped. NULL is a no-op. */
void runner_model_free(runner_model_t *m);

/* Start a completion for agent with prompt (both borrowed until done runs), along the
 * agent's endpoint chain with the agent's adapter. done may run before this returns
 * (offline provider, or nothing to call). */
aos_result runner_model_call(runner_model_t *m, const aos_agent_def_t *agent,
                             const runner_prompt_t *prompt, runner_model_done_fn done, void *ctx);

/* The same with a per-call adapter (openai: the model name; azureml: the
 * azureml-model-deployment) instead of the agent's configured one: the registry version
 * chosen for the turn (adapter_route.h). adapter NULL or "": the agent's; borrowed until
 * done runs. */
aos_result runner_model_call_adapter(runner_model_t *m, const aos_agent_def_t *agent,
                                     const char *adapter, const runner_prompt_t *prompt,
                                     runner_model_done_fn done, void *ctx);

/* Calls currently waiting on an HTTP response, a retry timer or headroom. */
uint32_t runner_model_inflight(const runner_model_t *m);

/* Name of the provider an agent's chain starts with ("offline" when it has none). */
const char *runner_model_primary_provider(const aos_agent_def_t *agent);

/* The worst circuit-breaker state among agent's model endpoints ("closed", "half_open",
 * "open"; static strings), NULL when it has none but the offline provider. Loop thread. */
const char *runner_model_breaker_state(runner_model_t *m, const aos_agent_def_t *agent);

/* ---- headroom (headroom.h) ----
 * A call starts only while the agent's primary endpoint has headroom (not throttled after a
 * 429, under its concurrency limit and its requests/tokens-per-minute budgets); otherwise it
 * waits on a loop timer, not in retries. changed(ctx) runs on the loop whenever an endpoint's
 * headroom may have changed (a 429, a success, a call ending). */
void runner_model_on_headroom(runner_model_t *m, void (*changed)(void *ctx), void *ctx);

/* The link credit an agent should have now: share while its primary endpoint has headroom,
 * less under a concurrency limit, 0 while it has none; *out_wait_ms (may be NULL) = when to
 * ask again (0: no need, changed() will say). Loop thread. */
uint32_t runner_model_agent_credit(runner_model_t *m, const aos_agent_def_t *agent, uint32_t share,
                                   uint64_t *out_wait_ms);

#endif
