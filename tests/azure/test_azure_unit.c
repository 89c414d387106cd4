/* Unit tests of the pure parts of the Azure Storage client: connection strings, SharedKey
 * strings-to-sign and signatures (checked against the openssl CLI), base64, dates, the OData
 * filter builder, the XML listing parsers, name rules and entity helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "aos/base64.h"
#include "aos/azure_storage.h"

#define KEY_B64                                                                                    \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static void test_conn_account(void **state)
{
    (void)state;
    aos_azure_conn_t *c = NULL;
    char err[256];
    assert_int_equal(aos_azure_conn_parse(" DefaultEndpointsProtocol=https;accountname=myacct;"
                                          "AccountKey=" KEY_B64
                                          ";EndpointSuffix=core.chinacloudapi.cn;",
                                          &c, err, sizeof err),
                     AOS_OK);
    assert_string_equal(c->account_name, "myacct");
    assert_int_equal(c->account_key_len, 64);
    assert_string_equal(c->endpoint[AOS_AZURE_BLOB], "https://myacct.blob.core.chinacloudapi.cn");
    assert_string_equal(c->endpoint[AOS_AZURE_QUEUE], "https://myacct.queue.core.chinacloudapi.cn");
    assert_string_equal(c->endpoint[AOS_AZURE_TABLE], "https://myacct.table.core.chinacloudapi.cn");
    aos_azure_conn_free(c);

    /* default suffix, explicit endpoint with trailing slash wins */
    assert_int_equal(aos_azure_conn_parse("AccountName=a1;AccountKey=" KEY_B64
                                          ";TableEndpoint=https://tables.example.com/",
                                          &c, err, sizeof err),
                     AOS_OK);
    assert_string_equal(c->endpoint[AOS_AZURE_BLOB], "https://a1.blob.core.windows.net");
    assert_string_equal(c->endpoint[AOS_AZURE_TABLE], "https://tables.example.com");
    aos_azure_conn_free(c);
}

static void test_conn_development(void **state)
{
    (void)state;
    aos_azure_conn_t *c = NULL;
    char err[256];
    assert_int_equal(aos_azure_conn_parse("UseDevelopmentStorage=true", &c, err, sizeof err),
                     AOS_OK);
    assert_string_equal(c->account_name, "devstoreaccount1");
    assert_string_equal(c->endpoint[AOS_AZURE_BLOB], "http://127.0.0.1:10000/devstoreaccount1");
    assert_string_equal(c->endpoint[AOS_AZURE_QUEUE], "http://127.0.0.1:10001/devstoreaccount1");
    assert_string_equal(c->endpoint[AOS_AZURE_TABLE], "http://127.0.0.1:10002/devstoreaccount1");
    aos_azure_conn_free(c);
    /* fixture style: dev storage on other ports */
    assert_int_equal(
        aos_azure_conn_parse("UseDevelopmentStorage=TRUE;BlobEndpoint=http://127.0.0.1:40000/"
                             "devstoreaccount1",
                             &c, err, sizeof err),
        AOS_OK);
    assert_string_equal(c->endpoint[AOS_AZURE_BLOB], "http://127.0.0.1:40000/devstoreaccount1");
    assert_string_equal(c->endpoint[AOS_AZURE_TABLE], "http://127.0.0.1:10002/devstoreaccount1");
    aos_azure_conn_free(c);
}

