/* End-to-end faults under load, through the router's HTTP API with the real binaries:
 *   - the agent runner is killed with SIGKILL mid-load and a fresh one started: every HTTP
 *     request is answered exactly once, and every conversation holds exactly one user and one
 *     assistant message (nothing lost, nothing duplicated);
 *   - the broker restarts mid-load: every request is answered exactly once (200, or 503/504
 *     while the broker is away), no conversation holds a duplicate, every turn the router
 *     accepted (200/504) ends with its answer stored, and new turns work afterwards.
 * Fails when a binary is not built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "aos/json.h"
#include "e2e_support.h"

#define THREADS 8
#define PER_THREAD 20
#define TOTAL (THREADS * PER_THREAD)

static e2e_stack_t g_stack;
static char g_config[300];

typedef struct result {
    long status;
    char conversation_id[160];
} result_t;

static result_t g_results[TOTAL];
static atomic_int g_answered;

static void *load_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    char url[256];
    snprintf(url, sizeof url, "%s/v1/messages", g_stack.api);
    const char *hdr[] = {"Content-Type: application/json", NULL};
    for (int i = 0; i < PER_THREAD; i++) {
        int k = t * PER_THREAD + i;
        char body[200];
        snprintf(body, sizeof body, "{\"text\":\"What is our budget? request %d\"}", k);
        e2e_resp_t r;
        if (e2e_http("POST", url, hdr, body, strlen(body), 60000, &r) != 0)
            r.status = 0; /* no answer at all */
        g_results[k].status = r.status;
        json_object *o = NULL;
        const char *conv = NULL;
        if (aos_json_parse_object(r.body, r.len, 0, 0, &o, NULL, 0) == AOS_OK &&
            aos_json_get_string(o, "conversation_id", AOS_JSON_OPTIONAL, &conv, NULL, 0) ==
                AOS_OK &&
            conv)
            snprintf(g_results[k].conversation_id, sizeof g_results[k].conversation_id, "%s", conv);
        json_object_put(o);
        e2e_resp_free(&r);
        atomic_fetch_add(&g_answered, 1);
    }
    return NULL;
}

static void print_summary(const char *what)
{
    int n200 = 0, n503 = 0, n504 = 0, other = 0;
    for (int k = 0; k < TOTAL; k++) {
        long st = g_results[k].status;
        n200 += st == 200;
        n503 += st == 503;
        n504 += st == 504;
        other += st != 200 && st != 503 && st != 504;
    }
    fprintf(stderr, "%s: %d requests: %d x 200, %d x 503, %d x 504, %d other\n", what, TOTAL, n200,
            n503, n504, other);
}

static void run_load(void (*fault)(void), int fault_after)
{
    memset(g_results, 0, sizeof g_results);
    atomic_store(&g_answered, 0);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, load_thread, (void *)(intptr_t)t);
    while (atomic_load(&g_answered) < fault_after)
        stack_sleep_ms(5);
    fault();
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
}

/* Count user / assistant messages of a conversation; -1 when unreadable. */
static int count_messages(const char *conv, int *out_user, int *out_assistant)
{
    char url[400];
    snprintf(url, sizeof url, "%s/v1/conversations/%s?limit=200", g_stack.api, conv);
    e2e_resp_t r;
    *out_user = *out_assistant = 0;
    if (e2e_http("GET", url, NULL, NULL, 0, 10000, &r) != 0 || r.status != 200) {
        e2e_resp_free(&r);
        return -1;
    }
    json_object *o = NULL, *msgs = NULL;
    if (aos_json_parse_object(r.body, r.len, 0, 0, &o, NULL, 0) == AOS_OK &&
        aos_json_get_array(o, "messages", AOS_JSON_REQUIRED, &msgs, NULL, 0) == AOS_OK)
        for (size_t i = 0; i < json_object_array_length(msgs); i++) {
            const char *role = NULL;
            aos_json_get_string(json_object_array_get_idx(msgs, i), "role", AOS_JSON_OPTIONAL,
                                &role, NULL, 0);
            if (role && strcmp(role, "user") == 0)
                (*out_user)++;
            else if (role && strcmp(role, "assistant") == 0)
                (*out_assistant)++;
        }
    json_object_put(o);
    e2e_resp_free(&r);
    return 0;
}

