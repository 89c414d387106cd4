/* aos/buf.h: a growable NUL-terminated byte buffer — the one used by the HTTP server and
 * client, the metrics exposition and the Azure Storage client.
 *
 * A zero-initialised aos_buf_t is empty. Every append returns AOS_OK, or AOS_ERR_NOMEM and
 * marks the buffer failed; after that appends do nothing and return AOS_ERR_NOMEM, so a
 * builder may append many times and check once at the end (aos_buf_failed, aos_buf_take).
 * data is NUL-terminated whenever it is not NULL. Not thread-safe; the buffer owns data. */
#ifndef AOS_BUF_H
#define AOS_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "aos/result.h"

typedef struct aos_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} aos_buf_t;

aos_result aos_buf_append(aos_buf_t *b, const void *bytes, size_t n);
aos_result aos_buf_puts(aos_buf_t *b, const char *s);
aos_result aos_buf_putc(aos_buf_t *b, char c);
aos_result aos_buf_printf(aos_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as the inside of a JSON string (quotes not included), escaped as json-c does with
 * JSON_C_TO_STRING_NOSLASHESCAPE; _n takes n bytes (NUL bytes become \u0000). */
aos_result aos_buf_json_escape(aos_buf_t *b, const char *s);
aos_result aos_buf_json_escape_n(aos_buf_t *b, const char *s, size_t n);
bool aos_buf_failed(const aos_buf_t *b);
/* Take ownership of the data ("" when nothing was appended; NULL only when failed, and then
 * the buffer is freed); resets b. */
char *aos_buf_take(aos_buf_t *b, size_t *out_len);
/* Free the data and reset b to empty (also clears failed). */
void aos_buf_free(aos_buf_t *b);

#endif
