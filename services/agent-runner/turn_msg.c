/* The aos.agent.turn contract as pure functions (see turn_msg.h). */
#include "turn_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/agents.h"
#include "aos/json.h"
#include "aos/storage_types.h"
#include "aos/storage_wire.h"

const char *runner_turn_kind_name(runner_turn_kind k)
{
    switch (k) {
    case RUNNER_TURN_EVENT:
        return "event";
    case RUNNER_TURN_ACT:
        return "act";
    case RUNNER_TURN_QUERY:
    default:
        return "query";
    }
}

void runner_turn_req_clear(runner_turn_req_t *r)
{
    if (!r)
        return;
    free(r->conversation_id);
    free(r->message_id);
    free(r->agent);
    free(r->text);
    free(r->user);
    free(r->metadata_json);
    free(r->event_json);
    free(r->event_type);
    free(r->routing_reason);
    json_object_put(r->lease_user);
    json_object_put(r->lease_messages);
    memset(r, 0, sizeof *r);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static aos_result get_id(json_object *root, const char *field, char **out, char *errbuf,
                         size_t errlen)
{
    const char *s = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_string(root, field, AOS_JSON_REQUIRED, &s, errbuf, errlen));
    if (!aos_storage_valid_id(s))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "field '%s' must be 1..128 characters of [A-Za-z0-9._:-]", field);
    *out = strdup(s);
    return *out ? AOS_OK : AOS_ERR_NOMEM;
}

/* "Environment event <type> from <source> (subject S): <data>" for event turns sent
 * without text. */
static char *render_event(json_object *ev)
{
    const char *type = NULL, *source = NULL, *subject = NULL;
    aos_json_get_string(ev, "type", AOS_JSON_OPTIONAL, &type, NULL, 0);
    aos_json_get_string(ev, "source", AOS_JSON_OPTIONAL, &source, NULL, 0);
    aos_json_get_string(ev, "subject", AOS_JSON_OPTIONAL, &subject, NULL, 0);
    json_object *data = NULL;
    json_object_object_get_ex(ev, "data", &data);
    const char *dtext = data ? json_object_to_json_string_ext(
                                   data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                             : "null";
    char *out = NULL;
    if (asprintf(&out, "Environment event %s from %s%s%s%s: %.4000s", type ? type : "(untyped)",
                 source ? source : "(unknown source)", subject ? " (subject " : "",
                 subject ? subject : "", subject ? ")" : "", dtext) < 0)
        return NULL;
    return out;
}

static aos_result parse_kind(json_object *root, runner_turn_req_t *r, char *errbuf, size_t errlen)
{
    const char *kind = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(root, "kind", AOS_JSON_OPTIONAL, &kind, errbuf, errlen));
    if (!kind || strcmp(kind, "query") == 0)
        r->kind = RUNNER_TURN_QUERY;
    else if (strcmp(kind, "event") == 0)
        r->kind = RUNNER_TURN_EVENT;
    else if (strcmp(kind, "act") == 0)
        r->kind = RUNNER_TURN_ACT;
    else
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "field 'kind' must be \"query\", \"event\" or \"act\"");
    return AOS_OK;
}

static aos_result parse_event(json_object *root, runner_turn_req_t *r, char *errbuf, size_t errlen)
{
    json_object *ev = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_object(
        root, "event", r->kind == RUNNER_TURN_EVENT ? AOS_JSON_REQUIRED : AOS_JSON_OPTIONAL, &ev,
        errbuf, errlen));
    if (!ev || r->kind != RUNNER_TURN_EVENT)
        return AOS_OK;
    const char *type = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_string(ev, "type", AOS_JSON_REQUIRED, &type, errbuf, errlen));
    r->event_type = strdup(type);
    if (aos_json_to_string(ev, &r->event_json, NULL) != AOS_OK || !r->event_type)
        return AOS_ERR_NOMEM;
    if (!r->text && !(r->text = render_event(ev)))
        return AOS_ERR_NOMEM;
    return AOS_OK;
}

