/* The ingress queue (docs/servicebus.md, "Publishing events to AOS"): CloudEvents that
 * applications publish straight to the bus (Service Bus queue aos.ingress, RabbitMQ queue
 * aos.ingress) get the treatment of POST /v1/events: a turn for every agent subscribed to the
 * event's type, with the same deterministic turn ids (so a re-published or redelivered event is
 * the same turn), settled once every turn is queued (released, so retried, when one is not). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "events_in.h"
#include "router_internal.h"

#define INGRESS_CREDIT 16

static void on_ingress(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    router_t *rt = ctx;
    char why[300] = "";
    if (aos_event_validate(ev, why, sizeof why) != AOS_OK) {
        aos_log(AOS_LOG_WARN, "ingress event refused", "id", ev->id, "detail", why, NULL);
        aos_bus_reject(d, "aos:invalid-event", why);
        return;
    }
    aos_event_t *one[1] = {(aos_event_t *)ev};
    router_event_delivery_t in = {.schema = ROUTER_SCHEMA_CLOUDEVENTS, .events = one, .count = 1};
    aos_log(AOS_LOG_INFO, "ingress event", "id", ev->id, "type", ev->type, "source", ev->source,
            NULL);
    router_events_fan_out_bus(rt, d, &in);
}

aos_result svc_ingress_subscribe(router_t *rt, char *errbuf, size_t errlen)
{
    const char *q = rt->cfg.ingress_queue;
    if (!q || !*q)
        return AOS_OK; /* AOS_ROUTER_INGRESS_QUEUE="" turns the ingress off */
    aos_result r = aos_bus_subscribe(rt->bus, q, INGRESS_CREDIT, on_ingress, rt);
    if (r != AOS_OK)
        return aos_fail(r, errbuf, errlen, "subscribe to the ingress queue %s failed", q);
    return AOS_OK;
}
