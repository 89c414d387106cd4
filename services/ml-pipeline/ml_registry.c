/* Adapter versions, canary, promotion and rollback over the adapter record (ml_registry.h). */
#include "ml_registry.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "aos/json.h"
#include "aos/storage_client.h"

static int64_t jint(const json_object *o, const char *k, int64_t def)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, k, &v) ||
        !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return def;
    return json_object_get_int64(v);
}

static const char *jstr(const json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static json_object *jobj(const json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_object))
        return NULL;
    return v;
}

void ml_registry_deployment(const char *name, int64_t version, char out[160])
{
    snprintf(out, 160, "%.128s-v%" PRId64, name ? name : "adapter", version);
}

static json_object *versions(json_object *rec, bool create)
{
    json_object *v;
    if (json_object_object_get_ex(rec, "versions", &v) && json_object_is_type(v, json_type_array))
        return v;
    if (!create)
        return NULL;
    v = json_object_new_array();
    json_object_object_add(rec, "versions", v);
    return v;
}

static json_object *find_version(const json_object *rec, int64_t version)
{
    json_object *arr = versions((json_object *)rec, false);
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        if (jint(e, "version", -1) == version)
            return e;
    }
    return NULL;
}

int64_t ml_registry_next_version(const json_object *rec)
{
    int64_t n = jint(rec, "version", 0);
    json_object *arr = versions((json_object *)rec, false);
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        int64_t v = jint(json_object_array_get_idx(arr, i), "version", 0);
        if (v > n)
            n = v;
    }
    return n + 1;
}

static void bump(json_object *rec, int64_t now)
{
    aos_json_add_int(rec, "revision", jint(rec, "revision", 0) + 1);
    aos_json_add_int(rec, "updated_ms", now);
}

static void history(json_object *rec, int64_t now, const char *action, int64_t version,
                    int64_t from, const char *reason, const char *by, json_object *stats)
{
    json_object *h;
    if (!json_object_object_get_ex(rec, "history", &h) ||
        !json_object_is_type(h, json_type_array)) {
        h = json_object_new_array();
        json_object_object_add(rec, "history", h);
    }
    json_object *e = json_object_new_object();
    aos_json_add_int(e, "ts_ms", now);
    aos_json_add_string(e, "action", action);
    aos_json_add_int(e, "version", version);
    if (from > 0)
        aos_json_add_int(e, "from_version", from);
    aos_json_add_string(e, "reason", reason ? reason : "");
    aos_json_add_string(e, "by", by ? by : "pipeline");
    if (stats)
        aos_json_add(e, "stats", stats);
    json_object_array_add(h, e);
    size_t n = json_object_array_length(h);
    if (n > ML_REGISTRY_HISTORY_MAX)
        json_object_array_del_idx(h, 0, n - ML_REGISTRY_HISTORY_MAX);
}

static void set_status(json_object *entry, const char *status, const char *reason)
{
    if (!entry)
        return;
    aos_json_add_string(entry, "status", status);
    if (reason)
        aos_json_add_string(entry, "reason", reason);
    else
        json_object_object_del(entry, "reason");
}

static json_object *new_stats(void)
{
    json_object *s = json_object_new_object();
    static const char *const keys[] = {"turns",          "errors",         "fallbacks",
                                       "latency_ms_sum", "feedback_count", NULL};
    for (size_t i = 0; keys[i]; i++)
        aos_json_add_int(s, keys[i], 0);
    json_object_object_add(s, "feedback_sum", json_object_new_double(0));
    return s;
}

/* The running canary ends: its version gets status (with the reason) unless it is keep. */
static void end_canary(json_object *rec, const char *status, const char *reason, int64_t keep,
                       const char *by, int64_t now)
{
    json_object *c = jobj(rec, "canary");
    if (!c)
        return;
    int64_t v = jint(c, "version", 0);
    if (v != keep && status) {
        set_status(find_version(rec, v), status, reason);
        history(rec, now, "rolled_back", v, 0, reason, by, NULL);
    }
    json_object_object_del(rec, "canary");
}

static void start_canary(json_object *rec, int64_t version, int64_t share, int64_t min_turns,
                         int64_t now)
{
    json_object *c = json_object_new_object(), *st = json_object_new_object();
    aos_json_add_int(c, "version", version);
    aos_json_add_int(c, "share", share);
    aos_json_add_int(c, "stable_version", jint(rec, "stable_version", 0));
    aos_json_add_int(c, "min_turns", min_turns);
    aos_json_add_int(c, "started_ms", now);
    aos_json_add(st, "canary", new_stats());
    aos_json_add(st, "stable", new_stats());
    aos_json_add(c, "stats", st);
    aos_json_add(rec, "canary", c);
}

