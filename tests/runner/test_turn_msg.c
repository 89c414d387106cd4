/* The aos.agent.turn contract: parsing, reply ids, results and events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aos/json.h"
#include "turn_msg.h"

static aos_result parse(const char *s, runner_turn_req_t *r, char *err, size_t errlen)
{
    return runner_turn_parse(s, strlen(s), r, err, errlen);
}

static void test_parse_query(void **state)
{
    (void)state;
    runner_turn_req_t r;
    const char *s = "{\"conversation_id\":\"c-1\",\"message_id\":\"m-1\",\"agent\":\"cfo\","
                    "\"text\":\"Runway?\",\"user\":\"alice\",\"metadata\":{\"k\":1},"
                    "\"routing\":{\"reason\":\"keyword:budget\"}}";
    assert_int_equal(parse(s, &r, NULL, 0), AOS_OK);
    assert_string_equal(r.conversation_id, "c-1");
    assert_string_equal(r.message_id, "m-1");
    assert_string_equal(r.agent, "cfo");
    assert_string_equal(r.text, "Runway?");
    assert_string_equal(r.user, "alice");
    assert_int_equal(r.kind, RUNNER_TURN_QUERY);
    assert_string_equal(r.metadata_json, "{\"k\":1}");
    assert_string_equal(r.routing_reason, "keyword:budget");
    char *meta = NULL;
    assert_int_equal(runner_user_metadata(&r, &meta), AOS_OK);
    assert_non_null(strstr(meta, "\"kind\":\"query\""));
    assert_non_null(strstr(meta, "\"metadata\":{\"k\":1}"));
    free(meta);
    runner_turn_req_clear(&r);
}

static void test_parse_event(void **state)
{
    (void)state;
    runner_turn_req_t r;
    const char *s = "{\"conversation_id\":\"c-2\",\"message_id\":\"m-2\",\"agent\":\"ops\","
                    "\"kind\":\"event\",\"event\":{\"specversion\":\"1.0\",\"id\":\"e1\","
                    "\"type\":\"Microsoft.Storage.BlobCreated\",\"source\":\"/s\","
                    "\"data\":{\"url\":\"https://x/a.csv\"}}}";
    assert_int_equal(parse(s, &r, NULL, 0), AOS_OK);
    assert_int_equal(r.kind, RUNNER_TURN_EVENT);
    assert_string_equal(r.event_type, "Microsoft.Storage.BlobCreated");
    assert_non_null(strstr(r.text, "Environment event Microsoft.Storage.BlobCreated from /s"));
    assert_non_null(strstr(r.text, "https://x/a.csv"));
    /* an action intent comes from a JSON reply */
    runner_turn_outcome_t o = {.reply = "{\"intent\":{\"op\":\"reindex\"}}", .provider = "offline"};
    char *result = NULL, *action = NULL;
    assert_int_equal(runner_turn_result_json(&r, "m-2:r", &o, &result), AOS_OK);
    assert_non_null(strstr(result, "\"action\":{\"text\":"));
    assert_non_null(strstr(result, "\"intent\":{\"op\":\"reindex\"}"));
    assert_int_equal(runner_action_json(&r, &o, &action), AOS_OK);
    assert_non_null(strstr(action, "\"source_event\":{"));
    free(result);
    free(action);
    o.reply = "plain words";
    assert_int_equal(runner_action_json(&r, &o, &action), AOS_OK);
    assert_non_null(strstr(action, "\"intent\":null"));
    free(action);
    runner_turn_req_clear(&r);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *needle;
    } bad[] = {
        {"[1]", "object"},
        {"{\"message_id\":\"m\",\"agent\":\"a\",\"text\":\"t\"}", "conversation_id"},
        {"{\"conversation_id\":\"c 1\",\"message_id\":\"m\",\"agent\":\"a\",\"text\":\"t\"}",
         "conversation_id"},
        {"{\"conversation_id\":\"c\",\"message_id\":\"m\",\"agent\":\"A B\",\"text\":\"t\"}",
         "agent"},
        {"{\"conversation_id\":\"c\",\"message_id\":\"m\",\"agent\":\"a\"}", "text"},
        {"{\"conversation_id\":\"c\",\"message_id\":\"m\",\"agent\":\"a\",\"text\":\"\"}", "text"},
        {"{\"conversation_id\":\"c\",\"message_id\":\"m\",\"agent\":\"a\",\"text\":\"t\","
         "\"kind\":\"dance\"}",
         "kind"},
        {"{\"conversation_id\":\"c\",\"message_id\":\"m\",\"agent\":\"a\",\"kind\":\"event\"}",
         "event"},
        {"{\"conversation_id\":\"c\",\"message_id\":\"m\",\"agent\":\"a\",\"text\":5}", "text"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        runner_turn_req_t r;
        char err[200] = "";
        assert_int_not_equal(parse(bad[i].json, &r, err, sizeof err), AOS_OK);
        assert_non_null(strstr(err, bad[i].needle));
        assert_null(r.conversation_id);
    }
}

