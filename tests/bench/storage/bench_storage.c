/* Storage benchmark: appends and reads per second through the bus, per backend, against the
 * raw request/reply rate of the same bus in the same run.
 *   bench_storage AMQP_URL SECONDS [AZURE_CONNECTION_STRING]
 * Phases (each SECONDS long, WINDOW requests outstanding):
 *   raw     an echo responder answers every request from its bus callback
 *   sqlite  aos-storage core (4 workers, SQLite in a temp file): message.append, message.list
 *   azure   the same on the Azure backend (only with a connection string, e.g. Azurite)
 *   turns   the turn path on SQLite without the bus (docs/turn-order.md): turn.accept with
 *           the user message, turn.claim only when the accept gave no lease, turn.complete;
 *           CPU per operation (this thread's user+system time around each dispatch) and
 *           storage round trips per turn. The same source builds against an older storage,
 *           which gives the "before" figures.
 * Each responder runs on its own connection, the client on another, all on one broker. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>

#include "aos/bus.h"
#include "aos/json.h"
#include "aos/log.h"
#include "aos/storage_client.h"
#include "backend.h"
#include "dispatch.h"
#include "dispatch_turns.h"
#include "service.h"
#include "temp_db.h"

#define QUEUE "aos.test.storagebench"
#define WINDOW 16
#define CONVERSATIONS 16

static sem_t g_window;
static atomic_ullong g_ok, g_fail;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static aos_bus_t *bus_new(const char *url, const char *tag)
{
    char inst[96];
    snprintf(inst, sizeof inst, "bench-%s-%d", tag, (int)getpid());
    aos_bus_config_t cfg = {.url = url, .profile = AOS_BUS_PROFILE_RABBITMQ, .instance_id = inst};
    aos_bus_t *bus = NULL;
    char err[256];
    if (aos_bus_new(&cfg, &bus, err, sizeof err) != AOS_OK || aos_bus_start(bus) != AOS_OK ||
        aos_bus_wait_connected(bus, 30000) != AOS_OK) {
        fprintf(stderr, "bench: bus %s: cannot connect to %s\n", tag, url);
        aos_bus_free(bus);
        return NULL;
    }
    return bus;
}

/* ---- raw echo ---- */

static aos_bus_t *g_echo_bus;

static void on_echo(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ctx;
    aos_event_t *reply = NULL;
    if (aos_event_create("aos.test.echo.result", "/bench/echo", ev->data, &reply) == AOS_OK)
        aos_bus_reply(g_echo_bus, ev, reply, NULL, NULL);
    aos_event_free(reply);
    aos_bus_accept(d);
}

static void on_raw_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    (void)ctx;
    (void)reply;
    atomic_fetch_add(r == AOS_OK ? &g_ok : &g_fail, 1);
    sem_post(&g_window);
}

static void on_storage_reply(void *ctx, aos_result r, const char *data, const char *errmsg)
{
    (void)ctx;
    (void)data;
    if (r != AOS_OK && atomic_load(&g_fail) < 3)
        fprintf(stderr, "bench: %s\n", errmsg ? errmsg : aos_result_str(r));
    atomic_fetch_add(r == AOS_OK ? &g_ok : &g_fail, 1);
    sem_post(&g_window);
}

/* Issue requests for `seconds` keeping WINDOW outstanding; returns completed per second. */
typedef aos_result (*issue_fn)(void *ctx, unsigned long long n);

static double run_phase(issue_fn issue, void *ctx, double seconds)
{
    sem_init(&g_window, 0, WINDOW);
    atomic_store(&g_ok, 0);
    atomic_store(&g_fail, 0);
    double t0 = now_s(), t1 = t0;
    unsigned long long n = 0;
    while ((t1 = now_s()) - t0 < seconds) {
        sem_wait(&g_window);
        if (issue(ctx, n++) != AOS_OK) {
            atomic_fetch_add(&g_fail, 1);
            sem_post(&g_window);
        }
    }
    for (int i = 0; i < WINDOW; i++) /* drain */
        sem_wait(&g_window);
    double elapsed = now_s() - t0;
    sem_destroy(&g_window);
    if (atomic_load(&g_fail))
        fprintf(stderr, "bench: %llu requests failed\n", (unsigned long long)atomic_load(&g_fail));
    return (double)atomic_load(&g_ok) / elapsed;
}