static void test_conn_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "AccountName=a",                       /* no key */
        "AccountKey=" KEY_B64,                 /* no name */
        "AccountName=a;AccountKey=not*base64", /* bad key */
        "AccountName=a;AccountKey=QQ=",        /* not a multiple of 4 */
        "AccountName=a;AccountKey=" KEY_B64 ";DefaultEndpointsProtocol=ftp",
        "AccountName=a;AccountKey=" KEY_B64 ";BlobEndpoint=ftp://x",
        "AccountName=a;AccountKey=" KEY_B64 ";BlobEndpoint=http://",
        "AccountName=a b;AccountKey=" KEY_B64,
        "UseDevelopmentStorage=false",
        "UseDevelopmentStorage=true;justtext",
        "AccountName=a;AccountKey=" KEY_B64 ";EndpointSuffix=evil/path",
        /* the one splitter (aos/connstr.h) with the Service Bus parser: a key twice, control
         * characters */
        "AccountName=a;AccountKey=" KEY_B64 ";accountname=b",
        "AccountName=a;AccountKey=" KEY_B64 ";BlobEndpoint=http://x/\x01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        aos_azure_conn_t *c = (aos_azure_conn_t *)1;
        char err[256] = "";
        aos_result r = aos_azure_conn_parse(bad[i], &c, err, sizeof err);
        if (r == AOS_OK)
            fail_msg("accepted: %s", bad[i]);
        assert_null(c);
        assert_true(err[0] != '\0' || r == AOS_ERR_INVALID);
        assert_null(strstr(err, KEY_B64)); /* the key never appears in a message */
    }
    aos_azure_conn_t *c = NULL;
    assert_int_equal(aos_azure_conn_parse(NULL, &c, NULL, 0), AOS_ERR_INVALID);
}

static void test_string_to_sign_blob(void **state)
{
    (void)state;
    const aos_azure_header_t h[] = {{"x-ms-version", "2021-08-06"},
                                    {"X-MS-Date", "Tue, 24 Nov 2026 01:19:18 GMT"},
                                    {"Content-Length", "11"},
                                    {"Content-Type", "application/octet-stream"},
                                    {"Content-MD5", "d7BI/EKi9fb2czjYPjWmqw=="},
                                    {"x-ms-blob-type", " BlockBlob "},
                                    {"If-Match", "\"0x1\""}};
    char *s = NULL;
    assert_int_equal(aos_azure_string_to_sign(AOS_AZURE_BLOB, "devstoreaccount1", "PUT",
                                              "http://127.0.0.1:10000/devstoreaccount1/c1/a%20b.txt"
                                              "?comp=block&blockid=YWI%3D&Timeout=30",
                                              h, 7, &s),
                     AOS_OK);
    assert_string_equal(s, "PUT\n\n\n11\nd7BI/EKi9fb2czjYPjWmqw==\napplication/octet-stream\n\n\n"
                           "\"0x1\"\n\n\n\n"
                           "x-ms-blob-type:BlockBlob\nx-ms-date:Tue, 24 Nov 2026 01:19:18 GMT\n"
                           "x-ms-version:2021-08-06\n"
                           "/devstoreaccount1/devstoreaccount1/c1/a%20b.txt\nblockid:YWI=\n"
                           "comp:block\ntimeout:30");
    free(s);
    /* Content-Length 0 is signed as empty; no query, host only URL */
    const aos_azure_header_t h0[] = {{"Content-Length", "0"}, {"x-ms-date", "D"}};
    assert_int_equal(aos_azure_string_to_sign(AOS_AZURE_QUEUE, "acct", "GET",
                                              "https://acct.queue.core.windows.net", h0, 2, &s),
                     AOS_OK);
    assert_string_equal(s, "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:D\n/acct/");
    free(s);
}

static void test_string_to_sign_table(void **state)
{
    (void)state;
    const aos_azure_header_t h[] = {{"x-ms-date", "Tue, 24 Nov 2026 01:19:18 GMT"},
                                    {"x-ms-version", "2021-08-06"},
                                    {"Content-Type", "application/json"},
                                    {"Content-Length", "40"}};
    char *s = NULL;
    assert_int_equal(aos_azure_string_to_sign(AOS_AZURE_TABLE, "acct", "PUT",
                                              "https://acct.table.core.windows.net/t1(PartitionKey="
                                              "'a%27%27b',RowKey='r')?$filter=x&comp=metadata",
                                              h, 4, &s),
                     AOS_OK);
    assert_string_equal(s, "PUT\n\napplication/json\nTue, 24 Nov 2026 01:19:18 GMT\n"
                           "/acct/t1(PartitionKey='a%27%27b',RowKey='r')?comp=metadata");
    free(s);
}

