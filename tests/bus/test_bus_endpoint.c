/* Issue 8 item 1: a Service Bus connection string alone reaches the namespace. The standard
 * config table (what every service loads) plus aos_bus_new must dial the connection string's
 * Endpoint when AOS_BUS_URL is unset, an explicit AOS_BUS_URL still wins (tests, emulators),
 * and with neither the local RabbitMQ default applies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aos/config.h"
#include "bus_internal.h"
#include "bus_util.h"

#define CONNSTR                                                                                    \
    "Endpoint=sb://aos-prod.servicebus.windows.net/"                                               \
    ";SharedAccessKeyName=RootManageSharedAccessKey;"                                              \
    "SharedAccessKey=c2VjcmV0LWtleS1mb3ItdGVzdHM="

typedef struct {
    const char *url, *connstr;
} env_t;

static const char *fake_env(const char *name, void *ctx)
{
    env_t *e = ctx;
    if (strcmp(name, "AOS_BUS_URL") == 0)
        return e->url;
    if (strcmp(name, "AOS_SERVICEBUS_CONNECTION_STRING") == 0)
        return e->connstr;
    return NULL;
}

/* Load the common table from env e, build a bus the way the services do, return it. */
static aos_bus_t *bus_from_env(env_t *e)
{
    aos_config_common_t c;
    memset(&c, 0, sizeof c);
    char err[512] = "";
    assert_int_equal(aos_config_load_ex(aos_config_common_table, AOS_CONFIG_COMMON_COUNT, &c, NULL,
                                        0, fake_env, e, err, sizeof err),
                     AOS_OK);
    aos_bus_config_t bc = {.url = c.bus_url, .connection_string = c.servicebus_connection_string};
    aos_bus_t *bus = NULL;
    aos_result r = aos_bus_new(&bc, &bus, err, sizeof err);
    aos_config_free(aos_config_common_table, AOS_CONFIG_COMMON_COUNT, &c);
    if (r != AOS_OK)
        fail_msg("aos_bus_new: %s", err);
    return bus;
}

static void test_connection_string_alone(void **state)
{
    (void)state;
    unsetenv("AOS_BUS_PROFILE");
    env_t e = {NULL, CONNSTR};
    aos_bus_t *bus = bus_from_env(&e);
    assert_string_equal(bus->url.host, "aos-prod.servicebus.windows.net");
    assert_int_equal(bus->url.port, 5671);
    assert_true(bus->url.tls);
    assert_int_equal(bus->profile, AOS_BUS_PROFILE_SERVICEBUS);
    aos_bus_free(bus);
}

static void test_explicit_url_wins(void **state)
{
    (void)state;
    unsetenv("AOS_BUS_PROFILE");
    env_t e = {"amqp://127.0.0.1:15672", CONNSTR};
    aos_bus_t *bus = bus_from_env(&e);
    assert_string_equal(bus->url.host, "127.0.0.1");
    assert_int_equal(bus->url.port, 15672);
    assert_int_equal(bus->profile, AOS_BUS_PROFILE_SERVICEBUS);
    aos_bus_free(bus);
}

static void test_local_default(void **state)
{
    (void)state;
    unsetenv("AOS_BUS_PROFILE");
    env_t e = {NULL, NULL};
    aos_bus_t *bus = bus_from_env(&e);
    assert_string_equal(bus->url.host, "127.0.0.1");
    assert_int_equal(bus->url.port, 5672);
    assert_false(bus->url.tls);
    assert_int_equal(bus->profile, AOS_BUS_PROFILE_RABBITMQ);
    aos_bus_free(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connection_string_alone),
        cmocka_unit_test(test_explicit_url_wins),
        cmocka_unit_test(test_local_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
