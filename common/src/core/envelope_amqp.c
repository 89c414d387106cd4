/* CloudEvents AMQP protocol binding, binary content mode: written with Proton's message API,
 * read from the message bytes directly (aos/amqp.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/error.h>
#include <proton/message.h>

#include "aos/amqp.h"
#include "aos/envelope.h"
#include "aos/json.h"
#include "aos/utf8.h"
#include "envelope_internal.h"

#define CE_PREFIX "cloudEvents:"
#define CE_PREFIX_LEN 12
/* Some clients (JMS-style) write "cloudEvents_" since ':' is awkward in selectors. */
#define CE_PREFIX_ALT "cloudEvents_"

static int put_str(pn_data_t *d, const char *s)
{
    return pn_data_put_string(d, pn_bytes(strlen(s), s));
}

static int put_prop(pn_data_t *d, const char *key, const char *value)
{
    if (!value)
        return 0;
    int rc = put_str(d, key);
    return rc ? rc : put_str(d, value);
}

/* key: the full "cloudEvents:<attr>" name (constant for the core attributes) */
static int put_ce_prop(pn_data_t *d, const char *key, const char *value)
{
    return put_prop(d, key, value);
}

static int put_ce_ext(pn_data_t *d, const char *attr, const char *value)
{
    if (!value)
        return 0;
    char key[CE_PREFIX_LEN + 32];
    size_t n = strlen(attr);
    if (n > sizeof key - CE_PREFIX_LEN - 1)
        n = sizeof key - CE_PREFIX_LEN - 1; /* extension names are at most 20 characters */
    memcpy(key, CE_PREFIX, CE_PREFIX_LEN);
    memcpy(key + CE_PREFIX_LEN, attr, n);
    key[CE_PREFIX_LEN + n] = '\0';
    return put_prop(d, key, value);
}

static int write_app_properties(const aos_event_t *ev, pn_data_t *d)
{
    int rc = pn_data_put_map(d);
    if (rc || !pn_data_enter(d))
        return rc ? rc : PN_ERR;
    rc = put_ce_prop(d, CE_PREFIX "specversion", "1.0");
    if (!rc)
        rc = put_ce_prop(d, CE_PREFIX "id", ev->id);
    if (!rc)
        rc = put_ce_prop(d, CE_PREFIX "type", ev->type);
    if (!rc)
        rc = put_ce_prop(d, CE_PREFIX "source", ev->source);
    if (!rc)
        rc = put_ce_prop(d, CE_PREFIX "time", ev->time);
    if (!rc)
        rc = put_ce_prop(d, CE_PREFIX "subject", ev->subject);
    if (!rc)
        rc = put_ce_prop(d, CE_PREFIX "dataschema", ev->dataschema);
    for (size_t i = 0; !rc && i < ev->ext_count; i++)
        rc = put_ce_ext(d, ev->ext[i].name, ev->ext[i].value);
    if (!rc)
        rc = put_prop(d, "traceparent", ev->traceparent);
    pn_data_exit(d);
    return rc;
}

aos_result aos_envelope_to_message(const aos_event_t *ev, struct pn_message_t *msg, char *errbuf,
                                   size_t errlen)
{
    AOS_RETURN_IF_FAILED(aos_event_validate(ev, errbuf, errlen));
    pn_message_clear(msg);
    int rc = pn_message_set_durable(msg, true);
    if (!rc && ev->ttl_ms)
        rc = pn_message_set_ttl(msg, ev->ttl_ms);
    pn_atom_t id = {.type = PN_STRING};
    id.u.as_bytes = pn_bytes(strlen(ev->id), ev->id);
    if (!rc)
        rc = pn_message_set_id(msg, id);
    if (!rc && ev->correlation_id) {
        pn_atom_t cid = {.type = PN_STRING};
        cid.u.as_bytes = pn_bytes(strlen(ev->correlation_id), ev->correlation_id);
        rc = pn_message_set_correlation_id(msg, cid);
    }
    /* The AMQP subject carries the event type: RabbitMQ uses it as routing key when the
     * target exchange address names none, Service Bus filters match on it. */
    if (!rc)
        rc = pn_message_set_subject(msg, ev->type);
    if (!rc && ev->reply_to)
        rc = pn_message_set_reply_to(msg, ev->reply_to);
    if (!rc && ev->group_id)
        rc = pn_message_set_group_id(msg, ev->group_id);
    if (!rc && ev->reply_to_group_id)
        rc = pn_message_set_reply_to_group_id(msg, ev->reply_to_group_id);
    if (!rc)
        rc = pn_message_set_content_type(msg, ev->datacontenttype ? ev->datacontenttype
                                                                  : "application/json");
    if (!rc)
        rc = write_app_properties(ev, pn_message_properties(msg));
    if (!rc && ev->data && ev->data_len > 0) {
        /* inferred + binary body = one data section */
        rc = pn_message_set_inferred(msg, true);
        if (!rc)
            rc = pn_data_put_binary(pn_message_body(msg), pn_bytes(ev->data_len, ev->data));
    }
    if (rc) {
        pn_message_clear(msg);
        return aos_fail(rc == PN_OUT_OF_MEMORY ? AOS_ERR_NOMEM : AOS_ERR_INTERNAL, errbuf, errlen,
                        "building AMQP message failed: %s", pn_code(rc));
    }
    return AOS_OK;
}

