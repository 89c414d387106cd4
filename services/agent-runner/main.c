/* aos-agent-runner: wires the runner core to the bus, storage, the HTTP client and the admin
 * server, and shuts down gracefully on SIGTERM/SIGINT (docs/agent-runner.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/http_server.h"
#include "aos/log.h"
#include "env_model.h"
#include "runner.h"

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static uint32_t env_u32(const char *name, uint32_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || n > UINT32_MAX) {
        aos_log(AOS_LOG_WARN, "ignoring a malformed number", "variable", name, NULL);
        return dflt;
    }
    return (uint32_t)n;
}

static bool ready_cb(void *ctx, char *reason, size_t reason_len)
{
    return runner_ready(ctx, reason, reason_len);
}

typedef struct app {
    aos_agents_config_t *agents;
    aos_bus_t *bus;
    aos_storage_client_t *storage;
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

static aos_result open_bus(app_t *a, char *err, size_t errlen)
{
    const char *profile = env_or("AOS_BUS_PROFILE", "");
    aos_bus_config_t bc = {
        .url = env_or("AOS_BUS_URL", NULL),
        .profile = strcmp(profile, "rabbitmq") == 0     ? AOS_BUS_PROFILE_RABBITMQ
                   : strcmp(profile, "servicebus") == 0 ? AOS_BUS_PROFILE_SERVICEBUS
                                                        : AOS_BUS_PROFILE_AUTO,
        .connection_string = env_or("AOS_SERVICEBUS_CONNECTION_STRING", NULL),
        .instance_id = env_or("AOS_INSTANCE_ID", NULL),
    };
    if (!bc.url && !bc.connection_string)
        return aos_fail(AOS_ERR_INVALID, err, errlen,
                        "set AOS_BUS_URL (or AOS_SERVICEBUS_CONNECTION_STRING)");
    AOS_RETURN_IF_FAILED(aos_bus_new(&bc, &a->bus, err, errlen));
    return aos_bus_start(a->bus);
}

static aos_result open_all(app_t *a, char *err, size_t errlen)
{
    const char *path = getenv("AOS_CONFIG");
    if (!path || !*path)
        return aos_fail(AOS_ERR_INVALID, err, errlen, "set AOS_CONFIG to the agents config file");
    AOS_RETURN_IF_FAILED(aos_agents_config_load(path, &a->agents, err, errlen));
    size_t applied = 0;
    AOS_RETURN_IF_FAILED(runner_apply_env_endpoint(a->agents, &applied));
    if (applied)
        aos_logf(AOS_LOG_INFO, "model endpoint from the environment for %zu agent(s)", applied);
    AOS_RETURN_IF_FAILED(open_bus(a, err, errlen));
    aos_storage_client_config_t sc = {.bus = a->bus,
                                      .source = "/aos/agent-runner",
                                      .timeout_ms = (int)a->agents->settings.storage_timeout_ms};
    AOS_RETURN_IF_FAILED(aos_storage_client_new(&sc, &a->storage, err, errlen));
    runner_config_t rc = {
        .agents = a->agents,
        .serve = getenv("AOS_AGENTS"),
        .capacity = env_u32("AOS_RUNNER_CAPACITY", 0),
        .busy_stale_ms = env_u32("AOS_RUNNER_BUSY_STALE_MS", 0),
        .model = {.stream = env_u32("AOS_MODEL_STREAM", 0) != 0},
    };
    uint32_t capacity = rc.capacity ? rc.capacity : a->agents->settings.max_inflight;
    aos_http_client_config_t hc = {.max_total_connections = capacity + 16,
                                   .user_agent = "aos-agent-runner/1"};
    AOS_RETURN_IF_FAILED(aos_http_client_new(&hc, &a->http, err, errlen));
    AOS_RETURN_IF_FAILED(runner_new(&rc, a->bus, a->storage, a->http, &a->runner, err, errlen));
    aos_http_server_config_t ac = {.bind_addr = env_or("AOS_ADMIN_ADDR", "127.0.0.1:9092"),
                                   .builtins = AOS_HTTP_BUILTIN_ALL,
                                   .name = "admin"};
    AOS_RETURN_IF_FAILED(aos_http_server_new(&ac, &a->admin, err, errlen));
    aos_http_server_set_readiness(a->admin, ready_cb, a->runner);
    AOS_RETURN_IF_FAILED(aos_http_server_start(a->admin, err, errlen));
    return runner_start(a->runner, err, errlen);
}

/* SIGTERM: stop taking turns, finish in-flight ones within the grace period, release the
 * rest, then close everything in dependency order. */
static void shutdown_all(app_t *a)
{
    int grace = (int)env_u32("AOS_SHUTDOWN_GRACE_MS", 20000);
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
    aos_storage_client_free(a->storage);
    aos_http_server_free(a->admin);
    aos_bus_free(a->bus);
    aos_agents_config_free(a->agents);
}

int main(void)
{
    aos_log_level level = AOS_LOG_INFO;
    aos_log_level_parse(env_or("AOS_LOG_LEVEL", "info"), &level);
    aos_log_init("aos-agent-runner", level);

    /* every thread inherits the blocked set; main waits for the signals */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    app_t a = {0};
    char err[512] = "";
    aos_result rc = open_all(&a, err, sizeof err);
    if (rc != AOS_OK) {
        int code = fail("start-up failed", err[0] ? err : aos_result_str(rc));
        shutdown_all(&a);
        return code;
    }
    aos_log(AOS_LOG_INFO, "aos-agent-runner started", "instance", aos_bus_instance_id(a.bus),
            NULL);
    int sig = 0;
    sigwait(&sigs, &sig);
    aos_log(AOS_LOG_INFO, "signal received", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    shutdown_all(&a);
    return 0;
}
