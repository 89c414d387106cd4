/* services/router/skill_manifest.h: the Bot Framework skill manifest (schema v2.2) that
 * Copilot Studio reads to register AOS as a skill, generated from the agents config.
 * Served at GET /api/skill/manifest.json (docs/copilot-studio.md). Pure; thread-safe.
 *
 * Declared, and nothing else (what svc_bot.c really handles):
 *  - "message": a question or an Adaptive Card submit, routed like POST /v1/messages;
 *  - one "event" per agent, named after the agent: value {"text"}, result {"reply","agent"}
 *    (the reply comes as a message followed by endOfConversation carrying the result);
 *  - "invoke" ROUTER_SKILL_INVOKE_ASK: value {"text","agent"?}; the InvokeResponse body is
 *    {"reply","agent","conversation_id"};
 *  - conversationUpdate and endOfConversation (acknowledged).
 */
#ifndef ROUTER_SKILL_MANIFEST_H
#define ROUTER_SKILL_MANIFEST_H

#include "aos/agents.h"
#include "aos/result.h"

#define ROUTER_SKILL_SCHEMA                                                                        \
    "https://schemas.botframework.com/schemas/skills/v2.2/skill-manifest.json"
#define ROUTER_SKILL_MANIFEST_PATH "/api/skill/manifest.json"
#define ROUTER_SKILL_INVOKE_ASK "aos/ask"

typedef struct router_skill_info {
    const char *public_url; /* base URL the skill host reaches the router at (no trailing /) */
    const char *app_id;     /* the skill's Microsoft App ID (msAppId) */
    const char *name;       /* skill name and $id; NULL: "aos" */
    const char *publisher;  /* NULL: "AOS" */
    const char *version;    /* NULL: "1.0" */
} router_skill_info_t;

/* The manifest JSON (malloc'd). AOS_ERR_INVALID without public_url or app_id. */
aos_result router_skill_manifest_build(const aos_agents_config_t *agents,
                                       const router_skill_info_t *info, char **out_json);

#endif
