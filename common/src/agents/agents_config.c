/* Parsing and validation of the AOS config file (see aos/agents.h for the schema). */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents_internal.h"
#include "aos/agents.h"
#include "aos/config.h"
#include "aos/json.h"

#define MAX_CONFIG_BYTES (8u * 1024u * 1024u)
#define MAX_LIST 256
#define MAX_SHORT 512
#define MAX_PURPOSE (256u * 1024u)
#define MAX_URL 2048

typedef struct pctx {
    char *err;
    size_t errlen;
} pctx;

static aos_result fail_at(pctx *c, const char *path, const char *fmt, const char *a)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a ? a : "");
    return aos_fail(AOS_ERR_INVALID, c->err, c->errlen, "%s: %s", path, msg);
}

static void join(char *out, size_t outlen, const char *path, const char *key)
{
    if (path[0])
        snprintf(out, outlen, "%s.%s", path, key);
    else
        snprintf(out, outlen, "%s", key);
}

static aos_result need_object(pctx *c, json_object *o, const char *path)
{
    if (!json_object_is_type(o, json_type_object))
        return fail_at(c, path, "expected an object%s", "");
    return AOS_OK;
}

/* Reject keys not in allowed (NULL-terminated): a typo must not silently do nothing. */
static aos_result check_keys(pctx *c, json_object *o, const char *path, const char *const *allowed)
{
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                ok = true;
        if (!ok) {
            char p[256];
            join(p, sizeof p, path, key);
            return fail_at(c, p, "unknown key%s", "");
        }
    }
    return AOS_OK;
}

static aos_result get_str(pctx *c, json_object *o, const char *path, const char *key, bool required,
                          size_t maxlen, char **out)
{
    char p[256];
    join(p, sizeof p, path, key);
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        if (required)
            return fail_at(c, p, "required%s", "");
        return AOS_OK;
    }
    if (!json_object_is_type(v, json_type_string))
        return fail_at(c, p, "expected a string%s", "");
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (n == 0)
        return fail_at(c, p, "must not be empty%s", "");
    if (strlen(s) != n)
        return fail_at(c, p, "must not contain NUL characters%s", "");
    if (n > maxlen) {
        char lim[32];
        snprintf(lim, sizeof lim, "%zu", maxlen);
        return fail_at(c, p, "longer than %s bytes", lim);
    }
    *out = strdup(s);
    return *out ? AOS_OK : AOS_ERR_NOMEM;
}

static aos_result get_u32(pctx *c, json_object *o, const char *path, const char *key, int64_t min,
                          int64_t max, uint32_t *out)
{
    char p[256];
    join(p, sizeof p, path, key);
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return AOS_OK; /* keep the default */
    if (!json_object_is_type(v, json_type_int))
        return fail_at(c, p, "expected an integer%s", "");
    errno = 0;
    int64_t n = json_object_get_int64(v);
    if (errno != 0 || n < min || n > max) {
        char range[64];
        snprintf(range, sizeof range, "%lld..%lld", (long long)min, (long long)max);
        return fail_at(c, p, "out of range (%s)", range);
    }
    *out = (uint32_t)n;
    return AOS_OK;
}

static aos_result get_bool(pctx *c, json_object *o, const char *path, const char *key, bool *out)
{
    char p[256];
    join(p, sizeof p, path, key);
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return AOS_OK;
    if (!json_object_is_type(v, json_type_boolean))
        return fail_at(c, p, "expected true or false%s", "");
    *out = json_object_get_boolean(v);
    return AOS_OK;
}

static void lower_ascii(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* An optional array of non-empty strings. */
static aos_result get_str_list(pctx *c, json_object *o, const char *path, const char *key,
                               size_t maxlen, char ***out, size_t *out_count)
{
    char p[256];
    join(p, sizeof p, path, key);
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return AOS_OK;
    if (!json_object_is_type(v, json_type_array))
        return fail_at(c, p, "expected an array of strings%s", "");
    size_t n = json_object_array_length(v);
    if (n > MAX_LIST)
        return fail_at(c, p, "more than 256 entries%s", "");
    if (n == 0)
        return AOS_OK;
    *out = calloc(n, sizeof **out);
    if (!*out)
        return AOS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        char ip[280];
        snprintf(ip, sizeof ip, "%s[%zu]", p, i);
        json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string))
            return fail_at(c, ip, "expected a string%s", "");
        size_t len = (size_t)json_object_get_string_len(e);
        const char *s = json_object_get_string(e);
        if (len == 0 || strlen(s) != len)
            return fail_at(c, ip, "must be a non-empty string without NUL characters%s", "");
        if (len > maxlen)
            return fail_at(c, ip, "too long%s", "");
        (*out)[i] = strdup(s);
        (*out_count)++;
        if (!(*out)[i])
            return AOS_ERR_NOMEM;
    }
    return AOS_OK;
}

