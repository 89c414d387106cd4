/* aos/utf8.h: UTF-8 validation — the one implementation, used by JSON, the envelope, the log,
 * Kafka headers, storage names and the Azure Storage client. Well-formed means RFC 3629:
 * shortest form, no surrogates, nothing above U+10FFFF. Pure and thread-safe. */
#ifndef AOS_UTF8_H
#define AOS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1-4) of the well-formed sequence at s, of which avail bytes may be read; 0 when it
 * is ill-formed or cut short. Continuation bytes are read one at a time and the first one that
 * is not a continuation stops it, so a NUL-terminated string may pass avail = 4. */
size_t aos_utf8_seq_len(const unsigned char *s, size_t avail);

/* Offset of the first byte of s[0..len) that starts no well-formed sequence, or len. */
size_t aos_utf8_check(const char *s, size_t len);

/* True if s[0..len) is well-formed UTF-8. NUL bytes are allowed (they are ASCII). */
bool aos_utf8_valid(const char *s, size_t len);

#endif
