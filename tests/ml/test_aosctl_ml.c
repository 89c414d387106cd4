/* aosctl ml: argument handling (usage errors exit 2 before any network call) and an
 * unreachable router (exit 1 with a message naming it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aosctl.h"

static int run(char *out, size_t outlen, int argc, char **argv)
{
    FILE *o = fmemopen(out, outlen, "w"), *e = o;
    int rc = aosctl_main(argc, argv, o, e);
    fclose(o);
    return rc;
}

static void test_usage(void **state)
{
    (void)state;
    char buf[4096];
    char *a1[] = {"aosctl", "ml"};
    assert_int_equal(run(buf, sizeof buf, 2, a1), 2);
    assert_non_null(strstr(buf, "usage: aosctl ml"));
    char *a2[] = {"aosctl", "ml", "frob"};
    assert_int_equal(run(buf, sizeof buf, 3, a2), 2);
    char *a3[] = {"aosctl", "ml", "train", "cfo"};
    assert_int_equal(run(buf, sizeof buf, 4, a3), 2);
    assert_non_null(strstr(buf, "--data"));
    char *a4[] = {"aosctl", "ml", "train", "cfo", "--data", "nocontainer"};
    assert_int_equal(run(buf, sizeof buf, 6, a4), 2);
    char *a5[] = {"aosctl", "ml", "train", "cfo", "--data", "c/n", "--r", "four"};
    assert_int_equal(run(buf, sizeof buf, 8, a5), 2);
    assert_non_null(strstr(buf, "--r four"));
    char *a6[] = {"aosctl", "ml", "jobs", "--color", "red"};
    assert_int_equal(run(buf, sizeof buf, 5, a6), 2);
    char *a7[] = {"aosctl", "ml", "job"};
    assert_int_equal(run(buf, sizeof buf, 3, a7), 2);
    char *a8[] = {"aosctl", "ml", "infer", "cfo"};
    assert_int_equal(run(buf, sizeof buf, 4, a8), 2);
    /* serving commands: a version is a positive number; pin and canary need one */
    char *a9[] = {"aosctl", "ml", "pin", "cfo"};
    assert_int_equal(run(buf, sizeof buf, 4, a9), 2);
    assert_non_null(strstr(buf, "pin needs AGENT VERSION"));
    char *a10[] = {"aosctl", "ml", "promote", "cfo", "two"};
    assert_int_equal(run(buf, sizeof buf, 5, a10), 2);
    assert_non_null(strstr(buf, "positive number"));
    char *a11[] = {"aosctl", "ml", "canary", "cfo", "3"};
    assert_int_equal(run(buf, sizeof buf, 5, a11), 2);
    assert_non_null(strstr(buf, "--share"));
    char *a12[] = {"aosctl", "ml", "canary", "cfo", "3", "--share", "lots"};
    assert_int_equal(run(buf, sizeof buf, 7, a12), 2);
    assert_non_null(strstr(buf, "--share lots"));
    char *a13[] = {"aosctl", "ml", "rollback", "cfo", "--share", "5"};
    assert_int_equal(run(buf, sizeof buf, 6, a13), 2);
    char *a14[] = {"aosctl", "ml", "rollback"};
    assert_int_equal(run(buf, sizeof buf, 3, a14), 2);
}

static void test_unreachable_router(void **state)
{
    (void)state;
    char buf[4096];
    char *a[] = {"aosctl", "--url", "http://127.0.0.1:1", "ml", "jobs", "--agent", "cfo"};
    assert_int_equal(run(buf, sizeof buf, 7, a), 1);
    assert_non_null(strstr(buf, "cannot reach the router at http://127.0.0.1:1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_unreachable_router),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
