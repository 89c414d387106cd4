/* The adapter loop end to end (issue 15): the real aos-storage, aos-ml-pipeline, aos-router
 * and aos-agent-runner on RabbitMQ, the test trainer and the fake model server.
 *
 *   v1 of cfo's adapter is trained and becomes stable; the runner serves it.
 *   v2 is trained with a 30 % canary: new conversations split about 30/70, each
 *     conversation stays on its version for both its turns, across a runner restart, and
 *     its version is the one the conversation id's bucket predicts.
 *   The fake model then fails v2's deployment: the pipeline rolls v2 back by itself
 *     (aos.ml.adapter.rolled_back, reason with the figures), the stable version never
 *     stopped answering (its breaker is not v2's), and conversations go to v1 again.
 *   Bad input through the router's HTTP routes: a 4xx JSON error and nothing changed.
 *   v3 is trained with a 30 % canary and is healthy: the pipeline promotes it by itself;
 *     feedback on a v3 answer is counted.
 *   The runner re-reads the registry only every 60 s here: it follows the aos.ml.adapter.*
 *   events. An unusable registry record: it keeps the last known version (and counts it).
 *   `aosctl ml adapters --agent cfo` shows the versions and the history; an operator rolls
 *   back, promotes, pins and unpins with aosctl (each an event and a history entry).
 * The split and decision figures are printed ("canary:" lines).
 *
 * It consumes the real aos.ml, aos.storage and aos.agent.cfo queues (the router's storage
 * queue is not configurable): RESOURCE_LOCK aos_agent_queues, like tests/e2e.
 * Skipped (77) without aos-router or aos-agent-runner. */
#define ML_QUEUE "aos.ml"
#define ML_STORAGE_QUEUE "aos.storage" /* the router's storage queue (not configurable) */
#include "ml_stack.h"

#include <pthread.h>

#include "adapter_pick.h"
#include "aosctl.h"

#define API_KEY "ml-canary-key-0123456789"
#define DATA "{\"prompt\":\"Q3 cash?\",\"completion\":\"Strong.\"}\n"

static proc_t router, runner;
static int http_port;
static char runner_bin[512];

/* aos.ml.adapter.* events: "type subject" */
static struct {
    pthread_mutex_t mu;
    char seen[200][96];
    size_t n;
} EV = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_event(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ctx;
    pthread_mutex_lock(&EV.mu);
    if (EV.n < 200)
        snprintf(EV.seen[EV.n++], sizeof EV.seen[0], "%s %s", ev->type,
                 ev->subject ? ev->subject : "");
    pthread_mutex_unlock(&EV.mu);
    aos_bus_accept(d);
}

static bool event_seen(const char *line)
{
    bool found = false;
    for (int i = 0; i < 50 && !found; i++) {
        pthread_mutex_lock(&EV.mu);
        for (size_t k = 0; k < EV.n && !found; k++)
            found = strcmp(EV.seen[k], line) == 0;
        pthread_mutex_unlock(&EV.mu);
        if (!found)
            stack_sleep_ms(100);
    }
    return found;
}

static int start_runner(void)
{
    char *env[] = {stack_env("AOS_CONFIG=%s", S.config), stack_env("AOS_AGENTS=cfo"),
                   stack_env("AOS_ML_QUEUE=%s", ML_QUEUE),
                   /* slower than the test: the runner must follow the events */
                   stack_env("AOS_RUNNER_ADAPTER_REFRESH=60s"), stack_env("AOS_SHUTDOWN_GRACE=5s"),
                   NULL};
    return stack_start_service(&runner, &ML_W, "aos-agent-runner", "runner", "mlrunner", env);
}

