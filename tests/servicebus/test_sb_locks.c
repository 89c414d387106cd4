/* Issue 8 item 4: locks are renewed while work runs. The peer expires message locks and
 * session locks after 2 s (LockDuration, short for the test) and answers renew-lock /
 * renew-session-lock on "<entity>/$management". A handler holds its delivery for 5 s (a
 * long model call) and then settles: the message must not have been redelivered meanwhile,
 * the settlement must count, and the peer must have seen the renewals. */
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
#include "sb_test.h"

#define LOCK_MS 2000
#define WORK_MS 5000

typedef struct {
    pthread_mutex_t mu;
    int got;
    aos_bus_delivery_t *held;
} work_t;

static void on_msg(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ev;
    work_t *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->got++;
    if (!w->held) {
        w->held = d; /* the long work runs on the test thread */
        d = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    if (d)
        aos_bus_accept(d); /* a redelivery: settle it so the test can see it happened */
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void long_work_keeps_its_lock(const char *queue, const char *group, const char *renewal)
{
    sb_peer_t *peer = sb_test_peer();
    sb_peer_set_session_queues(peer, "aos.agent.,aos.reply");
    sb_peer_set_lock_duration(peer, LOCK_MS);

    char err[256] = "";
    sb_test_bus_cfg_t c;
    sb_test_bus_cfg(&c, peer, SB_TEST_KEY, "sb-locks-test");
    c.cfg.session_receivers = 1;
    c.cfg.session_idle_ms = 20000;
    c.cfg.lock_renew_ms = 300;
    aos_bus_t *bus = sb_test_bus_new(&c.cfg);
    work_t w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(aos_bus_subscribe(bus, queue, 1, on_msg, &w), AOS_OK);
    assert_int_equal(aos_bus_start(bus), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(bus, 30000), AOS_OK);
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.test.locks", "/aos/tests", "{}", &ev), AOS_OK);
    if (group)
        assert_int_equal(aos_event_set(&ev->group_id, group), AOS_OK);
    if (aos_bus_send_sync(bus, queue, ev, 20000, err, sizeof err) != AOS_OK)
        fail_msg("send: %s", err);
    aos_event_free(ev);

    aos_bus_delivery_t *held = NULL;
    for (int i = 0; i < 300 && !held; i++) {
        pthread_mutex_lock(&w.mu);
        held = w.held;
        pthread_mutex_unlock(&w.mu);
        if (!held)
            sb_test_sleep_ms(50);
    }
    assert_non_null(held);
    sb_test_sleep_ms(WORK_MS); /* the work outlives the lock more than twice over */
    aos_bus_accept(held);
    sb_test_sleep_ms(2500); /* a lost lock would show now: a redelivery or an expiry */

    char log[16384];
    sb_peer_log(peer, log, sizeof log);
    pthread_mutex_lock(&w.mu);
    int got = w.got;
    pthread_mutex_unlock(&w.mu);
    if (got != 1 || strstr(log, "lock-expired") || strstr(log, "session-lock-lost") ||
        count_of(log, renewal) < 2)
        fail_msg("%s: delivered %d times; peer log:\n%s", queue, got, log);
    aos_bus_free(bus);
    sb_peer_stop(peer);
}

static void message_lock_renewed(void **state)
{
    (void)state;
    long_work_keeps_its_lock("aos.work", NULL, "renew-lock aos.work 1");
}

static void session_lock_renewed(void **state)
{
    (void)state;
    long_work_keeps_its_lock("aos.agent.t", "conv-1", "renew-session-lock aos.agent.t conv-1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_lock_renewed),
        cmocka_unit_test(session_lock_renewed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
