/* Storage round trips per turn (issue 12 item 1, docs/turn-order.md "Two round trips"): the
 * real aos-router, aos-agent-runner and aos-storage on the RabbitMQ fixture with the model
 * fake; every turn's storage requests are counted from aos-storage's own
 * aos_storage_requests_total on its /metrics (nothing else talks to that storage meanwhile).
 * A sync turn on a new conversation, a sync and an async turn on a known one, and an event
 * turn each cost at most two round trips (before: 3, 4, 4 and 3). The stored conversation is
 * checked too: user and assistant messages in order, each turn answered once by the model.
 * A turn that waited in the queue past half of the accept's lease is taken over by its token
 * (one claim) instead of waiting for the lease to run out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/json.h"
#include "fake_model.h"
#include "stack_services.h"

#define AGENT "ftfault" /* its queue is in the fixture's definitions; test_faults' lock */

static struct {
    char url[256];
    char dir[128];
    char config[256];
    char tag[32];
    fake_model_t fake;
    proc_t storage, runner, router;
    int http_port;
} S;

static const stack_where_t W = {S.url, S.dir, S.tag, "aos.storage"};

static int start_runner(void)
{
    char *renv[] = {stack_env("AOS_CONFIG=%s", S.config), stack_env("AOS_AGENTS=%s", AGENT), NULL};
    return stack_start_service(&S.runner, &W, "aos-agent-runner", "runner", "hopsrunner", renv);
}

static int setup(void **state)
{
    (void)state;
    if (stack_prepare(S.url, sizeof S.url, S.dir, sizeof S.dir, "/tmp/aos-hops-XXXXXX", S.tag,
                      sizeof S.tag) != 0 ||
        fake_model_start(&S.fake, NULL) != 0)
        return -1;
    if (stack_write_config(
            S.config, sizeof S.config, S.dir,
            "{\"default_agent\":\"" AGENT "\",\"settings\":{\"storage_timeout_ms\":5000,"
            "\"heartbeat_interval_ms\":60000},\"agents\":["
            "{\"name\":\"" AGENT "\",\"purpose\":\"You are a test agent.\",\"max_history\":20,"
            " \"event_subscriptions\":[\"com.example.hops.*\"],"
            " \"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\",\"timeout_ms\":30000}}]}",
            S.fake.base) != 0)
        return -1;
    if (stack_start_storage(&S.storage, &W, "hopsstorage", NULL) != 0 || start_runner() != 0)
        return -1;
    S.http_port = stack_free_port();
    char *oenv[] = {stack_env("AOS_CONFIG=%s", S.config),
                    stack_env("AOS_HTTP_ADDR=127.0.0.1:%d", S.http_port), NULL};
    return stack_start_service(&S.router, &W, "aos-router", "router", "hopsrouter", oenv);
}

static int teardown(void **state)
{
    (void)state;
    stack_stop(&S.router, SIGTERM);
    stack_stop(&S.runner, SIGTERM);
    stack_stop(&S.storage, SIGTERM);
    fake_model_stop(&S.fake);
    return 0;
}

/* ---- HTTP ---- */

/* method GET when payload is NULL; returns the status, *out the body (caller frees). */
static long http(int port, const char *path, const char *payload, const char *content_type,
                 bool async, char **out)
{
    char url[256], ct[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
    const char *h[] = {ct, async ? "Prefer: respond-async" : NULL, NULL};
    return stack_http(NULL, url, h, payload, 30000L, out);
}

/* ---- aos-storage's request counters ---- */

typedef struct counts {
    long total, accept, claim, complete, renew, other;
} counts_t;

static counts_t storage_counts(void)
{
    counts_t c = {0};
    char *text = NULL;
    assert_int_equal(http(S.storage.admin_port, "/metrics", NULL, NULL, false, &text), 200);
    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (strncmp(line, "aos_storage_requests_total{", 27) == 0) {
            char *v = strrchr(line, ' ');
            long n = v ? strtol(v + 1, NULL, 10) : 0;
            c.total += n;
            if (strstr(line, "op=\"turn.accept\""))
                c.accept += n;
            else if (strstr(line, "op=\"turn.claim\""))
                c.claim += n;
            else if (strstr(line, "op=\"turn.complete\""))
                c.complete += n;
            else if (strstr(line, "op=\"turn.renew\""))
                c.renew += n;
            else
                c.other += n;
        }
        line = end ? end + 1 : NULL;
    }
    free(text);
    return c;
}

/* After a turn was sent: wait until storage completed it, then a little more for anything
 * else the turn still does (replies, events), and return what it cost. */
static long hops_since(const counts_t *before, const char *what)
{
    counts_t now = storage_counts();
    /* a storage that does not name turn operations in its metrics (before issue 12): time */
    for (int i = 0; i < 60 && now.complete <= before->complete; i++) {
        stack_sleep_ms(50);
        now = storage_counts();
    }
    stack_sleep_ms(300);
    now = storage_counts();
    long hops = now.total - before->total;
    printf("%s: %ld storage round trips (accept %ld, claim %ld, complete %ld, renew %ld, other "
           "%ld)\n",
           what, hops, now.accept - before->accept, now.claim - before->claim,
           now.complete - before->complete, now.renew - before->renew, now.other - before->other);
    return hops;
}

