/* Unit tests: agent definitions from the config file (aos/agents.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aos/agents.h"

static aos_agents_config_t *parse_ok(const char *json)
{
    char err[512] = "";
    aos_agents_config_t *cfg = NULL;
    aos_result r = aos_agents_config_parse(json, strlen(json), &cfg, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("parse failed: %s", err);
    return cfg;
}

/* Parse must fail and the message must contain want. */
static void parse_fails(const char *json, const char *want)
{
    char err[512] = "";
    aos_agents_config_t *cfg = (aos_agents_config_t *)0x1;
    aos_result r = aos_agents_config_parse(json, strlen(json), &cfg, err, sizeof err);
    assert_int_not_equal(r, AOS_OK);
    assert_null(cfg);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}

static void test_sample_config_loads(void **state)
{
    (void)state;
    char path[1024], err[512] = "";
    snprintf(path, sizeof path, "%s/deploy/config/aos.json", AOS_SOURCE_DIR);
    aos_agents_config_t *cfg = NULL;
    aos_result r = aos_agents_config_load(path, &cfg, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("%s", err);
    assert_non_null(aos_agents_find(cfg, "ceo"));
    assert_non_null(aos_agents_find(cfg, "cfo"));
    assert_non_null(aos_agents_find(cfg, "cmo"));
    assert_string_equal(aos_agents_default(cfg)->name, "default");
    const aos_agent_def_t *cfo = aos_agents_find(cfg, "cfo");
    assert_true(aos_agent_subscribed(cfo, "Microsoft.Storage.BlobCreated"));
    assert_int_equal(cfo->endpoint_count, 0); /* offline */
    assert_true(aos_agents_find(cfg, "cmo")->schedule.enabled);
    assert_int_equal(cfg->settings.sync_timeout_ms, 30000);
    aos_agents_config_free(cfg);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    char err[512] = "";
    aos_agents_config_t *cfg = NULL;
    assert_int_equal(aos_agents_config_load("/nonexistent/aos.json", &cfg, err, sizeof err),
                     AOS_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "/nonexistent/aos.json"));
}

static void test_full_agent(void **state)
{
    (void)state;
    aos_agents_config_t *cfg = parse_ok(
        "{\"default_agent\":\"a\",\"routing\":{\"sticky\":false,\"classifier\":{\"provider\":"
        "\"openai\",\"url\":\"http://127.0.0.1:9/v1\",\"model\":\"router\"}},"
        "\"settings\":{\"sync_timeout_ms\":5000,\"max_inflight\":1000},"
        "\"agents\":[{\"name\":\"a\",\"purpose\":\"p\",\"adapter\":\"a-lora\",\"max_history\":4,"
        "\"domain_knowledge\":[{\"container\":\"k\",\"name\":\"a.md\"}],"
        "\"endpoint\":[{\"provider\":\"azure-openai\",\"url\":\"https://x.openai.azure.com\","
        "\"deployment\":\"gpt\",\"api_version\":\"2024-06-01\",\"api_key_env\":\"AOS_TEST_KEY\","
        "\"timeout_ms\":1000,\"max_retries\":2,\"temperature\":0.5,\"max_tokens\":100,"
        "\"requests_per_minute\":600,\"tokens_per_minute\":90000},"
        "{\"provider\":\"offline\"}],"
        "\"schedule\":{\"interval_s\":60,\"text\":\"tick\"}},"
        "{\"name\":\"b-2\",\"purpose\":\"q\"}]}");
    assert_false(cfg->routing.sticky);
    assert_true(cfg->routing.has_classifier);
    assert_int_equal(cfg->routing.classifier.provider, AOS_PROVIDER_OPENAI);
    assert_int_equal(cfg->settings.sync_timeout_ms, 5000);
    assert_int_equal(cfg->settings.max_inflight, 1000);
    assert_int_equal(cfg->settings.max_body_bytes, 1024 * 1024);
    const aos_agent_def_t *a = aos_agents_find(cfg, "a");
    assert_int_equal(a->endpoint_count, 2);
    assert_int_equal(a->endpoints[0].provider, AOS_PROVIDER_AZURE_OPENAI);
    assert_string_equal(a->endpoints[0].deployment, "gpt");
    assert_int_equal(a->endpoints[0].max_retries, 2);
    assert_int_equal(a->endpoints[0].requests_per_minute, 600);
    assert_int_equal(a->endpoints[0].tokens_per_minute, 90000);
    assert_int_equal(a->endpoints[1].requests_per_minute, 0); /* none */
    assert_true(a->endpoints[0].temperature > 0.49 && a->endpoints[0].temperature < 0.51);
    assert_int_equal(a->endpoints[1].provider, AOS_PROVIDER_OFFLINE);
    assert_int_equal(a->endpoints[1].timeout_ms, 30000);
    assert_true(a->endpoints[1].temperature < 0);
    assert_int_equal(a->max_history, 4);
    assert_int_equal(aos_agents_find(cfg, "b-2")->max_history, 20);
    assert_string_equal(a->domain_knowledge[0].container, "k");
    assert_null(aos_endpoint_api_key(&a->endpoints[0]));
    setenv("AOS_TEST_KEY", "sekrit", 1);
    assert_string_equal(aos_endpoint_api_key(&a->endpoints[0]), "sekrit");
    unsetenv("AOS_TEST_KEY");
    time_t next = 0;
    assert_int_equal(aos_schedule_next(&a->schedule, 1000, &next), AOS_OK);
    assert_int_equal(next, 1020); /* interval ticks sit on the epoch's grid */
    assert_int_equal(aos_schedule_next(&a->schedule, 1020, &next), AOS_OK);
    assert_int_equal(next, 1080);
    assert_int_equal(aos_schedule_next(&a->schedule, 1079, &next), AOS_OK);
    assert_int_equal(next, 1080);
    assert_int_equal(aos_schedule_next(&aos_agents_find(cfg, "b-2")->schedule, 1000, &next),
                     AOS_ERR_INVALID);
    aos_agents_config_free(cfg);
}

