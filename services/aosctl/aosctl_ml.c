/* aosctl ml: LoRA adapters, training jobs and inference through the router's /v1/ml routes
 * (docs/ml.md). HTTP goes through the shared client (aos/http_client.h). */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "aos/percent.h"
#include "aos/http_client.h"
#include "aos/json.h"
#include "aosctl.h"

static int ml_usage(FILE *err)
{
    fprintf(err,
            "usage: aosctl ml COMMAND\n"
            "  train AGENT --data CONTAINER/NAME [--backend local|azureml] [--base-model M]\n"
            "        [--adapter NAME] [--r N] [--alpha A] [--dropout D] [--target-modules a,b]\n"
            "        [--task-type T] [--epochs N] [--learning-rate LR] [--timeout S]\n"
            "  jobs [--agent A] [--state S]        training jobs, newest first\n"
            "  job JOB_ID                          one job with its steps and progress\n"
            "  cancel JOB_ID                       cancel a job\n"
            "  adapters [--agent A]                the adapter registry: versions, serving,\n"
            "                                      canary and history\n"
            "  canary AGENT VERSION --share PCT [--min-turns N]\n"
            "                                      send PCT%% of new conversations to VERSION\n"
            "  promote AGENT [VERSION] [--reason R]   make VERSION (default: the canary) stable\n"
            "  rollback AGENT [VERSION] [--reason R]  end the canary, or go back to VERSION\n"
            "                                      (default: the previous stable version)\n"
            "  pin AGENT VERSION                   serve VERSION only; new versions wait\n"
            "  unpin AGENT                         let new versions be served again\n"
            "  infer AGENT TEXT...                 ask the agent's adapter\n");
    return 2;
}

