/* Integration: the Azure Storage client against a real Azurite (fixture "azurite"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "aos/base64.h"
#include "aos/azure_storage.h"
#include "fixture.h"

static char conn_string[2048];
static char suffix[16]; /* makes names unique per run: the fixture is shared */

static aos_azure_client_t *client(void)
{
    aos_azure_client_t *c = NULL;
    char err[256];
    assert_int_equal(aos_azure_client_new_from_string(conn_string, &c, err, sizeof err), AOS_OK);
    return c;
}

static void name(char *out, size_t outlen, const char *base)
{
    snprintf(out, outlen, "%s%s", base, suffix);
}

static json_object *entity(const char *pk, const char *rk, const char *text, int n)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "PartitionKey", json_object_new_string(pk));
    json_object_object_add(e, "RowKey", json_object_new_string(rk));
    json_object_object_add(e, "Text", json_object_new_string(text));
    json_object_object_add(e, "N", json_object_new_int(n));
    return e;
}

static const char *str_prop(json_object *e, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(e, k, &v) ? json_object_get_string(v) : NULL;
}

static void test_table_crud_and_etag(void **state)
{
    (void)state;
    aos_azure_client_t *c = client();
    char t[64];
    name(t, sizeof t, "crud");
    assert_int_equal(aos_azure_table_create(c, t), AOS_OK);
    assert_int_equal(aos_azure_table_create(c, t), AOS_OK); /* idempotent */

    const char *pk = "conv-'quoted' & spaced/ish?";
    json_object *e = entity("p'1", "r 1", "hello", 1);
    char etag1[256], etag2[256];
    assert_int_equal(aos_azure_entity_insert(c, t, e, etag1, sizeof etag1), AOS_OK);
    assert_true(etag1[0] != '\0');
    assert_int_equal(aos_azure_entity_insert(c, t, e, NULL, 0), AOS_ERR_CONFLICT);
    json_object_put(e);
    (void)pk;

    json_object *got = NULL;
    char getetag[256];
    assert_int_equal(aos_azure_entity_get(c, t, "p'1", "r 1", &got, getetag, sizeof getetag),
                     AOS_OK);
    assert_string_equal(str_prop(got, "Text"), "hello");
    assert_string_equal(getetag, etag1);
    json_object_put(got);

    /* replace with the right ETag, then a stale one is refused */
    e = entity("p'1", "r 1", "second", 2);
    assert_int_equal(aos_azure_entity_put(c, t, e, AOS_AZURE_REPLACE, etag1, etag2, sizeof etag2),
                     AOS_OK);
    assert_string_not_equal(etag1, etag2);
    assert_int_equal(aos_azure_entity_put(c, t, e, AOS_AZURE_REPLACE, etag1, NULL, 0),
                     AOS_ERR_CONFLICT);
    assert_true(strstr(aos_azure_client_error(c), "412") != NULL);
    json_object_put(e);

    /* merge keeps other properties */
    e = json_object_new_object();
    json_object_object_add(e, "PartitionKey", json_object_new_string("p'1"));
    json_object_object_add(e, "RowKey", json_object_new_string("r 1"));
    json_object_object_add(e, "Extra", json_object_new_string("x"));
    assert_int_equal(aos_azure_entity_put(c, t, e, AOS_AZURE_MERGE, "*", NULL, 0), AOS_OK);
    json_object_put(e);
    assert_int_equal(aos_azure_entity_get(c, t, "p'1", "r 1", &got, NULL, 0), AOS_OK);
    assert_string_equal(str_prop(got, "Text"), "second");
    assert_string_equal(str_prop(got, "Extra"), "x");
    json_object_put(got);

    /* If-Match "*" on a missing entity: not found; upsert creates it */
    e = entity("p'1", "missing", "m", 0);
    assert_int_equal(aos_azure_entity_put(c, t, e, AOS_AZURE_REPLACE, "*", NULL, 0),
                     AOS_ERR_NOT_FOUND);
    assert_int_equal(aos_azure_entity_put(c, t, e, AOS_AZURE_REPLACE, NULL, NULL, 0), AOS_OK);
    json_object_put(e);

    assert_int_equal(aos_azure_entity_delete(c, t, "p'1", "r 1", "W/\"datetime'2000-01-01'\""),
                     AOS_ERR_CONFLICT);
    assert_int_equal(aos_azure_entity_delete(c, t, "p'1", "r 1", NULL), AOS_OK);
    assert_int_equal(aos_azure_entity_get(c, t, "p'1", "r 1", &got, NULL, 0), AOS_ERR_NOT_FOUND);
    assert_null(got);
    assert_int_equal(aos_azure_entity_delete(c, t, "p'1", "r 1", NULL), AOS_ERR_NOT_FOUND);

    /* header injection through an ETag is refused before anything is sent */
    e = entity("p'1", "r 2", "x", 0);
    assert_int_equal(aos_azure_entity_put(c, t, e, AOS_AZURE_REPLACE, "*\r\nX-Evil: 1", NULL, 0),
                     AOS_ERR_INVALID);
    json_object_put(e);
    /* bad names never reach the wire */
    assert_int_equal(aos_azure_table_create(c, "bad-name"), AOS_ERR_INVALID);
    assert_int_equal(aos_azure_entity_get(c, t, "a/b", "r", &got, NULL, 0), AOS_ERR_INVALID);
    assert_int_equal(aos_azure_table_delete(c, t), AOS_OK);
    aos_azure_client_free(c);
}

