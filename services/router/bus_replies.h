/* services/router/bus_replies.h: pure parsers of what the router reads from other services
 * and peers besides HTTP requests: agent heartbeats (aos.agent.heartbeat data, from the bus).
 * (The classifier model's answer is parsed by common's model module, aos/model.h.) Outside
 * bytes: strict JSON, bounded lengths, no I/O; fuzzed by tests/fuzz/fuzz_heartbeat.c. */
#ifndef ROUTER_BUS_REPLIES_H
#define ROUTER_BUS_REPLIES_H

#include <stddef.h>
#include <stdint.h>

#include "aos/agents.h"
#include "aos/result.h"

typedef struct router_heartbeat_msg {
    char agent[AOS_AGENT_NAME_MAX + 1];
    char instance[129];
    char provider[32];
    int64_t inflight, capacity;
    int64_t schedule_last_ms, schedule_next_ms; /* 0 when absent */
    char breaker[16]; /* "closed" | "half_open" | "open"; "" when absent */
} router_heartbeat_msg_t;

/* {"agent","instance","provider"?,"inflight"?,"capacity"?,"schedule_last_ms"?,
 * "schedule_next_ms"?,"breaker"?}: agent must be a valid agent name, breaker one of the
 * three states,
 * instance non-empty; too-long strings are refused (AOS_ERR_INVALID), never truncated. */
aos_result router_heartbeat_parse(const char *data, size_t len, router_heartbeat_msg_t *out);

#endif
