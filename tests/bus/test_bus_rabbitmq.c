/* Integration tests of the bus against a real RabbitMQ (fixture "rabbitmq"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/transport.h>

#include "bus_test_util.h"

/* ---------------------------------------------------------------- round trip ---- */

static void test_round_trip(void **state)
{
    (void)state;
    aos_bus_t *bus = t_bus("rt", 0);
    assert_non_null(bus);
    assert_true(aos_bus_is_connected(bus));
    t_collector_t c;
    t_collector_init(&c, T_ACCEPT);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.roundtrip", 8, t_on_message, &c), AOS_OK);

    enum { N = 20 };
    char ids[N][40];
    for (int i = 0; i < N; i++) {
        char data[64];
        snprintf(data, sizeof data, "{\"n\":%d,\"s\":\"caf\\u00e9\"}", i);
        aos_event_t *ev = t_event("aos.test.roundtrip", data);
        assert_non_null(ev);
        aos_event_set(&ev->group_id, "conv-1");
        snprintf(ids[i], sizeof ids[i], "%s", ev->id);
        char err[256] = "";
        assert_int_equal(aos_bus_send_sync(bus, "aos.test.roundtrip", ev, 10000, err, sizeof err),
                         AOS_OK);
        aos_event_free(ev);
    }
    for (int i = 0; i < N; i++)
        assert_true(t_wait(&c, t_pred_has_id, ids[i], 10000));
    pthread_mutex_lock(&c.mu);
    for (int i = 0; i < N; i++) {
        long k = t_find(&c, ids[i]);
        char want[64];
        snprintf(want, sizeof want, "{\"n\":%d,\"s\":\"caf\\u00e9\"}", i);
        assert_string_equal(c.data[k], want);
        assert_int_equal(c.counts[k], 0);
    }
    pthread_mutex_unlock(&c.mu);
    aos_bus_free(bus);
    t_collector_destroy(&c);
}

static void test_bad_input(void **state)
{
    (void)state;
    aos_bus_t *bus = NULL;
    char err[256] = "";
    aos_bus_config_t cfg = {.url = "amqp://guest:guest@127.0.0.1:notaport"};
    assert_int_equal(aos_bus_new(&cfg, &bus, err, sizeof err), AOS_ERR_INVALID);
    assert_null(bus);
    assert_non_null(strstr(err, "port"));
    cfg = (aos_bus_config_t){.url = "amqp://h", .instance_id = "bad/instance"};
    assert_int_equal(aos_bus_new(&cfg, &bus, err, sizeof err), AOS_ERR_INVALID);

    bus = t_bus("bad", 0);
    assert_non_null(bus);
    aos_event_t *ev = t_event("aos.test.bad", "{}");
    assert_int_equal(aos_bus_send(bus, "no/such queue", ev, NULL, NULL), AOS_ERR_INVALID);
    assert_int_equal(aos_bus_send(bus, NULL, ev, NULL, NULL), AOS_ERR_INVALID);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.misc", 0, t_on_message, NULL),
                     AOS_ERR_INVALID);
    /* a reply needs a reply-to */
    assert_int_equal(aos_bus_reply(bus, ev, ev, NULL, NULL), AOS_ERR_INVALID);
    /* an invalid event is refused before anything is sent */
    aos_event_t *bad = NULL;
    assert_int_equal(aos_event_new(&bad), AOS_OK);
    assert_int_not_equal(aos_bus_send_sync(bus, "aos.test.misc", bad, 5000, err, sizeof err),
                         AOS_OK);
    aos_event_free(bad);
    /* A subscription to a queue the broker does not have is refused (RabbitMQ ends the
     * session); that must not take the bus's other links down. */
    t_collector_t c;
    t_collector_init(&c, T_ACCEPT);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.does-not-exist", 4, t_on_message, &c),
                     AOS_OK);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.misc", 4, t_on_message, &c), AOS_OK);
    usleep(500000);
    assert_int_equal(aos_bus_send_sync(bus, "aos.test.misc", ev, 10000, err, sizeof err), AOS_OK);
    assert_true(t_wait(&c, t_pred_has_id, ev->id, 10000));
    assert_true(aos_bus_is_connected(bus));
    /* the bus keeps working */
    assert_int_equal(aos_bus_send_sync(bus, "aos.test.misc", ev, 10000, err, sizeof err), AOS_OK);
    aos_event_free(ev);
    aos_bus_free(bus);
    t_collector_destroy(&c);
}

