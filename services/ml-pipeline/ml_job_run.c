/* The steps of a job: validate data, train, register, mark ready (ml_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "ml_internal.h"

typedef struct adapter_ctx {
    const json_object *job;
    const char *phase; /* "training" | "ready" | "failed" */
    const char *artifact;
    const json_object *metrics;
    const char *reason;
    int64_t version;                        /* out for "training": the version being trained */
    bool marked;                            /* the adapter record names this job as training */
    int64_t canary_share, canary_min_turns; /* for "ready" */
    const char *registered; /* out for "ready": promoted | canary_started | registered */
} adapter_ctx_t;

static void copy_member(json_object *dst, const json_object *src, const char *k)
{
    json_object *v;
    if (json_object_object_get_ex(src, k, &v))
        aos_json_add(dst, k, json_object_get(v));
}

static aos_result adapter_fn(json_object *a, void *vctx, char *errbuf, size_t errlen)
{
    adapter_ctx_t *c = vctx;
    const json_object *job = c->job;
    const char *job_id = ml_jstr(job, "job_id");
    aos_json_add_string(a, "agent", ml_jstr(job, "agent"));
    aos_json_add_string(a, "name", ml_jstr(job, "adapter_name"));
    const char *status = ml_jstr(a, "status");
    if (strcmp(c->phase, "training") == 0) {
        if (!status)
            aos_json_add_string(a, "status", "training");
        aos_json_add_string(a, "training_job", job_id);
        if (!json_object_object_get_ex(a, "version", NULL))
            aos_json_add_int(a, "version", 0);
        c->version = ml_registry_next_version(a);
    } else if (strcmp(c->phase, "ready") == 0) {
        const char *cur = ml_jstr(a, "training_job");
        if (cur && job_id && strcmp(cur, job_id) == 0)
            json_object_object_del(a, "training_job");
        aos_json_add_string(a, "status", "ready");
        aos_json_add_int(a, "version", c->version);
        aos_json_add_string(a, "artifact", c->artifact);
        aos_json_add_string(a, "job_id", job_id);
        aos_json_add_string(a, "backend", ml_jstr(job, "backend"));
        copy_member(a, job, "base_model");
        copy_member(a, job, "lora");
        copy_member(a, job, "hyperparameters");
        aos_json_add(a, "metrics",
                     c->metrics ? json_object_get((json_object *)c->metrics)
                                : json_object_new_object());
        json_object_object_del(a, "last_error");
        AOS_RETURN_IF_FAILED(ml_registry_register(a, c->version, c->artifact, job_id, c->metrics,
                                                  c->canary_share, c->canary_min_turns, ml_now_ms(),
                                                  &c->registered, errbuf, errlen));
    } else {
        const char *cur = ml_jstr(a, "training_job");
        if (cur && job_id && strcmp(cur, job_id) == 0)
            json_object_object_del(a, "training_job");
        if (!status || strcmp(status, "ready") != 0)
            aos_json_add_string(a, "status", "failed");
        aos_json_add_string(a, "last_error", c->reason);
    }
    aos_json_add_int(a, "updated_ms", ml_now_ms());
    return AOS_OK;
}

static aos_result adapter_update(ml_job_t *j, adapter_ctx_t *c)
{
    json_object *out = NULL;
    char err[256] = "";
    aos_result r = ml_record_update(j->svc, "adapter", ml_jstr(c->job, "agent"), true, adapter_fn,
                                    c, &out, err, sizeof err);
    if (r == AOS_OK) {
        ml_publish(j->svc, "adapter", ml_jstr(out, "status"), out);
        /* what the registration did to serving: a new stable version or a canary */
        if (c->registered && strcmp(c->registered, "registered") != 0)
            ml_publish(j->svc, "adapter", c->registered, out);
    } else
        aos_log(AOS_LOG_WARN, "adapter update failed", "job", j->id, "detail", err, NULL);
    json_object_put(out);
    return r;
}

static ml_outcome train(ml_job_t *j, const json_object *data, const char *path, char **artifact,
                        json_object **metrics, char *reason, size_t rlen)
{
    if (ml_job_step(j, "train", "running") != AOS_OK)
        return ML_OUT_LOST;
    ml_backend b = ML_BACKEND_LOCAL;
    ml_backend_parse(ml_jstr(data, "backend"), &b);
    ml_outcome o = b == ML_BACKEND_AZUREML
                       ? ml_aml_run(j, data, artifact, metrics, reason, rlen)
                       : ml_local_run(j, data, path, artifact, metrics, reason, rlen);
    return o;
}

