/* Fuzz target: the outbound Bot Framework token response (Entra's token endpoint answer). */
#include <stdint.h>
#include <stdlib.h>

#include "botframework.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok = NULL;
    int64_t exp = 0;
    if (router_bot_token_parse((const char *)data, size, &tok, &exp) == AOS_OK) {
        if (!tok[0] || exp < 60 || exp > 86400)
            abort();
        free(tok);
    }
    return 0;
}
