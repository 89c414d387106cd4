/* Fuzz target: Azure Storage HTTP dates (Date, Last-Modified, x-ms-* headers;
 * aos_azure_http_date_parse): an accepted date formats back to the same text. */
#include "aos/azure_storage.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    int64_t t = 0;
    if (aos_azure_http_date_parse(s, &t)) {
        char back[30];
        aos_azure_http_date(t, back);
        int64_t t2 = 0;
        if (!aos_azure_http_date_parse(back, &t2) || t2 != t)
            abort();
    }
    free(s);
    return 0;
}
