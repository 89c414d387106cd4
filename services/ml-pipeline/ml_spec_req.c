/* Request parsing, trainer progress lines, Azure ML states and job ids (ml_spec.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/agents.h"
#include "aos/json.h"
#include "aos/storage_types.h"
#include "ml_spec.h"

void ml_train_req_clear(ml_train_req_t *r)
{
    if (!r)
        return;
    free(r->agent);
    free(r->adapter_name);
    free(r->base_model);
    json_object_put(r->lora);
    json_object_put(r->hparams);
    free(r->data_container);
    free(r->data_name);
    free(r->data_jsonl);
    free(r->job_id);
    free(r->ws_subscription);
    free(r->ws_resource_group);
    free(r->ws_name);
    memset(r, 0, sizeof *r);
}

static aos_result dup_opt(const json_object *o, const char *k, char **out, char *errbuf,
                          size_t errlen)
{
    const char *s = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_string(o, k, AOS_JSON_OPTIONAL, &s, errbuf, errlen));
    if (s && !(*out = strdup(s)))
        return AOS_ERR_NOMEM;
    return AOS_OK;
}

static aos_result parse_data(const json_object *o, bool pipeline, ml_train_req_t *out, char *errbuf,
                             size_t errlen)
{
    json_object *data = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_object(o, "data", AOS_JSON_OPTIONAL, &data, errbuf, errlen));
    if (!data) /* "dataset" is the act actions' spelling */
        AOS_RETURN_IF_FAILED(
            aos_json_get_object(o, "dataset", AOS_JSON_OPTIONAL, &data, errbuf, errlen));
    AOS_RETURN_IF_FAILED(dup_opt(o, "data_jsonl", &out->data_jsonl, errbuf, errlen));
    if (out->data_jsonl && !pipeline)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "inline 'data_jsonl' is accepted by run_pipeline only; upload the data "
                        "as a blob and pass 'data'");
    if (data && out->data_jsonl)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "give either 'data' or 'data_jsonl'");
    if (!data && !out->data_jsonl)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "field 'data' ({\"container\",\"name\"} of the JSONL blob) is required");
    if (!data)
        return AOS_OK;
    const char *c = NULL, *n = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(data, "container", AOS_JSON_REQUIRED, &c, errbuf, errlen));
    AOS_RETURN_IF_FAILED(aos_json_get_string(data, "name", AOS_JSON_REQUIRED, &n, errbuf, errlen));
    if (!aos_storage_valid_container(c) || !aos_storage_valid_blob_name(n))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "data: invalid container or blob name");
    out->data_container = strdup(c);
    out->data_name = strdup(n);
    return out->data_container && out->data_name ? AOS_OK : AOS_ERR_NOMEM;
}

/* "canary": {"share": 0..100, "min_turns": 1..1000000} (docs/ml.md) */
static aos_result parse_canary(const json_object *o, ml_train_req_t *out, char *errbuf,
                               size_t errlen)
{
    json_object *c = NULL;
    out->canary_share = -1;
    AOS_RETURN_IF_FAILED(aos_json_get_object(o, "canary", AOS_JSON_OPTIONAL, &c, errbuf, errlen));
    if (!c)
        return AOS_OK;
    json_object_object_foreach(c, key, val)
    {
        (void)val;
        if (strcmp(key, "share") != 0 && strcmp(key, "min_turns") != 0)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "unknown field 'canary.%s'", key);
    }
    bool has = false;
    int64_t share = 0, min = 0;
    AOS_RETURN_IF_FAILED(
        aos_json_get_int(c, "share", AOS_JSON_OPTIONAL, &share, &has, errbuf, errlen));
    if (has && (share < 0 || share > 100))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "canary.share must be 0..100 (percent of new conversations), not %lld",
                        (long long)share);
    if (has)
        out->canary_share = share;
    AOS_RETURN_IF_FAILED(
        aos_json_get_int(c, "min_turns", AOS_JSON_OPTIONAL, &min, &has, errbuf, errlen));
    if (has && (min < 1 || min > 1000000))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "canary.min_turns must be 1..1000000");
    out->canary_min_turns = has ? min : 0;
    return AOS_OK;
}

