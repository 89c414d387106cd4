/* The bytes of an outgoing envelope, written directly in the AMQP 1.0 type system: header,
 * properties, application-properties (the CloudEvents attributes) and one data section. The
 * same message aos_envelope_to_message builds with pn_message_t, without a pn_data_t node per
 * field: building and encoding the message object was the largest part of the bus's own CPU
 * per message (docs/bus.md "Cost per message"). Copies with the bus's own properties
 * (dead letters, counted redelivery, replays) still go through pn_message_t (bus_msg.c).
 * test_bus_util decodes what this writes and compares it with the pn_message_t encoding. */
#include <stdlib.h>
#include <string.h>

#include "aos/envelope.h"
#include "bus_internal.h"

typedef struct wbuf {
    char *p;
    size_t len, cap;
    bool oom;
} wbuf_t;

static void w_bytes(wbuf_t *w, const void *b, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 768; /* most envelopes; a small-bin size */
        while (cap < w->len + n)
            cap *= 2;
        char *p = realloc(w->p, cap);
        if (!p) {
            w->oom = true;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, b, n);
    w->len += n;
}

static void w_u8(wbuf_t *w, unsigned v)
{
    unsigned char c = (unsigned char)v;
    w_bytes(w, &c, 1);
}

static void w_u32(wbuf_t *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    w_bytes(w, b, 4);
}

static void w_u64(wbuf_t *w, uint64_t v)
{
    w_u32(w, (uint32_t)(v >> 32));
    w_u32(w, (uint32_t)v);
}

/* str8/str32 (0xa1/0xb1), sym8/sym32 (0xa3/0xb3), vbin8/vbin32 (0xa0/0xb0) */
static void w_var(wbuf_t *w, unsigned code8, unsigned code32, const char *s, size_t n)
{
    if (n <= 255) {
        w_u8(w, code8);
        w_u8(w, (unsigned)n);
    } else {
        w_u8(w, code32);
        w_u32(w, (uint32_t)n);
    }
    w_bytes(w, s, n);
}

static void w_str(wbuf_t *w, const char *s)
{
    w_var(w, 0xa1, 0xb1, s, strlen(s));
}

static void w_str_or_null(wbuf_t *w, const char *s)
{
    if (s)
        w_str(w, s);
    else
        w_u8(w, 0x40);
}

/* A described section whose value is a list32/map32: returns where its size goes. */
static size_t w_compound_begin(wbuf_t *w, unsigned descriptor, unsigned code)
{
    w_u8(w, 0x00);
    w_u8(w, 0x53);
    w_u8(w, descriptor);
    w_u8(w, code);
    size_t at = w->len;
    w_u32(w, 0); /* size */
    w_u32(w, 0); /* count */
    return at;
}

static void w_compound_end(wbuf_t *w, size_t at, uint32_t count)
{
    if (w->oom)
        return;
    uint32_t size = (uint32_t)(w->len - at - 4);
    unsigned char *p = (unsigned char *)w->p + at;
    uint32_t v[2] = {size, count};
    for (int k = 0; k < 2; k++) {
        p[4 * k] = (unsigned char)(v[k] >> 24);
        p[4 * k + 1] = (unsigned char)(v[k] >> 16);
        p[4 * k + 2] = (unsigned char)(v[k] >> 8);
        p[4 * k + 3] = (unsigned char)v[k];
    }
}

static void w_prop(wbuf_t *w, uint32_t *count, const char *key, const char *value)
{
    if (!value)
        return;
    w_str(w, key);
    w_str(w, value);
    *count += 2;
}

aos_result bus_msg_write(const aos_event_t *ev, const char *subject, int64_t now_ms, char **out,
                         size_t *out_len, char *errbuf, size_t errlen)
{
    AOS_RETURN_IF_FAILED(aos_event_validate(ev, errbuf, errlen));
    wbuf_t w = {0};
    /* header: durable = true, priority (default), ttl */
    size_t at = w_compound_begin(&w, 0x70, 0xd0);
    w_u8(&w, 0x41);
    uint32_t n = 1;
    if (ev->ttl_ms) {
        w_u8(&w, 0x40);
        w_u8(&w, 0x70);
        w_u32(&w, ev->ttl_ms);
        n = 3;
    }
    w_compound_end(&w, at, n);
    /* properties: the 13 fields up to the last one present */
    const char *ct = ev->datacontenttype ? ev->datacontenttype : "application/json";
    at = w_compound_begin(&w, 0x73, 0xd0);
    w_str(&w, ev->id);                       /* message-id */
    w_u8(&w, 0x40);                          /* user-id */
    w_u8(&w, 0x40);                          /* to */
    w_str(&w, subject ? subject : ev->type); /* subject */
    w_str_or_null(&w, ev->reply_to);         /* reply-to */
    w_str_or_null(&w, ev->correlation_id);   /* correlation-id */
    w_var(&w, 0xa3, 0xb3, ct, strlen(ct));   /* content-type */
    w_u8(&w, 0x40);                          /* content-encoding */
    if (ev->ttl_ms) {                        /* absolute-expiry-time */
        w_u8(&w, 0x83);
        w_u64(&w, (uint64_t)(now_ms + (int64_t)ev->ttl_ms));
    } else {
        w_u8(&w, 0x40);
    }
    w_u8(&w, 0x83); /* creation-time */
    w_u64(&w, (uint64_t)now_ms);
    n = 10;
    if (ev->group_id || ev->reply_to_group_id) {
        w_str_or_null(&w, ev->group_id); /* group-id */
        n = 11;
        if (ev->reply_to_group_id) {
            w_u8(&w, 0x40); /* group-sequence */
            w_str(&w, ev->reply_to_group_id);
            n = 13;
        }
    }
    w_compound_end(&w, at, n);
    /* application-properties: the CloudEvents attributes (docs/bus-messages.md) */
    at = w_compound_begin(&w, 0x74, 0xd1);
    n = 0;
    w_prop(&w, &n, "cloudEvents:specversion", "1.0");
    w_prop(&w, &n, "cloudEvents:id", ev->id);
    w_prop(&w, &n, "cloudEvents:type", ev->type);
    w_prop(&w, &n, "cloudEvents:source", ev->source);
    w_prop(&w, &n, "cloudEvents:time", ev->time);
    w_prop(&w, &n, "cloudEvents:subject", ev->subject);
    w_prop(&w, &n, "cloudEvents:dataschema", ev->dataschema);
    for (size_t i = 0; i < ev->ext_count; i++) {
        if (!ev->ext[i].value)
            continue;
        char key[12 + 32];
        size_t kn = strlen(ev->ext[i].name);
        if (kn > sizeof key - 13)
            kn = sizeof key - 13; /* extension names are at most 20 characters */
        memcpy(key, "cloudEvents:", 12);
        memcpy(key + 12, ev->ext[i].name, kn);
        key[12 + kn] = '\0';
        w_prop(&w, &n, key, ev->ext[i].value);
    }
    w_prop(&w, &n, "traceparent", ev->traceparent);
    w_compound_end(&w, at, n);
    /* body: one data section */
    if (ev->data && ev->data_len > 0) {
        w_u8(&w, 0x00);
        w_u8(&w, 0x53);
        w_u8(&w, 0x75);
        w_var(&w, 0xa0, 0xb0, ev->data, ev->data_len);
    }
    if (w.oom || w.len > UINT32_MAX) {
        free(w.p);
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "cannot encode the AMQP message");
    }
    *out = w.p;
    *out_len = w.len;
    return AOS_OK;
}
