/* Fuzz target: a stored assistant message's metadata read back by the runner
 * (runner_assistant_metadata_parse) when a redelivered turn is answered from storage: data
 * written long ago, maybe by another version, read as outside bytes. */
#include <json-c/json.h>

#include "fuzz_util.h"
#include "turn_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    runner_turn_outcome_t o = {.provider = "offline"};
    void *owner = NULL;
    if (runner_assistant_metadata_parse(s, &o, &owner) == AOS_OK) {
        if (!o.provider)
            abort();
        (void)strlen(o.provider);
        if (o.model)
            (void)strlen(o.model);
        if (o.endpoint)
            (void)strlen(o.endpoint);
    }
    json_object_put(owner);
    free(s);
    return 0;
}