static aos_result parse_fields(const json_object *o, bool pipeline, ml_train_req_t *out,
                               char *errbuf, size_t errlen)
{
    static const char *const keys[] = {"agent",      "adapter_name",    "adapter",   "base_model",
                                       "lora",       "hyperparameters", "data",      "dataset",
                                       "data_jsonl", "backend",         "timeout_s", "job_id",
                                       "action",     "workspace",       "canary",    NULL};
    json_object_object_foreach((json_object *)o, key, val)
    {
        (void)val;
        bool ok = false;
        for (size_t i = 0; keys[i] && !ok; i++)
            ok = strcmp(keys[i], key) == 0;
        if (!ok)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "unknown field '%s'", key);
    }
    AOS_RETURN_IF_FAILED(dup_opt(o, "agent", &out->agent, errbuf, errlen));
    if (!out->agent || !aos_agent_name_valid(out->agent))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'agent' must name an agent");
    AOS_RETURN_IF_FAILED(dup_opt(o, "adapter_name", &out->adapter_name, errbuf, errlen));
    if (!out->adapter_name) /* the router's act injects the agent's adapter as "adapter" */
        AOS_RETURN_IF_FAILED(dup_opt(o, "adapter", &out->adapter_name, errbuf, errlen));
    const char *action = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(o, "action", AOS_JSON_OPTIONAL, &action, errbuf, errlen));
    if (out->adapter_name && !aos_storage_valid_id(out->adapter_name))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "adapter_name must be 1..128 chars of [A-Za-z0-9._:-]");
    AOS_RETURN_IF_FAILED(dup_opt(o, "base_model", &out->base_model, errbuf, errlen));
    if (out->base_model && (out->base_model[0] == '\0' || strlen(out->base_model) > 256))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "base_model must be 1..256 chars");
    json_object *lora = NULL, *hp = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_object(o, "lora", AOS_JSON_OPTIONAL, &lora, errbuf, errlen));
    AOS_RETURN_IF_FAILED(ml_lora_normalize(lora, &out->lora, errbuf, errlen));
    AOS_RETURN_IF_FAILED(
        aos_json_get_object(o, "hyperparameters", AOS_JSON_OPTIONAL, &hp, errbuf, errlen));
    AOS_RETURN_IF_FAILED(ml_hparams_normalize(hp, &out->hparams, errbuf, errlen));
    AOS_RETURN_IF_FAILED(parse_data(o, pipeline, out, errbuf, errlen));
    const char *backend = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(o, "backend", AOS_JSON_OPTIONAL, &backend, errbuf, errlen));
    if (backend) {
        if (ml_backend_parse(backend, &out->backend) != AOS_OK)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "backend must be local or azureml");
        out->has_backend = true;
    }
    int64_t t = 0;
    bool has_t = false;
    AOS_RETURN_IF_FAILED(
        aos_json_get_int(o, "timeout_s", AOS_JSON_OPTIONAL, &t, &has_t, errbuf, errlen));
    if (has_t && (t < 1 || t > 7 * 24 * 3600))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "timeout_s must be 1..604800");
    out->timeout_ms = t * 1000;
    AOS_RETURN_IF_FAILED(dup_opt(o, "job_id", &out->job_id, errbuf, errlen));
    json_object *ws = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_object(o, "workspace", AOS_JSON_OPTIONAL, &ws, errbuf, errlen));
    if (ws) {
        AOS_RETURN_IF_FAILED(dup_opt(ws, "subscription_id", &out->ws_subscription, errbuf, errlen));
        AOS_RETURN_IF_FAILED(
            dup_opt(ws, "resource_group", &out->ws_resource_group, errbuf, errlen));
        AOS_RETURN_IF_FAILED(dup_opt(ws, "workspace_name", &out->ws_name, errbuf, errlen));
        if (!out->ws_subscription || !out->ws_resource_group || !out->ws_name)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "workspace needs subscription_id, resource_group and workspace_name");
    }
    AOS_RETURN_IF_FAILED(parse_canary(o, out, errbuf, errlen));
    char id[129];
    if (out->job_id && ml_job_id(out->job_id, NULL, id) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "job_id must be 1..128 chars of [A-Za-z0-9._:-] starting with a letter "
                        "or digit");
    return AOS_OK;
}

aos_result ml_train_req_parse(const char *json, size_t len, bool pipeline, ml_train_req_t *out,
                              char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_object *o = NULL;
    aos_result r = aos_json_parse_object(json, len, ML_MAX_DATA_BYTES, 0, &o, errbuf, errlen);
    if (r == AOS_OK)
        r = parse_fields(o, pipeline, out, errbuf, errlen);
    json_object_put(o);
    if (r != AOS_OK)
        ml_train_req_clear(out);
    return r;
}

/* ---- progress lines ---- */

void ml_progress_clear(ml_progress_t *p)
{
    if (p)
        json_object_put(p->metrics);
    if (p)
        memset(p, 0, sizeof *p);
}

static void as_log(const char *line, size_t len, ml_progress_t *out)
{
    ml_progress_clear(out);
    out->kind = ML_PROGRESS_LOG;
    size_t n = len < sizeof out->text - 1 ? len : sizeof out->text - 1;
    memcpy(out->text, line, n);
    out->text[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out->text[i] < 0x20)
            out->text[i] = ' ';
}

