/* aos/trace.h: W3C Trace Context (traceparent) and the current thread's trace.
 *
 * A turn keeps one trace id from the HTTP request (its `traceparent` header, or a new one)
 * through the bus, every service's log lines ("trace_id"), storage operations, the model call
 * (a `traceparent` header) and the events (docs/design.md §5). The mechanism is a
 * thread-local current trace, set by whoever works on behalf of a request — the HTTP server
 * around each handler, the bus around each delivery and reply callback, the storage and ML
 * workers around each request, the runner around each step of a turn — and read by the
 * places that emit: aos_log() adds "trace_id", aos_event_create() gives a new event a child
 * traceparent of the current one, the model client sends it as a header.
 *
 * traceparent = "00-" 32 lower-hex trace-id "-" 16 lower-hex parent-id "-" 2 hex flags
 * (https://www.w3.org/TR/trace-context/); all-zero ids and version ff are invalid.
 * Pure functions are thread-safe; the current trace is per thread.
 */
#ifndef AOS_TRACE_H
#define AOS_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#define AOS_TRACEPARENT_LEN 55 /* without the NUL */

/* True when s (len bytes, not necessarily NUL-terminated) is a valid version-00 traceparent
 * (or a later version's first 55 characters followed by '-'); out_trace_id (33 bytes) gets
 * the trace id when not NULL. */
bool aos_trace_parse(const char *s, size_t len, char *out_trace_id);

/* A new traceparent with a random trace id and parent id, sampled. out: 56 bytes. */
void aos_trace_new(char *out);

/* A child of parent (same trace id and flags, a new parent id); a new trace when parent is
 * NULL or invalid. out: 56 bytes. */
void aos_trace_child(const char *parent, char *out);

/* Set the current thread's trace (copied; an invalid value or NULL clears it). */
void aos_trace_set(const char *traceparent);

/* The current thread's traceparent, or NULL. Valid until the next aos_trace_set on this
 * thread. */
const char *aos_trace_current(void);

/* The current thread's trace id (32 hex), or NULL. Same lifetime. */
const char *aos_trace_current_id(void);

#endif
