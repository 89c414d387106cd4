/* Proton event handling of the CBS component: which events are its own, reading put-token
 * answers, and reacting to link/session errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/session.h>

#include "aos/servicebus.h"
#include "cbs_internal.h"

static bool data_int(pn_data_t *d, int *out)
{
    switch (pn_data_type(d)) {
    case PN_INT:
        *out = pn_data_get_int(d);
        return true;
    case PN_LONG:
        *out = (int)pn_data_get_long(d);
        return true;
    case PN_UINT:
        *out = (int)pn_data_get_uint(d);
        return true;
    case PN_ULONG:
        *out = (int)pn_data_get_ulong(d);
        return true;
    case PN_SHORT:
        *out = pn_data_get_short(d);
        return true;
    case PN_USHORT:
        *out = pn_data_get_ushort(d);
        return true;
    default:
        return false;
    }
}

static bool data_str(pn_data_t *d, char *out, size_t outlen)
{
    pn_bytes_t b;
    if (pn_data_type(d) == PN_STRING)
        b = pn_data_get_string(d);
    else if (pn_data_type(d) == PN_SYMBOL)
        b = pn_data_get_symbol(d);
    else
        return false;
    size_t n = b.size < outlen - 1 ? b.size : outlen - 1;
    memcpy(out, b.start, n);
    out[n] = '\0';
    return true;
}

/* status-code / status-description from the application properties (the older statusCode /
 * statusDescription spellings are accepted too). */
static void read_status(pn_message_t *m, int *status, char *desc, size_t desclen)
{
    pn_data_t *ap = pn_message_properties(m);
    pn_data_rewind(ap);
    if (!pn_data_next(ap) || pn_data_type(ap) != PN_MAP || !pn_data_enter(ap))
        return;
    char key[64];
    while (pn_data_next(ap)) {
        bool is_key = data_str(ap, key, sizeof key);
        if (!pn_data_next(ap))
            break;
        if (!is_key)
            continue;
        if (strcmp(key, "status-code") == 0 || strcmp(key, "statusCode") == 0)
            data_int(ap, status);
        else if (strcmp(key, "status-description") == 0 || strcmp(key, "statusDescription") == 0)
            data_str(ap, desc, desclen);
    }
    pn_data_exit(ap);
}

aos_result aos_cbs_parse_answer(const char *bytes, size_t size, char *corr, size_t corrlen,
                                int *status, char *desc, size_t desclen)
{
    corr[0] = '\0';
    desc[0] = '\0';
    *status = 0;
    if (!bytes || size == 0 || size > CBS_MAX_ANSWER)
        return AOS_ERR_PROTOCOL;
    pn_message_t *m = pn_message();
    if (!m)
        return AOS_ERR_NOMEM;
    aos_result r = AOS_ERR_PROTOCOL;
    if (pn_message_decode(m, bytes, size) == 0) {
        pn_data_t *cid = pn_message_correlation_id(m);
        pn_data_rewind(cid);
        if (pn_data_next(cid))
            data_str(cid, corr, corrlen);
        read_status(m, status, desc, desclen);
        r = AOS_OK;
    }
    pn_message_free(m);
    return r;
}

static void on_answer(aos_cbs_t *c, pn_delivery_t *d)
{
    pn_link_t *l = pn_delivery_link(d);
    size_t size = pn_delivery_pending(d);
    char *buf = size > 0 && size <= CBS_MAX_ANSWER ? malloc(size) : NULL;
    ssize_t n = buf ? pn_link_recv(l, buf, size) : -1;
    char corr[64], desc[200];
    int status = 0;
    if (n <= 0 || aos_cbs_parse_answer(buf, (size_t)n, corr, sizeof corr, &status, desc,
                                       sizeof desc) != AOS_OK) {
        pn_delivery_update(d, PN_REJECTED);
        aos_cbs_fail(c, "CBS answer could not be decoded");
    } else {
        pn_delivery_update(d, PN_ACCEPTED);
        aos_cbs_answer(c, corr, status, desc);
    }
    free(buf);
    pn_delivery_settle(d);
    pn_link_flow(l, 1); /* keep the answer credit topped up */
}

static void on_request_outcome(aos_cbs_t *c, pn_delivery_t *d)
{
    if (!pn_delivery_updated(d))
        return;
    uint64_t st = pn_delivery_remote_state(d);
    if (st == PN_REJECTED || st == PN_RELEASED || st == PN_MODIFIED) {
        pn_condition_t *cond = pn_disposition_condition(pn_delivery_remote(d));
        char detail[256];
        snprintf(detail, sizeof detail, "put-token request not accepted by the broker%s%s%s%s",
                 pn_condition_is_set(cond) ? ": " : "",
                 pn_condition_is_set(cond) ? pn_condition_get_name(cond) : "",
                 pn_condition_get_description(cond) ? " " : "",
                 pn_condition_get_description(cond) ? pn_condition_get_description(cond) : "");
        aos_cbs_fail(c, detail);
    }
    if (st != 0 || pn_delivery_settled(d))
        pn_delivery_settle(d);
}

static void on_remote_close(aos_cbs_t *c, pn_condition_t *cond, const char *what)
{
    char detail[256];
    snprintf(detail, sizeof detail, "CBS %s closed by the peer%s%s%s%s", what,
             pn_condition_is_set(cond) ? ": " : "",
             pn_condition_is_set(cond) ? pn_condition_get_name(cond) : "",
             pn_condition_get_description(cond) ? " " : "",
             pn_condition_get_description(cond) ? pn_condition_get_description(cond) : "");
    aos_cbs_fail(c, detail);
}

static void on_link_event(aos_cbs_t *c, pn_event_t *ev, pn_link_t *l)
{
    switch (pn_event_type(ev)) {
    case PN_LINK_FLOW:
        if (l == aos_cbs_sender(c))
            aos_cbs_send_pending(c);
        break;
    case PN_DELIVERY: {
        pn_delivery_t *d = pn_event_delivery(ev);
        if (l == aos_cbs_receiver(c)) {
            if (pn_delivery_readable(d) && !pn_delivery_partial(d))
                on_answer(c, d);
        } else {
            on_request_outcome(c, d);
        }
        break;
    }
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        on_remote_close(c, pn_link_remote_condition(l), "link");
        pn_link_close(l);
        break;
    case PN_LINK_FINAL:
        aos_cbs_forget(c, l, NULL);
        break;
    default:
        break;
    }
}

bool aos_cbs_handle(aos_cbs_t *c, pn_event_t *ev)
{
    if (!c || !ev)
        return false;
    pn_event_type_t t = pn_event_type(ev);
    if (t == PN_TRANSPORT_CLOSED || t == PN_CONNECTION_FINAL) {
        if (aos_cbs_connection(c) && pn_event_connection(ev) == aos_cbs_connection(c))
            aos_cbs_lost(c);
        return false;
    }
    pn_link_t *l = pn_event_link(ev);
    pn_session_t *s = l ? NULL : pn_event_session(ev);
    if (!aos_cbs_owns(c, l, s))
        return false;
    if (l) {
        on_link_event(c, ev, l);
        return true;
    }
    if (t == PN_SESSION_REMOTE_CLOSE) {
        on_remote_close(c, pn_session_remote_condition(s), "session");
        pn_session_close(s);
    } else if (t == PN_SESSION_FINAL) {
        aos_cbs_forget(c, NULL, s);
    }
    return true;
}
