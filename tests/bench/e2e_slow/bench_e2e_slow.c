/* Bench: turns per second through aos-agent-runner when the model answers after 1 s, with
 * N concurrent conversations (default 1000), against the same with a model that answers at
 * once, and the runner's memory (RSS).
 *
 * Starts the fake model (tests/fakes/openai), aos-storage (SQLite) and one aos-agent-runner
 * serving agent "rtbench" with its default capacity (the defaults must hold 1,000 slow
 * calls), then runs N closed-loop conversations over the bus (request aos.agent.turn -> reply
 * aos.agent.turn.result, as the router does): each sends its next turn when the previous one
 * was answered. First with the model answering after MODEL_DELAY_MS, then (the same
 * conversations going on) at once. Prints turns/s of both windows and their ratio slow/fast
 * (1.0: a slow model costs only latency), the peak number of model calls in flight (from the
 * fake), the runner's idle and peak RSS, and CPU ms per turn of the runner and storage.
 *   bench_e2e_slow AMQP_URL [SECONDS] [CONVERSATIONS] [MODEL_DELAY_MS]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/bus.h"
#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "../bench_proc.h"
#include "fake_model.h"
#include "stack.h"

typedef struct conv {
    int index;
    int turn;
} conv_t;

static struct {
    aos_bus_t *bus;
    atomic_ullong done, errors;
    atomic_bool stop;
    atomic_int delay_ms; /* of the next turns */
    char tag[32];
} B;

static void send_turn(conv_t *c);

static void on_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    conv_t *c = ctx;
    if (r == AOS_OK && aos_bus_reply_result(reply, NULL, 0) == AOS_OK)
        atomic_fetch_add(&B.done, 1);
    else
        atomic_fetch_add(&B.errors, 1);
    if (!atomic_load(&B.stop)) {
        c->turn++;
        send_turn(c);
    }
}

static void send_turn(conv_t *c)
{
    char conv[64], msg[80], data[512];
    snprintf(conv, sizeof conv, "bench-%s-%d", B.tag, c->index);
    snprintf(msg, sizeof msg, "%s-t%d", conv, c->turn);
    snprintf(data, sizeof data,
             "{\"conversation_id\":\"%s\",\"message_id\":\"%s\",\"agent\":\"rtbench\","
             "\"text\":\"question %d [[fake:delay_ms=%d]]\",\"kind\":\"query\"}",
             conv, msg, c->turn, atomic_load(&B.delay_ms));
    aos_event_t *ev = NULL;
    if (aos_event_create("aos.agent.turn", "/bench/e2e-slow", data, &ev) != AOS_OK)
        return;
    aos_event_set(&ev->id, msg);
    aos_event_set(&ev->group_id, conv);
    if (aos_bus_request(B.bus, "aos.agent.rtbench", ev, 120000, on_reply, c) != AOS_OK)
        atomic_fetch_add(&B.errors, 1);
    aos_event_free(ev);
}

