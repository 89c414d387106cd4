/* Event publisher -> bus topic aos.events on the rabbitmq fixture: events published through
 * the publisher arrive on a queue bound to the aos.events exchange, in order, and the bus
 * sink counts the broker's confirmations. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/bus.h"
#include "aos/event_publisher.h"
#include "aos/log.h"
#include "fixture.h"

#define N_EVENTS 20
#define MAX_SEEN 256

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *ids[MAX_SEEN];
    size_t count;
} seen_t;

static void on_message(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    seen_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (s->count < MAX_SEEN)
        s->ids[s->count++] = strdup(ev->id);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    aos_bus_accept(d);
}

static long find_id(seen_t *s, const char *id)
{
    pthread_mutex_lock(&s->mu);
    long at = -1;
    for (size_t i = 0; i < s->count && at < 0; i++)
        if (s->ids[i] && strcmp(s->ids[i], id) == 0)
            at = (long)i;
    pthread_mutex_unlock(&s->mu);
    return at;
}

static aos_bus_t *bus_connect(void)
{
    char url[512];
    if (aos_test_fixture_read("rabbitmq", "url", url, sizeof url) != 0)
        return NULL;
    char inst[96];
    snprintf(inst, sizeof inst, "test-events-%ld", (long)getpid());
    aos_bus_config_t cfg = {.url = url, .profile = AOS_BUS_PROFILE_RABBITMQ, .instance_id = inst};
    aos_bus_t *bus = NULL;
    char err[256];
    if (aos_bus_new(&cfg, &bus, err, sizeof err) != AOS_OK)
        return NULL;
    if (aos_bus_start(bus) != AOS_OK || aos_bus_wait_connected(bus, 20000) != AOS_OK) {
        aos_bus_free(bus);
        return NULL;
    }
    return bus;
}

static aos_result publish_id(aos_event_publisher_t *p, const char *id)
{
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.eventpub.test", "/aos/tests/events", "{\"x\":1}", &ev),
                     AOS_OK);
    assert_int_equal(aos_event_set(&ev->id, id), AOS_OK);
    aos_result r = aos_event_publish(p, ev);
    aos_event_free(ev);
    return r;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void events_reach_the_topic(void **state)
{
    (void)state;
    aos_bus_t *bus = bus_connect();
    assert_non_null(bus);
    seen_t seen = {.count = 0};
    pthread_mutex_init(&seen.mu, NULL);
    pthread_cond_init(&seen.cv, NULL);
    /* a temporary queue bound to the aos.events exchange for our event type */
    assert_int_equal(aos_bus_subscribe_address(bus, "/exchange/aos.events/aos.eventpub.#", 64,
                                               on_message, &seen),
                     AOS_OK);
    aos_event_publisher_config_t cfg = {.bus = bus};
    aos_event_publisher_t *p = NULL;
    char err[256];
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_OK);

    /* probe until the subscription is attached (earlier probes have nowhere to go) */
    bool attached = false;
    for (int i = 0; i < 150 && !attached; i++) {
        char id[32];
        snprintf(id, sizeof id, "probe-%d", i);
        assert_int_equal(publish_id(p, id), AOS_OK);
        for (int w = 0; w < 4 && !attached; w++) {
            sleep_ms(50);
            attached = find_id(&seen, id) >= 0;
        }
    }
    assert_true(attached);

    for (int i = 0; i < N_EVENTS; i++) {
        char id[32];
        snprintf(id, sizeof id, "bus-%d", i);
        assert_int_equal(publish_id(p, id), AOS_OK);
    }
    long last = -1;
    for (int i = 0; i < N_EVENTS; i++) {
        char id[32];
        snprintf(id, sizeof id, "bus-%d", i);
        long at = -1;
        for (int w = 0; w < 400 && at < 0; w++) {
            at = find_id(&seen, id);
            if (at < 0)
                sleep_ms(50);
        }
        assert_true(at > last); /* present and in order */
        last = at;
    }
    aos_event_publisher_free(p); /* waits for the confirmations */
    aos_bus_free(bus);
    for (size_t i = 0; i < seen.count; i++)
        free(seen.ids[i]);
    pthread_mutex_destroy(&seen.mu);
    pthread_cond_destroy(&seen.cv);
}

static void bus_sink_counts_confirmations(void **state)
{
    (void)state;
    aos_bus_t *bus = bus_connect();
    assert_non_null(bus);
    aos_event_publisher_config_t cfg = {.bus = bus, .flush_timeout_ms = 20000};
    aos_event_publisher_t *p = NULL;
    char err[256];
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_OK);
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "cnt-%d", i);
        assert_int_equal(publish_id(p, id), AOS_OK);
    }
    aos_event_sink_stats_t st = {0};
    for (int w = 0; w < 400 && st.published < 5; w++) {
        aos_event_publisher_stats(p, AOS_EVENT_SINK_BUS, &st);
        if (st.published < 5)
            sleep_ms(50);
    }
    assert_int_equal(st.published, 5);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.queued, 0);
    aos_event_publisher_free(p);
    aos_bus_free(bus);
}

int main(void)
{
    aos_log_init("test-events-bus", AOS_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(events_reach_the_topic),
        cmocka_unit_test(bus_sink_counts_confirmations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