static int setup(void **state)
{
    (void)state;
    char bin[512];
    snprintf(bin, sizeof bin, "%s/aos-router", getenv("AOS_BIN_DIR"));
    snprintf(runner_bin, sizeof runner_bin, "%s/aos-agent-runner", getenv("AOS_BIN_DIR"));
    if (access(bin, X_OK) != 0 || access(runner_bin, X_OK) != 0) {
        fprintf(stderr, "aos-router or aos-agent-runner not built: skipping\n");
        exit(77);
    }
    if (ml_stack_setup() != 0)
        return -1;
    if (aos_bus_subscribe_address(S.bus, "/exchange/aos.events/aos.ml.adapter.#", 100, on_event,
                                  NULL) != AOS_OK)
        return -1;
    int rc = ml_start_router(&router, "mlcrouter", API_KEY, &http_port);
    ml_put_blob("canary.jsonl", DATA);
    return rc == 0 ? start_runner() : rc;
}

static int teardown(void **state)
{
    (void)state;
    stack_stop(&runner, SIGTERM);
    stack_stop(&router, SIGTERM);
    return ml_stack_teardown();
}

/* One HTTP call to the router; the parsed body (NULL when not JSON), *status. */
static json_object *http(const char *method, const char *path, const char *body, long *status)
{
    return ml_http(http_port, API_KEY, method, path, body, 60000L, status, NULL);
}

/* One user turn of conversation conv; returns the adapter version that answered (0: none,
 * -1: the turn failed), *reply_id (may be NULL) the reply message id. */
static int64_t turn(const char *conv, const char *text, char *reply_id, size_t rlen)
{
    char body[600];
    long st = 0;
    snprintf(body, sizeof body, "{\"text\":\"%s\",\"conversation_id\":\"%s\",\"agent\":\"cfo\"}",
             text, conv);
    json_object *o = http("POST", "/v1/messages", body, &st);
    int64_t v = -1;
    if (st == 200) {
        assert_string_equal(ml_str(o, "adapter"), "cfo-lora");
        v = ml_int(o, "adapter_version");
        if (reply_id)
            snprintf(reply_id, rlen, "%s", ml_str(o, "reply_message_id"));
        /* the model answered with the version's deployment */
        char want[64];
        snprintf(want, sizeof want, "cfo-lora-v%lld", (long long)v);
        assert_string_equal(ml_str(o, "model"), want);
    } else {
        assert_true(st >= 500); /* the model failed: an error, never a wrong answer */
    }
    json_object_put(o);
    return v;
}

static json_object *adapter(void)
{
    return ml_ok("get_adapter", "{\"agent\":\"cfo\"}");
}

static json_object *canary_of(json_object *a)
{
    json_object *c = NULL;
    json_object_object_get_ex(a, "canary", &c);
    return c;
}

static void train(int64_t expect_version, const char *canary)
{
    char req[600];
    snprintf(req, sizeof req,
             "{\"agent\":\"cfo\",\"base_model\":\"test:ok\",\"data\":{\"container\":\"mldata\","
             "\"name\":\"canary.jsonl\"}%s%s}",
             canary ? ",\"canary\":" : "", canary ? canary : "");
    json_object *j = ml_ok("train_adapter", req);
    json_object *done = ml_wait_job(ml_str(j, "job_id"));
    assert_string_equal(ml_str(done, "state"), "succeeded");
    json_object_put(done);
    json_object_put(j);
    json_object *a = adapter();
    assert_int_equal(ml_int(a, "version"), expect_version);
    json_object_put(a);
}

/* Conversation ids the runner sends to the canary (or not), as adapter_pick.h decides. */
static void conv_id(char *out, size_t len, const char *prefix, int i, int64_t canary, int want)
{
    for (int k = 0;; k++) {
        snprintf(out, len, "%s-%s-%d-%d", prefix, S.tag, i, k);
        bool is_canary = runner_adapter_bucket(out, canary) < 3000;
        if (want < 0 || is_canary == (want == 1))
            return;
    }
}

/* Wait until the runner serves the canary version v (fresh predicted-canary conversations). */
static void wait_runner_canary(int64_t v)
{
    for (int i = 0; i < 100; i++) {
        char conv[128];
        conv_id(conv, sizeof conv, "probe", (int)v * 1000 + i, v, 1);
        if (turn(conv, "probe", NULL, 0) == v)
            return;
        stack_sleep_ms(200);
    }
    fail_msg("the runner never served canary v%lld", (long long)v);
}

