/* aos-router: configuration, lifecycle, auth and the route table (see router.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aos/claim_check.h"
#include "aos/log.h"
#include "aos/model_call.h"
#include "router_internal.h"

const aos_config_field_t router_config_table[] = {
    AOS_CONFIG_COMMON_FIELDS(router_config_t, common),
    {"AOS_API_KEYS_FILE", "api_keys_file", AOS_CONFIG_STRING, NULL, 0, 4096, false, false, NULL,
     "File of API keys, one per line, accepted as Authorization: Bearer <key> (router)",
     offsetof(router_config_t, api_keys_file)},
    {"AOS_API_KEYS", NULL, AOS_CONFIG_STRING, NULL, 0, 65536, false, true, NULL,
     "Comma-separated API keys (router); with neither this nor the file the router refuses to "
     "start unless AOS_DEV_MODE=1",
     offsetof(router_config_t, api_keys)},
    {"AOS_BOT_APP_ID", "bot_app_id", AOS_CONFIG_STRING, NULL, 0, 256, false, false, NULL,
     "Bot / skill app id: the audience Bot Framework JWTs must carry (router)",
     offsetof(router_config_t, bot_app_id)},
    {"AOS_BOT_JWKS_FILE", "bot_jwks_file", AOS_CONFIG_STRING, NULL, 0, 4096, false, false, NULL,
     "JWKS document for Bot Framework JWT validation on /api/messages (unset = no validation)",
     offsetof(router_config_t, bot_jwks_file)},
    {"AOS_BOT_JWT_ISSUERS", "bot_jwt_issuers", AOS_CONFIG_STRING, "https://api.botframework.com", 0,
     4096, false, false, NULL, "Comma-separated accepted JWT issuers for /api/messages",
     offsetof(router_config_t, bot_issuers)},
    {"AOS_BOT_END_OF_CONVERSATION", "bot_end_of_conversation", AOS_CONFIG_BOOL, "false", 0, 0,
     false, false, NULL,
     "Follow each bot reply with an endOfConversation activity (single-turn skills)",
     offsetof(router_config_t, bot_end_of_conversation)},
    {"AOS_ROUTER_EVENTS_ADDRESS", "router_events_address", AOS_CONFIG_STRING, NULL, 0, 1024, false,
     false, NULL,
     "Bus address the router reads aos.agent.heartbeat from (default: rabbitmq "
     "/exchange/aos.events/aos.agent.heartbeat, servicebus aos.events/Subscriptions/aos-router)",
     offsetof(router_config_t, events_address)},
    {"AOS_ROUTER_HEALTH_SHARED", "router_health_shared", AOS_CONFIG_ENUM, "auto", 0, 0, false,
     false, "auto|on|off",
     "Share agent health between router replicas through storage (auto: on for servicebus, "
     "where replicas share one heartbeat subscription; docs/servicebus.md)",
     offsetof(router_config_t, health_shared)},
    {"AOS_ROUTER_INGRESS_QUEUE", "router_ingress_queue", AOS_CONFIG_STRING, "aos.ingress", 0, 256,
     false, false, NULL,
     "Queue of CloudEvents published by applications; each becomes a turn for every subscribed "
     "agent, like POST /v1/events (\"\" = off; docs/servicebus.md)",
     offsetof(router_config_t, ingress_queue)},
    {"AOS_BOT_APP_PASSWORD", NULL, AOS_CONFIG_STRING, NULL, 0, 1024, false, true, NULL,
     "Client secret of AOS_BOT_APP_ID: replies POSTed to serviceUrl carry a Bot Framework token",
     offsetof(router_config_t, bot_app_password)},
    {"AOS_BOT_TENANT", "bot_tenant", AOS_CONFIG_STRING, "botframework.com", 0, 256, false, false,
     NULL, "Entra tenant that issues the outbound Bot Framework token",
     offsetof(router_config_t, bot_tenant)},
    {"AOS_BOT_TOKEN_URL", "bot_token_url", AOS_CONFIG_URL, NULL, 0, 0, false, false, "http|https",
     "Token endpoint (default https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token)",
     offsetof(router_config_t, bot_token_url)},
    /* Copilot Studio skill (docs/copilot-studio.md) */
    {"AOS_PUBLIC_URL", "public_url", AOS_CONFIG_URL, NULL, 0, 0, false, false, "http|https",
     "Public base URL of the router, as the skill manifest's endpointUrl base (default: from "
     "the Host header)",
     offsetof(router_config_t, public_url)},
    {"AOS_BOT_SKILL_NAME", "bot_skill_name", AOS_CONFIG_STRING, "aos", 0, 128, false, false, NULL,
     "Skill name and $id in the skill manifest (GET /api/skill/manifest.json)",
     offsetof(router_config_t, bot_skill_name)},
    {"AOS_BOT_OPENID_METADATA", "bot_openid_metadata", AOS_CONFIG_STRING, NULL, 0, 4096, false,
     false, NULL,
     "Comma-separated OpenID metadata URLs whose keys sign inbound Bot Framework / Entra JWTs "
     "(default with AOS_BOT_APP_ID and no AOS_BOT_JWKS_FILE: login.botframework.com's, plus "
     "login.microsoftonline.com/<AOS_BOT_TENANT>/v2.0's for a tenant id)",
     offsetof(router_config_t, bot_openid_metadata)},
    {"AOS_BOT_ALLOWED_CALLERS", "bot_allowed_callers", AOS_CONFIG_STRING, NULL, 0, 4096, false,
     false, NULL,
     "Comma-separated app ids allowed to call the skill (the Copilot Studio bot's appid/azp); "
     "\"*\" allows any verified caller; unset refuses every caller",
     offsetof(router_config_t, bot_allowed_callers)},
    {"AOS_BOT_CERT_FILE", "bot_cert_file", AOS_CONFIG_STRING, NULL, 0, 4096, false, false, NULL,
     "PEM file with the certificate and private key of AOS_BOT_APP_ID: outbound token by "
     "certificate credential instead of AOS_BOT_APP_PASSWORD",
     offsetof(router_config_t, bot_cert_file)},
    {"AOS_BOT_FEDERATED_TOKEN_FILE", "bot_federated_token_file", AOS_CONFIG_STRING, NULL, 0, 4096,
     false, false, NULL,
     "Federated (workload identity) token file, e.g. AKS's $AZURE_FEDERATED_TOKEN_FILE: outbound "
     "token by client assertion, re-read at each fetch",
     offsetof(router_config_t, bot_federated_token_file)},
    {"AOS_BOT_MANAGED_IDENTITY", "bot_managed_identity", AOS_CONFIG_BOOL, "false", 0, 0, false,
     false, NULL,
     "Outbound token from the user-assigned managed identity whose client id is AOS_BOT_APP_ID "
     "(Bot app type UserAssignedMSI): IDENTITY_ENDPOINT/IDENTITY_HEADER, else the instance "
     "metadata service; used when no secret, certificate or federated token is set",
     offsetof(router_config_t, bot_managed_identity)},
    AOS_CLAIM_THRESHOLD_FIELD(router_config_t, claim_threshold),
};
const size_t router_config_table_len = sizeof router_config_table / sizeof router_config_table[0];

