/* Fuzz target: POST /v1/events deliveries (CloudEvents single/batch, Event Grid schema). The
 * first byte picks the Content-Type. */
#include <stdint.h>
#include <stdlib.h>

#include "events_in.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {NULL, "application/json", "application/cloudevents+json",
                                        "application/cloudevents-batch+json"};
    if (size == 0)
        return 0;
    const char *ct = types[data[0] % 4];
    router_event_delivery_t *d = NULL;
    if (router_events_parse(ct, (const char *)data + 1, size - 1, &d, NULL, 0) == AOS_OK) {
        if (d->is_validation) {
            char *resp = NULL;
            if (router_events_validation_response(d->validation_code, &resp) == AOS_OK)
                free(resp);
        }
        router_event_delivery_free(d);
    }
    return 0;
}
