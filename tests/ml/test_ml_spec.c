/* Units of the ML pipeline's pure parts (services/ml-pipeline/ml_spec.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "aos/json.h"
#include "ml_spec.h"

static json_object *obj(const char *s)
{
    json_object *o = NULL;
    assert_int_equal(aos_json_parse_object(s, strlen(s), 0, 0, &o, NULL, 0), AOS_OK);
    return o;
}

static void lora_err(const char *json, const char *needle)
{
    json_object *in = obj(json), *out = NULL;
    char err[256] = "";
    assert_int_equal(ml_lora_normalize(in, &out, err, sizeof err), AOS_ERR_INVALID);
    assert_null(out);
    if (!strstr(err, needle))
        fail_msg("'%s' does not mention '%s'", err, needle);
    json_object_put(in);
}

static void test_lora_defaults_and_rules(void **state)
{
    (void)state;
    json_object *out = NULL;
    assert_int_equal(ml_lora_normalize(NULL, &out, NULL, 0), AOS_OK);
    assert_string_equal(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
                        "{\"r\":16,\"lora_alpha\":32.0,\"lora_dropout\":0.050000000000000003,"
                        "\"target_modules\":[\"q_proj\",\"v_proj\"],\"task_type\":\"CAUSAL_LM\","
                        "\"bias\":\"none\"}");
    json_object_put(out);
    json_object *in = obj("{\"r\":8,\"lora_alpha\":16,\"lora_dropout\":0,"
                          "\"target_modules\":[\"k_proj\"],\"task_type\":\"SEQ_CLS\"}");
    assert_int_equal(ml_lora_normalize(in, &out, NULL, 0), AOS_OK);
    json_object *v;
    assert_true(json_object_object_get_ex(out, "r", &v));
    assert_int_equal(json_object_get_int(v), 8);
    json_object_put(out);
    json_object_put(in);
    lora_err("{\"r\":0}", "lora.r");
    lora_err("{\"r\":1.5}", "'r'");
    lora_err("{\"lora_alpha\":0}", "lora_alpha");
    lora_err("{\"lora_dropout\":1}", "lora_dropout");
    lora_err("{\"lora_dropout\":-0.1}", "lora_dropout");
    lora_err("{\"target_modules\":[]}", "target_modules");
    lora_err("{\"target_modules\":[\"\"]}", "target_modules[0]");
    lora_err("{\"target_modules\":\"q_proj\"}", "target_modules");
    lora_err("{\"task_type\":\"VISION\"}", "task_type");
    lora_err("{\"bias\":\"some\"}", "bias");
    lora_err("{\"rank\":4}", "unknown field 'rank'");
}

static void test_hparams(void **state)
{
    (void)state;
    json_object *out = NULL, *in = obj("{\"epochs\":0}");
    char err[200];
    assert_int_equal(ml_hparams_normalize(in, &out, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "epochs"));
    json_object_put(in);
    in = obj("{\"learning_rate\":2}");
    assert_int_equal(ml_hparams_normalize(in, &out, err, sizeof err), AOS_ERR_INVALID);
    json_object_put(in);
    assert_int_equal(ml_hparams_normalize(NULL, &out, err, sizeof err), AOS_OK);
    json_object_put(out);
}

static void data_err(const char *data, const char *needle)
{
    char err[300] = "";
    assert_int_equal(ml_data_validate(data, strlen(data), NULL, err, sizeof err), AOS_ERR_INVALID);
    if (!strstr(err, needle))
        fail_msg("'%s' does not mention '%s'", err, needle);
}

static void test_data(void **state)
{
    (void)state;
    const char *good = "{\"prompt\":\"a\",\"completion\":\"b\"}\r\n\n"
                       "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
                       "{\"role\":\"assistant\",\"content\":\"a\"}]}";
    size_t n = 0;
    assert_int_equal(ml_data_validate(good, strlen(good), &n, NULL, 0), AOS_OK);
    assert_int_equal(n, 2);
    data_err("", "no examples");
    data_err("\n  \n", "no examples");
    data_err("{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"prompt\":\"a\"}\n", "line 2:");
    data_err("{\"prompt\":\"a\",\"completion\":\"b\"}\n\n{bad json\n", "line 3:");
    data_err("[1,2]\n", "line 1:");
    data_err("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}", "assistant");
    data_err("{\"messages\":[{\"role\":\"robot\",\"content\":\"q\"}]}", "role");
    data_err("{\"messages\":[]}", "non-empty");
    data_err("{\"prompt\":1,\"completion\":\"b\"}", "strings");
}

static void test_request(void **state)
{
    (void)state;
    ml_train_req_t r;
    char err[300];
    const char *ok =
        "{\"agent\":\"cfo\",\"data\":{\"container\":\"mldata\",\"name\":\"a/b.jsonl\"},"
        "\"backend\":\"azureml\",\"timeout_s\":60,\"lora\":{\"r\":4}}";
    assert_int_equal(ml_train_req_parse(ok, strlen(ok), false, &r, err, sizeof err), AOS_OK);
    assert_string_equal(r.agent, "cfo");
    assert_true(r.has_backend);
    assert_int_equal(r.backend, ML_BACKEND_AZUREML);
    assert_int_equal(r.timeout_ms, 60000);
    assert_null(r.adapter_name);
    assert_int_equal(r.canary_share, -1); /* no canary asked: the service default */
    assert_int_equal(r.canary_min_turns, 0);
    ml_train_req_clear(&r);
    const char *canary = "{\"agent\":\"cfo\",\"data\":{\"container\":\"mldata\",\"name\":\"x\"},"
                         "\"canary\":{\"share\":30,\"min_turns\":40}}";
    assert_int_equal(ml_train_req_parse(canary, strlen(canary), false, &r, err, sizeof err),
                     AOS_OK);
    assert_int_equal(r.canary_share, 30);
    assert_int_equal(r.canary_min_turns, 40);
    ml_train_req_clear(&r);
    const char *bad[][2] = {
        {"{\"agent\":\"cfo\",\"data\":{\"container\":\"mldata\",\"name\":\"x\"},"
         "\"canary\":{\"share\":101}}",
         "canary.share must be 0..100"},
        {"{\"agent\":\"cfo\",\"data\":{\"container\":\"mldata\",\"name\":\"x\"},"
         "\"canary\":{\"share\":-5}}",
         "canary.share"},
        {"{\"agent\":\"cfo\",\"data\":{\"container\":\"mldata\",\"name\":\"x\"},"
         "\"canary\":{\"min_turns\":0}}",
         "canary.min_turns"},
        {"{\"agent\":\"cfo\",\"data\":{\"container\":\"mldata\",\"name\":\"x\"},"
         "\"canary\":{\"percent\":5}}",
         "canary.percent"},
        {"{\"data\":{\"container\":\"mldata\",\"name\":\"x\"}}", "agent"},
        {"{\"agent\":\"Bad Name\",\"data\":{\"container\":\"mldata\",\"name\":\"x\"}}", "agent"},
        {"{\"agent\":\"cfo\"}", "data"},
        {"{\"agent\":\"cfo\",\"data_jsonl\":\"{}\"}", "run_pipeline"},
        {"{\"agent\":\"cfo\",\"data\":{\"container\":\"X\",\"name\":\"x\"}}", "container"},
        {"{\"agent\":\"cfo\",\"data\":{\"container\":\"mldata\",\"name\":\"x\"},\"backend\":"
         "\"gpu\"}",
         "backend"},
        {"{\"agent\":\"cfo\",\"data\":{\"container\":\"mldata\",\"name\":\"x\"},\"timeout_s\":0}",
         "timeout_s"},
        {"{\"agent\":\"cfo\",\"data\":{\"container\":\"mldata\",\"name\":\"x\"},\"extra\":1}",
         "extra"},
        {"{\"agent\":\"cfo\",\"data\":{\"container\":\"mldata\",\"name\":\"x\"},\"job_id\":\"a "
         "b\"}",
         "job_id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            ml_train_req_parse(bad[i][0], strlen(bad[i][0]), false, &r, err, sizeof err),
            AOS_ERR_INVALID);
        if (!strstr(err, bad[i][1]))
            fail_msg("case %zu: '%s' does not mention '%s'", i, err, bad[i][1]);
    }
    const char *pipe = "{\"agent\":\"cfo\",\"data_jsonl\":\"{}\"}";
    assert_int_equal(ml_train_req_parse(pipe, strlen(pipe), true, &r, err, sizeof err), AOS_OK);
    assert_string_equal(r.data_jsonl, "{}");
    ml_train_req_clear(&r);
}

