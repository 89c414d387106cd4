#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include <proton/codec.h>
#include <proton/message.h>

#include "aos/envelope.h"

static aos_event_t *full_event(void)
{
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.agent.turn", "/aos/router/r1",
                                      "{\"text\":\"hello\",\"n\":[1,2]}", &ev),
                     AOS_OK);
    assert_int_equal(aos_event_set(&ev->subject, "conv-1"), AOS_OK);
    assert_int_equal(aos_event_set(&ev->dataschema, "https://aos/schemas/turn"), AOS_OK);
    assert_int_equal(aos_event_set(&ev->correlation_id, "req-7"), AOS_OK);
    assert_int_equal(aos_event_set(&ev->reply_to, "aos.reply.r1"), AOS_OK);
    assert_int_equal(aos_event_set(&ev->group_id, "c-42"), AOS_OK);
    assert_int_equal(aos_event_set(&ev->reply_to_group_id, "inst-1"), AOS_OK);
    assert_int_equal(
        aos_event_set(&ev->traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        AOS_OK);
    assert_int_equal(aos_event_set_ext(ev, "agent", "cfo"), AOS_OK);
    assert_int_equal(aos_event_set_ext(ev, "priority2", "high"), AOS_OK);
    ev->ttl_ms = 30000;
    return ev;
}

static void assert_str_eq_or_null(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_same_ce(const aos_event_t *a, const aos_event_t *b)
{
    assert_str_eq_or_null(a->id, b->id);
    assert_str_eq_or_null(a->type, b->type);
    assert_str_eq_or_null(a->source, b->source);
    assert_str_eq_or_null(a->subject, b->subject);
    assert_str_eq_or_null(a->time, b->time);
    assert_str_eq_or_null(a->datacontenttype, b->datacontenttype);
    assert_str_eq_or_null(a->dataschema, b->dataschema);
    assert_str_eq_or_null(a->traceparent, b->traceparent);
    assert_int_equal(a->data_len, b->data_len);
    if (a->data_len)
        assert_memory_equal(a->data, b->data, a->data_len);
    assert_int_equal(a->ext_count, b->ext_count);
    for (size_t i = 0; i < a->ext_count; i++)
        assert_str_eq_or_null(a->ext[i].value, aos_event_get_ext(b, a->ext[i].name));
}

static void assert_same_amqp(const aos_event_t *a, const aos_event_t *b)
{
    assert_same_ce(a, b);
    assert_str_eq_or_null(a->correlation_id, b->correlation_id);
    assert_str_eq_or_null(a->reply_to, b->reply_to);
    assert_str_eq_or_null(a->group_id, b->group_id);
    assert_str_eq_or_null(a->reply_to_group_id, b->reply_to_group_id);
    assert_int_equal(a->ttl_ms, b->ttl_ms);
}

static void create_fills_defaults(void **state)
{
    (void)state;
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("t", "s", NULL, &ev), AOS_OK);
    assert_int_equal(strlen(ev->id), 36);
    assert_int_equal(ev->id[14], '4');
    assert_true(strchr("89ab", ev->id[19]) != NULL);
    assert_non_null(ev->time);
    assert_int_equal(ev->time[strlen(ev->time) - 1], 'Z');
    assert_string_equal(ev->datacontenttype, "application/json");
    assert_null(ev->data);
    assert_int_equal(aos_event_validate(ev, NULL, 0), AOS_OK);
    char a[37], b[37];
    aos_uuid4(a);
    aos_uuid4(b);
    assert_string_not_equal(a, b);
    aos_event_free(ev);
    aos_event_free(NULL);
}

