/* Fuzz target: the SSE parser and chat stream accumulator, fed in uneven chunks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aos/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aos_model_stream_t *s = NULL;
    if (aos_model_stream_new(1 << 16, &s) != AOS_OK)
        return 0;
    /* the first byte picks the chunk size, so splits land everywhere */
    size_t step = size ? (size_t)(data[0] % 17) + 1 : 1;
    char err[256];
    aos_result rc = AOS_OK;
    for (size_t i = 0; rc == AOS_OK && i < size; i += step) {
        size_t n = size - i < step ? size - i : step;
        rc = aos_model_stream_feed(s, (const char *)data + i, n, err, sizeof err);
    }
    aos_model_completion_t c = {0};
    if (rc == AOS_OK && aos_model_stream_finish(s, &c, err, sizeof err) == AOS_OK && !c.text)
        abort();
    aos_model_completion_clear(&c);
    aos_model_stream_free(s);
    return 0;
}