static ml_outcome run_steps(ml_job_t *j, const json_object *data, adapter_ctx_t *ac, char *reason,
                            size_t rlen)
{
    char path[1200] = "";
    if (ml_job_step(j, "validate_data", "running") != AOS_OK)
        return ML_OUT_LOST;
    ml_outcome o = ml_job_fetch_data(j, data, path, sizeof path, reason, rlen);
    if (o != ML_OUT_SUCCEEDED) {
        if (o == ML_OUT_FAILED)
            ml_job_step(j, "validate_data", "failed");
        return o;
    }
    char err[512] = "";
    if (adapter_update(j, ac) != AOS_OK) {
        snprintf(reason, rlen, "cannot record the adapter as training");
        return ML_OUT_FAILED;
    }
    ac->marked = true;
    char *artifact = NULL;
    json_object *metrics = NULL;
    o = train(j, data, path, &artifact, &metrics, reason, rlen);
    if (o != ML_OUT_SUCCEEDED) {
        if (o != ML_OUT_LOST)
            ml_job_step(j, "train", o == ML_OUT_CANCELLED ? "cancelled" : "failed");
        return o;
    }
    ml_job_patch_t p = {.step = "train", .step_state = "succeeded"};
    json_object *set = json_object_new_object();
    aos_json_add_string(set, "artifact", artifact);
    aos_json_add(set, "metrics", metrics ? json_object_get(metrics) : json_object_new_object());
    p.set = set;
    aos_result r = ml_job_touch(j, &p, NULL, NULL, NULL, 0);
    json_object_put(set);
    ml_backend b = ML_BACKEND_LOCAL;
    ml_backend_parse(ml_jstr(data, "backend"), &b);
    if (r == AOS_OK && ml_job_step(j, "register", "running") == AOS_OK && b == ML_BACKEND_AZUREML) {
        r = ml_aml_register(j->svc, ml_jstr(data, "adapter_name"), ac->version, artifact, j->id,
                            err, sizeof err);
        if (r != AOS_OK) {
            snprintf(reason, rlen, "model registration failed: %s", err);
            ml_job_step(j, "register", "failed");
            o = ML_OUT_FAILED;
        }
    }
    if (r == AOS_OK && o == ML_OUT_SUCCEEDED && ml_job_step(j, "register", "succeeded") == AOS_OK &&
        ml_job_step(j, "mark_ready", "running") == AOS_OK) {
        ac->phase = "ready";
        json_object *canary = NULL;
        json_object_object_get_ex(data, "canary", &canary);
        ac->canary_share = ml_jint(canary, "share", j->svc->cfg.canary_share);
        ac->canary_min_turns = ml_jint(canary, "min_turns", 0);
        ac->artifact = artifact;
        ac->metrics = metrics;
        if (adapter_update(j, ac) != AOS_OK) {
            snprintf(reason, rlen, "cannot mark the adapter ready");
            o = ML_OUT_FAILED;
        } else {
            ml_job_step(j, "mark_ready", "succeeded");
        }
    } else if (r != AOS_OK && o == ML_OUT_SUCCEEDED) {
        o = ML_OUT_LOST;
    }
    free(artifact);
    json_object_put(metrics);
    return o;
}

static void finish(ml_job_t *j, ml_outcome o, const char *reason)
{
    ml_job_patch_t p = {0};
    if (o == ML_OUT_LOST) {
        if (atomic_load(&j->svc->stopping)) {
            p.release = true; /* hand it over at once */
            ml_job_touch(j, &p, NULL, NULL, NULL, 0);
        }
        aos_log(AOS_LOG_INFO, "job left to another replica", "job", j->id, NULL);
        return;
    }
    p.state = o == ML_OUT_SUCCEEDED ? "succeeded" : o == ML_OUT_CANCELLED ? "cancelled" : "failed";
    p.reason = o == ML_OUT_SUCCEEDED ? NULL : reason;
    json_object *out = NULL;
    if (ml_job_touch(j, &p, NULL, &out, NULL, 0) == AOS_OK)
        ml_publish(j->svc, "job", p.state, out);
    json_object_put(out);
    aos_log(o == ML_OUT_SUCCEEDED ? AOS_LOG_INFO : AOS_LOG_WARN, "job ended", "job", j->id, "state",
            p.state, "reason", p.reason ? p.reason : "", NULL);
}

void *ml_job_main(void *arg)
{
    ml_job_t *j = arg;
    json_object *data = NULL;
    char reason[1024] = "";
    ml_outcome o = ML_OUT_LOST;
    if (ml_job_touch(j, NULL, NULL, &data, NULL, 0) == AOS_OK) {
        adapter_ctx_t ac = {.job = data, .phase = "training"};
        o = run_steps(j, data, &ac, reason, sizeof reason);
        if ((o == ML_OUT_FAILED || o == ML_OUT_CANCELLED) && ac.marked) {
            ac.phase = "failed";
            ac.reason = o == ML_OUT_CANCELLED ? "training cancelled" : reason;
            adapter_update(j, &ac);
        }
    }
    if (o == ML_OUT_CANCELLED && !reason[0])
        snprintf(reason, sizeof reason, "cancelled");
    finish(j, o, reason);
    json_object_put(data);
    atomic_store(&j->done, true);
    pthread_mutex_lock(&j->svc->mu);
    j->svc->scan_now = true;
    pthread_cond_broadcast(&j->svc->scan_cv);
    pthread_mutex_unlock(&j->svc->mu);
    return NULL;
}
