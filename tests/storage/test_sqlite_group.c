/* SQLite group commit: many threads, one backend instance each on the same file, write at the
 * same time so their operations share transactions. Checks that a failing operation (stale
 * version, conflicting duplicate, missing conversation) undoes only itself, that redelivered
 * appends stay idempotent, and that every acknowledged write is visible through a fresh
 * connection afterwards with gap-free, unique sequence numbers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "temp_db.h"

#define THREADS 8
#define APPENDS 40

static char g_path[256];

typedef struct worker_arg {
    int index;
    int ok, conflicts, not_found, dup_ok, errors;
} worker_arg_t;

static storage_backend_t *open_be(void)
{
    storage_backend_config_t cfg = {.kind = AOS_STORAGE_BACKEND_SQLITE, .sqlite_path = g_path};
    storage_backend_t *be = NULL;
    char err[256];
    if (storage_backend_open(&cfg, &be, err, sizeof err) != AOS_OK)
        return NULL;
    return be;
}

static aos_result append(storage_backend_t *be, const char *conv, const char *id,
                         const char *content, int64_t expected, bool *created)
{
    aos_storage_message_t in = {.conversation_id = (char *)conv,
                                .id = (char *)id,
                                .role = (char *)"user",
                                .content = (char *)content};
    aos_storage_message_t out = {0};
    char err[256];
    aos_result r = be->ops->message_append(be, &in, expected, &out, created, err, sizeof err);
    aos_storage_message_clear(&out);
    return r;
}

static void *worker_main(void *p)
{
    worker_arg_t *a = p;
    storage_backend_t *be = open_be();
    if (!be) {
        a->errors++;
        return NULL;
    }
    char id[64], content[64];
    for (int i = 0; i < APPENDS; i++) {
        bool created = false;
        snprintf(id, sizeof id, "m-%d-%d", a->index, i);
        snprintf(content, sizeof content, "c-%d-%d", a->index, i);
        /* a fresh append into the shared conversation */
        aos_result r = append(be, "shared", id, content, -1, &created);
        if (r == AOS_OK && created)
            a->ok++;
        else
            a->errors++;
        /* its redelivery: stored once */
        r = append(be, "shared", id, content, -1, &created);
        if (r == AOS_OK && !created)
            a->dup_ok++;
        else
            a->errors++;
        /* failing operations in the same batches */
        r = append(be, "shared", id, "other content", -1, &created);
        a->conflicts += r == AOS_ERR_CONFLICT;
        char stale[80];
        snprintf(stale, sizeof stale, "stale-%s", id);
        r = append(be, "shared", stale, "x", 0, &created);
        a->conflicts += r == AOS_ERR_CONFLICT;
        r = append(be, "absent", id, content, -1, &created);
        a->not_found += r == AOS_ERR_NOT_FOUND;
    }
    storage_backend_free(be);
    return NULL;
}

static void test_concurrent_batches(void **state)
{
    (void)state;
    storage_backend_t *be = open_be();
    assert_non_null(be);
    aos_storage_conversation_t in = {.id = (char *)"shared", .agent = (char *)"a"};
    aos_storage_conversation_t conv = {0};
    bool created = false;
    char err[256];
    assert_int_equal(be->ops->conversation_create(be, &in, &conv, &created, err, sizeof err),
                     AOS_OK);
    assert_true(created);
    aos_storage_conversation_clear(&conv);
    /* the ordering guard appends at version 0 exactly once */
    assert_int_equal(append(be, "shared", "stale-guard", "x", 0, &created), AOS_OK);

    pthread_t th[THREADS];
    worker_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg_t){.index = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
        assert_int_equal(args[i].ok, APPENDS);
        assert_int_equal(args[i].dup_ok, APPENDS);
        /* "other content" under an existing id, and a new id at a stale version */
        assert_int_equal(args[i].conflicts, 2 * APPENDS);
        assert_int_equal(args[i].not_found, APPENDS);
    }
    storage_backend_free(be);

    /* a fresh instance (and connection) sees every acknowledged append exactly once */
    be = open_be();
    assert_non_null(be);
    assert_int_equal(be->ops->conversation_get(be, "shared", &conv, err, sizeof err), AOS_OK);
    assert_int_equal(conv.version, 1 + THREADS * APPENDS);
    aos_storage_conversation_clear(&conv);
    int64_t expect_seq = 1;
    char *cursor = NULL;
    for (;;) {
        aos_storage_message_page_t page = {0};
        assert_int_equal(be->ops->message_list(be, "shared", cursor, AOS_STORAGE_PAGE_MAX, false,
                                               &page, err, sizeof err),
                         AOS_OK);
        free(cursor);
        cursor = NULL;
        for (size_t i = 0; i < page.count; i++)
            assert_int_equal(page.items[i].seq, expect_seq++);
        if (page.next_cursor)
            cursor = strdup(page.next_cursor);
        aos_storage_message_page_clear(&page);
        if (!cursor)
            break;
    }
    assert_int_equal(expect_seq, 2 + THREADS * APPENDS);
    storage_backend_free(be);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%s/aos-sqlite-group-%d.db", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_concurrent_batches)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_db_remove(g_path);
    return rc;
}
