/* The bus topology derived from the configuration (docs/deploy.md, "Topology"):
 *   - a copy of deploy/config/aos.json with a new agent (coo), provisioned on the fixture
 *     broker with `aosctl topology apply`, answers a turn for coo through the router;
 *   - an agent that is configured but was never provisioned (its queue does not exist) gets a
 *     clear 503 at once instead of a silent drop and the sync timeout;
 *   - aos_bus_probe_queue tells an existing queue from a missing one.
 * Real stack (aos-storage, aos-agent-runner, aos-router) against the rabbitmq fixture. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/bus.h"
#include "e2e_support.h"

static e2e_stack_t g_stack;
static char g_dir[256], g_full[400], g_provisioned[400], g_mgmt[512];

/* Write the sample config plus extra agents (JSON object texts) to path. */
static int write_config(const char *path, const char *const *agents)
{
    const char *src = getenv("AOS_SOURCE_DIR");
    char sample[512];
    snprintf(sample, sizeof sample, "%s/deploy/config/aos.json", src ? src : ".");
    json_object *root = json_object_from_file(sample), *list = NULL;
    if (!root || !json_object_object_get_ex(root, "agents", &list))
        return -1;
    for (size_t i = 0; agents[i]; i++)
        json_object_array_add(list, json_tokener_parse(agents[i]));
    int rc = json_object_to_file(path, root) == 0 ? 0 : -1;
    json_object_put(root);
    return rc;
}

static int run_aosctl(const char *args)
{
    const char *bin = getenv("AOS_BIN_DIR");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/aosctl' %s", bin ? bin : "build/bin", args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static const char COO[] = "{\"name\":\"coo\",\"purpose\":\"You are the COO: operations.\"}";
static const char GHOST[] = "{\"name\":\"ghost\",\"purpose\":\"Never provisioned.\","
                            "\"event_subscriptions\":[\"com.example.ghost.*\"]}";

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/aos-topo-XXXXXX");
    if (!mkdtemp(g_dir) ||
        aos_test_fixture_read("rabbitmq", "management_url", g_mgmt, sizeof g_mgmt) != 0)
        return -1;
    snprintf(g_full, sizeof g_full, "%s/aos.json", g_dir);
    snprintf(g_provisioned, sizeof g_provisioned, "%s/provisioned.json", g_dir);
    const char *full[] = {COO, GHOST, NULL}, *prov[] = {COO, NULL};
    if (write_config(g_full, full) != 0 || write_config(g_provisioned, prov) != 0)
        return -1;
    /* provision everything but ghost */
    char args[1200];
    snprintf(args, sizeof args, "topology apply --config '%s' --management-url '%s'", g_provisioned,
             g_mgmt);
    if (run_aosctl(args) != 0) {
        fprintf(stderr, "aosctl topology apply failed\n");
        return -1;
    }
    const char *dev[] = {"AOS_DEV_MODE=1", NULL};
    if (e2e_stack_start(&g_stack, NULL, g_full, dev, "X-None: 1") != 0) {
        fprintf(stderr, "the stack did not come up\n");
        e2e_dump_log(&g_stack.storage, 30);
        e2e_dump_log(&g_stack.runner, 30);
        e2e_dump_log(&g_stack.router, 30);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    e2e_stack_stop(&g_stack);
    unlink(g_full);
    unlink(g_provisioned);
    rmdir(g_dir);
    return 0;
}

static void post_turn(const char *agent, e2e_resp_t *r, long long *out_ms)
{
    char url[256], body[256];
    snprintf(url, sizeof url, "%s/v1/messages", g_stack.api);
    int n =
        snprintf(body, sizeof body, "{\"agent\":\"%s\",\"text\":\"How are operations?\"}", agent);
    const char *hdr[] = {"Content-Type: application/json", NULL};
    long long t0 = e2e_now_ms();
    assert_int_equal(e2e_http("POST", url, hdr, body, (size_t)n, 60000, r), 0);
    *out_ms = e2e_now_ms() - t0;
}

static void test_new_agent_answers(void **state)
{
    (void)state;
    e2e_resp_t r;
    long long ms;
    post_turn("coo", &r, &ms);
    if (r.status != 200) {
        fprintf(stderr, "status %ld: %s\n", r.status, r.body);
        e2e_dump_log(&g_stack.runner, 30);
        e2e_dump_log(&g_stack.router, 30);
    }
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"agent\":\"coo\""));
    e2e_resp_free(&r);
}

