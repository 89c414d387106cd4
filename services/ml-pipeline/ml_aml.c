/* The azureml backend: an Azure ML command job over the ARM REST API, polled to its end,
 * and model version registration (ml_internal.h, docs/ml.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/http_retry.h"
#include "aos/identity.h"
#include "aos/json.h"
#include "aos/log.h"
#include "ml_aml_parse.h"
#include "ml_internal.h"

#define AML_DEFAULT_API "2024-04-01"

static void ws_url(ml_service_t *svc, char *out, size_t len, const char *tail)
{
    const ml_azureml_config_t *a = &svc->cfg.aml;
    snprintf(out, len,
             "%s/subscriptions/%s/resourceGroups/%s/providers/"
             "Microsoft.MachineLearningServices/workspaces/%s/%s?api-version=%s",
             a->url, a->subscription, a->resource_group, a->workspace, tail,
             a->api_version ? a->api_version : AML_DEFAULT_API);
}

/* One ARM call with retries on 408/429/5xx and transport errors (aos/http_retry.h).
 * AOS_OK for 2xx with *out (may be NULL) = the parsed body (or {} when empty). */
static aos_result aml_call(ml_service_t *svc, const char *what, const char *method, const char *url,
                           const char *body, json_object **out, char *errbuf, size_t errlen)
{
    char auth[16 * 1024 + 8];
    bool has_auth = true;
    if (svc->cfg.aml.token) {
        snprintf(auth, sizeof auth, "Bearer %s", svc->cfg.aml.token);
    } else if (svc->arm_identity) { /* acquired, cached and refreshed (aos/identity.h) */
        memcpy(auth, "Bearer ", 7);
        aos_result tr =
            aos_identity_token(svc->arm_identity, auth + 7, sizeof auth - 7, errbuf, errlen);
        if (tr != AOS_OK)
            return tr;
    } else {
        has_auth = false;
    }
    aos_http_header_t h[] = {{"Authorization", auth}, {"Content-Type", "application/json"}};
    aos_http_client_request_t req = {.method = method,
                                     .url = url,
                                     .headers = h,
                                     .header_count = has_auth ? 2 : 1,
                                     .body = body,
                                     .body_len = body ? strlen(body) : 0,
                                     .timeout_ms = 30000};
    if (!has_auth)
        h[0] = h[1];
    aos_http_retry_t retry = {
        .policy = {.max_server_delay_ms = 30000}, .sleep = ml_sleep_fn, .sleep_ctx = svc};
    aos_http_response_t *resp = NULL;
    uint32_t attempts = 0;
    char terr[256] = "";
    aos_result r =
        aos_http_client_do_retry(svc->http, &req, &retry, &resp, &attempts, terr, sizeof terr);
    int status = r == AOS_OK && resp ? resp->status : 0;
    if (r == AOS_OK && status >= 200 && status < 300) {
        aos_result pr = AOS_OK;
        if (out && resp->body_len > 0)
            pr = aos_json_parse_object(resp->body, resp->body_len, 0, 0, out, errbuf, errlen);
        else if (out)
            *out = json_object_new_object();
        aos_http_response_free(resp);
        return pr == AOS_OK ? AOS_OK
                            : aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen,
                                       "Azure ML %s: unreadable response", what);
    }
    char detail[300] = "";
    if (resp)
        ml_aml_error_detail(resp->body, resp->body_len, detail, sizeof detail);
    aos_result fr = r != AOS_OK ? r : aos_result_from_http_status(status);
    if (r != AOS_OK)
        aos_fail(fr, errbuf, errlen, "Azure ML %s: %s (after %u attempts)", what, terr, attempts);
    else
        aos_fail(fr, errbuf, errlen, "Azure ML %s: HTTP %d%s%s%s", what, status,
                 detail[0] ? " " : "", detail,
                 aos_http_retry_retryable(r, status) ? " (retries exhausted)" : "");
    aos_http_response_free(resp);
    return fr;
}

