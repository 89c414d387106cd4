/* CBS against the test peer (tests/servicebus/sb_peer.c) over loopback: authorization with the
 * right key, refusal with a wrong key / expired token, entity attach refused before a token,
 * entity-scoped tokens, refresh driven by an injected clock, fixed SAS tokens, connection
 * loss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <proton/disposition.h>

#include "aos/servicebus.h"
#include "cbs_client.h"
#include "sb_peer.h"

#define NS "aos-test.servicebus.windows.net"
#define KEY_NAME "RootManageSharedAccessKey"
#define KEY "dGVzdGtleS1ub3QtYS1zZWNyZXQtMTIzNDU2Nzg5MA=="

static sb_peer_t *peer;

static int setup(void **state)
{
    (void)state;
    peer = sb_peer_start(NS, KEY_NAME, KEY);
    return peer ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sb_peer_stop(peer);
    return 0;
}

typedef struct {
    uint64_t now_ms;
} fake_clock_t;

static uint64_t fake_now(void *ctx)
{
    return ((fake_clock_t *)ctx)->now_ms;
}

typedef struct {
    aos_cbs_state seen[8];
    int n;
} states_t;

static void record_state(void *ctx, aos_cbs_state s, const char *detail)
{
    (void)detail;
    states_t *st = ctx;
    if (st->n < 8)
        st->seen[st->n++] = s;
}

static aos_cbs_t *new_cbs(const char *audience, const char *key, fake_clock_t *clk,
                          states_t *states)
{
    aos_cbs_config_t cfg = {.audience = audience,
                            .key_name = KEY_NAME,
                            .key = key,
                            .token_ttl_s = 3600,
                            .clock = clk ? fake_now : NULL,
                            .clock_ctx = clk,
                            .on_state = states ? record_state : NULL,
                            .on_state_ctx = states};
    aos_cbs_t *cbs = NULL;
    char err[256];
    assert_int_equal(aos_cbs_new(&cfg, &cbs, err, sizeof err), AOS_OK);
    return cbs;
}

/* Finish once CBS settled; attach the entity (if any) once authorized. */
static void step_authorize(cbs_client_t *cl)
{
    aos_cbs_state s = aos_cbs_get_state(cl->cbs);
    if (s == AOS_CBS_FAILED || (s == AOS_CBS_AUTHORIZED && !cl->attach_to))
        cbs_client_finish(cl);
    else if (s == AOS_CBS_AUTHORIZED)
        cbs_client_attach(cl);
}

static void authorized_with_right_key_then_send(void **state)
{
    (void)state;
    sb_peer_stats_t before, after;
    sb_peer_get_stats(peer, &before);
    states_t states = {0};
    cbs_client_t cl = {.cbs = new_cbs("sb://" NS "/", KEY, NULL, &states),
                       .attach_to = "aos.storage",
                       .step = step_authorize};
    cbs_client_run(&cl, sb_peer_port(peer));
    assert_false(cl.timed_out);
    assert_int_equal(aos_cbs_get_state(cl.cbs), AOS_CBS_IDLE); /* connection closed at the end */
    assert_false(cl.entity_refused);
    assert_true(cl.outcome == PN_ACCEPTED);
    assert_true(states.n >= 2);
    assert_int_equal(states.seen[0], AOS_CBS_PENDING);
    assert_int_equal(states.seen[1], AOS_CBS_AUTHORIZED);
    uint64_t exp = aos_cbs_token_expiry(cl.cbs);
    assert_true(exp > (uint64_t)time(NULL) + 3000 && exp <= (uint64_t)time(NULL) + 3600);
    sb_peer_get_stats(peer, &after);
    assert_int_equal(after.tokens_ok, before.tokens_ok + 1);
    assert_int_equal(after.attaches_ok, before.attaches_ok + 1);
    assert_true(sb_peer_transfers_to(peer, "aos.storage") >= 1);
    aos_cbs_free(cl.cbs);
}

static void failed_with_wrong_key(void **state)
{
    (void)state;
    cbs_client_t cl = {.cbs = new_cbs("sb://" NS "/", "d3Jvbmcta2V5", NULL, NULL),
                       .step = step_authorize};
    aos_cbs_state final = AOS_CBS_IDLE;
    cl.ctx = &final;
    cbs_client_run(&cl, sb_peer_port(peer));
    assert_false(cl.timed_out);
    /* FAILED was seen before the connection closed; the error text stays */
    assert_non_null(strstr(aos_cbs_error(cl.cbs), "401"));
    assert_non_null(strstr(aos_cbs_error(cl.cbs), "signature mismatch"));
    assert_null(strstr(aos_cbs_error(cl.cbs), "d3Jvbmcta2V5"));
    aos_cbs_free(cl.cbs);
}

