/* Issue 8 item 5: message size limits, against the peer (256 KiB like Standard):
 *  - a send over the link's advertised max-message-size fails at once with AOS_ERR_TOO_LARGE
 *    and a clear detail, is never retried, and the link keeps working;
 *  - a reply over the limit reaches the requester as an aos.error too_large reply, not as a
 *    timeout ("requester left" + retry forever before);
 *  - with the claim check, six turns of ~60 KB whose history grows past the limit all travel
 *    (by reference) and come back intact: nothing is stuck. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/bus.h"
#include "aos/claim_check.h"
#include "aos/envelope.h"
#include "sb_test.h"

#define TURN_BYTES 60000
#define TURNS 6

/* {"text":"xxxx…"} of about n bytes */
static char *big_json(size_t n)
{
    char *s = malloc(n + 16);
    assert_non_null(s);
    strcpy(s, "{\"text\":\"");
    size_t o = strlen(s);
    memset(s + o, 'x', n);
    strcpy(s + o + n, "\"}");
    return s;
}

static aos_event_t *event_of(size_t n)
{
    char *data = big_json(n);
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.test.size", "/aos/tests", data, &ev), AOS_OK);
    free(data);
    return ev;
}

static void on_big_request(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    aos_bus_t *bus = ctx;
    aos_event_t *reply = event_of(300 * 1024);
    aos_bus_reply(bus, ev, reply, NULL, NULL);
    aos_event_free(reply);
    aos_bus_accept(d);
}

static void over_the_limit_fails_cleanly(void **state)
{
    (void)state;
    sb_peer_t *peer = sb_test_peer();
    sb_peer_set_session_queues(peer, "aos.reply");
    aos_bus_t *bus = sb_test_bus(peer, "sb-size-test");
    aos_bus_t *svc = sb_test_bus(peer, "sb-size-svc");
    assert_int_equal(aos_bus_subscribe(svc, "aos.svc", 4, on_big_request, svc), AOS_OK);
    assert_int_equal(aos_bus_start(bus), AOS_OK);
    assert_int_equal(aos_bus_start(svc), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(bus, 30000), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(svc, 30000), AOS_OK);

    /* a small one first: the link is attached and its max-message-size known */
    char err[256] = "";
    aos_event_t *small = event_of(100);
    assert_int_equal(aos_bus_send_sync(bus, "aos.work", small, 20000, err, sizeof err), AOS_OK);
    aos_event_t *big = event_of(300 * 1024);
    aos_result r = aos_bus_send_sync(bus, "aos.work", big, 20000, err, sizeof err);
    if (r != AOS_ERR_TOO_LARGE)
        fail_msg("a 300 KiB send gave %s (%s), want too_large", aos_result_str(r), err);
    assert_non_null(strstr(err, "max-message-size"));
    aos_event_free(big);
    /* the link still works */
    aos_event_free(small);
    small = event_of(100);
    assert_int_equal(aos_bus_send_sync(bus, "aos.work", small, 20000, err, sizeof err), AOS_OK);
    aos_event_free(small);

    /* a reply over the limit: the requester hears about it */
    aos_event_t *req = event_of(10);
    aos_event_t *reply = NULL;
    r = aos_bus_request_sync(bus, "aos.svc", req, 30000, &reply);
    aos_event_free(req);
    if (r != AOS_OK)
        fail_msg("request: %s (want an aos.error reply)", aos_result_str(r));
    char msg[300];
    assert_int_equal(aos_bus_reply_result(reply, msg, sizeof msg), AOS_ERR_TOO_LARGE);
    assert_non_null(strstr(msg, "max-message-size"));
    aos_event_free(reply);
    aos_bus_free(svc);
    aos_bus_free(bus);
    sb_peer_stop(peer);
}

/* ---- claim check ---- */

typedef struct {
    pthread_mutex_t mu;
    char *names[16];
    char *data[16];
    size_t len[16];
    int n;
} mem_store_t;

static aos_result mem_put(void *ctx, const char *name, const void *data, size_t len, char *e,
                          size_t el)
{
    (void)e, (void)el;
    mem_store_t *m = ctx;
    pthread_mutex_lock(&m->mu);
    assert_true(m->n < 16);
    m->names[m->n] = strdup(name);
    m->data[m->n] = malloc(len);
    memcpy(m->data[m->n], data, len);
    m->len[m->n++] = len;
    pthread_mutex_unlock(&m->mu);
    return AOS_OK;
}

