/* Agent health shared between router replicas through storage (docs/servicebus.md, "Agent
 * health with several router replicas").
 *
 * On Service Bus every router replica reads heartbeats from the one subscription
 * aos.events/Subscriptions/aos-router: competing consumers, so each replica sees only part of
 * them. The replica that receives a heartbeat records it locally and writes it to storage as
 * record kind "health", key "<agent>:<instance>"; GET /v1/agents first merges the records other
 * replicas wrote (at most every ROUTER_HEALTH_SYNC_MS), so every replica reports every runner.
 * On RabbitMQ each replica has its own queue bound to the topic and sees every heartbeat, so
 * sharing is off unless AOS_ROUTER_HEALTH_SHARED=on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "router_internal.h"

#define HEALTH_KIND "health"
#define HEALTH_LIST_LIMIT 500
/* records this much older than the stale limit are deleted by whoever lists them */
#define HEALTH_FORGET_FACTOR 20

bool router_health_shared_wanted(const char *setting, bool rabbitmq)
{
    if (setting && strcmp(setting, "on") == 0)
        return true;
    if (setting && strcmp(setting, "off") == 0)
        return false;
    return !rabbitmq; /* auto */
}

static bool health_key(const char *agent, const char *instance, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s:%s", agent, instance);
    if (n <= 0 || (size_t)n >= outlen || n > 128)
        return false;
    for (const char *c = out; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == ':' || *c == '-'))
            return false;
    return true;
}

static void on_health_put(void *ctx, aos_result r, const aos_storage_record_t *rec,
                          const char *errmsg)
{
    (void)ctx;
    (void)rec;
    if (r != AOS_OK)
        aos_log(AOS_LOG_DEBUG, "agent health not shared", "detail",
                errmsg ? errmsg : aos_result_str(r), NULL);
}

void router_health_share(router_t *rt, const router_heartbeat_t *h)
{
    if (!rt->health_shared || !atomic_load(&rt->health_ready))
        return;
    char key[160];
    if (!health_key(h->agent, h->instance, key, sizeof key))
        return;
    json_object *o = json_object_new_object();
    aos_json_add_string(o, "agent", h->agent);
    aos_json_add_string(o, "instance", h->instance);
    aos_json_add_string(o, "provider", h->provider);
    aos_json_add_int(o, "inflight", h->inflight);
    aos_json_add_int(o, "capacity", h->capacity);
    aos_json_add_int(o, "seen_unix_ms", h->seen_unix_ms);
    aos_json_add_int(o, "sched_last_ms", h->sched_last_ms);
    aos_json_add_int(o, "sched_next_ms", h->sched_next_ms);
    if (h->breaker[0])
        aos_json_add_string(o, "breaker", h->breaker);
    char *json = NULL;
    if (o && aos_json_to_string(o, &json, NULL) == AOS_OK)
        aos_storage_record_put(rt->storage, HEALTH_KIND, key, json, "*", on_health_put, NULL);
    free(json);
    json_object_put(o);
}

static void on_health_deleted(void *ctx, aos_result r, const char *data_json, const char *errmsg)
{
    (void)ctx;
    (void)r;
    (void)data_json;
    (void)errmsg; /* another replica may have deleted it first */
}

