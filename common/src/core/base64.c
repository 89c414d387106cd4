#include "aos/base64.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t aos_base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

aos_result aos_base64_encode(const void *data, size_t len, char **out, size_t *out_len)
{
    const unsigned char *in = data;
    *out = NULL;
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
        return AOS_ERR_TOO_LARGE;
    char *s = malloc(aos_base64_encoded_len(len) + 1);
    if (!s)
        return AOS_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        s[o++] = ALPHABET[(v >> 18) & 63];
        s[o++] = ALPHABET[(v >> 12) & 63];
        s[o++] = i + 1 < len ? ALPHABET[(v >> 6) & 63] : '=';
        s[o++] = i + 2 < len ? ALPHABET[v & 63] : '=';
    }
    s[o] = '\0';
    *out = s;
    if (out_len)
        *out_len = o;
    return AOS_OK;
}

static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

aos_result aos_base64_decode_into(const char *text, size_t n, void *out, size_t cap,
                                  size_t *out_len)
{
    unsigned char *o = out;
    size_t w = 0;
    *out_len = 0;
    if (n % 4 != 0)
        return AOS_ERR_INVALID;
    if (n / 4 * 3 > cap + 2)
        return AOS_ERR_TOO_LARGE;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        if (pad == 1 && text[i + 2] == '=')
            return AOS_ERR_INVALID; /* "x=y=" style */
        int v[4];
        for (int k = 0; k < 4 - pad; k++)
            if ((v[k] = value_of((unsigned char)text[i + k])) < 0)
                return AOS_ERR_INVALID;
        for (int k = 4 - pad; k < 4; k++)
            v[k] = 0;
        uint32_t bits =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if ((pad == 1 && (bits & 0xff)) || (pad == 2 && (bits & 0xffff)))
            return AOS_ERR_INVALID; /* non-canonical trailing bits */
        int bytes = 3 - pad;
        if (w + (size_t)bytes > cap)
            return AOS_ERR_TOO_LARGE;
        o[w++] = (unsigned char)(bits >> 16);
        if (bytes > 1)
            o[w++] = (unsigned char)(bits >> 8);
        if (bytes > 2)
            o[w++] = (unsigned char)bits;
    }
    *out_len = w;
    return AOS_OK;
}

aos_result aos_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    unsigned char *buf = malloc(len / 4 * 3 + 1);
    if (!buf)
        return AOS_ERR_NOMEM;
    aos_result r = aos_base64_decode_into(text, len, buf, len / 4 * 3, out_len);
    if (r != AOS_OK) {
        free(buf);
        *out_len = 0;
        return r;
    }
    buf[*out_len] = '\0';
    *out = buf;
    return AOS_OK;
}

aos_result aos_base64url_decode(const char *text, size_t len, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len % 4 == 0 && len > 0 && text[len - 1] == '=') {
        len--;
        if (text[len - 1] == '=')
            len--;
    }
    if (len % 4 == 1)
        return AOS_ERR_INVALID;
    if (len > SIZE_MAX / 2)
        return AOS_ERR_TOO_LARGE;
    size_t padded = (len + 3) / 4 * 4;
    char *std = malloc(padded + 1);
    if (!std)
        return AOS_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '+' || c == '/' || c == '=') {
            free(std);
            return AOS_ERR_INVALID;
        }
        std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    for (size_t i = len; i < padded; i++)
        std[i] = '=';
    aos_result r = aos_base64_decode(std, padded, out, out_len);
    free(std);
    return r;
}

aos_result aos_base64url_encode_into(const void *data, size_t len, char *out, size_t cap)
{
    static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *in = data;
    size_t need = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
    if (cap == 0 || need >= cap) {
        if (cap)
            out[0] = '\0';
        return AOS_ERR_TOO_LARGE;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = URL[(v >> 18) & 63];
        out[o++] = URL[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = URL[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = URL[v & 63];
    }
    out[o] = '\0';
    return AOS_OK;
}