/* One call; 0 with *out parsed JSON, else an exit code (message printed). */
static int call(const aosctl_opts_t *o, const char *method, const char *path, const char *body,
                json_object **out)
{
    char url[2048], auth[1100];
    snprintf(url, sizeof url, "%s%s", o->url, path);
    aos_http_header_t h[3] = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    size_t nh = 2;
    if (o->api_key && *o->api_key) {
        snprintf(auth, sizeof auth, "Bearer %s", o->api_key);
        h[nh++] = (aos_http_header_t){"Authorization", auth};
    }
    aos_http_client_t *c = NULL;
    char err[512] = "";
    if (aos_http_client_new(NULL, &c, err, sizeof err) != AOS_OK) {
        fprintf(o->err, "aosctl: %s\n", err);
        return 1;
    }
    aos_http_client_request_t req = {.method = method,
                                     .url = url,
                                     .headers = h,
                                     .header_count = nh,
                                     .body = body,
                                     .body_len = body ? strlen(body) : 0,
                                     .timeout_ms = 60000};
    aos_http_response_t *resp = NULL;
    aos_result r = aos_http_client_do(c, &req, &resp, err, sizeof err);
    int rc = 0;
    json_object *j = NULL;
    if (r != AOS_OK) {
        fprintf(o->err, "aosctl: cannot reach the router at %s: %s\n", o->url, err);
        rc = 1;
    } else if (aos_json_parse(resp->body, resp->body_len, 0, 0, &j, NULL, 0) != AOS_OK) {
        fprintf(o->err, "aosctl: HTTP %d with a body that is not JSON\n", resp->status);
        rc = 1;
    } else if (resp->status < 200 || resp->status >= 300) {
        json_object *e = NULL, *code = NULL, *msg = NULL;
        json_object_object_get_ex(j, "error", &e);
        json_object_object_get_ex(e, "code", &code);
        json_object_object_get_ex(e, "message", &msg);
        fprintf(o->err, "aosctl: %d %s: %s\n", resp->status,
                code ? json_object_get_string(code) : "error",
                msg ? json_object_get_string(msg) : "");
        json_object_put(j);
        j = NULL;
        rc = 1;
    }
    aos_http_response_free(resp);
    aos_http_client_free(c);
    if (rc == 0 && o->json)
        fprintf(o->out, "%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
    *out = j;
    return rc;
}

static const char *s(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && !json_object_is_type(v, json_type_null)
               ? json_object_get_string(v)
               : "-";
}

static void print_job(const aosctl_opts_t *o, json_object *j, bool detail)
{
    json_object *p = NULL;
    json_object_object_get_ex(j, "progress", &p);
    fprintf(o->out, "%-40s %-10s %-10s %-8s %-8s step %s/%s\n", s(j, "job_id"), s(j, "agent"),
            s(j, "state"), s(j, "backend"), s(j, "kind"), s(p, "step"), s(p, "total_steps"));
    if (!detail)
        return;
    fprintf(o->out, "  adapter %s  base model %s  attempt %s\n", s(j, "adapter_name"),
            s(j, "base_model"), s(j, "attempt"));
    if (strcmp(s(j, "reason"), "-") != 0)
        fprintf(o->out, "  reason: %s\n", s(j, "reason"));
    if (strcmp(s(j, "artifact"), "-") != 0)
        fprintf(o->out, "  artifact: %s\n", s(j, "artifact"));
    json_object *steps = NULL;
    json_object_object_get_ex(j, "steps", &steps);
    for (size_t i = 0; steps && i < json_object_array_length(steps); i++) {
        json_object *st = json_object_array_get_idx(steps, i);
        fprintf(o->out, "  step %-14s %s\n", s(st, "name"), s(st, "state"));
    }
}

/* --flag value pairs into a JSON object: each flag maps to a key and a type. */
typedef struct flag {
    const char *flag, *key;
    char type; /* s string, i integer, d number, l comma list */
    bool lora, hp;
} flag_t;

static const flag_t TRAIN_FLAGS[] = {
    {"--backend", "backend", 's', false, false},
    {"--base-model", "base_model", 's', false, false},
    {"--adapter", "adapter_name", 's', false, false},
    {"--timeout", "timeout_s", 'i', false, false},
    {"--r", "r", 'i', true, false},
    {"--alpha", "lora_alpha", 'd', true, false},
    {"--dropout", "lora_dropout", 'd', true, false},
    {"--target-modules", "target_modules", 'l', true, false},
    {"--task-type", "task_type", 's', true, false},
    {"--epochs", "epochs", 'i', false, true},
    {"--learning-rate", "learning_rate", 'd', false, true},
};

static json_object *flag_value(const flag_t *f, const char *v)
{
    char *end = NULL;
    if (f->type == 'i') {
        long long n = strtoll(v, &end, 10);
        return *v && !*end ? json_object_new_int64(n) : NULL;
    }
    if (f->type == 'd') {
        double d = strtod(v, &end);
        return *v && !*end ? json_object_new_double(d) : NULL;
    }
    if (f->type == 'l') {
        json_object *a = json_object_new_array();
        char *copy = strdup(v), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_object_array_add(a, json_object_new_string(t));
        free(copy);
        return a;
    }
    return json_object_new_string(v);
}

static int train_body(const aosctl_opts_t *o, int argc, char **argv, json_object *body)
{
    json_object *lora = json_object_new_object(), *hp = json_object_new_object();
    json_object_object_add(body, "lora", lora);
    json_object_object_add(body, "hyperparameters", hp);
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            fprintf(o->err, "aosctl: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--data") == 0) {
            const char *v = argv[++i], *slash = strchr(v, '/');
            if (!slash || slash == v || !slash[1]) {
                fprintf(o->err, "aosctl: --data wants CONTAINER/NAME\n");
                return 2;
            }
            json_object *d = json_object_new_object();
            json_object_object_add(d, "container", json_object_new_string_len(v, (int)(slash - v)));
            json_object_object_add(d, "name", json_object_new_string(slash + 1));
            json_object_object_add(body, "data", d);
            continue;
        }
        const flag_t *f = NULL;
        for (size_t k = 0; k < sizeof TRAIN_FLAGS / sizeof TRAIN_FLAGS[0] && !f; k++)
            if (strcmp(argv[i], TRAIN_FLAGS[k].flag) == 0)
                f = &TRAIN_FLAGS[k];
        json_object *v = f ? flag_value(f, argv[i + 1]) : NULL;
        if (!v) {
            fprintf(o->err, "aosctl: bad option %s %s\n", argv[i], argv[i + 1]);
            return 2;
        }
        json_object_object_add(f->lora ? lora : f->hp ? hp : body, f->key, v);
        i++;
    }
    if (!json_object_object_get_ex(body, "data", NULL)) {
        fprintf(o->err, "aosctl: --data CONTAINER/NAME is required\n");
        return 2;
    }
    if (json_object_object_length(lora) == 0)
        json_object_object_del(body, "lora");
    if (json_object_object_length(hp) == 0)
        json_object_object_del(body, "hyperparameters");
    return 0;
}