static void test_reply_ids(void **state)
{
    (void)state;
    char id[129];
    assert_int_equal(runner_reply_id("m-1", 'r', id), AOS_OK);
    assert_string_equal(id, "m-1:r");
    assert_int_equal(runner_reply_id("m-1", 'e', id), AOS_OK);
    assert_string_equal(id, "m-1:e");
    char longid[129];
    memset(longid, 'x', 128);
    longid[128] = '\0';
    assert_int_equal(runner_reply_id(longid, 'r', id), AOS_OK);
    assert_int_equal(strlen(id), 66); /* "r:" + sha256 hex */
    assert_true(strncmp(id, "r:", 2) == 0);
    char again[129];
    assert_int_equal(runner_reply_id(longid, 'r', again), AOS_OK);
    assert_string_equal(id, again); /* deterministic */
    assert_int_equal(runner_reply_id("bad id", 'r', id), AOS_ERR_INVALID);
}

static void test_metadata_roundtrip(void **state)
{
    (void)state;
    runner_turn_req_t r;
    assert_int_equal(parse("{\"conversation_id\":\"c\",\"message_id\":\"m\",\"agent\":\"a\","
                           "\"text\":\"t\"}",
                           &r, NULL, 0),
                     AOS_OK);
    runner_turn_outcome_t o = {.reply = "hi",
                               .provider = "azure-openai",
                               .model = "gpt-4o",
                               .endpoint = "https://x",
                               .usage = {10, 5, 15},
                               .attempts = 2,
                               .latency_ms = 1234,
                               .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"};
    char *meta = NULL;
    assert_int_equal(runner_assistant_metadata(&r, &o, &meta), AOS_OK);
    /* what the console's transcript shows per turn (issue 14) */
    assert_non_null(strstr(meta, "\"latency_ms\":1234"));
    assert_non_null(strstr(meta, "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""));
    runner_turn_outcome_t back = {.provider = "stored"};
    void *owner = NULL;
    assert_int_equal(runner_assistant_metadata_parse(meta, &back, &owner), AOS_OK);
    assert_string_equal(back.provider, "azure-openai");
    assert_string_equal(back.model, "gpt-4o");
    assert_int_equal(back.usage.total_tokens, 15);
    assert_int_equal(back.usage.prompt_tokens, 10);
    json_object_put(owner);
    free(meta);
    char *hb = NULL;
    assert_int_equal(
        runner_heartbeat_json("cfo", "i-1", 3, 64, "offline", NULL, 1700000000000, 0, 0, &hb),
        AOS_OK);
    assert_string_equal(hb,
                        "{\"agent\":\"cfo\",\"instance\":\"i-1\",\"inflight\":3,\"capacity\":64,"
                        "\"provider\":\"offline\",\"ts\":1700000000000}");
    free(hb);
    assert_int_equal(runner_heartbeat_json("cfo", "i-1", 0, 64, "openai", "half_open",
                                           1700000000000, 1699999980000, 1700000040000, &hb),
                     AOS_OK);
    assert_non_null(strstr(hb, "\"schedule_last_ms\":1699999980000,"
                               "\"schedule_next_ms\":1700000040000"));
    assert_non_null(strstr(hb, "\"breaker\":\"half_open\"")); /* the console's agents page */
    free(hb);
    runner_turn_req_clear(&r);
}

/* The accept's lease travels with the turn (docs/bus-messages.md); one that does not read
 * is dropped (the runner claims), never a poison turn. */
static void test_parse_lease(void **state)
{
    (void)state;
    runner_turn_req_t r;
    const char *s = "{\"conversation_id\":\"c-1\",\"message_id\":\"m-1\",\"agent\":\"cfo\","
                    "\"text\":\"Runway?\",\"lease\":{\"seq\":3,\"token\":7,\"lease_ms\":15000,"
                    "\"granted_ms\":1765000000000,\"user\":{\"message_id\":\"m-1\",\"seq\":5},"
                    "\"messages\":[{\"message_id\":\"m-1\",\"seq\":5}]}}";
    assert_int_equal(parse(s, &r, NULL, 0), AOS_OK);
    assert_int_equal(r.lease_seq, 3);
    assert_int_equal(r.lease_token, 7);
    assert_int_equal(r.lease_ms, 15000);
    assert_true(r.lease_granted_ms == 1765000000000LL);
    int64_t useq = 0;
    assert_int_equal(aos_json_get_int(r.lease_user, "seq", AOS_JSON_REQUIRED, &useq, NULL, NULL, 0),
                     AOS_OK);
    assert_int_equal(useq, 5);
    assert_true(json_object_is_type(r.lease_messages, json_type_array));
    assert_int_equal(json_object_array_length(r.lease_messages), 1);
    runner_turn_req_clear(&r);
    /* the token without the context (too large to carry): the runner claims with it */
    s = "{\"conversation_id\":\"c-1\",\"message_id\":\"m-1\",\"agent\":\"cfo\","
        "\"text\":\"Runway?\",\"lease\":{\"seq\":3,\"token\":7,\"lease_ms\":15000,"
        "\"granted_ms\":1765000000000}}";
    assert_int_equal(parse(s, &r, NULL, 0), AOS_OK);
    assert_int_equal(r.lease_token, 7);
    assert_null(r.lease_user);
    assert_null(r.lease_messages);
    runner_turn_req_clear(&r);
    static const char *const bad[] = {"\"lease\":7", "\"lease\":{\"seq\":\"x\",\"token\":7}",
                                      "\"lease\":{\"seq\":1,\"token\":-1,\"lease_ms\":1,"
                                      "\"granted_ms\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[400];
        snprintf(doc, sizeof doc,
                 "{\"conversation_id\":\"c-1\",\"message_id\":\"m-1\",\"agent\":\"cfo\","
                 "\"text\":\"Runway?\",%s}",
                 bad[i]);
        assert_int_equal(parse(doc, &r, NULL, 0), AOS_OK);
        assert_int_equal(r.lease_token, 0);
        runner_turn_req_clear(&r);
    }
}

/* The adapter that answered goes with the stored message and the reply (and comes back
 * from storage for a redelivered turn); no adapter, no fields. */
static void test_adapter_fields(void **state)
{
    (void)state;
    runner_turn_req_t r;
    assert_int_equal(parse("{\"conversation_id\":\"c\",\"message_id\":\"m\",\"agent\":\"a\","
                           "\"text\":\"t\"}",
                           &r, NULL, 0),
                     AOS_OK);
    runner_turn_outcome_t o = {.reply = "hi",
                               .provider = "openai",
                               .model = "cfo-lora-v3",
                               .adapter = "cfo-lora",
                               .adapter_version = 3};
    char *meta = NULL, *res = NULL;
    assert_int_equal(runner_assistant_metadata(&r, &o, &meta), AOS_OK);
    assert_non_null(strstr(meta, "\"adapter\":\"cfo-lora\",\"adapter_version\":3"));
    assert_int_equal(runner_turn_result_json(&r, "m:r", &o, &res), AOS_OK);
    assert_non_null(strstr(res, "\"adapter\":\"cfo-lora\",\"adapter_version\":3"));
    runner_turn_outcome_t back = {.provider = "stored"};
    void *owner = NULL;
    assert_int_equal(runner_assistant_metadata_parse(meta, &back, &owner), AOS_OK);
    assert_string_equal(back.adapter, "cfo-lora");
    assert_int_equal(back.adapter_version, 3);
    json_object_put(owner);
    free(meta);
    free(res);
    o.adapter_version = 0; /* the configured adapter, not a registry version */
    assert_int_equal(runner_assistant_metadata(&r, &o, &meta), AOS_OK);
    assert_non_null(strstr(meta, "\"adapter\":\"cfo-lora\""));
    assert_null(strstr(meta, "adapter_version"));
    free(meta);
    o.adapter = NULL;
    assert_int_equal(runner_assistant_metadata(&r, &o, &meta), AOS_OK);
    assert_null(strstr(meta, "adapter"));
    free(meta);
    runner_turn_req_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_query),        cmocka_unit_test(test_parse_event),
        cmocka_unit_test(test_parse_rejects),      cmocka_unit_test(test_reply_ids),
        cmocka_unit_test(test_metadata_roundtrip), cmocka_unit_test(test_parse_lease),
        cmocka_unit_test(test_adapter_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
