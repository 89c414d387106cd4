/* CBS (AMQP claims-based security) client: puts SAS tokens on "$cbs" and tracks the answer.
 *
 * Event-driven and I/O-free: the owner of the connection feeds every Proton event to
 * aos_cbs_handle, which acts only on the CBS session, its two links and their deliveries.
 * Message shape (as Microsoft's SDKs send it):
 *   properties:   message-id "aos-cbs-<n>", reply-to <the receiver's target address>
 *   app-props:    operation "put-token", type "servicebus.windows.net:sastoken",
 *                 name <audience>, expiration <timestamp>
 *   body:         amqp-value string: the token
 * The answer comes on the receiver with correlation-id = message-id and app-props
 * status-code (200/202 ok) and status-description. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <proton/codec.h>
#include <proton/delivery.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/session.h>
#include <proton/terminus.h>

#include "aos/log.h"
#include "aos/servicebus.h"
#include "cbs_internal.h"
#include "sb_internal.h"

#define CBS_DEFAULT_TTL_S 3600u
#define CBS_RECEIVER_CREDIT 4

struct aos_cbs {
    char *audience, *key_name, *key, *sas;
    uint32_t ttl_s;
    uint64_t fixed_expiry; /* se of a fixed SAS */
    aos_cbs_clock_fn clock;
    void *clock_ctx;
    aos_cbs_state_cb on_state;
    void *on_state_ctx;

    pn_connection_t *conn;
    pn_session_t *ssn;
    pn_link_t *sender, *receiver;
    char reply_to[48];

    aos_cbs_state state;
    char error[256];
    uint64_t next_id;
    bool want_put;       /* a put-token is to be sent when the sender has credit */
    bool put_pending;    /* a put-token was sent, no answer yet */
    char pending_id[32]; /* its message-id */
    uint64_t pending_expiry, pending_sent_ms;
    uint64_t expiry;    /* expiry of the last accepted token, unix s */
    uint64_t issued_ms; /* when that token was computed */
};

static uint64_t wall_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms(const aos_cbs_t *c)
{
    return c->clock(c->clock_ctx);
}

const char *aos_cbs_state_str(aos_cbs_state s)
{
    switch (s) {
    case AOS_CBS_IDLE:
        return "idle";
    case AOS_CBS_PENDING:
        return "pending";
    case AOS_CBS_AUTHORIZED:
        return "authorized";
    case AOS_CBS_FAILED:
        return "failed";
    }
    return "unknown";
}

static void set_state(aos_cbs_t *c, aos_cbs_state s, const char *detail)
{
    if (s == AOS_CBS_FAILED)
        snprintf(c->error, sizeof c->error, "%s", detail ? detail : "failed");
    if (c->state == s)
        return;
    c->state = s;
    aos_log(s == AOS_CBS_FAILED ? AOS_LOG_WARN : AOS_LOG_DEBUG, "cbs state", "state",
            aos_cbs_state_str(s), "audience", c->audience, "detail",
            s == AOS_CBS_FAILED ? c->error : "", NULL);
    if (c->on_state)
        c->on_state(c->on_state_ctx, s, s == AOS_CBS_FAILED ? c->error : "");
}

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void aos_cbs_free(aos_cbs_t *c)
{
    if (!c)
        return;
    free(c->audience);
    free(c->key_name);
    wipe_free(c->key);
    wipe_free(c->sas);
    free(c);
}

static aos_result validate_config(const aos_cbs_config_t *cfg, uint64_t *fixed_expiry, char *errbuf,
                                  size_t errlen)
{
    if (!cfg)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "CBS: no configuration");
    if (!cfg->audience || !*cfg->audience)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "CBS: audience is missing");
    if (strlen(cfg->audience) > AOS_SB_MAX_URI)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "CBS: audience is too long");
    bool has_key = cfg->key_name && *cfg->key_name && cfg->key && *cfg->key;
    bool has_sas = cfg->sas && *cfg->sas;
    if (has_key == has_sas)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "CBS: give either key_name and key, or a fixed SAS token");
    if (has_key && strlen(cfg->key_name) > AOS_SB_MAX_URI)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "CBS: key name is too long");
    if (has_sas) {
        aos_sb_sas_fields_t *f = NULL;
        char detail[160];
        if (aos_sb_sas_parse(cfg->sas, &f, detail, sizeof detail) != AOS_OK)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "CBS: %s", detail);
        *fixed_expiry = f->se;
        aos_sb_sas_fields_free(f);
    }
    return AOS_OK;
}