aos_result router_config_check_credentials(const router_config_t *cfg, char *errbuf, size_t errlen)
{
    router_apikeys_t *keys = NULL;
    aos_result r = router_apikeys_load(cfg->api_keys_file, cfg->api_keys, &keys, errbuf, errlen);
    if (r == AOS_OK)
        r = router_credentials_check(&cfg->common, keys, errbuf, errlen);
    router_apikeys_free(keys);
    return r;
}

void router_config_free(router_config_t *cfg)
{
    if (cfg)
        aos_config_free(router_config_table, router_config_table_len, cfg);
}

static aos_result copy_config(router_config_t *dst, const router_config_t *src)
{
    memcpy(dst, src, sizeof *dst);
    for (size_t i = 0; i < router_config_table_len; i++) {
        const aos_config_field_t *f = &router_config_table[i];
        if (f->type != AOS_CONFIG_STRING && f->type != AOS_CONFIG_URL &&
            f->type != AOS_CONFIG_HOSTPORT && f->type != AOS_CONFIG_ENUM)
            continue;
        char **p = (char **)((char *)dst + f->offset);
        if (*p && !(*p = strdup(*p)))
            return AOS_ERR_NOMEM;
    }
    return AOS_OK;
}

/* A single-tenant app registration: Entra issues skill tokens as
 * https://sts.windows.net/<tenant>/ (v1) and https://login.microsoftonline.com/<tenant>/v2.0. */
