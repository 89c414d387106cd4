/* Receiving: subscriptions with bounded credit, deliveries, settlement, dead-lettering. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/condition.h>
#include <proton/disposition.h>
#include <proton/terminus.h>

#include "aos/log.h"
#include "aos/metrics.h"
#include "aos/trace.h"
#include "bus_internal.h"

#define MAX_INFLIGHT_LIMIT 100000u

/* ------------------------------------------------------------------ deliveries ---- */

void bus_delivery_free(aos_bus_delivery_t *d)
{
    if (!d)
        return;
    aos_event_free(d->ev);
    bus_msg_info_clear(&d->info);
    free(d->raw);
    free(d->reason);
    free(d->description);
    free(d);
}

static bool delivery_void(const aos_bus_t *bus, const aos_bus_delivery_t *d)
{
    return !d->pn || d->epoch != bus->epoch;
}

/* Settle on the wire with outcome and forget the delivery. */
static void finish(aos_bus_t *bus, aos_bus_delivery_t *d, uint64_t outcome)
{
    if (!delivery_void(bus, d)) {
        pn_delivery_set_context(d->pn, NULL);
        pn_delivery_update(d->pn, outcome);
        pn_delivery_settle(d->pn);
        d->pn = NULL;
    }
    if (d->sub->inflight)
        d->sub->inflight--;
    d->sub->idle_since_ms = bus_now_ms();
    bus->pump_wanted = true;
    bus_delivery_free(d);
}

static void finish_rejected(aos_bus_t *bus, aos_bus_delivery_t *d)
{
    if (!delivery_void(bus, d)) {
        pn_condition_t *c = pn_disposition_condition(pn_delivery_local(d->pn));
        pn_condition_set_name(c, d->reason ? d->reason : "aos:rejected");
        if (d->description)
            pn_condition_set_description(c, d->description);
    }
    finish(bus, d, PN_REJECTED);
}

static void finish_modified_failed(aos_bus_t *bus, aos_bus_delivery_t *d)
{
    if (!delivery_void(bus, d))
        pn_disposition_set_failed(pn_delivery_local(d->pn), true);
    finish(bus, d, PN_MODIFIED);
}

/* The RabbitMQ copy (dead letter or counted redelivery) was confirmed, or failed. */
static void copy_done(aos_bus_t *bus, bus_send_t *s, aos_result r, const char *detail)
{
    aos_bus_delivery_t *d = s->done_arg;
    s->done_arg = NULL;
    if (r == AOS_OK || delivery_void(bus, d)) {
        finish(bus, d, PN_ACCEPTED);
        return;
    }
    aos_log(AOS_LOG_WARN, "bus could not publish the copy; settling by outcome", "address",
            s->address, "detail", detail ? detail : "", NULL);
    if (d->outcome == BUS_OUTCOME_REJECT)
        finish_rejected(bus, d);
    else
        finish(bus, d, PN_RELEASED);
}

/* RabbitMQ: publish a copy (to the DLQ with the reason, or back to the queue with the
 * delivery count + 1), accept the original once the copy is confirmed. */
static bool settle_by_copy(aos_bus_t *bus, aos_bus_delivery_t *d)
{
    const char *to =
        d->outcome == BUS_OUTCOME_REJECT ? d->sub->dead_letter_address : d->sub->address;
    char *bytes = NULL;
    size_t len = 0;
    const char *reason =
        d->outcome == BUS_OUTCOME_REJECT ? (d->reason ? d->reason : "aos:rejected") : NULL;
    uint32_t count = d->outcome == BUS_OUTCOME_RELEASE ? d->count + 1 : d->count;
    if (!to || !d->raw ||
        bus_msg_copy(d->raw, d->raw_len, d->sub->address, count, reason, d->description, &bytes,
                     &len) != AOS_OK)
        return false;
    bus_send_t *s = bus_send_new(to, bytes, len, NULL, NULL);
    if (!s) {
        free(bytes);
        return false;
    }
    s->done = copy_done;
    s->done_arg = d;
    bus_outbox_add(bus, s);
    return true;
}

