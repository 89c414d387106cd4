/* Message bytes: events to durable AMQP messages and back, delivery counts, and the copies
 * the RabbitMQ profile publishes for dead letters and counted redelivery. Received bytes are
 * read in place (aos/amqp.h, common/src/core/amqp_read.c), not through pn_message_t. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proton/codec.h>
#include <proton/error.h>
#include <proton/message.h>

#include "aos/amqp.h"
#include "aos/envelope.h"
#include "bus_internal.h"
#include "bus_util.h"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One pn_message_t per thread for the copies encoded with it: a message object is a dozen
 * allocations (its pn_data_t and strings), which showed as much as the encoding itself in
 * profiles. Kept cleared; dropped after a large message so that its buffers do not stay. */
#define MSG_KEEP_MAX_BYTES (64u * 1024u)
static pthread_key_t msg_key;
static pthread_once_t msg_once = PTHREAD_ONCE_INIT;

static void msg_key_free(void *m)
{
    pn_message_free(m);
}

static void msg_key_make(void)
{
    pthread_key_create(&msg_key, msg_key_free);
}

static pn_message_t *msg_take(void)
{
    pthread_once(&msg_once, msg_key_make);
    pn_message_t *m = pthread_getspecific(msg_key);
    if (m) {
        pthread_setspecific(msg_key, NULL); /* taken: a nested use gets a message of its own */
        return m;                           /* cleared when it was given back */
    }
    return pn_message();
}

static void msg_give_back(pn_message_t *m, size_t bytes)
{
    if (!m)
        return;
    if (bytes > MSG_KEEP_MAX_BYTES || pthread_getspecific(msg_key)) {
        pn_message_free(m);
        return;
    }
    pn_message_clear(m);
    pthread_setspecific(msg_key, m);
}

typedef struct bus_prop {
    const char *key;
    const char *str; /* string value, or NULL for num */
    uint32_t num;
} bus_prop_t;

/* Append props to the message's application-properties map (creating it). Keys must not be
 * present yet: the envelope writes only "cloudEvents:*" and "traceparent". */
static void props_append(pn_message_t *m, const bus_prop_t *props, size_t n)
{
    pn_data_t *p = pn_message_properties(m);
    pn_data_rewind(p);
    if (!pn_data_next(p) || pn_data_type(p) != PN_MAP) {
        pn_data_clear(p);
        pn_data_put_map(p);
    }
    pn_data_enter(p);
    while (pn_data_next(p))
        ;
    for (size_t i = 0; i < n; i++) {
        pn_data_put_string(p, pn_bytes(strlen(props[i].key), props[i].key));
        if (props[i].str)
            pn_data_put_string(p, pn_bytes(strlen(props[i].str), props[i].str));
        else
            pn_data_put_uint(p, props[i].num);
    }
    pn_data_exit(p);
}

