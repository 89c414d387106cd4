/* POST /api/messages: Bot Framework activities (Copilot Studio skills and channels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aos/json.h"
#include "aos/log.h"
#include "router_internal.h"

/* Returns true when the request may proceed: a valid JWT from an allowed caller, or no
 * Bot Framework auth configured in development mode (claims stay empty: an unverified
 * caller, who never gets the bot's token). */
static bool bot_authorize(router_t *rt, aos_http_request_t *req, router_jwt_claims_t *claims)
{
    memset(claims, 0, sizeof *claims);
    if (!rt->jwks && !rt->openid) {
        if (router_dev_mode(rt))
            return true;
        router_respond_error(req, AOS_ERR_AUTH,
                             "Bot Framework authentication is not configured (set AOS_BOT_APP_ID; "
                             "unsigned activities are accepted only with AOS_DEV_MODE=1)");
        return false;
    }
    const char *auth = aos_http_request_header(req, "Authorization");
    char why[200] = "missing Authorization: Bearer <JWT>";
    aos_result r = AOS_ERR_AUTH;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        router_jwt_policy_t pol = {.issuers = (const char *const *)rt->issuers,
                                   .issuer_count = rt->issuer_count,
                                   .audience = rt->cfg.bot_app_id,
                                   .require_caller = true,
                                   .allowed_callers = (const char *const *)rt->allowed_callers,
                                   .allowed_caller_count = rt->allowed_caller_count};
        r = rt->openid
                ? router_openid_verify(rt->openid, &pol, auth + 7, time(NULL), claims, why,
                                       sizeof why)
                : router_jwt_verify(rt->jwks, &pol, auth + 7, time(NULL), claims, why, sizeof why);
        if (r == AOS_OK)
            return true;
    }
    memset(claims, 0, sizeof *claims);
    if (r == AOS_ERR_UNAVAILABLE)
        aos_http_response_header(req, "Retry-After", "5");
    else if (r != AOS_ERR_FORBIDDEN)
        aos_http_response_header(req, "WWW-Authenticate", "Bearer");
    router_respond_error(req, r, why);
    return false;
}

/* {"reply","agent","conversation_id"}: an event's result and the aos/ask invoke body. */
static char *result_value(const char *agent, const char *conversation_id,
                          const router_turn_result_t *res)
{
    json_object *o = json_object_new_object();
    char *out = NULL;
    if (o && aos_json_add_string(o, "reply", res->reply ? res->reply : "") == AOS_OK &&
        aos_json_add_string(o, "agent", agent) == AOS_OK &&
        aos_json_add_string(o, "conversation_id", conversation_id) == AOS_OK)
        aos_json_to_string(o, &out, NULL);
    json_object_put(o);
    return out;
}

static void respond_activities(aos_http_request_t *req, const char *const *acts, size_t n)
{
    char *body = NULL;
    if (router_activity_replies_body(acts, n, &body) == AOS_OK)
        aos_http_respond_json(req, 200, body);
    else
        router_respond_error(req, AOS_ERR_NOMEM, NULL);
    free(body);
}

/* An invoke is answered like an SDK skill does: the InvokeResponse's status and body over
 * HTTP, or an invokeResponse activity under expectReplies. */
static void deliver_invoke(turn_t *t, const router_turn_result_t *res)
{
    char *value = result_value(t->d.agent->name, t->conversation_id, res), *ir = NULL;
    if (!value) {
        router_respond_error(t->req, AOS_ERR_NOMEM, "could not build the invoke response");
        return;
    }
    if (!router_activity_expect_replies(t->activity)) {
        aos_http_respond_json(t->req, 200, value);
    } else if (router_activity_invoke_response_build(200, value, &ir) == AOS_OK) {
        const char *acts[1] = {ir};
        respond_activities(t->req, acts, 1);
    } else {
        router_respond_error(t->req, AOS_ERR_NOMEM, NULL);
    }
    free(ir);
    free(value);
}

