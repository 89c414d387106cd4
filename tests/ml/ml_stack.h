/* tests/ml/ml_stack.h: the ML pipeline test stack (header-only): RabbitMQ (fixture), the
 * real aos-storage and aos-ml-pipeline binaries (started with tests/support/stack.h), the
 * test trainer, the fake Azure ML server and the fake model server; plus request helpers. */
#ifndef ML_TEST_STACK_H
#define ML_TEST_STACK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_model.h"
#include "stack_bus.h"

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
static const stack_where_t ML_W = {S.url, S.dir, S.tag, ML_STORAGE_QUEUE};

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
    char *env[] = {stack_env("AOS_CONFIG=%s", S.config),
                   stack_env("AOS_ML_QUEUE=%s", ML_QUEUE),
                   stack_env("AOS_ML_WORKDIR=%s/work%d", S.dir, i),
                   stack_env("AOS_ML_TRAINER_CMD=%s/tests/ml/test_trainer.sh", ml_src()),
                   stack_env("AOS_ML_LEASE=2s"),
                   stack_env("AOS_ML_POLL=100ms"),
                   stack_env("AOS_ML_CANCEL_GRACE=1s"),
                   stack_env("AOS_ML_MAX_JOBS=4"),
                   stack_env("AOS_AZUREML_URL=%s", S.aml_base),
                   stack_env("AOS_AZUREML_SUBSCRIPTION=sub-1"),
                   stack_env("AOS_AZUREML_RESOURCE_GROUP=rg-aos"),
                   stack_env("AOS_AZUREML_WORKSPACE=ws-aos"),
                   stack_env("AOS_AZUREML_TOKEN=test-token"),
                   stack_env("AOS_AZUREML_COMPUTE=aos-gpu"),
                   stack_env("AOS_AZUREML_ENVIRONMENT=azureml:aos-lora:1"),
                   stack_env("AOS_SHUTDOWN_GRACE=3s"),
                   NULL};
    char name[16];
    snprintf(name, sizeof name, "ml%d", i);
    return stack_start_service(&S.ml[i], &ML_W, "aos-ml-pipeline", name, name, env);
}

static inline void ml_write_config(void)
{
    assert_int_equal(
        stack_write_config(
            S.config, sizeof S.config, S.dir,
            "{\"default_agent\":\"cfo\",\"agents\":["
            "{\"name\":\"cfo\",\"purpose\":\"You are the CFO.\",\"adapter\":\"cfo-lora\","
            " \"endpoint\":{\"provider\":\"openai\",\"url\":\"%s\",\"max_retries\":2}},"
            "{\"name\":\"cmo\",\"purpose\":\"You are the CMO.\","
            " \"endpoint\":{\"provider\":\"azureml\",\"url\":\"%s/score\"}},"
            "{\"name\":\"ceo\",\"purpose\":\"You are the CEO.\"},"
            "{\"name\":\"cto\",\"purpose\":\"You are the CTO.\"}]}",
            S.model.base, S.model.base),
        0);
}

static inline int ml_stack_setup(void)
{
    if (stack_prepare(S.url, sizeof S.url, S.dir, sizeof S.dir, "/tmp/aos-ml-e2e-XXXXXX", S.tag,
                      sizeof S.tag) != 0 ||
        fake_model_start(&S.model, NULL) != 0 || ml_start_aml() != 0)
        return -1;
    ml_write_config();
    if (stack_start_storage(&S.storage, &ML_W, "mlstorage", NULL) != 0 ||
        ml_start_instance(0) != 0 || stack_bus_open(&ML_W, "mltest", &S.bus) != 0)
        return -1;
    return stack_storage_open(&ML_W, S.bus, 5000, &S.sc);
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

/* aos-router of the stack on a free port (*out_port), instance "<instance>-<tag>", with the
 * one API key api_key. */
static inline int ml_start_router(proc_t *p, const char *instance, const char *api_key,
                                  int *out_port)
{
    *out_port = stack_free_port();
    char *env[] = {stack_env("AOS_CONFIG=%s", S.config),
                   stack_env("AOS_HTTP_ADDR=127.0.0.1:%d", *out_port),
                   stack_env("AOS_API_KEYS=%s", api_key), NULL};
    return stack_start_service(p, &ML_W, "aos-router", "router", instance, env);
}

/* One HTTP call to the router at port with api_key (JSON body, may be NULL); the parsed
 * answer (NULL when not JSON), *status; *out_text (may be NULL) the answer as sent (free it). */
static inline json_object *ml_http(int port, const char *api_key, const char *method,
                                   const char *path, const char *body, long timeout_ms,
                                   long *status, char **out_text)
{
    char url[600], auth[200], *text = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", api_key);
    const char *h[] = {"Content-Type: application/json", auth, NULL};
    *status = stack_http(method, url, h, body, timeout_ms, &text);
    assert_int_not_equal(*status, 0); /* an answer came */
    json_object *o = json_tokener_parse(text);
    if (out_text)
        *out_text = text;
    else
        free(text);
    return o;
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
