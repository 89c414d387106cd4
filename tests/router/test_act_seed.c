/* Unit tests: the seed's PerpetualAgent.act parameters mapped onto AOS's own ML requests
 * (services/router/act_seed.c, docs/http-api.md "POST /v1/agents/{agent}/act"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "act_seed.h"
#include "aos/json.h"

static const char *CFG = "{\"default_agent\":\"cfo\",\"agents\":["
                         "{\"name\":\"cfo\",\"purpose\":\"Money.\",\"adapter\":\"cfo-lora\"},"
                         "{\"name\":\"cmo\",\"purpose\":\"Marketing.\"}]}";

static aos_agents_config_t *cfg;

static int setup(void **state)
{
    (void)state;
    char err[256];
    return aos_agents_config_parse(CFG, strlen(CFG), &cfg, err, sizeof err) == AOS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    aos_agents_config_free(cfg);
    return 0;
}

/* Map (action, params JSON) for agent; returns the mapped object as canonical JSON text, or
 * NULL with *why filled. */
static char *map(const char *agent, const char *action, const char *params, char *why,
                 size_t whylen)
{
    json_object *p = params ? json_tokener_parse(params) : NULL;
    if (params)
        assert_non_null(p);
    json_object *out = NULL;
    aos_result r =
        router_act_params(cfg, aos_agents_find(cfg, agent), action, p, &out, why, whylen);
    json_object_put(p);
    if (r != AOS_OK) {
        assert_null(out);
        return NULL;
    }
    char *s = strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    json_object_put(out);
    return s;
}

static void expect(const char *agent, const char *action, const char *params, const char *want)
{
    char why[256] = "";
    char *got = map(agent, action, params, why, sizeof why);
    if (!got)
        fail_msg("%s %s refused: %s", action, params ? params : "(null)", why);
    json_object *a = json_tokener_parse(got), *b = json_tokener_parse(want);
    assert_non_null(b);
    if (!json_object_equal(a, b))
        fail_msg("%s %s\n  got  %s\n  want %s", action, params, got, want);
    json_object_put(a);
    json_object_put(b);
    free(got);
}

static void refuse(const char *action, const char *params, const char *why_has)
{
    char why[256] = "";
    char *got = map("cfo", action, params, why, sizeof why);
    if (got)
        fail_msg("%s %s accepted as %s", action, params, got);
    if (!strstr(why, why_has))
        fail_msg("%s %s: \"%s\" does not say \"%s\"", action, params, why, why_has);
}

/* The seed's own call, as written in its README. */
static void test_seed_training(void **state)
{
    (void)state;
    expect("cfo", "trigger_lora_training",
           "{\"training_params\":{\"model_name\":\"meta-llama/Llama-3.1-8B-Instruct\","
           "\"data_path\":\"./data/train.jsonl\",\"output_dir\":\"./outputs\"},"
           "\"adapters\":[{\"adapter_name\":\"lora_qv\",\"task_type\":\"causal_lm\",\"r\":16,"
           "\"lora_alpha\":32,\"target_modules\":[\"q_proj\",\"v_proj\"]}]}",
           "{\"base_model\":\"meta-llama/Llama-3.1-8B-Instruct\","
           "\"dataset\":{\"container\":\"data\",\"name\":\"train.jsonl\"},"
           "\"adapter_name\":\"lora_qv\",\"lora\":{\"task_type\":\"CAUSAL_LM\",\"r\":16,"
           "\"lora_alpha\":32,\"target_modules\":[\"q_proj\",\"v_proj\"]}}");
    /* transformers' hyperparameter names; AOS keys pass through unchanged */
    expect(
        "cfo", "trigger_lora_training",
        "{\"training_params\":{\"num_train_epochs\":2,\"per_device_train_batch_size\":8,"
        "\"data_path\":\"training/cfo/q3.jsonl\"},\"backend\":\"local\"}",
        "{\"backend\":\"local\",\"dataset\":{\"container\":\"training\",\"name\":\"cfo/q3.jsonl\"},"
        "\"hyperparameters\":{\"epochs\":2,\"batch_size\":8}}");
    /* AOS's own shape is untouched */
    expect("cfo", "trigger_lora_training",
           "{\"dataset\":{\"container\":\"mldata\",\"name\":\"a.jsonl\"},\"lora\":{\"r\":4}}",
           "{\"dataset\":{\"container\":\"mldata\",\"name\":\"a.jsonl\"},\"lora\":{\"r\":4}}");
    expect("cfo", "trigger_lora_training", NULL, "{}");
}