aos_result bot_reply_activities(router_t *rt, const router_activity_t *in, const char *agent,
                                const char *conversation_id, const router_turn_result_t *res,
                                char *out[2], size_t *out_count)
{
    out[0] = out[1] = NULL;
    *out_count = 0;
    char id[160], eoc_id[168];
    snprintf(id, sizeof id, "%s", res->reply_message_id ? res->reply_message_id : "r");
    snprintf(eoc_id, sizeof eoc_id, "%s-eoc", id);
    /* An event is a manifest action: the SkillDialog ends with the endOfConversation, whose
     * value is the action's result. */
    bool is_event = router_activity_is_type(in, "event");
    char *value = is_event ? result_value(agent, conversation_id, res) : NULL;
    aos_result r = is_event && !value ? AOS_ERR_NOMEM : AOS_OK;
    if (r == AOS_OK)
        r = router_activity_reply_build(in, id, res->reply, agent, &out[0]);
    if (r == AOS_OK && (is_event || rt->cfg.bot_end_of_conversation))
        r = router_activity_eoc_build_value(in, eoc_id, value, &out[1]);
    free(value);
    if (r != AOS_OK) {
        free(out[0]);
        free(out[1]);
        out[0] = out[1] = NULL;
        return r;
    }
    *out_count = out[1] ? 2 : 1;
    return AOS_OK;
}

/* Inline answers (expectReplies, invokes). Normal-mode replies never come here: the runner
 * sends them to the outbound queue (bot_outbound.c). */
void svc_bot_deliver(turn_t *t, const router_turn_result_t *res)
{
    if (router_activity_is_type(t->activity, "invoke")) {
        deliver_invoke(t, res);
        return;
    }
    router_turn_result_t copy = *res;
    if (!copy.reply_message_id)
        copy.reply_message_id = t->message_id;
    char *acts[2];
    size_t n = 0;
    if (bot_reply_activities(t->rt, t->activity, t->d.agent->name, t->conversation_id, &copy, acts,
                             &n) != AOS_OK) {
        if (t->req)
            router_respond_error(t->req, AOS_ERR_NOMEM, "could not build the reply activity");
        return;
    }
    if (t->req)
        respond_activities(t->req, (const char *const *)acts, n);
    free(acts[0]);
    free(acts[1]);
}

/* serviceUrl values compare equal up to one trailing slash. */
static bool same_url(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '/')
        la--;
    if (lb && b[lb - 1] == '/')
        lb--;
    return la == lb && strncmp(a, b, la) == 0;
}

/* Activities that need no turn (conversationUpdate, typing, endOfConversation, events AOS
 * does not declare, …) are acknowledged; an invoke AOS does not handle gets 501 like the
 * SDK's default. */
static void ack_other(aos_http_request_t *req, const router_activity_t *a)
{
    aos_log(AOS_LOG_DEBUG, "bot activity acknowledged", "type", a->type, "name",
            a->name ? a->name : "", NULL);
    bool invoke = router_activity_is_type(a, "invoke");
    char *ir = NULL;
    if (router_activity_expect_replies(a)) {
        if (invoke && router_activity_invoke_response_build(501, NULL, &ir) == AOS_OK) {
            const char *acts[1] = {ir};
            respond_activities(req, acts, 1);
        } else {
            aos_http_respond_json(req, 200, "{\"activities\":[]}");
        }
        free(ir);
    } else {
        aos_http_respond(req, invoke ? 501 : 202, NULL, NULL, 0);
    }
}

/* Which activities become turns, and for which agent (NULL: routed). */
static bool wants_turn(router_t *rt, const router_activity_t *a, const char **out_agent)
{
    *out_agent = NULL;
    if (router_activity_is_message(a))
        return true;
    if (router_activity_is_type(a, "event")) {
        const aos_agent_def_t *ag = aos_agents_find(rt->agents, a->name);
        *out_agent = ag ? ag->name : NULL;
        return ag != NULL;
    }
    if (router_activity_is_type(a, "invoke") && strcmp(a->name, ROUTER_SKILL_INVOKE_ASK) == 0) {
        json_object *v = NULL;
        const char *agent = NULL;
        if (a->value_json &&
            aos_json_parse_object(a->value_json, strlen(a->value_json), 0, 0, &v, NULL, 0) ==
                AOS_OK &&
            aos_json_get_string(v, "agent", AOS_JSON_OPTIONAL, &agent, NULL, 0) == AOS_OK &&
            agent) {
            const aos_agent_def_t *ag = aos_agents_find(rt->agents, agent);
            *out_agent = ag ? ag->name : "";
        }
        json_object_put(v);
        return true;
    }
    return false;
}