static aos_result add_tenant_issuers(router_t *rt)
{
    const char *t = rt->cfg.bot_tenant;
    if (!t || !t[0] || strcmp(t, "botframework.com") == 0 || strchr(t, '/'))
        return AOS_OK;
    char *more[2] = {NULL, NULL};
    if (asprintf(&more[0], "https://sts.windows.net/%s/", t) < 0 ||
        asprintf(&more[1], "https://login.microsoftonline.com/%s/v2.0", t) < 0)
        return AOS_ERR_NOMEM;
    char **grown = realloc(rt->issuers, (rt->issuer_count + 2) * sizeof *grown);
    if (!grown) {
        free(more[0]);
        free(more[1]);
        return AOS_ERR_NOMEM;
    }
    rt->issuers = grown;
    rt->issuers[rt->issuer_count++] = more[0];
    rt->issuers[rt->issuer_count++] = more[1];
    return AOS_OK;
}

static aos_result split_list(const char *s, char ***out, size_t *out_count)
{
    size_t n = 1;
    for (const char *p = s ? s : ""; *p; p++)
        n += *p == ',';
    *out = calloc(n, sizeof **out);
    char *copy = strdup(s ? s : ""), *save = NULL;
    if (!*out || !copy) {
        free(copy);
        return AOS_ERR_NOMEM;
    }
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
        if (!((*out)[(*out_count)++] = strdup(tok))) {
            free(copy);
            return AOS_ERR_NOMEM;
        }
    free(copy);
    return AOS_OK;
}

static aos_result split_issuers(router_t *rt)
{
    const char *s = rt->cfg.bot_issuers ? rt->cfg.bot_issuers : "";
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    rt->issuers = calloc(n, sizeof *rt->issuers);
    if (!rt->issuers)
        return AOS_ERR_NOMEM;
    char *copy = strdup(s), *save = NULL;
    if (!copy)
        return AOS_ERR_NOMEM;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
        if (!(rt->issuers[rt->issuer_count++] = strdup(tok))) {
            free(copy);
            return AOS_ERR_NOMEM;
        }
    free(copy);
    return add_tenant_issuers(rt);
}

static aos_result load_auth(router_t *rt, char *errbuf, size_t errlen)
{
    AOS_RETURN_IF_FAILED(
        router_apikeys_load(rt->cfg.api_keys_file, rt->cfg.api_keys, &rt->keys, errbuf, errlen));
    AOS_RETURN_IF_FAILED(router_credentials_check(&rt->cfg.common, rt->keys, errbuf, errlen));
    AOS_RETURN_IF_FAILED(split_issuers(rt));
    if ((rt->cfg.bot_app_password || rt->cfg.bot_cert_file || rt->cfg.bot_federated_token_file ||
         rt->cfg.bot_managed_identity) &&
        !rt->cfg.bot_app_id)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "an outbound bot credential is set but AOS_BOT_APP_ID (its client id) is "
                        "not");
    AOS_RETURN_IF_FAILED(
        split_list(rt->cfg.bot_allowed_callers, &rt->allowed_callers, &rt->allowed_caller_count));
    if (!rt->cfg.bot_jwks_file && !rt->cfg.bot_app_id) {
        aos_log(
            AOS_LOG_WARN,
            router_dev_mode(rt)
                ? "no Bot Framework auth (AOS_BOT_APP_ID): development mode, /api/messages "
                  "accepts unsigned activities"
                : "no Bot Framework auth (AOS_BOT_APP_ID): /api/messages refuses every activity",
            NULL);
        return AOS_OK;
    }
    if (!rt->cfg.bot_app_id)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "AOS_BOT_JWKS_FILE is set but AOS_BOT_APP_ID (the JWT audience) is not");
    if (rt->issuer_count == 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "AOS_BOT_JWT_ISSUERS is empty");
    if (rt->allowed_caller_count == 0)
        aos_log(AOS_LOG_WARN,
                "AOS_BOT_ALLOWED_CALLERS is empty: every skill caller is refused (list the "
                "Copilot Studio bot's app id, or \"*\")",
                NULL);
    if (rt->cfg.bot_jwks_file)
        return router_jwks_load(rt->cfg.bot_jwks_file, &rt->jwks, errbuf, errlen);
    return AOS_OK; /* OpenID metadata: loaded by router_start (needs the HTTP client) */
}