static int cmd_train(const aosctl_opts_t *o, int argc, char **argv)
{
    if (argc < 1 || argv[0][0] == '-')
        return ml_usage(o->err);
    json_object *body = json_object_new_object(), *out = NULL;
    int rc = train_body(o, argc, argv, body);
    if (rc == 0) {
        char path[300];
        snprintf(path, sizeof path, "/v1/ml/adapters/%s/train", argv[0]);
        rc = call(o, "POST", path, json_object_to_json_string(body), &out);
    }
    if (rc == 0 && !o->json)
        print_job(o, out, true);
    json_object_put(out);
    json_object_put(body);
    return rc;
}

/* An adapter: its summary, what serves, its versions and its history (oldest first). */
static void print_adapter(const aosctl_opts_t *o, json_object *x)
{
    fprintf(o->out, "%-12s %-20s %-9s v%-4s %s\n", s(x, "agent"), s(x, "name"), s(x, "status"),
            s(x, "version"), s(x, "artifact"));
    json_object *c = NULL, *pinned = NULL, *arr = NULL;
    json_object_object_get_ex(x, "canary", &c);
    json_object_object_get_ex(x, "pinned", &pinned);
    if (strcmp(s(x, "stable_version"), "-") != 0) {
        fprintf(o->out, "  serving: stable v%s%s", s(x, "stable_version"),
                pinned && json_object_get_boolean(pinned) ? " (pinned)" : "");
        if (c)
            fprintf(o->out, ", canary v%s at %s%% (since %s, min %s turns)", s(c, "version"),
                    s(c, "share"), s(c, "started_ms"), s(c, "min_turns"));
        fprintf(o->out, "\n");
    }
    if (json_object_object_get_ex(x, "versions", &arr))
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *v = json_object_array_get_idx(arr, i);
            fprintf(o->out, "  version v%-4s %-12s deployment %-24s job %s%s%s\n", s(v, "version"),
                    s(v, "status"), s(v, "deployment"), s(v, "job_id"),
                    strcmp(s(v, "reason"), "-") ? "  reason: " : "",
                    strcmp(s(v, "reason"), "-") ? s(v, "reason") : "");
        }
    if (json_object_object_get_ex(x, "history", &arr))
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *h = json_object_array_get_idx(arr, i);
            fprintf(o->out, "  history %s %-14s v%-4s by %-8s %s\n", s(h, "ts_ms"), s(h, "action"),
                    s(h, "version"), s(h, "by"), s(h, "reason"));
        }
}

/* canary | promote | rollback | pin | unpin: POST /v1/ml/adapters/{agent}/{cmd}. */
static int cmd_serving(const aosctl_opts_t *o, const char *cmd, int argc, char **argv)
{
    if (argc < 1 || argv[0][0] == '-')
        return ml_usage(o->err);
    json_object *body = json_object_new_object(), *out = NULL;
    int i = 1, rc = 0;
    bool need_version = strcmp(cmd, "pin") == 0 || strcmp(cmd, "canary") == 0;
    if (strcmp(cmd, "unpin") != 0 && i < argc && argv[i][0] != '-') {
        char *end = NULL;
        long long v = strtoll(argv[i], &end, 10);
        if (!*argv[i] || *end || v <= 0) {
            fprintf(o->err, "aosctl: VERSION must be a positive number, not %s\n", argv[i]);
            rc = 2;
        }
        json_object_object_add(body, "version", json_object_new_int64(v));
        i++;
    } else if (need_version) {
        fprintf(o->err, "aosctl: %s needs AGENT VERSION\n", cmd);
        rc = 2;
    }
    for (; rc == 0 && i < argc; i += 2) {
        const char *key = strcmp(argv[i], "--share") == 0 && !strcmp(cmd, "canary") ? "share"
                          : strcmp(argv[i], "--min-turns") == 0 && !strcmp(cmd, "canary")
                              ? "min_turns"
                          : strcmp(argv[i], "--reason") == 0 &&
                                  (!strcmp(cmd, "promote") || !strcmp(cmd, "rollback"))
                              ? "reason"
                              : NULL;
        char *end = NULL;
        long long n = i + 1 < argc ? strtoll(argv[i + 1], &end, 10) : 0;
        if (!key || i + 1 >= argc || (key[0] != 'r' && (!*argv[i + 1] || *end))) {
            fprintf(o->err, "aosctl: bad option %s%s%s\n", argv[i], i + 1 < argc ? " " : "",
                    i + 1 < argc ? argv[i + 1] : "");
            rc = 2;
            break;
        }
        json_object_object_add(body, key,
                               key[0] == 'r' ? json_object_new_string(argv[i + 1])
                                             : json_object_new_int64(n));
    }
    if (rc == 0 && strcmp(cmd, "canary") == 0 && !json_object_object_get_ex(body, "share", NULL)) {
        fprintf(o->err, "aosctl: canary needs --share PCT\n");
        rc = 2;
    }
    if (rc == 0) {
        char path[300];
        snprintf(path, sizeof path, "/v1/ml/adapters/%s/%s", argv[0], cmd);
        rc = call(o, "POST", path, json_object_to_json_string(body), &out);
    }
    if (rc == 0 && !o->json)
        print_adapter(o, out);
    json_object_put(out);
    json_object_put(body);
    return rc;
}

