/* Resilient model calls along an endpoint chain, async and sync (aos/model_call.h). */
#include "aos/model_call.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "aos/sse.h"
#include "model_metrics.h"

struct aos_model {
    aos_model_config_t cfg;
    aos_model_executor_t exec;
    aos_http_client_t *http;
    aos_model_breakers_t *breakers;
    atomic_uint inflight;
};

typedef struct call {
    aos_model_t *m;
    aos_model_request_t req;
    aos_model_done_fn done;
    void *ctx;
    size_t ep_index;
    uint32_t attempt;  /* attempts on the current endpoint */
    uint64_t deadline; /* monotonic ms (0: none) */
    aos_model_endpoint_t ep;
    aos_model_http_req_t http_req;
    aos_circuit_t *breaker;
    aos_model_result_t res;
    /* filled on the HTTP thread, read after the post */
    aos_model_stream_t *stream;
    aos_result http_result;
    int status;
    char *body;
    size_t body_len;
    char *retry_after_ms; /* the server's retry hints, copied from the headers */
    char *retry_after;
    bool is_sse;
    char http_error[160];
} call_t;

aos_result aos_model_new(const aos_model_config_t *cfg, aos_http_client_t *http,
                         const aos_model_executor_t *exec, aos_model_t **out_model)
{
    if (!out_model)
        return AOS_ERR_INVALID;
    aos_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return AOS_ERR_NOMEM;
    if (cfg)
        m->cfg = *cfg;
    if (exec)
        m->exec = *exec;
    if (!m->exec.post)
        m->exec.timer = NULL; /* a timer needs the caller's thread (see the header) */
    if (!m->cfg.breaker_failures)
        m->cfg.breaker_failures = 5;
    if (!m->cfg.breaker_open_ms)
        m->cfg.breaker_open_ms = 30000;
    if (!m->cfg.base_backoff_ms)
        m->cfg.base_backoff_ms = 200;
    if (!m->cfg.max_backoff_ms)
        m->cfg.max_backoff_ms = 20000;
    m->http = http;
    atomic_init(&m->inflight, 0);
    aos_circuit_config_t cc = {.failure_threshold = m->cfg.breaker_failures,
                               .open_ms = m->cfg.breaker_open_ms};
    if (aos_model_breakers_new(&cc, &m->breakers) != AOS_OK) {
        free(m);
        return AOS_ERR_NOMEM;
    }
    *out_model = m;
    return AOS_OK;
}

void aos_model_free(aos_model_t *m)
{
    if (!m)
        return;
    aos_model_breakers_free(m->breakers);
    free(m);
}

aos_model_breakers_t *aos_model_breakers(aos_model_t *m)
{
    return m ? m->breakers : NULL;
}

uint32_t aos_model_inflight(const aos_model_t *m)
{
    return m ? atomic_load(&((aos_model_t *)m)->inflight) : 0;
}

const char *aos_model_primary_provider(const aos_endpoint_t *endpoints, size_t count)
{
    if (!endpoints || count == 0)
        return aos_provider_name(AOS_PROVIDER_OFFLINE);
    return aos_provider_name(endpoints[0].provider);
}

/* ---- shared by async and sync calls ---- */

static aos_retry_policy_t retry_policy(const aos_model_t *m, const aos_endpoint_t *def)
{
    return (aos_retry_policy_t){.max_attempts = def->max_retries + 1,
                                .base_delay_ms = m->cfg.base_backoff_ms,
                                .max_delay_ms = m->cfg.max_backoff_ms,
                                .max_server_delay_ms = m->cfg.max_backoff_ms};
}

void aos_model_breaker_key(const aos_model_endpoint_t *ep, char *out, size_t outlen)
{
    if (ep->adapter && ep->adapter[0])
        snprintf(out, outlen, "%s#%s", ep->name ? ep->name : "", ep->adapter);
    else
        snprintf(out, outlen, "%s", ep->name ? ep->name : "");
}

