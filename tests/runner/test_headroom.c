/* Model endpoint headroom (services/agent-runner/headroom.h): throttling after 429 with and
 * without a retry hint, the concurrency limit (halved by a 429, raised by successes), and
 * the requests/tokens-per-minute buckets. Time is passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "headroom.h"

static void test_throttle_and_limit(void **state)
{
    (void)state;
    runner_headroom_t *h = NULL;
    assert_int_equal(runner_headroom_new(&h), AOS_OK);
    aos_endpoint_t ep = {.provider = AOS_PROVIDER_OPENAI, .url = "http://m"};
    assert_int_equal(runner_headroom_wait_ms(h, &ep, 1000, true), 0);
    assert_int_equal(runner_headroom_limit(h, &ep), RUNNER_HEADROOM_UNLIMITED);
    for (int i = 0; i < 8; i++)
        runner_headroom_start(h, &ep, 1000);
    runner_headroom_answer(h, &ep, 429, 1500, 1000); /* the hint decides */
    assert_int_equal(runner_headroom_wait_ms(h, &ep, 1000, false), 1500);
    assert_int_equal(runner_headroom_wait_ms(h, &ep, 2400, false), 100);
    assert_int_equal(runner_headroom_wait_ms(h, &ep, 2500, false), 0);
    assert_int_equal(runner_headroom_limit(h, &ep), 4); /* 8 in flight, halved */
    /* at the limit: busy callers wait, the credit does not */
    for (int i = 0; i < 4; i++)
        runner_headroom_end(h, &ep, 0, 2500);
    assert_true(runner_headroom_wait_ms(h, &ep, 2500, true) > 0);
    assert_int_equal(runner_headroom_wait_ms(h, &ep, 2500, false), 0);
    runner_headroom_end(h, &ep, 0, 2500);
    assert_int_equal(runner_headroom_wait_ms(h, &ep, 2500, true), 0);
    runner_headroom_answer(h, &ep, 200, 0, 2600); /* additive increase */
    assert_int_equal(runner_headroom_limit(h, &ep), 5);
    /* without a hint: 1 s, then 2 s while 429s go on */
    runner_headroom_answer(h, &ep, 429, 0, 10000);
    assert_int_equal(runner_headroom_wait_ms(h, &ep, 10000, false), 1000);
    runner_headroom_answer(h, &ep, 429, 0, 11000);
    assert_int_equal(runner_headroom_wait_ms(h, &ep, 11000, false), 2000);
    runner_headroom_answer(h, &ep, 503, 0, 20000); /* a 503 without a hint: no throttle */
    assert_int_equal(runner_headroom_wait_ms(h, &ep, 20000, false), 0);
    runner_headroom_free(h);
}

static void test_budgets(void **state)
{
    (void)state;
    runner_headroom_t *h = NULL;
    assert_int_equal(runner_headroom_new(&h), AOS_OK);
    aos_endpoint_t ep = {.provider = AOS_PROVIDER_OPENAI,
                         .url = "http://b",
                         .requests_per_minute = 60,
                         .tokens_per_minute = 600};
    /* 60/min: 10 at once (a sixth of a minute), then one a second */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(runner_headroom_wait_ms(h, &ep, 0, true), 0);
        runner_headroom_start(h, &ep, 0);
        runner_headroom_end(h, &ep, 1, 0);
    }
    uint64_t w = runner_headroom_wait_ms(h, &ep, 0, true);
    assert_true(w >= 1000 && w <= 1001);
    assert_int_equal(runner_headroom_wait_ms(h, &ep, 1001, true), 0);
    /* tokens: 600/min holds 100; spending past it waits until back at 0 (10 tokens/s) */
    runner_headroom_start(h, &ep, 1001);
    runner_headroom_end(h, &ep, 200, 1001);
    w = runner_headroom_wait_ms(h, &ep, 1001, true);
    assert_true(w >= 10000 && w <= 11100);
    runner_headroom_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_throttle_and_limit),
                                       cmocka_unit_test(test_budgets)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