static uint32_t clamp_count(int64_t v)
{
    return v < 0 ? 0 : v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static bool key_is(aos_amqp_str_t k, const char *name)
{
    size_t n = strlen(name);
    return k.size == n && memcmp(k.start, name, n) == 0;
}

static char *string_value(const aos_amqp_value_t *v)
{
    aos_amqp_str_t s;
    if (!aos_amqp_get_string(v, &s) || memchr(s.start, '\0', s.size))
        return NULL;
    return strndup(s.start, s.size);
}

/* One pass over application-properties for what the bus itself reads. */
static void read_bus_props(const aos_amqp_message_t *m, bus_msg_info_t *info, uint32_t *count)
{
    aos_amqp_iter_t it;
    aos_amqp_iter_init(&it, &m->app_properties);
    aos_amqp_value_t kv, v;
    while (aos_amqp_iter_next(&it, &kv) && aos_amqp_iter_next(&it, &v)) {
        aos_amqp_str_t k = {NULL, 0};
        if (!aos_amqp_get_string(&kv, &k))
            continue;
        char **field = NULL;
        if (key_is(k, BUS_PROP_DELIVERY_COUNT)) {
            uint32_t u;
            int32_t i;
            int64_t l;
            if (aos_amqp_get_uint(&v, &u))
                *count = u;
            else if (aos_amqp_get_int(&v, &i))
                *count = clamp_count(i);
            else if (aos_amqp_get_long(&v, &l))
                *count = clamp_count(l);
        } else if (key_is(k, BUS_PROP_DL_REASON) || key_is(k, "DeadLetterReason")) {
            field = &info->dl_reason;
        } else if (key_is(k, BUS_PROP_DL_DESCRIPTION) || key_is(k, "DeadLetterErrorDescription")) {
            field = &info->dl_description;
        } else if (key_is(k, BUS_PROP_DL_SOURCE)) {
            field = &info->dl_source;
        }
        if (field && !*field)
            *field = string_value(&v);
    }
}

void bus_msg_info_clear(bus_msg_info_t *info)
{
    free(info->dl_reason);
    free(info->dl_description);
    free(info->dl_source);
    memset(info, 0, sizeof *info);
}

static aos_result encode_message(pn_message_t *m, char **out, size_t *out_len)
{
    /* most messages fit the stack buffer and get a heap copy of their exact size (a 1 KiB
     * guess per message is a large-bin allocation: glibc consolidates its fast bins on each) */
    char small[2048];
    size_t size = sizeof small;
    if (pn_message_encode(m, small, &size) == 0) {
        char *buf = malloc(size ? size : 1);
        if (!buf)
            return AOS_ERR_NOMEM;
        memcpy(buf, small, size);
        *out = buf;
        *out_len = size;
        return AOS_OK;
    }
    size_t cap = 2 * sizeof small;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf)
            return AOS_ERR_NOMEM;
        size_t size = cap;
        int rc = pn_message_encode(m, buf, &size);
        if (rc == 0) {
            *out = buf;
            *out_len = size;
            return AOS_OK;
        }
        free(buf);
        if (rc != PN_OVERFLOW || cap > ((size_t)1 << 30))
            return AOS_ERR_INTERNAL;
        cap *= 2;
    }
}

/* stamp_ms > 0: creation-time (and absolute-expiry-time with a ttl) from it */
static aos_result encode_with_props(const aos_event_t *ev, const char *subject,
                                    const bus_prop_t *props, size_t nprops, int64_t stamp_ms,
                                    char **out, size_t *out_len, char *errbuf, size_t errlen)
{
    pn_message_t *m = msg_take();
    if (!m)
        return AOS_ERR_NOMEM;
    aos_result r = aos_envelope_to_message(ev, m, errbuf, errlen);
    if (r == AOS_OK) {
        pn_message_set_durable(m, true);
        if (stamp_ms > 0) {
            /* creation-time, and absolute-expiry-time with a ttl: a receiver drops what
             * expired on the way (docs/bus.md "Envelope checks") */
            int64_t now = stamp_ms;
            pn_message_set_creation_time(m, now);
            if (ev->ttl_ms)
                pn_message_set_expiry_time(m, now + (int64_t)ev->ttl_ms);
        }
        if (subject)
            pn_message_set_subject(m, subject);
        if (nprops)
            props_append(m, props, nprops);
        r = encode_message(m, out, out_len);
        if (r != AOS_OK)
            aos_fail(r, errbuf, errlen, "cannot encode the AMQP message");
    }
    msg_give_back(m, r == AOS_OK ? *out_len : 0);
    return r;
}

aos_result bus_msg_encode(const aos_event_t *ev, const char *subject, uint32_t delivery_count,
                          char **out, size_t *out_len, char *errbuf, size_t errlen)
{
    if (!delivery_count) /* every send, request and reply: written directly */
        return bus_msg_write(ev, subject, wall_ms(), out, out_len, errbuf, errlen);
    bus_prop_t count = {BUS_PROP_DELIVERY_COUNT, NULL, delivery_count};
    return encode_with_props(ev, subject, &count, 1, wall_ms(), out, out_len, errbuf, errlen);
}

aos_result bus_msg_encode_pn_(const aos_event_t *ev, const char *subject, int64_t now_ms,
                              char **out, size_t *out_len, char *errbuf, size_t errlen)
{
    return encode_with_props(ev, subject, NULL, 0, now_ms, out, out_len, errbuf, errlen);
}