/* -------------------------------------------------------------- request/reply ---- */

typedef struct responder {
    aos_bus_t *bus;
    int answered;
} responder_t;

static void on_request(void *ctx, aos_bus_delivery_t *d, const aos_event_t *req)
{
    responder_t *r = ctx;
    if (req->data && strstr(req->data, "\"fail\"")) {
        aos_bus_reply_error(r->bus, req, AOS_ERR_NOT_FOUND, "no such thing");
    } else {
        char data[512];
        snprintf(data, sizeof data, "{\"echo\":%.*s}", (int)req->data_len, req->data);
        aos_event_t *rep = t_event("aos.test.rpc.result", data);
        aos_bus_reply(r->bus, req, rep, NULL, NULL);
        aos_event_free(rep);
    }
    __atomic_add_fetch(&r->answered, 1, __ATOMIC_SEQ_CST);
    aos_bus_accept(d);
}

typedef struct async_replies {
    pthread_mutex_t mu;
    int ok, other;
} async_replies_t;

static void on_async_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    async_replies_t *a = ctx;
    pthread_mutex_lock(&a->mu);
    if (r == AOS_OK && reply && reply->correlation_id)
        a->ok++;
    else
        a->other++;
    pthread_mutex_unlock(&a->mu);
}

static void test_request_reply(void **state)
{
    (void)state;
    responder_t resp = {.bus = t_bus("rpc-srv", 0)};
    aos_bus_t *client = t_bus("rpc-cli", 0);
    assert_non_null(resp.bus);
    assert_non_null(client);
    assert_int_equal(aos_bus_subscribe(resp.bus, "aos.test.rpc", 16, on_request, &resp), AOS_OK);

    aos_event_t *req = t_event("aos.test.rpc", "{\"q\":1}");
    aos_event_t *reply = NULL;
    assert_int_equal(aos_bus_request_sync(client, "aos.test.rpc", req, 10000, &reply), AOS_OK);
    assert_non_null(reply);
    assert_string_equal(reply->correlation_id, req->id);
    assert_string_equal(reply->type, "aos.test.rpc.result");
    assert_memory_equal(reply->data, "{\"echo\":{\"q\":1}}", reply->data_len);
    assert_int_equal(aos_bus_reply_result(reply, NULL, 0), AOS_OK);
    aos_event_free(reply);
    aos_event_free(req);

    /* an error reply carries its code and message */
    req = t_event("aos.test.rpc", "{\"q\":\"fail\"}");
    assert_int_equal(aos_bus_request_sync(client, "aos.test.rpc", req, 10000, &reply), AOS_OK);
    char msg[128];
    assert_int_equal(aos_bus_reply_result(reply, msg, sizeof msg), AOS_ERR_NOT_FOUND);
    assert_string_equal(msg, "no such thing");
    aos_event_free(reply);
    aos_event_free(req);

    /* many at once, matched by correlation id */
    async_replies_t a = {.mu = PTHREAD_MUTEX_INITIALIZER};
    enum { N = 50 };
    for (int i = 0; i < N; i++) {
        char data[32];
        snprintf(data, sizeof data, "{\"i\":%d}", i);
        aos_event_t *r = t_event("aos.test.rpc", data);
        assert_int_equal(aos_bus_request(client, "aos.test.rpc", r, 15000, on_async_reply, &a),
                         AOS_OK);
        aos_event_free(r);
    }
    uint64_t until = t_now_ms() + 20000;
    for (;;) {
        pthread_mutex_lock(&a.mu);
        int done = a.ok + a.other;
        pthread_mutex_unlock(&a.mu);
        if (done >= N || t_now_ms() > until)
            break;
        usleep(10000);
    }
    assert_int_equal(a.ok, N);
    assert_int_equal(a.other, 0);
    aos_bus_free(client);
    aos_bus_free(resp.bus);
}

