/* Blob service: containers, block blobs (single put or staged blocks + block list), ranged
 * streaming reads, properties, listings. */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "aos/base64.h"
#include "azure_internal.h"

static aos_result bad_name(aos_azure_client_t *c, const char *what, const char *name)
{
    aos_azure_set_error(c, "invalid %s name '%.80s'", what, name ? name : "(null)");
    return AOS_ERR_INVALID;
}

static aos_result blob_path(aos_azure_client_t *c, const char *container, const char *blob,
                            aos_buf_t *out)
{
    if (!aos_azure_container_name_valid(container))
        return bad_name(c, "container", container);
    if (!aos_azure_blob_name_valid(blob))
        return bad_name(c, "blob", blob);
    aos_buf_printf(out, "/%s/", container);
    aos_azure_url_encode(out, blob, true);
    return out->failed ? AOS_ERR_NOMEM : AOS_OK;
}

static aos_result container_op(aos_azure_client_t *c, const char *container, const char *verb)
{
    if (!aos_azure_container_name_valid(container))
        return bad_name(c, "container", container);
    char path[80];
    snprintf(path, sizeof path, "/%s", container);
    aos_azure_request_t req = {
        .svc = AOS_AZURE_BLOB, .verb = verb, .path = path, .query = "restype=container"};
    return aos_azure_perform(c, &req, NULL);
}

aos_result aos_azure_container_create(aos_azure_client_t *c, const char *container)
{
    aos_result r = container_op(c, container, "PUT");
    if (r == AOS_ERR_CONFLICT && !strcmp(aos_azure_last_error_code(c), "ContainerAlreadyExists")) {
        aos_azure_set_error(c, "%s", "");
        return AOS_OK;
    }
    return r;
}

aos_result aos_azure_container_delete(aos_azure_client_t *c, const char *container)
{
    return container_op(c, container, "DELETE");
}

static aos_result md5_b64(const void *data, size_t len, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL))
        return AOS_ERR_INTERNAL;
    char *s;
    AOS_RETURN_IF_FAILED(aos_base64_encode(md, mdlen, &s, NULL));
    snprintf(out, 32, "%s", s);
    free(s);
    return AOS_OK;
}

aos_result aos_azure_blob_put(aos_azure_client_t *c, const char *container, const char *blob,
                              const void *data, size_t len, const char *content_type)
{
    aos_buf_t path = {0};
    char md5[32];
    aos_result r = blob_path(c, container, blob, &path);
    if (r == AOS_OK)
        r = md5_b64(data, len, md5);
    const aos_azure_header_t h[] = {
        {"x-ms-blob-type", "BlockBlob"},
        {"Content-Type", content_type ? content_type : "application/octet-stream"},
        {"Content-MD5", md5}};
    aos_azure_request_t req = {.svc = AOS_AZURE_BLOB,
                               .verb = "PUT",
                               .path = path.data,
                               .headers = h,
                               .nheaders = 3,
                               .body = data ? data : "",
                               .body_len = len};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    aos_buf_free(&path);
    return r;
}

void aos_azure_block_id(uint32_t index, char out[32])
{
    char raw[24];
    snprintf(raw, sizeof raw, "aos-block-%010" PRIu32, index);
    char *s = NULL;
    if (aos_base64_encode(raw, strlen(raw), &s, NULL) == AOS_OK)
        snprintf(out, 32, "%s", s);
    else
        out[0] = '\0';
    free(s);
}

aos_result aos_azure_blob_put_block(aos_azure_client_t *c, const char *container, const char *blob,
                                    const char *block_id, const void *data, size_t len)
{
    if (!block_id || !*block_id || strlen(block_id) > 128) {
        aos_azure_set_error(c, "invalid block id");
        return AOS_ERR_INVALID;
    }
    aos_buf_t path = {0}, q = {0};
    char md5[32];
    aos_result r = blob_path(c, container, blob, &path);
    if (r == AOS_OK)
        r = md5_b64(data, len, md5);
    aos_buf_puts(&q, "comp=block&blockid=");
    aos_azure_url_encode(&q, block_id, false);
    if (q.failed)
        r = AOS_ERR_NOMEM;
    const aos_azure_header_t h[] = {{"Content-MD5", md5},
                                    {"Content-Type", "application/octet-stream"}};
    aos_azure_request_t req = {.svc = AOS_AZURE_BLOB,
                               .verb = "PUT",
                               .path = path.data,
                               .query = q.data,
                               .headers = h,
                               .nheaders = 2,
                               .body = data ? data : "",
                               .body_len = len};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    aos_buf_free(&path);
    aos_buf_free(&q);
    return r;
}

