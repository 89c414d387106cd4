/* Fuzz target: a Kafka record (headers, key, value) through aos_envelope_from_kafka.
 * Input layout: repeated [name_len u8][name][value_len u8][value] headers until a name_len of
 * 0, then [key_len u8][key], then the value (the rest). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aos/kafka.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aos_kafka_header_t h[24];
    char names[24][256];
    size_t n = 0, pos = 0;
    while (pos < size && data[pos] != 0 && n < 24) {
        size_t nl = data[pos++];
        if (pos + nl + 1 > size)
            return 0;
        memcpy(names[n], data + pos, nl);
        names[n][nl] = '\0';
        pos += nl;
        size_t vl = data[pos++];
        if (pos + vl > size)
            return 0;
        h[n] = (aos_kafka_header_t){names[n], data + pos, vl};
        pos += vl;
        n++;
    }
    if (pos >= size)
        return 0;
    pos++; /* the terminating 0 */
    size_t kl = pos < size ? data[pos++] : 0;
    if (pos + kl > size)
        return 0;
    const uint8_t *key = data + pos;
    pos += kl;
    aos_event_t *ev = NULL;
    char err[256];
    if (aos_envelope_from_kafka(h, n, data + pos, size - pos, key, kl, &ev, err, sizeof err) ==
        AOS_OK) {
        aos_kafka_header_t *out = NULL;
        size_t cnt = 0;
        const char *k = NULL;
        if (aos_envelope_to_kafka(ev, &out, &cnt, &k, err, sizeof err) != AOS_OK)
            abort();
        free(out);
        aos_event_free(ev);
    }
    return 0;
}
