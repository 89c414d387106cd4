/* Schedules fire exactly once across replicas (services/agent-runner/schedule.c), on a real
 * RabbitMQ (fixture) with the real aos-storage and two aos-agent-runner instances:
 *   - an interval agent (every 2 s) served by two runners: every tick between the first and
 *     the last fired exactly once (the runners' fired counters add up to the distinct ticks
 *     stored), each answered, each published as aos.agent.action;
 *   - both runners down for a while, one back: the missed ticks are coalesced into one firing
 *     of the newest missed tick, and counted as missed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "stack_bus.h"

#define AGENT "rtsched"
#define CONV "schedule-" AGENT
#define INTERVAL_S 2

static struct {
    char url[256];
    char dir[128];
    char config[256];
    char tag[32];
    proc_t storage, a, b;
    aos_bus_t *bus;
    aos_storage_client_t *sc;
    atomic_int actions;
} S;

static const stack_where_t W = {S.url, S.dir, S.tag, STACK_STORAGE_QUEUE};

static int start_runner(proc_t *p, const char *name)
{
    char *extra[] = {stack_env("AOS_CONFIG=%s", S.config), stack_env("AOS_AGENTS=%s", AGENT),
                     stack_env("AOS_SHUTDOWN_GRACE=5s"), NULL};
    return stack_start_service(p, &W, "aos-agent-runner", name, name, extra);
}

static void on_event(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ctx;
    if (ev->type && strcmp(ev->type, "aos.agent.action") == 0 && ev->subject &&
        strcmp(ev->subject, AGENT) == 0)
        atomic_fetch_add(&S.actions, 1);
    aos_bus_accept(d);
}

static int setup(void **state)
{
    (void)state;
    if (stack_prepare(S.url, sizeof S.url, S.dir, sizeof S.dir, "/tmp/aos-sched-e2e-XXXXXX", S.tag,
                      sizeof S.tag) != 0)
        return -1;
    if (stack_write_config(S.config, sizeof S.config, S.dir,
                           "{\"default_agent\":\"%s\",\"settings\":{\"storage_timeout_ms\":2000,"
                           "\"heartbeat_interval_ms\":500},\"agents\":[{\"name\":\"%s\","
                           "\"purpose\":\"You watch the books.\",\"schedule\":{\"interval_s\":%d,"
                           "\"text\":\"Tick: review the cash position.\"}}]}",
                           AGENT, AGENT, INTERVAL_S) != 0)
        return -1;
    if (stack_start_storage(&S.storage, &W, "storage", NULL) != 0 ||
        stack_bus_open(&W, "rtschedtest", &S.bus) != 0)
        return -1;
    if (aos_bus_subscribe_address(S.bus, "/exchange/aos.events/aos.agent.action", 64, on_event,
                                  NULL) != AOS_OK)
        return -1;
    return stack_storage_open(&W, S.bus, 3000, &S.sc);
}

static int teardown(void **state)
{
    (void)state;
    stack_stop(&S.a, SIGKILL);
    stack_stop(&S.b, SIGKILL);
    stack_stop(&S.storage, SIGTERM);
    aos_storage_client_free(S.sc);
    if (S.bus) {
        aos_bus_stop(S.bus, 2000);
        aos_bus_free(S.bus);
    }
    return 0;
}

/* The value of a counter with label agent=AGENT on a service's /metrics (0 when absent). */
static long metric(const proc_t *p, const char *name)
{
    char series[160];
    long v = -1;
    snprintf(series, sizeof series, "%s{agent=\"%s\"}", name, AGENT);
    assert_int_equal(stack_metric(p->admin_port, series, &v), 200);
    return v < 0 ? 0 : v;
}

