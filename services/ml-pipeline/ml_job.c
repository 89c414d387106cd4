/* A job's life on the replica that holds its lease: claim, steps, finish (ml_internal.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aos/json.h"
#include "aos/log.h"
#include "ml_internal.h"

/* ---- claim ---- */

typedef struct claim_ctx {
    ml_service_t *svc;
    bool cancelled; /* it was cancelled before it ran */
} claim_ctx_t;

static void set_lease(json_object *data, const char *owner, int64_t expires)
{
    json_object *l = json_object_new_object();
    aos_json_add_string(l, "owner", owner);
    aos_json_add_int(l, "expires_ms", expires);
    aos_json_add(data, "lease", l);
}

static aos_result claim_fn(json_object *data, void *vctx, char *errbuf, size_t errlen)
{
    claim_ctx_t *c = vctx;
    if (ml_state_final(ml_jstr(data, "state")))
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "job already ended");
    json_object *lease = NULL;
    json_object_object_get_ex(data, "lease", &lease);
    const char *owner = ml_jstr(lease, "owner");
    int64_t now = ml_now_ms();
    if (owner && owner[0] && ml_jint(lease, "expires_ms", 0) > now)
        return aos_fail(AOS_ERR_REJECTED, errbuf, errlen, "leased by %s", owner);
    json_object *cancel = NULL;
    if (json_object_object_get_ex(data, "cancel_requested", &cancel) &&
        json_object_get_boolean(cancel)) {
        aos_json_add_string(data, "state", "cancelled");
        aos_json_add_string(data, "reason", "cancelled");
        set_lease(data, "", 0);
        c->cancelled = true;
    } else {
        aos_json_add_string(data, "state", "running");
        aos_json_add_int(data, "attempt", ml_jint(data, "attempt", 0) + 1);
        set_lease(data, c->svc->instance, now + c->svc->cfg.lease_ms);
    }
    aos_json_add_int(data, "updated_ms", now);
    return AOS_OK;
}

aos_result ml_job_claim(ml_service_t *svc, const char *job_id, char *errbuf, size_t errlen)
{
    claim_ctx_t c = {.svc = svc};
    json_object *data = NULL;
    aos_result r = ml_record_update(svc, "job", job_id, false, claim_fn, &c, &data, errbuf, errlen);
    if (r == AOS_OK) {
        ml_publish(svc, "job", ml_jstr(data, "state"), data);
        if (c.cancelled)
            r = aos_fail(AOS_ERR_CANCELLED, errbuf, errlen, "job was cancelled before it ran");
    }
    json_object_put(data);
    return r;
}

/* ---- touch ---- */

typedef struct touch_ctx {
    ml_job_t *j;
    const ml_job_patch_t *p;
    bool cancel;
} touch_ctx_t;

static void set_step(json_object *data, const char *name, const char *state)
{
    json_object *steps = NULL;
    if (!json_object_object_get_ex(data, "steps", &steps) ||
        !json_object_is_type(steps, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(steps); i++) {
        json_object *s = json_object_array_get_idx(steps, i);
        const char *n = ml_jstr(s, "name");
        if (n && strcmp(n, name) == 0) {
            aos_json_add_string(s, "state", state);
            aos_json_add_int(s, "updated_ms", ml_now_ms());
        }
    }
}

static aos_result touch_fn(json_object *data, void *vctx, char *errbuf, size_t errlen)
{
    touch_ctx_t *t = vctx;
    ml_service_t *svc = t->j->svc;
    json_object *lease = NULL, *cancel = NULL;
    json_object_object_get_ex(data, "lease", &lease);
    const char *owner = ml_jstr(lease, "owner");
    if (!owner || strcmp(owner, svc->instance) != 0 || ml_state_final(ml_jstr(data, "state")))
        return aos_fail(AOS_ERR_REJECTED, errbuf, errlen, "lease lost");
    t->cancel = json_object_object_get_ex(data, "cancel_requested", &cancel) &&
                json_object_get_boolean(cancel);
    const ml_job_patch_t *p = t->p;
    if (p && p->state)
        aos_json_add_string(data, "state", p->state);
    if (p && p->reason)
        aos_json_add_string(data, "reason", p->reason);
    if (p && p->step && p->step_state)
        set_step(data, p->step, p->step_state);
    if (p && p->set) {
        json_object_object_foreach((json_object *)p->set, k, v)
            aos_json_add(data, k, json_object_get(v));
    }
    bool end = (p && (p->release || ml_state_final(p->state)));
    set_lease(data, end ? "" : svc->instance, end ? 0 : ml_now_ms() + svc->cfg.lease_ms);
    aos_json_add_int(data, "updated_ms", ml_now_ms());
    return AOS_OK;
}

aos_result ml_job_touch(ml_job_t *j, const ml_job_patch_t *patch, bool *out_cancel,
                        json_object **out_data, char *errbuf, size_t errlen)
{
    touch_ctx_t t = {.j = j, .p = patch};
    aos_result r =
        ml_record_update(j->svc, "job", j->id, false, touch_fn, &t, out_data, errbuf, errlen);
    if (out_cancel)
        *out_cancel = t.cancel || atomic_load(&j->cancel);
    return r == AOS_ERR_REJECTED ? AOS_ERR_CONFLICT : r;
}

/* ---- steps ---- */

aos_result ml_job_step(ml_job_t *j, const char *name, const char *state)
{
    ml_job_patch_t p = {.step = name, .step_state = state};
    return ml_job_touch(j, &p, NULL, NULL, NULL, 0);
}

ml_outcome ml_job_fetch_data(ml_job_t *j, const json_object *data, char *path, size_t plen,
                             char *reason, size_t rlen)
{
    ml_service_t *svc = j->svc;
    json_object *ref = NULL;
    json_object_object_get_ex(data, "data", &ref);
    const char *c = ml_jstr(ref, "container"), *n = ml_jstr(ref, "name");
    void *buf = NULL;
    size_t len = 0;
    char err[512] = "";
    aos_storage_blob_info_t info = {0};
    aos_result r = c && n ? aos_storage_blob_get_buffer_sync(svc->sc, c, n, ML_MAX_DATA_BYTES, &buf,
                                                             &len, &info, err, sizeof err)
                          : AOS_ERR_INVALID;
    aos_storage_blob_info_clear(&info);
    if (r != AOS_OK) {
        snprintf(reason, rlen, "training data %s/%s: %s%s%s", c ? c : "?", n ? n : "?",
                 aos_result_code(r), err[0] ? ": " : "", err);
        return ML_OUT_FAILED;
    }
    size_t examples = 0;
    r = ml_data_validate(buf, len, &examples, err, sizeof err);
    if (r != AOS_OK) {
        free(buf);
        snprintf(reason, rlen, "invalid training data %s/%s: %s", c, n, err);
        return ML_OUT_FAILED;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", svc->workdir, j->id);
    mkdir(svc->workdir, 0755);
    mkdir(dir, 0755);
    snprintf(path, plen, "%s/train.jsonl", dir);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(buf, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = false;
    free(buf);
    if (!ok) {
        snprintf(reason, rlen, "cannot write %s: %s", path, strerror(errno));
        return ML_OUT_FAILED;
    }
    json_object *set = json_object_new_object();
    aos_json_add_int(set, "examples", (int64_t)examples);
    ml_job_patch_t p = {.step = "validate_data", .step_state = "succeeded", .set = set};
    r = ml_job_touch(j, &p, NULL, NULL, NULL, 0);
    json_object_put(set);
    return r == AOS_OK ? ML_OUT_SUCCEEDED : ML_OUT_LOST;
}
