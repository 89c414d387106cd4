/* Asynchronous, resilient model calls along an agent's endpoint chain (see model.h). */
#include "model.h"
#include "model_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "aos/trace.h"
#include "breaker.h"
#include "offline.h"
#include "sse.h"

struct runner_model {
    runner_model_config_t cfg;
    runner_loop_t *loop;
    aos_http_client_t *http;
    runner_breakers_t *breakers;
    uint32_t inflight;
};

typedef struct call {
    runner_model_t *m;
    const aos_agent_def_t *agent;
    const char *adapter; /* per-call adapter / deployment (adapter_route.h); NULL: the agent's */
    const runner_prompt_t *prompt;
    runner_model_done_fn done;
    void *ctx;
    size_t ep_index;
    uint32_t attempt; /* attempts on the current endpoint */
    uint64_t deadline; /* monotonic ms (0: none) */
    runner_endpoint_t ep;
    runner_http_req_t req;
    aos_circuit_t *breaker;
    runner_model_result_t res;
    /* filled on the HTTP thread, read on the loop after the post */
    runner_chat_stream_t *stream;
    aos_result http_result;
    int status;
    char *body;
    size_t body_len;
    char *retry_after_ms; /* the server's retry hints, copied from the headers */
    char *retry_after;
    bool is_sse;
    char http_error[160];
    char traceparent[AOS_TRACEPARENT_LEN + 1]; /* the turn's trace, sent on every attempt */
} call_t;

aos_result runner_model_new(const runner_model_config_t *cfg, runner_loop_t *loop,
                            aos_http_client_t *http, runner_model_t **out_model)
{
    if (!loop || !out_model)
        return AOS_ERR_INVALID;
    runner_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return AOS_ERR_NOMEM;
    if (cfg)
        m->cfg = *cfg;
    if (!m->cfg.breaker_failures)
        m->cfg.breaker_failures = 5;
    if (!m->cfg.breaker_open_ms)
        m->cfg.breaker_open_ms = 30000;
    if (!m->cfg.base_backoff_ms)
        m->cfg.base_backoff_ms = 200;
    if (!m->cfg.max_backoff_ms)
        m->cfg.max_backoff_ms = 20000;
    m->loop = loop;
    m->http = http;
    aos_circuit_config_t cc = {.failure_threshold = m->cfg.breaker_failures,
                               .open_ms = m->cfg.breaker_open_ms};
    if (runner_breakers_new(&cc, &m->breakers) != AOS_OK) {
        free(m);
        return AOS_ERR_NOMEM;
    }
    *out_model = m;
    return AOS_OK;
}

void runner_model_free(runner_model_t *m)
{
    if (!m)
        return;
    runner_breakers_free(m->breakers);
    free(m);
}

uint32_t runner_model_inflight(const runner_model_t *m)
{
    return m ? m->inflight : 0;
}

const char *runner_model_primary_provider(const aos_agent_def_t *agent)
{
    if (!agent || agent->endpoint_count == 0)
        return aos_provider_name(AOS_PROVIDER_OFFLINE);
    return aos_provider_name(agent->endpoints[0].provider);
}

const char *runner_model_breaker_state(runner_model_t *m, const aos_agent_def_t *agent)
{
    /* worst first: open refuses calls, half_open lets probes through */
    static const int RANK[] = {[AOS_CIRCUIT_CLOSED] = 0, [AOS_CIRCUIT_HALF_OPEN] = 1,
                               [AOS_CIRCUIT_OPEN] = 2};
    bool any = false;
    aos_circuit_state worst = AOS_CIRCUIT_CLOSED;
    int64_t now = aos_clock_monotonic_ms();
    for (size_t i = 0; m && agent && i < agent->endpoint_count; i++) {
        const aos_endpoint_t *def = &agent->endpoints[i];
        if (def->provider == AOS_PROVIDER_OFFLINE)
            continue;
        runner_endpoint_t ep;
        runner_endpoint_from_def(def, agent->adapter, &ep);
        aos_circuit_t *b = runner_breakers_get(m->breakers, ep.name);
        if (!b)
            continue;
        aos_circuit_state st = aos_circuit_get_state(b, now);
        if (!any || RANK[st] > RANK[worst])
            worst = st;
        any = true;
    }
    return any ? aos_circuit_state_str(worst) : NULL;
}

