/* Event publisher -> Event Grid, against the Event Grid fake on loopback: order and
 * completeness, 429 + Retry-After, bad key, queue overflow, oversize events, 413 splitting,
 * flush on free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/event_publisher.h"
#include "aos/log.h"
#include "eventgrid_fake.h"

#define KEY "fake-topic-key"
#define WAIT_MS 30000

static eg_fake_t *fake;

static int setup(void **state)
{
    (void)state;
    fake = eg_fake_start(KEY);
    return fake ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    eg_fake_free(fake);
    fake = NULL;
    return 0;
}

static aos_event_publisher_t *publisher(const char *key, uint32_t batch, uint32_t linger,
                                        uint32_t max_queued)
{
    aos_event_publisher_config_t cfg = {
        .eventgrid_endpoint = eg_fake_endpoint(fake),
        .eventgrid_key = key,
        .batch_max_events = batch,
        .linger_ms = linger,
        .max_queued_events = max_queued,
        .flush_timeout_ms = 20000,
        .retry = {.max_attempts = 3, .base_delay_ms = 10, .max_delay_ms = 50}};
    aos_event_publisher_t *p = NULL;
    char err[256];
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_OK);
    return p;
}

/* Publish an event with id "<prefix>-<i>" and optional data; returns its result. */
static aos_result publish_n(aos_event_publisher_t *p, const char *prefix, int i, const char *data)
{
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.agent.heartbeat", "/aos/tests/events",
                                      data ? data : "{\"n\":1}", &ev),
                     AOS_OK);
    char id[64];
    snprintf(id, sizeof id, "%s-%d", prefix, i);
    assert_int_equal(aos_event_set(&ev->id, id), AOS_OK);
    aos_result r = aos_event_publish(p, ev);
    aos_event_free(ev);
    return r;
}

static void assert_id(size_t i, const char *prefix, int n)
{
    char got[64], want[64];
    eg_fake_event_id(fake, i, got, sizeof got);
    snprintf(want, sizeof want, "%s-%d", prefix, n);
    assert_string_equal(got, want);
}

static void events_arrive_in_order_and_complete(void **state)
{
    (void)state;
    aos_event_publisher_t *p = publisher(KEY, 40, 20, 1000);
    for (int i = 0; i < 250; i++)
        assert_int_equal(publish_n(p, "ord", i, NULL), AOS_OK);
    assert_int_equal(eg_fake_wait(fake, 250, 1, WAIT_MS), 0);
    for (int i = 0; i < 250; i++)
        assert_id((size_t)i, "ord", i);
    assert_true(eg_fake_requests(fake) >= 7); /* ≤ 40 per request */
    aos_event_publisher_free(p);
    assert_int_equal(eg_fake_event_count(fake), 250);
}

static void rate_limit_then_success(void **state)
{
    (void)state;
    eg_fake_fail_next(fake, 2, "1");
    aos_event_publisher_t *p = publisher(KEY, 10, 1, 100);
    for (int i = 0; i < 3; i++)
        assert_int_equal(publish_n(p, "rl", i, NULL), AOS_OK);
    assert_int_equal(eg_fake_wait(fake, 3, 1, WAIT_MS), 0);
    aos_event_publisher_free(p);
    assert_int_equal(eg_fake_status_count(fake, 429), 2);
    assert_int_equal(eg_fake_event_count(fake), 3); /* exactly once each */
    for (int i = 0; i < 3; i++)
        assert_id((size_t)i, "rl", i);
}

static void bad_key_counts_failures_without_retrying(void **state)
{
    (void)state;
    aos_event_publisher_t *p = publisher("wrong-key", 2, 1, 100);
    for (int i = 0; i < 4; i++)
        assert_int_equal(publish_n(p, "bk", i, NULL), AOS_OK);
    aos_event_publisher_free(p); /* flush: every batch answered once */
    size_t reqs = eg_fake_requests(fake);
    assert_true(reqs >= 2 && reqs <= 4);
    assert_int_equal(eg_fake_status_count(fake, 401), reqs);
    assert_int_equal(eg_fake_event_count(fake), 0);
}

static void bad_key_stats(void **state)
{
    (void)state;
    aos_event_publisher_t *p = publisher("wrong-key", 100, 1, 100);
    assert_int_equal(publish_n(p, "bs", 0, NULL), AOS_OK);
    assert_int_equal(eg_fake_wait(fake, 1, 0, WAIT_MS), 0);
    aos_event_sink_stats_t st = {0};
    for (int i = 0; i < 3000 && st.failed == 0; i++) {
        aos_event_publisher_stats(p, AOS_EVENT_SINK_EVENTGRID, &st);
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.published, 0);
    aos_event_publisher_free(p);
    assert_int_equal(eg_fake_requests(fake), 1);
}

