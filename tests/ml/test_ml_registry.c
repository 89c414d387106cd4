/* ml_registry.h: versions, canary, promotion, rollback, pin and the canary judgement as pure
 * functions over the adapter record. Every refused change leaves the record as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ml_registry.h"

static const ml_canary_policy_t POL = {.min_turns = 10,
                                       .max_error_delta_pct = 5,
                                       .max_fallback_delta_pct = 10,
                                       .max_latency_pct = 150,
                                       .max_feedback_drop = 0.25};

static int64_t jint(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

static json_object *canary(json_object *rec)
{
    json_object *c = NULL;
    json_object_object_get_ex(rec, "canary", &c);
    return c;
}

static const char *version_status(json_object *rec, int64_t v)
{
    json_object *arr = NULL;
    json_object_object_get_ex(rec, "versions", &arr);
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i), *s;
        if (jint(e, "version") == v && json_object_object_get_ex(e, "status", &s))
            return json_object_get_string(s);
    }
    return NULL;
}

static const char *last_action(json_object *rec)
{
    json_object *h = NULL, *a = NULL;
    json_object_object_get_ex(rec, "history", &h);
    size_t n = h ? json_object_array_length(h) : 0;
    if (!n || !json_object_object_get_ex(json_object_array_get_idx(h, n - 1), "action", &a))
        return NULL;
    return json_object_get_string(a);
}

/* A record with v1 stable and v2 under a share % canary. */
static json_object *with_canary(int64_t share, int64_t min_turns)
{
    json_object *rec = json_tokener_parse("{\"agent\":\"cfo\",\"name\":\"cfo-lora\"}");
    const char *act = NULL;
    char err[300];
    assert_int_equal(
        ml_registry_register(rec, 1, "/a/1", "job-1", NULL, share, 0, 1000, &act, err, sizeof err),
        AOS_OK);
    assert_string_equal(act, "promoted"); /* the first version never waits for a canary */
    assert_int_equal(ml_registry_register(rec, 2, "/a/2", "job-2", NULL, share, min_turns, 2000,
                                          &act, err, sizeof err),
                     AOS_OK);
    assert_string_equal(act, share ? "canary_started" : "promoted");
    return rec;
}

static void test_register(void **state)
{
    (void)state;
    json_object *rec = with_canary(30, 0);
    assert_int_equal(jint(rec, "stable_version"), 1);
    assert_int_equal(jint(canary(rec), "version"), 2);
    assert_int_equal(jint(canary(rec), "share"), 30);
    assert_int_equal(ml_registry_next_version(rec), 3);
    char dep[160];
    ml_registry_deployment("cfo-lora", 2, dep);
    assert_string_equal(dep, "cfo-lora-v2");
    /* a redelivered registration changes nothing */
    int64_t rev = jint(rec, "revision");
    const char *act = NULL;
    assert_int_equal(
        ml_registry_register(rec, 2, "/a/2", "job-2", NULL, 30, 0, 3000, &act, NULL, 0), AOS_OK);
    assert_int_equal(jint(rec, "revision"), rev);
    /* v3 supersedes the running canary */
    assert_int_equal(
        ml_registry_register(rec, 3, "/a/3", "job-3", NULL, 30, 0, 4000, &act, NULL, 0), AOS_OK);
    assert_int_equal(jint(canary(rec), "version"), 3);
    assert_string_equal(version_status(rec, 2), "rolled_back");
    json_object_put(rec);
    /* share 0: the new version is stable at once */
    rec = with_canary(0, 0);
    assert_int_equal(jint(rec, "stable_version"), 2);
    assert_null(canary(rec));
    json_object_put(rec);
}

static void expect_refused(json_object *rec, aos_result got, aos_result want, const char *text,
                           const char *before)
{
    assert_int_equal(got, want);
    assert_string_equal(json_object_to_json_string(rec), before);
    (void)text;
}

