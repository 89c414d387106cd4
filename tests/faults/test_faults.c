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

#include "aos/bus.h"
#include "aos/json.h"
#include "aos/storage_client.h"
#include "fake_model.h"
#include "fixture.h"
#include "stack.h"

#define AGENT "ftfault"
#define QUEUE "aos.agent.ftfault"
#define MAX_TURNS 512
#define FT_STORAGE_QUEUE "aos.test.ftstorage"

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

static char *envs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *envs(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static int start_runner(proc_t *p, const char *name, const char *capacity)
{
    char *env[] = {envs("AOS_BUS_URL=%s", S.url),
                   envs("AOS_BUS_PROFILE=rabbitmq"),
                   envs("AOS_CONFIG=%s", S.config),
                   envs("AOS_AGENTS=%s", AGENT),
                   envs("AOS_STORAGE_QUEUE=%s", FT_STORAGE_QUEUE),
                   envs("AOS_INSTANCE_ID=%s-%s", name, S.tag),
                   envs("AOS_SHUTDOWN_GRACE=3s"),
                   envs("AOS_RUNNER_CAPACITY=%s", capacity),
                   envs("AOS_DEV_MODE=1"),
                   envs("AOS_LOG_LEVEL=info"),
                   NULL};
    char bin[512];
    snprintf(bin, sizeof bin, "%s/aos-agent-runner", getenv("AOS_BIN_DIR"));
    int rc = stack_start(p, bin, S.dir, name, env);
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    return rc;
}

static int setup_stack(void)
{
    if (aos_test_fixture_read("rabbitmq", "url", S.url, sizeof S.url) != 0)
        return -1;
    snprintf(S.dir, sizeof S.dir, "/tmp/aos-faults-XXXXXX");
    if (!mkdtemp(S.dir))
        return -1;
    snprintf(S.tag, sizeof S.tag, "%d%ld", getpid(), (long)time(NULL) % 100000);
    if (fake_model_start(&S.fake, NULL) != 0)
        return -1;
    snprintf(S.config, sizeof S.config, "%s/aos.json", S.dir);
    FILE *f = fopen(S.config, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"default_agent\":\"" AGENT "\",\"settings\":{\"storage_timeout_ms\":5000,"
            "\"heartbeat_interval_ms\":1000},\"agents\":["
            "{\"name\":\"" AGENT "\",\"purpose\":\"You are a test agent.\",\"max_history\":20,"
            " \"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\",\"timeout_ms\":30000,"
            "  \"max_retries\":2}}]}",
            S.fake.base);
    fclose(f);
    snprintf(S.db, sizeof S.db, "%s/aos.db", S.dir);
    char *senv[] = {envs("AOS_BUS_URL=%s", S.url),
                    envs("AOS_BUS_PROFILE=rabbitmq"),
                    envs("AOS_STORAGE_QUEUE=%s", FT_STORAGE_QUEUE),
                    envs("AOS_SQLITE_PATH=%s", S.db),
                    envs("AOS_INSTANCE_ID=ftstorage-%s", S.tag),
                    envs("AOS_DEV_MODE=1"),
                    NULL};
    char bin[512];
    snprintf(bin, sizeof bin, "%s/aos-storage", getenv("AOS_BIN_DIR"));
    int rc = stack_start(&S.storage, bin, S.dir, "storage", senv);
    for (size_t i = 0; senv[i]; i++)
        free(senv[i]);
    if (rc != 0)
        return -1;
    char err[256], inst[64];
    snprintf(inst, sizeof inst, "fttest-%s", S.tag);
    aos_bus_config_t bc = {.url = S.url, .profile = AOS_BUS_PROFILE_RABBITMQ, .instance_id = inst};
    if (aos_bus_new(&bc, &S.bus, err, sizeof err) != AOS_OK || aos_bus_start(S.bus) != AOS_OK ||
        aos_bus_wait_connected(S.bus, 20000) != AOS_OK)
        return -1;
    aos_storage_client_config_t scc = {
        .bus = S.bus, .queue = FT_STORAGE_QUEUE, .timeout_ms = 5000};
    return aos_storage_client_new(&scc, &S.sc, err, sizeof err) == AOS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    aos_storage_client_free(S.sc);
    aos_bus_free(S.bus);
    stack_stop(&S.r[0], SIGKILL);
    stack_stop(&S.r[1], SIGKILL);
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
    json_object *o = json_object_new_object();
    aos_json_add_string(o, "conversation_id", conv);
    aos_json_add_string(o, "message_id", msg);
    aos_json_add_string(o, "agent", AGENT);
    aos_json_add_string(o, "text", text);
    aos_json_add_string(o, "kind", "query");
    char *data = NULL;
    assert_int_equal(aos_json_to_string(o, &data, NULL), AOS_OK);
    json_object_put(o);
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.agent.turn", "/test/faults", data, &ev), AOS_OK);
    free(data);
    assert_int_equal(aos_event_set(&ev->id, msg), AOS_OK);
    assert_int_equal(aos_event_set(&ev->group_id, conv), AOS_OK);
    return ev;
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
    char err[256];
    aos_result rc = AOS_ERR_TIMEOUT;
    memset(page, 0, sizeof *page);
    for (int i = 0; i < 5 && rc == AOS_ERR_TIMEOUT; i++) {
        aos_storage_message_page_clear(page);
        rc = aos_storage_message_list_sync(S.sc, conv, NULL, 200, false, page, err, sizeof err);
    }
    assert_int_equal(rc, AOS_OK);
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

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm_of_last_runner_loses_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
