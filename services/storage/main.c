/* aos-storage: configuration, bus, service core, admin server, signals. */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/bus.h"
#include "aos/claim_check.h"
#include "aos/config.h"
#include "aos/service.h"
#include "aos/http_server.h"
#include "aos/log.h"
#include "aos/event_relay.h"
#include "service.h"
#include "service_claim.h"
#include "service_queue.h"

typedef struct storage_config {
    aos_config_common_t common;
    int64_t workers;
    int64_t max_chunk;
    int64_t busy_timeout_ms;
    int64_t shutdown_grace_ms;
    char *name_prefix;
    char *queue;
    char *relay_queue;
    char *relay_types;
    char *queue_in;
    char *queue_out;
    char *queue_out_types;
    char *queue_encoding;
    char *router_url;
    char *router_api_key;
    int64_t queue_poll_ms;
    int64_t queue_visibility_ms;
    int64_t claim_threshold;
    int64_t claim_retention_ms;
} storage_config_t;

static const aos_config_field_t TABLE[] = {
    AOS_CONFIG_COMMON_FIELDS(storage_config_t, common),
    AOS_CLAIM_THRESHOLD_FIELD(storage_config_t, claim_threshold),
    {"AOS_CLAIM_RETENTION", "claim_retention", AOS_CONFIG_DURATION_MS, "24h", 60000,
     31LL * 86400000, false, false, NULL,
     "How long a payload sent by reference (blob aos-claims/bus/…) is kept when its receiver "
     "did not delete it (events, dead letters awaiting replay); swept by aos-storage",
     offsetof(storage_config_t, claim_retention_ms)},
    {"AOS_STORAGE_WORKERS", "storage_workers", AOS_CONFIG_INT, "16", 1, 256, false, false, NULL,
     "Worker threads of aos-storage (= unsettled requests it takes from the bus)",
     offsetof(storage_config_t, workers)},
    {"AOS_STORAGE_MAX_CHUNK", "storage_max_chunk", AOS_CONFIG_SIZE, "128k", 1024, 4194304, false,
     false, NULL, "Largest blob chunk per request (decoded bytes; base64 in JSON on the wire)",
     offsetof(storage_config_t, max_chunk)},
    {"AOS_SQLITE_BUSY_TIMEOUT", "sqlite_busy_timeout", AOS_CONFIG_DURATION_MS, "5s", 10, 600000,
     false, false, NULL,
     "How long a SQLite write waits for the lock before the request is "
     "released as unavailable",
     offsetof(storage_config_t, busy_timeout_ms)},
    {"AOS_SHUTDOWN_GRACE", "shutdown_grace", AOS_CONFIG_DURATION_MS, "10s", 0, 600000, false, false,
     NULL, "Time to finish in-flight work after SIGTERM",
     offsetof(storage_config_t, shutdown_grace_ms)},
    {"AOS_STORAGE_NAME_PREFIX", "storage_name_prefix", AOS_CONFIG_STRING, NULL, 0, 16, false, false,
     NULL, "Prefix of Azure table names (isolates deployments sharing an account)",
     offsetof(storage_config_t, name_prefix)},
    {"AOS_STORAGE_QUEUE", "storage_queue", AOS_CONFIG_STRING, "aos.storage", 1, 200, false, false,
     NULL, "Queue aos-storage consumes (another name only to isolate tests)",
     offsetof(storage_config_t, queue)},
    /* the event relay and the Azure Storage queues (docs/events.md, docs/storage.md) */
    {"AOS_EVENTS_RELAY_QUEUE", "events_relay_queue", AOS_CONFIG_STRING, "aos.eventrelay", 1, 200,
     false, false, NULL,
     "Queue fed by the aos.events topic that the event relay forwards to Event Grid, Kafka and "
     "the Storage queue (Service Bus: subscription aos.events/Subscriptions/eventrelay)",
     offsetof(storage_config_t, relay_queue)},
    {"AOS_EVENTS_RELAY_TYPES", "events_relay_types", AOS_CONFIG_STRING, "*", 1, 2000, false, false,
     NULL,
     "Event types the relay sends to Event Grid and Kafka: comma list, 'prefix*' entries, '*' = "
     "all",
     offsetof(storage_config_t, relay_types)},
    {"AOS_STORAGE_QUEUE_IN", "storage_queue_in", AOS_CONFIG_STRING, NULL, 0, 63, false, false, NULL,
     "Azure Storage queue applications put CloudEvents on; each becomes POST /v1/events on "
     "AOS_ROUTER_URL; unset = off",
     offsetof(storage_config_t, queue_in)},
    {"AOS_STORAGE_QUEUE_OUT", "storage_queue_out", AOS_CONFIG_STRING, NULL, 0, 63, false, false,
     NULL, "Azure Storage queue that receives agent actions/replies as CloudEvents; unset = off",
     offsetof(storage_config_t, queue_out)},
    {"AOS_STORAGE_QUEUE_OUT_TYPES", "storage_queue_out_types", AOS_CONFIG_STRING,
     "aos.agent.action,aos.agent.reply", 1, 2000, false, false, NULL,
     "Event types put on AOS_STORAGE_QUEUE_OUT (same syntax as AOS_EVENTS_RELAY_TYPES)",
     offsetof(storage_config_t, queue_out_types)},
    {"AOS_STORAGE_QUEUE_ENCODING", "storage_queue_encoding", AOS_CONFIG_ENUM, "base64", 0, 0, false,
     false, "base64|raw",
     "Encoding of messages put on AOS_STORAGE_QUEUE_OUT (incoming messages may be either)",
     offsetof(storage_config_t, queue_encoding)},
    {"AOS_ROUTER_URL", "router_url", AOS_CONFIG_URL, NULL, 0, 0, false, false, "http|https",
     "The router's base URL, where Storage queue events are posted (/v1/events)",
     offsetof(storage_config_t, router_url)},
    {"AOS_ROUTER_API_KEY", NULL, AOS_CONFIG_STRING, NULL, 0, 4096, false, true, NULL,
     "API key aos-storage presents to the router for Storage queue events",
     offsetof(storage_config_t, router_api_key)},
    {"AOS_STORAGE_QUEUE_POLL", "storage_queue_poll", AOS_CONFIG_DURATION_MS, "1s", 50, 600000,
     false, false, NULL, "Wait between polls of an empty AOS_STORAGE_QUEUE_IN",
     offsetof(storage_config_t, queue_poll_ms)},
    {"AOS_STORAGE_QUEUE_VISIBILITY", "storage_queue_visibility", AOS_CONFIG_DURATION_MS, "60s",
     1000, 604800000, false, false, NULL,
     "How long a Storage queue message is hidden while it is handed to the router",
     offsetof(storage_config_t, queue_visibility_ms)},
};
#define TABLE_N (sizeof TABLE / sizeof TABLE[0])

