/* Fuzz target: raw AMQP message bytes -> aos_envelope_decode. A decoded event must survive
 * re-encoding (AMQP and JSON) and decode to the same attributes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aos/envelope.h"

static void must(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aos_event_t *ev = NULL;
    char err[256];
    if (aos_envelope_decode((const char *)data, size, &ev, err, sizeof err) != AOS_OK)
        return 0;
    char *buf = NULL;
    size_t len = 0;
    must(aos_envelope_encode(ev, &buf, &len) == AOS_OK);
    aos_event_t *again = NULL;
    must(aos_envelope_decode(buf, len, &again, err, sizeof err) == AOS_OK);
    must(strcmp(ev->id, again->id) == 0 && strcmp(ev->type, again->type) == 0);
    must(ev->data_len == again->data_len);
    must(ev->data_len == 0 || memcmp(ev->data, again->data, ev->data_len) == 0);
    char *json = NULL;
    aos_result r = aos_event_to_json(ev, &json);
    must(r == AOS_OK || r == AOS_ERR_TOO_LARGE);
    free(json);
    free(buf);
    aos_event_free(again);
    aos_event_free(ev);
    return 0;
}
