/* Unit tests: which schedule tick is due (services/agent-runner/schedule.c runner_sched_due):
 * ticks on the epoch's grid, coalescing of missed ticks, the catch-up window, cron. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schedule.h"

static void test_interval(void **state)
{
    (void)state;
    aos_schedule_t s = {.enabled = true, .interval_s = 60, .text = "t"};
    time_t due, next;
    uint64_t skipped;
    /* nothing due between ticks */
    assert_int_equal(runner_sched_due(&s, 1020, 1050, 86400, &due, &skipped, &next), AOS_OK);
    assert_int_equal(due, 0);
    assert_int_equal(skipped, 0);
    assert_int_equal(next, 1080);
    /* exactly on the tick */
    assert_int_equal(runner_sched_due(&s, 1020, 1080, 86400, &due, &skipped, &next), AOS_OK);
    assert_int_equal(due, 1080);
    assert_int_equal(skipped, 0);
    assert_int_equal(next, 1140);
    /* a baseline off the grid (a runner's start time) still yields grid ticks */
    assert_int_equal(runner_sched_due(&s, 1001, 1085, 86400, &due, &skipped, &next), AOS_OK);
    assert_int_equal(due, 1080);
    assert_int_equal(skipped, 1); /* 1020 coalesced into 1080 */
}

static void test_missed_ticks(void **state)
{
    (void)state;
    aos_schedule_t s = {.enabled = true, .interval_s = 60, .text = "t"};
    time_t due, next;
    uint64_t skipped;
    /* down for ten minutes: one firing, the newest missed tick; nine coalesced */
    assert_int_equal(runner_sched_due(&s, 6000, 6000 + 600 + 5, 86400, &due, &skipped, &next),
                     AOS_OK);
    assert_int_equal(due, 6600);
    assert_int_equal(skipped, 9);
    assert_int_equal(next, 6660);
    /* every tick older than the window is skipped, and the newest in it fires */
    assert_int_equal(runner_sched_due(&s, 0, 100000, 600, &due, &skipped, &next), AOS_OK);
    assert_int_equal(due, 99960);
    assert_true(skipped >= (100000 - 600) / 60);
    /* a very long outage is counted (capped) without running forever */
    aos_schedule_t fast = {.enabled = true, .interval_s = 1, .text = "t"};
    assert_int_equal(runner_sched_due(&fast, 1, 50000000, 10, &due, &skipped, &next), AOS_OK);
    assert_int_equal(due, 50000000);
    assert_int_equal(next, 50000001);
    assert_true(skipped >= 1000000 - 1);
}

static void test_cron(void **state)
{
    (void)state;
    aos_schedule_t s = {.enabled = true, .text = "t"};
    char err[128];
    assert_int_equal(aos_schedule_parse_cron("0 9 * * 1-5", &s, err, sizeof err), AOS_OK);
    s.enabled = true;
    time_t due, next;
    uint64_t skipped;
    /* Mon 2026-12-07 08:00Z → nothing due, next 09:00Z */
    time_t mon8 = 1796630400; /* 2026-12-07T08:00:00Z */
    assert_int_equal(runner_sched_due(&s, mon8 - 60, mon8, 86400 * 7, &due, &skipped, &next),
                     AOS_OK);
    assert_int_equal(due, 0);
    assert_int_equal(next, mon8 + 3600);
    /* back on Thursday 10:00 after a Monday 08:00 stop: Mon..Thu 09:00 missed, Thu fires */
    time_t thu10 = mon8 + 3 * 86400 + 2 * 3600;
    assert_int_equal(runner_sched_due(&s, mon8, thu10, 86400 * 7, &due, &skipped, &next), AOS_OK);
    assert_int_equal(due, mon8 + 3 * 86400 + 3600);
    assert_int_equal(skipped, 3);
    free(s.cron);
}

static void test_disabled(void **state)
{
    (void)state;
    aos_schedule_t s = {0};
    time_t due, next;
    uint64_t skipped;
    assert_int_equal(runner_sched_due(&s, 0, 100, 10, &due, &skipped, &next), AOS_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_missed_ticks),
        cmocka_unit_test(test_cron),
        cmocka_unit_test(test_disabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
