/* Fuzz target: the chat-completion response parser (bytes from a model server). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aos/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aos_model_completion_t c = {0};
    char err[256];
    if (aos_model_parse_response((const char *)data, size, &c, err, sizeof err) == AOS_OK) {
        if (!c.text)
            abort();
        (void)strlen(c.text);
    }
    aos_model_completion_clear(&c);
    char msg[64];
    aos_model_error_message((const char *)data, size, msg, sizeof msg);
    return 0;
}