static void test_request_timeout(void **state)
{
    (void)state;
    aos_bus_t *client = t_bus("rpc-timeout", 0);
    assert_non_null(client);
    aos_event_t *req = t_event("aos.test.noreply", "{}");
    req->ttl_ms = 5000;
    aos_event_t *reply = NULL;
    uint64_t t0 = t_now_ms();
    assert_int_equal(aos_bus_request_sync(client, "aos.test.noreply", req, 300, &reply),
                     AOS_ERR_TIMEOUT);
    assert_null(reply);
    assert_true(t_now_ms() - t0 >= 300);
    /* an outstanding request is answered AOS_ERR_CLOSED when the bus stops */
    async_replies_t a = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(aos_bus_request(client, "aos.test.noreply", req, 60000, on_async_reply, &a),
                     AOS_OK);
    aos_bus_stop(client, 500);
    assert_int_equal(a.other, 1);
    aos_event_free(req);
    aos_bus_free(client);
}

/* ------------------------------------------------------------------ redelivery ---- */

static void test_redelivery_after_consumer_death(void **state)
{
    (void)state;
    enum { N = 3 };
    char ids[N][40];
    aos_bus_t *producer = t_bus("redeliver-p", 0);
    assert_non_null(producer);
    for (int i = 0; i < N; i++) {
        aos_event_t *ev = t_event("aos.test.redeliver", "{}");
        snprintf(ids[i], sizeof ids[i], "%s", ev->id);
        char err[256];
        assert_int_equal(
            aos_bus_send_sync(producer, "aos.test.redeliver", ev, 10000, err, sizeof err), AOS_OK);
        aos_event_free(ev);
    }
    aos_bus_free(producer); /* no bus threads alive across fork() */
    /* A child process takes the messages and dies without settling them. */
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        aos_bus_t *b = t_bus("redeliver-dying", 0);
        t_collector_t c;
        t_collector_init(&c, T_HOLD);
        if (!b || aos_bus_subscribe(b, "aos.test.redeliver", 100, t_on_message, &c) != AOS_OK)
            _exit(2);
        int got = 1;
        for (int i = 0; i < N; i++)
            got &= t_wait(&c, t_pred_has_id, ids[i], 10000);
        char ok = got ? 'y' : 'n';
        (void)!write(pipefd[1], &ok, 1);
        _exit(0); /* no settle, no close: the connection just dies */
    }
    close(pipefd[1]);
    char ok = 0;
    assert_int_equal(read(pipefd[0], &ok, 1), 1);
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_int_equal(ok, 'y');

    t_collector_t c;
    t_collector_init(&c, T_ACCEPT);
    aos_bus_t *consumer = t_bus("redeliver-c", 0);
    assert_non_null(consumer);
    assert_int_equal(aos_bus_subscribe(consumer, "aos.test.redeliver", 10, t_on_message, &c),
                     AOS_OK);
    for (int i = 0; i < N; i++) {
        assert_true(t_wait(&c, t_pred_has_id, ids[i], 15000));
        pthread_mutex_lock(&c.mu);
        assert_true(c.counts[t_find(&c, ids[i])] > 0);
        pthread_mutex_unlock(&c.mu);
    }
    aos_bus_free(consumer);
    t_collector_destroy(&c);
}

static void test_stop_releases_held(void **state)
{
    (void)state;
    enum { N = 2 };
    char ids[N][40];
    aos_bus_t *a = t_bus("stop-a", 0);
    assert_non_null(a);
    for (int i = 0; i < N; i++) {
        aos_event_t *ev = t_event("aos.test.release", "{}");
        snprintf(ids[i], sizeof ids[i], "%s", ev->id);
        char err[256];
        assert_int_equal(aos_bus_send_sync(a, "aos.test.release", ev, 10000, err, sizeof err),
                         AOS_OK);
        aos_event_free(ev);
    }
    t_collector_t held;
    t_collector_init(&held, T_HOLD);
    assert_int_equal(aos_bus_subscribe(a, "aos.test.release", 8, t_on_message, &held), AOS_OK);
    for (int i = 0; i < N; i++)
        assert_true(t_wait(&held, t_pred_has_id, ids[i], 10000));
    /* grace runs out with deliveries still held: the bus releases them */
    assert_int_equal(aos_bus_stop(a, 300), AOS_OK);
    assert_false(aos_bus_is_connected(a));
    aos_event_t *late = t_event("aos.test.release", "{}");
    assert_int_equal(aos_bus_send(a, "aos.test.release", late, NULL, NULL), AOS_ERR_CLOSED);
    aos_event_free(late);
    for (size_t i = 0; i < held.held_count; i++)
        aos_bus_accept(held.held[i]); /* void now: frees, settles nothing */
    aos_bus_free(a);

    t_collector_t c;
    t_collector_init(&c, T_ACCEPT);
    aos_bus_t *b = t_bus("stop-b", 0);
    assert_non_null(b);
    assert_int_equal(aos_bus_subscribe(b, "aos.test.release", 8, t_on_message, &c), AOS_OK);
    for (int i = 0; i < N; i++) {
        assert_true(t_wait(&c, t_pred_has_id, ids[i], 10000));
        pthread_mutex_lock(&c.mu);
        assert_true(c.counts[t_find(&c, ids[i])] >= 1);
        pthread_mutex_unlock(&c.mu);
    }
    aos_bus_free(b);
    t_collector_destroy(&held);
    t_collector_destroy(&c);
}

