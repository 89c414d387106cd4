/* Provider request building and response parsing (pure functions, real wire formats). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "aos/json.h"
#include "aos/model.h"

static const aos_model_msg_t MSGS[] = {
    {"system", "You are the cfo agent."},
    {"user", "What is our \"runway\"?\n"},
};

static const char *header(const aos_model_http_req_t *r, const char *prefix)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strncmp(r->headers[i], prefix, strlen(prefix)) == 0)
            return r->headers[i];
    return NULL;
}

static json_object *body_json(const aos_model_http_req_t *r)
{
    json_object *o = NULL;
    assert_int_equal(aos_json_parse(r->body, r->body_len, 0, 0, &o, NULL, 0), AOS_OK);
    return o;
}

static void test_azure_openai_request(void **state)
{
    (void)state;
    aos_model_endpoint_t ep = {.kind = AOS_PROVIDER_AZURE_OPENAI,
                               .url = "https://res.openai.azure.com/",
                               .deployment = "gpt4o",
                               .api_key = "k3y",
                               .temperature = -1};
    aos_model_http_req_t r = {0};
    assert_int_equal(aos_model_build_request(&ep, MSGS, 2, &r, NULL, 0), AOS_OK);
    assert_string_equal(r.url, "https://res.openai.azure.com/openai/deployments/gpt4o/chat/"
                               "completions?api-version=" AOS_MODEL_DEFAULT_API_VERSION);
    assert_string_equal(header(&r, "api-key:"), "api-key: k3y");
    assert_null(header(&r, "Authorization:"));
    json_object *b = body_json(&r);
    json_object *msgs, *m1, *content;
    assert_true(json_object_object_get_ex(b, "messages", &msgs));
    assert_int_equal(json_object_array_length(msgs), 2);
    m1 = json_object_array_get_idx(msgs, 1);
    assert_true(json_object_object_get_ex(m1, "content", &content));
    assert_string_equal(json_object_get_string(content), "What is our \"runway\"?\n");
    assert_false(json_object_object_get_ex(b, "model", NULL));
    assert_false(json_object_object_get_ex(b, "temperature", NULL));
    json_object_put(b);
    aos_model_http_req_clear(&r);

    /* bearer auth, explicit api-version, full deployment URL given */
    ep.auth = AOS_ENDPOINT_AUTH_BEARER;
    ep.url = "https://res.openai.azure.com/openai/deployments/x/chat/completions";
    ep.api_version = "2025-01-01";
    assert_int_equal(aos_model_build_request(&ep, MSGS, 2, &r, NULL, 0), AOS_OK);
    assert_string_equal(r.url, "https://res.openai.azure.com/openai/deployments/x/chat/"
                               "completions?api-version=2025-01-01");
    assert_string_equal(header(&r, "Authorization:"), "Authorization: Bearer k3y");
    assert_null(header(&r, "api-key:"));
    aos_model_http_req_clear(&r);
}

static void test_openai_request(void **state)
{
    (void)state;
    aos_model_endpoint_t ep = {.kind = AOS_PROVIDER_OPENAI,
                               .url = "http://127.0.0.1:8000",
                               .model = "llama3",
                               .adapter = "cfo-lora",
                               .stream = true,
                               .max_tokens = 100,
                               .temperature = 0.5};
    aos_model_http_req_t r = {0};
    assert_int_equal(aos_model_build_request(&ep, MSGS, 2, &r, NULL, 0), AOS_OK);
    assert_string_equal(r.url, "http://127.0.0.1:8000/v1/chat/completions");
    assert_null(header(&r, "Authorization:")); /* no key configured: no auth header */
    assert_string_equal(header(&r, "Accept:"), "Accept: text/event-stream");
    json_object *b = body_json(&r), *v;
    assert_true(json_object_object_get_ex(b, "model", &v));
    assert_string_equal(json_object_get_string(v), "cfo-lora"); /* the adapter is the model */
    assert_true(json_object_object_get_ex(b, "stream", &v) && json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(b, "max_tokens", &v));
    assert_int_equal(json_object_get_int(v), 100);
    json_object_put(b);
    aos_model_http_req_clear(&r);

    ep.url = "http://h/v1/";
    ep.adapter = NULL;
    ep.api_key = "sk";
    assert_int_equal(aos_model_build_request(&ep, MSGS, 2, &r, NULL, 0), AOS_OK);
    assert_string_equal(r.url, "http://h/v1/chat/completions");
    assert_string_equal(header(&r, "Authorization:"), "Authorization: Bearer sk");
    b = body_json(&r);
    assert_true(json_object_object_get_ex(b, "model", &v));
    assert_string_equal(json_object_get_string(v), "llama3");
    json_object_put(b);
    aos_model_http_req_clear(&r);
}