static void reset_http_state(call_t *c)
{
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    runner_chat_stream_free(c->stream);
    c->stream = NULL;
    c->status = 0;
    c->http_result = AOS_OK;
    free(c->retry_after_ms);
    free(c->retry_after);
    c->retry_after_ms = c->retry_after = NULL;
    c->is_sse = false;
    c->http_error[0] = '\0';
}

static void call_free(call_t *c)
{
    reset_http_state(c);
    runner_http_req_clear(&c->req);
    runner_completion_clear(&c->res.completion);
    free(c);
}

static void finish(call_t *c)
{
    c->m->inflight--;
    c->done(c->ctx, &c->res);
    call_free(c);
}

static void finish_offline(call_t *c)
{
    c->res.provider = AOS_PROVIDER_OFFLINE;
    c->res.endpoint = "offline";
    c->res.result = runner_offline_complete(c->agent->name, c->prompt, &c->res.completion);
    if (c->res.result != AOS_OK)
        snprintf(c->res.error, sizeof c->res.error, "offline provider: %s",
                 aos_result_str(c->res.result));
    finish(c);
}

static void start_endpoint(call_t *c);

/* outcome: 1 healthy, 0 failed, -1 no verdict (cancelled). A NULL breaker records nothing. */
static void breaker_record(call_t *c, int outcome)
{
    if (!c->breaker)
        return;
    if (outcome > 0)
        aos_circuit_record_success(c->breaker, aos_clock_monotonic_ms());
    else if (outcome == 0)
        aos_circuit_record_failure(c->breaker, aos_clock_monotonic_ms());
    else
        aos_circuit_record_release(c->breaker);
    runner_model_metric_breaker(c->ep.name, c->breaker);
    c->breaker = NULL;
}

/* Give up on the current endpoint and move along the chain. */
static void fall_back(call_t *c)
{
    c->res.fallbacks++;
    runner_model_metric_fallback(c->ep.name);
    c->ep_index++;
    c->attempt = 0;
    start_endpoint(c);
}

/* ---- HTTP thread ---- */

/* Keep up to limit bytes of body (error bodies, or a JSON answer to a stream request). */
static void keep_body(call_t *c, const char *data, size_t len, size_t limit)
{
    size_t room = c->body_len < limit ? limit - c->body_len : 0;
    size_t n = len < room ? len : room;
    if (n == 0)
        return;
    char *p = realloc(c->body, c->body_len + n + 1);
    if (!p)
        return;
    memcpy(p + c->body_len, data, n);
    c->body = p;
    c->body_len += n;
    p[c->body_len] = '\0';
}

static bool on_data(int status, const char *data, size_t len, void *ctx)
{
    call_t *c = ctx;
    if (status < 200 || status >= 300) {
        keep_body(c, data, len, 4096);
        return true;
    }
    if (!c->is_sse && !c->body_len && len > 0) {
        /* a server may ignore "stream": a JSON body is parsed as a whole instead */
        size_t i = 0;
        while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
            i++;
        c->is_sse = i == len || (data[i] != '{' && data[i] != '[');
    }
    if (!c->is_sse) {
        if (c->body_len + len > RUNNER_MAX_RESPONSE_BYTES) {
            c->http_result = AOS_ERR_TOO_LARGE;
            return false;
        }
        keep_body(c, data, len, RUNNER_MAX_RESPONSE_BYTES);
        return true;
    }
    char err[160];
    aos_result rc = runner_chat_stream_feed(c->stream, data, len, err, sizeof err);
    if (rc != AOS_OK) {
        snprintf(c->http_error, sizeof c->http_error, "%s", err);
        c->http_result = AOS_ERR_PROTOCOL;
        return false;
    }
    return true;
}

static void on_http_loop(void *arg, bool cancelled);

