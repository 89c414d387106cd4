/* The runner's cache of the adapter registry (adapter_route.h). */
#include "adapter_route.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/metrics.h"
#include "aos/resilience.h"

#define RUNNER_ADAPTERS_FIRST_READ_S 5

typedef struct entry {
    const char *agent; /* borrowed from the agents config */
    runner_adapter_state_t st;
    bool known;   /* st holds a record read at least once */
    bool failing; /* the last read failed (logged once per streak) */
} entry_t;

struct runner_adapters {
    runner_adapters_config_t cfg;
    char *ml_queue, *events_address, *source;
    entry_t *entries;
    size_t count;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, started, first_done; /* first_done: the first pass over the records ended */
    pthread_t thread;
    aos_metric_counter_t *m_errors, *m_reports;
};

static entry_t *find(runner_adapters_t *a, const char *agent)
{
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->entries[i].agent, agent) == 0)
            return &a->entries[i];
    return NULL;
}

aos_result runner_adapters_new(const runner_adapters_config_t *cfg, runner_adapters_t **out,
                               char *errbuf, size_t errlen)
{
    *out = NULL;
    size_t n = 0;
    for (size_t i = 0; cfg->agents && i < cfg->agents->agent_count; i++)
        n += cfg->agents->agents[i].adapter != NULL;
    if (n == 0)
        return AOS_OK;
    runner_adapters_t *a = calloc(1, sizeof *a);
    if (!a || !(a->entries = calloc(n, sizeof *a->entries))) {
        free(a);
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "out of memory");
    }
    a->cfg = *cfg;
    a->cfg.refresh_ms = cfg->refresh_ms ? cfg->refresh_ms : 30000;
    a->ml_queue = strdup(cfg->ml_queue ? cfg->ml_queue : "aos.ml");
    a->events_address = cfg->events_address ? strdup(cfg->events_address) : NULL;
    a->source = strdup(cfg->source ? cfg->source : "/aos/agent-runner");
    for (size_t i = 0; i < cfg->agents->agent_count; i++)
        if (cfg->agents->agents[i].adapter)
            a->entries[a->count++].agent = cfg->agents->agents[i].name;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->m_errors = aos_metrics_counter(
        NULL, "aos_runner_adapter_registry_errors_total",
        "Adapter registry reads that failed (the last known version kept serving)", NULL);
    a->m_reports = aos_metrics_counter(NULL, "aos_runner_adapter_turns_total",
                                       "Turns answered by a registry adapter version", NULL);
    if (!a->ml_queue || !a->source) {
        runner_adapters_free(a);
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "out of memory");
    }
    *out = a;
    return AOS_OK;
}

aos_result runner_adapters_apply(runner_adapters_t *a, const char *agent, const char *json,
                                 size_t len)
{
    runner_adapter_state_t st;
    char err[200] = "";
    if (!a)
        return AOS_ERR_INVALID;
    aos_result r = runner_adapter_state_parse(json, len, &st, err, sizeof err);
    if (r != AOS_OK) { /* an unusable record is an unreadable registry: the last state stays */
        aos_metric_counter_inc(a->m_errors);
        aos_log(AOS_LOG_WARN, "unusable adapter record ignored", "agent", agent, "detail", err,
                NULL);
        return r;
    }
    pthread_mutex_lock(&a->mu);
    entry_t *e = find(a, agent);
    bool changed = false;
    if (e && (!e->known || st.revision >= e->st.revision)) {
        changed = !e->known || st.revision != e->st.revision ||
                  st.stable_version != e->st.stable_version ||
                  st.canary_version != e->st.canary_version;
        e->st = st;
        e->known = true;
    }
    pthread_mutex_unlock(&a->mu);
    if (changed)
        aos_logf(AOS_LOG_INFO, "adapter %s for agent %s: stable v%lld, canary v%lld at %u%%",
                 st.name, agent, (long long)st.stable_version, (long long)st.canary_version,
                 st.canary_share);
    return e ? AOS_OK : AOS_ERR_NOT_FOUND;
}

/* One read of agent's record; on failure the last known state stays. */
static void refresh_one(runner_adapters_t *a, entry_t *e)
{
    bool was_counted = false;
    aos_storage_record_t rec = {0};
    char err[256] = "";
    aos_result r =
        aos_storage_record_get_sync(a->cfg.storage, "adapter", e->agent, &rec, err, sizeof err);
    if (r == AOS_OK) {
        r = runner_adapters_apply(a, e->agent, rec.data_json, strlen(rec.data_json));
        if (r != AOS_OK) /* counted and logged by apply */
            was_counted = true;
    } else if (r == AOS_ERR_NOT_FOUND) { /* no registry adapter: the configured one answers */
        pthread_mutex_lock(&a->mu);
        memset(&e->st, 0, sizeof e->st);
        e->known = true;
        pthread_mutex_unlock(&a->mu);
        r = AOS_OK;
    }
    aos_storage_record_clear(&rec);
    pthread_mutex_lock(&a->mu);
    bool was_failing = e->failing;
    e->failing = r != AOS_OK;
    pthread_mutex_unlock(&a->mu);
    if (r != AOS_OK) {
        if (!was_counted)
            aos_metric_counter_inc(a->m_errors);
        if (!was_failing)
            aos_log(AOS_LOG_WARN, "adapter registry unreadable; the last known version serves",
                    "agent", e->agent, "result", aos_result_code(r), "detail", err, NULL);
    } else if (was_failing) {
        aos_log(AOS_LOG_INFO, "adapter registry readable again", "agent", e->agent, NULL);
    }
}

