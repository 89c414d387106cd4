#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "aos/result.h"

static void every_result_has_code_text_and_roundtrips(void **state)
{
    (void)state;
    for (int i = 0; i < AOS_RESULT_COUNT_; i++) {
        aos_result r = (aos_result)i;
        assert_non_null(aos_result_str(r));
        assert_non_null(aos_result_code(r));
        assert_int_equal(aos_result_from_code(aos_result_code(r)), r);
        assert_true(aos_result_http_status(r) >= 200);
    }
    assert_int_equal(aos_result_from_code("no-such-code"), AOS_ERR_INTERNAL);
    assert_string_equal(aos_result_str((aos_result)999), "unknown result");
}

static void transient_results(void **state)
{
    (void)state;
    assert_true(aos_result_is_transient(AOS_ERR_TIMEOUT));
    assert_true(aos_result_is_transient(AOS_ERR_UNAVAILABLE));
    assert_false(aos_result_is_transient(AOS_ERR_INVALID));
    assert_int_equal(aos_result_http_status(AOS_ERR_NOT_FOUND), 404);
    assert_int_equal(aos_result_http_status(AOS_ERR_CONFLICT), 409);
}

static void fail_formats(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(aos_fail(AOS_ERR_INVALID, buf, sizeof buf, "bad %s", "thing"),
                     AOS_ERR_INVALID);
    assert_string_equal(buf, "bad thing");
    assert_int_equal(aos_fail(AOS_ERR_IO, NULL, 0, "x"), AOS_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_result_has_code_text_and_roundtrips),
        cmocka_unit_test(transient_results),
        cmocka_unit_test(fail_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
