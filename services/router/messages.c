/* POST /v1/messages bodies, turn data and turn results (see messages.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/agents.h"
#include "aos/json.h"
#include "messages.h"

bool router_id_valid(const char *id)
{
    if (!id || !id[0] || strlen(id) > ROUTER_ID_MAX)
        return false;
    for (const char *p = id; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static aos_result dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return AOS_OK;
    *out = strdup(s);
    return *out ? AOS_OK : AOS_ERR_NOMEM;
}

static aos_result check_fields(json_object *o, char *errbuf, size_t errlen)
{
    static const char *const known[] = {"conversation_id", "text", "agent", "user",
                                        "metadata",        NULL};
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        bool ok = false;
        for (size_t i = 0; known[i]; i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "unknown field '%.64s' (expected text, conversation_id, agent, user, "
                            "metadata)",
                            key);
    }
    return AOS_OK;
}

static aos_result validate(json_object *o, size_t max_text, const char **text, const char **conv,
                           const char **agent, const char **user, json_object **meta, char *errbuf,
                           size_t errlen)
{
    AOS_RETURN_IF_FAILED(check_fields(o, errbuf, errlen));
    AOS_RETURN_IF_FAILED(aos_json_get_string(o, "text", AOS_JSON_REQUIRED, text, errbuf, errlen));
    size_t tl = strlen(*text);
    if (tl == 0 || strspn(*text, " \t\r\n") == tl)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'text' must not be empty");
    if (tl > max_text)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen,
                        "field 'text' is %zu bytes, limit is %zu", tl, max_text);
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(o, "conversation_id", AOS_JSON_OPTIONAL, conv, errbuf, errlen));
    if (*conv && !router_id_valid(*conv))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "field 'conversation_id' must be 1-128 characters of A-Z a-z 0-9 . _ : "
                        "@ -");
    AOS_RETURN_IF_FAILED(aos_json_get_string(o, "agent", AOS_JSON_OPTIONAL, agent, errbuf, errlen));
    if (*agent && !aos_agent_name_valid(*agent))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "field 'agent': \"%.64s\" is not an "
                        "agent name",
                        *agent);
    AOS_RETURN_IF_FAILED(aos_json_get_string(o, "user", AOS_JSON_OPTIONAL, user, errbuf, errlen));
    if (*user && (strlen(*user) == 0 || strlen(*user) > 256))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'user' must be 1-256 bytes");
    return aos_json_get_object(o, "metadata", AOS_JSON_OPTIONAL, meta, errbuf, errlen);
}

aos_result router_message_req_parse(const char *body, size_t len, size_t max_text,
                                    router_message_req_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    json_object *o = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse_object(body, len, len + 1, 0, &o, errbuf, errlen));
    const char *text = NULL, *conv = NULL, *agent = NULL, *user = NULL;
    json_object *meta = NULL;
    aos_result r = validate(o, max_text, &text, &conv, &agent, &user, &meta, errbuf, errlen);
    router_message_req_t *req = NULL;
    if (r == AOS_OK) {
        req = calloc(1, sizeof *req);
        r = req ? AOS_OK : AOS_ERR_NOMEM;
    }
    if (r == AOS_OK)
        r = dup_opt(text, &req->text);
    if (r == AOS_OK)
        r = dup_opt(conv, &req->conversation_id);
    if (r == AOS_OK)
        r = dup_opt(agent, &req->agent);
    if (r == AOS_OK)
        r = dup_opt(user, &req->user);
    if (r == AOS_OK && meta)
        r = aos_json_to_string(meta, &req->metadata_json, NULL);
    json_object_put(o);
    if (r != AOS_OK) {
        router_message_req_free(req);
        return r;
    }
    *out = req;
    return AOS_OK;
}

void router_message_req_free(router_message_req_t *req)
{
    if (!req)
        return;
    free(req->conversation_id);
    free(req->text);
    free(req->agent);
    free(req->user);
    free(req->metadata_json);
    free(req);
}

const char *router_turn_kind_name(router_turn_kind k)
{
    switch (k) {
    case ROUTER_TURN_EVENT:
        return "event";
    case ROUTER_TURN_ACT:
        return "act";
    default:
        return "query";
    }
}

/* Attach embedded JSON text (already validated by whoever produced it) as a value. */
/* The turn's JSON-valued fields are text the router wrote itself (aos_json_to_string of a
 * parsed request or accept reply, aos_event_to_json): they go into the turn as they are, not
 * parsed and written again (the accept's context is most of a turn message). */
static aos_result add_raw(json_object *o, const char *key, const char *json)
{
    if (!json)
        return AOS_OK;
    char *copy = strdup(json);
    return aos_json_add(o, key, copy ? aos_json_raw(copy, strlen(copy)) : NULL);
}