static void expired_token_is_refused(void **state)
{
    (void)state;
    /* the injected clock is two hours behind: a 1 h token is already expired */
    fake_clock_t clk = {.now_ms = ((uint64_t)time(NULL) - 7200) * 1000u};
    cbs_client_t cl = {.cbs = new_cbs("sb://" NS "/", KEY, &clk, NULL), .step = step_authorize};
    cbs_client_run(&cl, sb_peer_port(peer));
    assert_false(cl.timed_out);
    assert_non_null(strstr(aos_cbs_error(cl.cbs), "expired"));
    aos_cbs_free(cl.cbs);
}

static void attach_without_token_is_refused(void **state)
{
    (void)state;
    cbs_client_t cl = {.cbs = NULL, .attach_to = "aos.storage"};
    cbs_client_run(&cl, sb_peer_port(peer));
    assert_false(cl.timed_out);
    assert_true(cl.entity_refused);
    assert_non_null(strstr(cl.entity_condition, "amqp:unauthorized-access"));
}

static void entity_token_covers_only_its_entity(void **state)
{
    (void)state;
    cbs_client_t cl = {.cbs = new_cbs("sb://" NS "/aos.ml", KEY, NULL, NULL),
                       .attach_to = "aos.storage",
                       .step = step_authorize};
    cbs_client_run(&cl, sb_peer_port(peer));
    assert_true(cl.entity_refused);
    aos_cbs_free(cl.cbs);

    cbs_client_t ok = {.cbs = new_cbs("sb://" NS "/aos.ml", KEY, NULL, NULL),
                       .attach_to = "aos.ml",
                       .step = step_authorize};
    cbs_client_run(&ok, sb_peer_port(peer));
    assert_false(ok.entity_refused);
    assert_true(ok.outcome == PN_ACCEPTED);
    aos_cbs_free(ok.cbs);
}

static void audience_outside_namespace_is_refused(void **state)
{
    (void)state;
    cbs_client_t cl = {.cbs = new_cbs("sb://other.servicebus.windows.net/", KEY, NULL, NULL),
                       .step = step_authorize};
    cbs_client_run(&cl, sb_peer_port(peer));
    assert_non_null(strstr(aos_cbs_error(cl.cbs), "not in namespace"));
    aos_cbs_free(cl.cbs);
}

typedef struct {
    fake_clock_t clk;
    int64_t due_first, due_at_80, due_while_pending, due_after;
    uint64_t expiry_first, expiry_after;
    aos_result refresh_result;
} refresh_obs_t;

/* Authorize, jump the injected clock to 80% of the lifetime, refresh, wait for the answer. */
static void step_refresh(cbs_client_t *cl)
{
    refresh_obs_t *o = cl->ctx;
    aos_cbs_state s = aos_cbs_get_state(cl->cbs);
    if (s == AOS_CBS_FAILED) {
        cbs_client_finish(cl);
    } else if (s == AOS_CBS_AUTHORIZED && cl->phase == 0) {
        o->due_first = aos_cbs_refresh_due_ms(cl->cbs, o->clk.now_ms);
        o->expiry_first = aos_cbs_token_expiry(cl->cbs);
        o->clk.now_ms += 3600u * 800u;
        o->due_at_80 = aos_cbs_refresh_due_ms(cl->cbs, o->clk.now_ms);
        o->refresh_result = aos_cbs_refresh(cl->cbs);
        o->due_while_pending = aos_cbs_refresh_due_ms(cl->cbs, o->clk.now_ms);
        cl->phase = 1;
    } else if (s == AOS_CBS_AUTHORIZED && cl->phase == 1 &&
               aos_cbs_refresh_due_ms(cl->cbs, o->clk.now_ms) > 0) {
        o->due_after = aos_cbs_refresh_due_ms(cl->cbs, o->clk.now_ms);
        o->expiry_after = aos_cbs_token_expiry(cl->cbs);
        cl->phase = 2;
        cbs_client_finish(cl);
    }
}

static void refresh_at_80_percent_with_injected_clock(void **state)
{
    (void)state;
    sb_peer_stats_t before, after;
    sb_peer_get_stats(peer, &before);
    refresh_obs_t o = {.clk.now_ms = (uint64_t)time(NULL) * 1000u};
    cbs_client_t cl = {.step = step_refresh, .ctx = &o};
    cl.cbs = new_cbs("sb://" NS "/", KEY, &o.clk, NULL);
    assert_int_equal(aos_cbs_refresh_due_ms(cl.cbs, o.clk.now_ms), -1); /* not started */
    assert_int_equal(aos_cbs_refresh(cl.cbs), AOS_ERR_CLOSED);
    cbs_client_run(&cl, sb_peer_port(peer));
    assert_int_equal(cl.phase, 2);
    assert_int_equal(o.due_first, 3600 * 800);
    assert_int_equal(o.due_at_80, 0);
    assert_int_equal(o.refresh_result, AOS_OK);
    assert_int_equal(o.due_while_pending, -1);
    assert_int_equal(o.due_after, 3600 * 800);
    assert_true(o.expiry_after == o.expiry_first + 2880);
    sb_peer_get_stats(peer, &after);
    assert_int_equal(after.tokens_ok, before.tokens_ok + 2);
    aos_cbs_free(cl.cbs);
}

