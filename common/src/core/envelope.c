/* The event object: construction, copies, setters, validation, ids and times. The AMQP and
 * JSON encodings live in envelope_amqp.c and envelope_json.c. */
#include "aos/envelope.h"
#include "aos/trace.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "aos/json.h"
#include "aos/utf8.h"
#include "envelope_internal.h"

char *aos_strndup_(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

aos_result aos_event_new(aos_event_t **out_event)
{
    /* malloc + zeroing, not calloc: glibc's calloc bypasses the per-thread cache, and every
     * message on the bus makes an event; written so that GCC does not turn it back into
     * calloc */
    aos_event_t *ev = malloc(sizeof *ev);
    if (ev)
        *ev = (aos_event_t){0};
    *out_event = ev;
    return ev ? AOS_OK : AOS_ERR_NOMEM;
}

static void time_format_full(time_t secs, int frac, char out[32])
{
    struct tm tm = {0};
    if (!gmtime_r(&secs, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
        /* Not representable in RFC 3339: leave something validation rejects. */
        snprintf(out, 32, "%s", "out-of-range");
        return;
    }
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
             (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
             (unsigned)frac % 1000u);
}

void aos_time_format_ms_(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    /* Every event gets a time: the second's text is kept per thread and only the
     * milliseconds are written again (gmtime_r + snprintf per event showed in profiles). */
    static _Thread_local time_t cached_secs = -1;
    static _Thread_local char cached[32];
    if (secs != cached_secs) {
        time_format_full(secs, 0, cached);
        cached_secs = cached[0] == 'o' ? -1 : secs; /* "out-of-range" is not kept */
    }
    memcpy(out, cached, 32);
    if (cached_secs == -1) {
        time_format_full(secs, frac, out);
        return;
    }
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ": the milliseconds sit at offsets 20..22 */
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
}

/* Random bytes for ids, drawn from the kernel's CSPRNG (getrandom) a block at a time per
 * thread: one call per id cost as much as encoding the message, and not touching OpenSSL here
 * keeps it uninitialized (about 3 MB of RSS) in a service that has no other use for it. A
 * forked child starts with an empty block, so it never repeats its parent's ids. */
#define RANDOM_BLOCK 512
static _Thread_local unsigned char random_block[RANDOM_BLOCK];
static _Thread_local size_t random_left;
static pthread_once_t random_once = PTHREAD_ONCE_INIT;

static void random_after_fork(void)
{
    random_left = 0;
}

static void random_register(void)
{
    pthread_atfork(NULL, NULL, random_after_fork);
}

static void random_fill(unsigned char *b, size_t n)
{
    /* getrandom blocks only before the pool is seeded; EINTR is tried again */
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(b + got, n - got, 0);
        if (k > 0)
            got += (size_t)k;
    }
}

static void random_bytes(unsigned char *out, size_t n)
{
    pthread_once(&random_once, random_register);
    if (n > RANDOM_BLOCK) {
        random_fill(out, n);
        return;
    }
    if (random_left < n) {
        random_fill(random_block, RANDOM_BLOCK);
        random_left = RANDOM_BLOCK;
    }
    unsigned char *p = random_block + (RANDOM_BLOCK - random_left);
    memcpy(out, p, n);
    memset(p, 0, n); /* used bytes do not stay behind */
    random_left -= n;
}

void aos_uuid4(char out[37])
{
    unsigned char b[16];
    random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    static const char HEX[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = HEX[b[i] >> 4];
        out[o++] = HEX[b[i] & 15];
    }
    out[o] = '\0';
}

aos_result aos_event_set(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return AOS_ERR_NOMEM;
    free(*field);
    *field = copy;
    return AOS_OK;
}

aos_result aos_event_set_checked_(char **field, const char *s, size_t n, const char *attr,
                                  char *errbuf, size_t errlen)
{
    if (memchr(s, '\0', n))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%s' contains a NUL byte",
                        attr);
    if (!aos_utf8_valid(s, n))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%s' is not valid UTF-8", attr);
    char *copy = aos_strndup_(s, n);
    if (!copy)
        return AOS_ERR_NOMEM;
    free(*field);
    *field = copy;
    return AOS_OK;
}

