/* The trainer child's environment allowlist (see ml_trainer_env.h). */
#include "ml_trainer_env.h"

#include <stdlib.h>
#include <string.h>

bool ml_trainer_env_allowed(const char *entry, const char *list)
{
    const char *eq = strchr(entry, '=');
    size_t name_len = eq ? (size_t)(eq - entry) : strlen(entry);
    if (name_len == 0 || !list)
        return false;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        const char *t = p;
        size_t tn = n;
        while (tn && *t == ' ')
            t++, tn--;
        while (tn && t[tn - 1] == ' ')
            tn--;
        if (tn && t[tn - 1] == '*') {
            if (tn - 1 > 0 && name_len >= tn - 1 && memcmp(entry, t, tn - 1) == 0)
                return true;
        } else if (tn && tn == name_len && memcmp(entry, t, tn) == 0) {
            return true;
        }
        p += n + (p[n] == ',');
    }
    return false;
}

aos_result ml_trainer_env_build(char *const *env, const char *extra, char ***out_env)
{
    size_t n = 0;
    while (env && env[n])
        n++;
    char **out = calloc(n + 1, sizeof *out);
    if (!out)
        return AOS_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ml_trainer_env_allowed(env[i], ML_TRAINER_ENV_DEFAULT) ||
            ml_trainer_env_allowed(env[i], extra))
            out[k++] = env[i];
    out[k] = NULL;
    *out_env = out;
    return AOS_OK;
}