static bool ready_cb(void *ctx, char *reason, size_t reason_len)
{
    return storage_service_ready(ctx, reason, reason_len);
}

typedef struct app {
    storage_config_t cfg;
    aos_bus_t *bus;
    storage_service_t *svc;
    aos_http_server_t *admin;
    storage_queue_bridge_t *queues;
    aos_event_relay_t *relay;
    storage_backend_t *relay_be; /* the relay's claim store (after the relay is freed) */
} app_t;

/* The Azure Storage queues and the event relay (docs/storage.md, docs/events.md). */
static int start_events(app_t *a)
{
    char err[1024] = "";
    const storage_config_t *c = &a->cfg;
    aos_result r = AOS_OK;
    if ((c->queue_in && *c->queue_in) || (c->queue_out && *c->queue_out)) {
        storage_queue_bridge_config_t qc = {
            .connection_string = c->common.azure_storage_connection_string,
            .inbound_queue = c->queue_in,
            .router_url = c->router_url,
            .router_api_key = c->router_api_key,
            .poll_ms = (uint32_t)c->queue_poll_ms,
            .visibility_s = (uint32_t)(c->queue_visibility_ms / 1000),
            .outbound_queue = c->queue_out,
            .outbound_raw = c->queue_encoding && strcasecmp(c->queue_encoding, "raw") == 0};
        r = storage_queue_bridge_new(&qc, &a->queues, err, sizeof err);
        if (r == AOS_OK)
            r = storage_queue_bridge_start(a->queues, err, sizeof err);
        if (r != AOS_OK)
            return aos_service_fail("cannot start the Storage queues", r, err);
    }
    aos_event_relay_config_t rc;
    aos_event_relay_config_from_common(&c->common, a->bus, &rc);
    rc.queue = c->relay_queue;
    rc.types = c->relay_types;
    if (storage_queue_bridge_has_outbound(a->queues))
        rc.extra[rc.extra_count++] = (aos_event_relay_extra_sink_t){.name = "storagequeue",
                                                                    .types = c->queue_out_types,
                                                                    .fn = storage_queue_sink,
                                                                    .ctx = a->queues};
    if (!aos_event_relay_has_sinks(&rc))
        return 0;
    /* events that came by reference leave with their data: the relay's own backend instance
     * (its one worker thread uses it) reads the claims (docs/bus.md "Message size") */
    aos_claim_store_t claims;
    storage_backend_config_t bc = {.sqlite_path = c->common.sqlite_path,
                                   .busy_timeout_ms = (int)c->busy_timeout_ms,
                                   .azure_connection_string =
                                       c->common.azure_storage_connection_string,
                                   .name_prefix = c->name_prefix};
    if (storage_backend_kind_parse(c->common.storage_backend, &bc.kind) == AOS_OK &&
        storage_backend_open(&bc, &a->relay_be, err, sizeof err) == AOS_OK) {
        storage_claim_store(a->relay_be, &claims);
        rc.claims = &claims;
    } else {
        aos_log(AOS_LOG_WARN, "event relay: events by reference are relayed as references", "error",
                err, NULL);
        err[0] = '\0';
    }
    r = aos_event_relay_new(&rc, &a->relay, err, sizeof err);
    if (r == AOS_OK)
        r = aos_event_relay_start(a->relay, err, sizeof err);
    return r == AOS_OK ? 0 : aos_service_fail("cannot start the event relay", r, err);
}

