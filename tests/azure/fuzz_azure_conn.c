/* Fuzz target: AZURE_STORAGE_CONNECTION_STRING parsing (outside text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "aos/azure_storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    aos_azure_conn_t *c = NULL;
    char err[256];
    if (aos_azure_conn_parse(s, &c, err, sizeof err) == AOS_OK) {
        /* a parsed string always yields a usable account */
        if (!c->account_name || !c->account_key_len || !c->endpoint[AOS_AZURE_BLOB] ||
            !c->endpoint[AOS_AZURE_QUEUE] || !c->endpoint[AOS_AZURE_TABLE])
            abort();
        char auth[256];
        if (aos_azure_authorization(c, "GET\n", auth, sizeof auth) != AOS_OK &&
            strlen(c->account_name) < 100)
            abort();
        aos_azure_conn_free(c);
    } else if (c) {
        abort();
    }
    free(s);
    return 0;
}
