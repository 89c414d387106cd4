/* End-to-end turns through POST /v1/messages next to raw bus request/reply, same broker,
 * same run.
 *
 *   bench_e2e BUS_URL [SECONDS_PER_RUN]      (env AOS_BIN_DIR, AOS_SOURCE_DIR)
 *
 * Starts aos-storage (SQLite), one aos-agent-runner (offline provider) and aos-router from
 * AOS_BIN_DIR against BUS_URL. For each concurrency (1, 16, 128):
 *   e2e: that many HTTP clients each POST /v1/messages in a loop (keep-alive; every turn a
 *        new conversation routed to cfo by keyword), timing each answer;
 *   bus: a requester keeps that many aos_bus_request calls in flight to aos.test.bench and a
 *        responder answers each from its callback (the bus round trip every turn contains at
 *        least five times: turn + storage operations).
 * Prints turns/s, p50, p99 for both and the ratio e2e/bus, and the CPU time per turn of each
 * process during the e2e run (router, runner, storage, and the broker: the beam.smp of the
 * benchmark's private RabbitMQ, AOS_BENCH_BROKER_PID), their total and the AOS services'
 * total, read from /proc/<pid>/stat before and after. Before the runs: each service's idle RSS.
 * The slow-model figures (1,000 conversations on a model answering after 1 s) are
 * tests/bench/e2e_slow's.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../bench_proc.h"
#include "aos/bus.h"
#include "aos/log.h"
#include "e2e_support.h"

#define MAX_SAMPLES 400000
#define BENCH_QUEUE "aos.test.bench"

typedef struct stats {
    double *lat_ms;
    atomic_size_t n;
    atomic_size_t errors;
    double seconds;
} stats_t;

static e2e_stack_t g_stack;
static long long g_deadline_ms;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(stats_t *s, double p)
{
    size_t n = atomic_load(&s->n);
    if (n > MAX_SAMPLES)
        n = MAX_SAMPLES;
    if (n == 0)
        return 0;
    qsort(s->lat_ms, n, sizeof *s->lat_ms, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1));
    return s->lat_ms[i];
}

static void record(stats_t *s, double ms)
{
    size_t i = atomic_fetch_add(&s->n, 1);
    if (i < MAX_SAMPLES)
        s->lat_ms[i] = ms;
}

static double now_msf(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- e2e: HTTP clients ---- */

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static void *http_client(void *arg)
{
    stats_t *st = arg;
    char url[128];
    snprintf(url, sizeof url, "%s/v1/messages", g_stack.api);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    const char *body = "{\"text\":\"What is our budget for next quarter?\"}";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    while (e2e_now_ms() < g_deadline_ms) {
        double t0 = now_msf();
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200)
            record(st, now_msf() - t0);
        else
            atomic_fetch_add(&st->errors, 1);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static void run_e2e(int conc, int seconds, stats_t *st)
{
    pthread_t *th = calloc((size_t)conc, sizeof *th);
    double t0 = now_msf();
    g_deadline_ms = e2e_now_ms() + seconds * 1000LL;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < conc; i++)
        pthread_create(&th[i], &attr, http_client, st);
    pthread_attr_destroy(&attr);
    for (int i = 0; i < conc; i++)
        pthread_join(th[i], NULL);
    st->seconds = (now_msf() - t0) / 1000.0;
    free(th);
}

/* ---- bus: request/reply with a window ---- */

static aos_bus_t *g_req_bus, *g_rsp_bus;
static atomic_int g_outstanding;

static void on_request(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ctx;
    aos_event_t *reply = NULL;
    if (aos_event_create("bench.pong", "/bench", "{\"ok\":true}", &reply) == AOS_OK)
        aos_bus_reply(g_rsp_bus, ev, reply, NULL, NULL);
    aos_event_free(reply);
    aos_bus_accept(d);
}

typedef struct slot {
    stats_t *st;
    double t0;
} slot_t;

