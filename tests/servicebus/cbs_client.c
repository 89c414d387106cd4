#include "cbs_client.h"

#include <stdio.h>
#include <string.h>

#include <proton/condition.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/message.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#define HANG_GUARD_MS 20000

void cbs_client_finish(cbs_client_t *cl)
{
    if (cl->closing)
        return;
    cl->closing = true;
    pn_proactor_cancel_timeout(cl->proactor);
    pn_connection_close(cl->conn);
}

void cbs_client_attach(cbs_client_t *cl)
{
    if (cl->entity || !cl->attach_to)
        return;
    pn_session_t *s = pn_session(cl->conn);
    pn_session_open(s);
    cl->entity = pn_sender(s, "test-sender");
    pn_terminus_set_address(pn_link_target(cl->entity), cl->attach_to);
    pn_link_open(cl->entity);
}

static void send_one(cbs_client_t *cl)
{
    if (cl->sent || pn_link_credit(cl->entity) <= 0)
        return;
    pn_message_t *m = pn_message();
    pn_data_put_string(pn_message_body(m), pn_bytes(5, "hello"));
    pn_delivery(cl->entity, pn_dtag("m1", 2));
    pn_message_send(m, cl->entity, NULL);
    pn_message_free(m);
    cl->sent = true;
}

static void on_entity_event(cbs_client_t *cl, pn_event_t *e)
{
    switch (pn_event_type(e)) {
    case PN_LINK_FLOW:
        send_one(cl);
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH: {
        pn_condition_t *c = pn_link_remote_condition(cl->entity);
        cl->entity_refused = true;
        snprintf(cl->entity_condition, sizeof cl->entity_condition, "%s: %s",
                 pn_condition_get_name(c) ? pn_condition_get_name(c) : "",
                 pn_condition_get_description(c) ? pn_condition_get_description(c) : "");
        cbs_client_finish(cl);
        break;
    }
    case PN_DELIVERY: {
        pn_delivery_t *d = pn_event_delivery(e);
        if (pn_delivery_updated(d)) {
            cl->outcome = pn_delivery_remote_state(d);
            pn_delivery_settle(d);
            cbs_client_finish(cl);
        }
        break;
    }
    default:
        break;
    }
}

/* false when the loop should end */
static bool on_event(cbs_client_t *cl, pn_event_t *e)
{
    pn_event_type_t t = pn_event_type(e);
    bool cbs_owned = cl->cbs && aos_cbs_handle(cl->cbs, e);
    if (!cbs_owned) {
        if (t == PN_CONNECTION_INIT) {
            pn_connection_set_container(cl->conn, "aos-cbs-test");
            pn_connection_open(cl->conn);
            if (cl->cbs)
                aos_cbs_start(cl->cbs, cl->conn);
            else
                cbs_client_attach(cl);
        } else if (pn_event_link(e) && pn_event_link(e) == cl->entity) {
            on_entity_event(cl, e);
        } else if (t == PN_PROACTOR_TIMEOUT) {
            /* not in the connection's batch: touch the connection only from its own WAKE */
            cl->timed_out = true;
            pn_connection_wake(cl->conn);
        } else if (t == PN_CONNECTION_WAKE && cl->timed_out) {
            cbs_client_finish(cl);
        } else if (t == PN_TRANSPORT_CLOSED) {
            cl->closing = true;
            pn_proactor_cancel_timeout(cl->proactor);
        } else if (t == PN_PROACTOR_INACTIVE) {
            return false;
        }
    }
    if (cl->step && !cl->closing)
        cl->step(cl);
    return true;
}

void cbs_client_run(cbs_client_t *cl, int port)
{
    cl->proactor = pn_proactor();
    cl->conn = pn_connection();
    pn_transport_t *t = pn_transport();
    pn_sasl_allowed_mechs(pn_sasl(t), "ANONYMOUS");
    char addr[64], portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    pn_proactor_addr(addr, sizeof addr, "127.0.0.1", portstr);
    pn_proactor_set_timeout(cl->proactor, HANG_GUARD_MS);
    pn_proactor_connect2(cl->proactor, cl->conn, t, addr);
    for (bool go = true; go;) {
        pn_event_batch_t *b = pn_proactor_wait(cl->proactor);
        pn_event_t *e;
        while ((e = pn_event_batch_next(b)))
            go = on_event(cl, e) && go;
        pn_proactor_done(cl->proactor, b);
    }
    pn_proactor_free(cl->proactor);
    cl->proactor = NULL;
    cl->conn = NULL;
    cl->entity = NULL;
}