static const char *jget(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static void post_turn(const char *conv, const char *text, bool async, char *out_conv,
                      size_t out_len)
{
    char payload[512], *body = NULL;
    if (conv)
        snprintf(payload, sizeof payload, "{\"conversation_id\":\"%s\",\"text\":\"%s\"}", conv,
                 text);
    else
        snprintf(payload, sizeof payload, "{\"text\":\"%s\"}", text);
    long st = http(S.http_port, "/v1/messages", payload, NULL, async, &body);
    if (st != (async ? 202 : 200))
        fprintf(stderr, "POST /v1/messages -> %ld %s\n", st, body ? body : "");
    assert_int_equal(st, async ? 202 : 200);
    json_object *o = json_tokener_parse(body);
    assert_non_null(jget(o, "conversation_id"));
    snprintf(out_conv, out_len, "%s", jget(o, "conversation_id"));
    if (!async)
        assert_non_null(jget(o, "reply"));
    json_object_put(o);
    free(body);
}

static void test_turns_cost_two_storage_round_trips(void **state)
{
    (void)state;
    char conv[160];
    int calls0 = fake_model_calls(&S.fake);

    counts_t c = storage_counts();
    post_turn(NULL, "hops one", false, conv, sizeof conv);
    long sync_new = hops_since(&c, "sync turn, new conversation");

    c = storage_counts();
    post_turn(conv, "hops two", false, conv, sizeof conv);
    long sync_known = hops_since(&c, "sync turn, known conversation");

    c = storage_counts();
    post_turn(conv, "hops three", true, conv, sizeof conv);
    long async_known = hops_since(&c, "async turn, known conversation");

    c = storage_counts();
    char ev[400], *body = NULL;
    snprintf(ev, sizeof ev,
             "{\"specversion\":\"1.0\",\"type\":\"com.example.hops.ping\",\"source\":\"/test/"
             "hops\",\"id\":\"hops-%s\",\"data\":{\"n\":1}}",
             S.tag);
    assert_int_equal(
        http(S.http_port, "/v1/events", ev, "application/cloudevents+json", false, &body), 200);
    free(body);
    long event = hops_since(&c, "event turn");

    /* every turn paid the model once, and the conversation reads in order */
    assert_int_equal(fake_model_calls(&S.fake) - calls0, 4);
    char path[256];
    snprintf(path, sizeof path, "/v1/conversations/%s", conv);
    assert_int_equal(http(S.http_port, path, NULL, NULL, false, &body), 200);
    json_object *o = json_tokener_parse(body), *msgs = NULL;
    free(body);
    assert_true(json_object_object_get_ex(o, "messages", &msgs));
    assert_int_equal(json_object_array_length(msgs), 6);
    static const char *const want[] = {"hops one", NULL, "hops two", NULL, "hops three", NULL};
    for (size_t i = 0; i < 6; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        assert_string_equal(jget(m, "role"), want[i] ? "user" : "assistant");
        if (want[i])
            assert_string_equal(jget(m, "content"), want[i]);
    }
    json_object_put(o);

    assert_true(sync_new <= 2);
    assert_true(sync_known <= 2);
    assert_true(async_known <= 2);
    assert_true(event <= 2);
}

/* A turn that waited in the queue past half of the accept's lease (no runner up): the
 * runner claims with the token that came with it and takes the lease over at once — it does
 * not wait for the lease to run out (15 s after acceptance) — and the model is paid once. */
static void test_stale_lease_is_taken_over(void **state)
{
    (void)state;
    stack_stop(&S.runner, SIGTERM);
    int calls0 = fake_model_calls(&S.fake);
    counts_t c = storage_counts();
    char conv[160];
    post_turn(NULL, "hops late", true, conv, sizeof conv);
    stack_sleep_ms(9000); /* more than half of the 15 s lease */
    assert_int_equal(start_runner(), 0);
    counts_t now = storage_counts();
    for (int i = 0; i < 80 && now.complete <= c.complete; i++) { /* the lease ran out: >= 5 s */
        stack_sleep_ms(50);
        now = storage_counts();
    }
    printf("async turn, lease older than half: accept %ld, claim %ld, complete %ld\n",
           now.accept - c.accept, now.claim - c.claim, now.complete - c.complete);
    assert_int_equal(now.complete - c.complete, 1);
    assert_int_equal(now.claim - c.claim, 1); /* taken over, no waiting */
    assert_int_equal(fake_model_calls(&S.fake) - calls0, 1);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_turns_cost_two_storage_round_trips),
        cmocka_unit_test(test_stale_lease_is_taken_over),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
