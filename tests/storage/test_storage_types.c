/* Pure parts of the storage model: name validators, strict base64, the JSON wire form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aos/base64.h"
#include "aos/json.h"
#include "aos/storage_wire.h"

static void test_validators(void **state)
{
    (void)state;
    char long_id[200];
    memset(long_id, 'a', sizeof long_id);
    long_id[128] = '\0';
    assert_true(aos_storage_valid_id(long_id));
    long_id[128] = 'a';
    long_id[129] = '\0';
    assert_false(aos_storage_valid_id(long_id));
    assert_true(aos_storage_valid_id("c-1:2.x_Y"));
    assert_false(aos_storage_valid_id(""));
    assert_false(aos_storage_valid_id("a/b"));
    assert_false(aos_storage_valid_id("a'b"));
    assert_false(aos_storage_valid_id(NULL));
    assert_true(aos_storage_valid_container("abc"));
    assert_true(aos_storage_valid_container("training-data-1"));
    assert_false(aos_storage_valid_container("ab"));
    assert_false(aos_storage_valid_container("Abc"));
    assert_false(aos_storage_valid_container("a--b"));
    assert_false(aos_storage_valid_container("-ab"));
    assert_false(aos_storage_valid_container("ab-"));
    assert_false(aos_storage_valid_container("a_b"));
    memset(long_id, 'a', 64);
    long_id[64] = '\0';
    assert_false(aos_storage_valid_container(long_id));
    long_id[63] = '\0';
    assert_true(aos_storage_valid_container(long_id));
    assert_true(aos_storage_valid_blob_name("a/b/c.txt"));
    assert_true(aos_storage_valid_blob_name("..a"));
    assert_false(aos_storage_valid_blob_name("a/../b"));
    assert_false(aos_storage_valid_blob_name("./a"));
    assert_false(aos_storage_valid_blob_name("/a"));
    assert_false(aos_storage_valid_blob_name("a/"));
    assert_false(aos_storage_valid_blob_name("a//b"));
    assert_false(aos_storage_valid_blob_name("a b"));
    assert_true(aos_storage_valid_kind("adapter"));
    assert_true(aos_storage_valid_kind("job"));
    assert_true(aos_storage_valid_kind("health"));   /* router replicas share agent health */
    assert_true(aos_storage_valid_kind("feedback")); /* a user's score of a reply (docs/ml.md) */
    assert_false(aos_storage_valid_kind("jobs"));
    assert_true(aos_storage_valid_role("assistant"));
    assert_false(aos_storage_valid_role("Assistant"));
    assert_true(aos_storage_valid_content_type("text/plain; charset=utf-8"));
    assert_false(aos_storage_valid_content_type("plain"));
    assert_false(aos_storage_valid_content_type("text/pl\nain"));
    assert_true(aos_storage_valid_sha256(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert_false(aos_storage_valid_sha256(
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    assert_false(aos_storage_valid_sha256("e3b0"));
    assert_true(aos_storage_valid_cursor("12"));
    assert_false(aos_storage_valid_cursor("1 2"));
}

static void test_base64(void **state)
{
    (void)state;
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = NULL;
        assert_int_equal(aos_base64_encode(plain[i], strlen(plain[i]), &e, NULL), AOS_OK);
        assert_string_equal(e, enc[i]);
        assert_int_equal(strlen(e), aos_base64_encoded_len(strlen(plain[i])));
        free(e);
        char out[16];
        size_t n = 99;
        assert_int_equal(aos_base64_decode_into(enc[i], strlen(enc[i]), out, sizeof out, &n),
                         AOS_OK);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
    }
    const char *bad[] = {"Zg=", "Zg", "Z===", "Zh==", "Zm9=", "Zm 9", "Zm9v\n", "=Zg=", "Zg==Zg=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[16];
        size_t n;
        if (aos_base64_decode_into(bad[i], strlen(bad[i]), out, sizeof out, &n) != AOS_ERR_INVALID)
            fail_msg("accepted bad base64 '%s'", bad[i]);
    }
    char out[2];
    size_t n;
    assert_int_equal(aos_base64_decode_into("Zm9v", 4, out, sizeof out, &n), AOS_ERR_TOO_LARGE);
}

static void test_wire_round_trip(void **state)
{
    (void)state;
    aos_storage_message_t m = {.conversation_id = "c",
                               .id = "m",
                               .seq = 4,
                               .role = "user",
                               .content = "h\xc3\xa9\"llo",
                               .metadata_json = "{\"a\":[1,2]}",
                               .created_ms = 1764000000123};
    json_object *o = aos_storage_message_to_json(&m);
    assert_non_null(o);
    aos_storage_message_t back = {0};
    char err[128];
    assert_int_equal(aos_storage_message_from_json(o, &back, err, sizeof err), AOS_OK);
    assert_string_equal(back.content, m.content);
    assert_string_equal(back.metadata_json, m.metadata_json);
    assert_int_equal(back.seq, 4);
    assert_int_equal(back.created_ms, m.created_ms);
    aos_storage_message_clear(&back);
    json_object_put(o);

    aos_storage_record_t r = {.kind = "job",
                              .key = "j",
                              .data_json = "{\"s\":\"x\"}",
                              .version = "\"etag-1\"",
                              .updated_ms = 5};
    o = aos_storage_record_to_json(&r);
    aos_storage_record_t rb = {0};
    assert_int_equal(aos_storage_record_from_json(o, &rb, err, sizeof err), AOS_OK);
    assert_string_equal(rb.version, r.version);
    assert_string_equal(rb.data_json, r.data_json);
    aos_storage_record_clear(&rb);
    json_object_put(o);

    aos_storage_blob_info_t b = {
        .container = "abc", .name = "x/y", .content_type = "a/b", .size = 10, .etag = "e"};
    memcpy(b.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 65);
    o = aos_storage_blob_info_to_json(&b);
    aos_storage_blob_info_t bb = {0};
    assert_int_equal(aos_storage_blob_info_from_json(o, &bb, err, sizeof err), AOS_OK);
    assert_string_equal(bb.sha256, b.sha256);
    assert_int_equal(bb.size, 10);
    aos_storage_blob_info_clear(&bb);
    json_object_put(o);

    /* stored JSON text that does not parse is not silently emitted */
    aos_storage_conversation_t c = {.id = "c", .agent = "a", .metadata_json = "{broken"};
    assert_null(aos_storage_conversation_to_json(&c));
    /* a reply with missing or ill-typed fields is refused */
    json_object *bad = json_tokener_parse("{\"conversation_id\":\"c\",\"agent\":5}");
    aos_storage_conversation_t cb = {0};
    assert_int_not_equal(aos_storage_conversation_from_json(bad, &cb, err, sizeof err), AOS_OK);
    aos_storage_conversation_clear(&cb);
    json_object_put(bad);
}

/* The reply form built as text (no metadata parse) is byte for byte the json-c form, and
 * what aos_storage_message_from_json reads back; stored metadata that is not a JSON object is
 * refused by both. */
static void test_message_wire_text(void **state)
{
    (void)state;
    static const aos_storage_message_t ms[] = {
        {.conversation_id = "c",
         .id = "m",
         .seq = 4,
         .role = "user",
         .content = "h\xc3\xa9\"llo \\ / \x01\n\t</script>",
         .metadata_json = "{\"a\":[1,2]}",
         .created_ms = 1764000000123},
        {.conversation_id = "c",
         .id = "m:r",
         .seq = 0,
         .role = "assistant",
         .content = "",
         .metadata_json = NULL,
         .created_ms = 0},
        {.conversation_id = "c2",
         .id = "m2",
         .seq = -1,
         .role = "error",
         .content = "x",
         .metadata_json = "{\"k\":{\"n\":null,\"b\":true,\"s\":\"\\u00e9\"}}",
         .created_ms = 1},
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        json_object *a = aos_storage_message_to_json(&ms[i]);
        json_object *b = aos_storage_message_to_wire(&ms[i]);
        assert_non_null(a);
        assert_non_null(b);
        char *ta = NULL, *tb = NULL;
        size_t lb = 0;
        assert_int_equal(aos_json_to_string(a, &ta, NULL), AOS_OK);
        assert_int_equal(aos_json_to_string(b, &tb, &lb), AOS_OK);
        if (i != 2) /* the third keeps its stored escape (\u00e9): same value, other bytes */
            assert_string_equal(ta, tb);
        assert_int_equal(aos_json_raw_len(b), lb);
        assert_string_equal(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN), tb);
        json_object *back = NULL;
        assert_int_equal(aos_json_parse_object(tb, lb, 0, 0, &back, NULL, 0), AOS_OK);
        aos_storage_message_t m = {0};
        char err[128];
        aos_result fr = aos_storage_message_from_json(back, &m, err, sizeof err);
        if (fr != AOS_OK)
            fprintf(stderr, "message %zu: %s\n", i, err);
        assert_int_equal(fr, AOS_OK);
        assert_string_equal(m.content, ms[i].content);
        assert_int_equal(m.seq, ms[i].seq);
        aos_storage_message_clear(&m);
        json_object_put(back);
        free(ta);
        free(tb);
        json_object_put(a);
        json_object_put(b);
    }
    static const char *bad[] = {"{broken", "[1]", "\"s\"", "{\"a\":1}x", "  "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aos_storage_message_t m = {
            .id = "m", .role = "user", .content = "x", .metadata_json = (char *)bad[i]};
        json_object *b = aos_storage_message_to_wire(&m);
        if (b)
            fprintf(stderr, "accepted metadata %s\n", bad[i]);
        assert_null(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validators),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_wire_round_trip),
        cmocka_unit_test(test_message_wire_text),
    };
    return cmocka_run_group_tests_name("storage_types", tests, NULL, NULL);
}
