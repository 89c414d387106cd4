#include "aos/log.h"
#include "aos/trace.h"
#include "aos/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *LEVEL_NAMES[] = {"debug", "info", "warn", "error", "off"};

static struct {
    pthread_mutex_t lock;
    char service[64];
    aos_log_level min;
    int fd;
} g_log = {PTHREAD_MUTEX_INITIALIZER, "aos", AOS_LOG_INFO, 1};

void aos_log_init(const char *service, aos_log_level min_level)
{
    pthread_mutex_lock(&g_log.lock);
    snprintf(g_log.service, sizeof g_log.service, "%s", service ? service : "aos");
    g_log.min = min_level;
    pthread_mutex_unlock(&g_log.lock);
}

void aos_log_set_fd(int fd)
{
    g_log.fd = fd;
}

aos_result aos_log_level_parse(const char *s, aos_log_level *out_level)
{
    if (!s)
        return AOS_ERR_INVALID;
    for (int i = 0; i <= AOS_LOG_OFF; i++)
        if (strcasecmp(s, LEVEL_NAMES[i]) == 0) {
            *out_level = (aos_log_level)i;
            return AOS_OK;
        }
    if (strcasecmp(s, "warning") == 0) {
        *out_level = AOS_LOG_WARN;
        return AOS_OK;
    }
    return AOS_ERR_INVALID;
}

bool aos_log_enabled(aos_log_level level)
{
    return level >= g_log.min && level < AOS_LOG_OFF;
}

bool aos_log_key_is_secret(const char *key)
{
    static const char *SECRET_PARTS[] = {
        "key",       "secret",        "password", "passwd",     "token",
        "signature", "authorization", "sas",      "credential", "connection_string"};
    if (!key)
        return false;
    char lower[64];
    size_t n = 0;
    for (; key[n] && n < sizeof lower - 1; n++)
        lower[n] = (char)tolower((unsigned char)key[n]);
    lower[n] = '\0';
    for (size_t i = 0; i < sizeof SECRET_PARTS / sizeof *SECRET_PARTS; i++)
        if (strstr(lower, SECRET_PARTS[i]))
            return true;
    return false;
}

/* A growable line buffer; logging must not fail loudly, so on OOM the record is cut short. */
typedef struct {
    char *buf;
    size_t len, cap;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (l->len + n + 1 > cap)
            cap *= 2;
        char *nb = realloc(l->buf, cap);
        if (!nb)
            return;
        l->buf = nb;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
}

static void put_str(line_t *l, const char *s)
{
    put(l, s, strlen(s));
}

/* A JSON string; bytes that are not well-formed UTF-8 become U+FFFD so every line stays
 * valid JSON whatever a caller logs. */
static void put_json_string(line_t *l, const char *s)
{
    put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p >= 0x80) {
            size_t n = aos_utf8_seq_len(p, 4); /* stops at the NUL */
            if (n == 0) {
                put(l, "\\ufffd", 6);
            } else {
                put(l, (const char *)p, n);
                p += n - 1;
            }
            continue;
        }
        char esc[8];
        switch (*p) {
        case '"':
            put(l, "\\\"", 2);
            break;
        case '\\':
            put(l, "\\\\", 2);
            break;
        case '\n':
            put(l, "\\n", 2);
            break;
        case '\r':
            put(l, "\\r", 2);
            break;
        case '\t':
            put(l, "\\t", 2);
            break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                put(l, esc, 6);
            } else {
                put(l, (const char *)p, 1);
            }
        }
    }
    put(l, "\"", 1);
}

static void emit(aos_log_level level, const char *msg, va_list *kv)
{
    line_t l = {0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[40];
    size_t tn = strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tbuf + tn, sizeof tbuf - tn, ".%03ldZ", ts.tv_nsec / 1000000);

    put_str(&l, "{\"ts\":\"");
    put_str(&l, tbuf);
    put_str(&l, "\",\"level\":\"");
    put_str(&l, LEVEL_NAMES[level]);
    put_str(&l, "\",\"service\":");
    put_json_string(&l, g_log.service);
    put_str(&l, ",\"msg\":");
    put_json_string(&l, msg);
    const char *trace = aos_trace_current_id(); /* whose request this line is about */
    if (trace) {
        put_str(&l, ",\"trace_id\":\"");
        put_str(&l, trace);
        put_str(&l, "\"");
    }
    if (kv) {
        const char *k;
        while ((k = va_arg(*kv, const char *)) != NULL) {
            const char *v = va_arg(*kv, const char *);
            put(&l, ",", 1);
            put_json_string(&l, k);
            put(&l, ":", 1);
            put_json_string(&l, aos_log_key_is_secret(k) ? "[redacted]" : (v ? v : ""));
        }
    }
    put_str(&l, "}\n");
    if (l.buf) {
        pthread_mutex_lock(&g_log.lock);
        size_t off = 0;
        while (off < l.len) {
            ssize_t w = write(g_log.fd, l.buf + off, l.len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        pthread_mutex_unlock(&g_log.lock);
        free(l.buf);
    }
}

void aos_log(aos_log_level level, const char *msg, ...)
{
    if (!aos_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, msg);
    emit(level, msg, &ap);
    va_end(ap);
}

void aos_logf(aos_log_level level, const char *fmt, ...)
{
    if (!aos_log_enabled(level))
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(level, buf, NULL);
}
