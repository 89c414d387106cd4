/* Compound operations built from single requests: whole-query iteration, partition and
 * prefix deletion, HTTP date parsing. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "azure_internal.h"

aos_result aos_azure_entity_query_each(aos_azure_client_t *c, const char *table, const char *filter,
                                       size_t max, aos_azure_entity_fn fn, void *ctx,
                                       bool *out_more)
{
    aos_azure_continuation_t *cont = calloc(1, sizeof *cont);
    if (!cont)
        return AOS_ERR_NOMEM;
    size_t got = 0;
    aos_result r = AOS_OK;
    while (got < max) {
        json_object *arr = NULL;
        size_t top = max - got < 1000 ? max - got : 1000;
        r = aos_azure_entity_query(c, table, filter, (int)top, cont, &arr);
        if (r != AOS_OK)
            break;
        size_t n = json_object_array_length(arr);
        for (size_t i = 0; i < n && r == AOS_OK && got < max; i++, got++)
            r = fn(ctx, json_object_array_get_idx(arr, i));
        json_object_put(arr);
        if (r != AOS_OK || !cont->next_pk[0])
            break;
    }
    if (out_more)
        *out_more = r == AOS_OK && got >= max;
    free(cont);
    return r;
}

typedef struct key_list {
    char *rks[100];
    size_t n;
} key_list_t;

static aos_result collect_rk(void *ctx, json_object *row)
{
    key_list_t *k = ctx;
    json_object *rk;
    if (!json_object_object_get_ex(row, "RowKey", &rk))
        return AOS_ERR_PROTOCOL;
    k->rks[k->n] = strdup(json_object_get_string(rk));
    return k->rks[k->n++] ? AOS_OK : AOS_ERR_NOMEM;
}

static aos_result delete_rows(aos_azure_client_t *c, const char *table, const char *pk,
                              const key_list_t *k)
{
    aos_azure_batch_op_t ops[100];
    json_object *ents[100];
    aos_result r = AOS_OK;
    for (size_t i = 0; i < k->n; i++) {
        ents[i] = json_object_new_object();
        if (!ents[i])
            r = AOS_ERR_NOMEM;
        else {
            json_object_object_add(ents[i], "PartitionKey", json_object_new_string(pk));
            json_object_object_add(ents[i], "RowKey", json_object_new_string(k->rks[i]));
        }
        ops[i] = (aos_azure_batch_op_t){AOS_AZURE_BATCH_DELETE, ents[i], NULL};
    }
    if (r == AOS_OK)
        r = aos_azure_table_batch(c, table, ops, k->n);
    for (size_t i = 0; i < k->n; i++)
        json_object_put(ents[i]);
    return r;
}

aos_result aos_azure_table_delete_partition(aos_azure_client_t *c, const char *table,
                                            const char *pk)
{
    aos_odata_filter_t *f;
    AOS_RETURN_IF_FAILED(aos_odata_filter_new(&f));
    aos_result r = aos_odata_filter_string(f, "PartitionKey", AOS_ODATA_EQ, pk);
    while (r == AOS_OK) {
        key_list_t k = {.n = 0};
        r = aos_azure_entity_query_each(c, table, aos_odata_filter_str(f), 100, collect_rk, &k,
                                        NULL);
        if (r == AOS_OK && k.n > 0) {
            r = delete_rows(c, table, pk, &k);
            if (r == AOS_ERR_NOT_FOUND) /* a concurrent delete took one: look again */
                r = AOS_OK;
        }
        size_t n = k.n;
        for (size_t i = 0; i < k.n; i++)
            free(k.rks[i]);
        if (n == 0)
            break;
    }
    aos_odata_filter_free(f);
    return r;
}

aos_result aos_azure_blob_delete_prefix(aos_azure_client_t *c, const char *container,
                                        const char *prefix)
{
    /* deleted page by page, so listing again from the start finds the rest */
    for (;;) {
        aos_azure_blob_list_t *list = NULL;
        AOS_RETURN_IF_FAILED(aos_azure_blob_list(c, container, prefix, NULL, 1000, false, &list));
        aos_result r = AOS_OK;
        for (size_t i = 0; i < list->count && r == AOS_OK; i++) {
            r = aos_azure_blob_delete(c, container, list->items[i].name);
            if (r == AOS_ERR_NOT_FOUND)
                r = AOS_OK;
        }
        bool more = list->next_marker != NULL;
        aos_azure_blob_list_free(list);
        if (r != AOS_OK || !more)
            return r;
    }
}

bool aos_azure_http_date_parse(const char *s, int64_t *out_unix_seconds)
{
    struct tm tm = {0};
    const char *end = s ? strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
    if (!end || *end)
        return false;
    *out_unix_seconds = (int64_t)timegm(&tm);
    return true;
}
