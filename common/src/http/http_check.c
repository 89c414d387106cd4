/* The server's pure request checks (see http_check.h). */
#include "http_check.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static http_verdict verdict(int status, const char *code, const char *message)
{
    return (http_verdict){status, code, message};
}

static bool parse_length(const char *s, unsigned long long *out)
{
    /* RFC 9110 §8.6: 1*DIGIT; a list ("5, 5") or a sign is not a length. */
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    if (n == 0 || n > 19)
        return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

http_verdict http_headers_check(const char *method, const char *uri, const http_kv *h, size_t n,
                                size_t max_header, bool *out_has_body,
                                unsigned long long *out_content_length)
{
    *out_has_body = false;
    *out_content_length = 0;
    size_t total = strlen(method ? method : "") + strlen(uri ? uri : "") + 12;
    for (size_t i = 0; i < n; i++)
        total += strlen(h[i].name) + strlen(h[i].value) + 4;
    if (total > max_header)
        return verdict(431, "too_large", "request header fields too large");
    bool have_cl = false, have_te = false;
    unsigned long long cl = 0;
    size_t auths = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(h[i].name, "Content-Length") == 0) {
            unsigned long long v;
            if (!parse_length(h[i].value, &v))
                return verdict(400, "invalid_argument", "malformed Content-Length");
            if (have_cl && v != cl)
                return verdict(400, "invalid_argument", "conflicting Content-Length headers");
            have_cl = true;
            cl = v;
        } else if (strcasecmp(h[i].name, "Transfer-Encoding") == 0) {
            have_te = true;
        } else if (strcasecmp(h[i].name, "Authorization") == 0) {
            auths++;
        }
    }
    if (have_cl && have_te)
        return verdict(400, "invalid_argument",
                       "both Content-Length and Transfer-Encoding: ambiguous framing");
    if (auths > 1)
        return verdict(400, "invalid_argument", "more than one Authorization header");
    *out_has_body = have_te || cl > 0;
    *out_content_length = cl;
    return verdict(0, NULL, NULL);
}

bool http_media_type_is_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n < 12 || strncasecmp(ct, "application/", 12) != 0)
        return false;
    const char *sub = ct + 12;
    size_t sn = n - 12;
    if (sn == 0 || memchr(sub, '/', sn) || memchr(sub, ' ', sn))
        return false;
    if (sn == 4 && strncasecmp(sub, "json", 4) == 0)
        return true;
    return sn > 5 && strncasecmp(sub + sn - 5, "+json", 5) == 0;
}

void http_body_free(http_body *b, _Atomic size_t *buffered)
{
    if (b->cap && buffered)
        atomic_fetch_sub(buffered, b->cap);
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}

int http_body_append(http_body *b, const char *data, size_t n, size_t max_body,
                     _Atomic size_t *buffered, size_t max_buffered)
{
    if (n > max_body - b->len) {
        http_body_free(b, buffered);
        return 413;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > max_body + 1)
            cap = max_body + 1;
        size_t grow = cap - b->cap;
        size_t before = atomic_fetch_add(buffered, grow);
        if (before + grow > max_buffered) {
            atomic_fetch_sub(buffered, grow);
            http_body_free(b, buffered);
            return 503;
        }
        char *p = realloc(b->buf, cap);
        if (!p) {
            atomic_fetch_sub(buffered, grow);
            http_body_free(b, buffered);
            return 503;
        }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 0;
}
