/* Staged uploads: a blob uploaded in numbered chunks that may arrive at different processes,
 * committed atomically with a SHA-256 check. State lives in the storage account:
 *   upload row   <store.table>: PartitionKey = upload id, RowKey "upload":
 *                Container, Name, ContentType, State ("open" | "committed")
 *   chunk i      blob "<upload id>/<i, 6 digits>" in <store.staging>
 * Commit streams the chunks (one in memory at a time) into Put Block calls on the target while
 * hashing; only when the checksum is right does Put Block List replace the content. */
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "aos/base64.h"
#include "azure_internal.h"

#define RK_UPLOAD "upload"
#define UPLOAD_CHUNK_MAX (100u * 1024u * 1024u) /* Azure's block size limit */

typedef struct upload {
    char container[80];
    char name[1025];
    char content_type[256];
    bool committed;
} upload_t;

static void copy_prop(json_object *row, const char *k, const char *dflt, char *out, size_t len)
{
    const char *v = aos_azure_entity_get_string(row, k);
    snprintf(out, len, "%s", v ? v : dflt);
}

static aos_result upload_get(aos_azure_client_t *c, const aos_azure_upload_store_t *st,
                             const char *upload_id, upload_t *u)
{
    json_object *row = NULL;
    AOS_RETURN_IF_FAILED(aos_azure_entity_get(c, st->table, upload_id, RK_UPLOAD, &row, NULL, 0));
    copy_prop(row, "Container", "", u->container, sizeof u->container);
    copy_prop(row, "Name", "", u->name, sizeof u->name);
    copy_prop(row, "ContentType", "application/octet-stream", u->content_type,
              sizeof u->content_type);
    const char *state = aos_azure_entity_get_string(row, "State");
    u->committed = state && !strcmp(state, "committed");
    json_object_put(row);
    return AOS_OK;
}

/* The upload, which must target container/blob; NOT_FOUND otherwise. */
static aos_result upload_find(aos_azure_client_t *c, const aos_azure_upload_store_t *st,
                              const char *upload_id, const char *container, const char *blob,
                              upload_t *u)
{
    aos_result r = upload_get(c, st, upload_id, u);
    if (r == AOS_OK && (strcmp(u->container, container) || strcmp(u->name, blob)))
        r = AOS_ERR_NOT_FOUND;
    if (r == AOS_ERR_NOT_FOUND)
        aos_azure_set_error(c, "upload %.128s of %.80s/%.200s not found", upload_id, container,
                            blob);
    return r;
}

aos_result aos_azure_upload_begin(aos_azure_client_t *c, const aos_azure_upload_store_t *st,
                                  const char *upload_id, const char *container, const char *blob,
                                  const char *content_type)
{
    if (!aos_azure_blob_name_valid(blob)) {
        aos_azure_set_error(c, "invalid blob name");
        return AOS_ERR_INVALID;
    }
    AOS_RETURN_IF_FAILED(aos_azure_container_create(c, container));
    json_object *e = json_object_new_object();
    if (!e)
        return AOS_ERR_NOMEM;
    json_object_object_add(e, "PartitionKey", json_object_new_string(upload_id));
    json_object_object_add(e, "RowKey", json_object_new_string(RK_UPLOAD));
    json_object_object_add(e, "Container", json_object_new_string(container));
    json_object_object_add(e, "Name", json_object_new_string(blob));
    json_object_object_add(
        e, "ContentType",
        json_object_new_string(content_type ? content_type : "application/octet-stream"));
    json_object_object_add(e, "State", json_object_new_string("open"));
    aos_result r = aos_azure_entity_insert(c, st->table, e, NULL, 0);
    json_object_put(e);
    if (r == AOS_ERR_CONFLICT) { /* the same begin again (redelivery) is fine */
        upload_t u;
        r = upload_find(c, st, upload_id, container, blob, &u);
        if (r == AOS_ERR_NOT_FOUND) {
            aos_azure_set_error(c, "upload id %.128s is in use for another blob", upload_id);
            r = AOS_ERR_CONFLICT;
        }
    }
    return r;
}

static void chunk_name(const char *upload_id, uint32_t index, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%06" PRIu32, upload_id, index);
}

aos_result aos_azure_upload_chunk(aos_azure_client_t *c, const aos_azure_upload_store_t *st,
                                  const char *upload_id, const char *container, const char *blob,
                                  uint32_t index, const void *data, size_t len)
{
    if (len > UPLOAD_CHUNK_MAX || index > 999999) {
        aos_azure_set_error(c, "chunk too large or index out of range");
        return AOS_ERR_INVALID;
    }
    upload_t u;
    AOS_RETURN_IF_FAILED(upload_find(c, st, upload_id, container, blob, &u));
    char cn[300];
    chunk_name(upload_id, index, cn, sizeof cn);
    return aos_azure_blob_put(c, st->staging, cn, data, len, NULL);
}

/* Block id of chunk i: base64 of a fixed-width string, so all ids of a blob are equally long
 * and uploads to the same blob never share one. */
static void block_id(const char *upload_id, uint32_t index, char out[64])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char raw[40], *b64 = NULL;
    if (!EVP_Digest(upload_id, strlen(upload_id), md, &mdlen, EVP_sha256(), NULL))
        memset(md, 0, 8);
    snprintf(raw, sizeof raw, "%02x%02x%02x%02x%02x%02x%02x%02x-%06" PRIu32, md[0], md[1], md[2],
             md[3], md[4], md[5], md[6], md[7], index);
    out[0] = '\0';
    if (aos_base64_encode(raw, strlen(raw), &b64, NULL) == AOS_OK)
        snprintf(out, 64, "%s", b64);
    free(b64);
}