static void extensions_and_clone(void **state)
{
    (void)state;
    aos_event_t *ev = full_event();
    assert_string_equal(aos_event_get_ext(ev, "agent"), "cfo");
    assert_null(aos_event_get_ext(ev, "nope"));
    assert_int_equal(aos_event_set_ext(ev, "agent", "ceo"), AOS_OK);
    assert_string_equal(aos_event_get_ext(ev, "agent"), "ceo");
    assert_int_equal(aos_event_set_ext(ev, "Agent", "x"), AOS_ERR_INVALID);
    assert_int_equal(aos_event_set_ext(ev, "a_b", "x"), AOS_ERR_INVALID);
    assert_int_equal(aos_event_set_ext(ev, "id", "x"), AOS_ERR_INVALID);
    assert_int_equal(aos_event_set_ext(ev, "traceparent", "x"), AOS_ERR_INVALID);
    assert_int_equal(aos_event_set_ext(ev, "abcdefghijklmnopqrstu", "x"), AOS_ERR_INVALID);
    assert_int_equal(aos_event_set_ext(ev, "agent", NULL), AOS_OK);
    assert_null(aos_event_get_ext(ev, "agent"));
    assert_int_equal(ev->ext_count, 1);
    for (int i = 0; ev->ext_count < AOS_EVENT_MAX_EXTENSIONS; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        assert_int_equal(aos_event_set_ext(ev, name, "v"), AOS_OK);
    }
    assert_int_equal(aos_event_set_ext(ev, "onemore", "v"), AOS_ERR_TOO_LARGE);

    aos_event_t *c = NULL;
    assert_int_equal(aos_event_clone(ev, &c), AOS_OK);
    assert_same_amqp(ev, c);
    assert_ptr_not_equal(c->id, ev->id);
    aos_event_free(ev);
    aos_event_free(c);
}

static void validate_rules(void **state)
{
    (void)state;
    char err[200];
    aos_event_t *ev = full_event();
    assert_int_equal(aos_event_validate(ev, err, sizeof err), AOS_OK);
    const char *good_times[] = {"2026-11-24T10:00:00Z", "2026-11-24t10:00:00.123456789z",
                                "2026-02-01T00:00:60+05:30", "1999-12-31T23:59:59-00:00"};
    for (size_t i = 0; i < sizeof good_times / sizeof *good_times; i++) {
        aos_event_set(&ev->time, good_times[i]);
        assert_int_equal(aos_event_validate(ev, err, sizeof err), AOS_OK);
    }
    const char *bad_times[] = {"2026-11-24",
                               "2026-13-01T00:00:00Z",
                               "2026-11-24T24:00:00Z",
                               "2026-11-24T10:00:00",
                               "2026-11-24T10:00:00.Z",
                               "2026-11-24T10:00:00+5:30",
                               "yesterday"};
    for (size_t i = 0; i < sizeof bad_times / sizeof *bad_times; i++) {
        aos_event_set(&ev->time, bad_times[i]);
        assert_int_equal(aos_event_validate(ev, err, sizeof err), AOS_ERR_INVALID);
        assert_non_null(strstr(err, "'time'"));
    }
    aos_event_set(&ev->time, NULL);
    aos_event_set_data(ev, "{bad", 4);
    assert_int_equal(aos_event_validate(ev, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "data is not valid JSON"));
    aos_event_set(&ev->datacontenttype, "application/octet-stream");
    assert_int_equal(aos_event_validate(ev, err, sizeof err), AOS_OK);
    aos_event_set(&ev->datacontenttype, "application/cloudevents+json; charset=utf-8");
    assert_int_equal(aos_event_validate(ev, err, sizeof err), AOS_ERR_INVALID);
    aos_event_set(&ev->source, "");
    assert_int_equal(aos_event_validate(ev, err, sizeof err), AOS_ERR_INVALID);
    assert_string_equal(err, "missing required attribute 'source'");
    aos_event_set(&ev->type, NULL);
    assert_int_equal(aos_event_validate(ev, err, sizeof err), AOS_ERR_INVALID);
    assert_string_equal(err, "missing required attribute 'type'");
    aos_event_set(&ev->id, NULL);
    assert_int_equal(aos_event_validate(ev, err, sizeof err), AOS_ERR_INVALID);
    assert_string_equal(err, "missing required attribute 'id'");
    aos_event_free(ev);
}

