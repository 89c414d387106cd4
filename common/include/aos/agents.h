/* aos/agents.h: agent definitions from the AOS config file (AOS_CONFIG, docs/design.md §5, §8).
 *
 * The config is one JSON document:
 *
 *   {
 *     "default_agent": "ceo",
 *     "routing":  {"sticky": true, "classifier": <endpoint>},          (both optional)
 *     "settings": {"sync_timeout_ms": 30000, ...},                      (optional, see below;
 *                                                                        shared with the
 *                                                                        aos/config.h tables,
 *                                                                        so keys not listed
 *                                                                        in aos_settings_t
 *                                                                        are left to them)
 *     "agents": [
 *       {"name": "cfo",                                                 [a-z0-9_-], 1..63 chars
 *        "purpose": "You are the CFO ...",                              system prompt, required
 *        "domain_knowledge": [{"container": "knowledge", "name": "cfo/policies.md"}],
 *        "keywords": ["budget", "cash flow"],                           case-insensitive, whole
 * words "patterns": ["\\bq[1-4] (results|forecast)\\b"],               POSIX ERE, case-insensitive
 *        "event_subscriptions": ["Microsoft.Storage.BlobCreated", "com.example.*"],
 *        "schedule": {"interval_s": 3600, "text": "Review the cash position."}
 *                 or {"cron": "0 8 * * 1-5", "text": "..."},           5-field cron, UTC
 *        "endpoint": <endpoint> | [<endpoint>, ...],                    fallback chain, in order
 *        "adapter": "cfo-lora-v3",
 *        "max_history": 20}
 *     ]
 *   }
 *
 *   <endpoint> = {"provider": "azure-openai" | "openai" | "azureml" | "offline",
 *                 "url": "https://...", "deployment": "...", "api_version": "2024-06-01",
 *                 "api_key_env": "AZURE_OPENAI_API_KEY", "auth": "api-key" | "bearer",
 *                 "model": "...", "timeout_ms": 30000, "max_retries": 3,
 *                 "max_tokens": 800, "temperature": 0.2,
 *                 "requests_per_minute": 600, "tokens_per_minute": 100000}     model headroom
 *
 * Secrets never live in the file: api_key_env names the environment variable that holds the
 * key. An agent without an endpoint uses the offline provider. Parsing is strict: unknown keys,
 * wrong types, out-of-range numbers, duplicate agent names, bad regexes and a default_agent
 * that names no agent are errors, and the message names the path, e.g.
 *   "agents[2].endpoint.provider: unknown provider \"azure\" (expected azure-openai, openai,
 *    azureml or offline)".
 *
 * Ownership: aos_agents_config_t owns everything it points to; aos_agents_config_free() frees it.
 * After parsing the config is immutable, so every function taking a const config may be called
 * from any number of threads at once.
 */
#ifndef AOS_AGENTS_H
#define AOS_AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aos/result.h"

#define AOS_AGENT_NAME_MAX 63

typedef enum aos_provider {
    AOS_PROVIDER_OFFLINE = 0,
    AOS_PROVIDER_AZURE_OPENAI,
    AOS_PROVIDER_OPENAI,
    AOS_PROVIDER_AZUREML,
} aos_provider;

typedef enum aos_endpoint_auth {
    AOS_ENDPOINT_AUTH_DEFAULT = 0, /* azure-openai: api-key header; openai/azureml: bearer */
    AOS_ENDPOINT_AUTH_API_KEY,     /* "api-key: <key>" */
    AOS_ENDPOINT_AUTH_BEARER,      /* "Authorization: Bearer <key>" */
} aos_endpoint_auth;

/* "azure-openai", "openai", "azureml", "offline". Never NULL. */
const char *aos_provider_name(aos_provider p);
aos_result aos_provider_parse(const char *s, aos_provider *out);

typedef struct aos_endpoint {
    aos_provider provider;
    char *url;         /* base URL; required except for offline */
    char *deployment;  /* azure-openai deployment / azureml model deployment; may be NULL */
    char *api_version; /* azure-openai api-version; may be NULL */
    char *api_key_env; /* name of the env var holding the key; may be NULL (no auth) */
    aos_endpoint_auth auth;
    char *model;          /* model name (openai); may be NULL (the agent's adapter is used) */
    uint32_t timeout_ms;  /* per attempt; default 30000, 1..600000 */
    uint32_t max_retries; /* default 3, 0..10 */
    uint32_t max_tokens;  /* 0 = provider default */
    double temperature;   /* < 0 = provider default; otherwise 0..2 */
    /* The endpoint's quota (Azure OpenAI RPM / TPM); 0 = none. The runner takes turns for
     * the endpoint's agents only while there is headroom (docs/agent-runner.md). */
    uint32_t requests_per_minute;
    uint32_t tokens_per_minute;
} aos_endpoint_t;

typedef struct aos_blob_ref {
    char *container;
    char *name;
} aos_blob_ref_t;

typedef struct aos_schedule {
    bool enabled;
    uint32_t interval_s; /* > 0 for interval schedules, 0 for cron */
    char *cron;          /* 5-field cron ("m h dom mon dow"), UTC; NULL for interval */
    char *text;          /* the turn text sent when the schedule fires; never NULL if enabled */
    /* Compiled cron bit sets (internal to aos_schedule_next). */
    uint64_t cron_min, cron_hour, cron_dom, cron_mon, cron_dow;
} aos_schedule_t;

