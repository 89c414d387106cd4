/* tests/ml/ml_stack.h: the ML pipeline test stack (header-only): RabbitMQ (fixture), the
 * real aos-storage and aos-ml-pipeline binaries (started with tests/runner/stack.h), the
 * test trainer, the fake Azure ML server and the fake model server; plus request helpers. */
#ifndef ML_TEST_STACK_H
#define ML_TEST_STACK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aos/bus.h"
#include "aos/json.h"
#include "aos/storage_client.h"
#include "fake_model.h"
#include "fixture.h"
#include "stack.h"

#ifndef ML_QUEUE
#define ML_QUEUE "aos.test.ml"
#endif
#ifndef ML_STORAGE_QUEUE
#define ML_STORAGE_QUEUE "aos.test.mlstorage"
#endif

typedef struct ml_stack {
    char url[256];
    char dir[128];
    char config[256];
    char tag[32];
    fake_model_t model;
    pid_t aml_pid;
    char aml_base[64];
    proc_t storage, ml[2];
    aos_bus_t *bus;
    aos_storage_client_t *sc;
} ml_stack_t;

static ml_stack_t S;

static inline char *ml_envs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *ml_envs(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static inline const char *ml_src(void)
{
    const char *s = getenv("AOS_SOURCE_DIR");
    return s ? s : AOS_SOURCE_DIR_DEFAULT;
}

static inline int ml_start_aml(void)
{
    char port_file[200], script[600];
    snprintf(port_file, sizeof port_file, "%s/aml.port", S.dir);
    snprintf(script, sizeof script, "%s/tests/ml/fake_azureml.js", ml_src());
    S.aml_pid = fork();
    if (S.aml_pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        execlp("node", "node", script, "--port-file", port_file, "--token", "test-token",
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f) {
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0) {
                snprintf(S.aml_base, sizeof S.aml_base, "http://127.0.0.1:%d", port);
                return 0;
            }
        }
        stack_sleep_ms(50);
    }
    return -1;
}

static inline int ml_start_instance(int i)
{
    char *env[] = {ml_envs("AOS_BUS_URL=%s", S.url),
                   ml_envs("AOS_BUS_PROFILE=rabbitmq"),
                   ml_envs("AOS_CONFIG=%s", S.config),
                   ml_envs("AOS_ML_QUEUE=%s", ML_QUEUE),
                   ml_envs("AOS_STORAGE_QUEUE=%s", ML_STORAGE_QUEUE),
                   ml_envs("AOS_INSTANCE_ID=ml%d-%s", i, S.tag),
                   ml_envs("AOS_ML_WORKDIR=%s/work%d", S.dir, i),
                   ml_envs("AOS_ML_TRAINER_CMD=%s/tests/ml/test_trainer.sh", ml_src()),
                   ml_envs("AOS_ML_LEASE=2s"),
                   ml_envs("AOS_ML_POLL=100ms"),
                   ml_envs("AOS_ML_CANCEL_GRACE=1s"),
                   ml_envs("AOS_ML_MAX_JOBS=4"),
                   ml_envs("AOS_AZUREML_URL=%s", S.aml_base),
                   ml_envs("AOS_AZUREML_SUBSCRIPTION=sub-1"),
                   ml_envs("AOS_AZUREML_RESOURCE_GROUP=rg-aos"),
                   ml_envs("AOS_AZUREML_WORKSPACE=ws-aos"),
                   ml_envs("AOS_AZUREML_TOKEN=test-token"),
                   ml_envs("AOS_AZUREML_COMPUTE=aos-gpu"),
                   ml_envs("AOS_AZUREML_ENVIRONMENT=azureml:aos-lora:1"),
                   ml_envs("AOS_SHUTDOWN_GRACE=3s"),
                   NULL};
    char bin[512], name[16];
    snprintf(bin, sizeof bin, "%s/aos-ml-pipeline", getenv("AOS_BIN_DIR"));
    snprintf(name, sizeof name, "ml%d", i);
    int rc = stack_start(&S.ml[i], bin, S.dir, name, env);
    for (size_t k = 0; env[k]; k++)
        free(env[k]);
    return rc;
}

static inline void ml_write_config(void)
{
    snprintf(S.config, sizeof S.config, "%s/aos.json", S.dir);
    FILE *f = fopen(S.config, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"default_agent\":\"cfo\",\"agents\":["
            "{\"name\":\"cfo\",\"purpose\":\"You are the CFO.\",\"adapter\":\"cfo-lora\","
            " \"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\",\"max_retries\":2}},"
            "{\"name\":\"cmo\",\"purpose\":\"You are the CMO.\","
            " \"endpoint\":{\"provider\":\"azureml\",\"url\":\"%s/score\"}},"
            "{\"name\":\"ceo\",\"purpose\":\"You are the CEO.\"},"
            "{\"name\":\"cto\",\"purpose\":\"You are the CTO.\"}]}",
            S.model.base, S.model.base);
    fclose(f);
}

