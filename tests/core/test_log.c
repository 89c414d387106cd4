#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aos/log.h"

static char captured[4096];

static void capture(void (*fn)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    aos_log_set_fd(fds[1]);
    fn();
    close(fds[1]);
    ssize_t n = read(fds[0], captured, sizeof captured - 1);
    captured[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    aos_log_set_fd(1);
}

static void log_with_fields(void)
{
    aos_log(AOS_LOG_INFO, "connected \"quoted\"\n", "host", "localhost", "api_key", "s3cr3t",
            "SharedAccessKey", "abc", NULL);
}

static void lines_are_json_and_secrets_redacted(void **state)
{
    (void)state;
    aos_log_init("test-svc", AOS_LOG_DEBUG);
    capture(log_with_fields);
    json_object *o = json_tokener_parse(captured);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "service", &v));
    assert_string_equal(json_object_get_string(v), "test-svc");
    assert_true(json_object_object_get_ex(o, "msg", &v));
    assert_string_equal(json_object_get_string(v), "connected \"quoted\"\n");
    assert_true(json_object_object_get_ex(o, "host", &v));
    assert_string_equal(json_object_get_string(v), "localhost");
    assert_true(json_object_object_get_ex(o, "api_key", &v));
    assert_string_equal(json_object_get_string(v), "[redacted]");
    assert_null(strstr(captured, "s3cr3t"));
    assert_null(strstr(captured, "abc\""));
    json_object_put(o);
}

static void log_bad_utf8(void)
{
    aos_log(AOS_LOG_INFO, "bytes", "v", "ok \xc3\xa9 bad \xff\xc0\xaf end \xe2\x82", NULL);
}

static void invalid_utf8_still_gives_json(void **state)
{
    (void)state;
    aos_log_init("t", AOS_LOG_INFO);
    capture(log_bad_utf8);
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, captured, (int)strlen(captured) - 1);
    json_tokener_free(tok);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "v", &v));
    assert_string_equal(json_object_get_string(v),
                        "ok \xc3\xa9 bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end "
                        "\xef\xbf\xbd\xef\xbf\xbd");
    json_object_put(o);
}

static void log_debug(void)
{
    aos_log(AOS_LOG_DEBUG, "hidden", NULL);
}

static void level_filter(void **state)
{
    (void)state;
    aos_log_init("t", AOS_LOG_WARN);
    capture(log_debug);
    assert_string_equal(captured, "");
    aos_log_level l;
    assert_int_equal(aos_log_level_parse("ERROR", &l), AOS_OK);
    assert_int_equal(l, AOS_LOG_ERROR);
    assert_int_equal(aos_log_level_parse("loud", &l), AOS_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_are_json_and_secrets_redacted),
        cmocka_unit_test(level_filter),
        cmocka_unit_test(invalid_utf8_still_gives_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