/* The lease is an optimisation: one that does not read is dropped, never a poison turn. */
static aos_result parse_lease(json_object *root, runner_turn_req_t *r)
{
    json_object *l = NULL, *user = NULL, *msgs = NULL;
    if (aos_json_get_object(root, "lease", AOS_JSON_OPTIONAL, &l, NULL, 0) != AOS_OK || !l)
        return AOS_OK;
    int64_t seq = 0, tok = 0, ms = 0, at = 0;
    if (aos_json_get_int(l, "seq", AOS_JSON_REQUIRED, &seq, NULL, NULL, 0) != AOS_OK ||
        aos_json_get_int(l, "token", AOS_JSON_REQUIRED, &tok, NULL, NULL, 0) != AOS_OK ||
        aos_json_get_int(l, "lease_ms", AOS_JSON_REQUIRED, &ms, NULL, NULL, 0) != AOS_OK ||
        aos_json_get_int(l, "granted_ms", AOS_JSON_REQUIRED, &at, NULL, NULL, 0) != AOS_OK ||
        aos_json_get_object(l, "user", AOS_JSON_OPTIONAL, &user, NULL, 0) != AOS_OK ||
        aos_json_get_array(l, "messages", AOS_JSON_OPTIONAL, &msgs, NULL, 0) != AOS_OK ||
        seq <= 0 || tok <= 0 || ms <= 0 || at <= 0)
        return AOS_OK;
    r->lease_seq = seq;
    r->lease_token = tok;
    r->lease_ms = ms;
    r->lease_granted_ms = at;
    if (user && msgs) { /* parsed once: run_leased reads them as they are */
        r->lease_user = json_object_get(user);
        r->lease_messages = json_object_get(msgs);
    }
    return AOS_OK;
}

static aos_result parse_fields(json_object *root, runner_turn_req_t *r, char *errbuf, size_t errlen)
{
    AOS_RETURN_IF_FAILED(get_id(root, "conversation_id", &r->conversation_id, errbuf, errlen));
    AOS_RETURN_IF_FAILED(get_id(root, "message_id", &r->message_id, errbuf, errlen));
    const char *agent = NULL, *text = NULL, *user = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(root, "agent", AOS_JSON_REQUIRED, &agent, errbuf, errlen));
    if (!aos_agent_name_valid(agent))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'agent' is not a valid agent name");
    AOS_RETURN_IF_FAILED(parse_kind(root, r, errbuf, errlen));
    AOS_RETURN_IF_FAILED(aos_json_get_string(
        root, "text", r->kind == RUNNER_TURN_EVENT ? AOS_JSON_OPTIONAL : AOS_JSON_REQUIRED, &text,
        errbuf, errlen));
    if (text && (!*text || strlen(text) > AOS_STORAGE_CONTENT_MAX))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'text' must be 1..%u bytes",
                        AOS_STORAGE_CONTENT_MAX);
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(root, "user", AOS_JSON_OPTIONAL, &user, errbuf, errlen));
    r->agent = strdup(agent);
    r->text = dup_or_null(text);
    r->user = dup_or_null(user);
    if (!r->agent || (text && !r->text) || (user && !r->user))
        return AOS_ERR_NOMEM;
    json_object *meta = NULL, *routing = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_object(root, "metadata", AOS_JSON_OPTIONAL, &meta, errbuf, errlen));
    if (meta) {
        size_t mlen = 0;
        AOS_RETURN_IF_FAILED(aos_json_to_string(meta, &r->metadata_json, &mlen));
        if (mlen > RUNNER_TURN_MAX_METADATA)
            return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "field 'metadata' exceeds %u bytes",
                            RUNNER_TURN_MAX_METADATA);
    } else if (!(r->metadata_json = strdup("{}"))) {
        return AOS_ERR_NOMEM;
    }
    AOS_RETURN_IF_FAILED(
        aos_json_get_object(root, "routing", AOS_JSON_OPTIONAL, &routing, errbuf, errlen));
    const char *reason = NULL;
    if (routing)
        aos_json_get_string(routing, "reason", AOS_JSON_OPTIONAL, &reason, NULL, 0);
    if (reason && !(r->routing_reason = strndup(reason, 200)))
        return AOS_ERR_NOMEM;
    AOS_RETURN_IF_FAILED(parse_event(root, r, errbuf, errlen));
    AOS_RETURN_IF_FAILED(parse_lease(root, r));
    if (r->text && strlen(r->text) > AOS_STORAGE_CONTENT_MAX)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "the turn text exceeds %u bytes",
                        AOS_STORAGE_CONTENT_MAX);
    return AOS_OK;
}

aos_result runner_turn_parse(const char *data, size_t len, runner_turn_req_t *out, char *errbuf,
                             size_t errlen)
{
    if (!out)
        return AOS_ERR_INVALID;
    memset(out, 0, sizeof *out);
    json_object *root = NULL;
    char why[200] = "";
    aos_result rc =
        aos_json_parse_object(data, len, RUNNER_TURN_MAX_BYTES, 0, &root, why, sizeof why);
    if (rc != AOS_OK)
        return aos_fail(rc == AOS_ERR_TOO_LARGE ? rc : AOS_ERR_INVALID, errbuf, errlen,
                        "turn data: %s", why);
    rc = parse_fields(root, out, errbuf, errlen);
    json_object_put(root);
    if (rc != AOS_OK)
        runner_turn_req_clear(out);
    return rc;
}

