/* The claim check through aos-storage without blocking (aos/claim_check.h): the blob transfer
 * as a chain of requests, each step started from the previous step's reply callback on the
 * bus I/O thread. One request of a chain is in flight at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/base64.h"
#include "aos/claim_check.h"
#include "aos/json.h"
#include "aos/log.h"
#include "aos/storage_wire.h"
#include "client_internal.h"

typedef struct claim_job {
    aos_storage_client_t *c;
    aos_event_t *ev; /* owned until handed to cb */
    aos_claim_cb cb;
    void *ctx;
    char name[300];
    size_t chunk;
    /* offload */
    char upload_id[AOS_STORAGE_ID_MAX + 1];
    char sha[65];
    size_t off;
    uint32_t index;
    /* resolve */
    unsigned char *buf;
    size_t len, max;
    uint64_t size;
    char *etag;
    char want_sha[65];
} claim_job_t;

static void job_end(claim_job_t *j, aos_result r, const char *why)
{
    aos_event_t *ev = j->ev;
    j->ev = NULL;
    j->cb(j->ctx, r, ev, r == AOS_OK ? NULL : why);
    free(j->buf);
    free(j->etag);
    free(j);
}

static json_object *target(const char *name)
{
    json_object *o = json_object_new_object();
    if (o && (aos_json_add_string(o, "container", AOS_CLAIM_CONTAINER) != AOS_OK ||
              aos_json_add_string(o, "name", name) != AOS_OK)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Start the next request of the chain; on failure the job ends with it. */
static void next(claim_job_t *j, const char *op, json_object *req, sc_json_cb cb)
{
    aos_result r = req ? sc_call_json(j->c, op, req, cb, j) : AOS_ERR_NOMEM;
    if (r != AOS_OK) {
        char why[160];
        snprintf(why, sizeof why, "storage %s could not be sent: %s", op, aos_result_str(r));
        job_end(j, r, why);
    }
}

static void fail_step(claim_job_t *j, const char *op, aos_result r, const char *msg)
{
    char why[400];
    snprintf(why, sizeof why, "claim check %s (%s/%s): %s", op, AOS_CLAIM_CONTAINER, j->name,
             msg ? msg : aos_result_str(r));
    job_end(j, r, why);
}

/* ---- offload: begin, chunks, commit, then the reference ---- */

static void on_chunk(void *ctx, aos_result r, json_object *reply, const char *msg);
static void on_commit(void *ctx, aos_result r, json_object *reply, const char *msg);

static void on_deleted(void *ctx, aos_result r, json_object *reply, const char *msg)
{
    (void)ctx;
    (void)reply;
    if (r != AOS_OK) /* what is not deleted here goes with the retention (docs/bus.md) */
        aos_log(AOS_LOG_WARN, "a claim could not be deleted", "error",
                msg ? msg : aos_result_str(r), NULL);
}

static void abort_upload(claim_job_t *j)
{
    json_object *req = target(j->name);
    if (req && aos_json_add_string(req, "upload_id", j->upload_id) == AOS_OK)
        (void)sc_call_json(j->c, "blob.put.abort", req, on_deleted, NULL); /* fire and forget */
    else
        json_object_put(req);
}

static void send_chunk(claim_job_t *j)
{
    size_t n = j->ev->data_len - j->off;
    if (n > j->chunk)
        n = j->chunk;
    char *b64 = NULL;
    json_object *req = target(j->name);
    aos_result r = req ? aos_base64_encode(j->ev->data + j->off, n, &b64, NULL) : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_string(req, "upload_id", j->upload_id);
    if (r == AOS_OK)
        r = aos_json_add_int(req, "index", j->index);
    if (r == AOS_OK)
        r = aos_json_add_string(req, "data", b64);
    free(b64);
    if (r != AOS_OK) {
        json_object_put(req);
        fail_step(j, "blob.put.chunk", r, NULL);
        return;
    }
    j->off += n;
    j->index++;
    next(j, "blob.put.chunk", req, on_chunk);
}

static void send_commit(claim_job_t *j)
{
    json_object *req = target(j->name);
    aos_result r = req ? aos_json_add_string(req, "upload_id", j->upload_id) : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_int(req, "chunk_count", j->index);
    if (r == AOS_OK)
        r = aos_json_add_string(req, "sha256", j->sha);
    if (r != AOS_OK) {
        json_object_put(req);
        fail_step(j, "blob.put.commit", r, NULL);
        return;
    }
    next(j, "blob.put.commit", req, on_commit);
}

static void on_begin(void *ctx, aos_result r, json_object *reply, const char *msg)
{
    claim_job_t *j = ctx;
    const char *id = NULL;
    int64_t max = 0;
    if (r == AOS_OK &&
        (aos_json_get_string(reply, "upload_id", AOS_JSON_REQUIRED, &id, NULL, 0) != AOS_OK ||
         aos_json_get_int(reply, "max_chunk", AOS_JSON_REQUIRED, &max, NULL, NULL, 0) != AOS_OK ||
         !aos_storage_valid_id(id) || max <= 0))
        r = AOS_ERR_PROTOCOL;
    if (r != AOS_OK) {
        fail_step(j, "blob.put.begin", r, msg);
        return;
    }
    snprintf(j->upload_id, sizeof j->upload_id, "%s", id);
    if ((size_t)max < j->chunk)
        j->chunk = (size_t)max;
    send_chunk(j);
}

static void on_chunk(void *ctx, aos_result r, json_object *reply, const char *msg)
{
    (void)reply;
    claim_job_t *j = ctx;
    if (r != AOS_OK) {
        abort_upload(j);
        fail_step(j, "blob.put.chunk", r, msg);
    } else if (j->off < j->ev->data_len) {
        send_chunk(j);
    } else {
        send_commit(j);
    }
}

static void on_commit(void *ctx, aos_result r, json_object *reply, const char *msg)
{
    (void)reply;
    claim_job_t *j = ctx;
    if (r != AOS_OK) {
        abort_upload(j);
        fail_step(j, "blob.put.commit", r, msg);
        return;
    }
    r = aos_claim_check_reference(j->ev, j->name);
    job_end(j, r, "claim check: could not write the reference");
}

static claim_job_t *job_new(aos_storage_client_t *c, aos_event_t *ev, aos_claim_cb cb, void *ctx)
{
    claim_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->c = c;
    j->ev = ev;
    j->cb = cb;
    j->ctx = ctx;
    j->chunk = c->chunk_size;
    return j;
}

aos_result aos_storage_claim_offload_async(aos_storage_client_t *c, aos_event_t *ev,
                                           size_t threshold, aos_claim_cb cb, void *ctx)
{
    if (!ev || !cb)
        return AOS_ERR_INVALID;
    if (ev->data_len <= threshold || aos_event_get_ext(ev, AOS_CLAIM_EXT)) {
        cb(ctx, AOS_OK, ev, NULL);
        return AOS_OK;
    }
    if (!c)
        return AOS_ERR_INVALID;
    claim_job_t *j = job_new(c, ev, cb, ctx);
    if (!j)
        return AOS_ERR_NOMEM;
    aos_storage_sha256_t h = {0};
    aos_result r = aos_claim_check_name(ev, j->name, sizeof j->name);
    if (r == AOS_OK)
        r = aos_storage_sha256_init(&h);
    if (r == AOS_OK)
        r = aos_storage_sha256_update(&h, ev->data, ev->data_len);
    if (r == AOS_OK)
        r = aos_storage_sha256_final(&h, j->sha);
    aos_storage_sha256_free(&h);
    json_object *req = r == AOS_OK ? target(j->name) : NULL;
    if (r == AOS_OK &&
        (!req || aos_json_add_string(req, "content_type", "application/octet-stream") != AOS_OK))
        r = AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = sc_call_json(c, "blob.put.begin", req, on_begin, j);
    else
        json_object_put(req);
    if (r != AOS_OK)
        free(j);
    return r;
}

/* ---- resolve: range reads pinned to the first read's etag, then the event restored ---- */

static void read_range(claim_job_t *j);

static aos_result mem_get(void *ctx, const char *name, size_t max_len, void **out, size_t *out_len,
                          char *errbuf, size_t errlen)
{
    (void)name;
    (void)errbuf;
    (void)errlen;
    claim_job_t *j = ctx;
    if (j->len > max_len)
        return AOS_ERR_TOO_LARGE;
    *out = malloc(j->len ? j->len : 1);
    if (!*out)
        return AOS_ERR_NOMEM;
    memcpy(*out, j->buf, j->len);
    *out_len = j->len;
    return AOS_OK;
}

static void resolve_done(claim_job_t *j)
{
    char sha[65] = "";
    aos_storage_sha256_t h = {0};
    aos_result r = aos_storage_sha256_init(&h);
    if (r == AOS_OK)
        r = aos_storage_sha256_update(&h, j->buf, j->len);
    if (r == AOS_OK)
        r = aos_storage_sha256_final(&h, sha);
    aos_storage_sha256_free(&h);
    if (r == AOS_OK && (j->len != j->size || (j->want_sha[0] && strcmp(sha, j->want_sha) != 0))) {
        fail_step(j, "blob.get", AOS_ERR_PROTOCOL, "content fails its size or checksum");
        return;
    }
    aos_claim_store_t store = {.get = mem_get, .ctx = j};
    char err[200] = "";
    if (r == AOS_OK)
        r = aos_claim_check_resolve(&store, j->ev, j->max, err, sizeof err);
    job_end(j, r, err[0] ? err : "claim check: could not restore the event");
}

static void on_range(void *ctx, aos_result r, json_object *reply, const char *msg)
{
    claim_job_t *j = ctx;
    json_object *blob = NULL;
    const char *data = NULL;
    bool eof = false;
    if (r == AOS_OK &&
        (aos_json_get_object(reply, "blob", AOS_JSON_REQUIRED, &blob, NULL, 0) != AOS_OK ||
         aos_json_get_string(reply, "data", AOS_JSON_REQUIRED, &data, NULL, 0) != AOS_OK ||
         aos_json_get_bool(reply, "eof", AOS_JSON_REQUIRED, &eof, NULL, NULL, 0) != AOS_OK))
        r = AOS_ERR_PROTOCOL;
    if (r == AOS_OK && !j->etag) { /* the first range: what the blob is */
        aos_storage_blob_info_t info = {0};
        if (aos_storage_blob_info_from_json(blob, &info, NULL, 0) != AOS_OK)
            r = AOS_ERR_PROTOCOL;
        else if (info.size > j->max)
            r = AOS_ERR_TOO_LARGE;
        else if (!(j->buf = malloc(info.size ? info.size : 1)) ||
                 !(j->etag = strdup(info.etag ? info.etag : "")))
            r = AOS_ERR_NOMEM;
        j->size = info.size;
        snprintf(j->want_sha, sizeof j->want_sha, "%s", info.sha256);
        aos_storage_blob_info_clear(&info);
    }
    size_t n = 0;
    if (r == AOS_OK &&
        aos_base64_decode_into(data, strlen(data), j->buf + j->len, j->size - j->len, &n) != AOS_OK)
        r = AOS_ERR_PROTOCOL;
    if (r == AOS_OK && n == 0 && !eof)
        r = AOS_ERR_PROTOCOL;
    if (r != AOS_OK) {
        fail_step(j, "blob.get", r, r == AOS_ERR_PROTOCOL ? "malformed blob.get reply" : msg);
        return;
    }
    j->len += n;
    if (eof || j->len >= j->size)
        resolve_done(j);
    else
        read_range(j);
}

static void read_range(claim_job_t *j)
{
    json_object *req = target(j->name);
    aos_result r = req ? aos_json_add_int(req, "offset", (int64_t)j->len) : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_int(req, "length", (int64_t)j->chunk);
    if (r == AOS_OK && j->etag && *j->etag)
        r = aos_json_add_string(req, "etag", j->etag);
    if (r != AOS_OK) {
        json_object_put(req);
        fail_step(j, "blob.get", r, NULL);
        return;
    }
    next(j, "blob.get", req, on_range);
}

aos_result aos_storage_claim_resolve_async(aos_storage_client_t *c, aos_event_t *ev, size_t max_len,
                                           aos_claim_cb cb, void *ctx)
{
    if (!ev || !cb)
        return AOS_ERR_INVALID;
    const char *ref = aos_event_get_ext(ev, AOS_CLAIM_EXT);
    if (!ref) {
        cb(ctx, AOS_OK, ev, NULL);
        return AOS_OK;
    }
    if (!c)
        return AOS_ERR_INVALID;
    if (strlen(ref) >= sizeof((claim_job_t *)0)->name)
        return AOS_ERR_INVALID;
    claim_job_t *j = job_new(c, ev, cb, ctx);
    if (!j)
        return AOS_ERR_NOMEM;
    snprintf(j->name, sizeof j->name, "%s", ref);
    j->max = max_len;
    json_object *req = target(j->name);
    aos_result r = req ? aos_json_add_int(req, "offset", 0) : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_int(req, "length", (int64_t)j->chunk);
    if (r == AOS_OK)
        r = sc_call_json(c, "blob.get", req, on_range, j);
    else
        json_object_put(req);
    if (r != AOS_OK)
        free(j);
    return r;
}

void aos_storage_claim_delete_async(aos_storage_client_t *c, const char *name)
{
    json_object *req = c && name ? target(name) : NULL;
    if (req)
        (void)sc_call_json(c, "blob.delete", req, on_deleted, NULL);
}