/* -------------------------------------------------------------- dead letters ---- */

static int count_id(t_collector_t *c, const char *id)
{
    int n = 0;
    for (size_t i = 0; i < c->count && i < T_MAX_IDS; i++)
        if (c->ids[i] && strcmp(c->ids[i], id) == 0)
            n++;
    return n;
}

static void test_max_deliveries_dead_letter(void **state)
{
    (void)state;
    aos_bus_t *bus = t_bus("maxdel", 3);
    assert_non_null(bus);
    t_collector_t work, dlq;
    t_collector_init(&work, T_RELEASE);
    t_collector_init(&dlq, T_ACCEPT);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.maxdel", 4, t_on_message, &work), AOS_OK);
    assert_int_equal(
        aos_bus_subscribe_address(bus, "/amq/queue/aos.test.maxdel.dlq", 4, t_on_message, &dlq),
        AOS_OK);
    aos_event_t *ev = t_event("aos.test.maxdel", "{\"x\":1}");
    char err[256];
    assert_int_equal(aos_bus_send_sync(bus, "aos.test.maxdel", ev, 10000, err, sizeof err), AOS_OK);
    assert_true(t_wait(&dlq, t_pred_has_id, ev->id, 20000));
    pthread_mutex_lock(&dlq.mu);
    long k = t_find(&dlq, ev->id);
    assert_string_equal(dlq.reasons[k], "aos:max-deliveries-exceeded");
    assert_non_null(strstr(dlq.descriptions[k], "3"));
    assert_string_equal(dlq.sources[k], "/amq/queue/aos.test.maxdel");
    assert_string_equal(dlq.data[k], "{\"x\":1}");
    pthread_mutex_unlock(&dlq.mu);
    /* the handler saw it exactly max_deliveries times, counted 0, 1, 2 */
    pthread_mutex_lock(&work.mu);
    assert_int_equal(count_id(&work, ev->id), 3);
    int seen = 0;
    for (size_t i = 0; i < work.count; i++)
        if (strcmp(work.ids[i], ev->id) == 0)
            assert_int_equal(work.counts[i], (uint32_t)seen++);
    pthread_mutex_unlock(&work.mu);
    aos_event_free(ev);
    aos_bus_free(bus);
    t_collector_destroy(&work);
    t_collector_destroy(&dlq);
}

static void test_reject_poison_dead_letter(void **state)
{
    (void)state;
    aos_bus_t *bus = t_bus("poison", 0);
    assert_non_null(bus);
    t_collector_t work, dlq;
    t_collector_init(&work, T_REJECT);
    work.reject_reason = "aos:poison";
    t_collector_init(&dlq, T_ACCEPT);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.poison", 4, t_on_message, &work), AOS_OK);
    assert_int_equal(
        aos_bus_subscribe_address(bus, "/amq/queue/aos.test.poison.dlq", 4, t_on_message, &dlq),
        AOS_OK);
    aos_event_t *ev = t_event("aos.test.poison", "[1,2,3]");
    char err[256];
    assert_int_equal(aos_bus_send_sync(bus, "aos.test.poison", ev, 10000, err, sizeof err), AOS_OK);
    assert_true(t_wait(&dlq, t_pred_has_id, ev->id, 20000));
    pthread_mutex_lock(&dlq.mu);
    long k = t_find(&dlq, ev->id);
    assert_string_equal(dlq.reasons[k], "aos:poison");
    assert_string_equal(dlq.descriptions[k], "the test rejects it");
    assert_string_equal(dlq.data[k], "[1,2,3]");
    pthread_mutex_unlock(&dlq.mu);
    pthread_mutex_lock(&work.mu);
    assert_int_equal(count_id(&work, ev->id), 1); /* rejected once, never redelivered */
    pthread_mutex_unlock(&work.mu);
    aos_event_free(ev);
    aos_bus_free(bus);
    t_collector_destroy(&work);
    t_collector_destroy(&dlq);
}

