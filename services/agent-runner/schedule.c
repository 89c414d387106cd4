/* Agents wake on their schedule, each tick once across all replicas (schedule.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "runner_internal.h"
#include "schedule.h"

#define SCHED_KIND "schedule"
#define SCHED_RETRY_MS 5000 /* after a storage or bus failure */
#define SKIP_COUNT_MAX 1000000u

typedef struct sched_agent {
    runner_sched_t *s;
    const aos_agent_def_t *def;
    char queue[96];
    time_t watch_start; /* ticks after this one are ours to fire when the agent never fired */
    time_t last;        /* the last fired tick (0: never) */
    time_t next;        /* the next tick (0: none) */
    char *version;      /* the schedule record's version; NULL: no record */
    bool claimed;       /* the record says "claimed" (the tick's turn may not be sent yet) */
    bool claimed_by_me;
    int64_t claimed_ms;
    bool busy; /* a storage or bus operation is in flight */
    aos_metric_counter_t *m_fired, *m_missed;
} sched_agent_t;

struct runner_sched {
    runner_t *r;
    sched_agent_t *agents;
    size_t count;
    atomic_bool stopping;
};

/* A storage/bus answer on its way from the bus thread to the loop. */
typedef struct sched_hop {
    sched_agent_t *a;
    aos_result rc;
    char *data_json, *version;
    time_t tick;
    void (*next)(struct sched_hop *h);
} sched_hop_t;

static void evaluate(sched_agent_t *a);

/* ---- the pure part ---- */

aos_result runner_sched_due(const aos_schedule_t *s, time_t last, time_t now, uint32_t catch_up_s,
                            time_t *out_due, uint64_t *out_skipped, time_t *out_next)
{
    *out_due = 0;
    *out_skipped = 0;
    *out_next = 0;
    time_t t = 0;
    AOS_RETURN_IF_FAILED(aos_schedule_next(s, last, &t));
    time_t floor = now - (time_t)catch_up_s;
    uint64_t skipped = 0;
    while (t <= now && t < floor) { /* too old to catch up */
        if (++skipped >= SKIP_COUNT_MAX) {
            AOS_RETURN_IF_FAILED(aos_schedule_next(s, floor - 1, &t));
            break;
        }
        AOS_RETURN_IF_FAILED(aos_schedule_next(s, t, &t));
    }
    time_t newest = 0;
    while (t <= now) { /* due: all but the newest are coalesced into it */
        if (newest && skipped < SKIP_COUNT_MAX)
            skipped++;
        newest = t;
        AOS_RETURN_IF_FAILED(aos_schedule_next(s, t, &t));
    }
    *out_due = newest;
    *out_skipped = skipped;
    *out_next = t;
    return AOS_OK;
}

/* ---- loop-thread plumbing ---- */

static void hop_run(void *arg, bool cancelled)
{
    sched_hop_t *h = arg;
    if (!cancelled)
        h->next(h);
    free(h->data_json);
    free(h->version);
    free(h);
}

static sched_hop_t *hop_new(sched_agent_t *a, time_t tick, void (*next)(sched_hop_t *))
{
    sched_hop_t *h = calloc(1, sizeof *h);
    if (h) {
        h->a = a;
        h->tick = tick;
        h->next = next;
    }
    return h;
}

static void hop_post(sched_hop_t *h)
{
    if (runner_loop_post(h->a->s->r->loop, hop_run, h) != AOS_OK) {
        free(h->data_json);
        free(h->version);
        free(h);
    }
}

static void on_timer(void *arg, bool cancelled)
{
    sched_agent_t *a = arg;
    if (cancelled || atomic_load(&a->s->stopping))
        return;
    if (a->next && time(NULL) < a->next) {
        int64_t ms = ((int64_t)a->next - (int64_t)time(NULL)) * 1000;
        runner_loop_timer(
            a->s->r->loop,
            (uint32_t)(ms > RUNNER_SCHED_MAX_SLEEP_MS ? RUNNER_SCHED_MAX_SLEEP_MS : ms), on_timer,
            a);
        return;
    }
    evaluate(a);
}

static void sleep_until_next(sched_agent_t *a)
{
    int64_t ms = a->next ? ((int64_t)a->next - (int64_t)time(NULL)) * 1000 : 0;
    if (!a->next || ms > RUNNER_SCHED_MAX_SLEEP_MS)
        ms = RUNNER_SCHED_MAX_SLEEP_MS;
    if (ms < 0)
        ms = 0;
    runner_loop_timer(a->s->r->loop, (uint32_t)ms, on_timer, a);
}

