/* Dead-letter replay (docs/bus.md "Replaying dead letters"): the same event under a new AMQP
 * message-id, so Service Bus duplicate detection (keyed on message-id, 10 min window in the
 * template) does not silently drop it; consumers dedupe on the event id (cloudEvents:id),
 * which stays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/bus.h"
#include "bus_internal.h"
#include "bus_util.h"
#include "bus_waiter.h"

static void replay_done(void *ctx, aos_result r, const char *detail)
{
    bus_waiter_complete(ctx, r, detail, NULL);
}

aos_result aos_bus_replay_sync(aos_bus_t *bus, const char *queue, const aos_event_t *ev,
                               int timeout_ms, char *errbuf, size_t errlen)
{
    char addr[BUS_ADDR_MAX];
    if (!bus || !ev || !ev->id ||
        aos_bus_map_queue(bus->profile, queue, addr, sizeof addr) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "replay: bad queue or event");
    if (bus_on_io_thread(bus))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "replay called on the bus thread");
    uint64_t a = bus_random(), b = bus_random();
    char mid[160];
    /* Service Bus message-ids are at most 128 characters */
    if (strlen(ev->id) <= 80)
        snprintf(mid, sizeof mid, "%s/replay-%016llx%08llx", ev->id, (unsigned long long)a,
                 (unsigned long long)(b & 0xffffffffu));
    else
        snprintf(mid, sizeof mid, "replay-%016llx%016llx", (unsigned long long)a,
                 (unsigned long long)b);
    char *bytes = NULL;
    size_t len = 0;
    AOS_RETURN_IF_FAILED(bus_msg_encode_replay(ev, mid, &bytes, &len, errbuf, errlen));
    bus_waiter_t *w = bus_waiter_new();
    if (!w) {
        free(bytes);
        return AOS_ERR_NOMEM;
    }
    aos_result r = bus_send_bytes(bus, addr, bytes, len, replay_done, w);
    if (r != AOS_OK) {
        bus_waiter_release(w);
        bus_waiter_release(w);
        return aos_fail(r, errbuf, errlen, "replay to %s: %s", queue, aos_result_str(r));
    }
    char detail[256] = "";
    r = bus_waiter_wait(w, timeout_ms, NULL, detail, sizeof detail);
    if (r != AOS_OK)
        aos_fail(r, errbuf, errlen, "replay to %s: %s%s%s", queue, aos_result_str(r),
                 detail[0] ? ": " : "", detail);
    bus_waiter_release(w);
    return r;
}
