/* tests/support/fuzz_util.h: shared by the fuzz targets (aos_fuzz_target): the input as a
 * NUL-terminated copy. */
#ifndef AOS_FUZZ_UTIL_H
#define AOS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

#endif
