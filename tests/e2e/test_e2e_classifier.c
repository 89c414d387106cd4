/* End-to-end: the optional classifier model of the routing chain. The classifier endpoint is
 * the OpenAI-compatible fake (tests/fakes/openai/server.js, an external model server stand-in
 * speaking the real wire format); storage, runner and router are the real binaries.
 *   - a message no rule matches is routed by the classifier's answer ("classifier");
 *   - rules still win without a classifier call;
 *   - a failing / unsure classifier falls back to the default agent, saying why.
 * Fails without the binaries or node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/json.h"
#include "e2e_support.h"

static e2e_stack_t g_stack;
static char g_config[300], g_fake_url[128];
static pid_t g_fake;

static int start_fake(void)
{
    return e2e_fake_start(&g_fake, g_fake_url, sizeof g_fake_url);
}

/* The sample config plus routing.classifier pointing at the fake. The fake's behaviour is
 * chosen by magic words in the message ("[[fake:text=cmo]]"), which reach it inside the
 * classifier prompt. */
static int write_config(void)
{
    const char *src = getenv("AOS_SOURCE_DIR");
    char sample[512];
    snprintf(sample, sizeof sample, "%s/deploy/config/aos.json", src ? src : ".");
    json_object *root = json_object_from_file(sample), *routing = NULL;
    if (!root)
        return -1;
    if (!json_object_object_get_ex(root, "routing", &routing)) {
        routing = json_object_new_object();
        json_object_object_add(root, "routing", routing);
    }
    char url[256];
    snprintf(url, sizeof url, "%s/v1", g_fake_url);
    json_object *cl = json_object_new_object();
    json_object_object_add(cl, "provider", json_object_new_string("openai"));
    json_object_object_add(cl, "url", json_object_new_string(url));
    json_object_object_add(cl, "model", json_object_new_string("router-small"));
    json_object_object_add(cl, "timeout_ms", json_object_new_int(5000));
    json_object_object_add(routing, "classifier", cl);
    snprintf(g_config, sizeof g_config, "/tmp/aos-e2e-classifier-%d.json", (int)getpid());
    int rc = json_object_to_file(g_config, root) == 0 ? 0 : -1;
    json_object_put(root);
    return rc;
}

static void fake_call(const char *method, const char *path, const char *body, e2e_resp_t *r)
{
    e2e_fake_call(g_fake_url, method, path, body, r);
}

static long fake_calls(void)
{
    e2e_resp_t r;
    fake_call("GET", "/_stats", NULL, &r);
    json_object *o = NULL;
    int64_t n = -1;
    if (aos_json_parse_object(r.body, r.len, 0, 0, &o, NULL, 0) == AOS_OK)
        aos_json_get_int(o, "calls", AOS_JSON_OPTIONAL, &n, NULL, NULL, 0);
    json_object_put(o);
    e2e_resp_free(&r);
    return (long)n;
}

/* POST a message; returns the agent and routing reason. */
static void send_text(const char *text, char *agent, char *reason)
{
    char url[256], body[256];
    snprintf(url, sizeof url, "%s/v1/messages", g_stack.api);
    snprintf(body, sizeof body, "{\"text\":\"%s\"}", text);
    const char *hdr[] = {"Content-Type: application/json", NULL};
    e2e_resp_t r;
    e2e_http("POST", url, hdr, body, strlen(body), 30000, &r);
    if (r.status != 200)
        fail_msg("POST /v1/messages: %ld %s", r.status, r.body);
    json_object *o = NULL, *routing = NULL;
    const char *a = NULL, *why = NULL;
    assert_int_equal(aos_json_parse_object(r.body, r.len, 0, 0, &o, NULL, 0), AOS_OK);
    aos_json_get_string(o, "agent", AOS_JSON_REQUIRED, &a, NULL, 0);
    aos_json_get_object(o, "routing", AOS_JSON_REQUIRED, &routing, NULL, 0);
    aos_json_get_string(routing, "reason", AOS_JSON_REQUIRED, &why, NULL, 0);
    snprintf(agent, 64, "%s", a ? a : "");
    snprintf(reason, 128, "%s", why ? why : "");
    json_object_put(o);
    e2e_resp_free(&r);
}

static void test_classifier_routes(void **state)
{
    (void)state;
    char agent[64], reason[128];
    long before = fake_calls();
    send_text("Hello, who can help me today? [[fake:text=cmo]]", agent, reason);
    assert_string_equal(agent, "cmo");
    assert_string_equal(reason, "classifier");
    assert_int_equal(fake_calls(), before + 1);
    e2e_resp_t r;
    fake_call("GET", "/_last", NULL, &r);
    assert_non_null(strstr(r.body, "router-small"));
    assert_non_null(strstr(r.body, "- cfo: You are the CFO."));
    assert_non_null(strstr(r.body, "Hello, who can help me today?"));
    assert_non_null(strstr(r.body, "\"temperature\":0"));
    e2e_resp_free(&r);
}

static void test_rules_win_without_a_call(void **state)
{
    (void)state;
    char agent[64], reason[128];
    long before = fake_calls();
    send_text("What is the budget?", agent, reason);
    assert_string_equal(agent, "cfo");
    assert_string_equal(reason, "keyword:budget");
    assert_int_equal(fake_calls(), before);
}

static void test_classifier_failure_falls_back(void **state)
{
    (void)state;
    char agent[64], reason[128];
    send_text("Good morning [[fake:status=500]]", agent, reason);
    assert_string_equal(agent, "default");
    assert_string_equal(reason, "default:classifier-failed");
    send_text("Good evening [[fake:text=no idea sorry]]", agent, reason);
    assert_string_equal(agent, "default");
    assert_string_equal(reason, "default:classifier-unsure");
}

static int setup(void **state)
{
    (void)state;
    if (start_fake() != 0 || write_config() != 0)
        return -1;
    if (e2e_stack_start(&g_stack, NULL, g_config, NULL, NULL) != 0) {
        e2e_dump_log(&g_stack.router, 20);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    e2e_stack_stop(&g_stack);
    if (g_fake > 0) {
        kill(g_fake, SIGTERM);
        waitpid(g_fake, NULL, 0);
    }
    unlink(g_config);
    return 0;
}

int main(void)
{
    if (!e2e_have_stack(true))
        return E2E_MISSING;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classifier_routes),
        cmocka_unit_test(test_rules_win_without_a_call),
        cmocka_unit_test(test_classifier_failure_falls_back),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
