/* An agent's model call on the runner loop (model.h). */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/trace.h"
#include "headroom.h"

struct runner_model {
    aos_model_t *model;
    runner_loop_t *loop;
    runner_headroom_t *headroom;
    void (*changed)(void *ctx);
    void *changed_ctx;
    uint32_t waiting; /* calls waiting for headroom (loop thread) */
};

static void headroom_changed(runner_model_t *m)
{
    if (m->changed)
        m->changed(m->changed_ctx);
}

/* Every answer of an endpoint (on the loop: the executor runs the call's steps there). */
static void observe(void *ctx, const aos_endpoint_t *ep, int status, uint64_t retry_after_ms)
{
    runner_model_t *m = ctx;
    runner_headroom_answer(m->headroom, ep, status, retry_after_ms, runner_now_ms());
    if (status == 429 || status == 503 || (status >= 200 && status < 300))
        headroom_changed(m);
}

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
    m->loop = loop;
    aos_model_executor_t x = {.ctx = loop, .post = loop_post, .timer = loop_timer};
    aos_model_config_t mc = {0};
    if (cfg)
        mc = *cfg;
    mc.observe = observe;
    mc.observe_ctx = m;
    aos_result rc = runner_headroom_new(&m->headroom);
    if (rc == AOS_OK)
        rc = aos_model_new(&mc, http, &x, &m->model);
    if (rc != AOS_OK) {
        runner_headroom_free(m->headroom);
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
    runner_headroom_free(m->headroom);
    free(m);
}

uint32_t runner_model_inflight(const runner_model_t *m)
{
    return m ? aos_model_inflight(m->model) + m->waiting : 0;
}

const char *runner_model_primary_provider(const aos_agent_def_t *agent)
{
    return agent ? aos_model_primary_provider(agent->endpoints, agent->endpoint_count)
                 : aos_model_primary_provider(NULL, 0);
}

const char *runner_model_breaker_state(runner_model_t *m, const aos_agent_def_t *agent)
{
    /* worst first: open refuses calls, half_open lets probes through */
    static const int RANK[] = {
        [AOS_CIRCUIT_CLOSED] = 0, [AOS_CIRCUIT_HALF_OPEN] = 1, [AOS_CIRCUIT_OPEN] = 2};
    bool any = false;
    aos_circuit_state worst = AOS_CIRCUIT_CLOSED;
    int64_t now = aos_clock_monotonic_ms();
    for (size_t i = 0; m && agent && i < agent->endpoint_count; i++) {
        const aos_endpoint_t *def = &agent->endpoints[i];
        if (def->provider == AOS_PROVIDER_OFFLINE)
            continue;
        aos_model_endpoint_t ep;
        aos_model_endpoint_from_def(def, agent->adapter, &ep);
        char bkey[320];
        aos_model_breaker_key(&ep, bkey, sizeof bkey);
        aos_circuit_t *b = aos_model_breakers_get(aos_model_breakers(m->model), bkey);
        if (!b)
            continue;
        aos_circuit_state st = aos_circuit_get_state(b, now);
        if (!any || RANK[st] > RANK[worst])
            worst = st;
        any = true;
    }
    return any ? aos_circuit_state_str(worst) : NULL;
}

void runner_model_on_headroom(runner_model_t *m, void (*changed)(void *ctx), void *ctx)
{
    if (!m)
        return;
    m->changed = changed;
    m->changed_ctx = ctx;
}

uint32_t runner_model_agent_credit(runner_model_t *m, const aos_agent_def_t *agent, uint32_t share,
                                   uint64_t *out_wait_ms)
{
    if (out_wait_ms)
        *out_wait_ms = 0;
    const aos_endpoint_t *ep =
        m && agent ? runner_headroom_primary(agent->endpoints, agent->endpoint_count) : NULL;
    if (!ep)
        return share;
    uint64_t wait = runner_headroom_wait_ms(m->headroom, ep, runner_now_ms(), false);
    uint32_t limit = runner_headroom_limit(m->headroom, ep);
    if (out_wait_ms)
        *out_wait_ms = wait;
    if (wait)
        return 0;
    return limit < share ? limit : share;
}

