/* Broker loss: a stream of messages is sent while the fixture broker restarts; the buses
 * reconnect, re-attach and re-send, and every message arrives (at least once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bus_test_util.h"

enum { N = 300 };

typedef struct confirms {
    pthread_mutex_t mu;
    int ok, failed;
} confirms_t;

static void on_confirm(void *ctx, aos_result r, const char *detail)
{
    confirms_t *c = ctx;
    pthread_mutex_lock(&c->mu);
    if (r == AOS_OK) {
        c->ok++;
    } else {
        c->failed++;
        fprintf(stderr, "send failed: %s %s\n", aos_result_str(r), detail ? detail : "");
    }
    pthread_mutex_unlock(&c->mu);
}

static int restart_broker(void)
{
    const char *dir = getenv("AOS_TEST_FIXTURES_DIR");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s/rabbitmq/ctl' restart >/dev/null", dir ? dir : "fixtures");
    return system(cmd);
}

static void *restart_thread(void *arg)
{
    *(int *)arg = restart_broker();
    return NULL;
}

static int all_ids(t_collector_t *c, void *arg)
{
    char(*ids)[40] = arg;
    for (int i = 0; i < N; i++)
        if (t_find(c, ids[i]) < 0)
            return 0;
    return 1;
}

static void test_stream_across_restart(void **state)
{
    (void)state;
    aos_bus_t *producer = t_bus("reconnect-p", 0);
    aos_bus_t *consumer = t_bus("reconnect-c", 0);
    assert_non_null(producer);
    assert_non_null(consumer);
    t_collector_t c;
    t_collector_init(&c, T_ACCEPT);
    assert_int_equal(aos_bus_subscribe(consumer, "aos.test.reconnect", 32, t_on_message, &c),
                     AOS_OK);
    confirms_t conf = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static char ids[N][40];
    pthread_t th;
    int restart_rc = -1;
    for (int i = 0; i < N; i++) {
        char data[32];
        snprintf(data, sizeof data, "{\"seq\":%d}", i);
        aos_event_t *ev = t_event("aos.test.reconnect", data);
        snprintf(ids[i], sizeof ids[i], "%s", ev->id);
        assert_int_equal(aos_bus_send(producer, "aos.test.reconnect", ev, on_confirm, &conf),
                         AOS_OK);
        aos_event_free(ev);
        if (i == N / 3) /* sends go on while the broker is down */
            assert_int_equal(pthread_create(&th, NULL, restart_thread, &restart_rc), 0);
        usleep(20000);
    }
    pthread_join(th, NULL);
    assert_int_equal(restart_rc, 0);
    uint64_t until = t_now_ms() + 90000;
    for (;;) {
        pthread_mutex_lock(&conf.mu);
        int done = conf.ok + conf.failed;
        pthread_mutex_unlock(&conf.mu);
        if (done >= N || t_now_ms() > until)
            break;
        usleep(20000);
    }
    assert_int_equal(conf.failed, 0);
    assert_int_equal(conf.ok, N);
    assert_true(t_wait(&c, all_ids, ids, 60000));
    assert_int_equal(aos_bus_wait_connected(producer, 1000), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(consumer, 1000), AOS_OK);
    fprintf(stderr, "%d sent, %zu delivered (duplicates are allowed)\n", N, c.count);
    aos_bus_free(producer);
    aos_bus_free(consumer);
    t_collector_destroy(&c);
}

int main(void)
{
    srandom((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_across_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
