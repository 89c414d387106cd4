/* Reading a dead-letter queue by receiving from it (aos/bus_dlq.h, docs/bus.md "Dead
 * letters"): aosctl dlq and the router's console dead-letter routes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/bus_dlq.h"
#include "aos/resilience.h"
#include "bus_internal.h"
#include "bus_util.h"

#define DLQ_CREDIT 256 /* dead letters one receiver holds unsettled at the most */

struct aos_bus_dlq {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    aos_bus_delivery_t **items;
    size_t count, max;
    const char *want_id; /* borrowed for the time of aos_bus_dlq_collect */
    bool closed;         /* collecting is over: whatever arrives now goes back untouched */
    bool found;          /* the dead letter with want_id is held */
};

aos_result aos_bus_dead_letter_address(const aos_bus_t *bus, const char *queue, char *out,
                                       size_t outlen)
{
    char addr[BUS_ADDR_MAX];
    if (!bus || aos_bus_map_queue(bus->profile, queue, addr, sizeof addr) != AOS_OK)
        return AOS_ERR_INVALID;
    return aos_bus_map_dead_letter(bus->profile, addr, out, outlen);
}

aos_result aos_bus_dlq_new(size_t max, aos_bus_dlq_t **out)
{
    *out = NULL;
    if (max == 0)
        return AOS_ERR_INVALID;
    aos_bus_dlq_t *c = calloc(1, sizeof *c);
    if (!c || !(c->items = calloc(max, sizeof *c->items))) {
        free(c);
        return AOS_ERR_NOMEM;
    }
    c->max = max;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    *out = c;
    return AOS_OK;
}

/* Under c->lock. */
static bool already_held(const aos_bus_dlq_t *c, const aos_event_t *ev)
{
    for (size_t i = 0; i < c->count; i++) {
        const aos_event_t *x = c->items[i] ? aos_bus_delivery_event(c->items[i]) : NULL;
        if (x && ev && x->id && ev->id && strcmp(x->id, ev->id) == 0)
            return true;
    }
    return false;
}

/* Bus I/O thread. */
static void on_dead_letter(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    aos_bus_dlq_t *c = ctx;
    pthread_mutex_lock(&c->lock);
    /* Each dead letter once: after collecting (the released copies come back while the caller
     * acts) or a second copy of one already held stays where it is. */
    if (!c->closed && c->count < c->max && !already_held(c, ev)) {
        c->items[c->count++] = d;
        d = NULL;
        if (c->want_id && ev && ev->id && strcmp(ev->id, c->want_id) == 0)
            c->found = true;
    }
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (d) /* beyond max, late or a second copy: it stays where it is */
        aos_bus_release(d);
}

static bool stopped(const atomic_bool *stop)
{
    return stop && atomic_load(stop);
}

/* Until max arrived, the wanted one arrived, nothing new for quiet_ms, or *stop. */
static void wait_quiet(aos_bus_dlq_t *c, int quiet_ms, const atomic_bool *stop)
{
    pthread_mutex_lock(&c->lock);
    size_t seen = (size_t)-1;
    while (c->count < c->max && c->count != seen && !c->found && !stopped(stop)) {
        seen = c->count;
        struct timespec ts = aos_clock_deadline(CLOCK_REALTIME, quiet_ms);
        while (c->count == seen && c->count < c->max && !c->found)
            if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0)
                break;
    }
    pthread_mutex_unlock(&c->lock);
}

aos_result aos_bus_dlq_collect(aos_bus_dlq_t *c, aos_bus_t *bus, const char *queue, int quiet_ms,
                               const char *want_id, const atomic_bool *stop)
{
    char addr[BUS_ADDR_MAX];
    pthread_mutex_lock(&c->lock);
    c->want_id = want_id;
    pthread_mutex_unlock(&c->lock);
    aos_result r = aos_bus_dead_letter_address(bus, queue, addr, sizeof addr);
    if (r == AOS_OK)
        r = aos_bus_subscribe_address(
            bus, addr, (uint32_t)(c->max < DLQ_CREDIT ? c->max : DLQ_CREDIT), on_dead_letter, c);
    if (r == AOS_OK)
        wait_quiet(c, quiet_ms, stop);
    pthread_mutex_lock(&c->lock);
    c->closed = true; /* also when subscribing failed */
    c->want_id = NULL;
    pthread_mutex_unlock(&c->lock);
    return r;
}

/* After collecting the items no longer change but by the caller: no lock needed. */
size_t aos_bus_dlq_count(const aos_bus_dlq_t *c)
{
    return c ? c->count : 0;
}

aos_bus_delivery_t *aos_bus_dlq_get(const aos_bus_dlq_t *c, size_t i)
{
    return c && i < c->count ? c->items[i] : NULL;
}

aos_bus_delivery_t *aos_bus_dlq_take(aos_bus_dlq_t *c, size_t i)
{
    aos_bus_delivery_t *d = aos_bus_dlq_get(c, i);
    if (d)
        c->items[i] = NULL;
    return d;
}

size_t aos_bus_dlq_find(const aos_bus_dlq_t *c, const char *id)
{
    size_t n = aos_bus_dlq_count(c);
    for (size_t i = 0; id && i < n; i++) {
        const aos_event_t *ev = c->items[i] ? aos_bus_delivery_event(c->items[i]) : NULL;
        if (ev && ev->id && strcmp(ev->id, id) == 0)
            return i;
    }
    return n;
}

void aos_bus_dlq_release(aos_bus_dlq_t *c)
{
    for (size_t i = 0; c && i < c->count; i++) {
        aos_bus_delivery_t *d = aos_bus_dlq_take(c, i);
        if (d)
            aos_bus_release(d);
    }
}

void aos_bus_dlq_free(aos_bus_dlq_t *c)
{
    if (!c)
        return;
    free(c->items);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}
