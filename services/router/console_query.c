/* Query parameters of the console's routes (console_query.h). */
#include "console_query.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* n decimal digits at *p (exactly n), advancing *p. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static aos_result parse_rfc3339(const char *s, int64_t *out_ms)
{
    static const int MDAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h, mi, sec, ms = 0;
    if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
        !digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return AOS_ERR_INVALID;
    p++;
    if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) || !expect(&p, ':') ||
        !digits(&p, 2, &sec))
        return AOS_ERR_INVALID;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; isdigit((unsigned char)*p); p++, n++)
            if (n < 3)
                ms = ms * 10 + (*p - '0');
        if (n == 0 || n > 9)
            return AOS_ERR_INVALID;
        for (; n < 3; n++)
            ms *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (!digits(&p, 2, &oh) || !expect(&p, ':') || !digits(&p, 2, &om) || oh > 23 || om > 59)
            return AOS_ERR_INVALID;
        offset_min = sign * (oh * 60 + om);
    } else {
        return AOS_ERR_INVALID;
    }
    if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
        d > MDAYS[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 || mi > 59 || sec > 60)
        return AOS_ERR_INVALID;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
    if (secs < 0)
        return AOS_ERR_INVALID;
    *out_ms = secs * 1000 + ms;
    return AOS_OK;
}

aos_result router_time_parse(const char *s, int64_t *out_ms)
{
    if (!s || !s[0])
        return AOS_ERR_INVALID;
    size_t n = strspn(s, "0123456789");
    if (s[n] == '\0') {
        if (n > 15) /* beyond the year 33000: not a time anyone means */
            return AOS_ERR_INVALID;
        int64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (s[i] - '0');
        *out_ms = v;
        return AOS_OK;
    }
    return parse_rfc3339(s, out_ms);
}

static bool printable_id(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || n >= max)
            return false;
    return n > 0;
}

bool router_dead_letter_id_valid(const char *id)
{
    return id && printable_id(id, 255);
}

aos_result router_conv_filter_parse(const router_conv_query_t *in, router_conv_filter_t *out,
                                    char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    out->limit = ROUTER_CONV_LIST_LIMIT_DEFAULT;
    if (in->agent) {
        if (!aos_storage_valid_agent(in->agent))
            return aos_fail(AOS_ERR_INVALID, why, whylen,
                            "query 'agent' must be 1-64 characters of A-Z a-z 0-9 . _ -");
        snprintf(out->agent, sizeof out->agent, "%s", in->agent);
    }
    if (in->q) {
        if (strlen(in->q) > ROUTER_CONV_QUERY_MAX || !printable_id(in->q, ROUTER_CONV_QUERY_MAX))
            return aos_fail(AOS_ERR_INVALID, why, whylen,
                            "query 'q' must be 1-128 printable characters without spaces (a "
                            "part of a conversation id)");
        snprintf(out->q, sizeof out->q, "%s", in->q);
    }
    if (in->since && router_time_parse(in->since, &out->since_ms) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, why, whylen,
                        "query 'since' must be Unix milliseconds or an RFC 3339 time "
                        "(2026-12-07T22:00:00Z)");
    if (in->until && router_time_parse(in->until, &out->until_ms) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, why, whylen,
                        "query 'until' must be Unix milliseconds or an RFC 3339 time "
                        "(2026-12-07T22:00:00Z)");
    if (in->since && in->until && out->until_ms < out->since_ms)
        return aos_fail(AOS_ERR_INVALID, why, whylen, "query 'until' is before 'since'");
    if (in->cursor) {
        if (!aos_storage_valid_id(in->cursor))
            return aos_fail(AOS_ERR_INVALID, why, whylen,
                            "query 'cursor' is malformed (use next_cursor as given)");
        snprintf(out->cursor, sizeof out->cursor, "%s", in->cursor);
    }
    if (in->limit) {
        size_t n = strspn(in->limit, "0123456789");
        long v = 0;
        if (n > 0 && n <= 4 && in->limit[n] == '\0')
            sscanf(in->limit, "%ld", &v);
        if (v < 1 || v > ROUTER_CONV_LIST_LIMIT_MAX)
            return aos_fail(AOS_ERR_INVALID, why, whylen, "query 'limit' must be 1-%d",
                            ROUTER_CONV_LIST_LIMIT_MAX);
        out->limit = (size_t)v;
    }
    return AOS_OK;
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return n == 0;
}

bool router_conv_filter_match(const router_conv_filter_t *f, const char *id, int64_t created_ms,
                              int64_t updated_ms)
{
    if (f->q[0] && !contains_nocase(id ? id : "", f->q))
        return false;
    if (f->since_ms && updated_ms < f->since_ms)
        return false;
    if (f->until_ms && created_ms > f->until_ms)
        return false;
    return true;
}
