/* The seed's act parameters onto the ML pipeline's request shapes (act_seed.h). */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "act_seed.h"
#include "aos/json.h"
#include "aos/storage_types.h"

#define DEFAULT_DATA_CONTAINER "training"

static bool is_one_of(const char *key, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

/* A deep copy of params without the keys the seed spells differently. */
static aos_result copy_except(const json_object *params, const char *const *skip, json_object **out)
{
    json_object *o = json_object_new_object();
    if (!o)
        return AOS_ERR_NOMEM;
    if (params) {
        json_object_object_foreach((json_object *)params, key, val)
        {
            if (is_one_of(key, skip))
                continue;
            json_object *copy = NULL;
            if (val && json_object_deep_copy(val, &copy, NULL) != 0) {
                json_object_put(o);
                return AOS_ERR_NOMEM;
            }
            json_object_object_add(o, key, copy);
        }
    }
    *out = o;
    return AOS_OK;
}

static aos_result check_keys(const json_object *o, const char *what, const char *const *keys,
                             char *why, size_t whylen)
{
    json_object_object_foreach((json_object *)o, key, val)
    {
        (void)val;
        if (!is_one_of(key, keys))
            return aos_fail(AOS_ERR_INVALID, why, whylen, "unknown field '%s.%.64s'", what, key);
    }
    return AOS_OK;
}

/* "./data/train.jsonl", "/data/train.jsonl" or "data/train.jsonl": container "data", blob
 * "train.jsonl". The seed's data_path is a local path; in AOS training data is a blob. */
static aos_result dataset_of_path(const char *path, json_object **out, char *why, size_t whylen)
{
    while (strncmp(path, "./", 2) == 0)
        path += 2;
    while (*path == '/')
        path++;
    const char *slash = strchr(path, '/');
    char container[64];
    size_t clen = slash ? (size_t)(slash - path) : 0;
    if (slash && clen < sizeof container) {
        memcpy(container, path, clen);
        container[clen] = '\0';
    }
    if (!slash || clen >= sizeof container || !aos_storage_valid_container(container) ||
        !aos_storage_valid_blob_name(slash + 1))
        return aos_fail(AOS_ERR_INVALID, why, whylen,
                        "training_params.data_path must name a blob as <container>/<name> "
                        "(e.g. \"training/cfo.jsonl\"; upload it with aosctl blob put)");
    json_object *d = json_object_new_object();
    if (!d || aos_json_add_string(d, "container", container) != AOS_OK ||
        aos_json_add_string(d, "name", slash + 1) != AOS_OK) {
        json_object_put(d);
        return AOS_ERR_NOMEM;
    }
    *out = d;
    return AOS_OK;
}

/* Set out[key] = val (owned) unless the caller already gave a different value. */
static aos_result set_unless_given(json_object *out, const char *key, json_object *val,
                                   const char *seed_key, char *why, size_t whylen)
{
    json_object *have = NULL;
    if (json_object_object_get_ex(out, key, &have)) {
        bool same = json_object_equal(have, val);
        json_object_put(val);
        return same ? AOS_OK
                    : aos_fail(AOS_ERR_INVALID, why, whylen,
                               "give either '%s' or '%s', not both with different values", key,
                               seed_key);
    }
    json_object_object_add(out, key, val);
    return AOS_OK;
}

static aos_result map_training_params(const json_object *tp, json_object *out, char *why,
                                      size_t whylen)
{
    static const char *const keys[] = {"model_name",       "data_path",
                                       "output_dir",       "epochs",
                                       "num_train_epochs", "learning_rate",
                                       "batch_size",       "per_device_train_batch_size",
                                       "max_seq_length",   NULL};
    AOS_RETURN_IF_FAILED(check_keys(tp, "training_params", keys, why, whylen));
    const char *model = NULL, *path = NULL, *outdir = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(tp, "model_name", AOS_JSON_OPTIONAL, &model, why, whylen));
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(tp, "data_path", AOS_JSON_OPTIONAL, &path, why, whylen));
    /* output_dir: the artifact location is the pipeline's (docs/ml.md); checked, not used */
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(tp, "output_dir", AOS_JSON_OPTIONAL, &outdir, why, whylen));
    if (model)
        AOS_RETURN_IF_FAILED(set_unless_given(out, "base_model", json_object_new_string(model),
                                              "training_params.model_name", why, whylen));
    if (path) {
        json_object *d = NULL;
        AOS_RETURN_IF_FAILED(dataset_of_path(path, &d, why, whylen));
        json_object *have = NULL;
        if (json_object_object_get_ex(out, "data", &have) ||
            json_object_object_get_ex(out, "data_jsonl", &have)) {
            json_object_put(d);
            return aos_fail(AOS_ERR_INVALID, why, whylen,
                            "give either 'data' or 'training_params.data_path'");
        }
        AOS_RETURN_IF_FAILED(
            set_unless_given(out, "dataset", d, "training_params.data_path", why, whylen));
    }
    /* hyperparameters: the seed's (and transformers') names onto AOS's */
    static const struct {
        const char *seed, *aos;
    } hp[] = {{"epochs", "epochs"},
              {"num_train_epochs", "epochs"},
              {"learning_rate", "learning_rate"},
              {"batch_size", "batch_size"},
              {"per_device_train_batch_size", "batch_size"},
              {"max_seq_length", "max_seq_length"}};
    json_object *h = NULL;
    for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(tp, hp[i].seed, &v))
            continue;
        if (!h && !json_object_object_get_ex(out, "hyperparameters", &h)) {
            h = json_object_new_object();
            if (!h)
                return AOS_ERR_NOMEM;
            json_object_object_add(out, "hyperparameters", h);
        }
        if (!json_object_is_type(h, json_type_object))
            return aos_fail(AOS_ERR_INVALID, why, whylen, "'hyperparameters' must be an object");
        json_object *copy = NULL;
        if (json_object_deep_copy(v, &copy, NULL) != 0)
            return AOS_ERR_NOMEM;
        char what[96];
        snprintf(what, sizeof what, "training_params.%s", hp[i].seed);
        AOS_RETURN_IF_FAILED(set_unless_given(h, hp[i].aos, copy, what, why, whylen));
    }
    return AOS_OK;
}

