/* End-to-end: one trace through everything (docs/design.md §5). A POST /v1/messages carrying
 * a W3C traceparent goes router -> bus -> runner -> storage -> model -> reply -> events with
 * the real binaries and the OpenAI-compatible fake as the agent's model; its trace id is then
 * found in every service's log lines ("trace_id"), on the model request's traceparent header,
 * and on the turn's events on aos.events. A request without one gets a new trace all the same.
 * Fails without the binaries or node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "aos/bus.h"
#include "aos/json.h"
#include "aos/trace.h"
#include "e2e_support.h"

#define TRACE_ID "4bf92f3577b34da6a3ce929d0e0e4736"
#define TRACEPARENT "00-" TRACE_ID "-00f067aa0ba902b7-01"

static e2e_stack_t g_stack;
static char g_config[300], g_fake_url[128];
static pid_t g_fake;
static aos_bus_t *g_bus;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_event_trace[8][40]; /* trace ids of aos.agent.reply events seen */
static int g_events;

/* The sample config with every agent's model at the fake. */
static int write_config(void)
{
    const char *src = getenv("AOS_SOURCE_DIR");
    char sample[512], url[256];
    snprintf(sample, sizeof sample, "%s/deploy/config/aos.json", src ? src : ".");
    snprintf(url, sizeof url, "%s/v1", g_fake_url);
    json_object *root = json_object_from_file(sample), *agents = NULL;
    if (!root || !json_object_object_get_ex(root, "agents", &agents))
        return -1;
    for (size_t i = 0; i < json_object_array_length(agents); i++) {
        json_object *a = json_object_array_get_idx(agents, i), *ep = json_object_new_object();
        json_object_object_add(ep, "provider", json_object_new_string("openai"));
        json_object_object_add(ep, "url", json_object_new_string(url));
        json_object_object_add(ep, "model", json_object_new_string("trace-model"));
        json_object_object_del(a, "endpoints");
        json_object_object_add(a, "endpoint", ep);
    }
    snprintf(g_config, sizeof g_config, "/tmp/aos-e2e-trace-%d.json", (int)getpid());
    int rc = json_object_to_file(g_config, root) == 0 ? 0 : -1;
    json_object_put(root);
    return rc;
}

static void on_event(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ctx;
    char id[33];
    if (ev->type && strcmp(ev->type, "aos.agent.reply") == 0 && ev->traceparent &&
        aos_trace_parse(ev->traceparent, strlen(ev->traceparent), id)) {
        pthread_mutex_lock(&g_mu);
        snprintf(g_event_trace[g_events % 8], sizeof g_event_trace[0], "%s", id);
        g_events++;
        pthread_mutex_unlock(&g_mu);
    }
    aos_bus_accept(d);
}

static bool event_with_trace(const char *trace_id)
{
    bool seen = false;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < 8 && i < g_events; i++)
        seen = seen || strcmp(g_event_trace[i], trace_id) == 0;
    pthread_mutex_unlock(&g_mu);
    return seen;
}

static long post(const char *traceparent)
{
    char url[256], tp[128];
    snprintf(url, sizeof url, "%s/v1/messages", g_stack.api);
    snprintf(tp, sizeof tp, "traceparent: %s", traceparent ? traceparent : "");
    const char *body = "{\"agent\":\"cfo\",\"text\":\"What is our cash position?\"}";
    const char *hdr[] = {"Content-Type: application/json", traceparent ? tp : NULL, NULL};
    e2e_resp_t r;
    e2e_http("POST", url, hdr, body, strlen(body), 30000, &r);
    long st = r.status;
    if (st != 200)
        fprintf(stderr, "POST /v1/messages: %ld %s\n", st, r.body ? r.body : "");
    e2e_resp_free(&r);
    return st;
}

/* Does a service's log hold a line with "trace_id":"<id>"? */
static bool log_has_trace(const e2e_proc_t *p, const char *trace_id)
{
    char needle[80], line[8192];
    snprintf(needle, sizeof needle, "\"trace_id\":\"%s\"", trace_id);
    FILE *f = fopen(p->log, "r");
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}

