/* aos/amqp.h: the AMQP message reader. Messages Proton encodes read back field by field;
 * malformed bytes of every kind are an error naming the fault, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <proton/codec.h>
#include <proton/message.h>

#include "aos/amqp.h"
#include "aos/envelope.h"

static size_t encode(pn_message_t *m, char *buf, size_t cap)
{
    size_t n = cap;
    assert_int_equal(pn_message_encode(m, buf, &n), 0);
    return n;
}

static void assert_str(aos_amqp_str_t s, const char *want)
{
    if (!want) {
        assert_null(s.start);
        return;
    }
    assert_non_null(s.start);
    assert_int_equal(s.size, strlen(want));
    assert_memory_equal(s.start, want, s.size);
}

/* Every header and properties field Proton writes reads back the same. */
static void proton_fields_read_back(void **state)
{
    (void)state;
    pn_message_t *m = pn_message();
    pn_message_set_durable(m, true);
    pn_message_set_priority(m, 7);
    pn_message_set_ttl(m, 30000);
    pn_message_set_first_acquirer(m, true);
    pn_message_set_delivery_count(m, 5);
    pn_atom_t id = {.type = PN_ULONG};
    id.u.as_ulong = 42;
    pn_message_set_id(m, id);
    pn_message_set_address(m, "/queue/q");
    pn_message_set_subject(m, "aos.test");
    pn_message_set_reply_to(m, "/queue/r");
    pn_atom_t cid = {.type = PN_STRING};
    cid.u.as_bytes = pn_bytes(6, "corr-1");
    pn_message_set_correlation_id(m, cid);
    pn_message_set_content_type(m, "application/json");
    pn_message_set_content_encoding(m, "");
    pn_message_set_expiry_time(m, 1795510830123LL);
    pn_message_set_creation_time(m, 1795510800123LL);
    pn_message_set_group_id(m, "conv-1");
    pn_message_set_reply_to_group_id(m, "inst-1");
    pn_data_t *ma = pn_message_annotations(m);
    pn_data_put_map(ma);
    pn_data_enter(ma);
    pn_data_put_symbol(ma, pn_bytes(10, "x-exchange"));
    pn_data_put_string(ma, pn_bytes(0, ""));
    pn_data_exit(ma);
    pn_data_t *ap = pn_message_properties(m);
    pn_data_put_map(ap);
    pn_data_enter(ap);
    pn_data_put_string(ap, pn_bytes(1, "k"));
    pn_data_put_long(ap, -3);
    pn_data_put_string(ap, pn_bytes(1, "u"));
    pn_data_put_uint(ap, 300);
    pn_data_exit(ap);
    pn_message_set_inferred(m, true);
    pn_data_put_binary(pn_message_body(m), pn_bytes(4, "{}{}"));
    char buf[2048];
    size_t n = encode(m, buf, sizeof buf);
    pn_message_free(m);

    aos_amqp_message_t v;
    char err[200] = "";
    assert_int_equal(aos_amqp_message_parse(buf, n, &v, err, sizeof err), AOS_OK);
    assert_true(v.durable);
    assert_int_equal(v.priority, 7);
    assert_int_equal(v.ttl_ms, 30000);
    assert_true(v.first_acquirer);
    assert_int_equal(v.delivery_count, 5);
    uint64_t u = 0;
    assert_true(aos_amqp_get_ulong(&v.message_id, &u));
    assert_int_equal(u, 42);
    assert_str(v.to, "/queue/q");
    assert_str(v.subject, "aos.test");
    assert_str(v.reply_to, "/queue/r");
    aos_amqp_str_t s;
    assert_true(aos_amqp_get_string(&v.correlation_id, &s));
    assert_str(s, "corr-1");
    assert_str(v.content_type, "application/json");
    assert_str(v.content_encoding, ""); /* present and empty */
    assert_int_equal(v.absolute_expiry_ms, 1795510830123LL);
    assert_int_equal(v.creation_ms, 1795510800123LL);
    assert_str(v.group_id, "conv-1");
    assert_str(v.reply_to_group_id, "inst-1");
    assert_int_equal(v.body_kind, AOS_AMQP_BODY_DATA);
    assert_int_equal(v.body.size, 4);
    assert_memory_equal(v.body.data, "{}{}", 4);
    /* application-properties: key, value, key, value */
    assert_int_equal(v.app_properties.count, 4);
    aos_amqp_iter_t it;
    aos_amqp_iter_init(&it, &v.app_properties);
    aos_amqp_value_t kv;
    int64_t l = 0;
    uint32_t u32 = 0;
    assert_true(aos_amqp_iter_next(&it, &kv) && aos_amqp_get_string(&kv, &s));
    assert_str(s, "k");
    assert_true(aos_amqp_iter_next(&it, &kv) && aos_amqp_get_long(&kv, &l));
    assert_int_equal(l, -3);
    assert_true(aos_amqp_iter_next(&it, &kv) && aos_amqp_get_string(&kv, &s));
    assert_true(aos_amqp_iter_next(&it, &kv) && aos_amqp_get_uint(&kv, &u32));
    assert_int_equal(u32, 300);
    assert_false(aos_amqp_iter_next(&it, &kv));
    assert_string_equal(aos_amqp_type_name(kv.code), "uint");

    /* an empty message object: the defaults */
    m = pn_message();
    pn_data_put_string(pn_message_body(m), pn_bytes(2, "hi"));
    n = encode(m, buf, sizeof buf);
    pn_message_free(m);
    assert_int_equal(aos_amqp_message_parse(buf, n, &v, err, sizeof err), AOS_OK);
    assert_false(v.durable);
    assert_int_equal(v.priority, 4);
    assert_false(v.first_acquirer);
    assert_null(v.reply_to.start);
    assert_null(v.content_type.start);
    assert_int_equal(v.message_id.code, AOS_AMQP_NULL);
    assert_int_equal(v.app_properties.code, AOS_AMQP_NULL);
    assert_int_equal(v.body_kind, AOS_AMQP_BODY_VALUE);
    assert_true(aos_amqp_get_string(&v.body, &s));
    assert_str(s, "hi");
}