/* ---- decoding: from the checked view of the message bytes (aos/amqp.h) ---- */

typedef struct {
    aos_event_t *ev;
    char *specversion;
    char *alt_content_type; /* cloudEvents:datacontenttype, when a sender put it there */
    char *alt_traceparent;  /* cloudEvents:traceparent (tracing extension form) */
} decode_ctx;

/* Render a scalar AMQP value as its CloudEvents canonical string. */
static aos_result scalar_to_string(const aos_amqp_value_t *v, const char *attr, char **out,
                                   char *errbuf, size_t errlen)
{
    char buf[40];
    aos_amqp_str_t s;
    bool b;
    int32_t i32;
    int64_t i64;
    uint32_t u32;
    uint64_t u64;
    if (aos_amqp_get_string(v, &s))
        return aos_event_set_checked_(out, s.start, s.size, attr, errbuf, errlen);
    if (aos_amqp_get_bool(v, &b))
        snprintf(buf, sizeof buf, "%s", b ? "true" : "false");
    else if (aos_amqp_get_int(v, &i32))
        snprintf(buf, sizeof buf, "%" PRId32, i32);
    else if (aos_amqp_get_long(v, &i64))
        snprintf(buf, sizeof buf, "%" PRId64, i64);
    else if (aos_amqp_get_uint(v, &u32))
        snprintf(buf, sizeof buf, "%" PRIu32, u32);
    else if (aos_amqp_get_ulong(v, &u64))
        snprintf(buf, sizeof buf, "%" PRIu64, u64);
    else if (aos_amqp_get_timestamp(v, &i64))
        aos_time_format_ms_(i64, buf);
    else
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "attribute '%s' has an unsupported AMQP type (%s)", attr,
                        aos_amqp_type_name(v->code));
    return aos_event_set(out, buf);
}

static char **attr_slot(decode_ctx *c, const char *attr)
{
    aos_event_t *ev = c->ev;
    if (strcmp(attr, "specversion") == 0)
        return &c->specversion;
    if (strcmp(attr, "id") == 0)
        return &ev->id;
    if (strcmp(attr, "type") == 0)
        return &ev->type;
    if (strcmp(attr, "source") == 0)
        return &ev->source;
    if (strcmp(attr, "time") == 0)
        return &ev->time;
    if (strcmp(attr, "subject") == 0)
        return &ev->subject;
    if (strcmp(attr, "dataschema") == 0)
        return &ev->dataschema;
    if (strcmp(attr, "datacontenttype") == 0)
        return &c->alt_content_type;
    if (strcmp(attr, "traceparent") == 0)
        return &c->alt_traceparent;
    return NULL;
}

static aos_result read_ce_attr(decode_ctx *c, const char *attr, const aos_amqp_value_t *v,
                               char *errbuf, size_t errlen)
{
    char **slot = attr_slot(c, attr);
    if (slot) {
        if (*slot)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%s' appears twice", attr);
        /* time may be an AMQP timestamp; everything else core is a string. */
        aos_amqp_str_t s;
        if (!aos_amqp_get_string(v, &s) &&
            !(strcmp(attr, "time") == 0 && v->code == AOS_AMQP_TIMESTAMP))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%s' must be a string",
                            attr);
        return scalar_to_string(v, attr, slot, errbuf, errlen);
    }
    if (!aos_event_ext_name_valid_(attr, strlen(attr)) || aos_event_attr_reserved_(attr))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "invalid extension attribute name '%s'",
                        attr);
    if (aos_event_get_ext(c->ev, attr))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%s' appears twice", attr);
    if (c->ev->ext_count >= AOS_EVENT_MAX_EXTENSIONS)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "more than %d extension attributes",
                        AOS_EVENT_MAX_EXTENSIONS);
    char *value = NULL;
    AOS_RETURN_IF_FAILED(scalar_to_string(v, attr, &value, errbuf, errlen));
    aos_result r = aos_event_set_ext(c->ev, attr, value);
    free(value);
    return r;
}

