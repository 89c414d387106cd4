#include "aos/connstr.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

aos_result aos_connstr_split(char *work, const char *const *keys, size_t n, char **out_values,
                             char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        out_values[i] = NULL;
    int idx = 0;
    for (char *save = NULL, *part = strtok_r(work, ";", &save); part;
         part = strtok_r(NULL, ";", &save)) {
        idx++;
        part = trim(part);
        if (!*part)
            continue;
        char *eq = strchr(part, '=');
        if (!eq)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "connection string part %d has no '=' (expected Key=Value)", idx);
        *eq = '\0';
        char *k = trim(part), *v = trim(eq + 1);
        for (size_t i = 0; i < n; i++) {
            if (strcasecmp(k, keys[i]) != 0)
                continue;
            if (out_values[i])
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                                "connection string: %s appears twice", keys[i]);
            if (has_ctl(v))
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                                "connection string: %s contains control characters", keys[i]);
            out_values[i] = v;
        }
    }
    return AOS_OK;
}
