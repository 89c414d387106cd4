/* Issue 8 item 5: the claim check at its resolve/offload points, against the Service Bus peer
 * (max-message-size 256 KiB like Standard) with aos-storage (SQLite) in-process:
 *  - the storage client sends a request over the threshold by reference and aos-storage
 *    resolves it from its own backend (a 256 KiB message appended);
 *  - aos-storage answers a reply over the threshold by reference and the storage client, sync
 *    and async, resolves it (a message.list page holding that one message) — before: too_large;
 *  - the claims of both are deleted once used;
 *  - aos_storage_claim_offload_async / _resolve_async round trip an event;
 *  - a request whose claim is gone gets an aos.error invalid reply at once, and resolving a
 *    gone claim fails at once: nothing waits or retries. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/bus.h"
#include "aos/claim_check.h"
#include "aos/storage_client.h"
#include "sb_test.h"
#include "service.h"
#include "temp_db.h"

#define BIG (256 * 1024) /* the largest stored message: over one Standard bus message */

static struct {
    sb_peer_t *peer;
    aos_bus_t *svc_bus, *bus;
    storage_service_t *svc;
    aos_storage_client_t *sc;
    char db[64];
} S;

static int setup(void **state)
{
    (void)state;
    S.peer = sb_peer_start(SB_TEST_NS, SB_TEST_KEY_NAME, SB_TEST_KEY);
    if (!S.peer)
        return -1;
    sb_peer_set_session_queues(S.peer, "aos.reply");
    snprintf(S.db, sizeof S.db, "/tmp/aos-sb-claim-%d.db", (int)getpid());
    S.svc_bus = sb_test_bus(S.peer, "sb-claim-storage");
    S.bus = sb_test_bus(S.peer, "sb-claim-client");
    char err[256] = "";
    storage_service_config_t sc = {
        .bus = S.svc_bus,
        .workers = 2,
        .backend = {.kind = AOS_STORAGE_BACKEND_SQLITE, .sqlite_path = S.db}};
    if (storage_service_new(&sc, &S.svc, err, sizeof err) != AOS_OK ||
        storage_service_start(S.svc, err, sizeof err) != AOS_OK ||
        aos_bus_start(S.svc_bus) != AOS_OK || aos_bus_start(S.bus) != AOS_OK ||
        aos_bus_wait_connected(S.svc_bus, 30000) != AOS_OK ||
        aos_bus_wait_connected(S.bus, 30000) != AOS_OK) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    aos_storage_client_config_t cc = {.bus = S.bus, .timeout_ms = 10000};
    if (aos_storage_client_new(&cc, &S.sc, err, sizeof err) != AOS_OK)
        return -1;
    for (int i = 0; i < 200 && !storage_service_ready(S.svc, NULL, 0); i++)
        sb_test_sleep_ms(50);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    aos_storage_client_free(S.sc);
    if (S.svc)
        storage_service_stop(S.svc, 2000);
    aos_bus_free(S.bus);
    aos_bus_free(S.svc_bus);
    storage_service_free(S.svc);
    sb_peer_stop(S.peer);
    temp_db_remove(S.db);
    return 0;
}

static char *big_text(size_t n, char c)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Claims still stored (aos-claims/bus/...). */
static size_t claims_left(void)
{
    aos_storage_blob_page_t page = {0};
    char err[256] = "";
    aos_result r = aos_storage_blob_list_sync(S.sc, AOS_CLAIM_CONTAINER, "bus/", NULL, 100, &page,
                                              err, sizeof err);
    size_t n = r == AOS_OK ? page.count : 0;

    aos_storage_blob_page_clear(&page);
    return n;
}

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    aos_result r;
    aos_event_t *ev;
    size_t content_len;
} waiter_t;

static void waiter_init(waiter_t *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void waiter_wait(waiter_t *w)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&w->mu);
    while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
        ;
    bool done = w->done;
    pthread_mutex_unlock(&w->mu);
    if (!done)
        fail_msg("no callback within 30 s");
}

