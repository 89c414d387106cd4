/* Runner integration tests on a real RabbitMQ (fixture), the real aos-storage and
 * aos-agent-runner binaries, and the fake model server:
 *   - a turn is answered, stored (user + assistant with usage) and the next turn sees it;
 *   - a redelivered turn is answered once (the model is called once, nothing stored twice);
 *   - poison turns and a model that fails everywhere are dead-lettered with a reason and
 *     answered with an aos.error;
 *   - kill -9 of a runner under load: a second instance completes every turn exactly once
 *     (or dead-letters it with a reason); nothing is duplicated in storage.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/claim_check.h"
#include "fake_model.h"
#include "stack_bus.h"

static struct {
    char url[256];
    char dir[128];
    char config[256];
    char db[256];
    char tag[32]; /* makes ids unique per run */
    fake_model_t fake;
    proc_t storage, runner;
    proc_t a, b; /* the kill -9 test's instances (stopped by teardown if a test failed) */
    aos_bus_t *bus;
    aos_storage_client_t *sc;
} S;

static const stack_where_t W = {S.url, S.dir, S.tag, STACK_STORAGE_QUEUE};

static int start_runner(proc_t *p, const char *name, const char *agents)
{
    char *env[] = {stack_env("AOS_CONFIG=%s", S.config), stack_env("AOS_AGENTS=%s", agents),
                   stack_env("AOS_SHUTDOWN_GRACE=5s"), stack_env("AOS_LOG_LEVEL=debug"), NULL};
    return stack_start_service(p, &W, "aos-agent-runner", name, name, env);
}

static void write_config(void)
{
    assert_int_equal(
        stack_write_config(
            S.config, sizeof S.config, S.dir,
            "{\"default_agent\":\"rtturn\",\"settings\":{\"storage_timeout_ms\":2000,"
            "\"heartbeat_interval_ms\":500},"
            "\"agents\":["
            "{\"name\":\"rtturn\",\"purpose\":\"You are a test agent.\",\"max_history\":10,"
            " \"domain_knowledge\":[{\"container\":\"knowledge\",\"name\":\"rtturn/facts.md\"},"
            "  {\"container\":\"knowledge\",\"name\":\"rtturn/missing.md\"}],"
            " \"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\",\"max_retries\":2}},"
            "{\"name\":\"rtkill\",\"purpose\":\"You are a slow agent.\",\"max_history\":10,"
            " \"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\",\"timeout_ms\":30000}},"
            "{\"name\":\"rtpoison\",\"purpose\":\"You fail.\","
            " \"endpoint\":{\"provider\":\"openai\",\"url\":\"%s/fake:status=500\","
            "  \"max_retries\":1}}]}",
            S.fake.base, S.fake.base, S.fake.base),
        0);
}

static int setup_stack(void);
static int teardown(void **state);

/* On a failed setup stop whatever was started; cmocka may run the group teardown as well
 * (a TSan run saw it free the storage client twice), so teardown is safe to run twice. */
static int setup(void **state)
{
    if (setup_stack() == 0)
        return 0;
    teardown(state);
    return -1;
}

static int setup_stack(void)
{
    if (stack_prepare(S.url, sizeof S.url, S.dir, sizeof S.dir, "/tmp/aos-runner-e2e-XXXXXX", S.tag,
                      sizeof S.tag) != 0 ||
        fake_model_start(&S.fake, NULL) != 0)
        return -1;
    write_config();
    snprintf(S.db, sizeof S.db, "%s/aos.db", S.dir);
    if (stack_start_storage(&S.storage, &W, "rtstorage", NULL) != 0 ||
        stack_bus_open(&W, "rttest", &S.bus) != 0 ||
        stack_storage_open(&W, S.bus, 3000, &S.sc) != 0)
        return -1;
    char err[256];
    /* rtturn's domain knowledge, before its runner starts */
    static const char facts[] = "The company motto is: ship small, ship often.";
    aos_storage_blob_info_t info = {0};
    aos_result put = AOS_ERR_TIMEOUT;
    for (int i = 0; i < 5 && put != AOS_OK; i++)
        put =
            aos_storage_blob_put_buffer_sync(S.sc, "knowledge", "rtturn/facts.md", "text/markdown",
                                             facts, sizeof facts - 1, &info, err, sizeof err);
    aos_storage_blob_info_clear(&info);
    if (put != AOS_OK) {
        fprintf(stderr, "blob upload failed: %s\n", err);
        return -1;
    }
    return start_runner(&S.runner, "runner", "rtturn,rtpoison");
}