aos_result aos_event_set_data(aos_event_t *ev, const char *data, size_t len)
{
    char *copy = NULL;
    if (data && !(copy = aos_strndup_(data, len)))
        return AOS_ERR_NOMEM;
    free(ev->data);
    ev->data = copy;
    ev->data_len = data ? len : 0;
    return AOS_OK;
}

bool aos_event_attr_reserved_(const char *name)
{
    static const char *RESERVED[] = {"specversion",     "id",         "type",       "source",
                                     "subject",         "time",       "data",       "data_base64",
                                     "datacontenttype", "dataschema", "traceparent"};
    for (size_t i = 0; i < sizeof RESERVED / sizeof *RESERVED; i++)
        if (strcmp(name, RESERVED[i]) == 0)
            return true;
    return false;
}

bool aos_event_ext_name_valid_(const char *name, size_t len)
{
    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
            return false;
    return true;
}

aos_result aos_event_set_ext(aos_event_t *ev, const char *name, const char *value)
{
    if (!name || !aos_event_ext_name_valid_(name, strlen(name)) || aos_event_attr_reserved_(name))
        return AOS_ERR_INVALID;
    for (size_t i = 0; i < ev->ext_count; i++) {
        if (strcmp(ev->ext[i].name, name) != 0)
            continue;
        if (!value) {
            free(ev->ext[i].name);
            free(ev->ext[i].value);
            ev->ext[i] = ev->ext[--ev->ext_count];
            ev->ext[ev->ext_count] = (aos_event_ext_t){0};
            return AOS_OK;
        }
        return aos_event_set(&ev->ext[i].value, value);
    }
    if (!value)
        return AOS_OK;
    if (ev->ext_count >= AOS_EVENT_MAX_EXTENSIONS)
        return AOS_ERR_TOO_LARGE;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return AOS_ERR_NOMEM;
    }
    ev->ext[ev->ext_count++] = (aos_event_ext_t){n, v};
    return AOS_OK;
}

const char *aos_event_get_ext(const aos_event_t *ev, const char *name)
{
    for (size_t i = 0; name && i < ev->ext_count; i++)
        if (strcmp(ev->ext[i].name, name) == 0)
            return ev->ext[i].value;
    return NULL;
}

void aos_event_free(aos_event_t *ev)
{
    if (!ev)
        return;
    char **strs[] = {&ev->id,
                     &ev->type,
                     &ev->source,
                     &ev->subject,
                     &ev->time,
                     &ev->datacontenttype,
                     &ev->dataschema,
                     &ev->data,
                     &ev->correlation_id,
                     &ev->reply_to,
                     &ev->group_id,
                     &ev->traceparent,
                     &ev->reply_to_group_id};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    for (size_t i = 0; i < ev->ext_count; i++) {
        free(ev->ext[i].name);
        free(ev->ext[i].value);
    }
    free(ev);
}

void aos_event_array_free(aos_event_t **events, size_t count)
{
    if (!events)
        return;
    for (size_t i = 0; i < count; i++)
        aos_event_free(events[i]);
    free(events);
}