static aos_result read_app_properties(decode_ctx *c, const aos_amqp_value_t *map, char *errbuf,
                                      size_t errlen)
{
    aos_amqp_iter_t it;
    aos_amqp_iter_init(&it, map);
    aos_amqp_value_t kv, v;
    aos_result r = AOS_OK;
    while (r == AOS_OK && aos_amqp_iter_next(&it, &kv)) {
        aos_amqp_str_t k;
        if (!aos_amqp_get_string(&kv, &k))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "application-properties key is not a string");
        if (!aos_amqp_iter_next(&it, &v)) /* a checked map has an even count */
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "application-properties key lacks a value");
        char key[64];
        if (k.size >= sizeof key || memchr(k.start, '\0', k.size))
            continue; /* not ours: longer than any CloudEvents attribute name */
        memcpy(key, k.start, k.size);
        key[k.size] = '\0';
        if (strncmp(key, CE_PREFIX, CE_PREFIX_LEN) == 0 ||
            strncmp(key, CE_PREFIX_ALT, CE_PREFIX_LEN) == 0)
            r = read_ce_attr(c, key + CE_PREFIX_LEN, &v, errbuf, errlen);
        else if (strcmp(key, "traceparent") == 0) {
            aos_amqp_str_t s;
            if (c->ev->traceparent)
                r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "'traceparent' appears twice");
            else if (!aos_amqp_get_string(&v, &s))
                r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "'traceparent' must be a string");
            else
                r = aos_event_set_checked_(&c->ev->traceparent, s.start, s.size, "traceparent",
                                           errbuf, errlen);
        }
    }
    return r;
}

/* message-id / correlation-id: string, uuid or ulong; other types are not ours to read. */
static aos_result read_msgid(const aos_amqp_value_t *v, char **out)
{
    char buf[40];
    aos_amqp_str_t s;
    uint64_t u;
    if (aos_amqp_get_string(v, &s)) {
        if (memchr(s.start, '\0', s.size) || !aos_utf8_valid(s.start, s.size))
            return AOS_OK;
        free(*out);
        *out = aos_strndup_(s.start, s.size);
        return *out ? AOS_OK : AOS_ERR_NOMEM;
    }
    if (aos_amqp_get_ulong(v, &u)) {
        snprintf(buf, sizeof buf, "%" PRIu64, u);
        return aos_event_set(out, buf);
    }
    if (v->code == AOS_AMQP_UUID) {
        const unsigned char *b = (const unsigned char *)v->data;
        snprintf(buf, sizeof buf,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                 b[15]);
        return aos_event_set(out, buf);
    }
    return AOS_OK;
}

static aos_result read_body(aos_event_t *ev, const aos_amqp_message_t *m, char *errbuf,
                            size_t errlen)
{
    const aos_amqp_value_t *v = &m->body;
    switch (m->body_kind) {
    case AOS_AMQP_BODY_NONE:
        return AOS_OK;
    case AOS_AMQP_BODY_DATA:
        break;
    case AOS_AMQP_BODY_SEQUENCE:
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "unsupported message body (amqp-sequence): expected one data section");
    case AOS_AMQP_BODY_VALUE:
        if (v->code == AOS_AMQP_NULL)
            return AOS_OK;
        if (v->code != AOS_AMQP_VBIN8 && v->code != AOS_AMQP_VBIN32 && v->code != AOS_AMQP_STR8 &&
            v->code != AOS_AMQP_STR32)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "unsupported message body (%s): expected one data section",
                            aos_amqp_type_name(v->code));
        break;
    }
    return v->size ? aos_event_set_data(ev, v->data, v->size) : AOS_OK;
}

static aos_result read_str(char **field, aos_amqp_str_t s, const char *attr, char *errbuf,
                           size_t errlen)
{
    return s.start ? aos_event_set_checked_(field, s.start, s.size, attr, errbuf, errlen) : AOS_OK;
}

