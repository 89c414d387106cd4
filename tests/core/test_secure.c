/* Secure by default (aos/secure.h): which bus configurations count as credentials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/secure.h"

static bool creds(const char *url, const char *sb)
{
    aos_config_common_t c = {.bus_url = (char *)url, .servicebus_connection_string = (char *)sb};
    return aos_secure_bus_has_credentials(&c);
}

static void test_bus_credentials(void **state)
{
    (void)state;
    assert_false(creds("amqp://guest:guest@127.0.0.1:5672", NULL)); /* the default */
    assert_false(creds("amqp://GUEST:x@rabbit:5672", NULL));
    assert_false(creds("amqp://127.0.0.1:5672", NULL));
    assert_false(creds("amqp://:pw@host:5672", NULL));
    assert_false(creds("amqp://host:5672/a@b", NULL)); /* '@' in the path is no user-info */
    assert_false(creds(NULL, NULL));
    assert_false(creds("amqp://h", ""));
    assert_true(creds("amqps://aos:s3cret@rabbit:5671", NULL));
    assert_true(creds("amqp://aos:p@ss@rabbit:5672", NULL));
    assert_true(creds("amqp://guest:guest@127.0.0.1:5672",
                      "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;"
                      "SharedAccessKey=x"));
}

static void test_check_bus_says_what_to_set(void **state)
{
    (void)state;
    aos_config_common_t c = {.bus_url = "amqp://guest:guest@127.0.0.1:5672"};
    char err[512] = "";
    assert_int_equal(aos_secure_check_bus(&c, err, sizeof err), AOS_ERR_AUTH);
    assert_non_null(strstr(err, "AOS_SERVICEBUS_CONNECTION_STRING"));
    assert_non_null(strstr(err, "AOS_BUS_URL"));
    assert_non_null(strstr(err, "AOS_DEV_MODE=1"));
    c.dev_mode = true;
    assert_int_equal(aos_secure_check_bus(&c, err, sizeof err), AOS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bus_credentials),
        cmocka_unit_test(test_check_bus_says_what_to_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
