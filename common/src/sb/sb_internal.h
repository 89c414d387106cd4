/* Shared-internal helpers of the Service Bus module (not part of the public API). */
#ifndef AOS_SB_INTERNAL_H
#define AOS_SB_INTERNAL_H

#include <stddef.h>

/* Longest resource URI / key name accepted when computing tokens. */
#define AOS_SB_MAX_URI 1024
/* Longest connection string accepted. */
#define AOS_SB_MAX_CONNSTR 8192

/* Decode n bytes of application/x-www-form-urlencoded text ('+' = space, %XX). Returns a new
 * NUL-terminated string, or NULL on a bad escape, %00 or no memory. */
char *aos_sb_url_decode_n(const char *s, size_t n);

#endif
