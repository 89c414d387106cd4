/* aos/json.h: strict JSON parsing and typed field access over json-c.
 *
 * Parsing outside bytes goes through aos_json_parse, which enforces a size limit, a nesting
 * depth limit, strict JSON (no comments, single quotes, trailing commas, NaN), valid UTF-8,
 * no NUL bytes and no trailing garbage after the value, and I-JSON (RFC 7493): duplicate
 * member names, escapes of lone surrogates, and numbers that cannot be kept exactly (integers
 * outside int64/uint64; other numbers with over 17 significant digits, or that overflow or
 * underflow a double) are refused rather than silently changed.
 *
 * Getters read one member of an object and explain failures in errbuf, naming the field:
 *   "field 'text' must be a string", "field 'agent' is required".
 * For an optional field that is absent (or JSON null) they return AOS_OK and set the output
 * to NULL / leave *out_present false, so callers keep their default.
 *
 * Ownership: aos_json_parse hands the caller one reference (release with json_object_put).
 * Getters return borrowed pointers valid while the parent object lives.
 * Thread-safety: all functions are pure; a json_object must not be mutated concurrently.
 */
#ifndef AOS_JSON_H
#define AOS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "aos/result.h"
#include "aos/utf8.h" /* aos_utf8_valid, which JSON text must be */

#define AOS_JSON_DEFAULT_MAX_BYTES (1024u * 1024u) /* 1 MiB */
#define AOS_JSON_DEFAULT_MAX_DEPTH 32

typedef enum aos_json_need {
    AOS_JSON_OPTIONAL = 0,
    AOS_JSON_REQUIRED = 1,
} aos_json_need;

/* Parse exactly one JSON value from buf[0..len). max_bytes 0 = AOS_JSON_DEFAULT_MAX_BYTES,
 * max_depth 0 = AOS_JSON_DEFAULT_MAX_DEPTH. Over the size limit: AOS_ERR_TOO_LARGE; any
 * syntax, UTF-8, depth or trailing-data problem: AOS_ERR_INVALID with the byte offset. */
aos_result aos_json_parse(const char *buf, size_t len, size_t max_bytes, int max_depth,
                          json_object **out_value, char *errbuf, size_t errlen);

/* Exactly what aos_json_parse would answer (result and errbuf), without keeping a value: for
 * callers that only need to know the bytes are valid JSON (envelope data). A quick scan that
 * builds nothing settles the common case (docs/bus.md "Cost per message"). */
aos_result aos_json_validate(const char *buf, size_t len, size_t max_bytes, int max_depth,
                             char *errbuf, size_t errlen);

/* For tests: true when the quick scan alone accepts buf (then aos_json_parse must accept it
 * too); false means "ask the parser", not "invalid". */
bool aos_json_quick_valid_(const char *buf, size_t len, size_t max_bytes, int max_depth);

/* As aos_json_parse, and the value must be an object. */
aos_result aos_json_parse_object(const char *buf, size_t len, size_t max_bytes, int max_depth,
                                 json_object **out_object, char *errbuf, size_t errlen);

/* String member (no embedded NUL allowed). *out_str is borrowed, or NULL when absent. */
aos_result aos_json_get_string(const json_object *obj, const char *field, aos_json_need need,
                               const char **out_str, char *errbuf, size_t errlen);

/* Integer member (JSON number without fraction or exponent, fitting int64).
 * *out_present (may be NULL) tells whether it was there; *out_val is untouched when absent. */
aos_result aos_json_get_int(const json_object *obj, const char *field, aos_json_need need,
                            int64_t *out_val, bool *out_present, char *errbuf, size_t errlen);

/* Boolean member (true/false only). */
aos_result aos_json_get_bool(const json_object *obj, const char *field, aos_json_need need,
                             bool *out_val, bool *out_present, char *errbuf, size_t errlen);

/* Number member (integer or fractional). */
aos_result aos_json_get_double(const json_object *obj, const char *field, aos_json_need need,
                               double *out_val, bool *out_present, char *errbuf, size_t errlen);

/* Object / array member. *out is borrowed, or NULL when absent. */
aos_result aos_json_get_object(const json_object *obj, const char *field, aos_json_need need,
                               json_object **out_obj, char *errbuf, size_t errlen);
aos_result aos_json_get_array(const json_object *obj, const char *field, aos_json_need need,
                              json_object **out_arr, char *errbuf, size_t errlen);

/* ---- building ----
 *
 * A builder is a message or nothing: when an add fails (no memory for the value, the key or
 * the table; a NULL value, as a failed json_object_new_* gives) the object is marked
 * incomplete, and aos_json_to_string of it, or of anything it is nested in, fails with
 * AOS_ERR_NOMEM. So a caller may ignore the result of each add and check the serialization;
 * a field never silently vanishes from a message. Code that serializes with json-c directly
 * checks aos_json_complete first. */

/* False when value is NULL or an add into value or into anything nested in it has failed. */
bool aos_json_complete(const json_object *value);

/* Add a string member (copied); value NULL adds nothing. */
aos_result aos_json_add_string(json_object *obj, const char *key, const char *value);
aos_result aos_json_add_int(json_object *obj, const char *key, int64_t value);
aos_result aos_json_add_bool(json_object *obj, const char *key, bool value);
/* Takes ownership of value (also on failure). */
aos_result aos_json_add(json_object *obj, const char *key, json_object *value);

/* A value written verbatim as text (len bytes) by aos_json_to_string and json-c's writers:
 * JSON the caller built or checked, embedded without a parse. Takes ownership of text
 * (malloc'd; freed on failure too). For output only: read as an object it has no members.
 * NULL when out of memory. */
json_object *aos_json_raw(char *text, size_t len);
/* Its length when value is such a raw value, else 0. */
size_t aos_json_raw_len(const json_object *value);

/* Serialize compactly (no slash escaping) into a malloc'd NUL-terminated string.
 * AOS_ERR_NOMEM when value is NULL or not aos_json_complete. */
aos_result aos_json_to_string(const json_object *value, char **out_str, size_t *out_len);

#endif
