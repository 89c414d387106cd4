#include "aos/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static aos_result reserve(aos_buf_t *b, size_t extra)
{
    if (b->failed)
        return AOS_ERR_NOMEM;
    if (extra > SIZE_MAX - b->len - 1) {
        b->failed = true;
        return AOS_ERR_NOMEM;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return AOS_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return AOS_ERR_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return AOS_OK;
}

aos_result aos_buf_append(aos_buf_t *b, const void *bytes, size_t n)
{
    AOS_RETURN_IF_FAILED(reserve(b, n));
    if (n)
        memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return AOS_OK;
}

aos_result aos_buf_puts(aos_buf_t *b, const char *s)
{
    return aos_buf_append(b, s, strlen(s));
}

aos_result aos_buf_putc(aos_buf_t *b, char c)
{
    return aos_buf_append(b, &c, 1);
}

aos_result aos_buf_printf(aos_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return AOS_ERR_INTERNAL;
    }
    if ((size_t)n < sizeof small)
        return aos_buf_append(b, small, (size_t)n);
    AOS_RETURN_IF_FAILED(reserve(b, (size_t)n));
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return AOS_OK;
}

aos_result aos_buf_json_escape_n(aos_buf_t *b, const char *s, size_t n)
{
    static const char HEX[] = "0123456789abcdef";
    size_t plain = 0; /* start of the run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                                      : NULL;
        if (!esc && c >= 0x20)
            continue;
        aos_buf_append(b, s + plain, i - plain);
        plain = i + 1;
        if (esc) {
            aos_buf_puts(b, esc);
        } else {
            char u[6] = {'\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15]};
            aos_buf_append(b, u, sizeof u);
        }
    }
    return aos_buf_append(b, s + plain, n - plain);
}

aos_result aos_buf_json_escape(aos_buf_t *b, const char *s)
{
    return aos_buf_json_escape_n(b, s, strlen(s));
}

bool aos_buf_failed(const aos_buf_t *b)
{
    return b->failed;
}

char *aos_buf_take(aos_buf_t *b, size_t *out_len)
{
    if (!b->failed && !b->data)
        aos_buf_append(b, "", 0);
    if (b->failed) {
        aos_buf_free(b);
        return NULL;
    }
    char *d = b->data;
    if (out_len)
        *out_len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void aos_buf_free(aos_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}
