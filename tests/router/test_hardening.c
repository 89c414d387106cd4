/* Router input hardening (issue 9 item 8): oversize activity text is 413 like /v1/messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include "botframework.h"
#include "messages.h"

static void test_oversize_text_413_on_both_endpoints(void **state)
{
    (void)state;
    char body[600];
    char text[201];
    memset(text, 'x', 200);
    text[200] = '\0';
    snprintf(body, sizeof body,
             "{\"type\":\"message\",\"id\":\"a1\",\"serviceUrl\":\"https://smba.example/\","
             "\"conversation\":{\"id\":\"c1\"},\"from\":{\"id\":\"u\"},\"text\":\"%s\"}",
             text);
    router_activity_t *a = NULL;
    char err[256];
    aos_result r = router_activity_parse(body, strlen(body), 100, &a, err, sizeof err);
    assert_int_equal(r, AOS_ERR_TOO_LARGE);
    assert_int_equal(aos_result_http_status(r), 413);
    assert_null(a);
    assert_int_equal(router_activity_parse(body, strlen(body), 200, &a, err, sizeof err), AOS_OK);
    router_activity_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oversize_text_413_on_both_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
