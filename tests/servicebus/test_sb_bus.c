/* aos_bus with the servicebus profile against the test peer (no Azure needed): the bus puts a
 * token computed from the connection string on $cbs before it attaches any link, and the peer
 * accepts a message sent to queue aos.storage. A wrong key gets no link at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "aos/bus.h"
#include "aos/envelope.h"
#include "sb_test.h"

static aos_bus_t *new_bus(sb_peer_t *peer, const char *key)
{
    sb_test_bus_cfg_t c;
    sb_test_bus_cfg(&c, peer, key, "sb-bus-test");
    c.cfg.reconnect_min_ms = 200;
    c.cfg.reconnect_max_ms = 1000;
    aos_bus_t *bus = sb_test_bus_new(&c.cfg);
    assert_int_equal(aos_bus_start(bus), AOS_OK);
    return bus;
}

static void put_token_before_attach_then_message_accepted(void **state)
{
    (void)state;
    sb_peer_t *peer = sb_test_peer();
    aos_bus_t *bus = new_bus(peer, SB_TEST_KEY);
    assert_int_equal(aos_bus_wait_connected(bus, 20000), AOS_OK);

    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.storage.conversation.get", "/aos/tests/servicebus",
                                      "{\"conversation_id\":\"c-1\"}", &ev),
                     AOS_OK);
    char err[256] = "";
    aos_result r = aos_bus_send_sync(bus, "aos.storage", ev, 20000, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("send: %s: %s", aos_result_str(r), err);
    aos_event_free(ev);
    aos_bus_free(bus);

    char log[16384];
    sb_peer_log(peer, log, sizeof log);
    const char *token = strstr(log, "token-ok sb://" SB_TEST_NS "/");
    const char *attach = strstr(log, "attach-ok aos.storage");
    if (!token || !attach || attach < token)
        fail_msg("expected a valid put-token before the aos.storage attach; peer log:\n%s", log);
    assert_null(strstr(log, "attach-refused"));
    assert_true(sb_peer_transfers_to(peer, "aos.storage") >= 1);
    sb_peer_stop(peer);
}

static void wrong_key_gets_no_link(void **state)
{
    (void)state;
    sb_peer_t *peer = sb_test_peer();
    aos_bus_t *bus = new_bus(peer, "d3Jvbmcta2V5LWZvci10aGUtYnVz");
    assert_int_not_equal(aos_bus_wait_connected(bus, 2000), AOS_OK);
    assert_false(aos_bus_is_connected(bus));
    aos_bus_free(bus);

    sb_peer_stats_t st;
    sb_peer_get_stats(peer, &st);
    char log[16384];
    sb_peer_log(peer, log, sizeof log);
    if (st.tokens_refused < 1 || st.tokens_ok != 0 || st.attaches_ok != 0 || st.transfers != 0)
        fail_msg("expected only refused tokens; peer log:\n%s", log);
    assert_non_null(strstr(log, "token-refused 401 signature mismatch"));
    sb_peer_stop(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_token_before_attach_then_message_accepted),
        cmocka_unit_test(wrong_key_gets_no_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
