/* Test peer that speaks CBS like Azure Service Bus. See sb_peer.h. The token checks here are
 * written independently of common/src/sb (own field splitting, own HMAC), so the peer is a
 * check on the client, not a mirror of it. */
#include "sb_peer.h"
#include "sb_peer_internal.h"
#include "sb_peer_hooks.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/listener.h>
#include <proton/message.h>
#include <proton/netaddr.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#define MAX_AUTH 16
#define MAX_QUEUED 8
#define MAX_COUNTS 16
#define LOCK_TICK_MS 50

typedef struct {
    char audience[512];
    uint64_t expiry;
} grant_t;

typedef struct {
    char reply_to[128];
    char *bytes;
    size_t size;
} queued_t;

typedef struct {
    grant_t grants[MAX_AUTH];
    int ngrants;
    queued_t queue[MAX_QUEUED]; /* answers waiting for reply link credit */
    int nqueued;
} conn_state_t;

struct sb_peer {
    char ns_host[256], key_name[256], key[256];
    pn_proactor_t *proactor;
    pn_listener_t *listener;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int port; /* > 0 once listening, -1 on failure */
    bool stopping;
    sb_sessions_t *sessions;   /* session-enabled queues, see sb_peer_sessions.c */
    sb_entities_t *entities;   /* which entities exist, see sb_peer_entities.c */
    sb_dedup_t *dedup;         /* duplicate detection, see sb_peer_dedup.c */
    sb_store_t *store;         /* declared queues, topics, dead letters: sb_peer_store.c */
    void *tls;                 /* pn_ssl_domain_t when TLS is on: sb_peer_tls.c */
    uint64_t max_message_size; /* advertised and enforced on entity links; 0: none */
    sb_peer_stats_t stats;
    char log[16384];
    struct {
        char address[128];
        int n;
    } counts[MAX_COUNTS];
};