static void fixed_sas_from_connection_string(void **state)
{
    (void)state;
    char tok[512], cs_text[1024];
    assert_int_equal(aos_sb_sas_token("sb://" NS "/", KEY_NAME, KEY, (uint64_t)time(NULL) + 600,
                                      tok, sizeof tok),
                     AOS_OK);
    snprintf(cs_text, sizeof cs_text, "Endpoint=sb://%s/;SharedAccessSignature=%s", NS, tok);
    aos_sb_connstr_t *cs = NULL;
    assert_int_equal(aos_sb_connstr_parse(cs_text, &cs, NULL, 0), AOS_OK);
    cbs_client_t cl = {.attach_to = "aos.storage", .step = step_authorize};
    assert_int_equal(aos_cbs_new_from_connstr(cs, 0, &cl.cbs, NULL, 0), AOS_OK);
    aos_sb_connstr_free(cs);
    cbs_client_run(&cl, sb_peer_port(peer));
    assert_true(cl.outcome == PN_ACCEPTED);
    assert_int_equal(aos_cbs_refresh_due_ms(cl.cbs, (uint64_t)time(NULL) * 1000u), -1);
    aos_cbs_free(cl.cbs);
}

static void step_close_when_authorized(cbs_client_t *cl)
{
    if (aos_cbs_get_state(cl->cbs) == AOS_CBS_AUTHORIZED) {
        *(aos_cbs_state *)cl->ctx = AOS_CBS_AUTHORIZED;
        cbs_client_finish(cl);
    } else if (aos_cbs_get_state(cl->cbs) == AOS_CBS_FAILED) {
        cbs_client_finish(cl);
    }
}

static void connection_loss_goes_idle_and_restart_works(void **state)
{
    (void)state;
    states_t states = {0};
    aos_cbs_state seen = AOS_CBS_IDLE;
    cbs_client_t cl = {.cbs = new_cbs("sb://" NS "/", KEY, NULL, &states),
                       .step = step_close_when_authorized,
                       .ctx = &seen};
    cbs_client_run(&cl, sb_peer_port(peer));
    assert_int_equal(seen, AOS_CBS_AUTHORIZED);
    assert_int_equal(aos_cbs_get_state(cl.cbs), AOS_CBS_IDLE);
    assert_int_equal(states.seen[states.n - 1], AOS_CBS_IDLE);
    assert_int_equal(aos_cbs_refresh(cl.cbs), AOS_ERR_CLOSED);
    /* the same component on a new connection (what the bus does after a reconnect) */
    seen = AOS_CBS_IDLE;
    cl.phase = 0;
    cl.closing = cl.sent = false;
    cbs_client_run(&cl, sb_peer_port(peer));
    assert_int_equal(seen, AOS_CBS_AUTHORIZED);
    aos_cbs_free(cl.cbs);
}

static void config_errors(void **state)
{
    (void)state;
    aos_cbs_t *c = (aos_cbs_t *)1;
    char err[200];
    aos_cbs_config_t none = {.audience = "sb://x/"};
    assert_int_equal(aos_cbs_new(&none, &c, err, sizeof err), AOS_ERR_INVALID);
    assert_null(c);
    assert_non_null(strstr(err, "either"));
    aos_cbs_config_t both = {.audience = "sb://x/", .key_name = "a", .key = "b", .sas = "sr=a"};
    assert_int_equal(aos_cbs_new(&both, &c, err, sizeof err), AOS_ERR_INVALID);
    aos_cbs_config_t noaud = {.key_name = "a", .key = "b"};
    assert_int_equal(aos_cbs_new(&noaud, &c, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "audience"));
    aos_cbs_config_t badsas = {.audience = "sb://x/", .sas = "SharedAccessSignature sr=a"};
    assert_int_equal(aos_cbs_new(&badsas, &c, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "sig"));
    assert_int_equal(aos_cbs_new(NULL, &c, err, sizeof err), AOS_ERR_INVALID);
    aos_cbs_free(NULL);
    assert_int_equal(aos_cbs_get_state(NULL), AOS_CBS_IDLE);
    assert_string_equal(aos_cbs_state_str(AOS_CBS_AUTHORIZED), "authorized");
    assert_false(aos_cbs_handle(NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_errors),
        cmocka_unit_test(authorized_with_right_key_then_send),
        cmocka_unit_test(failed_with_wrong_key),
        cmocka_unit_test(expired_token_is_refused),
        cmocka_unit_test(attach_without_token_is_refused),
        cmocka_unit_test(entity_token_covers_only_its_entity),
        cmocka_unit_test(audience_outside_namespace_is_refused),
        cmocka_unit_test(refresh_at_80_percent_with_injected_clock),
        cmocka_unit_test(fixed_sas_from_connection_string),
        cmocka_unit_test(connection_loss_goes_idle_and_restart_works),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
