/* CloudEvents over Kafka: codec unit tests, and produce/consume through librdkafka's mock
 * cluster (an in-process Kafka protocol implementation; no real Kafka needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/kafka.h"
#include "kafka_mock.h"

static aos_event_t *sample_event(void)
{
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.agent.action", "/aos/agent-runner/r1",
                                      "{\"agent\":\"cfo\",\"text\":\"cut costs\"}", &ev),
                     AOS_OK);
    aos_event_set(&ev->subject, "cfo");
    aos_event_set(&ev->group_id, "c-1");
    aos_event_set(&ev->dataschema, "https://aos/schemas/action");
    aos_event_set(&ev->traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    aos_event_set_ext(ev, "agent", "cfo");
    return ev;
}

static void assert_same(const aos_event_t *a, const aos_event_t *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->type, b->type);
    assert_string_equal(a->source, b->source);
    assert_string_equal(a->time, b->time);
    assert_string_equal(a->subject, b->subject);
    assert_string_equal(a->dataschema, b->dataschema);
    assert_string_equal(a->datacontenttype, b->datacontenttype);
    assert_string_equal(a->traceparent, b->traceparent);
    assert_string_equal(a->group_id, b->group_id);
    assert_int_equal(a->data_len, b->data_len);
    assert_memory_equal(a->data, b->data, a->data_len);
    assert_int_equal(a->ext_count, b->ext_count);
    assert_string_equal(aos_event_get_ext(b, "agent"), "cfo");
}

static void codec_round_trip(void **state)
{
    (void)state;
    aos_event_t *ev = sample_event();
    aos_kafka_header_t *h = NULL;
    size_t n = 0;
    const char *key = NULL;
    char err[256];
    assert_int_equal(aos_envelope_to_kafka(ev, &h, &n, &key, err, sizeof err), AOS_OK);
    assert_string_equal(key, "c-1");
    bool saw_spec = false, saw_ext = false, saw_ct = false;
    for (size_t i = 0; i < n; i++) {
        saw_spec |= strcmp(h[i].name, "ce_specversion") == 0 && h[i].value_len == 3;
        saw_ext |= strcmp(h[i].name, "ce_agent") == 0;
        saw_ct |= strcmp(h[i].name, "content-type") == 0;
    }
    assert_true(saw_spec && saw_ext && saw_ct);
    aos_event_t *back = NULL;
    assert_int_equal(aos_envelope_from_kafka(h, n, ev->data, ev->data_len, key, strlen(key), &back,
                                             err, sizeof err),
                     AOS_OK);
    assert_same(ev, back);
    aos_event_free(back);
    free(h);

    /* without group_id the key is the subject, and reads back as no group */
    aos_event_set(&ev->group_id, NULL);
    assert_int_equal(aos_envelope_to_kafka(ev, &h, &n, &key, err, sizeof err), AOS_OK);
    assert_string_equal(key, "cfo");
    assert_int_equal(aos_envelope_from_kafka(h, n, ev->data, ev->data_len, key, strlen(key), &back,
                                             err, sizeof err),
                     AOS_OK);
    assert_null(back->group_id);
    aos_event_free(back);
    free(h);
    aos_event_free(ev);
}

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, v, sizeof(v) - 1                                                                        \
    }

static void expect_error(const aos_kafka_header_t *h, size_t n, const char *value,
                         const char *needle)
{
    aos_event_t *ev = (aos_event_t *)1;
    char err[256] = "";
    aos_result r = aos_envelope_from_kafka(h, n, value, value ? strlen(value) : 0, NULL, 0, &ev,
                                           err, sizeof err);
    if (r != AOS_ERR_INVALID || !strstr(err, needle))
        fail_msg("expected '%s', got %d '%s'", needle, r, err);
    assert_null(ev);
}