static const char *const ENDPOINT_KEYS[] = {
    "provider",          "url",        "deployment",  "api_version",
    "api_key_env",       "auth",       "model",       "timeout_ms",
    "max_retries",       "max_tokens", "temperature", "requests_per_minute",
    "tokens_per_minute", NULL};

static bool env_name_valid(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static aos_result parse_endpoint_auth(pctx *c, json_object *o, const char *path, aos_endpoint_t *ep)
{
    char *auth = NULL;
    AOS_RETURN_IF_FAILED(get_str(c, o, path, "auth", false, 32, &auth));
    if (!auth)
        return AOS_OK;
    aos_result r = AOS_OK;
    if (strcmp(auth, "api-key") == 0)
        ep->auth = AOS_ENDPOINT_AUTH_API_KEY;
    else if (strcmp(auth, "bearer") == 0)
        ep->auth = AOS_ENDPOINT_AUTH_BEARER;
    else {
        char p[256];
        join(p, sizeof p, path, "auth");
        r = fail_at(c, p, "unknown auth \"%s\" (expected api-key or bearer)", auth);
    }
    free(auth);
    return r;
}

static aos_result parse_endpoint(pctx *c, json_object *o, const char *path, aos_endpoint_t *ep)
{
    ep->timeout_ms = 30000;
    ep->max_retries = 3;
    ep->temperature = -1.0;
    AOS_RETURN_IF_FAILED(need_object(c, o, path));
    AOS_RETURN_IF_FAILED(check_keys(c, o, path, ENDPOINT_KEYS));
    char *prov = NULL;
    AOS_RETURN_IF_FAILED(get_str(c, o, path, "provider", true, 32, &prov));
    aos_result r = aos_provider_parse(prov, &ep->provider);
    if (r != AOS_OK) {
        char p[256];
        join(p, sizeof p, path, "provider");
        r = fail_at(c, p,
                    "unknown provider \"%s\" (expected azure-openai, openai, azureml or offline)",
                    prov);
    }
    free(prov);
    AOS_RETURN_IF_FAILED(r);
    AOS_RETURN_IF_FAILED(
        get_str(c, o, path, "url", ep->provider != AOS_PROVIDER_OFFLINE, MAX_URL, &ep->url));
    if (ep->url && strncmp(ep->url, "http://", 7) != 0 && strncmp(ep->url, "https://", 8) != 0) {
        char p[256];
        join(p, sizeof p, path, "url");
        return fail_at(c, p, "must start with http:// or https://%s", "");
    }
    AOS_RETURN_IF_FAILED(get_str(c, o, path, "deployment", false, MAX_SHORT, &ep->deployment));
    if (ep->provider == AOS_PROVIDER_AZURE_OPENAI && !ep->deployment) {
        char p[256];
        join(p, sizeof p, path, "deployment");
        return fail_at(c, p, "required for provider azure-openai%s", "");
    }
    AOS_RETURN_IF_FAILED(get_str(c, o, path, "api_version", false, 64, &ep->api_version));
    AOS_RETURN_IF_FAILED(get_str(c, o, path, "api_key_env", false, 128, &ep->api_key_env));
    if (ep->api_key_env && !env_name_valid(ep->api_key_env)) {
        char p[256];
        join(p, sizeof p, path, "api_key_env");
        return fail_at(c, p,
                       "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), not a "
                       "key%s",
                       "");
    }
    AOS_RETURN_IF_FAILED(parse_endpoint_auth(c, o, path, ep));
    AOS_RETURN_IF_FAILED(get_str(c, o, path, "model", false, MAX_SHORT, &ep->model));
    AOS_RETURN_IF_FAILED(get_u32(c, o, path, "timeout_ms", 1, 600000, &ep->timeout_ms));
    AOS_RETURN_IF_FAILED(get_u32(c, o, path, "max_retries", 0, 10, &ep->max_retries));
    AOS_RETURN_IF_FAILED(get_u32(c, o, path, "max_tokens", 1, 1000000, &ep->max_tokens));
    AOS_RETURN_IF_FAILED(
        get_u32(c, o, path, "requests_per_minute", 1, 10000000, &ep->requests_per_minute));
    AOS_RETURN_IF_FAILED(
        get_u32(c, o, path, "tokens_per_minute", 1, 1000000000, &ep->tokens_per_minute));
    json_object *t = NULL;
    if (json_object_object_get_ex(o, "temperature", &t)) {
        char p[256];
        join(p, sizeof p, path, "temperature");
        if (!json_object_is_type(t, json_type_double) && !json_object_is_type(t, json_type_int))
            return fail_at(c, p, "expected a number%s", "");
        double d = json_object_get_double(t);
        if (!isfinite(d) || d < 0.0 || d > 2.0)
            return fail_at(c, p, "out of range (0..2)%s", "");
        ep->temperature = d;
    }
    return AOS_OK;
}

static void endpoint_clear(aos_endpoint_t *ep)
{
    free(ep->url);
    free(ep->deployment);
    free(ep->api_version);
    free(ep->api_key_env);
    free(ep->model);
    memset(ep, 0, sizeof *ep);
}

/* "endpoint": object or array (fallback chain). */
static aos_result parse_endpoints(pctx *c, json_object *o, const char *path, aos_agent_def_t *a)
{
    char p[256];
    join(p, sizeof p, path, "endpoint");
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, "endpoint", &v))
        return AOS_OK;
    bool is_arr = json_object_is_type(v, json_type_array);
    size_t n = is_arr ? json_object_array_length(v) : 1;
    if (!is_arr && !json_object_is_type(v, json_type_object))
        return fail_at(c, p, "expected an endpoint object or an array of them%s", "");
    if (n == 0)
        return fail_at(c, p, "empty fallback chain%s", "");
    if (n > 16)
        return fail_at(c, p, "more than 16 endpoints in the chain%s", "");
    a->endpoints = calloc(n, sizeof *a->endpoints);
    if (!a->endpoints)
        return AOS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        char ip[280];
        if (is_arr)
            snprintf(ip, sizeof ip, "%s[%zu]", p, i);
        else
            snprintf(ip, sizeof ip, "%s", p);
        a->endpoint_count++;
        AOS_RETURN_IF_FAILED(
            parse_endpoint(c, is_arr ? json_object_array_get_idx(v, i) : v, ip, &a->endpoints[i]));
    }
    return AOS_OK;
}

