/* The shared backend suite (see backend_suite.h). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cmocka.h>

#include "backend_suite.h"

typedef struct suite {
    aos_storage_backend_factory factory;
    void *ctx;
    storage_backend_t *be;
} suite_t;

static suite_t g_suite;
static char g_err[512];

#define BE (g_suite.be)
#define OPS (g_suite.be->ops)
#define CHECK(expr)                                                                                \
    do {                                                                                           \
        aos_result r_ = (expr);                                                                    \
        if (r_ != AOS_OK)                                                                          \
            fail_msg("%s -> %s (%s)", #expr, aos_result_str(r_), g_err);                           \
    } while (0)
#define EXPECT(code, expr) assert_int_equal((code), (expr))

/* A fresh name: prefix + 12 random hex digits. */
static void fresh(char *out, size_t len, const char *prefix)
{
    unsigned char b[6];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        memset(b, 7, sizeof b);
    snprintf(out, len, "%s%02x%02x%02x%02x%02x%02x", prefix, b[0], b[1], b[2], b[3], b[4], b[5]);
}

static int setup(void **state)
{
    (void)state;
    return g_suite.factory(g_suite.ctx, &g_suite.be, g_err, sizeof g_err) == AOS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    storage_backend_free(g_suite.be);
    g_suite.be = NULL;
    return 0;
}

static void make_conv(const char *id, const char *agent)
{
    aos_storage_conversation_t in = {.id = (char *)id, .agent = (char *)agent};
    aos_storage_conversation_t out = {0};
    bool created = false;
    CHECK(OPS->conversation_create(BE, &in, &out, &created, g_err, sizeof g_err));
    assert_true(created);
    aos_storage_conversation_clear(&out);
}

static aos_result append(const char *conv, const char *id, const char *content, int64_t expect,
                         aos_storage_message_t *out, bool *created)
{
    aos_storage_message_t in = {.conversation_id = (char *)conv,
                                .id = (char *)id,
                                .role = "user",
                                .content = (char *)content,
                                .metadata_json = "{\"k\":1}"};
    return OPS->message_append(BE, &in, expect, out, created, g_err, sizeof g_err);
}

static void test_health(void **state)
{
    (void)state;
    CHECK(OPS->health(BE, g_err, sizeof g_err));
}

static void test_conversation_create_get(void **state)
{
    (void)state;
    char id[64], agent[64];
    fresh(id, sizeof id, "c-");
    fresh(agent, sizeof agent, "agent-");
    aos_storage_conversation_t in = {.id = id, .agent = agent, .metadata_json = "{\"a\":\"b\"}"};
    aos_storage_conversation_t out = {0}, again = {0};
    bool created = false;
    EXPECT(AOS_ERR_NOT_FOUND, OPS->conversation_get(BE, id, &out, g_err, sizeof g_err));
    aos_storage_conversation_clear(&out);
    CHECK(OPS->conversation_create(BE, &in, &out, &created, g_err, sizeof g_err));
    assert_true(created);
    assert_string_equal(out.id, id);
    assert_string_equal(out.agent, agent);
    assert_string_equal(out.metadata_json, "{\"a\":\"b\"}");
    assert_int_equal(out.version, 0);
    /* same again: idempotent */
    CHECK(OPS->conversation_create(BE, &in, &again, &created, g_err, sizeof g_err));
    assert_false(created);
    assert_int_equal(again.created_ms, out.created_ms);
    aos_storage_conversation_clear(&again);
    /* other agent: conflict */
    in.agent = "someone-else";
    EXPECT(AOS_ERR_CONFLICT,
           OPS->conversation_create(BE, &in, &again, &created, g_err, sizeof g_err));
    aos_storage_conversation_clear(&again);
    CHECK(OPS->conversation_get(BE, id, &again, g_err, sizeof g_err));
    assert_string_equal(again.agent, agent);
    aos_storage_conversation_clear(&again);
    aos_storage_conversation_clear(&out);
}