/* Does the file at path contain both needles on one line? */
static bool log_has(const char *path, const char *a, const char *b)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, a) && strstr(line, b);
    fclose(f);
    return found;
}

static void test_unprovisioned_agent_refused(void **state)
{
    (void)state;
    e2e_resp_t r;
    long long ms;
    post_turn("ghost", &r, &ms);
    fprintf(stderr, "ghost: %ld after %lld ms: %s\n", r.status, ms, r.body);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "aos.agent.ghost"));
    assert_non_null(strstr(r.body, "\"error\""));
    /* "quickly": well before the config's 30 s sync timeout, even under ASan on a busy box */
    assert_true(ms < 15000);
    e2e_resp_free(&r);
    /* the router said so at start-up already, naming the queue */
    assert_true(
        log_has(g_stack.router.log, "agent queue missing", "\"queue\":\"aos.agent.ghost\""));
    assert_false(log_has(g_stack.router.log, "agent queue missing", "\"queue\":\"aos.agent.coo\""));
    /* and again (no state carried over that would turn it into a timeout) */
    post_turn("ghost", &r, &ms);
    assert_int_equal(r.status, 503);
    e2e_resp_free(&r);
}

/* An environment event for the unprovisioned agent is not dropped either: the delivery fails
 * (503), so its sender retries it once the queue exists. */
static void test_unprovisioned_agent_event_refused(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof url, "%s/v1/events", g_stack.api);
    const char body[] = "{\"specversion\":\"1.0\",\"id\":\"ev-ghost-1\",\"source\":\"/test\","
                        "\"type\":\"com.example.ghost.ping\",\"data\":{\"text\":\"hello\"}}";
    const char *hdr[] = {"Content-Type: application/cloudevents+json", NULL};
    e2e_resp_t r;
    assert_int_equal(e2e_http("POST", url, hdr, body, sizeof body - 1, 60000, &r), 0);
    fprintf(stderr, "ghost event: %ld: %s\n", r.status, r.body);
    assert_int_equal(r.status, 503);
    e2e_resp_free(&r);
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    aos_result r;
} probe_wait_t;

static void on_probe(void *ctx, aos_result r, const char *detail)
{
    (void)detail;
    probe_wait_t *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->r = r;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static aos_result probe(aos_bus_t *bus, const char *queue)
{
    probe_wait_t w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    assert_int_equal(aos_bus_probe_queue(bus, queue, 20000, on_probe, &w), AOS_OK);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return w.r;
}

static void test_bus_probe(void **state)
{
    (void)state;
    aos_bus_config_t cfg = {.url = g_stack.bus_url, .profile = AOS_BUS_PROFILE_RABBITMQ};
    aos_bus_t *bus = NULL;
    assert_int_equal(aos_bus_new(&cfg, &bus, NULL, 0), AOS_OK);
    assert_int_equal(aos_bus_start(bus), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(bus, 30000), AOS_OK);
    assert_int_equal(probe(bus, "aos.agent.coo"), AOS_OK);
    assert_int_equal(probe(bus, "aos.agent.ghost"), AOS_ERR_NOT_FOUND);
    assert_int_equal(probe(bus, "aos.storage"), AOS_OK);
    /* the bus is still fine after a refusal */
    assert_int_equal(probe(bus, "aos.agent.coo.dlq"), AOS_OK);
    aos_bus_free(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_agent_answers),
        cmocka_unit_test(test_unprovisioned_agent_refused),
        cmocka_unit_test(test_unprovisioned_agent_event_refused),
        cmocka_unit_test(test_bus_probe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