static aos_result parse_knowledge(pctx *c, json_object *o, const char *path, aos_agent_def_t *a)
{
    char p[256];
    join(p, sizeof p, path, "domain_knowledge");
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, "domain_knowledge", &v))
        return AOS_OK;
    if (!json_object_is_type(v, json_type_array))
        return fail_at(c, p, "expected an array of {container, name}%s", "");
    size_t n = json_object_array_length(v);
    if (n > MAX_LIST)
        return fail_at(c, p, "more than 256 entries%s", "");
    if (n == 0)
        return AOS_OK;
    a->domain_knowledge = calloc(n, sizeof *a->domain_knowledge);
    if (!a->domain_knowledge)
        return AOS_ERR_NOMEM;
    static const char *const keys[] = {"container", "name", NULL};
    for (size_t i = 0; i < n; i++) {
        char ip[280];
        snprintf(ip, sizeof ip, "%s[%zu]", p, i);
        json_object *e = json_object_array_get_idx(v, i);
        aos_blob_ref_t *b = &a->domain_knowledge[i];
        a->domain_knowledge_count++;
        AOS_RETURN_IF_FAILED(need_object(c, e, ip));
        AOS_RETURN_IF_FAILED(check_keys(c, e, ip, keys));
        AOS_RETURN_IF_FAILED(get_str(c, e, ip, "container", true, 63, &b->container));
        AOS_RETURN_IF_FAILED(get_str(c, e, ip, "name", true, 1024, &b->name));
    }
    return AOS_OK;
}

