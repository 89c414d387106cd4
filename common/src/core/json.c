#include "aos/json.h"
#include "aos/buf.h"
#include "aos/utf8.h"

#include <json-c/printbuf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool only_ws(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

/* json-c accepts NaN and Infinity even in strict mode; JSON has neither. Recursion depth is
 * bounded by the parser's depth limit. */
static bool all_finite(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_double:
        return isfinite(json_object_get_double(v));
    case json_type_array:
        for (size_t i = 0, n = json_object_array_length(v); i < n; i++)
            if (!all_finite(json_object_array_get_idx(v, i)))
                return false;
        return true;
    case json_type_object: {
        json_object_object_foreach(v, key, child)
        {
            (void)key;
            if (!all_finite(child))
                return false;
        }
        return true;
    }
    default:
        return true;
    }
}

/* ---- I-JSON (RFC 7493) over text json-c has already accepted ---- */

typedef struct ijson_scan {
    size_t *counts; /* members per object, in the order of their '{' */
    size_t ncounts, cap;
    size_t *stack; /* index into counts, or SIZE_MAX for an array */
    size_t depth;
    /* most documents fit these: no allocation per parse */
    size_t counts_local[32];
    size_t stack_local[AOS_JSON_DEFAULT_MAX_DEPTH + 2];
} ijson_scan;

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A number json-c keeps exactly: an integer within int64 or uint64 (json-c would clamp), or a
 * fraction/exponent form with at most 17 significant digits that neither overflows nor
 * underflows (to zero or a subnormal) as an IEEE double. */
static bool number_exact(const char *p, size_t n)
{
    bool integer = !memchr(p, '.', n) && !memchr(p, 'e', n) && !memchr(p, 'E', n);
    if (integer) {
        /* json-c keeps int64 and, for positive values, uint64 */
        bool neg = p[0] == '-';
        const char *d = p + neg, *max = neg ? "9223372036854775808" : "18446744073709551615";
        size_t dn = n - neg, mn = strlen(max);
        if (dn != mn)
            return dn < mn;
        return memcmp(d, max, mn) <= 0;
    }
    size_t sig = 0, zeros = 0;
    bool started = false;
    for (size_t i = 0; i < n && p[i] != 'e' && p[i] != 'E'; i++) {
        if (p[i] < '0' || p[i] > '9' || (!started && p[i] == '0'))
            continue;
        started = true;
        sig++;
        zeros = p[i] == '0' ? zeros + 1 : 0;
    }
    sig -= zeros;
    if (sig > 17)
        return false;
    char small[64];
    char *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy)
        return false;
    memcpy(copy, p, n);
    copy[n] = '\0';
    double v = strtod(copy, NULL);
    if (copy != small)
        free(copy);
    if (!isfinite(v))
        return false;
    return sig == 0 || (v != 0 && fpclassify(v) != FP_SUBNORMAL);
}

static aos_result ijson_fail(const char *what, size_t off, char *errbuf, size_t errlen)
{
    return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s at offset %zu (I-JSON, RFC 7493)", what,
                    off);
}