/* The endpoint as this call sees it: the config, with the request's per-call overrides. */
static void endpoint_for_call(const aos_model_t *m, const aos_model_request_t *req,
                              const aos_endpoint_t *def, aos_model_endpoint_t *out)
{
    aos_model_endpoint_from_def(def, req->adapter, out);
    if (req->deployment && *req->deployment)
        out->deployment = req->deployment;
    if (!out->max_tokens)
        out->max_tokens = req->max_tokens;
    if (out->temperature < 0 && req->temperature >= 0)
        out->temperature = req->temperature;
    out->stream = m->cfg.stream;
}

static uint64_t deadline_left(uint64_t deadline)
{
    if (!deadline)
        return UINT64_MAX;
    uint64_t now = (uint64_t)aos_clock_monotonic_ms();
    return now < deadline ? deadline - now : 0;
}

static void offline_answer(const aos_model_request_t *req, aos_model_result_t *res)
{
    res->provider = AOS_PROVIDER_OFFLINE;
    res->endpoint = "offline";
    res->result =
        aos_model_offline_complete(req->agent, req->msgs, req->msg_count, req->knowledge_used,
                                   req->knowledge_truncated, &res->completion);
    if (res->result != AOS_OK)
        snprintf(res->error, sizeof res->error, "offline provider: %s",
                 aos_result_str(res->result));
}

static void fill_usage_estimate(const aos_model_request_t *req, aos_model_completion_t *r)
{
    if (r->usage_reported)
        return;
    for (size_t i = 0; i < req->msg_count; i++)
        r->usage.prompt_tokens += aos_model_estimate_tokens(req->msgs[i].content) + 4;
    r->usage.completion_tokens = aos_model_estimate_tokens(r->text);
    r->usage.total_tokens = r->usage.prompt_tokens + r->usage.completion_tokens;
}

/* Headers of an aos_model_http_req_t as the HTTP client takes them, plus traceparent. */
typedef struct hdrs {
    aos_http_header_t h[AOS_MODEL_HTTP_MAX_HEADERS + 1];
    char names[AOS_MODEL_HTTP_MAX_HEADERS][64];
    size_t n;
} hdrs_t;

static void split_headers(const aos_model_http_req_t *r, const char *traceparent, hdrs_t *out)
{
    out->n = 0;
    for (size_t i = 0; i < r->header_count && i < AOS_MODEL_HTTP_MAX_HEADERS; i++) {
        const char *colon = strchr(r->headers[i], ':');
        if (!colon || (size_t)(colon - r->headers[i]) >= sizeof out->names[0])
            continue;
        snprintf(out->names[out->n], sizeof out->names[0], "%.*s", (int)(colon - r->headers[i]),
                 r->headers[i]);
        out->h[out->n] =
            (aos_http_header_t){out->names[out->n], colon[1] == ' ' ? colon + 2 : colon + 1};
        out->n++;
    }
    if (traceparent && *traceparent) /* W3C trace context: the model call joins the trace */
        out->h[out->n++] = (aos_http_header_t){"traceparent", traceparent};
}

/* ---- async ---- */

static void reset_http_state(call_t *c)
{
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    aos_model_stream_free(c->stream);
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
    aos_model_http_req_clear(&c->http_req);
    aos_model_completion_clear(&c->res.completion);
    free(c);
}

static void finish(call_t *c)
{
    atomic_fetch_sub(&c->m->inflight, 1);
    c->done(c->ctx, &c->res);
    call_free(c);
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
    aos_model_metric_breaker(c->ep.name, c->breaker);
    c->breaker = NULL;
}

/* Give up on the current endpoint and move along the chain. */
static void fall_back(call_t *c)
{
    c->res.fallbacks++;
    aos_model_metric_fallback(c->ep.name);
    c->ep_index++;
    c->attempt = 0;
    start_endpoint(c);
}

