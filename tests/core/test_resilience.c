#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/resilience.h"

/* A generator that always returns the value in ctx. */
static uint64_t fixed_rng(void *ctx)
{
    return *(uint64_t *)ctx;
}

static void backoff_is_full_jitter_within_exponential_ceiling(void **state)
{
    (void)state;
    aos_retry_policy_t p = {.max_attempts = 10, .base_delay_ms = 100, .max_delay_ms = 5000};
    uint64_t top = UINT64_MAX;
    /* r = ceiling yields the ceiling itself: 100, 200, 400, ... capped at 5000 */
    const uint64_t expect[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    for (uint32_t n = 1; n <= 9; n++) {
        uint64_t r = expect[n - 1];
        assert_int_equal(aos_retry_backoff_ms(&p, n, fixed_rng, &r), expect[n - 1]);
        uint64_t zero = 0;
        assert_int_equal(aos_retry_backoff_ms(&p, n, fixed_rng, &zero), 0);
        uint64_t over = expect[n - 1] + 1; /* wraps to 0: the range is inclusive of the ceiling */
        assert_int_equal(aos_retry_backoff_ms(&p, n, fixed_rng, &over), 0);
    }
    /* huge attempt counts neither overflow nor exceed the cap */
    assert_true(aos_retry_backoff_ms(&p, 200, fixed_rng, &top) <= 5000);
    assert_true(aos_retry_backoff_ms(&p, UINT32_MAX, NULL, NULL) <= 5000);
    /* the default generator stays in range and varies */
    uint64_t seen_low = 0, seen_high = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t d = aos_retry_backoff_ms(&p, 3, NULL, NULL);
        assert_true(d <= 400);
        seen_low |= d < 100;
        seen_high |= d > 300;
    }
    assert_true(seen_low && seen_high);
}

static void defaults_and_attempt_limit(void **state)
{
    (void)state;
    aos_retry_policy_t d;
    aos_retry_policy_default(&d);
    assert_int_equal(d.max_attempts, 4);
    assert_int_equal(d.base_delay_ms, 200);
    aos_retry_policy_t zero = {0};
    assert_true(aos_retry_may_retry(&zero, 3));
    assert_false(aos_retry_may_retry(&zero, 4));
    aos_retry_policy_t two = {.max_attempts = 2};
    assert_true(aos_retry_may_retry(&two, 1));
    assert_false(aos_retry_may_retry(&two, 2));
    uint64_t r = UINT64_MAX - 1;
    assert_true(aos_retry_backoff_ms(&zero, 1, fixed_rng, &r) <= 200);
}

static void server_hints(void **state)
{
    (void)state;
    const int64_t now = 784111777000LL; /* Sun, 06 Nov 1994 08:49:37 GMT */
    uint64_t d = 0;
    assert_true(aos_retry_parse_hint("1500", NULL, now, &d));
    assert_int_equal(d, 1500);
    assert_true(aos_retry_parse_hint(NULL, "7", now, &d));
    assert_int_equal(d, 7000);
    assert_true(aos_retry_parse_hint(" 250 ", "7", now, &d)); /* ms wins */
    assert_int_equal(d, 250);
    assert_true(aos_retry_parse_hint("x", "3", now, &d)); /* bad ms falls back */
    assert_int_equal(d, 3000);
    assert_true(aos_retry_parse_hint(NULL, "Sun, 06 Nov 1994 08:50:07 GMT", now, &d));
    assert_int_equal(d, 30000);
    assert_true(aos_retry_parse_hint(NULL, "Sun, 06 Nov 1994 08:49:00 GMT", now, &d));
    assert_int_equal(d, 0);
    const char *bad[] = {"",
                         "-5",
                         "1.5",
                         "soon",
                         "Sun, 06 Nov 1994 08:49:37 UTC",
                         "Sun, 06 Foo 1994 08:49:37 GMT",
                         "Sun, 32 Nov 1994 08:49:37 GMT",
                         "Sunday, 06-Nov-94 08:49:37 GMT",
                         "Sun, 06 Nov 1994 25:49:37 GMT"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (aos_retry_parse_hint(bad[i], bad[i], now, &d))
            fail_msg("accepted hint '%s'", bad[i]);
    }
    assert_false(aos_retry_parse_hint(NULL, NULL, now, &d));
    assert_true(aos_retry_parse_hint("99999999999999999999999", NULL, now, &d));
    assert_int_equal(d, UINT64_MAX);
}

