/* The runner loop: closures from other threads run on the loop thread in order, timers fire
 * in due order (FIFO among equals), and freeing cancels what never ran. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "loop.h"

typedef struct rec {
    runner_loop_t *loop;
    pthread_mutex_t mu;
    int seen[64];
    int n;
    int cancelled;
    bool wrong_thread;
} rec_t;

typedef struct item {
    rec_t *r;
    int value;
} item_t;

static void record(void *arg, bool cancelled)
{
    item_t *it = arg;
    pthread_mutex_lock(&it->r->mu);
    if (cancelled)
        it->r->cancelled++;
    else if (it->r->n < 64)
        it->r->seen[it->r->n++] = it->value;
    if (!cancelled && !runner_loop_on_thread(it->r->loop))
        it->r->wrong_thread = true;
    pthread_mutex_unlock(&it->r->mu);
}

static void wait_for(rec_t *r, int n)
{
    for (int i = 0; i < 400; i++) {
        pthread_mutex_lock(&r->mu);
        int have = r->n;
        pthread_mutex_unlock(&r->mu);
        if (have >= n)
            return;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void test_post_order(void **state)
{
    (void)state;
    rec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(runner_loop_new(&r.loop), AOS_OK);
    assert_int_equal(runner_loop_start(r.loop), AOS_OK);
    item_t items[20];
    for (int i = 0; i < 20; i++) {
        items[i] = (item_t){&r, i};
        assert_int_equal(runner_loop_post(r.loop, record, &items[i]), AOS_OK);
    }
    wait_for(&r, 20);
    runner_loop_free(r.loop);
    assert_int_equal(r.n, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(r.seen[i], i);
    assert_false(r.wrong_thread);
}

static item_t timer_items[6];

static void arm_timers(void *arg, bool cancelled)
{
    rec_t *r = arg;
    assert_false(cancelled);
    /* due order 30, 10, 10, 20, 0 -> 4 (0 ms), 1, 2 (10 ms, FIFO), 3 (20), 0 (30) */
    static const uint32_t delays[5] = {30, 10, 10, 20, 0};
    for (int i = 0; i < 5; i++) {
        timer_items[i] = (item_t){r, i};
        assert_int_equal(runner_loop_timer(r->loop, delays[i], record, &timer_items[i]), AOS_OK);
    }
    /* one far in the future: cancelled by free */
    timer_items[5] = (item_t){r, 5};
    assert_int_equal(runner_loop_timer(r->loop, 600000, record, &timer_items[5]), AOS_OK);
}

static void test_timers(void **state)
{
    (void)state;
    rec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(runner_loop_new(&r.loop), AOS_OK);
    assert_int_equal(runner_loop_start(r.loop), AOS_OK);
    assert_int_equal(runner_loop_post(r.loop, arm_timers, &r), AOS_OK);
    wait_for(&r, 5);
    runner_loop_free(r.loop);
    assert_int_equal(r.n, 5);
    static const int want[5] = {4, 1, 2, 3, 0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(r.seen[i], want[i]);
    assert_int_equal(r.cancelled, 1);
}

static void test_post_after_stop(void **state)
{
    (void)state;
    rec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(runner_loop_new(&r.loop), AOS_OK);
    item_t it = {&r, 1};
    /* posted before the thread runs: runs once started */
    assert_int_equal(runner_loop_post(r.loop, record, &it), AOS_OK);
    assert_int_equal(runner_loop_start(r.loop), AOS_OK);
    wait_for(&r, 1);
    runner_loop_stop(r.loop);
    assert_int_equal(runner_loop_post(r.loop, record, &it), AOS_ERR_CLOSED);
    runner_loop_free(r.loop);
    runner_loop_free(NULL);
    assert_int_equal(r.n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_order),
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_post_after_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
