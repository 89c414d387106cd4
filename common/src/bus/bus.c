/* The bus: lifecycle, the I/O thread, connection and reconnect, timers, command queue. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <proton/condition.h>
#include <proton/event.h>
#include <proton/sasl.h>
#include <proton/ssl.h>
#include <proton/transport.h>
#include <openssl/crypto.h>

#include "aos/log.h"
#include "aos/resilience.h"
#include "bus_internal.h"

#define DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define CLOSE_GRACE_MS 2000
#define IDLE_TIMEOUT_MS 30000

uint64_t bus_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t bus_random(void)
{
    /* the kernel's CSPRNG, not OpenSSL's: a bus without TLS leaves OpenSSL uninitialized
     * (docs/bus.md "Cost per message") */
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint64_t)random() << 32 ^ (uint64_t)random() ^ bus_now_ms();
    return r;
}

bool bus_on_io_thread(const aos_bus_t *bus)
{
    return bus->started && pthread_equal(pthread_self(), bus->thread);
}

bool bus_connection_usable(const aos_bus_t *bus)
{
    return bus->conn && bus->conn_inited &&
           (bus->profile != AOS_BUS_PROFILE_SERVICEBUS || bus->links_attached);
}

bus_cmd_t *bus_cmd_new(bus_cmd_kind kind)
{
    /* malloc, not calloc: glibc's calloc bypasses the per-thread cache (every message makes
     * a command) */
    bus_cmd_t *c = malloc(sizeof *c);
    if (c)
        *c = (bus_cmd_t){.kind = kind};
    return c;
}

aos_result bus_cmd_push(aos_bus_t *bus, bus_cmd_t *cmd)
{
    pthread_mutex_lock(&bus->mu);
    if ((bus->stop_requested && cmd->kind != BUS_CMD_SETTLE) || bus->thread_done) {
        pthread_mutex_unlock(&bus->mu);
        return AOS_ERR_CLOSED;
    }
    bool was_empty = bus->cmd_head == NULL;
    if (bus->cmd_tail)
        bus->cmd_tail->next = cmd;
    else
        bus->cmd_head = cmd;
    bus->cmd_tail = cmd;
    /* The I/O thread drains the queue after every batch; others must wake it. */
    if (was_empty && bus->started && !bus_on_io_thread(bus)) {
        if (bus->live_conn)
            pn_connection_wake(bus->live_conn);
        else
            pn_proactor_interrupt(bus->proactor);
    }
    pthread_mutex_unlock(&bus->mu);
    return AOS_OK;
}

/* ------------------------------------------------------------------ construction ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static aos_result default_instance_id(char *out, size_t outlen)
{
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    for (char *c = host; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.'))
            *c = '-';
    snprintf(out, outlen, "%.40s-%ld-%08x", host, (long)getpid(), (unsigned)bus_random());
    return AOS_OK;
}

static aos_result resolve_endpoint(aos_bus_t *bus, const aos_bus_config_t *cfg, char *errbuf,
                                   size_t errlen)
{
    aos_sb_connstr_t *cs = NULL;
    if (cfg->connection_string) {
        AOS_RETURN_IF_FAILED(aos_sb_connstr_parse(cfg->connection_string, &cs, errbuf, errlen));
    }
    /* An explicit URL wins (a test peer, an emulator, a proxy); else the connection string's
     * Endpoint: a connection string alone must reach its namespace (docs/servicebus.md);
     * else the local RabbitMQ. */
    aos_result r = AOS_OK;
    if (cfg->url && *cfg->url) {
        r = aos_bus_url_parse(cfg->url, &bus->url, errbuf, errlen);
    } else if (cs) {
        memset(&bus->url, 0, sizeof bus->url);
        snprintf(bus->url.host, sizeof bus->url.host, "%s", cs->host);
        bus->url.port = cs->port;
        bus->url.tls = cs->use_tls;
    } else {
        r = aos_bus_url_parse(AOS_BUS_URL_DEFAULT, &bus->url, errbuf, errlen);
    }
    if (r == AOS_OK && aos_bus_profile_resolve(cfg->profile, getenv("AOS_BUS_PROFILE"),
                                               bus->url.host, cs != NULL, &bus->profile) != AOS_OK)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                     "bus: AOS_BUS_PROFILE must be rabbitmq or servicebus");
    if (r == AOS_OK && bus->profile == AOS_BUS_PROFILE_SERVICEBUS) {
        if (!cs)
            r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                         "bus: the servicebus profile needs a connection string");
        else
            r = aos_cbs_new_from_connstr(cs, 0, &bus->cbs, errbuf, errlen);
    }
    aos_sb_connstr_free(cs);
    return r;
}