static void test_conversation_list(void **state)
{
    (void)state;
    char agent[64], ids[7][64];
    fresh(agent, sizeof agent, "lister-");
    for (int i = 0; i < 7; i++) {
        fresh(ids[i], sizeof ids[i], "cl-");
        make_conv(ids[i], agent);
    }
    int seen = 0;
    char *cursor = NULL;
    char last[64] = "";
    do {
        aos_storage_conversation_page_t page = {0};
        CHECK(OPS->conversation_list(BE, agent, cursor, 3, &page, g_err, sizeof g_err));
        assert_true(page.count <= 3);
        for (size_t i = 0; i < page.count; i++) {
            assert_string_equal(page.items[i].agent, agent);
            assert_true(strcmp(page.items[i].id, last) > 0);
            snprintf(last, sizeof last, "%s", page.items[i].id);
            seen++;
        }
        free(cursor);
        cursor = page.next_cursor ? strdup(page.next_cursor) : NULL;
        aos_storage_conversation_page_clear(&page);
    } while (cursor);
    assert_int_equal(seen, 7);
}

static void test_message_append_idempotent(void **state)
{
    (void)state;
    char conv[64];
    fresh(conv, sizeof conv, "c-");
    aos_storage_message_t m1 = {0}, m2 = {0}, m3 = {0};
    bool created = false;
    EXPECT(AOS_ERR_NOT_FOUND, append(conv, "m-1", "hello", -1, &m1, &created));
    aos_storage_message_clear(&m1);
    make_conv(conv, "idem");
    CHECK(append(conv, "m-1", "hello", -1, &m1, &created));
    assert_true(created);
    assert_int_equal(m1.seq, 1);
    assert_string_equal(m1.content, "hello");
    assert_string_equal(m1.role, "user");
    assert_string_equal(m1.metadata_json, "{\"k\":1}");
    CHECK(append(conv, "m-1", "hello", -1, &m2, &created));
    assert_false(created);
    assert_int_equal(m2.seq, m1.seq);
    assert_int_equal(m2.created_ms, m1.created_ms);
    EXPECT(AOS_ERR_CONFLICT, append(conv, "m-1", "other text", -1, &m3, &created));
    aos_storage_message_clear(&m3);
    aos_storage_conversation_t c = {0};
    CHECK(OPS->conversation_get(BE, conv, &c, g_err, sizeof g_err));
    assert_int_equal(c.version, 1);
    aos_storage_conversation_clear(&c);
    aos_storage_message_clear(&m1);
    aos_storage_message_clear(&m2);
}

static void test_message_ordering_guard(void **state)
{
    (void)state;
    char conv[64];
    fresh(conv, sizeof conv, "c-");
    make_conv(conv, "guard");
    aos_storage_message_t m = {0};
    bool created;
    CHECK(append(conv, "a", "one", 0, &m, &created));
    aos_storage_message_clear(&m);
    EXPECT(AOS_ERR_CONFLICT, append(conv, "b", "two", 0, &m, &created));
    aos_storage_message_clear(&m);
    CHECK(append(conv, "b", "two", 1, &m, &created));
    assert_int_equal(m.seq, 2);
    aos_storage_message_clear(&m);
    /* a replay of "a" with a stale guard still answers the stored record */
    CHECK(append(conv, "a", "one", 0, &m, &created));
    assert_false(created);
    assert_int_equal(m.seq, 1);
    aos_storage_message_clear(&m);
}

static void page_all(const char *conv, bool reverse, size_t page_size, int expect_total)
{
    int seen = 0;
    int64_t prev = reverse ? INT64_MAX : 0;
    char *cursor = NULL;
    do {
        aos_storage_message_page_t page = {0};
        CHECK(OPS->message_list(BE, conv, cursor, page_size, reverse, &page, g_err, sizeof g_err));
        for (size_t i = 0; i < page.count; i++) {
            int64_t seq = page.items[i].seq;
            assert_true(reverse ? seq < prev : seq > prev);
            prev = seq;
            char want[32];
            snprintf(want, sizeof want, "text %lld", (long long)seq);
            assert_string_equal(page.items[i].content, want);
            seen++;
        }
        free(cursor);
        cursor = page.next_cursor ? strdup(page.next_cursor) : NULL;
        aos_storage_message_page_clear(&page);
    } while (cursor);
    assert_int_equal(seen, expect_total);
}

