/* Table entity group transactions ($batch): one changeset of up to 100 operations on one
 * partition, applied atomically by the service. The request and the answer are
 * multipart/mixed documents whose parts are embedded HTTP requests / responses. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "aos/json.h"
#include "azure_internal.h"

#define BATCH_MAX_OPS 100

static void random_hex(char *out, size_t nbytes)
{
    unsigned char b[16];
    if (nbytes > sizeof b)
        nbytes = sizeof b;
    if (getrandom(b, nbytes, 0) != (ssize_t)nbytes)
        memset(b, 0x5a, nbytes);
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static const char *op_verb(aos_azure_batch_kind k)
{
    switch (k) {
    case AOS_AZURE_BATCH_INSERT:
        return "POST";
    case AOS_AZURE_BATCH_REPLACE:
        return "PUT";
    case AOS_AZURE_BATCH_MERGE:
        return "MERGE";
    case AOS_AZURE_BATCH_DELETE:
        return "DELETE";
    }
    return NULL;
}

static aos_result add_op(aos_azure_client_t *c, const char *table, const aos_azure_batch_op_t *op,
                         const char *pk_want, const char *changeset, aos_buf_t *b)
{
    json_object *jp, *jr;
    const char *verb = op_verb(op->kind);
    if (!verb || !json_object_is_type(op->entity, json_type_object) ||
        !json_object_object_get_ex(op->entity, "PartitionKey", &jp) ||
        !json_object_object_get_ex(op->entity, "RowKey", &jr) ||
        !json_object_is_type(jp, json_type_string) || !json_object_is_type(jr, json_type_string)) {
        aos_azure_set_error(c, "batch: each operation needs an entity with string keys");
        return AOS_ERR_INVALID;
    }
    if (!aos_azure_header_value_ok(op->if_match)) {
        aos_azure_set_error(c, "batch: If-Match has a control character");
        return AOS_ERR_INVALID;
    }
    if (strcmp(json_object_get_string(jp), pk_want) != 0) {
        aos_azure_set_error(c, "batch: all operations must share one PartitionKey");
        return AOS_ERR_INVALID;
    }
    aos_buf_t path = {0};
    aos_result r = op->kind == AOS_AZURE_BATCH_INSERT
                       ? aos_buf_printf(&path, "/%s", table)
                       : aos_azure_entity_path(c, table, json_object_get_string(jp),
                                               json_object_get_string(jr), &path);
    if (r != AOS_OK) {
        aos_buf_free(&path);
        return r;
    }
    aos_buf_printf(b,
                   "--%s\r\nContent-Type: application/http\r\n"
                   "Content-Transfer-Encoding: binary\r\n\r\n"
                   "%s %s%s HTTP/1.1\r\nAccept: application/json;odata=nometadata\r\n"
                   "DataServiceVersion: 3.0\r\n",
                   changeset, verb, aos_azure_client_conn(c)->endpoint[AOS_AZURE_TABLE], path.data);
    aos_buf_free(&path);
    const char *if_match = op->if_match;
    if (!if_match && op->kind == AOS_AZURE_BATCH_DELETE)
        if_match = "*";
    if (if_match)
        aos_buf_printf(b, "If-Match: %s\r\n", if_match);
    if (op->kind == AOS_AZURE_BATCH_DELETE) {
        aos_buf_puts(b, "\r\n");
    } else {
        char *body = NULL;
        AOS_RETURN_IF_FAILED(aos_json_to_string(op->entity, &body, NULL));
        aos_buf_printf(b, "Content-Type: application/json\r\n%s\r\n",
                       op->kind == AOS_AZURE_BATCH_INSERT ? "Prefer: return-no-content\r\n" : "");
        aos_buf_puts(b, body);
        aos_buf_puts(b, "\r\n");
        free(body);
    }
    return b->failed ? AOS_ERR_NOMEM : AOS_OK;
}

/* Scan the multipart answer for embedded status lines; the first non-2xx decides. */
aos_result aos_azure_batch_outcome_(aos_azure_client_t *c, const aos_buf_t *resp, size_t count)
{
    const char *p = resp->data ? resp->data : "";
    size_t ok = 0;
    while ((p = strstr(p, "HTTP/1.1 ")) != NULL) {
        long status = strtol(p + 9, NULL, 10);
        if (status >= 200 && status < 300) {
            ok++;
            p += 9;
            continue;
        }
        char code[128] = "";
        const char *cp = strstr(p, "\"code\":\"");
        if (cp) {
            cp += 8;
            size_t n = strcspn(cp, "\"");
            snprintf(code, sizeof code, "%.*s", (int)(n < 120 ? n : 120), cp);
        }
        aos_azure_set_error(c, "batch on table failed: HTTP %ld %s", status, code);
        if (status == 404)
            return AOS_ERR_NOT_FOUND;
        if (status == 409 || status == 412)
            return AOS_ERR_CONFLICT;
        if (status >= 500)
            return AOS_ERR_UNAVAILABLE;
        if (status == 401 || status == 403)
            return AOS_ERR_AUTH;
        return AOS_ERR_INVALID;
    }
    if (ok != count) {
        aos_azure_set_error(c, "batch answer has %zu results for %zu operations", ok, count);
        return AOS_ERR_PROTOCOL;
    }
    return AOS_OK;
}

aos_result aos_azure_table_batch(aos_azure_client_t *c, const char *table,
                                 const aos_azure_batch_op_t *ops, size_t count)
{
    if (count == 0 || count > BATCH_MAX_OPS) {
        aos_azure_set_error(c, "batch: 1..%d operations", BATCH_MAX_OPS);
        return AOS_ERR_INVALID;
    }
    if (!aos_azure_table_name_valid(table)) {
        aos_azure_set_error(c, "invalid table name");
        return AOS_ERR_INVALID;
    }
    json_object *jp;
    if (!json_object_object_get_ex(ops[0].entity, "PartitionKey", &jp)) {
        aos_azure_set_error(c, "batch: entity without PartitionKey");
        return AOS_ERR_INVALID;
    }
    const char *pk = json_object_get_string(jp);
    char batch[64] = "batch_", changeset[64] = "changeset_", ctype[128];
    random_hex(batch + 6, 16);
    random_hex(changeset + 10, 16);
    snprintf(ctype, sizeof ctype, "multipart/mixed; boundary=%s", batch);
    aos_buf_t body = {0}, resp = {0};
    aos_buf_printf(&body, "--%s\r\nContent-Type: multipart/mixed; boundary=%s\r\n\r\n", batch,
                   changeset);
    aos_result r = AOS_OK;
    for (size_t i = 0; i < count && r == AOS_OK; i++)
        r = add_op(c, table, &ops[i], pk, changeset, &body);
    aos_buf_printf(&body, "--%s--\r\n--%s--\r\n", changeset, batch);
    if (r == AOS_OK && body.failed)
        r = AOS_ERR_NOMEM;
    const aos_azure_header_t h[] = {{"Content-Type", ctype},
                                    {"Accept", "application/json;odata=nometadata"},
                                    {"DataServiceVersion", "3.0"},
                                    {"MaxDataServiceVersion", "3.0;NetFx"}};
    aos_azure_request_t req = {.svc = AOS_AZURE_TABLE,
                               .verb = "POST",
                               .path = "/$batch",
                               .headers = h,
                               .nheaders = 4,
                               .body = body.data,
                               .body_len = body.len,
                               .resp = &resp};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    if (r == AOS_OK)
        r = aos_azure_batch_outcome_(c, &resp, count);
    aos_buf_free(&body);
    aos_buf_free(&resp);
    return r;
}
