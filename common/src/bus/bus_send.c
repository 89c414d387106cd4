/* Sending: one sender link per address, an outbox of messages the broker has not confirmed
 * yet (re-sent in order after a reconnect), and the send API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proton/condition.h>
#include <proton/disposition.h>
#include <proton/terminus.h>

#include "aos/log.h"
#include "bus_internal.h"
#include "bus_waiter.h"

/* ------------------------------------------------------------------------ lists ---- */

static void list_push_back(bus_send_list_t *l, bus_send_t *s)
{
    s->next = NULL;
    s->prev = l->last;
    if (l->last)
        l->last->next = s;
    else
        l->first = s;
    l->last = s;
    l->count++;
}

static void list_remove(bus_send_list_t *l, bus_send_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        l->first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        l->last = s->prev;
    s->prev = s->next = NULL;
    l->count--;
}

static bus_send_t *list_pop_front(bus_send_list_t *l)
{
    bus_send_t *s = l->first;
    if (s)
        list_remove(l, s);
    return s;
}

/* ------------------------------------------------------------------- send records ---- */

bus_send_t *bus_send_new(const char *address, char *bytes, size_t len, aos_bus_send_cb cb,
                         void *ctx)
{
    size_t n = strlen(address) + 1;
    bus_send_t *s = malloc(sizeof *s + n);
    if (!s)
        return NULL;
    *s = (bus_send_t){.address = (char *)(s + 1)};
    memcpy(s->address, address, n);
    s->bytes = bytes;
    s->len = len;
    s->cb = cb;
    s->ctx = ctx;
    return s;
}

void bus_send_free(bus_send_t *s)
{
    if (!s)
        return;
    free(s->bytes);
    free(s);
}

static void complete(aos_bus_t *bus, bus_send_t *s, aos_result r, const char *detail)
{
    if (s->pn) {
        pn_delivery_set_context(s->pn, NULL);
        s->pn = NULL;
    }
    if (s->done)
        s->done(bus, s, r, detail);
    if (s->cb)
        s->cb(s->ctx, r, detail);
    bus_send_free(s);
}

/* ---------------------------------------------------------------------- senders ---- */

static bus_sender_t *sender_find(aos_bus_t *bus, const char *address)
{
    for (bus_sender_t *x = bus->senders; x; x = x->next)
        if (strcmp(x->address, address) == 0)
            return x;
    return NULL;
}

static void sender_unlink_free(aos_bus_t *bus, bus_sender_t *x)
{
    for (bus_sender_t **pp = &bus->senders; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            bus->sender_count--;
            break;
        }
    }
    if (x->link) {
        pn_link_set_context(x->link, NULL);
        pn_link_close(x->link);
    }
    if (x->session)
        pn_session_close(x->session);
    free(x->address);
    free(x);
}

/* Keep the number of open sender links bounded: reply addresses of many peers come and go. */
static void evict_idle(aos_bus_t *bus)
{
    while (bus->sender_count > BUS_MAX_SENDERS) {
        bus_sender_t *lru = NULL;
        for (bus_sender_t *x = bus->senders; x; x = x->next)
            if (!x->pending.count && !x->inflight.count &&
                (!lru || x->last_used_ms < lru->last_used_ms))
                lru = x;
        if (!lru)
            return;
        sender_unlink_free(bus, lru);
    }
}

void bus_outbox_add(aos_bus_t *bus, bus_send_t *s)
{
    bus_sender_t *x = sender_find(bus, s->address);
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x || !(x->address = strdup(s->address))) {
            free(x);
            complete(bus, s, AOS_ERR_NOMEM, "out of memory");
            return;
        }
        x->next = bus->senders;
        bus->senders = x;
        bus->sender_count++;
    }
    x->last_used_ms = bus_now_ms();
    list_push_back(&x->pending, s);
    bus->pump_wanted = true;
}

