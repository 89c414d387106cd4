/* Unit tests (issue 9): the skill manifest, Adaptive Card submits / events / invokes as turn
 * input, InvokeResponse and endOfConversation-with-result activities, serviceUrl checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aos/json.h"
#include "botframework.h"
#include "skill_manifest.h"

static const char *CONFIG =
    "{\"agents\":[{\"name\":\"cfo\",\"purpose\":\"You are the CFO.\"},"
    "{\"name\":\"ask\",\"purpose\":\"An agent whose name is a fixed key.\"}],"
    "\"default_agent\":\"cfo\"}";

static json_object *parse(const char *s)
{
    json_object *o = NULL;
    assert_int_equal(aos_json_parse_object(s, strlen(s), 0, 0, &o, NULL, 0), AOS_OK);
    return o;
}

static const char *str(json_object *o, const char *path)
{
    char buf[200];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(cur, json_type_array))
            cur = json_object_array_get_idx(cur, (size_t)atoi(k));
        else if (!json_object_object_get_ex(cur, k, &cur))
            return NULL;
    }
    return cur ? json_object_get_string(cur) : NULL;
}

static void test_manifest(void **state)
{
    (void)state;
    aos_agents_config_t *cfg = NULL;
    char err[256] = "";
    assert_int_equal(aos_agents_config_parse(CONFIG, strlen(CONFIG), &cfg, err, sizeof err),
                     AOS_OK);
    router_skill_info_t info = {.public_url = "https://aos.example.com/",
                                .app_id = "5c1a7a36-3c4e-4f7e-9a51-2b8f3f0d9e11"};
    char *json = NULL;
    assert_int_equal(router_skill_manifest_build(cfg, &info, &json), AOS_OK);
    json_object *m = parse(json);
    assert_string_equal(str(m, "$schema"), ROUTER_SKILL_SCHEMA);
    assert_string_equal(str(m, "endpoints.0.endpointUrl"), "https://aos.example.com/api/messages");
    assert_string_equal(str(m, "endpoints.0.msAppId"), info.app_id);
    assert_string_equal(str(m, "activities.message.type"), "message");
    assert_string_equal(str(m, "activities.cfo.type"), "event");
    assert_string_equal(str(m, "activities.cfo.name"), "cfo");
    assert_string_equal(str(m, "activities.agent-ask.name"), "ask");
    assert_string_equal(str(m, "activities.ask.type"), "invoke");
    assert_string_equal(str(m, "activities.ask.name"), ROUTER_SKILL_INVOKE_ASK);
    json_object_put(m);
    free(json);
    router_skill_info_t none = {.public_url = NULL, .app_id = "x"};
    assert_int_equal(router_skill_manifest_build(cfg, &none, &json), AOS_ERR_INVALID);
    aos_agents_config_free(cfg);
}

#define BASE                                                                                       \
    "\"serviceUrl\":\"https://smba.example.com/\",\"channelId\":\"pva-studio\","                   \
    "\"from\":{\"id\":\"u1\"},\"conversation\":{\"id\":\"c1\"},\"recipient\":{\"id\":\"s\"}"

static router_activity_t *activity(const char *body)
{
    router_activity_t *a = NULL;
    char err[256] = "";
    aos_result r = router_activity_parse(body, strlen(body), 1000, &a, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("parse: %s", err);
    return a;
}

static void test_card_submit(void **state)
{
    (void)state;
    router_activity_t *a =
        activity("{\"type\":\"message\"," BASE ",\"value\":{\"action\":\"approve\",\"amount\":12},"
                 "\"attachments\":[{\"contentType\":\"text/plain\"}]}");
    assert_true(router_activity_is_message(a));
    char *text = NULL, *meta = NULL, err[200] = "";
    assert_int_equal(router_activity_turn_input(a, 1000, &text, &meta, err, sizeof err), AOS_OK);
    assert_non_null(strstr(text, "\"approve\""));
    json_object *m = parse(meta);
    assert_string_equal(str(m, "bot.value.action"), "approve");
    assert_string_equal(str(m, "bot.attachments.0.contentType"), "text/plain");
    assert_string_equal(str(m, "bot.type"), "message");
    json_object_put(m);
    free(text);
    free(meta);
    router_activity_free(a);

    /* a submit whose value carries text reads like a message */
    a = activity("{\"type\":\"message\"," BASE ",\"value\":{\"text\":\"hello\"}}");
    assert_int_equal(router_activity_turn_input(a, 1000, &text, &meta, err, sizeof err), AOS_OK);
    assert_string_equal(text, "hello");
    free(text);
    free(meta);
    router_activity_free(a);
}

