/* Fuzz target: decoding storage replies (outside bytes from the bus) into the typed model,
 * as the storage client does: JSON text -> conversation / message / blob / record / base64. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aos/base64.h"
#include "aos/json.h"
#include "aos/storage_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *o = NULL;
    char err[128];
    if (aos_json_parse_object((const char *)data, size, 0, 0, &o, err, sizeof err) != AOS_OK)
        return 0;
    aos_storage_conversation_t c = {0};
    aos_storage_message_t m = {0};
    aos_storage_blob_info_t b = {0};
    aos_storage_record_t r = {0};
    aos_storage_conversation_from_json(o, &c, err, sizeof err);
    aos_storage_message_from_json(o, &m, err, sizeof err);
    aos_storage_blob_info_from_json(o, &b, err, sizeof err);
    aos_storage_record_from_json(o, &r, err, sizeof err);
    aos_storage_conversation_clear(&c);
    aos_storage_message_clear(&m);
    aos_storage_blob_info_clear(&b);
    aos_storage_record_clear(&r);
    const char *s = NULL;
    if (aos_json_get_string(o, "data", AOS_JSON_OPTIONAL, &s, err, sizeof err) == AOS_OK && s) {
        unsigned char out[512];
        size_t n = 0;
        if (aos_base64_decode_into(s, strlen(s), out, sizeof out, &n) == AOS_OK && n > 512)
            abort();
    }
    json_object_put(o);
    return 0;
}
