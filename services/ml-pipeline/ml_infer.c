/* infer: call an agent's adapter through its model endpoint (docs/ml.md). Request building
 * and response parsing are the agent-runner's providers (provider.h); retries, retry hints
 * and the per-endpoint circuit breakers are aos/resilience.h as in the runner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "breaker.h"
#include "ml_internal.h"
#include "provider.h"

static const aos_endpoint_t *pick_endpoint(const aos_agent_def_t *def)
{
    for (size_t i = 0; i < def->endpoint_count; i++)
        if (def->endpoints[i].provider == AOS_PROVIDER_AZUREML ||
            def->endpoints[i].provider == AOS_PROVIDER_OPENAI)
            return &def->endpoints[i];
    return NULL;
}

/* The adapter: the registry's stable version (its deployment, docs/ml.md "Versions, canary,
 * promotion and rollback") when the request names none or names the registry's adapter, else
 * the request's, else the configured one. *out_served is the
 * model / deployment name sent to the endpoint. */
static char *resolve_adapter(ml_service_t *svc, const aos_agent_def_t *def, const char *asked,
                             int64_t *out_version, char **out_served)
{
    *out_served = NULL;
    json_object *a = NULL;
    char *name = NULL;
    if (ml_record_get(svc, "adapter", def->name, &a, NULL, NULL, 0) == AOS_OK) {
        const char *st = ml_jstr(a, "status"), *n = ml_jstr(a, "name");
        int64_t stable = ml_jint(a, "stable_version", 0);
        /* asking for the registry's adapter by name gets its stable version */
        if (st && strcmp(st, "ready") == 0 && n && (!asked || strcmp(asked, n) == 0)) {
            name = strdup(n);
            *out_version = stable > 0 ? stable : ml_jint(a, "version", 0);
            char dep[160];
            ml_registry_deployment(n, *out_version, dep);
            *out_served = strdup(stable > 0 ? dep : n); /* a record from before versions */
        }
    }
    json_object_put(a);
    if (!name && asked) {
        *out_served = strdup(asked);
        return strdup(asked);
    }
    if (!name && def->adapter) {
        name = strdup(def->adapter);
        *out_served = strdup(def->adapter);
    }
    return name;
}

static aos_result call_once(ml_service_t *svc, const runner_http_req_t *hr, uint32_t timeout_ms,
                            aos_http_response_t **resp, char *errbuf, size_t errlen)
{
    aos_http_header_t h[RUNNER_HTTP_MAX_HEADERS];
    char names[RUNNER_HTTP_MAX_HEADERS][64];
    size_t n = 0;
    for (size_t i = 0; i < hr->header_count && n < RUNNER_HTTP_MAX_HEADERS; i++) {
        const char *colon = strchr(hr->headers[i], ':');
        if (!colon || (size_t)(colon - hr->headers[i]) >= sizeof names[0])
            continue;
        memcpy(names[n], hr->headers[i], (size_t)(colon - hr->headers[i]));
        names[n][colon - hr->headers[i]] = '\0';
        h[n].name = names[n];
        h[n].value = colon[1] == ' ' ? colon + 2 : colon + 1;
        n++;
    }
    aos_http_client_request_t req = {.method = "POST",
                                     .url = hr->url,
                                     .headers = h,
                                     .header_count = n,
                                     .body = hr->body,
                                     .body_len = hr->body_len,
                                     .timeout_ms = timeout_ms,
                                     .max_response_bytes = RUNNER_MAX_RESPONSE_BYTES};
    return aos_http_client_do(svc->http, &req, resp, errbuf, errlen);
}

