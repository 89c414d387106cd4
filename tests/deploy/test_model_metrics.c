/* The runner's model-call metrics per endpoint (common/src/model/model_metrics.h), which
 * the dashboard and alert rules of deploy/observability read: calls by outcome, retries,
 * fallbacks and the breaker state, checked in the rendered /metrics text after real calls
 * against the fake OpenAI-compatible server. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/agents.h"
#include "aos/http_client.h"
#include "aos/metrics.h"
#include "fake_model.h"
#include "model_wait.h"

static fake_model_t fake;

static aos_result call(runner_loop_t *loop, runner_model_t *m, const aos_agents_config_t *cfg,
                       const char *agent)
{
    model_wait_t w;
    model_wait_call(loop, m, cfg, agent, "hi", &w);
    aos_result r = w.res.result;
    model_wait_clear(&w);
    return r;
}

/* The value of the series `name{endpoint="<fake>/<path>"...}` (extra: more label text that
 * must follow, e.g. ",outcome=\"ok\""), or -1 when absent. */
static double series(const char *text, const char *name, const char *path, const char *extra)
{
    char key[512];
    snprintf(key, sizeof key, "%s{endpoint=\"%s%s\"%s}", name, fake.base, path, extra);
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

static void test_model_metrics(void **state)
{
    (void)state;
    char json[2048];
    snprintf(json, sizeof json,
             "{\"default_agent\":\"chain\",\"agents\":["
             "{\"name\":\"chain\",\"purpose\":\"p\",\"endpoint\":["
             " {\"provider\":\"openai\",\"url\":\"%s/fake:status=503\",\"max_retries\":1,"
             "  \"api_key_env\":\"FAKE_MODEL_KEY\"},"
             " {\"provider\":\"openai\",\"url\":\"%s\",\"model\":\"backup\","
             "  \"api_key_env\":\"FAKE_MODEL_KEY\"}]},"
             "{\"name\":\"down\",\"purpose\":\"p\",\"endpoint\":{\"provider\":\"openai\","
             " \"url\":\"%s/fake:status=500\",\"max_retries\":0,"
             " \"api_key_env\":\"FAKE_MODEL_KEY\"}}]}",
             fake.base, fake.base, fake.base);
    char err[256];
    aos_agents_config_t *cfg = NULL;
    assert_int_equal(aos_agents_config_parse(json, strlen(json), &cfg, err, sizeof err), AOS_OK);
    runner_loop_t *loop = NULL;
    aos_http_client_t *http = NULL;
    runner_model_t *m = NULL;
    assert_int_equal(runner_loop_new(&loop), AOS_OK);
    assert_int_equal(aos_http_client_new(NULL, &http, err, sizeof err), AOS_OK);
    runner_model_config_t mc = {.breaker_failures = 2,
                                .breaker_open_ms = 60000,
                                .base_backoff_ms = 10,
                                .max_backoff_ms = 1000};
    assert_int_equal(runner_model_new(&mc, loop, http, &m), AOS_OK);
    assert_int_equal(runner_loop_start(loop), AOS_OK);

    /* 503, retried once, 503 again: fall back to the backup, which answers */
    assert_int_equal(call(loop, m, cfg, "chain"), AOS_OK);
    /* two failed calls open "down"'s breaker (threshold 2); the third is not even made */
    for (int i = 0; i < 3; i++)
        assert_int_equal(call(loop, m, cfg, "down"), AOS_ERR_UNAVAILABLE);

    char *text = NULL;
    size_t len = 0;
    assert_int_equal(aos_metrics_render(NULL, &text, &len), AOS_OK);
    const char *calls = "aos_runner_model_calls_total";
    assert_true(series(text, calls, "/fake:status=503", ",outcome=\"error\"") == 2);
    assert_true(series(text, calls, "", ",outcome=\"ok\"") == 1);
    assert_true(series(text, calls, "/fake:status=500", ",outcome=\"error\"") == 2);
    assert_true(series(text, "aos_runner_model_retries_total", "/fake:status=503", "") == 1);
    assert_true(series(text, "aos_runner_model_fallbacks_total", "/fake:status=503", "") == 1);
    /* one per failed call plus one for the call the open breaker refused */
    assert_true(series(text, "aos_runner_model_fallbacks_total", "/fake:status=500", "") == 3);
    assert_true(series(text, "aos_runner_model_breaker_state", "/fake:status=500", "") == 1);
    assert_true(series(text, "aos_runner_model_breaker_state", "", "") == 0);
    free(text);

    aos_http_client_free(http);
    runner_loop_free(loop);
    runner_model_free(m);
    aos_agents_config_free(cfg);
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_model_metrics)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
