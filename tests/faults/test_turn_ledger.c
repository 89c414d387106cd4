/* The turn ledger / order / lease operations (services/storage/dispatch_turns.c) on both
 * backends: SQLite always, Azure against the Azurite fixture when its connection string is
 * there (the ctest registration with the fixture sets AOS_LEDGER_BACKEND=azure). Checked at the
 * dispatch level, without a bus:
 *   - accept gives increasing orders; an Idempotency-Key maps to the first turn;
 *   - claim of order 2 waits while order 1 is not done; order 1 runs with a token;
 *   - a second holder of the same turn waits while the lease is live;
 *   - complete with a stale token is refused; with the right one it moves the order on;
 *   - a claim of a completed turn answers from the ledger at any age (after 50 turns);
 *   - renew with a stale token is refused;
 *   - a turn before that never shows up is skipped after the gap time, and only that turn:
 *     the gap time of the next one counts from when it became next in line;
 *   - accept with the user message leases a turn that is next in line (token, user message,
 *     context): a claim without the token waits, one with it takes the lease over; a turn
 *     the ledger knows gets no second place; the leased turn completes with no claim;
 *   - an expired lease outlives an outage: for a lease time after storage became reachable it
 *     is still its holder's, whose complete then goes through (docs/turn-order.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "backend.h"
#include "dispatch.h"
#include "dispatch_turns.h"
#include "fixture.h"
#include "temp_db.h"

static storage_backend_t *BE;
static char TAG[24];

static json_object *op(const char *name, aos_result want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_object *op(const char *name, aos_result want, const char *fmt, ...)
{
    char *data = NULL, type[64];
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&data, fmt, ap) >= 0);
    va_end(ap);
    snprintf(type, sizeof type, "aos.storage.turn.%s", name);
    storage_outcome_t out = {0};
    storage_limits_t lim = {0};
    storage_dispatch_raw(BE, &lim, type, "ev-1", data, strlen(data), &out);
    if (out.result != want)
        fprintf(stderr, "%s %s -> %s (%s)\n", name, data, aos_result_str(out.result), out.message);
    free(data);
    assert_int_equal(out.result, want);
    json_object *o = out.data_json ? json_tokener_parse(out.data_json) : NULL;
    storage_outcome_clear(&out);
    return o;
}

static const char *js(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static int64_t ji(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

#define MSG(id, role, text)                                                                        \
    "{\"message_id\":\"" id "\",\"role\":\"" role "\",\"content\":\"" text "\"}"

static json_object *claim(const char *conv, const char *turn, const char *holder, int64_t gap)
{
    return op("claim", AOS_OK,
              "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\",\"holder\":\"%s\","
              "\"lease_ms\":60000,\"gap_ms\":%lld,\"history\":10,\"message\":{\"message_id\":"
              "\"%s\",\"role\":\"user\",\"content\":\"q %s\"}}",
              conv, turn, holder, (long long)gap, turn, turn);
}

/* turn.complete of a run: the answer ("answered", <turn>:r) or the failure marker ("failed",
 * <turn>:e). */
static json_object *complete_outcome(const char *conv, const char *turn, int64_t tok, int64_t seq,
                                     bool failed, aos_result want)
{
    return op("complete", want,
              "{\"conversation_id\":\"%s\",\"turn_id\":\"%s\",\"token\":%lld,\"seq\":%lld,"
              "\"outcome\":\"%s\",\"message\":{\"message_id\":\"%s:%c\",\"role\":\"%s\","
              "\"content\":\"%s %s\"}}",
              conv, turn, (long long)tok, (long long)seq, failed ? "failed" : "answered", turn,
              failed ? 'e' : 'r', failed ? "error" : "assistant", failed ? "model failed" : "a",
              turn);
}

static json_object *complete(const char *conv, const char *turn, int64_t tok, int64_t seq,
                             aos_result want)
{
    return complete_outcome(conv, turn, tok, seq, false, want);
}

/* A claim that must wait for an earlier turn. */
static void claim_waits(const char *conv, const char *turn, const char *holder, int64_t gap)
{
    json_object *c = claim(conv, turn, holder, gap);
    assert_string_equal(js(c, "status"), "wait");
    json_object_put(c);
}

/* A claim that must run the turn at order seq: its fencing token. */
static int64_t claim_runs(const char *conv, const char *turn, const char *holder, int64_t gap,
                          int64_t seq)
{
    json_object *c = claim(conv, turn, holder, gap);
    assert_string_equal(js(c, "status"), "run");
    if (seq > 0)
        assert_int_equal(ji(c, "seq"), seq);
    int64_t tok = ji(c, "token");
    json_object_put(c);
    return tok;
}