static aos_result parse_schedule(pctx *c, json_object *o, const char *path, aos_schedule_t *s)
{
    char p[256];
    join(p, sizeof p, path, "schedule");
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, "schedule", &v))
        return AOS_OK;
    static const char *const keys[] = {"interval_s", "cron", "text", NULL};
    AOS_RETURN_IF_FAILED(need_object(c, v, p));
    AOS_RETURN_IF_FAILED(check_keys(c, v, p, keys));
    AOS_RETURN_IF_FAILED(get_u32(c, v, p, "interval_s", 1, 31u * 24u * 3600u, &s->interval_s));
    AOS_RETURN_IF_FAILED(get_str(c, v, p, "cron", false, 256, &s->cron));
    AOS_RETURN_IF_FAILED(get_str(c, v, p, "text", true, MAX_PURPOSE, &s->text));
    if ((s->interval_s != 0) == (s->cron != NULL))
        return fail_at(c, p, "needs exactly one of interval_s or cron%s", "");
    if (s->cron) {
        char cp[280], detail[256];
        join(cp, sizeof cp, p, "cron");
        if (aos_schedule_parse_cron(s->cron, s, detail, sizeof detail) != AOS_OK)
            return fail_at(c, cp, "%s", detail);
    }
    s->enabled = true;
    return AOS_OK;
}

static const char *const AGENT_KEYS[] = {
    "name",     "purpose",  "domain_knowledge", "keywords",    "patterns", "event_subscriptions",
    "schedule", "endpoint", "adapter",          "max_history", NULL};

static aos_result parse_agent(pctx *c, json_object *o, const char *path, aos_agent_def_t *a,
                              uint32_t default_history)
{
    AOS_RETURN_IF_FAILED(need_object(c, o, path));
    AOS_RETURN_IF_FAILED(check_keys(c, o, path, AGENT_KEYS));
    AOS_RETURN_IF_FAILED(get_str(c, o, path, "name", true, AOS_AGENT_NAME_MAX, &a->name));
    if (!aos_agent_name_valid(a->name)) {
        char p[256];
        join(p, sizeof p, path, "name");
        return fail_at(c, p,
                       "\"%s\" is not a valid agent name (lower-case letters, digits, '-' and "
                       "'_', starting with a letter or digit)",
                       a->name);
    }
    AOS_RETURN_IF_FAILED(get_str(c, o, path, "purpose", true, MAX_PURPOSE, &a->purpose));
    AOS_RETURN_IF_FAILED(parse_knowledge(c, o, path, a));
    AOS_RETURN_IF_FAILED(
        get_str_list(c, o, path, "keywords", 128, &a->keywords, &a->keyword_count));
    for (size_t i = 0; i < a->keyword_count; i++)
        lower_ascii(a->keywords[i]);
    AOS_RETURN_IF_FAILED(
        get_str_list(c, o, path, "patterns", 1024, &a->patterns, &a->pattern_count));
    AOS_RETURN_IF_FAILED(aos_agents_compile_patterns(a, path, c->err, c->errlen));
    AOS_RETURN_IF_FAILED(get_str_list(c, o, path, "event_subscriptions", 256,
                                      &a->event_subscriptions, &a->event_subscription_count));
    for (size_t i = 0; i < a->event_subscription_count; i++) {
        const char *s = a->event_subscriptions[i];
        const char *star = strchr(s, '*');
        if (star && star[1] != '\0') {
            char p[300];
            snprintf(p, sizeof p, "%s.event_subscriptions[%zu]", path, i);
            return fail_at(c, p, "'*' is only allowed at the end (\"%s\")", s);
        }
    }
    AOS_RETURN_IF_FAILED(parse_schedule(c, o, path, &a->schedule));
    AOS_RETURN_IF_FAILED(parse_endpoints(c, o, path, a));
    AOS_RETURN_IF_FAILED(get_str(c, o, path, "adapter", false, 256, &a->adapter));
    a->max_history = default_history;
    return get_u32(c, o, path, "max_history", 0, 10000, &a->max_history);
}

/* The agents' keys of "settings" go through the same table-driven loader (aos/config.h) as
 * the services' keys of that object: one reader, one set of value rules (a duration may be
 * "30s", a size "64k"). File-only: no environment variable overrides them. */
typedef struct settings_raw {
    int64_t sync_timeout_ms, act_timeout_ms, storage_timeout_ms, max_body_bytes, max_text_bytes,
        heartbeat_interval_ms, heartbeat_stale_ms, max_inflight, max_history, large_payload_bytes;
} settings_raw_t;

#define SETTING(KEY, TYPE, DEF, MIN, MAX)                                                          \
    {                                                                                              \
        NULL, #KEY, TYPE, DEF, MIN, MAX, false, false, NULL, NULL, offsetof(settings_raw_t, KEY)   \
    }
