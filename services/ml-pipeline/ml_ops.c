/* The aos.ml operations (docs/ml.md): one request in, one reply out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "ml_internal.h"

#define ML_DATA_CONTAINER "aos-ml"

static json_object *new_job(ml_service_t *svc, const ml_train_req_t *q, const char *id,
                            const char *adapter, bool pipeline, bool uploaded)
{
    json_object *j = json_object_new_object();
    aos_json_add_string(j, "job_id", id);
    aos_json_add_string(j, "kind", pipeline ? "pipeline" : "train");
    aos_json_add_string(j, "agent", q->agent);
    aos_json_add_string(j, "adapter_name", adapter);
    aos_json_add_string(j, "backend",
                        ml_backend_name(q->has_backend ? q->backend : svc->cfg.default_backend));
    aos_json_add_string(j, "state", "queued");
    aos_json_add_string(j, "base_model", q->base_model ? q->base_model : svc->base_model);
    aos_json_add(j, "lora", json_object_get(q->lora));
    aos_json_add(j, "hyperparameters", json_object_get(q->hparams));
    json_object *d = json_object_new_object();
    aos_json_add_string(d, "container", q->data_container);
    aos_json_add_string(d, "name", q->data_name);
    aos_json_add(j, "data", d);
    aos_json_add_int(j, "timeout_ms", q->timeout_ms ? q->timeout_ms : svc->cfg.job_timeout_ms);
    if (q->canary_share >= 0 || q->canary_min_turns > 0) {
        json_object *c = json_object_new_object();
        if (q->canary_share >= 0)
            aos_json_add_int(c, "share", q->canary_share);
        if (q->canary_min_turns > 0)
            aos_json_add_int(c, "min_turns", q->canary_min_turns);
        aos_json_add(j, "canary", c);
    }
    json_object *steps = json_object_new_array();
    const char *names[] = {"upload_data", "validate_data", "train", "register", "mark_ready"};
    for (size_t i = pipeline ? 0 : 1; i < 5; i++) {
        json_object *s = json_object_new_object();
        aos_json_add_string(s, "name", names[i]);
        aos_json_add_string(s, "state",
                            i == 0 && uploaded ? "succeeded"
                            : i == 0           ? "skipped"
                                               : "pending");
        json_object_array_add(steps, s);
    }
    aos_json_add(j, "steps", steps);
    aos_json_add(j, "progress", json_object_new_object());
    aos_json_add(j, "metrics", json_object_new_object());
    aos_json_add_bool(j, "cancel_requested", false);
    aos_json_add_int(j, "attempt", 0);
    json_object *l = json_object_new_object();
    aos_json_add_string(l, "owner", "");
    aos_json_add_int(l, "expires_ms", 0);
    aos_json_add(j, "lease", l);
    aos_json_add_int(j, "created_ms", ml_now_ms());
    aos_json_add_int(j, "updated_ms", ml_now_ms());
    return j;
}

static aos_result upload_inline(ml_service_t *svc, ml_train_req_t *q, const char *id, char *errbuf,
                                size_t errlen)
{
    char err[400] = "";
    AOS_RETURN_IF_FAILED(
        ml_data_validate(q->data_jsonl, strlen(q->data_jsonl), NULL, err, sizeof err) == AOS_OK
            ? AOS_OK
            : aos_fail(AOS_ERR_INVALID, errbuf, errlen, "invalid training data: %s", err));
    char name[300];
    snprintf(name, sizeof name, "%s/%s.jsonl", q->agent, id);
    aos_storage_blob_info_t info = {0};
    aos_result r = aos_storage_blob_put_buffer_sync(svc->sc, ML_DATA_CONTAINER, name,
                                                    "application/jsonl", q->data_jsonl,
                                                    strlen(q->data_jsonl), &info, errbuf, errlen);
    aos_storage_blob_info_clear(&info);
    if (r != AOS_OK)
        return r;
    q->data_container = strdup(ML_DATA_CONTAINER);
    q->data_name = strdup(name);
    return q->data_container && q->data_name ? AOS_OK : AOS_ERR_NOMEM;
}

static void wake_scanner(ml_service_t *svc)
{
    pthread_mutex_lock(&svc->mu);
    svc->scan_now = true;
    pthread_cond_broadcast(&svc->scan_cv);
    pthread_mutex_unlock(&svc->mu);
}

/* A caller that names a workspace (the seed's run_azure_ml_pipeline) must name the one this
 * pipeline is configured and credentialed for: a job is never sent somewhere else. */
static aos_result check_workspace(const ml_azureml_config_t *aml, const ml_train_req_t *q,
                                  char *errbuf, size_t errlen)
{
    if (!aml->subscription || !aml->resource_group || !aml->workspace)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "no Azure ML workspace is configured (AOS_AZUREML_SUBSCRIPTION, "
                        "AOS_AZUREML_RESOURCE_GROUP, AOS_AZUREML_WORKSPACE)");
    if (strcmp(aml->subscription, q->ws_subscription) != 0 ||
        strcmp(aml->resource_group, q->ws_resource_group) != 0 ||
        strcmp(aml->workspace, q->ws_name) != 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "this pipeline runs in workspace %s/%s/%s, not %.128s/%.128s/%.128s",
                        aml->subscription, aml->resource_group, aml->workspace, q->ws_subscription,
                        q->ws_resource_group, q->ws_name);
    return AOS_OK;
}

