/* aos-agent-runner: wires the runner core to the bus, storage, the HTTP client and the admin
 * server, and shuts down gracefully on SIGTERM/SIGINT (docs/agent-runner.md). */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/claim_check.h"
#include "aos/config.h"
#include "aos/event_publisher.h"
#include "aos/http_server.h"
#include "aos/log.h"
#include "aos/model.h"
#include "aos/service.h"
#include "runner.h"

typedef struct runner_env {
    aos_config_common_t common;
    char *agents;
    int64_t capacity;
    int64_t max_waiting;
    int64_t busy_stale_ms;
    int64_t lease_ms;
    int64_t deadline_ms;
    int64_t grace_ms;
    int64_t prompt_budget;
    bool stream;
    char *storage_queue;
    int64_t claim_threshold;
    char *ml_queue, *adapter_events;
    int64_t adapter_refresh_ms;
} runner_env_t;

static const aos_config_field_t TABLE[] = {
    AOS_CONFIG_COMMON_FIELDS(runner_env_t, common),
    AOS_CLAIM_THRESHOLD_FIELD(runner_env_t, claim_threshold),
    {"AOS_AGENTS", NULL, AOS_CONFIG_STRING, NULL, 0, 4096, false, false, NULL,
     "Comma-separated agents this runner serves; unset = every agent in the config.",
     offsetof(runner_env_t, agents)},
    {"AOS_RUNNER_CAPACITY", NULL, AOS_CONFIG_INT, "0", 0, 100000, false, false, NULL,
     "Turns one runner holds at once (link credit, split over its agents); 0 = "
     "settings.max_inflight.",
     offsetof(runner_env_t, capacity)},
    {"AOS_RUNNER_MAX_WAITING", NULL, AOS_CONFIG_INT, "1024", 1, 100000, false, false, NULL,
     "Turns one runner holds beyond its capacity while they wait for an earlier turn of their "
     "conversation (a poll each, no model call); without them a runner full of waiting turns "
     "would not receive the turns they wait for.",
     offsetof(runner_env_t, max_waiting)},
    {"AOS_RUNNER_BUSY_STALE", NULL, AOS_CONFIG_DURATION_MS, "120s", 1000, 86400000, false, false,
     NULL,
     "Gap time: a conversation's next turn in order that has not shown up (or was dead-lettered) "
     "after this no longer holds the turns behind it.",
     offsetof(runner_env_t, busy_stale_ms)},
    {"AOS_RUNNER_LEASE", NULL, AOS_CONFIG_DURATION_MS, "15s", 2000, 3600000, false, false, NULL,
     "Conversation lease of a running turn (renewed every third of it while the turn runs); a "
     "dead runner's turn is taken over after this.",
     offsetof(runner_env_t, lease_ms)},
    {"AOS_RUNNER_TURN_DEADLINE", NULL, AOS_CONFIG_DURATION_MS, "0", 0, 3600000, false, false, NULL,
     "Per-turn deadline of the model call: every attempt, retry and fallback fit in it; then the "
     "turn fails (error marker, aos.error reply). 0: five sixths of settings.sync_timeout_ms.",
     offsetof(runner_env_t, deadline_ms)},
    {"AOS_RUNNER_PROMPT_BUDGET", NULL, AOS_CONFIG_INT, "24000", 1000, 4000000, false, false, NULL,
     "Prompt size budget in characters (purpose, knowledge, history, user text).",
     offsetof(runner_env_t, prompt_budget)},
    {"AOS_MODEL_STREAM", NULL, AOS_CONFIG_BOOL, "false", 0, 0, false, false, NULL,
     "Ask model endpoints for server-sent-event streams.", offsetof(runner_env_t, stream)},
    {"AOS_SHUTDOWN_GRACE", NULL, AOS_CONFIG_DURATION_MS, "20s", 0, 600000, false, false, NULL,
     "On SIGTERM, how long in-flight turns may take before they are released.",
     offsetof(runner_env_t, grace_ms)},
    {"AOS_STORAGE_QUEUE", NULL, AOS_CONFIG_STRING, "aos.storage", 1, 200, false, false, NULL,
     "Queue of aos-storage (another name only to isolate tests).",
     offsetof(runner_env_t, storage_queue)},
    {"AOS_ML_QUEUE", NULL, AOS_CONFIG_STRING, "aos.ml", 0, 200, false, false, NULL,
     "Queue of aos-ml-pipeline: each turn answered by a registry adapter version is recorded "
     "there for the canary judgement (empty: none sent).",
     offsetof(runner_env_t, ml_queue)},
    {"AOS_RUNNER_ADAPTER_REFRESH", NULL, AOS_CONFIG_DURATION_MS, "30s", 100, 86400000, false, false,
     NULL, "Period of the adapter registry re-read (besides every aos.ml.adapter.* event).",
     offsetof(runner_env_t, adapter_refresh_ms)},
    {"AOS_RUNNER_ADAPTER_EVENTS", NULL, AOS_CONFIG_STRING, NULL, 0, 1000, false, false, NULL,
     "Bus address the aos.ml.adapter.* events are received from; unset: a private queue bound "
     "to the aos.events exchange on RabbitMQ, none on Service Bus (give a subscription of "
     "this replica's own, e.g. aos.events/Subscriptions/<instance>).",
     offsetof(runner_env_t, adapter_events)},
};
#define TABLE_N (sizeof TABLE / sizeof TABLE[0])

