/* The pure parts of aos-ml-pipeline (ml_spec.h). */
#include "ml_spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/storage_types.h"

static bool key_allowed(const char *key, const char *const *allowed)
{
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(key, allowed[i]) == 0)
            return true;
    return false;
}

static aos_result check_keys(const json_object *in, const char *what, const char *const *allowed,
                             char *errbuf, size_t errlen)
{
    json_object_object_foreach((json_object *)in, key, val)
    {
        (void)val;
        if (!key_allowed(key, allowed))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s: unknown field '%s'", what, key);
    }
    return AOS_OK;
}

static bool in_list(const char *s, const char *list)
{
    size_t n = strlen(s);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

static aos_result lora_modules(const json_object *in, json_object *out, char *errbuf, size_t errlen)
{
    json_object *arr = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_array(in, "target_modules", AOS_JSON_OPTIONAL, &arr, errbuf, errlen));
    json_object *mods = json_object_new_array();
    if (!arr) {
        json_object_array_add(mods, json_object_new_string("q_proj"));
        json_object_array_add(mods, json_object_new_string("v_proj"));
        return aos_json_add(out, "target_modules", mods);
    }
    size_t n = json_object_array_length(arr);
    aos_result r = AOS_OK;
    if (n == 0 || n > 64)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                     "lora.target_modules must name 1 to 64 modules");
    for (size_t i = 0; r == AOS_OK && i < n; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(m, json_type_string) || json_object_get_string_len(m) == 0 ||
            json_object_get_string_len(m) > 128)
            r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                         "lora.target_modules[%zu] must be a non-empty string", i);
        else
            json_object_array_add(mods, json_object_new_string(json_object_get_string(m)));
    }
    if (r != AOS_OK) {
        json_object_put(mods);
        return r;
    }
    return aos_json_add(out, "target_modules", mods);
}

static aos_result lora_numbers(const json_object *in, json_object *out, char *errbuf, size_t errlen)
{
    int64_t rank = 16;
    double alpha = 32, dropout = 0.05;
    AOS_RETURN_IF_FAILED(aos_json_get_int(in, "r", AOS_JSON_OPTIONAL, &rank, NULL, errbuf, errlen));
    if (rank < 1 || rank > 1024)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "lora.r must be 1..1024, got %lld",
                        (long long)rank);
    AOS_RETURN_IF_FAILED(
        aos_json_get_double(in, "lora_alpha", AOS_JSON_OPTIONAL, &alpha, NULL, errbuf, errlen));
    if (!(alpha > 0 && alpha <= 65536))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "lora.lora_alpha must be > 0 (and <= 65536)");
    AOS_RETURN_IF_FAILED(
        aos_json_get_double(in, "lora_dropout", AOS_JSON_OPTIONAL, &dropout, NULL, errbuf, errlen));
    if (!(dropout >= 0 && dropout < 1))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "lora.lora_dropout must be in [0, 1)");
    aos_json_add_int(out, "r", rank);
    aos_json_add(out, "lora_alpha", json_object_new_double(alpha));
    aos_json_add(out, "lora_dropout", json_object_new_double(dropout));
    return AOS_OK;
}

aos_result ml_lora_normalize(const json_object *in, json_object **out, char *errbuf, size_t errlen)
{
    static const char *const keys[] = {
        "r", "lora_alpha", "lora_dropout", "target_modules", "task_type", "bias", NULL};
    json_object *empty = NULL;
    if (!in)
        in = empty = json_object_new_object();
    json_object *o = json_object_new_object();
    const char *task = NULL, *bias = NULL;
    aos_result r = check_keys(in, "lora", keys, errbuf, errlen);
    if (r == AOS_OK)
        r = lora_numbers(in, o, errbuf, errlen);
    if (r == AOS_OK)
        r = lora_modules(in, o, errbuf, errlen);
    if (r == AOS_OK)
        r = aos_json_get_string(in, "task_type", AOS_JSON_OPTIONAL, &task, errbuf, errlen);
    if (r == AOS_OK && task && !in_list(task, ML_TASK_TYPES))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "lora.task_type must be one of %s",
                     ML_TASK_TYPES);
    if (r == AOS_OK)
        r = aos_json_get_string(in, "bias", AOS_JSON_OPTIONAL, &bias, errbuf, errlen);
    if (r == AOS_OK && bias && !in_list(bias, "none|all|lora_only"))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "lora.bias must be none, all or lora_only");
    if (r == AOS_OK) {
        aos_json_add_string(o, "task_type", task ? task : "CAUSAL_LM");
        aos_json_add_string(o, "bias", bias ? bias : "none");
        *out = o;
    } else {
        json_object_put(o);
    }
    json_object_put(empty);
    return r;
}