/* HTTP thread: keep up to limit bytes of body (error bodies, or a JSON answer to a stream
 * request). */
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
        if (c->body_len + len > AOS_MODEL_MAX_RESPONSE_BYTES) {
            c->http_result = AOS_ERR_TOO_LARGE;
            return false;
        }
        keep_body(c, data, len, AOS_MODEL_MAX_RESPONSE_BYTES);
        return true;
    }
    char err[160];
    aos_result rc = aos_model_stream_feed(c->stream, data, len, err, sizeof err);
    if (rc != AOS_OK) {
        snprintf(c->http_error, sizeof c->http_error, "%s", err);
        c->http_result = AOS_ERR_PROTOCOL;
        return false;
    }
    return true;
}

static void on_answer(void *arg, bool cancelled);

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
    aos_model_executor_t *x = &c->m->exec;
    if (!x->post)
        on_answer(c, false);
    else if (x->post(x->ctx, on_answer, c) != AOS_OK)
        on_answer(c, true); /* executor gone: shutting down */
}

static aos_result parse_success(call_t *c)
{
    char err[200] = "";
    aos_result rc;
    if (c->stream && c->is_sse)
        rc = aos_model_stream_finish(c->stream, &c->res.completion, err, sizeof err);
    else
        rc = aos_model_parse_response(c->body, c->body_len, &c->res.completion, err, sizeof err);
    if (rc != AOS_OK)
        snprintf(c->res.error, sizeof c->res.error, "%s: %s", c->ep.name, err);
    return rc;
}

/* The call's deadline passed (or would before another try could finish): fail the call. */
static void deadline_exceeded(call_t *c)
{
    char last[sizeof c->res.error];
    snprintf(last, sizeof last, "%s", c->res.error);
    snprintf(c->res.error, sizeof c->res.error, "deadline of %u ms exceeded%s%s",
             c->req.deadline_ms, last[0] ? "; last error: " : "", last);
    c->res.result = AOS_ERR_TIMEOUT;
    breaker_record(c, 0);
    finish(c);
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

/* Count a 429, keep the retry hint of a 429/503, and tell the observer. */
static void note_answer(const aos_model_t *m, const aos_endpoint_t *def, aos_model_result_t *res,
                        int status, const char *ms, const char *s)
{
    if (status == 429)
        res->rate_limited++;
    uint64_t hint = 0;
    if ((status == 429 || status == 503) &&
        aos_retry_parse_hint(ms, s, aos_clock_realtime_ms(), &hint))
        res->retry_after_ms = hint;
    if (m->cfg.observe)
        m->cfg.observe(m->cfg.observe_ctx, def, status, hint);
}

static void on_answer(void *arg, bool cancelled)
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
        note_answer(c->m, &c->req.endpoints[c->ep_index], &c->res, c->status, c->retry_after_ms,
                    c->retry_after);
        if (rc != AOS_OK) {
            char msg[160];
            aos_model_error_message(c->body, c->body_len, msg, sizeof msg);
            snprintf(c->res.error, sizeof c->res.error, "%s: HTTP %d%s%s", c->ep.name, c->status,
                     msg[0] ? ": " : "", msg);
        } else {
            rc = parse_success(c);
        }
    } else {
        snprintf(c->res.error, sizeof c->res.error, "%s: %s%s%s", c->ep.name, aos_result_str(rc),
                 c->http_error[0] ? ": " : "", c->http_error);
        note_answer(c->m, &c->req.endpoints[c->ep_index], &c->res, 0, NULL, NULL);
    }
    c->res.result = rc;
    aos_model_metric_call(c->ep.name, rc == AOS_OK);
    if (rc == AOS_OK) {
        breaker_record(c, 1);
        fill_usage_estimate(&c->req, &c->res.completion);
        finish(c);
        return;
    }
    aos_log(AOS_LOG_WARN, "model call failed", "agent", c->req.agent ? c->req.agent : "",
            "endpoint", c->ep.name, "error", c->res.error, NULL);
    const aos_endpoint_t *def = &c->req.endpoints[c->ep_index];
    aos_retry_policy_t policy = retry_policy(c->m, def);
    uint64_t delay = 0;
    /* a 200 we cannot read is not retried (the status is the transport's verdict) */
    aos_http_retry_verdict v =
        aos_http_retry_next(&policy, c->attempt, c->http_result, c->status, c->retry_after_ms,
                            c->retry_after, deadline_left(c->deadline), &delay);
    if (v == AOS_HTTP_RETRY_DEADLINE) {
        deadline_exceeded(c);
        return;
    }
    if (v == AOS_HTTP_RETRY_AGAIN && c->m->exec.timer) {
        aos_log(AOS_LOG_DEBUG, "model call retry scheduled", "endpoint", c->ep.name, NULL);
        aos_model_metric_retry(c->ep.name);
        if (c->m->exec.timer(c->m->exec.ctx, (uint32_t)delay, on_retry_timer, c) == AOS_OK)
            return;
    }
    /* a 4xx that is not 408/429 says the endpoint is up but refuses this request */
    bool healthy = v == AOS_HTTP_RETRY_FINAL && c->http_result == AOS_OK && c->status >= 400 &&
                   c->status < 500;
    breaker_record(c, healthy ? 1 : 0);
    fall_back(c);
}

