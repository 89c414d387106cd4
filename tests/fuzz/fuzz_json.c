/* Fuzz target: the strict JSON parser every outside byte goes through (aos_json_parse: size,
 * depth, UTF-8, NUL, trailing data, and I-JSON: duplicate names, lone surrogates, numbers
 * that cannot be kept exactly). What it accepts must serialize and parse back to an equal
 * value: nothing was silently changed. aos_json_validate answers the same as the parser. */
#include <string.h>

#include <json-c/json.h>

#include "aos/json.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *v = NULL;
    aos_result r = aos_json_parse((const char *)data, size, 0, 0, &v, NULL, 0);
    /* aos_json_validate's quick scan never accepts what the parser refuses */
    if (aos_json_quick_valid_((const char *)data, size, 0, 0) && r != AOS_OK)
        abort();
    if (aos_json_validate((const char *)data, size, 0, 0, NULL, 0) != r)
        abort();
    if (r != AOS_OK || !v) /* JSON null is NULL in json-c, which the serializer refuses */
        return 0;
    char *text = NULL;
    size_t len = 0;
    if (aos_json_to_string(v, &text, &len) != AOS_OK)
        abort();
    /* byte for byte what json-c writes (aos_json_to_string prints ints and booleans itself) */
    size_t jlen = 0;
    const char *jc = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &jlen);
    if (!jc || jlen != len || memcmp(jc, text, len) != 0)
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
