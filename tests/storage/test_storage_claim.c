/* The claim check at aos-storage on its own backend (services/storage/service_claim.h; issue 8
 * item 5): a reply offloaded through the backend store resolves to the same bytes; a request
 * that arrives by reference is resolved, one whose claim is gone is refused as invalid (no
 * redelivery brings it back); the sweep deletes claims past the retention and only those. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/claim_check.h"
#include "service_claim.h"
#include "temp_db.h"

static storage_backend_t *g_be;
static char g_db[64];

static int setup(void **state)
{
    (void)state;
    snprintf(g_db, sizeof g_db, "/tmp/aos-storage-claim-%d.db", (int)getpid());
    storage_backend_config_t cfg = {.kind = AOS_STORAGE_BACKEND_SQLITE, .sqlite_path = g_db};
    char err[256];
    return storage_backend_open(&cfg, &g_be, err, sizeof err) == AOS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    storage_backend_free(g_be);
    temp_db_remove(g_db);
    return 0;
}

static aos_event_t *big_event(const char *id, size_t n)
{
    char *data = malloc(n + 16);
    assert_non_null(data);
    int o = snprintf(data, n + 16, "{\"t\":\"");
    memset(data + o, 'z', n);
    strcpy(data + o + n, "\"}");
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.storage.message.list", "/t", data, &ev), AOS_OK);
    assert_int_equal(aos_event_set(&ev->id, id), AOS_OK);
    free(data);
    return ev;
}

static size_t claims(void)
{
    aos_storage_blob_page_t page = {0};
    char err[200];
    assert_int_equal(
        g_be->ops->blob_list(g_be, AOS_CLAIM_CONTAINER, "bus/", NULL, 100, &page, err, sizeof err),
        AOS_OK);
    size_t n = page.count;
    aos_storage_blob_page_clear(&page);
    return n;
}

static void offload_resolve_forget_sweep(void **state)
{
    (void)state;
    aos_claim_store_t store;
    storage_claim_store(g_be, &store);
    /* over the largest chunk a backend takes in one piece: several chunks */
    aos_event_t *ev = big_event("req-1", 5u * 1024u * 1024u);
    char *orig = strndup(ev->data, ev->data_len);
    size_t len = ev->data_len;
    bool moved = false;
    char err[256] = "";
    assert_int_equal(
        aos_claim_check_offload(&store, ev, AOS_CLAIM_THRESHOLD_DEFAULT, &moved, err, sizeof err),
        AOS_OK);
    assert_true(moved);
    assert_int_equal(claims(), 1);
    aos_event_t *resolved = NULL;
    assert_int_equal(storage_claim_resolve_request(g_be, ev, &resolved, err, sizeof err), AOS_OK);
    assert_non_null(resolved);
    assert_int_equal(resolved->data_len, len);
    assert_memory_equal(resolved->data, orig, len);
    aos_event_free(resolved);
    storage_claim_forget(g_be, aos_event_get_ext(ev, AOS_CLAIM_EXT));
    assert_int_equal(claims(), 0);

    /* gone: refused as invalid, with the reason */
    assert_int_equal(storage_claim_resolve_request(g_be, ev, &resolved, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_null(resolved);
    assert_non_null(strstr(err, "gone"));
    aos_event_free(ev);

    /* no reference: nothing to do */
    ev = big_event("req-2", 10);
    assert_int_equal(storage_claim_resolve_request(g_be, ev, &resolved, err, sizeof err), AOS_OK);
    assert_null(resolved);
    /* the sweep: a claim younger than the retention stays, an older one goes */
    assert_int_equal(aos_claim_check_offload(&store, ev, 1, &moved, err, sizeof err), AOS_OK);
    assert_int_equal(claims(), 1);
    assert_int_equal(storage_claim_sweep(g_be, 3600000), 0);
    assert_int_equal(claims(), 1);
    assert_int_equal(storage_claim_sweep(g_be, -1000), 1); /* "older than 1 s in the future" */
    assert_int_equal(claims(), 0);
    aos_event_free(ev);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(offload_resolve_forget_sweep, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