static void test_message_paging(void **state)
{
    (void)state;
    char conv[64];
    fresh(conv, sizeof conv, "c-");
    make_conv(conv, "pager");
    for (int i = 1; i <= 25; i++) {
        char id[32], text[32];
        snprintf(id, sizeof id, "m-%03d", i);
        snprintf(text, sizeof text, "text %d", i);
        aos_storage_message_t m = {0};
        bool created;
        CHECK(append(conv, id, text, -1, &m, &created));
        assert_int_equal(m.seq, i);
        aos_storage_message_clear(&m);
    }
    page_all(conv, false, 10, 25);
    page_all(conv, true, 10, 25);
    page_all(conv, false, 25, 25);
    page_all(conv, false, 1000, 25);
    aos_storage_message_page_t page = {0};
    EXPECT(AOS_ERR_NOT_FOUND, OPS->message_list(BE, "no-such-conversation-x", NULL, 10, false,
                                                &page, g_err, sizeof g_err));
    aos_storage_message_page_clear(&page);
}

static void test_conversation_delete(void **state)
{
    (void)state;
    char conv[64];
    fresh(conv, sizeof conv, "c-");
    make_conv(conv, "deleter");
    aos_storage_message_t m = {0};
    bool created, existed = false;
    CHECK(append(conv, "x", "gone soon", -1, &m, &created));
    aos_storage_message_clear(&m);
    CHECK(OPS->conversation_delete(BE, conv, &existed, g_err, sizeof g_err));
    assert_true(existed);
    CHECK(OPS->conversation_delete(BE, conv, &existed, g_err, sizeof g_err));
    assert_false(existed);
    aos_storage_conversation_t c = {0};
    EXPECT(AOS_ERR_NOT_FOUND, OPS->conversation_get(BE, conv, &c, g_err, sizeof g_err));
    aos_storage_conversation_clear(&c);
    /* re-created under the same id it starts empty */
    make_conv(conv, "deleter");
    aos_storage_message_page_t page = {0};
    CHECK(OPS->message_list(BE, conv, NULL, 10, false, &page, g_err, sizeof g_err));
    assert_int_equal(page.count, 0);
    aos_storage_message_page_clear(&page);
}

/* Deterministic content: byte i of a blob is a function of i and a seed. */
static unsigned char pattern(uint64_t i, unsigned seed)
{
    return (unsigned char)((i * 131 + seed * 7 + (i >> 9)) & 0xff);
}

static void fill(unsigned char *buf, uint64_t off, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(off + i, seed);
}

/* Upload `count` chunks of the given sizes; returns the sha256 of the content. */
static void upload(const char *container, const char *name, const char *upload_id,
                   const size_t *sizes, uint32_t count, unsigned seed, char sha_out[65])
{
    aos_storage_sha256_t h = {0};
    CHECK(aos_storage_sha256_init(&h));
    CHECK(OPS->blob_put_begin(BE, container, name, upload_id, "application/x-test", g_err,
                              sizeof g_err));
    uint64_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        unsigned char *buf = malloc(sizes[i] ? sizes[i] : 1);
        fill(buf, off, sizes[i], seed);
        CHECK(aos_storage_sha256_update(&h, buf, sizes[i]));
        CHECK(OPS->blob_put_chunk(BE, container, name, upload_id, i, buf, sizes[i], g_err,
                                  sizeof g_err));
        off += sizes[i];
        free(buf);
    }
    CHECK(aos_storage_sha256_final(&h, sha_out));
}

static void expect_range(const char *container, const char *name, uint64_t off, size_t len,
                         size_t expect_len, unsigned seed)
{
    unsigned char *buf = malloc(len ? len : 1);
    size_t got = 0;
    CHECK(OPS->blob_read(BE, container, name, off, len, NULL, buf, &got, g_err, sizeof g_err));
    assert_int_equal(got, expect_len);
    for (size_t i = 0; i < got; i++)
        if (buf[i] != pattern(off + i, seed))
            fail_msg("byte %llu differs", (unsigned long long)(off + i));
    free(buf);
}

