/* Fuzz target: Event Grid's WebHook-Request-Origin (router_webhook_origin_valid): an accepted
 * origin is echoed in WebHook-Allowed-Origin, so it must be a header-safe host name. */
#include <ctype.h>

#include "events_in.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    if (router_webhook_origin_valid(s)) {
        for (const char *p = s; *p; p++)
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || *p == ',' || *p == ';')
                abort();
        if (!*s)
            abort();
    }
    free(s);
    return 0;
}
