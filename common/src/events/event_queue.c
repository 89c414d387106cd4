/* Bounded drop-oldest event queue with one worker thread (see events_internal.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/log.h"
#include "aos/resilience.h"
#include "events_internal.h"

aos_result ev_sink_new(aos_event_publisher_t *pub, const char *name, size_t cap,
                       aos_metrics_t *metrics, ev_sink_t **out)
{
    ev_sink_t *s = calloc(1, sizeof *s);
    if (!s)
        return AOS_ERR_NOMEM;
    s->ring = calloc(cap, sizeof *s->ring);
    if (!s->ring) {
        free(s);
        return AOS_ERR_NOMEM;
    }
    s->name = name;
    s->pub = pub;
    s->cap = cap;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    s->m_published = aos_metrics_counter(metrics, "aos_events_published_total",
                                         "Events accepted by a sink.", "sink", name, NULL);
    s->m_failed = aos_metrics_counter(metrics, "aos_events_failed_total",
                                      "Events a sink refused or gave up on after retries.", "sink",
                                      name, NULL);
    static const char drop_help[] = "Events dropped before reaching a sink.";
    s->m_drop_full = aos_metrics_counter(metrics, "aos_events_dropped_total", drop_help, "sink",
                                         name, "reason", "queue_full", NULL);
    s->m_drop_large = aos_metrics_counter(metrics, "aos_events_dropped_total", drop_help, "sink",
                                          name, "reason", "too_large", NULL);
    s->m_drop_shutdown = aos_metrics_counter(metrics, "aos_events_dropped_total", drop_help, "sink",
                                             name, "reason", "shutdown", NULL);
    s->m_queued = aos_metrics_gauge(metrics, "aos_events_queued",
                                    "Events waiting in a sink's queue.", "sink", name, NULL);
    *out = s;
    return AOS_OK;
}

aos_result ev_sink_start(ev_sink_t *s, ev_worker_fn fn)
{
    if (pthread_create(&s->thread, NULL, fn, s) != 0)
        return AOS_ERR_INTERNAL;
    s->running = true;
    return AOS_OK;
}

void ev_sink_count(ev_sink_t *s, bool ok, uint64_t n)
{
    if (ok) {
        atomic_fetch_add(&s->published, n);
        aos_metric_counter_add(s->m_published, n);
    } else {
        atomic_fetch_add(&s->failed, n);
        aos_metric_counter_add(s->m_failed, n);
    }
}

void ev_sink_count_drop(ev_sink_t *s, aos_metric_counter_t *reason, uint64_t n)
{
    atomic_fetch_add(&s->dropped, n);
    aos_metric_counter_add(reason, n);
}

void ev_sink_push(ev_sink_t *s, aos_event_t *ev)
{
    aos_event_t *dropped = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->count == s->cap) {
        dropped = s->ring[s->head];
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    s->ring[(s->head + s->count) % s->cap] = ev;
    s->count++;
    if (!dropped)
        aos_metric_gauge_inc(s->m_queued);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (dropped) {
        ev_sink_count_drop(s, s->m_drop_full, 1);
        aos_log(AOS_LOG_WARN, "event queue full, dropped the oldest event", "sink", s->name, "id",
                dropped->id, "type", dropped->type, NULL);
        aos_event_free(dropped);
    }
}

static bool past_deadline_locked(ev_sink_t *s)
{
    return s->stopping && aos_clock_monotonic_ms() >= s->deadline_ms;
}

size_t ev_sink_take(ev_sink_t *s, aos_event_t **out, size_t max, uint32_t linger_ms)
{
    pthread_mutex_lock(&s->mu);
    while (s->count == 0 && !s->stopping)
        pthread_cond_wait(&s->cv, &s->mu);
    if (s->count > 0 && s->count < max && !s->stopping && linger_ms > 0) {
        struct timespec until = aos_clock_deadline(CLOCK_MONOTONIC, linger_ms);
        while (s->count < max && !s->stopping) {
            if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
                break;
        }
    }
    size_t n = 0;
    if (!past_deadline_locked(s)) {
        while (n < max && s->count > 0) {
            out[n++] = s->ring[s->head];
            s->head = (s->head + 1) % s->cap;
            s->count--;
        }
    }
    pthread_mutex_unlock(&s->mu);
    aos_metric_gauge_add(s->m_queued, -(double)n);
    return n;
}

bool ev_sink_sleep(ev_sink_t *s, uint64_t ms)
{
    pthread_mutex_lock(&s->mu);
    int64_t until = aos_clock_monotonic_ms() + (int64_t)ms;
    for (;;) {
        int64_t now = aos_clock_monotonic_ms();
        int64_t end = until;
        if (s->stopping && s->deadline_ms < end)
            end = s->deadline_ms;
        if (now >= end)
            break;
        struct timespec ts = aos_clock_deadline(CLOCK_MONOTONIC, end - now);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    bool alive = !past_deadline_locked(s);
    pthread_mutex_unlock(&s->mu);
    return alive;
}

bool ev_sink_alive(ev_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    bool alive = !past_deadline_locked(s);
    pthread_mutex_unlock(&s->mu);
    return alive;
}

uint32_t ev_sink_remaining_ms(ev_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    int64_t left = s->stopping ? s->deadline_ms - aos_clock_monotonic_ms() : (int64_t)UINT32_MAX;
    pthread_mutex_unlock(&s->mu);
    if (left < 1)
        return 1;
    return left > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

void ev_sink_stop(ev_sink_t *s, uint32_t flush_ms)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    s->deadline_ms = aos_clock_monotonic_ms() + flush_ms;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->running) {
        pthread_join(s->thread, NULL);
        s->running = false;
    }
    size_t left = 0;
    pthread_mutex_lock(&s->mu);
    while (s->count > 0) {
        aos_event_free(s->ring[s->head]);
        s->head = (s->head + 1) % s->cap;
        s->count--;
        left++;
    }
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        aos_metric_gauge_add(s->m_queued, -(double)left);
        ev_sink_count_drop(s, s->m_drop_shutdown, left);
        char n[24];
        snprintf(n, sizeof n, "%zu", left);
        aos_log(AOS_LOG_WARN, "flush deadline passed, dropped queued events", "sink", s->name,
                "count", n, NULL);
    }
}

void ev_sink_free(ev_sink_t *s)
{
    if (!s)
        return;
    ev_sink_stop(s, 0);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->ring);
    free(s);
}

void ev_sink_stats(ev_sink_t *s, aos_event_sink_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    out->published = atomic_load(&s->published);
    out->failed = atomic_load(&s->failed);
    out->dropped = atomic_load(&s->dropped);
    pthread_mutex_lock(&s->mu);
    out->queued = s->count;
    pthread_mutex_unlock(&s->mu);
}
