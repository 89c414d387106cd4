/* Pure helpers of the bus: URL parsing, profiles, names, addresses, backoff. */
#include "bus_util.h"

#include "aos/percent.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copy [s, s+n) into out, percent-decoding it. */
static aos_result decode_field(const char *s, size_t n, char *out, size_t outlen, const char *what,
                               char *errbuf, size_t errlen)
{
    aos_result r = aos_pct_decode(s, n, 0, out, outlen, NULL);
    if (r == AOS_ERR_TOO_LARGE)
        return aos_fail(r, errbuf, errlen, "URL %s too long", what);
    if (r != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad %%-escape or NUL in the URL %s",
                        what);
    return AOS_OK;
}

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static aos_result parse_host_port(const char *s, size_t n, aos_bus_url_t *out, char *errbuf,
                                  size_t errlen)
{
    size_t host_end;
    const char *host = s;
    size_t host_len;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "unterminated [IPv6] host in URL");
        host = s + 1;
        host_len = (size_t)(close - s) - 1;
        for (size_t i = 0; i < host_len; i++) {
            char c = host[i];
            if (!(c == ':' || c == '.' || isxdigit((unsigned char)c)))
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad IPv6 host in URL");
        }
        host_end = (size_t)(close - s) + 1;
    } else {
        host_end = 0;
        while (host_end < n && s[host_end] != ':')
            host_end++;
        host_len = host_end;
        for (size_t i = 0; i < host_len; i++)
            if (!host_char_ok(host[i]))
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad character in URL host");
    }
    if (host_len == 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "URL has no host");
    if (host_len >= sizeof out->host)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "URL host too long");
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';

    if (host_end == n)
        return AOS_OK;
    if (s[host_end] != ':')
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "unexpected text after URL host");
    const char *p = s + host_end + 1;
    size_t plen = n - host_end - 1;
    if (plen == 0 || plen > 5)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad URL port");
    unsigned long port = 0;
    for (size_t i = 0; i < plen; i++) {
        if (p[i] < '0' || p[i] > '9')
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad URL port");
        port = port * 10 + (unsigned long)(p[i] - '0');
    }
    if (port == 0 || port > 65535)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "URL port out of range");
    out->port = (uint16_t)port;
    return AOS_OK;
}

aos_result aos_bus_url_parse(const char *url, aos_bus_url_t *out, char *errbuf, size_t errlen)
{
    if (!url || !out)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "no bus URL");
    memset(out, 0, sizeof *out);
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c == 0x7f)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "bus URL contains whitespace or control characters");
    const char *rest;
    if (strncasecmp(url, "amqps://", 8) == 0) {
        out->tls = true;
        rest = url + 8;
    } else if (strncasecmp(url, "amqp://", 7) == 0) {
        rest = url + 7;
    } else {
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "bus URL must start with amqp:// or amqps://");
    }
    out->port = out->tls ? 5671 : 5672;

    size_t auth_len = strcspn(rest, "/?#");
    const char *tail = rest + auth_len;
    if (*tail == '?' || *tail == '#')
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "bus URL must not have a query or fragment");
    if (*tail == '/' && tail[1] != '\0')
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "bus URL must not have a path (virtual hosts are not supported)");

    const char *at = NULL;
    for (size_t i = 0; i < auth_len; i++)
        if (rest[i] == '@')
            at = rest + i; /* the last '@' ends the user info */
    const char *hostport = rest;
    if (at) {
        size_t ui_len = (size_t)(at - rest);
        const char *colon = memchr(rest, ':', ui_len);
        size_t user_len = colon ? (size_t)(colon - rest) : ui_len;
        AOS_RETURN_IF_FAILED(
            decode_field(rest, user_len, out->user, sizeof out->user, "user", errbuf, errlen));
        if (colon)
            AOS_RETURN_IF_FAILED(decode_field(colon + 1, ui_len - user_len - 1, out->password,
                                              sizeof out->password, "password", errbuf, errlen));
        if (out->user[0] == '\0')
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bus URL has an empty user name");
        out->has_user = true;
        hostport = at + 1;
    }
    return parse_host_port(hostport, (size_t)(tail - hostport), out, errbuf, errlen);
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

aos_result aos_bus_profile_parse(const char *name, aos_bus_profile *out)
{
    *out = AOS_BUS_PROFILE_AUTO;
    if (!name || !*name || strcasecmp(name, "auto") == 0)
        return AOS_OK;
    if (strcasecmp(name, "rabbitmq") == 0)
        *out = AOS_BUS_PROFILE_RABBITMQ;
    else if (strcasecmp(name, "servicebus") == 0)
        *out = AOS_BUS_PROFILE_SERVICEBUS;
    else
        return AOS_ERR_INVALID;
    return AOS_OK;
}

aos_bus_profile aos_bus_profile_of(const char *name)
{
    aos_bus_profile p;
    (void)aos_bus_profile_parse(name, &p);
    return p;
}

