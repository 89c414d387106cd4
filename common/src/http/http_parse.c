#include "http_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/http_server.h"
#include "aos/percent.h"

static bool pattern_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

static bool param_name_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

aos_result http_pattern_parse(const char *pattern, http_pattern *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!pattern || pattern[0] != '/')
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "route pattern must start with '/'");
    out->buf = strdup(pattern + 1);
    if (!out->buf)
        return AOS_ERR_NOMEM;
    char *p = out->buf;
    for (;;) {
        char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (out->nseg == HTTP_MAX_SEGMENTS) {
            http_pattern_free(out);
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "route pattern has too many segments");
        }
        http_segment *s = &out->seg[out->nseg++];
        if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
            if (!param_name_ok(p + 1, n - 2)) {
                http_pattern_free(out);
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad parameter name in pattern");
            }
            p[n - 1] = '\0';
            s->text = p + 1;
            s->param = true;
        } else {
            for (size_t i = 0; i < n; i++)
                if (!pattern_char_ok(p[i])) {
                    http_pattern_free(out);
                    return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                                    "bad character in route pattern");
                }
            s->text = p;
        }
        if (!end)
            break;
        *end = '\0';
        p = end + 1;
    }
    for (size_t i = 0; i < out->nseg; i++)
        for (size_t j = 0; j < i; j++)
            if (out->seg[i].param && out->seg[j].param &&
                strcmp(out->seg[i].text, out->seg[j].text) == 0) {
                http_pattern_free(out);
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "duplicate parameter in pattern");
            }
    return AOS_OK;
}

void http_pattern_free(http_pattern *p)
{
    if (!p)
        return;
    free(p->buf);
    memset(p, 0, sizeof *p);
}

/* Decode raw[0..n) to *cursor (NUL-terminated) and advance it. */
static bool decode_into(const char *raw, size_t n, bool plus, char **cursor, const char **out)
{
    size_t got = 0;
    if (aos_pct_decode(raw, n, plus ? AOS_PCT_FORM : 0, *cursor, n + 1, &got) != AOS_OK)
        return false;
    *out = *cursor;
    *cursor += got + 1;
    return true;
}

static aos_result parse_query(const char *q, size_t len, char **cursor, http_target *t,
                              char *errbuf, size_t errlen)
{
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j > i) {
            if (t->nquery == HTTP_MAX_QUERY)
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "too many query parameters");
            const char *eq = memchr(q + i, '=', j - i);
            size_t nlen = eq ? (size_t)(eq - (q + i)) : j - i;
            http_kv *kv = &t->query[t->nquery++];
            if (!decode_into(q + i, nlen, true, cursor, &kv->name) ||
                !decode_into(eq ? eq + 1 : "", eq ? (size_t)(q + j - eq - 1) : 0, true, cursor,
                             &kv->value))
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "malformed query string");
        }
        i = j + 1;
    }
    return AOS_OK;
}

aos_result http_target_parse(const char *raw, size_t len, http_target *out, char *errbuf,
                             size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!raw || len == 0 || raw[0] != '/')
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "request target must start with '/'");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)raw[i] <= 0x20 || raw[i] == 0x7f)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "control byte in request target");
    const char *qmark = memchr(raw, '?', len);
    const char *frag = memchr(raw, '#', len);
    size_t end = frag ? (size_t)(frag - raw) : len;
    size_t plen = qmark && qmark < raw + end ? (size_t)(qmark - raw) : end;
    /* Every decoded string is no longer than its raw form; segments + path + query pieces
     * together need at most 2 * len + 2 * (pieces) bytes. */
    out->buf = malloc(2 * len + 2 * HTTP_MAX_QUERY + HTTP_MAX_SEGMENTS + 8);
    if (!out->buf)
        return AOS_ERR_NOMEM;
    char *cursor = out->buf;
    if (!decode_into(raw, plen, false, &cursor, &out->path)) {
        http_target_free(out);
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "malformed %%-escape in path");
    }
    size_t i = 1;
    for (;;) {
        size_t j = i;
        while (j < plen && raw[j] != '/')
            j++;
        if (out->nseg == HTTP_MAX_SEGMENTS) {
            http_target_free(out);
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "too many path segments");
        }
        if (!decode_into(raw + i, j - i, false, &cursor, &out->seg[out->nseg++])) {
            http_target_free(out);
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "malformed %%-escape in path");
        }
        if (j >= plen)
            break;
        i = j + 1;
    }
    if (plen < end) {
        aos_result r = parse_query(raw + plen + 1, end - plen - 1, &cursor, out, errbuf, errlen);
        if (r != AOS_OK) {
            http_target_free(out);
            return r;
        }
    }
    return AOS_OK;
}

void http_target_free(http_target *t)
{
    if (!t)
        return;
    free(t->buf);
    memset(t, 0, sizeof *t);
}

unsigned http_pattern_match(const http_pattern *p, const http_target *t, http_kv *params,
                            size_t *out_nparams)
{
    *out_nparams = 0;
    if (p->nseg != t->nseg)
        return 0;
    unsigned score = 1;
    size_t np = 0;
    for (size_t i = 0; i < p->nseg; i++) {
        if (p->seg[i].param) {
            if (t->seg[i][0] == '\0')
                return 0;
            params[np].name = p->seg[i].text;
            params[np++].value = t->seg[i];
        } else {
            if (strcmp(p->seg[i].text, t->seg[i]) != 0)
                return 0;
            score |= 1u << (31 - i);
        }
    }
    *out_nparams = np;
    return score;
}

const char *http_target_query(const http_target *t, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < t->nquery; i++)
        if (strcmp(t->query[i].name, name) == 0)
            return t->query[i].value;
    return NULL;
}

const char *http_kv_find_ci(const http_kv *kv, size_t n, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(kv[i].name, name) == 0)
            return kv[i].value;
    return NULL;
}

bool http_header_name_valid(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("!#$%&'*+-.^_`|~", c) != NULL;
        if (!ok)
            return false;
    }
    return true;
}

bool http_header_value_valid(const char *s)
{
    if (!s)
        return false;
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

bool http_header_line_parse(const char *line, size_t len, const char **out_name,
                            size_t *out_name_len, const char **out_value, size_t *out_value_len)
{
    const char *colon = line ? memchr(line, ':', len) : NULL;
    if (!colon || colon == line)
        return false;
    for (const char *p = line; p < colon; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
        if (!ok)
            return false;
    }
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (memchr(v, '\0', (size_t)(end - v)) || memchr(v, '\r', (size_t)(end - v)) ||
        memchr(v, '\n', (size_t)(end - v)))
        return false;
    *out_name = line;
    *out_name_len = (size_t)(colon - line);
    *out_value = v;
    *out_value_len = (size_t)(end - v);
    return true;
}