static int teardown(void **state)
{
    (void)state;
    aos_storage_client_free(S.sc);
    S.sc = NULL;
    aos_bus_free(S.bus);
    S.bus = NULL;
    stack_stop(&S.a, SIGKILL);
    stack_stop(&S.b, SIGKILL);
    int rc = stack_stop(&S.runner, SIGTERM);
    stack_stop(&S.storage, SIGTERM);
    fake_model_stop(&S.fake);
    return rc; /* a graceful stop exits 0 */
}

/* ---- helpers ---- */

static aos_event_t *turn_event(const char *agent, const char *conv, const char *msg,
                               const char *text)
{
    return stack_turn_event(agent, conv, msg, text, "/test/runner");
}

static json_object *reply_data(const aos_event_t *reply)
{
    json_object *o = NULL;
    assert_int_equal(aos_json_parse(reply->data, reply->data_len, 0, 0, &o, NULL, 0), AOS_OK);
    return o;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static void ids(char *out, size_t len, const char *what)
{
    snprintf(out, len, "%s-%s", what, S.tag);
}

/* One turn, synchronously; returns the reply data (caller puts it). */
static json_object *turn(const char *agent, const char *conv, const char *msg, const char *text,
                         aos_event_t **out_reply)
{
    aos_event_t *ev = turn_event(agent, conv, msg, text), *reply = NULL;
    char q[64];
    snprintf(q, sizeof q, "aos.agent.%s", agent);
    assert_int_equal(aos_bus_request_sync(S.bus, q, ev, 30000, &reply), AOS_OK);
    aos_event_free(ev);
    json_object *d = reply_data(reply);
    if (out_reply)
        *out_reply = reply;
    else
        aos_event_free(reply);
    return d;
}

/* The stored messages of a conversation (a timed-out read is simply asked again). */
static void messages(const char *conv, aos_storage_message_page_t *page)
{
    stack_messages(S.sc, conv, 100, page);
}

/* ---- tests ---- */

static void test_turn_answered_and_remembered(void **state)
{
    (void)state;
    char conv[64], m1[64], m2[64];
    ids(conv, sizeof conv, "c-answer");
    ids(m1, sizeof m1, "m-answer-1");
    ids(m2, sizeof m2, "m-answer-2");
    aos_event_t *reply = NULL;
    json_object *d = turn("rtturn", conv, m1, "hello one", &reply);
    assert_string_equal(reply->type, "aos.agent.turn.result");
    assert_string_equal(jstr(d, "reply"), "fake reply: hello one");
    assert_string_equal(jstr(d, "provider"), "openai");
    char want_reply_id[80];
    snprintf(want_reply_id, sizeof want_reply_id, "%s:r", m1);
    assert_string_equal(jstr(d, "reply_message_id"), want_reply_id);
    json_object *usage;
    assert_true(json_object_object_get_ex(d, "usage", &usage));
    assert_true(json_object_get_int(json_object_object_get(usage, "total_tokens")) > 0);
    json_object_put(d);
    aos_event_free(reply);

    d = turn("rtturn", conv, m2, "second question", NULL);
    assert_string_equal(jstr(d, "reply"), "fake reply: second question");
    json_object_put(d);
    /* the model saw the first exchange: system + 2 history + user */
    json_object *last = fake_model_admin(&S.fake, "GET", "/_last", NULL), *body, *msgs;
    assert_true(json_object_object_get_ex(last, "body", &body));
    assert_true(json_object_object_get_ex(body, "messages", &msgs));
    assert_int_equal(json_object_array_length(msgs), 4);
    /* the system message carries the purpose and the stored knowledge (the missing blob is
     * skipped) */
    const char *system = jstr(json_object_array_get_idx(msgs, 0), "content");
    assert_non_null(strstr(system, "You are a test agent."));
    assert_non_null(strstr(system, "## knowledge/rtturn/facts.md\nThe company motto is"));
    assert_null(strstr(system, "missing.md"));
    json_object_put(last);

    aos_storage_message_page_t page;
    messages(conv, &page);
    assert_int_equal(page.count, 4);
    const char *roles[] = {"user", "assistant", "user", "assistant"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(page.items[i].role, roles[i]);
        assert_int_equal(page.items[i].seq, (int64_t)i + 1);
    }
    assert_string_equal(page.items[0].id, m1);
    assert_string_equal(page.items[1].id, want_reply_id);
    assert_non_null(strstr(page.items[1].metadata_json, "\"total_tokens\""));
    aos_storage_message_page_clear(&page);
}

static void test_redelivered_turn_answered_once(void **state)
{
    (void)state;
    char conv[64], m[64], text[96];
    ids(conv, sizeof conv, "c-redeliver");
    ids(m, sizeof m, "m-redeliver");
    snprintf(text, sizeof text, "only once %s", S.tag);
    json_object *a = turn("rtturn", conv, m, text, NULL);
    json_object *b = turn("rtturn", conv, m, text, NULL); /* the same turn again */
    assert_string_equal(jstr(a, "reply_message_id"), jstr(b, "reply_message_id"));
    assert_string_equal(jstr(a, "reply"), jstr(b, "reply"));
    json_object_put(a);
    json_object_put(b);
    assert_int_equal(fake_model_calls_for(&S.fake, text), 1);
    aos_storage_message_page_t page;
    messages(conv, &page);
    assert_int_equal(page.count, 2); /* one user, one assistant */
    assert_string_equal(page.items[0].role, "user");
    assert_string_equal(page.items[1].role, "assistant");
    aos_storage_message_page_clear(&page);
}

typedef struct dlq {
    pthread_mutex_t mu;
    char ids[8][128];
    char reasons[8][64];
    char descriptions[8][256];
    int n;
} dlq_t;

static void on_dead_letter(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    dlq_t *q = ctx;
    pthread_mutex_lock(&q->mu);
    if (q->n < 8) {
        const char *r = aos_bus_delivery_dead_letter_reason(d);
        const char *desc = aos_bus_delivery_dead_letter_description(d);
        snprintf(q->ids[q->n], sizeof q->ids[0], "%s", ev->id);
        snprintf(q->reasons[q->n], sizeof q->reasons[0], "%s", r ? r : "");
        snprintf(q->descriptions[q->n], sizeof q->descriptions[0], "%s", desc ? desc : "");
        q->n++;
    }
    pthread_mutex_unlock(&q->mu);
    aos_bus_accept(d);
}

static int dlq_find(dlq_t *q, const char *id, int wait_ms)
{
    for (int waited = 0; waited <= wait_ms; waited += 50) {
        pthread_mutex_lock(&q->mu);
        for (int i = 0; i < q->n; i++) {
            if (strcmp(q->ids[i], id) == 0) {
                pthread_mutex_unlock(&q->mu);
                return i;
            }
        }
        pthread_mutex_unlock(&q->mu);
        stack_sleep_ms(50);
    }
    return -1;
}

static void expect_error_reply(aos_event_t *ev, const char *queue, aos_result want)
{
    aos_event_t *reply = NULL;
    assert_int_equal(aos_bus_request_sync(S.bus, queue, ev, 30000, &reply), AOS_OK);
    char msg[256];
    assert_int_equal(aos_bus_reply_result(reply, msg, sizeof msg), want);
    aos_event_free(reply);
}

static void test_poison_and_model_failure_dead_lettered(void **state)
{
    (void)state;
    static dlq_t q = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(aos_bus_subscribe_address(S.bus, "/amq/queue/aos.agent.rtpoison.dlq", 8,
                                               on_dead_letter, &q),
                     AOS_OK);
    /* undecodable payload: missing text */
    char m1[64], m2[64], m3[64], conv[64];
    ids(m1, sizeof m1, "m-poison-1");
    ids(m2, sizeof m2, "m-poison-2");
    ids(m3, sizeof m3, "m-poison-3");
    ids(conv, sizeof conv, "c-poison");
    aos_event_t *ev = NULL;
    assert_int_equal(
        aos_event_create("aos.agent.turn", "/test", "{\"conversation_id\":\"x\"}", &ev), AOS_OK);
    aos_event_set(&ev->id, m1);
    expect_error_reply(ev, "aos.agent.rtpoison", AOS_ERR_INVALID);
    aos_event_free(ev);
    int k = dlq_find(&q, m1, 20000);
    assert_true(k >= 0);
    assert_string_equal(q.reasons[k], "aos:poison");
    assert_non_null(strstr(q.descriptions[k], "message_id"));

    /* a turn for another agent on this queue */
    ev = turn_event("rtturn", conv, m2, "wrong queue");
    expect_error_reply(ev, "aos.agent.rtpoison", AOS_ERR_INVALID);
    aos_event_free(ev);
    k = dlq_find(&q, m2, 20000);
    assert_true(k >= 0);
    assert_string_equal(q.reasons[k], "aos:poison");

    /* the model fails on every endpoint after its retries */
    ev = turn_event("rtpoison", conv, m3, "will fail");
    expect_error_reply(ev, "aos.agent.rtpoison", AOS_ERR_UNAVAILABLE);
    aos_event_free(ev);
    k = dlq_find(&q, m3, 20000);
    assert_true(k >= 0);
    assert_string_equal(q.reasons[k], "aos:model-unavailable");
    assert_non_null(strstr(q.descriptions[k], "500"));
    /* the user message is kept, with a failure marker instead of a reply */
    aos_storage_message_page_t page;
    messages(conv, &page);
    assert_int_equal(page.count, 2);
    assert_string_equal(page.items[0].role, "user");
    assert_string_equal(page.items[1].role, "error");
    aos_storage_message_page_clear(&page);
}

/* Issue 8 item 5: a turn that arrives by reference (claim check) is resolved and answered; its
 * answer, over the threshold, comes back by reference and resolves to the stored answer; a
 * turn whose claim is gone is quarantined at once (error reply, dead letter), never retried,
 * and the conversation's next turn runs. */
static void test_turn_by_reference(void **state)
{
    (void)state;
    static dlq_t q = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(
        aos_bus_subscribe_address(S.bus, "/amq/queue/aos.agent.rtturn.dlq", 8, on_dead_letter, &q),
        AOS_OK);
    char m1[64], m2[64], m3[64], conv[64], err[256] = "";
    ids(m1, sizeof m1, "m-claim-1");
    ids(m2, sizeof m2, "m-claim-2");
    ids(m3, sizeof m3, "m-claim-3");
    ids(conv, sizeof conv, "c-claim");
    size_t big = 250 * 1024;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, 'C', big);
    text[big] = '\0';
    aos_claim_store_t store;
    aos_storage_claim_store(S.sc, &store);
    aos_event_t *ev = turn_event("rtturn", conv, m1, text), *reply = NULL;
    bool moved = false;
    assert_int_equal(
        aos_claim_check_offload(&store, ev, AOS_CLAIM_THRESHOLD_DEFAULT, &moved, err, sizeof err),
        AOS_OK);
    assert_true(moved);
    assert_true(ev->data_len < 1024);
    assert_int_equal(aos_bus_request_sync(S.bus, "aos.agent.rtturn", ev, 30000, &reply), AOS_OK);
    aos_event_free(ev);
    assert_non_null(aos_event_get_ext(reply, AOS_CLAIM_EXT)); /* the answer is as large */
    assert_int_equal(aos_claim_check_resolve(&store, reply, AOS_CLAIM_MAX, err, sizeof err),
                     AOS_OK);
    json_object *o = reply_data(reply);
    assert_int_equal(strlen(jstr(o, "reply")), strlen("fake reply: ") + big);
    json_object_put(o);
    aos_event_free(reply);
    /* answered and settled: its aos.agent.reply event (id "<reply>:reply") went by reference
     * too, so the turn was not dead-lettered after the reply */
    assert_true(dlq_find(&q, m1, 2000) < 0);

    /* a claim that is gone: quarantined at once, with the reason */
    ev = turn_event("rtturn", conv, m2, "gone");
    assert_int_equal(aos_claim_check_reference(ev, "bus/never-stored"), AOS_OK);
    expect_error_reply(ev, "aos.agent.rtturn", AOS_ERR_INVALID);
    aos_event_free(ev);
    int k = dlq_find(&q, m2, 20000);
    assert_true(k >= 0);
    assert_string_equal(q.reasons[k], "aos:poison");
    assert_non_null(strstr(q.descriptions[k], "by reference"));
    /* ...and the conversation goes on */
    o = turn("rtturn", conv, m3, "still there?", NULL);
    assert_non_null(strstr(jstr(o, "reply"), "still there?"));
    json_object_put(o);
    free(text);
}