static aos_result int_in(const json_object *in, const char *k, int64_t def, int64_t lo, int64_t hi,
                         json_object *out, char *errbuf, size_t errlen)
{
    int64_t v = def;
    AOS_RETURN_IF_FAILED(aos_json_get_int(in, k, AOS_JSON_OPTIONAL, &v, NULL, errbuf, errlen));
    if (v < lo || v > hi)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "hyperparameters.%s must be %lld..%lld", k,
                        (long long)lo, (long long)hi);
    return aos_json_add_int(out, k, v);
}

aos_result ml_hparams_normalize(const json_object *in, json_object **out, char *errbuf,
                                size_t errlen)
{
    static const char *const keys[] = {"epochs", "learning_rate", "batch_size", "max_seq_length",
                                       NULL};
    json_object *empty = NULL;
    if (!in)
        in = empty = json_object_new_object();
    json_object *o = json_object_new_object();
    double lr = 0.0002;
    aos_result r = check_keys(in, "hyperparameters", keys, errbuf, errlen);
    if (r == AOS_OK)
        r = int_in(in, "epochs", 1, 1, 1000, o, errbuf, errlen);
    if (r == AOS_OK)
        r = aos_json_get_double(in, "learning_rate", AOS_JSON_OPTIONAL, &lr, NULL, errbuf, errlen);
    if (r == AOS_OK && !(lr > 0 && lr <= 1))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                     "hyperparameters.learning_rate must be in (0, 1]");
    if (r == AOS_OK)
        r = aos_json_add(o, "learning_rate", json_object_new_double(lr));
    if (r == AOS_OK)
        r = int_in(in, "batch_size", 4, 1, 4096, o, errbuf, errlen);
    if (r == AOS_OK)
        r = int_in(in, "max_seq_length", 2048, 16, 131072, o, errbuf, errlen);
    json_object_put(empty);
    if (r != AOS_OK) {
        json_object_put(o);
        return r;
    }
    *out = o;
    return AOS_OK;
}

/* ---- training data ---- */

static const char *example_problem(const json_object *ex)
{
    json_object *msgs, *p, *c;
    if (json_object_object_get_ex(ex, "messages", &msgs)) {
        if (!json_object_is_type(msgs, json_type_array) || json_object_array_length(msgs) == 0)
            return "'messages' must be a non-empty array";
        bool assistant = false;
        for (size_t i = 0; i < json_object_array_length(msgs); i++) {
            json_object *m = json_object_array_get_idx(msgs, i), *role, *content;
            if (!json_object_is_type(m, json_type_object) ||
                !json_object_object_get_ex(m, "role", &role) ||
                !json_object_is_type(role, json_type_string) ||
                !json_object_object_get_ex(m, "content", &content) ||
                !json_object_is_type(content, json_type_string))
                return "every message needs string 'role' and 'content'";
            const char *rs = json_object_get_string(role);
            if (!in_list(rs, "system|user|assistant"))
                return "message role must be system, user or assistant";
            assistant = assistant || strcmp(rs, "assistant") == 0;
        }
        return assistant ? NULL : "needs at least one assistant message";
    }
    if (json_object_object_get_ex(ex, "prompt", &p) &&
        json_object_object_get_ex(ex, "completion", &c))
        return json_object_is_type(p, json_type_string) && json_object_is_type(c, json_type_string)
                   ? NULL
                   : "'prompt' and 'completion' must be strings";
    return "needs 'messages' or 'prompt' and 'completion'";
}

aos_result ml_data_validate(const char *buf, size_t len, size_t *out_examples, char *errbuf,
                            size_t errlen)
{
    if (len > ML_MAX_DATA_BYTES)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "training data over %u bytes",
                        ML_MAX_DATA_BYTES);
    size_t examples = 0, lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len, n = end - pos;
        lineno++;
        if (n > 0 && buf[pos + n - 1] == '\r')
            n--;
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++)
            blank = buf[pos + i] == ' ' || buf[pos + i] == '\t';
        if (!blank) {
            if (n > ML_MAX_LINE_BYTES)
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "line %zu: longer than %u bytes",
                                lineno, ML_MAX_LINE_BYTES);
            json_object *ex = NULL;
            char perr[160] = "";
            if (aos_json_parse_object(buf + pos, n, ML_MAX_LINE_BYTES, 0, &ex, perr, sizeof perr) !=
                AOS_OK)
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "line %zu: %s", lineno, perr);
            const char *why = example_problem(ex);
            json_object_put(ex);
            if (why)
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "line %zu: %s", lineno, why);
            examples++;
        }
        pos = end + 1;
    }
    if (examples == 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "training data has no examples");
    if (out_examples)
        *out_examples = examples;
    return AOS_OK;
}

const char *ml_backend_name(ml_backend b)
{
    return b == ML_BACKEND_AZUREML ? "azureml" : "local";
}

aos_result ml_backend_parse(const char *s, ml_backend *out)
{
    if (s && strcmp(s, "local") == 0)
        *out = ML_BACKEND_LOCAL;
    else if (s && strcmp(s, "azureml") == 0)
        *out = ML_BACKEND_AZUREML;
    else
        return AOS_ERR_INVALID;
    return AOS_OK;
}
