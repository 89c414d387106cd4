/* services/agent-runner/adapter_route.h: the runner's view of the ML pipeline's adapter
 * registry (docs/agent-runner.md "Adapter versions and canary").
 *
 * For every configured agent with an "adapter", the registry's adapter record is cached:
 * read at start, refreshed on every aos.ml.adapter.* event (RabbitMQ: a private queue bound
 * to the aos.events exchange; elsewhere the address configured) and every refresh_ms as
 * a fallback. A registry that cannot be read keeps the last known state (logged, counted in
 * aos_runner_adapter_registry_errors_total); a turn never waits for the registry.
 * Each turn answered by a registry version is reported to the pipeline (aos.ml.record_turn,
 * fire and forget) for its canary judgement.
 *
 * Threads: new/start/free from the owning thread; pick and report from any thread (the
 * loop thread in practice); the event callback runs on the bus I/O thread; a refresher
 * thread of its own does the storage reads.
 */
#ifndef RUNNER_ADAPTER_ROUTE_H
#define RUNNER_ADAPTER_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "adapter_pick.h"
#include "aos/agents.h"
#include "aos/bus.h"
#include "aos/storage_client.h"

typedef struct runner_adapters runner_adapters_t;

typedef struct runner_adapters_config {
    aos_bus_t *bus;                    /* borrowed */
    aos_storage_client_t *storage;     /* borrowed; its *_sync calls run on the refresher */
    const aos_agents_config_t *agents; /* borrowed */
    const char *ml_queue;              /* per-turn records; NULL: "aos.ml"; "": none sent */
    uint32_t refresh_ms;               /* 0: 30000 */
    /* Where aos.ml.adapter.* events are received from. NULL: RabbitMQ's
     * /exchange/aos.events/aos.ml.adapter.#, none on Service Bus; "": none. */
    const char *events_address;
    const char *source; /* CloudEvents source of the records; NULL: "/aos/agent-runner" */
} runner_adapters_config_t;

/* Nothing to do (no agent has an adapter): *out is NULL and AOS_OK. */
aos_result runner_adapters_new(const runner_adapters_config_t *cfg, runner_adapters_t **out,
                               char *errbuf, size_t errlen);
/* First read of every record (errors only logged), refresher thread, event subscription. */
aos_result runner_adapters_start(runner_adapters_t *a, char *errbuf, size_t errlen);
/* Stops the refresher. Call after the bus stopped (no event callback runs any more). NULL
 * is a no-op. */
void runner_adapters_free(runner_adapters_t *a);

/* The version for a turn of agent in conversation_id; page: the conversation as the turn
 * read it (newest first; may be NULL). a NULL: an empty choice. */
void runner_adapters_pick(runner_adapters_t *a, const aos_agent_def_t *agent,
                          const char *conversation_id, const aos_storage_message_page_t *page,
                          runner_adapter_choice_t *out);

/* Tell the pipeline how a turn on choice went (nothing when choice is no registry version). */
void runner_adapters_report(runner_adapters_t *a, const char *agent,
                            const runner_adapter_choice_t *choice, const char *conversation_id,
                            const char *message_id, bool failed, uint32_t fallbacks,
                            uint64_t latency_ms);

/* Apply an adapter record (JSON) for agent as if it came from the registry; kept only
 * when its revision is not older than the cached one. For the event path and tests. */
aos_result runner_adapters_apply(runner_adapters_t *a, const char *agent, const char *json,
                                 size_t len);

#endif