typedef struct events {
    pthread_mutex_t mu;
    int heartbeats;      /* from agent rtturn */
    char heartbeat[512]; /* the last one's data */
    bool reply_seen;
    char want_reply_of[128];
} events_t;

static void on_event(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    events_t *e = ctx;
    pthread_mutex_lock(&e->mu);
    if (ev->data && strcmp(ev->type, "aos.agent.heartbeat") == 0 &&
        strstr(ev->data, "\"agent\":\"rtturn\"")) {
        e->heartbeats++;
        snprintf(e->heartbeat, sizeof e->heartbeat, "%.*s", (int)ev->data_len, ev->data);
    }
    if (ev->data && strcmp(ev->type, "aos.agent.reply") == 0 && e->want_reply_of[0] &&
        strstr(ev->data, e->want_reply_of))
        e->reply_seen = true;
    pthread_mutex_unlock(&e->mu);
    aos_bus_accept(d);
}

static void test_heartbeats_and_reply_events(void **state)
{
    (void)state;
    static events_t e = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char conv[64], m[64];
    ids(conv, sizeof conv, "c-events");
    ids(m, sizeof m, "m-events");
    snprintf(e.want_reply_of, sizeof e.want_reply_of, "\"message_id\":\"%s\"", m);
    assert_int_equal(
        aos_bus_subscribe_address(S.bus, "/exchange/aos.events/aos.agent.#", 64, on_event, &e),
        AOS_OK);
    stack_sleep_ms(500); /* the subscription's queue is bound once the link is attached */
    json_object_put(turn("rtturn", conv, m, "tell the world", NULL));
    bool ok = false;
    for (int i = 0; i < 200 && !ok; i++) { /* up to 10 s */
        pthread_mutex_lock(&e.mu);
        ok = e.reply_seen && e.heartbeats >= 2;
        pthread_mutex_unlock(&e.mu);
        if (!ok)
            stack_sleep_ms(50);
    }
    /* the bus thread keeps delivering heartbeats: read what it wrote under the lock */
    char heartbeat[sizeof e.heartbeat];
    pthread_mutex_lock(&e.mu);
    bool reply_seen = e.reply_seen;
    int heartbeats = e.heartbeats;
    memcpy(heartbeat, e.heartbeat, sizeof heartbeat);
    pthread_mutex_unlock(&e.mu);
    assert_true(reply_seen);
    assert_true(heartbeats >= 2);
    assert_non_null(strstr(heartbeat, "\"instance\":\"runner-"));
    assert_non_null(strstr(heartbeat, "\"capacity\":"));
    assert_non_null(strstr(heartbeat, "\"provider\":\"openai\""));
}