static void amqp_message_layout(void **state)
{
    (void)state;
    aos_event_t *ev = full_event();
    pn_message_t *msg = pn_message();
    char err[200];
    assert_int_equal(aos_envelope_to_message(ev, msg, err, sizeof err), AOS_OK);
    assert_true(pn_message_is_durable(msg));
    assert_int_equal(pn_message_get_ttl(msg), 30000);
    pn_atom_t id = pn_message_get_id(msg);
    assert_int_equal(id.type, PN_STRING);
    assert_memory_equal(id.u.as_bytes.start, ev->id, strlen(ev->id));
    assert_string_equal(pn_message_get_content_type(msg), "application/json");
    assert_string_equal(pn_message_get_group_id(msg), "c-42");
    assert_string_equal(pn_message_get_reply_to_group_id(msg), "inst-1");
    assert_string_equal(pn_message_get_reply_to(msg), "aos.reply.r1");
    assert_string_equal(pn_message_get_subject(msg), "aos.agent.turn");

    /* application-properties: look for the required keys and string values */
    pn_data_t *p = pn_message_properties(msg);
    pn_data_rewind(p);
    assert_true(pn_data_next(p));
    assert_int_equal(pn_data_type(p), PN_MAP);
    size_t n = pn_data_get_map(p);
    pn_data_enter(p);
    int found = 0;
    for (size_t i = 0; i < n; i += 2) {
        pn_data_next(p);
        pn_bytes_t k = pn_data_get_string(p);
        pn_data_next(p);
        pn_bytes_t v = pn_data_get_string(p);
        if (k.size == 23 && memcmp(k.start, "cloudEvents:specversion", 23) == 0) {
            assert_int_equal(v.size, 3);
            assert_memory_equal(v.start, "1.0", 3);
            found++;
        }
        if (k.size == 17 && memcmp(k.start, "cloudEvents:agent", 17) == 0)
            found++;
        if (k.size == 11 && memcmp(k.start, "traceparent", 11) == 0)
            found++;
    }
    pn_data_exit(p);
    assert_int_equal(found, 3);

    /* body must go out as a single data section: encode and decode, check it is inferred binary */
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(aos_envelope_encode(ev, &buf, &len), AOS_OK);
    pn_message_t *back = pn_message();
    assert_int_equal(pn_message_decode(back, buf, len), 0);
    assert_true(pn_message_is_inferred(back));
    pn_data_t *body = pn_message_body(back);
    pn_data_rewind(body);
    assert_true(pn_data_next(body));
    assert_int_equal(pn_data_type(body), PN_BINARY);
    /* 0x00 0x53 0x75 = described type, smallulong descriptor 0x75 (data section) */
    assert_non_null(memmem(buf, len, "\x00\x53\x75", 3));
    free(buf);
    pn_message_free(back);
    pn_message_free(msg);
    aos_event_free(ev);
}

static void amqp_round_trips(void **state)
{
    (void)state;
    aos_event_t *ev = full_event();
    char err[200];
    pn_message_t *msg = pn_message();
    assert_int_equal(aos_envelope_to_message(ev, msg, err, sizeof err), AOS_OK);
    aos_event_t *back = NULL;
    assert_int_equal(aos_envelope_from_message(msg, &back, err, sizeof err), AOS_OK);
    assert_same_amqp(ev, back);
    assert_int_equal(back->delivery_count, 0);
    aos_event_free(back);

    pn_message_set_delivery_count(msg, 3);
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 4096;
    buf = malloc(cap);
    assert_int_equal(pn_message_encode(msg, buf, &cap), 0);
    assert_int_equal(aos_envelope_decode(buf, cap, &back, err, sizeof err), AOS_OK);
    assert_int_equal(back->delivery_count, 3);
    assert_same_amqp(ev, back);
    aos_event_free(back);
    free(buf);

    /* minimal event, no data; binary (non-JSON) data */
    aos_event_t *min = NULL;
    assert_int_equal(aos_event_new(&min), AOS_OK);
    aos_event_set(&min->id, "1");
    aos_event_set(&min->type, "t");
    aos_event_set(&min->source, "s");
    assert_int_equal(aos_envelope_encode(min, &buf, &len), AOS_OK);
    assert_int_equal(aos_envelope_decode(buf, len, &back, err, sizeof err), AOS_OK);
    free(buf);
    assert_null(back->data);
    assert_string_equal(back->datacontenttype, "application/json");
    aos_event_free(back);
    aos_event_set(&min->datacontenttype, "application/octet-stream");
    aos_event_set_data(min, "\x00\x01\xff", 3);
    assert_int_equal(aos_envelope_encode(min, &buf, &len), AOS_OK);
    assert_int_equal(aos_envelope_decode(buf, len, &back, err, sizeof err), AOS_OK);
    free(buf);
    assert_same_amqp(min, back);
    aos_event_free(back);
    aos_event_free(min);

    /* an invalid event is not encoded */
    aos_event_set(&ev->type, NULL);
    assert_int_equal(aos_envelope_encode(ev, &buf, &len), AOS_ERR_INVALID);
    assert_null(buf);
    assert_int_equal(aos_envelope_to_message(ev, msg, err, sizeof err), AOS_ERR_INVALID);
    pn_message_free(msg);
    aos_event_free(ev);
}