aos_result bus_msg_decode(aos_bus_profile p, const char *bytes, size_t len, aos_event_t **out_ev,
                          bus_msg_info_t *info, char *errbuf, size_t errlen)
{
    *out_ev = NULL;
    memset(info, 0, sizeof *info);
    /* the bytes are read in place (aos/amqp.h): no pn_message_t, no copy of what the event
     * does not keep */
    aos_amqp_message_t m;
    char why[200] = "";
    aos_result parsed = aos_amqp_message_parse(bytes, len, &m, why, sizeof why);
    /* info from what was read, also of a message that is no envelope: a header before a
     * broken section still counts the delivery */
    uint32_t prop = 0;
    read_bus_props(&m, info, &prop);
    uint32_t count = m.delivery_count;
    if (p == AOS_BUS_PROFILE_RABBITMQ) {
        /* RabbitMQ 3.10 leaves delivery-count unset and only says first-acquirer = not
         * redelivered; the bus's own counted copies carry aos:delivery-count. */
        uint32_t c = prop + (m.first_acquirer ? 0 : 1);
        if (c > count)
            count = c;
    }
    info->count = count;
    info->expired =
        aos_bus_message_expired(m.absolute_expiry_ms, m.creation_ms, m.ttl_ms, wall_ms());
    if (parsed != AOS_OK)
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "undecodable AMQP message: %s", why);
    return aos_envelope_from_amqp(&m, out_ev, errbuf, errlen);
}

aos_result bus_msg_copy(const char *bytes, size_t len, const char *source, uint32_t count,
                        const char *reason, const char *description, char **out, size_t *out_len)
{
    aos_event_t *ev = NULL;
    bus_msg_info_t info;
    char err[256];
    bus_msg_decode(AOS_BUS_PROFILE_RABBITMQ, bytes, len, &ev, &info, err, sizeof err);
    bus_msg_info_clear(&info);
    bus_prop_t props[4];
    size_t n = 0;
    props[n++] = (bus_prop_t){BUS_PROP_DELIVERY_COUNT, NULL, count};
    if (reason) {
        props[n++] = (bus_prop_t){BUS_PROP_DL_REASON, reason, 0};
        props[n++] = (bus_prop_t){BUS_PROP_DL_DESCRIPTION, description ? description : "", 0};
        props[n++] = (bus_prop_t){BUS_PROP_DL_SOURCE, source ? source : "", 0};
    }
    aos_result r;
    if (ev) {
        r = encode_with_props(ev, NULL, props, n, 0, out, out_len, err, sizeof err);
        aos_event_free(ev);
        if (r == AOS_OK || !reason)
            return r;
    }
    /* Not an envelope (or not re-encodable): keep the original bytes as an opaque body. */
    pn_message_t *m = pn_message();
    if (!m)
        return AOS_ERR_NOMEM;
    pn_message_set_durable(m, true);
    pn_message_set_content_type(m, "application/octet-stream");
    pn_data_t *body = pn_message_body(m);
    pn_data_put_binary(body, pn_bytes(len, bytes));
    props_append(m, props, n);
    r = encode_message(m, out, out_len);
    pn_message_free(m);
    return r;
}

aos_result bus_msg_encode_replay(const aos_event_t *ev, const char *message_id, char **out,
                                 size_t *out_len, char *errbuf, size_t errlen)
{
    pn_message_t *m = pn_message();
    if (!m)
        return AOS_ERR_NOMEM;
    aos_result r = aos_envelope_to_message(ev, m, errbuf, errlen);
    if (r == AOS_OK) {
        pn_message_set_durable(m, true);
        pn_message_set_creation_time(m, wall_ms());
        if (ev->ttl_ms)
            pn_message_set_expiry_time(m, wall_ms() + (int64_t)ev->ttl_ms);
        /* a new AMQP message-id, so the broker's duplicate detection (keyed on it) lets the
         * replay in; cloudEvents:id, what consumers dedupe on, stays the event id */
        pn_atom_t id = {.type = PN_STRING};
        id.u.as_bytes = pn_bytes(strlen(message_id), message_id);
        pn_message_set_id(m, id);
        bus_prop_t replay = {BUS_PROP_REPLAY_OF, ev->id, 0};
        props_append(m, &replay, 1);
        r = encode_message(m, out, out_len);
        if (r != AOS_OK)
            aos_fail(r, errbuf, errlen, "cannot encode the AMQP message");
    }
    pn_message_free(m);
    return r;
}