void aos_bus_config_from_common(const aos_config_common_t *c, const char *instance_id,
                                aos_bus_config_t *out)
{
    *out = (aos_bus_config_t){.url = c->bus_url,
                              .profile = aos_bus_profile_of(c->bus_profile),
                              .connection_string = c->servicebus_connection_string,
                              .instance_id = instance_id ? instance_id : c->instance_id};
}

aos_result aos_bus_new(const aos_bus_config_t *cfg, aos_bus_t **out_bus, char *errbuf,
                       size_t errlen)
{
    if (!cfg || !out_bus)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bus: no config");
    *out_bus = NULL;
    aos_bus_t *bus = calloc(1, sizeof *bus);
    if (!bus)
        return AOS_ERR_NOMEM;
    pthread_mutex_init(&bus->mu, NULL);
    pthread_cond_init(&bus->cv, NULL);
    aos_result r = resolve_endpoint(bus, cfg, errbuf, errlen);
    char inst[128];
    if (r == AOS_OK) {
        if (cfg->instance_id)
            snprintf(inst, sizeof inst, "%s", cfg->instance_id);
        else
            default_instance_id(inst, sizeof inst);
        if (aos_bus_map_reply(bus->profile, inst, bus->reply_address, sizeof bus->reply_address) !=
            AOS_OK)
            r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                         "bus: instance id must be 1-200 characters of [A-Za-z0-9._-]");
    }
    if (r == AOS_OK) {
        bus->instance_id = strdup(inst);
        /* AOS_BUS_CA_FILE: a private CA (a test peer, a TLS-intercepting proxy) */
        const char *ca = cfg->tls_ca_file ? cfg->tls_ca_file : getenv("AOS_BUS_CA_FILE");
        bus->tls_ca_file = dup_or_null(ca && *ca ? ca : NULL);
        bus->tls_skip_verify = cfg->tls_skip_verify;
        bus->reconnect_min_ms = cfg->reconnect_min_ms ? cfg->reconnect_min_ms : 100;
        bus->reconnect_max_ms = cfg->reconnect_max_ms ? cfg->reconnect_max_ms : 10000;
        bus->max_deliveries = cfg->max_deliveries ? cfg->max_deliveries : 5;
        const char *sp = cfg->session_queue_prefixes ? cfg->session_queue_prefixes
                                                     : getenv("AOS_BUS_SESSION_QUEUES");
        bus->session_prefixes = strdup(sp ? sp : "aos.agent.");
        bus->session_receivers = cfg->session_receivers; /* 0: per subscription */
        bus->session_idle_ms = cfg->session_idle_ms ? cfg->session_idle_ms : 5000;
        bus->lock_renew_ms = cfg->lock_renew_ms ? cfg->lock_renew_ms : 20000;
        bus->proactor = pn_proactor();
        if (!bus->instance_id || !bus->proactor || !bus->session_prefixes ||
            (ca && *ca && !bus->tls_ca_file))
            r = AOS_ERR_NOMEM;
    }
    if (r != AOS_OK) {
        aos_bus_free(bus);
        return r;
    }
    /* The reply queue is an ordinary subscription of the bus itself. */
    bus_sub_t *reply = calloc(1, sizeof *reply);
    if (!reply || !(reply->address = strdup(bus->reply_address))) {
        free(reply);
        aos_bus_free(bus);
        return AOS_ERR_NOMEM;
    }
    reply->is_reply = true;
    reply->max_inflight = BUS_REPLY_CREDIT;
    /* servicebus: the shared session-enabled aos.reply, this instance's session of it */
    if (bus->profile == AOS_BUS_PROFILE_SERVICEBUS) {
        reply->session_mode = true;
        reply->session_filter = strdup(bus->instance_id);
        if (!reply->session_filter) {
            free(reply->address);
            free(reply);
            aos_bus_free(bus);
            return AOS_ERR_NOMEM;
        }
    }
    bus->subs = reply;
    *out_bus = bus;
    return AOS_OK;
}

/* ------------------------------------------------------------------- connection ---- */