static void init_metrics(router_t *rt)
{
    rt->turn_seconds = aos_metrics_histogram(NULL, "aos_router_turn_duration_seconds",
                                             "Time from request to turn result.", NULL, 0, NULL);
    const char *h = "Turns by outcome.";
    rt->turns_ok = aos_metrics_counter(NULL, "aos_router_turns_total", h, "result", "ok", NULL);
    rt->turns_timeout =
        aos_metrics_counter(NULL, "aos_router_turns_total", h, "result", "timeout", NULL);
    rt->turns_failed =
        aos_metrics_counter(NULL, "aos_router_turns_total", h, "result", "error", NULL);
    rt->turns_async =
        aos_metrics_counter(NULL, "aos_router_turns_total", h, "result", "accepted", NULL);
    rt->events_in = aos_metrics_counter(NULL, "aos_router_events_total",
                                        "CloudEvents received on /v1/events.", NULL);
    rt->heartbeats_in = aos_metrics_counter(NULL, "aos_router_heartbeats_total",
                                            "Agent heartbeats received.", NULL);
}

aos_result router_new(const router_config_t *cfg, router_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    router_t *rt = calloc(1, sizeof *rt);
    if (!rt)
        return AOS_ERR_NOMEM;
    pthread_mutex_init(&rt->hb_mu, NULL);
    pthread_mutex_init(&rt->bot_mu, NULL);
    aos_result r = copy_config(&rt->cfg, cfg);
    if (r == AOS_OK && !rt->cfg.common.config_path)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                     "AOS_CONFIG: required (the agents config file, e.g. deploy/config/aos.json)");
    if (r == AOS_OK)
        r = aos_agents_config_load(rt->cfg.common.config_path, &rt->agents, errbuf, errlen);
    if (r == AOS_OK)
        r = load_auth(rt, errbuf, errlen);
    if (r == AOS_OK && !(rt->sticky = router_sticky_new()))
        r = AOS_ERR_NOMEM;
    if (r == AOS_OK && !(rt->queue_seen = calloc(rt->agents->agent_count, sizeof *rt->queue_seen)))
        r = AOS_ERR_NOMEM;
    if (r != AOS_OK) {
        router_free(rt);
        return r;
    }
    init_metrics(rt);
    *out = rt;
    return AOS_OK;
}

/* The API-key check on the headers alone: the HTTP server runs it before reading the body of
 * every AOS_HTTP_ROUTE_AUTH route (docs/design.md §4 "checked before the body is read"). */
static aos_result check_api_key(aos_http_request_t *req, void *ctx, char *why, size_t why_len)
{
    router_t *rt = ctx;
    const char *auth = aos_http_request_header(req, "Authorization");
    char tmp[ROUTER_APIKEY_MAX_LEN + 16];
    /* Webhooks (Event Grid) cannot always set headers: accept ?code=<key> on /v1/events. */
    const char *code = aos_http_request_query(req, "code");
    if (!auth && code && strcmp(aos_http_request_route(req), "/v1/events") == 0 &&
        strlen(code) <= ROUTER_APIKEY_MAX_LEN) {
        snprintf(tmp, sizeof tmp, "Bearer %s", code);
        auth = tmp;
    }
    aos_result r = router_apikeys_check(rt->keys, auth, why, why_len);
    if (r != AOS_OK)
        aos_http_response_header(req, "WWW-Authenticate", "Bearer");
    return r;
}

