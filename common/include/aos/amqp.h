/* aos/amqp.h: reading AMQP 1.0 message bytes (what travels in a transfer) without Proton's
 * message object.
 *
 * aos_amqp_message_parse checks the whole message once — every section, every nested value,
 * sizes and counts — and fills a view of it: the header and properties fields, and the
 * application-properties map and the body as spans into the caller's bytes. The iterator
 * then walks a checked compound and cannot fail. Building a pn_message_t (a pn_data_t node per
 * field, a string object per property) was the largest part of the bus's own CPU per
 * received message (docs/bus.md "Cost per message").
 *
 * Accepted: the sections in the order of AMQP 1.0 §3.2 (header, delivery-annotations,
 * message-annotations, properties, application-properties, one body section, footer), each at
 * most once, with numeric (smallulong or ulong) descriptors; a null header, properties,
 * annotations or application-properties reads as absent. Everything else — unknown type codes,
 * values running past their compound or the message, map counts that are odd, descriptors that are
 * neither ulong nor symbol, a described value described again, sections out of order, a second body
 * section, fields of the header or properties of another type than the standard one (where
 * the envelope reads them), nesting deeper than AOS_AMQP_MAX_DEPTH — is AOS_ERR_INVALID with
 * the offset and the reason in errbuf.
 *
 * Ownership: nothing is allocated; the view borrows the bytes, valid while they are.
 * Thread-safety: pure functions, thread-safe.
 */
#ifndef AOS_AMQP_H
#define AOS_AMQP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"

#define AOS_AMQP_MAX_DEPTH 64

/* AMQP 1.0 type codes the readers name (§1.6). */
enum {
    AOS_AMQP_DESCRIBED = 0x00,
    AOS_AMQP_NULL = 0x40,
    AOS_AMQP_TRUE = 0x41,
    AOS_AMQP_FALSE = 0x42,
    AOS_AMQP_UINT0 = 0x43,
    AOS_AMQP_ULONG0 = 0x44,
    AOS_AMQP_LIST0 = 0x45,
    AOS_AMQP_UBYTE = 0x50,
    AOS_AMQP_SMALLUINT = 0x52,
    AOS_AMQP_SMALLULONG = 0x53,
    AOS_AMQP_SMALLINT = 0x54,
    AOS_AMQP_SMALLLONG = 0x55,
    AOS_AMQP_BOOLEAN = 0x56,
    AOS_AMQP_UINT = 0x70,
    AOS_AMQP_INT = 0x71,
    AOS_AMQP_ULONG = 0x80,
    AOS_AMQP_LONG = 0x81,
    AOS_AMQP_TIMESTAMP = 0x83,
    AOS_AMQP_UUID = 0x98,
    AOS_AMQP_VBIN8 = 0xa0,
    AOS_AMQP_STR8 = 0xa1,
    AOS_AMQP_SYM8 = 0xa3,
    AOS_AMQP_VBIN32 = 0xb0,
    AOS_AMQP_STR32 = 0xb1,
    AOS_AMQP_SYM32 = 0xb3,
    AOS_AMQP_LIST8 = 0xc0,
    AOS_AMQP_MAP8 = 0xc1,
    AOS_AMQP_LIST32 = 0xd0,
    AOS_AMQP_MAP32 = 0xd1,
    AOS_AMQP_ARRAY8 = 0xe0,
    AOS_AMQP_ARRAY32 = 0xf0,
};

/* One checked value. code is its constructor (AOS_AMQP_DESCRIBED for a described value, whose
 * descriptor and value follow in raw). data/size: the payload — the bytes of a fixed-width
 * value, the content of a string, symbol or binary, the elements of a list or map (count of
 * them), else empty. raw/raw_size: the whole encoding, constructor included. */
typedef struct aos_amqp_value {
    uint8_t code;
    const char *data;
    size_t size;
    uint32_t count;
    const char *raw;
    size_t raw_size;
} aos_amqp_value_t;

/* A string field of the header or properties: start is NULL when absent (or null); a present
 * empty string has a non-NULL start and size 0. */
typedef struct aos_amqp_str {
    const char *start;
    size_t size;
} aos_amqp_str_t;

typedef enum aos_amqp_body {
    AOS_AMQP_BODY_NONE = 0,
    AOS_AMQP_BODY_DATA,     /* one data section: body is the binary */
    AOS_AMQP_BODY_SEQUENCE, /* amqp-sequence: body is the list */
    AOS_AMQP_BODY_VALUE,    /* amqp-value: body is the value */
} aos_amqp_body;

/* The view of a message. Absent fields have the AMQP defaults (false, 0, NULL). */
typedef struct aos_amqp_message {
    /* header */
    bool durable;
    uint8_t priority; /* 4 when absent */
    uint32_t ttl_ms;
    bool first_acquirer;
    uint32_t delivery_count;
    /* properties; message_id and correlation_id have code AOS_AMQP_NULL when absent */
    aos_amqp_value_t message_id, correlation_id;
    aos_amqp_str_t to, subject, reply_to, content_type, content_encoding, group_id,
        reply_to_group_id;
    int64_t absolute_expiry_ms, creation_ms; /* 0 when absent */
    /* application-properties: a map (count = keys + values), code AOS_AMQP_NULL when absent */
    aos_amqp_value_t app_properties;
    aos_amqp_body body_kind;
    aos_amqp_value_t body;
} aos_amqp_message_t;

/* Check bytes[0..len) and fill *out. On failure *out holds what the sections before the fault
 * gave (so a header read before a broken body still counts the delivery). */
aos_result aos_amqp_message_parse(const char *bytes, size_t len, aos_amqp_message_t *out,
                                  char *errbuf, size_t errlen);

/* Walk the elements of a list or map value that aos_amqp_message_parse checked (a map gives
 * key, value, key, value, …). Not for values from elsewhere. */
typedef struct aos_amqp_iter {
    const char *p, *end;
    uint32_t left;
} aos_amqp_iter_t;

void aos_amqp_iter_init(aos_amqp_iter_t *it, const aos_amqp_value_t *compound);
/* Next element into *out; false after the last. */
bool aos_amqp_iter_next(aos_amqp_iter_t *it, aos_amqp_value_t *out);

/* Typed reads of a checked value: true when v has one of the encodings of that type. */
bool aos_amqp_get_string(const aos_amqp_value_t *v, aos_amqp_str_t *out); /* str8/str32 */
bool aos_amqp_get_bool(const aos_amqp_value_t *v, bool *out);
bool aos_amqp_get_uint(const aos_amqp_value_t *v, uint32_t *out);  /* uint, smalluint, uint0 */
bool aos_amqp_get_ulong(const aos_amqp_value_t *v, uint64_t *out); /* ulong, smallulong, ulong0 */
bool aos_amqp_get_int(const aos_amqp_value_t *v, int32_t *out);    /* int, smallint */
bool aos_amqp_get_long(const aos_amqp_value_t *v, int64_t *out);   /* long, smalllong */
bool aos_amqp_get_timestamp(const aos_amqp_value_t *v, int64_t *out);

/* A short name for a type code ("string", "list", …), for error messages. Never NULL. */
const char *aos_amqp_type_name(uint8_t code);

#endif
