/* The bus over TLS (amqps) against the fixture broker's TLS listener: the peer certificate is
 * verified against the test CA, a round trip works, and without that CA the bus does not
 * connect (verification is on by default). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bus_test_util.h"

static aos_bus_t *tls_bus_host(const char *ca_file, bool skip_verify, bool by_ip)
{
    char url[512], ca[1024];
    const char *dir = getenv("AOS_TEST_FIXTURES_DIR");
    if (aos_test_fixture_read("rabbitmq", "amqps_url", url, sizeof url) != 0)
        return NULL;
    char *host = strstr(url, "@localhost:");
    if (by_ip && host) { /* same listener, a name the certificate does not carry */
        char rest[64];
        snprintf(rest, sizeof rest, "%s", host + strlen("@localhost"));
        snprintf(host, sizeof url - (size_t)(host - url), "@127.0.0.1%s", rest);
    }
    snprintf(ca, sizeof ca, "%s/rabbitmq/tls/ca.pem", dir ? dir : "fixtures");
    aos_bus_config_t cfg = {.url = url,
                            .profile = AOS_BUS_PROFILE_RABBITMQ,
                            .reconnect_min_ms = 100,
                            .reconnect_max_ms = 500,
                            .tls_ca_file =
                                ca_file ? (strcmp(ca_file, "test-ca") == 0 ? ca : ca_file) : NULL,
                            .tls_skip_verify = skip_verify};
    aos_bus_t *bus = NULL;
    char err[256];
    if (aos_bus_new(&cfg, &bus, err, sizeof err) != AOS_OK || aos_bus_start(bus) != AOS_OK) {
        fprintf(stderr, "tls bus: %s\n", err);
        aos_bus_free(bus);
        return NULL;
    }
    return bus;
}

static aos_bus_t *tls_bus(const char *ca_file, bool skip_verify)
{
    return tls_bus_host(ca_file, skip_verify, false);
}

static void test_tls_round_trip(void **state)
{
    (void)state;
    aos_bus_t *bus = tls_bus("test-ca", false);
    assert_non_null(bus);
    assert_int_equal(aos_bus_wait_connected(bus, 20000), AOS_OK);
    t_collector_t c;
    t_collector_init(&c, T_ACCEPT);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.misc", 4, t_on_message, &c), AOS_OK);
    aos_event_t *ev = t_event("aos.test.tls", "{\"over\":\"tls\"}");
    char err[256];
    assert_int_equal(aos_bus_send_sync(bus, "aos.test.misc", ev, 10000, err, sizeof err), AOS_OK);
    assert_true(t_wait(&c, t_pred_has_id, ev->id, 10000));
    aos_event_free(ev);
    aos_bus_free(bus);
    t_collector_destroy(&c);
}

static void test_tls_untrusted_peer_refused(void **state)
{
    (void)state;
    /* the system store does not know the test CA */
    aos_bus_t *bus = tls_bus(NULL, false);
    assert_non_null(bus);
    assert_int_equal(aos_bus_wait_connected(bus, 3000), AOS_ERR_TIMEOUT);
    assert_false(aos_bus_is_connected(bus));
    aos_bus_free(bus);
    /* a trusted certificate for another name is refused too */
    bus = tls_bus_host("test-ca", false, true);
    assert_non_null(bus);
    assert_int_equal(aos_bus_wait_connected(bus, 3000), AOS_ERR_TIMEOUT);
    aos_bus_free(bus);
    /* explicitly skipping verification (tests only) connects */
    bus = tls_bus(NULL, true);
    assert_non_null(bus);
    assert_int_equal(aos_bus_wait_connected(bus, 20000), AOS_OK);
    aos_bus_free(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_round_trip),
        cmocka_unit_test(test_tls_untrusted_peer_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
