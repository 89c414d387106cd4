/* Service Bus connection strings: "Key=Value;Key=Value;..." with case-insensitive keys in any
 * order. Values may contain '=' (base64 keys, SAS tokens), so a part splits at its first '='.
 * Error messages name the part but never echo a value (it may be a secret). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "aos/connstr.h"
#include "aos/servicebus.h"
#include "sb_internal.h"

enum { K_ENDPOINT, K_KEYNAME, K_KEY, K_ENTITY, K_SAS, K_EMULATOR, K_COUNT_ };

static const char *const KEYS[K_COUNT_] = {
    [K_ENDPOINT] = "Endpoint",         [K_KEYNAME] = "SharedAccessKeyName",
    [K_KEY] = "SharedAccessKey",       [K_ENTITY] = "EntityPath",
    [K_SAS] = "SharedAccessSignature", [K_EMULATOR] = "UseDevelopmentEmulator",
};

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void aos_sb_connstr_free(aos_sb_connstr_t *cs)
{
    if (!cs)
        return;
    free(cs->endpoint);
    free(cs->host);
    free(cs->key_name);
    wipe_free(cs->key);
    free(cs->entity_path);
    wipe_free(cs->sas);
    free(cs);
}

static bool host_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* Endpoint = scheme://host[:port][/] */
static aos_result parse_endpoint(aos_sb_connstr_t *cs, const char *ep, char *errbuf, size_t errlen)
{
    static const struct {
        const char *scheme;
        bool tls;
    } SCHEMES[] = {{"sb://", true}, {"amqps://", true}, {"amqp://", false}};
    const char *p = NULL;
    for (size_t i = 0; i < sizeof SCHEMES / sizeof SCHEMES[0] && !p; i++) {
        size_t n = strlen(SCHEMES[i].scheme);
        if (strncasecmp(ep, SCHEMES[i].scheme, n) == 0) {
            p = ep + n;
            cs->use_tls = SCHEMES[i].tls;
        }
    }
    if (!p)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "Endpoint must start with sb://, amqps:// or amqp://");
    size_t hlen = 0;
    while (host_char((unsigned char)p[hlen]))
        hlen++;
    if (hlen == 0 || hlen > 253)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "Endpoint has no valid host name");
    unsigned long port = 0;
    const char *q = p + hlen;
    if (*q == ':') {
        q++;
        if (!isdigit((unsigned char)*q))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "Endpoint port is not a number");
        while (isdigit((unsigned char)*q) && port <= 65535)
            port = port * 10 + (unsigned long)(*q++ - '0');
        if (port == 0 || port > 65535 || isdigit((unsigned char)*q))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "Endpoint port is out of range");
    }
    if (*q == '/')
        q++;
    if (*q != '\0')
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "Endpoint must be scheme://host[:port]/ with no path (use EntityPath)");
    if (!(cs->host = strndup(p, hlen)))
        return AOS_ERR_NOMEM;
    for (char *h = cs->host; *h; h++)
        *h = (char)tolower((unsigned char)*h);
    cs->port = (uint16_t)port;
    return AOS_OK;
}

/* aos_connstr_split, then no listed value may be empty. */
static aos_result split_parts(char *work, char *vals[K_COUNT_], char *errbuf, size_t errlen)
{
    AOS_RETURN_IF_FAILED(aos_connstr_split(work, KEYS, K_COUNT_, vals, errbuf, errlen));
    for (int i = 0; i < K_COUNT_; i++)
        if (vals[i] && !*vals[i])
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s is empty", KEYS[i]);
    return AOS_OK;
}