aos_result aos_bus_profile_resolve(aos_bus_profile requested, const char *env_profile,
                                   const char *host, bool has_connection_string,
                                   aos_bus_profile *out)
{
    if (requested == AOS_BUS_PROFILE_RABBITMQ || requested == AOS_BUS_PROFILE_SERVICEBUS) {
        *out = requested;
        return AOS_OK;
    }
    if (requested != AOS_BUS_PROFILE_AUTO)
        return AOS_ERR_INVALID;
    aos_bus_profile named;
    if (aos_bus_profile_parse(env_profile, &named) != AOS_OK)
        return AOS_ERR_INVALID;
    if (named != AOS_BUS_PROFILE_AUTO) {
        *out = named;
        return AOS_OK;
    }
    if ((host && ends_with_ci(host, ".servicebus.windows.net")) || has_connection_string)
        *out = AOS_BUS_PROFILE_SERVICEBUS;
    else
        *out = AOS_BUS_PROFILE_RABBITMQ;
    return AOS_OK;
}

bool aos_bus_name_valid(const char *name)
{
    if (!name || !*name)
        return false;
    size_t n = 0;
    for (const char *c = name; *c; c++, n++) {
        if (n >= AOS_BUS_NAME_MAX || !host_char_ok(*c))
            return false;
    }
    return true;
}

static aos_result put(char *out, size_t outlen, const char *fmt, const char *a, const char *b)
{
    int n = snprintf(out, outlen, fmt, a, b);
    if (n < 0 || (size_t)n >= outlen)
        return AOS_ERR_TOO_LARGE;
    return AOS_OK;
}

aos_result aos_bus_map_queue(aos_bus_profile p, const char *queue, char *out, size_t outlen)
{
    if (!aos_bus_name_valid(queue) || !out)
        return AOS_ERR_INVALID;
    if (p == AOS_BUS_PROFILE_SERVICEBUS)
        return put(out, outlen, "%s%s", queue, "");
    return put(out, outlen, "/amq/queue/%s%s", queue, "");
}

aos_result aos_bus_map_topic(aos_bus_profile p, const char *topic, const char *event_type,
                             char *out, size_t outlen)
{
    if (!aos_bus_name_valid(topic) || !aos_bus_name_valid(event_type) || !out)
        return AOS_ERR_INVALID;
    if (p == AOS_BUS_PROFILE_SERVICEBUS)
        return put(out, outlen, "%s%s", topic, "");
    return put(out, outlen, "/exchange/%s/%s", topic, event_type);
}

aos_result aos_bus_map_reply(aos_bus_profile p, const char *instance_id, char *out, size_t outlen)
{
    if (!aos_bus_name_valid(instance_id) || !out)
        return AOS_ERR_INVALID;
    if (p == AOS_BUS_PROFILE_SERVICEBUS) /* one session-enabled queue, session = instance */
        return put(out, outlen, "%s%s", "aos.reply", "");
    return put(out, outlen, "/queue/aos.reply.%s%s", instance_id, "");
}

const char *aos_bus_rabbitmq_queue_name(const char *address)
{
    if (!address)
        return NULL;
    const char *q = NULL;
    if (strncmp(address, "/amq/queue/", 11) == 0)
        q = address + 11;
    else if (strncmp(address, "/queue/", 7) == 0)
        q = address + 7;
    return q && aos_bus_name_valid(q) ? q : NULL;
}

aos_result aos_bus_map_dead_letter(aos_bus_profile p, const char *address, char *out, size_t outlen)
{
    if (!address || !out)
        return AOS_ERR_INVALID;
    if (p == AOS_BUS_PROFILE_SERVICEBUS) {
        if (!*address || strstr(address, "$deadletterqueue"))
            return AOS_ERR_UNSUPPORTED;
        return put(out, outlen, "%s/$deadletterqueue%s", address, "");
    }
    const char *q = aos_bus_rabbitmq_queue_name(address);
    if (!q)
        return AOS_ERR_UNSUPPORTED;
    size_t n = strlen(q);
    if (n >= 4 && strcmp(q + n - 4, ".dlq") == 0)
        return AOS_ERR_UNSUPPORTED; /* no dead letters of dead letters */
    return put(out, outlen, "/amq/queue/%s.dlq%s", q, "");
}

uint32_t aos_bus_backoff_ms(uint32_t min_ms, uint32_t max_ms, uint32_t attempt, uint64_t rnd)
{
    if (min_ms == 0)
        min_ms = 1;
    if (max_ms < min_ms)
        max_ms = min_ms;
    uint64_t cap = min_ms;
    for (uint32_t i = 0; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    return (uint32_t)(min_ms + rnd % (cap - min_ms + 1));
}

void aos_bus_lock_token_from_tag(const unsigned char tag[16], unsigned char out[16])
{
    static const unsigned char order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    unsigned char t[16];
    memcpy(t, tag, 16); /* tag and out may be the same buffer */
    for (int i = 0; i < 16; i++)
        out[i] = t[order[i]];
}

bool aos_bus_content_type_is_json(const char *ct)
{
    if (!ct)
        return true;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
        (n == 9 && strncasecmp(ct, "text/json", 9) == 0))
        return true;
    /* type/subtype+json with a non-empty type and subtype */
    const char *slash = memchr(ct, '/', n);
    return slash && slash > ct && n >= 5 && (size_t)(slash - ct) + 1 < n - 5 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

bool aos_bus_message_expired(int64_t absolute_expiry_ms, int64_t creation_ms, uint32_t ttl_ms,
                             int64_t now_ms)
{
    if (absolute_expiry_ms > 0)
        return now_ms >= absolute_expiry_ms;
    if (creation_ms > 0 && ttl_ms > 0)
        return now_ms >= creation_ms + (int64_t)ttl_ms;
    return false;
}
