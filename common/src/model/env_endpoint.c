/* Default model endpoint from the environment (aos/model.h). */
#include "aos/model.h"

#include <stdlib.h>
#include <string.h>

static char *env_dup(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        v = dflt;
    return v ? strdup(v) : NULL;
}

static aos_result endpoint_from_env(aos_endpoint_t *ep, bool *out_found)
{
    memset(ep, 0, sizeof *ep);
    *out_found = false;
    const char *azure = getenv("AZURE_OPENAI_ENDPOINT");
    const char *openai = getenv("AOS_OPENAI_BASE_URL");
    if (azure && *azure) {
        ep->provider = AOS_PROVIDER_AZURE_OPENAI;
        ep->url = strdup(azure);
        ep->deployment = env_dup("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini");
        ep->api_version = env_dup("AZURE_OPENAI_API_VERSION", NULL);
        ep->api_key_env = strdup("AZURE_OPENAI_API_KEY");
        if (!ep->url || !ep->deployment || !ep->api_key_env)
            return AOS_ERR_NOMEM;
    } else if (openai && *openai) {
        ep->provider = AOS_PROVIDER_OPENAI;
        ep->url = strdup(openai);
        ep->model = env_dup("AOS_OPENAI_MODEL", "gpt-4o-mini");
        ep->api_key_env = strdup("AOS_OPENAI_API_KEY");
        if (!ep->url || !ep->model || !ep->api_key_env)
            return AOS_ERR_NOMEM;
    } else {
        return AOS_OK;
    }
    ep->timeout_ms = 60000;
    ep->max_retries = 3;
    ep->temperature = -1;
    *out_found = true;
    return AOS_OK;
}

static void endpoint_strings_free(aos_endpoint_t *ep)
{
    free(ep->url);
    free(ep->deployment);
    free(ep->api_version);
    free(ep->api_key_env);
    free(ep->model);
}

static aos_endpoint_t endpoint_copy(const aos_endpoint_t *src, bool *ok)
{
    aos_endpoint_t e = *src;
    e.url = src->url ? strdup(src->url) : NULL;
    e.deployment = src->deployment ? strdup(src->deployment) : NULL;
    e.api_version = src->api_version ? strdup(src->api_version) : NULL;
    e.api_key_env = src->api_key_env ? strdup(src->api_key_env) : NULL;
    e.model = src->model ? strdup(src->model) : NULL;
    *ok = (!src->url || e.url) && (!src->deployment || e.deployment) &&
          (!src->api_version || e.api_version) && (!src->api_key_env || e.api_key_env) &&
          (!src->model || e.model);
    return e;
}

aos_result aos_model_env_endpoint_apply(aos_agents_config_t *cfg, size_t *out_applied)
{
    if (out_applied)
        *out_applied = 0;
    if (!cfg)
        return AOS_ERR_INVALID;
    aos_endpoint_t ep;
    bool found = false;
    aos_result rc = endpoint_from_env(&ep, &found);
    if (rc != AOS_OK || !found) {
        endpoint_strings_free(&ep);
        return rc;
    }
    for (size_t i = 0; rc == AOS_OK && i < cfg->agent_count; i++) {
        aos_agent_def_t *a = &cfg->agents[i];
        if (a->endpoint_count > 0)
            continue;
        aos_endpoint_t *arr = calloc(1, sizeof *arr);
        bool ok = false;
        if (arr)
            arr[0] = endpoint_copy(&ep, &ok);
        if (!ok) {
            if (arr)
                endpoint_strings_free(&arr[0]);
            free(arr);
            rc = AOS_ERR_NOMEM;
            break;
        }
        a->endpoints = arr;
        a->endpoint_count = 1;
        if (out_applied)
            (*out_applied)++;
    }
    endpoint_strings_free(&ep);
    return rc;
}
