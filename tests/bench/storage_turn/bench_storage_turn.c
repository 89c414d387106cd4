/* Storage's own CPU per turn, without the bus: the two operations a turn makes
 * (aos.storage.turn.accept as the router sends it, with the user message; turn.complete as
 * the runner sends it, with the answer) run through storage_dispatch_raw on the SQLite backend
 * (group commit, synchronous=FULL) in one thread. Prints thread CPU and allocations per turn,
 * per operation, on conversations that grow to HISTORY messages (the context the accept reads).
 *   bench_storage_turn [TURNS] [CONVERSATIONS]          (tests/bench/storage_turn/run.sh) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "aos/json.h"
#include "backend.h"
#include "dispatch.h"

#include "../bench_alloc.h"

static double cpu_ms(void)
{
    return bench_thread_cpu_ns() / 1e6;
}

typedef struct {
    double ms;
    long allocs, n;
} acc_t;

static json_object *run(storage_backend_t *be, const char *type, const char *json, acc_t *acc)
{
    static const storage_limits_t lim = {0};
    storage_outcome_t out = {0};
    long a0 = bench_allocs();
    double t0 = cpu_ms();
    storage_dispatch_raw(be, &lim, type, "bench-event", json, strlen(json), &out);
    acc->ms += cpu_ms() - t0;
    acc->allocs += bench_allocs() - a0;
    acc->n++;
    if (out.action != AOS_STORAGE_REPLY) {
        fprintf(stderr, "%s failed: %s\n", type, out.message);
        exit(1);
    }
    json_object *o = json_tokener_parse(out.data_json);
    storage_outcome_clear(&out);
    return o;
}

static int64_t jint(json_object *o, const char *path1, const char *path2)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, path1, &v))
        return 0;
    if (path2 && !json_object_object_get_ex(v, path2, &v))
        return 0;
    return json_object_get_int64(v);
}

int main(int argc, char **argv)
{
    int turns = argc > 1 ? atoi(argv[1]) : 2000;
    int convs = argc > 2 ? atoi(argv[2]) : 100;
    char dir[] = "/tmp/aos-bench-storage-turn-XXXXXX", path[64], err[256] = "";
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/aos.db", dir);
    storage_backend_config_t cfg = {.kind = AOS_STORAGE_BACKEND_SQLITE, .sqlite_path = path};
    storage_backend_t *be = NULL;
    if (storage_backend_open(&cfg, &be, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    acc_t acc_accept = {0}, acc_complete = {0};
    const char *text = "What is our budget for next quarter? Please break it down by department "
                       "and compare it with this quarter.";
    const char *answer =
        "The budget for next quarter is 4.2M, 3% above this quarter: engineering 2.1M, sales 1.1M, "
        "marketing 0.6M, operations 0.4M. Engineering grows by 5%, the others stay flat.";
    for (int i = 0; i < turns; i++) {
        char conv[32], turn[48], reply[48], json[2048];
        snprintf(conv, sizeof conv, "c-bench-%d", i % convs);
        snprintf(turn, sizeof turn, "m-%d-user", i);
        snprintf(reply, sizeof reply, "m-%d-assistant", i);
        snprintf(json, sizeof json,
                 "{\"message\":{\"conversation_id\":\"%s\",\"message_id\":\"%s\",\"role\":\"user\","
                 "\"content\":\"%s\",\"metadata\":{\"kind\":\"query\",\"user\":\"u-1\",\"agent\":"
                 "\"cfo\",\"reason\":\"finance keywords\"}},\"conversation_id\":\"%s\","
                 "\"agent\":\"cfo\",\"turn_id\":\"%s\",\"idempotency_key\":\"idem-%d\","
                 "\"holder\":\"router-1\",\"history\":28}",
                 conv, turn, text, conv, turn, i);
        json_object *acc = run(be, "aos.storage.turn.accept", json, &acc_accept);
        int64_t tok = jint(acc, "run", "token"), seq = jint(acc, "seq", NULL);
        json_object_put(acc);
        if (!tok) {
            fprintf(stderr, "accept %d gave no lease\n", i);
            return 1;
        }
        snprintf(json, sizeof json,
                 "{\"message\":{\"conversation_id\":\"%s\",\"message_id\":\"%s\",\"role\":"
                 "\"assistant\",\"content\":\"%s\",\"metadata\":{\"model\":\"offline\","
                 "\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":48}}},"
                 "\"conversation_id\":\"%s\",\"turn_id\":\"%s\",\"outcome\":\"answered\","
                 "\"token\":%lld,\"seq\":%lld}",
                 conv, reply, answer, conv, turn, (long long)tok, (long long)seq);
        json_object_put(run(be, "aos.storage.turn.complete", json, &acc_complete));
    }
    printf("storage turn operations in-process (SQLite, one thread), %d turns on %d "
           "conversations\n",
           turns, convs);
    printf("  turn.accept    %7.3f ms CPU  %6.0f allocations\n", acc_accept.ms / acc_accept.n,
           (double)acc_accept.allocs / (double)acc_accept.n);
    printf("  turn.complete  %7.3f ms CPU  %6.0f allocations\n", acc_complete.ms / acc_complete.n,
           (double)acc_complete.allocs / (double)acc_complete.n);
    printf("  per turn       %7.3f ms CPU  %6.0f allocations\n",
           (acc_accept.ms + acc_complete.ms) / turns,
           (double)(acc_accept.allocs + acc_complete.allocs) / turns);
    storage_backend_free(be);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
