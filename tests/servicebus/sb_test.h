/* tests/servicebus/sb_test.h: what the cmocka tests against sb_peer share (header-only): the
 * namespace and authorization rule the peer runs with, the peer, and a bus configured for it
 * (servicebus profile, the peer's loopback URL, the namespace's connection string). */
#ifndef AOS_TEST_SB_TEST_H
#define AOS_TEST_SB_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include <stdio.h>
#include <time.h>

#include "aos/bus.h"
#include "sb_peer.h"

#define SB_TEST_NS "aos-test.servicebus.windows.net"
#define SB_TEST_KEY_NAME "RootManageSharedAccessKey"
#define SB_TEST_KEY "dGVzdGtleS1ub3QtYS1zZWNyZXQtMTIzNDU2Nzg5MA=="

static inline void sb_test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A peer for SB_TEST_NS with the rule SB_TEST_KEY_NAME / SB_TEST_KEY (fails the test when it
 * cannot listen). Stop it with sb_peer_stop. */
static inline sb_peer_t *sb_test_peer(void)
{
    sb_peer_t *peer = sb_peer_start(SB_TEST_NS, SB_TEST_KEY_NAME, SB_TEST_KEY);
    assert_non_null(peer);
    return peer;
}

/* A bus configuration for peer: cfg's url and connection string point into url and cs. */
typedef struct sb_test_bus_cfg {
    char url[64];
    char cs[512];
    aos_bus_config_t cfg;
} sb_test_bus_cfg_t;

/* cfg for peer with the key of rule SB_TEST_KEY_NAME (SB_TEST_KEY, or a wrong one) and the
 * instance id; the caller sets the rest of c->cfg. */
static inline void sb_test_bus_cfg(sb_test_bus_cfg_t *c, const sb_peer_t *peer, const char *key,
                                   const char *instance)
{
    snprintf(c->url, sizeof c->url, "amqp://127.0.0.1:%d", sb_peer_port(peer));
    snprintf(c->cs, sizeof c->cs, "Endpoint=sb://%s/;SharedAccessKeyName=%s;SharedAccessKey=%s",
             SB_TEST_NS, SB_TEST_KEY_NAME, key);
    c->cfg = (aos_bus_config_t){.url = c->url,
                                .profile = AOS_BUS_PROFILE_SERVICEBUS,
                                .connection_string = c->cs,
                                .instance_id = instance};
}

/* aos_bus_new(cfg), failing the test with the detail when it cannot. Not started. */
static inline aos_bus_t *sb_test_bus_new(const aos_bus_config_t *cfg)
{
    char err[256] = "";
    aos_bus_t *bus = NULL;
    aos_result r = aos_bus_new(cfg, &bus, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("aos_bus_new: %s: %s", aos_result_str(r), err);
    return bus;
}

/* A bus on peer (SB_TEST_KEY) with the instance id, not started. */
static inline aos_bus_t *sb_test_bus(const sb_peer_t *peer, const char *instance)
{
    sb_test_bus_cfg_t c;
    sb_test_bus_cfg(&c, peer, SB_TEST_KEY, instance);
    return sb_test_bus_new(&c.cfg);
}

#endif
