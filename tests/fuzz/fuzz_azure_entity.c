/* Fuzz target: Azure Table JSON and entities as the service returns them (strict JSON, then
 * the entity getters: Int64 as strings with @odata.type, split long text <name>_1.. with
 * <name>_parts). Every property of the first entity (or of each entity of a "value" array)
 * is read every way. */
#include <json-c/json.h>

#include "aos/azure_storage.h"
#include "aos/json.h"
#include "fuzz_util.h"

static void read_entity(json_object *e)
{
    if (!json_object_is_type(e, json_type_object))
        return;
    json_object_object_foreach(e, key, val)
    {
        (void)val;
        int64_t i = 0;
        (void)aos_azure_entity_get_int64(e, key, &i);
        (void)aos_azure_entity_get_string(e, key);
        char *text = NULL;
        if (aos_azure_entity_get_text(e, key, &text) == AOS_OK)
            free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *o = NULL;
    if (aos_json_parse((const char *)data, size, 0, 0, &o, NULL, 0) != AOS_OK)
        return 0;
    json_object *arr = NULL;
    if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "value", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        for (size_t i = 0, n = json_object_array_length(arr); i < n && i < 64; i++)
            read_entity(json_object_array_get_idx(arr, i));
    } else {
        read_entity(o);
    }
    json_object_put(o);
    return 0;
}
