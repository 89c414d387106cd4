/* The runner: served agents, deliveries, per-conversation queues, heartbeats and the
 * graceful drain (see runner.h). The turn steps themselves are in turn.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/log.h"
#include "aos/resilience.h"
#include "runner_internal.h"
#include "schedule.h"

/* ---- per-conversation queues (loop thread) ---- */

static size_t conv_hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h % RUNNER_CONV_BUCKETS;
}

static conv_t *conv_get(runner_t *r, const char *id)
{
    size_t b = conv_hash(id);
    for (conv_t *c = r->convs[b]; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    conv_t *c = calloc(1, sizeof *c);
    if (!c || !(c->id = strdup(id))) {
        free(c);
        return NULL;
    }
    c->next = r->convs[b];
    r->convs[b] = c;
    return c;
}

static void conv_remove(runner_t *r, conv_t *c)
{
    conv_t **pp = &r->convs[conv_hash(c->id)];
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    free(c->id);
    free(c);
}

static void conv_start_next(void *arg, bool cancelled)
{
    turn_t *t = arg;
    if (cancelled) { /* forced shutdown: nothing will run it */
        if (t->delivery)
            aos_bus_release_uncounted(t->delivery);
        t->delivery = NULL;
        t->ended = true;
        turn_maybe_free(t);
        return;
    }
    if (!t->ended) {
        runner_turn_park(t, false); /* its turn in this runner: it claims (and may wait) */
        turn_run(t);
    }
}

/* ---- settling ---- */

static void count_end(runner_t *r, served_agent_t *a, turn_end how)
{
    switch (how) {
    case TURN_END_ANSWERED:
        atomic_fetch_add(&r->answered, 1);
        aos_metric_counter_inc(a ? a->m_answered : NULL);
        break;
    case TURN_END_FROM_STORAGE:
        atomic_fetch_add(&r->answered_from_storage, 1);
        aos_metric_counter_inc(a ? a->m_from_storage : NULL);
        break;
    case TURN_END_RELEASED:
        atomic_fetch_add(&r->released, 1);
        aos_metric_counter_inc(a ? a->m_released : NULL);
        break;
    case TURN_END_DEAD_LETTERED:
        atomic_fetch_add(&r->dead_lettered, 1);
        aos_metric_counter_inc(a ? a->m_dead : NULL);
        break;
    }
}

static void settle(turn_t *t, turn_end how, const char *reason, const char *description)
{
    runner_t *r = t->r;
    if (!t->delivery)
        return;
    if (how == TURN_END_RELEASED && atomic_load(&r->stopping))
        aos_bus_release_uncounted(t->delivery); /* a shutdown is not a failed delivery */
    else if (how == TURN_END_RELEASED)
        aos_bus_release(t->delivery);
    else if (how == TURN_END_DEAD_LETTERED)
        aos_bus_reject(t->delivery, reason ? reason : "aos:poison", description);
    else
        aos_bus_accept(t->delivery);
    t->delivery = NULL;
    runner_turn_park(t, false);
    if (t->agent)
        atomic_fetch_sub(&t->agent->inflight, 1);
    count_end(r, t->agent, how);
    if (t->agent && (how == TURN_END_ANSWERED || how == TURN_END_FROM_STORAGE))
        aos_metric_histogram_observe(t->agent->m_duration,
                                     (double)(runner_now_ms() - t->started_ms) / 1000.0);
    pthread_mutex_lock(&r->drain_mu);
    atomic_fetch_sub(&r->inflight, 1);
    pthread_cond_broadcast(&r->drain_cv);
    pthread_mutex_unlock(&r->drain_mu);
    aos_metric_gauge_dec(r->m_inflight);
}

static const char *end_name(turn_end how)
{
    switch (how) {
    case TURN_END_ANSWERED:
        return "answered";
    case TURN_END_FROM_STORAGE:
        return "answered_from_storage";
    case TURN_END_RELEASED:
        return "released";
    default:
        return "dead_lettered";
    }
}

void runner_turn_end(turn_t *t, turn_end how, const char *reason, const char *description)
{
    runner_t *r = t->r;
    /* answered turns were logged when the reply went out (turn.c respond) */
    if (t->delivery && how != TURN_END_ANSWERED && how != TURN_END_FROM_STORAGE) {
        char ms[24];
        snprintf(ms, sizeof ms, "%llu", (unsigned long long)(runner_now_ms() - t->started_ms));
        aos_log(AOS_LOG_INFO, "turn finished", "agent", t->agent ? t->agent->def->name : "",
                "conversation_id", t->req.conversation_id ? t->req.conversation_id : "",
                "message_id", t->request && t->request->id ? t->request->id : "", "outcome",
                end_name(how), "duration_ms", ms, NULL);
    }
    settle(t, how, reason, description);
    t->ended = true;
    conv_t *c = t->conv;
    t->conv = NULL;
    if (c && c->head == t) {
        c->head = t->next_in_conv;
        if (!c->head) {
            c->tail = NULL;
            conv_remove(r, c);
        } else if (runner_loop_post(r->loop, conv_start_next, c->head) != AOS_OK) {
            conv_start_next(c->head, true);
        }
    }
    turn_maybe_free(t);
}

/* ---- deliveries ---- */

static void turn_arrive(void *arg, bool cancelled)
{
    turn_t *t = arg;
    if (cancelled) {
        runner_turn_end(t, TURN_END_RELEASED, NULL, NULL);
        return;
    }
    if (atomic_load(&t->r->stopping)) {
        runner_turn_end(t, TURN_END_RELEASED, NULL, NULL);
        return;
    }
    if (runner_claim_arrival_failed(t))
        return;
    char err[300] = "";
    const aos_event_t *ev = t->request;
    if (aos_log_enabled(AOS_LOG_DEBUG)) {
        char n[16];
        snprintf(n, sizeof n, "%u", ev->delivery_count);
        aos_log(AOS_LOG_DEBUG, "turn received", "queue", t->agent->queue, "message_id",
                ev->id ? ev->id : "", "delivery_count", n, NULL);
    }
    if (!ev->type || strcmp(ev->type, "aos.agent.turn") != 0) {
        snprintf(err, sizeof err, "unexpected event type \"%.100s\" on %s (want aos.agent.turn)",
                 ev->type ? ev->type : "", t->agent->queue);
        turn_poison(t, AOS_ERR_INVALID, err);
        return;
    }
    aos_result rc = runner_turn_parse(ev->data, ev->data_len, &t->req, err, sizeof err);
    if (rc != AOS_OK) {
        turn_poison(t, rc, err);
        return;
    }
    if (strcmp(t->req.agent, t->agent->def->name) != 0) {
        snprintf(err, sizeof err, "turn for agent \"%s\" arrived on %s", t->req.agent,
                 t->agent->queue);
        turn_poison(t, AOS_ERR_INVALID, err);
        return;
    }
    conv_t *c = conv_get(t->r, t->req.conversation_id);
    if (!c) {
        runner_turn_end(t, TURN_END_RELEASED, NULL, NULL);
        return;
    }
    t->conv = c;
    if (c->tail)
        c->tail->next_in_conv = t;
    else
        c->head = t;
    c->tail = t;
    if (c->head == t)
        turn_run(t);
    else
        runner_turn_park(t, true); /* behind an earlier turn of its conversation here */
}

/* Bus I/O thread: hand the delivery to the loop. */
static void on_delivery(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    served_agent_t *a = ctx;
    runner_t *r = a->runner;
    if (atomic_load(&r->stopping)) {
        aos_bus_release_uncounted(d); /* credit granted before the drain began */
        return;
    }
    turn_t *t = calloc(1, sizeof *t);
    if (!t || aos_event_clone(ev, &t->request) != AOS_OK) {
        free(t);
        aos_bus_release(d);
        return;
    }
    t->r = r;
    t->agent = a;
    t->delivery = d;
    t->started_ms = runner_now_ms();
    atomic_fetch_add(&r->inflight, 1);
    aos_metric_gauge_inc(r->m_inflight);
    atomic_fetch_add(&a->inflight, 1);
    runner_claim_arrive(t, turn_arrive); /* resolved first when it came by reference */
}

/* ---- heartbeats (loop thread) ---- */

static void heartbeat_tick(void *arg, bool cancelled)
{
    runner_t *r = arg;
    if (cancelled)
        return;
    for (size_t i = 0; i < r->served_count; i++) {
        served_agent_t *a = &r->served[i];
        char *data = NULL;
        int64_t last_run = 0, next_run = 0;
        runner_sched_times(r->sched, a->def->name, &last_run, &next_run);
        if (runner_heartbeat_json(
                a->def->name, aos_bus_instance_id(r->bus), atomic_load(&a->inflight), a->share,
                runner_model_primary_provider(a->def), runner_model_breaker_state(r->model, a->def),
                aos_clock_realtime_ms(), last_run, next_run, &data) != AOS_OK)
            continue;
        aos_event_t *ev = NULL;
        if (aos_event_create("aos.agent.heartbeat", r->source, data, &ev) == AOS_OK) {
            aos_event_set(&ev->subject, a->def->name);
            ev->ttl_ms = r->cfg.heartbeat_ms * 3; /* a stale heartbeat is worthless */
            aos_bus_publish(r->bus, "aos.events", ev, NULL, NULL);
        }
        aos_event_free(ev);
        free(data);
    }
    if (!atomic_load(&r->stopping))
        runner_loop_timer(r->loop, r->cfg.heartbeat_ms, heartbeat_tick, r);
}

/* ---- setup ---- */

static aos_result pick_agents(runner_t *r, const char *serve, char *errbuf, size_t errlen)
{
    const aos_agents_config_t *cfg = r->agents;
    r->served = calloc(cfg->agent_count, sizeof *r->served);
    if (!r->served)
        return AOS_ERR_NOMEM;
    if (!serve || !*serve) {
        for (size_t i = 0; i < cfg->agent_count; i++)
            r->served[r->served_count++].def = &cfg->agents[i];
        return AOS_OK;
    }
    char *list = strdup(serve), *save = NULL;
    if (!list)
        return AOS_ERR_NOMEM;
    for (char *name = strtok_r(list, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        const aos_agent_def_t *def = aos_agents_find(cfg, name);
        if (!def) {
            aos_result rc =
                aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                         "AOS_AGENTS names \"%s\", which the config does not define", name);
            free(list);
            return rc;
        }
        bool dup = false;
        for (size_t i = 0; i < r->served_count; i++)
            dup = dup || r->served[i].def == def;
        if (!dup)
            r->served[r->served_count++].def = def;
    }
    free(list);
    if (r->served_count == 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "AOS_AGENTS names no agent");
    return AOS_OK;
}

static void setup_agent_metrics(served_agent_t *a)
{
    const char *n = a->def->name;
    static const char turns[] = "aos_runner_turns_total";
    static const char turns_help[] = "Turns finished, by outcome.";
    a->m_answered =
        aos_metrics_counter(NULL, turns, turns_help, "agent", n, "outcome", "answered", NULL);
    a->m_from_storage = aos_metrics_counter(NULL, turns, turns_help, "agent", n, "outcome",
                                            "answered_from_storage", NULL);
    a->m_released =
        aos_metrics_counter(NULL, turns, turns_help, "agent", n, "outcome", "released", NULL);
    a->m_dead =
        aos_metrics_counter(NULL, turns, turns_help, "agent", n, "outcome", "dead_lettered", NULL);
    static const char tok[] = "aos_runner_tokens_total";
    static const char tok_help[] = "Model tokens used, by kind.";
    a->m_tokens_prompt =
        aos_metrics_counter(NULL, tok, tok_help, "agent", n, "kind", "prompt", NULL);
    a->m_tokens_completion =
        aos_metrics_counter(NULL, tok, tok_help, "agent", n, "kind", "completion", NULL);
    a->m_duration =
        aos_metrics_histogram(NULL, "aos_runner_turn_duration_seconds",
                              "Turn time from delivery to reply.", NULL, 0, "agent", n, NULL);
    a->credit = a->share;
    a->m_credit = aos_metrics_gauge(NULL, "aos_runner_agent_credit",
                                    "Link credit of the agent's queue: its share of the "
                                    "capacity, lowered while its model endpoint has no headroom.",
                                    "agent", n, NULL);
    aos_metric_gauge_set(a->m_credit, a->share);
    a->m_credit_lowered = aos_metrics_counter(
        NULL, "aos_runner_agent_credit_lowered_total",
        "Times the agent's link credit was lowered for lack of model headroom (429, "
        "retry-after, requests/tokens per minute).",
        "agent", n, NULL);
}

static void credit_update(void *ctx);

static void apply_defaults(runner_t *r)
{
    const aos_settings_t *s = &r->agents->settings;
    if (!r->cfg.capacity)
        r->cfg.capacity = s->max_inflight ? s->max_inflight : 1024;
    if (!r->cfg.max_waiting)
        r->cfg.max_waiting = 1024;
    if (r->cfg.capacity > 100000) /* the bus takes at most 100000 unsettled per subscription */
        r->cfg.capacity = 100000;
    if (r->cfg.max_waiting > 100000 - r->cfg.capacity)
        r->cfg.max_waiting = 100000 - r->cfg.capacity;
    if (!r->cfg.heartbeat_ms)
        r->cfg.heartbeat_ms = s->heartbeat_interval_ms ? s->heartbeat_interval_ms : 5000;
    if (!r->cfg.busy_stale_ms)
        r->cfg.busy_stale_ms = 120000;
    if (!r->cfg.lease_ms)
        r->cfg.lease_ms = 15000;
    if (!r->cfg.model.deadline_ms) /* fits the router's sync wait, with room to store + reply */
        r->cfg.model.deadline_ms = (s->sync_timeout_ms ? s->sync_timeout_ms : 30000) / 6 * 5;
    /* the capacity is split over the served agents: link credit never exceeds it in total */
    uint32_t n = (uint32_t)r->served_count;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t share = r->cfg.capacity / n + (i < r->cfg.capacity % n ? 1 : 0);
        r->served[i].share = share ? share : 1;
        r->served[i].wait_share = r->cfg.max_waiting / n + (i < r->cfg.max_waiting % n ? 1 : 0);
        r->served[i].runner = r;
        snprintf(r->served[i].queue, sizeof r->served[i].queue, "aos.agent.%s",
                 r->served[i].def->name);
        setup_agent_metrics(&r->served[i]);
    }
}

