/* services/agent-runner/breaker.h: one circuit breaker (aos/resilience.h) per model endpoint.
 *
 * The map is keyed by the endpoint's name (its URL), so every agent that uses an endpoint
 * shares what is known about its health. Loop thread only (the breakers themselves are
 * internally locked, the map is not).
 */
#ifndef RUNNER_BREAKER_H
#define RUNNER_BREAKER_H

#include "aos/resilience.h"
#include "aos/result.h"

typedef struct runner_breakers runner_breakers_t;

/* cfg is copied (NULL: defaults). */
aos_result runner_breakers_new(const aos_circuit_config_t *cfg, runner_breakers_t **out);
void runner_breakers_free(runner_breakers_t *b);

/* The breaker for name, created closed on first use; NULL only when out of memory (callers
 * then call without a breaker). */
aos_circuit_t *runner_breakers_get(runner_breakers_t *b, const char *name);

#endif