#define KILL_CONVS 12

typedef struct pending {
    pthread_mutex_t mu;
    int done, ok, errors;
    char errs[2 * KILL_CONVS][256];
} pending_t;

typedef struct req_ctx {
    pending_t *p;
    char id[128];
} req_ctx_t;

static void on_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    req_ctx_t *c = ctx;
    pthread_mutex_lock(&c->p->mu);
    char msg[160] = "";
    aos_result rr = r == AOS_OK ? aos_bus_reply_result(reply, msg, sizeof msg) : r;
    if (rr == AOS_OK) {
        c->p->ok++;
    } else {
        snprintf(c->p->errs[c->p->errors], sizeof c->p->errs[0], "%s: %s %s", c->id,
                 aos_result_str(rr), msg);
        c->p->errors++;
    }
    c->p->done++;
    pthread_mutex_unlock(&c->p->mu);
}

static void test_kill9_mid_turn_under_load(void **state)
{
    (void)state;
    proc_t *a = &S.a, *b = &S.b;
    assert_int_equal(start_runner(a, "runner-a", "rtkill"), 0);
    static pending_t p = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static req_ctx_t ctx[2 * KILL_CONVS];
    char conv[KILL_CONVS][64];
    for (int i = 0; i < KILL_CONVS; i++) {
        snprintf(conv[i], sizeof conv[i], "c-kill-%d-%s", i, S.tag);
        for (int k = 0; k < 2; k++) {
            req_ctx_t *c = &ctx[2 * i + k];
            c->p = &p;
            snprintf(c->id, sizeof c->id, "m-kill-%d-%d-%s", i, k, S.tag);
            char text[128];
            snprintf(text, sizeof text, "slow %d/%d [[fake:delay_ms=2000]]", i, k);
            aos_event_t *ev = turn_event("rtkill", conv[i], c->id, text);
            assert_int_equal(aos_bus_request(S.bus, "aos.agent.rtkill", ev, 90000, on_reply, c),
                             AOS_OK);
            aos_event_free(ev);
        }
    }
    /* kill runner A while it is waiting on the model for several turns */
    for (int i = 0; i < 400 && fake_model_inflight(&S.fake) < 3; i++)
        stack_sleep_ms(25);
    assert_true(fake_model_inflight(&S.fake) >= 3);
    stack_stop(a, SIGKILL);
    assert_int_equal(start_runner(b, "runner-b", "rtkill"), 0);
    for (int i = 0; i < 1800; i++) { /* up to 90 s */
        pthread_mutex_lock(&p.mu);
        int done = p.done;
        pthread_mutex_unlock(&p.mu);
        if (done == 2 * KILL_CONVS)
            break;
        stack_sleep_ms(50);
    }
    assert_int_equal(p.done, 2 * KILL_CONVS);
    for (int i = 0; i < p.errors; i++)
        fprintf(stderr, "turn failed: %s\n", p.errs[i]);
    assert_int_equal(p.errors, 0); /* nothing needed a dead letter here */
    assert_int_equal(p.ok, 2 * KILL_CONVS);
    /* exactly once in storage, each reply right after its own question */
    for (int i = 0; i < KILL_CONVS; i++) {
        aos_storage_message_page_t page;
        messages(conv[i], &page);
        assert_int_equal(page.count, 4);
        for (size_t j = 0; j < 4; j += 2) {
            char want[160];
            assert_string_equal(page.items[j].role, "user");
            assert_string_equal(page.items[j + 1].role, "assistant");
            snprintf(want, sizeof want, "%s:r", page.items[j].id);
            assert_string_equal(page.items[j + 1].id, want);
        }
        assert_string_not_equal(page.items[0].id, page.items[2].id);
        aos_storage_message_page_clear(&page);
    }
    assert_int_equal(stack_stop(b, SIGTERM), 0);
}

