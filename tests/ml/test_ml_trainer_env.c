/* The local trainer gets an environment allowlist, not every secret (issue 9 item 8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include "ml_trainer_env.h"

static bool has(char **env, const char *entry)
{
    for (size_t i = 0; env[i]; i++)
        if (strcmp(env[i], entry) == 0)
            return true;
    return false;
}

static void test_secrets_stay_out(void **state)
{
    (void)state;
    char *in[] = {"PATH=/usr/bin",
                  "HOME=/home/aos",
                  "LC_ALL=C.UTF-8",
                  "CUDA_VISIBLE_DEVICES=0",
                  "AOS_SERVICEBUS_CONNECTION_STRING=Endpoint=sb://x/;SharedAccessKey=s",
                  "AZURE_STORAGE_CONNECTION_STRING=AccountKey=k",
                  "AOS_API_KEYS=k1,k2",
                  "AZURE_OPENAI_API_KEY=secret",
                  "AOS_AZUREML_TOKEN=t",
                  "AOS_BOT_APP_PASSWORD=p",
                  "HF_TOKEN=hf_x",
                  "WANDB_API_KEY=w",
                  "PATHOLOGICAL=1",
                  "=weird",
                  NULL};
    char **out = NULL;
    assert_int_equal(ml_trainer_env_build(in, NULL, &out), AOS_OK);
    assert_true(has(out, "PATH=/usr/bin"));
    assert_true(has(out, "HOME=/home/aos"));
    assert_true(has(out, "LC_ALL=C.UTF-8"));
    assert_true(has(out, "CUDA_VISIBLE_DEVICES=0"));
    size_t n = 0;
    while (out[n])
        n++;
    assert_int_equal(n, 4);
    free(out);

    assert_int_equal(ml_trainer_env_build(in, "HF_TOKEN, WANDB_*", &out), AOS_OK);
    assert_true(has(out, "HF_TOKEN=hf_x"));
    assert_true(has(out, "WANDB_API_KEY=w"));
    assert_false(has(out, "AOS_API_KEYS=k1,k2"));
    free(out);
    assert_false(ml_trainer_env_allowed("AOS_API_KEYS=x", "*")); /* a bare '*' allows nothing */
    assert_false(ml_trainer_env_allowed("PATHX=1", "PATH"));
    assert_true(ml_trainer_env_allowed("PATH", "PATH"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secrets_stay_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
