/* Fuzz target: the classifier model's chat-completion answer (router_classifier_answer), from
 * whatever OpenAI-compatible server is configured. */
#include "bus_replies.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *a = router_classifier_answer((const char *)data, size);
    if (a)
        (void)strlen(a);
    free(a);
    return 0;
}
