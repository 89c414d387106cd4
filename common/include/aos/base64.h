/* aos/base64.h: strict base64 — the one implementation, used by the envelope (data_base64),
 * the Azure Storage client, the storage wire format, SAS signatures and (base64url, RFC 4648
 * §5) the router's JWT validation. Standard base64 is RFC 4648 §4, padded.
 * Decoding rejects bad characters, bad padding and non-canonical trailing bits.
 * Pure and thread-safe. */
#ifndef AOS_BASE64_H
#define AOS_BASE64_H

#include <stddef.h>

#include "aos/result.h"

/* Length of the base64 text for n bytes (with padding, without NUL). */
size_t aos_base64_encoded_len(size_t n);

/* *out is malloc'd and NUL-terminated; *out_len (may be NULL) its length. */
aos_result aos_base64_encode(const void *data, size_t len, char **out, size_t *out_len);

/* *out is malloc'd with a NUL after *out_len bytes. */
aos_result aos_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len);

/* Decode into a caller buffer of cap bytes: AOS_ERR_TOO_LARGE when it does not fit. */
aos_result aos_base64_decode_into(const char *text, size_t len, void *out, size_t cap,
                                  size_t *out_len);

/* base64url (RFC 4648 §5, '-' and '_'), as JWS segments carry it: padding optional (at most
 * two '=' completing the last group), same strictness as above. *out is malloc'd with a NUL
 * after *out_len bytes. */
aos_result aos_base64url_decode(const char *text, size_t len, unsigned char **out, size_t *out_len);

/* Encode as base64url without padding (JWS segments) into out (cap bytes, NUL-terminated):
 * AOS_ERR_TOO_LARGE when it does not fit. */
aos_result aos_base64url_encode_into(const void *data, size_t len, char *out, size_t cap);

#endif
