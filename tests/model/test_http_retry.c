/* The retry decision shared by every HTTP retry loop (aos/http_retry.h), as a pure function. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/http_retry.h"

static void test_verdicts(void **state)
{
    (void)state;
    aos_retry_policy_t p = {.max_attempts = 3, .base_delay_ms = 10, .max_delay_ms = 10};
    uint64_t d = 0;
    /* answers that are final */
    assert_int_equal(aos_http_retry_next(&p, 1, AOS_OK, 200, NULL, NULL, UINT64_MAX, &d),
                     AOS_HTTP_RETRY_FINAL);
    assert_int_equal(aos_http_retry_next(&p, 1, AOS_OK, 400, NULL, NULL, UINT64_MAX, &d),
                     AOS_HTTP_RETRY_FINAL);
    assert_int_equal(aos_http_retry_next(&p, 1, AOS_ERR_CANCELLED, 0, NULL, NULL, UINT64_MAX, &d),
                     AOS_HTTP_RETRY_FINAL);
    /* retryable: 408/429/5xx and transient transport errors */
    assert_int_equal(aos_http_retry_next(&p, 1, AOS_OK, 503, NULL, NULL, UINT64_MAX, &d),
                     AOS_HTTP_RETRY_AGAIN);
    assert_true(d <= 10);
    assert_int_equal(aos_http_retry_next(&p, 1, AOS_ERR_TIMEOUT, 0, NULL, NULL, UINT64_MAX, &d),
                     AOS_HTTP_RETRY_AGAIN);
    /* the server's hint wins over backoff */
    assert_int_equal(aos_http_retry_next(&p, 1, AOS_OK, 429, "1500", NULL, UINT64_MAX, &d),
                     AOS_HTTP_RETRY_AGAIN);
    assert_int_equal(d, 1500);
    assert_int_equal(aos_http_retry_next(&p, 1, AOS_OK, 429, NULL, "2", UINT64_MAX, &d),
                     AOS_HTTP_RETRY_AGAIN);
    assert_int_equal(d, 2000);
    /* attempts used up */
    assert_int_equal(aos_http_retry_next(&p, 3, AOS_OK, 503, NULL, NULL, UINT64_MAX, &d),
                     AOS_HTTP_RETRY_EXHAUSTED);
    /* no time left for the wait plus one attempt */
    assert_int_equal(aos_http_retry_next(&p, 1, AOS_OK, 429, "1500", NULL, 1550, &d),
                     AOS_HTTP_RETRY_DEADLINE);
    assert_int_equal(aos_http_retry_next(&p, 1, AOS_OK, 429, "1500", NULL, 5000, &d),
                     AOS_HTTP_RETRY_AGAIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_verdicts)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
