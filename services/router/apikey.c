/* API keys: SHA-256 digests compared in constant time (see apikey.h). */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/secure.h"
#include "apikey.h"

#define DIGEST_LEN 32

struct router_apikeys {
    unsigned char (*digests)[DIGEST_LEN];
    size_t count, cap;
};

static bool sha256(const char *s, size_t len, unsigned char out[DIGEST_LEN])
{
    unsigned int n = 0;
    return EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) == 1 && n == DIGEST_LEN;
}

static aos_result add_key(router_apikeys_t *k, const char *s, size_t len, const char *where,
                          size_t pos, char *errbuf, size_t errlen)
{
    if (len < ROUTER_APIKEY_MIN_LEN || len > ROUTER_APIKEY_MAX_LEN)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "API key at %s %zu must be %d-%d characters long", where, pos,
                        ROUTER_APIKEY_MIN_LEN, ROUTER_APIKEY_MAX_LEN);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] == 0x7f)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "API key at %s %zu contains a space or control character", where, pos);
    if (k->count == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 8;
        void *p = realloc(k->digests, cap * sizeof *k->digests);
        if (!p)
            return AOS_ERR_NOMEM;
        k->digests = p;
        k->cap = cap;
    }
    if (!sha256(s, len, k->digests[k->count]))
        return aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "SHA-256 unavailable");
    k->count++;
    return AOS_OK;
}

static size_t trim(const char **s, size_t len)
{
    while (len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        len--;
    }
    while (len > 0 && ((*s)[len - 1] == ' ' || (*s)[len - 1] == '\t' || (*s)[len - 1] == '\r'))
        len--;
    return len;
}

static aos_result parse_file(router_apikeys_t *k, const char *text, size_t len, char *errbuf,
                             size_t errlen)
{
    size_t line = 0;
    for (size_t off = 0; off < len;) {
        const char *start = text + off;
        const char *nl = memchr(start, '\n', len - off);
        size_t n = nl ? (size_t)(nl - start) : len - off;
        off += n + 1;
        line++;
        const char *s = start;
        size_t m = trim(&s, n);
        if (m == 0 || s[0] == '#')
            continue;
        AOS_RETURN_IF_FAILED(add_key(k, s, m, "line", line, errbuf, errlen));
    }
    return AOS_OK;
}

static aos_result parse_list(router_apikeys_t *k, const char *list, char *errbuf, size_t errlen)
{
    size_t pos = 0;
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        size_t m = trim(&s, n);
        pos++;
        if (m > 0)
            AOS_RETURN_IF_FAILED(add_key(k, s, m, "list position", pos, errbuf, errlen));
        p += n + (comma ? 1 : 0);
    }
    return AOS_OK;
}

aos_result router_apikeys_parse(const char *file_text, size_t file_len, const char *list,
                                router_apikeys_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    router_apikeys_t *k = calloc(1, sizeof *k);
    if (!k)
        return AOS_ERR_NOMEM;
    aos_result r = AOS_OK;
    if (file_text && memchr(file_text, '\0', file_len))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "API key file contains a NUL byte");
    if (r == AOS_OK && file_text)
        r = parse_file(k, file_text, file_len, errbuf, errlen);
    if (r == AOS_OK && list)
        r = parse_list(k, list, errbuf, errlen);
    if (r != AOS_OK) {
        router_apikeys_free(k);
        return r;
    }
    *out = k;
    return AOS_OK;
}

aos_result router_apikeys_load(const char *file_path, const char *list, router_apikeys_t **out,
                               char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!file_path || !file_path[0])
        return router_apikeys_parse(NULL, 0, list, out, errbuf, errlen);
    FILE *f = fopen(file_path, "rb");
    if (!f)
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "%s: %s", file_path, strerror(errno));
    size_t cap = 1u << 20;
    char *buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    if (!buf)
        return AOS_ERR_NOMEM;
    aos_result r = n == cap
                       ? aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "%s: over 1 MiB", file_path)
                       : router_apikeys_parse(buf, n, list, out, errbuf, errlen);
    OPENSSL_cleanse(buf, n);
    free(buf);
    return r;
}

void router_apikeys_free(router_apikeys_t *keys)
{
    if (!keys)
        return;
    free(keys->digests);
    free(keys);
}

size_t router_apikeys_count(const router_apikeys_t *keys)
{
    return keys ? keys->count : 0;
}

aos_result router_apikeys_check(const router_apikeys_t *keys, const char *authorization,
                                char *errbuf, size_t errlen)
{
    if (!keys || keys->count == 0)
        return AOS_OK;
    if (!authorization || !authorization[0])
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen,
                        "missing Authorization header (expected: Bearer <api key>)");
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen,
                        "Authorization must use the Bearer scheme with an API key");
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    size_t len = strlen(tok);
    while (len > 0 && tok[len - 1] == ' ')
        len--;
    unsigned char d[DIGEST_LEN];
    if (len == 0 || len > ROUTER_APIKEY_MAX_LEN || !sha256(tok, len, d))
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "invalid API key");
    int match = 0;
    for (size_t i = 0; i < keys->count; i++)
        match |= CRYPTO_memcmp(d, keys->digests[i], DIGEST_LEN) == 0;
    return match ? AOS_OK : aos_fail(AOS_ERR_AUTH, errbuf, errlen, "invalid API key");
}

aos_result router_credentials_check(const aos_config_common_t *common, const router_apikeys_t *keys,
                                    char *errbuf, size_t errlen)
{
    if (common->dev_mode) {
        aos_secure_log_dev_mode(common, router_apikeys_count(keys) == 0
                                            ? "no API keys: the HTTP API is open to anyone "
                                              "who can reach AOS_HTTP_ADDR"
                                            : "the bus may use the default guest account");
        return AOS_OK;
    }
    char bus[512] = "";
    bool keys_ok = router_apikeys_count(keys) > 0;
    bool bus_ok = aos_secure_check_bus(common, bus, sizeof bus) == AOS_OK;
    if (keys_ok && bus_ok)
        return AOS_OK;
    return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "refusing to start without credentials:%s%s%s%s",
                    keys_ok ? ""
                            : "\nno API keys configured: set AOS_API_KEYS (comma-separated) "
                              "or AOS_API_KEYS_FILE (one key per line, 16-512 characters); "
                              "clients send Authorization: Bearer <key>; " AOS_SECURE_DEV_HINT,
                    bus_ok ? "" : "\n", bus_ok ? "" : bus, "");
}
