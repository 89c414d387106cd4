/* services/agent-runner/sse.h: server-sent events, as model servers stream chat completions.
 *
 * runner_sse_t is an incremental parser of the text/event-stream format (WHATWG HTML
 * §9.2): feed it bytes in chunks of any size; it calls back once per complete event with
 * the joined "data:" lines. Lines end in LF, CRLF or CR (also split across chunks);
 * ":" lines are comments; "event:" names the event; other fields are ignored.
 *
 * runner_chat_stream_t sits on top and accumulates an OpenAI chat.completion.chunk stream
 * ("data: {json}" events, then "data: [DONE]") into a runner_completion_t.
 *
 * Both are pure (no I/O) and bounded: an event or accumulated reply larger than the limit
 * fails with AOS_ERR_TOO_LARGE and the parser stays failed. One parser = one thread at a time.
 */
#ifndef RUNNER_SSE_H
#define RUNNER_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "aos/result.h"
#include "provider.h"

typedef struct runner_sse runner_sse_t;

/* One event: event is the "event:" name ("message" when absent); data (NUL-terminated,
 * data_len bytes) is borrowed for the call. Return AOS_OK to continue; anything else stops
 * the parser and is returned by runner_sse_feed. */
typedef aos_result (*runner_sse_event_cb)(void *ctx, const char *event, const char *data,
                                          size_t data_len);

/* max_event: the largest event (line or joined data) accepted, in bytes (0: 1 MiB). */
aos_result runner_sse_new(size_t max_event, runner_sse_event_cb cb, void *ctx,
                          runner_sse_t **out_parser);
void runner_sse_free(runner_sse_t *p);

/* Consume len bytes; events completed by them are delivered before it returns. */
aos_result runner_sse_feed(runner_sse_t *p, const char *buf, size_t len);

/* ---- chat completion streams ---- */

typedef struct runner_chat_stream runner_chat_stream_t;

/* max_bytes bounds both one event and the accumulated reply text (0: 4 MiB). */
aos_result runner_chat_stream_new(size_t max_bytes, runner_chat_stream_t **out_stream);
void runner_chat_stream_free(runner_chat_stream_t *s);

/* Feed response bytes. AOS_ERR_PROTOCOL (detail in errbuf) on a chunk that is not a
 * chat.completion.chunk or carries an {"error":..}; the stream then stays failed. */
aos_result runner_chat_stream_feed(runner_chat_stream_t *s, const char *buf, size_t len,
                                   char *errbuf, size_t errlen);

/* After the last byte: AOS_OK and the completion when "[DONE]" (or a finish_reason) was
 * seen; AOS_ERR_PROTOCOL for a truncated or empty stream. Moves the result into *out. */
aos_result runner_chat_stream_finish(runner_chat_stream_t *s, runner_completion_t *out,
                                     char *errbuf, size_t errlen);

#endif
