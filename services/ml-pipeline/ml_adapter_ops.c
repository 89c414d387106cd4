/* The serving side of the registry on aos.ml (docs/ml.md "Versions, canary, promotion and
 * rollback"): operator ops (promote, rollback, pin, unpin, canary), the runner's per-turn
 * records (record_turn) and user feedback (feedback). Every change is one conditional write
 * of the adapter record (ml_registry.h does the change) and one aos.ml.adapter.<action>
 * event. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "ml_internal.h"

typedef struct reg_ctx {
    ml_service_t *svc;
    const char *op, *by, *reason;
    int64_t version, share, min_turns;
    int64_t out_version;
    const char *event; /* what to publish after the write */
    const ml_turn_sample_t *sample;
    ml_decision decision;
    char why[700];
} reg_ctx_t;

static aos_result reg_fn(json_object *a, void *vctx, char *errbuf, size_t errlen)
{
    reg_ctx_t *c = vctx;
    int64_t now = ml_now_ms();
    if (strcmp(c->op, "record") == 0) {
        if (!ml_registry_counts(a, c->sample))
            return AOS_ERR_CANCELLED; /* not the canary's business: nothing to write */
        AOS_RETURN_IF_FAILED(ml_registry_record(a, c->sample, &c->svc->cfg.canary, now,
                                                &c->decision, c->why, sizeof c->why));
        c->event = c->decision == ML_DECISION_PROMOTED      ? "promoted"
                   : c->decision == ML_DECISION_ROLLED_BACK ? "rolled_back"
                                                            : NULL;
        return AOS_OK;
    }
    if (strcmp(c->op, "promote") == 0) {
        c->event = "promoted";
        return ml_registry_promote(a, c->version, c->by, c->reason, now, &c->out_version, errbuf,
                                   errlen);
    }
    if (strcmp(c->op, "rollback") == 0) {
        c->event = "rolled_back";
        return ml_registry_rollback(a, c->version, c->by, c->reason, now, &c->out_version, errbuf,
                                    errlen);
    }
    if (strcmp(c->op, "pin") == 0 || strcmp(c->op, "unpin") == 0) {
        c->event = c->version ? "pinned" : "unpinned";
        return ml_registry_pin(a, c->version, c->by, now, errbuf, errlen);
    }
    c->event = "canary_started";
    return ml_registry_canary(a, c->version, c->share, c->min_turns, c->by, now, errbuf, errlen);
}

static aos_result change(ml_service_t *svc, const char *agent, reg_ctx_t *c, json_object **out,
                         char *errbuf, size_t errlen)
{
    json_object *rec = NULL;
    aos_result r = ml_record_update(svc, "adapter", agent, false, reg_fn, c, &rec, errbuf, errlen);
    if (r == AOS_ERR_CANCELLED && c->sample) /* a sample outside any canary: nothing written */
        return AOS_OK;
    if (r == AOS_ERR_NOT_FOUND && errbuf && !errbuf[0])
        aos_fail(r, errbuf, errlen, "agent '%s' has no adapter in the registry", agent);
    if (r != AOS_OK)
        return r;
    if (c->event) {
        ml_publish(svc, "adapter", c->event, rec);
        aos_log(AOS_LOG_INFO, "adapter registry changed", "agent", agent, "action", c->event, "by",
                c->by, "reason", c->why[0] ? c->why : (c->reason ? c->reason : ""), NULL);
    }
    if (out)
        *out = rec;
    else
        json_object_put(rec);
    return AOS_OK;
}

static aos_result get_version(const json_object *q, bool required, int64_t *out, char *errbuf,
                              size_t errlen)
{
    bool has = false;
    *out = 0;
    AOS_RETURN_IF_FAILED(aos_json_get_int(
        q, "version", required ? AOS_JSON_REQUIRED : AOS_JSON_OPTIONAL, out, &has, errbuf, errlen));
    if (has && *out <= 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'version' must be > 0");
    return AOS_OK;
}

static aos_result known_agent(ml_service_t *svc, const json_object *q, const char **agent,
                              char *errbuf, size_t errlen)
{
    AOS_RETURN_IF_FAILED(aos_json_get_string(q, "agent", AOS_JSON_REQUIRED, agent, errbuf, errlen));
    if (!aos_storage_valid_id(*agent) || !svc->cfg.agents ||
        !aos_agents_find(svc->cfg.agents, *agent))
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "unknown agent '%.64s'", *agent);
    return AOS_OK;
}