aos_result aos_cbs_new(const aos_cbs_config_t *cfg, aos_cbs_t **out, char *errbuf, size_t errlen)
{
    if (!out)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "CBS: no output pointer");
    *out = NULL;
    uint64_t fixed_expiry = 0;
    AOS_RETURN_IF_FAILED(validate_config(cfg, &fixed_expiry, errbuf, errlen));
    aos_cbs_t *c = calloc(1, sizeof *c);
    if (!c)
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "out of memory");
    c->audience = strdup(cfg->audience);
    bool ok = c->audience != NULL;
    if (cfg->sas && *cfg->sas) {
        ok = ok && (c->sas = strdup(cfg->sas));
        c->fixed_expiry = fixed_expiry;
    } else {
        ok = ok && (c->key_name = strdup(cfg->key_name)) && (c->key = strdup(cfg->key));
    }
    if (!ok) {
        aos_cbs_free(c);
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "out of memory");
    }
    c->ttl_s = cfg->token_ttl_s ? cfg->token_ttl_s : CBS_DEFAULT_TTL_S;
    c->clock = cfg->clock ? cfg->clock : wall_ms;
    c->clock_ctx = cfg->clock_ctx;
    c->on_state = cfg->on_state;
    c->on_state_ctx = cfg->on_state_ctx;
    *out = c;
    return AOS_OK;
}

aos_result aos_cbs_new_from_connstr(const aos_sb_connstr_t *cs, uint32_t token_ttl_s,
                                    aos_cbs_t **out, char *errbuf, size_t errlen)
{
    if (!cs)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "CBS: no connection string");
    char audience[AOS_SB_MAX_URI + 1];
    if (aos_sb_connstr_audience(cs, audience, sizeof audience) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "CBS: audience is too long");
    aos_cbs_config_t cfg = {.audience = audience,
                            .key_name = cs->key_name,
                            .key = cs->key,
                            .sas = cs->sas,
                            .token_ttl_s = token_ttl_s};
    return aos_cbs_new(&cfg, out, errbuf, errlen);
}

aos_cbs_state aos_cbs_get_state(const aos_cbs_t *c)
{
    return c ? c->state : AOS_CBS_IDLE;
}

const char *aos_cbs_error(const aos_cbs_t *c)
{
    return c ? c->error : "";
}

uint64_t aos_cbs_token_expiry(const aos_cbs_t *c)
{
    return c ? c->expiry : 0;
}

static void forget_links(aos_cbs_t *c)
{
    c->conn = NULL;
    c->ssn = NULL;
    c->sender = c->receiver = NULL;
    c->put_pending = false;
    c->want_put = false;
}

aos_result aos_cbs_start(aos_cbs_t *c, pn_connection_t *conn)
{
    if (!c || !conn)
        return AOS_ERR_INVALID;
    forget_links(c);
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return AOS_ERR_INTERNAL;
    uint64_t r = 0;
    memcpy(&r, rnd, sizeof r);
    snprintf(c->reply_to, sizeof c->reply_to, "cbs-reply-%016" PRIx64, r);
    char name[64];

    c->conn = conn;
    c->ssn = pn_session(conn);
    if (!c->ssn)
        return AOS_ERR_NOMEM;
    pn_session_open(c->ssn);

    snprintf(name, sizeof name, "aos-cbs-put-%016" PRIx64, r);
    c->sender = pn_sender(c->ssn, name);
    snprintf(name, sizeof name, "aos-cbs-reply-%016" PRIx64, r);
    c->receiver = pn_receiver(c->ssn, name);
    if (!c->sender || !c->receiver)
        return AOS_ERR_NOMEM;
    pn_terminus_set_address(pn_link_source(c->sender), c->reply_to);
    pn_terminus_set_address(pn_link_target(c->sender), "$cbs");
    pn_terminus_set_address(pn_link_source(c->receiver), "$cbs");
    pn_terminus_set_address(pn_link_target(c->receiver), c->reply_to);
    pn_link_open(c->sender);
    pn_link_open(c->receiver);
    pn_link_set_max_message_size(c->receiver, CBS_MAX_ANSWER);
    pn_link_flow(c->receiver, CBS_RECEIVER_CREDIT);

    c->error[0] = '\0';
    c->want_put = true;
    set_state(c, AOS_CBS_PENDING, NULL);
    return aos_cbs_send_pending(c);
}

/* The token to put now: computed from the key (expiry now + ttl) or the fixed one. */
static aos_result make_token(aos_cbs_t *c, char *out, size_t outlen, uint64_t *out_expiry)
{
    if (c->sas) {
        if (strlen(c->sas) >= outlen)
            return AOS_ERR_TOO_LARGE;
        strcpy(out, c->sas);
        *out_expiry = c->fixed_expiry;
        return AOS_OK;
    }
    uint64_t expiry = now_ms(c) / 1000u + c->ttl_s;
    *out_expiry = expiry;
    return aos_sb_sas_token(c->audience, c->key_name, c->key, expiry, out, outlen);
}

