/* Fault-injection suite (issue 11): the real aos-storage and aos-agent-runner binaries on the
 * RabbitMQ fixture with the model fake; every check reads the stored conversations, the
 * dead-letter queue and the fake's call counts:
 *   - SIGTERM of the only runner while turns keep arriving: nothing dead-lettered, every turn
 *     answered exactly once by the next runner;
 *   - a late redelivery after 50 turns is answered from storage (no model call, nothing
 *     appended);
 *   - two runners, bursts of turns per conversation: stored in acceptance order, each model
 *     call paid once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/storage_wire.h"
#include "fake_model.h"
#include "stack_bus.h"

#define AGENT "ftfault"
#define QUEUE "aos.agent.ftfault"
#define MAX_TURNS 512
#define FT_STORAGE_QUEUE "aos.storage" /* the router has no other */

static struct {
    char url[256];
    char dir[128];
    char config[256];
    char db[256];
    char tag[32];
    fake_model_t fake;
    proc_t storage;
    proc_t r[2];
    aos_bus_t *bus;
    aos_storage_client_t *sc;
} S;

static proc_t ROUTER;
static int HTTP_PORT;
static const stack_where_t W = {S.url, S.dir, S.tag, FT_STORAGE_QUEUE};

static const char *EXTRA_ENV = "AOS_DEV_MODE=1"; /* one more K=V for the next runners */

static int start_runner(proc_t *p, const char *name, const char *capacity)
{
    char *env[] = {stack_env("AOS_CONFIG=%s", S.config),
                   stack_env("AOS_AGENTS=%s", AGENT),
                   stack_env("AOS_SHUTDOWN_GRACE=3s"),
                   stack_env("AOS_RUNNER_CAPACITY=%s", capacity),
                   stack_env("%s", EXTRA_ENV),
                   stack_env("AOS_LOG_LEVEL=info"),
                   NULL};
    return stack_start_service(p, &W, "aos-agent-runner", name, name, env);
}

static int setup_stack(void)
{
    if (stack_prepare(S.url, sizeof S.url, S.dir, sizeof S.dir, "/tmp/aos-faults-XXXXXX", S.tag,
                      sizeof S.tag) != 0 ||
        fake_model_start(&S.fake, NULL) != 0)
        return -1;
    if (stack_write_config(
            S.config, sizeof S.config, S.dir,
            "{\"default_agent\":\"" AGENT "\",\"settings\":{\"storage_timeout_ms\":5000,"
            "\"heartbeat_interval_ms\":1000},\"agents\":["
            "{\"name\":\"" AGENT "\",\"purpose\":\"You are a test agent.\",\"max_history\":20,"
            " \"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\",\"timeout_ms\":30000,"
            "  \"max_retries\":2}}]}",
            S.fake.base) != 0)
        return -1;
    snprintf(S.db, sizeof S.db, "%s/aos.db", S.dir);
    if (stack_start_storage(&S.storage, &W, "ftstorage", NULL) != 0 ||
        stack_bus_open(&W, "fttest", &S.bus) != 0)
        return -1;
    return stack_storage_open(&W, S.bus, 5000, &S.sc);
}

static int teardown(void **state)
{
    (void)state;
    aos_storage_client_free(S.sc);
    aos_bus_free(S.bus);
    stack_stop(&S.r[0], SIGKILL);
    stack_stop(&S.r[1], SIGKILL);
    stack_stop(&ROUTER, SIGTERM);
    stack_stop(&S.storage, SIGTERM);
    fake_model_stop(&S.fake);
    return 0;
}

static int setup(void **state)
{
    if (setup_stack() == 0)
        return 0;
    teardown(state);
    return -1;
}

/* ---- turns over the bus, replies counted ---- */

typedef struct book {
    pthread_mutex_t mu;
    int done, ok, errors;
    char first_error[256];
} book_t;

typedef struct req {
    book_t *b;
    char conv[64], id[96], reply[512];
    aos_result result;
    bool answered;
} req_t;

static req_t REQ[MAX_TURNS];

