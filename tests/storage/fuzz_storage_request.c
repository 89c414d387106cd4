/* Fuzz target: aos.storage request parsing and validation (outside bytes from the bus).
 * Input: the operation name ("message.append"), a newline, then the JSON data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 64 ? size : 64);
    size_t oplen = nl ? (size_t)(nl - data) : 0;
    char type[96];
    snprintf(type, sizeof type, "aos.storage.%.*s", (int)oplen, (const char *)data);
    const char *json = nl ? (const char *)nl + 1 : (const char *)data;
    size_t len = nl ? size - oplen - 1 : size;
    storage_limits_t limits = {.max_chunk = 4096};
    storage_request_t req = {0};
    char err[256];
    aos_result r =
        storage_request_parse(type, json, len, "fuzz-event", &limits, &req, err, sizeof err);
    if (r == AOS_OK && req.chunk_len > 4096)
        abort(); /* a decoded chunk may never exceed the limit */
    storage_request_clear(&req);
    return 0;
}
