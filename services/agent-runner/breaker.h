/* services/agent-runner/breaker.h: per-endpoint circuit breakers and retry delays for
 * model calls.
 *
 * runner_breakers_t maps an endpoint name (its URL) to one breaker, so every agent that
 * uses an endpoint shares what is known about its health. Loop thread only.
 */
#ifndef RUNNER_BREAKER_H
#define RUNNER_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "aos/result.h"

typedef struct runner_breakers runner_breakers_t;
typedef struct runner_breaker runner_breaker_t;

aos_result runner_breakers_new(uint32_t failure_threshold, uint32_t open_ms,
                               runner_breakers_t **out);
void runner_breakers_free(runner_breakers_t *b);

/* The breaker for name, created closed on first use; NULL only when out of memory (a NULL
 * breaker allows everything and records nothing). */
runner_breaker_t *runner_breakers_get(runner_breakers_t *b, const char *name);

/* May a call go out now? Closed: yes. Open: no, until open_ms passed; then one probe call
 * is allowed (half-open) and further calls wait for its outcome. */
bool runner_breaker_allow(runner_breaker_t *br);
void runner_breaker_success(runner_breaker_t *br);
void runner_breaker_failure(runner_breaker_t *br);

/* "closed", "open" or "half-open". */
const char *runner_breaker_state(const runner_breaker_t *br);

/* The delay before retry number `attempt` (1 = the first retry): full jitter over
 * [0, min(max_ms, base_ms * 2^(attempt-1))], but never less than retry_after_ms (the
 * server's own request), and never more than max_ms. */
uint32_t runner_backoff_ms(uint32_t base_ms, uint32_t max_ms, uint32_t attempt,
                           uint32_t retry_after_ms);

/* Parse retry-after-ms (milliseconds, may be fractional) or else retry-after (delay in
 * seconds, or an HTTP-date). Either may be NULL. False when neither gives a delay. */
bool runner_retry_after_parse(const char *retry_after_ms, const char *retry_after,
                              uint32_t *out_ms);

#endif
