/* infer: call an agent's adapter through its model endpoint (docs/ml.md). The call is
 * common's model module (aos/model_call.h), as for the runner's turns: the same URL rules,
 * retries with retry hints, deadline, per-endpoint circuit breakers and metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/model_call.h"
#include "ml_internal.h"

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
    if (svc->sc && ml_record_get(svc, "adapter", def->name, &a, NULL, NULL, 0) == AOS_OK) {
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
    aos_model_msg_t msgs[2] = {{"system", def->purpose}, {"user", input}};
    aos_model_request_t mreq = {.endpoints = epd,
                                .endpoint_count = 1,
                                .msgs = msgs,
                                .msg_count = 2,
                                .adapter = served,
                                .temperature = -1,
                                .agent = agent};
    aos_model_result_t res;
    aos_result r = aos_model_call_sync(svc->model, &mreq, &res);
    aos_model_completion_t comp = res.completion;
    if (r != AOS_OK)
        aos_fail(r, errbuf, errlen, "%s", res.error);
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
    aos_model_completion_clear(&comp);
    free(adapter);
    free(served);
    return r;
}
