/* Table service: tables and entities in JSON (odata=nometadata), ETags, paged queries. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "azure_internal.h"

#define ACCEPT_JSON "application/json;odata=nometadata"

static aos_result bad_table(aos_azure_client_t *c, const char *table)
{
    aos_azure_set_error(c,
                        "invalid table name '%.80s' (3-63 letters/digits, starting with a "
                        "letter)",
                        table ? table : "(null)");
    return AOS_ERR_INVALID;
}

aos_result aos_azure_table_create(aos_azure_client_t *c, const char *table)
{
    if (!aos_azure_table_name_valid(table))
        return bad_table(c, table);
    char body[128];
    snprintf(body, sizeof body, "{\"TableName\":\"%s\"}", table);
    const aos_azure_header_t h[] = {{"Content-Type", "application/json"},
                                    {"Accept", ACCEPT_JSON},
                                    {"Prefer", "return-no-content"}};
    aos_azure_request_t req = {.svc = AOS_AZURE_TABLE,
                               .verb = "POST",
                               .path = "/Tables",
                               .headers = h,
                               .nheaders = 3,
                               .body = body,
                               .body_len = strlen(body)};
    aos_result r = aos_azure_perform(c, &req, NULL);
    if (r == AOS_ERR_CONFLICT && !strcmp(aos_azure_last_error_code(c), "TableAlreadyExists")) {
        aos_azure_set_error(c, "%s", "");
        return AOS_OK;
    }
    return r;
}

aos_result aos_azure_table_delete(aos_azure_client_t *c, const char *table)
{
    if (!aos_azure_table_name_valid(table))
        return bad_table(c, table);
    char path[128];
    snprintf(path, sizeof path, "/Tables('%s')", table);
    const aos_azure_header_t h[] = {{"Accept", ACCEPT_JSON}};
    aos_azure_request_t req = {
        .svc = AOS_AZURE_TABLE, .verb = "DELETE", .path = path, .headers = h, .nheaders = 1};
    return aos_azure_perform(c, &req, NULL);
}

/* "/<table>(PartitionKey='<pk>',RowKey='<rk>')" with quotes doubled, then percent-encoded. */
aos_result aos_azure_entity_path(aos_azure_client_t *c, const char *table, const char *pk,
                                 const char *rk, aos_buf_t *out)
{
    if (!aos_azure_table_name_valid(table))
        return bad_table(c, table);
    if (!aos_azure_key_valid(pk) || !aos_azure_key_valid(rk)) {
        aos_azure_set_error(c, "invalid PartitionKey/RowKey (max 1 KiB UTF-8, no / \\ # ? or "
                               "control characters)");
        return AOS_ERR_INVALID;
    }
    const char *keys[2] = {pk, rk};
    aos_buf_printf(out, "/%s(PartitionKey='", table);
    for (int k = 0; k < 2; k++) {
        aos_buf_t doubled = {0};
        for (const char *p = keys[k]; *p; p++)
            aos_buf_puts(&doubled, *p == '\'' ? "''" : (char[]){*p, '\0'});
        aos_buf_puts(&doubled, "");
        aos_azure_url_encode(out, doubled.data, false);
        aos_buf_free(&doubled);
        aos_buf_puts(out, k == 0 ? "',RowKey='" : "')");
    }
    return out->failed ? AOS_ERR_NOMEM : AOS_OK;
}

static aos_result entity_keys(aos_azure_client_t *c, json_object *entity, const char **pk,
                              const char **rk)
{
    json_object *p, *r;
    if (!json_object_is_type(entity, json_type_object) ||
        !json_object_object_get_ex(entity, "PartitionKey", &p) ||
        !json_object_object_get_ex(entity, "RowKey", &r) ||
        !json_object_is_type(p, json_type_string) || !json_object_is_type(r, json_type_string)) {
        aos_azure_set_error(c, "entity needs string PartitionKey and RowKey");
        return AOS_ERR_INVALID;
    }
    *pk = json_object_get_string(p);
    *rk = json_object_get_string(r);
    return AOS_OK;
}

static void copy_etag(const char *etag, char *out, size_t outlen)
{
    if (out && outlen)
        snprintf(out, outlen, "%s", etag);
}