typedef struct raw_ctx {
    aos_bus_t *bus;
    aos_event_t *req;
} raw_ctx_t;

static aos_result issue_raw(void *ctx, unsigned long long n)
{
    (void)n;
    raw_ctx_t *rc = ctx;
    char id[37];
    aos_uuid4(id);
    aos_event_set(&rc->req->id, id);
    return aos_bus_request(rc->bus, QUEUE, rc->req, 30000, on_raw_reply, NULL);
}

typedef struct st_ctx {
    aos_storage_client_t *client;
    const char *run;
} st_ctx_t;

static aos_result issue_append(void *ctx, unsigned long long n)
{
    st_ctx_t *sc = ctx;
    char req[512];
    snprintf(req, sizeof req,
             "{\"conversation_id\":\"%s-%llu\",\"message_id\":\"m-%llu\",\"role\":\"user\","
             "\"content\":\"benchmark message %llu with a typical short user question?\"}",
             sc->run, n % CONVERSATIONS, n, n);
    return aos_storage_call(sc->client, "message.append", req, on_storage_reply, NULL);
}

static aos_result issue_read(void *ctx, unsigned long long n)
{
    st_ctx_t *sc = ctx;
    char req[256];
    snprintf(req, sizeof req, "{\"conversation_id\":\"%s-%llu\",\"limit\":20,\"order\":\"desc\"}",
             sc->run, n % CONVERSATIONS);
    return aos_storage_call(sc->client, "message.list", req, on_storage_reply, NULL);
}

static int bench_backend(const char *url, aos_bus_t *client_bus, storage_backend_config_t *bc,
                         const char *label, double seconds, double raw)
{
    aos_bus_t *svc_bus = bus_new(url, label);
    if (!svc_bus)
        return 1;
    storage_service_config_t cfg = {.bus = svc_bus, .queue = QUEUE, .workers = 4, .backend = *bc};
    storage_service_t *svc = NULL;
    char err[512];
    if (storage_service_new(&cfg, &svc, err, sizeof err) != AOS_OK ||
        storage_service_start(svc, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "bench: %s service: %s\n", label, err);
        return 1;
    }
    for (int i = 0; i < 300 && !storage_service_ready(svc, NULL, 0); i++)
        usleep(100000);
    aos_storage_client_config_t cc = {.bus = client_bus, .queue = QUEUE};
    aos_storage_client_t *client = NULL;
    aos_storage_client_new(&cc, &client, err, sizeof err);
    st_ctx_t sc = {.client = client};
    char run[32];
    snprintf(run, sizeof run, "b%d", (int)getpid());
    sc.run = run;
    for (int i = 0; i < CONVERSATIONS; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d", run, i);
        aos_storage_conversation_t c = {0};
        if (aos_storage_conversation_create_sync(client, id, "bench", NULL, &c, NULL, err,
                                                 sizeof err) != AOS_OK) {
            fprintf(stderr, "bench: %s: cannot create conversations: %s\n", label, err);
            return 1;
        }
        aos_storage_conversation_clear(&c);
    }
    double appends = run_phase(issue_append, &sc, seconds);
    double reads = run_phase(issue_read, &sc, seconds);
    printf("%-7s message.append  %8.0f /s   %5.1f%% of raw\n", label, appends,
           raw > 0 ? 100.0 * appends / raw : 0);
    printf("%-7s message.list    %8.0f /s   %5.1f%% of raw\n", label, reads,
           raw > 0 ? 100.0 * reads / raw : 0);
    fflush(stdout);
    aos_storage_client_free(client);
    storage_service_stop(svc, 5000);
    aos_bus_stop(svc_bus, 5000);
    storage_service_free(svc);
    aos_bus_free(svc_bus);
    return 0;
}

