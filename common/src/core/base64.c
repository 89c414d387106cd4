#include "base64.h"

#include <stdint.h>
#include <stdlib.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

aos_result aos_b64_encode(const unsigned char *in, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
        return AOS_ERR_TOO_LARGE;
    size_t n = (len + 2) / 3 * 4;
    char *s = malloc(n + 1);
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

static int value_of(char c)
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

aos_result aos_b64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len % 4 != 0)
        return AOS_ERR_INVALID;
    size_t pad = 0;
    if (len >= 1 && in[len - 1] == '=')
        pad++;
    if (len >= 2 && in[len - 2] == '=')
        pad++;
    unsigned char *buf = malloc(len / 4 * 3 + 1);
    if (!buf)
        return AOS_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = value_of(in[i + k]);
            if (d < 0 && !(last && in[i + k] == '=' && k >= 4 - pad)) {
                free(buf);
                return AOS_ERR_INVALID;
            }
            v = (v << 6) | (uint32_t)(d < 0 ? 0 : d);
        }
        buf[o++] = (unsigned char)(v >> 16);
        if (!(last && pad == 2))
            buf[o++] = (unsigned char)(v >> 8);
        if (!(last && pad >= 1))
            buf[o++] = (unsigned char)v;
        if (last && ((pad == 1 && (v & 0xFF)) || (pad == 2 && (v & 0xFFFF)))) {
            free(buf);
            return AOS_ERR_INVALID;
        }
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return AOS_OK;
}