static void next_delay_caps_server_hints(void **state)
{
    (void)state;
    aos_retry_policy_t p = {
        .base_delay_ms = 100, .max_delay_ms = 1000, .max_server_delay_ms = 20000};
    uint64_t r = 0;
    assert_int_equal(aos_retry_next_delay_ms(&p, 1, "5000", NULL, 0, fixed_rng, &r), 5000);
    assert_int_equal(aos_retry_next_delay_ms(&p, 1, NULL, "3600", 0, fixed_rng, &r), 20000);
    r = 100;
    assert_int_equal(aos_retry_next_delay_ms(&p, 1, NULL, NULL, 0, fixed_rng, &r), 100);
    assert_int_equal(aos_retry_next_delay_ms(&p, 1, "junk", "junk", 0, fixed_rng, &r), 100);
}

static void http_classification(void **state)
{
    (void)state;
    const int yes[] = {408, 429, 500, 502, 503, 504, 599};
    const int no[] = {200, 201, 204, 301, 400, 401, 403, 404, 409, 413, 422, 499, 600, 0};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(aos_retry_http_status_retryable(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        assert_false(aos_retry_http_status_retryable(no[i]));
    assert_int_equal(aos_result_from_http_status(200), AOS_OK);
    assert_int_equal(aos_result_from_http_status(400), AOS_ERR_INVALID);
    assert_int_equal(aos_result_from_http_status(401), AOS_ERR_AUTH);
    assert_int_equal(aos_result_from_http_status(403), AOS_ERR_FORBIDDEN);
    assert_int_equal(aos_result_from_http_status(404), AOS_ERR_NOT_FOUND);
    assert_int_equal(aos_result_from_http_status(409), AOS_ERR_CONFLICT);
    assert_int_equal(aos_result_from_http_status(413), AOS_ERR_TOO_LARGE);
    assert_int_equal(aos_result_from_http_status(408), AOS_ERR_TIMEOUT);
    assert_int_equal(aos_result_from_http_status(429), AOS_ERR_RATE_LIMITED);
    assert_int_equal(aos_result_from_http_status(503), AOS_ERR_UNAVAILABLE);
    assert_int_equal(aos_result_from_http_status(418), AOS_ERR_REJECTED);
    assert_int_equal(aos_result_from_http_status(101), AOS_ERR_PROTOCOL);
    /* every retryable status maps to a transient result */
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(aos_result_is_transient(aos_result_from_http_status(yes[i])));
}

static void circuit_opens_after_threshold_and_recovers(void **state)
{
    (void)state;
    aos_circuit_t cb;
    aos_circuit_config_t cfg = {.failure_threshold = 3, .open_ms = 1000, .half_open_probes = 1};
    aos_circuit_init(&cb, &cfg);
    int64_t t = 5000;
    assert_int_equal(aos_circuit_get_state(&cb, t), AOS_CIRCUIT_CLOSED);
    for (int i = 0; i < 2; i++) {
        assert_true(aos_circuit_allow(&cb, t));
        aos_circuit_record_failure(&cb, t);
    }
    /* a success resets the consecutive count */
    assert_true(aos_circuit_allow(&cb, t));
    aos_circuit_record_success(&cb, t);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(aos_circuit_get_state(&cb, t), AOS_CIRCUIT_CLOSED);
        assert_true(aos_circuit_allow(&cb, t));
        aos_circuit_record_failure(&cb, t);
    }
    assert_int_equal(aos_circuit_get_state(&cb, t), AOS_CIRCUIT_OPEN);
    assert_false(aos_circuit_allow(&cb, t + 999));
    /* a late success from before the trip does not close it */
    aos_circuit_record_success(&cb, t + 10);
    assert_int_equal(aos_circuit_get_state(&cb, t + 10), AOS_CIRCUIT_OPEN);
    /* after open_ms: half-open, exactly one probe */
    assert_int_equal(aos_circuit_get_state(&cb, t + 1000), AOS_CIRCUIT_HALF_OPEN);
    assert_true(aos_circuit_allow(&cb, t + 1000));
    assert_false(aos_circuit_allow(&cb, t + 1001));
    /* probe fails: open again from that moment */
    aos_circuit_record_failure(&cb, t + 1100);
    assert_int_equal(aos_circuit_get_state(&cb, t + 1100), AOS_CIRCUIT_OPEN);
    assert_false(aos_circuit_allow(&cb, t + 2099));
    assert_true(aos_circuit_allow(&cb, t + 2100));
    /* probe succeeds: closed, calls flow */
    aos_circuit_record_success(&cb, t + 2150);
    assert_int_equal(aos_circuit_get_state(&cb, t + 2150), AOS_CIRCUIT_CLOSED);
    assert_true(aos_circuit_allow(&cb, t + 2150));
    assert_true(aos_circuit_allow(&cb, t + 2150));
    assert_string_equal(aos_circuit_state_str(AOS_CIRCUIT_HALF_OPEN), "half_open");
    assert_string_equal(aos_circuit_state_str(AOS_CIRCUIT_OPEN), "open");
    aos_circuit_destroy(&cb);
}

static void circuit_probe_limit_and_release(void **state)
{
    (void)state;
    aos_circuit_t cb;
    aos_circuit_config_t cfg = {.failure_threshold = 1, .open_ms = 10, .half_open_probes = 2};
    aos_circuit_init(&cb, &cfg);
    aos_circuit_record_failure(&cb, 0);
    assert_false(aos_circuit_allow(&cb, 5));
    assert_true(aos_circuit_allow(&cb, 10));
    assert_true(aos_circuit_allow(&cb, 10));
    assert_false(aos_circuit_allow(&cb, 10));
    aos_circuit_record_release(&cb); /* a probe was cancelled: its slot comes back */
    assert_true(aos_circuit_allow(&cb, 11));
    assert_false(aos_circuit_allow(&cb, 11));
    aos_circuit_destroy(&cb);

    aos_circuit_t d;
    aos_circuit_init(&d, NULL); /* defaults: 5 failures, 30 s, 1 probe */
    for (int i = 0; i < 4; i++)
        aos_circuit_record_failure(&d, 0);
    assert_int_equal(aos_circuit_get_state(&d, 0), AOS_CIRCUIT_CLOSED);
    aos_circuit_record_failure(&d, 0);
    assert_int_equal(aos_circuit_get_state(&d, 29999), AOS_CIRCUIT_OPEN);
    assert_int_equal(aos_circuit_get_state(&d, 30000), AOS_CIRCUIT_HALF_OPEN);
    aos_circuit_destroy(&d);
}

typedef struct {
    aos_circuit_t *cb;
    int allowed;
} worker_arg;

static void *hammer(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < 10000; i++) {
        if (aos_circuit_allow(a->cb, 100)) {
            a->allowed++;
            aos_circuit_record_release(a->cb);
        }
    }
    return NULL;
}

