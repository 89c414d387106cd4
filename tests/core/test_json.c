#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/json.h"
#include "aos/utf8.h"

static aos_result parse(const char *s, json_object **out, char *err, size_t errlen)
{
    return aos_json_parse(s, strlen(s), 0, 0, out, err, errlen);
}

static void accepts_valid_documents(void **state)
{
    (void)state;
    const char *ok[] = {"{}",
                        "[]",
                        "1",
                        "-0.5e3",
                        "\"x\"",
                        "true",
                        " {\"a\":[1,2,{\"b\":null}]} \n",
                        "\"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00\"",
                        "123"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        json_object *v = NULL;
        char err[128] = "";
        assert_int_equal(parse(ok[i], &v, err, sizeof err), AOS_OK);
        json_object_put(v);
    }
    json_object *v = (json_object *)1;
    assert_int_equal(parse("null", &v, NULL, 0), AOS_OK);
    assert_null(v);
    assert_int_equal(parse("123", &v, NULL, 0), AOS_OK);
    assert_int_equal(json_object_get_int(v), 123);
    json_object_put(v);
}

static void rejects_bad_documents(void **state)
{
    (void)state;
    const char *bad[] = {"",         "   ",          "{",       "{\"a\":1,}",  "[1,2]x",
                         "{} {}",    "'x'",          "{a:1}",   "NaN",         "[1,]",
                         "\"\xff\"", "\"\xc0\xaf\"", "/*c*/{}", "{\"a\":tru}", "01"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_object *v = NULL;
        char err[128] = "";
        aos_result r = parse(bad[i], &v, err, sizeof err);
        if (r == AOS_OK)
            fail_msg("accepted bad JSON #%zu: %s", i, bad[i]);
        assert_int_equal(r, AOS_ERR_INVALID);
        assert_null(v);
        assert_true(strlen(err) > 0);
    }
    /* NUL inside the buffer */
    json_object *v = NULL;
    char err[128];
    assert_int_equal(aos_json_parse("{}\0{}", 5, 0, 0, &v, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "NUL"));
}

/* I-JSON (RFC 7493): what json-c would silently change is refused (issue 9 item 8). */
static void ijson_refuses_what_would_change(void **state)
{
    (void)state;
    struct {
        const char *doc;
        const char *why;
    } bad[] = {
        {"{\"a\":1,\"a\":2}", "duplicate"},
        {"{\"x\":{\"a\":1,\"b\":[{\"c\":1,\"c\":1}]}}", "duplicate"},
        {"{\"a\":1,\"\\u0061\":2}", "duplicate"}, /* the same name, escaped */
        {"[{\"a\":{\"k\":1,\"k\":2}},{\"b\":1}]", "duplicate"},
        {"\"\\ud800\"", "surrogate"},
        {"\"\\udc00\"", "surrogate"},
        {"\"\\ud83d\\u0041\"", "surrogate"},
        {"{\"t\":\"x\\ud83d\"}", "surrogate"},
        {"18446744073709551616", "number"},
        {"-9223372036854775809", "number"},
        {"123456789012345678901234567890", "number"},
        {"1.2345678901234567890", "number"},
        {"1e400", "number"},
        {"-1e400", "number"},
        {"1e-400", "number"},
        {"4e-320", "number"}, /* a subnormal */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_object *v = NULL;
        char err[160] = "";
        aos_result r = parse(bad[i].doc, &v, err, sizeof err);
        if (r == AOS_OK)
            fail_msg("accepted #%zu: %s", i, bad[i].doc);
        assert_int_equal(r, AOS_ERR_INVALID);
        assert_null(v);
        if (!strstr(err, bad[i].why))
            fail_msg("#%zu: '%s' does not say %s", i, err, bad[i].why);
    }
    const char *good[] = {"{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}",
                          "[{\"k\":1},{\"k\":1}]",
                          "{\"a:b\":\"c:d\",\"e\":\"{\\\":\\\"}\"}",
                          "\"\\ud83d\\ude00\"",
                          "18446744073709551615",
                          "-9223372036854775808",
                          "0.30000000000000004",
                          "1.5e300",
                          "2.2250738585072014e-308",
                          "0.000000000000000000000000000001",
                          "100.000000000000000000000000",
                          "0e-400",
                          "-0.0"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        json_object *v = NULL;
        char err[160] = "";
        if (parse(good[i], &v, err, sizeof err) != AOS_OK)
            fail_msg("refused #%zu: %s: %s", i, good[i], err);
        json_object_put(v);
    }
}