/* Build a message by hand: props is a list of key, type-tag, value triples. */
typedef struct {
    const char *key;
    char kind; /* 's' string, 'i' int, 'l' list, 't' timestamp, 'b' bool */
    const char *sval;
    int64_t ival;
} prop_t;

static pn_message_t *hand_message(const prop_t *props, size_t n)
{
    pn_message_t *m = pn_message();
    pn_data_t *d = pn_message_properties(m);
    pn_data_put_map(d);
    pn_data_enter(d);
    for (size_t i = 0; i < n; i++) {
        pn_data_put_string(d, pn_bytes(strlen(props[i].key), props[i].key));
        switch (props[i].kind) {
        case 's':
            pn_data_put_string(d, pn_bytes(strlen(props[i].sval), props[i].sval));
            break;
        case 'i':
            pn_data_put_int(d, (int32_t)props[i].ival);
            break;
        case 'b':
            pn_data_put_bool(d, props[i].ival != 0);
            break;
        case 't':
            pn_data_put_timestamp(d, props[i].ival);
            break;
        default:
            pn_data_put_list(d);
            break;
        }
    }
    pn_data_exit(d);
    return m;
}

#define BASE_PROPS                                                                                 \
    {"cloudEvents:specversion", 's', "1.0", 0}, {"cloudEvents:id", 's', "e1", 0},                  \
        {"cloudEvents:type", 's', "t", 0},                                                         \
    {                                                                                              \
        "cloudEvents:source", 's', "s", 0                                                          \
    }

static void expect_decode_error(const prop_t *props, size_t n, const char *needle)
{
    pn_message_t *m = hand_message(props, n);
    aos_event_t *ev = (aos_event_t *)1;
    char err[200] = "";
    aos_result r = aos_envelope_from_message(m, &ev, err, sizeof err);
    if (r != AOS_ERR_INVALID || !strstr(err, needle))
        fail_msg("expected error containing '%s', got %d '%s'", needle, r, err);
    assert_null(ev);
    pn_message_free(m);
}

