/* Fuzz target: W3C traceparent values (HTTP headers and AMQP application-properties from
 * outside), parsed, continued and set as the current trace. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "aos/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char id[33], child[56];
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    bool valid = aos_trace_parse((const char *)data, size, id);
    aos_trace_child(s, child);
    if (!aos_trace_parse(child, strlen(child), NULL))
        abort();
    aos_trace_set(s);
    if (valid && strlen(s) == size && (!aos_trace_current() || strcmp(aos_trace_current_id(), id)))
        abort();
    aos_trace_set(NULL);
    free(s);
    return 0;
}
