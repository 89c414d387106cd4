#include "aos/percent.h"

#include <stdbool.h>

static const char HEX[] = "0123456789ABCDEF";

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static bool kept(unsigned char c, unsigned flags)
{
    return unreserved(c) || ((flags & AOS_PCT_KEEP_SLASH) && c == '/');
}

size_t aos_pct_encoded_len(const char *s, unsigned flags)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        n += kept(*p, flags) || ((flags & AOS_PCT_FORM) && *p == ' ') ? 1 : 3;
    return n;
}

aos_result aos_pct_encode(const char *s, unsigned flags, char *out, size_t outlen)
{
    if (!s || !out || outlen == 0)
        return AOS_ERR_INVALID;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plus = (flags & AOS_PCT_FORM) && *p == ' ';
        size_t need = kept(*p, flags) || plus ? 1 : 3;
        if (o + need >= outlen) {
            out[0] = '\0';
            return AOS_ERR_TOO_LARGE;
        }
        if (plus) {
            out[o++] = '+';
        } else if (need == 1) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = HEX[*p >> 4];
            out[o++] = HEX[*p & 15];
        }
    }
    out[o] = '\0';
    return AOS_OK;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

aos_result aos_pct_decode(const char *src, size_t len, unsigned flags, char *dst, size_t cap,
                          size_t *out_len)
{
    if ((!src && len) || !dst || cap == 0)
        return AOS_ERR_INVALID;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value((unsigned char)src[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value((unsigned char)src[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return AOS_ERR_INVALID;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '\0') {
            return AOS_ERR_INVALID;
        } else if (c == '+' && (flags & AOS_PCT_FORM)) {
            c = ' ';
        }
        if (o + 1 >= cap) {
            dst[0] = '\0';
            return AOS_ERR_TOO_LARGE;
        }
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    if (out_len)
        *out_len = o;
    return AOS_OK;
}