static void test_order_lease_and_ledger(void **state)
{
    (void)state;
    char conv[64], t1[64], t2[64];
    snprintf(conv, sizeof conv, "c-%s", TAG);
    snprintf(t1, sizeof t1, "t1-%s", TAG);
    snprintf(t2, sizeof t2, "t2-%s", TAG);
    json_object *a =
        op("accept", AOS_OK, "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\"}",
           conv, t1);
    assert_int_equal(ji(a, "seq"), 1);
    json_object_put(a);
    a = op("accept", AOS_OK,
           "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\","
           "\"idempotency_key\":\"key-%s\"}",
           conv, t2, TAG);
    assert_int_equal(ji(a, "seq"), 2);
    json_object_put(a);
    /* the same key again names t2, whatever turn id the retry made up */
    a = op("accept", AOS_OK,
           "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"other-%s\","
           "\"idempotency_key\":\"key-%s\"}",
           conv, TAG, TAG);
    assert_string_equal(js(a, "turn_id"), t2);
    assert_true(json_object_get_boolean(json_object_object_get(a, "existing")));
    json_object_put(a);

    /* t2 arrives first: it waits for t1 */
    json_object *c2 = claim(conv, t2, "r2", 600000);
    assert_string_equal(js(c2, "status"), "wait");
    assert_string_equal(js(json_object_object_get(c2, "waiting_for"), "turn_id"), t1);
    json_object_put(c2);
    json_object *c1 = claim(conv, t1, "r1", 600000);
    assert_string_equal(js(c1, "status"), "run");
    int64_t tok = ji(c1, "token");
    assert_int_equal(ji(c1, "seq"), 1);
    json_object_put(c1);
    /* another holder of the same turn (a duplicate delivery) waits while the lease lives */
    c1 = claim(conv, t1, "r9", 600000);
    assert_string_equal(js(c1, "status"), "wait");
    json_object_put(c1);
    json_object_put(op("renew", AOS_ERR_CONFLICT,
                       "{\"conversation_id\":\"%s\",\"token\":%lld,\"lease_ms\":60000}", conv,
                       (long long)tok + 7));
    json_object_put(op("renew", AOS_OK,
                       "{\"conversation_id\":\"%s\",\"token\":%lld,\"lease_ms\":60000}", conv,
                       (long long)tok));
    json_object_put(complete(conv, t1, tok + 7, 1, AOS_ERR_CONFLICT)); /* fenced */
    json_object *done = complete(conv, t1, tok, 1, AOS_OK);
    assert_int_equal(ji(json_object_object_get(done, "message"), "seq"), 2);
    json_object_put(done);
    json_object_put(complete(conv, t1, tok, 1, AOS_OK)); /* a redelivered complete */
    /* now t2 runs, with t1's exchange in its history */
    c2 = claim(conv, t2, "r2", 600000);
    assert_string_equal(js(c2, "status"), "run");
    assert_int_equal(json_object_array_length(json_object_object_get(c2, "messages")), 3);
    int64_t tok2 = ji(c2, "token");
    assert_true(tok2 > tok);
    json_object_put(c2);
    json_object_put(complete(conv, t2, tok2, 2, AOS_OK));

    /* 50 more turns, then t1 again: answered from the ledger */
    for (int i = 0; i < 50; i++) {
        char t[64];
        snprintf(t, sizeof t, "tn%d-%s", i, TAG);
        json_object *c = claim(conv, t, "r1", 600000);
        assert_string_equal(js(c, "status"), "run");
        json_object_put(complete(conv, t, ji(c, "token"), ji(c, "seq"), AOS_OK));
        json_object_put(c);
    }
    c1 = claim(conv, t1, "r5", 600000);
    assert_string_equal(js(c1, "status"), "answered");
    char want[80];
    snprintf(want, sizeof want, "a %s", t1);
    assert_string_equal(js(json_object_object_get(c1, "reply"), "content"), want);
    json_object_put(c1);
}

static json_object *claim_lease(const char *conv, const char *turn, const char *holder,
                                int lease_ms)
{
    return op("claim", AOS_OK,
              "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\",\"holder\":\"%s\","
              "\"lease_ms\":%d,\"gap_ms\":600000,\"history\":10,\"message\":{\"message_id\":"
              "\"%s\",\"role\":\"user\",\"content\":\"q %s\"}}",
              conv, turn, holder, lease_ms, turn, turn);
}

