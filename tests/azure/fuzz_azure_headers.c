/* Fuzz target: Azure Storage response header lines (blob properties, x-ms-meta-*, Table
 * continuation headers, x-ms-error-code) as curl hands them to the client one by one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/src/azure/azure_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const want[] = {"x-ms-continuation-NextPartitionKey",
                                       "x-ms-continuation-NextRowKey",
                                       "ETag",
                                       "Content-MD5",
                                       "Content-Length",
                                       "Last-Modified"};
    char values[6][64], *vals[6], meta[256] = "", code[32] = "";
    for (int i = 0; i < 6; i++) {
        values[i][0] = '\0';
        vals[i] = values[i];
    }
    aos_azure_request_t r = {.want_headers = want,
                             .want_values = vals,
                             .nwant = 6,
                             .want_len = sizeof values[0],
                             .meta = meta,
                             .meta_len = sizeof meta};
    /* one header line per input line, CRLF kept as curl gives it */
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        aos_azure_header_line_(p, n, code, sizeof code, &r);
        p += n;
    }
    for (int i = 0; i < 6; i++)
        if (strlen(values[i]) >= sizeof values[0])
            abort();
    if (strlen(meta) >= sizeof meta || strlen(code) >= sizeof code)
        abort();
    return 0;
}
