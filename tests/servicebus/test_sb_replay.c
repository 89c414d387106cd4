/* Issue 8 item 6: a dead-letter replay inside Service Bus's duplicate-detection window must
 * not be dropped. The peer detects duplicates by message-id (10 min window, as the template
 * sets); a message is dead-lettered by its consumer, `aosctl dlq replay` sends it back, and
 * the consumer must get it again with the same event id (what it dedupes on). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/bus.h"
#include "aos/envelope.h"
#include "aosctl.h"
#include "sb_test.h"

typedef struct {
    pthread_mutex_t mu;
    char id[64];
    int got;
} consumer_t;

/* poison the first time, fine after */
static void on_msg(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    consumer_t *c = ctx;
    pthread_mutex_lock(&c->mu);
    int n = strcmp(ev->id, c->id) == 0 ? ++c->got : -1;
    pthread_mutex_unlock(&c->mu);
    if (n == 1)
        aos_bus_reject(d, "aos:poison", "first attempt fails");
    else
        aos_bus_accept(d);
}

static int got(consumer_t *c)
{
    pthread_mutex_lock(&c->mu);
    int n = c->got;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static void replay_inside_duplicate_window(void **state)
{
    (void)state;
    sb_peer_t *peer = sb_test_peer();
    sb_peer_set_session_queues(peer, "aos.reply");
    sb_peer_set_duplicate_detection(peer, 10 * 60 * 1000);

    char err[256] = "";
    sb_test_bus_cfg_t bc;
    sb_test_bus_cfg(&bc, peer, SB_TEST_KEY, "sb-replay-test");
    aos_bus_t *bus = sb_test_bus_new(&bc.cfg);
    consumer_t c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.test.replay", "/aos/tests", "{\"n\":1}", &ev), AOS_OK);
    snprintf(c.id, sizeof c.id, "%s", ev->id);
    assert_int_equal(aos_bus_subscribe(bus, "aos.work", 4, on_msg, &c), AOS_OK);
    assert_int_equal(aos_bus_start(bus), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(bus, 30000), AOS_OK);
    if (aos_bus_send_sync(bus, "aos.work", ev, 20000, err, sizeof err) != AOS_OK)
        fail_msg("send: %s", err);

    char log[16384];
    for (int i = 0; i < 300; i++) {
        sb_peer_log(peer, log, sizeof log);
        if (strstr(log, "dead-letter aos.work aos:poison"))
            break;
        sb_test_sleep_ms(100);
    }
    assert_non_null(strstr(log, "dead-letter aos.work aos:poison"));

    setenv("AOS_BUS_URL", bc.url, 1);
    setenv("AOS_SERVICEBUS_CONNECTION_STRING", bc.cs, 1);
    setenv("AOS_BUS_PROFILE", "servicebus", 1);
    char outbuf[4096] = "";
    FILE *out = fmemopen(outbuf, sizeof outbuf, "w");
    aosctl_opts_t o = {.out = out, .err = stderr};
    char *argv[] = {"replay", "aos.work"};
    int rc = aosctl_dlq(&o, 2, argv);
    fclose(out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(outbuf, "1 dead letters replayed to aos.work"));

    for (int i = 0; i < 200 && got(&c) < 2; i++)
        sb_test_sleep_ms(100);
    sb_peer_log(peer, log, sizeof log);
    if (got(&c) != 2)
        fail_msg("the replayed message never came back (deliveries %d); peer log:\n%s", got(&c),
                 log);
    assert_null(strstr(log, "duplicate-dropped"));

    /* the peer's duplicate detection does work: the original message-id again is dropped */
    if (aos_bus_send_sync(bus, "aos.work", ev, 20000, err, sizeof err) != AOS_OK)
        fail_msg("send: %s", err);
    sb_peer_log(peer, log, sizeof log);
    char dropped[128];
    snprintf(dropped, sizeof dropped, "duplicate-dropped aos.work %s", ev->id);
    assert_non_null(strstr(log, dropped));
    aos_event_free(ev);
    aos_bus_free(bus);
    sb_peer_stop(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replay_inside_duplicate_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