static void amqp_decode_validation(void **state)
{
    (void)state;
    prop_t no_spec[] = {{"cloudEvents:id", 's', "e1", 0},
                        {"cloudEvents:type", 's', "t", 0},
                        {"cloudEvents:source", 's', "s", 0}};
    expect_decode_error(no_spec, 3, "'specversion'");
    prop_t spec2[] = {{"cloudEvents:specversion", 's', "0.3", 0}, {"cloudEvents:id", 's', "e", 0}};
    expect_decode_error(spec2, 2, "unsupported specversion");
    prop_t spec_int[] = {{"cloudEvents:specversion", 'i', NULL, 1}};
    expect_decode_error(spec_int, 1, "attribute 'specversion' must be a string");
    prop_t no_id[] = {{"cloudEvents:specversion", 's', "1.0", 0},
                      {"cloudEvents:type", 's', "t", 0},
                      {"cloudEvents:source", 's', "s", 0}};
    expect_decode_error(no_id, 3, "missing required attribute 'id'");
    prop_t id_int[] = {{"cloudEvents:specversion", 's', "1.0", 0},
                       {"cloudEvents:id", 'i', NULL, 5}};
    expect_decode_error(id_int, 2, "attribute 'id' must be a string");
    prop_t no_type[] = {{"cloudEvents:specversion", 's', "1.0", 0},
                        {"cloudEvents:id", 's', "e", 0},
                        {"cloudEvents:source", 's', "s", 0}};
    expect_decode_error(no_type, 3, "missing required attribute 'type'");
    prop_t no_source[] = {{"cloudEvents:specversion", 's', "1.0", 0},
                          {"cloudEvents:id", 's', "e", 0},
                          {"cloudEvents:type", 's', "t", 0}};
    expect_decode_error(no_source, 3, "missing required attribute 'source'");
    prop_t bad_time[] = {BASE_PROPS, {"cloudEvents:time", 's', "noon", 0}};
    expect_decode_error(bad_time, 5, "'time'");
    prop_t dup[] = {BASE_PROPS, {"cloudEvents:id", 's', "e2", 0}};
    expect_decode_error(dup, 5, "appears twice");
    prop_t ext_list[] = {BASE_PROPS, {"cloudEvents:agent", 'l', NULL, 0}};
    expect_decode_error(ext_list, 5, "attribute 'agent' has an unsupported AMQP type");
    prop_t ext_name[] = {BASE_PROPS, {"cloudEvents:Bad-Name", 's', "x", 0}};
    expect_decode_error(ext_name, 5, "invalid extension attribute name 'Bad-Name'");
    prop_t tp_int[] = {BASE_PROPS, {"traceparent", 'i', NULL, 1}};
    expect_decode_error(tp_int, 5, "'traceparent' must be a string");
    prop_t bad_utf8[] = {{"cloudEvents:specversion", 's', "1.0", 0},
                         {"cloudEvents:id", 's', "\xc0\xaf", 0}};
    expect_decode_error(bad_utf8, 2, "attribute 'id' is not valid UTF-8");

    prop_t many[4 + AOS_EVENT_MAX_EXTENSIONS + 1] = {BASE_PROPS};
    char names[AOS_EVENT_MAX_EXTENSIONS + 1][32];
    for (int i = 0; i <= AOS_EVENT_MAX_EXTENSIONS; i++) {
        snprintf(names[i], sizeof names[i], "cloudEvents:x%d", i);
        many[4 + i] = (prop_t){names[i], 's', "v", 0};
    }
    expect_decode_error(many, 4 + AOS_EVENT_MAX_EXTENSIONS + 1, "extension attributes");

    /* data must be JSON for application/json */
    prop_t base[] = {BASE_PROPS};
    pn_message_t *m = hand_message(base, 4);
    pn_message_set_inferred(m, true);
    pn_data_put_binary(pn_message_body(m), pn_bytes(5, "{nope"));
    aos_event_t *ev = NULL;
    char err[200];
    assert_int_equal(aos_envelope_from_message(m, &ev, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "data is not valid JSON"));
    /* amqp-sequence bodies are not ours */
    pn_data_clear(pn_message_body(m));
    pn_data_put_list(pn_message_body(m));
    assert_int_equal(aos_envelope_from_message(m, &ev, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "unsupported message body"));
    pn_message_free(m);

    /* application-properties that are not a map */
    m = pn_message();
    pn_data_put_string(pn_message_properties(m), pn_bytes(1, "x"));
    assert_int_equal(aos_envelope_from_message(m, &ev, err, sizeof err), AOS_ERR_INVALID);
    pn_message_free(m);
    /* no properties at all */
    m = pn_message();
    assert_int_equal(aos_envelope_from_message(m, &ev, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "specversion"));
    pn_message_free(m);
}

