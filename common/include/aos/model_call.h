/* aos/model_call.h: calling a model along an endpoint chain, resiliently — asynchronously
 * (the agent-runner's turns, the router's classifier) or synchronously (the ML pipeline's
 * inference on its worker threads). Requests and responses are aos/model.h.
 *
 * Per endpoint of the chain (aos_endpoint_t from the config, aos/agents.h):
 *   - a timeout per attempt (endpoint timeout_ms), cut to what is left of the call's deadline;
 *   - retries (endpoint max_retries) on 408/429/5xx and transport errors, with exponential
 *     backoff and full jitter, or after what retry-after-ms / retry-after asked for (capped by
 *     max_backoff_ms) (aos/http_retry.h);
 *   - a circuit breaker per endpoint URL (and adapter, aos_model_breaker_key), shared by
 *     every call of one aos_model_t: after
 *     breaker_failures consecutive failed calls it opens for breaker_open_ms and the chain
 *     skips that endpoint without calling it; one probe call is let through afterwards;
 *   - a 200 whose body cannot be parsed, and 4xx other than 408/429, are not retried on the
 *     same endpoint: the chain falls back to the next one;
 *   - a deadline for the whole call (every attempt, retry wait and fallback): past it the
 *     call fails with AOS_ERR_TIMEOUT, and no retry starts that could not finish in time;
 *   - metrics per endpoint (calls, retries, fallbacks, breaker state; common/src/model/
 *     model_metrics.h) and a "traceparent" header when the call carries a trace.
 * A chain with no endpoints, or that reaches an "offline" endpoint, is answered by the offline
 * provider (aos_model_offline_complete).
 *
 * Threads. aos_model_new/free from the owning thread. The breakers and metrics are
 * thread-safe, so async and sync calls may share one aos_model_t.
 *   - Async calls (aos_model_call) need an HTTP client whose thread is not blocked by the
 *     caller. With an executor (.post), every step after an HTTP answer runs through post, on
 *     the caller's own thread, and done is called there; retry waits use .timer, called only
 *     from that thread. Without .post, the steps and done run on the HTTP client thread (done
 *     must not block) and, without .timer, a retryable failure falls back to the next endpoint
 *     at once instead of waiting (no thread may sleep there).
 *   - Sync calls (aos_model_call_sync) block the calling thread; never call them on an event
 *     loop or the HTTP client thread. They wait between attempts with cfg.sleep.
 */
#ifndef AOS_MODEL_CALL_H
#define AOS_MODEL_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/agents.h"
#include "aos/http_client.h"
#include "aos/http_retry.h"
#include "aos/model.h"
#include "aos/resilience.h"
#include "aos/result.h"

/* ---- per-endpoint circuit breakers ---- */

/* One breaker (aos/resilience.h) per endpoint name (its URL), so every caller of an endpoint
 * shares what is known about its health. Thread-safe; a breaker handed out stays valid
 * until aos_model_breakers_free. */
typedef struct aos_model_breakers aos_model_breakers_t;

/* cfg is copied (NULL: defaults). */
aos_result aos_model_breakers_new(const aos_circuit_config_t *cfg, aos_model_breakers_t **out);
void aos_model_breakers_free(aos_model_breakers_t *b);
/* The breaker for name, created closed on first use; NULL only when out of memory (callers
 * then call without a breaker). */
aos_circuit_t *aos_model_breakers_get(aos_model_breakers_t *b, const char *name);
/* The breaker name of a call to ep: its name, with "#<adapter>" when the call names an
 * adapter, since each adapter / Azure ML deployment behind one endpoint fails on its own (a
 * failing canary version must not open the breaker of the stable one; docs/ml.md). */
void aos_model_breaker_key(const aos_model_endpoint_t *ep, char *out, size_t outlen);

/* ---- calls ---- */

typedef void (*aos_model_task_fn)(void *arg, bool cancelled);

/* Where an async call's steps run (see "Threads" above). All members may be NULL. */
typedef struct aos_model_executor {
    void *ctx;
    /* Run fn(arg) on the caller's thread; thread-safe. Not AOS_OK: fn will not run (the call
     * then ends as cancelled). fn runs with cancelled = true when the executor shuts down
     * before running it. */
    aos_result (*post)(void *ctx, aos_model_task_fn fn, void *arg);
    /* Run fn(arg) on the caller's thread after delay_ms; called only from that thread. */
    aos_result (*timer)(void *ctx, uint32_t delay_ms, aos_model_task_fn fn, void *arg);
} aos_model_executor_t;

