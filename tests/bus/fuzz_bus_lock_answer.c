/* Fuzz target: the answers of Service Bus's $management node to lock renewals (outside
 * bytes). Whatever they are, reading the status must not crash and the description must stay
 * a NUL-terminated string within its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char desc[64];
    memset(desc, 'x', sizeof desc);
    (void)bus_lock_parse_answer((const char *)data, size, desc, sizeof desc);
    if (!memchr(desc, '\0', sizeof desc))
        abort();
    return 0;
}