static json_object *submit_body(ml_service_t *svc, const json_object *data)
{
    const ml_azureml_config_t *a = &svc->cfg.aml;
    json_object *cfg = json_object_new_object(), *p = json_object_new_object();
    static const char *const copy[] = {
        "job_id", "agent", "adapter_name", "base_model", "lora", "hyperparameters", NULL};
    for (size_t i = 0; copy[i]; i++) {
        json_object *v;
        if (json_object_object_get_ex(data, copy[i], &v))
            aos_json_add(cfg, copy[i], json_object_get(v));
    }
    if (!ml_jstr(data, "base_model"))
        aos_json_add_string(cfg, "base_model", svc->base_model);
    char *cfg_text = NULL;
    aos_json_to_string(cfg, &cfg_text, NULL);
    json_object_put(cfg);
    char buf[512];
    aos_json_add_string(p, "jobType", "Command");
    snprintf(buf, sizeof buf, "aos-lora-%s", ml_jstr(data, "adapter_name"));
    aos_json_add_string(p, "displayName", buf);
    snprintf(buf, sizeof buf, "aos-lora-%s", ml_jstr(data, "agent"));
    aos_json_add_string(p, "experimentName", buf);
    aos_json_add_string(p, "command",
                        "python train_lora.py --config-env AOS_JOB_CONFIG --training-data "
                        "${{inputs.training_data}} --output-dir ${{outputs.adapter}}");
    aos_json_add_string(p, "codeId", a->code);
    aos_json_add_string(p, "environmentId", a->environment);
    aos_json_add_string(p, "computeId", a->compute);
    json_object *env = json_object_new_object();
    aos_json_add_string(env, "AOS_JOB_CONFIG", cfg_text);
    free(cfg_text);
    aos_json_add(p, "environmentVariables", env);
    json_object *ref = NULL, *in = json_object_new_object(), *td = json_object_new_object();
    json_object_object_get_ex(data, "data", &ref);
    snprintf(buf, sizeof buf, "%s%s/%s", a->data_uri_prefix ? a->data_uri_prefix : "",
             ml_jstr(ref, "container"), ml_jstr(ref, "name"));
    aos_json_add_string(td, "jobInputType", "uri_file");
    aos_json_add_string(td, "uri", buf);
    aos_json_add(in, "training_data", td);
    aos_json_add(p, "inputs", in);
    json_object *outs = json_object_new_object(), *ad = json_object_new_object();
    aos_json_add_string(ad, "jobOutputType", "custom_model");
    aos_json_add_string(ad, "mode", "Upload");
    aos_json_add(outs, "adapter", ad);
    aos_json_add(p, "outputs", outs);
    json_object *tags = json_object_new_object();
    aos_json_add_string(tags, "aos_job_id", ml_jstr(data, "job_id"));
    aos_json_add_string(tags, "aos_agent", ml_jstr(data, "agent"));
    aos_json_add(p, "tags", tags);
    json_object *body = json_object_new_object();
    aos_json_add(body, "properties", p);
    return body;
}

static aos_result record_aml(ml_job_t *j, const char *name, const char *status, bool *cancel)
{
    json_object *set = json_object_new_object(), *a = json_object_new_object();
    aos_json_add_string(a, "job_name", name);
    aos_json_add_string(a, "status", status ? status : "Unknown");
    aos_json_add(set, "azureml", a);
    ml_job_patch_t p = {.set = set};
    aos_result r = ml_job_touch(j, &p, cancel, NULL, NULL, 0);
    json_object_put(set);
    return r;
}

static ml_outcome poll_until_final(ml_job_t *j, const char *name, const char *url, char *reason,
                                   size_t rlen)
{
    ml_service_t *svc = j->svc;
    bool cancel_sent = false;
    int64_t cancel_deadline = 0;
    for (;;) {
        json_object *job = NULL;
        char err[512] = "";
        if (aml_call(svc, "get job", "GET", url, NULL, &job, err, sizeof err) != AOS_OK) {
            snprintf(reason, rlen, "%s", err);
            return atomic_load(&svc->stopping) ? ML_OUT_LOST : ML_OUT_FAILED;
        }
        char status[64];
        const char *js = ml_aml_job_status(job);
        snprintf(status, sizeof status, "%s", js ? js : "Unknown");
        json_object_put(job);
        ml_aml_state st = ml_aml_state_parse(status);
        bool cancel = false;
        aos_result tr = record_aml(j, name, status, &cancel);
        if (tr == AOS_ERR_CONFLICT || atomic_load(&svc->stopping))
            return ML_OUT_LOST; /* the Azure ML job goes on; the new owner resumes polling */
        if (st == ML_AML_COMPLETED)
            return ML_OUT_SUCCEEDED;
        if (st == ML_AML_FAILED || st == ML_AML_CANCELED) {
            snprintf(reason, rlen, "Azure ML job %s ended %s", name, status);
            /* Canceled after our cancel is a cancellation; otherwise the job failed. */
            return st == ML_AML_CANCELED && cancel_sent ? ML_OUT_CANCELLED : ML_OUT_FAILED;
        }
        if (cancel && !cancel_sent) {
            char curl_[1200], tail[400];
            snprintf(tail, sizeof tail, "jobs/%s/cancel", name);
            ws_url(svc, curl_, sizeof curl_, tail);
            if (aml_call(svc, "cancel job", "POST", curl_, NULL, NULL, err, sizeof err) != AOS_OK)
                aos_log(AOS_LOG_WARN, "Azure ML cancel failed", "job", j->id, "detail", err, NULL);
            cancel_sent = true;
            cancel_deadline = ml_now_ms() + svc->cfg.cancel_grace_ms;
        } else if (cancel_sent && ml_now_ms() > cancel_deadline) {
            snprintf(reason, rlen, "cancelled (Azure ML job %s was asked to cancel)", name);
            return ML_OUT_CANCELLED;
        }
        ml_sleep(svc, svc->cfg.poll_ms);
    }
}