static void test_event_and_invoke(void **state)
{
    (void)state;
    router_activity_t *a =
        activity("{\"type\":\"event\",\"name\":\"cfo\"," BASE ",\"value\":{\"text\":\"budget?\"}}");
    assert_true(router_activity_is_type(a, "event"));
    assert_string_equal(a->name, "cfo");
    char *text = NULL, *meta = NULL, err[200] = "";
    assert_int_equal(router_activity_turn_input(a, 1000, &text, &meta, err, sizeof err), AOS_OK);
    assert_string_equal(text, "budget?");
    json_object *m = parse(meta);
    assert_string_equal(str(m, "bot.name"), "cfo");
    json_object_put(m);
    free(text);
    free(meta);
    router_activity_free(a);

    a = activity("{\"type\":\"invoke\",\"name\":\"aos/ask\"," BASE
                 ",\"value\":{\"text\":\"q\",\"agent\":\"cfo\"}}");
    assert_string_equal(a->name, "aos/ask");
    assert_non_null(a->value_json);
    router_activity_free(a);

    char *ir = NULL;
    assert_int_equal(router_activity_invoke_response_build(200, "{\"reply\":\"r\"}", &ir), AOS_OK);
    m = parse(ir);
    assert_string_equal(str(m, "type"), "invokeResponse");
    assert_string_equal(str(m, "value.status"), "200");
    assert_string_equal(str(m, "value.body.reply"), "r");
    json_object_put(m);
    free(ir);
    assert_int_equal(router_activity_invoke_response_build(501, NULL, &ir), AOS_OK);
    m = parse(ir);
    assert_string_equal(str(m, "value.status"), "501");
    assert_null(str(m, "value.body"));
    json_object_put(m);
    free(ir);

    a = activity("{\"type\":\"event\",\"name\":\"cfo\"," BASE "}");
    char *eoc = NULL;
    assert_int_equal(
        router_activity_eoc_build_value(a, "e1", "{\"reply\":\"x\",\"agent\":\"cfo\"}", &eoc),
        AOS_OK);
    m = parse(eoc);
    assert_string_equal(str(m, "type"), "endOfConversation");
    assert_string_equal(str(m, "value.reply"), "x");
    json_object_put(m);
    free(eoc);
    router_activity_free(a);
}

static void test_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"type\":\"message\"," BASE "}",            /* nothing to say */
        "{\"type\":\"event\"," BASE ",\"value\":{}}", /* event without name */
        "{\"type\":\"invoke\"," BASE "}",             /* invoke without name */
        "{\"type\":\"message\",\"text\":\"x\",\"attachments\":{}," BASE "}", /* not an array */
        /* serviceUrl with a query or fragment: the reply path would end up in it */
        "{\"type\":\"message\",\"text\":\"x\",\"serviceUrl\":\"https://evil.example/?x=\","
        "\"conversation\":{\"id\":\"c\"}}",
        "{\"type\":\"message\",\"text\":\"x\",\"serviceUrl\":\"https://evil.example/#\","
        "\"conversation\":{\"id\":\"c\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        router_activity_t *a = NULL;
        char err[256] = "";
        assert_int_equal(router_activity_parse(bad[i], strlen(bad[i]), 1000, &a, err, sizeof err),
                         AOS_ERR_INVALID);
        assert_null(a);
        assert_true(err[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_card_submit),
        cmocka_unit_test(test_event_and_invoke),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