static void test_table_paging_and_filters(void **state)
{
    (void)state;
    aos_azure_client_t *c = client();
    char t[64];
    name(t, sizeof t, "paging");
    assert_int_equal(aos_azure_table_create(c, t), AOS_OK);
    const int total = 25;
    for (int i = 0; i < total; i++) {
        char rk[32];
        snprintf(rk, sizeof rk, "%08d", i);
        json_object *e = entity("conv", rk, i % 5 == 0 ? "it's ' or '1'='1" : "plain", i);
        assert_int_equal(aos_azure_entity_insert(c, t, e, NULL, 0), AOS_OK);
        json_object_put(e);
    }
    json_object *other = entity("other", "00000000", "plain", 0);
    assert_int_equal(aos_azure_entity_insert(c, t, other, NULL, 0), AOS_OK);
    json_object_put(other);

    /* page through one partition, 7 at a time, in RowKey order */
    aos_odata_filter_t *f;
    assert_int_equal(aos_odata_filter_new(&f), AOS_OK);
    assert_int_equal(aos_odata_filter_string(f, "PartitionKey", AOS_ODATA_EQ, "conv"), AOS_OK);
    aos_azure_continuation_t cont = {0};
    int seen = 0, pages = 0;
    do {
        json_object *arr = NULL;
        assert_int_equal(aos_azure_entity_query(c, t, aos_odata_filter_str(f), 7, &cont, &arr),
                         AOS_OK);
        size_t n = json_object_array_length(arr);
        assert_true(n <= 7);
        for (size_t i = 0; i < n; i++) {
            char want[32];
            snprintf(want, sizeof want, "%08d", seen++);
            assert_string_equal(str_prop(json_object_array_get_idx(arr, i), "RowKey"), want);
        }
        json_object_put(arr);
        pages++;
    } while (cont.next_pk[0] && pages < 20);
    assert_int_equal(seen, total);
    assert_true(pages >= 4);
    aos_odata_filter_free(f);

    /* a value full of quotes matches literally and injects nothing */
    assert_int_equal(aos_odata_filter_new(&f), AOS_OK);
    assert_int_equal(aos_odata_filter_string(f, "Text", AOS_ODATA_EQ, "it's ' or '1'='1"), AOS_OK);
    assert_int_equal(aos_odata_filter_int32(f, "N", AOS_ODATA_GE, 10), AOS_OK);
    json_object *arr = NULL;
    assert_int_equal(aos_azure_entity_query(c, t, aos_odata_filter_str(f), 0, NULL, &arr), AOS_OK);
    assert_int_equal(json_object_array_length(arr), 3); /* 10, 15, 20 */
    json_object_put(arr);
    aos_odata_filter_free(f);

    assert_int_equal(aos_odata_filter_new(&f), AOS_OK);
    assert_int_equal(aos_odata_filter_string(f, "Text", AOS_ODATA_EQ, "x' or 'a' eq 'a"), AOS_OK);
    assert_int_equal(aos_azure_entity_query(c, t, aos_odata_filter_str(f), 0, NULL, &arr), AOS_OK);
    assert_int_equal(json_object_array_length(arr), 0);
    json_object_put(arr);
    aos_odata_filter_free(f);

    assert_int_equal(aos_azure_table_delete(c, t), AOS_OK);
    aos_azure_client_free(c);
}