static void retry_later(sched_agent_t *a)
{
    a->busy = false;
    runner_loop_timer(a->s->r->loop, SCHED_RETRY_MS, on_timer, a);
}

/* ---- the schedule record ---- */

static void on_record(void *ctx, aos_result r, const aos_storage_record_t *rec, const char *errmsg)
{
    sched_hop_t *h = ctx;
    h->rc = r;
    if (r == AOS_OK && rec) {
        h->data_json = rec->data_json ? strdup(rec->data_json) : NULL;
        h->version = rec->version ? strdup(rec->version) : NULL;
    } else if (r != AOS_OK && r != AOS_ERR_NOT_FOUND && r != AOS_ERR_CONFLICT) {
        aos_log(AOS_LOG_WARN, "schedule record", "agent", h->a->def->name, "detail",
                errmsg ? errmsg : aos_result_str(r), NULL);
    }
    hop_post(h);
}

static void set_version(sched_agent_t *a, const char *v)
{
    free(a->version);
    a->version = v ? strdup(v) : NULL;
}

/* The record as read: {"last_tick": s, "state": "claimed"|"sent", "owner", "claimed_ms"}. */
static void take_record(sched_agent_t *a, const char *data_json, const char *version)
{
    json_object *o = NULL;
    set_version(a, version);
    a->claimed = false;
    a->claimed_by_me = false;
    if (!data_json ||
        aos_json_parse_object(data_json, strlen(data_json), 0, 0, &o, NULL, 0) != AOS_OK)
        return;
    int64_t last = 0, at = 0;
    bool has = false;
    const char *state = NULL, *owner = NULL;
    aos_json_get_int(o, "last_tick", AOS_JSON_OPTIONAL, &last, &has, NULL, 0);
    aos_json_get_int(o, "claimed_ms", AOS_JSON_OPTIONAL, &at, &has, NULL, 0);
    aos_json_get_string(o, "state", AOS_JSON_OPTIONAL, &state, NULL, 0);
    aos_json_get_string(o, "owner", AOS_JSON_OPTIONAL, &owner, NULL, 0);
    a->last = (time_t)last;
    a->claimed = state && strcmp(state, "claimed") == 0;
    a->claimed_by_me = owner && strcmp(owner, aos_bus_instance_id(a->s->r->bus)) == 0;
    a->claimed_ms = at;
    json_object_put(o);
}

static char *record_json(sched_agent_t *a, time_t tick, const char *state)
{
    json_object *o = json_object_new_object();
    char *text = NULL;
    if (o && aos_json_add_int(o, "last_tick", (int64_t)tick) == AOS_OK &&
        aos_json_add_string(o, "state", state) == AOS_OK &&
        aos_json_add_string(o, "owner", aos_bus_instance_id(a->s->r->bus)) == AOS_OK &&
        aos_json_add_int(o, "claimed_ms", aos_clock_realtime_ms()) == AOS_OK)
        aos_json_to_string(o, &text, NULL);
    json_object_put(o);
    return text;
}

/* ---- firing ---- */

static void iso_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The tick's event turn (docs/bus-messages.md "Turns"), message id derived from (agent,
 * tick) so a resend is the same turn. */