static void make_stable(json_object *rec, int64_t version)
{
    int64_t prev = jint(rec, "stable_version", 0);
    if (prev > 0 && prev != version)
        aos_json_add_int(rec, "previous_stable_version", prev);
    aos_json_add_int(rec, "stable_version", version);
}

/* Drop the oldest entries that serve nothing once there are too many. */
static void trim_versions(json_object *rec)
{
    json_object *arr = versions(rec, false);
    int64_t stable = jint(rec, "stable_version", 0);
    int64_t canary = jint(jobj(rec, "canary"), "version", 0);
    while (arr && json_object_array_length(arr) > ML_REGISTRY_VERSIONS_MAX) {
        size_t i = 0;
        for (; i < json_object_array_length(arr); i++) {
            int64_t v = jint(json_object_array_get_idx(arr, i), "version", 0);
            if (v != stable && v != canary)
                break;
        }
        if (i == json_object_array_length(arr))
            break;
        json_object_array_del_idx(arr, i, 1);
    }
}

static bool pinned(const json_object *rec)
{
    json_object *p;
    return json_object_object_get_ex(rec, "pinned", &p) && json_object_get_boolean(p);
}

aos_result ml_registry_register(json_object *rec, int64_t version, const char *artifact,
                                const char *job_id, const json_object *metrics, int64_t share,
                                int64_t min_turns, int64_t now_ms, const char **out_action,
                                char *errbuf, size_t errlen)
{
    if (version <= 0 || share < 0 || share > 100)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "version %" PRId64 " / share %" PRId64,
                        version, share);
    if (find_version(rec, version)) { /* a redelivered registration: nothing new */
        *out_action = "registered";
        return AOS_OK;
    }
    json_object *e = json_object_new_object();
    char dep[160];
    ml_registry_deployment(jstr(rec, "name"), version, dep);
    aos_json_add_int(e, "version", version);
    aos_json_add_string(e, "status", "ready");
    aos_json_add_string(e, "deployment", dep);
    aos_json_add_string(e, "artifact", artifact);
    aos_json_add_string(e, "job_id", job_id);
    aos_json_add(e, "metrics",
                 metrics ? json_object_get((json_object *)metrics) : json_object_new_object());
    aos_json_add_int(e, "registered_ms", now_ms);
    json_object_array_add(versions(rec, true), e);
    history(rec, now_ms, "registered", version, 0, job_id ? job_id : "", "pipeline", NULL);
    int64_t stable = jint(rec, "stable_version", 0);
    char why[200];
    if (stable <= 0) {
        make_stable(rec, version);
        history(rec, now_ms, "promoted", version, 0, "first version", "pipeline", NULL);
        *out_action = "promoted";
    } else if (pinned(rec)) {
        snprintf(why, sizeof why, "pinned to version %" PRId64 ": registered, not served", stable);
        history(rec, now_ms, "held", version, stable, why, "pipeline", NULL);
        *out_action = "registered";
    } else {
        snprintf(why, sizeof why, "superseded by version %" PRId64, version);
        end_canary(rec, "rolled_back", why, 0, "pipeline", now_ms);
        if (share > 0) {
            start_canary(rec, version, share, min_turns, now_ms);
            snprintf(why, sizeof why, "%" PRId64 "%% of new conversations", share);
            history(rec, now_ms, "canary_started", version, stable, why, "pipeline", NULL);
            *out_action = "canary_started";
        } else {
            make_stable(rec, version);
            history(rec, now_ms, "promoted", version, stable, "registered without a canary",
                    "pipeline", NULL);
            *out_action = "promoted";
        }
    }
    trim_versions(rec);
    bump(rec, now_ms);
    return AOS_OK;
}

/* The version entry, or NOT_FOUND; failed ones refused when !allow_failed. */
static aos_result usable(const json_object *rec, int64_t version, bool allow_failed,
                         const char *what, json_object **out, char *errbuf, size_t errlen)
{
    json_object *e = version > 0 ? find_version(rec, version) : NULL;
    if (!e)
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen,
                        "adapter %s has no registered version %" PRId64,
                        jstr(rec, "name") ? jstr(rec, "name") : "?", version);
    const char *st = jstr(e, "status");
    if (!allow_failed && st && strcmp(st, "failed") == 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "cannot %s version %" PRId64 ": it failed its canary (%s); start a new "
                        "canary with it to try again",
                        what, version, jstr(e, "reason") ? jstr(e, "reason") : "no reason");
    *out = e;
    return AOS_OK;
}