static void test_single_agent_is_default(void **state)
{
    (void)state;
    aos_agents_config_t *cfg = parse_ok("{\"agents\":[{\"name\":\"solo\",\"purpose\":\"p\"}]}");
    assert_string_equal(cfg->default_agent, "solo");
    /* the default lets one runner hold 1,000 slow model calls (issue 12 item 4) */
    assert_true(cfg->settings.max_inflight >= 1000);
    aos_agents_config_free(cfg);
}

#define AG(x) "{\"default_agent\":\"a\",\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}," x "]}"

static void test_errors_name_the_path(void **state)
{
    (void)state;
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\"},{\"name\":\"c\",\"purpose\":\"p\","
                   "\"endpoint\":{\"provider\":\"azure\",\"url\":\"http://x\"}}"),
                "agents[2].endpoint.provider: unknown provider \"azure\"");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"endpoint\":[{\"provider\":\"offline\"},"
                   "{\"provider\":\"openai\"}]}"),
                "agents[1].endpoint[1].url: required");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"keyword\":[\"x\"]}"),
                "agents[1].keyword: unknown key");
    parse_fails(AG("{\"name\":\"a\",\"purpose\":\"p\"}"), "agents[1].name: duplicate");
    parse_fails(AG("{\"name\":\"B\",\"purpose\":\"p\"}"), "agents[1].name: \"B\" is not a valid");
    parse_fails(AG("{\"name\":\"b\"}"), "agents[1].purpose: required");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":42}"), "agents[1].purpose: expected a string");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"patterns\":[\"(unclosed\"]}"),
                "agents[1].patterns[0]: invalid regular expression");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"keywords\":[\"ok\",7]}"),
                "agents[1].keywords[1]: expected a string");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"endpoint\":{\"provider\":\"openai\","
                   "\"url\":\"http://x\",\"api_key_env\":\"sk-abc123-literal-key\"}}"),
                "agents[1].endpoint.api_key_env: must be an environment variable name");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"endpoint\":{\"provider\":"
                   "\"azure-openai\",\"url\":\"https://x\"}}"),
                "agents[1].endpoint.deployment: required for provider azure-openai");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"endpoint\":{\"provider\":\"openai\","
                   "\"url\":\"ftp://x\"}}"),
                "agents[1].endpoint.url: must start with http");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"max_history\":-1}"),
                "agents[1].max_history: out of range");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"schedule\":{\"text\":\"t\"}}"),
                "agents[1].schedule: needs exactly one of interval_s or cron");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"schedule\":{\"cron\":\"61 * * * *\","
                   "\"text\":\"t\"}}"),
                "agents[1].schedule.cron: minute");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"event_subscriptions\":[\"a.*.b\"]}"),
                "agents[1].event_subscriptions[0]: '*' is only allowed at the end");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"domain_knowledge\":[{\"name\":\"x\"}]}"),
                "agents[1].domain_knowledge[0].container: required");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"endpoint\":{\"provider\":\"openai\","
                   "\"url\":\"http://x\",\"temperature\":3}}"),
                "agents[1].endpoint.temperature: out of range");
    parse_fails(AG("{\"name\":\"b\",\"purpose\":\"p\",\"endpoint\":{\"provider\":\"openai\","
                   "\"url\":\"http://x\",\"requests_per_minute\":0}}"),
                "agents[1].endpoint.requests_per_minute: out of range");
}