static aos_result op_train(ml_service_t *svc, const aos_event_t *req, bool pipeline,
                           json_object **out, char *errbuf, size_t errlen)
{
    ml_train_req_t q;
    AOS_RETURN_IF_FAILED(ml_train_req_parse(req->data ? req->data : "", req->data_len, pipeline, &q,
                                            errbuf, errlen));
    const aos_agent_def_t *def = svc->cfg.agents ? aos_agents_find(svc->cfg.agents, q.agent) : NULL;
    char id[129];
    aos_result r = AOS_OK;
    if (!def)
        r = aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "unknown agent '%s'", q.agent);
    else if (ml_job_id(q.job_id, req->id, id) != AOS_OK)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "cannot derive a job id");
    else if (q.ws_name)
        r = check_workspace(&svc->cfg.aml, &q, errbuf, errlen);
    const char *adapter = q.adapter_name        ? q.adapter_name
                          : def && def->adapter ? def->adapter
                                                : q.agent;
    if (r == AOS_OK && !aos_storage_valid_id(adapter))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "invalid adapter name '%s'", adapter);
    json_object *existing = NULL;
    if (r == AOS_OK && ml_record_get(svc, "job", id, &existing, NULL, NULL, 0) == AOS_OK) {
        *out = existing; /* a redelivered or repeated request: the job already exists */
        ml_train_req_clear(&q);
        return AOS_OK;
    }
    if (r == AOS_OK && q.data_jsonl)
        r = upload_inline(svc, &q, id, errbuf, errlen);
    if (r == AOS_OK) {
        json_object *job = new_job(svc, &q, id, adapter, pipeline, q.data_jsonl != NULL);
        r = ml_record_create(svc, "job", id, job, errbuf, errlen);
        if (r == AOS_ERR_CONFLICT) {
            json_object_put(job);
            job = NULL;
            r = ml_record_get(svc, "job", id, &job, NULL, errbuf, errlen);
        } else if (r == AOS_OK) {
            ml_publish(svc, "job", "queued", job);
            aos_log(AOS_LOG_INFO, "job queued", "job", id, "agent", q.agent, "backend",
                    ml_jstr(job, "backend"), NULL);
        }
        if (r == AOS_OK)
            *out = job;
        else
            json_object_put(job);
    }
    ml_train_req_clear(&q);
    if (r == AOS_OK)
        wake_scanner(svc);
    return r;
}

static aos_result want_string(const json_object *o, const char *k, const char **v, char *errbuf,
                              size_t errlen)
{
    AOS_RETURN_IF_FAILED(aos_json_get_string(o, k, AOS_JSON_REQUIRED, v, errbuf, errlen));
    if (!aos_storage_valid_id(*v))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field '%s' is not a valid id", k);
    return AOS_OK;
}

typedef struct cancel_ctx {
    bool now_cancelled;
} cancel_ctx_t;

static aos_result cancel_fn(json_object *data, void *vctx, char *errbuf, size_t errlen)
{
    cancel_ctx_t *c = vctx;
    const char *state = ml_jstr(data, "state");
    if (ml_state_final(state))
        return aos_fail(AOS_ERR_CANCELLED, errbuf, errlen, "already %s", state);
    aos_json_add_bool(data, "cancel_requested", true);
    json_object *lease = NULL;
    json_object_object_get_ex(data, "lease", &lease);
    const char *owner = ml_jstr(lease, "owner");
    if (strcmp(state ? state : "", "queued") == 0 &&
        (!owner || !owner[0] || ml_jint(lease, "expires_ms", 0) <= ml_now_ms())) {
        aos_json_add_string(data, "state", "cancelled");
        aos_json_add_string(data, "reason", "cancelled before it started");
        c->now_cancelled = true;
    }
    aos_json_add_int(data, "updated_ms", ml_now_ms());
    return AOS_OK;
}

static aos_result op_cancel(ml_service_t *svc, const json_object *q, json_object **out,
                            char *errbuf, size_t errlen)
{
    const char *id = NULL;
    AOS_RETURN_IF_FAILED(want_string(q, "job_id", &id, errbuf, errlen));
    pthread_mutex_lock(&svc->mu);
    for (unsigned i = 0; i < svc->cfg.max_jobs; i++)
        if (svc->jobs[i].used && !atomic_load(&svc->jobs[i].done) &&
            strcmp(svc->jobs[i].id, id) == 0)
            atomic_store(&svc->jobs[i].cancel, true);
    pthread_mutex_unlock(&svc->mu);
    cancel_ctx_t c = {0};
    aos_result r = ml_record_update(svc, "job", id, false, cancel_fn, &c, out, errbuf, errlen);
    if (r == AOS_ERR_CANCELLED) /* already ended: answer with the record as it is */
        return ml_record_get(svc, "job", id, out, NULL, errbuf, errlen);
    if (r == AOS_OK && c.now_cancelled)
        ml_publish(svc, "job", "cancelled", *out);
    return r;
}