aos_result ml_registry_canary(json_object *rec, int64_t version, int64_t share, int64_t min_turns,
                              const char *by, int64_t now_ms, char *errbuf, size_t errlen)
{
    if (share < 1 || share > 100)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "share must be 1..100 (percent of new conversations), not %" PRId64, share);
    if (min_turns < 0 || min_turns > 1000000)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "min_turns must be 1..1000000");
    json_object *e = NULL;
    AOS_RETURN_IF_FAILED(usable(rec, version, true, "canary", &e, errbuf, errlen));
    int64_t stable = jint(rec, "stable_version", 0);
    if (version == stable)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "version %" PRId64 " is the stable version already", version);
    if (pinned(rec))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "the adapter is pinned to version %" PRId64 "; unpin it first", stable);
    char why[200];
    snprintf(why, sizeof why, "superseded by a canary of version %" PRId64, version);
    end_canary(rec, "rolled_back", why, version, by, now_ms);
    set_status(e, "ready", NULL);
    start_canary(rec, version, share, min_turns, now_ms);
    snprintf(why, sizeof why, "%" PRId64 "%% of new conversations", share);
    history(rec, now_ms, "canary_started", version, stable, why, by, NULL);
    bump(rec, now_ms);
    return AOS_OK;
}

aos_result ml_registry_promote(json_object *rec, int64_t version, const char *by,
                               const char *reason, int64_t now_ms, int64_t *out_version,
                               char *errbuf, size_t errlen)
{
    json_object *c = jobj(rec, "canary");
    if (version == 0 && !c)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "no canary is running: name the version to promote");
    if (version == 0)
        version = jint(c, "version", 0);
    json_object *e = NULL;
    AOS_RETURN_IF_FAILED(usable(rec, version, false, "promote", &e, errbuf, errlen));
    int64_t stable = jint(rec, "stable_version", 0);
    if (version == stable && !c)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "version %" PRId64 " is the stable version already", version);
    char why[200];
    snprintf(why, sizeof why, "version %" PRId64 " was promoted", version);
    end_canary(rec, "rolled_back", why, version, by, now_ms);
    set_status(e, "ready", NULL);
    make_stable(rec, version);
    history(rec, now_ms, "promoted", version, stable, reason ? reason : "by an operator", by, NULL);
    bump(rec, now_ms);
    *out_version = version;
    return AOS_OK;
}

aos_result ml_registry_rollback(json_object *rec, int64_t version, const char *by,
                                const char *reason, int64_t now_ms, int64_t *out_version,
                                char *errbuf, size_t errlen)
{
    json_object *c = jobj(rec, "canary");
    bool auto_ = by && strcmp(by, "pipeline") == 0;
    if (c) {
        int64_t cv = jint(c, "version", 0);
        if (version != 0 && version != cv)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "version %" PRId64 " is under canary; roll it back (no version) "
                            "before going back to another one",
                            cv);
        end_canary(rec, auto_ ? "failed" : "rolled_back",
                   reason ? reason : "rolled back by an operator", 0, by, now_ms);
        bump(rec, now_ms);
        *out_version = cv;
        return AOS_OK;
    }
    int64_t stable = jint(rec, "stable_version", 0);
    int64_t target = version ? version : jint(rec, "previous_stable_version", 0);
    if (target <= 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "no canary is running and there is no earlier stable version to go "
                        "back to");
    if (target == stable)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "version %" PRId64 " is the stable version already", target);
    json_object *e = NULL;
    AOS_RETURN_IF_FAILED(usable(rec, target, false, "roll back to", &e, errbuf, errlen));
    set_status(find_version(rec, stable), "rolled_back",
               reason ? reason : "rolled back by an operator");
    set_status(e, "ready", NULL);
    make_stable(rec, target);
    history(rec, now_ms, "rolled_back", stable, 0, reason ? reason : "rolled back by an operator",
            by, NULL);
    history(rec, now_ms, "promoted", target, stable, "the version rolled back to", by, NULL);
    bump(rec, now_ms);
    *out_version = stable;
    return AOS_OK;
}