static void attempt(call_t *c)
{
    reset_http_state(c);
    c->attempt++;
    c->res.attempts++;
    if (c->ep.stream && aos_model_stream_new(0, &c->stream) != AOS_OK) {
        c->res.result = AOS_ERR_NOMEM;
        breaker_record(c, -1);
        fall_back(c);
        return;
    }
    const aos_endpoint_t *def = &c->req.endpoints[c->ep_index];
    uint64_t left = deadline_left(c->deadline);
    long timeout_ms = def->timeout_ms ? (long)def->timeout_ms : 30000;
    if (left < AOS_HTTP_RETRY_MIN_ATTEMPT_MS) {
        deadline_exceeded(c);
        return;
    }
    if ((uint64_t)timeout_ms > left)
        timeout_ms = (long)left; /* the whole retry budget fits the call's deadline */
    hdrs_t h;
    split_headers(&c->http_req, c->req.traceparent, &h);
    aos_http_client_request_t r = {
        .method = "POST",
        .url = c->http_req.url,
        .headers = h.h,
        .header_count = h.n,
        .body = c->http_req.body,
        .body_len = c->http_req.body_len,
        .timeout_ms = (uint32_t)timeout_ms,
        .max_response_bytes = AOS_MODEL_MAX_RESPONSE_BYTES,
        .on_data = c->stream ? on_data : NULL,
    };
    aos_result rc = aos_http_client_submit(c->m->http, &r, on_http_done, c, NULL);
    if (rc != AOS_OK) {
        c->res.result = rc;
        snprintf(c->res.error, sizeof c->res.error, "%s: submit failed: %s", c->ep.name,
                 aos_result_str(rc));
        breaker_record(c, -1);
        if (rc == AOS_ERR_CLOSED || rc == AOS_ERR_CANCELLED) {
            finish(c);
            return;
        }
        fall_back(c);
    }
}