/* A plain Proton sender for bytes the bus would never produce. Returns the remote outcome
 * (PN_ACCEPTED, ...) or 0 on failure. */
static uint64_t raw_send(const char *url, const char *address, pn_message_t *m)
{
    char user[64], pass[64], host[128], port[16];
    if (sscanf(url, "amqp://%63[^:]:%63[^@]@%127[^:]:%15s", user, pass, host, port) != 4)
        return 0;
    char buf[4096];
    size_t len = sizeof buf;
    if (pn_message_encode(m, buf, &len) != 0)
        return 0;
    pn_proactor_t *p = pn_proactor();
    pn_connection_t *c = pn_connection();
    pn_transport_t *t = pn_transport();
    pn_sasl_allowed_mechs(pn_sasl(t), "PLAIN");
    pn_sasl_set_allow_insecure_mechs(pn_sasl(t), true);
    pn_connection_set_user(c, user);
    pn_connection_set_password(c, pass);
    char addr[PN_MAX_ADDR];
    pn_proactor_addr(addr, sizeof addr, host, port);
    pn_proactor_connect2(p, c, t, addr);
    pn_proactor_set_timeout(p, 10000);
    uint64_t outcome = 0;
    bool sent = false, done = false;
    while (!done) {
        pn_event_batch_t *b = pn_proactor_wait(p);
        pn_event_t *e;
        while ((e = pn_event_batch_next(b))) {
            switch (pn_event_type(e)) {
            case PN_CONNECTION_INIT: {
                pn_connection_open(c);
                pn_session_t *s = pn_session(c);
                pn_session_open(s);
                pn_link_t *l = pn_sender(s, "raw");
                pn_terminus_set_address(pn_link_target(l), address);
                pn_link_open(l);
                break;
            }
            case PN_LINK_FLOW: {
                pn_link_t *l = pn_event_link(e);
                if (!sent && pn_link_credit(l) > 0) {
                    pn_delivery(l, pn_dtag("x", 1));
                    pn_link_send(l, buf, len);
                    pn_link_advance(l);
                    sent = true;
                }
                break;
            }
            case PN_DELIVERY: {
                pn_delivery_t *d = pn_event_delivery(e);
                outcome = pn_delivery_remote_state(d);
                pn_delivery_settle(d);
                pn_connection_close(c);
                break;
            }
            case PN_TRANSPORT_CLOSED:
            case PN_PROACTOR_TIMEOUT:
            case PN_PROACTOR_INACTIVE:
                done = true;
                break;
            default:
                break;
            }
        }
        pn_proactor_done(p, b);
    }
    pn_proactor_free(p);
    return outcome;
}