aos_result ml_registry_pin(json_object *rec, int64_t version, const char *by, int64_t now_ms,
                           char *errbuf, size_t errlen)
{
    int64_t stable = jint(rec, "stable_version", 0);
    if (version == 0) {
        if (!pinned(rec))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "the adapter is not pinned");
        aos_json_add_bool(rec, "pinned", false);
        history(rec, now_ms, "unpinned", stable, 0, "", by, NULL);
        bump(rec, now_ms);
        return AOS_OK;
    }
    json_object *e = NULL;
    AOS_RETURN_IF_FAILED(usable(rec, version, false, "pin", &e, errbuf, errlen));
    char why[200];
    snprintf(why, sizeof why, "pinned to version %" PRId64, version);
    end_canary(rec, "rolled_back", why, version, by, now_ms);
    set_status(e, "ready", NULL);
    make_stable(rec, version);
    aos_json_add_bool(rec, "pinned", true);
    history(rec, now_ms, "pinned", version, stable, "", by, NULL);
    bump(rec, now_ms);
    return AOS_OK;
}

aos_result ml_turn_sample_parse(const char *json, size_t len, char agent[64], ml_turn_sample_t *out,
                                char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_object *o = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse_object(json, len, 64 * 1024, 8, &o, errbuf, errlen));
    const char *a = NULL, *outcome = NULL;
    int64_t fb = 0;
    aos_result r = aos_json_get_string(o, "agent", AOS_JSON_REQUIRED, &a, errbuf, errlen);
    if (r == AOS_OK && (strlen(a) >= 64 || !aos_storage_valid_id(a)))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'agent' is not an agent name");
    if (r == AOS_OK)
        snprintf(agent, 64, "%s", a);
    if (r == AOS_OK)
        r = aos_json_get_int(o, "version", AOS_JSON_REQUIRED, &out->version, NULL, errbuf, errlen);
    if (r == AOS_OK && out->version <= 0)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'version' must be > 0");
    if (r == AOS_OK)
        r = aos_json_get_string(o, "outcome", AOS_JSON_REQUIRED, &outcome, errbuf, errlen);
    if (r == AOS_OK && strcmp(outcome, "answered") != 0 && strcmp(outcome, "failed") != 0)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "outcome must be answered or failed");
    if (r == AOS_OK)
        out->error = strcmp(outcome, "failed") == 0;
    if (r == AOS_OK)
        r = aos_json_get_int(o, "fallbacks", AOS_JSON_OPTIONAL, &fb, NULL, errbuf, errlen);
    if (r == AOS_OK && (fb < 0 || fb > 1000))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "fallbacks must be 0..1000");
    out->fallbacks = (uint32_t)fb;
    if (r == AOS_OK)
        r = aos_json_get_int(o, "latency_ms", AOS_JSON_OPTIONAL, &out->latency_ms, NULL, errbuf,
                             errlen);
    if (r == AOS_OK && (out->latency_ms < 0 || out->latency_ms > 86400000))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "latency_ms must be 0..86400000");
    json_object_put(o);
    return r;
}

static void add_int(json_object *s, const char *k, int64_t d)
{
    aos_json_add_int(s, k, jint(s, k, 0) + d);
}

static double jdouble(const json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : 0;
}

static double pct(int64_t n, int64_t d)
{
    return d > 0 ? 100.0 * (double)n / (double)d : 0;
}

static double mean_latency(const json_object *s)
{
    int64_t ok = jint(s, "turns", 0) - jint(s, "errors", 0);
    return ok > 0 ? (double)jint(s, "latency_ms_sum", 0) / (double)ok : 0;
}

