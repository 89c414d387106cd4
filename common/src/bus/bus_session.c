/* Service Bus message sessions: the com.microsoft:session-filter on a receiver's source, the
 * session the broker granted (echoed in its attach), and letting an idle session go.
 *
 * Wire form (as the Azure SDKs send it): the source filter map has the symbol key
 * "com.microsoft:session-filter" and a described value, descriptor ulong 0x00000137000000C,
 * whose value is the session id (a string) or null for "the next available session". The
 * broker's attach carries the same entry with the session id it locked for this link. */
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/terminus.h>

#include "aos/log.h"
#include "bus_internal.h"

bool bus_session_queue(const aos_bus_t *bus, const char *queue)
{
    if (bus->profile != AOS_BUS_PROFILE_SERVICEBUS || !bus->session_prefixes || !queue)
        return false;
    const char *p = bus->session_prefixes;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n > 0 && strncmp(queue, p, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

void bus_session_set_filter(pn_link_t *link, const char *session_id)
{
    pn_data_t *f = pn_terminus_filter(pn_link_source(link));
    pn_data_clear(f);
    pn_data_put_map(f);
    pn_data_enter(f);
    pn_data_put_symbol(f, pn_bytes(strlen(BUS_SESSION_FILTER), BUS_SESSION_FILTER));
    pn_data_put_described(f);
    pn_data_enter(f);
    pn_data_put_ulong(f, BUS_SESSION_FILTER_CODE);
    if (session_id)
        pn_data_put_string(f, pn_bytes(strlen(session_id), session_id));
    else
        pn_data_put_null(f);
    pn_data_exit(f);
    pn_data_exit(f);
}

/* The string at the current position, plain or as the value of a described type. */
static char *string_value(pn_data_t *f)
{
    if (pn_data_type(f) == PN_DESCRIBED) {
        pn_data_enter(f);
        char *s = NULL;
        if (pn_data_next(f) && pn_data_next(f))
            s = string_value(f);
        pn_data_exit(f);
        return s;
    }
    if (pn_data_type(f) != PN_STRING)
        return NULL;
    pn_bytes_t b = pn_data_get_string(f);
    if (b.size == 0 || b.size > 128 || memchr(b.start, '\0', b.size))
        return NULL;
    char *s = malloc(b.size + 1);
    if (s) {
        memcpy(s, b.start, b.size);
        s[b.size] = '\0';
    }
    return s;
}

char *bus_session_from_source(pn_terminus_t *source)
{
    pn_data_t *f = source ? pn_terminus_filter(source) : NULL;
    if (!f)
        return NULL;
    pn_data_rewind(f);
    if (!pn_data_next(f) || pn_data_type(f) != PN_MAP)
        return NULL;
    pn_data_enter(f);
    char *id = NULL;
    while (!id && pn_data_next(f)) {
        bool match = false;
        if (pn_data_type(f) == PN_SYMBOL) {
            pn_bytes_t k = pn_data_get_symbol(f);
            match = k.size == strlen(BUS_SESSION_FILTER) &&
                    memcmp(k.start, BUS_SESSION_FILTER, k.size) == 0;
        }
        if (!pn_data_next(f))
            break;
        if (match)
            id = string_value(f);
    }
    pn_data_exit(f);
    return id;
}

bool bus_session_idle_check(aos_bus_t *bus, bus_sub_t *sub, uint64_t now)
{
    if (!sub->session_mode || sub->session_filter || !sub->link || !sub->session_id ||
        sub->inflight || sub->backlog || bus->stopping)
        return false;
    if (pn_link_unsettled(sub->link) > 0 || now < sub->idle_since_ms + bus->session_idle_ms)
        return false;
    aos_log(AOS_LOG_DEBUG, "bus lets an idle session go", "address", sub->address, "session",
            sub->session_id, NULL);
    /* Credit the broker may still use: drain it, then close; anything that still arrives on
     * this link finds no subscription and is released. */
    pn_link_set_context(sub->link, NULL);
    pn_link_close(sub->link);
    pn_session_close(sub->session);
    bus_lock_forget(sub);
    sub->link = NULL;
    sub->session = NULL;
    free(sub->session_id);
    sub->session_id = NULL;
    sub->retry_at_ms = 0; /* attach again for the next session at once */
    return true;
}

bool bus_session_benign_condition(const char *name)
{
    return name && (strcmp(name, "com.microsoft:session-cannot-be-locked") == 0 ||
                    strcmp(name, "com.microsoft:timeout") == 0);
}