static void test_malformed_dead_letter(void **state)
{
    (void)state;
    char url[512];
    assert_int_equal(aos_test_fixture_read("rabbitmq", "url", url, sizeof url), 0);
    /* not a CloudEvent: no cloudEvents:* properties, an id we can find again */
    pn_message_t *m = pn_message();
    char id[64];
    snprintf(id, sizeof id, "malformed-%ld-%ld", (long)getpid(), random());
    pn_data_put_string(pn_message_id(m), pn_bytes(strlen(id), id));
    pn_message_set_durable(m, true);
    pn_data_put_string(pn_message_body(m), pn_bytes(5, "hello"));
    assert_int_equal(raw_send(url, "/amq/queue/aos.test.misc", m), PN_ACCEPTED);
    pn_message_free(m);

    aos_bus_t *bus = t_bus("malformed", 0);
    assert_non_null(bus);
    t_collector_t work, dlq;
    t_collector_init(&work, T_ACCEPT);
    t_collector_init(&dlq, T_ACCEPT);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.misc", 4, t_on_message, &work), AOS_OK);
    /* The dead letter keeps the original bytes as an opaque body; a DLQ has nowhere to
     * dead-letter it again, so its consumer gets it as aos.bus.undecodable. */
    assert_int_equal(
        aos_bus_subscribe_address(bus, "/amq/queue/aos.test.misc.dlq", 4, t_on_message, &dlq),
        AOS_OK);
    long found = -1;
    uint64_t until = t_now_ms() + 20000;
    while (found < 0 && t_now_ms() < until) {
        usleep(50000);
        pthread_mutex_lock(&dlq.mu);
        for (size_t i = 0; i < dlq.count && i < T_MAX_IDS; i++)
            if (dlq.reasons[i] && strcmp(dlq.reasons[i], "aos:malformed-envelope") == 0 &&
                dlq.data[i] && memmem(dlq.data[i], dlq.data_len[i], id, strlen(id)))
                found = (long)i;
        pthread_mutex_unlock(&dlq.mu);
    }
    assert_true(found >= 0);
    assert_string_equal(dlq.sources[found], "/amq/queue/aos.test.misc");
    assert_non_null(dlq.descriptions[found]);
    pthread_mutex_lock(&work.mu);
    assert_int_equal(t_find(&work, id), -1); /* the handler never saw it */
    pthread_mutex_unlock(&work.mu);
    aos_bus_free(bus);
    t_collector_destroy(&work);
    t_collector_destroy(&dlq);
}

/* ---------------------------------------------------------------------- credit ---- */

typedef struct settler {
    t_collector_t *c;
    size_t target; /* under c->mu: the main thread raises it while the settler runs */
} settler_t;

/* Settles held deliveries one at a time, slowly, from another thread. */
static void *settle_slowly(void *arg)
{
    settler_t *s = arg;
    size_t done = 0;
    for (;;) {
        aos_bus_delivery_t *d = NULL;
        pthread_mutex_lock(&s->c->mu);
        bool finished = done >= s->target;
        if (!finished && done < s->c->held_count) {
            d = s->c->held[done++];
            s->c->unsettled--;
        }
        pthread_mutex_unlock(&s->c->mu);
        if (finished)
            break;
        if (d)
            aos_bus_accept(d);
        usleep(5000);
    }
    return NULL;
}

static void test_credit_limit(void **state)
{
    (void)state;
    enum { N = 40, MAX_INFLIGHT = 4 };
    aos_bus_t *bus = t_bus("credit", 0);
    assert_non_null(bus);
    char ids[N][40];
    for (int i = 0; i < N; i++) {
        aos_event_t *ev = t_event("aos.test.credit", "{}");
        snprintf(ids[i], sizeof ids[i], "%s", ev->id);
        assert_int_equal(aos_bus_send(bus, "aos.test.credit", ev, NULL, NULL), AOS_OK);
        aos_event_free(ev);
    }
    t_collector_t c;
    t_collector_init(&c, T_HOLD);
    settler_t s = {.c = &c, .target = N};
    pthread_t th;
    pthread_create(&th, NULL, settle_slowly, &s);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.credit", MAX_INFLIGHT, t_on_message, &c),
                     AOS_OK);
    for (int i = 0; i < N; i++)
        assert_true(t_wait(&c, t_pred_has_id, ids[i], 20000));
    /* let the settler catch up with anything extra from an earlier run */
    pthread_mutex_lock(&c.mu);
    s.target = c.held_count;
    pthread_mutex_unlock(&c.mu);
    pthread_join(th, NULL);
    fprintf(stderr, "peak unsettled %zu (max_inflight %d)\n", c.peak_unsettled, MAX_INFLIGHT);
    assert_true(c.peak_unsettled <= MAX_INFLIGHT);
    assert_true(c.peak_unsettled >= 1);
    aos_bus_free(bus);
    t_collector_destroy(&c);
}

/* aos_bus_set_credit: a lowered limit holds what the broker may send (the rest stays in the
 * queue), and UINT32_MAX gives the full window back. */
static int t_pred_held_at_least(t_collector_t *c, void *arg)
{
    return c->held_count >= *(size_t *)arg;
}

static void settle_held(t_collector_t *c, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        pthread_mutex_lock(&c->mu);
        aos_bus_delivery_t *d = c->held[i];
        c->unsettled--;
        pthread_mutex_unlock(&c->mu);
        aos_bus_accept(d);
    }
}

