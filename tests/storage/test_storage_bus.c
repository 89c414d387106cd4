/* Integration: the storage service core on a real RabbitMQ (fixture), driven through the
 * typed client on a second connection. Every operation round-trips; errors come back as
 * aos.error with their code; a blob streams in chunks and verifies. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/log.h"
#include "service.h"
#include "storage_test_util.h"

#define QUEUE "aos.test.storage"

static aos_bus_t *g_server_bus, *g_client_bus;
static storage_service_t *g_svc;
static aos_storage_client_t *g_client;
static char g_db[256];
static char g_err[512];

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        aos_result r_ = (expr);                                                                    \
        if (r_ != AOS_OK)                                                                          \
            fail_msg("%s -> %s (%s)", #expr, aos_result_str(r_), g_err);                           \
    } while (0)

static int setup(void **state)
{
    (void)state;
    if (getenv("AOS_TEST_DEBUG"))
        aos_log_init("test", AOS_LOG_DEBUG);
    snprintf(g_db, sizeof g_db, "/tmp/aos-storage-bus-%d.db", (int)getpid());
    temp_db_remove(g_db);
    g_server_bus = st_bus("svc");
    g_client_bus = st_bus("cli");
    if (!g_server_bus || !g_client_bus)
        return -1;
    storage_service_config_t cfg = {
        .bus = g_server_bus,
        .queue = QUEUE,
        .workers = 3,
        .max_chunk = 65536,
        .backend = {.kind = AOS_STORAGE_BACKEND_SQLITE, .sqlite_path = g_db}};
    if (storage_service_new(&cfg, &g_svc, g_err, sizeof g_err) != AOS_OK ||
        storage_service_start(g_svc, g_err, sizeof g_err) != AOS_OK)
        return -1;
    for (int i = 0; i < 200 && !storage_service_ready(g_svc, NULL, 0); i++)
        st_sleep_ms(50);
    g_client = st_client(g_client_bus, QUEUE, 20000);
    return g_client && storage_service_ready(g_svc, NULL, 0) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    aos_storage_client_free(g_client);
    aos_bus_free(g_client_bus);
    storage_service_stop(g_svc, 2000);
    aos_bus_stop(g_server_bus, 2000);
    storage_service_free(g_svc);
    aos_bus_free(g_server_bus);
    temp_db_remove(g_db);
    return 0;
}

static void test_conversations_and_messages(void **state)
{
    (void)state;
    aos_storage_conversation_t conv = {0};
    bool created = false;
    CHECK(aos_storage_conversation_create_sync(g_client, "bus-c1", "cfo", "{\"channel\":\"web\"}",
                                               &conv, &created, g_err, sizeof g_err));
    assert_true(created);
    assert_string_equal(conv.agent, "cfo");
    aos_storage_conversation_clear(&conv);
    for (int i = 1; i <= 12; i++) {
        char id[16], text[32];
        snprintf(id, sizeof id, "m%02d", i);
        snprintf(text, sizeof text, "turn %d", i);
        aos_storage_message_t in = {.conversation_id = "bus-c1",
                                    .id = id,
                                    .role = i % 2 ? "user" : "assistant",
                                    .content = text};
        aos_storage_message_t out = {0};
        CHECK(aos_storage_message_append_sync(g_client, &in, -1, &out, &created, g_err,
                                              sizeof g_err));
        assert_int_equal(out.seq, i);
        assert_true(created);
        aos_storage_message_clear(&out);
        /* a retry of the same append stores nothing new */
        CHECK(aos_storage_message_append_sync(g_client, &in, -1, &out, &created, g_err,
                                              sizeof g_err));
        assert_false(created);
        assert_int_equal(out.seq, i);
        aos_storage_message_clear(&out);
    }
    int seen = 0;
    char *cursor = NULL;
    do {
        aos_storage_message_page_t page = {0};
        CHECK(aos_storage_message_list_sync(g_client, "bus-c1", cursor, 5, false, &page, g_err,
                                            sizeof g_err));
        for (size_t i = 0; i < page.count; i++)
            assert_int_equal(page.items[i].seq, ++seen);
        free(cursor);
        cursor = page.next_cursor ? strdup(page.next_cursor) : NULL;
        aos_storage_message_page_clear(&page);
    } while (cursor);
    assert_int_equal(seen, 12);
    CHECK(aos_storage_conversation_get_sync(g_client, "bus-c1", &conv, g_err, sizeof g_err));
    assert_int_equal(conv.version, 12);
    aos_storage_conversation_clear(&conv);
    aos_storage_conversation_page_t cp = {0};
    CHECK(aos_storage_conversation_list_sync(g_client, "cfo", NULL, 10, &cp, g_err, sizeof g_err));
    assert_int_equal(cp.count, 1);
    aos_storage_conversation_page_clear(&cp);
    bool existed = false;
    CHECK(aos_storage_conversation_delete_sync(g_client, "bus-c1", &existed, g_err, sizeof g_err));
    assert_true(existed);
    assert_int_equal(
        aos_storage_conversation_get_sync(g_client, "bus-c1", &conv, g_err, sizeof g_err),
        AOS_ERR_NOT_FOUND);
    aos_storage_conversation_clear(&conv);
}

