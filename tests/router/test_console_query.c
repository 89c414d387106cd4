/* The console routes' query parameters (services/router/console_query.h): every bad value is
 * refused with a message naming it; times as Unix ms or RFC 3339; the filter's match rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bus_replies.h"
#include "console_query.h"

static aos_result parse(router_conv_query_t in, router_conv_filter_t *f, char *why)
{
    return router_conv_filter_parse(&in, f, why, 200);
}

static void test_defaults_and_values(void **state)
{
    (void)state;
    router_conv_filter_t f;
    char why[200] = "";
    assert_int_equal(parse((router_conv_query_t){0}, &f, why), AOS_OK);
    assert_int_equal(f.limit, ROUTER_CONV_LIST_LIMIT_DEFAULT);
    assert_string_equal(f.agent, "");
    assert_int_equal(f.since_ms, 0);
    router_conv_query_t in = {.agent = "cfo",
                              .q = "abc",
                              .since = "1795000000000",
                              .until = "2026-12-07T22:00:00.5+01:00",
                              .cursor = "c-1",
                              .limit = "200"};
    assert_int_equal(parse(in, &f, why), AOS_OK);
    assert_string_equal(f.agent, "cfo");
    assert_string_equal(f.q, "abc");
    assert_int_equal(f.since_ms, 1795000000000LL);
    assert_int_equal(f.until_ms, 1796677200500LL); /* 2026-12-07T21:00:00.5Z */
    assert_string_equal(f.cursor, "c-1");
    assert_int_equal(f.limit, 200);
}

static void test_bad_values_named(void **state)
{
    (void)state;
    struct {
        router_conv_query_t in;
        const char *names;
    } cases[] = {
        {{.agent = "no such"}, "'agent'"},
        {{.agent = ""}, "'agent'"},
        {{.q = ""}, "'q'"},
        {{.q = "has space"}, "'q'"},
        {{.since = "yesterday"}, "'since'"},
        {{.since = "2026-02-30T00:00:00Z"}, "'since'"},
        {{.since = "2026-12-07T22:00:00"}, "'since'"}, /* no offset: ambiguous */
        {{.since = "2026-12-07T24:00:00Z"}, "'since'"},
        {{.since = "1e9"}, "'since'"},
        {{.since = "-5"}, "'since'"},
        {{.since = "9999999999999999"}, "'since'"},
        {{.until = "2026-12-07T22:00:00Zjunk"}, "'until'"},
        {{.since = "2000", .until = "1000"}, "'until'"},
        {{.cursor = "a/b"}, "'cursor'"},
        {{.limit = "0"}, "'limit'"},
        {{.limit = "201"}, "'limit'"},
        {{.limit = "12abc"}, "'limit'"},
        {{.limit = ""}, "'limit'"},
        {{.limit = "-1"}, "'limit'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        router_conv_filter_t f;
        char why[200] = "";
        assert_int_equal(parse(cases[i].in, &f, why), AOS_ERR_INVALID);
        if (!strstr(why, cases[i].names))
            fail_msg("case %zu: \"%s\" does not name %s", i, why, cases[i].names);
    }
}

static void test_times(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(router_time_parse("1970-01-01T00:00:00Z", &ms), AOS_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(router_time_parse("2024-02-29T12:34:56.789Z", &ms), AOS_OK);
    assert_int_equal(ms, 1709210096789LL);
    assert_int_equal(router_time_parse("2024-02-29 12:34:56.789123456z", &ms), AOS_OK);
    assert_int_equal(ms, 1709210096789LL);
    assert_int_equal(router_time_parse("2023-02-29T00:00:00Z", &ms), AOS_ERR_INVALID);
    assert_int_equal(router_time_parse("1969-12-31T23:59:59Z", &ms), AOS_ERR_INVALID);
    assert_int_equal(router_time_parse("2024-01-01T00:00:00.Z", &ms), AOS_ERR_INVALID);
    assert_int_equal(router_time_parse("2024-01-01T00:00:00+2:00", &ms), AOS_ERR_INVALID);
    assert_int_equal(router_time_parse("", &ms), AOS_ERR_INVALID);
    assert_int_equal(router_time_parse(NULL, &ms), AOS_ERR_INVALID);
}

static void test_match(void **state)
{
    (void)state;
    router_conv_filter_t f;
    char why[200];
    router_conv_query_t in = {.q = "ABC", .since = "100", .until = "200"};
    assert_int_equal(parse(in, &f, why), AOS_OK);
    assert_true(router_conv_filter_match(&f, "c-xabcx", 150, 160));
    assert_true(router_conv_filter_match(&f, "c-abc", 50, 100));   /* active until since */
    assert_true(router_conv_filter_match(&f, "c-abc", 200, 300));  /* started at until */
    assert_false(router_conv_filter_match(&f, "c-abd", 150, 160)); /* id */
    assert_false(router_conv_filter_match(&f, "c-abc", 10, 99));   /* over before since */
    assert_false(router_conv_filter_match(&f, "c-abc", 201, 300)); /* began after until */
}

static void test_dead_letter_ids(void **state)
{
    (void)state;
    assert_true(router_dead_letter_id_valid("m-1:e"));
    assert_true(router_dead_letter_id_valid("274efaf5-8012-4801-b8a5-d007f1de7170"));
    assert_false(router_dead_letter_id_valid(""));
    assert_false(router_dead_letter_id_valid(NULL));
    assert_false(router_dead_letter_id_valid("a b"));
    assert_false(router_dead_letter_id_valid("a\x7f"));
    assert_false(router_dead_letter_id_valid("\xc3\xa9"));
    char long_id[300];
    memset(long_id, 'a', 256);
    long_id[256] = '\0';
    assert_false(router_dead_letter_id_valid(long_id));
    long_id[255] = '\0';
    assert_true(router_dead_letter_id_valid(long_id));
}

/* The breaker state the agents page shows comes with each heartbeat (bus_replies.h). */
static void test_heartbeat_breaker(void **state)
{
    (void)state;
    router_heartbeat_msg_t hb;
    const char *ok = "{\"agent\":\"cfo\",\"instance\":\"i-1\",\"breaker\":\"half_open\"}";
    assert_int_equal(router_heartbeat_parse(ok, strlen(ok), &hb), AOS_OK);
    assert_string_equal(hb.breaker, "half_open");
    const char *none = "{\"agent\":\"cfo\",\"instance\":\"i-1\"}";
    assert_int_equal(router_heartbeat_parse(none, strlen(none), &hb), AOS_OK);
    assert_string_equal(hb.breaker, "");
    const char *bad = "{\"agent\":\"cfo\",\"instance\":\"i-1\",\"breaker\":\"<b>x</b>\"}";
    assert_int_equal(router_heartbeat_parse(bad, strlen(bad), &hb), AOS_ERR_INVALID);
    const char *num = "{\"agent\":\"cfo\",\"instance\":\"i-1\",\"breaker\":2}";
    assert_int_equal(router_heartbeat_parse(num, strlen(num), &hb), AOS_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_defaults_and_values),
                                       cmocka_unit_test(test_bad_values_named),
                                       cmocka_unit_test(test_times),
                                       cmocka_unit_test(test_match),
                                       cmocka_unit_test(test_dead_letter_ids),
                                       cmocka_unit_test(test_heartbeat_breaker)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