static void test_one_trace_through_everything(void **state)
{
    (void)state;
    assert_int_equal(post(TRACEPARENT), 200);
    /* the model call joined the trace (a child span of it) */
    e2e_resp_t r;
    e2e_fake_call(g_fake_url, "GET", "/_last", NULL, &r);
    json_object *last = NULL, *headers = NULL;
    const char *tp = NULL;
    assert_int_equal(aos_json_parse_object(r.body, r.len, 0, 0, &last, NULL, 0), AOS_OK);
    assert_true(json_object_object_get_ex(last, "headers", &headers));
    assert_int_equal(aos_json_get_string(headers, "traceparent", AOS_JSON_REQUIRED, &tp, NULL, 0),
                     AOS_OK);
    char id[33];
    assert_true(aos_trace_parse(tp, strlen(tp), id));
    assert_string_equal(id, TRACE_ID);
    assert_string_not_equal(tp, TRACEPARENT); /* a new span, same trace */
    json_object_put(last);
    e2e_resp_free(&r);
    /* the events */
    for (int i = 0; i < 100 && !event_with_trace(TRACE_ID); i++)
        stack_sleep_ms(100);
    assert_true(event_with_trace(TRACE_ID));
    /* every service's log lines about it */
    assert_true(log_has_trace(&g_stack.router, TRACE_ID));
    assert_true(log_has_trace(&g_stack.runner, TRACE_ID));
    assert_true(log_has_trace(&g_stack.storage, TRACE_ID));
}

static void test_new_trace_without_traceparent(void **state)
{
    (void)state;
    int before = g_events;
    assert_int_equal(post(NULL), 200);
    e2e_resp_t r;
    e2e_fake_call(g_fake_url, "GET", "/_last", NULL, &r);
    json_object *last = NULL, *headers = NULL;
    const char *tp = NULL;
    assert_int_equal(aos_json_parse_object(r.body, r.len, 0, 0, &last, NULL, 0), AOS_OK);
    assert_true(json_object_object_get_ex(last, "headers", &headers));
    assert_int_equal(aos_json_get_string(headers, "traceparent", AOS_JSON_REQUIRED, &tp, NULL, 0),
                     AOS_OK);
    char id[33];
    assert_true(aos_trace_parse(tp, strlen(tp), id));
    assert_string_not_equal(id, TRACE_ID);
    for (int i = 0; i < 100 && !event_with_trace(id); i++)
        stack_sleep_ms(100);
    assert_true(g_events > before);
    assert_true(event_with_trace(id));
    assert_true(log_has_trace(&g_stack.storage, id));
    json_object_put(last);
    e2e_resp_free(&r);
    /* an invalid traceparent is not continued: a new trace */
    assert_int_equal(post("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), 200);
}

static int setup(void **state)
{
    (void)state;
    setenv("AOS_E2E_LOG_LEVEL", "debug", 1);
    if (e2e_fake_start(&g_fake, g_fake_url, sizeof g_fake_url) != 0 || write_config() != 0)
        return -1;
    if (e2e_stack_start(&g_stack, NULL, g_config, NULL, NULL) != 0) {
        e2e_dump_log(&g_stack.router, 20);
        return -1;
    }
    char err[256], inst[64];
    snprintf(inst, sizeof inst, "e2e-trace-%d", (int)getpid());
    aos_bus_config_t bc = {
        .url = g_stack.bus_url, .profile = AOS_BUS_PROFILE_RABBITMQ, .instance_id = inst};
    if (aos_bus_new(&bc, &g_bus, err, sizeof err) != AOS_OK || aos_bus_start(g_bus) != AOS_OK ||
        aos_bus_wait_connected(g_bus, 20000) != AOS_OK)
        return -1;
    return aos_bus_subscribe_address(g_bus, "/exchange/aos.events/aos.agent.reply", 64, on_event,
                                     NULL) == AOS_OK
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (g_bus) {
        aos_bus_stop(g_bus, 2000);
        aos_bus_free(g_bus);
    }
    e2e_stack_stop(&g_stack);
    if (g_fake > 0) {
        kill(g_fake, SIGTERM);
        waitpid(g_fake, NULL, 0);
    }
    unlink(g_config);
    return 0;
}

int main(void)
{
    if (!e2e_have_stack(true))
        return E2E_MISSING;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_trace_through_everything),
        cmocka_unit_test(test_new_trace_without_traceparent),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