static void test_azureml_request(void **state)
{
    (void)state;
    aos_model_endpoint_t ep = {.kind = AOS_PROVIDER_AZUREML,
                               .url = "https://e.westeurope.inference.ml.azure.com/score",
                               .deployment = "blue",
                               .adapter = "cfo-lora-v3",
                               .api_key = "amlkey",
                               .temperature = -1};
    aos_model_http_req_t r = {0};
    assert_int_equal(aos_model_build_request(&ep, MSGS, 2, &r, NULL, 0), AOS_OK);
    assert_string_equal(r.url, "https://e.westeurope.inference.ml.azure.com/score");
    assert_string_equal(header(&r, "azureml-model-deployment:"),
                        "azureml-model-deployment: cfo-lora-v3");
    assert_string_equal(header(&r, "Authorization:"), "Authorization: Bearer amlkey");
    aos_model_http_req_clear(&r);
}

/* The URL rules of aos/model.h, one row each: every caller (runner, classifier, ML inference)
 * gets its URL from aos_model_url. */
static void test_url_rules(void **state)
{
    (void)state;
    static const struct {
        aos_provider kind;
        const char *url, *deployment, *api_version, *want;
    } rows[] = {
        {AOS_PROVIDER_OPENAI, "http://h:8000", NULL, NULL, "http://h:8000/v1/chat/completions"},
        {AOS_PROVIDER_OPENAI, "http://h:8000/", NULL, NULL, "http://h:8000/v1/chat/completions"},
        {AOS_PROVIDER_OPENAI, "http://h/v1", NULL, NULL, "http://h/v1/chat/completions"},
        {AOS_PROVIDER_OPENAI, "http://h/v1/chat/completions", NULL, NULL,
         "http://h/v1/chat/completions"},
        {AOS_PROVIDER_AZURE_OPENAI, "https://r.openai.azure.com", "d", NULL,
         "https://r.openai.azure.com/openai/deployments/d/chat/"
         "completions?api-version=" AOS_MODEL_DEFAULT_API_VERSION},
        {AOS_PROVIDER_AZURE_OPENAI, "https://r.openai.azure.com/", "d", "2025-01-01",
         "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version="
         "2025-01-01"},
        {AOS_PROVIDER_AZURE_OPENAI,
         "https://r.openai.azure.com/openai/deployments/x/chat/completions?api-version=1", NULL,
         NULL, "https://r.openai.azure.com/openai/deployments/x/chat/completions?api-version=1"},
        {AOS_PROVIDER_AZUREML, "https://e.inference.ml.azure.com/score", "blue", NULL,
         "https://e.inference.ml.azure.com/score"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        aos_model_endpoint_t ep = {.kind = rows[i].kind,
                                   .name = "t",
                                   .url = rows[i].url,
                                   .deployment = rows[i].deployment,
                                   .api_version = rows[i].api_version};
        char *url = NULL, err[200] = "";
        assert_int_equal(aos_model_url(&ep, &url, err, sizeof err), AOS_OK);
        assert_string_equal(url, rows[i].want);
        free(url);
    }
    aos_model_endpoint_t bad = {.kind = AOS_PROVIDER_AZURE_OPENAI, .name = "t", .url = "https://r"};
    char *url = NULL, err[200] = "";
    assert_int_equal(aos_model_url(&bad, &url, err, sizeof err), AOS_ERR_INVALID);
    assert_null(url);
    assert_non_null(strstr(err, "deployment"));
}

static void test_invalid_endpoints(void **state)
{
    (void)state;
    char err[128] = "";
    aos_model_http_req_t r = {0};
    aos_model_endpoint_t ep = {.kind = AOS_PROVIDER_OFFLINE};
    assert_int_equal(aos_model_build_request(&ep, MSGS, 2, &r, err, sizeof err), AOS_ERR_INVALID);
    ep.kind = AOS_PROVIDER_OPENAI;
    assert_int_equal(aos_model_build_request(&ep, MSGS, 2, &r, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "no url"));
    ep.url = "ftp://x";
    assert_int_equal(aos_model_build_request(&ep, MSGS, 2, &r, err, sizeof err), AOS_ERR_INVALID);
    ep.kind = AOS_PROVIDER_AZURE_OPENAI;
    ep.url = "https://x";
    assert_int_equal(aos_model_build_request(&ep, MSGS, 2, &r, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "deployment"));
    assert_null(r.url);
}

static aos_result parse(const char *s, aos_model_completion_t *c, char *err, size_t errlen)
{
    return aos_model_parse_response(s, strlen(s), c, err, errlen);
}

static void test_parse_openai(void **state)
{
    (void)state;
    aos_model_completion_t c = {0};
    const char *body =
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi \\u00e9\"},"
        "\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}\n";
    assert_int_equal(parse(body, &c, NULL, 0), AOS_OK);
    assert_string_equal(c.text, "Hi \xc3\xa9");
    assert_string_equal(c.model, "gpt-4o");
    assert_string_equal(c.finish_reason, "stop");
    assert_true(c.usage_reported);
    assert_int_equal(c.usage.prompt_tokens, 12);
    assert_int_equal(c.usage.completion_tokens, 3);
    assert_int_equal(c.usage.total_tokens, 15);
    aos_model_completion_clear(&c);

    /* content as an array of parts, no usage */
    body = "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
           "{\"type\":\"text\",\"text\":\"b\"}]}}]}";
    assert_int_equal(parse(body, &c, NULL, 0), AOS_OK);
    assert_string_equal(c.text, "ab");
    assert_false(c.usage_reported);
    aos_model_completion_clear(&c);
}

static void test_parse_azureml_shapes(void **state)
{
    (void)state;
    aos_model_completion_t c = {0};
    assert_int_equal(parse("{\"output\":\"from aml\"}", &c, NULL, 0), AOS_OK);
    assert_string_equal(c.text, "from aml");
    aos_model_completion_clear(&c);
    assert_int_equal(parse("[\"first\",\"second\"]", &c, NULL, 0), AOS_OK);
    assert_string_equal(c.text, "first");
    aos_model_completion_clear(&c);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "<html>502 Bad Gateway</html>",
        "{\"choices\":[]}",
        "{\"choices\":[{\"message\":{}}]}",
        "{\"choices\":[{\"message\":{\"content\":5}}]}",
        "{\"error\":{\"message\":\"content filtered\",\"code\":\"content_filter\"}}",
        "{\"choices\":[{\"message\":{\"content\":\"x\"}}]} trailing",
        "{\"output\":42}",
        "{\"something\":\"else\"}",
        "42",
        "[1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aos_model_completion_t c = {0};
        char err[200] = "";
        assert_int_equal(parse(bad[i], &c, err, sizeof err), AOS_ERR_PROTOCOL);
        assert_true(err[0] != '\0');
        assert_null(c.text);
    }
    char err[200];
    aos_model_completion_t c = {0};
    parse("{\"error\":{\"message\":\"content filtered\"}}", &c, err, sizeof err);
    assert_non_null(strstr(err, "content filtered"));
}

static void test_error_message_and_tokens(void **state)
{
    (void)state;
    char m[16];
    const char *b = "{\"error\":{\"message\":\"Rate limit reached for requests\"}}";
    aos_model_error_message(b, strlen(b), m, sizeof m);
    assert_string_equal(m, "Rate limit reac");
    aos_model_error_message("nope", 4, m, sizeof m);
    assert_string_equal(m, "");
    assert_int_equal(aos_model_estimate_tokens(""), 0);
    assert_int_equal(aos_model_estimate_tokens("a"), 1);
    assert_int_equal(aos_model_estimate_tokens("abcdefgh"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azure_openai_request),     cmocka_unit_test(test_openai_request),
        cmocka_unit_test(test_azureml_request),          cmocka_unit_test(test_url_rules),
        cmocka_unit_test(test_invalid_endpoints),        cmocka_unit_test(test_parse_openai),
        cmocka_unit_test(test_parse_azureml_shapes),     cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_error_message_and_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