/* ---- the turn path without the bus ---- */

/* This thread's user and system CPU time in us. */
static void thread_cpu_us(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    *user = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec;
    *sys = (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

typedef struct op_stat {
    const char *name;
    unsigned long long n;
    double cpu_us, user_us; /* user+system, user alone (system: mostly the commit's I/O) */
} op_stat_t;

/* One turn operation; *out_reply is the reply object (caller puts) or NULL on failure. */
static void turn_op(storage_backend_t *be, op_stat_t *st, const char *type, json_object *rq,
                    json_object **out_reply)
{
    const char *data = json_object_to_json_string_ext(rq, JSON_C_TO_STRING_PLAIN);
    storage_outcome_t out = {0};
    double u0, s0, u1, s1;
    thread_cpu_us(&u0, &s0);
    storage_turn_dispatch(be, type, data, strlen(data), &out);
    thread_cpu_us(&u1, &s1);
    st->cpu_us += (u1 - u0) + (s1 - s0);
    st->user_us += u1 - u0;
    st->n++;
    *out_reply = NULL;
    if (out.result == AOS_OK && out.data_json)
        *out_reply = json_tokener_parse(out.data_json);
    else if (out.result != AOS_OK)
        fprintf(stderr, "bench: %s: %s\n", type, out.message);
    storage_outcome_clear(&out);
}

static json_object *message_obj(const char *id, const char *role, const char *text)
{
    json_object *m = json_object_new_object();
    aos_json_add_string(m, "message_id", id);
    aos_json_add_string(m, "role", role);
    aos_json_add_string(m, "content", text);
    return m;
}

static int bench_turns(double seconds)
{
    char db[256], err[256];
    snprintf(db, sizeof db, "%s/aos-bench-turns-%d.db",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    storage_backend_config_t bc = {.kind = AOS_STORAGE_BACKEND_SQLITE, .sqlite_path = db};
    storage_backend_t *be = NULL;
    if (storage_backend_open(&bc, &be, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "bench: turns: %s\n", err);
        return 1;
    }
    op_stat_t acc = {.name = "turn.accept"}, clm = {.name = "turn.claim"},
              cmp = {.name = "turn.complete"};
    unsigned long long turns = 0, failed = 0;
    double t0 = now_s();
    while (now_s() - t0 < seconds) {
        char conv[64], turn[64], reply_id[80];
        snprintf(conv, sizeof conv, "bt%d-%llu", (int)getpid(), turns % CONVERSATIONS);
        snprintf(turn, sizeof turn, "m-%llu", turns);
        snprintf(reply_id, sizeof reply_id, "m-%llu:r", turns);
        const char *text = "benchmark turn with a typical short user question?";
        json_object *rq = json_object_new_object(), *reply = NULL, *v;
        aos_json_add_string(rq, "conversation_id", conv);
        aos_json_add_string(rq, "agent", "bench");
        aos_json_add_string(rq, "turn_id", turn);
        aos_json_add_string(rq, "holder", "bench-router");
        aos_json_add_int(rq, "history", 28);
        aos_json_add(rq, "message", message_obj(turn, "user", text));
        turn_op(be, &acc, "aos.storage.turn.accept", rq, &reply);
        int64_t seq = 0, token = 0;
        json_object *run = NULL;
        if (reply && json_object_object_get_ex(reply, "run", &run) &&
            json_object_object_get_ex(run, "token", &v)) {
            token = json_object_get_int64(v);
            json_object_object_get_ex(reply, "seq", &v);
            seq = json_object_get_int64(v);
        } else { /* no lease with the accept (an older storage): claim */
            json_object_object_del(rq, "idempotency_key");
            aos_json_add_string(rq, "holder", "bench-runner");
            json_object_put(reply);
            turn_op(be, &clm, "aos.storage.turn.claim", rq, &reply);
            if (reply && json_object_object_get_ex(reply, "token", &v)) {
                token = json_object_get_int64(v);
                json_object_object_get_ex(reply, "seq", &v);
                seq = json_object_get_int64(v);
            }
        }
        json_object_put(reply);
        json_object_put(rq);
        if (!token) {
            failed++;
            turns++;
            continue;
        }
        rq = json_object_new_object();
        aos_json_add_string(rq, "conversation_id", conv);
        aos_json_add_string(rq, "turn_id", turn);
        aos_json_add_string(rq, "outcome", "answered");
        aos_json_add_int(rq, "token", token);
        aos_json_add_int(rq, "seq", seq);
        aos_json_add(rq, "message",
                     message_obj(reply_id, "assistant", "a typical short answer of the model."));
        turn_op(be, &cmp, "aos.storage.turn.complete", rq, &reply);
        failed += reply ? 0 : 1;
        json_object_put(reply);
        json_object_put(rq);
        turns++;
    }
    double elapsed = now_s() - t0;
    op_stat_t *ops[] = {&acc, &clm, &cmp};
    double total = 0, user = 0;
    unsigned long long trips = 0;
    for (int i = 0; i < 3; i++) {
        total += ops[i]->cpu_us;
        user += ops[i]->user_us;
        trips += ops[i]->n;
        double n = ops[i]->n ? (double)ops[i]->n : 1;
        printf("turns   %-14s %8llu ops  %7.1f us CPU/op (user %6.1f)\n", ops[i]->name, ops[i]->n,
               ops[i]->cpu_us / n, ops[i]->user_us / n);
    }
    double nt = turns ? (double)turns : 1;
    printf("turns   per turn       %8.1f us CPU (user %.1f), %.2f storage round trips, %.0f "
           "turns/s (one thread, synchronous=FULL)%s\n",
           total / nt, user / nt, (double)trips / nt, (double)turns / elapsed,
           failed ? "  SOME FAILED" : "");
    fflush(stdout);
    storage_backend_free(be);
    temp_db_remove(db);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s AMQP_URL SECONDS [AZURE_CONNECTION_STRING]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    double seconds = atof(argv[2]);
    aos_log_init("bench-storage", AOS_LOG_WARN);
    if (getenv("AOS_BENCH_TURNS_ONLY")) /* the turn path alone, no broker needed */
        return bench_turns(seconds);
    aos_bus_t *client_bus = bus_new(url, "client");
    g_echo_bus = bus_new(url, "echo");
    if (!client_bus || !g_echo_bus)
        return 1;
    aos_bus_subscribe(g_echo_bus, QUEUE, 64, on_echo, NULL);
    raw_ctx_t rc = {.bus = client_bus};
    aos_event_create("aos.test.echo", "/bench", "{\"conversation_id\":\"c-1\",\"limit\":20}",
                     &rc.req);
    double raw = run_phase(issue_raw, &rc, seconds);
    aos_event_free(rc.req);
    aos_bus_stop(g_echo_bus, 2000); /* the storage phases own the queue from here on */
    aos_bus_free(g_echo_bus);
    printf("raw     request/reply   %8.0f /s   (window %d, one broker, 3 connections)\n", raw,
           WINDOW);
    fflush(stdout);

    char db[256];
    snprintf(db, sizeof db, "%s/aos-bench-%d.db", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    storage_backend_config_t sq = {.kind = AOS_STORAGE_BACKEND_SQLITE, .sqlite_path = db};
    int rc_ = bench_backend(url, client_bus, &sq, "sqlite", seconds, raw);
    temp_db_remove(db);
    if (argc > 3 && argv[3][0]) {
        char prefix[17];
        snprintf(prefix, sizeof prefix, "b%d", (int)getpid() % 1000000);
        storage_backend_config_t az = {.kind = AOS_STORAGE_BACKEND_AZURE,
                                       .azure_connection_string = argv[3],
                                       .name_prefix = prefix};
        rc_ |= bench_backend(url, client_bus, &az, "azure", seconds, raw);
    } else {
        printf("azure   (skipped: no Azurite / connection string)\n");
    }
    aos_bus_free(client_bus);
    rc_ |= bench_turns(seconds);
    return rc_;
}