static void set_live_conn(aos_bus_t *bus, pn_connection_t *c)
{
    pthread_mutex_lock(&bus->mu);
    bus->live_conn = c;
    pthread_mutex_unlock(&bus->mu);
}

static void set_ready(aos_bus_t *bus, bool ready)
{
    pthread_mutex_lock(&bus->mu);
    if (ready && !atomic_load(&bus->ready))
        atomic_store(&bus->ready_since_ms, (int64_t)aos_clock_realtime_ms());
    atomic_store(&bus->ready, ready);
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
}

static aos_result configure_transport(aos_bus_t *bus, pn_transport_t *t)
{
    /* a broker that vanishes without closing the socket is noticed within this time */
    pn_transport_set_idle_timeout(t, IDLE_TIMEOUT_MS);
    pn_sasl_t *sasl = pn_sasl(t);
    if (bus->url.has_user && bus->profile != AOS_BUS_PROFILE_SERVICEBUS) {
        pn_sasl_allowed_mechs(sasl, "PLAIN");
        /* PLAIN over plain TCP is what a local RabbitMQ speaks; production uses amqps. */
        pn_sasl_set_allow_insecure_mechs(sasl, true);
    } else {
        pn_sasl_allowed_mechs(sasl, "ANONYMOUS");
    }
    if (!bus->url.tls)
        return AOS_OK;
    pn_ssl_domain_t *dom = pn_ssl_domain(PN_SSL_MODE_CLIENT);
    if (!dom)
        return AOS_ERR_UNSUPPORTED;
    int rc = 0;
    if (bus->tls_skip_verify) {
        rc = pn_ssl_domain_set_peer_authentication(dom, PN_SSL_ANONYMOUS_PEER, NULL);
    } else {
        const char *ca = bus->tls_ca_file ? bus->tls_ca_file : DEFAULT_CA_FILE;
        rc = pn_ssl_domain_set_trusted_ca_db(dom, ca);
        if (rc == 0)
            rc = pn_ssl_domain_set_peer_authentication(dom, PN_SSL_VERIFY_PEER_NAME, ca);
    }
    pn_ssl_t *ssl = pn_ssl(t);
    if (rc == 0 && ssl)
        rc = pn_ssl_init(ssl, dom, NULL);
    if (rc == 0)
        rc = pn_ssl_set_peer_hostname(ssl, bus->url.host);
    pn_ssl_domain_free(dom);
    return rc == 0 ? AOS_OK : AOS_ERR_IO;
}

static void schedule_reconnect(aos_bus_t *bus)
{
    uint32_t delay = aos_bus_backoff_ms(bus->reconnect_min_ms, bus->reconnect_max_ms, bus->attempt,
                                        bus_random());
    if (bus->attempt < 32)
        bus->attempt++;
    bus->reconnect_at_ms = bus_now_ms() + delay;
    char d[16];
    snprintf(d, sizeof d, "%u", delay);
    aos_log(AOS_LOG_INFO, "bus reconnect scheduled", "delay_ms", d, NULL);
}

static void connect_now(aos_bus_t *bus)
{
    bus->reconnect_at_ms = 0;
    pn_connection_t *c = pn_connection();
    pn_transport_t *t = pn_transport();
    if (!c || !t || configure_transport(bus, t) != AOS_OK) {
        aos_log(AOS_LOG_ERROR, "bus cannot set up the transport (TLS?)", "host", bus->url.host,
                NULL);
        if (c)
            pn_connection_free(c);
        if (t)
            pn_transport_free(t);
        schedule_reconnect(bus);
        return;
    }
    pn_connection_set_container(c, bus->instance_id);
    pn_connection_set_hostname(c, bus->url.host);
    if (bus->url.has_user && bus->profile != AOS_BUS_PROFILE_SERVICEBUS) {
        pn_connection_set_user(c, bus->url.user);
        pn_connection_set_password(c, bus->url.password);
    }
    char addr[PN_MAX_ADDR];
    char port[8];
    snprintf(port, sizeof port, "%u", bus->url.port);
    pn_proactor_addr(addr, sizeof addr, bus->url.host, port);
    bus->conn = c;
    bus->conn_inited = false;
    bus->opened = false;
    bus->links_attached = false;
    pn_proactor_connect2(bus->proactor, c, t, addr);
}

static void on_connection_init(aos_bus_t *bus, pn_connection_t *c)
{
    pn_connection_open(c);
    bus->conn_inited = true;
    set_live_conn(bus, c);
    if (bus->cbs)
        aos_cbs_start(bus->cbs, c);
    bus->pump_wanted = true;
}