static void test_seed_training_refusals(void **state)
{
    (void)state;
    refuse("trigger_lora_training", "{\"training_params\":{\"data_path\":\"train.jsonl\"}}",
           "<container>/<name>");
    refuse("trigger_lora_training", "{\"training_params\":{\"data_path\":\"../x/y.jsonl\"}}",
           "<container>/<name>");
    refuse("trigger_lora_training", "{\"training_params\":{\"seed\":1}}",
           "unknown field 'training_params.seed'");
    refuse("trigger_lora_training", "{\"adapters\":[]}", "exactly one adapter");
    refuse("trigger_lora_training", "{\"adapters\":[{\"r\":4},{\"r\":8}]}", "exactly one adapter");
    refuse("trigger_lora_training", "{\"adapters\":[{\"alpha\":4}]}", "adapters[0].alpha");
    refuse("trigger_lora_training", "{\"adapters\":[{\"r\":4}],\"lora\":{\"r\":4}}",
           "either 'lora' or 'adapters'");
    refuse("trigger_lora_training",
           "{\"base_model\":\"a\",\"training_params\":{\"model_name\":\"b\"}}", "base_model");
    refuse("trigger_lora_training",
           "{\"data\":{\"container\":\"ctr\",\"name\":\"n\"},"
           "\"training_params\":{\"data_path\":\"ctr/m\"}}",
           "either 'data'");
    refuse("trigger_lora_training", "{\"training_params\":[]}", "training_params");
    refuse("no_such_action", "{}", "unknown action");
}

static void test_seed_pipeline(void **state)
{
    (void)state;
    expect("cmo", "run_azure_ml_pipeline",
           "{\"subscription_id\":\"sub-1\",\"resource_group\":\"rg\",\"workspace_name\":\"ws\"}",
           "{\"workspace\":{\"subscription_id\":\"sub-1\",\"resource_group\":\"rg\","
           "\"workspace_name\":\"ws\"},\"backend\":\"azureml\","
           "\"dataset\":{\"container\":\"training\",\"name\":\"cmo.jsonl\"}}");
    /* data given: kept; no workspace: nothing added but the default data */
    expect("cmo", "run_azure_ml_pipeline", "{\"data_jsonl\":\"{}\"}", "{\"data_jsonl\":\"{}\"}");
    refuse("run_azure_ml_pipeline", "{\"subscription_id\":\"s\",\"resource_group\":\"r\"}",
           "workspace_name");
    refuse("run_azure_ml_pipeline",
           "{\"subscription_id\":\"s\",\"resource_group\":\"r\",\"workspace_name\":\"w\","
           "\"backend\":\"local\"}",
           "backend");
    refuse("run_azure_ml_pipeline",
           "{\"subscription_id\":\"\",\"resource_group\":\"r\",\"workspace_name\":\"w\"}",
           "subscription_id");
}

static void test_seed_infer(void **state)
{
    (void)state;
    expect("cfo", "aml_infer", "{\"agent_id\":\"cmo\",\"prompt\":\"Q2 plan?\"}",
           "{\"agent\":\"cmo\",\"prompt\":\"Q2 plan?\"}");
    expect("cfo", "aml_infer", "{\"agent_id\":\"cmo-lora-v2\",\"prompt\":\"Q2 plan?\"}",
           "{\"adapter\":\"cmo-lora-v2\",\"prompt\":\"Q2 plan?\"}");
    expect("cfo", "aml_infer", "{\"input\":\"x\"}", "{\"input\":\"x\"}");
    refuse("aml_infer", "{\"agent_id\":\"bad name!\"}", "agent_id");
    refuse("aml_infer", "{\"agent_id\":\"cmo\",\"agent\":\"cfo\"}", "agent_id");
    refuse("aml_infer", "{\"agent_id\":7}", "agent_id");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_training),
        cmocka_unit_test(test_seed_training_refusals),
        cmocka_unit_test(test_seed_pipeline),
        cmocka_unit_test(test_seed_infer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
