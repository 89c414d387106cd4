/* Fuzz target: Azure Storage response bodies (common/src/azure): error bodies (Table JSON
 * odata.error, Blob/Queue XML), Table JSON answers, and a Table batch's multipart answer.
 * First byte picks the batch's operation count. */
#include "aos/azure_storage.h"
#include "azure_internal.h"
#include "fuzz_util.h"

static aos_azure_client_t *g_client;

static void done(void)
{
    aos_azure_client_free(g_client);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_client) {
        aos_azure_global_init();
        if (aos_azure_client_new_from_string("UseDevelopmentStorage=true", &g_client, NULL, 0) !=
            AOS_OK)
            abort();
        atexit(done);
    }
    aos_buf_t b = {0};
    if (size && aos_buf_append(&b, (const char *)data, size) != AOS_OK)
        return 0;
    char msg[256];
    aos_azure_error_message_(&b, msg, sizeof msg);
    if (strlen(msg) >= sizeof msg || strpbrk(msg, "\r\n"))
        abort();
    json_object *o = NULL;
    if (aos_azure_parse_json_body_(g_client, &b, json_type_object, &o) == AOS_OK)
        json_object_put(o);
    (void)aos_azure_batch_outcome_(g_client, &b, size ? data[0] % 8 : 0);
    aos_buf_free(&b);
    return 0;
}