static void test_blob_chunks(void **state)
{
    (void)state;
    char container[64], up[64];
    fresh(container, sizeof container, "t");
    fresh(up, sizeof up, "u-");
    const size_t sizes[] = {1000, 70000, 1, 33333};
    const uint64_t total = 1000 + 70000 + 1 + 33333;
    char sha[65];
    upload(container, "dir/blob.bin", up, sizes, 4, 1, sha);
    aos_storage_blob_info_t info = {0}, again = {0};
    EXPECT(AOS_ERR_NOT_FOUND,
           OPS->blob_head(BE, container, "dir/blob.bin", &info, g_err, sizeof g_err));
    aos_storage_blob_info_clear(&info);
    CHECK(OPS->blob_put_commit(BE, container, "dir/blob.bin", up, 4, sha, &info, g_err,
                               sizeof g_err));
    assert_int_equal(info.size, total);
    assert_string_equal(info.sha256, sha);
    assert_string_equal(info.content_type, "application/x-test");
    assert_non_null(info.etag);
    /* redelivered commit answers the same blob */
    CHECK(OPS->blob_put_commit(BE, container, "dir/blob.bin", up, 4, sha, &again, g_err,
                               sizeof g_err));
    assert_string_equal(again.etag, info.etag);
    aos_storage_blob_info_clear(&again);
    CHECK(OPS->blob_head(BE, container, "dir/blob.bin", &again, g_err, sizeof g_err));
    assert_int_equal(again.size, total);
    assert_string_equal(again.sha256, sha);
    aos_storage_blob_info_clear(&again);
    expect_range(container, "dir/blob.bin", 0, 4096, 4096, 1);
    expect_range(container, "dir/blob.bin", 990, 70020, 70020, 1); /* spans three chunks */
    expect_range(container, "dir/blob.bin", 71000, 1, 1, 1);       /* the 1-byte chunk */
    expect_range(container, "dir/blob.bin", total - 10, 100, 10, 1);
    expect_range(container, "dir/blob.bin", total, 100, 0, 1);
    unsigned char b[8];
    size_t got;
    EXPECT(AOS_ERR_CONFLICT, OPS->blob_read(BE, container, "dir/blob.bin", 0, 8, "\"nope\"", b,
                                            &got, g_err, sizeof g_err));
    CHECK(OPS->blob_read(BE, container, "dir/blob.bin", 0, 8, info.etag, b, &got, g_err,
                         sizeof g_err));
    assert_int_equal(got, 8);
    aos_storage_blob_info_clear(&info);
}

static void test_blob_replace_and_checksum(void **state)
{
    (void)state;
    char container[64], up1[64], up2[64], up3[64];
    fresh(container, sizeof container, "t");
    fresh(up1, sizeof up1, "u-");
    fresh(up2, sizeof up2, "u-");
    fresh(up3, sizeof up3, "u-");
    const size_t s1[] = {5000, 5000};
    const size_t s2[] = {300};
    char sha1[65], sha2[65], sha3[65];
    aos_storage_blob_info_t i1 = {0}, i2 = {0}, bad = {0};
    upload(container, "b", up1, s1, 2, 1, sha1);
    CHECK(OPS->blob_put_commit(BE, container, "b", up1, 2, sha1, &i1, g_err, sizeof g_err));
    /* a wrong checksum is refused and the old content stays */
    upload(container, "b", up2, s2, 1, 2, sha2);
    EXPECT(AOS_ERR_INVALID,
           OPS->blob_put_commit(BE, container, "b", up2, 1, sha1, &bad, g_err, sizeof g_err));
    aos_storage_blob_info_clear(&bad);
    expect_range(container, "b", 0, 10000, 10000, 1);
    /* a missing chunk is refused */
    EXPECT(AOS_ERR_INVALID,
           OPS->blob_put_commit(BE, container, "b", up2, 2, NULL, &bad, g_err, sizeof g_err));
    aos_storage_blob_info_clear(&bad);
    CHECK(OPS->blob_put_commit(BE, container, "b", up2, 1, sha2, &i2, g_err, sizeof g_err));
    assert_int_equal(i2.size, 300);
    assert_string_not_equal(i2.etag, i1.etag);
    expect_range(container, "b", 0, 10000, 300, 2);
    /* chunks for an unknown upload, an aborted upload */
    EXPECT(AOS_ERR_NOT_FOUND,
           OPS->blob_put_chunk(BE, container, "b", "never-begun", 0, "x", 1, g_err, sizeof g_err));
    upload(container, "b", up3, s2, 1, 3, sha3);
    CHECK(OPS->blob_put_abort(BE, container, "b", up3, g_err, sizeof g_err));
    EXPECT(AOS_ERR_NOT_FOUND,
           OPS->blob_put_commit(BE, container, "b", up3, 1, NULL, &bad, g_err, sizeof g_err));
    aos_storage_blob_info_clear(&bad);
    expect_range(container, "b", 0, 300, 300, 2);
    aos_storage_blob_info_clear(&i1);
    aos_storage_blob_info_clear(&i2);
}