typedef struct collect {
    unsigned char *data;
    size_t len, cap;
    EVP_MD_CTX *md5;
} collect_t;

static aos_result collect_sink(void *ctx, const void *data, size_t len)
{
    collect_t *k = ctx;
    if (k->md5)
        EVP_DigestUpdate(k->md5, data, len);
    if (k->len + len > k->cap)
        return k->cap ? AOS_ERR_TOO_LARGE : AOS_OK;
    memcpy(k->data + k->len, data, len);
    k->len += len;
    return AOS_OK;
}

static void pattern(unsigned char *buf, size_t len, size_t offset)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)(((offset + i) * 2654435761u) >> 13);
}

static void check_listing(aos_azure_client_t *c, const char *ct, size_t small_len)
{
    /* listing with paging */
    aos_azure_blob_list_t *list = NULL;
    assert_int_equal(aos_azure_blob_list(c, ct, NULL, NULL, 1, true, &list), AOS_OK);
    assert_int_equal(list->count, 1);
    assert_string_equal(list->items[0].name, "big name.bin");
    assert_int_equal(list->items[0].meta_count, 2);
    assert_non_null(list->next_marker);
    char *marker = strdup(list->next_marker);
    aos_azure_blob_list_free(list);
    assert_int_equal(aos_azure_blob_list(c, ct, NULL, marker, 10, false, &list), AOS_OK);
    assert_int_equal(list->count, 1);
    assert_string_equal(list->items[0].name, "dir/small.txt");
    assert_int_equal(list->items[0].content_length, (int64_t)small_len);
    assert_null(list->next_marker);
    aos_azure_blob_list_free(list);
    free(marker);
    assert_int_equal(aos_azure_blob_list(c, ct, "dir/", NULL, 0, false, &list), AOS_OK);
    assert_int_equal(list->count, 1);
    aos_azure_blob_list_free(list);
}

/* Upload `total` pattern bytes as blocks of `block` bytes (MD5 computed while streaming);
 * returns the base64 MD5 (caller frees). */
static char *upload_blocks(aos_azure_client_t *c, const char *ct, size_t block, size_t total)
{
    unsigned char *buf = malloc(block);
    EVP_MD_CTX *md5 = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md5, EVP_md5(), NULL);
    char ids[3][32];
    const char *idp[3];
    size_t off = 0;
    uint32_t count = 0;
    for (; off < total && count < 3; count++) {
        size_t n = total - off < block ? total - off : block;
        pattern(buf, n, off);
        EVP_DigestUpdate(md5, buf, n);
        aos_azure_block_id(count, ids[count]);
        idp[count] = ids[count];
        assert_int_equal(aos_azure_blob_put_block(c, ct, "big name.bin", ids[count], buf, n),
                         AOS_OK);
        off += n;
    }
    assert_int_equal(off, total);
    unsigned char digest[16];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(md5, digest, &dl);
    char *md5b64;
    assert_int_equal(aos_base64_encode(digest, dl, &md5b64, NULL), AOS_OK);
    const aos_azure_header_t meta[] = {{"aossha256", "abc123"}, {"origin", "test"}};
    assert_int_equal(aos_azure_blob_put_block_list(c, ct, "big name.bin", idp, count,
                                                   "application/x-test", md5b64, meta, 2),
                     AOS_OK);
    free(buf);
    EVP_MD_CTX_free(md5);
    return md5b64;
}

