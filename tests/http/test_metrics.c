/* Metrics registry and exact Prometheus 0.0.4 text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "aos/metrics.h"

static char *render(aos_metrics_t *reg)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(aos_metrics_render(reg, &text, &len), AOS_OK);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    return text;
}

static void test_empty_registry_renders_empty(void **state)
{
    (void)state;
    aos_metrics_t *reg = NULL;
    assert_int_equal(aos_metrics_new(&reg), AOS_OK);
    char *text = render(reg);
    assert_string_equal(text, "");
    free(text);
    aos_metrics_free(reg);
    aos_metrics_free(NULL);
}

static void test_counter_and_gauge_text(void **state)
{
    (void)state;
    aos_metrics_t *reg = NULL;
    assert_int_equal(aos_metrics_new(&reg), AOS_OK);
    aos_metric_counter_t *a =
        aos_metrics_counter(reg, "jobs_total", "Jobs done.", "queue", "a", "kind", "x", NULL);
    aos_metric_counter_t *b =
        aos_metrics_counter(reg, "jobs_total", "Jobs done.", "queue", "b", "kind", "x", NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(
        a, aos_metrics_counter(reg, "jobs_total", "ignored", "queue", "a", "kind", "x", NULL));
    aos_metric_counter_inc(a);
    aos_metric_counter_add(a, 41);
    aos_metric_counter_inc(b);
    aos_metric_gauge_t *g = aos_metrics_gauge(reg, "active", "Active things.", NULL);
    aos_metric_gauge_set(g, 2.5);
    aos_metric_gauge_inc(g);
    aos_metric_gauge_dec(g);
    aos_metric_gauge_add(g, -1);
    assert_true(aos_metric_gauge_value(g) == 1.5);
    assert_int_equal(aos_metric_counter_value(a), 42);
    char *text = render(reg);
    assert_string_equal(text, "# HELP active Active things.\n"
                              "# TYPE active gauge\n"
                              "active 1.5\n"
                              "# HELP jobs_total Jobs done.\n"
                              "# TYPE jobs_total counter\n"
                              "jobs_total{queue=\"a\",kind=\"x\"} 42\n"
                              "jobs_total{queue=\"b\",kind=\"x\"} 1\n");
    free(text);
    aos_metrics_free(reg);
}

static void test_escaping(void **state)
{
    (void)state;
    aos_metrics_t *reg = NULL;
    assert_int_equal(aos_metrics_new(&reg), AOS_OK);
    aos_metric_counter_t *c = aos_metrics_counter(
        reg, "odd_total", "Back\\slash and\nnewline \"q\"", "path", "a\"b\\c\nd", NULL);
    aos_metric_counter_inc(c);
    char *text = render(reg);
    assert_string_equal(text, "# HELP odd_total Back\\\\slash and\\nnewline \"q\"\n"
                              "# TYPE odd_total counter\n"
                              "odd_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
    free(text);
    aos_metrics_free(reg);
}

static void test_histogram_text(void **state)
{
    (void)state;
    aos_metrics_t *reg = NULL;
    assert_int_equal(aos_metrics_new(&reg), AOS_OK);
    const double b[] = {0.1, 0.5, 1};
    aos_metric_histogram_t *h =
        aos_metrics_histogram(reg, "latency_seconds", "Latency.", b, 3, "route", "/x", NULL);
    assert_non_null(h);
    aos_metric_histogram_observe(h, 0.05);
    aos_metric_histogram_observe(h, 0.1); /* le is inclusive */
    aos_metric_histogram_observe(h, 0.75);
    aos_metric_histogram_observe(h, 7);
    aos_metric_histogram_observe(h, NAN); /* ignored */
    assert_int_equal(aos_metric_histogram_count(h), 4);
    char *text = render(reg);
    assert_string_equal(text, "# HELP latency_seconds Latency.\n"
                              "# TYPE latency_seconds histogram\n"
                              "latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
                              "latency_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
                              "latency_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
                              "latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                              "latency_seconds_sum{route=\"/x\"} 7.9\n"
                              "latency_seconds_count{route=\"/x\"} 4\n");
    free(text);
    aos_metrics_free(reg);
}

static void test_histogram_default_buckets_no_labels(void **state)
{
    (void)state;
    aos_metrics_t *reg = NULL;
    assert_int_equal(aos_metrics_new(&reg), AOS_OK);
    aos_metric_histogram_t *h = aos_metrics_histogram(reg, "d_seconds", "D.", NULL, 0, NULL);
    aos_metric_histogram_observe(h, 0.003);
    char *text = render(reg);
    assert_non_null(strstr(text, "d_seconds_bucket{le=\"0.005\"} 1\n"));
    assert_non_null(strstr(text, "d_seconds_bucket{le=\"60\"} 1\n"));
    assert_non_null(strstr(text, "d_seconds_bucket{le=\"+Inf\"} 1\n"));
    assert_non_null(strstr(text, "d_seconds_sum 0.003\nd_seconds_count 1\n"));
    free(text);
    aos_metrics_free(reg);
}