static void test_bad_requests_change_nothing(void **state)
{
    (void)state;
    json_object *rec = with_canary(30, 0);
    char before[8192], err[300];
    snprintf(before, sizeof before, "%s", json_object_to_json_string(rec));
    int64_t v = 0;
    aos_result r = ml_registry_canary(rec, 2, 101, 0, "operator", 5000, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_INVALID, "share", before);
    assert_non_null(strstr(err, "share must be 1..100"));
    r = ml_registry_canary(rec, 2, 0, 0, "operator", 5000, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_INVALID, "share", before);
    r = ml_registry_canary(rec, 7, 10, 0, "operator", 5000, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_NOT_FOUND, "version", before);
    assert_non_null(strstr(err, "no registered version 7"));
    r = ml_registry_canary(rec, 1, 10, 0, "operator", 5000, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_INVALID, "stable", before);
    r = ml_registry_promote(rec, 9, "operator", NULL, 5000, &v, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_NOT_FOUND, "version", before);
    r = ml_registry_pin(rec, 9, "operator", 5000, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_NOT_FOUND, "version", before);
    r = ml_registry_pin(rec, 0, "operator", 5000, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_INVALID, "not pinned", before);
    r = ml_registry_rollback(rec, 1, "operator", NULL, 5000, &v, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_INVALID, "under canary", before);
    /* a version that failed its canary cannot be promoted or pinned */
    assert_int_equal(ml_registry_rollback(rec, 0, "pipeline", "bad", 6000, &v, NULL, 0), AOS_OK);
    assert_int_equal(v, 2);
    assert_string_equal(version_status(rec, 2), "failed");
    snprintf(before, sizeof before, "%s", json_object_to_json_string(rec));
    r = ml_registry_promote(rec, 2, "operator", NULL, 7000, &v, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_INVALID, "failed", before);
    assert_non_null(strstr(err, "failed its canary (bad)"));
    r = ml_registry_pin(rec, 2, "operator", 7000, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_INVALID, "failed", before);
    r = ml_registry_promote(rec, 0, "operator", NULL, 7000, &v, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_INVALID, "no canary", before);
    r = ml_registry_rollback(rec, 0, "operator", NULL, 7000, &v, err, sizeof err);
    expect_refused(rec, r, AOS_ERR_INVALID, "no earlier stable", before);
    /* ... but it may try again under a new canary */
    assert_int_equal(ml_registry_canary(rec, 2, 10, 0, "operator", 8000, err, sizeof err), AOS_OK);
    assert_string_equal(version_status(rec, 2), "ready");
    json_object_put(rec);
}