aos_result runner_new(const runner_config_t *cfg, aos_bus_t *bus, aos_storage_client_t *storage,
                      aos_http_client_t *http, runner_t **out_runner, char *errbuf, size_t errlen)
{
    if (!cfg || !cfg->agents || !bus || !storage || !out_runner)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "runner_new: missing argument");
    runner_t *r = calloc(1, sizeof *r);
    if (!r)
        return AOS_ERR_NOMEM;
    r->cfg = *cfg;
    r->cfg.serve = NULL; /* not kept */
    r->agents = cfg->agents;
    r->bus = bus;
    r->storage = storage;
    r->http = http;
    pthread_mutex_init(&r->drain_mu, NULL);
    pthread_cond_init(&r->drain_cv, NULL);
    snprintf(r->source, sizeof r->source, "/aos/agent-runner/%s", aos_bus_instance_id(bus));
    aos_result rc = pick_agents(r, cfg->serve, errbuf, errlen);
    if (rc == AOS_OK) {
        apply_defaults(r);
        rc = runner_loop_new(&r->loop);
    }
    if (rc == AOS_OK)
        rc = runner_model_new(&r->cfg.model, r->loop, http, &r->model);
    if (rc == AOS_OK)
        runner_model_on_headroom(r->model, credit_update, r);
    if (rc == AOS_OK)
        rc = runner_knowledge_new(r->loop, storage, r->cfg.knowledge_ttl_ms, 0, &r->knowledge);
    if (rc == AOS_OK)
        rc = runner_sched_new(r, &r->sched);
    if (rc == AOS_OK) {
        runner_adapters_config_t ac = {.bus = bus,
                                       .storage = storage,
                                       .agents = cfg->agents,
                                       .ml_queue = cfg->ml_queue,
                                       .refresh_ms = cfg->adapter_refresh_ms,
                                       .events_address = cfg->adapter_events_address,
                                       .source = r->source};
        rc = runner_adapters_new(&ac, &r->adapters, errbuf, errlen);
    }
    if (rc != AOS_OK) {
        if (errbuf && errlen && !errbuf[0])
            aos_fail(rc, errbuf, errlen, "runner setup failed: %s", aos_result_str(rc));
        runner_free(r);
        return rc;
    }
    r->m_inflight = aos_metrics_gauge(NULL, "aos_runner_turns_in_flight",
                                      "Turns delivered and not yet settled.", NULL);
    aos_metric_gauge_set(
        aos_metrics_gauge(NULL, "aos_runner_capacity", "Turns this instance takes at once.", NULL),
        r->cfg.capacity);
    *out_runner = r;
    return AOS_OK;
}