static aos_result chunk_sink(void *ctx, const void *data, size_t len)
{
    aos_buf_t *b = ctx;
    if (b->len + len > UPLOAD_CHUNK_MAX)
        return AOS_ERR_TOO_LARGE;
    return aos_buf_append(b, data, len);
}

/* Copy staged chunks 0..count-1 into blocks of the target, hashing on the way. */
static aos_result stage_blocks(aos_azure_client_t *c, const aos_azure_upload_store_t *st,
                               const char *upload_id, const char *container, const char *blob,
                               uint32_t count, char sha[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    aos_buf_t chunk = {0};
    aos_result r = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) ? AOS_OK : AOS_ERR_NOMEM;
    for (uint32_t i = 0; i < count && r == AOS_OK; i++) {
        char cn[300], id[64];
        chunk_name(upload_id, i, cn, sizeof cn);
        chunk.len = 0;
        r = aos_azure_blob_get(c, st->staging, cn, 0, 0, NULL, chunk_sink, &chunk, NULL);
        if (r == AOS_ERR_NOT_FOUND) {
            aos_azure_set_error(c, "chunk %" PRIu32 " is missing", i);
            r = AOS_ERR_INVALID;
        }
        if (r == AOS_OK && !EVP_DigestUpdate(md, chunk.data ? chunk.data : "", chunk.len))
            r = AOS_ERR_INTERNAL;
        block_id(upload_id, i, id);
        if (r == AOS_OK)
            r = aos_azure_blob_put_block(c, container, blob, id, chunk.data ? chunk.data : "",
                                         chunk.len);
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (r == AOS_OK && !EVP_DigestFinal_ex(md, digest, &dl))
        r = AOS_ERR_INTERNAL;
    for (unsigned int i = 0; r == AOS_OK && i < dl && i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", digest[i]);
    EVP_MD_CTX_free(md);
    aos_buf_free(&chunk);
    return r;
}

static aos_result commit_list(aos_azure_client_t *c, const char *upload_id, const char *container,
                              const char *blob, uint32_t count, const upload_t *u, const char *sha)
{
    char(*ids)[64] = calloc(count ? count : 1, sizeof *ids);
    const char **idp = calloc(count ? count : 1, sizeof *idp);
    aos_result r = ids && idp ? AOS_OK : AOS_ERR_NOMEM;
    for (uint32_t i = 0; i < count && r == AOS_OK; i++) {
        block_id(upload_id, i, ids[i]);
        idp[i] = ids[i];
    }
    const aos_azure_header_t meta[] = {{"aossha256", sha}, {"aosupload", upload_id}};
    if (r == AOS_OK)
        r = aos_azure_blob_put_block_list(c, container, blob, idp, count, u->content_type, NULL,
                                          meta, 2);
    free(ids);
    free(idp);
    return r;
}

aos_result aos_azure_upload_commit(aos_azure_client_t *c, const aos_azure_upload_store_t *st,
                                   const char *upload_id, const char *container, const char *blob,
                                   uint32_t count, const char *expected_sha256)
{
    upload_t u;
    AOS_RETURN_IF_FAILED(upload_find(c, st, upload_id, container, blob, &u));
    if (u.committed) /* redelivery of a commit that went through */
        return AOS_OK;
    char sha[65] = "";
    AOS_RETURN_IF_FAILED(stage_blocks(c, st, upload_id, container, blob, count, sha));
    if (expected_sha256 && strcmp(expected_sha256, sha) != 0) {
        aos_azure_set_error(c, "checksum mismatch: content is %s, expected %.64s", sha,
                            expected_sha256);
        return AOS_ERR_INVALID;
    }
    AOS_RETURN_IF_FAILED(commit_list(c, upload_id, container, blob, count, &u, sha));
    json_object *e = json_object_new_object();
    if (!e)
        return AOS_ERR_NOMEM;
    json_object_object_add(e, "PartitionKey", json_object_new_string(upload_id));
    json_object_object_add(e, "RowKey", json_object_new_string(RK_UPLOAD));
    json_object_object_add(e, "State", json_object_new_string("committed"));
    aos_result r = aos_azure_entity_put(c, st->table, e, AOS_AZURE_MERGE, "*", NULL, 0);
    json_object_put(e);
    AOS_RETURN_IF_FAILED(r);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s/", upload_id);
    aos_azure_blob_delete_prefix(c, st->staging, prefix); /* leftovers are harmless */
    aos_azure_set_error(c, "%s", "");
    return AOS_OK;
}

aos_result aos_azure_upload_abort(aos_azure_client_t *c, const aos_azure_upload_store_t *st,
                                  const char *upload_id, const char *container, const char *blob)
{
    upload_t u;
    aos_result r = upload_find(c, st, upload_id, container, blob, &u);
    if (r == AOS_ERR_NOT_FOUND) {
        aos_azure_set_error(c, "%s", "");
        return AOS_OK;
    }
    AOS_RETURN_IF_FAILED(r);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s/", upload_id);
    AOS_RETURN_IF_FAILED(aos_azure_blob_delete_prefix(c, st->staging, prefix));
    r = aos_azure_entity_delete(c, st->table, upload_id, RK_UPLOAD, NULL);
    return r == AOS_ERR_NOT_FOUND ? AOS_OK : r;
}
