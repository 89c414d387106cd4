/* aos/log.h: structured JSON-lines logging to stdout.
 *
 * One line per record: {"ts":"2026-11-24T10:00:00.123Z","level":"info","service":"aos-router",
 * "msg":"...", "key":"value", ...}. Values whose key looks like a secret (key, secret, password,
 * token, signature, authorization, sas, connection_string) are written as "[redacted]", so a
 * caller cannot leak one by accident. Thread-safe: each record is one write(2) under a lock.
 */
#ifndef AOS_LOG_H
#define AOS_LOG_H

#include "aos/result.h"

typedef enum aos_log_level {
    AOS_LOG_DEBUG = 0,
    AOS_LOG_INFO,
    AOS_LOG_WARN,
    AOS_LOG_ERROR,
    AOS_LOG_OFF
} aos_log_level;

/* Set the service name and minimum level (process-wide; call once at start-up). */
void aos_log_init(const char *service, aos_log_level min_level);

/* Parse "debug" | "info" | "warn" | "error" | "off". */
aos_result aos_log_level_parse(const char *s, aos_log_level *out_level);

/* Redirect output (default fd 1). For tests. */
void aos_log_set_fd(int fd);

bool aos_log_enabled(aos_log_level level);

/* Log msg with string key/value pairs, terminated by NULL:
 *   aos_log(AOS_LOG_INFO, "connected", "host", host, "port", port_str, NULL); */
void aos_log(aos_log_level level, const char *msg, ...) __attribute__((sentinel));

/* printf-style message with no extra fields. */
void aos_logf(aos_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True if a key name should never have its value logged. */
bool aos_log_key_is_secret(const char *key);

#endif