/* ---- credit from model headroom (headroom.h) and waiting turns ---- */

/* Loop thread: the agent's link credit limit is what its model has headroom for (credit) plus
 * the turns it holds that wait for an earlier turn of their conversation, up to its share of
 * max_waiting. Were waiting turns counted against capacity, a runner full of them would never
 * receive the turns they wait for (say, after a broker restart requeued a conversation's turns
 * out of order): everything would stand still for the gap time. */
static bool agent_credit_apply(served_agent_t *a)
{
    uint32_t parked = a->parked < a->wait_share ? a->parked : a->wait_share;
    uint32_t limit = a->credit + parked;
    if (limit == a->limit)
        return true;
    bool full = limit >= a->share + a->wait_share; /* the subscription's max_inflight caps */
    if (aos_bus_set_credit(a->runner->bus, a->queue, full ? UINT32_MAX : limit) != AOS_OK)
        return false;
    a->limit = limit;
    return true;
}

void runner_turn_park(turn_t *t, bool parked)
{
    if (t->parked == parked || !t->agent)
        return;
    t->parked = parked;
    if (parked)
        t->agent->parked++;
    else
        t->agent->parked--;
    if (!atomic_load(&t->r->stopping))
        (void)agent_credit_apply(t->agent); /* else: again on the next change */
}

