/* Service Bus lock renewal (docs/bus.md "Lock renewal"). While a handler holds deliveries of
 * a subscription (peek-lock: each has a message lock) or a session link holds a session (the
 * session lock covers its messages), the bus renews the locks on the entity's management node
 * "<address>/$management" every lock_renew_ms, so work that outlives the entity's
 * LockDuration (a long model call) still settles:
 *   com.microsoft:renew-lock          body {"lock-tokens": uuid[]}  (the delivery tags)
 *   com.microsoft:renew-session-lock  body {"session-id": string}
 * with application-properties operation and associated-link-name (the receiver's link name).
 * Answers carry statusCode (200 ok; 410 lock lost: the broker redelivers, the handler's late
 * settlement is void). The request and reply links live on the subscription's own session
 * and go with it. I/O thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/delivery.h>
#include <proton/message.h>
#include <proton/terminus.h>

#include "aos/log.h"
#include "bus_internal.h"

#define RENEW_MAX_TOKENS 64

static bool is_mgmt(pn_link_t *l)
{
    return l && strncmp(pn_link_name(l), BUS_MGMT_LINK_PREFIX, strlen(BUS_MGMT_LINK_PREFIX)) == 0;
}

static bus_sub_t *sub_of(aos_bus_t *bus, pn_link_t *l)
{
    for (bus_sub_t *sub = bus->subs; sub; sub = sub->next)
        if (sub->mgmt_snd == l || sub->mgmt_rcv == l)
            return sub;
    return NULL;
}

void bus_lock_forget(bus_sub_t *sub)
{
    sub->mgmt_snd = NULL;
    sub->mgmt_rcv = NULL;
    sub->renew_at_ms = 0;
    sub->renew_wanted = false;
}

static void open_links(aos_bus_t *bus, bus_sub_t *sub)
{
    char addr[BUS_ADDR_MAX + 16], name[64];
    snprintf(addr, sizeof addr, "%s/$management", sub->address);
    unsigned long long n = (unsigned long long)++bus->link_seq;
    snprintf(sub->mgmt_reply, sizeof sub->mgmt_reply, "aos-mgmt-reply-%llu", n);
    snprintf(name, sizeof name, BUS_MGMT_LINK_PREFIX "snd-%llu", n);
    sub->mgmt_snd = pn_sender(sub->session, name);
    pn_terminus_set_address(pn_link_target(sub->mgmt_snd), addr);
    pn_terminus_set_address(pn_link_source(sub->mgmt_snd), sub->mgmt_reply);
    pn_link_open(sub->mgmt_snd);
    snprintf(name, sizeof name, BUS_MGMT_LINK_PREFIX "rcv-%llu", n);
    sub->mgmt_rcv = pn_receiver(sub->session, name);
    pn_terminus_set_address(pn_link_source(sub->mgmt_rcv), addr);
    pn_terminus_set_address(pn_link_target(sub->mgmt_rcv), sub->mgmt_reply);
    pn_link_open(sub->mgmt_rcv);
    pn_link_flow(sub->mgmt_rcv, 8);
}

static void put_str(pn_data_t *d, const char *k, const char *v)
{
    pn_data_put_string(d, pn_bytes(strlen(k), k));
    pn_data_put_string(d, pn_bytes(strlen(v), v));
}

/* Build and send one renewal request; false when there is nothing to renew. */
static bool send_renewal(aos_bus_t *bus, bus_sub_t *sub)
{
    pn_message_t *m = pn_message();
    if (!m)
        return false;
    char id[64];
    snprintf(id, sizeof id, "aos-renew-%llu", (unsigned long long)++bus->tag_seq);
    pn_atom_t mid = {.type = PN_STRING};
    mid.u.as_bytes = pn_bytes(strlen(id), id);
    pn_message_set_id(m, mid);
    pn_message_set_reply_to(m, sub->mgmt_reply);
    bool session = sub->session_mode && sub->session_id;
    pn_data_t *ap = pn_message_properties(m);
    pn_data_put_map(ap);
    pn_data_enter(ap);
    put_str(ap, "operation",
            session ? "com.microsoft:renew-session-lock" : "com.microsoft:renew-lock");
    put_str(ap, "associated-link-name", pn_link_name(sub->link));
    pn_data_exit(ap);
    pn_data_t *body = pn_message_body(m);
    pn_data_put_map(body);
    pn_data_enter(body);
    size_t n = 0;
    if (session) {
        put_str(body, "session-id", sub->session_id);
        n = 1;
    } else {
        pn_data_put_string(body, pn_bytes(11, "lock-tokens"));
        pn_data_put_array(body, false, PN_UUID);
        pn_data_enter(body);
        for (pn_delivery_t *d = pn_unsettled_head(sub->link); d && n < RENEW_MAX_TOKENS;
             d = pn_unsettled_next(d)) {
            pn_delivery_tag_t tag = pn_delivery_tag(d);
            if (tag.size != 16 || pn_delivery_settled(d))
                continue; /* Service Bus lock tokens are 16-byte delivery tags */
            pn_uuid_t u;
            aos_bus_lock_token_from_tag((const unsigned char *)tag.start, (unsigned char *)u.bytes);
            pn_data_put_uuid(body, u);
            n++;
        }
        pn_data_exit(body);
    }
    pn_data_exit(body);
    bool sent = false;
    pn_rwbytes_t buf = {0, NULL};
    ssize_t len = n ? pn_message_encode2(m, &buf) : -1;
    if (len > 0) {
        uint64_t tag = ++bus->tag_seq;
        pn_delivery_t *d = pn_delivery(sub->mgmt_snd, pn_dtag((const char *)&tag, sizeof tag));
        pn_link_send(sub->mgmt_snd, buf.start, (size_t)len);
        pn_link_advance(sub->mgmt_snd);
        pn_delivery_settle(d); /* the answer is what counts */
        sent = true;
        aos_log(AOS_LOG_DEBUG, "bus renews locks", "address", sub->address, "kind",
                session ? "session" : "messages", NULL);
    }
    free(buf.start);
    pn_message_free(m);
    return sent;
}