static bool ready_cb(void *ctx, char *reason, size_t reason_len)
{
    return runner_ready(ctx, reason, reason_len);
}

typedef struct app {
    runner_env_t env;
    aos_agents_config_t *agents;
    aos_bus_t *bus;
    aos_storage_client_t *storage;
    aos_event_publisher_t *events; /* Event Grid / Kafka fan-out; NULL when none configured */
    aos_http_client_t *http;
    runner_t *runner;
    aos_http_server_t *admin;
} app_t;

static int fail(const char *what, const char *detail)
{
    aos_log(AOS_LOG_ERROR, what, "error", detail, NULL);
    fprintf(stderr, "aos-agent-runner: %s: %s\n", what, detail);
    return 1;
}

/* Event Grid and Kafka sinks, when AOS_EVENTGRID_ENDPOINT / AOS_KAFKA_* configure them. */
static aos_result open_external_events(app_t *a, char *err, size_t errlen)
{
    aos_event_publisher_config_t pc;
    aos_event_publisher_config_from_common(&a->env.common, NULL, &pc);
    if (!pc.eventgrid_endpoint && !pc.kafka_brokers && !pc.kafka_connection_string)
        return AOS_OK;
    return aos_event_publisher_new(&pc, &a->events, err, errlen);
}

static aos_result open_bus(app_t *a, char *err, size_t errlen)
{
    aos_bus_config_t bc;
    aos_bus_config_from_common(&a->env.common, NULL, &bc);
    AOS_RETURN_IF_FAILED(aos_bus_new(&bc, &a->bus, err, errlen));
    return aos_bus_start(a->bus);
}

