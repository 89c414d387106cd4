/* Unit tests: routing decisions and POST /v1/messages / turn JSON (services/router). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aos/json.h"
#include "messages.h"
#include "routing.h"

static const char *CFG =
    "{\"default_agent\":\"default\",\"agents\":["
    "{\"name\":\"default\",\"purpose\":\"General help.\"},"
    "{\"name\":\"ceo\",\"purpose\":\"Strategy.\\nMore.\",\"keywords\":[\"strategy\",\"vision\"]},"
    "{\"name\":\"cfo\",\"purpose\":\"Money.\",\"keywords\":[\"budget\",\"cost\"],"
    "\"patterns\":[\"q[1-4] results\"]},"
    "{\"name\":\"cmo\",\"purpose\":\"Marketing.\",\"keywords\":[\"campaign\"]}]}";

static aos_agents_config_t *load(const char *json)
{
    char err[256];
    aos_agents_config_t *cfg = NULL;
    if (aos_agents_config_parse(json, strlen(json), &cfg, err, sizeof err) != AOS_OK)
        fail_msg("%s", err);
    return cfg;
}

static void test_route_order(void **state)
{
    (void)state;
    aos_agents_config_t *cfg = load(CFG);
    router_decision_t d;
    char err[128];
    assert_int_equal(router_route(cfg, "cmo", "cfo", "budget", &d, err, sizeof err), AOS_OK);
    assert_string_equal(d.agent->name, "cmo");
    assert_string_equal(d.reason, "explicit");
    assert_int_equal(router_route(cfg, NULL, "cfo", "our strategy", &d, err, sizeof err), AOS_OK);
    assert_string_equal(d.agent->name, "cfo");
    assert_string_equal(d.reason, "sticky");
    assert_int_equal(router_route(cfg, NULL, NULL, "What's the Budget?", &d, err, sizeof err),
                     AOS_OK);
    assert_string_equal(d.agent->name, "cfo");
    assert_string_equal(d.reason, "keyword:budget");
    assert_int_equal(router_route(cfg, NULL, NULL, "show Q3 results", &d, err, sizeof err), AOS_OK);
    assert_string_equal(d.reason, "pattern:q[1-4] results");
    assert_int_equal(router_route(cfg, NULL, NULL, "hello there", &d, err, sizeof err), AOS_OK);
    assert_string_equal(d.agent->name, "default");
    assert_string_equal(d.reason, "default");
    assert_false(d.needs_classifier);
    /* most hits wins: two cfo keywords beat one ceo keyword */
    assert_int_equal(
        router_route(cfg, NULL, NULL, "strategy for budget and cost", &d, err, sizeof err), AOS_OK);
    assert_string_equal(d.agent->name, "cfo");
    /* a sticky agent that no longer exists is ignored */
    assert_int_equal(router_route(cfg, NULL, "gone", "campaign", &d, err, sizeof err), AOS_OK);
    assert_string_equal(d.agent->name, "cmo");
    assert_int_equal(router_route(cfg, "nobody", NULL, "x", &d, err, sizeof err),
                     AOS_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "unknown agent \"nobody\""));
    aos_agents_config_free(cfg);
}

static void test_not_sticky_and_classifier(void **state)
{
    (void)state;
    aos_agents_config_t *cfg =
        load("{\"default_agent\":\"a\",\"routing\":{\"sticky\":false,\"classifier\":{\"provider\":"
             "\"offline\"}},\"agents\":[{\"name\":\"a\",\"purpose\":\"A things.\"},"
             "{\"name\":\"b-x\",\"purpose\":\"B things.\"}]}");
    router_decision_t d;
    assert_int_equal(router_route(cfg, NULL, "b-x", "hi", &d, NULL, 0), AOS_OK);
    assert_true(d.needs_classifier);
    assert_string_equal(d.agent->name, "a");
    char *prompt = NULL;
    assert_int_equal(router_classifier_prompt(cfg, "hi", &prompt), AOS_OK);
    assert_non_null(strstr(prompt, "- b-x: B things."));
    assert_non_null(strstr(prompt, "Message:\nhi"));
    free(prompt);
    router_route_classified(cfg, "The best agent is B-X.", &d);
    assert_string_equal(d.agent->name, "b-x");
    assert_string_equal(d.reason, "classifier");
    router_route(cfg, NULL, NULL, "hi", &d, NULL, 0);
    router_route_classified(cfg, "b-xy or ab", &d);
    assert_string_equal(d.agent->name, "a");
    assert_string_equal(d.reason, "default:classifier-unsure");
    router_route_classified(cfg, NULL, &d);
    assert_string_equal(d.reason, "default:classifier-failed");
    aos_agents_config_free(cfg);
}

static void msg_fails(const char *body, aos_result want, const char *needle)
{
    router_message_req_t *m = NULL;
    char err[256] = "";
    assert_int_equal(router_message_req_parse(body, strlen(body), 64, &m, err, sizeof err), want);
    assert_null(m);
    if (!strstr(err, needle))
        fail_msg("\"%s\" lacks \"%s\"", err, needle);
}