/* An aos.ml.adapter.ready event for cfo carrying record (as the pipeline publishes them). */
static void publish_adapter_event(const char *record)
{
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.ml.adapter.ready", "/test/ml", record, &ev), AOS_OK);
    aos_event_set(&ev->subject, "cfo");
    assert_int_equal(aos_bus_publish(S.bus, "aos.events", ev, NULL, NULL), AOS_OK);
    aos_event_free(ev);
}

/* The last history entry with this action and version. */
static json_object *history_entry(json_object *a, const char *action, int64_t v)
{
    json_object *h = NULL, *found = NULL;
    json_object_object_get_ex(a, "history", &h);
    for (size_t i = 0; h && i < json_object_array_length(h); i++) {
        json_object *e = json_object_array_get_idx(h, i);
        if (strcmp(ml_str(e, "action"), action) == 0 && ml_int(e, "version") == v)
            found = e;
    }
    return found;
}

static const char *version_status(json_object *a, int64_t v)
{
    json_object *arr = NULL;
    json_object_object_get_ex(a, "versions", &arr);
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
        if (ml_int(json_object_array_get_idx(arr, i), "version") == v)
            return ml_str(json_object_array_get_idx(arr, i), "status");
    return NULL;
}

static void expect_http_error(const char *method, const char *path, const char *body,
                              long want_status, const char *want_text)
{
    long st = 0;
    json_object *o = http(method, path, body, &st);
    assert_non_null(o);
    json_object *e = NULL;
    assert_true(json_object_object_get_ex(o, "error", &e));
    if (st != want_status || (want_text && !strstr(ml_str(e, "message"), want_text)))
        fail_msg("%s %s %s: %ld %s (wanted %ld '%s')", method, path, body ? body : "", st,
                 json_object_to_json_string(o), want_status, want_text ? want_text : "");
    json_object_put(o);
}

#define SPLIT_CONVS 100

