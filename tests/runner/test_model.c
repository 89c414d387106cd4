/* Provider tests: the async model caller against the fake OpenAI-compatible server over
 * loopback (real JSON and SSE wire formats, retries, retry hints, timeouts, breaker,
 * fallback). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/agents.h"
#include "aos/http_client.h"
#include "aos/resilience.h"
#include "fake_model.h"
#include "model_wait.h"

static fake_model_t fake;

typedef struct env {
    runner_loop_t *loop;
    aos_http_client_t *http;
    runner_model_t *model;
    aos_agents_config_t *cfg;
} env_t;

/* Run one completion for agent with user text; blocks until done. */
static void call(env_t *e, const char *agent, const char *text, model_wait_t *w)
{
    model_wait_call(e->loop, e->model, e->cfg, agent, text, w);
}

static void env_start(env_t *e, bool stream)
{
    memset(e, 0, sizeof *e);
    char json[4096];
    snprintf(
        json, sizeof json,
        "{\"default_agent\":\"oa\",\"agents\":["
        "{\"name\":\"oa\",\"purpose\":\"p\",\"adapter\":\"lora-a\",\"endpoint\":"
        " {\"provider\":\"openai\",\"url\":\"%s\",\"model\":\"base\",\"max_retries\":2,\"api_key_"
        "env\":\"FAKE_MODEL_KEY\"}},"
        "{\"name\":\"az\",\"purpose\":\"p\",\"endpoint\":{\"provider\":\"azure-openai\","
        " \"url\":\"%s\",\"deployment\":\"gpt4o\",\"api_key_env\":\"FAKE_MODEL_KEY\"}},"
        "{\"name\":\"aml\",\"purpose\":\"p\",\"adapter\":\"cfo-lora\",\"endpoint\":"
        " {\"provider\":\"azureml\",\"url\":\"%s/score\",\"api_key_env\":\"FAKE_MODEL_KEY\"}},"
        "{\"name\":\"hang\",\"purpose\":\"p\",\"endpoint\":{\"provider\":\"openai\","
        " \"url\":\"%s/"
        "fake:hang=1\",\"timeout_ms\":300,\"max_retries\":0,\"api_key_env\":\"FAKE_MODEL_KEY\"}},"
        "{\"name\":\"down\",\"purpose\":\"p\",\"endpoint\":{\"provider\":\"openai\","
        " \"url\":\"%s/fake:status=500\",\"max_retries\":0,\"api_key_env\":\"FAKE_MODEL_KEY\"}},"
        "{\"name\":\"chain\",\"purpose\":\"p\",\"endpoint\":["
        " {\"provider\":\"openai\",\"url\":\"%s/"
        "fake:status=503\",\"max_retries\":1,\"api_key_env\":\"FAKE_MODEL_KEY\"},"
        " {\"provider\":\"azure-openai\",\"url\":\"%s\",\"deployment\":\"backup\","
        "  \"api_key_env\":\"FAKE_MODEL_KEY\"}]},"
        "{\"name\":\"off\",\"purpose\":\"p\"}]}",
        fake.base, fake.base, fake.base, fake.base, fake.base, fake.base, fake.base);
    char err[256];
    assert_int_equal(aos_agents_config_parse(json, strlen(json), &e->cfg, err, sizeof err), AOS_OK);
    assert_int_equal(runner_loop_new(&e->loop), AOS_OK);
    assert_int_equal(aos_http_client_new(NULL, &e->http, err, sizeof err), AOS_OK);
    runner_model_config_t mc = {.breaker_failures = 2,
                                .breaker_open_ms = 60000,
                                .base_backoff_ms = 10,
                                .max_backoff_ms = 2000,
                                .stream = stream};
    assert_int_equal(runner_model_new(&mc, e->loop, e->http, &e->model), AOS_OK);
    assert_int_equal(runner_loop_start(e->loop), AOS_OK);
    fake_model_reset(&fake);
}

static void env_stop(env_t *e)
{
    aos_http_client_free(e->http);
    runner_loop_free(e->loop);
    runner_model_free(e->model);
    aos_agents_config_free(e->cfg);
}

static void test_openai_json(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, false);
    model_wait_t w;
    call(&e, "oa", "hello json", &w);
    assert_int_equal(w.res.result, AOS_OK);
    assert_string_equal(w.res.completion.text, "fake reply: hello json");
    assert_string_equal(w.res.completion.model, "lora-a"); /* the adapter is the model name */
    assert_true(w.res.completion.usage_reported);
    assert_true(w.res.completion.usage.total_tokens > 0);
    assert_int_equal(w.res.attempts, 1);
    assert_int_equal(w.res.provider, AOS_PROVIDER_OPENAI);
    model_wait_clear(&w);
    assert_int_equal(fake_model_calls(&fake), 1);
    env_stop(&e);
}

static void test_openai_sse(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, true);
    model_wait_t w;
    call(&e, "oa", "hello stream of words", &w);
    assert_int_equal(w.res.result, AOS_OK);
    assert_string_equal(w.res.completion.text, "fake reply: hello stream of words");
    assert_string_equal(w.res.completion.finish_reason, "stop");
    assert_true(w.res.completion.usage_reported);
    model_wait_clear(&w);
    env_stop(&e);
}