void svc_get_skill_manifest(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    char base[600];
    const char *host = aos_http_request_header(req, "Host");
    if (rt->cfg.public_url)
        snprintf(base, sizeof base, "%s", rt->cfg.public_url);
    else if (host && strlen(host) < 500 && !strpbrk(host, "/\\ ?#@"))
        snprintf(base, sizeof base, "%s://%s", router_dev_mode(rt) ? "http" : "https", host);
    else
        base[0] = '\0';
    router_skill_info_t info = {
        .public_url = base, .app_id = rt->cfg.bot_app_id, .name = rt->cfg.bot_skill_name};
    char *json = NULL;
    if (!rt->cfg.bot_app_id) {
        router_respond_error(req, AOS_ERR_NOT_FOUND,
                             "no skill manifest: AOS_BOT_APP_ID (the skill's app id) is not set");
        return;
    }
    if (router_skill_manifest_build(rt->agents, &info, &json) != AOS_OK) {
        router_respond_error(
            req, AOS_ERR_INVALID,
            "no skill manifest: set AOS_PUBLIC_URL (the router's public base URL)");
        return;
    }
    aos_http_respond_json(req, 200, json);
    free(json);
}

void svc_post_activity(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    router_jwt_claims_t claims;
    if (!bot_authorize(rt, req, &claims))
        return;
    size_t len = 0;
    const char *body = aos_http_request_body(req, &len);
    router_activity_t *a = NULL;
    char why[300];
    aos_result r =
        router_activity_parse(body, len, rt->agents->settings.max_text_bytes, &a, why, sizeof why);
    if (r != AOS_OK) {
        router_respond_error(req, r, why);
        return;
    }
    /* A token bound to a serviceUrl may only have replies sent there (no open relay). */
    if (claims.serviceurl[0] && a->service_url && !same_url(claims.serviceurl, a->service_url)) {
        router_activity_free(a);
        router_respond_error(req, AOS_ERR_FORBIDDEN, "serviceUrl does not match the token");
        return;
    }
    /* The reply (and, for a verified caller, the bot's token) goes to serviceUrl: https only,
     * except in development mode. */
    if (a->service_url && strncmp(a->service_url, "https://", 8) != 0 && !router_dev_mode(rt)) {
        router_activity_free(a);
        router_respond_error(req, AOS_ERR_INVALID,
                             "serviceUrl must be https (http only with AOS_DEV_MODE=1)");
        return;
    }
    const char *agent = NULL;
    if (!wants_turn(rt, a, &agent)) {
        ack_other(req, a);
        router_activity_free(a);
        return;
    }
    if (agent && !agent[0]) {
        router_activity_free(a);
        router_respond_error(req, AOS_ERR_INVALID, "value.agent: no such agent");
        return;
    }
    /* An invoke is always answered in the HTTP response (InvokeResponse). */
    bool inline_reply = router_activity_expect_replies(a) || router_activity_is_type(a, "invoke");
    if (!inline_reply && !a->service_url) {
        router_activity_free(a);
        router_respond_error(req, AOS_ERR_INVALID,
                             "an activity needs serviceUrl unless deliveryMode is expectReplies");
        return;
    }
    turn_t *t = turn_new(rt, req, inline_reply ? TURN_MODE_BOT_INLINE : TURN_MODE_BOT_POST);
    if (t)
        r = router_activity_turn_input(a, rt->agents->settings.max_text_bytes, &t->text,
                                       &t->metadata_json, why, sizeof why);
    else
        r = AOS_ERR_NOMEM;
    if (r == AOS_OK && ((a->from_id && !(t->user = strdup(a->from_id))) ||
                        (agent && !(t->explicit_agent = strdup(agent)))))
        r = AOS_ERR_NOMEM;
    if (r != AOS_OK) {
        turn_free(t);
        router_activity_free(a);
        router_respond_error(req, r, r == AOS_ERR_NOMEM ? NULL : why);
        return;
    }
    t->caller_verified = claims.iss[0] != '\0';
    router_activity_conversation_id(a, t->conversation_id);
    router_activity_message_id(a, t->message_id);
    t->conversation_given = true;
    t->activity = a;
    turn_start(t);
}
