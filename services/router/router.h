/* services/router/router.h: the aos-router service (docs/design.md §4): the public HTTP API on
 * AOS_HTTP_ADDR, probes and metrics on AOS_ADMIN_ADDR, turns over the bus.
 *
 * Threads: router_start/stop/free are called from one controlling thread (main or a test).
 * Internally, HTTP handlers run on the HTTP server thread, bus callbacks on the bus I/O
 * thread, HTTP client callbacks on its thread; none of them blocks: a request waiting for
 * its turn result is a deferred HTTP response plus a pending bus request, not a thread.
 */
#ifndef ROUTER_ROUTER_H
#define ROUTER_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "aos/config.h"
#include "aos/result.h"

typedef struct router_config {
    aos_config_common_t common;   /* AOS_BUS_URL, AOS_HTTP_ADDR, AOS_ADMIN_ADDR, AOS_CONFIG, … */
    char *api_keys_file;          /* AOS_API_KEYS_FILE */
    char *api_keys;               /* AOS_API_KEYS (comma-separated; secret) */
    char *bot_app_id;             /* AOS_BOT_APP_ID: expected JWT audience */
    char *bot_jwks_file;          /* AOS_BOT_JWKS_FILE: enables JWT validation on /api/messages */
    char *bot_issuers;            /* AOS_BOT_JWT_ISSUERS (comma-separated) */
    bool bot_end_of_conversation; /* AOS_BOT_END_OF_CONVERSATION */
    char *events_address;         /* AOS_ROUTER_EVENTS_ADDRESS: where heartbeats are read */
    char *health_shared;          /* AOS_ROUTER_HEALTH_SHARED: auto|on|off */
    char *ingress_queue;          /* AOS_ROUTER_INGRESS_QUEUE: CloudEvents from applications */
    char *bot_app_password;       /* AOS_BOT_APP_PASSWORD: client secret for replies (secret) */
    char *bot_tenant;             /* AOS_BOT_TENANT: Entra tenant of the token (botframework.com) */
    char *bot_token_url;          /* AOS_BOT_TOKEN_URL: token endpoint override */
    /* Copilot Studio skill (docs/copilot-studio.md) */
    char *public_url;               /* AOS_PUBLIC_URL: base URL in the skill manifest */
    char *bot_skill_name;           /* AOS_BOT_SKILL_NAME: the manifest's name and $id */
    char *bot_openid_metadata;      /* AOS_BOT_OPENID_METADATA: comma-separated metadata URLs */
    char *bot_allowed_callers;      /* AOS_BOT_ALLOWED_CALLERS: caller app ids, or "*" */
    char *bot_cert_file;            /* AOS_BOT_CERT_FILE: PEM cert + key (certificate credential) */
    char *bot_federated_token_file; /* AOS_BOT_FEDERATED_TOKEN_FILE: workload identity token */
    bool bot_managed_identity;      /* AOS_BOT_MANAGED_IDENTITY: token from the managed identity */
    int64_t claim_threshold;        /* AOS_CLAIM_THRESHOLD: turns larger go by reference */
} router_config_t;

/* The environment table (for main, docs and tests). */
extern const aos_config_field_t router_config_table[];
extern const size_t router_config_table_len;

/* main() loads router_config_t with aos_service_init_checked (aos/service.h). */
void router_config_free(router_config_t *cfg);

/* The API keys and bus credentials of cfg (router_credentials_check), before anything starts. */
aos_result router_config_check_credentials(const router_config_t *cfg, char *errbuf, size_t errlen);

typedef struct router router_t;

/* Build the service from cfg (copied): loads the agents config ($AOS_CONFIG, or
 * deploy/config/aos.json semantics are the caller's), API keys, JWKS. No I/O yet. */
aos_result router_new(const router_config_t *cfg, router_t **out, char *errbuf, size_t errlen);

/* Connect the bus (waits up to connect_timeout_ms for the first connection; the bus keeps
 * reconnecting afterwards), subscribe to heartbeats, start both HTTP servers. */
aos_result router_start(router_t *rt, int connect_timeout_ms, char *errbuf, size_t errlen);

/* Bound ports (after start; useful with port 0). */
uint16_t router_http_port(const router_t *rt);
uint16_t router_admin_port(const router_t *rt);

/* Graceful stop: stop taking requests, let waiting ones finish for up to grace_ms, stop the
 * bus. Idempotent. */
void router_stop(router_t *rt, int grace_ms);
void router_free(router_t *rt);

#endif
