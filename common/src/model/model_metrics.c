/* Model-call metrics per endpoint (model_metrics.h). */
#include "model_metrics.h"

#include "aos/metrics.h"
#include "aos/resilience.h"

void aos_model_metric_call(const char *endpoint, bool ok)
{
    aos_metric_counter_inc(aos_metrics_counter(
        NULL, "aos_runner_model_calls_total",
        "Model endpoint calls (HTTP attempts), by endpoint and outcome (ok, error).", "endpoint",
        endpoint ? endpoint : "", "outcome", ok ? "ok" : "error", NULL));
}

void aos_model_metric_retry(const char *endpoint)
{
    aos_metric_counter_inc(aos_metrics_counter(
        NULL, "aos_runner_model_retries_total",
        "Model calls retried on the same endpoint (408/429/5xx, transport errors).", "endpoint",
        endpoint ? endpoint : "", NULL));
}

void aos_model_metric_fallback(const char *endpoint)
{
    aos_metric_counter_inc(aos_metrics_counter(
        NULL, "aos_runner_model_fallbacks_total",
        "Times the agent's endpoint chain gave up on this endpoint and moved on (failed, "
        "refused or circuit open).",
        "endpoint", endpoint ? endpoint : "", NULL));
}

void aos_model_metric_breaker(const char *endpoint, aos_circuit_t *cb)
{
    if (!cb)
        return;
    aos_circuit_state st = aos_circuit_get_state(cb, aos_clock_monotonic_ms());
    aos_metric_gauge_set(aos_metrics_gauge(NULL, "aos_runner_model_breaker_state",
                                           "Circuit breaker of a model endpoint: 0 closed, 1 "
                                           "open, 2 half-open.",
                                           "endpoint", endpoint ? endpoint : "", NULL),
                         st == AOS_CIRCUIT_OPEN        ? 1
                         : st == AOS_CIRCUIT_HALF_OPEN ? 2
                                                       : 0);
}