static void test_blob_blocks_ranges_listing(void **state)
{
    (void)state;
    aos_azure_client_t *c = client();
    char ct[64];
    name(ct, sizeof ct, "blobs-");
    assert_int_equal(aos_azure_container_create(c, ct), AOS_OK);
    assert_int_equal(aos_azure_container_create(c, ct), AOS_OK);

    /* small blob in one request */
    const char *small = "hello blob";
    assert_int_equal(aos_azure_blob_put(c, ct, "dir/small.txt", small, strlen(small), "text/plain"),
                     AOS_OK);
    aos_azure_blob_props_t props;
    assert_int_equal(aos_azure_blob_properties(c, ct, "dir/small.txt", &props), AOS_OK);
    assert_int_equal(props.content_length, (int64_t)strlen(small));
    assert_string_equal(props.content_type, "text/plain");
    assert_string_equal(props.content_md5, "d7BI/EKi9fb2czjYPjWmqw==");

    /* a 3-block blob of 5 MiB written block by block */
    const size_t block = 2 * 1024 * 1024, total = 5 * 1024 * 1024 + 123;
    char *md5b64 = upload_blocks(c, ct, block, total);
    unsigned char digest[16];
    unsigned int dl = 0;

    /* whole read streams through the sink; MD5 matches */
    collect_t k = {0};
    k.md5 = EVP_MD_CTX_new();
    EVP_DigestInit_ex(k.md5, EVP_md5(), NULL);
    assert_int_equal(
        aos_azure_blob_get(c, ct, "big name.bin", 0, 0, NULL, collect_sink, &k, &props), AOS_OK);
    char mv[64];
    assert_true(aos_azure_blob_props_meta(&props, "aossha256", mv, sizeof mv));
    assert_string_equal(mv, "abc123");
    assert_true(aos_azure_blob_props_meta(&props, "origin", mv, sizeof mv));
    assert_string_equal(mv, "test");
    assert_false(aos_azure_blob_props_meta(&props, "absent", mv, sizeof mv));
    EVP_DigestFinal_ex(k.md5, digest, &dl);
    char *got_md5;
    assert_int_equal(aos_base64_encode(digest, dl, &got_md5, NULL), AOS_OK);
    assert_string_equal(got_md5, md5b64);
    assert_string_equal(props.content_md5, md5b64);
    assert_int_equal(props.content_length, (int64_t)total);
    assert_string_equal(props.content_type, "application/x-test");
    EVP_MD_CTX_free(k.md5);
    k.md5 = NULL;

    /* range read across a block boundary */
    unsigned char want[1000], got[1000];
    pattern(want, sizeof want, block - 500);
    collect_t r = {.data = got, .cap = sizeof got};
    assert_int_equal(aos_azure_blob_get(c, ct, "big name.bin", (int64_t)block - 500, 1000,
                                        props.etag, collect_sink, &r, &props),
                     AOS_OK);
    assert_int_equal(r.len, 1000);
    assert_memory_equal(got, want, 1000);
    assert_int_equal(props.content_length, (int64_t)total);

    check_listing(c, ct, strlen(small));

    assert_int_equal(aos_azure_blob_delete(c, ct, "dir/small.txt"), AOS_OK);
    assert_int_equal(aos_azure_blob_properties(c, ct, "dir/small.txt", &props), AOS_ERR_NOT_FOUND);
    assert_int_equal(aos_azure_blob_get(c, ct, "nope", 0, 0, NULL, collect_sink, &k, NULL),
                     AOS_ERR_NOT_FOUND);
    /* a changed blob is detected by its ETag; reading past the end is 416 */
    assert_int_equal(
        aos_azure_blob_get(c, ct, "big name.bin", 0, 10, "\"0x0\"", collect_sink, &k, NULL),
        AOS_ERR_CONFLICT);
    assert_int_equal(aos_azure_blob_get(c, ct, "big name.bin", (int64_t)total + 10, 10, NULL,
                                        collect_sink, &k, NULL),
                     AOS_ERR_INVALID);
    assert_int_equal(aos_azure_client_status(c), 416);
    assert_int_equal(aos_azure_container_delete(c, ct), AOS_OK);
    free(md5b64);
    free(got_md5);
    aos_azure_client_free(c);
}

