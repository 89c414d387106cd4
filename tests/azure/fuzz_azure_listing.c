/* Fuzz target: the XML documents the storage services answer with (List Blobs and
 * Get/Peek Messages), parsed by the client's small XML reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aos/azure_storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    aos_azure_blob_list_t *l = NULL;
    if (aos_azure_blob_list_parse((const char *)data, size, &l, err, sizeof err) == AOS_OK) {
        for (size_t i = 0; i < l->count; i++)
            if (!l->items[i].name || l->items[i].content_length < 0)
                abort();
        aos_azure_blob_list_free(l);
    } else if (l) {
        abort();
    }
    aos_azure_queue_msgs_t *m = NULL;
    if (aos_azure_queue_msgs_parse((const char *)data, size, &m, err, sizeof err) == AOS_OK) {
        for (size_t i = 0; i < m->count; i++)
            /* text always; data only when the text is base64 (raw messages have none) */
            if (!m->items[i].message_id || !m->items[i].text ||
                (!m->items[i].data && m->items[i].data_len != 0))
                abort();
        aos_azure_queue_msgs_free(m);
    } else if (m) {
        abort();
    }
    return 0;
}
