/* Request/reply round trips through RabbitMQ: the AOS bus versus hand-written Proton.
 *
 *   bench_bus_rr URL [SECONDS_PER_RUN] [WINDOWS] [VARIANTS]
 *
 * WINDOWS is a comma-separated list (default 1,16,128); VARIANTS "both" (default), "bus" or
 * "raw" (one side alone, e.g. under perf record).
 *
 * For each window (1, 16, 128 outstanding requests) a requester keeps that many requests in
 * flight to the quorum queue aos.test.bench; a responder consumes them and answers on the
 * requester's reply queue. Both sides send unsettled and wait for the broker's accepted
 * outcome, and accept what they receive: the same delivery guarantees for both variants.
 *   bus: two aos_bus_t (responder and requester), aos_bus_request / aos_bus_reply.
 *   raw: two proactor threads (requester, responder) with one connection each, pn_message
 *        encode/decode, credit topped up in batches like the bus does, nothing else.
 * Prints round trips per second and p50/p99 latency per window, the ratio bus/raw, and the
 * process CPU time per round trip while measuring (both sides together) with its ratio
 * bus/raw: the figure to compare, which a loaded machine distorts less than latency.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/transport.h>

#include "aos/bus.h"
#include "aos/log.h"

#define QUEUE "aos.test.bench"
#define PAYLOAD "{\"op\":\"ping\",\"text\":\"a small request of about a hundred bytes of JSON\"}"
#define MAX_SAMPLES 2000000

typedef struct stats {
    double *lat_ms;
    size_t n;
    double seconds;
    size_t total;  /* round trips including warm-up and drain */
    double cpu_us; /* process CPU time (user + system) of the whole run */
} stats_t;

static double cpu_us_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(stats_t *s, double p)
{
    if (!s->n)
        return 0;
    size_t i = (size_t)(p * (double)(s->n - 1));
    return s->lat_ms[i];
}

/* ------------------------------------------------------------------------ bus ---- */

typedef struct bus_run {
    aos_bus_t *server, *client;
    pthread_mutex_t mu;
    int outstanding;
    bool measuring, stopping;
    uint64_t *sent_at; /* by request number */
    size_t next;
    stats_t *st;
} bus_run_t;

typedef struct bus_req_ctx {
    bus_run_t *run;
    uint64_t t0;
} bus_req_ctx_t;

static void bus_issue(bus_run_t *r);

static void bus_on_reply(void *ctx, aos_result res, const aos_event_t *reply)
{
    bus_req_ctx_t *c = ctx;
    bus_run_t *r = c->run;
    (void)reply;
    double ms = (double)(now_ns() - c->t0) / 1e6;
    free(c);
    pthread_mutex_lock(&r->mu);
    r->outstanding--;
    if (res == AOS_OK && r->measuring && r->st->n < MAX_SAMPLES)
        r->st->lat_ms[r->st->n++] = ms;
    bool more = !r->stopping;
    pthread_mutex_unlock(&r->mu);
    if (more)
        bus_issue(r);
}

static void bus_issue(bus_run_t *r)
{
    aos_event_t *ev = NULL;
    if (aos_event_create("aos.bench.ping", "/aos/bench", PAYLOAD, &ev) != AOS_OK)
        return;
    bus_req_ctx_t *c = malloc(sizeof *c);
    c->run = r;
    c->t0 = now_ns();
    pthread_mutex_lock(&r->mu);
    r->outstanding++;
    pthread_mutex_unlock(&r->mu);
    if (aos_bus_request(r->client, QUEUE, ev, 30000, bus_on_reply, c) != AOS_OK) {
        pthread_mutex_lock(&r->mu);
        r->outstanding--;
        pthread_mutex_unlock(&r->mu);
        free(c);
    }
    aos_event_free(ev);
}