/* ---- async ---- */

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    aos_result r;
    int64_t seq;
    char version[64];
} waiter_t;

static void on_msg(void *ctx, aos_result r, const aos_storage_message_t *m, bool created,
                   const char *errmsg)
{
    (void)created;
    (void)errmsg;
    waiter_t *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->r = r;
    w->seq = m ? m->seq : -1;
    w->done++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void on_rec(void *ctx, aos_result r, const aos_storage_record_t *rec, const char *errmsg)
{
    (void)errmsg;
    waiter_t *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->r = r;
    if (rec)
        snprintf(w->version, sizeof w->version, "%s", rec->version);
    w->done++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wait_done(waiter_t *w, int n)
{
    pthread_mutex_lock(&w->mu);
    while (w->done < n)
        pthread_cond_wait(&w->cv, &w->mu); /* the client's timeout bounds this */
    pthread_mutex_unlock(&w->mu);
}

static void test_async_and_records(void **state)
{
    (void)state;
    waiter_t w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    aos_storage_conversation_t conv = {0};
    CHECK(aos_storage_conversation_create_sync(g_client, "bus-c2", "ceo", NULL, &conv, NULL, g_err,
                                               sizeof g_err));
    aos_storage_conversation_clear(&conv);
    aos_storage_message_t in = {
        .conversation_id = "bus-c2", .id = "a1", .role = "user", .content = "async hello"};
    CHECK(aos_storage_message_append(g_client, &in, 0, on_msg, &w));
    wait_done(&w, 1);
    assert_int_equal(w.r, AOS_OK);
    assert_int_equal(w.seq, 1);
    /* the ordering guard over the bus */
    in.id = "a2";
    CHECK(aos_storage_message_append(g_client, &in, 0, on_msg, &w));
    wait_done(&w, 2);
    assert_int_equal(w.r, AOS_ERR_CONFLICT);

    CHECK(aos_storage_record_put(g_client, "job", "job-1", "{\"state\":\"queued\"}", NULL, on_rec,
                                 &w));
    wait_done(&w, 3);
    assert_int_equal(w.r, AOS_OK);
    char v1[64];
    snprintf(v1, sizeof v1, "%s", w.version);
    aos_storage_record_t rec = {0};
    CHECK(aos_storage_record_put_sync(g_client, "job", "job-1", "{\"state\":\"running\"}", v1, &rec,
                                      g_err, sizeof g_err));
    aos_storage_record_clear(&rec);
    assert_int_equal(aos_storage_record_put_sync(g_client, "job", "job-1", "{\"state\":\"lost\"}",
                                                 v1, &rec, g_err, sizeof g_err),
                     AOS_ERR_CONFLICT);
    aos_storage_record_clear(&rec);
    CHECK(aos_storage_record_get(g_client, "job", "job-1", on_rec, &w));
    wait_done(&w, 4);
    assert_int_equal(w.r, AOS_OK);
    CHECK(aos_storage_record_get_sync(g_client, "job", "job-1", &rec, g_err, sizeof g_err));
    assert_string_equal(rec.data_json, "{\"state\":\"running\"}");
    aos_storage_record_clear(&rec);
    aos_storage_record_page_t rp = {0};
    CHECK(
        aos_storage_record_list_sync(g_client, "job", "job-", NULL, 10, &rp, g_err, sizeof g_err));
    assert_int_equal(rp.count, 1);
    aos_storage_record_page_clear(&rp);
    bool existed = false;
    CHECK(aos_storage_record_delete_sync(g_client, "job", "job-1", NULL, &existed, g_err,
                                         sizeof g_err));
    assert_true(existed);
}

static void test_blob_stream(void **state)
{
    (void)state;
    size_t len = 1000003; /* 16 chunks of 64 KiB, the last one short */
    unsigned char *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    aos_storage_blob_info_t info = {0}, got_info = {0};
    CHECK(aos_storage_blob_put_buffer_sync(g_client, "training-data", "cfo/set-1.jsonl",
                                           "application/jsonl", data, len, &info, g_err,
                                           sizeof g_err));
    assert_int_equal(info.size, len);
    void *back = NULL;
    size_t back_len = 0;
    CHECK(aos_storage_blob_get_buffer_sync(g_client, "training-data", "cfo/set-1.jsonl", len, &back,
                                           &back_len, &got_info, g_err, sizeof g_err));
    assert_int_equal(back_len, len);
    assert_memory_equal(back, data, len);
    assert_string_equal(got_info.sha256, info.sha256);
    assert_string_equal(got_info.content_type, "application/jsonl");
    free(back);
    /* over the caller's limit */
    assert_int_equal(aos_storage_blob_get_buffer_sync(g_client, "training-data", "cfo/set-1.jsonl",
                                                      len - 1, &back, &back_len, NULL, g_err,
                                                      sizeof g_err),
                     AOS_ERR_TOO_LARGE);
    aos_storage_blob_page_t page = {0};
    CHECK(aos_storage_blob_list_sync(g_client, "training-data", "cfo/", NULL, 10, &page, g_err,
                                     sizeof g_err));
    assert_int_equal(page.count, 1);
    aos_storage_blob_page_clear(&page);
    bool existed = false;
    CHECK(aos_storage_blob_delete_sync(g_client, "training-data", "cfo/set-1.jsonl", &existed,
                                       g_err, sizeof g_err));
    assert_true(existed);
    aos_storage_blob_info_clear(&info);
    aos_storage_blob_info_clear(&got_info);
    free(data);
}

static void test_errors_over_the_bus(void **state)
{
    (void)state;
    char *reply = NULL;
    assert_int_equal(aos_storage_call_sync(g_client, "nope", "{}", &reply, g_err, sizeof g_err),
                     AOS_ERR_UNSUPPORTED);
    assert_int_equal(aos_storage_call_sync(g_client, "blob.put.begin",
                                           "{\"container\":\"Bad_Name\",\"name\":\"x\"}", &reply,
                                           g_err, sizeof g_err),
                     AOS_ERR_INVALID);
    assert_non_null(strstr(g_err, "container"));
    assert_int_equal(aos_storage_call_sync(g_client, "conversation.get",
                                           "{\"conversation_id\":\"missing\"}", &reply, g_err,
                                           sizeof g_err),
                     AOS_ERR_NOT_FOUND);
    CHECK(aos_storage_call_sync(g_client, "blob.list", "{\"container\":\"nothing-here\"}", &reply,
                                g_err, sizeof g_err));
    assert_non_null(strstr(reply, "\"blobs\":[]"));
    free(reply);
    storage_service_stats_t st;
    storage_service_stats(g_svc, &st);
    assert_true(st.handled >= 4);
    assert_int_equal(st.released, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversations_and_messages),
        cmocka_unit_test(test_async_and_records),
        cmocka_unit_test(test_blob_stream),
        cmocka_unit_test(test_errors_over_the_bus),
    };
    return cmocka_run_group_tests_name("storage_bus", tests, setup, teardown);
}