static void expect_fault(const char *bytes, size_t len, const char *needle)
{
    aos_amqp_message_t v;
    char err[200] = "";
    aos_result r = aos_amqp_message_parse(bytes, len, &v, err, sizeof err);
    if (r != AOS_ERR_INVALID || !strstr(err, needle))
        fail_msg("expected a fault with '%s', got %d '%s'", needle, r, err);
}

#define FAULT(lit, needle) expect_fault(lit, sizeof lit - 1, needle)

static void malformed_is_an_error(void **state)
{
    (void)state;
    expect_fault("", 0, "empty AMQP message");
    expect_fault(NULL, 0, "empty AMQP message");
    FAULT("\xde\xad\xbe\xef", "not a described value");
    FAULT("\x00\x53\x79\x45", "unknown section");
    FAULT("\x00\xa3\x10"
          "amqp:header:list\x45",
          "unknown section");
    FAULT("\x00\x53\x73\x45\x00\x53\x70\x45", "out of order");
    FAULT("\x00\x53\x70\x45\x00\x53\x70\x45", "out of order");
    FAULT("\x00\x53\x75\xa0\x01x\x00\x53\x75\xa0\x01y", "more than one body section");
    FAULT("\x00\x53\x75\xa0\x01x\x00\x53\x77\x40", "more than one body section");
    FAULT("\x00\x53\x70\xa1\x01x", "header is not a list");
    FAULT("\x00\x53\x73\x41", "properties is not a list");
    FAULT("\x00\x53\x72\x45", "annotations are not a map");
    FAULT("\x00\x53\x74\x45", "application-properties is not a map");
    FAULT("\x00\x53\x75\xa1\x01x", "data section is not binary");
    FAULT("\x00\x53\x76\xa1\x01x", "amqp-sequence section is not a list");
    FAULT("\x00\x53\x70\xc0\x03\x03\x40\x40\xa1", "runs past"); /* ttl: a string */
    FAULT("\x00\x53\x70\xc0\x06\x03\x40\x40\xa1\x00\x40", "compound size does not match");
    FAULT("\x00\x53\x70\xc0\x05\x03\x40\x40\xa1\x00", "header ttl is not a uint");
    FAULT("\x00\x53\x70\xc0\x03\x01\x50\x01", "header durable is not a boolean");
    FAULT("\x00\x53\x70\xc0\x03\x02\x40\x41", "header priority is not a ubyte");
    FAULT("\x00\x53\x70\xc0\x06\x04\x40\x40\x40\x50\x01", "header first-acquirer");
    FAULT("\x00\x53\x70\xc0\x06\x05\x40\x40\x40\x40\x71\x00", "runs past");
    FAULT("\x00\x53\x73\xc0\x04\x05\x40\x40\x40\x40\x55\x01", "runs past");
    FAULT("\x00\x53\x73\xc0\x07\x04\x40\x40\x40\xa3\x01x", "subject is not a string");
    FAULT("\x00\x53\x73\xc0\x09\x07\x40\x40\x40\x40\x40\x40\xa1\x00",
          "content-type is not a symbol");
    FAULT("\x00\x53\x73\xc0\x0a\x09\x40\x40\x40\x40\x40\x40\x40\x40\x71\x00",
          "runs past"); /* expiry: an int, cut */
    FAULT("\x00\x53\x73\xc0\x0e\x09\x40\x40\x40\x40\x40\x40\x40\x40\x71\x00\x00\x00\x00",
          "absolute-expiry-time is not a timestamp");
    FAULT("\x00\x53\x74\xc1\x03\x01\xa1\x00", "odd number");
    FAULT("\x00\x53\x74\xc1\x01\x02", "runs past"); /* count 2, no bytes */
    FAULT("\x00\x53\x74\xc1\x00\x00", "smaller than its count");
    FAULT("\x00\x53\x74\xd1\x00\x00\x00\x02\x00\x00\x00\x00", "smaller than its count");
    FAULT("\x00\x53\x74\xd1\x00\x00\x00\x08\x00\x00\x00\x02\xa1\x00\x57\x00", "unknown type code");
    FAULT("\x00\x53\x77\xb1\xff\xff\xff\xff", "runs past");
    FAULT("\x00\x53\x77\x00\x53\x01\x00\x53\x02\x40", "described value described again");
    FAULT("\x00\x53\x77\x00\xa1\x01x\x40", "neither a ulong nor a symbol");
    /* arrays: a size that does not fit the elements, a count of billions of nulls */
    FAULT("\x00\x53\x77\xe0\x04\x02\x71\x00\x00", "array size does not match");
    FAULT("\x00\x53\x77\xe0\x03\x01\x00\x57", "unknown type code");
    /* four billion nulls in five bytes: read without a loop over them */
    aos_amqp_message_t v;
    char err[200];
    assert_int_equal(aos_amqp_message_parse("\x00\x53\x77\xf0\x00\x00\x00\x05\xff\xff\xff\xff\x40",
                                            13, &v, err, sizeof err),
                     AOS_OK);
    assert_string_equal(aos_amqp_type_name(v.body.code), "array");
}

