/* Helpers for the bus integration tests (header-only): a bus on the rabbitmq fixture, and
 * a thread-safe collector that handlers fill on the I/O thread and tests wait on. */
#ifndef AOS_BUS_TEST_UTIL_H
#define AOS_BUS_TEST_UTIL_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aos/bus.h"
#include "aos/envelope.h"
#include "aos/resilience.h"
#include "fixture.h"

#define T_MAX_IDS 4096

static inline aos_bus_t *t_bus(const char *tag, uint32_t max_deliveries)
{
    char url[512];
    if (aos_test_fixture_read("rabbitmq", "url", url, sizeof url) != 0)
        return NULL;
    char inst[128];
    snprintf(inst, sizeof inst, "test-%s-%ld-%ld", tag, (long)getpid(), (long)random() % 100000);
    aos_bus_config_t cfg = {.url = url,
                            .profile = AOS_BUS_PROFILE_RABBITMQ,
                            .instance_id = inst,
                            .reconnect_min_ms = 100,
                            .reconnect_max_ms = 1000,
                            .max_deliveries = max_deliveries};
    aos_bus_t *bus = NULL;
    char err[256];
    if (aos_bus_new(&cfg, &bus, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "aos_bus_new: %s\n", err);
        return NULL;
    }
    if (aos_bus_start(bus) != AOS_OK || aos_bus_wait_connected(bus, 20000) != AOS_OK) {
        fprintf(stderr, "bus did not connect to %s\n", url);
        aos_bus_free(bus);
        return NULL;
    }
    return bus;
}

static inline aos_event_t *t_event(const char *type, const char *data)
{
    aos_event_t *ev = NULL;
    if (aos_event_create(type, "/aos/tests/bus", data, &ev) != AOS_OK)
        return NULL;
    return ev;
}

static inline uint64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What a handler saw. */
typedef struct t_collector {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t count;               /* deliveries seen */
    char *ids[T_MAX_IDS];       /* event ids, in arrival order */
    uint32_t counts[T_MAX_IDS]; /* delivery_count of each */
    char *reasons[T_MAX_IDS];   /* dead-letter reason, if any */
    char *descriptions[T_MAX_IDS];
    char *sources[T_MAX_IDS];
    char *data[T_MAX_IDS]; /* NUL-terminated copy; data_len has the real length */
    size_t data_len[T_MAX_IDS];
    aos_bus_delivery_t *held[T_MAX_IDS]; /* deliveries kept unsettled */
    size_t held_count;
    size_t unsettled, peak_unsettled;
    int mode; /* what the handler does, see T_* */
    const char *reject_reason;
} t_collector_t;

enum { T_ACCEPT = 0, T_HOLD, T_RELEASE, T_REJECT };

static inline void t_collector_init(t_collector_t *c, int mode)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->mode = mode;
}

static inline void t_collector_destroy(t_collector_t *c)
{
    for (size_t i = 0; i < c->count && i < T_MAX_IDS; i++) {
        free(c->ids[i]);
        free(c->reasons[i]);
        free(c->descriptions[i]);
        free(c->sources[i]);
        free(c->data[i]);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static inline char *t_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static inline void t_on_message(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    t_collector_t *c = ctx;
    pthread_mutex_lock(&c->mu);
    size_t i = c->count++;
    if (i < T_MAX_IDS) {
        c->ids[i] = t_dup(ev->id);
        c->counts[i] = ev->delivery_count;
        c->reasons[i] = t_dup(aos_bus_delivery_dead_letter_reason(d));
        c->descriptions[i] = t_dup(aos_bus_delivery_dead_letter_description(d));
        c->sources[i] = t_dup(aos_bus_delivery_dead_letter_source(d));
        if (ev->data && (c->data[i] = malloc(ev->data_len + 1))) {
            memcpy(c->data[i], ev->data, ev->data_len);
            c->data[i][ev->data_len] = '\0';
            c->data_len[i] = ev->data_len;
        }
    }
    int mode = c->mode;
    if (mode == T_HOLD && c->held_count < T_MAX_IDS) {
        c->held[c->held_count++] = d;
        c->unsettled++;
        if (c->unsettled > c->peak_unsettled)
            c->peak_unsettled = c->unsettled;
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    switch (mode) {
    case T_ACCEPT:
        aos_bus_accept(d);
        break;
    case T_RELEASE:
        aos_bus_release(d);
        break;
    case T_REJECT:
        aos_bus_reject(d, c->reject_reason, "the test rejects it");
        break;
    default:
        break;
    }
}

/* Wait until pred(c) holds (checked under the lock) or timeout; returns pred's value. */
static inline int t_wait(t_collector_t *c, int (*pred)(t_collector_t *, void *), void *arg,
                         int timeout_ms)
{
    uint64_t until = t_now_ms() + (uint64_t)timeout_ms;
    pthread_mutex_lock(&c->mu);
    int ok;
    while (!(ok = pred(c, arg)) && t_now_ms() < until) {
        struct timespec ts = aos_clock_deadline(CLOCK_REALTIME, 50);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    return ok;
}

static inline int t_pred_count_at_least(t_collector_t *c, void *arg)
{
    return c->count >= *(size_t *)arg;
}

/* Index of the first delivery of id, or -1 (call with the lock held or after waiting). */
static inline long t_find(t_collector_t *c, const char *id)
{
    for (size_t i = 0; i < c->count && i < T_MAX_IDS; i++)
        if (c->ids[i] && strcmp(c->ids[i], id) == 0)
            return (long)i;
    return -1;
}

static inline int t_pred_has_id(t_collector_t *c, void *arg)
{
    return t_find(c, arg) >= 0;
}

#endif
