/* Integration: the Azure backend when the store goes away and comes back. Uses its own
 * private Azurite (tests/fixtures/azurite/fixture.sh in a separate directory), so stopping it
 * cannot disturb tests that share the "azurite" fixture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"

static char g_dir[1024], g_script[1024], g_src[1024], g_cs[2048];

static int run(const char *action)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' '%s' >/dev/null", g_script, action, g_dir, g_src);
    return system(cmd);
}

static aos_result open_be(storage_backend_t **be, char *err, size_t errlen)
{
    storage_backend_config_t cfg = {.kind = AOS_STORAGE_BACKEND_AZURE,
                                    .azure_connection_string = g_cs,
                                    .name_prefix = "faults",
                                    .timeout_ms = 5000};
    return storage_backend_open(&cfg, be, err, errlen);
}

static aos_result append(storage_backend_t *be, const char *id, aos_storage_message_t *out,
                         char *err, size_t errlen)
{
    aos_storage_message_t in = {
        .conversation_id = "conv-f", .id = (char *)id, .role = "user", .content = "hello"};
    bool created;
    return be->ops->message_append(be, &in, -1, out, &created, err, errlen);
}

static void test_unavailable_then_recovers(void **state)
{
    (void)state;
    char err[512];
    storage_backend_t *be = NULL;
    assert_int_equal(open_be(&be, err, sizeof err), AOS_OK);
    aos_storage_conversation_t in = {.id = "conv-f", .agent = "a"}, conv = {0};
    bool created;
    assert_int_equal(be->ops->conversation_create(be, &in, &conv, &created, err, sizeof err),
                     AOS_OK);
    aos_storage_conversation_clear(&conv);
    aos_storage_message_t m = {0};
    assert_int_equal(append(be, "m1", &m, err, sizeof err), AOS_OK);
    aos_storage_message_clear(&m);

    assert_int_equal(run("stop"), 0);
    assert_int_equal(be->ops->health(be, err, sizeof err), AOS_ERR_UNAVAILABLE);
    assert_int_equal(append(be, "m2", &m, err, sizeof err), AOS_ERR_UNAVAILABLE);
    aos_storage_message_clear(&m);
    assert_int_equal(be->ops->conversation_get(be, "conv-f", &conv, err, sizeof err),
                     AOS_ERR_UNAVAILABLE);
    aos_storage_conversation_clear(&conv);
    storage_backend_t *other = NULL;
    assert_int_equal(open_be(&other, err, sizeof err), AOS_ERR_UNAVAILABLE);
    assert_null(other);

    /* the same instance recovers by itself once the store is back; nothing was lost and the
     * refused append did not half-happen */
    assert_int_equal(run("start"), 0);
    assert_int_equal(be->ops->health(be, err, sizeof err), AOS_OK);
    assert_int_equal(be->ops->conversation_get(be, "conv-f", &conv, err, sizeof err), AOS_OK);
    assert_int_equal(conv.version, 1);
    aos_storage_conversation_clear(&conv);
    assert_int_equal(append(be, "m2", &m, err, sizeof err), AOS_OK);
    assert_int_equal(m.seq, 2);
    aos_storage_message_clear(&m);
    storage_backend_free(be);
}

static void test_bad_configuration(void **state)
{
    (void)state;
    char err[512];
    storage_backend_t *be = NULL;
    storage_backend_config_t cfg = {.kind = AOS_STORAGE_BACKEND_AZURE,
                                    .azure_connection_string = "AccountName=x"};
    assert_int_equal(storage_backend_open(&cfg, &be, err, sizeof err), AOS_ERR_INVALID);
    assert_null(be);
    cfg.azure_connection_string = g_cs;
    cfg.name_prefix = "Bad-Prefix";
    assert_int_equal(storage_backend_open(&cfg, &be, err, sizeof err), AOS_ERR_INVALID);
    cfg.name_prefix = NULL;
    cfg.azure_connection_string = NULL;
    assert_int_equal(storage_backend_open(&cfg, &be, err, sizeof err), AOS_ERR_INVALID);
}

int main(void)
{
    const char *fx = getenv("AOS_TEST_FIXTURES_DIR");
    const char *src = getenv("AOS_SOURCE_DIR");
    if (!fx || !src) {
        fprintf(stderr, "AOS_TEST_FIXTURES_DIR and AOS_SOURCE_DIR must be set (ctest does)\n");
        return 1;
    }
    snprintf(g_dir, sizeof g_dir, "%s/azurite-faults-%d", fx, (int)getpid());
    snprintf(g_src, sizeof g_src, "%s", src);
    snprintf(g_script, sizeof g_script, "%s/tests/fixtures/azurite/fixture.sh", src);
    if (run("setup") != 0) {
        fprintf(stderr, "could not start a private Azurite\n");
        return 1;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/connection_string", g_dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(g_cs, 1, sizeof g_cs - 1, f) : 0;
    if (f)
        fclose(f);
    while (n > 0 && (g_cs[n - 1] == '\n' || g_cs[n - 1] == ' '))
        n--;
    g_cs[n] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unavailable_then_recovers),
        cmocka_unit_test(test_bad_configuration),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    run("cleanup");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return failed ? 1 : 0;
}