static void bus_on_request(void *ctx, aos_bus_delivery_t *d, const aos_event_t *req)
{
    bus_run_t *r = ctx;
    aos_event_t *rep = NULL;
    if (aos_event_create("aos.bench.pong", "/aos/bench", "{\"ok\":true}", &rep) == AOS_OK) {
        aos_bus_reply(r->server, req, rep, NULL, NULL);
        aos_event_free(rep);
    }
    aos_bus_accept(d);
}

static aos_bus_t *bench_bus(const char *url, const char *name)
{
    char inst[64];
    snprintf(inst, sizeof inst, "bench-%s-%ld", name, (long)getpid());
    aos_bus_config_t cfg = {.url = url, .profile = AOS_BUS_PROFILE_RABBITMQ, .instance_id = inst};
    aos_bus_t *b = NULL;
    char err[256];
    if (aos_bus_new(&cfg, &b, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "bus: %s\n", err);
        exit(1);
    }
    if (aos_bus_start(b) != AOS_OK || aos_bus_wait_connected(b, 30000) != AOS_OK) {
        fprintf(stderr, "bus: cannot connect to %s\n", url);
        exit(1);
    }
    return b;
}

static void run_bus(const char *url, int window, double seconds, stats_t *st)
{
    bus_run_t r = {.mu = PTHREAD_MUTEX_INITIALIZER, .st = st};
    r.server = bench_bus(url, "srv");
    r.client = bench_bus(url, "cli");
    aos_bus_subscribe(r.server, QUEUE, 256, bus_on_request, &r);
    for (int i = 0; i < window; i++)
        bus_issue(&r);
    usleep(500000); /* warm-up */
    pthread_mutex_lock(&r.mu);
    r.measuring = true;
    pthread_mutex_unlock(&r.mu);
    uint64_t t0 = now_ns();
    double cpu0 = cpu_us_now();
    usleep((useconds_t)(seconds * 1e6));
    pthread_mutex_lock(&r.mu);
    r.measuring = false;
    r.stopping = true;
    pthread_mutex_unlock(&r.mu);
    st->seconds = (double)(now_ns() - t0) / 1e9;
    st->cpu_us = cpu_us_now() - cpu0;
    for (int i = 0; i < 300; i++) { /* let the last requests finish */
        pthread_mutex_lock(&r.mu);
        int left = r.outstanding;
        pthread_mutex_unlock(&r.mu);
        if (!left)
            break;
        usleep(10000);
    }
    aos_bus_free(r.client);
    aos_bus_free(r.server);
}

/* ------------------------------------------------------------------------ raw ---- */

/* One side (requester or responder): its own proactor, thread, connection and buffers, as the
 * bus has one I/O thread per aos_bus_t. */
typedef struct raw_side {
    pn_proactor_t *p;
    pn_connection_t *c;
    pn_link_t *snd, *rcv;
    int window; /* receiver credit window */
    pn_message_t *msg;
    char *buf;
    size_t buflen;
    uint64_t tag;
    int attached;
} raw_side_t;

typedef struct raw_run {
    char host[128], port[16], user[64], pass[64];
    char reply_addr[128];
    raw_side_t cli, srv;
    int window, outstanding;
    bool started, done;
    volatile int srv_stop;
    uint64_t next_id;
    uint64_t *sent_at; /* ring indexed by request id */
    size_t ring;
    stats_t *st;
    uint64_t measure_start_ns;
    int phase; /* 0 warm-up, 1 measuring, 2 draining */
} raw_run_t;

static void raw_send(raw_side_t *s)
{
    size_t n = s->buflen;
    while (pn_message_encode(s->msg, s->buf, &n) == PN_OVERFLOW) {
        s->buflen *= 2;
        s->buf = realloc(s->buf, s->buflen);
        n = s->buflen;
    }
    uint64_t tag = ++s->tag;
    pn_delivery(s->snd, pn_dtag((const char *)&tag, sizeof tag));
    pn_link_send(s->snd, s->buf, n);
    pn_link_advance(s->snd);
}