/* HMAC-SHA256 by the openssl CLI, base64-encoded: an implementation independent of ours. */
static void openssl_hmac_b64(const char *data, const unsigned char *key, size_t keylen, char *out,
                             size_t outlen)
{
    char hexkey[200] = "";
    for (size_t i = 0; i < keylen; i++)
        snprintf(hexkey + 2 * i, 3, "%02x", key[i]);
    char tmpl[] = "/tmp/aos-azure-sts-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    fwrite(data, 1, strlen(data), f);
    fclose(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -binary < %s | base64 -w0", hexkey,
             tmpl);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    pclose(p);
    remove(tmpl);
}

static void test_authorization_matches_openssl(void **state)
{
    (void)state;
    aos_azure_conn_t *c = NULL;
    assert_int_equal(aos_azure_conn_parse("UseDevelopmentStorage=true", &c, NULL, 0), AOS_OK);
    const char *sts = "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Tue, 24 Nov 2026 01:19:18 GMT\n"
                      "x-ms-version:2021-08-06\n/devstoreaccount1/devstoreaccount1/c\n"
                      "comp:list\nrestype:container";
    char auth[256], want[128], expect[200];
    assert_int_equal(aos_azure_authorization(c, sts, auth, sizeof auth), AOS_OK);
    openssl_hmac_b64(sts, c->account_key, c->account_key_len, want, sizeof want);
    assert_int_equal(strlen(want), 44);
    snprintf(expect, sizeof expect, "SharedKey devstoreaccount1:%s", want);
    assert_string_equal(auth, expect);
    char tiny[10];
    assert_int_equal(aos_azure_authorization(c, sts, tiny, sizeof tiny), AOS_ERR_TOO_LARGE);
    aos_azure_conn_free(c);
}

static void test_base64_and_date(void **state)
{
    (void)state;
    static const char *const vec[][2] = {
        {"", ""},        {"f", "Zg=="},        {"fo", "Zm8="},
        {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}};
    for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
        char *e;
        unsigned char *d;
        size_t dl;
        assert_int_equal(aos_base64_encode(vec[i][0], strlen(vec[i][0]), &e, NULL), AOS_OK);
        assert_string_equal(e, vec[i][1]);
        assert_int_equal(aos_base64_decode(e, strlen(e), &d, &dl), AOS_OK);
        assert_int_equal(dl, strlen(vec[i][0]));
        assert_memory_equal(d, vec[i][0], dl);
        free(e);
        free(d);
    }
    static const char *const bad[] = {"Zg", "Zg=A", "Z===", "Zh==", "Zm9v!A==", "=Zg="};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        unsigned char *d = NULL;
        size_t dl;
        if (aos_base64_decode(bad[i], strlen(bad[i]), &d, &dl) == AOS_OK)
            fail_msg("accepted %s", bad[i]);
    }
    char date[30];
    aos_azure_http_date(0, date);
    assert_string_equal(date, "Thu, 01 Jan 1970 00:00:00 GMT");
    aos_azure_http_date(1700000000, date);
    assert_string_equal(date, "Tue, 14 Nov 2023 22:13:20 GMT");
    int64_t t = 0;
    assert_true(aos_azure_http_date_parse(date, &t));
    assert_int_equal(t, 1700000000);
    assert_false(aos_azure_http_date_parse("Tue, 14 Nov 2023 22:13:20", &t));
    assert_false(aos_azure_http_date_parse("yesterday", &t));
    assert_false(aos_azure_http_date_parse(NULL, &t));
    char id0[32], id1[32];
    aos_azure_block_id(0, id0);
    aos_azure_block_id(4000000000u, id1);
    assert_int_equal(strlen(id0), strlen(id1));
}