static int by_created_desc(const void *a, const void *b)
{
    int64_t x = ml_jint(*(json_object *const *)a, "created_ms", 0);
    int64_t y = ml_jint(*(json_object *const *)b, "created_ms", 0);
    return x < y ? 1 : x > y ? -1 : 0;
}

static aos_result op_list(ml_service_t *svc, const char *kind, const json_object *q,
                          json_object **out, char *errbuf, size_t errlen)
{
    const char *agent = NULL, *state = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(q, "agent", AOS_JSON_OPTIONAL, &agent, errbuf, errlen));
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(q, "state", AOS_JSON_OPTIONAL, &state, errbuf, errlen));
    json_object *all = NULL;
    AOS_RETURN_IF_FAILED(ml_record_list(svc, kind, &all, errbuf, errlen));
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *o = json_object_array_get_idx(all, i);
        const char *a = ml_jstr(o, "agent");
        const char *s = ml_jstr(o, kind[0] == 'j' ? "state" : "status");
        if ((!agent || (a && strcmp(a, agent) == 0)) && (!state || (s && strcmp(s, state) == 0)))
            json_object_array_add(arr, json_object_get(o));
    }
    json_object_put(all);
    json_object_array_sort(arr, by_created_desc);
    *out = json_object_new_object();
    aos_json_add(*out, kind[0] == 'j' ? "jobs" : "adapters", arr);
    return AOS_OK;
}

static aos_result dispatch(ml_service_t *svc, const aos_event_t *req, const char *op,
                           json_object **out, char *errbuf, size_t errlen)
{
    if (strcmp(op, "train_adapter") == 0 || strcmp(op, "run_pipeline") == 0)
        return op_train(svc, req, op[0] == 'r', out, errbuf, errlen);
    json_object *q = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse_object(
        req->data ? req->data : "{}", req->data ? req->data_len : 2, 0, 0, &q, errbuf, errlen));
    const char *key = NULL;
    aos_result r;
    if (strcmp(op, "get_job") == 0) {
        r = want_string(q, "job_id", &key, errbuf, errlen);
        if (r == AOS_OK)
            r = ml_record_get(svc, "job", key, out, NULL, errbuf, errlen);
    } else if (strcmp(op, "get_adapter") == 0) {
        r = want_string(q, "agent", &key, errbuf, errlen);
        if (r == AOS_OK)
            r = ml_record_get(svc, "adapter", key, out, NULL, errbuf, errlen);
    } else if (strcmp(op, "list_jobs") == 0) {
        r = op_list(svc, "job", q, out, errbuf, errlen);
    } else if (strcmp(op, "list_adapters") == 0) {
        r = op_list(svc, "adapter", q, out, errbuf, errlen);
    } else if (strcmp(op, "cancel_job") == 0) {
        r = op_cancel(svc, q, out, errbuf, errlen);
    } else if (strcmp(op, "infer") == 0) {
        r = ml_infer(svc, q, out, errbuf, errlen);
    } else if ((r = ml_adapter_op(svc, op, req, q, out, errbuf, errlen)) == AOS_ERR_UNSUPPORTED) {
        r = aos_fail(AOS_ERR_UNSUPPORTED, errbuf, errlen, "unknown operation '%s'", op);
    }
    if (r == AOS_ERR_NOT_FOUND && key && errbuf && !errbuf[0])
        aos_fail(r, errbuf, errlen, "no such %s '%s'",
                 strcmp(op, "get_job") == 0 ? "job" : "adapter", key);
    json_object_put(q);
    return r;
}

aos_result ml_ops_handle(ml_service_t *svc, const aos_event_t *req, char **out_type,
                         char **out_reply_json, char *errbuf, size_t errlen)
{
    if (!req->type || strncmp(req->type, "aos.ml.", 7) != 0)
        return aos_fail(AOS_ERR_UNSUPPORTED, errbuf, errlen, "unknown operation type");
    /* The router's act actions use these types (docs/ml.md). */
    const char *op = req->type + 7;
    if (strcmp(op, "train") == 0)
        op = "train_adapter";
    else if (strcmp(op, "pipeline.run") == 0)
        op = "run_pipeline";
    json_object *out = NULL;
    aos_result r = dispatch(svc, req, op, &out, errbuf, errlen);
    if (r != AOS_OK)
        return r;
    r = aos_json_to_string(out, out_reply_json, NULL);
    json_object_put(out);
    if (r == AOS_OK && asprintf(out_type, "%s.result", req->type) < 0)
        r = AOS_ERR_NOMEM;
    return r;
}
