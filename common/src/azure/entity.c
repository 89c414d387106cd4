/* Entity property helpers: Int64 with its type annotation, long texts split over several
 * string properties (a Table string property holds at most 64 KiB of UTF-16). */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "azure_internal.h"

#define TEXT_PART_MAX 30000 /* bytes of UTF-8: at most 30000 UTF-16 units = 60000 bytes */
#define TEXT_PARTS_MAX 64

aos_result aos_azure_entity_set_int64(json_object *entity, const char *name, int64_t v)
{
    char num[32], ann[300];
    snprintf(num, sizeof num, "%" PRId64, v);
    snprintf(ann, sizeof ann, "%s@odata.type", name);
    json_object *s = json_object_new_string(num), *t = json_object_new_string("Edm.Int64");
    if (!s || !t) {
        json_object_put(s);
        json_object_put(t);
        return AOS_ERR_NOMEM;
    }
    json_object_object_add(entity, name, s);
    json_object_object_add(entity, ann, t);
    return AOS_OK;
}

bool aos_azure_entity_get_int64(json_object *entity, const char *name, int64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(entity, name, &v))
        return false;
    if (json_object_is_type(v, json_type_int)) {
        *out = json_object_get_int64(v);
        return true;
    }
    if (!json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = n;
    return true;
}

const char *aos_azure_entity_get_string(json_object *entity, const char *name)
{
    json_object *v;
    if (!json_object_object_get_ex(entity, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* End of the part starting at s: at most TEXT_PART_MAX bytes, on a UTF-8 boundary. */
static size_t part_len(const char *s, size_t left)
{
    if (left <= TEXT_PART_MAX)
        return left;
    size_t n = TEXT_PART_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

aos_result aos_azure_entity_set_text(json_object *entity, const char *name, const char *text)
{
    size_t len = strlen(text), off = 0;
    int part = 0;
    do {
        size_t n = part_len(text + off, len - off);
        char key[300];
        if (part == 0)
            snprintf(key, sizeof key, "%s", name);
        else
            snprintf(key, sizeof key, "%s_%d", name, part);
        json_object *s = json_object_new_string_len(text + off, (int)n);
        if (!s)
            return AOS_ERR_NOMEM;
        json_object_object_add(entity, key, s);
        off += n;
        if (++part > TEXT_PARTS_MAX)
            return AOS_ERR_TOO_LARGE;
    } while (off < len);
    if (part > 1) {
        char key[300];
        snprintf(key, sizeof key, "%s_parts", name);
        json_object_object_add(entity, key, json_object_new_int(part));
    }
    return AOS_OK;
}

aos_result aos_azure_entity_get_text(json_object *entity, const char *name, char **out)
{
    *out = NULL;
    const char *first = aos_azure_entity_get_string(entity, name);
    if (!first)
        return AOS_ERR_NOT_FOUND;
    char key[300];
    snprintf(key, sizeof key, "%s_parts", name);
    int64_t parts = 1;
    if (aos_azure_entity_get_int64(entity, key, &parts) && (parts < 1 || parts > TEXT_PARTS_MAX))
        return AOS_ERR_PROTOCOL;
    aos_buf_t b = {0};
    aos_buf_puts(&b, first);
    for (int64_t i = 1; i < parts; i++) {
        snprintf(key, sizeof key, "%s_%d", name, (int)i);
        const char *p = aos_azure_entity_get_string(entity, key);
        if (!p) {
            aos_buf_free(&b);
            return AOS_ERR_PROTOCOL;
        }
        aos_buf_puts(&b, p);
    }
    if (b.failed) {
        aos_buf_free(&b);
        return AOS_ERR_NOMEM;
    }
    *out = b.data;
    return AOS_OK;
}