static const aos_config_field_t SETTINGS[] = {
    SETTING(sync_timeout_ms, AOS_CONFIG_DURATION_MS, "30000", 100, 600000),
    SETTING(act_timeout_ms, AOS_CONFIG_DURATION_MS, "10000", 100, 600000),
    SETTING(storage_timeout_ms, AOS_CONFIG_DURATION_MS, "5000", 100, 600000),
    SETTING(max_body_bytes, AOS_CONFIG_SIZE, "1048576", 1024, 64 * 1024 * 1024),
    /* at most what one stored message holds (AOS_STORAGE_CONTENT_MAX): a text the router
     * accepts is stored and answered end to end (docs/http-api.md) */
    SETTING(max_text_bytes, AOS_CONFIG_SIZE, "65536", 1, 256 * 1024),
    SETTING(heartbeat_interval_ms, AOS_CONFIG_DURATION_MS, "5000", 100, 600000),
    SETTING(heartbeat_stale_ms, AOS_CONFIG_DURATION_MS, "15000", 100, 3600000),
    SETTING(max_inflight, AOS_CONFIG_INT, "1024", 1, 100000),
    SETTING(max_history, AOS_CONFIG_INT, "20", 0, 10000),
    SETTING(large_payload_bytes, AOS_CONFIG_SIZE, "262144", 1024, 64 * 1024 * 1024),
};
#undef SETTING

static aos_result parse_settings(pctx *c, json_object *root, aos_settings_t *s)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(root, "settings", &v))
        AOS_RETURN_IF_FAILED(need_object(c, v, "settings"));
    settings_raw_t raw = {0};
    AOS_RETURN_IF_FAILED(aos_config_load_settings(SETTINGS, sizeof SETTINGS / sizeof SETTINGS[0],
                                                  &raw, v, NULL, NULL, c->err, c->errlen));
    /* every range above fits uint32_t */
    *s = (aos_settings_t){.sync_timeout_ms = (uint32_t)raw.sync_timeout_ms,
                          .act_timeout_ms = (uint32_t)raw.act_timeout_ms,
                          .storage_timeout_ms = (uint32_t)raw.storage_timeout_ms,
                          .max_body_bytes = (uint32_t)raw.max_body_bytes,
                          .max_text_bytes = (uint32_t)raw.max_text_bytes,
                          .heartbeat_interval_ms = (uint32_t)raw.heartbeat_interval_ms,
                          .heartbeat_stale_ms = (uint32_t)raw.heartbeat_stale_ms,
                          .max_inflight = (uint32_t)raw.max_inflight,
                          .max_history = (uint32_t)raw.max_history,
                          .large_payload_bytes = (uint32_t)raw.large_payload_bytes};
    return AOS_OK;
}

static aos_result parse_routing(pctx *c, json_object *root, aos_routing_config_t *r)
{
    r->sticky = true;
    json_object *v = NULL;
    if (!json_object_object_get_ex(root, "routing", &v))
        return AOS_OK;
    static const char *const keys[] = {"sticky", "classifier", NULL};
    AOS_RETURN_IF_FAILED(need_object(c, v, "routing"));
    AOS_RETURN_IF_FAILED(check_keys(c, v, "routing", keys));
    AOS_RETURN_IF_FAILED(get_bool(c, v, "routing", "sticky", &r->sticky));
    json_object *cl = NULL;
    if (json_object_object_get_ex(v, "classifier", &cl)) {
        r->has_classifier = true;
        AOS_RETURN_IF_FAILED(parse_endpoint(c, cl, "routing.classifier", &r->classifier));
    }
    return AOS_OK;
}

static aos_result parse_agents(pctx *c, json_object *root, aos_agents_config_t *cfg)
{
    json_object *arr = NULL;
    if (!json_object_object_get_ex(root, "agents", &arr))
        return fail_at(c, "agents", "required%s", "");
    if (!json_object_is_type(arr, json_type_array))
        return fail_at(c, "agents", "expected an array of agent objects%s", "");
    size_t n = json_object_array_length(arr);
    if (n == 0)
        return fail_at(c, "agents", "at least one agent is required%s", "");
    if (n > 1024)
        return fail_at(c, "agents", "more than 1024 agents%s", "");
    cfg->agents = calloc(n, sizeof *cfg->agents);
    if (!cfg->agents)
        return AOS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        char p[64];
        snprintf(p, sizeof p, "agents[%zu]", i);
        cfg->agent_count++;
        AOS_RETURN_IF_FAILED(parse_agent(c, json_object_array_get_idx(arr, i), p, &cfg->agents[i],
                                         cfg->settings.max_history));
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->agents[j].name, cfg->agents[i].name) == 0) {
                char np[80];
                snprintf(np, sizeof np, "%s.name", p);
                return fail_at(c, np, "duplicate agent name \"%s\"", cfg->agents[i].name);
            }
    }
    return AOS_OK;
}