static uint64_t max_size(sb_peer_t *p);
static void peer_log(sb_peer_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer_log(sb_peer_t *p, const char *fmt, ...)
{
    pthread_mutex_lock(&p->mu);
    size_t used = strlen(p->log);
    va_list ap;
    va_start(ap, fmt);
    if (used + 2 < sizeof p->log) {
        vsnprintf(p->log + used, sizeof p->log - used - 1, fmt, ap);
        strcat(p->log, "\n");
    }
    va_end(ap);
    pthread_mutex_unlock(&p->mu);
}

void sb_peer_note(sb_peer_t *p, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    peer_log(p, "%s", line);
}

static uint64_t now_s(void)
{
    return (uint64_t)time(NULL);
}

/* Does a grant cover sb://<ns>/<address>? Prefix match on a path boundary. */
static bool authorized(sb_peer_t *p, conn_state_t *cs, const char *address)
{
    char uri[512];
    snprintf(uri, sizeof uri, "sb://%s/%s", p->ns_host, address);
    for (int i = 0; i < cs->ngrants; i++) {
        const char *a = cs->grants[i].audience;
        size_t n = strlen(a);
        if (cs->grants[i].expiry <= now_s() || strncasecmp(uri, a, n) != 0)
            continue;
        if (a[n - 1] == '/' || uri[n] == '\0' || uri[n] == '/')
            return true;
    }
    return false;
}

/* ---- AMQP helpers ---- */

static bool map_get_str(pn_data_t *map, const char *key, char *out, size_t outlen)
{
    pn_data_rewind(map);
    if (!pn_data_next(map) || pn_data_type(map) != PN_MAP)
        return false;
    pn_data_enter(map);
    bool found = false;
    while (!found && pn_data_next(map)) {
        bool match = false;
        if (pn_data_type(map) == PN_STRING || pn_data_type(map) == PN_SYMBOL) {
            pn_bytes_t k =
                pn_data_type(map) == PN_STRING ? pn_data_get_string(map) : pn_data_get_symbol(map);
            match = k.size == strlen(key) && memcmp(k.start, key, k.size) == 0;
        }
        if (!pn_data_next(map))
            break;
        if (match && pn_data_type(map) == PN_STRING) {
            pn_bytes_t v = pn_data_get_string(map);
            snprintf(out, outlen, "%.*s", (int)v.size, v.start);
            found = true;
        }
    }
    pn_data_exit(map);
    return found;
}

static pn_link_t *find_reply_link(pn_connection_t *c, const char *reply_to)
{
    for (pn_link_t *l = pn_link_head(c, PN_LOCAL_ACTIVE); l; l = pn_link_next(l, PN_LOCAL_ACTIVE)) {
        const char *t = pn_terminus_get_address(pn_link_remote_target(l));
        /* the service routes by the receiver's target address or, as Microsoft's SDKs
         * expect (they leave the target empty), by its link name */
        if (pn_link_is_sender(l) &&
            ((t && strcmp(t, reply_to) == 0) || strcmp(pn_link_name(l), reply_to) == 0))
            return l;
    }
    return NULL;
}

static void flush_answers(pn_connection_t *c, conn_state_t *cs)
{
    for (int i = 0; i < cs->nqueued;) {
        pn_link_t *l = find_reply_link(c, cs->queue[i].reply_to);
        if (!l || pn_link_credit(l) <= 0) {
            i++;
            continue;
        }
        static uint64_t tag;
        tag++;
        pn_delivery_t *d = pn_delivery(l, pn_dtag((const char *)&tag, sizeof tag));
        pn_link_send(l, cs->queue[i].bytes, cs->queue[i].size);
        pn_delivery_settle(d); /* pre-settled, as the service sends them */
        pn_link_advance(l);
        free(cs->queue[i].bytes);
        cs->queue[i] = cs->queue[--cs->nqueued];
    }
}

void sb_peer_send_reply(pn_connection_t *c, const char *reply_to, pn_message_t *m)
{
    conn_state_t *cs = pn_connection_get_context(c);
    if (!cs || !reply_to || cs->nqueued >= MAX_QUEUED)
        return;
    pn_rwbytes_t buf = {0, NULL};
    ssize_t n = pn_message_encode2(m, &buf);
    if (n <= 0) {
        free(buf.start);
        return;
    }
    queued_t *q = &cs->queue[cs->nqueued++];
    snprintf(q->reply_to, sizeof q->reply_to, "%s", reply_to);
    q->bytes = buf.start;
    q->size = (size_t)n;
    flush_answers(c, cs);
}

static void queue_answer(pn_connection_t *c, conn_state_t *cs, pn_message_t *req, int status,
                         const char *desc)
{
    const char *reply_to = pn_message_get_reply_to(req);
    if (!reply_to || cs->nqueued >= MAX_QUEUED)
        return;
    pn_message_t *m = pn_message();
    pn_message_set_correlation_id(m, pn_message_get_id(req));
    pn_data_t *ap = pn_message_properties(m);
    pn_data_put_map(ap);
    pn_data_enter(ap);
    pn_data_put_string(ap, pn_bytes(11, "status-code"));
    pn_data_put_int(ap, status);
    pn_data_put_string(ap, pn_bytes(18, "status-description"));
    pn_data_put_string(ap, pn_bytes(strlen(desc), desc));
    pn_data_exit(ap);
    pn_rwbytes_t buf = {0, NULL};
    ssize_t n = pn_message_encode2(m, &buf);
    pn_message_free(m);
    if (n <= 0) {
        free(buf.start);
        return;
    }
    queued_t *q = &cs->queue[cs->nqueued++];
    snprintf(q->reply_to, sizeof q->reply_to, "%s", reply_to);
    q->bytes = buf.start;
    q->size = (size_t)n;
    flush_answers(c, cs);
}

/* ---- put-token ---- */

static void on_put_token(sb_peer_t *p, pn_connection_t *c, conn_state_t *cs, pn_message_t *m)
{
    char op[64] = "", type[128] = "", name[512] = "", why[600] = "";
    pn_data_t *ap = pn_message_properties(m);
    int status = 200;
    uint64_t expiry = 0;
    map_get_str(ap, "operation", op, sizeof op);
    map_get_str(ap, "type", type, sizeof type);
    map_get_str(ap, "name", name, sizeof name);
    sb_peer_audience_strip_port(name);
    pn_data_t *body = pn_message_body(m);
    pn_data_rewind(body);
    if (strcmp(op, "put-token") != 0) {
        status = 400, snprintf(why, sizeof why, "unsupported operation");
    } else if (strcmp(type, "servicebus.windows.net:sastoken") != 0 || !name[0]) {
        status = 400, snprintf(why, sizeof why, "type or name missing");
    } else if (!pn_data_next(body) || pn_data_type(body) != PN_STRING) {
        status = 400, snprintf(why, sizeof why, "body is not a string token");
    } else {
        pn_bytes_t b = pn_data_get_string(body);
        char tok[2048];
        snprintf(tok, sizeof tok, "%.*s", (int)b.size, b.start);
        status = sb_peer_check_token(p->ns_host, p->key_name, p->key, name, tok, &expiry, why,
                                     sizeof why);
    }
    if (status == 200 && cs->ngrants < MAX_AUTH) {
        grant_t *g = &cs->grants[cs->ngrants++];
        snprintf(g->audience, sizeof g->audience, "%s", name);
        g->expiry = expiry;
    }
    pthread_mutex_lock(&p->mu);
    if (status == 200)
        p->stats.tokens_ok++;
    else
        p->stats.tokens_refused++;
    pthread_mutex_unlock(&p->mu);
    if (status == 200)
        peer_log(p, "token-ok %s", name);
    else
        peer_log(p, "token-refused %d %s", status, why);
    queue_answer(c, cs, m, status, status == 200 ? "OK" : why);
}

static void count_transfer(sb_peer_t *p, const char *address)
{
    pthread_mutex_lock(&p->mu);
    p->stats.transfers++;
    for (int i = 0; i < MAX_COUNTS; i++) {
        if (!p->counts[i].address[0])
            snprintf(p->counts[i].address, sizeof p->counts[i].address, "%s", address);
        if (strcmp(p->counts[i].address, address) == 0) {
            p->counts[i].n++;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    peer_log(p, "transfer %s", address);
}

static void on_delivery(sb_peer_t *p, pn_connection_t *c, conn_state_t *cs, pn_delivery_t *d)
{
    pn_link_t *l = pn_delivery_link(d);
    if (pn_link_is_sender(l)) {
        if (pn_delivery_updated(d)) {
            if (sb_store_owns(p->store, l))
                sb_store_outcome(p->store, d);
            else
                sb_sessions_outcome(p->sessions, d);
            pn_delivery_settle(d);
            sb_sessions_pump(p->sessions, c);
            sb_store_pump(p->store, c);
        }
        return;
    }
    if (!pn_delivery_readable(d))
        return;
    const char *ltarget = pn_terminus_get_address(pn_link_target(l));
    uint64_t limit = max_size(p);
    if (limit && ltarget && strcmp(ltarget, "$cbs") != 0 && !strstr(ltarget, "$management") &&
        pn_delivery_pending(d) > limit) {
        /* as the service does: the link goes, with the reason */
        peer_log(p, "message-too-large %s %zu", ltarget, pn_delivery_pending(d));
        pn_condition_format(pn_link_condition(l), "amqp:link:message-size-exceeded",
                            "The received message (delivery-id:0, size:%zu bytes) exceeds the "
                            "limit (%llu bytes) currently allowed on the link.",
                            pn_delivery_pending(d), (unsigned long long)limit);
        pn_delivery_update(d, PN_REJECTED);
        pn_delivery_settle(d);
        pn_link_close(l);
        return;
    }
    if (pn_delivery_partial(d))
        return;
    size_t size = pn_delivery_pending(d);
    char *buf = malloc(size ? size : 1);
    ssize_t n = pn_link_recv(l, buf, size);
    const char *target = pn_terminus_get_address(pn_link_target(l));
    char dupid[200];
    if (target && strstr(target, "/$management")) {
        pn_message_t *m = pn_message();
        if (n > 0 && pn_message_decode(m, buf, (size_t)n) == 0) {
            sb_mgmt_request(p->sessions, c, target, m);
            pn_delivery_update(d, PN_ACCEPTED);
        } else {
            pn_delivery_update(d, PN_REJECTED);
        }
        pn_message_free(m);
    } else if (target && strcmp(target, "$cbs") == 0) {
        pn_message_t *m = pn_message();
        if (n > 0 && pn_message_decode(m, buf, (size_t)n) == 0) {
            on_put_token(p, c, cs, m);
            pn_delivery_update(d, PN_ACCEPTED);
        } else {
            pn_delivery_update(d, PN_REJECTED);
        }
        pn_message_free(m);
    } else if (target && n >= 0 &&
               sb_dedup_is_duplicate(p->dedup, target, buf, (size_t)n, dupid, sizeof dupid)) {
        pn_delivery_update(d, PN_ACCEPTED); /* as the service does: accepted, then dropped */
        peer_log(p, "duplicate-dropped %s %s", target, dupid);
    } else if (target && n >= 0 && sb_store_claims(p->store, target)) {
        const char *cond = NULL, *desc = NULL;
        if (sb_peer_store_each(p, false, target, buf, (size_t)n, &cond, &desc)) {
            count_transfer(p, target);
            pn_delivery_update(d, PN_ACCEPTED);
            sb_store_pump(p->store, c);
        } else {
            pn_condition_t *rc = pn_disposition_condition(pn_delivery_local(d));
            pn_condition_set_name(rc, cond);
            pn_condition_set_description(rc, desc);
            pn_delivery_update(d, PN_REJECTED);
            peer_log(p, "transfer-refused %s %s", target, cond);
        }
    } else if (target && n >= 0) {
        const char *cond = NULL, *desc = NULL;
        if (sb_peer_store_each(p, true, target, buf, (size_t)n, &cond, &desc)) {
            count_transfer(p, target);
            pn_delivery_update(d, PN_ACCEPTED);
            sb_sessions_pump(p->sessions, c);
        } else {
            pn_condition_t *rc = pn_disposition_condition(pn_delivery_local(d));
            pn_condition_set_name(rc, cond);
            pn_condition_set_description(rc, desc);
            pn_delivery_update(d, PN_REJECTED);
            peer_log(p, "transfer-refused %s %s", target, cond);
        }
    } else {
        pn_delivery_update(d, PN_REJECTED);
    }
    free(buf);
    pn_delivery_settle(d);
    pn_link_flow(l, 1);
}

/* ---- attach ---- */

static void on_link_open(sb_peer_t *p, pn_connection_t *c, conn_state_t *cs, pn_link_t *l)
{
    pn_terminus_copy(pn_link_source(l), pn_link_remote_source(l));
    pn_terminus_copy(pn_link_target(l), pn_link_remote_target(l));
    /* the client's target (when it sends) or source (when it receives) names the entity */
    const char *addr = pn_terminus_get_address(pn_link_is_receiver(l) ? pn_link_remote_target(l)
                                                                      : pn_link_remote_source(l));
    if (!addr)
        addr = "";
    bool cbs = strcmp(addr, "$cbs") == 0;
    if (!cbs)
        pn_link_set_max_message_size(l, max_size(p));
    if (strstr(addr, "/$management") && authorized(p, cs, addr) &&
        sb_entities_exist(p->entities, addr)) {
        pn_link_open(l);
        if (pn_link_is_receiver(l))
            pn_link_flow(l, 16);
        peer_log(p, "attach-ok %s", addr);
        return;
    }
    if (!cbs && authorized(p, cs, addr) && !sb_entities_exist(p->entities, addr)) {
        /* like the service: no terminus of our own in the attach, then the detach */
        pn_terminus_set_type(pn_link_is_sender(l) ? pn_link_source(l) : pn_link_target(l),
                             PN_UNSPECIFIED);
        pn_link_open(l);
        pn_condition_format(pn_link_condition(l), "amqp:not-found",
                            "The messaging entity 'sb://%s/%s' could not be found. To know more "
                            "visit https://aka.ms/sbResourceMgrExceptions.",
                            p->ns_host, addr);
        pn_link_close(l);
        sb_entities_count_refusal(p->entities, addr);
        pthread_mutex_lock(&p->mu);
        p->stats.attaches_refused++;
        pthread_mutex_unlock(&p->mu);
        peer_log(p, "attach-refused %s amqp:not-found", addr);
        return;
    }
    if (!cbs && pn_link_is_sender(l) && authorized(p, cs, addr) &&
        sb_sessions_is_session_queue(p->sessions, addr)) {
        sb_sessions_attach(p->sessions, c, l); /* locks a session, refuses or waits */
        return;
    }
    if (!cbs && authorized(p, cs, addr) && sb_store_claims(p->store, addr)) {
        sb_store_attach(p->store, c, l, addr);
        return;
    }
    if (!cbs && pn_link_is_sender(l) && authorized(p, cs, addr)) {
        sb_sessions_attach_plain(p->sessions, c, l); /* a stored queue without sessions */
        pthread_mutex_lock(&p->mu);
        p->stats.attaches_ok++;
        pthread_mutex_unlock(&p->mu);
        peer_log(p, "attach-ok %s", addr);
        return;
    }
    if (cbs || authorized(p, cs, addr)) {
        pn_link_open(l);
        if (pn_link_is_receiver(l))
            pn_link_flow(l, 16);
        if (!cbs) {
            pthread_mutex_lock(&p->mu);
            p->stats.attaches_ok++;
            pthread_mutex_unlock(&p->mu);
            peer_log(p, "attach-ok %s", addr);
        }
        return;
    }
    pn_link_open(l);
    pn_condition_format(pn_link_condition(l), "amqp:unauthorized-access",
                        "Unauthorized access. A valid token for 'sb://%s/%s' is required.",
                        p->ns_host, addr);
    pn_link_close(l);
    sb_entities_count_refusal(p->entities, addr);
    pthread_mutex_lock(&p->mu);
    p->stats.attaches_refused++;
    pthread_mutex_unlock(&p->mu);
    peer_log(p, "attach-refused %s", addr);
}

static void free_conn_state(conn_state_t *cs)
{
    if (!cs)
        return;
    for (int i = 0; i < cs->nqueued; i++)
        free(cs->queue[i].bytes);
    free(cs);
}

static void on_accept(sb_peer_t *p)
{
    pn_connection_t *c = pn_connection();
    pn_transport_t *t = pn_transport();
    pn_transport_set_server(t);
    pn_sasl_allowed_mechs(pn_sasl(t), "ANONYMOUS");
    pn_transport_require_auth(t, false);
    sb_peer_tls_apply(p, t);
    pn_connection_set_context(c, calloc(1, sizeof(conn_state_t)));
    pn_connection_set_container(c, "aos-sb-peer");
    pn_listener_accept2(p->listener, c, t);
}

static void on_listener_open(sb_peer_t *p, pn_listener_t *l)
{
    char host[64], port[16];
    pn_netaddr_host_port(pn_listener_addr(l), host, sizeof host, port, sizeof port);
    pthread_mutex_lock(&p->mu);
    p->port = atoi(port);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* false when the thread should exit */
static bool handle(sb_peer_t *p, pn_event_t *e)
{
    pn_connection_t *c = pn_event_connection(e);
    conn_state_t *cs = c ? pn_connection_get_context(c) : NULL;
    switch (pn_event_type(e)) {
    case PN_LISTENER_OPEN:
        on_listener_open(p, pn_event_listener(e));
        break;
    case PN_LISTENER_ACCEPT:
        on_accept(p);
        break;
    case PN_LISTENER_CLOSE:
        pthread_mutex_lock(&p->mu);
        if (p->port == 0)
            p->port = -1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        break;
    case PN_CONNECTION_REMOTE_OPEN:
        pn_connection_open(c);
        sb_sessions_conn_open(p->sessions, c);
        sb_store_conn_open(p->store, c);
        break;
    case PN_CONNECTION_WAKE:
        sb_sessions_pump(p->sessions, c);
        sb_store_pump(p->store, c);
        break;
    case PN_CONNECTION_REMOTE_CLOSE:
        pn_connection_close(c);
        break;
    case PN_SESSION_REMOTE_OPEN:
        pn_session_open(pn_event_session(e));
        break;
    case PN_SESSION_REMOTE_CLOSE:
        pn_session_close(pn_event_session(e));
        break;
    case PN_LINK_REMOTE_OPEN:
        if (cs)
            on_link_open(p, c, cs, pn_event_link(e));
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        sb_sessions_link_gone(p->sessions, pn_event_link(e));
        sb_store_link_gone(p->store, pn_event_link(e));
        pn_link_close(pn_event_link(e));
        break;
    case PN_LINK_FLOW:
        if (cs)
            flush_answers(c, cs);
        sb_sessions_pump(p->sessions, c);
        sb_store_pump(p->store, c);
        if (pn_link_is_sender(pn_event_link(e)) && pn_link_get_drain(pn_event_link(e)))
            pn_link_drained(pn_event_link(e)); /* Microsoft's SDKs drain after each receive */
        break;
    case PN_DELIVERY:
        if (cs)
            on_delivery(p, c, cs, pn_event_delivery(e));
        break;
    case PN_TRANSPORT_CLOSED:
        if (c) {
            sb_sessions_conn_gone(p->sessions, c);
            sb_store_conn_gone(p->store, c);
            free_conn_state(cs);
            pn_connection_set_context(c, NULL);
        }
        break;
    case PN_PROACTOR_TIMEOUT:
        /* lock expiry: every connection checks its holders in its own batch */
        sb_sessions_tick(p->sessions);
        if (!p->stopping)
            pn_proactor_set_timeout(p->proactor, LOCK_TICK_MS);
        break;
    case PN_PROACTOR_INTERRUPT:
        p->stopping = true; /* only this thread reads it */
        pn_proactor_cancel_timeout(p->proactor);
        pn_listener_close(p->listener);
        pn_proactor_disconnect(p->proactor, NULL);
        break;
    case PN_PROACTOR_INACTIVE:
        return false;
    default:
        break;
    }
    return true;
}

static void *run(void *arg)
{
    sb_peer_t *p = arg;
    for (bool go = true; go;) {
        pn_event_batch_t *b = pn_proactor_wait(p->proactor);
        pn_event_t *e;
        while ((e = pn_event_batch_next(b)))
            go = handle(p, e) && go;
        pn_proactor_done(p->proactor, b);
    }
    return NULL;
}

sb_peer_t *sb_peer_start(const char *ns_host, const char *key_name, const char *key)
{
    sb_peer_t *p = calloc(1, sizeof *p);
    snprintf(p->ns_host, sizeof p->ns_host, "%s", ns_host);
    snprintf(p->key_name, sizeof p->key_name, "%s", key_name);
    snprintf(p->key, sizeof p->key, "%s", key);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->sessions = sb_sessions_new(p);
    p->entities = sb_entities_new();
    p->dedup = sb_dedup_new();
    p->store = sb_store_new(p);
    p->max_message_size = 256 * 1024; /* Standard tier */
    p->proactor = pn_proactor();
    p->listener = pn_listener();
    pn_proactor_listen(p->proactor, p->listener, "127.0.0.1:0", 16);
    pn_proactor_set_timeout(p->proactor, LOCK_TICK_MS);
    pthread_create(&p->thread, NULL, run, p);
    pthread_mutex_lock(&p->mu);
    while (p->port == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    int port = p->port;
    pthread_mutex_unlock(&p->mu);
    if (port < 0) {
        fprintf(stderr, "sb_peer: cannot listen on 127.0.0.1\n");
        sb_peer_stop(p);
        return NULL;
    }
    return p;
}

int sb_peer_port(const sb_peer_t *p)
{
    return p->port;
}

sb_store_t *sb_peer_store(sb_peer_t *p)
{
    return p->store;
}
sb_sessions_t *sb_peer_sessions(sb_peer_t *p)
{
    return p->sessions;
}
void **sb_peer_tls_slot(sb_peer_t *p)
{
    return &p->tls;
}

void sb_peer_set_session_queues(sb_peer_t *p, const char *prefixes)
{
    sb_sessions_set_queues(p->sessions, prefixes);
}

void sb_peer_set_entities(sb_peer_t *p, const char *names)
{
    sb_entities_set(p->entities, names);
}

void sb_peer_set_max_message_size(sb_peer_t *p, uint64_t bytes)
{
    pthread_mutex_lock(&p->mu);
    p->max_message_size = bytes;
    pthread_mutex_unlock(&p->mu);
}

static uint64_t max_size(sb_peer_t *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t n = p->max_message_size;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void sb_peer_set_lock_duration(sb_peer_t *p, uint64_t ms)
{
    sb_sessions_set_lock_duration(p->sessions, ms);
}

void sb_peer_set_duplicate_detection(sb_peer_t *p, uint64_t window_ms)
{
    sb_dedup_set_window(p->dedup, window_ms);
}

int sb_peer_attach_refusals(sb_peer_t *p, const char *address)
{
    return sb_entities_refusals(p->entities, address);
}

void sb_peer_get_stats(sb_peer_t *p, sb_peer_stats_t *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    pthread_mutex_unlock(&p->mu);
}

void sb_peer_log(sb_peer_t *p, char *out, size_t outlen)
{
    pthread_mutex_lock(&p->mu);
    snprintf(out, outlen, "%s", p->log);
    pthread_mutex_unlock(&p->mu);
}

int sb_peer_transfers_to(sb_peer_t *p, const char *address)
{
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < MAX_COUNTS; i++)
        if (strcmp(p->counts[i].address, address) == 0)
            n = p->counts[i].n;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void sb_peer_stop(sb_peer_t *p)
{
    if (!p)
        return;
    pn_proactor_interrupt(p->proactor);
    pthread_join(p->thread, NULL);
    pn_proactor_free(p->proactor);
    sb_sessions_free(p->sessions);
    sb_entities_free(p->entities);
    sb_dedup_free(p->dedup);
    sb_store_free(p->store);
    sb_peer_tls_free(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