/* The conversation's tick messages' ticks (sorted, as stored) and how many were answered. */
static size_t stored_ticks(long long *ticks, size_t cap, size_t *answered)
{
    aos_storage_message_page_t page = {0};
    char err[256];
    size_t n = 0;
    *answered = 0;
    aos_result r =
        aos_storage_message_list_sync(S.sc, CONV, NULL, 500, false, &page, err, sizeof err);
    if (r == AOS_ERR_NOT_FOUND)
        return 0;
    assert_int_equal(r, AOS_OK);
    for (size_t i = 0; i < page.count; i++) {
        const aos_storage_message_t *m = &page.items[i];
        if (strcmp(m->role, "event") == 0 || strcmp(m->role, "user") == 0) {
            long long t = 0;
            assert_int_equal(sscanf(m->id, "sched-" AGENT "-%lld", &t), 1);
            for (size_t k = 0; k < n; k++)
                if (ticks[k] == t)
                    fail_msg("tick %lld stored twice", t);
            if (n < cap)
                ticks[n++] = t;
        } else if (strcmp(m->role, "assistant") == 0) {
            (*answered)++;
        }
    }
    aos_storage_message_page_clear(&page);
    return n;
}

static void test_two_runners_fire_each_tick_once(void **state)
{
    (void)state;
    assert_int_equal(start_runner(&S.a, "rtschedA"), 0);
    assert_int_equal(start_runner(&S.b, "rtschedB"), 0);
    long long ticks[256];
    size_t n = 0, answered = 0;
    for (int i = 0; i < 600 && (n < 5 || answered < n); i++) { /* up to 60 s */
        stack_sleep_ms(100);
        n = stored_ticks(ticks, 256, &answered);
    }
    assert_true(n >= 5);
    long fired = metric(&S.a, "aos_runner_schedule_fired_total") +
                 metric(&S.b, "aos_runner_schedule_fired_total");
    assert_int_equal(stack_stop(&S.a, SIGTERM), 0);
    assert_int_equal(stack_stop(&S.b, SIGTERM), 0);
    n = stored_ticks(ticks, 256, &answered);
    /* no tick fired twice (one claim per tick), none skipped between the first and the last */
    assert_int_equal((long)n, fired);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(ticks[i] - ticks[i - 1], INTERVAL_S);
    assert_int_equal(ticks[0] % INTERVAL_S, 0);
    assert_int_equal(answered, n);
    for (int i = 0; i < 100 && (size_t)atomic_load(&S.actions) < n; i++)
        stack_sleep_ms(100);
    assert_true((size_t)atomic_load(&S.actions) >= n);
}

/* The schedule record's last claimed tick (what the runners fired, whether or not its turn
 * was processed yet). */
static long long record_last_tick(void)
{
    aos_storage_record_t rec = {0};
    char err[256];
    assert_int_equal(aos_storage_record_get_sync(S.sc, "schedule", AGENT, &rec, err, sizeof err),
                     AOS_OK);
    json_object *o = NULL;
    int64_t last = 0;
    assert_int_equal(aos_json_parse_object(rec.data_json, strlen(rec.data_json), 0, 0, &o, NULL, 0),
                     AOS_OK);
    assert_int_equal(aos_json_get_int(o, "last_tick", AOS_JSON_REQUIRED, &last, NULL, NULL, 0),
                     AOS_OK);
    json_object_put(o);
    aos_storage_record_clear(&rec);
    return last;
}

static void test_missed_ticks_coalesce(void **state)
{
    (void)state;
    long long ticks[256];
    size_t answered = 0;
    long long last = record_last_tick();         /* every runner is down now */
    stack_sleep_ms(3 * INTERVAL_S * 1000 + 500); /* ≥ 3 ticks missed */
    time_t back = time(NULL);
    assert_int_equal(start_runner(&S.a, "rtschedA"), 0);
    long long catch_up = 0;
    for (int i = 0; i < 300 && !catch_up; i++) {
        stack_sleep_ms(100);
        size_t n = stored_ticks(ticks, 256, &answered);
        for (size_t k = 0; k < n; k++)
            if (ticks[k] > last && (!catch_up || ticks[k] < catch_up))
                catch_up = ticks[k];
    }
    assert_true(catch_up > 0);
    /* the first tick after the outage is the newest missed one, not each of them */
    assert_true(catch_up - last >= 3 * INTERVAL_S);
    assert_true(catch_up <= (long long)back);
    assert_true(metric(&S.a, "aos_runner_schedule_missed_total") >= 2);
    assert_int_equal(stack_stop(&S.a, SIGTERM), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_runners_fire_each_tick_once),
        cmocka_unit_test(test_missed_ticks_coalesce),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
