/* Internal helpers shared by the envelope encodings (AMQP, JSON; Kafka uses the public API). */
#ifndef AOS_CORE_ENVELOPE_INTERNAL_H
#define AOS_CORE_ENVELOPE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/envelope.h"

/* Limits for event data carried as JSON and for whole structured-mode documents. */
#define AOS_EVENT_MAX_JSON_BYTES (64u * 1024u * 1024u)
#define AOS_EVENT_JSON_MAX_DEPTH 64

/* True when data of this content type is JSON text (NULL counts as application/json). */
bool aos_event_content_is_json(const char *content_type);

/* Copy n bytes into a new NUL-terminated string; NULL on OOM. */
char *aos_strndup_(const char *s, size_t n);

/* Store a copy of s[0..n) into *field after checking it is UTF-8 without NUL; on failure
 * errbuf names attr. */
aos_result aos_event_set_checked_(char **field, const char *s, size_t n, const char *attr,
                                  char *errbuf, size_t errlen);

/* Format a millisecond Unix timestamp as RFC 3339 UTC ("2026-11-24T10:00:00.123Z"); a time
 * outside years 0000-9999 gives "out-of-range", which aos_event_validate rejects. */
void aos_time_format_ms_(int64_t ms, char out[32]);

/* True for a reserved CloudEvents context attribute name (id, type, …, data). */
bool aos_event_attr_reserved_(const char *name);

/* True for a valid extension name: 1-20 chars of [a-z0-9]. */
bool aos_event_ext_name_valid_(const char *name, size_t len);

#endif
