/* aos_bus (servicebus profile) and Service Bus message sessions, against sb_peer with
 * session-enabled queues aos.agent.* and aos.reply:
 *   - two session links of one subscription each lock one conversation (SessionId) and get
 *     its messages in order;
 *   - one link moves on to the next session once its session is idle;
 *   - request/reply between two buses over the shared aos.reply queue, the reply routed to the
 *     requester's session (its instance id);
 *   - a receiver without the session filter is refused with amqp:not-allowed, a message
 *     without a group-id is refused by a session queue, and a second instance with the same id
 *     cannot lock the first one's reply session. */
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
#include "aos/envelope.h"
#include "sb_test.h"

#define WAIT_MS 20000

static uint32_t g_idle_ms; /* session_idle_ms of the next bus (0: default) */

static aos_bus_t *new_bus(sb_peer_t *peer, const char *instance, const char *session_prefixes,
                          uint32_t session_receivers)
{
    sb_test_bus_cfg_t c;
    sb_test_bus_cfg(&c, peer, SB_TEST_KEY, instance);
    c.cfg.reconnect_min_ms = 100;
    c.cfg.reconnect_max_ms = 1000;
    c.cfg.session_queue_prefixes = session_prefixes;
    c.cfg.session_receivers = session_receivers;
    c.cfg.session_idle_ms = g_idle_ms;
    aos_bus_t *bus = sb_test_bus_new(&c.cfg);
    assert_int_equal(aos_bus_start(bus), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(bus, WAIT_MS), AOS_OK);
    return bus;
}

static sb_peer_t *new_peer(void)
{
    sb_peer_t *peer = sb_test_peer();
    sb_peer_set_session_queues(peer, "aos.agent.,aos.reply");
    return peer;
}

/* Poll the peer's log for needle (bounded; the bound is a hang guard, not a timing check). */
static bool log_has(sb_peer_t *peer, const char *needle, char *log, size_t loglen)
{
    for (int i = 0; i < WAIT_MS / 20; i++) {
        sb_peer_log(peer, log, loglen);
        if (strstr(log, needle))
            return true;
        sb_test_sleep_ms(20);
    }
    return false;
}

static void send_turn(aos_bus_t *bus, const char *queue, const char *conversation, int seq)
{
    char data[64], err[256] = "";
    snprintf(data, sizeof data, "{\"seq\":%d}", seq);
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.agent.turn", "/aos/tests/sessions", data, &ev), AOS_OK);
    assert_int_equal(aos_event_set(&ev->group_id, conversation), AOS_OK);
    aos_result r = aos_bus_send_sync(bus, queue, ev, WAIT_MS, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("send %s/%d: %s: %s", conversation, seq, aos_result_str(r), err);
    aos_event_free(ev);
}

/* ---- two sessions, two links ---- */

#define TURNS 3
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aos_bus_delivery_t *held[16];
    int nheld;
} inbox_t;

static void on_turn(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ev;
    inbox_t *in = ctx;
    pthread_mutex_lock(&in->mu);
    if (in->nheld < 16)
        in->held[in->nheld++] = d;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

static aos_bus_delivery_t *take(inbox_t *in)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&in->mu);
    while (in->nheld == 0 && pthread_cond_timedwait(&in->cv, &in->mu, &until) == 0)
        ;
    aos_bus_delivery_t *d = NULL;
    if (in->nheld) {
        d = in->held[0];
        memmove(in->held, in->held + 1, (size_t)--in->nheld * sizeof *in->held);
    }
    pthread_mutex_unlock(&in->mu);
    return d;
}

static int seq_of(const aos_event_t *ev)
{
    const char *s = ev->data ? strstr(ev->data, "\"seq\":") : NULL;
    return s ? atoi(s + 6) : -1;
}

