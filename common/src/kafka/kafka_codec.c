/* CloudEvents Kafka binding, binary mode: event <-> headers/key/value. Pure functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/json.h"
#include "aos/kafka.h"
#include "aos/utf8.h"

#define EXT_NAME_MAX 24 /* "ce_" + ≤ 20 chars + NUL */

aos_result aos_envelope_to_kafka(const aos_event_t *ev, aos_kafka_header_t **out_headers,
                                 size_t *out_count, const char **out_key, char *errbuf,
                                 size_t errlen)
{
    *out_headers = NULL;
    *out_count = 0;
    *out_key = NULL;
    AOS_RETURN_IF_FAILED(aos_event_validate(ev, errbuf, errlen));
    size_t max = 9 + ev->ext_count;
    aos_kafka_header_t *h = malloc(max * sizeof *h + ev->ext_count * EXT_NAME_MAX);
    if (!h)
        return AOS_ERR_NOMEM;
    char *names = (char *)(h + max);
    size_t n = 0;
#define ADD(hname, val)                                                                            \
    do {                                                                                           \
        if (val) {                                                                                 \
            h[n].name = (hname);                                                                   \
            h[n].value = (val);                                                                    \
            h[n].value_len = strlen(val);                                                          \
            n++;                                                                                   \
        }                                                                                          \
    } while (0)
    ADD("ce_specversion", "1.0");
    ADD("ce_id", ev->id);
    ADD("ce_type", ev->type);
    ADD("ce_source", ev->source);
    ADD("ce_time", ev->time);
    ADD("ce_subject", ev->subject);
    ADD("ce_dataschema", ev->dataschema);
    ADD("content-type", ev->datacontenttype ? ev->datacontenttype : "application/json");
    ADD("traceparent", ev->traceparent);
    for (size_t i = 0; i < ev->ext_count; i++) {
        char *name = names + i * EXT_NAME_MAX;
        snprintf(name, EXT_NAME_MAX, "ce_%s", ev->ext[i].name);
        ADD(name, ev->ext[i].value);
    }
#undef ADD
    *out_headers = h;
    *out_count = n;
    *out_key = ev->group_id ? ev->group_id : ev->subject;
    return AOS_OK;
}

/* Store a header value as a string attribute, strictly. */
static aos_result take_string(char **field, const aos_kafka_header_t *h, const char *attr,
                              char *errbuf, size_t errlen)
{
    if (*field)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%s' appears twice", attr);
    if (!h->value)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%s' has a null value", attr);
    if (memchr(h->value, '\0', h->value_len) || !aos_utf8_valid(h->value, h->value_len))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%s' is not valid UTF-8 text",
                        attr);
    char *s = malloc(h->value_len + 1);
    if (!s)
        return AOS_ERR_NOMEM;
    memcpy(s, h->value, h->value_len);
    s[h->value_len] = '\0';
    *field = s;
    return AOS_OK;
}

typedef struct {
    aos_event_t *ev;
    char *specversion;
    char *content_type;
    char *alt_traceparent; /* ce_traceparent (tracing extension form) */
} kctx;

static aos_result read_header(kctx *c, const aos_kafka_header_t *h, char *errbuf, size_t errlen)
{
    aos_event_t *ev = c->ev;
    const char *name = h->name ? h->name : "";
    if (strcasecmp(name, "content-type") == 0)
        return take_string(&c->content_type, h, "datacontenttype", errbuf, errlen);
    if (strcmp(name, "traceparent") == 0)
        return take_string(&ev->traceparent, h, "traceparent", errbuf, errlen);
    if (strncmp(name, "ce_", 3) != 0)
        return AOS_OK; /* somebody else's header */
    const char *attr = name + 3;
    struct {
        const char *name;
        char **slot;
    } core[] = {{"specversion", &c->specversion},
                {"id", &ev->id},
                {"type", &ev->type},
                {"source", &ev->source},
                {"time", &ev->time},
                {"subject", &ev->subject},
                {"dataschema", &ev->dataschema},
                {"traceparent", &c->alt_traceparent}};
    for (size_t i = 0; i < sizeof core / sizeof *core; i++)
        if (strcmp(attr, core[i].name) == 0)
            return take_string(core[i].slot, h, attr, errbuf, errlen);
    if (aos_event_get_ext(ev, attr))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%.24s' appears twice", attr);
    char *value = NULL;
    aos_result r = take_string(&value, h, attr, errbuf, errlen);
    if (r == AOS_OK) {
        r = aos_event_set_ext(ev, attr, value);
        if (r == AOS_ERR_INVALID)
            r = aos_fail(r, errbuf, errlen, "invalid extension attribute name '%.24s'", attr);
        else if (r == AOS_ERR_TOO_LARGE)
            r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "more than %d extension attributes",
                         AOS_EVENT_MAX_EXTENSIONS);
    }
    free(value);
    return r;
}