/* Every conversation the router accepted ends with exactly one user and one assistant
 * message (waiting for turns still in the queue). */
static void verify_conversations(void)
{
    for (int k = 0; k < TOTAL; k++) {
        if (!g_results[k].conversation_id[0])
            continue;
        int user = 0, assistant = 0, rc = -1;
        for (long long end = e2e_now_ms() + 60000; e2e_now_ms() < end; stack_sleep_ms(200)) {
            rc = count_messages(g_results[k].conversation_id, &user, &assistant);
            if (rc == 0 && assistant >= 1)
                break;
        }
        if (rc != 0 || user != 1 || assistant != 1)
            fail_msg("conversation %s (HTTP %ld): %d user, %d assistant messages",
                     g_results[k].conversation_id, g_results[k].status, user, assistant);
    }
}

static void kill_runner(void)
{
    kill(g_stack.runner.pid, SIGKILL);
    waitpid(g_stack.runner.pid, NULL, 0);
    g_stack.runner.pid = 0;
    assert_int_equal(e2e_start_runner(&g_stack, NULL), 0);
}

static void test_runner_killed_under_load(void **state)
{
    (void)state;
    run_load(kill_runner, TOTAL / 5);
    print_summary("runner SIGKILL");
    int ok = 0;
    for (int k = 0; k < TOTAL; k++) {
        if (g_results[k].status == 200)
            ok++;
        else if (g_results[k].status != 504)
            fail_msg("request %d answered %ld", k, g_results[k].status);
    }
    assert_true(ok > TOTAL / 2);
    verify_conversations();
}

static void restart_broker(void)
{
    const char *dir = getenv("AOS_TEST_FIXTURES_DIR");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s/rabbitmq/ctl' restart >'%s/ctl.log' 2>&1",
             dir ? dir : "fixtures", g_stack.dir);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "tail -n 30 '%s/ctl.log' 1>&2", g_stack.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "(no ctl log)\n");
    }
    assert_int_equal(rc, 0);
}

static void test_broker_restart_under_load(void **state)
{
    (void)state;
    run_load(restart_broker, TOTAL / 5);
    print_summary("broker restart");
    for (int k = 0; k < TOTAL; k++) {
        long st = g_results[k].status;
        if (st != 200 && st != 503 && st != 504)
            fail_msg("request %d answered %ld", k, st);
    }
    verify_conversations();
    /* and the stack serves new turns again */
    char url[256];
    snprintf(url, sizeof url, "%s/v1/messages", g_stack.api);
    const char *hdr[] = {"Content-Type: application/json", NULL};
    long st = 0;
    for (long long end = e2e_now_ms() + 60000; e2e_now_ms() < end && st != 200;
         stack_sleep_ms(500)) {
        e2e_resp_t r;
        const char *b = "{\"text\":\"budget after the restart\"}";
        e2e_http("POST", url, hdr, b, strlen(b), 30000, &r);
        st = r.status;
        e2e_resp_free(&r);
    }
    assert_int_equal(st, 200);
}

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("AOS_SOURCE_DIR");
    char sample[512];
    snprintf(sample, sizeof sample, "%s/deploy/config/aos.json", src ? src : ".");
    snprintf(g_config, sizeof g_config, "/tmp/aos-e2e-faults-%d.json", (int)getpid());
    const char *keys[] = {"sync_timeout_ms", "heartbeat_interval_ms", "storage_timeout_ms", NULL};
    const int values[] = {30000, 1000, 5000};
    if (e2e_write_config(sample, g_config, keys, values) != 0)
        return -1;
    if (e2e_stack_start(&g_stack, NULL, g_config, NULL, NULL) != 0) {
        e2e_dump_log(&g_stack.storage, 20);
        e2e_dump_log(&g_stack.runner, 20);
        e2e_dump_log(&g_stack.router, 20);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    e2e_stack_stop(&g_stack);
    unlink(g_config);
    return 0;
}

int main(void)
{
    if (!e2e_have_stack(false))
        return E2E_MISSING;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runner_killed_under_load),
        cmocka_unit_test(test_broker_restart_under_load),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    if (rc != 0) {
        e2e_dump_log(&g_stack.router, 30);
        e2e_dump_log(&g_stack.runner, 30);
        e2e_dump_log(&g_stack.storage, 10);
    }
    curl_global_cleanup();
    return rc;
}