static aos_result ijson_lex(const char *s, size_t len, ijson_scan *sc, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < len && s[j] != '"') {
                if (s[j] != '\\') {
                    j++;
                    continue;
                }
                if (j + 1 < len && s[j + 1] == 'u' && j + 6 <= len) {
                    int cp = hex4(s + j + 2);
                    if (cp >= 0xDC00 && cp <= 0xDFFF)
                        return ijson_fail("lone low surrogate escape", j, errbuf, errlen);
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        int lo = j + 12 <= len && s[j + 6] == '\\' && s[j + 7] == 'u'
                                     ? hex4(s + j + 8)
                                     : -1;
                        if (lo < 0xDC00 || lo > 0xDFFF)
                            return ijson_fail("lone high surrogate escape", j, errbuf, errlen);
                        j += 12;
                        continue;
                    }
                    j += 6;
                    continue;
                }
                j += 2;
            }
            i = j;
        } else if (c == '{' || c == '[') {
            if (c == '{') {
                if (sc->ncounts == sc->cap) {
                    size_t cap = sc->cap * 2;
                    bool local = sc->counts == sc->counts_local;
                    size_t *p = realloc(local ? NULL : sc->counts, cap * sizeof *p);
                    if (!p)
                        return AOS_ERR_NOMEM;
                    if (local)
                        memcpy(p, sc->counts_local, sizeof sc->counts_local);
                    sc->counts = p;
                    sc->cap = cap;
                }
                sc->counts[sc->ncounts] = 0;
            }
            sc->stack[sc->depth++] = c == '{' ? sc->ncounts++ : SIZE_MAX;
        } else if (c == '}' || c == ']') {
            sc->depth--;
        } else if (c == ':') {
            sc->counts[sc->stack[sc->depth - 1]]++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < len && s[j] && strchr("+-0123456789.eE", s[j]))
                j++;
            if (!number_exact(s + i, j - i))
                return ijson_fail("number that cannot be kept exactly", i, errbuf, errlen);
            i = j - 1;
        }
    }
    return AOS_OK;
}

/* Pre-order over the tree meets the objects in the order of their '{' in the text; a
 * duplicate key leaves its object with fewer members than the text had. */
static bool members_match(json_object *v, const ijson_scan *sc, size_t *k)
{
    if (json_object_is_type(v, json_type_object)) {
        if (*k >= sc->ncounts || sc->counts[*k] != (size_t)json_object_object_length(v))
            return false;
        (*k)++;
        json_object_object_foreach(v, key, child)
        {
            (void)key;
            if (!members_match(child, sc, k))
                return false;
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0, n = json_object_array_length(v); i < n; i++)
            if (!members_match(json_object_array_get_idx(v, i), sc, k))
                return false;
    }
    return true;
}

static aos_result ijson_check(const char *buf, size_t len, int max_depth, json_object *v,
                              char *errbuf, size_t errlen)
{
    ijson_scan sc;
    sc.ncounts = sc.depth = 0;
    sc.counts = sc.counts_local;
    sc.cap = sizeof sc.counts_local / sizeof *sc.counts_local;
    size_t need = (size_t)max_depth + 2;
    sc.stack = need <= sizeof sc.stack_local / sizeof *sc.stack_local
                   ? sc.stack_local
                   : malloc(need * sizeof *sc.stack);
    if (!sc.stack)
        return AOS_ERR_NOMEM;
    aos_result r = ijson_lex(buf, len, &sc, errbuf, errlen);
    size_t k = 0;
    if (r == AOS_OK && !members_match(v, &sc, &k))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                     "duplicate member name in a JSON object (I-JSON, RFC 7493)");
    if (sc.stack != sc.stack_local)
        free(sc.stack);
    if (sc.counts != sc.counts_local)
        free(sc.counts);
    return r;
}

aos_result aos_json_parse(const char *buf, size_t len, size_t max_bytes, int max_depth,
                          json_object **out_value, char *errbuf, size_t errlen)
{
    *out_value = NULL;
    if (!max_bytes)
        max_bytes = AOS_JSON_DEFAULT_MAX_BYTES;
    if (max_depth <= 0)
        max_depth = AOS_JSON_DEFAULT_MAX_DEPTH;
    if (max_depth > 100000)
        max_depth = 100000;
    if (len > max_bytes)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "JSON is %zu bytes, limit is %zu", len,
                        max_bytes);
    if (!buf || only_ws(buf, len))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "empty JSON document");
    const char *nul = memchr(buf, '\0', len);
    if (nul)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "NUL byte in JSON at offset %zu",
                        (size_t)(nul - buf));
    /* json-c's own UTF-8 check lets overlong forms through. */
    size_t bad = aos_utf8_check(buf, len);
    if (bad != len)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "invalid UTF-8 in JSON at offset %zu",
                        bad);
    /* json-c counts lengths in int. */
    if (len > (size_t)0x7FFFFFF0)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "JSON too large");
    /* json-c's depth counts the top-level value too. A tokener is not reused: reset leaves
     * state behind (a pending surrogate of a previous document changes the next one). */
    json_tokener *tok = json_tokener_new_ex(max_depth + 1);
    if (!tok)
        return AOS_ERR_NOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *v = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* A bare top-level number only ends at a delimiter: give it one. */
        v = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
        end = len;
        if (jerr == json_tokener_continue) {
            json_tokener_free(tok);
            json_object_put(v);
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "JSON ends unexpectedly");
        }
    }
    if (jerr != json_tokener_success) {
        aos_result r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "invalid JSON at offset %zu: %s",
                                end, json_tokener_error_desc(jerr));
        json_tokener_free(tok);
        json_object_put(v);
        return r;
    }
    json_tokener_free(tok);
    if (end < len && !only_ws(buf + end, len - end)) {
        json_object_put(v);
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "trailing data after JSON at offset %zu",
                        end);
    }
    if (!all_finite(v)) {
        json_object_put(v);
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "NaN and Infinity are not JSON numbers");
    }
    aos_result ij = ijson_check(buf, len, max_depth, v, errbuf, errlen);
    if (ij != AOS_OK) {
        json_object_put(v);
        return ij;
    }
    *out_value = v;
    return AOS_OK;
}