static void send_one(slot_t *s);

static void on_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    (void)reply;
    slot_t *s = ctx;
    if (r == AOS_OK)
        record(s->st, now_msf() - s->t0);
    else
        atomic_fetch_add(&s->st->errors, 1);
    if (e2e_now_ms() < g_deadline_ms)
        send_one(s);
    else
        atomic_fetch_sub(&g_outstanding, 1);
}

static void send_one(slot_t *s)
{
    aos_event_t *ev = NULL;
    s->t0 = now_msf();
    if (aos_event_create("bench.ping", "/bench",
                         "{\"text\":\"What is our budget for next quarter?\"}", &ev) != AOS_OK ||
        aos_bus_request(g_req_bus, BENCH_QUEUE, ev, 30000, on_reply, s) != AOS_OK)
        atomic_fetch_sub(&g_outstanding, 1);
    aos_event_free(ev);
}

static int bus_setup(const char *url)
{
    char err[256];
    aos_bus_config_t a = {
        .url = url, .profile = AOS_BUS_PROFILE_RABBITMQ, .instance_id = "bench-e2e-rsp"};
    aos_bus_config_t b = a;
    b.instance_id = "bench-e2e-req";
    if (aos_bus_new(&a, &g_rsp_bus, err, sizeof err) != AOS_OK ||
        aos_bus_new(&b, &g_req_bus, err, sizeof err) != AOS_OK ||
        aos_bus_subscribe(g_rsp_bus, BENCH_QUEUE, 256, on_request, NULL) != AOS_OK ||
        aos_bus_start(g_rsp_bus) != AOS_OK || aos_bus_start(g_req_bus) != AOS_OK ||
        aos_bus_wait_connected(g_rsp_bus, 10000) != AOS_OK ||
        aos_bus_wait_connected(g_req_bus, 10000) != AOS_OK) {
        fprintf(stderr, "bus: %s\n", err);
        return -1;
    }
    stack_sleep_ms(300); /* let the responder's link attach */
    return 0;
}

static void run_bus(int conc, int seconds, stats_t *st)
{
    slot_t *slots = calloc((size_t)conc, sizeof *slots);
    double t0 = now_msf();
    g_deadline_ms = e2e_now_ms() + seconds * 1000LL;
    atomic_store(&g_outstanding, conc);
    for (int i = 0; i < conc; i++) {
        slots[i].st = st;
        send_one(&slots[i]);
    }
    while (atomic_load(&g_outstanding) > 0)
        stack_sleep_ms(5);
    st->seconds = (now_msf() - t0) / 1000.0;
    free(slots);
}

/* ---- CPU per turn: /proc/<pid>/stat of each process ---- */

enum { P_ROUTER, P_RUNNER, P_STORAGE, P_BROKER, P_COUNT };

static void cpu_snapshot(double out[P_COUNT])
{
    pid_t pids[P_COUNT] = {g_stack.router.pid, g_stack.runner.pid, g_stack.storage.pid,
                           bench_broker_pid()};
    for (int i = 0; i < P_COUNT; i++)
        out[i] = pids[i] > 0 ? bench_cpu_ms(pids[i]) : -1;
}

static void print_idle_rss(void)
{
    const e2e_proc_t *ps[] = {&g_stack.router, &g_stack.runner, &g_stack.storage};
    const char *names[] = {"aos-router", "aos-agent-runner", "aos-storage"};
    printf("idle RSS:");
    for (int i = 0; i < 3; i++)
        printf("  %s %.1f MiB", names[i], (double)bench_rss_kb(ps[i]->pid) / 1024.0);
    printf("\n");
}

