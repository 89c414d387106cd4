/* Fuzz target: the config file ("settings" object) through a table with every field type,
 * plus the standard AOS table. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "aos/config.h"

typedef struct {
    char *s, *e, *u, *hp;
    int64_t i, d, z;
    bool b;
    aos_config_common_t common;
} fuzz_cfg_t;

static const aos_config_field_t TABLE[] = {
    {"F_S", "s", AOS_CONFIG_STRING, NULL, 0, 64, false, false, NULL, "s", offsetof(fuzz_cfg_t, s)},
    {"F_E", "e", AOS_CONFIG_ENUM, "a", 0, 0, false, false, "a|b|c", "e", offsetof(fuzz_cfg_t, e)},
    {"F_U", "u", AOS_CONFIG_URL, NULL, 0, 0, false, false, "http|https", "u",
     offsetof(fuzz_cfg_t, u)},
    {"F_HP", "hp", AOS_CONFIG_HOSTPORT, NULL, 0, 0, false, false, NULL, "hp",
     offsetof(fuzz_cfg_t, hp)},
    {"F_I", "i", AOS_CONFIG_INT, "1", -5, 5, false, false, NULL, "i", offsetof(fuzz_cfg_t, i)},
    {"F_D", "d", AOS_CONFIG_DURATION_MS, "1s", 0, 0, false, false, NULL, "d",
     offsetof(fuzz_cfg_t, d)},
    {"F_Z", "z", AOS_CONFIG_SIZE, "1k", 0, 0, false, false, NULL, "z", offsetof(fuzz_cfg_t, z)},
    {"F_B", "b", AOS_CONFIG_BOOL, "false", 0, 0, false, false, NULL, "b", offsetof(fuzz_cfg_t, b)},
    AOS_CONFIG_COMMON_FIELDS(fuzz_cfg_t, common),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cfg_t c = {0};
    char err[1024];
    size_t n = sizeof TABLE / sizeof *TABLE;
    if (aos_config_parse_json((const char *)data, size, TABLE, n, &c, err, sizeof err) == AOS_OK) {
        char v[256];
        for (size_t i = 0; i < n; i++)
            aos_config_format_value(&TABLE[i], &c, v, sizeof v);
        aos_config_free(TABLE, n, &c);
    }
    return 0;
}