struct aos_agent_regex; /* compiled patterns; internal */

typedef struct aos_agent_def {
    char *name;
    char *purpose;
    aos_blob_ref_t *domain_knowledge;
    size_t domain_knowledge_count;
    char **keywords; /* lower-cased */
    size_t keyword_count;
    char **patterns; /* as written in the file */
    size_t pattern_count;
    char **event_subscriptions; /* exact type, or a prefix ending in '*' */
    size_t event_subscription_count;
    aos_schedule_t schedule;
    aos_endpoint_t *endpoints; /* fallback chain in order; count 0 = offline */
    size_t endpoint_count;
    char *adapter;        /* may be NULL */
    uint32_t max_history; /* messages of context; default settings.max_history */
    struct aos_agent_regex *compiled_;
} aos_agent_def_t;

typedef struct aos_routing_config {
    bool sticky; /* default true: a conversation stays with its agent */
    bool has_classifier;
    aos_endpoint_t classifier; /* used when no explicit/sticky/rule decision was made */
} aos_routing_config_t;

/* The agents' keys of "settings", read by the table-driven loader of aos/config.h
 * (aos_config_load_settings): file-only, durations may be "30s", sizes "64k". */
typedef struct aos_settings {
    uint32_t sync_timeout_ms;       /* router: wait for a turn result (default 30000) */
    uint32_t act_timeout_ms;        /* router: wait for the ML pipeline (default 10000) */
    uint32_t storage_timeout_ms;    /* storage request/reply (default 5000) */
    uint32_t max_body_bytes;        /* router: request body limit (default 1 MiB) */
    uint32_t max_text_bytes;        /* router: message text limit (default 64 KiB) */
    uint32_t heartbeat_interval_ms; /* runner: heartbeat period (default 5000) */
    uint32_t heartbeat_stale_ms;    /* router: agent unhealthy after this silence (default 15000) */
    uint32_t max_inflight;          /* runner: concurrent turns per instance (default 256) */
    uint32_t max_history;           /* default for agents without max_history (default 20) */
    uint32_t large_payload_bytes;   /* bus payloads above this go by blob reference (256 KiB) */
} aos_settings_t;

typedef struct aos_agents_config {
    aos_agent_def_t *agents;
    size_t agent_count;
    char *default_agent; /* always names an agent in agents[] */
    aos_routing_config_t routing;
    aos_settings_t settings;
} aos_agents_config_t;

/* Parse and validate a config document. On error *out_cfg is NULL and errbuf names the path.
 * An empty agents array is an error (there must be a default agent). */
aos_result aos_agents_config_parse(const char *json, size_t len, aos_agents_config_t **out_cfg,
                                   char *errbuf, size_t errlen);

/* Read a file and parse it (errors are prefixed with the file name). */
aos_result aos_agents_config_load(const char *path, aos_agents_config_t **out_cfg, char *errbuf,
                                  size_t errlen);

/* Free the config. NULL is a no-op. */
void aos_agents_config_free(aos_agents_config_t *cfg);

/* The agent called name, or NULL. */
const aos_agent_def_t *aos_agents_find(const aos_agents_config_t *cfg, const char *name);

/* The default agent (never NULL for a parsed config). */
const aos_agent_def_t *aos_agents_default(const aos_agents_config_t *cfg);

/* True when name is a syntactically valid agent name ([a-z0-9_-], 1..63, starts with a
 * letter or digit); such names are safe in queue names ("aos.agent.<name>"). */
bool aos_agent_name_valid(const char *name);

/* Routing hints. Both match case-insensitively. Keywords match whole words (or whole
 * phrases for multi-word keywords): "budget" matches "Budget?" but not "budgetary".
 * On a match, *out_hint (if not NULL) points at the keyword / pattern string (borrowed from
 * the agent). */
bool aos_agent_match_keywords(const aos_agent_def_t *agent, const char *text,
                              const char **out_hint);
bool aos_agent_match_patterns(const aos_agent_def_t *agent, const char *text,
                              const char **out_hint);

/* Event subscription match: "a.b.c" matches exactly; "a.b.*" matches any type starting with
 * "a.b."; "*" matches everything. Case-sensitive (CloudEvents types are). */
bool aos_event_type_matches(const char *subscription, const char *type);
bool aos_agent_subscribed(const aos_agent_def_t *agent, const char *event_type);

/* Next firing time strictly after `after` (UTC seconds). AOS_ERR_INVALID if the schedule is
 * disabled; AOS_ERR_NOT_FOUND if a cron expression never fires (e.g. 31 February). */
aos_result aos_schedule_next(const aos_schedule_t *s, time_t after, time_t *out_next);

/* Parse a 5-field cron expression into s (fields: numbers, '*', ranges a-b, lists a,b and
 * steps * / n or a-b/n; dow 0-7 with 0 and 7 = Sunday). Used by the config parser; exposed
 * for tests and tools. */
aos_result aos_schedule_parse_cron(const char *expr, aos_schedule_t *s, char *errbuf,
                                   size_t errlen);

/* The API key for an endpoint: getenv(api_key_env), or NULL when unset / not configured.
 * Borrowed from the environment; never log it. */
const char *aos_endpoint_api_key(const aos_endpoint_t *ep);

#endif