static void on_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    req_t *q = ctx;
    char msg[200] = "";
    aos_result rr = r == AOS_OK ? aos_bus_reply_result(reply, msg, sizeof msg) : r;
    pthread_mutex_lock(&q->b->mu);
    q->result = rr;
    q->answered = true;
    if (rr == AOS_OK) {
        q->b->ok++;
        snprintf(q->reply, sizeof q->reply, "%.*s", (int)reply->data_len, reply->data);
    } else if (q->b->errors++ == 0) {
        snprintf(q->b->first_error, sizeof q->b->first_error, "%s: %s %s", q->id,
                 aos_result_str(rr), msg);
    }
    q->b->done++;
    pthread_mutex_unlock(&q->b->mu);
}

static aos_event_t *turn_event(const char *conv, const char *msg, const char *text)
{
    return stack_turn_event(AGENT, conv, msg, text, "/test/faults");
}

static void send_turn(req_t *q, book_t *b, const char *conv, const char *id, const char *text,
                      int timeout_ms)
{
    memset(q, 0, sizeof *q);
    q->b = b;
    snprintf(q->conv, sizeof q->conv, "%s", conv);
    snprintf(q->id, sizeof q->id, "%s", id);
    aos_event_t *ev = turn_event(conv, id, text);
    assert_int_equal(aos_bus_request(S.bus, QUEUE, ev, timeout_ms, on_reply, q), AOS_OK);
    aos_event_free(ev);
}

/* Dead letters of the agent queue, counted. */
static pthread_mutex_t dlq_mu = PTHREAD_MUTEX_INITIALIZER;
static int dlq_count;
static char dlq_last[256];

static void on_dead_letter(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ctx;
    pthread_mutex_lock(&dlq_mu);
    dlq_count++;
    const char *r = aos_bus_delivery_dead_letter_reason(d);
    snprintf(dlq_last, sizeof dlq_last, "%s: %s", ev->id ? ev->id : "?", r ? r : "");
    pthread_mutex_unlock(&dlq_mu);
    aos_bus_accept(d);
}

static int dead_letters(void)
{
    pthread_mutex_lock(&dlq_mu);
    int n = dlq_count;
    pthread_mutex_unlock(&dlq_mu);
    return n;
}

static void watch_dead_letters(void)
{
    static bool subscribed;
    if (!subscribed)
        assert_int_equal(
            aos_bus_subscribe_address(S.bus, "/amq/queue/" QUEUE ".dlq", 16, on_dead_letter, NULL),
            AOS_OK);
    subscribed = true;
}

/* Wait until every one of n turns is answered (or a dead letter shows up). */
static void wait_all(book_t *b, int n, int max_ms)
{
    for (int waited = 0; waited < max_ms; waited += 50) {
        pthread_mutex_lock(&b->mu);
        int done = b->done;
        pthread_mutex_unlock(&b->mu);
        if (done >= n || dead_letters() > 0)
            break;
        stack_sleep_ms(50);
    }
    if (dead_letters() > 0)
        fprintf(stderr, "dead-lettered: %d (last %s)\n", dead_letters(), dlq_last);
    if (b->errors)
        fprintf(stderr, "%d turns failed, first: %s\n", b->errors, b->first_error);
    assert_int_equal(dead_letters(), 0);
    assert_int_equal(b->done, n);
    assert_int_equal(b->errors, 0);
}

static void messages(const char *conv, aos_storage_message_page_t *page)
{
    stack_messages(S.sc, conv, 200, page);
}

/* The conversation holds exactly these user turns, in this order, each answered right
 * after itself. */
