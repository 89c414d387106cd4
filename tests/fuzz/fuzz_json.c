/* Fuzz target: the strict JSON parser every outside byte goes through (aos_json_parse: size,
 * depth, UTF-8, NUL, trailing data, and I-JSON: duplicate names, lone surrogates, numbers
 * that cannot be kept exactly). What it accepts must serialize and parse back to an equal
 * value: nothing was silently changed. */
#include <json-c/json.h>

#include "aos/json.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *v = NULL;
    if (aos_json_parse((const char *)data, size, 0, 0, &v, NULL, 0) != AOS_OK)
        return 0;
    char *text = NULL;
    size_t len = 0;
    if (aos_json_to_string(v, &text, &len) != AOS_OK)
        abort();
    json_object *back = NULL;
    char err[256] = "";
    if (aos_json_parse(text, len, 0, 64, &back, err, sizeof err) != AOS_OK)
        abort(); /* our own output refused */
    if (!json_object_equal(v, back))
        abort();
    json_object_put(back);
    json_object_put(v);
    free(text);
    return 0;
}
