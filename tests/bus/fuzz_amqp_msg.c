/* Fuzz target: the AMQP message reader the bus reads every delivery with (aos/amqp.h).
 * Whatever it accepts, Proton's pn_message_decode must read the same way (header and
 * properties fields, application-properties, body); an envelope read from it must read the
 * same through pn_message_t, and survive the bus's own encoder (bus_msg_write.c) unchanged. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/message.h>

#include "aos/amqp.h"
#include "aos/envelope.h"
#include "bus_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define must(cond) must_at((cond), __LINE__)

static void must_at(int cond, int line)
{
    if (!cond) {
        fprintf(stderr, "fuzz_amqp_msg.c:%d: check failed\n", line);
        abort();
    }
}

static void same_str(const char *pn, aos_amqp_str_t s)
{
    if (!s.start) {
        must(pn == NULL);
        return;
    }
    must(pn != NULL);
    const char *nul = memchr(s.start, '\0', s.size); /* pn_string_get ends at a NUL */
    size_t n = nul ? (size_t)(nul - s.start) : s.size;
    must(strlen(pn) == n && memcmp(pn, s.start, n) == 0);
}

static bool has_nul(aos_amqp_str_t s)
{
    return s.start && memchr(s.start, '\0', s.size);
}

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void same_event(const aos_event_t *a, const aos_event_t *b)
{
    must(str_eq(a->id, b->id) && str_eq(a->type, b->type) && str_eq(a->source, b->source));
    must(str_eq(a->subject, b->subject) && str_eq(a->time, b->time));
    must(str_eq(a->datacontenttype, b->datacontenttype) && str_eq(a->dataschema, b->dataschema));
    must(str_eq(a->correlation_id, b->correlation_id) && str_eq(a->reply_to, b->reply_to));
    must(str_eq(a->group_id, b->group_id) && str_eq(a->traceparent, b->traceparent));
    must(str_eq(a->reply_to_group_id, b->reply_to_group_id) && a->ttl_ms == b->ttl_ms);
    must(a->data_len == b->data_len);
    must(a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
    must(a->ext_count == b->ext_count);
    for (size_t i = 0; i < a->ext_count; i++)
        must(str_eq(a->ext[i].value, aos_event_get_ext(b, a->ext[i].name)));
}

/* The parsed view against Proton's reading of the same bytes. */
static void same_as_proton(const aos_amqp_message_t *m, pn_message_t *pm)
{
    must(pn_message_is_durable(pm) == m->durable);
    must(pn_message_get_priority(pm) == m->priority);
    must(pn_message_get_ttl(pm) == m->ttl_ms);
    must(pn_message_is_first_acquirer(pm) == m->first_acquirer);
    must(pn_message_get_delivery_count(pm) == m->delivery_count);
    must(pn_message_get_expiry_time(pm) == m->absolute_expiry_ms);
    must(pn_message_get_creation_time(pm) == m->creation_ms);
    same_str(pn_message_get_address(pm), m->to);
    same_str(pn_message_get_subject(pm), m->subject);
    same_str(pn_message_get_reply_to(pm), m->reply_to);
    same_str(pn_message_get_content_type(pm), m->content_type);
    same_str(pn_message_get_content_encoding(pm), m->content_encoding);
    same_str(pn_message_get_group_id(pm), m->group_id);
    same_str(pn_message_get_reply_to_group_id(pm), m->reply_to_group_id);

    /* application-properties: the same keys in the same order */
    pn_data_t *p = pn_message_properties(pm);
    pn_data_rewind(p);
    if (m->app_properties.code == AOS_AMQP_NULL) {
        must(!pn_data_next(p));
    } else {
        must(pn_data_next(p) && pn_data_type(p) == PN_MAP);
        must(pn_data_get_map(p) == m->app_properties.count);
        pn_data_enter(p);
        aos_amqp_iter_t it;
        aos_amqp_iter_init(&it, &m->app_properties);
        aos_amqp_value_t v;
        uint32_t n = 0;
        while (aos_amqp_iter_next(&it, &v)) {
            must(pn_data_next(p));
            aos_amqp_str_t s;
            if (aos_amqp_get_string(&v, &s)) {
                must(pn_data_type(p) == PN_STRING);
                pn_bytes_t b = pn_data_get_string(p);
                must(b.size == s.size && memcmp(b.start, s.start, s.size) == 0);
            }
            n++;
        }
        must(n == m->app_properties.count);
        pn_data_exit(p);
    }

    pn_data_t *body = pn_message_body(pm);
    pn_data_rewind(body);
    if (m->body_kind == AOS_AMQP_BODY_DATA) {
        must(pn_data_next(body) && pn_data_type(body) == PN_BINARY);
        pn_bytes_t b = pn_data_get_binary(body);
        must(b.size == m->body.size && memcmp(b.start, m->body.data, b.size) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *bytes = (const char *)data;
    aos_amqp_message_t m;
    char err[256];
    if (aos_amqp_message_parse(bytes, size, &m, err, sizeof err) != AOS_OK) {
        must(err[0] != '\0');
        return 0;
    }
    pn_message_t *pm = pn_message();
    must(pm && pn_message_decode(pm, bytes, size) == 0);
    same_as_proton(&m, pm);

    aos_event_t *ev = NULL, *via_pn = NULL, *again = NULL;
    aos_result r = aos_envelope_from_amqp(&m, &ev, err, sizeof err);
    aos_result r_pn = aos_envelope_from_message(pm, &via_pn, err, sizeof err);
    must((r == AOS_OK) == (ev != NULL));
    /* Proton cuts string fields at a NUL; the reader refuses them whole */
    bool cut = has_nul(m.reply_to) || has_nul(m.group_id) || has_nul(m.reply_to_group_id) ||
               has_nul(m.content_type);
    must(cut || r == r_pn);
    if (ev) {
        if (!cut)
            same_event(ev, via_pn);
        /* the bus's encoder, read back */
        char *out = NULL;
        size_t len = 0;
        must(bus_msg_write(ev, NULL, 1795510800123LL, &out, &len, err, sizeof err) == AOS_OK);
        aos_amqp_message_t back;
        must(aos_amqp_message_parse(out, len, &back, err, sizeof err) == AOS_OK);
        must(aos_envelope_from_amqp(&back, &again, err, sizeof err) == AOS_OK);
        same_event(ev, again);
        must(back.creation_ms == 1795510800123LL);
        free(out);
    }
    aos_event_free(again);
    aos_event_free(via_pn);
    aos_event_free(ev);
    pn_message_free(pm);
    return 0;
}