bool router_authorize(router_t *rt, aos_http_request_t *req)
{
    char why[160];
    const char *auth = aos_http_request_header(req, "Authorization");
    char tmp[ROUTER_APIKEY_MAX_LEN + 16];
    /* Webhooks (Event Grid) cannot always set headers: accept ?code=<key> on /v1/events. */
    const char *code = aos_http_request_query(req, "code");
    if (!auth && code && strcmp(aos_http_request_route(req), "/v1/events") == 0 &&
        strlen(code) <= ROUTER_APIKEY_MAX_LEN) {
        snprintf(tmp, sizeof tmp, "Bearer %s", code);
        auth = tmp;
    }
    if (router_apikeys_check(rt->keys, auth, why, sizeof why) == AOS_OK)
        return true;
    aos_http_response_header(req, "WWW-Authenticate", "Bearer");
    router_respond_error(req, AOS_ERR_AUTH, why);
    return false;
}

bool router_dev_mode(const router_t *rt)
{
    return rt->cfg.common.dev_mode;
}

void router_respond_error(aos_http_request_t *req, aos_result r, const char *message)
{
    aos_log(r == AOS_ERR_INTERNAL || r == AOS_ERR_NOMEM ? AOS_LOG_ERROR : AOS_LOG_INFO,
            "request failed", "route", aos_http_request_route(req), "code", aos_result_code(r),
            "detail", message ? message : "", NULL);
    aos_http_respond_error(req, r, message);
}

void router_agent_queue(const char *agent, char *out, size_t outlen)
{
    snprintf(out, outlen, "aos.agent.%s", agent);
}

static bool ready(void *ctx, char *reason, size_t reason_len)
{
    router_t *rt = ctx;
    if (atomic_load(&rt->stopping)) {
        snprintf(reason, reason_len, "stopping");
        return false;
    }
    if (!aos_bus_is_connected(rt->bus)) {
        snprintf(reason, reason_len, "bus not connected");
        return false;
    }
    return true;
}

static aos_result add_routes(router_t *rt)
{
    aos_http_server_t *s = rt->api;
    /* /v1: API key before the body, JSON bodies only (415 for forms and text/plain). */
    const unsigned V1 = AOS_HTTP_ROUTE_AUTH | AOS_HTTP_ROUTE_JSON;
    aos_http_server_set_authorizer(s, check_api_key, rt);
    AOS_RETURN_IF_FAILED(
        aos_http_server_route_ex(s, "POST", "/v1/messages", svc_post_message, rt, V1));
    AOS_RETURN_IF_FAILED(
        aos_http_server_route_ex(s, "GET", "/v1/conversations/{id}", svc_get_conversation, rt, V1));
    AOS_RETURN_IF_FAILED(aos_http_server_route_ex(s, "GET", "/v1/agents", svc_get_agents, rt, V1));
    AOS_RETURN_IF_FAILED(
        aos_http_server_route_ex(s, "POST", "/v1/agents/{agent}/act", svc_post_act, rt, V1));
    AOS_RETURN_IF_FAILED(
        aos_http_server_route_ex(s, "POST", "/v1/events", svc_post_events, rt, V1));
    AOS_RETURN_IF_FAILED(
        aos_http_server_route_ex(s, "OPTIONS", "/v1/events", svc_options_events, rt, V1));
    /* Bot Framework: its own JWT check (svc_bot.c); JSON bodies only. */
    AOS_RETURN_IF_FAILED(aos_http_server_route_ex(s, "POST", "/api/messages", svc_post_activity, rt,
                                                  AOS_HTTP_ROUTE_JSON));
    /* The skill manifest is public: Copilot Studio fetches it without credentials. */
    AOS_RETURN_IF_FAILED(
        aos_http_server_route(s, "GET", ROUTER_SKILL_MANIFEST_PATH, svc_get_skill_manifest, rt));
    AOS_RETURN_IF_FAILED(svc_ml_routes(s, rt));
    /* the operator console (docs/console.md) and the routes only it needs */
    AOS_RETURN_IF_FAILED(
        aos_http_server_route_ex(s, "GET", "/v1/conversations", svc_list_conversations, rt, V1));
    AOS_RETURN_IF_FAILED(
        aos_http_server_route_ex(s, "GET", "/v1/deadletters", svc_list_dead_letter_queues, rt, V1));
    AOS_RETURN_IF_FAILED(aos_http_server_route_ex(s, "GET", "/v1/deadletters/{queue}",
                                                  svc_list_dead_letters, rt, V1));
    AOS_RETURN_IF_FAILED(aos_http_server_route_ex(s, "POST", "/v1/deadletters/{queue}/{id}/replay",
                                                  svc_replay_dead_letter, rt, V1));
    AOS_RETURN_IF_FAILED(aos_http_server_route_ex(s, "DELETE", "/v1/deadletters/{queue}/{id}",
                                                  svc_delete_dead_letter, rt, V1));
    AOS_RETURN_IF_FAILED(svc_console_routes(s, rt));
    return AOS_OK;
}

