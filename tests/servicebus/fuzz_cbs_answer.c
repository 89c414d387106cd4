/* Fuzz target: decoding put-token answers (bytes from the broker) into correlation-id, status
 * and description. Invariant: no crash, outputs always NUL-terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cbs_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char corr[64], desc[200];
    int status = -1;
    aos_result r = aos_cbs_parse_answer((const char *)data, size, corr, sizeof corr, &status, desc,
                                        sizeof desc);
    if (strnlen(corr, sizeof corr) == sizeof corr || strnlen(desc, sizeof desc) == sizeof desc)
        abort();
    if (r != AOS_OK && (status != 0 || corr[0] || desc[0]))
        abort();
    return 0;
}