static void test_queue_roundtrip(void **state)
{
    (void)state;
    aos_azure_client_t *c = client();
    char q[64];
    name(q, sizeof q, "events-");
    assert_int_equal(aos_azure_queue_create(c, q), AOS_OK);
    assert_int_equal(aos_azure_queue_create(c, q), AOS_OK);
    const char *m1 = "{\"type\":\"aos.agent.action\",\"text\":\"<&>\"}";
    assert_int_equal(aos_azure_queue_put(c, q, m1, strlen(m1), 0, 0), AOS_OK);
    assert_int_equal(aos_azure_queue_put(c, q, "second", 6, 0, 60), AOS_OK);

    aos_azure_queue_msgs_t *msgs = NULL;
    assert_int_equal(aos_azure_queue_peek(c, q, 32, &msgs), AOS_OK);
    assert_int_equal(msgs->count, 2);
    assert_null(msgs->items[0].pop_receipt);
    aos_azure_queue_msgs_free(msgs);

    assert_int_equal(aos_azure_queue_get(c, q, 1, 30, &msgs), AOS_OK);
    assert_int_equal(msgs->count, 1);
    assert_int_equal(msgs->items[0].data_len, strlen(m1));
    assert_memory_equal(msgs->items[0].data, m1, strlen(m1));
    assert_int_equal(msgs->items[0].dequeue_count, 1);
    assert_int_equal(
        aos_azure_queue_delete_message(c, q, msgs->items[0].message_id, msgs->items[0].pop_receipt),
        AOS_OK);
    assert_int_equal(
        aos_azure_queue_delete_message(c, q, msgs->items[0].message_id, msgs->items[0].pop_receipt),
        AOS_ERR_NOT_FOUND);
    aos_azure_queue_msgs_free(msgs);

    assert_int_equal(aos_azure_queue_get(c, q, 32, 30, &msgs), AOS_OK);
    assert_int_equal(msgs->count, 1);
    assert_memory_equal(msgs->items[0].data, "second", 6);
    aos_azure_queue_msgs_free(msgs);
    assert_int_equal(aos_azure_queue_get(c, q, 32, 30, &msgs), AOS_OK);
    assert_int_equal(msgs->count, 0); /* the other one is invisible now */
    aos_azure_queue_msgs_free(msgs);
    /* raw text, as @azure/storage-queue sends it: comes back as text, not base64 data */
    const char *raw = "{\"t\":\"<a & b>\",\"q\":\"\u00e9\"}\n";
    assert_int_equal(aos_azure_queue_put_text(c, q, raw, 0, -1), AOS_OK);
    assert_int_equal(aos_azure_queue_get(c, q, 32, 30, &msgs), AOS_OK);
    assert_int_equal(msgs->count, 1);
    assert_string_equal(msgs->items[0].text, raw);
    aos_azure_queue_msgs_free(msgs);
    assert_int_equal(aos_azure_queue_delete(c, q), AOS_OK);
    aos_azure_client_free(c);
}