aos_result runner_reply_id(const char *message_id, char suffix, char out[129])
{
    if (!message_id || !aos_storage_valid_id(message_id))
        return AOS_ERR_INVALID;
    size_t n = strlen(message_id);
    if (n + 2 <= AOS_STORAGE_ID_MAX) {
        snprintf(out, 129, "%s:%c", message_id, suffix);
        return AOS_OK;
    }
    aos_storage_sha256_t h;
    char hex[65];
    AOS_RETURN_IF_FAILED(aos_storage_sha256_init(&h));
    if (aos_storage_sha256_update(&h, message_id, n) != AOS_OK ||
        aos_storage_sha256_final(&h, hex) != AOS_OK) {
        aos_storage_sha256_free(&h);
        return AOS_ERR_INTERNAL;
    }
    snprintf(out, 129, "%c:%s", suffix, hex);
    return AOS_OK;
}

static aos_result finish_json(json_object *o, char **out_json)
{
    if (!o)
        return AOS_ERR_NOMEM;
    aos_result rc = aos_json_to_string(o, out_json, NULL);
    json_object_put(o);
    return rc;
}

static json_object *parse_or_null(const char *json)
{
    json_object *v = NULL;
    if (!json || aos_json_parse(json, strlen(json), 0, 0, &v, NULL, 0) != AOS_OK)
        return NULL;
    return v;
}

aos_result runner_user_metadata(const runner_turn_req_t *req, char **out_json)
{
    return aos_storage_turn_user_metadata(runner_turn_kind_name(req->kind), req->user, req->agent,
                                          req->routing_reason, req->event_type, req->metadata_json,
                                          out_json);
}

static json_object *usage_json(const aos_model_usage_t *u)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    aos_json_add_int(o, "prompt_tokens", u->prompt_tokens);
    aos_json_add_int(o, "completion_tokens", u->completion_tokens);
    aos_json_add_int(o, "total_tokens", u->total_tokens);
    return o;
}

/* "adapter" and, for a registry version, "adapter_version" (docs/agent-runner.md). */
static void add_adapter(json_object *m, const runner_turn_outcome_t *o)
{
    if (o->adapter && o->adapter[0])
        aos_json_add_string(m, "adapter", o->adapter);
    if (o->adapter && o->adapter[0] && o->adapter_version > 0)
        aos_json_add_int(m, "adapter_version", o->adapter_version);
}

aos_result runner_assistant_metadata(const runner_turn_req_t *req, const runner_turn_outcome_t *o,
                                     char **out_json)
{
    json_object *m = json_object_new_object();
    if (!m)
        return AOS_ERR_NOMEM;
    aos_json_add_string(m, "in_reply_to", req->message_id);
    aos_json_add_string(m, "agent", req->agent);
    aos_json_add_string(m, "provider", o->provider);
    aos_json_add_string(m, "model", o->model);
    aos_json_add_string(m, "endpoint", o->endpoint);
    aos_json_add(m, "usage", usage_json(&o->usage));
    aos_json_add_int(m, "attempts", o->attempts);
    if (o->latency_ms)
        aos_json_add_int(m, "latency_ms", (int64_t)o->latency_ms);
    if (o->trace_id && o->trace_id[0])
        aos_json_add_string(m, "trace_id", o->trace_id);
    add_adapter(m, o);
    return finish_json(m, out_json);
}