/* Something held whose lock needs renewing? */
static bool holds_locks(const bus_sub_t *sub)
{
    if (sub->session_mode) /* the reply queue's session too: held for the bus's lifetime */
        return sub->session_id != NULL;
    return !sub->is_reply && sub->inflight > 0;
}

void bus_lock_pump(aos_bus_t *bus, bus_sub_t *sub, uint64_t now)
{
    if (bus->profile != AOS_BUS_PROFILE_SERVICEBUS || !sub->link || !sub->session ||
        bus->stopping || !holds_locks(sub)) {
        sub->renew_at_ms = 0;
        sub->renew_wanted = false;
        return;
    }
    if (!sub->renew_at_ms) {
        sub->renew_at_ms = now + bus->lock_renew_ms;
        return;
    }
    if (now >= sub->renew_at_ms) {
        sub->renew_wanted = true;
        sub->renew_at_ms = now + bus->lock_renew_ms;
    }
    if (!sub->renew_wanted)
        return;
    if (!sub->mgmt_snd)
        open_links(bus, sub);
    if (pn_link_credit(sub->mgmt_snd) <= 0)
        return; /* the flow that grants it pumps again */
    sub->renew_wanted = false;
    send_renewal(bus, sub);
}

int bus_lock_parse_answer(const char *bytes, size_t len, char *desc, size_t desclen)
{
    int status = -1;
    if (desclen)
        desc[0] = '\0';
    pn_message_t *m = bytes && len ? pn_message() : NULL;
    if (m && pn_message_decode(m, bytes, len) == 0) {
        pn_data_t *ap = pn_message_properties(m);
        pn_data_rewind(ap);
        if (pn_data_next(ap) && pn_data_type(ap) == PN_MAP) {
            pn_data_enter(ap);
            while (pn_data_next(ap)) {
                pn_bytes_t k = pn_data_type(ap) == PN_STRING   ? pn_data_get_string(ap)
                               : pn_data_type(ap) == PN_SYMBOL ? pn_data_get_symbol(ap)
                                                               : pn_bytes(0, NULL);
                if (!pn_data_next(ap))
                    break;
                bool code = (k.size == 10 && !memcmp(k.start, "statusCode", 10)) ||
                            (k.size == 11 && !memcmp(k.start, "status-code", 11));
                bool text = (k.size == 17 && !memcmp(k.start, "statusDescription", 17)) ||
                            (k.size == 18 && !memcmp(k.start, "status-description", 18));
                if (code && pn_data_type(ap) == PN_INT)
                    status = pn_data_get_int(ap);
                else if (text && pn_data_type(ap) == PN_STRING && desclen)
                    snprintf(desc, desclen, "%.*s", (int)pn_data_get_string(ap).size,
                             pn_data_get_string(ap).start);
            }
            pn_data_exit(ap);
        }
    }
    pn_message_free(m);
    return status;
}

static void on_answer(bus_sub_t *sub, pn_delivery_t *d)
{
    pn_link_t *l = pn_delivery_link(d);
    size_t n = pn_delivery_pending(d);
    char *buf = malloc(n ? n : 1);
    ssize_t got = buf ? pn_link_recv(l, buf, n) : -1;
    pn_link_advance(l);
    pn_delivery_update(d, PN_ACCEPTED);
    pn_delivery_settle(d);
    pn_link_flow(l, 1);
    char desc[256] = "";
    int status = got > 0 ? bus_lock_parse_answer(buf, (size_t)got, desc, sizeof desc) : -1;
    if (status != 200) {
        char st[16];
        snprintf(st, sizeof st, "%d", status);
        aos_log(AOS_LOG_WARN, "bus lock renewal refused", "address", sub->address, "status", st,
                "description", desc, NULL);
    }
    free(buf);
}

bool bus_lock_handle(aos_bus_t *bus, pn_event_t *e)
{
    pn_link_t *l = pn_event_link(e);
    if (!is_mgmt(l))
        return false;
    bus_sub_t *sub = sub_of(bus, l);
    switch (pn_event_type(e)) {
    case PN_DELIVERY: {
        pn_delivery_t *d = pn_event_delivery(e);
        if (pn_link_is_sender(l)) {
            pn_delivery_settle(d);
        } else if (pn_delivery_readable(d) && !pn_delivery_partial(d)) {
            if (sub)
                on_answer(sub, d);
            else {
                pn_delivery_update(d, PN_RELEASED);
                pn_delivery_settle(d);
            }
        }
        break;
    }
    case PN_LINK_FLOW:
        bus->pump_wanted = true;
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH: {
        pn_condition_t *c = pn_link_remote_condition(l);
        if (sub && pn_condition_is_set(c))
            aos_log(AOS_LOG_WARN, "bus management link closed by the broker", "address",
                    sub->address, "condition", pn_condition_get_name(c), NULL);
        if (sub) { /* the other one goes too; both are made again when needed */
            pn_link_t *other = sub->mgmt_snd == l ? sub->mgmt_rcv : sub->mgmt_snd;
            if (other)
                pn_link_close(other);
            sub->mgmt_snd = sub->mgmt_rcv = NULL;
        }
        pn_link_close(l);
        break;
    }
    default:
        break;
    }
    return true;
}
