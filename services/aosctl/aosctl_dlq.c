/* aosctl dlq list|replay QUEUE: dead letters straight from the bus.
 *
 * list   receives up to --max dead letters, prints them and releases them back (they stay).
 * replay receives up to --max dead letters, sends each to QUEUE (confirmed by the broker) and
 *        only then accepts it on the dead-letter queue, so a crash in between duplicates a
 *        message (receivers dedupe by event id) but never loses one. The copy has a new AMQP
 *        message-id (aos_bus_replay_sync), else Service Bus duplicate detection drops it.
 */
#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/bus.h"
#include "aosctl.h"

#define DLQ_QUIET_MS 1500

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    aos_bus_delivery_t **items;
    size_t count, max;
    bool closed; /* collecting is over: whatever arrives now goes back untouched */
} collector_t;

static bool already_held(const collector_t *c, const aos_event_t *ev)
{
    for (size_t i = 0; i < c->count; i++) {
        const aos_event_t *x = aos_bus_delivery_event(c->items[i]);
        if (x && ev && x->id && ev->id && strcmp(x->id, ev->id) == 0)
            return true;
    }
    return false;
}

static void on_dead_letter(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    collector_t *c = ctx;
    pthread_mutex_lock(&c->lock);
    /* Each dead letter once: after collecting (the released copies of a listing come
     * back while it prints) or a second copy of one already held stays where it is. */
    if (!c->closed && c->count < c->max && !already_held(c, ev)) {
        c->items[c->count++] = d;
        d = NULL;
    }
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (d) /* beyond --max, late or a duplicate: leave it where it is */
        aos_bus_release(d);
}

/* Wait until max items arrived or nothing new came for DLQ_QUIET_MS. */
static void collect(collector_t *c)
{
    pthread_mutex_lock(&c->lock);
    size_t seen = (size_t)-1;
    while (c->count < c->max && c->count != seen) {
        seen = c->count;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += DLQ_QUIET_MS / 1000;
        ts.tv_nsec += (DLQ_QUIET_MS % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (c->count == seen && c->count < c->max)
            if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0)
                break;
    }
    c->closed = true;
    pthread_mutex_unlock(&c->lock);
}

/* The dead-letter address of a logical queue under the bus's profile. */
static aos_result dead_letter_address(aos_bus_t *bus, const char *queue, char *out, size_t outlen)
{
    char addr[512];
    AOS_RETURN_IF_FAILED(aos_bus_queue_address(bus, queue, addr, sizeof addr));
    if (strcmp(addr, queue) == 0) /* servicebus: entity names are addresses */
        return snprintf(out, outlen, "%s/$deadletterqueue", queue) < (int)outlen
                   ? AOS_OK
                   : AOS_ERR_TOO_LARGE;
    char dlq[512];
    snprintf(dlq, sizeof dlq, "%s.dlq", queue);
    return aos_bus_queue_address(bus, dlq, out, outlen);
}

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
    char addr[600];
    collector_t c = {PTHREAD_MUTEX_INITIALIZER,
                     PTHREAD_COND_INITIALIZER,
                     calloc(max, sizeof(aos_bus_delivery_t *)),
                     0,
                     max,
                     false};
    int rc = 0;
    if (!c.items || dead_letter_address(bus, queue, addr, sizeof addr) != AOS_OK ||
        aos_bus_subscribe_address(bus, addr, (uint32_t)(max < 256 ? max : 256), on_dead_letter,
                                  &c) != AOS_OK) {
        fprintf(o->err, "aosctl dlq: cannot read the dead letters of %s\n", queue);
        rc = 1;
    } else {
        collect(&c);
    }
    pthread_mutex_lock(&c.lock);
    c.closed = true; /* also when subscribing failed */
    size_t held = c.count;
    pthread_mutex_unlock(&c.lock);
    size_t replayed = 0;
    if (!replay) {
        /* print everything first, give it back after: a released dead letter comes back
         * at once and must not be read (or printed) twice */
        for (size_t i = 0; i < held; i++)
            print_dead_letter(o, c.items[i]);
        fflush(o->out);
        for (size_t i = 0; i < held; i++)
            aos_bus_release(c.items[i]);
    }
    for (size_t i = 0; replay && i < held; i++) {
        const aos_event_t *ev = aos_bus_delivery_event(c.items[i]);
        print_dead_letter(o, c.items[i]);
        char err[256] = "";
        /* a new message-id: within the duplicate-detection window Service Bus would drop a
         * copy with the old one (and the dead letter would be gone) */
        aos_result r = aos_bus_replay_sync(bus, queue, ev, 10000, err, sizeof err);
        if (r == AOS_OK) {
            aos_bus_accept(c.items[i]);
            replayed++;
        } else {
            fprintf(o->err, "aosctl dlq: replay of %s failed: %s %s\n", ev->id, aos_result_str(r),
                    err);
            aos_bus_release(c.items[i]);
            rc = 1;
        }
    }
    if (!o->json)
        fprintf(o->out, replay ? "%zu dead letters replayed to %s\n" : "%zu dead letters in %s\n",
                replay ? replayed : held, queue);
    aos_bus_free(bus);
    free(c.items);
    return rc;
}
