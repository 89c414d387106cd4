/* adapter_pick.h: the adapter record parser, the conversation bucket and the choice of the
 * version that answers a turn (sticky per conversation, deterministic across replicas). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "adapter_pick.h"

#define REC_CANARY                                                                                 \
    "{\"agent\":\"cfo\",\"name\":\"cfo-lora\",\"status\":\"ready\",\"version\":2,\"revision\":7,"  \
    "\"stable_version\":1,\"canary\":{\"version\":2,\"share\":30,\"stable_version\":1},"           \
    "\"versions\":[{\"version\":1,\"status\":\"ready\",\"deployment\":\"cfo-lora-v1\"},"           \
    "{\"version\":2,\"status\":\"ready\",\"deployment\":\"cfo-blue\"}]}"

static void parse(const char *json, runner_adapter_state_t *st)
{
    char err[200] = "";
    aos_result r = runner_adapter_state_parse(json, strlen(json), st, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("parse failed: %s", err);
}

static void test_parse(void **state)
{
    (void)state;
    runner_adapter_state_t st;
    parse(REC_CANARY, &st);
    assert_string_equal(st.name, "cfo-lora");
    assert_int_equal(st.revision, 7);
    assert_true(st.serving);
    assert_int_equal(st.stable_version, 1);
    assert_string_equal(st.stable_served, "cfo-lora-v1");
    assert_int_equal(st.canary_version, 2);
    assert_string_equal(st.canary_served, "cfo-blue"); /* the registry's deployment name */
    assert_int_equal(st.canary_share, 30);
    /* a record from before versions serves the adapter by name */
    parse("{\"name\":\"cfo-lora\",\"status\":\"ready\",\"version\":3}", &st);
    assert_true(st.serving);
    assert_int_equal(st.stable_version, 0);
    assert_string_equal(st.stable_served, "cfo-lora");
    /* still training its first version: nothing serves */
    parse("{\"name\":\"cfo-lora\",\"status\":\"training\",\"version\":0}", &st);
    assert_false(st.serving);
    /* no deployment recorded: <name>-v<version> */
    parse("{\"name\":\"x\",\"status\":\"ready\",\"stable_version\":4}", &st);
    assert_string_equal(st.stable_served, "x-v4");
}

static void test_parse_rejects(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "[]",
        "{\"status\":\"ready\"}",
        "{\"name\":\"has space\",\"status\":\"ready\"}",
        "{\"name\":\"a\",\"stable_version\":-1}",
        "{\"name\":\"a\",\"stable_version\":1,\"canary\":{\"version\":2,\"share\":101}}",
        "{\"name\":\"a\",\"stable_version\":1,\"canary\":{\"version\":0,\"share\":10}}",
        "{\"name\":\"a\",\"stable_version\":1,\"canary\":{\"share\":10}}",
        "{\"name\":\"a\",\"stable_version\":1,\"versions\":[{\"version\":1,\"deployment\":\"a "
        "b\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        runner_adapter_state_t st;
        char err[200] = "";
        assert_int_not_equal(
            runner_adapter_state_parse(bad[i], strlen(bad[i]), &st, err, sizeof err), AOS_OK);
        assert_false(st.serving);
    }
}

static void test_bucket_split(void **state)
{
    (void)state;
    /* about share % of conversation ids land below share*100, and each canary draws anew */
    int below = 0, same = 0;
    for (int i = 0; i < 10000; i++) {
        char id[32];
        snprintf(id, sizeof id, "c-%d", i);
        uint32_t b = runner_adapter_bucket(id, 2);
        assert_true(b < 10000);
        below += b < 3000;
        same += (b < 3000) == (runner_adapter_bucket(id, 3) < 3000);
        assert_int_equal(b, runner_adapter_bucket(id, 2)); /* deterministic */
    }
    assert_in_range(below, 2850, 3150);
    assert_in_range(same, 5500, 6500); /* independent draws agree ~58 % of the time */
}

static aos_storage_message_t msg(const char *role, const char *meta)
{
    return (aos_storage_message_t){.role = (char *)role, .metadata_json = (char *)meta};
}

static void test_decide_sticky(void **state)
{
    (void)state;
    runner_adapter_state_t st;
    parse(REC_CANARY, &st);
    runner_adapter_choice_t c;
    /* a new conversation: its bucket decides */
    int canary = 0;
    for (int i = 0; i < 1000; i++) {
        char id[32];
        snprintf(id, sizeof id, "n-%d", i);
        runner_adapter_decide(&st, id, 0, &c);
        assert_string_equal(c.name, "cfo-lora");
        assert_int_equal(c.canary, runner_adapter_bucket(id, 2) < 3000);
        assert_string_equal(c.served, c.canary ? "cfo-blue" : "cfo-lora-v1");
        assert_int_equal(c.version, c.canary ? 2 : 1);
        canary += c.canary;
    }
    assert_in_range(canary, 250, 350);
    /* a conversation that began on a version keeps it, whatever its bucket */
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "s-%d", i);
        runner_adapter_decide(&st, id, 1, &c);
        assert_int_equal(c.version, 1);
        runner_adapter_decide(&st, id, 2, &c);
        assert_int_equal(c.version, 2);
        assert_true(c.canary);
    }
    /* a version no longer served: the bucket decides again */
    runner_adapter_decide(&st, "s-1", 9, &c);
    assert_true(c.version == 1 || c.version == 2);
    /* the history: the newest assistant (or error marker) naming this adapter */
    aos_storage_message_t items[] = {
        msg("user", "{}"),
        msg("assistant", "{\"adapter\":\"other\",\"adapter_version\":5}"),
        msg("error", "{\"adapter\":\"cfo-lora\",\"adapter_version\":2}"),
        msg("assistant", "{\"adapter\":\"cfo-lora\",\"adapter_version\":1}"),
    };
    aos_storage_message_page_t page = {.items = items, .count = 4};
    assert_int_equal(runner_adapter_history_version(&page, "cfo-lora"), 2);
    assert_int_equal(runner_adapter_history_version(&page, "nope"), 0);
    assert_int_equal(runner_adapter_history_version(NULL, "cfo-lora"), 0);
    /* nothing serving: the configured adapter (an empty choice) */
    runner_adapter_decide(NULL, "x", 0, &c);
    assert_string_equal(c.name, "");
    assert_string_equal(c.served, "");
    assert_int_equal(c.version, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_bucket_split),
        cmocka_unit_test(test_decide_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