static uint32_t u32_field(json_object *o, const char *key)
{
    int64_t v = 0;
    if (aos_json_get_int(o, key, AOS_JSON_OPTIONAL, &v, NULL, NULL, 0) != AOS_OK || v < 0)
        return 0;
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

aos_result runner_assistant_metadata_parse(const char *json, runner_turn_outcome_t *o,
                                           void **out_owner)
{
    *out_owner = NULL;
    json_object *m = parse_or_null(json);
    if (!m || !json_object_is_type(m, json_type_object)) {
        json_object_put(m);
        return AOS_ERR_INVALID;
    }
    const char *s = NULL;
    if (aos_json_get_string(m, "provider", AOS_JSON_OPTIONAL, &s, NULL, 0) == AOS_OK && s)
        o->provider = s;
    if (aos_json_get_string(m, "model", AOS_JSON_OPTIONAL, &s, NULL, 0) == AOS_OK && s)
        o->model = s;
    if (aos_json_get_string(m, "endpoint", AOS_JSON_OPTIONAL, &s, NULL, 0) == AOS_OK && s)
        o->endpoint = s;
    if (aos_json_get_string(m, "adapter", AOS_JSON_OPTIONAL, &s, NULL, 0) == AOS_OK && s)
        o->adapter = s;
    int64_t v = 0;
    if (aos_json_get_int(m, "adapter_version", AOS_JSON_OPTIONAL, &v, NULL, NULL, 0) == AOS_OK)
        o->adapter_version = v > 0 ? v : 0;
    json_object *u = NULL;
    if (aos_json_get_object(m, "usage", AOS_JSON_OPTIONAL, &u, NULL, 0) == AOS_OK && u) {
        o->usage.prompt_tokens = u32_field(u, "prompt_tokens");
        o->usage.completion_tokens = u32_field(u, "completion_tokens");
        o->usage.total_tokens = u32_field(u, "total_tokens");
    }
    *out_owner = m;
    return AOS_OK;
}

/* The reply as an action intent: the reply itself when it is a JSON object (its "intent"
 * member when it has one), else null. */
static json_object *action_intent(const char *reply)
{
    json_object *v = parse_or_null(reply);
    if (!v || !json_object_is_type(v, json_type_object)) {
        json_object_put(v);
        return NULL;
    }
    json_object *intent = NULL;
    if (json_object_object_get_ex(v, "intent", &intent)) {
        json_object_get(intent);
        json_object_put(v);
        return intent;
    }
    return v;
}

aos_result runner_turn_result_json(const runner_turn_req_t *req, const char *reply_message_id,
                                   const runner_turn_outcome_t *o, char **out_json)
{
    json_object *r = json_object_new_object();
    if (!r)
        return AOS_ERR_NOMEM;
    aos_json_add_string(r, "conversation_id", req->conversation_id);
    aos_json_add_string(r, "message_id", req->message_id);
    aos_json_add_string(r, "reply_message_id", reply_message_id);
    aos_json_add_string(r, "agent", req->agent);
    aos_json_add_string(r, "kind", runner_turn_kind_name(req->kind));
    aos_json_add_string(r, "reply", o->reply);
    aos_json_add_string(r, "provider", o->provider);
    aos_json_add_string(r, "model", o->model);
    aos_json_add(r, "usage", usage_json(&o->usage));
    add_adapter(r, o);
    if (req->kind == RUNNER_TURN_EVENT) {
        json_object *a = json_object_new_object();
        if (a) {
            aos_json_add_string(a, "text", o->reply);
            json_object_object_add(a, "intent", action_intent(o->reply)); /* NULL: JSON null */
        }
        aos_json_add(r, "action", a);
    }
    return finish_json(r, out_json);
}

aos_result runner_action_json(const runner_turn_req_t *req, const runner_turn_outcome_t *o,
                              char **out_json)
{
    json_object *a = json_object_new_object();
    if (!a)
        return AOS_ERR_NOMEM;
    aos_json_add_string(a, "agent", req->agent);
    aos_json_add_string(a, "conversation_id", req->conversation_id);
    aos_json_add_string(a, "text", o->reply);
    json_object_object_add(a, "intent", action_intent(o->reply)); /* NULL: JSON null */
    json_object_object_add(a, "source_event", parse_or_null(req->event_json));
    return finish_json(a, out_json);
}

aos_result runner_heartbeat_json(const char *agent, const char *instance, uint32_t inflight,
                                 uint32_t capacity, const char *provider, const char *breaker,
                                 int64_t ts_ms, int64_t last_run_ms, int64_t next_run_ms,
                                 char **out_json)
{
    json_object *h = json_object_new_object();
    if (!h)
        return AOS_ERR_NOMEM;
    aos_json_add_string(h, "agent", agent);
    aos_json_add_string(h, "instance", instance);
    aos_json_add_int(h, "inflight", inflight);
    aos_json_add_int(h, "capacity", capacity);
    aos_json_add_string(h, "provider", provider);
    if (breaker)
        aos_json_add_string(h, "breaker", breaker);
    aos_json_add_int(h, "ts", ts_ms);
    if (last_run_ms > 0)
        aos_json_add_int(h, "schedule_last_ms", last_run_ms);
    if (next_run_ms > 0)
        aos_json_add_int(h, "schedule_next_ms", next_run_ms);
    return finish_json(h, out_json);
}
