/* aosctl against the real stack (aos-storage, aos-agent-runner, aos-router on the RabbitMQ
 * fixture): send / history / agents / --json / errors over the router's HTTP API, blob
 * put / get / ls through aos-storage, and dlq list / replay of a real dead letter. The CLI
 * runs in-process (aosctl_main) with its output captured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/bus.h"
#include "aosctl.h"
#include "e2e_support.h"

#define DLQ_TEST_QUEUE "aos.test.aosctl"

static e2e_stack_t S;
static char out_text[65536], err_text[8192];

/* Run aosctl with the given arguments (NULL-terminated); returns its exit code. */
static int ctl(const char *first, ...)
{
    char *argv[32] = {"aosctl"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    FILE *out = fmemopen(out_text, sizeof out_text, "w");
    FILE *err = fmemopen(err_text, sizeof err_text, "w");
    setvbuf(out, NULL, _IONBF, 0);
    setvbuf(err, NULL, _IONBF, 0);
    int rc = aosctl_main(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("AOS_SOURCE_DIR");
    char config[280];
    if (snprintf(config, sizeof config, "%s/deploy/config/aos.json", src ? src : ".") >=
        (int)sizeof config)
        return -1;
    if (e2e_stack_start(&S, NULL, config, NULL, NULL) != 0) {
        e2e_dump_log(&S.router, 30);
        e2e_dump_log(&S.runner, 30);
        return -1;
    }
    setenv("AOS_ROUTER_URL", S.api, 1);
    setenv("AOS_BUS_URL", S.bus_url, 1);
    setenv("AOS_BUS_PROFILE", "rabbitmq", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    e2e_stack_stop(&S);
    return 0;
}

static void send_history_agents(void **state)
{
    (void)state;
    assert_int_equal(ctl("send", "What", "is", "the", "budget", "for", "Q3?", NULL), 0);
    assert_non_null(strstr(out_text, "[cfo] "));
    assert_non_null(strstr(out_text, "routed by keyword:budget"));
    const char *c = strstr(out_text, "conversation ");
    assert_non_null(c);
    char conv[128];
    assert_int_equal(sscanf(c, "conversation %127[^, \n]", conv), 1);

    assert_int_equal(ctl("send", "--conversation", conv, "and for Q4?", NULL), 0);
    assert_non_null(strstr(out_text, "[cfo] "));
    assert_non_null(strstr(out_text, "routed by sticky"));

    assert_int_equal(ctl("history", conv, NULL), 0);
    assert_non_null(strstr(out_text, "user: What is the budget for Q3?"));
    assert_non_null(strstr(out_text, "user: and for Q4?"));
    const char *first = strstr(out_text, "assistant");
    assert_non_null(first);
    assert_non_null(strstr(first + 1, "assistant"));

    assert_int_equal(ctl("agents", NULL), 0);
    assert_non_null(strstr(out_text, "cfo"));
    assert_non_null(strstr(out_text, "healthy"));
}

static void json_output_and_errors(void **state)
{
    (void)state;
    assert_int_equal(ctl("--json", "send", "--agent", "ceo", "our vision?", NULL), 0);
    json_object *o = json_tokener_parse(out_text);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "agent", &v));
    assert_string_equal(json_object_get_string(v), "ceo");
    assert_true(json_object_object_get_ex(o, "reply", &v));
    json_object_put(o);

    assert_int_equal(ctl("send", "--agent", "nobody", "hello", NULL), 1);
    assert_non_null(strstr(err_text, "unknown agent"));
    assert_int_equal(ctl("history", "../etc", NULL), 2);
    assert_int_equal(ctl("frobnicate", NULL), 2);
    assert_int_equal(ctl("send", NULL), 2);
}

static void blob_round_trip(void **state)
{
    (void)state;
    char path[300], back[320];
    snprintf(path, sizeof path, "%s/doc.md", S.dir);
    snprintf(back, sizeof back, "%s/back.md", S.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 20000; i++) /* ~400 KB: several chunks */
        fprintf(f, "line %05d of the knowledge\n", i);
    fclose(f);
    assert_int_equal(ctl("blob", "put", "knowledge", "tests/doc.md", path, NULL), 0);
    assert_non_null(strstr(out_text, "stored knowledge/tests/doc.md"));
    assert_int_equal(ctl("blob", "ls", "knowledge", "tests/", NULL), 0);
    assert_non_null(strstr(out_text, "text/markdown"));
    assert_non_null(strstr(out_text, "tests/doc.md"));
    assert_int_equal(ctl("blob", "get", "knowledge", "tests/doc.md", back, NULL), 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", path, back);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ctl("blob", "get", "knowledge", "tests/missing.md", back, NULL), 1);
    assert_non_null(strstr(err_text, "not found"));
    assert_int_equal(ctl("blob", "put", "Bad_Container", "x", path, NULL), 1);
}

/* ---- dead letters ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char id[64];
    bool got;
} seen_t;

static void reject_it(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    seen_t *s = ctx;
    aos_bus_reject(d, "aos:test-poison", "rejected by the aosctl test");
    pthread_mutex_lock(&s->mu);
    if (strcmp(ev->id, s->id) == 0)
        s->got = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Wait up to timeout_s for s->got. */
static bool wait_seen(seen_t *s, int timeout_s)
{
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < timeout_s && !s->got; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    bool got = s->got;
    pthread_mutex_unlock(&s->mu);
    return got;
}

static void take_it(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    seen_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (strcmp(ev->id, s->id) == 0)
        s->got = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    aos_bus_accept(d);
}

static aos_bus_t *open_test_bus(void)
{
    aos_bus_config_t cfg = {.url = S.bus_url, .profile = AOS_BUS_PROFILE_RABBITMQ};
    aos_bus_t *bus = NULL;
    char err[256];
    assert_int_equal(aos_bus_new(&cfg, &bus, err, sizeof err), AOS_OK);
    assert_int_equal(aos_bus_start(bus), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(bus, 20000), AOS_OK);
    return bus;
}

static void dlq_list_and_replay(void **state)
{
    (void)state;
    /* a poison message: sent, rejected by a consumer, lands on the dead-letter queue */
    aos_bus_t *bus = open_test_bus();
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.test.poison", "/tests/aosctl", "{\"n\":1}", &ev),
                     AOS_OK);
    char err[256];
    seen_t rejected = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, "", false};
    snprintf(rejected.id, sizeof rejected.id, "%s", ev->id);
    assert_int_equal(aos_bus_subscribe(bus, DLQ_TEST_QUEUE, 1, reject_it, &rejected), AOS_OK);
    assert_int_equal(aos_bus_send_sync(bus, DLQ_TEST_QUEUE, ev, 10000, err, sizeof err), AOS_OK);
    bool was_rejected = wait_seen(&rejected, 60); /* the consumer must see it before it goes */
    aos_bus_free(bus); /* stop() lets the dead-letter copy be confirmed first */
    assert_true(was_rejected);

    bool listed = false;
    for (int i = 0; i < 50 && !listed; i++) {
        assert_int_equal(ctl("dlq", "list", DLQ_TEST_QUEUE, NULL), 0);
        listed = strstr(out_text, ev->id) != NULL;
        if (!listed)
            stack_sleep_ms(200);
    }
    assert_true(listed);
    assert_non_null(strstr(out_text, "reason=aos:test-poison"));

    /* listing left it there; replay moves it back to the queue */
    assert_int_equal(ctl("dlq", "replay", DLQ_TEST_QUEUE, NULL), 0);
    assert_non_null(strstr(out_text, ev->id));
    assert_non_null(strstr(out_text, "dead letters replayed"));
    seen_t s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, "", false};
    snprintf(s.id, sizeof s.id, "%s", ev->id);
    bus = open_test_bus();
    assert_int_equal(aos_bus_subscribe(bus, DLQ_TEST_QUEUE, 8, take_it, &s), AOS_OK);
    bool got = wait_seen(&s, 100);
    aos_bus_free(bus);
    assert_true(got);
    assert_int_equal(ctl("dlq", "list", DLQ_TEST_QUEUE, NULL), 0);
    assert_null(strstr(out_text, ev->id));
    aos_event_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(send_history_agents),
        cmocka_unit_test(json_output_and_errors),
        cmocka_unit_test(blob_round_trip),
        cmocka_unit_test(dlq_list_and_replay),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
