/* sb_peer: the entity management node "<entity>/$management" for lock renewal, as Service Bus
 * answers it (AMQP request/response; docs: "AMQP 1.0 in Azure Service Bus: request-response
 * operations"): application-property "operation"; body an AMQP value map;
 *   com.microsoft:renew-lock          {"lock-tokens": uuid[]}  -> {"expirations": timestamp[]}
 *   com.microsoft:renew-session-lock  {"session-id": string}   -> {"expiration": timestamp}
 * answered with correlation-id = the request's message-id, application-properties
 * statusCode (200; 410 when a lock is lost) and statusDescription (errorCondition on error). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <proton/codec.h>
#include <proton/message.h>

#include "sb_peer_internal.h"

/* Position map (entered) at the value of key; false if absent. */
static bool map_find(pn_data_t *d, const char *key)
{
    pn_data_rewind(d);
    if (!pn_data_next(d) || pn_data_type(d) != PN_MAP)
        return false;
    pn_data_enter(d);
    while (pn_data_next(d)) {
        bool match = false;
        if (pn_data_type(d) == PN_STRING || pn_data_type(d) == PN_SYMBOL) {
            pn_bytes_t k =
                pn_data_type(d) == PN_STRING ? pn_data_get_string(d) : pn_data_get_symbol(d);
            match = k.size == strlen(key) && memcmp(k.start, key, k.size) == 0;
        }
        if (!pn_data_next(d))
            return false;
        if (match)
            return true;
    }
    return false;
}

static void app_string(pn_message_t *m, const char *key, char *out, size_t outlen)
{
    out[0] = '\0';
    pn_data_t *p = pn_message_properties(m);
    if (map_find(p, key) && pn_data_type(p) == PN_STRING) {
        pn_bytes_t v = pn_data_get_string(p);
        snprintf(out, outlen, "%.*s", (int)v.size, v.start);
    }
}

/* Wall-clock timestamp (ms) for a lock that ends at mono_until (sb_sessions_now_ms clock). */
static int64_t to_wall(uint64_t mono_until)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return wall + (int64_t)(mono_until - sb_sessions_now_ms());
}

static void answer(pn_connection_t *c, pn_message_t *req, int status, const char *cond,
                   const char *desc, pn_message_t *resp)
{
    pn_message_set_correlation_id(resp, pn_message_get_id(req));
    pn_data_t *ap = pn_message_properties(resp);
    pn_data_put_map(ap);
    pn_data_enter(ap);
    pn_data_put_string(ap, pn_bytes(10, "statusCode"));
    pn_data_put_int(ap, status);
    pn_data_put_string(ap, pn_bytes(17, "statusDescription"));
    pn_data_put_string(ap, pn_bytes(strlen(desc), desc));
    if (cond) {
        pn_data_put_string(ap, pn_bytes(14, "errorCondition"));
        pn_data_put_symbol(ap, pn_bytes(strlen(cond), cond));
    }
    pn_data_exit(ap);
    sb_peer_send_reply(c, pn_message_get_reply_to(req), resp);
}

static void renew_lock(sb_sessions_t *s, pn_connection_t *c, const char *entity, pn_message_t *req)
{
    pn_data_t *body = pn_message_body(req);
    pn_message_t *resp = pn_message();
    int64_t exp[64];
    size_t n = 0;
    bool lost = false, ok = map_find(body, "lock-tokens") && pn_data_type(body) == PN_ARRAY &&
                            pn_data_get_array_type(body) == PN_UUID;
    if (ok) {
        pn_data_enter(body);
        while (n < 64 && pn_data_next(body)) {
            pn_uuid_t u = pn_data_get_uuid(body);
            /* Service Bus: the uuid is the lock token in RFC 4122 byte order; the delivery
             * tag carried it as .NET's Guid.ToByteArray() (first three groups swapped). A
             * client that echoes the raw tag names no lock it holds. */
            static const unsigned char order[16] = {3, 2, 1,  0,  5,  4,  7,  6,
                                                    8, 9, 10, 11, 12, 13, 14, 15};
            unsigned char tag[16];
            for (int i = 0; i < 16; i++)
                tag[i] = (unsigned char)u.bytes[order[i]];
            uint64_t until = sb_sessions_renew_lock(s, entity, tag);
            if (!until)
                lost = true;
            else
                exp[n++] = to_wall(until);
        }
        pn_data_exit(body);
    }
    if (!ok) {
        answer(c, req, 400, "amqp:invalid-field", "lock-tokens (uuid[]) required", resp);
    } else if (lost) {
        sb_peer_note(sb_sessions_peer(s), "renew-lock-lost %s", entity);
        answer(c, req, 410, "com.microsoft:message-lock-lost",
               "The lock supplied is invalid. Either the lock expired, or the message has "
               "already been removed from the queue.",
               resp);
    } else {
        pn_data_t *b = pn_message_body(resp);
        pn_data_put_map(b);
        pn_data_enter(b);
        pn_data_put_string(b, pn_bytes(11, "expirations"));
        pn_data_put_array(b, false, PN_TIMESTAMP);
        pn_data_enter(b);
        for (size_t i = 0; i < n; i++)
            pn_data_put_timestamp(b, exp[i]);
        pn_data_exit(b);
        pn_data_exit(b);
        sb_peer_note(sb_sessions_peer(s), "renew-lock %s %zu", entity, n);
        answer(c, req, 200, NULL, "OK", resp);
    }
    pn_message_free(resp);
}

static void renew_session_lock(sb_sessions_t *s, pn_connection_t *c, const char *entity,
                               pn_message_t *req)
{
    pn_data_t *body = pn_message_body(req);
    pn_message_t *resp = pn_message();
    char session[128] = "";
    if (map_find(body, "session-id") && pn_data_type(body) == PN_STRING) {
        pn_bytes_t v = pn_data_get_string(body);
        snprintf(session, sizeof session, "%.*s", (int)v.size, v.start);
    }
    uint64_t until = session[0] ? sb_sessions_renew_session(s, c, entity, session) : 0;
    if (!session[0]) {
        answer(c, req, 400, "amqp:invalid-field", "session-id required", resp);
    } else if (!until) {
        sb_peer_note(sb_sessions_peer(s), "renew-session-lock-lost %s %s", entity, session);
        answer(c, req, 410, "com.microsoft:session-lock-lost",
               "The session lock has expired on the MessageSession. Accept a new "
               "MessageSession.",
               resp);
    } else {
        pn_data_t *b = pn_message_body(resp);
        pn_data_put_map(b);
        pn_data_enter(b);
        pn_data_put_string(b, pn_bytes(10, "expiration"));
        pn_data_put_timestamp(b, to_wall(until));
        pn_data_exit(b);
        sb_peer_note(sb_sessions_peer(s), "renew-session-lock %s %s", entity, session);
        answer(c, req, 200, NULL, "OK", resp);
    }
    pn_message_free(resp);
}

void sb_mgmt_request(sb_sessions_t *s, pn_connection_t *c, const char *target, pn_message_t *m)
{
    char entity[256], op[128];
    sb_entity_of(target, entity, sizeof entity);
    app_string(m, "operation", op, sizeof op);
    if (strcmp(op, "com.microsoft:renew-lock") == 0) {
        renew_lock(s, c, entity, m);
    } else if (strcmp(op, "com.microsoft:renew-session-lock") == 0) {
        renew_session_lock(s, c, entity, m);
    } else {
        pn_message_t *resp = pn_message();
        answer(c, m, 501, "amqp:not-implemented", "operation not supported by the test peer", resp);
        pn_message_free(resp);
    }
}
