/* bus_waiter.h (internal to aos_bus): what a blocking call (send_sync, request_sync) waits
 * on. Two references: the waiting caller and the pending operation; whoever lets go last
 * frees it, so a caller that timed out may leave while the operation still completes.
 */
#ifndef AOS_BUS_WAITER_H
#define AOS_BUS_WAITER_H

#include <pthread.h>
#include <stdbool.h>

#include "aos/envelope.h"
#include "aos/result.h"

typedef struct bus_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    aos_result result;
    char detail[256];
    aos_event_t *reply;
} bus_waiter_t;

/* A waiter with two references. */
bus_waiter_t *bus_waiter_new(void);
/* Record the outcome (reply may be NULL; it is cloned) and drop the operation's reference. */
void bus_waiter_complete(bus_waiter_t *w, aos_result r, const char *detail,
                         const aos_event_t *reply);
/* Wait up to timeout_ms; returns the outcome or AOS_ERR_TIMEOUT. The reply, if any, moves to
 * *out_reply; detail is copied to detail (may be NULL). Does not drop a reference. */
aos_result bus_waiter_wait(bus_waiter_t *w, int timeout_ms, aos_event_t **out_reply, char *detail,
                           size_t dlen);
void bus_waiter_release(bus_waiter_t *w);

#endif