static aos_result put_token_message(aos_cbs_t *c, const char *token, uint64_t expiry,
                                    pn_message_t *m)
{
    pn_data_t *id = pn_message_id(m);
    pn_data_put_string(id, pn_bytes(strlen(c->pending_id), c->pending_id));
    pn_message_set_reply_to(m, c->reply_to);
    pn_data_t *ap = pn_message_properties(m);
    pn_data_put_map(ap);
    pn_data_enter(ap);
    const char *kv[][2] = {{"operation", "put-token"},
                           {"type", "servicebus.windows.net:sastoken"},
                           {"name", c->audience}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        pn_data_put_string(ap, pn_bytes(strlen(kv[i][0]), kv[i][0]));
        pn_data_put_string(ap, pn_bytes(strlen(kv[i][1]), kv[i][1]));
    }
    pn_data_put_string(ap, pn_bytes(10, "expiration"));
    pn_data_put_timestamp(ap, (pn_timestamp_t)(expiry * 1000u));
    pn_data_exit(ap);
    pn_data_t *body = pn_message_body(m);
    pn_data_put_string(body, pn_bytes(strlen(token), token));
    return AOS_OK;
}

aos_result aos_cbs_send_pending(aos_cbs_t *c)
{
    if (!c->want_put || c->put_pending || !c->sender || pn_link_credit(c->sender) <= 0)
        return AOS_OK;
    char token[4 * AOS_SB_MAX_URI + 512];
    uint64_t expiry = 0;
    aos_result r = make_token(c, token, sizeof token, &expiry);
    if (r != AOS_OK) {
        c->want_put = false;
        set_state(c, AOS_CBS_FAILED, "cannot compute a SAS token for the audience");
        return r;
    }
    snprintf(c->pending_id, sizeof c->pending_id, "aos-cbs-%" PRIu64, ++c->next_id);
    pn_message_t *m = pn_message();
    if (!m) {
        OPENSSL_cleanse(token, sizeof token);
        return AOS_ERR_NOMEM;
    }
    put_token_message(c, token, expiry, m);
    OPENSSL_cleanse(token, sizeof token);
    pn_delivery(c->sender, pn_dtag(c->pending_id, strlen(c->pending_id)));
    ssize_t sent = pn_message_send(m, c->sender, NULL);
    pn_message_free(m);
    if (sent < 0) {
        set_state(c, AOS_CBS_FAILED, "cannot encode the put-token request");
        return AOS_ERR_INTERNAL;
    }
    c->want_put = false;
    c->put_pending = true;
    c->pending_expiry = expiry;
    c->pending_sent_ms = now_ms(c);
    return AOS_OK;
}

int64_t aos_cbs_refresh_due_ms(const aos_cbs_t *c, uint64_t now)
{
    if (!c || c->sas || c->state != AOS_CBS_AUTHORIZED || c->put_pending || c->want_put)
        return -1;
    uint64_t due = c->issued_ms + (uint64_t)c->ttl_s * 800u; /* 80% of the lifetime */
    return due > now ? (int64_t)(due - now) : 0;
}

aos_result aos_cbs_refresh(aos_cbs_t *c)
{
    if (!c || !c->sender || c->state == AOS_CBS_IDLE)
        return AOS_ERR_CLOSED;
    if (c->sas)
        return AOS_ERR_UNSUPPORTED;
    if (c->put_pending || c->want_put)
        return AOS_OK;
    c->want_put = true;
    return aos_cbs_send_pending(c);
}

/* Called by the event handler (cbs_events.c) once a put-token answer arrived. */
void aos_cbs_answer(aos_cbs_t *c, const char *correlation_id, int status, const char *desc)
{
    if (!c->put_pending || strcmp(correlation_id, c->pending_id) != 0)
        return; /* an answer to a request we no longer wait for */
    c->put_pending = false;
    if (status == 200 || status == 202) {
        c->expiry = c->pending_expiry;
        /* the token was computed when it was sent */
        c->issued_ms = c->pending_sent_ms;
        set_state(c, AOS_CBS_AUTHORIZED, NULL);
        return;
    }
    char detail[sizeof c->error];
    snprintf(detail, sizeof detail, "put-token refused: status %d%s%s", status,
             desc && *desc ? ": " : "", desc ? desc : "");
    set_state(c, AOS_CBS_FAILED, detail);
}

void aos_cbs_fail(aos_cbs_t *c, const char *detail)
{
    c->put_pending = false;
    c->want_put = false;
    set_state(c, AOS_CBS_FAILED, detail);
}

void aos_cbs_lost(aos_cbs_t *c)
{
    forget_links(c);
    set_state(c, AOS_CBS_IDLE, NULL);
}

bool aos_cbs_owns(const aos_cbs_t *c, pn_link_t *link, pn_session_t *ssn)
{
    if (link)
        return link == c->sender || link == c->receiver;
    return ssn && ssn == c->ssn;
}

pn_link_t *aos_cbs_sender(const aos_cbs_t *c)
{
    return c->sender;
}
pn_link_t *aos_cbs_receiver(const aos_cbs_t *c)
{
    return c->receiver;
}
pn_connection_t *aos_cbs_connection(const aos_cbs_t *c)
{
    return c->conn;
}

void aos_cbs_forget(aos_cbs_t *c, pn_link_t *link, pn_session_t *ssn)
{
    if (link && link == c->sender)
        c->sender = NULL;
    if (link && link == c->receiver)
        c->receiver = NULL;
    if (ssn && ssn == c->ssn)
        c->ssn = NULL;
}