aos_result aos_event_create(const char *type, const char *source, const char *data_json,
                            aos_event_t **out_event)
{
    *out_event = NULL;
    aos_event_t *ev;
    AOS_RETURN_IF_FAILED(aos_event_new(&ev));
    char id[37], ts[32];
    aos_uuid4(id);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    aos_time_format_ms_((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts);
    aos_result r = AOS_OK;
    if (r == AOS_OK)
        r = aos_event_set(&ev->id, id);
    if (r == AOS_OK)
        r = aos_event_set(&ev->type, type);
    if (r == AOS_OK)
        r = aos_event_set(&ev->source, source);
    if (r == AOS_OK)
        r = aos_event_set(&ev->time, ts);
    if (r == AOS_OK)
        r = aos_event_set(&ev->datacontenttype, "application/json");
    if (r == AOS_OK && data_json)
        r = aos_event_set_data(ev, data_json, strlen(data_json));
    if (r == AOS_OK && aos_trace_current()) { /* made on behalf of a traced request */
        char tp[AOS_TRACEPARENT_LEN + 1];
        aos_trace_child(aos_trace_current(), tp);
        r = aos_event_set(&ev->traceparent, tp);
    }
    if (r != AOS_OK) {
        aos_event_free(ev);
        return r;
    }
    *out_event = ev;
    return AOS_OK;
}

aos_result aos_event_clone(const aos_event_t *ev, aos_event_t **out_copy)
{
    *out_copy = NULL;
    aos_event_t *c;
    AOS_RETURN_IF_FAILED(aos_event_new(&c));
    const char *src[] = {ev->id,         ev->type,           ev->source,
                         ev->subject,    ev->time,           ev->datacontenttype,
                         ev->dataschema, ev->correlation_id, ev->reply_to,
                         ev->group_id,   ev->traceparent,    ev->reply_to_group_id};
    char **dst[] = {&c->id,         &c->type,           &c->source,
                    &c->subject,    &c->time,           &c->datacontenttype,
                    &c->dataschema, &c->correlation_id, &c->reply_to,
                    &c->group_id,   &c->traceparent,    &c->reply_to_group_id};
    aos_result r = AOS_OK;
    for (size_t i = 0; r == AOS_OK && i < sizeof src / sizeof *src; i++)
        r = aos_event_set(dst[i], src[i]);
    if (r == AOS_OK && ev->data)
        r = aos_event_set_data(c, ev->data, ev->data_len);
    for (size_t i = 0; r == AOS_OK && i < ev->ext_count; i++)
        r = aos_event_set_ext(c, ev->ext[i].name, ev->ext[i].value);
    if (r != AOS_OK) {
        aos_event_free(c);
        return r;
    }
    c->ttl_ms = ev->ttl_ms;
    c->delivery_count = ev->delivery_count;
    *out_copy = c;
    return AOS_OK;
}

bool aos_event_content_is_json(const char *ct)
{
    if (!ct || !*ct)
        return true;
    size_t n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    if (n == 9 && strncasecmp(ct, "text/json", 9) == 0)
        return true;
    return n >= 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM). */
static bool time_valid(const char *s)
{
    int y, mo, d, h, mi, se, oh, om;
    size_t len = strlen(s);
    if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        const char *f = p;
        while (isdigit((unsigned char)*p))
            p++;
        if (p == f || p - f > 9)
            return false;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return true;
    return (*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2, &oh) && p[3] == ':' &&
           digits(p + 4, 2, &om) && oh <= 23 && om <= 59;
}

static aos_result require_attr(const char *v, const char *name, char *errbuf, size_t errlen)
{
    if (!v || !*v)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "missing required attribute '%s'", name);
    return AOS_OK;
}

aos_result aos_event_validate(const aos_event_t *ev, char *errbuf, size_t errlen)
{
    if (!ev)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "no event");
    AOS_RETURN_IF_FAILED(require_attr(ev->id, "id", errbuf, errlen));
    AOS_RETURN_IF_FAILED(require_attr(ev->type, "type", errbuf, errlen));
    AOS_RETURN_IF_FAILED(require_attr(ev->source, "source", errbuf, errlen));
    if (ev->time && !time_valid(ev->time))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "attribute 'time' must be an RFC 3339 timestamp");
    if (ev->ext_count > AOS_EVENT_MAX_EXTENSIONS)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "too many extension attributes");
    for (size_t i = 0; i < ev->ext_count; i++) {
        const char *n = ev->ext[i].name;
        if (!n || !aos_event_ext_name_valid_(n, strlen(n)) || aos_event_attr_reserved_(n))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "extension attribute name '%s' is not allowed", n ? n : "");
        if (!ev->ext[i].value)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "extension attribute '%s' has no value", n);
    }
    if (ev->data && ev->data_len > 0 && aos_event_content_is_json(ev->datacontenttype)) {
        char jerr[160];
        aos_result r = aos_json_validate(ev->data, ev->data_len, AOS_EVENT_MAX_JSON_BYTES,
                                         AOS_EVENT_JSON_MAX_DEPTH, jerr, sizeof jerr);
        if (r != AOS_OK)
            return aos_fail(r, errbuf, errlen, "data is not valid JSON: %s", jerr);
    }
    return AOS_OK;
}