static int start_stack(const char *url, const char *dir, int convs, fake_model_t *fake,
                       proc_t *storage, proc_t *runner)
{
    if (fake_model_start(fake, NULL) != 0)
        return -1;
    char cfg[256], db[256], bin[512];
    snprintf(cfg, sizeof cfg, "%s/aos.json", dir);
    snprintf(db, sizeof db, "%s/aos.db", dir);
    FILE *f = fopen(cfg, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"default_agent\":\"rtbench\",\"settings\":{\"storage_timeout_ms\":30000},"
            "\"agents\":[{\"name\":\"rtbench\",\"purpose\":\"You answer slowly.\","
            "\"max_history\":4,\"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\","
            "\"timeout_ms\":60000}}]}",
            fake->base);
    fclose(f);
    char e_url[300], e_db[300], e_cfg[300];
    snprintf(e_url, sizeof e_url, "AOS_BUS_URL=%s", url);
    snprintf(e_db, sizeof e_db, "AOS_SQLITE_PATH=%s", db);
    snprintf(e_cfg, sizeof e_cfg, "AOS_CONFIG=%s", cfg);
    (void)convs; /* the runner's default capacity: what a deployment gets */
    char *senv[] = {
        e_url, "AOS_BUS_PROFILE=rabbitmq", e_db, "AOS_LOG_LEVEL=warn", "AOS_STORAGE_WORKERS=8",
        NULL};
    snprintf(bin, sizeof bin, "%s/aos-storage", getenv("AOS_BIN_DIR"));
    if (stack_start(storage, bin, dir, "storage", senv) != 0)
        return -1;
    char *renv[] = {
        e_url, "AOS_BUS_PROFILE=rabbitmq", e_cfg, "AOS_AGENTS=rtbench", "AOS_LOG_LEVEL=warn", NULL};
    snprintf(bin, sizeof bin, "%s/aos-agent-runner", getenv("AOS_BIN_DIR"));
    return stack_start(runner, bin, dir, "runner", renv);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s AMQP_URL [SECONDS] [CONVERSATIONS] [MODEL_DELAY_MS]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    int seconds = argc > 2 ? atoi(argv[2]) : 20;
    int convs = argc > 3 ? atoi(argv[3]) : 1000;
    atomic_store(&B.delay_ms, argc > 4 ? atoi(argv[4]) : 1000);
    aos_log_init("bench-e2e-slow", AOS_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(B.tag, sizeof B.tag, "%d", (int)getpid());
    char dir[] = "/tmp/aos-bench-slow-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    fake_model_t fake;
    proc_t storage = {0}, runner = {0};
    if (start_stack(url, dir, convs, &fake, &storage, &runner) != 0) {
        fprintf(stderr, "could not start the stack (logs in %s)\n", dir);
        return 1;
    }
    char err[256];
    aos_bus_config_t bc = {.url = url, .profile = AOS_BUS_PROFILE_RABBITMQ};
    if (aos_bus_new(&bc, &B.bus, err, sizeof err) != AOS_OK || aos_bus_start(B.bus) != AOS_OK ||
        aos_bus_wait_connected(B.bus, 20000) != AOS_OK) {
        fprintf(stderr, "bus: %s\n", err);
        return 1;
    }
    stack_sleep_ms(2000);
    long idle_rss = bench_rss_kb(runner.pid), storage_idle_rss = bench_rss_kb(storage.pid);
    conv_t *cs = calloc((size_t)convs, sizeof *cs);
    for (int i = 0; i < convs; i++) {
        cs[i].index = i;
        send_turn(&cs[i]);
    }
    /* warm-up: the first wave creates every conversation */
    int warm = seconds / 4 > 3 ? seconds / 4 : 3;
    long peak_rss = 0;
    for (int i = 0; i < warm * 10; i++) {
        stack_sleep_ms(100);
        long kb = bench_rss_kb(runner.pid);
        peak_rss = kb > peak_rss ? kb : peak_rss;
    }
    /* the slow window */
    uint64_t d0 = atomic_load(&B.done);
    double r0 = bench_cpu_ms(runner.pid), s0 = bench_cpu_ms(storage.pid);
    int64_t t0 = aos_clock_monotonic_ms();
    for (int i = 0; i < seconds * 10; i++) {
        stack_sleep_ms(100);
        long kb = bench_rss_kb(runner.pid);
        peak_rss = kb > peak_rss ? kb : peak_rss;
    }
    uint64_t d1 = atomic_load(&B.done);
    double elapsed = (double)(aos_clock_monotonic_ms() - t0) / 1000.0;
    double r1 = bench_cpu_ms(runner.pid), s1 = bench_cpu_ms(storage.pid);
    json_object *st = fake_model_admin(&fake, "GET", "/_stats", NULL), *v;
    int max_inflight =
        st && json_object_object_get_ex(st, "max_inflight", &v) ? json_object_get_int(v) : -1;
    json_object_put(st);
    /* the fast window: the same conversations, the model answering at once */
    int slow_delay = atomic_load(&B.delay_ms);
    atomic_store(&B.delay_ms, 0);
    stack_sleep_ms(slow_delay + 1500); /* the slow turns in flight finish */
    int fast_seconds = seconds / 2 > 5 ? seconds / 2 : 5;
    uint64_t f0 = atomic_load(&B.done);
    double fr0 = bench_cpu_ms(runner.pid), fs0 = bench_cpu_ms(storage.pid);
    int64_t ft0 = aos_clock_monotonic_ms();
    stack_sleep_ms(fast_seconds * 1000);
    uint64_t f1 = atomic_load(&B.done);
    double felapsed = (double)(aos_clock_monotonic_ms() - ft0) / 1000.0;
    double fr1 = bench_cpu_ms(runner.pid), fs1 = bench_cpu_ms(storage.pid);
    atomic_store(&B.stop, true);
    double tps = (double)(d1 - d0) / elapsed, ftps = (double)(f1 - f0) / felapsed;
    uint64_t sn = d1 - d0 ? d1 - d0 : 1, fn = f1 - f0 ? f1 - f0 : 1;
    printf("e2e_slow: %d conversations, model delay %d ms, %.1f s measured (fast: %.1f s)\n", convs,
           slow_delay, elapsed, felapsed);
    printf("  turns/s slow model       %.1f   (ideal %.1f)\n", tps,
           (double)convs * 1000.0 / (double)slow_delay);
    printf("  turns/s fast model       %.1f   (same conversations, model answers at once)\n", ftps);
    printf("  ratio slow/fast          %.2f\n", ftps > 0 ? tps / ftps : 0.0);
    printf("  turns answered           %llu   errors %llu\n", (unsigned long long)f1,
           (unsigned long long)atomic_load(&B.errors));
    printf("  model calls in flight    peak %d\n", max_inflight);
    printf("  runner RSS               idle %.1f MiB, peak %.1f MiB with %d conversations\n",
           (double)idle_rss / 1024.0, (double)peak_rss / 1024.0, convs);
    printf("  storage RSS              idle %.1f MiB\n", (double)storage_idle_rss / 1024.0);
    printf("  CPU ms per turn          slow: runner %.3f storage %.3f; fast: runner %.3f "
           "storage %.3f\n",
           (r1 - r0) / (double)sn, (s1 - s0) / (double)sn, (fr1 - fr0) / (double)fn,
           (fs1 - fs0) / (double)fn);
    stack_sleep_ms(2000); /* let the last wave finish before stopping */
    aos_bus_free(B.bus);
    stack_stop(&runner, SIGTERM);
    stack_stop(&storage, SIGTERM);
    fake_model_stop(&fake);
    free(cs);
    return 0;
}
