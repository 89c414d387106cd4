/* Event publisher -> Kafka through librdkafka's mock cluster: every event arrives once, in
 * order, as a binary-mode CloudEvent keyed by group_id; a dead cluster counts failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/event_publisher.h"
#include "aos/kafka.h"
#include "kafka_mock.h"
#include "aos/log.h"

#define N_EVENTS 5

static rd_kafka_t *consumer_new(const char *bootstraps)
{
    rd_kafka_t *c = kafka_mock_consumer(bootstraps, "aos-events-test", "aos.events.test");
    assert_non_null(c);
    return c;
}

/* Decode one record into an event (test fails on a bad record). */
static aos_event_t *decode(rd_kafka_message_t *msg)
{
    aos_event_t *ev = NULL;
    char err[256];
    assert_int_equal(kafka_mock_decode(msg, &ev, err, sizeof err), AOS_OK);
    return ev;
}

static void events_reach_kafka_in_order(void **state)
{
    (void)state;
    kafka_mock_t m;
    assert_int_equal(kafka_mock_start(&m, "aos.events.test"), 0);
    aos_event_publisher_config_t cfg = {.kafka_brokers = m.bootstraps,
                                        .kafka_topic = "aos.events.test",
                                        .kafka_delivery_timeout_ms = 20000,
                                        .flush_timeout_ms = 30000};
    aos_event_publisher_t *p = NULL;
    char err[256];
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_OK);
    for (int i = 0; i < N_EVENTS; i++) {
        aos_event_t *ev = NULL;
        assert_int_equal(
            aos_event_create("aos.conversation.updated", "/aos/tests/events", "{\"turn\":1}", &ev),
            AOS_OK);
        char id[32];
        snprintf(id, sizeof id, "k-%d", i);
        assert_int_equal(aos_event_set(&ev->id, id), AOS_OK);
        assert_int_equal(aos_event_set(&ev->group_id, "conv-7"), AOS_OK);
        assert_int_equal(aos_event_publish(p, ev), AOS_OK);
        aos_event_free(ev);
    }
    aos_event_publisher_free(p); /* flush: every event confirmed by the broker */

    rd_kafka_t *c = consumer_new(m.bootstraps);
    int got = 0;
    for (int tries = 0; tries < 60 && got < N_EVENTS; tries++) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(c, 500);
        if (!msg)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            aos_event_t *ev = decode(msg);
            char want[32];
            snprintf(want, sizeof want, "k-%d", got);
            assert_string_equal(ev->id, want);
            assert_string_equal(ev->type, "aos.conversation.updated");
            assert_string_equal(ev->group_id, "conv-7");
            assert_int_equal(msg->key_len, strlen("conv-7"));
            assert_memory_equal(msg->key, "conv-7", msg->key_len);
            aos_event_free(ev);
            got++;
        }
        rd_kafka_message_destroy(msg);
    }
    assert_int_equal(got, N_EVENTS);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    kafka_mock_stop(&m);
}

static void broker_errors_count_as_failed(void **state)
{
    (void)state;
    kafka_mock_t m;
    assert_int_equal(kafka_mock_start(&m, "aos.events.test"), 0);
    /* the broker refuses the produce request permanently */
    rd_kafka_mock_push_request_errors(m.mc, 0 /* Produce */, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    aos_event_publisher_config_t cfg = {.kafka_brokers = m.bootstraps,
                                        .kafka_topic = "aos.events.test",
                                        .kafka_delivery_timeout_ms = 5000,
                                        .flush_timeout_ms = 30000};
    aos_event_publisher_t *p = NULL;
    char err[256];
    assert_int_equal(aos_event_publisher_new(&cfg, &p, err, sizeof err), AOS_OK);
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.agent.reply", "/aos/tests/events", "{}", &ev), AOS_OK);
    assert_int_equal(aos_event_publish(p, ev), AOS_OK);
    aos_event_free(ev);
    aos_event_sink_stats_t st = {0};
    for (int i = 0; i < 3000 && st.published + st.failed == 0; i++) {
        aos_event_publisher_stats(p, AOS_EVENT_SINK_KAFKA, &st);
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.published, 0);
    aos_event_publisher_free(p);
    kafka_mock_stop(&m);
}

int main(void)
{
    aos_log_init("test-events-kafka", AOS_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(events_reach_kafka_in_order),
        cmocka_unit_test(broker_errors_count_as_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