static aos_result op_operator(ml_service_t *svc, const char *op, const json_object *q,
                              json_object **out, char *errbuf, size_t errlen)
{
    const char *agent = NULL;
    reg_ctx_t c = {.svc = svc, .op = op, .by = "operator"};
    AOS_RETURN_IF_FAILED(known_agent(svc, q, &agent, errbuf, errlen));
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(q, "reason", AOS_JSON_OPTIONAL, &c.reason, errbuf, errlen));
    if (c.reason && strlen(c.reason) > 500)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "reason is longer than 500 bytes");
    bool needs_version = strcmp(op, "pin") == 0 || strcmp(op, "canary") == 0;
    if (strcmp(op, "unpin") != 0)
        AOS_RETURN_IF_FAILED(get_version(q, needs_version, &c.version, errbuf, errlen));
    if (strcmp(op, "canary") == 0) {
        bool has = false;
        AOS_RETURN_IF_FAILED(
            aos_json_get_int(q, "share", AOS_JSON_REQUIRED, &c.share, &has, errbuf, errlen));
        AOS_RETURN_IF_FAILED(aos_json_get_int(q, "min_turns", AOS_JSON_OPTIONAL, &c.min_turns, &has,
                                              errbuf, errlen));
        if (has && c.min_turns < 1)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "min_turns must be 1..1000000");
    }
    return change(svc, agent, &c, out, errbuf, errlen);
}

/* A runner's record of one turn answered (or failed) by a registry version. */
static aos_result op_record_turn(ml_service_t *svc, const aos_event_t *req, json_object **out,
                                 char *errbuf, size_t errlen)
{
    char agent[64];
    ml_turn_sample_t s;
    AOS_RETURN_IF_FAILED(
        ml_turn_sample_parse(req->data ? req->data : "", req->data_len, agent, &s, errbuf, errlen));
    reg_ctx_t c = {.svc = svc, .op = "record", .by = "pipeline", .sample = &s};
    json_object *rec = NULL;
    AOS_RETURN_IF_FAILED(change(svc, agent, &c, &rec, errbuf, errlen));
    json_object_put(rec);
    *out = json_object_new_object();
    aos_json_add_string(*out, "decision", c.event ? c.event : "none");
    if (c.why[0])
        aos_json_add_string(*out, "reason", c.why);
    return AOS_OK;
}

/* ---- feedback ---- */

/* The message in its conversation (newest first, at most 20 pages). */
static aos_result find_message(ml_service_t *svc, const char *conv, const char *id,
                               json_object **out_meta, char *role, size_t rlen, char *errbuf,
                               size_t errlen)
{
    char *cursor = NULL;
    aos_result r = AOS_OK;
    bool found = false;
    for (int page_no = 0; page_no < 20 && !found; page_no++) {
        aos_storage_message_page_t page = {0};
        r = aos_storage_message_list_sync(svc->sc, conv, cursor, 200, true, &page, errbuf, errlen);
        free(cursor);
        cursor = NULL;
        for (size_t i = 0; r == AOS_OK && i < page.count && !found; i++) {
            const aos_storage_message_t *m = &page.items[i];
            if (strcmp(m->id, id) != 0)
                continue;
            found = true;
            snprintf(role, rlen, "%s", m->role);
            const char *mj = m->metadata_json ? m->metadata_json : "{}";
            if (aos_json_parse_object(mj, strlen(mj), 0, 0, out_meta, NULL, 0) != AOS_OK)
                *out_meta = json_object_new_object();
        }
        if (r == AOS_OK && page.next_cursor)
            cursor = strdup(page.next_cursor);
        aos_storage_message_page_clear(&page);
        if (r != AOS_OK || !cursor)
            break;
    }
    free(cursor);
    if (r == AOS_ERR_NOT_FOUND || (r == AOS_OK && !found))
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen,
                        "conversation '%.128s' has no message '%.128s'", conv, id);
    return r;
}

static void feedback_key(const char *conv, const char *id, char out[129])
{
    if (snprintf(out, 129, "%s:%s", conv, id) < 129 && aos_storage_valid_id(out))
        return;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 of "conv\nid" */
    for (const char *p = conv; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ '\n') * 1099511628211ULL;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(out, 129, "h:%016" PRIx64, h);
}