static void test_adapter_loop(void **state)
{
    (void)state;
    /* ---- v1: the first version becomes stable and the runner serves it ---- */
    train(1, NULL);
    json_object *a = adapter();
    assert_int_equal(ml_int(a, "stable_version"), 1);
    assert_null(canary_of(a));
    json_object_put(a);
    assert_true(event_seen("aos.ml.adapter.promoted cfo"));
    int64_t v = -1;
    for (int i = 0; i < 50 && v != 1; i++) {
        char conv[64];
        snprintf(conv, sizeof conv, "warm-%s-%d", S.tag, i);
        v = turn(conv, "hello", NULL, 0);
        if (v != 1)
            stack_sleep_ms(200);
    }
    assert_int_equal(v, 1);

    /* ---- v2 under a 30 % canary: the split, stickiness, a runner restart ---- */
    train(2, "{\"share\":30,\"min_turns\":120}");
    a = adapter();
    assert_int_equal(ml_int(canary_of(a), "version"), 2);
    assert_int_equal(ml_int(canary_of(a), "share"), 30);
    assert_int_equal(ml_int(a, "stable_version"), 1);
    json_object_put(a);
    assert_true(event_seen("aos.ml.adapter.canary_started cfo"));
    wait_runner_canary(2);
    static int64_t first[SPLIT_CONVS];
    int on_canary = 0, mismatched_prediction = 0;
    for (int i = 0; i < SPLIT_CONVS; i++) {
        char conv[64];
        snprintf(conv, sizeof conv, "split-%d", i); /* fixed ids: a reproducible split */
        first[i] = turn(conv, "What is our cash position?", NULL, 0);
        assert_true(first[i] == 1 || first[i] == 2);
        on_canary += first[i] == 2;
        bool predicted = runner_adapter_bucket(conv, 2) < 3000;
        mismatched_prediction += predicted != (first[i] == 2);
    }
    /* a runner restart mid-canary: every conversation keeps its version */
    assert_int_equal(stack_stop(&runner, SIGTERM), 0);
    assert_int_equal(start_runner(), 0);
    int kept = 0;
    for (int i = 0; i < SPLIT_CONVS; i++) {
        char conv[64];
        snprintf(conv, sizeof conv, "split-%d", i); /* fixed ids: a reproducible split */
        int64_t second = turn(conv, "And next quarter?", NULL, 0);
        kept += second == first[i];
    }
    printf("canary: split of %d new conversations with a 30%% canary of v2: %d on v2 (%.0f%%), "
           "%d on v1; %d of %d kept their version on the second turn after a runner restart; "
           "%d differ from the bucket prediction\n",
           SPLIT_CONVS, on_canary, 100.0 * on_canary / SPLIT_CONVS, SPLIT_CONVS - on_canary, kept,
           SPLIT_CONVS, mismatched_prediction);
    assert_int_equal(kept, SPLIT_CONVS);
    assert_int_equal(mismatched_prediction, 0);
    assert_in_range(on_canary, 15, 45); /* 30 % of 100: beyond 3 standard deviations fails */
    a = adapter();
    assert_non_null(canary_of(a)); /* 120 canary turns not reached: no decision yet */
    json_object_put(a);

    /* ---- the fake model fails v2: the pipeline rolls it back by itself ---- */
    fake_model_t f = S.model;
    json_object_put(fake_model_admin(&f, "POST", "/_models",
                                     "{\"models\":{\"cfo-lora-v2\":{\"status\":500}}}"));
    int failed = 0, stable_ok = 0, stable_turns = 0, sent = 0;
    bool rolled_back = false;
    for (int i = 0; i < 300 && !rolled_back; i++) {
        char conv[128];
        conv_id(conv, sizeof conv, "bad", i, 2, i % 4 == 3 ? 0 : 1);
        int64_t got = turn(conv, "Forecast?", NULL, 0);
        sent++;
        if (i % 4 == 3) {
            stable_turns++;
            stable_ok += got == 1;
        } else {
            failed += got == -1;
        }
        if (i % 5 == 4) {
            a = adapter();
            rolled_back = canary_of(a) == NULL;
            json_object_put(a);
        }
    }
    assert_true(rolled_back);
    assert_int_equal(stable_ok, stable_turns); /* the stable version kept answering */
    a = adapter();
    assert_int_equal(ml_int(a, "stable_version"), 1);
    assert_string_equal(version_status(a, 2), "failed");
    json_object *e = history_entry(a, "rolled_back", 2);
    assert_non_null(e);
    assert_string_equal(ml_str(e, "by"), "pipeline");
    assert_non_null(strstr(ml_str(e, "reason"), "error rate"));
    printf("canary: v2 failing: %d turns sent (%d to predicted-canary conversations failed, "
           "%d of %d stable turns answered); decision: rolled back: %s\n",
           sent, failed, stable_ok, stable_turns, ml_str(e, "reason"));
    int64_t revision = ml_int(a, "revision");
    json_object_put(a);
    assert_true(event_seen("aos.ml.adapter.rolled_back cfo"));
    json_object_put(fake_model_admin(&f, "POST", "/_models", "{\"models\":{}}"));
    /* conversations the bucket gave to v2 are answered by v1 again (after the event) */
    v = -1;
    for (int i = 0; i < 50 && v != 1; i++) {
        char conv[128];
        conv_id(conv, sizeof conv, "after", i, 2, 1);
        v = turn(conv, "Still there?", NULL, 0);
        if (v != 1)
            stack_sleep_ms(200);
    }
    assert_int_equal(v, 1);

    /* ---- bad input: a clear 4xx and nothing changed ---- */
    expect_http_error("POST", "/v1/ml/adapters/cfo/canary", "{\"version\":2,\"share\":150}", 400,
                      "share");
    expect_http_error("POST", "/v1/ml/adapters/cfo/canary", "{\"version\":2,\"share\":-1}", 400,
                      "share");
    expect_http_error("POST", "/v1/ml/adapters/cfo/promote", "{\"version\":99}", 404,
                      "no registered version 99");
    expect_http_error("POST", "/v1/ml/adapters/cfo/promote", "{\"version\":2}", 400,
                      "failed its canary");
    expect_http_error("POST", "/v1/ml/adapters/cfo/pin", "{\"version\":42}", 404, "version 42");
    expect_http_error("POST", "/v1/ml/adapters/cfo/promote", "{}", 400, "no canary");
    expect_http_error("POST", "/v1/ml/adapters/nobody/promote", "{}", 404, "unknown agent");
    char path[300];
    snprintf(path, sizeof path, "/v1/conversations/split-0/messages/no-such-msg/feedback");
    expect_http_error("POST", path, "{\"score\":1}", 404, "no message");
    snprintf(path, sizeof path, "/v1/conversations/split-0/messages/x/feedback");
    expect_http_error("POST", path, "{\"score\":5}", 400, "score");
    a = adapter();
    assert_int_equal(ml_int(a, "revision"), revision);
    json_object_put(a);

    /* ---- v3, healthy, under a 30 % canary: promoted by the pipeline ---- */
    train(3, "{\"share\":30,\"min_turns\":20}");
    wait_runner_canary(3);
    int n3 = 0, c3 = 0, mismatch3 = 0, predicted3 = 0;
    bool promoted = false, feedback_sent = false;
    for (int i = 0; i < 400 && !promoted; i++) {
        char conv[128], reply[160] = "";
        snprintf(conv, sizeof conv, "v3-%s-%d", S.tag, i);
        int64_t got = turn(conv, "Budget?", reply, sizeof reply);
        assert_true(got == 1 || got == 3);
        n3++;
        c3 += got == 3;
        /* a conversation the bucket gives to v3 gets it; one it gives to v1 gets v1 until
         * the promotion (seen here at most 5 turns late), then v3 */
        bool predicted = runner_adapter_bucket(conv, 3) < 3000;
        mismatch3 += predicted && got != 3;
        predicted3 += predicted;
        if (got == 3 && !feedback_sent) {
            char fb[400];
            long st = 0;
            snprintf(fb, sizeof fb, "/v1/conversations/%s/messages/%s/feedback", conv, reply);
            json_object *o = http("POST", fb, "{\"score\":1,\"comment\":\"useful\"}", &st);
            assert_int_equal(st, 200);
            assert_int_equal(ml_int(o, "adapter_version"), 3);
            assert_true(json_object_get_boolean(json_object_object_get(o, "counted")));
            json_object_put(o);
            feedback_sent = true;
        }
        if (i % 5 == 4) {
            a = adapter();
            promoted = ml_int(a, "stable_version") == 3;
            json_object_put(a);
        }
    }
    assert_true(promoted);
    a = adapter();
    e = history_entry(a, "promoted", 3);
    assert_non_null(e);
    assert_string_equal(ml_str(e, "by"), "pipeline");
    assert_non_null(strstr(ml_str(e, "reason"), "canary healthy"));
    printf("canary: v3 healthy: %d of %d new conversations drawn for the canary by their "
           "bucket (%d answered by v3, including those after the promotion); %d of the drawn "
           "ones not on v3; decision: promoted: %s\n",
           predicted3, n3, c3, mismatch3, ml_str(e, "reason"));
    assert_int_equal(mismatch3, 0);
    json_object_put(a);
    assert_true(event_seen("aos.ml.adapter.promoted cfo"));

    /* ---- an unreadable registry: the last known version keeps serving, counted ---- */
    aos_storage_record_t rec = {0};
    char err[256] = "";
    assert_int_equal(aos_storage_record_get_sync(S.sc, "adapter", "cfo", &rec, err, sizeof err),
                     AOS_OK);
    char *saved = strdup(rec.data_json), *etag = strdup(rec.version);
    aos_storage_record_clear(&rec);
    const char *broken = "{\"agent\":\"cfo\",\"name\":\"cfo-lora\",\"status\":\"ready\","
                         "\"stable_version\":3,\"revision\":999,"
                         "\"canary\":{\"version\":4,\"share\":500}}";
    assert_int_equal(
        aos_storage_record_put_sync(S.sc, "adapter", "cfo", broken, etag, &rec, err, sizeof err),
        AOS_OK);
    free(etag);
    etag = NULL;
    aos_storage_record_clear(&rec);
    publish_adapter_event(broken);
    stack_sleep_ms(1000);
    for (int i = 0; i < 5; i++) {
        char conv[64];
        snprintf(conv, sizeof conv, "broken-%s-%d", S.tag, i);
        assert_int_equal(turn(conv, "Still v3?", NULL, 0), 3);
    }
    char metrics_cmd[200], line[400] = "";
    snprintf(
        metrics_cmd, sizeof metrics_cmd,
        "curl -s http://127.0.0.1:%d/metrics | grep '^aos_runner_adapter_registry_errors_total'",
        runner.admin_port);
    FILE *p = popen(metrics_cmd, "r");
    assert_non_null(p);
    if (!fgets(line, sizeof line, p))
        line[0] = '\0';
    pclose(p);
    double errors = 0;
    assert_int_equal(sscanf(line, "aos_runner_adapter_registry_errors_total %lf", &errors), 1);
    assert_true(errors >= 1);
    printf("canary: an unusable registry record: 5 of 5 turns answered by the last known v3; "
           "%s",
           line);
    free(etag); /* the pipeline counted those turns since: put back over what is there now */
    assert_int_equal(aos_storage_record_get_sync(S.sc, "adapter", "cfo", &rec, err, sizeof err),
                     AOS_OK);
    etag = strdup(rec.version);
    aos_storage_record_clear(&rec);
    assert_int_equal(
        aos_storage_record_put_sync(S.sc, "adapter", "cfo", saved, etag, &rec, err, sizeof err),
        AOS_OK);
    aos_storage_record_clear(&rec);
    publish_adapter_event(saved);
    free(saved);
    free(etag);

    /* ---- aosctl ml adapters shows the history ---- */
    char url[64], out[65536] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%d", http_port);
    char *argv[] = {"aosctl", "--url",    url,       "--api-key", API_KEY,
                    "ml",     "adapters", "--agent", "cfo"};
    FILE *o = fmemopen(out, sizeof out - 1, "w");
    assert_int_equal(aosctl_main(9, argv, o, o), 0);
    fclose(o);
    printf("canary: aosctl ml adapters --agent cfo:\n%s", out);
    assert_non_null(strstr(out, "serving: stable v3"));
    assert_non_null(strstr(out, "canary_started v2"));
    assert_non_null(strstr(out, "rolled_back    v2"));
    assert_non_null(strstr(out, "promoted       v3"));
    assert_non_null(strstr(out, "version v2    failed"));

    /* ---- an operator rolls back, promotes, pins and unpins: events and history ---- */
    const char *ops[][6] = {{"rollback", "cfo", NULL},
                            {"promote", "cfo", "3", NULL},
                            {"pin", "cfo", "3", NULL},
                            {"unpin", "cfo", NULL}};
    int64_t stable_after[] = {1, 3, 3, 3};
    for (size_t i = 0; i < 4; i++) {
        char *args[12] = {"aosctl", "--url", url, "--api-key", API_KEY, "ml"};
        int n = 6;
        for (size_t k = 0; ops[i][k]; k++)
            args[n++] = (char *)ops[i][k];
        o = fmemopen(out, sizeof out - 1, "w");
        int rc = aosctl_main(n, args, o, o);
        fclose(o);
        if (rc != 0)
            fail_msg("aosctl ml %s: %s", ops[i][0], out);
        a = adapter();
        assert_int_equal(ml_int(a, "stable_version"), stable_after[i]);
        json_object_put(a);
    }
    a = adapter();
    assert_false(json_object_get_boolean(json_object_object_get(a, "pinned")));
    e = history_entry(a, "pinned", 3);
    assert_non_null(e);
    assert_string_equal(ml_str(e, "by"), "operator");
    assert_non_null(history_entry(a, "unpinned", 3));
    json_object_put(a);
    assert_true(event_seen("aos.ml.adapter.pinned cfo"));
    assert_true(event_seen("aos.ml.adapter.unpinned cfo"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_adapter_loop)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
