/* The queue check before a turn is sent (docs/deploy.md, "Topology"): RabbitMQ accepts and
 * silently drops a message for a queue that does not exist, which would leave the caller
 * waiting for the sync timeout (or lose an event's turn). An agent's queue is probed
 * (aos_bus_probe_queue) until it was seen once; a missing queue fails the turn at once with
 * 503 and a message that says what to provision. Queues are not expected to disappear while
 * the router runs, so a queue seen once is not probed again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "router_internal.h"

#define QUEUE_PROBE_TIMEOUT_MS 5000

typedef struct ensure {
    router_t *rt;
    size_t index; /* of the agent in rt->agents */
    router_queue_cb cb;
    void *ctx;
} ensure_t;

/* Bus I/O thread. */
static void on_probe(void *arg, aos_result r, const char *detail)
{
    ensure_t *e = arg;
    const char *agent = e->rt->agents->agents[e->index].name;
    char queue[128];
    router_agent_queue(agent, queue, sizeof queue);
    router_queue_cb cb = e->cb;
    void *ctx = e->ctx;
    if (r == AOS_ERR_NOT_FOUND) {
        char msg[600];
        snprintf(msg, sizeof msg,
                 "agent %s is configured but its queue %s does not exist on the broker (%s); "
                 "provision the topology for this configuration (aosctl topology apply, "
                 "docs/deploy.md)",
                 agent, queue, detail && *detail ? detail : "not found");
        aos_log(AOS_LOG_ERROR, "agent queue missing", "agent", agent, "queue", queue, NULL);
        free(e);
        cb(ctx, AOS_ERR_UNAVAILABLE, msg);
        return;
    }
    if (r == AOS_OK)
        atomic_store(&e->rt->queue_seen[e->index], true);
    else /* the probe itself failed (broker slow, reconnecting): the send decides */
        aos_log(AOS_LOG_WARN, "agent queue probe failed", "queue", queue, "code",
                aos_result_code(r), "detail", detail ? detail : "", NULL);
    free(e);
    cb(ctx, AOS_OK, NULL);
}

void router_queue_ensure(router_t *rt, const char *agent, router_queue_cb cb, void *ctx)
{
    const aos_agent_def_t *def = aos_agents_find(rt->agents, agent);
    size_t i = def ? (size_t)(def - rt->agents->agents) : rt->agents->agent_count;
    ensure_t *e = NULL;
    if (i >= rt->agents->agent_count || atomic_load(&rt->queue_seen[i]) ||
        !(e = calloc(1, sizeof *e))) {
        cb(ctx, AOS_OK, NULL);
        return;
    }
    *e = (ensure_t){rt, i, cb, ctx};
    char queue[128];
    router_agent_queue(agent, queue, sizeof queue);
    if (aos_bus_probe_queue(rt->bus, queue, QUEUE_PROBE_TIMEOUT_MS, on_probe, e) != AOS_OK) {
        free(e);
        cb(ctx, AOS_OK, NULL); /* the send reports what is wrong */
    }
}

static void turn_checked(void *ctx, aos_result r, const char *msg)
{
    turn_queue_checked(ctx, r, msg);
}

void router_queue_check(turn_t *t)
{
    router_queue_ensure(t->rt, t->d.agent->name, turn_checked, t);
}

typedef struct startup_probe {
    router_t *rt;
    size_t index;
} startup_probe_t;

/* Bus I/O thread (or the bus's shutdown with AOS_ERR_CLOSED, while rt is still alive). */
static void on_startup_probe(void *ctx, aos_result r, const char *detail)
{
    startup_probe_t *p = ctx;
    const char *agent = p->rt->agents->agents[p->index].name;
    char queue[128];
    router_agent_queue(agent, queue, sizeof queue);
    if (r == AOS_OK)
        atomic_store(&p->rt->queue_seen[p->index], true);
    else if (r == AOS_ERR_NOT_FOUND)
        aos_log(AOS_LOG_ERROR,
                "agent queue missing: turns for this agent are refused until the topology is "
                "provisioned (aosctl topology apply, docs/deploy.md)",
                "agent", agent, "queue", queue, "detail", detail ? detail : "", NULL);
    free(p);
}

void router_queues_check_all(router_t *rt)
{
    for (size_t i = 0; i < rt->agents->agent_count; i++) {
        startup_probe_t *p = calloc(1, sizeof *p);
        if (!p)
            return;
        *p = (startup_probe_t){rt, i};
        char queue[128];
        router_agent_queue(rt->agents->agents[i].name, queue, sizeof queue);
        if (aos_bus_probe_queue(rt->bus, queue, QUEUE_PROBE_TIMEOUT_MS, on_startup_probe, p) !=
            AOS_OK)
            free(p);
    }
}