static void raw_issue(raw_run_t *r)
{
    pn_message_t *m = r->cli.msg;
    uint64_t id = ++r->next_id;
    pn_message_clear(m);
    pn_message_set_durable(m, true);
    pn_data_put_ulong(pn_message_id(m), id);
    pn_message_set_reply_to(m, r->reply_addr);
    pn_message_set_content_type(m, "application/json");
    pn_data_put_binary(pn_message_body(m), pn_bytes(strlen(PAYLOAD), PAYLOAD));
    r->sent_at[id % r->ring] = now_ns();
    raw_send(&r->cli);
    r->outstanding++;
}

static pn_link_t *raw_link(pn_session_t *s, bool sender, const char *name, const char *addr)
{
    pn_link_t *l = sender ? pn_sender(s, name) : pn_receiver(s, name);
    pn_terminus_set_address(sender ? pn_link_target(l) : pn_link_source(l), addr);
    pn_link_set_snd_settle_mode(l, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(l, PN_RCV_FIRST);
    pn_link_open(l);
    return l;
}

static void raw_on_init(raw_run_t *r, raw_side_t *s)
{
    pn_connection_open(s->c);
    pn_session_t *ssn = pn_session(s->c);
    pn_session_open(ssn);
    bool client = s == &r->cli;
    s->snd = raw_link(ssn, true, "snd", client ? "/amq/queue/" QUEUE : r->reply_addr);
    s->rcv = raw_link(ssn, false, "rcv", client ? r->reply_addr : "/amq/queue/" QUEUE);
    s->window = client ? 512 : 256;
    pn_link_flow(s->rcv, s->window);
}

/* Read a delivery into s->msg, accept it, keep the credit window up. False if undecodable. */
static bool raw_receive(raw_side_t *s, pn_delivery_t *d)
{
    pn_link_t *l = pn_delivery_link(d);
    size_t n = pn_delivery_pending(d);
    if (n > s->buflen) {
        s->buflen = n;
        s->buf = realloc(s->buf, n);
    }
    pn_link_recv(l, s->buf, n);
    pn_link_advance(l);
    pn_message_clear(s->msg);
    int rc = pn_message_decode(s->msg, s->buf, n);
    pn_delivery_update(d, PN_ACCEPTED);
    pn_delivery_settle(d);
    /* top the window up in batches, as the bus does */
    if (pn_link_credit(l) <= s->window * 3 / 4)
        pn_link_flow(l, s->window - pn_link_credit(l));
    return rc == 0;
}

static void raw_on_delivery(raw_run_t *r, raw_side_t *s, pn_delivery_t *d)
{
    if (pn_link_is_sender(pn_delivery_link(d))) {
        if (pn_delivery_remote_state(d) || pn_delivery_settled(d))
            pn_delivery_settle(d);
        return;
    }
    if (!pn_delivery_readable(d) || pn_delivery_partial(d) || !raw_receive(s, d))
        return;
    if (s == &r->srv) {
        pn_atom_t id = pn_message_get_id(s->msg);
        pn_message_clear(s->msg);
        pn_message_set_durable(s->msg, true);
        pn_message_set_correlation_id(s->msg, id);
        pn_message_set_content_type(s->msg, "application/json");
        pn_data_put_binary(pn_message_body(s->msg), pn_bytes(11, "{\"ok\":true}"));
        raw_send(s);
        return;
    }
    pn_atom_t corr = pn_message_get_correlation_id(s->msg);
    if (corr.type != PN_ULONG || corr.u.as_ulong > r->next_id)
        return; /* a stale reply from an earlier run */
    r->outstanding--;
    double ms = (double)(now_ns() - r->sent_at[corr.u.as_ulong % r->ring]) / 1e6;
    if (r->phase == 1 && r->st->n < MAX_SAMPLES)
        r->st->lat_ms[r->st->n++] = ms;
    if (r->phase < 2)
        raw_issue(r);
}

static void raw_on_timeout(raw_run_t *r, double seconds)
{
    if (r->phase == 0) {
        r->phase = 1;
        r->measure_start_ns = now_ns();
        r->st->cpu_us = -cpu_us_now();
        pn_proactor_set_timeout(r->cli.p, (pn_millis_t)(seconds * 1000));
    } else if (r->phase == 1) {
        r->phase = 2;
        r->st->seconds = (double)(now_ns() - r->measure_start_ns) / 1e9;
        r->st->cpu_us += cpu_us_now();
        pn_proactor_set_timeout(r->cli.p, 3000);
    } else {
        r->done = true;
    }
}

static void raw_connect(raw_run_t *r, raw_side_t *s)
{
    s->p = pn_proactor();
    s->c = pn_connection();
    s->msg = pn_message();
    s->buflen = 4096;
    s->buf = malloc(s->buflen);
    pn_transport_t *t = pn_transport();
    pn_sasl_t *sasl = pn_sasl(t);
    pn_sasl_allowed_mechs(sasl, "PLAIN");
    pn_sasl_set_allow_insecure_mechs(sasl, true);
    pn_connection_set_user(s->c, r->user);
    pn_connection_set_password(s->c, r->pass);
    pn_connection_set_hostname(s->c, r->host);
    char addr[PN_MAX_ADDR];
    pn_proactor_addr(addr, sizeof addr, r->host, r->port);
    pn_proactor_connect2(s->p, s->c, t, addr);
}

static void raw_side_free(raw_side_t *s)
{
    pn_proactor_free(s->p);
    pn_message_free(s->msg);
    free(s->buf);
}

/* Handle one event of side s; returns false on a fatal transport error. */
static bool raw_event(raw_run_t *r, raw_side_t *s, pn_event_t *e, double seconds)
{
    switch (pn_event_type(e)) {
    case PN_CONNECTION_INIT:
        raw_on_init(r, s);
        break;
    case PN_LINK_REMOTE_OPEN:
        s->attached++;
        break;
    case PN_DELIVERY:
        raw_on_delivery(r, s, pn_event_delivery(e));
        break;
    case PN_PROACTOR_TIMEOUT:
        raw_on_timeout(r, seconds);
        break;
    case PN_TRANSPORT_CLOSED: {
        pn_condition_t *cond = pn_transport_condition(pn_event_transport(e));
        if (pn_condition_is_set(cond)) {
            fprintf(stderr, "raw: %s %s\n", pn_condition_get_name(cond),
                    pn_condition_get_description(cond));
            return false;
        }
        break;
    }
    case PN_LINK_FLOW:
        if (s == &r->cli && !r->started && s->attached >= 2 && pn_link_credit(s->snd) > 0) {
            r->started = true;
            for (int i = 0; i < r->window; i++)
                raw_issue(r);
            pn_proactor_set_timeout(s->p, 500); /* warm-up */
        }
        break;
    default:
        break;
    }
    return true;
}

static void *raw_server_main(void *arg)
{
    raw_run_t *r = arg;
    while (!r->srv_stop) {
        pn_event_batch_t *b = pn_proactor_wait(r->srv.p);
        pn_event_t *e;
        while ((e = pn_event_batch_next(b)))
            if (!raw_event(r, &r->srv, e, 0))
                exit(1);
        pn_proactor_done(r->srv.p, b);
    }
    return NULL;
}

static void run_raw(const char *url, int window, double seconds, stats_t *st)
{
    raw_run_t r = {.window = window, .st = st, .ring = 65536};
    /* amqp://user:pass@host:port, as the bench script passes it */
    if (sscanf(url, "amqp://%63[^:]:%63[^@]@%127[^:]:%15s", r.user, r.pass, r.host, r.port) != 4) {
        fprintf(stderr, "raw: cannot parse %s\n", url);
        exit(1);
    }
    snprintf(r.reply_addr, sizeof r.reply_addr, "/queue/aos.reply.bench-raw-%ld", (long)getpid());
    r.sent_at = calloc(r.ring, sizeof *r.sent_at);
    raw_connect(&r, &r.srv);
    raw_connect(&r, &r.cli);
    pthread_t srv;
    pthread_create(&srv, NULL, raw_server_main, &r);
    while (!r.done) {
        pn_event_batch_t *b = pn_proactor_wait(r.cli.p);
        pn_event_t *e;
        while ((e = pn_event_batch_next(b)))
            if (!raw_event(&r, &r.cli, e, seconds))
                exit(1);
        pn_proactor_done(r.cli.p, b);
        if (r.phase == 2 && r.outstanding == 0)
            r.done = true;
    }
    r.srv_stop = 1;
    pn_proactor_interrupt(r.srv.p);
    pthread_join(srv, NULL);
    raw_side_free(&r.cli);
    raw_side_free(&r.srv);
    free(r.sent_at);
}

/* ----------------------------------------------------------------------- main ---- */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [SECONDS_PER_RUN]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    aos_log_init("bench-bus-rr", AOS_LOG_WARN);
    int windows[16] = {1, 16, 128};
    size_t nwin = 3;
    if (argc > 3) {
        nwin = 0;
        for (char *tok = strtok(argv[3], ","); tok && nwin < 16; tok = strtok(NULL, ","))
            if (atoi(tok) > 0)
                windows[nwin++] = atoi(tok);
    }
    const char *variants = argc > 4 ? argv[4] : "both";
    bool do_bus = strcmp(variants, "raw") != 0, do_raw = strcmp(variants, "bus") != 0;
    printf("request/reply through RabbitMQ (quorum queue, confirmed sends), %.1f s per run\n",
           seconds);
    printf("%7s | %10s %10s %6s | %8s %8s | %8s %8s | %10s %10s %9s\n", "window", "bus rt/s",
           "raw rt/s", "ratio", "bus p50", "raw p50", "bus p99", "raw p99", "bus cpu/rt",
           "raw cpu/rt", "cpu ratio");
    for (size_t w = 0; w < nwin; w++) {
        stats_t b = {.lat_ms = malloc(MAX_SAMPLES * sizeof(double))};
        stats_t r = {.lat_ms = malloc(MAX_SAMPLES * sizeof(double))};
        /* the bus first: requests the raw requester leaves behind would reach the bus's
         * responder as malformed envelopes (dead-lettered, logged: CPU that is not the bus's
         * own), while the raw responder answers a bus leftover harmlessly (its requester
         * ignores a correlation-id that is not one of its numbers) */
        if (do_bus)
            run_bus(url, windows[w], seconds, &b);
        if (do_raw)
            run_raw(url, windows[w], seconds, &r);
        qsort(b.lat_ms, b.n, sizeof(double), cmp_double);
        qsort(r.lat_ms, r.n, sizeof(double), cmp_double);
        double brps = b.seconds > 0 ? (double)b.n / b.seconds : 0;
        double rrps = r.seconds > 0 ? (double)r.n / r.seconds : 0;
        double bcpu = b.n ? b.cpu_us / (double)b.n : 0, rcpu = r.n ? r.cpu_us / (double)r.n : 0;
        printf("%7d | %10.0f %10.0f %6.2f | %6.2fms %6.2fms | %6.2fms %6.2fms | %8.1fus "
               "%8.1fus %9.2f\n",
               windows[w], brps, rrps, rrps > 0 ? brps / rrps : 0, percentile(&b, 0.5),
               percentile(&r, 0.5), percentile(&b, 0.99), percentile(&r, 0.99), bcpu, rcpu,
               rcpu > 0 ? bcpu / rcpu : 0);
        fflush(stdout);
        free(b.lat_ms);
        free(r.lat_ms);
    }
    return 0;
}