static void test_progress(void **state)
{
    (void)state;
    ml_progress_t p;
    const char *l =
        "{\"event\":\"progress\",\"step\":5,\"total_steps\":10,\"epoch\":0.5,\"loss\":1.25}";
    ml_progress_parse(l, strlen(l), &p);
    assert_int_equal(p.kind, ML_PROGRESS_STEP);
    assert_int_equal(p.step, 5);
    assert_int_equal(p.total_steps, 10);
    assert_true(p.has_loss);
    ml_progress_clear(&p);
    l = "{\"event\":\"done\",\"artifact\":\"out\",\"metrics\":{\"a\":1}}";
    ml_progress_parse(l, strlen(l), &p);
    assert_int_equal(p.kind, ML_PROGRESS_DONE);
    assert_string_equal(p.text, "out");
    assert_non_null(p.metrics);
    ml_progress_clear(&p);
    l = "{\"event\":\"error\",\"message\":\"boom\"}";
    ml_progress_parse(l, strlen(l), &p);
    assert_int_equal(p.kind, ML_PROGRESS_ERROR);
    assert_string_equal(p.text, "boom");
    const char *logs[] = {"plain text",
                          "{\"event\":\"progress\"}",
                          "{\"event\":\"done\"}",
                          "{\"event\":\"metric\",\"name\":\"x\"}",
                          "[1]",
                          "{\"event\":7}"};
    for (size_t i = 0; i < 6; i++) {
        ml_progress_parse(logs[i], strlen(logs[i]), &p);
        assert_int_equal(p.kind, ML_PROGRESS_LOG);
        ml_progress_clear(&p);
    }
}