static void enforces_limits(void **state)
{
    (void)state;
    json_object *v = NULL;
    char err[128];
    assert_int_equal(aos_json_parse("[1,2,3]", 7, 6, 0, &v, err, sizeof err), AOS_ERR_TOO_LARGE);
    assert_int_equal(aos_json_parse("[1,2,3]", 7, 7, 0, &v, err, sizeof err), AOS_OK);
    json_object_put(v);
    assert_int_equal(aos_json_parse("[[[[1]]]]", 9, 0, 3, &v, err, sizeof err), AOS_ERR_INVALID);
    assert_int_equal(aos_json_parse("[[[1]]]", 7, 0, 3, &v, err, sizeof err), AOS_OK);
    json_object_put(v);
    char deep[2001];
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    assert_int_equal(parse(deep, &v, err, sizeof err), AOS_ERR_INVALID);
    assert_int_equal(aos_json_parse_object("[]", 2, 0, 0, &v, err, sizeof err), AOS_ERR_INVALID);
    assert_null(v);
}

static void getters_name_the_field(void **state)
{
    (void)state;
    const char *doc = "{\"text\":5,\"s\":\"hi\",\"n\":-7,\"b\":true,\"o\":{},\"a\":[1],\"z\":null,"
                      "\"f\":1.5,\"big\":18446744073709551615,\"nul\":\"a\\u0000b\"}";
    json_object *o = NULL;
    char err[128];
    assert_int_equal(aos_json_parse_object(doc, strlen(doc), 0, 0, &o, err, sizeof err), AOS_OK);

    const char *s = "unset";
    assert_int_equal(aos_json_get_string(o, "text", AOS_JSON_REQUIRED, &s, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_string_equal(err, "field 'text' must be a string");
    assert_int_equal(aos_json_get_string(o, "s", AOS_JSON_REQUIRED, &s, err, sizeof err), AOS_OK);
    assert_string_equal(s, "hi");
    assert_int_equal(aos_json_get_string(o, "missing", AOS_JSON_OPTIONAL, &s, err, sizeof err),
                     AOS_OK);
    assert_null(s);
    assert_int_equal(aos_json_get_string(o, "z", AOS_JSON_OPTIONAL, &s, err, sizeof err), AOS_OK);
    assert_null(s);
    assert_int_equal(aos_json_get_string(o, "missing", AOS_JSON_REQUIRED, &s, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_string_equal(err, "field 'missing' is required");
    assert_int_equal(aos_json_get_string(o, "nul", AOS_JSON_REQUIRED, &s, err, sizeof err),
                     AOS_ERR_INVALID);

    int64_t n = 0;
    bool present = false;
    assert_int_equal(aos_json_get_int(o, "n", AOS_JSON_REQUIRED, &n, &present, err, sizeof err),
                     AOS_OK);
    assert_true(present);
    assert_int_equal(n, -7);
    assert_int_equal(aos_json_get_int(o, "f", AOS_JSON_REQUIRED, &n, NULL, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_string_equal(err, "field 'f' must be an integer");
    assert_int_equal(aos_json_get_int(o, "big", AOS_JSON_REQUIRED, &n, NULL, err, sizeof err),
                     AOS_ERR_INVALID);
    n = 42;
    assert_int_equal(aos_json_get_int(o, "nope", AOS_JSON_OPTIONAL, &n, &present, err, sizeof err),
                     AOS_OK);
    assert_false(present);
    assert_int_equal(n, 42);

    bool b = false;
    assert_int_equal(aos_json_get_bool(o, "b", AOS_JSON_REQUIRED, &b, NULL, err, sizeof err),
                     AOS_OK);
    assert_true(b);
    assert_int_equal(aos_json_get_bool(o, "n", AOS_JSON_REQUIRED, &b, NULL, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_string_equal(err, "field 'n' must be true or false");

    double d = 0;
    assert_int_equal(aos_json_get_double(o, "f", AOS_JSON_REQUIRED, &d, NULL, err, sizeof err),
                     AOS_OK);
    assert_true(d > 1.4 && d < 1.6);
    assert_int_equal(aos_json_get_double(o, "n", AOS_JSON_REQUIRED, &d, NULL, err, sizeof err),
                     AOS_OK);
    assert_int_equal(aos_json_get_double(o, "s", AOS_JSON_REQUIRED, &d, NULL, err, sizeof err),
                     AOS_ERR_INVALID);

    json_object *sub = NULL;
    assert_int_equal(aos_json_get_object(o, "o", AOS_JSON_REQUIRED, &sub, err, sizeof err), AOS_OK);
    assert_non_null(sub);
    assert_int_equal(aos_json_get_object(o, "a", AOS_JSON_REQUIRED, &sub, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_string_equal(err, "field 'a' must be an object");
    assert_int_equal(aos_json_get_array(o, "a", AOS_JSON_REQUIRED, &sub, err, sizeof err), AOS_OK);
    assert_int_equal(aos_json_get_array(o, "o", AOS_JSON_REQUIRED, &sub, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_string_equal(err, "field 'o' must be an array");
    assert_int_equal(aos_json_get_array(NULL, "o", AOS_JSON_OPTIONAL, &sub, err, sizeof err),
                     AOS_ERR_INVALID);
    json_object_put(o);
}

static void builder_round_trip(void **state)
{
    (void)state;
    json_object *o = json_object_new_object();
    assert_int_equal(aos_json_add_string(o, "url", "http://x/y"), AOS_OK);
    assert_int_equal(aos_json_add_string(o, "skip", NULL), AOS_OK);
    assert_int_equal(aos_json_add_int(o, "n", -3), AOS_OK);
    assert_int_equal(aos_json_add_bool(o, "b", false), AOS_OK);
    assert_int_equal(aos_json_add(o, "arr", json_object_new_array()), AOS_OK);
    char *s = NULL;
    size_t n = 0;
    assert_int_equal(aos_json_to_string(o, &s, &n), AOS_OK);
    assert_string_equal(s, "{\"url\":\"http://x/y\",\"n\":-3,\"b\":false,\"arr\":[]}");
    assert_int_equal(n, strlen(s));
    free(s);
    json_object_put(o);
}

/* Numbers and booleans are printed by aos_json_to_string itself: as json-c prints them. */
static void serializer_matches_json_c(void **state)
{
    (void)state;
    json_object *a = json_object_new_array();
    const int64_t ints[] = {
        0,        1, -1, 9, 10, -10, 123456789012345LL, INT64_MIN, INT64_MIN + 1, INT64_MAX - 1,
        INT64_MAX};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        json_object_array_add(a, json_object_new_int64(ints[i]));
    json_object_array_add(a, json_object_new_uint64(UINT64_MAX));
    json_object_array_add(a, json_object_new_uint64((uint64_t)INT64_MAX + 1));
    json_object_array_add(a, json_object_new_boolean(1));
    json_object_array_add(a, json_object_new_boolean(0));
    json_object_array_add(a, json_object_new_double(0.5));
    json_object_array_add(a, json_object_new_int(-7));
    char *s = NULL;
    assert_int_equal(aos_json_to_string(a, &s, NULL), AOS_OK);
    assert_string_equal(s, json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    assert_non_null(strstr(s, ",18446744073709551615,9223372036854775808,true,false,"));
    free(s);
    json_object_put(a);
}

static void utf8_validation(void **state)
{
    (void)state;
    assert_true(aos_utf8_valid("", 0));
    assert_true(aos_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
    assert_false(aos_utf8_valid("\xc3", 1));             /* truncated */
    assert_false(aos_utf8_valid("\xc0\x80", 2));         /* overlong */
    assert_false(aos_utf8_valid("\xe0\x80\x80", 3));     /* overlong */
    assert_false(aos_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(aos_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(aos_utf8_valid("\x80", 1));
    assert_false(aos_utf8_valid("\xf8\x88\x80\x80\x80", 5));
    /* the one module's other entry points: offset of the first bad byte, sequence length */
    assert_int_equal(aos_utf8_check("ab\xc3\xa9\xed\xa0\x80z", 8), 4);
    assert_int_equal(aos_utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
    assert_int_equal(aos_utf8_seq_len((const unsigned char *)"\xe2\x82", 4), 0); /* NUL stops */
    assert_int_equal(aos_utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 2), 0);
    assert_int_equal(aos_utf8_seq_len((const unsigned char *)"", 0), 0);
}

/* aos_json_validate answers as aos_json_parse does, and its quick scan never accepts what the
 * parser refuses: generated documents (valid ones, and the same cut, spliced and with bytes
 * swapped for JSON's troublemakers) against the parser, with several limits. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void gen_value(char *out, size_t cap, size_t *o, int depth)
{
    static const char *const scalars[] = {"0",
                                          "-0",
                                          "1",
                                          "-17",
                                          "123456789012345",
                                          "1234567890123456",
                                          "1.5",
                                          "2e3",
                                          "01",
                                          "true",
                                          "false",
                                          "null",
                                          "\"\"",
                                          "\"a\"",
                                          "\"x\\ny\"",
                                          "\"\\u0041\"",
                                          "\"\\ud83d\\ude00\"",
                                          "\"\\ud800\"",
                                          "\"caf\xc3\xa9\"",
                                          "\"\\/\"",
                                          "9223372036854775808",
                                          "-",
                                          "tru",
                                          "\"\\q\""};
    const char *piece = NULL;
    char buf[64];
    unsigned k = depth > 5 ? 2 : rnd(4);
    if (k == 0 || k == 1) {
        bool obj = k == 0;
        if (*o < cap)
            out[(*o)++] = obj ? '{' : '[';
        unsigned n = rnd(5);
        for (unsigned i = 0; i < n; i++) {
            if (i && *o < cap)
                out[(*o)++] = ',';
            if (obj) {
                static const char *const names[] = {"\"a\"",        "\"b\"",  "\"\"",
                                                    "\"a\\u0062\"", "\"ab\"", "\"\\\"\""};
                piece = names[rnd(6)];
                for (const char *c = piece; *c && *o < cap; c++)
                    out[(*o)++] = *c;
                if (*o < cap)
                    out[(*o)++] = rnd(8) ? ':' : ' ';
            }
            gen_value(out, cap, o, depth + 1);
        }
        if (*o < cap)
            out[(*o)++] = obj ? '}' : ']';
        return;
    }
    piece = scalars[rnd(sizeof scalars / sizeof *scalars)];
    if (rnd(10) == 0) {
        snprintf(buf, sizeof buf, "%u", rnd(1000000));
        piece = buf;
    }
    for (const char *c = piece; *c && *o < cap; c++)
        out[(*o)++] = *c;
    if (rnd(6) == 0 && *o < cap)
        out[(*o)++] = " \t\n\r"[rnd(4)];
}

static void quick_scan_agrees_with_the_parser(void **state)
{
    (void)state;
    static const char swaps[] = "{}[]\",:\\ 0-e.tn\x01\x7f\xc3\x80";
    char doc[2048];
    size_t quick_hits = 0;
    for (int round = 0; round < 60000; round++) {
        size_t n = 0;
        gen_value(doc, sizeof doc - 1, &n, 0);
        unsigned how = rnd(6);
        if (how == 1 && n)
            n = rnd((unsigned)n); /* cut */
        else if (how == 2 && n)
            doc[rnd((unsigned)n)] = swaps[rnd(sizeof swaps - 1)]; /* one byte changed */
        else if (how == 3 && n + 2 < sizeof doc) {                /* two values */
            doc[n++] = ' ';
            doc[n++] = '1';
        }
        size_t max_bytes = rnd(4) == 0 ? 1 + rnd(64) : 0;
        int max_depth = rnd(4) == 0 ? (int)rnd(5) : 0;
        json_object *v = NULL;
        char e1[256] = "", e2[256] = "";
        aos_result want = aos_json_parse(doc, n, max_bytes, max_depth, &v, e1, sizeof e1);
        json_object_put(v);
        bool quick = aos_json_quick_valid_(doc, n, max_bytes, max_depth);
        if (quick && want != AOS_OK)
            fail_msg("the quick scan accepted what the parser refuses (%s): %.*s", e1, (int)n, doc);
        quick_hits += quick;
        aos_result got = aos_json_validate(doc, n, max_bytes, max_depth, e2, sizeof e2);
        assert_int_equal(got, want);
        if (want != AOS_OK)
            assert_string_equal(e2, e1);
    }
    assert_true(quick_hits > 1000); /* the scan does settle the common case */
    /* what an event's data usually is */
    const char *typical = "{\"conversation_id\":\"c-1\",\"text\":\"What is \\\"our\\\" budget?\","
                          "\"n\":12,\"tags\":[\"a\",\"b\"],\"meta\":{\"ok\":true,\"x\":null}}";
    assert_true(aos_json_quick_valid_(typical, strlen(typical), 0, 0));
    assert_int_equal(aos_json_validate("{\"a\":1,\"a\":2}", 13, 0, 0, NULL, 0), AOS_ERR_INVALID);
    assert_int_equal(aos_json_validate("{\"a\":1}", 7, 3, 0, NULL, 0), AOS_ERR_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_valid_documents),
        cmocka_unit_test(rejects_bad_documents),
        cmocka_unit_test(enforces_limits),
        cmocka_unit_test(getters_name_the_field),
        cmocka_unit_test(builder_round_trip),
        cmocka_unit_test(serializer_matches_json_c),
        cmocka_unit_test(utf8_validation),
        cmocka_unit_test(ijson_refuses_what_would_change),
        cmocka_unit_test(quick_scan_agrees_with_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