static void test_message_request(void **state)
{
    (void)state;
    const char *body = "{\"text\":\"What is our budget?\",\"conversation_id\":\"c-1\","
                       "\"agent\":\"cfo\",\"user\":\"alice\",\"metadata\":{\"k\":[1,2]}}";
    router_message_req_t *m = NULL;
    char err[256] = "";
    assert_int_equal(router_message_req_parse(body, strlen(body), 64, &m, err, sizeof err), AOS_OK);
    assert_string_equal(m->text, "What is our budget?");
    assert_string_equal(m->conversation_id, "c-1");
    assert_string_equal(m->agent, "cfo");
    assert_string_equal(m->user, "alice");
    assert_string_equal(m->metadata_json, "{\"k\":[1,2]}");
    router_message_req_free(m);
    msg_fails("{}", AOS_ERR_INVALID, "'text' is required");
    msg_fails("{\"text\":\"  \"}", AOS_ERR_INVALID, "must not be empty");
    msg_fails("{\"text\":5}", AOS_ERR_INVALID, "'text' must be a string");
    msg_fails("{\"text\":\"x\",\"agnet\":\"cfo\"}", AOS_ERR_INVALID, "unknown field 'agnet'");
    msg_fails("{\"text\":\"x\",\"conversation_id\":\"a/b\"}", AOS_ERR_INVALID, "conversation_id");
    msg_fails("{\"text\":\"x\",\"agent\":\"CFO!\"}", AOS_ERR_INVALID, "not an agent name");
    msg_fails("{\"text\":\"x\",\"metadata\":[1]}", AOS_ERR_INVALID, "metadata");
    msg_fails("{\"text\":\"x\",\"user\":\"\"}", AOS_ERR_INVALID, "user");
    msg_fails("[1]", AOS_ERR_INVALID, "object");
    msg_fails("{\"text\":\"x\"", AOS_ERR_INVALID, "JSON");
    msg_fails("{\"text\":\"\xc3\x28\"}", AOS_ERR_INVALID, "");
    msg_fails("{\"text\":\"0123456789012345678901234567890123456789012345678901234567890123456\"}",
              AOS_ERR_TOO_LARGE, "limit is 64");
    msg_fails("", AOS_ERR_INVALID, "empty");
}

static void test_turn_roundtrip(void **state)
{
    (void)state;
    router_turn_t t = {.conversation_id = "c-1",
                       .message_id = "m-1",
                       .agent = "cfo",
                       .text = "hi \"there\"",
                       .user = "bob",
                       .metadata_json = "{\"a\":1}",
                       .kind = ROUTER_TURN_EVENT,
                       .event_json = "{\"id\":\"e\"}",
                       .reason = "keyword:budget"};
    char *json = NULL;
    assert_int_equal(router_turn_build(&t, &json), AOS_OK);
    json_object *o = NULL;
    assert_int_equal(aos_json_parse_object(json, strlen(json), 0, 0, &o, NULL, 0), AOS_OK);
    const char *s = NULL;
    aos_json_get_string(o, "kind", AOS_JSON_REQUIRED, &s, NULL, 0);
    assert_string_equal(s, "event");
    aos_json_get_string(o, "text", AOS_JSON_REQUIRED, &s, NULL, 0);
    assert_string_equal(s, "hi \"there\"");
    json_object *routing = NULL, *ev = NULL;
    assert_int_equal(aos_json_get_object(o, "routing", AOS_JSON_REQUIRED, &routing, NULL, 0),
                     AOS_OK);
    assert_int_equal(aos_json_get_object(o, "event", AOS_JSON_REQUIRED, &ev, NULL, 0), AOS_OK);
    json_object_put(o);
    free(json);

    const char *res = "{\"conversation_id\":\"c-1\",\"message_id\":\"m-1\","
                      "\"reply_message_id\":\"m-2\",\"agent\":\"cfo\",\"reply\":\"Fine.\","
                      "\"provider\":\"offline\",\"model\":\"offline\",\"usage\":{"
                      "\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}";
    router_turn_result_t *r = NULL;
    char err[128];
    assert_int_equal(router_turn_result_parse(res, strlen(res), &r, err, sizeof err), AOS_OK);
    assert_string_equal(r->reply, "Fine.");
    assert_string_equal(r->reply_message_id, "m-2");
    assert_null(r->action_json);
    char *out = NULL;
    assert_int_equal(router_message_response_build(r, "cfo", "keyword:budget", &out), AOS_OK);
    assert_non_null(strstr(out, "\"reason\":\"keyword:budget\""));
    assert_non_null(strstr(out, "\"total_tokens\":4"));
    free(out);
    router_turn_result_free(r);
    assert_int_equal(router_turn_result_parse("{\"agent\":\"x\"}", 13, &r, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_null(r);
}

static void test_ids(void **state)
{
    (void)state;
    assert_true(router_id_valid("c-123"));
    assert_true(router_id_valid("bf-abc:1@x.y_z"));
    assert_false(router_id_valid(""));
    assert_false(router_id_valid("a b"));
    assert_false(router_id_valid("a/b"));
    char big[200];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(router_id_valid(big));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_order),
        cmocka_unit_test(test_not_sticky_and_classifier),
        cmocka_unit_test(test_message_request),
        cmocka_unit_test(test_turn_roundtrip),
        cmocka_unit_test(test_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