static aos_result op_feedback(ml_service_t *svc, const json_object *q, json_object **out,
                              char *errbuf, size_t errlen)
{
    const char *conv = NULL, *id = NULL, *comment = NULL;
    double score = 0;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(q, "conversation_id", AOS_JSON_REQUIRED, &conv, errbuf, errlen));
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(q, "message_id", AOS_JSON_REQUIRED, &id, errbuf, errlen));
    if (!aos_storage_valid_id(conv) || !aos_storage_valid_id(id))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "conversation and message ids are 1..128 chars of [A-Za-z0-9._:-]");
    AOS_RETURN_IF_FAILED(
        aos_json_get_double(q, "score", AOS_JSON_REQUIRED, &score, NULL, errbuf, errlen));
    if (!(score >= -1.0 && score <= 1.0))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "score must be a number from -1 (bad) to 1 (good)");
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(q, "comment", AOS_JSON_OPTIONAL, &comment, errbuf, errlen));
    if (comment && strlen(comment) > 2000)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "comment is longer than 2000 bytes");
    json_object_object_foreach((json_object *)q, key, val)
    {
        (void)val;
        if (strcmp(key, "conversation_id") && strcmp(key, "message_id") && strcmp(key, "score") &&
            strcmp(key, "comment"))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "unknown field '%s'", key);
    }
    json_object *meta = NULL;
    char role[32] = "";
    AOS_RETURN_IF_FAILED(find_message(svc, conv, id, &meta, role, sizeof role, errbuf, errlen));
    if (strcmp(role, "assistant") != 0) {
        json_object_put(meta);
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "message '%.128s' is a %s message: feedback is for assistant replies", id,
                        role);
    }
    aos_storage_conversation_t cv = {0};
    aos_result r = aos_storage_conversation_get_sync(svc->sc, conv, &cv, errbuf, errlen);
    const char *adapter = ml_jstr(meta, "adapter");
    int64_t version = ml_jint(meta, "adapter_version", 0);
    json_object *fb = json_object_new_object();
    aos_json_add_string(fb, "conversation_id", conv);
    aos_json_add_string(fb, "message_id", id);
    aos_json_add_string(fb, "agent", r == AOS_OK ? cv.agent : NULL);
    json_object_object_add(fb, "score", json_object_new_double(score));
    if (comment)
        aos_json_add_string(fb, "comment", comment);
    if (adapter)
        aos_json_add_string(fb, "adapter", adapter);
    if (version > 0)
        aos_json_add_int(fb, "adapter_version", version);
    aos_json_add_int(fb, "created_ms", ml_now_ms());
    char fkey[129];
    feedback_key(conv, id, fkey);
    bool first = false;
    if (r == AOS_OK) {
        r = ml_record_create(svc, "feedback", fkey, fb, errbuf, errlen);
        first = r == AOS_OK;
        if (r == AOS_ERR_CONFLICT) { /* a second score replaces the first; counted once */
            aos_storage_record_t rec = {0};
            char *text = NULL;
            r = aos_json_to_string(fb, &text, NULL);
            if (r == AOS_OK)
                r = aos_storage_record_put_sync(svc->sc, "feedback", fkey, text, NULL, &rec, errbuf,
                                                errlen);
            aos_storage_record_clear(&rec);
            free(text);
        }
    }
    /* counted in the canary when it answered with a registry version */
    if (r == AOS_OK && first && version > 0 && cv.agent) {
        ml_turn_sample_t s = {.version = version, .is_feedback = true, .score = score};
        reg_ctx_t c = {.svc = svc, .op = "record", .by = "pipeline", .sample = &s};
        char err[256] = "";
        if (change(svc, cv.agent, &c, NULL, err, sizeof err) != AOS_OK)
            aos_log(AOS_LOG_WARN, "feedback not counted in the canary", "agent", cv.agent, "detail",
                    err, NULL);
    }
    aos_json_add_bool(fb, "counted", first);
    aos_storage_conversation_clear(&cv);
    json_object_put(meta);
    if (r != AOS_OK) {
        json_object_put(fb);
        return r;
    }
    *out = fb;
    return AOS_OK;
}

aos_result ml_adapter_op(ml_service_t *svc, const char *op, const aos_event_t *req,
                         const json_object *q, json_object **out, char *errbuf, size_t errlen)
{
    if (strcmp(op, "promote") == 0 || strcmp(op, "rollback") == 0 || strcmp(op, "pin") == 0 ||
        strcmp(op, "unpin") == 0 || strcmp(op, "canary") == 0)
        return op_operator(svc, op, q, out, errbuf, errlen);
    if (strcmp(op, "record_turn") == 0)
        return op_record_turn(svc, req, out, errbuf, errlen);
    if (strcmp(op, "feedback") == 0)
        return op_feedback(svc, q, out, errbuf, errlen);
    return AOS_ERR_UNSUPPORTED;
}
