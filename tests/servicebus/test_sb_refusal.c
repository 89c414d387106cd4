/* Issue 8 item 3: Service Bus refuses a link with an attach followed at once by a detach. A
 * subscription to an entity that does not exist must be retried with a growing delay, not
 * every reconnect_min_ms forever (the attach used to reset the refusal count). The peer
 * refuses like the service; the test counts attach attempts over a window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aos/bus.h"
#include "sb_test.h"

static void on_msg(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ctx;
    (void)ev;
    aos_bus_accept(d);
}

static void refused_attach_backs_off(void **state)
{
    (void)state;
    sb_peer_t *peer = sb_test_peer();
    sb_peer_set_session_queues(peer, "aos.reply");
    sb_peer_set_entities(peer, "aos.reply,aos.storage");

    sb_test_bus_cfg_t c;
    sb_test_bus_cfg(&c, peer, SB_TEST_KEY, "sb-refusal-test");
    c.cfg.reconnect_min_ms = 100;
    c.cfg.reconnect_max_ms = 10000;
    aos_bus_t *bus = sb_test_bus_new(&c.cfg);
    assert_int_equal(aos_bus_subscribe(bus, "aos.missing", 4, on_msg, NULL), AOS_OK);
    assert_int_equal(aos_bus_start(bus), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(bus, 30000), AOS_OK);

    /* the first refusal proves the peer refuses; then count over a fixed window */
    for (int i = 0; i < 300 && sb_peer_attach_refusals(peer, "aos.missing") < 1; i++)
        sb_test_sleep_ms(100);
    int first = sb_peer_attach_refusals(peer, "aos.missing");
    assert_true(first >= 1);
    sb_test_sleep_ms(5000);
    int attempts = sb_peer_attach_refusals(peer, "aos.missing") - first;
    aos_bus_free(bus);

    char log[16384];
    sb_peer_log(peer, log, sizeof log);
    /* every 100 ms would be ~50; a delay drawn from [100 ms, 100 ms * 2^n] (full jitter)
     * gives ~6 in 5 s, and 14 would need every draw near the bottom of its range */
    if (attempts > 14 || attempts < 1)
        fail_msg("%d re-attaches of a refused link in 5 s; peer log:\n%s", attempts, log);
    assert_non_null(strstr(log, "attach-refused aos.missing amqp:not-found"));
    /* the entities that exist were not refused */
    assert_int_equal(sb_peer_attach_refusals(peer, "aos.reply"), 0);
    sb_peer_stop(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused_attach_backs_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