static void codec_validation(void **state)
{
    (void)state;
    aos_kafka_header_t no_spec[] = {H("ce_id", "1"), H("ce_type", "t"), H("ce_source", "s")};
    expect_error(no_spec, 3, NULL, "'specversion'");
    aos_kafka_header_t spec03[] = {H("ce_specversion", "0.3"), H("ce_id", "1")};
    expect_error(spec03, 2, NULL, "unsupported specversion");
    aos_kafka_header_t no_source[] = {H("ce_specversion", "1.0"), H("ce_id", "1"),
                                      H("ce_type", "t")};
    expect_error(no_source, 3, NULL, "missing required attribute 'source'");
    aos_kafka_header_t dup[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_id", "2")};
    expect_error(dup, 3, NULL, "attribute 'id' appears twice");
    aos_kafka_header_t bad_utf8[] = {H("ce_specversion", "1.0"), H("ce_id", "\xc3\x28")};
    expect_error(bad_utf8, 2, NULL, "attribute 'id' is not valid UTF-8");
    aos_kafka_header_t nul[] = {H("ce_specversion", "1.0"), {"ce_id", "a\0b", 3}};
    expect_error(nul, 2, NULL, "attribute 'id' is not valid UTF-8");
    aos_kafka_header_t nullval[] = {H("ce_specversion", "1.0"), {"ce_id", NULL, 0}};
    expect_error(nullval, 2, NULL, "attribute 'id' has a null value");
    aos_kafka_header_t badext[] = {H("ce_specversion", "1.0"), H("ce_Bad_Name", "x")};
    expect_error(badext, 2, NULL, "invalid extension attribute name 'Bad_Name'");
    aos_kafka_header_t base[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_type", "t"),
                                 H("ce_source", "s"), H("x-other", "ignored")};
    expect_error(base, 5, "{oops", "data is not valid JSON");
    aos_kafka_header_t badtime[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_type", "t"),
                                    H("ce_source", "s"), H("ce_time", "noon")};
    expect_error(badtime, 5, NULL, "'time'");

    /* binary content with its own content type passes; a binary key is not a group id */
    aos_kafka_header_t bin[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_type", "t"),
                                H("ce_source", "s"), H("content-type", "application/octet-stream")};
    aos_event_t *ev = NULL;
    char err[256];
    assert_int_equal(
        aos_envelope_from_kafka(bin, 5, "\x00\xff", 2, "\xff\xfe", 2, &ev, err, sizeof err),
        AOS_OK);
    assert_int_equal(ev->data_len, 2);
    assert_null(ev->group_id);
    assert_string_equal(ev->datacontenttype, "application/octet-stream");
    aos_event_free(ev);

    /* the tracing extension form ce_traceparent is read when plain traceparent is absent */
    aos_kafka_header_t tp[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_type", "t"),
                               H("ce_source", "s"), H("ce_traceparent", "00-aa-bb-01")};
    assert_int_equal(aos_envelope_from_kafka(tp, 5, NULL, 0, NULL, 0, &ev, err, sizeof err),
                     AOS_OK);
    assert_string_equal(ev->traceparent, "00-aa-bb-01");
    assert_int_equal(ev->ext_count, 0);
    aos_event_free(ev);

    /* structured mode */
    aos_kafka_header_t structured[] = {
        H("content-type", "application/cloudevents+json; charset=utf-8")};
    const char *doc = "{\"specversion\":\"1.0\",\"id\":\"9\",\"type\":\"t\",\"source\":\"s\","
                      "\"data\":{\"x\":1}}";
    assert_int_equal(
        aos_envelope_from_kafka(structured, 1, doc, strlen(doc), "conv", 4, &ev, err, sizeof err),
        AOS_OK);
    assert_string_equal(ev->id, "9");
    assert_string_equal(ev->group_id, "conv");
    aos_event_free(ev);
    expect_error(structured, 1, "{\"id\":\"9\"}", "'specversion'");
}

/* Read one record from topic/0 from the beginning; fails the test after ~20 s. */
static rd_kafka_message_t *consume_one(const char *bootstraps, rd_kafka_t **out_consumer)
{
    rd_kafka_t *c = kafka_mock_consumer(bootstraps, "aos-test", "aos.events");
    assert_non_null(c);
    rd_kafka_message_t *got = NULL;
    for (int i = 0; i < 40 && !got; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 500);
        if (m && m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            got = m;
        else if (m)
            rd_kafka_message_destroy(m);
    }
    assert_non_null(got);
    rd_kafka_consumer_close(c);
    /* a message must be destroyed before its handle */
    *out_consumer = c;
    return got;
}

static void release_message(rd_kafka_message_t *m, rd_kafka_t *c)
{
    rd_kafka_message_destroy(m);
    rd_kafka_destroy(c);
}

static void publish_and_consume_through_mock_cluster(void **state)
{
    (void)state;
    kafka_mock_t m;
    assert_int_equal(kafka_mock_start(&m, "aos.events"), 0);
    aos_kafka_producer_t *p = NULL;
    char err[512];
    aos_kafka_producer_config_t cfg = {
        .brokers = m.bootstraps, .client_id = "aos-test", .delivery_timeout_ms = 20000};
    assert_int_equal(aos_kafka_producer_new(&cfg, &p, err, sizeof err), AOS_OK);
    aos_event_t *ev = sample_event();
    assert_int_equal(aos_kafka_publish(p, "aos.events", ev, err, sizeof err), AOS_OK);

    rd_kafka_t *consumer = NULL;
    rd_kafka_message_t *msg = consume_one(m.bootstraps, &consumer);
    aos_event_t *back = NULL;
    assert_int_equal(kafka_mock_decode(msg, &back, err, sizeof err), AOS_OK);
    assert_same(ev, back);
    aos_event_free(back);
    release_message(msg, consumer);

    /* an invalid event is refused before it reaches Kafka */
    aos_event_set(&ev->source, NULL);
    assert_int_equal(aos_kafka_publish(p, "aos.events", ev, err, sizeof err), AOS_ERR_INVALID);
    assert_int_equal(aos_kafka_publish(p, "", ev, err, sizeof err), AOS_ERR_INVALID);
    aos_event_free(ev);
    aos_kafka_producer_free(p);
    kafka_mock_stop(&m);
}

static void broker_errors_become_results(void **state)
{
    (void)state;
    kafka_mock_t m;
    assert_int_equal(kafka_mock_start(&m, "aos.events"), 0);
    aos_kafka_producer_t *p = NULL;
    char err[512];
    aos_kafka_producer_config_t cfg = {.brokers = m.bootstraps, .delivery_timeout_ms = 20000};
    assert_int_equal(aos_kafka_producer_new(&cfg, &p, err, sizeof err), AOS_OK);
    /* a permanent produce error from the broker is reported, not retried forever */
    rd_kafka_mock_push_request_errors(m.mc, 0 /* Produce */, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    aos_event_t *ev = sample_event();
    assert_int_equal(aos_kafka_publish(p, "aos.events", ev, err, sizeof err), AOS_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "kafka delivery to aos.events"));
    aos_event_free(ev);
    aos_kafka_producer_free(p);
    kafka_mock_stop(&m);

    /* configuration errors */
    assert_int_equal(aos_kafka_producer_new(&(aos_kafka_producer_config_t){0}, &p, err, sizeof err),
                     AOS_ERR_INVALID);
    const char *props[] = {"no.such.property", "1", NULL};
    aos_kafka_producer_config_t bad = {.brokers = "127.0.0.1:1", .properties = props};
    assert_int_equal(aos_kafka_producer_new(&bad, &p, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "no.such.property"));
    const char *secret[] = {"sasl.password", NULL, NULL};
    aos_kafka_producer_config_t bad2 = {.brokers = "127.0.0.1:1", .properties = secret};
    assert_int_equal(aos_kafka_producer_new(&bad2, &p, err, sizeof err), AOS_ERR_INVALID);
    assert_null(p);
    aos_kafka_producer_free(NULL);
}

static void eventhubs_connection_strings(void **state)
{
    (void)state;
    char out[128];
    const char *conn = "Endpoint=sb://aos-ns.servicebus.windows.net/;SharedAccessKeyName=send;"
                       "SharedAccessKey=c2VjcmV0";
    assert_int_equal(aos_kafka_eventhubs_bootstrap(conn, out, sizeof out), AOS_OK);
    assert_string_equal(out, "aos-ns.servicebus.windows.net:9093");
    assert_int_equal(
        aos_kafka_eventhubs_bootstrap("SharedAccessKeyName=a;endpoint=sb://h", out, sizeof out),
        AOS_OK);
    assert_string_equal(out, "h:9093");
    const char *bad[] = {"", "SharedAccessKey=x", "Endpoint=", "Endpoint=sb://",
                         "Endpoint=h;x=sb://y"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(aos_kafka_eventhubs_bootstrap(bad[i], out, sizeof out), AOS_ERR_INVALID);
    assert_int_equal(aos_kafka_eventhubs_bootstrap(conn, out, 8), AOS_ERR_INVALID);

    /* a producer configured from it alone; no network until the first produce */
    aos_kafka_producer_t *p = NULL;
    char err[256] = "";
    aos_kafka_producer_config_t cfg = {.eventhubs_connection_string = conn};
    assert_int_equal(aos_kafka_producer_new(&cfg, &p, err, sizeof err), AOS_OK);
    aos_kafka_producer_free(p);
    aos_kafka_producer_config_t badcfg = {.eventhubs_connection_string =
                                              "SharedAccessKey=c2VjcmV0"};
    assert_int_equal(aos_kafka_producer_new(&badcfg, &p, err, sizeof err), AOS_ERR_INVALID);
    assert_null(strstr(err, "c2VjcmV0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_round_trip),
        cmocka_unit_test(codec_validation),
        cmocka_unit_test(publish_and_consume_through_mock_cluster),
        cmocka_unit_test(broker_errors_become_results),
        cmocka_unit_test(eventhubs_connection_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
