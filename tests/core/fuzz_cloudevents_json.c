/* Fuzz target: CloudEvents JSON (structured mode), single and batch. Whatever decodes must
 * serialize and decode again. */
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
    char err[256];
    aos_event_t *ev = NULL;
    if (aos_event_from_json((const char *)data, size, &ev, err, sizeof err) == AOS_OK) {
        char *json = NULL;
        must(aos_event_to_json(ev, &json) == AOS_OK);
        aos_event_t *again = NULL;
        must(aos_event_from_json(json, strlen(json), &again, err, sizeof err) == AOS_OK);
        must(strcmp(ev->id, again->id) == 0 && again->ext_count == ev->ext_count);
        aos_event_free(again);
        free(json);
        char *amqp = NULL;
        size_t len = 0;
        must(aos_envelope_encode(ev, &amqp, &len) == AOS_OK);
        free(amqp);
        aos_event_free(ev);
    }
    aos_event_t **evs = NULL;
    size_t n = 0;
    if (aos_event_batch_from_json((const char *)data, size, &evs, &n, err, sizeof err) == AOS_OK) {
        char *json = NULL;
        must(aos_event_batch_to_json(evs, n, &json) == AOS_OK);
        aos_event_t **again = NULL;
        size_t m = 0;
        must(aos_event_batch_from_json(json, strlen(json), &again, &m, err, sizeof err) == AOS_OK);
        must(m == n);
        aos_event_array_free(again, m);
        free(json);
        aos_event_array_free(evs, n);
    }
    return 0;
}
