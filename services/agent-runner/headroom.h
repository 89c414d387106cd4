/* services/agent-runner/headroom.h: how much a model endpoint can take right now.
 *
 * Per endpoint (by name, its URL), from what the runner sees and what the config says:
 *   - throttled: an answer 429 (or 503 with a retry hint) closes the endpoint until the hint
 *     has passed (1 s without one, doubling while 429s go on, at most 60 s);
 *   - a concurrency limit (additive increase, multiplicative decrease): a 429 halves the
 *     calls allowed at once (from what was in flight), each success raises it by one, and
 *     past 4096 it is unlimited again;
 *   - budgets: requests_per_minute and tokens_per_minute (aos_endpoint_t) as token buckets
 *     refilled continuously, holding a sixth of a minute's worth (Azure OpenAI evaluates its
 *     quotas over short windows too); requests are taken when a call starts, tokens when it
 *     reports its usage.
 * The runner lowers the link credit of the agents on an endpoint without headroom, so their
 * backlog waits in the queue (docs/agent-runner.md "Credit from model headroom"), and holds a
 * call that has no headroom yet instead of spending its retries.
 *
 * Loop thread only (pure bookkeeping, time passed in).
 */
#ifndef RUNNER_HEADROOM_H
#define RUNNER_HEADROOM_H

#include <stdbool.h>
#include <stdint.h>

#include "aos/agents.h"
#include "aos/result.h"

#define RUNNER_HEADROOM_UNLIMITED UINT32_MAX

typedef struct runner_headroom runner_headroom_t;

aos_result runner_headroom_new(runner_headroom_t **out);
void runner_headroom_free(runner_headroom_t *h);

/* An HTTP attempt to ep was answered with status (0: transport error); retry_after_ms is the
 * answer's hint (0: none). */
void runner_headroom_answer(runner_headroom_t *h, const aos_endpoint_t *ep, int status,
                            uint64_t retry_after_ms, uint64_t now_ms);

/* 0 when a call to ep may start now, else how long to wait before asking again. busy: also
 * wait while the calls in flight are at the concurrency limit. */
uint64_t runner_headroom_wait_ms(runner_headroom_t *h, const aos_endpoint_t *ep, uint64_t now_ms,
                                 bool busy);

/* A call to ep starts (takes a request of its budget) / ended (tokens = its total usage). */
void runner_headroom_start(runner_headroom_t *h, const aos_endpoint_t *ep, uint64_t now_ms);
void runner_headroom_end(runner_headroom_t *h, const aos_endpoint_t *ep, uint32_t tokens,
                         uint64_t now_ms);

/* The endpoint's concurrency limit (RUNNER_HEADROOM_UNLIMITED: none). */
uint32_t runner_headroom_limit(runner_headroom_t *h, const aos_endpoint_t *ep);

/* The first endpoint of a chain that calls a model (NULL: offline only). */
const aos_endpoint_t *runner_headroom_primary(const aos_endpoint_t *chain, size_t count);

#endif
