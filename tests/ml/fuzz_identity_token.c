/* Fuzz target: a token service's answer (Entra v2.0 token endpoint, managed identity). */
#include <stdint.h>
#include <stdlib.h>

#include "aos/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok = NULL, err[256];
    int64_t exp = 0;
    if (aos_identity_token_parse((const char *)data, size, 1700000000, &tok, &exp, err,
                                 sizeof err) == AOS_OK) {
        if (!tok || !*tok || exp <= 0)
            abort();
        free(tok);
    } else if (tok) {
        abort();
    }
    return 0;
}
