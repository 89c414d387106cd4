/* The router refuses to start without credentials unless AOS_DEV_MODE=1 (issue 9 item 7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include "apikey.h"

#define KEY "0123456789abcdef-test-key"

static void test_no_keys_refused(void **state)
{
    (void)state;
    router_apikeys_t *none = NULL, *one = NULL;
    assert_int_equal(router_apikeys_parse(NULL, 0, NULL, &none, NULL, 0), AOS_OK);
    assert_int_equal(router_apikeys_parse(NULL, 0, KEY, &one, NULL, 0), AOS_OK);
    aos_config_common_t c = {.bus_url = "amqps://aos:secret@rabbit:5671"};
    char err[1024] = "";
    assert_int_equal(router_credentials_check(&c, none, err, sizeof err), AOS_ERR_AUTH);
    assert_non_null(strstr(err, "AOS_API_KEYS"));
    assert_non_null(strstr(err, "AOS_API_KEYS_FILE"));
    assert_non_null(strstr(err, "AOS_DEV_MODE=1"));
    assert_null(strstr(err, "AOS_BUS_URL")); /* the bus is fine */
    assert_int_equal(router_credentials_check(&c, one, err, sizeof err), AOS_OK);

    /* Both problems at once, each saying what to set. */
    c.bus_url = "amqp://guest:guest@127.0.0.1:5672";
    assert_int_equal(router_credentials_check(&c, none, err, sizeof err), AOS_ERR_AUTH);
    assert_non_null(strstr(err, "AOS_API_KEYS"));
    assert_non_null(strstr(err, "AOS_BUS_URL"));
    assert_int_equal(router_credentials_check(&c, one, err, sizeof err), AOS_ERR_AUTH);

    c.dev_mode = true;
    assert_int_equal(router_credentials_check(&c, none, err, sizeof err), AOS_OK);
    router_apikeys_free(none);
    router_apikeys_free(one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_keys_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