static inline int ml_stack_setup(void)
{
    if (aos_test_fixture_read("rabbitmq", "url", S.url, sizeof S.url) != 0)
        return -1;
    snprintf(S.dir, sizeof S.dir, "/tmp/aos-ml-e2e-XXXXXX");
    if (!mkdtemp(S.dir))
        return -1;
    snprintf(S.tag, sizeof S.tag, "%d%ld", getpid(), (long)time(NULL) % 100000);
    if (fake_model_start(&S.model, NULL) != 0 || ml_start_aml() != 0)
        return -1;
    ml_write_config();
    char *senv[] = {ml_envs("AOS_BUS_URL=%s", S.url),
                    ml_envs("AOS_BUS_PROFILE=rabbitmq"),
                    ml_envs("AOS_STORAGE_QUEUE=%s", ML_STORAGE_QUEUE),
                    ml_envs("AOS_SQLITE_PATH=%s/aos.db", S.dir),
                    ml_envs("AOS_INSTANCE_ID=mlstorage-%s", S.tag),
                    NULL};
    char bin[512];
    snprintf(bin, sizeof bin, "%s/aos-storage", getenv("AOS_BIN_DIR"));
    int rc = stack_start(&S.storage, bin, S.dir, "storage", senv);
    for (size_t i = 0; senv[i]; i++)
        free(senv[i]);
    if (rc != 0 || ml_start_instance(0) != 0)
        return -1;
    char err[256], inst[64];
    snprintf(inst, sizeof inst, "mltest-%s", S.tag);
    aos_bus_config_t bc = {.url = S.url, .profile = AOS_BUS_PROFILE_RABBITMQ, .instance_id = inst};
    if (aos_bus_new(&bc, &S.bus, err, sizeof err) != AOS_OK || aos_bus_start(S.bus) != AOS_OK ||
        aos_bus_wait_connected(S.bus, 20000) != AOS_OK)
        return -1;
    aos_storage_client_config_t scc = {.bus = S.bus, .queue = ML_STORAGE_QUEUE, .timeout_ms = 5000};
    return aos_storage_client_new(&scc, &S.sc, err, sizeof err) == AOS_OK ? 0 : -1;
}

static inline int ml_stack_teardown(void)
{
    aos_storage_client_free(S.sc);
    aos_bus_free(S.bus);
    int rc = stack_stop(&S.ml[0], SIGTERM);
    stack_stop(&S.ml[1], SIGTERM);
    stack_stop(&S.storage, SIGTERM);
    fake_model_stop(&S.model);
    if (S.aml_pid > 0) {
        kill(S.aml_pid, SIGTERM);
        waitpid(S.aml_pid, NULL, 0);
    }
    if (rc == 0 && !getenv("AOS_TEST_KEEP")) { /* keep the logs of a failed run */
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", S.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", S.dir);
    }
    return rc;
}

/* ---- requests ---- */

/* One aos.ml request. Returns the reply data (caller puts it); on an aos.error reply,
 * NULL with *out_err = the error code (AOS_OK otherwise) and msg filled. */
static inline json_object *ml_call(const char *op, const char *json, aos_result *out_err, char *msg,
                                   size_t msglen)
{
    char type[64];
    snprintf(type, sizeof type, "aos.ml.%s", op);
    aos_event_t *ev = NULL, *reply = NULL;
    assert_int_equal(aos_event_create(type, "/test/ml", json, &ev), AOS_OK);
    assert_int_equal(aos_bus_request_sync(S.bus, ML_QUEUE, ev, 60000, &reply), AOS_OK);
    aos_event_free(ev);
    char m[512] = "";
    aos_result code = aos_bus_reply_result(reply, m, sizeof m);
    if (out_err)
        *out_err = code;
    if (msg)
        snprintf(msg, msglen, "%s", m);
    json_object *o = NULL;
    if (code == AOS_OK) {
        char want[80];
        snprintf(want, sizeof want, "%s.result", type);
        assert_string_equal(reply->type, want);
        assert_int_equal(aos_json_parse(reply->data, reply->data_len, 0, 0, &o, NULL, 0), AOS_OK);
    }
    aos_event_free(reply);
    return o;
}

static inline json_object *ml_ok(const char *op, const char *json)
{
    aos_result code;
    char msg[512];
    json_object *o = ml_call(op, json, &code, msg, sizeof msg);
    if (code != AOS_OK)
        fail_msg("%s failed: %s: %s", op, aos_result_code(code), msg);
    return o;
}

static inline const char *ml_str(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static inline int64_t ml_int(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

static inline bool ml_final(const char *s)
{
    return s && (!strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
}

/* Poll get_job until the job ends (or 90 s pass); returns the record. */
static inline json_object *ml_wait_job(const char *id)
{
    char q[200];
    snprintf(q, sizeof q, "{\"job_id\":\"%s\"}", id);
    for (int i = 0; i < 900; i++) {
        json_object *j = ml_ok("get_job", q);
        if (ml_final(ml_str(j, "state")))
            return j;
        json_object_put(j);
        stack_sleep_ms(100);
    }
    fail_msg("job %s did not end", id);
    return NULL;
}

/* Poll until pred(state record) holds. */
static inline json_object *ml_wait_until(const char *id, bool (*pred)(json_object *))
{
    char q[200];
    snprintf(q, sizeof q, "{\"job_id\":\"%s\"}", id);
    for (int i = 0; i < 600; i++) {
        json_object *j = ml_ok("get_job", q);
        if (pred(j))
            return j;
        json_object_put(j);
        stack_sleep_ms(100);
    }
    fail_msg("job %s never reached the expected state", id);
    return NULL;
}

static inline void ml_put_blob(const char *name, const char *content)
{
    aos_storage_blob_info_t info = {0};
    char err[256];
    assert_int_equal(aos_storage_blob_put_buffer_sync(S.sc, "mldata", name, "application/jsonl",
                                                      content, strlen(content), &info, err,
                                                      sizeof err),
                     AOS_OK);
    aos_storage_blob_info_clear(&info);
}

static inline json_object *ml_aml_state(void)
{
    fake_model_t f = {0};
    snprintf(f.base, sizeof f.base, "%s", S.aml_base);
    return fake_model_admin(&f, "GET", "/_state", NULL);
}

#endif