static void expect_conversation(const char *conv, char ids[][96], int n)
{
    aos_storage_message_page_t page;
    messages(conv, &page);
    if (page.count != (size_t)(2 * n)) {
        for (size_t i = 0; i < page.count; i++)
            fprintf(stderr, "  %s #%lld %s %s\n", conv, (long long)page.items[i].seq,
                    page.items[i].role, page.items[i].id);
    }
    assert_int_equal(page.count, (size_t)(2 * n));
    for (int i = 0; i < n; i++) {
        char want[128];
        snprintf(want, sizeof want, "%s:r", ids[i]);
        if (strcmp(page.items[2 * i].id, ids[i]) != 0 ||
            strcmp(page.items[2 * i + 1].id, want) != 0)
            fprintf(stderr, "%s out of order at turn %d: %s, %s (want %s)\n", conv, i,
                    page.items[2 * i].id, page.items[2 * i + 1].id, ids[i]);
        assert_string_equal(page.items[2 * i].id, ids[i]);
        assert_string_equal(page.items[2 * i + 1].id, want);
    }
    aos_storage_message_page_clear(&page);
}

/* ---- tests ---- */

/* Issue 11 item 1: SIGTERM of the only runner while turns keep arriving. The draining runner
 * grants no credit and its shutdown releases do not count as failed deliveries, so nothing
 * reaches the dead-letter queue and the next runner answers every turn exactly once. */
static void test_sigterm_of_last_runner_loses_nothing(void **state)
{
    (void)state;
    watch_dead_letters();
    static book_t b = {.mu = PTHREAD_MUTEX_INITIALIZER};
    enum { BEFORE = 24, DURING = 24 };
    char ids[BEFORE + DURING][96];
    assert_int_equal(start_runner(&S.r[0], "drain-a", "4"), 0);
    for (int i = 0; i < BEFORE + DURING; i++) {
        char conv[64], text[96];
        snprintf(conv, sizeof conv, "c-drain-%d-%s", i, S.tag);
        snprintf(ids[i], sizeof ids[i], "m-drain-%d-%s", i, S.tag);
        /* turns 1-3 keep the drain going for a while after turn 0 freed a slot */
        snprintf(text, sizeof text, "drain %d [[fake:delay_ms=%d]]", i,
                 i >= 1 && i <= 3 ? 2500 : 300);
        if (i == BEFORE) {
            /* the runner is busy with the first turns: stop it, keep sending meanwhile */
            for (int k = 0; k < 400 && fake_model_inflight(&S.fake) < 4; k++)
                stack_sleep_ms(25);
            kill(S.r[0].pid, SIGTERM);
        }
        send_turn(&REQ[i], &b, conv, ids[i], text, 90000);
        if (i >= BEFORE)
            stack_sleep_ms(20);
    }
    int st = 0;
    waitpid(S.r[0].pid, &st, 0);
    S.r[0].pid = 0;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(start_runner(&S.r[1], "drain-b", "16"), 0);
    wait_all(&b, BEFORE + DURING, 90000);
    for (int i = 0; i < BEFORE + DURING; i++)
        expect_conversation(REQ[i].conv, &ids[i], 1);
    assert_int_equal(stack_stop(&S.r[1], SIGTERM), 0);
}