static void test_table_batch_is_atomic(void **state)
{
    (void)state;
    aos_azure_client_t *c = client();
    char t[64];
    name(t, sizeof t, "batch");
    assert_int_equal(aos_azure_table_create(c, t), AOS_OK);
    json_object *a = entity("p", "a", "A", 1), *b = entity("p", "b", "B", 2);
    aos_azure_batch_op_t ops[2] = {{AOS_AZURE_BATCH_INSERT, a, NULL},
                                   {AOS_AZURE_BATCH_INSERT, b, NULL}};
    assert_int_equal(aos_azure_table_batch(c, t, ops, 2), AOS_OK);
    char etag[256];
    json_object *got = NULL;
    assert_int_equal(aos_azure_entity_get(c, t, "p", "b", &got, etag, sizeof etag), AOS_OK);
    json_object_put(got);

    /* an insert of a new row plus one of an existing row: neither happens */
    json_object *c2 = entity("p", "c", "C", 3);
    aos_azure_batch_op_t bad[2] = {{AOS_AZURE_BATCH_INSERT, c2, NULL},
                                   {AOS_AZURE_BATCH_INSERT, a, NULL}};
    assert_int_equal(aos_azure_table_batch(c, t, bad, 2), AOS_ERR_CONFLICT);
    assert_int_equal(aos_azure_entity_get(c, t, "p", "c", &got, NULL, 0), AOS_ERR_NOT_FOUND);

    /* a stale ETag fails the whole transaction too */
    json_object *b2 = entity("p", "b", "B2", 4);
    aos_azure_batch_op_t upd[2] = {{AOS_AZURE_BATCH_REPLACE, b2, etag},
                                   {AOS_AZURE_BATCH_DELETE, a, NULL}};
    assert_int_equal(aos_azure_table_batch(c, t, upd, 2), AOS_OK);
    assert_int_equal(aos_azure_entity_get(c, t, "p", "a", &got, NULL, 0), AOS_ERR_NOT_FOUND);
    aos_azure_batch_op_t stale[2] = {{AOS_AZURE_BATCH_INSERT, c2, NULL},
                                     {AOS_AZURE_BATCH_MERGE, b2, etag}};
    assert_int_equal(aos_azure_table_batch(c, t, stale, 2), AOS_ERR_CONFLICT);
    assert_int_equal(aos_azure_entity_get(c, t, "p", "c", &got, NULL, 0), AOS_ERR_NOT_FOUND);

    /* operations on two partitions are refused before anything is sent */
    json_object *other = entity("q", "x", "X", 0);
    aos_azure_batch_op_t mixed[2] = {{AOS_AZURE_BATCH_INSERT, c2, NULL},
                                     {AOS_AZURE_BATCH_INSERT, other, NULL}};
    assert_int_equal(aos_azure_table_batch(c, t, mixed, 2), AOS_ERR_INVALID);
    json_object_put(a);
    json_object_put(b);
    json_object_put(b2);
    json_object_put(c2);
    json_object_put(other);

    /* the ~12 requests above reused a kept-alive connection (Azurite keeps idle ones for 5 s;
     * the bound leaves room for a reconnect on a stalled machine) */
    assert_true(aos_azure_client_connections(c) >= 1);
    assert_true(aos_azure_client_connections(c) <= 3);
    assert_int_equal(aos_azure_table_delete(c, t), AOS_OK);
    aos_azure_client_free(c);
}

static void test_errors_are_mapped(void **state)
{
    (void)state;
    /* wrong key: the service refuses the signature */
    char bad[2048];
    snprintf(bad, sizeof bad, "%s", conn_string);
    char *k = strstr(bad, "AccountKey=");
    assert_non_null(k);
    memcpy(k + strlen("AccountKey="), "AAAA", 4);
    aos_azure_client_t *c = NULL;
    char err[256];
    assert_int_equal(aos_azure_client_new_from_string(bad, &c, err, sizeof err), AOS_OK);
    assert_int_equal(aos_azure_table_create(c, "authfails"), AOS_ERR_AUTH);
    assert_true(strstr(aos_azure_client_error(c), "403") != NULL);
    aos_azure_client_free(c);

    /* nothing listening: transient */
    assert_int_equal(
        aos_azure_client_new_from_string(
            "UseDevelopmentStorage=true;TableEndpoint=http://127.0.0.1:1/devstoreaccount1", &c, err,
            sizeof err),
        AOS_OK);
    assert_int_equal(aos_azure_table_create(c, "unreachable"), AOS_ERR_UNAVAILABLE);
    assert_true(strstr(aos_azure_client_error(c), "transport") != NULL);
    aos_azure_client_free(c);
}

int main(void)
{
    if (aos_test_fixture_read("azurite", "connection_string", conn_string, sizeof conn_string))
        return 1;
    unsigned char r[4];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(r, 1, sizeof r, f) != sizeof r)
        return 1;
    fclose(f);
    snprintf(suffix, sizeof suffix, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_crud_and_etag),
        cmocka_unit_test(test_table_paging_and_filters),
        cmocka_unit_test(test_blob_blocks_ranges_listing),
        cmocka_unit_test(test_queue_roundtrip),
        cmocka_unit_test(test_table_batch_is_atomic),
        cmocka_unit_test(test_errors_are_mapped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