static void test_blob_empty_list_delete(void **state)
{
    (void)state;
    char container[64];
    fresh(container, sizeof container, "t");
    const size_t zero[] = {0};
    const size_t one[] = {10};
    char sha[65];
    aos_storage_blob_info_t info = {0};
    char up0[64];
    fresh(up0, sizeof up0, "u-");
    upload(container, "empty", up0, zero, 1, 1, sha);
    CHECK(OPS->blob_put_commit(BE, container, "empty", up0, 1, sha, &info, g_err, sizeof g_err));
    assert_int_equal(info.size, 0);
    assert_string_equal(info.sha256,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    aos_storage_blob_info_clear(&info);
    expect_range(container, "empty", 0, 10, 0, 1);
    for (int i = 0; i < 5; i++) {
        char name[32], up[64];
        snprintf(name, sizeof name, "p/%d", i);
        fresh(up, sizeof up, "u-");
        upload(container, name, up, one, 1, 1, sha);
        CHECK(OPS->blob_put_commit(BE, container, name, up, 1, sha, &info, g_err, sizeof g_err));
        aos_storage_blob_info_clear(&info);
    }
    int seen = 0;
    char *cursor = NULL;
    do {
        aos_storage_blob_page_t page = {0};
        CHECK(OPS->blob_list(BE, container, "p/", cursor, 2, &page, g_err, sizeof g_err));
        for (size_t i = 0; i < page.count; i++) {
            assert_int_equal(strncmp(page.items[i].name, "p/", 2), 0);
            assert_int_equal(page.items[i].size, 10);
            seen++;
        }
        free(cursor);
        cursor = page.next_cursor ? strdup(page.next_cursor) : NULL;
        aos_storage_blob_page_clear(&page);
    } while (cursor);
    assert_int_equal(seen, 5);
    bool existed = false;
    CHECK(OPS->blob_delete(BE, container, "p/3", &existed, g_err, sizeof g_err));
    assert_true(existed);
    CHECK(OPS->blob_delete(BE, container, "p/3", &existed, g_err, sizeof g_err));
    assert_false(existed);
    EXPECT(AOS_ERR_NOT_FOUND, OPS->blob_head(BE, container, "p/3", &info, g_err, sizeof g_err));
    aos_storage_blob_info_clear(&info);
    aos_storage_blob_page_t page = {0};
    CHECK(OPS->blob_list(BE, container, NULL, NULL, 100, &page, g_err, sizeof g_err));
    assert_int_equal(page.count, 5); /* empty + p/0 p/1 p/2 p/4 */
    aos_storage_blob_page_clear(&page);
}

static aos_result put(const char *kind, const char *key, const char *data, const char *if_match,
                      const char *op, aos_storage_record_t *out)
{
    return OPS->record_put(BE, kind, key, data, if_match, op, out, g_err, sizeof g_err);
}

static void test_record_versions(void **state)
{
    (void)state;
    char key[64];
    fresh(key, sizeof key, "adapter-");
    aos_storage_record_t v1 = {0}, v2 = {0}, tmp = {0};
    EXPECT(AOS_ERR_NOT_FOUND, OPS->record_get(BE, "adapter", key, &tmp, g_err, sizeof g_err));
    aos_storage_record_clear(&tmp);
    EXPECT(AOS_ERR_NOT_FOUND, put("adapter", key, "{\"a\":0}", "1", "op-0", &tmp));
    aos_storage_record_clear(&tmp);
    CHECK(put("adapter", key, "{\"a\":1}", NULL, "op-1", &v1));
    assert_string_equal(v1.data_json, "{\"a\":1}");
    assert_non_null(v1.version);
    /* create-only again: conflict (other op) */
    EXPECT(AOS_ERR_CONFLICT, put("adapter", key, "{\"a\":9}", NULL, "op-9", &tmp));
    aos_storage_record_clear(&tmp);
    /* the same create redelivered: answered with the stored record */
    CHECK(put("adapter", key, "{\"a\":1}", NULL, "op-1", &tmp));
    assert_string_equal(tmp.version, v1.version);
    aos_storage_record_clear(&tmp);
    CHECK(put("adapter", key, "{\"a\":2}", v1.version, "op-2", &v2));
    assert_string_not_equal(v2.version, v1.version);
    /* stale version: refused, never overwritten */
    EXPECT(AOS_ERR_CONFLICT, put("adapter", key, "{\"a\":3}", v1.version, "op-3", &tmp));
    aos_storage_record_clear(&tmp);
    CHECK(OPS->record_get(BE, "adapter", key, &tmp, g_err, sizeof g_err));
    assert_string_equal(tmp.data_json, "{\"a\":2}");
    assert_string_equal(tmp.version, v2.version);
    assert_string_equal(tmp.kind, "adapter");
    assert_string_equal(tmp.key, key);
    aos_storage_record_clear(&tmp);
    /* redelivery of the write that made v2 */
    CHECK(put("adapter", key, "{\"a\":2}", v1.version, "op-2", &tmp));
    assert_string_equal(tmp.version, v2.version);
    aos_storage_record_clear(&tmp);
    /* unconditional */
    CHECK(put("adapter", key, "{\"a\":4}", "*", "op-4", &tmp));
    assert_string_equal(tmp.data_json, "{\"a\":4}");
    aos_storage_record_clear(&tmp);
    /* kinds are separate namespaces */
    EXPECT(AOS_ERR_NOT_FOUND, OPS->record_get(BE, "job", key, &tmp, g_err, sizeof g_err));
    aos_storage_record_clear(&tmp);
    aos_storage_record_clear(&v1);
    aos_storage_record_clear(&v2);
}

static void test_record_list_delete(void **state)
{
    (void)state;
    char prefix[64], key[96];
    fresh(prefix, sizeof prefix, "job-");
    aos_storage_record_t r = {0}, first = {0};
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "%s-%d", prefix, i);
        CHECK(put("job", key, "{\"state\":\"queued\"}", NULL, NULL, i == 0 ? &first : &r));
        aos_storage_record_clear(&r);
    }
    int seen = 0;
    char *cursor = NULL;
    do {
        aos_storage_record_page_t page = {0};
        CHECK(OPS->record_list(BE, "job", prefix, cursor, 2, &page, g_err, sizeof g_err));
        for (size_t i = 0; i < page.count; i++) {
            assert_int_equal(strncmp(page.items[i].key, prefix, strlen(prefix)), 0);
            assert_string_equal(page.items[i].data_json, "{\"state\":\"queued\"}");
            seen++;
        }
        free(cursor);
        cursor = page.next_cursor ? strdup(page.next_cursor) : NULL;
        aos_storage_record_page_clear(&page);
    } while (cursor);
    assert_int_equal(seen, 5);
    snprintf(key, sizeof key, "%s-0", prefix);
    CHECK(put("job", key, "{\"state\":\"running\"}", first.version, NULL, &r));
    bool existed = true;
    EXPECT(AOS_ERR_CONFLICT,
           OPS->record_delete(BE, "job", key, first.version, &existed, g_err, sizeof g_err));
    assert_false(existed);
    CHECK(OPS->record_delete(BE, "job", key, r.version, &existed, g_err, sizeof g_err));
    assert_true(existed);
    CHECK(OPS->record_delete(BE, "job", key, NULL, &existed, g_err, sizeof g_err));
    assert_false(existed);
    aos_storage_record_clear(&r);
    aos_storage_record_clear(&first);
}