static bool meta_name_valid(const char *n)
{
    if (!n || !(*n >= 'a' && *n <= 'z') || strlen(n) > 64)
        return false;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') || *n == '_'))
            return false;
    return true;
}

static bool meta_value_valid(const char *v)
{
    if (!v || strlen(v) > 256)
        return false;
    for (; *v; v++)
        if (*v < 0x20 || *v > 0x7e)
            return false;
    return true;
}

#define MAX_META 8

aos_result aos_azure_blob_put_block_list(aos_azure_client_t *c, const char *container,
                                         const char *blob, const char *const *block_ids,
                                         size_t count, const char *content_type,
                                         const char *content_md5_b64,
                                         const aos_azure_header_t *metadata, size_t nmeta)
{
    if (nmeta > MAX_META) {
        aos_azure_set_error(c, "at most %d metadata entries", MAX_META);
        return AOS_ERR_INVALID;
    }
    char meta_names[MAX_META][80];
    for (size_t i = 0; i < nmeta; i++) {
        if (!meta_name_valid(metadata[i].name) || !meta_value_valid(metadata[i].value)) {
            aos_azure_set_error(c, "invalid blob metadata entry %zu", i);
            return AOS_ERR_INVALID;
        }
        snprintf(meta_names[i], sizeof meta_names[i], "x-ms-meta-%s", metadata[i].name);
    }
    aos_buf_t path = {0}, body = {0};
    aos_result r = blob_path(c, container, blob, &path);
    aos_buf_puts(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (size_t i = 0; i < count && r == AOS_OK; i++) {
        const char *id = block_ids[i];
        /* ids are base64: nothing in them needs XML escaping, anything else is refused */
        for (const char *p = id; p && *p; p++)
            if (*p == '<' || *p == '>' || *p == '&')
                id = NULL;
        if (!id || !*id) {
            aos_azure_set_error(c, "invalid block id at %zu", i);
            r = AOS_ERR_INVALID;
        }
        aos_buf_printf(&body, "<Latest>%s</Latest>", id ? id : "");
    }
    aos_buf_puts(&body, "</BlockList>");
    if (body.failed)
        r = AOS_ERR_NOMEM;
    aos_azure_header_t h[3 + MAX_META] = {
        {"Content-Type", "application/xml"},
        {"x-ms-blob-content-type", content_type ? content_type : "application/octet-stream"}};
    size_t nh = 2;
    if (content_md5_b64 && *content_md5_b64)
        h[nh++] = (aos_azure_header_t){"x-ms-blob-content-md5", content_md5_b64};
    for (size_t i = 0; i < nmeta; i++)
        h[nh++] = (aos_azure_header_t){meta_names[i], metadata[i].value};
    aos_azure_request_t req = {.svc = AOS_AZURE_BLOB,
                               .verb = "PUT",
                               .path = path.data,
                               .query = "comp=blocklist",
                               .headers = h,
                               .nheaders = nh,
                               .body = body.data,
                               .body_len = body.len};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    aos_buf_free(&path);
    aos_buf_free(&body);
    return r;
}

enum { H_CT, H_MD5, H_BLOB_MD5, H_RANGE, H_LEN, H_ETAG, H_MOD, H_COUNT };
static const char *const prop_headers[H_COUNT] = {
    "content-type",   "content-md5", "x-ms-blob-content-md5", "content-range",
    "content-length", "etag",        "last-modified"};

static void copy_str(char *dst, size_t dstlen, const char *src)
{
    size_t n = strnlen(src, dstlen - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void fill_props(char vals[H_COUNT][256], aos_azure_blob_props_t *p)
{
    memset(p, 0, sizeof *p);
    copy_str(p->content_type, sizeof p->content_type, vals[H_CT]);
    copy_str(p->content_md5, sizeof p->content_md5,
             vals[H_BLOB_MD5][0] ? vals[H_BLOB_MD5] : vals[H_MD5]);
    copy_str(p->etag, sizeof p->etag, vals[H_ETAG]);
    copy_str(p->last_modified, sizeof p->last_modified, vals[H_MOD]);
    const char *slash = strrchr(vals[H_RANGE], '/');
    p->content_length = strtoll(slash ? slash + 1 : vals[H_LEN], NULL, 10);
}

bool aos_azure_blob_props_meta(const aos_azure_blob_props_t *props, const char *name, char *out,
                               size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *line = props->metadata; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nl && line[nl] == '=' && !strncmp(line, name, nl)) {
            size_t vl = len - nl - 1;
            if (vl >= outlen)
                return false;
            memcpy(out, line + nl + 1, vl);
            out[vl] = '\0';
            return true;
        }
        line += len + (end ? 1 : 0);
    }
    return false;
}

static aos_result blob_read(aos_azure_client_t *c, const char *verb, const char *container,
                            const char *blob, const char *range, const char *if_match,
                            aos_azure_sink_fn sink, void *ctx, aos_azure_blob_props_t *props)
{
    aos_buf_t path = {0};
    aos_result r = blob_path(c, container, blob, &path);
    char vals[H_COUNT][256];
    char *vp[H_COUNT];
    for (int i = 0; i < H_COUNT; i++)
        vp[i] = vals[i];
    aos_azure_header_t h[2];
    size_t nh = 0;
    if (range)
        h[nh++] = (aos_azure_header_t){"x-ms-range", range};
    if (if_match)
        h[nh++] = (aos_azure_header_t){"If-Match", if_match};
    char meta[1024];
    aos_azure_request_t req = {.svc = AOS_AZURE_BLOB,
                               .verb = verb,
                               .path = path.data,
                               .headers = h,
                               .nheaders = nh,
                               .sink = sink,
                               .sink_ctx = ctx,
                               .want_headers = prop_headers,
                               .want_values = vp,
                               .nwant = H_COUNT,
                               .want_len = 256,
                               .meta = meta,
                               .meta_len = sizeof meta};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    if (r == AOS_OK && props) {
        fill_props(vals, props);
        copy_str(props->metadata, sizeof props->metadata, meta);
    }
    aos_buf_free(&path);
    return r;
}

aos_result aos_azure_blob_get(aos_azure_client_t *c, const char *container, const char *blob,
                              int64_t offset, int64_t length, const char *if_match,
                              aos_azure_sink_fn sink, void *ctx, aos_azure_blob_props_t *props)
{
    if (offset < 0 || length < 0 || !sink) {
        aos_azure_set_error(c, "invalid range or no sink");
        return AOS_ERR_INVALID;
    }
    char range[64];
    const char *rp = NULL;
    if (offset > 0 || length > 0) {
        if (length > 0)
            snprintf(range, sizeof range, "bytes=%" PRId64 "-%" PRId64, offset,
                     offset + length - 1);
        else
            snprintf(range, sizeof range, "bytes=%" PRId64 "-", offset);
        rp = range;
    }
    return blob_read(c, "GET", container, blob, rp, if_match, sink, ctx, props);
}

aos_result aos_azure_blob_properties(aos_azure_client_t *c, const char *container, const char *blob,
                                     aos_azure_blob_props_t *out_props)
{
    return blob_read(c, "HEAD", container, blob, NULL, NULL, NULL, NULL, out_props);
}

aos_result aos_azure_blob_delete(aos_azure_client_t *c, const char *container, const char *blob)
{
    aos_buf_t path = {0};
    aos_result r = blob_path(c, container, blob, &path);
    aos_azure_request_t req = {.svc = AOS_AZURE_BLOB, .verb = "DELETE", .path = path.data};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    aos_buf_free(&path);
    return r;
}

aos_result aos_azure_blob_list(aos_azure_client_t *c, const char *container, const char *prefix,
                               const char *marker, int max_results, bool with_metadata,
                               aos_azure_blob_list_t **out_list)
{
    *out_list = NULL;
    if (!aos_azure_container_name_valid(container))
        return bad_name(c, "container", container);
    if (max_results < 0 || max_results > 5000) {
        aos_azure_set_error(c, "maxresults must be 0..5000");
        return AOS_ERR_INVALID;
    }
    char path[80];
    snprintf(path, sizeof path, "/%s", container);
    aos_buf_t q = {0}, resp = {0};
    aos_buf_puts(&q, "restype=container&comp=list");
    if (prefix && *prefix) {
        aos_buf_puts(&q, "&prefix=");
        aos_azure_url_encode(&q, prefix, false);
    }
    if (marker && *marker) {
        aos_buf_puts(&q, "&marker=");
        aos_azure_url_encode(&q, marker, false);
    }
    if (max_results > 0)
        aos_buf_printf(&q, "&maxresults=%d", max_results);
    if (with_metadata)
        aos_buf_puts(&q, "&include=metadata");
    aos_result r = q.failed ? AOS_ERR_NOMEM : AOS_OK;
    aos_azure_request_t req = {
        .svc = AOS_AZURE_BLOB, .verb = "GET", .path = path, .query = q.data, .resp = &resp};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    if (r == AOS_OK) {
        char err[256];
        r = aos_azure_blob_list_parse(resp.data ? resp.data : "", resp.len, out_list, err,
                                      sizeof err);
        if (r != AOS_OK)
            aos_azure_set_error(c, "list blobs: %s", err);
    }
    aos_buf_free(&q);
    aos_buf_free(&resp);
    return r;
}