static void test_azure_and_azureml(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, false);
    model_wait_t w;
    call(&e, "az", "to azure", &w); /* the fake requires the key: the header must be right */
    assert_int_equal(w.res.result, AOS_OK);
    assert_string_equal(w.res.completion.text, "fake reply: to azure");
    model_wait_clear(&w);
    call(&e, "aml", "to aml [[fake:shape=output]]", &w);
    assert_int_equal(w.res.result, AOS_OK);
    assert_string_equal(w.res.completion.text, "fake reply: to aml [[fake:shape=output]]");
    assert_false(w.res.completion.usage_reported); /* {"output"} has none: estimated */
    assert_true(w.res.completion.usage.completion_tokens > 0);
    model_wait_clear(&w);
    json_object *last = fake_model_admin(&fake, "GET", "/_last", NULL), *h, *v;
    assert_true(json_object_object_get_ex(last, "headers", &h));
    assert_true(json_object_object_get_ex(h, "azureml-model-deployment", &v));
    assert_string_equal(json_object_get_string(v), "cfo-lora");
    json_object_put(last);
    env_stop(&e);
}

static void test_429_retry_after_honoured(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, false);
    model_wait_t w;
    const char *text = "busy [[fake:status=429,retry_after_ms=300,times=1]]";
    int64_t t0 = aos_clock_monotonic_ms();
    call(&e, "oa", text, &w);
    int64_t waited = aos_clock_monotonic_ms() - t0;
    assert_int_equal(w.res.result, AOS_OK);
    assert_int_equal(w.res.attempts, 2);
    assert_true(waited >= 300); /* the server's retry-after-ms, not the 10 ms backoff */
    model_wait_clear(&w);
    assert_int_equal(fake_model_calls_for(&fake, text), 2);
    /* retry-after in seconds */
    text = "busy again [[fake:status=429,retry_after=1,times=1]]";
    t0 = aos_clock_monotonic_ms();
    call(&e, "oa", text, &w);
    assert_int_equal(w.res.result, AOS_OK);
    assert_true(aos_clock_monotonic_ms() - t0 >= 1000);
    model_wait_clear(&w);
    env_stop(&e);
}

static void test_500_then_success(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, false);
    model_wait_t w;
    call(&e, "oa", "flaky [[fake:status=500,times=2]]", &w);
    assert_int_equal(w.res.result, AOS_OK);
    assert_int_equal(w.res.attempts, 3);
    model_wait_clear(&w);
    /* more failures than retries: the error comes back */
    call(&e, "oa", "broken [[fake:status=500,times=5]]", &w);
    assert_int_equal(w.res.result, AOS_ERR_UNAVAILABLE);
    assert_int_equal(w.res.attempts, 3);
    assert_non_null(strstr(w.res.error, "500"));
    model_wait_clear(&w);
    env_stop(&e);
}

static void test_garbage_and_hang(void **state)
{
    (void)state;
    for (int stream = 0; stream < 2; stream++) {
        env_t e;
        env_start(&e, stream);
        model_wait_t w;
        call(&e, "oa", "junk [[fake:garbage=1]]", &w);
        assert_int_equal(w.res.result, AOS_ERR_PROTOCOL);
        assert_int_equal(w.res.attempts, 1); /* a 200 we cannot read is not retried */
        assert_null(w.res.completion.text);
        model_wait_clear(&w);
        call(&e, "hang", "wait forever", &w);
        assert_int_equal(w.res.result, AOS_ERR_TIMEOUT);
        model_wait_clear(&w);
        env_stop(&e);
    }
}

static void test_breaker_opens(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, false);
    model_wait_t w;
    for (int i = 0; i < 2; i++) { /* threshold 2 */
        call(&e, "down", "x", &w);
        assert_int_equal(w.res.result, AOS_ERR_UNAVAILABLE);
        model_wait_clear(&w);
    }
    assert_int_equal(fake_model_calls(&fake), 2);
    call(&e, "down", "x", &w);
    assert_int_equal(w.res.result, AOS_ERR_UNAVAILABLE);
    assert_non_null(strstr(w.res.error, "circuit open"));
    assert_int_equal(w.res.attempts, 0);
    model_wait_clear(&w);
    assert_int_equal(fake_model_calls(&fake), 2); /* not called while open */
    env_stop(&e);
}

static void test_fallback_chain(void **state)
{
    (void)state;
    env_t e;
    env_start(&e, false);
    model_wait_t w;
    call(&e, "chain", "anyone there?", &w);
    assert_int_equal(w.res.result, AOS_OK);
    assert_int_equal(w.res.provider, AOS_PROVIDER_AZURE_OPENAI);
    assert_int_equal(w.res.fallbacks, 1);
    assert_int_equal(w.res.attempts, 3); /* 2 on the failing endpoint, 1 on the backup */
    assert_string_equal(w.res.completion.text, "fake reply: anyone there?");
    model_wait_clear(&w);
    call(&e, "off", "no endpoint", &w);
    assert_int_equal(w.res.result, AOS_OK);
    assert_int_equal(w.res.provider, AOS_PROVIDER_OFFLINE);
    assert_true(strncmp(w.res.completion.text, "[offline off]", 13) == 0);
    model_wait_clear(&w);
    env_stop(&e);
}

static int setup(void **state)
{
    (void)state;
    setenv("FAKE_MODEL_KEY", "test-key-1", 1);
    return fake_model_start(&fake, "test-key-1");
}

static int teardown(void **state)
{
    (void)state;
    fake_model_stop(&fake);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_json),       cmocka_unit_test(test_openai_sse),
        cmocka_unit_test(test_azure_and_azureml), cmocka_unit_test(test_429_retry_after_honoured),
        cmocka_unit_test(test_500_then_success),  cmocka_unit_test(test_garbage_and_hang),
        cmocka_unit_test(test_breaker_opens),     cmocka_unit_test(test_fallback_chain),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
