/* Fuzz target: what an application put on the Azure Storage request queue (outside bytes):
 * the MessageText as given (raw) and its base64 decoding, read as one CloudEvent in JSON
 * (storage_queue_message_json, services/storage/service_queue.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "aos/base64.h"
#include "service_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    if (!text)
        return 0;
    unsigned char *decoded = malloc(size + 1);
    size_t dlen = 0;
    if (decoded && aos_base64_decode_into(text, size, decoded, size, &dlen) != AOS_OK)
        dlen = 0;
    size_t len = 0;
    const char *json = storage_queue_message_json(text, decoded, dlen, &len);
    if (json && (len == 0 || json[0] == '\0'))
        abort(); /* a found object is never empty */
    free(decoded);
    free(text);
    return 0;
}
