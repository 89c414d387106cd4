/* Integration with the real aos-storage binary on the rabbitmq fixture:
 *   - durability: N confirmed appends, kill -9, restart, all N present exactly once;
 *   - graceful SIGTERM: exits 0;
 *   - backend unavailable (SQLite write lock held by someone else): the request is released,
 *     /readyz turns 503, and once the lock goes the service recovers by itself and answers
 *     the very same request. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "storage_test_util.h"

#define QUEUE "aos.test.storagefault"
#define N_APPENDS 150

static aos_bus_t *g_bus;
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
    g_bus = st_bus("proc");
    g_client = g_bus ? st_client(g_bus, QUEUE, 60000) : NULL;
    return g_client ? 0 : -1;
}

static int kill_children(void **state)
{
    (void)state;
    st_kill_all(); /* a failed test leaves no service behind to steal the next one's work */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    st_kill_all();
    aos_storage_client_free(g_client);
    aos_bus_free(g_bus);
    return 0;
}

static void append_n(const char *conv, int from, int to)
{
    for (int i = from; i <= to; i++) {
        char id[32], text[64];
        snprintf(id, sizeof id, "m-%05d", i);
        snprintf(text, sizeof text, "durable message %d", i);
        aos_storage_message_t in = {
            .conversation_id = (char *)conv, .id = id, .role = "user", .content = text};
        aos_storage_message_t out = {0};
        CHECK(aos_storage_message_append_sync(g_client, &in, -1, &out, NULL, g_err, sizeof g_err));
        assert_int_equal(out.seq, i);
        aos_storage_message_clear(&out);
    }
}

static void test_kill9_durability(void **state)
{
    (void)state;
    snprintf(g_db, sizeof g_db, "/tmp/aos-storage-kill9-%d.db", (int)getpid());
    temp_db_remove(g_db);
    st_proc_t p = {0};
    assert_int_equal(st_start(&p, QUEUE, g_db, NULL), 0);
    assert_int_equal(st_wait_ready(p.admin_port, 200, 30000), 0);
    aos_storage_conversation_t conv = {0};
    CHECK(aos_storage_conversation_create_sync(g_client, "durable", "cfo", NULL, &conv, NULL, g_err,
                                               sizeof g_err));
    aos_storage_conversation_clear(&conv);
    append_n("durable", 1, N_APPENDS);
    int status = st_kill(&p, SIGKILL);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    unlink(p.log);

    assert_int_equal(st_start(&p, QUEUE, g_db, NULL), 0);
    assert_int_equal(st_wait_ready(p.admin_port, 200, 30000), 0);
    int seen = 0;
    char *cursor = NULL;
    do {
        aos_storage_message_page_t page = {0};
        CHECK(aos_storage_message_list_sync(g_client, "durable", cursor, 100, false, &page, g_err,
                                            sizeof g_err));
        for (size_t i = 0; i < page.count; i++) {
            seen++;
            char want[32];
            snprintf(want, sizeof want, "m-%05d", seen);
            assert_string_equal(page.items[i].id, want);
            assert_int_equal(page.items[i].seq, seen);
        }
        free(cursor);
        cursor = page.next_cursor ? strdup(page.next_cursor) : NULL;
        aos_storage_message_page_clear(&page);
    } while (cursor);
    assert_int_equal(seen, N_APPENDS);
    /* appends continue where they stopped */
    append_n("durable", N_APPENDS + 1, N_APPENDS + 3);

    /* graceful stop */
    status = st_kill(&p, SIGTERM);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    temp_db_remove(g_db);
    unlink(p.log);
}

typedef struct pending {
    pthread_mutex_t mu;
    int done;
    aos_result r;
    int64_t seq;
} pending_t;

static void on_append(void *ctx, aos_result r, const aos_storage_message_t *m, bool created,
                      const char *errmsg)
{
    (void)created;
    (void)errmsg;
    pending_t *p = ctx;
    pthread_mutex_lock(&p->mu);
    p->r = r;
    p->seq = m ? m->seq : -1;
    p->done = 1;
    pthread_mutex_unlock(&p->mu);
}

static int pending_done(pending_t *p)
{
    pthread_mutex_lock(&p->mu);
    int d = p->done;
    pthread_mutex_unlock(&p->mu);
    return d;
}