static aos_event_t *tick_turn(sched_agent_t *a, time_t tick)
{
    const aos_agent_def_t *d = a->def;
    char mid[160], conv[160], eid[160], when[32], source[200];
    snprintf(mid, sizeof mid, "sched-%s-%lld", d->name, (long long)tick);
    snprintf(conv, sizeof conv, "schedule-%s", d->name);
    snprintf(eid, sizeof eid, "%s:%lld", d->name, (long long)tick);
    snprintf(source, sizeof source, "/aos/schedule/%s", d->name);
    iso_time(tick, when);
    json_object *turn = json_object_new_object(), *ev = json_object_new_object(),
                *data = json_object_new_object(), *routing = json_object_new_object();
    char sched[64];
    if (d->schedule.interval_s)
        snprintf(sched, sizeof sched, "every %u s", d->schedule.interval_s);
    aos_json_add_string(data, "agent", d->name);
    aos_json_add_string(data, "tick", when);
    aos_json_add_string(data, "schedule", d->schedule.cron ? d->schedule.cron : sched);
    aos_json_add_string(ev, "specversion", "1.0");
    aos_json_add_string(ev, "id", eid);
    aos_json_add_string(ev, "type", RUNNER_SCHED_EVENT_TYPE);
    aos_json_add_string(ev, "source", source);
    aos_json_add_string(ev, "subject", d->name);
    aos_json_add_string(ev, "time", when);
    aos_json_add(ev, "data", data);
    aos_json_add_string(routing, "reason", "schedule");
    aos_json_add_string(turn, "conversation_id", conv);
    aos_json_add_string(turn, "message_id", mid);
    aos_json_add_string(turn, "agent", d->name);
    aos_json_add_string(turn, "kind", "event");
    aos_json_add_string(turn, "text", d->schedule.text);
    aos_json_add(turn, "event", ev);
    aos_json_add(turn, "routing", routing);
    char *json = NULL;
    aos_event_t *out = NULL;
    if (aos_json_to_string(turn, &json, NULL) == AOS_OK &&
        aos_event_create("aos.agent.turn", a->s->r->source, json, &out) == AOS_OK &&
        (aos_event_set(&out->id, mid) != AOS_OK || aos_event_set(&out->group_id, conv) != AOS_OK ||
         aos_event_set(&out->subject, conv) != AOS_OK)) {
        aos_event_free(out);
        out = NULL;
    }
    free(json);
    json_object_put(turn);
    return out;
}

static void after_mark_sent(sched_hop_t *h)
{
    sched_agent_t *a = h->a;
    a->busy = false;
    if (h->rc == AOS_OK) {
        a->claimed = false;
        set_version(a, h->version);
    } /* a conflict: someone moved on already; the next evaluation reads it */
    sleep_until_next(a);
}

static void after_send(sched_hop_t *h)
{
    sched_agent_t *a = h->a;
    char tick[24];
    snprintf(tick, sizeof tick, "%lld", (long long)h->tick);
    if (h->rc != AOS_OK) {
        aos_log(AOS_LOG_WARN, "schedule tick not sent (retrying)", "agent", a->def->name, "tick",
                tick, "detail", aos_result_str(h->rc), NULL);
        retry_later(a);
        return;
    }
    aos_metric_counter_inc(a->m_fired);
    aos_log(AOS_LOG_INFO, "schedule fired", "agent", a->def->name, "tick", tick, NULL);
    char *json = record_json(a, h->tick, "sent");
    sched_hop_t *n = json ? hop_new(a, h->tick, after_mark_sent) : NULL;
    if (!n || aos_storage_record_put(a->s->r->storage, SCHED_KIND, a->def->name, json, a->version,
                                     on_record, n) != AOS_OK) {
        free(n);
        a->busy = false;
        sleep_until_next(a);
    }
    free(json);
}

static void on_sent(void *ctx, aos_result r, const char *detail)
{
    (void)detail;
    sched_hop_t *h = ctx;
    h->rc = r;
    hop_post(h);
}

static void send_tick(sched_agent_t *a, time_t tick)
{
    aos_event_t *ev = tick_turn(a, tick);
    sched_hop_t *h = ev ? hop_new(a, tick, after_send) : NULL;
    if (!h || aos_bus_send(a->s->r->bus, a->queue, ev, on_sent, h) != AOS_OK) {
        free(h);
        retry_later(a);
    }
    aos_event_free(ev);
}

static void after_claim(sched_hop_t *h)
{
    sched_agent_t *a = h->a;
    if (h->rc == AOS_OK) {
        set_version(a, h->version);
        a->last = h->tick;
        a->claimed = true;
        a->claimed_by_me = true;
        send_tick(a, h->tick);
        return;
    }
    a->busy = false;
    if (h->rc == AOS_ERR_CONFLICT) /* another replica fired it (or moved the record): re-read */
        evaluate(a);
    else
        retry_later(a);
}

static void claim(sched_agent_t *a, time_t tick)
{
    char *json = record_json(a, tick, "claimed");
    sched_hop_t *h = json ? hop_new(a, tick, after_claim) : NULL;
    /* if_match NULL creates only: of two runners racing the first tick, one creates */
    if (!h || aos_storage_record_put(a->s->r->storage, SCHED_KIND, a->def->name, json, a->version,
                                     on_record, h) != AOS_OK) {
        free(h);
        retry_later(a);
    }
    free(json);
}