/* SIGTERM with turns in flight: the runner stops taking turns, finishes those it holds
 * within the grace period and exits 0; every turn is answered once. */
static void test_sigterm_finishes_in_flight(void **state)
{
    (void)state;
    proc_t *c = &S.a;
    assert_int_equal(start_runner(c, "runner-c", "rtkill"), 0);
    static pending_t p = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static req_ctx_t ctx[4];
    char conv[4][64];
    for (int i = 0; i < 4; i++) {
        snprintf(conv[i], sizeof conv[i], "c-term-%d-%s", i, S.tag);
        ctx[i].p = &p;
        snprintf(ctx[i].id, sizeof ctx[i].id, "m-term-%d-%s", i, S.tag);
        aos_event_t *ev =
            turn_event("rtkill", conv[i], ctx[i].id, "finish me [[fake:delay_ms=1500]]");
        assert_int_equal(aos_bus_request(S.bus, "aos.agent.rtkill", ev, 60000, on_reply, &ctx[i]),
                         AOS_OK);
        aos_event_free(ev);
    }
    for (int i = 0; i < 400 && fake_model_inflight(&S.fake) < 4; i++)
        stack_sleep_ms(25);
    assert_true(fake_model_inflight(&S.fake) >= 4);
    assert_int_equal(stack_stop(c, SIGTERM), 0); /* waits for the process: grace is 5 s */
    /* the replies were confirmed by the broker before the runner exited; let them arrive */
    int ok = 0;
    for (int i = 0; i < 100 && ok < 4; i++) {
        pthread_mutex_lock(&p.mu);
        ok = p.ok;
        pthread_mutex_unlock(&p.mu);
        if (ok < 4)
            stack_sleep_ms(50);
    }
    assert_int_equal(ok, 4);
    assert_int_equal(p.errors, 0);
    for (int i = 0; i < 4; i++) {
        aos_storage_message_page_t page;
        messages(conv[i], &page);
        assert_int_equal(page.count, 2);
        aos_storage_message_page_clear(&page);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_turn_answered_and_remembered),
        cmocka_unit_test(test_redelivered_turn_answered_once),
        cmocka_unit_test(test_poison_and_model_failure_dead_lettered),
        cmocka_unit_test(test_heartbeats_and_reply_events),
        cmocka_unit_test(test_turn_by_reference),
        cmocka_unit_test(test_kill9_mid_turn_under_load),
        cmocka_unit_test(test_sigterm_finishes_in_flight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