static aos_result open_all(app_t *a, char *err, size_t errlen)
{
    /* configuration, logging and the credential check: aos_service_init in main() */
    AOS_RETURN_IF_FAILED(aos_config_common_finish(&a->env.common));
    const char *path = a->env.common.config_path;
    if (!path || !*path)
        return aos_fail(AOS_ERR_INVALID, err, errlen, "set AOS_CONFIG to the agents config file");
    AOS_RETURN_IF_FAILED(aos_agents_config_load(path, &a->agents, err, errlen));
    size_t applied = 0;
    AOS_RETURN_IF_FAILED(aos_model_env_endpoint_apply(a->agents, &applied));
    if (applied)
        aos_logf(AOS_LOG_INFO, "model endpoint from the environment for %zu agent(s)", applied);
    AOS_RETURN_IF_FAILED(open_bus(a, err, errlen));
    aos_storage_client_config_t sc = {.bus = a->bus,
                                      .queue = a->env.storage_queue,
                                      .source = "/aos/agent-runner",
                                      .timeout_ms = (int)a->agents->settings.storage_timeout_ms,
                                      .claim_threshold = (size_t)a->env.claim_threshold};
    AOS_RETURN_IF_FAILED(aos_storage_client_new(&sc, &a->storage, err, errlen));
    AOS_RETURN_IF_FAILED(open_external_events(a, err, errlen));
    runner_config_t rc = {
        .agents = a->agents,
        .serve = a->env.agents,
        .capacity = (uint32_t)a->env.capacity,
        .max_waiting = (uint32_t)a->env.max_waiting,
        .busy_stale_ms = (uint32_t)a->env.busy_stale_ms,
        .lease_ms = (uint32_t)a->env.lease_ms,
        .prompt_budget_chars = (size_t)a->env.prompt_budget,
        .model = {.stream = a->env.stream, .deadline_ms = (uint32_t)a->env.deadline_ms},
        .external_events = a->events,
        .ml_queue = a->env.ml_queue ? a->env.ml_queue : "",
        .adapter_refresh_ms = (uint32_t)a->env.adapter_refresh_ms,
        .adapter_events_address = a->env.adapter_events,
    };
    uint32_t capacity = rc.capacity ? rc.capacity : a->agents->settings.max_inflight;
    aos_http_client_config_t hc = {.max_total_connections = capacity + 16,
                                   .user_agent = "aos-agent-runner/1"};
    AOS_RETURN_IF_FAILED(aos_http_client_new(&hc, &a->http, err, errlen));
    AOS_RETURN_IF_FAILED(runner_new(&rc, a->bus, a->storage, a->http, &a->runner, err, errlen));
    AOS_RETURN_IF_FAILED(aos_http_admin_start(a->env.common.admin_addr, ready_cb, a->runner,
                                              &a->admin, err, errlen));
    char port[16];
    snprintf(port, sizeof port, "%u", aos_http_server_port(a->admin));
    aos_log(AOS_LOG_INFO, "admin server listening", "admin_port", port, NULL);
    return runner_start(a->runner, err, errlen);
}

/* SIGTERM: stop taking turns, finish in-flight ones within the grace period, release the
 * rest, then close everything in dependency order. */
static void shutdown_all(app_t *a)
{
    int grace = (int)a->env.grace_ms;
    if (a->admin)
        aos_http_server_stop(a->admin, 0);
    uint32_t released = a->runner ? runner_drain(a->runner, grace) : 0;
    char n[16];
    snprintf(n, sizeof n, "%u", released);
    aos_log(AOS_LOG_INFO, "shutting down", "released_unfinished", n, NULL);
    aos_http_client_free(a->http); /* cancels model calls; their callbacks reach the loop */
    if (a->bus)
        aos_bus_stop(a->bus, 2000);
    runner_free(a->runner);
    aos_event_publisher_free(a->events); /* flushes Event Grid / Kafka within its deadline */
    aos_storage_client_free(a->storage);
    aos_http_server_free(a->admin);
    aos_bus_free(a->bus);
    aos_agents_config_free(a->agents);
    aos_config_free(TABLE, TABLE_N, &a->env);
}

int main(int argc, char **argv)
{
    app_t a = {0};
    int init =
        aos_service_init("aos-agent-runner", argc, argv, TABLE, TABLE_N, &a.env, &a.env.common);
    if (init >= 0) {
        aos_config_free(TABLE, TABLE_N, &a.env);
        return init;
    }

    /* every thread inherits the blocked set; main waits for the signals */
    sigset_t sigs;
    aos_service_block_signals(&sigs);

    char err[512] = "";
    aos_result rc = open_all(&a, err, sizeof err);
    if (rc != AOS_OK) {
        int code = fail("start-up failed", err[0] ? err : aos_result_str(rc));
        shutdown_all(&a);
        return code;
    }
    aos_log(AOS_LOG_INFO, "aos-agent-runner started", "instance", aos_bus_instance_id(a.bus), NULL);
    aos_service_wait_signal(&sigs);
    shutdown_all(&a);
    return 0;
}