static aos_result mem_get(void *ctx, const char *name, size_t max_len, void **out, size_t *out_len,
                          char *e, size_t el)
{
    (void)e, (void)el;
    mem_store_t *m = ctx;
    aos_result r = AOS_ERR_NOT_FOUND;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n; i++) {
        if (strcmp(m->names[i], name) != 0)
            continue;
        r = m->len[i] > max_len ? AOS_ERR_TOO_LARGE : AOS_OK;
        if (r == AOS_OK) {
            *out = malloc(m->len[i]);
            memcpy(*out, m->data[i], m->len[i]);
            *out_len = m->len[i];
        }
    }
    pthread_mutex_unlock(&m->mu);
    return r;
}

typedef struct {
    pthread_mutex_t mu;
    aos_event_t *got[TURNS];
    int n;
} inbox_t;

static void on_turn(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    inbox_t *in = ctx;
    pthread_mutex_lock(&in->mu);
    if (in->n < TURNS)
        aos_event_clone(ev, &in->got[in->n++]);
    pthread_mutex_unlock(&in->mu);
    aos_bus_accept(d);
}

static void six_turns_of_60k_by_reference(void **state)
{
    (void)state;
    sb_peer_t *peer = sb_test_peer();
    sb_peer_set_session_queues(peer, "aos.reply");
    aos_bus_t *bus = sb_test_bus(peer, "sb-claim-test");
    inbox_t in = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(aos_bus_subscribe(bus, "aos.history", 8, on_turn, &in), AOS_OK);
    assert_int_equal(aos_bus_start(bus), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(bus, 30000), AOS_OK);

    mem_store_t mem = {.mu = PTHREAD_MUTEX_INITIALIZER};
    aos_claim_store_t store = {mem_put, mem_get, &mem};
    size_t sizes[TURNS];
    int moved_count = 0;
    for (int k = 1; k <= TURNS; k++) {
        /* the history after k turns of ~60 KB: 306 KB after six, over 256 KiB from the 5th */
        aos_event_t *ev = event_of((size_t)k * TURN_BYTES);
        sizes[k - 1] = ev->data_len;
        bool moved = false;
        char err[256] = "";
        assert_int_equal(aos_claim_check_offload(&store, ev, 192 * 1024, &moved, err, sizeof err),
                         AOS_OK);
        moved_count += moved;
        assert_true(ev->data_len < 1024 || !moved);
        aos_result r = aos_bus_send_sync(bus, "aos.history", ev, 20000, err, sizeof err);
        if (r != AOS_OK)
            fail_msg("turn %d: %s %s", k, aos_result_str(r), err);
        aos_event_free(ev);
    }
    assert_int_equal(moved_count, 3); /* 240 KB, 300 KB and 360 KB went by reference */
    for (int i = 0; i < 300; i++) {
        pthread_mutex_lock(&in.mu);
        int n = in.n;
        pthread_mutex_unlock(&in.mu);
        if (n == TURNS)
            break;
        sb_test_sleep_ms(100);
    }
    assert_int_equal(in.n, TURNS);
    for (int i = 0; i < TURNS; i++) {
        char err[256] = "";
        assert_int_equal(aos_claim_check_resolve(&store, in.got[i], 1 << 24, err, sizeof err),
                         AOS_OK);
        assert_null(aos_event_get_ext(in.got[i], AOS_CLAIM_EXT));
        assert_string_equal(in.got[i]->datacontenttype, "application/json");
        bool found = false;
        for (int k = 0; k < TURNS; k++)
            found |= in.got[i]->data_len == sizes[k];
        assert_true(found);
        assert_int_equal(in.got[i]->data[in.got[i]->data_len - 1], '}');
        aos_event_free(in.got[i]);
    }
    aos_bus_free(bus);
    for (int i = 0; i < mem.n; i++) {
        free(mem.names[i]);
        free(mem.data[i]);
    }
    sb_peer_stop(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(over_the_limit_fails_cleanly),
        cmocka_unit_test(six_turns_of_60k_by_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
