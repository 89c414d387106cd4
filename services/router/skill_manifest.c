/* The skill manifest (see skill_manifest.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "skill_manifest.h"

static json_object *str_prop(const char *description)
{
    json_object *p = json_object_new_object();
    if (p && (aos_json_add_string(p, "type", "string") != AOS_OK ||
              aos_json_add_string(p, "description", description) != AOS_OK)) {
        json_object_put(p);
        return NULL;
    }
    return p;
}

/* {"type":"object","properties":{names[i]: string},"required":[required…]} */
static json_object *object_schema(const char *const *names, const char *const *descs, size_t n,
                                  size_t required)
{
    json_object *o = json_object_new_object(), *props = json_object_new_object(),
                *req = json_object_new_array();
    aos_result r = (o && props && req) ? aos_json_add_string(o, "type", "object") : AOS_ERR_NOMEM;
    for (size_t i = 0; i < n && r == AOS_OK; i++)
        r = aos_json_add(props, names[i], str_prop(descs[i]));
    for (size_t i = 0; i < required && r == AOS_OK; i++)
        r = json_object_array_add(req, json_object_new_string(names[i])) == 0 ? AOS_OK
                                                                              : AOS_ERR_NOMEM;
    if (r == AOS_OK) {
        r = aos_json_add(o, "properties", props);
        props = NULL;
    }
    if (r == AOS_OK && required) {
        r = aos_json_add(o, "required", req);
        req = NULL;
    }
    json_object_put(props);
    json_object_put(req);
    if (r != AOS_OK) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *activity(const char *type, const char *name, const char *description,
                             json_object *value, json_object *result)
{
    json_object *a = json_object_new_object();
    aos_result r = a ? aos_json_add_string(a, "type", type) : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_string(a, "name", name);
    if (r == AOS_OK)
        r = aos_json_add_string(a, "description", description);
    if (r == AOS_OK && value) {
        r = aos_json_add(a, "value", value);
        value = NULL;
    }
    if (r == AOS_OK && result) {
        r = aos_json_add(a, "resultValue", result);
        result = NULL;
    }
    json_object_put(value);
    json_object_put(result);
    if (r != AOS_OK) {
        json_object_put(a);
        return NULL;
    }
    return a;
}

/* The purpose, cut to a short description at a character boundary. */
static void describe(const aos_agent_def_t *ag, char *out, size_t outlen)
{
    const char *p = ag->purpose ? ag->purpose : "";
    size_t n = strlen(p);
    if (n < outlen) {
        snprintf(out, outlen, "%s", p);
        return;
    }
    n = outlen - 4;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
        n--;
    snprintf(out, outlen, "%.*s...", (int)n, p);
}

static aos_result add_activities(json_object *acts, const aos_agents_config_t *agents)
{
    static const char *const ev_in[] = {"text"}, *const ev_in_d[] = {"What to ask the agent"};
    static const char *const ev_out[] = {"reply", "agent"}, *const ev_out_d[] = {
                                                                "The agent's answer",
                                                                "The agent that answered"};
    aos_result r = aos_json_add(
        acts, "message",
        activity("message", NULL,
                 "A question, or an Adaptive Card submit (value), answered by the agent AOS "
                 "routes it to",
                 NULL, NULL));
    for (size_t i = 0; i < agents->agent_count && r == AOS_OK; i++) {
        const aos_agent_def_t *ag = &agents->agents[i];
        char desc[300];
        describe(ag, desc, sizeof desc);
        /* keys are the maker's action names; agents may not shadow the fixed entries */
        char key[80];
        bool reserved = strcmp(ag->name, "message") == 0 || strcmp(ag->name, "ask") == 0;
        snprintf(key, sizeof key, "%s%s", reserved ? "agent-" : "", ag->name);
        r = aos_json_add(acts, key,
                         activity("event", ag->name, desc, object_schema(ev_in, ev_in_d, 1, 1),
                                  object_schema(ev_out, ev_out_d, 2, 2)));
    }
    static const char *const inv_in[] = {"text", "agent"},
                             *const inv_in_d[] = {"What to ask",
                                                  "Agent to ask (default: AOS routes it)"};
    static const char *const inv_out[] = {"reply", "agent", "conversation_id"},
                             *const inv_out_d[] = {"The agent's answer", "The agent that answered",
                                                   "The AOS conversation"};
    if (r == AOS_OK)
        r = aos_json_add(acts, "ask",
                         activity("invoke", ROUTER_SKILL_INVOKE_ASK,
                                  "Ask an agent and get its answer in the invoke response",
                                  object_schema(inv_in, inv_in_d, 2, 1),
                                  object_schema(inv_out, inv_out_d, 3, 3)));
    if (r == AOS_OK)
        r = aos_json_add(acts, "conversationUpdate",
                         activity("conversationUpdate", NULL, NULL, NULL, NULL));
    if (r == AOS_OK)
        r = aos_json_add(acts, "endOfConversation",
                         activity("endOfConversation", NULL, NULL, NULL, NULL));
    return r;
}

aos_result router_skill_manifest_build(const aos_agents_config_t *agents,
                                       const router_skill_info_t *info, char **out_json)
{
    *out_json = NULL;
    if (!agents || !info || !info->public_url || !info->public_url[0] || !info->app_id ||
        !info->app_id[0])
        return AOS_ERR_INVALID;
    char url[2100];
    size_t ul = strlen(info->public_url);
    while (ul > 0 && info->public_url[ul - 1] == '/')
        ul--;
    int n = snprintf(url, sizeof url, "%.*s/api/messages", (int)ul, info->public_url);
    if (n < 0 || (size_t)n >= sizeof url)
        return AOS_ERR_TOO_LARGE;
    const char *name = info->name ? info->name : "aos";
    json_object *m = json_object_new_object(), *eps = json_object_new_array(),
                *ep = json_object_new_object(), *acts = json_object_new_object();
    aos_result r = (m && eps && ep && acts) ? AOS_OK : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_string(m, "$schema", ROUTER_SKILL_SCHEMA);
    if (r == AOS_OK)
        r = aos_json_add_string(m, "$id", name);
    if (r == AOS_OK)
        r = aos_json_add_string(m, "name", name);
    if (r == AOS_OK)
        r = aos_json_add_string(m, "version", info->version ? info->version : "1.0");
    if (r == AOS_OK)
        r = aos_json_add_string(m, "description",
                                "AOS agents (Agent Operating System) as a Bot Framework skill");
    if (r == AOS_OK)
        r = aos_json_add_string(m, "publisherName", info->publisher ? info->publisher : "AOS");
    if (r == AOS_OK)
        r = aos_json_add_string(ep, "name", "default");
    if (r == AOS_OK)
        r = aos_json_add_string(ep, "protocol", "BotFrameworkV3");
    if (r == AOS_OK)
        r = aos_json_add_string(ep, "description", "AOS router");
    if (r == AOS_OK)
        r = aos_json_add_string(ep, "endpointUrl", url);
    if (r == AOS_OK)
        r = aos_json_add_string(ep, "msAppId", info->app_id);
    if (r == AOS_OK) {
        r = json_object_array_add(eps, ep) == 0 ? AOS_OK : AOS_ERR_NOMEM;
        if (r == AOS_OK)
            ep = NULL;
    }
    if (r == AOS_OK) {
        r = aos_json_add(m, "endpoints", eps);
        eps = NULL;
    }
    if (r == AOS_OK)
        r = add_activities(acts, agents);
    if (r == AOS_OK) {
        r = aos_json_add(m, "activities", acts);
        acts = NULL;
    }
    if (r == AOS_OK)
        r = aos_json_to_string(m, out_json, NULL);
    json_object_put(ep);
    json_object_put(eps);
    json_object_put(acts);
    json_object_put(m);
    return r;
}