/* The broker was away longer than the lease: its holder could neither renew nor complete.
 * Right after storage is reachable again the lease still holds (before: the redelivered copy
 * took it over and paid the model again); the holder's complete goes through and the copy is
 * answered from the ledger. Once the grace is over, an expired lease is taken over as ever. */
static void test_lease_outlives_outage(void **state)
{
    (void)state;
    char conv[64], t1[64];
    snprintf(conv, sizeof conv, "c-outage-%s", TAG);
    snprintf(t1, sizeof t1, "t1-outage-%s", TAG);
    json_object *c = claim_lease(conv, t1, "r1", 200);
    assert_string_equal(js(c, "status"), "run");
    int64_t tok = ji(c, "token"), seq = ji(c, "seq");
    json_object_put(c);
    usleep(300 * 1000); /* the lease has run out during the "outage" */
    storage_turns_reachable_since(storage_now_ms());
    c = claim_lease(conv, t1, "r2", 200); /* the redelivered copy */
    assert_string_equal(js(c, "status"), "wait");
    json_object_put(c);
    json_object_put(complete(conv, t1, tok, seq, AOS_OK));
    c = claim_lease(conv, t1, "r2", 200);
    assert_string_equal(js(c, "status"), "answered");
    json_object_put(c);
    /* after the grace: an expired lease is taken over */
    char t2[64];
    snprintf(t2, sizeof t2, "t2-outage-%s", TAG);
    c = claim_lease(conv, t2, "r1", 200);
    assert_string_equal(js(c, "status"), "run");
    json_object_put(c);
    usleep(300 * 1000);
    c = claim_lease(conv, t2, "r2", 200);
    assert_string_equal(js(c, "status"), "run");
    json_object_put(c);
    storage_turns_reachable_since(0);
}

static void test_gap_is_skipped(void **state)
{
    (void)state;
    char conv[64], lost[64], t[64];
    snprintf(conv, sizeof conv, "g-%s", TAG);
    snprintf(lost, sizeof lost, "lost-%s", TAG);
    snprintf(t, sizeof t, "next-%s", TAG);
    json_object_put(op("accept", AOS_OK,
                       "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\"}", conv,
                       lost));
    json_object_put(op("accept", AOS_OK,
                       "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\"}", conv,
                       t));
    json_object *c = claim(conv, t, "r1", 600000);
    assert_string_equal(js(c, "status"), "wait");
    json_object_put(c);
    usleep(1200 * 1000);
    c = claim(conv, t, "r1", 1000); /* the lost turn is older than the gap time */
    assert_string_equal(js(c, "status"), "run");
    assert_int_equal(ji(c, "seq"), 2);
    json_object_put(c);
}

/* Only the lost turn is skipped: the turns behind it that are still waiting keep their
 * acceptance order. test_faults_replicas met it: the head of a conversation sat out of reach
 * for the gap time, and the claim that skipped it also skipped the two turns after it (their
 * last activity was their acceptance, as old as the head's), so turn 4 ran before 2 and 3.
 * A turn's gap time counts from when it became next in line. */
static void test_gap_skips_only_the_lost_turn(void **state)
{
    (void)state;
    char conv[64], t[4][64];
    snprintf(conv, sizeof conv, "gc-%s", TAG);
    for (int i = 0; i < 4; i++) {
        snprintf(t[i], sizeof t[i], "gc%d-%s", i + 1, TAG);
        json_object_put(op("accept", AOS_OK,
                           "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\"}", conv,
                           t[i]));
    }
    for (int i = 1; i < 4; i++) /* turns 2..4 arrive and wait for turn 1 */
        claim_waits(conv, t[i], "r1", 600000);
    usleep(1200 * 1000);
    /* turn 4 polls: turn 1 is past the gap time and goes; turn 2 is next now and waits its
     * own gap time from here */
    claim_waits(conv, t[3], "r1", 1000);
    json_object_put(complete(conv, t[1], claim_runs(conv, t[1], "r2", 1000, 2), 2, AOS_OK));
    /* turn 2 done: turn 3 is next (its gap time starts now), turn 4 still waits */
    claim_waits(conv, t[3], "r1", 1000);
    json_object_put(complete(conv, t[2], claim_runs(conv, t[2], "r3", 1000, 3), 3, AOS_OK));
    claim_runs(conv, t[3], "r1", 1000, 4);
}

static json_object *complete_failed(const char *conv, const char *turn, int64_t tok, int64_t seq)
{
    return complete_outcome(conv, turn, tok, seq, true, AOS_OK);
}