static aos_result read_properties(aos_event_t *ev, const aos_amqp_message_t *m, decode_ctx *c,
                                  char *errbuf, size_t errlen)
{
    aos_result r = read_msgid(&m->correlation_id, &ev->correlation_id);
    if (r == AOS_OK)
        r = read_str(&ev->reply_to, m->reply_to, "reply-to", errbuf, errlen);
    if (r == AOS_OK)
        r = read_str(&ev->group_id, m->group_id, "group-id", errbuf, errlen);
    if (r == AOS_OK)
        r = read_str(&ev->reply_to_group_id, m->reply_to_group_id, "reply-to-group-id", errbuf,
                     errlen);
    aos_amqp_str_t ct = m->content_type;
    if (!ct.start && c->alt_content_type)
        ct = (aos_amqp_str_t){c->alt_content_type, strlen(c->alt_content_type)};
    if (!ct.start)
        ct = (aos_amqp_str_t){"application/json", 16};
    if (r == AOS_OK)
        r = read_str(&ev->datacontenttype, ct, "datacontenttype", errbuf, errlen);
    if (r == AOS_OK && !ev->traceparent && c->alt_traceparent) {
        ev->traceparent = c->alt_traceparent;
        c->alt_traceparent = NULL;
    }
    ev->ttl_ms = m->ttl_ms;
    ev->delivery_count = m->delivery_count;
    return r;
}

aos_result aos_envelope_from_amqp(const aos_amqp_message_t *m, aos_event_t **out_event,
                                  char *errbuf, size_t errlen)
{
    *out_event = NULL;
    decode_ctx c = {0};
    AOS_RETURN_IF_FAILED(aos_event_new(&c.ev));
    aos_result r = read_app_properties(&c, &m->app_properties, errbuf, errlen);
    if (r == AOS_OK && !c.specversion)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                     "missing required attribute 'specversion' (cloudEvents:specversion)");
    if (r == AOS_OK && strcmp(c.specversion, "1.0") != 0)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "unsupported specversion '%.16s'",
                     c.specversion);
    if (r == AOS_OK)
        r = read_properties(c.ev, m, &c, errbuf, errlen);
    if (r == AOS_OK)
        r = read_body(c.ev, m, errbuf, errlen);
    if (r == AOS_OK)
        r = aos_event_validate(c.ev, errbuf, errlen);
    free(c.specversion);
    free(c.alt_content_type);
    free(c.alt_traceparent);
    if (r != AOS_OK) {
        aos_event_free(c.ev);
        return r;
    }
    *out_event = c.ev;
    return AOS_OK;
}

/* A pn_message_t is read through its encoding: one decoder for every way in. */
aos_result aos_envelope_from_message(struct pn_message_t *msg, aos_event_t **out_event,
                                     char *errbuf, size_t errlen)
{
    *out_event = NULL;
    char small[4096], *buf = small;
    size_t cap = sizeof small, size = cap;
    int rc;
    while ((rc = pn_message_encode(msg, buf, &size)) == PN_OVERFLOW && cap < ((size_t)1 << 30)) {
        if (buf != small)
            free(buf);
        cap *= 2;
        size = cap;
        if (!(buf = malloc(cap)))
            return AOS_ERR_NOMEM;
    }
    aos_result r;
    if (rc != 0)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "cannot encode the AMQP message: %s",
                     pn_code(rc));
    else
        r = aos_envelope_decode(buf, size, out_event, errbuf, errlen);
    if (buf != small)
        free(buf);
    return r;
}

aos_result aos_envelope_encode(const aos_event_t *ev, char **out_buf, size_t *out_len)
{
    *out_buf = NULL;
    *out_len = 0;
    pn_message_t *msg = pn_message();
    if (!msg)
        return AOS_ERR_NOMEM;
    aos_result r = aos_envelope_to_message(ev, msg, NULL, 0);
    size_t cap = 512 + (ev && ev->data ? ev->data_len : 0);
    char *buf = NULL;
    while (r == AOS_OK) {
        char *nb = realloc(buf, cap);
        if (!nb) {
            r = AOS_ERR_NOMEM;
            break;
        }
        buf = nb;
        size_t size = cap;
        int rc = pn_message_encode(msg, buf, &size);
        if (rc == 0) {
            *out_buf = buf;
            *out_len = size;
            buf = NULL;
            break;
        }
        if (rc != PN_OVERFLOW || cap > SIZE_MAX / 2)
            r = AOS_ERR_INTERNAL;
        cap *= 2;
    }
    free(buf);
    pn_message_free(msg);
    return r;
}

aos_result aos_envelope_decode(const char *buf, size_t len, aos_event_t **out_event, char *errbuf,
                               size_t errlen)
{
    *out_event = NULL;
    aos_amqp_message_t m;
    AOS_RETURN_IF_FAILED(aos_amqp_message_parse(buf, len, &m, errbuf, errlen));
    return aos_envelope_from_amqp(&m, out_event, errbuf, errlen);
}