static void on_http_done(const aos_http_response_t *resp, void *ctx)
{
    call_t *c = ctx;
    if (c->http_result == AOS_OK)
        c->http_result = resp->result;
    c->status = resp->status;
    if (resp->result != AOS_OK && !c->http_error[0])
        snprintf(c->http_error, sizeof c->http_error, "%s", resp->error ? resp->error : "");
    if (resp->body_len && !c->body) {
        c->body = malloc(resp->body_len + 1);
        if (c->body) {
            memcpy(c->body, resp->body, resp->body_len);
            c->body[resp->body_len] = '\0';
            c->body_len = resp->body_len;
        }
    }
    const char *ms = aos_http_response_header(resp, "retry-after-ms");
    const char *s = aos_http_response_header(resp, "retry-after");
    c->retry_after_ms = ms ? strdup(ms) : NULL;
    c->retry_after = s ? strdup(s) : NULL;
    if (runner_loop_post(c->m->loop, on_http_loop, c) != AOS_OK)
        on_http_loop(c, true); /* loop gone: shutting down */
}

/* ---- loop thread ---- */

static aos_result parse_success(call_t *c)
{
    char err[200] = "";
    aos_result rc;
    if (c->stream && c->is_sse) {
        rc = runner_chat_stream_finish(c->stream, &c->res.completion, err, sizeof err);
    } else {
        rc = runner_chat_parse_response(c->body, c->body_len, &c->res.completion, err, sizeof err);
    }
    if (rc != AOS_OK)
        snprintf(c->res.error, sizeof c->res.error, "%s: %s", c->ep.name, err);
    return rc;
}

static void fill_usage_estimate(call_t *c)
{
    runner_completion_t *r = &c->res.completion;
    if (r->usage_reported)
        return;
    for (size_t i = 0; i < c->prompt->count; i++)
        r->usage.prompt_tokens += runner_estimate_tokens(c->prompt->msgs[i].content) + 4;
    r->usage.completion_tokens = runner_estimate_tokens(r->text);
    r->usage.total_tokens = r->usage.prompt_tokens + r->usage.completion_tokens;
}

static void schedule_retry(call_t *c, const aos_retry_policy_t *policy);

static aos_retry_policy_t retry_policy(const runner_model_t *m, const aos_endpoint_t *def)
{
    return (aos_retry_policy_t){.max_attempts = def->max_retries + 1,
                                .base_delay_ms = m->cfg.base_backoff_ms,
                                .max_delay_ms = m->cfg.max_backoff_ms,
                                .max_server_delay_ms = m->cfg.max_backoff_ms};
}

static void on_http_loop(void *arg, bool cancelled)
{
    call_t *c = arg;
    if (cancelled || c->http_result == AOS_ERR_CANCELLED) {
        breaker_record(c, -1);
        c->res.result = AOS_ERR_CANCELLED;
        snprintf(c->res.error, sizeof c->res.error, "%s: cancelled (shutting down)", c->ep.name);
        finish(c);
        return;
    }
    aos_result rc = c->http_result;
    if (rc == AOS_OK) {
        rc = aos_result_from_http_status(c->status);
        if (rc != AOS_OK) {
            char msg[160];
            runner_chat_error_message(c->body, c->body_len, msg, sizeof msg);
            snprintf(c->res.error, sizeof c->res.error, "%s: HTTP %d%s%s", c->ep.name, c->status,
                     msg[0] ? ": " : "", msg);
        } else {
            rc = parse_success(c);
        }
    } else {
        snprintf(c->res.error, sizeof c->res.error, "%s: %s%s%s", c->ep.name, aos_result_str(rc),
                 c->http_error[0] ? ": " : "", c->http_error);
    }
    c->res.result = rc;
    runner_model_metric_call(c->ep.name, rc == AOS_OK);
    if (rc == AOS_OK) {
        breaker_record(c, 1);
        fill_usage_estimate(c);
        finish(c);
        return;
    }
    const aos_endpoint_t *def = &c->agent->endpoints[c->ep_index];
    /* 408/429/5xx and transport errors are retried; a 200 we cannot read, or another 4xx,
     * goes straight to the next endpoint */
    bool retryable = c->http_result != AOS_OK ? aos_result_is_transient(rc)
                                              : aos_retry_http_status_retryable(c->status);
    aos_log(AOS_LOG_WARN, "model call failed", "agent", c->agent->name, "endpoint", c->ep.name,
            "error", c->res.error, NULL);
    aos_retry_policy_t policy = retry_policy(c->m, def);
    if (retryable && aos_retry_may_retry(&policy, c->attempt)) {
        schedule_retry(c, &policy);
        return;
    }
    /* a 4xx that is not 408/429 says the endpoint is up but refuses this request */
    bool healthy = !retryable && c->http_result == AOS_OK && c->status >= 400 && c->status < 500;
    if (healthy)
        breaker_record(c, 1);
    else
        breaker_record(c, 0);
    fall_back(c);
}