static aos_result check_credentials(char *vals[K_COUNT_], char *errbuf, size_t errlen)
{
    if (vals[K_SAS] && (vals[K_KEY] || vals[K_KEYNAME]))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "give either SharedAccessSignature or SharedAccessKeyName with "
                        "SharedAccessKey, not both");
    if (vals[K_SAS]) {
        aos_sb_sas_fields_t *f = NULL;
        char detail[160];
        if (aos_sb_sas_parse(vals[K_SAS], &f, detail, sizeof detail) != AOS_OK)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "SharedAccessSignature is malformed: %s", detail);
        aos_sb_sas_fields_free(f);
        return AOS_OK;
    }
    if (!vals[K_KEYNAME] && !vals[K_KEY])
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "credentials missing: need SharedAccessKeyName and SharedAccessKey, or "
                        "SharedAccessSignature");
    if (!vals[K_KEYNAME])
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SharedAccessKeyName is missing");
    if (!vals[K_KEY])
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SharedAccessKey is missing");
    return AOS_OK;
}

static aos_result fill(aos_sb_connstr_t *cs, char *vals[K_COUNT_], char *errbuf, size_t errlen)
{
    if (!vals[K_ENDPOINT])
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "Endpoint is missing");
    AOS_RETURN_IF_FAILED(check_credentials(vals, errbuf, errlen));
    if (vals[K_EMULATOR]) {
        if (strcasecmp(vals[K_EMULATOR], "true") == 0)
            cs->emulator = true;
        else if (strcasecmp(vals[K_EMULATOR], "false") != 0)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "UseDevelopmentEmulator must be true or false");
    }
    if (!(cs->endpoint = strdup(vals[K_ENDPOINT])))
        return AOS_ERR_NOMEM;
    AOS_RETURN_IF_FAILED(parse_endpoint(cs, vals[K_ENDPOINT], errbuf, errlen));
    if (cs->emulator) /* the emulator speaks plain AMQP */
        cs->use_tls = false;
    if (cs->port == 0)
        cs->port = cs->use_tls ? 5671 : 5672;
    struct {
        int k;
        char **dst;
    } copies[] = {{K_KEYNAME, &cs->key_name},
                  {K_KEY, &cs->key},
                  {K_ENTITY, &cs->entity_path},
                  {K_SAS, &cs->sas}};
    for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++)
        if (vals[copies[i].k] && !(*copies[i].dst = strdup(vals[copies[i].k])))
            return AOS_ERR_NOMEM;
    if (cs->entity_path) {
        char *e = cs->entity_path;
        while (*e == '/')
            memmove(e, e + 1, strlen(e));
        if (!*e)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "EntityPath is empty");
    }
    return AOS_OK;
}

aos_result aos_sb_connstr_parse(const char *s, aos_sb_connstr_t **out, char *errbuf, size_t errlen)
{
    if (!out)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "no output pointer");
    *out = NULL;
    if (!s || !*s)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "connection string is empty");
    size_t n = strlen(s);
    if (n > AOS_CONNSTR_MAX)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "connection string is longer than %d bytes", AOS_CONNSTR_MAX);
    char *work = strdup(s);
    aos_sb_connstr_t *cs = calloc(1, sizeof *cs);
    if (!work || !cs) {
        free(work);
        free(cs);
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "out of memory");
    }
    char *vals[K_COUNT_] = {0};
    aos_result r = split_parts(work, vals, errbuf, errlen);
    if (r == AOS_OK)
        r = fill(cs, vals, errbuf, errlen);
    OPENSSL_cleanse(work, n);
    free(work);
    if (r != AOS_OK) {
        if (r == AOS_ERR_NOMEM)
            aos_fail(r, errbuf, errlen, "out of memory");
        aos_sb_connstr_free(cs);
        return r;
    }
    *out = cs;
    return AOS_OK;
}

aos_result aos_sb_connstr_audience(const aos_sb_connstr_t *cs, char *out, size_t outlen)
{
    if (!cs || !cs->host || !out || outlen == 0)
        return AOS_ERR_INVALID;
    int n = snprintf(out, outlen, "sb://%s/%s", cs->host, cs->entity_path ? cs->entity_path : "");
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        return AOS_ERR_TOO_LARGE;
    }
    return AOS_OK;
}