static void on_connection_lost(aos_bus_t *bus, pn_transport_t *t)
{
    pn_condition_t *cond = pn_transport_condition(t);
    if (!bus->closing)
        aos_log(AOS_LOG_WARN, "bus connection lost", "host", bus->url.host, "condition",
                pn_condition_is_set(cond) ? pn_condition_get_name(cond) : "", "description",
                pn_condition_is_set(cond) ? pn_condition_get_description(cond) : "", NULL);
    set_live_conn(bus, NULL);
    set_ready(bus, false);
    bus->conn = NULL;
    bus->conn_inited = false;
    bus->epoch++;
    bus_senders_disconnected(bus);
    bus_subs_disconnected(bus);
    bus_probes_disconnected(bus);
    if (bus->stopping)
        bus->finished = true;
    else
        schedule_reconnect(bus);
}

static void on_authorized(aos_bus_t *bus)
{
    bus->links_attached = true;
    bus->attempt = 0;
    set_ready(bus, true);
    aos_log(AOS_LOG_INFO, "bus connected", "host", bus->url.host, "instance", bus->instance_id,
            NULL);
}

static void check_cbs(aos_bus_t *bus)
{
    aos_cbs_state st = aos_cbs_get_state(bus->cbs);
    if (st == AOS_CBS_AUTHORIZED && !bus->links_attached && bus->conn) {
        on_authorized(bus);
        bus->pump_wanted = true;
    } else if (st == AOS_CBS_FAILED && bus->conn && !bus->closing &&
               (pn_connection_state(bus->conn) & PN_LOCAL_ACTIVE)) {
        aos_log(AOS_LOG_ERROR, "bus CBS authorization failed", "detail", aos_cbs_error(bus->cbs),
                NULL);
        pn_connection_close(bus->conn);
    }
}

static void on_link_closed(aos_bus_t *bus, pn_link_t *l)
{
    pn_condition_t *cond = pn_link_remote_condition(l);
    if (pn_condition_is_set(cond))
        aos_log(
            AOS_LOG_WARN, "bus link closed by the broker", "address",
            pn_terminus_get_address(pn_link_is_sender(l) ? pn_link_target(l) : pn_link_source(l)),
            "condition", pn_condition_get_name(cond), "description",
            pn_condition_get_description(cond), NULL);
    if (bus_probe_on_link_closed(bus, l))
        ; /* answered */
    else if (pn_link_is_sender(l))
        bus_sender_on_link_closed(bus, l);
    else
        bus_recv_on_link_closed(bus, l);
    pn_link_close(l);
}

static void on_session_closed(aos_bus_t *bus, pn_session_t *s)
{
    pn_condition_t *cond = pn_session_remote_condition(s);
    if (bus_probe_on_session_closed(bus, s)) { /* a probe's refusal is its answer */
        pn_session_close(s);
        return;
    }
    if (!(pn_session_state(s) & PN_LOCAL_CLOSED)) /* not the answer to our own end */
        aos_log(AOS_LOG_WARN, "bus session ended by the broker", "condition",
                pn_condition_is_set(cond) ? pn_condition_get_name(cond) : "", "description",
                pn_condition_is_set(cond) ? pn_condition_get_description(cond) : "", NULL);
    if (!bus_sender_on_session_closed(bus, s))
        bus_recv_on_session_closed(bus, s);
    pn_session_close(s);
    bus->pump_wanted = true;
}