static void credit_timer(void *arg, bool cancelled)
{
    runner_t *r = arg;
    r->credit_timer = false;
    if (!cancelled)
        credit_update(r);
}

/* Loop thread: give each agent the credit its model endpoint has headroom for, so the
 * backlog waits in the queue (where KEDA sees it) instead of in memory or in retries. */
static void credit_update(void *ctx)
{
    runner_t *r = ctx;
    if (atomic_load(&r->stopping))
        return;
    uint64_t next = 0;
    for (size_t i = 0; i < r->served_count; i++) {
        served_agent_t *a = &r->served[i];
        uint64_t wait = 0;
        uint32_t credit = runner_model_agent_credit(r->model, a->def, a->share, &wait);
        if (wait && (!next || wait < next))
            next = wait;
        if (credit == a->credit)
            continue;
        uint32_t was = a->credit;
        a->credit = credit;
        if (!agent_credit_apply(a)) {
            a->credit = was; /* not applied: again on the next change */
            continue;
        }
        if (credit < was)
            aos_metric_counter_inc(a->m_credit_lowered);
        char from[16], to[16];
        snprintf(from, sizeof from, "%u", was);
        snprintf(to, sizeof to, "%u", credit);
        aos_log(AOS_LOG_INFO,
                credit < was ? "credit lowered: model headroom" : "credit raised: model headroom",
                "agent", a->def->name, "from", from, "to", to, NULL);
        aos_metric_gauge_set(a->m_credit, credit);
    }
    if (next && !r->credit_timer) {
        uint32_t ms = next > 60000 ? 60000 : (uint32_t)next;
        r->credit_timer = runner_loop_timer(r->loop, ms, credit_timer, r) == AOS_OK;
    }
}