static void test_set_credit(void **state)
{
    (void)state;
    enum { WINDOW = 8, LIMIT = 2 };
    aos_bus_t *bus = t_bus("setcredit", 0);
    assert_non_null(bus);
    t_collector_t c;
    t_collector_init(&c, T_HOLD);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.credit", WINDOW, t_on_message, &c), AOS_OK);
    assert_int_equal(aos_bus_set_credit(bus, "no such/queue", 1), AOS_ERR_INVALID);
    for (int i = 0; i < WINDOW; i++) { /* fill the window: the credit granted is used up */
        aos_event_t *ev = t_event("aos.test.credit", "{}");
        assert_int_equal(aos_bus_send(bus, "aos.test.credit", ev, NULL, NULL), AOS_OK);
        aos_event_free(ev);
    }
    size_t want = WINDOW;
    assert_true(t_wait(&c, t_pred_held_at_least, &want, 20000));
    assert_int_equal(aos_bus_set_credit(bus, "aos.test.credit", LIMIT), AOS_OK);
    for (int i = 0; i < WINDOW; i++) {
        aos_event_t *ev = t_event("aos.test.credit", "{}");
        assert_int_equal(aos_bus_send(bus, "aos.test.credit", ev, NULL, NULL), AOS_OK);
        aos_event_free(ev);
    }
    settle_held(&c, 0, WINDOW); /* room for WINDOW again, but the limit allows LIMIT */
    want = WINDOW + LIMIT;
    assert_true(t_wait(&c, t_pred_held_at_least, &want, 20000));
    want = WINDOW + LIMIT + 1;
    assert_false(t_wait(&c, t_pred_held_at_least, &want, 1000)); /* the rest stays queued */
    assert_int_equal(c.held_count, WINDOW + LIMIT);
    assert_int_equal(aos_bus_set_credit(bus, "aos.test.credit", UINT32_MAX), AOS_OK);
    want = 2 * WINDOW;
    assert_true(t_wait(&c, t_pred_held_at_least, &want, 20000));
    settle_held(&c, WINDOW, c.held_count);
    aos_bus_free(bus);
    t_collector_destroy(&c);
}

/* ---------------------------------------------------------------------- topics ---- */

static void test_publish_topic(void **state)
{
    (void)state;
    aos_bus_t *bus = t_bus("topic", 0);
    assert_non_null(bus);
    t_collector_t c;
    t_collector_init(&c, T_ACCEPT);
    assert_int_equal(aos_bus_subscribe(bus, "aos.test.events", 8, t_on_message, &c), AOS_OK);
    aos_event_t *ev = t_event("aos.test.ping", "{\"p\":true}");
    aos_event_t *other = t_event("aos.agent.heartbeat", "{}");
    assert_int_equal(aos_bus_publish(bus, "aos.events", other, NULL, NULL), AOS_OK);
    assert_int_equal(aos_bus_publish(bus, "aos.events", ev, NULL, NULL), AOS_OK);
    assert_true(t_wait(&c, t_pred_has_id, ev->id, 10000));
    pthread_mutex_lock(&c.mu);
    assert_int_equal(t_find(&c, other->id), -1); /* not bound to aos.test.# */
    pthread_mutex_unlock(&c.mu);
    aos_event_t *bad = t_event("bad type", "{}");
    assert_int_equal(aos_bus_publish(bus, "aos.events", bad, NULL, NULL), AOS_ERR_INVALID);
    aos_event_free(bad);
    aos_event_free(ev);
    aos_event_free(other);
    aos_bus_free(bus);
    t_collector_destroy(&c);
}

int main(void)
{
    srandom((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_request_reply),
        cmocka_unit_test(test_request_timeout),
        cmocka_unit_test(test_redelivery_after_consumer_death),
        cmocka_unit_test(test_stop_releases_held),
        cmocka_unit_test(test_max_deliveries_dead_letter),
        cmocka_unit_test(test_reject_poison_dead_letter),
        cmocka_unit_test(test_malformed_dead_letter),
        cmocka_unit_test(test_credit_limit),
        cmocka_unit_test(test_set_credit),
        cmocka_unit_test(test_publish_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
