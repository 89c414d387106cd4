/* aos-ml-pipeline end to end on a real RabbitMQ (fixture), the real aos-storage and
 * aos-ml-pipeline binaries, the test trainer (tests/ml/test_trainer.sh), the fake Azure ML
 * ARM server (tests/ml/fake_azureml.js) and the fake model server:
 *   - bad input: unknown agent, bad LoRA parameters, malformed data (first bad line), unknown
 *     op -> a clear error and nothing created;
 *   - local lifecycle: submit -> progress -> succeeded (adapter ready, version bumps),
 *     trainer error, crash, hang past the timeout (SIGKILL), cancel (SIGTERM);
 *   - azureml lifecycle: status walk incl. NotResponding, model version registration, 400 on
 *     submit, 429 on every poll, failed registration leaves nothing half-registered, cancel;
 *   - run_pipeline with inline data and per-step status; infer through both endpoint kinds;
 *   - a replica killed mid-job: another replica takes the job over, it runs to the end once.
 */
#include <pthread.h>

#include "ml_stack.h"

#define GOOD_DATA                                                                                  \
    "{\"messages\":[{\"role\":\"user\",\"content\":\"Q3 budget?\"},"                               \
    "{\"role\":\"assistant\",\"content\":\"Up 4%.\"}]}\n"                                          \
    "{\"prompt\":\"Cash position?\",\"completion\":\"Strong.\"}\n"

/* Events seen on aos.events (aos.ml.#): "type subject" lines. */
static struct {
    pthread_mutex_t mu;
    char seen[400][200];
    size_t n;
} EV = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_event(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    (void)ctx;
    pthread_mutex_lock(&EV.mu);
    if (EV.n < 400)
        snprintf(EV.seen[EV.n++], sizeof EV.seen[0], "%s %s", ev->type,
                 ev->subject ? ev->subject : "");
    pthread_mutex_unlock(&EV.mu);
    aos_bus_accept(d);
}

static bool event_seen(const char *type, const char *subject)
{
    char want[200];
    snprintf(want, sizeof want, "%s %s", type, subject);
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&EV.mu);
        bool found = false;
        for (size_t k = 0; k < EV.n && !found; k++)
            found = strcmp(EV.seen[k], want) == 0;
        pthread_mutex_unlock(&EV.mu);
        if (found)
            return true;
        stack_sleep_ms(50);
    }
    return false;
}