static void test_rejects_bad_lookups(void **state)
{
    (void)state;
    aos_log_init("test", AOS_LOG_OFF);
    aos_metrics_t *reg = NULL;
    assert_int_equal(aos_metrics_new(&reg), AOS_OK);
    assert_non_null(aos_metrics_counter(reg, "x_total", "X.", "a", "1", NULL));
    assert_null(aos_metrics_gauge(reg, "x_total", "X.", "a", "1", NULL));   /* type */
    assert_null(aos_metrics_counter(reg, "x_total", "X.", "b", "1", NULL)); /* labels */
    assert_null(aos_metrics_counter(reg, "x_total", "X.", NULL));           /* label count */
    assert_null(aos_metrics_counter(reg, "9bad", "X.", NULL));              /* name */
    assert_null(aos_metrics_counter(reg, "bad-name", "X.", NULL));
    assert_null(aos_metrics_counter(reg, "ok_total", "X.", "le", "1", NULL));  /* reserved */
    assert_null(aos_metrics_counter(reg, "ok_total", "X.", "a:b", "1", NULL)); /* label name */
    assert_null(aos_metrics_counter(reg, "ok_total", "X.", "a", "1", "a", "2", NULL)); /* dup */
    assert_null(aos_metrics_counter(reg, "ok_total", "X.", "a", "1", "b", "1", "c", "1", "d", "1",
                                    "e", "1", NULL)); /* too many */
    const double unsorted[] = {1, 0.5};
    assert_null(aos_metrics_histogram(reg, "h_seconds", "H.", unsorted, 2, NULL));
    const double b1[] = {1, 2};
    const double b2[] = {1, 3};
    assert_non_null(aos_metrics_histogram(reg, "h_seconds", "H.", b1, 2, NULL));
    assert_null(aos_metrics_histogram(reg, "h_seconds", "H.", b2, 2, NULL));
    /* NULL handles are no-ops */
    aos_metric_counter_inc(NULL);
    aos_metric_gauge_set(NULL, 1);
    aos_metric_histogram_observe(NULL, 1);
    char *text = render(reg);
    assert_null(strstr(text, "ok_total"));
    free(text);
    aos_metrics_free(reg);
}

static void *hammer(void *arg)
{
    aos_metrics_t *reg = arg;
    aos_metric_counter_t *c = aos_metrics_counter(reg, "hits_total", "Hits.", NULL);
    aos_metric_gauge_t *g = aos_metrics_gauge(reg, "level", "Level.", NULL);
    aos_metric_histogram_t *h = aos_metrics_histogram(reg, "obs", "Obs.", NULL, 0, NULL);
    for (int i = 0; i < 100000; i++) {
        aos_metric_counter_inc(c);
        aos_metric_gauge_add(g, 1);
        aos_metric_histogram_observe(h, 1);
    }
    return NULL;
}

static void test_concurrent_updates_are_not_lost(void **state)
{
    (void)state;
    aos_metrics_t *reg = NULL;
    assert_int_equal(aos_metrics_new(&reg), AOS_OK);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, reg);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(aos_metric_counter_value(aos_metrics_counter(reg, "hits_total", "", NULL)),
                     400000);
    assert_true(aos_metric_gauge_value(aos_metrics_gauge(reg, "level", "", NULL)) == 400000.0);
    char *text = render(reg);
    assert_non_null(strstr(text, "obs_sum 400000\nobs_count 400000\n"));
    free(text);
    aos_metrics_free(reg);
}

static void test_default_registry(void **state)
{
    (void)state;
    aos_metric_counter_t *c = aos_metrics_counter(NULL, "default_total", "In default.", NULL);
    aos_metric_counter_inc(c);
    assert_ptr_equal(aos_metrics_default(), aos_metrics_default());
    char *text = render(NULL);
    assert_non_null(strstr(text, "default_total 1\n"));
    free(text);
    aos_metrics_free(aos_metrics_default()); /* refused: the default lives forever */
    assert_int_equal(aos_metric_counter_value(c), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_registry_renders_empty),
        cmocka_unit_test(test_counter_and_gauge_text),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram_text),
        cmocka_unit_test(test_histogram_default_buckets_no_labels),
        cmocka_unit_test(test_rejects_bad_lookups),
        cmocka_unit_test(test_concurrent_updates_are_not_lost),
        cmocka_unit_test(test_default_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