aos_result router_turn_build(const router_turn_t *t, char **out_json)
{
    json_object *o = json_object_new_object();
    if (!o)
        return AOS_ERR_NOMEM;
    json_object *routing = json_object_new_object();
    aos_result r = routing ? AOS_OK : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_string(routing, "reason", t->reason ? t->reason : "");
    if (r == AOS_OK)
        r = aos_json_add_string(o, "conversation_id", t->conversation_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "message_id", t->message_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "agent", t->agent);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "text", t->text ? t->text : "");
    if (r == AOS_OK)
        r = aos_json_add_string(o, "user", t->user);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "kind", router_turn_kind_name(t->kind));
    if (r == AOS_OK)
        r = add_raw(o, "metadata", t->metadata_json);
    if (r == AOS_OK)
        r = add_raw(o, "event", t->event_json);
    if (r == AOS_OK)
        r = add_raw(o, "lease", t->run_json);
    if (r == AOS_OK) {
        r = aos_json_add(o, "routing", routing);
        routing = NULL;
    }
    if (r == AOS_OK)
        r = aos_json_to_string(o, out_json, NULL);
    json_object_put(routing);
    json_object_put(o);
    return r;
}

static aos_result copy_field(json_object *o, const char *field, char **out, char *errbuf,
                             size_t errlen)
{
    const char *s = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_string(o, field, AOS_JSON_OPTIONAL, &s, errbuf, errlen));
    return dup_opt(s, out);
}

static aos_result copy_value(json_object *o, const char *field, char **out)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, field, &v) || json_object_is_type(v, json_type_null))
        return AOS_OK;
    return aos_json_to_string(v, out, NULL);
}

aos_result router_turn_result_parse(const char *json, size_t len, router_turn_result_t **out,
                                    char *errbuf, size_t errlen)
{
    *out = NULL;
    json_object *o = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse_object(json, len, len + 1, 0, &o, errbuf, errlen));
    router_turn_result_t *r = calloc(1, sizeof *r);
    aos_result rc = r ? AOS_OK : AOS_ERR_NOMEM;
    const char *reply = NULL;
    if (rc == AOS_OK)
        rc = aos_json_get_string(o, "reply", AOS_JSON_REQUIRED, &reply, errbuf, errlen);
    if (rc == AOS_OK)
        rc = dup_opt(reply, &r->reply);
    static const char *const fields[] = {"conversation_id", "message_id", "reply_message_id",
                                         "agent",           "provider",   "model"};
    if (rc == AOS_OK) {
        char **targets[] = {&r->conversation_id, &r->message_id, &r->reply_message_id,
                            &r->agent,           &r->provider,   &r->model};
        for (size_t i = 0; i < 6 && rc == AOS_OK; i++)
            rc = copy_field(o, fields[i], targets[i], errbuf, errlen);
    }
    if (rc == AOS_OK) {
        json_object *u = NULL;
        rc = aos_json_get_object(o, "usage", AOS_JSON_OPTIONAL, &u, errbuf, errlen);
        if (rc == AOS_OK)
            rc = u ? aos_json_to_string(u, &r->usage_json, NULL) : dup_opt("{}", &r->usage_json);
    }
    if (rc == AOS_OK)
        rc = copy_value(o, "action", &r->action_json);
    if (rc == AOS_OK)
        rc = copy_field(o, "adapter", &r->adapter, errbuf, errlen);
    if (rc == AOS_OK)
        rc = aos_json_get_int(o, "adapter_version", AOS_JSON_OPTIONAL, &r->adapter_version, NULL,
                              errbuf, errlen);
    json_object_put(o);
    if (rc != AOS_OK) {
        router_turn_result_free(r);
        return rc;
    }
    *out = r;
    return AOS_OK;
}

void router_turn_result_free(router_turn_result_t *r)
{
    if (!r)
        return;
    free(r->conversation_id);
    free(r->message_id);
    free(r->reply_message_id);
    free(r->agent);
    free(r->reply);
    free(r->provider);
    free(r->model);
    free(r->usage_json);
    free(r->action_json);
    free(r->adapter);
    free(r);
}

aos_result router_message_response_build(const router_turn_result_t *t, const char *agent,
                                         const char *reason, char **out_json)
{
    json_object *o = json_object_new_object();
    json_object *routing = json_object_new_object();
    aos_result r = (o && routing) ? AOS_OK : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_string(o, "conversation_id", t->conversation_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "message_id", t->message_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "reply_message_id", t->reply_message_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "agent", t->agent ? t->agent : agent);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "reply", t->reply);
    if (r == AOS_OK)
        r = add_raw(o, "usage", t->usage_json ? t->usage_json : "{}");
    if (r == AOS_OK)
        r = aos_json_add_string(o, "provider", t->provider);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "model", t->model);
    if (r == AOS_OK)
        r = add_raw(o, "action", t->action_json);
    if (r == AOS_OK && t->adapter)
        r = aos_json_add_string(o, "adapter", t->adapter);
    if (r == AOS_OK && t->adapter && t->adapter_version > 0)
        r = aos_json_add_int(o, "adapter_version", t->adapter_version);
    if (r == AOS_OK)
        r = aos_json_add_string(routing, "reason", reason);
    if (r == AOS_OK) {
        r = aos_json_add(o, "routing", routing);
        routing = NULL;
    }
    if (r == AOS_OK)
        r = aos_json_to_string(o, out_json, NULL);
    json_object_put(routing);
    json_object_put(o);
    return r;
}