static int setup(void **state)
{
    (void)state;
    if (ml_stack_setup() != 0)
        return -1;
    if (aos_bus_subscribe_address(S.bus, "/exchange/aos.events/aos.ml.#", 100, on_event, NULL) !=
        AOS_OK)
        return -1;
    stack_sleep_ms(500); /* let the temporary queue bind before the first job */
    ml_put_blob("good.jsonl", GOOD_DATA);
    ml_put_blob("bad.jsonl", "{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"prompt\":\"a\"}\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return ml_stack_teardown();
}

static char *train_req(const char *agent, const char *base_model, const char *blob,
                       const char *extra)
{
    return stack_env("{\"agent\":\"%s\",\"base_model\":\"%s\",\"data\":{\"container\":\"mldata\","
                     "\"name\":\"%s\"}%s%s}",
                     agent, base_model, blob, extra ? "," : "", extra ? extra : "");
}

/* Submit; returns the job id (malloc'd). */
static char *submit(const char *op, const char *json)
{
    json_object *j = ml_ok(op, json);
    assert_string_equal(ml_str(j, "state"), "queued");
    char *id = strdup(ml_str(j, "job_id"));
    json_object_put(j);
    return id;
}

static json_object *run_job(const char *json)
{
    char *id = submit("train_adapter", json);
    json_object *j = ml_wait_job(id);
    free(id);
    return j;
}

static void expect_error(const char *op, const char *json, aos_result want, const char *needle)
{
    aos_result code;
    char msg[512];
    json_object *o = ml_call(op, json, &code, msg, sizeof msg);
    assert_null(o);
    assert_int_equal(code, want);
    if (needle && !strstr(msg, needle))
        fail_msg("error '%s' does not mention '%s'", msg, needle);
}

static json_object *step_of(json_object *job, const char *name)
{
    json_object *steps;
    assert_true(json_object_object_get_ex(job, "steps", &steps));
    for (size_t i = 0; i < json_object_array_length(steps); i++) {
        json_object *s = json_object_array_get_idx(steps, i);
        if (!strcmp(ml_str(s, "name"), name))
            return s;
    }
    fail_msg("no step %s", name);
    return NULL;
}

static json_object *adapter(const char *agent)
{
    char q[100];
    snprintf(q, sizeof q, "{\"agent\":\"%s\"}", agent);
    return ml_ok("get_adapter", q);
}

static void test_bad_input(void **state)
{
    (void)state;
    char *r = train_req("nosuch", "test:ok", "good.jsonl", NULL);
    expect_error("train_adapter", r, AOS_ERR_NOT_FOUND, "unknown agent 'nosuch'");
    free(r);
    r = train_req("cto", "test:ok", "good.jsonl", "\"lora\":{\"r\":0}");
    expect_error("train_adapter", r, AOS_ERR_INVALID, "lora.r");
    free(r);
    r = train_req("cto", "test:ok", "good.jsonl", "\"lora\":{\"lora_dropout\":1.0}");
    expect_error("train_adapter", r, AOS_ERR_INVALID, "lora_dropout");
    free(r);
    r = train_req("cto", "test:ok", "good.jsonl", "\"lora\":{\"target_modules\":[]}");
    expect_error("train_adapter", r, AOS_ERR_INVALID, "target_modules");
    free(r);
    r = train_req("cto", "test:ok", "good.jsonl", "\"lora\":{\"task_type\":\"IMAGE\"}");
    expect_error("train_adapter", r, AOS_ERR_INVALID, "task_type");
    free(r);
    r = train_req("cto", "test:ok", "good.jsonl", "\"lora\":{\"lora_alpha\":-1}");
    expect_error("train_adapter", r, AOS_ERR_INVALID, "lora_alpha");
    free(r);
    expect_error("train_adapter", "{\"agent\":\"cto\"}", AOS_ERR_INVALID, "data");
    expect_error("frobnicate", "{}", AOS_ERR_UNSUPPORTED, "frobnicate");
    expect_error("get_job", "{\"job_id\":\"job-none\"}", AOS_ERR_NOT_FOUND, NULL);
    expect_error("run_pipeline", "{\"agent\":\"cto\",\"data_jsonl\":\"{\\\"prompt\\\":1}\\n\"}",
                 AOS_ERR_INVALID, "line 1");
    /* Nothing was created for cto. */
    expect_error("get_adapter", "{\"agent\":\"cto\"}", AOS_ERR_NOT_FOUND, NULL);
    json_object *l = ml_ok("list_jobs", "{\"agent\":\"cto\"}"), *jobs;
    assert_true(json_object_object_get_ex(l, "jobs", &jobs));
    assert_int_equal(json_object_array_length(jobs), 0);
    json_object_put(l);
}

static void test_bad_data_fails_job(void **state)
{
    (void)state;
    char *r = train_req("cto", "test:ok", "bad.jsonl", NULL);
    json_object *j = run_job(r);
    free(r);
    assert_string_equal(ml_str(j, "state"), "failed");
    assert_non_null(strstr(ml_str(j, "reason"), "line 2"));
    assert_string_equal(ml_str(step_of(j, "validate_data"), "state"), "failed");
    assert_string_equal(ml_str(step_of(j, "train"), "state"), "pending");
    json_object_put(j);
    expect_error("get_adapter", "{\"agent\":\"cto\"}", AOS_ERR_NOT_FOUND, NULL);
    r = train_req("cto", "test:ok", "missing.jsonl", NULL);
    j = run_job(r);
    free(r);
    assert_string_equal(ml_str(j, "state"), "failed");
    assert_non_null(strstr(ml_str(j, "reason"), "not_found"));
    json_object_put(j);
}

static void test_local_succeeds(void **state)
{
    (void)state;
    char *r = train_req("cfo", "test:ok", "good.jsonl", "\"lora\":{\"r\":8,\"lora_alpha\":16}");
    json_object *j = run_job(r);
    free(r);
    assert_string_equal(ml_str(j, "state"), "succeeded");
    assert_string_equal(ml_str(j, "adapter_name"), "cfo-lora"); /* injected from the config */
    assert_string_equal(ml_str(j, "backend"), "local");
    json_object *m, *p;
    assert_true(json_object_object_get_ex(j, "metrics", &m));
    assert_int_equal(ml_int(m, "examples"), 2);
    assert_true(json_object_object_get_ex(j, "progress", &p));
    assert_int_equal(ml_int(p, "total_steps"), 3);
    const char *steps[] = {"validate_data", "train", "register", "mark_ready"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(ml_str(step_of(j, steps[i]), "state"), "succeeded");
    char cfgfile[600];
    const char *art = ml_str(j, "artifact");
    assert_non_null(art);
    snprintf(cfgfile, sizeof cfgfile, "%s/adapter_config.json", art ? art : "");
    assert_int_equal(access(cfgfile, R_OK), 0);
    const char *id = ml_str(j, "job_id");
    assert_non_null(id);
    id = id ? id : "";
    assert_true(event_seen("aos.ml.job.queued", id));
    assert_true(event_seen("aos.ml.job.running", id));
    assert_true(event_seen("aos.ml.job.succeeded", id));
    assert_true(event_seen("aos.ml.adapter.training", "cfo"));
    assert_true(event_seen("aos.ml.adapter.ready", "cfo"));
    json_object_put(j);
    json_object *a = adapter("cfo");
    assert_string_equal(ml_str(a, "status"), "ready");
    assert_string_equal(ml_str(a, "name"), "cfo-lora");
    assert_int_equal(ml_int(a, "version"), 1);
    json_object *lora;
    assert_true(json_object_object_get_ex(a, "lora", &lora));
    assert_int_equal(ml_int(lora, "r"), 8);
    json_object_put(a);
    /* A second run bumps the version; a failing one leaves the ready adapter as it was. */
    r = train_req("cfo", "test:ok", "good.jsonl", NULL);
    json_object_put(run_job(r));
    free(r);
    r = train_req("cfo", "test:fail", "good.jsonl", NULL);
    j = run_job(r);
    free(r);
    assert_string_equal(ml_str(j, "state"), "failed");
    assert_non_null(strstr(ml_str(j, "reason"), "CUDA out of memory"));
    json_object_put(j);
    a = adapter("cfo");
    assert_string_equal(ml_str(a, "status"), "ready");
    assert_int_equal(ml_int(a, "version"), 2);
    assert_non_null(strstr(ml_str(a, "last_error"), "CUDA"));
    json_object_put(a);
}

static void test_local_faults(void **state)
{
    (void)state;
    char *r = train_req("ceo", "test:crash", "good.jsonl", NULL);
    json_object *j = run_job(r);
    free(r);
    assert_string_equal(ml_str(j, "state"), "failed");
    assert_non_null(strstr(ml_str(j, "reason"), "signal 11"));
    json_object_put(j);
    json_object *a = adapter("ceo");
    assert_string_equal(ml_str(a, "status"), "failed"); /* never had a ready version */
    assert_int_equal(ml_int(a, "version"), 0);
    json_object_put(a);
    r = train_req("ceo", "test:hang", "good.jsonl", "\"timeout_s\":1");
    j = run_job(r);
    free(r);
    assert_string_equal(ml_str(j, "state"), "failed");
    assert_non_null(strstr(ml_str(j, "reason"), "timed out"));
    json_object_put(j);
    r = train_req("ceo", "test:nodone", "good.jsonl", NULL);
    j = run_job(r);
    free(r);
    assert_string_equal(ml_str(j, "state"), "failed");
    assert_non_null(strstr(ml_str(j, "reason"), "without a done line"));
    json_object_put(j);
}

static bool has_progress(json_object *j)
{
    json_object *p;
    return json_object_object_get_ex(j, "progress", &p) && ml_int(p, "step") >= 2;
}

static void test_local_cancel(void **state)
{
    (void)state;
    char *r = train_req("ceo", "test:slow", "good.jsonl", NULL);
    char *id = submit("train_adapter", r);
    free(r);
    json_object_put(ml_wait_until(id, has_progress));
    char q[200];
    snprintf(q, sizeof q, "{\"job_id\":\"%s\"}", id);
    json_object_put(ml_ok("cancel_job", q));
    json_object *j = ml_wait_job(id);
    assert_string_equal(ml_str(j, "state"), "cancelled");
    assert_string_equal(ml_str(step_of(j, "train"), "state"), "cancelled");
    json_object_put(j);
    /* Cancelling an ended job answers with it unchanged. */
    j = ml_ok("cancel_job", q);
    assert_string_equal(ml_str(j, "state"), "cancelled");
    json_object_put(j);
    free(id);
}

static json_object *aml_job(const char *mode, const char *agent)
{
    char bm[40];
    snprintf(bm, sizeof bm, "aml:%s", mode);
    char *r = train_req(agent, bm, "good.jsonl", "\"backend\":\"azureml\"");
    json_object *j = run_job(r);
    free(r);
    return j;
}

static void test_azureml(void **state)
{
    (void)state;
    json_object *j = aml_job("ok", "cmo");
    assert_string_equal(ml_str(j, "state"), "succeeded");
    json_object *aml;
    assert_true(json_object_object_get_ex(j, "azureml", &aml));
    assert_string_equal(ml_str(aml, "status"), "Completed");
    char name[200];
    snprintf(name, sizeof name, "%s", ml_str(aml, "job_name"));
    json_object_put(j);
    json_object *a = adapter("cmo");
    assert_string_equal(ml_str(a, "status"), "ready");
    assert_int_equal(ml_int(a, "version"), 1);
    char uri[300];
    snprintf(uri, sizeof uri, "azureml://jobs/%s/outputs/adapter", name);
    assert_string_equal(ml_str(a, "artifact"), uri);
    json_object_put(a);
    json_object *st = ml_aml_state(), *models, *jobs, *fj;
    assert_non_null(st);
    assert_true(json_object_object_get_ex(st, "jobs", &jobs));
    assert_true(json_object_object_get_ex(jobs, name, &fj));
    assert_true(ml_int(fj, "gets") >= 7); /* walked through NotResponding to Completed */
    assert_int_equal(ml_int(fj, "puts"), 1);
    assert_true(json_object_object_get_ex(st, "models", &models));
    bool found = false;
    for (size_t i = 0; i < json_object_array_length(models); i++) {
        json_object *m = json_object_array_get_idx(models, i);
        found = found || (!strcmp(ml_str(m, "name"), "cmo") && !strcmp(ml_str(m, "version"), "1"));
    }
    assert_true(found);
    json_object_put(st);

    j = aml_job("submit400", "cmo");
    assert_string_equal(ml_str(j, "state"), "failed");
    assert_non_null(strstr(ml_str(j, "reason"), "HTTP 400"));
    assert_non_null(strstr(ml_str(j, "reason"), "not found in workspace"));
    json_object_put(j);
    j = aml_job("get429", "cmo");
    assert_string_equal(ml_str(j, "state"), "failed");
    assert_non_null(strstr(ml_str(j, "reason"), "HTTP 429"));
    json_object_put(j);
    j = aml_job("fail", "cmo");
    assert_string_equal(ml_str(j, "state"), "failed");
    assert_non_null(strstr(ml_str(j, "reason"), "Failed"));
    json_object_put(j);
    j = aml_job("regfail", "cmo");
    assert_string_equal(ml_str(j, "state"), "failed");
    assert_non_null(strstr(ml_str(j, "reason"), "registration"));
    json_object_put(j);
    j = aml_job("get500once", "cmo");
    assert_string_equal(ml_str(j, "state"), "succeeded");
    json_object_put(j);
    a = adapter("cmo"); /* the failures in between changed nothing; the last success is v2 */
    assert_string_equal(ml_str(a, "status"), "ready");
    assert_int_equal(ml_int(a, "version"), 2);
    json_object_put(a);
}

static bool aml_running(json_object *j)
{
    json_object *aml;
    return json_object_object_get_ex(j, "azureml", &aml) && ml_str(aml, "status") &&
           !strcmp(ml_str(aml, "status"), "Running");
}

static void test_azureml_cancel(void **state)
{
    (void)state;
    char *r = train_req("cmo", "aml:hang", "good.jsonl", "\"backend\":\"azureml\"");
    char *id = submit("train_adapter", r);
    free(r);
    json_object_put(ml_wait_until(id, aml_running));
    char q[200];
    snprintf(q, sizeof q, "{\"job_id\":\"%s\"}", id);
    json_object_put(ml_ok("cancel_job", q));
    json_object *j = ml_wait_job(id);
    assert_string_equal(ml_str(j, "state"), "cancelled");
    json_object *aml;
    assert_true(json_object_object_get_ex(j, "azureml", &aml));
    assert_string_equal(ml_str(aml, "status"), "Canceled");
    json_object_put(j);
    free(id);
}

static void test_pipeline(void **state)
{
    (void)state;
    json_object *d = json_object_new_object();
    json_object_object_add(d, "agent", json_object_new_string("cto"));
    json_object_object_add(d, "base_model", json_object_new_string("test:ok"));
    json_object_object_add(d, "data_jsonl", json_object_new_string(GOOD_DATA));
    json_object_object_add(d, "backend", json_object_new_string("local"));
    char *id = submit("run_pipeline", json_object_to_json_string(d));
    json_object_put(d);
    json_object *j = ml_wait_job(id);
    assert_string_equal(ml_str(j, "state"), "succeeded");
    assert_string_equal(ml_str(j, "kind"), "pipeline");
    const char *steps[] = {"upload_data", "validate_data", "train", "register", "mark_ready"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(ml_str(step_of(j, steps[i]), "state"), "succeeded");
    json_object_put(j);
    json_object *a = adapter("cto");
    assert_string_equal(ml_str(a, "status"), "ready");
    assert_string_equal(ml_str(a, "name"), "cto");
    json_object_put(a);
    /* Every adapter trained so far is listed. */
    json_object *l = ml_ok("list_adapters", "{}"), *arr;
    assert_true(json_object_object_get_ex(l, "adapters", &arr));
    assert_true(json_object_array_length(arr) >= 3);
    json_object_put(l);
    free(id);
}

static void test_idempotent_submit(void **state)
{
    (void)state;
    char *r = train_req("ceo", "test:ok", "good.jsonl", "\"job_id\":\"job-fixed-1\"");
    json_object *a = ml_ok("train_adapter", r), *b = ml_ok("train_adapter", r);
    free(r);
    assert_string_equal(ml_str(a, "job_id"), "job-fixed-1");
    assert_string_equal(ml_str(b, "job_id"), "job-fixed-1");
    json_object_put(a);
    json_object_put(b);
    json_object *j = ml_wait_job("job-fixed-1");
    assert_string_equal(ml_str(j, "state"), "succeeded");
    assert_int_equal(ml_int(j, "attempt"), 1);
    json_object_put(j);
}

static void test_infer(void **state)
{
    (void)state;
    /* cfo: openai endpoint, the model name is the stable version's deployment (registry:
     * cfo-lora v2 ready and stable) */
    json_object *o = ml_ok("infer", "{\"agent\":\"cfo\",\"input\":\"How is cash?\"}");
    assert_string_equal(ml_str(o, "adapter"), "cfo-lora");
    assert_int_equal(ml_int(o, "adapter_version"), 2);
    assert_string_equal(ml_str(o, "model"), "cfo-lora-v2");
    assert_string_equal(ml_str(o, "provider"), "openai");
    assert_non_null(strstr(ml_str(o, "output"), "How is cash?"));
    json_object_put(o);
    /* cmo: Azure ML online endpoint, azureml-model-deployment = the stable version's
     * deployment */
    o = ml_ok("infer", "{\"agent\":\"cmo\",\"input\":\"Campaign?\"}");
    assert_string_equal(ml_str(o, "model"), "cmo-v2");
    assert_string_equal(ml_str(o, "provider"), "azureml");
    json_object_put(o);
    expect_error("infer", "{\"agent\":\"ceo\",\"input\":\"x\"}", AOS_ERR_INVALID, "endpoint");
    expect_error("infer", "{\"agent\":\"nope\",\"input\":\"x\"}", AOS_ERR_NOT_FOUND, NULL);
    /* A failing endpoint: retried, then a clear error. */
    o = ml_call("infer", "{\"agent\":\"cfo\",\"input\":\"[[fake:status=503]]\"}", NULL, NULL, 0);
    assert_null(o);
}

/* The router's act actions send aos.ml.train / aos.ml.pipeline.run / aos.ml.infer with the
 * action's params plus "agent", "adapter" and "action". */
static void test_act_types(void **state)
{
    (void)state;
    json_object *j =
        ml_ok("train", "{\"agent\":\"ceo\",\"adapter\":\"ceo-act\","
                       "\"action\":\"trigger_lora_training\","
                       "\"base_model\":\"test:ok\","
                       "\"dataset\":{\"container\":\"mldata\",\"name\":\"good.jsonl\"}}");
    char *id = strdup(ml_str(j, "job_id"));
    assert_string_equal(ml_str(j, "adapter_name"), "ceo-act");
    json_object_put(j);
    j = ml_wait_job(id);
    assert_string_equal(ml_str(j, "state"), "succeeded");
    json_object_put(j);
    free(id);
    j = ml_ok("pipeline.run",
              "{\"agent\":\"ceo\",\"action\":\"run_azure_ml_pipeline\","
              "\"base_model\":\"aml:ok\",\"backend\":\"azureml\","
              "\"data_jsonl\":\"{\\\"prompt\\\":\\\"a\\\",\\\"completion\\\":\\\"b\\\"}\"}");
    id = strdup(ml_str(j, "job_id"));
    json_object_put(j);
    j = ml_wait_job(id);
    assert_string_equal(ml_str(j, "state"), "succeeded");
    assert_string_equal(ml_str(step_of(j, "upload_data"), "state"), "succeeded");
    json_object_put(j);
    free(id);
    j = ml_ok("infer", "{\"agent\":\"cfo\",\"adapter\":\"cfo-lora\",\"action\":\"aml_infer\","
                       "\"prompt\":\"hello\"}");
    assert_string_equal(ml_str(j, "model"), "cfo-lora-v2"); /* the registry's stable version */
    json_object_put(j);
}

static bool owned(json_object *j)
{
    json_object *l;
    const char *o = json_object_object_get_ex(j, "lease", &l) ? ml_str(l, "owner") : NULL;
    return has_progress(j) && o && o[0];
}

static void test_replica_killed(void **state)
{
    (void)state;
    assert_int_equal(ml_start_instance(1), 0);
    char *r = train_req("ceo", "test:slowok", "good.jsonl", NULL);
    char *id = submit("train_adapter", r);
    free(r);
    json_object *j = ml_wait_until(id, owned), *l;
    assert_true(json_object_object_get_ex(j, "lease", &l));
    int victim = strncmp(ml_str(l, "owner"), "ml0-", 4) == 0 ? 0 : 1;
    json_object_put(j);
    stack_stop(&S.ml[victim], SIGKILL);
    j = ml_wait_job(id);
    assert_string_equal(ml_str(j, "state"), "succeeded");
    assert_int_equal(ml_int(j, "attempt"), 2);
    json_object_put(j);
    if (victim == 0) { /* keep instance 0 for the teardown's graceful-stop check */
        assert_int_equal(ml_start_instance(0), 0);
    }
    free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),         cmocka_unit_test(test_bad_data_fails_job),
        cmocka_unit_test(test_local_succeeds),    cmocka_unit_test(test_local_faults),
        cmocka_unit_test(test_local_cancel),      cmocka_unit_test(test_azureml),
        cmocka_unit_test(test_azureml_cancel),    cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_idempotent_submit), cmocka_unit_test(test_infer),
        cmocka_unit_test(test_act_types),         cmocka_unit_test(test_replica_killed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