/* One call on its way: the request (and the traceparent) must live until done. */
typedef struct pending {
    runner_model_t *m;
    const aos_agent_def_t *agent;
    const char *adapter; /* per-call adapter (adapter_route.h); NULL: the agent's */
    const runner_prompt_t *prompt;
    const aos_endpoint_t *primary; /* gated on its headroom; NULL: offline */
    runner_model_done_fn done;
    void *ctx;
    bool waiting; /* on a gate timer */
    char traceparent[AOS_TRACEPARENT_LEN + 1];
} pending_t;

static void on_done(void *arg, aos_model_result_t *res)
{
    pending_t *p = arg;
    runner_model_t *m = p->m;
    if (p->primary) {
        uint32_t tokens = res->result == AOS_OK ? res->completion.usage.total_tokens : 0;
        runner_headroom_end(m->headroom, p->primary, tokens, runner_now_ms());
    }
    p->done(p->ctx, res);
    free(p);
    headroom_changed(m);
}

static aos_result start(pending_t *p)
{
    if (p->primary)
        runner_headroom_start(p->m->headroom, p->primary, runner_now_ms());
    aos_model_request_t req = {.endpoints = p->agent->endpoints,
                               .endpoint_count = p->agent->endpoint_count,
                               .msgs = p->prompt->msgs,
                               .msg_count = p->prompt->count,
                               .adapter = p->adapter ? p->adapter : p->agent->adapter,
                               .temperature = -1,
                               .traceparent = p->traceparent,
                               .agent = p->agent->name,
                               .knowledge_used = p->prompt->knowledge_used,
                               .knowledge_truncated = p->prompt->knowledge_truncated};
    aos_result rc = aos_model_call(p->m->model, &req, on_done, p);
    if (rc != AOS_OK && p->primary)
        runner_headroom_end(p->m->headroom, p->primary, 0, runner_now_ms());
    return rc;
}

static void gate(void *arg, bool cancelled);

/* Start now if the endpoint has headroom, else wait for it on a loop timer. */
static aos_result start_or_wait(pending_t *p)
{
    uint64_t wait =
        p->primary ? runner_headroom_wait_ms(p->m->headroom, p->primary, runner_now_ms(), true) : 0;
    if (!wait)
        return start(p);
    aos_result rc = runner_loop_timer(p->m->loop, wait > 60000 ? 60000 : (uint32_t)wait, gate, p);
    if (rc == AOS_OK && !p->waiting) {
        p->waiting = true;
        p->m->waiting++;
    }
    return rc;
}

static void gate(void *arg, bool cancelled)
{
    pending_t *p = arg;
    p->m->waiting--;
    p->waiting = false;
    aos_result rc = cancelled ? AOS_ERR_CANCELLED : start_or_wait(p);
    if (rc != AOS_OK) {
        aos_model_result_t res = {.result = rc, .endpoint_index = p->agent->endpoint_count};
        snprintf(res.error, sizeof res.error, "model call not started: %s", aos_result_str(rc));
        p->done(p->ctx, &res);
        free(p);
    }
}

aos_result runner_model_call(runner_model_t *m, const aos_agent_def_t *agent,
                             const runner_prompt_t *prompt, runner_model_done_fn done, void *ctx)
{
    return runner_model_call_adapter(m, agent, NULL, prompt, done, ctx);
}

aos_result runner_model_call_adapter(runner_model_t *m, const aos_agent_def_t *agent,
                                     const char *adapter, const runner_prompt_t *prompt,
                                     runner_model_done_fn done, void *ctx)
{
    if (!m || !agent || !prompt || !done)
        return AOS_ERR_INVALID;
    pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return AOS_ERR_NOMEM;
    p->m = m;
    p->agent = agent;
    p->adapter = adapter && adapter[0] ? adapter : NULL;
    p->prompt = prompt;
    p->primary = runner_headroom_primary(agent->endpoints, agent->endpoint_count);
    p->done = done;
    p->ctx = ctx;
    if (aos_trace_current())
        aos_trace_child(aos_trace_current(), p->traceparent);
    aos_result rc = start_or_wait(p);
    if (rc != AOS_OK)
        free(p);
    return rc;
}
