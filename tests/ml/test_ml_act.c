/* The seed's PerpetualAgent.act actions through HTTP: aos-router (POST /v1/agents/{agent}/act)
 * -> the real "aos.ml" queue -> aos-ml-pipeline -> aos-storage, with the test trainer, the
 * Azure ML fake and the fake model server:
 *   trigger_lora_training  -> a local job that trains and marks the adapter ready;
 *   run_azure_ml_pipeline  -> an Azure ML pipeline run with inline data, every step done;
 *   aml_infer              -> the agent's adapter answers;
 *   bad LoRA parameters    -> the pipeline's 400 passes through the router;
 *   the seed's own parameter shapes (training_params/adapters, subscription_id/
 *   resource_group/workspace_name, agent_id/prompt) are accepted as the seed writes them.
 * It consumes the real aos.ml queue, so it holds the aos_agent_queues lock (tests/e2e checks
 * the router's answer when nothing consumes aos.ml). Fails without aos-router. */
#define ML_QUEUE "aos.ml"
#include "ml_stack.h"

#define API_KEY "ml-act-key-0123456789"

static proc_t router;
static int http_port;

static int setup(void **state)
{
    (void)state;
    char bin[512];
    snprintf(bin, sizeof bin, "%s/aos-router", getenv("AOS_BIN_DIR"));
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "aos-router not built: cannot run\n");
        exit(1);
    }
    if (ml_stack_setup() != 0)
        return -1;
    int rc = ml_start_router(&router, "mlrouter", API_KEY, &http_port);
    ml_put_blob("good.jsonl", "{\"prompt\":\"Q3?\",\"completion\":\"Up.\"}\n");
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    stack_stop(&router, SIGTERM);
    return ml_stack_teardown();
}

/* POST an act; returns the parsed body, *status the HTTP status. */
static json_object *act(const char *agent, const char *body, long *status)
{
    char path[200], *buf = NULL;
    snprintf(path, sizeof path, "/v1/agents/%s/act", agent);
    json_object *o = ml_http(http_port, API_KEY, "POST", path, body, 30000L, status, &buf);
    if (!o)
        fail_msg("act answered %ld with %s", *status, buf);
    free(buf);
    return o;
}

static json_object *result_of(json_object *o)
{
    json_object *r;
    assert_true(json_object_object_get_ex(o, "result", &r));
    return r;
}

static void test_trigger_lora_training(void **state)
{
    (void)state;
    long st = 0;
    json_object *o = act("cfo",
                         "{\"action\":\"trigger_lora_training\",\"params\":{"
                         "\"base_model\":\"test:ok\",\"dataset\":{\"container\":\"mldata\","
                         "\"name\":\"good.jsonl\"},\"lora\":{\"r\":4}}}",
                         &st);
    assert_int_equal(st, 200);
    assert_string_equal(ml_str(o, "type"), "aos.ml.train.result");
    json_object *job = result_of(o);
    assert_string_equal(ml_str(job, "adapter_name"), "cfo-lora"); /* injected by the router */
    json_object *j = ml_wait_job(ml_str(job, "job_id"));
    assert_string_equal(ml_str(j, "state"), "succeeded");
    json_object_put(j);
    json_object_put(o);
    j = ml_ok("get_adapter", "{\"agent\":\"cfo\"}");
    assert_string_equal(ml_str(j, "status"), "ready");
    json_object_put(j);
}

static void test_run_azure_ml_pipeline(void **state)
{
    (void)state;
    long st = 0;
    json_object *o =
        act("cmo",
            "{\"action\":\"run_azure_ml_pipeline\",\"params\":{"
            "\"base_model\":\"aml:ok\",\"backend\":\"azureml\","
            "\"data_jsonl\":\"{\\\"prompt\\\":\\\"a\\\",\\\"completion\\\":\\\"b\\\"}\"}}",
            &st);
    assert_int_equal(st, 200);
    json_object *j = ml_wait_job(ml_str(result_of(o), "job_id"));
    assert_string_equal(ml_str(j, "state"), "succeeded");
    assert_string_equal(ml_str(j, "kind"), "pipeline");
    json_object_put(j);
    json_object_put(o);
}

