/* Agent schedules: intervals and 5-field cron expressions (UTC). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/agents.h"

typedef struct cron_field {
    const char *name;
    int min, max;
} cron_field;

static const cron_field FIELDS[5] = {
    {"minute", 0, 59}, {"hour", 0, 23},       {"day of month", 1, 31},
    {"month", 1, 12},  {"day of week", 0, 7},
};

static bool parse_int(const char **p, int *out)
{
    const char *s = *p;
    int v = 0, digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 4) {
        v = v * 10 + (*s - '0');
        s++;
        digits++;
    }
    if (digits == 0 || (*s >= '0' && *s <= '9'))
        return false;
    *p = s;
    *out = v;
    return true;
}

/* One comma-separated item: "*", "*\/n", "a", "a-b", "a-b/n". */
static aos_result parse_item(const char *item, const cron_field *f, uint64_t *bits, char *errbuf,
                             size_t errlen)
{
    const char *p = item;
    int lo = f->min, hi = f->max, step = 1;
    if (*p == '*') {
        p++;
    } else {
        if (!parse_int(&p, &lo))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s: \"%s\" is not a number", f->name,
                            item);
        hi = lo;
        if (*p == '-') {
            p++;
            if (!parse_int(&p, &hi))
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s: bad range \"%s\"", f->name,
                                item);
        }
    }
    if (*p == '/') {
        p++;
        if (!parse_int(&p, &step) || step == 0)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s: bad step in \"%s\"", f->name,
                            item);
        if (item[0] != '*' && hi == lo)
            hi = f->max;
    }
    if (*p != '\0')
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s: unexpected text in \"%s\"", f->name,
                        item);
    if (lo < f->min || hi > f->max || lo > hi)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s: \"%s\" outside %d-%d", f->name, item,
                        f->min, f->max);
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ull << v;
    return AOS_OK;
}

static aos_result parse_field(char *text, const cron_field *f, uint64_t *bits, char *errbuf,
                              size_t errlen)
{
    *bits = 0;
    size_t n = strlen(text);
    if (n == 0 || text[0] == ',' || text[n - 1] == ',' || strstr(text, ",,"))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s: empty list item in \"%s\"", f->name,
                        text);
    char *save = NULL;
    for (char *item = strtok_r(text, ",", &save); item; item = strtok_r(NULL, ",", &save))
        AOS_RETURN_IF_FAILED(parse_item(item, f, bits, errbuf, errlen));
    if (*bits == 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s: empty", f->name);
    return AOS_OK;
}

aos_result aos_schedule_parse_cron(const char *expr, aos_schedule_t *s, char *errbuf, size_t errlen)
{
    if (!expr || !s)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "no cron expression");
    if (strlen(expr) > 256)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "cron expression too long");
    char buf[257];
    snprintf(buf, sizeof buf, "%s", expr);
    char *fields[6] = {0};
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (n == 5)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "expected 5 fields (minute hour day-of-month month day-of-week)");
        fields[n++] = tok;
    }
    if (n != 5)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "expected 5 fields (minute hour day-of-month month day-of-week)");
    uint64_t *dst[5] = {&s->cron_min, &s->cron_hour, &s->cron_dom, &s->cron_mon, &s->cron_dow};
    for (int i = 0; i < 5; i++)
        AOS_RETURN_IF_FAILED(parse_field(fields[i], &FIELDS[i], dst[i], errbuf, errlen));
    if (s->cron_dow & (1ull << 7))
        s->cron_dow = (s->cron_dow | 1ull) & ~(1ull << 7);
    return AOS_OK;
}

#define ALL_DOM 0xFFFFFFFEull /* bits 1..31 */
#define ALL_DOW 0x7Full       /* bits 0..6 */

static bool day_matches(const aos_schedule_t *s, const struct tm *tm)
{
    bool dom = (s->cron_dom >> tm->tm_mday) & 1u;
    bool dow = (s->cron_dow >> tm->tm_wday) & 1u;
    bool dom_any = (s->cron_dom & ALL_DOM) == ALL_DOM;
    bool dow_any = (s->cron_dow & ALL_DOW) == ALL_DOW;
    if (dom_any && dow_any)
        return true;
    if (dom_any)
        return dow;
    if (dow_any)
        return dom;
    return dom || dow; /* classic cron: either restricted field may match */
}

static aos_result cron_next(const aos_schedule_t *s, time_t after, time_t *out_next)
{
    time_t t = after - (after % 60) + 60;
    struct tm tm;
    /* Each step advances at least one minute and usually a whole hour/day/month; five years
     * of steps cover every reachable combination (leap days included). */
    for (int guard = 0; guard < 200000; guard++) {
        if (!gmtime_r(&t, &tm))
            return AOS_ERR_NOT_FOUND;
        if (tm.tm_year > 70 + 6 + (int)(after / 31536000))
            break;
        if (!((s->cron_mon >> (tm.tm_mon + 1)) & 1u)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!day_matches(s, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!((s->cron_hour >> tm.tm_hour) & 1u)) {
            tm.tm_hour++;
            tm.tm_min = tm.tm_sec = 0;
        } else if (!((s->cron_min >> tm.tm_min) & 1u)) {
            tm.tm_min++;
            tm.tm_sec = 0;
        } else {
            *out_next = t;
            return AOS_OK;
        }
        t = timegm(&tm);
        if (t == (time_t)-1)
            return AOS_ERR_NOT_FOUND;
    }
    return AOS_ERR_NOT_FOUND;
}

aos_result aos_schedule_next(const aos_schedule_t *s, time_t after, time_t *out_next)
{
    if (!s || !out_next || !s->enabled)
        return AOS_ERR_INVALID;
    if (s->interval_s > 0) {
        /* on the epoch's grid, so every replica computes the same ticks whenever it started */
        time_t i = (time_t)s->interval_s;
        *out_next = (after >= 0 ? after / i + 1 : -((-after - 1) / i)) * i;
        return AOS_OK;
    }
    return cron_next(s, after, out_next);
}