static void test_odata_builder(void **state)
{
    (void)state;
    aos_odata_filter_t *f, *g;
    assert_int_equal(aos_odata_filter_new(&f), AOS_OK);
    assert_string_equal(aos_odata_filter_str(f), "");
    assert_int_equal(aos_odata_filter_string(f, "PartitionKey", AOS_ODATA_EQ, "a' or 'x'='x"),
                     AOS_OK);
    assert_int_equal(aos_odata_filter_int64(f, "Seq", AOS_ODATA_GT, -5), AOS_OK);
    assert_int_equal(aos_odata_filter_new_or(&g), AOS_OK);
    assert_int_equal(aos_odata_filter_bool(g, "Done", AOS_ODATA_NE, true), AOS_OK);
    assert_int_equal(aos_odata_filter_int32(g, "N", AOS_ODATA_LE, 7), AOS_OK);
    assert_int_equal(aos_odata_filter_group(f, g), AOS_OK);
    assert_string_equal(aos_odata_filter_str(f),
                        "PartitionKey eq 'a'' or ''x''=''x' and Seq gt -5L and "
                        "(Done ne true or N le 7)");
    aos_odata_filter_free(g);
    /* a bad property name fails the builder for good */
    assert_int_equal(aos_odata_filter_string(f, "Name) or (1", AOS_ODATA_EQ, "x"), AOS_ERR_INVALID);
    assert_null(aos_odata_filter_str(f));
    assert_int_equal(aos_odata_filter_int32(f, "N", AOS_ODATA_EQ, 1), AOS_ERR_INVALID);
    aos_odata_filter_free(f);
    assert_int_equal(aos_odata_filter_new(&f), AOS_OK);
    assert_int_equal(aos_odata_filter_string(f, "P", AOS_ODATA_EQ, "\xff\xfe"), AOS_ERR_INVALID);
    assert_null(aos_odata_filter_str(f));
    aos_odata_filter_free(f);
    assert_int_equal(aos_odata_filter_new(&f), AOS_OK);
    assert_int_equal(aos_odata_filter_string(f, "9bad", AOS_ODATA_EQ, "x"), AOS_ERR_INVALID);
    aos_odata_filter_free(f);
    aos_odata_filter_free(NULL);
}

static const char listing_xml[] =
    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"
    "<EnumerationResults ServiceEndpoint=\"http://127.0.0.1:10000/devstoreaccount1\" "
    "ContainerName='c'><Prefix/><MaxResults>2</MaxResults><!-- a comment -->"
    "<Blobs><Blob><Name>a &amp; b&#x2F;&#233;.txt</Name><Properties>"
    "<Last-Modified>Tue, 24 Nov 2026 01:19:18 GMT</Last-Modified><Etag>0x8D</Etag>"
    "<Content-Length>11</Content-Length><Content-Type>text/plain</Content-Type>"
    "<Content-MD5>d7BI/EKi9fb2czjYPjWmqw==</Content-MD5></Properties>"
    "<Metadata><AosSha256>abc</AosSha256></Metadata></Blob>"
    "<BlobPrefix><Name>dir/</Name></BlobPrefix>"
    "<Blob><Name><![CDATA[x<y]]></Name><Properties><Content-Length>0</Content-Length>"
    "<Content-Type /></Properties></Blob></Blobs>"
    "<NextMarker>2!40!bWFy</NextMarker></EnumerationResults>\n";

static void test_listing_parser(void **state)
{
    (void)state;
    aos_azure_blob_list_t *l = NULL;
    char err[256];
    assert_int_equal(
        aos_azure_blob_list_parse(listing_xml, strlen(listing_xml), &l, err, sizeof err), AOS_OK);
    assert_int_equal(l->count, 2);
    assert_string_equal(l->items[0].name, "a & b/\xc3\xa9.txt");
    assert_int_equal(l->items[0].content_length, 11);
    assert_string_equal(l->items[0].content_type, "text/plain");
    assert_string_equal(l->items[0].content_md5, "d7BI/EKi9fb2czjYPjWmqw==");
    assert_string_equal(l->items[0].etag, "0x8D");
    assert_int_equal(l->items[0].meta_count, 1);
    assert_string_equal(l->items[0].meta_names[0], "aossha256");
    assert_string_equal(l->items[0].meta_values[0], "abc");
    assert_string_equal(l->items[1].name, "x<y");
    assert_null(l->items[1].content_type);
    assert_string_equal(l->next_marker, "2!40!bWFy");
    aos_azure_blob_list_free(l);

    const char *empty = "<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>";
    assert_int_equal(aos_azure_blob_list_parse(empty, strlen(empty), &l, err, sizeof err), AOS_OK);
    assert_int_equal(l->count, 0);
    assert_null(l->next_marker);
    aos_azure_blob_list_free(l);
    aos_azure_blob_list_free(NULL);
}

