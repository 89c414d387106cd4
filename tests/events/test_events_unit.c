/* Event publisher: batch planning/splitting, config mapping, and argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/event_publisher.h"
#include "aos/log.h"

#define MB (1024u * 1024u)

static void plan_fits_everything_small(void **state)
{
    (void)state;
    size_t sizes[5] = {10, 10, 10, 10, 10};
    assert_int_equal(aos_eventgrid_plan_batch(sizes, 5, 100, MB), 5);
    assert_int_equal(aos_eventgrid_plan_batch(sizes, 0, 100, MB), 0);
}

static void plan_respects_item_limit(void **state)
{
    (void)state;
    size_t sizes[5] = {10, 10, 10, 10, 10};
    assert_int_equal(aos_eventgrid_plan_batch(sizes, 5, 2, MB), 2);
    assert_int_equal(aos_eventgrid_plan_batch(sizes, 5, 1, MB), 1);
}

static void plan_counts_brackets_and_commas(void **state)
{
    (void)state;
    /* "[" a "," b "]" = 2 + 10 + 1 + 10 = 23 bytes */
    size_t sizes[3] = {10, 10, 10};
    assert_int_equal(aos_eventgrid_plan_batch(sizes, 3, 100, 23), 2);
    assert_int_equal(aos_eventgrid_plan_batch(sizes, 3, 100, 22), 1);
    assert_int_equal(aos_eventgrid_plan_batch(sizes, 3, 100, 34), 3);
}

static void plan_splits_at_one_megabyte(void **state)
{
    (void)state;
    size_t sizes[4] = {400 * 1024, 400 * 1024, 400 * 1024, 400 * 1024};
    size_t k = aos_eventgrid_plan_batch(sizes, 4, 100, MB);
    assert_int_equal(k, 2);
    assert_int_equal(aos_eventgrid_plan_batch(sizes + k, 4 - k, 100, MB), 2);
    /* the first item always goes, even alone over the limit (callers filter first) */
    size_t big[2] = {2 * MB, 1};
    assert_int_equal(aos_eventgrid_plan_batch(big, 2, 100, MB), 1);
}

static void event_size_limit(void **state)
{
    (void)state;
    assert_true(aos_eventgrid_event_fits(100, MB));
    assert_true(aos_eventgrid_event_fits(MB - 2, MB));
    assert_false(aos_eventgrid_event_fits(MB - 1, MB)); /* no room for the brackets */
    assert_false(aos_eventgrid_event_fits(MB + 1, 4 * MB));
    assert_true(aos_eventgrid_event_fits(MB, 4 * MB));
}

static void join_builds_a_json_array(void **state)
{
    (void)state;
    char a[] = "{\"a\":1}", b[] = "{\"b\":2}";
    char *items[2] = {a, b};
    size_t lens[2] = {strlen(a), strlen(b)};
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(aos_eventgrid_join_batch(items, lens, 2, &body, &len), AOS_OK);
    assert_string_equal(body, "[{\"a\":1},{\"b\":2}]");
    assert_int_equal(len, strlen(body));
    free(body);
    assert_int_equal(aos_eventgrid_join_batch(items, lens, 0, &body, &len), AOS_OK);
    assert_string_equal(body, "[]");
    free(body);
}

static void config_from_common_maps_the_sinks(void **state)
{
    (void)state;
    aos_config_common_t c = {0};
    aos_event_publisher_config_t cfg;
    aos_event_publisher_config_from_common(&c, NULL, &cfg);
    assert_null(cfg.eventgrid_endpoint);
    assert_null(cfg.kafka_brokers);
    assert_null(cfg.kafka_connection_string);
    assert_null(cfg.bus);

    char ep[] = "https://t.westus2-1.eventgrid.azure.net/api/events", key[] = "k",
         brokers[] = "b1:9092,b2:9092",
         cs[] = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=n;SharedAccessKey=x";
    c.eventgrid_endpoint = ep;
    c.eventgrid_key = key;
    c.kafka_brokers = brokers;
    c.kafka_connection_string = cs;
    aos_event_publisher_config_from_common(&c, (aos_bus_t *)&c, &cfg);
    assert_string_equal(cfg.eventgrid_endpoint, ep);
    assert_string_equal(cfg.eventgrid_key, key);
    assert_string_equal(cfg.kafka_brokers, brokers);
    assert_string_equal(cfg.kafka_connection_string, cs);
    assert_ptr_equal(cfg.bus, &c);
    assert_null(cfg.topic);
}

static void bad_config_is_refused(void **state)
{
    (void)state;
    aos_event_publisher_t *p = NULL;
    char err[256] = "";
    aos_event_publisher_config_t cfg = {.eventgrid_endpoint = "http://127.0.0.1:1/api/events"};
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "AOS_EVENTGRID_KEY"));
    assert_null(p);
    cfg.eventgrid_key = "k";
    cfg.eventgrid_endpoint = "ftp://x/api/events";
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "AOS_EVENTGRID_ENDPOINT"));
    aos_event_publisher_config_t kcfg = {.kafka_connection_string = "SharedAccessKey=secret"};
    assert_int_equal(aos_event_publisher_new(&kcfg, &p, err, sizeof err), AOS_ERR_INVALID);
    assert_null(strstr(err, "secret"));
    assert_null(p);
}

static void invalid_event_is_refused_and_no_sink_is_fine(void **state)
{
    (void)state;
    aos_event_publisher_t *p = NULL;
    char err[256] = "";
    aos_event_publisher_config_t cfg = {0};
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_OK);
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_new(&ev), AOS_OK);
    assert_int_equal(aos_event_publish(p, ev), AOS_ERR_INVALID); /* no id/type/source */
    aos_event_free(ev);
    assert_int_equal(aos_event_create("aos.agent.heartbeat", "/aos/test", "{}", &ev), AOS_OK);
    assert_int_equal(aos_event_publish(p, ev), AOS_OK);
    assert_int_equal(aos_event_publish(p, NULL), AOS_ERR_INVALID);
    aos_event_sink_stats_t st;
    aos_event_publisher_stats(p, AOS_EVENT_SINK_EVENTGRID, &st);
    assert_int_equal(st.published + st.failed + st.dropped + st.queued, 0);
    aos_event_free(ev);
    aos_event_publisher_free(p);
    aos_event_publisher_free(NULL);
}

int main(void)
{
    aos_log_init("test-events", AOS_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plan_fits_everything_small),
        cmocka_unit_test(plan_respects_item_limit),
        cmocka_unit_test(plan_counts_brackets_and_commas),
        cmocka_unit_test(plan_splits_at_one_megabyte),
        cmocka_unit_test(event_size_limit),
        cmocka_unit_test(join_builds_a_json_array),
        cmocka_unit_test(config_from_common_maps_the_sinks),
        cmocka_unit_test(bad_config_is_refused),
        cmocka_unit_test(invalid_event_is_refused_and_no_sink_is_fine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
