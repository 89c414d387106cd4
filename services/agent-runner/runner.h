/* services/agent-runner/runner.h: the agent-runner core (what aos-agent-runner's main wires
 * to the bus, storage, the HTTP client and the admin server).
 *
 * A runner serves a set of agents: it consumes their queues "aos.agent.<agent>" (competing
 * consumers with other instances) and runs each turn (docs/agent-runner.md):
 *   claim the turn in storage (answered already? reply from the ledger; its turn in the
 *   conversation's order? take the lease, store the user message, load the newest
 *   messages; else wait) -> domain knowledge -> prompt -> model (retries, breaker,
 *   fallback; the lease renewed meanwhile) -> complete the turn in storage (assistant
 *   message, ledger, order moves on; fenced by the lease token) -> reply
 *   aos.agent.turn.result, publish aos.agent.reply (and aos.agent.action for event turns)
 *   -> accept. docs/turn-order.md has the design.
 * Transient failures release the turn (redelivered); poison turns and turns whose model
 * failed on every endpoint are rejected (dead-lettered) with a reason AND answered with an
 * aos.error reply so the router does not wait for nothing.
 *
 * Concurrency: one loop thread runs every turn step; no thread per turn. The runner holds at
 * most `capacity` unsettled turns (split over the agents it serves: the bus grants link
 * credit only up to each subscription's share), plus up to `max_waiting` turns that wait for
 * an earlier turn of their conversation (those use no capacity, else a runner full of waiting
 * turns would never receive the turns they wait for). Turns of one conversation run one at a
 * time, in arrival order.
 *
 * Threads: new/start/stop/free from the owning (main) thread; runner_ready and
 * runner_get_stats from any thread.
 */
#ifndef RUNNER_RUNNER_H
#define RUNNER_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/agents.h"
#include "aos/bus.h"
#include "aos/http_client.h"
#include "aos/result.h"
#include "aos/storage_client.h"
#include "model.h"

typedef struct runner runner_t;

typedef struct runner_config {
    const aos_agents_config_t *agents; /* borrowed; must outlive the runner */
    /* Comma-separated agent names to serve (AOS_AGENTS); NULL or "" = every agent. */
    const char *serve;
    uint32_t capacity; /* unsettled turns per instance (0: settings.max_inflight) */
    /* Turns held beyond capacity while they wait for an earlier turn of their conversation
     * (no model call, a poll): split over the agents like capacity (0: 1024). */
    uint32_t max_waiting;
    uint32_t heartbeat_ms; /* 0: settings.heartbeat_interval_ms */
    /* Gap time: an accepted turn that has not shown up (or was dead-lettered) stops holding
     * the turns behind it in its conversation after this (0: 120000; docs/turn-order.md). */
    uint32_t busy_stale_ms;
    /* Conversation lease held while a turn runs, renewed every third (0: 15000). */
    uint32_t lease_ms;
    size_t prompt_budget_chars; /* 0: RUNNER_PROMPT_DEFAULT_BUDGET */
    uint32_t knowledge_ttl_ms;  /* 0: 300000 */
    runner_model_config_t model;
    /* Event Grid / Kafka fan-out of the reply and action events (borrowed, may be NULL). The
     * bus topic stays the durable path, published and confirmed by the turn itself. */
    struct aos_event_publisher *external_events;
    /* The adapter registry (adapter_route.h): the pipeline's queue for per-turn records
     * (NULL: "aos.ml"), the refresh period (0: 30 s) and where aos.ml.adapter.* events come
     * from (NULL: the profile's default). */
    const char *ml_queue;
    uint32_t adapter_refresh_ms;
    const char *adapter_events_address;
} runner_config_t;

/* bus (started or not), storage and http are borrowed; http may be NULL when every served
 * agent is offline. AOS_ERR_INVALID when serve names an unknown agent. */
aos_result runner_new(const runner_config_t *cfg, aos_bus_t *bus, aos_storage_client_t *storage,
                      aos_http_client_t *http, runner_t **out_runner, char *errbuf, size_t errlen);

/* Start the loop, subscribe the agents' queues, start heartbeats. */
aos_result runner_start(runner_t *r, char *errbuf, size_t errlen);

/* Graceful stop, step one: take no new turns (deliveries that still arrive are released),
 * wait up to grace_ms for the turns in flight to finish, then release the rest. Returns the
 * number of turns released unfinished. The caller then frees the HTTP client, stops the bus
 * and calls runner_free. */
uint32_t runner_drain(runner_t *r, int grace_ms);

/* Stop the loop and free. Call after the HTTP client was freed and the bus stopped (their
 * last callbacks land on the loop). NULL is a no-op. */
void runner_free(runner_t *r);

/* For /readyz: running, bus connected. */
bool runner_ready(runner_t *r, char *reason, size_t reason_len);

typedef struct runner_stats {
    uint32_t inflight; /* unsettled turns */
    uint32_t capacity;
    uint64_t answered;              /* model replies stored and sent */
    uint64_t answered_from_storage; /* redeliveries answered without the model */
    uint64_t released;
    uint64_t dead_lettered;
} runner_stats_t;

void runner_get_stats(runner_t *r, runner_stats_t *out);

#endif