static void sender_attach(aos_bus_t *bus, bus_sender_t *x)
{
    char name[64];
    snprintf(name, sizeof name, "aos-snd-%llu", (unsigned long long)++bus->link_seq);
    x->session = pn_session(bus->conn);
    pn_session_open(x->session);
    x->link = pn_sender(x->session, name);
    pn_link_set_context(x->link, x);
    pn_terminus_set_address(pn_link_target(x->link), x->address);
    pn_terminus_set_address(pn_link_source(x->link), bus->instance_id);
    pn_link_set_snd_settle_mode(x->link, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(x->link, PN_RCV_FIRST);
    pn_link_open(x->link);
}

static void too_large(aos_bus_t *bus, bus_send_t *s, uint64_t max)
{
    char detail[200];
    if (max)
        snprintf(detail, sizeof detail,
                 "message of %zu bytes exceeds the max-message-size of %s (%llu bytes)", s->len,
                 s->address, (unsigned long long)max);
    else
        snprintf(
            detail, sizeof detail,
            "message of %zu bytes refused by %s as too large (amqp:link:message-size-exceeded)",
            s->len, s->address);
    aos_log(AOS_LOG_ERROR, "bus send over the peer's max-message-size", "address", s->address,
            "detail", detail, NULL);
    complete(bus, s, AOS_ERR_TOO_LARGE, detail);
}

static void sender_flush(aos_bus_t *bus, bus_sender_t *x)
{
    if (!x->link || (pn_link_state(x->link) & PN_REMOTE_CLOSED))
        return;
    /* the peer's max-message-size (Service Bus Standard: 256 KiB): a message over it would
     * be refused by a detach; it fails on its own, cleanly, and is never retried */
    uint64_t max = pn_link_remote_max_message_size(x->link);
    while (x->pending.first && pn_link_credit(x->link) > 0) {
        bus_send_t *s = list_pop_front(&x->pending);
        if (max && s->len > max) {
            too_large(bus, s, max);
            continue;
        }
        uint64_t tag = ++bus->tag_seq;
        pn_delivery_t *d = pn_delivery(x->link, pn_dtag((const char *)&tag, sizeof tag));
        pn_delivery_set_context(d, s);
        pn_link_send(x->link, s->bytes, s->len);
        pn_link_advance(x->link);
        s->pn = d;
        list_push_back(&x->inflight, s);
    }
}

void bus_senders_pump(aos_bus_t *bus)
{
    evict_idle(bus);
    uint64_t now = bus_now_ms();
    for (bus_sender_t *x = bus->senders; x; x = x->next) {
        if (!x->link && x->pending.count && now >= x->retry_at_ms)
            sender_attach(bus, x);
        sender_flush(bus, x);
    }
}

void bus_sender_on_flow(aos_bus_t *bus, pn_link_t *link)
{
    bus_sender_t *x = pn_link_get_context(link);
    if (x && x->link == link && bus_connection_usable(bus))
        sender_flush(bus, x);
}

static aos_result outcome_result(pn_delivery_t *d, char *detail, size_t dlen)
{
    uint64_t state = pn_delivery_remote_state(d);
    detail[0] = '\0';
    switch (state) {
    case PN_ACCEPTED:
        return AOS_OK;
    case PN_REJECTED: {
        pn_condition_t *c = pn_disposition_condition(pn_delivery_remote(d));
        snprintf(detail, dlen, "%s%s%s",
                 pn_condition_get_name(c) ? pn_condition_get_name(c) : "rejected",
                 pn_condition_get_description(c) ? ": " : "",
                 pn_condition_get_description(c) ? pn_condition_get_description(c) : "");
        return AOS_ERR_REJECTED;
    }
    case PN_RELEASED:
    case PN_MODIFIED:
        snprintf(detail, dlen, "released by the broker");
        return AOS_ERR_UNAVAILABLE;
    default:
        /* settled without an outcome: the broker took it */
        return AOS_OK;
    }
}

void bus_sender_on_delivery(aos_bus_t *bus, pn_delivery_t *d)
{
    if (!pn_delivery_remote_state(d) && !pn_delivery_settled(d))
        return; /* no outcome yet */
    bus_send_t *s = pn_delivery_get_context(d);
    pn_link_t *link = pn_delivery_link(d);
    bus_sender_t *x = pn_link_get_context(link);
    char detail[512];
    aos_result r = outcome_result(d, detail, sizeof detail);
    pn_delivery_settle(d);
    if (!s || !x)
        return;
    list_remove(&x->inflight, s);
    s->pn = NULL;
    x->attach_failures = 0;
    complete(bus, s, r, detail);
}

uint64_t bus_senders_next_retry(const aos_bus_t *bus)
{
    uint64_t next = 0;
    for (const bus_sender_t *x = bus->senders; x; x = x->next)
        if (!x->link && x->pending.count && x->retry_at_ms && (!next || x->retry_at_ms < next))
            next = x->retry_at_ms;
    return next;
}

static void requeue_inflight(bus_sender_t *x)
{
    /* unconfirmed messages go out again first, in their original order */
    while (x->inflight.last) {
        bus_send_t *s = x->inflight.last;
        list_remove(&x->inflight, s);
        s->pn = NULL;
        s->prev = NULL;
        s->next = x->pending.first;
        if (x->pending.first)
            x->pending.first->prev = s;
        else
            x->pending.last = s;
        x->pending.first = s;
        x->pending.count++;
    }
}

/* Conditions that will not go away by trying again: the messages queued for the address
 * fail with them. */
static bool refusal_is_final(const char *name)
{
    static const char *const final[] = {"amqp:not-found",       "amqp:unauthorized-access",
                                        "amqp:invalid-field",   "amqp:not-allowed",
                                        "amqp:not-implemented", "amqp:decode-error"};
    for (size_t i = 0; name && i < sizeof final / sizeof *final; i++)
        if (strcmp(name, final[i]) == 0)
            return true;
    return false;
}

/* The broker closed the sender's link or ended its session (cond: why). */
static void sender_closed(aos_bus_t *bus, bus_sender_t *x, pn_condition_t *cond)
{
    if (x->link) {
        pn_link_set_context(x->link, NULL);
        pn_link_close(x->link);
    }
    if (x->session)
        pn_session_close(x->session);
    x->link = NULL;
    x->session = NULL;
    const char *name = cond && pn_condition_is_set(cond) ? pn_condition_get_name(cond) : NULL;
    if (name && strcmp(name, "amqp:link:message-size-exceeded") == 0) {
        /* a peer that enforces a limit it did not advertise: the largest message in flight
         * is the culprit; it fails, the others go again */
        bus_send_t *big = NULL;
        for (bus_send_t *s = x->inflight.first; s; s = s->next)
            if (!big || s->len > big->len)
                big = s;
        if (big) {
            list_remove(&x->inflight, big);
            too_large(bus, big, 0);
        }
    }
    if (!refusal_is_final(name)) {
        /* detached, or a transient error (e.g. the broker shutting down): send again on a new
         * link, after a growing delay when there was an error */
        requeue_inflight(x);
        x->retry_at_ms = 0;
        if (name) {
            x->retry_at_ms =
                bus_now_ms() + aos_bus_backoff_ms(bus->reconnect_min_ms, bus->reconnect_max_ms,
                                                  x->attach_failures, bus_random());
            if (x->attach_failures < 32)
                x->attach_failures++;
        }
        bus->pump_wanted = true;
        return;
    }
    aos_result r = name && strcmp(name, "amqp:not-found") == 0             ? AOS_ERR_NOT_FOUND
                   : name && strcmp(name, "amqp:unauthorized-access") == 0 ? AOS_ERR_FORBIDDEN
                                                                           : AOS_ERR_REJECTED;
    char detail[512];
    snprintf(detail, sizeof detail, "%s: %s", name ? name : "link closed",
             pn_condition_get_description(cond) ? pn_condition_get_description(cond) : "");
    for (bus_sender_t **pp = &bus->senders; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            bus->sender_count--;
            break;
        }
    }
    bus_send_t *s;
    while ((s = list_pop_front(&x->inflight)))
        complete(bus, s, r, detail);
    while ((s = list_pop_front(&x->pending)))
        complete(bus, s, r, detail);
    free(x->address);
    free(x);
}