static void after_read(sched_hop_t *h)
{
    sched_agent_t *a = h->a;
    if (h->rc == AOS_ERR_NOT_FOUND) {
        set_version(a, NULL);
        a->last = 0;
        a->claimed = false;
    } else if (h->rc == AOS_OK) {
        take_record(a, h->data_json, h->version);
    } else {
        retry_later(a);
        return;
    }
    if (atomic_load(&a->s->stopping)) {
        a->busy = false;
        return;
    }
    time_t now = time(NULL);
    /* a claimed tick whose turn may not have been sent: ours (resend now) or stale (take over) */
    if (a->claimed && a->last &&
        (a->claimed_by_me ||
         aos_clock_realtime_ms() - a->claimed_ms > RUNNER_SCHED_CLAIM_STALE_MS)) {
        if (a->claimed_by_me) {
            send_tick(a, a->last);
        } else {
            claim(a, a->last);
        }
        return;
    }
    time_t due = 0, next = 0;
    uint64_t skipped = 0;
    aos_result r = runner_sched_due(&a->def->schedule, a->last ? a->last : a->watch_start, now,
                                    RUNNER_SCHED_CATCH_UP_S, &due, &skipped, &next);
    a->next = r == AOS_OK ? next : 0;
    if (skipped && a->last) {
        char n[24];
        snprintf(n, sizeof n, "%llu", (unsigned long long)skipped);
        aos_metric_counter_add(a->m_missed, (double)skipped);
        aos_log(AOS_LOG_WARN, "schedule ticks missed while no runner was up (coalesced)", "agent",
                a->def->name, "skipped", n, NULL);
    }
    if (r == AOS_OK && due) {
        claim(a, due);
        return;
    }
    a->busy = false;
    sleep_until_next(a);
}

static void evaluate(sched_agent_t *a)
{
    if (a->busy || atomic_load(&a->s->stopping))
        return;
    a->busy = true;
    sched_hop_t *h = hop_new(a, 0, after_read);
    if (!h || aos_storage_record_get(a->s->r->storage, SCHED_KIND, a->def->name, on_record, h) !=
                  AOS_OK) {
        free(h);
        retry_later(a);
    }
}

/* ---- lifecycle ---- */

aos_result runner_sched_new(runner_t *r, runner_sched_t **out)
{
    *out = NULL;
    size_t n = 0;
    for (size_t i = 0; i < r->served_count; i++)
        n += r->served[i].def->schedule.enabled;
    if (!n)
        return AOS_OK;
    runner_sched_t *s = calloc(1, sizeof *s);
    if (!s || !(s->agents = calloc(n, sizeof *s->agents))) {
        free(s);
        return AOS_ERR_NOMEM;
    }
    s->r = r;
    for (size_t i = 0; i < r->served_count; i++) {
        const aos_agent_def_t *d = r->served[i].def;
        if (!d->schedule.enabled)
            continue;
        sched_agent_t *a = &s->agents[s->count++];
        a->s = s;
        a->def = d;
        snprintf(a->queue, sizeof a->queue, "%s", r->served[i].queue);
        a->m_fired =
            aos_metrics_counter(NULL, "aos_runner_schedule_fired_total",
                                "Schedule ticks this instance fired.", "agent", d->name, NULL);
        a->m_missed = aos_metrics_counter(
            NULL, "aos_runner_schedule_missed_total",
            "Schedule ticks skipped because no runner was up (coalesced or too old).", "agent",
            d->name, NULL);
    }
    *out = s;
    return AOS_OK;
}

void runner_sched_start(runner_sched_t *s)
{
    if (!s)
        return;
    time_t now = time(NULL);
    for (size_t i = 0; i < s->count; i++) {
        s->agents[i].watch_start = now;
        evaluate(&s->agents[i]);
    }
}

void runner_sched_stop(runner_sched_t *s)
{
    if (s)
        atomic_store(&s->stopping, true);
}

void runner_sched_free(runner_sched_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        free(s->agents[i].version);
    free(s->agents);
    free(s);
}

bool runner_sched_times(const runner_sched_t *s, const char *agent, int64_t *out_last_ms,
                        int64_t *out_next_ms)
{
    for (size_t i = 0; s && i < s->count; i++) {
        const sched_agent_t *a = &s->agents[i];
        if (strcmp(a->def->name, agent) != 0)
            continue;
        *out_last_ms = (int64_t)a->last * 1000;
        *out_next_ms = (int64_t)a->next * 1000;
        return true;
    }
    return false;
}