static aos_result call_endpoint(ml_service_t *svc, const aos_endpoint_t *def,
                                const runner_http_req_t *hr, runner_completion_t *out, char *errbuf,
                                size_t errlen)
{
    aos_retry_policy_t pol;
    aos_retry_policy_default(&pol);
    pol.max_attempts = def->max_retries + 1;
    pol.max_server_delay_ms = 20000;
    pthread_mutex_lock(&svc->infer_mu);
    aos_circuit_t *cb = runner_breakers_get(svc->breakers, def->url);
    pthread_mutex_unlock(&svc->infer_mu);
    for (uint32_t attempt = 1;; attempt++) {
        if (cb && !aos_circuit_allow(cb, aos_clock_monotonic_ms()))
            return aos_fail(AOS_ERR_UNAVAILABLE, errbuf, errlen,
                            "endpoint %s: circuit open after repeated failures", def->url);
        aos_http_response_t *resp = NULL;
        char terr[256] = "";
        aos_result r = call_once(svc, hr, def->timeout_ms, &resp, terr, sizeof terr);
        int status = resp ? resp->status : 0;
        bool retry =
            r != AOS_OK ? aos_result_is_transient(r) : aos_retry_http_status_retryable(status);
        if (cb) {
            if (retry)
                aos_circuit_record_failure(cb, aos_clock_monotonic_ms());
            else
                aos_circuit_record_success(cb, aos_clock_monotonic_ms());
        }
        if (r == AOS_OK && status == 200) {
            r = runner_chat_parse_response(resp->body, resp->body_len, out, errbuf, errlen);
            aos_http_response_free(resp);
            return r;
        }
        if (!retry || !aos_retry_may_retry(&pol, attempt)) {
            char msg[200] = "";
            if (resp)
                runner_chat_error_message(resp->body, resp->body_len, msg, sizeof msg);
            aos_result fr = r != AOS_OK ? r : aos_result_from_http_status(status);
            if (r != AOS_OK)
                aos_fail(fr, errbuf, errlen, "endpoint: %s (after %u attempts)", terr, attempt);
            else
                aos_fail(fr, errbuf, errlen, "endpoint answered HTTP %d%s%s (after %u attempts)",
                         status, msg[0] ? ": " : "", msg, attempt);
            aos_http_response_free(resp);
            return fr;
        }
        uint64_t d = aos_retry_next_delay_ms(
            &pol, attempt, resp ? aos_http_response_get_header(resp, "retry-after-ms") : NULL,
            resp ? aos_http_response_get_header(resp, "retry-after") : NULL, ml_now_ms(), NULL,
            NULL);
        aos_http_response_free(resp);
        ml_sleep(svc, (int64_t)d);
    }
}

static aos_result read_input(const json_object *req, const char **out_text, char *errbuf,
                             size_t errlen)
{
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(req, "input", AOS_JSON_OPTIONAL, out_text, errbuf, errlen));
    if (!*out_text)
        AOS_RETURN_IF_FAILED(
            aos_json_get_string(req, "prompt", AOS_JSON_OPTIONAL, out_text, errbuf, errlen));
    if (!*out_text)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'input' is required");
    if (!(*out_text)[0] || strlen(*out_text) > 256 * 1024)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'input' must be 1..262144 bytes");
    return AOS_OK;
}

aos_result ml_infer(ml_service_t *svc, const json_object *req, json_object **out, char *errbuf,
                    size_t errlen)
{
    const char *agent = NULL, *input = NULL, *asked = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(req, "agent", AOS_JSON_REQUIRED, &agent, errbuf, errlen));
    AOS_RETURN_IF_FAILED(read_input(req, &input, errbuf, errlen));
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(req, "adapter", AOS_JSON_OPTIONAL, &asked, errbuf, errlen));
    const aos_agent_def_t *def = svc->cfg.agents ? aos_agents_find(svc->cfg.agents, agent) : NULL;
    if (!def)
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "unknown agent '%s'", agent);
    const aos_endpoint_t *epd = pick_endpoint(def);
    if (!epd)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "agent '%s' has no azureml or openai endpoint to serve an adapter", agent);
    int64_t version = 0;
    char *served = NULL;
    char *adapter = resolve_adapter(svc, def, asked, &version, &served);
    runner_endpoint_t ep;
    runner_endpoint_from_def(epd, served, &ep);
    runner_chat_msg_t msgs[2] = {{"system", def->purpose}, {"user", input}};
    runner_http_req_t hr = {0};
    runner_completion_t comp = {0};
    aos_result r = runner_provider_build_request(&ep, msgs, 2, &hr, errbuf, errlen);
    if (r == AOS_OK)
        r = call_endpoint(svc, epd, &hr, &comp, errbuf, errlen);
    if (r == AOS_OK) {
        json_object *o = json_object_new_object();
        aos_json_add_string(o, "agent", agent);
        aos_json_add_string(o, "adapter", adapter);
        if (version > 0)
            aos_json_add_int(o, "adapter_version", version);
        if (served)
            aos_json_add_string(o, "deployment", served);
        aos_json_add_string(o, "provider", aos_provider_name(epd->provider));
        aos_json_add_string(o, "model", comp.model);
        aos_json_add_string(o, "output", comp.text);
        json_object *u = json_object_new_object();
        aos_json_add_int(u, "prompt_tokens", comp.usage.prompt_tokens);
        aos_json_add_int(u, "completion_tokens", comp.usage.completion_tokens);
        aos_json_add_int(u, "total_tokens", comp.usage.total_tokens);
        aos_json_add(o, "usage", u);
        *out = o;
    }
    runner_completion_clear(&comp);
    runner_http_req_clear(&hr);
    free(adapter);
    free(served);
    return r;
}