/* The judgement: rolled back with why, or promoted with the figures. */
static ml_decision judge(const json_object *cs, const json_object *ss, const ml_canary_policy_t *p,
                         int64_t cv, int64_t sv, char *why, size_t wlen)
{
    int64_t ct = jint(cs, "turns", 0), st = jint(ss, "turns", 0);
    double ec = pct(jint(cs, "errors", 0), ct), es = pct(jint(ss, "errors", 0), st);
    double fc = pct(jint(cs, "fallbacks", 0), ct), fs = pct(jint(ss, "fallbacks", 0), st);
    double lc = mean_latency(cs), ls = mean_latency(ss);
    int64_t nfc = jint(cs, "feedback_count", 0), nfs = jint(ss, "feedback_count", 0);
    double mfc = nfc ? jdouble(cs, "feedback_sum") / (double)nfc : 0;
    double mfs = nfs ? jdouble(ss, "feedback_sum") / (double)nfs : 0;
    char figures[300];
    snprintf(figures, sizeof figures,
             "errors %.1f%% vs %.1f%%, fallbacks %.1f%% vs %.1f%%, mean latency %.0f ms vs "
             "%.0f ms, feedback %.2f (%" PRId64 ") vs %.2f (%" PRId64 ") over %" PRId64
             " canary / %" PRId64 " stable turns (v%" PRId64 " vs v%" PRId64 ")",
             ec, es, fc, fs, lc, ls, mfc, nfc, mfs, nfs, ct, st, cv, sv);
    const char *bad = NULL;
    if (ec > es + (double)p->max_error_delta_pct)
        bad = "error rate";
    else if (fc > fs + (double)p->max_fallback_delta_pct)
        bad = "fallback rate";
    else if (st > 0 && lc - ls > 100.0 && lc * 100.0 > ls * (double)p->max_latency_pct)
        bad = "latency";
    else if (nfc >= 3 && nfs >= 3 && mfc < mfs - p->max_feedback_drop)
        bad = "user feedback";
    if (bad) {
        snprintf(why, wlen, "canary worse on %s: %s", bad, figures);
        return ML_DECISION_ROLLED_BACK;
    }
    snprintf(why, wlen, "canary healthy: %s", figures);
    return ML_DECISION_PROMOTED;
}

bool ml_registry_counts(const json_object *rec, const ml_turn_sample_t *s)
{
    json_object *c = jobj(rec, "canary"), *stats = jobj(c, "stats");
    return c && stats && jobj(stats, "canary") && jobj(stats, "stable") &&
           (s->version == jint(c, "version", 0) || s->version == jint(c, "stable_version", 0));
}

aos_result ml_registry_record(json_object *rec, const ml_turn_sample_t *s,
                              const ml_canary_policy_t *pol, int64_t now_ms, ml_decision *out,
                              char *reason, size_t rlen)
{
    *out = ML_DECISION_NONE;
    if (reason && rlen)
        reason[0] = '\0';
    json_object *c = jobj(rec, "canary"), *stats = jobj(c, "stats");
    int64_t cv = jint(c, "version", 0), sv = jint(c, "stable_version", 0);
    if (!c || !stats || (s->version != cv && s->version != sv))
        return AOS_OK;
    json_object *cs = jobj(stats, "canary"), *ss = jobj(stats, "stable");
    json_object *mine = s->version == cv ? cs : ss;
    if (!cs || !ss)
        return AOS_OK;
    if (s->is_feedback) {
        add_int(mine, "feedback_count", 1);
        json_object_object_add(mine, "feedback_sum",
                               json_object_new_double(jdouble(mine, "feedback_sum") + s->score));
    } else {
        add_int(mine, "turns", 1);
        add_int(mine, "errors", s->error ? 1 : 0);
        add_int(mine, "fallbacks", s->fallbacks > 0 ? 1 : 0);
        if (!s->error)
            add_int(mine, "latency_ms_sum", s->latency_ms);
    }
    aos_json_add_int(rec, "updated_ms", now_ms); /* counting is no registry change: no revision */
    int64_t min = jint(c, "min_turns", 0) > 0 ? jint(c, "min_turns", 0) : pol->min_turns;
    if (jint(cs, "turns", 0) < (min > 0 ? min : 1))
        return AOS_OK;
    char why[700];
    ml_decision d = judge(cs, ss, pol, cv, sv, why, sizeof why);
    json_object *snapshot = json_object_get(stats);
    int64_t v = 0;
    aos_result r = d == ML_DECISION_PROMOTED
                       ? ml_registry_promote(rec, cv, "pipeline", why, now_ms, &v, NULL, 0)
                       : ml_registry_rollback(rec, cv, "pipeline", why, now_ms, &v, NULL, 0);
    if (r == AOS_OK) {
        /* the figures the decision was taken on, with the history entry it made */
        json_object *h = NULL;
        json_object_object_get_ex(rec, "history", &h);
        size_t n = h ? json_object_array_length(h) : 0;
        json_object *last = n ? json_object_array_get_idx(h, n - 1) : NULL;
        if (last)
            aos_json_add(last, "stats", json_object_get(snapshot));
        *out = d;
        if (reason)
            snprintf(reason, rlen, "%s", why);
    }
    json_object_put(snapshot);
    return r;
}
