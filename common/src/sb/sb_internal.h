/* Shared-internal helpers of the Service Bus module (not part of the public API). */
#ifndef AOS_SB_INTERNAL_H
#define AOS_SB_INTERNAL_H

#include <stddef.h>

/* Longest resource URI / key name accepted when computing tokens. */
#define AOS_SB_MAX_URI 1024

#endif