static void two_links_hold_two_sessions_in_order(void **state)
{
    (void)state;
    sb_peer_t *peer = new_peer();
    aos_bus_t *sender = new_bus(peer, "sess-sender", NULL, 0);
    for (int i = 0; i < TURNS; i++) {
        send_turn(sender, "aos.agent.t1", "conv-a", i);
        send_turn(sender, "aos.agent.t1", "conv-b", i);
    }
    inbox_t in = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    /* two links, one unsettled delivery each */
    aos_bus_t *rcv = new_bus(peer, "sess-receiver", NULL, 2);
    assert_int_equal(aos_bus_subscribe(rcv, "aos.agent.t1", 2, on_turn, &in), AOS_OK);

    /* Holding the first two deliveries unsettled: with one in flight per link they can only
     * come from two links holding different sessions. */
    aos_bus_delivery_t *first = take(&in), *second = take(&in);
    assert_non_null(first);
    assert_non_null(second);
    assert_string_not_equal(aos_bus_delivery_event(first)->group_id,
                            aos_bus_delivery_event(second)->group_id);
    int next[2] = {0, 0};
    aos_bus_delivery_t *d = first;
    for (int got = 0; got < 2 * TURNS; got++) {
        if (got == 1)
            d = second;
        else if (got > 1)
            d = take(&in);
        assert_non_null(d);
        const aos_event_t *ev = aos_bus_delivery_event(d);
        assert_non_null(ev->group_id);
        int k = strcmp(ev->group_id, "conv-a") == 0 ? 0 : 1;
        if (k == 1)
            assert_string_equal(ev->group_id, "conv-b");
        assert_int_equal(seq_of(ev), next[k]);
        next[k]++;
        aos_bus_accept(d);
    }
    char log[16384];
    assert_true(log_has(peer, "session-lock aos.agent.t1 conv-a", log, sizeof log));
    assert_true(log_has(peer, "session-lock aos.agent.t1 conv-b", log, sizeof log));
    assert_null(strstr(log, "attach-refused aos.agent.t1"));
    aos_bus_free(rcv);
    aos_bus_free(sender);
    sb_peer_stop(peer);
}

/* ---- one link, idle session let go ---- */

static void one_link_moves_to_next_session_when_idle(void **state)
{
    (void)state;
    sb_peer_t *peer = new_peer();
    aos_bus_t *sender = new_bus(peer, "idle-sender", NULL, 0);
    for (int i = 0; i < 2; i++) {
        send_turn(sender, "aos.agent.t3", "conv-c", i);
        send_turn(sender, "aos.agent.t3", "conv-d", i);
    }
    inbox_t in = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    g_idle_ms = 100;
    aos_bus_t *rcv = new_bus(peer, "idle-receiver", NULL, 1);
    g_idle_ms = 0;
    assert_int_equal(aos_bus_subscribe(rcv, "aos.agent.t3", 1, on_turn, &in), AOS_OK);
    const char *want[] = {"conv-c", "conv-c", "conv-d", "conv-d"};
    for (int i = 0; i < 4; i++) {
        aos_bus_delivery_t *d = take(&in);
        assert_non_null(d);
        assert_string_equal(aos_bus_delivery_event(d)->group_id, want[i]);
        assert_int_equal(seq_of(aos_bus_delivery_event(d)), i % 2);
        aos_bus_accept(d);
    }
    char log[16384];
    assert_true(log_has(peer, "session-lock aos.agent.t3 conv-d", log, sizeof log));
    /* the one link let conv-c go (Proton sends the new attach before the old detach, so
     * the peer may lock conv-d for the new link first) */
    if (!log_has(peer, "session-unlock aos.agent.t3 conv-c", log, sizeof log))
        fail_msg("expected conv-c to be let go; peer log:\n%s", log);
    aos_bus_free(rcv);
    aos_bus_free(sender);
    sb_peer_stop(peer);
}

/* ---- request/reply over aos.reply ---- */

static void on_echo(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    aos_bus_t *bus = ctx;
    aos_event_t *reply = NULL;
    if (aos_event_create("aos.agent.echo.reply", "/aos/tests/responder", "{\"ok\":true}", &reply) ==
            AOS_OK &&
        aos_bus_reply(bus, ev, reply, NULL, NULL) == AOS_OK)
        aos_bus_accept(d);
    else
        aos_bus_reject(d, "aos:test", "could not reply");
    aos_event_free(reply);
}