static void *refresher(void *arg)
{
    runner_adapters_t *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        pthread_mutex_unlock(&a->mu);
        for (size_t i = 0; i < a->count; i++)
            refresh_one(a, &a->entries[i]);
        pthread_mutex_lock(&a->mu);
        a->first_done = true;
        pthread_cond_broadcast(&a->cv);
        if (a->stop)
            break;
        struct timespec ts = aos_clock_deadline(CLOCK_REALTIME, a->cfg.refresh_ms);
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Bus I/O thread: an aos.ml.adapter.* event carries the adapter record (subject = agent). */
static void on_event(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    runner_adapters_t *a = ctx;
    if (ev && ev->type && strncmp(ev->type, "aos.ml.adapter.", 15) == 0 && ev->subject && ev->data)
        runner_adapters_apply(a, ev->subject, ev->data, ev->data_len);
    aos_bus_accept(d); /* advisory: the timer refresh covers anything missed */
}

aos_result runner_adapters_start(runner_adapters_t *a, char *errbuf, size_t errlen)
{
    if (!a)
        return AOS_OK;
    char addr[512] = "", probe[256] = "";
    if (a->events_address) {
        snprintf(addr, sizeof addr, "%s", a->events_address);
    } else {
        aos_bus_queue_address(a->cfg.bus, "aos.events", probe, sizeof probe);
        if (strncmp(probe, "/amq/queue/", 11) == 0) /* RabbitMQ: a private bound queue */
            snprintf(addr, sizeof addr, "/exchange/aos.events/aos.ml.adapter.#");
    }
    aos_result r = AOS_OK;
    if (addr[0]) /* before the first read, so no change falls in between */
        r = aos_bus_subscribe_address(a->cfg.bus, addr, 16, on_event, a);
    else
        aos_logf(AOS_LOG_INFO, "adapter registry: no event subscription, refreshed every %u ms",
                 a->cfg.refresh_ms);
    if (r != AOS_OK)
        return aos_fail(r, errbuf, errlen, "subscribe to adapter events at %s failed", addr);
    if (pthread_create(&a->thread, NULL, refresher, a) != 0)
        return aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "cannot start the registry refresher");
    a->started = true;
    /* The first read before any turn is taken, so a restarted replica knows the canary before
     * it answers; a registry that does not answer delays the start by at most this. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += RUNNER_ADAPTERS_FIRST_READ_S;
    pthread_mutex_lock(&a->mu);
    while (!a->first_done && pthread_cond_timedwait(&a->cv, &a->mu, &ts) == 0)
        ;
    bool done = a->first_done;
    pthread_mutex_unlock(&a->mu);
    if (!done)
        aos_log(AOS_LOG_WARN,
                "adapter registry not read yet; the configured adapters answer until it is", NULL);
    return AOS_OK;
}

void runner_adapters_free(runner_adapters_t *a)
{
    if (!a)
        return;
    if (a->started) {
        pthread_mutex_lock(&a->mu);
        a->stop = true;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->thread, NULL);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->entries);
    free(a->ml_queue);
    free(a->events_address);
    free(a->source);
    free(a);
}

void runner_adapters_pick(runner_adapters_t *a, const aos_agent_def_t *agent,
                          const char *conversation_id, const aos_storage_message_page_t *page,
                          runner_adapter_choice_t *out)
{
    memset(out, 0, sizeof *out);
    if (!a || !agent)
        return;
    runner_adapter_state_t st;
    pthread_mutex_lock(&a->mu);
    entry_t *e = find(a, agent->name);
    bool known = e && e->known, have = known && e->st.serving;
    if (have)
        st = e->st;
    pthread_mutex_unlock(&a->mu);
    if (!known && e && agent->adapter) {
        /* never read (the registry was down at start): a conversation keeps the version its
         * history names, by the deployment naming rule (docs/ml.md) */
        int64_t hv = runner_adapter_history_version(page, agent->adapter);
        if (hv > 0) {
            snprintf(out->name, sizeof out->name, "%s", agent->adapter);
            snprintf(out->served, sizeof out->served, "%s-v%lld", agent->adapter, (long long)hv);
            out->version = hv;
        }
        return;
    }
    if (!have)
        return;
    int64_t hv = st.canary_version > 0 ? runner_adapter_history_version(page, st.name) : 0;
    runner_adapter_decide(&st, conversation_id, hv, out);
}

void runner_adapters_report(runner_adapters_t *a, const char *agent,
                            const runner_adapter_choice_t *choice, const char *conversation_id,
                            const char *message_id, bool failed, uint32_t fallbacks,
                            uint64_t latency_ms)
{
    if (!a || !choice || choice->version <= 0 || !a->ml_queue[0])
        return;
    json_object *o = json_object_new_object();
    aos_json_add_string(o, "agent", agent);
    aos_json_add_string(o, "adapter", choice->name);
    aos_json_add_int(o, "version", choice->version);
    aos_json_add_bool(o, "canary", choice->canary);
    aos_json_add_string(o, "outcome", failed ? "failed" : "answered");
    aos_json_add_int(o, "fallbacks", fallbacks);
    aos_json_add_int(o, "latency_ms", (int64_t)latency_ms);
    aos_json_add_string(o, "conversation_id", conversation_id);
    aos_json_add_string(o, "message_id", message_id);
    char *text = NULL;
    aos_event_t *ev = NULL;
    if (aos_json_to_string(o, &text, NULL) == AOS_OK &&
        aos_event_create("aos.ml.record_turn", a->source, text, &ev) == AOS_OK) {
        aos_event_set(&ev->subject, agent);
        if (aos_bus_send(a->cfg.bus, a->ml_queue, ev, NULL, NULL) == AOS_OK)
            aos_metric_counter_inc(a->m_reports);
    }
    aos_event_free(ev);
    free(text);
    json_object_put(o);
}