void bus_recv_settle(aos_bus_t *bus, aos_bus_delivery_t *d)
{
    if (delivery_void(bus, d)) {
        finish(bus, d, 0);
        return;
    }
    bool rabbit = bus->profile == AOS_BUS_PROFILE_RABBITMQ && d->sub->dead_letter_address;
    switch (d->outcome) {
    case BUS_OUTCOME_ACCEPT:
        finish(bus, d, PN_ACCEPTED);
        break;
    case BUS_OUTCOME_RELEASE:
        if (rabbit && settle_by_copy(bus, d))
            break;
        if (bus->profile == AOS_BUS_PROFILE_SERVICEBUS)
            finish_modified_failed(bus, d);
        else
            finish(bus, d, PN_RELEASED);
        break;
    case BUS_OUTCOME_RELEASE_UNCOUNTED:
        /* RabbitMQ 3.10: `modified` is a protocol error and a plain `released` comes back
         * with first-acquirer=false (counted, and counted by the quorum queue's
         * delivery-limit), so the copy keeps the count it had; Service Bus: `modified` with
         * delivery-failed=false does not increment DeliveryCount (docs/bus.md) */
        if (rabbit && settle_by_copy(bus, d))
            break;
        if (bus->profile == AOS_BUS_PROFILE_SERVICEBUS)
            finish(bus, d, PN_MODIFIED);
        else
            finish(bus, d, PN_RELEASED);
        break;
    case BUS_OUTCOME_REJECT:
    default:
        if (rabbit && settle_by_copy(bus, d))
            break;
        finish_rejected(bus, d);
        break;
    }
}

/* Dead-letter on the I/O thread before the handler sees the message. */
static void dead_letter_now(aos_bus_t *bus, aos_bus_delivery_t *d, const char *reason,
                            const char *description)
{
    d->outcome = BUS_OUTCOME_REJECT;
    d->reason = strdup(reason);
    d->description = description ? strdup(description) : NULL;
    aos_log(AOS_LOG_WARN, "bus dead-letters a message", "address", d->sub->address, "reason",
            reason, "description", description ? description : "", NULL);
    bus_recv_settle(bus, d);
}

/* --------------------------------------------------------------- subscriptions ---- */

static void dispatch(aos_bus_t *bus, bus_sub_t *sub);