/* ---- concurrency: two instances (two connections) writing at once ---- */

#define CONC_PER_THREAD 40

typedef struct worker {
    const char *conv;
    const char *key;
    int tag;
    int failures;
    storage_backend_t *be;
} worker_t;

static void *append_worker(void *arg)
{
    worker_t *w = arg;
    char err[256];
    for (int i = 0; i < CONC_PER_THREAD; i++) {
        char id[32], text[32];
        snprintf(id, sizeof id, "w%d-%d", w->tag, i);
        snprintf(text, sizeof text, "from %d #%d", w->tag, i);
        aos_storage_message_t in = {
            .conversation_id = (char *)w->conv, .id = id, .role = "user", .content = text};
        aos_storage_message_t out = {0};
        bool created;
        if (w->be->ops->message_append(w->be, &in, -1, &out, &created, err, sizeof err) != AOS_OK)
            w->failures++;
        aos_storage_message_clear(&out);
    }
    return NULL;
}

/* Read-modify-write a counter record with optimistic retries. */
static void *counter_worker(void *arg)
{
    worker_t *w = arg;
    char err[256];
    for (int i = 0; i < CONC_PER_THREAD / 2; i++) {
        for (int attempt = 0; attempt < 1000; attempt++) {
            aos_storage_record_t cur = {0}, out = {0};
            if (w->be->ops->record_get(w->be, "job", w->key, &cur, err, sizeof err) != AOS_OK) {
                w->failures++;
                break;
            }
            int n = atoi(strchr(cur.data_json, ':') + 1);
            char data[64];
            snprintf(data, sizeof data, "{\"n\":%d}", n + 1);
            aos_result r = w->be->ops->record_put(w->be, "job", w->key, data, cur.version, NULL,
                                                  &out, err, sizeof err);
            aos_storage_record_clear(&cur);
            aos_storage_record_clear(&out);
            if (r == AOS_OK)
                break;
            if (r != AOS_ERR_CONFLICT) {
                w->failures++;
                break;
            }
        }
    }
    return NULL;
}