static int start(app_t *a)
{
    char err[1024] = "";
    aos_bus_config_t bc;
    aos_bus_config_from_common(&a->cfg.common, NULL, &bc);
    aos_result r = aos_bus_new(&bc, &a->bus, err, sizeof err);
    if (r == AOS_OK)
        r = aos_bus_start(a->bus);
    if (r != AOS_OK)
        return aos_service_fail("cannot start the bus", r, err);
    storage_service_config_t sc = {
        .bus = a->bus,
        .queue = a->cfg.queue,
        .workers = (unsigned)a->cfg.workers,
        .max_chunk = (size_t)a->cfg.max_chunk,
        .claim_threshold = (size_t)a->cfg.claim_threshold,
        .claim_retention_ms = a->cfg.claim_retention_ms,
        .backend = {.sqlite_path = a->cfg.common.sqlite_path,
                    .busy_timeout_ms = (int)a->cfg.busy_timeout_ms,
                    .azure_connection_string = a->cfg.common.azure_storage_connection_string,
                    .name_prefix = a->cfg.name_prefix},
    };
    r = storage_backend_kind_parse(a->cfg.common.storage_backend, &sc.backend.kind);
    if (r == AOS_OK)
        r = storage_service_new(&sc, &a->svc, err, sizeof err);
    if (r == AOS_OK)
        r = storage_service_start(a->svc, err, sizeof err);
    if (r != AOS_OK)
        return aos_service_fail("cannot start the storage service", r, err);
    if (start_events(a) != 0)
        return 1;
    r = aos_http_admin_start(a->cfg.common.admin_addr, ready_cb, a->svc, &a->admin, err,
                             sizeof err);
    if (r != AOS_OK)
        return aos_service_fail("cannot start the admin server", r, err);
    char port[16];
    snprintf(port, sizeof port, "%u", aos_http_server_port(a->admin));
    aos_log(AOS_LOG_INFO, "aos-storage started", "backend", a->cfg.common.storage_backend,
            "admin_port", port, "instance", aos_bus_instance_id(a->bus), NULL);
    return 0;
}

static void shutdown_all(app_t *a)
{
    int grace = (int)a->cfg.shutdown_grace_ms;
    if (a->svc)
        storage_service_stop(a->svc, grace); /* readiness goes red, workers finish */
    aos_event_relay_free(a->relay, grace);   /* before the bus: it settles its deliveries */
    storage_backend_free(a->relay_be);
    storage_queue_bridge_free(a->queues);
    if (a->bus)
        aos_bus_stop(a->bus, grace); /* flush replies and settlements */
    aos_http_server_free(a->admin);
    aos_bus_free(a->bus);
    storage_service_free(a->svc);
}

int main(int argc, char **argv)
{
    app_t a;
    memset(&a, 0, sizeof a);
    int init = aos_service_init("aos-storage", argc, argv, TABLE, TABLE_N, &a.cfg, &a.cfg.common);
    if (init >= 0)
        return init;
    sigset_t set;
    aos_service_block_signals(&set); /* before start(): every thread inherits the mask */
    int rc = start(&a);
    if (rc == 0)
        aos_service_wait_signal(&set);
    shutdown_all(&a);
    aos_config_free(TABLE, TABLE_N, &a.cfg);
    aos_log(AOS_LOG_INFO, "aos-storage stopped", NULL);
    return rc;
}
