/* Fuzz target: what the bus reads from a delivery's bytes (outside data from the broker):
 * the envelope, the delivery count and the dead-letter properties, and the copy the RabbitMQ
 * profile builds from them for dead letters. */
#include <stdint.h>
#include <stdlib.h>

#include "aos/envelope.h"
#include "bus_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *bytes = (const char *)data;
    aos_event_t *ev = NULL;
    bus_msg_info_t info;
    char err[256];
    for (int p = AOS_BUS_PROFILE_RABBITMQ; p <= AOS_BUS_PROFILE_SERVICEBUS; p++) {
        aos_result r = bus_msg_decode((aos_bus_profile)p, bytes, size, &ev, &info, err, sizeof err);
        if ((r == AOS_OK) != (ev != NULL))
            abort();
        aos_event_free(ev);
        ev = NULL;
        bus_msg_info_clear(&info);
    }
    char *copy = NULL;
    size_t len = 0;
    if (bus_msg_copy(bytes, size, "/amq/queue/q", 3, "aos:poison", "fuzz", &copy, &len) == AOS_OK) {
        /* the copy must itself be readable and carry the reason */
        if (bus_msg_decode(AOS_BUS_PROFILE_RABBITMQ, copy, len, &ev, &info, err, sizeof err) ==
            AOS_ERR_NOMEM)
            abort();
        if (!info.dl_reason)
            abort();
        aos_event_free(ev);
        bus_msg_info_clear(&info);
        free(copy);
    }
    return 0;
}
