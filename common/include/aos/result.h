/* aos/result.h: the one result type every AOS function returns.
 *
 * Functions return aos_result and write outputs through out_ parameters. Foreign
 * errors (Proton, curl, OpenSSL, json-c, SQLite, librdkafka) are translated at the
 * module boundary; human detail goes into an errbuf the caller passes in.
 * Thread-safe: everything here is pure.
 */
#ifndef AOS_RESULT_H
#define AOS_RESULT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum aos_result {
    AOS_OK = 0,
    AOS_ERR_INVALID,      /* bad input: the caller must change the request */
    AOS_ERR_NOMEM,        /* allocation failed */
    AOS_ERR_NOT_FOUND,    /* the named thing does not exist */
    AOS_ERR_CONFLICT,     /* stale version / already exists with other content */
    AOS_ERR_TOO_LARGE,    /* over a configured size limit */
    AOS_ERR_AUTH,         /* missing or bad credentials */
    AOS_ERR_FORBIDDEN,    /* authenticated but not allowed */
    AOS_ERR_TIMEOUT,      /* no answer within the deadline (transient) */
    AOS_ERR_UNAVAILABLE,  /* broker / backend / endpoint down (transient) */
    AOS_ERR_RATE_LIMITED, /* peer asked us to slow down (transient) */
    AOS_ERR_IO,           /* OS-level I/O failure */
    AOS_ERR_PROTOCOL,     /* peer spoke something we cannot understand */
    AOS_ERR_REJECTED,     /* peer refused (e.g. broker rejected a message) */
    AOS_ERR_CANCELLED,    /* the operation was cancelled / shutting down */
    AOS_ERR_CLOSED,       /* the object is closed or stopping */
    AOS_ERR_UNSUPPORTED,  /* valid request for something not supported */
    AOS_ERR_INTERNAL,     /* a bug or an invariant broken */
    AOS_RESULT_COUNT_
} aos_result;

/* Human text, e.g. "invalid argument". Never NULL. */
const char *aos_result_str(aos_result r);

/* Stable snake_case code for wire errors, e.g. "invalid_argument", "not_found".
 * Used in {"error":{"code":...}} bodies and bus error replies. Never NULL. */
const char *aos_result_code(aos_result r);

/* Inverse of aos_result_code; unknown codes give AOS_ERR_INTERNAL. */
aos_result aos_result_from_code(const char *code);

/* HTTP status that fits the result (400, 404, 409, 413, 401, 403, 504, 503, 429, 502, 500). */
int aos_result_http_status(aos_result r);

/* True for results a retry may cure: timeout, unavailable, rate limited, io. */
bool aos_result_is_transient(aos_result r);

#define AOS_RETURN_IF_FAILED(expr)                                                                 \
    do {                                                                                           \
        aos_result aos_r_ = (expr);                                                                \
        if (aos_r_ != AOS_OK)                                                                      \
            return aos_r_;                                                                         \
    } while (0)

/* Write a formatted message into errbuf (may be NULL / zero length) and return r. */
aos_result aos_fail(aos_result r, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