static void start_heartbeats(void *arg, bool cancelled)
{
    if (cancelled)
        return;
    runner_t *r = arg;
    runner_sched_start(r->sched); /* first: the heartbeat then shows the next run */
    heartbeat_tick(r, false);
}

aos_result runner_start(runner_t *r, char *errbuf, size_t errlen)
{
    if (!r || r->started)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "runner already started");
    AOS_RETURN_IF_FAILED(runner_adapters_start(r->adapters, errbuf, errlen)); /* before turns */
    AOS_RETURN_IF_FAILED(runner_loop_start(r->loop));
    r->started = true;
    for (size_t i = 0; i < r->served_count; i++) {
        served_agent_t *a = &r->served[i];
        aos_result rc =
            aos_bus_subscribe(r->bus, a->queue, a->share + a->wait_share, on_delivery, a);
        if (rc != AOS_OK)
            return aos_fail(rc, errbuf, errlen, "subscribing %s: %s", a->queue, aos_result_str(rc));
        a->limit = a->share + a->wait_share;
        (void)agent_credit_apply(a); /* the share until turns wait */
        char share[16];
        snprintf(share, sizeof share, "%u", a->share);
        aos_log(AOS_LOG_INFO, "serving agent", "agent", a->def->name, "queue", a->queue,
                "max_inflight", share, "provider", runner_model_primary_provider(a->def), NULL);
    }
    return runner_loop_post(r->loop, start_heartbeats, r);
}

