/* The three callers of a model — the agent-runner's turn, the router's classifier and the ML
 * pipeline's inference — send the same request to the same URL for the same endpoint config,
 * because they all go through common's model module (aos/model_call.h). Checked against the
 * fake OpenAI-compatible server (tests/fakes/openai), which records the path of the last
 * model request, for a base URL with and without "/v1". */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/agents.h"
#include "aos/http_client.h"
#include "aos/model_call.h"
#include "fake_model.h"
#include "loop.h"
#include "ml_internal.h"
#include "model_wait.h"
#include "model.h"
#include "prompt.h"
#include "router_internal.h"

static fake_model_t fake;

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    bool ok;
} waiter_t;

static void waiter_init(waiter_t *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void waiter_signal(waiter_t *w, bool ok)
{
    pthread_mutex_lock(&w->mu);
    w->ok = ok;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static bool waiter_wait(waiter_t *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    return w->ok;
}

/* The path of the fake's last model request (malloc'd). */
static char *last_path(void)
{
    json_object *o = fake_model_admin(&fake, "GET", "/_last", NULL), *p;
    char *s = o && json_object_object_get_ex(o, "path", &p) ? strdup(json_object_get_string(p))
                                                            : strdup("(none)");
    json_object_put(o);
    return s;
}

static aos_agents_config_t *config_for(const char *base)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"default_agent\":\"cfo\",\"routing\":{\"classifier\":{\"provider\":\"openai\","
             "\"url\":\"%s\",\"max_retries\":0}},\"agents\":[{\"name\":\"cfo\",\"purpose\":"
             "\"You are the CFO.\",\"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\","
             "\"model\":\"m\",\"max_retries\":0}}]}",
             base, base);
    aos_agents_config_t *cfg = NULL;
    char err[256];
    assert_int_equal(aos_agents_config_parse(json, strlen(json), &cfg, err, sizeof err), AOS_OK);
    return cfg;
}

/* ---- the runner ---- */

static char *via_runner(aos_agents_config_t *cfg, aos_http_client_t *http)
{
    runner_loop_t *loop = NULL;
    assert_int_equal(runner_loop_new(&loop), AOS_OK);
    assert_int_equal(runner_loop_start(loop), AOS_OK);
    runner_model_t *model = NULL;
    assert_int_equal(runner_model_new(NULL, loop, http, &model), AOS_OK);
    model_wait_t w;
    model_wait_call(loop, model, cfg, "cfo", "hi", &w);
    assert_true(w.res.result == AOS_OK);
    model_wait_clear(&w);
    runner_loop_free(loop);
    runner_model_free(model);
    return last_path();
}

/* ---- the router's classifier ---- */

static void classified(void *ctx, const char *answer)
{
    waiter_signal(ctx, answer != NULL);
}

static char *via_router(aos_agents_config_t *cfg, aos_http_client_t *http)
{
    aos_model_t *model = NULL;
    assert_int_equal(aos_model_new(NULL, http, NULL, &model), AOS_OK);
    waiter_t w;
    waiter_init(&w);
    router_classify(model, cfg, "which agent?", classified, &w);
    assert_true(waiter_wait(&w));
    aos_model_free(model);
    return last_path();
}

/* ---- the ML pipeline's inference ---- */

static char *via_ml(aos_agents_config_t *cfg, aos_http_client_t *http)
{
    ml_service_t svc;
    memset(&svc, 0, sizeof svc);
    svc.cfg.agents = cfg;
    svc.http = http;
    assert_int_equal(aos_model_new(&(aos_model_config_t){.sleep = ml_sleep_fn, .sleep_ctx = &svc},
                                   http, NULL, &svc.model),
                     AOS_OK);
    json_object *req = json_tokener_parse("{\"agent\":\"cfo\",\"input\":\"hi\",\"adapter\":\"m\"}");
    json_object *out = NULL;
    char err[256] = "";
    aos_result r = ml_infer(&svc, req, &out, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("ml_infer: %s", err);
    json_object_put(out);
    json_object_put(req);
    aos_model_free(svc.model);
    return last_path();
}

static void same_url_for(const char *base)
{
    aos_agents_config_t *cfg = config_for(base);
    aos_http_client_t *http = NULL;
    assert_int_equal(aos_http_client_new(NULL, &http, NULL, 0), AOS_OK);
    char *runner = via_runner(cfg, http);
    char *router = via_router(cfg, http);
    char *ml = via_ml(cfg, http);
    assert_string_equal(runner, "/v1/chat/completions");
    assert_string_equal(router, runner);
    assert_string_equal(ml, runner);
    free(runner);
    free(router);
    free(ml);
    aos_http_client_free(http);
    aos_agents_config_free(cfg);
}

static void test_base_without_version(void **state)
{
    (void)state;
    same_url_for(fake.base);
}

static void test_base_with_v1(void **state)
{
    (void)state;
    char base[128];
    snprintf(base, sizeof base, "%s/v1/", fake.base);
    same_url_for(base);
}

int main(void)
{
    if (fake_model_start(&fake, NULL) != 0) {
        fprintf(stderr, "cannot start the fake model server (node)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_without_version),
        cmocka_unit_test(test_base_with_v1),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fake_model_stop(&fake);
    return rc;
}