static void test_operator_changes(void **state)
{
    (void)state;
    json_object *rec = with_canary(30, 0);
    int64_t v = 0, rev = jint(rec, "revision");
    char err[300];
    assert_int_equal(ml_registry_promote(rec, 0, "operator", NULL, 3000, &v, err, sizeof err),
                     AOS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(jint(rec, "stable_version"), 2);
    assert_null(canary(rec));
    assert_string_equal(last_action(rec), "promoted");
    assert_true(jint(rec, "revision") > rev);
    /* rollback without a canary: back to the stable version before */
    assert_int_equal(ml_registry_rollback(rec, 0, "operator", NULL, 4000, &v, err, sizeof err),
                     AOS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(jint(rec, "stable_version"), 1);
    assert_string_equal(version_status(rec, 2), "rolled_back");
    /* pin: new versions are only registered */
    assert_int_equal(ml_registry_pin(rec, 1, "operator", 5000, err, sizeof err), AOS_OK);
    const char *act = NULL;
    assert_int_equal(
        ml_registry_register(rec, 3, "/a/3", "job-3", NULL, 30, 0, 6000, &act, err, sizeof err),
        AOS_OK);
    assert_string_equal(act, "registered");
    assert_null(canary(rec));
    assert_int_equal(jint(rec, "stable_version"), 1);
    assert_int_equal(ml_registry_canary(rec, 3, 20, 0, "operator", 7000, err, sizeof err),
                     AOS_ERR_INVALID); /* pinned */
    assert_int_equal(ml_registry_pin(rec, 0, "operator", 8000, err, sizeof err), AOS_OK);
    assert_string_equal(last_action(rec), "unpinned");
    assert_int_equal(ml_registry_canary(rec, 3, 20, 5, "operator", 9000, err, sizeof err), AOS_OK);
    assert_int_equal(jint(canary(rec), "min_turns"), 5);
    json_object_put(rec);
}

static void feed(json_object *rec, int64_t version, int n, bool error, int64_t latency,
                 ml_decision *d, char *why, size_t wlen)
{
    for (int i = 0; i < n && *d == ML_DECISION_NONE; i++) {
        ml_turn_sample_t s = {.version = version, .error = error, .latency_ms = latency};
        assert_int_equal(ml_registry_record(rec, &s, &POL, 10000 + i, d, why, wlen), AOS_OK);
    }
}

static void test_judgement(void **state)
{
    (void)state;
    char why[700];
    ml_decision d = ML_DECISION_NONE;
    /* a failing canary is rolled back once it has min_turns turns */
    json_object *rec = with_canary(30, 0);
    ml_turn_sample_t other = {.version = 7};
    assert_false(ml_registry_counts(rec, &other));
    feed(rec, 1, 30, false, 20, &d, why, sizeof why);
    assert_int_equal(d, ML_DECISION_NONE); /* stable turns alone decide nothing */
    feed(rec, 2, 6, false, 20, &d, why, sizeof why);
    feed(rec, 2, 3, true, 0, &d, why, sizeof why);
    assert_int_equal(d, ML_DECISION_NONE);
    feed(rec, 2, 1, true, 0, &d, why, sizeof why);
    assert_int_equal(d, ML_DECISION_ROLLED_BACK);
    assert_non_null(strstr(why, "error rate: errors 40.0% vs 0.0%"));
    assert_non_null(strstr(why, "over 10 canary / 30 stable turns"));
    assert_int_equal(jint(rec, "stable_version"), 1);
    assert_string_equal(version_status(rec, 2), "failed");
    assert_null(canary(rec));
    /* samples after the decision (or of other versions) count nowhere */
    ml_turn_sample_t late = {.version = 2, .error = true};
    assert_false(ml_registry_counts(rec, &late));
    d = ML_DECISION_NONE;
    feed(rec, 2, 5, true, 0, &d, why, sizeof why);
    assert_int_equal(d, ML_DECISION_NONE);
    json_object_put(rec);
    /* a healthy canary is promoted */
    rec = with_canary(30, 0);
    d = ML_DECISION_NONE;
    feed(rec, 1, 20, false, 200, &d, why, sizeof why);
    feed(rec, 2, 10, false, 210, &d, why, sizeof why);
    assert_int_equal(d, ML_DECISION_PROMOTED);
    assert_non_null(strstr(why, "canary healthy"));
    assert_int_equal(jint(rec, "stable_version"), 2);
    json_object_put(rec);
    /* a slow canary (over 150 % and 100 ms more than stable) is rolled back */
    rec = with_canary(30, 0);
    d = ML_DECISION_NONE;
    feed(rec, 1, 20, false, 200, &d, why, sizeof why);
    feed(rec, 2, 10, false, 400, &d, why, sizeof why);
    assert_int_equal(d, ML_DECISION_ROLLED_BACK);
    assert_non_null(strstr(why, "latency"));
    json_object_put(rec);
    /* worse user feedback rolls back too */
    rec = with_canary(30, 0);
    d = ML_DECISION_NONE;
    for (int i = 0; i < 4; i++) {
        ml_turn_sample_t up = {.version = 1, .is_feedback = true, .score = 1};
        ml_turn_sample_t down = {.version = 2, .is_feedback = true, .score = -1};
        assert_int_equal(ml_registry_record(rec, &up, &POL, 1, &d, why, sizeof why), AOS_OK);
        assert_int_equal(ml_registry_record(rec, &down, &POL, 1, &d, why, sizeof why), AOS_OK);
    }
    feed(rec, 2, 10, false, 10, &d, why, sizeof why);
    assert_int_equal(d, ML_DECISION_ROLLED_BACK);
    assert_non_null(strstr(why, "user feedback"));
    json_object_put(rec);
}

static void test_turn_sample_parse(void **state)
{
    (void)state;
    char agent[64], err[200];
    ml_turn_sample_t s;
    const char *ok =
        "{\"agent\":\"cfo\",\"adapter\":\"cfo-lora\",\"version\":2,\"outcome\":\"failed\","
        "\"fallbacks\":1,\"latency_ms\":35}";
    assert_int_equal(ml_turn_sample_parse(ok, strlen(ok), agent, &s, err, sizeof err), AOS_OK);
    assert_string_equal(agent, "cfo");
    assert_int_equal(s.version, 2);
    assert_true(s.error);
    assert_int_equal(s.fallbacks, 1);
    assert_int_equal(s.latency_ms, 35);
    const char *bad[] = {
        "{}",
        "{\"agent\":\"cfo\",\"version\":0,\"outcome\":\"answered\"}",
        "{\"agent\":\"cfo\",\"version\":1,\"outcome\":\"maybe\"}",
        "{\"agent\":\"c fo\",\"version\":1,\"outcome\":\"answered\"}",
        "{\"agent\":\"cfo\",\"version\":1,\"outcome\":\"answered\",\"latency_ms\":-4}",
        "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ml_turn_sample_parse(bad[i], strlen(bad[i]), agent, &s, err, sizeof err),
                         AOS_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register),
        cmocka_unit_test(test_bad_requests_change_nothing),
        cmocka_unit_test(test_operator_changes),
        cmocka_unit_test(test_judgement),
        cmocka_unit_test(test_turn_sample_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