aos_bus_profile router_bus_profile(const router_t *rt)
{
    return aos_bus_profile_of(rt->cfg.common.bus_profile);
}

static aos_result start_bus(router_t *rt, int connect_timeout_ms, char *errbuf, size_t errlen)
{
    char instance[200];
    snprintf(instance, sizeof instance, "router-%s-%d", rt->cfg.common.instance_id, (int)getpid());
    aos_bus_config_t bc;
    aos_bus_config_from_common(&rt->cfg.common, instance, &bc);
    AOS_RETURN_IF_FAILED(aos_bus_new(&bc, &rt->bus, errbuf, errlen));
    AOS_RETURN_IF_FAILED(svc_heartbeats_subscribe(rt, errbuf, errlen));
    AOS_RETURN_IF_FAILED(bot_outbound_start(rt, errbuf, errlen));
    AOS_RETURN_IF_FAILED(aos_bus_start(rt->bus));
    aos_result r = aos_bus_wait_connected(rt->bus, connect_timeout_ms);
    if (r != AOS_OK)
        return aos_fail(r, errbuf, errlen, "bus: not connected within %d ms", connect_timeout_ms);
    aos_storage_client_config_t sc = {.bus = rt->bus,
                                      .source = ROUTER_SOURCE,
                                      .timeout_ms = (int)rt->agents->settings.storage_timeout_ms,
                                      .claim_threshold = (size_t)rt->cfg.claim_threshold};
    AOS_RETURN_IF_FAILED(aos_storage_client_new(&sc, &rt->storage, errbuf, errlen));
    atomic_store(&rt->health_ready, true);
    /* after the storage client: an ingress event needs it at once */
    return svc_ingress_subscribe(rt, errbuf, errlen);
}

static aos_result start_http(router_t *rt, char *errbuf, size_t errlen)
{
    const aos_settings_t *st = &rt->agents->settings;
    aos_http_server_config_t api = {.bind_addr = rt->cfg.common.http_addr,
                                    .max_body_bytes = st->max_body_bytes,
                                    .deferred_timeout_ms = st->sync_timeout_ms + 15000,
                                    .builtins = AOS_HTTP_BUILTIN_HEALTHZ,
                                    .name = "api"};
    AOS_RETURN_IF_FAILED(aos_http_server_new(&api, &rt->api, errbuf, errlen));
    AOS_RETURN_IF_FAILED(add_routes(rt));
    AOS_RETURN_IF_FAILED(
        aos_http_admin_start(rt->cfg.common.admin_addr, ready, rt, &rt->admin, errbuf, errlen));
    return aos_http_server_start(rt->api, errbuf, errlen);
}