aos_result aos_json_parse_object(const char *buf, size_t len, size_t max_bytes, int max_depth,
                                 json_object **out_object, char *errbuf, size_t errlen)
{
    json_object *v = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse(buf, len, max_bytes, max_depth, &v, errbuf, errlen));
    if (!json_object_is_type(v, json_type_object)) {
        json_object_put(v);
        *out_object = NULL;
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "JSON document must be an object");
    }
    *out_object = v;
    return AOS_OK;
}

/* Look up field; AOS_OK with *out NULL when absent/null and optional. */
static aos_result lookup(const json_object *obj, const char *field, aos_json_need need,
                         json_object **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "expected an object holding '%s'", field);
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, field, &v) || v == NULL) {
        if (need == AOS_JSON_REQUIRED)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field '%s' is required", field);
        return AOS_OK;
    }
    *out = v;
    return AOS_OK;
}

aos_result aos_json_get_string(const json_object *obj, const char *field, aos_json_need need,
                               const char **out_str, char *errbuf, size_t errlen)
{
    json_object *v;
    *out_str = NULL;
    AOS_RETURN_IF_FAILED(lookup(obj, field, need, &v, errbuf, errlen));
    if (!v)
        return AOS_OK;
    if (!json_object_is_type(v, json_type_string))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field '%s' must be a string", field);
    const char *s = json_object_get_string(v);
    if (strlen(s) != (size_t)json_object_get_string_len(v))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field '%s' must not contain NUL", field);
    *out_str = s;
    return AOS_OK;
}