static void test_aml_infer_and_errors(void **state)
{
    (void)state;
    long st = 0;
    json_object *o = act("cfo", "{\"action\":\"aml_infer\",\"params\":{\"input\":\"Cash?\"}}", &st);
    assert_int_equal(st, 200);
    assert_string_equal(ml_str(result_of(o), "model"), "cfo-lora-v1"); /* the stable version */
    json_object_put(o);
    o = act("cfo",
            "{\"action\":\"trigger_lora_training\",\"params\":{\"lora\":{\"r\":0},"
            "\"dataset\":{\"container\":\"mldata\",\"name\":\"good.jsonl\"}}}",
            &st);
    assert_int_equal(st, 400);
    json_object_put(o);
}

/* The seed's README calls, as written (only the model and blob names are the test's). */
static void test_seed_shapes(void **state)
{
    (void)state;
    long st = 0;
    json_object *o =
        act("cfo",
            "{\"action\":\"trigger_lora_training\",\"params\":{"
            "\"training_params\":{\"model_name\":\"test:ok\","
            "\"data_path\":\"./mldata/good.jsonl\",\"output_dir\":\"./outputs\"},"
            "\"adapters\":[{\"adapter_name\":\"lora_qv\",\"task_type\":\"causal_lm\","
            "\"r\":16,\"lora_alpha\":32,\"target_modules\":[\"q_proj\",\"v_proj\"]}]}}",
            &st);
    assert_int_equal(st, 200);
    json_object *job = result_of(o);
    assert_string_equal(ml_str(job, "adapter_name"), "lora_qv");
    json_object *j = ml_wait_job(ml_str(job, "job_id"));
    assert_string_equal(ml_str(j, "state"), "succeeded");
    json_object_put(j);
    json_object_put(o);

    /* run_azure_ml_pipeline names the workspace; the data is the agent's training set */
    aos_storage_blob_info_t info = {0};
    char err[256];
    const char *rows = "{\"prompt\":\"Q2?\",\"completion\":\"Launch.\"}\n";
    assert_int_equal(aos_storage_blob_put_buffer_sync(S.sc, "training", "cmo.jsonl",
                                                      "application/jsonl", rows, strlen(rows),
                                                      &info, err, sizeof err),
                     AOS_OK);
    aos_storage_blob_info_clear(&info);
    o = act("cmo",
            "{\"action\":\"run_azure_ml_pipeline\",\"params\":{\"subscription_id\":\"sub-1\","
            "\"resource_group\":\"rg-aos\",\"workspace_name\":\"ws-aos\"}}",
            &st);
    assert_int_equal(st, 200);
    j = ml_wait_job(ml_str(result_of(o), "job_id"));
    assert_string_equal(ml_str(j, "state"), "succeeded");
    assert_string_equal(ml_str(j, "backend"), "azureml");
    json_object_put(j);
    json_object_put(o);
    /* another workspace than the one configured (and credentialed) is refused */
    o = act("cmo",
            "{\"action\":\"run_azure_ml_pipeline\",\"params\":{\"subscription_id\":\"sub-2\","
            "\"resource_group\":\"rg-aos\",\"workspace_name\":\"ws-aos\"}}",
            &st);
    assert_int_equal(st, 400);
    json_object_put(o);

    /* aml_infer: agent_id selects the agent whose adapter answers */
    o = act("cmo",
            "{\"action\":\"aml_infer\",\"params\":{\"agent_id\":\"cfo\","
            "\"prompt\":\"What is the Q2 marketing plan?\"}}",
            &st);
    assert_int_equal(st, 200);
    assert_string_equal(ml_str(result_of(o), "agent"), "cfo");
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trigger_lora_training),
        cmocka_unit_test(test_run_azure_ml_pipeline),
        cmocka_unit_test(test_aml_infer_and_errors),
        cmocka_unit_test(test_seed_shapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