static void start_endpoint(call_t *c)
{
    aos_model_http_req_clear(&c->http_req);
    for (; c->ep_index < c->req.endpoint_count; c->ep_index++) {
        const aos_endpoint_t *def = &c->req.endpoints[c->ep_index];
        if (def->provider == AOS_PROVIDER_OFFLINE) {
            c->res.endpoint_index = c->ep_index;
            offline_answer(&c->req, &c->res);
            finish(c);
            return;
        }
        endpoint_for_call(c->m, &c->req, def, &c->ep);
        c->res.provider = def->provider;
        c->res.endpoint = c->ep.name;
        c->res.endpoint_index = c->ep_index;
        char bkey[320];
        aos_model_breaker_key(&c->ep, bkey, sizeof bkey);
        c->breaker = aos_model_breakers_get(c->m->breakers, bkey);
        if (c->breaker && !aos_circuit_allow(c->breaker, aos_clock_monotonic_ms())) {
            snprintf(c->res.error, sizeof c->res.error, "%s: circuit open", c->ep.name);
            c->res.result = AOS_ERR_UNAVAILABLE;
            c->res.fallbacks++;
            aos_model_metric_breaker(c->ep.name, c->breaker);
            aos_model_metric_fallback(c->ep.name);
            c->breaker = NULL;
            continue;
        }
        char err[200] = "";
        aos_result rc = aos_model_build_request(&c->ep, c->req.msgs, c->req.msg_count, &c->http_req,
                                                err, sizeof err);
        if (rc != AOS_OK) {
            breaker_record(c, -1);
            c->res.result = rc;
            snprintf(c->res.error, sizeof c->res.error, "%s", err);
            c->res.fallbacks++;
            aos_model_metric_fallback(c->ep.name);
            continue;
        }
        attempt(c);
        return;
    }
    if (c->res.result == AOS_OK)
        c->res.result = AOS_ERR_UNAVAILABLE;
    finish(c);
}

static bool request_valid(const aos_model_t *m, const aos_model_request_t *req)
{
    return m && req && (req->msg_count == 0 || req->msgs) &&
           (req->endpoint_count == 0 || req->endpoints);
}

aos_result aos_model_call(aos_model_t *m, const aos_model_request_t *req, aos_model_done_fn done,
                          void *ctx)
{
    if (!request_valid(m, req) || !done)
        return AOS_ERR_INVALID;
    call_t *c = calloc(1, sizeof *c);
    if (!c)
        return AOS_ERR_NOMEM;
    c->m = m;
    c->req = *req;
    if (!c->req.deadline_ms)
        c->req.deadline_ms = m->cfg.deadline_ms;
    c->done = done;
    c->ctx = ctx;
    c->res.endpoint_index = req->endpoint_count;
    if (c->req.deadline_ms)
        c->deadline = (uint64_t)aos_clock_monotonic_ms() + c->req.deadline_ms;
    atomic_fetch_add(&m->inflight, 1);
    if (req->endpoint_count == 0) {
        offline_answer(&c->req, &c->res);
        finish(c);
    } else if (!m->http) {
        c->res.result = AOS_ERR_UNAVAILABLE;
        snprintf(c->res.error, sizeof c->res.error, "no HTTP client for model endpoints");
        finish(c);
    } else {
        start_endpoint(c);
    }
    return AOS_OK;
}

/* ---- sync ---- */

/* One endpoint, with retries (aos_http_client_do_retry). AOS_OK with out->completion; or
 * why it failed, *out_fall_back saying whether the next endpoint should be tried. */
