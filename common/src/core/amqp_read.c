/* AMQP 1.0 message bytes to a checked view (aos/amqp.h): pure, no allocation, total on any
 * input. Every value is bounded by the compound or message it sits in before it is read. */
#include <string.h>

#include "aos/amqp.h"

typedef struct rd {
    const unsigned char *base; /* start of the message, for offsets in errors */
    const unsigned char *at;   /* where the first fault is */
    const char *why;
} rd_t;

typedef struct cur {
    const unsigned char *p, *end;
} cur_t;

static bool fault(rd_t *r, const unsigned char *at, const char *why)
{
    if (!r->why) {
        r->why = why;
        r->at = at;
    }
    return false;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* Bytes of a fixed-width type, -1 for other (or unknown) codes. */
static int fixed_width(uint8_t code)
{
    switch (code) {
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x44:
    case 0x45:
        return 0;
    case 0x50:
    case 0x51:
    case 0x52:
    case 0x53:
    case 0x54:
    case 0x55:
    case 0x56:
        return 1;
    case 0x60:
    case 0x61:
        return 2;
    case 0x70:
    case 0x71:
    case 0x72:
    case 0x73:
    case 0x74:
        return 4;
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83:
    case 0x84:
        return 8;
    case 0x94:
    case 0x98:
        return 16;
    default:
        return -1;
    }
}

static bool take(rd_t *r, cur_t *c, size_t n, const unsigned char **out)
{
    if ((size_t)(c->end - c->p) < n)
        return fault(r, c->p, "value runs past its end");
    *out = c->p;
    c->p += n;
    return true;
}

static bool read_value(rd_t *r, cur_t *c, aos_amqp_value_t *out, int depth);

/* AMQP 1.0 §1.2: a descriptor is a symbol or a ulong */
static bool is_descriptor(uint8_t code)
{
    return code == AOS_AMQP_ULONG0 || code == AOS_AMQP_SMALLULONG || code == AOS_AMQP_ULONG ||
           code == AOS_AMQP_SYM8 || code == AOS_AMQP_SYM32;
}

/* The elements of a list or map: count values filling [p, end) exactly. */
static bool check_elements(rd_t *r, const unsigned char *p, const unsigned char *end,
                           uint32_t count, int depth)
{
    cur_t e = {p, end};
    aos_amqp_value_t v;
    for (uint32_t i = 0; i < count; i++)
        if (!read_value(r, &e, &v, depth))
            return false;
    if (e.p != end)
        return fault(r, e.p, "compound size does not match its elements");
    return true;
}

static bool read_payload(rd_t *r, cur_t *c, uint8_t code, aos_amqp_value_t *out, int depth);

/* The elements of an array: one constructor, then count payloads. */
static bool check_array(rd_t *r, const unsigned char *p, const unsigned char *end, uint32_t count,
                        int depth)
{
    cur_t e = {p, end};
    const unsigned char *b;
    if (!take(r, &e, 1, &b))
        return false;
    uint8_t code = b[0];
    if (code == AOS_AMQP_DESCRIBED) { /* a described element type: its descriptor, once */
        if (depth >= AOS_AMQP_MAX_DEPTH)
            return fault(r, b, "nested too deeply");
        aos_amqp_value_t d;
        const unsigned char *dat = e.p;
        if (!read_value(r, &e, &d, depth + 1))
            return false;
        if (!is_descriptor(d.code))
            return fault(r, dat, "descriptor is neither a ulong nor a symbol");
        if (!take(r, &e, 1, &b))
            return false;
        code = b[0];
        if (code == AOS_AMQP_DESCRIBED)
            return fault(r, b, "a described value described again");
    }
    int w = fixed_width(code);
    if (w >= 0) {
        if ((uint64_t)count * (uint64_t)w != (uint64_t)(end - e.p))
            return fault(r, e.p, "array size does not match its elements");
        return true;
    }
    aos_amqp_value_t v;
    for (uint32_t i = 0; i < count; i++)
        if (!read_payload(r, &e, code, &v, depth)) /* each takes at least one byte */
            return false;
    if (e.p != end)
        return fault(r, e.p, "array size does not match its elements");
    return true;
}

static bool read_payload(rd_t *r, cur_t *c, uint8_t code, aos_amqp_value_t *out, int depth)
{
    const unsigned char *start = c->p, *b;
    out->code = code;
    out->count = 0;
    int w = fixed_width(code);
    if (w >= 0) {
        if (!take(r, c, (size_t)w, &b))
            return false;
        out->data = (const char *)b;
        out->size = (size_t)w;
        return true;
    }
    uint32_t size, count = 0;
    switch (code) {
    case 0xa0:
    case 0xa1:
    case 0xa3:
        if (!take(r, c, 1, &b))
            return false;
        size = b[0];
        break;
    case 0xb0:
    case 0xb1:
    case 0xb3:
        if (!take(r, c, 4, &b))
            return false;
        size = be32(b);
        break;
    case 0xc0:
    case 0xc1:
    case 0xe0:
        if (!take(r, c, 2, &b))
            return false;
        if (b[0] < 1)
            return fault(r, b, "compound smaller than its count");
        size = b[0] - 1u;
        count = b[1];
        break;
    case 0xd0:
    case 0xd1:
    case 0xf0:
        if (!take(r, c, 8, &b))
            return false;
        if (be32(b) < 4)
            return fault(r, b, "compound smaller than its count");
        size = be32(b) - 4u;
        count = be32(b + 4);
        break;
    default:
        return fault(r, start - 1, "unknown type code");
    }
    if (!take(r, c, size, &b))
        return false;
    out->data = (const char *)b;
    out->size = size;
    out->count = count;
    if (code < 0xc0)
        return true;
    if (depth >= AOS_AMQP_MAX_DEPTH)
        return fault(r, start - 1, "nested too deeply");
    if ((code & 0x0f) == 0x01 && count % 2)
        return fault(r, start - 1, "map with an odd number of elements");
    if (code == 0xe0 || code == 0xf0)
        return check_array(r, b, b + size, count, depth + 1);
    return check_elements(r, b, b + size, count, depth + 1);
}

/* The common case first: a str8, sym8 or vbin8 (application-properties are mostly these).
 * Its bytes when it is one that fits, else 0 (then read_value says what it is). */
static size_t small_var(const unsigned char *p, const unsigned char *end, aos_amqp_value_t *out)
{
    if (end - p < 2 || (p[0] != AOS_AMQP_STR8 && p[0] != AOS_AMQP_SYM8 && p[0] != AOS_AMQP_VBIN8) ||
        (size_t)(end - p) - 2 < p[1])
        return 0;
    out->code = p[0];
    out->data = (const char *)p + 2;
    out->size = p[1];
    out->count = 0;
    out->raw = (const char *)p;
    out->raw_size = 2u + p[1];
    return out->raw_size;
}

static bool read_value(rd_t *r, cur_t *c, aos_amqp_value_t *out, int depth)
{
    size_t n = small_var(c->p, c->end, out);
    if (n) {
        c->p += n;
        return true;
    }
    const unsigned char *start = c->p, *b;
    if (!take(r, c, 1, &b))
        return false;
    if (b[0] != AOS_AMQP_DESCRIBED) {
        if (!read_payload(r, c, b[0], out, depth))
            return false;
    } else {
        if (depth >= AOS_AMQP_MAX_DEPTH)
            return fault(r, start, "nested too deeply");
        aos_amqp_value_t d, v;
        if (!read_value(r, c, &d, depth + 1))
            return false;
        if (!is_descriptor(d.code))
            return fault(r, start + 1, "descriptor is neither a ulong nor a symbol");
        const unsigned char *vstart = c->p;
        if (c->p < c->end && c->p[0] == AOS_AMQP_DESCRIBED) /* legal, but no one sends it and
                                                              Proton misreads it */
            return fault(r, c->p, "a described value described again");
        if (!read_value(r, c, &v, depth + 1))
            return false;
        out->code = AOS_AMQP_DESCRIBED;
        out->data = (const char *)vstart; /* the described value, encoded */
        out->size = (size_t)(c->p - vstart);
        out->count = 0;
    }
    out->raw = (const char *)start;
    out->raw_size = (size_t)(c->p - start);
    return true;
}

void aos_amqp_iter_init(aos_amqp_iter_t *it, const aos_amqp_value_t *v)
{
    bool compound = v->code == 0xc0 || v->code == 0xc1 || v->code == 0xd0 || v->code == 0xd1;
    it->p = compound ? v->data : NULL;
    it->end = compound ? v->data + v->size : NULL;
    it->left = compound ? v->count : 0;
}

bool aos_amqp_iter_next(aos_amqp_iter_t *it, aos_amqp_value_t *out)
{
    if (!it->left)
        return false;
    size_t n = small_var((const unsigned char *)it->p, (const unsigned char *)it->end, out);
    if (n) {
        it->p += n;
        it->left--;
        return true;
    }
    rd_t r = {(const unsigned char *)it->p, NULL, NULL};
    cur_t c = {(const unsigned char *)it->p, (const unsigned char *)it->end};
    if (!read_value(&r, &c, out, 0)) { /* not a checked compound: stop */
        it->left = 0;
        return false;
    }
    it->p = (const char *)c.p;
    it->left--;
    return true;
}

bool aos_amqp_get_string(const aos_amqp_value_t *v, aos_amqp_str_t *out)
{
    if (v->code != AOS_AMQP_STR8 && v->code != AOS_AMQP_STR32)
        return false;
    out->start = v->data;
    out->size = v->size;
    return true;
}

static bool get_symbol(const aos_amqp_value_t *v, aos_amqp_str_t *out)
{
    if (v->code != AOS_AMQP_SYM8 && v->code != AOS_AMQP_SYM32)
        return false;
    out->start = v->data;
    out->size = v->size;
    return true;
}

bool aos_amqp_get_bool(const aos_amqp_value_t *v, bool *out)
{
    switch (v->code) {
    case AOS_AMQP_TRUE:
        *out = true;
        return true;
    case AOS_AMQP_FALSE:
        *out = false;
        return true;
    case AOS_AMQP_BOOLEAN:
        *out = v->data[0] != 0;
        return true;
    default:
        return false;
    }
}

bool aos_amqp_get_uint(const aos_amqp_value_t *v, uint32_t *out)
{
    const unsigned char *d = (const unsigned char *)v->data;
    switch (v->code) {
    case AOS_AMQP_UINT0:
        *out = 0;
        return true;
    case AOS_AMQP_SMALLUINT:
        *out = d[0];
        return true;
    case AOS_AMQP_UINT:
        *out = be32(d);
        return true;
    default:
        return false;
    }
}

bool aos_amqp_get_ulong(const aos_amqp_value_t *v, uint64_t *out)
{
    const unsigned char *d = (const unsigned char *)v->data;
    switch (v->code) {
    case AOS_AMQP_ULONG0:
        *out = 0;
        return true;
    case AOS_AMQP_SMALLULONG:
        *out = d[0];
        return true;
    case AOS_AMQP_ULONG:
        *out = be64(d);
        return true;
    default:
        return false;
    }
}

bool aos_amqp_get_int(const aos_amqp_value_t *v, int32_t *out)
{
    const unsigned char *d = (const unsigned char *)v->data;
    switch (v->code) {
    case AOS_AMQP_SMALLINT:
        *out = (int8_t)d[0];
        return true;
    case AOS_AMQP_INT:
        *out = (int32_t)be32(d);
        return true;
    default:
        return false;
    }
}

bool aos_amqp_get_long(const aos_amqp_value_t *v, int64_t *out)
{
    const unsigned char *d = (const unsigned char *)v->data;
    switch (v->code) {
    case AOS_AMQP_SMALLLONG:
        *out = (int8_t)d[0];
        return true;
    case AOS_AMQP_LONG:
        *out = (int64_t)be64(d);
        return true;
    default:
        return false;
    }
}

bool aos_amqp_get_timestamp(const aos_amqp_value_t *v, int64_t *out)
{
    if (v->code != AOS_AMQP_TIMESTAMP)
        return false;
    *out = (int64_t)be64((const unsigned char *)v->data);
    return true;
}

const char *aos_amqp_type_name(uint8_t code)
{
    switch (code) {
    case 0x00:
        return "described";
    case 0x40:
        return "null";
    case 0x41:
    case 0x42:
    case 0x56:
        return "boolean";
    case 0x50:
        return "ubyte";
    case 0x51:
        return "byte";
    case 0x43:
    case 0x52:
    case 0x70:
        return "uint";
    case 0x44:
    case 0x53:
    case 0x80:
        return "ulong";
    case 0x54:
    case 0x71:
        return "int";
    case 0x55:
    case 0x81:
        return "long";
    case 0x60:
        return "ushort";
    case 0x61:
        return "short";
    case 0x72:
        return "float";
    case 0x73:
        return "char";
    case 0x74:
    case 0x84:
    case 0x94:
        return "decimal";
    case 0x82:
        return "double";
    case 0x83:
        return "timestamp";
    case 0x98:
        return "uuid";
    case 0xa0:
    case 0xb0:
        return "binary";
    case 0xa1:
    case 0xb1:
        return "string";
    case 0xa3:
    case 0xb3:
        return "symbol";
    case 0x45:
    case 0xc0:
    case 0xd0:
        return "list";
    case 0xc1:
    case 0xd1:
        return "map";
    case 0xe0:
    case 0xf0:
        return "array";
    default:
        return "unknown";
    }
}

/* ---- sections ---- */

enum {
    SEC_HEADER = 0x70,
    SEC_DELIVERY_ANNOTATIONS,
    SEC_MESSAGE_ANNOTATIONS,
    SEC_PROPERTIES,
    SEC_APPLICATION_PROPERTIES,
    SEC_DATA,
    SEC_AMQP_SEQUENCE,
    SEC_AMQP_VALUE,
    SEC_FOOTER,
};

/* The section code of a descriptor, 0 for none. Symbolic section descriptors
 * ("amqp:header:list", …) are not read: no broker or client sends them, nor did Proton. */
static unsigned section_code(const aos_amqp_value_t *d)
{
    uint64_t n;
    if (aos_amqp_get_ulong(d, &n))
        return n >= SEC_HEADER && n <= SEC_FOOTER ? (unsigned)n : 0;
    return 0;
}

static bool is_list(uint8_t code)
{
    return code == AOS_AMQP_LIST0 || code == AOS_AMQP_LIST8 || code == AOS_AMQP_LIST32;
}

static bool is_map(uint8_t code)
{
    return code == AOS_AMQP_MAP8 || code == AOS_AMQP_MAP32;
}

static bool str_field(rd_t *r, const aos_amqp_value_t *v, aos_amqp_str_t *out, bool symbol,
                      const char *why)
{
    if (v->code == AOS_AMQP_NULL)
        return true;
    if (symbol ? get_symbol(v, out) : aos_amqp_get_string(v, out))
        return true;
    return fault(r, (const unsigned char *)v->raw, why);
}

static bool read_header(rd_t *r, const aos_amqp_value_t *list, aos_amqp_message_t *m)
{
    aos_amqp_iter_t it;
    aos_amqp_iter_init(&it, list);
    aos_amqp_value_t v;
    const unsigned char *at;
    for (unsigned i = 0; aos_amqp_iter_next(&it, &v); i++) {
        at = (const unsigned char *)v.raw;
        if (v.code == AOS_AMQP_NULL)
            continue;
        switch (i) {
        case 0:
            if (!aos_amqp_get_bool(&v, &m->durable))
                return fault(r, at, "header durable is not a boolean");
            break;
        case 1:
            if (v.code != AOS_AMQP_UBYTE)
                return fault(r, at, "header priority is not a ubyte");
            m->priority = (uint8_t)v.data[0];
            break;
        case 2:
            if (!aos_amqp_get_uint(&v, &m->ttl_ms))
                return fault(r, at, "header ttl is not a uint");
            break;
        case 3:
            if (!aos_amqp_get_bool(&v, &m->first_acquirer))
                return fault(r, at, "header first-acquirer is not a boolean");
            break;
        case 4:
            if (!aos_amqp_get_uint(&v, &m->delivery_count))
                return fault(r, at, "header delivery-count is not a uint");
            break;
        default: /* fields of a later version */
            break;
        }
    }
    return true;
}

static bool read_properties(rd_t *r, const aos_amqp_value_t *list, aos_amqp_message_t *m)
{
    aos_amqp_iter_t it;
    aos_amqp_iter_init(&it, list);
    aos_amqp_value_t v;
    for (unsigned i = 0; aos_amqp_iter_next(&it, &v); i++) {
        const unsigned char *at = (const unsigned char *)v.raw;
        bool ok = true;
        switch (i) {
        case 0:
            m->message_id = v;
            break;
        case 2:
            ok = str_field(r, &v, &m->to, false, "properties to is not a string");
            break;
        case 3:
            ok = str_field(r, &v, &m->subject, false, "properties subject is not a string");
            break;
        case 4:
            ok = str_field(r, &v, &m->reply_to, false, "properties reply-to is not a string");
            break;
        case 5:
            m->correlation_id = v;
            break;
        case 6:
            ok =
                str_field(r, &v, &m->content_type, true, "properties content-type is not a symbol");
            break;
        case 7:
            ok = str_field(r, &v, &m->content_encoding, true,
                           "properties content-encoding is not a symbol");
            break;
        case 8:
            if (v.code != AOS_AMQP_NULL && !aos_amqp_get_timestamp(&v, &m->absolute_expiry_ms))
                ok = fault(r, at, "properties absolute-expiry-time is not a timestamp");
            break;
        case 9:
            if (v.code != AOS_AMQP_NULL && !aos_amqp_get_timestamp(&v, &m->creation_ms))
                ok = fault(r, at, "properties creation-time is not a timestamp");
            break;
        case 10:
            ok = str_field(r, &v, &m->group_id, false, "properties group-id is not a string");
            break;
        case 12:
            ok = str_field(r, &v, &m->reply_to_group_id, false,
                           "properties reply-to-group-id is not a string");
            break;
        default: /* user-id, group-sequence, fields of a later version: not read */
            break;
        }
        if (!ok)
            return false;
    }
    return true;
}

static bool read_section(rd_t *r, cur_t *c, aos_amqp_message_t *m, unsigned *last)
{
    const unsigned char *start = c->p, *b;
    if (!take(r, c, 1, &b))
        return false;
    if (b[0] != AOS_AMQP_DESCRIBED)
        return fault(r, start, "a section is not a described value");
    aos_amqp_value_t d, v;
    if (!read_value(r, c, &d, 1))
        return false;
    unsigned code = section_code(&d);
    if (!code)
        return fault(r, start, "unknown section");
    const unsigned char *vat = c->p;
    if (!read_value(r, c, &v, 1))
        return false;
    bool body = code >= SEC_DATA && code <= SEC_AMQP_VALUE;
    if (body && m->body_kind != AOS_AMQP_BODY_NONE)
        return fault(r, start, "more than one body section");
    unsigned rank = body ? SEC_DATA : code;
    if (rank <= *last)
        return fault(r, start, "section out of order");
    *last = rank;
    bool null = v.code == AOS_AMQP_NULL;
    switch (code) {
    case SEC_HEADER:
        if (null)
            return true;
        if (!is_list(v.code))
            return fault(r, vat, "header is not a list");
        return read_header(r, &v, m);
    case SEC_PROPERTIES:
        if (null)
            return true;
        if (!is_list(v.code))
            return fault(r, vat, "properties is not a list");
        return read_properties(r, &v, m);
    case SEC_DELIVERY_ANNOTATIONS:
    case SEC_MESSAGE_ANNOTATIONS:
    case SEC_FOOTER:
        if (!null && !is_map(v.code))
            return fault(r, vat, "annotations are not a map");
        return true;
    case SEC_APPLICATION_PROPERTIES:
        if (!null && !is_map(v.code))
            return fault(r, vat, "application-properties is not a map");
        if (!null)
            m->app_properties = v;
        return true;
    case SEC_DATA:
        if (v.code != AOS_AMQP_VBIN8 && v.code != AOS_AMQP_VBIN32)
            return fault(r, vat, "data section is not binary");
        m->body_kind = AOS_AMQP_BODY_DATA;
        m->body = v;
        return true;
    case SEC_AMQP_SEQUENCE:
        if (!is_list(v.code))
            return fault(r, vat, "amqp-sequence section is not a list");
        m->body_kind = AOS_AMQP_BODY_SEQUENCE;
        m->body = v;
        return true;
    default: /* SEC_AMQP_VALUE */
        m->body_kind = AOS_AMQP_BODY_VALUE;
        m->body = v;
        return true;
    }
}

aos_result aos_amqp_message_parse(const char *bytes, size_t len, aos_amqp_message_t *out,
                                  char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->priority = 4;
    out->message_id.code = AOS_AMQP_NULL;
    out->correlation_id.code = AOS_AMQP_NULL;
    out->app_properties.code = AOS_AMQP_NULL;
    if (!bytes || len == 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "empty AMQP message");
    rd_t r = {(const unsigned char *)bytes, NULL, NULL};
    cur_t c = {(const unsigned char *)bytes, (const unsigned char *)bytes + len};
    unsigned last = 0;
    while (c.p < c.end)
        if (!read_section(&r, &c, out, &last))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "malformed AMQP message at byte %zu: %s", (size_t)(r.at - r.base),
                            r.why ? r.why : "unreadable");
    return AOS_OK;
}