/* Inbound JWT keys from OpenID metadata (openid.h), unless a JWKS file is configured. */
static aos_result start_openid(router_t *rt, char *errbuf, size_t errlen)
{
    if (rt->jwks || !rt->cfg.bot_app_id)
        return AOS_OK;
    char defaults[600];
    const char *t = rt->cfg.bot_tenant;
    bool tenant = t && t[0] && strcmp(t, "botframework.com") != 0 && !strchr(t, '/');
    snprintf(defaults, sizeof defaults,
             "https://login.botframework.com/v1/.well-known/openidconfiguration%s%s%s",
             tenant ? ",https://login.microsoftonline.com/" : "", tenant ? t : "",
             tenant ? "/v2.0/.well-known/openid-configuration" : "");
    const char *urls = rt->cfg.bot_openid_metadata ? rt->cfg.bot_openid_metadata : defaults;
    AOS_RETURN_IF_FAILED(router_openid_new(rt->http, urls, 0, &rt->openid, errbuf, errlen));
    char why[300] = "";
    if (router_openid_load(rt->openid, why, sizeof why) != AOS_OK)
        aos_log(AOS_LOG_WARN, "bot signing keys not loaded yet; retried on the first activity",
                "detail", why, NULL);
    return AOS_OK;
}

aos_result router_start(router_t *rt, int connect_timeout_ms, char *errbuf, size_t errlen)
{
    AOS_RETURN_IF_FAILED(aos_http_client_new(NULL, &rt->http, errbuf, errlen));
    AOS_RETURN_IF_FAILED(bot_token_start(rt, errbuf, errlen));
    if (aos_model_new(NULL, rt->http, NULL, &rt->model) != AOS_OK)
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "out of memory");
    AOS_RETURN_IF_FAILED(start_openid(rt, errbuf, errlen));
    AOS_RETURN_IF_FAILED(start_bus(rt, connect_timeout_ms, errbuf, errlen));
    router_queues_check_all(rt);
    AOS_RETURN_IF_FAILED(start_http(rt, errbuf, errlen));
    atomic_store(&rt->started, true);
    char port[16], admin[16], agents[16];
    snprintf(port, sizeof port, "%u", router_http_port(rt));
    snprintf(admin, sizeof admin, "%u", router_admin_port(rt));
    snprintf(agents, sizeof agents, "%zu", rt->agents->agent_count);
    aos_log(AOS_LOG_INFO, "router started", "http_port", port, "admin_port", admin, "agents",
            agents, "default_agent", rt->agents->default_agent, "reply_address",
            aos_bus_reply_address(rt->bus), NULL);
    return AOS_OK;
}

uint16_t router_http_port(const router_t *rt)
{
    return rt && rt->api ? aos_http_server_port(rt->api) : 0;
}

uint16_t router_admin_port(const router_t *rt)
{
    return rt && rt->admin ? aos_http_server_port(rt->admin) : 0;
}

void router_stop(router_t *rt, int grace_ms)
{
    if (!rt || atomic_exchange(&rt->stopping, true))
        return;
    aos_log(AOS_LOG_INFO, "router stopping", NULL);
    /* Waiting requests are answered by their bus replies (or timeouts) while the API drains;
     * only then does the bus go. */
    if (rt->api)
        aos_http_server_stop(rt->api, grace_ms);
    svc_dead_letters_drain(rt, 15000);
    bot_outbound_stop(rt);
    if (rt->bus)
        aos_bus_stop(rt->bus, 2000);
    if (rt->admin)
        aos_http_server_stop(rt->admin, 0);
}

void router_free(router_t *rt)
{
    if (!rt)
        return;
    router_stop(rt, 0);
    aos_http_server_free(rt->api);
    aos_http_server_free(rt->admin);
    bot_token_free(rt); /* its fetch thread uses the HTTP client */
    aos_http_client_free(rt->http);
    aos_model_free(rt->model);
    router_openid_free(rt->openid);
    bot_outbound_free(rt);
    aos_storage_client_free(rt->storage);
    aos_bus_free(rt->bus);
    aos_agents_config_free(rt->agents);
    free(rt->queue_seen);
    router_sticky_free(rt->sticky);
    router_apikeys_free(rt->keys);
    router_jwks_free(rt->jwks);
    for (size_t i = 0; i < rt->issuer_count; i++)
        free(rt->issuers[i]);
    free(rt->issuers);
    for (size_t i = 0; i < rt->allowed_caller_count; i++)
        free(rt->allowed_callers[i]);
    free(rt->allowed_callers);
    router_config_free(&rt->cfg);
    pthread_mutex_destroy(&rt->hb_mu);
    pthread_mutex_destroy(&rt->bot_mu);
    free(rt);
}