static bool parse_event(const json_object *o, const char *ev, ml_progress_t *out)
{
    const char *s = NULL;
    bool has = false;
    if (strcmp(ev, "started") == 0) {
        out->kind = ML_PROGRESS_STARTED;
        return aos_json_get_int(o, "total_steps", AOS_JSON_OPTIONAL, &out->total_steps, NULL, NULL,
                                0) == AOS_OK;
    }
    if (strcmp(ev, "progress") == 0) {
        out->kind = ML_PROGRESS_STEP;
        return aos_json_get_int(o, "step", AOS_JSON_REQUIRED, &out->step, NULL, NULL, 0) ==
                   AOS_OK &&
               aos_json_get_int(o, "total_steps", AOS_JSON_OPTIONAL, &out->total_steps, NULL, NULL,
                                0) == AOS_OK &&
               aos_json_get_double(o, "epoch", AOS_JSON_OPTIONAL, &out->epoch, NULL, NULL, 0) ==
                   AOS_OK &&
               aos_json_get_double(o, "loss", AOS_JSON_OPTIONAL, &out->loss, &out->has_loss, NULL,
                                   0) == AOS_OK;
    }
    if (strcmp(ev, "metric") == 0) {
        out->kind = ML_PROGRESS_METRIC;
        if (aos_json_get_string(o, "name", AOS_JSON_REQUIRED, &s, NULL, 0) != AOS_OK ||
            strlen(s) == 0 || strlen(s) >= sizeof out->name)
            return false;
        snprintf(out->name, sizeof out->name, "%s", s);
        return aos_json_get_double(o, "value", AOS_JSON_REQUIRED, &out->value, &has, NULL, 0) ==
               AOS_OK;
    }
    if (strcmp(ev, "done") == 0) {
        out->kind = ML_PROGRESS_DONE;
        json_object *m = NULL;
        if (aos_json_get_string(o, "artifact", AOS_JSON_REQUIRED, &s, NULL, 0) != AOS_OK ||
            strlen(s) == 0 || strlen(s) >= sizeof out->text ||
            aos_json_get_object(o, "metrics", AOS_JSON_OPTIONAL, &m, NULL, 0) != AOS_OK)
            return false;
        snprintf(out->text, sizeof out->text, "%s", s);
        out->metrics = m ? json_object_get(m) : NULL;
        return true;
    }
    if (strcmp(ev, "error") == 0) {
        out->kind = ML_PROGRESS_ERROR;
        if (aos_json_get_string(o, "message", AOS_JSON_REQUIRED, &s, NULL, 0) != AOS_OK)
            return false;
        snprintf(out->text, sizeof out->text, "%s", s);
        return true;
    }
    return false;
}

void ml_progress_parse(const char *line, size_t len, ml_progress_t *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = NULL;
    const char *ev = NULL;
    if (aos_json_parse_object(line, len, 64 * 1024, 0, &o, NULL, 0) != AOS_OK ||
        aos_json_get_string(o, "event", AOS_JSON_REQUIRED, &ev, NULL, 0) != AOS_OK ||
        !parse_event(o, ev, out))
        as_log(line, len, out);
    json_object_put(o);
}

/* ---- Azure ML ---- */

ml_aml_state ml_aml_state_parse(const char *status)
{
    if (!status)
        return ML_AML_PENDING;
    if (strcmp(status, "Running") == 0 || strcmp(status, "Finalizing") == 0)
        return ML_AML_RUNNING;
    if (strcmp(status, "Completed") == 0)
        return ML_AML_COMPLETED;
    if (strcmp(status, "Failed") == 0)
        return ML_AML_FAILED;
    if (strcmp(status, "Canceled") == 0)
        return ML_AML_CANCELED;
    return ML_AML_PENDING;
}

bool ml_aml_state_final(ml_aml_state s)
{
    return s == ML_AML_COMPLETED || s == ML_AML_FAILED || s == ML_AML_CANCELED;
}

aos_result ml_job_id(const char *client_id, const char *event_id, char out[129])
{
    if (client_id) {
        /* It names a directory and an Azure ML job: no leading '.', '-', ':' or '_'. */
        char c0 = client_id[0];
        if (!aos_storage_valid_id(client_id) ||
            !((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || (c0 >= '0' && c0 <= '9')))
            return AOS_ERR_INVALID;
        snprintf(out, 129, "%s", client_id);
        return AOS_OK;
    }
    size_t n = snprintf(out, 129, "job-");
    for (const char *p = event_id ? event_id : ""; *p && n < 128; p++) {
        char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == ':' || c == '-')
            out[n++] = c;
    }
    out[n] = '\0';
    return n > 4 ? AOS_OK : AOS_ERR_INVALID;
}