static void test_top_level_errors(void **state)
{
    (void)state;
    parse_fails("{\"agents\":[]}", "agents: at least one agent");
    parse_fails("{}", "agents: required");
    parse_fails("[]", "expected a JSON object");
    parse_fails("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"},{\"name\":\"b\",\"purpose\":"
                "\"p\"}]}",
                "default_agent: required");
    parse_fails("{\"default_agent\":\"zz\",\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}]}",
                "default_agent: \"zz\" names no agent");
    parse_fails("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}],\"setings\":{}}",
                "setings: unknown key");
    parse_fails("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}],\"settings\":{\"max_body_bytes"
                "\":1}}",
                "settings.max_body_bytes: must be between 1024 and 67108864");
    /* the agents' settings are read by the services' config loader (aos/config.h) */
    parse_fails("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}],\"settings\":{\"sync_timeout_ms"
                "\":true}}",
                "settings.sync_timeout_ms must be a number or string");
    parse_fails("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}],\"settings\":[]}",
                "settings: expected an object");
    aos_agents_config_t *units = NULL;
    const char *with_units = "{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}],\"settings\":{"
                             "\"sync_timeout_ms\":\"45s\",\"max_text_bytes\":\"8k\","
                             "\"bus_url\":\"amqp://x\"}}";
    assert_int_equal(aos_agents_config_parse(with_units, strlen(with_units), &units, NULL, 0),
                     AOS_OK);
    assert_int_equal(units->settings.sync_timeout_ms, 45000);
    assert_int_equal(units->settings.max_text_bytes, 8192);
    assert_int_equal(units->settings.max_history, 20);
    aos_agents_config_free(units);
    /* a text the router accepts must fit one stored message (256 KiB; docs/http-api.md) */
    parse_fails("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}],\"settings\":{\"max_text_bytes"
                "\":262145}}",
                "settings.max_text_bytes: must be between 1 and 262144");
    parse_fails("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}],\"routing\":{\"sticky\":1}}",
                "routing.sticky: expected true or false");
    parse_fails("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}]} x", "invalid JSON");
    parse_fails("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\"}]", "invalid JSON");
    parse_fails("{\"agents\":[{\"name\":\"a\",\"purpose\":\"\xff\xfe\"}]}", "invalid JSON");
    parse_fails("", "invalid JSON");
    char nul[] = "{\"agents\":[]}\0";
    aos_agents_config_t *cfg = NULL;
    assert_int_equal(aos_agents_config_parse(nul, sizeof nul - 1, &cfg, NULL, 0), AOS_ERR_INVALID);
}

static void test_keywords_whole_words(void **state)
{
    (void)state;
    aos_agents_config_t *cfg = parse_ok("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\","
                                        "\"keywords\":[\"Budget\",\"cash flow\",\"c++\"]}]}");
    const aos_agent_def_t *a = aos_agents_default(cfg);
    const char *hint = NULL;
    assert_true(aos_agent_match_keywords(a, "What is our BUDGET?", &hint));
    assert_string_equal(hint, "budget");
    assert_false(aos_agent_match_keywords(a, "budgetary concerns", NULL));
    assert_false(aos_agent_match_keywords(a, "overbudget", NULL));
    assert_true(aos_agent_match_keywords(a, "our Cash Flow looks thin", &hint));
    assert_string_equal(hint, "cash flow");
    assert_false(aos_agent_match_keywords(a, "cash flows", NULL));
    assert_true(aos_agent_match_keywords(a, "we use c++ here", NULL));
    assert_false(aos_agent_match_keywords(a, "", NULL));
    assert_false(aos_agent_match_keywords(a, NULL, NULL));
    aos_agents_config_free(cfg);
}

static void test_patterns(void **state)
{
    (void)state;
    aos_agents_config_t *cfg = parse_ok("{\"agents\":[{\"name\":\"a\",\"purpose\":\"p\","
                                        "\"patterns\":[\"q[1-4] (results|forecast)\","
                                        "\"^invoice #[0-9]+$\"]}]}");
    const aos_agent_def_t *a = aos_agents_default(cfg);
    const char *hint = NULL;
    assert_true(aos_agent_match_patterns(a, "Show me Q3 Results please", &hint));
    assert_string_equal(hint, "q[1-4] (results|forecast)");
    assert_true(aos_agent_match_patterns(a, "invoice #123", &hint));
    assert_false(aos_agent_match_patterns(a, "the q5 results", NULL));
    aos_agents_config_free(cfg);
}