typedef struct aos_model_config {
    uint32_t breaker_failures; /* consecutive failures that open a breaker (0: 5) */
    uint32_t breaker_open_ms;  /* how long it stays open (0: 30000) */
    uint32_t base_backoff_ms;  /* first retry delay bound (0: 200) */
    uint32_t max_backoff_ms;   /* cap of one retry delay, retry hints included (0: 20000) */
    bool stream;               /* ask HTTP providers for SSE streams (async calls) */
    uint32_t deadline_ms;      /* default deadline of a call (0: none) */
    /* Sync calls: wait between attempts; false = stop now (shutting down). NULL: nanosleep. */
    aos_http_sleep_fn sleep;
    void *sleep_ctx;
    /* Optional: told of every answer of an endpoint (status 0: no response arrived) with its
     * retry hint (retry-after-ms / retry-after of a 429 or 503, 0: none), e.g. to track the
     * endpoint's headroom. Async calls: every attempt, where the call's steps run (see
     * "Threads"); sync calls: the last attempt of each endpoint, on the calling thread. */
    void (*observe)(void *ctx, const aos_endpoint_t *ep, int status, uint64_t retry_after_ms);
    void *observe_ctx;
} aos_model_config_t;

typedef struct aos_model aos_model_t;

/* http is borrowed (NULL: only offline calls succeed); exec is copied (NULL: no executor). */
aos_result aos_model_new(const aos_model_config_t *cfg, aos_http_client_t *http,
                         const aos_model_executor_t *exec, aos_model_t **out_model);

/* Cancels nothing: call after the HTTP client was freed (which completes every request) and
 * the executor was stopped. NULL is a no-op. */
void aos_model_free(aos_model_t *m);

/* The breakers of m (shared by all its calls). */
aos_model_breakers_t *aos_model_breakers(aos_model_t *m);

/* One call: "call this endpoint chain with these messages". Everything is borrowed until
 * done runs (async) or the call returns (sync). The per-call fields override what the
 * endpoint config says, so one configured endpoint serves many adapters / deployments. */
typedef struct aos_model_request {
    const aos_endpoint_t *endpoints; /* the chain, in order; 0 endpoints: offline */
    size_t endpoint_count;
    const aos_model_msg_t *msgs;
    size_t msg_count;
    /* Per call: the LoRA adapter (openai "model" / azureml "azureml-model-deployment"). NULL:
     * none. */
    const char *adapter;
    /* Per call: the azure-openai deployment / azureml default deployment. NULL: endpoint's. */
    const char *deployment;
    uint32_t max_tokens;     /* used when the endpoint sets none (0: not sent) */
    double temperature;      /* used when the endpoint sets none (< 0: not sent) */
    uint32_t deadline_ms;    /* 0: the model's cfg.deadline_ms */
    const char *traceparent; /* W3C traceparent sent on every attempt; NULL: none */
    const char *agent;       /* for logs and the offline responder */
    size_t knowledge_used;   /* for the offline responder (aos_model_offline_complete) */
    bool knowledge_truncated;
} aos_model_request_t;

typedef struct aos_model_result {
    aos_result result;                 /* AOS_OK or why the last endpoint failed */
    aos_model_completion_t completion; /* valid when result is AOS_OK; the callee owns it */
    aos_provider provider;             /* provider that answered (or failed last) */
    const char *endpoint;              /* its name (borrowed from the request's endpoints) */
    size_t endpoint_index;             /* its index in the chain (endpoint_count: none) */
    uint32_t attempts;                 /* HTTP attempts over the whole chain */
    uint32_t fallbacks;                /* endpoints given up on */
    uint32_t rate_limited;             /* attempts answered 429 */
    uint64_t retry_after_ms;           /* the last 429/503's retry hint (0: none) */
    char error[256];                   /* detail when result != AOS_OK */
} aos_model_result_t;

/* Called once (see "Threads"). res is borrowed for the call; move completion out of it (and
 * zero it) to keep it. */
typedef void (*aos_model_done_fn)(void *ctx, aos_model_result_t *res);

/* Start a call. done may run before this returns (offline provider, or nothing to call).
 * Not AOS_OK (invalid arguments, out of memory): done will not run. */
aos_result aos_model_call(aos_model_t *m, const aos_model_request_t *req, aos_model_done_fn done,
                          void *ctx);

/* The same call, blocking. *out is filled whatever the outcome (clear its completion with
 * aos_model_completion_clear); returns out->result. */
aos_result aos_model_call_sync(aos_model_t *m, const aos_model_request_t *req,
                               aos_model_result_t *out);

/* Async calls currently waiting on an HTTP response or a retry timer. Any thread. */
uint32_t aos_model_inflight(const aos_model_t *m);

/* Name of the provider a chain starts with ("offline" when it has none). */
const char *aos_model_primary_provider(const aos_endpoint_t *endpoints, size_t count);

#endif