static void test_listing_parser_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "not xml",
        "<EnumerationResults>",
        "<EnumerationResults></Other>",
        "<Other/>",
        "<EnumerationResults><Blobs><Blob><Properties><Content-Length>1</Content-Length>"
        "</Properties></Blob></Blobs></EnumerationResults>", /* no name */
        "<EnumerationResults><Blobs><Blob><Name>n</Name><Properties><Content-Length>-1"
        "</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs><Blob><Name>&bogus;</Name></Blob></Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs><Blob><Name>&#0;</Name></Blob></Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs><Blob><Name>\xff</Name><Properties><Content-Length>1"
        "</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
        "<EnumerationResults a=\"1></EnumerationResults>",
        "<EnumerationResults/><extra/>",
        "<EnumerationResults><![CDATA[x</EnumerationResults>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        aos_azure_blob_list_t *l = (aos_azure_blob_list_t *)1;
        char err[256] = "";
        if (aos_azure_blob_list_parse(bad[i], strlen(bad[i]), &l, err, sizeof err) == AOS_OK)
            fail_msg("accepted case %zu", i);
        assert_null(l);
        assert_true(err[0] != '\0');
    }
    /* nesting deeper than the limit is refused, not recursed into */
    char deep[4096] = "";
    for (int i = 0; i < 200; i++)
        strcat(deep, "<a>");
    aos_azure_blob_list_t *l = NULL;
    char err[256];
    assert_int_equal(aos_azure_blob_list_parse(deep, strlen(deep), &l, err, sizeof err),
                     AOS_ERR_PROTOCOL);
}

static void test_queue_parser(void **state)
{
    (void)state;
    const char *xml = "<?xml version=\"1.0\"?><QueueMessagesList><QueueMessage>"
                      "<MessageId>id-1</MessageId><InsertionTime>t</InsertionTime>"
                      "<PopReceipt>AgAAAA==</PopReceipt><DequeueCount>3</DequeueCount>"
                      "<MessageText>aGVsbG8=</MessageText></QueueMessage></QueueMessagesList>";
    aos_azure_queue_msgs_t *m = NULL;
    char err[256];
    assert_int_equal(aos_azure_queue_msgs_parse(xml, strlen(xml), &m, err, sizeof err), AOS_OK);
    assert_int_equal(m->count, 1);
    assert_string_equal(m->items[0].message_id, "id-1");
    assert_string_equal(m->items[0].pop_receipt, "AgAAAA==");
    assert_int_equal(m->items[0].dequeue_count, 3);
    assert_int_equal(m->items[0].data_len, 5);
    assert_string_equal((char *)m->items[0].data, "hello");
    aos_azure_queue_msgs_free(m);
    /* raw text (@azure/storage-queue's default): kept as text, no base64 data */
    const char *raw = "<QueueMessagesList><QueueMessage><MessageId>x</MessageId>"
                      "<MessageText>{&quot;a&quot;:&lt;1&gt;} !!</MessageText></QueueMessage>"
                      "</QueueMessagesList>";
    assert_int_equal(aos_azure_queue_msgs_parse(raw, strlen(raw), &m, err, sizeof err), AOS_OK);
    assert_string_equal(m->items[0].text, "{\"a\":<1>} !!");
    assert_null(m->items[0].data);
    assert_int_equal(m->items[0].data_len, 0);
    aos_azure_queue_msgs_free(m);
    const char *bad = "<QueueMessagesList><QueueMessage><MessageId>x</MessageId>"
                      "</QueueMessage></QueueMessagesList>";
    assert_int_equal(aos_azure_queue_msgs_parse(bad, strlen(bad), &m, err, sizeof err),
                     AOS_ERR_PROTOCOL);
    assert_null(m);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(aos_azure_table_name_valid("aosmessages"));
    assert_false(aos_azure_table_name_valid("1abc"));
    assert_false(aos_azure_table_name_valid("ab"));
    assert_false(aos_azure_table_name_valid("a-b-c"));
    assert_false(aos_azure_table_name_valid("tables"));
    assert_true(aos_azure_container_name_valid("aos-uploads"));
    assert_false(aos_azure_container_name_valid("Upper"));
    assert_false(aos_azure_container_name_valid("a--b"));
    assert_false(aos_azure_container_name_valid("-ab"));
    assert_false(aos_azure_container_name_valid("ab-"));
    assert_true(aos_azure_key_valid("c-1:x.y 'quoted'"));
    assert_true(aos_azure_key_valid(""));
    assert_false(aos_azure_key_valid("a/b"));
    assert_false(aos_azure_key_valid("a#b"));
    assert_false(aos_azure_key_valid("a\nb"));
    assert_false(aos_azure_key_valid(NULL));
    assert_true(aos_azure_blob_name_valid("dir/x y.bin"));
    assert_false(aos_azure_blob_name_valid(""));
    assert_false(aos_azure_blob_name_valid(".."));
    assert_false(aos_azure_blob_name_valid("a\x01"));
}