static void full_queue_drops_the_oldest(void **state)
{
    (void)state;
    eg_fake_hold(fake);
    aos_event_publisher_t *p = publisher(KEY, 1, 1, 5);
    assert_int_equal(publish_n(p, "q", 0, NULL), AOS_OK);
    assert_int_equal(eg_fake_wait(fake, 1, 0, WAIT_MS), 0); /* q-0 is in flight, held */
    for (int i = 1; i <= 10; i++)
        assert_int_equal(publish_n(p, "q", i, NULL), AOS_OK);
    aos_event_sink_stats_t st;
    aos_event_publisher_stats(p, AOS_EVENT_SINK_EVENTGRID, &st);
    assert_int_equal(st.dropped, 5);
    assert_int_equal(st.queued, 5);
    eg_fake_release(fake);
    assert_int_equal(eg_fake_wait(fake, 6, 1, WAIT_MS), 0);
    aos_event_publisher_free(p);
    assert_int_equal(eg_fake_event_count(fake), 6);
    assert_id(0, "q", 0);
    for (int i = 6; i <= 10; i++)
        assert_id((size_t)(i - 5), "q", i);
}

static char *big_data(size_t n)
{
    char *d = malloc(n + 3);
    assert_non_null(d);
    d[0] = '"';
    memset(d + 1, 'x', n);
    d[n + 1] = '"';
    d[n + 2] = '\0';
    return d;
}

static void oversize_event_is_dropped_others_delivered(void **state)
{
    (void)state;
    aos_event_publisher_t *p = publisher(KEY, 10, 1, 100);
    char *big = big_data(1024 * 1024 + 10);
    assert_int_equal(publish_n(p, "big", 0, NULL), AOS_OK);
    assert_int_equal(publish_n(p, "big", 1, big), AOS_OK);
    assert_int_equal(publish_n(p, "big", 2, NULL), AOS_OK);
    free(big);
    aos_event_publisher_free(p);
    assert_int_equal(eg_fake_event_count(fake), 2);
    assert_id(0, "big", 0);
    assert_id(1, "big", 2);
}

static void payload_over_the_request_limit_is_split(void **state)
{
    (void)state;
    aos_event_publisher_t *p = publisher(KEY, 10, 200, 100);
    char *d = big_data(400 * 1024);
    for (int i = 0; i < 5; i++)
        assert_int_equal(publish_n(p, "split", i, d), AOS_OK);
    free(d);
    assert_int_equal(eg_fake_wait(fake, 5, 1, WAIT_MS), 0);
    aos_event_sink_stats_t st;
    aos_event_publisher_stats(p, AOS_EVENT_SINK_EVENTGRID, &st);
    aos_event_publisher_free(p);
    assert_int_equal(eg_fake_status_count(fake, 413), 0); /* planned under 1 MB up front */
    assert_true(eg_fake_requests(fake) >= 3);
    for (int i = 0; i < 5; i++)
        assert_id((size_t)i, "split", i);
}

static void too_large_answer_halves_the_batch(void **state)
{
    (void)state;
    /* the publisher believes in 4 MB requests; the endpoint (like Event Grid) takes 1 MB */
    aos_event_publisher_config_t cfg = {.eventgrid_endpoint = eg_fake_endpoint(fake),
                                        .eventgrid_key = KEY,
                                        .batch_max_events = 10,
                                        .linger_ms = 10000,
                                        .flush_timeout_ms = 20000,
                                        .eventgrid_max_request_bytes = 4 * 1024 * 1024};
    aos_event_publisher_t *p = NULL;
    char err[256];
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_OK);
    char *d = big_data(600 * 1024);
    for (int i = 0; i < 3; i++)
        assert_int_equal(publish_n(p, "half", i, d), AOS_OK);
    free(d);
    aos_event_publisher_free(p); /* flush sends the lingering batch now */
    assert_true(eg_fake_status_count(fake, 413) >= 1);
    assert_int_equal(eg_fake_event_count(fake), 3);
    for (int i = 0; i < 3; i++)
        assert_id((size_t)i, "half", i);
}

static void free_flushes_lingering_events(void **state)
{
    (void)state;
    aos_event_publisher_t *p = publisher(KEY, 100, 60000, 100);
    for (int i = 0; i < 5; i++)
        assert_int_equal(publish_n(p, "fl", i, NULL), AOS_OK);
    aos_event_publisher_free(p);
    assert_int_equal(eg_fake_event_count(fake), 5);
    assert_int_equal(eg_fake_requests(fake), 1);
}

