/* An agent's model call on the runner loop (model.h). */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "aos/trace.h"

struct runner_model {
    aos_model_t *model;
};

static aos_result loop_post(void *ctx, aos_model_task_fn fn, void *arg)
{
    return runner_loop_post(ctx, fn, arg);
}

static aos_result loop_timer(void *ctx, uint32_t delay_ms, aos_model_task_fn fn, void *arg)
{
    return runner_loop_timer(ctx, delay_ms, fn, arg);
}

aos_result runner_model_new(const runner_model_config_t *cfg, runner_loop_t *loop,
                            aos_http_client_t *http, runner_model_t **out_model)
{
    if (!loop || !out_model)
        return AOS_ERR_INVALID;
    runner_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return AOS_ERR_NOMEM;
    aos_model_executor_t x = {.ctx = loop, .post = loop_post, .timer = loop_timer};
    aos_result rc = aos_model_new(cfg, http, &x, &m->model);
    if (rc != AOS_OK) {
        free(m);
        return rc;
    }
    *out_model = m;
    return AOS_OK;
}

void runner_model_free(runner_model_t *m)
{
    if (!m)
        return;
    aos_model_free(m->model);
    free(m);
}

uint32_t runner_model_inflight(const runner_model_t *m)
{
    return m ? aos_model_inflight(m->model) : 0;
}

const char *runner_model_primary_provider(const aos_agent_def_t *agent)
{
    return agent ? aos_model_primary_provider(agent->endpoints, agent->endpoint_count)
                 : aos_model_primary_provider(NULL, 0);
}

/* The turn's trace travels with the call; the request (and so the traceparent) must live
 * until done, so it rides along with the caller's context. */
typedef struct pending {
    runner_model_done_fn done;
    void *ctx;
    char traceparent[AOS_TRACEPARENT_LEN + 1];
} pending_t;

static void on_done(void *arg, aos_model_result_t *res)
{
    pending_t *p = arg;
    p->done(p->ctx, res);
    free(p);
}

aos_result runner_model_call(runner_model_t *m, const aos_agent_def_t *agent,
                             const runner_prompt_t *prompt, runner_model_done_fn done, void *ctx)
{
    if (!m || !agent || !prompt || !done)
        return AOS_ERR_INVALID;
    pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return AOS_ERR_NOMEM;
    p->done = done;
    p->ctx = ctx;
    if (aos_trace_current())
        aos_trace_child(aos_trace_current(), p->traceparent);
    aos_model_request_t req = {.endpoints = agent->endpoints,
                               .endpoint_count = agent->endpoint_count,
                               .msgs = prompt->msgs,
                               .msg_count = prompt->count,
                               .adapter = agent->adapter,
                               .temperature = -1,
                               .traceparent = p->traceparent,
                               .agent = agent->name,
                               .knowledge_used = prompt->knowledge_used,
                               .knowledge_truncated = prompt->knowledge_truncated};
    aos_result rc = aos_model_call(m->model, &req, on_done, p);
    if (rc != AOS_OK)
        free(p);
    return rc;
}