ml_outcome ml_aml_run(ml_job_t *j, const json_object *data, char **out_artifact,
                      json_object **out_metrics, char *reason, size_t rlen)
{
    ml_service_t *svc = j->svc;
    const ml_azureml_config_t *a = &svc->cfg.aml;
    if (!a->url || !a->subscription || !a->resource_group || !a->workspace) {
        snprintf(reason, rlen, "the azureml backend is not configured (AOS_AZUREML_*)");
        return ML_OUT_FAILED;
    }
    json_object *prev = NULL;
    json_object_object_get_ex(data, "azureml", &prev);
    char name[160];
    const char *known = ml_jstr(prev, "job_name");
    if (known) {
        snprintf(name, sizeof name, "%s", known);
    } else {
        size_t n = 0;
        for (const char *p = j->id; *p && n < sizeof name - 1; p++)
            name[n++] = (*p == '.' || *p == ':') ? '-' : *p;
        name[n] = '\0';
    }
    char url[1200], tail[300], err[512] = "";
    snprintf(tail, sizeof tail, "jobs/%s", name);
    ws_url(svc, url, sizeof url, tail);
    if (!known) {
        json_object *body = submit_body(svc, data), *resp = NULL;
        char *text = NULL;
        aos_json_to_string(body, &text, NULL);
        json_object_put(body);
        aos_result r = aml_call(svc, "submit job", "PUT", url, text, &resp, err, sizeof err);
        free(text);
        if (r != AOS_OK) {
            snprintf(reason, rlen, "%s", err);
            return atomic_load(&svc->stopping) ? ML_OUT_LOST : ML_OUT_FAILED;
        }
        aos_result tr = record_aml(j, name, ml_aml_job_status(resp), NULL);
        json_object_put(resp);
        if (tr != AOS_OK)
            return ML_OUT_LOST;
    }
    ml_outcome o = poll_until_final(j, name, url, reason, rlen);
    if (o == ML_OUT_SUCCEEDED) {
        char art[300];
        snprintf(art, sizeof art, "azureml://jobs/%s/outputs/adapter", name);
        *out_artifact = strdup(art);
        *out_metrics = json_object_new_object();
    }
    return o;
}

aos_result ml_aml_register(ml_service_t *svc, const char *name, int64_t version,
                           const char *artifact, const char *job_id, char *errbuf, size_t errlen)
{
    char url[1200], tail[400];
    snprintf(tail, sizeof tail, "models/%s/versions/%lld", name, (long long)version);
    ws_url(svc, url, sizeof url, tail);
    json_object *body = json_object_new_object(), *p = json_object_new_object(),
                *tags = json_object_new_object();
    aos_json_add_string(p, "modelType", "custom_model");
    aos_json_add_string(p, "modelUri", artifact);
    aos_json_add_string(p, "description", "AOS LoRA adapter");
    aos_json_add_string(tags, "aos_job_id", job_id);
    aos_json_add(p, "tags", tags);
    aos_json_add(body, "properties", p);
    char *text = NULL;
    aos_json_to_string(body, &text, NULL);
    json_object_put(body);
    aos_result r = aml_call(svc, "register model", "PUT", url, text, NULL, errbuf, errlen);
    free(text);
    return r;
}
