/* tests/runner/model_wait.h: one model call of the runner's async caller (model.h), made on
 * its loop thread and waited for (header-only, cmocka tests): test_runner_model,
 * test_model_metrics, test_model_callers. */
#ifndef RUNNER_TEST_MODEL_WAIT_H
#define RUNNER_TEST_MODEL_WAIT_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/agents.h"
#include "loop.h"
#include "model.h"
#include "prompt.h"

typedef struct model_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    runner_model_result_t res; /* the completion is moved here: model_wait_clear */
    runner_model_t *model;
    const aos_agent_def_t *agent;
    runner_prompt_t prompt;
} model_wait_t;

/* Loop thread. */
static inline void model_wait_done(void *ctx, runner_model_result_t *res)
{
    model_wait_t *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->res = *res;
    memset(&res->completion, 0, sizeof res->completion); /* moved */
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Loop thread. */
static inline void model_wait_start(void *arg, bool cancelled)
{
    model_wait_t *w = arg;
    assert_false(cancelled);
    assert_int_equal(runner_model_call(w->model, w->agent, &w->prompt, model_wait_done, w), AOS_OK);
}

/* One completion of agent (in cfg) for the user text through model m on loop; returns when
 * it is done, with the result in w->res. Clear w with model_wait_clear. */
static inline void model_wait_call(runner_loop_t *loop, runner_model_t *m,
                                   const aos_agents_config_t *cfg, const char *agent,
                                   const char *text, model_wait_t *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->model = m;
    w->agent = aos_agents_find(cfg, agent);
    assert_non_null(w->agent);
    runner_prompt_input_t in = {.agent = agent, .purpose = w->agent->purpose, .user_text = text};
    assert_int_equal(runner_prompt_build(&in, &w->prompt, NULL, 0), AOS_OK);
    assert_int_equal(runner_loop_post(loop, model_wait_start, w), AOS_OK);
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    runner_prompt_clear(&w->prompt);
}

static inline void model_wait_clear(model_wait_t *w)
{
    aos_model_completion_clear(&w->res.completion);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

#endif
