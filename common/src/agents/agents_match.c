/* Lookups and routing-hint matching over a parsed config. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents_internal.h"
#include "aos/agents.h"

static const char *const PROVIDER_NAMES[] = {
    [AOS_PROVIDER_OFFLINE] = "offline",
    [AOS_PROVIDER_AZURE_OPENAI] = "azure-openai",
    [AOS_PROVIDER_OPENAI] = "openai",
    [AOS_PROVIDER_AZUREML] = "azureml",
};

const char *aos_provider_name(aos_provider p)
{
    if ((unsigned)p < sizeof PROVIDER_NAMES / sizeof PROVIDER_NAMES[0])
        return PROVIDER_NAMES[p];
    return "unknown";
}

aos_result aos_provider_parse(const char *s, aos_provider *out)
{
    if (!s || !out)
        return AOS_ERR_INVALID;
    for (size_t i = 0; i < sizeof PROVIDER_NAMES / sizeof PROVIDER_NAMES[0]; i++)
        if (strcmp(s, PROVIDER_NAMES[i]) == 0) {
            *out = (aos_provider)i;
            return AOS_OK;
        }
    return AOS_ERR_INVALID;
}

bool aos_agent_name_valid(const char *name)
{
    if (!name || !name[0] || strlen(name) > AOS_AGENT_NAME_MAX)
        return false;
    if (!(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
        return false;
    for (const char *p = name; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

const aos_agent_def_t *aos_agents_find(const aos_agents_config_t *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->agent_count; i++)
        if (cfg->agents[i].name && strcmp(cfg->agents[i].name, name) == 0)
            return &cfg->agents[i];
    return NULL;
}

const aos_agent_def_t *aos_agents_default(const aos_agents_config_t *cfg)
{
    return cfg ? aos_agents_find(cfg, cfg->default_agent) : NULL;
}

/* Bytes >= 0x80 count as word characters so a keyword does not match inside a non-ASCII word. */
static bool word_byte(unsigned char ch)
{
    return isalnum(ch) || ch == '_' || ch >= 0x80;
}

static bool contains_word(const char *lower_text, const char *kw)
{
    size_t kl = strlen(kw);
    if (kl == 0)
        return false;
    for (const char *p = strstr(lower_text, kw); p; p = strstr(p + 1, kw)) {
        bool left_ok =
            p == lower_text || !word_byte((unsigned char)p[-1]) || !word_byte((unsigned char)kw[0]);
        bool right_ok = p[kl] == '\0' || !word_byte((unsigned char)p[kl]) ||
                        !word_byte((unsigned char)kw[kl - 1]);
        if (left_ok && right_ok)
            return true;
    }
    return false;
}

bool aos_agent_match_keywords(const aos_agent_def_t *agent, const char *text, const char **out_hint)
{
    if (!agent || !text || agent->keyword_count == 0)
        return false;
    char *lower = strdup(text);
    if (!lower)
        return false;
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    bool hit = false;
    for (size_t i = 0; i < agent->keyword_count && !hit; i++)
        if (contains_word(lower, agent->keywords[i])) {
            hit = true;
            if (out_hint)
                *out_hint = agent->keywords[i];
        }
    free(lower);
    return hit;
}

aos_result aos_agents_compile_patterns(aos_agent_def_t *agent, const char *path, char *errbuf,
                                       size_t errlen)
{
    if (agent->pattern_count == 0)
        return AOS_OK;
    struct aos_agent_regex *c = calloc(1, sizeof *c);
    if (!c)
        return AOS_ERR_NOMEM;
    c->re = calloc(agent->pattern_count, sizeof *c->re);
    if (!c->re) {
        free(c);
        return AOS_ERR_NOMEM;
    }
    agent->compiled_ = c;
    for (size_t i = 0; i < agent->pattern_count; i++) {
        int rc = regcomp(&c->re[i], agent->patterns[i], REG_EXTENDED | REG_ICASE | REG_NOSUB);
        if (rc != 0) {
            char why[256];
            regerror(rc, &c->re[i], why, sizeof why);
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "%s.patterns[%zu]: invalid regular expression: %s", path, i, why);
        }
        c->count++;
    }
    return AOS_OK;
}

void aos_agents_free_patterns(aos_agent_def_t *agent)
{
    struct aos_agent_regex *c = agent->compiled_;
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++)
        regfree(&c->re[i]);
    free(c->re);
    free(c);
    agent->compiled_ = NULL;
}

bool aos_agent_match_patterns(const aos_agent_def_t *agent, const char *text, const char **out_hint)
{
    if (!agent || !text || !agent->compiled_)
        return false;
    for (size_t i = 0; i < agent->compiled_->count; i++)
        if (regexec(&agent->compiled_->re[i], text, 0, NULL, 0) == 0) {
            if (out_hint)
                *out_hint = agent->patterns[i];
            return true;
        }
    return false;
}

bool aos_event_type_matches(const char *subscription, const char *type)
{
    if (!subscription || !type)
        return false;
    size_t n = strlen(subscription);
    if (n > 0 && subscription[n - 1] == '*')
        return strncmp(subscription, type, n - 1) == 0;
    return strcmp(subscription, type) == 0;
}

bool aos_agent_subscribed(const aos_agent_def_t *agent, const char *event_type)
{
    if (!agent)
        return false;
    for (size_t i = 0; i < agent->event_subscription_count; i++)
        if (aos_event_type_matches(agent->event_subscriptions[i], event_type))
            return true;
    return false;
}

const char *aos_endpoint_api_key(const aos_endpoint_t *ep)
{
    if (!ep || !ep->api_key_env)
        return NULL;
    const char *k = getenv(ep->api_key_env);
    return (k && k[0]) ? k : NULL;
}
