/* Internal: value parsing shared by the config loader and its documentation output. */
#ifndef AOS_CORE_CONFIG_INTERNAL_H
#define AOS_CORE_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "aos/config.h"

typedef union {
    char *s;
    int64_t i;
    bool b;
} aos_config_value_t;

bool aos_config_type_is_string(aos_config_type t);
const char *aos_config_type_name(aos_config_type t);

/* Parse text for field f into *out (strings malloc'd). On AOS_ERR_INVALID, why says what
 * was expected ("expected host:port") without quoting the value. */
aos_result aos_config_parse_value(const aos_config_field_t *f, const char *text,
                                  aos_config_value_t *out, char *why, size_t whylen);

#endif