static void handle_event(aos_bus_t *bus, pn_event_t *e)
{
    if (bus->cbs && aos_cbs_handle(bus->cbs, e)) {
        check_cbs(bus);
        return;
    }
    if (bus_lock_handle(bus, e))
        return;
    switch (pn_event_type(e)) {
    case PN_CONNECTION_INIT:
        on_connection_init(bus, pn_event_connection(e));
        break;
    case PN_CONNECTION_REMOTE_OPEN:
        bus->opened = true;
        if (!bus->cbs)
            on_authorized(bus);
        break;
    case PN_CONNECTION_REMOTE_CLOSE: {
        pn_condition_t *cond = pn_connection_remote_condition(pn_event_connection(e));
        if (pn_condition_is_set(cond))
            aos_log(AOS_LOG_WARN, "bus connection closed by the broker", "condition",
                    pn_condition_get_name(cond), "description", pn_condition_get_description(cond),
                    NULL);
        pn_connection_close(pn_event_connection(e));
        break;
    }
    case PN_TRANSPORT_CLOSED:
        on_connection_lost(bus, pn_event_transport(e));
        break;
    case PN_LINK_REMOTE_OPEN:
        if (!pn_link_is_sender(pn_event_link(e)) &&
            !bus_probe_on_link_opened(bus, pn_event_link(e)))
            bus_recv_on_link_opened(bus, pn_event_link(e));
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        on_link_closed(bus, pn_event_link(e));
        break;
    case PN_SESSION_REMOTE_CLOSE:
        on_session_closed(bus, pn_event_session(e));
        break;
    case PN_LINK_FLOW:
        if (pn_link_is_sender(pn_event_link(e)))
            bus_sender_on_flow(bus, pn_event_link(e));
        break;
    case PN_DELIVERY: {
        pn_delivery_t *d = pn_event_delivery(e);
        if (pn_link_is_sender(pn_delivery_link(d)))
            bus_sender_on_delivery(bus, d);
        else
            bus_recv_on_delivery(bus, d);
        break;
    }
    case PN_PROACTOR_INACTIVE:
        if (bus->stopping)
            bus->finished = true;
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ the I/O loop ---- */

static void start_stop(aos_bus_t *bus, int grace_ms)
{
    if (bus->stopping)
        return;
    bus->stopping = true;
    bus->stop_deadline_ms = bus_now_ms() + (uint64_t)(grace_ms > 0 ? grace_ms : 0);
    bus->pump_wanted = true;
}

static void drain_commands(aos_bus_t *bus)
{
    pthread_mutex_lock(&bus->mu);
    bus_cmd_t *c = bus->cmd_head;
    bus->cmd_head = bus->cmd_tail = NULL;
    pthread_mutex_unlock(&bus->mu);
    while (c) {
        bus_cmd_t *next = c->next;
        switch (c->kind) {
        case BUS_CMD_SEND:
            bus_outbox_add(bus, c->send);
            break;
        case BUS_CMD_SUBSCRIBE:
            c->sub->next = bus->subs;
            bus->subs = c->sub;
            break;
        case BUS_CMD_SETTLE:
            c->delivery->next_settle = NULL;
            if (bus->settle_tail)
                bus->settle_tail->next_settle = c->delivery;
            else
                bus->settle_head = c->delivery;
            bus->settle_tail = c->delivery;
            break;
        case BUS_CMD_REQUEST:
            bus_requests_add(bus, c->request);
            bus_outbox_add(bus, c->send);
            break;
        case BUS_CMD_STOP:
            start_stop(bus, c->grace_ms);
            break;
        case BUS_CMD_PROBE:
            bus_probes_add(bus, c->probe);
            break;
        case BUS_CMD_CREDIT:
            bus_subs_set_credit(bus, c->address, c->limit);
            free(c->address);
            break;
        }
        bus->pump_wanted = true;
        free(c);
        c = next;
    }
}

static void close_connection(aos_bus_t *bus)
{
    bus->closing = true;
    bus_subs_release_all(bus);
    bus_senders_fail_all(bus, AOS_ERR_CLOSED, "bus stopped");
    bus_requests_fail_all(bus, AOS_ERR_CLOSED);
    bus_probes_fail_all(bus, AOS_ERR_CLOSED, "bus stopped");
    if (bus->conn) {
        pn_connection_close(bus->conn);
        bus->stop_deadline_ms = bus_now_ms() + CLOSE_GRACE_MS;
    } else {
        bus->finished = true;
    }
}

/* Work on the connection's Proton objects: only inside the connection's own batch. */
static void pump(aos_bus_t *bus)
{
    bus->pump_wanted = false;
    while (bus->settle_head) {
        aos_bus_delivery_t *d = bus->settle_head;
        bus->settle_head = d->next_settle;
        if (!bus->settle_head)
            bus->settle_tail = NULL;
        bus_recv_settle(bus, d);
    }
    if (bus->cbs && bus->links_attached && bus->conn) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        if (aos_cbs_refresh_due_ms(bus->cbs, now) == 0)
            aos_cbs_refresh(bus->cbs);
    }
    if (bus_connection_usable(bus)) {
        bus_senders_pump(bus);
        bus_subs_pump(bus);
    }
    bus_probes_pump(bus); /* also times probes out while disconnected */
    if (bus->stopping && !bus->closing &&
        ((bus_outbox_count(bus) == 0 && bus_subs_inflight(bus) == 0) ||
         bus_now_ms() >= bus->stop_deadline_ms))
        close_connection(bus);
}

static uint64_t next_deadline(aos_bus_t *bus)
{
    uint64_t next = UINT64_MAX;
    if (bus->reconnect_at_ms)
        next = bus->reconnect_at_ms;
    if (bus->request_count && bus->next_request_deadline_ms < next)
        next = bus->next_request_deadline_ms;
    if (bus->stopping && bus->stop_deadline_ms < next)
        next = bus->stop_deadline_ms;
    uint64_t retry = bus_subs_next_retry(bus);
    if (retry && retry < next)
        next = retry;
    retry = bus_senders_next_retry(bus);
    if (retry && retry < next)
        next = retry;
    retry = bus_probes_next_deadline(bus);
    if (retry && retry < next)
        next = retry;
    if (bus->cbs && bus->links_attached) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t due = aos_cbs_refresh_due_ms(bus->cbs, (uint64_t)ts.tv_sec * 1000u +
                                                           (uint64_t)ts.tv_nsec / 1000000u);
        if (due >= 0 && bus_now_ms() + (uint64_t)due < next)
            next = bus_now_ms() + (uint64_t)due;
    }
    return next;
}