/* A failed turn delivered again (a copy the broker requeued, a replay) runs again as the
 * newest turn; when it fails again, its complete names the marker stored the first time.
 * That complete must still end the second run: drop its lease and move the order on.
 * test_faults_replicas met it: the conversation's next turn waited on the lease, then the gap
 * time. */
static void test_failed_turn_run_again_releases_the_order(void **state)
{
    (void)state;
    char conv[64], t1[64], t2[64];
    snprintf(conv, sizeof conv, "fa-%s", TAG);
    snprintf(t1, sizeof t1, "fa1-%s", TAG);
    snprintf(t2, sizeof t2, "fa2-%s", TAG);
    json_object_put(complete_failed(conv, t1, claim_runs(conv, t1, "r1", 600000, 1), 1));
    /* the requeued copy: runs again, as the newest */
    json_object_put(complete_failed(conv, t1, claim_runs(conv, t1, "r2", 600000, 2), 2));
    claim_runs(conv, t2, "r1", 600000, 3); /* before: wait (the lease of t1's rerun) */
}

static void test_poison_turn_fails_and_order_moves_on(void **state)
{
    (void)state;
    char conv[64], bad[64], t[64];
    snprintf(conv, sizeof conv, "p-%s", TAG);
    snprintf(bad, sizeof bad, "bad-%s", TAG);
    snprintf(t, sizeof t, "good-%s", TAG);
    json_object_put(op("accept", AOS_OK,
                       "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\"}", conv,
                       bad));
    json_object_put(op("accept", AOS_OK,
                       "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\"}", conv,
                       t));
    json_object *c = claim(conv, t, "r1", 600000);
    assert_string_equal(js(c, "status"), "wait");
    json_object_put(c);
    json_object_put(op("fail", AOS_OK,
                       "{\"conversation_id\":\"%s\",\"turn_id\":\"%s\",\"message\":{"
                       "\"message_id\":\"%s:e\",\"role\":\"error\",\"content\":\"poison\"}}",
                       conv, bad, bad));
    c = claim(conv, t, "r1", 600000); /* at once, no gap time */
    assert_string_equal(js(c, "status"), "run");
    /* the marker is in the conversation, before the next turn */
    json_object *msgs = json_object_object_get(c, "messages");
    assert_int_equal(json_object_array_length(msgs), 2);
    assert_string_equal(js(json_object_array_get_idx(msgs, 1), "role"), "error");
    json_object_put(c);
}

static json_object *accept_msg(const char *conv, const char *turn)
{
    return op("accept", AOS_OK,
              "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\","
              "\"holder\":\"router-1\",\"history\":10,\"message\":{\"message_id\":\"%s\","
              "\"role\":\"user\",\"content\":\"q %s\",\"metadata\":{\"kind\":\"query\"}}}",
              conv, turn, turn, turn);
}

static json_object *claim_tok(const char *conv, const char *turn, int64_t tok)
{
    return op("claim", AOS_OK,
              "{\"conversation_id\":\"%s\",\"agent\":\"a1\",\"turn_id\":\"%s\",\"holder\":"
              "\"r1\",\"lease_ms\":60000,\"history\":10,\"token\":%lld,\"message\":{"
              "\"message_id\":\"%s\",\"role\":\"user\",\"content\":\"q %s\"}}",
              conv, turn, (long long)tok, turn, turn);
}