/* ---- drain and free ---- */

typedef struct release_all {
    runner_t *r;
    uint32_t released;
    bool done;
} release_all_t;

static void release_everything(void *arg, bool cancelled)
{
    (void)cancelled;
    release_all_t *ra = arg;
    runner_t *r = ra->r;
    for (size_t b = 0; b < RUNNER_CONV_BUCKETS; b++) {
        conv_t *c = r->convs[b];
        while (c) {
            conv_t *next = c->next;
            for (turn_t *t = c->head, *tn; t; t = tn) {
                tn = t->next_in_conv;
                if (t->delivery)
                    ra->released++;
                settle(t, TURN_END_RELEASED, NULL, NULL);
                t->ended = true;
                t->conv = NULL;
                turn_maybe_free(t);
            }
            free(c->id);
            free(c);
            c = next;
        }
        r->convs[b] = NULL;
    }
    pthread_mutex_lock(&r->drain_mu);
    ra->done = true;
    pthread_cond_broadcast(&r->drain_cv);
    pthread_mutex_unlock(&r->drain_mu);
}

uint32_t runner_drain(runner_t *r, int grace_ms)
{
    if (!r || !r->started)
        return 0;
    atomic_store(&r->stopping, true);
    runner_sched_stop(r->sched);
    aos_bus_pause(r->bus); /* a draining consumer grants no credit */
    struct timespec until = aos_clock_deadline(CLOCK_REALTIME, grace_ms);
    pthread_mutex_lock(&r->drain_mu);
    while (atomic_load(&r->inflight) > 0 &&
           pthread_cond_timedwait(&r->drain_cv, &r->drain_mu, &until) == 0) {
    }
    pthread_mutex_unlock(&r->drain_mu);
    release_all_t ra = {.r = r};
    if (runner_loop_post(r->loop, release_everything, &ra) != AOS_OK)
        return 0;
    pthread_mutex_lock(&r->drain_mu);
    while (!ra.done)
        pthread_cond_wait(&r->drain_cv, &r->drain_mu);
    pthread_mutex_unlock(&r->drain_mu);
    aos_log(AOS_LOG_INFO, "runner drained", NULL);
    return ra.released;
}

void runner_free(runner_t *r)
{
    if (!r)
        return;
    atomic_store(&r->stopping, true);
    /* loop thread first (posting then fails cleanly), then the knowledge loader (which may
     * still post), then what is left on the loop is cancelled */
    runner_loop_stop(r->loop);
    runner_knowledge_free(r->knowledge);
    runner_loop_free(r->loop);
    runner_sched_free(r->sched);
    runner_model_free(r->model);
    runner_adapters_free(r->adapters);
    for (size_t b = 0; b < RUNNER_CONV_BUCKETS; b++) {
        for (conv_t *c = r->convs[b], *next; c; c = next) {
            next = c->next;
            free(c->id);
            free(c);
        }
    }
    free(r->served);
    pthread_mutex_destroy(&r->drain_mu);
    pthread_cond_destroy(&r->drain_cv);
    free(r);
}

bool runner_ready(runner_t *r, char *reason, size_t reason_len)
{
    const char *why = NULL;
    if (!r || !r->started)
        why = "not started";
    else if (atomic_load(&r->stopping))
        why = "shutting down";
    else if (!aos_bus_is_connected(r->bus))
        why = "bus not connected";
    if (why && reason && reason_len)
        snprintf(reason, reason_len, "%s", why);
    return why == NULL;
}

void runner_get_stats(runner_t *r, runner_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    out->inflight = atomic_load(&r->inflight);
    out->capacity = r->cfg.capacity;
    out->answered = atomic_load(&r->answered);
    out->answered_from_storage = atomic_load(&r->answered_from_storage);
    out->released = atomic_load(&r->released);
    out->dead_lettered = atomic_load(&r->dead_lettered);
}