static void on_timer(aos_bus_t *bus)
{
    uint64_t now = bus_now_ms();
    bus->timeout_set_for_ms = 0;
    bus_requests_sweep(bus, now);
    if (!bus->conn)
        bus_probes_pump(bus); /* deadlines while disconnected; no Proton objects involved */
    if (bus->reconnect_at_ms && now >= bus->reconnect_at_ms && !bus->stopping && !bus->conn)
        connect_now(bus);
    if (bus->stopping && bus->closing && now >= bus->stop_deadline_ms && !bus->finished) {
        pn_proactor_disconnect(bus->proactor, NULL);
        if (!bus->conn)
            bus->finished = true;
    }
    bus->pump_wanted = true;
}

static void after_batch(aos_bus_t *bus, pn_connection_t *batch_conn)
{
    drain_commands(bus);
    if (batch_conn && batch_conn == bus->conn)
        pump(bus);
    else if (bus->pump_wanted && bus->conn && bus->conn_inited)
        pn_connection_wake(bus->conn);
    else if (bus->pump_wanted && !bus->conn && bus->stopping && !bus->closing)
        close_connection(bus);
    uint64_t next = next_deadline(bus);
    if (next != UINT64_MAX && next != bus->timeout_set_for_ms) {
        uint64_t now = bus_now_ms();
        pn_proactor_set_timeout(bus->proactor, next > now ? next - now : 0);
        bus->timeout_set_for_ms = next;
    }
}

static void *io_main(void *arg)
{
    aos_bus_t *bus = arg;
    connect_now(bus);
    while (!bus->finished) {
        pn_event_batch_t *b = pn_proactor_wait(bus->proactor);
        /* A batch belongs to one connection, or to the proactor (timeout, interrupt). */
        pn_connection_t *batch_conn = NULL;
        pn_event_t *e;
        while ((e = pn_event_batch_next(b))) {
            if (!batch_conn)
                batch_conn = pn_event_connection(e);
            if (pn_event_type(e) == PN_PROACTOR_TIMEOUT)
                on_timer(bus);
            else
                handle_event(bus, e);
        }
        if (!bus->finished)
            after_batch(bus, batch_conn);
        pn_proactor_done(bus->proactor, b);
    }
    pthread_mutex_lock(&bus->mu);
    bus->thread_done = true;
    bus->live_conn = NULL;
    atomic_store(&bus->ready, false);
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
    drain_commands(bus);
    bus_senders_fail_all(bus, AOS_ERR_CLOSED, "bus stopped");
    bus_requests_fail_all(bus, AOS_ERR_CLOSED);
    bus_probes_fail_all(bus, AOS_ERR_CLOSED, "bus stopped");
    while (bus->settle_head) {
        aos_bus_delivery_t *d = bus->settle_head;
        bus->settle_head = d->next_settle;
        bus_delivery_free(d);
    }
    bus->settle_tail = NULL;
    return NULL;
}

/* ------------------------------------------------------------------- public API ---- */