static const char *jget(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/* One turn, waiting for its reply; returns the reply data (caller puts it). */
static json_object *turn_sync(const char *conv, const char *id, const char *text)
{
    aos_event_t *ev = turn_event(conv, id, text), *reply = NULL;
    assert_int_equal(aos_bus_request_sync(S.bus, QUEUE, ev, 60000, &reply), AOS_OK);
    aos_event_free(ev);
    char msg[200] = "";
    aos_result rr = aos_bus_reply_result(reply, msg, sizeof msg);
    if (rr != AOS_OK)
        fprintf(stderr, "turn %s failed: %s %s\n", id, aos_result_str(rr), msg);
    assert_int_equal(rr, AOS_OK);
    json_object *d = NULL;
    assert_int_equal(aos_json_parse(reply->data, reply->data_len, 0, 0, &d, NULL, 0), AOS_OK);
    aos_event_free(reply);
    return d;
}

/* Issue 11 item 3: the turn ledger. A redelivery of a turn that is 50 turns old (an Event
 * Grid retry, a DLQ replay) is answered from storage: the same reply, no model call, nothing
 * appended. Before the ledger, the "answered?" check read only the newest page. */
static void test_late_redelivery_after_50_turns(void **state)
{
    (void)state;
    watch_dead_letters();
    if (!S.r[0].pid)
        assert_int_equal(start_runner(&S.r[0], "late-a", "16"), 0);
    char conv[64], first[96], text0[96];
    snprintf(conv, sizeof conv, "c-late-%s", S.tag);
    snprintf(text0, sizeof text0, "late 0 %s", S.tag);
    json_object *a = NULL;
    for (int i = 0; i <= 50; i++) {
        char id[96], text[96];
        snprintf(id, sizeof id, "m-late-%d-%s", i, S.tag);
        snprintf(text, sizeof text, "late %d %s", i, S.tag);
        json_object *d = turn_sync(conv, id, text);
        if (i == 0) {
            snprintf(first, sizeof first, "%s", id);
            a = d;
        } else {
            json_object_put(d);
        }
    }
    int calls = fake_model_calls(&S.fake);
    json_object *b = turn_sync(conv, first, text0); /* the first turn again */
    assert_string_equal(jget(a, "reply_message_id"), jget(b, "reply_message_id"));
    assert_string_equal(jget(a, "reply"), jget(b, "reply"));
    json_object_put(a);
    json_object_put(b);
    assert_int_equal(fake_model_calls(&S.fake), calls); /* not paid again */
    assert_int_equal(fake_model_calls_for(&S.fake, text0), 1);
    aos_storage_message_page_t page;
    messages(conv, &page);
    assert_int_equal(page.count, 102);
    aos_storage_message_page_clear(&page);
}

/* Issue 11 item 3: the same turn delivered twice at once to two runners (a duplicate send,
 * a redelivery while the first still runs): one model call, one stored exchange, the same
 * reply twice. The conversation lease keeps the second runner off the model. */
static void test_duplicate_turn_two_runners_one_model_call(void **state)
{
    (void)state;
    watch_dead_letters();
    if (!S.r[0].pid)
        assert_int_equal(start_runner(&S.r[0], "dup-a", "16"), 0);
    if (!S.r[1].pid)
        assert_int_equal(start_runner(&S.r[1], "dup-b", "16"), 0);
    static book_t b = {.mu = PTHREAD_MUTEX_INITIALIZER};
    enum { N = 6 };
    char texts[N][96];
    for (int i = 0; i < N; i++) {
        char conv[64], id[96];
        snprintf(conv, sizeof conv, "c-dup-%d-%s", i, S.tag);
        snprintf(id, sizeof id, "m-dup-%d-%s", i, S.tag);
        snprintf(texts[i], sizeof texts[i], "dup %d %s [[fake:delay_ms=1500]]", i, S.tag);
        send_turn(&REQ[2 * i], &b, conv, id, texts[i], 60000);
        send_turn(&REQ[2 * i + 1], &b, conv, id, texts[i], 60000);
    }
    wait_all(&b, 2 * N, 60000);
    for (int i = 0; i < N; i++) {
        assert_int_equal(fake_model_calls_for(&S.fake, texts[i]), 1);
        json_object *x = json_tokener_parse(REQ[2 * i].reply);
        json_object *y = json_tokener_parse(REQ[2 * i + 1].reply);
        assert_non_null(x);
        assert_non_null(y);
        assert_string_equal(jget(x, "reply"), jget(y, "reply"));
        assert_string_equal(jget(x, "reply_message_id"), jget(y, "reply_message_id"));
        json_object_put(x);
        json_object_put(y);
        char ids[1][96];
        snprintf(ids[0], sizeof ids[0], "%s", REQ[2 * i].id);
        expect_conversation(REQ[2 * i].conv, ids, 1);
    }
}

/* A stale claim of the running turn by the same runner (a claim re-sent after a reconnect,
 * of a delivery of this turn the runner had released — test_faults_replicas met it after a
 * broker restart) takes the lease while the model answers; the runner's complete is refused,
 * it claims again and stores the answer it holds. Before: it called the model again. */
static void test_stale_claim_same_runner_one_model_call(void **state)
{
    (void)state;
    watch_dead_letters();
    stack_stop(&S.r[0], SIGTERM);
    stack_stop(&S.r[1], SIGTERM);
    assert_int_equal(start_runner(&S.r[0], "stale-a", "16"), 0);
    char conv[64], id[96], text[96], data[4096], holder[96], err[256];
    snprintf(conv, sizeof conv, "c-stale-%s", S.tag);
    snprintf(id, sizeof id, "m-stale-%s", S.tag);
    snprintf(text, sizeof text, "stale %s [[fake:delay_ms=1500]]", S.tag);
    snprintf(holder, sizeof holder, "stale-a-%s", S.tag); /* its AOS_INSTANCE_ID */
    static book_t b = {.mu = PTHREAD_MUTEX_INITIALIZER};
    send_turn(&REQ[0], &b, conv, id, text, 30000);
    for (int i = 0; i < 200 && fake_model_calls_for(&S.fake, text) < 1; i++)
        stack_sleep_ms(25);
    assert_int_equal(fake_model_calls_for(&S.fake, text), 1);
    /* the claim a stale delivery of this runner would send: the same user message */
    aos_storage_message_page_t page;
    messages(conv, &page);
    assert_int_equal(page.count, 1);
    json_object *claim = json_object_new_object();
    aos_json_add_string(claim, "conversation_id", conv);
    aos_json_add_string(claim, "agent", AGENT);
    aos_json_add_string(claim, "turn_id", id);
    aos_json_add_string(claim, "holder", holder);
    aos_json_add_int(claim, "lease_ms", 15000);
    aos_json_add_int(claim, "gap_ms", 120000);
    aos_json_add_int(claim, "history", 10);
    aos_json_add(claim, "message", aos_storage_message_to_json(&page.items[0]));
    aos_storage_message_page_clear(&page);
    snprintf(data, sizeof data, "%s", json_object_to_json_string(claim));
    json_object_put(claim);
    char *reply = NULL;
    aos_result rc = aos_storage_call_sync(S.sc, "turn.claim", data, &reply, err, sizeof err);
    if (rc != AOS_OK)
        fprintf(stderr, "claim: %s %s\n", aos_result_str(rc), err);
    assert_int_equal(rc, AOS_OK);
    assert_non_null(strstr(reply, "\"run\"")); /* the lease moved to the stale claim */
    free(reply);
    wait_all(&b, 1, 30000);
    assert_int_equal(fake_model_calls_for(&S.fake, text), 1);
    char ids[1][96];
    snprintf(ids[0], sizeof ids[0], "%s", id);
    expect_conversation(conv, ids, 1);
}

/* ---- through the router ---- */

static void start_router(void)
{
    if (ROUTER.pid)
        return;
    HTTP_PORT = stack_free_port();
    char *env[] = {stack_env("AOS_CONFIG=%s", S.config),
                   stack_env("AOS_HTTP_ADDR=127.0.0.1:%d", HTTP_PORT), stack_env("AOS_DEV_MODE=1"),
                   stack_env("AOS_LOG_LEVEL=info"), NULL};
    int rc = stack_start_service(&ROUTER, &W, "aos-router", "router", "ftrouter", env);
    assert_int_equal(rc, 0);
}

/* POST /v1/messages; returns the status, *out the parsed body (caller puts it). */
static long post_message(const char *conv, const char *text, bool async, const char *idem,
                         json_object **out)
{
    char url[128], payload[512], h_idem[300];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/messages", HTTP_PORT);
    snprintf(payload, sizeof payload,
             "{\"conversation_id\":\"%s\",\"agent\":\"" AGENT "\",\"text\":\"%s\"}", conv, text);
    snprintf(h_idem, sizeof h_idem, "Idempotency-Key: %s", idem ? idem : "");
    const char *h[4] = {"Content-Type: application/json"};
    size_t n = 1;
    if (async)
        h[n++] = "Prefer: respond-async";
    if (idem)
        h[n++] = h_idem;
    char *body = NULL;
    long status = stack_http(NULL, url, h, payload, 60000L, &body);
    *out = body ? json_tokener_parse(body) : NULL;
    if (status != 200 && status != 202)
        fprintf(stderr, "POST /v1/messages -> %ld %s\n", status, body ? body : "");
    free(body);
    return status;
}

/* Issue 11 item 2: two runners, 4 async turns per conversation posted back to back (each
 * 202 before the next), later turns faster at the model than earlier ones: every
 * conversation is stored in the order the router accepted its turns. */
static void test_two_runners_keep_acceptance_order(void **state)
{
    (void)state;
    watch_dead_letters();
    start_router();
    if (!S.r[0].pid)
        assert_int_equal(start_runner(&S.r[0], "ord-a", "32"), 0);
    if (!S.r[1].pid)
        assert_int_equal(start_runner(&S.r[1], "ord-b", "32"), 0);
    enum { CONVS = 30, TURNS = 4 };
    static char ids[CONVS][TURNS][96];
    static const int delay[TURNS] = {400, 50, 200, 10};
    for (int i = 0; i < CONVS; i++) {
        char conv[64];
        snprintf(conv, sizeof conv, "c-ord-%d-%s", i, S.tag);
        for (int k = 0; k < TURNS; k++) {
            char text[96];
            snprintf(text, sizeof text, "order %d/%d [[fake:delay_ms=%d]]", i, k, delay[k]);
            json_object *o = NULL;
            assert_int_equal(post_message(conv, text, true, NULL, &o), 202);
            snprintf(ids[i][k], sizeof ids[i][k], "%s", jget(o, "message_id"));
            json_object_put(o);
        }
    }
    int bad = 0;
    for (int i = 0; i < CONVS; i++) {
        char conv[64];
        snprintf(conv, sizeof conv, "c-ord-%d-%s", i, S.tag);
        aos_storage_message_page_t page = {0};
        for (int waited = 0; waited < 120000; waited += 100) {
            aos_storage_message_page_clear(&page);
            messages(conv, &page);
            if (page.count >= 2 * TURNS || dead_letters() > 0)
                break;
            stack_sleep_ms(100);
        }
        assert_int_equal(dead_letters(), 0);
        assert_int_equal(page.count, 2 * TURNS);
        for (int k = 0; k < TURNS; k++) {
            char want[128];
            snprintf(want, sizeof want, "%s:r", ids[i][k]);
            if (strcmp(page.items[2 * k].id, ids[i][k]) || strcmp(page.items[2 * k + 1].id, want)) {
                fprintf(stderr, "%s: stored out of acceptance order at turn %d\n", conv, k);
                bad++;
                break;
            }
        }
        aos_storage_message_page_clear(&page);
    }
    assert_int_equal(bad, 0);
}

/* Issue 11 item 6: a retried POST /v1/messages with the same Idempotency-Key returns the same
 * turn's result and never creates a second turn. */
static void test_idempotency_key(void **state)
{
    (void)state;
    start_router();
    if (!S.r[0].pid)
        assert_int_equal(start_runner(&S.r[0], "idem-a", "16"), 0);
    char conv[64], key[64], text[96];
    snprintf(conv, sizeof conv, "c-idem-%s", S.tag);
    snprintf(key, sizeof key, "key-%s", S.tag);
    snprintf(text, sizeof text, "idempotent %s", S.tag);
    json_object *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(post_message(conv, text, false, key, &a), 200);
    assert_int_equal(post_message(conv, text, false, key, &b), 200); /* the retry */
    assert_string_equal(jget(a, "message_id"), jget(b, "message_id"));
    assert_string_equal(jget(a, "reply"), jget(b, "reply"));
    /* an async retry names the same turn too */
    assert_int_equal(post_message(conv, text, true, key, &c), 202);
    assert_string_equal(jget(a, "message_id"), jget(c, "message_id"));
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    assert_int_equal(fake_model_calls_for(&S.fake, text), 1);
    stack_sleep_ms(500); /* let the async retry settle */
    aos_storage_message_page_t page;
    messages(conv, &page);
    assert_int_equal(page.count, 2);
    aos_storage_message_page_clear(&page);
}

/* Issue 11 item 4: a hung model (endpoint timeout 30 s, 2 retries: 90 s before) fails its
 * turn within the per-turn deadline: the error marker is stored, an aos.error reply is sent,
 * and the conversation's next turn is answered at once. */
static void test_hung_model_bounded_by_turn_deadline(void **state)
{
    (void)state;
    stack_stop(&S.r[0], SIGTERM);
    stack_stop(&S.r[1], SIGTERM);
    EXTRA_ENV = "AOS_RUNNER_TURN_DEADLINE=4s";
    assert_int_equal(start_runner(&S.r[0], "hang-a", "16"), 0);
    EXTRA_ENV = "AOS_DEV_MODE=1";
    char conv[64], m1[96], m2[96];
    snprintf(conv, sizeof conv, "c-hang-%s", S.tag);
    snprintf(m1, sizeof m1, "m-hang-1-%s", S.tag);
    snprintf(m2, sizeof m2, "m-hang-2-%s", S.tag);
    aos_event_t *ev = turn_event(conv, m1, "hang [[fake:hang=1]]"), *reply = NULL;
    assert_int_equal(aos_bus_request_sync(S.bus, QUEUE, ev, 20000, &reply), AOS_OK);
    aos_event_free(ev);
    char msg[300] = "";
    assert_int_not_equal(aos_bus_reply_result(reply, msg, sizeof msg), AOS_OK);
    assert_non_null(strstr(msg, "deadline"));
    aos_event_free(reply);
    json_object_put(turn_sync(conv, m2, "after the hang"));
    aos_storage_message_page_t page;
    messages(conv, &page);
    assert_int_equal(page.count, 4);
    assert_string_equal(page.items[0].id, m1);
    assert_string_equal(page.items[1].role, "error");
    assert_string_equal(page.items[2].id, m2);
    assert_string_equal(page.items[3].role, "assistant");
    aos_storage_message_page_clear(&page);
}

/* Issue 11 item 5: a poison turn accepted in a conversation's order is quarantined: dead-
 * lettered with the reason, marked failed in the conversation, and the conversation's next
 * turn runs at once and in order (before: it waited the 120 s gap time). */
static void test_poison_turn_quarantined(void **state)
{
    (void)state;
    watch_dead_letters();
    if (!S.r[0].pid)
        assert_int_equal(start_runner(&S.r[0], "poison-a", "16"), 0);
    int dead_before = dead_letters();
    char conv[64], t1[96], t2[96], err[256], data[512];
    snprintf(conv, sizeof conv, "c-poison-%s", S.tag);
    snprintf(t1, sizeof t1, "m-poison-1-%s", S.tag);
    snprintf(t2, sizeof t2, "m-poison-2-%s", S.tag);
    for (int i = 0; i < 2; i++) { /* what the router does before publishing each turn */
        snprintf(data, sizeof data,
                 "{\"conversation_id\":\"%s\",\"agent\":\"" AGENT "\",\"turn_id\":\"%s\"}", conv,
                 i ? t2 : t1);
        char *reply = NULL;
        assert_int_equal(aos_storage_call_sync(S.sc, "turn.accept", data, &reply, err, sizeof err),
                         AOS_OK);
        free(reply);
    }
    /* t1: a turn with an unknown kind (poison), t2: a good one */
    snprintf(data, sizeof data,
             "{\"conversation_id\":\"%s\",\"message_id\":\"%s\",\"agent\":\"" AGENT
             "\",\"text\":\"x\",\"kind\":\"bogus\"}",
             conv, t1);
    aos_event_t *ev = NULL, *reply = NULL;
    assert_int_equal(aos_event_create("aos.agent.turn", "/test/faults", data, &ev), AOS_OK);
    assert_int_equal(aos_event_set(&ev->id, t1), AOS_OK);
    assert_int_equal(aos_event_set(&ev->group_id, conv), AOS_OK);
    assert_int_equal(aos_bus_request_sync(S.bus, QUEUE, ev, 20000, &reply), AOS_OK);
    char msg[200];
    assert_int_equal(aos_bus_reply_result(reply, msg, sizeof msg), AOS_ERR_INVALID);
    aos_event_free(ev);
    aos_event_free(reply);
    json_object_put(turn_sync(conv, t2, "after the poison")); /* at once: 60 s < gap time */
    for (int i = 0; i < 200 && dead_letters() == dead_before; i++)
        stack_sleep_ms(50);
    assert_true(dead_letters() > dead_before);
    pthread_mutex_lock(&dlq_mu);
    assert_non_null(strstr(dlq_last, "aos:poison"));
    pthread_mutex_unlock(&dlq_mu);
    aos_storage_message_page_t page;
    messages(conv, &page);
    assert_int_equal(page.count, 3); /* marker, user, assistant */
    assert_string_equal(page.items[0].role, "error");
    assert_string_equal(page.items[1].id, t2);
    assert_string_equal(page.items[2].role, "assistant");
    aos_storage_message_page_clear(&page);
}

/* Turns waiting for an earlier turn of their conversation do not hold the runner's capacity.
 * test_faults_replicas met it after a broker restart: the requeued turns came back out of
 * acceptance order, the later turns of many conversations filled both runners' capacity
 * waiting, the turns they waited for sat in the queue behind them, and everything stood
 * still for the gap time (120 s), then ran out of order. Here: a runner of capacity 2; four
 * conversations accept turns 1 and 2 in storage, and the turns 2 reach the queue first. */
static void test_waiting_turns_leave_capacity_free(void **state)
{
    (void)state;
    watch_dead_letters();
    stack_stop(&S.r[0], SIGTERM);
    stack_stop(&S.r[1], SIGTERM);
    assert_int_equal(start_runner(&S.r[0], "wait-a", "2"), 0);
    static book_t b = {.mu = PTHREAD_MUTEX_INITIALIZER};
    enum { CONVS = 4 };
    char conv[CONVS][64], ids[CONVS][2][96];
    for (int i = 0; i < CONVS; i++) {
        snprintf(conv[i], sizeof conv[i], "c-wait-%d-%s", i, S.tag);
        for (int k = 0; k < 2; k++) {
            snprintf(ids[i][k], sizeof ids[i][k], "m-wait-%d-%d-%s", i, k, S.tag);
            char data[400], *out = NULL, err[256];
            snprintf(data, sizeof data,
                     "{\"conversation_id\":\"%s\",\"agent\":\"" AGENT "\",\"turn_id\":\"%s\"}",
                     conv[i], ids[i][k]);
            assert_int_equal(
                aos_storage_call_sync(S.sc, "turn.accept", data, &out, err, sizeof err), AOS_OK);
            free(out);
        }
    }
    for (int k = 1; k >= 0; k--) /* the turns 2 first, then the turns 1 they wait for */
        for (int i = 0; i < CONVS; i++) {
            char text[96];
            snprintf(text, sizeof text, "wait %d/%d %s", i, k, S.tag);
            send_turn(&REQ[k * CONVS + i], &b, conv[i], ids[i][k], text, 40000);
            if (k == 1 && i == CONVS - 1)
                stack_sleep_ms(500); /* the runner holds two turns 2 before the turns 1 come */
        }
    wait_all(&b, 2 * CONVS, 40000); /* before: nothing moved for the gap time (120 s) */
    for (int i = 0; i < CONVS; i++)
        expect_conversation(conv[i], ids[i], 2);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm_of_last_runner_loses_nothing),
        cmocka_unit_test(test_late_redelivery_after_50_turns),
        cmocka_unit_test(test_duplicate_turn_two_runners_one_model_call),
        cmocka_unit_test(test_stale_claim_same_runner_one_model_call),
        cmocka_unit_test(test_two_runners_keep_acceptance_order),
        cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_waiting_turns_leave_capacity_free),
        cmocka_unit_test(test_hung_model_bounded_by_turn_deadline),
        cmocka_unit_test(test_poison_turn_quarantined),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
