/* Prompt budgeting and the offline provider. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aos/model.h"
#include "prompt.h"

static aos_model_msg_t HISTORY[6] = {
    {"user", "m0"},      {"assistant", "m1"}, {"user", "m2"},
    {"assistant", "m3"}, {"user", "m4"},      {"bogus-role", "m5"},
};

static void test_layout_and_max_history(void **state)
{
    (void)state;
    runner_knowledge_doc_t docs[] = {{"knowledge/cfo.md", "Cash is king."}};
    runner_prompt_input_t in = {.agent = "cfo",
                                .purpose = "You watch the money.",
                                .knowledge = docs,
                                .knowledge_count = 1,
                                .history = HISTORY,
                                .history_count = 6,
                                .max_history = 3,
                                .user_text = "What now?"};
    runner_prompt_t p = {0};
    assert_int_equal(runner_prompt_build(&in, &p, NULL, 0), AOS_OK);
    assert_int_equal(p.count, 5);
    assert_string_equal(p.msgs[0].role, "system");
    assert_non_null(strstr(p.msgs[0].content, "You are the cfo agent. You watch the money."));
    assert_non_null(strstr(p.msgs[0].content, "## knowledge/cfo.md\nCash is king."));
    assert_string_equal(p.msgs[1].content, "m3");
    assert_string_equal(p.msgs[2].content, "m4");
    assert_string_equal(p.msgs[3].content, "m5");
    assert_string_equal(p.msgs[3].role, "user"); /* unknown roles become user */
    assert_string_equal(p.msgs[4].role, "user");
    assert_string_equal(runner_prompt_user_text(&p), "What now?");
    assert_int_equal(p.history_used, 3);
    assert_int_equal(p.knowledge_used, 1);
    assert_false(p.knowledge_truncated);
    runner_prompt_clear(&p);

    in.max_history = 0;
    assert_int_equal(runner_prompt_build(&in, &p, NULL, 0), AOS_OK);
    assert_int_equal(p.count, 2);
    runner_prompt_clear(&p);
}

static void test_budget(void **state)
{
    (void)state;
    char big_doc[4000], big_msg[300];
    memset(big_doc, 'k', sizeof big_doc - 1);
    big_doc[sizeof big_doc - 1] = '\0';
    memset(big_msg, 'h', sizeof big_msg - 1);
    big_msg[sizeof big_msg - 1] = '\0';
    runner_knowledge_doc_t docs[] = {{"a", big_doc}, {"b", "never reached"}};
    aos_model_msg_t hist[10];
    for (int i = 0; i < 10; i++)
        hist[i] = (aos_model_msg_t){i % 2 ? "assistant" : "user", big_msg};
    hist[9].content = "newest";
    runner_prompt_input_t in = {.agent = "ceo",
                                .purpose = "p",
                                .knowledge = docs,
                                .knowledge_count = 2,
                                .history = hist,
                                .history_count = 10,
                                .max_history = 10,
                                .user_text = "question",
                                .budget_chars = 2000};
    runner_prompt_t p = {0};
    assert_int_equal(runner_prompt_build(&in, &p, NULL, 0), AOS_OK);
    assert_true(p.knowledge_truncated);
    assert_non_null(strstr(p.msgs[0].content, "[... truncated]"));
    assert_null(strstr(p.msgs[0].content, "never reached"));
    assert_true(p.chars <= 2000);
    /* history is the newest contiguous run */
    assert_true(p.history_used < 10);
    assert_true(p.history_used >= 1);
    assert_string_equal(p.msgs[p.count - 2].content, "newest");
    assert_string_equal(runner_prompt_user_text(&p), "question");
    runner_prompt_clear(&p);

    /* a user text larger than the budget is still sent whole; nothing else fits */
    char huge[3000];
    memset(huge, 'u', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    in.user_text = huge;
    assert_int_equal(runner_prompt_build(&in, &p, NULL, 0), AOS_OK);
    assert_int_equal(p.history_used, 0);
    assert_string_equal(runner_prompt_user_text(&p), huge);
    runner_prompt_clear(&p);
}

static void test_invalid_input(void **state)
{
    (void)state;
    runner_prompt_t p = {0};
    runner_prompt_input_t in = {.agent = "x"};
    char err[64];
    assert_int_equal(runner_prompt_build(&in, &p, err, sizeof err), AOS_ERR_INVALID);
    in.user_text = "t";
    in.history_count = 2;
    assert_int_equal(runner_prompt_build(&in, &p, err, sizeof err), AOS_ERR_INVALID);
    assert_null(p.msgs);
}

static void test_offline(void **state)
{
    (void)state;
    runner_prompt_input_t in = {.agent = "cfo",
                                .purpose = "Money.",
                                .history = HISTORY,
                                .history_count = 2,
                                .max_history = 20,
                                .user_text = "How much\ncash do we have?"};
    runner_prompt_t p = {0};
    assert_int_equal(runner_prompt_build(&in, &p, NULL, 0), AOS_OK);
    aos_model_completion_t a = {0}, b = {0};
    assert_int_equal(aos_model_offline_complete("cfo", p.msgs, p.count, p.knowledge_used,
                                                p.knowledge_truncated, &a),
                     AOS_OK);
    assert_int_equal(aos_model_offline_complete("cfo", p.msgs, p.count, p.knowledge_used,
                                                p.knowledge_truncated, &b),
                     AOS_OK);
    assert_string_equal(a.text, b.text); /* deterministic */
    assert_true(strncmp(a.text, "[offline cfo]", 13) == 0);
    assert_non_null(strstr(a.text, "How much cash do we have?"));
    assert_non_null(strstr(a.text, "2 earlier messages"));
    assert_string_equal(a.model, AOS_MODEL_OFFLINE_MODEL);
    assert_true(a.usage.prompt_tokens > 0 && a.usage.completion_tokens > 0);
    assert_int_equal(a.usage.total_tokens, a.usage.prompt_tokens + a.usage.completion_tokens);
    aos_model_completion_clear(&a);
    aos_model_completion_clear(&b);
    runner_prompt_clear(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_max_history),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_offline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