static aos_result parse_root(pctx *c, json_object *root, aos_agents_config_t *cfg)
{
    static const char *const keys[] = {"default_agent", "routing", "settings", "agents", NULL};
    if (!json_object_is_type(root, json_type_object))
        return aos_fail(AOS_ERR_INVALID, c->err, c->errlen, "config: expected a JSON object");
    AOS_RETURN_IF_FAILED(check_keys(c, root, "", keys));
    AOS_RETURN_IF_FAILED(parse_settings(c, root, &cfg->settings));
    AOS_RETURN_IF_FAILED(parse_routing(c, root, &cfg->routing));
    AOS_RETURN_IF_FAILED(parse_agents(c, root, cfg));
    AOS_RETURN_IF_FAILED(
        get_str(c, root, "", "default_agent", false, AOS_AGENT_NAME_MAX, &cfg->default_agent));
    if (!cfg->default_agent) {
        if (cfg->agent_count != 1)
            return fail_at(c, "default_agent", "required when more than one agent is defined%s",
                           "");
        cfg->default_agent = strdup(cfg->agents[0].name);
        if (!cfg->default_agent)
            return AOS_ERR_NOMEM;
    }
    if (!aos_agents_find(cfg, cfg->default_agent))
        return fail_at(c, "default_agent", "\"%s\" names no agent in agents[]", cfg->default_agent);
    return AOS_OK;
}

aos_result aos_agents_config_parse(const char *json, size_t len, aos_agents_config_t **out_cfg,
                                   char *errbuf, size_t errlen)
{
    if (!out_cfg)
        return AOS_ERR_INVALID;
    *out_cfg = NULL;
    if (!json)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "config: no document");
    if (len > MAX_CONFIG_BYTES)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "config: larger than 8 MiB");
    json_object *root = NULL;
    char detail[256] = "";
    aos_result pr = aos_json_parse(json, len, MAX_CONFIG_BYTES, 64, &root, detail, sizeof detail);
    if (pr != AOS_OK)
        return aos_fail(pr, errbuf, errlen, "config: invalid JSON: %s", detail);
    aos_agents_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        json_object_put(root);
        return AOS_ERR_NOMEM;
    }
    pctx c = {errbuf, errlen};
    aos_result r = parse_root(&c, root, cfg);
    json_object_put(root);
    if (r != AOS_OK) {
        if (r == AOS_ERR_NOMEM)
            aos_fail(r, errbuf, errlen, "config: out of memory");
        aos_agents_config_free(cfg);
        return r;
    }
    *out_cfg = cfg;
    return AOS_OK;
}

aos_result aos_agents_config_load(const char *path, aos_agents_config_t **out_cfg, char *errbuf,
                                  size_t errlen)
{
    if (!out_cfg || !path)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "config: no path given");
    *out_cfg = NULL;
    char *buf = NULL;
    size_t n = 0;
    AOS_RETURN_IF_FAILED(aos_config_read_file(path, MAX_CONFIG_BYTES, &buf, &n, errbuf, errlen));
    char detail[512] = "";
    aos_result r = aos_agents_config_parse(buf, n, out_cfg, detail, sizeof detail);
    free(buf);
    if (r != AOS_OK)
        aos_fail(r, errbuf, errlen, "%s: %s", path, detail);
    return r;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

static void agent_clear(aos_agent_def_t *a)
{
    free(a->name);
    free(a->purpose);
    for (size_t i = 0; i < a->domain_knowledge_count; i++) {
        free(a->domain_knowledge[i].container);
        free(a->domain_knowledge[i].name);
    }
    free(a->domain_knowledge);
    free_list(a->keywords, a->keyword_count);
    aos_agents_free_patterns(a);
    free_list(a->patterns, a->pattern_count);
    free_list(a->event_subscriptions, a->event_subscription_count);
    free(a->schedule.cron);
    free(a->schedule.text);
    for (size_t i = 0; i < a->endpoint_count; i++)
        endpoint_clear(&a->endpoints[i]);
    free(a->endpoints);
    free(a->adapter);
}

void aos_agents_config_free(aos_agents_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->agent_count; i++)
        agent_clear(&cfg->agents[i]);
    free(cfg->agents);
    free(cfg->default_agent);
    endpoint_clear(&cfg->routing.classifier);
    free(cfg);
}