void bus_sender_on_link_closed(aos_bus_t *bus, pn_link_t *link)
{
    bus_sender_t *x = pn_link_get_context(link);
    if (x && x->link == link)
        sender_closed(bus, x, pn_link_remote_condition(link));
}

bool bus_sender_on_session_closed(aos_bus_t *bus, pn_session_t *s)
{
    for (bus_sender_t *x = bus->senders; x; x = x->next) {
        if (x->session == s) {
            sender_closed(bus, x, pn_session_remote_condition(s));
            return true;
        }
    }
    return false;
}

void bus_senders_disconnected(aos_bus_t *bus)
{
    for (bus_sender_t *x = bus->senders; x; x = x->next) {
        x->link = NULL;
        x->session = NULL;
        x->retry_at_ms = 0;
        requeue_inflight(x);
    }
}

void bus_senders_fail_all(aos_bus_t *bus, aos_result r, const char *detail)
{
    for (bus_sender_t *x = bus->senders; x; x = x->next) {
        bus_send_t *s;
        while ((s = list_pop_front(&x->inflight)))
            complete(bus, s, r, detail);
        while ((s = list_pop_front(&x->pending)))
            complete(bus, s, r, detail);
    }
}

size_t bus_outbox_count(const aos_bus_t *bus)
{
    size_t n = 0;
    for (const bus_sender_t *x = bus->senders; x; x = x->next)
        n += x->pending.count + x->inflight.count;
    return n;
}

