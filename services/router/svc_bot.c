/* POST /api/messages: Bot Framework activities (Copilot Studio skills and channels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aos/log.h"
#include "router_internal.h"

/* Returns true when the request may proceed (JWT valid, or validation not configured). */
static bool bot_authorize(router_t *rt, aos_http_request_t *req, router_jwt_claims_t *claims)
{
    memset(claims, 0, sizeof *claims);
    if (!rt->jwks)
        return true;
    const char *auth = aos_http_request_header(req, "Authorization");
    char why[200] = "missing Authorization: Bearer <JWT>";
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        router_jwt_policy_t pol = {(const char *const *)rt->issuers, rt->issuer_count,
                                   rt->cfg.bot_app_id, 0};
        if (router_jwt_verify(rt->jwks, &pol, auth + 7, time(NULL), claims, why, sizeof why) ==
            AOS_OK)
            return true;
    }
    aos_http_response_header(req, "WWW-Authenticate", "Bearer");
    router_respond_error(req, AOS_ERR_AUTH, why);
    return false;
}

static void post_reply(router_t *rt, const router_activity_t *a, const char *activity_json)
{
    char url[4096];
    if (router_activity_reply_url(a, url, sizeof url) != AOS_OK) {
        aos_log(AOS_LOG_WARN, "bot reply has nowhere to go (no serviceUrl)", NULL);
        return;
    }
    bot_post_activity(rt, url, activity_json);
}

void svc_bot_deliver(turn_t *t, const router_turn_result_t *res)
{
    router_t *rt = t->rt;
    char id[160], eoc_id[168];
    snprintf(id, sizeof id, "%s", res->reply_message_id ? res->reply_message_id : t->message_id);
    snprintf(eoc_id, sizeof eoc_id, "%s-eoc", id);
    char *reply = NULL, *eoc = NULL;
    if (router_activity_reply_build(t->activity, id, res->reply, t->d.agent->name, &reply) !=
            AOS_OK ||
        (rt->cfg.bot_end_of_conversation &&
         router_activity_eoc_build(t->activity, eoc_id, &eoc) != AOS_OK)) {
        if (t->req)
            router_respond_error(t->req, AOS_ERR_NOMEM, "could not build the reply activity");
        free(reply);
        free(eoc);
        return;
    }
    if (t->mode == TURN_MODE_BOT_INLINE) {
        const char *acts[2] = {reply, eoc};
        char *body = NULL;
        if (router_activity_replies_body(acts, eoc ? 2 : 1, &body) == AOS_OK)
            aos_http_respond_json(t->req, 200, body);
        else
            router_respond_error(t->req, AOS_ERR_NOMEM, NULL);
        free(body);
    } else {
        post_reply(rt, t->activity, reply);
        if (eoc)
            post_reply(rt, t->activity, eoc);
    }
    free(reply);
    free(eoc);
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

/* Non-message activities (conversationUpdate, typing, endOfConversation, …) need no turn. */
static void ack_other(aos_http_request_t *req, const router_activity_t *a)
{
    aos_log(AOS_LOG_DEBUG, "bot activity acknowledged", "type", a->type, NULL);
    if (router_activity_expect_replies(a))
        aos_http_respond_json(req, 200, "{\"activities\":[]}");
    else
        aos_http_respond(req, 202, NULL, NULL, 0);
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
    if (!router_activity_is_message(a)) {
        ack_other(req, a);
        router_activity_free(a);
        return;
    }
    bool inline_reply = router_activity_expect_replies(a);
    if (!inline_reply && !a->service_url) {
        router_activity_free(a);
        router_respond_error(req, AOS_ERR_INVALID,
                             "a message activity needs serviceUrl unless deliveryMode is "
                             "expectReplies");
        return;
    }
    turn_t *t = turn_new(rt, req, inline_reply ? TURN_MODE_BOT_INLINE : TURN_MODE_BOT_POST);
    if (!t || !(t->text = strdup(a->text)) || (a->from_id && !(t->user = strdup(a->from_id)))) {
        turn_free(t);
        router_activity_free(a);
        router_respond_error(req, AOS_ERR_NOMEM, NULL);
        return;
    }
    router_activity_conversation_id(a, t->conversation_id);
    router_activity_message_id(a, t->message_id);
    t->conversation_given = true;
    t->activity = a;
    turn_start(t);
}