static void run_pair(void *(*fn)(void *), const char *conv, const char *key)
{
    worker_t w[2] = {{.conv = conv, .key = key, .tag = 0}, {.conv = conv, .key = key, .tag = 1}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(g_suite.factory(g_suite.ctx, &w[i].be, g_err, sizeof g_err));
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fn, &w[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        storage_backend_free(w[i].be);
    }
    assert_int_equal(w[0].failures + w[1].failures, 0);
}

static void test_concurrent_appends(void **state)
{
    (void)state;
    char conv[64];
    fresh(conv, sizeof conv, "c-");
    make_conv(conv, "racer");
    run_pair(append_worker, conv, NULL);
    aos_storage_message_page_t page = {0};
    CHECK(OPS->message_list(BE, conv, NULL, 1000, false, &page, g_err, sizeof g_err));
    assert_int_equal(page.count, 2 * CONC_PER_THREAD);
    for (size_t i = 0; i < page.count; i++)
        assert_int_equal(page.items[i].seq, (int64_t)i + 1); /* dense, no duplicates */
    aos_storage_message_page_clear(&page);
    aos_storage_conversation_t c = {0};
    CHECK(OPS->conversation_get(BE, conv, &c, g_err, sizeof g_err));
    assert_int_equal(c.version, 2 * CONC_PER_THREAD);
    aos_storage_conversation_clear(&c);
}

static void test_concurrent_record_updates(void **state)
{
    (void)state;
    char key[64];
    fresh(key, sizeof key, "counter-");
    aos_storage_record_t r = {0};
    CHECK(put("job", key, "{\"n\":0}", NULL, NULL, &r));
    aos_storage_record_clear(&r);
    run_pair(counter_worker, NULL, key);
    CHECK(OPS->record_get(BE, "job", key, &r, g_err, sizeof g_err));
    char want[32];
    snprintf(want, sizeof want, "{\"n\":%d}", CONC_PER_THREAD); /* no lost update */
    assert_string_equal(r.data_json, want);
    aos_storage_record_clear(&r);
}

int aos_storage_backend_suite_run(const char *suite_name, aos_storage_backend_factory factory,
                                  void *ctx)
{
    g_suite.factory = factory;
    g_suite.ctx = ctx;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversation_create_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversation_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_append_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_ordering_guard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversation_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_replace_and_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_empty_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_record_updates, setup, teardown),
    };
    return _cmocka_run_group_tests(suite_name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}