static void test_event_type_matching(void **state)
{
    (void)state;
    assert_true(
        aos_event_type_matches("Microsoft.Storage.BlobCreated", "Microsoft.Storage.BlobCreated"));
    assert_false(
        aos_event_type_matches("Microsoft.Storage.BlobCreated", "microsoft.storage.blobcreated"));
    assert_true(aos_event_type_matches("com.example.*", "com.example.order.created"));
    assert_false(aos_event_type_matches("com.example.*", "com.examples.x"));
    assert_true(aos_event_type_matches("*", "anything"));
    assert_false(aos_event_type_matches("a.b", "a.b.c"));
}

static void test_cron(void **state)
{
    (void)state;
    aos_schedule_t s = {.enabled = true};
    char err[256];
    assert_int_equal(aos_schedule_parse_cron("0 8 * * 1", &s, err, sizeof err), AOS_OK);
    /* 2026-11-24 is a Tuesday; next Monday 08:00 UTC is 2026-11-30. */
    struct tm tm = {.tm_year = 126, .tm_mon = 10, .tm_mday = 24, .tm_hour = 1, .tm_min = 19};
    time_t now = timegm(&tm), next = 0;
    assert_int_equal(aos_schedule_next(&s, now, &next), AOS_OK);
    struct tm out;
    gmtime_r(&next, &out);
    assert_int_equal(out.tm_mday, 30);
    assert_int_equal(out.tm_hour, 8);
    assert_int_equal(out.tm_min, 0);

    aos_schedule_t e = {.enabled = true};
    assert_int_equal(aos_schedule_parse_cron("*/15 * * * *", &e, err, sizeof err), AOS_OK);
    assert_int_equal(aos_schedule_next(&e, now, &next), AOS_OK);
    gmtime_r(&next, &out);
    assert_int_equal(out.tm_min, 30);
    assert_int_equal(out.tm_hour, 1);

    aos_schedule_t f = {.enabled = true};
    assert_int_equal(aos_schedule_parse_cron("0 0 31 2 *", &f, err, sizeof err), AOS_OK);
    assert_int_equal(aos_schedule_next(&f, now, &next), AOS_ERR_NOT_FOUND);

    aos_schedule_t g = {.enabled = true};
    assert_int_equal(aos_schedule_parse_cron("0 12 29 2 *", &g, err, sizeof err), AOS_OK);
    assert_int_equal(aos_schedule_next(&g, now, &next), AOS_OK);
    gmtime_r(&next, &out);
    assert_int_equal(out.tm_year + 1900, 2028);

    aos_schedule_t h = {.enabled = true};
    assert_int_equal(aos_schedule_parse_cron("0 9 * * 7", &h, err, sizeof err), AOS_OK);
    assert_int_equal(h.cron_dow, 1); /* 7 = Sunday = bit 0 */

    const char *bad[] = {"* * * *",    "* * * * * *", "a * * * *",  "1-0 * * * *", "*/0 * * * *",
                         "* 24 * * *", "* * 0 * *",   "* * * 13 *", "1, * * * *",  "5-/2 * * * *"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aos_schedule_t b = {0};
        if (aos_schedule_parse_cron(bad[i], &b, err, sizeof err) == AOS_OK)
            fail_msg("cron \"%s\" accepted", bad[i]);
    }
}

static void test_names_and_providers(void **state)
{
    (void)state;
    assert_true(aos_agent_name_valid("cfo"));
    assert_true(aos_agent_name_valid("agent_2-x"));
    assert_false(aos_agent_name_valid("-x"));
    assert_false(aos_agent_name_valid("a.b"));
    assert_false(aos_agent_name_valid("a/b"));
    assert_false(aos_agent_name_valid(""));
    assert_false(aos_agent_name_valid(NULL));
    aos_provider p;
    assert_int_equal(aos_provider_parse("azureml", &p), AOS_OK);
    assert_int_equal(p, AOS_PROVIDER_AZUREML);
    assert_string_equal(aos_provider_name(AOS_PROVIDER_AZURE_OPENAI), "azure-openai");
    assert_int_equal(aos_provider_parse("gpt", &p), AOS_ERR_INVALID);
    aos_agents_config_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_config_loads),  cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_full_agent),           cmocka_unit_test(test_single_agent_is_default),
        cmocka_unit_test(test_errors_name_the_path), cmocka_unit_test(test_top_level_errors),
        cmocka_unit_test(test_keywords_whole_words), cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_event_type_matching),  cmocka_unit_test(test_cron),
        cmocka_unit_test(test_names_and_providers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
