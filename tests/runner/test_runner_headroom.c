/* Credit from model headroom (issue 12 item 5, docs/agent-runner.md): the real
 * aos-agent-runner on RabbitMQ (fixture) with the real aos-storage and the fake model.
 *   - an endpoint answering 429 with retry-after: the agent's link credit falls (to 0 while
 *     the endpoint is throttled) and comes back to its share as answers succeed again; every
 *     turn is answered, none fails for lack of headroom;
 *   - an endpoint with requests_per_minute: the credit falls when the budget is used up and
 *     recovers as it refills; the fake never answers 429 and every turn is answered.
 * The credit is read from the runner's /metrics (aos_runner_agent_credit{agent}). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_model.h"
#include "stack_bus.h"

#define TURNS 16
#define SHARE 8 /* max_inflight 16 over the two agents */

static struct {
    char url[256];
    char dir[128];
    char config[256];
    char db[256];
    char tag[32];
    fake_model_t fake;
    proc_t storage, runner;
    aos_bus_t *bus;
} S;

static const stack_where_t W = {S.url, S.dir, S.tag, STACK_STORAGE_QUEUE};

static void write_config(void)
{
    assert_int_equal(
        stack_write_config(
            S.config, sizeof S.config, S.dir,
            "{\"default_agent\":\"rth429\",\"settings\":{\"storage_timeout_ms\":2000,"
            "\"heartbeat_interval_ms\":500,\"max_inflight\":%d},"
            "\"agents\":["
            "{\"name\":\"rth429\",\"purpose\":\"You are throttled.\","
            " \"endpoint\":{\"provider\":\"openai\",\"max_retries\":3,"
            "  \"url\":\"%s/fake:status=429,retry_after_ms=1000,times=3,tag=h429\"}},"
            "{\"name\":\"rthrpm\",\"purpose\":\"You have a budget.\","
            " \"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\",\"requests_per_minute\":60}}"
            "]}",
            2 * SHARE, S.fake.base, S.fake.base),
        0);
}

static int start_stack(void)
{
    if (stack_prepare(S.url, sizeof S.url, S.dir, sizeof S.dir, "/tmp/aos-headroom-XXXXXX", S.tag,
                      sizeof S.tag) != 0 ||
        fake_model_start(&S.fake, NULL) != 0)
        return -1;
    write_config();
    snprintf(S.db, sizeof S.db, "%s/aos.db", S.dir);
    if (stack_start_storage(&S.storage, &W, "hrstorage", NULL) != 0)
        return -1;
    char *renv[] = {stack_env("AOS_CONFIG=%s", S.config), stack_env("AOS_AGENTS=rth429,rthrpm"),
                    stack_env("AOS_SHUTDOWN_GRACE=5s"), NULL};
    if (stack_start_service(&S.runner, &W, "aos-agent-runner", "runner", "hrrunner", renv) != 0)
        return -1;
    return stack_bus_open(&W, "hrtest", &S.bus);
}

static int teardown(void **state)
{
    (void)state;
    aos_bus_free(S.bus);
    int rc = stack_stop(&S.runner, SIGTERM);
    stack_stop(&S.storage, SIGTERM);
    fake_model_stop(&S.fake);
    return rc;
}

static int setup(void **state)
{
    if (start_stack() == 0)
        return 0;
    teardown(state);
    return -1;
}

/* ---- the runner's /metrics ---- */

/* The value of series (e.g. aos_runner_agent_credit{agent="x"}), -1 when absent. */
static long metric(const char *series)
{
    long v = -1;
    stack_metric(S.runner.admin_port, series, &v);
    return v;
}

/* ---- turns ---- */

typedef struct replies {
    pthread_mutex_t mu;
    int results, errors, failures;
} replies_t;

static void on_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    replies_t *q = ctx;
    pthread_mutex_lock(&q->mu);
    if (r != AOS_OK)
        q->failures++;
    else if (strcmp(reply->type, "aos.agent.turn.result") == 0)
        q->results++;
    else
        q->errors++;
    pthread_mutex_unlock(&q->mu);
}

static int answered(replies_t *q)
{
    pthread_mutex_lock(&q->mu);
    int n = q->results + q->errors + q->failures;
    pthread_mutex_unlock(&q->mu);
    return n;
}

static void send_turns(const char *agent, replies_t *q)
{
    char queue[64];
    snprintf(queue, sizeof queue, "aos.agent.%s", agent);
    for (int i = 0; i < TURNS; i++) {
        char conv[80], msg[80], text[64];
        snprintf(conv, sizeof conv, "c-%s-%d-%s", agent, i, S.tag);
        snprintf(msg, sizeof msg, "m-%s-%d-%s", agent, i, S.tag);
        snprintf(text, sizeof text, "turn %d", i);
        aos_event_t *ev = stack_turn_event(agent, conv, msg, text, "/test/headroom");
        assert_int_equal(aos_bus_request(S.bus, queue, ev, 90000, on_reply, q), AOS_OK);
        aos_event_free(ev);
    }
}

/* Send TURNS turns to agent and watch its credit until every turn is answered and the credit
 * is back at its share; *out_min = the lowest credit seen. */
static void run_and_watch(const char *agent, long *out_min, replies_t *q)
{
    char series[96], lowered[112];
    snprintf(series, sizeof series, "aos_runner_agent_credit{agent=\"%s\"}", agent);
    snprintf(lowered, sizeof lowered, "aos_runner_agent_credit_lowered_total{agent=\"%s\"}", agent);
    assert_int_equal(metric(series), SHARE);
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    send_turns(agent, q);
    long min = SHARE, now = SHARE;
    time_t give_up = time(NULL) + 60;
    while ((answered(q) < TURNS || now != SHARE) && time(NULL) < give_up) {
        now = metric(series);
        if (now >= 0 && now < min)
            min = now;
        stack_sleep_ms(20);
    }
    *out_min = min;
    assert_int_equal(answered(q), TURNS);
    assert_int_equal(now, SHARE); /* recovered */
    assert_true(metric(lowered) > 0);
}

static void test_429_lowers_credit_then_recovers(void **state)
{
    (void)state;
    replies_t q;
    long min = 0;
    run_and_watch("rth429", &min, &q);
    assert_int_equal(min, 0);           /* nothing taken while the endpoint is throttled */
    assert_int_equal(q.results, TURNS); /* no turn failed for lack of headroom */
    assert_int_equal(q.errors + q.failures, 0);
    json_object *st = fake_model_admin(&S.fake, "GET", "/_stats", NULL), *tags, *n;
    assert_true(json_object_object_get_ex(st, "by_tag", &tags));
    assert_true(json_object_object_get_ex(tags, "h429", &n));
    assert_int_equal(json_object_get_int(n), TURNS + 3); /* 3 answered 429, each retried once */
    json_object_put(st);
}

static void test_rpm_budget_lowers_credit_then_recovers(void **state)
{
    (void)state;
    replies_t q;
    long min = 0;
    run_and_watch("rthrpm", &min, &q);
    assert_int_equal(min, 0); /* the budget (10 at once, then 1/s) was used up */
    assert_int_equal(q.results, TURNS);
    assert_int_equal(q.errors + q.failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_429_lowers_credit_then_recovers),
        cmocka_unit_test(test_rpm_budget_lowers_credit_then_recovers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
