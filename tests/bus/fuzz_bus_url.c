/* Fuzz target: bus URL parsing (AOS_BUS_URL, outside text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "bus_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    aos_bus_url_t u;
    char err[128];
    if (aos_bus_url_parse(s, &u, err, sizeof err) == AOS_OK) {
        if (u.host[0] == '\0' || u.port == 0 || strlen(u.host) >= sizeof u.host)
            abort();
        if (u.has_user && u.user[0] == '\0')
            abort();
    }
    free(s);
    return 0;
}