static aos_result sync_endpoint(aos_model_t *m, const aos_model_request_t *req,
                                const aos_endpoint_t *def, const aos_model_endpoint_t *ep,
                                int64_t deadline, aos_model_result_t *out)
{
    aos_model_http_req_t hr = {0};
    char err[200] = "";
    aos_result rc = aos_model_build_request(ep, req->msgs, req->msg_count, &hr, err, sizeof err);
    if (rc != AOS_OK) {
        snprintf(out->error, sizeof out->error, "%s", err);
        return rc;
    }
    hdrs_t h;
    split_headers(&hr, req->traceparent, &h);
    aos_http_client_request_t r = {.method = "POST",
                                   .url = hr.url,
                                   .headers = h.h,
                                   .header_count = h.n,
                                   .body = hr.body,
                                   .body_len = hr.body_len,
                                   .timeout_ms = def->timeout_ms ? def->timeout_ms : 30000,
                                   .max_response_bytes = AOS_MODEL_MAX_RESPONSE_BYTES};
    char bkey[320];
    aos_model_breaker_key(ep, bkey, sizeof bkey);
    aos_circuit_t *cb = aos_model_breakers_get(m->breakers, bkey);
    aos_http_retry_t retry = {.policy = retry_policy(m, def),
                              .deadline_ms = deadline,
                              .breaker = cb,
                              .sleep = m->cfg.sleep,
                              .sleep_ctx = m->cfg.sleep_ctx};
    aos_http_response_t *resp = NULL;
    uint32_t attempts = 0;
    char terr[256] = "";
    rc = aos_http_client_do_retry(m->http, &r, &retry, &resp, &attempts, terr, sizeof terr);
    out->attempts += attempts;
    aos_model_metric_breaker(ep->name, cb);
    int status = rc == AOS_OK && resp ? resp->status : 0;
    if (attempts > 0)
        note_answer(m, def, out, status,
                    resp ? aos_http_response_get_header(resp, "retry-after-ms") : NULL,
                    resp ? aos_http_response_get_header(resp, "retry-after") : NULL);
    if (attempts > 1)
        for (uint32_t i = 1; i < attempts; i++)
            aos_model_metric_retry(ep->name);
    if (rc == AOS_OK && status >= 200 && status < 300) {
        rc =
            aos_model_parse_response(resp->body, resp->body_len, &out->completion, err, sizeof err);
        if (rc != AOS_OK)
            snprintf(out->error, sizeof out->error, "%s: %s", ep->name, err);
    } else if (rc == AOS_OK) {
        char msg[160];
        aos_model_error_message(resp->body, resp->body_len, msg, sizeof msg);
        rc = aos_result_from_http_status(status);
        snprintf(out->error, sizeof out->error, "%s: HTTP %d%s%s (after %u attempts)", ep->name,
                 status, msg[0] ? ": " : "", msg, attempts);
    } else {
        snprintf(out->error, sizeof out->error, "%s: %s (after %u attempts)", ep->name, terr,
                 attempts);
    }
    aos_model_metric_call(ep->name, rc == AOS_OK);
    aos_http_response_free(resp);
    aos_model_http_req_clear(&hr);
    return rc;
}

aos_result aos_model_call_sync(aos_model_t *m, const aos_model_request_t *req,
                               aos_model_result_t *out)
{
    if (!out)
        return AOS_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if (!request_valid(m, req)) {
        out->result = AOS_ERR_INVALID;
        snprintf(out->error, sizeof out->error, "invalid model request");
        return out->result;
    }
    out->endpoint_index = req->endpoint_count;
    uint32_t deadline_ms = req->deadline_ms ? req->deadline_ms : m->cfg.deadline_ms;
    int64_t deadline = deadline_ms ? aos_clock_monotonic_ms() + deadline_ms : 0;
    if (req->endpoint_count == 0) {
        offline_answer(req, out);
        return out->result;
    }
    out->result = AOS_ERR_UNAVAILABLE;
    for (size_t i = 0; i < req->endpoint_count; i++) {
        const aos_endpoint_t *def = &req->endpoints[i];
        if (def->provider == AOS_PROVIDER_OFFLINE) {
            out->endpoint_index = i;
            offline_answer(req, out);
            return out->result;
        }
        if (!m->http) {
            snprintf(out->error, sizeof out->error, "no HTTP client for model endpoints");
            return out->result = AOS_ERR_UNAVAILABLE;
        }
        aos_model_endpoint_t ep;
        endpoint_for_call(m, req, def, &ep);
        ep.stream = false;
        out->provider = def->provider;
        out->endpoint = ep.name;
        out->endpoint_index = i;
        out->result = sync_endpoint(m, req, def, &ep, deadline, out);
        if (out->result == AOS_OK) {
            fill_usage_estimate(req, &out->completion);
            return AOS_OK;
        }
        if (out->result == AOS_ERR_TIMEOUT && deadline && aos_clock_monotonic_ms() >= deadline)
            return out->result; /* no time left for the rest of the chain */
        out->fallbacks++;
        aos_model_metric_fallback(ep.name);
    }
    return out->result;
}
