/* Config value parsers, one per aos_config_type. Pure functions over text. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"

bool aos_config_type_is_string(aos_config_type t)
{
    return t == AOS_CONFIG_STRING || t == AOS_CONFIG_URL || t == AOS_CONFIG_HOSTPORT ||
           t == AOS_CONFIG_ENUM;
}

const char *aos_config_type_name(aos_config_type t)
{
    static const char *NAMES[] = {"string", "integer", "boolean", "duration",
                                  "size",   "enum",    "url",     "host:port"};
    return (unsigned)t < sizeof NAMES / sizeof *NAMES ? NAMES[t] : "unknown";
}

static aos_result why_fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static aos_result why_fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return AOS_ERR_INVALID;
}

/* Leading unsigned decimal; *end points after it. False if none or overflow. */
static bool leading_uint(const char *s, uint64_t *out, const char **end)
{
    if (!isdigit((unsigned char)*s))
        return false;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    *end = s;
    return true;
}

static aos_result check_range(const aos_config_field_t *f, int64_t v, char *why, size_t whylen)
{
    if ((f->min || f->max) && (v < f->min || v > f->max))
        return why_fail(why, whylen, "must be between %lld and %lld", (long long)f->min,
                        (long long)f->max);
    return AOS_OK;
}

static aos_result parse_int(const char *s, int64_t *out, char *why, size_t whylen)
{
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    uint64_t u;
    const char *end;
    if (!leading_uint(p, &u, &end) || *end)
        return why_fail(why, whylen, "expected an integer");
    if (u > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return why_fail(why, whylen, "integer out of range");
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return AOS_OK;
}

static aos_result parse_bool(const char *s, bool *out, char *why, size_t whylen)
{
    static const char *YES[] = {"true", "1", "yes", "on"};
    static const char *NO[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, YES[i]) == 0) {
            *out = true;
            return AOS_OK;
        }
        if (strcasecmp(s, NO[i]) == 0) {
            *out = false;
            return AOS_OK;
        }
    }
    return why_fail(why, whylen, "expected true or false");
}

/* number + unit, unit multipliers from a small table; units compared case-sensitively
 * when case_sensitive (durations: "m" minutes vs "ms"). */
typedef struct {
    const char *unit;
    uint64_t mult;
} unit_t;

static bool parse_scaled(const char *s, const unit_t *units, size_t nunits, bool case_sensitive,
                         int64_t *out)
{
    uint64_t v;
    const char *end;
    if (!leading_uint(s, &v, &end))
        return false;
    for (size_t i = 0; i < nunits; i++) {
        bool eq =
            case_sensitive ? strcmp(end, units[i].unit) == 0 : strcasecmp(end, units[i].unit) == 0;
        if (!eq)
            continue;
        if (v > (uint64_t)INT64_MAX / units[i].mult)
            return false;
        *out = (int64_t)(v * units[i].mult);
        return true;
    }
    return false;
}