static void test_backend_unavailable(void **state)
{
    (void)state;
    snprintf(g_db, sizeof g_db, "/tmp/aos-storage-fault-%d.db", (int)getpid());
    temp_db_remove(g_db);
    st_proc_t p = {0};
    assert_int_equal(st_start(&p, QUEUE, g_db, "300ms"), 0);
    assert_int_equal(st_wait_ready(p.admin_port, 200, 30000), 0);
    aos_storage_conversation_t conv = {0};
    CHECK(aos_storage_conversation_create_sync(g_client, "faulty", "cfo", NULL, &conv, NULL, g_err,
                                               sizeof g_err));
    aos_storage_conversation_clear(&conv);

    /* someone else holds the write lock: the store is unavailable to the service */
    sqlite3 *locker = NULL;
    assert_int_equal(sqlite3_open(g_db, &locker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    pending_t pend = {.mu = PTHREAD_MUTEX_INITIALIZER};
    aos_storage_message_t in = {.conversation_id = "faulty",
                                .id = "during-outage",
                                .role = "user",
                                .content = "please keep me"};
    CHECK(aos_storage_message_append(g_client, &in, -1, on_append, &pend));
    assert_int_equal(st_wait_ready(p.admin_port, 503, 30000), 0);
    char body[8192];
    /* the request was released (counted), and not answered */
    int released_seen = 0;
    for (int i = 0; i < 100 && !released_seen; i++) {
        assert_int_equal(st_http_get(p.admin_port, "/metrics", body, sizeof body), 200);
        released_seen = strstr(body, "op=\"message.append\",code=\"released\"") != NULL;
        if (!released_seen)
            st_sleep_ms(100);
    }
    assert_true(released_seen);
    assert_int_equal(pending_done(&pend), 0);
    assert_int_equal(st_http_get(p.admin_port, "/healthz", body, sizeof body), 200);

    /* the lock goes away: the service recovers by itself and answers the same request */
    assert_int_equal(sqlite3_exec(locker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(locker);
    assert_int_equal(st_wait_ready(p.admin_port, 200, 30000), 0);
    for (int i = 0; i < 600 && !pending_done(&pend); i++)
        st_sleep_ms(50);
    assert_int_equal(pending_done(&pend), 1);
    assert_int_equal(pend.r, AOS_OK);
    assert_int_equal(pend.seq, 1);
    aos_storage_message_page_t page = {0};
    CHECK(aos_storage_message_list_sync(g_client, "faulty", NULL, 10, false, &page, g_err,
                                        sizeof g_err));
    assert_int_equal(page.count, 1);
    assert_string_equal(page.items[0].content, "please keep me");
    aos_storage_message_page_clear(&page);
    int status = st_kill(&p, SIGTERM);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    temp_db_remove(g_db);
    unlink(p.log);
}

typedef struct counter {
    pthread_mutex_t mu;
    int ok, failed;
} counter_t;

static void on_count(void *ctx, aos_result r, const aos_storage_message_t *m, bool created,
                     const char *errmsg)
{
    (void)m;
    (void)created;
    (void)errmsg;
    counter_t *c = ctx;
    pthread_mutex_lock(&c->mu);
    if (r == AOS_OK)
        c->ok++;
    else
        c->failed++;
    pthread_mutex_unlock(&c->mu);
}

/* Two replicas on one SQLite file as competing consumers: every append lands exactly once
 * and the conversation's sequence stays dense. */
static void test_two_replicas(void **state)
{
    (void)state;
    snprintf(g_db, sizeof g_db, "/tmp/aos-storage-replicas-%d.db", (int)getpid());
    temp_db_remove(g_db);
    st_proc_t a = {0}, b = {0};
    assert_int_equal(st_start(&a, QUEUE, g_db, NULL), 0);
    assert_int_equal(st_start(&b, QUEUE, g_db, NULL), 0);
    assert_int_equal(st_wait_ready(a.admin_port, 200, 30000), 0);
    assert_int_equal(st_wait_ready(b.admin_port, 200, 30000), 0);
    aos_storage_conversation_t conv = {0};
    CHECK(aos_storage_conversation_create_sync(g_client, "shared", "cfo", NULL, &conv, NULL, g_err,
                                               sizeof g_err));
    aos_storage_conversation_clear(&conv);
    counter_t cnt = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const int n = 120;
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "r-%03d", i);
        aos_storage_message_t in = {
            .conversation_id = "shared", .id = id, .role = "user", .content = "from many"};
        CHECK(aos_storage_message_append(g_client, &in, -1, on_count, &cnt));
    }
    for (int i = 0; i < 1200; i++) {
        pthread_mutex_lock(&cnt.mu);
        int done = cnt.ok + cnt.failed;
        pthread_mutex_unlock(&cnt.mu);
        if (done == n)
            break;
        st_sleep_ms(50);
    }
    assert_int_equal(cnt.ok, n);
    aos_storage_message_page_t page = {0};
    CHECK(aos_storage_message_list_sync(g_client, "shared", NULL, 1000, false, &page, g_err,
                                        sizeof g_err));
    assert_int_equal(page.count, n);
    for (size_t i = 0; i < page.count; i++)
        assert_int_equal(page.items[i].seq, (int64_t)i + 1);
    aos_storage_message_page_clear(&page);
    /* both replicas did work */
    char body[16384];
    assert_int_equal(st_http_get(a.admin_port, "/metrics", body, sizeof body), 200);
    assert_non_null(strstr(body, "op=\"message.append\",code=\"ok\""));
    assert_int_equal(st_http_get(b.admin_port, "/metrics", body, sizeof body), 200);
    assert_non_null(strstr(body, "op=\"message.append\",code=\"ok\""));
    st_kill(&a, SIGTERM);
    st_kill(&b, SIGTERM);
    temp_db_remove(g_db);
    unlink(a.log);
    unlink(b.log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kill9_durability, kill_children),
        cmocka_unit_test_teardown(test_backend_unavailable, kill_children),
        cmocka_unit_test_teardown(test_two_replicas, kill_children),
    };
    return cmocka_run_group_tests_name("storage_process", tests, setup, teardown);
}