static void attempt(call_t *c);

static void on_retry_timer(void *arg, bool cancelled)
{
    call_t *c = arg;
    if (cancelled) {
        breaker_record(c, -1);
        c->res.result = AOS_ERR_CANCELLED;
        finish(c);
        return;
    }
    attempt(c);
}

/* Time left before the turn's deadline (UINT64_MAX: none). */
static uint64_t time_left(const call_t *c)
{
    if (!c->deadline)
        return UINT64_MAX;
    uint64_t now = (uint64_t)aos_clock_monotonic_ms();
    return now < c->deadline ? c->deadline - now : 0;
}

/* The turn's deadline passed (or would before another try could finish): fail the call. */
static void deadline_exceeded(call_t *c)
{
    char last[sizeof c->res.error];
    snprintf(last, sizeof last, "%s", c->res.error);
    snprintf(c->res.error, sizeof c->res.error, "turn deadline of %u ms exceeded%s%s",
             c->m->cfg.deadline_ms, last[0] ? "; last error: " : "", last);
    c->res.result = AOS_ERR_TIMEOUT;
    breaker_record(c, 0);
    finish(c);
}

static void schedule_retry(call_t *c, const aos_retry_policy_t *policy)
{
    uint64_t delay = aos_retry_next_delay_ms(policy, c->attempt, c->retry_after_ms, c->retry_after,
                                             aos_clock_realtime_ms(), NULL, NULL);
    if (delay + 100 >= time_left(c)) { /* no time for another attempt */
        deadline_exceeded(c);
        return;
    }
    aos_log(AOS_LOG_DEBUG, "model call retry scheduled", "endpoint", c->ep.name, NULL);
    runner_model_metric_retry(c->ep.name);
    if (runner_loop_timer(c->m->loop, (uint32_t)delay, on_retry_timer, c) != AOS_OK) {
        breaker_record(c, 0);
        fall_back(c);
    }
}

static void attempt(call_t *c)
{
    reset_http_state(c);
    c->attempt++;
    c->res.attempts++;
    if (c->ep.stream && runner_chat_stream_new(0, &c->stream) != AOS_OK) {
        c->res.result = AOS_ERR_NOMEM;
        fall_back(c);
        return;
    }
    const aos_endpoint_t *def = &c->agent->endpoints[c->ep_index];
    uint64_t left = time_left(c);
    long timeout_ms = def->timeout_ms ? (long)def->timeout_ms : 30000;
    if (left < 100) {
        deadline_exceeded(c);
        return;
    }
    if ((uint64_t)timeout_ms > left)
        timeout_ms = (long)left; /* the whole retry budget fits the turn's deadline */
    aos_http_header_t hdrs[RUNNER_HTTP_MAX_HEADERS + 1];
    char names[RUNNER_HTTP_MAX_HEADERS][64];
    size_t nh = 0;
    for (size_t i = 0; i < c->req.header_count; i++) {
        const char *colon = strchr(c->req.headers[i], ':');
        size_t n = (size_t)(colon - c->req.headers[i]);
        snprintf(names[i], sizeof names[i], "%.*s", (int)n, c->req.headers[i]);
        hdrs[nh++] = (aos_http_header_t){names[i], colon + 2};
    }
    if (c->traceparent[0]) /* W3C trace context: the model call joins the turn's trace */
        hdrs[nh++] = (aos_http_header_t){"traceparent", c->traceparent};
    aos_http_client_request_t r = {
        .method = "POST",
        .url = c->req.url,
        .headers = hdrs,
        .header_count = nh,
        .body = c->req.body,
        .body_len = c->req.body_len,
        .timeout_ms = (uint32_t)timeout_ms,
        .max_response_bytes = RUNNER_MAX_RESPONSE_BYTES,
        .on_data = c->stream ? on_data : NULL,
    };
    aos_result rc = aos_http_client_submit(c->m->http, &r, on_http_done, c, NULL);
    if (rc != AOS_OK) {
        c->res.result = rc;
        snprintf(c->res.error, sizeof c->res.error, "%s: submit failed: %s", c->ep.name,
                 aos_result_str(rc));
        if (rc == AOS_ERR_CLOSED || rc == AOS_ERR_CANCELLED) {
            breaker_record(c, -1);
            finish(c);
            return;
        }
        fall_back(c);
    }
}