static aos_result map_adapters(const json_object *arr, json_object *out, char *why, size_t whylen)
{
    size_t n = json_object_array_length(arr);
    if (n != 1)
        return aos_fail(AOS_ERR_INVALID, why, whylen,
                        "'adapters' must hold exactly one adapter (one training job per call; "
                        "call act once per adapter)");
    const json_object *a = json_object_array_get_idx(arr, 0);
    if (!json_object_is_type(a, json_type_object))
        return aos_fail(AOS_ERR_INVALID, why, whylen, "'adapters[0]' must be an object");
    static const char *const keys[] = {"adapter_name", "task_type",      "r",    "lora_alpha",
                                       "lora_dropout", "target_modules", "bias", NULL};
    AOS_RETURN_IF_FAILED(check_keys(a, "adapters[0]", keys, why, whylen));
    json_object *have = NULL;
    if (json_object_object_get_ex(out, "lora", &have))
        return aos_fail(AOS_ERR_INVALID, why, whylen, "give either 'lora' or 'adapters'");
    json_object *lora = json_object_new_object();
    if (!lora)
        return AOS_ERR_NOMEM;
    json_object_object_add(out, "lora", lora);
    json_object_object_foreach((json_object *)a, key, val)
    {
        if (strcmp(key, "adapter_name") == 0) {
            if (!json_object_is_type(val, json_type_string))
                return aos_fail(AOS_ERR_INVALID, why, whylen,
                                "'adapters[0].adapter_name' must be a string");
            AOS_RETURN_IF_FAILED(set_unless_given(out, "adapter_name", json_object_get(val),
                                                  "adapters[0].adapter_name", why, whylen));
        } else if (strcmp(key, "task_type") == 0) {
            /* the seed writes "causal_lm"; PEFT's TaskType is upper case */
            if (!json_object_is_type(val, json_type_string))
                return aos_fail(AOS_ERR_INVALID, why, whylen,
                                "'adapters[0].task_type' must be a string");
            char up[64];
            const char *s = json_object_get_string(val);
            size_t i = 0;
            for (; s[i] && i + 1 < sizeof up; i++)
                up[i] = (char)toupper((unsigned char)s[i]);
            up[i] = '\0';
            if (s[i])
                return aos_fail(AOS_ERR_INVALID, why, whylen,
                                "'adapters[0].task_type' is too long");
            json_object_object_add(lora, "task_type", json_object_new_string(up));
        } else {
            json_object *copy = NULL;
            if (json_object_deep_copy(val, &copy, NULL) != 0)
                return AOS_ERR_NOMEM;
            json_object_object_add(lora, key, copy);
        }
    }
    return AOS_OK;
}

static aos_result map_training(const json_object *params, json_object *out, char *why,
                               size_t whylen)
{
    json_object *tp = NULL, *ad = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_object(params, "training_params", AOS_JSON_OPTIONAL, &tp, why, whylen));
    AOS_RETURN_IF_FAILED(
        aos_json_get_array(params, "adapters", AOS_JSON_OPTIONAL, &ad, why, whylen));
    if (tp)
        AOS_RETURN_IF_FAILED(map_training_params(tp, out, why, whylen));
    if (ad)
        AOS_RETURN_IF_FAILED(map_adapters(ad, out, why, whylen));
    return AOS_OK;
}