static bool is_structured(const char *ct)
{
    return ct && strncasecmp(ct, "application/cloudevents+json", 28) == 0 &&
           (ct[28] == '\0' || ct[28] == ';');
}

static aos_result apply_key(aos_event_t *ev, const void *key, size_t key_len)
{
    if (!key || key_len == 0 || memchr(key, '\0', key_len) || !aos_utf8_valid(key, key_len))
        return AOS_OK; /* a binary key is not a conversation id */
    if (ev->subject && strlen(ev->subject) == key_len && memcmp(ev->subject, key, key_len) == 0)
        return AOS_OK;
    char *k = malloc(key_len + 1);
    if (!k)
        return AOS_ERR_NOMEM;
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    free(ev->group_id);
    ev->group_id = k;
    return AOS_OK;
}

static aos_result decode_binary(kctx *c, const aos_kafka_header_t *headers, size_t n,
                                const void *value, size_t value_len, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        AOS_RETURN_IF_FAILED(read_header(c, &headers[i], errbuf, errlen));
    if (!c->specversion)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "missing required attribute 'specversion' (ce_specversion)");
    if (strcmp(c->specversion, "1.0") != 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "unsupported specversion '%.16s'",
                        c->specversion);
    aos_event_t *ev = c->ev;
    if (!ev->traceparent) {
        ev->traceparent = c->alt_traceparent;
        c->alt_traceparent = NULL;
    }
    ev->datacontenttype = c->content_type;
    c->content_type = NULL;
    if (!ev->datacontenttype)
        AOS_RETURN_IF_FAILED(aos_event_set(&ev->datacontenttype, "application/json"));
    if (value && value_len)
        AOS_RETURN_IF_FAILED(aos_event_set_data(ev, value, value_len));
    return aos_event_validate(ev, errbuf, errlen);
}

aos_result aos_envelope_from_kafka(const aos_kafka_header_t *headers, size_t header_count,
                                   const void *value, size_t value_len, const void *key,
                                   size_t key_len, aos_event_t **out_event, char *errbuf,
                                   size_t errlen)
{
    *out_event = NULL;
    for (size_t i = 0; i < header_count; i++) {
        const char *name = headers[i].name ? headers[i].name : "";
        if (strcasecmp(name, "content-type") == 0 && headers[i].value &&
            headers[i].value_len < 64) {
            char ct[64];
            memcpy(ct, headers[i].value, headers[i].value_len);
            ct[headers[i].value_len] = '\0';
            if (is_structured(ct)) {
                AOS_RETURN_IF_FAILED(
                    aos_event_from_json(value, value_len, out_event, errbuf, errlen));
                aos_result r = apply_key(*out_event, key, key_len);
                if (r != AOS_OK) {
                    aos_event_free(*out_event);
                    *out_event = NULL;
                }
                return r;
            }
        }
    }
    kctx c = {0};
    AOS_RETURN_IF_FAILED(aos_event_new(&c.ev));
    aos_result r = decode_binary(&c, headers, header_count, value, value_len, errbuf, errlen);
    if (r == AOS_OK)
        r = apply_key(c.ev, key, key_len);
    free(c.specversion);
    free(c.content_type);
    free(c.alt_traceparent);
    if (r != AOS_OK) {
        aos_event_free(c.ev);
        return r;
    }
    *out_event = c.ev;
    return AOS_OK;
}
