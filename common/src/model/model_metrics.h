/* common/src/model/model_metrics.h: what model calls export per endpoint
 * (docs/design.md §5: calls, retries, breaker state and fallbacks are recorded and exported; the
 * dashboard and alert rules in deploy/observability read them, docs/deploy.md).
 *
 *   aos_runner_model_calls_total{endpoint,outcome}   HTTP attempts; outcome ok | error
 *   aos_runner_model_retries_total{endpoint}          retries scheduled on the same endpoint
 *   aos_runner_model_fallbacks_total{endpoint}        the chain gave up on this endpoint
 *   aos_runner_model_breaker_state{endpoint}          0 closed, 1 open, 2 half-open
 *
 * endpoint is the endpoint's name (its URL, which carries no secret). Any thread; each call
 * looks its series up in the default registry (a lock, no I/O), which is cheap next to an
 * HTTP call.
 */
#ifndef AOS_MODEL_METRICS_H
#define AOS_MODEL_METRICS_H

#include <stdbool.h>

#include "aos/resilience.h"

void aos_model_metric_call(const char *endpoint, bool ok);
void aos_model_metric_retry(const char *endpoint);
void aos_model_metric_fallback(const char *endpoint);
/* Publish cb's current state (NULL: nothing). */
void aos_model_metric_breaker(const char *endpoint, aos_circuit_t *cb);

#endif