static void amqp_decode_tolerates(void **state)
{
    (void)state;
    /* amqp-value string body, alt prefix, timestamp time, typed extensions, uuid correlation */
    prop_t props[] = {{"cloudEvents_specversion", 's', "1.0", 0},
                      {"cloudEvents:id", 's', "e1", 0},
                      {"cloudEvents:type", 's', "t", 0},
                      {"cloudEvents:source", 's', "s", 0},
                      {"cloudEvents:time", 't', NULL, 1795510800123LL},
                      {"cloudEvents:retries", 'i', NULL, -2},
                      {"cloudEvents:sampled", 'b', NULL, 1},
                      {"x-other", 'l', NULL, 0}};
    pn_message_t *m = hand_message(props, sizeof props / sizeof *props);
    pn_data_put_string(pn_message_body(m), pn_bytes(7, "[1,2,3]"));
    pn_atom_t cid = {.type = PN_UUID};
    memcpy(cid.u.as_uuid.bytes, "\x12\x34\x56\x78\x9a\xbc\xde\xf0\x12\x34\x56\x78\x9a\xbc\xde\xf0",
           16);
    pn_message_set_correlation_id(m, cid);
    aos_event_t *ev = NULL;
    char err[200] = "";
    assert_int_equal(aos_envelope_from_message(m, &ev, err, sizeof err), AOS_OK);
    assert_string_equal(ev->time, "2026-11-24T09:00:00.123Z");
    assert_string_equal(aos_event_get_ext(ev, "retries"), "-2");
    assert_string_equal(aos_event_get_ext(ev, "sampled"), "true");
    assert_string_equal(ev->correlation_id, "12345678-9abc-def0-1234-56789abcdef0");
    assert_int_equal(ev->data_len, 7);
    assert_memory_equal(ev->data, "[1,2,3]", 7);
    aos_event_free(ev);
    pn_message_free(m);
}

static void amqp_traceparent_extension_form(void **state)
{
    (void)state;
    prop_t ext_form[] = {BASE_PROPS, {"cloudEvents:traceparent", 's', "00-ab-cd-01", 0}};
    pn_message_t *m = hand_message(ext_form, 5);
    aos_event_t *ev = NULL;
    char err[200] = "";
    assert_int_equal(aos_envelope_from_message(m, &ev, err, sizeof err), AOS_OK);
    assert_string_equal(ev->traceparent, "00-ab-cd-01");
    assert_int_equal(ev->ext_count, 0);
    aos_event_free(ev);
    pn_message_free(m);
    /* the plain application-property wins over the extension form */
    prop_t both[] = {BASE_PROPS,
                     {"cloudEvents:traceparent", 's', "00-ab-cd-01", 0},
                     {"traceparent", 's', "00-ef-01-01", 0}};
    m = hand_message(both, 6);
    assert_int_equal(aos_envelope_from_message(m, &ev, err, sizeof err), AOS_OK);
    assert_string_equal(ev->traceparent, "00-ef-01-01");
    aos_event_free(ev);
    /* routing properties must be UTF-8 */
    pn_message_set_reply_to(m, "\xff\xfe");
    assert_int_equal(aos_envelope_from_message(m, &ev, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "'reply-to'"));
    pn_message_free(m);
}

static void amqp_timestamp_out_of_range(void **state)
{
    (void)state;
    prop_t far[] = {BASE_PROPS, {"cloudEvents:time", 't', NULL, INT64_MAX}};
    expect_decode_error(far, 5, "'time'");
    prop_t before[] = {BASE_PROPS, {"cloudEvents:time", 't', NULL, -62167219200001LL}};
    expect_decode_error(before, 5, "'time'");
    prop_t epoch[] = {BASE_PROPS, {"cloudEvents:time", 't', NULL, -1}};
    pn_message_t *m = hand_message(epoch, 5);
    aos_event_t *ev = NULL;
    char err[200];
    assert_int_equal(aos_envelope_from_message(m, &ev, err, sizeof err), AOS_OK);
    assert_string_equal(ev->time, "1969-12-31T23:59:59.999Z");
    aos_event_free(ev);
    pn_message_free(m);
}