static void circuit_is_thread_safe(void **state)
{
    (void)state;
    aos_circuit_t cb;
    aos_circuit_config_t cfg = {.failure_threshold = 1, .open_ms = 10, .half_open_probes = 3};
    aos_circuit_init(&cb, &cfg);
    aos_circuit_record_failure(&cb, 0);
    pthread_t th[4];
    worker_arg args[4] = {{&cb, 0}, {&cb, 0}, {&cb, 0}, {&cb, 0}};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, &args[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* every grant was released, so all probe slots are free again */
    int free_slots = 0;
    while (aos_circuit_allow(&cb, 100))
        free_slots++;
    assert_int_equal(free_slots, 3);
    aos_circuit_destroy(&cb);
}

/* The one computation of a pthread_cond_timedwait deadline: now + ms on the condition's clock,
 * tv_nsec kept below one second; a negative wait is no wait. */
static void deadline_is_now_plus_ms_normalized(void **state)
{
    (void)state;
    clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    int64_t waits[] = {0, 1, 999, 1000, 1500, 2999, 86400000};
    for (size_t c = 0; c < 2; c++) {
        for (size_t w = 0; w < sizeof waits / sizeof waits[0]; w++) {
            struct timespec before, after;
            clock_gettime(clocks[c], &before);
            struct timespec d = aos_clock_deadline(clocks[c], waits[w]);
            clock_gettime(clocks[c], &after);
            assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
            int64_t d_ns = (int64_t)d.tv_sec * 1000000000 + d.tv_nsec;
            int64_t lo = (int64_t)before.tv_sec * 1000000000 + before.tv_nsec + waits[w] * 1000000;
            int64_t hi = (int64_t)after.tv_sec * 1000000000 + after.tv_nsec + waits[w] * 1000000;
            assert_true(d_ns >= lo && d_ns <= hi);
        }
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec d = aos_clock_deadline(CLOCK_MONOTONIC, -5000);
    assert_true(d.tv_sec < now.tv_sec + 1 && d.tv_sec >= now.tv_sec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deadline_is_now_plus_ms_normalized),
        cmocka_unit_test(backoff_is_full_jitter_within_exponential_ceiling),
        cmocka_unit_test(defaults_and_attempt_limit),
        cmocka_unit_test(server_hints),
        cmocka_unit_test(next_delay_caps_server_hints),
        cmocka_unit_test(http_classification),
        cmocka_unit_test(circuit_opens_after_threshold_and_recovers),
        cmocka_unit_test(circuit_probe_limit_and_release),
        cmocka_unit_test(circuit_is_thread_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