/* n lists nested in an amqp-value section */
static size_t nested_lists(char *buf, int n)
{
    size_t len = 1;
    buf[3] = 0x45; /* the innermost: list0 */
    for (int i = 0; i < n; i++) {
        memmove(buf + 3 + 9, buf + 3, len);
        uint32_t size = (uint32_t)(4 + len);
        unsigned char *h = (unsigned char *)buf + 3;
        h[0] = 0xd0;
        h[1] = (unsigned char)(size >> 24);
        h[2] = (unsigned char)(size >> 16);
        h[3] = (unsigned char)(size >> 8);
        h[4] = (unsigned char)size;
        h[5] = h[6] = h[7] = 0;
        h[8] = 1;
        len += 9;
    }
    memcpy(buf, "\x00\x53\x77", 3);
    return 3 + len;
}

static void nesting_is_bounded(void **state)
{
    (void)state;
    static char buf[3 + 1 + 9 * 200];
    aos_amqp_message_t v;
    char err[200] = "";
    size_t n = nested_lists(buf, AOS_AMQP_MAX_DEPTH - 1);
    assert_int_equal(aos_amqp_message_parse(buf, n, &v, err, sizeof err), AOS_OK);
    n = nested_lists(buf, 200);
    assert_int_equal(aos_amqp_message_parse(buf, n, &v, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "nested too deeply"));
}

/* Every cut of a real message is an error or a shorter valid message, never a crash; the
 * fields of the sections before the cut are kept. */
static void truncations(void **state)
{
    (void)state;
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.test", "/t", "{\"a\":1}", &ev), AOS_OK);
    ev->ttl_ms = 1000;
    aos_event_set(&ev->reply_to, "/queue/r");
    pn_message_t *m = pn_message();
    char err[200];
    assert_int_equal(aos_envelope_to_message(ev, m, err, sizeof err), AOS_OK);
    pn_message_set_delivery_count(m, 2);
    char buf[2048];
    size_t len = encode(m, buf, sizeof buf);
    pn_message_free(m);
    aos_event_free(ev);
    int ok = 0;
    for (size_t cut = 1; cut <= len; cut++) {
        aos_amqp_message_t v;
        aos_result r = aos_amqp_message_parse(buf, cut, &v, err, sizeof err);
        if (r == AOS_OK)
            ok++;
        else
            assert_non_null(strstr(err, "malformed AMQP message at byte"));
        if (cut > 20) /* past the header */
            assert_int_equal(v.delivery_count, 2);
    }
    assert_int_equal(ok, 4); /* header; + properties; + application-properties; + data */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(proton_fields_read_back),
        cmocka_unit_test(malformed_is_an_error),
        cmocka_unit_test(nesting_is_bounded),
        cmocka_unit_test(truncations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
