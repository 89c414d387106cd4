/* aos/sse.h: server-sent events, as model servers stream chat completions.
 *
 * aos_sse_t is an incremental parser of the text/event-stream format (WHATWG HTML
 * §9.2): feed it bytes in chunks of any size; it calls back once per complete event with
 * the joined "data:" lines. Lines end in LF, CRLF or CR (also split across chunks);
 * ":" lines are comments; "event:" names the event; other fields are ignored.
 *
 * aos_model_stream_t sits on top and accumulates an OpenAI chat.completion.chunk stream
 * ("data: {json}" events, then "data: [DONE]") into a aos_model_completion_t.
 *
 * Both are pure (no I/O) and bounded: an event or accumulated reply larger than the limit
 * fails with AOS_ERR_TOO_LARGE and the parser stays failed. One parser = one thread at a time.
 */
#ifndef AOS_SSE_H
#define AOS_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "aos/model.h"
#include "aos/result.h"

typedef struct aos_sse aos_sse_t;

/* One event: event is the "event:" name ("message" when absent); data (NUL-terminated,
 * data_len bytes) is borrowed for the call. Return AOS_OK to continue; anything else stops
 * the parser and is returned by aos_sse_feed. */
typedef aos_result (*aos_sse_event_cb)(void *ctx, const char *event, const char *data,
                                       size_t data_len);

/* max_event: the largest event (line or joined data) accepted, in bytes (0: 1 MiB). */
aos_result aos_sse_new(size_t max_event, aos_sse_event_cb cb, void *ctx, aos_sse_t **out_parser);
void aos_sse_free(aos_sse_t *p);

/* Consume len bytes; events completed by them are delivered before it returns. */
aos_result aos_sse_feed(aos_sse_t *p, const char *buf, size_t len);

/* ---- chat completion streams ---- */

typedef struct aos_model_stream aos_model_stream_t;

/* max_bytes bounds both one event and the accumulated reply text (0: 4 MiB). */
aos_result aos_model_stream_new(size_t max_bytes, aos_model_stream_t **out_stream);
void aos_model_stream_free(aos_model_stream_t *s);

/* Feed response bytes. AOS_ERR_PROTOCOL (detail in errbuf) on a chunk that is not a
 * chat.completion.chunk or carries an {"error":..}; the stream then stays failed. */
aos_result aos_model_stream_feed(aos_model_stream_t *s, const char *buf, size_t len, char *errbuf,
                                 size_t errlen);

/* After the last byte: AOS_OK and the completion when "[DONE]" (or a finish_reason) was
 * seen; AOS_ERR_PROTOCOL for a truncated or empty stream. Moves the result into *out. */
aos_result aos_model_stream_finish(aos_model_stream_t *s, aos_model_completion_t *out, char *errbuf,
                                   size_t errlen);

#endif
