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
#include <curl/curl.h>

#include "aos/bus.h"
#include "aos/json.h"
#include "aos/storage_client.h"
#include "fixture.h"
#include "stack.h"

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

static int start(proc_t *p, const char *name, const char *bin_name, char **extra)
{
    char *env[16] = {envs("AOS_BUS_URL=%s", S.url), envs("AOS_BUS_PROFILE=rabbitmq"),
                     envs("AOS_STORAGE_QUEUE=%s", STACK_STORAGE_QUEUE),
                     envs("AOS_INSTANCE_ID=%s-%s", name, S.tag), envs("AOS_DEV_MODE=1")};
    size_t n = 5;
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    char bin[512];
    snprintf(bin, sizeof bin, "%s/%s", getenv("AOS_BIN_DIR"), bin_name);
    int rc = stack_start(p, bin, S.dir, name, env);
    for (size_t i = 0; i < n; i++)
        free(env[i]);
    return rc;
}

static int start_runner(proc_t *p, const char *name)
{
    char *extra[] = {envs("AOS_CONFIG=%s", S.config), envs("AOS_AGENTS=%s", AGENT),
                     envs("AOS_SHUTDOWN_GRACE=5s"), NULL};
    return start(p, name, "aos-agent-runner", extra);
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
    if (aos_test_fixture_read("rabbitmq", "url", S.url, sizeof S.url) != 0)
        return -1;
    snprintf(S.dir, sizeof S.dir, "/tmp/aos-sched-e2e-XXXXXX");
    if (!mkdtemp(S.dir))
        return -1;
    snprintf(S.tag, sizeof S.tag, "%d%ld", getpid(), (long)time(NULL) % 100000);
    snprintf(S.config, sizeof S.config, "%s/aos.json", S.dir);
    FILE *f = fopen(S.config, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"default_agent\":\"%s\",\"settings\":{\"storage_timeout_ms\":2000,"
            "\"heartbeat_interval_ms\":500},\"agents\":[{\"name\":\"%s\","
            "\"purpose\":\"You watch the books.\",\"schedule\":{\"interval_s\":%d,"
            "\"text\":\"Tick: review the cash position.\"}}]}",
            AGENT, AGENT, INTERVAL_S);
    fclose(f);
    char *senv[] = {envs("AOS_SQLITE_PATH=%s/aos.db", S.dir), NULL};
    if (start(&S.storage, "storage", "aos-storage", senv) != 0)
        return -1;
    char err[256], inst[64];
    snprintf(inst, sizeof inst, "rtschedtest-%s", S.tag);
    aos_bus_config_t bc = {.url = S.url, .profile = AOS_BUS_PROFILE_RABBITMQ, .instance_id = inst};
    if (aos_bus_new(&bc, &S.bus, err, sizeof err) != AOS_OK || aos_bus_start(S.bus) != AOS_OK ||
        aos_bus_wait_connected(S.bus, 20000) != AOS_OK)
        return -1;
    if (aos_bus_subscribe_address(S.bus, "/exchange/aos.events/aos.agent.action", 64, on_event,
                                  NULL) != AOS_OK)
        return -1;
    aos_storage_client_config_t scc = {
        .bus = S.bus, .queue = STACK_STORAGE_QUEUE, .timeout_ms = 3000};
    return aos_storage_client_new(&scc, &S.sc, err, sizeof err) == AOS_OK ? 0 : -1;
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

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
    return fwrite(p, size, n, ctx);
}

/* The value of a counter with label agent=AGENT on a service's /metrics (0 when absent). */
static long metric(const proc_t *p, const char *name)
{
    char url[128], *buf = NULL, want[160];
    size_t len = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", p->admin_port);
    FILE *out = open_memstream(&buf, &len);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    fclose(out);
    assert_int_equal(cc, CURLE_OK);
    snprintf(want, sizeof want, "%s{agent=\"%s\"} ", name, AGENT);
    const char *at = strstr(buf, want);
    long v = at ? strtol(at + strlen(want), NULL, 10) : 0;
    free(buf);
    return v;
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
