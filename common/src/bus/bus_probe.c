/* Queue probes (aos_bus_probe_queue): does a queue exist on the broker?
 *
 * RabbitMQ's AMQP 1.0 plugin accepts (and drops) a message sent to an undeclared
 * /amq/queue/Q, so a sender never learns that its queue is missing (docs/bus.md, RabbitMQ
 * notes). Consuming is checked, though: a receiver attach to a missing queue ends its session
 * with amqp:not-found. A probe attaches a receiver that is never given credit (nothing can be
 * delivered to it) on a session of its own, waits for the broker's answer and detaches.
 *
 * Probe links carry no Proton context, so the sender and subscription code ignore their
 * events; probes are found by pointer in bus->probes. I/O thread only, like the rest of the
 * bus state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/condition.h>
#include <proton/terminus.h>

#include "bus_internal.h"

struct bus_probe {
    struct bus_probe *next;
    char *address;
    uint64_t deadline_ms;
    aos_bus_probe_cb cb;
    void *ctx;
    pn_session_t *session;
    pn_link_t *link;
};

void bus_probe_free(bus_probe_t *p)
{
    if (!p)
        return;
    free(p->address);
    free(p);
}

void bus_probes_add(aos_bus_t *bus, bus_probe_t *p)
{
    p->next = bus->probes;
    bus->probes = p;
}

/* Unlink p, close what it holds, answer its caller and free it. */
static void finish(aos_bus_t *bus, bus_probe_t *p, aos_result r, const char *detail)
{
    for (bus_probe_t **pp = &bus->probes; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (p->link && !(pn_link_state(p->link) & PN_LOCAL_CLOSED))
        pn_link_close(p->link);
    if (p->session && !(pn_session_state(p->session) & PN_LOCAL_CLOSED))
        pn_session_close(p->session);
    p->cb(p->ctx, r, detail);
    bus_probe_free(p);
}

void bus_probes_pump(aos_bus_t *bus)
{
    uint64_t now = bus_now_ms();
    bus_probe_t *p = bus->probes;
    while (p) {
        bus_probe_t *next = p->next;
        if (bus->profile == AOS_BUS_PROFILE_SERVICEBUS) {
            /* Service Bus refuses a sender to a missing entity itself (amqp:not-found), and a
             * receiver without a session filter on a session-enabled queue would be refused
             * for another reason: nothing to learn from a probe there */
            finish(bus, p, AOS_OK, NULL);
        } else if (now >= p->deadline_ms) {
            finish(bus, p, AOS_ERR_TIMEOUT, "the broker did not answer the probe in time");
        } else if (!p->link && bus_connection_usable(bus)) {
            char name[64];
            snprintf(name, sizeof name, "aos-probe-%llu", (unsigned long long)++bus->link_seq);
            p->session = pn_session(bus->conn);
            pn_session_open(p->session);
            p->link = pn_receiver(p->session, name);
            pn_terminus_set_address(pn_link_source(p->link), p->address);
            pn_terminus_set_address(pn_link_target(p->link), bus->instance_id);
            pn_link_set_snd_settle_mode(p->link, PN_SND_UNSETTLED);
            pn_link_set_rcv_settle_mode(p->link, PN_RCV_FIRST);
            pn_link_open(p->link); /* no pn_link_flow: no credit, nothing is delivered */
        }
        p = next;
    }
}

uint64_t bus_probes_next_deadline(const aos_bus_t *bus)
{
    uint64_t next = 0;
    for (const bus_probe_t *p = bus->probes; p; p = p->next)
        if (!next || p->deadline_ms < next)
            next = p->deadline_ms;
    return next;
}

static bus_probe_t *find_link(aos_bus_t *bus, pn_link_t *link)
{
    for (bus_probe_t *p = bus->probes; p; p = p->next)
        if (p->link == link)
            return p;
    return NULL;
}

static void refused(aos_bus_t *bus, bus_probe_t *p, pn_condition_t *cond)
{
    const char *name = cond && pn_condition_is_set(cond) ? pn_condition_get_name(cond) : NULL;
    const char *desc = name ? pn_condition_get_description(cond) : NULL;
    char detail[512];
    snprintf(detail, sizeof detail, "%s%s%s", name ? name : "detached without a reason",
             desc ? ": " : "", desc ? desc : "");
    finish(bus, p,
           name && strcmp(name, "amqp:not-found") == 0             ? AOS_ERR_NOT_FOUND
           : name && strcmp(name, "amqp:unauthorized-access") == 0 ? AOS_ERR_FORBIDDEN
                                                                   : AOS_ERR_REJECTED,
           detail);
}

bool bus_probe_on_link_opened(aos_bus_t *bus, pn_link_t *link)
{
    bus_probe_t *p = find_link(bus, link);
    if (!p)
        return false;
    /* a refusal comes as an attach without source, followed by a detach with the reason */
    if (pn_terminus_get_address(pn_link_remote_source(link)))
        finish(bus, p, AOS_OK, NULL);
    return true;
}

bool bus_probe_on_link_closed(aos_bus_t *bus, pn_link_t *link)
{
    bus_probe_t *p = find_link(bus, link);
    if (!p)
        return false;
    refused(bus, p, pn_link_remote_condition(link));
    return true;
}

bool bus_probe_on_session_closed(aos_bus_t *bus, pn_session_t *s)
{
    for (bus_probe_t *p = bus->probes; p; p = p->next) {
        if (p->session == s) {
            refused(bus, p, pn_session_remote_condition(s));
            return true;
        }
    }
    return false;
}

void bus_probes_disconnected(aos_bus_t *bus)
{
    /* attached again on the next connection, within the same deadline */
    for (bus_probe_t *p = bus->probes; p; p = p->next) {
        p->link = NULL;
        p->session = NULL;
    }
}

void bus_probes_fail_all(aos_bus_t *bus, aos_result r, const char *detail)
{
    while (bus->probes)
        finish(bus, bus->probes, r, detail);
}

aos_result aos_bus_probe_queue(aos_bus_t *bus, const char *queue, int timeout_ms,
                               aos_bus_probe_cb cb, void *ctx)
{
    char addr[BUS_ADDR_MAX];
    if (!bus || !cb || timeout_ms <= 0 ||
        aos_bus_map_queue(bus->profile, queue, addr, sizeof addr) != AOS_OK)
        return AOS_ERR_INVALID;
    bus_probe_t *p = calloc(1, sizeof *p);
    bus_cmd_t *c = bus_cmd_new(BUS_CMD_PROBE);
    if (!p || !c || !(p->address = strdup(addr))) {
        bus_probe_free(p);
        free(c);
        return AOS_ERR_NOMEM;
    }
    p->deadline_ms = bus_now_ms() + (uint64_t)timeout_ms;
    p->cb = cb;
    p->ctx = ctx;
    c->probe = p;
    aos_result r = bus_cmd_push(bus, c);
    if (r != AOS_OK) {
        bus_probe_free(p);
        free(c);
    }
    return r;
}