static void stats_reset(stats_t *s)
{
    atomic_store(&s->n, 0);
    atomic_store(&s->errors, 0);
    s->seconds = 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_e2e BUS_URL [SECONDS_PER_RUN]\n");
        return 2;
    }
    int seconds = argc > 2 ? atoi(argv[2]) : 5;
    aos_log_init("bench-e2e", AOS_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *src = getenv("AOS_SOURCE_DIR");
    char sample[512], config[300];
    snprintf(sample, sizeof sample, "%s/deploy/config/aos.json", src ? src : ".");
    snprintf(config, sizeof config, "/tmp/aos-bench-e2e-%d.json", (int)getpid());
    const char *keys[] = {"sync_timeout_ms", "max_inflight", NULL};
    const int values[] = {60000, 256};
    if (e2e_write_config(sample, config, keys, values) != 0 ||
        e2e_stack_start(&g_stack, argv[1], config, NULL, NULL) != 0 || bus_setup(argv[1]) != 0) {
        fprintf(stderr, "bench_e2e: the stack did not start\n");
        e2e_dump_log(&g_stack.router, 20);
        e2e_dump_log(&g_stack.runner, 20);
        e2e_stack_stop(&g_stack);
        return 1;
    }
    stats_t e2e = {.lat_ms = calloc(MAX_SAMPLES, sizeof(double))};
    stats_t bus = {.lat_ms = calloc(MAX_SAMPLES, sizeof(double))};
    stack_sleep_ms(2000); /* settled after start */
    print_idle_rss();
    run_e2e(4, 1, &e2e); /* warm-up */
    printf("%-5s | %-27s | %-27s | %-6s | %-31s | %s\n", "", "e2e POST /v1/messages",
           "bus request/reply", "e2e/", "CPU ms per turn (e2e run)", "total  AOS");
    printf("%-5s | %8s %8s %8s  | %8s %8s %8s  | %6s | %7s %7s %7s %7s | %6s %5s\n", "conc",
           "turns/s", "p50 ms", "p99 ms", "rr/s", "p50 ms", "p99 ms", "bus", "router", "runner",
           "storage", "broker", "", "");
    const int levels[] = {1, 16, 128};
    for (size_t i = 0; i < 3; i++) {
        stats_reset(&e2e);
        stats_reset(&bus);
        double c0[P_COUNT], c1[P_COUNT];
        cpu_snapshot(c0);
        run_e2e(levels[i], seconds, &e2e);
        cpu_snapshot(c1);
        run_bus(levels[i], seconds, &bus);
        size_t turns = atomic_load(&e2e.n);
        double e_rate = (double)turns / e2e.seconds;
        double b_rate = (double)atomic_load(&bus.n) / bus.seconds;
        double e50 = pct(&e2e, 0.50), e99 = pct(&e2e, 0.99);
        double b50 = pct(&bus, 0.50), b99 = pct(&bus, 0.99);
        printf("%-5d | %8.1f %8.2f %8.2f  | %8.1f %8.2f %8.2f  | %6.3f |", levels[i], e_rate, e50,
               e99, b_rate, b50, b99, b_rate > 0 ? e_rate / b_rate : 0.0);
        double total = 0, aos = 0;
        for (int p = 0; p < P_COUNT; p++) {
            double per = c0[p] >= 0 && c1[p] >= 0 && turns ? (c1[p] - c0[p]) / (double)turns : -1;
            if (per < 0) {
                printf(" %7s", "n/a");
                continue;
            }
            printf(" %7.3f", per);
            total += per;
            if (p != P_BROKER)
                aos += per;
        }
        printf(" | %6.3f %5.3f", total, aos);
        if (atomic_load(&e2e.errors) || atomic_load(&bus.errors))
            printf("   (errors: e2e %zu, bus %zu)", atomic_load(&e2e.errors),
                   atomic_load(&bus.errors));
        printf("\n");
        fflush(stdout);
    }
    aos_bus_free(g_req_bus);
    aos_bus_free(g_rsp_bus);
    e2e_stack_stop(&g_stack);
    unlink(config);
    free(e2e.lat_ms);
    free(bus.lat_ms);
    curl_global_cleanup();
    return 0;
}