aos_result aos_azure_entity_insert(aos_azure_client_t *c, const char *table, json_object *entity,
                                   char *out_etag, size_t etaglen)
{
    const char *pk, *rk;
    AOS_RETURN_IF_FAILED(entity_keys(c, entity, &pk, &rk));
    if (!aos_azure_table_name_valid(table))
        return bad_table(c, table);
    if (!aos_azure_key_valid(pk) || !aos_azure_key_valid(rk)) {
        aos_azure_set_error(c, "invalid PartitionKey/RowKey");
        return AOS_ERR_INVALID;
    }
    char path[80];
    snprintf(path, sizeof path, "/%s", table);
    char *body = NULL;
    AOS_RETURN_IF_FAILED(aos_json_to_string(entity, &body, NULL));
    const aos_azure_header_t h[] = {{"Content-Type", "application/json"},
                                    {"Accept", ACCEPT_JSON},
                                    {"Prefer", "return-no-content"}};
    char etag[256];
    char *vals[] = {etag};
    const char *want[] = {"etag"};
    aos_azure_request_t req = {.svc = AOS_AZURE_TABLE,
                               .verb = "POST",
                               .path = path,
                               .headers = h,
                               .nheaders = 3,
                               .body = body,
                               .body_len = strlen(body),
                               .want_headers = want,
                               .want_values = vals,
                               .nwant = 1,
                               .want_len = sizeof etag};
    aos_result r = aos_azure_perform(c, &req, NULL);
    free(body);
    if (r == AOS_OK)
        copy_etag(etag, out_etag, etaglen);
    return r;
}

aos_result aos_azure_entity_put(aos_azure_client_t *c, const char *table, json_object *entity,
                                aos_azure_write_mode mode, const char *if_match, char *out_etag,
                                size_t etaglen)
{
    const char *pk, *rk;
    AOS_RETURN_IF_FAILED(entity_keys(c, entity, &pk, &rk));
    aos_buf_t path = {0};
    aos_result r = aos_azure_entity_path(c, table, pk, rk, &path);
    if (r != AOS_OK) {
        aos_buf_free(&path);
        return r;
    }
    char *body = NULL;
    r = aos_json_to_string(entity, &body, NULL);
    if (r != AOS_OK) {
        aos_buf_free(&path);
        return r;
    }
    aos_azure_header_t h[] = {
        {"Content-Type", "application/json"}, {"Accept", ACCEPT_JSON}, {"If-Match", if_match}};
    char etag[256];
    char *vals[] = {etag};
    const char *want[] = {"etag"};
    aos_azure_request_t req = {.svc = AOS_AZURE_TABLE,
                               .verb = mode == AOS_AZURE_MERGE ? "MERGE" : "PUT",
                               .path = path.data,
                               .headers = h,
                               .nheaders = if_match ? 3 : 2,
                               .body = body,
                               .body_len = strlen(body),
                               .want_headers = want,
                               .want_values = vals,
                               .nwant = 1,
                               .want_len = sizeof etag};
    r = aos_azure_perform(c, &req, NULL);
    aos_buf_free(&path);
    free(body);
    if (r == AOS_OK)
        copy_etag(etag, out_etag, etaglen);
    return r;
}

aos_result aos_azure_parse_json_body_(aos_azure_client_t *c, const aos_buf_t *body, json_type want,
                                      json_object **out)
{
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return AOS_ERR_NOMEM;
    json_object *o = json_tokener_parse_ex(tok, body->data ? body->data : "", (int)body->len);
    bool complete = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    if (!o || !complete || !json_object_is_type(o, want)) {
        json_object_put(o);
        aos_azure_set_error(c, "table service answered with unexpected JSON");
        return AOS_ERR_PROTOCOL;
    }
    *out = o;
    return AOS_OK;
}

aos_result aos_azure_entity_get(aos_azure_client_t *c, const char *table, const char *pk,
                                const char *rk, json_object **out_entity, char *out_etag,
                                size_t etaglen)
{
    *out_entity = NULL;
    aos_buf_t path = {0}, resp = {0};
    aos_result r = aos_azure_entity_path(c, table, pk, rk, &path);
    char etag[256];
    char *vals[] = {etag};
    const char *want[] = {"etag"};
    const aos_azure_header_t h[] = {{"Accept", ACCEPT_JSON}};
    aos_azure_request_t req = {.svc = AOS_AZURE_TABLE,
                               .verb = "GET",
                               .path = path.data,
                               .headers = h,
                               .nheaders = 1,
                               .resp = &resp,
                               .want_headers = want,
                               .want_values = vals,
                               .nwant = 1,
                               .want_len = sizeof etag};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    if (r == AOS_OK)
        r = aos_azure_parse_json_body_(c, &resp, json_type_object, out_entity);
    if (r == AOS_OK)
        copy_etag(etag, out_etag, etaglen);
    aos_buf_free(&path);
    aos_buf_free(&resp);
    return r;
}

