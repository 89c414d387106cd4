/* A 100 MB blob goes through the dispatcher (base64 chunks in JSON requests, SQLite rows) and
 * back by range reads, and the process never holds it whole: peak RSS grows by far less than
 * the blob. Under AddressSanitizer (whose quarantine keeps freed memory resident) the blob is
 * smaller and the RSS bound is not checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "aos/base64.h"
#include "aos/json.h"
#include "aos/storage_wire.h"
#include "dispatch.h"
#include "temp_db.h"

#if defined(__SANITIZE_ADDRESS__) ||                                                               \
    defined(__SANITIZE_THREAD__) /* shadow memory: RSS says nothing */
#define BLOB_MB 16
#define CHECK_RSS 0
#else
#define BLOB_MB 100
#define CHECK_RSS 1
#endif
#define CHUNK (128u * 1024u)

static char g_path[256];

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static unsigned char byte_at(uint64_t i)
{
    return (unsigned char)((i * 7919u) ^ (i >> 11));
}

static json_object *call(storage_backend_t *be, const storage_limits_t *lim, const char *op,
                         const char *event_id, const char *data)
{
    char type[96];
    snprintf(type, sizeof type, "aos.storage.%s", op);
    storage_outcome_t out = {0};
    storage_dispatch_raw(be, lim, type, event_id, data, strlen(data), &out);
    if (out.action != AOS_STORAGE_REPLY)
        fail_msg("%s: %s (%s)", op, aos_result_code(out.result), out.message);
    json_object *reply = NULL;
    assert_int_equal(aos_json_parse(out.data_json, strlen(out.data_json), 0, 0, &reply, NULL, 0),
                     AOS_OK);
    storage_outcome_clear(&out);
    return reply;
}

static void test_large_blob(void **state)
{
    (void)state;
    snprintf(g_path, sizeof g_path, "/tmp/aos-large-blob-%d.db", (int)getpid());
    storage_backend_config_t cfg = {.kind = AOS_STORAGE_BACKEND_SQLITE, .sqlite_path = g_path};
    storage_backend_t *be = NULL;
    char err[256];
    assert_int_equal(storage_backend_open(&cfg, &be, err, sizeof err), AOS_OK);
    storage_limits_t lim = {.max_chunk = CHUNK};
    const uint64_t total = (uint64_t)BLOB_MB * 1024 * 1024;
    const uint32_t chunks = (uint32_t)(total / CHUNK);
    unsigned char *buf = malloc(CHUNK);
    char *req = malloc(aos_base64_encoded_len(CHUNK) + 512);
    json_object_put(call(be, &lim, "blob.put.begin", "big-1",
                         "{\"container\":\"big-data\",\"name\":\"set.bin\"}"));
    long rss_before = max_rss_kb();
    aos_storage_sha256_t h;
    aos_storage_sha256_init(&h);
    for (uint32_t c = 0; c < chunks; c++) {
        for (uint32_t i = 0; i < CHUNK; i++)
            buf[i] = byte_at((uint64_t)c * CHUNK + i);
        aos_storage_sha256_update(&h, buf, CHUNK);
        char *b64 = NULL;
        assert_int_equal(aos_base64_encode(buf, CHUNK, &b64, NULL), AOS_OK);
        sprintf(req,
                "{\"container\":\"big-data\",\"name\":\"set.bin\",\"upload_id\":\"u-big-1\","
                "\"index\":%u,\"data\":\"%s\"}",
                c, b64);
        free(b64);
        json_object_put(call(be, &lim, "blob.put.chunk", "e", req));
    }
    char sha[65];
    aos_storage_sha256_final(&h, sha);
    sprintf(req,
            "{\"container\":\"big-data\",\"name\":\"set.bin\",\"upload_id\":\"u-big-1\","
            "\"chunk_count\":%u,\"sha256\":\"%s\"}",
            chunks, sha);
    json_object *reply = call(be, &lim, "blob.put.commit", "e", req);
    json_object *blob = json_object_object_get(reply, "blob");
    assert_int_equal(json_object_get_int64(json_object_object_get(blob, "size")), (int64_t)total);
    json_object_put(reply);

    /* read back by ranges that straddle chunk boundaries */
    aos_storage_sha256_init(&h);
    uint64_t off = 0;
    const size_t step = CHUNK - 1000;
    while (off < total) {
        sprintf(req,
                "{\"container\":\"big-data\",\"name\":\"set.bin\",\"offset\":%llu,"
                "\"length\":%zu}",
                (unsigned long long)off, step);
        reply = call(be, &lim, "blob.get", "e", req);
        const char *data = json_object_get_string(json_object_object_get(reply, "data"));
        size_t n = 0;
        assert_int_equal(aos_base64_decode_into(data, strlen(data), buf, CHUNK, &n), AOS_OK);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i += 4099)
            assert_int_equal(buf[i], byte_at(off + i));
        aos_storage_sha256_update(&h, buf, n);
        off += n;
        json_object_put(reply);
    }
    char sha2[65];
    aos_storage_sha256_final(&h, sha2);
    assert_string_equal(sha, sha2);
    long grown_mb = (max_rss_kb() - rss_before) / 1024;
    printf("blob %d MB: peak RSS grew by %ld MB\n", BLOB_MB, grown_mb);
    if (CHECK_RSS)
        assert_true(grown_mb < BLOB_MB / 3);
    free(buf);
    free(req);
    storage_backend_free(be);
    temp_db_remove(g_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_large_blob)};
    return cmocka_run_group_tests_name("large_blob", tests, NULL, NULL);
}