static void test_aml_states_and_ids(void **state)
{
    (void)state;
    const char *pending[] = {"NotStarted", "Starting",      "Provisioning", "Preparing",
                             "Queued",     "NotResponding", "Paused",       "CancelRequested",
                             "Unknown",    "Whatever"};
    for (size_t i = 0; i < 10; i++)
        assert_false(ml_aml_state_final(ml_aml_state_parse(pending[i])));
    assert_int_equal(ml_aml_state_parse("Running"), ML_AML_RUNNING);
    assert_int_equal(ml_aml_state_parse("Finalizing"), ML_AML_RUNNING);
    assert_true(ml_aml_state_final(ml_aml_state_parse("Completed")));
    assert_true(ml_aml_state_final(ml_aml_state_parse("Failed")));
    assert_true(ml_aml_state_final(ml_aml_state_parse("Canceled")));
    char id[129];
    assert_int_equal(ml_job_id(NULL, "5f0c-ab/x y", id), AOS_OK);
    assert_string_equal(id, "job-5f0c-abxy");
    assert_int_equal(ml_job_id("mine", "x", id), AOS_OK);
    assert_string_equal(id, "mine");
    assert_int_equal(ml_job_id("bad id", "x", id), AOS_ERR_INVALID);
    assert_int_equal(ml_job_id("..", "x", id), AOS_ERR_INVALID);
    assert_int_equal(ml_job_id("-x", "x", id), AOS_ERR_INVALID);
    assert_int_equal(ml_job_id(NULL, "///", id), AOS_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_defaults_and_rules),
        cmocka_unit_test(test_hparams),
        cmocka_unit_test(test_data),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_aml_states_and_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
