/* strbuf.h: a growable NUL-terminated byte buffer (internal to aos_http).
 * On allocation failure the buffer is marked failed and further appends are ignored,
 * so callers check once at the end (sb_failed). Not thread-safe. */
#ifndef AOS_HTTP_STRBUF_H
#define AOS_HTTP_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} strbuf;

void sb_append(strbuf *sb, const void *bytes, size_t n);
void sb_puts(strbuf *sb, const char *s);
void sb_putc(strbuf *sb, char c);
void sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as the inside of a JSON string (quotes not included). */
void sb_json_escape(strbuf *sb, const char *s);
bool sb_failed(const strbuf *sb);
/* Take ownership of the data (never NULL unless failed); resets sb. */
char *sb_take(strbuf *sb, size_t *out_len);
void sb_free(strbuf *sb);

#endif