/* Issue 12: a turn for two storage round trips (docs/turn-order.md "Two round trips"). */
static void test_accept_leases_next_turn(void **state)
{
    (void)state;
    char conv[64], t1[64], t2[64], t3[64];
    snprintf(conv, sizeof conv, "cl-%s", TAG);
    snprintf(t1, sizeof t1, "l1-%s", TAG);
    snprintf(t2, sizeof t2, "l2-%s", TAG);
    snprintf(t3, sizeof t3, "l3-%s", TAG);
    json_object *a = accept_msg(conv, t1), *run = json_object_object_get(a, "run");
    assert_non_null(run);
    assert_int_equal(ji(a, "seq"), 1);
    assert_string_equal(js(a, "agent"), "a1");
    int64_t k1 = ji(run, "token");
    assert_true(k1 > 0);
    assert_string_equal(js(json_object_object_get(run, "user"), "message_id"), t1);
    assert_int_equal(json_object_array_length(json_object_object_get(run, "messages")), 1);
    json_object_put(a);
    /* t2 while t1 holds the lease: a place, no lease */
    a = accept_msg(conv, t2);
    assert_int_equal(ji(a, "seq"), 2);
    assert_null(json_object_object_get(a, "run"));
    json_object_put(a);
    /* a redelivered copy of t1 (no token) waits on the accept's lease */
    json_object *c = claim(conv, t1, "r9", 600000);
    assert_string_equal(js(c, "status"), "wait");
    json_object_put(c);
    /* the first delivery with the token takes it over; the stored user message (other
     * metadata bytes) is the same message */
    c = claim_tok(conv, t1, k1);
    assert_string_equal(js(c, "status"), "run");
    int64_t k2 = ji(c, "token");
    assert_true(k2 > k1);
    assert_string_equal(js(json_object_object_get(c, "user"), "message_id"), t1);
    json_object_put(c);
    json_object_put(complete(conv, t1, k1, 1, AOS_ERR_CONFLICT)); /* fenced */
    json_object_put(complete(conv, t1, k2, 1, AOS_OK));
    /* t1 delivered again to the router (an event retried): no second place */
    a = accept_msg(conv, t1);
    assert_true(json_object_get_boolean(json_object_object_get(a, "answered")));
    assert_int_equal(ji(a, "seq"), -1);
    assert_null(json_object_object_get(a, "run"));
    json_object_put(a);
    c = claim(conv, t2, "r1", 600000);
    assert_string_equal(js(c, "status"), "run");
    json_object_put(complete(conv, t2, ji(c, "token"), 2, AOS_OK));
    json_object_put(c);
    /* idle again: t3's accept leases it with the whole context; complete is all it needs */
    a = accept_msg(conv, t3);
    run = json_object_object_get(a, "run");
    assert_non_null(run);
    json_object *msgs = json_object_object_get(run, "messages");
    assert_int_equal(json_object_array_length(msgs), 5); /* newest first */
    assert_string_equal(js(json_object_array_get_idx(msgs, 0), "message_id"), t3);
    assert_string_equal(js(json_object_array_get_idx(msgs, 4), "message_id"), t1);
    json_object_put(complete(conv, t3, ji(run, "token"), ji(a, "seq"), AOS_OK));
    json_object_put(a);
    c = claim(conv, t3, "r1", 600000);
    assert_string_equal(js(c, "status"), "answered");
    json_object_put(c);
}

static void test_bad_input_changes_nothing(void **state)
{
    (void)state;
    json_object_put(op("claim", AOS_ERR_INVALID, "{\"conversation_id\":\"x y\"}"));
    json_object_put(op("complete", AOS_ERR_INVALID,
                       "{\"conversation_id\":\"c\",\"turn_id\":\"t\",\"token\":1,\"seq\":1,"
                       "\"outcome\":\"maybe\",\"message\":" MSG("t:r", "assistant", "x") "}"));
    json_object_put(op("nosuch", AOS_ERR_UNSUPPORTED, "{}"));
    json_object_put(op("accept", AOS_ERR_INVALID, "[1]"));
}

int main(void)
{
    unsigned char b[4] = {0};
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return 1;
    snprintf(TAG, sizeof TAG, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    char err[256], cs[2048], db[128], prefix[17];
    storage_backend_config_t cfg = {.kind = AOS_STORAGE_BACKEND_SQLITE};
    const char *which = getenv("AOS_LEDGER_BACKEND");
    if (which && strcmp(which, "azure") == 0) {
        if (aos_test_fixture_read("azurite", "connection_string", cs, sizeof cs) != 0)
            return 1;
        snprintf(prefix, sizeof prefix, "l%s", TAG);
        cfg = (storage_backend_config_t){.kind = AOS_STORAGE_BACKEND_AZURE,
                                         .azure_connection_string = cs,
                                         .name_prefix = prefix};
    } else {
        snprintf(db, sizeof db, "/tmp/aos-ledger-%s.db", TAG);
        cfg.sqlite_path = db;
    }
    if (storage_backend_open(&cfg, &BE, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "backend: %s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_lease_and_ledger),
        cmocka_unit_test(test_gap_is_skipped),
        cmocka_unit_test(test_gap_skips_only_the_lost_turn),
        cmocka_unit_test(test_failed_turn_run_again_releases_the_order),
        cmocka_unit_test(test_lease_outlives_outage),
        cmocka_unit_test(test_poison_turn_fails_and_order_moves_on),
        cmocka_unit_test(test_accept_leases_next_turn),
        cmocka_unit_test(test_bad_input_changes_nothing),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    storage_backend_free(BE);
    if (cfg.sqlite_path) {
        temp_db_remove(db);
    }
    return rc;
}
