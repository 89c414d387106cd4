/* aosctl dlq list|replay QUEUE: dead letters straight from the bus.
 *
 * list   receives up to --max dead letters, prints them and releases them back (they stay).
 * replay receives up to --max dead letters, sends each to QUEUE (confirmed by the broker) and
 *        only then accepts it on the dead-letter queue, so a crash in between duplicates a
 *        message (receivers dedupe by event id) but never loses one. The copy has a new AMQP
 *        message-id (aos_bus_replay_sync), else Service Bus duplicate detection drops it.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "aos/bus.h"
#include "aos/bus_dlq.h"
#include "aosctl.h"

#define DLQ_QUIET_MS 1500

static void print_dead_letter(const aosctl_opts_t *o, const aos_bus_delivery_t *d)
{
    const aos_event_t *ev = aos_bus_delivery_event(d);
    const char *reason = aos_bus_delivery_dead_letter_reason(d);
    const char *desc = aos_bus_delivery_dead_letter_description(d);
    if (o->json) {
        char *j = NULL;
        json_object *out = json_object_new_object();
        json_object_object_add(out, "dead_letter_reason",
                               reason ? json_object_new_string(reason) : NULL);
        json_object_object_add(out, "dead_letter_description",
                               desc ? json_object_new_string(desc) : NULL);
        json_object_object_add(out, "deliveries", json_object_new_int64(aos_bus_delivery_count(d)));
        if (aos_event_to_json(ev, &j) == AOS_OK)
            json_object_object_add(out, "event", json_tokener_parse(j));
        fprintf(o->out, "%s\n", json_object_to_json_string(out));
        json_object_put(out);
        free(j);
        return;
    }
    fprintf(o->out, "%s  %s  deliveries=%u", ev->id ? ev->id : "?", ev->type ? ev->type : "?",
            aos_bus_delivery_count(d));
    if (reason)
        fprintf(o->out, "  reason=%s", reason);
    if (desc)
        fprintf(o->out, "  (%s)", desc);
    fprintf(o->out, "\n");
}

int aosctl_dlq(const aosctl_opts_t *o, int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "replay") != 0)) {
        fprintf(o->err, "usage: aosctl dlq list|replay QUEUE [--max N]\n");
        return 2;
    }
    bool replay = strcmp(argv[0], "replay") == 0;
    const char *queue = argv[1];
    size_t max = 100;
    if (argc == 4 && strcmp(argv[2], "--max") == 0) {
        char *end;
        unsigned long v = strtoul(argv[3], &end, 10);
        if (*end || v == 0 || v > 10000) {
            fprintf(o->err, "aosctl dlq: --max takes a number from 1 to 10000\n");
            return 2;
        }
        max = v;
    } else if (argc != 2) {
        fprintf(o->err, "usage: aosctl dlq list|replay QUEUE [--max N]\n");
        return 2;
    }
    aos_bus_t *bus = NULL;
    if (aosctl_open_bus(o, &bus) != AOS_OK)
        return 1;
    aos_bus_dlq_t *c = NULL;
    int rc = 0;
    /* each dead letter once (aos/bus_dlq.h): printed once, replayed once */
    if (aos_bus_dlq_new(max, &c) != AOS_OK ||
        aos_bus_dlq_collect(c, bus, queue, DLQ_QUIET_MS, NULL, NULL) != AOS_OK) {
        fprintf(o->err, "aosctl dlq: cannot read the dead letters of %s\n", queue);
        rc = 1;
    }
    size_t held = aos_bus_dlq_count(c);
    size_t replayed = 0;
    if (!replay) {
        /* print everything first, give it back after: a released dead letter comes back
         * at once and must not be read (or printed) twice */
        for (size_t i = 0; i < held; i++)
            print_dead_letter(o, aos_bus_dlq_get(c, i));
        fflush(o->out);
        aos_bus_dlq_release(c);
    }
    for (size_t i = 0; replay && i < held; i++) {
        aos_bus_delivery_t *d = aos_bus_dlq_take(c, i);
        const aos_event_t *ev = aos_bus_delivery_event(d);
        print_dead_letter(o, d);
        char err[256] = "";
        /* a new message-id: within the duplicate-detection window Service Bus would drop a
         * copy with the old one (and the dead letter would be gone) */
        aos_result r = aos_bus_replay_sync(bus, queue, ev, 10000, err, sizeof err);
        if (r == AOS_OK) {
            aos_bus_accept(d);
            replayed++;
        } else {
            fprintf(o->err, "aosctl dlq: replay of %s failed: %s %s\n", ev->id, aos_result_str(r),
                    err);
            aos_bus_release(d);
            rc = 1;
        }
    }
    if (!o->json)
        fprintf(o->out, replay ? "%zu dead letters replayed to %s\n" : "%zu dead letters in %s\n",
                replay ? replayed : held, queue);
    aos_bus_free(bus);
    aos_bus_dlq_free(c); /* after the bus: late dead letters reach it until then */
    return rc;
}