static aos_result map_pipeline(const aos_agent_def_t *agent, const json_object *params,
                               json_object *out, char *why, size_t whylen)
{
    static const char *const ws_keys[] = {"subscription_id", "resource_group", "workspace_name"};
    size_t given = 0;
    for (size_t i = 0; i < 3; i++) {
        json_object *v = NULL;
        given += params && json_object_object_get_ex(params, ws_keys[i], &v);
    }
    if (given) {
        json_object *ws = json_object_new_object();
        if (!ws)
            return AOS_ERR_NOMEM;
        json_object_object_add(out, "workspace", ws);
        for (size_t i = 0; i < 3; i++) {
            const char *s = NULL;
            AOS_RETURN_IF_FAILED(
                aos_json_get_string(params, ws_keys[i], AOS_JSON_REQUIRED, &s, why, whylen));
            if (!s[0] || strlen(s) > 128)
                return aos_fail(AOS_ERR_INVALID, why, whylen, "'%s' must be 1..128 characters",
                                ws_keys[i]);
            AOS_RETURN_IF_FAILED(aos_json_add_string(ws, ws_keys[i], s));
        }
        /* naming a workspace means Azure ML */
        AOS_RETURN_IF_FAILED(set_unless_given(out, "backend", json_object_new_string("azureml"),
                                              "subscription_id", why, whylen));
    }
    json_object *have = NULL;
    if (!json_object_object_get_ex(out, "data", &have) &&
        !json_object_object_get_ex(out, "dataset", &have) &&
        !json_object_object_get_ex(out, "data_jsonl", &have)) {
        /* the seed names no data: the agent's own training set, training/<agent>.jsonl */
        char name[AOS_AGENT_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s.jsonl", agent->name);
        json_object *d = json_object_new_object();
        if (!d)
            return AOS_ERR_NOMEM;
        json_object_object_add(out, "dataset", d);
        AOS_RETURN_IF_FAILED(aos_json_add_string(d, "container", DEFAULT_DATA_CONTAINER));
        AOS_RETURN_IF_FAILED(aos_json_add_string(d, "name", name));
    }
    return AOS_OK;
}

static aos_result map_infer(const aos_agents_config_t *agents, const json_object *params,
                            json_object *out, char *why, size_t whylen)
{
    const char *id = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(params, "agent_id", AOS_JSON_OPTIONAL, &id, why, whylen));
    if (!id)
        return AOS_OK;
    /* the seed: "the agent's adapter name is used as the agent_id" — an agent's name selects
     * that agent (and its adapter); any other name is an adapter */
    if (agents && aos_agents_find(agents, id))
        return set_unless_given(out, "agent", json_object_new_string(id), "agent_id", why, whylen);
    if (!aos_storage_valid_id(id))
        return aos_fail(AOS_ERR_INVALID, why, whylen,
                        "'agent_id' must name an agent or an adapter ([A-Za-z0-9._:-], 1..128)");
    return set_unless_given(out, "adapter", json_object_new_string(id), "agent_id", why, whylen);
}

aos_result router_act_params(const aos_agents_config_t *agents, const aos_agent_def_t *agent,
                             const char *action, const json_object *params, json_object **out,
                             char *why, size_t whylen)
{
    static const char *const train_skip[] = {"training_params", "adapters", NULL};
    static const char *const pipe_skip[] = {"subscription_id", "resource_group", "workspace_name",
                                            "training_params", "adapters",       NULL};
    static const char *const infer_skip[] = {"agent_id", NULL};
    bool train = strcmp(action, "trigger_lora_training") == 0;
    bool pipe = strcmp(action, "run_azure_ml_pipeline") == 0;
    bool infer = strcmp(action, "aml_infer") == 0;
    if (!train && !pipe && !infer)
        return aos_fail(AOS_ERR_INVALID, why, whylen,
                        "unknown action \"%.64s\" (trigger_lora_training, run_azure_ml_pipeline, "
                        "aml_infer)",
                        action);
    json_object *o = NULL;
    AOS_RETURN_IF_FAILED(copy_except(params,
                                     train  ? train_skip
                                     : pipe ? pipe_skip
                                            : infer_skip,
                                     &o));
    aos_result r = AOS_OK;
    if ((train || pipe) && params)
        r = map_training(params, o, why, whylen);
    if (r == AOS_OK && pipe)
        r = map_pipeline(agent, params, o, why, whylen);
    if (r == AOS_OK && infer && params)
        r = map_infer(agents, params, o, why, whylen);
    if (r != AOS_OK) {
        json_object_put(o);
        return r;
    }
    *out = o;
    return AOS_OK;
}
