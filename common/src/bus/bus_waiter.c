/* Blocking calls wait on a reference-counted waiter (see bus_waiter.h). */
#include "bus_waiter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aos/resilience.h"

bus_waiter_t *bus_waiter_new(void)
{
    bus_waiter_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &attr);
    pthread_condattr_destroy(&attr);
    w->refs = 2;
    return w;
}

void bus_waiter_complete(bus_waiter_t *w, aos_result r, const char *detail,
                         const aos_event_t *reply)
{
    pthread_mutex_lock(&w->mu);
    if (!w->done) {
        w->done = true;
        w->result = r;
        snprintf(w->detail, sizeof w->detail, "%s", detail ? detail : "");
        if (reply && aos_event_clone(reply, &w->reply) != AOS_OK) {
            w->reply = NULL;
            w->result = AOS_ERR_NOMEM;
        }
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    bus_waiter_release(w);
}

aos_result bus_waiter_wait(bus_waiter_t *w, int timeout_ms, aos_event_t **out_reply, char *detail,
                           size_t dlen)
{
    struct timespec until = aos_clock_deadline(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
            break;
    aos_result r = w->done ? w->result : AOS_ERR_TIMEOUT;
    if (detail && dlen)
        snprintf(detail, dlen, "%s", w->done ? w->detail : "");
    if (out_reply) {
        *out_reply = w->reply;
        w->reply = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    return r;
}

void bus_waiter_release(bus_waiter_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    int left = --w->refs;
    pthread_mutex_unlock(&w->mu);
    if (left > 0)
        return;
    aos_event_free(w->reply);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
