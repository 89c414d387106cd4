/* services/agent-runner/schedule.h: agents wake on their schedule (docs/agent-runner.md
 * "Schedules").
 *
 * Every runner serving an agent with a `schedule` (cron or interval, UTC) watches it; each
 * tick fires exactly once across all runner replicas. The claim is the agent's schedule
 * record in storage (kind "schedule", key = agent): a runner fires tick T only after
 * moving the record's last_tick to T with an optimistic-concurrency put; the loser of the
 * race reads the winner's record and waits for the next tick. A fired tick is an event turn
 * (CloudEvent type "aos.agent.schedule.tick") sent to the agent's own queue, with a message
 * id derived from (agent, tick), so it is answered like any environment event and its action
 * is published as aos.agent.action. A runner that dies between claim and send leaves the
 * record "claimed"; after RUNNER_SCHED_CLAIM_STALE_MS another runner takes the claim over and
 * sends the same turn (same message id: the turn ledger makes that harmless).
 *
 * Missed ticks (every runner down): when a runner comes back, the ticks it missed are
 * coalesced into one firing of the newest missed tick if that tick is at most
 * RUNNER_SCHED_CATCH_UP_S old; older ones are skipped, logged and counted
 * (aos_runner_schedule_missed_total). An agent that never fired does not catch up.
 *
 * Threads: new/free from the owning thread; everything else on the runner's loop thread.
 */
#ifndef RUNNER_SCHEDULE_H
#define RUNNER_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "aos/agents.h"
#include "aos/result.h"

#define RUNNER_SCHED_CATCH_UP_S 86400     /* a missed tick older than a day is skipped */
#define RUNNER_SCHED_CLAIM_STALE_MS 60000 /* a claim not sent after a minute is taken over */
#define RUNNER_SCHED_MAX_SLEEP_MS 30000   /* re-check at least this often */
#define RUNNER_SCHED_EVENT_TYPE "aos.agent.schedule.tick"

struct runner;
typedef struct runner_sched runner_sched_t;

/* The scheduler of r's served agents that have a schedule; *out NULL when none has. */
aos_result runner_sched_new(struct runner *r, runner_sched_t **out);

/* Loop thread: start watching (reads each agent's record, arms its timer). */
void runner_sched_start(runner_sched_t *s);

/* Any thread: fire nothing more (a draining runner takes no new work). */
void runner_sched_stop(runner_sched_t *s);

/* After the runner's loop is freed. NULL is a no-op. */
void runner_sched_free(runner_sched_t *s);

/* Loop thread: the agent's last fired tick and its next tick (unix ms; 0: unknown / none).
 * False when the agent has no schedule here. */
bool runner_sched_times(const runner_sched_t *s, const char *agent, int64_t *out_last_ms,
                        int64_t *out_next_ms);

/* Pure: the tick to fire at `now` given the last fired tick `last` (0: never fired): the
 * newest tick in (last, now] that is at most catch_up_s old, or 0 when none is due.
 * *out_skipped counts the older missed ticks passed over (capped at 1,000,000); *out_next is
 * the first tick after now. */
aos_result runner_sched_due(const aos_schedule_t *s, time_t last, time_t now, uint32_t catch_up_s,
                            time_t *out_due, uint64_t *out_skipped, time_t *out_next);

#endif