/* Merge one shared record into the table when it is newer than what this replica saw. */
static void merge(router_t *rt, const aos_storage_record_t *rec, int64_t now_mono, int64_t now_unix,
                  int64_t forget_ms)
{
    json_object *o = NULL;
    const char *agent = NULL, *instance = NULL, *provider = NULL, *breaker = NULL;
    int64_t inflight = 0, capacity = 0, seen_unix = 0, sched_last = 0, sched_next = 0;
    if (!rec->data_json ||
        aos_json_parse_object(rec->data_json, strlen(rec->data_json), 0, 0, &o, NULL, 0) !=
            AOS_OK ||
        aos_json_get_string(o, "agent", AOS_JSON_REQUIRED, &agent, NULL, 0) != AOS_OK ||
        aos_json_get_string(o, "instance", AOS_JSON_REQUIRED, &instance, NULL, 0) != AOS_OK ||
        aos_json_get_int(o, "seen_unix_ms", AOS_JSON_REQUIRED, &seen_unix, NULL, NULL, 0) !=
            AOS_OK ||
        !aos_agent_name_valid(agent)) {
        json_object_put(o);
        return;
    }
    aos_json_get_string(o, "provider", AOS_JSON_OPTIONAL, &provider, NULL, 0);
    aos_json_get_int(o, "inflight", AOS_JSON_OPTIONAL, &inflight, NULL, NULL, 0);
    aos_json_get_int(o, "capacity", AOS_JSON_OPTIONAL, &capacity, NULL, NULL, 0);
    aos_json_get_int(o, "sched_last_ms", AOS_JSON_OPTIONAL, &sched_last, NULL, NULL, 0);
    aos_json_get_int(o, "sched_next_ms", AOS_JSON_OPTIONAL, &sched_next, NULL, NULL, 0);
    aos_json_get_string(o, "breaker", AOS_JSON_OPTIONAL, &breaker, NULL, 0);
    if (now_unix - seen_unix > forget_ms) { /* a runner long gone */
        char data[400];
        snprintf(data, sizeof data, "{\"kind\":\"%s\",\"key\":\"%s\",\"if_match\":\"%s\"}",
                 HEALTH_KIND, rec->key, rec->version ? rec->version : "*");
        aos_storage_call(rt->storage, "record.delete", data, on_health_deleted, NULL);
        json_object_put(o);
        return;
    }
    pthread_mutex_lock(&rt->hb_mu);
    router_heartbeat_t *slot = NULL;
    for (size_t i = 0; i < rt->hb_count && !slot; i++)
        if (strcmp(rt->hb[i].agent, agent) == 0 && strcmp(rt->hb[i].instance, instance) == 0)
            slot = &rt->hb[i];
    if (!slot && rt->hb_count < ROUTER_MAX_INSTANCES) {
        slot = &rt->hb[rt->hb_count++];
        memset(slot, 0, sizeof *slot);
    }
    if (slot && seen_unix > slot->seen_unix_ms) {
        snprintf(slot->agent, sizeof slot->agent, "%s", agent);
        snprintf(slot->instance, sizeof slot->instance, "%s", instance);
        snprintf(slot->provider, sizeof slot->provider, "%s", provider ? provider : "");
        slot->inflight = inflight;
        slot->capacity = capacity;
        slot->seen_unix_ms = seen_unix;
        slot->sched_last_ms = sched_last;
        slot->sched_next_ms = sched_next;
        snprintf(slot->breaker, sizeof slot->breaker, "%s", breaker ? breaker : "");
        int64_t age = now_unix - seen_unix;
        slot->seen_ms = now_mono - (age > 0 ? age : 0);
    }
    pthread_mutex_unlock(&rt->hb_mu);
    json_object_put(o);
}

void router_health_sync(router_t *rt)
{
    if (!rt->health_shared || !atomic_load(&rt->health_ready))
        return;
    int64_t now = aos_clock_monotonic_ms();
    pthread_mutex_lock(&rt->hb_mu);
    bool due = rt->health_synced_ms == 0 || now - rt->health_synced_ms >= ROUTER_HEALTH_SYNC_MS;
    if (due)
        rt->health_synced_ms = now; /* one caller per interval does the listing */
    pthread_mutex_unlock(&rt->hb_mu);
    if (!due)
        return;
    int64_t forget = (int64_t)rt->agents->settings.heartbeat_stale_ms * HEALTH_FORGET_FACTOR;
    char *cursor = NULL;
    for (int page = 0; page < 8; page++) {
        aos_storage_record_page_t pg;
        memset(&pg, 0, sizeof pg);
        char err[256] = "";
        aos_result r = aos_storage_record_list_sync(rt->storage, HEALTH_KIND, NULL, cursor,
                                                    HEALTH_LIST_LIMIT, &pg, err, sizeof err);
        free(cursor);
        cursor = NULL;
        if (r != AOS_OK) {
            aos_log(AOS_LOG_WARN, "shared agent health not read", "detail", err, NULL);
            break;
        }
        int64_t mono = aos_clock_monotonic_ms(), unix_ms = aos_clock_realtime_ms();
        for (size_t i = 0; i < pg.count; i++)
            merge(rt, &pg.items[i], mono, unix_ms, forget);
        if (pg.next_cursor && *pg.next_cursor)
            cursor = strdup(pg.next_cursor);
        aos_storage_record_page_clear(&pg);
        if (!cursor)
            break;
    }
    free(cursor);
}