static void sub_attach(aos_bus_t *bus, bus_sub_t *sub)
{
    char name[64];
    snprintf(name, sizeof name, "aos-rcv-%llu", (unsigned long long)++bus->link_seq);
    sub->session = pn_session(bus->conn);
    pn_session_open(sub->session);
    sub->link = pn_receiver(sub->session, name);
    pn_link_set_context(sub->link, sub);
    pn_terminus_set_address(pn_link_source(sub->link), sub->address);
    pn_terminus_set_address(pn_link_target(sub->link), bus->instance_id);
    pn_link_set_snd_settle_mode(sub->link, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(sub->link, PN_RCV_FIRST);
    if (sub->session_mode)
        bus_session_set_filter(sub->link, sub->session_filter);
    pn_link_open(sub->link);
    sub->retry_at_ms = 0;
    sub->opened_at_ms = 0;
    sub->idle_since_ms = bus_now_ms();
}

void bus_subs_pump(aos_bus_t *bus)
{
    uint64_t now = bus_now_ms();
    for (bus_sub_t *sub = bus->subs; sub; sub = sub->next) {
        bus_session_idle_check(bus, sub, now);
        if (!sub->link && !bus->stopping && (!sub->retry_at_ms || now >= sub->retry_at_ms))
            sub_attach(bus, sub);
        dispatch(bus, sub);
        bus_lock_pump(bus, sub, now); /* also while paused: held work still runs */
        if (!sub->link || bus->stopping || atomic_load(&bus->paused))
            continue;
        /* Credit + held + backlog stays within max_inflight. Top up in batches (a quarter of
         * the window): fewer flow frames, and RabbitMQ 3.10 overshoots less. Proton's credit
         * goes negative when the broker overshoots; never flow from below zero to below. */
        uint32_t cap = sub->credit_limited && sub->credit_limit < sub->max_inflight
                           ? sub->credit_limit
                           : sub->max_inflight;
        int credit = pn_link_credit(sub->link);
        int want = (int)cap - (int)sub->inflight - (int)sub->backlog;
        int batch = (int)cap / 4 > 1 ? (int)cap / 4 : 1;
        if (want > 0 && want - credit >= batch)
            pn_link_flow(sub->link, want - credit);
    }
}

void bus_subs_set_credit(aos_bus_t *bus, const char *address, uint32_t limit)
{
    /* a queue received on several links (Service Bus sessions) shares the limit by the
     * links' shares of max_inflight */
    uint64_t total = 0;
    for (bus_sub_t *sub = bus->subs; sub; sub = sub->next)
        if (strcmp(sub->address, address) == 0)
            total += sub->max_inflight;
    for (bus_sub_t *sub = bus->subs; sub; sub = sub->next) {
        if (strcmp(sub->address, address) != 0)
            continue;
        sub->credit_limited = limit != UINT32_MAX && total > 0;
        if (sub->credit_limited)
            sub->credit_limit =
                (uint32_t)(((uint64_t)limit * sub->max_inflight + total - 1) / total);
    }
}

uint64_t bus_subs_next_retry(const aos_bus_t *bus)
{
    uint64_t next = 0;
    for (const bus_sub_t *sub = bus->subs; sub; sub = sub->next) {
        if (!sub->link && sub->retry_at_ms && (!next || sub->retry_at_ms < next))
            next = sub->retry_at_ms;
        if (sub->link && sub->renew_at_ms && (!next || sub->renew_at_ms < next))
            next = sub->renew_at_ms;
        /* a next-available session link with nothing in flight: when it turns idle */
        if (sub->link && sub->session_id && !sub->session_filter && !sub->inflight &&
            !sub->backlog) {
            uint64_t idle = sub->idle_since_ms + bus->session_idle_ms;
            if (!next || idle < next)
                next = idle;
        }
    }
    return next;
}

static void settle_raw(pn_delivery_t *d, uint64_t outcome)
{
    pn_delivery_update(d, outcome);
    pn_delivery_settle(d);
}

static void handle_reply(aos_bus_t *bus, pn_delivery_t *d, const char *buf, size_t n)
{
    aos_event_t *ev = NULL;
    bus_msg_info_t info;
    char err[256];
    aos_result r = bus_msg_decode(bus->profile, buf, n, &ev, &info, err, sizeof err);
    bus_msg_info_clear(&info);
    if (r == AOS_OK) {
        bus_requests_on_reply(bus, ev);
        aos_event_free(ev);
    } else {
        aos_log(AOS_LOG_WARN, "bus dropped an undecodable reply", "detail", err, NULL);
    }
    settle_raw(d, PN_ACCEPTED);
}

/* A message that is no envelope, on a subscription with nowhere to dead-letter it: the
 * handler gets it as an event of type aos.bus.undecodable with the raw bytes as data. */
static aos_result undecodable_event(aos_bus_delivery_t *dl)
{
    aos_event_t *ev = NULL;
    AOS_RETURN_IF_FAILED(aos_event_create("aos.bus.undecodable", "/aos/bus", NULL, &ev));
    aos_result r = aos_event_set(&ev->datacontenttype, "application/octet-stream");
    if (r == AOS_OK && dl->raw)
        r = aos_event_set_data(ev, dl->raw, dl->raw_len);
    if (r == AOS_OK)
        r = aos_event_set(&ev->subject, dl->description ? dl->description : "undecodable");
    if (r != AOS_OK) {
        aos_event_free(ev);
        return r;
    }
    ev->delivery_count = dl->count;
    dl->ev = ev;
    return AOS_OK;
}

/* Envelope checks before a handler sees a message (docs/bus.md "Envelope checks"): one that
 * expired on the way is dropped (accepted, counted), one whose data is not JSON is
 * dead-lettered with reason aos:unsupported-content-type. True when dl was settled. Not for
 * dead-letter queues themselves: whoever reads those sees everything. */
static bool envelope_refused(aos_bus_t *bus, aos_bus_delivery_t *dl)
{
    const char *address = dl->sub->address;
    if (dl->info.expired) {
        aos_metric_counter_inc(aos_metrics_counter(NULL, "aos_bus_messages_expired_total",
                                                   "Messages dropped because their "
                                                   "absolute-expiry-time or ttl had passed",
                                                   "address", address, NULL));
        aos_log(AOS_LOG_WARN, "bus drops an expired message", "address", address, "id", dl->ev->id,
                "type", dl->ev->type, NULL);
        dl->outcome = BUS_OUTCOME_ACCEPT;
        bus_recv_settle(bus, dl);
        return true;
    }
    if (!aos_bus_content_type_is_json(dl->ev->datacontenttype)) {
        aos_metric_counter_inc(aos_metrics_counter(
            NULL, "aos_bus_messages_refused_total",
            "Messages dead-lettered by the bus's envelope checks, by reason", "address", address,
            "reason", "aos:unsupported-content-type", NULL));
        char desc[200];
        snprintf(desc, sizeof desc, "content-type '%.120s' is not JSON", dl->ev->datacontenttype);
        dead_letter_now(bus, dl, "aos:unsupported-content-type", desc);
        return true;
    }
    return false;
}

/* Hand received deliveries to the handler while it holds fewer than max_inflight. */
static void dispatch(aos_bus_t *bus, bus_sub_t *sub)
{
    while (sub->backlog_head && sub->inflight < sub->max_inflight && !bus->stopping) {
        aos_bus_delivery_t *dl = sub->backlog_head;
        sub->backlog_head = dl->next_backlog;
        if (!sub->backlog_head)
            sub->backlog_tail = NULL;
        sub->backlog--;
        dl->next_backlog = NULL;
        if (delivery_void(bus, dl)) {
            bus_delivery_free(dl); /* its connection or link is gone; the broker redelivers */
            continue;
        }
        sub->inflight++;
        if (!dl->ev && !sub->can_dead_letter && undecodable_event(dl) == AOS_OK) {
            sub->cb(sub->ctx, dl, dl->ev);
            continue;
        }
        if (!dl->ev) {
            char *why = dl->description;
            dl->description = NULL;
            dead_letter_now(bus, dl, "aos:malformed-envelope", why);
            free(why);
            continue;
        }
        if (sub->can_dead_letter && envelope_refused(bus, dl))
            continue;
        /* a dead-letter queue's own messages are not counted again */
        if (dl->count >= bus->max_deliveries && !dl->info.dl_reason) {
            char desc[96];
            snprintf(desc, sizeof desc, "delivered %u times (max_deliveries %u)", dl->count,
                     bus->max_deliveries);
            dead_letter_now(bus, dl, "aos:max-deliveries-exceeded", desc);
            continue;
        }
        dl->ev->delivery_count = dl->count;
        aos_trace_set(dl->ev->traceparent); /* the callback works for that request */
        sub->cb(sub->ctx, dl, dl->ev);
        aos_trace_set(NULL);
    }
}

/* Drop the backlog (never handed out) when the link or connection goes away. */
static void backlog_clear(bus_sub_t *sub)
{
    while (sub->backlog_head) {
        aos_bus_delivery_t *dl = sub->backlog_head;
        sub->backlog_head = dl->next_backlog;
        bus_delivery_free(dl);
    }
    sub->backlog_tail = NULL;
    sub->backlog = 0;
}

void bus_recv_on_delivery(aos_bus_t *bus, pn_delivery_t *d)
{
    if (pn_delivery_get_context(d) || !pn_delivery_readable(d) || pn_delivery_partial(d))
        return;
    pn_link_t *link = pn_delivery_link(d);
    bus_sub_t *sub = pn_link_get_context(link);
    size_t n = pn_delivery_pending(d);
    char *buf = malloc(n ? n : 1);
    if (!buf) {
        settle_raw(d, PN_RELEASED);
        return;
    }
    ssize_t got = pn_link_recv(link, buf, n);
    pn_link_advance(link);
    if (!sub || sub->link != link || bus->stopping || got < 0) {
        free(buf);
        settle_raw(d, PN_RELEASED);
        return;
    }
    sub->idle_since_ms = bus_now_ms();
    sub->attach_failures = 0; /* the link works: the next refusal starts the backoff over */
    if (sub->is_reply) {
        handle_reply(bus, d, buf, (size_t)got);
        free(buf);
        return;
    }
    aos_bus_delivery_t *dl = malloc(sizeof *dl); /* not calloc: see bus_cmd_new */
    if (dl)
        *dl = (aos_bus_delivery_t){0};
    if (!dl) {
        free(buf);
        settle_raw(d, PN_RELEASED);
        return;
    }
    dl->bus = bus;
    dl->sub = sub;
    dl->pn = d;
    dl->epoch = bus->epoch;
    dl->raw = buf;
    dl->raw_len = (size_t)got;
    pn_delivery_set_context(d, dl);
    char err[256] = "";
    aos_result r =
        bus_msg_decode(bus->profile, buf, (size_t)got, &dl->ev, &dl->info, err, sizeof err);
    dl->count = dl->info.count;
    if (r != AOS_OK)
        dl->description = strdup(err); /* why it is malformed, for the dead letter */
    else if (bus->profile != AOS_BUS_PROFILE_RABBITMQ) {
        free(dl->raw); /* copies are a RabbitMQ thing */
        dl->raw = NULL;
    }
    if (sub->backlog_tail)
        sub->backlog_tail->next_backlog = dl;
    else
        sub->backlog_head = dl;
    sub->backlog_tail = dl;
    sub->backlog++;
    dispatch(bus, sub);
}

/* Void every delivery of link (the link or connection is going away). */
static void void_unsettled(pn_link_t *link, uint64_t outcome)
{
    pn_delivery_t *d = pn_unsettled_head(link);
    while (d) {
        pn_delivery_t *next = pn_unsettled_next(d);
        aos_bus_delivery_t *dl = pn_delivery_get_context(d);
        if (dl) {
            dl->pn = NULL;
            pn_delivery_set_context(d, NULL);
        }
        if (outcome)
            pn_delivery_update(d, outcome);
        pn_delivery_settle(d);
        d = next;
    }
}

/* The broker closed the subscription's link or ended its session (e.g. amqp:not-found for a
 * queue that does not exist): forget what it delivered, re-attach after a growing delay. */
static void sub_closed(aos_bus_t *bus, bus_sub_t *sub, pn_condition_t *cond)
{
    if (sub->link) {
        void_unsettled(sub->link, 0);
        pn_link_set_context(sub->link, NULL);
        pn_link_close(sub->link);
    }
    if (sub->session)
        pn_session_close(sub->session);
    bus_lock_forget(sub);
    sub->link = NULL;
    sub->session = NULL;
    free(sub->session_id);
    sub->session_id = NULL;
    backlog_clear(sub);
    uint64_t now = bus_now_ms();
    /* A link that carried a message or stayed up a while worked: start the backoff over.
     * An attach answered by a detach (how Service Bus refuses) did not, whatever the
     * condition, so the delay keeps growing (docs/bus.md "Refused attach"). */
    if (sub->opened_at_ms && now >= sub->opened_at_ms + BUS_LINK_STABLE_MS)
        sub->attach_failures = 0;
    sub->opened_at_ms = 0;
    const char *cname = cond && pn_condition_is_set(cond) ? pn_condition_get_name(cond) : "";
    if (sub->session_mode && strcmp(cname, "com.microsoft:timeout") == 0) {
        /* the broker held a next-available attach until its timeout: ask again at once */
        sub->retry_at_ms = now + bus->reconnect_min_ms;
        aos_log(AOS_LOG_DEBUG, "bus session link got no session", "address", sub->address,
                "condition", cname, NULL);
        return;
    }
    uint32_t failures = sub->attach_failures;
    uint32_t delay =
        aos_bus_backoff_ms(bus->reconnect_min_ms, bus->reconnect_max_ms, failures, bus_random());
    if (sub->attach_failures < 32)
        sub->attach_failures++;
    sub->retry_at_ms = now + delay;
    char d[16];
    snprintf(d, sizeof d, "%u", delay);
    /* a session held elsewhere is expected (debug); any other refusal is an error the first
     * time and at every doubling of the count, a warning in between */
    aos_log_level lvl = sub->session_mode && bus_session_benign_condition(cname) ? AOS_LOG_DEBUG
                        : (failures & (failures + 1)) == 0                       ? AOS_LOG_ERROR
                                                                                 : AOS_LOG_WARN;
    char nf[16];
    snprintf(nf, sizeof nf, "%u", failures + 1);
    aos_log(lvl, "bus subscription closed by the broker", "address", sub->address, "condition",
            cname, "description",
            cond && pn_condition_is_set(cond) ? pn_condition_get_description(cond) : "", "retry_ms",
            d, "refusals", nf, NULL);
}

void bus_recv_on_link_closed(aos_bus_t *bus, pn_link_t *link)
{
    bus_sub_t *sub = pn_link_get_context(link);
    if (sub && sub->link == link)
        sub_closed(bus, sub, pn_link_remote_condition(link));
}

bool bus_recv_on_session_closed(aos_bus_t *bus, pn_session_t *s)
{
    for (bus_sub_t *sub = bus->subs; sub; sub = sub->next) {
        if (sub->session == s) {
            sub_closed(bus, sub, pn_session_remote_condition(s));
            return true;
        }
    }
    return false;
}

void bus_recv_on_link_opened(aos_bus_t *bus, pn_link_t *link)
{
    (void)bus;
    bus_sub_t *sub = pn_link_get_context(link);
    if (!sub || sub->link != link)
        return;
    /* Not a success yet: Service Bus refuses with an attach followed by a detach. The
     * refusal count is reset by a delivery or by the link staying up (sub_closed). */
    sub->opened_at_ms = bus_now_ms();
    if (!sub->session_mode)
        return;
    /* the broker names the session it locked for this link in its source filter; a refusal
     * comes as an attach without source, followed by a detach with the reason */
    free(sub->session_id);
    sub->session_id = bus_session_from_source(pn_link_remote_source(link));
    sub->idle_since_ms = bus_now_ms();
    if (sub->session_id)
        aos_log(AOS_LOG_DEBUG, "bus session link holds a session", "address", sub->address,
                "session", sub->session_id, NULL);
}

void bus_subs_disconnected(aos_bus_t *bus)
{
    for (bus_sub_t *sub = bus->subs; sub; sub = sub->next) {
        bus_lock_forget(sub);
        sub->link = NULL;
        sub->session = NULL;
        free(sub->session_id);
        sub->session_id = NULL;
        sub->retry_at_ms = 0;
        backlog_clear(sub);
    }
}

void bus_subs_release_all(aos_bus_t *bus)
{
    for (bus_sub_t *sub = bus->subs; sub; sub = sub->next) {
        if (sub->link)
            void_unsettled(sub->link, PN_RELEASED);
        backlog_clear(sub);
    }
}

uint32_t bus_subs_inflight(const aos_bus_t *bus)
{
    uint32_t n = 0;
    for (const bus_sub_t *sub = bus->subs; sub; sub = sub->next)
        n += sub->inflight;
    return n;
}

void bus_subs_free(aos_bus_t *bus)
{
    while (bus->subs) {
        bus_sub_t *sub = bus->subs;
        bus->subs = sub->next;
        backlog_clear(sub);
        free(sub->address);
        free(sub->dead_letter_address);
        free(sub->session_filter);
        free(sub->session_id);
        free(sub);
    }
}

/* ------------------------------------------------------------------------ API ---- */

static aos_result subscribe_one(aos_bus_t *bus, const char *address, bool session,
                                uint32_t max_inflight, aos_bus_message_cb cb, void *ctx)
{
    bus_sub_t *sub = calloc(1, sizeof *sub);
    bus_cmd_t *c = bus_cmd_new(BUS_CMD_SUBSCRIBE);
    char dla[BUS_ADDR_MAX];
    if (!sub || !c || !(sub->address = strdup(address)))
        goto nomem;
    aos_result dl = aos_bus_map_dead_letter(bus->profile, address, dla, sizeof dla);
    sub->can_dead_letter = dl == AOS_OK;
    if (bus->profile == AOS_BUS_PROFILE_RABBITMQ && dl == AOS_OK &&
        !(sub->dead_letter_address = strdup(dla)))
        goto nomem;
    sub->max_inflight = max_inflight;
    sub->session_mode = session;
    sub->cb = cb;
    sub->ctx = ctx;
    c->sub = sub;
    aos_result r = bus_cmd_push(bus, c);
    if (r == AOS_OK)
        return AOS_OK;
    free(sub->address);
    free(sub->dead_letter_address);
    free(sub);
    free(c);
    return r;
nomem:
    if (sub)
        free(sub->address);
    free(sub);
    free(c);
    return AOS_ERR_NOMEM;
}

/* A session-enabled queue gets session_receivers links (each holds one session), sharing
 * max_inflight between them; anything else one link. */
static aos_result subscribe(aos_bus_t *bus, const char *address, uint32_t max_inflight,
                            aos_bus_message_cb cb, void *ctx)
{
    if (!cb || max_inflight == 0 || max_inflight > MAX_INFLIGHT_LIMIT || !address || !*address ||
        strlen(address) >= BUS_ADDR_MAX)
        return AOS_ERR_INVALID;
    /* "Q/$deadletterqueue" and other sub-queues are not session-enabled */
    bool session = !strchr(address, '/') && bus_session_queue(bus, address);
    uint32_t links = !session                 ? 1
                     : bus->session_receivers ? bus->session_receivers
                                              : BUS_SESSION_LINKS_AUTO_MAX;
    if (links > max_inflight)
        links = max_inflight;
    for (uint32_t i = 0; i < links; i++) {
        uint32_t share = max_inflight / links + (i < max_inflight % links ? 1 : 0);
        AOS_RETURN_IF_FAILED(subscribe_one(bus, address, session, share, cb, ctx));
    }
    return AOS_OK;
}

aos_result aos_bus_subscribe(aos_bus_t *bus, const char *queue, uint32_t max_inflight,
                             aos_bus_message_cb cb, void *ctx)
{
    char addr[BUS_ADDR_MAX];
    if (!bus || aos_bus_map_queue(bus->profile, queue, addr, sizeof addr) != AOS_OK)
        return AOS_ERR_INVALID;
    return subscribe(bus, addr, max_inflight, cb, ctx);
}

aos_result aos_bus_subscribe_address(aos_bus_t *bus, const char *address, uint32_t max_inflight,
                                     aos_bus_message_cb cb, void *ctx)
{
    if (!bus)
        return AOS_ERR_INVALID;
    return subscribe(bus, address, max_inflight, cb, ctx);
}

static void settle_request(aos_bus_delivery_t *d, bus_outcome outcome, const char *reason,
                           const char *description)
{
    if (!d)
        return;
    d->outcome = outcome;
    free(d->reason);
    free(d->description);
    d->reason = reason ? strdup(reason) : NULL;
    d->description = description ? strdup(description) : NULL;
    bus_cmd_t *c = bus_cmd_new(BUS_CMD_SETTLE);
    if (c) {
        c->delivery = d;
        if (bus_cmd_push(d->bus, c) == AOS_OK)
            return;
        free(c);
    }
    /* the bus is gone: the broker redelivers what was not settled */
    bus_delivery_free(d);
}

void aos_bus_accept(aos_bus_delivery_t *d)
{
    settle_request(d, BUS_OUTCOME_ACCEPT, NULL, NULL);
}

void aos_bus_release(aos_bus_delivery_t *d)
{
    settle_request(d, BUS_OUTCOME_RELEASE, NULL, NULL);
}

void aos_bus_release_uncounted(aos_bus_delivery_t *d)
{
    settle_request(d, BUS_OUTCOME_RELEASE_UNCOUNTED, NULL, NULL);
}

void aos_bus_pause(aos_bus_t *bus)
{
    if (bus)
        atomic_store(&bus->paused, true);
}

aos_result aos_bus_set_credit(aos_bus_t *bus, const char *queue, uint32_t limit)
{
    char addr[BUS_ADDR_MAX];
    if (!bus || aos_bus_map_queue(bus->profile, queue, addr, sizeof addr) != AOS_OK)
        return AOS_ERR_INVALID;
    bus_cmd_t *c = bus_cmd_new(BUS_CMD_CREDIT);
    if (!c || !(c->address = strdup(addr))) {
        free(c);
        return AOS_ERR_NOMEM;
    }
    c->limit = limit;
    aos_result r = bus_cmd_push(bus, c);
    if (r != AOS_OK) {
        free(c->address);
        free(c);
    }
    return r;
}

void aos_bus_reject(aos_bus_delivery_t *d, const char *reason, const char *description)
{
    settle_request(d, BUS_OUTCOME_REJECT, reason && *reason ? reason : "aos:rejected", description);
}

const aos_event_t *aos_bus_delivery_event(const aos_bus_delivery_t *d)
{
    return d ? d->ev : NULL;
}

const char *aos_bus_delivery_dead_letter_reason(const aos_bus_delivery_t *d)
{
    return d ? d->info.dl_reason : NULL;
}

const char *aos_bus_delivery_dead_letter_description(const aos_bus_delivery_t *d)
{
    return d ? d->info.dl_description : NULL;
}

const char *aos_bus_delivery_dead_letter_source(const aos_bus_delivery_t *d)
{
    return d ? d->info.dl_source : NULL;
}

uint32_t aos_bus_delivery_count(const aos_bus_delivery_t *d)
{
    return d ? d->count : 0;
}
