#include "aos/result.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *code;
    const char *text;
    int http;
} RESULTS[AOS_RESULT_COUNT_] = {
    [AOS_OK] = {"ok", "ok", 200},
    [AOS_ERR_INVALID] = {"invalid_argument", "invalid argument", 400},
    [AOS_ERR_NOMEM] = {"out_of_memory", "out of memory", 500},
    [AOS_ERR_NOT_FOUND] = {"not_found", "not found", 404},
    [AOS_ERR_CONFLICT] = {"conflict", "conflict", 409},
    [AOS_ERR_TOO_LARGE] = {"too_large", "too large", 413},
    [AOS_ERR_AUTH] = {"unauthenticated", "unauthenticated", 401},
    [AOS_ERR_FORBIDDEN] = {"forbidden", "forbidden", 403},
    [AOS_ERR_TIMEOUT] = {"timeout", "timed out", 504},
    [AOS_ERR_UNAVAILABLE] = {"unavailable", "unavailable", 503},
    [AOS_ERR_RATE_LIMITED] = {"rate_limited", "rate limited", 429},
    [AOS_ERR_IO] = {"io_error", "I/O error", 500},
    [AOS_ERR_PROTOCOL] = {"protocol_error", "protocol error", 502},
    [AOS_ERR_REJECTED] = {"rejected", "rejected", 502},
    [AOS_ERR_CANCELLED] = {"cancelled", "cancelled", 503},
    [AOS_ERR_CLOSED] = {"closed", "closed", 503},
    [AOS_ERR_UNSUPPORTED] = {"unsupported", "unsupported", 400},
    [AOS_ERR_INTERNAL] = {"internal", "internal error", 500},
};

static int valid(aos_result r)
{
    return (int)r >= 0 && r < AOS_RESULT_COUNT_;
}

const char *aos_result_str(aos_result r)
{
    return valid(r) ? RESULTS[r].text : "unknown result";
}

const char *aos_result_code(aos_result r)
{
    return valid(r) ? RESULTS[r].code : "internal";
}

aos_result aos_result_from_code(const char *code)
{
    if (code)
        for (int i = 0; i < AOS_RESULT_COUNT_; i++)
            if (strcmp(RESULTS[i].code, code) == 0)
                return (aos_result)i;
    return AOS_ERR_INTERNAL;
}

int aos_result_http_status(aos_result r)
{
    return valid(r) ? RESULTS[r].http : 500;
}

bool aos_result_is_transient(aos_result r)
{
    return r == AOS_ERR_TIMEOUT || r == AOS_ERR_UNAVAILABLE || r == AOS_ERR_RATE_LIMITED ||
           r == AOS_ERR_IO;
}

aos_result aos_fail(aos_result r, char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return r;
}
