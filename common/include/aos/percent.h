/* aos/percent.h: percent-encoding (RFC 3986 §2.1) — the one implementation, used by the HTTP
 * request parser, bus URLs, SAS tokens (Service Bus and Azure Storage), Entra token requests
 * and Bot Framework reply URLs. Pure and thread-safe.
 *
 * Encoding keeps the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) and writes every
 * other byte as %XX with upper-case hex. Decoding takes either case and is strict: a malformed
 * escape ("%zz", "%4"), an encoded NUL (%00) or a raw NUL byte is AOS_ERR_INVALID, so decoded
 * text is always a C string with nothing hidden behind a NUL. */
#ifndef AOS_PERCENT_H
#define AOS_PERCENT_H

#include <stddef.h>

#include "aos/result.h"

/* application/x-www-form-urlencoded (Python's quote_plus): ' ' <-> '+'. */
#define AOS_PCT_FORM 1u
/* Encoding only: leave '/' as it is (URL paths). */
#define AOS_PCT_KEEP_SLASH 2u

/* Length of the encoding of the NUL-terminated s, without the NUL. */
size_t aos_pct_encoded_len(const char *s, unsigned flags);

/* Encode the NUL-terminated s into out (outlen bytes, NUL-terminated). AOS_ERR_TOO_LARGE (out
 * set to "") when it does not fit, AOS_ERR_INVALID for NULL arguments or outlen 0. */
aos_result aos_pct_encode(const char *s, unsigned flags, char *out, size_t outlen);

/* Decode src[0..len) into dst (cap bytes; len + 1 always suffices), NUL-terminated; *out_len
 * (may be NULL) gets the decoded length. AOS_ERR_TOO_LARGE when it does not fit. */
aos_result aos_pct_decode(const char *src, size_t len, unsigned flags, char *dst, size_t cap,
                          size_t *out_len);

#endif