void bus_senders_free(aos_bus_t *bus)
{
    while (bus->senders) {
        bus_sender_t *x = bus->senders;
        bus->senders = x->next;
        bus_send_t *s;
        while ((s = list_pop_front(&x->inflight)))
            bus_send_free(s);
        while ((s = list_pop_front(&x->pending)))
            bus_send_free(s);
        free(x->address);
        free(x);
    }
    bus->sender_count = 0;
}

/* --------------------------------------------------------------------- the API ---- */

aos_result bus_send_encoded(aos_bus_t *bus, const char *address, const aos_event_t *ev,
                            const char *subject, aos_bus_send_cb cb, void *ctx)
{
    char *bytes = NULL;
    size_t len = 0;
    char err[256];
    aos_result r = bus_msg_encode(ev, subject, 0, &bytes, &len, err, sizeof err);
    if (r != AOS_OK) {
        aos_log(AOS_LOG_WARN, "bus cannot encode the event", "address", address, "detail", err,
                NULL);
        return r;
    }
    return bus_send_bytes(bus, address, bytes, len, cb, ctx);
}

aos_result bus_send_bytes(aos_bus_t *bus, const char *address, char *bytes, size_t len,
                          aos_bus_send_cb cb, void *ctx)
{
    aos_result r;
    bus_send_t *s = bus_send_new(address, bytes, len, cb, ctx);
    bus_cmd_t *c = bus_cmd_new(BUS_CMD_SEND);
    if (!s || !c) {
        if (s)
            bus_send_free(s);
        else
            free(bytes);
        free(c);
        return AOS_ERR_NOMEM;
    }
    c->send = s;
    r = bus_cmd_push(bus, c);
    if (r != AOS_OK) {
        bus_send_free(s);
        free(c);
    }
    return r;
}

static bool address_valid(const char *a)
{
    size_t n = a ? strlen(a) : 0;
    if (n == 0 || n >= BUS_ADDR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f)
            return false;
    return true;
}

aos_result aos_bus_send(aos_bus_t *bus, const char *queue, const aos_event_t *ev,
                        aos_bus_send_cb cb, void *ctx)
{
    char addr[BUS_ADDR_MAX];
    if (!bus || !ev || aos_bus_map_queue(bus->profile, queue, addr, sizeof addr) != AOS_OK)
        return AOS_ERR_INVALID;
    return bus_send_encoded(bus, addr, ev, NULL, cb, ctx);
}

aos_result aos_bus_send_to_address(aos_bus_t *bus, const char *address, const aos_event_t *ev,
                                   aos_bus_send_cb cb, void *ctx)
{
    if (!bus || !ev || !address_valid(address))
        return AOS_ERR_INVALID;
    return bus_send_encoded(bus, address, ev, NULL, cb, ctx);
}

aos_result aos_bus_publish(aos_bus_t *bus, const char *topic, const aos_event_t *ev,
                           aos_bus_send_cb cb, void *ctx)
{
    char addr[BUS_ADDR_MAX];
    if (!bus || !ev || !ev->type ||
        aos_bus_map_topic(bus->profile, topic, ev->type, addr, sizeof addr) != AOS_OK)
        return AOS_ERR_INVALID;
    /* Service Bus subscriptions filter on the AMQP subject (= the event type). */
    const char *subject = bus->profile == AOS_BUS_PROFILE_SERVICEBUS ? ev->type : NULL;
    return bus_send_encoded(bus, addr, ev, subject, cb, ctx);
}

static void sync_send_done(void *ctx, aos_result r, const char *detail)
{
    bus_waiter_complete(ctx, r, detail, NULL);
}

aos_result aos_bus_send_sync(aos_bus_t *bus, const char *queue, const aos_event_t *ev,
                             int timeout_ms, char *errbuf, size_t errlen)
{
    if (bus && bus_on_io_thread(bus))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "send_sync called on the bus thread");
    bus_waiter_t *w = bus_waiter_new();
    if (!w)
        return AOS_ERR_NOMEM;
    aos_result r = aos_bus_send(bus, queue, ev, sync_send_done, w);
    if (r != AOS_OK) {
        bus_waiter_release(w);
        bus_waiter_release(w);
        return aos_fail(r, errbuf, errlen, "send to %s: %s", queue ? queue : "(null)",
                        aos_result_str(r));
    }
    char detail[256];
    r = bus_waiter_wait(w, timeout_ms, NULL, detail, sizeof detail);
    if (r != AOS_OK)
        aos_fail(r, errbuf, errlen, "send to %s: %s%s%s", queue, aos_result_str(r),
                 detail[0] ? ": " : "", detail);
    bus_waiter_release(w);
    return r;
}