static void metrics_are_recorded_per_sink(void **state)
{
    (void)state;
    aos_metrics_t *m = NULL;
    assert_int_equal(aos_metrics_new(&m), AOS_OK);
    aos_event_publisher_config_t cfg = {.eventgrid_endpoint = eg_fake_endpoint(fake),
                                        .eventgrid_key = KEY,
                                        .linger_ms = 1,
                                        .metrics = m};
    aos_event_publisher_t *p = NULL;
    char err[256];
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_OK);
    assert_int_equal(publish_n(p, "m", 0, NULL), AOS_OK);
    aos_event_publisher_free(p);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(aos_metrics_render(m, &text, &len), AOS_OK);
    assert_non_null(strstr(text, "aos_events_published_total{sink=\"eventgrid\"} 1"));
    assert_non_null(
        strstr(text, "aos_events_dropped_total{sink=\"eventgrid\",reason=\"queue_full\"} 0"));
    free(text);
    aos_metrics_free(m);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd); /* nothing listens there now */
    return ntohs(a.sin_port);
}

static uint64_t metric(aos_metrics_t *m, const char *name, const char *reason)
{
    aos_metric_counter_t *c =
        reason ? aos_metrics_counter(m, name, "Events dropped before reaching a sink.", "sink",
                                     "eventgrid", "reason", reason, NULL)
               : aos_metrics_counter(m, name, "Events a sink refused or gave up on after retries.",
                                     "sink", "eventgrid", NULL);
    assert_non_null(c);
    return aos_metric_counter_value(c);
}

static void unreachable_endpoint_fails_then_breaker_holds_events(void **state)
{
    (void)state;
    aos_metrics_t *m = NULL;
    assert_int_equal(aos_metrics_new(&m), AOS_OK);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/events", closed_port());
    aos_event_publisher_config_t cfg = {.eventgrid_endpoint = url,
                                        .eventgrid_key = KEY,
                                        .batch_max_events = 1,
                                        .linger_ms = 1,
                                        .flush_timeout_ms = 300,
                                        .retry = {.max_attempts = 2, .base_delay_ms = 10},
                                        .circuit = {.failure_threshold = 2, .open_ms = 600000},
                                        .metrics = m};
    aos_event_publisher_t *p = NULL;
    char err[256];
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_OK);
    assert_int_equal(publish_n(p, "un", 0, NULL), AOS_OK);
    aos_event_sink_stats_t st = {0};
    for (int i = 0; i < 3000 && st.failed == 0; i++) {
        aos_event_publisher_stats(p, AOS_EVENT_SINK_EVENTGRID, &st);
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(st.failed, 1); /* two transport failures, then given up */
    /* the breaker is open now: the next event waits instead of hammering the endpoint,
     * and is dropped (reason shutdown) when the flush deadline passes */
    assert_int_equal(publish_n(p, "un", 1, NULL), AOS_OK);
    aos_event_publisher_free(p);
    assert_int_equal(metric(m, "aos_events_failed_total", NULL), 1);
    assert_int_equal(metric(m, "aos_events_dropped_total", "shutdown"), 1);
    aos_metrics_free(m);
}

static void flush_deadline_cancels_a_hanging_request(void **state)
{
    (void)state;
    aos_metrics_t *m = NULL;
    assert_int_equal(aos_metrics_new(&m), AOS_OK);
    eg_fake_hold(fake); /* the endpoint accepts the request and never answers */
    aos_event_publisher_config_t cfg = {.eventgrid_endpoint = eg_fake_endpoint(fake),
                                        .eventgrid_key = KEY,
                                        .linger_ms = 1,
                                        .flush_timeout_ms = 300,
                                        .request_timeout_ms = 600000,
                                        .metrics = m};
    aos_event_publisher_t *p = NULL;
    char err[256];
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_OK);
    assert_int_equal(publish_n(p, "hang", 0, NULL), AOS_OK);
    assert_int_equal(eg_fake_wait(fake, 1, 0, WAIT_MS), 0);
    aos_event_publisher_free(p); /* cancels the request at the flush deadline */
    assert_int_equal(metric(m, "aos_events_dropped_total", "shutdown"), 1);
    assert_int_equal(metric(m, "aos_events_failed_total", NULL), 0);
    aos_metrics_free(m);
}

int main(void)
{
    aos_log_init("test-events-eventgrid", AOS_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(events_arrive_in_order_and_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(rate_limit_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_key_counts_failures_without_retrying, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_key_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(full_queue_drops_the_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(oversize_event_is_dropped_others_delivered, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(payload_over_the_request_limit_is_split, setup, teardown),
        cmocka_unit_test_setup_teardown(too_large_answer_halves_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(free_flushes_lingering_events, setup, teardown),
        cmocka_unit_test_setup_teardown(metrics_are_recorded_per_sink, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_endpoint_fails_then_breaker_holds_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(flush_deadline_cancels_a_hanging_request, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