static void amqp_decode_garbage(void **state)
{
    (void)state;
    aos_event_t *ev = NULL;
    char err[200];
    assert_int_equal(aos_envelope_decode("", 0, &ev, err, sizeof err), AOS_ERR_INVALID);
    assert_int_equal(aos_envelope_decode("\x00\x53\x77\xa1\x05hello", 10, &ev, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_int_equal(aos_envelope_decode("\xde\xad\xbe\xef", 4, &ev, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_null(ev);
    /* truncations of a valid message never crash and never succeed with garbage */
    aos_event_t *full = full_event();
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(aos_envelope_encode(full, &buf, &len), AOS_OK);
    for (size_t cut = 0; cut < len; cut++) {
        aos_result r = aos_envelope_decode(buf, cut, &ev, err, sizeof err);
        if (r == AOS_OK)
            aos_event_free(ev);
    }
    free(buf);
    aos_event_free(full);
}

static void json_round_trips(void **state)
{
    (void)state;
    aos_event_t *ev = full_event();
    char *json = NULL;
    assert_int_equal(aos_event_to_json(ev, &json), AOS_OK);
    assert_non_null(strstr(json, "\"specversion\":\"1.0\""));
    assert_non_null(strstr(json, "\"data\":{\"text\":"));
    assert_non_null(strstr(json, "\"agent\":\"cfo\""));
    aos_event_t *back = NULL;
    char err[200];
    assert_int_equal(aos_event_from_json(json, strlen(json), &back, err, sizeof err), AOS_OK);
    /* data is re-serialized: compare after a second trip */
    assert_same_ce(ev, back);
    free(json);
    aos_event_free(back);

    /* binary data -> data_base64; text -> data string */
    aos_event_set(&ev->datacontenttype, "application/octet-stream");
    aos_event_set_data(ev, "\x00\xff\x10", 3);
    assert_int_equal(aos_event_to_json(ev, &json), AOS_OK);
    assert_non_null(strstr(json, "\"data_base64\":\"AP8Q\""));
    assert_int_equal(aos_event_from_json(json, strlen(json), &back, err, sizeof err), AOS_OK);
    assert_same_ce(ev, back);
    free(json);
    aos_event_free(back);
    aos_event_set(&ev->datacontenttype, "text/plain");
    aos_event_set_data(ev, "just words", 10);
    assert_int_equal(aos_event_to_json(ev, &json), AOS_OK);
    assert_non_null(strstr(json, "\"data\":\"just words\""));
    assert_int_equal(aos_event_from_json(json, strlen(json), &back, err, sizeof err), AOS_OK);
    assert_same_ce(ev, back);
    free(json);
    aos_event_free(back);
    aos_event_free(ev);
}

static void json_event_grid_sample(void **state)
{
    (void)state;
    const char *doc =
        "{\"specversion\":\"1.0\",\"type\":\"Microsoft.Storage.BlobCreated\","
        "\"source\":\"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/"
        "storageAccounts/acct\",\"id\":\"9aeb0fdf-c01e-0131-0922-9eb54906e209\","
        "\"time\":\"2019-11-18T15:13:39.4589254Z\",\"subject\":\"blobServices/default/containers/"
        "c/blobs/b\",\"dataschema\":\"#\",\"data\":{\"api\":\"PutBlockList\",\"contentLength\":"
        "524288},\"big\":18446744073709551615,\"sequence\":7,\"flag\":false,\"nothing\":null}";
    aos_event_t *ev = NULL;
    char err[200] = "";
    assert_int_equal(aos_event_from_json(doc, strlen(doc), &ev, err, sizeof err), AOS_OK);
    assert_string_equal(ev->type, "Microsoft.Storage.BlobCreated");
    assert_string_equal(ev->datacontenttype, "application/json");
    assert_string_equal(aos_event_get_ext(ev, "sequence"), "7");
    assert_string_equal(aos_event_get_ext(ev, "big"), "18446744073709551615");
    assert_string_equal(aos_event_get_ext(ev, "flag"), "false");
    assert_null(aos_event_get_ext(ev, "nothing"));
    assert_string_equal(ev->data, "{\"api\":\"PutBlockList\",\"contentLength\":524288}");
    aos_event_free(ev);
}

static void expect_json_error(const char *doc, const char *needle)
{
    aos_event_t *ev = (aos_event_t *)1;
    char err[200] = "";
    aos_result r = aos_event_from_json(doc, strlen(doc), &ev, err, sizeof err);
    if (r != AOS_ERR_INVALID || !strstr(err, needle))
        fail_msg("doc %s: expected error containing '%s', got %d '%s'", doc, needle, r, err);
    assert_null(ev);
}

#define J_BASE "\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\",\"source\":\"s\""

static void json_validation(void **state)
{
    (void)state;
    expect_json_error("[]", "must be a JSON object");
    expect_json_error("{\"id\":\"1\",\"type\":\"t\",\"source\":\"s\"}", "'specversion'");
    expect_json_error("{\"specversion\":\"0.3\",\"id\":\"1\",\"type\":\"t\",\"source\":\"s\"}",
                      "unsupported specversion");
    expect_json_error("{\"specversion\":\"1.0\",\"id\":1,\"type\":\"t\",\"source\":\"s\"}",
                      "attribute 'id' must be a string");
    expect_json_error("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\"}",
                      "missing required attribute 'type'");
    expect_json_error("{" J_BASE ",\"data\":{},\"data_base64\":\"AA==\"}", "both");
    expect_json_error("{" J_BASE ",\"data_base64\":\"A*==\"}", "not valid base64");
    expect_json_error("{" J_BASE ",\"data_base64\":5}", "'data_base64' must be a string");
    expect_json_error("{" J_BASE ",\"Bad\":\"x\"}", "attribute name 'Bad' is not allowed");
    expect_json_error("{" J_BASE ",\"ext\":{\"a\":1}}", "attribute 'ext' must be a string");
    expect_json_error("{" J_BASE ",\"ext\":1.5}", "attribute 'ext' must be a string");
    expect_json_error("{" J_BASE ",\"time\":\"today\"}", "'time'");
    expect_json_error("{" J_BASE ",\"subject\":\"a\\u0000b\"}", "NUL");
    expect_json_error("{" J_BASE ",\"id\":\"2\"}", "duplicate member name"); /* I-JSON */
    expect_json_error("{" J_BASE "} x", "offset 55");
    char deep[400];
    int o = snprintf(deep, sizeof deep, "{" J_BASE ",\"data\":");
    for (int i = 0; i < 70; i++)
        deep[o++] = '[';
    for (int i = 0; i < 70; i++)
        deep[o++] = ']';
    snprintf(deep + o, sizeof deep - (size_t)o, "}");
    expect_json_error(deep, "nesting");
}

static void batch_round_trip_and_errors(void **state)
{
    (void)state;
    aos_event_t *evs[2] = {full_event(), full_event()};
    aos_event_set(&evs[1]->type, "second");
    char *json = NULL;
    assert_int_equal(aos_event_batch_to_json(evs, 2, &json), AOS_OK);
    aos_event_t **back = NULL;
    size_t n = 0;
    char err[200] = "";
    assert_int_equal(aos_event_batch_from_json(json, strlen(json), &back, &n, err, sizeof err),
                     AOS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(back[1]->type, "second");
    assert_same_ce(evs[0], back[0]);
    aos_event_array_free(back, n);
    free(json);

    assert_int_equal(aos_event_batch_from_json("[]", 2, &back, &n, err, sizeof err), AOS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(aos_event_batch_from_json("{}", 2, &back, &n, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_string_equal(err, "a CloudEvents batch must be a JSON array");
    const char *bad = "[{" J_BASE "},{\"specversion\":\"1.0\",\"id\":\"2\",\"type\":\"t\"}]";
    assert_int_equal(aos_event_batch_from_json(bad, strlen(bad), &back, &n, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_string_equal(err, "event[1]: missing required attribute 'source'");
    assert_null(back);
    assert_int_equal(n, 0);

    aos_event_set(&evs[1]->id, NULL);
    assert_int_equal(aos_event_batch_to_json(evs, 2, &json), AOS_ERR_INVALID);
    assert_null(json);
    aos_event_free(evs[0]);
    aos_event_free(evs[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_fills_defaults),
        cmocka_unit_test(extensions_and_clone),
        cmocka_unit_test(validate_rules),
        cmocka_unit_test(amqp_message_layout),
        cmocka_unit_test(amqp_round_trips),
        cmocka_unit_test(amqp_decode_validation),
        cmocka_unit_test(amqp_decode_tolerates),
        cmocka_unit_test(amqp_traceparent_extension_form),
        cmocka_unit_test(amqp_timestamp_out_of_range),
        cmocka_unit_test(amqp_decode_garbage),
        cmocka_unit_test(json_round_trips),
        cmocka_unit_test(json_event_grid_sample),
        cmocka_unit_test(json_validation),
        cmocka_unit_test(batch_round_trip_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