aos_result aos_json_get_int(const json_object *obj, const char *field, aos_json_need need,
                            int64_t *out_val, bool *out_present, char *errbuf, size_t errlen)
{
    json_object *v;
    if (out_present)
        *out_present = false;
    AOS_RETURN_IF_FAILED(lookup(obj, field, need, &v, errbuf, errlen));
    if (!v)
        return AOS_OK;
    if (!json_object_is_type(v, json_type_int))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field '%s' must be an integer", field);
    int64_t x = json_object_get_int64(v);
    /* json-c keeps values above INT64_MAX as uint64 and saturates on conversion. */
    if (x == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field '%s' is out of range", field);
    *out_val = x;
    if (out_present)
        *out_present = true;
    return AOS_OK;
}

aos_result aos_json_get_bool(const json_object *obj, const char *field, aos_json_need need,
                             bool *out_val, bool *out_present, char *errbuf, size_t errlen)
{
    json_object *v;
    if (out_present)
        *out_present = false;
    AOS_RETURN_IF_FAILED(lookup(obj, field, need, &v, errbuf, errlen));
    if (!v)
        return AOS_OK;
    if (!json_object_is_type(v, json_type_boolean))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field '%s' must be true or false", field);
    *out_val = json_object_get_boolean(v);
    if (out_present)
        *out_present = true;
    return AOS_OK;
}

aos_result aos_json_get_double(const json_object *obj, const char *field, aos_json_need need,
                               double *out_val, bool *out_present, char *errbuf, size_t errlen)
{
    json_object *v;
    if (out_present)
        *out_present = false;
    AOS_RETURN_IF_FAILED(lookup(obj, field, need, &v, errbuf, errlen));
    if (!v)
        return AOS_OK;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field '%s' must be a number", field);
    *out_val = json_object_get_double(v);
    if (out_present)
        *out_present = true;
    return AOS_OK;
}

static aos_result get_typed(const json_object *obj, const char *field, aos_json_need need,
                            json_type want, const char *what, json_object **out, char *errbuf,
                            size_t errlen)
{
    json_object *v;
    *out = NULL;
    AOS_RETURN_IF_FAILED(lookup(obj, field, need, &v, errbuf, errlen));
    if (!v)
        return AOS_OK;
    if (!json_object_is_type(v, want))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field '%s' must be %s", field, what);
    *out = v;
    return AOS_OK;
}

aos_result aos_json_get_object(const json_object *obj, const char *field, aos_json_need need,
                               json_object **out_obj, char *errbuf, size_t errlen)
{
    return get_typed(obj, field, need, json_type_object, "an object", out_obj, errbuf, errlen);
}

aos_result aos_json_get_array(const json_object *obj, const char *field, aos_json_need need,
                              json_object **out_arr, char *errbuf, size_t errlen)
{
    return get_typed(obj, field, need, json_type_array, "an array", out_arr, errbuf, errlen);
}

/* The mark an object carries (as its json-c userdata) once an add into it has failed. */
static char INCOMPLETE;

static void mark_incomplete(json_object *obj)
{
    if (obj && json_object_is_type(obj, json_type_object))
        json_object_set_userdata(obj, &INCOMPLETE, NULL);
}

bool aos_json_complete(const json_object *value)
{
    json_object *v = (json_object *)value;
    if (!v)
        return false;
    switch (json_object_get_type(v)) {
    case json_type_object: {
        if (json_object_get_userdata(v) == &INCOMPLETE)
            return false;
        json_object_object_foreach(v, key, child)
        {
            (void)key;
            if (child && !aos_json_complete(child))
                return false;
        }
        return true;
    }
    case json_type_array:
        for (size_t i = 0, n = json_object_array_length(v); i < n; i++) {
            json_object *child = json_object_array_get_idx(v, i);
            if (child && !aos_json_complete(child))
                return false;
        }
        return true;
    default:
        return true;
    }
}

aos_result aos_json_add(json_object *obj, const char *key, json_object *value)
{
    if (!obj || !key || !value) {
        json_object_put(value);
        mark_incomplete(obj);
        return value ? AOS_ERR_INVALID : AOS_ERR_NOMEM;
    }
    if (json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        mark_incomplete(obj);
        return AOS_ERR_NOMEM;
    }
    return AOS_OK;
}

aos_result aos_json_add_string(json_object *obj, const char *key, const char *value)
{
    if (!value)
        return AOS_OK;
    return aos_json_add(obj, key, json_object_new_string(value));
}

aos_result aos_json_add_int(json_object *obj, const char *key, int64_t value)
{
    return aos_json_add(obj, key, json_object_new_int64(value));
}

aos_result aos_json_add_bool(json_object *obj, const char *key, bool value)
{
    return aos_json_add(obj, key, json_object_new_boolean(value));
}

/* A raw value: an empty json-c object whose userdata (tagged) holds the text and whose
 * serializer writes it. */
static const char RAW_TAG;

typedef struct raw_json {
    const char *tag; /* &RAW_TAG */
    size_t len;
    char *text;
} raw_json_t;

static const raw_json_t *raw_of(const json_object *v)
{
    if (!json_object_is_type(v, json_type_object)) /* json-c keeps its own userdata on others */
        return NULL;
    const raw_json_t *r = json_object_get_userdata((json_object *)v);
    return r && (const void *)r != (const void *)&INCOMPLETE && r->tag == &RAW_TAG ? r : NULL;
}

static int raw_serialize(json_object *v, struct printbuf *pb, int level, int flags)
{
    (void)level;
    (void)flags;
    const raw_json_t *r = raw_of(v);
    return r && printbuf_memappend(pb, r->text, (int)r->len) >= 0 ? 0 : -1;
}

static void raw_free(json_object *v, void *userdata)
{
    (void)v;
    raw_json_t *r = userdata;
    free(r->text);
    free(r);
}

json_object *aos_json_raw(char *text, size_t len)
{
    raw_json_t *r = text && len < INT32_MAX ? malloc(sizeof *r) : NULL;
    json_object *o = r ? json_object_new_object() : NULL;
    if (!o) {
        free(r);
        free(text);
        return NULL;
    }
    *r = (raw_json_t){.tag = &RAW_TAG, .len = len, .text = text};
    json_object_set_serializer(o, raw_serialize, r, raw_free);
    return o;
}

size_t aos_json_raw_len(const json_object *value)
{
    const raw_json_t *r = value ? raw_of(value) : NULL;
    return r ? r->len : 0;
}

/* json-c's own writer drops what it cannot append when an allocation fails (a key, a string)
 * and still returns the rest, so the compact form is written here into an aos_buf, whose
 * failure is sticky; scalars other than strings are json-c's text for them (a failure there is
 * reported). The output is byte for byte json-c's JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE. */
static aos_result put_value(aos_buf_t *b, json_object *v)
{
    switch (v ? json_object_get_type(v) : json_type_null) {
    case json_type_null:
        return aos_buf_puts(b, "null");
    case json_type_string:
        aos_buf_putc(b, '"');
        aos_buf_json_escape_n(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        return aos_buf_putc(b, '"');
    case json_type_object: {
        if (json_object_get_userdata(v) == &INCOMPLETE)
            return AOS_ERR_NOMEM;
        const raw_json_t *raw = raw_of(v);
        if (raw)
            return aos_buf_append(b, raw->text, raw->len);
        aos_buf_putc(b, '{');
        bool first = true;
        json_object_object_foreach(v, key, child)
        {
            if (!first)
                aos_buf_putc(b, ',');
            first = false;
            aos_buf_putc(b, '"');
            aos_buf_json_escape(b, key);
            aos_buf_puts(b, "\":");
            AOS_RETURN_IF_FAILED(put_value(b, child));
        }
        return aos_buf_putc(b, '}');
    }
    case json_type_boolean:
        return aos_buf_puts(b, json_object_get_boolean(v) ? "true" : "false");
    case json_type_int: {
        /* as json-c prints an int64, without the printbuf it attaches to the object; a value
         * at INT64_MAX may be a uint64 json-c keeps apart: json-c prints that one */
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX)
            break;
        char t[24], *p = t + sizeof t;
        uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
        do
            *--p = (char)('0' + u % 10);
        while (u /= 10);
        if (i < 0)
            *--p = '-';
        return aos_buf_append(b, p, (size_t)(t + sizeof t - p));
    }
    case json_type_array:
        aos_buf_putc(b, '[');
        for (size_t i = 0, n = json_object_array_length(v); i < n; i++) {
            if (i)
                aos_buf_putc(b, ',');
            AOS_RETURN_IF_FAILED(put_value(b, json_object_array_get_idx(v, i)));
        }
        return aos_buf_putc(b, ']');
    default:
        break;
    }
    const char *text =
        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    return text && *text ? aos_buf_puts(b, text) : AOS_ERR_NOMEM;
}

aos_result aos_json_to_string(const json_object *value, char **out_str, size_t *out_len)
{
    *out_str = NULL;
    if (!value)
        return AOS_ERR_NOMEM; /* what a failed json_object_new_object gives */
    aos_buf_t b = {0};
    aos_result r = put_value(&b, (json_object *)value);
    if (r != AOS_OK) {
        aos_buf_free(&b);
        return r;
    }
    *out_str = aos_buf_take(&b, out_len);
    return *out_str ? AOS_OK : AOS_ERR_NOMEM;
}