aos_result aos_azure_entity_delete(aos_azure_client_t *c, const char *table, const char *pk,
                                   const char *rk, const char *if_match)
{
    aos_buf_t path = {0};
    aos_result r = aos_azure_entity_path(c, table, pk, rk, &path);
    const aos_azure_header_t h[] = {{"Accept", ACCEPT_JSON},
                                    {"If-Match", if_match ? if_match : "*"}};
    aos_azure_request_t req = {
        .svc = AOS_AZURE_TABLE, .verb = "DELETE", .path = path.data, .headers = h, .nheaders = 2};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    aos_buf_free(&path);
    return r;
}

static aos_result query_string(const char *filter, int top, const aos_azure_continuation_t *cont,
                               aos_buf_t *q)
{
    aos_buf_puts(q, "");
    if (filter && *filter) {
        aos_buf_puts(q, "$filter=");
        aos_azure_url_encode(q, filter, false);
    }
    if (top > 0)
        aos_buf_printf(q, "%s$top=%d", q->len ? "&" : "", top);
    if (cont && cont->next_pk[0]) {
        aos_buf_printf(q, "%sNextPartitionKey=", q->len ? "&" : "");
        aos_azure_url_encode(q, cont->next_pk, false);
        if (cont->next_rk[0]) {
            aos_buf_puts(q, "&NextRowKey=");
            aos_azure_url_encode(q, cont->next_rk, false);
        }
    }
    return q->failed ? AOS_ERR_NOMEM : AOS_OK;
}

aos_result aos_azure_entity_query(aos_azure_client_t *c, const char *table, const char *filter,
                                  int top, aos_azure_continuation_t *cont,
                                  json_object **out_entities)
{
    *out_entities = NULL;
    if (!aos_azure_table_name_valid(table))
        return bad_table(c, table);
    if (top < 0 || top > 1000) {
        aos_azure_set_error(c, "$top must be 0..1000");
        return AOS_ERR_INVALID;
    }
    char path[80];
    snprintf(path, sizeof path, "/%s()", table);
    aos_buf_t q = {0}, resp = {0};
    char npk[AOS_AZURE_TOKEN_MAX], nrk[AOS_AZURE_TOKEN_MAX];
    char *vals[] = {npk, nrk};
    const char *want[] = {"x-ms-continuation-NextPartitionKey", "x-ms-continuation-NextRowKey"};
    /* minimal metadata: each entity carries its "odata.etag" */
    const aos_azure_header_t h[] = {{"Accept", "application/json;odata=minimalmetadata"}};
    aos_result r = query_string(filter, top, cont, &q);
    aos_azure_request_t req = {.svc = AOS_AZURE_TABLE,
                               .verb = "GET",
                               .path = path,
                               .query = q.data,
                               .headers = h,
                               .nheaders = 1,
                               .resp = &resp,
                               .want_headers = want,
                               .want_values = vals,
                               .nwant = 2,
                               .want_len = AOS_AZURE_TOKEN_MAX};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    json_object *root = NULL, *value;
    if (r == AOS_OK)
        r = aos_azure_parse_json_body_(c, &resp, json_type_object, &root);
    if (r == AOS_OK && (!json_object_object_get_ex(root, "value", &value) ||
                        !json_object_is_type(value, json_type_array))) {
        aos_azure_set_error(c, "query answer has no \"value\" array");
        r = AOS_ERR_PROTOCOL;
    }
    if (r == AOS_OK) {
        *out_entities = json_object_get(value);
        if (cont) {
            snprintf(cont->next_pk, sizeof cont->next_pk, "%s", npk);
            snprintf(cont->next_rk, sizeof cont->next_rk, "%s", nrk);
        }
    }
    json_object_put(root);
    aos_buf_free(&q);
    aos_buf_free(&resp);
    return r;
}