static void request_reply_over_reply_sessions(void **state)
{
    (void)state;
    sb_peer_t *peer = new_peer();
    aos_bus_t *responder = new_bus(peer, "responder-1", NULL, 0);
    /* two requesters share aos.reply; each gets only its own session's replies */
    aos_bus_t *requesters[2] = {new_bus(peer, "requester-1", NULL, 0),
                                new_bus(peer, "requester-2", NULL, 0)};
    const char *ids[2] = {"requester-1", "requester-2"};
    assert_string_equal(aos_bus_reply_address(requesters[0]), "aos.reply");
    assert_int_equal(aos_bus_subscribe(responder, "aos.agent.echo", 4, on_echo, responder), AOS_OK);
    for (int i = 0; i < 4; i++) {
        aos_bus_t *requester = requesters[i % 2];
        aos_event_t *req = NULL, *reply = NULL;
        assert_int_equal(aos_event_create("aos.agent.echo", "/aos/tests/requester", "{}", &req),
                         AOS_OK);
        assert_int_equal(aos_event_set(&req->group_id, "conv-rr"), AOS_OK);
        aos_result r = aos_bus_request_sync(requester, "aos.agent.echo", req, WAIT_MS, &reply);
        if (r != AOS_OK) {
            char log[16384];
            sb_peer_log(peer, log, sizeof log);
            fail_msg("request %d: %s; peer log:\n%s", i, aos_result_str(r), log);
        }
        assert_string_equal(reply->type, "aos.agent.echo.reply");
        assert_string_equal(reply->correlation_id, req->id);
        assert_string_equal(reply->group_id, ids[i % 2]); /* the reply's SessionId */
        aos_event_free(req);
        aos_event_free(reply);
    }
    char log[16384];
    assert_true(log_has(peer, "session-lock aos.reply requester-1", log, sizeof log));
    assert_true(log_has(peer, "session-lock aos.reply requester-2", log, sizeof log));
    assert_true(sb_peer_transfers_to(peer, "aos.reply") >= 4);
    aos_bus_free(requesters[0]);
    aos_bus_free(requesters[1]);
    aos_bus_free(responder);
    sb_peer_stop(peer);
}

/* ---- refusals ---- */

static void no_op_cb(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ctx;
    (void)ev;
    aos_bus_release(d);
}

static void receiver_without_filter_is_refused(void **state)
{
    (void)state;
    sb_peer_t *peer = new_peer();
    /* this bus believes no queue is session-enabled: it attaches without the filter */
    aos_bus_t *bus = new_bus(peer, "no-sessions", "", 0);
    assert_int_equal(aos_bus_subscribe(bus, "aos.agent.t2", 1, no_op_cb, NULL), AOS_OK);
    char log[16384];
    if (!log_has(peer, "attach-refused aos.agent.t2 amqp:not-allowed", log, sizeof log))
        fail_msg("expected the session queue to refuse a plain receiver; peer log:\n%s", log);
    assert_null(strstr(log, "session-lock aos.agent.t2"));

    /* a session queue takes no message without a SessionId */
    aos_event_t *ev = NULL;
    char err[512] = "";
    assert_int_equal(aos_event_create("aos.agent.turn", "/aos/tests/sessions", "{}", &ev), AOS_OK);
    assert_int_equal(aos_bus_send_sync(bus, "aos.agent.t2", ev, WAIT_MS, err, sizeof err),
                     AOS_ERR_REJECTED);
    assert_non_null(strstr(err, "not-allowed"));
    aos_event_free(ev);

    /* a second instance with the same id cannot take the first one's reply session */
    aos_bus_t *twin = new_bus(peer, "no-sessions", "", 0);
    if (!log_has(peer, "attach-refused aos.reply com.microsoft:session-cannot-be-locked", log,
                 sizeof log))
        fail_msg("expected the reply session to be locked by the first bus; peer log:\n%s", log);
    aos_bus_free(twin);
    aos_bus_free(bus);
    assert_int_equal(sb_peer_transfers_to(peer, "aos.agent.t2"), 0);
    sb_peer_stop(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_links_hold_two_sessions_in_order),
        cmocka_unit_test(one_link_moves_to_next_session_when_idle),
        cmocka_unit_test(request_reply_over_reply_sessions),
        cmocka_unit_test(receiver_without_filter_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