static aos_result parse_duration(const char *s, int64_t *out, char *why, size_t whylen)
{
    static const unit_t UNITS[] = {{"", 1},      {"ms", 1},      {"s", 1000},
                                   {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    if (!parse_scaled(s, UNITS, sizeof UNITS / sizeof *UNITS, true, out))
        return why_fail(why, whylen, "expected a duration like 500ms, 30s, 5m or 1h");
    return AOS_OK;
}

static aos_result parse_size(const char *s, int64_t *out, char *why, size_t whylen)
{
    static const unit_t UNITS[] = {
        {"", 1},           {"b", 1},         {"k", 1u << 10},   {"kb", 1u << 10},
        {"kib", 1u << 10}, {"m", 1u << 20},  {"mb", 1u << 20},  {"mib", 1u << 20},
        {"g", 1u << 30},   {"gb", 1u << 30}, {"gib", 1u << 30},
    };
    if (!parse_scaled(s, UNITS, sizeof UNITS / sizeof *UNITS, false, out))
        return why_fail(why, whylen, "expected a size like 512, 64k, 10M or 1G");
    return AOS_OK;
}

/* Find s among '|'-separated choices (case-insensitive); return the choice's start. */
static const char *match_choice(const char *choices, const char *s, size_t slen, size_t *out_len)
{
    const char *p = choices;
    while (p && *p) {
        size_t n = strcspn(p, "|");
        if (n == slen && strncasecmp(p, s, n) == 0) {
            *out_len = n;
            return p;
        }
        p += n;
        if (*p == '|')
            p++;
    }
    return NULL;
}

static aos_result parse_enum(const aos_config_field_t *f, const char *s, char **out, char *why,
                             size_t whylen)
{
    size_t n;
    const char *c = match_choice(f->allowed, s, strlen(s), &n);
    if (!c)
        return why_fail(why, whylen, "expected one of %s", f->allowed ? f->allowed : "(none)");
    *out = strndup(c, n);
    return *out ? AOS_OK : AOS_ERR_NOMEM;
}

static bool port_ok(const char *p, bool allow_zero)
{
    uint64_t v;
    const char *end;
    return leading_uint(p, &v, &end) && !*end && end - p <= 5 && v <= 65535 && (allow_zero || v);
}

static bool host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

static bool hostport_ok(const char *s)
{
    const char *colon;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close == s + 1 || close[1] != ':')
            return false;
        for (const char *p = s + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return false;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        for (const char *p = s; p < colon; p++)
            if (!host_char(*p))
                return false;
    }
    return port_ok(colon + 1, true);
}

static bool url_ok(const char *s, const char *schemes)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7F)
            return false;
    const char *sep = strstr(s, "://");
    if (!sep || sep == s || !isalpha((unsigned char)*s))
        return false;
    for (const char *p = s; p < sep; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '.' && *p != '-')
            return false;
    size_t n;
    if (schemes && !match_choice(schemes, s, (size_t)(sep - s), &n))
        return false;
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memrchr(auth, '@', alen);
    const char *host = at ? at + 1 : auth;
    size_t hlen = alen - (size_t)(host - auth);
    if (hlen == 0)
        return false;
    char hp[300];
    if (hlen >= sizeof hp)
        return false;
    memcpy(hp, host, hlen);
    hp[hlen] = '\0';
    /* host alone, or host:port */
    bool bracket = hp[0] == '[';
    char *last_colon = strrchr(hp, ':');
    if (bracket && (!strchr(hp, ']') || (last_colon && last_colon < strchr(hp, ']'))))
        last_colon = NULL;
    if (!last_colon)
        return bracket ? hp[hlen - 1] == ']' : true;
    return last_colon != hp && port_ok(last_colon + 1, false);
}

static aos_result dup_out(const char *s, char **out)
{
    *out = strdup(s);
    return *out ? AOS_OK : AOS_ERR_NOMEM;
}

aos_result aos_config_parse_value(const aos_config_field_t *f, const char *text,
                                  aos_config_value_t *out, char *why, size_t whylen)
{
    switch (f->type) {
    case AOS_CONFIG_STRING: {
        size_t len = strlen(text);
        if (f->max > 0 && len > (uint64_t)f->max)
            return why_fail(why, whylen, "longer than %lld bytes", (long long)f->max);
        if (f->min > 0 && len < (uint64_t)f->min)
            return why_fail(why, whylen, "shorter than %lld bytes", (long long)f->min);
        return dup_out(text, &out->s);
    }
    case AOS_CONFIG_INT:
        AOS_RETURN_IF_FAILED(parse_int(text, &out->i, why, whylen));
        return check_range(f, out->i, why, whylen);
    case AOS_CONFIG_BOOL:
        return parse_bool(text, &out->b, why, whylen);
    case AOS_CONFIG_DURATION_MS:
        AOS_RETURN_IF_FAILED(parse_duration(text, &out->i, why, whylen));
        return check_range(f, out->i, why, whylen);
    case AOS_CONFIG_SIZE:
        AOS_RETURN_IF_FAILED(parse_size(text, &out->i, why, whylen));
        return check_range(f, out->i, why, whylen);
    case AOS_CONFIG_ENUM:
        return parse_enum(f, text, &out->s, why, whylen);
    case AOS_CONFIG_URL:
        if (!url_ok(text, f->allowed))
            return f->allowed ? why_fail(why, whylen, "expected a %s URL (scheme://host[:port])",
                                         f->allowed)
                              : why_fail(why, whylen, "expected a URL (scheme://host[:port])");
        return dup_out(text, &out->s);
    case AOS_CONFIG_HOSTPORT:
        if (!hostport_ok(text))
            return why_fail(why, whylen, "expected host:port");
        return dup_out(text, &out->s);
    }
    return why_fail(why, whylen, "unknown field type");
}