static void start_endpoint(call_t *c)
{
    runner_http_req_clear(&c->req);
    for (; c->ep_index < c->agent->endpoint_count; c->ep_index++) {
        const aos_endpoint_t *def = &c->agent->endpoints[c->ep_index];
        if (def->provider == AOS_PROVIDER_OFFLINE) {
            finish_offline(c);
            return;
        }
        runner_endpoint_from_def(def, c->adapter ? c->adapter : c->agent->adapter, &c->ep);
        c->ep.stream = c->m->cfg.stream;
        c->res.provider = def->provider;
        c->res.endpoint = c->ep.name;
        /* a registry version is its own deployment: its failures open its own breaker, not
         * the one of the stable version behind the same endpoint */
        char bkey[320];
        if (c->adapter)
            snprintf(bkey, sizeof bkey, "%s#%s", c->ep.name, c->adapter);
        c->breaker = runner_breakers_get(c->m->breakers, c->adapter ? bkey : c->ep.name);
        if (c->breaker && !aos_circuit_allow(c->breaker, aos_clock_monotonic_ms())) {
            snprintf(c->res.error, sizeof c->res.error, "%s: circuit open", c->ep.name);
            c->res.result = AOS_ERR_UNAVAILABLE;
            c->res.fallbacks++;
            runner_model_metric_breaker(c->ep.name, c->breaker);
            runner_model_metric_fallback(c->ep.name);
            continue;
        }
        char err[200] = "";
        aos_result rc = runner_provider_build_request(&c->ep, c->prompt->msgs, c->prompt->count,
                                                      &c->req, err, sizeof err);
        if (rc != AOS_OK) {
            c->res.result = rc;
            snprintf(c->res.error, sizeof c->res.error, "%s", err);
            c->res.fallbacks++;
            runner_model_metric_fallback(c->ep.name);
            continue;
        }
        attempt(c);
        return;
    }
    if (c->res.result == AOS_OK)
        c->res.result = AOS_ERR_UNAVAILABLE;
    finish(c);
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
    call_t *c = calloc(1, sizeof *c);
    if (!c)
        return AOS_ERR_NOMEM;
    c->m = m;
    c->agent = agent;
    c->adapter = adapter && adapter[0] ? adapter : NULL;
    c->prompt = prompt;
    c->done = done;
    c->ctx = ctx;
    if (aos_trace_current())
        aos_trace_child(aos_trace_current(), c->traceparent);
    if (m->cfg.deadline_ms)
        c->deadline = (uint64_t)aos_clock_monotonic_ms() + m->cfg.deadline_ms;
    m->inflight++;
    if (agent->endpoint_count == 0) {
        finish_offline(c);
    } else if (!m->http) {
        c->res.result = AOS_ERR_UNAVAILABLE;
        snprintf(c->res.error, sizeof c->res.error, "no HTTP client for model endpoints");
        finish(c);
    } else {
        start_endpoint(c);
    }
    return AOS_OK;
}
