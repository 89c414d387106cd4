/* Bench: the runner's model layer alone (runner_call: loop + async HTTP client + resilience)
 * with N concurrent calls to the fake model answering after D ms: how long N calls take,
 * how many were in flight at once at the fake, and the memory they cost. No storage, no bus:
 * this is the "1,000 concurrent slow model calls on one instance, no thread per turn" figure.
 *   bench_model_slow [CALLS] [MODEL_DELAY_MS] [ROUNDS]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/agents.h"
#include "aos/http_client.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "fake_model.h"
#include "loop.h"
#include "model.h"
#include "prompt.h"

static struct {
    runner_model_t *model;
    const aos_agent_def_t *agent;
    runner_prompt_t prompt;
    atomic_int done, failed;
    int calls;
} M;

static long rss_kb(void)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static int threads_now(void)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

static void on_done(void *ctx, runner_model_result_t *res)
{
    (void)ctx;
    if (res->result == AOS_OK)
        atomic_fetch_add(&M.done, 1);
    else
        atomic_fetch_add(&M.failed, 1);
}

static void start_all(void *arg, bool cancelled)
{
    (void)arg;
    if (cancelled)
        return;
    for (int i = 0; i < M.calls; i++)
        runner_model_call(M.model, M.agent, &M.prompt, on_done, NULL);
}

int main(int argc, char **argv)
{
    M.calls = argc > 1 ? atoi(argv[1]) : 1000;
    int delay = argc > 2 ? atoi(argv[2]) : 1000;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    aos_log_init("bench-model-slow", AOS_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_model_t fake;
    if (fake_model_start(&fake, NULL) != 0)
        return 1;
    char json[1024], err[256];
    snprintf(json, sizeof json,
             "{\"default_agent\":\"b\",\"agents\":[{\"name\":\"b\",\"purpose\":\"p\","
             "\"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\",\"timeout_ms\":60000}}]}",
             fake.base);
    aos_agents_config_t *cfg = NULL;
    runner_loop_t *loop = NULL;
    aos_http_client_t *http = NULL;
    aos_http_client_config_t hc = {.max_total_connections = (unsigned)M.calls + 16};
    if (aos_agents_config_parse(json, strlen(json), &cfg, err, sizeof err) != AOS_OK ||
        runner_loop_new(&loop) != AOS_OK ||
        aos_http_client_new(&hc, &http, err, sizeof err) != AOS_OK ||
        runner_model_new(NULL, loop, http, &M.model) != AOS_OK ||
        runner_loop_start(loop) != AOS_OK) {
        fprintf(stderr, "setup failed: %s\n", err);
        return 1;
    }
    M.agent = aos_agents_find(cfg, "b");
    char text[64];
    snprintf(text, sizeof text, "slow [[fake:delay_ms=%d]]", delay);
    runner_prompt_input_t in = {.agent = "b", .purpose = "p", .user_text = text};
    runner_prompt_build(&in, &M.prompt, NULL, 0);
    long rss0 = rss_kb();
    int threads = threads_now();
    printf("model_slow: %d concurrent calls, model delay %d ms, %d rounds (threads: %d)\n", M.calls,
           delay, rounds, threads);
    for (int r = 0; r < rounds; r++) {
        fake_model_reset(&fake);
        atomic_store(&M.done, 0);
        atomic_store(&M.failed, 0);
        int64_t t0 = aos_clock_monotonic_ms();
        runner_loop_post(loop, start_all, NULL);
        long peak = 0;
        while (atomic_load(&M.done) + atomic_load(&M.failed) < M.calls) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            long kb = rss_kb();
            peak = kb > peak ? kb : peak;
        }
        double s = (double)(aos_clock_monotonic_ms() - t0) / 1000.0;
        json_object *st = fake_model_admin(&fake, "GET", "/_stats", NULL), *v;
        int max_in =
            st && json_object_object_get_ex(st, "max_inflight", &v) ? json_object_get_int(v) : -1;
        json_object_put(st);
        printf("  round %d: %d ok, %d failed in %.2f s = %.0f calls/s; peak in flight at the "
               "model %d; RSS %.1f MiB (+%.1f MiB over idle)\n",
               r + 1, atomic_load(&M.done), atomic_load(&M.failed), s, (double)M.calls / s, max_in,
               (double)peak / 1024.0, (double)(peak - rss0) / 1024.0);
    }
    printf("  threads while running: %d (no thread per call)\n", threads_now());
    aos_http_client_free(http);
    runner_loop_free(loop);
    runner_model_free(M.model);
    runner_prompt_clear(&M.prompt);
    aos_agents_config_free(cfg);
    fake_model_stop(&fake);
    return 0;
}
