/* aos_json_validate: does aos_json_parse accept these bytes? Without building the value when
 * a quick scan can tell: every event the bus encodes or decodes has its data checked, and
 * json-c's tree (an allocation per value, a hash table per object) cost more than the rest of
 * the message's encoding together (docs/bus.md "Cost per message").
 *
 * The quick scan only ever answers "valid" for a document inside a subset where the answer is
 * certain: an object or array at the top, ASCII only, strings without \u escapes (no
 * surrogates to pair), member names without any escape (so equal bytes are equal names and
 * duplicates are found by comparing bytes), integers of at most 15 digits (exact in every
 * representation json-c keeps), a small nesting depth and few names per object. Anything
 * else, and every error, goes to aos_json_parse, which gives the answer and the message.
 * tests/core/test_json.c checks the scan against the parser on generated documents, and
 * tests/fuzz/fuzz_json.c on the fuzz corpus. */
#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

#include "aos/json.h"

#define QUICK_MAX_DEPTH 16
#define QUICK_MAX_NAMES 64 /* open objects' member names together */

typedef struct quick {
    const char *s;
    size_t len, i;
    int depth, max_depth;
    size_t nnames;
    struct {
        const char *p;
        size_t n;
    } names[QUICK_MAX_NAMES];
} quick_t;

static void q_ws(quick_t *q)
{
    while (q->i < q->len &&
           (q->s[q->i] == ' ' || q->s[q->i] == '\t' || q->s[q->i] == '\n' || q->s[q->i] == '\r'))
        q->i++;
}

/* A string at q->i ('"'): printable ASCII and the short escapes (none at all in a name). */
static bool q_string(quick_t *q, bool name, size_t *start, size_t *n)
{
    q->i++;
    size_t b = q->i;
    while (q->i < q->len) {
        unsigned char c = (unsigned char)q->s[q->i];
        if (c == '"') {
            *start = b;
            *n = q->i - b;
            q->i++;
            return true;
        }
        if (c < 0x20 || c >= 0x7f)
            return false;
        if (c == '\\') {
            if (name || q->i + 1 >= q->len || !strchr("\"\\/bfnrt", q->s[q->i + 1]) ||
                q->s[q->i + 1] == '\0')
                return false;
            q->i++;
        }
        q->i++;
    }
    return false;
}

static bool q_number(quick_t *q)
{
    size_t b = q->i;
    if (q->s[q->i] == '-')
        q->i++;
    if (q->i >= q->len || q->s[q->i] < '1' || q->s[q->i] > '9')
        return false; /* "0", "-0", "01", "-": the parser decides */
    while (q->i < q->len && q->s[q->i] >= '0' && q->s[q->i] <= '9')
        q->i++;
    if (q->i - b > 15)
        return false;
    /* a fraction or exponent: the parser decides */
    return !(q->i < q->len && (q->s[q->i] == '.' || q->s[q->i] == 'e' || q->s[q->i] == 'E'));
}

static bool q_literal(quick_t *q, const char *word)
{
    size_t n = strlen(word);
    if (q->len - q->i < n || memcmp(q->s + q->i, word, n) != 0)
        return false;
    q->i += n;
    return true;
}

static bool q_value(quick_t *q);

static bool q_object(quick_t *q)
{
    q->i++;
    q_ws(q);
    if (q->i < q->len && q->s[q->i] == '}') {
        q->i++;
        return true;
    }
    size_t first = q->nnames;
    for (;;) {
        size_t start, n;
        if (q->i >= q->len || q->s[q->i] != '"' || !q_string(q, true, &start, &n))
            return false;
        for (size_t k = first; k < q->nnames; k++)
            if (q->names[k].n == n && memcmp(q->names[k].p, q->s + start, n) == 0)
                return false; /* a duplicate: the parser refuses it with its message */
        if (q->nnames == QUICK_MAX_NAMES)
            return false;
        q->names[q->nnames].p = q->s + start;
        q->names[q->nnames].n = n;
        q->nnames++;
        q_ws(q);
        if (q->i >= q->len || q->s[q->i] != ':')
            return false;
        q->i++;
        q_ws(q);
        if (!q_value(q))
            return false;
        q_ws(q);
        if (q->i < q->len && q->s[q->i] == ',') {
            q->i++;
            q_ws(q);
            continue;
        }
        if (q->i < q->len && q->s[q->i] == '}') {
            q->i++;
            q->nnames = first;
            return true;
        }
        return false;
    }
}

static bool q_array(quick_t *q)
{
    q->i++;
    q_ws(q);
    if (q->i < q->len && q->s[q->i] == ']') {
        q->i++;
        return true;
    }
    for (;;) {
        if (!q_value(q))
            return false;
        q_ws(q);
        if (q->i < q->len && q->s[q->i] == ',') {
            q->i++;
            q_ws(q);
            continue;
        }
        if (q->i < q->len && q->s[q->i] == ']') {
            q->i++;
            return true;
        }
        return false;
    }
}

static bool q_value(quick_t *q)
{
    if (q->i >= q->len)
        return false;
    size_t start, n;
    switch (q->s[q->i]) {
    case '{':
    case '[': {
        if (++q->depth > q->max_depth)
            return false;
        bool ok = q->s[q->i] == '{' ? q_object(q) : q_array(q);
        q->depth--;
        return ok;
    }
    case '"':
        return q_string(q, false, &start, &n);
    case 't':
        return q_literal(q, "true");
    case 'f':
        return q_literal(q, "false");
    case 'n':
        return q_literal(q, "null");
    default:
        return (q->s[q->i] == '-' || (q->s[q->i] >= '0' && q->s[q->i] <= '9')) && q_number(q);
    }
}

/* True only when buf is certainly valid for aos_json_parse with these limits. */
static bool quick_valid(const char *buf, size_t len, size_t max_bytes, int max_depth)
{
    if (!buf || len > max_bytes)
        return false;
    quick_t q = {.s = buf, .len = len};
    /* strictly inside the parser's limit, whatever way it counts the top level */
    q.max_depth = max_depth - 1 < QUICK_MAX_DEPTH ? max_depth - 1 : QUICK_MAX_DEPTH;
    q_ws(&q);
    if (q.i >= len || (buf[q.i] != '{' && buf[q.i] != '['))
        return false;
    if (!q_value(&q))
        return false;
    q_ws(&q);
    return q.i == len;
}

aos_result aos_json_validate(const char *buf, size_t len, size_t max_bytes, int max_depth,
                             char *errbuf, size_t errlen)
{
    size_t mb = max_bytes ? max_bytes : AOS_JSON_DEFAULT_MAX_BYTES;
    int md = max_depth > 0 ? max_depth : AOS_JSON_DEFAULT_MAX_DEPTH;
    if (quick_valid(buf, len, mb, md))
        return AOS_OK;
    json_object *v = NULL;
    aos_result r = aos_json_parse(buf, len, max_bytes, max_depth, &v, errbuf, errlen);
    json_object_put(v);
    return r;
}

bool aos_json_quick_valid_(const char *buf, size_t len, size_t max_bytes, int max_depth)
{
    return quick_valid(buf, len, max_bytes ? max_bytes : AOS_JSON_DEFAULT_MAX_BYTES,
                       max_depth > 0 ? max_depth : AOS_JSON_DEFAULT_MAX_DEPTH);
}
