/* Internal: strict standard base64 (RFC 4648 §4, padded). Pure and thread-safe. */
#ifndef AOS_CORE_BASE64_H
#define AOS_CORE_BASE64_H

#include <stddef.h>

#include "aos/result.h"

/* *out is malloc'd and NUL-terminated. */
aos_result aos_b64_encode(const unsigned char *in, size_t len, char **out, size_t *out_len);

/* Rejects bad characters, bad padding and non-zero trailing bits. *out is malloc'd with a
 * NUL terminator after *out_len bytes. */
aos_result aos_b64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);

#endif
