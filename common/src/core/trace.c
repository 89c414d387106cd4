/* W3C traceparent and the thread's current trace (aos/trace.h). */
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/random.h>

#include "aos/trace.h"

static _Thread_local char current[AOS_TRACEPARENT_LEN + 1];
static _Thread_local char current_id[33];

static bool hex_run(const char *s, size_t n, bool *all_zero)
{
    *all_zero = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        if (c != '0')
            *all_zero = false;
    }
    return true;
}

bool aos_trace_parse(const char *s, size_t len, char *out_trace_id)
{
    bool zero = false;
    if (!s || len < AOS_TRACEPARENT_LEN)
        return false;
    /* version: 2 hex, not "ff"; version 00 is exactly 55 characters, later ones may go on
     * after a '-' (the spec's forward compatibility) */
    if (!hex_run(s, 2, &zero) || (s[0] == 'f' && s[1] == 'f'))
        return false;
    bool v00 = s[0] == '0' && s[1] == '0';
    if (v00 ? len != AOS_TRACEPARENT_LEN : (len > AOS_TRACEPARENT_LEN && s[55] != '-'))
        return false;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return false;
    if (!hex_run(s + 3, 32, &zero) || zero)
        return false;
    if (!hex_run(s + 36, 16, &zero) || zero)
        return false;
    if (!hex_run(s + 53, 2, &zero))
        return false;
    if (out_trace_id) {
        memcpy(out_trace_id, s + 3, 32);
        out_trace_id[32] = '\0';
    }
    return true;
}

static void random_hex(char *out, size_t n)
{
    unsigned char b[16];
    size_t bytes = n / 2;
    bool zero = true;
    while (zero) {
        if (getrandom(b, bytes, 0) != (ssize_t)bytes) { /* never in practice; still unique-ish */
            static _Thread_local unsigned long long ctr;
            unsigned long long v = ++ctr ^ (unsigned long long)(uintptr_t)&ctr;
            for (size_t i = 0; i < bytes; i++)
                b[i] = (unsigned char)(v >> (8 * (i % 8)));
        }
        for (size_t i = 0; i < bytes; i++)
            zero = zero && b[i] == 0;
    }
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < bytes; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
}

void aos_trace_new(char *out)
{
    memcpy(out, "00-", 3);
    random_hex(out + 3, 32);
    out[35] = '-';
    random_hex(out + 36, 16);
    memcpy(out + 52, "-01", 4);
}

void aos_trace_child(const char *parent, char *out)
{
    if (!parent || !aos_trace_parse(parent, strnlen(parent, AOS_TRACEPARENT_LEN + 1), NULL)) {
        aos_trace_new(out);
        return;
    }
    memcpy(out, "00-", 3);
    memcpy(out + 3, parent + 3, 32);
    out[35] = '-';
    random_hex(out + 36, 16);
    out[52] = '-';
    memcpy(out + 53, parent + 53, 2);
    out[55] = '\0';
}

void aos_trace_set(const char *traceparent)
{
    if (traceparent &&
        aos_trace_parse(traceparent, strnlen(traceparent, AOS_TRACEPARENT_LEN + 1), current_id)) {
        memcpy(current, traceparent, AOS_TRACEPARENT_LEN);
        current[AOS_TRACEPARENT_LEN] = '\0';
    } else {
        current[0] = '\0';
        current_id[0] = '\0';
    }
}

const char *aos_trace_current(void)
{
    return current[0] ? current : NULL;
}

const char *aos_trace_current_id(void)
{
    return current_id[0] ? current_id : NULL;
}