/* Append ?k=v&… from --agent/--state options; 2 on a bad option. */
static int query(const aosctl_opts_t *o, int argc, char **argv, char *path, size_t len)
{
    char sep = '?';
    for (int i = 0; i < argc; i += 2) {
        if ((strcmp(argv[i], "--agent") != 0 && strcmp(argv[i], "--state") != 0) || i + 1 >= argc) {
            fprintf(o->err, "aosctl: unexpected argument %s\n", argv[i]);
            return 2;
        }
        char value[256];
        if (aos_pct_encode(argv[i + 1], 0, value, sizeof value) != AOS_OK) {
            fprintf(o->err, "aosctl: %s is too long\n", argv[i]);
            return 2;
        }
        size_t n = strlen(path);
        snprintf(path + n, len - n, "%c%s=%s", sep, argv[i] + 2, value);
        sep = '&';
    }
    return 0;
}

static int cmd_list(const aosctl_opts_t *o, const char *what, int argc, char **argv)
{
    char path[600];
    snprintf(path, sizeof path, "/v1/ml/%s", what);
    json_object *out = NULL, *arr = NULL;
    int rc = query(o, argc, argv, path, sizeof path);
    if (rc == 0)
        rc = call(o, "GET", path, NULL, &out);
    if (rc == 0 && !o->json && json_object_object_get_ex(out, what, &arr)) {
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *x = json_object_array_get_idx(arr, i);
            if (what[0] == 'j')
                print_job(o, x, false);
            else
                print_adapter(o, x);
        }
    }
    json_object_put(out);
    return rc;
}

static int cmd_job(const aosctl_opts_t *o, int argc, char **argv, bool cancel)
{
    if (argc != 1)
        return ml_usage(o->err);
    char path[300];
    snprintf(path, sizeof path, "/v1/ml/jobs/%s%s", argv[0], cancel ? "/cancel" : "");
    json_object *out = NULL;
    int rc = call(o, cancel ? "POST" : "GET", path, cancel ? "{}" : NULL, &out);
    if (rc == 0 && !o->json)
        print_job(o, out, true);
    json_object_put(out);
    return rc;
}

static int cmd_infer(const aosctl_opts_t *o, int argc, char **argv)
{
    if (argc < 2)
        return ml_usage(o->err);
    char text[16384] = "";
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(text);
        snprintf(text + n, sizeof text - n, "%s%s", i > 1 ? " " : "", argv[i]);
    }
    json_object *body = json_object_new_object(), *out = NULL;
    json_object_object_add(body, "agent", json_object_new_string(argv[0]));
    json_object_object_add(body, "input", json_object_new_string(text));
    int rc = call(o, "POST", "/v1/ml/infer", json_object_to_json_string(body), &out);
    if (rc == 0 && !o->json)
        fprintf(o->out, "%s\n", s(out, "output"));
    json_object_put(out);
    json_object_put(body);
    return rc;
}

int aosctl_ml(const aosctl_opts_t *o, int argc, char **argv)
{
    if (argc < 1)
        return ml_usage(o->err);
    const char *cmd = argv[0];
    argc--;
    argv++;
    if (strcmp(cmd, "train") == 0)
        return cmd_train(o, argc, argv);
    if (strcmp(cmd, "jobs") == 0)
        return cmd_list(o, "jobs", argc, argv);
    if (strcmp(cmd, "adapters") == 0)
        return cmd_list(o, "adapters", argc, argv);
    if (strcmp(cmd, "job") == 0)
        return cmd_job(o, argc, argv, false);
    if (strcmp(cmd, "cancel") == 0)
        return cmd_job(o, argc, argv, true);
    if (strcmp(cmd, "infer") == 0)
        return cmd_infer(o, argc, argv);
    if (!strcmp(cmd, "canary") || !strcmp(cmd, "promote") || !strcmp(cmd, "rollback") ||
        !strcmp(cmd, "pin") || !strcmp(cmd, "unpin"))
        return cmd_serving(o, cmd, argc, argv);
    return ml_usage(o->err);
}