static void waiter_signal(waiter_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void on_page(void *ctx, aos_result r, const aos_storage_message_page_t *page,
                    const char *errmsg)
{
    (void)errmsg;
    waiter_t *w = ctx;
    w->r = r;
    if (r == AOS_OK && page->count >= 1)
        w->content_len = strlen(page->items[0].content);
    waiter_signal(w);
}

static void a_big_message_travels_both_ways(void **state)
{
    (void)state;
    char err[256] = "";
    aos_storage_conversation_t conv = {0};
    assert_int_equal(aos_storage_conversation_create_sync(S.sc, "c-claim", "a", NULL, &conv, NULL,
                                                          err, sizeof err),
                     AOS_OK);
    aos_storage_conversation_clear(&conv);
    char *text = big_text(BIG, 'M');
    aos_storage_message_t m = {
        .conversation_id = "c-claim", .id = "m-1", .role = "user", .content = text};
    aos_storage_message_t out = {0};
    aos_result r = aos_storage_message_append_sync(S.sc, &m, -1, &out, NULL, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("append of %d bytes: %s (%s)", BIG, aos_result_str(r), err);
    assert_int_equal(strlen(out.content), BIG);
    aos_storage_message_clear(&out);

    /* the page holding it is over 256 KiB: by reference, resolved by the client (sync) */
    aos_storage_message_page_t page = {0};
    r = aos_storage_message_list_sync(S.sc, "c-claim", NULL, 10, false, &page, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("list: %s (%s)", aos_result_str(r), err);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.items[0].content, text);
    aos_storage_message_page_clear(&page);

    /* ...and async (callback on the bus thread after the blob reads) */
    waiter_t w;
    waiter_init(&w);
    assert_int_equal(aos_storage_message_list(S.sc, "c-claim", NULL, 10, false, on_page, &w),
                     AOS_OK);
    waiter_wait(&w);
    assert_int_equal(w.r, AOS_OK);
    assert_int_equal(w.content_len, BIG);

    /* every claim was deleted by its receiver once used */
    size_t left = 1;
    for (int i = 0; i < 100 && (left = claims_left()) > 0; i++)
        sb_test_sleep_ms(100);
    assert_int_equal(left, 0);
    free(text);
}

static void on_claim(void *ctx, aos_result r, aos_event_t *ev, const char *errmsg)
{
    (void)errmsg;
    waiter_t *w = ctx;
    w->r = r;
    w->ev = ev;
    waiter_signal(w);
}

static void async_offload_and_resolve(void **state)
{
    (void)state;
    char *text = big_text(300 * 1024, 'E');
    char *data = NULL;
    assert_true(asprintf(&data, "{\"text\":\"%s\"}", text) > 0);
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.test.claim", "/aos/tests", data, &ev), AOS_OK);
    size_t len = ev->data_len;

    waiter_t w;
    waiter_init(&w);
    assert_int_equal(
        aos_storage_claim_offload_async(S.sc, ev, AOS_CLAIM_THRESHOLD_DEFAULT, on_claim, &w),
        AOS_OK);
    waiter_wait(&w);
    assert_int_equal(w.r, AOS_OK);
    ev = w.ev;
    assert_non_null(aos_event_get_ext(ev, AOS_CLAIM_EXT));
    assert_true(ev->data_len < 512);

    waiter_init(&w);
    assert_int_equal(aos_storage_claim_resolve_async(S.sc, ev, AOS_CLAIM_MAX, on_claim, &w),
                     AOS_OK);
    waiter_wait(&w);
    assert_int_equal(w.r, AOS_OK);
    ev = w.ev;
    assert_null(aos_event_get_ext(ev, AOS_CLAIM_EXT));
    assert_int_equal(ev->data_len, len);
    assert_memory_equal(ev->data, data, len);

    /* small: nothing to do, the callback runs at once */
    waiter_init(&w);
    assert_int_equal(aos_storage_claim_offload_async(S.sc, ev, 1024 * 1024, on_claim, &w), AOS_OK);
    assert_true(w.done);
    assert_ptr_equal(w.ev, ev);
    aos_event_free(ev);
    free(data);
    free(text);
}

static void a_gone_claim_fails_at_once(void **state)
{
    (void)state;
    /* a storage request whose claim is gone: aos.error invalid, not released and retried */
    aos_event_t *req = NULL, *reply = NULL;
    assert_int_equal(aos_event_create("aos.storage.message.list", "/aos/tests",
                                      "{\"conversation_id\":\"c-claim\"}", &req),
                     AOS_OK);
    assert_int_equal(aos_claim_check_reference(req, "bus/never-stored"), AOS_OK);
    assert_int_equal(aos_bus_request_sync(S.bus, "aos.storage", req, 20000, &reply), AOS_OK);
    char msg[300];
    assert_int_equal(aos_bus_reply_result(reply, msg, sizeof msg), AOS_ERR_INVALID);
    assert_non_null(strstr(msg, "by reference"));
    aos_event_free(reply);

    /* resolving a gone claim: an error, promptly */
    waiter_t w;
    waiter_init(&w);
    assert_int_equal(aos_storage_claim_resolve_async(S.sc, req, AOS_CLAIM_MAX, on_claim, &w),
                     AOS_OK);
    waiter_wait(&w);
    assert_int_equal(w.r, AOS_ERR_NOT_FOUND);
    aos_event_free(w.ev);
}

/* A store that refuses every blob (a storage that says no): answers aos.error invalid. */
static void on_refusing_storage(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    aos_bus_reply_error(ctx, ev, AOS_ERR_INVALID, "blob refused");
    aos_bus_accept(d);
}

static void on_message(void *ctx, aos_result r, const aos_storage_message_t *m, bool created,
                       const char *errmsg)
{
    (void)m;
    (void)created;
    (void)errmsg;
    waiter_t *w = ctx;
    w->r = r;
    waiter_signal(w);
}

/* Nothing stuck: a request whose data cannot be stored by reference fails at once with the
 * store's answer (the caller answers its own requester: the router 4xx/503, the runner
 * aos.error), it is neither sent inline over the limit nor retried. */
static void a_refused_offload_fails_at_once(void **state)
{
    (void)state;
    assert_int_equal(
        aos_bus_subscribe(S.svc_bus, "aos.refusing", 4, on_refusing_storage, S.svc_bus), AOS_OK);
    char err[256] = "";
    aos_storage_client_config_t cc = {.bus = S.bus, .queue = "aos.refusing", .timeout_ms = 10000};
    aos_storage_client_t *sc = NULL;
    assert_int_equal(aos_storage_client_new(&cc, &sc, err, sizeof err), AOS_OK);
    char *text = big_text(BIG, 'X');
    aos_storage_message_t m = {
        .conversation_id = "c-claim", .id = "m-2", .role = "user", .content = text};
    waiter_t w;
    waiter_init(&w);
    int64_t t0 = (int64_t)time(NULL);
    assert_int_equal(aos_storage_message_append(sc, &m, -1, on_message, &w), AOS_OK);
    waiter_wait(&w);
    assert_int_equal(w.r, AOS_ERR_INVALID);
    assert_true((int64_t)time(NULL) - t0 < 5); /* the store's answer, not a timeout */
    aos_storage_client_free(sc);
    free(text);
}

/* Claim names are blob names: an event id with other characters (":" in "<reply>:reply")
 * still names a blob, distinct ids stay distinct, the same id gives the same name. */
static void claim_names_are_blob_names(void **state)
{
    (void)state;
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_new(&ev), AOS_OK);
    char a[300], b[300];
    assert_int_equal(aos_event_set(&ev->id, "m-1"), AOS_OK);
    assert_int_equal(aos_claim_check_name(ev, a, sizeof a), AOS_OK);
    assert_string_equal(a, "bus/m-1");
    assert_int_equal(aos_event_set(&ev->id, "m-1:r:reply"), AOS_OK);
    assert_int_equal(aos_claim_check_name(ev, a, sizeof a), AOS_OK);
    assert_null(strchr(a, ':'));
    assert_int_equal(strncmp(a, "bus/m-1_r_reply-", 16), 0);
    assert_int_equal(aos_claim_check_name(ev, b, sizeof b), AOS_OK);
    assert_string_equal(a, b);
    assert_int_equal(aos_event_set(&ev->id, "m-1_r_reply"), AOS_OK);
    assert_int_equal(aos_claim_check_name(ev, b, sizeof b), AOS_OK);
    assert_string_not_equal(a, b);
    assert_int_equal(aos_event_set(&ev->id, "a/../b"), AOS_OK);
    assert_int_equal(aos_claim_check_name(ev, b, sizeof b), AOS_ERR_INVALID);
    aos_event_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claim_names_are_blob_names),
        cmocka_unit_test(a_big_message_travels_both_ways),
        cmocka_unit_test(async_offload_and_resolve),
        cmocka_unit_test(a_gone_claim_fails_at_once),
        cmocka_unit_test(a_refused_offload_fails_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