aos_result aos_bus_start(aos_bus_t *bus)
{
    if (!bus)
        return AOS_ERR_INVALID;
    pthread_mutex_lock(&bus->mu);
    if (bus->started || bus->stop_requested) {
        pthread_mutex_unlock(&bus->mu);
        return bus->started ? AOS_OK : AOS_ERR_CLOSED;
    }
    int rc = pthread_create(&bus->thread, NULL, io_main, bus);
    if (rc == 0)
        bus->started = true;
    pthread_mutex_unlock(&bus->mu);
    return rc == 0 ? AOS_OK : AOS_ERR_INTERNAL;
}

aos_result aos_bus_wait_connected(aos_bus_t *bus, int timeout_ms)
{
    if (!bus)
        return AOS_ERR_INVALID;
    struct timespec until = aos_clock_deadline(CLOCK_REALTIME, timeout_ms);
    aos_result r = AOS_OK;
    pthread_mutex_lock(&bus->mu);
    while (!atomic_load(&bus->ready)) {
        if (!bus->started || bus->thread_done || bus->stop_requested) {
            r = AOS_ERR_CLOSED;
            break;
        }
        if (pthread_cond_timedwait(&bus->cv, &bus->mu, &until) == ETIMEDOUT) {
            r = atomic_load(&bus->ready) ? AOS_OK : AOS_ERR_TIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&bus->mu);
    return r;
}

bool aos_bus_is_connected(const aos_bus_t *bus)
{
    return bus && atomic_load(&bus->ready);
}

int64_t aos_bus_connected_since_ms(const aos_bus_t *bus)
{
    return bus && atomic_load(&bus->ready) ? atomic_load(&bus->ready_since_ms) : 0;
}

aos_result aos_bus_stop(aos_bus_t *bus, int grace_ms)
{
    if (!bus || bus_on_io_thread(bus))
        return AOS_ERR_INVALID; /* joining the I/O thread from itself would never return */
    pthread_mutex_lock(&bus->mu);
    bool started = bus->started, already = bus->stop_requested;
    pthread_mutex_unlock(&bus->mu);
    if (!already && started) {
        bus_cmd_t *c = bus_cmd_new(BUS_CMD_STOP);
        if (!c)
            return AOS_ERR_NOMEM;
        c->grace_ms = grace_ms;
        if (bus_cmd_push(bus, c) != AOS_OK)
            free(c);
    }
    pthread_mutex_lock(&bus->mu);
    bus->stop_requested = true;
    pthread_mutex_unlock(&bus->mu);
    if (started && !already) {
        pthread_join(bus->thread, NULL);
    } else if (started) {
        /* a concurrent stop joins; wait for the thread to finish */
        pthread_mutex_lock(&bus->mu);
        while (!bus->thread_done)
            pthread_cond_wait(&bus->cv, &bus->mu);
        pthread_mutex_unlock(&bus->mu);
    }
    return AOS_OK;
}

void aos_bus_free(aos_bus_t *bus)
{
    if (!bus)
        return;
    aos_bus_stop(bus, 1000);
    /* The I/O thread is gone (or never ran): take over what is still queued. */
    drain_commands(bus);
    while (bus->settle_head) {
        aos_bus_delivery_t *d = bus->settle_head;
        bus->settle_head = d->next_settle;
        bus_delivery_free(d);
    }
    bus->settle_tail = NULL;
    bus_senders_fail_all(bus, AOS_ERR_CLOSED, "bus stopped");
    bus_requests_fail_all(bus, AOS_ERR_CLOSED);
    bus_senders_free(bus);
    bus_subs_free(bus);
    if (bus->proactor)
        pn_proactor_free(bus->proactor);
    aos_cbs_free(bus->cbs);
    free(bus->instance_id);
    free(bus->tls_ca_file);
    free(bus->session_prefixes);
    pthread_cond_destroy(&bus->cv);
    pthread_mutex_destroy(&bus->mu);
    OPENSSL_cleanse(bus->url.password, sizeof bus->url.password);
    free(bus);
}

const char *aos_bus_reply_address(const aos_bus_t *bus)
{
    return bus ? bus->reply_address : NULL;
}

const char *aos_bus_instance_id(const aos_bus_t *bus)
{
    return bus ? bus->instance_id : NULL;
}

aos_result aos_bus_queue_address(const aos_bus_t *bus, const char *queue, char *out, size_t outlen)
{
    if (!bus)
        return AOS_ERR_INVALID;
    return aos_bus_map_queue(bus->profile, queue, out, outlen);
}