static void test_entity_text_parts(void **state)
{
    (void)state;
    size_t n = 100000;
    char *text = malloc(n + 1);
    for (size_t i = 0; i < n; i += 2) { /* "é" repeated: a split must not cut one in half */
        text[i] = (char)0xc3;
        text[i + 1] = (char)0xa9;
    }
    text[n] = '\0';
    json_object *e = json_object_new_object();
    assert_int_equal(aos_azure_entity_set_text(e, "Content", text), AOS_OK);
    assert_int_equal(aos_azure_entity_set_int64(e, "Seq", 1234567890123LL), AOS_OK);
    int64_t parts = 0, seq = 0;
    assert_true(aos_azure_entity_get_int64(e, "Content_parts", &parts));
    assert_int_equal(parts, 4);
    for (int i = 0; i < parts; i++) {
        char k[32];
        snprintf(k, sizeof k, i ? "Content_%d" : "Content", i);
        const char *p = aos_azure_entity_get_string(e, k);
        assert_non_null(p);
        assert_true(strlen(p) <= 30000);
        assert_true(strlen(p) % 2 == 0);
    }
    char *back = NULL;
    assert_int_equal(aos_azure_entity_get_text(e, "Content", &back), AOS_OK);
    assert_string_equal(back, text);
    free(back);
    assert_true(aos_azure_entity_get_int64(e, "Seq", &seq));
    assert_int_equal(seq, 1234567890123LL);
    assert_string_equal(aos_azure_entity_get_string(e, "Seq@odata.type"), "Edm.Int64");
    json_object_object_del(e, "Content_2");
    assert_int_equal(aos_azure_entity_get_text(e, "Content", &back), AOS_ERR_PROTOCOL);
    assert_int_equal(aos_azure_entity_get_text(e, "Nope", &back), AOS_ERR_NOT_FOUND);
    json_object_put(e);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_account),
        cmocka_unit_test(test_conn_development),
        cmocka_unit_test(test_conn_errors),
        cmocka_unit_test(test_string_to_sign_blob),
        cmocka_unit_test(test_string_to_sign_table),
        cmocka_unit_test(test_authorization_matches_openssl),
        cmocka_unit_test(test_base64_and_date),
        cmocka_unit_test(test_odata_builder),
        cmocka_unit_test(test_listing_parser),
        cmocka_unit_test(test_listing_parser_rejects),
        cmocka_unit_test(test_queue_parser),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_entity_text_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
